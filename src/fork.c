// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fork.c - umm_fork: a copy of an address space, private memory shared
 * copy-on-write.
 *
 * Every parent VMA is write-locked for the copy (faults on it wait), as
 * the kernel's dup_mmap does: otherwise a fault could install an entry
 * after its table was copied, and the child would miss it or share a page
 * that the parent goes on writing. Private pages end up write-protected in
 * both mms; a pinned page is copied for the child at once instead, so the
 * pinner's writes stay the parent's (page_maybe_dma_pinned). Shared
 * mappings are not copied: the child faults them in from their file;
 * but a VMA that may hold guard markers (VM_MAYBE_GUARD) has all its
 * entries copied, markers and pages, as the kernel's vma_needs_copy().
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "huge_memory.h"
#include "memory.h"
#include "rmap.h"
#include "tlb.h"
#include "filemap.h"
#include "mmu_notifier.h"

/*
 * Copy one entry. Locking: the parent's PTE lock (@src_ptl) and the
 * child's table lock are held. Return: 0, or -EAGAIN when a pinned page
 * needs a copy (made by the caller outside the locks).
 */
static int copy_present_pte(struct umm_mm *dst, pte_t *dst_pte, pte_t *src_pte,
			    struct vm_area_struct *vma)
{
	pte_t pte = ptep_get(src_pte);
	struct page *page, *head;

	if (pte_special(pte)) {		/* the zero page */
		set_pte(dst_pte, pte);
		return 0;
	}
	page = pfn_to_page(pte_pfn(pte));	/* a THP's page, not its head */
	head = compound_head(page);
	/* as folio_try_dup_anon_rmap_pte: only this mm's own page is pinned */
	if (PageAnon(head) && page_maybe_dma_pinned(head) && page_exclusive(page))
		return -EAGAIN;
	get_page(head);
	page_dup_rmap_pte(page);
	if (PageAnon(head)) {
		mm_stat_add(dst, MM_ANONPAGES, 1);
		if (PageHead(head)) {	/* both mms map it now */
			clear_bit_page(PG_anon_exclusive, page);
			mm_set_thp_seen(dst);
		}
	}
	/*
	 * As copy_present_pte: private, both sides copy on their next write
	 * and keep the dirty bit (mprotect makes a dirty private entry
	 * writable only while its page is exclusive, which a shared page is
	 * not); shared, the child's entry is clean. The child's is old.
	 */
	if (!(vma->vm_flags & VM_SHARED)) {
		__atomic_fetch_and(&src_pte->pte, ~_PAGE_RW, __ATOMIC_RELEASE);
		pte = pte_wrprotect(pte);
	} else {
		pte = pte_mkclean(pte);
	}
	set_pte(dst_pte, pte_mkold(pte));
	return 0;
}

/* The child's own copy of a pinned page. Locking: none held. */
static int copy_pinned_page(struct umm_mm *dst, struct vm_area_struct *dst_vma,
			    pmd_t *dst_pmd, uint64_t addr, struct page *src)
{
	struct page *page = alloc_page(dst->quota, __GFP_NOZERO);
	spinlock_t *ptl;
	pte_t *pte, entry;

	if (!page)
		return -ENOMEM;
	memcpy(page_address(page), page_address(src), PAGE_SIZE);
	pte = pte_offset_map_lock(dst, dst_pmd, addr, &ptl);
	if (!pte) {
		put_page(page);
		return -ENOMEM;
	}
	page_add_new_anon_rmap(page, dst_vma, addr);
	mm_stat_add(dst, MM_ANONPAGES, 1);
	entry = pte_mkdirty(pfn_pte(page_to_pfn(page), vm_get_page_prot(dst_vma->vm_flags)));
	if (dst_vma->vm_flags & VM_WRITE)	/* the kernel's maybe_mkwrite */
		entry = pte_mkwrite(entry);
	set_pte(pte, entry);
	pte_unmap_unlock(pte, ptl);
	return 0;
}

