// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The service core under stress, in namespaces the tests create: slots are
 * never reused while the kernel may still use them, no completion depends on
 * a notification arriving, creation has no process-wide side effects, the
 * netlink fallback never removes a live service's filters, destroy reports
 * what is in flight, a service changes threads, a signal ends a wait, policy N
 * is bounded by the workers, and the interface going away
 * fails the service at once.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <sgbpf/sgbpf.h>

#include "netdev.h"
#include "netns_suite.h"
#include "netns_util.h"
#include "service.h"
#include "svc_wait.h"
#include "udp/udp_backend.h"
#include "worker_farm.h"

#define BASE 37000
#define SLOW_BASE 37100		/* replies 200 ms late */
#define NFARM 8

static struct netns_pair P;
static struct netns LO;
static bool veth;
static const struct netns *coord, *work;
static const char *ifname;
static uint32_t worker_ip;
static pid_t farms[2];

static void start_farms(void)
{
	char listen[64], addr[16];

	inet_ntop(AF_INET, &worker_ip, addr, sizeof(addr));
	snprintf(listen, sizeof(listen), "%s:%u-%u", addr, BASE, BASE + NFARM - 1);
	farms[0] = worker_farm_start(work, listen, NULL);
	ck_assert_int_gt(farms[0], 0);
	snprintf(listen, sizeof(listen), "%s:%u-%u", addr, SLOW_BASE, SLOW_BASE + NFARM - 1);
	farms[1] = worker_farm_start(work, listen,
				     (const char *const[]){ "--delay-us", "200000", NULL });
	ck_assert_int_gt(farms[1], 0);
}

static void setup_veth(void)
{
	veth = true;
	ck_assert_int_eq(netns_pair_create(&P, "core", 9), 0);
	coord = &P.a;
	work = &P.b;
	ifname = P.a_if;
	worker_ip = P.b_ip;
	start_farms();
	ck_assert_int_eq(netns_enter(coord, NULL), 0);
}

static void setup_lo(void)
{
	veth = false;
	ck_assert_int_eq(netns_create(&LO, "corelo"), 0);
	ck_assert_int_eq(netns_link_up(&LO, "lo"), 0);
	coord = work = &LO;
	ifname = "lo";
	worker_ip = htonl(INADDR_LOOPBACK);
	start_farms();
	ck_assert_int_eq(netns_enter(coord, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(farms[0]);
	worker_farm_stop(farms[1]);
	if (veth)
		netns_pair_delete(&P);
	else
		netns_delete(&LO);
}

/* What the callback saw. */
struct seen {
	uint32_t complete, expired, failed, cancelled, other;
	uint32_t bad_ctx, short_resp;
	uint32_t want_resp;		/* fate allow: replies each result must list */
	struct sgbpf_service *destroy_me;	/* destroyed by the first callback */
	uint32_t ids[1024];
	uint32_t nids;
};

static void on_done(const struct sgbpf_result *res, void *ctx)
{
	struct seen *s = ctx;

	if (s->nids < 1024)
		s->ids[s->nids++] = res->req_id;
	switch (res->status) {
	case SGBPF_STATUS_COMPLETE:
		s->complete++;
		if (s->want_resp && res->nresp != s->want_resp)
			s->short_resp++;
		break;
	case SGBPF_STATUS_EXPIRED:
		s->expired++;
		break;
	case SGBPF_STATUS_FAILED:
		s->failed++;
		break;
	case SGBPF_STATUS_CANCELLED:
		s->cancelled++;
		break;
	default:
		s->other++;
		break;
	}
	/* user_ctx carries the request's id as scatter stored it. */
	if (res->user_ctx && *(uint32_t *)res->user_ctx != res->req_id)
		s->bad_ctx++;
	if (s->destroy_me) {
		struct sgbpf_service *svc = s->destroy_me;

		s->destroy_me = NULL;
		sgbpf_service_destroy(svc);
	}
}

static struct sgbpf_endpoint eps[NFARM];

static struct sgbpf_service *make(struct seen *s, uint16_t base, uint32_t n,
				  enum sgbpf_delivery d, enum sgbpf_fate fate, uint32_t inflight)
{
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = ifname, .workers = eps, .nworkers = n,
		   .reduce = SGBPF_REDUCE_SUM_U32, .delivery = d, .fate = fate,
		   .on_complete = on_done, .cb_ctx = s, .max_inflight = inflight);
	struct sgbpf_service *svc;

	for (uint32_t i = 0; i < n; i++) {
		eps[i].addr = worker_ip;
		eps[i].port = base + i;
	}
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create on %s: %s", ifname, sgbpf_last_error());
	return svc;
}

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- 5a: a slot stays busy until its send completed ------------------- */

#define RX_MAX 4096
struct rx_log {
	uint32_t n;
	uint32_t ids[RX_MAX];
};

/* Runs in the worker namespace: logs the request id of every scatter it receives. */
static void scatter_logger(struct rx_log *log, uint16_t port, int ready)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = worker_ip,
				 .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	uint8_t buf[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	char c = 1;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
		_exit(2);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(ready, &c, 1) != 1)
		_exit(3);
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		uint32_t id;

		if (len < 0)
			_exit(0);	/* quiet for 5 s: done */
		if (len < SGBPF_HDR_LEN || log->n >= RX_MAX)
			continue;
		memcpy(&id, buf, 4);
		log->ids[__atomic_load_n(&log->n, __ATOMIC_RELAXED)] = id;
		__atomic_store_n(&log->n, log->n + 1, __ATOMIC_RELEASE);
	}
}

