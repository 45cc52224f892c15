// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Worker lists: sgbpf_workers_parse_buf/_file and sgbpf_endpoint_parse. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>

static int parse_str(const char *s, struct sgbpf_endpoint **eps, size_t *n, unsigned int *line)
{
	return sgbpf_workers_parse_buf(s, strlen(s), eps, n, line);
}

static void assert_ep(const struct sgbpf_endpoint *ep, uint32_t host_addr, uint16_t port)
{
	ck_assert_uint_eq(ep->addr, htonl(host_addr));
	ck_assert_uint_eq(ep->port, port);
}

START_TEST(test_good_buffer)
{
	static const char text[] =
		"# workers of the test cluster\n"
		"\n"
		"127.0.0.1:9000\n"
		"   10.0.0.2:80   # trailing comment\r\n"
		"\t192.168.1.1:65535\r\n"
		"\r\n"
		"   # indented comment\n"
		"1.2.3.4:1";		/* no final newline */
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 99;
	size_t n = 0;

	ck_assert_int_eq(parse_str(text, &eps, &n, &line), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(line, 0);
	assert_ep(&eps[0], 0x7f000001, 9000);
	assert_ep(&eps[1], 0x0a000002, 80);
	assert_ep(&eps[2], 0xc0a80101, 65535);
	assert_ep(&eps[3], 0x01020304, 1);
	free(eps);
}
END_TEST

/* Each kind of bad line, the line number it must be reported on, and a word of the message. */
static const struct bad_case {
	const char *text;
	unsigned int line;
	const char *msg;
} bad_cases[] = {
	{ "127.0.0.1\n", 1, "missing \":port\"" },
	{ "127.0.0.1:9000\n127.0.0.1:0\n", 2, "bad port \"0\"" },
	{ "127.0.0.1:9000\n\n127.0.0.1:70000\n", 3, "bad port \"70000\"" },
	{ "127.0.0.1:65536\n", 1, "bad port" },
	{ "127.0.0.1:\n", 1, "bad port" },
	{ "127.0.0.1:-1\n", 1, "bad port" },
	{ "127.0.0.1:80x\n", 1, "bad port" },
	{ "127.0.0.1: 80\n", 1, "bad port" },
	{ "127.0.0.1:99999999999999999999\n", 1, "bad port" },
	{ "# c\n256.0.0.1:80\n", 2, "bad IPv4 address \"256.0.0.1\"" },
	{ "1.2.3:80\n", 1, "bad IPv4 address" },
	{ "1.2.3.4.5:80\n", 1, "bad IPv4 address" },
	{ "01.2.3.4:80\n", 1, "bad IPv4 address" },
	{ "a.b.c.d:80\n", 1, "bad IPv4 address" },
	{ ":80\n", 1, "bad IPv4 address" },
	{ "1.2.3.4 :80\n", 1, "bad IPv4 address" },
	{ "localhost:80\n", 1, "bad IPv4 address" },
	{ "1.2.3.4:80 5.6.7.8:90\n", 1, "bad port" },
	{ "1.2.3.4:80\n5.6.7.8:90\n1.2.3.4:80\n", 3, "already listed on line 1" },
	{ "x\r\n", 1, "missing" },
};

START_TEST(test_bad_line)
{
	const struct bad_case *c = &bad_cases[_i];
	struct sgbpf_endpoint *eps = (void *)0x1;
	unsigned int line = 0;
	size_t n = 0;
	char want[32];

	ck_assert_int_eq(parse_str(c->text, &eps, &n, &line), -EINVAL);
	ck_assert_msg(line == c->line, "\"%s\": line %u, want %u", c->text, line, c->line);
	/* Nothing is handed out on failure. */
	ck_assert_ptr_eq(eps, (void *)0x1);
	ck_assert_uint_eq(n, 0);
	snprintf(want, sizeof(want), "workers:%u: ", c->line);
	ck_assert_msg(strstr(sgbpf_last_error(), want), "message \"%s\" lacks \"%s\"",
		      sgbpf_last_error(), want);
	ck_assert_msg(strstr(sgbpf_last_error(), c->msg), "message \"%s\" lacks \"%s\"",
		      sgbpf_last_error(), c->msg);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "1.2.3.4:80\n1.2.\0.4:80\n";
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 0;
	size_t n = 0;

	ck_assert_int_eq(sgbpf_workers_parse_buf(text, sizeof(text) - 1, &eps, &n, &line), -EINVAL);
	ck_assert_uint_eq(line, 2);
}
END_TEST

START_TEST(test_empty)
{
	static const char *const texts[] = { "", "\n\n", "# only a comment\n", "  \t\r\n# x\n" };
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 7;
	size_t n = 0, i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_int_eq(parse_str(texts[i], &eps, &n, &line), -EINVAL);
		ck_assert_uint_eq(line, 0);
		ck_assert_ptr_null(eps);
		ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "no workers"));
	}
	ck_assert_int_eq(sgbpf_workers_parse_buf(NULL, 0, &eps, &n, NULL), -EINVAL);
}
END_TEST

