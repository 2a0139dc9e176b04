// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * locks.c - slow paths of spinlock_t and the rw_semaphore behind mmap_lock.
 */
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "locks.h"

__thread uint32_t umm_tid_cache;

static void tid_atfork_child(void)
{
	umm_tid_cache = 0;	/* the child's thread has a new id */
}

static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

static void tid_init_once(void)
{
	pthread_atfork(NULL, NULL, tid_atfork_child);
}

uint32_t umm_tid_slow(void)
{
	pthread_once(&tid_once, tid_init_once);
	umm_tid_cache = (uint32_t)syscall(SYS_gettid);
	return umm_tid_cache;
}

/*
 * Contended path: spin on a plain load (no cache-line ping-pong), and yield
 * after a while, because the holder may have been preempted by the host.
 */
void spin_lock_slow(spinlock_t *l, uint32_t me)
{
	unsigned int spins = 0;

	VM_BUG_ON(READ_ONCE(l->owner) == me);	/* recursive: self-deadlock */
	for (;;) {
		uint32_t zero = 0;

		if (!READ_ONCE(l->owner) &&
		    __atomic_compare_exchange_n(&l->owner, &zero, me, false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		if (++spins < 128)
			cpu_relax();
		else
			sched_yield();
	}
}

void init_rwsem(struct rw_semaphore *sem)
{
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sem->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	sem->writer = 0;
	sem->readers = 0;
}

void destroy_rwsem(struct rw_semaphore *sem)
{
	VM_BUG_ON(rwsem_is_locked(sem));
	pthread_rwlock_destroy(&sem->lock);
}

/*
 * Optimistic spinning, as the kernel's rwsem does while a writer owns it
 * and runs: a map or an unmap holds mmap_lock for a few hundred ns, where
 * going to sleep on the futex and being woken costs microseconds (tens on
 * a VM, where each wake is an IPI). So a contender facing a writer first
 * watches the lock, with plain loads, for up to RWSEM_SPIN_NS, and takes
 * it with a trylock as soon as it looks free; it sleeps after that.
 * - Userspace cannot see whether the holder is on a CPU, as the kernel
 *   does; the bound is what limits the waste when it is not. It is a time,
 *   not a count of PAUSEs, which take 20 ns on one CPU and 140 cycles on
 *   another.
 * - A writer facing readers does not spin: readers may be many and hold
 *   the lock long, and only a queued writer holds back new ones (writer
 *   preference, so that faults cannot starve munmap). A spinner is not
 *   queued; a reader's trylock fails while a writer is.
 * - Not under TSan, which learns lock order only from blocking
 *   acquisitions: there every contender blocks at once.
 * Locking: takes @sem (read, or write with @write) on success.
 * Return: true when taken.
 */
#define RWSEM_SPIN_NS	40000

static uint64_t rwsem_clock(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static bool rwsem_spin(struct rw_semaphore *sem, bool write)
{
	uint64_t deadline = 0;

	if (UMM_TSAN)
		return false;
	for (unsigned int i = 0;; i++) {
		if (!READ_ONCE(sem->writer)) {
			if (write && READ_ONCE(sem->readers))
				return false;
			if (!(write ? pthread_rwlock_trywrlock(&sem->lock) :
				      pthread_rwlock_tryrdlock(&sem->lock)))
				return true;
		}
		if (!(i & 15)) {
			uint64_t now = rwsem_clock();

			if (!deadline)
				deadline = now + RWSEM_SPIN_NS;
			else if (now >= deadline)
				return false;
		}
		cpu_relax();
	}
}

void down_read(struct rw_semaphore *sem)
{
	VM_BUG_ON(rwsem_is_write_locked_by_me(sem));
	if (!rwsem_spin(sem, false))
		pthread_rwlock_rdlock(&sem->lock);
	atomic_fetch_add_relaxed(&sem->readers, 1);
}

bool down_read_trylock(struct rw_semaphore *sem)
{
	if (pthread_rwlock_tryrdlock(&sem->lock))
		return false;
	atomic_fetch_add_relaxed(&sem->readers, 1);
	return true;
}

void up_read(struct rw_semaphore *sem)
{
	VM_BUG_ON(READ_ONCE(sem->readers) <= 0);
	atomic_fetch_add_relaxed(&sem->readers, -1);
	pthread_rwlock_unlock(&sem->lock);
}

void down_write(struct rw_semaphore *sem)
{
	VM_BUG_ON(rwsem_is_write_locked_by_me(sem));
	if (!rwsem_spin(sem, true))
		pthread_rwlock_wrlock(&sem->lock);
	WRITE_ONCE(sem->writer, umm_tid());
}

bool down_write_trylock(struct rw_semaphore *sem)
{
	if (pthread_rwlock_trywrlock(&sem->lock))
		return false;
	WRITE_ONCE(sem->writer, umm_tid());
	return true;
}

void up_write(struct rw_semaphore *sem)
{
	VM_BUG_ON(!rwsem_is_write_locked_by_me(sem));
	WRITE_ONCE(sem->writer, 0);
	pthread_rwlock_unlock(&sem->lock);
}
