// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP stream program's driver: load the verdict program of one
 * reduction, size and map the slots and results, attach the program to the
 * sockmap, add and remove worker connections, open and expire slots, read
 * results and events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "error.h"
#include "reduce_obj.h"
#include "sgbpf_tcp_stream_bpf.skel.h"
#include "stream.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

struct sgbpf_tcp_stream {
	struct sgbpf_tcp_stream_bpf *skel;
	struct bpf_object *custom;	/* a custom reduction's object, or NULL */
	struct bpf_program *prog;	/* the verdict program: the skeleton's or custom's */
	uint32_t elem_size;		/* of the custom reduction */
	struct ring_buffer *rb;
	struct sgbpf_tcp_slot *slots;	/* mmap of sgbpf_tcp_slots */
	uint8_t *results;		/* mmap of sgbpf_tcp_results */
	size_t slots_len, results_len;
	uint32_t nslots, chunks_per_slot;
	int prog_fd;			/* attached to the sockmap; -1 until then */
	int fds[SGBPF_TCP_MAX_WORKERS];	/* -1: no socket for that worker */
	int ctrl_fd;			/* control socket in the map; -1: none */
	/* ring buffer callback of the poll in progress */
	sgbpf_tcp_event_fn fn;
	void *fn_ctx;
};

