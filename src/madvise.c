// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * madvise.c - umm_madvise: advice that changes VMA flags (split and merge
 * as mprotect does), MADV_DONTNEED, which drops pages,
 * MADV_POPULATE_(READ|WRITE), which faults them in (gup.c), and
 * MADV_GUARD_INSTALL/REMOVE, which put and clear guard markers. Advice
 * umm does not implement fails as an unknown one does on Linux (-EINVAL).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "huge_memory.h"
#include "memory.h"
#include "filemap.h"
#include "pagewalk.h"
#include "rmap.h"
#include "uapi_mman.h"

/* Advice umm implements. */
static bool madvise_behavior_valid(int behavior)
{
	switch (behavior) {
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_WILLNEED:
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_COLD:
	case MADV_PAGEOUT:
	case MADV_REMOVE:
	case MADV_DONTNEED_LOCKED:
	case MADV_DONTFORK:
	case MADV_DOFORK:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
	case MADV_COLLAPSE:
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
	case MADV_GUARD_INSTALL:
	case MADV_GUARD_REMOVE:
	case MADV_MERGEABLE:
	case MADV_UNMERGEABLE:
		return true;
	default:
		return false;
	}
}

/*
 * VMAs KSM may merge pages of (vma_ksm_compatible): private memory but
 * for special and droppable mappings. MADV_MERGEABLE of another passes
 * it over without an error.
 */
static bool ksm_compatible(unsigned long vm_flags)
{
	return !(vm_flags & (VM_SHARED | VM_MAYSHARE | VM_PFNMAP | VM_IO | VM_DONTEXPAND |
			     VM_HUGETLB | VM_DROPPABLE));
}

static bool madvise_need_mmap_write(int behavior)
{
	switch (behavior) {
	case MADV_DONTNEED:
	case MADV_WILLNEED:
	case MADV_FREE:
	case MADV_COLD:
	case MADV_PAGEOUT:
	case MADV_REMOVE:
	case MADV_DONTNEED_LOCKED:
	case MADV_GUARD_REMOVE:
		return false;
	default:
		return true;
	}
}

