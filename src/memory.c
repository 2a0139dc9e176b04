// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memory.c - page faults and zapping.
 *
 * handle_mm_fault() resolves one fault on a VMA the caller holds (read
 * locked under RCU via lock_vma_under_rcu, or under mmap_lock): anonymous
 * read faults map the shared zero page, write faults a fresh zeroed frame,
 * write-protect faults reuse the frame when this mapping owns it alone and
 * copy it otherwise. Entries are installed under the PTE lock after
 * re-checking that nobody changed them (the fault may race with another
 * fault, a zap, or a lockless walker setting accessed/dirty bits).
 *
 * Zapping clears entries under the PTE lock and hands the frames to an
 * mmu_gather, which frees them only after the software TLBs are flushed.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "memory.h"
#include "huge_memory.h"
#include "mm.h"
#include "rmap.h"
#include "tlb.h"
#include "filemap.h"
#include "mmu_notifier.h"


/* ---- zap ---- */

void folio_mark_dirty_mapped(struct page *head)
{
	struct address_space *mapping = READ_ONCE(head->mapping);

	if (test_bit_page(PG_dirty, head))
		return;
	if (PageAnon(head) || (mapping && mapping->kind == FILE_SHMEM))
		set_bit_page(PG_dirty, head);
}

/*
 * A shmem page whose entry was dirty stays dirty when the entry goes, as
 * the kernel's zap marks the folio.
 * Locking: the PTE lock of the entry held (its mapping keeps the file).
 */
static void zap_mark_dirty(struct page *head)
{
	if (!PageAnon(head))
		folio_mark_dirty_mapped(head);
}

/* Return: 1 for an anonymous page (of this mm's RSS), else 0. */
static int zap_frame(struct mmu_gather *tlb, pte_t old, struct page **munlocked)
{
	uint64_t pfn = pte_pfn(old);
	struct page *p;
	int anon;

	if (!pfn_valid(pfn))
		return 0;
	p = pfn_to_page(pfn);
	if (test_bit_page(PG_reserved, p))
		return 0;
	page_remove_rmap_pte(p);
	p = compound_head(p);
	/* a locked VMA's mapping counted once per run of a folio's entries */
	if (tlb->munlock && p != *munlocked) {
		munlock_folio(p);
		*munlocked = p;
	}
	anon = PageAnon(p);
	if (!anon && pte_dirty(old))
		zap_mark_dirty(p);
	tlb_remove_page(tlb, p);
	return anon;
}

/*
 * A hole punch keeps the private copies made of the file's pages; only an
 * unmap drops markers (MADV_DONTNEED and truncation keep guard regions).
 */
static bool zap_skip(const struct zap_details *details, pte_t pte)
{
	if (is_pte_marker(pte))
		return !details || !details->drop_markers;
	if (!details || !details->skip_anon || !pte_present(pte) || pte_special(pte))
		return false;
	return PageAnon(compound_head(pfn_to_page(pte_pfn(pte))));
}

static bool zap_skip_huge(const struct zap_details *details, pmd_t v)
{
	return details && details->skip_anon && !(pmd_flags(v) & _PAGE_SPECIAL) &&
	       PageAnon(pmd_page(v));
}

/*
 * *@kept is set when an entry that is not none stays, or was not a page
 * (a marker): the table must then stay too, as the kernel's any_skipped.
 * Return: where it stopped: @end, or earlier when the gather is full (the
 * caller flushes it, outside the PTE lock, and comes back).
 * Locking: takes the PTE table's lock (pte_offset_map_lock).
 */
static uint64_t zap_pte_range(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr,
			      uint64_t end, const struct zap_details *details, bool *kept)
{
	uint64_t start_addr = addr;
	spinlock_t *ptl;
	pte_t *start, *pte = pte_offset_map_lock(tlb->mm, pmd, addr, &ptl);
	struct page *munlocked = NULL;
	bool changed = false;
	int64_t rss = 0;

	if (!pte)
		return end;	/* none, or a leaf zapped by the caller */
	start = pte;
	do {
		pte_t old;

		if (unlikely(tlb_batch_full(tlb)))
			break;
		if (pte_none(ptep_get(pte)))
			continue;
		if (!pte_present(ptep_get(pte)))
			*kept = true;
		if (zap_skip(details, ptep_get(pte))) {
			*kept = true;
			continue;
		}
		old = ptep_get_and_clear(pte);
		changed = true;
		if (pte_present(old) && !pte_special(old))
			rss += zap_frame(tlb, old, &munlocked);
	} while (pte++, addr += PAGE_SIZE, addr != end);
	pte_unmap_unlock(start, ptl);
	if (rss)
		mm_stat_add(tlb->mm, MM_ANONPAGES, -rss);	/* once per table */
	if (changed)
		tlb_flush_pte_range(tlb, start_addr, addr);
	return addr;
}

/*
 * try_free_pte_table - give back the PTE table below @pmd, which a zap of
 * its whole span left empty (MADV_DONTNEED), as the kernel's PT_RECLAIM
 * does: the next fault there finds the PMD none and, where THPs are
 * allowed, maps a whole THP, as the host does after the same advice. A
 * table that a racing fault filled again stays: faults install under the
 * PTE lock and re-check the PMD after taking it (pte_offset_map_lock).
 * Lockless walkers may still be reading it: freed after a grace period.
 * Locking: mmap_lock held (read); takes the PMD lock, then the PTE lock.
 */
