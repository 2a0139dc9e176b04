// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc.c - the /proc/PID views of an address space, byte for byte as
 * Linux prints them.
 */
#include <errno.h>
#include <umm/umm.h>
#include "mm.h"
#include "filemap.h"

/* Where the path starts on a maps line: show_vma_header_prefix's width. */
#define MAPS_NAME_COLUMN	(25 + 8 * 6 - 1)

static int show_map_vma(FILE *out, struct vm_area_struct *vma)
{
	unsigned long f = vma->vm_flags;
	struct umm_file *file = vma->vm_file;
	unsigned long long pgoff = 0;
	unsigned int major = 0, minor = 0;
	unsigned long ino = 0;
	int n;

	if (file) {
		pgoff = (unsigned long long)vma->vm_pgoff << PAGE_SHIFT;
		major = file->dev_major;
		minor = file->dev_minor;
		ino = file->ino;
	}
	n = fprintf(out, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %lu ",
		    (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end,
		    f & VM_READ ? 'r' : '-', f & VM_WRITE ? 'w' : '-',
		    f & VM_EXEC ? 'x' : '-', f & VM_MAYSHARE ? 's' : 'p',
		    pgoff, major, minor, ino);
	if (n < 0)
		return -EIO;
	if (file && file->name &&
	    fprintf(out, "%*s%s", n < MAPS_NAME_COLUMN ? MAPS_NAME_COLUMN - n + 1 : 1,
		    "", file->name) < 0)
		return -EIO;
	return fputc('\n', out) == EOF ? -EIO : 0;
}

__visible int umm_maps(struct umm_mm *mm, FILE *out)
{
	struct vma_tree_iter it;
	struct vm_area_struct *vma;
	int err = 0;

	if (!mm || !out)
		return -EINVAL;
	mmap_read_lock(mm);
	vma_tree_iter_init(&it, &mm->mm_mt, 0);
	while (!err && (vma = vma_tree_iter_next(&it, NULL, NULL)))
		err = show_map_vma(out, vma);
	mmap_read_unlock(mm);
	return err;
}
