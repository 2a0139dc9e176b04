// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mm.c - creating and destroying address spaces, and their counters.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "memory.h"
#include "mm.h"
#include "rmap.h"
#include "tlb.h"
#include "mmu_notifier.h"
#include "huge_memory.h"

#define DEFAULT_MAX_MAP_COUNT	65530
#define DEFAULT_STACK_LIMIT	(8ull << 20)	/* _STK_LIM */

/*
 * Options are an extensible struct: a caller built against a newer umm
 * may pass a larger one, accepted when the fields we do not know are 0.
 */
static int copy_opts(struct umm_opts *o, const struct umm_opts *user)
{
	size_t size;

	memset(o, 0, sizeof(*o));
	if (!user)
		return 0;
	/*
	 * 0 means the struct as it first was: a caller built before a field
	 * was added must not have it read past its end.
	 */
	size = user->size ? user->size : offsetof(struct umm_opts, stack_limit);
	if (size < offsetof(struct umm_opts, flags) + sizeof(o->flags))
		return -EINVAL;
	if (size > sizeof(*o)) {
		const unsigned char *extra = (const unsigned char *)user + sizeof(*o);

		for (size_t i = 0; i < size - sizeof(*o); i++)
			if (extra[i])
				return -E2BIG;
		size = sizeof(*o);
	}
	memcpy(o, user, size);
	return 0;
}

static int check_opts(const struct umm_opts *o)
{
	if (o->pgtable_levels != 0 && o->pgtable_levels != 4 &&
	    o->pgtable_levels != 5)
		return -EINVAL;
	if (o->thp != UMM_THP_MADVISE && o->thp != UMM_THP_ALWAYS &&
	    o->thp != UMM_THP_NEVER)
		return -EINVAL;
	if (o->flags & ~(UMM_NO_PER_VMA_LOCK | UMM_NO_ZERO_PAGE))
		return -EINVAL;
	return 0;
}

__visible struct umm_mm *umm_mm_create(const struct umm_opts *user)
{
	struct umm_opts o;
	struct umm_mm *mm;
	int err;

	err = copy_opts(&o, user);
	if (!err)
		err = check_opts(&o);
	if (!err)
		err = page_alloc_init();
	if (err)
		goto fail;
	err = -ENOMEM;
	/* aligned: the layout keeps writers' and faults' lines apart */
	mm = aligned_alloc(64, sizeof(*mm));
	if (mm)
		memset(mm, 0, sizeof(*mm));
	if (!mm)
		goto fail;
	mm->pgtable_levels = o.pgtable_levels == 5 ? 5 : 4;
	mm->task_size = mm->pgtable_levels == 5 ? TASK_SIZE_L5 : TASK_SIZE_L4;
	mm->max_map_count = o.max_map_count ? o.max_map_count : DEFAULT_MAX_MAP_COUNT;
	mm->thp = o.thp;
	mm->stack_limit = o.stack_limit ? o.stack_limit : DEFAULT_STACK_LIMIT;
	mm->flags = o.flags;
	mm->quota = calloc(1, sizeof(*mm->quota));
	if (!mm->quota) {
		free(mm);
		goto fail;
	}
	mm->quota->limit = o.phys_limit ? o.phys_limit >> PAGE_SHIFT : QUOTA_UNLIMITED;
	mm->mmap_base = ALIGN_UP(DEFAULT_MAP_WINDOW - MMAP_BASE_GAP, PAGE_SIZE);
	if (mm->mmap_base > mm->task_size)
		mm->mmap_base = mm->task_size;
	vma_tree_init(&mm->mm_mt);
	tlb_mm_init(mm);
	mmu_notifier_mm_init(mm);
	init_rwsem(&mm->mmap_lock);
	spin_lock_init(&mm->page_table_lock);
	err = pgd_alloc(mm);
	if (err) {
		mmu_notifier_mm_destroy(mm);
		tlb_mm_destroy(mm);
		destroy_rwsem(&mm->mmap_lock);
		quota_orphan(mm->quota);
		free(mm);
		goto fail;
	}
	return mm;
fail:
	errno = -err;
	return NULL;
}