/* The verdict program of each built-in reduction; signed sums wrap like unsigned ones. */
static struct bpf_program *reduce_prog(struct sgbpf_tcp_stream_bpf *s, enum sgbpf_reduce r)
{
	switch (r) {
	case SGBPF_REDUCE_COUNT: return s->progs.sgbpf_tcp_count;
	case SGBPF_REDUCE_SUM_U32:
	case SGBPF_REDUCE_SUM_I32: return s->progs.sgbpf_tcp_sum_u32;
	case SGBPF_REDUCE_SUM_U64:
	case SGBPF_REDUCE_SUM_I64: return s->progs.sgbpf_tcp_sum_u64;
	case SGBPF_REDUCE_MIN_U32: return s->progs.sgbpf_tcp_min_u32;
	case SGBPF_REDUCE_MIN_U64: return s->progs.sgbpf_tcp_min_u64;
	case SGBPF_REDUCE_MIN_I32: return s->progs.sgbpf_tcp_min_i32;
	case SGBPF_REDUCE_MIN_I64: return s->progs.sgbpf_tcp_min_i64;
	case SGBPF_REDUCE_MAX_U32: return s->progs.sgbpf_tcp_max_u32;
	case SGBPF_REDUCE_MAX_U64: return s->progs.sgbpf_tcp_max_u64;
	case SGBPF_REDUCE_MAX_I32: return s->progs.sgbpf_tcp_max_i32;
	case SGBPF_REDUCE_MAX_I64: return s->progs.sgbpf_tcp_max_i64;
	case SGBPF_REDUCE_OR_U32: return s->progs.sgbpf_tcp_or_u32;
	case SGBPF_REDUCE_AND_U32: return s->progs.sgbpf_tcp_and_u32;
	case SGBPF_REDUCE_OR_U64: return s->progs.sgbpf_tcp_or_u64;
	case SGBPF_REDUCE_AND_U64: return s->progs.sgbpf_tcp_and_u64;
	default: return NULL;
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct sgbpf_tcp_stream *st = ctx;

	if (len < sizeof(struct sgbpf_tcp_event) || !st->fn)
		return 0;
	return st->fn(st->fn_ctx, data);
}

static void *map_mmap(struct bpf_map *m, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/* Sizes the maps and keeps only the reduction's program, before load. */
static int configure(struct sgbpf_tcp_stream *st, const struct sgbpf_tcp_stream_opts *o)
{
	struct sgbpf_tcp_stream_bpf *s = st->skel;
	struct bpf_program *want = reduce_prog(s, o->reduce), *p;
	uint64_t chunks = (uint64_t)st->nslots * st->chunks_per_slot;

	if (!want && o->reduce != SGBPF_REDUCE_CUSTOM)
		return -EOPNOTSUPP;
	if (chunks > UINT32_MAX / 2)
		return -E2BIG;
	/* A custom reduction brings its own program; the skeleton then only makes the maps. */
	bpf_object__for_each_program(p, s->obj)
		bpf_program__set_autoload(p, p == want);
	st->prog = want;
	s->rodata->sgbpf_tcp_slot_mask = st->nslots - 1;
	s->rodata->sgbpf_tcp_chunks_per_slot = st->chunks_per_slot;
	s->rodata->sgbpf_tcp_body_max = o->max_reply;
	s->rodata->sgbpf_tcp_fate_pass = o->fate_pass;
	s->rodata->sgbpf_tcp_ctrl_notes = o->ctrl_notes;
	if (bpf_map__set_max_entries(s->maps.sgbpf_tcp_slots, st->nslots) ||
	    bpf_map__set_max_entries(s->maps.sgbpf_tcp_results, chunks) ||
	    bpf_map__set_max_entries(s->maps.sgbpf_tcp_locks, chunks))
		return -EINVAL;
	return 0;
}

static bool is_tcp_map(const char *name)
{
	return strncmp(name, "sgbpf_tcp_", 10) == 0;
}

/*
 * The verdict program NAME_tcp of a custom reduction made with
 * SGBPF_ELEMENTWISE_REDUCER(NAME, ...): reduce_prog names NAME, or the
 * object has one.  Its maps are the skeleton's (loaded first), its
 * configuration is the skeleton's, written into its own .rodata.
 */
static int load_custom(struct sgbpf_tcp_stream *st, const struct sgbpf_tcp_stream_opts *o)
{
	const struct { const char *var; uint32_t val; } cfg[] = {
		{ "sgbpf_tcp_slot_mask", st->nslots - 1 },
		{ "sgbpf_tcp_chunks_per_slot", st->chunks_per_slot },
		{ "sgbpf_tcp_body_max", o->max_reply },
		{ "sgbpf_tcp_fate_pass", o->fate_pass },
		{ "sgbpf_tcp_ctrl_notes", o->ctrl_notes },
	};
	const char *path = o->reduce_obj;
	char name[160], *log;
	size_t len;
	int err;

	if (!path)
		return sgbpf_err(-EINVAL, "a custom reduction needs reduce_obj");
	log = malloc(SGBPF_LOAD_LOG_BYTES);
	if (!log)
		return -ENOMEM;
	log[0] = '\0';
	err = sgbpf_reduce_obj_open(path, log, SGBPF_LOAD_LOG_BYTES, &st->custom);
	if (err)
		goto out;
	err = sgbpf_reduce_obj_bind_maps(st->custom, path, st->skel->obj, is_tcp_map);
	if (err)
		goto out;
	if (o->reduce_prog)
		snprintf(name, sizeof(name), "%s_tcp", o->reduce_prog);
	st->prog = sgbpf_reduce_obj_prog(st->custom, BPF_PROG_TYPE_SK_SKB,
					 o->reduce_prog ? name : NULL);
	if (!st->prog) {
		err = errno == EINVAL ?
			sgbpf_err(-EINVAL, "%s holds several reductions: name one (reduce_prog)",
				  path) :
			sgbpf_err(-ENOENT, "%s lacks the TCP program of a reduction%s%s%s (rebuild "
					   "it with SGBPF_ELEMENTWISE_REDUCER from this sgbpf's "
					   "<sgbpf/aggregation.bpf.h>)",
				  path, o->reduce_prog ? " (" : "", o->reduce_prog ? name : "",
				  o->reduce_prog ? ")" : "");
		goto out;
	}
	/* The ABI record is NAME's, the program NAME_tcp. */
	snprintf(name, sizeof(name), "%s", bpf_program__name(st->prog));
	len = strlen(name);
	if (len > 4 && strcmp(name + len - 4, "_tcp") == 0)
		name[len - 4] = '\0';
	err = sgbpf_reduce_obj_check_abi(st->custom, path, name, o->reduce_elem_size,
					 &st->elem_size);
	if (err)
		goto out;
	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		err = sgbpf_reduce_obj_set_rodata(st->custom, cfg[i].var, &cfg[i].val,
						  sizeof(cfg[i].val));
		if (err) {
			err = sgbpf_err(-EPROTO, "%s: no %s of this sgbpf version: rebuild it against "
						 "this sgbpf's headers", path, cfg[i].var);
			goto out;
		}
	}
	/* The UDP programs of the same reduction are not verified here. */
	sgbpf_reduce_obj_keep(st->custom, &st->prog, 1);
	err = sgbpf_reduce_obj_load(st->custom, path, log, SGBPF_LOAD_LOG_BYTES);
out:
	free(log);
	return err;
}

int sgbpf_tcp_stream_create(const struct sgbpf_tcp_stream_opts *o, struct sgbpf_tcp_stream **out)
{
	struct sgbpf_tcp_stream *st;
	int err;

	if (!o || !out || o->sz < sizeof(*o) || o->max_reply == 0 || (o->ctrl_notes && o->fate_pass) ||
	    (o->slots & (o->slots - 1)) || o->slots > 65536)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (size_t i = 0; i < SGBPF_TCP_MAX_WORKERS; i++)
		st->fds[i] = -1;
	st->prog_fd = -1;
	st->ctrl_fd = -1;
	st->nslots = o->slots ? o->slots : 64;
	st->chunks_per_slot = (o->max_reply + SGBPF_TCP_CHUNK - 1) / SGBPF_TCP_CHUNK;

	st->skel = sgbpf_tcp_stream_bpf__open();
	if (!st->skel) {
		err = -errno;
		goto fail;
	}
	err = configure(st, o);
	if (err)
		goto fail;
	err = sgbpf_tcp_stream_bpf__load(st->skel);
	if (err)
		goto fail;
	if (o->reduce == SGBPF_REDUCE_CUSTOM) {
		err = load_custom(st, o);
		if (err)
			goto fail;
	}

	st->slots_len = page_round((size_t)st->nslots * sizeof(struct sgbpf_tcp_slot));
	st->results_len = page_round((size_t)st->nslots * st->chunks_per_slot * SGBPF_TCP_CHUNK);
	st->slots = map_mmap(st->skel->maps.sgbpf_tcp_slots, st->slots_len);
	st->results = map_mmap(st->skel->maps.sgbpf_tcp_results, st->results_len);
	if (!st->slots || !st->results) {
		err = -errno;
		goto fail;
	}
	st->rb = ring_buffer__new(bpf_map__fd(st->skel->maps.sgbpf_tcp_events), on_event, st, NULL);
	if (!st->rb) {
		err = -errno;
		goto fail;
	}
	/*
	 * A sockmap attachment, not a link (libbpf 1.1 has no sockmap links): it
	 * lives as long as the map, which lives as long as this handle.
	 */
	if (bpf_prog_attach(bpf_program__fd(st->prog), bpf_map__fd(st->skel->maps.sgbpf_tcp_socks),
			    BPF_SK_SKB_VERDICT, 0)) {
		err = -errno;
		goto fail;
	}
	st->prog_fd = bpf_program__fd(st->prog);
	*out = st;
	return 0;
fail:
	sgbpf_tcp_stream_destroy(st);
	return err < 0 ? err : -EINVAL;
}

void sgbpf_tcp_stream_destroy(struct sgbpf_tcp_stream *st)
{
	if (!st)
		return;
	/* Sockets leave the map before anything else goes (and before their owners close them). */
	for (uint32_t w = 0; w < SGBPF_TCP_MAX_WORKERS; w++)
		if (st->fds[w] >= 0)
			sgbpf_tcp_stream_remove(st, st->fds[w], w);
	sgbpf_tcp_stream_set_ctrl(st, -1);
	if (st->prog_fd >= 0)
		bpf_prog_detach2(st->prog_fd, bpf_map__fd(st->skel->maps.sgbpf_tcp_socks),
				 BPF_SK_SKB_VERDICT);
	ring_buffer__free(st->rb);
	if (st->results)
		munmap(st->results, st->results_len);
	if (st->slots)
		munmap(st->slots, st->slots_len);
	bpf_object__close(st->custom);
	sgbpf_tcp_stream_bpf__destroy(st->skel);
	free(st);
}

static int sock_cookie(int fd, __u64 *cookie)
{
	socklen_t len = sizeof(*cookie);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len) ? -errno : 0;
}