/* The new flags for one VMA, or -EINVAL where the kernel refuses. */
static int madvise_newflags(const struct vma_desc *d, int behavior,
			    unsigned long *out)
{
	unsigned long f = d->flags;

	switch (behavior) {
	case MADV_NORMAL:
		f &= ~(VM_RAND_READ | VM_SEQ_READ);
		break;
	case MADV_SEQUENTIAL:
		f = (f & ~VM_RAND_READ) | VM_SEQ_READ;
		break;
	case MADV_RANDOM:
		f = (f & ~VM_SEQ_READ) | VM_RAND_READ;
		break;
	case MADV_DONTFORK:
		if (f & VM_IO)
			return -EINVAL;
		f |= VM_DONTCOPY;
		break;
	case MADV_DOFORK:
		if (f & VM_IO)
			return -EINVAL;
		f &= ~VM_DONTCOPY;
		break;
	case MADV_WIPEONFORK:
		/* only private anonymous memory can be wiped */
		if (d->file || (f & VM_SHARED))
			return -EINVAL;
		f |= VM_WIPEONFORK;
		break;
	case MADV_KEEPONFORK:
		if (f & VM_DROPPABLE)
			return -EINVAL;
		f &= ~VM_WIPEONFORK;
		break;
	case MADV_DONTDUMP:
		f |= VM_DONTDUMP;
		break;
	case MADV_DODUMP:
		if (f & (VM_IO | VM_PFNMAP | VM_DROPPABLE))
			return -EINVAL;
		f &= ~VM_DONTDUMP;
		break;
	case MADV_HUGEPAGE:
		f = (f & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
		break;
	case MADV_NOHUGEPAGE:
		f = (f & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
		break;
	case MADV_MERGEABLE:
		/* no ksmd: as a host with /sys/kernel/mm/ksm/run 0, the default */
		if (ksm_compatible(f))
			f |= VM_MERGEABLE;
		break;
	case MADV_UNMERGEABLE:
		/* no page was ever merged: nothing to break apart */
		f &= ~VM_MERGEABLE;
		break;
	}
	*out = f;
	return 0;
}

/*
 * Walk the VMAs of [start, end) as madvise_walk_vmas does: apply to each
 * mapped part, remember a hole as -ENOMEM, stop at the first refusal. A
 * split refused at the map count limit, or memory for one, is -EAGAIN, as
 * madvise_vma_behavior() reports it.
 * Locking: mmap_lock held for write.
 */
static int madvise_update_flags(struct umm_mm *mm, uint64_t start, uint64_t end,
				int behavior)
{
	struct vma_plan p;
	int unmapped = 0, ret = 0, err;
	size_t i;

	err = vma_plan_init(&p, mm, start, end, true);
	if (err)
		goto out;
	i = vma_plan_find(&p, start);
	while (start < end) {
		unsigned long newflags;
		uint64_t tmp;

		if (i == p.nr || p.d[i].start >= end) {
			ret = -ENOMEM;
			break;
		}
		if (start < p.d[i].start) {
			unmapped = -ENOMEM;
			start = p.d[i].start;
		}
		tmp = p.d[i].end < end ? p.d[i].end : end;
		if (!can_madvise_modify(p.d[i].flags, !p.d[i].file, behavior)) {
			ret = -EPERM;
			break;
		}
		ret = madvise_newflags(&p.d[i], behavior, &newflags);
		if (ret)
			break;
		if (newflags != p.d[i].flags) {
			/* the kernel's "resources temporarily unavailable" */
			if (vma_plan_modify(&p, start, tmp, newflags)) {
				ret = -EAGAIN;
				break;
			}
			i = vma_plan_find(&p, start);
		}
		start = tmp;
		i++;
	}
	vma_plan_merge(&p);
	err = vma_plan_commit(&p);
out:
	vma_plan_release(&p);
	if (err)
		return err == -ENOMEM ? -EAGAIN : err;
	return ret ? ret : unmapped;
}

/*
 * Do the entries from @pte on map all of the THP @head, in order, within
 * the range the change walk (@walk's private data start with a struct
 * change_walk) is at? The kernel's batch of a large folio's entries
 * (folio_pte_batch, bounded by the range and the table) covering the
 * whole folio: then madvise treats the folio as one, and does not split it.
 * Locking: the PTE lock held (all 512 entries are in its table).
 */
static bool folio_whole_in_range(pte_t *pte, uint64_t addr, struct page *head,
				 struct mm_walk *walk)
{
	struct change_walk *cw = walk->private;
	uint64_t first = page_to_pfn(head);

	if (pte_index(addr) || cw->end - addr < HPAGE_PMD_SIZE)
		return false;
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		pte_t v = ptep_get(&pte[i]);

		if (!pte_present(v) || pte_special(v) || pte_pfn(v) != first + i)
			return false;
	}
	return true;
}

#define SPLIT_LATER_REFUSED	8

/*
 * A THP that advice covers in part, found mapped through more than the
 * table being walked: the walk stops there, and with no table locked
 * split_anon_folio splits it through rmap before the walk resumes at its
 * entry, as the kernel's madvise walks drop the PTE lock to split_folio.
 * One that stays whole is not tried again by this call.
 */
struct split_later {
	struct page *head;		/* referenced */
	uint64_t addr;			/* where the walk resumes */
	struct page *refused[SPLIT_LATER_REFUSED];
	int nr_refused;
};

/*
 * Note @head, which split_folio_pte refused, for a split through rmap.
 * Locking: the PTE lock of @addr's entry held (@head stays mapped).
 * Return: whether the walk should stop for it.
 */
static bool split_later_note(struct split_later *sl, struct page *head, uint64_t addr)
{
	if (!PageAnon(head) || page_maybe_dma_pinned(head) ||
	    sl->nr_refused == SPLIT_LATER_REFUSED)
		return false;
	for (int i = 0; i < sl->nr_refused; i++)
		if (sl->refused[i] == head)
			return false;
	get_page(head);
	sl->head = head;
	sl->addr = addr;
	return true;
}

/*
 * Split the folio noted, unless another mm maps it. Locking: mmap_lock
 * held (read), no page-table lock.
 * Return: whether a walk should resume (at sl->addr).
 */
static bool split_later_run(struct umm_mm *mm, struct split_later *sl)
{
	uint64_t freed;

	if (!sl->head)
		return false;
	if (!split_anon_folio(mm, sl->head, 1, true, &freed))
		sl->refused[sl->nr_refused++] = sl->head;
	put_page(sl->head);
	sl->head = NULL;
	return true;
}

/* MADV_FREE's walk. */
struct free_walk {
	struct change_walk cw;		/* first: the walk's private data */
	uint64_t skip_end;		/* the rest of a THP seen to whole */
	struct split_later later;
};

/*
 * folio_mark_lazyfree - the folio's data may go once its entries are clean:
 * not an mlocked one, which another mm's VM_LOCKED VMA maps (the kernel
 * passes over a folio on the unevictable list); its entries are made
 * clean and old all the same. Locking: the PTE or PMD lock held.
 */
static void folio_mark_lazyfree(struct page *head)
{
	if (!folio_test_mlocked(head))
		set_bit_page(PG_lazyfree, head);
}

/*
 * MADV_FREE of the anonymous THP @head, which the range maps whole from
 * @pte on: left whole, as madvise_free_pte_range leaves a large folio its
 * batch covers (only one the range maps in part is split): its entries
 * clean and old, the folio lazily freeable; a folio marked dirty is
 * cleaned only when these entries are all its mappings (the kernel's
 * folio_mapcount() == folio_nr_pages()), else it is left as it is.
 * Locking: the PTE lock held.
 */
static void free_anon_folio_whole(pte_t *pte, uint64_t addr, struct page *head,
				  struct mm_walk *walk)
{
	if (test_bit_page(PG_dirty, head)) {
		if (folio_mapcount(head) != (int)HPAGE_PMD_NR)
			return;
		clear_bit_page(PG_dirty, head);
	}
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++, pte++, addr += PAGE_SIZE)
		pte_clear_bits(pte, ptep_get(pte), _PAGE_ACCESSED | _PAGE_DIRTY, addr, walk);
	folio_mark_lazyfree(head);
}

/*
 * MADV_FREE of one entry, as madvise_free_pte_range: this mm's entry for
 * an anonymous page is made clean and old and the page marked lazily
 * freeable (its contents may go, unless it is written again first); a
 * page marked dirty itself is cleaned only when mapped here alone.
 * Locking: the PTE lock held (pte_entry).
 */
static int madvise_free_pte(pte_t *pte, uint64_t addr, uint64_t next,
			    struct mm_walk *walk)
{
	struct free_walk *fw = walk->private;
	pte_t v = ptep_get(pte);
	struct page *page;

