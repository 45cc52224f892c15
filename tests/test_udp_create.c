// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Creating UDP services: what a service costs the kernel, and the checks on
 * custom reduction objects.
 *
 * Custom reduction objects are checked against the reduction ABI when a
 * service loads them: an object without the record SGBPF_ELEMENTWISE_REDUCER
 * writes, or with another ABI version, is refused with a message naming the
 * file; the element size comes from the object, and a reduce_elem_size
 * that contradicts it is refused.  Services are created on the lo of a
 * namespace made for the test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <bpf/libbpf.h>
#include <sgbpf/sgbpf.h>
#include <sgbpf/udp_state.h>

#include "netns_util.h"
#include "suite_run.h"

static struct netns ns;
static char objdir[512];

static void noop(const struct sgbpf_result *res, void *ctx)
{
	(void)res;
	(void)ctx;
}

static void setup(void)
{
	const char *build = getenv("SGBPF_BUILD_DIR");

	ck_assert_msg(build, "SGBPF_BUILD_DIR is not set (run through ctest)");
	snprintf(objdir, sizeof(objdir), "%s", build);
	ck_assert_int_eq(netns_create(&ns, "rabi"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	netns_delete(&ns);
}

/* Creates a count-free service with the object; returns it or NULL (errno set). */
static struct sgbpf_service *with_object(const char *rel, uint32_t elem_size)
{
	static const struct sgbpf_endpoint ep = { .addr = 0x0100007f, .port = 40000 };
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", objdir, rel);
	SGBPF_OPTS(sgbpf_service_opts, o, .ifname = "lo", .workers = &ep, .nworkers = 1,
		   .reduce = SGBPF_REDUCE_CUSTOM, .reduce_obj = path,
		   .reduce_elem_size = elem_size, .on_complete = noop, .max_inflight = 8);
	return sgbpf_service_create(&o);
}

static const struct abi_case {
	const char *obj;
	uint32_t elem_size;	/* asked for */
	int err;		/* 0: loads */
	uint32_t got_size;	/* when it loads */
	const char *msg;	/* part of the message when refused */
} cases[] = {
	{ "bpf-udp/sum_sat_u32.bpf.o", 0, 0, 4, NULL },
	{ "bpf-udp/sum_sat_u32.bpf.o", 4, 0, 4, NULL },
	{ "bpf-udp/sum_sat_u32.bpf.o", 8, EINVAL, 0, "folds 4-byte elements" },
	{ "tests/sum_u16.bpf.o", 0, 0, 2, NULL },
	{ "tests/sum_u16.bpf.o", 4, EINVAL, 0, "folds 2-byte elements" },
	{ "tests/no_abi.bpf.o", 0, EPROTO, 0, "carries no ABI record" },
	{ "tests/old_abi.bpf.o", 0, EPROTO, 0, "was built for reduction ABI" },
};

START_TEST(test_abi_check)
{
	const struct abi_case *c = &cases[_i];
	struct sgbpf_service_info info;
	struct sgbpf_service *svc = with_object(c->obj, c->elem_size);

	if (!c->err) {
		ck_assert_msg(svc, "%s: %s", c->obj, sgbpf_last_error());
		ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
		ck_assert_uint_eq(info.elem_size, c->got_size);
		sgbpf_service_destroy(svc);
		return;
	}
	ck_assert_msg(!svc, "%s with elem_size %u was accepted", c->obj, c->elem_size);
	ck_assert_msg(errno == c->err, "%s: errno %d, expected %d (%s)", c->obj, errno, c->err,
		      sgbpf_last_error());
	ck_assert_msg(strstr(sgbpf_last_error(), c->msg) && strstr(sgbpf_last_error(), c->obj),
		      "%s: message \"%s\"", c->obj, sgbpf_last_error());
}
END_TEST

/* Creates a service with a built-in reduction on lo; NULL on failure. */
static struct sgbpf_service *with_reduce(enum sgbpf_reduce r, uint32_t inflight)
{
	static const struct sgbpf_endpoint ep = { .addr = 0x0100007f, .port = 40000 };

	SGBPF_OPTS(sgbpf_service_opts, o, .ifname = "lo", .workers = &ep, .nworkers = 1,
		   .reduce = r, .on_complete = noop, .max_inflight = inflight);
	return sgbpf_service_create(&o);
}

static uint64_t kernel_bytes_of(enum sgbpf_reduce r, uint32_t inflight, uint32_t *limit)
{
	struct sgbpf_service *svc = with_reduce(r, inflight);
	struct sgbpf_service_info info;

	ck_assert_msg(svc, "service: %s", sgbpf_last_error());
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
	if (limit)
		*limit = info.max_inflight;
	sgbpf_service_destroy(svc);
	return info.kernel_bytes;
}

/*
 * The per-CPU partials dominate a reducing service's memory: slots x
 * possible CPUs x one partial.  The reported figure must follow that
 * formula, and a count-only service (no partials) must be far smaller.
 */
START_TEST(test_kernel_memory)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t small = kernel_bytes_of(SGBPF_REDUCE_SUM_U32, 64, NULL);
	uint64_t big = kernel_bytes_of(SGBPF_REDUCE_SUM_U32, 4096, NULL);
	uint64_t count = kernel_bytes_of(SGBPF_REDUCE_COUNT, 4096, NULL);
	uint64_t partials = (4096 - 64) * (uint64_t)ncpus * sizeof(struct sgbpf_partial);
	uint32_t limit;

	ck_assert_uint_gt(small, 0);
	/* Slots grow too (one struct sgbpf_slot each), so at least the partials. */
	ck_assert_msg(big - small >= partials && big - small < partials * 2,
		      "4096 slots take %llu bytes more than 64; partials alone are %llu",
		      (unsigned long long)(big - small), (unsigned long long)partials);
	ck_assert_msg(count < big - partials / 2, "count-only %llu bytes, sum %llu",
		      (unsigned long long)count, (unsigned long long)big);
	/* The default in-flight limit keeps the partials within 32 MiB. */
	kernel_bytes_of(SGBPF_REDUCE_SUM_U32, 0, &limit);
	ck_assert_uint_ge(limit, 64);
	ck_assert_msg(limit == 64 ||
		      (uint64_t)limit * ncpus * sizeof(struct sgbpf_partial) <= (32ull << 20),
		      "default limit %u on %d CPUs", limit, ncpus);
}
END_TEST

/* The TCP backend's options are refused by a UDP service, each by name. */
START_TEST(test_tcp_options_refused)
{
	struct sgbpf_endpoint w = { .addr = htonl(0x7f000001), .port = 9000 };
	SGBPF_OPTS(sgbpf_service_opts, o, .workers = &w, .nworkers = 1, .on_complete = noop);
	struct sgbpf_service *svc;

	o.listen = (struct sgbpf_endpoint){ .addr = htonl(0x7f000001), .port = 7000 };
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "listen"));
	o.listen = (struct sgbpf_endpoint){ 0 };
	o.max_reply = 1 << 20;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "max_reply"));
	o.max_reply = 0;
	o.connect_timeout_ms = 100;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "connect_timeout_ms"));
	/* Without them the same options make a service. */
	o.connect_timeout_ms = 0;
	svc = sgbpf_service_create(&o);
	ck_assert_msg(svc, "%s", sgbpf_last_error());
	sgbpf_service_destroy(svc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("udp_create");
	TCase *tc = tcase_create("create");
	int skip = netns_check_privileges();

	if (skip)
		return skip;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_abi_check, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_kernel_memory);
	tcase_add_test(tc, test_tcp_options_refused);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
