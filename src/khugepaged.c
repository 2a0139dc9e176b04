// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * khugepaged.c - collapsing small pages into THPs: the pages of an aligned
 * 2 MiB block of private anonymous memory copied into a new THP mapped by
 * one PMD leaf (the kernel's collapse_huge_page), run by MADV_COLLAPSE in
 * the caller or by the khugepaged thread on its own (at the end of the
 * file); and shared memory's collapse in the page cache (below).
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
 *
 * Shared memory (shmem files, shared anonymous memory) collapses in its
 * page cache instead (collapse_file): the block's pages are replaced by
 * one PMD-sized folio, and then the now empty PTE tables of every VMA
 * that maps the block are taken out of their PMDs by retract_page_tables
 * - in every mm, without that mm's mmap_lock or VMA lock (seed 003) - so
 * the next fault there maps the folio with one leaf (do_set_pmd).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <umm/umm.h>
#include "huge_memory.h"
#include "mm.h"
#include "rmap.h"
#include "mmu_notifier.h"
#include "filemap.h"
#include "page_alloc.h"

/* The kernel's scan results that umm can meet, and their errno. */
enum scan_result {
	SCAN_SUCCEED,
	SCAN_PMD_MAPPED,		/* already a THP: counts as done */
	SCAN_PMD_NULL,			/* no PMD table: the next block may have one */
	SCAN_PMD_NONE,			/* no PTE table: nothing to collapse */
	SCAN_PAGE_ANON,			/* a page that is not anonymous */
	SCAN_PTE_NON_PRESENT,		/* a PTE marker (guard region) */
	SCAN_PAGE_COUNT,		/* a page someone else holds (a pin) */
	SCAN_ALLOC_HUGE_PAGE_FAIL,
	SCAN_CGROUP_CHARGE_FAIL,	/* the mm's phys_limit (umm's memcg) */
	SCAN_PTE_MAPPED_HUGEPAGE,	/* the cache holds a THP already: map it */
	SCAN_TRUNCATED,			/* nothing cached in the block */
	SCAN_EXCEED_NONE_PTE,		/* khugepaged: too many empty entries */
	SCAN_EXCEED_SHARED_PTE,		/* khugepaged: too many shared pages */
	SCAN_LACK_REFERENCED_PAGE,	/* khugepaged: nothing used lately */
	SCAN_VMA_CHECK,			/* khugepaged: the VMA changed or went */
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
 * Who collapses: MADV_COLLAPSE takes any block it can; khugepaged only one
 * with at most max_ptes_none empty (or zero-page) entries and
 * max_ptes_shared pages another mm maps too, as the kernel's
 * collapse_control.
 */
struct collapse_control {
	bool is_khugepaged;
	unsigned int none, shared;	/* counted so far */
	struct page *last_head;		/* the large folio last judged shared or not */
	bool last_shared;
};

/* khugepaged's sysfs defaults (transparent_hugepage/khugepaged/) */
#define KHUGEPAGED_MAX_PTES_NONE	(HPAGE_PMD_NR - 1)
#define KHUGEPAGED_MAX_PTES_SHARED	(HPAGE_PMD_NR / 2)

/*
 * Is the page of @v mapped by another mm too, as khugepaged counts it
 * (folio_maybe_mapped_shared): a small page mapped more than once; a
 * large folio mapped anywhere but in this table's entries - judged once
 * per folio (@cc remembers it), not once per page.
 * Locking: the lock of the table @table (holding @v) held.
 */
static bool pte_page_shared(pte_t *table, pte_t v, struct collapse_control *cc)
{
	struct page *page = pfn_to_page(pte_pfn(v));
	struct page *head = compound_head(page);
	uint64_t first = page_to_pfn(head);
	int here = 0;

	if (!PageHead(head))
		return page_mapcount(page) > 1;
	if (head == cc->last_head)
		return cc->last_shared;
	for (unsigned int i = 0; i < PTRS_PER_PTE && !folio_entire_mapcount(head); i++) {
		pte_t e = ptep_get(table + i);

		if (pte_present(e) && !pte_special(e) &&
		    pte_pfn(e) - first < (1UL << page_order(head)))
			here++;
	}
	cc->last_head = head;
	cc->last_shared = folio_entire_mapcount(head) || folio_mapcount(head) > here;
	return cc->last_shared;
}

/*
 * May this entry's page go into the THP? Only an anonymous page whose
 * references are all mappings' (no pin, no page in flight elsewhere).
 * Locking: the table's lock held (the table detached for a collapse, still
 *          attached for khugepaged_scan_pmd's look).
 */
static enum scan_result collapse_check_pte(pte_t *table, pte_t v,
					   struct collapse_control *cc)
{
	struct page *head;

	if (pte_none(v) || pte_special(v)) {
		/* a zero-filled page of the THP */
		if (cc->is_khugepaged && ++cc->none > KHUGEPAGED_MAX_PTES_NONE)
			return SCAN_EXCEED_NONE_PTE;
		return SCAN_SUCCEED;
	}
	if (!pte_present(v))
		return SCAN_PTE_NON_PRESENT;
	head = compound_head(pfn_to_page(pte_pfn(v)));
	if (!PageAnon(head))
		return SCAN_PAGE_ANON;
	if (page_maybe_dma_pinned(head) || page_count(head) != folio_mapcount(head))
		return SCAN_PAGE_COUNT;
	if (cc->is_khugepaged && pte_page_shared(table, v, cc) &&
	    ++cc->shared > KHUGEPAGED_MAX_PTES_SHARED)
		return SCAN_EXCEED_SHARED_PTE;
	return SCAN_SUCCEED;
}

/* Copy the block into @head, then drop its old entries. Locking: the table's lock. */
static void collapse_copy_release(struct vm_area_struct *vma, pte_t *pte, struct page *head)
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
		/* a page a fork's child shares outlives the collapse */
		munlock_vma_folio(compound_head(page), vma);
		put_page(page);		/* the mapping's reference */
		old_rss++;
	}
	mm_stat_add(vma->vm_mm, MM_ANONPAGES, -old_rss);
}

