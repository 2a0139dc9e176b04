// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mm - creating and destroying address spaces through the public API:
 * options are validated with Linux-style errnos, and destroy gives back
 * every frame and table.
 */
#include <errno.h>
#include <umm/umm.h>
#include "test.h"
#include "memory.h"

static void test_defaults(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	CHECK(mm);
	CHECK_EQ(mm->pgtable_levels, 4);
	CHECK_EQ(mm->task_size, (1ULL << 47) - 4096);
	CHECK_EQ(mm->max_map_count, 65530);
	CHECK_EQ(mm_stat_read(mm, MM_PGTABLE_PAGES), 1);
	umm_mm_destroy(mm);
	umm_mm_destroy(NULL);	/* ignored */
}

static void test_bad_opts(void)
{
	struct umm_opts o = { 0 };
	struct {
		struct umm_opts o;
		uint64_t future;
	} big = { { .size = sizeof(big) }, 0 };

	o.pgtable_levels = 3;
	errno = 0;
	CHECK(!umm_mm_create(&o));
	CHECK_EQ(errno, EINVAL);
	o.pgtable_levels = 6;
	CHECK(!umm_mm_create(&o));
	CHECK_EQ(errno, EINVAL);
	o.pgtable_levels = 0;
	o.thp = 7;
	CHECK(!umm_mm_create(&o));
	CHECK_EQ(errno, EINVAL);
	o.thp = 0;
	o.flags = 0x80;
	CHECK(!umm_mm_create(&o));
	CHECK_EQ(errno, EINVAL);
	o.flags = 0;
	o.size = 4;
	CHECK(!umm_mm_create(&o));
	CHECK_EQ(errno, EINVAL);

	/* A newer caller's larger struct: fine while the new field is 0. */
	struct umm_mm *mm = umm_mm_create(&big.o);

	CHECK(mm);
	umm_mm_destroy(mm);
	big.future = 1;
	CHECK(!umm_mm_create(&big.o));
	CHECK_EQ(errno, E2BIG);
}

static void test_levels(void)
{
	struct umm_opts o = { .pgtable_levels = 5 };
	struct umm_mm *mm = umm_mm_create(&o);
	pmd_t *pmd;

	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(mm->task_size, (1ULL << 56) - 4096);
	/* The top of a 56-bit space needs all five levels. */
	CHECK_EQ(walk_to_pmd(mm, mm->task_size - 4096, &pmd), 0);
	CHECK_EQ(pte_alloc(mm, pmd), 0);
	CHECK_EQ(mm_stat_read(mm, MM_PGTABLE_PAGES), 5);
	umm_mm_destroy(mm);
}

/* A limit below one page cannot even hold the top table. */
static void test_phys_limit_create(void)
{
	struct umm_opts o = { .phys_limit = 100 };

	errno = 0;
	CHECK(!umm_mm_create(&o));
	CHECK_EQ(errno, ENOMEM);
}

/* Destroy returns mapped frames (PTEs and huge leaves) and all tables. */
static void test_destroy_accounting(void)
{
	struct page_alloc_stats before, after;
	struct umm_mm *mm;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	CHECK(mm);
	for (int i = 0; i < 64; i++) {
		uint64_t addr = 0x400000UL * (i + 1) + 0x1000UL * i;
		struct page *p = alloc_page(mm->quota, 0);
		spinlock_t *ptl;
		pmd_t *pmd;
		pte_t *pte;

		CHECK(p);
		CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
		pte = pte_alloc_map_lock(mm, pmd, addr, &ptl);
		CHECK(pte);
		p->mapcount = 1;
		set_pte(pte, pfn_pte(page_to_pfn(p), __pgprot(_PAGE_PRESENT | _PAGE_USER)));
		pte_unmap_unlock(pte, ptl);
	}
	/* one 2 MiB leaf */
	struct page *huge = alloc_pages(mm->quota, __GFP_COMP, HPAGE_PMD_ORDER);
	pmd_t *pmd;

	CHECK(huge);
	CHECK_EQ(walk_to_pmd(mm, 1UL << 40, &pmd), 0);
	huge[1].entire_mapcount = huge[1].large_mapcount = 1;	/* mapped whole */
	set_pmd(pmd, pmd_mkhuge(pfn_pmd(page_to_pfn(huge), __pgprot(_PAGE_PRESENT | _PAGE_USER))));
	CHECK(quota_used(mm->quota) > 512);
	umm_mm_destroy(mm);
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
	CHECK_EQ(after.rcu_pending_pages, 0);
}

static void test_vmstat(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	CHECK(mm && f);
	CHECK_EQ(umm_vmstat(mm, f), 0);
	fclose(f);
	CHECK(strstr(buf, "nr_page_table_pages 1\n"));
	CHECK(strstr(buf, "pgalloc_normal "));
	CHECK_EQ(umm_vmstat(NULL, stdout), -EINVAL);
	CHECK_EQ(umm_vmstat(mm, NULL), -EINVAL);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_bad_opts);
	RUN(test_levels);
	RUN(test_phys_limit_create);
	RUN(test_destroy_accounting);
	RUN(test_vmstat);
	return test_done();
}
