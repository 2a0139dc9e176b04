// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rmap.c - reverse mapping.
 *
 * anon_vmas: the object a private VMA's anonymous pages point at, shared
 * by neighbours that may merge (find_mergeable_anon_vma), so that merging
 * two faulted VMAs never strands a page.
 *
 * i_mmap: each file keeps the VMAs that map it in an interval tree keyed
 * by file page, so truncation, hole punches and writeback reach every
 * mapping of a page in every address space without any mmap_lock - the
 * walkers hold i_mmap_rwsem, which keeps each VMA's page tables alive
 * (a VMA leaves i_mmap before its tables may be freed).
 */
#include <errno.h>
#include "mm.h"
#include "rmap.h"
#include "filemap.h"
#include "memory.h"
#include "mmu_notifier.h"
#include "tlb.h"

struct anon_vma *get_anon_vma(struct anon_vma *av)
{
	if (av)
		atomic_add_return(&av->refcount, 1);
	return av;
}

static void anon_vma_free_rcu(struct rcu_head *head)
{
	struct anon_vma *av = container_of(head, struct anon_vma, rcu);

	if (av->root != av)
		put_anon_vma(av->root);	/* a fork's child kept its root alive */
	free(av);
}

/* The last reference goes after a grace period: rmap walkers use RCU. */
void put_anon_vma(struct anon_vma *av)
{
	if (av && atomic_add_return(&av->refcount, -1) == 0)
		call_rcu(&av->rcu, anon_vma_free_rcu);
}

/*
 * Could @a and @b (above it) share an anon_vma? As for merging, but the
 * rights may differ: an mprotect can still make them mergeable later.
 */
static bool anon_vma_compatible(const struct vm_area_struct *a,
				const struct vm_area_struct *b)
{
	return a->vm_end == b->vm_start && a->vm_file == b->vm_file &&
	       !((a->vm_flags ^ b->vm_flags) & ~(VM_ACCESS_FLAGS | VM_SOFTDIRTY)) &&
	       b->vm_pgoff == a->vm_pgoff + ((b->vm_start - a->vm_start) >> PAGE_SHIFT);
}

/* Locking: mmap_lock held, so the neighbours cannot change. */
static struct anon_vma *find_mergeable_anon_vma(struct vm_area_struct *vma)
{
	struct umm_mm *mm = vma->vm_mm;
	struct vm_area_struct *next = vma_next_of(mm, vma), *prev;
	struct anon_vma *av;

	/* a forked neighbour's anon_vma is its chain's: not to be joined */
	if (next && anon_vma_compatible(vma, next) && !next->anon_forked) {
		av = READ_ONCE(next->anon_vma);
		if (av)
			return av;
	}
	prev = vma_prev_of(mm, vma);
	if (prev && anon_vma_compatible(prev, vma) && !prev->anon_forked) {
		av = READ_ONCE(prev->anon_vma);
		if (av)
			return av;
	}
	return NULL;
}

