// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mremap.c - umm_mremap: shrink, grow in place (merging with the next
 * VMA), or move (MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP), with the
 * page tables moved along (move_page_tables).
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "huge_memory.h"
#include "rmap.h"
#include "filemap.h"
#include "memory.h"
#include "tlb.h"
#include "mmu_notifier.h"
#include "uapi_mman.h"

/*
 * Move the entries of one PMD's span [old, old_end) to new.
 * Locking: the old PTE table's lock, then the new one's (the kernel's
 * order for two tables of one level; mmap_lock held for write keeps two
 * movers from meeting in the other order).
 */
static int move_ptes(struct umm_mm *mm, pmd_t *opmd, uint64_t old,
		     uint64_t old_end, uint64_t new)
{
	spinlock_t *optl, *nptl;
	pte_t *opte, *npte;
	pmd_t *npmd;
	int err;

	/* Tables first: allocation takes the PMD lock, outside PTE locks. */
	err = walk_to_pmd(mm, new, &npmd);
	if (!err)
		err = pte_alloc(mm, npmd);
	if (err)
		return err == -EEXIST ? -ENOMEM : err;
	opte = pte_offset_map_lock(mm, opmd, old, &optl);
	if (!opte)
		return 0;
	npte = pte_offset_map_nolock(mm, npmd, new, &nptl);
	if (!npte) {
		pte_unmap_unlock(opte, optl);
		return -ENOMEM;
	}
	if (nptl != optl)
		spin_lock(nptl);
	for (pte_t *o = opte, *n = npte; old < old_end;
	     o++, n++, old += PAGE_SIZE) {
		pte_t v;

		if (pte_none(ptep_get(o)))
			continue;
		v = ptep_get_and_clear(o);
		/* the destination VMA is write-locked: nothing faulted in there */
		VM_BUG_ON(!pte_none(ptep_get(n)));
		set_pte(n, v);
	}
	if (nptl != optl)
		spin_unlock(nptl);
	pte_unmap(npte);
	pte_unmap_unlock(opte, optl);
	return 1;	/* entries may have moved */
}

/*
 * A whole leaf whose destination is a whole empty PMD moves as it is;
 * any other is split and its entries move as PTEs.
 * Locking: as move_page_tables. Return: 1 moved, 0 split, -ENOMEM.
 */
static int move_huge(struct umm_mm *mm, pmd_t *opmd, uint64_t old, uint64_t step,
		     uint64_t new)
{
	pmd_t *npmd;

	if (step == HPAGE_PMD_SIZE) {
		if (walk_to_pmd(mm, new, &npmd))
			return -ENOMEM;
		if (move_huge_pmd(mm, opmd, npmd))
			return 1;
	}
	split_huge_pmd(mm, opmd, old);
	return 0;
}

/*
 * move_page_tables - move the entries of [old, old + len) to new.
 * Locking: mmap_lock held for write, both ranges' VMAs write-locked.
 * Return: 0, or -ENOMEM when a destination table could not be allocated.
 */
static int move_page_tables(struct umm_mm *mm, uint64_t old, uint64_t new,
			    uint64_t len)
{
	uint64_t old_start = old, old_end = old + len;
	bool moved = false;

	mmu_notifier_invalidate_range_start(mm, old_start, old_end);
	while (old < old_end) {
		/* one step may cross neither a source nor a destination PMD */
		uint64_t step = pmd_addr_end(old, old_end) - old, nstep;
		pmd_t *opmd;
		int err;

		nstep = pmd_addr_end(new, new + step) - new;
		step = nstep < step ? nstep : step;
		rcu_read_lock();
		opmd = pmd_off_lockless(mm, old);
		if (!opmd)	/* nothing to move up to the hole's end */
			step = pmd_hole_end(mm, old, old_end) - old;
		rcu_read_unlock();
		/* upper tables only go under mmap_lock (write), which we hold */
		if (opmd && pmd_leaf(pmdp_get(opmd))) {
			err = move_huge(mm, opmd, old, step, new);
			if (err < 0) {
				mmu_notifier_invalidate_range_end(mm, old_start, old_end);
				return err;
			}
			moved |= err;
			if (err) {
				old += step;
				new += step;
				continue;
			}
		}
		if (opmd && !pmd_none(pmdp_get(opmd))) {
			err = move_ptes(mm, opmd, old, old + step, new);
			if (err < 0) {
				mmu_notifier_invalidate_range_end(mm, old_start, old_end);
				return err;
			}
			moved |= err;
		}
		old += step;
		new += step;
	}
	/* translations of the old addresses must not outlive the move */
	if (moved)
		flush_tlb_mm_range(mm, old_start, old_end);
	mmu_notifier_invalidate_range_end(mm, old_start, old_end);
	return 0;
}

