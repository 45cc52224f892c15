// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel feature and privilege probes for the UDP backend.
 *
 * Each feature is tried the way the kernel would meet it: a program type by
 * loading a two-instruction program, a map type by creating a one-entry
 * map, a helper by letting the verifier look it up, an io_uring opcode
 * through IORING_REGISTER_PROBE.  The table below keeps, next to each probe,
 * the Linux release that brought the feature, so that a refusal reads
 * "BPF helper bpf_loop() (Linux 5.17)" and not a verifier dump.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <liburing.h>

#include "error.h"
#include "probe.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* libbpf 1.1's headers predate TCX; the kernel's attach type number. */
#define PROBE_TCX_INGRESS 46
/* TC_ACT_UNSPEC: "no verdict, run the next program". */
#define PROBE_TC_ACT_UNSPEC (-1)

enum probe_kind { PROBE_PROG, PROBE_MAP, PROBE_MAP_MMAP, PROBE_HELPER, PROBE_URING,
		  PROBE_URING_OP };

struct feature {
	const char *name;	/* short, for tables */
	const char *what;	/* how a person calls it */
	const char *since;	/* first Linux release with it */
	const char *use;	/* what sgbpf needs it for */
	enum probe_kind kind;
	int type;		/* prog type, map type or io_uring opcode */
	int helper;		/* enum bpf_func_id, PROBE_HELPER only */
};

static const struct feature features[__SGBPF_FEAT_MAX] = {
	[SGBPF_FEAT_PROG_XDP] = {
		"xdp", "XDP programs", "4.8", "to gather replies",
		PROBE_PROG, BPF_PROG_TYPE_XDP },
	[SGBPF_FEAT_PROG_SCHED_CLS] = {
		"sched_cls", "TC (SCHED_CLS) programs", "4.1", "to scatter requests",
		PROBE_PROG, BPF_PROG_TYPE_SCHED_CLS },
	[SGBPF_FEAT_MAP_ARRAY_MMAP] = {
		"array_mmap", "memory-mapped BPF arrays (BPF_F_MMAPABLE)", "5.5",
		"to share request slots with user space",
		PROBE_MAP_MMAP, BPF_MAP_TYPE_ARRAY },
	[SGBPF_FEAT_MAP_PERCPU_ARRAY] = {
		"percpu_array", "per-CPU BPF arrays", "4.6",
		"for per-CPU partial results and counters",
		PROBE_MAP, BPF_MAP_TYPE_PERCPU_ARRAY },
	[SGBPF_FEAT_MAP_HASH] = {
		"hash", "BPF hash maps", "3.19", "to look workers up by address",
		PROBE_MAP, BPF_MAP_TYPE_HASH },
	[SGBPF_FEAT_MAP_PROG_ARRAY] = {
		"prog_array", "BPF program arrays (tail calls)", "4.2",
		"to call the service's reduction",
		PROBE_MAP, BPF_MAP_TYPE_PROG_ARRAY },
	[SGBPF_FEAT_MAP_RINGBUF] = {
		"ringbuf", "BPF ring buffers", "5.8", "to report completions",
		PROBE_MAP, BPF_MAP_TYPE_RINGBUF },
	[SGBPF_FEAT_HELPER_LOOP] = {
		"bpf_loop", "BPF helper bpf_loop()", "5.17",
		"to clone a request per worker and merge per-CPU results",
		PROBE_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop },
	[SGBPF_FEAT_HELPER_LOOKUP_PERCPU] = {
		"bpf_map_lookup_percpu_elem", "BPF helper bpf_map_lookup_percpu_elem()", "5.19",
		"to merge per-CPU partial results",
		PROBE_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_map_lookup_percpu_elem },
	[SGBPF_FEAT_HELPER_XDP_LOAD_BYTES] = {
		"bpf_xdp_load_bytes", "BPF helper bpf_xdp_load_bytes()", "5.18",
		"to read reply bodies at XDP",
		PROBE_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_xdp_load_bytes },
	[SGBPF_FEAT_HELPER_CLONE_REDIRECT] = {
		"bpf_clone_redirect", "BPF helper bpf_clone_redirect()", "4.2",
		"to fan a request out to the workers",
		PROBE_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_clone_redirect },
	[SGBPF_FEAT_HELPER_SKB_CHANGE_TAIL] = {
		"bpf_skb_change_tail", "BPF helper bpf_skb_change_tail()", "4.9",
		"to trim requests and replies",
		PROBE_HELPER, BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_change_tail },
	[SGBPF_FEAT_HELPER_RINGBUF_OUTPUT] = {
		"bpf_ringbuf_output", "BPF helper bpf_ringbuf_output()", "5.8",
		"to report completions",
		PROBE_HELPER, BPF_PROG_TYPE_XDP, BPF_FUNC_ringbuf_output },
	[SGBPF_FEAT_IO_URING] = {
		"io_uring", "io_uring with opcode probing (not disabled by the "
		"kernel.io_uring_disabled sysctl)", "5.6", "to send scatters and read replies",
		PROBE_URING },
	[SGBPF_FEAT_IO_URING_SENDMSG] = {
		"io_uring_sendmsg", "io_uring sendmsg (IORING_OP_SENDMSG)", "5.3",
		"to send scatters",
		PROBE_URING_OP, IORING_OP_SENDMSG },
	[SGBPF_FEAT_IO_URING_RECVMSG] = {
		"io_uring_recvmsg", "io_uring recvmsg (IORING_OP_RECVMSG)", "5.3",
		"to read replies",
		PROBE_URING_OP, IORING_OP_RECVMSG },
};

