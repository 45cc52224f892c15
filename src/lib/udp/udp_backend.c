// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * UDP backend, control half: load the embedded BPF programs, size and fill
 * their maps, map the request slots, attach TC egress (scatter) and XDP
 * (gather).  udp_io.c holds the request-path half.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <sgbpf/udp_state.h>

#include "attach.h"
#include "error.h"
#include "netdev.h"
#include "probe.h"
#include "service.h"
#include "sgbpf_udp.skel.h"
#include "reduce_obj.h"
#include "udp_backend.h"

/* IPv4 header without options (the service socket sets none) + UDP header. */
#define UDP_IP_OVERHEAD (20 + 8)
#define XDP_DROP_VERDICT 1
#define XDP_PASS_VERDICT 2


static const char *builtin_prog_name(enum sgbpf_reduce r)
{
	static const char *const names[__SGBPF_REDUCE_MAX] = {
		[SGBPF_REDUCE_SUM_U32] = "sgbpf_reduce_sum_u32",
		[SGBPF_REDUCE_SUM_U64] = "sgbpf_reduce_sum_u64",
		[SGBPF_REDUCE_SUM_I32] = "sgbpf_reduce_sum_i32",
		[SGBPF_REDUCE_SUM_I64] = "sgbpf_reduce_sum_i64",
		[SGBPF_REDUCE_MIN_U32] = "sgbpf_reduce_min_u32",
		[SGBPF_REDUCE_MIN_U64] = "sgbpf_reduce_min_u64",
		[SGBPF_REDUCE_MIN_I32] = "sgbpf_reduce_min_i32",
		[SGBPF_REDUCE_MIN_I64] = "sgbpf_reduce_min_i64",
		[SGBPF_REDUCE_MAX_U32] = "sgbpf_reduce_max_u32",
		[SGBPF_REDUCE_MAX_U64] = "sgbpf_reduce_max_u64",
		[SGBPF_REDUCE_MAX_I32] = "sgbpf_reduce_max_i32",
		[SGBPF_REDUCE_MAX_I64] = "sgbpf_reduce_max_i64",
		[SGBPF_REDUCE_OR_U32] = "sgbpf_reduce_or_u32",
		[SGBPF_REDUCE_AND_U32] = "sgbpf_reduce_and_u32",
		[SGBPF_REDUCE_OR_U64] = "sgbpf_reduce_or_u64",
		[SGBPF_REDUCE_AND_U64] = "sgbpf_reduce_and_u64",
	};

	return (unsigned int)r < __SGBPF_REDUCE_MAX ? names[r] : NULL;
}

/* Is name prog or its TC twin prog_tc? */
static bool is_variant(const char *name, const char *prog)
{
	size_t n = strlen(prog);

	return strncmp(name, prog, n) == 0 && (name[n] == '\0' || strcmp(name + n, "_tc") == 0);
}

/*
 * Loads only the reduction the service uses (both its XDP and TC variants:
 * which hook the gather gets is known only at attach time); the others stay
 * out of the kernel.
 */
static void select_builtin(struct sgbpf_udp *skel, enum sgbpf_reduce r)
{
	const char *want = builtin_prog_name(r);
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);

		if (strncmp(name, "sgbpf_reduce_", 13) == 0)
			bpf_program__set_autoload(prog, want && is_variant(name, want));
	}
}

_Static_assert(SGBPF_MAX_PACKETS == SGBPF_MAX_PACKETS_PER_REPLY, "one packet limit");

static int size_maps(struct sgbpf_udp *skel, uint32_t nslots, bool reduces, uint32_t nworkers,
		     uint32_t max_packets)
{
	/* Room for an event of every slot: a lost event would cost a timeout. */
	uint32_t ring = 1u << 16;
	int err;

	while (ring < nslots * 16u)	/* 8-byte header + 8-byte event */
		ring <<= 1;
	err = bpf_map__set_max_entries(skel->maps.sgbpf_slots, nslots);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.sgbpf_events, ring);
	/* Count-only services never fold, so they need no partials. */
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.sgbpf_partials,
					       reduces ? nslots * max_packets : 1);
	/* Chunk 0 of a result lives in its slot; multi-packet replies need the rest. */
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.sgbpf_chunks,
					       max_packets > 1 ? nslots * (max_packets - 1) : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.sgbpf_replies,
					       max_packets > 1 ? nslots * nworkers : 1);
	return err ? sgbpf_err(err, "cannot size the BPF maps: %s", strerror(-err)) : 0;
}

