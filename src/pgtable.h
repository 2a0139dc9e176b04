/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pgtable.h - x86-64 page tables: entry formats, accessors, and the walk
 * and allocation functions of pgtable.c.
 *
 * Four levels (PGD -> PUD -> PMD -> PTE, 47-bit user space) by default,
 * five (PGD -> P4D -> ...) per mm as an option; with four, the P4D level is
 * folded into the PGD as in the kernel, so every walker goes through
 * p4d_offset() either way. Each table is one frame of 512 8-byte entries.
 *
 * Every entry can change under a reader that holds no lock: entries are
 * read with ptep_get()/pmdp_get_lockless() (acquire loads, so the table or
 * frame an entry points at is seen initialised) and written with set_*()
 * (release stores) or atomic exchanges. A lockless reader re-checks what
 * it read once it holds the lock that guards it (seed 001).
 *
 * Who guards what: PTE entries - the PTE table's split lock (ptl in its
 * struct page); PMD entries - the PMD table's split lock; PUD, P4D and PGD
 * entries - mm->page_table_lock. Tables are freed only after an RCU grace
 * period, so any walker inside rcu_read_lock() may dereference what it read.
 */
#ifndef UMM_PGTABLE_H
#define UMM_PGTABLE_H

#include "mm_types.h"
#include "page_alloc.h"

#define PTRS_PER_TABLE	512
#define PTRS_PER_PTE	PTRS_PER_TABLE
#define PTRS_PER_PMD	PTRS_PER_TABLE
#define PTRS_PER_PUD	PTRS_PER_TABLE
#define PTRS_PER_P4D	PTRS_PER_TABLE
#define PTRS_PER_PGD	PTRS_PER_TABLE

#define PMD_SHIFT	21
#define PUD_SHIFT	30
#define P4D_SHIFT	39
#define PGDIR_SHIFT_L4	39
#define PGDIR_SHIFT_L5	48
#define PMD_SIZE	(1UL << PMD_SHIFT)
#define PMD_MASK	(~(PMD_SIZE - 1))
#define PUD_SIZE	(1UL << PUD_SHIFT)
#define PUD_MASK	(~(PUD_SIZE - 1))
#define P4D_SIZE	(1UL << P4D_SHIFT)
#define P4D_MASK	(~(P4D_SIZE - 1))
#define HPAGE_PMD_ORDER	(PMD_SHIFT - PAGE_SHIFT)
#define HPAGE_PUD_ORDER	(PUD_SHIFT - PAGE_SHIFT)

/* User address-space limits (TASK_SIZE_MAX as x86-64: one guard page). */
#define TASK_SIZE_L4	((1UL << 47) - PAGE_SIZE)
#define TASK_SIZE_L5	((1UL << 56) - PAGE_SIZE)

/* Entry bits, as x86-64 */
#define _PAGE_BIT_PRESENT	0
#define _PAGE_BIT_RW		1
#define _PAGE_BIT_USER		2
#define _PAGE_BIT_PWT		3
#define _PAGE_BIT_PCD		4
#define _PAGE_BIT_ACCESSED	5
#define _PAGE_BIT_DIRTY		6
#define _PAGE_BIT_PSE		7	/* leaf at PMD/PUD level */
#define _PAGE_BIT_GLOBAL	8
#define _PAGE_BIT_SPECIAL	9	/* software: no struct page behind it */
#define _PAGE_BIT_UFFD_WP	10	/* software */
#define _PAGE_BIT_SOFT_DIRTY	11	/* software */
#define _PAGE_BIT_NOREAD	57	/* software (umm): writable/executable, not readable */
#define _PAGE_BIT_DEVMAP	58	/* software */
#define _PAGE_BIT_NX		63