	(void)next;
	if (!pte_present(v) || pte_special(v) || addr < fw->skip_end)
		return 0;
	page = compound_head(pfn_to_page(pte_pfn(v)));
	if (!PageAnon(page))
		return 0;
	/*
	 * A THP the range maps whole stays whole; one it maps in part is
	 * split (as the kernel's split_folio) and its pages freed one by
	 * one; one mapped elsewhere too is left as it is. The split may
	 * have put the zero page here.
	 */
	if (PageHead(page) && pfn_to_page(pte_pfn(v)) == page &&
	    folio_whole_in_range(pte, addr, page, walk)) {
		fw->skip_end = addr + HPAGE_PMD_SIZE;
		free_anon_folio_whole(pte, addr, page, walk);
		return 0;
	}
	if (PageHead(page)) {
		if (split_folio_pte(walk, pte, addr, page) < 0)
			return split_later_note(&fw->later, page, addr);
		v = ptep_get(pte);
		if (pte_special(v))
			return 0;
		page = pfn_to_page(pte_pfn(v));
	}
	if (test_bit_page(PG_dirty, page)) {
		if (folio_mapcount(page) != 1)
			return 0;
		clear_bit_page(PG_dirty, page);
	}
	pte_clear_bits(pte, v, _PAGE_ACCESSED | _PAGE_DIRTY, addr, walk);
	folio_mark_lazyfree(page);
	return 0;
}

/*
 * A whole THP mapped only here is freed lazily as one; for a range that
 * covers part of it the leaf is split and its PTEs walked, which splits
 * the folio (madvise_free_pte). Locking: no table lock held (pmd_entry);
 * takes the PMD lock.
 */
static int madvise_free_pmd(pmd_t *pmd, uint64_t addr, uint64_t next,
			    struct mm_walk *walk)
{
	struct page *head;
	pmd_t v;
	spinlock_t *ptl = walk_pmd_leaf_lock(pmd, walk, &v);

	if (!ptl)
		return 0;
	if (!pmd_leaf_maps_page(v))
		goto unlock;
	head = pmd_page(v);
	if (!PageAnon(head) || folio_mapcount(head) != 1)
		goto unlock;
	if (next - addr != HPAGE_PMD_SIZE) {
		spin_unlock(ptl);
		split_huge_pmd(walk->mm, pmd, addr);
		walk->action = ACTION_AGAIN;	/* now a table: walk its PTEs */
		return 0;
	}
	clear_bit_page(PG_dirty, head);
	leaf_clear_bits(pmd, v, _PAGE_ACCESSED | _PAGE_DIRTY, addr, next, walk);
	folio_mark_lazyfree(head);
unlock:
	spin_unlock(ptl);
	return 0;
}

/* A write through a translation cached before must set dirty again. */
static const struct mm_walk_ops madvise_free_ops = {
	.pmd_entry = madvise_free_pmd,
	.pte_entry = madvise_free_pte,
	.pre_vma = change_walk_pre_vma,
	.post_vma = change_walk_post_vma,
};

/* ---- MADV_COLD and MADV_PAGEOUT ---- */

/*
 * umm has no LRU and no swap, so of the kernel's cold and pageout walks
 * (madvise_cold_or_pageout_pte_range) what can be seen is this: MADV_COLD
 * makes the entries of pages this mapping alone maps old (smaps'
 * Referenced), and MADV_PAGEOUT reclaims what the host reclaims without
 * swap: the anonymous pages that need none (a lazily freeable page nobody
 * wrote since MADV_FREE, any page of a MAP_DROPPABLE mapping, dirty or
 * not), and small file and shared-memory pages, unmapped and, if clean,
 * dropped from the cache. Other anonymous pages stay as they are, entries
 * young, as the host's, whose pageout ignores references rather than
 * clearing them.
 */
struct cold_walk {
	struct change_walk cw;		/* first: the walk's private data */
	bool pageout;
	bool file_ok;			/* file pages too (file_may_pageout) */
	/*
	 * File pages, each with a reference: after the walk a small page
	 * (unmapped) is evicted if clean, a large folio split.
	 */
	struct page **evict;
	size_t nr_evict, max_evict;
	uint64_t skip_end;		/* the rest of a folio seen to whole */
	struct split_later later;
};

/*
 * Whether pageout may reclaim @head: an anonymous page whose data need no
 * swap, or a small file page (its data are the file's, clean or dirty:
 * it is unmapped, and dropped from the cache if clean); never an mlocked
 * one (the kernel's reclaim puts an unevictable folio back).
 */
static bool pageout_droppable(struct mm_walk *walk, struct page *head)
{
	struct cold_walk *w = walk->private;

	if (folio_test_mlocked(head))
		return false;
	if (!PageAnon(head))
		return w->file_ok;
	return (walk->vma->vm_flags & VM_DROPPABLE) || test_bit_page(PG_lazyfree, head);
}

/*
 * Room for one more page in w->evict. Locking: the table lock held (the
 * heap's own lock is a leaf under it).
 */
static bool evict_reserve(struct cold_walk *w)
{
	size_t n = w->max_evict ? 2 * w->max_evict : 64;
	struct page **e;

	if (w->nr_evict < w->max_evict)
		return true;
	e = realloc(w->evict, n * sizeof(*e));
	if (!e)
		return false;
	w->evict = e;
	w->max_evict = n;
	return true;
}

/*
 * A file page mapped here alone is unmapped, its dirty bit kept in the
 * page, as reclaim's try_to_unmap; with a reference of ours it waits in
 * w->evict for filemap_evict_page, which drops it from the cache when
 * clean (a dirty one stays: without swap, shared memory cannot be written
 * out, and reclaim writes back no file page from madvise).
 * Locking: the PTE lock held.
 */
