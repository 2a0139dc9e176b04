// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_khugepaged_mt - umm's khugepaged thread: which blocks it collapses
 * on its own (a PTE-mapped private anonymous block of a MADV_HUGEPAGE VMA
 * with a page used lately and at most max_ptes_none = 511 empty entries;
 * not one with more than max_ptes_shared = 256 pages a fork shares, a
 * pinned page, or MADV_NOHUGEPAGE), that its collapses keep every byte,
 * that umm_mm_destroy waits for it, and - under writers and a thread that
 * splits blocks again with MADV_DONTNEED - that no write is lost and every
 * frame comes back. The thread scans every 2 ms here (the kernel's default
 * is 10 s); ctest turns it off for every other test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "page_alloc.h"
#include "rcu.h"

#define P		4096ull
#define M		(1ull << 20)
#define BASE		0x40000000ull
/*
 * How long to wait for collapses the thread must make: a bound on being
 * stuck, not a time the test asserts. It returns at the first collapse
 * that suffices. With 5 s, one TSan run beside a parallel build failed
 * after 7.8 s (its output was lost; a wait running out fits the time).
 */
#define COLLAPSE_WAIT_S	60.0

static struct umm_mm *new_mm(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	CHECK(mm);
	return mm;
}

static void map(struct umm_mm *mm, uint64_t len)
{
	CHECK_EQ(umm_mmap(mm, BASE, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)BASE);
}

static void put64(struct umm_mm *mm, uint64_t addr, uint64_t v)
{
	CHECK_EQ(umm_write(mm, addr, &v, 8), 8);
}

static uint64_t get64(struct umm_mm *mm, uint64_t addr)
{
	uint64_t v = ~0ull;

	CHECK_EQ(umm_read(mm, addr, &v, 8), 8);
	return v;
}

static long long anon_huge_kb(struct umm_mm *mm)
{
	char *w = smaps_window(mm, 0, BASE, 64 * M, NULL);
	const char *p = w ? strstr(w, "AnonHugePages:") : NULL;
	long long kb = 0;

	for (; p; p = strstr(p + 1, "AnonHugePages:"))
		kb += atoll(p + strlen("AnonHugePages:"));
	free(w);
	return kb;
}

/* Wait up to @secs for @mm to have @n collapses. Return: whether it did. */
static bool wait_collapses(struct umm_mm *mm, long long n, double secs)
{
	double end = now_sec() + secs;

	while (now_sec() < end) {
		if (umm_vmstat_value(mm, "thp_collapse_alloc") >= n)
			return true;
		usleep(1000);
	}
	return umm_vmstat_value(mm, "thp_collapse_alloc") >= n;
}

/* Written block by block with small pages, then MADV_HUGEPAGE: collapsed. */
static void test_collapses_written_block(void)
{
	struct umm_mm *mm = new_mm();

	map(mm, 4 * M);
	for (uint64_t off = 0; off < 2 * M; off += P)
		put64(mm, BASE + off, off ^ 0xabcdef);
	put64(mm, BASE + 2 * M + 5 * P, 77);	/* one page of the second block */
	CHECK_EQ(anon_huge_kb(mm), 0);
	CHECK_EQ(umm_madvise(mm, BASE, 4 * M, MADV_HUGEPAGE), 0);
	CHECK(wait_collapses(mm, 2, COLLAPSE_WAIT_S));
	CHECK_EQ(anon_huge_kb(mm), 4096);
	for (uint64_t off = 0; off < 2 * M; off += P)
		CHECK_EQ(get64(mm, BASE + off), off ^ 0xabcdef);
	CHECK_EQ(get64(mm, BASE + 2 * M + 5 * P), 77);
	CHECK_EQ(get64(mm, BASE + 2 * M + 6 * P), 0);	/* a hole reads zero */
	CHECK(umm_vmstat_value(mm, "khugepaged_pages_collapsed") >= 2);	/* THPs, as the kernel's */
	umm_mm_destroy(mm);
}

