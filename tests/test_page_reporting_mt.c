// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_page_reporting_mt - free page reporting: free blocks of 2 MiB and
 * up that held data are given back to the host (their host memory is no
 * longer resident, as mincore() on it shows), come back zeroed, and the
 * allocator's counts stay whole; the reporter thread does it on its own a
 * while after frees; and allocating threads never see a block the
 * reporter holds, nor a dirty frame from a reported block.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/wait.h>
#include "test.h"
#include "page_alloc.h"

#define FRAMES		(64u << (20 - PAGE_SHIFT))	/* 64 MiB */
#define WORDS		(PAGE_SIZE / sizeof(uint64_t))

static struct page **frames;

static void stats(struct page_alloc_stats *st)
{
	rcu_barrier();
	page_alloc_get_stats(st);
}

/* Frames of @n in the host's memory, by mincore() on their host pages. */
static unsigned int resident(struct page **p, unsigned int n)
{
	unsigned int r = 0;

	for (unsigned int i = 0; i < n; i++) {
		unsigned char v = 0;

		CHECK_EQ(mincore(page_address(p[i]), PAGE_SIZE, &v), 0);
		r += v & 1;
	}
	return r;
}

static bool all_zero(struct page *p)
{
	const uint64_t *w = page_address(p);
	uint64_t acc = 0;

	for (unsigned int k = 0; k < WORDS; k++)
		acc |= w[k];
	return !acc;
}

/* Allocate (zeroed, checked) and write FRAMES frames; return how many came. */
static unsigned int fill(void)
{
	unsigned int n;

	for (n = 0; n < FRAMES; n++) {
		uint64_t *w;

		frames[n] = alloc_page(NULL, 0);
		if (!frames[n])
			break;
		CHECK(all_zero(frames[n]));
		w = page_address(frames[n]);
		for (unsigned int k = 0; k < WORDS; k += 64)
			w[k] = 0x5a5a5a5a00000000ull | n;
	}
	return n;
}

static void drop(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		__free_pages(frames[i], 0);
}

/* Freed and reported: gone from the host's memory, zero when used again. */
static void test_give_back(void)
{
	struct page_alloc_stats before, mid, st;
	unsigned int n;

	stats(&before);
	n = fill();
	CHECK_EQ(n, FRAMES);
	CHECK_EQ(resident(frames, n), n);
	drop(n);
	drain_all_pages();
	page_reporting_run();
	stats(&mid);
	/* the 64 MiB came from large free blocks and went back as such */
	CHECK(mid.pgreported - before.pgreported >= FRAMES);
	CHECK(resident(frames, n) < n / 16);
	CHECK_EQ(mid.in_use_pages, before.in_use_pages);
	CHECK_EQ(mid.free_pages + mid.in_use_pages + 1, mid.online_pages);
	/* used again: zero (the host's), not the old data; fill() checks */
	n = fill();
	CHECK_EQ(n, FRAMES);
	drop(n);
	/* nothing left to give back: a second run reports nothing new */
	page_reporting_run();
	drain_all_pages();
	page_reporting_run();
	stats(&st);
	page_reporting_run();
	stats(&mid);
	CHECK_EQ(mid.pgreported, st.pgreported);
	CHECK_EQ(mid.free_pages + mid.in_use_pages + 1, mid.online_pages);
}

/* The reporter thread gives freed memory back on its own, within seconds. */
static void test_thread(void)
{
	struct page_alloc_stats before, st;
	unsigned int n;

	stats(&before);
	n = fill();
	CHECK_EQ(n, FRAMES);
	drop(n);
	drain_all_pages();	/* the caches' frames to the buddy lists too */
	for (int i = 0; i < 100; i++) {
		stats(&st);
		if (st.pgreported - before.pgreported >= FRAMES / 2)
			break;
		usleep(100000);
	}
	CHECK(st.pgreported - before.pgreported >= FRAMES / 2);
}

/*
 * A host fork() after the parent's reporter started: the child has no
 * reporter thread, and its own frees must start one.
 */
static void test_fork_child(void)
{
	int status = -1;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct page_alloc_stats before, st;
		unsigned int n;

		if (!CHILD_MAY_START_THREADS)
			_exit(0);
		alarm(60);
		stats(&before);
		n = fill();
		drop(n);
		drain_all_pages();
		for (int i = 0; i < 100; i++) {
			stats(&st);
			if (st.pgreported - before.pgreported >= FRAMES / 2)
				break;
			usleep(100000);
		}
		_exit(n == FRAMES && st.pgreported - before.pgreported >= FRAMES / 2 &&
		      !test_failures ? 0 : 1);
	}
	if (pid > 0)
		CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- allocators beside the reporter ---- */

static int stop;			/* atomic */
static uint64_t dirty_frames, corrupt;	/* atomic */

static void *worker(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	struct page *held[512];
	uint64_t round = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int n = 0;

		round++;
		for (; n < 512; n++) {
			uint64_t *w;

			held[n] = alloc_page(NULL, 0);
			if (!held[n])
				break;
			if (!all_zero(held[n]))
				__atomic_add_fetch(&dirty_frames, 1, __ATOMIC_RELAXED);
			w = page_address(held[n]);
			for (unsigned int k = 0; k < WORDS; k += 8)
				w[k] = (uint64_t)id << 56 | round << 20 | n;
		}
		for (unsigned int i = 0; i < n; i++) {
			const uint64_t *w = page_address(held[i]);

			for (unsigned int k = 0; k < WORDS; k += 8)
				if (w[k] != ((uint64_t)id << 56 | round << 20 | i)) {
					__atomic_add_fetch(&corrupt, 1, __ATOMIC_RELAXED);
					break;
				}
			__free_pages(held[i], 0);
		}
	}
	return NULL;
}

static void *reporter(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		drain_all_pages();
		page_reporting_run();
	}
	return NULL;
}

static void test_beside_allocators(void)
{
	struct page_alloc_stats before, st;
	pthread_t t[3];

	stats(&before);
	for (unsigned int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
	CHECK_EQ(pthread_create(&t[2], NULL, reporter, NULL), 0);
	sleep(2);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(dirty_frames, 0);
	CHECK_EQ(corrupt, 0);
	stats(&st);
	CHECK(st.pgreported > before.pgreported);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	CHECK_EQ(st.free_pages + st.in_use_pages + 1, st.online_pages);
}

int main(void)
{
	frames = calloc(FRAMES, sizeof(*frames));
	CHECK(frames);
	if (!frames)
		return test_done();
	RUN(test_give_back);
	RUN(test_thread);
	RUN(test_fork_child);
	RUN(test_beside_allocators);
	free(frames);
	return test_done();
}
