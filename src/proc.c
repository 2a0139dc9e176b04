// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc.c - the /proc/PID views of an address space, byte for byte as
 * Linux prints them.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "huge_memory.h"
#include "filemap.h"
#include "pagewalk.h"
#include "rmap.h"
#include "mmu_notifier.h"
#include "tlb.h"

/* Where the path starts on a maps line: show_vma_header_prefix's width. */
#define MAPS_NAME_COLUMN	(25 + 8 * 6 - 1)

/*
 * The path column, after the @n characters before it, and the newline.
 * Locking: mmap_lock (read) keeps @file, the VMA's; takes no lock.
 */
static int show_map_path(FILE *out, struct umm_file *file, int n)
{
	char *path = file_maps_path(file);
	int err = 0;

	if (!path)
		return -ENOMEM;
	if (*path && fprintf(out, "%*s%s", n < MAPS_NAME_COLUMN ? MAPS_NAME_COLUMN - n + 1 : 1,
			     "", path) < 0)
		err = -EIO;
	if (fputc('\n', out) == EOF)
		err = -EIO;
	free(path);
	return err;
}

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
		major = file->f_mapping->dev_major;
		minor = file->f_mapping->dev_minor;
		ino = file->f_mapping->ino;
	}
	n = fprintf(out, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %lu ",
		    (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end,
		    f & VM_READ ? 'r' : '-', f & VM_WRITE ? 'w' : '-',
		    f & VM_EXEC ? 'x' : '-', f & VM_MAYSHARE ? 's' : 'p',
		    pgoff, major, minor, ino);
	if (n < 0)
		return -EIO;
	if (file)
		return show_map_path(out, file, n);
	return fputc('\n', out) == EOF ? -EIO : 0;
}

/* Every VMA in address order, through @show, under mmap_lock (read). */
static int show_each_vma(struct umm_mm *mm, FILE *out,
			 int (*show)(FILE *, struct umm_mm *, struct vm_area_struct *))
{
	struct vma_tree_iter it;
	struct vm_area_struct *vma;
	int err = 0;

	if (!mm || !out)
		return -EINVAL;
	mmap_read_lock(mm);
	vma_tree_iter_init(&it, &mm->mm_mt, 0);
	while (!err && (vma = vma_tree_iter_next(&it, NULL, NULL)))
		err = show(out, mm, vma);
	mmap_read_unlock(mm);
	return err;
}

static int show_map(FILE *out, struct umm_mm *mm, struct vm_area_struct *vma)
{
	(void)mm;
	return show_map_vma(out, vma);
}

__visible int umm_maps(struct umm_mm *mm, FILE *out)
{
	return show_each_vma(mm, out, show_map);
}

/* /proc/PID/pagemap's bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_GUARD_REGION		(1ULL << 58)
#define PM_SWAP			(1ULL << 62)
/*
 * The frame field of a guard marker: the kernel reports a marker as the
 * swap entry it is, swap type | offset << 5, where the type is
 * SWP_PTE_MARKER (31 in x86-64 6.18's usual configuration) and the offset
 * PTE_MARKER_GUARD (bit 2). Copied from the host, which reads 0x9f.
 */
#define PM_GUARD_FRAME		0x9fULL
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
			if (page_mapcount(page) == 1)
				e |= PM_MMAP_EXCLUSIVE;
		}
	} else if (is_guard_pte_marker(v)) {
		e = PM_SWAP | PM_GUARD_REGION | PM_GUARD_FRAME;
	}
	pm->out[(addr - pm->start) >> PAGE_SHIFT] = e;
	return 0;
}

/*
 * A PMD leaf, as pagemap_pmd_range: each page present at its frame; all
 * of them exclusive or none, as the leaf's first page is (the kernel
 * decides once per leaf, so a page COWed away elsewhere reads as shared).
 * Locking: no table lock held (pmd_entry); takes the PMD lock.
 */
