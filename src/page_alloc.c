// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * page_alloc.c - the frame allocator.
 *
 * Frames live in one host reservation (mmap MAP_NORESERVE), so a pfn is an
 * index and the host commits memory only when a frame is first touched.
 * The buddy allocator brings the reservation online one 1 GiB section at a
 * time, when its free lists run dry, so metadata is touched only for what
 * is used. pfn 0 is reserved (never handed out), so an entry holding pfn 0
 * can never be mistaken for a live frame.
 *
 * Order-0 frames go through a per-thread cache (the kernel's per-cpu
 * pages): the zone lock is taken once per batch, not once per frame.
 * Each cache has its own lock, uncontended but for drain_all_pages().
 *
 * Lock order (innermost of umm): pcp_registry_lock -> pcp->lock -> zone.lock.
 * Frames are handed out zeroed; free blocks remember (PG_zero) whether
 * they are still zero, so fresh host memory is never cleared twice.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include "page_alloc.h"

/*
 * Under ASan, free frames are poisoned: a reader that touches a frame after
 * it went back to the allocator (a table freed without waiting for a grace
 * period, say) is reported at the faulty access.
 */
#define ZERO_BY_MADVISE_ORDER 10	/* larger blocks are zeroed by the host */

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
/*
 * A large block's shadow is 1/8 of its size: rather than writing it, it is
 * dropped (MADV_DONTNEED on the shadow pages reads back as "addressable")
 * when the block is handed out, and large blocks are not poisoned on free.
 */
static void unpoison_large(void *addr, size_t len)
{
	size_t scale, offset;
	uint64_t s;

	/* blocks of order >= 10 are 4 MiB-aligned: their shadow is page-aligned */
	__asan_get_shadow_mapping(&scale, &offset);
	s = ((uint64_t)addr >> scale) + offset;
	if (madvise((void *)s, len >> scale, MADV_DONTNEED))
		ASAN_UNPOISON_MEMORY_REGION(addr, len);
}
#define poison_block(p, order) do { \
	if ((order) < ZERO_BY_MADVISE_ORDER) \
		ASAN_POISON_MEMORY_REGION(page_address(p), PAGE_SIZE << (order)); \
} while (0)
#define unpoison_block(p, order) do { \
	if ((order) < ZERO_BY_MADVISE_ORDER) \
		ASAN_UNPOISON_MEMORY_REGION(page_address(p), PAGE_SIZE << (order)); \
	else \
		unpoison_large(page_address(p), PAGE_SIZE << (order)); \
} while (0)
#else
#define poison_block(p, order)		do { (void)(p); (void)(order); } while (0)
#define unpoison_block(p, order)	do { (void)(p); (void)(order); } while (0)
#endif

#define SECTION_ORDER	MAX_PAGE_ORDER
#define SECTION_PAGES	(1UL << SECTION_ORDER)
#define SECTION_SIZE	(SECTION_PAGES << PAGE_SHIFT)
#define POOL_DEFAULT	(256UL << 30)	/* host address space, not memory */
#define PCP_HIGH	96		/* cached frames before a flush */
#define PCP_BATCH	32		/* frames moved per zone-lock trip */

struct frame_pool umm_frames;

static struct zone {
	spinlock_t lock;
	struct list_head free_list[NR_PAGE_ORDERS];	/* lock */
	uint64_t nr_free[NR_PAGE_ORDERS];		/* lock */
	uint64_t online_pfn;	/* pfns below are managed; lock */
} zone;

struct per_thread_pages {
	spinlock_t lock;
	int count;			/* lock */
	struct list_head list;		/* lock */
	uint64_t pgalloc, pgfree;	/* written by the owner thread only */
	struct list_head node;		/* pcp_registry, pcp_registry_lock */
};

static pthread_mutex_t pcp_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head pcp_registry = LIST_HEAD_INIT(pcp_registry);
static uint64_t dead_pgalloc, dead_pgfree;	/* pcp_registry_lock */
static pthread_key_t pcp_key;
static __thread struct per_thread_pages *this_pcp;

/*
 * Always charged, limit or not, so that setting a limit later finds the
 * count right (one shared counter; per-thread batching can come when a
 * profile asks for it).
 */