START_TEST(test_send_pending_keeps_slot)
{
	struct rx_log *log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 20000);
	struct seen s = { 0 };
	struct sgbpf_service *svc;
	struct sgbpf_udp_backend *b;
	int p[2], small = 1, refused = 0, sent = 0;
	uint64_t end;
	pid_t pid;
	char c;

	ck_assert_ptr_ne(log, MAP_FAILED);
	log->n = 0;
	ck_assert_int_eq(pipe(p), 0);
	pid = netns_fork(work);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		scatter_logger(log, 37900, p[1]);
	}
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	/*
	 * A slow egress queue and a tiny send buffer: sends find the buffer full
	 * while earlier scatters wait in the queue.
	 */
	ck_assert_int_eq(sh("tc -n %s qdisc add dev %s root tbf rate 200kbit burst 1600 "
			    "limit 100000", coord->name, ifname), 0);
	eps[0].addr = worker_ip;
	eps[0].port = 37900;
	{
		SGBPF_OPTS(sgbpf_service_opts, o, .ifname = ifname, .workers = eps, .nworkers = 1,
			   .on_complete = on_done, .cb_ctx = &s, .max_inflight = 8);

		svc = sgbpf_service_create(&o);
		ck_assert_msg(svc, "%s", sgbpf_last_error());
	}
	b = svc->backend;
	ck_assert_int_eq(setsockopt(b->sock, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	end = sgbpf_now_ns() + 1500000000ull;
	while (sgbpf_now_ns() < end) {
		while (sgbpf_inflight(svc) < 8) {
			int err = sgbpf_scatter(svc, "x", 1, &so, NULL);

			if (err == -EBUSY)
				break;
			if (err) {
				refused++;
				break;
			}
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 5), 0);
	}
	svc_wait_all(svc, 100);
	sgbpf_service_destroy(svc);
	/* Let the queue drain and the logger go quiet. */
	waitpid(pid, NULL, 0);
	ck_assert_uint_eq(s.complete + s.expired + s.failed, sent);
	ck_assert_uint_gt(log->n, 0);
	for (uint32_t i = 0; i < log->n; i++)
		for (uint32_t k = i + 1; k < log->n; k++)
			ck_assert_msg(log->ids[i] != log->ids[k],
				      "request %u was scattered twice (%u scatters received, %d sent, "
				      "%d refused)", log->ids[i], log->n, sent, refused);
	ck_assert_uint_le(log->n, sent);
	munmap(log, sizeof(*log));
}
END_TEST