/*
 * collapse_huge_page - make the block at @haddr of @vma one THP.
 * Locking: mmap_lock held for write; write-locks @vma; takes the PMD and
 *          PTE locks.
 */
static enum scan_result collapse_huge_page(struct vm_area_struct *vma, uint64_t haddr,
					   struct collapse_control *cc)
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
		r = collapse_check_pte(pte, ptep_get(pte + i), cc);
	if (r == SCAN_SUCCEED)
		collapse_copy_release(vma, pte, head);
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

/* ---- shared memory: collapse_file, retract_page_tables ---- */

/*
 * Take a reference on each page of the block [start, start + 512) of
 * @mapping's cache into @old (NULL for a hole). The block may reach past the
 * end of the file, as the kernel's shmem collapse does.
 * Locking: invalidate_lock (write): no page can come or go.
 * Return: SCAN_SUCCEED; SCAN_PTE_MAPPED_HUGEPAGE when the block is one
 *         THP already (no reference kept); SCAN_TRUNCATED for an empty
 *         block.
 */
static enum scan_result collapse_file_scan(struct address_space *mapping, uint64_t start,
					   struct page **old)
{
	unsigned int present = 0;

	rwsem_assert_write_held(&mapping->invalidate_lock);

	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		old[i] = find_get_page(mapping, start + i);
		if (old[i] && PageHead(compound_head(old[i]))) {
			struct page *head = compound_head(old[i]);

			/* a large folio is whole and aligned: the block is it */
			for (unsigned int j = 0; j <= i; j++)
				if (old[j])
					put_page(old[j]);
			return head->index == start ? SCAN_PTE_MAPPED_HUGEPAGE : SCAN_FAIL;
		}
		present += !!old[i];
	}
	return present ? SCAN_SUCCEED : SCAN_TRUNCATED;
}

/* Drop the references collapse_file_scan took. Locking: none needed. */
static void collapse_file_put(struct page **old)
{
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++)
		if (old[i])
			put_page(old[i]);
}

/*
 * Stop every mapping from reaching the old pages: out of the cache they
 * go as for truncation (mapping cleared, which faults re-check under the
 * PTE lock), then every PTE mapping them is zapped and every TLB flushed.
 * After that only a pin or a lookup in flight can hold one: the pages
 * must have no other reference than the cache's and ours, so nothing
 * writes them while they are copied.
 * Locking: invalidate_lock (write); takes i_mmap_rwsem and PTE locks.
 */
static enum scan_result collapse_file_isolate(struct address_space *mapping, uint64_t start,
					      struct page **old)
{
	rwsem_assert_write_held(&mapping->invalidate_lock);
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++)
		if (old[i])
			WRITE_ONCE(old[i]->mapping, NULL);
	/*
	 * Pins are taken under the PTE lock, which the zap takes after them:
	 * a pin made before the zap is seen below, none can come after. A
	 * lookup's reference missed here is harmless: its page has no
	 * mapping, so no fault maps it. Where the zap finds no table, a fault
	 * that installs one later must still see the cleared mapping: the
	 * locked instructions on both sides (i_mmap_rwsem here, the PTE lock
	 * there) order the store before the load as full barriers on x86,
	 * which this relies on (a weakly ordered port needs smp_mb() on both
	 * sides, or the kernel's folio locks).
	 */
	unmap_mapping_range(mapping, start, start + HPAGE_PMD_NR - 1, false);
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		if (!old[i])
			continue;
		if (page_mapcount(old[i]) || page_count(old[i]) != 2) {
			for (unsigned int j = 0; j < HPAGE_PMD_NR; j++)
				if (old[j])
					WRITE_ONCE(old[j]->mapping, (void *)mapping);
			return SCAN_PAGE_COUNT;
		}
	}
	return SCAN_SUCCEED;
}

/*
 * Put the new folio in the cache in place of the old pages, its head in
 * every slot (holes first: only they may need memory). Its pages keep a
 * NULL mapping until
 * the caller is done, so no fault maps them yet: faults that find one
 * look again, as for a page leaving the cache.
 * Locking: invalidate_lock (write). Return: 0 or -ENOMEM (nothing changed).
 */
static int collapse_file_replace(struct address_space *mapping, uint64_t start, struct page **old,
				 struct page *head)
{
	unsigned int i;

