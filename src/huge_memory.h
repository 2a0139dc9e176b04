/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * huge_memory.h - anonymous transparent huge pages mapped by PMD leaves.
 *
 * A THP is an order-9 compound page mapped whole by one PMD leaf, or by
 * 512 PTEs after a split. Every leaf has a PTE table deposited beside it
 * (on the PMD table's page, under the PMD lock) so that splitting it never
 * needs memory: a partial munmap, mprotect or mremap always succeeds.
 */
#ifndef UMM_HUGE_MEMORY_H
#define UMM_HUGE_MEMORY_H

#include "memory.h"
#include "tlb.h"

struct mm_walk;

#define HPAGE_PMD_NR	(1UL << HPAGE_PMD_ORDER)
#define HPAGE_PMD_SIZE	PMD_SIZE

/* A THP is mapped in @mm: edge splits and the deferred split look from now. */
static inline void mm_set_thp_seen(struct umm_mm *mm)
{
	if (!READ_ONCE(mm->thp_seen))
		WRITE_ONCE(mm->thp_seen, true);
}

/*
 * pmdp_invalidate - freeze a leaf: clear present (PSE stays, so it still
 * reads as a leaf and nobody descends), so lockless walkers can no longer
 * set accessed/dirty on it. Locking: the PMD lock held.
 * Return: its last value, with every bit a walker set.
 */
static inline uint64_t pmdp_invalidate(pmd_t *pmd)
{
	return __atomic_fetch_and(&pmd->pmd, ~(_PAGE_PRESENT | _PAGE_PROTNONE),
				  __ATOMIC_SEQ_CST);
}

/*
 * thp_vma_allowable - may @vma hold PMD THPs at all: private anonymous,
 * allowed by the mm's THP mode (always, or MADV_HUGEPAGE in madvise
 * mode), never with MADV_NOHUGEPAGE. Locking: the VMA held.
 */
bool thp_vma_allowable(struct vm_area_struct *vma);

/* thp_vma_suitable - does the 2 MiB block at @haddr lie inside @vma? */
bool thp_vma_suitable(struct vm_area_struct *vma, uint64_t haddr);

/*
 * do_huge_pmd_anonymous_page - fault in a THP for an empty PMD.
 * Locking: the VMA held (read lock or mmap_lock); takes the PMD lock.
 * Return: 0, VM_FAULT_OOM, VM_FAULT_RETRY, or VM_FAULT_FALLBACK (no huge
 *         page here: fault in a small one).
 */
vm_fault_t do_huge_pmd_anonymous_page(struct vm_fault *vmf);

/*
 * map_anon_folio_pmd - map the new THP @head at the empty @pmd for @haddr
 * of @vma, this mapping's own, with @table deposited beside it; counts
 * its pages in the mm's RSS. Locking: the PMD lock held.
 */
void map_anon_folio_pmd(struct vm_area_struct *vma, pmd_t *pmd, struct page *head,
			pgtable_t table, uint64_t haddr);

/*
 * huge_pmd_fault - a fault on a PMD leaf that read @orig locklessly: set
 * accessed/dirty, make an exclusive leaf writable, or split a shared one.
 * Locking: the VMA held; takes the PMD lock.
 * Return: 0, or VM_FAULT_FALLBACK once split (handle it at PTE level).
 */
vm_fault_t huge_pmd_fault(struct vm_fault *vmf, pmd_t orig);

/* do_set_pmd - see huge_memory.c. */
vm_fault_t do_set_pmd(struct vm_fault *vmf, struct page *page);

/*
 * split_huge_pmd - replace the anonymous PMD leaf at @pmd (if it still is
 * one) by its deposited PTE table mapping the same pages with the same
 * rights. Locking: takes the PMD lock; the caller keeps the PMD table
 * alive (mmap_lock, a VMA lock, or RCU).
 */
void split_huge_pmd(struct umm_mm *mm, pmd_t *pmd, uint64_t addr);

/*
 * split_huge_pmd_address - split the leaf mapping @addr, if any: a VMA
 * boundary is about to fall inside it. Locking: mmap_lock held (write).
 */
void split_huge_pmd_address(struct umm_mm *mm, uint64_t addr);

/*
 * folio_maps_in_table - how many entries of the PTE table holding @ptep
 * map pages of the THP @head.
 * Locking: the lock of @ptep's table held.
 */
int folio_maps_in_table(pte_t *ptep, struct page *head);

/*
 * split_folio_pte - split the anonymous THP @head, mapped only by PTEs,
 * into small pages, when every mapping it has is in the PTE table holding
 * @ptep (the entry for @addr) and nothing but those mappings references
 * it (the kernel's split_folio, for the case that needs no unmapping).
 * Pages left unmapped are freed, and so are those that hold only zeroes,
 * the zero page mapped in their place, as the kernel's split does.
 * @walk is a change walk (its private data start with a struct
 * change_walk) with whole_blocks set.
 * Locking: the lock of @ptep's table held (with every mapping under it,
 *          no mapcount or reference can change); mmap_lock held.
 * Return: -1 when not split; else how many zero-filled pages went.
 */
int split_folio_pte(struct mm_walk *walk, pte_t *ptep, uint64_t addr, struct page *head);

/*
 * split_anon_folio - split the anonymous THP @head wherever it is mapped,
 * in any mm, as the kernel's split_folio: its anon_vma's rmap finds each
 * mapping, PMD leaves are split first, and the PTE tables that map it are
 * all locked at once while it is rewritten - the locks stand in for the
 * kernel's migration entries: a fault, a zap, a fork's copy or a pin of
 * any of its pages waits for them, and entries keep their frames, so a
 * lockless walker or a cached translation never meets a page half split.
 * Refused when pinned, referenced by more than its mappings and @extra
 * (the caller's own), mapped by more VMAs or tables than it can hold
 * locked at once, while a table stays busy, or, with @mm_only, when an mm
 * other than @mm maps it (madvise leaves a folio "maybe mapped shared"
 * alone, as the kernel's madvise walks do). Pages left unmapped are
 * freed, and those holding only zeroes (mapped once) become the zero
 * page, as split_folio_pte's.
 * Locking: no page-table, anon_vma or i_mmap lock held (mmap_lock may
 *          be); takes the anon_vma lock (read), RCU, PMD and PTE locks.
 * Return: whether it was split; *@freed frames given back.
 */
bool split_anon_folio(struct umm_mm *mm, struct page *head, int extra, bool mm_only,
		      uint64_t *freed);

/*
 * folio_unqueue_deferred_split - @head leaves the deferred split queue,
 * if on it: it is being split or freed.
 * Locking: takes the queue's lock; no page-table lock needed.
 */
void folio_unqueue_deferred_split(struct page *head);

/* Whether any THP is queued for the deferred split (a hint, no lock). */
bool deferred_split_pending(void);

/*
 * deferred_split_scan - out of memory: split the partly mapped THPs on
 * the deferred split queue, giving their holes back (the kernel's
 * deferred-split shrinker, run on demand): those charged to the quota
 * whose limit refused this thread (alloc_failed_quota: @mm's own, as a
 * memory cgroup's), of every mm at the process-wide limit. Counted in @mm's
 * thp_split_page and thp_deferred_split_page, @mm being the one that
 * ran out. A folio that cannot be split now stays queued.
 * Locking: as split_anon_folio.
 * Return: frames given back (to whichever quota they were charged).
 */
uint64_t deferred_split_scan(struct umm_mm *mm);

/*
 * thp_reclaim_once - a call that ran out of frames outside a fault:
 * deferred_split_scan, once per call (*@tried), as the kernel's
 * allocations reclaim (and so split such THPs) before they fail.
 * Locking: mmap_lock held; no page-table, i_mmap or anon_vma lock.
 * Return: whether frames came back, so the step is worth another try.
 */
bool thp_reclaim_once(struct umm_mm *mm, bool *tried);

/*
 * split_file_folio - make the large folio @head of @f's cache, which
 * nothing maps or pins, small cache pages (truncation or a hole punch of
 * part of it, the kernel's split of a shmem folio), each in its own slot
 * instead of the head. Its count is frozen at zero first, so a lockless
 * lookup cannot take a reference meanwhile: it sees
 * a page being freed and looks again under invalidate_lock.
 * @refs: the references it must have: one per cache slot and the caller's.
 * Locking: invalidate_lock (write) of its file; nothing else.
 * Return: whether it was split; each page then holds its slot's
 *         reference, and the caller's is on @head, now a small page.
 */
struct address_space;
bool split_file_folio(struct address_space *mapping, struct page *head, int refs);

/*
 * discard_huge_pmd - reclaim a THP mapped only by the leaf at @pmd whose
 * data need no swap (lazily freeable and clean, or @droppable); else it
 * stays, no longer lazily freeable. Locking: the PMD lock held; the
 * caller frees *@deposit after unlocking. Return: whether it went.
 */
bool discard_huge_pmd(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr,
		      bool droppable, pgtable_t *deposit);

/*
 * zap_huge_pmd_locked - zap_huge_pmd with the PMD lock held and the leaf
 * seen there. Return: its deposit, for the caller to free after unlocking.
 */
pgtable_t zap_huge_pmd_locked(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr);

/*
 * zap_huge_pmd - clear the leaf at @pmd, free its deposit, hand its page
 * to @tlb. Locking: takes the PMD lock.
 * Return: false when @pmd was no longer a leaf (zap its PTE table).
 */
bool zap_huge_pmd(struct mmu_gather *tlb, pmd_t *pmd, uint64_t addr);

/*
 * change_huge_pmd - give the whole leaf at @pmd the rights of @vm_flags.
 * Locking: mmap_lock (write), the VMA write-locked; takes the PMD lock.
 * Return: HPAGE_PMD_NR if changed, 0 if already so, -EAGAIN when @pmd is
 *         no longer a leaf (the caller looks at it again).
 */
long change_huge_pmd(struct umm_mm *mm, pmd_t *pmd, unsigned long vm_flags);

#define HPAGE_PUD_NR	(1L << HPAGE_PUD_ORDER)

/*
 * change_huge_pud - give the PUD leaf at @pud the rights of @vm_flags
 * (seed 002). umm makes no PUD leaves itself; a program or test that
 * installs one gets mprotect's kernel behaviour.
 * Locking: mmap_lock (write); takes the PUD lock.
 * Return: HPAGE_PUD_NR, or -EAGAIN when @pud is no longer a leaf.
 */
long change_huge_pud(struct umm_mm *mm, pud_t *pud, unsigned long vm_flags);

/*
 * __split_huge_pud - a range covers part of a PUD leaf: zap it whole, as
 * the kernel does for its (DAX) PUD leaves; a fault maps again what it
 * needs. Locking: mmap_lock held; takes the PUD lock (through the zap).
 */
void __split_huge_pud(struct umm_mm *mm, pud_t *pud, uint64_t addr);

/*
 * copy_huge_pmd - fork: share the leaf at @src_pmd with the child, both
 * write-protected. Locking: parent mmap_lock (write), its VMA
 * write-locked; takes the PMD locks of both (the child's first).
 * Return: 0; -EAGAIN when the parent's entry is not a leaf (any more: a
 *         pinned THP is split, so that the PTE copy gives the child its
 *         own pages); -ENOMEM.
 */
int copy_huge_pmd(struct umm_mm *dst, struct umm_mm *src, pmd_t *dst_pmd,
		  pmd_t *src_pmd, uint64_t addr);

/*
 * move_huge_pmd - mremap: move the leaf at @opmd to the empty @npmd.
 * Locking: mmap_lock (write), both ranges write-locked; takes both PMD
 * locks, old first. Return: true if moved; false if @npmd is not empty
 * or @opmd no longer a leaf (split and move PTEs instead).
 */
bool move_huge_pmd(struct umm_mm *mm, pmd_t *opmd, pmd_t *npmd);

/*
 * huge_pmd_set_access - the lockless walker's view of a PMD leaf: set
 * accessed (and dirty for @write) as a CPU would.
 * Locking: inside RCU. Return: the leaf value, or 0 when the access must
 *          go to the fault path (not present, not allowed, changed).
 */
uint64_t huge_pmd_set_access(pmd_t *pmd, bool write);

/*
 * madvise_collapse - MADV_COLLAPSE on [start, end) of @vma (khugepaged.c):
 * every aligned 2 MiB block inside becomes a THP.
 * Locking: mmap_lock held for write; write-locks @vma.
 * Return: 0; -EINVAL (VMA not eligible, no page table in a block, a range
 *         inside one block); -EAGAIN (a page held by someone else, e.g.
 *         pinned); -ENOMEM (no THP free); -EBUSY (the mm's phys_limit,
 *         the kernel's memcg charge), each once THPs partly unmapped gave
 *         their holes back: the last failure's, the blocks before it
 *         collapsed.
 */
int madvise_collapse(struct vm_area_struct *vma, uint64_t start, uint64_t end);

/*
 * khugepaged_enter - put @mm on khugepaged's list (it has a VMA that may
 * hold THPs); khugepaged_exit - take it off, waiting until the thread is
 * out of it (umm_mm_destroy, before any lock). khugepaged_stats - the
 * process-wide pages_collapsed and full_scans.
 * Locking: no lock of umm held.
 */
void khugepaged_enter(struct umm_mm *mm);
void khugepaged_exit(struct umm_mm *mm);
void khugepaged_stats(uint64_t *pages_collapsed, uint64_t *full_scans);

/* folio_remove_rmap_pmd - one PMD mapping of @head's folio is gone. */
void folio_remove_rmap_pmd(struct page *head);

#endif /* UMM_HUGE_MEMORY_H */
