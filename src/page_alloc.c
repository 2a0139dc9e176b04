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
 * Lock order (innermost of umm): pcp_registry_lock -> pcp->lock -> zone.lock,
 * and zeroer.w.lock -> zone.lock.
 * Frames are handed out zeroed; free blocks remember (PG_zero) whether
 * they are still zero, so fresh host memory is never cleared twice. A
 * cache keeps its zeroed frames apart and zeroes a batch at a time with
 * non-temporal stores; a background zeroer (optional, see below) clears
 * freed frames ahead so that a fault need not.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "page_alloc.h"
#include "huge_memory.h"

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
#define QUOTA_STOCK	32		/* frames a thread charges ahead */

struct frame_pool umm_frames;

static struct zone {
	spinlock_t lock;
	struct list_head free_list[NR_PAGE_ORDERS];	/* lock */
	uint64_t nr_free[NR_PAGE_ORDERS];		/* lock */
	uint64_t nr_dirty;	/* pages on free lists not known zero; lock, read racily */
	uint64_t nr_reportable;	/* of them, in blocks of REPORT_ORDER and up; as nr_dirty */
	struct list_head zeroed;	/* blocks the zeroer cleared; lock */
	uint64_t nr_zeroed;		/* blocks on it; lock, read racily */
	uint64_t online_pfn;	/* pfns below are managed; lock */
} zone;

#define ZERO_BLOCK_ORDER	5		/* PCP_BATCH frames */
#define REPORT_ORDER		9		/* 2 MiB: a host huge page */
#define REPORT_MIN_PAGES	(32UL << (20 - PAGE_SHIFT))	/* 32 MiB */
#define REPORT_DELAY_MS		2000
#define ZEROED_MAX_BLOCKS	2048		/* 256 MiB zeroed ahead, at most */
#define ZEROER_START_FRAMES	8192		/* 32 MiB zeroed by a faulter */
#define ZEROER_RESTART_FRAMES	1024		/* once it has been needed */
#define ZEROER_IDLE_SEC		10

_Static_assert(PCP_BATCH == 1 << ZERO_BLOCK_ORDER, "a zeroed block fills a refill");

/*
 * What the zeroer and the reporter, background threads of the allocator,
 * have alike: started on demand, stopped at exit, fork-safe.
 */
struct bg_worker {
	pthread_mutex_t lock;
	pthread_cond_t done;	/* transit or running went down, or stop: lock */
	uint32_t wake_seq;	/* futex it sleeps on; bumped to wake it; atomic */
	bool running;		/* a thread exists; set under lock, atomic */
	bool stop;		/* process exit; lock */
	int sleeping;		/* waiting for work; atomic */
	unsigned int transit;	/* blocks off the free lists in its hands; lock */
};

/* bg_exit_all and the bg_atfork_* handlers are registered (pool init) */
static bool bg_handlers;

#define BG_WORKER_INIT { .lock = PTHREAD_MUTEX_INITIALIZER, \
			 .done = PTHREAD_COND_INITIALIZER }

static struct {
	struct bg_worker w;
	uint64_t dirty_seen;	/* zone.nr_dirty at its last look; atomic */
	int enabled;		/* set once at pool init */
	uint64_t start_frames;	/* ZEROER_START_FRAMES, _RESTART_ once started,
				   or 1 (UMM_PREZERO=eager); atomic */
	uint64_t pgzero;	/* frames zeroed, ever; w.lock */
} zeroer = { .w = BG_WORKER_INIT };

/* Free page reporting: see "The reporter" below. */
static struct {
	struct bg_worker w;
	int starting;		/* a kick started it (once a process); atomic */
	int enabled;		/* set once at pool init */
	uint64_t pages;		/* frames given back, ever; w.lock */
} reporter = { .w = BG_WORKER_INIT };

struct per_thread_pages {
	spinlock_t lock;
	int count;			/* both lists and the run; lock */
	struct list_head list;		/* frames of any content; lock */
	struct list_head zero;		/* PG_zero frames; lock */
	/*
	 * A zeroed block the zeroer made, taken whole: its frames are handed
	 * out in address order, [zrun, zrun + zrun_nr), never linked one by
	 * one. Linking them cost a write to 32 struct pages the zeroer's CPU
	 * had just touched, each then pulled over again by its allocation;
	 * lock.
	 */
	struct page *zrun;
	unsigned int zrun_nr;
	uint64_t zeroed;		/* zeroed here since the last zeroer start */
	bool kick;			/* took a zeroed block: wake the zeroer */
	uint64_t pgalloc, pgfree, pgzero;	/* written by the owner thread only */
	struct list_head node;		/* pcp_registry, pcp_registry_lock */
	/*
	 * Frames charged ahead to stock_q and to the process-wide quota, so
	 * that most order-0 allocations touch no shared counter (the
	 * kernel's per-CPU memcg charge stock); lock. stock_q means nothing
	 * while stock_nr is 0.
	 */
	struct frame_quota *stock_q;
	unsigned int stock_nr;
};

static pthread_mutex_t pcp_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head pcp_registry = LIST_HEAD_INIT(pcp_registry);
static uint64_t dead_pgalloc, dead_pgfree, dead_pgzero;	/* pcp_registry_lock */
static pthread_key_t pcp_key;
static __thread struct per_thread_pages *this_pcp;

/*
 * Always charged, limit or not, so that setting a limit later finds the
 * count right; order-0 charges come in batches of QUOTA_STOCK through
 * each thread's stock.
 */
static struct frame_quota global_quota = { 0, QUOTA_UNLIMITED };
/*
 * The quota whose limit this thread's last charge met, if it was refused
 * (NULL: none, or not known).
 */
static __thread const struct frame_quota *failed_quota;
static uint64_t rcu_pending_pages;		/* atomic */
static uint64_t pgtable_pages;			/* atomic */

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_err;

static void pcp_destroy(void *arg);
static void bg_exit_all(void);
static void bg_atfork_prepare(void);
static void bg_atfork_parent(void);
static void bg_atfork_child(void);

/*
 * Never over the limit, not even for a moment: a batch that does not fit
 * must not make another thread's single frame fail.
 */
