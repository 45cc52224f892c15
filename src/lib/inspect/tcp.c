// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP services as the kernel sees them (inspect.h).  Each has one anchor
 * that says which namespace it serves: the netns bpf_link of its
 * sgbpf_steer program.  Links are walked by id and those attached to the
 * calling thread's namespace are kept; tcp_maps.c reads their details.
 *
 * The verdict program hangs on a sockmap with no link, so nothing in the
 * kernel ties it to a steer program: the two are paired through the
 * process that holds both (the /proc walk of owners.c).  A process may run
 * several services; the TCP backend creates a service's steer program just
 * before its verdict program, so each steer program, in id order, takes the
 * lowest unpaired verdict program above it that its owner holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "error.h"
#include "inspect/inspect_priv.h"

#define MAX_PROG_MAPS 16

/* A verdict program seen in the system, and the first process holding it. */
struct verdict {
	uint32_t prog_id;
	uint32_t sockmap_id;
	char name[32];
	pid_t holder;		/* 0: none seen */
	bool paired;
};

struct tcp_scan {
	__u64 ns_ino;		/* the calling thread's network namespace */
	struct sgbpf_inspect_tcp_list out;
	size_t cap;
	struct verdict *v;
	size_t nv, vcap;
};

void sgbpf_inspect_tcp_free(struct sgbpf_inspect_tcp_list *l)
{
	free(l->svc);
	l->svc = NULL;
	l->n = 0;
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 4;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, c * size);
	if (!p)
		return sgbpf_err(-ENOMEM, "out of memory");
	*arr = p;
	*cap = c;
	return 0;
}

/* The id of the map among ids[] whose name is full's, or 0. */
static uint32_t map_named(const uint32_t *ids, uint32_t nids, const char *full)
{
	for (uint32_t i = 0; i < nids; i++) {
		char name[16];

		if (!sgbpf_inspect_map_name(ids[i], name, sizeof(name)) &&
		    sgbpf_inspect_name_is(name, full))
			return ids[i];
	}
	return 0;
}

/* Keeps link id when it attaches sgbpf_steer to the scan's namespace. */
static int link_consider(void *ctx, uint32_t id)
{
	struct tcp_scan *s = ctx;
	struct bpf_link_info li;
	struct bpf_prog_info pi;
	struct sgbpf_inspect_tcp *t;
	uint32_t ids[MAX_PROG_MAPS], nids = MAX_PROG_MAPS;
	int err = sgbpf_inspect_link_info(id, &li, sizeof(li));

	if (err)
		return err == -ENOENT ? 0 : err;	/* gone meanwhile */
	/* A link detached by force keeps existing with no namespace (inode 0). */
	if (li.type != BPF_LINK_TYPE_NETNS || li.netns.attach_type != BPF_SK_LOOKUP ||
	    li.netns.netns_ino != s->ns_ino)
		return 0;
	err = sgbpf_inspect_prog_maps(li.prog_id, &pi, ids, &nids);
	if (err)
		return err == -ENOENT ? 0 : err;
	/* A program that merely shares the name has no worker table of ours. */
	if (strcmp(pi.name, "sgbpf_steer") || !map_named(ids, nids, "sgbpf_tcp_workers"))
		return 0;
	err = grow((void **)&s->out.svc, &s->cap, s->out.n, sizeof(*s->out.svc));
	if (err)
		return err;
	t = &s->out.svc[s->out.n++];
	memset(t, 0, sizeof(*t));
	t->link_id = id;
	t->steer_prog_id = li.prog_id;
	t->connected = -1;
	snprintf(t->reduce, sizeof(t->reduce), "?");
	sgbpf_inspect_tcp_read_steer(t, ids, nids);
	return 0;
}

static int links_walk(struct tcp_scan *s)
{
	struct stat st;

	/* thread-self: the namespace this thread is in, which may not be the process's. */
	if (stat("/proc/thread-self/ns/net", &st))
		return sgbpf_err(-errno, "cannot read this thread's network namespace: %s",
				 strerror(errno));
	s->ns_ino = st.st_ino;
	return sgbpf_inspect_for_each_link(link_consider, s);
}

/* Keeps program id when it is one of our sk_skb verdict programs. */
static int prog_consider(struct tcp_scan *s, uint32_t id)
{
	uint32_t ids[MAX_PROG_MAPS], nids = MAX_PROG_MAPS, sockmap;
	struct bpf_prog_info pi;
	struct verdict *v;
	int err = sgbpf_inspect_prog_maps(id, &pi, ids, &nids);

	if (err)
		return err == -ENOENT ? 0 : err;
	/* Built-in (sgbpf_tcp_*) or a custom NAME_tcp: what makes it ours is the map. */
	if (pi.type != BPF_PROG_TYPE_SK_SKB)
		return 0;
	sockmap = map_named(ids, nids, "sgbpf_tcp_socks");
	if (!sockmap)
		return 0;
	err = grow((void **)&s->v, &s->vcap, s->nv, sizeof(*s->v));
	if (err)
		return err;
	v = &s->v[s->nv++];
	memset(v, 0, sizeof(*v));
	v->prog_id = id;
	v->sockmap_id = sockmap;
	sgbpf_inspect_prog_full_name(id, v->name, sizeof(v->name));
	return 0;
}