/* ---- 5b: a failed request is fenced like an expired one --------------- */

START_TEST(test_failed_is_fenced)
{
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);
	struct seen s = { 0 };
	struct sgbpf_service *svc = make(&s, SLOW_BASE, 4, SGBPF_DELIVERY_RINGBUF,
					 SGBPF_FATE_DISCARD, 16);
	struct sgbpf_stats st;
	uint32_t id;

	ck_assert_int_eq(sgbpf_scatter(svc, "f", 1, &so, &id), 0);
	usleep(20000);	/* the scatter went out: the slot is open */
	/* As when the backend learns late that the request failed. */
	sgbpf_service_send_failed(svc, id);
	ck_assert_int_eq(sgbpf_poll(svc), 1);
	ck_assert_uint_eq(s.failed, 1);
	usleep(400000);	/* the delayed replies arrive */
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_msg(st.folded == 0 && st.completed == 0,
		      "replies to a failed request were folded (%llu) and completed it (%llu)",
		      (unsigned long long)st.folded, (unsigned long long)st.completed);
	ck_assert_uint_eq(st.stale, 4);
	sgbpf_service_destroy(svc);
}
END_TEST

/* ---- 6: lost notifications -------------------------------------------- */

START_TEST(test_lost_ctrl_notifications)
{
	struct seen s = { 0 };
	struct sgbpf_service *svc = make(&s, BASE, 1, SGBPF_DELIVERY_CTRL_FD, SGBPF_FATE_DISCARD,
					 512);
	struct sgbpf_udp_backend *b = svc->backend;
	int small = 1, n = 400;
	uint64_t end;

	/* A slow reader: the control socket holds only a few datagrams. */
	ck_assert_int_eq(setsockopt(b->ctrl_sock, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)),
			 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(sgbpf_scatter(svc, "l", 1, NULL, NULL), 0);
	usleep(300000);	/* every request completed in the kernel by now */
	/* No request has a deadline, yet an event loop must come back. */
	ck_assert_int_ge(sgbpf_next_timeout_ms(svc), 0);
	end = sgbpf_now_ns() + 3000000000ull;
	while (sgbpf_inflight(svc) && sgbpf_now_ns() < end)
		ck_assert_int_ge(sgbpf_wait(svc, 100), 0);
	ck_assert_msg(s.complete == (uint32_t)n, "%u of %d requests reported", s.complete, n);
	sgbpf_service_destroy(svc);
}
END_TEST

/* ---- 10: no process-wide side effects --------------------------------- */

static int my_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static volatile bool creating;
static volatile int creators_failed;

