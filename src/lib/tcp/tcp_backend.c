// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP backend, control half: the steering program with one listener per
 * worker, the stream program of the service's reduction, the request slots
 * as the core sees them, and the counters.  tcp_io.c holds the sockets'
 * half.  docs/tcp.md describes the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "error.h"
#include "service.h"
#include "steer.h"
#include "stream.h"
#include "tcp_backend.h"


/*
 * Results cost slots x max_reply bytes of kernel memory.  When the caller
 * leaves the in-flight limit to us, a service stays within this budget
 * (but keeps at least 16 slots, e.g. 64 at 1 MiB replies).
 */
#define RESULTS_BUDGET (64ull << 20)
#define MIN_DEFAULT_INFLIGHT 16u
/* The stream driver's limit on slots. */
#define TCP_MAX_SLOTS 65536u

static uint32_t tcp_max_reply(const struct sgbpf_service_opts *opts)
{
	uint32_t m = OPTS_GET(opts, max_reply, 0);

	return m ? m : SGBPF_TCP_DEFAULT_MAX_REPLY;
}

static uint32_t tcp_default_inflight(const struct sgbpf_service *svc,
				     const struct sgbpf_service_opts *opts)
{
	uint64_t per_slot = tcp_max_reply(opts);
	uint32_t n = SGBPF_DEFAULT_INFLIGHT;

	while (n > MIN_DEFAULT_INFLIGHT && n * per_slot > RESULTS_BUDGET)
		n >>= 1;
	/* Fate allow also keeps a copy of every reply of every request in flight. */
	if (svc->fate == SGBPF_FATE_ALLOW)
		while (n > 1 && sgbpf_tcp_rx_bytes(n, svc->nworkers, per_slot) >
				SGBPF_TCP_RX_BUDGET)
			n >>= 1;
	return n;
}

/* Refuses what the TCP backend does not do (yet), each with its reason. */
static int check_opts(const struct sgbpf_service *svc, const struct sgbpf_service_opts *opts)
{
	const struct sgbpf_endpoint *l = OPTS_HAS(opts, listen) ? &opts->listen : NULL;

	if (!l || !l->addr || !l->port)
		return sgbpf_err(-EINVAL, "a TCP service needs the address and port it listens on "
				 "(sgbpf_service_opts.listen)");
	if (l->family && l->family != AF_INET)
		return sgbpf_err(-EAFNOSUPPORT, "listen: address family %u is not supported (IPv4 "
				 "only in this version)", l->family);
	if (svc->nworkers > SGBPF_TCP_MAX_WORKERS)
		return sgbpf_err(-E2BIG, "%u workers; a TCP service takes at most %u",
				 svc->nworkers, SGBPF_TCP_MAX_WORKERS);
	/*
	 * A note is the skb that completed the request, redirected to the
	 * control socket instead of being dropped; with fate allow that skb's
	 * bytes belong to the application (docs/tcp.md).
	 */
	if (svc->delivery == SGBPF_DELIVERY_CTRL_FD && svc->fate == SGBPF_FATE_ALLOW)
		return sgbpf_err(-EOPNOTSUPP, "the TCP backend cannot combine control-fd delivery "
				 "with fate allow: its completion notes are made of bytes the "
				 "application would read; use fate discard, or ringbuf, block or "
				 "busy-wait delivery");
	/* The UDP backend's options: a TCP service has no interface of its own. */
	if (OPTS_GET(opts, ifname, NULL) || OPTS_GET(opts, xdp_mode, SGBPF_XDP_AUTO) ||
	    OPTS_GET(opts, port, 0) || OPTS_GET(opts, max_packets, 0) > 1 ||
	    OPTS_GET(opts, chunk_bytes, 0))
		return sgbpf_err(-EINVAL, "%s is an option of the UDP backend (a TCP service listens "
				 "on listen, its replies are streams of any size up to max_reply)",
				 OPTS_GET(opts, ifname, NULL) ? "ifname" :
				 OPTS_GET(opts, xdp_mode, SGBPF_XDP_AUTO) ? "xdp_mode" :
				 OPTS_GET(opts, port, 0) ? "port" :
				 OPTS_GET(opts, max_packets, 0) > 1 ? "max_packets" : "chunk_bytes");
	if (tcp_max_reply(opts) > (1u << 30))
		return sgbpf_err(-EINVAL, "max_reply %u is above 1 GiB", tcp_max_reply(opts));
	return 0;
}

static void tcp_destroy(struct sgbpf_service *svc)
{
	struct sgbpf_tcp_backend *b = svc->backend;

	if (!b)
		return;
	/* Connections first (out of the sockmap, then closed), then the programs. */
	sgbpf_tcp_io_close(svc, b);
	sgbpf_tcp_stream_destroy(b->stream);
	sgbpf_tcp_steer_destroy(b->steer);
	free(b);
	svc->backend = NULL;
}

