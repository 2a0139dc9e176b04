/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tlb.h - the software MMU's translation caches and their shootdown, and
 * mmu_gather, which defers freeing frames until no translation of them
 * can be in use.
 *
 * Each thread keeps, per mm it touches, a small direct-mapped TLB of
 * page -> host pointer. Every access through it runs inside a short
 * "access section" of that thread (a sequence number, odd while inside).
 * flush_tlb_mm_range() bumps the mm's TLB generation - a section that
 * starts afterwards sees the new generation and empties its TLB - and
 * waits only for sections that were already running: so once munmap or
 * mprotect returns, no access that began through an old translation is
 * still going, and with no other thread in the mm there is nothing to wait
 * for. Frames unmapped under an mmu_gather are freed after that flush.
 */
#ifndef UMM_TLB_H
#define UMM_TLB_H

#include "pgtable.h"

#define SW_TLB_ENTRIES	64

struct sw_tlb_entry {
	uint64_t tag;		/* vpn << 3 | 4 if readable | 2 if writable | 1 (valid) */
	char *host;		/* the frame's host address */
};

/*
 * A thread's state for one mm: its TLB, and its share of the mm's
 * counters (the kernel's per-CPU event and RSS counters), which only the
 * owner writes and mm_stat_read() sums under mm->tlb_lock.
 */
struct sw_tlb {
	uint64_t seq;		/* odd inside an access section; atomic */
	uint64_t gen;		/* mm->tlb_gen the entries belong to; owner only */
	struct umm_mm *mm;	/* fixed */
	struct list_head mm_node;	/* mm->tlb_list; mm->tlb_lock */
	struct list_head thread_node;	/* the owner's list; tlb_registry_lock */
	uint64_t stat[NR_MM_STAT_ITEMS];	/* owner writes; relaxed atomics */
	/*
	 * The fault path's memory (vma.c, lock_vma_under_rcu): the VMA of
	 * the last fault, the tree's entry generation it was found under, and
	 * a value mm_lock_seq had. Owner only.
	 */
	struct vm_area_struct *vmacache;
	uint64_t vmacache_gen;
	uint64_t lock_seq_seen;
	struct sw_tlb_entry e[SW_TLB_ENTRIES];	/* owner only */
};

/*
 * tlb_get - this thread's state for @mm, made on first use.
 * Locking: none held (may take tlb_registry_lock and mm->tlb_lock).
 * Return: NULL when it could not be allocated.
 */
struct sw_tlb *tlb_get(struct umm_mm *mm);

/* tlb_current - as tlb_get, but NULL rather than make one. Locking: none. */
struct sw_tlb *tlb_current(struct umm_mm *mm);

/* Empty @t for generation @gen. Locking: @t's owner, in a section. */
void sw_tlb_drop(struct sw_tlb *t, uint64_t gen);

/*
 * access_begin - enter an access section on this thread with @t, its TLB
 * for the mm (tlb_get). Entries cached in @t outside a section
 * (update_mmu_cache, a walk), and what a lookup gave before it, are
 * usable only after it: it drops them if a flush came since the last one.
 * Locking: none; not nestable. Return: false if it dropped them.
 */
static inline bool access_begin(struct sw_tlb *t)
{
	uint64_t gen;

	/*
	 * Store-load order against flush_tlb_mm_range(): either the flusher
	 * sees this section (odd seq) and waits for it, or the section sees
	 * the flusher's new generation and drops its entries.
	 */
	__atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_SEQ_CST);
	gen = __atomic_load_n(&t->mm->tlb_gen, __ATOMIC_SEQ_CST);
	if (likely(gen == t->gen))
		return true;
	sw_tlb_drop(t, gen);
	return false;
}

static inline void access_end(struct sw_tlb *t)
{
	smp_store_release(&t->seq, t->seq + 1);
}

static inline char *sw_tlb_lookup(struct sw_tlb *t, uint64_t addr, bool write)
{
	uint64_t vpn = addr >> PAGE_SHIFT;
	struct sw_tlb_entry *e = &t->e[vpn & (SW_TLB_ENTRIES - 1)];
	uint64_t need = write ? 2 : 4;

	if ((e->tag >> 3) == vpn && (e->tag & (need | 1)) == (need | 1))
		return e->host + (addr & ~PAGE_MASK);
	return NULL;
}