int sgbpf_tcp_stream_add(struct sgbpf_tcp_stream *st, int fd, uint32_t worker)
{
	struct sgbpf_tcp_conn conn = { .worker = worker };
	int conns, socks, err;
	__u64 cookie, v = fd;

	if (!st || fd < 0 || worker >= SGBPF_TCP_MAX_WORKERS)
		return -EINVAL;
	if (st->fds[worker] >= 0)
		return -EEXIST;
	err = sock_cookie(fd, &cookie);
	if (err)
		return err;
	conns = bpf_map__fd(st->skel->maps.sgbpf_tcp_conns);
	socks = bpf_map__fd(st->skel->maps.sgbpf_tcp_socks);
	/* State first: the program's first run for this socket must find it. */
	if (bpf_map_update_elem(conns, &cookie, &conn, BPF_NOEXIST))
		return -errno;
	if (bpf_map_update_elem(socks, &worker, &v, BPF_NOEXIST)) {
		err = -errno;
		bpf_map_delete_elem(conns, &cookie);
		return err;
	}
	st->fds[worker] = fd;
	return 0;
}

int sgbpf_tcp_stream_set_ctrl(struct sgbpf_tcp_stream *st, int fd)
{
	__u32 key = SGBPF_TCP_CTRL_KEY;
	__u64 v = fd;
	int socks;

	if (!st)
		return -EINVAL;
	socks = bpf_map__fd(st->skel->maps.sgbpf_tcp_socks);
	if (fd < 0) {
		if (st->ctrl_fd < 0)
			return 0;
		st->ctrl_fd = -1;
		return bpf_map_delete_elem(socks, &key) ? -errno : 0;
	}
	if (bpf_map_update_elem(socks, &key, &v, BPF_ANY))
		return -errno;
	st->ctrl_fd = fd;
	return 0;
}

