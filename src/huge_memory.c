// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * huge_memory.c - anonymous THPs mapped by PMD leaves: fault, split, zap,
 * mprotect (change_huge_pmd), fork (copy_huge_pmd), mremap (move_huge_pmd).
 *
 * A leaf is only ever changed under its PMD lock. Lockless walkers read it
 * once and set accessed/dirty with a compare-and-swap, so a locked updater
 * that must not lose those bits first makes the leaf non-present with one
 * atomic operation (pmdp_invalidate: PSE stays, so it still reads as a
 * leaf and nobody descends into it) and then writes the new value; a
 * walker that meets the frozen leaf goes to the fault path, which waits on
 * the PMD lock and finds the new entry.
 *
 * Mapcounts follow the kernel's folio: a PMD mapping counts in
 * page[1].entire_mapcount and page[1].large_mapcount, a PTE mapping of one
 * page in that page's mapcount and in large_mapcount (rmap.h). Every
 * mapping holds a reference on the head. Which mapping may write a shared
 * folio in place is the kernel's PageAnonExclusive bit: on the head while
 * PMD-mapped, on each page once split.
 */
#include <errno.h>
#include <umm/umm.h>
#include "huge_memory.h"
#include "mm.h"
#include "rmap.h"
#include "pagewalk.h"
#include "mmu_notifier.h"
#include "filemap.h"

/* ---- deposited PTE tables ---- */

/*
 * The PTE tables deposited for a PMD table's leaves form a stack on the
 * PMD table's own struct page: ->mapping of the PMD table page is the
 * top, ->mapping of each deposited table the next one. A deposited table
 * is never reachable by a walker, so it is freed without a grace period.
 * Locking: the PMD lock of @pmd held.
 */
static struct page *pmd_table_page(pmd_t *pmd)
{
	return virt_to_page((void *)((uint64_t)pmd & PAGE_MASK));
}

static void pgtable_trans_huge_deposit(pmd_t *pmd, pgtable_t table)
{
	struct page *pp = pmd_table_page(pmd);

	lockdep_assert_held(ptlock_ptr(pp));
	table->mapping = pp->mapping;
	pp->mapping = table;
}

static pgtable_t pgtable_trans_huge_withdraw(pmd_t *pmd)
{
	struct page *pp = pmd_table_page(pmd);
	pgtable_t table = pp->mapping;

	lockdep_assert_held(ptlock_ptr(pp));
	VM_BUG_ON(!table);
	pp->mapping = table->mapping;
	table->mapping = NULL;
	return table;
}

/* Anonymous THP leaves have a deposited table; file ones have none. */
static bool pmd_is_anon_thp(pmd_t v)
{
	return pmd_leaf(v) && !(pmd_flags(v) & _PAGE_SPECIAL) && PageAnon(pmd_page(v));
}

static bool pmd_is_file_thp(pmd_t v)
{
	return pmd_leaf(v) && !(pmd_flags(v) & _PAGE_SPECIAL) && !PageAnon(pmd_page(v));
}

/* ---- eligibility ---- */

bool thp_vma_allowable(struct vm_area_struct *vma)
{
	unsigned long f = vma->vm_flags;
	int mode = vma->vm_mm->thp;

	if (vma->vm_file || (f & (VM_SHARED | VM_NOHUGEPAGE | VM_HUGETLB | VM_PFNMAP)))
		return false;
	return mode == UMM_THP_ALWAYS || (mode == UMM_THP_MADVISE && (f & VM_HUGEPAGE));
}

/* Anonymous memory: no page offset to agree with (the rmap index is linear). */
bool thp_vma_suitable(struct vm_area_struct *vma, uint64_t haddr)
{
	return haddr >= vma->vm_start && haddr + HPAGE_PMD_SIZE <= vma->vm_end;
}

/* ---- rmap of a PMD mapping ---- */

/*
 * A new folio, mapped by one PMD of @vma at @haddr, this mapping's own.
 * These three change a PMD mapping's counts. Locking: the PMD lock held.
 */
static void folio_add_new_anon_rmap_pmd(struct page *head, struct vm_area_struct *vma,
					uint64_t haddr)
{
	struct anon_vma *av = smp_load_acquire(&vma->anon_vma);

	head->index = vma->vm_pgoff + ((haddr - vma->vm_start) >> PAGE_SHIFT);
	WRITE_ONCE(head->mapping, (void *)((unsigned long)av | PAGE_MAPPING_ANON));
	set_bit_page(PG_anon_exclusive, head);
	__atomic_store_n(&head[1].entire_mapcount, 1, __ATOMIC_RELAXED);
	/* rmap_walk_anon reads the mapcount with acquire, then mapping and index */
	__atomic_store_n(&head[1].large_mapcount, 1, __ATOMIC_RELEASE);
}

static void folio_dup_rmap_pmd(struct page *head)
{
	__atomic_fetch_add(&head[1].entire_mapcount, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&head[1].large_mapcount, 1, __ATOMIC_RELAXED);
}

/*
 * Whether some page of the folio, mapped by no PMD now, has no PTE either
 * while another has one. Locking: the lock of the leaf that went held.
 */
static bool folio_partially_mapped(struct page *head)
{
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++)
		if (!__atomic_load_n(&head[i].mapcount, __ATOMIC_RELAXED))
			return true;
	return false;
}

void folio_remove_rmap_pmd(struct page *head)
{
	bool last = !__atomic_sub_fetch(&head[1].entire_mapcount, 1, __ATOMIC_RELAXED);

	/* the last leaf gone, pages some PTEs map: partly mapped if not all */
	if (__atomic_sub_fetch(&head[1].large_mapcount, 1, __ATOMIC_RELAXED) && last &&
	    PageAnon(head) && folio_partially_mapped(head))
		deferred_split_folio(head);
}

/* ---- fault ---- */

static pmd_t mk_huge_pmd(struct vm_area_struct *vma, struct page *head)
{
	pte_t pte = pfn_pte(page_to_pfn(head), vm_get_page_prot(vma->vm_flags));

	/* born dirty and young, writable if the VMA is: as the kernel's */
	pte = pte_mkyoung(pte_mkdirty(pte));
	if (vma->vm_flags & VM_WRITE)
		pte = pte_mkwrite(pte);
	return pmd_mkhuge(__pmd(pte_val(pte)));
}

void map_anon_folio_pmd(struct vm_area_struct *vma, pmd_t *pmd, struct page *head,
			pgtable_t table, uint64_t haddr)
{
	VM_BUG_ON(!pmd_none(pmdp_get(pmd)));
	folio_add_new_anon_rmap_pmd(head, vma, haddr);
	mlock_new_folio(head, vma);
	pgtable_trans_huge_deposit(pmd, table);
	mm_set_thp_seen(vma->vm_mm);
	mm_stat_add(vma->vm_mm, MM_ANONPAGES, HPAGE_PMD_NR);
	set_pmd(pmd, mk_huge_pmd(vma, head));
}

