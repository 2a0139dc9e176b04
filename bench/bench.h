/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench.h - timing and statistics helpers shared by the bench_* programs.
 *
 * A benchmark is a function that performs its operation @iters times. The
 * helpers pick @iters so that one run lasts a target time, repeat the run,
 * and report the median, min and max cost per operation across runs, so a
 * reader can see how noisy a number is instead of trusting one sample.
 * Nothing here asserts on time: the numbers are for people, and `--quick`
 * only proves a benchmark still builds and runs (make check).
 */
#ifndef UMM_BENCH_H
#define UMM_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_RUNS	64
#define BENCH_LABEL_W	52

/* Monotonic wall-clock time in ns; immune to clock adjustments. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The compiler must assume memory changed here: no caching across it. */
#define bench_barrier()	__asm__ __volatile__("" ::: "memory")

/*
 * bench_use - pretend @v is read by something the compiler cannot see, so
 * the computation producing it (and a pointer's target) is not dropped.
 */
#define bench_use(v)	__asm__ __volatile__("" : : "r"(v) : "memory")

/*
 * Sink for a loop's accumulated result. The asm takes @v in a register and
 * may do anything with it, so the loop that computed it must run; it costs
 * nothing itself (a volatile variable would do too, but clang flags a
 * static one that is only written).
 */
static inline void bench_consume(uint64_t v)
{
	__asm__ __volatile__("" : : "r"(v) : "memory");
}

/*
 * xorshift64* - a cheap PRNG for random addresses inside a timed loop
 * (a few cycles; a table of precomputed addresses would add cache misses
 * of its own). @s must not be 0.
 */
static inline uint64_t bench_rand64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* A random value of @bits bits (1..63): the high bits are the best ones. */
static inline uint64_t bench_rand_bits(uint64_t *s, unsigned int bits)
{
	return bench_rand64(s) >> (64 - bits);
}

struct bench_opts {
	bool quick;		/* make check: prove it runs, numbers meaningless */
	bool raise_max_map_count; /* may raise the host's vm.max_map_count */
	unsigned int runs;	/* timed runs per row (>= 5 for a median) */
	uint64_t target_ns;	/* wanted duration of one run */
};

/*
 * bench_parse_args - `--quick` and `--raise-max-map-count` (which only the
 * programs that map more VMAs than the host allows by default act on).
 * Return: 0, or -1 after printing a usage message (the caller exits
 * non-zero).
 */
static inline int bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
	o->quick = false;
	o->raise_max_map_count = false;
	o->runs = 9;
	o->target_ns = 100 * 1000 * 1000ull;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o->quick = true;
			o->runs = 5;
			o->target_ns = 200 * 1000ull;
			continue;
		}
		if (!strcmp(argv[i], "--raise-max-map-count")) {
			o->raise_max_map_count = true;
			continue;
		}
		fprintf(stderr, "usage: %s [--quick] [--raise-max-map-count]\n",
			argv[0]);
		return -1;
	}
	return 0;
}

/* The statistics of one row, in ns per operation. */
struct bench_result {
	double median, min, max;
	unsigned int runs;
	uint64_t iters;		/* per run */
};

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * bench_stats - median, min and max of @n samples (sorted in place). Also
 * for benchmarks that time their own loops (several threads, say).
 */
