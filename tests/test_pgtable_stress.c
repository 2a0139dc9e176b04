// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pgtable_stress - seed 001 under fire.
 *
 * Threads map and lock PTE tables at random addresses while others retract
 * whole tables (PMD cleared under the PMD lock + PTE lock, table freed with
 * pte_free_defer) and re-populate them. Invariants checked:
 *  - holding the PTE lock from pte_offset_map_lock(), the PMD still names
 *    the very table that was locked, and that table is a live page table
 *    whose identity (entry 0 and page->index) is consistent;
 *  - a lockless reader inside its RCU section never sees the table it
 *    mapped change identity (it would if the frame were freed and reused
 *    before the grace period ended);
 *  - at the end every frame and every table is returned.
 */
#include <pthread.h>
#include "test.h"
#include "test_frames.h"
#include <unistd.h>
#include <umm/umm.h>
#include "memory.h"

#define WINDOW_PMDS	96	/* 3 PMD tables' worth of 2 MiB slots, partly */
#define WINDOW_BASE	(0x7f0000000000UL - 64 * PMD_SIZE)

static struct umm_mm *mm;
static uint64_t next_id = 1;		/* atomic */
static int stop;			/* atomic */
static uint64_t n_locked, n_lockless, n_retract, n_populate, n_frames; /* atomic */

static uint64_t rand_addr(uint64_t *seed)
{
	return WINDOW_BASE + (xrand(seed) % (WINDOW_PMDS * 512)) * PAGE_SIZE;
}

static pmd_t *pmd_of(uint64_t addr)
{
	pmd_t *pmd;

	/* Upper levels are populated up front and never freed here. */
	if (walk_to_pmd(mm, addr, &pmd))
		return NULL;
	return pmd;
}

static pte_t *table_base(pte_t *pte)
{
	return (pte_t *)((uint64_t)pte & PAGE_MASK);
}

/* The identity of a table: entry 0 is a special (frameless) marker. */
static void check_identity(pte_t *table, bool locked)
{
	struct page *tp = virt_to_page(table);
	pte_t e0 = ptep_get(&table[0]);

	CHECK(test_bit_page(PG_table, tp));
	if (pte_none(e0))
		return;		/* populated, identity not yet stamped */
	CHECK(pte_special(e0));
	if (locked)
		CHECK_EQ(pte_pfn(e0), READ_ONCE(tp->index));
}

static void *locked_mapper(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t addr = rand_addr(&seed);
		pmd_t *pmd = pmd_of(addr);
		spinlock_t *ptl;
		pte_t *pte;

		if (!pmd)
			continue;
		pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
		if (!pte)
			continue;
		CHECK(spin_held_by_me(ptl));
		CHECK(rcu_read_lock_held());
		/* The heart of seed 001: under the lock, the PMD is ours. */
		CHECK_EQ(pmd_pfn(pmdp_get(pmd)), virt_to_pfn(pte));
		CHECK(ptl == ptlock_ptr(virt_to_page(pte)));
		check_identity(table_base(pte), true);
		if (pte_index(addr) != 0) {
			pte_t old = ptep_get(pte);

			if (pte_none(old)) {
				struct page *p = alloc_page(mm->quota, 0);

				if (p) {
					p->mapcount = 1;
					set_pte(pte, pfn_pte(page_to_pfn(p),
						__pgprot(_PAGE_PRESENT | _PAGE_USER)));
					atomic_add_return(&n_frames, 1);
				}
			} else {
				old = ptep_get_and_clear(pte);
				struct page *p = pfn_to_page(pte_pfn(old));

				p->mapcount = 0;
				put_page(p);
			}
		}
		pte_unmap_unlock(pte, ptl);
		atomic_add_return(&n_locked, 1);
	}
	return NULL;
}

static void *lockless_reader(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 7;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t addr = rand_addr(&seed), sum = 0;
		pmd_t *pmd;
		pte_t *pte, *table;
		pte_t e0, e1;

		rcu_read_lock();
		pmd = pmd_off_lockless(mm, addr);
		pte = pmd ? pte_offset_map(pmd, addr) : NULL;
		if (!pte) {
			rcu_read_unlock();
			continue;
		}
		table = table_base(pte);
		e0 = ptep_get(&table[0]);
		for (int i = 0; i < PTRS_PER_PTE; i += 8)
			sum += pte_val(ptep_get(&table[i]));
		e1 = ptep_get(&table[0]);
		/* Stamped once, never changed while the table lives. */
		CHECK(pte_none(e0) || pte_same(e0, e1));
		CHECK(test_bit_page(PG_table, virt_to_page(table)));
		pte_unmap(pte);
		rcu_read_unlock();
		(void)sum;
		atomic_add_return(&n_lockless, 1);
	}
	return NULL;
}

