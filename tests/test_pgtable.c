// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pgtable - single-threaded unit tests of the page-table layer
 * (src/pgtable.h, src/pgtable.c) and of the zap that feeds it
 * (unmap_page_range): entry encodings, indexes, allocation and its
 * accounting, seed 001's pte_offset_map*() contract (NULL on none, leaf and
 * bad PMDs; RCU and split-lock state on success), and the floor/ceiling
 * rules of free_pgd_range(). Races are test_pgtable_stress's business.
 *
 * A few tests store corrupt PMDs on purpose; pmd_clear_bad() reports each
 * one on stderr ("umm: bad pmd ..."), which is expected output here.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "memory.h"
#include "huge_memory.h"

#define SZ_1G		(1UL << 30)
#define SZ_512G		(1UL << 39)
#define LEAF_PROT	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)

static struct umm_mm *mm_create_levels(unsigned int levels)
{
	struct umm_opts o = { .pgtable_levels = levels };
	struct umm_mm *mm = umm_mm_create(&o);

	CHECK(mm);
	if (!mm) {
		fprintf(stderr, "umm_mm_create(%u levels) failed\n", levels);
		exit(1);	/* nothing below can run without one */
	}
	return mm;
}

static uint64_t nr_tables(struct umm_mm *mm)
{
	return mm_stat_read(mm, MM_PGTABLE_PAGES);
}

static struct page_alloc_stats stats_now(void)
{
	struct page_alloc_stats st;

	page_alloc_get_stats(&st);
	return st;
}

/* Process-wide table frames once every deferred free has run. */
static uint64_t pgtable_pages_settled(void)
{
	rcu_barrier();
	return stats_now().pgtable_pages;
}

/* Allocate every level down to a PTE table for @addr; the PMD entry. */
static pmd_t *populate(struct umm_mm *mm, uint64_t addr)
{
	pmd_t *pmd = NULL;

	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	if (!pmd)
		return NULL;
	CHECK_EQ(pte_alloc(mm, pmd), 0);
	return pmd;
}

/* The PMD entry for @addr if every upper table exists, else NULL. */
static pmd_t *lookup_pmd(struct umm_mm *mm, uint64_t addr)
{
	pmd_t *pmd;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	rcu_read_unlock();	/* single-threaded: nothing frees it meanwhile */
	return pmd;
}

/* The P4D entry for @addr, or NULL when a 5-level mm has no P4D table. */
static p4d_t *lookup_p4d(struct umm_mm *mm, uint64_t addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);

	if (mm->pgtable_levels == 5 && pgd_none(pgdp_get(pgd)))
		return NULL;
	return p4d_offset(mm, pgd, addr);
}

static bool has_p4d_table(struct umm_mm *mm, uint64_t addr)
{
	return !pgd_none(pgdp_get(pgd_offset(mm, addr)));
}

static bool has_pud_table(struct umm_mm *mm, uint64_t addr)
{
	p4d_t *p4d = lookup_p4d(mm, addr);

	return p4d && !p4d_none(p4dp_get(p4d));
}

static bool has_pmd_table(struct umm_mm *mm, uint64_t addr)
{
	return lookup_pmd(mm, addr) != NULL;
}

static bool has_pte_table(struct umm_mm *mm, uint64_t addr)
{
	pmd_t *pmd = lookup_pmd(mm, addr);

	return pmd && !pmd_none(pmdp_get(pmd));
}

/* ---- entry encodings ---- */

static void test_entry_bits(void)
{
	const uint64_t max_pfn = (1UL << 40) - 1;	/* 52-bit physical */
	pte_t pte;

	/* The hardware format is x86-64's; software bits where Linux has them. */
	CHECK_EQ(_PAGE_PRESENT, 1UL << 0);
	CHECK_EQ(_PAGE_RW, 1UL << 1);
	CHECK_EQ(_PAGE_USER, 1UL << 2);
	CHECK_EQ(_PAGE_ACCESSED, 1UL << 5);
	CHECK_EQ(_PAGE_DIRTY, 1UL << 6);
	CHECK_EQ(_PAGE_PSE, 1UL << 7);
	CHECK_EQ(_PAGE_SOFT_DIRTY, 1UL << 11);
	CHECK_EQ(_PAGE_NX, 1UL << 63);
	CHECK_EQ(PTE_PFN_MASK, 0x000ffffffffff000UL);
	CHECK_EQ(PTE_FLAGS_MASK, ~0x000ffffffffff000UL);
	CHECK_EQ(PTRS_PER_PTE * sizeof(pte_t), PAGE_SIZE);

	/* pfn_pte/pte_pfn round trip, up to the largest pfn, flags intact */
	pte = pfn_pte(max_pfn, __pgprot(_PAGE_PRESENT | _PAGE_NX));
	CHECK_EQ(pte_val(pte), 0x800ffffffffff001UL);
	CHECK_EQ(pte_pfn(pte), max_pfn);
	CHECK_EQ(pte_flags(pte), _PAGE_PRESENT | _PAGE_NX);
	pte = pfn_pte(max_pfn, __pgprot(PTE_FLAGS_MASK));
	CHECK_EQ(pte_pfn(pte), max_pfn);
	CHECK_EQ(pte_flags(pte), PTE_FLAGS_MASK);
	CHECK_EQ(pte_val(pte), ~0UL);
	CHECK_EQ(pte_pfn(pfn_pte(1, __pgprot(0))), 1);
	CHECK_EQ(pte_val(pfn_pte(0x12345, __pgprot(_PAGE_RW))), 0x12345002UL);

	/* predicates */
	CHECK(pte_none(__pte(0)));
	CHECK(!pte_none(__pte(_PAGE_NX)));	/* any bit makes it non-none */
	CHECK(!pte_present(__pte(0)));
	CHECK(pte_present(__pte(_PAGE_PRESENT)));
	CHECK(pte_present(__pte(_PAGE_PROTNONE)));	/* PROT_NONE stays ours */
	CHECK(pte_protnone(__pte(_PAGE_PROTNONE)));
	CHECK(!pte_protnone(__pte(_PAGE_PROTNONE | _PAGE_PRESENT)));
	CHECK(!pte_protnone(__pte(_PAGE_PRESENT)));
	/* a pfn bit is not a flag */
	CHECK(!pte_present(__pte(1UL << PAGE_SHIFT)));
	CHECK(!pte_write(__pte(~0UL & ~_PAGE_RW)));

	pte = pfn_pte(42, __pgprot(_PAGE_PRESENT));
	CHECK(!pte_write(pte) && !pte_dirty(pte) && !pte_young(pte));
	CHECK(!pte_soft_dirty(pte) && !pte_special(pte));
	CHECK(pte_exec(pte));
	CHECK(!pte_exec(pte_set_flags(pte, _PAGE_NX)));

	CHECK(pte_write(pte_mkwrite(pte)));
	CHECK(!pte_write(pte_wrprotect(pte_mkwrite(pte))));
	/* mkdirty also marks soft-dirty; mkclean leaves soft-dirty alone */
	CHECK(pte_dirty(pte_mkdirty(pte)));
	CHECK(pte_soft_dirty(pte_mkdirty(pte)));
	CHECK(!pte_dirty(pte_mkclean(pte_mkdirty(pte))));
	CHECK(pte_soft_dirty(pte_mkclean(pte_mkdirty(pte))));
	CHECK(pte_young(pte_mkyoung(pte)));
	CHECK(!pte_young(pte_mkold(pte_mkyoung(pte))));
	CHECK(pte_special(pte_mkspecial(pte)));
	/* none of them touch the pfn */
	CHECK_EQ(pte_pfn(pte_mkold(pte_mkclean(pte_wrprotect(pte_mkspecial(
		pte_mkyoung(pte_mkdirty(pte_mkwrite(pte)))))))), 42);
	CHECK_EQ(pte_val(pte_clear_flags(pte_mkdirty(pte_mkwrite(pte)),
					 _PAGE_RW | _PAGE_DIRTY | _PAGE_SOFT_DIRTY)),
		 pte_val(pte));
	CHECK(pte_same(pte, pfn_pte(42, __pgprot(_PAGE_PRESENT))));
	CHECK(!pte_same(pte, pte_mkyoung(pte)));

	/* ordered accessors */
	pte_t slot = __pte(0);

	set_pte(&slot, pte);
	CHECK(pte_same(ptep_get(&slot), pte));
	CHECK(pte_same(ptep_get_and_clear(&slot), pte));
	CHECK(pte_none(ptep_get(&slot)));
	set_pte(&slot, pte);
	pte_clear(&slot);
	CHECK(pte_none(slot));
}

