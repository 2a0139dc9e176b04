// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_xarray_mt - lockless xarray readers against a writer under xa_lock.
 *
 * Every entry records the index it was stored at (and carries that index's
 * low two bits as its tag, which the xarray must pass through), so a
 * reader can check anything it reaches: an entry seen at the wrong index,
 * freed, or with its tag lost breaks a check, and ASan/TSan see an entry
 * or node freed before its readers are done. Replaced and erased entries
 * go to call_rcu, as pages leave the page cache.
 *
 * The writer stores, replaces, erases and cmpxchg's in a dense window and
 * a sparse pool below 2^36, and keeps toggling entries just below 2^52,
 * so the tree keeps growing from 6 to 9 levels and shrinking back, while
 * readers may still be walking a root that was shrunk away. A fixed
 * set of "stable" entries is never touched: readers must find each of
 * them on every try, through whichever root they loaded. The DIRTY mark is
 * only ever set on indices = 1 (mod 3), which marked finds must respect.
 */
#include <errno.h>
#include <pthread.h>
#include "test.h"
#include "rcu.h"
#include "xarray.h"

#define READERS		3
#define DENSE		4096ull
#define SPARSE		512
#define SPARSE_END	(1ull << 36)	/* TOP adds 3 levels above */
#define STABLE		32
#define STABLE_BASE	(1ull << 20)
#define STABLE_STEP	4099ull
#define TOP		((1ull << 52) - 1)
#define LIVE		0x11feull
#define DEAD		0xdeadull

struct ent {
	uint64_t index;		/* immutable once published */
	uint64_t magic;		/* LIVE until the RCU callback */
	struct rcu_head rcu;
};

static struct xarray xa = XARRAY_INIT;
static uint64_t sparse[SPARSE];		/* fixed before the threads start */
static bool stop;
static uint64_t writes;			/* the writer's */
static uint64_t reads[READERS];		/* per reader, its own */

static void *ent_new(uint64_t index)
{
	struct ent *e = malloc(sizeof(*e));

	if (!e)
		abort();
	e->index = index;
	e->magic = LIVE;
	return (void *)((uintptr_t)e | (index & 3));
}

static struct ent *ent_of(void *entry)
{
	return (struct ent *)((uintptr_t)entry & ~(uintptr_t)3);
}

static void ent_free_rcu(struct rcu_head *head)
{
	struct ent *e = container_of(head, struct ent, rcu);

	e->magic = DEAD;
	free(e);
}

static void ent_retire(void *entry)
{
	if (entry)
		call_rcu(&ent_of(entry)->rcu, ent_free_rcu);
}

static bool is_stable(uint64_t index)
{
	return index >= STABLE_BASE &&
	       (index - STABLE_BASE) % STABLE_STEP == 0 &&
	       (index - STABLE_BASE) / STABLE_STEP < STABLE;
}

/* Locking: inside rcu_read_lock(). */
static bool ent_ok(void *entry, uint64_t index)
{
	struct ent *e = ent_of(entry);

	return ((uintptr_t)entry & 3) == (index & 3) && e->index == index &&
	       e->magic == LIVE;
}

/* ---- the writer ---- */

static uint64_t pick_index(uint64_t *seed)
{
	switch (xrand(seed) % 4) {
	case 0:
	case 1:
		return xrand(seed) % DENSE;
	case 2:
		return sparse[xrand(seed) % SPARSE];
	default:
		return TOP - xrand(seed) % 3;
	}
}

/* A store through the locked API and a preload, as the page cache does. */
static void locked_insert(uint64_t index)
{
	struct xa_preload pl = XA_PRELOAD_INIT;
	void *e = ent_new(index);
	int err;

	do {
		CHECK_EQ(xa_preload(&pl, &xa, index), 0);
		spin_lock(&xa.xa_lock);
		err = __xa_insert(&xa, index, e, &pl);
		if (!err && index % 3 == 1)
			__xa_set_mark(&xa, index, XA_MARK_DIRTY);
		spin_unlock(&xa.xa_lock);
	} while (err == -ENOMEM);
	xa_preload_end(&pl);
	if (err) {
		CHECK_EQ(err, -EEXIST);
		free(ent_of(e));		/* never published */
	}
}

