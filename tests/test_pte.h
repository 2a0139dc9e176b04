/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_pte.h - for tests that look at umm's internals: the entry mapping
 * an address, read as a lockless walker would.
 */
#ifndef UMM_TEST_PTE_H
#define UMM_TEST_PTE_H

#include "mm.h"
#include "pgtable.h"
#include "page_alloc.h"

/*
 * The entry mapping @addr, read inside RCU (seed 001: the table may not go
 * away under us). 0 when there is no table.
 */
static inline pte_t get_pte(struct umm_mm *mm, uint64_t addr)
{
	pte_t v = __pte(0);
	pmd_t *pmd;
	pte_t *ptep;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	ptep = pmd ? pte_offset_map(pmd, addr) : NULL;
	if (ptep) {
		v = ptep_get(ptep);
		pte_unmap(ptep);
	}
	rcu_read_unlock();
	return v;
}

/* The page of a frame mapped at @addr, NULL for none or the zero page. */
static inline struct page *page_at(struct umm_mm *mm, uint64_t addr)
{
	pte_t e = get_pte(mm, addr);

	return pte_present(e) && !pte_special(e) ? pfn_to_page(pte_pfn(e)) : NULL;
}

#endif /* UMM_TEST_PTE_H */
