// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vma.c - VMAs: allocation, lookup, lock_vma_under_rcu, and the plan
 * machinery through which mmap, munmap, mprotect, mremap and madvise
 * split and merge them.
 *
 * A change is computed on descriptions of the VMAs around it and then
 * published with one tree replacement, so lockless readers (faults under
 * per-VMA locks, seed 004) see the layout before or after, never between.
 * VMAs are never edited in place once published: a VMA that changes is
 * replaced by a new one, and the old one is write-locked, detached, and
 * freed after a grace period.
 */
#include <errno.h>
#include <string.h>
#include "mm.h"
#include "huge_memory.h"
#include "memory.h"
#include "filemap.h"
#include "rmap.h"
#include "tlb.h"

#define VM_SPECIAL	(VM_IO | VM_DONTEXPAND | VM_PFNMAP)

/*
 * A VMA's memory: recycled from the VMAs the mm's earlier changes retired
 * (vma_tree_entry_alloc), or malloc's.
 * Locking: @mm's mmap_lock held for write, or @mm not yet shared (fork).
 */
struct vm_area_struct *vm_area_alloc(struct umm_mm *mm)
{
	struct vm_area_struct *vma = vma_tree_entry_alloc(&mm->mm_mt);

	if (vma)
		memset(vma, 0, sizeof(*vma));
	else
		vma = calloc(1, sizeof(*vma));
	if (vma) {
		INIT_LIST_HEAD(&vma->anon_vma_chain);
		vma_lock_init(vma, mm);
	}
	return vma;
}

/* Drop what a VMA holds: its file, its anon_vma and the links to others. */
static void vm_area_release(struct vm_area_struct *vma)
{
	fput(vma->vm_file);
	vma->vm_file = NULL;
	unlink_anon_vmas(vma);
	anon_vma_active_dec(vma->anon_vma);
	put_anon_vma(vma->anon_vma);
	vma->anon_vma = NULL;
}

/* Free a VMA no reader can have seen (never published). */
void vm_area_free(struct vm_area_struct *vma)
{
	vm_area_release(vma);
	free(vma);
}

static void vm_area_free_rcu_cb(struct rcu_head *head)
{
	vm_area_free(container_of(head, struct vm_area_struct, rcu));
}

/* ---- lookups ---- */

struct vm_area_struct *find_vma(struct umm_mm *mm, uint64_t addr)
{
	return vma_tree_find_next(&mm->mm_mt, addr, NULL, NULL);
}

struct vm_area_struct *vma_lookup(struct umm_mm *mm, uint64_t addr)
{
	return vma_tree_find(&mm->mm_mt, addr, NULL, NULL);
}

struct vm_area_struct *find_vma_prev(struct umm_mm *mm, uint64_t addr,
				     struct vm_area_struct **pprev)
{
	struct vma_tree_cursor c;
	struct vm_area_struct *vma;
	uint64_t start;

	/* one descent for both: the previous VMA is nearly always beside */
	vma_tree_cursor_init(&c, &mm->mm_mt);
	vma = vma_tree_cursor_find_next(&c, addr, &start, NULL);
	*pprev = vma_tree_cursor_find_prev(&c, vma ? start : addr, NULL, NULL);
	return vma;
}

struct vm_area_struct *find_vma_intersection(struct umm_mm *mm, uint64_t start,
					     uint64_t end)
{
	struct vm_area_struct *vma = find_vma(mm, start);

	return vma && vma->vm_start < end ? vma : NULL;
}

struct vm_area_struct *vma_prev_of(struct umm_mm *mm, struct vm_area_struct *vma)
{
	return vma_tree_find_prev(&mm->mm_mt, vma->vm_start, NULL, NULL);
}

struct vm_area_struct *vma_next_of(struct umm_mm *mm, struct vm_area_struct *vma)
{
	return vma_tree_find_next(&mm->mm_mt, vma->vm_end, NULL, NULL);
}

/*
 * The VMA of this thread's last fault in @mm, read-locked, if it still
 * holds @addr. Faults come page after page in one VMA, and the tree's leaf
 * that a lookup reads is the line another thread's mmap or munmap nearby
 * writes: each fault would miss on it. This is the kernel's per-thread
 * vmacache of before the maple tree, vouched for now by the VMA's own
 * lock, as lock_vma_under_rcu's lookup is, instead of a per-mm sequence
 * number that every munmap would write; the tree's entry generation only
 * says the memory is still this VMA's (it moves once a batch of retired
 * VMAs, not once a munmap).
 * Locking: inside rcu_read_lock(); @t is this thread's.
 */