static struct frame_quota global_quota = { 0, QUOTA_UNLIMITED };
static uint64_t rcu_pending_pages;		/* atomic */
static uint64_t pgtable_pages;			/* atomic */

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_err;

static void pcp_destroy(void *arg);

static void *reserve_aligned(uint64_t bytes, uint64_t align)
{
	char *p = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t head, tail;

	if (p == MAP_FAILED)
		return NULL;
	head = ALIGN_UP((uint64_t)p, align) - (uint64_t)p;
	tail = align - head;
	if (head)
		munmap(p, head);
	if (tail)
		munmap(p + head + bytes, tail);
	return p + head;
}

static void pool_init_once(void)
{
	uint64_t bytes = POOL_DEFAULT;
	const char *env = getenv("UMM_POOL_GIB");

	if (env && strtoull(env, NULL, 0))
		bytes = strtoull(env, NULL, 0) << 30;
	umm_rcu_init();
	/* A host that refuses the size (overcommit off) gets asked for less. */
	for (; bytes >= SECTION_SIZE; bytes >>= 1) {
		uint64_t pages = bytes >> PAGE_SHIFT;
		void *map, *base = reserve_aligned(bytes, SECTION_SIZE);

		if (!base)
			continue;
		map = mmap(NULL, pages * sizeof(struct page), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (map == MAP_FAILED) {
			munmap(base, bytes);
			continue;
		}
		umm_frames.base = base;
		umm_frames.mem_map = map;
		umm_frames.max_pfn = pages;
		break;
	}
	if (!umm_frames.base) {
		pool_err = -ENOMEM;
		return;
	}
	spin_lock_init(&zone.lock);
	for (int o = 0; o < NR_PAGE_ORDERS; o++)
		INIT_LIST_HEAD(&zone.free_list[o]);
	set_bit_page(PG_reserved, pfn_to_page(0));
	pthread_key_create(&pcp_key, pcp_destroy);
}

int page_alloc_init(void)
{
	pthread_once(&pool_once, pool_init_once);
	return pool_err;
}

/* Locking: zone.lock held. */
static void add_to_free_list(uint64_t pfn, unsigned int order, bool zero)
{
	struct page *p = pfn_to_page(pfn);

	lockdep_assert_held(&zone.lock);
	p->private = order;
	WRITE_ONCE(p->flags, (1UL << PG_buddy) | (zero ? 1UL << PG_zero : 0));
	list_add(&p->lru, &zone.free_list[order]);
	zone.nr_free[order]++;
}

/* Locking: zone.lock held. */
static void del_from_free_list(struct page *p, unsigned int order)
{
	list_del(&p->lru);
	zone.nr_free[order]--;
	p->private = 0;
	clear_bit_page(PG_buddy, p);
}

/*
 * online_section - hand the next 1 GiB of the reservation to the buddy
 * lists. Fresh host memory reads as zero, so it is marked PG_zero.
 * Locking: zone.lock held. Return: false when the pool is used up.
 */
static bool online_section(void)
{
	uint64_t start = zone.online_pfn;

	if (start + SECTION_PAGES > umm_frames.max_pfn)
		return false;
	zone.online_pfn = start + SECTION_PAGES;
	if (start) {
		add_to_free_list(start, SECTION_ORDER, true);
		return true;
	}
	/* Section 0 without pfn 0: blocks 2^o at pfn 2^o, o < SECTION_ORDER. */
	for (unsigned int o = 0; o < SECTION_ORDER; o++)
		add_to_free_list(1UL << o, o, true);
	return true;
}

/*
 * Split a block of order @high at @pfn down to @low, freeing the upper
 * halves. Locking: zone.lock held.
 */
static void expand(uint64_t pfn, unsigned int low, unsigned int high, bool zero)
{
	while (high > low) {
		high--;
		add_to_free_list(pfn + (1UL << high), high, zero);
	}
}

/* Locking: zone.lock held. Return: the pfn's page, or NULL. */
static struct page *__rmqueue(unsigned int order, bool *zero)
{
	for (;;) {
		for (unsigned int o = order; o < NR_PAGE_ORDERS; o++) {
			struct page *p;

			if (list_empty(&zone.free_list[o]))
				continue;
			p = list_first_entry(&zone.free_list[o], struct page, lru);
			*zero = test_bit_page(PG_zero, p);
			del_from_free_list(p, o);
			clear_bit_page(PG_zero, p);
			expand(page_to_pfn(p), order, o, *zero);
			return p;
		}
		if (!online_section())
			return NULL;
	}
}

/* Locking: zone.lock held. */
static void __free_one_page(uint64_t pfn, unsigned int order, bool zero)
{
	while (order < MAX_PAGE_ORDER) {
		uint64_t buddy_pfn = pfn ^ (1UL << order);
		struct page *buddy;

		if (buddy_pfn == 0 || buddy_pfn >= zone.online_pfn)
			break;
		buddy = pfn_to_page(buddy_pfn);
		if (!test_bit_page(PG_buddy, buddy) || buddy->private != order)
			break;
		zero = zero && test_bit_page(PG_zero, buddy);
		del_from_free_list(buddy, order);
		WRITE_ONCE(buddy->flags, 0);
		pfn &= ~(1UL << order);
		order++;
	}
	add_to_free_list(pfn, order, zero);
}

static struct per_thread_pages *get_pcp(void)
{
	struct per_thread_pages *pcp = this_pcp;

	if (likely(pcp))
		return pcp;
	pcp = calloc(1, sizeof(*pcp));
	if (!pcp)
		return NULL;
	spin_lock_init(&pcp->lock);
	INIT_LIST_HEAD(&pcp->list);
	pthread_mutex_lock(&pcp_registry_lock);
	list_add(&pcp->node, &pcp_registry);
	pthread_mutex_unlock(&pcp_registry_lock);
	pthread_setspecific(pcp_key, pcp);
	this_pcp = pcp;
	return pcp;
}

/* Locking: pcp->lock held; takes zone.lock. */
static void pcp_flush(struct per_thread_pages *pcp, int nr)
{
	spin_lock(&zone.lock);
	while (nr-- > 0 && !list_empty(&pcp->list)) {
		struct page *p = list_first_entry(&pcp->list, struct page, lru);
		bool zero = test_bit_page(PG_zero, p);

		list_del(&p->lru);
		pcp->count--;
		WRITE_ONCE(p->flags, 0);
		__free_one_page(page_to_pfn(p), 0, zero);
	}
	spin_unlock(&zone.lock);
}

/* Thread exit: the cache's frames go back, its counts are kept. */
static void pcp_destroy(void *arg)
{
	struct per_thread_pages *pcp = arg;

	pthread_mutex_lock(&pcp_registry_lock);
	spin_lock(&pcp->lock);
	pcp_flush(pcp, pcp->count);
	spin_unlock(&pcp->lock);
	list_del(&pcp->node);
	dead_pgalloc += pcp->pgalloc;
	dead_pgfree += pcp->pgfree;
	pthread_mutex_unlock(&pcp_registry_lock);
	if (this_pcp == pcp)
		this_pcp = NULL;
	free(pcp);
}

void drain_all_pages(void)
{
	struct list_head *pos;

	pthread_mutex_lock(&pcp_registry_lock);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next) {
		struct per_thread_pages *pcp =
			list_entry(pos, struct per_thread_pages, node);

		spin_lock(&pcp->lock);
		pcp_flush(pcp, pcp->count);
		spin_unlock(&pcp->lock);
	}
	pthread_mutex_unlock(&pcp_registry_lock);
}

