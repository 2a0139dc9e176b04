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

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	unsigned int runs;	/* timed runs per row (>= 5 for a median) */
	uint64_t target_ns;	/* wanted duration of one run */
};

/*
 * bench_parse_args - `--quick` or nothing. Return: 0, or -1 after printing
 * a usage message (the caller exits non-zero).
 */
static inline int bench_parse_args(int argc, char **argv, struct bench_opts *o)
{
	o->quick = false;
	o->runs = 9;
	o->target_ns = 100 * 1000 * 1000ull;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o->quick = true;
			o->runs = 5;
			o->target_ns = 200 * 1000ull;
			continue;
		}
		fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
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
