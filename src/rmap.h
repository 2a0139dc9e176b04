/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rmap.h - reverse mapping of anonymous memory: the anon_vma a faulted
 * private VMA's pages belong to.
 */
#ifndef UMM_RMAP_H
#define UMM_RMAP_H

#include "mm_types.h"

#define PAGE_MAPPING_ANON	0x1UL

struct anon_vma {
	struct anon_vma *root;		/* fixed; itself for a first-generation one */
	uint64_t refcount;		/* atomic: VMAs, pages in flight, children */
	struct rcu_head rcu;
};

struct anon_vma *get_anon_vma(struct anon_vma *av);
void put_anon_vma(struct anon_vma *av);

/*
 * anon_vma_prepare - give @vma an anon_vma before its first private page,
 * reusing a mergeable neighbour's so the two can still merge later.
 * Locking: mmap_lock held (read or write); the VMA read- or write-locked.
 * Return: 0 or -ENOMEM.
 */
int anon_vma_prepare(struct vm_area_struct *vma);

static inline void page_add_new_anon_rmap(struct page *page, struct vm_area_struct *vma,
					  uint64_t addr)
{
	WRITE_ONCE(page->mapping, (void *)((unsigned long)vma->anon_vma | PAGE_MAPPING_ANON));
	page->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	__atomic_store_n(&page->mapcount, 1, __ATOMIC_RELAXED);
}

static inline bool PageAnon(const struct page *page)
{
	return ((unsigned long)READ_ONCE(page->mapping)) & PAGE_MAPPING_ANON;
}

#endif /* UMM_RMAP_H */