static bool quota_charge(struct frame_quota *q, uint64_t nr)
{
	uint64_t old;

	if (!q)
		return true;
	old = __atomic_load_n(&q->used, __ATOMIC_RELAXED);
	do {
		if ((old & ~QUOTA_ORPHAN) + nr > READ_ONCE(q->limit))
			return false;
	} while (!__atomic_compare_exchange_n(&q->used, &old, old + nr, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return true;
}

static void quota_uncharge(struct frame_quota *q, uint64_t nr)
{
	/* the last frame of an orphaned quota frees it */
	if (q && nr && atomic_add_return(&q->used, -nr) == QUOTA_ORPHAN)
		free(q);
}

/* The process-wide quota is never orphaned. */
static void global_uncharge(uint64_t nr)
{
	atomic_add_return(&global_quota.used, -nr);
}

/* Charged to @q, the threads' stocks included. */
static inline uint64_t quota_used_all(const struct frame_quota *q)
{
	return __atomic_load_n(&q->used, __ATOMIC_RELAXED) & ~QUOTA_ORPHAN;
}

/*
 * @nr frames against @q and the process-wide quota, both or neither.
 * Locking: none (atomics); callable under any of the allocator's locks.
 */
static bool charge_both(struct frame_quota *q, uint64_t nr)
{
	if (!quota_charge(q, nr)) {
		failed_quota = q;
		return false;
	}
	if (quota_charge(&global_quota, nr)) {
		failed_quota = NULL;
		return true;
	}
	quota_uncharge(q, nr);
	failed_quota = &global_quota;
	return false;
}

const struct frame_quota *alloc_failed_quota(void)
{
	const struct frame_quota *q = failed_quota;

	failed_quota = NULL;	/* told once: a later failure may be another's */
	return q == &global_quota ? NULL : q;
}

static void uncharge_both(struct frame_quota *q, uint64_t nr)
{
	quota_uncharge(q, nr);
	global_uncharge(nr);
}

/*
 * A batch is charged ahead only far from @q's limit: near it, threads
 * charge frame by frame, so none holds room another one needs.
 */
static bool stock_room(const struct frame_quota *q)
{
	uint64_t limit = q ? READ_ONCE(q->limit) : QUOTA_UNLIMITED;

	return limit == QUOTA_UNLIMITED ||
	       quota_used_all(q) + 2 * QUOTA_STOCK <= limit;
}

/* Give back what @pcp charged ahead. Locking: pcp->lock held. */
static void stock_drain(struct per_thread_pages *pcp)
{
	if (!pcp->stock_nr)
		return;
	uncharge_both(pcp->stock_q, pcp->stock_nr);
	pcp->stock_nr = 0;
	pcp->stock_q = NULL;
}

/*
 * Charge one frame to @q: from the stock, else a batch into the stock,
 * else (near a limit) the one frame alone. Locking: pcp->lock held.
 */
static bool stock_charge(struct per_thread_pages *pcp, struct frame_quota *q)
{
	/* a limit lowered under the stock is obeyed: nothing from it then */
	if (likely(pcp->stock_nr && pcp->stock_q == q) &&
	    (!q || quota_used_all(q) <= READ_ONCE(q->limit))) {
		pcp->stock_nr--;
		return true;
	}
	stock_drain(pcp);
	if (stock_room(q) && stock_room(&global_quota) &&
	    charge_both(q, QUOTA_STOCK)) {
		pcp->stock_q = q;
		pcp->stock_nr = QUOTA_STOCK - 1;
		return true;
	}
	return charge_both(q, 1);
}

/* A charge stock_charge() made, not used after all. Locking: pcp->lock held. */
static void stock_refund(struct per_thread_pages *pcp, struct frame_quota *q)
{
	if (pcp->stock_nr && pcp->stock_q == q)
		pcp->stock_nr++;
	else
		uncharge_both(q, 1);
}

/*
 * Every thread's stock of @q (NULL: of any quota) given back, so that a
 * limit counts only frames in use. Locking: takes pcp_registry_lock and
 * each pcp->lock; none of the allocator's locks held.
 */
static uint64_t stock_drain_all(const struct frame_quota *q)
{
	struct list_head *pos;
	uint64_t drained = 0;

	pthread_mutex_lock(&pcp_registry_lock);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next) {
		struct per_thread_pages *pcp =
			list_entry(pos, struct per_thread_pages, node);

		spin_lock(&pcp->lock);
		if (!q || pcp->stock_q == q) {
			drained += pcp->stock_nr;
			stock_drain(pcp);
		}
		spin_unlock(&pcp->lock);
	}
	pthread_mutex_unlock(&pcp_registry_lock);
	return drained;
}

/*
 * With every cache lock held no stock changes, and a stock's charge is in
 * q->used whenever the stock is: the two are read as one snapshot. The
 * caches' locks are taken in registry order, the only place that holds
 * more than one.
 */
uint64_t quota_used(const struct frame_quota *q)
{
	struct list_head *pos;
	uint64_t used, stocked = 0;

	pthread_mutex_lock(&pcp_registry_lock);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next)
		spin_lock(&list_entry(pos, struct per_thread_pages, node)->lock);
	used = quota_used_all(q);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next) {
		struct per_thread_pages *pcp =
			list_entry(pos, struct per_thread_pages, node);

		if (pcp->stock_nr && pcp->stock_q == q)
			stocked += pcp->stock_nr;
		spin_unlock(&pcp->lock);
	}
	pthread_mutex_unlock(&pcp_registry_lock);
	return used - stocked;
}

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

/* CPUs this process may run on: the zeroer is for a core left idle. */
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return (int)sysconf(_SC_NPROCESSORS_ONLN);
	return CPU_COUNT(&set);
}

static void zero_frame_init(void);

static void pool_init_once(void)
{
	uint64_t bytes = POOL_DEFAULT;
	const char *env = getenv("UMM_POOL_GIB");

	if (env && strtoull(env, NULL, 0))
		bytes = strtoull(env, NULL, 0) << 30;
	/*
	 * Before RCU's: prepare handlers run in reverse order, so liburcu's
	 * call_rcu thread, whose callbacks free frames (and may start the
	 * reporter), is paused before the allocator's locks are taken.
	 */
	bg_handlers = !pthread_atfork(bg_atfork_prepare, bg_atfork_parent,
				      bg_atfork_child);
	umm_rcu_init();
	zero_frame_init();
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
		/*
		 * Host huge pages where the host allows them, as the
		 * kernel's direct map uses large pages: a fault touches its
		 * frame and struct page through few host TLB entries, and
		 * the host commits the pool 2 MiB per fault, not 4 KiB.
		 * Advice only: a host without THPs gives small pages.
		 */
		madvise(base, bytes, MADV_HUGEPAGE);
		madvise(map, pages * sizeof(struct page), MADV_HUGEPAGE);
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
	INIT_LIST_HEAD(&zone.zeroed);
	set_bit_page(PG_reserved, pfn_to_page(0));
	pthread_key_create(&pcp_key, pcp_destroy);
	env = getenv("UMM_PREZERO");
	zeroer.start_frames = ZEROER_START_FRAMES;
	if (env && !strcmp(env, "eager"))
		zeroer.start_frames = 1;
	zeroer.enabled = (usable_cpus() > 1 || zeroer.start_frames == 1) &&
			 !(env && !strcmp(env, "0"));
	env = getenv("UMM_PAGE_REPORTING");
	reporter.enabled = !(env && !strcmp(env, "0"));
	/* without them no background thread starts */
	bg_handlers = bg_handlers && !atexit(bg_exit_all);
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
	/*
	 * Freed blocks first, where allocation and the zeroer look (their
	 * memory is in the host's RAM, likely in a cache); zero ones, fresh
	 * or given back to the host, behind them.
	 */
	if (zero)
		list_add_tail(&p->lru, &zone.free_list[order]);
	else
		list_add(&p->lru, &zone.free_list[order]);
	zone.nr_free[order]++;
	if (zero)
		return;
	WRITE_ONCE(zone.nr_dirty, zone.nr_dirty + (1UL << order));
	if (order >= REPORT_ORDER)
		WRITE_ONCE(zone.nr_reportable, zone.nr_reportable + (1UL << order));
}