static void try_free_pte_table(struct umm_mm *mm, pmd_t *pmd)
{
	pgtable_t table = pmd_detach_empty_table(mm, pmd, NULL);

	if (table)
		pte_free_defer(mm, table);
}

static void zap_pmd_range(struct mmu_gather *tlb, pud_t *pud, uint64_t addr,
			  uint64_t end, const struct zap_details *details)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	uint64_t next, a;

	do {
		pmd_t v = pmdp_get(pmd);
		bool kept = false;

		next = pmd_addr_end(addr, end);
		if (pmd_none(v))
			continue;
		if (pmd_leaf(v)) {
			if (zap_skip_huge(details, v))
				continue;
			if (next - addr == HPAGE_PMD_SIZE) {
				if (zap_huge_pmd(tlb, pmd, addr))
					continue;
			} else {
				split_huge_pmd(tlb->mm, pmd, addr);	/* part of it */
			}
		}
		/* a full gather is flushed here, outside the PTE lock */
		a = addr;
		while ((a = zap_pte_range(tlb, pmd, a, next, details, &kept)) != next)
			tlb_flush_mmu(tlb);
		if (details && details->reclaim_pt && next - addr == PMD_SIZE && !kept)
			try_free_pte_table(tlb->mm, pmd);
	} while (pmd++, addr = next, addr != end);
}

static bool zap_huge_pud(struct mmu_gather *tlb, pud_t *pud, uint64_t addr)
{
	spinlock_t *ptl = pud_lock(tlb->mm, pud);
	pud_t old = pudp_get(pud);
	bool leaf = pud_leaf(old);
	struct page *head = NULL;

	if (leaf) {
		pud_clear(pud);
		tlb_flush_pte_range(tlb, addr & PUD_MASK, (addr & PUD_MASK) + PUD_SIZE);
		/* umm makes no PUD leaves itself: no deposit, no RSS of its own */
		if (!(pud_flags(old) & _PAGE_SPECIAL) && pfn_valid(pud_pfn(old)) &&
		    PageHead(pfn_to_page(pud_pfn(old))) &&
		    !test_bit_page(PG_reserved, pfn_to_page(pud_pfn(old)))) {
			head = pfn_to_page(pud_pfn(old));
			folio_remove_rmap_pmd(head);	/* an entire mapping too */
		}
	}
	spin_unlock(ptl);
	if (head)
		tlb_remove_page(tlb, head);
	return leaf;
}

static void zap_pud_range(struct mmu_gather *tlb, p4d_t *p4d, uint64_t addr,
			  uint64_t end, const struct zap_details *details)
{
	pud_t *pud = pud_offset(p4d, addr);
	uint64_t next;

	do {
		pud_t v = pudp_get(pud);

		next = pud_addr_end(addr, end);
		if (!pud_present(v))
			continue;
		if (pud_leaf(v) && zap_huge_pud(tlb, pud, addr))
			continue;
		zap_pmd_range(tlb, pud, addr, next, details);
	} while (pud++, addr = next, addr != end);
}

void unmap_page_range(struct mmu_gather *tlb, uint64_t addr, uint64_t end,
		      const struct zap_details *details)
{
	struct umm_mm *mm = tlb->mm;
	pgd_t *pgd = pgd_offset(mm, addr);
	uint64_t next;

	VM_BUG_ON(!end || end > mm->task_size + PAGE_SIZE || addr >= end);
	do {
		p4d_t *p4d;
		uint64_t a, e;

		next = pgd_addr_end(mm, addr, end);
		if (mm->pgtable_levels == 5 && !pgd_present(pgdp_get(pgd)))
			continue;
		p4d = p4d_offset(mm, pgd, addr);
		for (a = addr; a != next; a = e, p4d++) {
			e = p4d_addr_end(a, next);
			if (p4d_present(p4dp_get(p4d)))
				zap_pud_range(tlb, p4d, a, e, details);
		}
	} while (pgd++, addr = next, addr != end);
}

void zap_page_range_details(struct umm_mm *mm, uint64_t start, uint64_t end,
			    const struct zap_details *details)
{
	struct mmu_gather tlb;

	mmu_notifier_invalidate_range_start(mm, start, end);
	tlb_gather_mmu(&tlb, mm);
	tlb.munlock = details && details->munlock;
	unmap_page_range(&tlb, start, end, details);
	tlb_finish_mmu(&tlb);
	mmu_notifier_invalidate_range_end(mm, start, end);
}

void zap_page_range(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	zap_page_range_details(mm, start, end, NULL);
}

void unmap_range_pages(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct zap_details details = { .drop_markers = true };

	zap_page_range_details(mm, start, end, &details);
}

void unmap_locked_vma(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	struct zap_details details = { .drop_markers = true, .munlock = true };

	if (!(vma->vm_flags & VM_LOCKED))
		return;
	start = start > vma->vm_start ? start : vma->vm_start;
	end = end < vma->vm_end ? end : vma->vm_end;
	if (start < end)
		zap_page_range_details(vma->vm_mm, start, end, &details);
}

/* ---- faults ---- */

/*
 * The accessed and dirty bits are set with an atomic OR: a lockless walker
 * may be setting them at the same moment, and neither may lose the other's.
 */
