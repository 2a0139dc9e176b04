/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mm_types.h - struct page (frame metadata) and struct umm_mm (one address
 * space), the two structures every layer shares.
 */
#ifndef UMM_MM_TYPES_H
#define UMM_MM_TYPES_H

#include "compiler.h"
#include "list.h"
#include "locks.h"
#include "rcu.h"
#include "vma_tree.h"
#include "interval_tree.h"

struct umm_file;
struct address_space;
struct anon_vma;
struct mmu_notifier;

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(~(PAGE_SIZE - 1))

/*
 * A quota of frames: the per-mm phys_limit, and the process-wide limit.
 * used is changed with atomics only. A frame stays charged to the quota it
 * was allocated under even when it outlives that mm (a page shared with a
 * fork's child): the mm's quota is then orphaned (QUOTA_ORPHAN set in
 * used) and frees itself when the last such frame goes.
 */
#define QUOTA_UNLIMITED	UINT64_MAX
#define QUOTA_ORPHAN	(1ULL << 63)
struct frame_quota {
	uint64_t used;		/* pages charged, | QUOTA_ORPHAN; atomic */
	uint64_t limit;		/* pages, or QUOTA_UNLIMITED; set before use */
};

/*
 * quota_used - frames charged to @q and in use (not those threads charged
 * ahead). Locking: takes the allocator's per-thread cache locks; none of
 * them held.
 */
uint64_t quota_used(const struct frame_quota *q);

/*
 * struct page - metadata of one 4 KiB frame, at most 64 bytes (asserted).
 *
 * A frame is owned by exactly one of: the buddy allocator (PG_buddy, on a
 * free list, zone->lock), a per-thread cache (PG_pcp, pcp->lock), an RCU
 * callback (in flight to be freed), or whoever holds references to it
 * (refcount > 0). Fields below say who may change them.
 */
struct page {
	unsigned long flags;		/* PG_* bits (atomic bitops) + order, and a
					   head's mlock_count (compare-and-swap) */
	int32_t refcount;		/* atomic; 0 = free */
	int32_t mapcount;		/* atomic; PTE maps of this page, 0 = none
					   (the kernel uses -1); rmap.h */
	union {
		struct list_head lru;	/* free lists: zone->lock / pcp->lock */
		struct rcu_head rcu;	/* deferred free (pte_free_defer...) */
		struct {		/* tail page of a compound page */
			unsigned long compound_head;	/* head | 1, set at alloc */
			/* page[1] of a large folio only; atomic, see rmap.h */
			int32_t entire_mapcount;	/* PMD mappings */
			int32_t large_mapcount;		/* every mapping */
		};
	};
	void *mapping;			/* owner-defined: file / anon_vma; a PMD
					   table's: PTE tables deposited for its
					   leaves (PMD lock, huge_memory.c) */
	uint64_t index;			/* owner-defined: page offset */
	union {
		struct {
			union {
				unsigned long private;	/* free block: its order */
				spinlock_t ptl;		/* page-table page: the split lock */
				int32_t pincount;	/* page[1] of a large folio: its pins
							   (atomic; the kernel's _pincount) */
			};
			struct frame_quota *quota;	/* charged on alloc, uncharged on free */
		};
		/*
		 * page[2] of an anonymous THP on the deferred split queue
		 * (PG_partially_mapped on the head): a tail's private and
		 * quota mean nothing until the folio is split, which takes
		 * it off first. The queue's lock (huge_memory.c).
		 */
		struct list_head deferred_list;
	};
};

_Static_assert(sizeof(struct page) <= 64, "struct page must stay within 64 bytes");

/* Page flag bits */
enum pageflags {
	PG_locked,	/* folio lock */
	PG_buddy,	/* free, on a buddy list; private = order */
	PG_pcp,		/* free, on a per-thread cache */
	PG_head,	/* head of a compound page */
	PG_zero,	/* free and known to hold only zeroes */
	PG_table,	/* a page-table page */
	PG_reserved,	/* never handed out (pfn 0) */
	PG_dirty,
	PG_uptodate,
	PG_lazyfree,	/* anon, MADV_FREE'd: the kernel's !PG_swapbacked */
	PG_anon_exclusive, /* page of a large anon folio owned by one mapping */
	PG_partially_mapped, /* head of an anon THP on the deferred split queue */
	PG_mlocked,	/* a VM_LOCKED VMA maps the folio: no lazy free, no reclaim */
	__NR_PAGEFLAGS,
};

