/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * umm.h - Linux-compatible virtual address spaces in userspace.
 *
 * Every call may be made by any thread at any time, concurrently; callers
 * never register threads or hold locks. Calls that mirror a Linux system
 * call return what it returns, with errors as negative errno values (never
 * through errno). Only umm_mm_destroy() needs the caller to have stopped
 * using that mm. See docs/ and README.md for what is implemented so far.
 */
#ifndef UMM_UMM_H
#define UMM_UMM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umm_mm;				/* one address space */

/* umm_opts.thp */
#define UMM_THP_MADVISE		0	/* huge pages where MADV_HUGEPAGE asks */
#define UMM_THP_ALWAYS		1
#define UMM_THP_NEVER		2

/* umm_opts.flags */
#define UMM_NO_PER_VMA_LOCK	0x1u	/* every fault takes mmap_lock */
/*
 * Read faults on private anonymous memory allocate a zeroed frame instead
 * of mapping the shared zero page, as Linux does where mm_forbids_zeropage()
 * (s390 KVM guests) and on hosts built without it: the page then has an
 * anon_vma from the first read, which decides later merges and whether
 * mprotect keeps VM_ACCOUNT. A THP split then keeps its zero-filled pages
 * too (as mm_forbids_zeropage() makes it).
 */
#define UMM_NO_ZERO_PAGE	0x2u

/* umm_fault() access bits */
#define UMM_READ		0x1u
#define UMM_WRITE		0x2u
#define UMM_EXEC		0x4u

struct umm_opts {		/* all-zero = defaults; NULL = defaults */
	uint32_t size;		/* sizeof(struct umm_opts); 0: the fields up to flags */
	uint32_t pgtable_levels; /* 0 or 4: 4-level (47-bit); 5: 5-level (56-bit) */
	uint64_t max_map_count;	/* 0: 65,530, as Linux */
	uint64_t phys_limit;	/* bytes of frames this mm may hold; 0: no own limit */
	int thp;		/* UMM_THP_MADVISE (0), UMM_THP_ALWAYS, UMM_THP_NEVER */
	unsigned flags;		/* UMM_NO_PER_VMA_LOCK, UMM_NO_ZERO_PAGE */
	/*
	 * The size a MAP_GROWSDOWN stack may reach by faults below it, as
	 * RLIMIT_STACK; 0: 8 MiB (Linux's default), UINT64_MAX: unlimited.
	 * Read only when size covers it (set size = sizeof(struct umm_opts)).
	 */
	uint64_t stack_limit;
};

/*
 * umm_mm_create - a new, empty address space.
 * Return: the mm, or NULL with errno set (the one call that reports
 * through errno, as it returns a pointer): EINVAL for bad options
 * (levels other than 0/4/5, unknown thp mode or flags, size too small),
 * E2BIG for a larger struct umm_opts with unknown non-zero fields, ENOMEM.
 */
struct umm_mm *umm_mm_create(const struct umm_opts *opts);

/*
 * umm_mm_destroy - free the address space, every page table and every
 * frame only it held. NULL is ignored.
 */
void umm_mm_destroy(struct umm_mm *mm);

/*
 * umm_fork - a copy of @parent as fork(2) makes one: private memory shared
 * copy-on-write, shared memory shared, MADV_DONTFORK ranges left out,
 * MADV_WIPEONFORK ranges empty; same options (limits count separately).
 * Return: 0 with *@child set, -EINVAL, -ENOMEM.
 */
int umm_fork(struct umm_mm *parent, struct umm_mm **child);

/*
 * The memory-map calls: same arguments as the Linux system calls (prot,
 * flags and advice take the host's <sys/mman.h> values) and the same
 * results: the address or 0 on success, -errno on failure, with the
 * address space left unchanged by a call that fails on bad input.
 * file is NULL for anonymous mappings (and ignored with MAP_ANONYMOUS);
 * without MAP_ANONYMOUS a NULL file is -EBADF, as fd -1 is on Linux.
 */
struct umm_file;
int64_t umm_mmap(struct umm_mm *mm, uint64_t addr, uint64_t len, int prot,
		 int flags, struct umm_file *file, uint64_t off);
