// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_populate - MADV_POPULATE_READ and MADV_POPULATE_WRITE, side by side
 * with the host kernel: the same calls on a window of umm's mm and of this
 * process, then the return values, the smaps blocks of the window (byte
 * for byte) and the pagemap flags compared. Anonymous, private and shared
 * file, shared anonymous and THP memory; holes, refused protections and
 * the end of a file; after a fork and after MADV_FREE; out of frames; and
 * the population an mprotect of a locked VMA makes, and an mremap that
 * makes one larger.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "uapi_mman.h"

#define P		4096ull
#define H		(2ull << 20)
#define WIN		(8ull << 20)
#define WPAGES		(WIN / P)
#define FILE_PAGES	10	/* the host file: 10 pages, then EOF */

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t base, res;
	struct umm_file *file;	/* umm's view of the host file */
	int fd;			/* the host file */
};

static unsigned zp_flags;	/* UMM_NO_ZERO_PAGE when the host maps none */

static void side_open(struct side *s, struct umm_mm *mm, int fd)
{
	memset(s, 0, sizeof(*s));
	s->mm = mm;
	s->fd = fd;
	s->base = both_window(mm, WIN, H, &s->res);
	if (mm) {
		s->file = umm_file_from_fd(fd, O_RDWR);
		CHECK(s->file);
	}
}

static void side_close(struct side *s)
{
	if (s->mm) {
		umm_mm_destroy(s->mm);
		umm_file_put(s->file);
	} else {
		CHECK_EQ(munmap((void *)s->res, WIN + 2 * H), 0);
	}
}

/* A host file of FILE_PAGES pages, each filled with its index + 1. */
static int host_file(void)
{
	return host_test_file("umm_populate", FILE_PAGES, NULL);
}

static void open_pair(struct side *host, struct side *us, uint64_t phys_limit)
{
	struct umm_opts o = { .size = sizeof(o), .flags = zp_flags,
			      .phys_limit = phys_limit };
	struct umm_mm *mm = umm_mm_create(&o);
	int fd = host_file();

	CHECK(mm);
	if (!mm)
		exit(test_done() | 1);
	side_open(host, NULL, fd);
	side_open(us, mm, fd);
}

static void close_pair(struct side *host, struct side *us)
{
	side_close(us);
	side_close(host);
	close(host->fd);
}

/*
 * [off, off + len) mapped with @prot and @flags over the reservation;
 * @file: the host file at offset 0 (else anonymous).
 */
static void map(struct side *s, uint64_t off, uint64_t len, int prot, int flags, bool file)
{
	uint64_t a = s->base + off;

	flags |= MAP_FIXED | (file ? 0 : MAP_ANONYMOUS);
	if (s->mm)
		CHECK_EQ(umm_mmap(s->mm, a, len, prot, flags, file ? s->file : NULL, 0),
			 (int64_t)a);
	else
		CHECK(mmap((void *)a, len, prot, flags, file ? s->fd : -1, 0) == (void *)a);
}

static int madv(struct side *s, uint64_t off, uint64_t len, int advice)
{
	return both_madvise(s->mm, s->base + off, len, advice);
}

static int madv2(struct side *host, struct side *us, uint64_t off, uint64_t len, int advice)
{
	return madvise_pair(host->base, us->mm, us->base, off, len, advice);
}

static void map2(struct side *host, struct side *us, uint64_t off, uint64_t len,
		 int prot, int flags, bool file)
{
	map(host, off, len, prot, flags, file);
	map(us, off, len, prot, flags, file);
}

static void write2(struct side *host, struct side *us, uint64_t off, uint64_t len, char c)
{
	for (uint64_t o = off; o < off + len; o += P) {
		both_write_byte(host->mm, host->base + o, c);
		both_write_byte(us->mm, us->base + o, c);
	}
}

/* One smaps field of umm's window, in kB. */
static unsigned long long us_kb(struct side *us, const char *name)
{
	char *t = smaps_window(us->mm, 0, us->base, WIN, NULL);
	unsigned long long v = field_kb(t, name);

	free(t);
	return v;
}

