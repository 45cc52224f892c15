// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The public service API and the backend-neutral core: request ids and
 * slots, completion policies, timeouts, delivery modes and results.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>

#include "error.h"
#include "service.h"
#include "workers_file.h"

uint64_t sgbpf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint32_t round_up_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static uint32_t endpoint_hash(uint32_t addr, uint16_t port)
{
	return (addr ^ ((uint32_t)port << 16 | port)) * 0x9e3779b1u;
}

int sgbpf_service_worker(const struct sgbpf_service *svc, uint32_t addr, uint16_t port)
{
	for (uint32_t h = endpoint_hash(addr, port);; h++) {
		uint32_t e = svc->worker_hash[h & svc->worker_hash_mask];

		if (e == 0)
			return -1;
		if (svc->workers[e - 1].addr == addr && svc->workers[e - 1].port == port)
			return e - 1;
	}
}

/*
 * Builds the endpoint index (user space looks workers up per reply in fate
 * allow mode) and, on the way, refuses a worker listed twice, which the
 * kernel would otherwise count twice.
 */
static int index_workers(struct sgbpf_service *svc)
{
	uint32_t size = 2;

	while (size < 2 * svc->nworkers)
		size <<= 1;
	svc->worker_hash = calloc(size, sizeof(*svc->worker_hash));
	if (!svc->worker_hash)
		return -ENOMEM;
	svc->worker_hash_mask = size - 1;
	for (uint32_t i = 0; i < svc->nworkers; i++) {
		const struct sgbpf_endpoint *w = &svc->workers[i];
		int dup = sgbpf_service_worker(svc, w->addr, w->port);
		uint32_t h = endpoint_hash(w->addr, w->port);

		if (dup >= 0)
			return sgbpf_err(-EINVAL, "worker %d and worker %u are the same endpoint",
					 dup, i);
		while (svc->worker_hash[h & svc->worker_hash_mask])
			h++;
		svc->worker_hash[h & svc->worker_hash_mask] = i + 1;
	}
	return 0;
}

static int load_workers(struct sgbpf_service *svc, const struct sgbpf_service_opts *opts)
{
	const char *file = OPTS_GET(opts, workers_file, NULL);
	const struct sgbpf_endpoint *arr = OPTS_GET(opts, workers, NULL);
	size_t n = OPTS_GET(opts, nworkers, 0);
	unsigned int bad_line = 0;
	int err;

	if (file && arr)
		return sgbpf_err(-EINVAL, "give workers as an array or as a file, not both");
	if (file) {
		err = sgbpf_workers_parse_file(file, &svc->workers, &n, &bad_line);
		if (err)
			return err;	/* the parser wrote the message */
	} else {
		if (!arr || n == 0)
			return sgbpf_err(-EINVAL, "a service needs at least one worker");
		if (n > SGBPF_MAX_WORKERS)
			return sgbpf_err(-E2BIG, "%zu workers given, at most %u are supported", n,
					 SGBPF_MAX_WORKERS);
		for (size_t i = 0; i < n; i++) {
			const char *why;
			char addr[INET_ADDRSTRLEN];

			if (arr[i].family != 0 && arr[i].family != AF_INET)
				return sgbpf_err(-EAFNOSUPPORT, "worker %zu: address family %u is "
						 "not supported (IPv4 only in this version)", i,
						 arr[i].family);
			why = sgbpf_endpoint_unusable(&arr[i]);

			if (why) {
				inet_ntop(AF_INET, &arr[i].addr, addr, sizeof(addr));
				return sgbpf_err(-EINVAL, "worker %zu (%s:%u): %s, no worker can "
						 "have it", i, addr, arr[i].port, why);
			}
		}
		svc->workers = malloc(n * sizeof(*arr));
		if (!svc->workers)
			return -ENOMEM;
		memcpy(svc->workers, arr, n * sizeof(*arr));
		for (size_t i = 0; i < n; i++)
			svc->workers[i].family = AF_INET;
	}
	svc->nworkers = n;
	return index_workers(svc);
}

struct sgbpf_service *sgbpf_service_create(const struct sgbpf_service_opts *opts)
{
	struct sgbpf_service *svc;
	uint32_t inflight;
	int err;

