// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mseal.c - umm_mseal: memory sealing, as Linux 6.10+'s mseal(2). A
 * sealed VMA keeps its place, size and rights for the life of the mm:
 * munmap, mmap over it, mremap of it or onto it and mprotect fail with
 * -EPERM, as do the discarding kinds of madvise on private anonymous
 * memory the caller may not write. The checks sit where the kernel's do,
 * VMA by VMA, so a call that reaches a sealed VMA keeps what it did to
 * the VMAs before it (mprotect, madvise) or the split it made at its start
 * (munmap, mmap, mremap's destination).
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "uapi_mman.h"

/* Advice that throws data away (the kernel's is_discard). */
static bool madvise_discards(int behavior)
{
	switch (behavior) {
	case MADV_FREE:
	case MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
	case MADV_REMOVE:
	case MADV_DONTFORK:
	case MADV_WIPEONFORK:
	case MADV_GUARD_INSTALL:
		return true;
	}
	return false;
}

/* Locking: none of its own; the caller holds mmap_lock (seals change under it for write). */
bool can_madvise_modify(unsigned long vm_flags, bool anonymous, int behavior)
{
	if (!(vm_flags & VM_SEALED) || !madvise_discards(behavior))
		return true;
	/*
	 * File mappings, private ones too, may drop their pages: what comes
	 * back is the file's. Anonymous memory the caller could overwrite
	 * anyway may be discarded; read-only anonymous memory may not, or
	 * sealing it would not keep its contents.
	 */
	return !anonymous || (vm_flags & VM_WRITE);
}

int munmap_sealed(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area_struct *first, *vma;
	struct vma_plan p;
	int err;

	if (!mm->sealed)
		return 0;	/* the common case: no lookup */
	first = find_vma(mm, start);
	for (vma = first; vma && vma->vm_start < end; vma = vma_next_of(mm, vma))
		if (vma->vm_flags & VM_SEALED)
			break;
	if (!vma || vma->vm_start >= end)
		return 0;
	/*
	 * The kernel splits the first VMA at @start before it walks on and
	 * meets the sealed one; the split stays (unless that first VMA is
	 * the sealed one: then it does not bother).
	 */
	if (vma == first || first->vm_start >= start)
		return -EPERM;
	err = vma_plan_init(&p, mm, first->vm_start, first->vm_end, false);
	if (!err)
		err = vma_plan_split(&p, start);
	if (!err)
		err = vma_plan_commit(&p);
	vma_plan_release(&p);
	return err ? err : -EPERM;
}

/*
 * Seal each VMA of [start, end) not sealed yet, merging as the kernel's
 * vma_modify_flags does; a split refused at the map count limit ends it
 * with -ENOMEM, the VMAs before sealed.
 * Locking: mmap_lock held for write.
 */
static int mseal_apply(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct vma_plan p;
	int ret = 0, err;
	size_t i;

	err = vma_plan_init(&p, mm, start, end, true);
	if (err)
		goto out;
	mm->sealed = true;
	for (i = vma_plan_find(&p, start); start < end; i++) {
		uint64_t tmp = p.d[i].end < end ? p.d[i].end : end;

		if (!(p.d[i].flags & VM_SEALED)) {
			ret = vma_plan_modify(&p, start, tmp, p.d[i].flags | VM_SEALED);
			if (ret)
				break;
			i = vma_plan_find(&p, start);
		}
		start = tmp;
	}
	vma_plan_merge(&p);
	err = vma_plan_commit(&p);
out:
	vma_plan_release(&p);
	return err ? err : ret;
}

/* Is [start, end) mapped throughout? Locking: mmap_lock held. */
static bool range_mapped(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area_struct *vma = find_vma(mm, start);

	for (; vma && vma->vm_start <= start; vma = vma_next_of(mm, vma)) {
		if (vma->vm_end >= end)
			return true;
		start = vma->vm_end;
	}
	return false;
}

__visible int umm_mseal(struct umm_mm *mm, uint64_t start, uint64_t len_in,
			unsigned long flags)
{
	uint64_t len, end;
	int err;

	if (!mm || flags || (start & ~PAGE_MASK))
		return -EINVAL;
	len = ALIGN_UP(len_in, PAGE_SIZE);
	if (len < len_in)
		return -EINVAL;
	end = start + len;
	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	mmap_write_lock(mm);
	/* no hole anywhere: a hole could be mapped afresh, unsealed */
	err = range_mapped(mm, start, end) ? mseal_apply(mm, start, end) : -ENOMEM;
	mmap_write_unlock(mm);
	return err;
}
