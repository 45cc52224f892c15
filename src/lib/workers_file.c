// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Worker lists: one "A.B.C.D:port" per line, the format the original system
 * read.  '#' starts a comment (a whole line or the end of one), blank lines
 * and surrounding spaces or tabs are ignored, and a trailing '\r' is too so
 * that files written on Windows parse.  Anything else is an error that names
 * the file, the line and, in a long line, the column, because a silently
 * skipped worker would make every request wait for a reply that never comes.
 * So is an address no worker can have (broadcast, multicast, 0.0.0.0/8), and
 * a file that is not a regular file (a FIFO with no writer would block for
 * ever).  Text quoted in a message is escaped: a binary file must not write
 * to the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <sgbpf/sgbpf.h>

#include "error.h"
#include "workers_file.h"

/* A worker list is a few KB; refuse to slurp something that is clearly not one. */
#define WORKERS_FILE_MAX (16u << 20)

/* Why an endpoint did not parse, for the error message. */
enum ep_error {
	EP_OK = 0,
	EP_NO_PORT,
	EP_BAD_ADDR,
	EP_BAD_PORT,
	EP_UNUSABLE,
	EP_BAD_BYTE,
};

/* Longest excerpt of a line quoted in a message, before escaping. */
#define EXCERPT_MAX 60
/* Room for an escaped excerpt: 4 bytes per byte, "..." twice, NUL. */
#define EXCERPT_BUF (EXCERPT_MAX * 4 + 8)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Strict dotted quad: four decimal octets, 0..255, no leading zeros (which
 * inet_aton() would read as octal), nothing else.
 */
static bool parse_ipv4(const char *s, size_t len, uint32_t *addr, size_t *col)
{
	uint32_t host = 0;
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t start = i;
		unsigned int v = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				goto bad;
			start = ++i;
		}
		while (i < len && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) {
			i = start;
			goto bad;
		}
		host = host << 8 | v;
	}
	if (i != len)
		goto bad;
	*addr = htonl(host);
	return true;
bad:
	*col = i;
	return false;
}

/* Decimal 1..65535; leading zeros are harmless here and allowed. */
static bool parse_port(const char *s, size_t len, uint16_t *port, size_t *col)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			goto bad;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			goto bad;
	}
	if (len == 0 || v == 0) {
		i = 0;
		goto bad;
	}
	*port = (uint16_t)v;
	return true;
bad:
	*col = i;
	return false;
}

const char *sgbpf_endpoint_unusable(const struct sgbpf_endpoint *ep)
{
	uint32_t host = ntohl(ep->addr);

	if (host == 0xffffffffu)
		return "broadcast address";
	if ((host >> 28) == 0xe)
		return "multicast address";
	/* 0.0.0.0/8 means "this host on this network": never a destination. */
	if ((host >> 24) == 0)
		return "unspecified address";
	if (ep->port == 0)
		return "port 0";
	return NULL;
}

/* Non-printable bytes: what a text file of addresses never holds. */
static bool is_bad_byte(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c >= 0x7f;
}

/*
 * Parses [s, s + len); on failure *col is the offset of the offending byte
 * (len for a missing port).  bind_any accepts any address (one to bind).
 */
static enum ep_error parse_endpoint(const char *s, size_t len, struct sgbpf_endpoint *ep,
				    size_t *col, bool bind_any)
{
	const char *colon;
	struct sgbpf_endpoint tmp = { .family = AF_INET };
	size_t c = 0;

	for (c = 0; c < len; c++) {
		if (is_bad_byte((unsigned char)s[c])) {
			*col = c;
			return EP_BAD_BYTE;
		}
	}
	colon = memchr(s, ':', len);
	if (!colon) {
		*col = len;
		return EP_NO_PORT;
	}
	if (!parse_ipv4(s, (size_t)(colon - s), &tmp.addr, &c)) {
		*col = c;
		return EP_BAD_ADDR;
	}
	if (!parse_port(colon + 1, len - (size_t)(colon - s) - 1, &tmp.port, &c)) {
		*col = (size_t)(colon + 1 - s) + c;
		return EP_BAD_PORT;
	}
	if (!bind_any && sgbpf_endpoint_unusable(&tmp)) {
		*col = 0;
		*ep = tmp;
		return EP_UNUSABLE;
	}
	*ep = tmp;
	return EP_OK;
}

int sgbpf_bind_endpoint_parse(const char *s, struct sgbpf_endpoint *ep)
{
	struct sgbpf_endpoint tmp;
	size_t col;

	if (!s || !ep || parse_endpoint(s, strlen(s), &tmp, &col, true) != EP_OK)
		return -EINVAL;
	*ep = tmp;
	return 0;
}

