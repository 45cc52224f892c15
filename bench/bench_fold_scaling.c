// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Does the in-kernel reduction scale with CPUs?  The UDP gather program and
 * its sum-u32 reduction, driven by BPF_PROG_TEST_RUN from one thread or from
 * one thread per CPU at once, each thread pinned and handing in the replies
 * of its share of the workers: every request's replies are folded on all
 * the CPUs together, as a NIC with one receive queue per CPU would have it.
 * Two builds of the same programs run in the same invocation: sgbpf's
 * per-CPU partials merged at completion, and a variant built only for this
 * benchmark (SGBPF_BENCH_SINGLE_LOCK) that folds every reply of a request
 * into one shared partial under its spin lock, as the original system did.
 *
 * Reported per variant and thread count: replies folded per second (wall
 * clock), the programs' own time per reply as the kernel measured it
 * (bpf_test_run_opts.duration: no system call in it), and the merge: the
 * extra time of the reply that completes a request over the others', per
 * request and as a share of all the programs' time.  Every result is
 * checked against the exact sum afterwards.
 */
#define _GNU_SOURCE	/* sched_setaffinity */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "pkt_build.h"
#include "sgbpf_udp.skel.h"
#include "sgbpf_udp_single_lock.skel.h"

#define SVC_PORT	7000
#define COORD_IP	htonl(0x0a000001)	/* 10.0.0.1 */
#define NELEMS		363			/* a full 1452-byte sum-u32 body */
#define MAX_THREADS	64

static uint32_t nworkers = 512, nreq = 1024, max_threads;

static uint32_t worker_addr(uint32_t w)
{
	return htonl(0x0a010000 | (w / 250) << 8 | (w % 250 + 1));	/* 10.1.x.y */
}

static uint16_t worker_port(uint32_t w)
{
	return (uint16_t)(9000 + w);
}

/* Element j of worker w's reply to request r. */
static uint32_t elem(uint32_t r, uint32_t w, uint32_t j)
{
	uint32_t x = (w + 1) * 0x9e3779b1u ^ (j + 1) * 0x85ebca6bu ^ r * 0xc2b2ae35u;

	return x ^ (x >> 15);
}

/* One loaded build: the skeleton's object and what the run needs of it. */
struct variant {
	const char *name;
	void *skel;
	struct bpf_object *obj;
	void (*destroy)(void *skel);
	int gather_fd;
	struct sgbpf_slot *slots;
	size_t slots_len;
};

static void destroy_percpu(void *s)
{
	sgbpf_udp__destroy(s);
}

static void destroy_lock(void *s)
{
	sgbpf_udp_single_lock__destroy(s);
}

static struct bpf_map *map(const struct variant *v, const char *name)
{
	return bpf_object__find_map_by_name(v->obj, name);
}

static int install(const struct variant *v, const char *prog, const char *prog_array)
{
	struct bpf_program *p = bpf_object__find_program_by_name(v->obj, prog);
	uint32_t zero = 0;
	int fd;

	if (!p)
		return -ENOENT;
	fd = bpf_program__fd(p);
	return bpf_map_update_elem(bpf_map__fd(map(v, prog_array)), &zero, &fd, BPF_ANY);
}

