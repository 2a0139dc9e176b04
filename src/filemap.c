// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * filemap.c - file objects behind mappings and their page cache.
 *
 * The cache maps an index to a page that holds one reference for the
 * cache; lookups run lockless under RCU and take their own reference with
 * get_page_unless_zero(), then check the page is still the one cached (it
 * may have been removed and freed meanwhile: frames are reused only
 * through the allocator, so the check is what makes the reference good).
 */
#include <errno.h>
#include "filemap.h"
#include "page_alloc.h"

/* shmem inodes are numbered from one counter, as on a tmpfs mount */
static uint64_t next_ino = 1;

struct umm_file *shmem_zero_setup(uint64_t size)
{
	struct umm_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->refcount = 1;
	f->ino = atomic_add_return(&next_ino, 1);
	f->dev_major = 0;
	f->dev_minor = 1;	/* the shmem mount's anonymous device, as the host shows */
	f->name = "/dev/zero (deleted)";
	f->anon_shared = true;
	f->size = size;
	xa_init(&f->i_pages);
	return f;
}

struct umm_file *get_file(struct umm_file *f)
{
	if (f)
		atomic_add_return(&f->refcount, 1);
	return f;
}

void fput(struct umm_file *f)
{
	if (!f || atomic_add_return(&f->refcount, -1) != 0)
		return;
	/* no VMA maps the file any more: the cache's pages go */
	filemap_remove_range(f, 0, UINT64_MAX);
	xa_destroy(&f->i_pages);
	free(f);
}

struct page *filemap_get_page(struct umm_file *f, uint64_t index,
			       struct frame_quota *quota)
{
	for (;;) {
		struct page *page;
		int err;

		rcu_read_lock();
		page = xa_load(&f->i_pages, index);
		if (page && !get_page_unless_zero(page))
			page = NULL;
		if (page && xa_load(&f->i_pages, index) != page) {
			put_page(page);	/* removed meanwhile: look again */
			rcu_read_unlock();
			continue;
		}
		rcu_read_unlock();
		if (page)
			return page;
		page = alloc_page(quota, GFP_KERNEL);
		if (!page)
			return NULL;
		WRITE_ONCE(page->mapping, (void *)f);
		page->index = index;
		err = xa_insert(&f->i_pages, index, page);
		if (!err) {
			get_page(page);	/* the caller's; the cache keeps the first */
			return page;
		}
		put_page(page);
		if (err != -EEXIST)
			return NULL;
	}
}

void filemap_remove_range(struct umm_file *f, uint64_t first, uint64_t last)
{
	uint64_t index = first;
	struct page *page;

	for (;;) {
		rcu_read_lock();
		page = xa_find(&f->i_pages, &index, last);
		rcu_read_unlock();
		if (!page)
			break;
		if (xa_cmpxchg(&f->i_pages, index, page, NULL, NULL) == page) {
			WRITE_ONCE(page->mapping, NULL);
			put_page(page);	/* the cache's reference */
		}
		if (index == last)
			break;
		index++;
	}
}