static void same_views(struct side *host, struct side *us, const char *what)
{
	static uint64_t buf[2 * WPAGES];

	same_smaps_windows(host->base, us->mm, us->base, WIN, what);
	same_pagemap_windows(host->base, us->mm, us->base, WPAGES, buf, what);
}

/* ---- tests ---- */

static void test_anon(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	/* read: the zero page everywhere (nothing resident), then write */
	CHECK_EQ(madv2(&host, &us, 0, 64 * P, MADV_POPULATE_READ), 0);
	same_views(&host, &us, "anon, POPULATE_READ");
	CHECK_EQ(madv2(&host, &us, 16 * P, 32 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "anon, POPULATE_WRITE of the middle half");
	CHECK_EQ(madv2(&host, &us, 0, 64 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "anon, POPULATE_WRITE of all");
	CHECK_EQ(us_kb(&us, "Rss"), 256);
	/* again: nothing to fault, same answer */
	CHECK_EQ(madv2(&host, &us, 0, 64 * P, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(madv2(&host, &us, 0, 64 * P, MADV_POPULATE_READ), 0);
	same_views(&host, &us, "anon, populated again");
	close_pair(&host, &us);
}

/* The answers for every protection: -EINVAL where the VMA refuses the access. */
static void test_prot(void)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC,
				     PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE };
	struct side host, us;

	open_pair(&host, &us, 0);
	for (unsigned i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		uint64_t off = i * 32 * P;

		map2(&host, &us, off, 16 * P, prots[i], MAP_PRIVATE, false);
		madv2(&host, &us, off, 16 * P, MADV_POPULATE_READ);
		madv2(&host, &us, off, 16 * P, MADV_POPULATE_WRITE);
	}
	same_views(&host, &us, "one VMA per protection, both populates");
	/* written, then made read-only: a write populate is refused */
	map2(&host, &us, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	write2(&host, &us, 0, 16 * P, 7);
	CHECK_EQ(both_mprotect(NULL, host.base, 16 * P, PROT_READ), 0);
	CHECK_EQ(both_mprotect(us.mm, us.base, 16 * P, PROT_READ), 0);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_WRITE), -EINVAL);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_READ), 0);
	same_views(&host, &us, "read-only after writes");
	close_pair(&host, &us);
}