#define _PAGE_PRESENT	(1UL << _PAGE_BIT_PRESENT)
#define _PAGE_RW	(1UL << _PAGE_BIT_RW)
#define _PAGE_USER	(1UL << _PAGE_BIT_USER)
#define _PAGE_PWT	(1UL << _PAGE_BIT_PWT)
#define _PAGE_PCD	(1UL << _PAGE_BIT_PCD)
#define _PAGE_ACCESSED	(1UL << _PAGE_BIT_ACCESSED)
#define _PAGE_DIRTY	(1UL << _PAGE_BIT_DIRTY)
#define _PAGE_PSE	(1UL << _PAGE_BIT_PSE)
#define _PAGE_GLOBAL	(1UL << _PAGE_BIT_GLOBAL)
#define _PAGE_SPECIAL	(1UL << _PAGE_BIT_SPECIAL)
#define _PAGE_UFFD_WP	(1UL << _PAGE_BIT_UFFD_WP)
#define _PAGE_SOFT_DIRTY (1UL << _PAGE_BIT_SOFT_DIRTY)
#define _PAGE_NOREAD	(1UL << _PAGE_BIT_NOREAD)
#define _PAGE_DEVMAP	(1UL << _PAGE_BIT_DEVMAP)
#define _PAGE_NX	(1UL << _PAGE_BIT_NX)
/* PROT_NONE: not present to the MMU, still ours (x86 reuses GLOBAL) */
#define _PAGE_PROTNONE	_PAGE_GLOBAL

#define PTE_PFN_MASK	(((1UL << 52) - 1) & PAGE_MASK)
#define PTE_FLAGS_MASK	(~PTE_PFN_MASK)
/* What a table (non-leaf) entry holds besides the pfn */
#define _PAGE_TABLE	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY)
#define _KERNPG_TABLE	(_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY)

typedef struct { uint64_t pte; } pte_t;
typedef struct { uint64_t pmd; } pmd_t;
typedef struct { uint64_t pud; } pud_t;
typedef struct { uint64_t p4d; } p4d_t;
typedef struct { uint64_t pgd; } pgd_t;
typedef struct { uint64_t pgprot; } pgprot_t;
typedef struct page *pgtable_t;

#define pte_val(x)	((x).pte)
#define pmd_val(x)	((x).pmd)
#define pud_val(x)	((x).pud)
#define p4d_val(x)	((x).p4d)
#define pgd_val(x)	((x).pgd)
#define pgprot_val(x)	((x).pgprot)
#define __pte(v)	((pte_t){ (v) })
#define __pmd(v)	((pmd_t){ (v) })
#define __pud(v)	((pud_t){ (v) })
#define __p4d(v)	((p4d_t){ (v) })
#define __pgd(v)	((pgd_t){ (v) })
#define __pgprot(v)	((pgprot_t){ (v) })

/* ---- lockless loads and ordered stores ---- */

static inline pte_t ptep_get(pte_t *ptep)
{
	return __pte(smp_load_acquire(&ptep->pte));
}

static inline pmd_t pmdp_get_lockless(pmd_t *pmdp)
{
	return __pmd(smp_load_acquire(&pmdp->pmd));
}
#define pmdp_get(p)	pmdp_get_lockless(p)

static inline pud_t pudp_get(pud_t *pudp)
{
	return __pud(smp_load_acquire(&pudp->pud));
}

static inline p4d_t p4dp_get(p4d_t *p4dp)
{
	return __p4d(smp_load_acquire(&p4dp->p4d));
}

static inline pgd_t pgdp_get(pgd_t *pgdp)
{
	return __pgd(smp_load_acquire(&pgdp->pgd));
}

static inline void set_pte(pte_t *ptep, pte_t pte)
{
	smp_store_release(&ptep->pte, pte_val(pte));
}

static inline void set_pmd(pmd_t *pmdp, pmd_t pmd)
{
	smp_store_release(&pmdp->pmd, pmd_val(pmd));
}

static inline void set_pud(pud_t *pudp, pud_t pud)
{
	smp_store_release(&pudp->pud, pud_val(pud));
}

static inline void set_p4d(p4d_t *p4dp, p4d_t p4d)
{
	smp_store_release(&p4dp->p4d, p4d_val(p4d));
}

static inline void set_pgd(pgd_t *pgdp, pgd_t pgd)
{
	smp_store_release(&pgdp->pgd, pgd_val(pgd));
}

static inline pte_t ptep_get_and_clear(pte_t *ptep)
{
	return __pte(xchg(&ptep->pte, 0));
}

/*
 * ptep_clear_flags - clear @bits of the entry in one atomic step and
 * return what it held: a lockless walker's compare-and-swap meanwhile
 * fails and reads again, so no bit it sets is lost, and the entry is
 * never seen empty (x86's ptep_test_and_clear_young is such a clear).
 */
static inline pte_t ptep_clear_flags(pte_t *ptep, uint64_t bits)
{
	return __pte(__atomic_fetch_and(&ptep->pte, ~bits, __ATOMIC_SEQ_CST));
}