static int pagemap_pmd(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	struct pagemap_walk *pm = walk->private;
	uint64_t flags = PM_PRESENT;
	pmd_t v;
	spinlock_t *ptl = walk_pmd_leaf_lock(pmd, walk, &v);

	if (!ptl)
		return 0;
	if (!(pmd_flags(v) & (_PAGE_PRESENT | _PAGE_PROTNONE)))
		goto unlock;
	if (!(pmd_flags(v) & _PAGE_SPECIAL)) {
		if (!PageAnon(pmd_page(v)))
			flags |= PM_FILE;
		if (page_mapcount(pmd_page(v)) == 1)
			flags |= PM_MMAP_EXCLUSIVE;
	}
	for (; addr < next; addr += PAGE_SIZE) {
		uint64_t pfn = pmd_pfn(v) + pte_index(addr);

		pm->out[(addr - pm->start) >> PAGE_SHIFT] = flags | (pfn & PM_PFN_MASK);
	}
unlock:
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops pagemap_ops = {
	.pmd_entry = pagemap_pmd,
	.pte_entry = pagemap_pte,
};

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

/* ---- smaps ---- */

#define PSS_SHIFT	12	/* fixed-point PSS, as the kernel's */

struct mem_size_stats {
	uint64_t resident, shared_clean, shared_dirty, private_clean;
	uint64_t private_dirty, referenced, anonymous, lazyfree;
	uint64_t pss, pss_dirty, pss_locked, anon_thp, shmem_thp, file_thp;
};

/*
 * @nr pages from @page, mapped by one entry, as smaps_account: a page
 * mapped once is private, one mapped n times adds 1/n of itself to PSS.
 * Locking: the lock of the entry mapping them held.
 */
static void smaps_account(struct mem_size_stats *mss, struct mm_walk *walk,
			  struct page *page, unsigned int nr, bool young, bool dirty)
{
	struct page *head = compound_head(page);
	uint64_t size = (uint64_t)nr << PAGE_SHIFT;
	bool locked = walk->vma->vm_flags & VM_LOCKED;

	dirty |= test_bit_page(PG_dirty, head);
	if (PageAnon(head)) {
		mss->anonymous += size;
		/*
		 * Lazily free: MADV_FREE'd, or of a MAP_DROPPABLE mapping,
		 * whose folios are never swap-backed (folio_add_new_anon_rmap)
		 */
		if ((test_bit_page(PG_lazyfree, head) ||
		     (walk->vma->vm_flags & VM_DROPPABLE)) && !dirty)
			mss->lazyfree += size;
	}
	mss->resident += size;
	if (young)
		mss->referenced += size;
	for (unsigned int i = 0; i < nr; i++) {
		uint64_t pss = (uint64_t)PAGE_SIZE << PSS_SHIFT;
		int mapcount = page_mapcount(page + i);

		if (mapcount >= 2)
			pss /= (uint64_t)mapcount;
		mss->pss += pss;
		if (locked)
			mss->pss_locked += pss;
		if (dirty) {
			mss->pss_dirty += pss;
			*(mapcount < 2 ? &mss->private_dirty : &mss->shared_dirty) += PAGE_SIZE;
		} else {
			*(mapcount < 2 ? &mss->private_clean : &mss->shared_clean) += PAGE_SIZE;
		}
	}
}

/*
 * One present entry; the zero page is not counted.
 * Locking: the PTE lock held (pte_entry).
 */
static int smaps_pte(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	pte_t v = ptep_get(pte);

	(void)addr;
	(void)next;
	if (!pte_present(v) || pte_special(v))
		return 0;
	smaps_account(walk->private, walk, pfn_to_page(pte_pfn(v)), 1, pte_young(v),
		      pte_dirty(v));
	return 0;
}

/*
 * A PMD leaf, as smaps_pmd_entry: its pages, and the folio's kind - an
 * anonymous THP counts in AnonHugePages, a shmem one (collapsed into a
 * memory-backed file's cache, whoever maps it: shared, private or a
 * shared anonymous mapping) in ShmemPmdMapped, any other file's in
 * FilePmdMapped (umm makes none yet). The kernel tells shmem by the
 * folio's swapbacked bit; umm by the VMA's file, which a leaf of a file
 * folio always belongs to (a private copy is a small anonymous page).
 * Locking: no table lock held (pmd_entry); takes the PMD lock.
 */
static int smaps_pmd(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	struct mem_size_stats *mss = walk->private;
	pmd_t v;
	spinlock_t *ptl = walk_pmd_leaf_lock(pmd, walk, &v);

	if (!ptl)
		return 0;
	if (!pmd_leaf_maps_page(v))
		goto unlock;
	smaps_account(mss, walk, pmd_page(v) + pte_index(addr),
		      (unsigned int)((next - addr) >> PAGE_SHIFT),
		      pmd_flags(v) & _PAGE_ACCESSED, pmd_dirty(v));
	if (PageAnon(pmd_page(v)))
		mss->anon_thp += next - addr;
	else if (walk->vma->vm_file && walk->vma->vm_file->f_mapping->kind == FILE_SHMEM)
		mss->shmem_thp += next - addr;
	else
		mss->file_thp += next - addr;
unlock:
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops smaps_ops = {
	.pmd_entry = smaps_pmd,
	.pte_entry = smaps_pte,
};

/*
 * THPeligible, as thp_vma_allowable_orders(TVA_SMAPS) with only the PMD
 * size enabled: a VMA the mode allows THPs in (thp_vma_allowable) that
 * can hold an aligned 2 MiB block. umm's shared memory and files, like a
 * host with shmem_enabled=never and no file THP, are never eligible.
 */
static bool thp_eligible(struct vm_area_struct *vma)
{
	uint64_t haddr;

	if (!thp_vma_allowable(vma) || vma->vm_end - vma->vm_start < HPAGE_PMD_SIZE)
		return false;
	haddr = (vma->vm_end - HPAGE_PMD_SIZE) & ~(HPAGE_PMD_SIZE - 1);
	return haddr >= vma->vm_start;
}

/* show_smap_vma_flags: the kernel's two-letter names, by bit. */
static int show_smap_vma_flags(FILE *out, unsigned long flags)
{
	static const char *const mnemonics[64] = {
		[0] = "rd", [1] = "wr", [2] = "ex", [3] = "sh", [4] = "mr",
		[5] = "mw", [6] = "me", [7] = "ms", [8] = "gd", [9] = "um",
		[10] = "pf", [11] = "gu", [12] = "uw", [13] = "lo", [14] = "io", [15] = "sr",
		[16] = "rr", [17] = "dc", [18] = "de", [19] = "lf", [20] = "ac",
		[21] = "nr", [22] = "ht", [23] = "sf", [24] = "ar", [25] = "wf",
		[26] = "dd", [28] = "mm", [29] = "hg", [30] = "nh", [31] = "mg",
		[40] = "dp", [42] = "sl",
	};

	if (fputs("VmFlags: ", out) == EOF)
		return -EIO;
	for (int i = 0; i < 64; i++)
		if ((flags & (1UL << i)) && mnemonics[i] &&
		    fprintf(out, "%s ", mnemonics[i]) < 0)
			return -EIO;
	return fputc('\n', out) == EOF ? -EIO : 0;
}

/* Locking: mmap_lock held for read. */
static int show_smap(FILE *out, struct umm_mm *mm, struct vm_area_struct *vma)
{
	struct mem_size_stats mss = { 0 };
	int err;

	(void)mm;
	walk_page_vma(vma, &smaps_ops, &mss);
	err = show_map_vma(out, vma);
	if (err)
		return err;
	if (fprintf(out,
		    "Size:           %8llu kB\nKernelPageSize: %8llu kB\n"
		    "MMUPageSize:    %8llu kB\n"
		    "Rss:            %8llu kB\nPss:            %8llu kB\n"
		    "Pss_Dirty:      %8llu kB\nShared_Clean:   %8llu kB\n"
		    "Shared_Dirty:   %8llu kB\nPrivate_Clean:  %8llu kB\n"
		    "Private_Dirty:  %8llu kB\nReferenced:     %8llu kB\n"
		    "Anonymous:      %8llu kB\nKSM:            %8llu kB\n"
		    "LazyFree:       %8llu kB\nAnonHugePages:  %8llu kB\n"
		    "ShmemPmdMapped: %8llu kB\nFilePmdMapped:  %8llu kB\n"
		    "Shared_Hugetlb: %8llu kB\nPrivate_Hugetlb: %7llu kB\n"
		    "Swap:           %8llu kB\nSwapPss:        %8llu kB\n"
		    "Locked:         %8llu kB\nTHPeligible:    %8u\n",
		    (unsigned long long)(vma->vm_end - vma->vm_start) >> 10,
		    (unsigned long long)PAGE_SIZE >> 10, (unsigned long long)PAGE_SIZE >> 10,
		    (unsigned long long)mss.resident >> 10,
		    (unsigned long long)(mss.pss >> PSS_SHIFT) >> 10,
		    (unsigned long long)(mss.pss_dirty >> PSS_SHIFT) >> 10,
		    (unsigned long long)mss.shared_clean >> 10,
		    (unsigned long long)mss.shared_dirty >> 10,
		    (unsigned long long)mss.private_clean >> 10,
		    (unsigned long long)mss.private_dirty >> 10,
		    (unsigned long long)mss.referenced >> 10,
		    (unsigned long long)mss.anonymous >> 10, 0ULL,
		    (unsigned long long)mss.lazyfree >> 10,
		    (unsigned long long)mss.anon_thp >> 10,
		    (unsigned long long)mss.shmem_thp >> 10,
		    (unsigned long long)mss.file_thp >> 10, 0ULL, 0ULL, 0ULL, 0ULL,
		    (unsigned long long)(mss.pss_locked >> PSS_SHIFT) >> 10,
		    (unsigned int)thp_eligible(vma)) < 0)
		return -EIO;
	return show_smap_vma_flags(out, vma->vm_flags & ~VM_WRITENOTIFY);
}

__visible int umm_smaps(struct umm_mm *mm, FILE *out)
{
	return show_each_vma(mm, out, show_smap);
}

/* ---- clear_refs ---- */

enum clear_refs_types {
	CLEAR_REFS_ALL = 1,
	CLEAR_REFS_ANON,
	CLEAR_REFS_MAPPED,
	CLEAR_REFS_SOFT_DIRTY,
	CLEAR_REFS_MM_HIWATER_RSS,
	CLEAR_REFS_LAST,
};

struct clear_refs_walk {
	struct change_walk cw;		/* first: the walk's private data */
	int type;
};

/* Which VMAs a type reaches: 2 only anonymous ones, 3 only those of a file. */
static int clear_refs_test_walk(uint64_t start, uint64_t end, struct mm_walk *walk)
{
	struct clear_refs_walk *cp = walk->private;
	bool file = walk->vma->vm_file;

	(void)start;
	(void)end;
	if (walk->vma->vm_flags & VM_PFNMAP)
		return 1;
	if ((cp->type == CLEAR_REFS_ANON && file) ||
	    (cp->type == CLEAR_REFS_MAPPED && !file))
		return 1;
	return 0;
}

/*
 * Make the entry old, as clear_refs_pte_range; the zero page is no
 * normal page and keeps its bit (smaps does not count it anyway).
 * Locking: the PTE lock held (pte_entry).
 */
static int clear_refs_pte(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	pte_t v = ptep_get(pte);

	(void)next;
	if (pte_present(v) && !pte_special(v))
		pte_clear_bits(pte, v, _PAGE_ACCESSED, addr, walk);
	return 0;
}

/* A THP leaf: old as a whole. Locking: takes the PMD lock (pmd_entry). */
static int clear_refs_pmd(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	pmd_t v;
	spinlock_t *ptl = walk_pmd_leaf_lock(pmd, walk, &v);

	if (!ptl)
		return 0;
	if (pmd_leaf_maps_page(v))
		leaf_clear_bits(pmd, v, _PAGE_ACCESSED, addr, next, walk);
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops clear_refs_ops = {
	.test_walk = clear_refs_test_walk,
	.pmd_entry = clear_refs_pmd,
	.pte_entry = clear_refs_pte,
	.pre_vma = change_walk_pre_vma,
	.post_vma = change_walk_post_vma,
};

/*
 * The soft-dirty reset, as a kernel without CONFIG_MEM_SOFT_DIRTY runs it:
 * no VMA or entry changes, but secondary MMUs are told about the whole
 * address space and every TLB is flushed.
 * Locking: mmap_lock held.
 */
static void clear_soft_dirty_all(struct umm_mm *mm)
{
	mmu_notifier_invalidate_range_start(mm, 0, mm->task_size);
	flush_tlb_mm_range(mm, 0, mm->task_size);
	mmu_notifier_invalidate_range_end(mm, 0, mm->task_size);
}

__visible int umm_clear_refs(struct umm_mm *mm, int type)
{
	struct clear_refs_walk cp = { .type = type };

	if (!mm || type < CLEAR_REFS_ALL || type >= CLEAR_REFS_LAST)
		return -EINVAL;
	if (type == CLEAR_REFS_MM_HIWATER_RSS)
		return 0;	/* umm keeps no peak RSS (VmHWM) to reset */
	mmap_read_lock(mm);
	if (type == CLEAR_REFS_SOFT_DIRTY)
		clear_soft_dirty_all(mm);
	else
		walk_page_range(mm, 0, mm->task_size, &clear_refs_ops, &cp);
	mmap_read_unlock(mm);
	return 0;
}
