// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_oom - running out of frames: an mm's own phys_limit and the
 * process-wide limit (page_alloc_set_limit). A fault that cannot get a
 * frame or a page table fails with -ENOMEM, a copy stops short after the
 * bytes it could write, nothing already mapped is lost or corrupted, and
 * frames given back (munmap, MADV_DONTNEED) can be faulted again at once.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "mm.h"
#include "pgtable.h"
#include "page_alloc.h"

#define PG		4096UL
#define BASE		0x10000000UL	/* 2 MiB aligned: one PTE table per 512 pages */
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define LIMIT_PAGES	64

static unsigned char pattern(uint64_t page, size_t i)
{
	return (unsigned char)(page * 13 + i / 512 + 1);
}

/* Write page @n's pattern over the page at @addr. Return: umm_write's. */
static int64_t write_page(struct umm_mm *mm, uint64_t addr, uint64_t n)
{
	unsigned char b[PG];

	for (size_t i = 0; i < PG; i++)
		b[i] = pattern(n, i);
	return umm_write(mm, addr, b, PG);
}

/* Does the page at @addr hold page @n's pattern? */
static bool page_intact(struct umm_mm *mm, uint64_t addr, uint64_t n)
{
	unsigned char b[PG];

	if (umm_read(mm, addr, b, PG) != (int64_t)PG)
		return false;
	for (size_t i = 0; i < PG; i++)
		if (b[i] != pattern(n, i))
			return false;
	return true;
}

static bool page_zero(struct umm_mm *mm, uint64_t addr)
{
	unsigned char b[PG];

	memset(b, 0xff, PG);
	if (umm_read(mm, addr, b, PG) != (int64_t)PG)
		return false;
	for (size_t i = 0; i < PG; i++)
		if (b[i])
			return false;
	return true;
}

/* Frames charged to @mm (its tables and private pages). */
static uint64_t mm_frames(struct umm_mm *mm)
{
	return quota_used(mm->quota);
}

/*
 * Fault pages of [addr, addr + max pages) in by writing their pattern
 * until one fails. Return: how many were written; *@err gets the failure.
 */
static unsigned fill_until_oom(struct umm_mm *mm, uint64_t addr, unsigned max, int64_t *err)
{
	unsigned n;

	*err = 0;
	for (n = 0; n < max; n++) {
		int64_t r = write_page(mm, addr + n * PG, n);

		if (r != (int64_t)PG) {
			*err = r;
			break;
		}
	}
	return n;
}

/*
 * An mm limited to 64 frames holds its PGD, the PUD, PMD and PTE tables
 * of one 2 MiB region, and 60 pages of its own.
 */
