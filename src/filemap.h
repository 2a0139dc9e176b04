/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filemap.h - files that VMAs map. For now only what shared anonymous
 * mappings need (a memory-backed object per mapping, as shmem_zero_setup
 * gives); the page cache and host-file backing arrive with page faults.
 */
#ifndef UMM_FILEMAP_H
#define UMM_FILEMAP_H

#include "mm_types.h"

struct umm_file {
	uint64_t refcount;	/* atomic */
	uint64_t ino;		/* fixed; what maps shows */
	uint32_t dev_major, dev_minor;	/* fixed */
	const char *name;	/* fixed; the maps path */
	bool anon_shared;	/* a MAP_SHARED|MAP_ANONYMOUS object */
};

/* shmem_zero_setup - the object behind a new shared anonymous mapping. */
struct umm_file *shmem_zero_setup(void);
struct umm_file *get_file(struct umm_file *f);
void fput(struct umm_file *f);

#endif /* UMM_FILEMAP_H */
