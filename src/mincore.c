// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mincore.c - umm_mincore: which pages of a range are resident, as
 * mincore(2) reports them: a present entry (the zero page included), or
 * for a file mapping a page in the file's cache.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "filemap.h"

/* Locking: mmap_lock held for read; RCU for the lockless table walk. */
static unsigned char page_resident(struct umm_mm *mm, struct vm_area_struct *vma,
				   uint64_t addr)
{
	unsigned char in = 0;
	pmd_t *pmd;
	pte_t *pte;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	if (pmd && pmd_leaf(pmdp_get_lockless(pmd))) {
		rcu_read_unlock();
		return 1;	/* a huge leaf: every page of it is in memory */
	}
	pte = pmd ? pte_offset_map(pmd, addr) : NULL;
	if (pte) {
		pte_t v = ptep_get(pte);

		in = !pte_none(v) && pte_present(v);
		pte_unmap(pte);
	}
	if (!in && vma->vm_file) {
		uint64_t pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);

		in = xa_load(&vma->vm_file->i_pages, pgoff) != NULL;
	}
	rcu_read_unlock();
	return in;
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
		for (; start < stop; start += PAGE_SIZE)
			*vec++ = page_resident(mm, vma, start);
	}
	mmap_read_unlock(mm);
	return err;
}
