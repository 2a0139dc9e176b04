// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vma_tree - the VMA tree against a plain sorted array: random
 * inserts, erases and replaces (splits, merges, bulk removals), every
 * query (plain and through a cursor) compared with the array's answer,
 * the tree's own invariants checked after each batch; a million entries;
 * runs of inserts pack nodes full; every error leaves the tree as it
 * was; every node comes back once the grace periods are over.
 */
#include <errno.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>
#include "test.h"
#include "rcu.h"
#include "vma_tree.h"

#define PG		4096ull
#define NPAGES		30000ull	/* the random universe, in pages */
#define TOP		(VMA_TREE_KEY_MAX - NPAGES * PG)	/* a second one */

/* --- the reference model: entries sorted by start --- */

struct ref {
	uint64_t start, end;
	void *entry;
};

static struct ref *model;
static size_t model_nr, model_cap;
static uintptr_t next_id = 1;

static void *new_entry(void)
{
	return (void *)(next_id++ << 4);
}

/* Index of the first entry that ends after @addr. */
static size_t ref_next(uint64_t addr)
{
	size_t lo = 0, hi = model_nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (model[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* -EINVAL when an entry straddles start or end, as the tree says. */
static int ref_check(uint64_t start, uint64_t end)
{
	size_t i = ref_next(start);

	if (i < model_nr && model[i].start < start)
		return -EINVAL;
	i = ref_next(end - 1);
	if (i < model_nr && model[i].start < end && model[i].end > end)
		return -EINVAL;
	return 0;
}

static int ref_replace(uint64_t start, uint64_t end,
		       const struct vma_tree_range *new, size_t nr)
{
	size_t first = ref_next(start), last = first, i;

	if (first < model_nr && model[first].start < start &&
	    model[first].end > start)
		return -EINVAL;
	while (last < model_nr && model[last].start < end)
		last++;
	if (last > first && model[last - 1].end > end)
		return -EINVAL;
	if (model_nr - (last - first) + nr > model_cap) {
		model_cap = 2 * (model_nr + nr) + 16;
		model = realloc(model, model_cap * sizeof(*model));
		if (!model)
			abort();
	}
	memmove(&model[first + nr], &model[last],
		(model_nr - last) * sizeof(*model));
	for (i = 0; i < nr; i++)
		model[first + i] = (struct ref){ new[i].start, new[i].end,
						 new[i].entry };
	model_nr = model_nr - (last - first) + nr;
	return 0;
}

/* The kernel's rule: a gap of size + align_mask inside [low, high). */
static int ref_gap(bool top_down, uint64_t low, uint64_t high, uint64_t size,
		   uint64_t mask, uint64_t *addr)
{
	uint64_t len = size + mask;
	size_t n = model_nr + 1, k;

	if (len < size || low >= high || high - low < len)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		size_t i = top_down ? n - 1 - k : k;
		uint64_t s = i ? model[i - 1].end : 0;
		uint64_t e = i < model_nr ? model[i].start : VMA_TREE_KEY_MAX;

		if (s < low)
			s = low;
		if (e > high)
			e = high;
		if (e <= s || e - s < len)
			continue;
		*addr = top_down ? (e - size) & ~mask : (s + mask) & ~mask;
		return 0;
	}
	return -ENOMEM;
}

/* --- comparing the tree with the model --- */

static bool same_as_model(struct vma_tree *t)
{
	struct vma_tree_iter it;
	uint64_t s, e;
	size_t i = 0;
	bool ok = vma_tree_count(t) == model_nr;
	void *x;

	rcu_read_lock();
	vma_tree_iter_init(&it, t, 0);
	while ((x = vma_tree_iter_next(&it, &s, &e))) {
		if (i >= model_nr || x != model[i].entry ||
		    s != model[i].start || e != model[i].end)
			ok = false;
		i++;
	}
	rcu_read_unlock();
	return ok && i == model_nr;
}

static void check_shape(struct vma_tree *t)
{
	double n = (double)model_nr * 2 + 1;

	CHECK_EQ(vma_tree_validate(t), 0);
	/* Leaves hold >= 7 slots, internal nodes >= 5 children. */
	CHECK(t->height <= 2 + log(n / 7 + 1) / log(5));
}

static uint64_t rand_addr(uint64_t *seed)
{
	uint64_t base = xrand(seed) % 16 ? 0 : TOP;

	return base + (xrand(seed) % NPAGES) * PG + (xrand(seed) % 4 ? 0 : 17);
}

static void check_queries(struct vma_tree *t, uint64_t *seed)
{
	uint64_t a = rand_addr(seed), s = 0, e = 0, x0;
	size_t i = ref_next(a);
	void *x;

	rcu_read_lock();
	x = vma_tree_find(t, a, &s, &e);
	if (i < model_nr && model[i].start <= a)
		CHECK(x == model[i].entry && s == model[i].start &&
		      e == model[i].end);
	else
		CHECK(!x);

	x = vma_tree_find_next(t, a, &s, &e);
	if (i < model_nr)
		CHECK(x == model[i].entry && s == model[i].start);
	else
		CHECK(!x);

	/* The last entry starting below a. */
	i = ref_next(a);
	if (i < model_nr && model[i].start < a)
		i++;
	x = vma_tree_find_prev(t, a, &s, &e);
	if (i)
		CHECK(x == model[i - 1].entry && e == model[i - 1].end);
	else
		CHECK(!x);

	for (int td = 0; td < 2; td++) {
		uint64_t low = rand_addr(seed), high = rand_addr(seed);
		uint64_t size = (1 + xrand(seed) % 128) * PG;
		uint64_t mask = xrand(seed) % 3 ? 0 : (PG << (xrand(seed) % 5)) - 1;
		uint64_t got = 1, want = 2;
		int r1, r2;

		if (low > high) {
			uint64_t tmp = low;

			low = high;
			high = tmp;
		}
		if (xrand(seed) % 8 == 0)
			high = VMA_TREE_KEY_MAX;
		if (xrand(seed) % 8 == 0)
			low = 0;
		r1 = td ? vma_tree_gap_top_down(t, low, high, size, mask, &got)
			: vma_tree_gap_bottom_up(t, low, high, size, mask, &got);
		r2 = ref_gap(td, low, high, size, mask, &want);
		CHECK_EQ(r1, r2);
		if (!r1 && !r2)
			CHECK_EQ(got, want);
	}

	/* A walk from a random address. */
	{
		struct vma_tree_iter it;
		int k = 0;

		i = ref_next(a);
		vma_tree_iter_init(&it, t, a);
		while (k++ < 20 && (x = vma_tree_iter_next(&it, &s, &x0))) {
			CHECK(i < model_nr && x == model[i].entry &&
			      s == model[i].start && x0 == model[i].end);
			i++;
		}
		if (k <= 20)
			CHECK_EQ(i, model_nr);
	}
	rcu_read_unlock();
}

/*
 * Lookups through @c against the model: runs of nearby keys (what a
 * cursor is for), jumps anywhere, walks up and down each step from the
 * last. @c lives across the test's writes, so it must also notice every
 * new version and start again from the root.
 */
static void check_cursor(struct vma_tree_cursor *c, uint64_t *seed)
{
	uint64_t a = rand_addr(seed), pos, s = 0, e = 0;
	size_t i;
	void *x;
	int k;

	for (k = 0; k < 8; k++) {
		if (k && xrand(seed) % 4)
			a += (xrand(seed) % 64) * PG - 32 * PG;
		else if (k)
			a = rand_addr(seed);
		i = ref_next(a);
		x = vma_tree_cursor_find(c, a, &s, &e);
		if (i < model_nr && model[i].start <= a)
			CHECK(x == model[i].entry && s == model[i].start &&
			      e == model[i].end);
		else
			CHECK(!x);
		x = vma_tree_cursor_find_next(c, a, &s, &e);
		if (i < model_nr)
			CHECK(x == model[i].entry && s == model[i].start &&
			      e == model[i].end);
		else
			CHECK(!x);
		if (i < model_nr && model[i].start < a)
			i++;
		x = vma_tree_cursor_find_prev(c, a, &s, &e);
		if (i)
			CHECK(x == model[i - 1].entry &&
			      s == model[i - 1].start && e == model[i - 1].end);
		else
			CHECK(!x);
	}
	/* up from a, each step from the last */
	i = ref_next(a);
	for (pos = a, k = 0; k < 20; k++, i++) {
		x = vma_tree_cursor_find_next(c, pos, &s, &e);
		if (i >= model_nr) {
			CHECK(!x);
			break;
		}
		CHECK(x == model[i].entry && s == model[i].start &&
		      e == model[i].end);
		pos = e;
	}
	/* and down */
	i = ref_next(a);
	if (i < model_nr && model[i].start < a)
		i++;
	for (pos = a, k = 0; k < 20; k++, i--) {
		x = vma_tree_cursor_find_prev(c, pos, &s, &e);
		if (!i) {
			CHECK(!x);
			break;
		}
		CHECK(x == model[i - 1].entry && s == model[i - 1].start &&
		      e == model[i - 1].end);
		pos = s;
	}
}

/* --- random operations --- */

/* Random sorted pieces, some leaving holes, inside [s, e). */
static size_t rand_pieces(uint64_t *seed, uint64_t s, uint64_t e,
			  struct vma_tree_range *out, size_t max)
{
	uint64_t pages = (e - s) / PG, pos = 0;
	size_t nr = 0, want = xrand(seed) % (max + 1);

	while (nr < want && pos < pages) {
		uint64_t skip = xrand(seed) % 3 ? 0 : xrand(seed) % 4;
		uint64_t len = 1 + xrand(seed) % (pages / (want + 1) + 1);

		if (pos + skip >= pages)
			break;
		pos += skip;
		if (pos + len > pages || nr == want - 1)
			len = pages - pos;
		out[nr++] = (struct vma_tree_range){ s + pos * PG,
						     s + (pos + len) * PG,
						     new_entry() };
		pos += len;
	}
	return nr;
}

/* Widen [s, e) to whole entries, as a VMA-layer caller would. */
static void snap(uint64_t *s, uint64_t *e)
{
	size_t i = ref_next(*s);

	if (i < model_nr && model[i].start < *s)
		*s = model[i].start;
	i = ref_next(*e - 1);
	if (i < model_nr && model[i].start < *e)
		*e = model[i].end;
}

/*
 * A write of exactly one slot, the shapes vt_store_exact does in place:
 * an entry replaced over its own range, erased, or a gap filled exactly.
 */
static void exact_op(struct vma_tree *t, uint64_t *seed)
{
	size_t i = xrand(seed) % model_nr;
	struct vma_tree_range r = { model[i].start, model[i].end, new_entry() };
	int got;

	switch (xrand(seed) % 5) {
	case 0:
	case 1:
		got = vma_tree_replace(t, r.start, r.end, &r, 1);
		break;
	case 2:
		got = vma_tree_erase(t, r.start, r.end);
		if (!got)
			ref_replace(r.start, r.end, NULL, 0);
		CHECK_EQ(got, 0);
		return;
	default:
		if (i + 1 >= model_nr || model[i].end == model[i + 1].start)
			return;
		r.start = model[i].end;
		r.end = model[i + 1].start;
		got = xrand(seed) % 2 ? vma_tree_insert(t, r.start, r.end, r.entry) :
					vma_tree_replace(t, r.start, r.end, &r, 1);
		break;
	}
	CHECK_EQ(got, 0);
	if (!got)
		ref_replace(r.start, r.end, &r, 1);
}

static void random_op(struct vma_tree *t, uint64_t *seed)
{
	struct vma_tree_range r[8];
	uint64_t s = rand_addr(seed) & ~(PG - 1), e;
	unsigned int op = xrand(seed) % 10;
	size_t nr = 0;
	int want, got;

	if (model_nr && xrand(seed) % 5 == 0) {
		exact_op(t, seed);
		return;
	}

	e = s + (1 + xrand(seed) % (op < 5 ? 32 : 400)) * PG;
	if (xrand(seed) % 64 == 0)
		e = VMA_TREE_KEY_MAX;
	if (e < s)
		e = VMA_TREE_KEY_MAX;
	if (op < 5 && model_nr < 3000) {
		/* insert */
		size_t i = ref_next(s);
		void *x = new_entry();

		want = i < model_nr && model[i].start < e ? -EEXIST : 0;
		got = vma_tree_insert(t, s, e, x);
		CHECK_EQ(got, want);
		if (!want) {
			r[0] = (struct vma_tree_range){ s, e, x };
			ref_replace(s, e, r, 1);
		}
		return;
	}
	if (op < 7 && e != VMA_TREE_KEY_MAX) {
		/* a split or a merge of whole entries, maybe with holes */
		if (xrand(seed) % 8)
			snap(&s, &e);
		nr = rand_pieces(seed, s, e, r, ARRAY_SIZE(r));
	} else if (xrand(seed) % 4) {
		snap(&s, &e);
	}
	want = ref_check(s, e);
	got = vma_tree_replace(t, s, e, r, nr);
	CHECK_EQ(got, want);
	if (!want)
		ref_replace(s, e, r, nr);
}

static void test_random_model(void)
{
	struct vma_tree_cursor c;
	struct vma_tree t;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int i;

	model_nr = 0;
	vma_tree_init(&t);
	vma_tree_cursor_init(&c, &t);
	for (i = 1; i <= 100000; i++) {
		random_op(&t, &seed);
		check_queries(&t, &seed);
		/* one cursor through it all: the writer may keep one */
		if (i % 4 == 0)
			check_cursor(&c, &seed);
		if (i % 500 == 0) {
			CHECK(same_as_model(&t));
			check_shape(&t);
		}
	}
	CHECK(same_as_model(&t));
	check_shape(&t);
	vma_tree_destroy(&t);
}

/*
 * Bulk removals of every shape: prefixes, suffixes and middles of trees of
 * several heights, so that short leftovers lean on left and right
 * siblings at every level, or rise to the root.
 */
static void test_bulk_spans(void)
{
	static const uint64_t sizes[] = { 20, 200, 3000, 20000 };
	struct vma_tree_range r[8];
	struct vma_tree t;
	uint64_t seed = 99;

	for (size_t z = 0; z < ARRAY_SIZE(sizes); z++) {
		uint64_t n = sizes[z];

		for (int trial = 0; trial < 60; trial++) {
			uint64_t i = xrand(&seed) % n, j = xrand(&seed) % n, k;
			uint64_t s, e;
			size_t nr;

			model_nr = 0;
			vma_tree_init(&t);
			for (k = 0; k < n; k++) {
				r[0] = (struct vma_tree_range){ (3 * k + 1) * PG,
					(3 * k + 2 + k % 2) * PG, new_entry() };
				CHECK_EQ(vma_tree_insert(&t, r[0].start, r[0].end,
							 r[0].entry), 0);
				ref_replace(r[0].start, r[0].end, r, 1);
			}
			if (trial % 3 == 0)
				i = 0;
			if (trial % 3 == 1)
				j = n - 1;
			if (i > j) {
				k = i;
				i = j;
				j = k;
			}
			s = trial % 2 ? 3 * i * PG : (3 * i + 1) * PG;
			e = trial % 5 ? (3 * j + 3) * PG : (3 * j + 2 + j % 2) * PG;
			nr = trial % 4 ? 0 : rand_pieces(&seed, s, e, r, 3);
			CHECK_EQ(vma_tree_replace(&t, s, e, r, nr), 0);
			ref_replace(s, e, r, nr);
			CHECK(same_as_model(&t));
			check_shape(&t);
			vma_tree_destroy(&t);
		}
	}
}

static void test_empty(void)
{
	struct vma_tree_cursor c;
	struct vma_tree t;
	uint64_t a = 0, s, e;

	vma_tree_init(&t);
	vma_tree_cursor_init(&c, &t);
	rcu_read_lock();
	CHECK(!vma_tree_find(&t, 0, NULL, NULL));
	CHECK(!vma_tree_find(&t, VMA_TREE_KEY_MAX, NULL, NULL));
	CHECK(!vma_tree_find_next(&t, 0, NULL, NULL));
	CHECK(!vma_tree_find_prev(&t, VMA_TREE_KEY_MAX, NULL, NULL));
	CHECK(!vma_tree_cursor_find(&c, 0, NULL, NULL));
	CHECK(!vma_tree_cursor_find(&c, VMA_TREE_KEY_MAX, NULL, NULL));
	CHECK(!vma_tree_cursor_find_next(&c, 0, NULL, NULL));
	CHECK(!vma_tree_cursor_find_prev(&c, VMA_TREE_KEY_MAX, NULL, NULL));
	CHECK(!vma_tree_cursor_find_prev(&c, 0, NULL, NULL));
	CHECK_EQ(vma_tree_gap_top_down(&t, 0, VMA_TREE_KEY_MAX, PG, 0, &a), 0);
	CHECK_EQ(a, VMA_TREE_KEY_MAX - PG);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, PG + 1, 1ull << 47, PG, PG - 1, &a), 0);
	CHECK_EQ(a, 2 * PG);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, 0, PG, PG + 1, 0, &a), -ENOMEM);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, 0, PG, 0, 0, &a), -EINVAL);
	rcu_read_unlock();
	CHECK_EQ(vma_tree_count(&t), 0);
	CHECK_EQ(vma_tree_validate(&t), 0);
	/* Erasing nothing, and a whole-space entry. */
	CHECK_EQ(vma_tree_erase(&t, PG, 2 * PG), 0);
	CHECK_EQ(vma_tree_insert(&t, 0, VMA_TREE_KEY_MAX, &t), 0);
	CHECK(vma_tree_find(&t, 12345, NULL, NULL) == &t);
	/* the cursor's path is from before the insert: it must look again */
	CHECK(vma_tree_cursor_find(&c, 12345, &s, &e) == &t);
	CHECK(s == 0 && e == VMA_TREE_KEY_MAX);
	CHECK(vma_tree_cursor_find_prev(&c, VMA_TREE_KEY_MAX, NULL, NULL) == &t);
	CHECK(!vma_tree_cursor_find_next(&c, VMA_TREE_KEY_MAX, NULL, NULL));
	CHECK_EQ(vma_tree_gap_top_down(&t, 0, VMA_TREE_KEY_MAX, 1, 0, &a), -ENOMEM);
	CHECK_EQ(vma_tree_erase(&t, 0, VMA_TREE_KEY_MAX), 0);
	CHECK_EQ(vma_tree_count(&t), 0);
	CHECK_EQ(vma_tree_validate(&t), 0);
	vma_tree_destroy(&t);
}