/*
 * check_prep_vma - may [addr, +old_len) of @vma be resized to new_len (or
 * moved)? Checks run before anything is unmapped.
 * Locking: mmap_lock held. Return: 0 or -errno.
 */
static int check_prep_vma(struct vm_area_struct *vma, uint64_t addr,
			  uint64_t old_len, uint64_t new_len, int flags)
{
	uint64_t eff_old, pgoff;

	if (!vma)
		return -EFAULT;
	if (vma->vm_flags & VM_SEALED)
		return -EPERM;	/* not even a shrink or a no-op */
	if (old_len >= new_len && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)))
		return 0;	/* shrink or no-op in place: no more checks */
	if (!old_len && !(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return -EINVAL;
	if ((flags & MREMAP_DONTUNMAP) && (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP)))
		return -EINVAL;
	/* a shrink need only fit what is kept */
	eff_old = old_len > new_len ? new_len : old_len;
	if (eff_old > vma->vm_end - addr)
		return -EFAULT;
	if (new_len == eff_old)
		return 0;
	pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	if (pgoff + (new_len >> PAGE_SHIFT) < pgoff)
		return -EINVAL;
	if (vma->vm_flags & (VM_DONTEXPAND | VM_PFNMAP))
		return -EFAULT;
	return 0;
}

/*
 * After MREMAP_DONTUNMAP the old VMA stays, whole, but unlocked: its
 * pages went with the move, and mlock has nothing left to hold. When the
 * move took the whole VMA [old_addr, +old_len), its anon_vma goes too (the
 * kernel's dontunmap_complete: unlink_anon_vmas), so it is unfaulted
 * again: a later mprotect may drop VM_ACCOUNT, and it merges as such.
 * Locking: mmap_lock held for write.
 */
static void dontunmap_old_vma(struct umm_mm *mm, struct vm_area_struct *vma,
			      uint64_t old_addr, uint64_t old_len)
{
	bool whole = vma->anon_vma && vma->vm_start == old_addr &&
		     vma->vm_end == old_addr + old_len;
	struct vma_plan p;
	size_t i;

	if (!(vma->vm_flags & (VM_LOCKED | VM_LOCKONFAULT)) && !whole)
		return;
	/* out of memory, the VMA stays as it is: see move_vma */
	if (!vma_plan_init(&p, mm, vma->vm_start, vma->vm_end, false)) {
		i = vma_plan_find(&p, vma->vm_start);
		p.d[i].flags &= ~(VM_LOCKED | VM_LOCKONFAULT);
		if (whole) {
			p.d[i].anon_vma = NULL;
			p.d[i].chain = NULL;
		}
		vma_plan_commit(&p);
	}
	vma_plan_release(&p);
}

/*
 * The entries of [old_addr, +len) to new_addr, all or none: those moved
 * before a destination table could not be had come back. An rmap walker
 * (truncation, an anonymous page's walk) must not look for the entries
 * while they are between the two ranges (the kernel's take_rmap_locks).
 * Locking: mmap_lock held for write, both ranges' VMAs write-locked;
 * takes @d's i_mmap_rwsem and anon_vma lock (write).
 */
static int move_entries(struct umm_mm *mm, const struct vma_desc *d, uint64_t old_addr,
			uint64_t new_addr, uint64_t len)
{
	int err;

	if (d->file)
		down_write(&d->file->f_mapping->i_mmap_rwsem);
	if (d->anon_vma)
		down_write(&d->anon_vma->root->rwsem);
	err = move_page_tables(mm, old_addr, new_addr, len);
	if (err)
		move_page_tables(mm, new_addr, old_addr, len);
	if (d->anon_vma)
		up_write(&d->anon_vma->root->rwsem);
	if (d->file)
		up_write(&d->file->f_mapping->i_mmap_rwsem);
	return err;
}

/*
 * move_vma - give [old_addr, +old_len) of @vma a new home of new_len at
 * new_addr (free), carrying its pages, then unmap the old range unless
 * MREMAP_DONTUNMAP. Locking: mmap_lock held for write.
 */