	if (!opts || opts->sz < offsetof(struct sgbpf_service_opts, on_complete) + sizeof(void *)) {
		errno = -sgbpf_err(-EINVAL, "service options missing or too old (use SGBPF_OPTS)");
		return NULL;
	}
	if (!opts->on_complete) {
		errno = -sgbpf_err(-EINVAL, "a completion callback (on_complete) is required");
		return NULL;
	}
	if ((unsigned int)opts->delivery > SGBPF_DELIVERY_BUSY_WAIT ||
	    (unsigned int)opts->fate > SGBPF_FATE_ALLOW ||
	    (unsigned int)opts->reduce >= __SGBPF_REDUCE_MAX ||
	    (unsigned int)opts->xdp_mode > SGBPF_XDP_OFF) {
		errno = -sgbpf_err(-EINVAL, "unknown delivery mode, fate, reduction or XDP mode");
		return NULL;
	}
	svc = calloc(1, sizeof(*svc));
	if (!svc) {
		errno = ENOMEM;
		return NULL;
	}
	svc->notify_fd = -1;
	svc->delivery = opts->delivery;
	svc->fate = opts->fate;
	svc->reduce = opts->reduce;
	svc->on_complete = opts->on_complete;
	svc->cb_ctx = opts->cb_ctx;
	svc->max_packets = OPTS_GET(opts, max_packets, 0);
	if (svc->max_packets == 0)
		svc->max_packets = 1;
	svc->chunk = OPTS_GET(opts, chunk_bytes, 0);
	if (svc->max_packets > SGBPF_MAX_PACKETS_PER_REPLY) {
		err = sgbpf_err(-EINVAL, "max_packets %u is above the limit of %u",
				svc->max_packets, SGBPF_MAX_PACKETS_PER_REPLY);
		goto err_free;
	}

	switch (opts->backend) {
	case SGBPF_BACKEND_UDP:
		svc->ops = &sgbpf_udp_backend;
		break;
	case SGBPF_BACKEND_TCP:
		svc->ops = &sgbpf_tcp_backend;
		break;
	default:
		err = sgbpf_err(-EINVAL, "unknown backend %d", opts->backend);
		goto err_free;
	}

	err = load_workers(svc, opts);
	if (err)
		goto err_free;

	inflight = OPTS_GET(opts, max_inflight, 0);
	if (inflight == 0)
		inflight = svc->ops->default_inflight ? svc->ops->default_inflight(svc, opts) :
							 SGBPF_DEFAULT_INFLIGHT;
	if (inflight > SGBPF_MAX_INFLIGHT) {
		err = sgbpf_err(-EINVAL, "max_inflight %u is above the limit of %u", inflight,
				SGBPF_MAX_INFLIGHT);
		goto err_free;
	}
	err = sgbpf_reqtab_init(&svc->reqs, round_up_pow2(inflight));
	if (err)
		goto err_free;

	svc->reply_budget = OPTS_GET(opts, reply_budget, 0);
	if (svc->reply_budget) {
		if (!svc->ops->stage || !svc->ops->launch) {
			err = sgbpf_err(-EOPNOTSUPP, "the %s backend has no reply budget",
					svc->ops->name);
			goto err_reqs;
		}
		svc->held = calloc(svc->reqs.nslots, sizeof(*svc->held));
		if (!svc->held) {
			err = -ENOMEM;
			goto err_reqs;
		}
	}
	err = svc->ops->create(svc, opts);
	if (err)
		goto err_reqs;
	svc->info.nworkers = svc->nworkers;
	svc->info.max_inflight = svc->reqs.limit;
	svc->info.elem_size = svc->elem_size;
	return svc;

err_reqs:
	free(svc->held);
	sgbpf_reqtab_free(&svc->reqs);
err_free:
	free(svc->worker_hash);
	free(svc->workers);
	free(svc);
	errno = -err;
	return NULL;
}

static uint32_t needed_for(const struct sgbpf_service *svc, const struct sgbpf_scatter_opts *o)
{
	switch (OPTS_GET(o, policy, SGBPF_POLICY_ALL)) {
	case SGBPF_POLICY_ANY:
		return 1;
	case SGBPF_POLICY_N:
		return OPTS_GET(o, n, 0);
	default:
		return svc->nworkers;
	}
}

/*
 * Sends a complete request's result back to every worker.  A failure is
 * counted, not reported: the request itself completed, and its result is
 * the caller's either way.
 */
static void allgather(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
		      const struct sgbpf_result *res)
{
	if (svc->ops->allgather(svc, slot, req_id, res->data,
				(size_t)res->nelems * res->elem_size) < 0)
		svc->allgather_failures++;
	else
		svc->allgathers++;
}

/* Datagrams one request's replies may take: every packet of every worker. */
static uint32_t request_replies(const struct sgbpf_service *svc)
{
	return svc->nworkers * svc->max_packets;
}

