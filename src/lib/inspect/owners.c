// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who owns a service.  The scan's owners are the processes holding one of
 * its links (or, for the netlink fallback, one of its programs) in their
 * descriptor tables, found through /proc/PID/fd and fdinfo; that sees one
 * PID namespace only.  The owner tokens, abstract AF_UNIX names a fallback
 * service holds for as long as its filters are its, are the proof of life
 * that is seen from every PID namespace (inspect.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"
#include "inspect/inspect_priv.h"

/* ---- owners ----------------------------------------------------------- */

void sgbpf_inspect_owner_add(struct sgbpf_inspect_owner *owners, unsigned int *n, bool *more,
			     pid_t pid)
{
	char path[64];
	FILE *f;

	for (unsigned int i = 0; i < *n; i++)
		if (owners[i].pid == pid)
			return;
	if (*n == SGBPF_INSPECT_MAX_OWNERS) {
		*more = true;
		return;
	}
	owners[*n].pid = pid;
	owners[*n].comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f) {
		char *comm = owners[*n].comm;

		if (fgets(comm, sizeof(owners[0].comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	(*n)++;
}

/* Who holds link_id (a link descriptor) or prog_id (a program descriptor)? */
static void owners_match(void *ctx, pid_t pid, uint32_t link_id, uint32_t prog_id)
{
	struct scan *s = ctx;

	for (size_t i = 0; i < s->out.n; i++) {
		struct sgbpf_inspect_service *svc = &s->out.svc[i];

		for (unsigned int k = 0; k < svc->natt; k++) {
			const struct sgbpf_inspect_attach *a = &svc->att[k];

			if ((link_id && a->link_id == link_id) ||
			    (!link_id && prog_id && a->prog_id == prog_id)) {
				sgbpf_inspect_owner_add(svc->owners, &svc->nowners,
							&svc->more_owners, pid);
				break;
			}
		}
	}
}

/* Reads "link_id:" and "prog_id:" from /proc/PID/fdinfo/FD. */
static void fdinfo_ids(int dirfd, const char *fd, uint32_t *link_id, uint32_t *prog_id)
{
	char path[300], line[128];
	FILE *f;
	int ffd;

	*link_id = *prog_id = 0;
	snprintf(path, sizeof(path), "fdinfo/%s", fd);
	ffd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (ffd < 0)
		return;
	f = fdopen(ffd, "re");
	if (!f) {
		close(ffd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned int v;

		if (sscanf(line, "link_id: %u", &v) == 1)
			*link_id = v;
		else if (sscanf(line, "prog_id: %u", &v) == 1)
			*prog_id = v;
	}
	fclose(f);
}

static void bpf_fds_of_pid(pid_t pid, sgbpf_inspect_bpf_fd_fn fn, void *ctx)
{
	char path[64], target[64];
	struct dirent *e;
	DIR *fds;
	int dirfd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fds = opendir(path);
	if (!fds) {
		close(dirfd);
		return;
	}
	while ((e = readdir(fds))) {
		uint32_t link_id, prog_id;
		char lpath[300];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(lpath, sizeof(lpath), "fd/%s", e->d_name);
		/*
		 * Only BPF descriptors are worth opening their fdinfo.  The kernel
		 * names link files "bpf_link" (bpf_link_prime()), programs "bpf-prog".
		 */
		n = readlinkat(dirfd, lpath, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:bpf_link") && strcmp(target, "anon_inode:bpf-link") &&
		    strcmp(target, "anon_inode:bpf-prog"))
			continue;
		fdinfo_ids(dirfd, e->d_name, &link_id, &prog_id);
		fn(ctx, pid, link_id, prog_id);
	}
	closedir(fds);
	close(dirfd);
}

void sgbpf_inspect_bpf_fds_walk(sgbpf_inspect_bpf_fd_fn fn, void *ctx)
{
	struct dirent *e;
	DIR *proc;

	proc = opendir("/proc");
	if (!proc)
		return;
	while ((e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		bpf_fds_of_pid((pid_t)atoi(e->d_name), fn, ctx);
	}
	closedir(proc);
}

void sgbpf_inspect_owners_walk(struct scan *s)
{
	if (s->out.n)
		sgbpf_inspect_bpf_fds_walk(owners_match, s);
}

/* ---- owner tokens ----------------------------------------------------- */

static socklen_t token_addr(const struct sgbpf_owner_token *t, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* sun_path[0] = '\0': the abstract namespace, no file anywhere. */
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "sgbpf-owner-%u-%d-%x-%u",
		     t->prog_id, t->ifindex, t->parent, t->handle);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int sgbpf_owner_token_hold(const struct sgbpf_owner_token *t)
{
	struct sockaddr_un a;
	socklen_t len = token_addr(t, &a);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return sgbpf_err(-errno, "cannot create an owner token: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, len)) {
		err = -errno;
		close(fd);
		if (err == -EADDRINUSE)
			return err;	/* the caller tries another handle */
		return sgbpf_err(err, "cannot bind the owner token of program %u: %s", t->prog_id,
				 strerror(-err));
	}
	return fd;
}

int sgbpf_owner_token_held(const struct sgbpf_owner_token *t)
{
	struct sockaddr_un a;
	socklen_t len = token_addr(t, &a);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	/* Binding succeeds only when nobody holds the name; we let go at once. */
	ret = bind(fd, (struct sockaddr *)&a, len) == 0 ? 0 : errno == EADDRINUSE ? 1 : -errno;
	close(fd);
	return ret;
}
