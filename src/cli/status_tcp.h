/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TCP services of `sgbpf status`, in text and in JSON, and the note
 * `sgbpf teardown` gives about them.  Apart from cmd_status.c because a TCP
 * service is on no interface and has other facts than a UDP one.
 */
#ifndef SGBPF_CLI_STATUS_TCP_H
#define SGBPF_CLI_STATUS_TCP_H

#include <stdbool.h>

#include "inspect.h"

/* The services as text blocks; a blank line first when first is false. */
void status_tcp_text(const struct sgbpf_inspect_tcp_list *l, bool first);

/* The services as objects of the "services" array; a comma first when first is false. */
void status_tcp_json(const struct sgbpf_inspect_tcp_list *l, bool first);

/* "owners":[{"pid":...,"comm":...},...], for the UDP services too. */
void status_json_owners(const struct sgbpf_inspect_owner *o, unsigned int n);

/* One line per service: teardown leaves it, and says how it goes. */
void status_tcp_teardown_note(const struct sgbpf_inspect_tcp_list *l);

#endif /* SGBPF_CLI_STATUS_TCP_H */
