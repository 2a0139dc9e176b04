// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mlock.c - mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2),
 * and the folios' PG_mlocked.
 *
 * Locking memory sets VM_LOCKED (and, for "on fault", VM_LOCKONFAULT) on
 * the VMAs of a range, splitting and merging them as any change of flags
 * does, mlocks the folios already mapped there (or munlocks them), then
 * faults the range in. umm has no reclaim, so a locked page is one that
 * stays anyway: what the flags change is the layout, smaps' Locked and
 * "lo", the advice a locked VMA refuses (MADV_DONTNEED, MADV_FREE,
 * MADV_COLD, MADV_PAGEOUT), what mremap and mprotect fault in, and what a
 * THP split keeps. What PG_mlocked changes is what another, unlocked
 * mapping of the folio may do to it (a fork's child): MADV_FREE leaves an
 * mlocked folio as it is, MADV_PAGEOUT does not reclaim it, as the
 * kernel's unevictable list keeps it from both. mlockall(MCL_FUTURE)
 * makes every later mapping locked too (mm->def_flags), not inherited by
 * a fork's child.
 * umm behaves as a process with CAP_IPC_LOCK: RLIMIT_MEMLOCK is not
 * modelled, so nothing is refused for its size.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "uapi_mman.h"
#include "huge_memory.h"
#include "pagewalk.h"

#define VM_LOCKED_MASK	(VM_LOCKED | VM_LOCKONFAULT)

/* ---- PG_mlocked ---- */

static unsigned long mlock_count(unsigned long flags)
{
	return (flags & PG_MLOCK_COUNT_MASK) >> PG_MLOCK_COUNT_SHIFT;
}

static unsigned long with_mlock_count(unsigned long flags, unsigned long count)
{
	return (flags & ~PG_MLOCK_COUNT_MASK) | (count << PG_MLOCK_COUNT_SHIFT);
}

/*
 * The first mlock counts 1 (the kernel's folio put on the unevictable
 * list), each later one adds 1; the count saturates rather than wrap.
 * Locking: see mm.h.
 */
void mlock_folio(struct page *head)
{
	unsigned long old = READ_ONCE(head->flags), new;

	do {
		unsigned long count = (old & (1UL << PG_mlocked)) ? mlock_count(old) : 0;

		if (count < (PG_MLOCK_COUNT_MASK >> PG_MLOCK_COUNT_SHIFT))
			count++;
		new = with_mlock_count(old | (1UL << PG_mlocked), count);
	} while (!__atomic_compare_exchange_n(&head->flags, &old, new, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/*
 * A count of 0 with the flag set (the pages of a split mlocked folio, as
 * the kernel's) is taken as the last mlock. Locking: see mm.h.
 */
void munlock_folio(struct page *head)
{
	unsigned long old = READ_ONCE(head->flags), new;

	do {
		unsigned long count = mlock_count(old);

		if (!(old & (1UL << PG_mlocked)))
			return;
		if (count)
			count--;
		new = with_mlock_count(old, count);
		if (!count)
			new &= ~(1UL << PG_mlocked);
	} while (!__atomic_compare_exchange_n(&head->flags, &old, new, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/*
 * The mlock walk (the kernel's mlock_vma_pages_range): each folio mapped
 * in a VMA whose VM_LOCKED just changed is mlocked or munlocked once for
 * the mapping. A large folio is mlocked only when the range maps it
 * whole by one leaf or by all of its PTEs (a VMA that maps part of it
 * does not keep it); munlocked once per run of its entries whatever the
 * run covers.
 */
struct mlock_walk {
	uint64_t end;			/* the walk's end */
	uint64_t skip_end;		/* the rest of a run of a large folio */
};

/* As the VMA now is. Locking: the table lock of the entry mapping @head held. */
static void mlock_or_munlock(struct page *head, struct mm_walk *walk)
{
	if (walk->vma->vm_flags & VM_LOCKED)
		mlock_folio(head);
	else
		munlock_folio(head);
}

/* Locking: no table lock held (pmd_entry); takes the PMD lock of a leaf. */
static int mlock_pmd_entry(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	spinlock_t *ptl;
	pmd_t v;

	(void)addr;
	(void)next;
	ptl = walk_pmd_leaf_lock(pmd, walk, &v);
	if (!ptl)
		return 0;
	if (pmd_leaf_maps_page(v))
		mlock_or_munlock(pmd_page(v), walk);
	spin_unlock(ptl);
	return 0;
}

/*
 * How many entries from @pte on map the pages of @head's folio that
 * follow @page, in order, within the walk and the table.
 * Locking: the PTE lock held.
 */
static unsigned int folio_run(pte_t *pte, uint64_t addr, struct page *page,
			      struct page *head, uint64_t end)
{
	uint64_t pfn = page_to_pfn(page), last = page_to_pfn(head) + HPAGE_PMD_NR;
	unsigned int n = 1;

	while (pfn + n < last && addr + n * PAGE_SIZE < end &&
	       pte_index(addr + n * PAGE_SIZE)) {
		pte_t v = ptep_get(&pte[n]);

		if (!pte_present(v) || pte_special(v) || pte_pfn(v) != pfn + n)
			break;
		n++;
	}
	return n;
}

/* Locking: the PTE lock held (pte_entry). */
static int mlock_pte_entry(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *walk)
{
	struct mlock_walk *mw = walk->private;
	pte_t v = ptep_get(pte);
	struct page *page, *head;
	unsigned int n;

	(void)next;
	if (addr < mw->skip_end || !pte_present(v) || pte_special(v) ||
	    !pfn_valid(pte_pfn(v)))
		return 0;
	page = pfn_to_page(pte_pfn(v));
	if (test_bit_page(PG_reserved, page))
		return 0;
	head = compound_head(page);
	if (!PageHead(head)) {
		mlock_or_munlock(head, walk);
		return 0;
	}
	n = folio_run(pte, addr, page, head, mw->end);
	mw->skip_end = addr + (uint64_t)n * PAGE_SIZE;
	if (!(walk->vma->vm_flags & VM_LOCKED))
		munlock_folio(head);
	else if (page == head && n == HPAGE_PMD_NR)
		mlock_folio(head);
	return 0;
}

static const struct mm_walk_ops mlock_walk_ops = {
	.pmd_entry = mlock_pmd_entry,
	.pte_entry = mlock_pte_entry,
};

/*
 * mlock_vma_pages_range - mlock (the VMAs locked) or munlock the folios
 * mapped in [start, end), whose VMAs' VM_LOCKED just changed.
 * Locking: mmap_lock held for write.
 */
static void mlock_vma_pages_range(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct mlock_walk mw = { .end = end };

	walk_page_range(mm, start, end, &mlock_walk_ops, &mw);
}

/* ---- the calls ---- */

/* A range whose VMAs' VM_LOCKED a call changed: its folios to (un)lock. */
struct lock_change {
	uint64_t start, end;
};

/* Add [start, end) to @chg, joined to the last range if it ends there. */
static size_t note_lock_change(struct lock_change *chg, size_t n, uint64_t start,
			       uint64_t end)
{
	if (n && chg[n - 1].end == start) {
		chg[n - 1].end = end;
		return n;
	}
	chg[n] = (struct lock_change){ start, end };
	return n + 1;
}

/*
 * apply_vma_lock_flags - give the VMAs of [start, start + len) @flags as
 * their locked bits: a hole at @start changes nothing, a hole further on
 * ends the walk after the VMAs before it changed (both -ENOMEM), as the
 * kernel's loop; then the folios mapped where VM_LOCKED changed are
 * mlocked or munlocked (mlock_fixup's mlock_vma_pages_range).
 * Locking: mmap_lock held for write.
 * Return: 0, -EINVAL (the range wraps), -ENOMEM (also before any change,
 * when there is no memory to note the ranges in).
 */
static int apply_vma_lock_flags(struct umm_mm *mm, uint64_t start, uint64_t len,
				unsigned long flags)
{
	uint64_t end = start + len, tmp = start;
	struct lock_change *chg = NULL;
	size_t nr_chg = 0;
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
	/* at most one change per VMA of the range */
	chg = malloc(p.nr * sizeof(*chg));
	if (!chg) {
		err = -ENOMEM;
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
			bool relock = (newflags ^ p.d[i].flags) & VM_LOCKED;

			if (vma_plan_modify(&p, tmp, stop, newflags)) {
				ret = -ENOMEM;
				break;
			}
			if (relock)
				nr_chg = note_lock_change(chg, nr_chg, tmp, stop);
			i = vma_plan_find(&p, tmp);
		}
		tmp = stop;
		i++;
	}
	vma_plan_merge(&p);
	err = vma_plan_commit(&p);
	/* mlocking twice would count twice: only where VM_LOCKED changed */
	for (i = 0; !err && i < nr_chg; i++)
		mlock_vma_pages_range(mm, chg[i].start, chg[i].end);
out:
	free(chg);
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