/* Sizes, loads and fills the maps the way libsgbpf does for a sum-u32 service. */
static int variant_load(struct variant *v, bool single_lock)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct bpf_program *prog;
	struct sgbpf_config cfg;
	uint32_t zero = 0;
	int err;

	if (single_lock) {
		struct sgbpf_udp_single_lock *s = sgbpf_udp_single_lock__open();

		v->name = "single lock";
		v->skel = s;
		v->obj = s ? s->obj : NULL;
		v->destroy = destroy_lock;
	} else {
		struct sgbpf_udp *s = sgbpf_udp__open();

		v->name = "per-CPU partials";
		v->skel = s;
		v->obj = s ? s->obj : NULL;
		v->destroy = destroy_percpu;
	}
	if (!v->obj)
		return -errno;
	bpf_object__for_each_program(prog, v->obj) {
		const char *name = bpf_program__name(prog);

		if (!strncmp(name, "sgbpf_reduce_", 13))
			bpf_program__set_autoload(prog, !strncmp(name, "sgbpf_reduce_sum_u32", 20));
	}
	bpf_map__set_max_entries(map(v, "sgbpf_slots"), nreq);
	bpf_map__set_max_entries(map(v, "sgbpf_partials"), nreq);
	bpf_map__set_max_entries(map(v, "sgbpf_chunks"), 1);
	bpf_map__set_max_entries(map(v, "sgbpf_replies"), 1);
	err = bpf_object__load(v->obj);
	if (err)
		return err;
	cfg = (struct sgbpf_config){
		.ifindex = 1, .nworkers = nworkers, .slot_mask = nreq - 1,
		.ncpus = (uint32_t)libbpf_num_possible_cpus(), .port = htons(SVC_PORT),
		.ctrl_port = htons(SVC_PORT + 1), .notify = SGBPF_NOTIFY_NONE, .fate = XDP_DROP,
		.elem_size = 4, .max_packets = 1, .chunk = NELEMS * 4,
	};
	err = bpf_map_update_elem(bpf_map__fd(map(v, "sgbpf_cfg")), &zero, &cfg, BPF_ANY);
	for (uint32_t i = 0; !err && i < nworkers; i++) {
		struct sgbpf_worker w = { .addr = worker_addr(i), .port = htons(worker_port(i)) };
		struct sgbpf_worker_key k = { .addr = w.addr, .port = w.port };

		err = bpf_map_update_elem(bpf_map__fd(map(v, "sgbpf_workers")), &i, &w, BPF_ANY) ?:
		      bpf_map_update_elem(bpf_map__fd(map(v, "sgbpf_worker_index")), &k, &i,
					  BPF_NOEXIST);
	}
	if (!err)
		err = install(v, "sgbpf_reduce_sum_u32", "sgbpf_reducer") ?:
		      install(v, "sgbpf_reduce_sum_u32_tc", "sgbpf_reducer_tc");
	if (err)
		return err < 0 ? err : -errno;
	v->gather_fd = bpf_program__fd(bpf_object__find_program_by_name(v->obj, "sgbpf_gather"));
	v->slots_len = (sizeof(struct sgbpf_slot) * nreq + page - 1) / page * page;
	v->slots = mmap(NULL, v->slots_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(map(v, "sgbpf_slots")), 0);
	if (v->slots == MAP_FAILED) {
		v->slots = NULL;
		return -errno;
	}
	return 0;
}

static void variant_close(struct variant *v)
{
	if (v->slots)
		munmap(v->slots, v->slots_len);
	if (v->skel)
		v->destroy(v->skel);
	memset(v, 0, sizeof(*v));
}

/* What the TC scatter program does when a request opens its slot. */
static void slot_open(struct variant *v, uint32_t r)
{
	struct sgbpf_slot *s = &v->slots[r];

	s->gen++;
	s->needed = nworkers;
	s->responses = 0;
	s->nelems = 0;
	s->duplicates = 0;
	s->packets = 0;
	memset(s->seen, 0, sizeof(s->seen));
	s->tickets = SGBPF_TAG(r, 0);
	__atomic_store_n(&s->state, SGBPF_TAG(r, SGBPF_SLOT_ACTIVE), __ATOMIC_RELEASE);
}

