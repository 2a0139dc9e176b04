// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vma_lock.c - per-VMA read locks for faults, write locks for mmap_lock
 * holders, as the kernel does them since 6.15: one reference count per VMA
 * (vm_refcnt) carries attachment, readers and a writer's exclusion; one
 * sequence number (vm_lock_seq against mm->mm_lock_seq) says whether the
 * VMA is write-locked in the current mmap_lock write cycle.
 *
 * A reader never waits: if the VMA is being written, it fails and the
 * fault falls back to mmap_lock. A writer waits for the readers already
 * inside to leave; they wake it through mm->vma_writer_wait (a futex on the
 * mm, which outlives any VMA, so a reader never touches a VMA it has just
 * released).
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "vma_lock.h"

static void futex_wait(uint32_t *uaddr, uint32_t val)
{
	syscall(SYS_futex, uaddr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(uint32_t *uaddr)
{
	syscall(SYS_futex, uaddr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Locking: none; the VMA is not yet visible to anyone. */
void vma_lock_init(struct vm_area_struct *vma, struct umm_mm *mm)
{
	vma->vm_mm = mm;
	vma->vm_refcnt = 0;
	vma->vm_lock_seq = VMA_NEVER_LOCKED;
}

static uint32_t refcnt_read(struct vm_area_struct *vma)
{
	return __atomic_load_n(&vma->vm_refcnt, __ATOMIC_ACQUIRE);
}

/* Increment unless 0 (detached) or at the limit (a writer is in). */
static bool refcnt_inc_not_zero_limited(struct vm_area_struct *vma, uint32_t *oldp)
{
	uint32_t old = __atomic_load_n(&vma->vm_refcnt, __ATOMIC_RELAXED);

	do {
		*oldp = old;
		if (old == 0 || old >= VMA_REF_LIMIT)
			return false;
	} while (!__atomic_compare_exchange_n(&vma->vm_refcnt, &old, old + 1, true,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

static bool is_vma_writer_only(uint32_t refcnt)
{
	return (refcnt & VMA_LOCK_OFFSET) && refcnt <= VMA_LOCK_OFFSET + 1;
}

/* Drop a reader's reference; wake a writer waiting for the last one. */
static void vma_refcount_put(struct vm_area_struct *vma)
{
	struct umm_mm *mm = vma->vm_mm;	/* read before the VMA may go */
	uint32_t newcnt = __atomic_sub_fetch(&vma->vm_refcnt, 1, __ATOMIC_RELEASE);

	if (is_vma_writer_only(newcnt)) {
		__atomic_fetch_add(&mm->vma_writer_wait, 1, __ATOMIC_SEQ_CST);
		futex_wake_all(&mm->vma_writer_wait);
	}
}

/*
 * Whether the lock value @v of a VMA belongs to the current mmap_lock
 * write cycle, i.e. whether the VMA is write-locked. Values only grow, so
 * a @v below one this thread already read from mm_lock_seq (*@seen) names
 * a cycle that had ended by then, and a VMA locked since would hold a
 * newer value: no need to read mm_lock_seq, the line that every mmap
 * cycle locking a VMA writes, and that a fault reading it would miss on
 * after each. Otherwise read it, and remember what it said.
 */
static inline bool vma_lock_seq_current(struct umm_mm *mm, uint64_t v, uint64_t *seen)
{
	uint64_t s;

	if (v == VMA_NEVER_LOCKED || v < *seen)
		return false;
	s = smp_load_acquire(&mm->mm_lock_seq);
	*seen = s;
	return v == s;
}

/*
 * vma_start_read_cached - try to read-lock @vma, found under RCU; *@seen
 * is a value mm_lock_seq of @mm had (0 if none is known), kept by the
 * caller between calls and updated here.
 * Locking: caller is inside rcu_read_lock() (keeps @vma's memory alive);
 *          never waits.
 * Return: @vma read-locked; NULL when it is write-locked or a writer is
 *         excluding readers (fall back to mmap_lock); VMA_DETACHED when it
 *         was removed from the tree meanwhile (look up again).
 */
struct vm_area_struct *vma_start_read_cached(struct umm_mm *mm,
					     struct vm_area_struct *vma,
					     uint64_t *seen)
{
	uint32_t old;

	VM_BUG_ON(!rcu_read_lock_held());
	/* Cheap early exit; the check that counts is after the increment. */
	if (vma_lock_seq_current(mm, READ_ONCE(vma->vm_lock_seq), seen))
		return NULL;
	if (!refcnt_inc_not_zero_limited(vma, &old))
		return old == 0 ? VMA_DETACHED : NULL;
	/*
	 * A writer that locked the VMA after our first check stored
	 * vm_lock_seq while it kept readers out, i.e. before our increment,
	 * which is an acquire: we see its store now. A writer that comes
	 * later waits for us.
	 */
	if (unlikely(vma_lock_seq_current(mm, READ_ONCE(vma->vm_lock_seq), seen))) {
		vma_refcount_put(vma);
		return NULL;
	}
	return vma;
}

/* As vma_start_read_cached, reading mm_lock_seq. Locking: as it. */
struct vm_area_struct *vma_start_read(struct umm_mm *mm, struct vm_area_struct *vma)
{
	uint64_t seen = 0;

	return vma_start_read_cached(mm, vma, &seen);
}

/* Locking: releases the read lock vma_start_read() took. */
void vma_end_read(struct vm_area_struct *vma)
{
	vma_refcount_put(vma);
}

/*
 * Keep new readers out and wait for those inside to leave, until only
 * the attach reference (or, when detaching, none) remains.
 * Return: false if the VMA is detached (nothing to wait for).
 */
static bool vma_enter_locked(struct vm_area_struct *vma, bool detaching)
{
	uint32_t target = VMA_LOCK_OFFSET + (detaching ? 0 : 1);
	struct umm_mm *mm = vma->vm_mm;
	uint32_t old = __atomic_load_n(&vma->vm_refcnt, __ATOMIC_RELAXED);

	do {
		if (old == 0)
			return false;
	} while (!__atomic_compare_exchange_n(&vma->vm_refcnt, &old,
					      old + VMA_LOCK_OFFSET, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	for (;;) {
		uint32_t w = __atomic_load_n(&mm->vma_writer_wait, __ATOMIC_SEQ_CST);

		if (refcnt_read(vma) == target)
			break;
		futex_wait(&mm->vma_writer_wait, w);
	}
	return true;
}

/* Return: true if the VMA is now detached (refcount 0). */
static bool vma_exit_locked(struct vm_area_struct *vma)
{
	return __atomic_sub_fetch(&vma->vm_refcnt, VMA_LOCK_OFFSET,
				  __ATOMIC_RELEASE) == 0;
}

/*
 * vma_start_write - write-lock @vma until mmap_lock is released: readers
 * inside are waited for, later ones fail.
 * Locking: mmap_lock held for write. May sleep.
 */
void vma_start_write(struct vm_area_struct *vma)
{
	struct umm_mm *mm = vma->vm_mm;
	uint64_t seq;
	bool locked;

	mmap_assert_write_locked(mm);
	if (READ_ONCE(vma->vm_lock_seq) == READ_ONCE(mm->mm_lock_seq))
		return;		/* only an odd value can be equal */
	seq = mm_lock_seq_begin(mm);
	locked = vma_enter_locked(vma, false);
	/* Readers are out (or the VMA is detached): publish the lock. */
	WRITE_ONCE(vma->vm_lock_seq, seq);
	if (locked)
		vma_exit_locked(vma);
}

/* Locking: mmap_lock held for write; @vma is going into the tree. */
void vma_mark_attached(struct vm_area_struct *vma)
{
	VM_BUG_ON(refcnt_read(vma) != 0);
	__atomic_store_n(&vma->vm_refcnt, 1, __ATOMIC_RELEASE);
}

/*
 * vma_mark_detached - @vma has left the tree; wait for readers that got a
 * transient reference (they will see it write-locked and let go).
 * Locking: mmap_lock held for write and @vma write-locked.
 */
void vma_mark_detached(struct vm_area_struct *vma)
{
	vma_assert_write_locked(vma);
	VM_BUG_ON(refcnt_read(vma) == 0);
	if (likely(__atomic_sub_fetch(&vma->vm_refcnt, 1, __ATOMIC_ACQ_REL) == 0))
		return;
	if (vma_enter_locked(vma, true)) {
		bool detached = vma_exit_locked(vma);

		VM_BUG_ON(!detached);
		(void)detached;
	}
}
