// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rcu.c - process-wide RCU set-up, and the TSan stand-in for liburcu.
 *
 * The stand-in exists only because liburcu 0.13 carries no TSan
 * annotations: TSan would report every RCU-deferred free as a race. It is
 * deliberately simple and slow; correctness of umm's own protocols is what
 * the TSan build is for.
 */
#include <pthread.h>
#include "rcu.h"

#ifdef UMM_RCU_STANDIN

/*
 * Readers nest through a per-thread count so that only the outermost
 * rcu_read_lock() touches the rwlock. glibc's default rwlock lets a reader
 * in while a writer waits, so a reader never blocks behind synchronize_rcu
 * (as with real RCU, rcu_read_lock() must not be able to deadlock).
 */
static pthread_rwlock_t gp_lock = PTHREAD_RWLOCK_INITIALIZER;
static __thread int read_nesting;

void rcu_read_lock(void)
{
	if (read_nesting++ == 0)
		pthread_rwlock_rdlock(&gp_lock);
}

void rcu_read_unlock(void)
{
	BUG_ON(read_nesting <= 0);
	if (--read_nesting == 0)
		pthread_rwlock_unlock(&gp_lock);
}

int rcu_read_lock_held(void)
{
	return read_nesting > 0;
}

void synchronize_rcu(void)
{
	BUG_ON(read_nesting);
	pthread_rwlock_wrlock(&gp_lock);
	pthread_rwlock_unlock(&gp_lock);
}

/* Callback queue: guarded by cb_lock; the worker runs batches. */
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cb_done = PTHREAD_COND_INITIALIZER;
static struct rcu_head *cb_head, **cb_tail = &cb_head;
static uint64_t cb_queued, cb_completed;	/* cb_lock */
static bool worker_started;			/* cb_lock */

static void *rcu_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cb_lock);
	for (;;) {
		while (!cb_head)
			pthread_cond_wait(&cb_cond, &cb_lock);
		struct rcu_head *list = cb_head;
		uint64_t n = 0;

		cb_head = NULL;
		cb_tail = &cb_head;
		pthread_mutex_unlock(&cb_lock);
		synchronize_rcu();
		while (list) {
			struct rcu_head *next = list->next;

			list->func(list);
			list = next;
			n++;
		}
		pthread_mutex_lock(&cb_lock);
		cb_completed += n;
		pthread_cond_broadcast(&cb_done);
	}
	return NULL;
}

void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	head->func = func;
	head->next = NULL;
	pthread_mutex_lock(&cb_lock);
	if (!worker_started) {
		pthread_t t;
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		BUG_ON(pthread_create(&t, &attr, rcu_worker, NULL));
		pthread_attr_destroy(&attr);
		worker_started = true;
	}
	*cb_tail = head;
	cb_tail = &head->next;
	cb_queued++;
	pthread_cond_signal(&cb_cond);
	pthread_mutex_unlock(&cb_lock);
}

void rcu_barrier(void)
{
	BUG_ON(read_nesting);
	pthread_mutex_lock(&cb_lock);
	uint64_t target = cb_queued;

	while (cb_completed < target)
		pthread_cond_wait(&cb_done, &cb_lock);
	pthread_mutex_unlock(&cb_lock);
}

static void rcu_atfork_prepare(void) { }
static void rcu_atfork_parent(void) { }
static void rcu_atfork_child(void) { }

#else /* liburcu-bp */

static void rcu_atfork_prepare(void)
{
	urcu_bp_call_rcu_before_fork();
	urcu_bp_before_fork();
}

static void rcu_atfork_parent(void)
{
	urcu_bp_after_fork_parent();
	urcu_bp_call_rcu_after_fork_parent();
}

static void rcu_atfork_child(void)
{
	urcu_bp_after_fork_child();
	urcu_bp_call_rcu_after_fork_child();
}

#endif /* UMM_RCU_STANDIN */

static void rcu_exit_barrier(void)
{
	/* exit() from inside a read-side section would wait on itself. */
	if (!rcu_read_lock_held())
		rcu_barrier();
}

static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;

static void rcu_init_once(void)
{
	atexit(rcu_exit_barrier);
	pthread_atfork(rcu_atfork_prepare, rcu_atfork_parent, rcu_atfork_child);
}

void umm_rcu_init(void)
{
	pthread_once(&rcu_once, rcu_init_once);
}