static void *creator(void *arg)
{
	(void)arg;
	for (int k = 0; k < 3; k++) {
		struct seen s = { 0 };
		SGBPF_OPTS(sgbpf_service_opts, so, .ifname = ifname, .workers = eps, .nworkers = 4,
			   .reduce = SGBPF_REDUCE_SUM_U32, .on_complete = on_done, .cb_ctx = &s,
			   .max_inflight = 16);
		SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 2000000);
		struct sgbpf_service *svc = sgbpf_service_create(&so);

		if (!svc) {
			fprintf(stderr, "creator: %s\n", sgbpf_last_error());
			__atomic_add_fetch(&creators_failed, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (sgbpf_scatter(svc, "t", 1, &sc, NULL) == 0)
			while (sgbpf_inflight(svc))
				sgbpf_wait(svc, 1000);
		if (s.complete != 1)
			__atomic_add_fetch(&creators_failed, 1, __ATOMIC_RELAXED);
		sgbpf_service_destroy(svc);
	}
	return NULL;
}

/* Bytes of thread-local storage the shared library adds to every thread. */
static long lib_tls_bytes(void)
{
	char path[512];
	Elf64_Ehdr eh;
	long tls = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/src/libsgbpf.so", getenv("SGBPF_BUILD_DIR"));
	f = fopen(path, "rb");
	if (!f || fread(&eh, sizeof(eh), 1, f) != 1)
		return -1;
	for (int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (fseek(f, eh.e_phoff + (long)i * eh.e_phentsize, SEEK_SET) ||
		    fread(&ph, sizeof(ph), 1, f) != 1)
			break;
		if (ph.p_type == PT_TLS)
			tls = (long)ph.p_memsz;
	}
	fclose(f);
	return tls;
}

START_TEST(test_no_global_side_effects)
{
	pthread_t t[3];
	long tls = lib_tls_bytes();
	int wrong = 0;

	ck_assert_int_ge(tls, 0);
	ck_assert_msg(tls <= 4096, "libsgbpf adds %ld bytes of TLS to every thread", tls);
	for (uint32_t i = 0; i < 4; i++) {
		eps[i].addr = worker_ip;
		eps[i].port = BASE + i;
	}
	libbpf_set_print(my_print);
	creating = true;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, creator, NULL), 0);
	/* While services load in other threads, libbpf's callback stays ours. */
	for (int i = 0; i < 20000; i++) {
		if (libbpf_set_print(my_print) != my_print)
			wrong++;
		if (i % 64 == 0)
			usleep(50);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(libbpf_set_print(NULL) == my_print, "libbpf's print callback was replaced");
	ck_assert_msg(wrong == 0, "libbpf's print callback was swapped %d times", wrong);
	ck_assert_int_eq(creators_failed, 0);
}
END_TEST

/* ---- 11: the netlink fallback and PID namespaces ---------------------- */

/* In a new PID (and mount) namespace with its own /proc: create a service. */
static int service_in_child_pidns(int ready)
{
	struct seen s = { 0 };
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = ifname, .workers = eps, .nworkers = 4,
		   .on_complete = on_done, .cb_ctx = &s, .max_inflight = 16);
	struct sgbpf_service *svc;
	char c = 1;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("proc", "/proc", "proc", 0, NULL))
		return 10;
	if (getpid() != 1)
		return 11;
	svc = sgbpf_service_create(&so);
	if (!svc) {
		fprintf(stderr, "child: %s\n", sgbpf_last_error());
		return 12;
	}
	if (write(ready, &c, 1) != 1)
		return 13;
	sgbpf_service_destroy(svc);
	return 0;
}

START_TEST(test_fallback_other_pid_namespace)
{
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 1000000);
	struct seen s = { 0 };
	struct sgbpf_service *svc;
	int ifindex = if_nametoindex(ifname), st, p[2];
	pid_t outer;
	char c;

	setenv("SGBPF_ATTACH_FORCE_NETLINK", "1", 1);
	svc = make(&s, BASE, 4, SGBPF_DELIVERY_RINGBUF, SGBPF_FATE_DISCARD, 16);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 1);
	ck_assert_int_eq(pipe(p), 0);
	outer = fork();
	ck_assert_int_ge(outer, 0);
	if (outer == 0) {
		pid_t inner;
		int ist;

		if (unshare(CLONE_NEWPID | CLONE_NEWNS))
			_exit(20);
		inner = fork();
		if (inner == 0) {
			/* Hold none of the parent service's descriptors. */
			if (dup2(p[1], 3) != 3 || close_range(4, ~0u, 0))
				_exit(23);
			_exit(service_in_child_pidns(3));
		}
		if (inner < 0 || waitpid(inner, &ist, 0) != inner)
			_exit(21);
		_exit(WIFEXITED(ist) ? WEXITSTATUS(ist) : 22);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(waitpid(outer, &st, 0), outer);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child ended with %#x", st);
	/* Our filter is still there, and the service still works. */
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 1);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "p", 1, &so, NULL), 0);
		svc_wait_all(svc, 2000);
	}
	ck_assert_msg(s.complete == 5, "%u of 5 complete after a service in another PID "
		      "namespace started", s.complete);
	sgbpf_service_destroy(svc);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 0);
	unsetenv("SGBPF_ATTACH_FORCE_NETLINK");
}
END_TEST