int umm_munmap(struct umm_mm *mm, uint64_t addr, uint64_t len);
int umm_mprotect(struct umm_mm *mm, uint64_t addr, uint64_t len, int prot);
int64_t umm_mremap(struct umm_mm *mm, uint64_t old_addr, uint64_t old_len,
		   uint64_t new_len, int flags, uint64_t new_addr);
int umm_madvise(struct umm_mm *mm, uint64_t addr, uint64_t len, int advice);
/*
 * umm_mseal - mseal(2) (Linux 6.10+): seal the VMAs of [addr, addr + len),
 * which must be mapped throughout (-ENOMEM), flags 0 (-EINVAL). A sealed
 * VMA cannot be unmapped, mapped over, moved, resized or mprotected
 * (-EPERM), nor its data discarded by madvise when it is private
 * anonymous memory without PROT_WRITE; smaps shows "sl". Fork keeps it.
 */
int umm_mseal(struct umm_mm *mm, uint64_t addr, uint64_t len, unsigned long flags);
/*
 * umm_mlock, umm_mlock2, umm_munlock, umm_mlockall, umm_munlockall - as
 * mlock(2) and friends, for a process with CAP_IPC_LOCK (no
 * RLIMIT_MEMLOCK): VM_LOCKED (MLOCK_ONFAULT, MCL_ONFAULT: and
 * VM_LOCKONFAULT) set or cleared on the VMAs of the range, split and
 * merged as Linux does, then the range faulted in (not for "on fault").
 * The range starts at the page holding @addr. A hole at @addr changes
 * nothing; one further on ends the call after the VMAs before it
 * (-ENOMEM both). A fault-in that fails reports -ENOMEM (a PROT_NONE VMA,
 * or past the end of a file) or -EAGAIN (out of memory), the flags
 * staying. MCL_FUTURE locks every later mapping of @mm (not of a fork's
 * child). Return: 0 or -errno (-EINVAL for bad flags or a wrapping range).
 */
int umm_mlock(struct umm_mm *mm, uint64_t addr, uint64_t len);
int umm_mlock2(struct umm_mm *mm, uint64_t addr, uint64_t len, unsigned int flags);
int umm_munlock(struct umm_mm *mm, uint64_t addr, uint64_t len);
int umm_mlockall(struct umm_mm *mm, int flags);
int umm_munlockall(struct umm_mm *mm);

/*
 * umm_msync - msync(2): MS_SYNC writes the dirty pages of shared file
 * mappings in the range back to their host file and waits; MS_ASYNC only
 * checks, as on Linux since 2.6.19.
 */
int umm_msync(struct umm_mm *mm, uint64_t addr, uint64_t len, int flags);

/*
 * Files. A umm_file is one open of a file, shared by every mapping of it
 * in every mm; it lives until umm_file_put() and the last mapping are
 * gone. Opens of one host inode share its page cache, as on Linux.
 *
 * umm_file_create - a memory-backed file (tmpfs/memfd-like) of @size
 * bytes, named in maps "/memfd:NAME (deleted)". @flags: UMM_FILE_DAX is
 * not yet supported (EOPNOTSUPP). Return: the file, or NULL with errno
 * EINVAL (no name, a name with '/' or longer than 249), EFBIG, ENOMEM.
 *
 * umm_file_from_fd - a host file behind umm's page cache: pages are read
 * with pread on first touch and written back with pwrite by MS_SYNC, when
 * a writable open's last reference goes and when the inode's last open
 * goes. Every umm_file_from_fd() of the same host inode (st_dev, st_ino)
 * while another open of it lives shares that open's page cache: the
 * mappings of all of them see the same pages, and truncation, msync and
 * dirty tracking through one reach them all. umm keeps its own duplicate
 * of @fd (the caller may close its own). @oflags' access mode (O_RDONLY,
 * O_WRONLY, O_RDWR) is what mappings may do, as a file's open mode is
 * on Linux (MAP_SHARED with PROT_WRITE needs O_RDWR, any mapping needs
 * read access). Changes made to the file behind umm's back are not seen
 * in pages already cached. Return: the file, or NULL with errno EBADF
 * (not an open fd), EACCES (@oflags asks more than @fd allows), EINVAL,
 * ENODEV (not a regular file), ENOMEM.
 *
 * umm_file_truncate - ftruncate(2) of the inode: pages past the new end
 * leave every mapping of every open of it (later accesses there fault
 * with -EIO, SIGBUS on Linux) and the cache. Return: 0, -EINVAL (@f not
 * open for writing, size too large), or the host ftruncate's -errno.
 */