static void test_pmd_pud_bits(void)
{
	const uint64_t table = (0x1234UL << PAGE_SHIFT) | _PAGE_TABLE;
	const uint64_t leaf = (0x200UL << PAGE_SHIFT) | LEAF_PROT | _PAGE_PSE;
	pmd_t pmd;
	pud_t pud;

	/* pmd_bad: exactly the table bits, _PAGE_USER optional */
	CHECK(!pmd_bad(__pmd(table)));
	CHECK(!pmd_bad(__pmd((0x1234UL << PAGE_SHIFT) | _KERNPG_TABLE)));
	CHECK(pmd_bad(__pmd(leaf)));			/* leaves are not tables */
	CHECK(pmd_bad(__pmd(0)));
	CHECK(pmd_bad(__pmd(0x1234000UL | _PAGE_PRESENT)));	/* missing RW/A/D */
	CHECK(pmd_bad(__pmd(table | _PAGE_NX)));
	CHECK(pmd_bad(__pmd(table | _PAGE_SPECIAL)));
	CHECK(pmd_bad(__pmd(table & ~_PAGE_PRESENT)));
	CHECK(pmd_bad(__pmd(table & ~_PAGE_RW)));
	CHECK(pmd_bad(__pmd(table & ~_PAGE_DIRTY)));
	CHECK(pmd_bad(__pmd(0xdeadbeefdeadbeefUL)));

	CHECK(pmd_none(__pmd(0)) && !pmd_none(__pmd(table)));
	CHECK(pmd_present(__pmd(table)));
	CHECK(pmd_present(__pmd(leaf)));
	/* PROT_NONE leaf: not present to the MMU, present to mm */
	CHECK(pmd_present(__pmd((0x200UL << PAGE_SHIFT) | _PAGE_PSE | _PAGE_PROTNONE)));
	CHECK(pmd_present(__pmd(_PAGE_PROTNONE)));
	/* a leaf being split (pmdp_invalidate: PRESENT cleared) stays present */
	CHECK(pmd_present(__pmd(leaf & ~_PAGE_PRESENT)));
	CHECK(pud_present(__pud(leaf & ~_PAGE_PRESENT)));
	CHECK(!pmd_present(__pmd(0x200UL << PAGE_SHIFT)));
	CHECK(!pmd_leaf(__pmd(table)) && pmd_leaf(__pmd(leaf)));
	CHECK(pmd_trans_huge(__pmd(leaf)));
	CHECK(!pmd_trans_huge(__pmd(leaf | _PAGE_DEVMAP)));
	CHECK(pmd_devmap(__pmd(leaf | _PAGE_DEVMAP)) && !pmd_devmap(__pmd(leaf)));
	CHECK(!pmd_trans_huge(__pmd(table)));
	CHECK(pmd_write(__pmd(leaf)) && !pmd_write(__pmd(leaf & ~_PAGE_RW)));
	CHECK(pmd_dirty(__pmd(leaf)) && !pmd_dirty(__pmd(leaf & ~_PAGE_DIRTY)));
	CHECK_EQ(pmd_pfn(__pmd(table | _PAGE_NX)), 0x1234);
	CHECK_EQ(pmd_flags(__pmd(table)), _PAGE_TABLE);
	CHECK(pmd_same(__pmd(table), __pmd(table)));
	CHECK(!pmd_same(__pmd(table), __pmd(table | _PAGE_NX)));
	pmd = pmd_mkhuge(pfn_pmd((1UL << 40) - 512, __pgprot(LEAF_PROT)));
	CHECK(pmd_leaf(pmd) && pmd_present(pmd));
	CHECK_EQ(pmd_pfn(pmd), (1UL << 40) - 512);
	CHECK_EQ(pmd_flags(pmd), LEAF_PROT | _PAGE_PSE);
	CHECK(pmd_page(__pmd(table)) == pfn_to_page(0x1234));
	CHECK((void *)pmd_pgtable_vaddr(__pmd(table)) == pfn_to_virt(0x1234));

	pmd_t pslot = __pmd(0);

	set_pmd(&pslot, __pmd(table));
	CHECK(pmd_same(pmdp_get_lockless(&pslot), __pmd(table)));
	CHECK(pmd_same(pmdp_get_and_clear(&pslot), __pmd(table)));
	CHECK(pmd_none(pmdp_get(&pslot)));
	set_pmd(&pslot, __pmd(leaf));
	pmd_clear(&pslot);
	CHECK(pmd_none(pslot));

	/* PUD: the same rules one level up */
	CHECK(!pud_bad(__pud(table)));
	CHECK(!pud_bad(__pud((0x1234UL << PAGE_SHIFT) | _KERNPG_TABLE)));
	CHECK(pud_bad(__pud(leaf)) && pud_bad(__pud(0)));
	CHECK(pud_bad(__pud(table | _PAGE_NX)));
	CHECK(pud_none(__pud(0)) && !pud_none(__pud(table)));
	CHECK(pud_present(__pud(table)) && pud_present(__pud(leaf)));
	CHECK(pud_present(__pud(_PAGE_PSE | _PAGE_PROTNONE)));
	CHECK(!pud_present(__pud(0x200UL << PAGE_SHIFT)));
	CHECK(pud_leaf(__pud(leaf)) && !pud_leaf(__pud(table)));
	CHECK(pud_trans_huge(__pud(leaf)) && !pud_trans_huge(__pud(leaf | _PAGE_DEVMAP)));
	CHECK(!pud_trans_huge(__pud(table)));
	CHECK_EQ(pud_pfn(__pud(table)), 0x1234);
	CHECK_EQ(pud_flags(__pud(table | _PAGE_NX)), _PAGE_TABLE | _PAGE_NX);
	CHECK(pud_same(__pud(leaf), __pud(leaf)) && !pud_same(__pud(leaf), __pud(table)));
	CHECK((void *)pud_pgtable(__pud(table)) == pfn_to_virt(0x1234));
	pud = pud_mkhuge(pfn_pud(0x40000, __pgprot(LEAF_PROT)));
	CHECK(pud_leaf(pud));
	CHECK_EQ(pud_pfn(pud), 0x40000);

	pud_t uslot = __pud(0);

	set_pud(&uslot, pud);
	CHECK(pud_same(pudp_get(&uslot), pud));
	CHECK(pud_same(pudp_get_and_clear(&uslot), pud));
	CHECK(pud_none(uslot));
	set_pud(&uslot, pud);
	pud_clear(&uslot);
	CHECK(pud_none(uslot));

	/* P4D and PGD: tables only */
	CHECK(p4d_none(__p4d(0)) && !p4d_none(__p4d(table)));
	CHECK(p4d_present(__p4d(table)) && !p4d_present(__p4d(table & ~_PAGE_PRESENT)));
	CHECK(!p4d_bad(__p4d(table)) && p4d_bad(__p4d(leaf)));
	CHECK(p4d_bad(__p4d(table | _PAGE_NX)) && p4d_bad(__p4d(0x1234000UL | _PAGE_PRESENT)));
	CHECK_EQ(p4d_pfn(__p4d(table)), 0x1234);
	CHECK((void *)p4d_pgtable(__p4d(table)) == pfn_to_virt(0x1234));
	CHECK(pgd_none(__pgd(0)) && !pgd_none(__pgd(table)));
	CHECK(pgd_present(__pgd(table)) && !pgd_present(__pgd(table & ~_PAGE_PRESENT)));
	CHECK(!pgd_bad(__pgd(table)) && pgd_bad(__pgd(leaf)));
	CHECK(!pgd_bad(__pgd((0x1234UL << PAGE_SHIFT) | _KERNPG_TABLE)));
	CHECK(pgd_bad(__pgd(table | _PAGE_NX)));
	CHECK_EQ(pgd_pfn(__pgd(table)), 0x1234);

	p4d_t dslot = __p4d(0);
	pgd_t gslot = __pgd(0);

	set_p4d(&dslot, __p4d(table));
	CHECK_EQ(p4d_val(p4dp_get(&dslot)), table);
	p4d_clear(&dslot);
	CHECK(p4d_none(dslot));
	set_pgd(&gslot, __pgd(table));
	CHECK_EQ(pgd_val(pgdp_get(&gslot)), table);
	pgd_clear(&gslot);
	CHECK(pgd_none(gslot));
}

/* ---- indexes, offsets and address ends ---- */

