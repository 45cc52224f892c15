// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sgbpf: the command-line front end of libsgbpf. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "cli.h"
#include "cli_common.h"

static const struct cli_cmd commands[] = {
	{ "run", cmd_run, "zero-configuration demo: local workers, checked results" },
	{ "gather", cmd_gather, "scatter-gather against workers listed in a file" },
	{ "worker", cmd_worker, "reference UDP worker serving many ports in one process" },
	{ "setup", cmd_setup, "bring an interface up and check it and the kernel for sgbpf" },
	{ "teardown", cmd_teardown, "remove sgbpf's programs and filters from an interface" },
	{ "status", cmd_status, "list the services running here, with live counters" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	}
	return NULL;
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: sgbpf [--help] [--version] COMMAND [ARGS...]\n"
		"\n"
		"Scatter one request to many workers and gather one reduced result,\n"
		"with the fan-out and the reduction done by eBPF in the kernel.\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"  %-10s %s\n"
		"\n"
		"Options:\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Run 'sgbpf COMMAND --help' for a command's options.\n"
		"Exit codes: 0 success, 1 runtime failure, 2 usage error.\n",
		"help", "show this help, or a command's: sgbpf help COMMAND");
}

/* "sgbpf help [COMMAND]" */
static int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *cmd;
	char *help_argv[] = { NULL, "--help", NULL };

	if (argc < 2) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_error("help", "expected one command name, got %d", argc - 1);
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	help_argv[0] = (char *)cmd->name;
	return cmd->fn(2, help_argv);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const struct cli_cmd *cmd;
	int c;

	/*
	 * libbpf's own warnings would repeat, in its words, what the library's
	 * error message (with the verifier's log) already says.
	 */
	libbpf_set_print(NULL);
	/* '+': stop at the command name; what follows belongs to the command. */
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			cli_print_version();
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(NULL, c, argc, argv);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help"))
		return cmd_help(argc - optind, argv + optind);
	cmd = find_command(argv[optind]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
	/* The command parses from its own argv[0]; it resets getopt itself. */
	return cmd->fn(argc - optind, argv + optind);
}
