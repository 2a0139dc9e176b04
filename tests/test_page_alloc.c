// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_page_alloc - the frame allocator, single-threaded: buddy split and
 * merge at every order up to 1 GiB, zeroed hand-out of dirtied frames,
 * compound pages, reference counts, per-quota and process-wide limits,
 * RCU-deferred frees, pfn/page/virt conversions and the reserved pfn 0.
 *
 * The tests run in this order on purpose: the first sees a fresh pool
 * (so the blocks next to pfn 0 are the ones handed out), and the pool is
 * exhausted only by the last.
 */
#include <errno.h>
#include <unistd.h>
#include "test.h"
#include "page_alloc.h"

#define WORDS_PER_PAGE	(PAGE_SIZE / sizeof(uint64_t))

static void stats(struct page_alloc_stats *st)
{
	/* Deferred frees still in flight would make every count drift. */
	rcu_barrier();
	page_alloc_get_stats(st);
}

/*
 * Every free frame is on a buddy list (get_stats drains the caches), in
 * use, or pfn 0: nothing may go missing between the three.
 */
static void check_conservation(const struct page_alloc_stats *st)
{
	CHECK_EQ(st->free_pages + st->in_use_pages + 1, st->online_pages);
}

static bool block_is_zero(struct page *p, unsigned int order)
{
	const uint64_t *w = page_address(p);
	uint64_t acc = 0;

	for (uint64_t i = 0; i < (WORDS_PER_PAGE << order); i++)
		acc |= w[i];
	return acc == 0;
}

static void fill_block(struct page *p, unsigned int order, uint64_t seed)
{
	uint64_t *w = page_address(p);

	for (uint64_t i = 0; i < (WORDS_PER_PAGE << order); i++)
		w[i] = seed + i;
}

/* pfn 0 is reserved before anything is handed out, and stays so. */
static void test_pfn0_reserved(void)
{
	struct page *p[64];

	CHECK_EQ(page_alloc_init(), 0);
	CHECK_EQ(umm_frames.max_pfn, 8UL << (30 - PAGE_SHIFT));
	CHECK(test_bit_page(PG_reserved, pfn_to_page(0)));
	CHECK(!pfn_valid(0));
	/* On a fresh pool the low blocks are the buddies of pfn 0. */
	for (unsigned int i = 0; i < ARRAY_SIZE(p); i++) {
		p[i] = alloc_pages(NULL, 0, i % 6);
		CHECK(p[i]);
		if (p[i])
			CHECK(page_to_pfn(p[i]) != 0);
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(p); i++)
		if (p[i])
			__free_pages(p[i], i % 6);
	/* Merging must stop at pfn 0 rather than swallow it. */
	for (unsigned int o = 0; o <= 17; o++) {
		struct page *q = alloc_pages(NULL, 0, o);

		CHECK(q);
		if (!q)
			continue;
		CHECK(page_to_pfn(q) != 0);
		__free_pages(q, o);
	}
	CHECK(test_bit_page(PG_reserved, pfn_to_page(0)));
	CHECK_EQ(page_count(pfn_to_page(0)), 0);
	CHECK(!test_bit_page(PG_buddy, pfn_to_page(0)));
}

