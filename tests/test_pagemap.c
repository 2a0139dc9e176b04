// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pagemap - umm_pagemap and umm_smaps beside the host's
 * /proc/self/pagemap and /proc/self/smaps: the same
 * mappings and touches in a window of this process and in an umm mm
 * (private and shared anonymous memory, a private and a shared mapping of
 * a host file, PROT_NONE, MADV_DONTNEED, mprotect, holes), then every
 * page's flag bits (present, file/shared, exclusive) must agree (but for
 * the host's fault-around of file pages, which umm does not do), and every
 * VMA's smaps block but the device, inode and name of its header line.
 * Frame numbers differ by nature. The file is dropped from the host's page
 * cache first, so that the host's fault-around (which umm lacks) has no
 * cached neighbours to map.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "uapi_mman.h"

#define P		4096ull
#define WIN		(8ull << 20)	/* 2 MiB-aligned on both sides */
#define PAGES		128		/* the pages compared in pagemap */
#define FLAGS_MASK	(~((1ull << 55) - 1) & ~(1ull << 55))	/* bits 56-63 */

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	struct umm_file *file, *file2;
	int fd, fd2;
	uint64_t base;
};

static bool file_cached;	/* the host could not drop the file's pages */

static bool host_file_cached(int fd)
{
	unsigned char vec[16];
	void *p = mmap(NULL, 16 * P, PROT_READ, MAP_SHARED, fd, 0);
	bool any = false;

	CHECK(p != MAP_FAILED);
	CHECK_EQ(mincore(p, 16 * P, vec), 0);
	for (int i = 0; i < 16; i++)
		any |= vec[i] & 1;
	munmap(p, 16 * P);
	return any;
}

static int64_t map(struct side *s, uint64_t off, uint64_t len, int prot,
		   int flags, bool file, uint64_t foff)
{
	flags |= MAP_FIXED | (file ? 0 : MAP_ANONYMOUS);
	if (s->mm)
		return umm_mmap(s->mm, s->base + off, len, prot, flags,
				file ? s->file : NULL, foff);
	void *p = mmap((void *)(s->base + off), len, prot, flags, file ? s->fd : -1,
		       (off_t)foff);
	return p == MAP_FAILED ? -errno : (int64_t)(uintptr_t)p;
}

static void rd(struct side *s, uint64_t off)
{
	both_read_byte(s->mm, s->base + off);
}

static void wr(struct side *s, uint64_t off)
{
	both_write_byte(s->mm, s->base + off, 'w');
}

static void pagemap(struct side *s, uint64_t *out)
{
	if (s->mm) {
		CHECK_EQ(umm_pagemap(s->mm, s->base, PAGES, out), 0);
		return;
	}
	int fd = open("/proc/self/pagemap", O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, out, PAGES * 8, (off_t)(s->base / P * 8)),
		 (ssize_t)(PAGES * 8));
	close(fd);
}

static char *smaps(struct side *s);

struct pair {
	struct side *host, *us;
};

/* settle_host's @agree: the two windows' smaps are the same. */
static bool smaps_agree(void *arg)
{
	struct pair *p = arg;
	char *hs = smaps(p->host), *us_ = smaps(p->us);
	bool same = !strcmp(hs, us_);

	free(hs);
	free(us_);
	return same;
}

/* The smaps blocks of the window agree, host and umm. */
static void same_smaps(struct side *host, struct side *us)
{
	char *hs = smaps(host), *us_ = smaps(us);

	if (strcmp(hs, us_) || getenv("SHOW"))
		printf("   host:\n%s   umm:\n%s", hs, us_);
	CHECK(!strcmp(hs, us_));
	free(hs);
	free(us_);
}

/*
 * The scenario, page offsets in the window:
 *   0-15  private anon rw: 0-4 written, 10 read, 2 DONTNEEDed, 12-15 r--
 *  20-27  shared anon rw: 20 written, 21 read
 *  30-33  PROT_NONE
 *  40-47  private file rw: 40 read, 41 written (copied), 42 read
 *  50-57  shared file rw: 50 written, 51 read
 *  60-63  private anon rw: all written, 60-62 MADV_FREEd, then 61
 *         written and 62 read again (LazyFree: 60 and 62)
 *  64-127 private r-- mapping of a second file, one the host keeps in its
 *         cache: 84 read, and fault-around maps 80-95 on both sides (umm
 *         has read 68-99 around the miss)
 *  2-6 MiB   private anon, MADV_HUGEPAGE, untouched (THPeligible)
 *  6.5-7 MiB private anon, MADV_HUGEPAGE, too small for a huge page
 *  the rest: holes
 */
