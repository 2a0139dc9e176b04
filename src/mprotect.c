// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mprotect.c - umm_mprotect: change the rights of a range, VMA by VMA as
 * the kernel does (so a hole stops it with -ENOMEM after the part before
 * it was changed), splitting and merging VMAs, and change_protection()
 * down the page tables.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "huge_memory.h"
#include "memory.h"
#include "tlb.h"
#include "mmu_notifier.h"
#include "rmap.h"
#include "uapi_mman.h"

/* The entry bits a VMA's flags give its pages (x86's protection_map). */
pgprot_t vm_get_page_prot(unsigned long vm_flags)
{
	uint64_t p;

	if (!(vm_flags & VM_ACCESS_FLAGS))
		return __pgprot(_PAGE_PROTNONE | _PAGE_ACCESSED);
	p = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
	if (!(vm_flags & VM_EXEC))
		p |= _PAGE_NX;
	/*
	 * x86 cannot forbid reading a present page, but get_user_pages (and
	 * so umm_read) must: the software MMU honours this bit.
	 */
	if (!(vm_flags & VM_READ))
		p |= _PAGE_NOREAD;
	/* private writable pages become writable on the write fault (COW) */
	if ((vm_flags & (VM_WRITE | VM_SHARED | VM_WRITENOTIFY)) == (VM_WRITE | VM_SHARED))
		p |= _PAGE_RW;
	return __pgprot(p);
}

/* What an entry keeps when its rights change: the frame and its state. */
#define _PAGE_CHG_MASK	(PTE_PFN_MASK | _PAGE_PCD | _PAGE_PWT | _PAGE_SPECIAL | \
			 _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SOFT_DIRTY | _PAGE_DEVMAP)

pte_t pte_modify(pte_t pte, pgprot_t prot)
{
	return __pte((pte_val(pte) & _PAGE_CHG_MASK) |
		     (pgprot_val(prot) & ~_PAGE_CHG_MASK));
}

/*
 * A private anonymous page that is dirty (written since mapped, so it is
 * this mm's own copy) can stay writable; anything else waits for a write
 * fault to decide (copy-on-write, dirty tracking).
 */
bool can_change_pte_writable(unsigned long vm_flags, pte_t pte)
{
	struct page *page;

	if (!(vm_flags & VM_WRITE))
		return false;
	if (vm_flags & VM_SHARED)
		return !(vm_flags & VM_WRITENOTIFY) || pte_dirty(pte);
	if (!pte_dirty(pte) || pte_special(pte))
		return false;
	/* dirty and this mm's alone (the kernel's PageAnonExclusive) */
	page = pfn_to_page(pte_pfn(pte));
	return PageAnon(compound_head(page)) && page_exclusive(page);
}

/* Locking: takes each PTE table's lock. Return: entries changed. */
static long change_pte_range(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			     uint64_t end, unsigned long vm_flags)
{
	pgprot_t prot = vm_get_page_prot(vm_flags);
	spinlock_t *ptl;
	pte_t *start, *pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	long pages = 0;

	if (!pte)
		return 0;
	start = pte;
	do {
		pte_t old = ptep_get(pte), new;

		if (!pte_present(old))
			continue;
		new = pte_modify(old, prot);
		if (can_change_pte_writable(vm_flags, old))
			new = pte_mkwrite(new);
		if (!pte_same(old, new)) {
			/*
			 * Clear, then set: a lockless walker setting accessed or
			 * dirty meanwhile would otherwise lose its bit to us.
			 */
			old = ptep_get_and_clear(pte);
			new = pte_modify(old, prot);
			if (can_change_pte_writable(vm_flags, old))
				new = pte_mkwrite(new);
			set_pte(pte, new);
			pages++;
		}
	} while (pte++, addr += PAGE_SIZE, addr != end);
	pte_unmap_unlock(start, ptl);
	return pages;
}

/*
 * A PUD leaf (seed 002): changed in place when the range covers it, else
 * split - which for umm's PUD leaves, as for the kernel's DAX ones, means
 * zapped: the next access maps the part it needs again.
 * Locking: mmap_lock held for write. Return: entries changed, or -EAGAIN.
 */
static long change_pud_leaf(struct umm_mm *mm, pud_t *pud, uint64_t addr,
			    uint64_t next, unsigned long vm_flags)
{
	if (next - addr == PUD_SIZE)
		return change_huge_pud(mm, pud, vm_flags);
	__split_huge_pud(mm, pud, addr);
	return 0;
}

