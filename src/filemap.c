// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * filemap.c - file objects behind mappings and their page cache.
 *
 * The cache maps an index to a page that holds one reference for the
 * cache; lookups run lockless under RCU and take their own reference with
 * get_page_unless_zero(), then check the page is still the one cached (it
 * may have been removed and freed meanwhile: frames are reused only
 * through the allocator, so the check is what makes the reference good).
 *
 * A page enters the cache fully read (host files) or zeroed (shmem), and
 * under invalidate_lock held for read, so truncation - which holds it for
 * write - never races an insertion past the new end. A page leaves the
 * cache with its mapping cleared, which faults re-check under the PTE lock.
 *
 * Host files are written back by msync(MS_SYNC) and when the last
 * reference goes. Shared mappings of them map clean pages read-only, so
 * the first write faults and dirties the page (set_page_dirty, under the
 * folio lock); writeback write-protects every mapping of the page again
 * (page_mkclean) before it clears the dirty bit and writes the page. That
 * holds only because a VMA leaves i_mmap after its entries are zapped,
 * and page_mkclean flushes while a changer still owes one
 * (tlb_flush_pending); one writeback of a file runs at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <umm/umm.h>
#include "filemap.h"
#include "page_alloc.h"
#include "rmap.h"
#include "huge_memory.h"

#define MAX_LFS_FILESIZE	((uint64_t)LLONG_MAX)
#define MEMFD_NAME_MAX		249	/* NAME_MAX - strlen("memfd:") */

/* shmem inodes are numbered from one counter, as on a tmpfs mount */
static uint64_t next_ino = 1;

/*
 * The host inodes that have a page cache here, by (st_dev, st_ino), as
 * the kernel's inode hash: a second open of an inode finds and shares
 * the cache of the first. An entry leaves the table, under the lock,
 * in the same step that drops its last open, so a lookup never finds
 * one that is being freed.
 */
#define MAPPING_HASH_BITS	6
static pthread_mutex_t mapping_table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head mapping_table[1u << MAPPING_HASH_BITS];	/* mapping_table_lock */
static pthread_once_t mapping_table_once = PTHREAD_ONCE_INIT;

/*
 * Held across a host fork(), so that the child does not inherit it
 * locked by a thread it does not have. A leaf: its holder waits for
 * nothing but the allocator, whose own fork handling comes after this.
 * Locking: prepare takes mapping_table_lock; parent and child drop it.
 */
static void mapping_table_prepare(void)
{
	pthread_mutex_lock(&mapping_table_lock);
}

static void mapping_table_release(void)
{
	pthread_mutex_unlock(&mapping_table_lock);
}

static void mapping_table_init(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(mapping_table); i++)
		INIT_LIST_HEAD(&mapping_table[i]);
	pthread_atfork(mapping_table_prepare, mapping_table_release, mapping_table_release);
}

/* Locking: mapping_table_lock held. */
static struct list_head *mapping_bucket(dev_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ ((uint64_t)dev << 17)) * 0x9e3779b97f4a7c15ull;

	return &mapping_table[h >> (64 - MAPPING_HASH_BITS)];
}

static struct address_space *mapping_alloc(enum file_kind kind)
{
	struct address_space *mapping = calloc(1, sizeof(*mapping));

	if (!mapping)
		return NULL;
	mapping->i_count = 1;
	mapping->kind = kind;
	mapping->rd_fd = -1;
	mapping->wr_fd = -1;
	init_rwsem(&mapping->invalidate_lock);
	init_rwsem(&mapping->i_mmap_rwsem);
	pthread_mutex_init(&mapping->writeback_lock, NULL);
	mapping->i_mmap = ITREE_ROOT_INIT;
	xa_init(&mapping->i_pages);
	return mapping;
}

static void mapping_free(struct address_space *mapping)
{
	xa_destroy(&mapping->i_pages);
	destroy_rwsem(&mapping->i_mmap_rwsem);
	pthread_mutex_destroy(&mapping->writeback_lock);
	destroy_rwsem(&mapping->invalidate_lock);
	if (mapping->wr_fd >= 0 && mapping->wr_fd != mapping->rd_fd)
		close(mapping->wr_fd);
	if (mapping->rd_fd >= 0)
		close(mapping->rd_fd);
	free(mapping);
}

/* A new open of @mapping, which it holds a count of. */
static struct umm_file *file_alloc(struct address_space *mapping, unsigned int f_mode)
{
	struct umm_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->refcount = 1;
	f->f_mode = f_mode;
	f->f_mapping = mapping;
	f->path_fd = -1;
	return f;
}

/* Memory-backed files live on the internal shm mount, device 00:01. */
static struct umm_file *shmem_file_setup(const char *name, uint64_t size)
{
	struct address_space *mapping = mapping_alloc(FILE_SHMEM);
	struct umm_file *f = mapping ? file_alloc(mapping, FMODE_READ | FMODE_WRITE) : NULL;

