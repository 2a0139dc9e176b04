/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * interval_tree.h - an intrusive interval tree of closed ranges
 * [start, last], augmented with the largest `last` of each subtree so that
 * a stabbing query visits only the subtrees that can overlap. The kernel
 * uses an augmented rbtree; this one is a treap (priorities from a hash of
 * the node's address), which keeps the same O(log n) expectation with
 * simpler rebalancing. Used for a file's i_mmap: the VMAs mapping it,
 * keyed by the file pages they cover.
 *
 * Locking: the owner's lock (i_mmap_rwsem): write for insert/remove, read
 * or write for queries. Nothing here is lockless.
 */
#ifndef UMM_INTERVAL_TREE_H
#define UMM_INTERVAL_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct itree_node {
	struct itree_node *left, *right;
	uint64_t start, last;		/* the interval, inclusive */
	uint64_t subtree_last;		/* max last below and including this node */
};

struct itree_root {
	struct itree_node *node;
	uint64_t count;
};

#define ITREE_ROOT_INIT	((struct itree_root){ NULL, 0 })

/* Insert @n covering [n->start, n->last] (set by the caller). */
void itree_insert(struct itree_root *root, struct itree_node *n);
/* Remove @n, which must be in the tree. */
void itree_remove(struct itree_root *root, struct itree_node *n);

/*
 * itree_for_each_overlap - call @fn on every node overlapping
 * [start, last], in ascending start order, until @fn returns non-zero
 * (which is returned). @fn must not change the tree.
 */
int itree_for_each_overlap(struct itree_root *root, uint64_t start, uint64_t last,
			   int (*fn)(struct itree_node *n, void *arg), void *arg);

/* Debug: check ordering, heap property and augmentation; returns nodes. */
long itree_check(const struct itree_root *root);

#endif /* UMM_INTERVAL_TREE_H */