static void ptep_set_access_flags(pte_t *ptep, uint64_t bits)
{
	__atomic_fetch_or(&ptep->pte, bits, __ATOMIC_RELEASE);
}

/*
 * The first private page of a VMA needs an anon_vma, which may be shared
 * with a neighbour: that looks at other VMAs, so it needs mmap_lock.
 * Under a VMA lock only a trylock is allowed (the fault must not sleep
 * on mmap_lock while holding a VMA lock); failing it retries the fault
 * under mmap_lock.
 */
vm_fault_t vmf_anon_prepare(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct umm_mm *mm = vma->vm_mm;
	vm_fault_t ret = 0;

	if (likely(smp_load_acquire(&vma->anon_vma)))
		return 0;
	if (vmf->flags & FAULT_FLAG_VMA_LOCK) {
		if (!mmap_read_trylock(mm))
			return VM_FAULT_RETRY;
	}
	if (anon_vma_prepare(vma))
		ret = VM_FAULT_OOM;
	if (vmf->flags & FAULT_FLAG_VMA_LOCK)
		mmap_read_unlock(mm);
	return ret;
}

static pte_t mk_anon_pte(struct vm_area_struct *vma, struct page *page)
{
	pte_t entry = pfn_pte(page_to_pfn(page), vm_get_page_prot(vma->vm_flags));

	if (vma->vm_flags & VM_WRITE)
		entry = pte_mkwrite(pte_mkdirty(entry));
	return pte_mkyoung(entry);
}

pte_t mk_zero_pte(struct vm_area_struct *vma)
{
	/* private: the rights never include the write bit here */
	return pte_mkspecial(pfn_pte(ZERO_PFN, vm_get_page_prot(vma->vm_flags)));
}

/* Locking: the VMA held; takes the PTE lock. */
static vm_fault_t do_anonymous_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct umm_mm *mm = vma->vm_mm;
	struct page *page = NULL;
	vm_fault_t ret;
	pte_t entry;

	if (pte_alloc(mm, vmf->pmd))
		return VM_FAULT_OOM;
	if (!(vmf->flags & FAULT_FLAG_WRITE) && !(mm->flags & UMM_NO_ZERO_PAGE)) {
		/* reads share the zero page until the first write */
		entry = mk_zero_pte(vma);
	} else {
		ret = vmf_anon_prepare(vmf);
		if (ret)
			return ret;
		page = alloc_page(mm->quota, GFP_KERNEL);
		if (!page)
			return VM_FAULT_OOM;
		entry = mk_anon_pte(vma, page);
	}
	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte)
		goto release;	/* the table went: fault again */
	if (!pte_none(ptep_get(vmf->pte))) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		goto release;	/* another fault was first */
	}
	if (page) {
		page_add_new_anon_rmap(page, vma, vmf->address);
		mlock_new_folio(page, vma);
		mm_stat_add(mm, MM_ANONPAGES, 1);
	}
	set_pte(vmf->pte, entry);
	update_mmu_cache(vma, vmf->address, entry);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return 0;
release:
	if (page)
		put_page(page);
	return 0;
}

/*
 * wp_page_copy - give this mapping its own copy of the page (or of the
 * zero page). Locking: called with the PTE lock held and drops it; the
 * old frame is released only after every TLB has let go of it.
 */
static vm_fault_t wp_page_copy(struct vm_fault *vmf, struct page *old)
{
	struct vm_area_struct *vma = vmf->vma;
	struct umm_mm *mm = vma->vm_mm;
	struct page *new;
	vm_fault_t ret;

	if (old)
		get_page(old);	/* keep it to copy from once the lock is gone */
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	ret = vmf_anon_prepare(vmf);
	if (ret)
		goto out;
	new = alloc_page(mm->quota, old ? __GFP_NOZERO : GFP_KERNEL);
	if (!new) {
		ret = VM_FAULT_OOM;
		goto out;
	}
	if (old)
		memcpy(page_address(new), page_address(old), PAGE_SIZE);
	mmu_notifier_invalidate_range_start(mm, vmf->address, vmf->address + PAGE_SIZE);
	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)) {
		if (vmf->pte)
			pte_unmap_unlock(vmf->pte, vmf->ptl);
		mmu_notifier_invalidate_range_end(mm, vmf->address, vmf->address + PAGE_SIZE);
		put_page(new);
		goto out;
	}
	page_add_new_anon_rmap(new, vma, vmf->address);
	mlock_new_folio(new, vma);
	mm_stat_add(mm, MM_ANONPAGES, 1);
	/*
	 * No update_mmu_cache: the flush below moves the TLB generation, so
	 * this thread's next access would drop the entry unused.
	 */
	set_pte(vmf->pte, mk_anon_pte(vma, new));
	if (old) {
		page_remove_rmap_pte(old);
		/* the copy is the locked one now: a fork's child may free the old */
		munlock_vma_folio(compound_head(old), vma);
		if (PageAnon(compound_head(old)))
			mm_stat_add(mm, MM_ANONPAGES, -1);
	}
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	/* other threads may still translate to the old frame: flush first */
	flush_tlb_mm_range(mm, vmf->address, vmf->address + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(mm, vmf->address, vmf->address + PAGE_SIZE);
	if (old)
		put_page(old);	/* the mapping's reference */
out:
	if (old)
		put_page(old);	/* ours */
	return ret;
}

