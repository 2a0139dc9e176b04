#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what building umm needs on Debian (bookworm): as root with
# apt-get; otherwise prints the one command to run and stops.
# Usage: deps.sh [check|bench]   ("check" adds what the test suite needs,
# "bench" what make bench uses). Unicorn (the peer in the benchmarks) and
# gnuplot (their plots) are optional: without root, a missing one is only
# reported, and the benchmarks go on without it.
set -u
pkgs="cmake make gcc pkg-config liburcu-dev"
optional=""
case ${1:-} in
check) pkgs="$pkgs clang"; optional="libunicorn-dev" ;;
bench) optional="libunicorn-dev gnuplot-nox" ;;
esac

missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
missing_opt=""
for p in $optional; do
	# any gnuplot will do (gnuplot-qt, gnuplot-x11 provide one too)
	[ "$p" = gnuplot-nox ] && command -v gnuplot >/dev/null && continue
	dpkg -s "$p" >/dev/null 2>&1 || missing_opt="$missing_opt $p"
done
[ -z "$missing$missing_opt" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	if [ -n "$missing" ]; then
		echo "umm needs:$missing" >&2
		echo "run: sudo apt-get install -y$missing$missing_opt" >&2
		exit 1
	fi
	echo "note: optional, not installed:$missing_opt (the benchmarks skip" \
	     "what needs them); run: sudo apt-get install -y$missing_opt" >&2
	exit 0
fi

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/tmp/umm-apt.log 2>&1
}
echo "installing:$missing$missing_opt"
if ! apt_install $missing $missing_opt; then
	apt-get update >/tmp/umm-apt-update.log 2>&1
	if ! apt_install $missing $missing_opt; then
		if [ -n "$missing" ] && ! apt_install $missing; then
			echo "apt-get install failed; see /tmp/umm-apt.log" >&2
			exit 1
		fi
		echo "note: could not install$missing_opt (see /tmp/umm-apt.log);" \
		     "the benchmarks skip what needs them" >&2
	fi
fi