#define PG_ORDER_SHIFT	56	/* order of an allocated block, bits 56..61 */
#define PG_ORDER_MASK	(0x3fUL << PG_ORDER_SHIFT)
/*
 * A folio head's mlock_count, bits 32..55: the kernel keeps it in the
 * folio's lru field while the folio is on the unevictable list, under the
 * lruvec lock. umm has no LRU: the count shares the flags word with
 * PG_mlocked so that both change in one compare-and-swap (mlock.c).
 */
#define PG_MLOCK_COUNT_SHIFT	32
#define PG_MLOCK_COUNT_MASK	(0xffffffUL << PG_MLOCK_COUNT_SHIFT)

static inline bool test_bit_page(int nr, const struct page *p)
{
	return (READ_ONCE(p->flags) >> nr) & 1;
}

static inline void set_bit_page(int nr, struct page *p)
{
	__atomic_fetch_or(&p->flags, 1UL << nr, __ATOMIC_SEQ_CST);
}

static inline void clear_bit_page(int nr, struct page *p)
{
	__atomic_fetch_and(&p->flags, ~(1UL << nr), __ATOMIC_SEQ_CST);
}

static inline bool test_and_set_bit_page(int nr, struct page *p)
{
	return (__atomic_fetch_or(&p->flags, 1UL << nr, __ATOMIC_ACQUIRE) >> nr) & 1;
}

static inline void clear_bit_unlock_page(int nr, struct page *p)
{
	__atomic_fetch_and(&p->flags, ~(1UL << nr), __ATOMIC_RELEASE);
}

static inline unsigned int page_order(const struct page *p)
{
	return (READ_ONCE(p->flags) & PG_ORDER_MASK) >> PG_ORDER_SHIFT;
}

static inline bool PageTail(const struct page *p)
{
	return READ_ONCE(p->compound_head) & 1;
}

static inline struct page *compound_head(struct page *p)
{
	unsigned long h = READ_ONCE(p->compound_head);

	return (h & 1) ? (struct page *)(h - 1) : p;
}

static inline int page_count(const struct page *p)
{
	return __atomic_load_n(&p->refcount, __ATOMIC_RELAXED);
}

static inline void get_page(struct page *p)
{
	p = compound_head(p);
	VM_BUG_ON(page_count(p) <= 0);
	__atomic_fetch_add(&p->refcount, 1, __ATOMIC_RELAXED);
}