__visible void umm_mm_destroy(struct umm_mm *mm)
{
	if (!mm)
		return;
	struct vma_tree_iter it;
	struct vm_area_struct *vma;

	khugepaged_exit(mm);	/* before any lock: its thread may hold mmap_lock */
	mmap_write_lock(mm);
	/* rmap walkers (truncation, writeback) must stop finding this mm */
	vma_tree_iter_init(&it, &mm->mm_mt, 0);
	while ((vma = vma_tree_iter_next(&it, NULL, NULL)))
		vma_unlink_file(vma);
	/*
	 * Anonymous links stay until the entries are zapped: a walker that
	 * finds a page still mapped here relies on its anon_vma being alive.
	 * vm_area_free() unlinks them below, before the tables go.
	 */
	vma_tree_iter_init(&it, &mm->mm_mt, 0);
	while ((vma = vma_tree_iter_next(&it, NULL, NULL)))
		unmap_locked_vma(vma, vma->vm_start, vma->vm_end);
	unmap_range_pages(mm, 0, mm->task_size);
	vma_tree_iter_init(&it, &mm->mm_mt, 0);
	while ((vma = vma_tree_iter_next(&it, NULL, NULL)))
		vm_area_free(vma);	/* no reader is left: the caller stopped */
	vma_tree_destroy(&mm->mm_mt);
	free_pgtables(mm, 0, mm->task_size, 0, 0);
	pgd_free(mm);
	mmap_write_unlock(mm);
	/*
	 * Frames still charged (shared with a fork's child) keep the quota;
	 * deferred frees are let finish first so the count is current.
	 */
	rcu_barrier();
	quota_orphan(mm->quota);
	tlb_mm_destroy(mm);
	mmu_notifier_mm_destroy(mm);
	destroy_rwsem(&mm->mmap_lock);
	free(mm);
}

__visible int umm_vmstat(struct umm_mm *mm, FILE *out)
{
	struct page_alloc_stats st;
	uint64_t kh_pages, kh_scans;
	int r = 0;

	if (!mm || !out)
		return -EINVAL;
	page_alloc_get_stats(&st);
#define P(name, v) do { \
	if (fprintf(out, "%s %llu\n", name, (unsigned long long)(v)) < 0) \
		r = -EIO; \
} while (0)
	P("nr_page_table_pages", mm_stat_read(mm, MM_PGTABLE_PAGES));
	P("nr_mm_frames", quota_used(mm->quota));
	P("pgfault", mm_stat_read(mm, MM_PGFAULT));
	P("pte_map_retry", mm_stat_read(mm, MM_PTE_MAP_RETRY));
	P("pmd_bad", pmd_bad_seen());
	P("nr_vmas", READ_ONCE(mm->map_count));
	P("vma_lock_success", mm_stat_read(mm, MM_VMA_LOCK_SUCCESS));
	P("vma_lock_abort", mm_stat_read(mm, MM_VMA_LOCK_ABORT));
	P("vma_lock_retry", mm_stat_read(mm, MM_VMA_LOCK_RETRY));
	P("vma_lock_miss", mm_stat_read(mm, MM_VMA_LOCK_MISS));
	P("thp_fault_alloc", mm_stat_read(mm, MM_THP_FAULT_ALLOC));
	P("thp_fault_fallback", mm_stat_read(mm, MM_THP_FAULT_FALLBACK));
	P("thp_split_pmd", mm_stat_read(mm, MM_THP_SPLIT_PMD));
	P("thp_collapse_alloc", mm_stat_read(mm, MM_THP_COLLAPSE_ALLOC));
	P("thp_split_page", mm_stat_read(mm, MM_THP_SPLIT_PAGE));
	P("thp_deferred_split_page", mm_stat_read(mm, MM_THP_DEFERRED_SPLIT));
	P("thp_file_mapped", mm_stat_read(mm, MM_THP_FILE_MAPPED));
	P("thp_retract_page_tables", mm_stat_read(mm, MM_THP_RETRACT));
	khugepaged_stats(&kh_pages, &kh_scans);
	P("khugepaged_pages_collapsed", kh_pages);
	P("khugepaged_full_scans", kh_scans);
	P("nr_free_pages", st.free_pages);
	P("pgalloc_normal", st.pgalloc);
	P("pgfree", st.pgfree);
#undef P
	return r;
}
