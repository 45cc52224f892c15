#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# test_install: installs a build into a temporary prefix and uses it the way
# an application does: a C program built with nothing but pkg-config (shared
# and static), a CMake project using find_package(sgbpf) and
# sgbpf_add_reduction(), the installed CLI and the man pages.  Nothing here
# needs root or touches the network.
#
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
# Exit codes: 0 pass, 1 fail, 77 skipped (a tool is missing).

set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

for tool in cc cmake pkg-config readelf nm; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not found" >&2
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sgbpf-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# A sanitizer build's library needs its runtime in every program linked to it.
san=
if grep -q '^SGBPF_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
	san="-fsanitize=address,undefined"
fi

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

# The version three ways: the installed header, pkg-config, and at run time.
hdr=$prefix/include/sgbpf/sgbpf.h
[ -f "$hdr" ] || fail "$hdr not installed"
ver_part() {
	sed -n "s/^#define SGBPF_VERSION_$1 \\([0-9]*\\).*/\\1/p" "$hdr"
}
version=$(ver_part MAJOR).$(ver_part MINOR).$(ver_part PATCH)
echo "header version: $version"

pc=$(find "$prefix" -name sgbpf.pc -print -quit)
[ -n "$pc" ] || fail "sgbpf.pc not installed"
export PKG_CONFIG_PATH=${pc%/*}
[ "$(pkg-config --modversion sgbpf)" = "$version" ] ||
	fail "pkg-config says version $(pkg-config --modversion sgbpf), the header $version"
incdir=$(cd "$(pkg-config --variable=includedir sgbpf)" && pwd)
libdir=$(cd "$(pkg-config --variable=libdir sgbpf)" && pwd)
[ "$incdir" = "$prefix/include" ] || fail "pkg-config includedir $incdir is not in $prefix"
case $libdir in
"$prefix"/*) ;;
*) fail "pkg-config libdir $libdir is not in $prefix" ;;
esac

# Refusing missing options needs neither root nor the kernel, yet it links
# the service code, so the static link below needs every private dependency.
cat >"$tmp/main.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <sgbpf/sgbpf.h>

int main(void)
{
	if (sgbpf_service_create(NULL) || errno != EINVAL)
		return 1;
	printf("%s\n", sgbpf_version());
	return 0;
}
EOF

expect_version() {
	local what=$1 out
	shift
	out=$("$@") || fail "$what exited with $?"
	[ "$out" = "$version" ] || fail "$what printed '$out', expected '$version'"
	echo "$what: $out"
}

echo "== pkg-config, shared library"
# shellcheck disable=SC2046 # pkg-config output is a list of words
cc $san -o "$tmp/app_shared" "$tmp/main.c" $(pkg-config --cflags --libs sgbpf) ||
	fail "cannot build against the shared library with pkg-config alone"
grep -q 'NEEDED.*libsgbpf\.so\.' <<<"$(readelf -d "$tmp/app_shared")" ||
	fail "app_shared is not linked to libsgbpf.so"
expect_version "app_shared" env LD_LIBRARY_PATH="$libdir" "$tmp/app_shared"

echo "== pkg-config --static, static library"
libs=$(pkg-config --static --libs sgbpf | sed 's/-lsgbpf\b/-l:libsgbpf.a/')
# shellcheck disable=SC2046,SC2086
cc $san -o "$tmp/app_static" "$tmp/main.c" $(pkg-config --cflags sgbpf) $libs ||
	fail "cannot link libsgbpf.a with pkg-config --static (Requires.private incomplete?)"
if grep -q 'NEEDED.*libsgbpf' <<<"$(readelf -d "$tmp/app_static")"; then
	fail "app_static still needs libsgbpf.so"
fi
expect_version "app_static" "$tmp/app_static"
# The reference workers and their reply contents (src/worker/) are the CLI's,
# not the library's.
if nm --defined-only "$libdir/libsgbpf.a" 2>/dev/null | grep -qE ' T (reply_gen|worker)_'; then
	fail "libsgbpf.a holds reference-worker code"
fi

echo "== CMake package: find_package(sgbpf), sgbpf::sgbpf, sgbpf_add_reduction()"
mkdir -p "$tmp/proj"
cp "$tmp/main.c" "$tmp/proj/main.c"
cat >"$tmp/proj/objpath.c" <<'EOF'
#include <stdio.h>

int main(void)
{
	puts(REDUCE_OBJ);
	return 0;
}
EOF
# The shape docs/reductions.md recommends: the object's path reaches the
# program through the target's BPF_OBJECT property.
cat >"$tmp/proj/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(sgbpf_install_check LANGUAGES C)
find_package(sgbpf REQUIRED)
add_executable(app main.c)
target_link_libraries(app PRIVATE sgbpf::sgbpf)
add_executable(app_static main.c)
target_link_libraries(app_static PRIVATE sgbpf::sgbpf_static)
sgbpf_add_reduction(myred ${EXAMPLE_DIR}/sum_sat_u32.bpf.c)
add_executable(objpath objpath.c)
add_dependencies(objpath myred)
target_compile_definitions(objpath PRIVATE REDUCE_OBJ="$<TARGET_PROPERTY:myred,BPF_OBJECT>")
EOF
gen=()
if command -v ninja >/dev/null; then
	gen=(-G Ninja)
fi
cmake -S "$tmp/proj" -B "$tmp/proj/build" "${gen[@]}" \
	-DCMAKE_PREFIX_PATH="$prefix" -DEXAMPLE_DIR="$src/examples" \
	-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
	>"$tmp/proj.log" 2>&1 || { cat "$tmp/proj.log" >&2; fail "configuring failed"; }
found=$(sed -n 's/^sgbpf_DIR:PATH=//p' "$tmp/proj/build/CMakeCache.txt")
case $found in
"$prefix"/*) echo "sgbpf_DIR: $found" ;;
*) fail "find_package(sgbpf) found '$found', not the package in $prefix" ;;
esac
cmake --build "$tmp/proj/build" >>"$tmp/proj.log" 2>&1 ||
	{ cat "$tmp/proj.log" >&2; fail "building the project failed"; }
expect_version "app (sgbpf::sgbpf)" "$tmp/proj/build/app"
expect_version "app_static (sgbpf::sgbpf_static)" "$tmp/proj/build/app_static"
if grep -q 'NEEDED.*libsgbpf' <<<"$(readelf -d "$tmp/proj/build/app_static")"; then
	fail "app_static (sgbpf::sgbpf_static) needs libsgbpf.so"
fi

obj=$("$tmp/proj/build/objpath")
[ -f "$obj" ] || fail "BPF_OBJECT of myred names '$obj', which does not exist"
[ "${obj##*/}" = sum_sat_u32.bpf.o ] || fail "BPF_OBJECT of myred is '$obj', not */sum_sat_u32.bpf.o"
grep -q 'Machine:.*BPF' <<<"$(readelf -h "$obj")" || fail "$obj is not a BPF object"
# The macro makes an XDP program NAME and a TC program NAME_tc.
syms=$(readelf -sW "$obj")
for prog in sum_sat_u32 sum_sat_u32_tc; do
	grep -qw "$prog" <<<"$syms" || fail "$obj lacks program $prog"