#define UMM_FILE_DAX		0x1u
struct umm_file *umm_file_create(const char *name, uint64_t size, unsigned flags);
struct umm_file *umm_file_from_fd(int fd, int oflags);
int umm_file_truncate(struct umm_file *f, uint64_t size);
void umm_file_put(struct umm_file *f);

/*
 * Dirty tracking of a file's shared mappings, for a caller that keeps its
 * own record of what was written (the kernel's mapping_dirty_helpers):
 * over file pages [first_index, first_index + nr), in every mm and every
 * shared writable mapping of @f (private ones are skipped; Linux's walk
 * would end at the first). Mappings to the pages go on; translations cached
 * before the call are dropped before it returns, and notifiers are told.
 *
 * umm_wp_shared_mapping_range - write-protect the entries, so that the next
 * write to each page faults. Return: entries write-protected (those that
 * already were are not counted); 0 for a NULL file or an empty range.
 *
 * umm_clean_record_shared_mapping_range - clean the dirty entries and set,
 * for each, bit (file page - @bitmap_pgoff) in @bitmap, which must cover
 * the range; *@start and *@end (as bit numbers, [start, end), start >= end
 * for none) grow to cover the bits set. Return: entries cleaned; 0 and
 * nothing done for NULL arguments, an empty range or @bitmap_pgoff above
 * @first_index.
 */
/*
 * umm_pagemap - /proc/PID/pagemap for pages [addr, addr + npages * 4096):
 * one 64-bit entry a page, as Linux's: bit 63 present, 61 a file or
 * shared-memory page, 56 mapped only here, bits 0-54 umm's frame number
 * (shown, as to a privileged reader); 0 for holes and pages not present.
 * No soft-dirty bit (bit 55), as on kernels without CONFIG_MEM_SOFT_DIRTY.
 * Return: 0; -EINVAL for an unaligned @addr or a range past user space;
 * -EFAULT for a NULL @out with pages to report.
 */
int umm_pagemap(struct umm_mm *mm, uint64_t addr, uint64_t npages, uint64_t *out);

/*
 * umm_smaps - /proc/PID/smaps to @out, byte for byte as Linux prints it
 * (no ProtectionKey line, as on hosts without protection keys). Counts
 * are what this mm maps now: Rss, Pss (a page mapped n times counts 1/n),
 * clean and dirty, shared (mapped more than once) and private, referenced,
 * anonymous, locked; THPeligible by the mm's THP mode. Return: 0,
 * -EINVAL, -EIO when @out fails.
 */
int umm_smaps(struct umm_mm *mm, FILE *out);

/*
 * umm_clear_refs - a write of @type to /proc/PID/clear_refs: 1 makes every
 * page's entry old (smaps' Referenced drops to 0 until pages are touched
 * again), 2 only in anonymous VMAs, 3 only in VMAs of a file (shared
 * anonymous memory counts as one); 4 (soft-dirty) changes nothing, as on
 * kernels without CONFIG_MEM_SOFT_DIRTY, but notifiers are told about the
 * whole address space; 5 would reset the peak RSS, which umm does not keep.
 * Cached translations are dropped, so the next access marks a page again.
 * Return: 0; -EINVAL for a NULL @mm or another @type.
 */
int umm_clear_refs(struct umm_mm *mm, int type);

uint64_t umm_wp_shared_mapping_range(struct umm_file *f, uint64_t first_index,
				     uint64_t nr);
uint64_t umm_clean_record_shared_mapping_range(struct umm_file *f,
		uint64_t first_index, uint64_t nr, uint64_t bitmap_pgoff,
		unsigned long *bitmap, uint64_t *start, uint64_t *end);

/*
 * umm_fault - resolve a fault at @addr for @access (UMM_READ, UMM_WRITE,
 * UMM_EXEC), as the CPU would raise it; below a MAP_GROWSDOWN VMA it grows
 * the stack first, as Linux does. Return: 0; -EFAULT where Linux
 * would raise SIGSEGV; -EIO where it would raise SIGBUS; -ENOMEM when out
 * of frames; -EINVAL for no or unknown access bits.
 */
int umm_fault(struct umm_mm *mm, uint64_t addr, unsigned access);