/*
 * ptep_freeze - take the present bits of the entry away and return what it
 * held, as pmdp_invalidate does a leaf's: a walker's compare-and-swap
 * meanwhile fails, and one that reads it goes to the fault path, which
 * waits for the PTE lock and finds what the holder left (the entry put
 * back, or cleared). Not a hole: no fault maps a page over it.
 * Locking: the PTE lock held until the entry is set again.
 */
static inline pte_t ptep_freeze(pte_t *ptep)
{
	return __pte(__atomic_fetch_and(&ptep->pte, ~(_PAGE_PRESENT | _PAGE_PROTNONE),
					__ATOMIC_SEQ_CST));
}

static inline pmd_t pmdp_get_and_clear(pmd_t *pmdp)
{
	return __pmd(xchg(&pmdp->pmd, 0));
}

static inline pud_t pudp_get_and_clear(pud_t *pudp)
{
	return __pud(xchg(&pudp->pud, 0));
}

#define pte_clear(ptep)	set_pte((ptep), __pte(0))
#define pmd_clear(pmdp)	set_pmd((pmdp), __pmd(0))
#define pud_clear(pudp)	set_pud((pudp), __pud(0))
#define p4d_clear(p4dp)	set_p4d((p4dp), __p4d(0))
#define pgd_clear(pgdp)	set_pgd((pgdp), __pgd(0))

/* ---- entry predicates (pure functions of a value) ---- */

static inline uint64_t pte_flags(pte_t pte) { return pte_val(pte) & PTE_FLAGS_MASK; }
static inline uint64_t pmd_flags(pmd_t pmd) { return pmd_val(pmd) & PTE_FLAGS_MASK; }
static inline uint64_t pud_flags(pud_t pud) { return pud_val(pud) & PTE_FLAGS_MASK; }

static inline bool pte_none(pte_t pte) { return pte_val(pte) == 0; }
static inline bool pte_present(pte_t pte)
{
	return pte_flags(pte) & (_PAGE_PRESENT | _PAGE_PROTNONE);
}
static inline bool pte_write(pte_t pte) { return pte_flags(pte) & _PAGE_RW; }
static inline bool pte_dirty(pte_t pte) { return pte_flags(pte) & _PAGE_DIRTY; }
static inline bool pte_young(pte_t pte) { return pte_flags(pte) & _PAGE_ACCESSED; }
static inline bool pte_soft_dirty(pte_t pte) { return pte_flags(pte) & _PAGE_SOFT_DIRTY; }
static inline bool pte_special(pte_t pte) { return pte_flags(pte) & _PAGE_SPECIAL; }
static inline bool pte_exec(pte_t pte) { return !(pte_flags(pte) & _PAGE_NX); }
static inline bool pte_protnone(pte_t pte)
{
	return (pte_flags(pte) & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE;
}
static inline uint64_t pte_pfn(pte_t pte) { return (pte_val(pte) & PTE_PFN_MASK) >> PAGE_SHIFT; }
static inline bool pte_same(pte_t a, pte_t b) { return pte_val(a) == pte_val(b); }

/*
 * PTE markers: entries that map nothing but say something about their
 * address (the kernel's swap entries of type SWP_PTE_MARKER). Neither
 * present nor none, they are the only such entries umm has (no swap, no
 * migration), so whoever meets a non-none entry that is not present must
 * expect one. Only one kind yet: a guard region's (MADV_GUARD_INSTALL),
 * where any access is a SIGSEGV. A marker lives in a PTE table only.
 */
#define PTE_MARKER_TYPE		(1UL << 60)	/* software; present bits clear */
#define PTE_MARKER_GUARD	(1UL << 61)	/* no hardware bit: pte_write() etc. read false */

static inline pte_t make_pte_marker(uint64_t marker)
{
	return __pte(PTE_MARKER_TYPE | marker);
}

static inline bool is_pte_marker(pte_t pte)
{
	return !pte_present(pte) && (pte_val(pte) & PTE_MARKER_TYPE);
}

static inline bool is_guard_pte_marker(pte_t pte)
{
	return is_pte_marker(pte) && (pte_val(pte) & PTE_MARKER_GUARD);
}

static inline pte_t pfn_pte(uint64_t pfn, pgprot_t prot)
{
	return __pte(((pfn << PAGE_SHIFT) & PTE_PFN_MASK) | pgprot_val(prot));
}
static inline pte_t pte_set_flags(pte_t pte, uint64_t f) { return __pte(pte_val(pte) | f); }
static inline pte_t pte_clear_flags(pte_t pte, uint64_t f) { return __pte(pte_val(pte) & ~f); }
static inline pte_t pte_mkwrite(pte_t pte) { return pte_set_flags(pte, _PAGE_RW); }
static inline pte_t pte_wrprotect(pte_t pte) { return pte_clear_flags(pte, _PAGE_RW); }
static inline pte_t pte_mkdirty(pte_t pte) { return pte_set_flags(pte, _PAGE_DIRTY | _PAGE_SOFT_DIRTY); }
static inline pte_t pte_mkclean(pte_t pte) { return pte_clear_flags(pte, _PAGE_DIRTY); }
static inline pte_t pte_mkyoung(pte_t pte) { return pte_set_flags(pte, _PAGE_ACCESSED); }
static inline pte_t pte_mkold(pte_t pte) { return pte_clear_flags(pte, _PAGE_ACCESSED); }
static inline pte_t pte_mkspecial(pte_t pte) { return pte_set_flags(pte, _PAGE_SPECIAL); }

static inline bool pmd_none(pmd_t pmd) { return pmd_val(pmd) == 0; }
static inline bool pmd_present(pmd_t pmd)
{
	return pmd_flags(pmd) & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE);
}
static inline bool pmd_leaf(pmd_t pmd) { return pmd_flags(pmd) & _PAGE_PSE; }
/*
 * A leaf that maps a page of the memory map: present or PROT_NONE (which
 * the kernel's pmd_present() counts too), not a special pfn mapping.
 */