/* Locking: zone.lock held. Clears every flag: only the holder sees them. */
static void del_from_free_list(struct page *p, unsigned int order)
{
	if (!test_bit_page(PG_zero, p)) {
		WRITE_ONCE(zone.nr_dirty, zone.nr_dirty - (1UL << order));
		if (order >= REPORT_ORDER)
			WRITE_ONCE(zone.nr_reportable,
				   zone.nr_reportable - (1UL << order));
	}
	list_del(&p->lru);
	zone.nr_free[order]--;
	p->private = 0;
	WRITE_ONCE(p->flags, 0);
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

/*
 * A block of @order from the free lists as they are.
 * Locking: zone.lock held. Return: its first page, or NULL.
 */
static struct page *__rmqueue_block(unsigned int order, bool *zero)
{
	for (unsigned int o = order; o < NR_PAGE_ORDERS; o++) {
		struct page *p;

		if (list_empty(&zone.free_list[o]))
			continue;
		p = list_first_entry(&zone.free_list[o], struct page, lru);
		*zero = test_bit_page(PG_zero, p);
		del_from_free_list(p, o);
		expand(page_to_pfn(p), order, o, *zero);
		return p;
	}
	return NULL;
}

/*
 * A block of @order, bringing more of the pool online when none is free.
 * Locking: zone.lock held. Return: its first page, or NULL.
 */
static struct page *__rmqueue(unsigned int order, bool *zero)
{
	struct page *p;

	while (!(p = __rmqueue_block(order, zero)))
		if (!online_section())
			return NULL;
	return p;
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
		pfn &= ~(1UL << order);
		order++;
	}
	add_to_free_list(pfn, order, zero);
}

/*
 * Zeroing ahead of use: a frame is cleared with non-temporal stores, which
 * go to memory without first reading each line into the cache, and a whole
 * batch is fenced once. A fence per frame would wait out the write-back of
 * every frame in turn (about as slow as memset); one per batch lets the
 * writes of a batch stream together.
 *
 * The stores are the widest the CPU has, best AMD's CLZERO, which clears a
 * whole line. Clearing a cold 256 MiB, a frame at a time, on the AMD EPYC
 * (Zen 5) this was measured on, four runs in which the machine's memory
 * was more or less busy: CLZERO 62-118 ns a frame, 32-byte streaming
 * stores 62-178, 16-byte ones 88-204, memset 170-182. The zeroer, which is
 * what keeps faults from zeroing, is bound by it.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static enum { ZERO_SSE2, ZERO_AVX, ZERO_CLZERO } zero_insn;	/* pool init */

/* Weakly ordered, as streaming stores are: the batch's SFENCE orders it. */
static void zero_frame_clzero(void *addr)
{
	for (char *d = addr, *end = d + PAGE_SIZE; d < end; d += 4 * 64) {
		/* CLZERO spelt out, for assemblers that do not know it */
		asm volatile(".byte 0x0f, 0x01, 0xfc" : : "a"(d) : "memory");
		asm volatile(".byte 0x0f, 0x01, 0xfc" : : "a"(d + 64) : "memory");
		asm volatile(".byte 0x0f, 0x01, 0xfc" : : "a"(d + 128) : "memory");
		asm volatile(".byte 0x0f, 0x01, 0xfc" : : "a"(d + 192) : "memory");
	}
}

static void zero_frame_nt_sse2(void *addr)
{
	__m128i z = _mm_setzero_si128();
	__m128i *d = addr, *end = d + PAGE_SIZE / sizeof(*d);

	for (; d < end; d += 4) {
		_mm_stream_si128(d, z);
		_mm_stream_si128(d + 1, z);
		_mm_stream_si128(d + 2, z);
		_mm_stream_si128(d + 3, z);
	}
}

__attribute__((target("avx")))
static void zero_frame_nt_avx(void *addr)
{
	__m256i z = _mm256_setzero_si256();
	__m256i *d = addr, *end = d + PAGE_SIZE / sizeof(*d);

	for (; d < end; d += 2) {
		_mm256_stream_si256(d, z);
		_mm256_stream_si256(d + 1, z);
	}
}

static void zero_frame_nt(void *addr)
{
	if (likely(zero_insn == ZERO_CLZERO))
		zero_frame_clzero(addr);
	else if (zero_insn == ZERO_AVX)
		zero_frame_nt_avx(addr);
	else
		zero_frame_nt_sse2(addr);
}

/* Locking: none; called once, before any frame is handed out. */
static void zero_frame_init(void)
{
	unsigned int a, b, c, d;

	/*
	 * CPUID Fn8000_0008 EBX bit 0: CLZERO, which clears the line it
	 * points into; the loop steps 64 bytes, so the line size (Fn0000_0001
	 * EBX bits 15:8, in 8-byte units) must be 64.
	 */
	if (__get_cpuid(0x80000008, &a, &b, &c, &d) && (b & 1) &&
	    __get_cpuid(1, &a, &b, &c, &d) && ((b >> 8) & 0xff) * 8 == 64)
		zero_insn = ZERO_CLZERO;
	/* true only where the OS saves the 256-bit registers too */
	else if (__builtin_cpu_supports("avx"))
		zero_insn = ZERO_AVX;
}

/* Make the batch's stores visible before any frame of it is handed out. */
static void zero_frames_fence(void)
{
	_mm_sfence();
}
#else
static void zero_frame_nt(void *addr)
{
	memset(addr, 0, PAGE_SIZE);
}

static void zero_frames_fence(void)
{
}

static void zero_frame_init(void)
{
}
#endif