/* Hands a finished request to the application and frees its slot. */
static void report(struct sgbpf_service *svc, struct sgbpf_req *r, enum sgbpf_status status)
{
	uint32_t slot = sgbpf_reqtab_slot(&svc->reqs, r->req_id);
	struct sgbpf_slot_result ks = { 0 };
	struct sgbpf_result res = {
		.req_id = r->req_id,
		.status = status,
		.latency_ns = sgbpf_now_ns() - r->start_ns,
		.user_ctx = r->user_ctx,
		.retries = r->retries,
	};

	/* Its workers' replies are in (or no longer awaited): the budget is free. */
	if (r->on_wire) {
		svc->wire_replies -= r->launched;
		r->on_wire = false;
	}
	r->held = false;	/* a held request leaves the FIFO lazily */
	svc->ops->slot_result(svc, slot, r->req_id, status == SGBPF_STATUS_COMPLETE, &ks);
	res.duplicates = ks.duplicates;
	res.responses = ks.responses;
	if (status == SGBPF_STATUS_COMPLETE) {
		res.elem_size = ks.elem_size;
		res.nelems = ks.nelems;
		res.data = ks.data;
		/* While the slot still holds the result: the kernel sends it from there. */
		if (r->all_gather)
			allgather(svc, slot, r->req_id, &res);
	} else if (status == SGBPF_STATUS_EXPIRED) {
		svc->expired++;
	}
	if (svc->fate == SGBPF_FATE_ALLOW)
		res.resp = svc->ops->responses(svc, slot, &res.nresp);
	if (svc->delivery == SGBPF_DELIVERY_BLOCK && r->req_id == svc->block_wait_id)
		svc->block_done = true;
	svc->reported++;
	svc->on_complete(&res, svc->cb_ctx);
	if (svc->fate == SGBPF_FATE_ALLOW)
		svc->ops->release_responses(svc, slot);
	sgbpf_reqtab_release(&svc->reqs, slot);
}

/* The kernel's view of r's slot. */
static enum sgbpf_slot_view slot_view(const struct sgbpf_service *svc, const struct sgbpf_req *r)
{
	return svc->ops->slot_view(svc, sgbpf_reqtab_slot(&svc->reqs, r->req_id), r->req_id);
}

/* Replies the kernel counted when r's slot completed. */
static uint32_t slot_packets(const struct sgbpf_service *svc, const struct sgbpf_req *r)
{
	struct sgbpf_slot_result ks = { 0 };

	svc->ops->slot_result(svc, sgbpf_reqtab_slot(&svc->reqs, r->req_id), r->req_id, false, &ks);
	return ks.packets;
}

/*
 * Closes r's slot to the kernel before user space lets go of it.  The
 * compare-and-swap races with the kernel's own ACTIVE -> MERGING: whichever
 * wins decides, so a request is never reported both ways, and once closed
 * no reply of r's id touches the slot again.  A merge already under way
 * finishes in microseconds; it is waited for, so that it can never write
 * its result over a newer request that reuses the slot.  Returns true when
 * the kernel completed r first (its result is in the slot).
 *
 * A slot the scatter never opened holds another id's state: nothing of r
 * can be in it, and nothing of r can reach it later either, because r's
 * send completed before sgbpf_scatter() returned (each backend's scatter
 * waits for its sends).
 */
static bool slot_fence(struct sgbpf_service *svc, struct sgbpf_req *r)
{
	if (svc->ops->slot_close(svc, sgbpf_reqtab_slot(&svc->reqs, r->req_id), r->req_id))
		return false;
	while (slot_view(svc, r) == SGBPF_VIEW_MERGING)
		sched_yield();
	return slot_view(svc, r) == SGBPF_VIEW_COMPLETE;
}

/*
 * Reports a request that did not complete with status, after fencing its
 * slot; one the kernel completed meanwhile is reported complete instead.
 * Every report but a kernel-announced completion goes through here.
 */
static void finish(struct sgbpf_service *svc, struct sgbpf_req *r, enum sgbpf_status status)
{
	if (r->kernel_done) {
		svc->pending--;
		report(svc, r, SGBPF_STATUS_COMPLETE);
		return;
	}
	report(svc, r, slot_fence(svc, r) ? SGBPF_STATUS_COMPLETE : status);
}

void sgbpf_service_send_failed(struct sgbpf_service *svc, uint32_t req_id)
{
	struct sgbpf_req *r = sgbpf_reqtab_find(&svc->reqs, req_id);

	if (r) {
		r->failed = true;
		svc->send_failures++;
	}
}

/* Replies lost on the way up (full socket buffer) must not hold a report forever. */
#define ALLOW_GRACE_NS (100 * 1000 * 1000ull)

/* Fate allow: has user space read (or lost for good) every reply the kernel counted? */
static bool replies_in(struct sgbpf_service *svc, const struct sgbpf_req *r, uint32_t slot)
{
	uint32_t have = svc->ops->rx_count(svc, slot);

	if (svc->ops->rx_lost)
		have += svc->ops->rx_lost(svc, slot);
	return have >= slot_packets(svc, r);
}

/*
 * The kernel completed r.  With fate allow the replies it let through may
 * still be on their way up the stack, or waiting in a socket behind other
 * requests' replies: the report is held until user space has read as many
 * as the kernel counted.  A held request is no longer timed: the kernel
 * met its deadline, and expiring it now would hide replies that arrived.
 */
