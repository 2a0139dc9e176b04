// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_rmap_stress - rmap walks of anonymous pages racing everything that
 * relinks anon_vma chains: mprotect splits and merges, mremap moves,
 * forks and the exit of children, new VMAs faulted next to old ones
 * (anon_vma_prepare reusing a neighbour's anon_vma).
 *
 * Invariant checked on every walk: the parent, which never writes the
 * watched page and never unmaps it (it only moves it), maps it exactly
 * once, wherever it is - a walk must neither miss it between a VMA and the
 * pieces replacing it, nor find it through both; no mapping is reported
 * twice; every reported address lies inside the VMA it came with. At the
 * end the walk agrees with the page's mapcount. test_fork_lineages races
 * forks whose parents exit, in several lineages of one family, which reuse
 * anon_vmas of their chains (see it).
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_pte.h"
#include "mm.h"
#include "rmap.h"
#include "pgtable.h"
#include "page_alloc.h"

#define PG		4096UL
#define BASE		0x10000000UL
#define ALT		0x20000000UL
#define SIDE		0x30000000UL
#define NPAGES		32
#define WATCH		5		/* the watched page's index */
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define MOVE		(MREMAP_MAYMOVE | MREMAP_FIXED)
#define MAX_KIDS	3

static struct umm_mm *parent;
static struct page *watched;
static bool stop;
static uint64_t walks, moves, forks;

struct tally {
	int in_parent, total;
	struct umm_mm *mm[16];
	uint64_t addr[16];
};

static bool tally_one(struct page *page, struct vm_area_struct *vma, uint64_t addr,
		      void *arg)
{
	struct tally *t = arg;

	CHECK(addr >= vma->vm_start && addr < vma->vm_end);
	if (!page_mapped_in_vma(page, vma, addr))
		return true;
	for (int i = 0; i < t->total && i < 16; i++)
		CHECK(!(t->mm[i] == vma->vm_mm && t->addr[i] == addr));
	if (t->total < 16) {
		t->mm[t->total] = vma->vm_mm;
		t->addr[t->total] = addr;
	}
	t->total++;
	if (vma->vm_mm == parent)
		t->in_parent++;
	return true;
}

static void *walker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct tally t = { 0 };

		CHECK(rmap_walk_anon(watched, tally_one, &t));
		CHECK_EQ(t.in_parent, 1);
		CHECK(t.total <= 1 + MAX_KIDS);
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Splits, merges and moves the parent's VMA; forks and drops children. */
static void *mutator(void *arg)
{
	struct umm_mm *kids[MAX_KIDS] = { 0 };
	uint64_t kid_at[MAX_KIDS] = { 0 };	/* where the parent was at its fork */
	uint64_t at = BASE, seed = (uintptr_t)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t r = xrand(&seed), k = r % MAX_KIDS, p = (r >> 8) % NPAGES;
		uint64_t to = at == BASE ? ALT : BASE;
		unsigned char v = (unsigned char)r;

		switch ((r >> 16) % 6) {
		case 0:		/* split, then merge back */
			CHECK_EQ(umm_mprotect(parent, at + p * PG, PG, PROT_READ), 0);
			CHECK_EQ(umm_mprotect(parent, at + p * PG, PG, RW), 0);
			break;
		case 1:		/* the whole VMA moves */
			CHECK_EQ(umm_mremap(parent, at, NPAGES * PG, NPAGES * PG, MOVE, to),
				 (int64_t)to);
			at = to;
			__atomic_fetch_add(&moves, 1, __ATOMIC_RELAXED);
			break;
		case 2:		/* a child comes or goes */
			if (kids[k]) {
				umm_mm_destroy(kids[k]);
				kids[k] = NULL;
			} else if (!umm_fork(parent, &kids[k])) {
				kid_at[k] = at;
				__atomic_fetch_add(&forks, 1, __ATOMIC_RELAXED);
			}
			break;
		case 3:		/* a child writes a page: COW, maybe the watched one */
			if (kids[k])
				CHECK_EQ(umm_write(kids[k], kid_at[k] + p * PG, &v, 1), 1);
			break;
		case 4:		/* the parent writes another page */
			if (p != WATCH)
				CHECK_EQ(umm_write(parent, at + p * PG, &v, 1), 1);
			break;
		default:	/* a child splits its copy */
			if (kids[k])
				CHECK_EQ(umm_mprotect(kids[k], kid_at[k] + (p % (NPAGES - 1)) * PG,
						      2 * PG, RW | PROT_EXEC), 0);
			break;
		}
	}
	/* the parent's VMA back home, at rest: the walk agrees with mapcount */
	if (at != BASE)
		CHECK_EQ(umm_mremap(parent, at, NPAGES * PG, NPAGES * PG, MOVE, BASE),
			 (int64_t)BASE);
	{
		struct tally t = { 0 };

		CHECK(rmap_walk_anon(watched, tally_one, &t));
		CHECK_EQ(t.total, __atomic_load_n(&watched->mapcount, __ATOMIC_RELAXED));
	}
	for (unsigned i = 0; i < MAX_KIDS; i++)
		umm_mm_destroy(kids[i]);
	return NULL;
}