/*
 * change_protection - bring the entries of [start, end) in line with
 * @vm_flags. Locking: mmap_lock held for write, the range's VMAs
 * write-locked; takes the page-table locks.
 * Return: entries changed.
 */
long change_protection(struct umm_mm *mm, uint64_t start, uint64_t end,
		       unsigned long vm_flags)
{
	uint64_t addr = start, next;
	long pages = 0;

	mmap_assert_write_locked(mm);
	for (; addr < end; addr = next) {
		pud_t *pud;
		pmd_t *pmd;
		long n;

		/* mmap_lock (write) keeps the tables; RCU for the lookup's rules */
		rcu_read_lock();
		pud = pud_off_lockless(mm, addr);
		rcu_read_unlock();
		if (pud && pud_leaf(pudp_get(pud))) {
			next = pud_addr_end(addr, end);
			n = change_pud_leaf(mm, pud, addr, next, vm_flags);
			if (n == -EAGAIN)
				next = addr;	/* the leaf changed under us: again */
			else
				pages += n;
			continue;
		}
		rcu_read_lock();
		pmd = pmd_off_lockless(mm, addr);
		next = pmd ? pmd_addr_end(addr, end) : pmd_hole_end(mm, addr, end);
		rcu_read_unlock();
again:
		if (!pmd || pmd_none(pmdp_get(pmd)))
			continue;
		if (pmd_leaf(pmdp_get(pmd))) {
			if (next - addr < HPAGE_PMD_SIZE) {
				split_huge_pmd(mm, pmd, addr);	/* part of it */
			} else {
				/* changed in place; split or zapped meanwhile: look again */
				n = change_huge_pmd(mm, pmd, vm_flags);
				if (n == -EAGAIN)
					goto again;
				pages += n;
				continue;
			}
		}
		pages += change_pte_range(mm, pmd, addr, next, vm_flags);
	}
	return pages;
}

static unsigned long calc_vm_prot_bits(int prot)
{
	return ((prot & PROT_READ) ? VM_READ : 0) |
	       ((prot & PROT_WRITE) ? VM_WRITE : 0) |
	       ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

/*
 * The new flags of one VMA, or -EACCES when it may not get them (a right
 * the VMA may never have: VM_MAY* clear).
 */
static int mprotect_newflags(const struct vma_desc *d, int prot,
			     unsigned long *newflags)
{
	unsigned long old = d->flags, f;

	f = calc_vm_prot_bits(prot) | (old & ~VM_ACCESS_FLAGS);
	if ((f & ~(f >> 4)) & VM_ACCESS_FLAGS)
		return -EACCES;
	if (f == old) {
		*newflags = f;
		return 0;
	}
	/* Becoming writable charges private memory; unfaulted memory uncharges. */
	if (f & VM_WRITE) {
		if (!(old & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE)))
			f |= VM_ACCOUNT;
	} else if ((old & VM_ACCOUNT) && !d->file && !d->anon_vma) {
		f &= ~VM_ACCOUNT;
	}
	*newflags = f;
	return 0;
}

struct prot_change {
	uint64_t start, end;
	unsigned long flags;
	bool populate;		/* a locked private VMA turned writable */
};

/*
 * A locked private VMA turned writable gets its own copies of the pages,
 * as mprotect_fixup() faults them in; failures are not mprotect's.
 * Locking: mmap_lock held for write.
 */
static void mprotect_populate(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area_struct *vma = vma_lookup(mm, start);

	if (vma)
		populate_vma_page_range(vma, start, end < vma->vm_end ? end : vma->vm_end);
}

/*
 * One plan of do_mprotect: from @start up to @end, or up to and including
 * the first VMA that must be populated (a locked private VMA turning
 * writable); then *resume is where the next plan starts (else 0).
 * Locking: mmap_lock held for write.
 */