/* ---- 12: destroy ------------------------------------------------------ */

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A signal handled by the application ends a sleeping sgbpf_wait() with
 * -EINTR, as it ends epoll_wait(), so that a caller blocked on a long
 * timeout sees its stop flag; the request stays in flight.
 */
START_TEST(test_wait_interrupted)
{
	static const enum sgbpf_delivery modes[] = {
		SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_CTRL_FD, SGBPF_DELIVERY_BLOCK,
	};
	struct sigaction sa = { .sa_handler = on_alarm }, old;

	/* No SA_RESTART: the handler interrupts system calls. */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct seen s = { 0 };
		/* Nobody listens above the farms: the request can only expire. */
		struct sgbpf_service *svc = make(&s, SLOW_BASE + NFARM, 2, modes[m],
						 SGBPF_FATE_DISCARD, 16);
		SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 3000000);
		struct itimerval it = { .it_value = { .tv_usec = 50000 } };
		int ret;

		if (modes[m] == SGBPF_DELIVERY_BLOCK) {
			/* Block mode waits inside the scatter itself. */
			ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
			ret = sgbpf_scatter(svc, "d", 1, &so, NULL);
			ck_assert_msg(ret == -EINTR, "block: scatter returned %d (%s), expected -EINTR",
				      ret, strerror(-ret));
		} else {
			ck_assert_int_eq(sgbpf_scatter(svc, "d", 1, &so, NULL), 0);
			ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
			ret = sgbpf_wait(svc, 2000);
			ck_assert_msg(ret == -EINTR, "mode %d: wait returned %d, expected -EINTR",
				      modes[m], ret);
		}
		ck_assert_uint_eq(s.complete + s.expired + s.failed + s.cancelled + s.other, 0);
		ck_assert_uint_eq(sgbpf_inflight(svc), 1);
		sgbpf_service_destroy(svc);
		ck_assert_uint_eq(s.cancelled, 1);
	}
	ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
}
END_TEST

/* Policy N asks for more workers than the service has: a usage error, not "all". */
START_TEST(test_policy_n_above_workers)
{
	struct seen s = { 0 };
	struct sgbpf_service *svc = make(&s, BASE, 4, SGBPF_DELIVERY_RINGBUF,
					 SGBPF_FATE_DISCARD, 16);
	SGBPF_OPTS(sgbpf_scatter_opts, five, .policy = SGBPF_POLICY_N, .n = 5);
	SGBPF_OPTS(sgbpf_scatter_opts, four, .policy = SGBPF_POLICY_N, .n = 4);
	int ret = sgbpf_scatter(svc, "d", 1, &five, NULL);

	ck_assert_msg(ret == -EINVAL, "policy N 5 of 4 workers: scatter returned %d", ret);
	ck_assert_uint_eq(sgbpf_inflight(svc), 0);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "4"));
	ck_assert_int_eq(sgbpf_scatter(svc, "d", 1, &four, NULL), 0);
	svc_wait_all(svc, 2000);
	ck_assert_uint_eq(s.complete, 1);
	sgbpf_service_destroy(svc);
}
END_TEST

START_TEST(test_destroy_reports_inflight)
{
	struct seen s = { 0 };
	struct sgbpf_service *svc = make(&s, SLOW_BASE, 4, SGBPF_DELIVERY_RINGBUF,
					 SGBPF_FATE_DISCARD, 16);
	static uint32_t ids[5];

	for (int i = 0; i < 5; i++) {
		SGBPF_OPTS(sgbpf_scatter_opts, so, .user_ctx = &ids[i]);

		ck_assert_int_eq(sgbpf_scatter(svc, "d", 1, &so, &ids[i]), 0);
	}
	sgbpf_service_destroy(svc);
	ck_assert_msg(s.cancelled == 5, "%u of 5 in-flight requests reported cancelled",
		      s.cancelled);
	ck_assert_uint_eq(s.bad_ctx, 0);
	ck_assert_uint_eq(s.complete + s.expired + s.failed + s.other, 0);
}
END_TEST

