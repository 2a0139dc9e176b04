// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mmap.c - umm_mmap and umm_munmap: checks in the kernel's order (so that
 * a call with several faults fails with the errno Linux gives), placement
 * (top-down from a fixed mmap_base, as Linux without randomisation, with
 * 2 MiB alignment of large anonymous mappings), and the layout change.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "memory.h"
#include "filemap.h"
#include "rmap.h"
#include "huge_memory.h"
#include "uapi_mman.h"

#define MAP_TYPE_MASK		0x0f
#define MAP_HUGE_MASK_BITS	(0x3fUL << 26)
#define MAP_ABOVE4G_BIT		0x80
/* What MAP_SHARED_VALIDATE accepts of a file system without MAP_SYNC. */
#define LEGACY_MAP_MASK	(MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | \
			 MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | \
			 MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | \
			 MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_32BIT | \
			 MAP_ABOVE4G_BIT | MAP_HUGE_MASK_BITS)
#define TASK_UNMAPPED_BASE(mm)	ALIGN_UP((mm)->task_size / 3, PAGE_SIZE)

/* ---- placement ---- */

/*
 * The highest [addr, addr + len) free within [low, high), keeping the
 * guard gap below a stack VMA. Locking: mmap_lock held.
 */
static int unmapped_area_topdown(struct umm_mm *mm, uint64_t len, uint64_t low,
				 uint64_t high, uint64_t *addr)
{
	for (;;) {
		struct vm_area_struct *next;
		uint64_t a, gap_end;

		if (high <= low || high - low < len)
			return -ENOMEM;
		if (vma_tree_gap_top_down(&mm->mm_mt, low, high, len, 0, &a))
			return -ENOMEM;
		gap_end = a + len;
		next = find_vma(mm, gap_end - 1);
		if (next && (next->vm_flags & VM_GROWSDOWN) &&
		    vm_start_gap(next) < gap_end) {
			high = vm_start_gap(next);
			continue;
		}
		*addr = a;
		return 0;
	}
}

static int unmapped_area_bottomup(struct umm_mm *mm, uint64_t len, uint64_t low,
				  uint64_t high, uint64_t *addr)
{
	for (;;) {
		struct vm_area_struct *next;
		uint64_t a;

		if (high <= low || high - low < len)
			return -ENOMEM;
		if (vma_tree_gap_bottom_up(&mm->mm_mt, low, high, len, 0, &a))
			return -ENOMEM;
		next = find_vma(mm, a + len - 1);
		if (next && (next->vm_flags & VM_GROWSDOWN) &&
		    vm_start_gap(next) < a + len) {
			low = next->vm_end;
			continue;
		}
		*addr = a;
		return 0;
	}
}

/* Is the hint usable: inside the space, not straddling the 47-bit window? */
static bool hint_valid(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	if (mm->task_size - len < addr)
		return false;
	return (addr > DEFAULT_MAP_WINDOW) == (addr + len > DEFAULT_MAP_WINDOW);
}

static bool range_free(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return !vma || addr + len <= vm_start_gap(vma);
}

/* the highest errno an address-or-error value can carry, as the kernel's */
#define MAX_ERRNO	4095

/* x86-64's arch_get_unmapped_area_topdown, without randomisation. */
static int arch_get_area(struct umm_mm *mm, uint64_t addr, uint64_t len,
			 int flags, uint64_t *res)
{
	uint64_t high = mm->mmap_base;

	if (flags & MAP_32BIT) {
		/* legacy bottom-up area below 2 GiB */
		if (addr) {
			addr = ALIGN_UP(addr, PAGE_SIZE);
			if (0x80000000UL - len >= addr && range_free(mm, addr, len)) {
				*res = addr;
				return 0;
			}
		}
		return unmapped_area_bottomup(mm, len, 0x40000000UL, 0x80000000UL, res);
	}
	if (addr) {
		addr &= PAGE_MASK;
		if (hint_valid(mm, addr, len) && range_free(mm, addr, len)) {
			*res = addr;
			return 0;
		}
		if (addr > DEFAULT_MAP_WINDOW)
			high += mm->task_size - DEFAULT_MAP_WINDOW;
	}
	if (!unmapped_area_topdown(mm, len, PAGE_SIZE > MMAP_MIN_ADDR ? PAGE_SIZE :
				   MMAP_MIN_ADDR, high, res))
		return 0;
	/* A full top-down area falls back to the legacy bottom-up one. */
	return unmapped_area_bottomup(mm, len, TASK_UNMAPPED_BASE(mm),
				      mm->task_size < DEFAULT_MAP_WINDOW ?
				      mm->task_size : DEFAULT_MAP_WINDOW, res);
}