/* Set once every feature was found, so later services skip the probes. */
static int features_ok;

static const struct feature *feature_get(enum sgbpf_feature f)
{
	return (unsigned int)f < __SGBPF_FEAT_MAX ? &features[f] : NULL;
}

const char *sgbpf_probe_name(enum sgbpf_feature f)
{
	const struct feature *ft = feature_get(f);

	return ft ? ft->name : NULL;
}

const char *sgbpf_probe_since(enum sgbpf_feature f)
{
	const struct feature *ft = feature_get(f);

	return ft ? ft->since : NULL;
}

const char *sgbpf_probe_describe(enum sgbpf_feature f, char *buf, size_t len)
{
	const struct feature *ft = feature_get(f);

	if (!len)
		return buf;
	if (!ft)
		snprintf(buf, len, "unknown feature %d", (int)f);
	else
		snprintf(buf, len, "%s (Linux %s), %s", ft->what, ft->since, ft->use);
	return buf;
}

const char *sgbpf_probe_describe_missing(uint64_t missing, char *buf, size_t len)
{
	size_t used = 0;
	char one[256];

	if (!len)
		return buf;
	buf[0] = '\0';
	for (int f = 0; f < __SGBPF_FEAT_MAX && used < len; f++) {
		int n;

		if (!(missing & SGBPF_FEAT_BIT(f)))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? "; " : "",
			     sgbpf_probe_describe(f, one, sizeof(one)));
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* BPF_F_MMAPABLE is a flag of array maps: libbpf's map probe does not try it. */
static int probe_mmapable_array(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sgbpf_probe", sizeof(__u32), sizeof(__u64), 1,
			    &opts);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	/* Older kernels reject the unknown flag with EINVAL. */
	return errno == EINVAL || errno == EOPNOTSUPP ? 0 : -errno;
}

/*
 * io_uring_get_probe() sets up a small ring and asks which opcodes the
 * kernel knows: NULL means io_uring is missing, disabled, or too old to
 * answer (IORING_REGISTER_PROBE came in 5.6).
 */
static int probe_uring(int opcode)
{
	struct io_uring_probe *p = io_uring_get_probe();
	int ret;

	if (!p)
		return 0;
	ret = opcode < 0 ? 1 : io_uring_opcode_supported(p, opcode) != 0;
	io_uring_free_probe(p);
	return ret;
}

int sgbpf_probe_feature(enum sgbpf_feature f)
{
	const struct feature *ft = feature_get(f);
	int ret;

	if (!ft)
		return -EINVAL;
	switch (ft->kind) {
	case PROBE_PROG:
		ret = libbpf_probe_bpf_prog_type(ft->type, NULL);
		break;
	case PROBE_MAP:
		ret = libbpf_probe_bpf_map_type(ft->type, NULL);
		break;
	case PROBE_MAP_MMAP:
		ret = probe_mmapable_array();
		break;
	case PROBE_HELPER:
		ret = libbpf_probe_bpf_helper(ft->type, ft->helper, NULL);
		break;
	case PROBE_URING:
		ret = probe_uring(-1);
		break;
	case PROBE_URING_OP:
		ret = probe_uring(ft->type);
		break;
	default:
		return -EINVAL;
	}
	/* libbpf answers -EOPNOTSUPP for a type it cannot probe: not a kernel verdict. */
	return ret < 0 ? ret : ret > 0;
}

int sgbpf_probe_features(uint64_t *missing)
{
	bool uring = true;

	*missing = 0;
	for (int f = 0; f < __SGBPF_FEAT_MAX; f++) {
		int ret;

		/* Without io_uring its opcodes cannot be asked about; say it once. */
		if (!uring && features[f].kind == PROBE_URING_OP)
			continue;
		ret = sgbpf_probe_feature(f);
		if (ret < 0)
			return ret;
		if (!ret) {
			*missing |= SGBPF_FEAT_BIT(f);
			if (features[f].kind == PROBE_URING)
				uring = false;
		}
	}
	return 0;
}

/* ---- privileges ------------------------------------------------------- */