static void test_errors_leave_tree(void)
{
	struct vma_tree_range r[3];
	struct vma_tree t;
	uint64_t seed = 42;
	long live;
	int i, fails = 0, err;

	model_nr = 0;
	vma_tree_init(&t);
	for (i = 0; i < 3000; i++)
		random_op(&t, &seed);
	CHECK(same_as_model(&t));
	CHECK(model_nr > 100);

	/* Straddling entries, bad new ranges. */
	CHECK_EQ(vma_tree_erase(&t, model[10].start + PG / 2, model[20].end), -EINVAL);
	CHECK_EQ(vma_tree_erase(&t, model[10].start, model[20].end - 1), -EINVAL);
	CHECK_EQ(vma_tree_insert(&t, model[5].start, model[5].start + 1, &t), -EEXIST);
	CHECK_EQ(vma_tree_insert(&t, 5, 5, &t), -EINVAL);
	CHECK_EQ(vma_tree_insert(&t, 5, 6, NULL), -EINVAL);
	r[0] = (struct vma_tree_range){ model[10].start, model[10].end, &t };
	r[1] = (struct vma_tree_range){ model[10].start, model[11].end, &t };
	CHECK_EQ(vma_tree_replace(&t, model[10].start, model[11].end, r, 2), -EINVAL);
	CHECK_EQ(vma_tree_replace(&t, model[10].start, model[10].end - 1, r, 1), -EINVAL);
	CHECK(same_as_model(&t));

	/* Every allocation of a big replace failing in turn. */
	for (i = 1; i < 200; i++) {
		uint64_t s = model[40].start, e = model[model_nr - 40].end;

		r[0] = (struct vma_tree_range){ s, s + PG, new_entry() };
		r[1] = (struct vma_tree_range){ s + 2 * PG, e - PG, new_entry() };
		vma_tree_barrier();
		live = vma_tree_nodes_live();
		vma_tree_fail_alloc_after(i);
		err = vma_tree_replace(&t, s, e, r, 2);
		vma_tree_fail_alloc_after(0);
		if (err == -ENOMEM) {
			fails++;
			CHECK_EQ(vma_tree_nodes_live(), live);
			CHECK(same_as_model(&t));
			CHECK_EQ(vma_tree_validate(&t), 0);
			continue;
		}
		CHECK_EQ(err, 0);
		CHECK_EQ(ref_replace(s, e, r, 2), 0);
		CHECK(same_as_model(&t));
		break;
	}
	CHECK(fails > 0);
	/* And of single inserts into a fresh area. */
	for (i = 1; i < 100; i++) {
		vma_tree_barrier();
		live = vma_tree_nodes_live();
		vma_tree_fail_alloc_after(1);
		err = vma_tree_insert(&t, TOP + i * 2 * PG, TOP + i * 2 * PG + PG, &t);
		vma_tree_fail_alloc_after(0);
		CHECK_EQ(err, -ENOMEM);
		CHECK_EQ(vma_tree_nodes_live(), live);
	}
	CHECK(same_as_model(&t));
	CHECK_EQ(vma_tree_validate(&t), 0);
	vma_tree_destroy(&t);
}

