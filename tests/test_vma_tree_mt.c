// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vma_tree_mt - lockless readers against a writer that keeps known
 * invariants with every vma_tree_replace(): a torn update (part of a
 * write visible, part not) or a node or entry freed too early breaks one.
 *
 * The writer holds a mutex as mmap_lock. Every entry records its own
 * range, so a reader can check any entry it reaches. Region 1 is always
 * exactly tiled by entries (splits and merges of neighbours); region 2 is
 * tiled except for one free hole of HOLE pages that the writer moves about
 * (so a gap of HOLE pages always exists there and a larger one never
 * does); region 3 sees plain inserts and erases (mmap/munmap); region 4
 * only writes stored in place (a page between two fixed entries filled,
 * emptied or its entry replaced); region 5, the top of the key space,
 * grows upwards one entry at a time, as an emulator maps its guest (stores
 * in place at the end of a leaf, vt_store_append), and is emptied at once
 * when full; region 6, in a one-leaf tree of its own, sees an append,
 * then an exact fill of the gap the append shortened, then one erase of
 * both (a reader that loaded the leaf's count before the append must not
 * find the fill over the appended entry); a fixed background of entries makes the tree several
 * levels deep. Replaced
 * entries are freed with call_rcu, as VMAs are. Readers also look through
 * cursors, and the writer keeps one across its writes.
 */
#include <errno.h>
#include <pthread.h>
#include "test.h"
#include "rcu.h"
#include "vma_tree.h"

#define PG		4096ull
#define R1		(1ull << 30)
#define R1_PAGES	2048ull
#define R2		(1ull << 34)
#define R2_PAGES	64ull
#define HOLE		3ull
#define R3		(1ull << 36)
#define R3_SLOTS	256ull
#define R4		(1ull << 38)
#define R4_SLOTS	512ull
#define R5		(1ull << 44)
#define R5_SLOTS	400ull
#define R6		(1ull << 42)	/* in tree6: +PG fixed, +10PG (B), +2PG (C) */
#define BG		(1ull << 40)
#define BG_ENTRIES	20000ull
#define READERS		3
#define LIVE		0x11feull
#define DEAD		0xdeadull

struct ent {
	uint64_t start, end;	/* immutable once published */
	uint64_t magic;		/* LIVE until the RCU callback */
	struct rcu_head rcu;
};

static struct vma_tree tree;
static struct vma_tree tree6;		/* region 6: one leaf */
static pthread_mutex_t mmap_lock = PTHREAD_MUTEX_INITIALIZER;
static bool stop;			/* atomic */
static uint64_t reads[READERS];		/* per reader, its own */
static uint64_t writes;			/* the writer's */

static struct ent *ent_new(uint64_t start, uint64_t end)
{
	struct ent *e = malloc(sizeof(*e));

	if (!e)
		abort();
	e->start = start;
	e->end = end;
	e->magic = LIVE;
	return e;
}

static void ent_free_rcu(struct rcu_head *head)
{
	struct ent *e = container_of(head, struct ent, rcu);

	e->magic = DEAD;
	free(e);
}

/* An entry the tree reported as [s, e), holding @addr. */
static bool ent_ok(const struct ent *x, uint64_t s, uint64_t e)
{
	return x && x->magic == LIVE && x->start == s && x->end == e;
}

/* --- the writer --- */

/* Cut [s, e) (whole pages) into @m pieces at random page boundaries. */
static size_t tile(uint64_t *seed, uint64_t s, uint64_t e, size_t m,
		   struct vma_tree_range *out)
{
	uint64_t pages = (e - s) / PG, pos = s;
	size_t i;

	if (m > pages)
		m = pages;
	for (i = 0; i < m; i++) {
		uint64_t left = (e - pos) / PG, len;

		len = i == m - 1 ? left : 1 + xrand(seed) % (left - (m - 1 - i));
		out[i] = (struct vma_tree_range){ pos, pos + len * PG, NULL };
		out[i].entry = ent_new(pos, pos + len * PG);
		pos += len * PG;
	}
	return m;
}

static void retire(struct ent **old, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		call_rcu(&old[i]->rcu, ent_free_rcu);
}

/*
 * Region 1: replace 1-4 neighbouring entries by 1-4 new ones, found
 * through the writer's cursor @c, which lives across its writes.
 */