	rwsem_assert_write_held(&mapping->invalidate_lock);
	for (i = 0; i < HPAGE_PMD_NR; i++) {
		head[i].index = start + i;
		WRITE_ONCE(head[i].mapping, NULL);
	}
	/* one reference per slot, as for small pages */
	__atomic_fetch_add(&head->refcount, HPAGE_PMD_NR - 1, __ATOMIC_RELEASE);
	for (i = 0; i < HPAGE_PMD_NR; i++)
		if (!old[i] && xa_insert(&mapping->i_pages, start + i, head))
			break;
	if (i < HPAGE_PMD_NR) {
		while (i-- > 0)
			if (!old[i])
				xa_erase(&mapping->i_pages, start + i);
		put_page_refs(head, HPAGE_PMD_NR - 1);
		return -ENOMEM;
	}
	for (i = 0; i < HPAGE_PMD_NR; i++) {
		if (!old[i])
			continue;
		xa_store(&mapping->i_pages, start + i, head, NULL);	/* a slot in place */
		clear_bit_page(PG_dirty, old[i]);
		put_page(old[i]);	/* the cache's reference */
	}
	return 0;
}

/*
 * Retract the PTE table of @vma's block at file page @pgoff: empty now
 * (its cache pages were unmapped and the new ones are not mapped yet), it
 * is taken out of the PMD under the PMD and PTE locks and freed after a
 * grace period, so that the next fault maps the whole folio. No mmap_lock
 * and no VMA lock: i_mmap_rwsem keeps @vma linked, and so its tables
 * alive (a VMA leaves i_mmap before its tables are freed; a MAP_FIXED
 * mapping linked over older ones holds i_mmap_rwsem while their tables
 * go; a VMA's bounds never change: umm replaces VMAs), and RCU keeps
 * them readable whatever happens; lockless walkers re-check the PMD after
 * mapping the table (pte_offset_map_lock, seed 001). A
 * private mapping with an anon_vma may hold copies-on-write in the table:
 * it is left alone, re-checked under the PTE lock as a fault sets it
 * before taking that lock.
 * Locking: i_mmap_rwsem (read); takes the PMD lock, then the PTE lock.
 */
static int retract_one(struct itree_node *n, void *arg)
{
	struct vm_area_struct *vma = container_of(n, struct vm_area_struct, shared);
	uint64_t pgoff = *(uint64_t *)arg, addr;
	struct page *table = NULL;
	struct umm_mm *mm = vma->vm_mm;
	pmd_t *pmd, v;

	rwsem_assert_held(&vma->vm_file->f_mapping->i_mmap_rwsem);
	if (pgoff < vma->vm_pgoff)
		return 0;
	addr = vma->vm_start + ((pgoff - vma->vm_pgoff) << PAGE_SHIFT);
	if ((addr & ~PMD_MASK) || addr + HPAGE_PMD_SIZE > vma->vm_end ||
	    smp_load_acquire(&vma->anon_vma))
		return 0;
	mmu_notifier_invalidate_range_start(mm, addr, addr + HPAGE_PMD_SIZE);
	/* RCU as well: tables are freed after a grace period, whoever frees them */
	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	v = pmd ? pmdp_get_lockless(pmd) : __pmd(0);
	if (!pmd_none(v) && !pmd_leaf(v))
		table = pmd_detach_empty_table(mm, pmd, vma);
	rcu_read_unlock();
	if (table) {
		flush_tlb_mm_range(mm, addr, addr + HPAGE_PMD_SIZE);
		pte_free_defer(mm, table);
		mm_stat_add(mm, MM_THP_RETRACT, 1);
	}
	mmu_notifier_invalidate_range_end(mm, addr, addr + HPAGE_PMD_SIZE);
	return 0;
}

/* Locking: invalidate_lock (write); takes i_mmap_rwsem (read). */
static void retract_page_tables(struct address_space *mapping, uint64_t pgoff)
{
	rwsem_assert_write_held(&mapping->invalidate_lock);
	down_read(&mapping->i_mmap_rwsem);
	itree_for_each_overlap(&mapping->i_mmap, pgoff, pgoff, retract_one, &pgoff);
	up_read(&mapping->i_mmap_rwsem);
}

/*
 * collapse_file - make the block of @mapping at page @start one THP in the
 * cache (the kernel's collapse_file for shmem): holes become zeroes, as
 * with MADV_COLLAPSE's unlimited max_ptes_none. Charged to @mm.
 * Locking: takes invalidate_lock (write), then as collapse_file_isolate
 *          and retract_page_tables.
 */
