// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Shared pieces of the UDP benchmark contenders; see bench_common.h.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"

#define NSEC_PER_SEC	1000000000ull
#define NSEC_PER_MSEC	1000000ull
/* How long poll() may sleep while nothing arrives; bounds expiry checks. */
#define BENCH_POLL_MS	10

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	/* vDSO: no system call, so it does not disturb the syscall counts. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	if (cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return 0;
}

int bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	return 0;
}

int bench_udp_socket(const struct sockaddr_in *peer, int rcvbuf, bool nonblock)
{
	/*
	 * Connected to a loopback worker: bound to 127.0.0.1.  Otherwise (a
	 * shared socket, or workers across a veth) any address, so that the
	 * route picks the source.
	 */
	struct sockaddr_in local = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(peer && (ntohl(peer->sin_addr.s_addr) >> 24) == 127 ?
					 INADDR_LOOPBACK : INADDR_ANY),
	};
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	/* FORCE needs CAP_NET_ADMIN and ignores rmem_max; fall back without it. */
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		goto err_close;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)))
		goto err_close;
	if (peer && connect(fd, (const struct sockaddr *)peer, sizeof(*peer)))
		goto err_close;
	return fd;

err_close:
	err = -errno;
	close(fd);
	return err;
}

int bench_lat_init(struct bench_lat *l)
{
	l->h = calloc(1, sizeof(*l->h));
	return l->h ? 0 : -ENOMEM;
}

void bench_lat_free(struct bench_lat *l)
{
	free(l->h);
	l->h = NULL;
}

void bench_lat_reset(struct bench_lat *l)
{
	lat_hist_reset(l->h);
}

void bench_lat_stats(const struct bench_lat *l, struct bench_lat_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!l->h->count)
		return;
	out->mean_us = lat_hist_mean(l->h) / 1000.0;
	out->p50_us = lat_hist_percentile(l->h, 50) / 1000.0;
	out->p99_us = lat_hist_percentile(l->h, 99) / 1000.0;
}

/* Busy µs (user + nice + system + irq + softirq) of one /proc/stat line. */
static int stat_line_busy_us(const char *line, const char *prefix, uint64_t *out)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq;
	long tck = sysconf(_SC_CLK_TCK);
	char fmt[64];

	snprintf(fmt, sizeof(fmt), "%s %%llu %%llu %%llu %%llu %%llu %%llu %%llu", prefix);
	if (sscanf(line, fmt, &user, &nice, &sys, &idle, &iowait, &irq, &softirq) != 7 ||
	    tck <= 0)
		return -EPROTO;
	*out = (user + nice + sys + irq + softirq) * 1000000ull / (uint64_t)tck;
	return 0;
}

/*
 * Busy µs of all CPUs (the first line of /proc/stat) and, when cpu >= 0, of
 * that CPU alone: the coordinator's CPU, where its receive work (threaded
 * NAPI pinned there) and its process run.
 */
static int machine_busy_us(uint64_t *out, int cpu, uint64_t *cpu_out)
{
	char buf[16384], prefix[16], *line;
	ssize_t len;
	int fd, err = 0;

	fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	if (len < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	buf[len] = '\0';
	err = stat_line_busy_us(buf, "cpu", out);
	*cpu_out = 0;
	if (err || cpu < 0)
		return err;
	snprintf(prefix, sizeof(prefix), "\ncpu%d ", cpu);
	line = strstr(buf, prefix);
	if (!line)
		return -ENOENT;
	snprintf(prefix, sizeof(prefix), "cpu%d", cpu);
	return stat_line_busy_us(line + 1, prefix, cpu_out);
}

int bench_cpu_sample(struct bench_cpu *c, int cpu)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -errno;
	c->self_us = (uint64_t)ru.ru_utime.tv_sec * 1000000ull + ru.ru_utime.tv_usec +
		     (uint64_t)ru.ru_stime.tv_sec * 1000000ull + ru.ru_stime.tv_usec;
	return machine_busy_us(&c->machine_us, cpu, &c->coord_cpu_us);
}

/* ---- worker lists ------------------------------------------------------ */

