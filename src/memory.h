/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memory.h - the fault and zap layer's internal interface.
 */
#ifndef UMM_MEMORY_H
#define UMM_MEMORY_H

#include "pgtable.h"

/*
 * unmap_page_range - clear every entry mapping [addr, end) and drop the
 * frame references they held. Huge leaves inside the range go whole.
 * Locking: mmap_lock held (write, or read with the range's VMAs
 *          write-locked); takes the page-table locks itself.
 */
void unmap_page_range(struct umm_mm *mm, uint64_t addr, uint64_t end);

#endif /* UMM_MEMORY_H */