static enum scan_result collapse_file(struct umm_mm *mm, struct address_space *mapping,
				      uint64_t start)
{
	struct page *old[HPAGE_PMD_NR], *head = NULL;
	enum scan_result r;

	down_write(&mapping->invalidate_lock);
	r = collapse_file_scan(mapping, start, old);
	if (r == SCAN_TRUNCATED)	/* the kernel allocated before it looked */
		mm_stat_add(mm, MM_THP_COLLAPSE_ALLOC, 1);
	if (r != SCAN_SUCCEED)
		goto unlock;
	head = alloc_pages(mm->quota, __GFP_COMP | __GFP_NOZERO, HPAGE_PMD_ORDER);
	if (!head) {
		r = quota_used(mm->quota) + HPAGE_PMD_NR > READ_ONCE(mm->quota->limit) ?
		    SCAN_CGROUP_CHARGE_FAIL : SCAN_ALLOC_HUGE_PAGE_FAIL;
		goto put;
	}
	r = collapse_file_isolate(mapping, start, old);
	if (r != SCAN_SUCCEED)
		goto put;
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		if (old[i])
			memcpy(page_address(head + i), page_address(old[i]), PAGE_SIZE);
		else
			memset(page_address(head + i), 0, PAGE_SIZE);
	}
	if (collapse_file_replace(mapping, start, old, head)) {
		for (unsigned int i = 0; i < HPAGE_PMD_NR; i++)
			if (old[i])
				WRITE_ONCE(old[i]->mapping, (void *)mapping);
		r = SCAN_ALLOC_HUGE_PAGE_FAIL;
		goto put;
	}
	retract_page_tables(mapping, start);
	set_bit_page(PG_dirty, head);	/* shmem: memory is its only copy */
	/* faults may map it now: the head last, which do_set_pmd checks */
	for (unsigned int i = HPAGE_PMD_NR - 1; i > 0; i--)
		smp_store_release(&head[i].mapping, (void *)mapping);
	smp_store_release(&head->mapping, (void *)mapping);
	head = NULL;
	/* thp_file_alloc counts shmem faults only, as the host shows */
	mm_stat_add(mm, MM_THP_COLLAPSE_ALLOC, 1);
put:
	collapse_file_put(old);
	if (head)
		put_page(head);
unlock:
	up_write(&mapping->invalidate_lock);
	return r;
}

/*
 * A PTE table that maps nothing but pages of @head at their own places
 * (none entries allowed) gives way to a PMD leaf: its entries are cleared
 * and counted in @nr (their references to drop), the table detached.
 * Locking: the PMD lock and the table's lock held.
 * Return: the table, or NULL when some entry maps another page (a
 *         copy-on-write, say) and nothing changed.
 */
static struct page *pte_table_give_way(pmd_t *pmd, struct page *head, unsigned int *nr)
{
	struct page *table = pmd_page(pmdp_get(pmd));
	pte_t *pte = page_address(table);
	uint64_t pfn = page_to_pfn(head);

	*nr = 0;
	for (unsigned int i = 0; i < PTRS_PER_PTE; i++) {
		pte_t v = ptep_get(pte + i);

		if (pte_none(v))
			continue;
		if (!pte_present(v) || pte_special(v) || pte_pfn(v) != pfn + i)
			return NULL;
	}
	for (unsigned int i = 0; i < PTRS_PER_PTE; i++) {
		if (pte_none(ptep_get(pte + i)))
			continue;
		ptep_get_and_clear(pte + i);
		page_remove_rmap_pte(head + i);
		(*nr)++;
	}
	pmdp_get_and_clear(pmd);
	return table;
}

/*
 * Take the PTE table of @haddr's block out of @pmd if it maps nothing but
 * pages of @head where they belong; their references go after the flush.
 * Locking: mmap_lock held; takes the PMD and PTE locks.
 * Return: false when the table maps something else (nothing changed).
 */
static bool pmd_give_way(struct umm_mm *mm, pmd_t *pmd, uint64_t haddr, struct page *head)
{
	struct page *table = NULL;
	spinlock_t *pml, *ptl;
	unsigned int nr = 0;
	bool other = false;
	pmd_t v;

	mmu_notifier_invalidate_range_start(mm, haddr, haddr + HPAGE_PMD_SIZE);
	pml = pmd_lock(mm, pmd);
	v = pmdp_get(pmd);
	if (!pmd_none(v) && !pmd_leaf(v)) {
		ptl = pte_lockptr(mm, pmd);
		spin_lock(ptl);
		table = pte_table_give_way(pmd, head, &nr);
		other = !table;
		spin_unlock(ptl);
	}
	spin_unlock(pml);
	if (table) {
		flush_tlb_mm_range(mm, haddr, haddr + HPAGE_PMD_SIZE);
		pte_free_defer(mm, table);
		put_page_refs(head, (int)nr);	/* the PTEs' references */
	}
	mmu_notifier_invalidate_range_end(mm, haddr, haddr + HPAGE_PMD_SIZE);
	return !other;
}

/*
 * Map the cached THP of @vma's block at @haddr with a leaf in the caller's
 * mm at once (the kernel's collapse_pte_mapped_thp): into an empty PMD (a
 * retracted table), or in place of a table that maps only the folio's own
 * pages where they belong.
 * Locking: mmap_lock held; takes the PMD and PTE locks.
 * Return: SCAN_SUCCEED, or SCAN_FAIL when the block cannot be PMD-mapped.
 */
static enum scan_result collapse_map_pmd(struct vm_area_struct *vma, uint64_t haddr)
{
	struct vm_fault vmf = { .vma = vma, .address = haddr };
	uint64_t pgoff = vma->vm_pgoff + ((haddr - vma->vm_start) >> PAGE_SHIFT);
	struct umm_mm *mm = vma->vm_mm;
	struct page *page;