static inline bool pmd_leaf_maps_page(pmd_t pmd)
{
	return (pmd_flags(pmd) & (_PAGE_PRESENT | _PAGE_PROTNONE)) &&
	       !(pmd_flags(pmd) & _PAGE_SPECIAL);
}
static inline bool pmd_trans_huge(pmd_t pmd) { return pmd_leaf(pmd) && !(pmd_flags(pmd) & _PAGE_DEVMAP); }
static inline bool pmd_devmap(pmd_t pmd) { return pmd_flags(pmd) & _PAGE_DEVMAP; }
static inline bool pmd_write(pmd_t pmd) { return pmd_flags(pmd) & _PAGE_RW; }
static inline bool pmd_dirty(pmd_t pmd) { return pmd_flags(pmd) & _PAGE_DIRTY; }
/* A table entry must carry exactly the table bits (user may vary). */
static inline bool pmd_bad(pmd_t pmd)
{
	return (pmd_flags(pmd) & ~_PAGE_USER) != _KERNPG_TABLE;
}
static inline uint64_t pmd_pfn(pmd_t pmd) { return (pmd_val(pmd) & PTE_PFN_MASK) >> PAGE_SHIFT; }
static inline bool pmd_same(pmd_t a, pmd_t b) { return pmd_val(a) == pmd_val(b); }
static inline struct page *pmd_page(pmd_t pmd) { return pfn_to_page(pmd_pfn(pmd)); }
static inline pte_t *pmd_pgtable_vaddr(pmd_t pmd) { return pfn_to_virt(pmd_pfn(pmd)); }
static inline pmd_t pfn_pmd(uint64_t pfn, pgprot_t prot)
{
	return __pmd(((pfn << PAGE_SHIFT) & PTE_PFN_MASK) | pgprot_val(prot));
}
static inline pmd_t pmd_mkhuge(pmd_t pmd) { return __pmd(pmd_val(pmd) | _PAGE_PSE); }