/* Locking: takes pcp->lock, and zone.lock on a refill. */
static struct page *pcp_alloc(struct per_thread_pages *pcp, bool *zero)
{
	struct page *p = NULL;

	spin_lock(&pcp->lock);
	if (list_empty(&pcp->list)) {
		spin_lock(&zone.lock);
		for (int i = 0; i < PCP_BATCH; i++) {
			bool z;
			struct page *q = __rmqueue(0, &z);

			if (!q)
				break;
			WRITE_ONCE(q->flags, (1UL << PG_pcp) | (z ? 1UL << PG_zero : 0));
			list_add_tail(&q->lru, &pcp->list);
			pcp->count++;
		}
		spin_unlock(&zone.lock);
	}
	if (!list_empty(&pcp->list)) {
		p = list_first_entry(&pcp->list, struct page, lru);
		list_del(&p->lru);
		pcp->count--;
		*zero = test_bit_page(PG_zero, p);
		WRITE_ONCE(p->flags, 0);
	}
	spin_unlock(&pcp->lock);
	return p;
}

static struct page *rmqueue(unsigned int order, bool *zero)
{
	struct per_thread_pages *pcp = order ? NULL : get_pcp();
	struct page *p;

	if (pcp)
		return pcp_alloc(pcp, zero);
	spin_lock(&zone.lock);
	p = __rmqueue(order, zero);
	spin_unlock(&zone.lock);
	return p;
}

