// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmu_notifier.c - umm_notifier_register and the invalidation calls.
 *
 * Registrations are rare and never removed before the mm goes. A
 * registration holds every lock an invalidation runs under
 * (mm_take_all_locks), as the kernel's does: none is in progress while the
 * notifier is linked, so each one it sees starts and ends with it there,
 * and a registration made while entries are going away returns only once
 * they are gone. Invalidations read the list without a lock; an mm
 * without notifiers pays one load for each.
 */
#include <errno.h>
#include <umm/umm.h>
#include "mmu_notifier.h"
#include "mm.h"

struct mmu_notifier {
	const struct umm_notifier_ops *ops;	/* fixed */
	void *priv;				/* fixed */
	struct mmu_notifier *next;		/* fixed once linked */
};

void mmu_notifier_mm_init(struct umm_mm *mm)
{
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
}

/*
 * Locking: takes mmap_lock for write and all of mm_take_all_locks(): waits
 * for invalidations in progress (and faults).
 */
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
	mmap_write_lock(mm);
	if (mm_take_all_locks(mm)) {
		mmap_write_unlock(mm);
		free(n);
		return -ENOMEM;
	}
	n->next = mm->notifiers;
	smp_store_release(&mm->notifiers, n);
	mm_drop_all_locks(mm);
	mmap_write_unlock(mm);
	return 0;
}

/* Locking: as mmu_notifier.h says; no lock of the list's own. */
static void invalidate(struct umm_mm *mm, uint64_t start, uint64_t end, bool begin)
{
	for (struct mmu_notifier *n = smp_load_acquire(&mm->notifiers); n; n = n->next) {
		void (*fn)(void *, struct umm_mm *, uint64_t, uint64_t) =
			begin ? n->ops->invalidate_range_start : n->ops->invalidate_range_end;

		if (fn)
			fn(n->priv, mm, start, end);
	}
}

void mmu_notifier_invalidate_range_start(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	invalidate(mm, start, end, true);
}

void mmu_notifier_invalidate_range_end(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	invalidate(mm, start, end, false);
}