static int64_t move_vma(struct umm_mm *mm, struct vm_area_struct *vma,
			uint64_t old_addr, uint64_t old_len, uint64_t new_len,
			uint64_t new_addr, int flags)
{
	struct vma_desc d = {
		.start = new_addr, .end = new_addr + new_len,
		.flags = vma->vm_flags, .file = vma->vm_file,
		.anon_vma = vma->anon_vma,
		.chain = vma,
		.touched = true,
	};
	bool reclaimed = false;
	int err;

	if (mm->map_count >= mm->max_map_count - 3)
		return -ENOMEM;
	/* An unfaulted anonymous VMA starts afresh: its offset follows it. */
	if (!vma->vm_file && !vma->anon_vma)
		d.pgoff = new_addr >> PAGE_SHIFT;
	else
		d.pgoff = vma->vm_pgoff + ((old_addr - vma->vm_start) >> PAGE_SHIFT);
	vma_start_write(vma);
	err = mmap_insert_range(mm, &d);
	if (err)
		return err;
	err = move_entries(mm, &d, old_addr, new_addr, old_len);
	/* out of tables: THPs partly unmapped give frames back, as reclaim */
	if (err == -ENOMEM && thp_reclaim_once(mm, &reclaimed))
		err = move_entries(mm, &d, old_addr, new_addr, old_len);
	if (err) {
		do_munmap(mm, new_addr, new_len);	/* the new range goes */
		return err;
	}
	if (flags & MREMAP_DONTUNMAP) {
		/*
		 * The pages are at new_addr now: the call must say so. Out
		 * of memory for the old VMA's replacement, it keeps its
		 * VM_LOCKED and anon_vma (the kernel clears them in place,
		 * which cannot fail; umm's VMAs are replaced, not changed).
		 */
		vma = vma_lookup(mm, old_addr);
		if (vma)
			dontunmap_old_vma(mm, vma, old_addr, old_len);
		return (int64_t)new_addr;
	}
	/*
	 * As the kernel, a failure to unmap the old range (old_len 0, or no
	 * room to split at max_map_count) leaves it in place: the move stands.
	 */
	if (old_len)
		do_munmap(mm, old_addr, old_len);
	return (int64_t)new_addr;
}

/* Locking: mmap_lock held for write. */
static int64_t mremap_to(struct umm_mm *mm, uint64_t addr, uint64_t old_len,
			 uint64_t new_addr, uint64_t new_len, int flags)
{
	struct vm_area_struct *vma;
	int map_flags = 0, err;

	if (flags & MREMAP_FIXED) {
		err = do_munmap(mm, new_addr, new_len);
		if (err)
			return err;
		/* the destination may have taken part of the source VMA */
		if (!vma_lookup(mm, addr))
			return -EFAULT;
	}
	if (old_len > new_len) {
		err = do_munmap(mm, addr + new_len, old_len - new_len);
		if (err)
			return err;
		old_len = new_len;
	}
	vma = vma_lookup(mm, addr);
	if (!vma)
		return -EFAULT;
	if (flags & MREMAP_FIXED)
		map_flags |= MAP_FIXED;
	if (vma->vm_flags & VM_MAYSHARE)
		map_flags |= MAP_SHARED;
	new_addr = get_unmapped_area(mm, new_addr, new_len, vma->vm_pgoff +
				     ((addr - vma->vm_start) >> PAGE_SHIFT), map_flags,
				     vma->vm_file, &err);
	if (err)
		return err;
	return move_vma(mm, vma, addr, old_len, new_len, new_addr, flags);
}

/*
 * remap_move - MREMAP_FIXED without a size change may move several VMAs
 * at once (Linux 6.17+): each keeps its offset from the start, gaps
 * included, and moves on its own; an error part-way leaves the earlier
 * ones moved, as on Linux. Locking: mmap_lock held for write.
 */
static int64_t remap_move(struct umm_mm *mm, uint64_t addr, uint64_t len,
			  uint64_t new_addr, int flags)
{
	struct vma_tree_iter it;
	uint64_t end = addr + len, s, e, (*piece)[2] = NULL;
	size_t n = 0, cap = 0;
	int64_t r = -EFAULT;

	/* The pieces as they are now: moving one may merge it with another. */
	vma_tree_iter_init(&it, &mm->mm_mt, addr);
	while (vma_tree_iter_next(&it, &s, &e) && s < end) {
		if (!n && s > addr)
			goto out;	/* a hole at the start: nothing moves */
		if (n == cap) {
			void *p = realloc(piece, (cap = cap ? 2 * cap : 8) * sizeof(*piece));

			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			piece = p;
		}
		piece[n][0] = s > addr ? s : addr;
		piece[n][1] = e < end ? e : end;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t a = piece[i][0], l = piece[i][1] - a;

		r = check_prep_vma(vma_lookup(mm, a), a, l, l, flags);
		if (!r)
			r = mremap_to(mm, a, l, new_addr + (a - addr), l, flags);
		if (r < 0)
			goto out;
	}
	r = n ? (int64_t)new_addr : -EFAULT;
out:
	free(piece);
	return r;
}

/* Can @vma grow by @delta where it is? */
static bool vma_expandable(struct umm_mm *mm, struct vm_area_struct *vma,
			   uint64_t delta)
{
	uint64_t end = vma->vm_end + delta;
	int err;

	if (end < vma->vm_end)
		return false;
	if (find_vma_intersection(mm, vma->vm_end, end))
		return false;
	get_unmapped_area(mm, vma->vm_start, end - vma->vm_start, 0, MAP_FIXED,
			  NULL, &err);
	return !err;
}