int sgbpf_tcp_stream_remove(struct sgbpf_tcp_stream *st, int fd, uint32_t worker)
{
	__u64 cookie;
	int err;

	if (!st || worker >= SGBPF_TCP_MAX_WORKERS || st->fds[worker] != fd || fd < 0)
		return -ENOENT;
	err = sock_cookie(fd, &cookie);
	if (bpf_map_delete_elem(bpf_map__fd(st->skel->maps.sgbpf_tcp_socks), &worker) && !err)
		err = -errno;
	if (!err)
		bpf_map_delete_elem(bpf_map__fd(st->skel->maps.sgbpf_tcp_conns), &cookie);
	st->fds[worker] = -1;
	return err;
}

int sgbpf_tcp_stream_reset(struct sgbpf_tcp_stream *st, int fd, uint32_t worker)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int err = sgbpf_tcp_stream_remove(st, fd, worker);

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) && !err)
		err = -errno;
	return err;
}

static struct sgbpf_tcp_slot *slot_of(const struct sgbpf_tcp_stream *st, uint32_t req_id)
{
	return &st->slots[req_id & (st->nslots - 1)];
}

int sgbpf_tcp_stream_open(struct sgbpf_tcp_stream *st, uint32_t req_id, uint32_t needed)
{
	struct sgbpf_tcp_slot *s;
	__u64 state;

	if (!st || needed == 0 || needed > SGBPF_TCP_MAX_WORKERS)
		return -EINVAL;
	s = slot_of(st, req_id);
	state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	if (SGBPF_TCP_TAG_LOW(state) == SGBPF_TCP_SLOT_ACTIVE ||
	    SGBPF_TCP_TAG_LOW(state) == 2 /* merging */)
		return -EBUSY;
	/*
	 * gen first: a fold admitted under the previous opening finds it
	 * changed and hands its admission back; the result chunks it tags are
	 * reset by the first fold of this opening.
	 */
	__atomic_store_n(&s->gen, s->gen + 1, __ATOMIC_RELAXED);
	s->needed = needed;
	s->responses = 0;
	s->nelems = 0;
	__atomic_store_n(&s->tickets, SGBPF_TCP_TAG(req_id, 0), __ATOMIC_RELAXED);
	__atomic_store_n(&s->state, SGBPF_TCP_TAG(req_id, SGBPF_TCP_SLOT_ACTIVE), __ATOMIC_RELEASE);
	return 0;
}

