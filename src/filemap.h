/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filemap.h - files that VMAs map, and their page cache. For now the
 * memory-backed kind shared anonymous mappings need (shmem_zero_setup);
 * host files behind a page cache come next.
 */
#ifndef UMM_FILEMAP_H
#define UMM_FILEMAP_H

#include "mm_types.h"
#include "xarray.h"

struct umm_file {
	uint64_t refcount;	/* atomic */
	uint64_t ino;		/* fixed; what maps shows */
	uint32_t dev_major, dev_minor;	/* fixed */
	const char *name;	/* fixed; the maps path */
	bool anon_shared;	/* a MAP_SHARED|MAP_ANONYMOUS object */
	uint64_t size;		/* bytes; fixed for shared anonymous objects */
	/* the page cache: index -> struct page, one reference each; xa_lock */
	struct xarray i_pages;
};

/* shmem_zero_setup - the object behind a new shared anonymous mapping. */
struct umm_file *shmem_zero_setup(uint64_t size);
struct umm_file *get_file(struct umm_file *f);
void fput(struct umm_file *f);

/*
 * filemap_get_page - the cache page at @index, created (zeroed) if
 * missing and charged to @quota (the faulting mm's, as memcg charges the
 * faulting task), with a reference for the caller.
 * Locking: none held; lookups are lockless (RCU), insertion takes xa_lock.
 * Return: the page, or NULL when out of memory.
 */
struct page *filemap_get_page(struct umm_file *f, uint64_t index,
			       struct frame_quota *quota);

/* Drop the cache's pages in [first, last] (a hole punch). */
void filemap_remove_range(struct umm_file *f, uint64_t first, uint64_t last);

#endif /* UMM_FILEMAP_H */
