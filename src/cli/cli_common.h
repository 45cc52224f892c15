/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the sgbpf subcommands: exit codes, messages, parsers. */
#ifndef SGBPF_CLI_COMMON_H
#define SGBPF_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sgbpf/sgbpf.h>

/* Exit codes of every subcommand. */
enum cli_exit {
	CLI_EXIT_OK = 0,	/* success */
	CLI_EXIT_FAIL = 1,	/* runtime failure */
	CLI_EXIT_USAGE = 2,	/* bad command line */
};

/*
 * Prints "sgbpf CMD: MESSAGE" and the hint "try 'sgbpf CMD --help'" on
 * stderr and returns CLI_EXIT_USAGE.  cmd may be NULL for the top level.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "sgbpf CMD: MESSAGE" on stderr and returns CLI_EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prepares getopt_long() for a fresh parse of a subcommand's arguments:
 * optind = 0 makes glibc reinitialise its state (a previous parse may have
 * stopped inside a cluster of short options); opterr = 0 because errors are
 * reported by cli_getopt_error() in our own words.
 */
void cli_getopt_reset(void);

/*
 * Reports what getopt_long() refused (it returned '?' or ':'; optstring must
 * start with ':') and returns CLI_EXIT_USAGE.
 */
int cli_getopt_error(const char *cmd, int c, int argc, char **argv);

/* Prints "sgbpf X.Y.Z" on stdout. */
void cli_print_version(void);

/*
 * Number parsers: the whole string must be a decimal number (or 0x-hex),
 * with no sign and no blanks, within [min, max].  Return 0, -EINVAL for
 * something that is not a number, -ERANGE for one out of range.
 */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/* A UDP port, 1..65535. */
int cli_parse_port(const char *s, uint16_t *port);

/*
 * A worker's "A.B.C.D:port"; returns 0 or -EINVAL (broadcast, multicast and
 * 0.0.0.0/8 addresses are refused: no worker has one).
 */
int cli_parse_endpoint(const char *s, struct sgbpf_endpoint *ep);

/*
 * An address to bind, "A.B.C.D:port" or "A.B.C.D:first-last" (first <= last);
 * any address, 0.0.0.0 included.
 */
struct cli_port_range {
	uint32_t addr;		/* network byte order */
	uint16_t first, last;	/* host order, inclusive */
};
int cli_parse_port_range(const char *s, struct cli_port_range *r);

/* Ports in a range. */
static inline uint32_t cli_range_len(const struct cli_port_range *r)
{
	return (uint32_t)r->last - r->first + 1;
}

/*
 * A file named on the command line must be a readable regular file (a FIFO
 * or a directory is refused before anything waits on it), and with elf set
 * an ELF object.  Returns 0, or CLI_EXIT_USAGE after a message naming opt
 * and the file: a bad file is a bad value like any other.
 */
int cli_check_file(const char *cmd, const char *opt, const char *path, bool elf);

/* "A.B.C.D" for an address in network byte order; buf has 16 bytes. */
const char *cli_addr_str(uint32_t addr, char buf[16]);

/* Writes s as a JSON string, quoted, with quotes, backslashes and controls escaped. */
void cli_json_str(FILE *out, const char *s);

#endif /* SGBPF_CLI_COMMON_H */