static int tcp_create(struct sgbpf_service *svc, const struct sgbpf_service_opts *opts)
{
	struct sgbpf_tcp_stream_opts so = { .sz = sizeof(so) };
	struct sgbpf_tcp_backend *b;
	char addr[INET_ADDRSTRLEN];
	int err;

	err = check_opts(svc, opts);
	if (err)
		return err;
	if (svc->reqs.nslots > TCP_MAX_SLOTS)
		return sgbpf_err(-EINVAL, "%u request slots; the TCP backend takes at most %u",
				 svc->reqs.nslots, TCP_MAX_SLOTS);
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->ev_fd = -1;
	b->ctrl.fd = -1;
	b->ctrl.peer = -1;
	b->max_reply = tcp_max_reply(opts);
	b->connect_timeout_ms = OPTS_GET(opts, connect_timeout_ms, 0);
	if (!b->connect_timeout_ms)
		b->connect_timeout_ms = SGBPF_TCP_DEFAULT_CONNECT_MS;
	svc->backend = b;
	b->svc = svc;
	svc->elem_size = sgbpf_reduce_elem_size(svc->reduce);
	svc->body_max = SGBPF_TCP_SCATTER_MAX;
	svc->mtu = 0;

	err = sgbpf_tcp_steer_create(&opts->listen, svc->workers, svc->nworkers, &b->steer);
	if (err) {
		inet_ntop(AF_INET, &opts->listen.addr, addr, sizeof(addr));
		err = sgbpf_err(err, "cannot set up TCP steering for %s:%u: %s%s", addr,
				opts->listen.port, strerror(-err),
				err == -EADDRNOTAVAIL ? " (not a local address)" :
				err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN, or root)" : "");
		goto fail;
	}
	so.reduce = svc->reduce;
	so.reduce_obj = OPTS_GET(opts, reduce_obj, NULL);
	so.reduce_prog = OPTS_GET(opts, reduce_prog, NULL);
	so.reduce_elem_size = OPTS_GET(opts, reduce_elem_size, 0);
	so.slots = svc->reqs.nslots;
	so.max_reply = b->max_reply;
	so.fate_pass = svc->fate == SGBPF_FATE_ALLOW;
	so.ctrl_notes = svc->delivery == SGBPF_DELIVERY_CTRL_FD;
	err = sgbpf_tcp_stream_create(&so, &b->stream);
	/* A custom object's refusal already says what is wrong with it. */
	if (err && svc->reduce == SGBPF_REDUCE_CUSTOM)
		goto fail;
	if (err) {
		err = sgbpf_err(err, "cannot load the TCP stream program: %s%s", strerror(-err),
				err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN, or root)" : "");
		goto fail;
	}
	if (svc->reduce == SGBPF_REDUCE_CUSTOM)
		svc->elem_size = sgbpf_tcp_stream_elem_size(b->stream);
	err = sgbpf_tcp_io_open(svc, b);
	if (err)
		goto fail;
	if (svc->delivery != SGBPF_DELIVERY_BUSY_WAIT)
		svc->notify_fd = b->ev_fd;
	svc->info.port = opts->listen.port;
	svc->info.ifindex = 0;
	svc->info.kernel_bytes = (uint64_t)svc->reqs.nslots *
				 ((b->max_reply + SGBPF_TCP_CHUNK - 1) / SGBPF_TCP_CHUNK) *
				 SGBPF_TCP_CHUNK;
	return 0;
fail:
	tcp_destroy(svc);
	return err;
}

static int tcp_stats(const struct sgbpf_service *svc, struct sgbpf_stats *out)
{
	const struct sgbpf_tcp_backend *b = svc->backend;
	uint64_t s[__SGBPF_TCP_STREAM_STATS], st[__SGBPF_TCP_STEER_STATS];
	int err;

	err = sgbpf_tcp_stream_stats(b->stream, s);
	if (!err)
		err = sgbpf_tcp_steer_stats(b->steer, st);
	if (err)
		return err;
	out->scatters = b->requests;
	out->clones = b->sends;
	out->clone_failures = b->send_failures;
	out->folded = s[SGBPF_TCP_S_FOLDED];
	out->completed = s[SGBPF_TCP_S_COMPLETED];
	out->duplicates = s[SGBPF_TCP_S_DUPLICATES];
	out->stale = s[SGBPF_TCP_S_STALE];
	out->surplus = s[SGBPF_TCP_S_SURPLUS];
	out->unsolicited = s[SGBPF_TCP_S_UNSOLICITED];
	out->malformed = s[SGBPF_TCP_S_PROTO_ERRORS] + s[SGBPF_TCP_S_FRAMING_ERRORS];
	/* Over TCP an unknown source never gets a socket: its SYN is refused. */
	out->unknown_src = st[SGBPF_TCP_REFUSED];
	/* Control fd: completions no note carried, or whose notes did not parse. */
	if (b->ctrl.fd >= 0)
		out->events_lost = s[SGBPF_TCP_S_UNNOTED] + b->ctrl.bad;
	out->conn_resets = b->resets;
	out->reconnects = b->reconnects;
	return 0;
}

const struct sgbpf_backend_ops sgbpf_tcp_backend = {
	.name = "tcp",
	.create = tcp_create,
	.destroy = tcp_destroy,
	.slot_view = sgbpf_tcp_slot_view,
	.slot_close = sgbpf_tcp_slot_close,
	.slot_result = sgbpf_tcp_slot_result,
	.scatter = sgbpf_tcp_scatter,
	.reap = sgbpf_tcp_reap,
	.wait_events = sgbpf_tcp_wait_events,
	.responses = sgbpf_tcp_responses,
	.release_responses = sgbpf_tcp_release_responses,
	.rx_count = sgbpf_tcp_rx_count,
	.rx_lost = sgbpf_tcp_rx_lost,
	.stats = tcp_stats,
	.default_inflight = tcp_default_inflight,
};