static bool quota_charge(struct frame_quota *q, uint64_t nr)
{
	uint64_t used;

	if (!q)
		return true;
	used = atomic_add_return(&q->used, nr) & ~QUOTA_ORPHAN;
	if (used > READ_ONCE(q->limit)) {
		atomic_add_return(&q->used, -nr);
		return false;
	}
	return true;
}

static void quota_uncharge(struct frame_quota *q, uint64_t nr)
{
	/* the last frame of an orphaned quota frees it */
	if (q && atomic_add_return(&q->used, -nr) == QUOTA_ORPHAN)
		free(q);
}

/* The process-wide quota is never orphaned. */
static void global_uncharge(uint64_t nr)
{
	atomic_add_return(&global_quota.used, -nr);
}

void quota_orphan(struct frame_quota *q)
{
	if ((__atomic_fetch_or(&q->used, QUOTA_ORPHAN, __ATOMIC_ACQ_REL) &
	     ~QUOTA_ORPHAN) == 0)
		free(q);
}

static void zero_block(struct page *p, unsigned int order)
{
	void *addr = page_address(p);
	size_t len = PAGE_SIZE << order;

	if (order >= ZERO_BY_MADVISE_ORDER && !madvise(addr, len, MADV_DONTNEED))
		return;
	memset(addr, 0, len);
}

static void prep_new_page(struct page *p, struct frame_quota *q,
			  gfp_t gfp, unsigned int order, bool zero)
{
	unsigned long flags = (unsigned long)order << PG_ORDER_SHIFT;

	unpoison_block(p, order);
	if (!zero && !(gfp & __GFP_NOZERO))
		zero_block(p, order);
	if ((gfp & __GFP_COMP) && order) {
		flags |= 1UL << PG_head;
		for (uint64_t i = 1; i < (1UL << order); i++)
			WRITE_ONCE(p[i].compound_head, (unsigned long)p | 1);
	}
	p->mapcount = 0;
	WRITE_ONCE(p->mapping, NULL);
	p->index = 0;
	p->private = 0;
	p->quota = q;
	p->lru.prev = NULL;
	WRITE_ONCE(p->flags, flags);
	__atomic_store_n(&p->refcount, 1, __ATOMIC_RELEASE);
}

static void count_pages(bool alloc, uint64_t nr)
{
	struct per_thread_pages *pcp = get_pcp();

	if (likely(pcp)) {
		uint64_t *c = alloc ? &pcp->pgalloc : &pcp->pgfree;

		WRITE_ONCE(*c, READ_ONCE(*c) + nr);
		return;
	}
	pthread_mutex_lock(&pcp_registry_lock);
	if (alloc)
		dead_pgalloc += nr;
	else
		dead_pgfree += nr;
	pthread_mutex_unlock(&pcp_registry_lock);
}

struct page *alloc_pages(struct frame_quota *q, gfp_t gfp, unsigned int order)
{
	uint64_t nr = 1UL << order;
	struct page *p;
	bool zero = false;

	if (order > MAX_PAGE_ORDER || page_alloc_init())
		return NULL;
	if (!quota_charge(q, nr))
		return NULL;
	if (!quota_charge(&global_quota, nr))
		goto fail_q;
	p = rmqueue(order, &zero);
	if (unlikely(!p)) {
		/* Other threads' caches may hold what would merge into it. */
		drain_all_pages();
		p = rmqueue(order, &zero);
	}
	if (!p)
		goto fail_g;
	prep_new_page(p, q, gfp, order, zero);
	count_pages(true, nr);
	return p;
fail_g:
	global_uncharge(nr);
fail_q:
	quota_uncharge(q, nr);
	return NULL;
}

