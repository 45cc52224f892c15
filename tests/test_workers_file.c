// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Worker lists: sgbpf_workers_parse_buf/_file and sgbpf_endpoint_parse. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>

#include "suite_run.h"
#include "workers_file.h"

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
	/* Addresses no worker can have. */
	{ "127.0.0.1:9000\n255.255.255.255:9000\n", 2, "broadcast address 255.255.255.255" },
	{ "224.0.0.251:5353\n", 1, "multicast address 224.0.0.251" },
	{ "239.255.255.250:1900\n", 1, "multicast address" },
	{ "0.0.0.0:9000\n", 1, "unspecified address 0.0.0.0" },
	{ "0.1.2.3:9000\n", 1, "unspecified address" },
	/* Bytes a text list never holds: escaped, with their column. */
	{ "1.2.3.4:80\x1b[2J\n", 1, "byte 0x1b at column 11 in \"1.2.3.4:80\\x1b[2J\"" },
	{ "  \xff\xfe:80\n", 1, "byte 0xff at column 3" },
	{ "1.2.3.4:\"80\"\n", 1, "bad port \"\\\"80\\\"\"" },
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

/* A NUL after the port is named as such, not as a bad port "50000". */
START_TEST(test_nul_after_port)
{
	static const char text[] = "127.0.0.1:50000\0junk\n";
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 0;
	size_t n = 0;

	ck_assert_int_eq(sgbpf_workers_parse_buf(text, sizeof(text) - 1, &eps, &n, &line), -EINVAL);
	ck_assert_str_eq(sgbpf_last_error(),
			 "workers:1: byte 0x00 at column 16 in \"127.0.0.1:50000\\x00junk\"");
}
END_TEST

/* A long line: the message quotes the text around the offending byte and gives its column. */
START_TEST(test_long_line)
{
	char text[512];
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 0;
	size_t n = 0;

	snprintf(text, sizeof(text), "\t127.0.0.1:%0300d7q\n", 0);
	ck_assert_int_eq(parse_str(text, &eps, &n, &line), -EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "007q\" (column 313)"));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "bad port \"..."));
	ck_assert_uint_lt(strlen(sgbpf_last_error()), 160);

	memset(text, 'a', 400);
	strcpy(text + 400, ":80\n");
	ck_assert_int_eq(parse_str(text, &eps, &n, &line), -EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "bad IPv4 address \"aaaa"));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "...\" (column 1)"));
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
	/* A directory is not a worker list, and the message says what it is. */
	ck_assert_int_eq(sgbpf_workers_parse_file("/", &eps, &n, NULL), -EISDIR);
	ck_assert_str_eq(sgbpf_last_error(), "/: is a directory, not a worker list");
}
END_TEST

/* A FIFO with no writer is refused at once instead of blocking for ever. */
START_TEST(test_fifo_refused)
{
	struct sgbpf_endpoint *eps = NULL;
	char path[64] = "/tmp/sgbpf-fifo-XXXXXX";
	char fifo[80];
	size_t n = 0;

	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(fifo, sizeof(fifo), "%s/w", path);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	alarm(5);	/* today's failure mode is a hang */
	ck_assert_int_eq(sgbpf_workers_parse_file(fifo, &eps, &n, NULL), -EINVAL);
	alarm(0);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "not a regular file (a FIFO)"));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), fifo));
	unlink(fifo);
	rmdir(path);
}
END_TEST

static void ignore_result(const struct sgbpf_result *res, void *ctx)
{
}

/* Worker arrays get the same check as files, before anything is attached. */
START_TEST(test_service_refuses_unusable)
{
	struct sgbpf_endpoint eps[3] = {
		{ htonl(0x7f000001), 9000 }, { htonl(0x7f000001), 9001 }, { htonl(0xffffffff), 9002 },
	};
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "sgbpf-none0", .workers = eps, .nworkers = 3,
		   .on_complete = ignore_result);

	ck_assert_ptr_null(sgbpf_service_create(&so));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(sgbpf_last_error(),
			 "worker 2 (255.255.255.255:9002): broadcast address, no worker can have it");
	eps[2] = (struct sgbpf_endpoint){ htonl(0x7f000001), 0 };
	ck_assert_ptr_null(sgbpf_service_create(&so));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "port 0"));
	/* The family field holds IPv6 for a later version: refused, not misread. */
	eps[2] = (struct sgbpf_endpoint){ .port = 9002, .family = AF_INET6 };
	ck_assert_ptr_null(sgbpf_service_create(&so));
	ck_assert_int_eq(errno, EAFNOSUPPORT);
	ck_assert_str_eq(sgbpf_last_error(), "worker 2: address family 10 is not supported "
			 "(IPv4 only in this version)");
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
	ck_assert_uint_eq(ep.family, AF_INET);
	ck_assert_int_eq(sgbpf_endpoint_parse("10.0.0.255:00080", &ep), 0);
	assert_ep(&ep, 0x0a0000ff, 80);
	/* No worker has these; an address to bind may be 0.0.0.0. */
	ck_assert_int_eq(sgbpf_endpoint_parse("0.0.0.0:65535", &ep), -EINVAL);
	ck_assert_int_eq(sgbpf_endpoint_parse("255.255.255.255:80", &ep), -EINVAL);
	ck_assert_str_eq(sgbpf_last_error(), "broadcast address 255.255.255.255 cannot be a worker");
	ck_assert_int_eq(sgbpf_endpoint_parse("224.0.0.1:80", &ep), -EINVAL);
	ck_assert_int_eq(sgbpf_bind_endpoint_parse("0.0.0.0:65535", &ep), 0);
	assert_ep(&ep, 0, 65535);
	ck_assert_int_eq(sgbpf_bind_endpoint_parse("0.0.0.0:0", &ep), -EINVAL);
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

	tcase_add_test(tc, test_good_buffer);
	tcase_add_loop_test(tc, test_bad_line, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_nul_after_port);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_fifo_refused);
	tcase_add_test(tc, test_service_refuses_unusable);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_endpoint_parse);
	suite_add_tcase(s, tc);

	return suite_run(s);
}
