/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rmap.h - reverse mapping: the anon_vma a faulted private VMA's pages
 * belong to, and a file's i_mmap, the VMAs that map it.
 */
#ifndef UMM_RMAP_H
#define UMM_RMAP_H

#include "mm_types.h"

#define PAGE_MAPPING_ANON	0x1UL

/*
 * The pages first faulted into one private VMA (and the VMAs split or
 * merged from it) point at its anon_vma; a fork gives the child's VMA a new
 * anon_vma whose root is the parent's root. An anon_vma's tree holds a link
 * (anon_vma_chain) to every VMA that may map one of its pages - the VMAs
 * sharing it and every fork descendant's - keyed by page offset, so that
 * rmap_walk_anon finds every mapping of a page. Freed after a grace
 * period: a walker finds it through page->mapping under RCU.
 */
struct anon_vma {
	struct anon_vma *root;		/* fixed; itself for a first-generation one */
	struct anon_vma *parent;	/* fixed; the one a fork made it under; a root's own */
	uint64_t refcount;		/* atomic: VMAs, chain links, children, walkers */
	/*
	 * What a fork's reuse looks at (anon_vma_fork): how many anon_vmas
	 * forks made under this one that some VMA still links, plus one for
	 * a root's own while linked; and how many VMAs have it as their
	 * anon_vma. Atomic: a claim for reuse takes the second from 0 to 1.
	 */
	uint64_t num_children;
	uint64_t num_active_vmas;
	/* the root's: guards the trees of every anon_vma of its family */
	struct rw_semaphore rwsem;
	/* a root's: its rwsem held by mm_take_all_locks; mm_all_locks_mutex */
	bool mm_all_locks;
	struct itree_root rb_root;	/* anon_vma_chain.rb; root->rwsem */
	struct rcu_head rcu;
};

/* The link between one VMA and one anon_vma whose pages it may map. */
struct anon_vma_chain {
	struct vm_area_struct *vma;	/* fixed */
	struct anon_vma *anon_vma;	/* fixed; holds a reference */
	struct list_head same_vma;	/* vma->anon_vma_chain, as that list */
	struct itree_node rb;		/* anon_vma->rb_root: root->rwsem */
	bool linked;			/* in rb_root; root->rwsem */
};

struct anon_vma *get_anon_vma(struct anon_vma *av);
void put_anon_vma(struct anon_vma *av);
/* Count a VMA in (out of) @av's num_active_vmas; NULL: none. Locking: none. */
void anon_vma_active_inc(struct anon_vma *av);
void anon_vma_active_dec(struct anon_vma *av);

/*
 * anon_vma_clone - link @dst to every anon_vma @src is linked to (a split
 * piece, a merged or moved VMA). The links are not yet in the anon_vmas'
 * trees: anon_vma_publish() puts them there once @dst is published.
 * Locking: mmap_lock (write). Return: 0, or -ENOMEM with @dst unlinked.
 */
int anon_vma_clone(struct vm_area_struct *dst, struct vm_area_struct *src);

/*
 * anon_vma_fork - the child's copy @vma of the parent's @pvma: linked to
 * every anon_vma of @pvma, and to a new anon_vma of its own (same root),
 * all in the trees, so that the pages the two share are found from both.
 * Locking: the parent's mmap_lock (write); @vma not yet published.
 * Return: 0, or -ENOMEM with @vma unlinked.
 */
int anon_vma_fork(struct vm_area_struct *vma, struct vm_area_struct *pvma);

/*
 * anon_vma_swap - make the trees show the @nnew VMAs just published and no
 * longer those of @old (@nold VMAs that left the mm tree) that share a
 * root with one of them, in one step per root, so a walker sees either a
 * split piece or the VMA it came from, never both. Links of @old under
 * other roots stay until unlink_anon_vmas (after their entries are zapped).
 * Locking: mmap_lock (write); takes each root's rwsem (write).
 */
void anon_vma_swap(struct vm_area_struct **new, size_t nnew,
		   struct vm_area_struct **old, size_t nold);

/*
 * unlink_anon_vmas - drop every link of @vma (out of the trees first if it
 * is in them) and the anon_vmas' references.
 * Locking: mmap_lock (write), or @vma never published; takes root rwsems.
 */
void unlink_anon_vmas(struct vm_area_struct *vma);

/*
 * rmap_walk_anon - call @rmap_one for every VMA that may map the
 * anonymous @page, with the address the page would have there, until it
 * returns false. @rmap_one checks the page table itself (under its lock).
 * Locking: takes RCU and the anon_vma root's rwsem (read): no mmap_lock,
 * so callable from any thread; @rmap_one must not take mmap_lock.
 * Return: false when the page has no anon_vma or is no longer mapped.
 */
bool rmap_walk_anon(struct page *page,
		    bool (*rmap_one)(struct page *page, struct vm_area_struct *vma,
				     uint64_t addr, void *arg),
		    void *arg);

/*
 * page_mapped_in_vma - whether @vma's entry for @addr maps @page now
 * (a PTE, or a PMD leaf mapping its folio).
 * Locking: takes RCU and the PTE lock, or the PMD lock for a leaf.
 */
