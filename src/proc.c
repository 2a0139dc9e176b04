// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc.c - the /proc/PID views of an address space, byte for byte as
 * Linux prints them.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "filemap.h"
#include "pagewalk.h"
#include "rmap.h"

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

/* /proc/PID/pagemap's bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_FILE			(1ULL << 61)
#define PM_PRESENT		(1ULL << 63)

struct pagemap_walk {
	uint64_t start;		/* the address of out[0] */
	uint64_t *out;
};

/*
 * One entry, as pte_to_pagemap_entry: the frame, present, and for a page
 * that is not the zero page, whether it belongs to a file (or shared
 * memory) and whether this is its only mapping. No soft-dirty bit: umm,
 * like the host kernels it is checked against, keeps no VM_SOFTDIRTY.
 * Locking: the PTE lock held (pte_entry).
 */
static int pagemap_pte(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	struct pagemap_walk *pm = walk->private;
	pte_t v = ptep_get(pte);
	uint64_t e = 0;

	(void)next;
	if (pte_present(v)) {
		e = PM_PRESENT | (pte_pfn(v) & PM_PFN_MASK);
		if (!pte_special(v)) {
			struct page *page = pfn_to_page(pte_pfn(v));

			if (!PageAnon(compound_head(page)))
				e |= PM_FILE;
			if (__atomic_load_n(&page->mapcount, __ATOMIC_RELAXED) == 1)
				e |= PM_MMAP_EXCLUSIVE;
		}
	}
	pm->out[(addr - pm->start) >> PAGE_SHIFT] = e;
	return 0;
}

static const struct mm_walk_ops pagemap_ops = { .pte_entry = pagemap_pte };

__visible int umm_pagemap(struct umm_mm *mm, uint64_t addr, uint64_t npages,
			  uint64_t *out)
{
	struct pagemap_walk pm = { .start = addr, .out = out };
	int err;

	if (!mm || (addr & ~PAGE_MASK) || addr > mm->task_size ||
	    npages > (mm->task_size - addr) >> PAGE_SHIFT)
		return -EINVAL;
	if (!npages)
		return 0;
	if (!out)
		return -EFAULT;
	/* holes, tables not there, entries not present: all read as 0 */
	memset(out, 0, npages * sizeof(*out));
	mmap_read_lock(mm);
	err = walk_page_range(mm, addr, addr + (npages << PAGE_SHIFT), &pagemap_ops, &pm);
	mmap_read_unlock(mm);
	return err;
}