static void build(struct side *s)
{
	CHECK_EQ(map(s, 0, 16 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false, 0),
		 (int64_t)s->base);
	CHECK_EQ(map(s, 20 * P, 8 * P, PROT_READ | PROT_WRITE, MAP_SHARED, false, 0),
		 (int64_t)(s->base + 20 * P));
	CHECK_EQ(map(s, 30 * P, 4 * P, PROT_NONE, MAP_PRIVATE, false, 0),
		 (int64_t)(s->base + 30 * P));
	CHECK_EQ(map(s, 40 * P, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, true, 0),
		 (int64_t)(s->base + 40 * P));
	CHECK_EQ(map(s, 50 * P, 8 * P, PROT_READ | PROT_WRITE, MAP_SHARED, true, 8 * P),
		 (int64_t)(s->base + 50 * P));
	/* one page read a fault: what the host caches, umm does too */
	if (s->mm) {
		CHECK_EQ(umm_madvise(s->mm, s->base + 40 * P, 8 * P, MADV_RANDOM), 0);
		CHECK_EQ(umm_madvise(s->mm, s->base + 50 * P, 8 * P, MADV_RANDOM), 0);
	} else {
		CHECK_EQ(madvise((void *)(s->base + 40 * P), 8 * P, MADV_RANDOM), 0);
		CHECK_EQ(madvise((void *)(s->base + 50 * P), 8 * P, MADV_RANDOM), 0);
	}
	for (uint64_t i = 0; i < 5; i++)
		wr(s, i * P);
	rd(s, 10 * P);
	wr(s, 20 * P);
	rd(s, 21 * P);
	rd(s, 40 * P);
	wr(s, 41 * P);
	rd(s, 42 * P);
	wr(s, 50 * P);
	rd(s, 51 * P);
	CHECK_EQ(map(s, 60 * P, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false, 0),
		 (int64_t)(s->base + 60 * P));
	for (uint64_t i = 60; i < 64; i++)
		wr(s, i * P);
	if (s->mm) {
		CHECK_EQ(umm_madvise(s->mm, s->base + 60 * P, 3 * P, MADV_FREE), 0);
	} else {
		drain_host_lazyfree();	/* the new pages on the LRU first */
		CHECK_EQ(madvise((void *)(s->base + 60 * P), 3 * P, MADV_FREE), 0);
	}
	wr(s, 61 * P);
	rd(s, 62 * P);
	if (s->mm) {
		CHECK_EQ(umm_mmap(s->mm, s->base + 64 * P, 64 * P, PROT_READ,
				  MAP_PRIVATE | MAP_FIXED, s->file2, 0),
			 (int64_t)(s->base + 64 * P));
	} else {
		CHECK(mmap((void *)(s->base + 64 * P), 64 * P, PROT_READ,
			   MAP_PRIVATE | MAP_FIXED, s->fd2, 0) != MAP_FAILED);
	}
	rd(s, 84 * P);
	if (!s->mm)
		drain_host_lazyfree();
	CHECK_EQ(map(s, 2ull << 20, 4ull << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		     false, 0), (int64_t)(s->base + (2ull << 20)));
	CHECK_EQ(map(s, 13ull << 19, 1ull << 19, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		     false, 0), (int64_t)(s->base + (13ull << 19)));
	if (s->mm) {
		CHECK_EQ(umm_madvise(s->mm, s->base + 2 * P, P, MADV_DONTNEED), 0);
		CHECK_EQ(umm_mprotect(s->mm, s->base + 12 * P, 4 * P, PROT_READ), 0);
		CHECK_EQ(umm_madvise(s->mm, s->base + (2ull << 20), 4ull << 20,
				     MADV_HUGEPAGE), 0);
		CHECK_EQ(umm_madvise(s->mm, s->base + (13ull << 19), 1ull << 19,
				     MADV_HUGEPAGE), 0);
	} else {
		CHECK_EQ(madvise((void *)(s->base + 2 * P), P, MADV_DONTNEED), 0);
		CHECK_EQ(mprotect((void *)(s->base + 12 * P), 4 * P, PROT_READ), 0);
		CHECK_EQ(madvise((void *)(s->base + (2ull << 20)), 4ull << 20,
				 MADV_HUGEPAGE), 0);
		CHECK_EQ(madvise((void *)(s->base + (13ull << 19)), 1ull << 19,
				 MADV_HUGEPAGE), 0);
	}
}

