/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filemap.h - files that VMAs map, and their page cache: memory-backed
 * files (shmem: umm_file_create, and the object behind a shared anonymous
 * mapping) and host files behind a page cache (umm_file_from_fd).
 *
 * As in the kernel, an open (struct umm_file, the kernel's struct file)
 * is apart from the inode's page cache (struct address_space): the VMA
 * names the open (vm_file), the cache code the mapping (f_mapping,
 * page->mapping). Two opens of one host inode share one mapping.
 */
#ifndef UMM_FILEMAP_H
#define UMM_FILEMAP_H

#include "mm_types.h"
#include "xarray.h"
#include "interval_tree.h"
#include "list.h"
#include <sys/types.h>

#define FMODE_READ	0x1u
#define FMODE_WRITE	0x2u

/* The cache's dirty tag: pages written through a mapping, not yet written back. */
#define PAGECACHE_TAG_DIRTY	XA_MARK_DIRTY

enum file_kind {
	FILE_SHMEM,	/* memory-backed: the cache is the file */
	FILE_HOST,	/* a host file: the cache fills with pread, writes back with pwrite */
};

/*
 * The shared half of a file, what the kernel keeps in the inode and its
 * address_space: the page cache, the VMAs mapping it (i_mmap) and the
 * size. One per host inode - every umm_file_from_fd() of the same
 * (st_dev, st_ino) shares it while any open of it lives - and one per
 * memory-backed file. page->mapping of a cached page points here.
 */
struct address_space {
	/* opens (struct umm_file) sharing it: mapping_table_lock (shmem: one) */
	unsigned int i_count;
	struct list_head i_hash;	/* FILE_HOST: in the table; mapping_table_lock */
	enum file_kind kind;	/* fixed */
	/*
	 * FILE_HOST: our own dups of a readable and a writable fd of the
	 * inode (the same one for an O_RDWR fd), -1 until an open that has
	 * one joins. Each is set once, under mapping_table_lock with a
	 * release store, and then fixed until the cache is freed: reads of
	 * the file use rd_fd, writeback and ftruncate wr_fd (a page can only
	 * be dirtied through a writable open, which set wr_fd on its way in).
	 */
	int rd_fd, wr_fd;
	dev_t dev;		/* fixed; the table's key with ino */
	uint64_t ino;		/* fixed; what maps shows */
	uint32_t dev_major, dev_minor;	/* fixed */
	bool anon_shared;	/* a MAP_SHARED|MAP_ANONYMOUS object */
	bool thp_align;		/* its file system aligns large mappings to 2 MiB; fixed */
	bool sync_checked;	/* its fs refuses MAP_SYNC unless DAX (ext4, xfs); fixed */
	bool eof_block_dirtied;	/* its truncate dirties the end-of-file block (ext4); fixed */
	/*
	 * Bytes. Changed under invalidate_lock (write); read with READ_ONCE
	 * by faults, which re-check through the page's mapping afterwards.
	 */
	uint64_t i_size;
	/*
	 * Truncation and hole punches hold it for write; adding a page to the
	 * cache and writeback hold it for read, so no page appears past a new
	 * end of file and no writeback races a host ftruncate.
	 */
	struct rw_semaphore invalidate_lock;
	struct rw_semaphore i_mmap_rwsem;	/* guards i_mmap */
	/*
	 * Held across a whole filemap_write_and_wait_range: a writeback that
	 * finds a page clean must not return while another one that cleaned
	 * it is still writing it (umm has no PG_writeback to wait on).
	 * Outermost of the file's locks.
	 */
	pthread_mutex_t writeback_lock;
	bool mm_all_locks;	/* its i_mmap_rwsem held by mm_take_all_locks; mm_all_locks_mutex */
	struct itree_root i_mmap;	/* VMAs mapping the file (any open of it), by file page */
	/* the page cache: index -> struct page, one reference each; xa_lock */
	struct xarray i_pages;
};

/*
 * One open of a file, the kernel's struct file: what umm_file_from_fd()
 * and umm_file_create() return and vma->vm_file points to. Its access
 * mode, mount and path are its own; the cache is f_mapping's, shared
 * with every other open of the same inode.
 */
struct umm_file {
	uint64_t refcount;	/* atomic: the caller's, VMAs', in-flight users' */
	unsigned int f_mode;	/* FMODE_*; fixed */
	bool noexec;		/* opened on a noexec mount: no PROT_EXEC mappings; fixed */
	char *name;		/* fixed; the maps path at open, escaped as the kernel's */
	int path_fd;		/* host file: its cache's fd of the same path, for the
				   maps path now (the cache owns it); -1 if none; fixed */
	struct address_space *f_mapping;	/* fixed; holds one i_count */
	struct umm_file *fput_next;	/* a thread's deferred last puts; owner only */
};

/* shmem_zero_setup - the object behind a new shared anonymous mapping. */
struct umm_file *shmem_zero_setup(uint64_t size);
struct umm_file *get_file(struct umm_file *f);
char *file_maps_path(const struct umm_file *f);
/*
 * fput - drop a reference to an open; the last one writes a writable
 * open's cache back and drops the open's count of its mapping, whose last
 * one frees the cache. Locking: none held (see mapping_put in filemap.c),
 * or an mmap_lock: then the last put waits for this thread to release
 * every mmap_lock it holds.
 */
void fput(struct umm_file *f);

static inline uint64_t i_size_read(const struct address_space *mapping)
{
	return __atomic_load_n(&mapping->i_size, __ATOMIC_ACQUIRE);
}

/* Does a shared mapping of @mapping need write faults to track dirty pages? */
static inline bool mapping_needs_writeback(const struct address_space *mapping)
{
	return mapping->kind == FILE_HOST;
}

/*
 * filemap_get_page - the cache page at @index, read in (host file) or
 * created zeroed (shmem) if missing, charged to @quota (the faulting mm's,
 * as memcg charges the faulting task), with a reference for the caller.
 * Locking: none held but the faulting VMA's; lookups are lockless (RCU);
 *          adding a page takes invalidate_lock for read, then xa_lock.
 * A miss in a host file reads ahead as the kernel's mmap read-around
 * does (@ra): RA_AROUND a window of RA_PAGES centred on @index, RA_SEQ
 * the window from @index on (MADV_SEQUENTIAL), RA_EXEC the window from
 * @index on but no page from @ra_end on (an executable mapping, cut at
 * its end, as Linux 6.16 on reads for one), RA_NONE just the page
 * (MADV_RANDOM); pages already cached are not read again.
 * Return: the page; NULL with *err = -ENOMEM, or -EIO when the index is
 *         past the end of the file or the host read failed.
 */
enum file_ra { RA_AROUND, RA_SEQ, RA_EXEC, RA_NONE };

/* Pages a file of @size bytes has, the last one partial. */
static inline uint64_t size_pages(uint64_t size)
{
	return (size >> PAGE_SHIFT) + !!(size & ~PAGE_MASK);
}

/*
 * find_get_page - the page cached at @index with a reference, or NULL;
 * never reads. Locking: none; takes RCU.
 */
struct page *find_get_page(struct address_space *mapping, uint64_t index);
#define RA_PAGES	32	/* 128 KiB, read_ahead_kb's default */

struct page *filemap_get_page(struct address_space *mapping, uint64_t index,
			       struct frame_quota *quota, enum file_ra ra, uint64_t ra_end,
			       int *err);

/*
 * filemap_willneed - POSIX_FADV_WILLNEED: read the missing pages of
 * [@index, @index + @nr) of a host file into its cache now, at most
 * RA_PAGES of them, none past the end of the file. A hint: pages that
 * cannot be had are left to their faults.
 * Locking: takes invalidate_lock (read).
 */
void filemap_willneed(struct umm_file *file, uint64_t index, uint64_t nr,
		      struct frame_quota *quota);

/* lock_page - the folio lock: serialises dirtying against writeback. */
void lock_page(struct page *page);
static inline void unlock_page(struct page *page)
{
	clear_bit_unlock_page(PG_locked, page);
}

/*
 * set_page_dirty - note that a mapping wrote @page (a write fault on a
 * shared mapping). Locking: @page locked.
 */
void set_page_dirty(struct address_space *mapping, struct page *page);

/*
 * filemap_write_and_wait_range - write back the dirty cache pages of
 * bytes [start, end] and wait (MS_SYNC, fsync).
 * Locking: none held; takes writeback_lock, invalidate_lock (read), page
 *          locks, i_mmap_rwsem.
 * Return: 0 or -EIO (or the host write's error).
 */
int filemap_write_and_wait_range(struct address_space *mapping, uint64_t start,
				 uint64_t end);

/*
 * truncate_pagecache_range - drop the cache's pages in [first, last] from
 * every mapping and from the cache (truncation, hole punch); private
 * copies-on-write go too only when @even_cows.
 * Locking: invalidate_lock held for write.
 */
void truncate_pagecache_range(struct address_space *mapping, uint64_t first, uint64_t last,
			      bool even_cows);

/*
 * file_may_pageout - may MADV_PAGEOUT reclaim @file's cache pages: the
 * kernel's can_do_file_pageout, for the file's owner (or root) or one
 * allowed to write it; shared memory is the caller's own.
 */
bool file_may_pageout(struct umm_file *file);

/*
 * filemap_evict_page - drop the small page @page, if still in @file's cache,
 * clean and held by nothing but its cache slot and the caller, from the
 * cache, as reclaim's __remove_mapping. Drops the caller's reference.
 * Locking: the caller keeps @file alive; takes invalidate_lock (read), then
 * the folio lock.
 */
void filemap_evict_page(struct umm_file *file, struct page *page);

/*
 * filemap_split_folio - split the large folio @head of @file's cache, ours
 * by a reference, into small pages (a folio paged out or made cold in
 * part), unmapped from every mapping first, as the kernel's split_folio
 * of a file folio; left whole when pinned or held meanwhile. Drops our
 * reference.
 * Locking: the caller keeps @file alive; takes invalidate_lock (write), then
 * i_mmap_rwsem (read) and page-table locks.
 */
void filemap_split_folio(struct umm_file *file, struct page *head);

/*
 * filemap_punch_hole - MADV_REMOVE: free file pages [first, last] (the
 * host file's blocks too) and unmap them from every mapping; private
 * copies stay. Locking: takes invalidate_lock (write), i_mmap_rwsem.
 * Return: 0 or -errno (a host file system that cannot punch holes).
 */
int filemap_punch_hole(struct umm_file *file, uint64_t first, uint64_t last);

#endif /* UMM_FILEMAP_H */