static struct vm_area_struct *vmacache_find(struct umm_mm *mm, struct sw_tlb *t,
					    uint64_t addr)
{
	struct vm_area_struct *vma = t->vmacache;

	if (!vma || t->vmacache_gen != vma_tree_entry_gen(&mm->mm_mt))
		return NULL;
	vma = vma_start_read_cached(mm, vma, &t->lock_seq_seen);
	if (!vma || vma == VMA_DETACHED)
		return NULL;	/* the lookup below says what to do */
	/* Bounds are stable only now that the VMA is read-locked. */
	if (unlikely(addr < vma->vm_start || addr >= vma->vm_end)) {
		vma_end_read(vma);
		return NULL;
	}
	return vma;
}

struct vm_area_struct *lock_vma_under_rcu(struct umm_mm *mm, uint64_t addr)
{
	struct sw_tlb *t = tlb_current(mm);
	uint64_t seen_here = 0, *seen = t ? &t->lock_seq_seen : &seen_here;
	struct vm_area_struct *vma;
	uint64_t gen;

	rcu_read_lock();
	if (t) {
		vma = vmacache_find(mm, t, addr);
		if (vma)
			goto out;
	}
	for (;;) {
		/* read before the lookup: see vma_tree_entry_gen */
		gen = vma_tree_entry_gen(&mm->mm_mt);
		vma = vma_tree_find(&mm->mm_mt, addr, NULL, NULL);
		if (!vma)
			break;
		vma = vma_start_read_cached(mm, vma, seen);
		if (vma == VMA_DETACHED) {
			/* Replaced after we found it: look again. */
			rcu_read_unlock();
			mm_stat_add(mm, MM_VMA_LOCK_MISS, 1);
			rcu_read_lock();
			continue;
		}
		if (!vma)
			break;
		/* Bounds are stable only now that the VMA is read-locked. */
		if (unlikely(addr < vma->vm_start || addr >= vma->vm_end)) {
			vma_end_read(vma);
			break;
		}
		if (t) {
			t->vmacache = vma;
			t->vmacache_gen = gen;
		}
		goto out;
	}
	rcu_read_unlock();
	mm_stat_add(mm, MM_VMA_LOCK_ABORT, 1);
	return NULL;
out:
	rcu_read_unlock();
	return vma;
}

/* ---- merging rules ---- */

/*
 * One side without an anon_vma takes the other's, unless that one came
 * from a fork: pages of a forked VMA are shared along its chain, which an
 * unrelated VMA must not join (the kernel's list_is_singular() test).
 * A VMA grown in place by mremap (@a, the one before) is the exception:
 * the kernel asks only the next VMA's history there (see vma_desc.grown).
 */
static bool anon_vma_compatible(const struct vma_desc *a, const struct vma_desc *b)
{
	if (a->anon_vma == b->anon_vma)
		return true;
	if (!a->anon_vma)
		return !vma_anon_forked(b->chain);
	if (!b->anon_vma)
		return a->grown || !vma_anon_forked(a->chain);
	return false;
}

/*
 * All of desc_can_merge but the anon_vma test, which reads the neighbour's
 * chain: a neighbour these fields already rule out is neither taken nor
 * write-locked. (Under mmap_lock for write none of them can change.)
 */
static bool desc_may_merge(const struct vma_desc *a, const struct vma_desc *b)
{
	if (a->end != b->start)
		return false;
	if ((a->flags ^ b->flags) & ~VM_IGNORE_MERGE)
		return false;
	if ((a->flags | b->flags) & VM_SPECIAL)
		return false;
	if (a->file != b->file)
		return false;
	return a->pgoff + ((a->end - a->start) >> PAGE_SHIFT) == b->pgoff;
}

bool desc_can_merge(const struct vma_desc *a, const struct vma_desc *b)
{
	return desc_may_merge(a, b) && anon_vma_compatible(a, b);
}

/* ---- plans ---- */

static void desc_from_vma(struct vma_desc *d, struct vm_area_struct *vma)
{
	d->start = vma->vm_start;
	d->end = vma->vm_end;
	d->pgoff = vma->vm_pgoff;
	d->flags = vma->vm_flags;
	d->file = vma->vm_file;
	d->anon_vma = vma->anon_vma;
	d->chain = vma;
	d->orig = vma;
	d->touched = false;
	d->grown = false;
}

