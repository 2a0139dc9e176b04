#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what building umm needs on Debian (bookworm): as root with
# apt-get; otherwise prints the one command to run and stops.
# Usage: deps.sh [check]   ("check" adds what the test suite needs)
set -u
pkgs="cmake make gcc pkg-config liburcu-dev"
[ "${1:-}" = check ] && pkgs="$pkgs clang"

missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "umm needs:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >/tmp/umm-apt.log 2>&1; then
	apt-get update >/tmp/umm-apt-update.log 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >/tmp/umm-apt.log 2>&1 || {
		echo "apt-get install failed; see /tmp/umm-apt.log" >&2
		exit 1
	}
fi
