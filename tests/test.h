/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test.h - the minimal harness every test program uses: CHECK() records a
 * failure with its place and goes on; the program exits non-zero if any
 * check failed, and prints one "N passed, N failed" line.
 */
#ifndef UMM_TEST_H
#define UMM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static unsigned long test_checks, test_failures;

#define CHECK(cond) do {						\
	__atomic_fetch_add(&test_checks, 1, __ATOMIC_RELAXED);		\
	if (!(cond)) {							\
		__atomic_fetch_add(&test_failures, 1, __ATOMIC_RELAXED); \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long __a = (long long)(a), __b = (long long)(b);		\
	__atomic_fetch_add(&test_checks, 1, __ATOMIC_RELAXED);		\
	if (__a != __b) {						\
		__atomic_fetch_add(&test_failures, 1, __ATOMIC_RELAXED); \
		fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
			__FILE__, __LINE__, #a, __a, #b, __b);		\
	}								\
} while (0)

/* Run one test function, report it. */
static unsigned long test_run_failed, test_run_passed;
#define RUN(fn) do {							\
	unsigned long __f = test_failures;				\
	fn();								\
	if (test_failures == __f) {					\
		test_run_passed++;					\
		printf("ok   %s\n", #fn);				\
	} else {							\
		test_run_failed++;					\
		printf("FAIL %s\n", #fn);				\
	}								\
	fflush(stdout);							\
} while (0)

static inline int test_done(void)
{
	printf("%lu passed, %lu failed\n", test_run_passed, test_run_failed);
	return test_run_failed ? 1 : 0;
}

static inline double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Stress-test length: UMM_STRESS_SECONDS, else @dflt. */
static inline double stress_seconds(double dflt)
{
	const char *e = getenv("UMM_STRESS_SECONDS");

	return e && atof(e) > 0 ? atof(e) : dflt;
}

/* xorshift: a per-thread PRNG that needs no lock. */
static inline uint64_t xrand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

#endif /* UMM_TEST_H */
