// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pgtable.c - allocating, mapping, locking and freeing page tables.
 *
 * The heart is seed 001: a PTE table is reached by a lockless read of its
 * PMD entry, used inside an RCU read-side section (so the table cannot be
 * freed under the reader), and locked with its own split lock; once the
 * lock is held the PMD entry is read again, and if it no longer names the
 * same table the reader unlocks and starts over. pte_offset_map*() may
 * therefore fail (return NULL): the PMD was none, a huge leaf, or bad, and
 * the caller decides what that means for it.
 *
 * Every table of every level is freed after a grace period
 * (pagetable_free_defer), which is what lets walkers skip the locks.
 */
#include <errno.h>
#include "pgtable.h"

static uint64_t pmd_bad_count;	/* atomic; corrupt entries found */

static struct page *pagetable_alloc(struct umm_mm *mm)
{
	struct page *p = alloc_page(mm->quota, GFP_KERNEL);

	if (!p)
		return NULL;
	set_bit_page(PG_table, p);
	spin_lock_init(ptlock_ptr(p));
	pagetable_account(1);
	mm_stat_add(mm, MM_PGTABLE_PAGES, 1);
	return p;
}

/* The table is no longer the mm's; its frame may still be read. */
static void pagetable_dtor(struct page *p)
{
	VM_BUG_ON(!test_bit_page(PG_table, p));
	VM_BUG_ON(spin_is_locked(ptlock_ptr(p)));
	VM_BUG_ON(p->mapping);		/* a PMD table with deposits left */
	clear_bit_page(PG_table, p);
	p->private = 0;
	pagetable_account(-1);
}

static void pagetable_free(struct umm_mm *mm, struct page *p)
{
	mm_stat_add(mm, MM_PGTABLE_PAGES, -1);
	pagetable_dtor(p);
	__free_pages(p, 0);
}

static void pagetable_free_rcu_cb(struct rcu_head *head)
{
	struct page *p = container_of(head, struct page, rcu);

	p->lru.next = p->lru.prev = NULL;
	pagetable_dtor(p);
	__free_pages(p, 0);
}

/*
 * pagetable_free_defer - free a table that lockless walkers may still be
 * reading; its frame is reused only after a grace period.
 * Locking: any; the table must already be unreachable from the mm.
 */
static void pagetable_free_defer(struct umm_mm *mm, struct page *p)
{
	mm_stat_add(mm, MM_PGTABLE_PAGES, -1);
	call_rcu(&p->rcu, pagetable_free_rcu_cb);
}

pgtable_t pte_alloc_one(struct umm_mm *mm)
{
	return pagetable_alloc(mm);
}

/* pte_free - free a PTE table that was never installed. */
void pte_free(struct umm_mm *mm, pgtable_t table)
{
	pagetable_free(mm, table);
}

/*
 * pte_free_defer - free a PTE table once no lockless reader can hold it.
 * Locking: the caller has removed it from its PMD, under the PMD lock or
 *          with nothing else able to reach the PMD (free_pte_range:
 *          mmap_lock for write and the VMAs gone, plus the new file's
 *          i_mmap_rwsem for write on the MAP_FIXED path). It
 *          may still hold the table's own lock only if it took that lock
 *          inside an RCU read-side section it has not yet left (as
 *          pte_offset_map_lock() does): the callback, which checks the
 *          lock is free, cannot run before that section ends.
 */
void pte_free_defer(struct umm_mm *mm, pgtable_t table)
{
	pagetable_free_defer(mm, table);
}

static uint64_t table_entry(struct page *table)
{
	return (page_to_pfn(table) << PAGE_SHIFT) | _PAGE_TABLE;
}

void pmd_populate(struct umm_mm *mm, pmd_t *pmd, pgtable_t table)
{
	(void)mm;
	set_pmd(pmd, __pmd(table_entry(table)));
}

pgtable_t pmd_detach_empty_table(struct umm_mm *mm, pmd_t *pmd,
				 struct vm_area_struct *vma)
{
	spinlock_t *pml = pmd_lock(mm, pmd), *ptl;
	pgtable_t table = NULL;
	pmd_t v = pmdp_get(pmd);

