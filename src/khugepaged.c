// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * khugepaged.c - MADV_COLLAPSE of private anonymous memory: the pages of
 * each aligned 2 MiB block, copied into a new THP mapped by one PMD leaf
 * (the kernel's madvise_collapse / collapse_huge_page, run in the caller;
 * there is no background khugepaged thread yet).
 *
 * The block's PTE table is taken out of the PMD under mmap_lock (write),
 * the VMA write-locked and the PMD lock; the software TLBs are then
 * flushed, which waits for every access section that may still be
 * copying through an old translation. From then on nothing can write the
 * old pages: lockless walkers find the PMD empty and fault, and faults
 * wait for the VMA. The pages are checked (anonymous, no reference but
 * their mappings'), copied, unmapped and released; the table, which
 * lockless readers may still hold, is freed after a grace period. If a
 * page cannot be collapsed the table goes back as it was.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "huge_memory.h"
#include "mm.h"
#include "rmap.h"
#include "mmu_notifier.h"

/* The kernel's scan results that umm can meet, and their errno. */
enum scan_result {
	SCAN_SUCCEED,
	SCAN_PMD_MAPPED,		/* already a THP: counts as done */
	SCAN_PMD_NULL,			/* no PMD table: the next block may have one */
	SCAN_PMD_NONE,			/* no PTE table: nothing to collapse */
	SCAN_PAGE_ANON,			/* a page that is not anonymous */
	SCAN_PAGE_COUNT,		/* a page someone else holds (a pin) */
	SCAN_ALLOC_HUGE_PAGE_FAIL,
	SCAN_CGROUP_CHARGE_FAIL,	/* the mm's phys_limit (umm's memcg) */
	SCAN_FAIL,
};

static int madvise_collapse_errno(enum scan_result r)
{
	switch (r) {
	case SCAN_ALLOC_HUGE_PAGE_FAIL:
		return -ENOMEM;
	case SCAN_CGROUP_CHARGE_FAIL:
		return -EBUSY;
	case SCAN_PAGE_COUNT:
		return -EAGAIN;
	default:
		return -EINVAL;
	}
}

/* Failures after which the next block is still tried (the kernel's list). */
static bool collapse_continue(enum scan_result r)
{
	return r == SCAN_PAGE_COUNT || r == SCAN_PMD_NULL;
}

/*
 * May this entry's page go into the THP? Only an anonymous page whose
 * references are all mappings' (no pin, no page in flight elsewhere).
 * Locking: the (detached) table's lock held.
 */
static enum scan_result collapse_check_pte(pte_t v)
{
	struct page *head;

	if (pte_none(v) || pte_special(v))
		return SCAN_SUCCEED;	/* a zero-filled page of the THP */
	head = compound_head(pfn_to_page(pte_pfn(v)));
	if (!PageAnon(head))
		return SCAN_PAGE_ANON;
	if (page_maybe_dma_pinned(head) || page_count(head) != folio_mapcount(head))
		return SCAN_PAGE_COUNT;
	return SCAN_SUCCEED;
}

/* Copy the block into @head, then drop its old entries. Locking: the table's lock. */
static void collapse_copy_release(struct umm_mm *mm, pte_t *pte, struct page *head)
{
	int64_t old_rss = 0;

	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		pte_t v = ptep_get_and_clear(pte + i);
		char *dst = page_address(head + i);
		struct page *page;

		if (pte_none(v) || pte_special(v)) {
			memset(dst, 0, PAGE_SIZE);
			continue;
		}
		page = pfn_to_page(pte_pfn(v));
		memcpy(dst, page_address(page), PAGE_SIZE);
		page_remove_rmap_pte(page);
		put_page(page);		/* the mapping's reference */
		old_rss++;
	}
	mm_stat_add(mm, MM_ANONPAGES, -old_rss);
}

/*
 * collapse_huge_page - make the block at @haddr of @vma one THP.
 * Locking: mmap_lock held for write; write-locks @vma; takes the PMD and
 *          PTE locks.
 */
static enum scan_result collapse_huge_page(struct vm_area_struct *vma, uint64_t haddr)
{
	struct umm_mm *mm = vma->vm_mm;
	enum scan_result r = SCAN_SUCCEED;
	struct page *head, *table;
	pgtable_t deposit;
	spinlock_t *pml, *ptl;
	pmd_t *pmd, orig;
	pte_t *pte;