/* n distinct endpoints, one per line: 10.0.x.y:9000. */
static char *make_list(unsigned int n)
{
	char *buf = malloc((size_t)n * 32 + 1), *p = buf;
	unsigned int i;

	ck_assert_ptr_nonnull(buf);
	*p = '\0';
	for (i = 0; i < n; i++)
		p += sprintf(p, "10.0.%u.%u:9000\n", i / 256, i % 256);
	return buf;
}

START_TEST(test_too_many)
{
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 0;
	size_t n = 0;
	char *text;

	text = make_list(SGBPF_MAX_WORKERS);
	ck_assert_int_eq(parse_str(text, &eps, &n, &line), 0);
	ck_assert_uint_eq(n, SGBPF_MAX_WORKERS);
	assert_ep(&eps[SGBPF_MAX_WORKERS - 1], 0x0a000000 | (SGBPF_MAX_WORKERS - 1), 9000);
	free(eps);
	free(text);

	eps = NULL;
	text = make_list(SGBPF_MAX_WORKERS + 1);
	ck_assert_int_eq(parse_str(text, &eps, &n, &line), -E2BIG);
	ck_assert_uint_eq(line, SGBPF_MAX_WORKERS + 1);
	ck_assert_ptr_null(eps);
	free(text);
}
END_TEST

static char tmp_path[64];

static void write_tmp(const char *text)
{
	int fd;

	strcpy(tmp_path, "/tmp/sgbpf-workers-XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(test_file)
{
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 0;
	char want[128];
	size_t n = 0;
	int err;

	write_tmp("# two workers\r\n127.0.0.1:9000\r\n127.0.0.1:9001 # second\r\n");
	err = sgbpf_workers_parse_file(tmp_path, &eps, &n, &line);
	unlink(tmp_path);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(n, 2);
	assert_ep(&eps[1], 0x7f000001, 9001);
	free(eps);

	eps = NULL;
	write_tmp("127.0.0.1:9000\n127.0.0.1:9001\n\n\n\n\n127.0.0.1:70000\n");
	err = sgbpf_workers_parse_file(tmp_path, &eps, &n, &line);
	unlink(tmp_path);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_uint_eq(line, 7);
	ck_assert_ptr_null(eps);
	snprintf(want, sizeof(want), "%s:7: bad port \"70000\"", tmp_path);
	ck_assert_str_eq(sgbpf_last_error(), want);
}
END_TEST

START_TEST(test_missing_file)
{
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 5;
	size_t n = 0;

	ck_assert_int_eq(sgbpf_workers_parse_file("/nonexistent/sgbpf/workers.txt", &eps, &n,
						  &line), -ENOENT);
	ck_assert_uint_eq(line, 0);
	ck_assert_ptr_null(eps);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "/nonexistent/sgbpf/workers.txt"));
	ck_assert_int_eq(sgbpf_workers_parse_file(NULL, &eps, &n, NULL), -EINVAL);
	/* A directory is not a worker list. */
	ck_assert_int_lt(sgbpf_workers_parse_file("/", &eps, &n, NULL), 0);
}
END_TEST

START_TEST(test_endpoint_parse)
{
	static const char *const bad[] = {
		"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", " 1.2.3.4:80",
		"1.2.3.4:80 ", "1.2.3.4:80#", "1.2.3.256:80", "1.2.3.-4:80", "1.2.3.4:+80",
		"0x7f.0.0.1:80", "127.1:80", NULL,
	};
	struct sgbpf_endpoint ep = { 0 };
	int i;

	ck_assert_int_eq(sgbpf_endpoint_parse("10.211.0.2:4242", &ep), 0);
	assert_ep(&ep, 0x0ad30002, 4242);
	ck_assert_int_eq(sgbpf_endpoint_parse("0.0.0.0:65535", &ep), 0);
	assert_ep(&ep, 0, 65535);
	ck_assert_int_eq(sgbpf_endpoint_parse("255.255.255.255:00080", &ep), 0);
	assert_ep(&ep, 0xffffffff, 80);
	for (i = 0; bad[i]; i++) {
		ep.port = 1;
		ck_assert_msg(sgbpf_endpoint_parse(bad[i], &ep) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_uint_eq(ep.port, 1);
	}
	ck_assert_int_eq(sgbpf_endpoint_parse(NULL, &ep), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workers_file");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_good_buffer);
	tcase_add_loop_test(tc, test_bad_line, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_endpoint_parse);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