static int load_skeleton(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_buf = b->load_log,
		    .kernel_log_size = SGBPF_LOAD_LOG_BYTES);
	int err;

	b->skel = sgbpf_udp__open_opts(&oo);
	if (!b->skel)
		return sgbpf_err(-errno, "cannot open the embedded BPF object: %s", strerror(errno));
	select_builtin(b->skel, svc->reduce);
	err = size_maps(b->skel, svc->reqs.nslots, svc->reduce != SGBPF_REDUCE_COUNT,
			svc->nworkers, svc->max_packets);
	if (err)
		return err;

	err = sgbpf_udp__load(b->skel);
	if (err) {
		if (err == -EPERM)
			return sgbpf_err(err, "loading BPF programs needs CAP_BPF and CAP_NET_ADMIN "
					      "(or root)");
		sgbpf_err(err, "the kernel refused the BPF programs (%s)", strerror(-err));
		sgbpf_err_append_log_tail(b->load_log, SGBPF_LOAD_LOG_BYTES, 12);
		return err;
	}
	return 0;
}

/*
 * A custom reduction is a separate BPF object.  Its maps are the service's
 * maps under the same names (reused before load), so the kernel sees one
 * set of state whichever object a program came from.
 */
static bool is_udp_map(const char *name)
{
	return strncmp(name, "sgbpf_tcp_", 10) != 0;
}

static int load_custom(struct sgbpf_service *svc, struct sgbpf_udp_backend *b, const char *path,
		       const char *prog_name, uint32_t asked_elem_size, int *xdp_fd, int *tc_fd)
{
	struct bpf_program *progs[2];
	char tc_name[128];
	int err;

	if (prog_name)
		snprintf(tc_name, sizeof(tc_name), "%s_tc", prog_name);
	err = sgbpf_reduce_obj_open(path, b->load_log, SGBPF_LOAD_LOG_BYTES, &b->custom_obj);
	if (err)
		return err;
	err = sgbpf_reduce_obj_bind_maps(b->custom_obj, path, b->skel->obj, is_udp_map);
	if (err)
		return err;
	progs[0] = sgbpf_reduce_obj_prog(b->custom_obj, BPF_PROG_TYPE_XDP, prog_name);
	progs[1] = sgbpf_reduce_obj_prog(b->custom_obj, BPF_PROG_TYPE_SCHED_CLS,
					 prog_name ? tc_name : NULL);
	if ((!progs[0] && errno == EINVAL) || (!progs[1] && errno == EINVAL))
		return sgbpf_err(-EINVAL, "%s holds several reductions: name one "
					  "(reduce_prog)", path);
	if (!progs[0] || !progs[1])
		return sgbpf_err(-ENOENT, "%s lacks the XDP and TC programs of a reduction%s%s "
					  "(define it with SGBPF_ELEMENTWISE_REDUCER)",
				 path, prog_name ? " named " : "", prog_name ? prog_name : "");
	err = sgbpf_reduce_obj_check_abi(b->custom_obj, path, bpf_program__name(progs[0]),
					 asked_elem_size, &svc->elem_size);
	if (err)
		return err;
	/* The TCP verdict program of the same reduction is not verified here. */
	sgbpf_reduce_obj_keep(b->custom_obj, progs, 2);
	err = sgbpf_reduce_obj_load(b->custom_obj, path, b->load_log, SGBPF_LOAD_LOG_BYTES);
	if (err)
		return err;
	*xdp_fd = bpf_program__fd(progs[0]);
	*tc_fd = bpf_program__fd(progs[1]);
	return 0;
}

