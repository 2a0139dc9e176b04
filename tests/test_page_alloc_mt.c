// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_page_alloc_mt - the frame allocator under threads: per-thread
 * caches, drain_all_pages() from another thread, RCU-deferred frees and
 * thread exit all at once. Every block carries a pattern naming its owner
 * and its frames, so a frame handed to two owners, or handed out while
 * still in use, shows up as a corrupted pattern. At the end every frame
 * and every count must be back where it started. And the per-thread charge
 * stocks: a limit counts frames in use, not what other threads charged
 * ahead, and a stock goes back when its thread exits.
 */
#include <pthread.h>
#include <unistd.h>
#include "test.h"
#include "page_alloc.h"

#define NR_WORKERS	4
#define MAX_HELD	256
#define WORDS_PER_PAGE	(PAGE_SIZE / sizeof(uint64_t))

static double deadline;
static uint64_t corrupt_blocks, nonzero_blocks, failed_allocs;	/* atomic */
static uint64_t worker_pages;		/* frames allocated by workers; atomic */
static int stop_stats;			/* atomic */

/* Every word says whose block it is, which frame, which word, which use. */
static inline uint64_t pattern(unsigned int tid, uint64_t gen, uint64_t pfn,
			       uint64_t word)
{
	return ((uint64_t)(tid + 1) << 56) ^ ((gen & 0xffff) << 40) ^
	       (pfn << 9) ^ word;
}

static void fill(struct page *p, unsigned int order, unsigned int tid, uint64_t gen)
{
	for (uint64_t f = 0; f < (1UL << order); f++) {
		uint64_t *w = page_address(p + f), pfn = page_to_pfn(p + f);

		for (uint64_t i = 0; i < WORDS_PER_PAGE; i++)
			w[i] = pattern(tid, gen, pfn, i);
	}
}

static bool intact(struct page *p, unsigned int order, unsigned int tid, uint64_t gen)
{
	for (uint64_t f = 0; f < (1UL << order); f++) {
		const uint64_t *w = page_address(p + f);
		uint64_t pfn = page_to_pfn(p + f);

		for (uint64_t i = 0; i < WORDS_PER_PAGE; i++)
			if (w[i] != pattern(tid, gen, pfn, i))
				return false;
	}
	return true;
}

static bool is_zero(struct page *p, unsigned int order)
{
	const uint64_t *w = page_address(p);
	uint64_t acc = 0;

	for (uint64_t i = 0; i < (WORDS_PER_PAGE << order); i++)
		acc |= w[i];
	return acc == 0;
}

struct held {
	struct page *p;
	unsigned int order;
	bool comp;
	uint64_t gen;
};

static void release(struct held *h, unsigned int tid, uint64_t *seed,
		    uint64_t *pages)
{
	uint64_t r = xrand(seed);
	struct page *n;

	if (!intact(h->p, h->order, tid, h->gen))
		__atomic_fetch_add(&corrupt_blocks, 1, __ATOMIC_RELAXED);
	switch (r % 8) {
	case 0:
		/*
		 * As a lockless reader would: the block stays ours to read
		 * until this read-side section ends, even though it is freed.
		 */
		rcu_read_lock();
		free_pages_rcu(h->p);
		/* Would be handed this very block were the free not deferred. */
		n = alloc_pages(NULL, 0, h->order);
		if (!intact(h->p, h->order, tid, h->gen))
			__atomic_fetch_add(&corrupt_blocks, 1, __ATOMIC_RELAXED);
		rcu_read_unlock();
		if (!n) {
			__atomic_fetch_add(&failed_allocs, 1, __ATOMIC_RELAXED);
			break;
		}
		*pages += 1UL << h->order;
		if (!is_zero(n, h->order))
			__atomic_fetch_add(&nonzero_blocks, 1, __ATOMIC_RELAXED);
		__free_pages(n, h->order);
		break;
	case 1:
		/* A second reference dropped first must not free it. */
		get_page(h->p);
		put_page(h->p);
		/* fall through */
	default:
		if (h->comp)	/* a put through any tail frees the block */
			put_page(h->p + (r >> 8) % (1UL << h->order));
		else
			__free_pages(h->p, h->order);
	}
	h->p = NULL;
}

