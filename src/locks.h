/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locks.h - the sleeping and spinning locks of umm, with owner tracking.
 *
 * spinlock_t is one 32-bit word holding the owner's thread id, so it fits
 * in a frame's metadata (the split page-table lock) and "held by me" can be
 * asserted cheaply in every build. Waiters spin briefly, then yield: a
 * userspace holder can be preempted, unlike a kernel one.
 *
 * struct rw_semaphore is mmap_lock's type: writer-preferring, so a stream
 * of faulting readers cannot starve munmap. The write owner is recorded for
 * assertions; readers are only counted.
 */
#ifndef UMM_LOCKS_H
#define UMM_LOCKS_H

#include <pthread.h>
#include <sched.h>
#include "compiler.h"

/* The calling thread's id (gettid), cached per thread; never 0. */
extern __thread uint32_t umm_tid_cache;
uint32_t umm_tid_slow(void);

static inline uint32_t umm_tid(void)
{
	uint32_t t = umm_tid_cache;

	return likely(t) ? t : umm_tid_slow();
}

typedef struct {
	uint32_t owner;		/* 0 when free, else the holder's tid */
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED	{ 0 }

static inline void spin_lock_init(spinlock_t *l)
{
	WRITE_ONCE(l->owner, 0);
}

void spin_lock_slow(spinlock_t *l, uint32_t me);

static inline bool spin_trylock(spinlock_t *l)
{
	uint32_t zero = 0;

	return __atomic_compare_exchange_n(&l->owner, &zero, umm_tid(), false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void spin_lock(spinlock_t *l)
{
	uint32_t zero = 0, me = umm_tid();

	if (likely(__atomic_compare_exchange_n(&l->owner, &zero, me, false,
					       __ATOMIC_ACQUIRE,
					       __ATOMIC_RELAXED)))
		return;
	spin_lock_slow(l, me);
}

static inline bool spin_is_locked(spinlock_t *l)
{
	return READ_ONCE(l->owner) != 0;
}

static inline bool spin_held_by_me(spinlock_t *l)
{
	return READ_ONCE(l->owner) == umm_tid();
}

static inline void spin_unlock(spinlock_t *l)
{
	VM_BUG_ON(!spin_held_by_me(l));
	smp_store_release(&l->owner, 0);
}

#define lockdep_assert_held(l)	VM_BUG_ON(!spin_held_by_me(l))

struct rw_semaphore {
	pthread_rwlock_t lock;
	uint32_t writer;	/* tid of the write holder, else 0 */
	int32_t readers;	/* read holders, for assertions */
};

void init_rwsem(struct rw_semaphore *sem);
void destroy_rwsem(struct rw_semaphore *sem);
void down_read(struct rw_semaphore *sem);
bool down_read_trylock(struct rw_semaphore *sem);
void up_read(struct rw_semaphore *sem);
void down_write(struct rw_semaphore *sem);
bool down_write_trylock(struct rw_semaphore *sem);
void up_write(struct rw_semaphore *sem);

static inline bool rwsem_is_write_locked_by_me(struct rw_semaphore *sem)
{
	return READ_ONCE(sem->writer) == umm_tid();
}

static inline bool rwsem_is_locked(struct rw_semaphore *sem)
{
	return READ_ONCE(sem->writer) || READ_ONCE(sem->readers);
}

#define rwsem_assert_write_held(s)	VM_BUG_ON(!rwsem_is_write_locked_by_me(s))
#define rwsem_assert_held(s)		VM_BUG_ON(!rwsem_is_locked(s))

#endif /* UMM_LOCKS_H */
