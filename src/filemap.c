// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * filemap.c - file objects behind mappings (see filemap.h).
 */
#include "filemap.h"

/* shmem inodes are numbered from one counter, as on a tmpfs mount */
static uint64_t next_ino = 1;

struct umm_file *shmem_zero_setup(void)
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
	if (f && atomic_add_return(&f->refcount, -1) == 0)
		free(f);
}