struct thread {
	pthread_t tid;
	uint32_t index, nthreads;
	struct variant *v;
	pthread_barrier_t *barrier;
	struct pkt *frames;		/* one per worker of this thread */
	uint32_t nframes;
	uint64_t prog_ns;		/* the programs' time, every reply */
	uint32_t *last_ns;		/* per request: the time of this thread's last reply */
	int err;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The frames of this thread's workers (w = index, index + nthreads, ...), for request 0. */
static int build_frames(struct thread *t)
{
	uint8_t msg[SGBPF_UDP_MSG_LEN];
	uint32_t body[NELEMS];

	t->frames = calloc(nworkers / t->nthreads + 1, sizeof(*t->frames));
	if (!t->frames)
		return -ENOMEM;
	for (uint32_t w = t->index; w < nworkers; w += t->nthreads) {
		struct pkt_flow f = { .saddr = worker_addr(w), .daddr = COORD_IP,
				      .sport = worker_port(w), .dport = SVC_PORT };
		struct sgbpf_hdr h = pkt_gather_hdr(0, sizeof(body));
		int len;

		len = pkt_msg(msg, sizeof(msg), &h, body, sizeof(body), 0);
		if (len < 0 || pkt_udp(&t->frames[t->nframes++], &f, msg, (uint32_t)len,
				       PKT_NO_UDP_CSUM | PKT_IP_DF))
			return -EINVAL;
	}
	return 0;
}

/* Writes request r's id and worker w's elements into a frame (no UDP checksum to fix). */
static void frame_for(struct pkt *p, uint32_t r, uint32_t w)
{
	uint32_t plen;
	uint8_t *msg = pkt_udp_payload(p, &plen);
	struct sgbpf_hdr h;

	memcpy(&h, msg, sizeof(h));
	h.req_id = sgbpf_le32(r);
	memcpy(msg, &h, sizeof(h));
	for (uint32_t j = 0; j < NELEMS; j++) {
		uint32_t e = sgbpf_le32(elem(r, w, j));

		memcpy(msg + SGBPF_HDR_LEN + j * 4, &e, 4);
	}
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->index % max_threads, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (uint32_t r = 0; r < nreq; r++) {
		/* The next request's frames are written outside the timed part. */
		for (uint32_t i = 0; i < t->nframes; i++)
			frame_for(&t->frames[i], r, t->index + i * t->nthreads);
		pthread_barrier_wait(t->barrier);	/* slot r is open */
		for (uint32_t i = 0; i < t->nframes && !t->err; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t->frames[i].data,
				    .data_size_in = t->frames[i].len, .repeat = 1);

			if (bpf_prog_test_run_opts(t->v->gather_fd, &o))
				t->err = -errno;
			else if (o.retval != XDP_DROP)
				t->err = -EPROTO;	/* not folded: the run would mean nothing */
			t->prog_ns += o.duration;
			if (i + 1 == t->nframes)
				t->last_ns[r] = o.duration;
		}
		pthread_barrier_wait(t->barrier);	/* request r folded everywhere */
	}
	return NULL;
}

struct result {
	double replies_per_s;
	double prog_ns_per_reply;
	double merge_ns;		/* per request */
	double merge_share;		/* of all the programs' time */
	uint32_t wrong;
};

/* Every request's result against the exact element-wise sum. */
static uint32_t check_results(const struct variant *v)
{
	uint32_t wrong = 0;

	for (uint32_t r = 0; r < nreq; r++) {
		const struct sgbpf_slot *s = &v->slots[r];
		const uint32_t *res = (const uint32_t *)s->result;

		if (s->state != SGBPF_TAG(r, SGBPF_SLOT_COMPLETE) || s->nelems != NELEMS ||
		    s->responses != nworkers) {
			wrong++;
			continue;
		}
		for (uint32_t j = 0; j < NELEMS; j++) {
			uint32_t want = 0;

			for (uint32_t w = 0; w < nworkers; w++)
				want += elem(r, w, j);
			if (sgbpf_le32(res[j]) != want) {
				wrong++;
				break;
			}
		}
	}
	return wrong;
}

