// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * xarray.c - the page cache's radix tree: 64-slot nodes, lock-free readers
 * under RCU, writers under xa->xa_lock that never allocate with it held.
 *
 * Shape. The root is always a node (never an entry), so whether a slot
 * holds a child or an entry follows from its node's shift alone, which is
 * fixed when the node is made. Slots of a node with shift 0 hold entries;
 * all others hold children. The root covers [0, 2^(shift + 6)); the tree
 * grows by adding a root above the old one (old root in slot 0) and
 * shrinks by promoting slot 0 when it is the root's only child. A node
 * holds at least one slot; the one that empties is unlinked at once.
 *
 * Why readers can walk without a lock. A node is changed only while it is
 * linked; once unlinked it is frozen and freed by call_rcu. A node is
 * unlinked either because it is empty (every index below it was absent at
 * that moment) or because it was a root being shrunk away (its slot 0
 * still leads to the same, still live, child; its other slots are empty
 * and those indices are absent). Nodes never move between indices, so a
 * reader holding a stale node sees either the live state or a state the
 * tree really had while the reader ran. Every child and entry pointer is
 * published with smp_store_release after the thing it points to is set
 * up, and read with smp_load_acquire.
 *
 * Marks. Each node keeps, per mark, a bitmap of its slots: in a leaf, the
 * marked entries; above, the children with any bit set. Writers keep the
 * summaries exact under xa_lock; readers use them as hints (an entry
 * they reach is re-read, and a stale bit only costs a wasted descent).
 */
#include <errno.h>
#include <string.h>
#include "rcu.h"
#include "xarray.h"

#define XA_SLOT_MASK	((uint64_t)XA_CHUNK_SIZE - 1)
/* A pseudo-mark for the finders: any present entry. */
#define XA_PRESENT	XA_MAX_MARKS

struct xa_node {
	uint8_t shift;		/* index bits below this node; fixed */
	uint8_t offset;		/* slot in ->parent; xa_lock */
	uint8_t count;		/* non-NULL slots; xa_lock */
	struct xa_node *parent;	/* NULL at the root; xa_lock, writers only */
	/* per-mark slot bitmaps; WRITE_ONCE under xa_lock, READ_ONCE by readers */
	uint64_t marks[XA_MAX_MARKS];
	/* children or entries; smp_store_release under xa_lock, acquire loads */
	void *slots[XA_CHUNK_SIZE];
	struct rcu_head rcu;	/* once unlinked */
};

/* Test hooks: atomics, any thread. */
static long xa_live_nodes;
static long xa_fail_countdown;

static inline unsigned int xa_offset(uint64_t index, unsigned int shift)
{
	return (index >> shift) & XA_SLOT_MASK;
}

/* The index bits a node with @shift spans: it covers [base, base + mask]. */
static inline uint64_t xa_span_mask(unsigned int shift)
{
	if (shift + XA_CHUNK_SHIFT >= 64)
		return UINT64_MAX;
	return (1ULL << (shift + XA_CHUNK_SHIFT)) - 1;
}

/* Levels a tree needs to hold @index. */
static unsigned int xa_height_for(uint64_t index)
{
	unsigned int h = 1;

	while (h < XA_MAX_HEIGHT && (index >> (h * XA_CHUNK_SHIFT)))
		h++;
	return h;
}

static inline unsigned int xa_node_height(const struct xa_node *node)
{
	return node->shift / XA_CHUNK_SHIFT + 1;
}

/* ---- node allocation and freeing ---- */

static struct xa_node *xa_node_alloc(void)
{
	struct xa_node *node;

	if (unlikely(READ_ONCE(xa_fail_countdown) > 0) &&
	    __atomic_sub_fetch(&xa_fail_countdown, 1, __ATOMIC_RELAXED) == 0)
		return NULL;
	node = malloc(sizeof(*node));
	if (!node)
		return NULL;
	atomic_fetch_add_relaxed(&xa_live_nodes, 1);
	return node;
}

static void xa_node_release(struct xa_node *node)
{
	free(node);
	atomic_fetch_add_relaxed(&xa_live_nodes, -1);
}

static void xa_node_free_rcu(struct rcu_head *head)
{
	xa_node_release(container_of(head, struct xa_node, rcu));
}

/*
 * xa_node_free - free an unlinked node once no reader can hold it.
 * Locking: xa_lock held (the node was linked under it).
 */
static void xa_node_free(struct xa_node *node)
{
	call_rcu(&node->rcu, xa_node_free_rcu);
}