static void write_r1(uint64_t *seed, struct vma_tree_cursor *c)
{
	struct vma_tree_range r[4];
	struct ent *old[4], *x;
	uint64_t s, e, a = R1 + (xrand(seed) % R1_PAGES) * PG;
	size_t k = 1 + xrand(seed) % 4, n = 0, m;

	x = vma_tree_cursor_find(c, a, &s, &e);
	BUG_ON(!ent_ok(x, s, e));
	old[n++] = x;
	while (n < k && e < R1 + R1_PAGES * PG) {
		x = vma_tree_cursor_find_next(c, e, NULL, &e);
		old[n++] = x;
	}
	m = tile(seed, s, e, 1 + xrand(seed) % 4, r);
	CHECK_EQ(vma_tree_replace(&tree, s, e, r, m), 0);
	retire(old, n);
}

/* Region 2: re-tile it all, the hole somewhere new. */
static void write_r2(uint64_t *seed)
{
	struct vma_tree_range r[16];
	struct ent *old[R2_PAGES];
	struct vma_tree_iter it;
	uint64_t h = R2 + (xrand(seed) % (R2_PAGES - HOLE + 1)) * PG;
	uint64_t end = R2 + R2_PAGES * PG;
	size_t n = 0, m = 0;
	struct ent *x;

	vma_tree_iter_init(&it, &tree, R2);
	while ((x = vma_tree_iter_next(&it, NULL, NULL)) && x->start < end)
		old[n++] = x;
	if (h > R2)
		m = tile(seed, R2, h, 1 + xrand(seed) % 6, r);
	if (h + HOLE * PG < end)
		m += tile(seed, h + HOLE * PG, end, 1 + xrand(seed) % 6, r + m);
	CHECK_EQ(vma_tree_replace(&tree, R2, end, r, m), 0);
	retire(old, n);
}

/* Region 3: mmap or munmap one slot. */
static void write_r3(uint64_t *seed)
{
	uint64_t s = R3 + (xrand(seed) % R3_SLOTS) * 4 * PG, e = s + 2 * PG;
	struct ent *x = vma_tree_find(&tree, s, NULL, NULL);

	if (x) {
		CHECK_EQ(vma_tree_erase(&tree, s, e), 0);
		retire(&x, 1);
		return;
	}
	x = ent_new(s, e);
	CHECK_EQ(vma_tree_insert(&tree, s, e, x), 0);
}

/* Region 4: page 3j + 1 between the fixed pages 3j and 3j + 2, in place. */
static void write_r4(uint64_t *seed)
{
	uint64_t s = R4 + (3 * (xrand(seed) % R4_SLOTS) + 1) * PG, e = s + PG;
	struct ent *x = vma_tree_find(&tree, s, NULL, NULL), *y;
	struct vma_tree_range r;

	if (x && xrand(seed) % 2) {
		CHECK_EQ(vma_tree_erase(&tree, s, e), 0);
		retire(&x, 1);
		return;
	}
	y = ent_new(s, e);
	r = (struct vma_tree_range){ s, e, y };
	CHECK_EQ(x ? vma_tree_replace(&tree, s, e, &r, 1) :
		     vma_tree_insert(&tree, s, e, y), 0);
	if (x)
		retire(&x, 1);
}

/*
 * Region 5: entry j on page 2j + 1, added in order; when all are there,
 * one erase takes them away and it starts again.
 */
static uint64_t r5_nr;		/* the writer's: entries in region 5 */

static void write_r5(void)
{
	uint64_t s = R5 + (2 * r5_nr + 1) * PG, end = R5 + 2 * R5_SLOTS * PG;
	struct ent *old[R5_SLOTS];
	struct vma_tree_iter it;
	struct ent *x;
	size_t n = 0;

	if (r5_nr < R5_SLOTS) {
		CHECK_EQ(vma_tree_insert(&tree, s, s + PG, ent_new(s, s + PG)), 0);
		r5_nr++;
		return;
	}
	vma_tree_iter_init(&it, &tree, R5);
	while ((x = vma_tree_iter_next(&it, NULL, NULL)))
		old[n++] = x;
	CHECK_EQ(n, R5_SLOTS);
	CHECK_EQ(vma_tree_erase(&tree, R5, end), 0);
	retire(old, n);
	r5_nr = 0;
}

/*
 * Region 6, one step per call: B = [R6 + 10PG, R6 + 11PG) into the gap that
 * ends its leaf (an append in place), then C = [R6 + 2PG, R6 + 10PG),
 * exactly the gap B shortened, then both erased. A fixed entry at
 * [R6 + PG, R6 + 2PG) is all tree6 holds besides: its gap above ends the
 * one leaf, so B always goes in place.
 */