/* ---- file faults ---- */

static uint64_t vmf_pgoff(const struct vm_fault *vmf)
{
	return vmf->vma->vm_pgoff + ((vmf->address - vmf->vma->vm_start) >> PAGE_SHIFT);
}

/*
 * How a miss reads ahead, as do_sync_mmap_readahead: the advice first,
 * then an executable mapping reads from the fault to its own end only
 * (Linux 6.16 on: code is read at random, and what lies past the VMA is
 * another section's or padding), any other around the fault.
 */
static enum file_ra fault_ra(struct vm_area_struct *vma)
{
	if (vma->vm_flags & VM_RAND_READ)
		return RA_NONE;
	if (vma->vm_flags & VM_SEQ_READ)
		return RA_SEQ;
	if (vma->vm_flags & VM_EXEC)
		return RA_EXEC;
	return RA_AROUND;
}

/*
 * The file's cache page for the fault, with a reference, and a PTE table
 * to map it in. Past the end of the file is SIGBUS, as a read that fails.
 * A page of a PMD-sized folio is mapped whole by a leaf when @may_pmd and
 * the PMD is empty (the kernel's finish_fault -> do_set_pmd): that is
 * VM_FAULT_NOPAGE, no page returned. Locking: the VMA held.
 */
static vm_fault_t file_fault_page(struct vm_fault *vmf, struct page **pagep,
				  bool may_pmd)
{
	struct vm_area_struct *vma = vmf->vma;
	struct address_space *mapping = vma->vm_file->f_mapping;
	uint64_t pgoff = vmf_pgoff(vmf), size = i_size_read(mapping);
	int err = 0;

	if (pgoff >= (size >> PAGE_SHIFT) + !!(size & ~PAGE_MASK))
		return VM_FAULT_SIGBUS;
	*pagep = filemap_get_page(mapping, pgoff, vma->vm_mm->quota, fault_ra(vma),
				  vma->vm_pgoff + vma_pages(vma), &err);
	if (!*pagep)
		return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	if (unlikely(READ_ONCE((*pagep)->mapping) != (void *)mapping)) {
		/*
		 * Leaving the cache, or a collapse's folio not ready yet (its
		 * tables are being retracted): fault again, without filling
		 * the PMD with a table meanwhile.
		 */
		put_page(*pagep);
		*pagep = NULL;
		return VM_FAULT_NOPAGE;
	}
	if (may_pmd && PageHead(compound_head(*pagep)) &&
	    pmd_none(pmdp_get_lockless(vmf->pmd)) &&
	    !(do_set_pmd(vmf, *pagep) & VM_FAULT_FALLBACK)) {
		*pagep = NULL;
		return VM_FAULT_NOPAGE;
	}
	if (pte_alloc(vma->vm_mm, vmf->pmd)) {
		put_page(*pagep);
		return VM_FAULT_OOM;
	}
	return 0;
}

/*
 * Map @page (a reference the mapping keeps) at the fault's empty entry,
 * unless the entry was filled meanwhile or @cache left the file: a
 * truncation or hole punch that removed it unmaps again afterwards, so
 * checking under the PTE lock closes the race.
 * Locking: the VMA held; takes the PTE lock. Return: whether it mapped.
 */
static bool finish_fault(struct vm_fault *vmf, struct page *cache, struct page *page,
			 pte_t entry)
{
	struct umm_mm *mm = vmf->vma->vm_mm;

	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte)
		return false;
	if (!pte_none(ptep_get(vmf->pte)) ||
	    READ_ONCE(cache->mapping) != (void *)vmf->vma->vm_file->f_mapping) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return false;
	}
	if (page == cache) {
		page_dup_rmap_pte(page);
		mlock_vma_folio(compound_head(page), vmf->vma);
	} else {
		page_add_new_anon_rmap(page, vmf->vma, vmf->address);
		mlock_new_folio(page, vmf->vma);
		mm_stat_add(mm, MM_ANONPAGES, 1);
	}
	set_pte(vmf->pte, entry);
	update_mmu_cache(vmf->vma, vmf->address, entry);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return true;
}

/*
 * finish_fault_folio - map every page of the large folio holding @page
 * whose entry is empty, with @entry's bits, when the folio lies whole
 * inside the VMA and one PTE table (the kernel's finish_fault for a shmem
 * folio it cannot map with a leaf: MADV_NOHUGEPAGE, or a table already
 * there). Each entry takes a reference; the fault's becomes the first.
 * Locking: the VMA held; takes the PTE lock.
 * Return: false when the folio does not fit and nothing was done.
 */