bool page_mapped_in_vma(struct page *page, struct vm_area_struct *vma, uint64_t addr);

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
	/* set by a racing anon_vma_prepare (release): see it whole */
	struct anon_vma *av = smp_load_acquire(&vma->anon_vma);

	page->index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	WRITE_ONCE(page->mapping, (void *)((unsigned long)av | PAGE_MAPPING_ANON));
	/* rmap_walk_anon reads mapcount with acquire, then mapping and index */
	__atomic_store_n(&page->mapcount, 1, __ATOMIC_RELEASE);
}

static inline bool PageAnon(const struct page *page)
{
	return ((unsigned long)READ_ONCE(page->mapping)) & PAGE_MAPPING_ANON;
}

/*
 * Mapcounts. A small page counts its mappings in ->mapcount. A large
 * folio (a THP) counts each page's PTE mappings in that page's
 * ->mapcount, its PMD mappings in page[1].entire_mapcount, and all of
 * them in page[1].large_mapcount, as the kernel's folio does. Every
 * mapping, PTE or PMD, also holds one reference on the folio's head.
 * Changed under the PTE or PMD lock of the mapping; read locklessly.
 */
static inline int folio_entire_mapcount(struct page *head)
{
	return __atomic_load_n(&head[1].entire_mapcount, __ATOMIC_RELAXED);
}

/* Return: how many entries map some page of @head's folio. */
static inline int folio_mapcount(struct page *head)
{
	if (PageHead(head))
		return __atomic_load_n(&head[1].large_mapcount, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&head->mapcount, __ATOMIC_ACQUIRE);
}

/* Return: how many entries map @page itself (its PTEs and its folio's PMDs). */
static inline int page_mapcount(struct page *page)
{
	struct page *head = compound_head(page);
	int n = __atomic_load_n(&page->mapcount, __ATOMIC_RELAXED);

	return PageHead(head) ? n + folio_entire_mapcount(head) : n;
}

/* One more PTE maps @page (fork, fault-around, split). */
static inline void page_dup_rmap_pte(struct page *page)
{
	struct page *head = compound_head(page);

	__atomic_fetch_add(&page->mapcount, 1, __ATOMIC_RELAXED);
	if (PageHead(head))
		__atomic_fetch_add(&head[1].large_mapcount, 1, __ATOMIC_RELAXED);
}

/*
 * A private page another mapping may also reach (after fork): a read pin
 * must copy it first. Small pages judge by mapcount, large ones by their
 * exclusive bit.
 */
static inline bool page_maybe_shared_anon(struct page *page)
{
	if (PageHead(compound_head(page)))
		return !test_bit_page(PG_anon_exclusive, page);
	return page_mapcount(page) > 1;
}

/*
 * deferred_split_folio - queue the anonymous THP @head, some of whose
 * pages no mapping maps any more while others are still mapped, for the
 * split that gives its holes back under memory pressure (huge_memory.c).
 * Locking: the lock of the table whose entry went held (the folio lives).
 */
void deferred_split_folio(struct page *head);

/*
 * A PTE mapping @page is gone. The last mapping of one page of an
 * anonymous THP still mapped elsewhere (and by no PMD, which maps every
 * page) makes it partly mapped, as the kernel's __folio_remove_rmap.
 */
static inline void page_remove_rmap_pte(struct page *page)
{
	struct page *head = compound_head(page);
	bool gone = !__atomic_sub_fetch(&page->mapcount, 1, __ATOMIC_RELAXED);

	if (!PageHead(head))
		return;
	if (__atomic_sub_fetch(&head[1].large_mapcount, 1, __ATOMIC_RELAXED) && gone &&
	    !folio_entire_mapcount(head) && PageAnon(head))
		deferred_split_folio(head);
}

/*
 * folio_lock_anon_vma_read - the anon_vma of the mapped anonymous folio
 * @head, referenced and with its root's rwsem held (read), as the
 * kernel's folio_lock_anon_vma_read; NULL when it is no longer mapped.
 * Locking: no page-table lock held; takes RCU, then the rwsem.
 */
struct anon_vma *folio_lock_anon_vma_read(struct page *head);
void anon_vma_unlock_read_put(struct anon_vma *av);

/*
 * vma_link_file / vma_unlink_file - add @vma to (remove it from) its
 * file's i_mmap (its mapping's, shared by every open of the inode). A
 * VMA is linked before it is published and unlinked after it left the
 * tree but before its page tables can be freed, so an rmap walker holding
 * i_mmap_rwsem always walks live tables.
 * Locking: mmap_lock (write) of the VMA's mm; takes i_mmap_rwsem (write).
 */
void vma_link_file(struct vm_area_struct *vma);
void vma_unlink_file(struct vm_area_struct *vma);

/*
 * unmap_mapping_range - clear every entry mapping file pages [first,
 * last] of @mapping in every address space (truncation, hole punch); anonymous
 * copies-on-write in private mappings go too only when @even_cows.
 * Locking: takes i_mmap_rwsem (read), then page-table locks; no mmap_lock.
 */
void unmap_mapping_range(struct address_space *mapping, uint64_t first, uint64_t last,
			 bool even_cows);

/*
 * page_mkclean - write-protect and clean every shared mapping of the
 * cache page @page, flushing the TLBs, so that the next write faults.
 * Locking: @page locked; takes i_mmap_rwsem (read), then PTE locks.
 * Return: whether any mapping had written the page.
 */
bool page_mkclean(struct address_space *mapping, struct page *page);

#endif /* UMM_RMAP_H */