/*
 * Large mappings get a 2 MiB-aligned address (relative to their file
 * offset) so that they can be backed by huge pages: look for len + 2 MiB
 * and take the highest suitably aligned start inside, as the kernel's
 * __thp_get_unmapped_area; a hint that fits is taken as it is.
 */
static int thp_get_area(struct umm_mm *mm, uint64_t addr, uint64_t len, uint64_t off,
			int flags, uint64_t *res)
{
	uint64_t off_end = off + len, off_align = ALIGN_UP(off, PMD_SIZE);
	uint64_t ret, off_sub, len_pad = len + PMD_SIZE;

	if (off_end <= off_align || off_end - off_align < PMD_SIZE ||
	    len_pad < len || off + len_pad < off ||
	    arch_get_area(mm, addr, len_pad, flags, &ret))
		return arch_get_area(mm, addr, len, flags, res);
	if (ret == addr) {
		*res = addr;
		return 0;
	}
	off_sub = (off - ret) & (PMD_SIZE - 1);
	*res = off_sub ? ret + off_sub : ret + PMD_SIZE;
	return 0;
}

/*
 * Which placement a mapping gets: the file system's (ext4 and xfs align
 * large file mappings; shmem with huge pages off does not), and for
 * private anonymous memory THP alignment of a size in whole 2 MiB.
 */
static bool wants_thp_area(uint64_t addr, uint64_t len, int flags,
			   struct umm_file *file)
{
	if (file)
		return file->f_mapping->thp_align;
	return (flags & MAP_TYPE_MASK) != MAP_SHARED && !addr &&
	       IS_ALIGNED(len, PMD_SIZE) && !(flags & MAP_32BIT);
}

/*
 * get_unmapped_area - choose (or check) where a mapping of @len goes.
 * Locking: mmap_lock held for write.
 * Return: the address, with *@err 0; or *@err = -ENOMEM/-EINVAL.
 */
uint64_t get_unmapped_area(struct umm_mm *mm, uint64_t addr, uint64_t len,
			   uint64_t pgoff, int flags, struct umm_file *file, int *err)
{
	uint64_t res = addr;

	*err = 0;
	if (len > mm->task_size) {
		*err = -ENOMEM;
		return 0;
	}
	if (!(flags & MAP_FIXED)) {
		*err = wants_thp_area(addr, len, flags, file) ?
		       thp_get_area(mm, addr, len, file ? pgoff << PAGE_SHIFT : 0, flags, &res) :
		       arch_get_area(mm, addr, len, flags, &res);
		if (*err)
			return 0;
	}
	/*
	 * The kernel's placement hooks return an address or -errno in one
	 * unsigned long, and hand a MAP_FIXED address back as it came: one
	 * of the last 4095 addresses is taken for an error number before
	 * the range check (mmap(-1, ..., MAP_FIXED) is -EPERM on Linux).
	 */
	if (res >= (uint64_t)-MAX_ERRNO) {
		*err = (int)(int64_t)res;
		return 0;
	}
	if (res > mm->task_size - len) {
		*err = -ENOMEM;
		return 0;
	}
	if (res & ~PAGE_MASK) {
		*err = -EINVAL;
		return 0;
	}
	return res;
}

/* ---- flags ---- */

