// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mincore - umm_mincore beside the host's mincore(2): the same calls
 * on a window of this process and on an mm, compared vector for vector
 * and errno for errno.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "uapi_mman.h"

#define W	0x3a0000000000UL
#define P	4096UL
#define N	32

static struct umm_mm *mm;

static void both_mmap(uint64_t a, uint64_t len, int prot, int flags)
{
	void *h = mmap((void *)a, len, prot, flags | MAP_FIXED, -1, 0);

	CHECK(h == (void *)a);
	CHECK_EQ(umm_mmap(mm, a, len, prot, flags | MAP_FIXED, NULL, 0), a);
}

static void both_touch(uint64_t a, bool write)
{
	char c = 7, d;

	if (write) {
		*(volatile char *)a = c;
		CHECK_EQ(umm_write(mm, a, &c, 1), 1);
	} else {
		d = *(volatile char *)a;
		(void)d;
		CHECK_EQ(umm_read(mm, a, &d, 1), 1);
	}
}

static void compare(uint64_t a, uint64_t len)
{
	unsigned char hv[N + 1] = { 0 }, uv[N + 1] = { 0 };
	long h = syscall(SYS_mincore, a, len, hv);
	int u = umm_mincore(mm, a, len, uv);

	h = h < 0 ? -errno : h;
	CHECK_EQ(u, h);
	if (!h)
		for (int i = 0; i < N; i++)
			if ((hv[i] & 1) != uv[i]) {
				fprintf(stderr, "mincore(%#lx, %#lx): page %d host %d umm %d\n",
					(unsigned long)a, (unsigned long)len, i, hv[i] & 1, uv[i]);
				CHECK_EQ(uv[i], hv[i] & 1);
			}
}

/*
 * A NULL vector: the host looks the range up before it copies a byte out,
 * so a hole at the start is -ENOMEM and a mapped start -EFAULT.
 */
static void compare_null_vec(uint64_t a, uint64_t len)
{
	long h = syscall(SYS_mincore, a, len, NULL);

	h = h < 0 ? -errno : h;
	CHECK_EQ(umm_mincore(mm, a, len, NULL), h);
}

static void test_mincore_vs_host(void)
{
	mm = umm_mm_create(NULL);
	/* the window must be free in this process */
	unsigned char probe;

	CHECK_EQ(syscall(SYS_mincore, W, N * P, &probe) < 0 ? errno : 0, ENOMEM);
	both_mmap(W, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	both_mmap(W + 16 * P, 8 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
	both_mmap(W + 24 * P, 8 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS);
	compare(W, N * P);
	both_touch(W, true);
	both_touch(W + 2 * P, true);
	both_touch(W + 4 * P, false);		/* the zero page counts */
	both_touch(W + 17 * P, true);
	both_touch(W + 19 * P, false);
	compare(W, N * P);
	CHECK_EQ(madvise((void *)W, 3 * P, MADV_DONTNEED), 0);
	CHECK_EQ(umm_madvise(mm, W, 3 * P, MADV_DONTNEED), 0);
	/* shared: dropped from this mapping, still in the object's cache */
	CHECK_EQ(madvise((void *)(W + 16 * P), 8 * P, MADV_DONTNEED), 0);
	CHECK_EQ(umm_madvise(mm, W + 16 * P, 8 * P, MADV_DONTNEED), 0);
	compare(W, N * P);
	compare(W + 4 * P, 1);			/* partial page: one entry */
	compare(W + 1, P);			/* unaligned start */
	compare(W, 0);
	CHECK_EQ(munmap((void *)(W + 8 * P), P), 0);
	CHECK_EQ(umm_munmap(mm, W + 8 * P, P), 0);
	compare(W, N * P);			/* a hole: -ENOMEM */
	compare(W + 9 * P, 4 * P);
	compare(0x7fffffffe000UL, 0x4000);	/* past the address space */
	CHECK_EQ(umm_mincore(mm, W, P, NULL), -EFAULT);
	compare_null_vec(W, P);
	compare_null_vec(W + 8 * P, P);		/* a hole first */
	compare_null_vec(W + 7 * P, 2 * P);	/* then a hole */
	compare_null_vec(W + 32 * P, P);	/* past the window */
	compare_null_vec(W + 1, P);
	compare_null_vec(W + 8 * P, 0);
	munmap((void *)W, N * P);
	umm_mm_destroy(mm);
}

/*
 * A shmem THP mapped by a PMD leaf (shared anonymous memory collapsed):
 * every page of it resident; still so through the object's cache once
 * part of it is MADV_DONTNEEDed (the whole leaf goes) or PROT_NONE.
 */
static void test_mincore_shmem_thp(void)
{
	const uint64_t w = W + (4UL << 20), hps = 2UL << 20;
	unsigned char probe;

	mm = umm_mm_create(NULL);
	CHECK_EQ(syscall(SYS_mincore, w, hps, &probe) < 0 ? errno : 0, ENOMEM);
	both_mmap(w, hps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
	for (uint64_t off = 0; off < hps; off += P)
		both_touch(w + off, true);
	if (madvise((void *)w, hps, MADV_COLLAPSE)) {
		printf("     the host could not collapse shmem (%d): not compared\n", errno);
		goto out;
	}
	CHECK_EQ(umm_madvise(mm, w, hps, MADV_COLLAPSE), 0);
	compare(w, N * P);
	compare(w + hps - N * P, N * P);
	compare(w + 5 * P, 1);
	CHECK_EQ(mprotect((void *)w, hps, PROT_NONE), 0);
	CHECK_EQ(umm_mprotect(mm, w, hps, PROT_NONE), 0);
	compare(w, N * P);
	CHECK_EQ(mprotect((void *)w, hps, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_mprotect(mm, w, hps, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(madvise((void *)(w + 3 * P), P, MADV_DONTNEED), 0);
	CHECK_EQ(umm_madvise(mm, w + 3 * P, P, MADV_DONTNEED), 0);
	compare(w, N * P);
out:
	munmap((void *)w, hps);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_mincore_vs_host);
	RUN(test_mincore_shmem_thp);
	return test_done();
}