/* One block of every order, all aligned, disjoint and zeroed; then back. */
static void test_all_orders(void)
{
	struct page_alloc_stats before, mid, after;
	struct page *p[NR_PAGE_ORDERS];
	uint64_t total = 0;

	stats(&before);
	for (unsigned int o = 0; o <= MAX_PAGE_ORDER; o++) {
		uint64_t pfn;
		char *a;

		p[o] = alloc_pages(NULL, 0, o);
		CHECK(p[o]);
		if (!p[o])
			continue;
		total += 1UL << o;
		pfn = page_to_pfn(p[o]);
		CHECK(pfn_valid(pfn));
		CHECK(pfn_valid(pfn + (1UL << o) - 1));
		CHECK(IS_ALIGNED(pfn, 1UL << o));
		CHECK(IS_ALIGNED((uint64_t)page_address(p[o]), PAGE_SIZE << o));
		CHECK_EQ(page_order(p[o]), o);
		CHECK_EQ(page_count(p[o]), 1);
		CHECK(!test_bit_page(PG_buddy, p[o]));
		CHECK(!test_bit_page(PG_pcp, p[o]));
		CHECK(!test_bit_page(PG_head, p[o]));	/* no __GFP_COMP */
		a = page_address(p[o]);
		/* Touch only the ends: a 1 GiB block is not to be committed. */
		CHECK_EQ(a[0], 0);
		CHECK_EQ(a[(PAGE_SIZE << o) - 1], 0);
		a[0] = 1;
		a[(PAGE_SIZE << o) - 1] = 1;
	}
	for (unsigned int i = 0; i <= MAX_PAGE_ORDER; i++)
		for (unsigned int j = i + 1; j <= MAX_PAGE_ORDER; j++) {
			if (!p[i] || !p[j])
				continue;
			uint64_t a = page_to_pfn(p[i]), b = page_to_pfn(p[j]);

			CHECK(a + (1UL << i) <= b || b + (1UL << j) <= a);
		}
	stats(&mid);
	CHECK_EQ(mid.in_use_pages, before.in_use_pages + total);
	CHECK_EQ(mid.pgalloc, before.pgalloc + total);
	check_conservation(&mid);

	CHECK(!alloc_pages(NULL, 0, MAX_PAGE_ORDER + 1));
	CHECK(!alloc_pages(NULL, 0, MAX_PAGE_ORDER + 7));
	CHECK(!alloc_pages(NULL, __GFP_COMP, 63));

	for (unsigned int o = 0; o <= MAX_PAGE_ORDER; o++)
		if (p[o])
			__free_pages(p[o], o);
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgfree, before.pgfree + total);
	CHECK_EQ(after.pgalloc, mid.pgalloc);	/* the failures counted nothing */
	CHECK_EQ(after.free_pages,
		 before.free_pages + (after.online_pages - before.online_pages));
	CHECK_EQ(after.rcu_pending_pages, 0);
	check_conservation(&after);
}

/*
 * Merge: split 1 GiB blocks into halves, free the halves, and the 1 GiB
 * blocks must come back without the pool growing. Without merging every
 * order-18 request below would have to bring a new section online.
 */
static void test_split_merge(void)
{
	struct page_alloc_stats before, split, after;
	struct page *half[6], *whole[6];
	unsigned int pairs = 0;

	stats(&before);
	for (unsigned int i = 0; i < ARRAY_SIZE(half); i++) {
		half[i] = alloc_pages(NULL, 0, MAX_PAGE_ORDER - 1);
		CHECK(half[i]);
	}
	/* Count the halves whose buddy we also hold: those pairs must merge. */
	for (unsigned int i = 0; i < ARRAY_SIZE(half); i++) {
		uint64_t lo = half[i] ? page_to_pfn(half[i]) : 0;

		if (!lo || !IS_ALIGNED(lo, 1UL << MAX_PAGE_ORDER))
			continue;
		for (unsigned int j = 0; j < ARRAY_SIZE(half); j++)
			if (half[j] && page_to_pfn(half[j]) ==
			    lo + (1UL << (MAX_PAGE_ORDER - 1)))
				pairs++;
	}
	CHECK(pairs >= 2);	/* six halves cover at least two sections */
	for (unsigned int i = 0; i < ARRAY_SIZE(half); i++)
		if (half[i])
			__free_pages(half[i], MAX_PAGE_ORDER - 1);
	stats(&split);
	CHECK_EQ(split.in_use_pages, before.in_use_pages);
	check_conservation(&split);

	for (unsigned int i = 0; i < pairs; i++) {
		whole[i] = alloc_pages(NULL, 0, MAX_PAGE_ORDER);
		CHECK(whole[i]);
	}
	stats(&after);
	CHECK_EQ(after.online_pages, split.online_pages);
	for (unsigned int i = 0; i < pairs; i++)
		if (whole[i])
			__free_pages(whole[i], MAX_PAGE_ORDER);
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.free_pages, split.free_pages);
	check_conservation(&after);
}

/*
 * Dirty, free, allocate again: what comes back must read as zero, both
 * through the memset path (small orders, the per-thread cache for order 0)
 * and the madvise path (order >= 10).
 */