static void test_indexes(void)
{
	/* distinct index at every level: pgd5 0xf1, p4d/pgd4 0x1ab, ... */
	const uint64_t a4 = (0x0abUL << 39) | (0x0cdUL << 30) | (0x0efUL << 21) |
			    (0x123UL << 12) | 0x456;
	const uint64_t a5 = (0x0f1UL << 48) | (0x1abUL << 39) | (0x0cdUL << 30) |
			    (0x0efUL << 21) | (0x123UL << 12) | 0x456;
	struct umm_mm *mm4 = mm_create_levels(4), *mm5 = mm_create_levels(5);
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	CHECK_EQ(pte_index(a5), 0x123);
	CHECK_EQ(pmd_index(a5), 0x0ef);
	CHECK_EQ(pud_index(a5), 0x0cd);
	CHECK_EQ(p4d_index(a5), 0x1ab);
	CHECK_EQ(pte_index(PAGE_SIZE - 1), 0);
	CHECK_EQ(pte_index(TASK_SIZE_L5 - 1), 510);	/* below the guard page */
	CHECK_EQ(pte_index((1UL << 56) - 1), 511);
	CHECK_EQ(pmd_index(TASK_SIZE_L5 - 1), 511);
	CHECK_EQ(pud_index(TASK_SIZE_L5 - 1), 511);
	CHECK_EQ(p4d_index(TASK_SIZE_L5 - 1), 511);
	CHECK_EQ(mm_pgdir_shift(mm4), 39);
	CHECK_EQ(mm_pgdir_shift(mm5), 48);

	/* 4-level: the PGD is indexed by bits 39..47, and the P4D is folded */
	pgd = pgd_offset(mm4, a4);
	CHECK(pgd == (pgd_t *)mm4->pgd + 0x0ab);
	CHECK(pgd_offset(mm4, TASK_SIZE_L4 - 1) == (pgd_t *)mm4->pgd + 255);
	CHECK(pgd_offset(mm4, 0) == (pgd_t *)mm4->pgd);
	CHECK(pgd_offset(mm4, SZ_512G - 1) == (pgd_t *)mm4->pgd);
	CHECK(pgd_offset(mm4, SZ_512G) == (pgd_t *)mm4->pgd + 1);
	CHECK((void *)p4d_offset(mm4, pgd, a4) == (void *)pgd);
	CHECK(p4d_alloc(mm4, pgd, a4) == (p4d_t *)pgd);	/* no table to allocate */
	CHECK_EQ(nr_tables(mm4), 1);
	CHECK_EQ(walk_to_pmd(mm4, a4, &pmd), 0);
	p4d = p4d_offset(mm4, pgd, a4);
	pud = pud_offset(p4d, a4);
	CHECK(pud == p4d_pgtable(p4dp_get(p4d)) + 0x0cd);
	CHECK(pmd_offset(pud, a4) == pud_pgtable(pudp_get(pud)) + 0x0ef);
	CHECK(pmd == pmd_offset(pud, a4));
	CHECK_EQ(pte_alloc(mm4, pmd), 0);
	CHECK(pte_offset_kernel(pmd, a4) == pmd_pgtable_vaddr(pmdp_get(pmd)) + 0x123);

	/* 5-level: the PGD is indexed by bits 48..56, the P4D by 39..47 */
	pgd = pgd_offset(mm5, a5);
	CHECK(pgd == (pgd_t *)mm5->pgd + 0x0f1);
	CHECK(pgd_offset(mm5, TASK_SIZE_L5 - 1) == (pgd_t *)mm5->pgd + 255);
	CHECK(pgd_offset(mm5, (1UL << 48) - 1) == (pgd_t *)mm5->pgd);
	CHECK(pgd_offset(mm5, 1UL << 48) == (pgd_t *)mm5->pgd + 1);
	p4d = p4d_alloc(mm5, pgd, a5);
	CHECK_EQ(nr_tables(mm5), 2);
	CHECK(p4d && !pgd_bad(pgdp_get(pgd)));
	CHECK((void *)p4d != (void *)pgd);
	CHECK(p4d == (p4d_t *)pfn_to_virt(pgd_pfn(pgdp_get(pgd))) + 0x1ab);
	CHECK(p4d_offset(mm5, pgd, a5) == p4d);
	CHECK_EQ(walk_to_pmd(mm5, a5, &pmd), 0);
	pud = pud_offset(p4d, a5);
	CHECK(pud == p4d_pgtable(p4dp_get(p4d)) + 0x0cd);
	CHECK(pmd == pud_pgtable(pudp_get(pud)) + 0x0ef);
	CHECK_EQ(pte_alloc(mm5, pmd), 0);
	CHECK(pte_offset_kernel(pmd, a5) == pmd_pgtable_vaddr(pmdp_get(pmd)) + 0x123);
	CHECK_EQ(nr_tables(mm5), 5);

	umm_mm_destroy(mm4);
	umm_mm_destroy(mm5);
}

static void test_addr_end(void)
{
	struct umm_mm *mm4 = mm_create_levels(4), *mm5 = mm_create_levels(5);
	const uint64_t top_pmd = ~0UL - PMD_SIZE + 1;	/* last 2 MiB of 2^64 */

	/* the next boundary, or end when that comes first */
	CHECK_EQ(pmd_addr_end(0x1000UL, 0x10000000UL), 0x200000);
	CHECK_EQ(pmd_addr_end(0x1000UL, 0x3000UL), 0x3000);
	CHECK_EQ(pmd_addr_end(0x200000UL, 0x10000000UL), 0x400000);
	CHECK_EQ(pmd_addr_end(0x200000UL, 0x400000UL), 0x400000);
	CHECK_EQ(pmd_addr_end(0x3ff000UL, 0x400000UL), 0x400000);
	CHECK_EQ(pud_addr_end(SZ_1G + 0x1000, 5 * SZ_1G), 2 * SZ_1G);
	CHECK_EQ(pud_addr_end(SZ_1G + 0x1000, SZ_1G + 0x5000), SZ_1G + 0x5000);
	CHECK_EQ(p4d_addr_end(0x1000UL, 1UL << 56), SZ_512G);
	CHECK_EQ(pgd_addr_end(mm4, 0x1000UL, TASK_SIZE_L4), SZ_512G);
	CHECK_EQ(pgd_addr_end(mm5, 0x1000UL, TASK_SIZE_L5), 1UL << 48);
	CHECK_EQ(pgd_addr_end(mm4, 255 * SZ_512G, TASK_SIZE_L4), TASK_SIZE_L4);
	CHECK_EQ(pgd_addr_end(mm5, 255UL << 48, TASK_SIZE_L5), TASK_SIZE_L5);

	/* end 0 means the top: it never clamps except at the very end */
	CHECK_EQ(pmd_addr_end(0x1000UL, 0UL), 0x200000);
	CHECK_EQ(pud_addr_end(0x1000UL, 0UL), SZ_1G);
	/* the boundary past the last span wraps to 0: clamp to end */
	CHECK_EQ(pmd_addr_end(top_pmd + 0x1000, 0UL), 0);
	CHECK_EQ(pmd_addr_end(top_pmd, 0UL), 0);
	CHECK_EQ(pmd_addr_end(top_pmd + 0x1000, ~0UL - 0xfff), ~0UL - 0xfff);
	CHECK_EQ(pud_addr_end(~0UL - SZ_1G + 1, 0UL), 0);
	CHECK_EQ(pmd_addr_end(top_pmd - PMD_SIZE, 0UL), top_pmd);
	/* a walk over the top span of the 64-bit space ends exactly at 0 */
	uint64_t a = ~0UL - 3 * PMD_SIZE + 1, n = 0;

	do {
		n++;
	} while (a = pmd_addr_end(a, 0UL), a != 0 && n < 10);
	CHECK_EQ(n, 3);

	umm_mm_destroy(mm4);
	umm_mm_destroy(mm5);
}

/* ---- allocation ---- */

