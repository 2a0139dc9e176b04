/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test.h - the minimal harness every test program uses: CHECK() records a
 * failure with its place and goes on; the program exits non-zero if any
 * check failed, and prints one "N passed, N failed" line.
 */
#ifndef UMM_TEST_H
#define UMM_TEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <umm/umm.h>

static unsigned long test_checks, test_failures;

/*
 * A host fork() child may start threads (umm's workers) unless under TSan,
 * which does not support threads after a multi-threaded fork.
 */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define CHILD_MAY_START_THREADS	false	/* TSan: not after a fork */
#else
#define CHILD_MAY_START_THREADS	true
#endif

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

/*
 * stress_run - run fns[i](args[i]) (args NULL: (void *)(i + 1)) on @n
 * threads for stress_seconds(@dflt), or until a check fails, then set
 * *@stop for them and join them all.
 */
#define STRESS_MAX_THREADS	16
static inline void stress_run(void *(*const fns[])(void *), void *const args[],
			      size_t n, double dflt, bool *stop)
{
	pthread_t t[STRESS_MAX_THREADS];
	double end;
	size_t i;

	for (i = 0; i < n && i < STRESS_MAX_THREADS; i++)
		CHECK(!pthread_create(&t[i], NULL, fns[i],
				      args ? args[i] : (void *)(uintptr_t)(i + 1)));
	end = now_sec() + stress_seconds(dflt);
	while (now_sec() < end && !__atomic_load_n(&test_failures, __ATOMIC_RELAXED)) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	__atomic_store_n(stop, true, __ATOMIC_RELAXED);
	while (i--)
		pthread_join(t[i], NULL);
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

/*
 * maps_text - umm_maps() of @mm ("" for NULL) without each line's device
 * and inode fields, which differ between worlds built alike; for free().
 */
static inline char *maps_text(struct umm_mm *mm)
{
	char *raw = NULL, *out = NULL, *p;
	size_t size = 0, osize = 0;
	FILE *f, *o;
	int r;

	if (!mm)
		return strdup("");
	f = open_memstream(&raw, &size);
	r = umm_maps(mm, f);

	fclose(f);
	o = open_memstream(&out, &osize);
	if (r)
		fprintf(o, "umm_maps() = %d\n", r);
	for (p = raw; p && *p;) {
		char *nl = strchr(p, '\n');
		char range[64], perms[8], off[32], dev[16];
		unsigned long ino;
		int used = 0;

		if (nl)
			*nl = 0;
		if (sscanf(p, "%63s %7s %31s %15s %lu %n", range, perms, off, dev, &ino, &used) >= 5)
			fprintf(o, "%s %s %s %s\n", range, perms, off, p + used);
		else
			fprintf(o, "%s\n", p);
		p = nl ? nl + 1 : p + strlen(p);
	}
	fclose(o);
	free(raw);
	return out;
}

/* Print the lines of @a not in @b with '-', of @b not in @a with '+'. */
static inline void print_maps_diff(const char *a, const char *b)
{
	const char *t[2] = { a, b };

	for (int k = 0; k < 2; k++) {
		const char *p = t[k];

		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
			char line[512];

			snprintf(line, sizeof(line), "%.*s", (int)len, p);
			if (!strstr(t[!k], line))
				fprintf(stderr, "      %c %s", k ? '+' : '-', line);
			p += len;
		}
	}
}

#endif /* UMM_TEST_H */
