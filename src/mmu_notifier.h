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
 * Locking: the callers hold mmap_lock (read or write), or for the file
 * walks of the dirty-tracking helpers only the file's i_mmap_rwsem (read),
 * and no spinlock; the callbacks run under mm->notifier_lock (read) and
 * must not call back into umm for this mm, nor change the mappings of a
 * file being walked.
 */
void mmu_notifier_invalidate_range_start(struct umm_mm *mm, uint64_t start, uint64_t end);
void mmu_notifier_invalidate_range_end(struct umm_mm *mm, uint64_t start, uint64_t end);
void mmu_notifier_mm_init(struct umm_mm *mm);
void mmu_notifier_mm_destroy(struct umm_mm *mm);

#endif /* UMM_MMU_NOTIFIER_H */