static void test_alloc_levels(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 3 * SZ_1G + 5 * PMD_SIZE + 0x7000;
	uint64_t tables0 = pgtable_pages_settled();
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, *pmd2;

	CHECK_EQ(nr_tables(mm), 1);		/* the PGD */
	CHECK(test_bit_page(PG_table, virt_to_page(mm->pgd)));

	p4d = p4d_alloc(mm, pgd, addr);
	CHECK_EQ(nr_tables(mm), 1);
	pud = pud_alloc(mm, p4d, addr);
	CHECK(pud);
	CHECK_EQ(nr_tables(mm), 2);
	CHECK_EQ(pgd_val(pgdp_get(pgd)) & PTE_FLAGS_MASK, _PAGE_TABLE);
	CHECK(pud_alloc(mm, p4d, addr) == pud);		/* idempotent */
	CHECK_EQ(nr_tables(mm), 2);

	pmd = pmd_alloc(mm, pud, addr);
	CHECK(pmd);
	CHECK_EQ(nr_tables(mm), 3);
	CHECK_EQ(pud_flags(pudp_get(pud)), _PAGE_TABLE);
	CHECK(pmd_alloc(mm, pud, addr) == pmd);
	CHECK_EQ(nr_tables(mm), 3);

	CHECK(pmd_none(pmdp_get(pmd)));
	CHECK_EQ(pte_alloc(mm, pmd), 0);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK(!pmd_bad(pmdp_get(pmd)) && !pmd_leaf(pmdp_get(pmd)));
	CHECK_EQ(pmd_flags(pmdp_get(pmd)), _PAGE_TABLE);
	CHECK_EQ(pte_alloc(mm, pmd), 0);
	CHECK_EQ(nr_tables(mm), 4);

	/* every new table is zeroed, marked, and has a free split lock */
	struct page *pt = pmd_page(pmdp_get(pmd));
	const pte_t *entries = pmd_pgtable_vaddr(pmdp_get(pmd));
	bool zero = true;

	for (int i = 0; i < PTRS_PER_PTE; i++)
		zero = zero && pte_none(entries[i]);
	CHECK(zero);
	CHECK(test_bit_page(PG_table, pt));
	CHECK(!spin_is_locked(ptlock_ptr(pt)));
	CHECK(test_bit_page(PG_table, virt_to_page(pmd)));
	CHECK(test_bit_page(PG_table, virt_to_page(pud)));

	/* walk_to_pmd finds the same entry and allocates nothing */
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd2), 0);
	CHECK(pmd2 == pmd);
	CHECK_EQ(walk_to_pmd(mm, addr + PMD_SIZE, &pmd2), 0);
	CHECK(pmd2 == pmd + 1);
	CHECK_EQ(nr_tables(mm), 4);

	/* the next 1 GiB: one more PMD table; the next 512 GiB: PUD + PMD */
	CHECK_EQ(walk_to_pmd(mm, addr + SZ_1G, &pmd2), 0);
	CHECK_EQ(nr_tables(mm), 5);
	CHECK_EQ(walk_to_pmd(mm, addr + SZ_512G, &pmd2), 0);
	CHECK_EQ(nr_tables(mm), 7);
	CHECK_EQ(walk_to_pmd(mm, addr + SZ_512G, &pmd2), 0);
	CHECK_EQ(nr_tables(mm), 7);
	CHECK_EQ(stats_now().pgtable_pages, tables0 + 6);

	umm_mm_destroy(mm);
	CHECK_EQ(pgtable_pages_settled(), tables0 - 1);

	/* 5-level: p4d_alloc allocates, exactly once */
	mm = mm_create_levels(5);
	pgd = pgd_offset(mm, addr);
	p4d = p4d_alloc(mm, pgd, addr);
	CHECK(p4d);
	CHECK_EQ(nr_tables(mm), 2);
	CHECK_EQ(pgd_val(pgdp_get(pgd)) & PTE_FLAGS_MASK, _PAGE_TABLE);
	CHECK(p4d_alloc(mm, pgd, addr) == p4d);
	CHECK_EQ(nr_tables(mm), 2);
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd2), 0);
	CHECK(pmd2 == pmd);
	CHECK_EQ(nr_tables(mm), 4);
	umm_mm_destroy(mm);
}

/* A huge PUD leaf leaves no PMD table to return. */
static void test_walk_to_pmd_huge_pud(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 7 * SZ_1G + 0x3000;
	pmd_t *const sentinel = (pmd_t *)&mm;
	pmd_t *pmd = sentinel;
	pgd_t *pgd = pgd_offset(mm, addr);
	pud_t *pud = pud_alloc(mm, p4d_alloc(mm, pgd, addr), addr);

	CHECK(pud);
	CHECK_EQ(nr_tables(mm), 2);
	/* special: no struct page behind it, so teardown drops nothing */
	set_pud(pud, pud_mkhuge(pfn_pud(0x40000, __pgprot(LEAF_PROT | _PAGE_SPECIAL))));
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), -EEXIST);
	CHECK(pmd == sentinel);
	CHECK_EQ(walk_to_pmd(mm, (addr & PUD_MASK) + SZ_1G - PAGE_SIZE, &pmd), -EEXIST);
	CHECK(pmd == sentinel);
	CHECK_EQ(nr_tables(mm), 2);		/* no PMD table allocated */
	CHECK(!has_pmd_table(mm, addr));

	/* a PROT_NONE leaf is still a leaf */
	set_pud(pud, __pud((0x40000UL << PAGE_SHIFT) | _PAGE_PSE | _PAGE_PROTNONE));
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), -EEXIST);
	CHECK(pmd == sentinel);

	/* the neighbouring 1 GiB is unaffected */
	CHECK_EQ(walk_to_pmd(mm, addr + SZ_1G, &pmd), 0);
	CHECK(pmd != sentinel);
	CHECK_EQ(nr_tables(mm), 3);

	/* once the leaf is gone, a table goes in its place */
	pud_clear(pud);
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK(pmd == pud_pgtable(pudp_get(pud)) + pmd_index(addr));
	umm_mm_destroy(mm);
}

static void test_alloc_enomem(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 9 * SZ_1G + 3 * PMD_SIZE + 0x1000;
	spinlock_t *const ptl_sentinel = (spinlock_t *)&mm;
	spinlock_t *ptl = ptl_sentinel;
	struct page_alloc_stats st0;
	pmd_t *pmd = NULL;
	pgd_t *pgd = pgd_offset(mm, addr);

	rcu_barrier();
	st0 = stats_now();
	CHECK_EQ(quota_used(mm->quota), 1);		/* the PGD */

	/* room for nothing: the PUD table fails, nothing is left behind */
	mm->quota->limit = 1;
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), -ENOMEM);
	CHECK(pmd == NULL);
	CHECK_EQ(nr_tables(mm), 1);
	CHECK_EQ(quota_used(mm->quota), 1);
	CHECK(pgd_none(pgdp_get(pgd)));
	CHECK(pud_alloc(mm, p4d_offset(mm, pgd, addr), addr) == NULL);
	CHECK_EQ(__pud_alloc(mm, p4d_offset(mm, pgd, addr), addr), -ENOMEM);
	CHECK(pte_alloc_one(mm) == NULL);
	CHECK_EQ(nr_tables(mm), 1);

	/* room for one: the PUD table goes in, the PMD table fails */
	mm->quota->limit = 2;
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), -ENOMEM);
	CHECK(pmd == NULL);
	CHECK_EQ(nr_tables(mm), 2);
	CHECK_EQ(quota_used(mm->quota), 2);
	CHECK(has_pud_table(mm, addr) && !has_pmd_table(mm, addr));
	pud_t *pud = pud_offset(p4d_offset(mm, pgd, addr), addr);

	CHECK(pmd_alloc(mm, pud, addr) == NULL);
	CHECK_EQ(__pmd_alloc(mm, pud, addr), -ENOMEM);
	CHECK(pud_none(pudp_get(pud)));

	/* room for the PMD table but not the PTE table */
	mm->quota->limit = 3;
	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	CHECK(pmd != NULL);
	CHECK_EQ(nr_tables(mm), 3);
	CHECK_EQ(pte_alloc(mm, pmd), -ENOMEM);
	CHECK_EQ(__pte_alloc(mm, pmd), -ENOMEM);
	CHECK(pmd_none(pmdp_get(pmd)));
	CHECK(pte_alloc_map_lock(mm, pmd, addr, &ptl) == NULL);
	CHECK(ptl == ptl_sentinel);
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(nr_tables(mm), 3);
	CHECK_EQ(quota_used(mm->quota), 3);

	/* nothing leaked: only the two tables that went in are in use */
	struct page_alloc_stats st = stats_now();

	CHECK_EQ(st.in_use_pages, st0.in_use_pages + 2);
	CHECK_EQ(st.pgtable_pages, st0.pgtable_pages + 2);

	/* and raising the limit is all it takes */
	mm->quota->limit = QUOTA_UNLIMITED;
	ptl = NULL;
	pte_t *pte = pte_alloc_map_lock(mm, pmd, addr, &ptl);

	CHECK(pte);
	if (pte)
		pte_unmap_unlock(pte, ptl);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK_EQ(quota_used(mm->quota), 4);
	umm_mm_destroy(mm);
	rcu_barrier();
	st = stats_now();
	CHECK_EQ(st.in_use_pages, st0.in_use_pages - 1);
	CHECK_EQ(st.pgtable_pages, st0.pgtable_pages - 1);

	/* 5-level: each of the four levels below the PGD can be the one */
	mm = mm_create_levels(5);
	pgd = pgd_offset(mm, addr);
	for (uint64_t lim = 1; lim <= 4; lim++) {
		mm->quota->limit = lim;
		pmd = NULL;
		CHECK_EQ(walk_to_pmd(mm, addr, &pmd), lim < 4 ? -ENOMEM : 0);
		CHECK_EQ(nr_tables(mm), lim);
		CHECK_EQ(quota_used(mm->quota), lim);
		if (lim == 1) {
			CHECK(pgd_none(pgdp_get(pgd)));
			CHECK(p4d_alloc(mm, pgd, addr) == NULL);
			CHECK_EQ(__p4d_alloc(mm, pgd, addr), -ENOMEM);
		}
	}
	CHECK(pmd != NULL);
	mm->quota->limit = QUOTA_UNLIMITED;
	CHECK_EQ(pte_alloc(mm, pmd), 0);
	CHECK_EQ(nr_tables(mm), 5);
	umm_mm_destroy(mm);
}

