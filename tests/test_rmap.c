// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_rmap - anon_vma chains: from an anonymous page, rmap_walk_anon must
 * find every mapping of it and nothing twice - across splits, merges,
 * mremap moves, munmap, forks three generations deep, copy-on-write
 * breaks and the exit of a child - and the anon_vma trees must hold one
 * link per live VMA (no link leaks from replaced VMAs).
 */
#include <errno.h>
#include <pthread.h>
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
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define MAX_FOUND	16

/* What one walk found: the mappings that really map the page. */
struct found {
	int n, visited;
	struct umm_mm *mm[MAX_FOUND];
	uint64_t addr[MAX_FOUND];
	bool dup, outside;
};

static bool collect(struct page *page, struct vm_area_struct *vma, uint64_t addr,
		    void *arg)
{
	struct found *f = arg;

	f->visited++;
	if (addr < vma->vm_start || addr >= vma->vm_end) {
		f->outside = true;	/* the walk keys on pgoff: never outside */
		return true;
	}
	if (!page_mapped_in_vma(page, vma, addr))
		return true;
	for (int i = 0; i < f->n; i++)
		if (f->mm[i] == vma->vm_mm && f->addr[i] == addr)
			f->dup = true;
	if (f->n < MAX_FOUND) {
		f->mm[f->n] = vma->vm_mm;
		f->addr[f->n] = addr;
	}
	f->n++;
	return true;
}

static bool found_has(const struct found *f, struct umm_mm *mm, uint64_t addr)
{
	for (int i = 0; i < f->n && i < MAX_FOUND; i++)
		if (f->mm[i] == mm && f->addr[i] == addr)
			return true;
	return false;
}

static struct found walk(struct umm_mm *mm, uint64_t addr)
{
	struct found f = { 0 };
	struct page *page = page_at(mm, addr);

	CHECK(page);
	if (page)
		rmap_walk_anon(page, collect, &f);
	CHECK(!f.dup);
	CHECK(!f.outside);
	return f;
}

static void poke(struct umm_mm *mm, uint64_t addr, unsigned char v)
{
	CHECK_EQ(umm_write(mm, addr, &v, 1), 1);
}

static unsigned char peek(struct umm_mm *mm, uint64_t addr)
{
	unsigned char v = 0;

	CHECK_EQ(umm_read(mm, addr, &v, 1), 1);
	return v;
}

/* Links in the tree of the anon_vma of the VMA at @addr. */
static uint64_t links(struct umm_mm *mm, uint64_t addr)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);

	return vma && vma->anon_vma ? vma->anon_vma->rb_root.count : 0;
}

/* One VMA, one page: found once, at its address. */
static void test_single(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	struct found f;

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	poke(mm, BASE + PG, 1);
	f = walk(mm, BASE + PG);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, mm, BASE + PG));
	CHECK_EQ(links(mm, BASE), 1);
	/* a page with no mapping left: the walk declines */
	{
		struct page *page = page_at(mm, BASE + PG);
		struct found g = { 0 };

		get_page(page);
		CHECK_EQ(umm_munmap(mm, BASE, 4 * PG), 0);
		CHECK(!rmap_walk_anon(page, collect, &g));
		CHECK_EQ(g.n, 0);
		put_page(page);
	}
	umm_mm_destroy(mm);
}

/*
 * mprotect splits the VMA in three and merges it back; each piece's pages
 * are found through the piece, and the tree holds one link per piece.
 */
static void test_split_merge(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	struct found f;
	int i;

	CHECK_EQ(umm_mmap(mm, BASE, 8 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	for (i = 0; i < 8; i++)
		poke(mm, BASE + i * PG, (unsigned char)(i + 1));
	for (i = 0; i < 50; i++) {
		CHECK_EQ(umm_mprotect(mm, BASE + 3 * PG, 2 * PG, PROT_READ), 0);
		CHECK_EQ(links(mm, BASE), 3);
		f = walk(mm, BASE + 3 * PG);
		CHECK_EQ(f.n, 1);
		CHECK(found_has(&f, mm, BASE + 3 * PG));
		CHECK_EQ(f.visited, 1);	/* only the piece holding it */
		f = walk(mm, BASE + 7 * PG);
		CHECK_EQ(f.n, 1);
		CHECK_EQ(umm_mprotect(mm, BASE + 3 * PG, 2 * PG, RW), 0);
		CHECK_EQ(links(mm, BASE), 1);
	}
	f = walk(mm, BASE);
	CHECK_EQ(f.n, 1);
	CHECK_EQ(f.visited, 1);
	/* a munmap in the middle leaves two pieces, two links */
	CHECK_EQ(umm_munmap(mm, BASE + 2 * PG, PG), 0);
	CHECK_EQ(links(mm, BASE), 2);
	f = walk(mm, BASE + 5 * PG);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, mm, BASE + 5 * PG));
	umm_mm_destroy(mm);
}