static void writer_op(uint64_t *seed)
{
	uint64_t index = pick_index(seed);
	unsigned int op = xrand(seed) % 8;
	void *old, *e;
	int err;

	switch (op) {
	case 0:
	case 1:
		CHECK_EQ(xa_store(&xa, index, ent_new(index), &old), 0);
		ent_retire(old);
		if (index % 3 == 1 && xrand(seed) & 1)
			xa_set_mark(&xa, index, XA_MARK_DIRTY);
		break;
	case 2:
		locked_insert(index);
		break;
	case 3:
	case 4:
		ent_retire(xa_erase(&xa, index));
		break;
	case 5:
		/* Replace whatever is there, through cmpxchg. */
		old = xa_load(&xa, index);
		e = ent_new(index);
		if (xa_cmpxchg(&xa, index, old, e, &err) == old && !err) {
			ent_retire(old);
		} else {
			CHECK_EQ(err, 0);
			free(ent_of(e));
		}
		break;
	case 6:
		xa_clear_mark(&xa, index, XA_MARK_DIRTY);
		break;
	default:
		/* The top entry comes and goes: full-height grow and shrink. */
		ent_retire(xa_erase(&xa, TOP));
		ent_retire(xa_erase(&xa, TOP - 1));
		ent_retire(xa_erase(&xa, TOP - 2));
		break;
	}
}

static void *writer(void *arg)
{
	uint64_t seed = 0x2545f4914f6cdd1dull;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		writer_op(&seed);
		__atomic_store_n(&writes, writes + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* ---- the readers ---- */

static void read_load(uint64_t *seed)
{
	uint64_t index = xrand(seed) & 1 ? xrand(seed) % DENSE
					 : sparse[xrand(seed) % SPARSE];
	void *entry = xa_load(&xa, index);

	if (entry)
		CHECK(ent_ok(entry, index));
}

static void read_stable(uint64_t *seed)
{
	uint64_t index = STABLE_BASE + STABLE_STEP * (xrand(seed) % STABLE);
	void *entry = xa_load(&xa, index);

	CHECK(entry && ent_ok(entry, index));
}

static void read_find(uint64_t *seed)
{
	uint64_t start = xrand(seed) % (1ull << (xrand(seed) % 53));
	uint64_t index = start;
	void *entry;

	if (xrand(seed) & 1) {
		entry = xa_find(&xa, &index, UINT64_MAX);
		CHECK(index >= start);
		/* A stable entry at or after start is always there. */
		CHECK(entry || start > STABLE_BASE + STABLE_STEP * (STABLE - 1));
	} else {
		entry = xa_find_marked(&xa, &index, UINT64_MAX, XA_MARK_DIRTY);
		if (entry)
			CHECK_EQ(index % 3, 1);
	}
	if (entry)
		CHECK(ent_ok(entry, index));
}

/* A walk must see every stable entry in its range, in order. */
static void read_walk(uint64_t *seed)
{
	uint64_t first = xrand(seed) & 1 ? 0 : STABLE_BASE - 100;
	uint64_t last = xrand(seed) & 1 ? UINT64_MAX : first + 200000;
	uint64_t index, prev = 0, stable = 0, want = 0, i;
	bool any = false;
	void *entry;

	xa_for_each_range(&xa, index, entry, first, last) {
		CHECK(ent_ok(entry, index));
		CHECK(!any || index > prev);
		CHECK(index >= first && index <= last);
		any = true;
		prev = index;
		stable += is_stable(index);
	}
	for (i = 0; i < STABLE; i++) {
		uint64_t s = STABLE_BASE + STABLE_STEP * i;

		want += s >= first && s <= last;
	}
	CHECK_EQ(stable, want);
}

static void *reader(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (id + 1), n = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int op = xrand(&seed) % 16;

		rcu_read_lock();
		if (op < 8)
			read_load(&seed);
		else if (op < 10)
			read_stable(&seed);
		else if (op < 15)
			read_find(&seed);
		else
			read_walk(&seed);
		rcu_read_unlock();
		n++;
	}
	reads[id] = n;
	return NULL;
}

/* ---- setup and teardown ---- */

static void setup(void)
{
	uint64_t seed = 0xdeadbeefcafef00dull, i;

	for (i = 0; i < SPARSE; i++)
		sparse[i] = (xrand(&seed) % SPARSE_END) | 1;
	for (i = 0; i < STABLE; i++) {
		uint64_t index = STABLE_BASE + STABLE_STEP * i;

		CHECK_EQ(xa_insert(&xa, index, ent_new(index)), 0);
	}
}

static void teardown(void)
{
	uint64_t index;
	void *entry;

	CHECK(xa_debug_check(&xa) > 0);
	xa_for_each(&xa, index, entry)
		ent_retire(entry);
	xa_destroy(&xa);
	CHECK(xa_empty(&xa));
	rcu_barrier();
	CHECK_EQ(xa_debug_live_nodes(), 0);
}

static void test_readers_against_writer(void)
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
	RUN(test_readers_against_writer);
	return test_done();
}