/*
 * There is no huge zero page: a read fault allocates the THP too, as the
 * kernel does with transparent_hugepage/use_zero_page off.
 */
vm_fault_t do_huge_pmd_anonymous_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct umm_mm *mm = vma->vm_mm;
	uint64_t haddr = vmf->address & PMD_MASK;
	struct page *head;
	pgtable_t table;
	spinlock_t *ptl;
	vm_fault_t ret;

	if (!thp_vma_suitable(vma, haddr))
		return VM_FAULT_FALLBACK;
	ret = vmf_anon_prepare(vmf);
	if (ret)
		return ret;
	head = alloc_pages(mm->quota, __GFP_COMP, HPAGE_PMD_ORDER);
	if (!head) {
		mm_stat_add(mm, MM_THP_FAULT_FALLBACK, 1);
		return VM_FAULT_FALLBACK;
	}
	table = pte_alloc_one(mm);
	if (!table) {
		put_page(head);
		return VM_FAULT_OOM;
	}
	ptl = pmd_lock(mm, vmf->pmd);
	if (unlikely(!pmd_none(pmdp_get(vmf->pmd)))) {
		spin_unlock(ptl);	/* another fault was first */
		pte_free(mm, table);
		put_page(head);
		return 0;
	}
	map_anon_folio_pmd(vma, vmf->pmd, head, table, haddr);
	spin_unlock(ptl);
	mm_stat_add(mm, MM_THP_FAULT_ALLOC, 1);
	return 0;
}

/*
 * do_set_pmd - map the file folio of the fault's page with one PMD leaf,
 * as a fault finds it in the cache (a shmem THP made by MADV_COLLAPSE):
 * when the VMA takes huge pages (MADV_NOHUGEPAGE says no, the THP mode
 * does not), the leaf's block lies inside the VMA at the folio's own file
 * offset, the folio is still cached, and the fault is not a private write
 * (that copies one page). Like the kernel's, the leaf may reach past the
 * end of the file (a collapse there keeps the pages). The mapping takes
 * over the fault's reference. The cache
 * check under the PMD lock closes the race with truncation, which
 * unmaps again after a folio left the cache, as finish_fault's.
 * Locking: the VMA held; takes the PMD lock.
 * Return: 0 when mapped (or another fault filled the PMD first; the
 *         reference is dropped then), VM_FAULT_FALLBACK with the
 *         reference untouched otherwise.
 */
vm_fault_t do_set_pmd(struct vm_fault *vmf, struct page *page)
{
	struct vm_area_struct *vma = vmf->vma;
	struct address_space *mapping = vma->vm_file->f_mapping;
	struct umm_mm *mm = vma->vm_mm;
	struct page *head = compound_head(page);
	uint64_t haddr = vmf->address & PMD_MASK;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	spinlock_t *ptl;
	pte_t entry;

	if (!PageHead(head) || page_order(head) != HPAGE_PMD_ORDER)
		return VM_FAULT_FALLBACK;
	if ((vma->vm_flags & VM_NOHUGEPAGE) || !thp_vma_suitable(vma, haddr) ||
	    vma->vm_pgoff + ((haddr - vma->vm_start) >> PAGE_SHIFT) != head->index)
		return VM_FAULT_FALLBACK;
	if (write && !(vma->vm_flags & VM_SHARED))
		return VM_FAULT_FALLBACK;
	entry = pte_mkyoung(pfn_pte(page_to_pfn(head), vm_get_page_prot(vma->vm_flags)));
	if (write)
		entry = pte_mkdirty(entry);
	ptl = pmd_lock(mm, vmf->pmd);
	if (!pmd_none(pmdp_get(vmf->pmd))) {
		spin_unlock(ptl);
		if (!pmd_leaf(pmdp_get_lockless(vmf->pmd)))
			return VM_FAULT_FALLBACK;	/* a table: map one page */
		put_page(head);
		return 0;
	}
	if (READ_ONCE(head->mapping) != (void *)mapping) {
		spin_unlock(ptl);
		return VM_FAULT_FALLBACK;	/* left the cache: the PTE path looks again */
	}
	folio_dup_rmap_pmd(head);
	mm_set_thp_seen(mm);
	set_pmd(vmf->pmd, pmd_mkhuge(__pmd(pte_val(entry))));
	spin_unlock(ptl);
	mm_stat_add(mm, MM_THP_FILE_MAPPED, 1);
	return 0;
}

/*
 * May this mapping write the PMD-mapped folio in place? Yes when it is
 * marked as this mapping's own, or when nothing else maps or holds it (the
 * child of a fork that shared it has gone): it then becomes ours again.
 * Locking: the PMD lock held (no new mapping or pin can start).
 */
static bool huge_pmd_reuse(struct page *head)
{
	if (test_bit_page(PG_anon_exclusive, head))
		return true;
	if (folio_mapcount(head) != 1 || page_count(head) != 1)
		return false;
	set_bit_page(PG_anon_exclusive, head);
	return true;
}

vm_fault_t huge_pmd_fault(struct vm_fault *vmf, pmd_t orig)
{
	struct umm_mm *mm = vmf->vma->vm_mm;
	uint64_t bits = _PAGE_ACCESSED;
	spinlock_t *ptl = pmd_lock(mm, vmf->pmd);

	if (unlikely(!pmd_same(pmdp_get(vmf->pmd), orig)))
		goto unlock;	/* split, zapped or changed: the caller looks again */
	if (pmd_is_file_thp(orig)) {
		/* copy-on-write or write-notify happen page by page */
		if ((vmf->flags & FAULT_FLAG_WRITE) && !pmd_write(orig))
			goto split;
		if (vmf->flags & FAULT_FLAG_WRITE)
			bits |= _PAGE_DIRTY | _PAGE_SOFT_DIRTY;
		__atomic_fetch_or(&vmf->pmd->pmd, bits, __ATOMIC_RELEASE);
		goto unlock;
	}
	if (!pmd_is_anon_thp(orig))
		goto unlock;
	/* a read pin of a folio a fork shares: this mm copies its page */
	if ((vmf->flags & FAULT_FLAG_UNSHARE) && !huge_pmd_reuse(pmd_page(orig)))
		goto split;
	if (vmf->flags & FAULT_FLAG_WRITE) {
		if (!pmd_write(orig)) {
			if (!huge_pmd_reuse(pmd_page(orig)))
				goto split;	/* copy-on-write, page by page */
			bits |= _PAGE_RW;
		}
		bits |= _PAGE_DIRTY | _PAGE_SOFT_DIRTY;
	}
	__atomic_fetch_or(&vmf->pmd->pmd, bits, __ATOMIC_RELEASE);
unlock:
	spin_unlock(ptl);
	return 0;
split:
	spin_unlock(ptl);
	split_huge_pmd(mm, vmf->pmd, vmf->address);
	return VM_FAULT_FALLBACK;
}