/* What it must leave alone. */
static void test_leaves_alone(void)
{
	struct umm_mm *mm = new_mm(), *child = NULL;
	void *ptr;

	/* MADV_NOHUGEPAGE after MADV_HUGEPAGE: the mm stays listed, the VMA not eligible */
	map(mm, 8 * M);
	CHECK_EQ(umm_madvise(mm, BASE, 8 * M, MADV_HUGEPAGE), 0);
	CHECK_EQ(umm_madvise(mm, BASE, 2 * M, MADV_NOHUGEPAGE), 0);
	for (uint64_t off = 0; off < 2 * M; off += P)
		put64(mm, BASE + off, 1);
	/* a pinned page in the second block */
	CHECK_EQ(umm_madvise(mm, BASE + 2 * M, 2 * M, MADV_NOHUGEPAGE), 0);
	for (uint64_t off = 0; off < 2 * M; off += P)
		put64(mm, BASE + 2 * M + off, 2);
	CHECK_EQ(umm_pin(mm, BASE + 2 * M + 3 * P, 1, UMM_READ | UMM_WRITE, &ptr), 0);
	CHECK_EQ(umm_madvise(mm, BASE + 2 * M, 2 * M, MADV_HUGEPAGE), 0);
	/* a block a fork's child shares all of: more than 256 shared pages */
	CHECK_EQ(umm_madvise(mm, BASE + 4 * M, 2 * M, MADV_NOHUGEPAGE), 0);
	for (uint64_t off = 0; off < 2 * M; off += P)
		put64(mm, BASE + 4 * M + off, 3);
	CHECK_EQ(umm_madvise(mm, BASE + 4 * M, 2 * M, MADV_HUGEPAGE), 0);
	CHECK_EQ(umm_fork(mm, &child), 0);
	/* many scans later (2 ms apart), nothing was collapsed */
	usleep(300 * 1000);
	CHECK(umm_vmstat_value(mm, "khugepaged_full_scans") > 0);
	CHECK_EQ(umm_vmstat_value(mm, "thp_collapse_alloc"), 0);
	CHECK_EQ(umm_vmstat_value(child, "thp_collapse_alloc"), 0);
	CHECK_EQ(anon_huge_kb(mm), 0);
	/*
	 * The child writes its own copies: of 257 pages of the third block
	 * (255 shared pages left: both collapse it), and of all of the
	 * second (the parent's are its own again, but one is pinned).
	 */
	for (uint64_t off = 0; off < 257 * P; off += P)
		put64(child, BASE + 4 * M + off, 4);
	for (uint64_t off = 0; off < 2 * M; off += P)
		put64(child, BASE + 2 * M + off, 5);
	CHECK(wait_collapses(mm, 1, COLLAPSE_WAIT_S));
	CHECK(wait_collapses(child, 2, COLLAPSE_WAIT_S));
	usleep(50 * 1000);
	CHECK_EQ(umm_vmstat_value(mm, "thp_collapse_alloc"), 1);
	CHECK_EQ(get64(mm, BASE + 4 * M), 3);
	CHECK_EQ(get64(child, BASE + 4 * M), 4);
	CHECK_EQ(get64(child, BASE + 4 * M + 300 * P), 3);
	CHECK_EQ(get64(child, BASE + 2 * M + 3 * P), 5);
	/* unpinned: the pinned block goes too */
	umm_unpin(mm, &ptr, 1);
	CHECK(wait_collapses(mm, 2, COLLAPSE_WAIT_S));
	CHECK_EQ(get64(mm, BASE + 2 * M + 3 * P), 2);
	CHECK_EQ(umm_vmstat_value(mm, "thp_collapse_alloc"), 2);
	CHECK_EQ(umm_vmstat_value(child, "thp_collapse_alloc"), 2);
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
}