static void test_mm_limit(void)
{
	struct umm_opts o = { .phys_limit = LIMIT_PAGES * PG };
	struct page_alloc_stats before, after;
	struct umm_mm *mm;
	unsigned char b[2 * PG];
	unsigned n, i;
	int64_t err;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, BASE, 128 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	n = fill_until_oom(mm, BASE, 128, &err);
	CHECK_EQ(n, LIMIT_PAGES - 4);
	CHECK_EQ(err, -ENOMEM);
	CHECK_EQ(mm_frames(mm), LIMIT_PAGES);
	/* the failed write left nothing behind */
	CHECK_EQ(umm_fault(mm, BASE + n * PG, UMM_WRITE), -ENOMEM);
	CHECK(page_zero(mm, BASE + n * PG));
	CHECK_EQ(mm_frames(mm), LIMIT_PAGES);

	/* reads share the zero page: no frame needed, so they still work */
	CHECK_EQ(umm_fault(mm, BASE + (n + 1) * PG, UMM_READ), 0);
	CHECK(page_zero(mm, BASE + (n + 2) * PG));
	/* but the first write to such a page needs one */
	CHECK_EQ(umm_write(mm, BASE + (n + 1) * PG, b, 1), -ENOMEM);
	CHECK_EQ(umm_fault(mm, BASE + (n + 2) * PG, UMM_WRITE), -ENOMEM);

	/* a copy that starts in a page of its own is short, not an error */
	memset(b, 0xcd, sizeof(b));
	CHECK_EQ(umm_write(mm, BASE + (n - 1) * PG + 100, b, sizeof(b)), PG - 100);
	CHECK(page_zero(mm, BASE + n * PG));
	for (i = 0; i < n - 1; i++)
		CHECK(page_intact(mm, BASE + i * PG, i));
	memset(b, 0, sizeof(b));
	CHECK_EQ(umm_read(mm, BASE + (n - 1) * PG + 100, b, PG - 100), PG - 100);
	CHECK(b[0] == 0xcd && b[PG - 101] == 0xcd);
	CHECK(write_page(mm, BASE + (n - 1) * PG, n - 1) == (int64_t)PG);

	/* munmap gives frames back: the same number of pages fit again */
	CHECK_EQ(umm_munmap(mm, BASE + 10 * PG, 4 * PG), 0);
	CHECK_EQ(mm_frames(mm), LIMIT_PAGES - 4);
	for (i = 0; i < 4; i++)
		CHECK_EQ(write_page(mm, BASE + (n + i) * PG, n + i), PG);
	CHECK_EQ(write_page(mm, BASE + (n + 4) * PG, n + 4), -ENOMEM);
	/* and so does MADV_DONTNEED */
	CHECK_EQ(umm_madvise(mm, BASE + 20 * PG, 2 * PG, MADV_DONTNEED), 0);
	CHECK(page_zero(mm, BASE + 20 * PG));
	for (i = 4; i < 6; i++)
		CHECK_EQ(write_page(mm, BASE + (n + i) * PG, n + i), PG);
	CHECK_EQ(umm_fault(mm, BASE + (n + 6) * PG, UMM_WRITE), -ENOMEM);
	CHECK_EQ(mm_frames(mm), LIMIT_PAGES);

	/* every page that was never given up still holds its data */
	for (i = 0; i < n + 6; i++) {
		if (i >= 10 && i < 14)
			CHECK_EQ(umm_read(mm, BASE + i * PG, b, 1), -EFAULT);
		else if (i == 20 || i == 21)
			CHECK(page_zero(mm, BASE + i * PG));
		else
			CHECK(page_intact(mm, BASE + i * PG, i));
	}
	umm_mm_destroy(mm);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

/*
 * Page tables are frames too: at the limit, even a read fault that needs
 * a new PTE table fails with -ENOMEM (it could map the zero page, but has
 * nowhere to put the entry), and so does a copy that starts there.
 */
static void test_pgtable_limit(void)
{
	struct umm_opts o = { .phys_limit = 4 * PG };
	struct page_alloc_stats before, after;
	uint64_t far = BASE + 0x200000;	/* the next PMD entry: a new PTE table */
	unsigned char b[16];
	struct umm_mm *mm;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, BASE, 0x400000, RW, ANON_FIXED, NULL, 0), BASE);
	/* PGD + PUD + PMD + PTE: exactly the limit, zero page mapped */
	CHECK_EQ(umm_fault(mm, BASE, UMM_READ), 0);
	CHECK_EQ(mm_frames(mm), 4);
	CHECK_EQ(mm_stat_read(mm, MM_PGTABLE_PAGES), 4);
	CHECK_EQ(umm_read(mm, BASE + PG, b, sizeof(b)), sizeof(b));
	CHECK_EQ(umm_fault(mm, far, UMM_READ), -ENOMEM);
	CHECK_EQ(umm_read(mm, far, b, sizeof(b)), -ENOMEM);
	CHECK_EQ(umm_write(mm, far, b, sizeof(b)), -ENOMEM);
	/* a copy from the table that exists into the one that cannot: short */
	CHECK_EQ(umm_read(mm, far - 8, b, sizeof(b)), 8);
	CHECK_EQ(umm_write(mm, BASE, b, 1), -ENOMEM);
	CHECK_EQ(mm_frames(mm), 4);
	CHECK_EQ(mm_stat_read(mm, MM_PGTABLE_PAGES), 4);
	umm_mm_destroy(mm);

	/* three frames: the PTE table of the first fault is already too much */
	o.phys_limit = 3 * PG;
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (mm) {
		CHECK_EQ(umm_mmap(mm, BASE, PG, RW, ANON_FIXED, NULL, 0), BASE);
		CHECK_EQ(umm_fault(mm, BASE, UMM_READ), -ENOMEM);
		CHECK_EQ(umm_read(mm, BASE, b, 1), -ENOMEM);
		CHECK_EQ(mm_frames(mm), 3);
		umm_mm_destroy(mm);
	}
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

/*
 * A move that runs out of page tables half-way puts back what it moved:
 * the source keeps its data, the destination stays unmapped.
 */
