/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * page_alloc.h - frames: host memory carved into 4 KiB frames, handed out
 * zeroed by a buddy allocator (orders 0..MAX_PAGE_ORDER) with per-thread
 * caches for order 0.
 */
#ifndef UMM_PAGE_ALLOC_H
#define UMM_PAGE_ALLOC_H

#include "mm_types.h"

#define MAX_PAGE_ORDER	18		/* 1 GiB blocks */
#define NR_PAGE_ORDERS	(MAX_PAGE_ORDER + 1)

typedef unsigned int gfp_t;
#define GFP_KERNEL	0u
#define __GFP_COMP	0x1u	/* compound page: tails point at the head */
#define __GFP_NOZERO	0x2u	/* the caller overwrites every byte itself */

/* The frame pool; mem_map and base never change once set. */
struct frame_pool {
	char *base;		/* frame of pfn 0 */
	struct page *mem_map;	/* metadata of pfn 0 */
	uint64_t max_pfn;	/* pfns reserved */
};
extern struct frame_pool umm_frames;

static inline struct page *pfn_to_page(uint64_t pfn)
{
	return umm_frames.mem_map + pfn;
}

static inline uint64_t page_to_pfn(const struct page *p)
{
	return (uint64_t)(p - umm_frames.mem_map);
}

static inline void *page_address(const struct page *p)
{
	return umm_frames.base + (page_to_pfn(p) << PAGE_SHIFT);
}

static inline void *pfn_to_virt(uint64_t pfn)
{
	return umm_frames.base + (pfn << PAGE_SHIFT);
}

static inline uint64_t virt_to_pfn(const void *v)
{
	return (uint64_t)((const char *)v - umm_frames.base) >> PAGE_SHIFT;
}

static inline struct page *virt_to_page(const void *v)
{
	return pfn_to_page(virt_to_pfn(v));
}

static inline bool pfn_valid(uint64_t pfn)
{
	return pfn > 0 && pfn < umm_frames.max_pfn;
}

/*
 * page_alloc_init - reserve the frame pool once per process.
 * Return: 0, or -ENOMEM when the host refuses any reservation.
 */
int page_alloc_init(void);

/*
 * alloc_pages - a zeroed block of 2^order frames, refcount 1, charged to
 * @quota (may be NULL) and to the process-wide limit.
 * Locking: any context; takes zone->lock or the thread's cache lock.
 * Return: the first frame's page, or NULL when a limit or the pool is
 *         exhausted (callers turn that into -ENOMEM).
 */
struct page *alloc_pages(struct frame_quota *quota, gfp_t gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);

/*
 * release_pages - drop one reference on each of @nr head pages, freeing the
 * ones that reach zero; a batch costs one trip through the thread's cache.
 * @pages is used as scratch space.
 * Locking: any context; takes the thread's cache lock, maybe zone->lock.
 */
void release_pages(struct page **pages, size_t nr);

/*
 * quota_orphan - the owner of a heap-allocated quota is gone: free it now
 * if nothing is charged, else when the last charged frame is freed.
 * Locking: none of the allocator's locks held.
 */
void quota_orphan(struct frame_quota *q);

/*
 * alloc_failed_quota - the quota whose limit refused this thread's last
 * failed charge: an mm's own (its phys_limit, as a memory cgroup's), or
 * NULL for the process-wide limit, which every mm's frames count against
 * (as the machine's memory), or when no charge was refused since the last
 * call. Reclaim after an allocation failed frees what is charged to that
 * quota: the kernel's memcg reclaim scans its group's deferred split
 * queue, global reclaim every queue.
 * Locking: none; this thread's own state.
 */
const struct frame_quota *alloc_failed_quota(void);

/*
 * quota_drain - give back what threads charged ahead to @q (their charge
 * stocks): due before the memory of a quota that is not orphaned goes.
 * Locking: none of the allocator's locks held.
 */
void quota_drain(const struct frame_quota *q);

static inline struct page *alloc_page(struct frame_quota *q, gfp_t gfp)
{
	return alloc_pages(q, gfp, 0);
}

/*
 * free_pages_rcu - free a block a lockless reader may still be reading:
 * it goes back to the allocator only after an RCU grace period.
 * The block's order is the one it was allocated with.
 */
void free_pages_rcu(struct page *page);

/* drain_all_pages - return every thread's cached frames to the buddy lists. */
void drain_all_pages(void);

/*
 * page_alloc_set_limit - the process-wide cap on frames in use, in bytes
 * (0: none). Return: 0, or -EINVAL for a limit past the pool.
 */
int page_alloc_set_limit(uint64_t bytes);

struct page_alloc_stats {
	uint64_t pool_pages;		/* reserved frames */
	uint64_t online_pages;		/* frames handed to the buddy allocator */
	uint64_t in_use_pages;		/* allocated and not yet freed */
	uint64_t pgalloc;		/* frames allocated, ever */
	uint64_t pgfree;		/* frames freed, ever */
	uint64_t free_pages;		/* on buddy lists (drains the caches first) */
	uint64_t rcu_pending_pages;	/* freed, waiting for a grace period */
	uint64_t pgtable_pages;		/* page-table frames in use */
	uint64_t prezeroed_pages;	/* free, zeroed ahead by the zeroer (in free_pages) */
	uint64_t pgzero_background;	/* frames the zeroer cleared, ever */
	uint64_t pgzero_alloc;		/* frames allocating threads cleared, ever */
	uint64_t pgreported;		/* free frames given back to the host, ever */
};
void page_alloc_get_stats(struct page_alloc_stats *st);

/*
 * page_reporting_run - give every free block of 2 MiB and up that holds
 * data back to the host now (MADV_DONTNEED), as the reporter thread does
 * 2 s after frees leave 32 MiB of them. Locking: none of the allocator's
 * locks held.
 */
void page_reporting_run(void);

/* Page-table pages are counted separately, for the accounting tests. */
void pagetable_account(int64_t nr);

#endif /* UMM_PAGE_ALLOC_H */