/* mremap carries the links: the page is found at its new address only. */
static void test_mremap(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	uint64_t to = BASE + 64 * PG;
	struct found f;

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	poke(mm, BASE + 2 * PG, 7);
	CHECK_EQ(umm_mremap(mm, BASE, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, to),
		 (int64_t)to);
	f = walk(mm, to + 2 * PG);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, mm, to + 2 * PG));
	CHECK_EQ(f.visited, 1);
	CHECK_EQ(links(mm, to), 1);
	/* part of it moved back: two VMAs of one anon_vma, one link each */
	CHECK_EQ(umm_mremap(mm, to + 2 * PG, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED,
			    BASE + 2 * PG), (int64_t)(BASE + 2 * PG));
	f = walk(mm, BASE + 2 * PG);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, mm, BASE + 2 * PG));
	CHECK_EQ(peek(mm, BASE + 2 * PG), 7);
	CHECK_EQ(links(mm, to), 3);
	umm_mm_destroy(mm);
}

/*
 * Three generations share a page until each writes it; the walk from the
 * page finds exactly the mms that still map it, and a child's exit
 * leaves only the others.
 */
static void test_fork_chain(void)
{
	struct umm_mm *p = umm_mm_create(NULL), *c = NULL, *g = NULL;
	uint64_t a = BASE + PG;
	struct found f;
	struct page *orig;

	CHECK_EQ(umm_mmap(p, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	poke(p, a, 1);
	CHECK_EQ(umm_fork(p, &c), 0);
	CHECK_EQ(umm_fork(c, &g), 0);
	orig = page_at(p, a);
	CHECK(orig == page_at(c, a) && orig == page_at(g, a));
	f = walk(p, a);
	CHECK_EQ(f.n, 3);
	CHECK(found_has(&f, p, a) && found_has(&f, c, a) && found_has(&f, g, a));
	/* the child breaks COW: its new page is its own, found from it only */
	poke(c, a, 2);
	CHECK(page_at(c, a) != orig);
	f = walk(c, a);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, c, a));
	/* the grandchild kept the original */
	CHECK(page_at(g, a) == orig);
	f = walk(p, a);
	CHECK_EQ(f.n, 2);
	CHECK(found_has(&f, p, a) && found_has(&f, g, a));
	/* a page the child writes before forking again is shared down the line */
	poke(c, a + PG, 3);
	umm_mm_destroy(g);
	g = NULL;
	CHECK_EQ(umm_fork(c, &g), 0);
	f = walk(c, a + PG);
	CHECK_EQ(f.n, 2);
	CHECK(found_has(&f, c, a + PG) && found_has(&f, g, a + PG));
	/* the grandchild splits its VMA: its piece is still found */
	CHECK_EQ(umm_mprotect(g, a + PG, PG, PROT_READ), 0);
	f = walk(c, a + PG);
	CHECK_EQ(f.n, 2);
	CHECK(found_has(&f, g, a + PG));
	/* the new grandchild took the child's copy of a, not the original */
	CHECK(page_at(g, a) == page_at(c, a));
	f = walk(p, a);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, p, a));
	/* the middle generation exits: what it shared stays found from the rest */
	umm_mm_destroy(c);
	c = NULL;
	f = walk(g, a);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, g, a));
	f = walk(g, a + PG);
	CHECK_EQ(f.n, 1);
	CHECK(found_has(&f, g, a + PG));
	CHECK_EQ(peek(g, a), 2);
	CHECK_EQ(peek(g, a + PG), 3);
	CHECK_EQ(peek(p, a), 1);
	umm_mm_destroy(g);
	umm_mm_destroy(p);
}

static uint64_t chain_length(struct umm_mm *mm, uint64_t addr)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	struct anon_vma_chain *avc;
	uint64_t n = 0;

	CHECK(vma != NULL);
	if (vma)
		list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
			n++;
	return n;
}

/*
 * A chain of forks, each parent exiting once its child runs, as a fork
 * server's descendants or a shell's pipeline do: the child's VMA takes
 * over an anon_vma of its chain that no VMA uses any more (the kernel's
 * reuse), so its chain stays at three links however many generations
 * come, where without reuse it grows by one a generation. Every page each
 * generation wrote is still found by the rmap walk, from the one mm left
 * that maps it, and reads back.
 */