/* pmd_install and the table allocators keep the first table in place. */
static void test_install_and_free(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 11 * SZ_1G + 0x1000;
	pgd_t *pgd = pgd_offset(mm, addr);
	uint64_t tables0;
	pgtable_t t1, t1_saved, t2, t2_saved, t3;
	pmd_t *pmd, before;
	pud_t *pud;

	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	CHECK_EQ(nr_tables(mm), 3);
	tables0 = pgtable_pages_settled();

	t1 = t1_saved = pte_alloc_one(mm);
	CHECK(t1);
	if (!t1)
		goto out;
	CHECK(test_bit_page(PG_table, t1));
	CHECK(!spin_is_locked(ptlock_ptr(t1)));
	CHECK_EQ(nr_tables(mm), 4);
	CHECK_EQ(stats_now().pgtable_pages, tables0 + 1);
	pmd_install(mm, pmd, &t1);
	CHECK(t1 == NULL);				/* consumed */
	CHECK(pmd_page(pmdp_get(pmd)) == t1_saved);
	CHECK_EQ(pmd_val(pmdp_get(pmd)),
		 (page_to_pfn(t1_saved) << PAGE_SHIFT) | _PAGE_TABLE);
	CHECK(!spin_is_locked(pmd_lockptr(mm, pmd)));

	/* a second installer loses and keeps its table */
	t2 = t2_saved = pte_alloc_one(mm);
	CHECK(t2);
	if (!t2)
		goto out;
	CHECK_EQ(nr_tables(mm), 5);
	pmd_install(mm, pmd, &t2);
	CHECK(t2 == t2_saved);
	CHECK(pmd_page(pmdp_get(pmd)) == t1_saved);
	CHECK(!spin_is_locked(pmd_lockptr(mm, pmd)));
	/* never installed: freed at once, no grace period */
	pte_free(mm, t2);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK_EQ(stats_now().pgtable_pages, tables0 + 1);

	/* the slow paths, called on populated entries, change nothing */
	before = pmdp_get(pmd);
	CHECK_EQ(__pte_alloc(mm, pmd), 0);
	CHECK(pmd_same(pmdp_get(pmd), before));
	pud = pud_offset(p4d_offset(mm, pgd, addr), addr);
	pud_t pud_before = pudp_get(pud);

	CHECK_EQ(__pmd_alloc(mm, pud, addr), 0);
	CHECK(pud_same(pudp_get(pud), pud_before));
	pgd_t pgd_before = pgdp_get(pgd);

	CHECK_EQ(__pud_alloc(mm, p4d_offset(mm, pgd, addr), addr), 0);
	CHECK_EQ(pgd_val(pgdp_get(pgd)), pgd_val(pgd_before));
	CHECK_EQ(nr_tables(mm), 4);
	CHECK_EQ(stats_now().pgtable_pages, tables0 + 1);
	CHECK(!spin_is_locked(&mm->page_table_lock));

	/* pte_free_defer: out of the mm's count now, back to the pool later */
	t3 = pte_alloc_one(mm);
	CHECK(t3);
	if (t3) {
		pte_free_defer(mm, t3);
		CHECK_EQ(nr_tables(mm), 4);
		CHECK_EQ(pgtable_pages_settled(), tables0 + 1);
	}

	/*
	 * Retraction (seed 003's shape): under the PMD lock and the table's
	 * own lock, the PMD is cleared and the table deferred; the reader's
	 * RCU section keeps the frame alive until after its lock is dropped.
	 */
	spinlock_t *pml = pmd_lock(mm, pmd), *ptl;
	pte_t *pte = pte_offset_map_lock(mm, pmd, addr, &ptl);

	CHECK(pte);
	if (pte) {
		pmd_t old = pmdp_get_and_clear(pmd);

		pte_free_defer(mm, pmd_page(old));
		CHECK_EQ(nr_tables(mm), 3);
		pte_unmap_unlock(pte, ptl);
	}
	spin_unlock(pml);
	CHECK_EQ(pgtable_pages_settled(), tables0);
	CHECK(pmd_none(pmdp_get(pmd)));
	CHECK_EQ(pte_alloc(mm, pmd), 0);	/* and the slot can be refilled */
	CHECK_EQ(nr_tables(mm), 4);
out:
	umm_mm_destroy(mm);

	/* 5-level: __p4d_alloc on a populated PGD entry */
	mm = mm_create_levels(5);
	pgd = pgd_offset(mm, addr);
	CHECK_EQ(__p4d_alloc(mm, pgd, addr), 0);
	CHECK_EQ(nr_tables(mm), 2);
	pgd_t g = pgdp_get(pgd);

	CHECK_EQ(__p4d_alloc(mm, pgd, addr), 0);
	CHECK_EQ(pgd_val(pgdp_get(pgd)), pgd_val(g));
	CHECK_EQ(nr_tables(mm), 2);
	umm_mm_destroy(mm);
}

/* ---- seed 001: mapping a PTE table may fail ---- */

/* Each of the three mappers must refuse @val in *@pmd without a trace. */
static void check_no_map(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			 uint64_t val, bool cleared)
{
	spinlock_t *const sentinel = (spinlock_t *)&mm;
	spinlock_t *ptl;
	pmd_t seen = __pmd(~0UL);
	uint64_t retries = mm_stat_read(mm, MM_PTE_MAP_RETRY);

	set_pmd(pmd, __pmd(val));
	CHECK(pte_offset_map(pmd, addr) == NULL);
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(pmd_val(pmdp_get(pmd)), cleared ? 0 : val);

	set_pmd(pmd, __pmd(val));
	CHECK(__pte_offset_map(pmd, addr, &seen) == NULL);
	CHECK_EQ(pmd_val(seen), val);		/* what the decision was made on */
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(pmd_val(pmdp_get(pmd)), cleared ? 0 : val);

	set_pmd(pmd, __pmd(val));
	ptl = sentinel;
	CHECK(pte_offset_map_nolock(mm, pmd, addr, &ptl) == NULL);
	CHECK(ptl == sentinel);
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(pmd_val(pmdp_get(pmd)), cleared ? 0 : val);

	set_pmd(pmd, __pmd(val));
	ptl = sentinel;
	CHECK(pte_offset_map_lock(mm, pmd, addr, &ptl) == NULL);
	CHECK(ptl == sentinel);
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(pmd_val(pmdp_get(pmd)), cleared ? 0 : val);
	CHECK_EQ(mm_stat_read(mm, MM_PTE_MAP_RETRY), retries);
	pmd_clear(pmd);
}

static void test_pte_offset_map(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 13 * SZ_1G + 7 * PMD_SIZE + 0x45000;
	const uint64_t leaf = (0x200UL << PAGE_SHIFT) | LEAF_PROT | _PAGE_PSE;
	uint64_t tables;
	spinlock_t *ptl, *ptl2;
	pmd_t *pmd, seen;
	pte_t *pte, *pte2, *base;

	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	tables = nr_tables(mm);
	CHECK(!rcu_read_lock_held());

	/* none, huge leaf (THP, devmap, PROT_NONE): NULL, PMD untouched */
	check_no_map(mm, pmd, addr, 0, false);
	check_no_map(mm, pmd, addr, leaf, false);
	check_no_map(mm, pmd, addr, leaf | _PAGE_DEVMAP, false);
	check_no_map(mm, pmd, addr,
		     (0x200UL << PAGE_SHIFT) | _PAGE_PSE | _PAGE_PROTNONE, false);
	/* bad (neither table nor leaf): NULL, and the PMD is cleared */
	check_no_map(mm, pmd, addr, 0x1234000UL | _PAGE_PRESENT, true);
	check_no_map(mm, pmd, addr, (0x1234UL << PAGE_SHIFT) | _PAGE_TABLE | _PAGE_NX,
		     true);
	check_no_map(mm, pmd, addr, 0xdead0000UL | _PAGE_RW, true);
	CHECK_EQ(nr_tables(mm), tables);

	/* a table: entry for addr, inside RCU, lock as documented */
	CHECK_EQ(pte_alloc(mm, pmd), 0);
	base = pmd_pgtable_vaddr(pmdp_get(pmd));

	pte = pte_offset_map(pmd, addr);
	CHECK(pte == base + pte_index(addr));
	CHECK(rcu_read_lock_held());
	pte_unmap(pte);
	CHECK(!rcu_read_lock_held());

	pte = __pte_offset_map(pmd, addr, &seen);
	CHECK(pte == base + pte_index(addr));
	CHECK(pmd_same(seen, pmdp_get(pmd)));
	pte_unmap(pte);
	CHECK(__pte_offset_map(pmd, addr, NULL) == pte);
	pte_unmap(pte);

	ptl = NULL;
	pte = pte_offset_map_nolock(mm, pmd, addr, &ptl);
	CHECK(pte == base + pte_index(addr));
	CHECK(ptl == ptlock_ptr(pmd_page(pmdp_get(pmd))));
	CHECK(ptl == pte_lockptr(mm, pmd));
	CHECK(ptl && !spin_is_locked(ptl));	/* not taken */
	CHECK(rcu_read_lock_held());
	pte_unmap(pte);
	CHECK(!rcu_read_lock_held());

	ptl = NULL;
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	CHECK(pte == base + pte_index(addr));
	CHECK(ptl == ptlock_ptr(pmd_page(pmdp_get(pmd))));
	CHECK(ptl != pmd_lockptr(mm, pmd));	/* the PTE table's, not the PMD's */
	CHECK(ptl && spin_held_by_me(ptl));
	CHECK(rcu_read_lock_held());
	/* the pointer is usable: a store shows through the table */
	set_pte(pte, pfn_pte(77, __pgprot(_PAGE_PRESENT | _PAGE_SPECIAL)));
	CHECK_EQ(pte_pfn(ptep_get(base + pte_index(addr))), 77);
	pte_clear(pte);
	pte_unmap_unlock(pte, ptl);
	CHECK(ptl && !spin_is_locked(ptl));
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(mm_stat_read(mm, MM_PTE_MAP_RETRY), 0);

	/* same table: same lock; first and last entry of the span */
	pte = pte_offset_map_lock(mm, pmd, addr & PMD_MASK, &ptl);
	CHECK(pte == base);
	pte_unmap_unlock(pte, ptl);
	pte2 = pte_offset_map_nolock(mm, pmd, (addr & PMD_MASK) + PMD_SIZE - 1, &ptl2);
	CHECK(pte2 == base + PTRS_PER_PTE - 1);
	CHECK(ptl2 == ptl);
	pte_unmap(pte2);

	/* another table: another lock, and both can be held at once */
	CHECK_EQ(pte_alloc(mm, pmd + 1), 0);
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	pte2 = pte_offset_map_lock(mm, pmd + 1, addr + PMD_SIZE, &ptl2);
	CHECK(pte && pte2);
	CHECK(ptl != ptl2);
	CHECK(pte2 == pmd_pgtable_vaddr(pmdp_get(pmd + 1)) + pte_index(addr));
	if (pte2)
		pte_unmap_unlock(pte2, ptl2);
	CHECK(rcu_read_lock_held());		/* still inside the outer map */
	if (pte)
		pte_unmap_unlock(pte, ptl);
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(nr_tables(mm), tables + 2);
	umm_mm_destroy(mm);
}

