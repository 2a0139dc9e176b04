/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rcu.h - the RCU primitives umm uses, under the kernel's names.
 *
 * Normally liburcu's bulletproof flavour: a library cannot ask its callers
 * to register threads, and urcu-bp registers a thread on its first read
 * lock. liburcu 0.13 is not TSan-annotated, so the TSan build
 * (UMM_RCU_STANDIN) swaps in rcu_standin.c: readers take the read side of
 * one rwlock, a grace period is a write lock + unlock, callbacks run on a
 * worker after one. Both give the same guarantees to the code above.
 *
 * The rest of umm uses only: rcu_read_lock/unlock, rcu_read_lock_held,
 * synchronize_rcu, call_rcu, rcu_barrier and struct rcu_head.
 */
#ifndef UMM_RCU_H
#define UMM_RCU_H

#include "compiler.h"

#ifndef UMM_RCU_STANDIN

/*
 * The inline read side (umm is LGPL as liburcu is), except under UBSan:
 * liburcu 0.13 allocates its reader records less aligned than their type
 * declares, which UBSan would flag in our objects; the out-of-line calls
 * keep that inside liburcu.
 */
#if !defined(_LGPL_SOURCE) && !defined(UMM_URCU_NO_INLINE)
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-bp.h>

static inline void rcu_read_lock(void) { urcu_bp_read_lock(); }
static inline void rcu_read_unlock(void) { urcu_bp_read_unlock(); }
static inline int rcu_read_lock_held(void) { return urcu_bp_read_ongoing(); }
static inline void synchronize_rcu(void) { urcu_bp_synchronize_rcu(); }
static inline void rcu_barrier(void) { urcu_bp_barrier(); }
static inline void call_rcu(struct rcu_head *head,
			    void (*func)(struct rcu_head *head))
{
	urcu_bp_call_rcu(head, func);
}

#else /* UMM_RCU_STANDIN */

struct rcu_head {
	struct rcu_head *next;
	void (*func)(struct rcu_head *head);
};

void rcu_read_lock(void);
void rcu_read_unlock(void);
int rcu_read_lock_held(void);
void synchronize_rcu(void);
void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void rcu_barrier(void);

#endif /* UMM_RCU_STANDIN */

/*
 * umm_rcu_init - once per process: makes sure pending callbacks run before
 * exit (rcu_barrier from atexit) and that a host fork() keeps RCU usable.
 */
void umm_rcu_init(void);

#endif /* UMM_RCU_H */
