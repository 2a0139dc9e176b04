// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pagewalk.c - the generic page-table walker (seed 000).
 *
 * One descent per level, as the kernel's mm/pagewalk.c: each entry is read
 * once (the tables are read without their locks, under RCU), an empty one
 * is a hole, a present one goes to the level's callback and then, unless
 * the callback said otherwise or it is a huge leaf, down a level. The PTE
 * level maps its table with pte_offset_map_lock(), which fails when the
 * table went away or the PMD changed under us (seed 001): the PMD is then
 * read again (ACTION_AGAIN) rather than trusted.
 */
#include <errno.h>
#include "pagewalk.h"
#include "filemap.h"
#include "huge_memory.h"
#include "mmu_notifier.h"
#include "rmap.h"

/* Whether anything below the level of the entry at @depth is wanted. */
static bool wants_below(const struct mm_walk_ops *ops, int depth)
{
	switch (depth) {
	case 0:
		if (ops->p4d_entry)
			return true;
		/* fall through */
	case 1:
		if (ops->pud_entry)
			return true;
		/* fall through */
	case 2:
		if (ops->pmd_entry)
			return true;
		/* fall through */
	default:
		return ops->pte_entry != NULL;
	}
}

/* Locking: as the level that found the hole (inside the walk's RCU section). */
static int walk_hole(uint64_t addr, uint64_t next, int depth, struct mm_walk *walk)
{
	return walk->ops->pte_hole ? walk->ops->pte_hole(addr, next, depth, walk) : 0;
}

/* Locking: the table stays (caller's lock, RCU); takes its PTE lock. */
static int walk_pte_range(pmd_t *pmd, uint64_t addr, uint64_t end,
			  struct mm_walk *walk)
{
	spinlock_t *ptl;
	pte_t *pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	pte_t *start = pte;
	int err = 0;

	if (!pte) {
		walk->action = ACTION_AGAIN;	/* the PMD changed: look again */
		return 0;
	}
	for (; addr < end; addr += PAGE_SIZE, pte++) {
		err = walk->ops->pte_entry(pte, addr, addr + PAGE_SIZE, walk);
		if (err)
			break;
	}
	pte_unmap_unlock(start, ptl);
	return err;
}

spinlock_t *walk_pmd_leaf_lock(pmd_t *pmd, struct mm_walk *walk, pmd_t *v)
{
	spinlock_t *ptl;

	if (!pmd_leaf(pmdp_get_lockless(pmd)))
		return NULL;
	ptl = pmd_lock(walk->mm, pmd);
	*v = pmdp_get(pmd);
	if (pmd_leaf(*v)) {
		walk->action = ACTION_CONTINUE;
		return ptl;
	}
	spin_unlock(ptl);
	walk->action = ACTION_AGAIN;
	return NULL;
}

/* Locking: inside the walk's RCU section; no page-table lock held. */
static int walk_pmd_range(pmd_t *table, uint64_t addr, uint64_t end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	pmd_t *pmd = table + pmd_index(addr);
	uint64_t next;
	pmd_t v;
	int err = 0;

	for (; addr < end; addr = next, pmd++) {
		next = pmd_addr_end(addr, end);
again:
		v = pmdp_get_lockless(pmd);
		if (pmd_none(v) || !pmd_present(v) || (!pmd_leaf(v) && pmd_bad(v))) {
			err = walk_hole(addr, next, 3, walk);
			if (err)
				break;
			continue;
		}
		walk->action = ACTION_SUBTREE;
		if (ops->pmd_entry) {
			err = ops->pmd_entry(pmd, addr, next, walk);
			if (err)
				break;
		}
		if (walk->action == ACTION_AGAIN)
			goto again;
		/* read again: a leaf split since @v was read has a table now */
		if (walk->action == ACTION_CONTINUE || !ops->pte_entry ||
		    pmd_leaf(pmdp_get_lockless(pmd)))
			continue;
		err = walk_pte_range(pmd, addr, next, walk);
		if (err)
			break;
		if (walk->action == ACTION_AGAIN)
			goto again;
	}
	return err;
}

