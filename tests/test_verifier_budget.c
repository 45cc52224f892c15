// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What each program costs the verifier: over UDP the gather, the scatter and
 * the 16 built-in reductions, loaded as libsgbpf loads them with
 * multi-packet replies on (max_packets = SGBPF_MAX_PACKETS) and off; over
 * TCP the 15 built-in verdict programs; and both halves of the example
 * custom reduction (examples/sum_sat_u32).  The kernel refuses a program
 * past 1M processed instructions; each must stay well below (a quarter of
 * it), so that a change to the fold or the merge that grows them shows here
 * first.  The figures are printed, one line per program.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "sgbpf_tcp_stream_bpf.skel.h"
#include "sgbpf_udp.skel.h"
#include "suite_run.h"

#define LOG_BYTES	(1u << 20)
#define BUDGET		250000L	/* processed instructions; the kernel's limit is 1M */

static char *logbuf[64];

/* "processed N insns" from a verifier log with BPF_LOG_STATS, or -1. */
static long processed(const char *log)
{
	const char *p = log ? strstr(log, "processed ") : NULL;

	return p ? strtol(p + 10, NULL, 10) : -1;
}

static uint32_t xlated_insns(int fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.xlated_prog_len / 8;
}

/* Asks every autoloaded program of obj for its verifier statistics. */
static void want_stats(struct bpf_object *obj)
{
	struct bpf_program *prog;
	int i = 0;

	bpf_object__for_each_program(prog, obj) {
		ck_assert_int_lt(i, 64);
		logbuf[i] = calloc(1, LOG_BYTES);
		ck_assert_ptr_nonnull(logbuf[i]);
		bpf_program__set_log_buf(prog, logbuf[i], LOG_BYTES);
		bpf_program__set_log_level(prog, 4);	/* BPF_LOG_STATS */
		i++;
	}
}

/* On a refused load: the end of each refused program's log, for people. */
static void print_refusals(void)
{
	for (int i = 0; i < 64; i++) {
		size_t n = logbuf[i] ? strlen(logbuf[i]) : 0;

		if (n && !strstr(logbuf[i], "processed "))
			fprintf(stderr, "--- log %d ---\n%s\n", i, logbuf[i] + (n > 3000 ? n - 3000 : 0));
	}
}

static void report(struct bpf_object *obj, const char *what)
{
	struct bpf_program *prog;
	int i = 0;

	bpf_object__for_each_program(prog, obj) {
		long n = processed(logbuf[i]);

		if (bpf_program__autoload(prog)) {
			printf("verifier %-8s %-28s processed %7ld insns, xlated %5u\n", what,
			       bpf_program__name(prog), n, xlated_insns(bpf_program__fd(prog)));
			ck_assert_msg(n > 0, "%s: no verifier statistics", bpf_program__name(prog));
			ck_assert_msg(n < BUDGET, "%s: %ld processed instructions (budget %ld)",
				      bpf_program__name(prog), n, BUDGET);
		}
		free(logbuf[i]);
		logbuf[i++] = NULL;
	}
}

/* The embedded object with every built-in reduction loaded, sized as for max_packets. */
static void check_builtins(uint32_t max_packets, const char *what)
{
	struct sgbpf_udp *skel = sgbpf_udp__open();
	int err;

	ck_assert_ptr_nonnull(skel);
	ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.sgbpf_slots, 8), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.sgbpf_partials, 8 * max_packets), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.sgbpf_chunks,
						  max_packets > 1 ? 8 * (max_packets - 1) : 1), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(skel->maps.sgbpf_replies, 8 * 16), 0);
	want_stats(skel->obj);
	err = sgbpf_udp__load(skel);
	if (err)
		print_refusals();
	ck_assert_msg(err == 0, "loading: %s", strerror(-err));
	report(skel->obj, what);
	sgbpf_udp__destroy(skel);
}

START_TEST(test_builtin_budget)
{
	/* The verifier does not see the configuration: one figure covers both. */
	check_builtins(1, "1-packet");
	check_builtins(SGBPF_MAX_PACKETS, "multi");
}
END_TEST

START_TEST(test_tcp_builtin_budget)
{
	struct sgbpf_tcp_stream_bpf *skel = sgbpf_tcp_stream_bpf__open();
	int err;

	ck_assert_ptr_nonnull(skel);
	want_stats(skel->obj);
	err = sgbpf_tcp_stream_bpf__load(skel);
	if (err)
		print_refusals();
	ck_assert_msg(err == 0, "loading: %s", strerror(-err));
	report(skel->obj, "tcp");
	sgbpf_tcp_stream_bpf__destroy(skel);
}
END_TEST

/*
 * One backend's half of the example object, as libsgbpf loads it: only
 * that backend's programs, the other backend's maps not created.
 */
static void check_custom_half(const char *path, bool tcp, const char *what)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	ck_assert_msg(obj, "cannot open %s: %s", path, strerror(errno));
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, (bpf_program__type(prog) ==
						 BPF_PROG_TYPE_SK_SKB) == tcp);
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);

		if (strncmp(name, "sgbpf_", 6) == 0 &&
		    (strncmp(name, "sgbpf_tcp_", 10) == 0) != tcp)
			ck_assert_int_eq(bpf_map__set_autocreate(map, false), 0);
	}
	want_stats(obj);
	err = bpf_object__load(obj);
	if (err)
		print_refusals();
	ck_assert_msg(err == 0, "loading %s (%s): %s", path, what, strerror(-err));
	report(obj, what);
	bpf_object__close(obj);
}

START_TEST(test_custom_budget)
{
	const char *dir = getenv("SGBPF_BUILD_DIR");
	char path[4096];

	ck_assert_msg(dir, "SGBPF_BUILD_DIR is not set");
	snprintf(path, sizeof(path), "%s/bpf-udp/sum_sat_u32.bpf.o", dir);
	check_custom_half(path, false, "custom");
	check_custom_half(path, true, "custom");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verifier_budget");
	TCase *tc = tcase_create("budget");

	if (geteuid() != 0) {
		fprintf(stderr, "needs root to load BPF programs: skipped\n");
		return 77;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_builtin_budget);
	tcase_add_test(tc, test_tcp_builtin_budget);
	tcase_add_test(tc, test_custom_budget);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