int sgbpf_endpoint_parse(const char *s, struct sgbpf_endpoint *ep)
{
	struct sgbpf_endpoint tmp;
	char addr[INET_ADDRSTRLEN];
	size_t col;

	if (!s || !ep)
		return -EINVAL;
	switch (parse_endpoint(s, strlen(s), &tmp, &col, false)) {
	case EP_OK:
		*ep = tmp;
		return 0;
	case EP_UNUSABLE:
		inet_ntop(AF_INET, &tmp.addr, addr, sizeof(addr));
		return sgbpf_err(-EINVAL, "%s %s cannot be a worker", sgbpf_endpoint_unusable(&tmp),
				 addr);
	default:
		return -EINVAL;
	}
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

/*
 * Writes [s, s + len) quoted for a terminal: printable ASCII as is, '"' and
 * '\\' escaped, anything else as \xNN.  A long text is cut to a window
 * around byte `at`, marked with "...".  Returns true when it was cut.
 */
static bool excerpt(char *dst, const char *s, size_t len, size_t at)
{
	size_t start = 0, end = len, o = 0;

	if (len > EXCERPT_MAX) {
		start = at > 40 ? at - 40 : 0;
		end = start + EXCERPT_MAX < len ? start + EXCERPT_MAX : len;
	}
	if (start)
		o += (size_t)sprintf(dst + o, "...");
	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			o += (size_t)sprintf(dst + o, "\\%c", c);
		else if (c == '\t')
			o += (size_t)sprintf(dst + o, "\\t");
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)sprintf(dst + o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	if (end < len)
		o += (size_t)sprintf(dst + o, "...");
	dst[o] = '\0';
	return start || end < len;
}

/*
 * The message for a bad line: line is the trimmed text, col0 the column
 * (0-based) where it starts in the file's line, at the offending offset.
 */
static int line_error(const char *name, unsigned int lineno, enum ep_error why,
		      const char *s, size_t len, size_t col0, size_t at,
		      const struct sgbpf_endpoint *ep)
{
	const char *colon = memchr(s, ':', len);
	char text[EXCERPT_BUF], where[48] = "", addr[INET_ADDRSTRLEN];
	size_t col = col0 + at + 1;	/* 1-based, as editors count */
	bool cut;

	switch (why) {
	case EP_BAD_BYTE:
		excerpt(text, s, len, at);
		return sgbpf_err(-EINVAL, "%s:%u: byte 0x%02x at column %zu in \"%s\"", name, lineno,
				 (unsigned char)s[at], col, text);
	case EP_NO_PORT:
		cut = excerpt(text, s, len, at);
		if (cut)
			snprintf(where, sizeof(where), " (line of %zu characters)", len);
		return sgbpf_err(-EINVAL, "%s:%u: missing \":port\" in \"%s\"%s", name, lineno,
				 text, where);
	case EP_BAD_ADDR:
		cut = excerpt(text, s, (size_t)(colon - s), at);
		if (cut)
			snprintf(where, sizeof(where), " (column %zu)", col);
		return sgbpf_err(-EINVAL, "%s:%u: bad IPv4 address \"%s\"%s", name, lineno, text,
				 where);
	case EP_BAD_PORT:
		cut = excerpt(text, colon + 1, len - (size_t)(colon - s) - 1,
			      at - (size_t)(colon + 1 - s));
		if (cut)
			snprintf(where, sizeof(where), " (column %zu)", col);
		return sgbpf_err(-EINVAL, "%s:%u: bad port \"%s\"%s", name, lineno, text, where);
	case EP_UNUSABLE:
		inet_ntop(AF_INET, &ep->addr, addr, sizeof(addr));
		return sgbpf_err(-EINVAL, "%s:%u: %s %s cannot be a worker (replies come from one "
				 "unicast address)", name, lineno, sgbpf_endpoint_unusable(ep), addr);
	default:
		excerpt(text, s, len, at);
		return sgbpf_err(-EINVAL, "%s:%u: cannot parse \"%s\"", name, lineno, text);
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
		const char *start = buf + pos, *line = start, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos, at = 0;
		struct sgbpf_endpoint ep;
		char text[EXCERPT_BUF];
		enum ep_error why;
		int dup;

		pos += llen + (nl ? 1 : 0);
		lineno++;
		trim_line(&line, &llen);
		if (!llen)
			continue;

		why = parse_endpoint(line, llen, &ep, &at, false);
		if (why != EP_OK) {
			err = line_error(name, lineno, why, line, llen, (size_t)(line - start), at,
					 &ep);
			goto bad;
		}
		dup = find_duplicate(eps, count, &ep);
		if (dup >= 0) {
			excerpt(text, line, llen, 0);
			err = sgbpf_err(-EINVAL, "%s:%u: worker \"%s\" already listed on line %u",
					name, lineno, text, lines[dup]);
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

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "not a file";
	}
}

/*
 * Reads the whole file into a malloc'ed buffer.  Only a regular file: a FIFO
 * or a terminal could block for ever, a device could be endless.  O_NONBLOCK
 * makes the open itself of a FIFO with no writer return at once.
 */
static int slurp(const char *path, char **data, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf = NULL, *bigger;
	struct stat st;
	int err = 0, fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return sgbpf_err(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		err = sgbpf_err(-errno, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (S_ISDIR(st.st_mode)) {
		err = sgbpf_err(-EISDIR, "%s: is a directory, not a worker list", path);
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = sgbpf_err(-EINVAL, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
		goto cleanup;
	}
	buf = malloc(cap);
	if (!buf) {
		err = sgbpf_err(-ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	for (;;) {
		ssize_t got = read(fd, buf + used, cap - used);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = sgbpf_err(-errno, "%s: read error: %s", path, strerror(errno));
			goto cleanup;
		}
		if (got == 0)
			break;
		used += (size_t)got;
		if (used < cap)
			continue;
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
	close(fd);
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