static void kernel_completed(struct sgbpf_service *svc, struct sgbpf_req *r)
{
	uint32_t slot = sgbpf_reqtab_slot(&svc->reqs, r->req_id);

	if (svc->fate == SGBPF_FATE_ALLOW && !replies_in(svc, r, slot)) {
		r->kernel_done = true;
		r->done_ns = sgbpf_now_ns();
		svc->pending++;
		sgbpf_reqtab_stop_timers(&svc->reqs, slot);
		return;
	}
	report(svc, r, SGBPF_STATUS_COMPLETE);
}

void sgbpf_service_on_complete(struct sgbpf_service *svc, uint32_t req_id)
{
	struct sgbpf_req *r = sgbpf_reqtab_find(&svc->reqs, req_id);

	/* Already reported (expired first) or not ours: nothing to do. */
	if (!r || r->kernel_done || slot_view(svc, r) != SGBPF_VIEW_COMPLETE)
		return;
	kernel_completed(svc, r);
}

void sgbpf_service_lost_events(struct sgbpf_service *svc)
{
	svc->next_scan_ns = 0;
}

/* Fails every request in flight at once (the interface went away). */
static void fail_inflight(struct sgbpf_service *svc)
{
	while (svc->reqs.inflight && !svc->destroy_pending)
		finish(svc, &svc->reqs.reqs[sgbpf_reqtab_live(&svc->reqs, 0)],
		       SGBPF_STATUS_FAILED);
}

void sgbpf_service_link_changed(struct sgbpf_service *svc, int err, const char *msg)
{
	/* A removed interface does not come back: its programs went with it. */
	if (svc->link_err == -ENODEV || svc->link_err == err)
		return;
	svc->link_err = err;
	snprintf(svc->link_msg, sizeof(svc->link_msg), "%s", err ? msg : "");
	if (err)
		fail_inflight(svc);
}

/*
 * Held completions whose replies are in, or, where the backend may lose
 * them on the way up, whose grace ran out: reported without the missing
 * ones then (nresp < responses).
 */
static void report_pending(struct sgbpf_service *svc)
{
	uint64_t now = sgbpf_now_ns();

	for (uint32_t i = 0; svc->pending && i < svc->reqs.inflight && !svc->destroy_pending;) {
		uint32_t slot = sgbpf_reqtab_live(&svc->reqs, i);
		struct sgbpf_req *r = &svc->reqs.reqs[slot];

		if (r->kernel_done && (replies_in(svc, r, slot) ||
				       (!svc->ops->rx_lost && now - r->done_ns > ALLOW_GRACE_NS))) {
			svc->pending--;
			report(svc, r, SGBPF_STATUS_COMPLETE);
			continue;
		}
		i++;
	}
}

/*
 * Gives up on a request whose deadline passed, unless the kernel completed
 * it meanwhile (its notification not read yet): that one is complete, and
 * with fate allow it waits for its replies like any other completion.
 */
static void expire(struct sgbpf_service *svc, struct sgbpf_req *r)
{
	if (r->kernel_done)
		finish(svc, r, SGBPF_STATUS_COMPLETE);
	else if (slot_fence(svc, r))
		kernel_completed(svc, r);
	else
		report(svc, r, r->failed ? SGBPF_STATUS_FAILED : SGBPF_STATUS_EXPIRED);
}

/*
 * A request whose re-scatter time came: sends it again to the workers that
 * have not answered, and sets the next one.  Only while the kernel still
 * gathers for it: a completion waits for its notification or the scan, a
 * failed send for the scan, and a slot the scatter never opened would take
 * no re-scatter (the kernel refuses those anyway).  A re-scatter whose send
 * fails is counted; the request keeps its deadline and its remaining ones.
 */
static void rescatter(struct sgbpf_service *svc, struct sgbpf_req *r, uint64_t now)
{
	uint32_t slot = sgbpf_reqtab_slot(&svc->reqs, r->req_id);
	int sent;

	r->retries_left--;
	sgbpf_reqtab_set_retry(&svc->reqs, slot, r->retries_left ? now + r->retry_interval_ns : 0);
	if (r->failed || r->kernel_done ||
	    slot_view(svc, r) != SGBPF_VIEW_ACTIVE)
		return;
	sent = svc->ops->rescatter(svc, slot, r->req_id);
	if (sent < 0) {
		svc->retry_failures++;
	} else if (sent > 0) {
		r->retries++;
		svc->retries++;
	}
}

/*
 * The timers that fell due, earliest first: re-scatters, and deadlines,
 * which win when both are due.  Every delivery mode runs them from its
 * wait, so re-scatters need no thread of their own.
 */
