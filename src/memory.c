// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memory.c - zapping: taking mappings out of the page tables and dropping
 * the references they held. (Faults join this file with the fault layer.)
 */
#include "memory.h"

static void zap_frame(uint64_t pfn)
{
	struct page *p;

	if (!pfn_valid(pfn))
		return;
	p = pfn_to_page(pfn);
	if (test_bit_page(PG_reserved, p))
		return;
	p = compound_head(p);
	__atomic_fetch_sub(&p->mapcount, 1, __ATOMIC_RELAXED);
	put_page(p);
}

/* Locking: takes each PTE table's lock (pte_offset_map_lock). */
static void zap_pte_range(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			  uint64_t end)
{
	spinlock_t *ptl;
	pte_t *start, *pte = pte_offset_map_lock(mm, pmd, addr, &ptl);

	if (!pte)
		return;		/* none, or became a leaf: the caller retries */
	start = pte;
	do {
		pte_t old = ptep_get(pte);

		if (pte_none(old))
			continue;
		old = ptep_get_and_clear(pte);
		if (pte_present(old) && !pte_special(old))
			zap_frame(pte_pfn(old));
	} while (pte++, addr += PAGE_SIZE, addr != end);
	pte_unmap_unlock(start, ptl);
}

/*
 * A huge leaf is zapped whole; a partial zap of one would need a split,
 * which arrives with huge pages. Locking: takes the PMD lock.
 */
static bool zap_huge_pmd(struct umm_mm *mm, pmd_t *pmd)
{
	spinlock_t *ptl = pmd_lock(mm, pmd);
	pmd_t old = pmdp_get(pmd);
	bool leaf = pmd_leaf(old);

	if (leaf) {
		pmd_clear(pmd);
		if (pmd_present(old) && !(pmd_flags(old) & _PAGE_SPECIAL))
			zap_frame(pmd_pfn(old));
	}
	spin_unlock(ptl);
	return leaf;
}

static void zap_pmd_range(struct umm_mm *mm, pud_t *pud, uint64_t addr,
			  uint64_t end)
{
	pmd_t *pmd = pmd_offset(pud, addr);
	uint64_t next;

	do {
		pmd_t v = pmdp_get(pmd);

		next = pmd_addr_end(addr, end);
		if (pmd_none(v))
			continue;
		if (pmd_leaf(v) && zap_huge_pmd(mm, pmd))
			continue;
		zap_pte_range(mm, pmd, addr, next);
	} while (pmd++, addr = next, addr != end);
}

static bool zap_huge_pud(struct umm_mm *mm, pud_t *pud)
{
	spinlock_t *ptl = pud_lock(mm, pud);
	pud_t old = pudp_get(pud);
	bool leaf = pud_leaf(old);

	if (leaf) {
		pud_clear(pud);
		if (pud_present(old) && !(pud_flags(old) & _PAGE_SPECIAL))
			zap_frame(pud_pfn(old));
	}
	spin_unlock(ptl);
	return leaf;
}

static void zap_pud_range(struct umm_mm *mm, p4d_t *p4d, uint64_t addr,
			  uint64_t end)
{
	pud_t *pud = pud_offset(p4d, addr);
	uint64_t next;

	do {
		pud_t v = pudp_get(pud);

		next = pud_addr_end(addr, end);
		if (!pud_present(v))
			continue;
		if (pud_leaf(v) && zap_huge_pud(mm, pud))
			continue;
		zap_pmd_range(mm, pud, addr, next);
	} while (pud++, addr = next, addr != end);
}

void unmap_page_range(struct umm_mm *mm, uint64_t addr, uint64_t end)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	uint64_t next;

	VM_BUG_ON(!end || end > mm->task_size + PAGE_SIZE || addr >= end);
	do {
		p4d_t *p4d;
		uint64_t a, e;

		next = pgd_addr_end(mm, addr, end);
		if (mm->pgtable_levels == 5 && !pgd_present(pgdp_get(pgd)))
			continue;
		p4d = p4d_offset(mm, pgd, addr);
		for (a = addr; a != next; a = e, p4d++) {
			e = p4d_addr_end(a, next);
			if (p4d_present(p4dp_get(p4d)))
				zap_pud_range(mm, p4d, a, e);
		}
	} while (pgd++, addr = next, addr != end);
}
