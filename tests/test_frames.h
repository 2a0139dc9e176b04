/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_frames.h - the end check of tests that count frames: every frame
 * and page table they took is back in the allocator once a grace period
 * has passed, and nothing waits for one.
 */
#ifndef UMM_TEST_FRAMES_H
#define UMM_TEST_FRAMES_H

#include "page_alloc.h"
#include "test.h"

static inline void check_frames_back(const struct page_alloc_stats *before)
{
	struct page_alloc_stats after;

	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before->in_use_pages);
	CHECK_EQ(after.pgtable_pages, before->pgtable_pages);
	CHECK_EQ(after.rcu_pending_pages, 0);
}

#endif /* UMM_TEST_FRAMES_H */