int anon_vma_prepare(struct vm_area_struct *vma)
{
	struct umm_mm *mm = vma->vm_mm;
	struct anon_vma *av;
	bool fresh = false;

	if (likely(READ_ONCE(vma->anon_vma)))
		return 0;
	mmap_assert_locked(mm);
	av = find_mergeable_anon_vma(vma);
	if (!av) {
		av = calloc(1, sizeof(*av));
		if (!av)
			return -ENOMEM;
		av->root = av;
		av->refcount = 1;	/* the VMA's, once installed */
		fresh = true;
	}
	spin_lock(&mm->page_table_lock);
	if (!vma->anon_vma) {
		smp_store_release(&vma->anon_vma, fresh ? av : get_anon_vma(av));
		av = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (av && fresh)
		free(av);
	return 0;
}

/* ---- files: i_mmap ---- */

static struct vm_area_struct *shared_vma(struct itree_node *n)
{
	return container_of(n, struct vm_area_struct, shared);
}

void vma_link_file(struct vm_area_struct *vma)
{
	struct umm_file *f = vma->vm_file;

	if (!f)
		return;
	vma->shared.start = vma->vm_pgoff;
	vma->shared.last = vma->vm_pgoff + vma_pages(vma) - 1;
	down_write(&f->i_mmap_rwsem);
	itree_insert(&f->i_mmap, &vma->shared);
	up_write(&f->i_mmap_rwsem);
}

void vma_unlink_file(struct vm_area_struct *vma)
{
	struct umm_file *f = vma->vm_file;

	if (!f)
		return;
	down_write(&f->i_mmap_rwsem);
	itree_remove(&f->i_mmap, &vma->shared);
	up_write(&f->i_mmap_rwsem);
}

/* The addresses in @vma of file pages [first, last], clipped to it. */
static void vma_file_range(struct vm_area_struct *vma, uint64_t first, uint64_t last,
			   uint64_t *start, uint64_t *end)
{
	uint64_t lo = first > vma->vm_pgoff ? first : vma->vm_pgoff;
	uint64_t hi = last < vma->shared.last ? last : vma->shared.last;

	*start = vma->vm_start + ((lo - vma->vm_pgoff) << PAGE_SHIFT);
	*end = vma->vm_start + ((hi - vma->vm_pgoff + 1) << PAGE_SHIFT);
}

struct unmap_args {
	uint64_t first, last;
	bool even_cows;
};

static int unmap_one(struct itree_node *n, void *arg)
{
	struct unmap_args *a = arg;
	struct vm_area_struct *vma = shared_vma(n);
	struct zap_details details = {
		.skip_anon = !a->even_cows,
	};
	uint64_t start, end;

	vma_file_range(vma, a->first, a->last, &start, &end);
	zap_page_range_details(vma->vm_mm, start, end, &details);
	return 0;
}

void unmap_mapping_range(struct umm_file *f, uint64_t first, uint64_t last,
			 bool even_cows)
{
	struct unmap_args a = { first, last, even_cows };

	down_read(&f->i_mmap_rwsem);
	itree_for_each_overlap(&f->i_mmap, first, last, unmap_one, &a);
	up_read(&f->i_mmap_rwsem);
}

struct mkclean_args {
	struct page *page;
	bool dirty;
};

/* Clean the entry of one shared mapping. Locking: i_mmap_rwsem (read). */
static int mkclean_one(struct itree_node *n, void *arg)
{
	struct mkclean_args *a = arg;
	struct vm_area_struct *vma = shared_vma(n);
	struct umm_mm *mm = vma->vm_mm;
	uint64_t addr = vma->vm_start + ((a->page->index - vma->vm_pgoff) << PAGE_SHIFT);
	bool changed = false;
	spinlock_t *ptl;
	pte_t *pte;
	pmd_t *pmd;

	if (!(vma->vm_flags & VM_SHARED))
		return 0;	/* private mappings never write the cache page */
	mmu_notifier_invalidate_range_start(mm, addr, addr + PAGE_SIZE);
	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	pte = pmd ? pte_offset_map_lock(mm, pmd, addr, &ptl) : NULL;
	if (pte) {
		pte_t old = ptep_get(pte);

		if (pte_present(old) && pte_pfn(old) == page_to_pfn(a->page) &&
		    (pte_write(old) || pte_dirty(old))) {
			/* clear first: a lockless walker may be setting bits */
			old = ptep_get_and_clear(pte);
			a->dirty |= pte_dirty(old);
			set_pte(pte, __pte(pte_val(old) & ~(_PAGE_RW | _PAGE_DIRTY)));
			changed = true;
		}
		pte_unmap_unlock(pte, ptl);
	}
	rcu_read_unlock();
	/* writes through a translation cached before now finish first */
	if (changed)
		flush_tlb_mm_range(mm, addr, addr + PAGE_SIZE);
	mmu_notifier_invalidate_range_end(mm, addr, addr + PAGE_SIZE);
	return 0;
}

bool page_mkclean(struct umm_file *f, struct page *page)
{
	struct mkclean_args a = { page, false };

	down_read(&f->i_mmap_rwsem);
	itree_for_each_overlap(&f->i_mmap, page->index, page->index, mkclean_one, &a);
	up_read(&f->i_mmap_rwsem);
	return a.dirty;
}
