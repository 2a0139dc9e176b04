#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make bench: build the release tree, run every bench/bench_* program, and
# gather the RESULT and NOTE lines they print (format in bench/bench.h)
# into one table on stdout; then regenerate docs/BENCHMARKS.md (the table,
# the targets checked against it, the machine, the date) and the plots
# docs/bench-*.svg (gnuplot). Progress goes to stderr; each program's own
# output to BUILD/bench-logs/NAME.log.
#
# Usage: tools/bench.sh [--quick] [--build DIR] [--no-build | --no-run]
#        tools/bench.sh --table LOG...   (only the table, from saved logs)
#   --quick     every program's smoke run (make check); the docs are left
#               alone, the numbers go nowhere but the logs and stdout
#   --build     the CMake build tree (default build/release)
#   --no-build  run what is built
#   --no-run    the table, docs and plots again from the last full run's
#               logs (after a change to this script, say)
# As root the host's vm.max_map_count is raised for the programs that need
# more VMAs than 65,530 (--raise-max-map-count) and restored afterwards.
set -u
cd "$(dirname "$0")/.."
build=build/release
quick=0
do_build=1
no_run=0
table_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--build) build=$2; shift ;;
	--no-build) do_build=0 ;;
	--no-run) do_build=0; no_run=1 ;;
	--table) table_only=1; shift; break ;;
	*) echo "usage: $0 [--quick] [--build DIR] [--no-build | --no-run] | --table LOG..." >&2
	   exit 2 ;;
	esac
	shift
done

# Programs in the table's order; any other bench_* runs after them.
order="bench_wis bench_fault bench_vma bench_regions bench_thp bench_pgtable bench_vma_tree"

# ---- the table: awk over the RESULT/NOTE lines of the logs ----