/* Grow @vma in place to end at @new_end, merging with the next VMA. */
static int expand_vma_in_place(struct umm_mm *mm, struct vm_area_struct *vma,
			       uint64_t new_end)
{
	struct vma_plan p;
	size_t i;
	int err;

	err = vma_plan_init(&p, mm, vma->vm_start, new_end, true);
	if (err)
		goto out;
	i = vma_plan_find(&p, vma->vm_start);
	p.d[i].end = new_end;
	p.d[i].touched = true;
	p.d[i].grown = true;
	vma_plan_merge(&p);
	err = vma_plan_commit(&p);
out:
	vma_plan_release(&p);
	return err;
}

/* No MREMAP_FIXED/DONTUNMAP: shrink, grow in place, or move anywhere. */
static int64_t mremap_at(struct umm_mm *mm, struct vm_area_struct *vma,
			 uint64_t addr, uint64_t old_len, uint64_t new_len, int flags)
{
	uint64_t new_addr;
	int err;

	if (old_len == new_len)
		return (int64_t)addr;
	if (old_len > new_len) {
		err = do_munmap(mm, addr + new_len, old_len - new_len);
		return err ? err : (int64_t)addr;
	}
	if (vma->vm_end - addr == old_len &&
	    vma_expandable(mm, vma, new_len - old_len)) {
		err = expand_vma_in_place(mm, vma, addr + new_len);
		return err ? err : (int64_t)addr;
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -ENOMEM;
	new_addr = get_unmapped_area(mm, 0, new_len, vma->vm_pgoff +
				     ((addr - vma->vm_start) >> PAGE_SHIFT),
				     (vma->vm_flags & VM_MAYSHARE) ? MAP_SHARED : 0,
				     vma->vm_file, &err);
	if (err)
		return err;
	return move_vma(mm, vma, addr, old_len, new_len, new_addr, flags);
}

/* Locking: mmap_lock held for write. */
static int64_t do_mremap(struct umm_mm *mm, uint64_t addr, uint64_t old_len,
			 uint64_t new_len, int flags, uint64_t new_addr)
{
	struct vm_area_struct *vma;
	int err;

	if ((flags & MREMAP_FIXED) && old_len == new_len)
		return remap_move(mm, addr, old_len, new_addr, flags);
	vma = vma_lookup(mm, addr);
	err = check_prep_vma(vma, addr, old_len, new_len, flags);
	if (err)
		return err;
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))
		return mremap_to(mm, addr, old_len, new_addr, new_len, flags);
	return mremap_at(mm, vma, addr, old_len, new_len, flags);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return !(b + blen <= a || a + alen <= b);
}

/*
 * Locking: takes mmap_lock for write; then, where a locked VMA grew, for
 * read while the new part is faulted in (mm_populate).
 */
__visible int64_t umm_mremap(struct umm_mm *mm, uint64_t addr, uint64_t old_len,
			     uint64_t new_len, int flags, uint64_t new_addr)
{
	bool locked = false;
	int64_t ret;

	if (!mm)
		return -EINVAL;
	old_len = ALIGN_UP(old_len, PAGE_SIZE);
	new_len = ALIGN_UP(new_len, PAGE_SIZE);
	if (flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP))
		return -EINVAL;
	if (addr & ~PAGE_MASK)
		return -EINVAL;
	if (!new_len || new_len > mm->task_size)
		return -EINVAL;
	if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		if (new_addr > mm->task_size - new_len)
			return -EINVAL;
		if (new_addr & ~PAGE_MASK)
			return -EINVAL;
		if (!(flags & MREMAP_MAYMOVE))
			return -EINVAL;
		if ((flags & MREMAP_DONTUNMAP) && old_len != new_len)
			return -EINVAL;
		if (ranges_overlap(addr, old_len, new_addr, new_len))
			return -EINVAL;
		if (READ_ONCE(mm->map_count) + 2 >= mm->max_map_count - 3)
			return -ENOMEM;
	}
	mmap_write_lock(mm);
	ret = do_mremap(mm, addr, old_len, new_len, flags, new_addr);
	/*
	 * Memory that grew in a locked VMA is faulted in, as mlock() would
	 * have (the kernel's mm_populate() at the end of mremap). The VMA at
	 * the result has the flags the old one had.
	 */
	if (ret >= 0 && new_len > old_len) {
		struct vm_area_struct *vma = vma_lookup(mm, (uint64_t)ret);

		locked = vma && (vma->vm_flags & VM_LOCKED);
	}
	mmap_write_unlock(mm);
	if (locked)
		mm_populate(mm, (uint64_t)ret + old_len, new_len - old_len);
	return ret;
}