static void *worker(void *arg)
{
	unsigned int tid = (unsigned int)(uintptr_t)arg;
	uint64_t seed = 0x2545f4914f6cdd1dULL * (tid + 1), gen = 0, pages = 0;
	struct held *held = calloc(MAX_HELD, sizeof(*held));
	unsigned int nheld = 0;

	if (!held) {
		__atomic_fetch_add(&failed_allocs, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	while (now_sec() < deadline) {
		for (int burst = 0; burst < 64; burst++) {
			uint64_t r = xrand(&seed);
			/* Grow while small, shrink while full, random between. */
			bool grow = nheld < MAX_HELD && (nheld < 8 || r % 16 < 9);

			if (grow) {
				struct held *h = &held[nheld];
				unsigned int o = (r >> 8) % 16 < 13 ? 0 : 1 + (r >> 16) % 10;

				h->comp = (r >> 32) & 1;
				h->p = alloc_pages(NULL, h->comp ? __GFP_COMP : 0, o);
				if (!h->p) {
					__atomic_fetch_add(&failed_allocs, 1, __ATOMIC_RELAXED);
					continue;
				}
				h->order = o;
				h->gen = gen++;
				pages += 1UL << o;
				if (!is_zero(h->p, o))
					__atomic_fetch_add(&nonzero_blocks, 1, __ATOMIC_RELAXED);
				fill(h->p, o, tid, h->gen);
				nheld++;
			} else if (nheld) {
				unsigned int i = (r >> 8) % nheld;

				release(&held[i], tid, &seed, &pages);
				held[i] = held[--nheld];
			}
		}
	}
	while (nheld) {
		unsigned int i = xrand(&seed) % nheld;

		release(&held[i], tid, &seed, &pages);
		held[i] = held[--nheld];
	}
	free(held);
	__atomic_fetch_add(&worker_pages, pages, __ATOMIC_RELAXED);
	/* Exit with frames in this thread's cache: the key destructor returns them. */
	return NULL;
}

static uint64_t stats_rounds, stats_bad;	/* stats thread only, read after join */

static void *stats_thread(void *arg)
{
	struct page_alloc_stats st;
	uint64_t pool = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_stats, __ATOMIC_ACQUIRE)) {
		drain_all_pages();
		page_alloc_get_stats(&st);
		/* Only what is consistent under one lock can be asserted here. */
		if (!pool)
			pool = st.pool_pages;
		if (st.pool_pages != pool || st.online_pages > st.pool_pages ||
		    st.free_pages >= st.online_pages)
			stats_bad++;
		stats_rounds++;
		usleep(1000);
	}
	return NULL;
}

static void check_conservation(const struct page_alloc_stats *st)
{
	CHECK_EQ(st->free_pages + st->in_use_pages + 1, st->online_pages);
}