static const struct {
	unsigned int bit;
	const char *name;
} cap_names[] = {
	{ SGBPF_PRIV_BPF, "CAP_BPF" },
	{ SGBPF_PRIV_PERFMON, "CAP_PERFMON" },
	{ SGBPF_PRIV_NET_ADMIN, "CAP_NET_ADMIN" },
	{ SGBPF_PRIV_SYS_ADMIN, "CAP_SYS_ADMIN" },
};

#define NCAP_NAMES (sizeof(cap_names) / sizeof(cap_names[0]))

static bool cap_effective(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int sgbpf_probe_caps_missing(unsigned int need)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	unsigned int missing = 0;
	bool sys_admin;

	/* glibc has no capget() wrapper; libcap is not a dependency. */
	if (syscall(SYS_capget, &hdr, d))
		return -errno;
	sys_admin = cap_effective(d, CAP_SYS_ADMIN);
	/* The kernel's bpf_capable() and perfmon_capable() accept CAP_SYS_ADMIN. */
	if ((need & SGBPF_PRIV_BPF) && !cap_effective(d, CAP_BPF) && !sys_admin)
		missing |= SGBPF_PRIV_BPF;
	if ((need & SGBPF_PRIV_PERFMON) && !cap_effective(d, CAP_PERFMON) && !sys_admin)
		missing |= SGBPF_PRIV_PERFMON;
	if ((need & SGBPF_PRIV_NET_ADMIN) && !cap_effective(d, CAP_NET_ADMIN))
		missing |= SGBPF_PRIV_NET_ADMIN;
	if ((need & SGBPF_PRIV_SYS_ADMIN) && !sys_admin)
		missing |= SGBPF_PRIV_SYS_ADMIN;
	return (int)missing;
}

const char *sgbpf_probe_caps_str(unsigned int caps, char *buf, size_t len)
{
	unsigned int total = 0, done = 0;
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < NCAP_NAMES; i++)
		total += !!(caps & cap_names[i].bit);
	for (size_t i = 0; i < NCAP_NAMES && used < len; i++) {
		const char *sep;
		int n;

		if (!(caps & cap_names[i].bit))
			continue;
		sep = !done ? "" : done + 1 == total ? " and " : ", ";
		n = snprintf(buf + used, len - used, "%s%s", sep, cap_names[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
		done++;
	}
	return buf;
}

int sgbpf_probe_privileges(unsigned int need, const char *action)
{
	char needed[96], lacking[96];
	int missing = sgbpf_probe_caps_missing(need);

	if (missing < 0)
		return sgbpf_err(missing, "cannot read this process's capabilities: %s",
				 strerror(-missing));
	if (!missing)
		return 0;
	return sgbpf_err(-EPERM, "%s needs %s (run as root); this process lacks %s", action,
			 sgbpf_probe_caps_str(need, needed, sizeof(needed)),
			 sgbpf_probe_caps_str(missing, lacking, sizeof(lacking)));
}

int sgbpf_probe_udp_backend(void)
{
	char list[2048];
	uint64_t missing;
	int err;

	err = sgbpf_probe_privileges(SGBPF_PRIV_SERVICE, "creating an sgbpf service");
	if (err)
		return err;
	if (__atomic_load_n(&features_ok, __ATOMIC_ACQUIRE))
		return 0;
	err = sgbpf_probe_features(&missing);
	if (err)
		return sgbpf_err(err, "cannot probe the kernel's BPF and io_uring features: %s",
				 strerror(-err));
	if (missing)
		return sgbpf_err(-EOPNOTSUPP, "this kernel lacks what sgbpf's UDP backend needs: %s",
				 sgbpf_probe_describe_missing(missing, list, sizeof(list)));
	__atomic_store_n(&features_ok, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- TCX -------------------------------------------------------------- */

int sgbpf_probe_tcx(int ifindex)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = PROBE_TC_ACT_UNSPEC },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog, link, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sgbpf_tcx_probe", "GPL", insns, 2, NULL);
	if (prog < 0) {
		err = -errno;
		if (err == -EPERM || err == -EACCES)
			return sgbpf_err(err, "probing TCX needs CAP_BPF and CAP_NET_ADMIN "
					 "(run as root)");
		return sgbpf_err(err, "cannot load a TC program to probe TCX: %s", strerror(-err));
	}
	/* The program returns "next": for the moment it is attached, it changes nothing. */
	link = bpf_link_create(prog, ifindex, (enum bpf_attach_type)PROBE_TCX_INGRESS, NULL);
	err = link < 0 ? -errno : 0;
	close(prog);
	if (link >= 0) {
		close(link);
		return 1;
	}
	/* A kernel without TCX does not know the attach type. */
	if (err == -EINVAL || err == -EOPNOTSUPP)
		return 0;
	if (err == -ENODEV)
		return sgbpf_err(err, "no interface with index %d in this network namespace",
				 ifindex);
	return sgbpf_err(err, "cannot probe TCX on ifindex %d: %s", ifindex, strerror(-err));
}