done
echo "reduction object: $obj"

echo "== CLI"
out=$("$prefix/bin/sgbpf" --version) || fail "sgbpf --version exited with $?"
[ "$out" = "sgbpf $version" ] || fail "sgbpf --version printed '$out'"
echo "$out"

echo "== man pages"
man=$prefix/share/man
for page in man1/sgbpf.1 man3/sgbpf_service_create.3 man3/sgbpf_scatter.3 man3/sgbpf_wait.3 \
	    man3/sgbpf_poll.3 man3/sgbpf_service_fd.3 man3/sgbpf_next_timeout_ms.3 \
	    man3/sgbpf_inflight.3 man3/sgbpf_service_destroy.3 man3/sgbpf_last_error.3; do
	[ -f "$man/$page" ] || fail "$man/$page not installed"
done
grep -qx '\.so man3/sgbpf_wait\.3' "$man/man3/sgbpf_poll.3" ||
	fail "sgbpf_poll.3 does not point at sgbpf_wait.3"
if command -v groff >/dev/null; then
	# Rendered from the man directory, as man(1) does, so .so pages resolve.
	for page in "$man"/man1/*.1 "$man"/man3/*.3; do
		rel=${page#"$man"/}
		warn=$(cd "$man" && groff -man -Tutf8 -ww -z -s "$rel" 2>&1) ||
			fail "groff cannot render $rel"
		[ -z "$warn" ] || fail "groff warns about $rel: $warn"
	done
	text=$(cd "$man" && groff -man -Tascii -P-c -P-b -P-u -s man3/sgbpf_poll.3 2>/dev/null)
	grep -q 'sgbpf_next_timeout_ms' <<<"$text" ||
		fail "man3/sgbpf_poll.3 does not render the sgbpf_wait page"
	echo "man pages render without warnings"
else
	echo "groff not found: man pages checked for presence only"
fi

echo "PASS"