static void pageout_file_pte(pte_t *pte, uint64_t addr, struct page *page,
			     struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;
	pte_t old;

	if (!evict_reserve(w))
		return;		/* advice: this page stays */
	old = ptep_get_and_clear(pte);
	if (pte_dirty(old))
		folio_mark_dirty_mapped(page);
	page_remove_rmap_pte(page);
	change_walk_note(walk, addr);
	get_page(page);
	w->evict[w->nr_evict++] = page;
	tlb_remove_page(&w->cw.tlb, page);	/* the mapping's reference */
}

/*
 * Reclaim one page mapped by @pte alone, as try_to_unmap_one() treats a
 * page without swap backing: the entry is frozen first, so that a write
 * racing with us either set dirty before (and the page stays) or faults
 * after, and waits for what we leave; and only the mapping may hold a
 * reference. Frozen, not cleared: a write fault that met it empty mapped
 * a new page over memory that stays, and failed at the mm's frame limit.
 * A lazily freeable page that was written again, or is referenced
 * (pinned), becomes an ordinary anonymous page; a droppable one goes even
 * when dirty.
 * Locking: the PTE lock held.
 */
static void pageout_pte(pte_t *pte, uint64_t addr, struct page *page,
			struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;
	bool droppable = walk->vma->vm_flags & VM_DROPPABLE;
	pte_t old = ptep_freeze(pte);

	/* pins, like mappings, come under the PTE lock: the count is stable */
	if (page_count(page) != 1 ||
	    (!droppable && (pte_dirty(old) || test_bit_page(PG_dirty, page)))) {
		set_pte(pte, old);
		if (!droppable)
			clear_bit_page(PG_lazyfree, page);
		return;
	}
	pte_clear(pte);
	page_remove_rmap_pte(page);
	mm_stat_add(walk->mm, MM_ANONPAGES, -1);
	change_walk_note(walk, addr);
	tlb_remove_page(&w->cw.tlb, page);	/* freed once the flush is done */
}

/*
 * Whether every mapping of the shared-memory THP @head is an entry of the
 * page table holding @pte: umm's stand-in for the
 * kernel's "not mapped by another mm", exact but for a folio this mm maps
 * through two tables, which is left alone.
 * Locking: the PTE lock held.
 */
static bool file_folio_mapped_here(pte_t *pte, struct page *head)
{
	return folio_maps_in_table(pte, head) == folio_mapcount(head);
}

/*
 * MADV_COLD or MADV_PAGEOUT of a shared-memory THP mapped here by PTEs
 * (@page, mapped by @pte), as the kernel's batch of a large folio's
 * entries: when the range holds all of it, cold makes the entries old
 * and pageout unmaps them, the folio staying whole in the cache (its
 * pages are dirty and there is no swap); when the range holds a part,
 * the folio is split after the walk, which unmaps it everywhere first
 * (filemap_split_folio), as the kernel's split_folio of a file folio.
 * Locking: the PTE lock held.
 */
static int cold_file_folio_pte(pte_t *pte, uint64_t addr, struct page *page,
			       struct page *head, struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;

	if (addr < w->skip_end || (w->pageout && !w->file_ok))
		return 0;
	if (w->nr_evict && w->evict[w->nr_evict - 1] == head)
		return 0;	/* its split is already due */
	if (!file_folio_mapped_here(pte, head))
		return 0;
	if (page != head || !folio_whole_in_range(pte, addr, head, walk)) {
		if (evict_reserve(w)) {
			get_page(head);
			w->evict[w->nr_evict++] = head;
		}
		return 0;
	}
	w->skip_end = addr + HPAGE_PMD_SIZE;
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++, pte++, addr += PAGE_SIZE) {
		pte_t v = ptep_get(pte);

		if (!w->pageout) {
			pte_clear_bits(pte, v, _PAGE_ACCESSED, addr, walk);
			continue;
		}
		v = ptep_get_and_clear(pte);
		if (pte_dirty(v))
			folio_mark_dirty_mapped(head);
		page_remove_rmap_pte(head + i);
		change_walk_note(walk, addr);
	}
	/*
	 * The entries' references: all but one now, the last through the
	 * gather, so that the folio (which a truncation may take out of
	 * the cache meanwhile) is freed only after the flush, with one
	 * gather slot rather than 512 (fewer flushes under this lock).
	 */
	if (w->pageout) {
		put_page_refs(head, HPAGE_PMD_NR - 1);
		tlb_remove_page(&w->cw.tlb, head);
	}
	return 0;
}

/*
 * MADV_COLD of the anonymous THP @head, which the range maps whole from
 * @pte on: left whole, as the kernel leaves a large folio its batch
 * covers, its entries made old when they are all its mappings (the
 * kernel's folio_mapcount() == folio_nr_pages()).
 * Locking: the PTE lock held.
 */
static void cold_anon_folio_whole(pte_t *pte, uint64_t addr, struct page *head,
				  struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;

	w->skip_end = addr + HPAGE_PMD_SIZE;
	if (folio_mapcount(head) != (int)HPAGE_PMD_NR)
		return;
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++, pte++, addr += PAGE_SIZE)
		pte_clear_bits(pte, ptep_get(pte), _PAGE_ACCESSED, addr, walk);
}