static void timers_due(struct sgbpf_service *svc)
{
	uint64_t now = sgbpf_now_ns();
	int slot;

	while (!svc->destroy_pending && (slot = sgbpf_reqtab_due(&svc->reqs, now)) >= 0) {
		struct sgbpf_req *r = &svc->reqs.reqs[slot];

		if (r->deadline_ns && r->deadline_ns <= now)
			expire(svc, r);
		else
			rescatter(svc, r, now);
	}
}

/*
 * Looks at the in-flight slots in the shared mapping, no system call: failed
 * sends, and completions whose notification never arrived.  Busy-wait
 * delivery does it on every round; the other modes every SCAN_NS and when a
 * backend saw notifications lost, so that no completion depends on one.
 */
static void scan_slots(struct sgbpf_service *svc)
{
	for (uint32_t i = 0; i < svc->reqs.inflight && !svc->destroy_pending;) {
		struct sgbpf_req *r = &svc->reqs.reqs[sgbpf_reqtab_live(&svc->reqs, i)];

		if (r->failed) {
			finish(svc, r, SGBPF_STATUS_FAILED);
			continue;	/* the live array moved another slot into i */
		}
		if (!r->kernel_done &&
		    slot_view(svc, r) == SGBPF_VIEW_COMPLETE) {
			uint32_t before = svc->reqs.inflight;

			if (svc->delivery != SGBPF_DELIVERY_BUSY_WAIT)
				svc->unannounced++;

			sgbpf_service_on_complete(svc, r->req_id);
			if (svc->reqs.inflight != before)
				continue;
		}
		i++;
	}
	svc->send_failures = 0;
}

/* How often the slots are looked at for completions nobody announced. */
#define SCAN_NS (20 * 1000 * 1000ull)

/* The periodic look: the backend's interface check, then the slots. */
static void maintain(struct sgbpf_service *svc, uint64_t now)
{
	if (now < svc->next_scan_ns)
		return;
	svc->next_scan_ns = now + SCAN_NS;
	if (svc->ops->maintain)
		svc->ops->maintain(svc);
	scan_slots(svc);
}

int sgbpf_next_timeout_ms(const struct sgbpf_service *svc)
{
	uint64_t d, now;

	if (!svc)
		return -1;
	/*
	 * A completion held for its replies (microseconds away), a failed send
	 * or a failed interface: there is something to report now.
	 */
	if (svc->pending || svc->send_failures || (svc->link_err && svc->reqs.inflight))
		return 0;
	if (!svc->reqs.inflight)
		return -1;
	now = sgbpf_now_ns();
	d = sgbpf_reqtab_next_timer(&svc->reqs);
	/* Come back for the periodic look at the slots even without a timer. */
	if (!d || d > svc->next_scan_ns)
		d = svc->next_scan_ns;
	if (d <= now)
		return 0;
	/* Round up: waking early would only spin. */
	return (int)((d - now + 999999) / 1000000);
}

/* How long a blocking wait may sleep: the caller's bound or the next deadline. */
static int effective_timeout(const struct sgbpf_service *svc, int timeout_ms)
{
	int next = sgbpf_next_timeout_ms(svc);

	if (next < 0)
		return timeout_ms;
	if (timeout_ms < 0 || next < timeout_ms)
		return next;
	return timeout_ms;
}

/* The interface's failure as an error of this call, with its sentence. */
static int link_error(struct sgbpf_service *svc)
{
	return sgbpf_err(svc->link_err, "%s", svc->link_msg);
}

/*
 * Reply budget.  Copies of requests go out only while the replies awaited
 * -- copies sent to workers whose replies have not been folded yet -- stay
 * within the budget.  Requests wait, staged, in a FIFO; the head goes out
 * in whole scatter batches as room appears, so a fan-out above the budget
 * is sent in parts, the next part once the replies of the first are in.
 * The replies of a request stop counting when they are folded, or when it
 * is reported (an expired request's late replies may still take a place in
 * the ring: a bounded error).  When nothing at all is awaited the head gets
 * at least one batch, so a budget below a batch still makes progress.
 */
static void put_on_wire(struct sgbpf_service *svc, struct sgbpf_req *r, uint32_t copies)
{
	r->on_wire = true;
	r->launched += copies;
	svc->wire_replies += copies;
}

/* Replies awaited now: copies sent less the replies already folded. */
static uint32_t awaited(const struct sgbpf_service *svc)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < svc->reqs.inflight; i++) {
		uint32_t slot = sgbpf_reqtab_live(&svc->reqs, i);
		const struct sgbpf_req *r = &svc->reqs.reqs[slot];
		struct sgbpf_slot_result ks = { 0 };

		if (!r->on_wire)
			continue;
		svc->ops->slot_result(svc, slot, r->req_id, false, &ks);
		n += r->launched - (ks.responses < r->launched ? ks.responses : r->launched);
	}
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/*
 * Copies the budget lets out now; 0 with *idle false when none.  The budget
 * is in datagrams: a copy brings up to max_packets of them, and a worker
 * counts as folded only with all of its packets.
 */
