/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rmap.h - reverse mapping: the anon_vma a faulted private VMA's pages
 * belong to, and a file's i_mmap, the VMAs that map it.
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

/*
 * vma_link_file / vma_unlink_file - add @vma to (remove it from) its
 * file's i_mmap. A VMA is linked before it is published and unlinked
 * after it left the tree but before its page tables can be freed, so an
 * rmap walker holding i_mmap_rwsem always walks live tables.
 * Locking: mmap_lock (write) of the VMA's mm; takes i_mmap_rwsem (write).
 */
void vma_link_file(struct vm_area_struct *vma);
void vma_unlink_file(struct vm_area_struct *vma);

/*
 * unmap_mapping_range - clear every entry mapping file pages [first,
 * last] of @f in every address space (truncation, hole punch); anonymous
 * copies-on-write in private mappings go too only when @even_cows.
 * Locking: takes i_mmap_rwsem (read), then page-table locks; no mmap_lock.
 */
void unmap_mapping_range(struct umm_file *f, uint64_t first, uint64_t last,
			 bool even_cows);

/*
 * page_mkclean - write-protect and clean every shared mapping of the
 * cache page @page, flushing the TLBs, so that the next write faults.
 * Locking: @page locked; takes i_mmap_rwsem (read), then PTE locks.
 * Return: whether any mapping had written the page.
 */
bool page_mkclean(struct umm_file *f, struct page *page);

#endif /* UMM_RMAP_H */