/*
 * MADV_PAGEOUT of the anonymous THP @head, which the range maps whole
 * from @pte on and whose data need no swap (lazily free, or in a
 * MAP_DROPPABLE mapping), as reclaim's try_to_unmap_one treats such a
 * large folio: all its entries at once. They are cleared; if nothing but
 * they holds the folio and it was not written since MADV_FREE (a
 * droppable one: written or not), it goes whole - no page of it split
 * off, none pointed at the zero page. Else they come back, each with the
 * accessed and dirty bits any of them had (set_ptes of the merged
 * entry), the folio dirty and no longer lazily free (a droppable one
 * stays so): a later pageout splits it and keeps its pages, as the
 * host's reclaim does without swap. A folio mapped elsewhere too is left.
 * Locking: the PTE lock held.
 */
static void pageout_anon_folio_whole(pte_t *pte, uint64_t addr, struct page *head,
				     struct mm_walk *walk)
{
	const uint64_t bits = _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SOFT_DIRTY;
	struct cold_walk *w = walk->private;
	bool droppable = walk->vma->vm_flags & VM_DROPPABLE;
	pte_t old[HPAGE_PMD_NR];
	uint64_t merged = 0;

	w->skip_end = addr + HPAGE_PMD_SIZE;
	if (folio_mapcount(head) != (int)HPAGE_PMD_NR)
		return;
	/*
	 * Frozen first, so that a write racing with us either set dirty
	 * before (and the folio stays) or faults after and waits for what
	 * we leave; a translation cached for writing was cached dirty. Not
	 * cleared: see pageout_pte.
	 */
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
		old[i] = ptep_freeze(pte + i);
		merged |= pte_val(old[i]) & bits;
	}
	if (merged & _PAGE_DIRTY)
		set_bit_page(PG_dirty, head);
	/* pins, like mappings, come under the PTE lock: the count is stable */
	if (page_count(head) == (int)HPAGE_PMD_NR && !page_maybe_dma_pinned(head) &&
	    (droppable || !test_bit_page(PG_dirty, head))) {
		for (unsigned int i = 0; i < HPAGE_PMD_NR; i++) {
			pte_clear(pte + i);
			page_remove_rmap_pte(head + i);
		}
		mm_stat_add(walk->mm, MM_ANONPAGES, -(int64_t)HPAGE_PMD_NR);
		change_walk_note(walk, addr);
		change_walk_note(walk, addr + HPAGE_PMD_SIZE - PAGE_SIZE);
		/* the entries' references: the last one freed after the flush */
		put_page_refs(head, HPAGE_PMD_NR - 1);
		tlb_remove_page(&w->cw.tlb, head);
		return;
	}
	for (unsigned int i = 0; i < HPAGE_PMD_NR; i++)
		set_pte(pte + i, __pte(pte_val(old[i]) | merged));
	if (!droppable)
		clear_bit_page(PG_lazyfree, head);
}

/*
 * One entry of MADV_COLD or MADV_PAGEOUT. A page mapped elsewhere too is
 * left alone ("do not interfere with other mappings"); a shared-memory
 * THP is seen to by cold_file_folio_pte; an anonymous THP the range
 * covers in part is split first when it can be, as the kernel's; one it
 * covers whole stays whole under MADV_COLD (cold_anon_folio_whole), and
 * is split under MADV_PAGEOUT (umm has no folio-wide reclaim): the
 * host's reclaim, refused a swap slot for a large folio, splits it and
 * keeps its pages.
 * Locking: the PTE lock held (pte_entry).
 */
static int madvise_cold_pte(pte_t *pte, uint64_t addr, uint64_t next,
			    struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;
	pte_t v = ptep_get(pte);
	struct page *page, *head;

	(void)next;
	if (!pte_present(v) || pte_special(v) || !pfn_valid(pte_pfn(v)))
		return 0;
	page = pfn_to_page(pte_pfn(v));
	if (test_bit_page(PG_reserved, page))
		return 0;
	head = compound_head(page);
	if (PageHead(head) && !PageAnon(head))
		return cold_file_folio_pte(pte, addr, page, head, walk);
	if (w->pageout && !PageAnon(head) && !pageout_droppable(walk, head))
		return 0;
	if (PageHead(head)) {
		if (addr < w->skip_end || (w->pageout && folio_test_mlocked(head)))
			return 0;	/* the rest of a THP seen to whole */
		if (page == head && folio_whole_in_range(pte, addr, head, walk)) {
			if (!w->pageout) {
				cold_anon_folio_whole(pte, addr, head, walk);
				return 0;
			}
			if (pageout_droppable(walk, head)) {
				pageout_anon_folio_whole(pte, addr, head, walk);
				return 0;
			}
		}
	}
	if (PageHead(head)) {
		if (split_folio_pte(walk, pte, addr, head) < 0)
			return PageAnon(head) && split_later_note(&w->later, head, addr);
		v = ptep_get(pte);	/* the zero page, maybe */
		if (pte_special(v))
			return 0;
	}
	if (folio_mapcount(page) != 1)
		return 0;
	if (w->pageout && !pageout_droppable(walk, page))
		return 0;
	if (w->pageout && !PageAnon(page)) {
		pageout_file_pte(pte, addr, page, walk);
	} else if (w->pageout) {
		pageout_pte(pte, addr, page, walk);
	} else {
		pte_clear_bits(pte, v, _PAGE_ACCESSED, addr, walk);
	}
	return 0;
}

/*
 * A shared-memory THP mapped here alone by a leaf: the leaf goes, as
 * reclaim unmaps the folio (MADV_PAGEOUT), which stays in the cache (its
 * pages are dirty and there is no swap). Advice on a part of it splits
 * the folio too, after the walk, as the kernel's split_folio does before
 * it pages out or ages part of a folio; that split unmaps a file folio
 * first, so MADV_COLD of a part unmaps it as well.
 * Locking: the PMD lock held.
 */
