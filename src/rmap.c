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

/* A reference unless the last one is already gone. Locking: RCU. */
static bool get_anon_vma_not_zero(struct anon_vma *av)
{
	uint64_t c = __atomic_load_n(&av->refcount, __ATOMIC_RELAXED);

	do {
		if (!c)
			return false;
	} while (!__atomic_compare_exchange_n(&av->refcount, &c, c + 1, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

static void anon_vma_free_rcu(struct rcu_head *head)
{
	struct anon_vma *av = container_of(head, struct anon_vma, rcu);

	if (av->root != av)
		put_anon_vma(av->root);	/* a fork's child kept its root alive */
	else
		destroy_rwsem(&av->rwsem);
	free(av);
}

/* The last reference goes after a grace period: rmap walkers use RCU. */
void put_anon_vma(struct anon_vma *av)
{
	if (av && atomic_add_return(&av->refcount, -1) == 0)
		call_rcu(&av->rcu, anon_vma_free_rcu);
}

/* A first-generation anon_vma (its own root), one reference. */
static struct anon_vma *anon_vma_alloc(void)
{
	struct anon_vma *av = calloc(1, sizeof(*av));

	if (!av)
		return NULL;
	av->root = av;
	av->parent = av;
	av->refcount = 1;
	av->rb_root = ITREE_ROOT_INIT;
	init_rwsem(&av->rwsem);
	return av;
}

/* @vma now has (or no longer has) @av as its anon_vma. */
void anon_vma_active_inc(struct anon_vma *av)
{
	if (av)
		atomic_add_return(&av->num_active_vmas, 1);
}

void anon_vma_active_dec(struct anon_vma *av)
{
	uint64_t left;

	if (!av)
		return;
	left = atomic_add_return(&av->num_active_vmas, -1);
	VM_BUG_ON(left == UINT64_MAX);
}

static void anon_vma_lock_write(struct anon_vma *av)
{
	down_write(&av->root->rwsem);
}

static void anon_vma_unlock_write(struct anon_vma *av)
{
	up_write(&av->root->rwsem);
}

/* Link @vma to @av (a new reference); not yet in @av's tree. */
static struct anon_vma_chain *avc_link(struct vm_area_struct *vma, struct anon_vma *av)
{
	struct anon_vma_chain *avc = calloc(1, sizeof(*avc));

	if (!avc)
		return NULL;
	avc->vma = vma;
	avc->anon_vma = get_anon_vma(av);
	list_add(&avc->same_vma, &vma->anon_vma_chain);
	return avc;
}

/* Locking: the root's rwsem (write). */
static void avc_tree_insert(struct anon_vma_chain *avc)
{
	struct vm_area_struct *vma = avc->vma;

	VM_BUG_ON(!rwsem_is_write_locked_by_me(&avc->anon_vma->root->rwsem));
	if (avc->linked)
		return;
	avc->rb.start = vma->vm_pgoff;
	avc->rb.last = vma->vm_pgoff + vma_pages(vma) - 1;
	itree_insert(&avc->anon_vma->rb_root, &avc->rb);
	avc->linked = true;
}

/*
 * Once no VMA links an anon_vma, none ever will again (a link is copied
 * from a linked VMA's chain, into the tree before the old one leaves):
 * it no longer counts as its parent's child.
 * Locking: the root's rwsem (write).
 */
static void avc_tree_remove(struct anon_vma_chain *avc)
{
	struct anon_vma *av = avc->anon_vma;

	VM_BUG_ON(!rwsem_is_write_locked_by_me(&av->root->rwsem));
	if (!avc->linked)
		return;
	itree_remove(&av->rb_root, &avc->rb);
	avc->linked = false;
	if (!av->rb_root.count) {
		uint64_t left = atomic_add_return(&av->parent->num_children, -1);

		VM_BUG_ON(left == UINT64_MAX);
	}
}

/* Every link of a VMA is under one root: its own anon_vma's. */
static struct anon_vma *vma_anon_root(struct vm_area_struct *vma)
{
	return vma->anon_vma ? vma->anon_vma->root : NULL;
}

/* Put (or take out of) the trees every link of @vma. Locking: its root's rwsem (write). */
static void vma_avcs_insert(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
		avc_tree_insert(avc);
}

static void vma_avcs_remove(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
		avc_tree_remove(avc);
}

static bool vma_avcs_linked(struct vm_area_struct *vma)
{
	return !list_empty(&vma->anon_vma_chain) &&
	       list_first_entry(&vma->anon_vma_chain, struct anon_vma_chain,
				same_vma)->linked;
}

void unlink_anon_vmas(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc, *tmp;
	struct anon_vma *root = vma_anon_root(vma);

	if (list_empty(&vma->anon_vma_chain))
		return;
	if (root && vma_avcs_linked(vma)) {
		anon_vma_lock_write(root);
		vma_avcs_remove(vma);
		anon_vma_unlock_write(root);
	}
	/* out of every tree: no walker can reach a link any more */
	list_for_each_entry_safe(avc, tmp, &vma->anon_vma_chain, same_vma) {
		VM_BUG_ON(avc->linked);
		list_del(&avc->same_vma);
		put_anon_vma(avc->anon_vma);
		free(avc);
	}
}

int anon_vma_clone(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *avc;

	/* oldest first, as fork made them: the walk order stays stable */
	for (avc = list_entry(src->anon_vma_chain.prev, struct anon_vma_chain, same_vma);
	     &avc->same_vma != &src->anon_vma_chain;
	     avc = list_entry(avc->same_vma.prev, struct anon_vma_chain, same_vma)) {
		if (!avc_link(dst, avc->anon_vma)) {
			unlink_anon_vmas(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * An anon_vma of @vma's chain (just cloned) that no VMA has as its own and
 * that has at most one child: the new VMA can take it rather than add a
 * generation, so that a chain of forks, each parent exiting, keeps its
 * chains short (the kernel's reuse). Oldest first, as the kernel. A root
 * counts itself as a child, so it is never taken while it has one.
 * Locking: the parent's mmap_lock (write); @vma's links hold their
 *          anon_vmas; the claim is the compare-and-swap, no lock.
 * Return: the anon_vma, claimed (num_active_vmas 0 -> 1), or NULL.
 */
static struct anon_vma *anon_vma_reuse(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;

	for (avc = list_entry(vma->anon_vma_chain.prev, struct anon_vma_chain, same_vma);
	     &avc->same_vma != &vma->anon_vma_chain;
	     avc = list_entry(avc->same_vma.prev, struct anon_vma_chain, same_vma)) {
		struct anon_vma *av = avc->anon_vma;
		uint64_t none = 0;

		if (__atomic_load_n(&av->num_children, __ATOMIC_RELAXED) >= 2)
			continue;
		if (__atomic_compare_exchange_n(&av->num_active_vmas, &none, 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return av;
	}
	return NULL;
}

int anon_vma_fork(struct vm_area_struct *vma, struct vm_area_struct *pvma)
{
	struct anon_vma *av, *parent = pvma->anon_vma, *root = parent->root;

	if (anon_vma_clone(vma, pvma))
		return -ENOMEM;
	av = anon_vma_reuse(vma);
	if (av) {
		vma->anon_vma = get_anon_vma(av);
		goto link;
	}
	av = calloc(1, sizeof(*av));
	if (!av)
		goto fail;
	av->root = get_anon_vma(root);
	av->parent = parent;	/* linked by the chain while av is linked */
	av->refcount = 1;	/* the VMA's */
	av->num_active_vmas = 1;
	av->rb_root = ITREE_ROOT_INIT;
	if (!avc_link(vma, av)) {
		put_anon_vma(av);
		goto fail;
	}
	vma->anon_vma = av;
	atomic_add_return(&parent->num_children, 1);
link:
	anon_vma_lock_write(root);
	vma_avcs_insert(vma);
	anon_vma_unlock_write(root);
	return 0;
fail:
	unlink_anon_vmas(vma);
	return -ENOMEM;
}

void anon_vma_swap(struct vm_area_struct **new, size_t nnew,
		   struct vm_area_struct **old, size_t nold)
{
	for (size_t i = 0; i < nnew; i++) {
		struct anon_vma *root = vma_anon_root(new[i]);

		if (!root || vma_avcs_linked(new[i]))
			continue;	/* none, or done with an earlier one */
		anon_vma_lock_write(root);
		for (size_t j = i; j < nnew; j++)
			if (vma_anon_root(new[j]) == root)
				vma_avcs_insert(new[j]);
		for (size_t j = 0; j < nold; j++)
			if (vma_anon_root(old[j]) == root)
				vma_avcs_remove(old[j]);
		anon_vma_unlock_write(root);
	}
}

/*
 * Could @a and @b (above it) share an anon_vma? As for merging, but the
 * rights may differ: an mprotect can still make them mergeable later.
 */
static bool anon_vma_compatible(const struct vm_area_struct *a,
				const struct vm_area_struct *b)
{
	return a->vm_end == b->vm_start && a->vm_file == b->vm_file &&
	       !((a->vm_flags ^ b->vm_flags) & ~(VM_ACCESS_FLAGS | VM_IGNORE_MERGE)) &&
	       b->vm_pgoff == a->vm_pgoff + ((b->vm_start - a->vm_start) >> PAGE_SHIFT);
}

/*
 * A neighbour's anon_vma to share, if it has one and only its own (a
 * forked VMA's pages are shared along its chain, which an unrelated VMA
 * must not join). Locking: mmap_lock held, so the neighbours cannot change.
 */
static struct anon_vma *find_mergeable_anon_vma(struct vm_area_struct *vma)
{
	struct umm_mm *mm = vma->vm_mm;
	struct vm_area_struct *next = vma_next_of(mm, vma), *prev;
	struct anon_vma *av;

	/* the anon_vma first: its chain is complete once it is seen */
	if (next && anon_vma_compatible(vma, next)) {
		av = smp_load_acquire(&next->anon_vma);
		if (av && !vma_anon_forked(next))
			return av;
	}
	prev = vma_prev_of(mm, vma);
	if (prev && anon_vma_compatible(prev, vma)) {
		av = smp_load_acquire(&prev->anon_vma);
		if (av && !vma_anon_forked(prev))
			return av;
	}
	return NULL;
}

int anon_vma_prepare(struct vm_area_struct *vma)
{
	struct umm_mm *mm = vma->vm_mm;
	struct anon_vma *av, *fresh = NULL;
	struct anon_vma_chain *avc;

	if (likely(smp_load_acquire(&vma->anon_vma)))
		return 0;
	mmap_assert_locked(mm);
	av = find_mergeable_anon_vma(vma);
	if (!av) {
		av = fresh = anon_vma_alloc();
		if (!av)
			return -ENOMEM;
	}
	avc = calloc(1, sizeof(*avc));
	if (!avc) {
		put_anon_vma(fresh);
		return -ENOMEM;
	}
	/* two faults may race here under mmap_lock (read): one installs */
	anon_vma_lock_write(av);
	spin_lock(&mm->page_table_lock);
	if (!vma->anon_vma) {
		avc->vma = vma;
		avc->anon_vma = fresh ? fresh : get_anon_vma(av);
		list_add(&avc->same_vma, &vma->anon_vma_chain);
		if (fresh)
			fresh->num_children = 1;	/* its own, while linked */
		avc_tree_insert(avc);
		anon_vma_active_inc(av);
		smp_store_release(&vma->anon_vma, get_anon_vma(av));
		avc = NULL;
		fresh = NULL;	/* its reference went to the link */
	}
	spin_unlock(&mm->page_table_lock);
	anon_vma_unlock_write(av);
	free(avc);
	put_anon_vma(fresh);
	return 0;
}

bool page_mapped_in_vma(struct page *page, struct vm_area_struct *vma, uint64_t addr)
{
	struct umm_mm *mm = vma->vm_mm;
	bool mapped = false;
	spinlock_t *ptl;
	pte_t *pte;
	pmd_t *pmd;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	if (pmd && pmd_leaf(pmdp_get_lockless(pmd))) {
		pmd_t v;

		ptl = pmd_lock(mm, pmd);
		v = pmdp_get(pmd);
		/* a THP mapped whole maps each of its pages */
		mapped = pmd_leaf(v) && pmd_pfn(v) + pte_index(addr) == page_to_pfn(page);
		spin_unlock(ptl);
		if (pmd_leaf(v)) {
			rcu_read_unlock();
			return mapped;
		}
	}
	pte = pmd ? pte_offset_map_lock(mm, pmd, addr, &ptl) : NULL;
	if (pte) {
		pte_t e = ptep_get(pte);

		mapped = pte_present(e) && pte_pfn(e) == page_to_pfn(page);
		pte_unmap_unlock(pte, ptl);
	}
	rcu_read_unlock();
	return mapped;
}

struct anon_walk {
	struct page *page;
	uint64_t index;		/* of the page: its folio's, plus its place in it */
	bool (*rmap_one)(struct page *, struct vm_area_struct *, uint64_t, void *);
	void *arg;
};

static int anon_walk_one(struct itree_node *n, void *arg)
{
	struct anon_vma_chain *avc = container_of(n, struct anon_vma_chain, rb);
	struct anon_walk *w = arg;
	struct vm_area_struct *vma = avc->vma;
	uint64_t addr = vma->vm_start + ((w->index - vma->vm_pgoff) << PAGE_SHIFT);

	return !w->rmap_one(w->page, vma, addr, w->arg);
}

struct anon_vma *folio_lock_anon_vma_read(struct page *head)
{
	unsigned long mapping;
	struct anon_vma *av;

	/*
	 * page->mapping is only trusted while the page is mapped: an
	 * unmapped page's anon_vma may be gone. Take a reference under RCU,
	 * then check the page is still mapped, as the kernel's
	 * folio_get_anon_vma does.
	 */
	rcu_read_lock();
	if (!folio_mapcount(head)) {
		rcu_read_unlock();
		return NULL;
	}
	mapping = (unsigned long)READ_ONCE(head->mapping);
	av = (struct anon_vma *)(mapping & ~PAGE_MAPPING_ANON);
	if (!(mapping & PAGE_MAPPING_ANON) || !av || !get_anon_vma_not_zero(av)) {
		rcu_read_unlock();
		return NULL;
	}
	if (!folio_mapcount(head)) {
		rcu_read_unlock();
		put_anon_vma(av);
		return NULL;
	}
	rcu_read_unlock();
	down_read(&av->root->rwsem);
	return av;
}

/* Locking: drops what folio_lock_anon_vma_read() took. */
void anon_vma_unlock_read_put(struct anon_vma *av)
{
	up_read(&av->root->rwsem);
	put_anon_vma(av);
}

bool rmap_walk_anon(struct page *page,
		    bool (*rmap_one)(struct page *page, struct vm_area_struct *vma,
				     uint64_t addr, void *arg),
		    void *arg)
{
	struct page *head = compound_head(page);
	struct anon_walk w = { page, 0, rmap_one, arg };
	struct anon_vma *av = folio_lock_anon_vma_read(head);

	if (!av)
		return false;
	w.index = head->index + (uint64_t)(page - head);
	itree_for_each_overlap(&av->rb_root, w.index, w.index, anon_walk_one, &w);
	anon_vma_unlock_read_put(av);
	return true;
}

/* ---- files: i_mmap ---- */

static struct vm_area_struct *shared_vma(struct itree_node *n)
{
	return container_of(n, struct vm_area_struct, shared);
}

void vma_link_file(struct vm_area_struct *vma)
{
	struct address_space *mapping;

	if (!vma->vm_file)
		return;
	mapping = vma->vm_file->f_mapping;
	vma->shared.start = vma->vm_pgoff;
	vma->shared.last = vma->vm_pgoff + vma_pages(vma) - 1;
	down_write(&mapping->i_mmap_rwsem);
	itree_insert(&mapping->i_mmap, &vma->shared);
	up_write(&mapping->i_mmap_rwsem);
}

void vma_unlink_file(struct vm_area_struct *vma)
{
	struct address_space *mapping;

	if (!vma->vm_file)
		return;
	mapping = vma->vm_file->f_mapping;
	down_write(&mapping->i_mmap_rwsem);
	itree_remove(&mapping->i_mmap, &vma->shared);
	up_write(&mapping->i_mmap_rwsem);
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
		/* without mmap_lock: mlock changes it under the VMA write lock */
		.munlock = READ_ONCE(vma->vm_flags) & VM_LOCKED,
	};
	uint64_t start, end;

	vma_file_range(vma, a->first, a->last, &start, &end);
	zap_page_range_details(vma->vm_mm, start, end, &details);
	return 0;
}

void unmap_mapping_range(struct address_space *mapping, uint64_t first, uint64_t last,
			 bool even_cows)
{
	struct unmap_args a = { first, last, even_cows };

	down_read(&mapping->i_mmap_rwsem);
	itree_for_each_overlap(&mapping->i_mmap, first, last, unmap_one, &a);
	up_read(&mapping->i_mmap_rwsem);
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
		} else if (mm_tlb_flush_pending(mm)) {
			/*
			 * Clean, read-only or gone - but made so by a zap, an
			 * mprotect or a dirty-tracking walk whose flush is still
			 * to come: a TLB may write through the old entry.
			 */
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

bool page_mkclean(struct address_space *mapping, struct page *page)
{
	struct mkclean_args a = { page, false };

	down_read(&mapping->i_mmap_rwsem);
	itree_for_each_overlap(&mapping->i_mmap, page->index, page->index, mkclean_one, &a);
	up_read(&mapping->i_mmap_rwsem);
	return a.dirty;
}