/*
 * The zeroer: a background thread that clears freed frames ahead of use,
 * so that a fault finds its frame zeroed (the old PG_zero / idle-zeroing
 * idea of the kernel). It takes dirty blocks of ZERO_BLOCK_ORDER off the
 * buddy lists, zeroes them with non-temporal stores, and keeps them on
 * zone.zeroed, out of the buddy lists (where they would merge with dirty
 * neighbours and lose what was done), until a cache refill takes one.
 *
 * It costs a core, so: it starts only once a thread has zeroed
 * ZEROER_START_FRAMES frames on its own allocation path (fewer for a
 * restart), never on a single CPU or with UMM_PREZERO=0; it runs at
 * SCHED_IDLE, so busy cores are not taken from the program; it keeps at
 * most ZEROED_MAX_BLOCKS ready (frames that are free anyway); it exits
 * after ZEROER_IDLE_SEC without work, and at process exit. A host
 * fork() waits until it holds no frame in transit; the child has no zeroer
 * until its own demand starts one.
 *
 * Lock order: zeroer.w.lock -> zone.lock; the zeroer takes no other lock,
 * and whoever wakes it or waits for its block in transit holds no spinlock
 * of the allocator.
 */
static void zero_block_nt(struct page *p, unsigned int order)
{
	for (uint64_t i = 0; i < 1UL << order; i++) {
		unpoison_block(p + i, 0);
		zero_frame_nt(page_address(p + i));
		poison_block(p + i, 0);
	}
}

/*
 * Take a dirty block of ZERO_BLOCK_ORDER off the free lists, looking at
 * the first few blocks of each order only (freed blocks are at the front).
 * Locking: zone.lock held. Return: its first page, or NULL.
 */
static struct page *take_dirty_block(void)
{
	if (zone.nr_dirty < 1UL << ZERO_BLOCK_ORDER ||
	    zone.nr_zeroed >= ZEROED_MAX_BLOCKS)
		return NULL;
	for (unsigned int o = ZERO_BLOCK_ORDER; o < NR_PAGE_ORDERS; o++) {
		struct list_head *pos = zone.free_list[o].next;

		for (int n = 0; n < 4 && pos != &zone.free_list[o]; n++, pos = pos->next) {
			struct page *p = list_entry(pos, struct page, lru);

			if (test_bit_page(PG_zero, p))
				continue;
			del_from_free_list(p, o);
			expand(page_to_pfn(p), ZERO_BLOCK_ORDER, o, false);
			return p;
		}
	}
	return NULL;
}

/* Locking: zone.lock held. */
static void zeroed_add(struct page *p)
{
	p->private = ZERO_BLOCK_ORDER;
	WRITE_ONCE(p->flags, 1UL << PG_zero);
	list_add_tail(&p->lru, &zone.zeroed);
	WRITE_ONCE(zone.nr_zeroed, zone.nr_zeroed + 1);
}

/* Locking: zone.lock held. Return: a zeroed block, or NULL. */
static struct page *zeroed_take(void)
{
	struct page *p;

	if (list_empty(&zone.zeroed))
		return NULL;
	p = list_first_entry(&zone.zeroed, struct page, lru);
	list_del(&p->lru);
	WRITE_ONCE(zone.nr_zeroed, zone.nr_zeroed - 1);
	p->private = 0;
	WRITE_ONCE(p->flags, 0);
	return p;
}

/* Give the zeroed blocks back to the buddy lists. Locking: zone.lock held. */
static void zeroed_drain(void)
{
	struct page *p;

	while ((p = zeroed_take()))
		__free_one_page(page_to_pfn(p), ZERO_BLOCK_ORDER, true);
}

/* A background thread sleeps on @word while it still reads @seq. */
static void bg_wait(uint32_t *word, uint32_t seq, const struct timespec *t)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seq, t, NULL, 0);
}

