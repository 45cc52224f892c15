// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: one endpoint, port range or number as the CLI and the
 * library parse them.  What parses prints back to something that parses to
 * the same value; a worker endpoint is also an address to bind; ranges are
 * ordered; numbers are within their bounds.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>

#include "cli_common.h"
#include "workers_file.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgbpf_endpoint ep = { 0 }, bind = { 0 }, again = { 0 };
	struct cli_port_range r;
	char *s, text[64], addr[16];
	uint64_t v, lo = 0, hi = UINT64_MAX;
	uint32_t v32;
	uint16_t port;

	if (size > 256)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (sgbpf_endpoint_parse(s, &ep) == 0) {
		CHECK(!sgbpf_endpoint_unusable(&ep));
		CHECK(sgbpf_bind_endpoint_parse(s, &bind) == 0);
		CHECK(bind.addr == ep.addr && bind.port == ep.port);
		snprintf(text, sizeof(text), "%s:%u", cli_addr_str(ep.addr, addr), ep.port);
		CHECK(sgbpf_endpoint_parse(text, &again) == 0);
		CHECK(again.addr == ep.addr && again.port == ep.port);
		CHECK(strchr(s, ':'));
	}
	if (sgbpf_bind_endpoint_parse(s, &bind) == 0)
		CHECK(bind.port != 0);
	if (cli_parse_port_range(s, &r) == 0) {
		CHECK(r.first >= 1 && r.first <= r.last);
		CHECK(cli_range_len(&r) >= 1 && cli_range_len(&r) <= 65535);
	}
	/* Bounds from the first bytes, the number from the whole string. */
	if (size >= 2) {
		lo = data[0] * 1000ull;
		hi = lo + data[1] * 1000000ull;
	}
	if (cli_parse_u64(s, lo, hi, &v) == 0) {
		CHECK(v >= lo && v <= hi);
		snprintf(text, sizeof(text), "%" PRIu64, v);
		CHECK(cli_parse_u64(text, lo, hi, &v) == 0);
	}
	if (cli_parse_u32(s, 1, 65535, &v32) == 0)
		CHECK(v32 >= 1 && v32 <= 65535);
	if (cli_parse_port(s, &port) == 0)
		CHECK(port >= 1);
	free(s);
	return 0;
}