/*
 * umm_read / umm_write - copy between the address space and the caller's
 * memory as process_vm_readv/process_vm_writev do: fault pages in, cross
 * page and VMA boundaries, and need the VMA's read (write) right.
 * Return: the bytes copied, which is short when an inaccessible page
 * stops the copy; -EFAULT when not even the first byte could be copied
 * (-ENOMEM when out of frames); -EINVAL for a NULL buffer with a length
 * or a length above INT64_MAX (nothing copied).
 */
int64_t umm_read(struct umm_mm *mm, uint64_t addr, void *dst, size_t len);
int64_t umm_write(struct umm_mm *mm, uint64_t addr, const void *src, size_t len);

/*
 * Notifiers keep the caller's own translations coherent: invalidate_range_start
 * runs before entries in [start, end) go away or lose rights (munmap,
 * mprotect, MADV_DONTNEED, mremap, copy-on-write, fork, THP collapse and
 * split), invalidate_range_end after. They may run on umm's own khugepaged
 * thread (nice 19, every signal blocked, mmap_lock held), collapsing
 * blocks on its own. Callbacks must not call umm for the same mm.
 * Registering waits for invalidations in progress (it takes the mm's locks
 * as mmap(2) would, and those of every file it maps), so a notifier gets
 * no invalidate_range_end without its start, and none is owed for what
 * went before. Registrations last as long as the mm.
 * Return: 0, -EINVAL, -ENOMEM.
 */
struct umm_notifier_ops {
	void (*invalidate_range_start)(void *priv, struct umm_mm *mm, uint64_t start,
				       uint64_t end);
	void (*invalidate_range_end)(void *priv, struct umm_mm *mm, uint64_t start,
				     uint64_t end);
};
int umm_notifier_register(struct umm_mm *mm, const struct umm_notifier_ops *ops,
			  void *priv);

/*
 * umm_pin - fault in @npages pages from the one holding @addr (which need
 * not be aligned) for @access (UMM_READ and/or UMM_WRITE) and pin them, as
 * pin_user_pages: host_ptrs[i] is the host address of the start of page
 * i, valid (the frame stays) until umm_unpin, even if the
 * range is unmapped meanwhile. A write pin gives private memory its own
 * copy, so a later fork copies it instead of sharing it.
 * Return: 0, or -errno with nothing pinned (-EFAULT, -ENOMEM, -EINVAL).
 */
int umm_pin(struct umm_mm *mm, uint64_t addr, size_t npages, unsigned access,
	    void **host_ptrs);
void umm_unpin(struct umm_mm *mm, void **host_ptrs, size_t npages);
/*
 * umm_unpin_dirty - umm_unpin, the pages first marked dirty when
 * @make_dirty is non-zero (unpin_user_pages_dirty_lock): for a pinner
 * that wrote through its pointers, which no mapping sees. Without it, an
 * anonymous page freed lazily (MADV_FREE) while pinned loses what was
 * written through the pointer since, once MADV_PAGEOUT finds it clean.
 * (A file's page loses nothing either way: writeback keeps a pinned
 * page dirty.)
 */
void umm_unpin_dirty(struct umm_mm *mm, void **host_ptrs, size_t npages, int make_dirty);

/*
 * umm_mincore - as mincore(2): vec[i] is 1 when page i of the range is
 * resident (mapped, or in the cache of the file a VMA maps), else 0.
 * Return: 0; -EINVAL (unaligned start), -ENOMEM (range past the address
 * space, or a hole in it), -EFAULT (NULL vec with a length, once @addr
 * is mapped: a hole at @addr is still -ENOMEM, as on Linux).
 */
int umm_mincore(struct umm_mm *mm, uint64_t addr, uint64_t len, unsigned char *vec);

/*
 * umm_maps - the address space in /proc/PID/maps format, byte for byte.
 * Return: 0, -EINVAL for a NULL argument, -EIO when writing fails.
 */
int umm_maps(struct umm_mm *mm, FILE *out);

/*
 * umm_vmstat - the mm's counters and the process-wide frame counters as
 * "name value" lines, with /proc/vmstat's names where one exists.
 * Return: 0, -EINVAL for a NULL argument, -EIO when writing fails.
 */
int umm_vmstat(struct umm_mm *mm, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* UMM_UMM_H */