static void test_fork_generations(void)
{
	struct umm_mm *mm = umm_mm_create(NULL), *child;
	uint64_t a = BASE;
	const unsigned gens = 64;

	CHECK_EQ(umm_mmap(mm, BASE, 8 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	poke(mm, a, 100);
	for (unsigned g = 1; g <= gens; g++) {
		struct found f;

		CHECK_EQ(umm_fork(mm, &child), 0);
		umm_mm_destroy(mm);
		mm = child;
		poke(mm, a + (g % 8) * PG, (unsigned char)g);
		f = walk(mm, a + (g % 8) * PG);
		CHECK_EQ(f.n, 1);
		CHECK(found_has(&f, mm, a + (g % 8) * PG));
		CHECK(chain_length(mm, a) <= 3);
	}
	for (unsigned i = 1; i < 8; i++)
		CHECK_EQ(peek(mm, a + i * PG), (unsigned char)(gens - (gens - i) % 8));
	CHECK_EQ(peek(mm, a), (unsigned char)(gens - gens % 8));
	CHECK_EQ(chain_length(mm, a), 3);
	umm_mm_destroy(mm);
}

/* The walk agrees with the page's mapcount at rest. */
static void test_mapcount_agrees(void)
{
	struct umm_mm *mm[4];
	struct found f;
	int i;

	mm[0] = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(mm[0], BASE, 16 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	for (i = 0; i < 16; i++)
		poke(mm[0], BASE + i * PG, (unsigned char)i);
	for (i = 1; i < 4; i++)
		CHECK_EQ(umm_fork(mm[i - 1], &mm[i]), 0);
	for (i = 0; i < 16; i++)
		if (i % 3 == 0)
			poke(mm[i % 4], BASE + i * PG, 0xee);
	for (i = 0; i < 16; i++) {
		struct page *page = page_at(mm[0], BASE + i * PG);

		f = walk(mm[0], BASE + i * PG);
		CHECK_EQ(f.n, __atomic_load_n(&page->mapcount, __ATOMIC_RELAXED));
	}
	for (i = 3; i >= 0; i--)
		umm_mm_destroy(mm[i]);
}

/*
 * An mm's teardown keeps a page's anon_vma alive while the page is still
 * mapped: the links go only after the zap. Three generations make the
 * dying mm's link the last reference to the anon_vma of a page it still
 * maps; a notifier stops the zap half-way, lets a grace period pass and
 * walks the page from another thread (ASan reports a use after free if
 * the anon_vma went first).
 */
static struct page *teardown_page;
static int teardown_walks;

static void *teardown_walker(void *arg)
{
	struct found *f = arg;

	if (rmap_walk_anon(teardown_page, collect, f))
		teardown_walks++;
	return NULL;
}

static void teardown_start(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	pthread_t t;

	(void)mm, (void)s, (void)e;
	if (teardown_walks)
		return;
	rcu_barrier();
	CHECK(!pthread_create(&t, NULL, teardown_walker, priv));
	pthread_join(t, NULL);
}

static void teardown_end(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	(void)priv, (void)mm, (void)s, (void)e;
}

static void test_teardown_keeps_anon_vma(void)
{
	static const struct umm_notifier_ops ops = { teardown_start, teardown_end };
	struct umm_mm *p = umm_mm_create(NULL), *c1 = NULL, *c2 = NULL;
	struct found f = { 0 };

	CHECK_EQ(umm_mmap(p, BASE, PG, RW, ANON_FIXED, NULL, 0), BASE);
	poke(p, BASE, 1);
	CHECK_EQ(umm_fork(p, &c1), 0);
	poke(c1, BASE, 2);			/* c1's own page, of c1's anon_vma */
	CHECK_EQ(umm_fork(c1, &c2), 0);		/* shared by c1 and c2 */
	teardown_page = page_at(c2, BASE);
	get_page(teardown_page);
	umm_mm_destroy(c1);	/* c2's link is the anon_vma's last reference */
	rcu_barrier();
	CHECK_EQ(umm_notifier_register(c2, &ops, &f), 0);
	umm_mm_destroy(c2);
	CHECK_EQ(teardown_walks, 1);
	CHECK_EQ(f.n, 1);	/* walked before the zap reached the page */
	put_page(teardown_page);
	umm_mm_destroy(p);
}

int main(void)
{
	RUN(test_single);
	RUN(test_split_merge);
	RUN(test_mremap);
	RUN(test_fork_chain);
	RUN(test_fork_generations);
	RUN(test_mapcount_agrees);
	RUN(test_teardown_keeps_anon_vma);
	return test_done();
}
