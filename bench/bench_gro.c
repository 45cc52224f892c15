// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_gro DEV on|off: switches generic receive offload on a device (the
 * ETHTOOL_SGRO ioctl), for bench/run.sh, which runs it inside the
 * benchmark's namespaces.  On veth, GRO on gives the receiving end a NAPI
 * context: its receive work then runs in a NAPI poll (threaded NAPI can pin
 * it to a CPU), and frames sent back with XDP_TX by the peer's program are
 * delivered instead of dropped.  A tool of its own because ethtool(8) is
 * not always installed.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>

int main(int argc, char **argv)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO };
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	if (argc != 3 || (strcmp(argv[2], "on") && strcmp(argv[2], "off")) ||
	    strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "usage: bench_gro DEV on|off\n");
		return 2;
	}
	ev.data = !strcmp(argv[2], "on");
	strcpy(ifr.ifr_name, argv[1]);
	ifr.ifr_data = (void *)&ev;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr))
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err) {
		fprintf(stderr, "bench_gro: %s: %s\n", argv[1], strerror(err));
		return 1;
	}
	return 0;
}
