/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xarray.h - the page cache's index: a sparse map from a 64-bit index (a
 * page offset in a file) to non-NULL pointers, read lock-free under RCU.
 *
 * A radix tree of 64-slot nodes, 6 bits of the index per level; the tree
 * is as tall as its largest index needs and shrinks back when that goes.
 * umm uses no bit of an entry, so the caller may keep tags in low bits.
 * Two marks per entry (dirty, towriteback) are summarised up the tree, so
 * the next marked entry is found in O(height), which msync needs.
 *
 * Readers (xa_load, xa_find*, xa_get_mark, xa_for_each*) take no lock: they
 * enter an RCU read-side section of their own, so nodes stay valid while
 * they walk. The entry they return is only as stable as the caller makes
 * it (its own rcu_read_lock() plus a reference, as the page cache does).
 *
 * Writers hold xa->xa_lock, the "page-cache lock of a file": innermost in
 * the lock order, so nothing under it takes another umm lock or blocks.
 * The plain calls (xa_store, xa_insert, xa_erase, xa_cmpxchg, xa_set_mark)
 * take it themselves and allocate with it dropped. Callers that need
 * several steps under one hold use the __xa_* calls with a preload:
 *
 *	struct xa_preload pl = XA_PRELOAD_INIT;
 * again:
 *	if (xa_preload(&pl, xa, index))		// no locks held: may malloc
 *		goto enomem;
 *	spin_lock(&xa->xa_lock);
 *	... look, decide ...
 *	err = __xa_insert(xa, index, page, &pl);
 *	spin_unlock(&xa->xa_lock);
 *	if (err == -ENOMEM)			// a racing writer took the
 *		goto again;			// spare nodes' place: retry
 *	xa_preload_end(&pl);			// frees what was not used
 *
 * A locked store that finds too few nodes in @pl changes nothing, returns
 * -ENOMEM and records in @pl how many it needs, so the retry's xa_preload
 * brings enough: a retry fails again only if the tree changed in between.
 */
#ifndef UMM_XARRAY_H
#define UMM_XARRAY_H

#include <stdbool.h>
#include <stdint.h>
#include "locks.h"

#define XA_CHUNK_SHIFT		6
#define XA_CHUNK_SIZE		(1u << XA_CHUNK_SHIFT)
/* Levels for the whole 64-bit index space: ceil(64 / 6). */
#define XA_MAX_HEIGHT		11

/* Per-entry marks. */
typedef unsigned int xa_mark_t;
#define XA_MARK_DIRTY		0u
#define XA_MARK_TOWRITEBACK	1u
#define XA_MAX_MARKS		2u

struct xa_node;

struct xarray {
	spinlock_t xa_lock;
	/*
	 * The root node, or NULL when empty; never an entry, so a reader
	 * tells nodes from entries by the node's shift alone. Written with
	 * smp_store_release under xa_lock, read with smp_load_acquire.
	 */
	struct xa_node *xa_head;
};

#define XARRAY_INIT	{ __SPIN_LOCK_UNLOCKED, NULL }

/*
 * Nodes allocated ahead of a locked store, owned by the caller (usually on
 * its stack). Not shared: only the thread that filled it uses it.
 */
struct xa_preload {
	struct xa_node *nodes;	/* spare nodes, chained through ->parent */
	unsigned int nr;	/* nodes on the chain */
	unsigned int want;	/* set by a locked store that found too few */
};

#define XA_PRELOAD_INIT	{ NULL, 0, 0 }

void xa_init(struct xarray *xa);
/*
 * xa_destroy - drop every node (after a grace period); entries are the
 * caller's to free, before or after. Locking: takes xa_lock.
 */
void xa_destroy(struct xarray *xa);

static inline bool xa_empty(struct xarray *xa)
{
	return READ_ONCE(xa->xa_head) == NULL;
}

/*
 * Readers. Locking: none needed (each enters RCU itself); also valid
 * under xa_lock. A reader racing with writers sees each slot either before
 * or after a write; an entry present for the whole call is always found.
 */
void *xa_load(struct xarray *xa, uint64_t index);
/*
 * xa_find - the first entry at an index in [*index, max]; on success
 * *index is set to its index, else *index is left alone and NULL returned.
 * xa_find_after - the same, strictly after *index.
 */
