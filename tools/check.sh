#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check: every test in a release build (gcc), a clang build, an
# ASan+UBSan build and a TSan build (concurrent tests, RCU stand-in);
# every benchmark in --quick mode; the demo; and an install whose
# pkg-config file builds a program, shared and static.
# Prints one last line "N passed, N failed"; exits non-zero on a failure.
#
# Stress length per sanitizer build: UMM_STRESS_SAN (seconds, default 30);
# release build: UMM_STRESS_REL (default 10).
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
stress_san=${UMM_STRESS_SAN:-30}
stress_rel=${UMM_STRESS_REL:-10}
passed=0
failed=0
failures=""

ok() { passed=$((passed + 1)); echo "PASS $1"; }
ko() { failed=$((failed + 1)); failures="$failures $1"; echo "FAIL $1"; }

build() {	# dir, cmake args...
	local dir=$1
	shift
	echo "== build $dir $*"
	cmake -S . -B "$dir" "$@" >"$dir.cmake.log" 2>&1 || { cat "$dir.cmake.log"; return 1; }
	cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}

run_ctest() {	# tag, dir, stress seconds, ctest args...
	local tag=$1 dir=$2 secs=$3 log
	shift 3
	log=$(mktemp)
	echo "== ctest $tag ($dir, stress ${secs}s)"
	(cd "$dir" && UMM_STRESS_SECONDS=$secs ctest --output-on-failure "$@") >"$log" 2>&1
	grep -E "^ *[0-9]+/[0-9]+ Test" "$log"
	local t
	while read -r t; do ok "$tag:$t"; done < <(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([a-z0-9_]+) \.+ +Passed.*/\1/p' "$log")
	while read -r t; do ko "$tag:$t"; done < <(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([a-z0-9_]+) \.+.*(Failed|Timeout|Exception|Not Run|SEGFAULT|Child aborted|Subprocess aborted).*/\1/p' "$log")
	grep -q "tests passed" "$log" || { cat "$log"; ko "$tag:ctest"; }
	if grep -qE "Failed|Timeout|Exception" "$log"; then
		sed -n '/The following tests FAILED/,$p' "$log"
		grep -B2 -A40 -E "CHECK|ERROR: |WARNING: ThreadSanitizer|runtime error" "$log" | head -150
	fi
	rm -f "$log"
}

mkdir -p build
# 1. release, gcc: everything
if build build/release -DCMAKE_BUILD_TYPE=Release; then
	ok build:release
	run_ctest release build/release "$stress_rel"
	for b in build/release/bench/bench_*; do
		[ -x "$b" ] || continue
		if "$b" --quick >"build/$(basename "$b").quick.log" 2>&1; then
			ok "bench:$(basename "$b")"
		else
			cat "build/$(basename "$b").quick.log"
			ko "bench:$(basename "$b")"
		fi
	done
	# make bench's driver gathers the same lines into its table
	if tools/bench.sh --table build/bench_*.quick.log >build/bench-table.quick.txt 2>&1; then
		ok bench:table
	else
		cat build/bench-table.quick.txt
		ko bench:table
	fi
	grep -q "^# Unicorn: not built" build/bench_regions.quick.log 2>/dev/null &&
		echo "note: bench_regions built without Unicorn (libunicorn-dev not found by pkg-config): its column is skipped"
	if build/release/examples/demo >build/demo.log 2>&1; then ok demo; else cat build/demo.log; ko demo; fi
else
	ko build:release
fi

# 2. clang: builds -Werror clean, unit tests pass
if command -v clang >/dev/null; then
	if build build/clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang; then
		ok build:clang
		run_ctest clang build/clang 1 -L unit
	else
		ko build:clang
	fi
fi

# 3. ASan + UBSan: everything
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if build build/asan -DUMM_SANITIZE=address; then
	ok build:asan
	run_ctest asan build/asan "$stress_san"
else
	ko build:asan
fi

# 4. TSan (RCU stand-in): the concurrent tests
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
if build build/tsan -DUMM_SANITIZE=thread; then
	ok build:tsan
	run_ctest tsan build/tsan "$stress_san" -L concurrent
else
	ko build:tsan
fi

# 5. install, then a user's program through pkg-config, shared and static
tools/install_test.sh && ok install || ko install

echo
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