static void test_zeroed_after_dirty(void)
{
	static const unsigned int orders[] = { 0, 3, 9, 10, 11 };
	struct page_alloc_stats before, after;

	stats(&before);
	for (unsigned int k = 0; k < ARRAY_SIZE(orders); k++) {
		unsigned int o = orders[k];
		uint64_t dirtied[16], ndirty = 0, reused = 0, nonzero = 0;

		for (int round = 0; round < 24; round++) {
			struct page *p[4];

			for (int i = 0; i < 4; i++) {
				p[i] = alloc_pages(NULL, 0, o);
				CHECK(p[i]);
				if (!p[i])
					continue;
				for (uint64_t d = 0; d < ndirty; d++)
					if (dirtied[d] == page_to_pfn(p[i]))
						reused++;
				if (!block_is_zero(p[i], o))
					nonzero++;
				fill_block(p[i], o, 0xa5a5a5a500000000ULL + round);
				if (ndirty < ARRAY_SIZE(dirtied))
					dirtied[ndirty++] = page_to_pfn(p[i]);
			}
			/* Free in a different order each round: other merges. */
			for (int i = 0; i < 4; i++) {
				int j = (i + round) % 4;

				if (p[j])
					__free_pages(p[j], o);
			}
		}
		CHECK_EQ(nonzero, 0);
		/* The test means nothing unless dirty frames were reused. */
		CHECK(reused > 0);
		if (nonzero || !reused)
			fprintf(stderr, "order %u: %llu non-zero, %llu reused\n", o,
				(unsigned long long)nonzero, (unsigned long long)reused);
	}
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	check_conservation(&after);
}

/* Random orders held together and freed out of order: PG_zero survives merges. */
static void test_zeroed_mixed(void)
{
	struct page_alloc_stats before, after;
	struct { struct page *p; unsigned int order; } held[24] = { { 0 } };
	uint64_t seed = 0x9e3779b97f4a7c15ULL, nonzero = 0;

	stats(&before);
	for (int iter = 0; iter < 600; iter++) {
		unsigned int i = xrand(&seed) % ARRAY_SIZE(held);

		if (held[i].p) {
			__free_pages(held[i].p, held[i].order);
			held[i].p = NULL;
			continue;
		}
		held[i].order = xrand(&seed) % 12;
		held[i].p = alloc_pages(NULL, 0, held[i].order);
		CHECK(held[i].p);
		if (!held[i].p)
			continue;
		if (!block_is_zero(held[i].p, held[i].order))
			nonzero++;
		fill_block(held[i].p, held[i].order, iter);
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(held); i++)
		if (held[i].p)
			__free_pages(held[i].p, held[i].order);
	CHECK_EQ(nonzero, 0);
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	check_conservation(&after);
}

/* __GFP_NOZERO is allowed to hand back old contents; it must still work. */
static void test_nozero(void)
{
	struct page *p = alloc_pages(NULL, __GFP_NOZERO, 2);

	CHECK(p);
	if (!p)
		return;
	CHECK_EQ(page_count(p), 1);
	CHECK_EQ(page_order(p), 2);
	fill_block(p, 2, 7);
	__free_pages(p, 2);
	/* And a normal request right after still gets zeroes. */
	p = alloc_pages(NULL, 0, 2);
	CHECK(p);
	if (p) {
		CHECK(block_is_zero(p, 2));
		__free_pages(p, 2);
	}
}

static void test_compound(void)
{
	struct page_alloc_stats before, after;
	const unsigned int order = 9;
	struct page *p = alloc_pages(NULL, __GFP_COMP, order);
	uint64_t bad = 0;

	stats(&before);
	CHECK(p);
	if (!p)
		return;
	CHECK(test_bit_page(PG_head, p));
	CHECK_EQ(page_order(p), order);
	CHECK(!PageTail(p));
	CHECK(compound_head(p) == p);
	for (uint64_t i = 1; i < (1UL << order); i++)
		if (!PageTail(p + i) || compound_head(p + i) != p)
			bad++;
	CHECK_EQ(bad, 0);

	/* References taken through any tail land on the head. */
	get_page(p + 5);
	CHECK_EQ(page_count(p), 2);
	CHECK_EQ(page_count(p + 5), 0);
	put_page(p + 5);
	CHECK_EQ(page_count(p), 1);
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);	/* still held */
	put_page(p + (1UL << order) - 1);	/* the last ref, via the last tail */
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages - (1UL << order));
	CHECK_EQ(page_count(p), 0);
	/* Freed: the tails no longer point anywhere. */
	bad = 0;
	for (uint64_t i = 1; i < (1UL << order); i++)
		if (PageTail(p + i))
			bad++;
	CHECK_EQ(bad, 0);

	/* Without __GFP_COMP there is no head and there are no tails. */
	p = alloc_pages(NULL, 0, order);
	CHECK(p);
	if (!p)
		return;
	CHECK(!test_bit_page(PG_head, p));
	bad = 0;
	for (uint64_t i = 1; i < (1UL << order); i++)
		if (PageTail(p + i) || compound_head(p + i) != p + i)
			bad++;
	CHECK_EQ(bad, 0);
	put_page(p);	/* put_page frees a non-compound block whole too */
	stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages - (1UL << order));
	check_conservation(&after);

	/* An order-0 __GFP_COMP page is just a page. */
	p = alloc_pages(NULL, __GFP_COMP, 0);
	CHECK(p);
	if (p) {
		CHECK(!test_bit_page(PG_head, p));
		put_page(p);
	}
}