void *xa_find(struct xarray *xa, uint64_t *index, uint64_t max);
void *xa_find_after(struct xarray *xa, uint64_t *index, uint64_t max);
void *xa_find_marked(struct xarray *xa, uint64_t *index, uint64_t max,
		     xa_mark_t mark);
void *xa_find_after_marked(struct xarray *xa, uint64_t *index, uint64_t max,
			   xa_mark_t mark);
bool xa_get_mark(struct xarray *xa, uint64_t index, xa_mark_t mark);

/* Each entry in [first, last] in index order; @index is a uint64_t lvalue. */
#define xa_for_each_range(xa, index, entry, first, last)		\
	for ((index) = (first), (entry) = xa_find((xa), &(index), (last)); \
	     (entry);							\
	     (entry) = xa_find_after((xa), &(index), (last)))

#define xa_for_each(xa, index, entry)					\
	xa_for_each_range(xa, index, entry, 0, UINT64_MAX)

#define xa_for_each_marked(xa, index, entry, first, last, mark)	\
	for ((index) = (first),						\
	     (entry) = xa_find_marked((xa), &(index), (last), (mark));	\
	     (entry);							\
	     (entry) = xa_find_after_marked((xa), &(index), (last), (mark)))

/*
 * Writers that take xa_lock themselves. Locking: must not hold xa_lock;
 * may be called inside an RCU read-side section (they never wait for one).
 * Storing NULL erases. Return: 0, -EINVAL (NULL to xa_insert), -EEXIST
 * (xa_insert on a present index) or -ENOMEM, in which case nothing changed.
 */
int xa_store(struct xarray *xa, uint64_t index, void *entry, void **old);
int xa_insert(struct xarray *xa, uint64_t index, void *entry);
void *xa_erase(struct xarray *xa, uint64_t index);
/*
 * xa_cmpxchg - store @new at @index only if the current entry is @old.
 * Return: the entry that was current (== @old on success). *err is set to
 * 0, or -ENOMEM when @new could not be stored for want of memory; check
 * it before reading success from the return value. @err may be NULL.
 */
void *xa_cmpxchg(struct xarray *xa, uint64_t index, void *old, void *new,
		 int *err);
void xa_set_mark(struct xarray *xa, uint64_t index, xa_mark_t mark);
void xa_clear_mark(struct xarray *xa, uint64_t index, xa_mark_t mark);

/*
 * xa_preload - make @pl hold the nodes a store at @index needs, judged
 * from a lockless look at the tree (or more, if a locked store said so).
 * Locking: must not hold xa_lock (it allocates). Return: 0 or -ENOMEM.
 * xa_preload_end - free the nodes left in @pl. Locking: none.
 */
int xa_preload(struct xa_preload *pl, struct xarray *xa, uint64_t index);
void xa_preload_end(struct xa_preload *pl);

/*
 * The same writers for a caller that holds xa_lock. They never allocate;
 * nodes come from @pl (may be NULL when none are needed, e.g. replacing a
 * present entry). On -ENOMEM nothing changed and @pl->want says how many
 * nodes to preload before retrying.
 * Locking: xa_lock held by the caller.
 */
int __xa_store(struct xarray *xa, uint64_t index, void *entry, void **old,
	       struct xa_preload *pl);
int __xa_insert(struct xarray *xa, uint64_t index, void *entry,
		struct xa_preload *pl);
void *__xa_erase(struct xarray *xa, uint64_t index);
void *__xa_cmpxchg(struct xarray *xa, uint64_t index, void *old, void *new,
		   struct xa_preload *pl, int *err);
void __xa_set_mark(struct xarray *xa, uint64_t index, xa_mark_t mark);
void __xa_clear_mark(struct xarray *xa, uint64_t index, xa_mark_t mark);

/*
 * Test hooks. xa_debug_live_nodes: nodes allocated and not yet freed
 * (spares in a preload included; freeing waits for a grace period, so
 * read it after rcu_barrier()). xa_debug_fail_nth: make the @n-th node
 * allocation from now fail (1 = the next), 0 to stop. Process-wide.
 */
long xa_debug_live_nodes(void);
void xa_debug_fail_nth(long n);
/*
 * xa_debug_check - verify every node's shape, counts, parent links and
 * mark summaries, and that the tree is no taller than it needs to be.
 * Locking: xa_lock held, or no writer running. Return: the number of
 * nodes in the tree, or -1 (after printing what is wrong).
 */
long xa_debug_check(struct xarray *xa);

#endif /* UMM_XARRAY_H */