static void test_stress(void)
{
	pthread_t w[NR_WORKERS], s;
	struct page_alloc_stats start, end;
	double secs = stress_seconds(5);

	rcu_barrier();
	page_alloc_get_stats(&start);
	deadline = now_sec() + secs;
	CHECK_EQ(pthread_create(&s, NULL, stats_thread, NULL), 0);
	for (uintptr_t i = 0; i < NR_WORKERS; i++)
		CHECK_EQ(pthread_create(&w[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < NR_WORKERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&stop_stats, 1, __ATOMIC_RELEASE);
	pthread_join(s, NULL);

	rcu_barrier();
	page_alloc_get_stats(&end);
	CHECK_EQ(corrupt_blocks, 0);
	CHECK_EQ(nonzero_blocks, 0);
	CHECK_EQ(failed_allocs, 0);
	CHECK_EQ(stats_bad, 0);
	CHECK(stats_rounds > 0);
	CHECK(worker_pages > 0);
	CHECK_EQ(end.in_use_pages, start.in_use_pages);
	CHECK_EQ(end.pgalloc - start.pgalloc, worker_pages);
	CHECK_EQ(end.pgfree - start.pgfree, worker_pages);
	CHECK_EQ(end.rcu_pending_pages, 0);
	check_conservation(&end);
	printf("     %llu frames through %d threads, %llu stats rounds\n",
	       (unsigned long long)worker_pages, NR_WORKERS,
	       (unsigned long long)stats_rounds);
}

struct exit_arg {
	int nr;			/* frames to allocate */
	int keep;		/* of which handed back to the parent */
	struct page *kept[16];
};

static void *cache_and_exit(void *arg)
{
	struct exit_arg *a = arg;
	struct page *p[128];

	for (int i = 0; i < a->nr; i++)
		p[i] = alloc_page(NULL, 0);
	for (int i = 0; i < a->nr; i++) {
		if (i < a->keep)
			a->kept[i] = p[i];
		else if (p[i])
			__free_pages(p[i], 0);
	}
	return NULL;
}

/*
 * Threads that exit with frames in their cache (fewer than a flush's
 * worth, so only the exit path can return them) leave nothing behind,
 * and their counts survive them; frames they still held can be freed by
 * another thread.
 */
static void test_thread_exit(void)
{
	struct page_alloc_stats start, end;
	struct exit_arg a[8];
	pthread_t t[8];
	uint64_t kept = 0, frames = 0;

	rcu_barrier();
	page_alloc_get_stats(&start);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 8; i++) {
			a[i].nr = 40 + 11 * i;
			a[i].keep = (round & 1) ? i : 0;
			frames += a[i].nr;
			CHECK_EQ(pthread_create(&t[i], NULL, cache_and_exit, &a[i]), 0);
		}
		for (int i = 0; i < 8; i++) {
			pthread_join(t[i], NULL);
			for (int k = 0; k < a[i].keep; k++) {
				CHECK(a[i].kept[k]);
				if (!a[i].kept[k])
					continue;
				CHECK_EQ(page_count(a[i].kept[k]), 1);
				__free_pages(a[i].kept[k], 0);
				kept++;
			}
		}
		/*
		 * The drain in get_stats no longer reaches an exited
		 * thread's cache: only its exit can have given it back.
		 */
		page_alloc_get_stats(&end);
		CHECK_EQ(end.in_use_pages, start.in_use_pages);
		CHECK_EQ(end.pgalloc - start.pgalloc, frames);
		CHECK_EQ(end.pgfree - start.pgfree, frames);
		check_conservation(&end);
	}
	CHECK(kept > 0);
}

/* A thread that holds one frame of @q, with its stock, until told to go. */
struct stock_arg {
	struct frame_quota *q;
	struct page *page;
	int ready, go;		/* atomic */
};

static void *hold_one(void *arg)
{
	struct stock_arg *a = arg;

	a->page = alloc_page(a->q, 0);
	__atomic_store_n(&a->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&a->go, __ATOMIC_ACQUIRE))
		usleep(1000);
	if (a->page)
		__free_pages(a->page, 0);
	return NULL;
}

static uint64_t raw_used(struct frame_quota *q)
{
	return __atomic_load_n(&q->used, __ATOMIC_RELAXED) & ~QUOTA_ORPHAN;
}