	mmap_assert_locked(mm);
	if (walk_to_pmd(mm, haddr, &vmf.pmd))
		return SCAN_FAIL;
	/*
	 * Our reference keeps the folio whole (a split wants an exact
	 * count); it may have been split (a hole punch) since the collapse.
	 */
	page = find_get_page(vma->vm_file->f_mapping, pgoff);
	if (!page)
		return SCAN_FAIL;
	if (!PageHead(page) || page_order(page) != HPAGE_PMD_ORDER) {
		put_page(page);
		return SCAN_FAIL;
	}
	/* faults of this mm's other threads may fill the PMD meanwhile */
	for (int tries = 0; tries < 3; tries++) {
		pmd_t v = pmdp_get_lockless(vmf.pmd);

		if (pmd_leaf(v)) {
			put_page(page);
			return pmd_page(v) == page ? SCAN_SUCCEED : SCAN_FAIL;
		}
		if (!pmd_none(v)) {
			if (!pmd_give_way(mm, vmf.pmd, haddr, page))
				break;		/* a copy-on-write in the way */
			continue;
		}
		if (!(do_set_pmd(&vmf, page) & VM_FAULT_FALLBACK)) {
			page = NULL;	/* the leaf's reference now */
			if (pmd_leaf(pmdp_get_lockless(vmf.pmd)))
				return SCAN_SUCCEED;
			break;
		}
		if (pmd_none(pmdp_get_lockless(vmf.pmd)))
			break;		/* refused for good */
	}
	if (page)
		put_page(page);
	return SCAN_FAIL;
}

/*
 * The shmem side of MADV_COLLAPSE: the VMA must be suitable for PMD
 * leaves (its addresses and file offsets agree modulo 2 MiB) and hold a
 * whole aligned block; MADV_NOHUGEPAGE says no, the THP mode does not.
 * Locking: mmap_lock held.
 */
static bool collapse_file_allowed(struct vm_area_struct *vma)
{
	uint64_t first = ALIGN_UP(vma->vm_start, HPAGE_PMD_SIZE);

	if (!vma->vm_file || vma->vm_file->f_mapping->kind != FILE_SHMEM ||
	    (vma->vm_flags & (VM_NOHUGEPAGE | VM_HUGETLB | VM_PFNMAP)))
		return false;
	if (((vma->vm_start >> PAGE_SHIFT) - vma->vm_pgoff) & (HPAGE_PMD_NR - 1))
		return false;
	return first >= vma->vm_start && first + HPAGE_PMD_SIZE <= vma->vm_end;
}

/*
 * Collapse @vma's block at @haddr in the file's cache, then map it here.
 * Locking: mmap_lock held (write, from madvise); takes what collapse_file
 *          and collapse_map_pmd take.
 */
static enum scan_result collapse_file_block(struct vm_area_struct *vma, uint64_t haddr)
{
	uint64_t pgoff = vma->vm_pgoff + ((haddr - vma->vm_start) >> PAGE_SHIFT);
	enum scan_result r = collapse_file(vma->vm_mm, vma->vm_file->f_mapping, pgoff);

	if (r == SCAN_SUCCEED || r == SCAN_PTE_MAPPED_HUGEPAGE)
		r = collapse_map_pmd(vma, haddr);
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

/*
 * No frames for the THP: the kernel's allocation and charge reclaim
 * before they fail, and reclaim runs the deferred-split shrinker, so THPs
 * partly unmapped give their holes back first. Locking: mmap_lock held.
 */
static bool collapse_reclaim(struct umm_mm *mm, enum scan_result r, bool *tried)
{
	if (r != SCAN_ALLOC_HUGE_PAGE_FAIL && r != SCAN_CGROUP_CHARGE_FAIL)
		return false;
	return thp_reclaim_once(mm, tried);
}

/* One block of @vma at @haddr. Locking: as madvise_collapse. */
static enum scan_result collapse_block(struct vm_area_struct *vma, uint64_t haddr)
{
	struct collapse_control cc = { .is_khugepaged = false };