static void test_mremap_oom(void)
{
	struct umm_opts o = { .phys_limit = LIMIT_PAGES * PG };
	uint64_t r0 = BASE, r2 = BASE + 0x400000;
	uint64_t src = r0 + 0x200000 - 2 * PG;	/* spans the R0/R1 tables */
	uint64_t dst = r2 + 0x200000 - 2 * PG;	/* R2's table exists, R3's not */
	unsigned char b;
	struct umm_mm *mm;
	int64_t err;
	unsigned n;

	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, src, 4 * PG, RW, ANON_FIXED, NULL, 0), src);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(write_page(mm, src + i * PG, 100 + i), PG);
	/* something in R2 so that its PTE table exists */
	CHECK_EQ(umm_mmap(mm, r2, PG, RW, ANON_FIXED | MAP_NORESERVE, NULL, 0), r2);
	CHECK_EQ(write_page(mm, r2, 7), PG);
	/* ballast up to the limit */
	CHECK_EQ(umm_mmap(mm, r0, 64 * PG, RW, ANON_FIXED, NULL, 0), r0);
	n = fill_until_oom(mm, r0, 64, &err);
	CHECK_EQ(err, -ENOMEM);
	CHECK_EQ(mm_frames(mm), LIMIT_PAGES);

	CHECK_EQ(umm_mremap(mm, src, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst),
		 -ENOMEM);
	for (unsigned i = 0; i < 4; i++)
		CHECK(page_intact(mm, src + i * PG, 100 + i));
	CHECK_EQ(umm_read(mm, dst, &b, 1), -EFAULT);
	CHECK_EQ(umm_read(mm, dst + 2 * PG, &b, 1), -EFAULT);
	CHECK(page_intact(mm, r2, 7));
	for (unsigned i = 0; i < n; i++)
		CHECK(page_intact(mm, r0 + i * PG, i));
	CHECK_EQ(mm_frames(mm), LIMIT_PAGES);
	/* with a frame given back the move goes through */
	CHECK_EQ(umm_munmap(mm, r0, PG), 0);
	CHECK_EQ(umm_mremap(mm, src, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst),
		 dst);
	for (unsigned i = 0; i < 4; i++)
		CHECK(page_intact(mm, dst + i * PG, 100 + i));
	CHECK_EQ(umm_read(mm, src, &b, 1), -EFAULT);
	umm_mm_destroy(mm);
}

/*
 * The process-wide limit stops every mm, and shared memory (charged to no
 * mm) with it; lifting it (0) lets the same faults through.
 */
static void test_global_limit(void)
{
	struct page_alloc_stats before, after;
	uint64_t sh = BASE + 128 * PG;	/* same PTE table: faults need a page only */
	struct umm_mm *mm;
	unsigned n, i;
	int64_t err;

	CHECK_EQ(page_alloc_set_limit(UINT64_MAX & PAGE_MASK), -EINVAL);
	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, BASE, 128 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_mmap(mm, sh, 16 * PG, RW,
			  MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), sh);
	/* room for 40 more frames than are in use now (the mm's PGD included) */
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(page_alloc_set_limit((after.in_use_pages + 40) * PG), 0);
	n = fill_until_oom(mm, BASE, 128, &err);
	CHECK_EQ(n, 40 - 3);	/* PUD, PMD and PTE table first */
	CHECK_EQ(err, -ENOMEM);
	CHECK_EQ(umm_fault(mm, BASE + n * PG, UMM_WRITE), -ENOMEM);
	/* shared memory is charged process-wide: no frame for it either */
	CHECK_EQ(umm_fault(mm, sh, UMM_WRITE), -ENOMEM);
	CHECK_EQ(umm_write(mm, sh, &(char){ 1 }, 1), -ENOMEM);
	/* a second mm cannot even get a PGD */
	errno = 0;
	CHECK(!umm_mm_create(NULL));
	CHECK_EQ(errno, ENOMEM);

	/* frames given back are usable at once */
	CHECK_EQ(umm_madvise(mm, BASE, 3 * PG, MADV_DONTNEED), 0);
	for (i = 0; i < 3; i++)
		CHECK_EQ(write_page(mm, BASE + (n + i) * PG, n + i), PG);
	CHECK_EQ(write_page(mm, BASE + (n + 3) * PG, n + 3), -ENOMEM);
	CHECK_EQ(umm_munmap(mm, BASE + 3 * PG, PG), 0);
	CHECK_EQ(umm_write(mm, sh, &(char){ 1 }, 1), 1);
	for (i = 3; i < n + 3; i++)
		if (i != 3)
			CHECK(page_intact(mm, BASE + i * PG, i));

	/* lifted: the rest goes in */
	CHECK_EQ(page_alloc_set_limit(0), 0);
	for (i = n + 3; i < 128; i++)
		CHECK_EQ(write_page(mm, BASE + i * PG, i), PG);
	CHECK_EQ(umm_write(mm, sh + 15 * PG, &(char){ 2 }, 1), 1);
	for (i = 4; i < 128; i++)
		CHECK(page_intact(mm, BASE + i * PG, i));
	umm_mm_destroy(mm);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

