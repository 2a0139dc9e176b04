// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pagewalk - the page walker (seed 000) and its dirty-tracking users:
 * walk_page_range visits every present entry of the VMAs in order, once,
 * reports the holes between VMAs, honours test_walk, pre_vma/post_vma,
 * ACTION_CONTINUE and a callback's error; walk_page_mapping reaches every
 * shared mapping of a file range in every mm; umm_wp_shared_mapping_range
 * and umm_clean_record_shared_mapping_range count, protect, clean and
 * record exactly what was written, and a write after either is seen again
 * (no stale translation keeps writing unseen).
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"
#include "pagewalk.h"
#include "filemap.h"

#define P	4096ull

struct counts {
	uint64_t ptes, present, holes_novma, hole_bytes, pre, post, tests;
	uint64_t last_addr, pmds;
	uint64_t skip_start;	/* test_walk refuses the VMA starting here */
	uint64_t fail_at;	/* pte_entry returns -E2BIG here */
	bool in_order, continue_pmds;
};

static int c_pte(pte_t *pte, uint64_t addr, uint64_t next, struct mm_walk *w)
{
	struct counts *c = w->private;

	CHECK_EQ(next, addr + P);
	CHECK(w->vma && addr >= w->vma->vm_start && addr < w->vma->vm_end);
	if (c->ptes && addr <= c->last_addr)
		c->in_order = false;
	c->last_addr = addr;
	c->ptes++;
	c->present += pte_present(ptep_get(pte));
	return addr == c->fail_at ? -E2BIG : 0;
}

static int c_pmd(pmd_t *pmd, uint64_t addr, uint64_t next, struct mm_walk *w)
{
	struct counts *c = w->private;

	(void)pmd;
	(void)addr;
	(void)next;
	c->pmds++;
	if (c->continue_pmds)
		w->action = ACTION_CONTINUE;
	return 0;
}

static int c_hole(uint64_t addr, uint64_t next, int depth, struct mm_walk *w)
{
	struct counts *c = w->private;

	if (depth == -1) {
		CHECK(!w->vma);
		c->holes_novma++;
		c->hole_bytes += next - addr;
	}
	return 0;
}

static int c_test(uint64_t addr, uint64_t next, struct mm_walk *w)
{
	struct counts *c = w->private;

	(void)next;
	c->tests++;
	return w->vma->vm_start == c->skip_start && addr == c->skip_start;
}

static int c_pre(uint64_t start, uint64_t end, struct mm_walk *w)
{
	struct counts *c = w->private;

	CHECK(start >= w->vma->vm_start && end <= w->vma->vm_end);
	c->pre++;
	return 0;
}

static void c_post(struct mm_walk *w)
{
	((struct counts *)w->private)->post++;
}

static const struct mm_walk_ops count_ops = {
	.pte_entry = c_pte, .pmd_entry = c_pmd, .pte_hole = c_hole,
	.test_walk = c_test, .pre_vma = c_pre, .post_vma = c_post,
};

static int walk(struct umm_mm *mm, uint64_t s, uint64_t e, struct counts *c)
{
	int err;

	c->in_order = true;
	mmap_read_lock(mm);
	err = walk_page_range(mm, s, e, &count_ops, c);
	mmap_read_unlock(mm);
	return err;
}

/*
 * Three VMAs with holes between them (different rights, so no merge),
 * some pages of each written: the walk sees each written page once, in
 * order, and every hole.
 */