# table MODE LOG... -- MODE: text (stdout), md (docs), targets-md,
# plot:vmas / plot:regions / plot:threads (gnuplot data blocks)
table() {
	local mode=$1
	shift
	awk -F'\t' -v mode="$mode" '
	function num(s) { return s ~ /^[-+0-9.eE]+ [-+0-9.eE]+ [-+0-9.eE]+$/ }
	function med(s,  a) { split(s, a, " "); return a[1] + 0 }
	function f(x) {
		if (x >= 100) return sprintf("%.0f", x)
		if (x >= 10) return sprintf("%.1f", x)
		return sprintf("%.2f", x)
	}
	function cell(s,  a, d) {
		if (!num(s)) return s
		split(s, a, " ")
		d = mode == "text" ? "-" : "–"
		return f(a[1]) " (" f(a[2]) d f(a[3]) ")"
	}
	function ratio(n, d,  r, x) {
		if (!num(n) || !num(d) || med(d) <= 0 || unit ~ /^%/) return "-"
		r = med(n) / med(d)
		x = mode == "text" ? "x" : "×"
		if (r >= 100) return sprintf("%.0f%s", r, x)
		if (r >= 10) return sprintf("%.1f%s", r, x)
		return sprintf("%.2f%s", r, x)
	}
	function title(g) {
		if (g == "will-it-scale") return "will-it-scale shapes, 1 and 2 threads (ns per fault or per mmap+munmap pair: wall time over the work of all threads)"
		if (g == "churn") return "Faults of thread A while thread B churns mmap/munmap in the same mm (bench_fault)"
		if (g == "vma") return "VMA calls with N VMAs mapped (bench_vma)"
		if (g == "mprotect") return "mprotect of a whole populated region (bench_vma)"
		if (g == "regions") return "Many regions: N regions of 64 KiB, umm vs host vs Unicorn (bench_regions)"
		if (g == "access") return "Random 8-byte umm_read/umm_write through the software TLB (bench_fault)"
		if (g == "thp") return "THPs: MADV_COLLAPSE, the first fault of a file THP, mprotect of a leaf (bench_thp; only the call timed)"
		if (g == "reference") return "References, host only"
		if (g == "internals") return "Internals, no host counterpart (bench_pgtable, bench_vma_tree)"
		return g
	}
	BEGIN {
		q = sprintf("%c", 39)	# a single quote, for gnuplot strings
		split("will-it-scale churn vma mprotect regions access thp reference internals", go, " ")
		for (i in go) rank[go[i]] = i
	}
	$1 == "NOTE" {
		prog = FILENAME; sub(/.*\//, "", prog); sub(/(\.quick)?\.log$/, "", prog)
		if (!(($2) in seen_note)) { notes[++nn] = prog ": " $2; seen_note[$2] = 1 }
		next
	}
	$1 != "RESULT" || NF < 8 { next }
	{
		g = $2
		if (!(g in gseen)) {
			gseen[g] = 1
			ng++
			gl[ng] = g
			if (!(g in rank)) rank[g] = 100 + ng
		}
		n = ++rows[g]
		W[g, n] = $3; P[g, n] = $4; U[g, n] = $5
		UM[g, n] = $6; HO[g, n] = $7; UC[g, n] = $8
		key[$2 "|" $3 "|" $4] = g SUBSEP n
		if ($8 != "-") ucg[g] = 1
	}
	# Data blocks (x median min max) on stdout, one per side and
	# workload, and the gnuplot command drawing them into ENVIRON
	# BENCH_PLOT_CMD: a colour per workload, a dash and mark per side.
	function plot(sel, what,  j, x, s, k, v, a, ns, id, cmd, nw, t, datafile) {
		datafile = ENVIRON["BENCH_PLOT_DATA"]
		split("umm host Unicorn", sides, " ")
		split("#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #8c564b #e377c2 #17becf", col, " ")
		for (j = 1; j <= rows[sel]; j++) {
			if (P[sel, j] !~ "^" what "=") continue
			if (sel == "regions" && U[sel, j] != "ns/region") continue
			x = P[sel, j]; sub(/^[a-z]+=/, "", x)
			if (!(W[sel, j] in wid)) wid[W[sel, j]] = ++nw
			for (k = 1; k <= 3; k++) {
				v = k == 1 ? UM[sel, j] : k == 2 ? HO[sel, j] : UC[sel, j]
				if (!num(v)) continue
				s = sides[k] ": " W[sel, j]
				if (!(s in sid)) { sid[s] = ++ns; sname[ns] = s; sside[ns] = k; swl[ns] = wid[W[sel, j]] }
				split(v, a, " ")
				pts[sid[s]] = pts[sid[s]] x " " a[1] " " a[2] " " a[3] "\n"
			}
		}
		cmd = "plot"
		for (id = 1; id <= ns; id++) {
			printf "%s\n\n", pts[id]
			t = sname[id]; gsub(q, q q, t)
			cmd = cmd sprintf("%s %s%s%s index %d using 1:2:3:4 with yerrorlines lw 2 lc rgb %s%s%s dt %d pt %d ps 0.8 title %s%s%s", id > 1 ? "," : "", q, datafile, q, id - 1, q, col[(swl[id] - 1) % 8 + 1], q, sside[id], sside[id] == 1 ? 7 : sside[id] == 2 ? 5 : 9, q, t, q)
		}
		if (ns) print cmd > ENVIRON["BENCH_PLOT_CMD"]
	}
	function md_targets(  r, k, a, b, c, d, st, fig) {
		print "| target | figure from the table below | |"
		print "|---|---|---|"
		# 1. anonymous faults
		k = find("will-it-scale", "page_fault1 ", "threads=1")
		if (k != "") {
			split(k, a, SUBSEP); r = rat(HO[a[1], a[2]], UM[a[1], a[2]])
			k2 = find("will-it-scale", "page_fault1 ", "threads=2")
			fig = sprintf("page_fault1: host/umm = %s with 1 thread", fr(r))
			if (k2 != "") { split(k2, b, SUBSEP); fig = fig sprintf(", %s with 2", fr(rat(HO[b[1], b[2]], UM[b[1], b[2]]))) }
			tgt("anonymous fault rate ≥ 10× the host kernel'"'"'s", fig, r >= 10)
			# issue 4 states it in time: one thread, zeroed frames
			c = med(UM[a[1], a[2]])
			fig = sprintf("page_fault1, 1 thread: %.0f ns", c)
			k2 = find("churn", "A" q "s faults, alone", "per-VMA locks")
			if (k2 != "") { split(k2, b, SUBSEP); d = med(UM[b[1], b[2]]); fig = fig sprintf("; bench_fault, A alone: %.0f ns", d) }
			tgt("(issue 4) anonymous fault ≤ 150 ns", fig, c <= 150)
		}
		k = find("will-it-scale", "mmap1 ", "threads=1")
		if (k != "") {
			split(k, a, SUBSEP); r = rat(HO[a[1], a[2]], UM[a[1], a[2]])
			fig = sprintf("mmap1 (128 MiB): host/umm = %s", fr(r))
			k2 = find("vma", "mmap+munmap", "vmas=10")
			if (k2 != "") { split(k2, b, SUBSEP); fig = fig sprintf("; 4 KiB at 10 VMAs: %s", fr(rat(HO[b[1], b[2]], UM[b[1], b[2]]))) }
			tgt("mmap+munmap rate ≥ 5× the host kernel'"'"'s", fig, r >= 5)
		}
		# the raw share as the target states it; with the zeroer off,
		# where A alone does the same work on one CPU as A beside B (with
		# it on, A alone has its frames zeroed on the CPU B later takes)
		cw = churn("per-VMA locks", "% of alone"); cwn = churn("per-VMA locks", "% of beside the spinner")
		cz = churn("per-VMA locks, UMM_PREZERO=0", "% of alone"); czn = churn("per-VMA locks, UMM_PREZERO=0", "% of beside the spinner")
		co = churn("UMM_NO_PER_VMA_LOCK", "% of alone"); con = churn("UMM_NO_PER_VMA_LOCK", "% of beside the spinner")
		if (cw != "") {
			st = cw >= 90 ? "met" : cz != "" && cz >= 90 ? "**missed**; met with the zeroer off" : "**missed**"
			fig = sprintf("%.0f%% of the solo rate (%.0f%% of the rate beside a thread that only spins)", cw, cwn)
			if (cz != "") fig = fig sprintf("; zeroer off (`UMM_PREZERO=0`): %.0f%% of solo, %.0f%% of beside the spinner", cz, czn)
			tgt("faults under mmap churn ≥ 90% of the solo rate, per-VMA locks", fig, st)
		}
		if (cw != "" && co != "") {
			st = co <= cw - 10 ? "met" : con <= cwn - 10 ? "**missed**; met net of the machine" : "**missed**"
			tgt("... and visibly less without them (`UMM_NO_PER_VMA_LOCK`)", sprintf("%.0f%% of solo without, %.0f%% with; net of the machine %.0f%% without, %.0f%% with", co, cw, con, cwn), st)
		}
		for (ph = 1; ph <= 2; ph++) {
			w = ph == 1 ? "map N regions" : "mprotect the first page"
			k = find("regions", w, "regions=1000")
			if (k == "") continue
			split(k, a, SUBSEP)
			if (num(UC[a[1], a[2]])) {
				r = rat(UC[a[1], a[2]], UM[a[1], a[2]])
				tgt(sprintf("many regions: %s rate ≥ 1,000× Unicorn'"'"'s at N = 1,000", ph == 1 ? "map" : "mprotect"), sprintf("Unicorn/umm = %s", fr(r)), r >= 1000)
			} else {
				tgt(sprintf("many regions: %s rate ≥ 1,000× Unicorn'"'"'s at N = 1,000", ph == 1 ? "map" : "mprotect"), "Unicorn: " UC[a[1], a[2]], -1)
			}
		}
		k = find("regions", "whole cycle", "regions=1000000")
		if (k != "") {
			split(k, a, SUBSEP)
			tgt("many regions: every N up to 1,000,000 completes on umm", num(UM[a[1], a[2]]) ? sprintf("N = 1,000,000: %s ms per cycle", f(med(UM[a[1], a[2]]))) : UM[a[1], a[2]], num(UM[a[1], a[2]]))
		}
		for (j = 1; j <= rows["vma"]; j++) {
			if (P["vma", j] != "vmas=1000000") continue
			c = med(UM["vma", j])
			# the target is per call: an mmap+munmap row times two calls
			if (W["vma", j] ~ /mmap\+munmap/)
				tgt("(issue 3) " W["vma", j] " ≤ 1 µs a call at 1,000,000 VMAs", sprintf("%.0f ns a pair: %.0f ns a call", c, c / 2), c / 2 <= 1000)
			else
				tgt("(issue 3) " W["vma", j] " ≤ 1 µs at 1,000,000 VMAs", sprintf("%.0f ns", c), c <= 1000)
		}
	}
	# ok: 1 met, 0 missed, -1 not measured, or the words to print
	function tgt(t, fig, ok) {
		printf "| %s | %s | %s |\n", t, fig, ok == -1 ? "not measured" : ok == 1 ? "met" : ok == 0 ? "**missed**" : ok
	}
	function churn(p, w,  k, a) {
		k = find("churn", "A" q "s rate beside B, " w, p)
		if (k == "") return ""
		split(k, a, SUBSEP)
		return med(UM[a[1], a[2]])
	}
	function rat(n, d) { return num(n) && num(d) && med(d) > 0 ? med(n) / med(d) : 0 }
	function fr(r) { return r >= 100 ? sprintf("%.0f×", r) : r >= 10 ? sprintf("%.1f×", r) : sprintf("%.2f×", r) }
	function find(g, wprefix, p,  j) {
		for (j = 1; j <= rows[g]; j++)
			if (index(W[g, j], wprefix) == 1 && P[g, j] == p) return g SUBSEP j
		return ""
	}
	function text_table(  i, j, g, o, w, line, hdr) {
		# groups in rank order, columns sized to fit
		for (i = 1; i <= ng; i++) order[i] = gl[i]
		for (i = 1; i <= ng; i++) for (j = i + 1; j <= ng; j++)
			if (rank[order[j]] < rank[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
		w1 = 8; w2 = 5; w3 = 4; w4 = 3; w5 = 4; w7 = 7
		for (i = 1; i <= ng; i++) {
			g = order[i]
			for (j = 1; j <= rows[g]; j++) {
				unit = U[g, j]
				if (length(W[g, j]) > w1) w1 = length(W[g, j])
				if (length(P[g, j]) > w2) w2 = length(P[g, j])
				if (length(U[g, j]) > w3) w3 = length(U[g, j])
				if (length(cell(UM[g, j])) > w4) w4 = length(cell(UM[g, j]))
				if (length(cell(HO[g, j])) > w5) w5 = length(cell(HO[g, j]))
				if (length(cell(UC[g, j])) > w7) w7 = length(cell(UC[g, j]))
			}
		}
		if (w1 > 60) w1 = 60
		if (w5 > 40) w5 = 40
		if (w7 > 40) w7 = 40
		fmt = "%-" w1 "s  %-" w2 "s  %-" w3 "s  %-" w4 "s  %-" w5 "s  %8s  %-" w7 "s  %8s\n"
		printf fmt, "workload", "param", "unit", "umm", "host", "host/umm", "Unicorn", "uc/umm"
		for (i = 1; i <= ng; i++) {
			g = order[i]
			printf "\n== %s\n", title(g)
			for (j = 1; j <= rows[g]; j++) {
				unit = U[g, j]
				printf fmt, substr(W[g, j], 1, w1), P[g, j], U[g, j], cell(UM[g, j]), cell(HO[g, j]), ratio(HO[g, j], UM[g, j]), cell(UC[g, j]), ratio(UC[g, j], UM[g, j])
			}
		}
		if (nn) {
			print "\nnotes:"
			for (i = 1; i <= nn; i++) print "- " notes[i]
		}
	}
	function md_table(  i, j, g, t) {
		for (i = 1; i <= ng; i++) order[i] = gl[i]
		for (i = 1; i <= ng; i++) for (j = i + 1; j <= ng; j++)
			if (rank[order[j]] < rank[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
		for (i = 1; i <= ng; i++) {
			g = order[i]
			printf "\n### %s\n\n", title(g)
			if (g in ucg) {
				print "| workload | param | unit | umm | host | host/umm | Unicorn | Unicorn/umm |"
				print "|---|---|---|---|---|---|---|---|"
			} else {
				print "| workload | param | unit | umm | host | host/umm |"
				print "|---|---|---|---|---|---|"
			}
			for (j = 1; j <= rows[g]; j++) {
				unit = U[g, j]
				printf "| %s | %s | %s | %s | %s | %s |", W[g, j], P[g, j], U[g, j], cell(UM[g, j]), cell(HO[g, j]), ratio(HO[g, j], UM[g, j])
				if (g in ucg) printf " %s | %s |", cell(UC[g, j]), ratio(UC[g, j], UM[g, j])
				printf "\n"
			}
		}
		if (nn) {
			print "\n### Notes from the programs\n"
			for (i = 1; i <= nn; i++) print "- " notes[i]
		}
	}
	END {
		if (mode == "text") text_table()
		else if (mode == "md") md_table()
		else if (mode == "targets-md") md_targets()
		else if (mode == "plot:vmas") plot("vma", "vmas")
		else if (mode == "plot:regions") plot("regions", "regions")
		else if (mode == "plot:threads") plot("will-it-scale", "threads")
		if (mode == "text" && !ng) exit 1
		if (mode == "md" && !ng) exit 1
	}' "$@"
}

if [ "$table_only" = 1 ]; then
	[ $# -gt 0 ] || { echo "$0 --table: no logs" >&2; exit 2; }
	table text "$@"
	exit
fi

# ---- build and run ----

if [ "$do_build" = 1 ]; then
	echo "== build $build" >&2
	mkdir -p "$build"
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build.bench-cmake.log" 2>&1 &&
	cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >"$build.bench-build.log" 2>&1 || {
		tail -40 "$build.bench-cmake.log" "$build.bench-build.log" >&2
		echo "bench: build failed" >&2
		exit 1
	}
	grep -h "libunicorn not found" "$build.bench-cmake.log" >&2
fi

logdir=$build/bench-logs
mkdir -p "$logdir"
suffix=$([ "$quick" = 1 ] && echo .quick)
args=()
[ "$quick" = 1 ] && args+=(--quick)

# The programs restore vm.max_map_count themselves; this is for a kill -9.
mmc=/proc/sys/vm/max_map_count
raise=0
if [ "$quick" = 0 ] && [ "$(id -u)" = 0 ] && [ -w "$mmc" ]; then
	raise=1
	mmc_old=$(cat "$mmc")
	trap 'echo "$mmc_old" >"$mmc" 2>/dev/null' EXIT
	trap 'exit 130' INT TERM
fi

progs=""
for p in $order; do [ -x "$build/bench/$p" ] && progs="$progs $p"; done
for b in "$build"/bench/bench_*; do
	p=$(basename "$b")
	[ -x "$b" ] && ! [[ " $progs " == *" $p "* ]] && progs="$progs $p"
done

failed=""
logs=()
if [ "$no_run" = 1 ]; then
	[ "$quick" = 0 ] && [ -f "$logdir/run.info" ] || {
		echo "bench --no-run: no full run in $logdir" >&2
		exit 1
	}
	. "$logdir/run.info"
	for p in $progs; do
		[ -f "$logdir/$p.log" ] && logs+=("$logdir/$p.log")
	done
else
	run_date=$(date -u '+%Y-%m-%d %H:%M UTC')
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	t_all=$SECONDS
	for p in $progs; do
		log=$logdir/$p$suffix.log
		extra=()
		[ "$raise" = 1 ] && case $p in bench_vma|bench_regions) extra=(--raise-max-map-count) ;; esac
		printf "bench %-16s ..." "$p" >&2
		t0=$SECONDS
		if "$build/bench/$p" "${args[@]}" "${extra[@]}" >"$log" 2>&1; then
			echo " ok ($((SECONDS - t0)) s, log $log)" >&2
		else
			echo " FAILED (exit $?, log $log)" >&2
			failed="$failed $p"
			tail -20 "$log" >&2
		fi
		logs+=("$log")
	done
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	elapsed=$((SECONDS - t_all))
	[ "$quick" = 0 ] && printf 'run_date=%q\nload0=%q\nload1=%q\nelapsed=%q\nfailed=%q\n' \
		"$run_date" "$load0" "$load1" "$elapsed" "$failed" >"$logdir/run.info"
fi

echo
table text "${logs[@]}" || { echo "bench: no results" >&2; exit 1; }
echo
echo "($elapsed s; load average before $load0, after $load1${failed:+; FAILED:$failed})"

if [ "$quick" = 1 ] || [ -n "$failed" ]; then
	[ -n "$failed" ] && echo "bench: docs/BENCHMARKS.md not regenerated (failures)" >&2
	[ -z "$failed" ]
	exit
fi

# ---- docs/BENCHMARKS.md and the plots ----

commit() {	# without git: HEAD's ref, resolved from .git
	local head ref
	head=$(cat .git/HEAD 2>/dev/null) || { echo unknown; return; }
	case $head in
	"ref: "*)
		ref=${head#ref: }
		if [ -f ".git/$ref" ]; then cut -c1-12 ".git/$ref"
		else awk -v r="$ref" '$2 == r { print substr($1, 1, 12) }' .git/packed-refs 2>/dev/null
		fi ;;
	*) echo "${head:0:12}" ;;
	esac
}

plot() {	# name, title, xlabel, ylabel, table mode, extra gnuplot settings
	local name=$1 t=$2 xl=$3 yl=$4 mode=$5 xt=$6 data=$logdir/$1.dat cmd
	cmd=$(mktemp)
	BENCH_PLOT_DATA=$data BENCH_PLOT_CMD=$cmd table "$mode" "${logs[@]}" >"$data"
	if ! [ -s "$cmd" ]; then
		rm -f "$cmd"
		return 1
	fi
	{
		echo "set terminal svg size 900,720 dynamic noenhanced font 'sans,12' background rgb 'white'"
		echo "set output 'docs/$name.svg'"
		echo "set title '$t'"
		echo "set xlabel '$xl'"
		echo "set ylabel '$yl'"
		echo "set logscale y"
		echo "set format y '%.0s%c'"
		echo "set grid xtics ytics"
		echo "set offsets graph 0.03, graph 0.03, 0, 0"
		echo "set key outside below left Left reverse maxcols 1 noenhanced font ',10'"
		echo "$xt"
		cat "$cmd"
	} >"$logdir/$name.gp"
	rm -f "$cmd"
	if ! gnuplot "$logdir/$name.gp" 2>"$logdir/$name.gnuplot.log"; then
		cat "$logdir/$name.gnuplot.log" >&2
		return 1
	fi
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
cc=$(awk -F'=' '/^CMAKE_C_COMPILER:/ { print $2 }' "$build/CMakeCache.txt" 2>/dev/null)
ccv=$("${cc:-cc}" --version 2>/dev/null | head -1)
ucv=$(pkg-config --modversion unicorn 2>/dev/null || echo "not installed")
plots=""
if command -v gnuplot >/dev/null; then
	plot bench-vmas "Cost of a VMA call against the number of VMAs (bench_vma)" \
		"VMAs mapped" "ns per call (median, min-max bars)" plot:vmas \
		"set logscale x; set format x '%.0s%c'" && plots="$plots bench-vmas"
	plot bench-regions "Many regions: cost per region against N (bench_regions; Unicorn where it completed)" \
		"regions of 64 KiB (2N VMAs after the mprotects)" "ns per region (median, min-max bars)" \
		plot:regions "set logscale x; set format x '%.0s%c'" && plots="$plots bench-regions"
	plot bench-threads "will-it-scale shapes: cost against threads (bench_wis)" \
		"threads" "ns per fault or mmap+munmap pair, wall / all work" plot:threads \
		"set xtics 1; set xrange [0.8:2.2]" && plots="$plots bench-threads"
else
	echo "bench: gnuplot not found (apt-get install gnuplot-nox): plots not regenerated" >&2
fi

{
	cat <<EOF
# Benchmarks

Generated by \`make bench\` (\`tools/bench.sh\`) from a run on $run_date; do not edit
by hand, run it again. Each program's own, more detailed output is in
\`$logdir/\`; \`build/release/bench/bench_NAME\` runs one of them
(\`--quick\` for the smoke run \`make check\` does).

**Machine:** ${cpu:-unknown CPU}, $(nproc) CPUs, $mem, Linux $(uname -r) ($os);
compiler: ${ccv:-unknown}; Unicorn $ucv; commit $(commit) (the working tree may
differ from it). Load average before the run: $load0, after: $load1; the run took
$((elapsed / 60)) min $((elapsed % 60)) s. Other work shared the machine: read each figure
with its spread.

**How to read it.** Every figure is the median of at least 5 runs, with the
fastest and slowest run in parentheses. umm, the host kernel and (for many
regions) Unicorn do the same work in the same process run, their runs
interleaved (A, B, A, B, ...), so a change in the machine's load reaches
every column alike. Costs are in ns (or ms) per operation: lower is better;
\`host/umm\` and \`Unicorn/umm\` are how many times faster umm is (below 1:
umm is slower). Shares (units in %) are rates relative to a baseline, higher
is better. "n/a" says why a side has no figure; "pending", that umm lacks the
feature yet.

## Targets (issue 5)

EOF
	table targets-md "${logs[@]}"
	cat <<EOF

## Plots

EOF
	for p in $plots; do
		echo "![$p]($p.svg)"
		echo
	done
	cat <<EOF
THP faults are measured (page_fault1 THP: one 2 MiB fault per 512 pages
written, both sides zeroing 2 MiB per fault, so the two are close), and so
are MADV_COLLAPSE (anonymous and shmem), the first fault of a shmem THP
and mprotect of a leaf (bench_thp). Not measured yet: khugepaged's own
collapses and the page-walker figures.

## Results
EOF
	table md "${logs[@]}"
} >docs/BENCHMARKS.md.new && mv docs/BENCHMARKS.md.new docs/BENCHMARKS.md
echo "bench: wrote docs/BENCHMARKS.md${plots:+ and}$(for p in $plots; do printf ' docs/%s.svg' "$p"; done)" >&2