static unsigned int r6_step;	/* the writer's */
static struct ent *r6_b, *r6_c;	/* the writer's */

static void write_r6(void)
{
	struct ent *old[2];

	switch (r6_step++ % 3) {
	case 0:
		r6_b = ent_new(R6 + 10 * PG, R6 + 11 * PG);
		CHECK_EQ(vma_tree_insert(&tree6, r6_b->start, r6_b->end, r6_b), 0);
		break;
	case 1:
		r6_c = ent_new(R6 + 2 * PG, R6 + 10 * PG);
		CHECK_EQ(vma_tree_insert(&tree6, r6_c->start, r6_c->end, r6_c), 0);
		break;
	default:
		CHECK_EQ(vma_tree_erase(&tree6, R6 + 2 * PG, R6 + 11 * PG), 0);
		old[0] = r6_b;
		old[1] = r6_c;
		retire(old, 2);
		break;
	}
}

static void *writer(void *arg)
{
	uint64_t seed = 0x5eed ^ (uintptr_t)arg;
	struct vma_tree_cursor c;

	vma_tree_cursor_init(&c, &tree);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int op = xrand(&seed) % 8;

		pthread_mutex_lock(&mmap_lock);
		if (op < 2)
			write_r1(&seed, &c);
		else if (op == 2)
			write_r2(&seed);
		else if (op == 3)
			write_r3(&seed);
		else if (op == 4)
			write_r4(&seed);
		else if (op == 5)
			write_r5();
		else
			write_r6();
		pthread_mutex_unlock(&mmap_lock);
		writes++;
	}
	return NULL;
}

/* --- the readers --- */

static void read_find(uint64_t *seed)
{
	uint64_t a = R1 + xrand(seed) % (R1_PAGES * PG), s = 0, e = 0;
	struct ent *x = vma_tree_find(&tree, a, &s, &e);

	CHECK(ent_ok(x, s, e) && s <= a && a < e);
	x = vma_tree_find_next(&tree, R1 - 1, &s, &e);
	CHECK(ent_ok(x, s, e) && s == R1);
	x = vma_tree_find_prev(&tree, R1 + R1_PAGES * PG, &s, &e);
	CHECK(ent_ok(x, s, e) && e == R1 + R1_PAGES * PG);
	a = R3 + xrand(seed) % (R3_SLOTS * 4 * PG);
	x = vma_tree_find(&tree, a, &s, &e);
	CHECK(!x || (ent_ok(x, s, e) && s <= a && a < e));
}

/*
 * Through a cursor: each lookup sees one version, so every entry it gives
 * is live, holds what it should, and a walk up region 1 moves on without
 * a gap (an entry starts where the last one ended, or before: it may be
 * from a later version that merged the two).
 */
static void read_cursor(uint64_t *seed)
{
	uint64_t a = R1 + xrand(seed) % (R1_PAGES * PG), s = 0, e = 0;
	uint64_t pos, end = R1 + R1_PAGES * PG;
	struct vma_tree_cursor c;
	struct ent *x;
	int k;

	vma_tree_cursor_init(&c, &tree);
	x = vma_tree_cursor_find(&c, a, &s, &e);
	CHECK(ent_ok(x, s, e) && s <= a && a < e);
	a = s;
	x = vma_tree_cursor_find_prev(&c, a, &s, &e);
	CHECK(a == R1 ? !x : ent_ok(x, s, e) && s < a);
	for (pos = R1 + (xrand(seed) % R1_PAGES) * PG, k = 0;
	     pos < end && k < 64; k++, pos = e) {
		x = vma_tree_cursor_find_next(&c, pos, &s, &e);
		CHECK(ent_ok(x, s, e) && s <= pos && e > pos);
	}
	for (pos = R1 + (xrand(seed) % R1_PAGES) * PG, k = 0;
	     pos > R1 && k < 64; k++, pos = s) {
		x = vma_tree_cursor_find_prev(&c, pos, &s, &e);
		CHECK(ent_ok(x, s, e) && s < pos && e >= pos);
	}
	a = R3 + xrand(seed) % (R3_SLOTS * 4 * PG);
	x = vma_tree_cursor_find(&c, a, &s, &e);
	CHECK(!x || (ent_ok(x, s, e) && s <= a && a < e));
}

/*
 * Region 4: the fixed pages are always found; a walk sees each middle
 * page's entry or none, every entry live and where it should be.
 */
