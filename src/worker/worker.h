/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The reference workers behind 'sgbpf worker' (the static library
 * sgbpf_worker): the options the command line fills in, and one entry point
 * per engine, callable in-process so that other commands (the demo,
 * benchmarks) can fork a worker farm without executing the binary again.
 */
#ifndef SGBPF_WORKER_WORKER_H
#define SGBPF_WORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "cli_common.h"
#include "reply_gen.h"

/* Most datagrams one reply may span (--packets). */
#define WORKER_MAX_PACKETS 1024u
/* Longest --delay-us: 10 s. */
#define WORKER_MAX_DELAY_US 10000000ull
/* Largest --reply-size: 64 MiB. */
#define WORKER_MAX_REPLY_SIZE (64u << 20)

struct worker_opts {
	struct cli_port_range *listen;	/* malloc'ed by worker_opts_add_listen() */
	uint32_t nlisten;
	struct reply_gen reply;
	uint32_t packets;		/* datagrams per reply, >= 1 */
	bool pad;			/* pad datagrams to SGBPF_UDP_MSG_LEN */
	bool quiet;			/* no ready line, no summary */
	bool duplicate;			/* send every reply twice */
	bool shuffle;			/* send a reply's packets in a random order */
	bool junk;			/* a 5-byte garbage datagram after each reply */
	bool stray;			/* a copy of each datagram from an unlisted port */
	uint64_t delay_us;		/* delay of every reply */
	bool ignore_first;		/* drop the first copy of each request a port gets */
	bool expect_allgather;		/* count all-gathers (type 2) instead of malformed */
	uint64_t count_limit;		/* stop after answering this many messages; 0: never */
	int cpu;			/* CPU to pin to; -1: none */
	bool xdp;			/* answer in the kernel (xdp_worker.c) */
	const char *dev;		/* --xdp: the interface the requests arrive on */
	/*
	 * --backend tcp (tcp_worker.c): one connection to connect per port
	 * of the listen ranges (given as --bind), each from its own source
	 * endpoint, answering with reply_size body bytes.
	 */
	bool tcp;
	bool has_connect;
	struct sgbpf_endpoint connect;
	uint32_t reply_size;
	bool has_silent;		/* some --silent-port was given */
	/*
	 * When >= 0, "ready\n" is written to this descriptor (which is then
	 * closed) once every port listens; for parents that fork a worker.
	 */
	int ready_fd;
	uint8_t silent[65536 / 8];	/* bit p: port p never answers */
};

/* Defaults: vector replies, one padded datagram each, no misbehaviour. */
void worker_opts_init(struct worker_opts *o);
/* Appends a listen range; returns 0 or -ENOMEM. */
int worker_opts_add_listen(struct worker_opts *o, const struct cli_port_range *r);
void worker_opts_free(struct worker_opts *o);

static inline void worker_opts_set_silent(struct worker_opts *o, uint16_t port)
{
	o->silent[port / 8] |= (uint8_t)(1u << (port % 8));
	o->has_silent = true;
}

static inline bool worker_opts_is_silent(const struct worker_opts *o, uint16_t port)
{
	return o->silent[port / 8] & (1u << (port % 8));
}

/*
 * The socket-based UDP worker (udp_worker.c): runs until SIGINT/SIGTERM or
 * the count limit, then prints the summary line (unless quiet).  Blocks
 * SIGINT and SIGTERM in the calling thread.  Returns a CLI exit code.
 */
int udp_worker_run(const struct worker_opts *o);

/*
 * The in-kernel worker (--xdp, xdp_worker.c): xdp_worker_check_opts()
 * returns -1 when the options suit it, else a CLI exit code after saying why;
 * xdp_worker_run() attaches the program to o->dev and runs until SIGINT or
 * SIGTERM, then prints its counters (unless quiet).  Returns a CLI exit code.
 */
int xdp_worker_check_opts(const struct worker_opts *o);
int xdp_worker_run(const struct worker_opts *o);

/*
 * The TCP workers (--backend tcp, tcp_worker.c), with the same
 * conventions: tcp_worker_check_opts() returns -1 when the options suit
 * them; tcp_worker_run() runs until SIGINT, SIGTERM or the count limit.
 */
int tcp_worker_check_opts(const struct worker_opts *o);
int tcp_worker_run(const struct worker_opts *o);

#endif /* SGBPF_WORKER_WORKER_H */