static void unmap_file_leaf(pmd_t *pmd, uint64_t addr, uint64_t next,
			    struct page *head, struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;

	if (next - addr != HPAGE_PMD_SIZE) {
		if (!evict_reserve(w))
			return;		/* advice: it stays */
		get_page(head);
		w->evict[w->nr_evict++] = head;
	}
	zap_huge_pmd_locked(&w->cw.tlb, pmd, addr);	/* a file leaf: no deposit */
}

/*
 * A THP leaf mapped only here: MADV_COLD of all of it makes the leaf old,
 * MADV_PAGEOUT reclaims it whole, or splits it when it cannot, as the
 * kernel's reclaim does; advice on a part of it splits it, and its pages
 * are seen to one by one. A shared-memory one that pageout, or advice on
 * a part of it, meets is unmapped instead (unmap_file_leaf).
 * Locking: no table lock held (pmd_entry); takes the PMD lock.
 */
static int madvise_cold_pmd(pmd_t *pmd, uint64_t addr, uint64_t next,
			    struct mm_walk *walk)
{
	struct cold_walk *w = walk->private;
	struct page *head;
	pmd_t v;
	spinlock_t *ptl = walk_pmd_leaf_lock(pmd, walk, &v);

	if (!ptl)
		return 0;
	if (!pmd_leaf_maps_page(v))
		goto unlock;
	head = pmd_page(v);
	if (folio_mapcount(head) != 1)
		goto unlock;
	/* reclaim puts an unevictable folio back whole: no split either */
	if (w->pageout && folio_test_mlocked(head))
		goto unlock;
	if (!PageAnon(head) && (w->pageout || next - addr != HPAGE_PMD_SIZE)) {
		if (!w->pageout || w->file_ok)
			unmap_file_leaf(pmd, addr, next, head, walk);
		goto unlock;
	}
	/*
	 * Split when advised in part, or (pageout) when its data must stay:
	 * the host's reclaim splits a large anonymous folio it cannot swap
	 * (no swap), and keeps its pages. A pinned one it neither splits
	 * nor reclaims (its split_folio fails, reclaim skips pinned folios).
	 */
	if (next - addr != HPAGE_PMD_SIZE ||
	    (w->pageout && !pageout_droppable(walk, head))) {
		if (page_maybe_dma_pinned(head))
			goto unlock;
		spin_unlock(ptl);
		split_huge_pmd(walk->mm, pmd, addr);
		walk->action = ACTION_AGAIN;	/* now a table: walk its PTEs */
		return 0;
	}
	if (w->pageout) {
		bool droppable = walk->vma->vm_flags & VM_DROPPABLE;
		pgtable_t deposit = NULL;
		bool gone = discard_huge_pmd(&w->cw.tlb, pmd, addr, droppable, &deposit);

		spin_unlock(ptl);
		if (deposit)
			pte_free(walk->mm, deposit);
		/* as try_to_unmap_one: a leaf it could not discard is split */
		if (!gone)
			split_huge_pmd(walk->mm, pmd, addr);
		return 0;
	}
	leaf_clear_bits(pmd, v, _PAGE_ACCESSED, addr, next, walk);
unlock:
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops madvise_cold_ops = {
	.pmd_entry = madvise_cold_pmd,
	.pte_entry = madvise_cold_pte,
	.pre_vma = change_walk_pre_vma,
	.post_vma = change_walk_post_vma,
};

/* ---- guard regions ---- */

/*
 * is_valid_guard_vma(): no special or hugetlb mapping; an mlocked one may
 * lose no page to an install, but its guards may be removed.
 */
static bool guard_vma_valid(struct vm_area_struct *vma, bool allow_locked)
{
	unsigned long disallowed = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_HUGETLB;

	if (!allow_locked)
		disallowed |= VM_LOCKED;
	return !(vma->vm_flags & disallowed);
}

/*
 * Put a guard marker in every entry of [start, end) that has none, as far
 * as the entries are empty. Locking: mmap_lock held for write, the VMA
 * write-locked; takes the PTE locks. Return: 0 when every entry is a marker; 1 when a page (or a
 * THP's leaf) is mapped in the range: the caller zaps it and comes back,
 * markers installed meanwhile staying; -ENOMEM.
 */
static int guard_install_range(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	for (uint64_t addr = start; addr < end;) {
		uint64_t next = pmd_addr_end(addr, end);
		spinlock_t *ptl;
		pte_t *pte;
		pmd_t *pmd;

		if (walk_to_pmd(mm, addr, &pmd))
			return -ENOMEM;
		if (pmd_leaf(pmdp_get_lockless(pmd)))
			return 1;
		if (pte_alloc(mm, pmd))
			return -ENOMEM;
		pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
		if (!pte)
			continue;	/* a leaf, or retracted meanwhile: look again */
		for (; addr < next; addr += PAGE_SIZE, pte++) {
			pte_t v = ptep_get(pte);

			if (is_guard_pte_marker(v))
				continue;
			if (!pte_none(v)) {
				pte_unmap_unlock(pte, ptl);
				return 1;
			}
			set_pte(pte, make_pte_marker(PTE_MARKER_GUARD));
		}
		pte_unmap_unlock(pte, ptl);
	}
	return 0;
}

/*
 * VM_MAYBE_GUARD on all of @vma, which is replaced (no split, no merge:
 * the kernel sets the bit in place). Locking: mmap_lock held for write.
 * Return: the VMA now covering @addr, or NULL out of memory.
 */
static struct vm_area_struct *vma_set_maybe_guard(struct vm_area_struct *vma, uint64_t addr)
{
	struct umm_mm *mm = vma->vm_mm;
	struct vma_plan p;
	size_t i;
	int err;