	if (f)
		f->name = strdup(name);
	if (!f || !f->name) {
		free(f);
		if (mapping)
			mapping_free(mapping);
		return NULL;
	}
	mapping->ino = atomic_add_return(&next_ino, 1);
	mapping->dev_major = 0;
	mapping->dev_minor = 1;
	mapping->i_size = size;
	return f;
}

struct umm_file *shmem_zero_setup(uint64_t size)
{
	struct umm_file *f = shmem_file_setup("/dev/zero (deleted)", size);

	if (f)
		f->f_mapping->anon_shared = true;
	return f;
}

struct umm_file *get_file(struct umm_file *f)
{
	if (f)
		atomic_add_return(&f->refcount, 1);
	return f;
}

/* Does [first, last] cover only part of the large folio @head? */
static bool folio_partly_in(struct page *head, uint64_t first, uint64_t last)
{
	return PageHead(head) && (head->index < first ||
				  head->index + (1UL << page_order(head)) - 1 > last);
}

/* The page of @index in the cached folio @head. */
static struct page *folio_file_page(struct page *head, uint64_t index)
{
	return PageHead(head) ? head + (index - head->index) : head;
}

/*
 * Split the large folio @head (ours by a reference) that a truncation or
 * hole punch cuts, or that MADV_COLD or MADV_PAGEOUT advises in part,
 * unmapped whole from every mapping of @f first, as the
 * kernel's split of a file folio is (try_to_unmap, no migration entries:
 * its pages fault back in as small ones). Left mapped when its mappings
 * are not all that hold it beside its slots and us (a pin, a lookup in
 * flight), as the kernel's can_split_folio refuses before unmapping: the
 * split then fails. Copies-on-write in private mappings are not the
 * folio's: they stay.
 * Locking: invalidate_lock (write), which keeps new cache pages out;
 * takes i_mmap_rwsem (read) and page-table locks.
 * Return: whether it was split (see split_file_folio).
 */
static bool split_cut_folio(struct address_space *mapping, struct page *head)
{
	int maps = folio_mapcount(head);

	if (maps && !page_maybe_dma_pinned(head) &&
	    page_count(head) == (int)HPAGE_PMD_NR + 1 + maps)
		unmap_mapping_range(mapping, head->index, head->index + HPAGE_PMD_NR - 1, false);
	return split_file_folio(mapping, head, (int)HPAGE_PMD_NR + 1);
}

/* Drop the cache's pages in [first, last]. Locking: invalidate_lock (write). */
static void filemap_remove_range(struct address_space *mapping, uint64_t first, uint64_t last)
{
	struct page *head, *page, *whole = NULL;	/* a folio that did not split */
	uint64_t index = first;

	for (;;) {
		rcu_read_lock();
		head = xa_find(&mapping->i_pages, &index, last);
		/* the cache's own reference keeps a cached folio's count up */
		if (head)
			get_page(head);
		rcu_read_unlock();
		if (!head)
			break;
		page = folio_file_page(head, index);
		if (folio_partly_in(head, first, last)) {
			/*
			 * Split, so that its pages past a new end stay reachable
			 * neither through another mapping's entries nor through
			 * a later fault that maps the whole folio (the host gives
			 * SIGBUS there).
			 */
			if (head != whole && split_cut_folio(mapping, head)) {
				put_page(head);
				continue;	/* this index again: a small page now */
			}
			/*
			 * Pinned, or held meanwhile: it stays whole, the covered
			 * pages zeroed, as the kernel's when a split fails. Pages
			 * past a new end fault in by themselves no more (faults
			 * check i_size), though a fault that maps the whole folio
			 * maps them, as the kernel's shmem does (its exception to
			 * "no entries beyond i_size"); they read as zeroes.
			 */
			whole = head;
			memset(page_address(page), 0, PAGE_SIZE);
			put_page(head);
			if (index == last)
				break;
			index++;
			continue;
		}
		/* the folio lock keeps a writeback of this page out */
		lock_page(page);
		if (xa_cmpxchg(&mapping->i_pages, index, head, NULL, NULL) == head) {
			clear_bit_page(PG_dirty, page);
			WRITE_ONCE(page->mapping, NULL);
			put_page(head);	/* the slot's reference */
		}
		unlock_page(page);
		put_page(head);
		if (index == last)
			break;
		index++;
	}
}

/* Any of the inode's fds: the checks are of the inode, not of an open. */
static int mapping_any_fd(struct address_space *mapping)
{
	int fd = smp_load_acquire(&mapping->rd_fd);

	return fd >= 0 ? fd : smp_load_acquire(&mapping->wr_fd);
}

bool file_may_pageout(struct umm_file *file)
{
	struct address_space *mapping = file->f_mapping;
	char path[32];
	struct stat st;
	int fd;

	if (mapping->kind != FILE_HOST || geteuid() == 0)
		return true;
	fd = mapping_any_fd(mapping);
	if (!fstat(fd, &st) && st.st_uid == geteuid())
		return true;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return !faccessat(AT_FDCWD, path, W_OK, AT_EACCESS);
}

