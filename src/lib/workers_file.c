// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Worker lists: one "A.B.C.D:port" per line, the format the original system
 * read.  '#' starts a comment (a whole line or the end of one), blank lines
 * and surrounding spaces or tabs are ignored, and a trailing '\r' is too so
 * that files written on Windows parse.  Anything else is an error that names
 * the file and the line, because a silently skipped worker would make every
 * request wait for a reply that never comes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>

#include "error.h"

/* A worker list is a few KB; refuse to slurp something that is clearly not one. */
#define WORKERS_FILE_MAX (16u << 20)

/* Why an endpoint did not parse, for the error message. */
enum ep_error {
	EP_OK = 0,
	EP_NO_PORT,
	EP_BAD_ADDR,
	EP_BAD_PORT,
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Strict dotted quad: four decimal octets, 0..255, no leading zeros (which
 * inet_aton() would read as octal), nothing else.
 */
static bool parse_ipv4(const char *s, size_t len, uint32_t *addr)
{
	uint32_t host = 0;
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t start = i;
		unsigned int v = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			start = ++i;
		}
		while (i < len && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start || v > 255)
			return false;
		if (i - start > 1 && s[start] == '0')
			return false;
		host = host << 8 | v;
	}
	if (i != len)
		return false;
	*addr = htonl(host);
	return true;
}