#define MILLION	1000000ull

static void test_million(void)
{
	struct vma_tree t;
	uint64_t i, s, e, a;
	uint64_t bad = 0;
	void *x;

	vma_tree_init(&t);
	for (i = 0; i < MILLION; i++)
		bad += vma_tree_insert(&t, (2 * i + 1) * PG, (2 * i + 2) * PG,
				       (void *)((i + 1) << 4)) != 0;
	CHECK_EQ(bad, 0);
	CHECK_EQ(vma_tree_count(&t), MILLION);
	CHECK_EQ(vma_tree_validate(&t), 0);
	CHECK(t.height <= 7);	/* 2,000,001 slots in full nodes */
	rcu_read_lock();
	for (i = 0; i < MILLION; i++) {
		x = vma_tree_find(&t, (2 * i + 1) * PG + 7, &s, &e);
		bad += x != (void *)((i + 1) << 4) || s != (2 * i + 1) * PG;
		bad += vma_tree_find(&t, 2 * i * PG + 7, NULL, NULL) != NULL;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, 0, VMA_TREE_KEY_MAX, PG, 0, &a), 0);
	CHECK_EQ(a, 0);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, PG, VMA_TREE_KEY_MAX, 2 * PG, 0, &a), 0);
	CHECK_EQ(a, 2 * MILLION * PG);
	CHECK_EQ(vma_tree_gap_top_down(&t, 0, 2 * MILLION * PG, 2 * PG, 0, &a), -ENOMEM);
	CHECK_EQ(vma_tree_gap_top_down(&t, 0, 2 * MILLION * PG, PG, 0, &a), 0);
	CHECK_EQ(a, (2 * MILLION - 2) * PG);
	rcu_read_unlock();

	/* One call removes half of them, and puts one in their place. */
	CHECK_EQ(vma_tree_replace(&t, (MILLION / 2 + 1) * PG,
				  (3 * MILLION / 2 + 2) * PG,
				  &(struct vma_tree_range){ MILLION * PG,
				  (MILLION + 1) * PG, &t }, 1), 0);
	CHECK_EQ(vma_tree_count(&t), MILLION / 2);
	CHECK_EQ(vma_tree_validate(&t), 0);
	CHECK(vma_tree_find_next(&t, (MILLION / 2) * PG, &s, NULL) == &t);
	CHECK_EQ(s, MILLION * PG);
	CHECK(vma_tree_find_prev(&t, MILLION * PG, &s, &e) != NULL);
	CHECK_EQ(e, (MILLION / 2) * PG);
	CHECK_EQ(vma_tree_erase(&t, 0, VMA_TREE_KEY_MAX), 0);
	CHECK_EQ(vma_tree_count(&t), 0);
	CHECK_EQ(vma_tree_validate(&t), 0);
	vma_tree_destroy(&t);
}