/*
 * xa_node_take - a spare node from @pl, set up for its place in the tree.
 * The caller checked that @pl holds enough. Locking: xa_lock held.
 */
static struct xa_node *xa_node_take(struct xa_preload *pl, unsigned int shift,
				    struct xa_node *parent, unsigned int offset)
{
	struct xa_node *node = pl->nodes;

	BUG_ON(!node || !pl->nr);
	pl->nodes = node->parent;
	pl->nr--;
	/* Unpublished: plain stores, ordered by the release that links it. */
	memset(node, 0, sizeof(*node));
	node->shift = shift;
	node->parent = parent;
	node->offset = offset;
	return node;
}

void xa_preload_end(struct xa_preload *pl)
{
	while (pl->nodes) {
		struct xa_node *node = pl->nodes;

		pl->nodes = node->parent;
		xa_node_release(node);
	}
	pl->nr = 0;
	pl->want = 0;
}

/* ---- helpers shared by readers and writers ---- */

/*
 * xa_nodes_needed - how many new nodes storing at @index would link in.
 * Locking: xa_lock held (exact), or inside rcu_read_lock() (an estimate).
 */
static unsigned int xa_nodes_needed(struct xarray *xa, uint64_t index)
{
	struct xa_node *node = smp_load_acquire(&xa->xa_head);
	unsigned int want = xa_height_for(index);
	unsigned int height;

	if (!node)
		return want;
	height = xa_node_height(node);
	if (want > height) {
		/*
		 * New roots above the old one, then a fresh path below the
		 * top root: @index's top digit is not 0, so it shares nothing.
		 */
		return (want - height) + (want - 1);
	}
	while (node->shift) {
		struct xa_node *child;

		child = smp_load_acquire(&node->slots[xa_offset(index, node->shift)]);
		if (!child)
			return node->shift / XA_CHUNK_SHIFT;
		node = child;
	}
	return 0;
}

/*
 * xa_leaf_locked - the leaf that holds @index, or NULL if none.
 * Locking: xa_lock held.
 */
static struct xa_node *xa_leaf_locked(struct xarray *xa, uint64_t index)
{
	struct xa_node *node = xa->xa_head;

	if (!node || index > xa_span_mask(node->shift))
		return NULL;
	while (node && node->shift)
		node = node->slots[xa_offset(index, node->shift)];
	return node;
}

/* ---- marks ---- */

/*
 * Set @mark on slot @off of @node and summarise it up the tree; stops at
 * the first ancestor that already knows. Locking: xa_lock held.
 */
static void xa_node_set_mark(struct xa_node *node, unsigned int off,
			     xa_mark_t mark)
{
	while (node) {
		uint64_t bits = node->marks[mark], bit = 1ULL << off;

		if (bits & bit)
			return;
		WRITE_ONCE(node->marks[mark], bits | bit);
		off = node->offset;
		node = node->parent;
	}
}

/*
 * Clear @mark on slot @off of @node; an ancestor's bit goes only when the
 * node below it has no bit of that mark left. Locking: xa_lock held.
 */
static void xa_node_clear_mark(struct xa_node *node, unsigned int off,
			       xa_mark_t mark)
{
	while (node) {
		uint64_t bits = node->marks[mark], bit = 1ULL << off;

		if (!(bits & bit))
			return;
		WRITE_ONCE(node->marks[mark], bits & ~bit);
		if (bits & ~bit)
			return;
		off = node->offset;
		node = node->parent;
	}
}

void __xa_set_mark(struct xarray *xa, uint64_t index, xa_mark_t mark)
{
	struct xa_node *leaf;
	unsigned int off = xa_offset(index, 0);

	lockdep_assert_held(&xa->xa_lock);
	BUG_ON(mark >= XA_MAX_MARKS);
	leaf = xa_leaf_locked(xa, index);
	if (leaf && leaf->slots[off])
		xa_node_set_mark(leaf, off, mark);
}

void __xa_clear_mark(struct xarray *xa, uint64_t index, xa_mark_t mark)
{
	struct xa_node *leaf;

	lockdep_assert_held(&xa->xa_lock);
	BUG_ON(mark >= XA_MAX_MARKS);
	leaf = xa_leaf_locked(xa, index);
	if (leaf)
		xa_node_clear_mark(leaf, xa_offset(index, 0), mark);
}

/* Locking: takes xa_lock. */
void xa_set_mark(struct xarray *xa, uint64_t index, xa_mark_t mark)
{
	spin_lock(&xa->xa_lock);
	__xa_set_mark(xa, index, mark);
	spin_unlock(&xa->xa_lock);
}