static void test_refcount(void)
{
	struct page_alloc_stats before, st;
	struct page *p, *q;

	stats(&before);
	p = alloc_page(NULL, 0);
	CHECK(p);
	if (!p)
		return;
	CHECK_EQ(page_count(p), 1);
	get_page(p);
	get_page(p);
	CHECK_EQ(page_count(p), 3);
	CHECK(get_page_unless_zero(p));
	CHECK_EQ(page_count(p), 4);
	put_page(p);
	put_page(p);
	put_page(p);
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages + 1);
	CHECK_EQ(page_count(p), 1);
	put_page(p);			/* last put frees */
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	CHECK_EQ(page_count(p), 0);
	CHECK(!get_page_unless_zero(p));	/* on a free frame */
	CHECK_EQ(page_count(p), 0);

	/* __free_pages drops one reference, not all of them. */
	q = alloc_pages(NULL, 0, 3);
	CHECK(q);
	if (q) {
		get_page(q);
		__free_pages(q, 3);
		CHECK_EQ(page_count(q), 1);
		stats(&st);
		CHECK_EQ(st.in_use_pages, before.in_use_pages + 8);
		__free_pages(q, 3);
		CHECK_EQ(page_count(q), 0);
		CHECK(!get_page_unless_zero(q));	/* free, on a buddy list */
	}
	/* Frames never handed out, and the reserved one, are free too. */
	CHECK(!get_page_unless_zero(pfn_to_page(umm_frames.max_pfn - 1)));
	CHECK(!get_page_unless_zero(pfn_to_page(0)));
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	check_conservation(&st);
}

static void test_quota(void)
{
	struct page_alloc_stats before, st;
	struct frame_quota q = { 0, 5 };
	struct page *p[6], *big;

	stats(&before);
	for (int i = 0; i < 5; i++) {
		p[i] = alloc_page(&q, 0);
		CHECK(p[i]);
		if (p[i])
			CHECK(p[i]->quota == &q);
	}
	CHECK_EQ(quota_used(&q), 5);
	CHECK(!alloc_page(&q, 0));
	CHECK(!alloc_pages(&q, 0, 1));
	CHECK_EQ(quota_used(&q), 5);		/* a refused charge is given back */
	if (p[2])
		__free_pages(p[2], 0);
	CHECK_EQ(quota_used(&q), 4);
	CHECK(!alloc_pages(&q, 0, 1));	/* two pages do not fit in one */
	p[2] = alloc_page(&q, 0);
	CHECK(p[2]);
	CHECK(!alloc_page(&q, 0));
	CHECK_EQ(quota_used(&q), 5);
	/* Frames without a quota are not charged to it. */
	p[5] = alloc_page(NULL, 0);
	CHECK(p[5]);
	CHECK_EQ(quota_used(&q), 5);
	for (int i = 0; i < 6; i++)
		if (p[i])
			put_page(p[i]);
	CHECK_EQ(quota_used(&q), 0);

	/* A block is charged for all its frames. */
	q.limit = 8;
	big = alloc_pages(&q, __GFP_COMP, 3);
	CHECK(big);
	CHECK_EQ(quota_used(&q), 8);
	CHECK(!alloc_page(&q, 0));
	if (big)
		put_page(big + 3);
	CHECK_EQ(quota_used(&q), 0);
	CHECK(!alloc_pages(&q, 0, 4));
	CHECK_EQ(quota_used(&q), 0);

	/* A zero limit allows nothing. */
	q.limit = 0;
	CHECK(!alloc_page(&q, 0));
	CHECK_EQ(quota_used(&q), 0);

	quota_drain(&q);	/* q is on this stack */
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	CHECK_EQ(st.pgalloc - before.pgalloc, 6 + 1 + 8);
}