static bool desc_is_orig(const struct vma_desc *d)
{
	const struct vm_area_struct *v = d->orig;

	return v && !d->touched && d->start == v->vm_start && d->end == v->vm_end &&
	       d->pgoff == v->vm_pgoff && d->flags == v->vm_flags &&
	       d->file == v->vm_file && d->anon_vma == v->anon_vma;
}

/* Grow an array that starts in the plan itself (@local) onto the heap. */
static int grow(void **arr, void *local, size_t *cap, size_t need, size_t elem)
{
	size_t n;
	void *p;

	if (need <= *cap)
		return 0;
	n = *cap * 2;
	while (n < need)
		n *= 2;
	p = *arr == local ? malloc(n * elem) : realloc(*arr, n * elem);
	if (!p)
		return -ENOMEM;
	if (*arr == local)
		memcpy(p, local, *cap * elem);
	*arr = p;
	*cap = n;
	return 0;
}

static int plan_take(struct vma_plan *p, struct vm_area_struct *vma)
{
	if (grow((void **)&p->orig, p->orig_local, &p->cap_orig, p->nr_orig + 1,
		 sizeof(*p->orig)) ||
	    grow((void **)&p->d, p->d_local, &p->cap, p->nr + 1, sizeof(*p->d)))
		return -ENOMEM;
	vma_start_write(vma);
	p->orig[p->nr_orig++] = vma;
	desc_from_vma(&p->d[p->nr++], vma);
	return 0;
}

/*
 * vma_plan_init - take the VMAs overlapping [start, end), and with
 * @neighbours the one ending exactly at @start and the one starting
 * exactly at @end (the only ones a change can merge with; others are left
 * unlocked so faults in them go on). Return: 0, or -ENOMEM (release the
 * plan either way).
 */
static int plan_init(struct vma_plan *p, struct umm_mm *mm, uint64_t start,
		     uint64_t end, bool neighbours, const struct vma_desc *with)
{
	struct vm_area_struct *vma;
	struct vma_tree_cursor c;
	struct vma_desc nd;
	uint64_t addr, s, e;

	p->mm = mm;
	p->fresh = p->zap_after = false;
	p->orig = p->orig_local;
	p->d = p->d_local;
	p->nr_orig = p->nr = p->nr_dead = p->nr_unlinked = p->merges = 0;
	p->cap_orig = p->cap = VMA_PLAN_LOCAL;
	mmap_assert_write_locked(mm);
	/* One descent: the lookups below start where the last one ended. */
	vma_tree_cursor_init(&c, &mm->mm_mt);
	if (neighbours && start) {
		vma = vma_tree_cursor_find(&c, start - 1, NULL, &e);
		if (vma && e == start && with)
			desc_from_vma(&nd, vma);
		if (vma && e == start && (!with || desc_may_merge(&nd, with)) &&
		    plan_take(p, vma))
			return -ENOMEM;
	}
	for (addr = start; (vma = vma_tree_cursor_find_next(&c, addr, &s, &e));
	     addr = e) {
		if (s >= end) {
			if (neighbours && s == end && with)
				desc_from_vma(&nd, vma);
			if (neighbours && s == end &&
			    (!with || desc_may_merge(with, &nd)) && plan_take(p, vma))
				return -ENOMEM;
			break;
		}
		if (plan_take(p, vma))
			return -ENOMEM;
	}
	return 0;
}

int vma_plan_init(struct vma_plan *p, struct umm_mm *mm, uint64_t start,
		  uint64_t end, bool neighbours)
{
	return plan_init(p, mm, start, end, neighbours, NULL);
}

/*
 * vma_plan_init_for - as vma_plan_init with neighbours, for putting @d in
 * [d->start, d->end): a neighbour is taken (and write-locked) only when
 * its flags, file and offset let it merge with @d, as the kernel locks
 * only the VMAs a new mapping really merges with or replaces. Faults in
 * the others go on, and a plan that takes none may publish @d unlocked.
 */
int vma_plan_init_for(struct vma_plan *p, struct umm_mm *mm,
		      const struct vma_desc *d)
{
	return plan_init(p, mm, d->start, d->end, true, d);
}

void vma_plan_unlink_dead(struct vma_plan *p)
{
	for (; p->nr_unlinked < p->nr_dead; p->nr_unlinked++)
		vma_unlink_file(p->orig[p->nr_unlinked]);
}