/*
 * Runs of inserts at one place, upwards and downwards (mmap puts each new
 * VMA just below the last), with and without gaps between: the nodes a
 * run leaves behind must be full, not half full, so the tree is as low
 * as its slots allow. A cursor walk over each checks what went in.
 */
static void test_packing(void)
{
	static const struct { int down, gaps; unsigned int height; } runs[] = {
		{ 0, 0, 5 }, { 1, 0, 5 }, { 0, 1, 6 }, { 1, 1, 6 },
	};
	struct vma_tree_cursor c;
	struct vma_tree t;
	uint64_t n = 100000, i, k, pos, s, e, bad;
	void *x;

	for (size_t z = 0; z < ARRAY_SIZE(runs); z++) {
		vma_tree_init(&t);
		bad = 0;
		for (i = 0; i < n; i++) {
			k = runs[z].down ? n - 1 - i : i;
			k = runs[z].gaps ? 2 * k + 1 : k + 1;
			bad += vma_tree_insert(&t, k * PG, (k + 1) * PG,
					       (void *)((k + 1) << 4)) != 0;
		}
		CHECK_EQ(bad, 0);
		CHECK_EQ(vma_tree_validate(&t), 0);
		/* 100,002 or 200,001 slots: 5 and 6 levels of full nodes */
		CHECK(t.height <= runs[z].height);
		vma_tree_cursor_init(&c, &t);
		rcu_read_lock();
		for (pos = 0, i = 0; (x = vma_tree_cursor_find_next(&c, pos, &s, &e)); i++) {
			k = runs[z].gaps ? 2 * i + 1 : i + 1;
			bad += x != (void *)((k + 1) << 4) || s != k * PG;
			pos = e;
		}
		rcu_read_unlock();
		CHECK_EQ(bad, 0);
		CHECK_EQ(i, n);
		vma_tree_destroy(&t);
	}
}