static uint32_t budget_room(const struct sgbpf_service *svc, uint32_t want, bool *idle)
{
	uint64_t k = request_replies(svc) / svc->nworkers, out = svc->wire_replies;

	/* The sum of copies sent bounds what is awaited; count exactly only if it matters. */
	if (out * k > svc->reply_budget || svc->reply_budget - out * k < (uint64_t)want * k)
		out = awaited(svc);
	*idle = out == 0;
	return out * k >= svc->reply_budget ? 0 : (uint32_t)((svc->reply_budget - out * k) / k);
}

static bool held_live(const struct sgbpf_service *svc, uint64_t e)
{
	const struct sgbpf_req *r = &svc->reqs.reqs[e >> 32];

	return r->busy && r->held && r->req_id == (uint32_t)e;
}

/* Queues a staged request behind the others held (the FIFO has a place per slot). */
static void hold(struct sgbpf_service *svc, struct sgbpf_req *r, uint32_t slot)
{
	uint32_t tail;

	/*
	 * Entries of requests reported while held stay until they reach the
	 * head.  Full means some are such: keep only the live ones, which are
	 * fewer than the slots (this request's slot is not among them).
	 */
	if (svc->held_len == svc->reqs.nslots) {
		uint32_t kept = 0;

		for (uint32_t i = 0; i < svc->held_len; i++) {
			uint64_t e = svc->held[(svc->held_head + i) & svc->reqs.mask];

			if (held_live(svc, e))
				svc->held[(svc->held_head + kept++) & svc->reqs.mask] = e;
		}
		svc->held_len = kept;
	}
	tail = (svc->held_head + svc->held_len) & svc->reqs.mask;

	svc->held[tail] = (uint64_t)slot << 32 | r->req_id;
	svc->held_len++;
	r->held = true;
}

/* Is the head of the FIFO a request sent in part?  Then replies are polled for. */
static bool head_partial(const struct sgbpf_service *svc)
{
	uint64_t e;

	if (!svc->held_len)
		return false;
	e = svc->held[svc->held_head];
	return held_live(svc, e) && svc->reqs.reqs[e >> 32].on_wire;
}

/*
 * Sends what the budget now lets out, oldest request first.  An entry whose
 * request was reported meanwhile (expired while held, or cancelled) is
 * dropped.  A launch that fails makes the request fail, like a failed
 * scatter, at the next look at the slots; what it had sent still counts.
 */
static void launch_held(struct sgbpf_service *svc)
{
	while (svc->held_len && !svc->destroy_pending) {
		uint64_t e = svc->held[svc->held_head];
		uint32_t slot = (uint32_t)(e >> 32), id = (uint32_t)e;
		struct sgbpf_req *r = &svc->reqs.reqs[slot];
		uint32_t room;
		bool idle;
		int sent;

		/* The rest of a request that completed or expired meanwhile is not sent. */
		if (held_live(svc, e) && r->on_wire && slot_view(svc, r) != SGBPF_VIEW_ACTIVE) {
			r->held = false;
		} else if (held_live(svc, e)) {
			room = budget_room(svc, svc->nworkers - r->launched, &idle);
			sent = svc->ops->launch(svc, slot, id, room, idle);
			if (sent < 0) {
				r->failed = true;
				svc->send_failures++;
			} else {
				if (sent)
					put_on_wire(svc, r, (uint32_t)sent);
				if (r->launched < svc->nworkers)
					return;	/* the rest when there is room */
				if (r->retries_left)
					sgbpf_reqtab_set_retry(&svc->reqs, slot,
							       sgbpf_now_ns() + r->retry_interval_ns);
			}
			r->held = false;
		}
		svc->held_head = (svc->held_head + 1) & svc->reqs.mask;
		svc->held_len--;
	}
}