/* get_page_unless_zero - a lockless reader's reference; fails on a free frame. */
static inline bool get_page_unless_zero(struct page *p)
{
	int c = __atomic_load_n(&p->refcount, __ATOMIC_RELAXED);

	do {
		if (c == 0)
			return false;
	} while (!__atomic_compare_exchange_n(&p->refcount, &c, c + 1, true,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

void put_page(struct page *p);
void put_page_refs(struct page *p, int nr);

/*
 * A pin (umm_pin) of a small page counts as this many references, so "may
 * be pinned" is a look at the count, as the kernel's GUP_PIN_COUNTING_BIAS.
 * A large folio's count is raised by every page mapped, so it counts its
 * pins apart, in page[1].pincount (plus one reference each).
 */
#define GUP_PIN_COUNTING_BIAS	1024

static inline bool PageHead(const struct page *p)
{
	return test_bit_page(PG_head, p);
}

/* @p: a head (or small) page. */
static inline bool page_maybe_dma_pinned(struct page *p)
{
	if (PageHead(p))
		return __atomic_load_n(&p[1].pincount, __ATOMIC_RELAXED) > 0;
	return page_count(p) >= GUP_PIN_COUNTING_BIAS;
}

/* Pin @head's folio (one more pin), or drop one pin. */
static inline void folio_pin(struct page *head)
{
	if (PageHead(head)) {
		__atomic_fetch_add(&head[1].pincount, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&head->refcount, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&head->refcount, GUP_PIN_COUNTING_BIAS, __ATOMIC_RELAXED);
	}
}

static inline void folio_unpin(struct page *head)
{
	if (PageHead(head)) {
		__atomic_fetch_sub(&head[1].pincount, 1, __ATOMIC_RELAXED);
		put_page_refs(head, 1);
	} else {
		put_page_refs(head, GUP_PIN_COUNTING_BIAS);
	}
}

/*
 * page_exclusive - this mm's own page (the kernel's PageAnonExclusive), to
 * be written in place: a pin must keep seeing what its mm writes.
 * @p is the page mapped (a subpage of a large folio, or the head of a
 * PMD-mapped one). A small page is this mm's own when mapped once and
 * referenced only by that mapping and by pins; a large
 * folio's pages are shared by many mappings, so each page carries the
 * kernel's PageAnonExclusive bit: set when the folio is made, cleared
 * when fork shares the page, handed on to every page by a PMD split.
 */
static inline bool page_exclusive(struct page *p)
{
	if (PageHead(compound_head(p)))
		return test_bit_page(PG_anon_exclusive, p);
	return __atomic_load_n(&p->mapcount, __ATOMIC_RELAXED) == 1 &&
	       page_count(p) % GUP_PIN_COUNTING_BIAS == 1;
}

/* Counters an mm keeps; names are /proc/vmstat's where one exists. */
enum mm_stat_item {
	/* a fault's: the first cache line */
	MM_PGFAULT,		/* pgfault: faults handled */
	MM_VMA_LOCK_SUCCESS,	/* vma_lock_success: fault done under a VMA lock */
	MM_VMA_LOCK_ABORT,	/* vma_lock_abort: no VMA, or could not lock it */
	MM_VMA_LOCK_RETRY,	/* vma_lock_retry: fault fell back to mmap_lock */
	MM_VMA_LOCK_MISS,	/* vma_lock_miss: VMA detached under us, looked again */
	MM_ANONPAGES,		/* RssAnon pages mapped */
	MM_PGALLOC,		/* pgalloc_normal: frames allocated */
	MM_PTE_MAP_RETRY,	/* pte_offset_map_lock saw the PMD change */
	/* the mapping calls': the next line */
	MM_PGTABLE_PAGES,	/* nr_page_table_pages */
	MM_PGFREE,		/* pgfree: frames freed */
	MM_TLB_FLUSH,		/* umm's own: software-TLB shootdowns */
	MM_THP_FAULT_ALLOC,	/* thp_fault_alloc: THPs faulted in */
	MM_THP_FAULT_FALLBACK,	/* thp_fault_fallback: no THP free, small pages */
	MM_THP_SPLIT_PMD,	/* thp_split_pmd: PMD leaves split to PTEs */
	MM_THP_COLLAPSE_ALLOC,	/* thp_collapse_alloc: blocks collapsed to THPs */
	MM_THP_SPLIT_PAGE,	/* thp_split_page: THPs split into small pages */
	MM_THP_DEFERRED_SPLIT,	/* thp_deferred_split_page: of them, out of memory */
	MM_THP_FILE_MAPPED,	/* thp_file_mapped: file THPs mapped by a PMD leaf */
	MM_THP_RETRACT,		/* umm's own: PTE tables retracted for a file THP */
	NR_MM_STAT_ITEMS,
};

/*
 * struct umm_mm - one address space (the kernel's mm_struct).
 *
 * Laid out by who writes what: a fault reads the fixed fields, the tree's
 * root and mm_lock_seq while another thread's mmap/munmap writes the
 * tree, mmap_lock, map_count and mm_lock_seq. Fields a fault only reads
 * sit on lines no writer touches, and the fault's counters on a line of
 * their own, so a fault beside mmap churn misses only on what really
 * changed (the root and mm_lock_seq), as the kernel's mm_struct layout.
 * A fault in the VMA of the thread's last one reads neither (vma.c,
 * vmacache_find; vma_lock.c, vma_start_read_cached).
 */
struct umm_mm {
	/* fixed for the mm's life: read by every fault */
	void *pgd;			/* top table */
	unsigned int pgtable_levels;	/* 4 or 5 */
	unsigned int flags;		/* UMM_NO_PER_VMA_LOCK... */
	uint64_t task_size;		/* first address past user space */
	uint64_t mmap_base;		/* top-down placement starts here */
	uint64_t max_map_count;
	uint64_t stack_limit;		/* RLIMIT_STACK, bytes */
	int thp;			/* UMM_THP_* */
	uint64_t mm_id;			/* unique over the process's life */
	struct frame_quota *quota;	/* phys_limit of this mm; may outlive it */

	/* VMAs: readers under RCU, writers under mmap_lock (write) */
	struct vma_tree mm_mt __cacheline_aligned;

	struct rw_semaphore mmap_lock __cacheline_aligned;
	uint64_t map_count;		/* VMAs; mmap_lock */
	bool sealed;			/* a VMA was ever sealed; mmap_lock */
	/* VM_LOCKED, VM_LOCKONFAULT for every new VMA (mlockall); mmap_lock */
	unsigned long def_flags;
	/* Writers waiting for VMA readers to leave sleep on this word. */
	uint32_t vma_writer_wait;	/* atomic; bumped by a waking reader */
	spinlock_t page_table_lock;	/* PUD level and up, vma->anon_vma */
	/*
	 * Made odd by the first VMA write lock of an mmap_lock write cycle
	 * (mm_lock_seq_begin), even again when that cycle releases mmap_lock:
	 * a VMA whose vm_lock_seq equals it is write-locked, and the release
	 * unlocks every VMA at once. Written under mmap_lock (write), read
	 * locklessly by every fault.
	 */
	uint64_t mm_lock_seq __cacheline_aligned;

	/* Software MMU (tlb.c): per-thread TLBs of this mm and their flush */
	uint64_t tlb_gen __cacheline_aligned;	/* atomic; bumped by every flush */
	pthread_mutex_t tlb_lock;	/* guards tlb_list */
	struct list_head tlb_list;	/* struct sw_tlb.mm_node */
	/*
	 * Atomic: changers of entries whose TLB flush is still to come (the
	 * kernel's tlb_flush_pending): a walker that finds an entry needing
	 * no change under its PTE lock must still flush while it is non-zero,
	 * since a TLB may hold the entry as it was (page_mkclean). Written by
	 * every munmap; a line of its own, away from tlb_gen, which every
	 * access reads.
	 */
	uint64_t tlb_flush_pending __cacheline_aligned;

	/* prepended under mm_take_all_locks(), never removed; read lockless */
	struct mmu_notifier *notifiers __cacheline_aligned;
	/*
	 * A THP was ever mapped here: VMA edges may cut a leaf, and out of
	 * memory there may be ones to split. Set once, read locklessly.
	 */
	bool thp_seen;
	/*
	 * khugepaged (khugepaged.c): on its list (khugepaged.lock; next is
	 * NULL when not), set/cleared with it; where its scan goes on
	 * (its thread only).
	 */
	struct list_head khugepaged_node;
	bool khugepaged_on;		/* read locklessly to skip the lock */
	uint64_t khugepaged_addr;

	/*
	 * atomic, relaxed: what threads without their own counters added,
	 * and what exited threads had counted (mm_stat_add)
	 */
	uint64_t stat[NR_MM_STAT_ITEMS] __cacheline_aligned;
};

/*
 * One mapped range of an address space. Lockless readers reach it through
 * the VMA tree under RCU; it is freed by call_rcu after vma_mark_detached().
 */
struct vm_area_struct {
	uint64_t vm_start, vm_end;	/* mmap_lock (write) + vma write lock; readers re-check */
	uint64_t vm_pgoff;		/* as vm_start */
	unsigned long vm_flags;		/* as vm_start */
	struct umm_mm *vm_mm;		/* fixed */
	struct umm_file *vm_file;	/* fixed; NULL: anonymous */
	/*
	 * The VMA's node in vm_file->i_mmap (file pages vm_pgoff to the
	 * last one it maps): vm_file->i_mmap_rwsem. Linked before the VMA is
	 * published, unlinked once it left the tree; fixed meanwhile.
	 */
	struct itree_node shared;
	struct anon_vma *anon_vma;	/* set once, under the page_table_lock */
	/*
	 * struct anon_vma_chain.same_vma: one link to every anon_vma whose
	 * pages this VMA may map (its own, and its fork ancestors'). Changed
	 * under mmap_lock (write), or (read) + page_table_lock by
	 * anon_vma_prepare; fixed while the VMA is published otherwise.
	 */
	struct list_head anon_vma_chain;
	/*
	 * 0 detached, 1 attached, 1 + n with n readers, plus VMA_LOCK_OFFSET
	 * while a writer keeps new readers out. Atomic.
	 */
	uint32_t vm_refcnt;
	uint64_t vm_lock_seq;		/* mmap_lock (write); read locklessly */
	struct rcu_head rcu;
};

/*
 * mm_stat_add - count an event of @mm. A thread with its own state for @mm
 * (tlb.c) counts there with plain stores, as the kernel counts per CPU;
 * others (khugepaged, RCU callbacks) add to mm->stat. Locking: any.
 */
void mm_stat_add(struct umm_mm *mm, enum mm_stat_item i, int64_t v);

/* mm_stat_read - the sum over every thread. Locking: takes mm->tlb_lock. */
uint64_t mm_stat_read(struct umm_mm *mm, enum mm_stat_item i);

#endif /* UMM_MM_TYPES_H */
