/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu_notifier.h - callbacks that keep a caller's own translations (an
 * emulator's TLB, a device's page tables) coherent with the mm: they run
 * before entries of a range go away or lose rights, and after.
 */
#ifndef UMM_MMU_NOTIFIER_H
#define UMM_MMU_NOTIFIER_H

#include "mm_types.h"

/*
 * Locking: the callers hold, from start to end, mmap_lock (read or write),
 * the lock of the VMA the range is in (a fault), or the i_mmap_rwsem of
 * the file it maps (truncation, retraction, the dirty-tracking helpers'
 * file walks): what mm_take_all_locks() takes. No spinlock. The callbacks
 * must not call back into umm for this mm, nor change the mappings of a
 * file being walked.
 */
void mmu_notifier_invalidate_range_start(struct umm_mm *mm, uint64_t start, uint64_t end);
void mmu_notifier_invalidate_range_end(struct umm_mm *mm, uint64_t start, uint64_t end);
void mmu_notifier_mm_init(struct umm_mm *mm);
void mmu_notifier_mm_destroy(struct umm_mm *mm);

#endif /* UMM_MMU_NOTIFIER_H */