static void bg_wake(uint32_t *word)
{
	__atomic_fetch_add(word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * A detached background thread, with the program's signals blocked (they
 * are not for it). Return: 0, or an errno.
 */
static int bg_start(void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&tid, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/* Wait until @w holds no block off the free lists. Locking: w->lock held. */
static void bg_quiesce(struct bg_worker *w)
{
	while (w->transit)
		pthread_cond_wait(&w->done, &w->lock);
}

/* Process exit: stop @w's thread and wait for it. Locking: takes w->lock. */
static void bg_exit(struct bg_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->done);
	while (__atomic_load_n(&w->running, __ATOMIC_RELAXED)) {
		bg_wake(&w->wake_seq);
		pthread_cond_wait(&w->done, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
}

/*
 * A host fork(): w->lock held across it, with no block in @w's hands.
 * Locking: takes w->lock (released by bg_fork_parent or bg_fork_child).
 */
static void bg_fork_prepare(struct bg_worker *w)
{
	pthread_mutex_lock(&w->lock);
	bg_quiesce(w);
}

static void bg_fork_parent(struct bg_worker *w)
{
	pthread_mutex_unlock(&w->lock);
}

/* The child has no thread of @w's until its own demand starts one. */
static void bg_fork_child(struct bg_worker *w)
{
	__atomic_store_n(&w->running, false, __ATOMIC_RELAXED);
	__atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
	pthread_cond_init(&w->done, NULL);
	pthread_mutex_unlock(&w->lock);
}

/*
 * Start @w's thread running @fn unless it runs, the process exits, or the
 * exit and fork handlers could not be registered (bg_handlers).
 * Locking: takes w->lock; no spinlock held. Return: true if started.
 */
static bool bg_launch(struct bg_worker *w, void *(*fn)(void *))
{
	bool started = false;

	pthread_mutex_lock(&w->lock);
	if (!__atomic_load_n(&w->running, __ATOMIC_RELAXED) && !w->stop &&
	    bg_handlers)
		started = !bg_start(fn);
	if (started)
		__atomic_store_n(&w->running, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->lock);
	return started;
}

static void zeroer_wait(uint32_t seq)
{
	struct timespec t = { ZEROER_IDLE_SEC, 0 };

	bg_wait(&zeroer.w.wake_seq, seq, &t);
}

static void zeroer_wake(void)
{
	bg_wake(&zeroer.w.wake_seq);
}

/*
 * The zeroer holds zeroer.w.lock only for moments, never while it zeroes or
 * sleeps: at SCHED_IDLE it may wait long for a CPU, and nothing on the
 * allocation path may wait for it.
 */
static void *zeroer_main(void *arg)
{
	struct sched_param sp = { 0 };
	uint32_t seq = 0;

	(void)arg;
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	for (;;) {
		struct page *p;

		pthread_mutex_lock(&zeroer.w.lock);
		if (zeroer.w.stop)
			break;
		spin_lock(&zone.lock);
		p = take_dirty_block();
		/* full: any free wakes it once blocks are taken */
		WRITE_ONCE(zeroer.dirty_seen,
			   zone.nr_zeroed >= ZEROED_MAX_BLOCKS ? 0 : zone.nr_dirty);
		spin_unlock(&zone.lock);
		zeroer.w.transit = !!p;
		pthread_mutex_unlock(&zeroer.w.lock);
		if (p) {
			__atomic_store_n(&zeroer.w.sleeping, 0, __ATOMIC_RELAXED);
			zero_block_nt(p, ZERO_BLOCK_ORDER);
			zero_frames_fence();
			pthread_mutex_lock(&zeroer.w.lock);
			spin_lock(&zone.lock);
			zeroed_add(p);
			spin_unlock(&zone.lock);
			zeroer.w.transit = 0;
			zeroer.pgzero += 1UL << ZERO_BLOCK_ORDER;
			pthread_cond_broadcast(&zeroer.w.done);
			pthread_mutex_unlock(&zeroer.w.lock);
			continue;
		}
		/* say we sleep, then look once more (see zeroer_kick) */
		if (!__atomic_load_n(&zeroer.w.sleeping, __ATOMIC_RELAXED)) {
			seq = __atomic_load_n(&zeroer.w.wake_seq, __ATOMIC_ACQUIRE);
			__atomic_store_n(&zeroer.w.sleeping, 1, __ATOMIC_RELAXED);
			continue;
		}
		zeroer_wait(seq);
		/* nobody woke it: idle, and a later demand starts it again */
		if (__atomic_exchange_n(&zeroer.w.sleeping, 0, __ATOMIC_RELAXED) &&
		    __atomic_load_n(&zeroer.w.wake_seq, __ATOMIC_ACQUIRE) == seq) {
			pthread_mutex_lock(&zeroer.w.lock);
			break;
		}
	}
	__atomic_store_n(&zeroer.w.sleeping, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&zeroer.w.running, false, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&zeroer.w.done);
	pthread_mutex_unlock(&zeroer.w.lock);
	return NULL;
}

/* Locking: takes zeroer.w.lock; call with no spinlock held. */
static void zeroer_start(void)
{
	if (bg_launch(&zeroer.w, zeroer_main) &&
	    READ_ONCE(zeroer.start_frames) > ZEROER_RESTART_FRAMES)
		WRITE_ONCE(zeroer.start_frames, ZEROER_RESTART_FRAMES);
}

/*
 * The reporter: free page reporting (the kernel's page_reporting.c, which
 * tells a hypervisor the free pages it may take back). Free blocks of
 * REPORT_ORDER and up that hold data are given back to the host with
 * MADV_DONTNEED, so the process's RSS shrinks after frees, as a guest's
 * does with a balloon that reports free pages. The host memory reads as
 * zero afterwards: the block goes back to the free lists PG_zero, behind
 * the dirty ones, and its next user needs no zeroing (it pays host
 * faults instead, one per 2 MiB with host huge pages).
 *
 * A thread does it REPORT_DELAY_MS after frees left REPORT_MIN_PAGES of
 * such memory free, as the kernel waits 2 s, so memory freed and soon used
 * again (an unmap, then a map) stays. It starts on the first such free
 * and sleeps while there is nothing to give back; UMM_PAGE_REPORTING=0
 * turns it off. It takes one block at a time off the free lists and drops
 * zone.lock for the madvise; stats, drains and a host fork() wait for the
 * block in transit. Lock order: reporter.w.lock -> zone.lock.
 */

/*
 * A dirty block of REPORT_ORDER or more, off the free lists; largest
 * first, looking at the first blocks of each order only (dirty ones are
 * kept at the front). Locking: zone.lock held.
 */
static struct page *report_take(unsigned int *order)
{
	for (unsigned int o = MAX_PAGE_ORDER + 1; o-- > REPORT_ORDER;) {
		struct list_head *pos = zone.free_list[o].next;

		for (int n = 0; n < 4 && pos != &zone.free_list[o]; n++, pos = pos->next) {
			struct page *p = list_entry(pos, struct page, lru);

			if (test_bit_page(PG_zero, p))
				break;	/* the zero ones are behind */
			del_from_free_list(p, o);
			*order = o;
			return p;
		}
	}
	return NULL;
}

/*
 * Give one block back to the host. Locking: takes reporter.w.lock and
 * zone.lock; none of the allocator's held. Return: false when none is left
 * (or the process is exiting).
 */
static bool report_one(void)
{
	unsigned int order = 0;
	struct page *p;
	bool zero;

	pthread_mutex_lock(&reporter.w.lock);
	spin_lock(&zone.lock);
	p = reporter.w.stop ? NULL : report_take(&order);
	spin_unlock(&zone.lock);
	reporter.w.transit += !!p;
	pthread_mutex_unlock(&reporter.w.lock);
	if (!p)
		return false;
	zero = !madvise(page_address(p), PAGE_SIZE << order, MADV_DONTNEED);
	pthread_mutex_lock(&reporter.w.lock);
	spin_lock(&zone.lock);
	__free_one_page(page_to_pfn(p), order, zero);
	spin_unlock(&zone.lock);
	if (zero)
		reporter.pages += 1UL << order;
	reporter.w.transit--;
	pthread_cond_broadcast(&reporter.w.done);
	pthread_mutex_unlock(&reporter.w.lock);
	return zero;
}

void page_reporting_run(void)
{
	if (page_alloc_init())
		return;
	while (report_one())
		;
}

/* Sleep @ms, or less if the process exits. Locking: takes reporter.w.lock. */
static void reporter_delay(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&reporter.w.lock);
	while (!reporter.w.stop &&
	       pthread_cond_timedwait(&reporter.w.done, &reporter.w.lock, &t) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&reporter.w.lock);
}

static bool reporter_stopping(void)
{
	bool stop;

	pthread_mutex_lock(&reporter.w.lock);
	stop = reporter.w.stop;
	pthread_mutex_unlock(&reporter.w.lock);
	return stop;
}

static void *reporter_main(void *arg)
{
	(void)arg;
	for (;;) {
		/* before stop is read: bg_exit sets it, then bumps the word */
		uint32_t seq = __atomic_load_n(&reporter.w.wake_seq, __ATOMIC_ACQUIRE);

		if (reporter_stopping())
			break;
		/* say it sleeps, then look once more (see report_kick) */
		__atomic_store_n(&reporter.w.sleeping, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&zone.nr_reportable, __ATOMIC_SEQ_CST) < REPORT_MIN_PAGES) {
			bg_wait(&reporter.w.wake_seq, seq, NULL);
			continue;
		}
		__atomic_store_n(&reporter.w.sleeping, 0, __ATOMIC_RELAXED);
		reporter_delay(REPORT_DELAY_MS);
		while (report_one())
			;
	}
	pthread_mutex_lock(&reporter.w.lock);
	__atomic_store_n(&reporter.w.running, false, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&reporter.w.done);
	pthread_mutex_unlock(&reporter.w.lock);
	return NULL;
}

/*
 * Both background threads stop at exit, and a host fork() happens with
 * neither holding a block (their locks held across it, in lock order).
 * Nor may any other thread hold an allocator spinlock or the registry
 * across it: the child, which has no such thread, would spin on it
 * forever at its first allocation. So the registry, every cache lock and
 * zone.lock are taken too, last, in the allocator's lock order.
 * Locking: prepare takes pcp_registry_lock, every pcp->lock and zone.lock
 * (after both workers' w.lock); parent drops them, child resets them.
 */
static void pcp_atfork_prepare(void)
{
	struct list_head *pos;

	pthread_mutex_lock(&pcp_registry_lock);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next)
		spin_lock(&list_entry(pos, struct per_thread_pages, node)->lock);
	spin_lock(&zone.lock);
}

