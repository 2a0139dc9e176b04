/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vma_tree.h - the RCU-safe ordered range map behind an mm's VMAs.
 *
 * A map of non-overlapping half-open ranges [start, end) of the key space
 * [0, VMA_TREE_KEY_MAX) to non-NULL entries. Lookups, neighbour searches,
 * ordered walks and free-gap searches run lock-free inside rcu_read_lock();
 * writers are serialized by a lock the caller owns (mmap_lock for write).
 *
 * A write is one copy-on-write step: the nodes that change are copied,
 * the new root is published with one release store, the replaced nodes are
 * freed after a grace period (by a reclaimer thread, or call_rcu); or, for
 * an exact fit of one slot, one release store into that slot; or, for an
 * entry into the gap that ends a leaf with room, slots written past the
 * leaf's count and one release store of the count. A lookup
 * therefore sees each slot before a write or after it, never a torn one,
 * which is what lets a fault find its VMA without mmap_lock (seed 004,
 * lock_vma_under_rcu). A longer lockless walk (an iterator, a gap search)
 * may see a later store in place beside an older copied path: its ranges
 * never overlap, but the mix may never have existed; callers that need
 * one version hold the writer lock. The shape is the maple tree's: 256-byte
 * nodes, leaves of 15 slots, internal nodes of 10 children with the
 * largest free gap below each child.
 */
#ifndef UMM_VMA_TREE_H
#define UMM_VMA_TREE_H

#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

/* Keys are [0, VMA_TREE_KEY_MAX): a range may end at, not include, it. */
#define VMA_TREE_KEY_MAX	UINT64_MAX
/* Levels a tree can have: 2^64 slots fit in 28 with the fill it keeps. */
#define VMA_TREE_MAX_HEIGHT	32

struct vt_node;
struct vt_batch;
struct vt_txn;

struct vma_tree {
	/* writers: smp_store_release under the external lock; readers: RCU */
	struct vt_node *root;
	/*
	 * Writes that changed nodes, published: smp_store_release after the
	 * root; for cursors (a store in place keeps every node, and so it).
	 */
	uint64_t seq;
	unsigned int height;	/* levels, leaves included; the external lock */
	/*
	 * What only writers touch, on a line of its own: lockless lookups
	 * read the line above, which a store in place leaves alone.
	 */
	uint64_t count __cacheline_aligned; /* entries; WRITE_ONCE, external lock */
	struct vt_batch *retired;	/* unpublished, for a grace period; as above */
	struct vt_batch *spare;	/* free nodes for the next writes; as above */
	struct vt_batch *empty;	/* a batch kept for the next retirement; as above */
	struct vt_batch *eretired;	/* entries' memory, as retired; as above */
	struct vt_batch *espare;	/* entries' memory for reuse; as above */
	struct vt_txn *txn;	/* a write's scratch space; the external lock */
	/*
	 * Moves on before entries' memory this tree retired goes to a grace
	 * period (vma_tree_entry_gen), once a batch: on a line of its own,
	 * which writes in place and the count leave alone. smp_store_release
	 * under the external lock; read locklessly.
	 */
	uint64_t egen __cacheline_aligned;
};

struct vma_tree_range {
	uint64_t start, end;	/* [start, end), end > start */
	void *entry;		/* non-NULL */
};

/*
 * A forward walk: the root is read once at vma_tree_iter_init(), so the
 * walk follows one shape while writers publish new ones; slots written in
 * place meanwhile are seen as they are (see above). Under RCU only, the
 * walk is safe but not a snapshot; under the writer lock it is exact.
 */
struct vma_tree_iter {
	struct vt_node *root;	/* the snapshot */
	struct vt_node *leaf;	/* current leaf, NULL: descend again */
	uint64_t leaf_min, leaf_max;
	uint64_t addr;		/* next entry must end after this */
	unsigned int slot;
	unsigned int leaf_nr;	/* the leaf's slot count, loaded once */
};