START_TEST(test_destroy_from_callback)
{
	struct seen s = { 0 };
	struct sgbpf_service *svc = make(&s, SLOW_BASE, 4, SGBPF_DELIVERY_RINGBUF,
					 SGBPF_FATE_ALLOW, 16);
	int ifindex = if_nametoindex(ifname), n;

	ck_assert_int_eq(sgbpf_scatter(svc, "a", 1, NULL, NULL), 0);
	usleep(100000);
	ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, NULL, NULL), 0);
	s.destroy_me = svc;
	n = sgbpf_wait(svc, 2000);
	/*
	 * The first completion destroys the service; the second request is
	 * reported cancelled, and the service is gone once the call returned.
	 */
	ck_assert_ptr_null(s.destroy_me);
	ck_assert_uint_eq(s.complete, 1);
	ck_assert_uint_eq(s.cancelled, 1);
	ck_assert_int_eq(n, 2);
	{
		LIBBPF_OPTS(bpf_xdp_query_opts, xq);

		ck_assert_int_eq(bpf_xdp_query(ifindex, 0, &xq), 0);
		ck_assert_msg(xq.prog_id == 0 && xq.skb_prog_id == 0 && xq.drv_prog_id == 0,
			      "the destroyed service is still attached");
	}
}
END_TEST

/* ---- 13: one thread at a time, not one thread for ever ---------------- */

struct hop {
	struct sgbpf_service *svc;
	int scattered, waited;
};

static void *scatter_one(void *arg)
{
	struct hop *h = arg;
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);

	h->scattered = sgbpf_scatter(h->svc, "h", 1, &so, NULL);
	return NULL;
}

static void *wait_and_scatter(void *arg)
{
	struct hop *h = arg;

	while (sgbpf_inflight(h->svc) && h->waited >= 0)
		h->waited = sgbpf_wait(h->svc, 2000);
	if (h->waited >= 0)
		scatter_one(h);
	while (sgbpf_inflight(h->svc) && h->waited >= 0)
		h->waited = sgbpf_wait(h->svc, 2000);
	return NULL;
}

START_TEST(test_thread_handover)
{
	struct seen s = { .want_resp = 4 };
	struct hop h = { 0 };
	pthread_t a, b;

	h.svc = make(&s, BASE, 4, SGBPF_DELIVERY_RINGBUF, SGBPF_FATE_ALLOW, 16);
	ck_assert_int_eq(pthread_create(&a, NULL, scatter_one, &h), 0);
	pthread_join(a, NULL);
	ck_assert_int_eq(h.scattered, 0);
	ck_assert_int_eq(pthread_create(&b, NULL, wait_and_scatter, &h), 0);
	pthread_join(b, NULL);
	ck_assert_msg(h.scattered == 0 && h.waited >= 0, "thread B: scatter %d, wait %d (%s)",
		      h.scattered, h.waited, sgbpf_last_error());
	ck_assert_uint_eq(s.complete, 2);
	ck_assert_uint_eq(s.short_resp, 0);
	/* And back to this thread. */
	scatter_one(&h);
	ck_assert_int_eq(h.scattered, 0);
	svc_wait_all(h.svc, 2000);
	ck_assert_uint_eq(s.complete, 3);
	ck_assert_uint_eq(s.short_resp, 0);
	sgbpf_service_destroy(h.svc);
}
END_TEST

/* ---- issue: the interface goes down, shrinks or disappears ------------ */