static int install_reducer(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
			   const struct sgbpf_service_opts *opts)
{
	struct bpf_program *xdp, *tc;
	char tc_name[64];
	uint32_t zero = 0;
	int xdp_fd, tc_fd, err;

	if (svc->reduce == SGBPF_REDUCE_COUNT)
		return 0;
	if (svc->reduce == SGBPF_REDUCE_CUSTOM) {
		if (!opts->reduce_obj)
			return sgbpf_err(-EINVAL, "a custom reduction needs reduce_obj");
		err = load_custom(svc, b, opts->reduce_obj, opts->reduce_prog,
				  opts->reduce_elem_size, &xdp_fd, &tc_fd);
		if (err)
			return err;
	} else {
		snprintf(tc_name, sizeof(tc_name), "%s_tc", builtin_prog_name(svc->reduce));
		xdp = bpf_object__find_program_by_name(b->skel->obj,
							builtin_prog_name(svc->reduce));
		tc = bpf_object__find_program_by_name(b->skel->obj, tc_name);
		if (!xdp || !tc)
			return sgbpf_err(-ENOENT, "built-in reduction %s missing",
					 sgbpf_reduce_name(svc->reduce));
		xdp_fd = bpf_program__fd(xdp);
		tc_fd = bpf_program__fd(tc);
	}
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.sgbpf_reducer), &zero, &xdp_fd,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(b->skel->maps.sgbpf_reducer_tc), &zero, &tc_fd,
				BPF_ANY))
		return sgbpf_err(-errno, "cannot install the reduction: %s", strerror(errno));
	return 0;
}

static int fill_workers(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	int wfd = bpf_map__fd(b->skel->maps.sgbpf_workers);
	int ifd = bpf_map__fd(b->skel->maps.sgbpf_worker_index);

	for (uint32_t i = 0; i < svc->nworkers; i++) {
		struct sgbpf_worker w = {
			.addr = svc->workers[i].addr,
			.port = htons(svc->workers[i].port),
		};
		struct sgbpf_worker_key k = { .addr = w.addr, .port = w.port };

		if (bpf_map_update_elem(wfd, &i, &w, BPF_ANY) ||
		    bpf_map_update_elem(ifd, &k, &i, BPF_NOEXIST))
			return sgbpf_err(-errno, "cannot register worker %u: %s", i,
					 strerror(errno));
	}
	return 0;
}

static int write_config(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	uint16_t ctrl_port = 0;
	struct sgbpf_config cfg = {
		.ifindex = b->ifindex,
		.nworkers = svc->nworkers,
		.slot_mask = svc->reqs.mask,
		.ncpus = libbpf_num_possible_cpus(),
		.port = htons(b->port),
		.fate = svc->fate == SGBPF_FATE_ALLOW ? XDP_PASS_VERDICT : XDP_DROP_VERDICT,
		.elem_size = svc->elem_size,
		.max_packets = svc->max_packets,
	};
	uint32_t zero = 0, es = svc->elem_size ? svc->elem_size : 1;

	/*
	 * The element size is known now, a custom reduction's included.  A
	 * count reads no body: its chunks default to the original workers'
	 * 363 u32, which is what they send.
	 */
	if (svc->chunk == 0)
		svc->chunk = svc->elem_size ? SGBPF_UDP_BODY_MAX / es * es : SGBPF_UDP_BODY_U32 * 4;
	if (svc->chunk > SGBPF_UDP_BODY_MAX || svc->chunk % es)
		return sgbpf_err(-EINVAL, "chunk_bytes %u must be a multiple of the element size "
					  "(%u) and at most %u", svc->chunk, es, SGBPF_UDP_BODY_MAX);
	cfg.chunk = svc->chunk;

	if (b->ctrl_sock >= 0) {
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);

		if (getsockname(b->ctrl_sock, (struct sockaddr *)&a, &alen))
			return -errno;
		ctrl_port = a.sin_port;
	}
	cfg.ctrl_port = ctrl_port;
	switch (svc->delivery) {
	case SGBPF_DELIVERY_RINGBUF:
	case SGBPF_DELIVERY_BLOCK:
		cfg.notify = SGBPF_NOTIFY_RINGBUF;
		break;
	case SGBPF_DELIVERY_CTRL_FD:
		cfg.notify = SGBPF_NOTIFY_CTRL;
		break;
	default:
		cfg.notify = SGBPF_NOTIFY_NONE;
		break;
	}
	if ((int)cfg.ncpus <= 0 || cfg.ncpus > SGBPF_MAX_CPUS)
		return sgbpf_err(-ERANGE, "%d possible CPUs; sgbpf supports up to %u",
				 (int)cfg.ncpus, SGBPF_MAX_CPUS);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.sgbpf_cfg), &zero, &cfg, BPF_ANY))
		return sgbpf_err(-errno, "cannot write the service configuration: %s",
				 strerror(errno));
	return 0;
}