static void read_r4(uint64_t *seed)
{
	uint64_t j = xrand(seed) % R4_SLOTS, a = R4 + 3 * j * PG, s, e, pos;
	struct vma_tree_iter it;
	struct ent *x;
	int k;

	x = vma_tree_find(&tree, a + (xrand(seed) % 3) * PG, &s, &e);
	CHECK(!x || (ent_ok(x, s, e) && e - s == PG));
	x = vma_tree_find(&tree, a + 2 * PG, &s, &e);
	CHECK(ent_ok(x, s, e));
	vma_tree_iter_init(&it, &tree, a);
	for (pos = a, k = 0; k < 32 && (x = vma_tree_iter_next(&it, &s, &e)) &&
	     s < R4 + 3 * R4_SLOTS * PG; k++) {
		CHECK(ent_ok(x, s, e) && e - s == PG);
		/* nothing skipped but an empty middle page */
		CHECK(s == pos || (s - pos == PG && (pos - R4) / PG % 3 == 1));
		pos = e;
	}
}

/*
 * Region 5 holds entries 0 to m - 1 for some m, none missing: a reader
 * that saw a leaf before an append and one that saw it after both see a
 * whole layout, and the walk sees each leaf as one of them. A lookup
 * finds a page's entry with its own bounds, or nothing.
 */
static void read_r5(uint64_t *seed)
{
	uint64_t a = R5 + xrand(seed) % (2 * R5_SLOTS * PG), s, e, pos = R5;
	struct vma_tree_iter it;
	struct ent *x;

	x = vma_tree_find(&tree, a, &s, &e);
	CHECK(!x || (ent_ok(x, s, e) && e - s == PG && (s - R5) / PG % 2 == 1 &&
		     s <= a && a < e));
	vma_tree_iter_init(&it, &tree, R5);
	while ((x = vma_tree_iter_next(&it, &s, &e))) {
		CHECK(ent_ok(x, s, e) && s == pos + PG && e == s + PG);
		pos = e;
	}
	CHECK(pos <= R5 + 2 * R5_SLOTS * PG);
	x = vma_tree_find_prev(&tree, VMA_TREE_KEY_MAX, &s, &e);
	CHECK(ent_ok(x, s, e));
}

/* Region 6: B's page holds B, with B's bounds, or nothing. */
static void read_r6(void)
{
	uint64_t s, e;
	struct ent *x = vma_tree_find(&tree6, R6 + 10 * PG + 5, &s, &e);

	CHECK(!x || (ent_ok(x, s, e) && s == R6 + 10 * PG && e == s + PG));
	x = vma_tree_find(&tree6, R6 + PG, &s, &e);
	CHECK(ent_ok(x, s, e) && s == R6 + PG && e == R6 + 2 * PG);
}

/* Region 1 is tiled with no gap and no overlap, in any one snapshot. */
static void read_walk_r1(void)
{
	uint64_t pos = R1, s, e, end = R1 + R1_PAGES * PG;
	struct vma_tree_iter it;
	struct ent *x;

	vma_tree_iter_init(&it, &tree, R1);
	while (pos < end && (x = vma_tree_iter_next(&it, &s, &e))) {
		CHECK(ent_ok(x, s, e) && s == pos);
		pos = e;
	}
	CHECK_EQ(pos, end);
}

/* Region 2 has exactly one hole, of HOLE pages. */
static void read_walk_r2(void)
{
	uint64_t pos = R2, s, e, end = R2 + R2_PAGES * PG, holes = 0;
	struct vma_tree_iter it;
	struct ent *x;

	vma_tree_iter_init(&it, &tree, R2);
	while ((x = vma_tree_iter_next(&it, &s, &e)) && s < end) {
		CHECK(ent_ok(x, s, e));
		if (s != pos) {
			CHECK_EQ(s - pos, HOLE * PG);
			holes++;
		}
		pos = e;
	}
	if (pos != end) {
		CHECK_EQ(end - pos, HOLE * PG);
		holes++;
	}
	CHECK_EQ(holes, 1);
}

