/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pagewalk.h - the generic page-table walker (seed 000): over a range of
 * an mm, over one VMA, or over every VMA that maps a range of a file
 * (walk_page_mapping, for dirty tracking of shared file mappings).
 *
 * Callbacks return 0 to go on, a negative errno to stop the walk with it,
 * or (test_walk only) 1 to skip the VMA. pud_entry and pmd_entry may set
 * walk->action: ACTION_SUBTREE (the default: go down), ACTION_CONTINUE
 * (skip what lies below the entry) or ACTION_AGAIN (read the entry again).
 * Huge leaves are reported to pud_entry/pmd_entry and never descended
 * into (umm does not split them yet).
 *
 * The entry callbacks and pte_hole run inside an RCU read-side section
 * (the tables are read locklessly and freed after a grace period), and
 * pte_entry under the PTE table's lock: they must not sleep or wait for a
 * grace period. test_walk, pre_vma and post_vma run outside it.
 */
#ifndef UMM_PAGEWALK_H
#define UMM_PAGEWALK_H

#include "mm.h"
#include "tlb.h"

struct mm_walk;

struct mm_walk_ops {
	int (*pgd_entry)(pgd_t *pgd, uint64_t addr, uint64_t next, struct mm_walk *walk);
	int (*p4d_entry)(p4d_t *p4d, uint64_t addr, uint64_t next, struct mm_walk *walk);
	int (*pud_entry)(pud_t *pud, uint64_t addr, uint64_t next, struct mm_walk *walk);
	int (*pmd_entry)(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk);
	int (*pte_entry)(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk);
	/* no table or no VMA over [addr, next); @depth: 0 pgd .. 3 pmd, -1 no VMA */
	int (*pte_hole)(uint64_t addr, uint64_t next, int depth, struct mm_walk *walk);
	int (*test_walk)(uint64_t addr, uint64_t next, struct mm_walk *walk);
	/* before a VMA's tables are walked, and after (if pre_vma returned 0) */
	int (*pre_vma)(uint64_t start, uint64_t end, struct mm_walk *walk);
	void (*post_vma)(struct mm_walk *walk);
};

enum page_walk_action {
	ACTION_SUBTREE = 0,
	ACTION_CONTINUE = 1,
	ACTION_AGAIN = 2,
};

struct mm_walk {
	const struct mm_walk_ops *ops;
	struct umm_mm *mm;
	struct vm_area_struct *vma;	/* NULL outside VMAs */
	enum page_walk_action action;
	void *private;
};

/*
 * For walks that change entries in place (write-protect, clean, age):
 * their private data starts with a struct change_walk, and their ops use
 * change_walk_pre_vma/post_vma, which tell the mmu notifiers about each
 * VMA range before its entries change and, at its end, flush the TLBs of
 * the entries noted (change_walk_note): a translation cached before the
 * change is gone when the walk returns.
 */
struct change_walk {
	uint64_t start, end;		/* the VMA range being walked */
	/*
	 * Set by walks that may split an anonymous THP (split_folio_pte):
	 * the notifiers are told about whole PMD blocks around the range,
	 * since a split may point any entry of the block's table at the
	 * zero page.
	 */
	bool whole_blocks;
	uint64_t nstart, nend;		/* the range the notifiers were told */
	struct mmu_gather tlb;
};

int change_walk_pre_vma(uint64_t start, uint64_t end, struct mm_walk *walk);
void change_walk_post_vma(struct mm_walk *walk);

/* Locking: the PTE lock of @addr's entry held. */
static inline void change_walk_note(struct mm_walk *walk, uint64_t addr)
{
	struct change_walk *cw = walk->private;

	tlb_flush_pte_range(&cw->tlb, addr, addr + PAGE_SIZE);
}

/*
 * pte_clear_bits / leaf_clear_bits - for a change walk: clear @bits
 * (accessed, dirty) of the entry at @pte (the leaf at @pmd, mapping
 * [@addr, @next)), whose value was @v, if any is set, and note it for the
 * flush at the end of the VMA, so that the next access through a cached
 * translation sets them again. Locking: the PTE (PMD) lock held.
 */
void pte_clear_bits(pte_t *pte, pte_t v, uint64_t bits, uint64_t addr,
		    struct mm_walk *walk);
void leaf_clear_bits(pmd_t *pmd, pmd_t v, uint64_t bits, uint64_t addr,
		     uint64_t next, struct mm_walk *walk);

/*
 * walk_pmd_leaf_lock - for a pmd_entry that handles huge leaves: if @pmd
 * is a leaf, take its PMD lock, store its value in *@v, tell the walk not
 * to descend and return the lock (the caller unlocks). NULL, nothing
 * locked, for a table (its PTEs are walked), or for a leaf split or
 * zapped meanwhile (the walk looks at the entry again).
 * Locking: inside the walk's RCU section, no table lock held.
 */
spinlock_t *walk_pmd_leaf_lock(pmd_t *pmd, struct mm_walk *walk, pmd_t *v);

/*
 * walk_page_range - walk [start, end) of @mm, VMA by VMA; holes between
 * VMAs go to pte_hole with depth -1.
 * Locking: mmap_lock held (read or write).
 * Return: 0, -EINVAL for an empty range, or a callback's error.
 */
int walk_page_range(struct umm_mm *mm, uint64_t start, uint64_t end,
		    const struct mm_walk_ops *ops, void *private);

/* walk_page_vma - walk all of @vma. Locking: as walk_page_range. */
int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private);

/*
 * walk_page_mapping - walk, in every mm, the part of every VMA that maps
 * file pages [first_index, first_index + nr) of @mapping. A test_walk that
 * returns 1 skips that VMA, as struct mm_walk_ops documents it (the
 * kernel's walk_page_mapping ends the whole walk there instead, which
 * would let one private mapping of the file stop dirty tracking of every
 * shared mapping after it). No mmap_lock is held: only the VMA's immutable fields may be
 * relied on (umm never changes a published VMA, so all of them are).
 * Locking: mapping->i_mmap_rwsem held (read or write), which keeps each VMA's
 * page tables (a VMA leaves i_mmap before its tables may be freed).
 */
int walk_page_mapping(struct address_space *mapping, uint64_t first_index, uint64_t nr,
		      const struct mm_walk_ops *ops, void *private);

#endif /* UMM_PAGEWALK_H */