static inline bool pud_none(pud_t pud) { return pud_val(pud) == 0; }
static inline bool pud_present(pud_t pud)
{
	return pud_flags(pud) & (_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_PSE);
}
static inline bool pud_leaf(pud_t pud) { return pud_flags(pud) & _PAGE_PSE; }
static inline bool pud_trans_huge(pud_t pud) { return pud_leaf(pud) && !(pud_flags(pud) & _PAGE_DEVMAP); }
static inline bool pud_bad(pud_t pud)
{
	return (pud_flags(pud) & ~_PAGE_USER) != _KERNPG_TABLE;
}
static inline uint64_t pud_pfn(pud_t pud) { return (pud_val(pud) & PTE_PFN_MASK) >> PAGE_SHIFT; }
static inline bool pud_same(pud_t a, pud_t b) { return pud_val(a) == pud_val(b); }
static inline pmd_t *pud_pgtable(pud_t pud) { return pfn_to_virt(pud_pfn(pud)); }
static inline pud_t pfn_pud(uint64_t pfn, pgprot_t prot)
{
	return __pud(((pfn << PAGE_SHIFT) & PTE_PFN_MASK) | pgprot_val(prot));
}
static inline pud_t pud_mkhuge(pud_t pud) { return __pud(pud_val(pud) | _PAGE_PSE); }

static inline bool p4d_none(p4d_t p4d) { return p4d_val(p4d) == 0; }
static inline bool p4d_present(p4d_t p4d) { return p4d_val(p4d) & _PAGE_PRESENT; }
static inline bool p4d_bad(p4d_t p4d)
{
	return ((p4d_val(p4d) & PTE_FLAGS_MASK) & ~_PAGE_USER) != _KERNPG_TABLE;
}
static inline uint64_t p4d_pfn(p4d_t p4d) { return (p4d_val(p4d) & PTE_PFN_MASK) >> PAGE_SHIFT; }
static inline pud_t *p4d_pgtable(p4d_t p4d) { return pfn_to_virt(p4d_pfn(p4d)); }

static inline bool pgd_none(pgd_t pgd) { return pgd_val(pgd) == 0; }
static inline bool pgd_present(pgd_t pgd) { return pgd_val(pgd) & _PAGE_PRESENT; }
static inline bool pgd_bad(pgd_t pgd)
{
	return ((pgd_val(pgd) & PTE_FLAGS_MASK) & ~_PAGE_USER) != _KERNPG_TABLE;
}
static inline uint64_t pgd_pfn(pgd_t pgd) { return (pgd_val(pgd) & PTE_PFN_MASK) >> PAGE_SHIFT; }

/* ---- indexes and offsets ---- */

static inline unsigned int pte_index(uint64_t a) { return (a >> PAGE_SHIFT) & (PTRS_PER_PTE - 1); }
static inline unsigned int pmd_index(uint64_t a) { return (a >> PMD_SHIFT) & (PTRS_PER_PMD - 1); }
static inline unsigned int pud_index(uint64_t a) { return (a >> PUD_SHIFT) & (PTRS_PER_PUD - 1); }
static inline unsigned int p4d_index(uint64_t a) { return (a >> P4D_SHIFT) & (PTRS_PER_P4D - 1); }

static inline unsigned int mm_pgdir_shift(const struct umm_mm *mm)
{
	return mm->pgtable_levels == 5 ? PGDIR_SHIFT_L5 : PGDIR_SHIFT_L4;
}

static inline pgd_t *pgd_offset(struct umm_mm *mm, uint64_t addr)
{
	return (pgd_t *)mm->pgd + ((addr >> mm_pgdir_shift(mm)) & (PTRS_PER_PGD - 1));
}

/*
 * p4d_offset - the P4D entry for @addr below @pgd. The kernel decides
 * folding once per boot; umm per mm, hence the extra @mm argument.
 * Locking: none; @pgd's entry is read once (lockless).
 */
static inline p4d_t *p4d_offset(struct umm_mm *mm, pgd_t *pgd, uint64_t addr)
{
	if (mm->pgtable_levels == 4)
		return (p4d_t *)pgd;
	return (p4d_t *)pfn_to_virt(pgd_pfn(pgdp_get(pgd))) + p4d_index(addr);
}

static inline pud_t *pud_offset(p4d_t *p4d, uint64_t addr)
{
	return p4d_pgtable(p4dp_get(p4d)) + pud_index(addr);
}

static inline pmd_t *pmd_offset(pud_t *pud, uint64_t addr)
{
	return pud_pgtable(pudp_get(pud)) + pmd_index(addr);
}

/* pte_offset_kernel - no RCU, no lock: for a caller that keeps the table alive. */
static inline pte_t *pte_offset_kernel(pmd_t *pmd, uint64_t addr)
{
	return pmd_pgtable_vaddr(pmdp_get(pmd)) + pte_index(addr);
}

