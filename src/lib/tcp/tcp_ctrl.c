// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP backend, control-fd delivery: the AF_UNIX datagram socket that the
 * stream program redirects completion notes into (bpf-tcp/stream_notify.bpf.h),
 * and their reading.
 *
 * The socket sits in the stream program's sockmap, so what reaches it is
 * read through the sockmap's receive path, which joins queued notes into
 * one byte stream: one recv() takes every note queued (up to the buffer),
 * and a note may end in the next recv().  Each note says its length; the
 * reader keeps its place across reads.
 *
 * Nothing depends on a note arriving: the core's periodic look at the slots
 * finds completions whose note is late (a full socket holds redirected
 * notes back until it is read) or was never made, and counts them as
 * unannounced; a note for a request already reported is ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "error.h"
#include "service.h"
#include "stream.h"
#include "tcp_backend.h"

/* One recv() takes this much: many small notes, or a part of a large one. */
#define CTRL_BUF	(64u * 1024)
#define NOTE_HEAD	((uint32_t)sizeof(struct sgbpf_tcp_note))
#define NOTE_MAX_HEAD	(NOTE_HEAD + SGBPF_TCP_NOTE_IDS * (uint32_t)sizeof(uint32_t))

int sgbpf_tcp_ctrl_open(struct sgbpf_tcp_backend *b)
{
	struct tcp_ctrl *c = &b->ctrl;
	int pair[2], err;

	c->buf = malloc(CTRL_BUF);
	if (!c->buf)
		return -ENOMEM;
	/*
	 * A connected pair: the sockmap redirects only to a datagram socket in
	 * the established state.  The peer is kept, unused, so that the state
	 * stays, and so that nothing else can send to the control socket.
	 */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair))
		return sgbpf_err(-errno, "cannot open the control socket: %s", strerror(errno));
	c->fd = pair[0];
	c->peer = pair[1];
	err = sgbpf_tcp_stream_set_ctrl(b->stream, c->fd);
	if (err)
		return sgbpf_err(err, "cannot put the control socket in the sockmap: %s",
				 strerror(-err));
	return 0;
}

void sgbpf_tcp_ctrl_close(struct sgbpf_tcp_backend *b)
{
	struct tcp_ctrl *c = &b->ctrl;

	/* Out of the map before it closes, like every sockmap socket. */
	if (c->fd >= 0) {
		sgbpf_tcp_stream_set_ctrl(b->stream, -1);
		close(c->fd);
	}
	if (c->peer >= 0)
		close(c->peer);
	c->fd = -1;
	c->peer = -1;
	free(c->buf);
	c->buf = NULL;
}

/* A note whose head does not parse: the stream is lost; the scan takes over. */
static void ctrl_desync(struct sgbpf_service *svc, struct tcp_ctrl *c)
{
	c->bad++;
	c->have = 0;
	c->skip = 0;
	c->lost = true;
	sgbpf_service_lost_events(svc);
}

/* The head and ids of one note are gathered: report its requests. */
static void ctrl_note(struct sgbpf_service *svc, struct tcp_ctrl *c,
		      const struct sgbpf_tcp_note *h)
{
	uint32_t id;

	c->notes++;
	for (uint32_t i = 0; i < h->nreq; i++) {
		memcpy(&id, c->head + NOTE_HEAD + i * sizeof(id), sizeof(id));
		c->ids++;
		sgbpf_service_on_complete(svc, id);
	}
	c->skip = h->len - NOTE_HEAD - h->nreq * (uint32_t)sizeof(id);
	c->have = 0;
}

/* Parses n bytes of the note stream. */
static void ctrl_parse(struct sgbpf_service *svc, struct tcp_ctrl *c, const uint8_t *p, size_t n)
{
	struct sgbpf_tcp_note h;
	uint32_t want, m;

	while (n && !c->lost) {
		if (c->skip) {
			m = c->skip < n ? c->skip : (uint32_t)n;
			c->skip -= m;
			p += m;
			n -= m;
			continue;
		}
		/* The head first; checked before it says how many ids follow. */
		want = NOTE_HEAD;
		if (c->have >= NOTE_HEAD) {
			memcpy(&h, c->head, sizeof(h));
			want = NOTE_HEAD + h.nreq * (uint32_t)sizeof(uint32_t);
		}
		m = want - c->have < n ? want - c->have : (uint32_t)n;
		memcpy(c->head + c->have, p, m);
		c->have += m;
		p += m;
		n -= m;
		if (c->have < want)
			continue;
		memcpy(&h, c->head, sizeof(h));
		if (h.magic != SGBPF_TCP_NOTE_MAGIC || h.nreq == 0 || h.nreq > SGBPF_TCP_NOTE_IDS ||
		    h.len < NOTE_HEAD + h.nreq * sizeof(uint32_t)) {
			ctrl_desync(svc, c);
			return;
		}
		if (c->have == NOTE_HEAD + h.nreq * sizeof(uint32_t))
			ctrl_note(svc, c, &h);
	}
}

int sgbpf_tcp_ctrl_drain(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	struct tcp_ctrl *c = &b->ctrl;
	uint64_t before = c->notes;
	ssize_t n;

	if (c->fd < 0)
		return 0;
	/* A short read means the queue is empty: no second recv() to learn it. */
	do {
		n = recv(c->fd, c->buf, CTRL_BUF, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? (int)(c->notes - before) : -errno;
		c->recvs++;
		ctrl_parse(svc, c, c->buf, (size_t)n);
	} while (n == CTRL_BUF);
	return (int)(c->notes - before);
}