static void pcp_atfork_parent(void)
{
	struct list_head *pos;

	spin_unlock(&zone.lock);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next)
		spin_unlock(&list_entry(pos, struct per_thread_pages, node)->lock);
	pthread_mutex_unlock(&pcp_registry_lock);
}

/* The child's thread id is not the one that took them: reset, not unlock. */
static void pcp_atfork_child(void)
{
	struct list_head *pos;

	spin_lock_init(&zone.lock);
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next)
		spin_lock_init(&list_entry(pos, struct per_thread_pages, node)->lock);
	pthread_mutex_unlock(&pcp_registry_lock);
}

static void bg_exit_all(void)
{
	bg_exit(&zeroer.w);
	bg_exit(&reporter.w);
}

static void bg_atfork_prepare(void)
{
	bg_fork_prepare(&zeroer.w);
	bg_fork_prepare(&reporter.w);
	pcp_atfork_prepare();
}

static void bg_atfork_parent(void)
{
	pcp_atfork_parent();
	bg_fork_parent(&reporter.w);
	bg_fork_parent(&zeroer.w);
}

static void bg_atfork_child(void)
{
	pcp_atfork_child();
	bg_fork_child(&reporter.w);
	/* the child's first kick starts its own reporter */
	__atomic_store_n(&reporter.starting, 0, __ATOMIC_RELAXED);
	bg_fork_child(&zeroer.w);
}

/* Locking: takes reporter.w.lock; call with no spinlock held. */
static void reporter_start(void)
{
	bg_launch(&reporter.w, reporter_main);
}

/*
 * After frees: enough to give back, and the reporter asleep or not
 * started? The common case is one racy load. Locking: none of the
 * allocator's locks held; a caller's PTE lock may be (a full mmu_gather):
 * the thread is started once, and reporter.w.lock is held only for moments.
 */
static void report_kick(void)
{
	if (likely(READ_ONCE(zone.nr_reportable) < REPORT_MIN_PAGES) ||
	    !reporter.enabled)
		return;
	if (!__atomic_load_n(&reporter.w.running, __ATOMIC_RELAXED)) {
		if (!__atomic_exchange_n(&reporter.starting, 1, __ATOMIC_RELAXED))
			reporter_start();
		return;
	}
	if (__atomic_exchange_n(&reporter.w.sleeping, 0, __ATOMIC_SEQ_CST))
		bg_wake(&reporter.w.wake_seq);
}

/*
 * Dirty frames went to the buddy lists, or zeroed ones left them: wake the
 * zeroer if it sleeps and enough came since it last looked (dirty frames
 * in pieces smaller than a block would wake it for nothing).
 * No barrier is needed against its going to sleep: it says so before its
 * last look at the lists, under zone.lock, and we changed them under
 * zone.lock before looking here; whichever section came second sees the
 * other's doing.
 * Locking: call after dropping zone.lock; takes no lock, never waits.
 */
static void zeroer_kick(void)
{
	if (likely(!__atomic_load_n(&zeroer.w.running, __ATOMIC_RELAXED)) ||
	    !__atomic_load_n(&zeroer.w.sleeping, __ATOMIC_RELAXED) ||
	    READ_ONCE(zone.nr_zeroed) >= ZEROED_MAX_BLOCKS ||
	    READ_ONCE(zone.nr_dirty) < READ_ONCE(zeroer.dirty_seen) + 8 * PCP_BATCH)
		return;
	/* one waker makes the call */
	if (__atomic_exchange_n(&zeroer.w.sleeping, 0, __ATOMIC_RELAXED))
		zeroer_wake();
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
	INIT_LIST_HEAD(&pcp->zero);
	pthread_mutex_lock(&pcp_registry_lock);
	list_add(&pcp->node, &pcp_registry);
	pthread_mutex_unlock(&pcp_registry_lock);
	pthread_setspecific(pcp_key, pcp);
	this_pcp = pcp;
	return pcp;
}

/*
 * Return @nr frames to the buddy lists, dirty ones first and the least
 * recently freed first: zeroed frames are worth keeping.
 * Locking: pcp->lock held; takes zone.lock.
 */
