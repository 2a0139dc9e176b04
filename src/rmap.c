// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rmap.c - anon_vmas: the object a private VMA's anonymous pages point at,
 * shared by neighbours that may merge (find_mergeable_anon_vma), so that
 * merging two faulted VMAs never strands a page.
 */
#include <errno.h>
#include "mm.h"
#include "rmap.h"

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
