// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mapping_dirty.c - dirty tracking of a file's shared mappings, for a
 * caller that keeps its own record of what was written (a display device
 * of an emulator scanning its framebuffer, say), as the kernel's
 * mm/mapping_dirty_helpers.c: write-protect every PTE that maps a range of
 * the file, in every mm (umm_wp_shared_mapping_range), or clean the dirty
 * ones and record their file pages in a bitmap
 * (umm_clean_record_shared_mapping_range). Both are walk_page_mapping()
 * users (seed 000).
 *
 * Only shared writable mappings are walked (VM_SHARED | VM_MAYWRITE);
 * private ones are skipped (the kernel's walk would end at the first).
 * A PMD leaf (a collapsed shmem THP) counts as one entry; the kernel's
 * helpers meet none (they WARN), but umm's callers may collapse.
 *
 * umm's own writeback never depends on a PTE's dirty bit alone: a shared
 * file page is marked dirty in the page cache when its first write faults
 * (write-notify), so cleaning the PTE here loses nothing umm_msync needs.
 */
#include <umm/umm.h>
#include "pagewalk.h"
#include "filemap.h"
#include "huge_memory.h"

struct wp_walk {
	struct change_walk cw;		/* first: the walk's private data */
	uint64_t total;
	/* clean_record only */
	uint64_t bitmap_pgoff;
	unsigned long *bitmap;
	uint64_t bit_start, bit_end;
};

/*
 * Rewrite a present entry: clear it first, so that a lockless walker
 * setting accessed or dirty meanwhile cannot lose its bit to the store.
 * Locking: the PTE lock held.
 */
static pte_t pte_update(pte_t *pte, uint64_t clear)
{
	pte_t old = ptep_get_and_clear(pte);

	set_pte(pte, __pte(pte_val(old) & ~clear));
	return old;
}

/* Locking: the PTE lock held (pte_entry). */
static int wp_pte(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	struct wp_walk *w = walk->private;
	pte_t v = ptep_get(pte);

	(void)next;
	if (pte_present(v) && pte_write(v)) {
		pte_update(pte, _PAGE_RW);
		change_walk_note(walk, addr);
		w->total++;
	}
	return 0;
}

/* Locking: the PTE lock held (pte_entry). */
static int clean_record_pte(pte_t *pte, uint64_t addr, uint64_t next,
			    struct mm_walk *walk)
{
	struct wp_walk *w = walk->private;
	pte_t v = ptep_get(pte);
	uint64_t bit;

	(void)next;
	if (!pte_present(v) || !pte_dirty(v))
		return 0;
	bit = ((addr - walk->vma->vm_start) >> PAGE_SHIFT) + walk->vma->vm_pgoff -
	      w->bitmap_pgoff;
	pte_update(pte, _PAGE_DIRTY);
	change_walk_note(walk, addr);
	w->total++;
	w->bitmap[bit / (8 * sizeof(long))] |= 1UL << (bit % (8 * sizeof(long)));
	if (bit < w->bit_start)
		w->bit_start = bit;
	if (bit + 1 > w->bit_end)
		w->bit_end = bit + 1;
	return 0;
}

/*
 * Record file pages [first, first + nr) of @walk's VMA in the bitmap.
 * Locking: the PMD lock held (pmd_entry).
 */
static void record_pages(struct wp_walk *w, struct mm_walk *walk, uint64_t addr,
			 uint64_t nr)
{
	uint64_t bit = ((addr - walk->vma->vm_start) >> PAGE_SHIFT) + walk->vma->vm_pgoff -
		       w->bitmap_pgoff;

	for (uint64_t i = bit; i < bit + nr; i++)
		w->bitmap[i / (8 * sizeof(long))] |= 1UL << (i % (8 * sizeof(long)));
	if (bit < w->bit_start)
		w->bit_start = bit;
	if (bit + nr > w->bit_end)
		w->bit_end = bit + nr;
}

/*
 * A huge leaf (a shmem THP that MADV_COLLAPSE mapped) is one entry for
 * all its pages: left alone, writes through it would neither fault nor
 * be recorded. Write-protect it whole (the next write fault drops it and
 * maps pages), or, when it is dirty, record the pages of [addr, next) and
 * clean it only if the range covers it all - cleaning pages outside the
 * range would lose their writes, while keeping a dirty bit only reports
 * them again. Frozen first: lockless walkers set bits with CAS.
 * Locking: inside the walk's RCU section, no table lock (pmd_entry);
 * takes the PMD lock.
 */
static int wp_clean_pmd_leaf(pmd_t *pmd, uint64_t addr, uint64_t next,
			     struct mm_walk *walk, bool clean)
{
	struct wp_walk *w = walk->private;
	uint64_t haddr = addr & PMD_MASK, old;
	spinlock_t *ptl;
	pmd_t v;

	ptl = walk_pmd_leaf_lock(pmd, walk, &v);
	if (!ptl)
		return 0;
	if (!(pmd_flags(v) & _PAGE_PRESENT))
		goto unlock;
	if (!clean && pmd_write(v)) {
		old = pmdp_invalidate(pmd);
		set_pmd(pmd, __pmd(old & ~_PAGE_RW));
	} else if (clean && (pmd_flags(v) & _PAGE_DIRTY)) {
		record_pages(w, walk, addr, (next - addr) >> PAGE_SHIFT);
		if (next - addr != HPAGE_PMD_SIZE) {
			w->total++;
			goto unlock;	/* nothing changed: no flush owed */
		}
		old = pmdp_invalidate(pmd);
		set_pmd(pmd, __pmd(old & ~_PAGE_DIRTY));
	} else {
		goto unlock;
	}
	w->total++;
	/* the whole leaf's range: flushed in change_walk_post_vma */
	change_walk_note(walk, haddr);
	change_walk_note(walk, haddr + HPAGE_PMD_SIZE - PAGE_SIZE);
unlock:
	spin_unlock(ptl);
	return 0;
}

static int wp_pmd_entry(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	return wp_clean_pmd_leaf(pmd, addr, next, walk, false);
}

static int clean_pmd_entry(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	return wp_clean_pmd_leaf(pmd, addr, next, walk, true);
}

static int wp_clean_pud_entry(pud_t *pud, uint64_t addr, uint64_t next,
			      struct mm_walk *walk)
{
	(void)addr;
	(void)next;
	if (pud_leaf(pudp_get(pud)))
		walk->action = ACTION_CONTINUE;
	return 0;
}

/* Copy-on-write, read-only and hugetlb mappings are not tracked. */
static int wp_clean_test_walk(uint64_t start, uint64_t end, struct mm_walk *walk)
{
	unsigned long f = walk->vma->vm_flags;

	(void)start;
	(void)end;
	return (f & (VM_SHARED | VM_MAYWRITE | VM_HUGETLB)) != (VM_SHARED | VM_MAYWRITE);
}

static const struct mm_walk_ops wp_walk_ops = {
	.pte_entry = wp_pte,
	.pmd_entry = wp_pmd_entry,
	.pud_entry = wp_clean_pud_entry,
	.test_walk = wp_clean_test_walk,
	.pre_vma = change_walk_pre_vma,	/* translations cached before the */
	.post_vma = change_walk_post_vma,	/* walk may still write: flushed */
};

static const struct mm_walk_ops clean_walk_ops = {
	.pte_entry = clean_record_pte,
	.pmd_entry = clean_pmd_entry,
	.pud_entry = wp_clean_pud_entry,
	.test_walk = wp_clean_test_walk,
	.pre_vma = change_walk_pre_vma,	/* translations cached before the */
	.post_vma = change_walk_post_vma,	/* walk may still write: flushed */
};

/* Pages [first, first + nr) of a file: non-empty and not wrapping. */
static bool range_ok(uint64_t first, uint64_t nr)
{
	return nr && first + nr > first;
}

__visible uint64_t umm_wp_shared_mapping_range(struct umm_file *f,
					       uint64_t first_index, uint64_t nr)
{
	struct wp_walk w = { 0 };

	if (!f || !range_ok(first_index, nr))
		return 0;
	/* every open's mappings: they share the inode's i_mmap */
	down_read(&f->f_mapping->i_mmap_rwsem);
	walk_page_mapping(f->f_mapping, first_index, nr, &wp_walk_ops, &w);
	up_read(&f->f_mapping->i_mmap_rwsem);
	return w.total;
}

__visible uint64_t umm_clean_record_shared_mapping_range(struct umm_file *f,
		uint64_t first_index, uint64_t nr, uint64_t bitmap_pgoff,
		unsigned long *bitmap, uint64_t *start, uint64_t *end)
{
	bool none_set;
	struct wp_walk w = {
		.bitmap_pgoff = bitmap_pgoff,
		.bitmap = bitmap,
	};

	/* the bitmap must cover the range: a bit below it would be outside */
	if (!f || !bitmap || !start || !end || !range_ok(first_index, nr) ||
	    bitmap_pgoff > first_index)
		return 0;
	none_set = *start >= *end;
	/* one past the highest bit the range can set (nr when they match) */
	w.bit_start = none_set ? first_index + nr - bitmap_pgoff : *start;
	w.bit_end = none_set ? 0 : *end;
	down_read(&f->f_mapping->i_mmap_rwsem);
	walk_page_mapping(f->f_mapping, first_index, nr, &clean_walk_ops, &w);
	up_read(&f->f_mapping->i_mmap_rwsem);
	*start = w.bit_start;
	*end = w.bit_end;
	return w.total;
}