#define pgd_addr_end(mm, a, e) __table_addr_end((a), (e), 1UL << mm_pgdir_shift(mm))
#define p4d_addr_end(a, e)	__table_addr_end((a), (e), P4D_SIZE)
#define pud_addr_end(a, e)	__table_addr_end((a), (e), PUD_SIZE)
#define pmd_addr_end(a, e)	__table_addr_end((a), (e), PMD_SIZE)

/* The end of the table entry's span holding @addr, clamped to @end. */
static inline uint64_t __table_addr_end(uint64_t addr, uint64_t end, uint64_t size)
{
	uint64_t b = (addr + size) & ~(size - 1);

	return (b - 1 < end - 1) ? b : end;
}

/* ---- locks ---- */

/* The split lock of a page-table page lives in its struct page (ptdesc). */
static inline spinlock_t *ptlock_ptr(struct page *table)
{
	return &table->ptl;
}

/*
 * pte_lockptr - the lock of the PTE table that @pmd's current value names.
 * Locking: the caller keeps that table alive (RCU or the PMD lock).
 */
static inline spinlock_t *pte_lockptr(struct umm_mm *mm, pmd_t *pmd)
{
	(void)mm;
	return ptlock_ptr(pmd_page(pmdp_get(pmd)));
}

/* pmd_lockptr - the lock of the PMD table holding the entry @pmd. */
static inline spinlock_t *pmd_lockptr(struct umm_mm *mm, pmd_t *pmd)
{
	(void)mm;
	return ptlock_ptr(virt_to_page((void *)((uint64_t)pmd & PAGE_MASK)));
}

static inline spinlock_t *pmd_lock(struct umm_mm *mm, pmd_t *pmd)
{
	spinlock_t *ptl = pmd_lockptr(mm, pmd);

	spin_lock(ptl);
	return ptl;
}

/* Whether every entry of the PTE table @table is none. Locking: its lock held. */
static inline bool pte_table_empty(struct page *table)
{
	pte_t *pte = page_address(table);

	for (unsigned int i = 0; i < PTRS_PER_PTE; i++)
		if (!pte_none(ptep_get(pte + i)))
			return false;
	return true;
}

static inline spinlock_t *pud_lockptr(struct umm_mm *mm, pud_t *pud)
{
	(void)pud;
	return &mm->page_table_lock;
}

static inline spinlock_t *pud_lock(struct umm_mm *mm, pud_t *pud)
{
	spinlock_t *ptl = pud_lockptr(mm, pud);

	spin_lock(ptl);
	return ptl;
}

/* ---- pgtable.c ---- */

pte_t *__pte_offset_map(pmd_t *pmd, uint64_t addr, pmd_t *pmdvalp);
pte_t *pte_offset_map_nolock(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			     spinlock_t **ptlp);
pte_t *pte_offset_map_lock(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			   spinlock_t **ptlp);

static inline pte_t *pte_offset_map(pmd_t *pmd, uint64_t addr)
{
	return __pte_offset_map(pmd, addr, NULL);
}

/* pte_unmap - ends the RCU read-side section pte_offset_map*() began. */
static inline void pte_unmap(pte_t *pte)
{
	(void)pte;
	rcu_read_unlock();
}

static inline void pte_unmap_unlock(pte_t *pte, spinlock_t *ptl)
{
	spin_unlock(ptl);
	pte_unmap(pte);
}

void pmd_clear_bad(pmd_t *pmd);
uint64_t pmd_bad_seen(void);

pgtable_t pte_alloc_one(struct umm_mm *mm);
void pte_free(struct umm_mm *mm, pgtable_t table);
void pte_free_defer(struct umm_mm *mm, pgtable_t table);
void pmd_install(struct umm_mm *mm, pmd_t *pmd, pgtable_t *table);
/*
 * pmd_detach_empty_table - clear @pmd if it points to a PTE table whose
 * entries are all none, and @vma (if not NULL) has no anon_vma; both are
 * checked with the table's lock held, after which no fault can fill it
 * (faults re-check the PMD under that lock). The caller frees the table
 * with pte_free_defer(): lockless walkers may still read it.
 * Locking: takes the PMD lock, then the PTE lock.
 * Return: the table, or NULL when @pmd stays.
 */
pgtable_t pmd_detach_empty_table(struct umm_mm *mm, pmd_t *pmd,
				 struct vm_area_struct *vma);
/*
 * pmd_populate - point @pmd at @table (a release store: walkers see the
 * table's entries whole). Locking: the PMD lock held.
 */