static void pcp_flush(struct per_thread_pages *pcp, int nr)
{
	spin_lock(&zone.lock);
	while (nr-- > 0 && pcp->count) {
		struct list_head *l = list_empty(&pcp->list) ? &pcp->zero : &pcp->list;
		struct page *p;
		bool zero;

		pcp->count--;
		if (list_empty(l)) {
			/* the run last: its frames are the freshest zeroed */
			__free_one_page(page_to_pfn(pcp->zrun + --pcp->zrun_nr), 0, true);
			continue;
		}
		p = list_entry(l->prev, struct page, lru);
		zero = test_bit_page(PG_zero, p);
		list_del(&p->lru);
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
	stock_drain(pcp);
	spin_unlock(&pcp->lock);
	list_del(&pcp->node);
	dead_pgalloc += pcp->pgalloc;
	dead_pgfree += pcp->pgfree;
	dead_pgzero += pcp->pgzero;
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
	/* a block the reporter holds comes back to the free lists */
	pthread_mutex_lock(&reporter.w.lock);
	bg_quiesce(&reporter.w);
	pthread_mutex_unlock(&reporter.w.lock);
	/* and the zeroer's blocks, once it holds none in transit */
	pthread_mutex_lock(&zeroer.w.lock);
	bg_quiesce(&zeroer.w);
	spin_lock(&zone.lock);
	zeroed_drain();
	spin_unlock(&zone.lock);
	pthread_mutex_unlock(&zeroer.w.lock);
	report_kick();		/* what the caches held may make 2 MiB blocks */
}

/*
 * Zeroed frames queue in the order they came (ascending pfns from a buddy
 * block); freed ones stack, so the next refill takes the most recent.
 * Locking: pcp->lock held.
 */
static void pcp_add(struct per_thread_pages *pcp, struct page *p, bool zero)
{
	WRITE_ONCE(p->flags, (1UL << PG_pcp) | (zero ? 1UL << PG_zero : 0));
	if (zero)
		list_add_tail(&p->lru, &pcp->zero);
	else
		list_add(&p->lru, &pcp->list);
	pcp->count++;
}

/*
 * pcp_refill_zero - fill the zeroed list with a batch: the cached frames
 * of unknown content first, then the buddy lists; the dirty ones of the
 * batch are zeroed here, outside zone.lock.
 * Locking: pcp->lock held; takes zone.lock.
 */
static void pcp_refill_zero(struct per_thread_pages *pcp)
{
	struct page *dirty[PCP_BATCH];
	int n = 0, got = 0;

	if (READ_ONCE(zone.nr_zeroed)) {
		struct page *p;

		spin_lock(&zone.lock);
		p = zeroed_take();
		spin_unlock(&zone.lock);
		if (p) {
			VM_BUG_ON(pcp->zrun_nr);
			pcp->zrun = p;
			pcp->zrun_nr = PCP_BATCH;
			pcp->count += PCP_BATCH;
			pcp->kick = true;
			return;
		}
	}

	while (got < PCP_BATCH && !list_empty(&pcp->list)) {
		struct page *p = list_first_entry(&pcp->list, struct page, lru);

		list_del(&p->lru);
		pcp->count--;
		got++;
		if (test_bit_page(PG_zero, p))
			pcp_add(pcp, p, true);
		else
			dirty[n++] = p;
	}
	if (got < PCP_BATCH) {
		struct page *block = NULL;
		bool z;

		spin_lock(&zone.lock);
		/* a whole batch in one block: one list head to touch, not 32 */
		if (!got)
			block = __rmqueue_block(ZERO_BLOCK_ORDER, &z);
		for (int i = 0; block && i < PCP_BATCH; i++, got++) {
			if (z)
				pcp_add(pcp, block + i, true);
			else
				dirty[n++] = block + i;
		}
		for (; got < PCP_BATCH; got++) {
			struct page *p = __rmqueue(0, &z);

			if (!p)
				break;
			if (z)
				pcp_add(pcp, p, true);
			else
				dirty[n++] = p;
		}
		spin_unlock(&zone.lock);
	}
	for (int i = 0; i < n; i++)
		zero_block_nt(dirty[i], 0);
	zero_frames_fence();
	for (int i = 0; i < n; i++)
		pcp_add(pcp, dirty[i], true);
	pcp->zeroed += n;
	WRITE_ONCE(pcp->pgzero, pcp->pgzero + n);
}

/* The next frame of the zeroed run. Locking: pcp->lock held. */
static struct page *pcp_take_run(struct per_thread_pages *pcp, bool *zero)
{
	struct page *p = pcp->zrun++;

	pcp->zrun_nr--;
	pcp->count--;
	*zero = true;
	return p;
}

static struct page *pcp_take(struct per_thread_pages *pcp, struct list_head *l,
			     bool *zero)
{
	struct page *p = list_first_entry(l, struct page, lru);

	list_del(&p->lru);
	pcp->count--;
	*zero = test_bit_page(PG_zero, p);
	WRITE_ONCE(p->flags, 0);
	return p;
}

/*
 * pcp_alloc - an order-0 frame from this thread's cache, charged to @q: a
 * zeroed one unless the caller overwrites it anyway (__GFP_NOZERO), which
 * takes a dirty one first so zeroing is not wasted.
 * Locking: takes pcp->lock, and zone.lock on a refill.
 * Return: the frame, or NULL with *err -EDQUOT (over a limit) or -ENOMEM.
 */
static struct page *pcp_alloc(struct per_thread_pages *pcp, struct frame_quota *q,
			      gfp_t gfp, bool *zero, int *err)
{
	struct page *p = NULL;

	spin_lock(&pcp->lock);
	if (unlikely(!stock_charge(pcp, q))) {
		spin_unlock(&pcp->lock);
		*err = -EDQUOT;
		return NULL;
	}
	if (gfp & __GFP_NOZERO) {
		if (!pcp->count) {
			spin_lock(&zone.lock);
			for (int i = 0; i < PCP_BATCH; i++) {
				bool z;
				struct page *q = __rmqueue(0, &z);

				if (!q)
					break;
				pcp_add(pcp, q, z);
			}
			spin_unlock(&zone.lock);
		}
		if (!list_empty(&pcp->list))
			p = pcp_take(pcp, &pcp->list, zero);
		else if (!list_empty(&pcp->zero))
			p = pcp_take(pcp, &pcp->zero, zero);
		else if (pcp->zrun_nr)
			p = pcp_take_run(pcp, zero);
	} else {
		if (!pcp->zrun_nr && list_empty(&pcp->zero))
			pcp_refill_zero(pcp);
		if (pcp->zrun_nr)
			p = pcp_take_run(pcp, zero);
		else if (!list_empty(&pcp->zero))
			p = pcp_take(pcp, &pcp->zero, zero);
	}
	if (unlikely(!p)) {
		stock_refund(pcp, q);
		*err = -ENOMEM;
	}
	spin_unlock(&pcp->lock);
	return p;
}

/* As pcp_alloc(), for any order. Locking: takes pcp->lock or zone.lock. */
static struct page *rmqueue(struct frame_quota *q, unsigned int order, gfp_t gfp,
			    bool *zero, int *err)
{
	struct per_thread_pages *pcp = order ? NULL : get_pcp();
	struct page *p;

	if (pcp) {
		p = pcp_alloc(pcp, q, gfp, zero, err);
		if (unlikely(pcp->zeroed >= READ_ONCE(zeroer.start_frames))) {
			/* this thread zeroes a lot: hand that to the zeroer */
			pcp->zeroed = 0;
			if (zeroer.enabled && !__atomic_load_n(&zeroer.w.running,
							       __ATOMIC_RELAXED))
				zeroer_start();
			pcp->kick = true;
		}
		if (unlikely(pcp->kick)) {
			pcp->kick = false;
			zeroer_kick();
		}
		return p;
	}
	if (!charge_both(q, 1UL << order)) {
		*err = -EDQUOT;
		return NULL;
	}
	spin_lock(&zone.lock);
	p = __rmqueue(order, zero);
	spin_unlock(&zone.lock);
	if (!p) {
		uncharge_both(q, 1UL << order);
		*err = -ENOMEM;
	}
	return p;
}

void quota_drain(const struct frame_quota *q)
{
	stock_drain_all(q);
}

void quota_orphan(struct frame_quota *q)
{
	quota_drain(q);
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
		for (uint64_t i = 1; i < (1UL << order); i++) {
			WRITE_ONCE(p[i].compound_head, (unsigned long)p | 1);
			p[i].mapcount = 0;
		}
		p[1].entire_mapcount = 0;
		p[1].large_mapcount = 0;
		p[1].pincount = 0;
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
	bool zero = false, drained = false;
	int err = 0, unstocked = 0;
	struct page *p;

	if (order > MAX_PAGE_ORDER || page_alloc_init())
		return NULL;
	while (unlikely(!(p = rmqueue(q, order, gfp, &zero, &err)))) {
		if (err == -EDQUOT && unstocked++ < 4 && stock_drain_all(NULL)) {
			/* other threads' stocks held what the limit allows */
			continue;
		} else if (err == -ENOMEM && !drained) {
			/* other threads' caches may hold what would merge into it */
			drain_all_pages();
			drained = true;
		} else {
			return NULL;
		}
	}
	prep_new_page(p, q, gfp, order, zero);
	count_pages(true, nr);
	return p;
}

/* Reset a block whose last reference is gone; uncharging is the caller's. */
static void free_pages_prepare(struct page *p, unsigned int order)
{
	uint64_t nr = 1UL << order;

	VM_BUG_ON(test_bit_page(PG_buddy, p) || test_bit_page(PG_pcp, p));
	VM_BUG_ON(test_bit_page(PG_reserved, p));
	VM_BUG_ON(PageTail(p));
	if (test_bit_page(PG_head, p)) {
		/* last reference gone: the deferred split can no longer take it */
		folio_unqueue_deferred_split(p);
		for (uint64_t i = 1; i < nr; i++) {
			WRITE_ONCE(p[i].compound_head, 0);
			WRITE_ONCE(p[i].flags, 0);	/* PG_anon_exclusive */
		}
	}
	p->quota = NULL;
	WRITE_ONCE(p->mapping, NULL);
	p->private = 0;
	WRITE_ONCE(p->flags, 0);
	poison_block(p, order);
}

/* The last reference is gone: return the block to the allocator. */
static void free_the_page(struct page *p, unsigned int order)
{
	uint64_t nr = 1UL << order;
	struct per_thread_pages *pcp;

	quota_uncharge(p->quota, nr);
	global_uncharge(nr);
	free_pages_prepare(p, order);
	count_pages(false, nr);

	pcp = order ? NULL : get_pcp();
	if (pcp) {
		bool flush;

		spin_lock(&pcp->lock);
		pcp_add(pcp, p, false);
		flush = pcp->count > PCP_HIGH;
		if (flush)
			pcp_flush(pcp, PCP_BATCH);
		spin_unlock(&pcp->lock);
		if (flush) {
			zeroer_kick();
			report_kick();
		}
		return;
	}
	spin_lock(&zone.lock);
	__free_one_page(page_to_pfn(p), order, false);
	spin_unlock(&zone.lock);
	zeroer_kick();
	report_kick();
}

/*
 * Free order-0 frames to the buddy lists; an aligned run of PCP_BATCH
 * contiguous ones (as a refill hands out, and an unmap gives back) goes as
 * one block, merged once rather than frame by frame.
 * Locking: zone.lock held.
 */
static void free_frames_bulk(struct page **pages, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint64_t pfn = page_to_pfn(pages[i]);
		size_t k = 1;

		if (IS_ALIGNED(pfn, PCP_BATCH) && n - i >= PCP_BATCH) {
			while (k < PCP_BATCH && pages[i + k] == pages[i] + k)
				k++;
			if (k < PCP_BATCH)
				k = 1;
		}
		__free_one_page(pfn, k == PCP_BATCH ? ZERO_BLOCK_ORDER : 0, false);
		i += k;
	}
}