uint64_t huge_pmd_set_access(pmd_t *pmd, bool write)
{
	uint64_t want = _PAGE_ACCESSED | (write ? _PAGE_DIRTY | _PAGE_SOFT_DIRTY : 0);

	for (;;) {
		uint64_t v = pmd_val(pmdp_get_lockless(pmd));

		if ((v & (_PAGE_PSE | _PAGE_PRESENT)) != (_PAGE_PSE | _PAGE_PRESENT))
			return 0;	/* a table, none, PROT_NONE, or frozen */
		if (write ? !(v & _PAGE_RW) : (v & _PAGE_NOREAD))
			return 0;
		if ((v & want) == want || cmpxchg_bool(&pmd->pmd, v, v | want))
			return v | want;
	}
}

/* ---- split ---- */

/*
 * The leaf becomes its deposited table: 512 entries with the leaf's
 * rights and bits, one PTE mapping (and one head reference) per page
 * instead of the PMD's. The frames do not change, so no translation a
 * walker cached goes stale. Locking: the PMD lock held.
 */
static void __split_huge_pmd_locked(struct umm_mm *mm, pmd_t *pmd)
{
	pgtable_t table = pgtable_trans_huge_withdraw(pmd);
	pte_t *pte = page_address(table);
	uint64_t old = pmdp_invalidate(pmd);
	uint64_t flags = (old & PTE_FLAGS_MASK) & ~_PAGE_PSE;
	uint64_t pfn = pmd_pfn(__pmd(old));
	struct page *head = pfn_to_page(pfn);
	bool exclusive = test_bit_page(PG_anon_exclusive, head);

	VM_BUG_ON(folio_entire_mapcount(head) < 1);
	/* the leaf's dirty bit goes to the folio too, as the kernel's split */
	if (old & _PAGE_DIRTY)
		set_bit_page(PG_dirty, head);
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		if (exclusive && i)
			set_bit_page(PG_anon_exclusive, head + i);
		__atomic_fetch_add(&head[i].mapcount, 1, __ATOMIC_RELAXED);
		set_pte(pte + i, __pte(((pfn + i) << PAGE_SHIFT) | flags));
	}
	__atomic_fetch_add(&head[1].large_mapcount, HPAGE_PMD_NR - 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&head[1].entire_mapcount, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&head->refcount, HPAGE_PMD_NR - 1, __ATOMIC_RELAXED);
	pmd_populate(mm, pmd, table);	/* release: the entries are seen whole */
	mm_stat_add(mm, MM_THP_SPLIT_PMD, 1);
}

/*
 * A file leaf is not split but dropped, as the kernel does: its pages are
 * in the cache and fault back in one by one. The folio's reference goes
 * once no TLB can translate through the leaf.
 * Locking: takes the PMD lock; calls mmu notifiers (for a file leaf) and
 * flushes TLBs outside it, so no spinlock may be held.
 */
void split_huge_pmd(struct umm_mm *mm, pmd_t *pmd, uint64_t addr)
{
	uint64_t haddr = addr & PMD_MASK;
	bool notified = false;
	struct page *head = NULL;
	spinlock_t *ptl;
	pmd_t v;

again:
	ptl = pmd_lock(mm, pmd);
	v = pmdp_get(pmd);
	if (pmd_is_file_thp(v) && !notified) {
		/*
		 * A file leaf goes: secondary MMUs must drop it first (a
		 * fault's split too). An anonymous split keeps every frame.
		 */
		spin_unlock(ptl);
		mmu_notifier_invalidate_range_start(mm, haddr, haddr + HPAGE_PMD_SIZE);
		notified = true;
		goto again;
	}
	if (pmd_is_anon_thp(v)) {
		__split_huge_pmd_locked(mm, pmd);
	} else if (pmd_is_file_thp(v)) {
		pmdp_get_and_clear(pmd);
		head = pmd_page(v);
		folio_remove_rmap_pmd(head);
		mm_stat_add(mm, MM_THP_SPLIT_PMD, 1);
	}
	spin_unlock(ptl);
	if (head) {
		flush_tlb_mm_range(mm, haddr, haddr + HPAGE_PMD_SIZE);
		put_page(head);
	}
	if (notified)
		mmu_notifier_invalidate_range_end(mm, haddr, haddr + HPAGE_PMD_SIZE);
}

void split_huge_pmd_address(struct umm_mm *mm, uint64_t addr)
{
	pmd_t *pmd;

	mmap_assert_write_locked(mm);
	if (!(addr & ~PMD_MASK))
		return;		/* a boundary on a PMD edge cuts no leaf */
	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	rcu_read_unlock();	/* mmap_lock (write) keeps the tables */
	if (pmd && pmd_leaf(pmdp_get_lockless(pmd)))
		split_huge_pmd(mm, pmd, addr);
}

/* ---- folio split ---- */

/*
 * folio_ref_freeze - take the folio's references from @expected to 0 in
 * one step, as the kernel's, so that a lockless get_page_unless_zero()
 * (the deferred split queue's) fails until __split_folio() stores the
 * small pages' counts; a reference taken before makes the count differ
 * and the split wait. Acquire: pairs with the release of the last
 * reference dropped by an unmap or unpin, so that its counts are seen
 * before they are rewritten.
 */
