// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_prezero_mt - the background zeroer (page_alloc.c): frames it
 * cleared ahead come out zeroed, are counted as free, go back to the buddy
 * lists on a drain, survive threads allocating and freeing around it, a
 * host fork() in the middle of its work, and faults of an address space.
 * UMM_PREZERO=eager starts it on the first frame zeroed on a refill.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "page_alloc.h"

#define WORDS_PER_PAGE	(PAGE_SIZE / sizeof(uint64_t))
#define NR_FRAMES	4096		/* 16 MiB: many of the zeroer's blocks */
#define NR_WORKERS	3

static void stats(struct page_alloc_stats *st)
{
	rcu_barrier();
	page_alloc_get_stats(st);
}

static void check_conservation(const struct page_alloc_stats *st)
{
	CHECK_EQ(st->free_pages + st->in_use_pages + 1, st->online_pages);
}

static bool frame_is_zero(struct page *p)
{
	const uint64_t *w = page_address(p);
	uint64_t acc = 0;

	for (uint64_t i = 0; i < WORDS_PER_PAGE; i++)
		acc |= w[i];
	return acc == 0;
}

static void fill_frame(struct page *p, uint64_t seed)
{
	uint64_t *w = page_address(p);

	for (uint64_t i = 0; i < WORDS_PER_PAGE; i++)
		w[i] = seed + i + 1;
}

/* Dirty NR_FRAMES frames and free them: work for the zeroer. */
static void dirty_and_free(struct page **p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		p[i] = alloc_page(NULL, 0);
		CHECK(p[i]);
		if (p[i])
			fill_frame(p[i], i);
	}
	for (unsigned int i = 0; i < n; i++)
		if (p[i])
			__free_pages(p[i], 0);
}

/* Wait (up to 10 s) until the zeroer has cleared at least @want frames. */
static uint64_t wait_background(uint64_t want)
{
	struct page_alloc_stats st;
	double end = now_sec() + 10;

	do {
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		page_alloc_get_stats(&st);
		if (st.pgzero_background >= want)
			break;
		nanosleep(&ts, NULL);
	} while (now_sec() < end);
	return st.pgzero_background;
}

/*
 * Frames the zeroer cleared come out zero; while it holds them they count
 * as free, and a drain (get_stats) gives them back to the buddy lists.
 */
static void test_zeroed_ahead(void)
{
	static struct page *p[NR_FRAMES];
	struct page_alloc_stats before, st;
	uint64_t nonzero = 0, bg0;

	stats(&before);
	bg0 = before.pgzero_background;
	dirty_and_free(p, NR_FRAMES);	/* its refills start the zeroer */
	dirty_and_free(p, NR_FRAMES);
	CHECK(wait_background(bg0 + 64) >= bg0 + 64);
	for (unsigned int i = 0; i < NR_FRAMES; i++) {
		p[i] = alloc_page(NULL, 0);
		CHECK(p[i]);
		if (p[i] && !frame_is_zero(p[i]))
			nonzero++;
	}
	CHECK_EQ(nonzero, 0);
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages + NR_FRAMES);
	check_conservation(&st);
	for (unsigned int i = 0; i < NR_FRAMES; i++)
		if (p[i])
			__free_pages(p[i], 0);
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	check_conservation(&st);
	/* a large block is still to be had: the drain merged the blocks */
	p[0] = alloc_pages(NULL, 0, 12);
	CHECK(p[0]);
	if (p[0])
		__free_pages(p[0], 12);
}

static bool stop;
static uint64_t worker_nonzero, worker_frames;

/* Allocate, check zero, dirty, free, in bursts, with the zeroer at work. */
static void *worker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL, frames = 0, bad = 0;
	struct page **held = calloc(512, sizeof(*held));

	if (!held)
		return NULL;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int n = 1 + xrand(&seed) % 512;

		for (unsigned int i = 0; i < n; i++) {
			held[i] = alloc_page(NULL, 0);
			CHECK(held[i]);
			if (!held[i])
				continue;
			if (!frame_is_zero(held[i]))
				bad++;
			fill_frame(held[i], seed);
			frames++;
		}
		for (unsigned int i = 0; i < n; i++)
			if (held[i])
				__free_pages(held[i], 0);
	}
	free(held);
	__atomic_fetch_add(&worker_nonzero, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&worker_frames, frames, __ATOMIC_RELAXED);
	return NULL;
}