	mmap_assert_write_locked(mm);
	rcu_read_lock();
	pmd = pmd_off_lockless(mm, haddr);
	rcu_read_unlock();	/* mmap_lock (write) keeps the upper tables */
	if (!pmd)
		return SCAN_PMD_NULL;
	if (pmd_none(pmdp_get(pmd)))
		return SCAN_PMD_NONE;
	if (pmd_leaf(pmdp_get(pmd)))
		return SCAN_PMD_MAPPED;
	head = alloc_pages(mm->quota, __GFP_COMP | __GFP_NOZERO, HPAGE_PMD_ORDER);
	if (!head) {
		/* which limit said no: the mm's is the kernel's memcg charge */
		if (quota_used(mm->quota) + HPAGE_PMD_NR > READ_ONCE(mm->quota->limit))
			return SCAN_CGROUP_CHARGE_FAIL;
		return SCAN_ALLOC_HUGE_PAGE_FAIL;
	}
	deposit = pte_alloc_one(mm);
	if (!deposit) {
		put_page(head);
		return SCAN_ALLOC_HUGE_PAGE_FAIL;
	}
	vma_start_write(vma);	/* faults under the VMA lock wait from here */
	mmu_notifier_invalidate_range_start(mm, haddr, haddr + HPAGE_PMD_SIZE);
	pml = pmd_lock(mm, pmd);
	orig = pmdp_get_and_clear(pmd);
	spin_unlock(pml);
	/* whoever copies through an old translation is done after this */
	flush_tlb_mm_range(mm, haddr, haddr + HPAGE_PMD_SIZE);
	table = pmd_page(orig);
	pte = page_address(table);
	ptl = ptlock_ptr(table);
	spin_lock(ptl);		/* a locked reader that got in first is out */
	for (unsigned int i = 0; i < HPAGE_PMD_NR && r == SCAN_SUCCEED; i++)
		r = collapse_check_pte(ptep_get(pte + i));
	if (r == SCAN_SUCCEED)
		collapse_copy_release(mm, pte, head);
	spin_unlock(ptl);
	pml = pmd_lock(mm, pmd);
	if (r == SCAN_SUCCEED) {
		map_anon_folio_pmd(vma, pmd, head, deposit, haddr);
		head = NULL;
		deposit = NULL;
	} else {
		set_pmd(pmd, orig);	/* as it was: nothing was touched */
	}
	spin_unlock(pml);
	mmu_notifier_invalidate_range_end(mm, haddr, haddr + HPAGE_PMD_SIZE);
	if (r == SCAN_SUCCEED) {
		pte_free_defer(mm, table);	/* lockless readers may hold it */
		mm_stat_add(mm, MM_THP_COLLAPSE_ALLOC, 1);
		return r;
	}
	pte_free(mm, deposit);
	put_page(head);
	return r;
}

/*
 * The kernel's thp_vma_allowable_order(TVA_FORCED_COLLAPSE): the THP
 * mode does not matter, MADV_NOHUGEPAGE does; the VMA must have had a
 * page (an anon_vma) and hold a whole aligned 2 MiB block.
 */
static bool collapse_allowed(struct vm_area_struct *vma)
{
	uint64_t first = ALIGN_UP(vma->vm_start, HPAGE_PMD_SIZE);

	if (vma->vm_file || (vma->vm_flags & (VM_SHARED | VM_NOHUGEPAGE | VM_HUGETLB |
					       VM_PFNMAP)))
		return false;
	if (!smp_load_acquire(&vma->anon_vma))
		return false;
	return first >= vma->vm_start && first + HPAGE_PMD_SIZE <= vma->vm_end;
}

int madvise_collapse(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	uint64_t hstart = ALIGN_UP(start, HPAGE_PMD_SIZE), hend = end & PMD_MASK;
	enum scan_result last = SCAN_SUCCEED;
	uint64_t done = 0;

	if (!collapse_allowed(vma))
		return -EINVAL;
	if (hstart > hend)
		return -EINVAL;		/* inside one block: the kernel's count underflows */
	for (uint64_t a = hstart; a < hend; a += HPAGE_PMD_SIZE) {
		enum scan_result r = collapse_huge_page(vma, a);

		if (r == SCAN_SUCCEED || r == SCAN_PMD_MAPPED) {
			done++;
			continue;
		}
		last = r;
		if (!collapse_continue(r))
			break;
	}
	if (done == (hend - hstart) / HPAGE_PMD_SIZE)
		return 0;
	return madvise_collapse_errno(last);
}