/* mms come and go while the thread scans them: destroy waits for it. */
static void test_destroy_while_scanning(void)
{
	for (int i = 0; i < 200; i++) {
		struct umm_mm *mm = new_mm();

		map(mm, 4 * M);
		for (uint64_t off = 0; off < 4 * M; off += 64 * P)
			put64(mm, BASE + off, off);
		CHECK_EQ(umm_madvise(mm, BASE, 4 * M, MADV_HUGEPAGE), 0);
		if (i & 1)
			usleep(100);
		umm_mm_destroy(mm);
	}
}

/* ---- writers against khugepaged and a splitter ---- */

#define STRESS_LEN	(16 * M)
#define WRITERS		2
#define SLOTS		(STRESS_LEN / P)	/* one record per page */

static struct umm_mm *smm;
static bool stop;			/* atomic */
static uint64_t last[SLOTS];		/* last value written, per page */
static uint64_t n_writes, n_splits;

static void *writer(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg, seed = id * 7919 + 1, seq = 1;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t slot;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* writer id owns the slots congruent to it */
		slot = ((seed >> 20) % (SLOTS / WRITERS)) * WRITERS + id;
		seq++;
		if (umm_write(smm, BASE + slot * P + 8, &seq, 8) != 8) {
			CHECK(0);
			break;
		}
		__atomic_store_n(&last[slot], seq, __ATOMIC_RELEASE);
		__atomic_fetch_add(&n_writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * Splits blocks again: MADV_DONTNEED of a block's last page splits its
 * leaf and drops that page (whose records the final check skips), so
 * khugepaged has blocks to collapse all along.
 */
static void *splitter(void *arg)
{
	uint64_t seed = 12345;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t blk;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		blk = (seed >> 33) % (STRESS_LEN / (2 * M));
		CHECK_EQ(umm_madvise(smm, BASE + blk * 2 * M + 2 * M - P, P, MADV_DONTNEED), 0);
		__atomic_fetch_add(&n_splits, 1, __ATOMIC_RELAXED);
		usleep(500);
	}
	return NULL;
}

static void test_stress(void)
{
	struct page_alloc_stats before, after;
	pthread_t w[WRITERS], s;
	double secs = stress_seconds(3);

	page_alloc_get_stats(&before);
	smm = new_mm();
	map(smm, STRESS_LEN);
	/* small pages first, then khugepaged's turn */
	for (uint64_t off = 0; off < STRESS_LEN; off += P)
		put64(smm, BASE + off, 0);
	CHECK_EQ(umm_madvise(smm, BASE, STRESS_LEN, MADV_HUGEPAGE), 0);
	__atomic_store_n(&stop, false, __ATOMIC_RELAXED);
	for (uint64_t i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)i);
	pthread_create(&s, NULL, splitter, NULL);
	usleep((useconds_t)(secs * 1e6));
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	pthread_join(s, NULL);
	/* the last-page trick: records live below the block's last page */
	for (uint64_t slot = 0; slot < SLOTS; slot++) {
		uint64_t want = __atomic_load_n(&last[slot], __ATOMIC_ACQUIRE);

		if ((slot + 1) % (2 * M / P) == 0)
			continue;	/* a block's last page: DONTNEED'd */
		if (want)
			CHECK_EQ(get64(smm, BASE + slot * P + 8), want);
	}
	printf("     %llu writes, %llu splits, %lld collapses\n",
	       (unsigned long long)n_writes, (unsigned long long)n_splits,
	       umm_vmstat_value(smm, "thp_collapse_alloc"));
	CHECK(n_writes > 0 && n_splits > 0);
	CHECK(umm_vmstat_value(smm, "thp_collapse_alloc") > 0);
	umm_mm_destroy(smm);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* before the first mm joins: read once, when it does */
	setenv("UMM_KHUGEPAGED", "1", 1);
	setenv("UMM_KHUGEPAGED_SCAN_SLEEP_MS", "2", 1);
	RUN(test_collapses_written_block);
	RUN(test_leaves_alone);
	RUN(test_destroy_while_scanning);
	RUN(test_stress);
	return test_done();
}