/*
 * A finger into the tree for a run of lookups near one another (a VMA and
 * its neighbours, an ordered walk): each lookup starts from the lowest
 * node of the previous one's path whose range holds the new key, so the
 * run costs about one descent instead of one each. The path belongs to
 * one version of the tree; a lookup after a writer published another
 * starts from the new root. So each lookup sees one whole version, as
 * the plain ones do (successive ones may see different versions).
 * Locking: a cursor lives inside one rcu_read_lock() section, or while
 * the writer lock is held (then across the holder's own writes too).
 */
struct vma_tree_cursor {
	struct vma_tree *tree;
	uint64_t seq;		/* the version the path was taken in */
	unsigned int depth;	/* nodes on the path, root first; 0: none */
	struct vt_node *node[VMA_TREE_MAX_HEIGHT];
	uint64_t min[VMA_TREE_MAX_HEIGHT], max[VMA_TREE_MAX_HEIGHT];
};

void vma_tree_init(struct vma_tree *t);
void vma_tree_destroy(struct vma_tree *t);

/* Readers. Locking: inside rcu_read_lock(), or holding the writer lock. */
void *vma_tree_find(struct vma_tree *t, uint64_t addr,
		    uint64_t *start, uint64_t *end);
void *vma_tree_find_next(struct vma_tree *t, uint64_t addr,
			 uint64_t *start, uint64_t *end);
void *vma_tree_find_prev(struct vma_tree *t, uint64_t addr,
			 uint64_t *start, uint64_t *end);
uint64_t vma_tree_count(struct vma_tree *t);
void vma_tree_iter_init(struct vma_tree_iter *it, struct vma_tree *t,
			uint64_t addr);
void *vma_tree_iter_next(struct vma_tree_iter *it,
			 uint64_t *start, uint64_t *end);
void vma_tree_cursor_init(struct vma_tree_cursor *c, struct vma_tree *t);
void *vma_tree_cursor_find(struct vma_tree_cursor *c, uint64_t addr,
			   uint64_t *start, uint64_t *end);
void *vma_tree_cursor_find_next(struct vma_tree_cursor *c, uint64_t addr,
				uint64_t *start, uint64_t *end);
void *vma_tree_cursor_find_prev(struct vma_tree_cursor *c, uint64_t addr,
				uint64_t *start, uint64_t *end);
int vma_tree_gap_top_down(struct vma_tree *t, uint64_t low, uint64_t high,
			  uint64_t size, uint64_t align_mask, uint64_t *addr);
int vma_tree_gap_bottom_up(struct vma_tree *t, uint64_t low, uint64_t high,
			   uint64_t size, uint64_t align_mask, uint64_t *addr);

/* Writers. Locking: the external writer lock held; not inside RCU. */
int vma_tree_replace(struct vma_tree *t, uint64_t start, uint64_t end,
		     const struct vma_tree_range *new, size_t nr);
int vma_tree_insert(struct vma_tree *t, uint64_t start, uint64_t end,
		    void *entry);
int vma_tree_erase(struct vma_tree *t, uint64_t start, uint64_t end);

/* Entry memory, recycled after a grace period. Locking: as writers. */
void *vma_tree_entry_alloc(struct vma_tree *t);
bool vma_tree_entry_retire(struct vma_tree *t, void *e);

/*
 * vma_tree_entry_gen - a value that moves on before the memory of any
 * entry retired from @t can start its grace period. So an entry found in
 * @t by a lookup made after reading g here stays safe to dereference in
 * any later RCU read-side section that reads g here again: the entry may
 * have left the tree since, but its memory has not been reused or freed
 * (if the generation moved, that section began before the grace period).
 * It lets a reader keep a pointer to an entry across sections, as a cache.
 * Locking: inside rcu_read_lock().
 */
static inline uint64_t vma_tree_entry_gen(struct vma_tree *t)
{
	return __atomic_load_n(&t->egen, __ATOMIC_ACQUIRE);
}

/* Debugging and tests. */
void vma_tree_barrier(void);
int vma_tree_validate(struct vma_tree *t);
long vma_tree_nodes_live(void);
void vma_tree_fail_alloc_after(long n);

#endif /* UMM_VMA_TREE_H */