/* A thread that takes stats, which drains the zeroer's blocks meanwhile. */
static void *drainer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct page_alloc_stats st;
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		page_alloc_get_stats(&st);
		CHECK(st.free_pages < st.online_pages);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_concurrent(void)
{
	void *(*const fns[])(void *) = { worker, worker, worker, drainer };
	struct page_alloc_stats before, after;

	stats(&before);
	stress_run(fns, NULL, NR_WORKERS + 1, 3, &stop);
	stats(&after);
	CHECK_EQ(worker_nonzero, 0);
	CHECK(worker_frames > 0);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	check_conservation(&after);
	printf("     %llu frames, %llu zeroed by the zeroer, %llu by allocators\n",
	       (unsigned long long)worker_frames,
	       (unsigned long long)(after.pgzero_background - before.pgzero_background),
	       (unsigned long long)(after.pgzero_alloc - before.pgzero_alloc));
}

/* A host fork() while the zeroer works: the child allocates zeroed frames. */
static void test_host_fork(void)
{
	static struct page *p[NR_FRAMES];

	for (int round = 0; round < 8; round++) {
		pid_t pid;
		int status = -1;

		dirty_and_free(p, NR_FRAMES);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			int bad = 0;

			if (!CHILD_MAY_START_THREADS)
				_exit(0);
			/* again in the child, so it has a zeroer of its own */
			for (int k = 0; k < 2; k++) {
				dirty_and_free(p, NR_FRAMES);
				for (unsigned int i = 0; i < NR_FRAMES; i++) {
					p[i] = alloc_page(NULL, 0);
					if (!p[i] || !frame_is_zero(p[i]))
						bad++;
				}
				for (unsigned int i = 0; i < NR_FRAMES; i++)
					if (p[i])
						__free_pages(p[i], 0);
			}
			_exit(bad || test_failures ? 1 : 0);
		}
		if (pid > 0)
			CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

/*
 * A host fork() while another thread allocates and frees: the allocator's
 * locks (zone.lock, the threads' cache locks) must not reach the child
 * held by a thread the child does not have, or its first allocation spins
 * forever. Each child allocates and frees a few frames under an alarm.
 */
static int busy_stop;

static void *busy_allocator(void *arg)
{
	struct page *q[64];

	(void)arg;
	while (!__atomic_load_n(&busy_stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 64; i++)
			q[i] = alloc_pages(NULL, 0, i & 7);
		for (int i = 0; i < 64; i++)
			if (q[i])
				__free_pages(q[i], i & 7);
	}
	return NULL;
}

static void test_host_fork_busy(void)
{
	pthread_t t;

	busy_stop = 0;
	CHECK_EQ(pthread_create(&t, NULL, busy_allocator, NULL), 0);
	for (int round = 0; round < 200; round++) {
		int status = -1;
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0) {
			struct page *q[64];

			if (!CHILD_MAY_START_THREADS)
				_exit(0);	/* freeing may start a worker */
			alarm(10);
			for (int i = 0; i < 64; i++)
				q[i] = alloc_pages(NULL, 0, i & 3);
			for (int i = 0; i < 64; i++)
				if (q[i])
					__free_pages(q[i], i & 3);
			_exit(0);
		}
		if (pid > 0)
			CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	__atomic_store_n(&busy_stop, 1, __ATOMIC_RELAXED);
	CHECK_EQ(pthread_join(t, NULL), 0);
}

/* page_fault1 in small: every page a fault maps reads zero but the byte. */
static void test_faults(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	const uint64_t len = 8 << 20;
	uint64_t bad = 0;

	CHECK(mm);
	if (!mm)
		return;
	for (int round = 0; round < 16; round++) {
		int64_t a = umm_mmap(mm, 0, len, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
		uint64_t buf[WORDS_PER_PAGE];

		CHECK(a > 0);
		if (a <= 0)
			break;
		for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
			uint64_t v = off | 1;

			CHECK_EQ(umm_write(mm, (uint64_t)a + off + 8 * (round % 7), &v, 8), 8);
		}
		for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
			CHECK_EQ(umm_read(mm, (uint64_t)a + off, buf, PAGE_SIZE), PAGE_SIZE);
			for (unsigned int i = 0; i < WORDS_PER_PAGE; i++)
				if (buf[i] != (i == (unsigned int)(round % 7) ? (off | 1) : 0))
					bad++;
		}
		CHECK_EQ(umm_munmap(mm, (uint64_t)a, len), 0);
	}
	CHECK_EQ(bad, 0);
	umm_mm_destroy(mm);
}

int main(void)
{
	struct page_alloc_stats st;

	setenv("UMM_PREZERO", "eager", 1);
	stats(&st);		/* brings the pool up with the setting */
	RUN(test_zeroed_ahead);
	RUN(test_concurrent);
	RUN(test_host_fork);
	RUN(test_host_fork_busy);
	RUN(test_faults);
	stats(&st);
	printf("     zeroer cleared %llu frames in all, allocators %llu\n",
	       (unsigned long long)st.pgzero_background,
	       (unsigned long long)st.pgzero_alloc);
	CHECK(st.pgzero_background > 0);
	return test_done();
}