static void test_pmd_clear_bad(void)
{
	const uint64_t table = (0x1234UL << PAGE_SHIFT) | _PAGE_TABLE;
	const uint64_t leaf = (0x200UL << PAGE_SHIFT) | LEAF_PROT | _PAGE_PSE;
	const uint64_t keep[] = {
		0, table, table & ~_PAGE_USER, leaf, leaf | _PAGE_DEVMAP,
		(0x200UL << PAGE_SHIFT) | _PAGE_PSE | _PAGE_PROTNONE,
	};
	const uint64_t bad[] = {
		0x1234000UL | _PAGE_PRESENT, table | _PAGE_NX, _PAGE_RW,
		table & ~_PAGE_PRESENT,
	};
	pmd_t slot;

	/* only a bad, non-leaf value is cleared: an install must survive */
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		slot = __pmd(keep[i]);
		pmd_clear_bad(&slot);
		CHECK_EQ(pmd_val(slot), keep[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		slot = __pmd(bad[i]);
		pmd_clear_bad(&slot);
		CHECK_EQ(pmd_val(slot), 0);
	}
}

static void test_locks(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 15 * SZ_1G + 0x1000;
	pmd_t *pmd = populate(mm, addr), *far;
	spinlock_t *ptl;
	pud_t *pud;

	if (!pmd)
		goto out;
	/* pmd_lock: the split lock of the PMD table holding the entry */
	ptl = pmd_lock(mm, pmd);
	CHECK(ptl == ptlock_ptr(virt_to_page(pmd)));
	CHECK(ptl == pmd_lockptr(mm, pmd));
	CHECK(spin_held_by_me(ptl));
	CHECK(!spin_is_locked(pte_lockptr(mm, pmd)));	/* a different lock */
	spin_unlock(ptl);
	CHECK(!spin_is_locked(ptl));
	CHECK(pmd_lockptr(mm, pmd + 1) == ptl);
	CHECK(pmd_lockptr(mm, pmd - pmd_index(addr) + PTRS_PER_PMD - 1) == ptl);
	far = populate(mm, addr + SZ_1G);
	CHECK(far && pmd_lockptr(mm, far) != ptl);

	/* pte_lockptr: the lock of the PTE table the entry names */
	CHECK(pte_lockptr(mm, pmd) == ptlock_ptr(pmd_page(pmdp_get(pmd))));
	CHECK(pte_lockptr(mm, pmd) != ptl);
	CHECK(far && pte_lockptr(mm, far) != pte_lockptr(mm, pmd));

	/* pud_lock: the mm's page_table_lock, whatever the entry */
	pud = pud_offset(p4d_offset(mm, pgd_offset(mm, addr), addr), addr);
	CHECK(pud_lockptr(mm, pud) == &mm->page_table_lock);
	CHECK(pud_lockptr(mm, pud + 1) == &mm->page_table_lock);
	ptl = pud_lock(mm, pud);
	CHECK(ptl == &mm->page_table_lock);
	CHECK(spin_held_by_me(ptl));
	spin_unlock(ptl);
	CHECK(!spin_is_locked(&mm->page_table_lock));
out:
	umm_mm_destroy(mm);
}

static void test_pte_alloc_map_lock(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t addr = 17 * SZ_1G + 0x9000;
	spinlock_t *const sentinel = (spinlock_t *)&mm;
	spinlock_t *ptl = NULL;
	pmd_t *pmd;
	pte_t *pte, *again;

	CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
	CHECK_EQ(nr_tables(mm), 3);
	pte = pte_alloc_map_lock(mm, pmd, addr, &ptl);
	CHECK(pte);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK(pte == pmd_pgtable_vaddr(pmdp_get(pmd)) + pte_index(addr));
	CHECK(ptl == pte_lockptr(mm, pmd));
	CHECK(ptl && spin_held_by_me(ptl));
	CHECK(rcu_read_lock_held());
	if (pte)
		pte_unmap_unlock(pte, ptl);
	CHECK(!rcu_read_lock_held());

	/* populated: no second table */
	again = pte_alloc_map_lock(mm, pmd, addr, &ptl);
	CHECK(again == pte);
	CHECK_EQ(nr_tables(mm), 4);
	if (again)
		pte_unmap_unlock(again, ptl);

	/* a huge leaf: NULL, nothing allocated, nothing held */
	const uint64_t leaf = (0x400UL << PAGE_SHIFT) | LEAF_PROT | _PAGE_PSE |
			      _PAGE_SPECIAL;

	set_pmd(pmd + 1, __pmd(leaf));
	ptl = sentinel;
	CHECK(pte_alloc_map_lock(mm, pmd + 1, addr + PMD_SIZE, &ptl) == NULL);
	CHECK(ptl == sentinel);
	CHECK(!rcu_read_lock_held());
	CHECK_EQ(pmd_val(pmdp_get(pmd + 1)), leaf);
	CHECK_EQ(nr_tables(mm), 4);
	pmd_clear(pmd + 1);
	umm_mm_destroy(mm);
}

static void test_pmd_off_lockless(void)
{
	struct umm_mm *mm;
	const uint64_t addr = 19 * SZ_1G + 0x1000;
	pmd_t *pmd;

	for (unsigned int levels = 4; levels <= 5; levels++) {
		mm = mm_create_levels(levels);
		rcu_read_lock();
		CHECK(pmd_off_lockless(mm, addr) == NULL);
		rcu_read_unlock();
		CHECK_EQ(walk_to_pmd(mm, addr, &pmd), 0);
		rcu_read_lock();
		CHECK(pmd_off_lockless(mm, addr) == pmd);
		CHECK(pmd_off_lockless(mm, addr + PMD_SIZE) == pmd + 1);
		CHECK(pmd_off_lockless(mm, addr + SZ_1G) == NULL);
		CHECK(pmd_off_lockless(mm, addr + SZ_512G) == NULL);
		rcu_read_unlock();

		/* a corrupt top-level entry reads as nothing there */
		pgd_t *other = pgd_offset(mm, 3 * (1UL << mm_pgdir_shift(mm)));

		set_pgd(other, __pgd(0x1234000UL | _PAGE_PRESENT));
		rcu_read_lock();
		CHECK(pmd_off_lockless(mm, 3 * (1UL << mm_pgdir_shift(mm))) == NULL);
		rcu_read_unlock();
		pgd_clear(other);
		umm_mm_destroy(mm);
	}
}

/* ---- freeing ranges of tables ---- */

/*
 * Tables at A and B (two PTE tables under one PMD table), D (the next
 * 1 GiB) and E (the next 512 GiB); each free below names the neighbours
 * it leaves by floor/ceiling, and exactly the tables no neighbour shares
 * must go.
 */
static void test_free_pgd_range(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t A = SZ_1G + 0x3000;
	const uint64_t B = SZ_1G + PMD_SIZE + 0x5000;
	const uint64_t D = 2 * SZ_1G + 0x1000;
	const uint64_t E = SZ_512G + 0x1000;
	const uint64_t T = TASK_SIZE_L4 - PAGE_SIZE;
	uint64_t tables0 = pgtable_pages_settled();
	pmd_t *pmd;

	populate(mm, A);
	populate(mm, B);
	populate(mm, D);
	populate(mm, E);
	/* PGD, PUD@0, PMD@1G, PTE A, PTE B, PMD@2G, PTE D, PUD@512G, PMD, PTE */
	CHECK_EQ(nr_tables(mm), 10);
	CHECK_EQ(stats_now().pgtable_pages, tables0 + 9);

	/* a neighbour in the same PTE span (below, then above) keeps it */
	free_pgd_range(mm, B, B + PAGE_SIZE, B - PAGE_SIZE, 0);
	CHECK_EQ(nr_tables(mm), 10);
	free_pgd_range(mm, B, B + PAGE_SIZE, SZ_1G + PMD_SIZE, B + 2 * PAGE_SIZE);
	CHECK_EQ(nr_tables(mm), 10);
	CHECK(has_pte_table(mm, B));

	/* floor and ceiling on the PTE table's edges: only that table goes */
	free_pgd_range(mm, A, A + PAGE_SIZE, SZ_1G, B);
	CHECK_EQ(nr_tables(mm), 9);
	CHECK(!has_pte_table(mm, A));
	CHECK(has_pmd_table(mm, A));
	CHECK(has_pte_table(mm, B));

	/* the last PTE table of the 1 GiB, its PMD table too; PUD@0 stays (D) */
	free_pgd_range(mm, B, B + PAGE_SIZE, SZ_1G, D);
	CHECK_EQ(nr_tables(mm), 7);
	CHECK(!has_pmd_table(mm, B) && !has_pmd_table(mm, A));
	CHECK(has_pud_table(mm, A));
	CHECK(has_pte_table(mm, D));

	/* ceiling 0 is the top: E's whole 512 GiB goes, the PGD entry clears */
	free_pgd_range(mm, E, E + PAGE_SIZE, D + PAGE_SIZE, 0);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK(!has_pud_table(mm, E));
	CHECK(pgd_none(pgdp_get(pgd_offset(mm, E))));
	CHECK(has_pte_table(mm, D));

	/* a ceiling in the next 512 GiB shares nothing with D's tables */
	free_pgd_range(mm, D, D + PAGE_SIZE, 0, E);
	CHECK_EQ(nr_tables(mm), 1);
	CHECK(pgd_none(pgdp_get(pgd_offset(mm, D))));
	CHECK_EQ(pgtable_pages_settled(), tables0);

	/*
	 * The top of the 47-bit space. A ceiling of task_size lies inside the
	 * last PMD span (the guard page), so nothing may go; ceiling 0 may.
	 */
	populate(mm, T);
	CHECK_EQ(nr_tables(mm), 4);
	free_pgd_range(mm, T, TASK_SIZE_L4, 255 * SZ_512G, TASK_SIZE_L4);
	CHECK_EQ(nr_tables(mm), 4);
	free_pgd_range(mm, T, TASK_SIZE_L4, T, 0);	/* floor shares it */
	CHECK_EQ(nr_tables(mm), 4);
	free_pgd_range(mm, T, TASK_SIZE_L4, 255 * SZ_512G, 0);
	CHECK_EQ(nr_tables(mm), 1);
	CHECK(pgd_none(pgdp_get(pgd_offset(mm, T))));

	/*
	 * A ceiling below the first 1 GiB (it rounds to 0 at the PUD level)
	 * still names a neighbour under the same PMD table: only the PTE
	 * table may go.
	 */
	populate(mm, 0x200000UL + 0x1000);
	populate(mm, 0x600000UL);
	CHECK_EQ(nr_tables(mm), 5);
	free_pgd_range(mm, 0x201000UL, 0x202000UL, 0, 0x600000UL);
	CHECK_EQ(nr_tables(mm), 4);
	CHECK(!has_pte_table(mm, 0x201000UL));
	CHECK(has_pte_table(mm, 0x600000UL));
	free_pgd_range(mm, 0x600000UL, 0x601000UL, 0, 0);
	CHECK_EQ(nr_tables(mm), 1);

	/* freeing an empty range, or all of an empty space, frees nothing */
	free_pgd_range(mm, 0, TASK_SIZE_L4, 0, 0);
	free_pgtables(mm, A, A + PAGE_SIZE, 0, 0);
	CHECK_EQ(nr_tables(mm), 1);

	/* a corrupt PMD met on the way is cleared, and only that */
	pmd = populate(mm, A);
	CHECK_EQ(nr_tables(mm), 4);
	if (pmd) {
		set_pmd(pmd + 1, __pmd(0x1234000UL | _PAGE_PRESENT));
		free_pgd_range(mm, SZ_1G + PMD_SIZE, SZ_1G + 2 * PMD_SIZE,
			       SZ_1G + PMD_SIZE, SZ_1G + 2 * PMD_SIZE);
		CHECK(pmd_none(pmdp_get(pmd + 1)));
		CHECK(has_pte_table(mm, A));
		CHECK_EQ(nr_tables(mm), 4);
	}
	umm_mm_destroy(mm);
	CHECK_EQ(pgtable_pages_settled(), tables0 - 1);
}

/* The same rules at the top of a 56-bit space, through free_pgtables(). */
static void test_free_pgtables_l5(void)
{
	struct umm_mm *mm = mm_create_levels(5);
	const uint64_t T = TASK_SIZE_L5 - PAGE_SIZE;	/* PGD 255, P4D 511 */
	const uint64_t U = (255UL << 48) + 0x1000;	/* PGD 255, P4D 0 */
	const uint64_t V = (254UL << 48) + 0x1000;	/* PGD 254 */
	uint64_t tables0 = pgtable_pages_settled();

	populate(mm, T);
	populate(mm, U);
	populate(mm, V);
	CHECK_EQ(nr_tables(mm), 1 + 4 + 3 + 4);
	CHECK_EQ(stats_now().pgtable_pages, tables0 + 11);

	/* T's P4D table is shared with U: it stays, the rest goes */
	free_pgtables(mm, T, TASK_SIZE_L5, U + PAGE_SIZE, 0);
	CHECK_EQ(nr_tables(mm), 9);
	CHECK(!has_pud_table(mm, T));
	CHECK(has_p4d_table(mm, T));
	CHECK(has_pte_table(mm, U));

	/* the last user of PGD 255 */
	free_pgtables(mm, U, U + PAGE_SIZE, V + PAGE_SIZE, 0);
	CHECK_EQ(nr_tables(mm), 5);
	CHECK(!has_p4d_table(mm, U));
	CHECK(has_pte_table(mm, V));

	/* a neighbour just above V in its PTE span keeps everything */
	free_pgtables(mm, V, V + PAGE_SIZE, 0, V + 2 * PAGE_SIZE);
	CHECK_EQ(nr_tables(mm), 5);
	/* a ceiling at the next PGD span shares nothing */
	free_pgtables(mm, V, V + PAGE_SIZE, 0, 255UL << 48);
	CHECK_EQ(nr_tables(mm), 1);
	CHECK(!has_p4d_table(mm, V));
	CHECK_EQ(pgtable_pages_settled(), tables0);

	/* all of it at once, as teardown does */
	populate(mm, T);
	populate(mm, V);
	CHECK_EQ(nr_tables(mm), 9);
	free_pgtables(mm, 0, TASK_SIZE_L5, 0, 0);
	CHECK_EQ(nr_tables(mm), 1);
	CHECK(!has_p4d_table(mm, T) && !has_p4d_table(mm, V));
	CHECK_EQ(pgtable_pages_settled(), tables0);
	umm_mm_destroy(mm);
}

/* ---- zap ---- */

/* Map @p at @addr with @prot, as a fault would: the map owns a reference. */
static void map_frame(struct umm_mm *mm, uint64_t addr, struct page *p, uint64_t prot)
{
	pmd_t *pmd = populate(mm, addr);
	spinlock_t *ptl;
	pte_t *pte;

	if (!pmd)
		return;
	pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	CHECK(pte);
	if (!pte)
		return;
	set_pte(pte, pfn_pte(page_to_pfn(p), __pgprot(prot)));
	__atomic_fetch_add(&p->mapcount, 1, __ATOMIC_RELAXED);
	pte_unmap_unlock(pte, ptl);
}

static pte_t pte_at(struct umm_mm *mm, uint64_t addr)
{
	pmd_t *pmd = lookup_pmd(mm, addr);
	pte_t *pte, v;

	if (!pmd)
		return __pte(0);
	pte = pte_offset_map(pmd, addr);
	if (!pte)
		return __pte(0);
	v = ptep_get(pte);
	pte_unmap(pte);
	return v;
}

static void test_unmap_page_range(void)
{
	struct umm_mm *mm = mm_create_levels(4);
	const uint64_t X1 = 0x400000UL + 0x1000;
	const uint64_t X2 = X1 + 3 * PMD_SIZE;		/* another PTE table */
	const uint64_t X3 = SZ_1G + 0x2000;		/* another PMD table */
	const uint64_t H = 4 * SZ_1G;			/* huge PMD */
	const uint64_t G = 8 * SZ_1G;			/* huge PUD */
	struct page_alloc_stats st0, st;
	struct page *p1, *p2, *p3, *huge, *giant;
	pmd_t *pmd;
	pud_t *pud;

	rcu_barrier();
	st0 = stats_now();
	p1 = alloc_page(mm->quota, GFP_KERNEL);
	p2 = alloc_page(mm->quota, GFP_KERNEL);
	p3 = alloc_page(mm->quota, GFP_KERNEL);
	huge = alloc_pages(mm->quota, __GFP_COMP, HPAGE_PMD_ORDER);
	giant = alloc_pages(mm->quota, __GFP_COMP, HPAGE_PUD_ORDER);
	CHECK(p1 && p2 && p3 && huge && giant);
	if (!p1 || !p2 || !p3 || !huge || !giant)
		goto out;

	map_frame(mm, X1, p1, _PAGE_PRESENT | _PAGE_RW | _PAGE_USER);
	get_page(p1);			/* ours, beside the mapping's */
	map_frame(mm, X2, p2, _PAGE_PROTNONE | _PAGE_USER);	/* PROT_NONE */
	map_frame(mm, X3, p3, _PAGE_PRESENT | _PAGE_USER | _PAGE_SPECIAL);
	CHECK_EQ(walk_to_pmd(mm, H, &pmd), 0);
	set_pmd(pmd, pmd_mkhuge(pfn_pmd(page_to_pfn(huge), __pgprot(LEAF_PROT))));
	huge[1].entire_mapcount = huge[1].large_mapcount = 1;	/* mapped whole */
	pud = pud_alloc(mm, p4d_alloc(mm, pgd_offset(mm, G), G), G);
	CHECK(pud);
	if (pud) {
		set_pud(pud, pud_mkhuge(pfn_pud(page_to_pfn(giant), __pgprot(LEAF_PROT))));
		giant[1].entire_mapcount = giant[1].large_mapcount = 1;
	}
	uint64_t tables = nr_tables(mm);

	CHECK_EQ(page_count(p1), 2);
	st = stats_now();
	CHECK_EQ(st.in_use_pages, st0.in_use_pages + 3 + 512 + (1UL << HPAGE_PUD_ORDER) +
		 tables - 1);

	/* a sub-range takes only what it covers */
	zap_page_range(mm, X1, X1 + PAGE_SIZE);
	CHECK(pte_none(pte_at(mm, X1)));
	CHECK_EQ(page_count(p1), 1);
	CHECK_EQ(p1->mapcount, 0);
	CHECK(!pte_none(pte_at(mm, X2)));
	CHECK(pmd_leaf(pmdp_get(pmd)));
	CHECK_EQ(page_count(p2), 1);

	/* everything else; tables stay (free_pgtables is separate) */
	zap_page_range(mm, 0, TASK_SIZE_L4);
	CHECK(pte_none(pte_at(mm, X2)));
	CHECK(pte_none(pte_at(mm, X3)));
	CHECK(pmd_none(pmdp_get(pmd)));
	CHECK(!pud || pud_none(pudp_get(pud)));
	CHECK_EQ(page_count(p3), 1);		/* special: no reference held */
	CHECK_EQ(p3->mapcount, 1);
	CHECK_EQ(nr_tables(mm), tables);
	put_page(p1);
	put_page(p3);
	st = stats_now();
	CHECK_EQ(st.in_use_pages, st0.in_use_pages + tables - 1);
	CHECK_EQ(quota_used(mm->quota), tables);
out:
	umm_mm_destroy(mm);
	rcu_barrier();
	st = stats_now();
	CHECK_EQ(st.in_use_pages, st0.in_use_pages - 1);
	CHECK_EQ(st.pgtable_pages, st0.pgtable_pages - 1);

	/* 5-level: the top page of the 56-bit space */
	mm = mm_create_levels(5);
	rcu_barrier();
	st0 = stats_now();
	p1 = alloc_page(mm->quota, GFP_KERNEL);
	CHECK(p1);
	if (p1) {
		map_frame(mm, TASK_SIZE_L5 - PAGE_SIZE, p1, _PAGE_PRESENT | _PAGE_USER);
		zap_page_range(mm, 0, TASK_SIZE_L5);
		CHECK(pte_none(pte_at(mm, TASK_SIZE_L5 - PAGE_SIZE)));
		CHECK_EQ(stats_now().in_use_pages, st0.in_use_pages + nr_tables(mm) - 1);
	}
	umm_mm_destroy(mm);
}

static struct page_alloc_stats start_stats;

/* Every frame and table the tests took is back, after the grace periods. */
static void test_all_returned(void)
{
	struct page_alloc_stats st;

	rcu_barrier();
	st = stats_now();
	CHECK_EQ(st.in_use_pages, start_stats.in_use_pages);
	CHECK_EQ(st.pgtable_pages, start_stats.pgtable_pages);
	CHECK_EQ(st.rcu_pending_pages, 0);
	CHECK(!rcu_read_lock_held());
}

/*
 * mprotect of a PUD leaf (seed 002's change_huge_pud): the whole leaf is
 * changed in place (no write bit kept: the kernel's simple version), PROT_NONE
 * included; a range that covers part of it zaps it, and its frames go back.
 */
static void test_change_huge_pud(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	const uint64_t g = 4 * SZ_1G;
	struct page_alloc_stats st0, st;
	struct page *giant;
	pud_t *pud;
	uint64_t v;

	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, g, SZ_1G, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)g);
	st0 = stats_now();
	giant = alloc_pages(mm->quota, __GFP_COMP, HPAGE_PUD_ORDER);
	pud = pud_alloc(mm, p4d_alloc(mm, pgd_offset(mm, g), g), g);
	CHECK(giant && pud);
	if (!giant || !pud)
		goto out;
	giant[1].entire_mapcount = giant[1].large_mapcount = 1;
	set_pud(pud, pud_mkhuge(pfn_pud(page_to_pfn(giant), __pgprot(LEAF_PROT))));

	CHECK_EQ(umm_mprotect(mm, g, SZ_1G, PROT_READ), 0);
	v = pud_val(pudp_get(pud));
	CHECK(pud_leaf(__pud(v)) && (v & _PAGE_PRESENT) && !(v & _PAGE_RW));
	CHECK_EQ(pud_pfn(__pud(v)), page_to_pfn(giant));
	CHECK(v & _PAGE_DIRTY);			/* kept: only the rights change */
	CHECK_EQ(umm_mprotect(mm, g, SZ_1G, PROT_NONE), 0);
	v = pud_val(pudp_get(pud));
	CHECK(pud_leaf(__pud(v)) && !(v & _PAGE_PRESENT) && (v & _PAGE_PROTNONE));
	CHECK(pud_present(__pud(v)));
	CHECK_EQ(umm_mprotect(mm, g, SZ_1G, PROT_READ | PROT_WRITE), 0);
	v = pud_val(pudp_get(pud));
	CHECK(pud_leaf(__pud(v)) && (v & _PAGE_PRESENT) && !(v & _PAGE_RW));
	CHECK_EQ(pud_pfn(__pud(v)), page_to_pfn(giant));

	/* part of it: the leaf goes, and its 1 GiB of frames with it */
	CHECK_EQ(umm_mprotect(mm, g + 4096, 4096, PROT_READ), 0);
	CHECK(pud_none(pudp_get(pud)));
	st = stats_now();
	CHECK(st.in_use_pages < st0.in_use_pages + 16);
out:
	umm_mm_destroy(mm);
}

int main(void)
{
	CHECK_EQ(page_alloc_init(), 0);
	rcu_barrier();
	start_stats = stats_now();

	RUN(test_entry_bits);
	RUN(test_pmd_pud_bits);
	RUN(test_indexes);
	RUN(test_addr_end);
	RUN(test_alloc_levels);
	RUN(test_walk_to_pmd_huge_pud);
	RUN(test_alloc_enomem);
	RUN(test_install_and_free);
	RUN(test_pte_offset_map);
	RUN(test_pmd_clear_bad);
	RUN(test_locks);
	RUN(test_pte_alloc_map_lock);
	RUN(test_pmd_off_lockless);
	RUN(test_free_pgd_range);
	RUN(test_free_pgtables_l5);
	RUN(test_unmap_page_range);
	RUN(test_change_huge_pud);
	RUN(test_all_returned);
	return test_done();
}