/* The files' VMAs, when the host could not drop the file's pages. */
static bool skip_cached_file(uint64_t start, uint64_t end)
{
	return file_cached && start >= 40 * P && end <= 58 * P;
}

static char *smaps(struct side *s)
{
	return smaps_window(s->mm, 0, s->base, WIN, skip_cached_file);
}

/*
 * settle_host's @redo: MADV_FREE again of pages 60 and 62 (61 was written
 * since), and 62 read again, as it was after.
 */
static void views_free_again(void *arg)
{
	uint64_t b = ((struct pair *)arg)->host->base;

	CHECK_EQ(madvise((void *)(b + 60 * P), P, MADV_FREE), 0);
	CHECK_EQ(madvise((void *)(b + 62 * P), P, MADV_FREE), 0);
	(void)*(volatile char *)(b + 62 * P);
}

/* A write of @type to the host's /proc/self/clear_refs. */
static void host_clear_refs(int type)
{
	char c = (char)('0' + type);
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, &c, 1), 1);
	close(fd);
}

static unsigned long long smaps_kb(struct side *s, const char *name)
{
	char *t = smaps(s);
	unsigned long long kb = field_kb(t, name);

	free(t);
	return kb;
}

/*
 * umm_clear_refs beside the host's clear_refs, on the scenario built:
 * anonymous VMAs only (2; shared anonymous memory is a file's), VMAs of
 * files only (3), then all (1): after each, every smaps block agrees,
 * Referenced gone where the type reaches and kept elsewhere. The
 * soft-dirty reset (4, no CONFIG_MEM_SOFT_DIRTY on either side) and the
 * peak-RSS reset (5) change nothing smaps shows. A page touched again is
 * referenced again, checked on umm's side only: the host's CPU may still
 * hold a translation with the accessed bit, and not set it again.
 */
static void clear_refs_as_host(struct side *host, struct side *us)
{
	static const int types[] = { 4, 5, 2, 3, 1 };

	CHECK(smaps_kb(us, "Referenced") > 0);
	for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		host_clear_refs(types[i]);
		CHECK_EQ(umm_clear_refs(us->mm, types[i]), 0);
		same_smaps(host, us);
	}
	CHECK_EQ(smaps_kb(us, "Referenced"), 0);
	rd(us, 0);		/* through a translation cached before: dropped */
	wr(us, 3 * P);
	rd(us, 21 * P);
	CHECK_EQ(smaps_kb(us, "Referenced"), 12);
	CHECK_EQ(umm_clear_refs(us->mm, 3), 0);
	CHECK_EQ(smaps_kb(us, "Referenced"), 8);
	CHECK_EQ(umm_clear_refs(us->mm, 0), -EINVAL);
	CHECK_EQ(umm_clear_refs(us->mm, 6), -EINVAL);
	CHECK_EQ(umm_clear_refs(us->mm, -1), -EINVAL);
	CHECK_EQ(umm_clear_refs(NULL, 1), -EINVAL);
	CHECK_EQ(smaps_kb(us, "Referenced"), 8);
}

/*
 * KSM's advice beside the host's, whose ksmd is stopped (run 0, the
 * default; umm has none): MADV_MERGEABLE marks private VMAs (smaps'
 * "mg"), passes shared ones over without an error, splits a VMA it marks
 * in part, and a marked VMA does not merge with an unmarked neighbour;
 * MADV_UNMERGEABLE undoes it all. A hole still answers -ENOMEM.
 */