/* Holes, bad ranges: the VMAs before a hole are populated, nothing after. */
static void test_ranges(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	map2(&host, &us, 32 * P, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	CHECK_EQ(both_munmap(NULL, host.base + 16 * P, 16 * P), 0);
	CHECK_EQ(both_munmap(us.mm, us.base + 16 * P, 16 * P), 0);
	CHECK_EQ(madv2(&host, &us, 8 * P, 40 * P, MADV_POPULATE_WRITE), -ENOMEM);
	/* the hole's start: nothing populated after it */
	CHECK_EQ(madv2(&host, &us, 16 * P, 32 * P, MADV_POPULATE_WRITE), -ENOMEM);
	CHECK_EQ(madv2(&host, &us, 16 * P, 16 * P, MADV_POPULATE_READ), -ENOMEM);
	both_reserve(NULL, host.base + 16 * P, 16 * P);
	both_reserve(us.mm, us.base + 16 * P, 16 * P);
	same_views(&host, &us, "the first VMA's back half written, the hole reserved again");
	CHECK_EQ(madv2(&host, &us, 1, P, MADV_POPULATE_WRITE), -EINVAL);
	CHECK_EQ(madv2(&host, &us, 0, 0, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(madv2(&host, &us, 32 * P, 1, MADV_POPULATE_WRITE), 0);	/* a page */
	CHECK_EQ(madv(&host, 32 * P, -(host.base + 32 * P), MADV_POPULATE_READ),
		 umm_madvise(us.mm, us.base + 32 * P, -(us.base + 32 * P),
			     MADV_POPULATE_READ));
	CHECK_EQ(umm_madvise(us.mm, us.base, UINT64_MAX, MADV_POPULATE_READ), -EINVAL);
	same_views(&host, &us, "after the bad ranges");
	close_pair(&host, &us);
}

/* Files: private (copy on write) and shared; past EOF is SIGBUS: -EFAULT. */
static void test_file(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, true);
	map2(&host, &us, 32 * P, 16 * P, PROT_READ | PROT_WRITE, MAP_SHARED, true);
	map2(&host, &us, 64 * P, 8 * P, PROT_READ | PROT_WRITE, MAP_SHARED, true);
	/* within EOF */
	CHECK_EQ(madv2(&host, &us, 0, 4 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(madv2(&host, &us, 2 * P, 4 * P, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(madv2(&host, &us, 64 * P, 8 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "file, within EOF");
	/* across EOF: pages before it populated */
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_WRITE), -EFAULT);
	CHECK_EQ(madv2(&host, &us, 32 * P, 16 * P, MADV_POPULATE_READ), -EFAULT);
	CHECK_EQ(madv2(&host, &us, 32 * P, 16 * P, MADV_POPULATE_WRITE), -EFAULT);
	same_views(&host, &us, "file, across EOF");
	/* the shared writes reach the file, on both sides */
	CHECK_EQ(umm_msync(us.mm, us.base + 32 * P, 16 * P, MS_SYNC), 0);
	close_pair(&host, &us);
}

/* Shared anonymous memory: both populates allocate its pages. */
static void test_shared_anon(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 32 * P, PROT_READ | PROT_WRITE, MAP_SHARED, false);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(madv2(&host, &us, 8 * P, 24 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "shared anonymous");
	close_pair(&host, &us);
}

/*
 * After a fork, a write populate gives the parent its own copies (the
 * child keeps the old pages); a read populate leaves them shared.
 */
static void test_fork(void)
{
	struct side host, us;
	struct umm_mm *child = NULL;
	int pipefd[2];
	pid_t pid;
	char c;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 32 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	write2(&host, &us, 0, 32 * P, 5);
	CHECK_EQ(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);	/* hold the pages until told */
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK_EQ(umm_fork(us.mm, &child), 0);
	same_views(&host, &us, "forked");
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(madv2(&host, &us, 8 * P, 16 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "forked, then populated");
	/* the child still sees the old bytes */
	CHECK_EQ(umm_read(child, us.base + 8 * P, &c, 1), 1);
	CHECK_EQ(c, 5);
	close(pipefd[1]);
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	umm_mm_destroy(child);
	close_pair(&host, &us);
}

/* MADV_FREE, then populate: a write makes the pages dirty (not lazily freeable). */
static void test_lazyfree(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 32 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	write2(&host, &us, 0, 32 * P, 3);
	CHECK_EQ(madv2(&host, &us, 0, 32 * P, MADV_FREE), 0);
	drain_host_lazyfree();
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(madv2(&host, &us, 16 * P, 8 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "MADV_FREE, then populated");
	CHECK_EQ(us_kb(&us, "LazyFree"), 96);
	close_pair(&host, &us);
}

/* THP memory: a write populate of a MADV_HUGEPAGE block maps a leaf. */
static void test_thp(void)
{
	struct side host, us;
	char *h;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 2 * H, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	CHECK_EQ(madv2(&host, &us, 0, 2 * H, MADV_HUGEPAGE), 0);
	CHECK_EQ(madv2(&host, &us, 0, 2 * H, MADV_POPULATE_WRITE), 0);
	h = smaps_window(NULL, 0, host.base, WIN, NULL);
	if (field_kb(h, "AnonHugePages") == 4096)
		same_views(&host, &us, "THP, POPULATE_WRITE");
	else
		printf("     note: host gave no THP, comparison skipped\n");
	free(h);
	CHECK_EQ(us_kb(&us, "AnonHugePages"), 4096);
	/* populated again: the leaves only touched */
	CHECK_EQ(madv2(&host, &us, P, 2 * H - P, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(us_kb(&us, "AnonHugePages"), 4096);
	close_pair(&host, &us);
}

/*
 * mprotect making a locked private VMA writable populates that VMA, and
 * only it: not its unlocked neighbours in the same call's range.
 */
static void test_mprotect_locked(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false);
	map2(&host, &us, 16 * P, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_LOCKED, false);
	CHECK_EQ(both_mprotect(NULL, host.base, 64 * P, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(both_mprotect(us.mm, us.base, 64 * P, PROT_READ | PROT_WRITE), 0);
	same_views(&host, &us, "a locked VMA made writable between unlocked ones");
	CHECK_EQ(us_kb(&us, "Rss"), 16);
	close_pair(&host, &us);
}

/* mremap on both sides; @new_off is used with MREMAP_FIXED. */
static void mremap2(struct side *host, struct side *us, uint64_t off, uint64_t old_len,
		    uint64_t new_len, int flags, uint64_t new_off)
{
	uint64_t to = (flags & MREMAP_FIXED) ? new_off : off;
	void *h = mremap((void *)(host->base + off), old_len, new_len, flags,
			 (void *)(host->base + new_off));

	CHECK(h == (void *)(host->base + to));
	CHECK_EQ(umm_mremap(us->mm, us->base + off, old_len, new_len, flags,
			    us->base + new_off), (int64_t)(us->base + to));
}

/*
 * mremap that makes a locked VMA larger faults the added part in (and
 * only it), in place or moved, as mlock() would: the kernel populates
 * the new tail once the call is done. A copy of a shared mapping (old
 * length 0) is all new.
 */
static void test_mremap_locked(void)
{
	struct side host, us;

	open_pair(&host, &us, 0);
	map2(&host, &us, 0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_LOCKED, false);
	map2(&host, &us, 64 * P, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_LOCKED, false);
	map2(&host, &us, 128 * P, 2 * P, PROT_READ, MAP_SHARED | MAP_LOCKED, true);
	map2(&host, &us, 256 * P, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, false);
	same_views(&host, &us, "locked VMAs");
	/* room to grow in place: the reservation goes from behind it */
	CHECK_EQ(munmap((void *)(host.base + 4 * P), 4 * P), 0);
	CHECK_EQ(umm_munmap(us.mm, us.base + 4 * P, 4 * P), 0);
	mremap2(&host, &us, 0, 4 * P, 8 * P, 0, 0);
	same_views(&host, &us, "a locked VMA grown in place");
	mremap2(&host, &us, 64 * P, 2 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 80 * P);
	same_views(&host, &us, "a locked VMA moved and grown");
	mremap2(&host, &us, 128 * P, 2 * P, 6 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 160 * P);
	same_views(&host, &us, "a locked file VMA moved and grown");
	mremap2(&host, &us, 256 * P, 0, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 300 * P);
	same_views(&host, &us, "a locked shared VMA copied");
	/* the shared VMA and its copy hold 2 pages each */
	CHECK_EQ(us_kb(&us, "Rss"), (8 + 6 + 6 + 2 + 2) * 4);
	close_pair(&host, &us);
}

/* Out of frames: -ENOMEM, what fitted stays, and freeing lets it finish. */
static void test_oom(void)
{
	struct umm_opts o = { .size = sizeof(o), .phys_limit = 64 * P };
	struct umm_mm *mm = umm_mm_create(&o);
	int64_t a;
	char c = 0;

	CHECK(mm);
	if (!mm)
		return;
	a = umm_mmap(mm, 0, 256 * P, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	CHECK(a > 0);
	CHECK_EQ(umm_madvise(mm, (uint64_t)a, 256 * P, MADV_POPULATE_WRITE), -ENOMEM);
	CHECK_EQ(umm_write(mm, (uint64_t)a, "x", 1), 1);
	CHECK_EQ(umm_madvise(mm, (uint64_t)a + 128 * P, 128 * P, MADV_DONTNEED), 0);
	CHECK_EQ(umm_munmap(mm, (uint64_t)a + 32 * P, 224 * P), 0);
	CHECK_EQ(umm_madvise(mm, (uint64_t)a, 32 * P, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(umm_read(mm, (uint64_t)a, &c, 1), 1);
	CHECK_EQ(c, 'x');
	umm_mm_destroy(mm);
}

int main(void)
{
	if (!host_maps_zero_page())
		zp_flags = UMM_NO_ZERO_PAGE;
	RUN(test_anon);
	RUN(test_prot);
	RUN(test_ranges);
	RUN(test_file);
	RUN(test_shared_anon);
	RUN(test_fork);
	RUN(test_lazyfree);
	RUN(test_thp);
	RUN(test_mprotect_locked);
	RUN(test_mremap_locked);
	RUN(test_oom);
	return test_done();
}
