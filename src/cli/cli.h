/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sgbpf subcommands.  Each is a function taking its own argument vector
 * (argv[0] is the command's name) and returning the process exit code; the
 * table in main.c maps names to them.  To add a command: write
 * cmd_NAME.c, declare cmd_NAME() here, add one line to the table.
 */
#ifndef SGBPF_CLI_H
#define SGBPF_CLI_H

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;	/* one line for 'sgbpf --help' */
};

int cmd_worker(int argc, char **argv);
int cmd_gather(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_setup(int argc, char **argv);
int cmd_teardown(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif /* SGBPF_CLI_H */
