// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_clear_bits_mt - write faults on mapped pages beside walks that
 * clear an entry's accessed or dirty bit (umm_clear_refs, MADV_COLD,
 * MADV_FREE: test_write_beside_clear), or look at it and keep it
 * (MADV_PAGEOUT of lazily freed pages written again:
 * test_write_beside_pageout, and of such a THP mapped by PTEs:
 * test_write_beside_thp_pageout), in an mm at its frame limit.
 *
 * The pages stay mapped and writable all along, so every write fault on
 * them must succeed without a frame: it finds the entry and only sets its
 * bits. A walk that took the entry out for a moment and put it back
 * (clear, then set) showed the fault a hole, and the fault went to map a
 * new page there: at the limit that failed with -ENOMEM, for memory that
 * was never unmapped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "compiler.h"
#include "uapi_mman.h"

#define PG	4096UL
#define BASE	0x7e0000000000UL
#define NPAGES	4UL		/* the pages faulted; few, so the walks meet them often */
#define EXTRA	64UL		/* room for the pages that fill the limit */
#define LIMIT	((NPAGES + 16) * PG)

static struct umm_mm *mm;
static bool stop;
static unsigned long faults, failed, walks;

static void *faulter(void *arg)
{
	unsigned long k = (uintptr_t)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uint64_t a = BASE + (k++ % NPAGES) * PG, v = a;
		int r;

		/* a CPU's fault mostly; now and then an access through the walk */
		if (k % 8)
			r = umm_fault(mm, a, UMM_WRITE);
		else
			r = umm_write(mm, a, &v, sizeof(v)) == sizeof(v) ? 0 : -EFAULT;
		__atomic_fetch_add(&faults, 1, __ATOMIC_RELAXED);
		if (r && __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED) < 3)
			fprintf(stderr, "write to a mapped page beside a walk: %d\n", r);
	}
	return NULL;
}

static void *clearer(void *arg)
{
	unsigned long k = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		switch (k++ % 3) {
		case 0:
			CHECK_EQ(umm_clear_refs(mm, 1), 0);
			break;
		case 1:
			CHECK_EQ(umm_madvise(mm, BASE, NPAGES * PG, MADV_COLD), 0);
			break;
		default:
			CHECK_EQ(umm_madvise(mm, BASE, NPAGES * PG, MADV_FREE), 0);
			break;
		}
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * MADV_FREE, then every page written again (dirty: no longer free to
 * drop), then MADV_PAGEOUT, which must keep them all.
 */
static void *pager(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		CHECK_EQ(umm_madvise(mm, BASE, NPAGES * PG, MADV_FREE), 0);
		for (uint64_t a = BASE; a < BASE + NPAGES * PG; a += PG)
			CHECK_EQ(umm_write(mm, a + 8, &a, sizeof(a)), sizeof(a));
		CHECK_EQ(umm_madvise(mm, BASE, NPAGES * PG, MADV_PAGEOUT), 0);
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Run @walker beside two faulters, every frame of the mm's limit in use. */
static void write_beside(void *(*walker)(void *))
{
	void *(*const fns[])(void *) = { faulter, faulter, walker };
	void *const args[] = { (void *)0, (void *)(NPAGES / 2 + 1), NULL };
	struct umm_opts o = { .size = sizeof(o), .phys_limit = LIMIT };
	uint64_t n, v = 1;

	stop = false;
	faults = failed = walks = 0;
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, BASE, (NPAGES + EXTRA) * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
	/* every frame the limit allows taken: by the faulted pages, then others */
	for (n = 0; n < NPAGES + EXTRA; n++)
		if (umm_write(mm, BASE + n * PG, &v, sizeof(v)) != sizeof(v))
			break;
	CHECK(n > NPAGES && n < NPAGES + EXTRA);
	stress_run(fns, args, ARRAY_SIZE(fns), 3, &stop);
	printf("     %lu write faults beside %lu walks, %lu failed\n", faults, walks, failed);
	CHECK(faults > 0 && walks > 0);
	CHECK_EQ(failed, 0);
	umm_mm_destroy(mm);
}

static void test_write_beside_clear(void)
{
	write_beside(clearer);
}

static void test_write_beside_pageout(void)
{
	write_beside(pager);
}

#define HUGE	(2UL << 20)
#define THP_BASE	0x7d0000000000UL
#define THP_LIMIT	(HUGE + 32 * PG)

static void *thp_faulter(void *arg)
{
	unsigned long k = (uintptr_t)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int r = umm_fault(mm, THP_BASE + (k++ % 8) * 64 * PG, UMM_WRITE);

		__atomic_fetch_add(&faults, 1, __ATOMIC_RELAXED);
		if (r && __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED) < 3)
			fprintf(stderr, "write to a mapped THP page beside pageout: %d\n", r);
	}
	return NULL;
}

/* As pager, for the whole THP: pageout sees its 512 entries at once. */
static void *thp_pager(void *arg)
{
	uint64_t v = 1;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		CHECK_EQ(umm_madvise(mm, THP_BASE, HUGE, MADV_FREE), 0);
		CHECK_EQ(umm_write(mm, THP_BASE + HUGE - 8, &v, sizeof(v)), sizeof(v));
		CHECK_EQ(umm_madvise(mm, THP_BASE, HUGE, MADV_PAGEOUT), 0);
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_write_beside_thp_pageout(void)
{
	void *(*const fns[])(void *) = { thp_faulter, thp_faulter, thp_pager };
	void *const args[] = { (void *)0, (void *)3, NULL };
	struct umm_opts o = { .size = sizeof(o), .phys_limit = THP_LIMIT };
	static char data[HUGE];
	uint64_t n, v = 1, pfn[2];

	stop = false;
	faults = failed = walks = 0;
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, THP_BASE, 2 * HUGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), THP_BASE);
	CHECK_EQ(umm_madvise(mm, THP_BASE, HUGE, MADV_HUGEPAGE), 0);
	memset(data, 0x5a, sizeof(data));
	CHECK_EQ(umm_write(mm, THP_BASE, data, HUGE), (int64_t)HUGE);
	/* mapped by PTEs from now on, the folio whole: its leaf split */
	CHECK_EQ(umm_mprotect(mm, THP_BASE, PG, PROT_READ), 0);
	CHECK_EQ(umm_mprotect(mm, THP_BASE, PG, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_pagemap(mm, THP_BASE, 1, &pfn[0]), 0);
	CHECK_EQ(umm_pagemap(mm, THP_BASE + HUGE - PG, 1, &pfn[1]), 0);
	CHECK_EQ((pfn[1] & ((1ULL << 55) - 1)) - (pfn[0] & ((1ULL << 55) - 1)),
		 HUGE / PG - 1);
	/* every frame the limit allows taken */
	for (n = 0; n < HUGE / PG; n++)
		if (umm_write(mm, THP_BASE + HUGE + n * PG, &v, sizeof(v)) != sizeof(v))
			break;
	CHECK(n > 0 && n < HUGE / PG);
	stress_run(fns, args, ARRAY_SIZE(fns), 3, &stop);
	printf("     %lu write faults beside %lu walks, %lu failed\n", faults, walks, failed);
	CHECK(faults > 0 && walks > 0);
	CHECK_EQ(failed, 0);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_write_beside_clear);
	RUN(test_write_beside_pageout);
	RUN(test_write_beside_thp_pageout);
	return test_done();
}
