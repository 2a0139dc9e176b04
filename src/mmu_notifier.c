// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmu_notifier.c - umm_notifier_register and the invalidation calls.
 *
 * Registrations are rare and never removed before the mm goes, so the
 * list is guarded by a reader-writer lock: invalidations (readers) run
 * concurrently, a registration waits for them. An mm without notifiers
 * pays one relaxed load per invalidation.
 */
#include <errno.h>
#include <umm/umm.h>
#include "mmu_notifier.h"

struct mmu_notifier {
	const struct umm_notifier_ops *ops;	/* fixed */
	void *priv;				/* fixed */
	struct mmu_notifier *next;		/* notifier_lock (write) */
};

void mmu_notifier_mm_init(struct umm_mm *mm)
{
	pthread_rwlock_init(&mm->notifier_lock, NULL);
	mm->notifiers = NULL;
}

void mmu_notifier_mm_destroy(struct umm_mm *mm)
{
	struct mmu_notifier *n = mm->notifiers;

	while (n) {
		struct mmu_notifier *next = n->next;

		free(n);
		n = next;
	}
	pthread_rwlock_destroy(&mm->notifier_lock);
}

/* Locking: takes mm->notifier_lock for write (waits for running invalidations). */
__visible int umm_notifier_register(struct umm_mm *mm, const struct umm_notifier_ops *ops,
				    void *priv)
{
	struct mmu_notifier *n;

	if (!mm || !ops || (!ops->invalidate_range_start && !ops->invalidate_range_end))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->ops = ops;
	n->priv = priv;
	pthread_rwlock_wrlock(&mm->notifier_lock);
	n->next = mm->notifiers;
	smp_store_release(&mm->notifiers, n);
	pthread_rwlock_unlock(&mm->notifier_lock);
	return 0;
}

/* Locking: takes mm->notifier_lock for read around the callbacks. */
static void invalidate(struct umm_mm *mm, uint64_t start, uint64_t end, bool begin)
{
	if (!smp_load_acquire(&mm->notifiers))
		return;
	pthread_rwlock_rdlock(&mm->notifier_lock);
	for (struct mmu_notifier *n = mm->notifiers; n; n = n->next) {
		void (*fn)(void *, struct umm_mm *, uint64_t, uint64_t) =
			begin ? n->ops->invalidate_range_start : n->ops->invalidate_range_end;

		if (fn)
			fn(n->priv, mm, start, end);
	}
	pthread_rwlock_unlock(&mm->notifier_lock);
}

void mmu_notifier_invalidate_range_start(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	invalidate(mm, start, end, true);
}

void mmu_notifier_invalidate_range_end(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	invalidate(mm, start, end, false);
}