/* Decimal 1..65535; leading zeros are harmless here and allowed. */
static bool parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			return false;
	}
	if (v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

static enum ep_error parse_endpoint(const char *s, size_t len, struct sgbpf_endpoint *ep)
{
	const char *colon = memchr(s, ':', len);
	struct sgbpf_endpoint tmp;

	if (!colon)
		return EP_NO_PORT;
	if (!parse_ipv4(s, (size_t)(colon - s), &tmp.addr))
		return EP_BAD_ADDR;
	if (!parse_port(colon + 1, len - (size_t)(colon - s) - 1, &tmp.port))
		return EP_BAD_PORT;
	*ep = tmp;
	return EP_OK;
}

int sgbpf_endpoint_parse(const char *s, struct sgbpf_endpoint *ep)
{
	if (!s || !ep)
		return -EINVAL;
	return parse_endpoint(s, strlen(s), ep) == EP_OK ? 0 : -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Shortens [*s, *s + *len) to the text before any '#', without surrounding blanks. */
static void trim_line(const char **s, size_t *len)
{
	const char *hash = memchr(*s, '#', *len);

	if (hash)
		*len = (size_t)(hash - *s);
	while (*len && is_blank((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

static int line_error(const char *name, unsigned int lineno, enum ep_error why,
		      const char *s, size_t len)
{
	/* Quote at most a screenful of the offending text. */
	int shown = len > 64 ? 64 : (int)len;
	const char *colon;

	switch (why) {
	case EP_NO_PORT:
		return sgbpf_err(-EINVAL, "%s:%u: missing \":port\" in \"%.*s\"",
				 name, lineno, shown, s);
	case EP_BAD_ADDR:
		colon = memchr(s, ':', len);
		shown = (int)(colon - s) > 64 ? 64 : (int)(colon - s);
		return sgbpf_err(-EINVAL, "%s:%u: bad IPv4 address \"%.*s\"",
				 name, lineno, shown, s);
	case EP_BAD_PORT:
		colon = memchr(s, ':', len);
		len -= (size_t)(colon - s) + 1;
		shown = len > 64 ? 64 : (int)len;
		return sgbpf_err(-EINVAL, "%s:%u: bad port \"%.*s\"",
				 name, lineno, shown, colon + 1);
	default:
		return sgbpf_err(-EINVAL, "%s:%u: cannot parse \"%.*s\"",
				 name, lineno, shown, s);
	}
}

static int find_duplicate(const struct sgbpf_endpoint *eps, size_t n,
			  const struct sgbpf_endpoint *ep)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (eps[i].addr == ep->addr && eps[i].port == ep->port)
			return (int)i;
	}
	return -1;
}

/*
 * The parser proper; name is what error messages call the input.  A worker
 * listed twice is refused: every worker counts at most once per request, so
 * a request would wait forever for the second copy.
 */
static int parse_buf_named(const char *name, const char *buf, size_t len,
			   struct sgbpf_endpoint **out, size_t *n, unsigned int *bad_line)
{
	struct sgbpf_endpoint *eps, *shrunk;
	unsigned int *lines = NULL;
	unsigned int lineno = 0;
	size_t count = 0, pos = 0;
	int err = 0;

	if (bad_line)
		*bad_line = 0;
	eps = calloc(SGBPF_MAX_WORKERS, sizeof(*eps));
	lines = calloc(SGBPF_MAX_WORKERS, sizeof(*lines));
	if (!eps || !lines) {
		err = sgbpf_err(-ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		struct sgbpf_endpoint ep;
		enum ep_error why;
		int dup;

		pos += llen + (nl ? 1 : 0);
		lineno++;
		trim_line(&line, &llen);
		if (!llen)
			continue;

		why = parse_endpoint(line, llen, &ep);
		if (why != EP_OK) {
			err = line_error(name, lineno, why, line, llen);
			goto bad;
		}
		dup = find_duplicate(eps, count, &ep);
		if (dup >= 0) {
			err = sgbpf_err(-EINVAL, "%s:%u: worker \"%.*s\" already listed on line %u",
					name, lineno, llen > 64 ? 64 : (int)llen, line, lines[dup]);
			goto bad;
		}
		if (count == SGBPF_MAX_WORKERS) {
			err = sgbpf_err(-E2BIG, "%s:%u: more than %u workers", name, lineno,
					SGBPF_MAX_WORKERS);
			goto bad;
		}
		lines[count] = lineno;
		eps[count++] = ep;
	}

	if (!count) {
		err = sgbpf_err(-EINVAL, "%s: no workers listed", name);
		goto cleanup;
	}
	shrunk = realloc(eps, count * sizeof(*eps));
	if (shrunk)
		eps = shrunk;
	*out = eps;
	*n = count;
	eps = NULL;
	goto cleanup;

bad:
	if (bad_line)
		*bad_line = lineno;
cleanup:
	free(lines);
	free(eps);
	return err;
}

int sgbpf_workers_parse_buf(const char *buf, size_t len, struct sgbpf_endpoint **out,
			    size_t *n, unsigned int *bad_line)
{
	if (!out || !n || (!buf && len))
		return sgbpf_err(-EINVAL, "sgbpf_workers_parse_buf: NULL argument");
	return parse_buf_named("workers", buf ? buf : "", len, out, n, bad_line);
}

/* Reads the whole file into a malloc'ed buffer. */
static int slurp(const char *path, char **data, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf, *bigger;
	FILE *f;
	int err = 0;

	f = fopen(path, "re");
	if (!f)
		return sgbpf_err(-errno, "%s: %s", path, strerror(errno));
	buf = malloc(cap);
	if (!buf) {
		err = sgbpf_err(-ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	for (;;) {
		size_t got = fread(buf + used, 1, cap - used, f);

		used += got;
		if (used < cap) {
			if (ferror(f)) {
				err = sgbpf_err(-EIO, "%s: read error", path);
				goto cleanup;
			}
			break;
		}
		if (cap >= WORKERS_FILE_MAX) {
			err = sgbpf_err(-EFBIG, "%s: larger than %u bytes, not a worker list",
					path, WORKERS_FILE_MAX);
			goto cleanup;
		}
		cap *= 2;
		bigger = realloc(buf, cap);
		if (!bigger) {
			err = sgbpf_err(-ENOMEM, "%s: out of memory", path);
			goto cleanup;
		}
		buf = bigger;
	}
	*data = buf;
	*len = used;
	buf = NULL;
cleanup:
	free(buf);
	fclose(f);
	return err;
}

int sgbpf_workers_parse_file(const char *path, struct sgbpf_endpoint **out, size_t *n,
			     unsigned int *bad_line)
{
	char *data = NULL;
	size_t len = 0;
	int err;

	if (bad_line)
		*bad_line = 0;
	if (!path || !out || !n)
		return sgbpf_err(-EINVAL, "sgbpf_workers_parse_file: NULL argument");
	err = slurp(path, &data, &len);
	if (err)
		return err;
	err = parse_buf_named(path, data, len, out, n, bad_line);
	free(data);
	return err;
}