/* Shares the request slots with the kernel: no system call to read results. */
static int map_slots(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	size_t page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)bpf_map__value_size(b->skel->maps.sgbpf_slots) * svc->reqs.nslots;

	if (bpf_map__value_size(b->skel->maps.sgbpf_slots) != sizeof(struct sgbpf_slot))
		return sgbpf_err(-EINVAL, "slot layout mismatch between library and BPF object");
	len = (len + page - 1) / page * page;
	b->slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(b->skel->maps.sgbpf_slots), 0);
	if (b->slots == MAP_FAILED) {
		b->slots = NULL;
		return sgbpf_err(-errno, "cannot map the request slots: %s", strerror(errno));
	}
	b->slots_len = len;
	if (svc->max_packets <= 1)
		return 0;
	/* Chunks 1.. of multi-packet results, and room to lay a result out whole. */
	len = (size_t)bpf_map__value_size(b->skel->maps.sgbpf_chunks) * svc->reqs.nslots *
	      (svc->max_packets - 1);
	len = (len + page - 1) / page * page;
	b->chunks = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bpf_map__fd(b->skel->maps.sgbpf_chunks), 0);
	if (b->chunks == MAP_FAILED) {
		b->chunks = NULL;
		return sgbpf_err(-errno, "cannot map the result chunks: %s", strerror(errno));
	}
	b->chunks_len = len;
	b->result_buf = malloc((size_t)svc->max_packets * svc->chunk);
	return b->result_buf ? 0 : -ENOMEM;
}

/*
 * Gather first: replies must be caught before any scatter can go out.  XDP
 * when the hook is free; with SGBPF_XDP_AUTO, TC ingress when another
 * program holds it (sgbpf_attach_xdp() refuses to replace it: -EBUSY).
 */
static int attach_gather(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
			 enum sgbpf_xdp_mode mode)
{
	bool native = false;
	int err;

	if (mode != SGBPF_XDP_OFF) {
		err = sgbpf_attach_xdp(bpf_program__fd(b->skel->progs.sgbpf_gather), b->ifindex,
				       mode == SGBPF_XDP_AUTO ? SGBPF_XDP_AUTO : mode, &b->gather,
				       &native);
		if (!err) {
			svc->info.xdp_native = native;
			svc->info.gather_hook = native ? SGBPF_GATHER_XDP_NATIVE :
							 SGBPF_GATHER_XDP_GENERIC;
			return 0;
		}
		if (mode != SGBPF_XDP_AUTO || (err != -EBUSY && err != -EOPNOTSUPP))
			return err;
	}
	svc->info.gather_hook = SGBPF_GATHER_TC_INGRESS;
	return sgbpf_attach_tc(bpf_program__fd(b->skel->progs.sgbpf_gather_tc), b->ifindex,
			       SGBPF_TC_INGRESS, &b->gather);
}

static int attach_programs(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
			   enum sgbpf_xdp_mode mode)
{
	int err = attach_gather(svc, b, mode);

	if (err)
		return err;
	return sgbpf_attach_tc(bpf_program__fd(b->skel->progs.sgbpf_scatter), b->ifindex,
			       SGBPF_TC_EGRESS, &b->scatter);
}

/*
 * Per-CPU partial results cost slots x possible CPUs x sizeof(struct
 * sgbpf_partial) bytes of kernel memory (x max_packets): 24 MiB for 8192
 * slots on two CPUs, 1.5 GiB on 128.  Multi-packet services also hold a
 * reply record per slot and worker (8192 x 1024 of them would be 256 MiB)
 * and max_packets - 1 result chunks per slot.  When the caller leaves the
 * in-flight limit to us, a service stays within this budget (but keeps at
 * least 64 slots).
 */
#define PARTIALS_BUDGET (32ull << 20)
#define MIN_DEFAULT_INFLIGHT 64u

static uint32_t udp_default_inflight(const struct sgbpf_service *svc,
				     const struct sgbpf_service_opts *opts)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t per_slot = 0;
	uint32_t n = SGBPF_DEFAULT_INFLIGHT;

	(void)opts;	/* nothing in them changes the UDP budget */

	if (ncpus <= 0)
		return n;
	/* Count-only services have no partials. */
	if (svc->reduce != SGBPF_REDUCE_COUNT)
		per_slot += (uint64_t)ncpus * sizeof(struct sgbpf_partial) * svc->max_packets;
	if (svc->max_packets > 1)
		per_slot += (uint64_t)svc->nworkers * sizeof(struct sgbpf_reply) +
			    (uint64_t)(svc->max_packets - 1) * sizeof(struct sgbpf_chunk);
	while (n > MIN_DEFAULT_INFLIGHT && n * per_slot > PARTIALS_BUDGET)
		n >>= 1;
	return n;
}