/* Locking: takes xa_lock. */
void xa_clear_mark(struct xarray *xa, uint64_t index, xa_mark_t mark)
{
	spin_lock(&xa->xa_lock);
	__xa_clear_mark(xa, index, mark);
	spin_unlock(&xa->xa_lock);
}

/* ---- writers ---- */

/*
 * xa_grow - put a new root above @head (which goes to slot 0).
 * Locking: xa_lock held; @pl holds a node.
 */
static struct xa_node *xa_grow(struct xarray *xa, struct xa_node *head,
			       struct xa_preload *pl)
{
	struct xa_node *root;
	xa_mark_t m;

	root = xa_node_take(pl, head->shift + XA_CHUNK_SHIFT, NULL, 0);
	root->slots[0] = head;
	root->count = 1;
	for (m = 0; m < XA_MAX_MARKS; m++)
		root->marks[m] = head->marks[m] ? 1 : 0;
	head->parent = root;
	head->offset = 0;
	smp_store_release(&xa->xa_head, root);
	return root;
}

/*
 * xa_create - make the path to @index's leaf exist and return the leaf.
 * Locking: xa_lock held; @pl holds xa_nodes_needed() nodes, so this
 * cannot fail. Each new node is complete before the store that links it.
 */
static struct xa_node *xa_create(struct xarray *xa, uint64_t index,
				 struct xa_preload *pl)
{
	struct xa_node *node = xa->xa_head;
	unsigned int want = xa_height_for(index);

	if (!node) {
		node = xa_node_take(pl, (want - 1) * XA_CHUNK_SHIFT, NULL, 0);
		smp_store_release(&xa->xa_head, node);
	}
	while (xa_node_height(node) < want)
		node = xa_grow(xa, node, pl);
	while (node->shift) {
		unsigned int off = xa_offset(index, node->shift);
		struct xa_node *child = node->slots[off];

		if (!child) {
			child = xa_node_take(pl, node->shift - XA_CHUNK_SHIFT,
					     node, off);
			node->count++;
			smp_store_release(&node->slots[off], child);
		}
		node = child;
	}
	return node;
}

/*
 * xa_delete_empty - unlink @node and each ancestor it leaves empty.
 * Locking: xa_lock held.
 */
static void xa_delete_empty(struct xarray *xa, struct xa_node *node)
{
	while (!node->count) {
		struct xa_node *parent = node->parent;

		/* Marks were cleared with the last entry, up the tree. */
		VM_BUG_ON(node->marks[0] || node->marks[XA_MAX_MARKS - 1]);
		if (!parent) {
			WRITE_ONCE(xa->xa_head, NULL);
			xa_node_free(node);
			return;
		}
		WRITE_ONCE(parent->slots[node->offset], NULL);
		parent->count--;
		xa_node_free(node);
		node = parent;
	}
}

/*
 * xa_shrink - drop roots whose only child is in slot 0. The old root keeps
 * pointing at that child, so a reader that loaded it still finds it.
 * Locking: xa_lock held.
 */
static void xa_shrink(struct xarray *xa)
{
	for (;;) {
		struct xa_node *root = xa->xa_head, *child;

		if (!root || !root->shift || root->count != 1)
			return;
		child = root->slots[0];
		if (!child)
			return;
		child->parent = NULL;
		child->offset = 0;
		smp_store_release(&xa->xa_head, child);
		xa_node_free(root);
	}
}

/*
 * xa_remove_slot - erase the present entry in slot @off of @leaf.
 * Locking: xa_lock held.
 */
static void xa_remove_slot(struct xarray *xa, struct xa_node *leaf,
			   unsigned int off)
{
	xa_mark_t m;

	for (m = 0; m < XA_MAX_MARKS; m++)
		xa_node_clear_mark(leaf, off, m);
	WRITE_ONCE(leaf->slots[off], NULL);
	leaf->count--;
	xa_delete_empty(xa, leaf);
	xa_shrink(xa);
}

void *__xa_erase(struct xarray *xa, uint64_t index)
{
	struct xa_node *leaf;
	unsigned int off = xa_offset(index, 0);
	void *cur;

	lockdep_assert_held(&xa->xa_lock);
	leaf = xa_leaf_locked(xa, index);
	if (!leaf)
		return NULL;
	cur = leaf->slots[off];
	if (cur)
		xa_remove_slot(xa, leaf, off);
	return cur;
}

