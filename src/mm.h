/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mm.h - VMAs: the kernel's VM_* flags, lookups, and the edit machinery
 * every call that changes the VMA layout goes through (vma.c).
 */
#ifndef UMM_MM_H
#define UMM_MM_H

#include "mm_types.h"
#include "vma_lock.h"
#include "vma_tree.h"
#include "pgtable.h"

/* vm_flags, as the kernel's */
#define VM_NONE		0x00000000UL
#define VM_READ		0x00000001UL
#define VM_WRITE	0x00000002UL
#define VM_EXEC		0x00000004UL
#define VM_SHARED	0x00000008UL
#define VM_MAYREAD	0x00000010UL
#define VM_MAYWRITE	0x00000020UL
#define VM_MAYEXEC	0x00000040UL
#define VM_MAYSHARE	0x00000080UL
#define VM_GROWSDOWN	0x00000100UL
#define VM_PFNMAP	0x00000400UL
/*
 * Guard markers may be in the VMA's tables (MADV_GUARD_INSTALL): set on
 * the whole VMA, never cleared, kept through splits and merges; fork
 * copies such a VMA's tables (the host's 6.18 has the 6.19 flag: "gu").
 */
#define VM_MAYBE_GUARD	0x00000800UL
#define VM_LOCKED	0x00002000UL
#define VM_IO		0x00004000UL
#define VM_SEQ_READ	0x00008000UL
#define VM_RAND_READ	0x00010000UL
#define VM_DONTCOPY	0x00020000UL
#define VM_DONTEXPAND	0x00040000UL
#define VM_LOCKONFAULT	0x00080000UL
#define VM_ACCOUNT	0x00100000UL
#define VM_NORESERVE	0x00200000UL
#define VM_HUGETLB	0x00400000UL
#define VM_SYNC		0x00800000UL
#define VM_WIPEONFORK	0x02000000UL
#define VM_DONTDUMP	0x04000000UL
#define VM_SOFTDIRTY	0x08000000UL
#define VM_HUGEPAGE	0x20000000UL
#define VM_NOHUGEPAGE	0x40000000UL
#define VM_MERGEABLE	0x80000000UL
#define VM_DROPPABLE	(1UL << 40)
#define VM_SEALED	(1UL << 42)	/* mseal: see mseal.c */
/*
 * umm's own: a shared mapping of a file that tracks dirty pages (the
 * kernel's vma_wants_writenotify, kept in vm_page_prot there): clean
 * pages are mapped read-only so the first write faults and dirties them.
 * Never shown; follows the file, so it never stops a merge.
 */
#define VM_WRITENOTIFY	(1UL << 48)

#define VM_ACCESS_FLAGS	(VM_READ | VM_WRITE | VM_EXEC)
/* Flags a merge keeps if either side has them. */
#define VM_STICKY	VM_MAYBE_GUARD
/* Flags that do not stop two VMAs from merging. */
#define VM_IGNORE_MERGE	(VM_SOFTDIRTY | VM_STICKY)

#define STACK_GUARD_GAP	(256UL << PAGE_SHIFT)	/* stack_guard_gap */
#define MMAP_MIN_ADDR	65536UL			/* mmap_min_addr for hints */
#define MMAP_BASE_GAP	(128UL << 20)		/* MIN_GAP below the stack */
#define DEFAULT_MAP_WINDOW	((1UL << 47) - PAGE_SIZE)

struct anon_vma;

/*
 * A VMA linked to more anon_vmas than its own came from a fork: its pages
 * are shared along that chain, which an unrelated VMA must neither join
 * nor merge with (the kernel's list_is_singular() test).
 * Locking: mmap_lock; under mmap_lock (read), only once vma->anon_vma was
 * read with acquire (the chain is complete before it is published).
 */
static inline bool vma_anon_forked(const struct vm_area_struct *vma)
{
	return vma && !list_empty(&vma->anon_vma_chain) &&
	       !list_is_singular(&vma->anon_vma_chain);
}

static inline uint64_t vma_pages(const struct vm_area_struct *vma)
{
	return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
}

static inline bool vma_is_anonymous(const struct vm_area_struct *vma)
{
	return !vma->vm_file;
}

/* The lowest address a neighbour may reach up to: stacks keep a guard gap. */
static inline uint64_t vm_start_gap(const struct vm_area_struct *vma)
{
	uint64_t s = vma->vm_start;

	if ((vma->vm_flags & VM_GROWSDOWN) && s > STACK_GUARD_GAP)
		return s - STACK_GUARD_GAP;
	return (vma->vm_flags & VM_GROWSDOWN) ? 0 : s;
}