/* Stamp a fresh table's identity. Locking: the table's PTE lock held. */
static void stamp(pte_t *table)
{
	struct page *tp = virt_to_page(table);
	uint64_t id;

	if (!pte_none(ptep_get(&table[0])))
		return;
	id = atomic_add_return(&next_id, 1);
	WRITE_ONCE(tp->index, id);
	set_pte(&table[0], pte_mkspecial(pfn_pte(id, __pgprot(_PAGE_PRESENT))));
}

static void *populator(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 3;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t addr = rand_addr(&seed);
		pmd_t *pmd = pmd_of(addr);
		spinlock_t *ptl;
		pte_t *pte;

		if (!pmd)
			continue;
		pte = pte_alloc_map_lock(mm, pmd, addr, &ptl);
		if (!pte)
			continue;
		stamp(table_base(pte));
		pte_unmap_unlock(pte, ptl);
		atomic_add_return(&n_populate, 1);
	}
	return NULL;
}

/*
 * Retract as khugepaged does (seed 003): PMD lock, then the PTE lock,
 * clear the PMD, drop both, free the table after a grace period.
 */
static void retract_one(pmd_t *pmd)
{
	spinlock_t *pml, *ptl;
	pmd_t pmdval;
	pte_t *table;

	pml = pmd_lock(mm, pmd);
	pmdval = pmdp_get(pmd);
	if (pmd_none(pmdval) || pmd_leaf(pmdval)) {
		spin_unlock(pml);
		return;
	}
	table = pmd_pgtable_vaddr(pmdval);
	ptl = ptlock_ptr(pmd_page(pmdval));
	spin_lock(ptl);
	CHECK(pmd_same(pmdval, pmdp_get(pmd)));	/* PMD lock excludes changes */
	pmd_clear(pmd);
	for (int i = 1; i < PTRS_PER_PTE; i++) {
		pte_t old = ptep_get_and_clear(&table[i]);

		if (!pte_none(old)) {
			struct page *p = pfn_to_page(pte_pfn(old));

			p->mapcount = 0;
			put_page(p);
		}
	}
	spin_unlock(ptl);
	spin_unlock(pml);
	pte_free_defer(mm, virt_to_page(table));
	atomic_add_return(&n_retract, 1);
}

static void *retractor(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 5;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		pmd_t *pmd = pmd_of(rand_addr(&seed));

		if (pmd)
			retract_one(pmd);
	}
	return NULL;
}

static void test_stress(void)
{
	struct page_alloc_stats before;
	double secs = stress_seconds(10);
	void *(*fns[])(void *) = { locked_mapper, locked_mapper, lockless_reader,
				   populator, retractor };
	pthread_t t[ARRAY_SIZE(fns)];

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		return;
	for (uint64_t a = WINDOW_BASE; a < WINDOW_BASE + WINDOW_PMDS * PMD_SIZE; a += PMD_SIZE)
		CHECK(pmd_of(a));
	for (size_t i = 0; i < ARRAY_SIZE(fns); i++)
		CHECK(!pthread_create(&t[i], NULL, fns[i], (void *)(uintptr_t)(i + 1)));
	double end = now_sec() + secs;

	while (now_sec() < end)
		usleep(20000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (size_t i = 0; i < ARRAY_SIZE(fns); i++)
		pthread_join(t[i], NULL);
	printf("  %.0f s: locked %llu, lockless %llu, populated %llu, retracted %llu, "
	       "frames mapped %llu, pte_offset_map_lock retries %llu\n", secs,
	       (unsigned long long)n_locked, (unsigned long long)n_lockless,
	       (unsigned long long)n_populate, (unsigned long long)n_retract,
	       (unsigned long long)n_frames,
	       (unsigned long long)mm_stat_read(mm, MM_PTE_MAP_RETRY));
	CHECK(n_locked > 0 && n_lockless > 0 && n_retract > 0 && n_populate > 0);
	umm_mm_destroy(mm);
	check_frames_back(&before);
}

int main(void)
{
	RUN(test_stress);
	return test_done();
}
