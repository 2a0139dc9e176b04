// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mlock_mt - PG_mlocked and the mlock_count of pages two mms share
 * (a fork's parent and child), while a thread of each mlocks and
 * munlocks parts of its own mapping of them over and over, a reader
 * reads them through both, and another thread forks the child again,
 * locks the grandchild's mapping and destroys it. Each mm changes a
 * page's count under its own PTE lock, so the two meet only in the
 * compare-and-swap of the page's flags. Once the threads are done, every
 * page's flag and count must say how many locked VMAs map it: none, then
 * the parent's, both, the child's alone, none again once the child goes.
 * A private mapping (read-only, so that mlock's fault-in copies nothing)
 * and a shared one; UMM_STRESS_SECONDS sets the length (default 2 s).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_pte.h"
#include "uapi_mman.h"

#define PG		4096UL
#define NP		64		/* pages per region */
#define RW		(PROT_READ | PROT_WRITE)

static struct umm_mm *parent, *child;
static uint64_t region[2];		/* private (read-only), shared */
static bool stop;

/* Lock and unlock random runs of pages of @mm's regions, ending unlocked. */
static void *locker(void *arg)
{
	struct umm_mm *mm = arg;
	uint64_t s = (uint64_t)(uintptr_t)arg | 1;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t r = region[xrand(&s) & 1];
		uint64_t first = xrand(&s) % NP, n = 1 + xrand(&s) % (NP - first);

		CHECK_EQ(umm_mlock(mm, r + first * PG, n * PG), 0);
		CHECK_EQ(umm_munlock(mm, r + first * PG, n * PG), 0);
	}
	return NULL;
}

static void *reader(void *arg)
{
	char buf[PG];

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (int i = 0; i < 2; i++) {
			CHECK_EQ(umm_read(parent, region[i], buf, PG), (int64_t)PG);
			CHECK_EQ(umm_read(child, region[i] + (NP - 1) * PG, buf, PG),
				 (int64_t)PG);
		}
	}
	return NULL;
}

/* A third mapping of the pages, locked, that goes with its mm. */
static void *grandchild(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct umm_mm *g = NULL;

		CHECK_EQ(umm_fork(child, &g), 0);
		if (!g)
			break;
		for (int i = 0; i < 2; i++)
			CHECK_EQ(umm_mlock(g, region[i], NP * PG), 0);
		umm_mm_destroy(g);
	}
	return NULL;
}

/* Every page of both regions, as the parent maps it: mlocked @want times. */
static void check_counts(unsigned long want, const char *what)
{
	unsigned long bad = 0;

	for (int i = 0; i < 2; i++) {
		for (uint64_t p = 0; p < NP; p++) {
			struct page *page = page_at(parent, region[i] + p * PG);
			unsigned long f, count;

			CHECK(page);
			if (!page)
				return;
			f = READ_ONCE(page->flags);
			count = (f & PG_MLOCK_COUNT_MASK) >> PG_MLOCK_COUNT_SHIFT;
			if (count != want || !!(f & (1UL << PG_mlocked)) != !!want)
				bad++;
		}
	}
	if (bad)
		printf("     %s: %lu pages not mlocked %lu times\n", what, bad, want);
	CHECK_EQ(bad, 0);
}

/* The same page in both mms: the regions are still shared. */
static void check_shared(void)
{
	for (int i = 0; i < 2; i++)
		for (uint64_t p = 0; p < NP; p++)
			CHECK(page_at(parent, region[i] + p * PG) ==
			      page_at(child, region[i] + p * PG));
}

static void test_two_mms_lock_and_unlock(void)
{
	void *(*const fns[])(void *) = { locker, locker, reader, grandchild };
	void *args[4];
	char fill[PG];

	parent = umm_mm_create(NULL);
	CHECK(parent);
	if (!parent)
		return;
	region[0] = (uint64_t)umm_mmap(parent, 0, NP * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS,
				       NULL, 0);
	region[1] = (uint64_t)umm_mmap(parent, 0, NP * PG, RW, MAP_SHARED | MAP_ANONYMOUS,
				       NULL, 0);
	memset(fill, 'm', sizeof(fill));
	for (int i = 0; i < 2; i++)
		for (uint64_t p = 0; p < NP; p++)
			CHECK_EQ(umm_write(parent, region[i] + p * PG, fill, PG), (int64_t)PG);
	CHECK_EQ(umm_mprotect(parent, region[0], NP * PG, PROT_READ), 0);
	CHECK_EQ(umm_fork(parent, &child), 0);
	if (!child)
		goto out;
	args[0] = parent;
	args[1] = child;
	args[2] = args[3] = NULL;
	stop = false;
	stress_run(fns, args, 4, 2.0, &stop);
	check_shared();
	check_counts(0, "both unlocked");
	for (int i = 0; i < 2; i++)
		CHECK_EQ(umm_mlock(parent, region[i], NP * PG), 0);
	check_counts(1, "the parent locked");
	for (int i = 0; i < 2; i++)
		CHECK_EQ(umm_mlock(child, region[i], NP * PG), 0);
	check_counts(2, "both locked");
	for (int i = 0; i < 2; i++)
		CHECK_EQ(umm_munlock(parent, region[i], NP * PG), 0);
	check_counts(1, "the child locked");
	check_shared();
	umm_mm_destroy(child);
	check_counts(0, "the child gone");
out:
	umm_mm_destroy(parent);
}

int main(void)
{
	RUN(test_two_mms_lock_and_unlock);
	return test_done();
}