struct vm_area_struct *vm_area_alloc(struct umm_mm *mm);
void vm_area_free(struct vm_area_struct *vma);

/*
 * Lookups. Locking: mmap_lock held (read or write), or inside
 * rcu_read_lock() for a caller that re-checks what it found.
 */
struct vm_area_struct *find_vma(struct umm_mm *mm, uint64_t addr);
struct vm_area_struct *find_vma_prev(struct umm_mm *mm, uint64_t addr,
				     struct vm_area_struct **pprev);
struct vm_area_struct *vma_lookup(struct umm_mm *mm, uint64_t addr);
struct vm_area_struct *find_vma_intersection(struct umm_mm *mm, uint64_t start,
					     uint64_t end);
struct vm_area_struct *vma_prev_of(struct umm_mm *mm, struct vm_area_struct *vma);
struct vm_area_struct *vma_next_of(struct umm_mm *mm, struct vm_area_struct *vma);

/*
 * munmap_sealed - may [start, end) be unmapped (munmap, mmap over it,
 * mremap onto it)? 0, or -EPERM when a sealed VMA is in it, the first
 * VMA split at @start then as the kernel leaves it (-ENOMEM if that
 * split could not be made).
 * Locking: mmap_lock held for write.
 */
int munmap_sealed(struct umm_mm *mm, uint64_t start, uint64_t end);
/*
 * can_madvise_modify - may @behavior act on a VMA with @vm_flags
 * (anonymous: no file behind it)? Sealed private anonymous memory that
 * is not writable refuses the advice that discards data.
 */
bool can_madvise_modify(unsigned long vm_flags, bool anonymous, int behavior);

/*
 * lock_vma_under_rcu - find the VMA holding @addr and read-lock it,
 * without mmap_lock (seed 004).
 * Locking: takes and drops the RCU read lock; never waits.
 * Return: the VMA, read-locked (vma_end_read() when done), or NULL: no
 *         VMA there, or it is being changed; fall back to mmap_lock.
 */
struct vm_area_struct *lock_vma_under_rcu(struct umm_mm *mm, uint64_t addr);

/*
 * mm_take_all_locks - hold every lock an invalidation of @mm's entries
 * runs under, so that none is in progress (mmu notifier registration).
 * Locking: mmap_lock held for write, kept until after mm_drop_all_locks().
 * Return: 0, or -ENOMEM (nothing taken).
 */
int mm_take_all_locks(struct umm_mm *mm);
void mm_drop_all_locks(struct umm_mm *mm);


/*
 * struct vma_plan - one change of the VMA layout, computed on descriptions
 * and published at once.
 *
 * vma_plan_init() takes the VMAs overlapping a range (and, for merging,
 * the ones just before and after it), write-locks them, and describes
 * each; the caller splits, changes, deletes or inserts descriptions;
 * vma_plan_merge() merges neighbours as the kernel's vma_merge() would;
 * vma_plan_commit() turns the result into VMAs - a VMA whose description
 * did not change stays as it is - and swaps them into the tree in one
 * step, so a lockless reader sees the old layout or the new one. VMAs that
 * left are detached and freed after a grace period.
 * Locking: mmap_lock held for write throughout.
 */
struct vma_desc {
	uint64_t start, end, pgoff;
	unsigned long flags;
	struct umm_file *file;
	struct anon_vma *anon_vma;
	/* with anon_vma: a live VMA of it whose chain a new VMA here clones */
	struct vm_area_struct *chain;
	struct vm_area_struct *orig;	/* the VMA this describes, or NULL */
	bool touched;			/* changed or new: may merge */
	/*
	 * Grown in place by mremap: the kernel merges the added range with
	 * the next VMA as a new range carrying this one's anon_vma, with no
	 * VMA of its own whose fork history it asks (vma_merge_extend).
	 */
	bool grown;
};

#define VMA_PLAN_LOCAL	8	/* most changes touch a few VMAs: no malloc */