/* Requests in flight on slow workers; then cmd runs; all fail at once with err. */
static void fail_inflight(struct sgbpf_service *svc, struct seen *s, const char *cmd, int err)
{
	uint32_t before = s->failed;
	uint64_t t0;
	int ret = 0;

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(sgbpf_scatter(svc, "i", 1, NULL, NULL), 0);
	usleep(20000);
	ck_assert_int_eq(sh("%s", cmd), 0);
	t0 = sgbpf_now_ns();
	while (sgbpf_inflight(svc) && sgbpf_now_ns() - t0 < 2000000000ull) {
		ret = sgbpf_wait(svc, 100);
		if (ret < 0)
			break;
	}
	ck_assert_msg(sgbpf_inflight(svc) == 0, "%s: %u requests still in flight after 2 s", cmd,
		      sgbpf_inflight(svc));
	ck_assert_uint_eq(s->failed - before, 8);
	ck_assert_msg(sgbpf_now_ns() - t0 < 500000000ull, "%s: reported after %.0f ms", cmd,
		      (sgbpf_now_ns() - t0) / 1e6);
	ck_assert_int_eq(ret, err);
	ck_assert_int_eq(sgbpf_scatter(svc, "i", 1, NULL, NULL), err);
	ck_assert_msg(strstr(sgbpf_last_error(), ifname), "message: %s", sgbpf_last_error());
}

static void works_again(struct sgbpf_service *svc, struct seen *s)
{
	uint32_t before = s->complete;
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);
	int err = -EAGAIN;

	for (int tries = 0; tries < 100 && err; tries++) {
		err = sgbpf_scatter(svc, "w", 1, &so, NULL);
		if (err)
			usleep(10000);
	}
	ck_assert_msg(err == 0, "scatter after recovery: %d (%s)", err, sgbpf_last_error());
	svc_wait_all(svc, 3000);
	ck_assert_uint_eq(s->complete, before + 1);
}

/*
 * Another interface of the namespace changing is none of the service's
 * business: its descriptor must not poll readable for that.
 */
START_TEST(test_other_links_quiet)
{
	static const enum sgbpf_delivery modes[] = {
		SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_CTRL_FD,
	};

	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct seen s = { 0 };
		struct sgbpf_service *svc = make(&s, BASE, 4, modes[m], SGBPF_FATE_DISCARD, 16);
		struct pollfd pfd = { .fd = sgbpf_service_fd(svc), .events = POLLIN };
		int ready;

		ck_assert_int_ge(pfd.fd, 0);
		ck_assert_int_eq(sh("ip -n %s link add sgbq0 type veth peer name sgbq1",
				    coord->name), 0);
		for (int i = 0; i < 5; i++) {
			ck_assert_int_eq(sh("ip -n %s link set sgbq0 up", coord->name), 0);
			ck_assert_int_eq(sh("ip -n %s link set sgbq0 mtu %d", coord->name,
					    1400 + i), 0);
			ck_assert_int_eq(sh("ip -n %s link set sgbq0 down", coord->name), 0);
		}
		ck_assert_int_eq(sh("ip -n %s link del sgbq0", coord->name), 0);
		ready = poll(&pfd, 1, 100);
		ck_assert_msg(ready == 0, "mode %d: the service's descriptor polled readable "
			      "(0x%x) for another interface's events", modes[m], pfd.revents);
		/* Its own interface still counts. */
		ck_assert_int_eq(sh("ip -n %s link set dev %s mtu 1400", coord->name, ifname), 0);
		ready = poll(&pfd, 1, 1000);
		ck_assert_int_eq(sh("ip -n %s link set dev %s mtu 1500", coord->name, ifname), 0);
		ck_assert_msg(ready == 1, "mode %d: no wake-up for its own interface", modes[m]);
		sgbpf_service_destroy(svc);
	}
}
END_TEST