	if (vma->vm_flags & VM_MAYBE_GUARD)
		return vma;
	err = vma_plan_init(&p, mm, vma->vm_start, vma->vm_end, false);
	if (!err) {
		i = vma_plan_find(&p, addr);
		p.d[i].flags |= VM_MAYBE_GUARD;
		p.d[i].touched = true;
		err = vma_plan_commit(&p);
	}
	vma_plan_release(&p);
	return err ? NULL : vma_lookup(mm, addr);
}

/*
 * MADV_GUARD_INSTALL on [start, end) of @vma: the pages there go (zapped,
 * as MADV_DONTNEED would, which leaves markers alone) and each entry
 * becomes a guard marker, so that any access faults. The install pass
 * stops at a mapped page, the range is zapped and the pass goes on, as the
 * kernel's loop; with the VMA write-locked no fault maps a page again in
 * between, so one zap does. Private anonymous memory gets its anon_vma, as the
 * kernel does. The kernel sets VM_MAYBE_GUARD in place under mmap_lock
 * for read; umm replaces the VMA, and so holds it for write (readers that
 * take no mmap_lock, rmap walkers, read vm_flags).
 * Locking: mmap_lock held for write.
 */
static int madvise_guard_install(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	struct umm_mm *mm = vma->vm_mm;
	bool reclaimed = false;
	int err;

	if (!guard_vma_valid(vma, false))
		return -EINVAL;
	vma = vma_set_maybe_guard(vma, start);
	if (!vma || (!vma->vm_file && anon_vma_prepare(vma)))
		return -ENOMEM;
	vma_start_write(vma);	/* faults on it wait until mmap_lock goes */
	for (;;) {
		err = guard_install_range(mm, start, end);
		if (err == 1)
			zap_page_range(mm, start, end);
		else if (err != -ENOMEM || !thp_reclaim_once(mm, &reclaimed))
			return err;	/* out of tables, once THPs gave back */
	}
}

/* Locking: the PTE lock held (pte_entry). */
static int guard_remove_pte(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	(void)addr;
	(void)next;
	(void)walk;
	if (is_guard_pte_marker(ptep_get(pte)))
		pte_clear(pte);
	return 0;
}

static const struct mm_walk_ops guard_remove_ops = {
	.pte_entry = guard_remove_pte,
};

/*
 * MADV_WILLNEED on a file mapping: the file's pages behind [start, end)
 * are read now, as the kernel's POSIX_FADV_WILLNEED reads them, so that
 * mincore shows them cached and their faults find them. The read runs
 * without mmap_lock, as the kernel's, holding the file; the caller's walk
 * finds the next VMA again by address.
 * Locking: mmap_lock held for read; dropped and taken again.
 */
static void madvise_willneed(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	struct umm_mm *mm = vma->vm_mm;
	struct umm_file *file = get_file(vma->vm_file);
	uint64_t first = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);

	mmap_read_unlock(mm);
	filemap_willneed(file, first, (end - start) >> PAGE_SHIFT, mm->quota);
	fput(file);
	mmap_read_lock(mm);
}

/*
 * MADV_DONTNEED drops the pages (the next touch reads zeroes, or the
 * file). MADV_FREE makes them clean and lazily freeable: they would go
 * under memory pressure, which umm does not reclaim under, so they stay,
 * as they do on an idle Linux, and smaps counts them as LazyFree, until
 * MADV_PAGEOUT reclaims them. MADV_COLD makes entries old. MADV_WILLNEED
 * reads a host file's missing pages into its cache (madvise_willneed);
 * anonymous and shared memory have no swap to read from. MADV_COLLAPSE makes THPs
 * (khugepaged.c).
 * Each acts on [start, end) of one VMA.
 * Locking: mmap_lock held for read (write for MADV_COLLAPSE and
 * MADV_GUARD_INSTALL), dropped and retaken by MADV_WILLNEED on a file;
 * zapping takes
 * the PTE locks and may race with faults, which is fine (the fault's page
 * stays or goes). MADV_COLD and MADV_PAGEOUT take the PTE and PMD locks
 * in the walk, then, with none held, the file's invalidate_lock (read to
 * evict a page and the folio lock under it, write to split a folio).
 */