struct vma_plan {
	struct umm_mm *mm;
	struct vm_area_struct **orig;	/* the VMAs taken, in address order */
	size_t nr_orig, cap_orig;
	size_t nr_dead;			/* after commit: orig[0..nr_dead) removed */
	size_t nr_unlinked;		/* orig[0..nr_unlinked) out of i_mmap */
	/*
	 * Set by the caller: the new VMAs are a fresh mapping, nothing is
	 * moved into them after the commit. If the plan then removes no VMA,
	 * they are published unlocked (see vma_plan_commit).
	 */
	bool fresh;
	/*
	 * Set by the caller: the range the plan empties is zapped after the
	 * commit (munmap, MAP_FIXED), so the VMAs it removes stay in i_mmap
	 * until vma_plan_unlink_dead(). Otherwise the commit unlinks them,
	 * once their replacements are linked.
	 */
	bool zap_after;
	/*
	 * Merges vma_plan_modify() expects vma_plan_merge() to make: the
	 * kernel makes them at once, so later splits of the same call see
	 * a map count that many lower.
	 */
	size_t merges;
	struct vma_desc *d;		/* the new layout, in address order */
	size_t nr, cap;
	struct vm_area_struct *orig_local[VMA_PLAN_LOCAL];
	struct vma_desc d_local[VMA_PLAN_LOCAL];
};

int vma_plan_init(struct vma_plan *p, struct umm_mm *mm, uint64_t start,
		  uint64_t end, bool neighbours);
int vma_plan_init_for(struct vma_plan *p, struct umm_mm *mm,
		      const struct vma_desc *d);
/*
 * Free the plan; the VMAs a commit removed go to RCU here, their files put
 * now. Call it after zapping the removed range, so that a file's last
 * reference (and its writeback) sees every dirty bit the zap gathered.
 */
void vma_plan_release(struct vma_plan *p);
/*
 * vma_plan_unlink_dead - take the VMAs a zap_after commit removed out of
 * their files' i_mmap. Such a VMA stays there until its entries are
 * zapped (as the kernel unlinks in free_pgtables, after unmap_region):
 * writeback's page_mkclean must find a writable entry for as long as it
 * exists. Call it after the zap and before free_pgtables (vma_plan_release
 * calls it too, for a plan whose zap never came).
 * Locking: mmap_lock held for write; takes each file's i_mmap_rwsem.
 */
void vma_plan_unlink_dead(struct vma_plan *p);
/* Split the description holding @addr there. Return: 0, -ENOMEM. */
int vma_plan_split(struct vma_plan *p, uint64_t addr);
/*
 * Give [start, end), inside one description, @newflags, as vma_modify():
 * refused (-ENOMEM) at the map count limit split by split, a first split
 * staying when the second is refused. Return: 0, -ENOMEM.
 * Locking: mmap_lock held for write (as for the whole plan).
 */
int vma_plan_modify(struct vma_plan *p, uint64_t start, uint64_t end,
		    unsigned long newflags);
/* Index of the first description ending after @addr (nr if none). */
size_t vma_plan_find(struct vma_plan *p, uint64_t addr);
void vma_plan_delete(struct vma_plan *p, size_t i);
/* Delete descriptions [i, j) at once. */
void vma_plan_delete_range(struct vma_plan *p, size_t i, size_t j);
int vma_plan_insert(struct vma_plan *p, size_t i, const struct vma_desc *d);
void vma_plan_merge(struct vma_plan *p);
/* Return: 0, or -ENOMEM with nothing changed. */
int vma_plan_commit(struct vma_plan *p);
/* VMAs the plan would hold in the end minus those it took. */
static inline long vma_plan_count_delta(const struct vma_plan *p)
{
	return (long)p->nr - (long)p->nr_orig - (long)p->merges;
}

/*
 * desc_can_merge - may @a and @b (directly above it) become one VMA?
 * Same flags (soft-dirty aside), same file with contiguous offsets,
 * compatible anon_vmas, nothing special about either.
 */
bool desc_can_merge(const struct vma_desc *a, const struct vma_desc *b);

void free_pgtables_bounds(struct umm_mm *mm, uint64_t start, uint64_t end,
			  uint64_t *floor, uint64_t *ceiling);

/*
 * vma_supports_mlock - may a VMA with @vm_flags be mlocked? Not special
 * mappings, hugetlb, or droppable memory (which may lose its pages at any
 * time): mlock passes them over without an error, and mmap takes off the
 * VM_LOCKED that MAP_LOCKED or mlockall(MCL_FUTURE) gave them, as the
 * kernel's vma_supports_mlock().
 */
static inline bool vma_supports_mlock(unsigned long vm_flags)
{
	return !(vm_flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_HUGETLB | VM_DROPPABLE));
}