static bool finish_fault_folio(struct vm_fault *vmf, struct page *page, pte_t entry)
{
	struct vm_area_struct *vma = vmf->vma;
	struct page *head = compound_head(page);
	uint64_t idx = (uint64_t)(page - head), nr = 1UL << page_order(head);
	uint64_t addr = vmf->address - (idx << PAGE_SHIFT), bits, mapped = 0;
	spinlock_t *ptl;
	pte_t *pte;

	if (vmf->address < (idx << PAGE_SHIFT) || addr < vma->vm_start ||
	    addr + (nr << PAGE_SHIFT) > vma->vm_end ||
	    pte_index(addr) + nr > PTRS_PER_PTE)
		return false;
	bits = pte_val(entry) & ~PTE_PFN_MASK;
	pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, addr, &ptl);
	if (!pte)
		goto out;
	if (READ_ONCE(head->mapping) == (void *)vma->vm_file->f_mapping) {
		for (uint64_t i = 0; i < nr; i++) {
			if (!pte_none(ptep_get(pte + i)))
				continue;
			page_dup_rmap_pte(head + i);
			set_pte(pte + i, __pte(((page_to_pfn(head) + i) << PAGE_SHIFT) | bits));
			mapped++;
		}
	}
	/*
	 * The entries' references before the lock goes: a zap (truncation,
	 * MADV_DONTNEED) may clear them and put one each as soon as it can
	 * take the lock.
	 */
	if (mapped > 1)
		__atomic_fetch_add(&head->refcount, (int)mapped - 1, __ATOMIC_RELAXED);
	pte_unmap_unlock(pte, ptl);
out:
	if (!mapped)
		put_page(page);
	return true;
}

#define FAULT_AROUND_PAGES	16	/* fault_around_bytes' default, 64 KiB */

/*
 * The PTE table fault-around maps into: a fault that found its own page
 * made it, one that failed (past the end of the file) may not have, and
 * the kernel's filemap_map_pages then installs one only for a cached page
 * to map in [@from, @to) below page @eof, and only through
 * filemap_map_pmd, which 6.18 skips when that first page is the file's
 * last (no leaf across i_size; tmpfs excepted): then nothing is mapped.
 * Locking: the VMA held.
 * Return: whether there is a table to map into.
 */
static bool fault_around_table(struct vm_fault *vmf, uint64_t from, uint64_t to,
			       uint64_t eof)
{
	struct vm_area_struct *vma = vmf->vma;
	struct address_space *mapping = vma->vm_file->f_mapping;
	uint64_t addr;

	if (!pmd_none(pmdp_get_lockless(vmf->pmd)))
		return true;
	for (addr = from; addr < to; addr += PAGE_SIZE) {
		uint64_t index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
		struct page *page;

		if (index >= eof)
			return false;
		page = find_get_page(mapping, index);
		if (!page)
			continue;
		put_page(page);
		if (index == eof - 1 && mapping->kind != FILE_SHMEM)
			return false;
		return !pte_alloc(vma->vm_mm, vmf->pmd);
	}
	return false;
}

/*
 * do_fault_around - map the file's pages already in its cache around a
 * read fault, in the aligned block of FAULT_AROUND_PAGES entries that
 * holds it (moved up to start at the VMA's start if that is inside it,
 * then clipped to the VMA, the PTE table and the file), with the
 * rights a read fault gives, as the kernel's filemap_map_pages: one fault
 * then serves a run of reads. Only empty entries are filled; each page is
 * checked to be still in the file under the PTE lock, as finish_fault.
 * Locking: the VMA held; takes the PTE lock.
 */
static void do_fault_around(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct address_space *mapping = vma->vm_file->f_mapping;
	uint64_t block = (uint64_t)FAULT_AROUND_PAGES << PAGE_SHIFT;
	uint64_t from = vmf->address & ~(block - 1), to, addr;
	uint64_t eof = size_pages(i_size_read(mapping));
	uint64_t pmd_end = (vmf->address & PMD_MASK) + PMD_SIZE;
	pgprot_t prot = vm_get_page_prot(vma->vm_flags);
	spinlock_t *ptl;
	pte_t *pte, *start;

	/* a window cut by the VMA's start slides up, as the kernel's */
	from = from > vma->vm_start ? from : vma->vm_start;
	to = from + block;
	to = to < pmd_end ? to : pmd_end;
	to = to < vma->vm_end ? to : vma->vm_end;
	if (!fault_around_table(vmf, from, to, eof))
		return;
	start = pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, from, &ptl);
	if (!pte)
		return;
	for (addr = from; addr < to; addr += PAGE_SIZE, pte++) {
		uint64_t index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
		struct page *page;

		if (index >= eof)
			break;
		if (!pte_none(ptep_get(pte)))
			continue;
		page = find_get_page(mapping, index);
		if (!page)
			continue;
		if (READ_ONCE(page->mapping) != (void *)mapping) {
			put_page(page);		/* truncated meanwhile */
			continue;
		}
		page_dup_rmap_pte(page);
		mlock_vma_folio(compound_head(page), vma);
		set_pte(pte, pte_mkyoung(pfn_pte(page_to_pfn(page), prot)));
	}
	pte_unmap_unlock(start, ptl);
}

/*
 * do_read_fault - map the cache page read-only for a private mapping or a
 * shared one that tracks dirtying (vm_get_page_prot leaves the write bit
 * out of both); writable at once for shared memory-backed files. Then
 * the cached pages around it (fault-around).
 * Locking: the VMA held.
 */
static vm_fault_t do_read_fault(struct vm_fault *vmf)
{
	struct page *page;
	vm_fault_t ret = file_fault_page(vmf, &page, true);
	pte_t entry;

	if (ret & (VM_FAULT_SIGBUS | VM_FAULT_OOM)) {
		/*
		 * The kernel faults around before it looks for the page
		 * itself, so a read past the end of the file (SIGBUS), or
		 * one that fails for want of memory, still maps the cached
		 * pages below the end in its window.
		 */
		do_fault_around(vmf);
		return ret;
	}
	if (ret)
		return 0;
	entry = pte_mkyoung(pfn_pte(page_to_pfn(page), vm_get_page_prot(vmf->vma->vm_flags)));
	if (PageHead(compound_head(page)) && finish_fault_folio(vmf, page, entry))
		return 0;
	if (!finish_fault(vmf, page, page, entry))
		put_page(page);
	do_fault_around(vmf);
	return 0;
}