/* The kernel's memlock figure for a map, from /proc/self/fdinfo; 0 if unknown. */
static uint64_t map_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Kernel memory held by the service's maps (a custom object's own ones too). */
static uint64_t kernel_bytes(const struct sgbpf_udp_backend *b)
{
	const struct bpf_map *map;
	uint64_t sum = 0;

	bpf_object__for_each_map(map, b->skel->obj)
		sum += map_memlock(bpf_map__fd(map));
	if (b->custom_obj)
		bpf_object__for_each_map(map, b->custom_obj)
			if (strncmp(bpf_map__name(map), "sgbpf_", 6) != 0)
				sum += map_memlock(bpf_map__fd(map));
	return sum;
}

static void udp_destroy(struct sgbpf_service *svc)
{
	struct sgbpf_udp_backend *b = svc->backend;

	if (!b)
		return;
	/* Reverse order of creation: stop traffic first, then free state. */
	sgbpf_detach(b->scatter);
	sgbpf_detach(b->gather);
	sgbpf_udp_io_close(svc, b);
	if (b->slots)
		munmap(b->slots, b->slots_len);
	if (b->chunks)
		munmap(b->chunks, b->chunks_len);
	free(b->result_buf);
	bpf_object__close(b->custom_obj);
	sgbpf_udp__destroy(b->skel);
	free(b->load_log);
	free(b);
	svc->backend = NULL;
}

/*
 * The TCP backend's options mean nothing here; given to a UDP service they
 * are a mistake to report, not to ignore.
 */
static int check_foreign_opts(const struct sgbpf_service_opts *opts)
{
	if (OPTS_HAS(opts, listen) &&
	    (opts->listen.addr || opts->listen.port || opts->listen.family))
		return sgbpf_err(-EINVAL, "listen is an option of the TCP backend (a UDP service "
				 "sends from its port)");
	if (OPTS_GET(opts, connect_timeout_ms, 0) || OPTS_GET(opts, max_reply, 0))
		return sgbpf_err(-EINVAL, "%s is an option of the TCP backend",
				 OPTS_GET(opts, max_reply, 0) ? "max_reply" : "connect_timeout_ms");
	return 0;
}

static int udp_create(struct sgbpf_service *svc, const struct sgbpf_service_opts *opts)
{
	const char *ifname = opts->ifname ? opts->ifname : "lo";
	struct sgbpf_udp_backend *b;
	struct sgbpf_netdev dev;
	int err;

	err = check_foreign_opts(opts);
	if (err)
		return err;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->sock = -1;
	b->ctrl_sock = -1;
	b->ev_fd = -1;
	b->link_sock = -1;
	b->kick_fd = -1;
	svc->backend = b;

	err = sgbpf_netdev_open(ifname, &dev);
	if (err)
		goto err;
	if (!dev.up) {
		err = sgbpf_err(-ENETDOWN, "interface %s is down (sgbpf setup --dev %s brings it up)",
				ifname, ifname);
		goto err;
	}
	/*
	 * IPv4 + UDP headers plus the largest message must fit one frame: the
	 * padded 1472-byte replies of the original workers need a 1500-byte MTU.
	 * A scatter is the message alone (header and body, nothing appended), so
	 * the largest body is what the MTU leaves after the headers; a larger
	 * one would leave as IP fragments, which TC egress drops.
	 */
	if (dev.mtu < UDP_IP_OVERHEAD + SGBPF_UDP_MSG_LEN) {
		err = sgbpf_err(-EMSGSIZE, "MTU of %s is %u; sgbpf's UDP messages need %u",
				ifname, dev.mtu, UDP_IP_OVERHEAD + SGBPF_UDP_MSG_LEN);
		goto err;
	}
	svc->mtu = dev.mtu;
	svc->body_max = dev.mtu - UDP_IP_OVERHEAD - SGBPF_HDR_LEN;
	if (svc->body_max > SGBPF_UDP_BODY_MAX)
		svc->body_max = SGBPF_UDP_BODY_MAX;
	b->ifindex = dev.ifindex;
	b->mtu_min = 20 + 8 + SGBPF_UDP_MSG_LEN;
	svc->info.ifindex = dev.ifindex;

	/* A custom reduction's element size comes from its object (install_reducer). */
	svc->elem_size = sgbpf_reduce_elem_size(svc->reduce);

	err = sgbpf_probe_udp_backend();
	if (!err) {
		b->load_log = malloc(SGBPF_LOAD_LOG_BYTES);
		if (!b->load_log)
			err = -ENOMEM;
		else
			b->load_log[0] = '\0';
	}
	if (!err)
		err = load_skeleton(svc, b);
	/* Before the configuration: it carries the reduction's element size. */
	if (!err)
		err = install_reducer(svc, b, opts);
	/* Loading is over: the log buffer goes. */
	free(b->load_log);
	b->load_log = NULL;
	if (!err)
		err = sgbpf_udp_io_open(svc, b, opts);
	if (!err)
		err = write_config(svc, b);
	if (!err)
		err = fill_workers(svc, b);
	if (!err)
		err = map_slots(svc, b);
	if (!err)
		err = sgbpf_udp_io_start(svc, b);
	if (!err)
		err = attach_programs(svc, b, opts->xdp_mode);
	if (err)
		goto err;
	svc->info.port = b->port;
	svc->info.kernel_bytes = kernel_bytes(b);
	return 0;
err:
	udp_destroy(svc);
	return err;
}

