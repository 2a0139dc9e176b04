// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mincore.c - umm_mincore: which pages of a range are resident, as
 * mincore(2) reports them: a present entry (the zero page included), or
 * for a file mapping a page in the file's cache. Entries are read under
 * their table's lock, as the kernel's.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "filemap.h"

/* A page no entry maps: resident if the file a VMA maps has it cached. */
static unsigned char cache_resident(struct vm_area_struct *vma, uint64_t addr)
{
	uint64_t pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	unsigned char in;

	if (!vma->vm_file)
		return 0;
	rcu_read_lock();
	in = xa_load(&vma->vm_file->f_mapping->i_pages, pgoff) != NULL;
	rcu_read_unlock();
	return in;
}

/*
 * The pages [addr, end) of @vma, all under one PMD entry, into @vec, as
 * mincore_pte_range: the entries read under their table's lock, since a
 * locked updater may take an entry out for a moment and put it back (a
 * THP split does so with each of the folio's entries while it looks for
 * zero-filled pages; the kernel's leaves a migration entry there, which
 * mincore counts as resident), and a lockless look would see a hole.
 * Locking: mmap_lock held for read (the upper tables stay); takes the PTE lock.
 */
static void pmd_range_resident(struct umm_mm *mm, struct vm_area_struct *vma,
			       uint64_t addr, uint64_t end, unsigned char *vec)
{
	spinlock_t *ptl;
	pte_t *pte;

	/*
	 * One look at the PMD decides, as the kernel's walk: a split or a
	 * collapse may change it between two looks, and a leaf seen first
	 * and a table second would read as a hole. A table that goes before
	 * its lock is taken (pte_offset_map_lock fails) is looked at again.
	 */
	for (;;) {
		pmd_t *pmd;
		pmd_t v;

		rcu_read_lock();
		pmd = pmd_off_lockless(mm, addr);
		rcu_read_unlock();
		v = pmd ? pmdp_get_lockless(pmd) : __pmd(0);
		if (pmd_leaf(v) || pmd_none(v)) {
			/* a huge leaf: every page of it is in memory; or no table */
			for (; addr < end; addr += PAGE_SIZE)
				*vec++ = pmd_leaf(v) ? 1 : cache_resident(vma, addr);
			return;
		}
		pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
		if (pte)
			break;
	}
	for (pte_t *p = pte; addr < end; addr += PAGE_SIZE, p++, vec++) {
		pte_t v = ptep_get(p);

		*vec = !pte_none(v) && pte_present(v);
		/* the page-cache lookup is lockless (RCU): allowed under the PTE lock */
		if (!*vec)
			*vec = cache_resident(vma, addr);
	}
	pte_unmap_unlock(pte, ptl);
}

__visible int umm_mincore(struct umm_mm *mm, uint64_t start, uint64_t len,
			  unsigned char *vec)
{
	uint64_t pages, end;
	int err = 0;

	if (!mm)
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	if (len > mm->task_size || start > mm->task_size - len)
		return -ENOMEM;
	pages = (len >> PAGE_SHIFT) + ((len & ~PAGE_MASK) != 0);
	if (!pages)
		return 0;
	end = start + (pages << PAGE_SHIFT);
	mmap_read_lock(mm);
	while (start < end) {
		struct vm_area_struct *vma = vma_lookup(mm, start);
		uint64_t stop;

		if (!vma) {
			err = -ENOMEM;	/* a hole: what came before is filled in */
			break;
		}
		/*
		 * Linux looks the first VMA up before it copies an entry
		 * out, so a NULL vector is -ENOMEM for a hole at @start and
		 * -EFAULT only once there is something to copy.
		 */
		if (!vec) {
			err = -EFAULT;
			break;
		}
		stop = vma->vm_end < end ? vma->vm_end : end;
		while (start < stop) {
			uint64_t next = pmd_addr_end(start, stop);

			pmd_range_resident(mm, vma, start, next, vec);
			vec += (next - start) >> PAGE_SHIFT;
			start = next;
		}
	}
	mmap_read_unlock(mm);
	return err;
}