/* do_cow_fault - a write to an unmapped page of a private file mapping. */
static vm_fault_t do_cow_fault(struct vm_fault *vmf)
{
	struct umm_mm *mm = vmf->vma->vm_mm;
	struct page *cache, *page;
	vm_fault_t ret = vmf_anon_prepare(vmf);

	if (ret)
		return ret;
	ret = file_fault_page(vmf, &cache, false);
	if (ret)
		return ret == VM_FAULT_NOPAGE ? 0 : ret;
	page = alloc_page(mm->quota, __GFP_NOZERO);
	if (!page) {
		put_page(cache);
		return VM_FAULT_OOM;
	}
	memcpy(page_address(page), page_address(cache), PAGE_SIZE);
	if (!finish_fault(vmf, cache, page, mk_anon_pte(vmf->vma, page)))
		put_page(page);
	put_page(cache);
	return 0;
}

/*
 * do_shared_fault - a write to an unmapped page of a shared mapping: the
 * page is dirtied under its lock (writeback cleans it under the same
 * lock), then mapped writable.
 */
static vm_fault_t do_shared_fault(struct vm_fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	bool track = mapping_needs_writeback(mapping);
	struct page *page;
	vm_fault_t ret = file_fault_page(vmf, &page, !track);
	pte_t entry;

	if (ret)
		return ret == VM_FAULT_NOPAGE ? 0 : ret;
	entry = pfn_pte(page_to_pfn(page), vm_get_page_prot(vmf->vma->vm_flags));
	entry = pte_mkyoung(pte_mkdirty(pte_mkwrite(entry)));
	if (track) {
		lock_page(page);
		set_page_dirty(mapping, page);
	} else if (!test_bit_page(PG_dirty, compound_head(page))) {
		/* shmem: memory is its only copy (fault_dirty_shared_page) */
		set_bit_page(PG_dirty, compound_head(page));
	}
	if (!track && PageHead(compound_head(page)) && finish_fault_folio(vmf, page, entry))
		return 0;
	get_page(page);		/* ours, beside the one the mapping keeps */
	if (!finish_fault(vmf, page, page, entry))
		put_page(page);
	if (track)
		unlock_page(page);
	put_page(page);
	return 0;
}

/* Locking: the VMA held; no PTE lock, the entry was empty. */
static vm_fault_t do_fault(struct vm_fault *vmf)
{
	if (!(vmf->flags & FAULT_FLAG_WRITE))
		return do_read_fault(vmf);
	if (!(vmf->vma->vm_flags & VM_SHARED))
		return do_cow_fault(vmf);
	return do_shared_fault(vmf);
}

/*
 * wp_page_shared - a write to a clean, write-protected page of a shared
 * mapping that tracks dirtying: dirty it under its lock, then let the
 * entry write. Locking: called with the PTE lock held; drops it.
 */
static vm_fault_t wp_page_shared(struct vm_fault *vmf)
{
	struct address_space *mapping = vmf->vma->vm_file->f_mapping;
	struct page *page = compound_head(pfn_to_page(pte_pfn(vmf->orig_pte)));
	struct umm_mm *mm = vmf->vma->vm_mm;

	get_page(page);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	lock_page(page);
	if (READ_ONCE(page->mapping) != (void *)mapping)
		goto out;	/* truncated meanwhile: fault again */
	set_page_dirty(mapping, page);
	vmf->pte = pte_offset_map_lock(mm, vmf->pmd, vmf->address, &vmf->ptl);
	if (!vmf->pte)
		goto out;
	if (pte_same(ptep_get(vmf->pte), vmf->orig_pte))
		ptep_set_access_flags(vmf->pte, _PAGE_RW | _PAGE_DIRTY |
				      _PAGE_SOFT_DIRTY | _PAGE_ACCESSED);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
out:
	unlock_page(page);
	put_page(page);
	return 0;
}

/*
 * wp_reuse_large_anon - may this mapping take @page, a page of a
 * PTE-mapped anonymous THP that is not marked as its own (a fork shared
 * the folio), as its own now? Yes once the sharers have gone, as on the
 * kernel: every reference to the folio is one of its mappings (no pin, no
 * other holder) and every mapping is in this mm - here, an entry of the
 * PTE table @ptep is in (a folio that mremap spread over two tables is
 * still copied from). A folio mapped by this one entry is copied from too,
 * as the kernel's, so that a split can free the rest of it. On yes the
 * page is marked exclusive, so pins and mprotect see it as this mm's.
 * Locking: the PTE lock of @ptep held. A new mapping of the folio is made
 * only from an old one (fork), and a pin only under an old one's lock: with
 * all of them in this table, neither can come while we look. Mapping takes
 * the reference first and unmapping drops it last, so references never
 * fall below mappings and a sharer on its way out makes us copy.
 */