enum xa_op { XA_OP_STORE, XA_OP_INSERT, XA_OP_CMPXCHG };

/*
 * xa_write - the one locked write: store @entry at @index (erase if NULL),
 * unless @op says to leave a present entry (insert) or one that is not
 * @expect (cmpxchg). *@cur gets the entry found. Marks of a replaced entry
 * stay. Return: 0, -EEXIST, or -ENOMEM with nothing changed and
 * @pl->want set. Locking: xa_lock held.
 */
static int xa_write(struct xarray *xa, uint64_t index, void *entry,
		    void *expect, enum xa_op op, void **cur,
		    struct xa_preload *pl)
{
	unsigned int off = xa_offset(index, 0), need;
	struct xa_node *leaf;
	void *old;

	lockdep_assert_held(&xa->xa_lock);
	leaf = xa_leaf_locked(xa, index);
	old = leaf ? leaf->slots[off] : NULL;
	*cur = old;
	if (op == XA_OP_INSERT && old)
		return -EEXIST;
	if (op == XA_OP_CMPXCHG && old != expect)
		return 0;
	if (!entry) {
		if (old)
			xa_remove_slot(xa, leaf, off);
		return 0;
	}
	if (!leaf) {
		need = xa_nodes_needed(xa, index);
		if (!pl || pl->nr < need) {
			if (pl)
				pl->want = need;
			return -ENOMEM;
		}
		leaf = xa_create(xa, index, pl);
	}
	if (!old)
		leaf->count++;
	/* Release: what the caller put in *entry is visible to readers. */
	smp_store_release(&leaf->slots[off], entry);
	return 0;
}

int __xa_store(struct xarray *xa, uint64_t index, void *entry, void **old,
	       struct xa_preload *pl)
{
	void *cur;
	int err = xa_write(xa, index, entry, NULL, XA_OP_STORE, &cur, pl);

	if (!err && old)
		*old = cur;
	return err;
}

int __xa_insert(struct xarray *xa, uint64_t index, void *entry,
		struct xa_preload *pl)
{
	void *cur;

	if (!entry)
		return -EINVAL;
	return xa_write(xa, index, entry, NULL, XA_OP_INSERT, &cur, pl);
}

void *__xa_cmpxchg(struct xarray *xa, uint64_t index, void *old, void *new,
		   struct xa_preload *pl, int *err)
{
	void *cur;
	int ret = xa_write(xa, index, new, old, XA_OP_CMPXCHG, &cur, pl);

	if (err)
		*err = ret;
	return cur;
}

/*
 * xa_write_unlocked - xa_write with xa_lock taken here; when nodes are
 * needed, drop the lock, allocate, and try again.
 * Locking: must not hold xa_lock.
 */
static int xa_write_unlocked(struct xarray *xa, uint64_t index, void *entry,
			     void *expect, enum xa_op op, void **cur)
{
	struct xa_preload pl = XA_PRELOAD_INIT;
	int err;

	for (;;) {
		spin_lock(&xa->xa_lock);
		err = xa_write(xa, index, entry, expect, op, cur, &pl);
		spin_unlock(&xa->xa_lock);
		if (err != -ENOMEM)
			break;
		err = xa_preload(&pl, xa, index);
		if (err)
			break;
	}
	xa_preload_end(&pl);
	return err;
}

int xa_store(struct xarray *xa, uint64_t index, void *entry, void **old)
{
	void *cur;
	int err = xa_write_unlocked(xa, index, entry, NULL, XA_OP_STORE, &cur);

	if (!err && old)
		*old = cur;
	return err;
}

int xa_insert(struct xarray *xa, uint64_t index, void *entry)
{
	void *cur;

	if (!entry)
		return -EINVAL;
	return xa_write_unlocked(xa, index, entry, NULL, XA_OP_INSERT, &cur);
}

void *xa_cmpxchg(struct xarray *xa, uint64_t index, void *old, void *new,
		 int *err)
{
	void *cur;
	int ret = xa_write_unlocked(xa, index, new, old, XA_OP_CMPXCHG, &cur);

	if (err)
		*err = ret;
	return cur;
}

/* Locking: takes xa_lock. */
void *xa_erase(struct xarray *xa, uint64_t index)
{
	void *cur;

	spin_lock(&xa->xa_lock);
	cur = __xa_erase(xa, index);
	spin_unlock(&xa->xa_lock);
	return cur;
}

/*
 * xa_preload - see xarray.h. The lockless count may be low if a writer
 * races; the locked store then says how many it wants, in @pl->want.
 * Locking: must not hold xa_lock.
 */
