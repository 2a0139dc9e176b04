// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tlb.c - per-thread software TLBs, their shootdown, and mmu_gather.
 *
 * Lock order: tlb_registry_lock (a thread's list of TLBs; taken when a
 * thread meets a new mm, exits, or an mm is destroyed) -> mm->tlb_lock (an
 * mm's list of TLBs; taken by every flush). Neither is held while waiting
 * on anything but access sections, which hold no lock.
 */
#include <sched.h>
#include <string.h>
#include "tlb.h"

static pthread_mutex_t tlb_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t tlb_key;
static pthread_once_t tlb_once = PTHREAD_ONCE_INIT;

/* This thread's TLBs, and a small cache of the last ones used. */
struct thread_tlbs {
	struct list_head list;		/* tlb_registry_lock */
};
static __thread struct thread_tlbs *my_tlbs;
static __thread struct {
	struct umm_mm *mm;
	uint64_t mm_id;			/* an mm at a reused address has another */
	struct sw_tlb *t;
} tlb_cache[4];
static __thread unsigned int tlb_cache_next;
static uint64_t next_mm_id = 1;		/* atomic */

/* Thread exit. Locking: takes tlb_registry_lock, then each mm's tlb_lock. */
static void thread_tlbs_destroy(void *arg)
{
	struct thread_tlbs *tt = arg;

	pthread_mutex_lock(&tlb_registry_lock);
	while (!list_empty(&tt->list)) {
		struct sw_tlb *t = list_first_entry(&tt->list, struct sw_tlb, thread_node);

		pthread_mutex_lock(&t->mm->tlb_lock);
		/* under the lock mm_stat_read() sums with: counted once */
		for (int i = 0; i < NR_MM_STAT_ITEMS; i++)
			atomic_fetch_add_relaxed(&t->mm->stat[i], t->stat[i]);
		list_del(&t->mm_node);
		pthread_mutex_unlock(&t->mm->tlb_lock);
		list_del(&t->thread_node);
		free(t);
	}
	pthread_mutex_unlock(&tlb_registry_lock);
	free(tt);
	my_tlbs = NULL;
	memset(tlb_cache, 0, sizeof(tlb_cache));
}

/*
 * A host fork() while another thread holds the registry (making or
 * dropping its TLBs) would leave it locked in the child, which has no such
 * thread: it is held across the fork. Its holders wait for nothing.
 * Locking: prepare takes tlb_registry_lock; parent and child drop it.
 */
static void tlb_atfork_prepare(void)
{
	pthread_mutex_lock(&tlb_registry_lock);
}

static void tlb_atfork_release(void)
{
	pthread_mutex_unlock(&tlb_registry_lock);
}

static void tlb_init_once(void)
{
	pthread_key_create(&tlb_key, thread_tlbs_destroy);
	pthread_atfork(tlb_atfork_prepare, tlb_atfork_release, tlb_atfork_release);
}

/* Locking: none; the mm is not yet visible. */
void tlb_mm_init(struct umm_mm *mm)
{
	pthread_once(&tlb_once, tlb_init_once);
	mm->mm_id = atomic_add_return(&next_mm_id, 1);
	mm->tlb_gen = 1;
	pthread_mutex_init(&mm->tlb_lock, NULL);
	INIT_LIST_HEAD(&mm->tlb_list);
}

void tlb_mm_destroy(struct umm_mm *mm)
{
	/* this thread may count for a new mm at the same address */
	for (int i = 0; i < 4; i++)
		if (tlb_cache[i].mm == mm)
			tlb_cache[i].mm = NULL;
	pthread_mutex_lock(&tlb_registry_lock);
	pthread_mutex_lock(&mm->tlb_lock);
	while (!list_empty(&mm->tlb_list)) {
		struct sw_tlb *t = list_first_entry(&mm->tlb_list, struct sw_tlb, mm_node);

		list_del(&t->mm_node);
		list_del(&t->thread_node);
		free(t);
	}
	pthread_mutex_unlock(&mm->tlb_lock);
	pthread_mutex_unlock(&tlb_registry_lock);
	pthread_mutex_destroy(&mm->tlb_lock);
}

/*
 * First access to @mm on this thread: find or make its TLB.
 * Locking: takes tlb_registry_lock, then mm->tlb_lock; not in a section.
 */
static struct sw_tlb *sw_tlb_slow(struct umm_mm *mm)
{
	struct sw_tlb *t = NULL;
	struct list_head *pos;

	pthread_once(&tlb_once, tlb_init_once);
	pthread_mutex_lock(&tlb_registry_lock);
	if (!my_tlbs) {
		my_tlbs = calloc(1, sizeof(*my_tlbs));
		if (!my_tlbs)
			goto out;
		INIT_LIST_HEAD(&my_tlbs->list);
		pthread_setspecific(tlb_key, my_tlbs);
	}
	for (pos = my_tlbs->list.next; pos != &my_tlbs->list; pos = pos->next) {
		struct sw_tlb *c = list_entry(pos, struct sw_tlb, thread_node);

		if (c->mm == mm) {
			t = c;
			goto out;
		}
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	t->mm = mm;
	list_add(&t->thread_node, &my_tlbs->list);
	pthread_mutex_lock(&mm->tlb_lock);
	list_add(&t->mm_node, &mm->tlb_list);
	pthread_mutex_unlock(&mm->tlb_lock);
out:
	pthread_mutex_unlock(&tlb_registry_lock);
	if (t) {
		unsigned int i = tlb_cache_next++ & 3;

		tlb_cache[i].mm = mm;
		tlb_cache[i].mm_id = mm->mm_id;
		tlb_cache[i].t = t;
	}
	return t;
}

static inline struct sw_tlb *tlb_cached(struct umm_mm *mm)
{
	for (int i = 0; i < 4; i++)
		if (tlb_cache[i].mm == mm && tlb_cache[i].mm_id == mm->mm_id)
			return tlb_cache[i].t;
	return NULL;
}

struct sw_tlb *tlb_get(struct umm_mm *mm)
{
	struct sw_tlb *t = tlb_cached(mm);

	return likely(t) ? t : sw_tlb_slow(mm);
}

struct sw_tlb *tlb_current(struct umm_mm *mm)
{
	return tlb_cached(mm);
}

void mm_stat_add(struct umm_mm *mm, enum mm_stat_item i, int64_t v)
{
	struct sw_tlb *t = tlb_cached(mm);

	if (likely(t))
		WRITE_ONCE(t->stat[i], t->stat[i] + (uint64_t)v);
	else
		atomic_fetch_add_relaxed(&mm->stat[i], (uint64_t)v);
}

uint64_t mm_stat_read(struct umm_mm *mm, enum mm_stat_item i)
{
	struct list_head *pos;
	uint64_t sum;

	/* inside the lock an exiting thread folds its share under */
	pthread_mutex_lock(&mm->tlb_lock);
	sum = __atomic_load_n(&mm->stat[i], __ATOMIC_RELAXED);
	for (pos = mm->tlb_list.next; pos != &mm->tlb_list; pos = pos->next)
		sum += READ_ONCE(list_entry(pos, struct sw_tlb, mm_node)->stat[i]);
	pthread_mutex_unlock(&mm->tlb_lock);
	return sum;
}

void sw_tlb_drop(struct sw_tlb *t, uint64_t gen)
{
	memset(t->e, 0, sizeof(t->e));
	t->gen = gen;
}

void update_mmu_cache(struct vm_area_struct *vma, uint64_t addr, pte_t pte)
{
	struct sw_tlb *t = tlb_current(vma->vm_mm);
	uint64_t want = _PAGE_PRESENT | _PAGE_ACCESSED;

	/* what the walk would load: present and young; writable once dirty */
	if (!t || (pte_flags(pte) & want) != want)
		return;
	sw_tlb_fill(t, addr, pfn_to_virt(pte_pfn(pte)),
		    !(pte_flags(pte) & _PAGE_NOREAD), pte_write(pte) && pte_dirty(pte));
}

void flush_tlb_mm_range(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct list_head *pos;

	(void)start;
	(void)end;	/* the whole TLB goes: entries are cheap to refill */
	__atomic_add_fetch(&mm->tlb_gen, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&mm->tlb_lock);
	for (pos = mm->tlb_list.next; pos != &mm->tlb_list; pos = pos->next) {
		struct sw_tlb *t = list_entry(pos, struct sw_tlb, mm_node);
		uint64_t s = __atomic_load_n(&t->seq, __ATOMIC_SEQ_CST);
		unsigned int spins = 0;

		if (!(s & 1))
			continue;
		/* a section running since before the bump: wait for its end */
		while (__atomic_load_n(&t->seq, __ATOMIC_ACQUIRE) == s) {
			if (++spins < 256)
				cpu_relax();
			else
				sched_yield();
		}
	}
	pthread_mutex_unlock(&mm->tlb_lock);
}

/* ---- mmu_gather ---- */

void tlb_gather_mmu(struct mmu_gather *tlb, struct umm_mm *mm)
{
	tlb->mm = mm;
	inc_tlb_flush_pending(mm);	/* before any entry changes */
	tlb->start = UINT64_MAX;
	tlb->end = 0;
	tlb->need_flush = false;
	tlb->munlock = false;
	tlb->nr = 0;
}

void tlb_flush_pte_range(struct mmu_gather *tlb, uint64_t start, uint64_t end)
{
	tlb->need_flush = true;
	tlb->start = start < tlb->start ? start : tlb->start;
	tlb->end = end > tlb->end ? end : tlb->end;
}

/*
 * Callers hold no spinlock, except tlb_remove_page() on a full batch,
 * which may run under a PTE lock: the wait is for access sections, which
 * hold no lock.
 */
void tlb_flush_mmu(struct mmu_gather *tlb)
{
	/* a gathered frame was mapped: its translation must go first */
	if (tlb->need_flush || tlb->nr)
		flush_tlb_mm_range(tlb->mm, tlb->start, tlb->end);
	tlb->need_flush = false;
	tlb->start = UINT64_MAX;
	tlb->end = 0;
	release_pages(tlb->pages, tlb->nr);
	tlb->nr = 0;
}

void tlb_remove_page(struct mmu_gather *tlb, struct page *page)
{
	if (unlikely(tlb_batch_full(tlb)))
		tlb_flush_mmu(tlb);
	tlb->pages[tlb->nr++] = page;
}

void tlb_finish_mmu(struct mmu_gather *tlb)
{
	tlb_flush_mmu(tlb);
	dec_tlb_flush_pending(tlb->mm);
}