static int madvise_vma_behavior(struct vm_area_struct *vma, uint64_t start, uint64_t end,
			    int behavior)
{
	struct umm_mm *mm = vma->vm_mm;

	if (!can_madvise_modify(vma->vm_flags, !vma->vm_file, behavior))
		return -EPERM;
	switch (behavior) {
	case MADV_FREE:
		if (vma->vm_file)
			return -EINVAL;	/* anonymous memory only */
		/* fall through */
	case MADV_DONTNEED:
	case MADV_COLD:
	case MADV_PAGEOUT:
		/* can_madv_lru_vma() */
		if (vma->vm_flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB))
			return -EINVAL;
		break;
	case MADV_DONTNEED_LOCKED:
		if (vma->vm_flags & (VM_PFNMAP | VM_HUGETLB))
			return -EINVAL;
		break;
	case MADV_REMOVE:
		/* punch a hole in the file behind a shared writable mapping */
		if (vma->vm_flags & VM_LOCKED)
			return -EINVAL;
		if (!vma->vm_file)
			return -EINVAL;
		if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) !=
		    (VM_SHARED | VM_MAYWRITE))
			return -EACCES;
		break;
	case MADV_WILLNEED:
		if (vma->vm_file)
			madvise_willneed(vma, start, end);
		return 0;
	case MADV_COLLAPSE:
		return madvise_collapse(vma, start, end);
	case MADV_GUARD_INSTALL:
		return madvise_guard_install(vma, start, end);
	case MADV_GUARD_REMOVE:
		if (!guard_vma_valid(vma, true))
			return -EINVAL;
		/* a marker maps nothing: no translation to flush */
		return walk_page_range(mm, start, end, &guard_remove_ops, NULL);
	}
	if (behavior == MADV_DONTNEED || behavior == MADV_DONTNEED_LOCKED) {
		/* tables emptied whole go too, as the host's PT_RECLAIM */
		struct zap_details details = {
			.reclaim_pt = true,
			.munlock = vma->vm_flags & VM_LOCKED,
		};

		zap_page_range_details(mm, start, end, &details);
	}
	if (behavior == MADV_FREE) {
		struct free_walk fw = { .cw.whole_blocks = true };

		do {
			walk_page_range(mm, start, end, &madvise_free_ops, &fw);
			start = fw.later.addr;
		} while (split_later_run(mm, &fw.later));
	}
	if (behavior == MADV_COLD || behavior == MADV_PAGEOUT) {
		struct cold_walk w = {
			.cw.whole_blocks = true,
			.pageout = behavior == MADV_PAGEOUT,
		};

		w.file_ok = w.pageout && vma->vm_file && file_may_pageout(vma->vm_file);
		do {
			walk_page_range(mm, start, end, &madvise_cold_ops, &w);
			start = w.later.addr;
		} while (split_later_run(mm, &w.later));
		/* unmapped, and every TLB flushed: the clean ones may go */
		for (size_t i = 0; i < w.nr_evict; i++) {
			if (PageHead(w.evict[i]))
				filemap_split_folio(vma->vm_file, w.evict[i]);
			else
				filemap_evict_page(vma->vm_file, w.evict[i]);
		}
		free(w.evict);
	}
	/* the hole goes through to the file, in every mm that maps it */
	if (behavior == MADV_REMOVE) {
		uint64_t first = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);

		return filemap_punch_hole(vma->vm_file, first,
					  first + ((end - start) >> PAGE_SHIFT) - 1);
	}
	return 0;
}

/*
 * madvise_walk_vmas - the advice on each VMA of [start, end), as the
 * kernel's: the first VMA's error ends it; a hole is reported (-ENOMEM)
 * once the VMAs past it were done. Each VMA is looked up again by
 * address: MADV_WILLNEED drops mmap_lock while it reads.
 * Locking: mmap_lock held (read; write for MADV_COLLAPSE, MADV_GUARD_INSTALL).
 */
static int madvise_walk_vmas(struct umm_mm *mm, uint64_t start, uint64_t end,
			     int behavior)
{
	int unmapped = 0;

	while (start < end) {
		struct vm_area_struct *vma = find_vma(mm, start);
		uint64_t tmp;
		int err;

		if (!vma || vma->vm_start >= end)
			return -ENOMEM;
		if (start < vma->vm_start) {
			unmapped = -ENOMEM;
			start = vma->vm_start;
		}
		tmp = vma->vm_end < end ? vma->vm_end : end;
		err = madvise_vma_behavior(vma, start, tmp, behavior);
		if (err)
			return err;
		start = tmp;
	}
	return unmapped;
}

__visible int umm_madvise(struct umm_mm *mm, uint64_t start, uint64_t len_in,
			  int behavior)
{
	uint64_t len, end;
	int err;

	if (!mm)
		return -EINVAL;
	if (!madvise_behavior_valid(behavior))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	len = ALIGN_UP(len_in, PAGE_SIZE);
	if (len_in && !len)
		return -EINVAL;
	end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	if (behavior == MADV_POPULATE_READ || behavior == MADV_POPULATE_WRITE) {
		/*
		 * Not VMA by VMA: the first hole ends it (-ENOMEM), with the
		 * VMAs before it populated, as madvise_populate().
		 */
		mmap_read_lock(mm);
		err = faultin_page_range(mm, start, end, behavior == MADV_POPULATE_WRITE);
		mmap_read_unlock(mm);
		return err;
	}
	if (behavior == MADV_COLLAPSE || behavior == MADV_GUARD_INSTALL) {
		mmap_write_lock(mm);
		/*
		 * The kernel retakes mmap_lock for write to collapse each
		 * block; umm holds it for the whole call.
		 */
		err = madvise_walk_vmas(mm, start, end, behavior);
		mmap_write_unlock(mm);
		return err;
	}
	if (madvise_need_mmap_write(behavior)) {
		mmap_write_lock(mm);
		err = madvise_update_flags(mm, start, end, behavior);
		/*
		 * Blocks that may hold THPs now: khugepaged looks at them
		 * (the VMAs before a hole were changed too). Under mmap_lock,
		 * so that a fork copying them sees the mm listed.
		 */
		if ((!err || err == -ENOMEM) && behavior == MADV_HUGEPAGE)
			khugepaged_enter(mm);
		mmap_write_unlock(mm);
		return err;
	}
	mmap_read_lock(mm);
	err = madvise_walk_vmas(mm, start, end, behavior);
	mmap_read_unlock(mm);
	return err;
}