/* Locking: parent mmap_lock (write), @vma write-locked. */
static int copy_pte_range(struct umm_mm *dst, struct vm_area_struct *dst_vma,
			  struct umm_mm *src, struct vm_area_struct *vma,
			  pmd_t *src_pmd, uint64_t addr, uint64_t end)
{
	while (addr < end) {
		spinlock_t *src_ptl, *dst_ptl;
		pte_t *src_pte, *dst_pte;
		struct page *pinned = NULL;
		pmd_t *dst_pmd;
		int err = walk_to_pmd(dst, addr, &dst_pmd);

		if (!err)
			err = pte_alloc(dst, dst_pmd);
		if (err)
			return -ENOMEM;
		src_pte = pte_offset_map_lock(src, src_pmd, addr, &src_ptl);
		if (!src_pte)
			return 0;
		dst_pte = pte_offset_map_nolock(dst, dst_pmd, addr, &dst_ptl);
		if (!dst_pte) {
			pte_unmap_unlock(src_pte, src_ptl);
			return -ENOMEM;
		}
		spin_lock(dst_ptl);	/* another mm's table: no order with src */
		for (; addr < end; addr += PAGE_SIZE, src_pte++, dst_pte++) {
			pte_t pte = ptep_get(src_pte);

			if (is_pte_marker(pte)) {
				/* copy_pte_marker(): a guard region is inherited */
				set_pte(dst_pte, pte);
				continue;
			}
			if (!(pte_flags(pte) & (_PAGE_PRESENT | _PAGE_PROTNONE)))
				continue;
			if (copy_present_pte(dst, dst_pte, src_pte, vma) == -EAGAIN) {
				pinned = pfn_to_page(pte_pfn(pte));
				get_page(pinned);
				break;
			}
		}
		spin_unlock(dst_ptl);
		pte_unmap(dst_pte);
		pte_unmap_unlock(src_pte, src_ptl);
		if (pinned) {
			err = copy_pinned_page(dst, dst_vma, dst_pmd, addr, pinned);
			put_page(pinned);
			if (err)
				return err;
			addr += PAGE_SIZE;
		}
	}
	return 0;
}

static int copy_page_range(struct umm_mm *dst, struct vm_area_struct *dst_vma,
			   struct umm_mm *src, struct vm_area_struct *vma)
{
	uint64_t addr = vma->vm_start, next;