static void read_gaps(void)
{
	uint64_t end = R2 + R2_PAGES * PG, a = 0;

	CHECK_EQ(vma_tree_gap_top_down(&tree, R2, end, HOLE * PG, 0, &a), 0);
	CHECK(a >= R2 && a + HOLE * PG <= end && !(a % PG));
	CHECK_EQ(vma_tree_gap_bottom_up(&tree, R2, end, HOLE * PG, 0, &a), 0);
	CHECK(a >= R2 && a + HOLE * PG <= end && !(a % PG));
	CHECK_EQ(vma_tree_gap_top_down(&tree, R2, end, (HOLE + 1) * PG, 0, &a),
		 -ENOMEM);
	CHECK_EQ(vma_tree_gap_bottom_up(&tree, R1, R1 + R1_PAGES * PG, 1, 0, &a),
		 -ENOMEM);
	/* Below region 1 everything is free from 0. */
	CHECK_EQ(vma_tree_gap_bottom_up(&tree, 0, R1, PG, 0, &a), 0);
	CHECK_EQ(a, 0);
}

static void *reader(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	uint64_t seed = 0x1234567 + id * 7919;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		rcu_read_lock();
		switch (xrand(&seed) % 9) {
		case 0:
			read_find(&seed);
			break;
		case 6:
			read_r5(&seed);
			break;
		case 7:
		case 8:
			read_r6();
			break;
		case 5:
			read_r4(&seed);
			break;
		case 4:
			read_cursor(&seed);
			break;
		case 1:
			read_walk_r1();
			break;
		case 2:
			read_walk_r2();
			break;
		default:
			read_gaps();
			break;
		}
		rcu_read_unlock();
		reads[id]++;
	}
	return NULL;
}

static void setup(void)
{
	struct vma_tree_range r[16];
	uint64_t seed = 1, i;
	size_t m;

	vma_tree_init(&tree);
	for (i = 0; i < BG_ENTRIES; i++) {
		uint64_t s = BG + i * 3 * PG;

		CHECK_EQ(vma_tree_insert(&tree, s, s + 2 * PG,
					 ent_new(s, s + 2 * PG)), 0);
	}
	for (i = 0; i < R1_PAGES; i += 8) {
		m = tile(&seed, R1 + i * PG, R1 + (i + 8) * PG, 2, r);
		CHECK_EQ(vma_tree_replace(&tree, r[0].start, r[m - 1].end, r, m), 0);
	}
	for (i = 0; i < R4_SLOTS; i++) {
		uint64_t s = R4 + 3 * i * PG;

		CHECK_EQ(vma_tree_insert(&tree, s, s + PG, ent_new(s, s + PG)), 0);
		s += 2 * PG;
		CHECK_EQ(vma_tree_insert(&tree, s, s + PG, ent_new(s, s + PG)), 0);
	}
	m = tile(&seed, R2 + HOLE * PG, R2 + R2_PAGES * PG, 8, r);
	CHECK_EQ(vma_tree_replace(&tree, R2, R2 + R2_PAGES * PG, r, m), 0);
	CHECK_EQ(vma_tree_validate(&tree), 0);
	vma_tree_init(&tree6);
	CHECK_EQ(vma_tree_insert(&tree6, R6 + PG, R6 + 2 * PG,
				 ent_new(R6 + PG, R6 + 2 * PG)), 0);
}

static void teardown(void)
{
	struct vma_tree_iter it;
	struct ent *x;

	CHECK_EQ(vma_tree_validate(&tree), 0);
	CHECK_EQ(vma_tree_validate(&tree6), 0);
	vma_tree_iter_init(&it, &tree, 0);
	while ((x = vma_tree_iter_next(&it, NULL, NULL)))
		call_rcu(&x->rcu, ent_free_rcu);
	vma_tree_destroy(&tree);
	vma_tree_iter_init(&it, &tree6, 0);
	while ((x = vma_tree_iter_next(&it, NULL, NULL)))
		call_rcu(&x->rcu, ent_free_rcu);
	vma_tree_destroy(&tree6);
	vma_tree_barrier();
	CHECK_EQ(vma_tree_nodes_live(), 0);
}

static void test_readers_see_whole_writes(void)
{
	void *(*const fns[READERS + 1])(void *) = { writer, reader, reader, reader };
	void *const args[READERS + 1] = { NULL, (void *)0, (void *)1, (void *)2 };
	uint64_t total = 0;
	int i;

	setup();
	stress_run(fns, args, READERS + 1, 5, &stop);
	for (i = 0; i < READERS; i++)
		total += reads[i];
	printf("     %lu writes, %lu reads\n", (unsigned long)writes,
	       (unsigned long)total);
	CHECK(writes > 0 && total > 0);
	teardown();
}

int main(void)
{
	umm_rcu_init();
	RUN(test_readers_see_whole_writes);
	return test_done();
}