/*
 * The count is frozen at zero from exactly the slot's reference and ours,
 * so that no lookup takes one meanwhile (it sees a page being freed and
 * looks again under invalidate_lock, as with split_file_folio); only then
 * is the dirty bit read: whoever could set it held a reference or a
 * mapping, which holds one, and the acquire sees what it set before
 * letting go. invalidate_lock keeps out truncation, whose walk of the
 * cache takes plain references, and the folio lock a writeback, which
 * cleans the page before it writes it.
 * A page already dirty is not frozen at all: it would stay anyway, and a
 * writeback's lookup (find_get_page) meeting it frozen would skip it, so
 * that msync(MS_SYNC) returned with its data unwritten. A host file's
 * page is dirtied only under the folio lock, which we hold, so one its
 * writeback may look for is never frozen.
 */
void filemap_evict_page(struct umm_file *file, struct page *page)
{
	struct address_space *mapping = file->f_mapping;
	int expected = 2;

	down_read(&mapping->invalidate_lock);
	lock_page(page);
	if (READ_ONCE(page->mapping) != (void *)mapping || PageHead(page) ||
	    compound_head(page) != page || test_bit_page(PG_dirty, page))
		goto keep;
	if (!__atomic_compare_exchange_n(&page->refcount, &expected, 0, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		goto keep;
	if (test_bit_page(PG_dirty, page) ||
	    xa_cmpxchg(&mapping->i_pages, page->index, page, NULL, NULL) != page) {
		__atomic_store_n(&page->refcount, 2, __ATOMIC_RELEASE);
		goto keep;
	}
	WRITE_ONCE(page->mapping, NULL);
	__atomic_store_n(&page->refcount, 1, __ATOMIC_RELEASE);	/* ours */
keep:
	unlock_page(page);
	up_read(&mapping->invalidate_lock);
	put_page(page);
}

void filemap_split_folio(struct umm_file *file, struct page *head)
{
	struct address_space *mapping = file->f_mapping;

	down_write(&mapping->invalidate_lock);
	split_cut_folio(mapping, head);
	up_write(&mapping->invalidate_lock);
	put_page(head);
}

/*
 * The last open of @mapping went: out of the table, then write back what
 * is still dirty (a page a pin kept dirty), drop the cache and free it.
 * Locking: none held; takes mapping_table_lock, then as
 * filemap_write_and_wait_range and invalidate_lock (write).
 */
static void mapping_put(struct address_space *mapping)
{
	bool last;

	if (mapping->kind == FILE_HOST) {
		pthread_mutex_lock(&mapping_table_lock);
		last = --mapping->i_count == 0;
		if (last)
			list_del(&mapping->i_hash);
		pthread_mutex_unlock(&mapping_table_lock);
		if (!last)
			return;
		filemap_write_and_wait_range(mapping, 0, UINT64_MAX);
	}
	down_write(&mapping->invalidate_lock);
	filemap_remove_range(mapping, 0, UINT64_MAX);
	up_write(&mapping->invalidate_lock);
	mapping_free(mapping);
}

/*
 * The last reference to an open went: no VMA maps through it any more.
 * A writable open of a host file writes the cache back first, as close()
 * on a file system that flushes on close (and as umm did when each open
 * had its own cache): its writes reach the host file now, not only when
 * the inode's last open goes. A read-only open dirtied nothing.
 * Locking: no mmap_lock held.
 */
static void __fput(struct umm_file *f)
{
	if (f->f_mapping->kind == FILE_HOST && (f->f_mode & FMODE_WRITE))
		filemap_write_and_wait_range(f->f_mapping, 0, UINT64_MAX);
	mapping_put(f->f_mapping);
	free(f->name);
	free(f);
}

__thread unsigned int mmap_lock_depth;
__thread bool fput_pending;
static __thread struct umm_file *fput_list;	/* owner only */

/*
 * The last put of an open under an mmap_lock (an unmap removing the last
 * VMA that maps it) is queued on the thread and run when the thread has
 * released every mmap_lock it holds, still inside the call that unmapped:
 * the writeback and fdatasync do not hold up the faults and mapping calls
 * that need the lock meanwhile. The kernel's fput likewise leaves __fput
 * to task_work, run on the way back to user space.
 */
void fput(struct umm_file *f)
{
	if (!f || atomic_add_return(&f->refcount, -1) != 0)
		return;
	if (mmap_lock_depth) {
		f->fput_next = fput_list;
		fput_list = f;
		fput_pending = true;
		return;
	}
	__fput(f);
}

/* Locking: called as the thread releases its last mmap_lock. */
void deferred_fput_run(void)
{
	struct umm_file *f;

	while ((f = fput_list)) {
		fput_list = f->fput_next;
		fput_pending = fput_list != NULL;
		__fput(f);
	}
}

void lock_page(struct page *page)
{
	unsigned int spins = 0;

	while (test_and_set_bit_page(PG_locked, page)) {
		if (++spins < 64)
			cpu_relax();
		else
			sched_yield();
	}
}

/*
 * Read page @index of a host file: bytes past the end of the file read as
 * zeroes, as the kernel zeroes the tail of the last page.
 */
static int read_page(struct address_space *mapping, struct page *page, uint64_t index)
{
	uint64_t pos = index << PAGE_SHIFT, size = i_size_read(mapping);
	size_t want = size - pos < PAGE_SIZE ? size - pos : PAGE_SIZE, got = 0;
	char *buf = page_address(page);
	int fd = READ_ONCE(mapping->rd_fd);

	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, (off_t)(pos + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	memset(buf + got, 0, PAGE_SIZE - got);
	return 0;
}

/*
 * Lockless lookup with a reference. Every slot of a large folio holds its
 * head, which carries the references: the page wanted is found from the
 * head's index once the reference is held and the slot re-checked (the
 * frame may have been freed and reused meanwhile). Nothing of a struct
 * page but its count is read before that: a free one's other words are
 * the allocator's. Locking: none; takes RCU.
 */
struct page *find_get_page(struct address_space *mapping, uint64_t index)
{
	struct page *head;

	for (;;) {
		rcu_read_lock();
		head = xa_load(&mapping->i_pages, index);
		if (head && !get_page_unless_zero(head))
			head = NULL;
		if (head && xa_load(&mapping->i_pages, index) != head) {
			put_page(head);	/* removed meanwhile: look again */
			rcu_read_unlock();
			continue;
		}
		rcu_read_unlock();
		return head ? folio_file_page(head, index) : NULL;
	}
}

/* Read or create the page and add it. Locking: invalidate_lock (read). */
static struct page *filemap_add_page(struct address_space *mapping, uint64_t index,
				     struct frame_quota *quota, int *err)
{
	struct page *page;
	int e;

	if (index >= size_pages(i_size_read(mapping))) {
		*err = -EIO;
		return NULL;
	}
	page = alloc_page(quota, mapping->kind == FILE_HOST ? __GFP_NOZERO : GFP_KERNEL);
	if (!page) {
		*err = -ENOMEM;
		return NULL;
	}
	if (mapping->kind == FILE_HOST && read_page(mapping, page, index)) {
		put_page(page);
		*err = -EIO;
		return NULL;
	}
	WRITE_ONCE(page->mapping, (void *)mapping);
	page->index = index;
	e = xa_insert(&mapping->i_pages, index, page);
	if (!e) {
		get_page(page);	/* the caller's; the cache keeps the first */
		return page;
	}
	WRITE_ONCE(page->mapping, NULL);
	put_page(page);
	*err = e == -EEXIST ? -EAGAIN : -ENOMEM;
	return NULL;
}

/*
 * Read the run of missing pages [first, first + nr) of a host file with one
 * preadv into new frames, and add them to the cache. A frame that cannot be
 * had ends the run early; a page another fault added first is dropped.
 * Return: pages read (added or not). Locking: invalidate_lock (read).
 */
static uint64_t read_run(struct address_space *mapping, uint64_t first, uint64_t nr,
			 struct frame_quota *quota)
{
	struct page *pages[RA_PAGES];
	struct iovec iov[RA_PAGES];
	uint64_t size = i_size_read(mapping), n, i;
	int fd = READ_ONCE(mapping->rd_fd);
	ssize_t got;

	for (n = 0; n < nr; n++) {
		pages[n] = alloc_page(quota, __GFP_NOZERO);
		if (!pages[n])
			break;
		iov[n] = (struct iovec){ page_address(pages[n]), PAGE_SIZE };
	}
	do {
		got = n ? preadv(fd, iov, (int)n, (off_t)(first << PAGE_SHIFT)) : 0;
	} while (got < 0 && errno == EINTR);
	for (i = 0; i < n; i++) {
		uint64_t pos = (first + i) << PAGE_SHIFT;
		size_t have = got > 0 && (uint64_t)got > i * PAGE_SIZE ?
			      (size_t)((uint64_t)got - i * PAGE_SIZE) : 0;

		/* a short read (not EOF) leaves the rest to the fault's own read */
		if (have < PAGE_SIZE && pos + have < size) {
			put_page(pages[i]);
			continue;
		}
		if (have < PAGE_SIZE)
			memset((char *)page_address(pages[i]) + have, 0, PAGE_SIZE - have);
		WRITE_ONCE(pages[i]->mapping, (void *)mapping);
		pages[i]->index = first + i;
		if (xa_insert(&mapping->i_pages, first + i, pages[i])) {
			WRITE_ONCE(pages[i]->mapping, NULL);
			put_page(pages[i]);
		}
	}
	return n;
}

/* Whether page @index is cached. Locking: none; takes RCU. */
static bool filemap_cached(struct address_space *mapping, uint64_t index)
{
	bool in;

	rcu_read_lock();
	in = xa_load(&mapping->i_pages, index) != NULL;
	rcu_read_unlock();
	return in;
}

/*
 * Read the missing pages of [first, last), run by run.
 * Return: false when frames ran out. Locking: invalidate_lock (read).
 */
static bool filemap_read_missing(struct address_space *mapping, uint64_t first, uint64_t last,
				 struct frame_quota *quota)
{
	uint64_t i;

	for (i = first; i < last;) {
		uint64_t run = 0;

		while (i + run < last && !filemap_cached(mapping, i + run))
			run++;
		if (!run) {
			i++;
			continue;
		}
		if (read_run(mapping, i, run, quota) < run)
			return false;
		i += run;
	}
	return true;
}

/*
 * The read-around of a miss at @index: the missing pages of the window.
 * Out of frames, the fault reads its own page.
 * Locking: invalidate_lock (read).
 */
static void filemap_read_around(struct address_space *mapping, uint64_t index,
				struct frame_quota *quota, enum file_ra ra, uint64_t ra_end)
{
	uint64_t end = size_pages(i_size_read(mapping)), first, last;

	/* centred, or from 0 near the file's start (do_sync_mmap_readahead) */
	if (ra == RA_SEQ || ra == RA_EXEC)
		first = index;
	else
		first = index < RA_PAGES / 2 ? 0 : index - RA_PAGES / 2;
	if (ra == RA_EXEC && ra_end < end)
		end = ra_end;
	last = first + RA_PAGES < end ? first + RA_PAGES : end;
	filemap_read_missing(mapping, first, last, quota);
}

void filemap_willneed(struct umm_file *file, uint64_t index, uint64_t nr,
		      struct frame_quota *quota)
{
	struct address_space *mapping = file->f_mapping;
	uint64_t end;

	if (mapping->kind != FILE_HOST)
		return;		/* memory files: nothing to read */
	/*
	 * The kernel reads at most the larger of the readahead window and
	 * the device's largest I/O; umm knows neither and takes its fixed
	 * window.
	 */
	if (nr > RA_PAGES)
		nr = RA_PAGES;
	down_read(&mapping->invalidate_lock);
	/* pages past the end of the file are not read: there is nothing */
	end = size_pages(i_size_read(mapping));
	if (index < end)
		filemap_read_missing(mapping, index, end - index < nr ? end : index + nr, quota);
	up_read(&mapping->invalidate_lock);
}

struct page *filemap_get_page(struct address_space *mapping, uint64_t index,
			       struct frame_quota *quota, enum file_ra ra, uint64_t ra_end,
			       int *err)
{
	for (;;) {
		struct page *page = find_get_page(mapping, index);

		if (page)
			return page;
		down_read(&mapping->invalidate_lock);
		if (mapping->kind == FILE_HOST && ra != RA_NONE &&
		    index < size_pages(i_size_read(mapping))) {
			filemap_read_around(mapping, index, quota, ra, ra_end);
			page = find_get_page(mapping, index);
			if (page) {
				up_read(&mapping->invalidate_lock);
				return page;
			}
		}
		page = filemap_add_page(mapping, index, quota, err);
		up_read(&mapping->invalidate_lock);
		if (page || *err != -EAGAIN)
			return page;
		/* another fault added it first: take theirs */
	}
}

void set_page_dirty(struct address_space *mapping, struct page *page)
{
	VM_BUG_ON(!test_bit_page(PG_locked, page));
	if (test_bit_page(PG_dirty, page))
		return;
	set_bit_page(PG_dirty, page);
	if (READ_ONCE(page->mapping) == (void *)mapping)
		xa_set_mark(&mapping->i_pages, page->index, PAGECACHE_TAG_DIRTY);
}

/*
 * Write one page's bytes inside the file. The page's bytes past the end
 * of the file are zeroed first, as a block file system's writeback does:
 * a store through a mapping beyond i_size does not survive it.
 * Locking: the folio lock held.
 * Return: 0 or -errno.
 */
static int write_page(struct address_space *mapping, struct page *page)
{
	uint64_t pos = page->index << PAGE_SHIFT, size = i_size_read(mapping);
	size_t want, done = 0;
	char *buf = page_address(page);
	int fd = READ_ONCE(mapping->wr_fd);

	if (pos >= size)
		return 0;
	want = size - pos < PAGE_SIZE ? size - pos : PAGE_SIZE;
	if (want < PAGE_SIZE)
		memset(buf + want, 0, PAGE_SIZE - want);
	while (done < want) {
		ssize_t n = pwrite(fd, buf + done, want - done, (off_t)(pos + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Take @page's dirtiness for writing it: write-protect every shared
 * mapping so the next write faults and dirties it again, then clear it.
 * A pinned page stays dirty: its pinner may write at any time.
 * Locking: invalidate_lock (read), the folio lock; takes i_mmap_rwsem.
 * Return: whether the page must be written.
 */
static bool clear_page_dirty_for_io(struct address_space *mapping, struct page *page)
{
	if (READ_ONCE(page->mapping) != (void *)mapping || !test_bit_page(PG_dirty, page))
		return false;
	page_mkclean(mapping, page);
	if (!page_maybe_dma_pinned(page)) {
		xa_clear_mark(&mapping->i_pages, page->index, PAGECACHE_TAG_DIRTY);
		clear_bit_page(PG_dirty, page);
	}
	return true;
}

/* Locking: invalidate_lock (read); takes the folio lock. Return: as write_page. */
static int writeback_page(struct address_space *mapping, struct page *page, bool *wrote)
{
	int err = 0;

	lock_page(page);
	if (clear_page_dirty_for_io(mapping, page)) {
		err = write_page(mapping, page);
		*wrote = true;
		if (err)
			set_page_dirty(mapping, page);	/* not written: keep it */
	}
	unlock_page(page);
	return err;
}

int filemap_write_and_wait_range(struct address_space *mapping, uint64_t start, uint64_t end)
{
	uint64_t index = start >> PAGE_SHIFT, last = end >> PAGE_SHIFT;
	bool wrote = false;
	int err = 0;

	/* no writable open ever joined: nothing could dirty a page */
	if (mapping->kind != FILE_HOST || smp_load_acquire(&mapping->wr_fd) < 0)
		return 0;
	pthread_mutex_lock(&mapping->writeback_lock);
	down_read(&mapping->invalidate_lock);
	for (;;) {
		struct page *page;
		int e;

		rcu_read_lock();
		page = xa_find_marked(&mapping->i_pages, &index, last, PAGECACHE_TAG_DIRTY);
		rcu_read_unlock();
		if (!page)
			break;
		page = find_get_page(mapping, index);
		if (page) {
			e = writeback_page(mapping, page, &wrote);
			err = err ? err : e;
			put_page(page);
		}
		if (index == last)
			break;
		index++;
	}
	if (wrote && fdatasync(READ_ONCE(mapping->wr_fd)) && !err)
		err = -errno;
	up_read(&mapping->invalidate_lock);
	pthread_mutex_unlock(&mapping->writeback_lock);
	return err;
}

void truncate_pagecache_range(struct address_space *mapping, uint64_t first, uint64_t last,
			      bool even_cows)
{
	rwsem_assert_write_held(&mapping->invalidate_lock);
	unmap_mapping_range(mapping, first, last, even_cows);
	filemap_remove_range(mapping, first, last);
	/* a fault that looked the page up before it went may have mapped it */
	unmap_mapping_range(mapping, first, last, even_cows);
}

/*
 * Zero the bytes of the cached page holding @pos from @pos to its end.
 * A host file whose truncate zeroes the end-of-file block through the
 * page cache (ext4: the block holding the new end, or the old end when
 * growing) also has the page marked dirty when that block holds data, as
 * smaps then shows; over a hole it stays clean. Memory is a shmem page's
 * only copy, and tmpfs marks the page it cuts dirty whatever it held.
 * Locking: invalidate_lock (write); takes the folio lock.
 */
static void zero_page_tail(struct address_space *mapping, uint64_t pos)
{
	uint64_t block = pos & PAGE_MASK;
	struct page *page;

	if (!(pos & ~PAGE_MASK))
		return;
	page = find_get_page(mapping, pos >> PAGE_SHIFT);
	if (!page)
		return;
	memset((char *)page_address(page) + (pos & ~PAGE_MASK), 0,
	       PAGE_SIZE - (pos & ~PAGE_MASK));
	if (mapping->kind == FILE_SHMEM)
		set_bit_page(PG_dirty, compound_head(page));
	else if (mapping->eof_block_dirtied &&
		 lseek(mapping_any_fd(mapping), (off_t)block, SEEK_DATA) == (off_t)block) {
		lock_page(page);
		if (READ_ONCE(page->mapping) == (void *)mapping)
			set_page_dirty(mapping, page);
		unlock_page(page);
	}
	put_page(page);
}

/* ---- the public calls ---- */

__visible struct umm_file *umm_file_create(const char *name, uint64_t size,
					   unsigned int flags)
{
	char path[MEMFD_NAME_MAX + 32];
	struct umm_file *f;

	if (flags & ~UMM_FILE_DAX) {
		errno = EINVAL;
		return NULL;
	}
	if (flags & UMM_FILE_DAX) {
		errno = EOPNOTSUPP;	/* direct access: not yet */
		return NULL;
	}
	if (!name || strlen(name) > MEMFD_NAME_MAX || strchr(name, '/')) {
		errno = EINVAL;
		return NULL;
	}
	if (size > MAX_LFS_FILESIZE) {
		errno = EFBIG;
		return NULL;
	}
	/* a named memory file, as memfd_create's, which maps show so */
	snprintf(path, sizeof(path), "/memfd:%s (deleted)", name);
	f = shmem_file_setup(path, size);
	if (!f)
		errno = ENOMEM;
	return f;
}

/* maps escapes a newline in a path as octal, as seq_file_path does */
static char *escape_path(const char *path)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = path; *p; p++)
		n += *p == '\n' ? 4 : 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	o = out;
	for (const char *p = path; *p; p++) {
		if (*p == '\n') {
			memcpy(o, "\\012", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* The path of @fd's file now, escaped; "" when it cannot be read. */
static char *fd_path(int fd)
{
	char link[64], buf[PATH_MAX + 1];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, PATH_MAX);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return escape_path(buf);
}

/*
 * The cache's own fd that was opened through the path @name (as fd_path
 * gives it), or -1: an open through another hard link or mount of the
 * inode has none. The fd lives as long as the cache, which the open holds.
 * Locking: none; @mapping's fds are set (an open's are, once it joined).
 */
static int mapping_fd_named(struct address_space *mapping, const char *name)
{
	int fds[2] = { smp_load_acquire(&mapping->rd_fd), smp_load_acquire(&mapping->wr_fd) };

	for (int i = 0; i < 2; i++) {
		char *path;
		bool same;

		if (fds[i] < 0)
			continue;
		path = fd_path(fds[i]);
		same = path && !strcmp(path, name);
		free(path);
		if (same)
			return fds[i];
	}
	return -1;
}

/*
 * file_maps_path - the path maps shows for @f: a host file's is read each
 * time through the cache's fd opened by the same path, so that it follows
 * renames and ends in " (deleted)" once the file is unlinked, as the
 * kernel's d_path() of the open does (the /proc link is that same
 * d_path); the name taken at open where there is no such fd (an open
 * through another hard link than the cache's fds were), and for memory
 * files.
 * Locking: none. Return: the path, for free(), or NULL (out of memory).
 */
char *file_maps_path(const struct umm_file *f)
{
	char *path;

	if (f->path_fd >= 0) {
		path = fd_path(f->path_fd);
		if (path && *path)
			return path;
		free(path);
	}
	return strdup(f->name ? f->name : "");
}

/* May a file opened with @fd_acc be used with @acc? */
static bool access_allowed(int fd_acc, int acc)
{
	if (acc == O_RDWR)
		return fd_acc == O_RDWR;
	return fd_acc == O_RDWR || fd_acc == acc;
}

/*
 * A new open of @fd's file through its /proc link.
 * Locking: none of its own (called under mapping_table_lock).
 * Return: the fd, or -1.
 */
static int open_fd_link(int fd, int flags)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return open(link, flags | O_CLOEXEC);
}

/*
 * The cache's own open of the file behind @fd: a new open file description
 * through the fd's /proc magic link, not a dup, whose status flags would
 * be the caller's and change when the caller changes them. The kernel's
 * page cache does its I/O below any open, and these flags would show:
 * O_APPEND makes pwrite() append whatever offset it is given (writeback
 * would add the page at the end of the file), O_DIRECT refuses the short
 * read and write of a last partial page. Without /proc, or when the
 * reopen is refused (the caller lost the permission since it opened), the
 * dup it falls back to shares them.
 * Locking: none. Return: the new fd, or -errno.
 */
static int mapping_open_fd(int fd, int fd_acc)
{
	int nfd = open_fd_link(fd, fd_acc);

	if (nfd >= 0)
		return nfd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return nfd >= 0 ? nfd : -errno;
}

/*
 * Give @mapping the fds it lacks that @fd (opened @fd_acc) can serve:
 * one open of its own, for reading, writing or both. A cache first made from
 * a read-only fd gets its writable one here when a writable open joins.
 * Locking: mapping_table_lock held, or @mapping not yet in the table.
 * Return: 0 or -errno.
 */
static int mapping_take_fd(struct address_space *mapping, int fd, int fd_acc)
{
	bool rd = fd_acc != O_WRONLY && mapping->rd_fd < 0;
	bool wr = fd_acc != O_RDONLY && mapping->wr_fd < 0;
	int own;

	if (!rd && !wr)
		return 0;
	own = mapping_open_fd(fd, fd_acc);
	if (own < 0)
		return own;
	/* release: whoever uses it through a later open sees it set */
	if (rd)
		smp_store_release(&mapping->rd_fd, own);
	if (wr)
		smp_store_release(&mapping->wr_fd, own);
	return 0;
}

/* A new cache for the host inode @st describes, of the file system of @fd. */
static struct address_space *mapping_create_host(int fd, int fd_acc, const struct stat *st)
{
	struct address_space *mapping = mapping_alloc(FILE_HOST);
	struct statfs sfs;
	int err;

	if (!mapping) {
		errno = ENOMEM;
		return NULL;
	}
	err = mapping_take_fd(mapping, fd, fd_acc);
	if (err) {
		mapping_free(mapping);
		errno = -err;
		return NULL;
	}
	mapping->dev = st->st_dev;
	mapping->ino = st->st_ino;
	mapping->dev_major = major(st->st_dev);
	mapping->dev_minor = minor(st->st_dev);
	mapping->i_size = (uint64_t)st->st_size;
	if (!fstatfs(fd, &sfs)) {
		/* ext4 and xfs place mappings with thp_get_unmapped_area */
		mapping->thp_align = sfs.f_type == EXT4_SUPER_MAGIC || sfs.f_type == XFS_SUPER_MAGIC;
		/* their ->mmap refuses VM_SYNC without DAX, umm has no DAX */
		mapping->sync_checked = mapping->thp_align;
		/*
		 * ext4's truncate zeroes the rest of the end-of-file block
		 * through the page cache, dirtying it (xfs's is not checked
		 * against a host yet)
		 */
		mapping->eof_block_dirtied = sfs.f_type == EXT4_SUPER_MAGIC;
	}
	return mapping;
}

/*
 * The page cache of the host inode @st describes: the one its other
 * opens share if it has one, else a new one made from @fd. Its own open
 * of the file stays while the cache lives, so the inode number cannot be
 * reused meanwhile. i_size is the cache's own from its creation on: a
 * later open does not read the host's again (umm does not see what other
 * programs do to the file).
 * Locking: takes mapping_table_lock.
 * Return: the mapping with an i_count for the caller, or NULL with errno.
 */
static struct address_space *mapping_get_host(int fd, int fd_acc, const struct stat *st)
{
	struct address_space *mapping;
	struct list_head *bucket;
	int err;

	pthread_once(&mapping_table_once, mapping_table_init);
	pthread_mutex_lock(&mapping_table_lock);
	bucket = mapping_bucket(st->st_dev, st->st_ino);
	list_for_each_entry(mapping, bucket, i_hash) {
		if (mapping->dev != st->st_dev || mapping->ino != st->st_ino)
			continue;
		err = mapping_take_fd(mapping, fd, fd_acc);
		if (err) {
			errno = -err;
			mapping = NULL;
		} else {
			mapping->i_count++;
		}
		goto out;
	}
	mapping = mapping_create_host(fd, fd_acc, st);
	if (mapping)
		list_add(&mapping->i_hash, bucket);
out:
	pthread_mutex_unlock(&mapping_table_lock);
	return mapping;
}

__visible struct umm_file *umm_file_from_fd(int fd, int oflags)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1, acc = oflags & O_ACCMODE;
	struct address_space *mapping;
	struct umm_file *f;
	struct statfs sfs;
	struct stat st;

	if (fl < 0 || (fl & O_PATH)) {
		errno = EBADF;
		return NULL;
	}
	if (acc == O_ACCMODE) {
		errno = EINVAL;
		return NULL;
	}
	if (!access_allowed(fl & O_ACCMODE, acc)) {
		errno = EACCES;
		return NULL;
	}
	if (fstat(fd, &st))
		return NULL;
	if (!S_ISREG(st.st_mode)) {
		errno = ENODEV;	/* what mmap answers for a pipe or a directory */
		return NULL;
	}
	mapping = mapping_get_host(fd, fl & O_ACCMODE, &st);
	if (!mapping)
		return NULL;
	f = file_alloc(mapping, (acc == O_WRONLY ? 0 : FMODE_READ) |
				(acc == O_RDONLY ? 0 : FMODE_WRITE));
	if (f)
		f->name = fd_path(fd);
	if (!f || !f->name) {
		free(f);
		mapping_put(mapping);
		errno = ENOMEM;
		return NULL;
	}
	f->path_fd = mapping_fd_named(mapping, f->name);
	/* the mount's, so per open: a noexec bind mount of the same inode */
	if (!fstatfs(fd, &sfs))
		f->noexec = sfs.f_flags & ST_NOEXEC;
	return f;
}

/* The inode is the opens' shared one: every mapping of it sees the new size. */
__visible int umm_file_truncate(struct umm_file *f, uint64_t size)
{
	struct address_space *mapping;
	uint64_t old;
	int err = 0;

	if (!f || f->f_mapping->anon_shared)
		return -EINVAL;
	if (size > MAX_LFS_FILESIZE)
		return -EINVAL;	/* a negative length, to ftruncate */
	if (!(f->f_mode & FMODE_WRITE))
		return -EINVAL;	/* ftruncate on a file not open for writing */
	mapping = f->f_mapping;
	down_write(&mapping->invalidate_lock);
	old = mapping->i_size;
	if (mapping->kind == FILE_HOST && ftruncate(READ_ONCE(mapping->wr_fd), (off_t)size))
		err = -errno;
	if (!err) {
		__atomic_store_n(&mapping->i_size, size, __ATOMIC_RELEASE);
		if (size < old)
			truncate_pagecache_range(mapping, size_pages(size), UINT64_MAX, true);
		if (size <= old) {
			/*
			 * The page cache is truncated at the end even at the
			 * same size (tmpfs, and the block file system), so
			 * what a mapping stored past it goes.
			 */
			zero_page_tail(mapping, size);
		} else if (mapping->kind == FILE_HOST) {
			/*
			 * The old last page's bytes past the old end become
			 * file bytes: zero, as the block file system reads
			 * them (shmem keeps what a mapping stored there).
			 */
			zero_page_tail(mapping, old);
		}
	}
	up_write(&mapping->invalidate_lock);
	return err;
}

__visible void umm_file_put(struct umm_file *f)
{
	fput(f);
}

int filemap_punch_hole(struct umm_file *file, uint64_t first, uint64_t last)
{
	struct address_space *mapping = file->f_mapping;
	int err = 0;

	down_write(&mapping->invalidate_lock);
	if (mapping->kind == FILE_HOST &&
	    fallocate(READ_ONCE(mapping->wr_fd), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(first << PAGE_SHIFT),
		      (off_t)((last - first + 1) << PAGE_SHIFT)))
		err = -errno;
	if (!err)
		truncate_pagecache_range(mapping, first, last, false);
	up_write(&mapping->invalidate_lock);
	return err;
}