static bool wp_reuse_large_anon(pte_t *ptep, struct page *page)
{
	struct page *head = compound_head(page);
	int maps = folio_mapcount(head);

	if (!PageHead(head) || maps <= 1 || maps > (int)PTRS_PER_PTE ||
	    folio_entire_mapcount(head) || page_maybe_dma_pinned(head))
		return false;
	/* acquire: the counts of an unmap whose last reference went are seen */
	if (__atomic_load_n(&head->refcount, __ATOMIC_ACQUIRE) != maps)
		return false;
	if (folio_maps_in_table(ptep, head) != maps || folio_mapcount(head) != maps)
		return false;
	set_bit_page(PG_anon_exclusive, page);
	return true;
}

/*
 * do_wp_page - a write to a present, write-protected entry of a writable
 * VMA. Locking: called with the PTE lock held; drops it.
 */
static vm_fault_t do_wp_page(struct vm_fault *vmf)
{
	pte_t orig = vmf->orig_pte;
	struct page *page;

	/* a shared mapping writes to the file's page itself */
	if (vmf->vma->vm_flags & VM_SHARED) {
		if (mapping_needs_writeback(vmf->vma->vm_file->f_mapping))
			return wp_page_shared(vmf);
		ptep_set_access_flags(vmf->pte, _PAGE_RW | _PAGE_DIRTY |
				      _PAGE_SOFT_DIRTY | _PAGE_ACCESSED);
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return 0;
	}
	if (pte_special(orig))
		return wp_page_copy(vmf, NULL);		/* the zero page */
	page = pfn_to_page(pte_pfn(orig));	/* a THP's page, not its head */
	/* only this mapping holds it: make it writable where it is */
	if (PageAnon(compound_head(page)) &&
	    (page_exclusive(page) || wp_reuse_large_anon(vmf->pte, page))) {
		ptep_set_access_flags(vmf->pte, _PAGE_RW | _PAGE_DIRTY |
				      _PAGE_SOFT_DIRTY | _PAGE_ACCESSED);
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return 0;
	}
	return wp_page_copy(vmf, page);
}

/* Locking: the VMA held; takes the PTE lock. */
static vm_fault_t handle_pte_fault(struct vm_fault *vmf)
{
	struct umm_mm *mm = vmf->vma->vm_mm;

	vmf->pte = NULL;
	if (!pmd_none(pmdp_get_lockless(vmf->pmd))) {
		vmf->pte = pte_offset_map_nolock(mm, vmf->pmd, vmf->address, &vmf->ptl);
		if (!vmf->pte)
			return 0;	/* became a leaf or went: fault again */
		vmf->orig_pte = ptep_get(vmf->pte);
		if (pte_none(vmf->orig_pte)) {
			pte_unmap(vmf->pte);
			vmf->pte = NULL;
		} else if (is_pte_marker(vmf->orig_pte)) {
			/* handle_pte_marker(): a guard region refuses every access */
			pte_unmap(vmf->pte);
			return VM_FAULT_SIGSEGV;
		}
	}
	if (!vmf->pte) {
		if (vmf->vma->vm_file)
			return do_fault(vmf);
		return do_anonymous_page(vmf);
	}
	spin_lock(vmf->ptl);
	if (unlikely(!pte_same(ptep_get(vmf->pte), vmf->orig_pte))) {
		pte_unmap_unlock(vmf->pte, vmf->ptl);
		return 0;	/* changed under us: the caller looks again */
	}
	/*
	 * Unshare (a read pin of a private page that a fork shares): copy it
	 * for this mm, keeping the VMA's rights - the pin must not follow a
	 * page the other mm may still write after its own copy-on-write.
	 */
	if ((vmf->flags & FAULT_FLAG_UNSHARE) && !(vmf->vma->vm_flags & VM_SHARED) &&
	    !pte_special(vmf->orig_pte)) {
		struct page *page = pfn_to_page(pte_pfn(vmf->orig_pte));

		if (PageAnon(compound_head(page)) && page_maybe_shared_anon(page) &&
		    !wp_reuse_large_anon(vmf->pte, page))
			return wp_page_copy(vmf, page);
	}
	if (vmf->flags & FAULT_FLAG_WRITE) {
		if (!pte_write(vmf->orig_pte))
			return do_wp_page(vmf);
		ptep_set_access_flags(vmf->pte, _PAGE_DIRTY | _PAGE_SOFT_DIRTY |
				      _PAGE_ACCESSED);
	} else {
		ptep_set_access_flags(vmf->pte, _PAGE_ACCESSED);
	}
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return 0;
}