static int parse_port(const char *s, char **end, uint16_t *port)
{
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, end, 10);
	if (errno || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/*
 * True when this process runs in a named network namespace (one under
 * /run/netns, as `ip netns add` makes), not in the host's: the host's is
 * never named, and PID 1's namespace cannot always be looked at.
 */
static bool in_own_netns(void)
{
	struct stat self, st;
	struct dirent *e;
	char path[300];
	bool found = false;
	DIR *d;

	if (stat("/proc/self/ns/net", &self))
		return false;
	d = opendir("/run/netns");
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
		found = !stat(path, &st) && st.st_ino == self.st_ino && st.st_dev == self.st_dev;
	}
	closedir(d);
	return found;
}

/* Appends the workers of one "A.B.C.D:P[-P2]" item (no surrounding blanks). */
static int parse_item(const char *item, struct sockaddr_in *w, uint32_t *n)
{
	char addr[INET_ADDRSTRLEN];
	const char *colon = strrchr(item, ':');
	struct in_addr in;
	uint16_t lo, hi;
	char *end;
	uint32_t p;

	if (!colon || (size_t)(colon - item) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, item, colon - item);
	addr[colon - item] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return -EINVAL;
	/*
	 * Benchmark traffic stays on this machine: loopback, or any address
	 * when this process runs in a network namespace other than the
	 * host's (bench/run.sh's veth topology), where only that namespace's
	 * routes are reachable.
	 */
	if ((ntohl(in.s_addr) >> 24) != 127 && !in_own_netns())
		return -EADDRNOTAVAIL;
	if (parse_port(colon + 1, &end, &lo))
		return -EINVAL;
	hi = lo;
	if (*end == '-' && parse_port(end + 1, &end, &hi))
		return -EINVAL;
	if (*end != '\0' || hi < lo)
		return -EINVAL;
	if (*n + (uint32_t)(hi - lo) + 1 > BENCH_MAX_WORKERS)
		return -E2BIG;
	for (p = lo; p <= hi; p++) {
		w[*n] = (struct sockaddr_in){
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)p),
			.sin_addr = in,
		};
		(*n)++;
	}
	return 0;
}

/* Splits text at separators, skipping blanks and '#' comments up to a newline. */
static int parse_list(char *text, struct sockaddr_in *w, uint32_t *n)
{
	char *p = text;
	int err;

	while (*p) {
		char *start, *end;

		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (!*p)
			break;
		start = p;
		while (*p && !isspace((unsigned char)*p) && *p != ',' && *p != '#')
			p++;
		end = p;
		if (*p)
			p++;
		*end = '\0';
		err = parse_item(start, w, n);
		if (err)
			return err;
	}
	return 0;
}

static char *read_small_file(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t cap = 1 << 16, len;
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	len = fread(buf, 1, cap, f);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

int bench_parse_workers(const char *spec, struct sockaddr_in **out, uint32_t *n)
{
	struct sockaddr_in *w;
	char *text;
	int err;

	w = calloc(BENCH_MAX_WORKERS, sizeof(*w));
	if (!w)
		return -ENOMEM;
	/* A readable file wins; anything else must be an inline list. */
	text = access(spec, R_OK) == 0 ? read_small_file(spec) : strdup(spec);
	if (!text) {
		free(w);
		return -ENOMEM;
	}
	*n = 0;
	err = parse_list(text, w, n);
	free(text);
	if (!err && *n == 0)
		err = -ENOENT;
	if (err) {
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

/* ---- options ----------------------------------------------------------- */

enum {
	OPT_WORKERS = 256, OPT_COUNT, OPT_INFLIGHT, OPT_CPU, OPT_CSV, OPT_LABEL, OPT_MODE,
	OPT_WARMUP, OPT_TIMEOUT, OPT_MAX_SECONDS, OPT_BODY_LEN, OPT_VERBOSE, OPT_CSV_HEADER, OPT_HELP,
};

static const struct option common_longopts[] = {
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "inflight", required_argument, NULL, OPT_INFLIGHT },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "max-seconds", required_argument, NULL, OPT_MAX_SECONDS },
	{ "body-len", required_argument, NULL, OPT_BODY_LEN },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "csv-header", no_argument, NULL, OPT_CSV_HEADER },
	{ "help", no_argument, NULL, OPT_HELP },
};
#define NCOMMON (sizeof(common_longopts) / sizeof(common_longopts[0]))