static void test_stock_limit(void)
{
	struct frame_quota q = { 0, 100 };	/* room for stocks */
	struct stock_arg a = { .q = &q };
	struct page *p[128];
	pthread_t t;
	int n = 0;

	CHECK_EQ(pthread_create(&t, NULL, hold_one, &a), 0);
	while (!__atomic_load_n(&a.ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	CHECK(a.page);
	/* the thread charged a batch ahead; only its one frame is in use */
	CHECK(raw_used(&q) > 1);
	CHECK_EQ(quota_used(&q), 1);
	/* the other thread's stock does not keep this one from the limit */
	while (n < 128 && (p[n] = alloc_page(&q, 0)))
		n++;
	CHECK_EQ(n, 99);
	CHECK_EQ(quota_used(&q), 100);
	CHECK_EQ(raw_used(&q), 100);	/* nothing is left charged ahead */
	while (n > 0)
		__free_pages(p[--n], 0);
	__atomic_store_n(&a.go, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	/* the thread freed its frame and exited: its stock went back */
	CHECK_EQ(raw_used(&q), 0);
	CHECK_EQ(quota_used(&q), 0);

	/* a limit lowered under this thread's own stock is obeyed */
	q.limit = 1000;
	p[0] = alloc_page(&q, 0);
	CHECK(p[0]);
	CHECK(raw_used(&q) > 1);
	q.limit = 1;
	CHECK(!alloc_page(&q, 0));
	CHECK_EQ(quota_used(&q), 1);
	q.limit = 2;
	p[1] = alloc_page(&q, 0);
	CHECK(p[1]);
	CHECK(!alloc_page(&q, 0));
	CHECK_EQ(quota_used(&q), 2);
	for (n = 0; n < 2; n++)
		if (p[n])
			__free_pages(p[n], 0);
	quota_drain(&q);		/* q is on this stack */
	CHECK_EQ(raw_used(&q), 0);
}

/* ---- a limit exactly what the threads hold, at most ---- */

#define EXACT_HOLD	16
#define EXACT_ROUNDS	50000

static struct frame_quota exact_q;
static uint64_t exact_fails;		/* atomic */
static int exact_stop;			/* atomic */

static void *exact_worker(void *arg)
{
	struct page *p[EXACT_HOLD];

	(void)arg;
	for (int r = 0; r < EXACT_ROUNDS; r++) {
		int n = 0;

		for (int i = 0; i < EXACT_HOLD; i++) {
			p[n] = alloc_page(&exact_q, __GFP_NOZERO);
			if (p[n])
				n++;
			else
				__atomic_add_fetch(&exact_fails, 1, __ATOMIC_RELAXED);
		}
		for (int i = 0; i < n; i++)
			__free_pages(p[i], 0);
	}
	return NULL;
}

/*
 * Threads that together never hold more than the limit never see a
 * refusal: not from a batch charged ahead and given back (a charge never
 * goes over the limit, even for a moment), nor from another thread's
 * stock (none is taken near the limit; a refusal drains them).
 */
static void test_limit_exact(void)
{
	pthread_t t[3];

	exact_q = (struct frame_quota){ 0, 3 * EXACT_HOLD };
	for (int i = 0; i < 3; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, exact_worker, NULL), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(exact_fails, 0);
	CHECK_EQ(quota_used(&exact_q), 0);
	quota_drain(&exact_q);
}

static void *stock_churner(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&exact_stop, __ATOMIC_RELAXED)) {
		struct page *p = alloc_page(&exact_q, 0);

		if (p)
			__free_pages(p, 0);
	}
	return NULL;
}

/* quota_used() reads the count and the stocks as one: 0 or 1 frame here. */
static void test_used_snapshot(void)
{
	uint64_t bad = 0;
	pthread_t t;

	exact_q = (struct frame_quota){ 0, QUOTA_UNLIMITED };
	__atomic_store_n(&exact_stop, 0, __ATOMIC_RELAXED);
	CHECK_EQ(pthread_create(&t, NULL, stock_churner, NULL), 0);
	for (int i = 0; i < 300000; i++)
		bad += quota_used(&exact_q) > 1;
	__atomic_store_n(&exact_stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CHECK_EQ(bad, 0);
	quota_drain(&exact_q);
}

int main(void)
{
	/* Bring the pool online so the conservation sums have a base. */
	struct page *warm = alloc_page(NULL, 0);

	CHECK(warm);
	if (warm)
		__free_pages(warm, 0);
	RUN(test_thread_exit);
	RUN(test_stress);
	RUN(test_thread_exit);
	RUN(test_stock_limit);
	RUN(test_limit_exact);
	RUN(test_used_snapshot);
	return test_done();
}