	if (vma->vm_file)
		return collapse_file_block(vma, haddr);
	return collapse_huge_page(vma, haddr, &cc);
}

int madvise_collapse(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	uint64_t hstart = ALIGN_UP(start, HPAGE_PMD_SIZE), hend = end & PMD_MASK;
	enum scan_result last = SCAN_SUCCEED;
	bool file = vma->vm_file, reclaimed = false;
	uint64_t done = 0;

	if (file ? !collapse_file_allowed(vma) : !collapse_allowed(vma))
		return -EINVAL;
	if (hstart > hend)
		return -EINVAL;		/* inside one block: the kernel's count underflows */
	for (uint64_t a = hstart; a < hend; a += HPAGE_PMD_SIZE) {
		enum scan_result r = collapse_block(vma, a);

		if (collapse_reclaim(vma->vm_mm, r, &reclaimed))
			r = collapse_block(vma, a);
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

/* ---- khugepaged: the background scan ---- */

/*
 * One thread for the process, as the kernel's one kthread. An mm joins
 * its list when it gets a VMA that may hold THPs (MADV_HUGEPAGE, or an
 * anonymous mapping in UMM_THP_ALWAYS mode; a fork's child of a listed
 * mm) and leaves it in umm_mm_destroy. The thread wakes every
 * scan_sleep_millisecs, looks at pages_to_scan pages' worth of PMDs round
 * robin over the mms (at most once round the list per wake), and
 * collapses the private anonymous blocks that qualify: a PTE table with
 * at most max_ptes_none empty entries, max_ptes_shared pages mapped
 * elsewhere too, and one page used lately (an accessed entry). It scans
 * under mmap_lock taken with a trylock (a busy mm is passed over, as the
 * kernel's) and collapses with collapse_huge_page under the write lock,
 * after finding the VMA again. Shared memory is not scanned: the host's
 * shmem_enabled is never, and umm's shmem faults make no THPs either.
 *
 * Settings, read from the environment when the first mm joins (the
 * kernel's sysfs knobs): UMM_KHUGEPAGED=0 (no thread),
 * UMM_KHUGEPAGED_SCAN_SLEEP_MS (10000), UMM_KHUGEPAGED_PAGES_TO_SCAN
 * (4096).
 *
 * Locking: khugepaged.lock nests inside mmap_lock (an mm joins under its
 * own, as the kernel's khugepaged_enter_vma, so that a fork sees it) and
 * is never held across a scan; the thread holds one mm's mmap_lock at a
 * time and takes it only without khugepaged.lock. umm_mm_destroy and a
 * host fork() wait, with the lock dropped, until the thread is out of the
 * mm (khugepaged.scanning).
 */
#define KHUGEPAGED_SLEEP_MS	10000
#define KHUGEPAGED_PAGES	(8 * HPAGE_PMD_NR)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* an mm joined an empty list, or stop */
	pthread_cond_t done;		/* scanning left an mm, or the thread ended */
	struct list_head mms;		/* umm_mm.khugepaged_node */
	struct umm_mm *scanning;	/* the mm the thread is in, or NULL */
	struct umm_mm *cursor;		/* the mm to scan next; NULL: the first */
	bool running, stop, configured, disabled, atexit_set;
	bool forking;			/* a host fork() waits: start no scan */
	uint64_t sleep_ms, pages_to_scan;
	uint64_t pages_collapsed, full_scans;	/* atomic */
} khugepaged = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
	.mms = LIST_HEAD_INIT(khugepaged.mms),
};

/* A number from the environment, at most @max; @def if unset or not one. */
static uint64_t env_u64(const char *name, uint64_t def, uint64_t max)
{
	const char *v = getenv(name);
	char *end;
	uint64_t n;

	if (!v || !*v)
		return def;
	n = strtoull(v, &end, 0);
	if (*end)
		return def;
	return n < max ? n : max;
}

/* Locking: khugepaged.lock. */
static void khugepaged_configure(void)
{
	const char *on = getenv("UMM_KHUGEPAGED");

	if (khugepaged.configured)
		return;
	/* only "0" turns it off, as writing 0 to the kernel's knobs would */
	WRITE_ONCE(khugepaged.disabled, on && !strcmp(on, "0"));
	khugepaged.sleep_ms = env_u64("UMM_KHUGEPAGED_SCAN_SLEEP_MS", KHUGEPAGED_SLEEP_MS,
				      UINT32_MAX);
	khugepaged.pages_to_scan = env_u64("UMM_KHUGEPAGED_PAGES_TO_SCAN", KHUGEPAGED_PAGES,
					   UINT32_MAX);
	if (!khugepaged.pages_to_scan)
		khugepaged.pages_to_scan = 1;
	WRITE_ONCE(khugepaged.configured, true);
}

/*
 * The kernel's thp_vma_allowable_order for khugepaged: a private anonymous
 * VMA that may hold THPs and holds a whole aligned block.
 * Locking: mmap_lock held.
 */
static bool khugepaged_vma_ok(struct vm_area_struct *vma)
{
	uint64_t first = ALIGN_UP(vma->vm_start, HPAGE_PMD_SIZE);

	return !vma->vm_file && thp_vma_allowable(vma) &&
	       first >= vma->vm_start && first + HPAGE_PMD_SIZE <= vma->vm_end;
}

/*
 * Does the block at @haddr qualify (hpage_collapse_scan_pmd)? Nothing is
 * changed; collapse_huge_page checks again under its locks. "Used lately"
 * is an accessed entry only: umm keeps no referenced bit on pages and has
 * no notifier test_young.
 * Locking: mmap_lock held for read; takes the PTE lock.
 */
static enum scan_result khugepaged_scan_pmd(struct umm_mm *mm, uint64_t haddr)
{
	struct collapse_control cc = { .is_khugepaged = true };
	enum scan_result r = SCAN_SUCCEED;
	unsigned int referenced = 0;
	spinlock_t *ptl;
	pte_t *pte;
	pmd_t *pmd, v;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, haddr);
	rcu_read_unlock();	/* mmap_lock keeps the upper tables */
	if (!pmd)
		return SCAN_PMD_NULL;
	v = pmdp_get_lockless(pmd);
	if (pmd_none(v))
		return SCAN_PMD_NONE;
	if (pmd_leaf(v))
		return SCAN_PMD_MAPPED;
	pte = pte_offset_map_lock(mm, pmd, haddr, &ptl);
	if (!pte)
		return SCAN_PMD_NULL;
	/* the checks collapse_huge_page makes again under its locks */
	for (unsigned int i = 0; i < HPAGE_PMD_NR && r == SCAN_SUCCEED; i++) {
		pte_t e = ptep_get(pte + i);

		r = collapse_check_pte(pte, e, &cc);
		referenced += !pte_none(e) && !pte_special(e) && pte_young(e);
	}
	pte_unmap_unlock(pte, ptl);
	if (r == SCAN_SUCCEED && !referenced)
		r = SCAN_LACK_REFERENCED_PAGE;
	return r;
}