/* Locking: as walk_pmd_range. */
static int walk_pud_range(pud_t *table, uint64_t addr, uint64_t end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	pud_t *pud = table + pud_index(addr);
	uint64_t next;
	pud_t v;
	int err = 0;

	for (; addr < end; addr = next, pud++) {
		next = pud_addr_end(addr, end);
again:
		v = pudp_get(pud);
		if (pud_none(v) || !pud_present(v) || (!pud_leaf(v) && pud_bad(v))) {
			err = walk_hole(addr, next, 2, walk);
			if (err)
				break;
			continue;
		}
		walk->action = ACTION_SUBTREE;
		if (ops->pud_entry) {
			err = ops->pud_entry(pud, addr, next, walk);
			if (err)
				break;
		}
		if (walk->action == ACTION_AGAIN)
			goto again;
		if (walk->action == ACTION_CONTINUE || !wants_below(ops, 2) ||
		    pud_leaf(v))
			continue;
		err = walk_pmd_range(pud_pgtable(v), addr, next, walk);
		if (err)
			break;
	}
	return err;
}

/* Locking: as walk_pmd_range. */
static int walk_p4d_range(p4d_t *p4d, uint64_t addr, uint64_t end,
			  struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	uint64_t next;
	p4d_t v;
	int err = 0;

	for (; addr < end; addr = next, p4d++) {
		next = p4d_addr_end(addr, end);
		v = p4dp_get(p4d);
		if (!p4d_present(v) || p4d_bad(v)) {
			err = walk_hole(addr, next, 1, walk);
			if (err)
				break;
			continue;
		}
		if (ops->p4d_entry) {
			err = ops->p4d_entry(p4d, addr, next, walk);
			if (err)
				break;
		}
		if (wants_below(ops, 1)) {
			err = walk_pud_range(p4d_pgtable(v), addr, next, walk);
			if (err)
				break;
		}
	}
	return err;
}

/*
 * With 4 levels the P4D entry is the PGD entry, so the PGD level is only
 * reported (pgd_entry) and the walk goes on at the same entry.
 * Locking: mmap_lock or i_mmap_rwsem held (see the callers); takes RCU.
 */
static int walk_pgd_range(uint64_t addr, uint64_t end, struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	struct umm_mm *mm = walk->mm;
	pgd_t *pgd = pgd_offset(mm, addr);
	uint64_t next;
	pgd_t v;
	int err = 0;

	rcu_read_lock();
	for (; addr < end; addr = next, pgd++) {
		next = pgd_addr_end(mm, addr, end);
		v = pgdp_get(pgd);
		if (!pgd_present(v) || pgd_bad(v)) {
			err = walk_hole(addr, next, 0, walk);
			if (err)
				break;
			continue;
		}
		if (ops->pgd_entry) {
			err = ops->pgd_entry(pgd, addr, next, walk);
			if (err)
				break;
		}
		if (!wants_below(ops, 0))
			continue;
		if (mm->pgtable_levels == 4)
			err = walk_p4d_range((p4d_t *)pgd, addr, next, walk);
		else
			err = walk_p4d_range((p4d_t *)pfn_to_virt(pgd_pfn(v)) +
					     p4d_index(addr), addr, next, walk);
		if (err)
			break;
	}
	rcu_read_unlock();
	return err;
}

/*
 * A VMA the walk is about to enter: test_walk's say, or 0.
 * Locking: as the walk's caller; outside the RCU section.
 */
static int walk_page_test(uint64_t start, uint64_t end, struct mm_walk *walk)
{
	if (walk->ops->test_walk)
		return walk->ops->test_walk(start, end, walk);
	return 0;
}

/* Locking: as the walk's caller; pre/post_vma run outside RCU. */
static int __walk_page_range(uint64_t start, uint64_t end, struct mm_walk *walk)
{
	const struct mm_walk_ops *ops = walk->ops;
	int err;

	if (walk->vma && ops->pre_vma) {
		err = ops->pre_vma(start, end, walk);
		if (err)
			return err;
	}
	err = walk_pgd_range(start, end, walk);
	if (walk->vma && ops->post_vma)
		ops->post_vma(walk);
	return err;
}

int walk_page_range(struct umm_mm *mm, uint64_t start, uint64_t end,
		    const struct mm_walk_ops *ops, void *private)
{
	struct mm_walk walk = { .ops = ops, .mm = mm, .private = private };
	struct vm_area_struct *vma;
	uint64_t next;
	int err = 0;

	if (start >= end || !mm || end > mm->task_size)
		return -EINVAL;
	mmap_assert_locked(mm);
	vma = find_vma(mm, start);
	for (; start < end; start = next) {
		if (!vma || start < vma->vm_start) {
			/* no VMA here: only a hole to report */
			walk.vma = NULL;
			next = vma && vma->vm_start < end ? vma->vm_start : end;
			err = walk_hole(start, next, -1, &walk);
		} else {
			walk.vma = vma;
			next = vma->vm_end < end ? vma->vm_end : end;
			vma = vma_next_of(mm, vma);
			err = walk_page_test(start, next, &walk);
			if (err > 0) {
				err = 0;	/* skip this VMA */
				continue;
			}
			if (!err)
				err = __walk_page_range(start, next, &walk);
		}
		if (err)
			break;
	}
	return err;
}