int xa_preload(struct xa_preload *pl, struct xarray *xa, uint64_t index)
{
	unsigned int need;

	rcu_read_lock();
	need = xa_nodes_needed(xa, index);
	rcu_read_unlock();
	if (need < pl->want)
		need = pl->want;
	while (pl->nr < need) {
		struct xa_node *node = xa_node_alloc();

		if (!node)
			return -ENOMEM;
		node->parent = pl->nodes;
		pl->nodes = node;
		pl->nr++;
	}
	pl->want = 0;
	return 0;
}

void xa_init(struct xarray *xa)
{
	spin_lock_init(&xa->xa_lock);
	WRITE_ONCE(xa->xa_head, NULL);
}

/* Locking: xa_lock held; @node already unreachable from the root. */
static void xa_free_subtree(struct xa_node *node)
{
	unsigned int i;

	if (node->shift) {
		for (i = 0; i < XA_CHUNK_SIZE; i++)
			if (node->slots[i])
				xa_free_subtree(node->slots[i]);
	}
	xa_node_free(node);
}

void xa_destroy(struct xarray *xa)
{
	struct xa_node *root;

	spin_lock(&xa->xa_lock);
	root = xa->xa_head;
	WRITE_ONCE(xa->xa_head, NULL);
	if (root)
		xa_free_subtree(root);
	spin_unlock(&xa->xa_lock);
}

/* ---- readers ---- */

/* Locking: none (enters RCU). */
void *xa_load(struct xarray *xa, uint64_t index)
{
	struct xa_node *node;
	void *entry = NULL;

	rcu_read_lock();
	node = smp_load_acquire(&xa->xa_head);
	if (!node || index > xa_span_mask(node->shift))
		goto out;
	for (;;) {
		entry = smp_load_acquire(&node->slots[xa_offset(index, node->shift)]);
		if (!entry || !node->shift)
			break;
		node = entry;
	}
out:
	rcu_read_unlock();
	return entry;
}

/* Locking: none (enters RCU). The answer may be stale by return. */
bool xa_get_mark(struct xarray *xa, uint64_t index, xa_mark_t mark)
{
	struct xa_node *node;
	bool ret = false;

	if (mark >= XA_MAX_MARKS)
		return false;
	rcu_read_lock();
	node = smp_load_acquire(&xa->xa_head);
	if (!node || index > xa_span_mask(node->shift))
		goto out;
	while (node && node->shift)
		node = smp_load_acquire(&node->slots[xa_offset(index, node->shift)]);
	if (node)
		ret = (READ_ONCE(node->marks[mark]) >> xa_offset(index, 0)) & 1;
out:
	rcu_read_unlock();
	return ret;
}

/*
 * The first slot at or after @off of @node that may hold what the walk
 * looks for, or XA_CHUNK_SIZE. Locking: inside rcu_read_lock().
 */
static unsigned int xa_next_slot(struct xa_node *node, unsigned int off,
				 unsigned int mark)
{
	uint64_t bits;

	if (mark == XA_PRESENT) {
		while (off < XA_CHUNK_SIZE && !READ_ONCE(node->slots[off]))
			off++;
		return off;
	}
	bits = READ_ONCE(node->marks[mark]) & (UINT64_MAX << off);
	return bits ? (unsigned int)__builtin_ctzll(bits) : XA_CHUNK_SIZE;
}

/*
 * xa_find_from - the first entry (with @mark, or any for XA_PRESENT) at an
 * index in [*indexp, max]. The walk keeps the path it came down, so an
 * exhausted node hands over to its parent's next slot without a restart.
 * Locking: none (enters RCU).
 */