/*
 * Every entry of a tree several levels high in turn: split, merged back,
 * erased, put back, and an insert that runs into it refused. That puts the
 * range at every slot of a leaf, so the gaps beside it are found in the
 * same leaf and in the neighbouring ones, and writes that keep, grow and
 * shrink a leaf all happen.
 */
static void test_every_slot(void)
{
	struct vma_tree t;
	struct vma_tree_range r[2];
	uint64_t i, s, n = 3000, bad = 0;

	vma_tree_init(&t);
	for (i = 0; i < n; i++)
		bad += vma_tree_insert(&t, (3 * i + 1) * PG, (3 * i + 3) * PG,
				       (void *)((i + 1) << 4)) != 0;
	CHECK_EQ(bad, 0);
	CHECK(t.height >= 3);
	for (i = 0; i < n; i++) {
		s = (3 * i + 1) * PG;
		r[0] = (struct vma_tree_range){ s, s + PG, (void *)((i + 1) << 4) };
		r[1] = (struct vma_tree_range){ s + PG, s + 2 * PG, &t };
		bad += vma_tree_replace(&t, s, s + 2 * PG, r, 2) != 0;
		bad += vma_tree_find(&t, s + PG, NULL, NULL) != &t;
		r[0].end = s + 2 * PG;
		bad += vma_tree_replace(&t, s, s + 2 * PG, r, 1) != 0;
		bad += vma_tree_insert(&t, s - PG, s + PG, &t) != -EEXIST;
		bad += vma_tree_insert(&t, s + PG, s + 3 * PG, &t) != -EEXIST;
		bad += vma_tree_erase(&t, s, s + 2 * PG) != 0;
		bad += vma_tree_find(&t, s, NULL, NULL) != NULL;
		/* The gap is now [s - PG, s + 3 PG): exactly, not more. */
		bad += vma_tree_insert(&t, s - PG, s + 3 * PG + 1, &t) !=
		       (i + 1 < n ? -EEXIST : 0);
		if (i + 1 == n)
			bad += vma_tree_erase(&t, s - PG, s + 3 * PG + 1) != 0;
		bad += vma_tree_insert(&t, s - PG, s + 3 * PG, &t) != 0;
		bad += vma_tree_erase(&t, s - PG, s + 3 * PG) != 0;
		bad += vma_tree_insert(&t, s, s + 2 * PG, r[0].entry) != 0;
		if (i % 97 == 0)
			bad += vma_tree_validate(&t) != 0;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(vma_tree_count(&t), n);
	CHECK_EQ(vma_tree_validate(&t), 0);
	vma_tree_destroy(&t);
}

/*
 * A host fork() while writes keep the reclaimer busy: the child has no
 * reclaimer thread until its own writes start one, and vma_tree_barrier()
 * must not wait for the parent's. Both sides go on writing.
 */
static void test_host_fork(void)
{
	struct vma_tree t;
	uint64_t seed = 5, i;
	int status = -1;
	pid_t pid;

#ifdef __SANITIZE_THREAD__
	return;		/* TSan: no threads in a multi-threaded program's child */
#endif
	model_nr = 0;
	vma_tree_init(&t);
	for (i = 0; i < 20000; i++)
		random_op(&t, &seed);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		unsigned long failed = test_failures;

		for (i = 0; i < 20000; i++)
			random_op(&t, &seed);
		vma_tree_barrier();
		CHECK(same_as_model(&t));
		CHECK_EQ(vma_tree_validate(&t), 0);
		vma_tree_destroy(&t);
		vma_tree_barrier();
		_exit(test_failures != failed);
	}
	CHECK(pid > 0);
	for (i = 0; i < 20000; i++)
		random_op(&t, &seed);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(same_as_model(&t));
	vma_tree_destroy(&t);
}