/*
 * Collapse the block at @haddr if its VMA still allows (the kernel's
 * hugepage_vma_revalidate: it must have had a page too).
 * Locking: none held; takes mmap_lock for write.
 */
static void khugepaged_collapse(struct umm_mm *mm, uint64_t haddr)
{
	struct collapse_control cc = { .is_khugepaged = true };
	struct vm_area_struct *vma;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, haddr);
	if (vma && khugepaged_vma_ok(vma) && smp_load_acquire(&vma->anon_vma) &&
	    haddr >= vma->vm_start && haddr + HPAGE_PMD_SIZE <= vma->vm_end &&
	    collapse_huge_page(vma, haddr, &cc) == SCAN_SUCCEED)
		__atomic_fetch_add(&khugepaged.pages_collapsed, 1, __ATOMIC_RELAXED);	/* THPs */
	mmap_write_unlock(mm);
}

/*
 * Scan @mm from where the last scan of it stopped, up to @budget pages.
 * Locking: none held; takes mmap_lock (trylock). The caller keeps @mm
 * alive (khugepaged.scanning).
 * Return: the pages' worth looked at (at least one); *@done when the scan
 *         of @mm reached its end (or could not start).
 */
static uint64_t khugepaged_scan_mm(struct umm_mm *mm, uint64_t budget, bool *done)
{
	uint64_t addr = mm->khugepaged_addr, progress = 0;
	struct vm_area_struct *vma;

	*done = true;
	if (!mmap_read_trylock(mm))
		return 1;
	for (; (vma = find_vma(mm, addr)); addr = vma->vm_end) {
		uint64_t a = ALIGN_UP(addr > vma->vm_start ? addr : vma->vm_start, HPAGE_PMD_SIZE);

		if (!khugepaged_vma_ok(vma)) {
			progress++;
			continue;
		}
		for (; a + HPAGE_PMD_SIZE <= vma->vm_end; a += HPAGE_PMD_SIZE) {
			if (progress >= budget) {
				mm->khugepaged_addr = a;
				*done = false;
				goto out;
			}
			progress += HPAGE_PMD_NR;
			/* no anon_vma: no page yet, so no table (SCAN_PMD_NULL) */
			if (!smp_load_acquire(&vma->anon_vma) ||
			    khugepaged_scan_pmd(mm, a) != SCAN_SUCCEED)
				continue;
			mmap_read_unlock(mm);
			khugepaged_collapse(mm, a);
			mm->khugepaged_addr = a + HPAGE_PMD_SIZE;
			*done = false;
			return progress;
		}
	}
	mm->khugepaged_addr = 0;
out:
	mmap_read_unlock(mm);
	return progress ? progress : 1;
}

/*
 * One wake's work: pages_to_scan pages, passing the list's head at most
 * once more than it starts there (the kernel's pass_through_head < 2).
 * Locking: takes khugepaged.lock, dropped around each mm's scan.
 */
static void khugepaged_do_scan(void)
{
	uint64_t progress = 0;
	int heads = 0;

	pthread_mutex_lock(&khugepaged.lock);
	while (progress < khugepaged.pages_to_scan && !khugepaged.stop &&
	       !khugepaged.forking && !list_empty(&khugepaged.mms)) {
		struct umm_mm *mm = khugepaged.cursor;
		bool done;

		if (!mm) {
			if (++heads >= 2)
				break;
			mm = list_first_entry(&khugepaged.mms, struct umm_mm, khugepaged_node);
		}
		khugepaged.scanning = mm;
		pthread_mutex_unlock(&khugepaged.lock);
		progress += khugepaged_scan_mm(mm, khugepaged.pages_to_scan - progress, &done);
		pthread_mutex_lock(&khugepaged.lock);
		/* still listed: khugepaged_exit moves the cursor off a leaving mm */
		if (mm->khugepaged_node.next) {
			khugepaged.cursor = mm;
			if (done) {
				khugepaged.cursor = mm->khugepaged_node.next == &khugepaged.mms ? NULL :
					list_entry(mm->khugepaged_node.next, struct umm_mm,
						   khugepaged_node);
				if (!khugepaged.cursor)
					__atomic_fetch_add(&khugepaged.full_scans, 1, __ATOMIC_RELAXED);
			}
		}
		khugepaged.scanning = NULL;
		pthread_cond_broadcast(&khugepaged.done);
	}
	pthread_mutex_unlock(&khugepaged.lock);
}