static void *xa_find_from(struct xarray *xa, uint64_t *indexp, uint64_t max,
			  unsigned int mark)
{
	struct xa_node *path[XA_MAX_HEIGHT];
	uint64_t base[XA_MAX_HEIGHT];	/* first index under path[d] */
	uint64_t index = *indexp;
	struct xa_node *node;
	void *entry = NULL;
	int depth = 0;

	rcu_read_lock();
	node = smp_load_acquire(&xa->xa_head);
	if (!node || index > max)
		goto out;
	path[0] = node;
	base[0] = 0;
	for (;;) {
		unsigned int shift, off;
		uint64_t first, next;
		void *slot;

		node = path[depth];
		shift = node->shift;
		if (index - base[depth] > xa_span_mask(shift))
			goto up;
		off = xa_next_slot(node, xa_offset(index, shift), mark);
		if (off == XA_CHUNK_SIZE)
			goto up;
		first = base[depth] + ((uint64_t)off << shift);
		if (first > index)
			index = first;
		if (index > max)
			goto out;
		slot = smp_load_acquire(&node->slots[off]);
		if (slot && !shift) {
			entry = slot;
			break;
		}
		if (slot) {
			path[++depth] = slot;
			base[depth] = first;
			continue;
		}
		/* Erased since the scan: go on after this slot. */
		next = first + (1ULL << shift);
		if (next < first)
			goto out;
		index = next;
		continue;
up:
		/* Nothing left under @node: go on after its whole span. */
		if (!depth)
			goto out;
		next = base[depth] + xa_span_mask(shift) + 1;
		if (next < base[depth])
			goto out;
		if (next > index)
			index = next;
		depth--;
	}
	*indexp = index;
out:
	rcu_read_unlock();
	return entry;
}

void *xa_find(struct xarray *xa, uint64_t *index, uint64_t max)
{
	return xa_find_from(xa, index, max, XA_PRESENT);
}

void *xa_find_marked(struct xarray *xa, uint64_t *index, uint64_t max,
		     xa_mark_t mark)
{
	if (mark >= XA_MAX_MARKS)
		return NULL;
	return xa_find_from(xa, index, max, mark);
}

static void *xa_find_after_from(struct xarray *xa, uint64_t *index,
				uint64_t max, unsigned int mark)
{
	uint64_t next = *index + 1;
	void *entry;

	if (*index >= max)
		return NULL;
	entry = xa_find_from(xa, &next, max, mark);
	if (entry)
		*index = next;
	return entry;
}

void *xa_find_after(struct xarray *xa, uint64_t *index, uint64_t max)
{
	return xa_find_after_from(xa, index, max, XA_PRESENT);
}

void *xa_find_after_marked(struct xarray *xa, uint64_t *index, uint64_t max,
			   xa_mark_t mark)
{
	if (mark >= XA_MAX_MARKS)
		return NULL;
	return xa_find_after_from(xa, index, max, mark);
}

/* ---- test hooks ---- */

long xa_debug_live_nodes(void)
{
	return __atomic_load_n(&xa_live_nodes, __ATOMIC_RELAXED);
}

void xa_debug_fail_nth(long n)
{
	__atomic_store_n(&xa_fail_countdown, n, __ATOMIC_RELAXED);
}

#define XA_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "xa_debug_check: %s fails at node %p\n", \
			#c, (void *)node);				\
		return -1;						\
	}								\
} while (0)

/* Locking: as xa_debug_check. Return: nodes under @node, or -1. */
static long xa_check_node(struct xa_node *node, struct xa_node *parent,
			  unsigned int offset)
{
	unsigned int i, count = 0;
	long nodes = 1, sub;
	xa_mark_t m;

	XA_CHECK(node->parent == parent);
	XA_CHECK(!parent || node->offset == offset);
	XA_CHECK(!parent || node->shift + XA_CHUNK_SHIFT == parent->shift);
	for (i = 0; i < XA_CHUNK_SIZE; i++) {
		void *slot = node->slots[i];

		for (m = 0; m < XA_MAX_MARKS; m++) {
			bool bit = (node->marks[m] >> i) & 1, want;

			if (!slot)
				want = false;
			else if (!node->shift)
				want = bit;	/* a leaf's bits are the marks */
			else
				want = ((struct xa_node *)slot)->marks[m] != 0;
			XA_CHECK(bit == want);
		}
		if (!slot)
			continue;
		count++;
		if (!node->shift)
			continue;
		sub = xa_check_node(slot, node, i);
		if (sub < 0)
			return -1;
		nodes += sub;
	}
	XA_CHECK(node->count == count);
	XA_CHECK(count > 0);
	return nodes;
}

long xa_debug_check(struct xarray *xa)
{
	struct xa_node *node = xa->xa_head;
	unsigned int i;
	bool high = false;

	if (!node)
		return 0;
	XA_CHECK(node->shift % XA_CHUNK_SHIFT == 0);
	XA_CHECK(node->shift <= (XA_MAX_HEIGHT - 1) * XA_CHUNK_SHIFT);
	/* Minimal height: a root above a leaf has a child beyond slot 0. */
	for (i = 1; i < XA_CHUNK_SIZE; i++)
		high |= node->slots[i] != NULL;
	XA_CHECK(!node->shift || high);
	return xa_check_node(node, NULL, 0);
}