/*
 * Exact fits are stored in place: the root and every node stay (no node is
 * made or retired), count and gaps follow, and the shapes that are not an
 * exact fit (an erase beside a gap, an insert over an entry, a range that
 * is not a whole slot) still take the copying path.
 */
static void test_store_in_place(void)
{
	struct vma_tree t;
	struct vt_node *root;
	long live;
	uint64_t a = 0, i;
	void *x = new_entry(), *y = new_entry();

	vma_tree_init(&t);
	/* entries of 1 page at every 2nd page: 1-page gaps between them */
	for (i = 0; i < 2000; i++)
		CHECK_EQ(vma_tree_insert(&t, (2 * i + 1) * PG, (2 * i + 2) * PG,
					 new_entry()), 0);
	CHECK(t.height >= 2);
	root = t.root;
	/* the nodes the inserts retired go on the reclaimer's time: not now */
	vma_tree_barrier();
	live = vma_tree_nodes_live();
	/* fill a gap exactly, by insert and by replace */
	CHECK_EQ(vma_tree_insert(&t, 1000 * PG, 1001 * PG, x), 0);
	CHECK(vma_tree_find(&t, 1000 * PG, NULL, NULL) == x);
	CHECK_EQ(vma_tree_replace(&t, 2000 * PG, 2001 * PG,
				  &(struct vma_tree_range){ 2000 * PG, 2001 * PG, y }, 1), 0);
	CHECK(vma_tree_find(&t, 2000 * PG, NULL, NULL) == y);
	/* the same range, a new entry */
	CHECK_EQ(vma_tree_replace(&t, 1000 * PG, 1001 * PG,
				  &(struct vma_tree_range){ 1000 * PG, 1001 * PG, y }, 1), 0);
	CHECK(vma_tree_find(&t, 1000 * PG, NULL, NULL) == y);
	/* erase between two entries: the gap is whole again */
	CHECK_EQ(vma_tree_erase(&t, 1000 * PG, 1001 * PG), 0);
	CHECK(!vma_tree_find(&t, 1000 * PG, NULL, NULL));
	CHECK(t.root == root);
	CHECK_EQ(vma_tree_nodes_live(), live);
	CHECK_EQ(vma_tree_count(&t), 2001);
	CHECK_EQ(vma_tree_validate(&t), 0);
	/* the gap figures above followed: a 3-page gap exists now */
	CHECK_EQ(vma_tree_erase(&t, 1001 * PG, 1002 * PG), 0);	/* beside a gap */
	CHECK(t.root != root);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, 0, 4000 * PG, 3 * PG, 0, &a), 0);
	CHECK_EQ(a, 1000 * PG);
	root = t.root;
	CHECK_EQ(vma_tree_insert(&t, 1000 * PG, 1003 * PG, x), 0);	/* exact */
	CHECK(t.root == root);
	CHECK_EQ(vma_tree_gap_bottom_up(&t, 0, 4000 * PG, 2 * PG, 0, &a), -ENOMEM);
	CHECK_EQ(vma_tree_validate(&t), 0);
	/* not exact fits: refused or copied, never stored in place */
	CHECK_EQ(vma_tree_insert(&t, 1000 * PG, 1003 * PG, y), -EEXIST);
	CHECK(vma_tree_find(&t, 1000 * PG, NULL, NULL) == x);
	CHECK_EQ(vma_tree_replace(&t, 1000 * PG, 1002 * PG,
				  &(struct vma_tree_range){ 1000 * PG, 1002 * PG, y }, 1),
		 -EINVAL);
	CHECK_EQ(vma_tree_validate(&t), 0);
	vma_tree_destroy(&t);
}

