/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vma_tree.h - the RCU-safe ordered range map behind an mm's VMAs.
 *
 * A map of non-overlapping half-open ranges [start, end) of the key space
 * [0, VMA_TREE_KEY_MAX) to non-NULL entries. Lookups, neighbour searches,
 * ordered walks and free-gap searches run lock-free inside rcu_read_lock();
 * writers are serialized by a lock the caller owns (mmap_lock for write).
 *
 * Every write is one copy-on-write step: the nodes that change are copied,
 * the new root is published with one release store, the replaced nodes go
 * to call_rcu. A reader therefore sees the tree before a write or after it,
 * never a mix, which is what lets a fault find its VMA without mmap_lock
 * (seed 004, lock_vma_under_rcu). The shape is the maple tree's: 256-byte
 * nodes, leaves of 15 slots, internal nodes of 10 children with the
 * largest free gap below each child.
 */
#ifndef UMM_VMA_TREE_H
#define UMM_VMA_TREE_H

#include <stddef.h>
#include <stdint.h>

/* Keys are [0, VMA_TREE_KEY_MAX): a range may end at, not include, it. */
#define VMA_TREE_KEY_MAX	UINT64_MAX

struct vt_node;
struct vt_batch;
struct vt_txn;

struct vma_tree {
	/* writers: smp_store_release under the external lock; readers: RCU */
	struct vt_node *root;
	uint64_t count;		/* entries; WRITE_ONCE under the external lock */
	unsigned int height;	/* levels, leaves included; the external lock */
	struct vt_batch *retired;	/* unpublished, waiting for call_rcu; as above */
	struct vt_batch *spare;	/* free nodes for the next writes; as above */
	struct vt_batch *empty;	/* a batch kept for the next retirement; as above */
	struct vt_txn *txn;	/* a write's scratch space; the external lock */
};

struct vma_tree_range {
	uint64_t start, end;	/* [start, end), end > start */
	void *entry;		/* non-NULL */
};

/*
 * A forward walk over one snapshot of the tree: the root is read once at
 * vma_tree_iter_init(), so the walk is consistent even while writers
 * publish new versions. Use it inside one RCU read-side section.
 */
struct vma_tree_iter {
	struct vt_node *root;	/* the snapshot */
	struct vt_node *leaf;	/* current leaf, NULL: descend again */
	uint64_t leaf_min, leaf_max;
	uint64_t addr;		/* next entry must end after this */
	unsigned int slot;
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

/* Debugging and tests. */
int vma_tree_validate(struct vma_tree *t);
long vma_tree_nodes_live(void);
void vma_tree_fail_alloc_after(long n);

#endif /* UMM_VMA_TREE_H */
