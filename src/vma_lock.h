/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vma_lock.h - mmap_lock and the per-VMA locks (seed 004).
 *
 * A page fault read-locks just the VMA it needs, found under RCU, instead
 * of taking mmap_lock; writers, which hold mmap_lock for write, write-lock
 * every VMA whose fields a fault reads before changing it. Write locks are
 * dropped all at once when mmap_lock is released (mm_lock_seq moves on).
 */
#ifndef UMM_VMA_LOCK_H
#define UMM_VMA_LOCK_H

#include "mm_types.h"

#define VMA_LOCK_OFFSET	0x40000000u
#define VMA_REF_LIMIT	(VMA_LOCK_OFFSET - 1)
/* vm_lock_seq of a VMA no cycle locked yet: never equal to mm_lock_seq */
#define VMA_NEVER_LOCKED	UINT64_MAX

/* vma_start_read()'s answer when the VMA was detached: look it up again. */
#define VMA_DETACHED	((struct vm_area_struct *)-1L)

/*
 * How many mmap_locks (of any mm) this thread holds: the last reference
 * to an open that goes under one is put when the thread has let go of
 * them all (fput), as the kernel defers its fput to the return to user
 * space. Owner only.
 */
extern __thread unsigned int mmap_lock_depth;
extern __thread bool fput_pending;
void deferred_fput_run(void);

static inline void mmap_lock_taken(void)
{
	mmap_lock_depth++;
}

static inline void mmap_lock_released(void)
{
	if (!--mmap_lock_depth && unlikely(fput_pending))
		deferred_fput_run();
}

static inline void mmap_read_lock(struct umm_mm *mm)
{
	down_read(&mm->mmap_lock);
	mmap_lock_taken();
}

static inline bool mmap_read_trylock(struct umm_mm *mm)
{
	if (!down_read_trylock(&mm->mmap_lock))
		return false;
	mmap_lock_taken();
	return true;
}

static inline void mmap_read_unlock(struct umm_mm *mm)
{
	up_read(&mm->mmap_lock);
	mmap_lock_released();
}

static inline void mm_lock_seq_bump(struct umm_mm *mm)
{
	/* release: a reader that sees the new value sees what came before */
	smp_store_release(&mm->mm_lock_seq, READ_ONCE(mm->mm_lock_seq) + 1);
}

/*
 * mm_lock_seq_begin - the (odd) value that write-locks a VMA in this
 * mmap_lock write cycle. The kernel makes it odd when it takes mmap_lock;
 * umm does so only when the cycle first write-locks a VMA, and evens it
 * again at release only then: a cycle that locks no VMA (an mmap into a
 * gap, say) leaves the line that every fault reads untouched, so faults
 * beside it do not miss on it. What a VMA lock means is the same.
 * Locking: mmap_lock held for write.
 */
static inline uint64_t mm_lock_seq_begin(struct umm_mm *mm)
{
	uint64_t seq = READ_ONCE(mm->mm_lock_seq);

	if (!(seq & 1))
		smp_store_release(&mm->mm_lock_seq, ++seq);
	return seq;
}

static inline void mmap_write_lock(struct umm_mm *mm)
{
	down_write(&mm->mmap_lock);
	mmap_lock_taken();
}

static inline void mmap_write_unlock(struct umm_mm *mm)
{
	if (READ_ONCE(mm->mm_lock_seq) & 1)
		mm_lock_seq_bump(mm);	/* every VMA lock of the cycle goes */
	up_write(&mm->mmap_lock);
	mmap_lock_released();
}

static inline void mmap_assert_write_locked(struct umm_mm *mm)
{
	rwsem_assert_write_held(&mm->mmap_lock);
}

static inline void mmap_assert_locked(struct umm_mm *mm)
{
	rwsem_assert_held(&mm->mmap_lock);
}

static inline bool vma_is_write_locked(struct vm_area_struct *vma)
{
	return READ_ONCE(vma->vm_lock_seq) == READ_ONCE(vma->vm_mm->mm_lock_seq);
}

#define vma_assert_write_locked(vma) VM_BUG_ON(!vma_is_write_locked(vma))

void vma_lock_init(struct vm_area_struct *vma, struct umm_mm *mm);
struct vm_area_struct *vma_start_read(struct umm_mm *mm, struct vm_area_struct *vma);
struct vm_area_struct *vma_start_read_cached(struct umm_mm *mm,
					     struct vm_area_struct *vma,
					     uint64_t *seen);
void vma_end_read(struct vm_area_struct *vma);
void vma_start_write(struct vm_area_struct *vma);
void vma_mark_attached(struct vm_area_struct *vma);
void vma_mark_detached(struct vm_area_struct *vma);

#endif /* UMM_VMA_LOCK_H */