static int udp_stats(const struct sgbpf_service *svc, struct sgbpf_stats *out)
{
	const struct sgbpf_udp_backend *b = svc->backend;
	int ncpus = libbpf_num_possible_cpus(), fd = bpf_map__fd(b->skel->maps.sgbpf_stats);
	uint64_t sums[__SGBPF_STAT_MAX] = {};
	uint64_t *vals;

	if (ncpus <= 0)
		return ncpus;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < __SGBPF_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			free(vals);
			return -errno;
		}
		for (int c = 0; c < ncpus; c++)
			sums[k] += vals[c];
	}
	free(vals);
	out->scatters = sums[SGBPF_STAT_SCATTERS];
	out->clones = sums[SGBPF_STAT_CLONES];
	out->folded = sums[SGBPF_STAT_FOLDED];
	out->completed = sums[SGBPF_STAT_COMPLETED];
	out->duplicates = sums[SGBPF_STAT_DUPLICATES];
	out->unknown_src = sums[SGBPF_STAT_UNKNOWN_SRC];
	out->malformed = sums[SGBPF_STAT_MALFORMED] + sums[SGBPF_STAT_SCATTER_ERRORS];
	out->stale = sums[SGBPF_STAT_STALE];
	out->surplus = sums[SGBPF_STAT_SURPLUS];
	out->unsolicited = sums[SGBPF_STAT_UNSOLICITED];
	out->scatter_fragments = sums[SGBPF_STAT_SCATTER_FRAGMENTS];
	out->clone_failures = sums[SGBPF_STAT_CLONE_FAILURES];
	out->retry_copies = sums[SGBPF_STAT_RETRY_COPIES];
	out->retry_idle = sums[SGBPF_STAT_RETRY_IDLE];
	out->allgather_copies = sums[SGBPF_STAT_ALLGATHER_COPIES];
	out->events_lost = sums[SGBPF_STAT_EVENTS_LOST];
	out->wakeups_skipped = sums[SGBPF_STAT_WAKEUPS_SKIPPED];
	return 0;
}

const struct sgbpf_backend_ops sgbpf_udp_backend = {
	.name = "udp",
	.create = udp_create,
	.destroy = udp_destroy,
	.slot_view = sgbpf_udp_slot_view,
	.slot_close = sgbpf_udp_slot_close,
	.slot_result = sgbpf_udp_slot_result,
	.scatter = sgbpf_udp_scatter,
	.stage = sgbpf_udp_stage,
	.launch = sgbpf_udp_launch,
	.rescatter = sgbpf_udp_rescatter,
	.allgather = sgbpf_udp_allgather,
	.reap = sgbpf_udp_reap,
	.wait_events = sgbpf_udp_wait_events,
	.responses = sgbpf_udp_responses,
	.release_responses = sgbpf_udp_release_responses,
	.rx_count = sgbpf_udp_rx_count,
	.stats = udp_stats,
	.default_inflight = udp_default_inflight,
	.maintain = sgbpf_udp_maintain,
};