/*
 * Entries added upwards, each into the gap that ends its leaf: most go in
 * place (no new version: the same nodes), the rest by copy when the leaf
 * is full; what they build is the same tree either way.
 */
static void test_store_append(void)
{
	struct vma_tree t;
	uint64_t i, seq, in_place = 0, a = 0, s, e;
	void *x = new_entry(), *got;

	vma_tree_init(&t);
	for (i = 0; i < 3000; i++) {
		seq = t.seq;
		CHECK_EQ(vma_tree_insert(&t, (3 * i + 1) * PG, (3 * i + 2) * PG,
					 new_entry()), 0);
		in_place += t.seq == seq;
		if (i % 97 == 0)
			CHECK_EQ(vma_tree_validate(&t), 0);
	}
	CHECK_EQ(vma_tree_validate(&t), 0);
	CHECK_EQ(vma_tree_count(&t), 3000);
	printf("     %lu of 3000 in place\n", (unsigned long)in_place);
	CHECK(in_place >= 3000 / 2);
	for (i = 0; i < 3000; i++) {
		got = vma_tree_find(&t, (3 * i + 1) * PG + 5, &s, &e);
		CHECK(got && s == (3 * i + 1) * PG && e == s + PG);
		CHECK(!vma_tree_find(&t, 3 * i * PG, NULL, NULL));
	}
	/* the gaps above followed: the first 3-page gap is above the last */
	CHECK_EQ(vma_tree_gap_bottom_up(&t, 0, VMA_TREE_KEY_MAX, 3 * PG, 0, &a), 0);
	CHECK_EQ(a, 8999 * PG);
	/* an entry that ends the key space adds one slot, not two */
	CHECK_EQ(vma_tree_insert(&t, VMA_TREE_KEY_MAX - 4 * PG + 1,
				 VMA_TREE_KEY_MAX, x), 0);
	CHECK(vma_tree_find(&t, VMA_TREE_KEY_MAX - 1, &s, &e) == x);
	CHECK(s == VMA_TREE_KEY_MAX - 4 * PG + 1 && e == VMA_TREE_KEY_MAX);
	CHECK_EQ(vma_tree_validate(&t), 0);
	/* at the start of the gap, the gap's own slot changes: copied */
	seq = t.seq;
	CHECK_EQ(vma_tree_insert(&t, 8999 * PG, 9000 * PG, new_entry()), 0);
	CHECK(t.seq != seq);
	CHECK_EQ(vma_tree_validate(&t), 0);
	CHECK_EQ(vma_tree_count(&t), 3002);
	vma_tree_destroy(&t);

	/*
	 * A gap an append shortened is filled by a copy, never in place: to
	 * a reader holding the count from before the append it is still the
	 * leaf's last slot, reaching the leaf's end.
	 */
	vma_tree_init(&t);
	CHECK_EQ(vma_tree_insert(&t, PG, 2 * PG, new_entry()), 0);
	seq = t.seq;
	CHECK_EQ(vma_tree_insert(&t, 10 * PG, 11 * PG, new_entry()), 0);
	CHECK(t.seq == seq);				/* appended */
	CHECK_EQ(vma_tree_insert(&t, 2 * PG, 10 * PG, x), 0);
	CHECK(t.seq != seq);				/* copied */
	CHECK(vma_tree_find(&t, 5 * PG, &s, &e) == x);
	CHECK(s == 2 * PG && e == 10 * PG);
	/* in the copy the slot is an ordinary one: refilled in place */
	CHECK_EQ(vma_tree_erase(&t, 2 * PG, 10 * PG), 0);
	seq = t.seq;
	CHECK_EQ(vma_tree_insert(&t, 2 * PG, 10 * PG, x), 0);
	CHECK(t.seq == seq);
	CHECK_EQ(vma_tree_validate(&t), 0);
	vma_tree_destroy(&t);
}

/* Runs last: everything the tests allocated must be back. */
static void test_all_nodes_freed(void)
{
	struct vma_tree t;
	uint64_t seed = 7;
	int i;

	model_nr = 0;
	vma_tree_init(&t);
	for (i = 0; i < 5000; i++)
		random_op(&t, &seed);
	CHECK(vma_tree_nodes_live() > 0);
	vma_tree_destroy(&t);
	vma_tree_barrier();
	CHECK_EQ(vma_tree_nodes_live(), 0);
}

int main(void)
{
	umm_rcu_init();
	RUN(test_empty);
	RUN(test_random_model);
	RUN(test_bulk_spans);
	RUN(test_errors_leave_tree);
	RUN(test_million);
	RUN(test_packing);
	RUN(test_every_slot);
	RUN(test_store_in_place);
	RUN(test_store_append);
	RUN(test_host_fork);
	RUN(test_all_nodes_freed);
	free(model);
	return test_done();
}