static void test_walk_page_range(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	int64_t base;
	uint64_t a, b, d;
	struct counts c = { 0 };

	CHECK(mm);
	base = umm_mmap(mm, 0, 64 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	CHECK(base > 0);
	CHECK_EQ(umm_munmap(mm, (uint64_t)base, 64 << 20), 0);
	a = (uint64_t)base + (2 << 20);		/* 3 MiB, crosses PMDs */
	b = a + (4 << 20);			/* 16 pages */
	d = b + (8 << 20);			/* 4 pages */
	CHECK_EQ(umm_mmap(mm, a, 3 << 20, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)a);
	CHECK_EQ(umm_mmap(mm, b, 16 * P, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)b);
	CHECK_EQ(umm_mmap(mm, d, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)d);
	for (uint64_t off = 0; off < (3 << 20); off += 37 * P)
		CHECK_EQ(umm_write(mm, a + off, "x", 1), 1);	/* 21 pages */
	CHECK_EQ(umm_write(mm, d + 3 * P, "x", 1), 1);

	CHECK_EQ(walk(mm, (uint64_t)base, (uint64_t)base + (64 << 20), &c), 0);
	CHECK_EQ(c.present, 22);
	CHECK(c.in_order);
	CHECK_EQ(c.pre, 3);	/* b has no tables: pre and post all the same */
	CHECK_EQ(c.post, 3);
	CHECK_EQ(c.tests, 3);
	CHECK_EQ(c.holes_novma, 4);
	CHECK_EQ(c.hole_bytes, (64ull << 20) - (3 << 20) - 20 * P);
	/* every PTE of a's tables is visited: 2 MiB-aligned, 3 MiB = 2 tables */
	CHECK_EQ(c.ptes, (3 << 20) / P + 4);

	/* a VMA refused by test_walk is not walked, nor pre_vma'd */
	c = (struct counts){ .skip_start = a };
	CHECK_EQ(walk(mm, a, d + 4 * P, &c), 0);
	CHECK_EQ(c.present, 1);
	CHECK_EQ(c.pre, 2);
	/* ACTION_CONTINUE on every PMD: no PTE seen */
	c = (struct counts){ .continue_pmds = true };
	CHECK_EQ(walk(mm, a, d + 4 * P, &c), 0);
	CHECK_EQ(c.ptes, 0);
	CHECK(c.pmds >= 2);
	/* an error stops the walk at once, post_vma still pairs pre_vma */
	c = (struct counts){ .fail_at = a + 37 * P };
	CHECK_EQ(walk(mm, a, d + 4 * P, &c), -E2BIG);
	CHECK_EQ(c.present, 2);
	CHECK_EQ(c.pre, 1);
	CHECK_EQ(c.post, 1);
	/* bad ranges */
	mmap_read_lock(mm);
	CHECK_EQ(walk_page_range(mm, a, a, &count_ops, &c), -EINVAL);
	CHECK_EQ(walk_page_range(mm, a + P, a, &count_ops, &c), -EINVAL);
	mmap_read_unlock(mm);
	umm_mm_destroy(mm);
}

static int count_mapping_pte(pte_t *pte, uint64_t addr, uint64_t next,
			     struct mm_walk *w)
{
	(void)addr;
	(void)next;
	*(uint64_t *)w->private += pte_present(ptep_get(pte));
	return 0;
}

static const struct mm_walk_ops mapping_ops = { .pte_entry = count_mapping_pte };

static bool bit(const unsigned long *bm, uint64_t i)
{
	return bm[i / (8 * sizeof(long))] >> (i % (8 * sizeof(long))) & 1;
}

/*
 * A file of 64 pages mapped shared in two mms (mm1: pages 0-63, mm2: pages
 * 16-47), pages written through both: the mapping walk and both helpers
 * see exactly those entries.
 */
static void test_mapping_dirty(void)
{
	struct umm_mm *m1 = umm_mm_create(NULL), *m2 = umm_mm_create(NULL);
	struct umm_file *f = umm_file_create("dirty", 64 * P, 0);
	unsigned long bm[1] = { 0 };
	uint64_t s = 0, e = 0, n = 0;
	int64_t a1, a2;
	char c;

	CHECK(m1 && m2 && f);
	a1 = umm_mmap(m1, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	a2 = umm_mmap(m2, 0, 32 * P, PROT_READ | PROT_WRITE, MAP_SHARED, f, 16 * P);
	CHECK(a1 > 0 && a2 > 0);
	CHECK_EQ(umm_write(m1, (uint64_t)a1 + 3 * P, "a", 1), 1);	/* page 3 */
	CHECK_EQ(umm_write(m1, (uint64_t)a1 + 20 * P, "b", 1), 1);	/* page 20 */
	CHECK_EQ(umm_write(m2, (uint64_t)a2 + 4 * P, "c", 1), 1);	/* page 20 */
	CHECK_EQ(umm_write(m2, (uint64_t)a2 + 30 * P, "d", 1), 1);	/* page 46 */
	CHECK_EQ(umm_read(m1, (uint64_t)a1 + 50 * P, &c, 1), 1);	/* page 50, read */

	down_read(&f->f_mapping->i_mmap_rwsem);
	CHECK_EQ(walk_page_mapping(f->f_mapping, 0, 64, &mapping_ops, &n), 0);
	CHECK_EQ(n, 5);
	n = 0;
	CHECK_EQ(walk_page_mapping(f->f_mapping, 18, 4, &mapping_ops, &n), 0);	/* 18-21 */
	CHECK_EQ(n, 2);
	CHECK_EQ(walk_page_mapping(f->f_mapping, 0, 0, &mapping_ops, &n), -EINVAL);
	up_read(&f->f_mapping->i_mmap_rwsem);

	/* clean and record: 4 dirty entries, 3 file pages */
	CHECK_EQ(umm_clean_record_shared_mapping_range(f, 0, 64, 0, bm, &s, &e), 4);
	CHECK_EQ(bm[0], (1ul << 3) | (1ul << 20) | (1ul << 46));
	CHECK_EQ(s, 3);
	CHECK_EQ(e, 47);
	CHECK_EQ(umm_clean_record_shared_mapping_range(f, 0, 64, 0, bm, &s, &e), 0);
	/* a write after the clean dirties again (its translation was dropped) */
	bm[0] = 0;
	s = e = 0;
	CHECK_EQ(umm_write(m1, (uint64_t)a1 + 3 * P, "e", 1), 1);
	CHECK_EQ(umm_clean_record_shared_mapping_range(f, 0, 64, 0, bm, &s, &e), 1);
	CHECK_EQ(bm[0], 1ul << 3);
	CHECK_EQ(s, 3);
	CHECK_EQ(e, 4);
	/* a bitmap that starts at page 16: bit = page - 16; a range in m2 only */
	bm[0] = 0;
	s = e = 0;
	CHECK_EQ(umm_write(m2, (uint64_t)a2 + 31 * P, "f", 1), 1);	/* page 47 */
	CHECK_EQ(umm_clean_record_shared_mapping_range(f, 40, 8, 16, bm, &s, &e), 1);
	CHECK_EQ(bm[0], 1ul << 31);
	CHECK_EQ(s, 31);
	CHECK_EQ(e, 32);
	CHECK_EQ(umm_clean_record_shared_mapping_range(f, 8, 8, 16, bm, &s, &e), 0);
	CHECK_EQ(umm_clean_record_shared_mapping_range(NULL, 0, 8, 0, bm, &s, &e), 0);

	/*
	 * write-protect: every writable entry, once - 5 written, and page 50
	 * that was only read: a memory-backed file needs no write-notify, so
	 * its read faults map the page writable (shmem's, too)
	 */
	CHECK_EQ(umm_wp_shared_mapping_range(f, 0, 64), 6);
	CHECK_EQ(umm_wp_shared_mapping_range(f, 0, 64), 0);
	/* the next write faults the entry writable again, and reads back */
	CHECK_EQ(umm_write(m2, (uint64_t)a2 + 4 * P, "g", 1), 1);
	CHECK_EQ(umm_read(m1, (uint64_t)a1 + 20 * P, &c, 1), 1);
	CHECK_EQ(c, 'g');
	CHECK_EQ(umm_wp_shared_mapping_range(f, 0, 64), 1);
	CHECK_EQ(umm_wp_shared_mapping_range(f, 0, 0), 0);
	CHECK_EQ(umm_wp_shared_mapping_range(NULL, 0, 64), 0);
	CHECK(bit(bm, 31));

	umm_mm_destroy(m1);
	umm_mm_destroy(m2);
	umm_file_put(f);
}

/*
 * A private mapping of the file met first in i_mmap is skipped (test_walk
 * says 1), and the shared one after it is still tracked.
 */
static void test_private_mapping_skipped(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	struct umm_file *f = umm_file_create("cow", 8 * P, 0);
	int64_t priv, shr;

	CHECK(mm && f);
	priv = umm_mmap(mm, 0, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	shr = umm_mmap(mm, 0, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, f, 4 * P);
	CHECK(priv > 0 && shr > 0);
	CHECK_EQ(umm_write(mm, (uint64_t)shr, "x", 1), 1);
	CHECK_EQ(umm_write(mm, (uint64_t)priv, "y", 1), 1);	/* a private copy */
	CHECK_EQ(umm_wp_shared_mapping_range(f, 0, 8), 1);	/* priv first */
	CHECK_EQ(umm_write(mm, (uint64_t)shr, "z", 1), 1);
	CHECK_EQ(umm_wp_shared_mapping_range(f, 0, 8), 1);
	umm_mm_destroy(mm);
	umm_file_put(f);
}

int main(void)
{
	RUN(test_walk_page_range);
	RUN(test_mapping_dirty);
	RUN(test_private_mapping_skipped);
	return test_done();
}