static bool folio_ref_freeze(struct page *head, int expected)
{
	return __atomic_compare_exchange_n(&head->refcount, &expected, 0, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/*
 * Make the large folio @head 512 small pages. Each keeps its own
 * mappings, as many references as it has mappings (the head also the
 * caller's @extra), the folio's anon rmap and flags; the pages nothing
 * maps go back to the allocator. The folio left the deferred split queue.
 * Locking: the caller made sure nobody can map, unmap or reference the
 * folio meanwhile (split_folio_in_table, split_anon_folio) and froze its
 * references (folio_ref_freeze).
 */
static void __split_folio(struct page *head, int extra)
{
	const unsigned long keep = (1UL << PG_dirty) | (1UL << PG_lazyfree) |
				   (1UL << PG_uptodate) | (1UL << PG_mlocked);
	unsigned long flags = READ_ONCE(head->flags) & keep;
	/* the head keeps the mlock_count, the other pages count 0, as the kernel's */
	unsigned long count = READ_ONCE(head->flags) & PG_MLOCK_COUNT_MASK;
	void *mapping = head->mapping;
	struct frame_quota *quota = head->quota;
	uint64_t index = head->index;

	for (unsigned int i = HPAGE_PMD_NR - 1; i >= 1; i--) {
		struct page *p = head + i;

		p->index = index + i;
		p->quota = quota;
		WRITE_ONCE(p->mapping, mapping);
		WRITE_ONCE(p->flags, flags);
		/* one reference per mapping, as every small page */
		__atomic_store_n(&p->refcount, __atomic_load_n(&p->mapcount, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		if (i == 1) {	/* the folio's counts lived here */
			p->entire_mapcount = 0;
			p->large_mapcount = 0;
			p->private = 0;		/* pincount */
		}
		/* last: a reader that finds the page its own head sees it whole */
		__atomic_store_n(&p->compound_head, 0, __ATOMIC_RELEASE);
	}
	WRITE_ONCE(head->flags, flags | count);		/* no PG_head, order 0 */
	/* the caller's own references stay on the page it names, the head */
	__atomic_store_n(&head->refcount,
			 __atomic_load_n(&head->mapcount, __ATOMIC_RELAXED) + extra,
			 __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		struct page *p = head + i;

		if (page_count(p))
			continue;
		__atomic_store_n(&p->refcount, 1, __ATOMIC_RELAXED);
		put_page(p);	/* unmapped: freed, one frame uncharged */
	}
}

int folio_maps_in_table(pte_t *ptep, struct page *head)
{
	pte_t *table = (pte_t *)((uint64_t)ptep & PAGE_MASK);
	uint64_t first = page_to_pfn(head);
	int seen = 0;

	for (unsigned int i = 0; i < PTRS_PER_PTE; i++) {
		pte_t v = ptep_get(table + i);

		if (pte_present(v) && !pte_special(v) && pte_pfn(v) - first < HPAGE_PMD_NR)
			seen++;
	}
	return seen;
}

/*
 * Whether every entry of the PTE table holding @ptep that maps a page of
 * the anonymous THP @head is all there is of it: every mapping, every
 * reference, nothing pinned, no leaf. Then @head may be split under that
 * table's lock alone. Locking: that lock held.
 */
static bool split_folio_in_table(struct umm_mm *mm, pte_t *ptep, struct page *head)
{
	int maps = folio_mapcount(head);

	if (!PageHead(head) || page_order(head) != HPAGE_PMD_ORDER || !PageAnon(head))
		return false;
	if (maps > (int)PTRS_PER_PTE)
		return false;	/* more mappings than one table holds: no scan */
	if (folio_entire_mapcount(head) || page_maybe_dma_pinned(head))
		return false;	/* PMD-mapped, or pinned */
	if (folio_maps_in_table(ptep, head) != maps)
		return false;	/* mapped elsewhere too */
	if (!folio_ref_freeze(head, maps))
		return false;	/* held by someone */
	folio_unqueue_deferred_split(head);
	__split_folio(head, 0);
	mm_stat_add(mm, MM_THP_SPLIT_PAGE, 1);
	return true;
}

bool split_file_folio(struct address_space *mapping, struct page *head, int refs)
{
	const unsigned long keep = (1UL << PG_dirty) | (1UL << PG_uptodate) |
				   (1UL << PG_mlocked);
	unsigned long flags = READ_ONCE(head->flags) & keep;
	unsigned long count = READ_ONCE(head->flags) & PG_MLOCK_COUNT_MASK;
	int expected = refs;

	if (!PageHead(head) || page_order(head) != HPAGE_PMD_ORDER ||
	    folio_mapcount(head) || page_maybe_dma_pinned(head))
		return false;
	/* a mapping holds a reference: an exact count means none came since */
	if (!__atomic_compare_exchange_n(&head->refcount, &expected, 0, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	for (unsigned int i = HPAGE_PMD_NR - 1; i >= 1; i--) {
		struct page *p = head + i;

		p->quota = head->quota;
		WRITE_ONCE(p->flags, flags);
		__atomic_store_n(&p->refcount, 1, __ATOMIC_RELAXED);	/* its slot's */
		if (i == 1) {
			p->entire_mapcount = 0;
			p->large_mapcount = 0;
			p->private = 0;		/* pincount */
		}
		__atomic_store_n(&p->compound_head, 0, __ATOMIC_RELEASE);
		/* its slot names it now (a store in place: no memory needed) */
		xa_store(&mapping->i_pages, p->index, p, NULL);
	}
	WRITE_ONCE(head->flags, flags | count);
	/* its slot's and the caller's; release: the pages are seen whole */
	__atomic_store_n(&head->refcount, refs - HPAGE_PMD_NR + 1, __ATOMIC_RELEASE);
	return true;
}

/* ---- zero-filled pages of a split folio ---- */

/* Whether the frame at @addr holds nothing but zeroes. */
static bool frame_is_zero(const uint64_t *w)
{
	for (unsigned int i = 0; i < PAGE_SIZE / sizeof(*w); i += 8) {
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] |
		    w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	}
	return true;
}

#define ZERO_SCAN_WORDS	(PTRS_PER_PTE / 64)

/*
 * The entries of one table frozen for a look at their pages: which, and
 * which of them were PROT_NONE (what freezing took away, to put back).
 */
struct zero_scan {
	struct umm_mm *mm;
	pte_t *tbl;			/* the table's first entry */
	uint64_t base;			/* the address it maps first */
	struct vm_area_struct *vma;	/* the VMA of the last entry seen */
	/* with no mmap_lock (a split through rmap): the VMAs it found */
	struct vm_area_struct *const *vmas;
	int nr_vmas;
	unsigned int first, last;	/* the first and last entry frozen */
	uint64_t frozen[ZERO_SCAN_WORDS];
	uint64_t protnone[ZERO_SCAN_WORDS];
	int freed;
};

/*
 * The VMA entry @i of the table maps into: looked up under mmap_lock, or
 * one of those an rmap walk found (an entry of another VMA is left alone).
 * Locking: mmap_lock held, or the anon_vma lock that keeps @zs->vmas.
 */
static struct vm_area_struct *zero_scan_vma(struct zero_scan *zs, unsigned int i)
{
	uint64_t addr = zs->base + ((uint64_t)i << PAGE_SHIFT);
	struct vm_area_struct *vma = zs->vma;

	if (vma && addr >= vma->vm_start && addr < vma->vm_end)
		return vma;
	if (!zs->vmas)
		return zs->vma = vma_lookup(zs->mm, addr);
	for (int k = 0; k < zs->nr_vmas; k++) {
		vma = zs->vmas[k];
		if (vma->vm_mm == zs->mm && addr >= vma->vm_start && addr < vma->vm_end)
			return zs->vma = vma;
	}
	return NULL;
}

static bool zero_scan_test(const uint64_t *bits, unsigned int i)
{
	return bits[i / 64] & (1ULL << (i % 64));
}

/*
 * Take the present bits of entry @i away, as pmdp_invalidate does a
 * leaf's: no walker uses it from now on, and one that set accessed or
 * dirty meanwhile sees its compare-and-swap fail; but it is no hole. A
 * fault that reads it waits for the PTE lock and finds what was put back
 * (the kernel's split leaves a migration entry, which a fault waits on),
 * where a cleared entry sent it to allocate a page for memory that stays
 * mapped - and at the mm's frame limit, to fail. The rest of the entry
 * stays as it was, so it can be put back.
 * Locking: the table's PTE lock held (the entry is put back before it goes).
 */
static void zero_scan_freeze(struct zero_scan *zs, unsigned int i)
{
	uint64_t old = __atomic_fetch_and(&zs->tbl[i].pte, ~(_PAGE_PRESENT | _PAGE_PROTNONE),
					  __ATOMIC_SEQ_CST);

	zs->frozen[i / 64] |= 1ULL << (i % 64);
	if (!(old & _PAGE_PRESENT))
		zs->protnone[i / 64] |= 1ULL << (i % 64);
	if (zs->first > i)
		zs->first = i;
	zs->last = i;
}

/*
 * The frozen entry @i after the flush, with no translation left through
 * which a write could land: a page that holds only zeroes is replaced by
 * the zero page and freed (the entry keeps its soft-dirty bit), one that
 * holds data gets its entry back as it was. Locking: the PTE lock held.
 */
static void zero_scan_settle(struct zero_scan *zs, unsigned int i)
{
	pte_t *pte = zs->tbl + i;
	uint64_t v = pte_val(ptep_get(pte));
	struct page *page = pfn_to_page(pte_pfn(__pte(v)));
	pte_t zero;

	if (!frame_is_zero(page_address(page))) {
		set_pte(pte, __pte(v | (zero_scan_test(zs->protnone, i) ?
					_PAGE_PROTNONE : _PAGE_PRESENT)));
		return;
	}
	zero = mk_zero_pte(zero_scan_vma(zs, i));
	set_pte(pte, __pte(pte_val(zero) | (v & _PAGE_SOFT_DIRTY)));
	page_remove_rmap_pte(page);
	mm_stat_add(zs->mm, MM_ANONPAGES, -1);
	put_page(page);		/* the last reference: no TLB has it */
	zs->freed++;
}

/*
 * The pages of the folio just split from pfn @first that hold nothing but
 * zeroes are unmapped and freed, their entries pointing at the zero page,
 * as the kernel's split of an anonymous folio does (since 6.12): a THP
 * mostly never written does not keep its untouched pages resident once
 * split. Not in an mlocked VMA or an mm without a zero page, and not a
 * page anything but its one mapping holds (a pin taken since the split).
 * The entries are all frozen, then flushed at once, before any page is
 * read, so a write through a cached translation lands before the check
 * or faults after it, and the fault waits for the entry to come back.
 * @zs names the table, and the VMAs it finds entries in (zero_scan_vma).
 * Locking: the lock of the table held, and mmap_lock or the anon_vma lock
 *          of the folio; the notifiers were told about the table's range.
 * Return: pages freed.
 */
static int remap_zero_table(struct zero_scan zs, uint64_t first)
{
	if (zs.mm->flags & UMM_NO_ZERO_PAGE)
		return 0;
	for (unsigned int i = 0; i < PTRS_PER_PTE; i++) {
		pte_t v = ptep_get(zs.tbl + i);
		struct vm_area_struct *vma;
		struct page *page;

		if (!pte_present(v) || pte_special(v) || pte_pfn(v) - first >= HPAGE_PMD_NR)
			continue;
		page = pfn_to_page(pte_pfn(v));
		vma = zero_scan_vma(&zs, i);
		if (!vma || (vma->vm_flags & VM_LOCKED) ||
		    page_count(page) != 1 || page_mapcount(page) != 1)
			continue;
		zero_scan_freeze(&zs, i);
	}
	if (zs.first == PTRS_PER_PTE)
		return 0;
	flush_tlb_mm_range(zs.mm, zs.base + ((uint64_t)zs.first << PAGE_SHIFT),
			   zs.base + ((uint64_t)(zs.last + 1) << PAGE_SHIFT));
	for (unsigned int i = zs.first; i <= zs.last; i++)
		if (zero_scan_test(zs.frozen, i))
			zero_scan_settle(&zs, i);
	return zs.freed;
}

/* remap_zero_table for the table holding @ptep. Locking: its lock, mmap_lock. */
static int remap_zero_subpages(struct mm_walk *walk, pte_t *ptep, uint64_t addr,
			       uint64_t first)
{
	struct zero_scan zs = {
		.mm = walk->mm,
		.tbl = ptep - pte_index(addr),
		.base = addr & PMD_MASK,
		.vma = walk->vma,
		.first = PTRS_PER_PTE,
	};

	mmap_assert_locked(walk->mm);
	return remap_zero_table(zs, first);
}

int split_folio_pte(struct mm_walk *walk, pte_t *ptep, uint64_t addr, struct page *head)
{
	struct change_walk *cw = walk->private;
	uint64_t first = page_to_pfn(head);

	VM_BUG_ON(!cw->whole_blocks || cw->nstart > (addr & PMD_MASK) ||
		  cw->nend < (addr & PMD_MASK) + PMD_SIZE);
	if (!split_folio_in_table(walk->mm, ptep, head))
		return -1;
	return remap_zero_subpages(walk, ptep, addr, first);
}

/* ---- split through rmap ---- */

/*
 * How many VMAs and PTE tables a folio split through rmap handles: more
 * (a folio a long line of forks shares) and it stays whole.
 */
#define SPLIT_MAX_VMAS		16
#define SPLIT_MAX_TABLES	16
#define SPLIT_MAX_TRIES		64

struct split_table {
	struct umm_mm *mm;
	pmd_t *pmd;
	pmd_t pmdval;		/* the table it named when found */
	uint64_t base;		/* the address of its first entry */
};

struct split_rmap {
	struct page *head;
	struct umm_mm *only_mm;	/* refuse a folio another mm maps */
	uint64_t first;		/* the folio's anon index */
	struct vm_area_struct *vmas[SPLIT_MAX_VMAS];
	uint64_t start[SPLIT_MAX_VMAS], end[SPLIT_MAX_VMAS];	/* what it maps there */
	int nr_vmas;
	struct split_table t[SPLIT_MAX_TABLES];
	int nr_tables;
	bool overflow;
};

/* Each VMA that may map a page of the folio, and where. Locking: the anon_vma's. */
static int split_rmap_one(struct itree_node *n, void *arg)
{
	struct anon_vma_chain *avc = container_of(n, struct anon_vma_chain, rb);
	struct vm_area_struct *vma = avc->vma;
	struct split_rmap *s = arg;
	uint64_t pgoff = vma->vm_pgoff;
	uint64_t lo = s->first > pgoff ? s->first : pgoff;
	uint64_t hi = vma->vm_pgoff + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);

	if (hi > s->first + HPAGE_PMD_NR)
		hi = s->first + HPAGE_PMD_NR;
	if (lo >= hi)
		return 0;
	if (s->nr_vmas == SPLIT_MAX_VMAS) {
		s->overflow = true;
		return 1;
	}
	s->vmas[s->nr_vmas] = vma;
	s->start[s->nr_vmas] = vma->vm_start + ((lo - pgoff) << PAGE_SHIFT);
	s->end[s->nr_vmas] = vma->vm_start + ((hi - pgoff) << PAGE_SHIFT);
	s->nr_vmas++;
	return 0;
}

/*
 * The PTE table mapping @addr of @mm, noted once; a PMD leaf of the folio
 * there is split first, as try_to_migrate's TTU_SPLIT_HUGE_PMD, but not
 * another mm's when only @s->only_mm's may be (madvise's split): that
 * folio is shared, and stays whole with its leaf.
 * Locking: RCU and the anon_vma lock (which keep the upper tables) held.
 * Return: false when there are more tables than room, or the folio is
 *         shared with an mm that must not be touched.
 */
static bool split_note_table(struct split_rmap *s, struct umm_mm *mm, uint64_t addr)
{
	pmd_t *pmd = pmd_off_lockless(mm, addr);
	pmd_t v;

	if (!pmd)
		return true;
	v = pmdp_get_lockless(pmd);
	if (pmd_leaf(v) && pmd_pfn(v) == page_to_pfn(s->head)) {
		if (s->only_mm && mm != s->only_mm)
			return false;
		split_huge_pmd(mm, pmd, addr);
		v = pmdp_get_lockless(pmd);
	}
	if (pmd_none(v) || pmd_leaf(v))
		return true;	/* nothing of ours, or not ours: the count tells */
	for (int i = 0; i < s->nr_tables; i++)
		if (s->t[i].pmd == pmd)
			return true;
	if (s->nr_tables == SPLIT_MAX_TABLES)
		return false;
	s->t[s->nr_tables++] = (struct split_table){ mm, pmd, v, addr & PMD_MASK };
	return true;
}

/*
 * The locks of the tables as found, not as the PMD entries name them now:
 * a table that changed after its lock was taken is let go too.
 */
static void split_unlock_tables(struct split_rmap *s, int nr)
{
	while (nr--)
		spin_unlock(ptlock_ptr(pmd_page(s->t[nr].pmdval)));
}

/*
 * Lock every table noted: all but by trylock, as the tables of several
 * mms have no order among themselves; one that is busy, or names another
 * table by now, lets all go for another try. The PMD entry is read before
 * its lock is used: the table it names lives until the RCU section ends.
 * Locking: RCU and the anon_vma lock held.
 */
static bool split_lock_tables(struct split_rmap *s)
{
	for (int i = 0; i < s->nr_tables; i++) {
		struct split_table *t = &s->t[i];
		spinlock_t *ptl;

		if (pmd_val(pmdp_get_lockless(t->pmd)) != pmd_val(t->pmdval)) {
			split_unlock_tables(s, i);
			return false;
		}
		ptl = ptlock_ptr(pmd_page(t->pmdval));
		if (!spin_trylock(ptl)) {
			split_unlock_tables(s, i);
			return false;
		}
		if (pmd_val(pmdp_get(t->pmd)) != pmd_val(t->pmdval)) {
			split_unlock_tables(s, i + 1);
			return false;
		}
	}
	return true;
}

/*
 * With every table locked: are the entries there all the folio's
 * mappings, and those mappings (and @extra) all its references? Then no
 * mapping, unmapping or pin can start until the locks go, the software
 * TLB and populate read entries only, and the references are frozen
 * against the one lockless taker (the deferred split queue's), so the
 * folio may be rewritten as small pages.
 * Locking: every table of @s locked.
 */
static bool split_rmap_frozen(struct split_rmap *s, int extra, int *unmapped)
{
	struct page *head = s->head;
	int maps = folio_mapcount(head), seen = 0;

	if (!PageHead(head) || page_order(head) != HPAGE_PMD_ORDER ||
	    folio_entire_mapcount(head) || page_maybe_dma_pinned(head))
		return false;
	for (int i = 0; i < s->nr_tables; i++) {
		int n = folio_maps_in_table(pmd_pgtable_vaddr(s->t[i].pmdval), head);

		if (n && s->only_mm && s->t[i].mm != s->only_mm)
			return false;	/* shared with another mm */
		seen += n;
	}
	if (seen != maps)
		return false;	/* a mapping the walk did not find: not now */
	if (!folio_ref_freeze(head, maps + extra))
		return false;	/* held by someone */
	*unmapped = 0;
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++)
		*unmapped += !__atomic_load_n(&head[i].mapcount, __ATOMIC_RELAXED);
	return true;
}

/* The zero-filled pages of every table given back. Locking: all locked. */
static int split_rmap_zero(struct split_rmap *s, uint64_t first)
{
	int freed = 0;

	for (int i = 0; i < s->nr_tables; i++) {
		struct zero_scan zs = {
			.mm = s->t[i].mm,
			.tbl = pmd_pgtable_vaddr(s->t[i].pmdval),
			.base = s->t[i].base,
			.vmas = s->vmas,
			.nr_vmas = s->nr_vmas,
			.first = PTRS_PER_PTE,
		};

		freed += remap_zero_table(zs, first);
	}
	return freed;
}

/*
 * Tell the notifiers of every mm the walk found about the folio's 2 MiB
 * blocks there: before the first try (@begin) and after the last.
 * Locking: the anon_vma lock held (the VMAs of @s stay), no table lock,
 * as the kernel's rmap walkers call notifiers under i_mmap/anon_vma locks.
 */
static void split_rmap_notify(struct split_rmap *s, bool begin)
{
	for (int i = 0; i < s->nr_vmas; i++) {
		struct umm_mm *mm = s->vmas[i]->vm_mm;
		uint64_t start = s->start[i] & PMD_MASK;
		uint64_t end = ALIGN_UP(s->end[i], PMD_SIZE);

		if (begin)
			mmu_notifier_invalidate_range_start(mm, start, end);
		else
			mmu_notifier_invalidate_range_end(mm, start, end);
	}
}

/*
 * One try: find the tables, lock them all, split if the folio is all
 * there. Return: 1 split, 0 refused, -EAGAIN a table busy or changed.
 * Locking: the anon_vma lock held; takes RCU and the tables' locks.
 */
static int split_rmap_try(struct split_rmap *s, int extra, uint64_t *freed)
{
	uint64_t first = page_to_pfn(s->head);
	int unmapped, ret = 0;

	rcu_read_lock();
	s->nr_tables = 0;
	for (int i = 0; i < s->nr_vmas; i++) {
		struct umm_mm *mm = s->vmas[i]->vm_mm;

		for (uint64_t a = s->start[i]; a < s->end[i]; a = (a & PMD_MASK) + PMD_SIZE) {
			if (!split_note_table(s, mm, a))
				goto out;
		}
	}
	if (!split_lock_tables(s)) {
		ret = -EAGAIN;
		goto out;
	}
	if (split_rmap_frozen(s, extra, &unmapped)) {
		folio_unqueue_deferred_split(s->head);
		__split_folio(s->head, extra);
		*freed = (uint64_t)unmapped + (uint64_t)split_rmap_zero(s, first);
		ret = 1;
	}
	split_unlock_tables(s, s->nr_tables);
out:
	rcu_read_unlock();
	return ret;
}

bool split_anon_folio(struct umm_mm *mm, struct page *head, int extra, bool mm_only,
		      uint64_t *freed)
{
	struct split_rmap s = { .head = head, .only_mm = mm_only ? mm : NULL };
	struct anon_vma *av;
	int ret = -EAGAIN;

	*freed = 0;
	if (!PageHead(head) || page_order(head) != HPAGE_PMD_ORDER || !PageAnon(head) ||
	    page_maybe_dma_pinned(head))
		return false;
	av = folio_lock_anon_vma_read(head);
	if (!av)
		return false;
	s.first = head->index;
	itree_for_each_overlap(&av->rb_root, s.first, s.first + HPAGE_PMD_NR - 1,
			       split_rmap_one, &s);
	if (!s.overflow) {
		split_rmap_notify(&s, true);
		for (int tries = 0; ret == -EAGAIN && tries < SPLIT_MAX_TRIES; tries++) {
			if (tries)
				cpu_relax();
			ret = split_rmap_try(&s, extra, freed);
		}
		split_rmap_notify(&s, false);
	}
	anon_vma_unlock_read_put(av);
	if (ret != 1)
		return false;
	mm_stat_add(mm, MM_THP_SPLIT_PAGE, 1);
	return true;
}

/* ---- the deferred split queue ---- */

/*
 * The anonymous THPs partly mapped, of every mm (the kernel's ds_queue,
 * without memcg): a folio joins when the last mapping of one of its pages
 * goes while others stay, and leaves when it is split or freed.
 */
static struct {
	spinlock_t lock;
	struct list_head list;		/* page[2].deferred_list; lock */
	unsigned long len;		/* lock; read locklessly as a hint (hence written with WRITE_ONCE) */
} ds_queue = { .list = LIST_HEAD_INIT(ds_queue.list) };

static struct list_head *folio_deferred_list(struct page *head)
{
	return &head[2].deferred_list;
}

void deferred_split_folio(struct page *head)
{
	if (test_bit_page(PG_partially_mapped, head))
		return;
	spin_lock(&ds_queue.lock);
	if (!test_bit_page(PG_partially_mapped, head)) {
		set_bit_page(PG_partially_mapped, head);
		list_add_tail(folio_deferred_list(head), &ds_queue.list);
		WRITE_ONCE(ds_queue.len, ds_queue.len + 1);
	}
	spin_unlock(&ds_queue.lock);
}

void folio_unqueue_deferred_split(struct page *head)
{
	if (!test_bit_page(PG_partially_mapped, head))
		return;
	spin_lock(&ds_queue.lock);
	if (test_bit_page(PG_partially_mapped, head)) {
		list_del(folio_deferred_list(head));
		clear_bit_page(PG_partially_mapped, head);
		WRITE_ONCE(ds_queue.len, ds_queue.len - 1);
	}
	spin_unlock(&ds_queue.lock);
}

bool deferred_split_pending(void)
{
	return READ_ONCE(ds_queue.len) != 0;
}

/*
 * The first queued folio charged to @scope (NULL: to any quota) whose last
 * reference is not gone, off the queue and referenced; one being freed is
 * left for the free to take off, one of another quota for its own reclaim.
 * Locking: takes the queue's lock.
 */
static struct page *deferred_split_pop(const struct frame_quota *scope)
{
	struct page *head = NULL;
	unsigned long n;

	spin_lock(&ds_queue.lock);
	for (n = ds_queue.len; n; n--) {
		struct page *p = list_first_entry(&ds_queue.list, struct page,
						  deferred_list) - 2;

		list_del(folio_deferred_list(p));
		if ((!scope || p->quota == scope) && get_page_unless_zero(p)) {
			clear_bit_page(PG_partially_mapped, p);
			WRITE_ONCE(ds_queue.len, ds_queue.len - 1);
			head = p;
			break;
		}
		list_add_tail(folio_deferred_list(p), &ds_queue.list);
	}
	spin_unlock(&ds_queue.lock);
	return head;
}

uint64_t deferred_split_scan(struct umm_mm *mm)
{
	const struct frame_quota *scope = alloc_failed_quota();
	unsigned long budget = READ_ONCE(ds_queue.len);
	uint64_t freed = 0;
	struct page *head;

	while (budget-- && (head = deferred_split_pop(scope))) {
		uint64_t n;

		if (split_anon_folio(mm, head, 1, false, &n)) {
			freed += n;
			mm_stat_add(mm, MM_THP_DEFERRED_SPLIT, 1);
		} else if (folio_mapcount(head)) {
			/* pinned, held or too widely mapped: it waits its turn */
			deferred_split_folio(head);
		}
		put_page(head);
	}
	return freed;
}

bool thp_reclaim_once(struct umm_mm *mm, bool *tried)
{
	if (*tried || !deferred_split_pending())
		return false;
	*tried = true;
	return deferred_split_scan(mm);
}

/* ---- zap ---- */

pgtable_t zap_huge_pmd_locked(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr)
{
	pmd_t old = pmdp_get_and_clear(pmd);
	pgtable_t deposit = NULL;
	struct page *head;

	tlb_flush_pte_range(tlb, addr & PMD_MASK, (addr & PMD_MASK) + HPAGE_PMD_SIZE);
	if (pmd_flags(old) & _PAGE_SPECIAL)
		return NULL;
	head = pmd_page(old);
	if (PageAnon(head)) {
		deposit = pgtable_trans_huge_withdraw(pmd);
		mm_stat_add(tlb->mm, MM_ANONPAGES, -(int64_t)HPAGE_PMD_NR);
	} else if (pmd_flags(old) & _PAGE_DIRTY) {
		folio_mark_dirty_mapped(head);	/* as zap_pte_range's */
	}
	folio_remove_rmap_pmd(head);
	if (tlb->munlock)
		munlock_folio(head);
	/* the mapping's reference, dropped once every TLB let go */
	tlb_remove_page(tlb, head);
	return deposit;
}

bool zap_huge_pmd(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr)
{
	spinlock_t *ptl = pmd_lock(tlb->mm, pmd);
	pgtable_t deposit;

	if (!pmd_leaf(pmdp_get(pmd))) {
		spin_unlock(ptl);
		return false;
	}
	deposit = zap_huge_pmd_locked(tlb, pmd, addr);
	spin_unlock(ptl);
	if (deposit)
		pte_free(tlb->mm, deposit);
	return true;
}

/*
 * discard_huge_pmd - reclaim the anonymous THP @pmd maps, when that leaf
 * is its only mapping and its data need no swap: the lazily freeable
 * folio nobody wrote since MADV_FREE, or any folio of a MAP_DROPPABLE
 * mapping (@droppable). As try_to_unmap_one() discards a PMD-mapped one
 * whole: the leaf is frozen first, so that a write racing with us either
 * set dirty before (the folio stays, an ordinary one again) or faults
 * after; and only the mapping may hold a reference (no pin).
 * Locking: the PMD lock held; the caller frees *@deposit after it.
 * Return: whether the folio went (to @tlb, freed once the flush is done).
 */
bool discard_huge_pmd(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr,
		      bool droppable, pgtable_t *deposit)
{
	uint64_t old = pmdp_invalidate(pmd);
	struct page *head = pmd_page(__pmd(old));

	/* pins, like mappings, come under the PMD lock: the count is stable */
	if (page_count(head) != 1 ||
	    (!droppable && ((old & _PAGE_DIRTY) || test_bit_page(PG_dirty, head)))) {
		set_pmd(pmd, __pmd(old));
		if (!droppable)
			clear_bit_page(PG_lazyfree, head);
		return false;
	}
	*deposit = zap_huge_pmd_locked(tlb, pmd, addr);	/* the frozen leaf */
	return true;
}

/* ---- mprotect ---- */

/* The leaf with @vm_flags' rights, as change_pte_range does an entry. */
static uint64_t huge_pmd_modify(uint64_t v, unsigned long vm_flags)
{
	pte_t pte = __pte(v & ~_PAGE_PSE);
	pte_t new = pte_modify(pte, vm_get_page_prot(vm_flags));

	if (can_change_pte_writable(vm_flags, pte))
		new = pte_mkwrite(new);
	return pte_val(new) | _PAGE_PSE;
}

long change_huge_pmd(struct umm_mm *mm, pmd_t *pmd, unsigned long vm_flags)
{
	spinlock_t *ptl = pmd_lock(mm, pmd);
	uint64_t old = pmd_val(pmdp_get(pmd));
	long ret = 0;

	if (!pmd_leaf(__pmd(old))) {
		ret = -EAGAIN;
	} else if (huge_pmd_modify(old, vm_flags) != old) {
		/* frozen first: a walker's accessed/dirty bit is kept */
		old = pmdp_invalidate(pmd);
		set_pmd(pmd, __pmd(huge_pmd_modify(old, vm_flags)));
		ret = HPAGE_PMD_NR;
	}
	spin_unlock(ptl);
	return ret;
}

/*
 * A PUD leaf with @vm_flags' rights, as the kernel's change_huge_pud
 * (seed 002): frozen first so a walker's accessed/dirty bit is kept; no
 * write-bit optimisation (one write fault per GiB at worst).
 */
long change_huge_pud(struct umm_mm *mm, pud_t *pud, unsigned long vm_flags)
{
	spinlock_t *ptl = pud_lock(mm, pud);
	uint64_t old;
	pte_t pte;

	if (!pud_leaf(pudp_get(pud))) {
		spin_unlock(ptl);
		return -EAGAIN;		/* zapped meanwhile */
	}
	old = __atomic_fetch_and(&pud->pud, ~(_PAGE_PRESENT | _PAGE_PROTNONE),
				 __ATOMIC_SEQ_CST);
	pte = pte_modify(__pte(old & ~_PAGE_PSE), vm_get_page_prot(vm_flags));
	set_pud(pud, __pud(pte_val(pte) | _PAGE_PSE));
	spin_unlock(ptl);
	return HPAGE_PUD_NR;
}

void __split_huge_pud(struct umm_mm *mm, pud_t *pud, uint64_t addr)
{
	uint64_t start = addr & PUD_MASK;

	(void)pud;
	zap_page_range(mm, start, start + PUD_SIZE);
}

/* ---- fork ---- */

int copy_huge_pmd(struct umm_mm *dst, struct umm_mm *src, pmd_t *dst_pmd,
		  pmd_t *src_pmd, uint64_t addr)
{
	pgtable_t table = pte_alloc_one(dst);
	spinlock_t *dst_ptl, *src_ptl;
	struct page *head;
	pmd_t v;

	if (!table)
		return -ENOMEM;
	dst_ptl = pmd_lock(dst, dst_pmd);
	src_ptl = pmd_lock(src, src_pmd);	/* another mm's table: no order */
	v = pmdp_get(src_pmd);
	if (pmd_is_file_thp(v)) {
		/* the child faults file pages in from the cache, as the kernel's */
		spin_unlock(src_ptl);
		spin_unlock(dst_ptl);
		pte_free(dst, table);
		return 0;
	}
	if (!pmd_is_anon_thp(v))
		goto again;
	head = pmd_page(v);
	/*
	 * A pinned folio must stay the parent's alone: split it, and the PTE
	 * copy gives the child its own copies of the pinned pages.
	 */
	if (page_maybe_dma_pinned(head)) {
		spin_unlock(src_ptl);
		spin_unlock(dst_ptl);
		pte_free(dst, table);
		split_huge_pmd(src, src_pmd, addr);
		return -EAGAIN;
	}
	get_page(head);
	folio_dup_rmap_pmd(head);
	mm_set_thp_seen(dst);
	clear_bit_page(PG_anon_exclusive, head);	/* both mms map it now */
	mm_stat_add(dst, MM_ANONPAGES, HPAGE_PMD_NR);
	pgtable_trans_huge_deposit(dst_pmd, table);
	/* both copy on their next write; walkers set bits with CAS */
	__atomic_fetch_and(&src_pmd->pmd, ~_PAGE_RW, __ATOMIC_SEQ_CST);
	v = pmdp_get(src_pmd);
	set_pmd(dst_pmd, __pmd(pmd_val(v) & ~_PAGE_ACCESSED));
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	return 0;
again:
	spin_unlock(src_ptl);
	spin_unlock(dst_ptl);
	pte_free(dst, table);
	return -EAGAIN;
}

/* ---- mremap ---- */

bool move_huge_pmd(struct umm_mm *mm, pmd_t *opmd, pmd_t *npmd)
{
	spinlock_t *optl = pmd_lock(mm, opmd);
	spinlock_t *nptl = pmd_lockptr(mm, npmd);
	bool moved = false;
	pmd_t v;

	if (nptl != optl)
		spin_lock(nptl);
	v = pmdp_get(opmd);
	if (pmd_leaf(v) && pmd_none(pmdp_get(npmd))) {
		v = pmdp_get_and_clear(opmd);
		if (pmd_is_anon_thp(v))
			pgtable_trans_huge_deposit(npmd, pgtable_trans_huge_withdraw(opmd));
		set_pmd(npmd, v);
		moved = true;
	}
	if (nptl != optl)
		spin_unlock(nptl);
	spin_unlock(optl);
	return moved;
}