static unsigned long calc_vm_prot_bits(int prot)
{
	return ((prot & PROT_READ) ? VM_READ : 0) |
	       ((prot & PROT_WRITE) ? VM_WRITE : 0) |
	       ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

static unsigned long calc_vm_flag_bits(int flags)
{
	return ((flags & MAP_GROWSDOWN) ? VM_GROWSDOWN : 0) |
	       ((flags & MAP_LOCKED) ? VM_LOCKED : 0) |
	       ((flags & MAP_SYNC) ? VM_SYNC : 0) |
	       ((flags & MAP_STACK) ? VM_NOHUGEPAGE : 0);
}

/* Private writable memory is charged (VM_ACCOUNT), unless MAP_NORESERVE. */
static bool accountable_mapping(unsigned long vm_flags)
{
	return (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE;
}

/* ---- the layout change ---- */

/*
 * Take [start, end) out of the plan: split the VMAs straddling its ends
 * and drop the descriptions inside. Return: 0 or -ENOMEM.
 */
static int plan_punch(struct vma_plan *p, uint64_t start, uint64_t end)
{
	size_t i, j;

	if (vma_plan_split(p, start) || vma_plan_split(p, end))
		return -ENOMEM;
	i = vma_plan_find(p, start);
	for (j = i; j < p->nr && p->d[j].start < end; j++)
		;
	vma_plan_delete_range(p, i, j);
	return 0;
}

/* A split inside one VMA adds a VMA: refused at max_map_count. */
static bool split_would_exceed(struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct vm_area_struct *vma = find_vma(mm, start);

	return vma && vma->vm_start < start && end < vma->vm_end &&
	       mm->map_count >= mm->max_map_count;
}

/*
 * mmap_region - map [addr, addr + len) with @vm_flags, replacing what was
 * there (MAP_FIXED), merging with neighbours where the kernel would.
 * Locking: mmap_lock held for write.
 */
static int64_t mmap_region(struct umm_mm *mm, struct umm_file *file, uint64_t addr,
			   uint64_t len, unsigned long vm_flags, uint64_t pgoff)
{
	uint64_t end = addr + len, floor, ceiling;
	struct vma_plan p;
	struct vma_desc d = {
		.start = addr, .end = end, .pgoff = pgoff, .file = file,
		.touched = true,
	};
	bool replaced;
	int err;

	if (split_would_exceed(mm, addr, end))
		return -ENOMEM;
	err = munmap_sealed(mm, addr, end);
	if (err)
		return err;
	if (accountable_mapping(vm_flags))
		vm_flags |= VM_ACCOUNT;
	d.flags = vm_flags;
	err = vma_plan_init_for(&p, mm, &d);
	if (err)
		goto out;
	replaced = find_vma_intersection(mm, addr, end) != NULL;
	p.fresh = !replaced;
	free_pgtables_bounds(mm, addr, end, &floor, &ceiling);
	err = plan_punch(&p, addr, end);
	if (err)
		goto out;
	err = vma_plan_insert(&p, vma_plan_find(&p, addr), &d);
	if (err)
		goto out;
	vma_plan_merge(&p);
	/*
	 * __mmap_complete(): memory mlock does not lock (droppable, special)
	 * loses what mlockall(MCL_FUTURE) gave it - after the merge, which
	 * saw VM_LOCKED, so it stays apart from its unlocked neighbours. The
	 * caller still faults it in (its vm_flags had VM_LOCKED), now that
	 * VM_LOCKONFAULT no longer holds that back.
	 */
	if ((vm_flags & VM_LOCKED) && !vma_supports_mlock(vm_flags)) {
		struct vma_desc *nd = &p.d[vma_plan_find(&p, addr)];

		nd->flags &= ~(VM_LOCKED | VM_LOCKONFAULT);
	}
	p.zap_after = replaced;
	err = vma_plan_commit(&p);
	/*
	 * The new VMA is published write-locked, so no fault runs in the
	 * range until mmap_lock goes: clear what the old VMAs left there. Only
	 * after the commit, so that a failed commit loses nothing. A file VMA
	 * is in i_mmap already, where rmap walkers that take no mmap_lock
	 * (truncation, retract_page_tables) would find the tables being freed:
	 * they are kept out meanwhile. (The kernel links the new VMA only
	 * after this; the old VMAs it replaces are unlinked already.)
	 */
	if (!err && replaced) {
		if (file)
			down_write(&file->f_mapping->i_mmap_rwsem);
		for (size_t i = 0; i < p.nr_dead; i++)
			unmap_locked_vma(p.orig[i], addr, end);
		unmap_range_pages(mm, addr, end);
		if (file)
			up_write(&file->f_mapping->i_mmap_rwsem);
		/* zapped: the old VMAs leave i_mmap (no two files' locks nest) */
		vma_plan_unlink_dead(&p);
		if (file)
			down_write(&file->f_mapping->i_mmap_rwsem);
		free_pgtables(mm, addr, end, floor, ceiling);
		if (file)
			up_write(&file->f_mapping->i_mmap_rwsem);
	}
out:
	vma_plan_release(&p);
	return err ? err : (int64_t)addr;
}

/* The largest file offset a regular file can have (MAX_LFS_FILESIZE). */
#define MAX_FILE_BYTES	((uint64_t)INT64_MAX)

/* file_mmap_ok: the mapping's file range must exist in a regular file. */
static bool file_mmap_ok(uint64_t pgoff, uint64_t len)
{
	uint64_t maxsize = MAX_FILE_BYTES;

	if (len > maxsize)
		return false;
	maxsize -= len;
	return pgoff <= maxsize >> PAGE_SHIFT;
}

/*
 * The file half of do_mmap's checks, in its order: the mapping type, the
 * file's open mode against the rights asked for, a noexec mount.
 * MAP_SHARED on a file opened read-only keeps VM_MAYSHARE (maps shows
 * 's') but never VM_SHARED or VM_MAYWRITE.
 */
static int mmap_file_flags(struct umm_file *file, uint64_t pgoff, uint64_t len,
			   int prot, int flags, unsigned long *vm_flags)
{
	if (!file_mmap_ok(pgoff, len))
		return -EOVERFLOW;
	switch (flags & MAP_TYPE_MASK) {
	case MAP_SHARED:
	case MAP_SHARED_VALIDATE:
		if ((flags & MAP_TYPE_MASK) == MAP_SHARED_VALIDATE &&
		    (flags & ~LEGACY_MAP_MASK))
			return -EOPNOTSUPP;
		if ((prot & PROT_WRITE) && !(file->f_mode & FMODE_WRITE))
			return -EACCES;
		*vm_flags |= VM_SHARED | VM_MAYSHARE;
		if (!(file->f_mode & FMODE_WRITE))
			*vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
		else if (mapping_needs_writeback(file->f_mapping))
			*vm_flags |= VM_WRITENOTIFY;
		/* fall through */
	case MAP_PRIVATE:
		if (!(file->f_mode & FMODE_READ))
			return -EACCES;
		if (file->noexec) {
			if (*vm_flags & VM_EXEC)
				return -EPERM;
			*vm_flags &= ~VM_MAYEXEC;
		}
		if (*vm_flags & VM_GROWSDOWN)
			return -EINVAL;
		/*
		 * ext4's and xfs's ->mmap, last: MAP_SYNC (even ignored by a
		 * private or legacy shared mapping) needs DAX.
		 */
		if ((*vm_flags & VM_SYNC) && file->f_mapping->sync_checked)
			return -EOPNOTSUPP;
		return 0;
	default:
		return -EINVAL;
	}
}

/* The anonymous half of do_mmap's checks. */
static int mmap_anon_flags(uint64_t addr, int flags, unsigned long *vm_flags,
			   uint64_t *pgoff)
{
	switch (flags & MAP_TYPE_MASK) {
	case MAP_SHARED:
		if (*vm_flags & VM_GROWSDOWN)
			return -EINVAL;
		*pgoff = 0;
		*vm_flags |= VM_SHARED | VM_MAYSHARE;
		return 0;
	case MAP_DROPPABLE:
		if ((flags & (MAP_LOCKED | MAP_HUGETLB)) || (*vm_flags & VM_GROWSDOWN))
			return -EINVAL;
		*vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
		*pgoff = addr >> PAGE_SHIFT;
		return 0;
	case MAP_PRIVATE:
		*pgoff = addr >> PAGE_SHIFT;
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * do_mmap - the kernel's do_mmap, checks in its order; @file NULL for
 * anonymous memory. Locking: mmap_lock held for write.
 */
static int64_t do_mmap(struct umm_mm *mm, struct umm_file *file, uint64_t addr,
		       uint64_t len, int prot, int flags, uint64_t pgoff,
		       uint64_t *populate)
{
	unsigned long vm_flags;
	int64_t ret;
	int err;

	if (!len)
		return -EINVAL;
	if (flags & MAP_FIXED_NOREPLACE)
		flags |= MAP_FIXED;
	if (!(flags & MAP_FIXED)) {
		/* round_hint_to_min: 0 stays "no hint" */
		addr &= PAGE_MASK;
		if (addr && addr < MMAP_MIN_ADDR)
			addr = MMAP_MIN_ADDR;
	}
	len = ALIGN_UP(len, PAGE_SIZE);
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	if (mm->map_count > mm->max_map_count)
		return -ENOMEM;
	vm_flags = calc_vm_prot_bits(prot) | calc_vm_flag_bits(flags) | mm->def_flags |
		   VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
	addr = get_unmapped_area(mm, addr, len, pgoff, flags, file, &err);
	if (err)
		return err;
	if ((flags & MAP_FIXED_NOREPLACE) && find_vma_intersection(mm, addr, addr + len))
		return -EEXIST;
	err = file ? mmap_file_flags(file, pgoff, len, prot, flags, &vm_flags) :
		     mmap_anon_flags(addr, flags, &vm_flags, &pgoff);
	if (err)
		return err;
	if (flags & MAP_NORESERVE)
		vm_flags |= VM_NORESERVE;
	if (!file && (vm_flags & VM_SHARED)) {
		file = shmem_zero_setup(len);
		if (!file)
			return -ENOMEM;
	} else {
		get_file(file);
	}
	ret = mmap_region(mm, file, addr, len, vm_flags, pgoff);
	fput(file);
	if (ret >= 0 && ((vm_flags & VM_LOCKED) ||
			 (flags & (MAP_POPULATE | MAP_NONBLOCK)) == MAP_POPULATE))
		*populate = len;
	return ret;
}

__visible int64_t umm_mmap(struct umm_mm *mm, uint64_t addr, uint64_t len, int prot,
			   int flags, struct umm_file *file, uint64_t off)
{
	uint64_t populate = 0;
	int64_t ret;

	if (!mm)
		return -EINVAL;
	if (off & ~PAGE_MASK)
		return -EINVAL;
	/* as Linux, which ignores the fd of an anonymous mapping */
	if (flags & MAP_ANONYMOUS)
		file = NULL;
	else if (!file)
		return -EBADF;
	/*
	 * hugetlbfs is not implemented: answer as a kernel built without it,
	 * which finds no huge page size for the request.
	 */
	if (flags & MAP_HUGETLB)
		return -EINVAL;
	mmap_write_lock(mm);
	ret = do_mmap(mm, file, addr, len, prot, flags, off >> PAGE_SHIFT, &populate);
	/* with THPs always on, a private anonymous VMA that holds a block may */
	if (ret >= 0 && mm->thp == UMM_THP_ALWAYS && !file && !(flags & MAP_SHARED) &&
	    ALIGN_UP((uint64_t)ret, PMD_SIZE) + PMD_SIZE <= (uint64_t)ret + len)
		khugepaged_enter(mm);
	mmap_write_unlock(mm);
	if (ret >= 0 && populate)
		mm_populate(mm, ret, populate);
	return ret;
}

/*
 * do_munmap - remove [start, start + len). Locking: mmap_lock for write.
 */
int do_munmap(struct umm_mm *mm, uint64_t start, uint64_t len)
{
	uint64_t end, floor, ceiling;
	struct vma_plan p;
	int err;

	if ((start & ~PAGE_MASK) || start > mm->task_size || len > mm->task_size - start)
		return -EINVAL;
	len = ALIGN_UP(len, PAGE_SIZE);
	end = start + len;
	if (!len)
		return -EINVAL;
	if (!find_vma_intersection(mm, start, end))
		return 0;
	if (split_would_exceed(mm, start, end))
		return -ENOMEM;
	err = munmap_sealed(mm, start, end);
	if (err)
		return err;
	err = vma_plan_init(&p, mm, start, end, false);
	if (!err)
		err = plan_punch(&p, start, end);
	p.zap_after = true;
	if (!err)
		err = vma_plan_commit(&p);
	if (err) {
		vma_plan_release(&p);
		return err;
	}
	free_pgtables_bounds(mm, start, end, &floor, &ceiling);
	/* Out of the tree: no new fault can reach the range now. */
	for (size_t i = 0; i < p.nr_dead; i++)
		unmap_locked_vma(p.orig[i], start, end);
	unmap_range_pages(mm, start, end);
	/* zapped: rmap walkers may stop finding the range, then it goes */
	vma_plan_unlink_dead(&p);
	free_pgtables(mm, start, end, floor, ceiling);
	vma_plan_release(&p);	/* after the zap: see there */
	return 0;
}

__visible int umm_munmap(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	int ret;

	if (!mm)
		return -EINVAL;
	mmap_write_lock(mm);
	ret = do_munmap(mm, addr, len);
	mmap_write_unlock(mm);
	return ret;
}

/* The kernel's acct_stack_growth(), for the limits umm keeps. */
static int acct_stack_growth(struct vm_area_struct *vma, uint64_t size)
{
	if (size > vma->vm_mm->stack_limit)
		return -ENOMEM;
	return 0;
}

int expand_downwards(struct vm_area_struct *vma, uint64_t addr)
{
	struct umm_mm *mm = vma->vm_mm;
	struct vm_area_struct *prev;
	struct vma_plan p;
	uint64_t grow;
	int err;

	mmap_assert_write_locked(mm);
	if (!(vma->vm_flags & VM_GROWSDOWN))
		return -EFAULT;
	addr &= PAGE_MASK;
	if (addr < MMAP_MIN_ADDR)
		return -EPERM;
	if (addr >= vma->vm_start)
		return 0;
	/* the guard gap, kept from any accessible VMA below but a stack */
	find_vma_prev(mm, vma->vm_start, &prev);
	if (prev && !(prev->vm_flags & VM_GROWSDOWN) &&
	    (prev->vm_flags & VM_ACCESS_FLAGS) &&
	    (addr < prev->vm_end || addr - prev->vm_end < STACK_GUARD_GAP))
		return -ENOMEM;
	if (prev && addr < prev->vm_end)
		return -ENOMEM;		/* a stack below, or nothing to grow into */
	/*
	 * Its pages keep their anon_vma: the new VMA must have it. As the
	 * kernel, before the offset and limit checks: a growth they refuse
	 * still leaves the VMA an anon_vma (faulted, for merges and mremap).
	 */
	if (anon_vma_prepare(vma))
		return -ENOMEM;
	grow = (vma->vm_start - addr) >> PAGE_SHIFT;
	if (grow > vma->vm_pgoff)
		return -ENOMEM;
	err = acct_stack_growth(vma, vma->vm_end - addr);
	if (err)
		return err;
	err = vma_plan_init(&p, mm, vma->vm_start, vma->vm_end, false);
	if (!err) {
		p.d[0].start = addr;
		p.d[0].pgoff -= grow;
		p.d[0].anon_vma = vma->anon_vma;
		err = vma_plan_commit(&p);	/* no merge: the kernel has none */
	}
	vma_plan_release(&p);
	return err;
}

int mmap_insert_range(struct umm_mm *mm, const struct vma_desc *d)
{
	struct vma_plan p;
	int err;

	err = vma_plan_init(&p, mm, d->start, d->end, true);
	if (!err)
		err = vma_plan_insert(&p, vma_plan_find(&p, d->start), d);
	if (!err) {
		vma_plan_merge(&p);
		err = vma_plan_commit(&p);
	}
	vma_plan_release(&p);
	return err;
}

/*
 * mm_take_all_locks - shut out everything that can change @mm's entries,
 * for a new mmu notifier: every invalidation of @mm runs under its
 * mmap_lock, a VMA's lock (faults), the i_mmap_rwsem of the file it
 * maps (truncation, khugepaged's retraction, writeback's cleaning) or the
 * anon_vma lock of an anonymous folio's split through rmap, so with all
 * of them held none is half done. mm_all_locks_mutex orders two callers'
 * sets of i_mmap_rwsems and anon_vma locks, which may be shared.
 * Locking: mmap_lock held for write; takes mm_all_locks_mutex, write-locks
 * every VMA (until mmap_write_unlock) and takes each mapped file's
 * i_mmap_rwsem and each anon_vma root's rwsem for write;
 * mm_drop_all_locks() gives back all but the VMA locks.
 * Return: 0, or -ENOMEM with nothing taken.
 */
static pthread_mutex_t mm_all_locks_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t mm_all_locks_once = PTHREAD_ONCE_INIT;

/*
 * Held across a host fork(), so the child does not inherit it locked by a
 * registering thread it does not have. Registered after the allocator's
 * handlers, this prepare runs before theirs: a registration it waits for
 * may wait for faults, which may need the allocator.
 * Locking: prepare takes mm_all_locks_mutex; parent and child drop it.
 */
static void mm_all_locks_prepare(void)
{
	pthread_mutex_lock(&mm_all_locks_mutex);
}

static void mm_all_locks_release(void)
{
	pthread_mutex_unlock(&mm_all_locks_mutex);
}

static void mm_all_locks_init(void)
{
	pthread_atfork(mm_all_locks_prepare, mm_all_locks_release, mm_all_locks_release);
}

static int root_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(struct anon_vma *const *)a;
	uintptr_t y = (uintptr_t)*(struct anon_vma *const *)b;

	return x < y ? -1 : x > y;
}

/*
 * The anon_vma roots of @mm's VMAs, sorted by address (repeats kept), in
 * a new array (*@nr entries) for free(), or NULL with -ENOMEM.
 * Locking: mmap_lock held for write.
 */
static int mm_anon_roots(struct umm_mm *mm, struct anon_vma ***rootsp, size_t *nr)
{
	struct vm_area_struct *vma;
	struct anon_vma **roots;
	size_t n = 0;

	for (vma = find_vma(mm, 0); vma; vma = vma_next_of(mm, vma))
		n += !!vma->anon_vma;
	roots = malloc((n ? n : 1) * sizeof(*roots));
	if (!roots)
		return -ENOMEM;
	n = 0;
	for (vma = find_vma(mm, 0); vma; vma = vma_next_of(mm, vma))
		if (vma->anon_vma)
			roots[n++] = vma->anon_vma->root;
	qsort(roots, n, sizeof(*roots), root_cmp);
	*rootsp = roots;
	*nr = n;
	return 0;
}

int mm_take_all_locks(struct umm_mm *mm)
{
	struct vm_area_struct *vma;
	struct anon_vma **roots;
	size_t nr;

	mmap_assert_write_locked(mm);
	if (mm_anon_roots(mm, &roots, &nr))
		return -ENOMEM;
	pthread_once(&mm_all_locks_once, mm_all_locks_init);
	pthread_mutex_lock(&mm_all_locks_mutex);
	/* every VMA first: the lock order puts i_mmap_rwsem inside them */
	for (vma = find_vma(mm, 0); vma; vma = vma_next_of(mm, vma))
		vma_start_write(vma);
	for (vma = find_vma(mm, 0); vma; vma = vma_next_of(mm, vma)) {
		/* once per inode: VMAs of two opens share its mapping */
		struct address_space *m = vma->vm_file ? vma->vm_file->f_mapping : NULL;

		if (m && !m->mm_all_locks) {
			down_write(&m->i_mmap_rwsem);
			m->mm_all_locks = true;
		}
	}
	/*
	 * Then each anon_vma family's root, once: an rmap walker from
	 * another mm (split_anon_folio) tells this mm's notifiers about a
	 * change with no lock of this mm but that one. In address order, so
	 * that two callers (serialised by the mutex anyway) never nest two
	 * roots both ways.
	 */
	for (size_t i = 0; i < nr; i++) {
		if (!roots[i]->mm_all_locks) {
			down_write(&roots[i]->rwsem);
			roots[i]->mm_all_locks = true;
		}
	}
	free(roots);
	return 0;
}

void mm_drop_all_locks(struct umm_mm *mm)
{
	struct vm_area_struct *vma;

	mmap_assert_write_locked(mm);
	for (vma = find_vma(mm, 0); vma; vma = vma_next_of(mm, vma)) {
		struct address_space *m = vma->vm_file ? vma->vm_file->f_mapping : NULL;

		if (m && m->mm_all_locks) {
			m->mm_all_locks = false;
			up_write(&m->i_mmap_rwsem);
		}
	}
	for (vma = find_vma(mm, 0); vma; vma = vma_next_of(mm, vma)) {
		struct anon_vma *root = vma->anon_vma ? vma->anon_vma->root : NULL;

		if (root && root->mm_all_locks) {
			root->mm_all_locks = false;
			up_write(&root->rwsem);
		}
	}
	pthread_mutex_unlock(&mm_all_locks_mutex);
}