/* nreq requests of nworkers replies, folded by n threads on n CPUs. */
static int run(struct variant *v, uint32_t n, struct result *out)
{
	struct thread th[MAX_THREADS] = { 0 };
	pthread_barrier_t barrier;
	uint64_t t0, t1, prog = 0, last = 0;
	int err = 0;

	pthread_barrier_init(&barrier, NULL, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		th[i] = (struct thread){ .index = i, .nthreads = n, .v = v, .barrier = &barrier };
		th[i].last_ns = calloc(nreq, sizeof(*th[i].last_ns));
		if (!th[i].last_ns || build_frames(&th[i]))
			return -ENOMEM;
		pthread_create(&th[i].tid, NULL, thread_main, &th[i]);
	}
	t0 = now_ns();
	for (uint32_t r = 0; r < nreq; r++) {
		slot_open(v, r);
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier);
	}
	t1 = now_ns();
	for (uint32_t i = 0; i < n; i++) {
		pthread_join(th[i].tid, NULL);
		err = err ?: th[i].err;
		prog += th[i].prog_ns;
	}
	/*
	 * The reply that completed a request is one of the threads' last: the
	 * slowest of them, which merged.  Its excess over an ordinary reply is
	 * the merge.
	 */
	for (uint32_t r = 0; r < nreq; r++) {
		uint32_t m = 0;

		for (uint32_t i = 0; i < n; i++)
			m = th[i].last_ns[r] > m ? th[i].last_ns[r] : m;
		last += m;
	}
	for (uint32_t i = 0; i < n; i++) {
		free(th[i].frames);
		free(th[i].last_ns);
	}
	pthread_barrier_destroy(&barrier);
	if (err)
		return err;
	{
		double replies = (double)nreq * nworkers;
		double ordinary = (double)(prog - last) / (replies - nreq);

		out->replies_per_s = replies / ((double)(t1 - t0) / 1e9);
		out->prog_ns_per_reply = (double)prog / replies;
		out->merge_ns = (double)last / nreq - ordinary;
		out->merge_share = out->merge_ns * nreq / (double)prog;
	}
	out->wrong = check_results(v);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_fold_scaling [--workers N] [--requests R] [--threads T]\n"
		"  --workers N    replies per request (default 512, at most %u)\n"
		"  --requests R   requests per run, a power of two (default 1024)\n"
		"  --threads T    most threads, one per CPU (default: the CPUs allowed)\n",
		SGBPF_STATE_MAX_WORKERS);
}

static int parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "requests", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cpu_set_t set;
	int c;

	sched_getaffinity(0, sizeof(set), &set);
	max_threads = (uint32_t)CPU_COUNT(&set);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		unsigned long v = optarg ? strtoul(optarg, &end, 10) : 0;

		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?' || !optarg || *end || !*optarg)
			return -EINVAL;
		if (c == 'w' && v >= 1 && v <= SGBPF_STATE_MAX_WORKERS)
			nworkers = (uint32_t)v;
		else if (c == 'r' && v >= 1 && v <= 65536 && !(v & (v - 1)))
			nreq = (uint32_t)v;
		else if (c == 't' && v >= 1 && v <= MAX_THREADS)
			max_threads = (uint32_t)v;
		else
			return -EINVAL;
	}
	return optind == argc ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	struct result res[2][MAX_THREADS + 1] = { 0 };
	int err;

	if (parse(argc, argv)) {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(NULL);
	printf("# fold scaling: %u replies of %u u32 per request, %u requests, sum-u32, XDP\n",
	       nworkers, NELEMS, nreq);
	printf("| variant | threads (CPUs) | replies/s | ×1 thread | program ns/reply | merge ns/request "
	       "| merge share | wrong |\n|---|--:|--:|--:|--:|--:|--:|--:|\n");
	for (int lock = 0; lock < 2; lock++) {
		for (uint32_t n = 1; n <= max_threads; n++) {
			struct variant v = { 0 };
			struct result *r = &res[lock][n];

			err = variant_load(&v, lock);
			if (!err)
				err = run(&v, n, r);
			variant_close(&v);
			if (err) {
				fprintf(stderr, "bench_fold_scaling: %s, %u threads: %s\n",
					lock ? "single lock" : "per-CPU", n, strerror(-err));
				return 1;
			}
			printf("| %s | %u | %.0f | %.2f | %.1f | %.0f | %.2f %% | %u |\n",
			       lock ? "single lock" : "per-CPU partials", n, r->replies_per_s,
			       r->replies_per_s / res[lock][1].replies_per_s, r->prog_ns_per_reply,
			       r->merge_ns, 100 * r->merge_share, r->wrong);
			fflush(stdout);
		}
	}
	printf("\nper-CPU ÷ single lock at %u threads: replies/s %.2f, program time per reply %.2f\n",
	       max_threads, res[0][max_threads].replies_per_s / res[1][max_threads].replies_per_s,
	       res[0][max_threads].prog_ns_per_reply / res[1][max_threads].prog_ns_per_reply);
	for (int lock = 0; lock < 2; lock++)
		for (uint32_t n = 1; n <= max_threads; n++)
			if (res[lock][n].wrong)
				return 1;
	return 0;
}