START_TEST(test_interface_changes)
{
	struct seen s = { 0 };
	struct sgbpf_service *svc = make(&s, SLOW_BASE, 4, SGBPF_DELIVERY_RINGBUF,
					 SGBPF_FATE_DISCARD, 64);
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip -n %s link set dev %s down", coord->name, ifname);
	fail_inflight(svc, &s, cmd, -ENETDOWN);
	ck_assert_int_eq(sh("ip -n %s link set dev %s up", coord->name, ifname), 0);
	works_again(svc, &s);

	snprintf(cmd, sizeof(cmd), "ip -n %s link set dev %s mtu 1400", coord->name, ifname);
	fail_inflight(svc, &s, cmd, -EMSGSIZE);
	ck_assert_int_eq(sh("ip -n %s link set dev %s mtu 1500", coord->name, ifname), 0);
	works_again(svc, &s);

	snprintf(cmd, sizeof(cmd), "ip -n %s link del dev %s", coord->name, ifname);
	fail_inflight(svc, &s, cmd, -ENODEV);
	sgbpf_service_destroy(svc);
}
END_TEST

/* The CLI: one line on stderr and exit 1 as soon as the interface is gone. */
START_TEST(test_cli_interface_removed)
{
	char path[] = "/tmp/sgbpf-core-workers-XXXXXX", cmd[1024], addr[16], err[4096];
	char errpath[] = "/tmp/sgbpf-core-err-XXXXXX";
	FILE *f, *p;
	uint64_t t0;
	int fd, st, lines = 0;
	size_t n;

	inet_ntop(AF_INET, &worker_ip, addr, sizeof(addr));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 4; i++)
		fprintf(f, "%s:%d\n", addr, BASE + i);
	fclose(f);
	fd = mkstemp(errpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s gather --dev %s --workers %s --count 100000000 "
		 "--inflight 4 --timeout-us 2000000 > /dev/null 2> %s", getenv("SGBPF_CLI"),
		 ifname, path, errpath);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	usleep(700000);
	ck_assert_int_eq(sh("ip -n %s link del dev %s", coord->name, ifname), 0);
	t0 = sgbpf_now_ns();
	st = pclose(p);
	ck_assert_msg(sgbpf_now_ns() - t0 < 1000000000ull, "the CLI took %.0f ms to stop",
		      (sgbpf_now_ns() - t0) / 1e6);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status %#x", st);
	f = fopen(errpath, "r");
	n = fread(err, 1, sizeof(err) - 1, f);
	fclose(f);
	err[n] = '\0';
	for (size_t i = 0; i < n; i++)
		lines += err[i] == '\n';
	ck_assert_msg(lines == 1 && strstr(err, ifname), "stderr: %s", err);
	unlink(path);
	unlink(errpath);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("service_core");
	TCase *tv = tcase_create("veth"), *tl = tcase_create("lo");

	tcase_add_checked_fixture(tv, setup_veth, teardown);
	tcase_add_checked_fixture(tl, setup_lo, teardown);
	tcase_set_timeout(tv, 60);
	tcase_set_timeout(tl, 60);
	tcase_add_test(tv, test_send_pending_keeps_slot);
	tcase_add_test(tv, test_failed_is_fenced);
	tcase_add_test(tv, test_other_links_quiet);
	tcase_add_test(tv, test_interface_changes);
	tcase_add_test(tv, test_cli_interface_removed);
	tcase_add_test(tl, test_lost_ctrl_notifications);
	tcase_add_test(tl, test_no_global_side_effects);
	tcase_add_test(tl, test_fallback_other_pid_namespace);
	tcase_add_test(tl, test_destroy_reports_inflight);
	tcase_add_test(tl, test_destroy_from_callback);
	tcase_add_test(tl, test_thread_handover);
	tcase_add_test(tl, test_wait_interrupted);
	tcase_add_test(tl, test_policy_n_above_workers);
	suite_add_tcase(s, tv);
	suite_add_tcase(s, tl);
	return netns_suite_run(s);
}