static int do_wait(struct sgbpf_service *svc, int timeout_ms)
{
	uint64_t until = timeout_ms > 0 ? sgbpf_now_ns() + (uint64_t)timeout_ms * 1000000 : 0;
	bool interrupted = false;
	int err;

	svc->reported = 0;
	/* While the interface is unusable, look at it again on every call. */
	if (svc->link_err && svc->ops->maintain)
		svc->ops->maintain(svc);
	for (;;) {
		err = svc->ops->reap(svc);
		if (err < 0)
			return err;
		if (svc->pending)
			report_pending(svc);
		if (svc->delivery == SGBPF_DELIVERY_BUSY_WAIT) {
			scan_slots(svc);
		} else {
			/*
			 * Replies of a completed request are microseconds away: the
			 * backend waits for them, not for kernel events, for at most
			 * a millisecond at a time.
			 */
			/*
			 * A request sent in part waits for its first replies to be
			 * folded, which nothing announces: poll for them.
			 */
			bool partial = head_partial(svc);
			int t = svc->reported || partial ? 0 :
				svc->pending ? 1 : effective_timeout(svc, timeout_ms);

			if (partial)
				sched_yield();	/* the receive work may share this CPU */

			if (t > 0 && until) {
				uint64_t now = sgbpf_now_ns();
				int left = now >= until ? 0 : (int)((until - now + 999999) / 1000000);

				t = left < t ? left : t;
			}
			if (svc->reqs.inflight == 0 || svc->destroy_pending)
				break;	/* nothing could arrive */
			err = svc->ops->wait_events(svc, t);
			if (err == -EINTR)
				interrupted = true;
			else if (err < 0)
				return err;
			if (svc->send_failures)
				scan_slots(svc);
		}
		maintain(svc, sgbpf_now_ns());
		timers_due(svc);
		if (svc->held_len)
			launch_held(svc);
		if (svc->reported || timeout_ms == 0 || svc->destroy_pending || svc->link_err ||
		    interrupted)
			break;
		if (svc->reqs.inflight == 0 && svc->delivery == SGBPF_DELIVERY_BUSY_WAIT)
			break;
		if (until && sgbpf_now_ns() >= until)
			break;
	}
	if (svc->link_err && !svc->destroy_pending)
		return link_error(svc);
	/* A signal the application handles ends the wait, as it ends epoll_wait(). */
	if (interrupted && !svc->reported)
		return -EINTR;
	return svc->reported;
}

/*
 * Reports every request still in flight (fenced: complete when the kernel
 * completed it, else cancelled), then frees the service.  Returns how many
 * it reported.
 */
static int destroy_now(struct sgbpf_service *svc)
{
	int n = 0;

	svc->destroying = true;
	svc->destroy_pending = false;
	while (svc->reqs.inflight) {
		finish(svc, &svc->reqs.reqs[sgbpf_reqtab_live(&svc->reqs, 0)],
		       SGBPF_STATUS_CANCELLED);
		n++;
	}
	svc->ops->destroy(svc);
	free(svc->held);
	sgbpf_reqtab_free(&svc->reqs);
	free(svc->worker_hash);
	free(svc->workers);
	free(svc);
	return n;
}

void sgbpf_service_destroy(struct sgbpf_service *svc)
{
	if (!svc || svc->destroying)
		return;	/* a cancellation callback destroying again */
	/*
	 * From inside a callback the library is still using the service: it
	 * is destroyed when the outermost call that ran the callback returns.
	 */
	if (svc->depth) {
		svc->destroy_pending = true;
		return;
	}
	destroy_now(svc);
}

/* Refuses calls on a service being destroyed. */
static int check_usable(const struct sgbpf_service *svc)
{
	if (!svc)
		return -EINVAL;
	if (svc->destroying || svc->destroy_pending)
		return sgbpf_err(-ESHUTDOWN, "the service is being destroyed");
	return 0;
}

int sgbpf_wait(struct sgbpf_service *svc, int timeout_ms)
{
	int ret = check_usable(svc);

	if (ret)
		return ret;
	svc->depth++;
	ret = do_wait(svc, timeout_ms);
	if (--svc->depth == 0 && svc->destroy_pending) {
		int n = svc->reported;	/* read before svc is freed */

		n += destroy_now(svc);
		return ret < 0 ? ret : n;
	}
	return ret;
}

int sgbpf_poll(struct sgbpf_service *svc)
{
	return sgbpf_wait(svc, 0);
}

