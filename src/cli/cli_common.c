// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Helpers shared by the sgbpf subcommands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include "cli_common.h"
#include "workers_file.h"

static void vmessage(const char *cmd, const char *fmt, va_list ap)
{
	if (cmd)
		fprintf(stderr, "sgbpf %s: ", cmd);
	else
		fprintf(stderr, "sgbpf: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "try 'sgbpf %s --help'\n", cmd);
	else
		fprintf(stderr, "try 'sgbpf --help'\n");
	return CLI_EXIT_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	return CLI_EXIT_FAIL;
}

void cli_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

int cli_getopt_error(const char *cmd, int c, int argc, char **argv)
{
	const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	bool long_opt = word[0] == '-' && word[1] == '-';

	if (c == ':') {
		if (long_opt)
			return cli_usage_error(cmd, "option '%s' needs a value", word);
		return cli_usage_error(cmd, "option '-%c' needs a value", optopt);
	}
	if (long_opt) {
		/* getopt_long() also lands here for "--flag=value" on a flag. */
		if (strchr(word, '=') && optopt)
			return cli_usage_error(cmd, "option '%.*s' takes no value",
					       (int)(strchr(word, '=') - word), word);
		return cli_usage_error(cmd, "unknown option '%s'", word);
	}
	if (optopt)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", word);
}

void cli_print_version(void)
{
	printf("sgbpf %s\n", sgbpf_version());
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	const char *digits = s;
	int base = 10;
	char *end;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		digits = s + 2;
	}
	/* strtoull() would skip blanks, take a sign, or a second "0x". */
	if (!((digits[0] >= '0' && digits[0] <= '9') ||
	      (base == 16 && strchr("abcdefABCDEF", digits[0]) && digits[0])))
		return -EINVAL;
	if (base == 16 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		return -EINVAL;
	errno = 0;
	v = strtoull(digits, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int err = cli_parse_u64(s, min, max, &v);

	if (!err)
		*out = (uint32_t)v;
	return err;
}

int cli_parse_port(const char *s, uint16_t *port)
{
	uint32_t v;
	int err = cli_parse_u32(s, 1, 65535, &v);

	if (!err)
		*port = (uint16_t)v;
	return err;
}

int cli_parse_endpoint(const char *s, struct sgbpf_endpoint *ep)
{
	return sgbpf_endpoint_parse(s, ep);
}

int cli_parse_port_range(const char *s, struct cli_port_range *r)
{
	struct sgbpf_endpoint ep;
	const char *colon, *dash;
	char first[64];
	uint16_t last;
	size_t len;

	if (!s)
		return -EINVAL;
	colon = strchr(s, ':');
	dash = colon ? strchr(colon, '-') : NULL;
	if (!dash) {
		if (sgbpf_bind_endpoint_parse(s, &ep))
			return -EINVAL;
		*r = (struct cli_port_range){ ep.addr, ep.port, ep.port };
		return 0;
	}
	len = (size_t)(dash - s);
	if (len >= sizeof(first))
		return -EINVAL;
	memcpy(first, s, len);
	first[len] = '\0';
	if (sgbpf_bind_endpoint_parse(first, &ep) || cli_parse_port(dash + 1, &last))
		return -EINVAL;
	/* Plain decimal only: "9000-0x2330" is more likely a typo than a wish. */
	if (strchr(dash + 1, 'x') || strchr(dash + 1, 'X'))
		return -EINVAL;
	if (last < ep.port)
		return -ERANGE;
	*r = (struct cli_port_range){ ep.addr, ep.port, last };
	return 0;
}

int cli_check_file(const char *cmd, const char *opt, const char *path, bool elf)
{
	unsigned char magic[4];
	struct stat st;
	ssize_t got;
	int fd, ret = 0;

	/* O_NONBLOCK: opening a FIFO with no writer must not block. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return cli_usage_error(cmd, "%s %s: %s", opt, path, strerror(errno));
	if (fstat(fd, &st)) {
		ret = cli_usage_error(cmd, "%s %s: %s", opt, path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		ret = cli_usage_error(cmd, "%s %s: is a directory", opt, path);
	} else if (!S_ISREG(st.st_mode)) {
		ret = cli_usage_error(cmd, "%s %s: not a regular file", opt, path);
	} else if (elf) {
		got = read(fd, magic, sizeof(magic));
		if (got < 0)
			ret = cli_usage_error(cmd, "%s %s: %s", opt, path, strerror(errno));
		else if (got < 4 || memcmp(magic, "\x7f" "ELF", 4) != 0)
			ret = cli_usage_error(cmd, "%s %s: not an ELF object (build it with "
					      "clang -target bpf)", opt, path);
	}
	close(fd);
	return ret;
}

const char *cli_addr_str(uint32_t addr, char buf[16])
{
	struct in_addr in = { .s_addr = addr };

	if (!inet_ntop(AF_INET, &in, buf, 16))
		snprintf(buf, 16, "?");
	return buf;
}

void cli_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}