int walk_page_vma(struct vm_area_struct *vma, const struct mm_walk_ops *ops,
		  void *private)
{
	struct mm_walk walk = {
		.ops = ops, .mm = vma->vm_mm, .vma = vma, .private = private,
	};
	int err;

	mmap_assert_locked(vma->vm_mm);
	err = walk_page_test(vma->vm_start, vma->vm_end, &walk);
	if (err > 0)
		return 0;
	if (err < 0)
		return err;
	return __walk_page_range(vma->vm_start, vma->vm_end, &walk);
}

struct mapping_walk {
	struct mm_walk walk;
	uint64_t first, end;	/* file pages [first, end) */
	int err;
};

/* One VMA of the file's i_mmap. Locking: i_mmap_rwsem held. */
static int walk_mapping_vma(struct itree_node *n, void *arg)
{
	struct mapping_walk *mw = arg;
	struct vm_area_struct *vma = container_of(n, struct vm_area_struct, shared);
	uint64_t vba = vma->vm_pgoff;
	uint64_t vea = vba + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);
	uint64_t cba = mw->first > vba ? mw->first : vba;
	uint64_t cea = mw->end < vea ? mw->end : vea;
	int err;

	if (cba >= cea)
		return 0;
	mw->walk.vma = vma;
	mw->walk.mm = vma->vm_mm;
	err = walk_page_test(vma->vm_start, vma->vm_end, &mw->walk);
	if (err > 0)
		return 0;		/* skip this VMA, as test_walk is documented */
	if (!err)
		err = __walk_page_range(vma->vm_start + ((cba - vba) << PAGE_SHIFT),
					vma->vm_start + ((cea - vba) << PAGE_SHIFT),
					&mw->walk);
	mw->err = err;
	return err ? 1 : 0;
}

int walk_page_mapping(struct address_space *mapping, uint64_t first_index, uint64_t nr,
		      const struct mm_walk_ops *ops, void *private)
{
	struct mapping_walk mw = {
		.walk = { .ops = ops, .private = private },
		.first = first_index,
		.end = first_index + nr,
	};

	if (!nr || mw.end < first_index)
		return -EINVAL;
	rwsem_assert_held(&mapping->i_mmap_rwsem);
	itree_for_each_overlap(&mapping->i_mmap, first_index, mw.end - 1,
			       walk_mapping_vma, &mw);
	return mw.err;
}

/* Locking: as pre_vma (outside the RCU section, no PTE lock). */
int change_walk_pre_vma(uint64_t start, uint64_t end, struct mm_walk *walk)
{
	struct change_walk *cw = walk->private;

	cw->start = start;
	cw->end = end;
	cw->nstart = cw->whole_blocks ? start & PMD_MASK : start;
	cw->nend = cw->whole_blocks ? ALIGN_UP(end, PMD_SIZE) : end;
	mmu_notifier_invalidate_range_start(walk->mm, cw->nstart, cw->nend);
	tlb_gather_mmu(&cw->tlb, walk->mm);
	return 0;
}

void change_walk_post_vma(struct mm_walk *walk)
{
	struct change_walk *cw = walk->private;

	tlb_finish_mmu(&cw->tlb);
	mmu_notifier_invalidate_range_end(walk->mm, cw->nstart, cw->nend);
}

/*
 * One atomic clear: lockless walkers set these bits with a compare-and-
 * swap, which a plain store would undo. Not cleared and set back: a write
 * fault that met the entry empty meanwhile went to map a new page for
 * memory that stays mapped, and failed at the mm's frame limit.
 */
void pte_clear_bits(pte_t *pte, pte_t v, uint64_t bits, uint64_t addr,
		    struct mm_walk *walk)
{
	if (!(pte_flags(v) & bits))
		return;
	ptep_clear_flags(pte, bits);
	change_walk_note(walk, addr);
}

/* Frozen first, so that no walker's compare-and-swap is lost either. */
void leaf_clear_bits(pmd_t *pmd, pmd_t v, uint64_t bits, uint64_t addr,
		     uint64_t next, struct mm_walk *walk)
{
	uint64_t old;

	if (!(pmd_flags(v) & bits))
		return;
	old = pmdp_invalidate(pmd);
	set_pmd(pmd, __pmd(old & ~bits));
	change_walk_note(walk, addr);	/* the whole leaf: first */
	change_walk_note(walk, next - PAGE_SIZE);	/* and last page */
}
