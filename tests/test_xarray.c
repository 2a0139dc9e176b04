// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_xarray - the page-cache xarray against a reference model.
 *
 * Fixed cases first (edges of the index space, grow and shrink, cmpxchg,
 * preload, marks, -ENOMEM), then a million random operations checked
 * against a sorted array of (index, entry, marks): loads, finds, marked
 * finds and range walks must agree, the tree's own invariants must hold,
 * and after rcu_barrier() the live-node count must equal the nodes in the
 * tree (so no node leaks and none is freed twice). Entries carry tags in
 * their low two bits, which the xarray must leave alone.
 */
#include <errno.h>
#include "test.h"
#include "rcu.h"
#include "xarray.h"

#define E(v)	((void *)(uintptr_t)(v))
#define IDX52	(1ULL << 52)

/* ---- the model: a sorted array ---- */

struct ref {
	uint64_t index;
	void *entry;
	unsigned int marks;
};

static struct ref *model;
static size_t model_nr, model_cap;

/* First position with index >= @index. */
static size_t model_lb(uint64_t index)
{
	size_t lo = 0, hi = model_nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (model[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct ref *model_get(uint64_t index)
{
	size_t i = model_lb(index);

	return i < model_nr && model[i].index == index ? &model[i] : NULL;
}

static void model_set(uint64_t index, void *entry)
{
	size_t i = model_lb(index);

	if (i < model_nr && model[i].index == index) {
		model[i].entry = entry;
		return;
	}
	if (model_nr == model_cap) {
		model_cap = model_cap ? 2 * model_cap : 1024;
		model = realloc(model, model_cap * sizeof(*model));
		if (!model)
			abort();
	}
	memmove(&model[i + 1], &model[i], (model_nr - i) * sizeof(*model));
	model[i] = (struct ref){ index, entry, 0 };
	model_nr++;
}

static void model_del(uint64_t index)
{
	size_t i = model_lb(index);

	if (i < model_nr && model[i].index == index) {
		memmove(&model[i], &model[i + 1],
			(model_nr - i - 1) * sizeof(*model));
		model_nr--;
	}
}

/* The whole tree equals the model, in order, marks included. */
static void check_all(struct xarray *xa)
{
	uint64_t index;
	size_t i = 0;
	void *entry;
	bool ok = true;

	xa_for_each(xa, index, entry) {
		if (i >= model_nr || model[i].index != index ||
		    model[i].entry != entry) {
			ok = false;
			break;
		}
		if (xa_get_mark(xa, index, XA_MARK_DIRTY) !=
		    !!(model[i].marks & 1) ||
		    xa_get_mark(xa, index, XA_MARK_TOWRITEBACK) !=
		    !!(model[i].marks & 2)) {
			ok = false;
			break;
		}
		i++;
	}
	CHECK(ok);
	CHECK_EQ(i, model_nr);
	CHECK_EQ(xa_empty(xa), model_nr == 0);
}

/* Tree invariants hold and every live node is in the tree. */
static void check_nodes(struct xarray *xa)
{
	long nodes = xa_debug_check(xa);

	CHECK(nodes >= 0);
	rcu_barrier();
	CHECK_EQ(xa_debug_live_nodes(), nodes);
}

/* ---- fixed cases ---- */

static void test_basic(void)
{
	struct xarray xa = XARRAY_INIT;
	uint64_t edges[] = { 0, 1, 63, 64, 4095, 4096, IDX52 - 1, IDX52,
			     1ULL << 60, UINT64_MAX - 1, UINT64_MAX };
	void *old = E(1);
	size_t i;

	CHECK(xa_empty(&xa));
	CHECK(xa_load(&xa, 0) == NULL);
	CHECK(xa_load(&xa, UINT64_MAX) == NULL);
	CHECK(xa_erase(&xa, 5) == NULL);
	for (i = 0; i < ARRAY_SIZE(edges); i++) {
		CHECK_EQ(xa_store(&xa, edges[i], E(0x1000 + 4 * i + 3), &old), 0);
		CHECK(old == NULL);
		CHECK(xa_debug_check(&xa) > 0);
	}
	for (i = 0; i < ARRAY_SIZE(edges); i++) {
		CHECK(xa_load(&xa, edges[i]) == E(0x1000 + 4 * i + 3));
		CHECK(xa_load(&xa, edges[i] ^ 2) == NULL || edges[i] < 4);
	}
	CHECK_EQ(xa_insert(&xa, 64, E(8)), -EEXIST);
	CHECK_EQ(xa_insert(&xa, 65, NULL), -EINVAL);
	CHECK_EQ(xa_store(&xa, 64, E(0x99), &old), 0);
	CHECK(old == E(0x1000 + 4 * 3 + 3));
	/* Erase from the top down: the tree must shrink as it goes. */
	for (i = ARRAY_SIZE(edges); i-- > 0;) {
		CHECK(xa_erase(&xa, edges[i]) != NULL);
		CHECK(xa_erase(&xa, edges[i]) == NULL);
		CHECK(xa_debug_check(&xa) >= 0);
	}
	CHECK(xa_empty(&xa));
	rcu_barrier();
	CHECK_EQ(xa_debug_live_nodes(), 0);
}

static void test_grow_shrink(void)
{
	struct xarray xa = XARRAY_INIT;

	CHECK_EQ(xa_store(&xa, 5, E(4), NULL), 0);
	CHECK_EQ(xa_debug_check(&xa), 1);
	CHECK_EQ(xa_store(&xa, IDX52 - 1, E(8), NULL), 0);
	CHECK_EQ(xa_debug_check(&xa), 2 * 9 - 1);	/* two paths of 9 */
	CHECK(xa_erase(&xa, IDX52 - 1) == E(8));
	CHECK_EQ(xa_debug_check(&xa), 1);		/* back to a leaf */
	CHECK(xa_load(&xa, 5) == E(4));
	/* Storing NULL erases. */
	CHECK_EQ(xa_store(&xa, 5, NULL, NULL), 0);
	CHECK(xa_empty(&xa));
	check_nodes(&xa);
}

static void test_find(void)
{
	struct xarray xa = XARRAY_INIT;
	uint64_t idx[] = { 3, 64, 4097, 1ULL << 40, IDX52 - 1, UINT64_MAX };
	uint64_t index;
	size_t i, n;
	void *entry;

	for (i = 0; i < ARRAY_SIZE(idx); i++)
		CHECK_EQ(xa_insert(&xa, idx[i], E(4 * i + 4)), 0);
	index = 0;
	CHECK(xa_find(&xa, &index, UINT64_MAX) == E(4));
	CHECK_EQ(index, 3);
	index = 4;
	CHECK(xa_find(&xa, &index, 63) == NULL);
	CHECK_EQ(index, 4);			/* untouched on a miss */
	index = 65;
	CHECK(xa_find(&xa, &index, UINT64_MAX) == E(12));
	CHECK_EQ(index, 4097);
	index = 4098;
	CHECK(xa_find(&xa, &index, UINT64_MAX) == E(16));
	CHECK_EQ(index, 1ULL << 40);
	index = IDX52;
	CHECK(xa_find(&xa, &index, UINT64_MAX) == E(24));
	CHECK_EQ(index, UINT64_MAX);
	CHECK(xa_find_after(&xa, &index, UINT64_MAX) == NULL);
	n = 0;
	xa_for_each(&xa, index, entry) {
		CHECK(n < ARRAY_SIZE(idx) && index == idx[n]);
		n++;
	}
	CHECK_EQ(n, ARRAY_SIZE(idx));
	n = 0;
	xa_for_each_range(&xa, index, entry, 64, IDX52 - 1)
		n++;
	CHECK_EQ(n, 4);
	xa_destroy(&xa);
	CHECK(xa_empty(&xa));
	rcu_barrier();
	CHECK_EQ(xa_debug_live_nodes(), 0);
}

static void test_cmpxchg(void)
{
	struct xarray xa = XARRAY_INIT;
	int err = 1;

	CHECK(xa_cmpxchg(&xa, 7, NULL, E(4), &err) == NULL);
	CHECK_EQ(err, 0);
	CHECK(xa_load(&xa, 7) == E(4));
	CHECK(xa_cmpxchg(&xa, 7, E(8), E(12), &err) == E(4));
	CHECK_EQ(err, 0);
	CHECK(xa_load(&xa, 7) == E(4));		/* mismatch: no store */
	CHECK(xa_cmpxchg(&xa, 7, E(4), E(12), &err) == E(4));
	CHECK(xa_load(&xa, 7) == E(12));
	CHECK(xa_cmpxchg(&xa, 1ULL << 30, E(4), E(8), &err) == NULL);
	CHECK(xa_load(&xa, 1ULL << 30) == NULL);	/* absent != old */
	CHECK(xa_cmpxchg(&xa, 7, E(12), NULL, &err) == E(12));
	CHECK(xa_empty(&xa));
	check_nodes(&xa);
}

static void test_preload(void)
{
	struct xarray xa = XARRAY_INIT;
	struct xa_preload pl = XA_PRELOAD_INIT;
	void *old;
	int err;

	/* Replacing needs no nodes: NULL preload is fine. */
	CHECK_EQ(xa_store(&xa, 1, E(4), NULL), 0);
	spin_lock(&xa.xa_lock);
	CHECK_EQ(__xa_store(&xa, 1, E(8), &old, NULL), 0);
	CHECK(old == E(4));
	/* A new path with an empty preload: refused, nothing changed. */
	CHECK_EQ(__xa_store(&xa, IDX52 - 1, E(8), NULL, &pl), -ENOMEM);
	CHECK_EQ(pl.want, 2 * 9 - 1 - 1);
	CHECK(xa_debug_check(&xa) == 1);
	spin_unlock(&xa.xa_lock);

	CHECK_EQ(xa_preload(&pl, &xa, IDX52 - 1), 0);
	CHECK_EQ(pl.nr, 16);
	spin_lock(&xa.xa_lock);
	CHECK_EQ(__xa_insert(&xa, IDX52 - 1, E(12), &pl), 0);
	CHECK_EQ(pl.nr, 0);
	CHECK(__xa_cmpxchg(&xa, 1, E(8), E(16), &pl, &err) == E(8));
	CHECK_EQ(err, 0);
	CHECK(__xa_erase(&xa, 1) == E(16));
	spin_unlock(&xa.xa_lock);

	/* Leftovers are freed by xa_preload_end. */
	CHECK_EQ(xa_preload(&pl, &xa, 5), 0);
	CHECK_EQ(pl.nr, 8);
	rcu_barrier();
	CHECK_EQ(xa_debug_live_nodes() - xa_debug_check(&xa), 8);
	xa_preload_end(&pl);
	CHECK_EQ(pl.nr, 0);
	CHECK(xa_erase(&xa, IDX52 - 1) == E(12));
	check_nodes(&xa);
	CHECK_EQ(xa_debug_live_nodes(), 0);
}

static void test_marks(void)
{
	struct xarray xa = XARRAY_INIT;
	uint64_t index;
	void *entry;
	int n;

	xa_set_mark(&xa, 5, XA_MARK_DIRTY);		/* absent: no-op */
	CHECK(!xa_get_mark(&xa, 5, XA_MARK_DIRTY));
	CHECK_EQ(xa_store(&xa, 5, E(4), NULL), 0);
	CHECK_EQ(xa_store(&xa, 1ULL << 33, E(8), NULL), 0);
	CHECK_EQ(xa_store(&xa, (1ULL << 33) + 9, E(12), NULL), 0);
	CHECK(!xa_get_mark(&xa, 5, XA_MARK_DIRTY));
	xa_set_mark(&xa, 1ULL << 33, XA_MARK_DIRTY);
	xa_set_mark(&xa, (1ULL << 33) + 9, XA_MARK_TOWRITEBACK);
	CHECK(xa_debug_check(&xa) > 0);
	index = 0;
	CHECK(xa_find_marked(&xa, &index, UINT64_MAX, XA_MARK_DIRTY) == E(8));
	CHECK_EQ(index, 1ULL << 33);
	CHECK(xa_find_after_marked(&xa, &index, UINT64_MAX,
				   XA_MARK_DIRTY) == NULL);
	index = 0;
	CHECK(xa_find_marked(&xa, &index, UINT64_MAX,
			     XA_MARK_TOWRITEBACK) == E(12));
	/* Replacing keeps marks; erasing drops them. */
	CHECK_EQ(xa_store(&xa, 1ULL << 33, E(16), NULL), 0);
	CHECK(xa_get_mark(&xa, 1ULL << 33, XA_MARK_DIRTY));
	CHECK(xa_erase(&xa, 1ULL << 33) == E(16));
	CHECK_EQ(xa_store(&xa, 1ULL << 33, E(16), NULL), 0);
	CHECK(!xa_get_mark(&xa, 1ULL << 33, XA_MARK_DIRTY));
	index = 0;
	CHECK(xa_find_marked(&xa, &index, UINT64_MAX, XA_MARK_DIRTY) == NULL);
	xa_clear_mark(&xa, (1ULL << 33) + 9, XA_MARK_TOWRITEBACK);
	CHECK(xa_debug_check(&xa) > 0);
	n = 0;
	xa_for_each_marked(&xa, index, entry, 0, UINT64_MAX, XA_MARK_TOWRITEBACK)
		n++;
	CHECK_EQ(n, 0);
	xa_destroy(&xa);
	check_nodes(&xa);
}

/*
 * Every allocation a store needs can fail; whichever does, the tree must
 * be as before and no node may be lost.
 */
static void test_enomem(void)
{
	struct xarray xa = XARRAY_INIT;
	long n, before;
	void *old;
	int err;

	CHECK_EQ(xa_store(&xa, 100, E(4), NULL), 0);
	xa_set_mark(&xa, 100, XA_MARK_DIRTY);
	before = xa_debug_check(&xa);
	CHECK_EQ(before, 2);
	/* IDX52 - 3 needs 7 roots above and a path of 8 below the top. */
	for (n = 1; n <= 15; n++) {
		xa_debug_fail_nth(n);
		old = E(1);
		CHECK_EQ(xa_store(&xa, IDX52 - 3, E(8), &old), -ENOMEM);
		CHECK(old == E(1));
		xa_debug_fail_nth(0);
		CHECK(xa_load(&xa, IDX52 - 3) == NULL);
		CHECK(xa_load(&xa, 100) == E(4));
		CHECK(xa_get_mark(&xa, 100, XA_MARK_DIRTY));
		CHECK_EQ(xa_debug_check(&xa), before);
		rcu_barrier();
		CHECK_EQ(xa_debug_live_nodes(), before);
	}
	xa_debug_fail_nth(1);
	CHECK_EQ(xa_insert(&xa, 1ULL << 44, E(8)), -ENOMEM);
	xa_debug_fail_nth(1);
	CHECK(xa_cmpxchg(&xa, 1ULL << 44, NULL, E(8), &err) == NULL);
	CHECK_EQ(err, -ENOMEM);
	xa_debug_fail_nth(1);
	CHECK_EQ(xa_store(&xa, 100, E(12), &old), 0);	/* no node needed */
	CHECK(old == E(4));
	CHECK(xa_get_mark(&xa, 100, XA_MARK_DIRTY));
	CHECK(xa_erase(&xa, 100) == E(12));		/* nor here */
	CHECK(xa_empty(&xa));
	CHECK_EQ(xa_store(&xa, 100, E(4), NULL), -ENOMEM);	/* the 1 left */
	CHECK(xa_empty(&xa));
	CHECK_EQ(xa_store(&xa, 100, E(4), NULL), 0);
	xa_debug_fail_nth(16);			/* past what it needs */
	CHECK_EQ(xa_store(&xa, IDX52 - 3, E(8), NULL), 0);
	xa_debug_fail_nth(0);
	CHECK_EQ(xa_debug_check(&xa), 17);
	xa_destroy(&xa);
	check_nodes(&xa);
}

/* ---- random operations against the model ---- */

static uint64_t rnd_index(uint64_t *seed)
{
	uint64_t r = xrand(seed);

	switch (r % 8) {
	case 0: case 1: case 2:
		return xrand(seed) % 2048;			/* dense */
	case 3:
		return xrand(seed) % IDX52;			/* sparse */
	case 4:						/* clusters */
		return ((xrand(seed) % 16) << 40) + xrand(seed) % 300;
	case 5:
		return IDX52 - 1 - xrand(seed) % 200;		/* the top */
	case 6:
		if (model_nr)				/* a present one */
			return model[xrand(seed) % model_nr].index;
		return 0;
	default:
		return (xrand(seed) % 64) << (6 * (xrand(seed) % 9));
	}
}

static uint64_t entry_seq;
static unsigned long nr_enomem, peak_nr, nr_found;	/* coverage, printed */

static void *new_entry(uint64_t *seed)
{
	return E((++entry_seq << 2) | (xrand(seed) & 3));
}

static void check_find(struct xarray *xa, uint64_t *seed)
{
	uint64_t start = rnd_index(seed), max, index = start;
	size_t i = model_lb(start);
	int mark = (int)(xrand(seed) % 3) - 1;
	void *entry;

	max = xrand(seed) & 1 ? UINT64_MAX : start + xrand(seed) % 100000;
	if (mark < 0) {
		entry = xa_find(xa, &index, max);
	} else {
		entry = xa_find_marked(xa, &index, max, mark);
		while (i < model_nr && !(model[i].marks & (1u << mark)))
			i++;
	}
	if (i < model_nr && model[i].index <= max) {
		nr_found++;
		CHECK(entry == model[i].entry);
		CHECK_EQ(index, model[i].index);
	} else {
		CHECK(entry == NULL);
		CHECK_EQ(index, start);
	}
}

static void check_range(struct xarray *xa, uint64_t *seed)
{
	uint64_t first = rnd_index(seed), last, index;
	size_t i = model_lb(first);
	void *entry;

	last = first + xrand(seed) % (1ULL << (xrand(seed) % 48));
	if (last < first)
		last = UINT64_MAX;
	xa_for_each_range(xa, index, entry, first, last) {
		if (i >= model_nr || model[i].index != index ||
		    model[i].entry != entry) {
			CHECK(!"range walk differs");
			return;
		}
		i++;
	}
	CHECK(i == model_nr || model[i].index > last);
}

static void random_op(struct xarray *xa, uint64_t *seed)
{
	uint64_t index = rnd_index(seed);
	struct ref *r = model_get(index);
	void *want = r ? r->entry : NULL, *e, *old;
	unsigned int op = xrand(seed) % 100;
	int err;

	/* Keep the model a few thousand entries: erase more when big. */
	if (model_nr > 3000 && op < 40)
		op += 40;
	if (op < 25) {					/* store */
		e = new_entry(seed);
		if (xrand(seed) % 64 == 0)
			xa_debug_fail_nth(1 + xrand(seed) % 4);
		err = xa_store(xa, index, e, &old);
		xa_debug_fail_nth(0);
		if (err) {
			CHECK_EQ(err, -ENOMEM);
			CHECK(!r);		/* replacing never allocates */
			nr_enomem++;
			CHECK(xa_load(xa, index) == NULL);
			return;
		}
		CHECK(old == want);
		model_set(index, e);
		if (model_nr > peak_nr)
			peak_nr = model_nr;
	} else if (op < 35) {				/* insert */
		e = new_entry(seed);
		err = xa_insert(xa, index, e);
		CHECK_EQ(err, r ? -EEXIST : 0);
		if (!err)
			model_set(index, e);
	} else if (op < 45) {				/* cmpxchg */
		void *expect = xrand(seed) & 1 ? want : NULL;

		e = xrand(seed) % 4 ? new_entry(seed) : NULL;
		old = xa_cmpxchg(xa, index, expect, e, &err);
		CHECK_EQ(err, 0);
		CHECK(old == want);
		if (expect != want)
			return;
		if (e)
			model_set(index, e);
		else
			model_del(index);
	} else if (op < 65) {				/* erase */
		CHECK(xa_erase(xa, index) == want);
		model_del(index);
	} else if (op < 75) {				/* marks */
		xa_mark_t m = xrand(seed) & 1;

		if (xrand(seed) & 1) {
			xa_set_mark(xa, index, m);
			if (r)
				r->marks |= 1u << m;
		} else {
			xa_clear_mark(xa, index, m);
			if (r)
				r->marks &= ~(1u << m);
		}
		CHECK_EQ(xa_get_mark(xa, index, m), r && ((r->marks >> m) & 1));
	} else if (op < 90) {
		CHECK(xa_load(xa, index) == want);
	} else if (op < 99) {
		check_find(xa, seed);
	} else {
		check_range(xa, seed);
	}
}

static void test_random(void)
{
	struct xarray xa;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	long i, ops = 1000000;

	xa_init(&xa);
	for (i = 0; i < ops; i++) {
		random_op(&xa, &seed);
		if (i % 100000 == 99999) {
			check_all(&xa);
			check_nodes(&xa);
		}
	}
	check_all(&xa);
	printf("     %ld ops, peak %lu entries, %lu finds hit, %lu -ENOMEM\n",
	       ops, peak_nr, nr_found, nr_enomem);
	/* Shrink to empty through erases: every node must go. */
	while (model_nr) {
		uint64_t index = model[xrand(&seed) % model_nr].index;

		CHECK(xa_erase(&xa, index) != NULL);
		model_del(index);
	}
	CHECK(xa_empty(&xa));
	check_nodes(&xa);
	CHECK_EQ(xa_debug_live_nodes(), 0);
	free(model);
}

int main(void)
{
	umm_rcu_init();
	RUN(test_basic);
	RUN(test_grow_shrink);
	RUN(test_find);
	RUN(test_cmpxchg);
	RUN(test_preload);
	RUN(test_marks);
	RUN(test_enomem);
	RUN(test_random);
	return test_done();
}
