// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * interval_tree.c - the treap behind interval_tree.h.
 *
 * Nodes are ordered by (start, address), so equal intervals of different
 * owners coexist; the heap order is on a hash of the address, which makes
 * the shape independent of insertion order (no degenerate trees from
 * sorted inserts, the common case when a file is mapped page by page)
 * and needs no random state.
 */
#include "interval_tree.h"

static uint64_t prio(const struct itree_node *n)
{
	uint64_t x = (uint64_t)(uintptr_t)n;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static bool before(const struct itree_node *a, const struct itree_node *b)
{
	if (a->start != b->start)
		return a->start < b->start;
	return (uintptr_t)a < (uintptr_t)b;
}

static void update(struct itree_node *n)
{
	uint64_t m = n->last;

	if (n->left && n->left->subtree_last > m)
		m = n->left->subtree_last;
	if (n->right && n->right->subtree_last > m)
		m = n->right->subtree_last;
	n->subtree_last = m;
}

/* Split @t into the nodes before @key (*l) and after it (*r). */
static void split(struct itree_node *t, const struct itree_node *key,
		  struct itree_node **l, struct itree_node **r)
{
	if (!t) {
		*l = *r = NULL;
		return;
	}
	if (before(t, key)) {
		split(t->right, key, &t->right, r);
		*l = t;
	} else {
		split(t->left, key, l, &t->left);
		*r = t;
	}
	update(t);
}

/* Join @a and @b, every node of @a before every node of @b. */
static struct itree_node *merge(struct itree_node *a, struct itree_node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (prio(a) > prio(b)) {
		a->right = merge(a->right, b);
		update(a);
		return a;
	}
	b->left = merge(a, b->left);
	update(b);
	return b;
}

static struct itree_node *insert(struct itree_node *t, struct itree_node *n)
{
	if (!t || prio(n) > prio(t)) {
		split(t, n, &n->left, &n->right);
		update(n);
		return n;
	}
	if (before(n, t))
		t->left = insert(t->left, n);
	else
		t->right = insert(t->right, n);
	update(t);
	return t;
}

static struct itree_node *remove_node(struct itree_node *t, struct itree_node *n,
				      bool *found)
{
	if (!t)
		return NULL;	/* not there: a caller's bug, tolerated */
	if (t == n) {
		*found = true;
		return merge(t->left, t->right);
	}
	if (before(n, t))
		t->left = remove_node(t->left, n, found);
	else
		t->right = remove_node(t->right, n, found);
	update(t);
	return t;
}

void itree_insert(struct itree_root *root, struct itree_node *n)
{
	n->left = n->right = NULL;
	n->subtree_last = n->last;
	root->node = insert(root->node, n);
	root->count++;
}

void itree_remove(struct itree_root *root, struct itree_node *n)
{
	bool found = false;

	root->node = remove_node(root->node, n, &found);
	if (found)
		root->count--;
	n->left = n->right = NULL;
}

static int walk(struct itree_node *t, uint64_t start, uint64_t last,
		int (*fn)(struct itree_node *, void *), void *arg)
{
	int ret;

	while (t && t->subtree_last >= start) {
		ret = walk(t->left, start, last, fn, arg);
		if (ret)
			return ret;
		if (t->start > last)
			return 0;	/* everything to the right starts later */
		if (t->last >= start) {
			ret = fn(t, arg);
			if (ret)
				return ret;
		}
		t = t->right;
	}
	return 0;
}

int itree_for_each_overlap(struct itree_root *root, uint64_t start, uint64_t last,
			   int (*fn)(struct itree_node *n, void *arg), void *arg)
{
	return walk(root->node, start, last, fn, arg);
}

static long check(const struct itree_node *t, const struct itree_node *lo,
		  const struct itree_node *hi)
{
	long l, r;
	uint64_t m;

	if (!t)
		return 0;
	if ((lo && !before(lo, t)) || (hi && !before(t, hi)))
		return -1;
	if ((t->left && prio(t->left) > prio(t)) || (t->right && prio(t->right) > prio(t)))
		return -1;
	if (t->last < t->start)
		return -1;
	l = check(t->left, lo, t);
	r = check(t->right, t, hi);
	if (l < 0 || r < 0)
		return -1;
	m = t->last;
	if (t->left && t->left->subtree_last > m)
		m = t->left->subtree_last;
	if (t->right && t->right->subtree_last > m)
		m = t->right->subtree_last;
	return m == t->subtree_last ? l + r + 1 : -1;
}

long itree_check(const struct itree_root *root)
{
	long n = check(root->node, NULL, NULL);

	return n >= 0 && (uint64_t)n == root->count ? n : -1;
}