/* New VMAs beside each other, faulted from two threads: anon_vma_prepare. */
static void *side_faulter(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 77, base = SIDE + ((uintptr_t)arg & 1) * 64 * PG;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t i = xrand(&seed) % 64;
		unsigned char v = 1;

		if (umm_mmap(parent, base + i * PG, PG, RW, ANON_FIXED, NULL, 0) !=
		    (int64_t)(base + i * PG)) {
			CHECK(0);
			break;
		}
		CHECK_EQ(umm_write(parent, base + i * PG, &v, 1), 1);
		if (xrand(&seed) % 4 == 0)
			CHECK_EQ(umm_munmap(parent, base, 64 * PG), 0);
	}
	return NULL;
}

/*
 * A new mm whose NPAGES pages at BASE are written with @v; watched is its
 * page WATCH, with a plain reference (forks still share it).
 * Return: the mm, or NULL (a check failed).
 */
static struct umm_mm *watched_mm(unsigned char v)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	CHECK(mm);
	if (!mm)
		return NULL;
	CHECK_EQ(umm_mmap(mm, BASE, NPAGES * PG, RW, ANON_FIXED, NULL, 0), BASE);
	for (int i = 0; i < NPAGES; i++)
		CHECK_EQ(umm_write(mm, BASE + i * PG, &v, 1), 1);
	watched = page_at(mm, BASE + WATCH * PG);
	CHECK(watched);
	if (!watched) {
		umm_mm_destroy(mm);
		return NULL;
	}
	get_page(watched);
	return mm;
}

static void test_rmap_stress(void)
{
	void *(*const fns[])(void *) = { walker, walker, mutator, side_faulter,
					 side_faulter };

	parent = watched_mm(0x42);
	if (!parent)
		return;
	stress_run(fns, NULL, 5, 5, &stop);
	printf("rmap stress: %llu walks, %llu moves, %llu forks\n",
	       (unsigned long long)walks, (unsigned long long)moves,
	       (unsigned long long)forks);
	CHECK(walks > 0 && moves > 0 && forks > 0);
	umm_mm_destroy(parent);
	put_page(watched);
}

/*
 * Lineages of forks, one a thread, from one ancestor: each step forks the
 * thread's mm and destroys the old one, so the new VMA takes over an
 * anon_vma of its chain that no VMA uses (anon_vma_fork's reuse), while
 * the other lineages fork from the same family at once and claim theirs.
 * Each step: the ancestor's page, which nobody writes, is found from this
 * lineage's mm exactly once; what the lineage wrote reads back; its chain
 * stays at three links (the ancestor's, its first child's, one more).
 */
#define LINEAGES	3
static struct umm_mm *ancestor;
static uint64_t generations;

static uint64_t chain_links(struct umm_mm *mm, uint64_t addr)
{
	struct vm_area_struct *vma;
	struct anon_vma_chain *avc;
	uint64_t n = 0;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma)
		list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
			n++;
	mmap_read_unlock(mm);
	return n;
}

static void *lineage(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	uint64_t mine = BASE + id * PG, seen = 0;
	struct umm_mm *mm = NULL;
	unsigned char v = 0;

	CHECK_EQ(umm_fork(ancestor, &mm), 0);
	while (mm && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct umm_mm *next = NULL;
		struct tally t = { 0 };
		unsigned char r = 0;

		if (umm_fork(mm, &next)) {
			CHECK(0);
			break;
		}
		umm_mm_destroy(mm);
		mm = next;
		CHECK_EQ(umm_read(mm, mine, &r, 1), 1);
		CHECK_EQ(r, v);
		v++;
		CHECK_EQ(umm_write(mm, mine, &v, 1), 1);
		CHECK(rmap_walk_anon(watched, tally_one, &t));
		for (int i = 0; i < t.total && i < 16; i++)
			seen += t.mm[i] == mm;
		CHECK_EQ(seen, 1);
		seen = 0;
		CHECK(chain_links(mm, BASE) <= 3);
		__atomic_fetch_add(&generations, 1, __ATOMIC_RELAXED);
	}
	umm_mm_destroy(mm);
	return NULL;
}

static void test_fork_lineages(void)
{
	void *(*const fns[])(void *) = { lineage, lineage, lineage };
	void *const args[] = { (void *)1, (void *)2, (void *)3 };

	_Static_assert(LINEAGES == 3 && LINEAGES + 1 < NPAGES, "one page a lineage");
	stop = false;
	ancestor = watched_mm(0);
	if (!ancestor)
		return;
	stress_run(fns, args, LINEAGES, 3, &stop);
	printf("fork lineages: %llu generations\n", (unsigned long long)generations);
	CHECK(generations > 0);
	umm_mm_destroy(ancestor);
	put_page(watched);
}

int main(void)
{
	RUN(test_rmap_stress);
	RUN(test_fork_lineages);
	return test_done();
}