static int mprotect_pass(struct umm_mm *mm, uint64_t start, uint64_t end, int prot,
			 bool growsdown, uint64_t *resume)
{
	struct prot_change *ch = NULL;
	size_t nch = 0;
	struct vma_plan p;
	uint64_t nstart, tmp;
	size_t i;
	int err, ret = 0;
	bool stop = false;

	*resume = 0;
	err = vma_plan_init(&p, mm, start, end, true);
	if (err)
		goto out;
	i = vma_plan_find(&p, start);
	if (i == p.nr || p.d[i].start >= end) {
		err = -ENOMEM;
		goto out;
	}
	if (growsdown) {
		start = p.d[i].start;
		if (!(p.d[i].flags & VM_GROWSDOWN)) {
			err = -EINVAL;
			goto out;
		}
	} else if (p.d[i].start > start) {
		err = -ENOMEM;
		goto out;
	}
	ch = calloc(p.nr, sizeof(*ch));
	if (!ch) {
		err = -ENOMEM;
		goto out;
	}
	nstart = start;
	tmp = p.d[i].start;
	for (; i < p.nr && p.d[i].start < end; i++) {
		unsigned long newflags;

		if (p.d[i].start != tmp) {
			ret = -ENOMEM;
			break;
		}
		ret = mprotect_newflags(&p.d[i], prot, &newflags);
		if (ret)
			break;
		/* even to the rights it has: the kernel asks before comparing */
		if (p.d[i].flags & VM_SEALED) {
			ret = -EPERM;
			break;
		}
		tmp = p.d[i].end < end ? p.d[i].end : end;
		if (newflags != p.d[i].flags) {
			/* a locked private VMA turning writable gets its copies now */
			bool populate = (p.d[i].flags & (VM_WRITE | VM_SHARED | VM_LOCKED)) ==
					VM_LOCKED && (newflags & VM_WRITE);

			ret = vma_plan_modify(&p, nstart, tmp, newflags);
			if (ret)
				break;
			i = vma_plan_find(&p, nstart);
			ch[nch++] = (struct prot_change){ nstart, tmp, newflags, populate };
			/*
			 * The kernel populates it in mprotect_fixup(), before it
			 * looks at the next VMA: the anon_vma the population
			 * gives it decides whether the next one merges with it.
			 */
			stop = populate;
		}
		nstart = tmp;
		if (stop)
			break;
	}
	if (!ret && stop && tmp < end)
		*resume = tmp;
	else if (!ret && tmp < end)
		ret = -ENOMEM;
	vma_plan_merge(&p);
	err = vma_plan_commit(&p);
	if (!err) {
		long pages = 0;

		if (nch)
			mmu_notifier_invalidate_range_start(mm, start, end);
		inc_tlb_flush_pending(mm);
		for (i = 0; i < nch; i++)
			pages += change_protection(mm, ch[i].start, ch[i].end, ch[i].flags);
		/* old rights may be cached: none survives the call */
		if (pages)
			flush_tlb_mm_range(mm, start, end);
		dec_tlb_flush_pending(mm);
		if (nch)
			mmu_notifier_invalidate_range_end(mm, start, end);
		/* that VMA only, under mmap_lock, as mprotect_fixup() */
		for (i = 0; i < nch; i++)
			if (ch[i].populate)
				mprotect_populate(mm, ch[i].start, ch[i].end);
	}
out:
	free(ch);
	vma_plan_release(&p);
	if (err)
		*resume = 0;
	return err ? err : ret;
}

/*
 * Locking: mmap_lock held for write. Applies VMA by VMA; stops at the
 * first hole (-ENOMEM) or refused VMA (-EACCES), keeping what was done.
 */
static int do_mprotect(struct umm_mm *mm, uint64_t start, uint64_t end, int prot,
		       bool growsdown)
{
	uint64_t resume;
	int err;

	for (;;) {
		err = mprotect_pass(mm, start, end, prot, growsdown, &resume);
		if (err || !resume)
			return err;
		start = resume;
		growsdown = false;	/* the lowest VMA was the first pass's */
	}
}

__visible int umm_mprotect(struct umm_mm *mm, uint64_t start, uint64_t len, int prot)
{
	int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
	uint64_t end;
	int err;

	if (!mm)
		return -EINVAL;
	prot &= ~grows;
	if (grows == (PROT_GROWSDOWN | PROT_GROWSUP))
		return -EINVAL;
	if (start & ~PAGE_MASK)
		return -EINVAL;
	if (!len)
		return 0;
	len = ALIGN_UP(len, PAGE_SIZE);
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM))
		return -EINVAL;
	mmap_write_lock(mm);
	if (grows & PROT_GROWSUP) {
		/* x86 has no upward-growing stacks: any VMA found refuses */
		struct vm_area_struct *vma = find_vma(mm, start);

		err = !vma || vma->vm_start > start ? -ENOMEM : -EINVAL;
	} else {
		if (grows & PROT_GROWSDOWN) {
			/*
			 * The change starts where the VMA holding @start does: the
			 * plan must take the VMA before that, which it may merge
			 * with (the kernel's vma_prev() after moving start).
			 */
			struct vm_area_struct *vma = find_vma(mm, start);

			if (vma && vma->vm_start < start)
				start = vma->vm_start;
		}
		err = do_mprotect(mm, start, end, prot, grows & PROT_GROWSDOWN);
	}
	mmap_write_unlock(mm);
	return err;
}