static void test_global_limit(void)
{
	struct page_alloc_stats before, st;
	struct frame_quota q = { 0, 1 };
	struct page *p[10], *x;

	stats(&before);
	CHECK_EQ(page_alloc_set_limit((before.in_use_pages + 4) << PAGE_SHIFT), 0);
	for (int i = 0; i < 4; i++) {
		p[i] = alloc_page(NULL, 0);
		CHECK(p[i]);
	}
	CHECK(!alloc_page(NULL, 0));
	CHECK(!alloc_pages(NULL, 0, 2));
	if (p[1])
		__free_pages(p[1], 0);
	p[1] = alloc_page(NULL, 0);	/* one freed, one more allowed */
	CHECK(p[1]);
	CHECK(!alloc_page(NULL, 0));
	for (int i = 0; i < 4; i++)
		if (p[i])
			__free_pages(p[i], 0);
	/* The whole allowance is back: an order-2 block fits exactly. */
	x = alloc_pages(NULL, 0, 2);
	CHECK(x);
	CHECK(!alloc_page(NULL, 0));
	if (x)
		__free_pages(x, 2);

	/* A per-quota refusal must not leave a charge on the global limit. */
	CHECK_EQ(page_alloc_set_limit((before.in_use_pages + 10) << PAGE_SHIFT), 0);
	p[0] = alloc_page(&q, 0);
	CHECK(p[0]);
	for (int i = 0; i < 20; i++)
		CHECK(!alloc_page(&q, 0));
	for (int i = 1; i < 10; i++) {
		p[i] = alloc_page(NULL, 0);
		CHECK(p[i]);
	}
	CHECK(!alloc_page(NULL, 0));
	for (int i = 0; i < 10; i++)
		if (p[i])
			__free_pages(p[i], 0);
	CHECK_EQ(quota_used(&q), 0);

	/* Past the pool: refused, and the old limit stays. */
	stats(&st);
	CHECK_EQ(page_alloc_set_limit((st.pool_pages + 1) << PAGE_SHIFT), -EINVAL);
	CHECK_EQ(page_alloc_set_limit(UINT64_MAX), -EINVAL);
	CHECK_EQ(page_alloc_set_limit((st.in_use_pages + 1) << PAGE_SHIFT), 0);
	x = alloc_page(NULL, 0);
	CHECK(x);
	CHECK(!alloc_page(NULL, 0));
	if (x)
		__free_pages(x, 0);

	/* The whole pool is a valid limit; 0 lifts the limit. */
	CHECK_EQ(page_alloc_set_limit(st.pool_pages << PAGE_SHIFT), 0);
	CHECK_EQ(page_alloc_set_limit(0), 0);
	for (int i = 0; i < 10; i++) {
		p[i] = alloc_pages(NULL, 0, 4);
		CHECK(p[i]);
	}
	for (int i = 0; i < 10; i++)
		if (p[i])
			__free_pages(p[i], 4);
	quota_drain(&q);	/* q is on this stack */
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	check_conservation(&st);
}

static void test_free_pages_rcu(void)
{
	struct page_alloc_stats before, mid, st;
	struct page *p[16], *c, *held;
	uint64_t total = 0;

	stats(&before);
	for (int i = 0; i < 16; i++) {
		p[i] = alloc_pages(NULL, 0, i % 3);
		CHECK(p[i]);
		if (p[i])
			total += 1UL << (i % 3);
	}
	c = alloc_pages(NULL, __GFP_COMP, 4);
	CHECK(c);
	if (c)
		total += 16;
	for (int i = 0; i < 16; i++)
		if (p[i])
			free_pages_rcu(p[i]);
	if (c)
		free_pages_rcu(c);
	/*
	 * The grace period may already be over; what must hold is that a
	 * frame is either still pending or already freed, never both.
	 */
	page_alloc_get_stats(&mid);
	CHECK(mid.rcu_pending_pages <= total);
	CHECK(mid.in_use_pages - before.in_use_pages >= mid.rcu_pending_pages);
	CHECK(mid.in_use_pages - before.in_use_pages <= total);
	rcu_barrier();
	page_alloc_get_stats(&st);
	CHECK_EQ(st.rcu_pending_pages, 0);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	check_conservation(&st);

	/* A reader inside rcu_read_lock() holds the free back. */
	held = alloc_pages(NULL, 0, 1);
	CHECK(held);
	if (!held)
		return;
	rcu_read_lock();
	free_pages_rcu(held);
	usleep(20000);		/* give a broken grace period time to end */
	CHECK_EQ(page_count(held), 1);
	page_alloc_get_stats(&mid);
	CHECK_EQ(mid.rcu_pending_pages, 2);
	CHECK_EQ(mid.in_use_pages, before.in_use_pages + 2);
	rcu_read_unlock();
	rcu_barrier();
	CHECK_EQ(page_count(held), 0);

	/* An extra reference keeps the frame past the grace period. */
	held = alloc_page(NULL, 0);
	CHECK(held);
	if (!held)
		return;
	get_page(held);
	free_pages_rcu(held);
	stats(&st);
	CHECK_EQ(page_count(held), 1);
	CHECK_EQ(st.in_use_pages, before.in_use_pages + 1);
	put_page(held);
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	CHECK_EQ(st.rcu_pending_pages, 0);
}