static void test_ksm_advice_as_host(void)
{
	const uint64_t len = 32 * P;
	struct umm_mm *mm = umm_mm_create(NULL);
	uint64_t hres, ures, h, u;
	int flags = MAP_ANONYMOUS | MAP_FIXED;

	CHECK(mm);
	if (!mm)
		return;
	h = both_window(NULL, len, 2ull << 20, &hres);
	u = both_window(mm, len, 2ull << 20, &ures);
	CHECK(mmap((void *)h, 16 * P, PROT_READ | PROT_WRITE, flags | MAP_PRIVATE, -1, 0) ==
	      (void *)h);
	CHECK_EQ(umm_mmap(mm, u, 16 * P, PROT_READ | PROT_WRITE, flags | MAP_PRIVATE, NULL, 0),
		 (int64_t)u);
	CHECK(mmap((void *)(h + 16 * P), 8 * P, PROT_READ | PROT_WRITE, flags | MAP_SHARED,
		   -1, 0) == (void *)(h + 16 * P));
	CHECK_EQ(umm_mmap(mm, u + 16 * P, 8 * P, PROT_READ | PROT_WRITE, flags | MAP_SHARED,
			  NULL, 0), (int64_t)(u + 16 * P));
	both_write_byte(NULL, h + 2 * P, 'k');
	both_write_byte(mm, u + 2 * P, 'k');
	CHECK_EQ(madvise_pair(h, mm, u, 4 * P, 16 * P, MADV_MERGEABLE), 0);
	same_smaps_windows(h, mm, u, len, "MADV_MERGEABLE over private and shared memory");
	CHECK_EQ(madvise_pair(h, mm, u, 0, 4 * P, MADV_MERGEABLE), 0);
	same_smaps_windows(h, mm, u, len, "MADV_MERGEABLE of the rest: one VMA again");
	CHECK_EQ(madvise_pair(h, mm, u, 8 * P, 4 * P, MADV_UNMERGEABLE), 0);
	same_smaps_windows(h, mm, u, len, "MADV_UNMERGEABLE of a part");
	CHECK_EQ(both_munmap(NULL, h + 24 * P, 2 * P), 0);
	CHECK_EQ(both_munmap(mm, u + 24 * P, 2 * P), 0);
	CHECK_EQ(madvise_pair(h, mm, u, 20 * P, 10 * P, MADV_MERGEABLE), -ENOMEM);
	CHECK_EQ(madvise_pair(h, mm, u, 0, 16 * P, MADV_UNMERGEABLE), 0);
	same_smaps_windows(h, mm, u, len, "MADV_UNMERGEABLE of all");
	CHECK_EQ(munmap((void *)hres, len + (4ull << 20)), 0);
	umm_mm_destroy(mm);
}