/* Sends one request whose arguments were checked; in block mode, waits for it. */
static int scatter(struct sgbpf_service *svc, const void *body, size_t len, uint32_t needed,
		   const struct sgbpf_scatter_opts *opts, uint32_t *req_id)
{
	uint64_t timeout_us = OPTS_GET(opts, timeout_us, 0);
	uint64_t retry_us = OPTS_GET(opts, retry_us, 0);
	struct sgbpf_req *r;
	uint32_t id;
	int slot, err;

	/* Recovered since?  The backend looks at the interface again. */
	if (svc->link_err && svc->ops->maintain)
		svc->ops->maintain(svc);
	if (svc->link_err)
		return link_error(svc);

	slot = sgbpf_reqtab_alloc(&svc->reqs, sgbpf_now_ns(), timeout_us * 1000,
				  OPTS_GET(opts, user_ctx, NULL), &id);
	if (slot < 0)
		return sgbpf_err(slot, "%u requests already in flight", svc->reqs.inflight);
	r = &svc->reqs.reqs[slot];
	r->all_gather = OPTS_GET(opts, all_gather, false);
	if (svc->reply_budget) {
		bool idle;

		/* Requests held earlier go first, if the budget lets them now. */
		if (svc->held_len)
			launch_held(svc);
		if (!svc->held_len && budget_room(svc, svc->nworkers, &idle) >= svc->nworkers) {
			err = svc->ops->scatter(svc, slot, id, needed, body, len);
			if (!err)
				put_on_wire(svc, r, svc->nworkers);
		} else {
			err = svc->ops->stage(svc, slot, id, needed, body, len);
			if (!err) {
				hold(svc, r, slot);
				launch_held(svc);
				if (r->held)
					svc->deferred++;
			}
		}
	} else {
		err = svc->ops->scatter(svc, slot, id, needed, body, len);
		if (!err)
			put_on_wire(svc, r, svc->nworkers);
	}
	if (err) {
		/* The send failed and is complete: fence the slot like any release. */
		slot_fence(svc, &svc->reqs.reqs[slot]);
		sgbpf_reqtab_release(&svc->reqs, slot);
		return err;
	}
	if (retry_us) {
		uint32_t retries = OPTS_GET(opts, retries, 0);

		r->retry_interval_ns = retry_us * 1000;
		r->retries_left = retries ? retries : 1;
		/* A held request's first re-scatter counts from its launch. */
		if (!r->held)
			sgbpf_reqtab_set_retry(&svc->reqs, slot, r->start_ns + r->retry_interval_ns);
	}
	if (req_id)
		*req_id = id;
	if (svc->delivery != SGBPF_DELIVERY_BLOCK)
		return 0;

	svc->block_wait_id = id;
	svc->block_done = false;
	while (!svc->block_done && !svc->destroy_pending) {
		err = do_wait(svc, -1);
		if (err < 0)
			return err;
	}
	return 0;
}

int sgbpf_scatter(struct sgbpf_service *svc, const void *body, size_t len,
		  const struct sgbpf_scatter_opts *opts, uint32_t *req_id)
{
	uint32_t needed;
	int ret;

	if (!svc || (!body && len))
		return -EINVAL;
	if (len > svc->body_max && !svc->mtu)
		return sgbpf_err(-EMSGSIZE, "a %s message body holds at most %u bytes, got %zu",
				 svc->ops->name, svc->body_max, len);
	if (len > svc->body_max)
		return sgbpf_err(-EMSGSIZE, "a message body holds at most %u bytes with this "
				 "interface's MTU of %u, got %zu", svc->body_max, svc->mtu, len);
	if (OPTS_GET(opts, policy, SGBPF_POLICY_ALL) > SGBPF_POLICY_N)
		return sgbpf_err(-EINVAL, "unknown completion policy");
	needed = needed_for(svc, opts);
	if (needed == 0 || needed > svc->nworkers)
		return sgbpf_err(-EINVAL, "policy N needs 1 <= n <= %u (the service's workers), "
				 "got %u", svc->nworkers, needed);
	if (OPTS_GET(opts, retry_us, 0)) {
		if (!svc->ops->rescatter)
			return sgbpf_err(-EOPNOTSUPP, "the %s backend cannot re-scatter",
					 svc->ops->name);
		if (OPTS_GET(opts, retry_us, 0) > SGBPF_MAX_RETRY_US)
			return sgbpf_err(-EINVAL, "retry_us is at most %llu (an hour)",
					 (unsigned long long)SGBPF_MAX_RETRY_US);
	}
	if (OPTS_GET(opts, all_gather, false)) {
		if (!svc->ops->allgather)
			return sgbpf_err(-EOPNOTSUPP, "the %s backend cannot all-gather",
					 svc->ops->name);
		if (svc->reduce == SGBPF_REDUCE_COUNT)
			return sgbpf_err(-EINVAL, "all-gather needs a reduction: a count has no "
					 "result to send back");
	}
	ret = check_usable(svc);
	if (ret)
		return ret;
	svc->depth++;
	ret = scatter(svc, body, len, needed, opts, req_id);
	if (--svc->depth == 0 && svc->destroy_pending)
		destroy_now(svc);	/* block mode: this request's callback ran there */
	return ret;
}

uint32_t sgbpf_inflight(const struct sgbpf_service *svc)
{
	return svc ? svc->reqs.inflight : 0;
}

int sgbpf_service_fd(const struct sgbpf_service *svc)
{
	if (!svc || svc->notify_fd < 0)
		return -EINVAL;
	return svc->notify_fd;
}

int sgbpf_service_stats(const struct sgbpf_service *svc, struct sgbpf_stats *out)
{
	int err;

	if (!svc || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	err = svc->ops->stats(svc, out);
	out->expired = svc->expired;
	out->retries = svc->retries;
	out->retry_failures = svc->retry_failures;
	out->deferred = svc->deferred;
	out->unannounced = svc->unannounced;
	out->allgathers = svc->allgathers;
	out->allgather_failures = svc->allgather_failures;
	return err;
}

int sgbpf_service_info(const struct sgbpf_service *svc, struct sgbpf_service_info *out)
{
	if (!svc || !out)
		return -EINVAL;
	*out = svc->info;
	return 0;
}
