// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Steering for the TCP backend: one listening socket per worker, and the
 * SK_LOOKUP program (bpf-tcp/steer.bpf.c) that gives each listed worker's
 * SYN to its own listener.  Which listener accepted a connection says which
 * worker it is, before a byte is read.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sgbpf_tcp_steer_bpf.skel.h"
#include "steer.h"

struct sgbpf_tcp_steer {
	struct sgbpf_tcp_steer_bpf *skel;
	struct bpf_link *link;
	size_t nworkers;
	int *listeners;
};

/* A listener bound to the service's address; its port is the kernel's choice. */
static int listener_bind(uint32_t addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr };
	int fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len))
		return -errno;
	return ntohs(sin.sin_port);
}

static bool is_worker_port(const struct sgbpf_endpoint *workers, size_t nworkers, int port)
{
	for (size_t i = 0; i < nworkers; i++)
		if (workers[i].port == port)
			return true;
	return false;
}

/*
 * A listening socket whose port is none of the workers' source ports.  On
 * one host a listener holding a worker's port would keep that worker from
 * binding it, and the worker would never connect.  A port the kernel gives
 * that is a worker's is held in refused[] while the next bind is tried, so
 * that the kernel does not hand it out again; the caller closes them.
 */
static int listener_open(uint32_t addr, const struct sgbpf_endpoint *workers, size_t nworkers,
			 int *refused, size_t *nrefused)
{
	for (;;) {
		int fd = listener_bind(addr), port, err;

		if (fd < 0)
			return fd;
		port = bound_port(fd);
		if (port < 0) {
			close(fd);
			return port;
		}
		if (!is_worker_port(workers, nworkers, port)) {
			if (listen(fd, 64)) {
				err = -errno;
				close(fd);
				return err;
			}
			return fd;
		}
		/* At most one refusal per worker port: the held ones are not given again. */
		if (*nrefused == nworkers) {
			close(fd);
			return -EADDRINUSE;
		}
		refused[(*nrefused)++] = fd;
	}
}

static int fill_maps(struct sgbpf_tcp_steer *st, const struct sgbpf_endpoint *service,
		     const struct sgbpf_endpoint *workers)
{
	int wmap = bpf_map__fd(st->skel->maps.sgbpf_tcp_workers);
	int lmap = bpf_map__fd(st->skel->maps.sgbpf_tcp_listeners);
	int *refused = malloc((st->nworkers ? st->nworkers : 1) * sizeof(int));
	size_t nrefused = 0;
	int err = 0;

	if (!refused)
		return -ENOMEM;
	for (size_t i = 0; i < st->nworkers && !err; i++) {
		struct sgbpf_tcp_src src = { .addr = workers[i].addr, .port = htons(workers[i].port) };
		__u32 idx = i;
		__u64 fd;

		err = listener_open(service->addr, workers, st->nworkers, refused, &nrefused);
		if (err < 0)
			break;
		st->listeners[i] = err;
		fd = err;
		err = 0;
		/* BPF_NOEXIST: a source listed twice would make two workers one. */
		if (bpf_map_update_elem(wmap, &src, &idx, BPF_NOEXIST) ||
		    bpf_map_update_elem(lmap, &idx, &fd, BPF_ANY))
			err = -errno;
	}
	while (nrefused)
		close(refused[--nrefused]);
	free(refused);
	return err;
}

static int attach_netns(struct sgbpf_tcp_steer *st)
{
	/* thread-self: the namespace this thread is in, which may not be the process's. */
	int ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), err = 0;

	if (ns < 0)
		return -errno;
	st->link = bpf_program__attach_netns(st->skel->progs.sgbpf_steer, ns);
	if (!st->link)
		err = -errno;
	close(ns);
	return err;
}

int sgbpf_tcp_steer_create(const struct sgbpf_endpoint *service,
			   const struct sgbpf_endpoint *workers, size_t nworkers,
			   struct sgbpf_tcp_steer **out)
{
	struct sgbpf_tcp_steer *st;
	int err;

	if (!service || !out || (!workers && nworkers) || nworkers > SGBPF_TCP_MAX_WORKERS)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->nworkers = nworkers;
	st->listeners = malloc((nworkers ? nworkers : 1) * sizeof(int));
	if (!st->listeners) {
		free(st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nworkers; i++)
		st->listeners[i] = -1;

	st->skel = sgbpf_tcp_steer_bpf__open();
	if (!st->skel) {
		err = -errno;
		goto fail;
	}
	st->skel->rodata->sgbpf_steer_addr = service->addr;
	st->skel->rodata->sgbpf_steer_port = service->port;
	/* Maps cannot have zero entries; a service without workers refuses everyone. */
	if (bpf_map__set_max_entries(st->skel->maps.sgbpf_tcp_workers, nworkers ? nworkers : 1) ||
	    bpf_map__set_max_entries(st->skel->maps.sgbpf_tcp_listeners, nworkers ? nworkers : 1)) {
		err = -EINVAL;
		goto fail;
	}
	err = sgbpf_tcp_steer_bpf__load(st->skel);
	if (err)
		goto fail;
	err = fill_maps(st, service, workers);
	if (err)
		goto fail;
	/* Last: no SYN is steered before every worker has its listener. */
	err = attach_netns(st);
	if (err)
		goto fail;
	*out = st;
	return 0;
fail:
	sgbpf_tcp_steer_destroy(st);
	return err < 0 ? err : -EINVAL;
}

int sgbpf_tcp_steer_listener(const struct sgbpf_tcp_steer *st, size_t i)
{
	if (!st || i >= st->nworkers)
		return -EINVAL;
	return st->listeners[i];
}

int sgbpf_tcp_steer_stats(const struct sgbpf_tcp_steer *st,
			  uint64_t out[__SGBPF_TCP_STEER_STATS])
{
	int ncpus = libbpf_num_possible_cpus(), fd;

	if (!st || ncpus <= 0)
		return ncpus <= 0 ? ncpus : -EINVAL;
	fd = bpf_map__fd(st->skel->maps.sgbpf_tcp_steer_stats);
	for (__u32 k = 0; k < __SGBPF_TCP_STEER_STATS; k++) {
		__u64 v[ncpus];

		if (bpf_map_lookup_elem(fd, &k, v))
			return -errno;
		out[k] = 0;
		for (int c = 0; c < ncpus; c++)
			out[k] += v[c];
	}
	return 0;
}

void sgbpf_tcp_steer_destroy(struct sgbpf_tcp_steer *st)
{
	if (!st)
		return;
	/* Detach first, so that no SYN is steered to a listener being closed. */
	bpf_link__destroy(st->link);
	for (size_t i = 0; i < st->nworkers; i++)
		if (st->listeners[i] >= 0)
			close(st->listeners[i]);
	sgbpf_tcp_steer_bpf__destroy(st->skel);
	free(st->listeners);
	free(st);
}
