// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * msync.c - umm_msync: msync(2)'s checks and walk in the kernel's order.
 * MS_SYNC writes back each shared file mapping's part of its file (the
 * dirty pages found through the page cache, whichever mm dirtied them);
 * MS_ASYNC does nothing more than check, as on Linux since 2.6.19, since
 * dirty pages are tracked anyway. Holes in the range are skipped and
 * reported as -ENOMEM at the end.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "filemap.h"

__visible int umm_msync(struct umm_mm *mm, uint64_t start, uint64_t len, int flags)
{
	int unmapped_error = 0, error;
	struct vm_area_struct *vma;
	uint64_t end;

	if (!mm)
		return -EINVAL;
	if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	if ((flags & MS_ASYNC) && (flags & MS_SYNC))
		return -EINVAL;
	len = ALIGN_UP(len, PAGE_SIZE);
	end = start + len;
	if (end < start)
		return -ENOMEM;
	if (end == start)
		return 0;
	mmap_read_lock(mm);
	vma = find_vma(mm, start);
	for (;;) {
		struct umm_file *file;
		uint64_t fstart, fend;

		error = -ENOMEM;
		if (!vma)
			break;
		if (start < vma->vm_start) {
			if (flags == MS_ASYNC)
				break;
			start = vma->vm_start;
			if (start >= end)
				break;
			unmapped_error = -ENOMEM;
		}
		if ((flags & MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED)) {
			error = -EBUSY;
			break;
		}
		file = vma->vm_file;
		fstart = (start - vma->vm_start) + (vma->vm_pgoff << PAGE_SHIFT);
		fend = fstart + ((end < vma->vm_end ? end : vma->vm_end) - start) - 1;
		start = vma->vm_end;
		if ((flags & MS_SYNC) && file && (vma->vm_flags & VM_SHARED)) {
			/* the write-back runs without mmap_lock, holding the file */
			get_file(file);
			mmap_read_unlock(mm);
			error = filemap_write_and_wait_range(file->f_mapping, fstart, fend);
			fput(file);
			if (error || start >= end)
				return error ? error : unmapped_error;
			mmap_read_lock(mm);
			vma = find_vma(mm, start);
		} else {
			if (start >= end) {
				error = 0;
				break;
			}
			vma = find_vma(mm, vma->vm_end);
		}
	}
	mmap_read_unlock(mm);
	return error ? error : unmapped_error;
}
