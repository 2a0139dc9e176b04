// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vma_tree.c - a copy-on-write B+tree of ranges, read under RCU.
 *
 * The tree partitions the whole key space [0, VMA_TREE_KEY_MAX) into slots;
 * a slot holds an entry or NULL (a gap), and no two neighbouring slots are
 * both NULL, anywhere in the tree. So every gap is exactly one NULL slot,
 * its size is known in its leaf, and an internal node keeps, per child, the
 * largest gap below it: a gap search descends only into children that can
 * hold the request (the maple tree's allocation-range nodes do the same).
 *
 * Nodes keep their shape once reachable from a published root, but for
 * one thing: a leaf may grow at its end. Two writes are done in place, as
 * the maple tree does them. The exact fit (vt_store_exact): a range that
 * is exactly one slot gets its new entry, or NULL between two entries,
 * with one release store. The append (vt_store_append): an entry in the
 * upper part of the gap that ends a leaf goes into slots past the leaf's
 * count, which one release store then raises; a reader loads the count
 * once per visit (vt_nr). Either way the gap figures above are updated.
 * Any other write
 * (vma_tree_replace) rewrites the slots covering its range as one list,
 * re-packs that list into new leaves, and walks up the two root-to-leaf
 * paths that bound the range, re-packing each level's changed children
 * into new internal nodes; subtrees wholly inside the range are dropped,
 * everything else is shared with the old tree. Underfull results borrow
 * from a sibling under the same parent, or rise a level when there is
 * none; overfull ones spill into a sibling with room before they split,
 * so nodes fill up. All new nodes exist before the single release store
 * of the new root; old nodes are retired only after it (batched per tree,
 * one grace period per batch, waited for by the reclaimer thread below),
 * so a reader that loaded the old root can finish its walk. After the
 * grace period they go to a pool that writers take new nodes from.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rcu.h"
#include "vma_tree.h"

#define VT_LEAF_SLOTS	15
#define VT_NODE_SLOTS	10
#define VT_LEAF_MIN	(VT_LEAF_SLOTS / 2)
#define VT_NODE_MIN	(VT_NODE_SLOTS / 2)
#define VT_MAX_HEIGHT	VMA_TREE_MAX_HEIGHT
#define VT_TXN_NODES	(8 * VT_MAX_HEIGHT)
#define VT_TXN_DROPS	(2 * VT_NODE_SLOTS * VT_MAX_HEIGHT)
#define VT_NODE_SIZE	256
#define VT_LIST_MIN	128	/* items: writes of up to 34 new ranges */
#define VT_LIST_KEEP	1024

/*
 * Slot i of a node covers [pivot[i - 1], pivot[i]); the first starts at the
 * node's minimum and the last ends at its maximum, both known only to the
 * parent (or the walk that reached the node). nr, leaf and the pivots of
 * slots below nr are written before the node is published and never after
 * (the acquire load of the root orders them); a leaf's nr only grows in
 * place, after the slots and pivots it adds (vt_store_append), and readers
 * load it with acquire (vt_nr). A leaf slot and an internal gap may be
 * rewritten in place by an exact-fit store under the writer lock: lockless
 * readers load a slot with acquire (vt_slot_load) and a gap with READ_ONCE.
 */
struct vt_node {
	struct rcu_head rcu;	/* writer only, once unpublished: a lone retire */
	uint8_t nr;		/* slots in use, >= 1 */
	uint8_t leaf;
	uint8_t nr_built;	/* nr when built; writer only (vt_store_exact) */
	union {
		struct {
			uint64_t pivot[VT_LEAF_SLOTS - 1];
			void *slot[VT_LEAF_SLOTS];
		} l;
		struct {
			uint64_t pivot[VT_NODE_SLOTS - 1];
			uint64_t gap[VT_NODE_SLOTS];	/* largest gap below */
			struct vt_node *child[VT_NODE_SLOTS];
		} i;
	};
};
_Static_assert(sizeof(struct vt_node) <= VT_NODE_SIZE, "vt_node outgrew 256 bytes");

/* The root of every empty tree: one NULL slot. Shared, never written. */
static struct vt_node vt_empty = { .nr = 1, .leaf = 1, .nr_built = 1 };

/* atomic: nodes in trees or retired, not yet freed; on its own line */
static _Alignas(64) long vt_live;
static __thread long vt_fail_countdown;	/* tests: fail the n-th allocation */

/* ------------------------------------------------------------------ */
/* Node helpers shared by readers and writers                          */

static inline const uint64_t *vt_pivots(const struct vt_node *n)
{
	return n->leaf ? n->l.pivot : n->i.pivot;
}

static inline unsigned int vt_max_slots(unsigned int level)
{
	return level ? VT_NODE_SLOTS : VT_LEAF_SLOTS;
}

static inline unsigned int vt_min_slots(unsigned int level)
{
	return level ? VT_NODE_MIN : VT_LEAF_MIN;
}

/*
 * @n's slot count, as a lockless reader must load it: a leaf may grow in
 * place (vt_store_append), and the acquire orders the slots and pivots
 * written past the old count before it. A reader loads it once per node
 * visit and works with that value throughout, which sees the node before
 * the append or after it, never a mix.
 */
static inline unsigned int vt_nr(const struct vt_node *n)
{
	return smp_load_acquire(&n->nr);
}

/* The slot of @n (@nr slots) that holds @key: the first pivot above it. */
static inline unsigned int vt_slot_of(const struct vt_node *n, unsigned int nr,
				      uint64_t key)
{
	const uint64_t *piv = vt_pivots(n);
	unsigned int i, last = nr - 1;

	for (i = 0; i < last; i++)
		if (key < piv[i])
			break;
	return i;
}

static inline uint64_t vt_slot_min(const struct vt_node *n, unsigned int i,
				   uint64_t min)
{
	return i ? vt_pivots(n)[i - 1] : min;
}

/* Where slot @i of @n (@nr slots, [.., @max)) ends. */
static inline uint64_t vt_slot_end(const struct vt_node *n, unsigned int nr,
				   unsigned int i, uint64_t max)
{
	return i < nr - 1u ? vt_pivots(n)[i] : max;
}

/* As vt_slot_end, for the writer, whose view of the count never moves. */
static inline uint64_t vt_slot_max(const struct vt_node *n, unsigned int i,
				   uint64_t max)
{
	return vt_slot_end(n, n->nr, i, max);
}

/*
 * Bring all four lines of @n in at once (@rw: to write it): a scan of a
 * node touches two or three of them, and fetching them one after another
 * as the scan reaches them costs a miss each on a big tree.
 */
static inline void vt_prefetch_node(const struct vt_node *n, int rw)
{
	const char *p = (const char *)n;

	if (rw) {
		__builtin_prefetch(p, 1);
		__builtin_prefetch(p + 64, 1);
		__builtin_prefetch(p + 128, 1);
		__builtin_prefetch(p + 192, 1);
	} else {
		__builtin_prefetch(p);
		__builtin_prefetch(p + 64);
		__builtin_prefetch(p + 128);
		__builtin_prefetch(p + 192);
	}
}

/* Where a descent for one key ended: a leaf, its bounds, the slot. */
struct vt_pos {
	struct vt_node *leaf;
	uint64_t min, max;
	unsigned int slot;
	unsigned int nr;	/* the leaf's slot count, as loaded (vt_nr) */
};

static void vt_descend(struct vt_node *n, uint64_t key, struct vt_pos *pos)
{
	uint64_t min = 0, max = VMA_TREE_KEY_MAX;
	unsigned int i, nr;

	for (;;) {
		nr = vt_nr(n);
		i = vt_slot_of(n, nr, key);
		if (n->leaf)
			break;
		max = vt_slot_end(n, nr, i, max);
		min = vt_slot_min(n, i, min);
		n = n->i.child[i];
		vt_prefetch_node(n, 0);
	}
	pos->leaf = n;
	pos->min = min;
	pos->max = max;
	pos->slot = i;
	pos->nr = nr;
}

/* A leaf slot, as a lockless reader must load it (see vt_store_exact). */
static inline void *vt_slot_load(const struct vt_node *n, unsigned int i)
{
	return smp_load_acquire(&n->l.slot[i]);
}

static inline void *vt_pos_entry(const struct vt_pos *p, unsigned int i,
				 uint64_t *start, uint64_t *end)
{
	void *entry = vt_slot_load(p->leaf, i);

	if (entry) {
		if (start)
			*start = vt_slot_min(p->leaf, i, p->min);
		if (end)
			*end = vt_slot_end(p->leaf, p->nr, i, p->max);
	}
	return entry;
}

/* ------------------------------------------------------------------ */
/* Readers                                                             */

static inline struct vt_node *vt_root(struct vma_tree *t)
{
	return smp_load_acquire(&t->root);
}

/*
 * Start a lookup through @c: keep its path when no write was published
 * since it was taken, else start over at the root. The sequence is read
 * before the root, so a path is never labelled newer than it is: one
 * taken in a newer version than its label is only walked again.
 */
static void vt_cursor_sync(struct vma_tree_cursor *c)
{
	uint64_t seq = smp_load_acquire(&c->tree->seq);

	if (c->depth && c->seq == seq)
		return;
	c->seq = seq;
	c->depth = 1;
	c->node[0] = vt_root(c->tree);
	c->min[0] = 0;
	c->max[0] = VMA_TREE_KEY_MAX;
}

/* As vt_descend, from the lowest node on @c's path whose range holds @key. */
static void vt_cursor_descend(struct vma_tree_cursor *c, uint64_t key,
			      struct vt_pos *pos)
{
	unsigned int d = c->depth - 1, i, nr;
	uint64_t min, max;
	struct vt_node *n;

	while (d && (key < c->min[d] || key >= c->max[d]))
		d--;
	n = c->node[d];
	min = c->min[d];
	max = c->max[d];
	for (;;) {
		nr = vt_nr(n);
		i = vt_slot_of(n, nr, key);
		if (n->leaf)
			break;
		max = vt_slot_end(n, nr, i, max);
		min = vt_slot_min(n, i, min);
		n = n->i.child[i];
		vt_prefetch_node(n, 0);
		d++;
		VM_BUG_ON(d >= VMA_TREE_MAX_HEIGHT);
		c->node[d] = n;
		c->min[d] = min;
		c->max[d] = max;
	}
	c->depth = d + 1;
	pos->leaf = n;
	pos->min = min;
	pos->max = max;
	pos->slot = i;
	pos->nr = nr;
}

/* Descend to @key: along @c's path if there is a cursor, else from @root. */
static inline void vt_seek(struct vt_node *root, struct vma_tree_cursor *c,
			   uint64_t key, struct vt_pos *pos)
{
	if (c)
		vt_cursor_descend(c, key, pos);
	else
		vt_descend(root, key, pos);
}

/* The first entry (below @root, or @c's version) that ends after @addr. */
static void *vt_next(struct vt_node *root, struct vma_tree_cursor *c,
		     uint64_t addr, uint64_t *start, uint64_t *end)
{
	struct vt_pos p;
	unsigned int i;
	void *entry;

	while (addr < VMA_TREE_KEY_MAX) {
		vt_seek(root, c, addr, &p);
		for (i = p.slot; i < p.nr; i++) {
			entry = vt_pos_entry(&p, i, start, end);
			if (entry)
				return entry;
		}
		addr = p.max;
	}
	return NULL;
}

/* The last entry (below @root, or @c's version) that starts before @addr. */
static void *vt_prev(struct vt_node *root, struct vma_tree_cursor *c,
		     uint64_t addr, uint64_t *start, uint64_t *end)
{
	struct vt_pos p;
	unsigned int i;
	void *entry;

	while (addr > 0) {
		vt_seek(root, c, addr - 1, &p);
		for (i = p.slot + 1; i-- > 0;) {
			entry = vt_pos_entry(&p, i, start, end);
			if (entry)
				return entry;
		}
		addr = p.min;
	}
	return NULL;
}

/*
 * vma_tree_find - the entry whose range holds @addr.
 * Locking: inside rcu_read_lock(), or the writer lock held.
 * Return: the entry, its bounds in *@start and *@end (either may be NULL),
 *         or NULL when @addr is in a gap.
 */
void *vma_tree_find(struct vma_tree *t, uint64_t addr,
		    uint64_t *start, uint64_t *end)
{
	struct vt_pos p;

	if (unlikely(addr >= VMA_TREE_KEY_MAX))
		return NULL;
	vt_descend(vt_root(t), addr, &p);
	return vt_pos_entry(&p, p.slot, start, end);
}

/*
 * vma_tree_find_next - the first entry that ends after @addr: the one that
 * holds @addr, else the next above it (the kernel's find_vma()).
 * Locking: inside rcu_read_lock(), or the writer lock held.
 */
void *vma_tree_find_next(struct vma_tree *t, uint64_t addr,
			 uint64_t *start, uint64_t *end)
{
	return vt_next(vt_root(t), NULL, addr, start, end);
}

/*
 * vma_tree_find_prev - the last entry that starts below @addr (it may hold
 * @addr - 1 or lie wholly below it).
 * Locking: inside rcu_read_lock(), or the writer lock held.
 */
void *vma_tree_find_prev(struct vma_tree *t, uint64_t addr,
			 uint64_t *start, uint64_t *end)
{
	return vt_prev(vt_root(t), NULL, addr, start, end);
}

/*
 * vma_tree_cursor_init - a cursor on @t, with no path yet.
 * Locking: none. Lookups through it as the plain ones: inside one
 *          rcu_read_lock() section (the cursor must not outlive it), or
 *          with the writer lock held (the cursor stays usable across the
 *          holder's own writes: it starts over after each).
 */
void vma_tree_cursor_init(struct vma_tree_cursor *c, struct vma_tree *t)
{
	c->tree = t;
	c->depth = 0;
}

/*
 * vma_tree_cursor_find - as vma_tree_find, through @c.
 * Locking: as vma_tree_cursor_init.
 */
void *vma_tree_cursor_find(struct vma_tree_cursor *c, uint64_t addr,
			   uint64_t *start, uint64_t *end)
{
	struct vt_pos p;

	if (unlikely(addr >= VMA_TREE_KEY_MAX))
		return NULL;
	vt_cursor_sync(c);
	vt_cursor_descend(c, addr, &p);
	return vt_pos_entry(&p, p.slot, start, end);
}

/*
 * vma_tree_cursor_find_next - as vma_tree_find_next, through @c.
 * Locking: as vma_tree_cursor_init.
 */
void *vma_tree_cursor_find_next(struct vma_tree_cursor *c, uint64_t addr,
				uint64_t *start, uint64_t *end)
{
	vt_cursor_sync(c);
	return vt_next(NULL, c, addr, start, end);
}

/*
 * vma_tree_cursor_find_prev - as vma_tree_find_prev, through @c.
 * Locking: as vma_tree_cursor_init.
 */
void *vma_tree_cursor_find_prev(struct vma_tree_cursor *c, uint64_t addr,
				uint64_t *start, uint64_t *end)
{
	vt_cursor_sync(c);
	return vt_prev(NULL, c, addr, start, end);
}

/*
 * vma_tree_count - the number of entries. Not tied to a snapshot: a reader
 * racing with a writer may see the count of either side of the write.
 * Locking: none needed.
 */
uint64_t vma_tree_count(struct vma_tree *t)
{
	return READ_ONCE(t->count);
}

/*
 * vma_tree_iter_init - start an ordered walk at the first entry that ends
 * after @addr, over the tree as it is now.
 * Locking: inside rcu_read_lock(), kept until the walk is over.
 */
void vma_tree_iter_init(struct vma_tree_iter *it, struct vma_tree *t,
			uint64_t addr)
{
	it->root = vt_root(t);
	it->leaf = NULL;
	it->addr = addr;
	it->slot = 0;
	it->leaf_min = it->leaf_max = 0;
}

/*
 * vma_tree_iter_next - the next entry of the walk, in address order.
 * Locking: inside the same rcu_read_lock() section as vma_tree_iter_init.
 * Return: the entry and its bounds, or NULL at the end of the tree.
 */
void *vma_tree_iter_next(struct vma_tree_iter *it,
			 uint64_t *start, uint64_t *end)
{
	struct vt_pos p;
	uint64_t s, e;
	void *entry;

	for (;;) {
		if (!it->leaf) {
			if (it->addr >= VMA_TREE_KEY_MAX)
				return NULL;
			vt_descend(it->root, it->addr, &p);
			it->leaf = p.leaf;
			it->leaf_min = p.min;
			it->leaf_max = p.max;
			it->leaf_nr = p.nr;
			it->slot = p.slot;
		}
		p.leaf = it->leaf;
		p.min = it->leaf_min;
		p.max = it->leaf_max;
		p.nr = it->leaf_nr;
		while (it->slot < p.nr) {
			entry = vt_pos_entry(&p, it->slot++, &s, &e);
			if (entry && e > it->addr) {
				it->addr = e;
				if (start)
					*start = s;
				if (end)
					*end = e;
				return entry;
			}
		}
		it->addr = it->leaf_max;
		it->leaf = NULL;
	}
}

/* A gap request: a NULL slot whose part inside [low, high) is >= len. */
struct vt_gap_req {
	uint64_t low, high, len;
};

/*
 * The highest fitting gap below @n ([min, max) its range); its clipped
 * end goes to *@found. Only children whose largest gap can fit are
 * entered; one that lies wholly inside the bounds always succeeds, so at
 * most the two children cut by low and high can fail per level: O(log n).
 */
static bool vt_gap_rev(const struct vt_node *n, uint64_t min, uint64_t max,
		       const struct vt_gap_req *r, uint64_t *found)
{
	unsigned int i, nr = vt_nr(n);
	uint64_t s, e;

	for (i = nr; i-- > 0;) {
		s = vt_slot_min(n, i, min);
		e = vt_slot_end(n, nr, i, max);
		if (s >= r->high)
			continue;
		if (e <= r->low)
			break;
		if (n->leaf) {
			if (vt_slot_load(n, i))
				continue;
			s = s > r->low ? s : r->low;
			e = e < r->high ? e : r->high;
			if (e - s >= r->len) {
				*found = e;
				return true;
			}
			continue;
		}
		if (READ_ONCE(n->i.gap[i]) >= r->len &&
		    vt_gap_rev(n->i.child[i], s, e, r, found))
			return true;
	}
	return false;
}

/* As vt_gap_rev, lowest first; the clipped start goes to *@found. */
static bool vt_gap_fwd(const struct vt_node *n, uint64_t min, uint64_t max,
		       const struct vt_gap_req *r, uint64_t *found)
{
	unsigned int i, nr = vt_nr(n);
	uint64_t s, e;

	for (i = 0; i < nr; i++) {
		s = vt_slot_min(n, i, min);
		e = vt_slot_end(n, nr, i, max);
		if (e <= r->low)
			continue;
		if (s >= r->high)
			break;
		if (n->leaf) {
			if (vt_slot_load(n, i))
				continue;
			s = s > r->low ? s : r->low;
			e = e < r->high ? e : r->high;
			if (e - s >= r->len) {
				*found = s;
				return true;
			}
			continue;
		}
		if (READ_ONCE(n->i.gap[i]) >= r->len &&
		    vt_gap_fwd(n->i.child[i], s, e, r, found))
			return true;
	}
	return false;
}

/*
 * As the kernel's unmapped_area*(): the search is for a gap of
 * @size + @align_mask, so that an aligned start always fits in the gap
 * found; that keeps it O(log n), at the price of missing an aligned fit
 * in a gap shorter than that.
 */
static int vt_gap_req_init(struct vt_gap_req *r, uint64_t low, uint64_t high,
			   uint64_t size, uint64_t align_mask)
{
	if (!size || (align_mask & (align_mask + 1)))
		return -EINVAL;
	r->low = low;
	r->high = high;
	r->len = size + align_mask;
	if (r->len < size || low >= high || high - low < r->len)
		return -ENOMEM;
	return 0;
}

/*
 * vma_tree_gap_top_down - the highest @addr with [@addr, @addr + @size)
 * free, inside [@low, @high), and @addr aligned to @align_mask + 1 (0: no
 * alignment); as unmapped_area_topdown().
 * Locking: inside rcu_read_lock(), or the writer lock held.
 * Return: 0, -ENOMEM when nothing fits, -EINVAL for a zero size or an
 *         @align_mask that is not a power of two less one.
 */
int vma_tree_gap_top_down(struct vma_tree *t, uint64_t low, uint64_t high,
			  uint64_t size, uint64_t align_mask, uint64_t *addr)
{
	struct vt_gap_req r;
	uint64_t gap_end;
	int err;

	err = vt_gap_req_init(&r, low, high, size, align_mask);
	if (err)
		return err;
	if (!vt_gap_rev(vt_root(t), 0, VMA_TREE_KEY_MAX, &r, &gap_end))
		return -ENOMEM;
	*addr = (gap_end - size) & ~align_mask;
	return 0;
}

/*
 * vma_tree_gap_bottom_up - as vma_tree_gap_top_down, the lowest address;
 * as unmapped_area().
 * Locking: inside rcu_read_lock(), or the writer lock held.
 */
int vma_tree_gap_bottom_up(struct vma_tree *t, uint64_t low, uint64_t high,
			   uint64_t size, uint64_t align_mask, uint64_t *addr)
{
	struct vt_gap_req r;
	uint64_t gap_start;
	int err;

	err = vt_gap_req_init(&r, low, high, size, align_mask);
	if (err)
		return err;
	if (!vt_gap_fwd(vt_root(t), 0, VMA_TREE_KEY_MAX, &r, &gap_start))
		return -ENOMEM;
	*addr = (gap_start + align_mask) & ~align_mask;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Node memory                                                         */

/*
 * Dead nodes travel in batches: an array of node pointers with one
 * rcu_head. A write appends the nodes it replaced to its tree's open
 * batch and hands a full one to the reclaimer (or call_rcu); after the
 * grace period the whole batch goes onto a global pool, and a writer that
 * runs out of spares takes the whole pool at once (an exchange, so no
 * ABA). Neither side ever reads or links through the nodes themselves:
 * a linked free list made the writer miss in the cache on every
 * allocation just to find the next node, and the callback thread pull
 * every node to its CPU to find a list's tail. With arrays the writer
 * knows where its next nodes are and prefetches them for writing.
 */
#define VT_BATCH	60	/* fills a 512-byte batch */
#define VT_POOL_MAX	131072	/* nodes; beyond that callbacks free them */

struct vt_batch {
	struct rcu_head rcu;
	struct vt_batch *next;	/* in the pool, a tree's spares, or pending */
	unsigned int nr;
	bool entries;		/* holds entries' memory, not nodes */
	union {
		struct vt_node *node[VT_BATCH];
		void *obj[VT_BATCH];
	};
};

struct vt_pool {
	struct vt_batch *head;	/* atomic stack of full batches */
	long nr;		/* atomic, approximate */
};
static _Alignas(64) struct vt_pool vt_pool;	/* nodes */
static _Alignas(64) struct vt_pool vt_epool;	/* entries (see Entry memory) */

/* An empty batch for @t, or NULL. Locking: the writer lock of @t. */
static struct vt_batch *vt_batch_get(struct vma_tree *t, bool entries)
{
	struct vt_batch *b = t->empty;

	if (b)
		t->empty = NULL;
	else
		b = malloc(sizeof(*b));
	if (b) {
		b->nr = 0;
		b->entries = entries;
	}
	return b;
}

/* Keep one empty batch per tree for the next retirement; free others. */
static void vt_batch_put(struct vma_tree *t, struct vt_batch *b)
{
	if (!t->empty) {
		b->nr = 0;
		t->empty = b;
	} else {
		free(b);
	}
}

/*
 * Put the pool's batches in front of the tree's spares (*@spare). The
 * pool holds the memory that came out of the latest grace periods, the
 * most likely still to be in a cache: using it first keeps the set of
 * nodes that writes cycle through as small as the grace-period latency
 * allows. Locking: the writer lock of the tree owning @spare.
 */
static void vt_take_pool(struct vt_pool *pool, struct vt_batch **spare)
{
	struct vt_batch *head, *tail;

	head = __atomic_exchange_n(&pool->head, NULL, __ATOMIC_ACQUIRE);
	if (!head)
		return;
	__atomic_store_n(&pool->nr, 0, __ATOMIC_RELAXED);
	for (tail = head; tail->next; tail = tail->next)
		;
	tail->next = *spare;
	*spare = head;
}

/*
 * A node for a write to @t, its contents undefined: vt_build writes
 * every field a reader or the validator looks at.
 * Locking: the writer lock of @t (it owns t->spare).
 */
static struct vt_node *vt_node_alloc(struct vma_tree *t)
{
	struct vt_batch *b;
	struct vt_node *n;

	if (unlikely(vt_fail_countdown) && --vt_fail_countdown == 0)
		return NULL;
	if (unlikely(__atomic_load_n(&vt_pool.head, __ATOMIC_RELAXED)))
		vt_take_pool(&vt_pool, &t->spare);
	b = t->spare;
	if (unlikely(!b))
		return aligned_alloc(64, VT_NODE_SIZE);
	n = b->node[--b->nr];
	if (!b->nr) {
		t->spare = b->next;
		vt_batch_put(t, b);
	}
	return n;
}

/*
 * Start fetching, for writing, the @nr nodes the next allocations will
 * return. Spare nodes come back through a grace period, so they are long
 * out of the cache; a write prefetches them before its descent, whose
 * chain of dependent misses leaves the memory system idle enough to
 * fetch these alongside.
 */
static void vt_prefetch_spares(struct vma_tree *t, unsigned int nr)
{
	struct vt_batch *b = t->spare;
	unsigned int i;

	if (!b)
		return;
	for (i = b->nr; i-- > 0 && nr; nr--)
		vt_prefetch_node(b->node[i], 1);
}

/* Unpublished, never seen by a reader: back to the spares of @t. */
static void vt_node_unalloc(struct vma_tree *t, struct vt_node *n)
{
	struct vt_batch *b = t->spare;

	if (!b || b->nr == VT_BATCH) {
		b = vt_batch_get(t, false);
		if (!b) {
			free(n);
			return;
		}
		b->next = t->spare;
		t->spare = b;
	}
	b->node[b->nr++] = n;
}

static void vt_node_free_rcu(struct rcu_head *head)
{
	free(container_of(head, struct vt_node, rcu));
	atomic_fetch_add_relaxed(&vt_live, -1);
}

/* After a grace period: the batch's memory goes to its pool, or is freed. */
static void vt_batch_release(struct vt_batch *b)
{
	struct vt_pool *pool = b->entries ? &vt_epool : &vt_pool;
	struct vt_batch *old;
	unsigned int i;

	if (!b->entries)
		atomic_fetch_add_relaxed(&vt_live, -(long)b->nr);
	if (__atomic_load_n(&pool->nr, __ATOMIC_RELAXED) + b->nr > VT_POOL_MAX) {
		for (i = 0; i < b->nr; i++)
			free(b->obj[i]);
		free(b);
		return;
	}
	atomic_fetch_add_relaxed(&pool->nr, b->nr);
	old = __atomic_load_n(&pool->head, __ATOMIC_RELAXED);
	do {
		b->next = old;
	} while (!__atomic_compare_exchange_n(&pool->head, &old, b, true,
					      __ATOMIC_RELEASE,
					      __ATOMIC_RELAXED));
}

static void vt_batch_free_rcu(struct rcu_head *head)
{
	vt_batch_release(container_of(head, struct vt_batch, rcu));
}

/*
 * The reclaimer: a thread that frees retired batches after grace periods
 * of its own, in place of call_rcu. liburcu's callback thread sleeps 10 ms
 * between rounds, so a node came back to the writers 10-20 ms after it
 * was retired: a stream of writes cycled through tens of MB of nodes, and
 * every node a write made was a miss to memory, half of an mmap's time at
 * a million VMAs. A round every VT_RECLAIM_PAUSE_NS keeps the nodes in
 * flight to what the caches hold (a round costs one synchronize_rcu(),
 * two membarrier() IPIs to every CPU running a thread of the process, so
 * rounds are not run back to back).
 *
 * Writers never wait for it. Idle for VT_RECLAIM_NAP_NS, it sleeps until
 * a writer that hands it a batch wakes it (once per burst of writes).
 * While it is VT_RECLAIM_MAX batches behind, or cannot run (one CPU, or
 * it could not be started), or in a fork's child until the child's own
 * demand starts one, batches go to call_rcu as before. It stops at exit.
 * Lock order: vt_rcl.lock is innermost; nothing waits for a grace period
 * under it, so it may be taken with the tree's writer lock held.
 */
#define VT_RECLAIM_PAUSE_NS	250000	/* 50 us to 1 ms measured alike */
#define VT_RECLAIM_NAP_NS	2000000	/* idle this long: sleep till woken */
#define VT_RECLAIM_MAX		256	/* batches: 15,360 nodes, 3.75 MiB */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* the reclaimer sleeps on it */
	pthread_cond_t done;		/* a round ended, or the thread did */
	struct vt_batch *pending;	/* atomic stack: waiting for a round */
	uint64_t handed, released;	/* atomic: batches in, and out again */
	int sleeping;			/* atomic: on wake, to be signalled */
	bool running;			/* atomic; changed under lock */
	bool off;			/* atomic: never start one (call_rcu) */
	bool stop, hooked;		/* lock */
} vt_rcl = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

/*
 * One round: take what is pending, wait for a grace period, release it.
 * Return: whether there was anything.
 * Locking: none held; not inside an RCU read-side section.
 */
static bool vt_reclaim_round(void)
{
	struct vt_batch *b, *next;
	uint64_t n = 0;

	b = __atomic_exchange_n(&vt_rcl.pending, NULL, __ATOMIC_ACQUIRE);
	if (!b)
		return false;
	/* every node in the list was unpublished before it was pushed */
	synchronize_rcu();
	for (; b; b = next) {
		next = b->next;		/* the pool links through it */
		vt_batch_release(b);
		n++;
	}
	__atomic_fetch_add(&vt_rcl.released, n, __ATOMIC_RELEASE);
	return true;
}

static void *vt_reclaimer(void *arg)
{
	const struct timespec pause = { .tv_nsec = VT_RECLAIM_PAUSE_NS };
	const struct timespec nap = { .tv_nsec = VT_RECLAIM_NAP_NS };
	bool napped = false;

	(void)arg;
	pthread_mutex_lock(&vt_rcl.lock);
	while (!vt_rcl.stop) {
		if (__atomic_load_n(&vt_rcl.pending, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&vt_rcl.sleeping, 0, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&vt_rcl.lock);
			vt_reclaim_round();
			pthread_mutex_lock(&vt_rcl.lock);
			pthread_cond_broadcast(&vt_rcl.done);
			pthread_mutex_unlock(&vt_rcl.lock);
			nanosleep(&pause, NULL);	/* let batches gather */
			pthread_mutex_lock(&vt_rcl.lock);
			napped = false;
			continue;
		}
		/* a nap first: writers that come back soon need not wake it */
		if (!napped) {
			pthread_mutex_unlock(&vt_rcl.lock);
			nanosleep(&nap, NULL);
			pthread_mutex_lock(&vt_rcl.lock);
			napped = true;
			continue;
		}
		/* say we sleep, then look once more (see vt_reclaim_hand) */
		if (!__atomic_load_n(&vt_rcl.sleeping, __ATOMIC_RELAXED)) {
			__atomic_store_n(&vt_rcl.sleeping, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		pthread_cond_wait(&vt_rcl.wake, &vt_rcl.lock);
	}
	__atomic_store_n(&vt_rcl.sleeping, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vt_rcl.running, false, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&vt_rcl.done);
	pthread_mutex_unlock(&vt_rcl.lock);
	return NULL;
}

/* Before liburcu's destructors: the thread must not be inside a round. */
static void vt_reclaim_exit(void)
{
	pthread_mutex_lock(&vt_rcl.lock);
	vt_rcl.stop = true;
	pthread_cond_signal(&vt_rcl.wake);
	/* exit() inside a read-side section: a round would wait on us */
	while (__atomic_load_n(&vt_rcl.running, __ATOMIC_RELAXED) &&
	       !rcu_read_lock_held())
		pthread_cond_wait(&vt_rcl.done, &vt_rcl.lock);
	pthread_mutex_unlock(&vt_rcl.lock);
}

static void vt_reclaim_prepare(void)
{
	pthread_mutex_lock(&vt_rcl.lock);
}

static void vt_reclaim_parent(void)
{
	pthread_mutex_unlock(&vt_rcl.lock);
}

/* The thread is not in the child; a round it had taken is lost to it. */
static void vt_reclaim_child(void)
{
	struct vt_batch *b;
	uint64_t n = 0;

	for (b = vt_rcl.pending; b; b = b->next)
		n++;
	vt_rcl.released = vt_rcl.handed - n;
	__atomic_store_n(&vt_rcl.running, false, __ATOMIC_RELAXED);
	__atomic_store_n(&vt_rcl.sleeping, 0, __ATOMIC_RELAXED);
	pthread_cond_init(&vt_rcl.wake, NULL);
	pthread_cond_init(&vt_rcl.done, NULL);
	pthread_mutex_unlock(&vt_rcl.lock);
}

/* Locking: takes vt_rcl.lock; the tree's writer lock may be held. */
static void vt_reclaim_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;

	pthread_mutex_lock(&vt_rcl.lock);
	if (vt_rcl.running || vt_rcl.stop || vt_rcl.off)
		goto out;
	if (!vt_rcl.hooked) {
		/* it costs a core's time now and then: not on a single CPU */
		if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || atexit(vt_reclaim_exit) ||
		    pthread_atfork(vt_reclaim_prepare, vt_reclaim_parent,
				   vt_reclaim_child)) {
			__atomic_store_n(&vt_rcl.off, true, __ATOMIC_RELAXED);
			goto out;
		}
		vt_rcl.hooked = true;
	}
	/* the program's signals are not for it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!pthread_create(&tid, &attr, vt_reclaimer, NULL))
		__atomic_store_n(&vt_rcl.running, true, __ATOMIC_RELEASE);
	else
		__atomic_store_n(&vt_rcl.off, true, __ATOMIC_RELAXED);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	pthread_mutex_unlock(&vt_rcl.lock);
}

/*
 * Hand the full batch @b to the reclaimer.
 * Return: false if it cannot take it (call_rcu then).
 * Locking: the tree's writer lock held; takes vt_rcl.lock to wake it.
 */
static bool vt_reclaim_hand(struct vt_batch *b)
{
	struct vt_batch *old;

	if (unlikely(!__atomic_load_n(&vt_rcl.running, __ATOMIC_ACQUIRE))) {
		if (__atomic_load_n(&vt_rcl.off, __ATOMIC_RELAXED))
			return false;
		vt_reclaim_start();
		if (!__atomic_load_n(&vt_rcl.running, __ATOMIC_ACQUIRE))
			return false;
	}
	if (__atomic_load_n(&vt_rcl.handed, __ATOMIC_RELAXED) -
	    __atomic_load_n(&vt_rcl.released, __ATOMIC_RELAXED) >= VT_RECLAIM_MAX)
		return false;
	/* counted first, so that released never passes handed */
	__atomic_fetch_add(&vt_rcl.handed, 1, __ATOMIC_RELAXED);
	old = __atomic_load_n(&vt_rcl.pending, __ATOMIC_RELAXED);
	do {
		b->next = old;
	} while (!__atomic_compare_exchange_n(&vt_rcl.pending, &old, b, true,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	/* pushed, then looked: it looks at pending after saying it sleeps */
	if (__atomic_load_n(&vt_rcl.sleeping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&vt_rcl.lock);
		pthread_cond_signal(&vt_rcl.wake);
		pthread_mutex_unlock(&vt_rcl.lock);
	}
	return true;
}

/*
 * vma_tree_barrier - wait until every node retired so far is freed (as
 * rcu_barrier() does for call_rcu): before vma_tree_nodes_live(), say.
 * Locking: no lock of umm held; not inside an RCU read-side section.
 */
void vma_tree_barrier(void)
{
	uint64_t target = __atomic_load_n(&vt_rcl.handed, __ATOMIC_RELAXED);

	pthread_mutex_lock(&vt_rcl.lock);
	while (__atomic_load_n(&vt_rcl.released, __ATOMIC_ACQUIRE) < target) {
		if (!__atomic_load_n(&vt_rcl.running, __ATOMIC_RELAXED)) {
			/* no reclaimer (a fork's child, exit): a round here */
			pthread_mutex_unlock(&vt_rcl.lock);
			vt_reclaim_round();
			pthread_mutex_lock(&vt_rcl.lock);
			continue;
		}
		pthread_cond_wait(&vt_rcl.done, &vt_rcl.lock);
	}
	pthread_mutex_unlock(&vt_rcl.lock);
	rcu_barrier();
}

static void vt_free_batches(struct vt_batch **list)
{
	struct vt_batch *b, *next;
	unsigned int i;

	for (b = *list; b; b = next) {
		next = b->next;
		for (i = 0; i < b->nr; i++)
			free(b->obj[i]);
		free(b);
	}
	*list = NULL;
}

static void vt_free_spares(struct vma_tree *t)
{
	vt_free_batches(&t->spare);
	vt_free_batches(&t->espare);
	free(t->empty);
	t->empty = NULL;
}

/*
 * Hand the open batch *@slot of retired memory to the reclaimer, or RCU.
 * Locking: the writer lock held; not inside an RCU read-side section.
 */
static void vt_flush_retired(struct vt_batch **slot)
{
	struct vt_batch *b = *slot;

	if (!b)
		return;
	*slot = NULL;
	if (!vt_reclaim_hand(b))
		call_rcu(&b->rcu, vt_batch_free_rcu);
}

/*
 * Unpublished @n: free it once no reader can be inside. Batches are
 * flushed when full, so one call_rcu covers VT_BATCH nodes and liburcu's
 * callback thread is not woken on every write.
 */
static void vt_node_retire(struct vma_tree *t, struct vt_node *n)
{
	struct vt_batch *b = t->retired;

	if (n == &vt_empty)
		return;
	if (unlikely(!b)) {
		b = vt_batch_get(t, false);
		if (!b) {		/* no memory for a batch: on its own */
			call_rcu(&n->rcu, vt_node_free_rcu);
			return;
		}
		t->retired = b;
	}
	b->node[b->nr++] = n;
	if (b->nr == VT_BATCH)
		vt_flush_retired(&t->retired);
}

/* ------------------------------------------------------------------ */
/* Entry memory                                                        */

/*
 * The entries (VMAs) come and go with the writes as the nodes do: an
 * mprotect that splits a VMA and one that merges it back make four and
 * retire four. From malloc, each freed by its own call_rcu, they cost a
 * third of such a call: a futex wake of liburcu's callback thread per
 * free, and malloc's arena lock bouncing between that thread and the
 * writer. Their memory travels as the nodes' does instead: retired into
 * the tree's batch, released by the reclaimer after a grace period into a
 * pool of its own, taken by the next writer that needs an entry. The tree
 * never allocates an entry; it only recycles memory its caller got from
 * malloc, all of one size (the caller's).
 */

/*
 * vma_tree_entry_alloc - recycled memory for a new entry of @t.
 * Return: memory of the size retired, contents undefined; NULL: none
 *         (the caller mallocs).
 * Locking: the writer lock of @t (or @t not yet shared).
 */
void *vma_tree_entry_alloc(struct vma_tree *t)
{
	struct vt_batch *b;
	void *e;

	if (unlikely(__atomic_load_n(&vt_epool.head, __ATOMIC_RELAXED)))
		vt_take_pool(&vt_epool, &t->espare);
	b = t->espare;
	if (!b)
		return NULL;
	e = b->obj[--b->nr];
	if (!b->nr) {
		t->espare = b->next;
		vt_batch_put(t, b);
	}
	return e;
}

/*
 * Before entries' memory starts a grace period (vma_tree_entry_gen): the
 * release orders the removals from the tree before it, and the hand-off to
 * the grace period comes after it in program order.
 * Locking: the writer lock of @t.
 */
static void vt_entry_gen_bump(struct vma_tree *t)
{
	smp_store_release(&t->egen, t->egen + 1);
}

/*
 * vma_tree_entry_retire - free @e, an entry no longer in @t, after a grace
 * period, for a later vma_tree_entry_alloc.
 * Return: false when it cannot (no memory for a batch): call_rcu it then.
 * Locking: the writer lock of @t; not inside an RCU read-side section.
 */
bool vma_tree_entry_retire(struct vma_tree *t, void *e)
{
	struct vt_batch *b = t->eretired;

	if (unlikely(!b)) {
		b = vt_batch_get(t, true);
		if (!b) {
			vt_entry_gen_bump(t);	/* the caller's call_rcu follows */
			return false;
		}
		t->eretired = b;
	}
	b->obj[b->nr++] = e;
	if (b->nr == VT_BATCH) {
		vt_entry_gen_bump(t);
		vt_flush_retired(&t->eretired);
	}
	return true;
}

/* Retire the unpublished subtree @n; return how many entries it held. */
static uint64_t vt_retire_subtree(struct vma_tree *t, struct vt_node *n)
{
	uint64_t entries = 0;
	unsigned int i;

	for (i = 0; i < n->nr; i++) {
		if (n->leaf)
			entries += !!n->l.slot[i];
		else
			entries += vt_retire_subtree(t, n->i.child[i]);
	}
	vt_node_retire(t, n);
	return entries;
}

/* Free the subtree @n now; return how many nodes that was. */
static long vt_free_subtree(struct vt_node *n)
{
	long nodes = 1;
	unsigned int i;

	if (n == &vt_empty)
		return 0;
	if (!n->leaf)
		for (i = 0; i < n->nr; i++)
			nodes += vt_free_subtree(n->i.child[i]);
	free(n);
	return nodes;
}

/*
 * vma_tree_nodes_live - nodes in trees or waiting for a grace period,
 * over every tree (call vma_tree_barrier() first to count the ones waiting
 * for a grace period). A write adds its new nodes once, when it commits; a
 * callback takes a batch off at once: the counter is not touched per
 * node, where it bounced between the writer and the callback thread.
 */
long vma_tree_nodes_live(void)
{
	return __atomic_load_n(&vt_live, __ATOMIC_RELAXED);
}

/* vma_tree_fail_alloc_after - tests: this thread's @n-th node allocation
 * from now fails (0: none). */
void vma_tree_fail_alloc_after(long n)
{
	vt_fail_countdown = n;
}
/* ------------------------------------------------------------------ */
/* Writers                                                             */

/* A root-to-leaf path; index h is the level, 0 the leaves. */
struct vt_path {
	struct vt_node *node[VT_MAX_HEIGHT];
	uint64_t min[VT_MAX_HEIGHT], max[VT_MAX_HEIGHT];
	uint8_t idx[VT_MAX_HEIGHT];	/* slot of node[h] on the path */
};

/*
 * One write in progress: the nodes it made (freed if it fails) and those
 * it replaces (retired after the new root is published). Subtrees in
 * drops[] lie wholly inside the replaced range and are retired whole.
 */
struct vt_txn {
	struct vma_tree *tree;
	unsigned int nr_new, nr_old, nr_drop;
	struct vt_node *new_nodes[VT_TXN_NODES];
	struct vt_node *old_nodes[VT_TXN_NODES];
	struct vt_node *drops[VT_TXN_DROPS];
	unsigned int nr_path;
	struct vt_path path[4];	/* see vt_locate */
	/*
	 * Room for the two level lists of a write, kept from one write to
	 * the next: from malloc each time, an mprotect split's 3 KiB was a
	 * large-bin request with a malloc_consolidate() behind it, a quarter
	 * of the call. A list bigger than VT_LIST_KEEP is malloced alone.
	 */
	struct vt_item *items;
	size_t items_cap;	/* items in each of the two lists */
};

/*
 * The contents of one node (or of several, before packing) at @level:
 * item i covers [it[i - 1].end, it[i].end), the first starts at @base.
 */
struct vt_item {
	uint64_t end;
	void *ptr;		/* leaf: the entry or NULL; else the child */
	uint64_t gap;		/* internal levels: largest gap below */
};

struct vt_list {
	uint64_t base;
	unsigned int level, nr, cap;
	struct vt_item *it;
};

static void vt_txn_old(struct vt_txn *tx, struct vt_node *n)
{
	BUG_ON(tx->nr_old >= VT_TXN_NODES);
	tx->old_nodes[tx->nr_old++] = n;
}

static void vt_txn_drop(struct vt_txn *tx, struct vt_node *n)
{
	BUG_ON(tx->nr_drop >= VT_TXN_DROPS);
	tx->drops[tx->nr_drop++] = n;
}

static inline void vt_list_add(struct vt_list *l, uint64_t end, void *ptr,
			       uint64_t gap)
{
	BUG_ON(l->nr >= l->cap);
	l->it[l->nr++] = (struct vt_item){ .end = end, .ptr = ptr, .gap = gap };
}

/* A leaf slot that joins a NULL predecessor when it is NULL itself. */
static void vt_list_add_slot(struct vt_list *l, uint64_t end, void *entry)
{
	if (!entry && l->nr && !l->it[l->nr - 1].ptr) {
		l->it[l->nr - 1].end = end;
		return;
	}
	vt_list_add(l, end, entry, 0);
}

/* Append slots [from, to) of @n, whose range is [.., @max). */
static void vt_list_add_node(struct vt_list *l, const struct vt_node *n,
			     uint64_t max, unsigned int from, unsigned int to)
{
	unsigned int i;

	for (i = from; i < to; i++) {
		if (n->leaf)
			vt_list_add(l, vt_slot_max(n, i, max), n->l.slot[i], 0);
		else
			vt_list_add(l, vt_slot_max(n, i, max), n->i.child[i],
				    n->i.gap[i]);
	}
}

static void vt_list_append(struct vt_list *l, const struct vt_list *src)
{
	unsigned int i;

	for (i = 0; i < src->nr; i++)
		vt_list_add(l, src->it[i].end, src->it[i].ptr, src->it[i].gap);
}

/* A node for this write, undone by vt_abort if the write fails. */
static struct vt_node *vt_txn_new(struct vt_txn *tx)
{
	struct vt_node *n;

	BUG_ON(tx->nr_new >= VT_TXN_NODES);
	n = vt_node_alloc(tx->tree);
	if (n)
		tx->new_nodes[tx->nr_new++] = n;
	return n;
}

/* A new node at @level holding @items; its largest gap to *@gap. */
static struct vt_node *vt_build(struct vt_txn *tx, unsigned int level,
				const struct vt_item *items, unsigned int nr,
				uint64_t base, uint64_t *gap)
{
	struct vt_node *n;
	uint64_t *piv;
	unsigned int i;

	VM_BUG_ON(!nr || nr > vt_max_slots(level));
	n = vt_txn_new(tx);
	if (!n)
		return NULL;
	n->nr = nr;
	n->nr_built = nr;
	n->leaf = !level;
	piv = n->leaf ? n->l.pivot : n->i.pivot;
	*gap = 0;
	for (i = 0; i < nr; i++) {
		if (i < nr - 1)
			piv[i] = items[i].end;
		if (n->leaf) {
			n->l.slot[i] = items[i].ptr;
			if (!items[i].ptr && items[i].end - base > *gap)
				*gap = items[i].end - base;
		} else {
			n->i.child[i] = items[i].ptr;
			n->i.gap[i] = items[i].gap;
			if (items[i].gap > *gap)
				*gap = items[i].gap;
		}
		base = items[i].end;
	}
	return n;
}

/* One new node of @in's items [@from, @from + @cnt); its item to @out. */
static int vt_pack_one(struct vt_txn *tx, const struct vt_list *in,
		       unsigned int from, unsigned int cnt, struct vt_list *out)
{
	uint64_t base = from ? in->it[from - 1].end : in->base, gap;
	struct vt_node *n;

	n = vt_build(tx, in->level, &in->it[from], cnt, base, &gap);
	if (!n)
		return -ENOMEM;
	vt_list_add(out, in->it[from + cnt - 1].end, n, gap);
	return 0;
}

/*
 * Pack @in into as few nodes as hold it, evenly filled (so each has at
 * least half a node when there are two or more), appending one item per
 * node to @out, one level up.
 */
static int vt_pack(struct vt_txn *tx, const struct vt_list *in,
		   struct vt_list *out)
{
	unsigned int max = vt_max_slots(in->level);
	unsigned int k = (in->nr + max - 1) / max, done = 0, j, cnt;
	int err;

	for (j = 0; j < k; j++) {
		cnt = in->nr / k + (j < in->nr % k);
		err = vt_pack_one(tx, in, done, cnt, out);
		if (err)
			return err;
		done += cnt;
	}
	return 0;
}

/*
 * Which sibling the too-long @cur (more than one node at its level, at
 * most two) of child @kl of @pl to child @kr of @pr spills into: -1 the
 * left one, 1 the right one, 0 none has the room (@cur is split).
 */
static int vt_spill_side(const struct vt_node *pl, unsigned int kl,
			 const struct vt_node *pr, unsigned int kr,
			 const struct vt_list *cur)
{
	unsigned int max = vt_max_slots(cur->level), left = 0, right = 0;

	if (cur->nr <= max || cur->nr > 2 * max)
		return 0;
	if (kl)
		left = max - pl->i.child[kl - 1]->nr;
	if (kr + 1u < pr->nr)
		right = max - pr->i.child[kr + 1]->nr;
	if (left >= cur->nr - max && left >= right)
		return -1;
	return right >= cur->nr - max ? 1 : 0;
}

/*
 * Re-pack the too-long @cur with its sibling @s ([smin, smax); @cur goes
 * after it when @after) into two nodes, @s's side full. A split into
 * halves would leave the half away from where inserts go half empty for
 * good: runs of inserts at one place (mmap puts each new VMA just below
 * the last) built a million-VMA tree 8 levels high, this 6.
 */
static int vt_spill(struct vt_txn *tx, struct vt_node *s, uint64_t smin,
		    uint64_t smax, const struct vt_list *cur, bool after,
		    struct vt_list *out)
{
	struct vt_item buf[2 * VT_LEAF_SLOTS];
	struct vt_list tmp = { .level = cur->level, .cap = ARRAY_SIZE(buf),
			       .it = buf };
	unsigned int max = vt_max_slots(cur->level), first;
	int err;

	tmp.base = after ? smin : cur->base;
	if (!after)
		vt_list_append(&tmp, cur);
	vt_list_add_node(&tmp, s, smax, 0, s->nr);
	if (after)
		vt_list_append(&tmp, cur);
	vt_txn_old(tx, s);
	first = after ? max : tmp.nr - max;
	err = vt_pack_one(tx, &tmp, 0, first, out);
	return err ? err : vt_pack_one(tx, &tmp, first, tmp.nr - first, out);
}

/*
 * Merge the too-short @cur (items at a level <= @g) with the sibling @s at
 * level @g covering [smin, smax): @cur goes after @s's contents when
 * @after, before them otherwise. When @cur is from a lower level it joins
 * the nearest edge node of that level under @s, and every node on the way
 * down is re-packed. The 1 or 2 new nodes go to @out, at level @g + 1.
 */
static int vt_absorb(struct vt_txn *tx, struct vt_node *s, uint64_t smin,
		     uint64_t smax, unsigned int g, const struct vt_list *cur,
		     bool after, struct vt_list *out)
{
	struct vt_item buf[VT_LEAF_SLOTS + VT_LEAF_MIN + 2], sbuf[4];
	struct vt_list tmp = { .level = g, .cap = ARRAY_SIZE(buf), .it = buf };
	struct vt_list sub = { .level = g, .cap = ARRAY_SIZE(sbuf), .it = sbuf };
	unsigned int e = after ? s->nr - 1u : 0;
	int err;

	if (g == cur->level) {
		tmp.base = after ? smin : cur->base;
		if (!after)
			vt_list_append(&tmp, cur);
		vt_list_add_node(&tmp, s, smax, 0, s->nr);
		if (after)
			vt_list_append(&tmp, cur);
	} else {
		VM_BUG_ON(s->leaf);
		err = vt_absorb(tx, s->i.child[e], vt_slot_min(s, e, smin),
				vt_slot_max(s, e, smax), g - 1, cur, after, &sub);
		if (err)
			return err;
		tmp.base = after ? smin : cur->base;
		if (!after)
			vt_list_append(&tmp, &sub);
		vt_list_add_node(&tmp, s, smax, after ? 0 : 1,
				 after ? s->nr - 1u : s->nr);
		if (after)
			vt_list_append(&tmp, &sub);
	}
	vt_txn_old(tx, s);
	return vt_pack(tx, &tmp, out);
}

/* Record the path from @root (of @height levels) down to @key. */
static void vt_walk(struct vt_node *root, unsigned int height, uint64_t key,
		    struct vt_path *p)
{
	struct vt_node *n = root;
	uint64_t min = 0, max = VMA_TREE_KEY_MAX;
	unsigned int h, i;

	BUG_ON(!height || height > VT_MAX_HEIGHT);
	for (h = height - 1; h > 0; h--) {
		BUG_ON(n->leaf);
		i = vt_slot_of(n, n->nr, key);
		p->node[h] = n;
		p->min[h] = min;
		p->max[h] = max;
		p->idx[h] = i;
		max = vt_slot_max(n, i, max);
		min = vt_slot_min(n, i, min);
		n = n->i.child[i];
		vt_prefetch_node(n, 0);
	}
	BUG_ON(!n->leaf);
	p->node[0] = n;
	p->min[0] = min;
	p->max[0] = max;
	p->idx[0] = vt_slot_of(n, n->nr, key);
}

/* Entries of leaf @n ([min, max)) lying inside [start, end). */
static uint64_t vt_leaf_count_inside(const struct vt_node *n, uint64_t min,
				     uint64_t max, uint64_t start, uint64_t end)
{
	uint64_t nr = 0;
	unsigned int i;

	for (i = 0; i < n->nr; i++)
		if (n->l.slot[i] && vt_slot_min(n, i, min) >= start &&
		    vt_slot_max(n, i, max) <= end)
			nr++;
	return nr;
}

/*
 * One level of the rebuild: @cur holds the new contents of the nodes at
 * level @h between paths @l and @r; make their replacements and put the
 * new contents of their parents in @next. Children of those parents that
 * lie strictly between the paths are dropped whole.
 */
static int vt_step(struct vt_txn *tx, const struct vt_path *l,
		   const struct vt_path *r, unsigned int h,
		   const struct vt_list *cur, struct vt_list *next)
{
	struct vt_node *pl = l->node[h + 1], *pr = r->node[h + 1], *s;
	unsigned int kl = l->idx[h + 1], kr = r->idx[h + 1], i;
	int err = 0, side;

	if (pl == pr) {
		for (i = kl + 1; i < kr; i++)
			vt_txn_drop(tx, pl->i.child[i]);
	} else {
		for (i = kl + 1; i < pl->nr; i++)
			vt_txn_drop(tx, pl->i.child[i]);
		for (i = 0; i < kr; i++)
			vt_txn_drop(tx, pr->i.child[i]);
		vt_txn_old(tx, pr);
	}
	vt_txn_old(tx, pl);

	if (cur->nr < vt_min_slots(cur->level) && !kl &&
	    kr == pr->nr - 1u) {
		/* No sibling to lean on: the short list rises a level. */
		next->nr = 0;
		next->level = cur->level;
		next->base = cur->base;
		vt_list_append(next, cur);
		return 0;
	}
	next->nr = 0;
	next->level = h + 1;
	next->base = l->min[h + 1];
	if (cur->nr >= vt_min_slots(cur->level)) {
		VM_BUG_ON(cur->level != h);
		side = vt_spill_side(pl, kl, pr, kr, cur);
		if (side < 0)
			kl--;
		vt_list_add_node(next, pl, l->max[h + 1], 0, kl);
		if (side < 0) {
			err = vt_spill(tx, pl->i.child[kl],
				       vt_slot_min(pl, kl, l->min[h + 1]),
				       vt_slot_max(pl, kl, l->max[h + 1]), cur,
				       true, next);
		} else if (side > 0) {
			kr++;
			err = vt_spill(tx, pr->i.child[kr],
				       vt_slot_min(pr, kr, r->min[h + 1]),
				       vt_slot_max(pr, kr, r->max[h + 1]), cur,
				       false, next);
		} else {
			err = vt_pack(tx, cur, next);
		}
	} else if (kl) {
		kl--;
		s = pl->i.child[kl];
		vt_list_add_node(next, pl, l->max[h + 1], 0, kl);
		err = vt_absorb(tx, s, vt_slot_min(pl, kl, l->min[h + 1]),
				vt_slot_max(pl, kl, l->max[h + 1]), h, cur,
				true, next);
	} else {
		kr++;
		s = pr->i.child[kr];
		err = vt_absorb(tx, s, vt_slot_min(pr, kr, r->min[h + 1]),
				vt_slot_max(pr, kr, r->max[h + 1]), h, cur,
				false, next);
	}
	if (err)
		return err;
	vt_list_add_node(next, pr, r->max[h + 1], kr + 1, pr->nr);
	return 0;
}

/*
 * Above the old root: grow levels until the list fits one node, then make
 * it the root (or, for a lone child, let the child be the root).
 */
static int vt_make_root(struct vt_txn *tx, struct vt_list *cur,
			struct vt_list *next, struct vt_node **root,
			unsigned int *height)
{
	struct vt_list *tmp;
	uint64_t gap;
	int err;

	while (cur->nr > vt_max_slots(cur->level)) {
		next->nr = 0;
		next->level = cur->level + 1;
		next->base = cur->base;
		err = vt_pack(tx, cur, next);
		if (err)
			return err;
		tmp = cur;
		cur = next;
		next = tmp;
	}
	if (cur->level && cur->nr == 1) {
		*root = cur->it[0].ptr;
		*height = cur->level;
		return 0;
	}
	if (!cur->level && cur->nr == 1 && !cur->it[0].ptr) {
		*root = &vt_empty;
		*height = 1;
		return 0;
	}
	*root = vt_build(tx, cur->level, cur->it, cur->nr, cur->base, &gap);
	*height = cur->level + 1;
	return *root ? 0 : -ENOMEM;
}

/* The new leaf-level slots for [lo, hi): @new with NULLs between. */
static void vt_leaf_list(struct vt_list *c, const struct vt_path *l,
			 const struct vt_path *r, uint64_t lo, uint64_t hi,
			 uint64_t start, uint64_t end,
			 const struct vma_tree_range *new, size_t nr)
{
	uint64_t pos = start;
	size_t i;

	c->nr = 0;
	c->level = 0;
	c->base = l->min[0];
	vt_list_add_node(c, l->node[0], l->max[0], 0, l->idx[0]);
	if (lo < start)
		vt_list_add_slot(c, start, NULL);
	for (i = 0; i < nr; i++) {
		if (new[i].start > pos)
			vt_list_add_slot(c, new[i].start, NULL);
		vt_list_add_slot(c, new[i].end, new[i].entry);
		pos = new[i].end;
	}
	if (pos < end)
		vt_list_add_slot(c, end, NULL);
	if (hi > end)
		vt_list_add_slot(c, hi, NULL);
	vt_list_add_node(c, r->node[0], r->max[0], r->idx[0] + 1,
			 r->node[0]->nr);
}

static int vt_check_new(uint64_t start, uint64_t end,
			const struct vma_tree_range *new, size_t nr)
{
	uint64_t pos = start;
	size_t i;

	if (start >= end || (nr && !new))
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!new[i].entry || new[i].start < pos ||
		    new[i].end <= new[i].start || new[i].end > end)
			return -EINVAL;
		pos = new[i].end;
	}
	return 0;
}

/* The slot a path ends on: its entry, and its bounds in *@s and *@e. */
static inline void *vt_path_slot(const struct vt_path *p, uint64_t *s,
				 uint64_t *e)
{
	const struct vt_node *n = p->node[0];
	unsigned int i = p->idx[0];

	*s = vt_slot_min(n, i, p->min[0]);
	*e = vt_slot_max(n, i, p->max[0]);
	return n->l.slot[i];
}

static struct vt_path *vt_path_new(struct vt_txn *tx)
{
	BUG_ON(tx->nr_path >= ARRAY_SIZE(tx->path));
	return &tx->path[tx->nr_path++];
}

static struct vt_path *vt_path_dup(struct vt_txn *tx, const struct vt_path *p,
				   unsigned int height)
{
	struct vt_path *d = vt_path_new(tx);
	unsigned int h;

	for (h = 0; h < height; h++) {
		d->node[h] = p->node[h];
		d->min[h] = p->min[h];
		d->max[h] = p->max[h];
		d->idx[h] = p->idx[h];
	}
	return d;
}

/*
 * Find the paths to the first and last slot the write rewrites, in one
 * descent when [start, end) lies in one slot (an insert into a gap, an
 * mprotect or munmap of one VMA), two otherwise, a third only when a gap
 * beside the range is in the next leaf. The range widens to the slot
 * boundaries it starts and ends on: a gap touching it joins it, so gaps
 * stay whole. @insert: the range must be free.
 * Return: 0, -EEXIST (@insert, part of the range is taken), -EINVAL (an
 *         entry straddles @start or @end).
 */
static int vt_locate(struct vma_tree *t, struct vt_txn *tx, uint64_t start,
		     uint64_t end, bool insert, struct vt_path **lp,
		     struct vt_path **rp, uint64_t *lo, uint64_t *hi)
{
	struct vt_node *root = t->root;
	unsigned int height = t->height, i;
	struct vt_path *l, *r, *x;
	uint64_t s, e, xs, xe;
	void *first, *last;

	tx->nr_path = 0;
	l = r = vt_path_new(tx);
	vt_walk(root, height, start, l);
	first = vt_path_slot(l, &s, &e);
	if (insert && (first || e < end))
		return -EEXIST;
	if (first && s < start)
		return -EINVAL;
	*lo = first ? start : s;
	if (e < end) {
		r = vt_path_new(tx);
		vt_walk(root, height, end - 1, r);
		last = vt_path_slot(r, &xs, &e);
	} else {
		last = first;
	}
	if (last && e > end)
		return -EINVAL;
	*hi = last ? end : e;

	/* An entry starts the range: a gap just below it joins. */
	if (first && start > 0) {
		i = l->idx[0];
		if (i) {
			if (!l->node[0]->l.slot[i - 1]) {
				if (l == r)
					l = vt_path_dup(tx, r, height);
				l->idx[0] = --i;
				*lo = vt_slot_min(l->node[0], i, l->min[0]);
			}
		} else {
			x = vt_path_new(tx);
			vt_walk(root, height, start - 1, x);
			if (!vt_path_slot(x, &xs, &xe)) {
				l = x;
				*lo = xs;
			}
		}
	}
	/* An entry ends it: a gap just above it joins. */
	if (last && end < VMA_TREE_KEY_MAX) {
		i = r->idx[0];
		if (i + 1u < r->node[0]->nr) {
			if (!r->node[0]->l.slot[i + 1]) {
				if (l == r)
					r = vt_path_dup(tx, l, height);
				r->idx[0] = ++i;
				*hi = vt_slot_max(r->node[0], i, r->max[0]);
			}
		} else {
			x = vt_path_new(tx);
			vt_walk(root, height, end, x);
			if (!vt_path_slot(x, &xs, &xe)) {
				r = x;
				*hi = xe;
			}
		}
	}
	*lp = l;
	*rp = r;
	return 0;
}

/* Never published: straight back to the tree's spares. */
static void vt_abort(struct vt_txn *tx)
{
	while (tx->nr_new)
		vt_node_unalloc(tx->tree, tx->new_nodes[--tx->nr_new]);
}

/* Publish @root and retire what it replaced. */
static void vt_commit(struct vma_tree *t, struct vt_txn *tx,
		      struct vt_node *root, unsigned int height,
		      uint64_t removed, size_t added)
{
	unsigned int i;

	smp_store_release(&t->root, root);
	smp_store_release(&t->seq, t->seq + 1);
	t->height = height;
	atomic_fetch_add_relaxed(&vt_live, (long)tx->nr_new);
	for (i = 0; i < tx->nr_drop; i++)
		removed += vt_retire_subtree(t, tx->drops[i]);
	for (i = 0; i < tx->nr_old; i++)
		vt_node_retire(t, tx->old_nodes[i]);
	WRITE_ONCE(t->count, t->count - removed + added);
	/* And the nodes of the next write, while the caller goes on. */
	vt_prefetch_spares(t, height + 1);
}

/*
 * The common write: @cur is the new content of the one node at level @h
 * on path @l, and it fits one node. Nothing moves at the levels above,
 * so each node of the path above is copied with one child and its gap
 * changed: a straight copy, no list to build and re-pack.
 */
static int vt_copy_up(struct vma_tree *t, struct vt_txn *tx,
		      const struct vt_path *l, unsigned int h,
		      const struct vt_list *cur, struct vt_node **root)
{
	const size_t body = offsetof(struct vt_node, nr);
	struct vt_node *n, *child, *old;
	unsigned int i, j;
	uint64_t gap;

	n = vt_build(tx, h, cur->it, cur->nr, cur->base, &gap);
	if (!n)
		return -ENOMEM;
	for (h++; h < t->height; h++) {
		old = l->node[h];
		i = l->idx[h];
		vt_txn_old(tx, old);
		child = n;
		n = vt_txn_new(tx);
		if (!n)
			return -ENOMEM;
		memcpy((char *)n + body, (char *)old + body,
		       sizeof(*n) - body);
		n->i.child[i] = child;
		n->i.gap[i] = gap;
		for (j = 0, gap = 0; j < n->nr; j++)
			if (n->i.gap[j] > gap)
				gap = n->i.gap[j];
	}
	*root = n;
	return 0;
}

static int vt_rebuild(struct vma_tree *t, struct vt_txn *tx,
		      struct vt_list *cur, struct vt_list *next,
		      const struct vt_path *l, const struct vt_path *r,
		      struct vt_node **root, unsigned int *height)
{
	struct vt_list *tmp;
	unsigned int h;
	int err;

	vt_txn_old(tx, l->node[0]);
	if (r->node[0] != l->node[0])
		vt_txn_old(tx, r->node[0]);
	for (h = 0; h + 1 < t->height; h++) {
		if (l->node[h] == r->node[h] && cur->level == h &&
		    cur->nr >= vt_min_slots(h) && cur->nr <= vt_max_slots(h)) {
			*height = t->height;
			return vt_copy_up(t, tx, l, h, cur, root);
		}
		err = vt_step(tx, l, r, h, cur, next);
		if (err)
			return err;
		tmp = cur;
		cur = next;
		next = tmp;
	}
	return vt_make_root(tx, cur, next, root, height);
}

/* The largest gap of leaf @n, whose range is [@min, @max). */
static uint64_t vt_leaf_gap(const struct vt_node *n, uint64_t min, uint64_t max)
{
	uint64_t gap = 0, s, e;
	unsigned int i;

	for (i = 0; i < n->nr; i++) {
		if (n->l.slot[i])
			continue;
		s = vt_slot_min(n, i, min);
		e = vt_slot_max(n, i, max);
		if (e - s > gap)
			gap = e - s;
	}
	return gap;
}

/*
 * After a store in place into the leaf of @p: the gaps above it.
 * Locking: the writer lock held; lockless readers load gaps with READ_ONCE.
 */
static void vt_fix_gaps(const struct vt_path *p, unsigned int height)
{
	uint64_t gap = vt_leaf_gap(p->node[0], p->min[0], p->max[0]);
	struct vt_node *n;
	unsigned int h, i, j;

	for (h = 1; h < height; h++) {
		n = p->node[h];
		i = p->idx[h];
		if (n->i.gap[i] == gap)
			return;		/* and so are those further up */
		WRITE_ONCE(n->i.gap[i], gap);
		for (j = 0, gap = 0; j < n->nr; j++)
			if (n->i.gap[j] > gap)
				gap = n->i.gap[j];
	}
}

/*
 * vt_store_exact - the write in place, when the slot @p ends on is exactly
 * [@start, @end) and the write stores one entry over all of it, or clears
 * an entry whose neighbours in the leaf are both entries (so gaps stay
 * whole). Pivots and slot counts stay, so one release store of the slot is
 * the whole change to readers: they find the old entry or the new one, as
 * across a new root. Nothing is copied or retired and the root and the
 * lines of other slots stay as they were, so a fault looking up its VMA
 * beside another thread's mmap/munmap churn no longer misses on a new
 * root and a new path each time; cursors stay valid (same nodes).
 * @insert: as vt_replace's (a taken slot is left to it, for -EEXIST).
 * Locking: the writer lock held.
 * Return: 0 done; -EAGAIN not of that shape (nothing changed).
 */
static int vt_store_exact(struct vma_tree *t, const struct vt_path *p,
			  void *old, void *entry, bool insert)
{
	struct vt_node *leaf = p->node[0];
	unsigned int i = p->idx[0];

	if ((!old && !entry) || (old && insert))
		return -EAGAIN;
	if (!entry && (i == 0 || i + 1u >= leaf->nr || !leaf->l.slot[i - 1] ||
		       !leaf->l.slot[i + 1]))
		return -EAGAIN;
	/*
	 * A gap that an append shortened was the leaf's last slot for a
	 * reader that still holds the count from before the append, and
	 * that reader takes its end for the leaf's: an entry stored into
	 * it would be seen with that end, over the appended slots. Such a
	 * gap is filled by a copy.
	 */
	if (!old && i + 1u >= leaf->nr_built && i + 1u < leaf->nr)
		return -EAGAIN;
	smp_store_release(&leaf->l.slot[i], entry);
	if (!old != !entry)
		vt_fix_gaps(p, t->height);
	WRITE_ONCE(t->count, t->count + !!entry - !!old);
	return 0;
}

/*
 * vt_store_append - the other write in place (the maple tree's append):
 * @entry goes into the upper part of the gap [@s, @e) that ends the leaf
 * of @p, [@start, @end) with @s < @start, and the leaf has room for the
 * one or two slots that adds. The gap keeps its slot and only shrinks;
 * the new slots and the pivots that bound them go past the leaf's count,
 * where no reader looks, and one release store of the count shows them.
 * A reader that loaded the old count sees the whole gap, as before the
 * write; one that loaded the new count sees all of it (vt_nr). A count
 * never shrinks in place, so the slots past it were never seen by any
 * reader, and writing them races with none. The gap's slot stays a gap
 * until the leaf is copied (vt_store_exact refuses to fill it): to a
 * reader with the old count it still ends at the leaf's end. Mapping
 * regions one after
 * another upwards, as an emulator maps its guest, is this shape three
 * times in four: no copy of the leaf and its path, nothing retired.
 * Locking: the writer lock held.
 * Return: 0 done; -EAGAIN not of that shape (nothing changed).
 */
static int vt_store_append(struct vma_tree *t, const struct vt_path *p,
			   uint64_t s, uint64_t e, uint64_t start, uint64_t end,
			   void *entry)
{
	struct vt_node *leaf = p->node[0];
	unsigned int i = p->idx[0], nr = leaf->nr;

	if (i + 1u != nr || s >= start || end > e ||
	    nr + 1u + (end < e) > VT_LEAF_SLOTS)
		return -EAGAIN;
	leaf->l.pivot[i] = start;
	leaf->l.slot[i + 1] = entry;
	if (end < e) {
		leaf->l.pivot[i + 1] = end;
		leaf->l.slot[i + 2] = NULL;
	}
	smp_store_release(&leaf->nr, nr + 1u + (end < e));
	vt_fix_gaps(p, t->height);
	WRITE_ONCE(t->count, t->count + 1);
	return 0;
}

/*
 * A write that needs no new node: one entry over exactly one slot, or
 * cleared from one (vt_store_exact); one entry into the gap at the end of
 * a leaf (vt_store_append).
 * Locking: the writer lock held.
 * Return: 0 done; -EAGAIN when neither fits (nothing changed).
 */
static int vt_store_in_place(struct vma_tree *t, uint64_t start, uint64_t end,
			     const struct vma_tree_range *new, size_t nr,
			     bool insert)
{
	void *entry = nr ? new[0].entry : NULL, *old;
	struct vt_path p;
	uint64_t s, e;

	if (nr > 1 || (nr && (new[0].start != start || new[0].end != end)) ||
	    t->root == &vt_empty)
		return -EAGAIN;
	vt_walk(t->root, t->height, start, &p);
	old = vt_path_slot(&p, &s, &e);
	if (s == start && e == end)
		return vt_store_exact(t, &p, old, entry, insert);
	if (old || !entry)
		return -EAGAIN;
	return vt_store_append(t, &p, s, e, start, end, entry);
}

static int vt_replace(struct vma_tree *t, uint64_t start, uint64_t end,
		      const struct vma_tree_range *new, size_t nr, bool insert)
{
	struct vt_item *big = NULL;
	struct vt_list a, b;
	struct vt_node *root = NULL;
	struct vt_path *l, *r;
	struct vt_txn *tx = t->txn;
	unsigned int height = 0;
	uint64_t lo, hi, removed;
	size_t cap = 2 * nr + 4 * VT_LEAF_SLOTS;
	int err;

	err = vt_check_new(start, end, new, nr);
	if (err)
		return err;
	err = vt_store_in_place(t, start, end, new, nr, insert);
	if (err != -EAGAIN)
		return err;
	if (unlikely(!tx)) {
		tx = t->txn = calloc(1, sizeof(*tx));
		if (!tx)
			return -ENOMEM;
	}
	if (unlikely(cap > tx->items_cap)) {
		if (cap <= VT_LIST_KEEP) {
			if (cap < VT_LIST_MIN)
				cap = VT_LIST_MIN;
			free(tx->items);
			tx->items_cap = 0;
			tx->items = malloc(2 * cap * sizeof(*big));
			if (!tx->items)
				return -ENOMEM;
			tx->items_cap = cap;
		} else {
			big = malloc(2 * cap * sizeof(*big));
			if (!big)
				return -ENOMEM;
		}
	}
	a = (struct vt_list){ .cap = cap, .it = big ? big : tx->items };
	b = (struct vt_list){ .cap = cap, .it = a.it + cap };
	tx->tree = t;
	tx->nr_new = tx->nr_old = tx->nr_drop = 0;
	vt_prefetch_spares(t, t->height + 1);
	err = vt_locate(t, tx, start, end, insert, &l, &r, &lo, &hi);
	if (err)
		goto out;
	vt_leaf_list(&a, l, r, lo, hi, start, end, new, nr);
	removed = vt_leaf_count_inside(l->node[0], l->min[0], l->max[0], start, end);
	if (r->node[0] != l->node[0])
		removed += vt_leaf_count_inside(r->node[0], r->min[0], r->max[0],
						start, end);
	err = vt_rebuild(t, tx, &a, &b, l, r, &root, &height);
	if (err)
		vt_abort(tx);
	else
		vt_commit(t, tx, root, height, removed, nr);
out:
	free(big);
	return err;
}

/*
 * vma_tree_replace - in one step visible to readers, remove every entry in
 * [@start, @end) and insert the @nr ranges of @new (sorted, disjoint,
 * inside [@start, @end)).
 * Locking: the writer lock held (mmap_lock for write); not inside an RCU
 *          read-side section (retired nodes go to call_rcu, or to the
 *          reclaimer, whose innermost lock it may take to wake it).
 * Return: 0; -EINVAL for a bad range or when an entry straddles @start or
 *         @end; -ENOMEM. On error the tree is unchanged.
 */
int vma_tree_replace(struct vma_tree *t, uint64_t start, uint64_t end,
		     const struct vma_tree_range *new, size_t nr)
{
	return vt_replace(t, start, end, new, nr, false);
}

/*
 * vma_tree_insert - map [@start, @end) to @entry.
 * Locking: as vma_tree_replace.
 * Return: 0, -EEXIST when part of the range is taken, -EINVAL, -ENOMEM.
 */
int vma_tree_insert(struct vma_tree *t, uint64_t start, uint64_t end,
		    void *entry)
{
	struct vma_tree_range r = { .start = start, .end = end, .entry = entry };

	if (start >= end || !entry)
		return -EINVAL;
	return vt_replace(t, start, end, &r, 1, true);
}

/*
 * vma_tree_erase - remove the entries inside [@start, @end).
 * Locking: as vma_tree_replace.
 * Return: 0, -EINVAL when an entry straddles @start or @end, -ENOMEM.
 */
int vma_tree_erase(struct vma_tree *t, uint64_t start, uint64_t end)
{
	return vma_tree_replace(t, start, end, NULL, 0);
}

/*
 * vma_tree_init - an empty tree.
 * Locking: none; @t is not yet shared.
 */
void vma_tree_init(struct vma_tree *t)
{
	t->root = &vt_empty;
	t->seq = 0;
	t->count = 0;
	t->height = 1;
	t->txn = NULL;
	t->spare = NULL;
	t->empty = NULL;
	t->retired = NULL;
	t->espare = NULL;
	t->eretired = NULL;
	t->egen = 0;
}

/*
 * vma_tree_destroy - free every node now (the entries are the caller's).
 * Locking: no reader or writer may use @t any more, and none may still be
 *          inside an RCU section that loaded its root.
 */
void vma_tree_destroy(struct vma_tree *t)
{
	uint64_t egen;

	vt_flush_retired(&t->retired);
	vt_entry_gen_bump(t);	/* no reader is left, but as ever */
	vt_flush_retired(&t->eretired);
	atomic_fetch_add_relaxed(&vt_live, -vt_free_subtree(t->root));
	if (t->txn)
		free(t->txn->items);
	free(t->txn);
	vt_free_spares(t);
	egen = t->egen;
	vma_tree_init(t);
	t->egen = egen;		/* never back: a reader may hold an older one */
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

struct vt_check {
	bool prev_null;		/* the slot before this one was a gap */
	bool started;
	uint64_t entries;
};

#define vt_fail(...) ({ fprintf(stderr, "vma_tree: " __VA_ARGS__); -EUCLEAN; })

static int vt_check_node(const struct vt_node *n, uint64_t min, uint64_t max,
			 unsigned int level, bool root, struct vt_check *c,
			 uint64_t *gap)
{
	unsigned int i;
	uint64_t s, e, g;
	int err;

	if (!n->leaf != !!level)
		return vt_fail("node %p: leaf %d at level %u\n", (void *)n,
			       n->leaf, level);
	if (!n->nr || n->nr > vt_max_slots(level) ||
	    (!root && n->nr < vt_min_slots(level)))
		return vt_fail("node %p: %u slots at level %u\n", (void *)n,
			       n->nr, level);
	/* only leaves grow in place (vt_store_append) */
	if (n->nr_built > n->nr || (level && n->nr_built != n->nr))
		return vt_fail("node %p: built with %u slots, has %u\n",
			       (void *)n, n->nr_built, n->nr);
	*gap = 0;
	for (i = 0; i < n->nr; i++) {
		s = vt_slot_min(n, i, min);
		e = vt_slot_max(n, i, max);
		if (e <= s)
			return vt_fail("node %p slot %u: [%#lx, %#lx)\n",
				       (void *)n, i, s, e);
		if (n->leaf) {
			if (!n->l.slot[i] && c->started && c->prev_null)
				return vt_fail("adjacent gaps at %#lx\n", s);
			c->started = true;
			c->prev_null = !n->l.slot[i];
			c->entries += !!n->l.slot[i];
			if (!n->l.slot[i] && e - s > *gap)
				*gap = e - s;
			continue;
		}
		err = vt_check_node(n->i.child[i], s, e, level - 1, false, c,
				    &g);
		if (err)
			return err;
		if (g != n->i.gap[i])
			return vt_fail("node %p slot %u: gap %#lx, below %#lx\n",
				       (void *)n, i, n->i.gap[i], g);
		if (g > *gap)
			*gap = g;
	}
	return 0;
}

/*
 * vma_tree_validate - check every invariant: slot order, fill, uniform
 * depth, whole gaps, the gap of every subtree, the entry count.
 * Locking: the writer lock held, or no writer running.
 * Return: 0, or -EUCLEAN after printing what is wrong.
 */
int vma_tree_validate(struct vma_tree *t)
{
	struct vt_check c = { 0 };
	uint64_t gap;
	int err;

	if (!t->height || t->height > VT_MAX_HEIGHT)
		return vt_fail("height %u\n", t->height);
	err = vt_check_node(t->root, 0, VMA_TREE_KEY_MAX, t->height - 1, true,
			    &c, &gap);
	if (err)
		return err;
	if (c.entries != t->count)
		return vt_fail("%lu entries, count %lu\n", c.entries, t->count);
	return 0;
}