#define THP_BASE	0x40000000UL	/* 2 MiB aligned, far from BASE */
#define HPG		(512 * PG)

/*
 * An mm with a THP at THP_BASE whose pages each hold their pattern, all
 * but the last @keep pages unmapped again: a partly mapped folio, queued
 * for the deferred split, its 2 MiB still charged.
 */
static struct umm_mm *partly_mapped_thp(unsigned keep)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	CHECK(mm);
	if (!mm)
		return NULL;
	CHECK_EQ(umm_mmap(mm, THP_BASE, HPG, RW, ANON_FIXED, NULL, 0), THP_BASE);
	CHECK_EQ(umm_madvise(mm, THP_BASE, HPG, MADV_HUGEPAGE), 0);
	for (unsigned i = 0; i < 512; i++)
		CHECK_EQ(write_page(mm, THP_BASE + i * PG, i), PG);
	CHECK_EQ(umm_vmstat_value(mm, "thp_fault_alloc"), 1);
	CHECK_EQ(umm_munmap(mm, THP_BASE, (512 - keep) * PG), 0);
	return mm;
}

static bool thp_rest_intact(struct umm_mm *mm, unsigned keep)
{
	for (unsigned i = 512 - keep; i < 512; i++)
		if (!page_intact(mm, THP_BASE + i * PG, i))
			return false;
	return true;
}

/* Limit the process to @room frames more than are in use now. */
static void global_room(uint64_t room)
{
	struct page_alloc_stats st;

	rcu_barrier();
	page_alloc_get_stats(&st);
	CHECK_EQ(page_alloc_set_limit((st.in_use_pages + room) * PG), 0);
}

/*
 * Under the process-wide limit, the deferred split is global as the
 * kernel's reclaim is: an mm that runs out splits another mm's partly
 * mapped THP, whose holes give it room - before, only its own THPs were
 * looked at, and the fault failed with the other's 2 MiB still charged.
 */
static void test_global_deferred_split(void)
{
	struct umm_mm *owner = partly_mapped_thp(16), *mm;
	unsigned n;
	int64_t err;

	if (!owner)
		return;
	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		goto out;
	CHECK_EQ(umm_mmap(mm, BASE, 512 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	global_room(40);
	n = fill_until_oom(mm, BASE, 512, &err);
	CHECK(n > 40);	/* the owner's 496 unmapped pages came back */
	CHECK_EQ(umm_vmstat_value(mm, "thp_deferred_split_page"), 1);
	CHECK_EQ(umm_vmstat_value(mm, "thp_split_page"), 1);
	CHECK_EQ(umm_vmstat_value(owner, "thp_split_page"), 0);
	page_alloc_set_limit(0);
	CHECK(thp_rest_intact(owner, 16));
	for (unsigned i = 0; i < n; i++)
		if (!page_intact(mm, BASE + i * PG, i)) {
			CHECK(0);
			break;
		}
	umm_mm_destroy(mm);
out:
	page_alloc_set_limit(0);
	umm_mm_destroy(owner);
}

/*
 * A fork that runs out of frames under the process-wide limit splits the
 * partly mapped THPs (the parent's own here) and tries once more, as the
 * kernel's allocations reclaim before they fail - before, it failed.
 */
static void test_fork_deferred_split(void)
{
	struct umm_mm *parent = partly_mapped_thp(16), *child = NULL;

	if (!parent)
		return;
	global_room(2);		/* less than a child's page tables */
	CHECK_EQ(umm_fork(parent, &child), 0);
	CHECK_EQ(umm_vmstat_value(parent, "thp_deferred_split_page"), 1);
	page_alloc_set_limit(0);
	CHECK(thp_rest_intact(parent, 16));
	if (child) {
		CHECK(thp_rest_intact(child, 16));
		umm_mm_destroy(child);
	}
	umm_mm_destroy(parent);
}

int main(void)
{
	RUN(test_mm_limit);
	RUN(test_pgtable_limit);
	RUN(test_mremap_oom);
	RUN(test_global_limit);
	RUN(test_global_deferred_split);
	RUN(test_fork_deferred_split);
	page_alloc_set_limit(0);	/* whatever happened above */
	return test_done();
}