/* The thread. Locking: takes khugepaged.lock, never across a scan. */
static void *khugepaged_main(void *arg)
{
	(void)arg;
	/* the kernel's khugepaged runs at nice 19 */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&khugepaged.lock);
	while (!khugepaged.stop) {
		struct timespec until;
		uint64_t ns;

		if (list_empty(&khugepaged.mms)) {
			pthread_cond_wait(&khugepaged.wake, &khugepaged.lock);
			continue;
		}
		pthread_mutex_unlock(&khugepaged.lock);
		khugepaged_do_scan();
		pthread_mutex_lock(&khugepaged.lock);
		clock_gettime(CLOCK_MONOTONIC, &until);
		ns = (uint64_t)until.tv_nsec + khugepaged.sleep_ms * 1000000ull;
		until.tv_sec += (time_t)(ns / 1000000000ull);
		until.tv_nsec = (long)(ns % 1000000000ull);
		while (!khugepaged.stop &&
		       pthread_cond_timedwait(&khugepaged.wake, &khugepaged.lock, &until) == 0)
			;	/* only stop or the timeout ends a sleep, as the kernel's */
	}
	WRITE_ONCE(khugepaged.running, false);
	pthread_cond_broadcast(&khugepaged.done);
	pthread_mutex_unlock(&khugepaged.lock);
	return NULL;
}

/* At exit: stop the thread and wait for it. Locking: no lock of umm held. */
static void khugepaged_stop(void)
{
	pthread_mutex_lock(&khugepaged.lock);
	khugepaged.stop = true;
	pthread_cond_broadcast(&khugepaged.wake);
	while (khugepaged.running)
		pthread_cond_wait(&khugepaged.done, &khugepaged.lock);
	pthread_mutex_unlock(&khugepaged.lock);
}

/* Locking: khugepaged.lock held, or the thread not started yet. */
static void khugepaged_cond_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&khugepaged.wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&khugepaged.done, NULL);
}

/*
 * A host fork(): the thread must not be in an mm then, or the child
 * inherits whatever lock it held there (mmap_lock, a PTE lock) with no
 * thread to drop it. Prepare waits until it is out and keeps it out; the
 * child has no thread until an mm joins or asks again (khugepaged_enter).
 * Locking: prepare takes khugepaged.lock, parent and child drop it.
 */
static void khugepaged_atfork_prepare(void)
{
	pthread_mutex_lock(&khugepaged.lock);
	khugepaged.forking = true;
	while (khugepaged.scanning)
		pthread_cond_wait(&khugepaged.done, &khugepaged.lock);
}

static void khugepaged_atfork_parent(void)
{
	khugepaged.forking = false;
	pthread_mutex_unlock(&khugepaged.lock);
}

static void khugepaged_atfork_child(void)
{
	khugepaged.forking = false;
	WRITE_ONCE(khugepaged.running, false);
	khugepaged.scanning = NULL;
	khugepaged_cond_init();
	pthread_mutex_unlock(&khugepaged.lock);
}

/* Locking: khugepaged.lock. */
static void khugepaged_start(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;

	if (khugepaged.running || khugepaged.stop)
		return;
	if (!khugepaged.atexit_set) {
		khugepaged_cond_init();	/* the sleep's clock is CLOCK_MONOTONIC */
		if (atexit(khugepaged_stop) ||
		    pthread_atfork(khugepaged_atfork_prepare, khugepaged_atfork_parent,
				   khugepaged_atfork_child))
			return;
		khugepaged.atexit_set = true;
	}
	/* the program's signals are not for it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!pthread_create(&tid, &attr, khugepaged_main, NULL))
		WRITE_ONCE(khugepaged.running, true);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void khugepaged_enter(struct umm_mm *mm)
{
	if (mm->thp == UMM_THP_NEVER ||
	    (READ_ONCE(khugepaged.configured) && READ_ONCE(khugepaged.disabled)) ||
	    (READ_ONCE(mm->khugepaged_on) && READ_ONCE(khugepaged.running)))
		return;
	pthread_mutex_lock(&khugepaged.lock);
	khugepaged_configure();
	if (!khugepaged.disabled) {
		bool wake = list_empty(&khugepaged.mms);

		if (!mm->khugepaged_node.next) {
			list_add_tail(&mm->khugepaged_node, &khugepaged.mms);
			WRITE_ONCE(mm->khugepaged_on, true);
		}
		khugepaged_start();	/* again in a fork's child */
		if (wake)
			pthread_cond_broadcast(&khugepaged.wake);
	}
	pthread_mutex_unlock(&khugepaged.lock);
}

void khugepaged_exit(struct umm_mm *mm)
{
	if (!READ_ONCE(mm->khugepaged_on))
		return;
	pthread_mutex_lock(&khugepaged.lock);
	if (mm->khugepaged_node.next) {
		if (khugepaged.cursor == mm)
			khugepaged.cursor = mm->khugepaged_node.next == &khugepaged.mms ? NULL :
				list_entry(mm->khugepaged_node.next, struct umm_mm,
					   khugepaged_node);
		list_del(&mm->khugepaged_node);	/* next = NULL: not listed */
	}
	while (khugepaged.scanning == mm)
		pthread_cond_wait(&khugepaged.done, &khugepaged.lock);
	WRITE_ONCE(mm->khugepaged_on, false);
	pthread_mutex_unlock(&khugepaged.lock);
}

void khugepaged_stats(uint64_t *pages_collapsed, uint64_t *full_scans)
{
	*pages_collapsed = __atomic_load_n(&khugepaged.pages_collapsed, __ATOMIC_RELAXED);
	*full_scans = __atomic_load_n(&khugepaged.full_scans, __ATOMIC_RELAXED);
}