static inline void sw_tlb_fill(struct sw_tlb *t, uint64_t addr, char *host,
			       bool readable, bool writable)
{
	uint64_t vpn = addr >> PAGE_SHIFT;
	struct sw_tlb_entry *e = &t->e[vpn & (SW_TLB_ENTRIES - 1)];

	e->tag = vpn << 3 | (readable ? 4 : 0) | (writable ? 2 : 0) | 1;
	e->host = host;
}

/*
 * update_mmu_cache - a fault just set @pte for @addr of @vma's mm: load it
 * into this thread's TLB, as an architecture with a software-loaded TLB
 * does, so the access that faulted finds it on its retry instead of
 * walking the tables again. Safe outside an access section: an entry is
 * only used inside one, a section that starts after a flush of the entry
 * drops it (access_begin), and one already running when the flush comes
 * is waited for, as for an entry the walk loaded.
 * Locking: the PTE lock held (@pte is what the table holds).
 */
void update_mmu_cache(struct vm_area_struct *vma, uint64_t addr, pte_t pte);

/*
 * flush_tlb_mm_range - no translation of [start, end) made before this
 * call survives it, and no access that started through one is still
 * running when it returns. Locking: takes mm->tlb_lock; must not be called
 * inside an access section of @mm.
 */
void flush_tlb_mm_range(struct umm_mm *mm, uint64_t start, uint64_t end);

/* Tear down every thread's TLB for @mm. Locking: the mm is unused. */
void tlb_mm_destroy(struct umm_mm *mm);
void tlb_mm_init(struct umm_mm *mm);

/*
 * struct mmu_gather - frames unmapped by a zap, kept until the flush that
 * makes them unreachable, then released. A full batch is flushed and freed
 * on the way (tlb_flush_mmu): the frames' metadata is then still in the
 * cache, and a big unmap needs no memory to gather into.
 */
#define MMU_GATHER_BATCH	256

struct mmu_gather {
	struct umm_mm *mm;
	uint64_t start, end;	/* range whose entries changed */
	bool need_flush;
	bool munlock;		/* a VM_LOCKED VMA's entries: zaps munlock */
	size_t nr;
	struct page *pages[MMU_GATHER_BATCH];
};

/*
 * A flush of @mm's entries is owed from before the first entry changes
 * (inc) until after flush_tlb_mm_range (dec); mm_tlb_flush_pending, read
 * under a PTE lock, then sees every change made under that lock earlier.
 */
static inline void inc_tlb_flush_pending(struct umm_mm *mm)
{
	__atomic_add_fetch(&mm->tlb_flush_pending, 1, __ATOMIC_SEQ_CST);
}

static inline void dec_tlb_flush_pending(struct umm_mm *mm)
{
	__atomic_sub_fetch(&mm->tlb_flush_pending, 1, __ATOMIC_RELEASE);
}

static inline bool mm_tlb_flush_pending(struct umm_mm *mm)
{
	return __atomic_load_n(&mm->tlb_flush_pending, __ATOMIC_ACQUIRE) != 0;
}

/* Locking: none; the gather owes a flush (inc_tlb_flush_pending) until tlb_finish_mmu. */
void tlb_gather_mmu(struct mmu_gather *tlb, struct umm_mm *mm);
/* Entries of [start, end) changed: flush them at the end. */
void tlb_flush_pte_range(struct mmu_gather *tlb, uint64_t start, uint64_t end);
/*
 * tlb_remove_page - drop a reference on @page once the flush is done.
 * On a full batch it flushes first, where it stands: allowed under a PTE
 * lock, but that lock is then held across the wait for other threads'
 * access sections, so a zap loop checks tlb_batch_full() and calls
 * tlb_flush_mmu() outside its lock.
 */
void tlb_remove_page(struct mmu_gather *tlb, struct page *page);

static inline bool tlb_batch_full(const struct mmu_gather *tlb)
{
	return tlb->nr == MMU_GATHER_BATCH;
}
/*
 * tlb_flush_mmu - flush what changed so far and free the gathered frames.
 * Locking: as flush_tlb_mm_range().
 */
void tlb_flush_mmu(struct mmu_gather *tlb);
void tlb_finish_mmu(struct mmu_gather *tlb);

#endif /* UMM_TLB_H */