vm_fault_t handle_mm_fault(struct vm_area_struct *vma, uint64_t address,
			   unsigned int flags)
{
	struct vm_fault vmf = {
		.vma = vma,
		.address = address & PAGE_MASK,
		.flags = flags,
	};
	vm_fault_t ret;
	pmd_t pmdval;
	int err;

	mm_stat_add(vma->vm_mm, MM_PGFAULT, 1);
	err = walk_to_pmd(vma->vm_mm, vmf.address, &vmf.pmd);
	if (err)
		return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
	pmdval = pmdp_get_lockless(vmf.pmd);
	if (pmd_none(pmdval) && thp_vma_allowable(vma)) {
		ret = do_huge_pmd_anonymous_page(&vmf);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	} else if (pmd_leaf(pmdval)) {
		ret = huge_pmd_fault(&vmf, pmdval);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	return handle_pte_fault(&vmf);
}

/*
 * x86's rule: any right lets a VMA be read; write and exec need theirs.
 * A CPU raises a fault for one kind of access; a caller may ask several,
 * and each must be allowed (x86 checks write alone, arm64 exec alone, so
 * stopping at the first would grant exec on a writable data VMA).
 */
static bool access_error(struct vm_area_struct *vma, unsigned int access)
{
	if ((access & UMM_WRITE) && !(vma->vm_flags & VM_WRITE))
		return true;
	if ((access & UMM_EXEC) && !(vma->vm_flags & VM_EXEC))
		return true;
	return !(vma->vm_flags & VM_ACCESS_FLAGS);
}

/*
 * lock_mm_and_find_vma - the VMA holding @addr, with mmap_lock held for
 * read; with @expand, a VM_GROWSDOWN VMA above @addr is first grown down
 * to it under mmap_lock for write. umm's rwsem has no downgrade, so after
 * the growth the lookup starts over under the read lock; whatever another
 * thread mapped or unmapped meanwhile is then judged afresh, so the fault
 * fails only where the address space, as it is, says it must.
 * Locking: none held on entry; takes mmap_lock (read, and write to grow).
 * Return: the VMA with mmap_lock held (read), or NULL with it released.
 */
static struct vm_area_struct *lock_mm_and_find_vma(struct umm_mm *mm,
						   uint64_t addr, bool expand)
{
	struct vm_area_struct *vma;
	int err;

	for (;;) {
		bool grows;

		mmap_read_lock(mm);
		vma = find_vma(mm, addr);
		if (likely(vma && vma->vm_start <= addr))
			return vma;
		/* read under the lock: the VMA may be freed once it is dropped */
		grows = vma && (vma->vm_flags & VM_GROWSDOWN);
		mmap_read_unlock(mm);
		if (!grows || !expand)
			return NULL;
		mmap_write_lock(mm);
		vma = find_vma(mm, addr);
		err = 0;	/* mapped meanwhile: look again */
		if (!vma)
			err = -EFAULT;
		else if (vma->vm_start > addr)
			err = expand_downwards(vma, addr);
		mmap_write_unlock(mm);
		if (err)
			return NULL;
	}
}

static vm_fault_t __do_user_fault(struct umm_mm *mm, uint64_t addr, unsigned int access,
				  bool (*vma_refused)(struct vm_area_struct *, unsigned int))
{
	bool cpu = !vma_refused;

	unsigned int flags = (access & UMM_WRITE) ? FAULT_FLAG_WRITE : 0;
	struct vm_area_struct *vma;
	vm_fault_t fault;

	if (!vma_refused)
		vma_refused = access_error;
	if (!(mm->flags & UMM_NO_PER_VMA_LOCK)) {
		vma = lock_vma_under_rcu(mm, addr);
		if (vma) {
			if (vma_refused(vma, access)) {
				vma_end_read(vma);
				return VM_FAULT_SIGSEGV;
			}
			fault = handle_mm_fault(vma, addr, flags | FAULT_FLAG_VMA_LOCK);
			vma_end_read(vma);
			if (!(fault & VM_FAULT_RETRY)) {
				mm_stat_add(mm, MM_VMA_LOCK_SUCCESS, 1);
				return fault;
			}
			mm_stat_add(mm, MM_VMA_LOCK_RETRY, 1);
		}
	}
	vma = lock_mm_and_find_vma(mm, addr, cpu);
	if (!vma)
		return VM_FAULT_SIGSEGV;
	if (vma_refused(vma, access))
		fault = VM_FAULT_SIGSEGV;
	else
		fault = handle_mm_fault(vma, addr, flags);
	mmap_read_unlock(mm);
	return fault;
}

/*
 * Out of memory, with THPs partly unmapped (of any mm): split them, their
 * holes still charged, and fault once more if that gave frames back
 * (the kernel's deferred-split shrinker runs inside the allocator).
 */
vm_fault_t do_user_fault(struct umm_mm *mm, uint64_t addr, unsigned int access,
			 bool (*vma_refused)(struct vm_area_struct *, unsigned int))
{
	vm_fault_t fault = __do_user_fault(mm, addr, access, vma_refused);
	uint64_t freed;

	if (likely(!(fault & VM_FAULT_OOM)) || !deferred_split_pending())
		return fault;
	mmap_read_lock(mm);
	freed = deferred_split_scan(mm);
	mmap_read_unlock(mm);
	return freed ? __do_user_fault(mm, addr, access, vma_refused) : fault;
}

int fault_to_errno(vm_fault_t fault)
{
	if (fault & VM_FAULT_OOM)
		return -ENOMEM;
	if (fault & VM_FAULT_SIGBUS)
		return -EIO;
	if (fault & VM_FAULT_SIGSEGV)
		return -EFAULT;
	return 0;
}

__visible int umm_fault(struct umm_mm *mm, uint64_t addr, unsigned int access)
{
	if (!mm || !access || (access & ~(UMM_READ | UMM_WRITE | UMM_EXEC)))
		return -EINVAL;
	if (addr >= mm->task_size)
		return -EFAULT;
	tlb_get(mm);	/* this thread's counters; without them, shared ones */
	return fault_to_errno(do_user_fault(mm, addr, access, NULL));
}