	if (!pmd_none(v) && !pmd_leaf(v)) {
		table = pmd_page(v);
		ptl = ptlock_ptr(table);
		if (ptl != pml)
			spin_lock(ptl);
		if ((!vma || !smp_load_acquire(&vma->anon_vma)) && pte_table_empty(table))
			pmdp_get_and_clear(pmd);
		else
			table = NULL;
		if (ptl != pml)
			spin_unlock(ptl);
	}
	spin_unlock(pml);
	return table;
}

/*
 * pmd_install - install *@table in @pmd unless someone else was first.
 * Locking: takes the PMD lock. On success *@table is set to NULL; else the
 *          caller still owns it and frees it.
 */
void pmd_install(struct umm_mm *mm, pmd_t *pmd, pgtable_t *table)
{
	spinlock_t *ptl = pmd_lock(mm, pmd);

	if (likely(pmd_none(pmdp_get(pmd)))) {
		/* release store: walkers see the zeroed table, never garbage */
		set_pmd(pmd, __pmd(table_entry(*table)));
		*table = NULL;
	}
	spin_unlock(ptl);
}

int __pte_alloc(struct umm_mm *mm, pmd_t *pmd)
{
	pgtable_t new = pte_alloc_one(mm);

	if (!new)
		return -ENOMEM;
	pmd_install(mm, pmd, &new);
	if (new)
		pte_free(mm, new);
	return 0;
}

/* Locking: takes the PUD lock (mm->page_table_lock). */
int __pmd_alloc(struct umm_mm *mm, pud_t *pud, uint64_t addr)
{
	struct page *new = pagetable_alloc(mm);
	spinlock_t *ptl;

	(void)addr;
	if (!new)
		return -ENOMEM;
	ptl = pud_lock(mm, pud);
	if (pud_none(pudp_get(pud))) {
		set_pud(pud, __pud(table_entry(new)));
		new = NULL;
	}
	spin_unlock(ptl);
	if (new)
		pagetable_free(mm, new);
	return 0;
}