/* The last reference is gone: return the block to the allocator. */
static void free_the_page(struct page *p, unsigned int order)
{
	uint64_t nr = 1UL << order;
	struct per_thread_pages *pcp;

	VM_BUG_ON(test_bit_page(PG_buddy, p) || test_bit_page(PG_pcp, p));
	VM_BUG_ON(test_bit_page(PG_reserved, p));
	VM_BUG_ON(PageTail(p));
	quota_uncharge(p->quota, nr);
	global_uncharge(nr);
	if (test_bit_page(PG_head, p))
		for (uint64_t i = 1; i < nr; i++)
			WRITE_ONCE(p[i].compound_head, 0);
	p->quota = NULL;
	WRITE_ONCE(p->mapping, NULL);
	p->private = 0;
	WRITE_ONCE(p->flags, 0);
	count_pages(false, nr);
	poison_block(p, order);

	pcp = order ? NULL : get_pcp();
	if (pcp) {
		spin_lock(&pcp->lock);
		WRITE_ONCE(p->flags, 1UL << PG_pcp);
		list_add(&p->lru, &pcp->list);
		if (++pcp->count > PCP_HIGH)
			pcp_flush(pcp, PCP_BATCH);
		spin_unlock(&pcp->lock);
		return;
	}
	spin_lock(&zone.lock);
	__free_one_page(page_to_pfn(p), order, false);
	spin_unlock(&zone.lock);
}

void __free_pages(struct page *p, unsigned int order)
{
	VM_BUG_ON(page_order(p) != order);
	if (__atomic_sub_fetch(&p->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		free_the_page(p, order);
}

void put_page_refs(struct page *p, int nr)
{
	p = compound_head(p);
	VM_BUG_ON(page_count(p) < nr);
	if (__atomic_sub_fetch(&p->refcount, nr, __ATOMIC_ACQ_REL) == 0)
		free_the_page(p, page_order(p));
}

void put_page(struct page *p)
{
	put_page_refs(p, 1);
}

static void free_pages_rcu_cb(struct rcu_head *head)
{
	struct page *p = container_of(head, struct page, rcu);
	unsigned int order = page_order(p);

	atomic_add_return(&rcu_pending_pages, -(1UL << order));
	p->lru.next = p->lru.prev = NULL;
	__free_pages(p, order);
}

void free_pages_rcu(struct page *p)
{
	atomic_add_return(&rcu_pending_pages, 1UL << page_order(p));
	call_rcu(&p->rcu, free_pages_rcu_cb);
}

int page_alloc_set_limit(uint64_t bytes)
{
	int err = page_alloc_init();

	if (err)
		return err;
	if (bytes >> PAGE_SHIFT > umm_frames.max_pfn)
		return -EINVAL;
	WRITE_ONCE(global_quota.limit, bytes ? bytes >> PAGE_SHIFT : QUOTA_UNLIMITED);
	return 0;
}

void pagetable_account(int64_t nr)
{
	atomic_add_return(&pgtable_pages, (uint64_t)nr);
}

void page_alloc_get_stats(struct page_alloc_stats *st)
{
	struct list_head *pos;

	memset(st, 0, sizeof(*st));
	if (page_alloc_init())
		return;
	drain_all_pages();
	pthread_mutex_lock(&pcp_registry_lock);
	st->pgalloc = dead_pgalloc;
	st->pgfree = dead_pgfree;
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next) {
		struct per_thread_pages *pcp =
			list_entry(pos, struct per_thread_pages, node);

		st->pgalloc += READ_ONCE(pcp->pgalloc);
		st->pgfree += READ_ONCE(pcp->pgfree);
	}
	pthread_mutex_unlock(&pcp_registry_lock);
	spin_lock(&zone.lock);
	for (int o = 0; o < NR_PAGE_ORDERS; o++)
		st->free_pages += zone.nr_free[o] << o;
	st->online_pages = zone.online_pfn;
	spin_unlock(&zone.lock);
	st->pool_pages = umm_frames.max_pfn;
	st->in_use_pages = st->pgalloc - st->pgfree;
	st->rcu_pending_pages = __atomic_load_n(&rcu_pending_pages, __ATOMIC_RELAXED);
	st->pgtable_pages = __atomic_load_n(&pgtable_pages, __ATOMIC_RELAXED);
}
