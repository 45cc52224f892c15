// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Ring-buffer wake-up batching (struct sgbpf_wake in udp_state.h).  While
 * the library runs on behalf of the application -- reading events,
 * reporting, scattering -- it says so in the mmap'ed awake word, and the
 * completions folded meanwhile are written to the ring buffer without a
 * wake-up: no irq_work, no self-interrupt, no wake of a task that is not
 * asleep.  Before the library sleeps or returns it clears the word and
 * reads what arrived unannounced, so no completion waits for the 20 ms
 * slot scan.  What it cannot read there (inside sgbpf_scatter(), which runs
 * no callbacks) it announces itself, by an eventfd in the service's epoll
 * set, so that an application polling sgbpf_service_fd() sees it too.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "error.h"
#include "service.h"
#include "sgbpf_udp.skel.h"
#include "udp/udp_backend.h"

int sgbpf_udp_wake_open(struct sgbpf_service *svc, struct sgbpf_udp_backend *b, uint64_t tag)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int rb_fd = bpf_map__fd(b->skel->maps.sgbpf_events);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	void *p;

	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(b->skel->maps.sgbpf_wake), 0);
	if (p == MAP_FAILED)
		return sgbpf_err(-errno, "cannot map the wake-up word: %s", strerror(errno));
	b->wake = p;
	/* The ring's positions, read-only: the consumer's page, then the producer's. */
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, rb_fd, 0);
	if (p == MAP_FAILED)
		return sgbpf_err(-errno, "cannot map the ring buffer's position: %s",
				 strerror(errno));
	b->rb_cons = p;
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, rb_fd, (off_t)page);
	if (p == MAP_FAILED)
		return sgbpf_err(-errno, "cannot map the ring buffer's position: %s",
				 strerror(errno));
	b->rb_prod = p;
	b->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->kick_fd < 0)
		return sgbpf_err(-errno, "cannot create an eventfd: %s", strerror(errno));
	if (epoll_ctl(svc->notify_fd, EPOLL_CTL_ADD, b->kick_fd, &ev))
		return sgbpf_err(-errno, "cannot watch the eventfd: %s", strerror(errno));
	return 0;
}

void sgbpf_udp_wake_close(struct sgbpf_udp_backend *b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (b->wake)
		munmap(b->wake, page);
	if (b->rb_cons)
		munmap((void *)b->rb_cons, page);
	if (b->rb_prod)
		munmap((void *)b->rb_prod, page);
	if (b->kick_fd >= 0)
		close(b->kick_fd);
	b->wake = NULL;
	b->rb_cons = b->rb_prod = NULL;
	b->kick_fd = -1;
}

void sgbpf_udp_awake(struct sgbpf_udp_backend *b)
{
	if (b->wake)
		__atomic_store_n(&b->wake->awake, 1, __ATOMIC_RELAXED);
}

/*
 * Clears awake; true when records are in the ring that no wake-up will
 * announce.  The exchange is a full barrier: a program that read awake set
 * had moved the producer position before, and it is seen here.
 */
static bool asleep_pending(struct sgbpf_udp_backend *b)
{
	__atomic_exchange_n(&b->wake->awake, 0, __ATOMIC_SEQ_CST);
	return __atomic_load_n(b->rb_prod, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(b->rb_cons, __ATOMIC_ACQUIRE);
}

/* A record being written: its producer is between reserve and submit, nanoseconds. */
#define WAKE_SPINS 4096

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

int sgbpf_udp_wake_leave(struct sgbpf_udp_backend *b, bool may_read)
{
	int n = 0;

	if (!b->wake || !asleep_pending(b))
		return 0;
	for (int i = 0; may_read && i < WAKE_SPINS; i++) {
		int k = ring_buffer__consume(b->rb);

		if (k < 0)
			return k;
		n += k;
		if (__atomic_load_n(b->rb_prod, __ATOMIC_ACQUIRE) ==
		    __atomic_load_n(b->rb_cons, __ATOMIC_ACQUIRE))
			return n;
		cpu_relax();
	}
	/* Unread (or not ours to read here): make the descriptor readable. */
	if (!b->kicked) {
		if (write(b->kick_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0 && errno != EAGAIN)
			return -errno;
		b->kicked = true;
	}
	return n;
}

void sgbpf_udp_wake_kicked(struct sgbpf_udp_backend *b)
{
	uint64_t v;

	/* Read back before the ring is read: a kick must not outlive its events. */
	if (b->kicked && read(b->kick_fd, &v, sizeof(v)) >= 0)
		b->kicked = false;
}