static void test_conversions(void)
{
	struct page *p = alloc_pages(NULL, 0, 9);

	CHECK(p);
	if (!p)
		return;
	for (uint64_t i = 0; i < 512; i += 37) {
		struct page *pg = p + i;
		uint64_t pfn = page_to_pfn(pg);
		char *v = page_address(pg);

		CHECK(pfn_valid(pfn));
		CHECK(pfn_to_page(pfn) == pg);
		CHECK(pfn_to_virt(pfn) == (void *)v);
		CHECK(v == umm_frames.base + (pfn << PAGE_SHIFT));
		CHECK_EQ(virt_to_pfn(v), pfn);
		CHECK(virt_to_page(v) == pg);
		CHECK(virt_to_page(v + PAGE_SIZE - 1) == pg);	/* any byte inside */
		CHECK(virt_to_page(v + PAGE_SIZE) == pg + 1);
		CHECK_EQ(page_to_pfn(virt_to_page(v + 100)), pfn);
	}
	CHECK(!pfn_valid(0));
	CHECK(pfn_valid(1));
	CHECK(pfn_valid(umm_frames.max_pfn - 1));
	CHECK(!pfn_valid(umm_frames.max_pfn));
	__free_pages(p, 9);
}

static void test_struct_page_size(void)
{
	size_t sz = sizeof(struct page);

	CHECK(sz <= 64);
	/* A pointer to a struct page is one to a frame's metadata, nothing more. */
	CHECK_EQ((char *)pfn_to_page(1) - (char *)pfn_to_page(0), sz);
}

/*
 * Run the pool dry with 1 GiB blocks: the failure returns NULL with no
 * charge left behind, small frames still come, and all of it comes back.
 */
static void test_exhaust_pool(void)
{
	struct page_alloc_stats before, st;
	struct frame_quota q = { 0, QUOTA_UNLIMITED };
	uint64_t max = umm_frames.max_pfn >> MAX_PAGE_ORDER;
	struct page **blk = calloc(max + 1, sizeof(*blk));
	uint64_t n[2] = { 0, 0 };

	CHECK(blk);
	if (!blk)
		return;
	stats(&before);
	for (int round = 0; round < 2; round++) {
		struct page *small;

		while (n[round] <= max) {
			blk[n[round]] = alloc_pages(&q, 0, MAX_PAGE_ORDER);
			if (!blk[n[round]])
				break;
			n[round]++;
		}
		/* Section 0 holds pfn 0, so it never yields a whole block. */
		CHECK(n[round] < max);
		CHECK(n[round] > 0);
		CHECK_EQ(quota_used(&q), n[round] << MAX_PAGE_ORDER);
		small = alloc_page(&q, 0);
		CHECK(small);
		if (small)
			__free_pages(small, 0);
		for (uint64_t i = 0; i < n[round]; i++)
			__free_pages(blk[i], MAX_PAGE_ORDER);
		CHECK_EQ(quota_used(&q), 0);
	}
	CHECK_EQ(n[0], n[1]);
	quota_drain(&q);	/* q is on this stack */
	stats(&st);
	CHECK_EQ(st.in_use_pages, before.in_use_pages);
	CHECK_EQ(st.online_pages, (max << MAX_PAGE_ORDER));
	check_conservation(&st);
	free(blk);
}

int main(void)
{
	/*
	 * A small pool, so running it dry stays cheap: under ASan every
	 * 1 GiB block freed and handed out again poisons and unpoisons
	 * 128 MiB of shadow. Eight sections are plenty for the rest.
	 */
	setenv("UMM_POOL_GIB", "8", 1);
	RUN(test_pfn0_reserved);
	RUN(test_all_orders);
	RUN(test_split_merge);
	RUN(test_zeroed_after_dirty);
	RUN(test_zeroed_mixed);
	RUN(test_nozero);
	RUN(test_compound);
	RUN(test_refcount);
	RUN(test_quota);
	RUN(test_global_limit);
	RUN(test_free_pages_rcu);
	RUN(test_conversions);
	RUN(test_struct_page_size);
	RUN(test_exhaust_pool);
	return test_done();
}