static int progs_walk(struct tcp_scan *s)
{
	__u32 id = 0;
	int err;

	for (;;) {
		if (bpf_prog_get_next_id(id, &id))
			return errno == ENOENT ? 0 : sgbpf_err(-errno, "cannot list BPF programs: %s",
							       strerror(errno));
		err = prog_consider(s, id);
		if (err)
			return sgbpf_err(err, "cannot read BPF program %u: %s", id, strerror(-err));
	}
}

/* For the /proc walk: link holders own a service; verdict holders are noted. */
static void on_bpf_fd(void *ctx, pid_t pid, uint32_t link_id, uint32_t prog_id)
{
	struct tcp_scan *s = ctx;

	for (size_t i = 0; link_id && i < s->out.n; i++) {
		struct sgbpf_inspect_tcp *t = &s->out.svc[i];

		if (t->link_id == link_id)
			sgbpf_inspect_owner_add(t->owners, &t->nowners, &t->more_owners, pid);
	}
	for (size_t i = 0; !link_id && i < s->nv; i++)
		if (s->v[i].prog_id == prog_id && !s->v[i].holder)
			s->v[i].holder = pid;
}

/*
 * "sgbpf_tcp_sum_u32" prints as "sum-u32", as the UDP reductions do; a
 * custom reduction's NAME_tcp as "custom:NAME", the name it was defined with.
 */
static void reduce_name(struct sgbpf_inspect_tcp *t)
{
	const char *prefix = "sgbpf_tcp_";
	size_t n = strlen(t->verdict);

	if (strncmp(t->verdict, prefix, strlen(prefix))) {
		if (n > 4 && !strcmp(t->verdict + n - 4, "_tcp"))
			n -= 4;
		snprintf(t->reduce, sizeof(t->reduce), "custom:%.*s", (int)(n < 24 ? n : 24),
			 t->verdict);
		return;
	}
	snprintf(t->reduce, sizeof(t->reduce), "%s", t->verdict + strlen(prefix));
	for (char *c = t->reduce; *c; c++)
		if (*c == '_')
			*c = '-';
}

static int by_steer_id(const void *pa, const void *pb)
{
	const struct sgbpf_inspect_tcp *a = pa, *b = pb;

	return a->steer_prog_id < b->steer_prog_id ? -1 : a->steer_prog_id > b->steer_prog_id;
}

static int by_port(const void *pa, const void *pb)
{
	const struct sgbpf_inspect_tcp *a = pa, *b = pb;

	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->link_id < b->link_id ? -1 : a->link_id > b->link_id;
}

/* The pairing of the file comment; s->v is in id order, as the walk found them. */
static void pair_verdicts(struct tcp_scan *s)
{
	/* qsort() must not be handed the NULL array of an empty list. */
	if (s->out.n > 1)
		qsort(s->out.svc, s->out.n, sizeof(*s->out.svc), by_steer_id);
	for (size_t i = 0; i < s->out.n; i++) {
		struct sgbpf_inspect_tcp *t = &s->out.svc[i];

		for (size_t k = 0; t->nowners && k < s->nv; k++) {
			struct verdict *v = &s->v[k];

			if (v->paired || v->holder != t->owners[0].pid || v->prog_id < t->steer_prog_id)
				continue;
			v->paired = true;
			t->verdict_prog_id = v->prog_id;
			t->sockmap_id = v->sockmap_id;
			snprintf(t->verdict, sizeof(t->verdict), "%s", v->name);
			reduce_name(t);
			t->connected = sgbpf_inspect_tcp_connected(v->sockmap_id);
			break;
		}
	}
}

int sgbpf_inspect_tcp_scan(struct sgbpf_inspect_tcp_list *out)
{
	struct tcp_scan s = {};
	int err;

	memset(out, 0, sizeof(*out));
	err = links_walk(&s);
	if (!err && s.out.n)
		err = progs_walk(&s);
	if (err) {
		free(s.v);
		sgbpf_inspect_tcp_free(&s.out);
		return err;
	}
	/* Every descriptor taken by id is closed by now: we are nobody's owner. */
	if (s.out.n)
		sgbpf_inspect_bpf_fds_walk(on_bpf_fd, &s);
	pair_verdicts(&s);
	free(s.v);
	if (s.out.n > 1)
		qsort(s.out.svc, s.out.n, sizeof(*s.out.svc), by_port);
	*out = s.out;
	return 0;
}
