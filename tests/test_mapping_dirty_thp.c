// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mapping_dirty_thp - dirty tracking over a shmem THP that
 * MADV_COLLAPSE mapped with a PMD leaf: a write through the leaf must be
 * recorded, and write protection must cover it. Also umm_read/umm_write
 * with a length the host's process_vm_readv refuses.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "uapi_mman.h"

#define P	4096UL
#define HP	(2UL << 20)

static void test_leaf_tracked(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	struct umm_file *f = umm_file_create("fb", HP, 0);
	int64_t r = umm_mmap(mm, 0, 2 * HP, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	uint64_t a = ((uint64_t)r + HP - 1) & ~(HP - 1), s = 0, e = 0;
	unsigned long bm[512 / (8 * sizeof(long))] = { 0 };

	CHECK_EQ(umm_mmap(mm, a, HP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f, 0),
		 (int64_t)a);
	for (uint64_t o = 0; o < HP; o += P)
		CHECK_EQ(umm_write(mm, a + o, "x", 1), 1);
	CHECK_EQ(umm_madvise(mm, a, HP, MADV_COLLAPSE), 0);
	/* the collapse maps the block with a leaf: written through it */
	CHECK_EQ(umm_write(mm, a + 7 * P, "y", 1), 1);
	umm_clean_record_shared_mapping_range(f, 0, 512, 0, bm, &s, &e);
	CHECK(bm[0] & (1UL << 7));
	CHECK(umm_wp_shared_mapping_range(f, 0, 512) >= 1);
	memset(bm, 0, sizeof(bm));
	s = e = 0;
	umm_clean_record_shared_mapping_range(f, 0, 512, 0, bm, &s, &e);
	CHECK_EQ(umm_write(mm, a + 9 * P, "z", 1), 1);
	memset(bm, 0, sizeof(bm));
	s = e = 0;
	CHECK(umm_clean_record_shared_mapping_range(f, 0, 512, 0, bm, &s, &e) >= 1);
	CHECK(bm[0] & (1UL << 9));
	umm_mm_destroy(mm);
	umm_file_put(f);
}

static void test_huge_length(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	int64_t a = umm_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	char buf[P] = { 'w' }, c = 0;

	/* the host's process_vm_writev: -EINVAL, nothing written */
	CHECK_EQ(umm_write(mm, a, buf, (size_t)1 << 63), -EINVAL);
	CHECK_EQ(umm_read(mm, a, &c, 1), 1);
	CHECK_EQ(c, 0);
	CHECK_EQ(umm_read(mm, a, buf, SIZE_MAX), -EINVAL);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_leaf_tracked);
	RUN(test_huge_length);
	return test_done();
}