/*
 * PG_mlocked (mlock.c): a folio that a VM_LOCKED VMA maps is mlocked, and
 * counts such mappings in its mlock_count (mm_types.h), as the kernel's
 * folio on the unevictable list does. The flag is what MADV_FREE and
 * MADV_PAGEOUT of another, unlocked mapping of the folio test.
 * mlock_folio - one more mapping of a VM_LOCKED VMA: mlocked, counted.
 * munlock_folio - one fewer: the flag goes with the count's last one (or
 *                 at once when the count is 0, as after a split).
 * Locking: none of their own (one compare-and-swap of @head's flags);
 *          callers hold the PTE or PMD lock of the mapping they count.
 */
void mlock_folio(struct page *head);
void munlock_folio(struct page *head);

static inline bool folio_test_mlocked(const struct page *head)
{
	return test_bit_page(PG_mlocked, head);
}

/*
 * A small folio just mapped into @vma: mlocked if the VMA is locked, as
 * the kernel's rmap does it for small folios only (a large one only by
 * the mlock walk, when a VMA maps it whole). A new folio is mlocked
 * whatever its size (the kernel's mlock_new_folio).
 * Locking: the PTE (or PMD) lock of the new entry held.
 */
static inline void mlock_vma_folio(struct page *head, const struct vm_area_struct *vma)
{
	if ((READ_ONCE(vma->vm_flags) & VM_LOCKED) && !PageHead(head))
		mlock_folio(head);
}

static inline void mlock_new_folio(struct page *head, const struct vm_area_struct *vma)
{
	if (READ_ONCE(vma->vm_flags) & VM_LOCKED)
		mlock_folio(head);
}

/* A mapping of @vma's went: munlock_folio if it counted. Locking: as above. */
static inline void munlock_vma_folio(struct page *head, const struct vm_area_struct *vma)
{
	if (READ_ONCE(vma->vm_flags) & VM_LOCKED)
		munlock_folio(head);
}
int do_munmap(struct umm_mm *mm, uint64_t start, uint64_t len);
/*
 * populate_vma_page_range - fault [start, end) of @vma in, as mlock and
 * MAP_POPULATE do: private writable memory with write faults (so it is
 * this mm's own), the rest with read faults, forced where the VMA allows
 * any access (PROT_NONE fails); entries already there are touched, as
 * FOLL_TOUCH does. Nothing for VM_LOCKONFAULT.
 * Locking: mmap_lock held. Return: 0, -EFAULT (PROT_NONE, or a fault that
 * would raise a signal), -ENOMEM.
 */
int populate_vma_page_range(struct vm_area_struct *vma, uint64_t start, uint64_t end);
/*
 * __mm_populate - populate_vma_page_range over the VMAs in [start, start
 * + len), holes and VM_IO/VM_PFNMAP skipped; a failing VMA ends it, or
 * with @ignore_errors is left for the next. mm_populate - the latter
 * (MAP_POPULATE, MAP_LOCKED, mlockall).
 * Locking: takes mmap_lock for read. Return: 0 or the first error.
 */
int __mm_populate(struct umm_mm *mm, uint64_t start, uint64_t len, bool ignore_errors);
void mm_populate(struct umm_mm *mm, uint64_t start, uint64_t len);
/* vm_get_page_prot - the entry bits for pages of a VMA with @vm_flags. */
pgprot_t vm_get_page_prot(unsigned long vm_flags);
long change_protection(struct umm_mm *mm, uint64_t start, uint64_t end,
		       unsigned long vm_flags);
/*
 * mmap_insert_range - map [addr, addr + len) as described by @d (a range
 * known to be free), merging with neighbours. Locking: mmap_lock (write).
 */
int mmap_insert_range(struct umm_mm *mm, const struct vma_desc *d);
/*
 * expand_downwards - grow @vma (VM_GROWSDOWN) down to the page holding
 * @addr, as a fault below a stack does. The old VMA is replaced.
 * Locking: mmap_lock held for write.
 * Return: 0; -EFAULT not a stack; -EPERM below mmap_min_addr; -ENOMEM
 *         the guard gap, the stack limit, or no memory.
 */
int expand_downwards(struct vm_area_struct *vma, uint64_t addr);
uint64_t get_unmapped_area(struct umm_mm *mm, uint64_t addr, uint64_t len,
			   uint64_t pgoff, int flags, struct umm_file *file, int *err);

#endif /* UMM_MM_H */