void release_pages(struct page **pages, size_t nr)
{
	struct per_thread_pages *pcp = get_pcp();
	struct frame_quota *q = NULL;
	uint64_t run = 0;
	size_t n = 0, room, keep;

	for (size_t i = 0; i < nr; i++) {
		struct page *p = pages[i];

		VM_BUG_ON(PageTail(p));
		if (__atomic_sub_fetch(&p->refcount, 1, __ATOMIC_ACQ_REL))
			continue;
		if (page_order(p) || !pcp) {
			free_the_page(p, page_order(p));
			continue;
		}
		/* frames of one mm come in runs: one uncharge per run */
		if (p->quota != q) {
			quota_uncharge(q, run);
			q = p->quota;
			run = 0;
		}
		run++;
		free_pages_prepare(p, 0);
		pages[n++] = p;
	}
	if (!n)
		return;
	quota_uncharge(q, run);
	global_uncharge(n);
	count_pages(false, n);
	/* what the cache has room for goes there, the rest to the buddy */
	spin_lock(&pcp->lock);
	room = pcp->count < PCP_HIGH ? PCP_HIGH - pcp->count : 0;
	keep = n < room ? n : room;
	for (size_t i = n - keep; i < n; i++)
		pcp_add(pcp, pages[i], false);
	spin_unlock(&pcp->lock);
	if (keep == n)
		return;
	spin_lock(&zone.lock);
	free_frames_bulk(pages, n - keep);
	spin_unlock(&zone.lock);
	zeroer_kick();
	report_kick();
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
	stock_drain_all(NULL);	/* what the threads charged ahead counts now */
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
	st->pgzero_alloc = dead_pgzero;
	for (pos = pcp_registry.next; pos != &pcp_registry; pos = pos->next) {
		struct per_thread_pages *pcp =
			list_entry(pos, struct per_thread_pages, node);

		st->pgalloc += READ_ONCE(pcp->pgalloc);
		st->pgfree += READ_ONCE(pcp->pgfree);
		st->pgzero_alloc += READ_ONCE(pcp->pgzero);
	}
	pthread_mutex_unlock(&pcp_registry_lock);
	pthread_mutex_lock(&zeroer.w.lock);	/* no block in transit */
	bg_quiesce(&zeroer.w);
	pthread_mutex_lock(&reporter.w.lock);
	bg_quiesce(&reporter.w);
	spin_lock(&zone.lock);
	for (int o = 0; o < NR_PAGE_ORDERS; o++)
		st->free_pages += zone.nr_free[o] << o;
	st->prezeroed_pages = zone.nr_zeroed << ZERO_BLOCK_ORDER;
	st->free_pages += st->prezeroed_pages;
	st->pgzero_background = zeroer.pgzero;
	st->online_pages = zone.online_pfn;
	st->pgreported = reporter.pages;
	spin_unlock(&zone.lock);
	pthread_mutex_unlock(&reporter.w.lock);
	pthread_mutex_unlock(&zeroer.w.lock);
	st->pool_pages = umm_frames.max_pfn;
	st->in_use_pages = st->pgalloc - st->pgfree;
	st->rcu_pending_pages = __atomic_load_n(&rcu_pending_pages, __ATOMIC_RELAXED);
	st->pgtable_pages = __atomic_load_n(&pgtable_pages, __ATOMIC_RELAXED);
}