int sgbpf_tcp_stream_expire(struct sgbpf_tcp_stream *st, uint32_t req_id)
{
	struct sgbpf_tcp_slot *s;
	__u64 want = SGBPF_TCP_TAG(req_id, SGBPF_TCP_SLOT_ACTIVE), cur;

	if (!st)
		return -EINVAL;
	s = slot_of(st, req_id);
	for (;;) {
		cur = want;
		if (__atomic_compare_exchange_n(&s->state, &cur,
						SGBPF_TCP_TAG(req_id, SGBPF_TCP_SLOT_EXPIRED), false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 0;
		if (SGBPF_TCP_TAG_REQ(cur) != req_id)
			return -ESTALE;
		/* Merging: the last fold is publishing; it ends in a few instructions. */
		if (SGBPF_TCP_TAG_LOW(cur) != 2)
			return SGBPF_TCP_TAG_LOW(cur) == SGBPF_TCP_SLOT_COMPLETE ? -EALREADY : 0;
	}
}

const void *sgbpf_tcp_stream_result(const struct sgbpf_tcp_stream *st, uint32_t req_id,
				    uint32_t *nelems, uint32_t *responses)
{
	const struct sgbpf_tcp_slot *s;
	__u64 state;

	if (!st) {
		errno = EINVAL;
		return NULL;
	}
	s = slot_of(st, req_id);
	state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	if (SGBPF_TCP_TAG_REQ(state) != req_id) {
		errno = ESTALE;
		return NULL;
	}
	if (SGBPF_TCP_TAG_LOW(state) != SGBPF_TCP_SLOT_COMPLETE) {
		errno = EAGAIN;
		return NULL;
	}
	if (nelems)
		*nelems = s->nelems;
	if (responses)
		*responses = s->responses;
	return st->results + (size_t)(req_id & (st->nslots - 1)) * st->chunks_per_slot *
				     SGBPF_TCP_CHUNK;
}

struct sgbpf_tcp_slot *sgbpf_tcp_stream_slot(const struct sgbpf_tcp_stream *st, uint32_t s)
{
	return st && s < st->nslots ? &st->slots[s] : NULL;
}

uint32_t sgbpf_tcp_stream_elem_size(const struct sgbpf_tcp_stream *st)
{
	return st ? st->elem_size : 0;
}

size_t sgbpf_tcp_stream_result_bytes(const struct sgbpf_tcp_stream *st)
{
	return st ? (size_t)st->chunks_per_slot * SGBPF_TCP_CHUNK : 0;
}

int sgbpf_tcp_stream_poll(struct sgbpf_tcp_stream *st, int timeout_ms, sgbpf_tcp_event_fn fn,
			  void *ctx)
{
	int n;

	if (!st)
		return -EINVAL;
	st->fn = fn;
	st->fn_ctx = ctx;
	/* Not waiting: read the ring's memory, no system call (busy-wait delivery). */
	n = timeout_ms == 0 ? ring_buffer__consume(st->rb) : ring_buffer__poll(st->rb, timeout_ms);
	st->fn = NULL;
	return n;
}

int sgbpf_tcp_stream_events_fd(const struct sgbpf_tcp_stream *st)
{
	return st ? ring_buffer__epoll_fd(st->rb) : -EINVAL;
}

int sgbpf_tcp_stream_conn(const struct sgbpf_tcp_stream *st, int fd, struct sgbpf_tcp_conn *out)
{
	__u64 cookie;
	int err;

	if (!st || !out)
		return -EINVAL;
	err = sock_cookie(fd, &cookie);
	if (err)
		return err;
	if (bpf_map_lookup_elem(bpf_map__fd(st->skel->maps.sgbpf_tcp_conns), &cookie, out))
		return -errno;
	return 0;
}

int sgbpf_tcp_stream_stats(const struct sgbpf_tcp_stream *st,
			   uint64_t out[__SGBPF_TCP_STREAM_STATS])
{
	int ncpus = libbpf_num_possible_cpus(), fd;

	if (!st || ncpus <= 0)
		return ncpus <= 0 ? ncpus : -EINVAL;
	fd = bpf_map__fd(st->skel->maps.sgbpf_tcp_stream_stats);
	for (__u32 k = 0; k < __SGBPF_TCP_STREAM_STATS; k++) {
		__u64 v[ncpus];

		if (bpf_map_lookup_elem(fd, &k, v))
			return -errno;
		out[k] = 0;
		for (int c = 0; c < ncpus; c++)
			out[k] += v[c];
	}
	return 0;
}