static inline void bench_stats(double *samples, unsigned int n,
			       struct bench_result *r)
{
	qsort(samples, n, sizeof(*samples), bench_cmp_double);
	r->runs = n;
	r->min = samples[0];
	r->max = samples[n - 1];
	r->median = n & 1 ? samples[n / 2] :
		    (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

/* (max - min) / median: how far apart the runs were, as a fraction. */
static inline double bench_spread(const struct bench_result *r)
{
	return r->median > 0 ? (r->max - r->min) / r->median : 0;
}

typedef void (*bench_fn)(void *arg, uint64_t iters);

static inline uint64_t bench_time_once(bench_fn fn, void *arg, uint64_t iters)
{
	uint64_t t0, t1;

	bench_barrier();
	t0 = bench_now_ns();
	bench_barrier();
	fn(arg, iters);
	bench_barrier();
	t1 = bench_now_ns();
	bench_barrier();
	return t1 - t0;
}

/*
 * bench_calibrate - the iteration count for one run of about @target_ns.
 * Doubles from 1 until a run is long enough to time well; the short runs
 * double as the warm-up (caches, lazily built state, CPU frequency).
 */
static inline uint64_t bench_calibrate(bench_fn fn, void *arg, uint64_t target_ns)
{
	uint64_t iters = 1, t;

	for (;;) {
		t = bench_time_once(fn, arg, iters);
		if (t >= target_ns / 8 || iters >= (1ull << 40))
			break;
		iters *= t < target_ns / 256 ? 16 : 2;
	}
	if (!t)
		return iters;
	iters = (uint64_t)((double)iters * (double)target_ns / (double)t);
	return iters ? iters : 1;
}

/*
 * bench_measure_n - time @runs runs of @iters iterations; each iteration
 * is @ops_per_iter operations (a batch benchmark does many per call).
 */
static inline void bench_measure_n(bench_fn fn, void *arg, uint64_t iters,
				   unsigned int runs, double ops_per_iter,
				   struct bench_result *r)
{
	double samples[BENCH_MAX_RUNS];

	if (runs > BENCH_MAX_RUNS)
		runs = BENCH_MAX_RUNS;
	for (unsigned int i = 0; i < runs; i++)
		samples[i] = (double)bench_time_once(fn, arg, iters) /
			     ((double)iters * ops_per_iter);
	bench_stats(samples, runs, r);
	r->iters = iters;
}

/* bench_measure - calibrate, then bench_measure_n() as @o asks. */
static inline void bench_measure(const struct bench_opts *o, bench_fn fn,
				 void *arg, double ops_per_iter,
				 struct bench_result *r)
{
	uint64_t iters = bench_calibrate(fn, arg, o->target_ns);

	bench_measure_n(fn, arg, iters, o->runs, ops_per_iter, r);
}

/*
 * A row whose sides (umm, host, a peer) do the same work: each side's
 * operation, its argument, and what one iteration is worth.
 */
#define BENCH_MAX_SIDES	3

struct bench_side {
	bench_fn fn;		/* NULL: this side does not run the row */
	void *arg;
	uint64_t iters;		/* per run; 0: calibrate to target_ns */
	double ops;		/* operations per iteration */
	struct bench_result r;
};

/*
 * bench_interleave - the runs of one row: one untimed run (or the
 * calibration, which warms up as well) of every side, then run i of each
 * side in turn (A, B, A, B, ...), so a drift of the machine (frequency,
 * other load) reaches every column alike.
 */
static inline void bench_interleave(const struct bench_opts *o,
				    struct bench_side *s, unsigned int nr)
{
	double samples[BENCH_MAX_SIDES][BENCH_MAX_RUNS];
	unsigned int runs = o->runs < BENCH_MAX_RUNS ? o->runs : BENCH_MAX_RUNS;

	if (nr > BENCH_MAX_SIDES)
		nr = BENCH_MAX_SIDES;
	for (unsigned int k = 0; k < nr; k++) {
		if (!s[k].fn)
			continue;
		if (s[k].iters)
			bench_time_once(s[k].fn, s[k].arg, s[k].iters);
		else
			s[k].iters = bench_calibrate(s[k].fn, s[k].arg,
						     o->target_ns);
	}
	for (unsigned int i = 0; i < runs; i++)
		for (unsigned int k = 0; k < nr; k++)
			if (s[k].fn)
				samples[k][i] = (double)bench_time_once(s[k].fn,
						s[k].arg, s[k].iters) /
						((double)s[k].iters * s[k].ops);
	for (unsigned int k = 0; k < nr; k++) {
		if (!s[k].fn)
			continue;
		bench_stats(samples[k], runs, &s[k].r);
		s[k].r.iters = s[k].iters;
	}
}

/*
 * Machine-readable results. Besides its own table, a program prints each
 * figure once more, for tools/bench.sh to gather into one table, the
 * docs and the plots:
 *
 *   RESULT <TAB> group <TAB> workload <TAB> param <TAB> unit <TAB> umm <TAB> host <TAB> unicorn
 *   NOTE <TAB> text
 *
 * group: the table's section; param: "-", or key=N when the row is a point
 * of a curve (vmas=N, regions=N, threads=N: the plots' x axes), or a few
 * words; unit: what the figures count ("ns/fault"; a unit starting with %
 * is a share, where more is better); each side: "median min max" in that
 * unit, words saying why there is no figure ("n/a (...)", "pending (...)",
 * "aborted (SIGABRT) at N=..."), or "-" where the side has no such work.
 * A NOTE goes under the table. No field holds a tab.
 */
#define BENCH_CELL_LEN	256

/* bench_cell - @r as a side's field, or @why (NULL: "-") when @r is NULL. */
static inline const char *bench_cell(char *buf, size_t len,
				     const struct bench_result *r, const char *why)
{
	if (!r)
		return why ? why : "-";
	snprintf(buf, len, "%.6g %.6g %.6g", r->median, r->min, r->max);
	return buf;
}

static inline void bench_emit(const char *group, const char *workload,
			      const char *param, const char *unit, const char *umm,
			      const char *host, const char *unicorn)
{
	printf("RESULT\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", group, workload,
	       param ? param : "-", unit, umm ? umm : "-", host ? host : "-",
	       unicorn ? unicorn : "-");
	fflush(stdout);
}

/* bench_emit2 - a row with umm and host figures (either may be NULL). */
static inline void bench_emit2(const char *group, const char *workload,
			       const char *param, const char *unit,
			       const struct bench_result *u, const char *u_why,
			       const struct bench_result *h, const char *h_why)
{
	char ub[BENCH_CELL_LEN], hb[BENCH_CELL_LEN];

	bench_emit(group, workload, param, unit, bench_cell(ub, sizeof(ub), u, u_why),
		   bench_cell(hb, sizeof(hb), h, h_why), NULL);
}

static inline __attribute__((format(printf, 1, 2)))
void bench_note(const char *fmt, ...)
{
	va_list ap;

	printf("NOTE\t");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * The host's vm.max_map_count (65,530 by default) caps how many VMAs the
 * host side of a benchmark may map. With --raise-max-map-count (root),
 * bench_host_map_limit() raises it for the run and puts the old value
 * back at exit, and on the signals that end a run (a crash included), in
 * the process that raised it only: a forked child does not.
 */
#define BENCH_MAX_MAP_COUNT	"/proc/sys/vm/max_map_count"
#define BENCH_HOST_MAP_DEFAULT	65530

struct bench_mmc {
	char saved[24];		/* the old value to write back; "" if none */
	pid_t owner;		/* the process that raised it */
};

static inline struct bench_mmc *bench_mmc(void)
{
	static struct bench_mmc state;

	return &state;
}

static inline long bench_read_max_map_count(void)
{
	FILE *f = fopen(BENCH_MAX_MAP_COUNT, "r");
	long v = BENCH_HOST_MAP_DEFAULT;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = BENCH_HOST_MAP_DEFAULT;
		fclose(f);
	}
	return v;
}

/* Async-signal-safe: the restore runs in signal handlers. */
static inline int bench_write_max_map_count(const char *v)
{
	int fd = open(BENCH_MAX_MAP_COUNT, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(v), n;

	if (fd < 0)
		return -1;
	n = write(fd, v, (size_t)len);
	close(fd);
	return n == len ? 0 : -1;
}

static inline void bench_mmc_restore(void)
{
	struct bench_mmc *m = bench_mmc();

	if (m->saved[0] && getpid() == m->owner) {
		bench_write_max_map_count(m->saved);
		m->saved[0] = 0;
	}
}

static inline void bench_mmc_signal(int sig)
{
	bench_mmc_restore();
	raise(sig);	/* SA_RESETHAND: the default action, once unblocked */
}

/*
 * bench_host_map_limit - the host's VMA limit for this run: raised to
 * @want first when @o asks for it and it is lower. Prints a NOTE saying
 * what was done. Return: the limit in force.
 */
static inline long bench_host_map_limit(const struct bench_opts *o, long want)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT,
				    SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	struct bench_mmc *m = bench_mmc();
	struct sigaction sa = { .sa_handler = bench_mmc_signal,
				.sa_flags = SA_RESETHAND };
	long cur = bench_read_max_map_count();
	char v[24];

	if (!o->raise_max_map_count || cur >= want || m->saved[0])
		return cur;
	snprintf(m->saved, sizeof(m->saved), "%ld", cur);
	m->owner = getpid();
	atexit(bench_mmc_restore);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	snprintf(v, sizeof(v), "%ld", want);
	if (bench_write_max_map_count(v)) {
		bench_note("--raise-max-map-count: could not write %s (%s); "
			   "the host keeps vm.max_map_count = %ld",
			   BENCH_MAX_MAP_COUNT, strerror(errno), cur);
		m->saved[0] = 0;
		return cur;
	}
	bench_note("host vm.max_map_count raised from %ld to %ld for this "
		   "program's run (--raise-max-map-count), restored at exit",
		   cur, want);
	return bench_read_max_map_count();
}

/* n,nnn,nnn: the VMA and region counts of the tables. */
static inline const char *bench_fmt_count(char *buf, size_t len, uint64_t n)
{
	if (n >= 1000000)
		snprintf(buf, len, "%llu,%03llu,%03llu",
			 (unsigned long long)(n / 1000000),
			 (unsigned long long)(n / 1000 % 1000),
			 (unsigned long long)(n % 1000));
	else if (n >= 1000)
		snprintf(buf, len, "%llu,%03llu", (unsigned long long)(n / 1000),
			 (unsigned long long)(n % 1000));
	else
		snprintf(buf, len, "%llu", (unsigned long long)n);
	return buf;
}

static inline void bench_print_header(const char *title)
{
	printf("%-*s %10s %10s %10s %7s\n", BENCH_LABEL_W, title,
	       "median", "min", "max", "spread");
}

static inline void bench_print_section(const char *title)
{
	printf("%s\n", title);
}

static inline void bench_print_row(const char *label, const struct bench_result *r)
{
	printf("  %-*s %10.1f %10.1f %10.1f %6.1f%%\n", BENCH_LABEL_W - 2, label,
	       r->median, r->min, r->max, 100 * bench_spread(r));
	fflush(stdout);
}

#endif /* UMM_BENCH_H */