void pmd_populate(struct umm_mm *mm, pmd_t *pmd, pgtable_t table);
int __pte_alloc(struct umm_mm *mm, pmd_t *pmd);
int __pmd_alloc(struct umm_mm *mm, pud_t *pud, uint64_t addr);
int __pud_alloc(struct umm_mm *mm, p4d_t *p4d, uint64_t addr);
int __p4d_alloc(struct umm_mm *mm, pgd_t *pgd, uint64_t addr);

/* pte_alloc - make sure @pmd names a PTE table. Return: 0 or -ENOMEM. */
static inline int pte_alloc(struct umm_mm *mm, pmd_t *pmd)
{
	return unlikely(pmd_none(pmdp_get_lockless(pmd))) ? __pte_alloc(mm, pmd) : 0;
}

static inline p4d_t *p4d_alloc(struct umm_mm *mm, pgd_t *pgd, uint64_t addr)
{
	if (mm->pgtable_levels == 5 && unlikely(pgd_none(pgdp_get(pgd))) &&
	    __p4d_alloc(mm, pgd, addr))
		return NULL;
	return p4d_offset(mm, pgd, addr);
}

static inline pud_t *pud_alloc(struct umm_mm *mm, p4d_t *p4d, uint64_t addr)
{
	if (unlikely(p4d_none(p4dp_get(p4d))) && __pud_alloc(mm, p4d, addr))
		return NULL;
	return pud_offset(p4d, addr);
}

static inline pmd_t *pmd_alloc(struct umm_mm *mm, pud_t *pud, uint64_t addr)
{
	if (unlikely(pud_none(pudp_get(pud))) && __pmd_alloc(mm, pud, addr))
		return NULL;
	return pmd_offset(pud, addr);
}

/*
 * pte_alloc_map_lock - allocate the PTE table if needed, then map and
 * lock it. Return: as pte_offset_map_lock(); NULL also when out of memory
 * or when @pmd became a huge leaf meanwhile.
 */
static inline pte_t *pte_alloc_map_lock(struct umm_mm *mm, pmd_t *pmd,
					uint64_t addr, spinlock_t **ptlp)
{
	return pte_alloc(mm, pmd) ? NULL : pte_offset_map_lock(mm, pmd, addr, ptlp);
}

/*
 * walk_to_pmd - allocate down to the PMD entry for @addr.
 * Locking: none taken across the call; each table is installed under the
 *          lock of the entry it goes into. The caller keeps the upper
 *          tables alive (mmap_lock, a VMA lock, or RCU).
 * Return: 0 with *@pmdp set; -ENOMEM; -EEXIST when a huge PUD leaf maps
 *         @addr (there is no PMD table to return).
 */
int walk_to_pmd(struct umm_mm *mm, uint64_t addr, pmd_t **pmdp);

/*
 * pmd_off_lockless - the PMD entry for @addr, or NULL if an upper level is
 * none or a leaf. Locking: caller is inside rcu_read_lock().
 */
pmd_t *pmd_off_lockless(struct umm_mm *mm, uint64_t addr);
/*
 * pmd_hole_end - where a walk of [@addr, @end) goes on when there is no
 * PMD table for @addr (pmd_off_lockless() gave NULL): past the whole
 * upper-level entry that is missing (or the PUD, for a PUD leaf), not
 * only past this PMD's 2 MiB, so that walking a sparse range costs what
 * is populated, as the kernel's walks skip a none entry at every level.
 * Locking: as pmd_off_lockless. Return: the address, at most @end.
 */
uint64_t pmd_hole_end(struct umm_mm *mm, uint64_t addr, uint64_t end);
/*
 * pud_off_lockless - the PUD entry for @addr (which may be none or a
 * leaf), or NULL if an upper level is none. Locking: inside rcu_read_lock().
 */
pud_t *pud_off_lockless(struct umm_mm *mm, uint64_t addr);

void free_pgd_range(struct umm_mm *mm, uint64_t addr, uint64_t end,
		    uint64_t floor, uint64_t ceiling);
void free_pgtables(struct umm_mm *mm, uint64_t start, uint64_t end,
		   uint64_t floor, uint64_t ceiling);

int pgd_alloc(struct umm_mm *mm);
void pgd_free(struct umm_mm *mm);

#endif /* UMM_PGTABLE_H */
