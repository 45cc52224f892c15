// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Network namespaces for tests.  A namespace gets a name the way `ip netns
 * add` gives one: an empty file under /run/netns with the namespace's nsfs
 * file bind-mounted on it.  The mount keeps the namespace alive without any
 * process inside; removing it (and every descriptor) lets the kernel free
 * the namespace and the interfaces in it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if.h>

#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include "netns_util.h"

#define NETNS_DIR "/run/netns"
#define NETNS_PREFIX "sgbpf-"
#define NETNS_MAX_LIVE 64

/* Namespaces created and not yet deleted, for the atexit() handler. */
static struct {
	char name[NETNS_NAME_MAX];
	pid_t owner;
} live[NETNS_MAX_LIVE];
static bool atexit_done;
static pid_t reaper_for;	/* the process whose reaper runs */
static unsigned int seq;

#define STR_(x) #x
#define STR(x) STR_(x)

static pid_t owner_of(const char *name);
static int reap_if(bool (*dead)(pid_t owner, pid_t arg), pid_t arg);

static int fail(int err, const char *what, const char *detail)
{
	fprintf(stderr, "netns_util: %s%s%s: %s\n", what, detail ? " " : "",
		detail ? detail : "", strerror(-err));
	return err;
}

/* Removes the name of a namespace: unmount, then unlink the file. */
static void unname(const char *name)
{
	char path[sizeof(NETNS_DIR) + 256 + 1];	/* NAME_MAX: names from readdir too */

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	/* Lazy: a process still inside keeps the namespace, not the name. */
	umount2(path, MNT_DETACH);
	unlink(path);
}

static void delete_leftovers(void)
{
	pid_t self = getpid();
	int i;

	for (i = 0; i < NETNS_MAX_LIVE; i++) {
		if (live[i].name[0] && live[i].owner == self) {
			unname(live[i].name);
			live[i].name[0] = '\0';
		}
	}
}

static bool owner_is(pid_t owner, pid_t pid)
{
	return owner == pid;
}

/*
 * The reaper: a detached process that waits for EOF on a pipe whose only
 * writers are this process and its children, then deletes the namespaces
 * this process named.  It catches the deaths atexit() cannot: Check ends a
 * failed test with _exit(), a timeout with SIGKILL.
 */
static void run_reaper(int rfd, pid_t owner)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), init_ns;
	ssize_t r;
	char c;

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);	/* keeps no pipe of ctest's open */
	}
	dup2(rfd, 3);
	close_range(4, ~0U, 0);
	/* Outside every test namespace, so that none stays alive for us. */
	init_ns = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
	if (init_ns >= 0) {
		setns(init_ns, CLONE_NEWNET);
		close(init_ns);
	}
	do
		r = read(3, &c, 1);
	while (r < 0 && errno == EINTR);
	/* EOF: every writer is gone.  Anything else: not sure, leave things be. */
	if (r == 0)
		reap_if(owner_is, owner);
	_exit(0);
}

static void start_reaper(void)
{
	pid_t self = getpid(), pid;
	int fds[2];

	if (reaper_for == self)
		return;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		fail(-errno, "cannot start the namespace reaper", NULL);
		return;
	}
	/*
	 * Fork twice, so that the reaper is nobody's child here: a test's
	 * wait() must never collect it.  The middle process opens a session of
	 * its own before the reaper is born, so that once we return, the
	 * reaper is out of the process group Check SIGKILLs after each test.
	 */
	pid = fork();
	if (pid == 0) {
		close(fds[1]);
		setsid();
		if (fork() == 0)
			run_reaper(fds[0], self);
		_exit(0);
	}
	close(fds[0]);
	if (pid < 0) {
		close(fds[1]);
		fail(-errno, "cannot start the namespace reaper", NULL);
		return;
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	/* fds[1] stays open for the life of this process: its end is the signal. */
	reaper_for = self;
}

static int remember(const char *name)
{
	int i;

	if (!atexit_done) {
		if (atexit(delete_leftovers))
			return -ENOMEM;
		atexit_done = true;
	}
	start_reaper();
	for (i = 0; i < NETNS_MAX_LIVE; i++) {
		if (!live[i].name[0]) {
			snprintf(live[i].name, sizeof(live[i].name), "%s", name);
			live[i].owner = getpid();
			return 0;
		}
	}
	return -ENOSPC;
}

static void forget(const char *name)
{
	int i;

	for (i = 0; i < NETNS_MAX_LIVE; i++)
		if (live[i].owner == getpid() && !strcmp(live[i].name, name))
			live[i].name[0] = '\0';
}

int netns_check_privileges(void)
{
	struct netns ns;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: network namespace tests need root\n");
		return NETNS_SKIP;
	}
	if (netns_create(&ns, "probe")) {
		fprintf(stderr, "skipped: cannot create a network namespace here\n");
		return NETNS_SKIP;
	}
	netns_delete(&ns);
	return 0;
}

static int open_self_ns(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * Creates the namespace from the calling thread: unshare moves the thread
 * into a new namespace, the bind mount names it, setns moves it back.
 */
static int make_named_ns(const char *path)
{
	int saved, fd, err = 0;

	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return fail(-errno, "cannot create", path);
	close(fd);

	saved = open_self_ns();
	if (saved < 0) {
		err = fail(saved, "cannot open", "/proc/thread-self/ns/net");
		goto out_unlink;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		err = fail(-errno, "unshare(CLONE_NEWNET) failed for", path);
		goto out_close;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
		err = fail(-errno, "cannot bind-mount a namespace on", path);
	if (setns(saved, CLONE_NEWNET) < 0) {
		/* Stuck in the new namespace: nothing after this would be right. */
		fprintf(stderr, "netns_util: cannot return to the original namespace: %s\n",
			strerror(errno));
		abort();
	}
out_close:
	close(saved);
out_unlink:
	if (err)
		unlink(path);
	return err;
}

/*
 * NETNS_DIR as iproute2 keeps it: a bind mount of itself, shared.  Without
 * that, the first `ip netns` on this boot (a benchmark, a person) mounts
 * the directory over itself and hides every namespace mounted in it
 * before: those can no longer be unmounted by their path, and outlive
 * their test.
 */
static int netns_dir_ready(void)
{
	if (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST)
		return fail(-errno, "cannot create", NETNS_DIR);
	if (!mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL))
		return 0;
	/* EINVAL: not a mount point yet. */
	if (errno != EINVAL || mount(NETNS_DIR, NETNS_DIR, "none", MS_BIND | MS_REC, NULL) ||
	    mount("", NETNS_DIR, "none", MS_SHARED | MS_REC, NULL))
		return fail(-errno, "cannot make a shared mount of", NETNS_DIR);
	return 0;
}

int netns_create(struct netns *ns, const char *tag)
{
	char clean[NETNS_TAG_MAX + 1], path[sizeof(NETNS_DIR) + NETNS_NAME_MAX + 1];
	size_t i;
	int err;

	ns->name[0] = '\0';
	ns->fd = -1;
	for (i = 0; tag && i < NETNS_TAG_MAX && tag[i]; i++)
		clean[i] = isalnum((unsigned char)tag[i]) || strchr("_.-", tag[i]) ? tag[i] : '_';
	clean[i] = '\0';

	err = netns_dir_ready();
	if (err)
		return err;
	snprintf(ns->name, sizeof(ns->name), NETNS_PREFIX "%s-%d-%u", clean[0] ? clean : "t",
		 (int)getpid(), seq++);
	snprintf(path, sizeof(path), NETNS_DIR "/%s", ns->name);

	err = make_named_ns(path);
	if (err)
		goto err_name;
	err = remember(ns->name);
	if (err) {
		fail(err, "too many live namespaces at", ns->name);
		goto err_unname;
	}
	ns->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ns->fd < 0) {
		err = fail(-errno, "cannot open", path);
		forget(ns->name);
		goto err_unname;
	}
	/* Keep the kernel's port choices away from the ports tests bind. */
	err = netns_sysctl(ns, "net/ipv4/ip_local_port_range",
			   STR(NETNS_EPHEMERAL_FIRST) " " STR(NETNS_EPHEMERAL_LAST));
	if (err) {
		netns_delete(ns);
		return err;
	}
	return 0;

err_unname:
	unname(ns->name);
err_name:
	ns->name[0] = '\0';
	return err;
}

void netns_delete(struct netns *ns)
{
	if (!ns->name[0])
		return;
	if (ns->fd >= 0)
		close(ns->fd);
	unname(ns->name);
	forget(ns->name);
	ns->name[0] = '\0';
	ns->fd = -1;
}

int netns_enter(const struct netns *ns, int *saved)
{
	int old = -1;

	if (saved) {
		old = open_self_ns();
		if (old < 0)
			return fail(old, "cannot open", "/proc/thread-self/ns/net");
	}
	if (setns(ns->fd, CLONE_NEWNET) < 0) {
		int err = -errno;

		if (old >= 0)
			close(old);
		return fail(err, "cannot enter", ns->name);
	}
	if (saved)
		*saved = old;
	return 0;
}

int netns_restore(int saved)
{
	int err = 0;

	if (setns(saved, CLONE_NEWNET) < 0)
		err = fail(-errno, "cannot return to the saved namespace", NULL);
	close(saved);
	return err;
}

pid_t netns_fork(const struct netns *ns)
{
	pid_t pid = fork();

	if (pid < 0)
		return fail(-errno, "fork failed for", ns->name);
	if (pid == 0 && setns(ns->fd, CLONE_NEWNET) < 0) {
		fail(-errno, "child cannot enter", ns->name);
		_exit(127);
	}
	return pid;
}

int netns_run(const struct netns *ns, int (*fn)(void *arg), void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);	/* or the child prints our buffered output again */
	pid = netns_fork(ns);
	if (pid < 0)
		return pid;
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return fail(-errno, "waitpid failed for a child in", ns->name);
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * A NETLINK_ROUTE socket living in ns: a netlink socket belongs to the
 * namespace it was opened in, so the thread need only visit ns to open it.
 */
static int ns_socket(const struct netns *ns, struct nl_sock **out)
{
	struct nl_sock *sk;
	int saved, err;

	*out = NULL;
	sk = nl_socket_alloc();
	if (!sk)
		return fail(-ENOMEM, "cannot allocate a netlink socket", NULL);
	err = netns_enter(ns, &saved);
	if (err) {
		nl_socket_free(sk);
		return err;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	netns_restore(saved);
	if (err < 0) {
		nl_socket_free(sk);
		return fail(-EIO, "cannot open a netlink socket in", ns->name);
	}
	*out = sk;
	return 0;
}

/* Close enough for test messages: libnl's codes back to errno values. */
static int nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_OBJ_NOTFOUND:	return -ENODEV;
	case NLE_EXIST:		return -EEXIST;
	case NLE_PERM:		return -EPERM;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_INVAL:		return -EINVAL;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	default:		return -EIO;
	}
}

static int nl_fail(int nlerr, const char *what, const char *ifname, const struct netns *ns)
{
	fprintf(stderr, "netns_util: %s %s in %s: %s\n", what, ifname, ns->name,
		nl_geterror(nlerr));
	return nl_errno(nlerr);
}

int netns_ifindex(const struct netns *ns, const char *ifname)
{
	struct rtnl_link *link = NULL;
	struct nl_sock *sk;
	int err;

	err = ns_socket(ns, &sk);
	if (err)
		return err;
	err = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (err < 0)
		err = nl_fail(err, "cannot find", ifname, ns);
	else
		err = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	nl_socket_free(sk);
	return err;
}

static int link_up(struct nl_sock *sk, const struct netns *ns, const char *ifname)
{
	struct rtnl_link *link = NULL, *change = NULL;
	int err;

	err = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (err < 0)
		return nl_fail(err, "cannot find", ifname, ns);
	change = rtnl_link_alloc();
	if (!change) {
		err = fail(-ENOMEM, "out of memory", NULL);
		goto out;
	}
	rtnl_link_set_flags(change, IFF_UP);
	err = rtnl_link_change(sk, link, change, 0);
	if (err < 0)
		err = nl_fail(err, "cannot set up", ifname, ns);
out:
	rtnl_link_put(change);
	rtnl_link_put(link);
	return err;
}

int netns_link_up(const struct netns *ns, const char *ifname)
{
	struct nl_sock *sk;
	int err;

	err = ns_socket(ns, &sk);
	if (err)
		return err;
	err = link_up(sk, ns, ifname);
	nl_socket_free(sk);
	return err;
}

static int addr_add(struct nl_sock *sk, const struct netns *ns, const char *ifname,
		    const char *cidr)
{
	struct rtnl_link *link = NULL;
	struct rtnl_addr *addr = NULL;
	struct nl_addr *local = NULL;
	int err;

	err = rtnl_link_get_kernel(sk, 0, ifname, &link);
	if (err < 0)
		return nl_fail(err, "cannot find", ifname, ns);
	err = nl_addr_parse(cidr, AF_INET, &local);
	if (err < 0) {
		err = nl_fail(err, "bad address for", ifname, ns);
		goto out;
	}
	addr = rtnl_addr_alloc();
	if (!addr) {
		err = fail(-ENOMEM, "out of memory", NULL);
		goto out;
	}
	rtnl_addr_set_ifindex(addr, rtnl_link_get_ifindex(link));
	err = rtnl_addr_set_local(addr, local);	/* takes the prefix length too */
	if (err >= 0)
		err = rtnl_addr_add(sk, addr, 0);
	if (err < 0)
		err = nl_fail(err, "cannot add an address to", ifname, ns);
out:
	rtnl_addr_put(addr);
	nl_addr_put(local);
	rtnl_link_put(link);
	return err;
}

int netns_addr_add(const struct netns *ns, const char *ifname, const char *cidr)
{
	struct nl_sock *sk;
	int err;

	err = ns_socket(ns, &sk);
	if (err)
		return err;
	err = addr_add(sk, ns, ifname, cidr);
	nl_socket_free(sk);
	return err;
}

/* Address and up, inside ns. */
static int veth_end_setup(const struct netns *ns, const char *ifname, const char *cidr)
{
	struct nl_sock *sk;
	int err;

	err = ns_socket(ns, &sk);
	if (err)
		return err;
	err = cidr ? addr_add(sk, ns, ifname, cidr) : 0;
	if (!err)
		err = link_up(sk, ns, ifname);
	nl_socket_free(sk);
	return err;
}

int netns_veth(const struct netns *a, const char *a_if, const char *a_cidr,
	       const struct netns *b, const char *b_if, const char *b_cidr)
{
	struct rtnl_link *link, *peer;
	struct nl_sock *sk;
	int err;

	if (!a || !b || a->fd < 0 || b->fd < 0)
		return fail(-EINVAL, "a veth pair needs two test namespaces", NULL);
	link = rtnl_link_veth_alloc();
	if (!link)
		return fail(-ENOMEM, "out of memory", NULL);
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, a_if);
	rtnl_link_set_name(peer, b_if);
	/* IFLA_NET_NS_FD on both ends: each is created right in its namespace. */
	rtnl_link_set_ns_fd(link, a->fd);
	rtnl_link_set_ns_fd(peer, b->fd);

	err = ns_socket(a, &sk);
	if (err)
		goto out;
	err = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	nl_socket_free(sk);
	if (err < 0) {
		err = nl_fail(err, "cannot create veth", a_if, a);
		goto out;
	}
	err = veth_end_setup(a, a_if, a_cidr);
	if (!err)
		err = veth_end_setup(b, b_if, b_cidr);
out:
	rtnl_link_put(peer);
	rtnl_link_veth_release(link);
	return err;
}

int netns_sysctl(const struct netns *ns, const char *key, const char *value)
{
	char path[256];
	int saved, fd, err = 0;
	size_t len = strlen(value);

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	err = netns_enter(ns, &saved);
	if (err)
		return err;
	/* /proc/sys/net resolves to the namespace of the thread opening it. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	netns_restore(saved);
	if (fd < 0)
		return fail(-errno, "cannot open", path);
	if (write(fd, value, len) != (ssize_t)len)
		err = fail(errno ? -errno : -EIO, "cannot write", path);
	close(fd);
	return err;
}

int netns_sysctl_read(const struct netns *ns, const char *key, char *buf, size_t size)
{
	char path[256];
	int saved, fd, err;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	err = netns_enter(ns, &saved);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	netns_restore(saved);
	if (fd < 0)
		return fail(-errno, "cannot open", path);
	n = read(fd, buf, size - 1);
	err = n < 0 ? fail(-errno, "cannot read", path) : 0;
	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	return err;
}

/* Parses the creating pid out of "sgbpf-<tag>-<pid>-<seq>"; 0 if not ours. */
static pid_t owner_of(const char *name)
{
	const char *p, *dash2, *dash1;
	char *end;
	long pid;

	if (strncmp(name, NETNS_PREFIX, strlen(NETNS_PREFIX)))
		return 0;
	dash2 = strrchr(name, '-');
	if (!dash2 || dash2 == name || !isdigit((unsigned char)dash2[1]))
		return 0;
	for (p = dash2 + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	for (dash1 = dash2 - 1; dash1 > name && *dash1 != '-'; dash1--)
		;
	if (dash1 <= name + strlen(NETNS_PREFIX) - 1)
		return 0;
	pid = strtol(dash1 + 1, &end, 10);
	if (end != dash2 || pid <= 0)
		return 0;
	return (pid_t)pid;
}

/* Deletes our namespaces whose owner passes dead(owner, arg). */
static int reap_if(bool (*dead)(pid_t owner, pid_t arg), pid_t arg)
{
	struct dirent *de;
	DIR *dir;
	pid_t pid;
	int n = 0;

	dir = opendir(NETNS_DIR);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		pid = owner_of(de->d_name);
		if (pid <= 0 || !dead(pid, arg))
			continue;
		unname(de->d_name);
		n++;
	}
	closedir(dir);
	return n;
}

static bool owner_gone(pid_t owner, pid_t self)
{
	/* EPERM: the pid exists (somebody else's), so its test may be running. */
	return owner != self && kill(owner, 0) < 0 && errno == ESRCH;
}

int netns_reap_stale(void)
{
	return reap_if(owner_gone, getpid());
}

int netns_pair_create(struct netns_pair *p, const char *tag, unsigned int subnet)
{
	char tag_a[NETNS_TAG_MAX + 2], tag_b[NETNS_TAG_MAX + 2], cidr_a[24], cidr_b[24];
	int err;

	memset(p, 0, sizeof(*p));
	p->a.fd = p->b.fd = -1;
	subnet &= 0xff;
	snprintf(tag_a, sizeof(tag_a), "%.*sa", NETNS_TAG_MAX - 1, tag ? tag : "pair");
	snprintf(tag_b, sizeof(tag_b), "%.*sb", NETNS_TAG_MAX - 1, tag ? tag : "pair");
	snprintf(p->a_if, sizeof(p->a_if), "sga0");
	snprintf(p->b_if, sizeof(p->b_if), "sgb0");
	snprintf(p->a_addr, sizeof(p->a_addr), "10.211.%u.1", subnet);
	snprintf(p->b_addr, sizeof(p->b_addr), "10.211.%u.2", subnet);
	snprintf(cidr_a, sizeof(cidr_a), "%s/24", p->a_addr);
	snprintf(cidr_b, sizeof(cidr_b), "%s/24", p->b_addr);
	inet_pton(AF_INET, p->a_addr, &p->a_ip);
	inet_pton(AF_INET, p->b_addr, &p->b_ip);

	err = netns_create(&p->a, tag_a);
	if (err)
		goto fail;
	err = netns_create(&p->b, tag_b);
	if (err)
		goto fail;
	err = netns_link_up(&p->a, "lo");
	if (!err)
		err = netns_link_up(&p->b, "lo");
	if (!err)
		err = netns_veth(&p->a, p->a_if, cidr_a, &p->b, p->b_if, cidr_b);
	if (err)
		goto fail;
	p->a_ifindex = netns_ifindex(&p->a, p->a_if);
	p->b_ifindex = netns_ifindex(&p->b, p->b_if);
	if (p->a_ifindex < 0 || p->b_ifindex < 0) {
		err = p->a_ifindex < 0 ? p->a_ifindex : p->b_ifindex;
		goto fail;
	}
	return 0;
fail:
	netns_pair_delete(p);
	return err;
}

void netns_pair_delete(struct netns_pair *p)
{
	netns_delete(&p->b);
	netns_delete(&p->a);
}
