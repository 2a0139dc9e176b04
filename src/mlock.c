// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mlock.c - mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2).
 *
 * Locking memory sets VM_LOCKED (and, for "on fault", VM_LOCKONFAULT) on
 * the VMAs of a range, splitting and merging them as any change of flags
 * does, then faults the range in. umm has no reclaim, so a locked page is
 * one that stays anyway: what the flags change is the layout, smaps'
 * Locked and "lo", the advice a locked VMA refuses (MADV_DONTNEED,
 * MADV_FREE, MADV_COLD, MADV_PAGEOUT), what mremap and mprotect fault in,
 * and what a THP split keeps. mlockall(MCL_FUTURE) makes every later
 * mapping locked too (mm->def_flags), not inherited by a fork's child.
 * umm behaves as a process with CAP_IPC_LOCK: RLIMIT_MEMLOCK is not
 * modelled, so nothing is refused for its size.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "uapi_mman.h"

#define VM_LOCKED_MASK	(VM_LOCKED | VM_LOCKONFAULT)

/*
 * apply_vma_lock_flags - give the VMAs of [start, start + len) @flags as
 * their locked bits: a hole at @start changes nothing, a hole further on
 * ends the walk after the VMAs before it changed (both -ENOMEM), as the
 * kernel's loop. Locking: mmap_lock held for write.
 * Return: 0, -EINVAL (the range wraps), -ENOMEM.
 */
static int apply_vma_lock_flags(struct umm_mm *mm, uint64_t start, uint64_t len,
				unsigned long flags)
{
	uint64_t end = start + len, tmp = start;
	struct vma_plan p;
	int ret = 0, err;
	size_t i;

	if (end < start)
		return -EINVAL;
	if (end == start)
		return 0;
	err = vma_plan_init(&p, mm, start, end, true);
	if (err)
		goto out;
	i = vma_plan_find(&p, start);
	if (i == p.nr || p.d[i].start > start) {
		ret = -ENOMEM;
		goto out;
	}
	while (tmp < end) {
		unsigned long newflags;
		uint64_t stop;

		if (i == p.nr || p.d[i].start > tmp) {
			ret = -ENOMEM;
			break;
		}
		stop = p.d[i].end < end ? p.d[i].end : end;
		newflags = (p.d[i].flags & ~VM_LOCKED_MASK) | flags;
		if (newflags != p.d[i].flags && vma_supports_mlock(p.d[i].flags)) {
			if (vma_plan_modify(&p, tmp, stop, newflags)) {
				ret = -ENOMEM;
				break;
			}
			i = vma_plan_find(&p, tmp);
		}
		tmp = stop;
		i++;
	}
	vma_plan_merge(&p);
	err = vma_plan_commit(&p);
out:
	vma_plan_release(&p);
	return err ? err : ret;
}

/* The errors mlock() reports for a failed fault-in, as POSIX has them. */
static int mlock_posix_error(int err)
{
	if (err == -EFAULT)
		return -ENOMEM;
	if (err == -ENOMEM)
		return -EAGAIN;
	return err;
}

/*
 * do_mlock - lock (or, @flags 0, unlock) the pages holding [addr, addr +
 * len); locking faults them in afterwards, with mmap_lock for read only.
 * Locking: takes mmap_lock.
 */
static int do_mlock(struct umm_mm *mm, uint64_t addr, uint64_t len, unsigned long flags)
{
	uint64_t start = addr & PAGE_MASK;
	int err;

	if (!mm)
		return -EINVAL;
	/* the page the range starts in counts; a length that wraps is none */
	len = ALIGN_UP(len + (addr & ~PAGE_MASK), PAGE_SIZE);
	mmap_write_lock(mm);
	err = apply_vma_lock_flags(mm, start, len, flags);
	mmap_write_unlock(mm);
	if (err || !flags)
		return err;
	return mlock_posix_error(__mm_populate(mm, start, len, false));
}

__visible int umm_mlock(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	return do_mlock(mm, addr, len, VM_LOCKED);
}

__visible int umm_mlock2(struct umm_mm *mm, uint64_t addr, uint64_t len, unsigned int flags)
{
	if (flags & ~MLOCK_ONFAULT)
		return -EINVAL;
	return do_mlock(mm, addr, len,
			VM_LOCKED | ((flags & MLOCK_ONFAULT) ? VM_LOCKONFAULT : 0));
}

__visible int umm_munlock(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	return do_mlock(mm, addr, len, 0);
}

/*
 * Every VMA's locked bits, as apply_mlockall_flags(): MCL_FUTURE goes to
 * def_flags, MCL_CURRENT to each VMA; a VMA whose change fails (the map
 * count) is passed over. Locking: mmap_lock held for write.
 */
static void apply_mlockall_flags(struct umm_mm *mm, int flags)
{
	unsigned long to_add = 0;
	uint64_t addr = 0;

	mm->def_flags &= ~VM_LOCKED_MASK;
	if (flags & MCL_FUTURE) {
		mm->def_flags |= VM_LOCKED;
		if (flags & MCL_ONFAULT)
			mm->def_flags |= VM_LOCKONFAULT;
		if (!(flags & MCL_CURRENT))
			return;
	}
	if (flags & MCL_CURRENT)
		to_add = VM_LOCKED | ((flags & MCL_ONFAULT) ? VM_LOCKONFAULT : 0);
	for (;;) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		uint64_t start, end;

		if (!vma)
			break;
		start = vma->vm_start;
		end = vma->vm_end;
		/* the VMA may merge with those before it: go on from its end */
		apply_vma_lock_flags(mm, start, end - start, to_add);
		addr = end;
	}
}

__visible int umm_mlockall(struct umm_mm *mm, int flags)
{
	if (!mm || !flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) ||
	    flags == MCL_ONFAULT)
		return -EINVAL;
	mmap_write_lock(mm);
	apply_mlockall_flags(mm, flags);
	mmap_write_unlock(mm);
	if (flags & MCL_CURRENT)
		mm_populate(mm, 0, mm->task_size);
	return 0;
}

__visible int umm_munlockall(struct umm_mm *mm)
{
	if (!mm)
		return -EINVAL;
	mmap_write_lock(mm);
	apply_mlockall_flags(mm, 0);
	mmap_write_unlock(mm);
	return 0;
}