/* Contender names: "epoll" is bench_udp_epoll, "tcp_epoll" is bench_tcp_epoll. */
static const char *prog_family(const char *name)
{
	return strncmp(name, "tcp_", 4) ? "udp_" : "";
}

static void usage(FILE *f, const char *name, const struct bench_extra_opts *extra)
{
	fprintf(f,
		"usage: bench_%s%s --workers LIST [options]\n"
		"  --workers LIST     A.B.C.D:PORT[-PORT][,...] or a file of such lines (127/8 only,\n"
		"                     unless run in a network namespace of its own)\n"
		"  --count K          measured requests (default 1000; 0: set up and exit)\n"
		"  --inflight M       requests kept outstanding (default 1)\n"
		"  --cpu N            pin to CPU N (default: no pinning)\n"
		"  --csv              print one CSV row on stdout\n"
		"  --csv-header       print the CSV header line before it\n"
		"  --label NAME       first CSV column (default %s)\n"
		"  --mode NAME        CSV mode column (default latency when M = 1, else throughput)\n"
		"  --warmup W         unmeasured requests first (default 100)\n"
		"  --timeout-ms T     per-request timeout (default 1000)\n"
		"  --max-seconds S    bound on the whole run (default 300)\n"
		"  --body-len B       scatter body bytes after the 18-byte header (default 0)\n"
		"  --verbose          describe the first failures on stderr\n",
		prog_family(name), name, name);
	if (extra && extra->usage)
		fputs(extra->usage, f);
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int handle_common(int val, const char *arg, struct bench_opts *o)
{
	uint64_t v;
	int err;

	switch (val) {
	case OPT_WORKERS:
		free(o->workers);
		o->workers = NULL;
		err = bench_parse_workers(arg, &o->workers, &o->nworkers);
		if (err)
			fprintf(stderr, "bad --workers '%s': %s\n", arg, strerror(-err));
		return err;
	case OPT_COUNT:
		return parse_u64(arg, 0, 100000000, &o->count);
	case OPT_WARMUP:
		return parse_u64(arg, 0, 100000000, &o->warmup);
	case OPT_INFLIGHT:
		err = parse_u64(arg, 1, BENCH_MAX_INFLIGHT, &v);
		if (!err)
			o->inflight = (uint32_t)v;
		return err;
	case OPT_CPU:
		err = parse_u64(arg, 0, CPU_SETSIZE - 1, &v);
		if (!err)
			o->cpu = (int)v;
		return err;
	case OPT_CSV:
		o->csv = true;
		return 0;
	case OPT_LABEL:
		o->label = arg;
		return 0;
	case OPT_MODE:
		o->mode = arg;
		return 0;
	case OPT_TIMEOUT:
		err = parse_u64(arg, 1, 3600000, &v);
		o->timeout_us = v * 1000;
		return err;
	case OPT_MAX_SECONDS:
		return parse_u64(arg, 1, 86400, &o->max_seconds);
	case OPT_CSV_HEADER:
		o->csv = o->csv_header = true;
		return 0;
	case OPT_VERBOSE:
		o->verbose = true;
		return 0;
	case OPT_BODY_LEN:
		err = parse_u64(arg, 0, BENCH_BODY_MAX, &v);
		o->body_len = (uint32_t)v;
		return err;
	}
	return -EINVAL;
}

int bench_parse_opts(int argc, char **argv, const char *name, struct bench_opts *o,
		     const struct bench_extra_opts *extra)
{
	struct option *all;
	size_t nextra = 0, i;
	int val, err = 0;

	*o = (struct bench_opts){
		.name = name, .label = name, .count = 1000, .warmup = 100, .inflight = 1,
		.cpu = -1, .timeout_us = 1000000, .max_seconds = 300,
	};
	while (extra && extra->longopts && extra->longopts[nextra].name)
		nextra++;
	all = calloc(NCOMMON + nextra + 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	memcpy(all, common_longopts, sizeof(common_longopts));
	for (i = 0; i < nextra; i++)
		all[NCOMMON + i] = extra->longopts[i];

	optind = 1;
	while (!err && (val = getopt_long(argc, argv, "", all, NULL)) != -1) {
		if (val == OPT_HELP) {
			usage(stdout, name, extra);
			free(all);
			return 1;
		}
		if (val == '?') {
			err = -EINVAL;
			break;
		}
		if (val >= OPT_WORKERS && val < OPT_HELP)
			err = handle_common(val, optarg, o);
		else if (extra && extra->handle)
			err = extra->handle(val, optarg, extra->ctx);
		else
			err = -EINVAL;
		if (err)
			fprintf(stderr, "bench_%s%s: bad value for an option near '%s'\n", prog_family(name), name,
				argv[optind - 1]);
	}
	free(all);
	if (!err && optind < argc) {
		fprintf(stderr, "bench_%s%s: unexpected argument '%s'\n", prog_family(name), name, argv[optind]);
		err = -EINVAL;
	}
	if (!err && !o->workers) {
		fprintf(stderr, "bench_%s%s: --workers is required\n", prog_family(name), name);
		err = -EINVAL;
	}
	if (err) {
		usage(stderr, name, extra);
		bench_opts_free(o);
		return -EINVAL;
	}
	if (!o->mode)
		o->mode = o->inflight == 1 ? "latency" : "throughput";
	return 0;
}

void bench_opts_free(struct bench_opts *o)
{
	free(o->workers);
	o->workers = NULL;
	o->nworkers = 0;
}

/* ---- request table ----------------------------------------------------- */

static uint64_t addr_key(const struct sockaddr_in *sa)
{
	/* +1 keeps a key of zero free to mean "empty". */
	return (((uint64_t)sa->sin_addr.s_addr << 16) | sa->sin_port) + 1;
}

static uint32_t addr_hash(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32);
}

static int addr_map_init(struct bench_table *t, const struct bench_opts *o)
{
	uint32_t size = 1, i;

	while (size < 2 * o->nworkers)
		size <<= 1;
	t->addr_keys = calloc(size, sizeof(*t->addr_keys));
	t->addr_vals = calloc(size, sizeof(*t->addr_vals));
	if (!t->addr_keys || !t->addr_vals)
		return -ENOMEM;
	t->addr_mask = size - 1;
	for (i = 0; i < o->nworkers; i++) {
		uint64_t key = addr_key(&o->workers[i]);
		uint32_t h = addr_hash(key) & t->addr_mask;

		while (t->addr_keys[h] && t->addr_keys[h] != key)
			h = (h + 1) & t->addr_mask;
		if (t->addr_keys[h])
			return -EEXIST;	/* the same worker listed twice */
		t->addr_keys[h] = key;
		t->addr_vals[h] = (uint16_t)i;
	}
	return 0;
}

int bench_table_worker(const struct bench_table *t, const struct sockaddr_in *sa)
{
	uint64_t key = addr_key(sa);
	uint32_t h = addr_hash(key) & t->addr_mask, probes;

	for (probes = 0; probes <= t->addr_mask; probes++) {
		if (t->addr_keys[h] == key)
			return t->addr_vals[h];
		if (!t->addr_keys[h])
			break;
		h = (h + 1) & t->addr_mask;
	}
	return -ENOENT;
}

int bench_table_init(struct bench_table *t, const struct bench_opts *o)
{
	uint32_t i;
	int err;

	memset(t, 0, sizeof(*t));
	t->o = o;
	t->nworkers = o->nworkers;
	t->check_sum = true;
	t->timeout_ns = o->timeout_us * 1000;
	t->nslots = 1;
	while (t->nslots < o->inflight) {
		t->nslots <<= 1;
		t->slot_bits++;
	}
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	t->free_list = calloc(t->nslots, sizeof(*t->free_list));
	if (!t->slots || !t->free_list) {
		err = -ENOMEM;
		goto err_free;
	}
	/* Pop order: slot 0 first. */
	for (i = 0; i < t->nslots; i++)
		t->free_list[i] = t->nslots - 1 - i;
	t->nfree = t->nslots;
	for (i = 0; i < BENCH_NELEMS; i++)
		t->expect[i] = o->nworkers * i;
	err = bench_lat_init(&t->lat);
	if (err)
		goto err_free;
	err = addr_map_init(t, o);
	if (err)
		goto err_free;
	return 0;

err_free:
	bench_table_free(t);
	return err;
}

void bench_table_free(struct bench_table *t)
{
	bench_lat_free(&t->lat);
	free(t->addr_keys);
	free(t->addr_vals);
	free(t->free_list);
	free(t->slots);
	t->addr_keys = NULL;
	t->addr_vals = NULL;
	t->free_list = NULL;
	t->slots = NULL;
}

struct bench_slot *bench_table_start(struct bench_table *t)
{
	struct bench_slot *s;
	uint32_t idx;

	if (!t->nfree)
		return NULL;
	idx = t->free_list[--t->nfree];
	s = &t->slots[idx];
	s->req_id = (t->next_seq++ << t->slot_bits) | idx;
	s->active = true;
	s->replies = 0;
	memset(s->seen, 0, sizeof(s->seen));
	memset(s->acc, 0, sizeof(s->acc));
	s->msg.hdr = (struct sgbpf_hdr){
		.req_id = sgbpf_le32(s->req_id),
		.seq_num = 0,
		.num_pks = sgbpf_le32(1),
		.body_len = sgbpf_le32(t->o->body_len),
		.msg_type = SGBPF_MSG_SCATTER,
	};
	t->inflight++;
	t->c.issued++;
	s->start_ns = bench_now_ns();
	return s;
}

struct bench_slot *bench_table_find(struct bench_table *t, uint32_t req_id)
{
	struct bench_slot *s = &t->slots[req_id & (t->nslots - 1)];

	return s->active && s->req_id == req_id ? s : NULL;
}

static void release(struct bench_table *t, struct bench_slot *s)
{
	s->active = false;
	t->free_list[t->nfree++] = (uint32_t)(s - t->slots);
	t->inflight--;
}

void bench_fold_u32(uint32_t *acc, const void *body)
{
	const uint8_t *p = body;
	uint32_t i, v;

	/* The body starts at offset 18: unaligned loads, which memcpy makes legal. */
	for (i = 0; i < BENCH_NELEMS; i++) {
		memcpy(&v, p + 4 * i, sizeof(v));
		acc[i] += sgbpf_le32(v);
	}
}

#define BENCH_VERBOSE_MAX 5

static void describe_mismatch(const struct bench_table *t, const struct bench_slot *s,
			      uint32_t responses, const uint32_t *sum, uint32_t nelems)
{
	uint32_t i;

	fprintf(stderr, "request %#x: %u of %u responses after %.1f us", s->req_id, responses,
		t->nworkers, (bench_now_ns() - s->start_ns) / 1000.0);
	for (i = 0; sum && i < BENCH_NELEMS; i++) {
		if (i >= nelems || sum[i] != t->expect[i]) {
			fprintf(stderr, "; element %u is %u, expected %u (%u elements)", i,
				i < nelems ? sum[i] : 0, t->expect[i], nelems);
			break;
		}
	}
	fputc('\n', stderr);
}

void bench_table_complete(struct bench_table *t, struct bench_slot *s, uint32_t responses,
			  const uint32_t *sum, uint32_t nelems)
{
	bool good = responses == t->nworkers;

	bench_lat_add(&t->lat, bench_now_ns() - s->start_ns);
	if (good && sum)
		good = nelems >= BENCH_NELEMS && !memcmp(sum, t->expect, sizeof(t->expect));
	if (good)
		t->c.ok++;
	else if (t->c.mismatches++ < BENCH_VERBOSE_MAX && t->o->verbose)
		describe_mismatch(t, s, responses, sum, nelems);
	release(t, s);
}

void bench_table_finish(struct bench_table *t, struct bench_slot *s, bool good)
{
	bench_lat_add(&t->lat, bench_now_ns() - s->start_ns);
	if (good)
		t->c.ok++;
	else
		t->c.mismatches++;
	release(t, s);
}

void bench_table_fail(struct bench_table *t, struct bench_slot *s)
{
	t->c.send_errors++;
	release(t, s);
}

void bench_table_timeout(struct bench_table *t, struct bench_slot *s)
{
	t->c.timeouts++;
	release(t, s);
}

int bench_table_fold(struct bench_table *t, const void *buf, size_t len, uint32_t w)
{
	const struct sgbpf_hdr *h = buf;
	struct bench_slot *s;
	uint32_t req_id, body_len;

	if (len < SGBPF_HDR_LEN || h->msg_type != SGBPF_MSG_GATHER || w >= t->nworkers)
		goto bad;
	req_id = sgbpf_le32(h->req_id);
	s = bench_table_find(t, req_id);
	if (!s) {
		/* An id we issued earlier: a late reply to an expired request. */
		if ((req_id >> t->slot_bits) < t->next_seq) {
			t->c.stale++;
			return 0;
		}
		goto bad;
	}
	body_len = sgbpf_le32(h->body_len);
	if (t->check_sum &&
	    (body_len != BENCH_REPLY_BODY_LEN || len < SGBPF_HDR_LEN + BENCH_REPLY_BODY_LEN))
		goto bad;
	if (!bench_slot_mark(s, w))
		goto bad;
	if (t->check_sum)
		bench_fold_u32(s->acc, (const uint8_t *)buf + SGBPF_HDR_LEN);
	if (++s->replies < t->nworkers)
		return 0;
	bench_table_complete(t, s, s->replies, t->check_sum ? s->acc : NULL, BENCH_NELEMS);
	return 1;

bad:
	t->c.bad_replies++;
	return -EBADMSG;
}

uint32_t bench_table_expire(struct bench_table *t, uint64_t now)
{
	uint32_t i, n = 0;

	if (!t->inflight)
		return 0;
	for (i = 0; i < t->nslots; i++) {
		struct bench_slot *s = &t->slots[i];

		if (s->active && now - s->start_ns > t->timeout_ns) {
			t->c.timeouts++;
			release(t, s);
			n++;
		}
	}
	return n;
}

/* ---- the request loop --------------------------------------------------- */

static int run_phase(struct bench_table *t, const struct bench_opts *o,
		     const struct bench_ops *ops, void *ctx, uint64_t count, uint64_t deadline)
{
	struct bench_slot **fresh;
	uint64_t issued = 0, now, last_scan;
	uint32_t n, i;
	int err = 0;

	fresh = calloc(o->inflight, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	last_scan = bench_now_ns();
	while (issued < count || t->inflight) {
		if (bench_now_ns() >= deadline)
			break;
		for (n = 0; t->inflight < o->inflight && issued < count; n++, issued++) {
			fresh[n] = bench_table_start(t);
			if (!fresh[n])
				break;
		}
		if (n) {
			err = ops->send(ctx, t, fresh, n);
			if (err) {
				/* The contender said these never (all) left. */
				for (i = 0; i < n; i++)
					if (fresh[i]->active)
						bench_table_fail(t, fresh[i]);
				err = 0;
			}
		}
		err = ops->poll(ctx, t, BENCH_POLL_MS);
		if (err < 0)
			break;
		now = bench_now_ns();
		if (now - last_scan >= NSEC_PER_MSEC) {
			bench_table_expire(t, now);
			last_scan = now;
		}
	}
	/* Out of time (or a transport error): whatever is outstanding failed. */
	bench_table_expire(t, UINT64_MAX / 2 + bench_now_ns());
	free(fresh);
	return err < 0 ? err : 0;
}

int bench_drive(struct bench_table *t, const struct bench_opts *o, const struct bench_ops *ops,
		void *ctx, struct bench_result *res)
{
	uint64_t deadline = bench_now_ns() + o->max_seconds * NSEC_PER_SEC, t0;
	struct bench_cpu c0, c1;
	int err;

	memset(res, 0, sizeof(*res));
	res->asked = o->count;
	if (o->warmup) {
		err = run_phase(t, o, ops, ctx, o->warmup, deadline);
		if (err)
			return err;
	}
	memset(&t->c, 0, sizeof(t->c));
	bench_lat_reset(&t->lat);

	err = bench_cpu_sample(&c0, o->cpu);
	if (err)
		return err;
	t0 = bench_now_ns();
	err = run_phase(t, o, ops, ctx, o->count, deadline);
	res->elapsed_ns = bench_now_ns() - t0;
	if (!err)
		err = bench_cpu_sample(&c1, o->cpu);
	if (err)
		return err;
	res->c = t->c;
	res->requests = t->c.issued;
	res->stopped_early = res->requests < res->asked;
	res->cpu.self_us = c1.self_us - c0.self_us;
	res->cpu.machine_us = c1.machine_us - c0.machine_us;
	res->cpu.coord_cpu_us = c1.coord_cpu_us - c0.coord_cpu_us;
	bench_lat_stats(&t->lat, &res->lat);
	return 0;
}

uint64_t bench_errors(const struct bench_result *r)
{
	return r->requests > r->c.ok ? r->requests - r->c.ok : 0;
}

void bench_print_csv_header(void)
{
	puts("contender,fanout,mode,requests,inflight,mean_us,p50_us,p99_us,rps,"
	     "coord_cpu_us_per_req,machine_cpu_us_per_req,syscalls_per_req,errors,lost,"
	     "coord_cpu_ns_per_reply");
}

void bench_report(const struct bench_opts *o, const struct bench_result *r)
{
	double secs = r->elapsed_ns / 1e9;
	double rps = secs > 0 ? r->c.ok / secs : 0;
	double per = r->c.issued ? (double)r->c.issued : 1;
	double self = r->cpu.self_us / per, machine = r->cpu.machine_us / per;
	/* The coordinator's CPU (process and receive work) per reply received. */
	double replies = (double)r->c.ok * o->nworkers;
	double per_reply = replies > 0 ? r->cpu.coord_cpu_us * 1000.0 / replies : 0;

	if (o->csv_header)
		bench_print_csv_header();
	if (o->csv) {
		printf("%s,%u,%s,%" PRIu64 ",%u,%.2f,%.2f,%.2f,%.0f,%.2f,%.2f,,%" PRIu64 ",%" PRIu64
		       ",%.1f\n",
		       o->label, o->nworkers, o->mode, r->requests, o->inflight, r->lat.mean_us,
		       r->lat.p50_us, r->lat.p99_us, rps, self, machine, bench_errors(r),
		       r->c.timeouts, o->cpu >= 0 ? per_reply : 0);
		fflush(stdout);
	}
	fprintf(stderr,
		"%s: fanout %u, %u in flight: %" PRIu64 " requests in %.3f s, %" PRIu64
		" errors (timeouts %" PRIu64 ", mismatches %" PRIu64 ", bad replies %" PRIu64
		", send errors %" PRIu64 ", late replies %" PRIu64 "); latency mean %.1f p50 %.1f"
		" p99 %.1f us; %.0f req/s; CPU %.1f us/req own, %.1f us/req machine,"
		" %.0f ns/reply coordinator CPU\n",
		o->label, o->nworkers, o->inflight, r->requests, secs, bench_errors(r),
		r->c.timeouts, r->c.mismatches, r->c.bad_replies, r->c.send_errors, r->c.stale,
		r->lat.mean_us, r->lat.p50_us, r->lat.p99_us, rps, self, machine, per_reply);
	if (r->stopped_early)
		fprintf(stderr, "%s: --max-seconds %" PRIu64 " ended the run after %" PRIu64
			" of %" PRIu64 " requests; the figures are those of the requests that ran\n",
			o->label, o->max_seconds, r->requests, r->asked);
}

#define OPT_SOCKETS 512

static const struct option sockets_longopts[] = {
	{ "sockets", required_argument, NULL, OPT_SOCKETS },
	{ NULL, 0, NULL, 0 },
};

static int sockets_handle(int val, const char *arg, void *ctx)
{
	uint32_t *nsockets = ctx;
	char *end;
	unsigned long v;

	if (val != OPT_SOCKETS)
		return -EINVAL;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || v > BENCH_MAX_WORKERS)
		return -EINVAL;
	*nsockets = (uint32_t)v;
	return 0;
}

struct bench_extra_opts bench_sockets_option(uint32_t *nsockets)
{
	return (struct bench_extra_opts){
		.longopts = sockets_longopts,
		.handle = sockets_handle,
		.ctx = nsockets,
		.usage = "  --sockets S        spread workers over S sockets (default 0: one per worker)\n",
	};
}