/* Locking: takes mm->page_table_lock. */
int __pud_alloc(struct umm_mm *mm, p4d_t *p4d, uint64_t addr)
{
	struct page *new = pagetable_alloc(mm);

	(void)addr;
	if (!new)
		return -ENOMEM;
	spin_lock(&mm->page_table_lock);
	if (p4d_none(p4dp_get(p4d))) {
		set_p4d(p4d, __p4d(table_entry(new)));
		new = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (new)
		pagetable_free(mm, new);
	return 0;
}

/* Locking: takes mm->page_table_lock. Only 5-level mms have P4D tables. */
int __p4d_alloc(struct umm_mm *mm, pgd_t *pgd, uint64_t addr)
{
	struct page *new;

	(void)addr;
	VM_BUG_ON(mm->pgtable_levels != 5);
	new = pagetable_alloc(mm);
	if (!new)
		return -ENOMEM;
	spin_lock(&mm->page_table_lock);
	if (pgd_none(pgdp_get(pgd))) {
		set_pgd(pgd, __pgd(table_entry(new)));
		new = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (new)
		pagetable_free(mm, new);
	return 0;
}

int walk_to_pmd(struct umm_mm *mm, uint64_t addr, pmd_t **pmdp)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d = p4d_alloc(mm, pgd, addr);
	pud_t *pud;

	if (!p4d)
		return -ENOMEM;
	pud = pud_alloc(mm, p4d, addr);
	if (!pud)
		return -ENOMEM;
	if (pud_none(pudp_get(pud)) && __pmd_alloc(mm, pud, addr))
		return -ENOMEM;
	/* Decide on one read: a leaf may replace the table at any time. */
	pud_t pudval = pudp_get(pud);

	if (pud_leaf(pudval))
		return -EEXIST;
	*pmdp = pud_pgtable(pudval) + pmd_index(addr);
	return 0;
}

/* The P4D entry for @addr (the top level's, with 4 levels), or NULL. */
static p4d_t *p4d_off_lockless(struct umm_mm *mm, uint64_t addr)
{
	pgd_t *pgdp = pgd_offset(mm, addr);
	pgd_t pgd;

	if (mm->pgtable_levels != 5)
		return (p4d_t *)pgdp;
	pgd = pgdp_get(pgdp);
	if (!pgd_present(pgd) || pgd_bad(pgd))
		return NULL;
	return (p4d_t *)pfn_to_virt(pgd_pfn(pgd)) + p4d_index(addr);
}

pud_t *pud_off_lockless(struct umm_mm *mm, uint64_t addr)
{
	p4d_t *p4dp = p4d_off_lockless(mm, addr);
	p4d_t p4d;

	if (!p4dp)
		return NULL;
	p4d = p4dp_get(p4dp);
	if (!p4d_present(p4d) || p4d_bad(p4d))
		return NULL;
	return p4d_pgtable(p4d) + pud_index(addr);
}

pmd_t *pmd_off_lockless(struct umm_mm *mm, uint64_t addr)
{
	pud_t *pudp = pud_off_lockless(mm, addr);
	pud_t pud;

	if (!pudp)
		return NULL;
	pud = pudp_get(pudp);
	if (!pud_present(pud) || pud_leaf(pud) || pud_bad(pud))
		return NULL;
	return pud_pgtable(pud) + pmd_index(addr);
}

uint64_t pmd_hole_end(struct umm_mm *mm, uint64_t addr, uint64_t end)
{
	p4d_t *p4dp = p4d_off_lockless(mm, addr);
	p4d_t p4d;

	if (!p4dp)
		return pgd_addr_end(mm, addr, end);
	p4d = p4dp_get(p4dp);
	if (!p4d_present(p4d) || p4d_bad(p4d))
		return p4d_addr_end(addr, end);
	return pud_addr_end(addr, end);
}

/* Corrupt PMDs found and cleared, process-wide (umm_vmstat: pmd_bad). */
uint64_t pmd_bad_seen(void)
{
	return __atomic_load_n(&pmd_bad_count, __ATOMIC_RELAXED);
}

/*
 * pmd_clear_bad - a PMD holds neither a table nor a leaf: report it and
 * clear it, but only if it still holds the bad value (a concurrent install
 * must not be wiped out).
 */
void pmd_clear_bad(pmd_t *pmd)
{
	uint64_t bad = pmd_val(pmdp_get_lockless(pmd));

	if (!pmd_bad(__pmd(bad)) || pmd_leaf(__pmd(bad)) || !bad)
		return;
	atomic_add_return(&pmd_bad_count, 1);
	fprintf(stderr, "umm: bad pmd %p: %016llx\n", (void *)pmd,
		(unsigned long long)bad);
	cmpxchg_bool(&pmd->pmd, bad, 0);
}

/*
 * __pte_offset_map - map the PTE table that @pmd names, for @addr.
 * Locking: enters an RCU read-side section, left by pte_unmap() on success
 *          and before returning NULL otherwise. No lock is taken: the
 *          entries may change under the caller.
 * Return: the entry for @addr, or NULL when @pmd is none, a leaf or bad.
 *         The PMD value the decision was made on goes to *@pmdvalp.
 */
pte_t *__pte_offset_map(pmd_t *pmd, uint64_t addr, pmd_t *pmdvalp)
{
	pmd_t pmdval;

	rcu_read_lock();
	pmdval = pmdp_get_lockless(pmd);
	if (pmdvalp)
		*pmdvalp = pmdval;
	if (unlikely(pmd_none(pmdval) || pmd_leaf(pmdval)))
		goto nomap;
	if (unlikely(pmd_bad(pmdval))) {
		pmd_clear_bad(pmd);
		goto nomap;
	}
	return pmd_pgtable_vaddr(pmdval) + pte_index(addr);
nomap:
	rcu_read_unlock();
	return NULL;
}

/*
 * pte_offset_map_nolock - as pte_offset_map(), and give the lock that
 * guards the returned table in *@ptlp, without taking it. The lock is the
 * table's own even if @pmd changes later; a caller that takes it must
 * re-check the PMD (or the entry) before trusting it.
 * Locking: as __pte_offset_map().
 */
pte_t *pte_offset_map_nolock(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			     spinlock_t **ptlp)
{
	pmd_t pmdval;
	pte_t *pte;

	(void)mm;
	pte = __pte_offset_map(pmd, addr, &pmdval);
	if (likely(pte))
		*ptlp = ptlock_ptr(pmd_page(pmdval));
	return pte;
}

/*
 * pte_offset_map_lock - map and lock the PTE table below @pmd for @addr.
 * Locking: enters an RCU read-side section and takes the table's split
 *          lock; both are held on success and released by
 *          pte_unmap_unlock(). Takes no lock on failure.
 * Return: the entry for @addr, with the PMD verified (under the lock) to
 *         still name this table; or NULL when @pmd is none, a leaf or bad,
 *         in which case the caller retries from the PMD or treats the
 *         range as empty.
 */
pte_t *pte_offset_map_lock(struct umm_mm *mm, pmd_t *pmd, uint64_t addr,
			   spinlock_t **ptlp)
{
	spinlock_t *ptl;
	pmd_t pmdval;
	pte_t *pte;

	for (;;) {
		pte = __pte_offset_map(pmd, addr, &pmdval);
		if (unlikely(!pte))
			return NULL;
		ptl = ptlock_ptr(pmd_page(pmdval));
		spin_lock(ptl);
		if (likely(pmd_same(pmdval, pmdp_get_lockless(pmd)))) {
			*ptlp = ptl;
			return pte;
		}
		/* Retracted or replaced while we waited: start over. */
		pte_unmap_unlock(pte, ptl);
		mm_stat_add(mm, MM_PTE_MAP_RETRY, 1);
	}
}

/* ---- freeing ranges of tables ---- */

/* An entry that should name a table but does not: report and clear. */
static bool pmd_none_or_clear_bad(pmd_t *pmd)
{
	pmd_t v = pmdp_get(pmd);

	if (pmd_none(v))
		return true;
	if (unlikely(pmd_bad(v))) {
		atomic_add_return(&pmd_bad_count, 1);
		WARN_ON_ONCE(pmd_leaf(v));	/* leaves are zapped first */
		pmd_clear(pmd);
		return true;
	}
	return false;
}

static bool pud_none_or_clear_bad(pud_t *pud)
{
	pud_t v = pudp_get(pud);

	if (pud_none(v))
		return true;
	if (unlikely(pud_bad(v))) {
		WARN_ON_ONCE(pud_leaf(v));
		pud_clear(pud);
		return true;
	}
	return false;
}

static bool p4d_none_or_clear_bad(p4d_t *p4d)
{
	p4d_t v = p4dp_get(p4d);

	if (p4d_none(v))
		return true;
	if (unlikely(p4d_bad(v))) {
		WARN_ON_ONCE(1);
		p4d_clear(p4d);
		return true;
	}
	return false;
}

static void free_pte_range(struct umm_mm *mm, pmd_t *pmd)
{
	struct page *table = pmd_page(pmdp_get(pmd));

	pmd_clear(pmd);
	pte_free_defer(mm, table);
}

/*
 * A table is freed only when the whole span it maps lies inside
 * [floor, ceiling): a neighbour outside may still use it. ceiling 0 means
 * the top of the address space.
 */
static bool span_inside(uint64_t start, uint64_t end, uint64_t mask,
			uint64_t floor, uint64_t ceiling)
{
	start &= mask;
	if (start < floor)
		return false;
	if (ceiling) {
		ceiling &= mask;
		if (!ceiling)
			return false;
	}
	return !(end - 1 > ceiling - 1);
}

static void free_pmd_range(struct umm_mm *mm, pud_t *pud, uint64_t addr,
			   uint64_t end, uint64_t floor, uint64_t ceiling)
{
	uint64_t start = addr, next;
	pmd_t *pmd = pmd_offset(pud, addr);
	struct page *table;

	do {
		next = pmd_addr_end(addr, end);
		if (pmd_none_or_clear_bad(pmd))
			continue;
		free_pte_range(mm, pmd);
	} while (pmd++, addr = next, addr != end);

	if (!span_inside(start, end, PUD_MASK, floor, ceiling))
		return;
	table = virt_to_page(pud_pgtable(pudp_get(pud)));
	pud_clear(pud);
	pagetable_free_defer(mm, table);
}

static void free_pud_range(struct umm_mm *mm, p4d_t *p4d, uint64_t addr,
			   uint64_t end, uint64_t floor, uint64_t ceiling)
{
	uint64_t start = addr, next;
	pud_t *pud = pud_offset(p4d, addr);
	struct page *table;

	do {
		next = pud_addr_end(addr, end);
		if (pud_none_or_clear_bad(pud))
			continue;
		free_pmd_range(mm, pud, addr, next, floor, ceiling);
	} while (pud++, addr = next, addr != end);

	if (!span_inside(start, end, P4D_MASK, floor, ceiling))
		return;
	table = virt_to_page(p4d_pgtable(p4dp_get(p4d)));
	p4d_clear(p4d);
	pagetable_free_defer(mm, table);
}

static void free_p4d_range(struct umm_mm *mm, pgd_t *pgd, uint64_t addr,
			   uint64_t end, uint64_t floor, uint64_t ceiling)
{
	uint64_t start = addr, next;
	uint64_t pgdir_mask = ~((1UL << mm_pgdir_shift(mm)) - 1);
	p4d_t *p4d = p4d_offset(mm, pgd, addr);
	struct page *table;

	do {
		next = p4d_addr_end(addr, end);
		if (p4d_none_or_clear_bad(p4d))
			continue;
		free_pud_range(mm, p4d, addr, next, floor, ceiling);
	} while (p4d++, addr = next, addr != end);

	if (mm->pgtable_levels == 4)
		return;		/* folded: the P4D entry is the PGD entry */
	if (!span_inside(start, end, pgdir_mask, floor, ceiling))
		return;
	table = virt_to_page(pfn_to_virt(pgd_pfn(pgdp_get(pgd))));
	pgd_clear(pgd);
	pagetable_free_defer(mm, table);
}

/*
 * free_pgd_range - free the page tables that map only [addr, end), given
 * that nothing is mapped in [floor, addr) or [end, ceiling) either
 * (ceiling 0: the top). Entries must already be zapped.
 * Locking: mmap_lock held for write (and, once VMAs exist, the VMAs
 *          around the range detached or write-locked); lockless walkers
 *          may run concurrently: the tables go after a grace period.
 */
void free_pgd_range(struct umm_mm *mm, uint64_t addr, uint64_t end,
		    uint64_t floor, uint64_t ceiling)
{
	uint64_t next;
	pgd_t *pgd;

	/* The PGD spans only the mm's space: "end 0 = the top" cannot work. */
	VM_BUG_ON(!end || end > mm->task_size + PAGE_SIZE);
	addr &= PMD_MASK;
	if (addr < floor) {
		addr += PMD_SIZE;
		if (!addr)
			return;
	}
	if (ceiling) {
		ceiling &= PMD_MASK;
		if (!ceiling)
			return;
	}
	if (end - 1 > ceiling - 1)
		end -= PMD_SIZE;
	if (addr > end - 1)
		return;

	pgd = pgd_offset(mm, addr);
	do {
		pgd_t v = pgdp_get(pgd);

		next = pgd_addr_end(mm, addr, end);
		if (mm->pgtable_levels == 5) {
			if (pgd_none(v))
				continue;
			if (unlikely(pgd_bad(v))) {
				WARN_ON_ONCE(1);
				pgd_clear(pgd);
				continue;
			}
		}
		free_p4d_range(mm, pgd, addr, next, floor, ceiling);
	} while (pgd++, addr = next, addr != end);
}

/*
 * free_pgtables - free the page tables of an unmapped range [start, end)
 * whose neighbours end at @floor and begin at @ceiling.
 * Locking: as free_pgd_range().
 */
void free_pgtables(struct umm_mm *mm, uint64_t start, uint64_t end,
		   uint64_t floor, uint64_t ceiling)
{
	free_pgd_range(mm, start, end, floor, ceiling);
}

int pgd_alloc(struct umm_mm *mm)
{
	struct page *p = pagetable_alloc(mm);

	if (!p)
		return -ENOMEM;
	mm->pgd = page_address(p);
	return 0;
}

/* Locking: the mm is unreachable (teardown); lower tables already freed. */
void pgd_free(struct umm_mm *mm)
{
	pagetable_free(mm, virt_to_page(mm->pgd));
	mm->pgd = NULL;
}