void vma_plan_release(struct vma_plan *p)
{
	vma_plan_unlink_dead(p);
	for (size_t i = 0; i < p->nr_dead; i++) {
		struct vm_area_struct *vma = p->orig[i];

		/*
		 * Detached and write-locked before its removal, so no fault
		 * still uses its file or anon_vma; RCU readers of the VMA only
		 * read its bounds and lock (an anon_vma is itself freed after
		 * a grace period). Putting the file now, not a grace period
		 * later, makes the last unmap write a file back before return.
		 */
		vm_area_release(vma);
		if (!vma_tree_entry_retire(&p->mm->mm_mt, vma))
			call_rcu(&vma->rcu, vm_area_free_rcu_cb);
	}
	p->nr_dead = p->nr_unlinked = 0;
	if (p->orig != p->orig_local)
		free(p->orig);
	if (p->d != p->d_local)
		free(p->d);
	p->orig = p->orig_local;
	p->d = p->d_local;
	p->nr_orig = p->nr = 0;
	p->cap_orig = p->cap = VMA_PLAN_LOCAL;
}

size_t vma_plan_find(struct vma_plan *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nr;

	while (lo < hi) {	/* descriptions are sorted and disjoint */
		size_t mid = lo + (hi - lo) / 2;

		if (p->d[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int vma_plan_insert(struct vma_plan *p, size_t i, const struct vma_desc *d)
{
	if (grow((void **)&p->d, p->d_local, &p->cap, p->nr + 1, sizeof(*p->d)))
		return -ENOMEM;
	memmove(&p->d[i + 1], &p->d[i], (p->nr - i) * sizeof(*p->d));
	p->d[i] = *d;
	p->nr++;
	return 0;
}

void vma_plan_delete_range(struct vma_plan *p, size_t i, size_t j)
{
	if (i == j)
		return;
	memmove(&p->d[i], &p->d[j], (p->nr - j) * sizeof(*p->d));
	p->nr -= j - i;
}

void vma_plan_delete(struct vma_plan *p, size_t i)
{
	vma_plan_delete_range(p, i, i + 1);
}

int vma_plan_split(struct vma_plan *p, uint64_t addr)
{
	size_t i = vma_plan_find(p, addr);
	struct vma_desc hi;

	if (i == p->nr || p->d[i].start >= addr)
		return 0;	/* no description straddles addr */
	hi = p->d[i];
	hi.start = addr;
	hi.pgoff += (addr - p->d[i].start) >> PAGE_SHIFT;
	if (vma_plan_insert(p, i + 1, &hi))
		return -ENOMEM;
	p->d[i].end = addr;
	return 0;
}

/* May the plan split once more without passing the mm's map count limit? */
static bool plan_may_split(const struct vma_plan *p)
{
	return p->mm->map_count + vma_plan_count_delta(p) < p->mm->max_map_count;
}

int vma_plan_modify(struct vma_plan *p, uint64_t start, uint64_t end,
		    unsigned long newflags)
{
	size_t i = vma_plan_find(p, start);
	struct vma_desc *d = &p->d[i], piece = *d;
	bool lo = start > d->start, hi = end < d->end;
	bool to_prev, to_next;

	piece.start = start;
	piece.end = end;
	piece.pgoff += (start - d->start) >> PAGE_SHIFT;
	piece.flags = newflags;
	/*
	 * The kernel first tries to merge the piece with the neighbour it
	 * touches (vma_merge_existing_range): the border moves, nothing is
	 * split. The plan splits and merges afterwards, which comes to the
	 * same count; only the limit check must not see the split.
	 */
	to_prev = !lo && i > 0 && desc_can_merge(&p->d[i - 1], &piece);
	to_next = !hi && i + 1 < p->nr && desc_can_merge(&piece, &p->d[i + 1]);
	p->merges += to_prev + to_next;
	if (lo && ((!to_next && !plan_may_split(p)) || vma_plan_split(p, start)))
		goto refused;
	i += lo;
	if (hi && ((!to_prev && !plan_may_split(p)) || vma_plan_split(p, end)))
		goto refused;
	p->d[i].flags = newflags;
	p->d[i].touched = true;
	return 0;
refused:
	p->merges -= to_prev + to_next;
	return -ENOMEM;
}

/*
 * Merge a changed or new description with its neighbours when the kernel
 * would: an untouched pair is never merged (the kernel only merges at the
 * edges of what it changes).
 */
void vma_plan_merge(struct vma_plan *p)
{
	size_t w = 0;
	/*
	 * Was the description that ends d[w] (the last one it absorbed, or
	 * itself) changed? Only an edge with a changed side merges: a
	 * description that absorbed an untouched neighbour does not go on to
	 * absorb that neighbour's untouched neighbour (the kernel's
	 * vma_merge_existing_range merges the range with prev and next only).
	 */
	bool edge_touched = p->nr && p->d[0].touched;

	/* one pass, compacting in place: d[w] absorbs what merges into it */
	for (size_t r = 1; r < p->nr; r++) {
		struct vma_desc *a = &p->d[w], *b = &p->d[r];
		bool b_touched = b->touched;

		if ((edge_touched || b_touched) && desc_can_merge(a, b)) {
			a->end = b->end;
			a->flags |= b->flags & VM_STICKY;
			if (!a->anon_vma) {
				a->anon_vma = b->anon_vma;
				a->chain = b->chain;
			}
			a->touched = true;
			edge_touched = b_touched;
			continue;
		}
		p->d[++w] = *b;
		edge_touched = b_touched;
	}
	if (p->nr)
		p->nr = w + 1;
}

static struct vm_area_struct *vma_from_desc(struct umm_mm *mm, const struct vma_desc *d)
{
	struct vm_area_struct *vma = vm_area_alloc(mm);

	if (!vma)
		return NULL;
	vma->vm_start = d->start;
	vma->vm_end = d->end;
	vma->vm_pgoff = d->pgoff;
	vma->vm_flags = d->flags;
	vma->vm_file = get_file(d->file);
	vma->anon_vma = get_anon_vma(d->anon_vma);
	anon_vma_active_inc(vma->anon_vma);
	/* the links of the VMA whose pages it takes over, into the trees at commit */
	if (d->anon_vma) {
		VM_BUG_ON(!d->chain || d->chain->anon_vma != d->anon_vma);
		if (anon_vma_clone(vma, d->chain)) {
			vm_area_free(vma);
			return NULL;
		}
	}
	return vma;
}

/* Mark, in @keep (indexed like p->orig), the VMAs the plan leaves alone. */
static void plan_mark_kept(struct vma_plan *p, bool *keep)
{
	for (size_t i = 0; i < p->nr; i++) {
		size_t lo = 0, hi = p->nr_orig;

		if (!desc_is_orig(&p->d[i]))
			continue;
		while (lo < hi) {	/* p->orig is in address order */
			size_t mid = (lo + hi) / 2;

			if (p->orig[mid]->vm_start < p->d[i].start)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < p->nr_orig && p->orig[lo] == p->d[i].orig)
			keep[lo] = true;
	}
}

/*
 * A THP leaf must not straddle two VMAs (each would map part of it with
 * its own rights and flags): split any that a new VMA's edge falls inside,
 * as the kernel's vma_adjust_trans_huge. Nothing changes for an access:
 * the same pages stay mapped with the same rights.
 * Locking: mmap_lock (write), the VMAs concerned write-locked.
 */
static void split_leaves_at_edges(struct vma_plan *p)
{
	/*
	 * No THP ever mapped here, no leaf to cut: mmap and munmap skip the
	 * lookups. A leaf in a VMA this plan changes was mapped before the
	 * VMA was write-locked, so its thp_seen is seen here.
	 */
	if (!READ_ONCE(p->mm->thp_seen))
		return;
	for (size_t i = 0; i < p->nr; i++) {
		if (desc_is_orig(&p->d[i]))
			continue;
		split_huge_pmd_address(p->mm, p->d[i].start);
		split_huge_pmd_address(p->mm, p->d[i].end);
	}
}

int vma_plan_commit(struct vma_plan *p)
{
	struct vma_tree_range r_local[VMA_PLAN_LOCAL], *r = r_local;
	struct vm_area_struct *made_local[VMA_PLAN_LOCAL], **made = made_local;
	bool keep_local[VMA_PLAN_LOCAL] = { 0 }, *keep = keep_local;
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t nmade = 0, first = 0, last = p->nr, removed = 0;
	int err = -ENOMEM;

	if (!p->nr && !p->nr_orig)
		return 0;
	if (p->nr > VMA_PLAN_LOCAL) {
		r = calloc(p->nr, sizeof(*r));
		made = calloc(p->nr, sizeof(*made));
	}
	if (p->nr_orig > VMA_PLAN_LOCAL)
		keep = calloc(p->nr_orig, sizeof(*keep));
	if (!r || !made || !keep)
		goto out;
	for (size_t i = 0; i < p->nr; i++) {
		struct vm_area_struct *vma = p->d[i].orig;

		if (!desc_is_orig(&p->d[i])) {
			vma = vma_from_desc(p->mm, &p->d[i]);
			if (!vma)
				goto out;
			made[nmade++] = vma;
		}
		r[i] = (struct vma_tree_range){ vma->vm_start, vma->vm_end, vma };
	}
	/*
	 * Neighbours taken for a merge that did not happen stay out of the
	 * write: a change of one VMA, or of one gap, between two it leaves
	 * alone is then a store in place in the tree.
	 */
	while (first < last && desc_is_orig(&p->d[first]))
		first++;
	while (last > first && desc_is_orig(&p->d[last - 1]))
		last--;
	if (first < last) {
		lo = r[first].start;
		hi = r[last - 1].end;
	}
	plan_mark_kept(p, keep);
	for (size_t i = 0; i < p->nr_orig; i++) {
		if (keep[i])
			continue;
		removed++;
		lo = p->orig[i]->vm_start < lo ? p->orig[i]->vm_start : lo;
		hi = p->orig[i]->vm_end > hi ? p->orig[i]->vm_end : hi;
	}
	if (lo >= hi) {		/* nothing changes */
		err = 0;
		goto out;
	}
	split_leaves_at_edges(p);
	/*
	 * New VMAs are born write-locked (until mmap_lock is released), as
	 * the kernel's vma_link: a fault must not install entries in them
	 * while the caller still moves or clears what belongs there. A fresh
	 * mapping that replaces no VMA has nothing there to move or clear,
	 * and umm makes a VMA whole before publishing it, so it is born
	 * unlocked (and the cycle need not touch mm_lock_seq at all).
	 */
	for (size_t i = 0; i < nmade; i++) {
		if (!(p->fresh && removed == 0))
			WRITE_ONCE(made[i]->vm_lock_seq, mm_lock_seq_begin(p->mm));
		vma_mark_attached(made[i]);
		/* in i_mmap before any fault can map a page through it */
		vma_link_file(made[i]);
	}
	/* the kept ones inside [lo, hi) go back as they are */
	while (first > 0 && r[first - 1].end > lo)
		first--;
	while (last < p->nr && r[last].start < hi)
		last++;
	err = vma_tree_replace(&p->mm->mm_mt, lo, hi, r + first, last - first);
	if (err) {
		for (size_t i = 0; i < nmade; i++) {
			vma_unlink_file(made[i]);
			made[i]->vm_refcnt = 0;
		}
		goto out;
	}
	WRITE_ONCE(p->mm->map_count, p->mm->map_count + p->nr - p->nr_orig);
	for (size_t i = 0; i < p->nr_orig; i++) {
		struct vm_area_struct *vma = p->orig[i];

		if (keep[i])
			continue;
		vma_mark_detached(vma);
		p->orig[p->nr_dead++] = vma;	/* freed by vma_plan_release */
	}
	/*
	 * Out of the tree. A VMA whose replacements are in i_mmap already
	 * leaves it now, so an rmap walker misses no entry and never finds
	 * two VMAs over one entry for long; one whose range is to be zapped
	 * stays until the zap (vma_plan_unlink_dead): its entries may still
	 * be writable, and writeback must find them.
	 */
	if (!p->zap_after)
		vma_plan_unlink_dead(p);
	/* rmap walkers now find the new VMAs instead of those they replace */
	anon_vma_swap(made, nmade, p->orig, p->nr_dead);
	nmade = 0;	/* published */
out:
	for (size_t i = 0; i < nmade; i++)
		vm_area_free(made[i]);
	if (keep != keep_local)
		free(keep);
	if (made != made_local)
		free(made);
	if (r != r_local)
		free(r);
	return err;
}

/*
 * free_pgtables_bounds - the floor and ceiling for freeing the tables of
 * [start, end) once it is empty: the end of what stays below it and the
 * start of what stays above (a VMA straddling an edge keeps that edge).
 * Works on the tree before or after the range is emptied.
 * Locking: mmap_lock held for write.
 */
void free_pgtables_bounds(struct umm_mm *mm, uint64_t start, uint64_t end,
			  uint64_t *floor, uint64_t *ceiling)
{
	struct vma_tree_cursor c;
	uint64_t s, e;

	/* one descent for both sides; the tree's bounds spare a VMA miss each */
	vma_tree_cursor_init(&c, &mm->mm_mt);
	if (vma_tree_cursor_find_prev(&c, start, NULL, &e))
		*floor = e > start ? start : e;
	else
		*floor = 0;
	if (vma_tree_cursor_find_next(&c, end, &s, NULL))
		*ceiling = s < end ? end : s;
	else
		*ceiling = 0;
}
