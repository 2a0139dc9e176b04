#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `make install PREFIX=tmp`, then build tests/install/hello.c with
# pkg-config, linked shared and static, and run both; and
# tests/install/dlopen.c, which loads the installed libumm.so at run time.
set -eu
cd "$(dirname "$0")/.."
prefix=$(mktemp -d /tmp/umm-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make --no-print-directory install PREFIX="$prefix" >/dev/null
for f in include/umm/umm.h lib/libumm.a lib/libumm.so lib/pkgconfig/umm.pc; do
	[ -e "$prefix/$f" ] || { echo "install: $f missing"; exit 1; }
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -o "$prefix/hello" tests/install/hello.c $(pkg-config --cflags --libs umm)
LD_LIBRARY_PATH="$prefix/lib" "$prefix/hello"
# thread-locals are initial-exec (CMakeLists.txt): no __tls_get_addr()
if nm -D --undefined-only "$prefix/lib/libumm.so" | grep -q __tls_get_addr; then
	echo "install: libumm.so reads its thread-locals through __tls_get_addr"
	exit 1
fi
cc -o "$prefix/dlopen" tests/install/dlopen.c $(pkg-config --cflags umm) -ldl
"$prefix/dlopen" "$prefix/lib/libumm.so"
cc -o "$prefix/hello-static" tests/install/hello.c $(pkg-config --cflags umm) \
	-Wl,-Bstatic $(pkg-config --static --libs-only-l umm | sed 's/-lpthread//') \
	-Wl,-Bdynamic -lpthread $(pkg-config --static --libs-only-L umm)
"$prefix/hello-static"
if ldd "$prefix/hello-static" | grep -q libumm; then
	echo "install: static build still links libumm.so"
	exit 1
fi