static void test_proc_views_as_host(void)
{
	char path[] = "/tmp/umm_pagemap_XXXXXX";
	static char buf[16 * P];
	struct umm_opts o = { .size = sizeof(o) };
	struct side host = { 0 }, us = { 0 };
	uint64_t h[PAGES], u[PAGES], p;
	void *w;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	memset(buf, 'f', sizeof(buf));
	CHECK_EQ(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	/*
	 * Written back and out of the host's page cache: then the host maps
	 * just the pages faulted (its fault-around maps only cached pages),
	 * and they are clean, as umm's, which reads the file on a miss.
	 */
	CHECK_EQ(fsync(fd), 0);
	CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	file_cached = host_file_cached(fd);
	if (file_cached)
		printf("     the host keeps the file cached (tmpfs?): file pages and "
		       "their smaps counts are not compared\n");
	o.flags = host_maps_zero_page() ? 0 : UMM_NO_ZERO_PAGE;
	host.fd = fd;
	/* the second file stays in the host's cache, written back (clean) */
	strcpy(path, "/tmp/umm_pagemap_XXXXXX");
	host.fd2 = mkstemp(path);
	CHECK(host.fd2 >= 0);
	unlink(path);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(write(host.fd2, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	CHECK_EQ(fsync(host.fd2), 0);
	CHECK(host_file_cached(host.fd2));
	/*
	 * The window is 2 MiB-aligned (THPeligible depends on alignment) and
	 * kept between PROT_NONE guards, so that nothing of the process
	 * merges with what is built in it.
	 */
	w = mmap(NULL, WIN + (4ull << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(w != MAP_FAILED);
	host.base = ((uint64_t)(uintptr_t)w + (2ull << 20)) & ~((2ull << 20) - 1);
	CHECK_EQ(munmap((void *)host.base, WIN), 0);
	us.mm = umm_mm_create(&o);
	us.file = umm_file_from_fd(fd, O_RDWR);
	us.file2 = umm_file_from_fd(host.fd2, O_RDONLY);
	CHECK(us.mm && us.file && us.file2);
	us.base = (uint64_t)umm_mmap(us.mm, 0, WIN + (4ull << 20), PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	us.base = (us.base + (2ull << 20)) & ~((2ull << 20) - 1);
	CHECK_EQ(umm_munmap(us.mm, us.base, WIN), 0);
	build(&host);
	build(&us);
	pagemap(&host, h);
	pagemap(&us, u);
	for (p = 0; p < PAGES; p++) {
		/*
		 * The host maps the cached pages around a file fault (fault-
		 * around); umm maps only the page faulted ("Not yet" in the
		 * README): with the file cached on the host, its pages differ.
		 */
		if (file_cached && ((p >= 40 && p < 48) || (p >= 50 && p < 58)))
			continue;
		if ((h[p] & FLAGS_MASK) != (u[p] & FLAGS_MASK))
			printf("     page %2llu: host %016llx umm %016llx\n",
			       (unsigned long long)p, (unsigned long long)h[p],
			       (unsigned long long)u[p]);
		CHECK_EQ(h[p] & FLAGS_MASK, u[p] & FLAGS_MASK);
		CHECK_EQ(!!(h[p] >> 63), !!(u[p] >> 63));
	}
	/* smaps, block by block */
	settle_host(smaps_agree, views_free_again, &(struct pair){ &host, &us },
		    "MADV_FREE of pages 60-62");
	same_smaps(&host, &us);
	clear_refs_as_host(&host, &us);
	/* a present page has a frame number; pages 20 (shared) differ from 0 */
	CHECK(u[0] & ((1ull << 55) - 1));
	CHECK((u[0] ^ u[20]) & ((1ull << 55) - 1));
	/* bad input */
	CHECK_EQ(umm_pagemap(us.mm, us.base + 1, 1, u), -EINVAL);
	CHECK_EQ(umm_pagemap(us.mm, us.base, 1, NULL), -EFAULT);
	CHECK_EQ(umm_pagemap(us.mm, us.base, 0, NULL), 0);
	CHECK_EQ(umm_pagemap(us.mm, 0, UINT64_MAX / P, u), -EINVAL);
	CHECK_EQ(umm_pagemap(NULL, us.base, 1, u), -EINVAL);
	munmap(w, WIN + (4ull << 20));
	umm_mm_destroy(us.mm);
	umm_file_put(us.file);
	umm_file_put(us.file2);
	close(host.fd2);
	close(fd);
}

/* settle_host's @redo: MADV_FREE again of the pages not written since. */
static void fork_free_again(void *arg)
{
	struct pair *p = arg;

	CHECK_EQ(madvise((void *)(p->host->base + P), P, MADV_FREE), 0);
	CHECK_EQ(madvise((void *)(p->host->base + 3 * P), 2 * P, MADV_FREE), 0);
}

/*
 * After a fork: the parent MADV_FREEs half of a written range and writes
 * one of those pages again (a copy). Shared pages stay dirty across fork
 * (Shared_Dirty), MADV_FREE makes the parent's shared ones clean, old and
 * LazyFree too, the copy is private and dirty. Host and umm must agree.
 */
static void test_fork_free_as_host(void)
{
	struct umm_mm *mm = umm_mm_create(NULL), *child = NULL;
	struct side host = { 0 }, us = { .mm = mm };
	int pipefd[2];
	pid_t pid;
	void *w;

	CHECK(mm);
	w = mmap(NULL, WIN + (4ull << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(w != MAP_FAILED);
	host.base = ((uint64_t)(uintptr_t)w + (2ull << 20)) & ~((2ull << 20) - 1);
	us.base = (uint64_t)umm_mmap(mm, 0, WIN + (4ull << 20), PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	us.base = (us.base + (2ull << 20)) & ~((2ull << 20) - 1);
	CHECK_EQ(map(&host, P, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false, 0),
		 (int64_t)(host.base + P));
	CHECK_EQ(map(&us, P, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, false, 0),
		 (int64_t)(us.base + P));
	for (uint64_t i = 1; i <= 8; i++) {
		wr(&host, i * P);
		wr(&us, i * P);
	}
	CHECK_EQ(pipe(pipefd), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {		/* keeps the pages shared until told */
		char c;

		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	CHECK_EQ(umm_fork(mm, &child), 0);
	drain_host_lazyfree();	/* the new pages on the LRU first */
	CHECK_EQ(madvise((void *)(host.base + P), 4 * P, MADV_FREE), 0);
	CHECK_EQ(umm_madvise(mm, us.base + P, 4 * P, MADV_FREE), 0);
	wr(&host, 2 * P);
	wr(&us, 2 * P);
	drain_host_lazyfree();
	settle_host(smaps_agree, fork_free_again, &(struct pair){ &host, &us },
		    "MADV_FREE after fork");
	same_smaps(&host, &us);
	/* pages the child maps too are not paged out, even lazily free ones */
	CHECK_EQ(madvise((void *)(host.base + P), 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(umm_madvise(mm, us.base + P, 8 * P, MADV_PAGEOUT), 0);
	same_smaps(&host, &us);
	CHECK_EQ(write(pipefd[1], "x", 1), 1);
	close(pipefd[1]);
	CHECK_EQ(waitpid(pid, NULL, 0), pid);
	munmap(w, WIN + (4ull << 20));
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
}

/* Page @i of the window, on either side: its first byte. */
static char first_byte(struct side *s, uint64_t i)
{
	char c = 0;

	if (s->mm)
		CHECK_EQ(umm_read(s->mm, s->base + i * P, &c, 1), 1);
	else
		c = *(volatile char *)(s->base + i * P);
	return c;
}

/* Pages [first, first + n) rw at page @first of the window, each written. */
static void written(struct side *s, uint64_t first, uint64_t n, int flags)
{
	CHECK_EQ(map(s, first * P, n * P, PROT_READ | PROT_WRITE, flags, false, 0),
		 (int64_t)(s->base + first * P));
	for (uint64_t i = first; i < first + n; i++)
		both_write_byte(s->mm, s->base + i * P, (char)('a' + i % 26));
}

/*
 * The advice of one side, in the order both run it. Window pages:
 *   1-8   private anon, written, MADV_FREEd, 2 written and 3 read again,
 *         then MADV_PAGEOUT: all but 2 reclaimed (read zero), 2 kept
 *  10-17  private anon, written, MADV_PAGEOUT: nothing changes, young
 *  20-27  private anon, written, MADV_COLD of 20-23: old
 *  30-37  MAP_DROPPABLE, written: MADV_PAGEOUT of 30-33 drops them,
 *         dirty as they are; MADV_COLD of 34-37
 *  40-47  shared anon, 40-43 written, 44-45 read: MADV_COLD
 *  50-57  shared anon, 50-53 written, 54-55 read: MADV_PAGEOUT unmaps
 *         them all, drops the clean ones from the cache (mincore 0),
 *         keeps the written ones there (mincore 1)
 */
static void cold_pageout(struct side *s)
{
	written(s, 1, 8, MAP_PRIVATE);
	written(s, 10, 8, MAP_PRIVATE);
	written(s, 20, 8, MAP_PRIVATE);
	written(s, 30, 8, MAP_DROPPABLE);
	written(s, 40, 4, MAP_SHARED);
	CHECK_EQ(map(s, 44 * P, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, false, 0),
		 (int64_t)(s->base + 44 * P));
	rd(s, 44 * P);
	rd(s, 45 * P);
	written(s, 50, 4, MAP_SHARED);
	CHECK_EQ(map(s, 54 * P, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, false, 0),
		 (int64_t)(s->base + 54 * P));
	rd(s, 54 * P);
	rd(s, 55 * P);
	if (!s->mm)
		drain_host_lazyfree();	/* every new page on the LRU */
	CHECK_EQ(both_madvise(s->mm, s->base + P, 8 * P, MADV_FREE), 0);
	both_write_byte(s->mm, s->base + 2 * P, 'W');
	rd(s, 3 * P);
	if (!s->mm)
		drain_host_lazyfree();
	CHECK_EQ(both_madvise(s->mm, s->base + P, 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(both_madvise(s->mm, s->base + 10 * P, 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(both_madvise(s->mm, s->base + 20 * P, 4 * P, MADV_COLD), 0);
	CHECK_EQ(both_madvise(s->mm, s->base + 30 * P, 4 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(both_madvise(s->mm, s->base + 34 * P, 4 * P, MADV_COLD), 0);
	CHECK_EQ(both_madvise(s->mm, s->base + 40 * P, 8 * P, MADV_COLD), 0);
	if (!s->mm)
		drain_host_lazyfree();
	CHECK_EQ(both_madvise(s->mm, s->base + 50 * P, 4 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(both_madvise(s->mm, s->base + 54 * P, 4 * P, MADV_PAGEOUT), 0);
}

/*
 * settle_host's @redo for cold_pageout: the advice again, but for the
 * MADV_FREE of page 2, written since.
 */
static void cold_pageout_again(void *arg)
{
	uint64_t b = ((struct pair *)arg)->host->base;

	CHECK_EQ(madvise((void *)(b + P), P, MADV_FREE), 0);
	CHECK_EQ(madvise((void *)(b + 3 * P), 6 * P, MADV_FREE), 0);
	drain_host_lazyfree();
	CHECK_EQ(madvise((void *)(b + P), 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(madvise((void *)(b + 10 * P), 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(madvise((void *)(b + 30 * P), 4 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(madvise((void *)(b + 50 * P), 8 * P, MADV_PAGEOUT), 0);
}

/* mincore of window pages [first, first + n), either side. */
static void side_mincore(struct side *s, uint64_t first, uint64_t n, unsigned char *vec)
{
	if (s->mm)
		CHECK_EQ(umm_mincore(s->mm, s->base + first * P, n * P, vec), 0);
	else
		CHECK_EQ(mincore((void *)(s->base + first * P), n * P, vec), 0);
}

/*
 * MADV_COLD and MADV_PAGEOUT beside the host: what a host without swap
 * reclaims, umm reclaims (smaps, mincore and the bytes agree); what it
 * ages, umm ages (Referenced). Skipped where the host has swap: it would page out
 * the rest too.
 */
static void test_cold_pageout_as_host(void)
{
	struct umm_opts o = { .size = sizeof(o) };
	struct side host = { 0 }, us = { 0 };
	unsigned char hvec[8], uvec[8];
	uint64_t hres, ures;

	if (host_has_swap()) {
		printf("     the host has swap: skipped\n");
		return;
	}
	o.flags = host_maps_zero_page() ? 0 : UMM_NO_ZERO_PAGE;
	us.mm = umm_mm_create(&o);
	CHECK(us.mm);
	host.base = both_window(NULL, WIN, 2ull << 20, &hres);
	us.base = both_window(us.mm, WIN, 2ull << 20, &ures);
	cold_pageout(&host);
	cold_pageout(&us);
	settle_host(smaps_agree, cold_pageout_again, &(struct pair){ &host, &us },
		    "MADV_FREE, MADV_PAGEOUT");
	same_smaps(&host, &us);
	side_mincore(&host, 50, 8, hvec);
	side_mincore(&us, 50, 8, uvec);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(uvec[i] & 1, hvec[i] & 1);
	CHECK_EQ(uvec[0] & 1, 1);
	CHECK_EQ(uvec[4] & 1, 0);
	for (uint64_t i = 0; i < 58; i++) {
		bool mapped = (i >= 1 && i <= 8) || (i >= 10 && i <= 17) ||
			      (i >= 20 && i <= 27) || (i >= 30 && i <= 37) ||
			      (i >= 40 && i <= 47) || i >= 50;

		if (mapped)
			CHECK_EQ(first_byte(&us, i), first_byte(&host, i));
	}
	CHECK_EQ(first_byte(&us, 2), 'W');
	CHECK_EQ(first_byte(&us, 1), 0);
	CHECK_EQ(first_byte(&us, 30), 0);
	CHECK_EQ(first_byte(&us, 10), 'a' + 10);
	munmap((void *)hres, WIN + (4ull << 20));
	umm_mm_destroy(us.mm);
}

/*
 * Shmem THPs (MADV_COLLAPSE of a memfd and of shared anonymous memory)
 * mapped by PMD leaves whose folio is the file's, not anonymous: smaps
 * counts them in ShmemPmdMapped (not AnonHugePages), Pss by the folio's
 * mapcount; pagemap shows them present, file/shared, and exclusive only
 * while mapped once. Window, 2 MiB each:
 *   0  shared mapping of the memfd, written, collapsed
 *   1  a second shared mapping of it, read (a leaf on its fault)
 *   2  a private read-only mapping of it, read (a leaf too)
 *   3  shared anonymous, written, collapsed
 * then the second mapping goes: the first is exclusive again.
 */
#define HPS	(2ull << 20)

static void shmem_pagemap(struct side *host, struct side *us, uint64_t nr)
{
	static uint64_t h[4 * 512], u[4 * 512];
	int fd = open("/proc/self/pagemap", O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, h, nr * 8, (off_t)(host->base / P * 8)), (ssize_t)(nr * 8));
	close(fd);
	CHECK_EQ(umm_pagemap(us->mm, us->base, nr, u), 0);
	for (uint64_t p = 0; p < nr; p++) {
		if ((h[p] & FLAGS_MASK) != (u[p] & FLAGS_MASK)) {
			printf("     page %4llu: host %016llx umm %016llx\n",
			       (unsigned long long)p, (unsigned long long)h[p],
			       (unsigned long long)u[p]);
			CHECK_EQ(h[p] & FLAGS_MASK, u[p] & FLAGS_MASK);
			break;
		}
	}
	/* a leaf maps consecutive frames */
	CHECK_EQ((u[511] & ((1ull << 55) - 1)) - (u[0] & ((1ull << 55) - 1)), 511);
}

static void test_shmem_thp_as_host(void)
{
	struct side host = { 0 }, us = { 0 };
	struct side *sides[2] = { &host, &us };
	int hret;
	void *w;

	host.fd = memfd_create("umm_shmem_thp", 0);
	CHECK(host.fd >= 0);
	CHECK_EQ(ftruncate(host.fd, (off_t)HPS), 0);
	us.mm = umm_mm_create(NULL);
	us.file = umm_file_create("umm_shmem_thp", HPS, 0);
	CHECK(us.mm && us.file);
	w = mmap(NULL, WIN + (4ull << 20), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(w != MAP_FAILED);
	host.base = ((uint64_t)(uintptr_t)w + (2ull << 20)) & ~((2ull << 20) - 1);
	CHECK_EQ(munmap((void *)host.base, WIN), 0);
	us.base = (uint64_t)umm_mmap(us.mm, 0, WIN + (4ull << 20), PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	us.base = (us.base + (2ull << 20)) & ~((2ull << 20) - 1);
	CHECK_EQ(umm_munmap(us.mm, us.base, WIN), 0);
	for (int i = 0; i < 2; i++) {
		struct side *s = sides[i];

		CHECK_EQ(map(s, 0, HPS, PROT_READ | PROT_WRITE, MAP_SHARED, true, 0),
			 (int64_t)s->base);
		CHECK_EQ(map(s, 3 * HPS, HPS, PROT_READ | PROT_WRITE, MAP_SHARED, false, 0),
			 (int64_t)(s->base + 3 * HPS));
		for (uint64_t off = 0; off < HPS; off += P) {
			wr(s, off);
			wr(s, 3 * HPS + off);
		}
	}
	hret = madvise((void *)host.base, HPS, MADV_COLLAPSE);
	if (hret || madvise((void *)(host.base + 3 * HPS), HPS, MADV_COLLAPSE)) {
		printf("     the host could not collapse shmem (%d): not compared\n", errno);
		goto out;
	}
	CHECK_EQ(umm_madvise(us.mm, us.base, HPS, MADV_COLLAPSE), 0);
	CHECK_EQ(umm_madvise(us.mm, us.base + 3 * HPS, HPS, MADV_COLLAPSE), 0);
	shmem_pagemap(&host, &us, 512);
	same_smaps(&host, &us);
	for (int i = 0; i < 2; i++) {
		struct side *s = sides[i];

		CHECK_EQ(map(s, HPS, HPS, PROT_READ | PROT_WRITE, MAP_SHARED, true, 0),
			 (int64_t)(s->base + HPS));
		CHECK_EQ(map(s, 2 * HPS, HPS, PROT_READ, MAP_PRIVATE, true, 0),
			 (int64_t)(s->base + 2 * HPS));
		rd(s, HPS + 5 * P);
		rd(s, 2 * HPS + 7 * P);
	}
	shmem_pagemap(&host, &us, 4 * 512);
	same_smaps(&host, &us);
	CHECK_EQ(munmap((void *)(host.base + HPS), 2 * HPS), 0);
	CHECK_EQ(umm_munmap(us.mm, us.base + HPS, 2 * HPS), 0);
	shmem_pagemap(&host, &us, 512);
	same_smaps(&host, &us);
out:
	munmap(w, WIN + (4ull << 20));
	umm_mm_destroy(us.mm);
	umm_file_put(us.file);
	close(host.fd);
}

int main(void)
{
	RUN(test_proc_views_as_host);
	RUN(test_fork_free_as_host);
	RUN(test_cold_pageout_as_host);
	RUN(test_shmem_thp_as_host);
	RUN(test_ksm_advice_as_host);
	return test_done();
}