	for (; addr < vma->vm_end; addr = next) {
		pmd_t *pmd;
		int err;

		next = pmd_addr_end(addr, vma->vm_end);
		rcu_read_lock();
		pmd = pmd_off_lockless(src, addr);
		if (!pmd)
			next = pmd_hole_end(src, addr, vma->vm_end);
		rcu_read_unlock();
		if (!pmd || pmd_none(pmdp_get(pmd)))
			continue;
		if (pmd_leaf(pmdp_get(pmd))) {
			pmd_t *dst_pmd;

			err = walk_to_pmd(dst, addr, &dst_pmd);
			if (err)
				return -ENOMEM;
			err = copy_huge_pmd(dst, src, dst_pmd, pmd, addr);
			if (err == -ENOMEM)
				return err;
			if (!err)
				continue;
			/* split (pinned, or a table by now): copy its PTEs */
		}
		err = copy_pte_range(dst, dst_vma, src, vma, pmd, addr, next);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The child's VMA: linked to every anon_vma of the parent's (the pages
 * they share are found from both) and to a new one of its own; the longer
 * chain keeps it from merging but with VMAs of the same anon_vma. Its
 * flags are the parent's but for mlock's, which fork does not pass on.
 * Locking: parent mmap_lock (write); @vma write-locked.
 */
static struct vm_area_struct *dup_vma(struct umm_mm *child, struct vm_area_struct *vma)
{
	struct vm_area_struct *new = vm_area_alloc(child);

	if (!new)
		return NULL;
	new->vm_start = vma->vm_start;
	new->vm_end = vma->vm_end;
	new->vm_pgoff = vma->vm_pgoff;
	/* mlock belongs to the process that asked: a child starts unlocked */
	new->vm_flags = vma->vm_flags & ~(VM_LOCKED | VM_LOCKONFAULT);
	new->vm_file = get_file(vma->vm_file);
	if (vma->anon_vma && !(vma->vm_flags & VM_WIPEONFORK)) {
		if (anon_vma_fork(new, vma)) {
			vm_area_free(new);
			return NULL;
		}
	}
	return new;
}

/* Locking: parent mmap_lock held for write; the child is private to us. */
static int dup_mmap(struct umm_mm *child, struct umm_mm *parent)
{
	struct vma_tree_iter it;
	struct vm_area_struct *vma;
	int err = 0;

	vma_tree_iter_init(&it, &parent->mm_mt, 0);
	while ((vma = vma_tree_iter_next(&it, NULL, NULL))) {
		struct vm_area_struct *new;

		vma_start_write(vma);
		if (vma->vm_flags & VM_DONTCOPY)
			continue;
		new = dup_vma(child, vma);
		if (!new)
			return -ENOMEM;
		vma_mark_attached(new);
		vma_link_file(new);
		err = vma_tree_insert(&child->mm_mt, new->vm_start, new->vm_end, new);
		if (err) {
			vma_unlink_file(new);
			new->vm_refcnt = 0;
			vm_area_free(new);
			return err;
		}
		child->map_count++;
		/*
		 * Wiped and shared memory is faulted in afresh by the child;
		 * a VMA that may hold guard markers is copied whole, present
		 * entries too (vma_needs_copy()).
		 */
		if (!new->anon_vma && (!(vma->vm_flags & VM_MAYBE_GUARD) ||
				       (vma->vm_flags & VM_WIPEONFORK)))
			continue;
		/*
		 * A truncation must not zap the parent's entries before they
		 * are copied and the child's before: keep rmap walkers out of
		 * the file while copying (the kernel orders i_mmap instead).
		 */
		if (vma->vm_file)
			down_write(&vma->vm_file->f_mapping->i_mmap_rwsem);
		mmu_notifier_invalidate_range_start(parent, vma->vm_start, vma->vm_end);
		err = copy_page_range(child, new, parent, vma);
		mmu_notifier_invalidate_range_end(parent, vma->vm_start, vma->vm_end);
		if (vma->vm_file)
			up_write(&vma->vm_file->f_mapping->i_mmap_rwsem);
		if (err)
			return err;
	}
	return 0;
}

/* One try of umm_fork. Locking: takes the parent's mmap_lock (write). */
static int dup_mm(struct umm_mm *parent, struct umm_mm **childp)
{
	struct umm_opts o = { 0 };
	struct umm_mm *child;
	int err;

	o.size = sizeof(o);
	o.pgtable_levels = parent->pgtable_levels;
	o.max_map_count = parent->max_map_count;
	o.phys_limit = parent->quota->limit == QUOTA_UNLIMITED ? 0 :
		       parent->quota->limit << PAGE_SHIFT;
	o.thp = parent->thp;
	o.stack_limit = parent->stack_limit;
	o.flags = parent->flags;
	child = umm_mm_create(&o);
	if (!child)
		return -ENOMEM;
	mmap_write_lock(parent);
	err = dup_mmap(child, parent);
	child->sealed = parent->sealed;		/* its VMAs keep their seals */
	/* the parent's entries lost their write right: no stale TLB keeps it */
	flush_tlb_mm_range(parent, 0, parent->task_size);
	/* the kernel's khugepaged_fork: the child inherits the parent's place */
	if (!err && READ_ONCE(parent->khugepaged_on))
		khugepaged_enter(child);
	mmap_write_unlock(parent);
	if (err) {
		umm_mm_destroy(child);
		return err;
	}
	*childp = child;
	return 0;
}

/*
 * Out of memory, the child goes, and the deferred split gives back the
 * holes of partly mapped THPs (any mm's, as the kernel's reclaim inside
 * the child's allocations would): worth one more fork if it freed any.
 * Locking: no mmap_lock held.
 */
static bool fork_reclaim(struct umm_mm *parent, int err, bool *tried)
{
	if (err != -ENOMEM || *tried || !deferred_split_pending())
		return false;
	*tried = true;
	return deferred_split_scan(parent);
}

__visible int umm_fork(struct umm_mm *parent, struct umm_mm **childp)
{
	bool tried = false;
	int err;

	if (!parent || !childp)
		return -EINVAL;
	do {
		err = dup_mm(parent, childp);
	} while (fork_reclaim(parent, err, &tried));
	return err;
}
