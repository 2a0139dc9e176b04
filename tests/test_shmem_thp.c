// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_shmem_thp - MADV_COLLAPSE of shared memory beside the host's: a
 * memfd (umm_file_create) or MAP_SHARED|MAP_ANONYMOUS object mapped in a
 * 2 MiB-aligned window of this process and of an umm mm, written the
 * same way, collapsed, then truncated, hole-punched, zapped, mprotected,
 * unmapped, forked and mapped again on both sides. After each step the
 * window's smaps blocks must agree byte for byte (header cut to
 * "start-end perms offset", addresses relative to the window), the
 * pagemap flag bits 56-63 page by page, and the contents. Besides the
 * comparison, umm's own values are checked against what this host
 * (Linux 6.18, THP enabled=madvise, shmem_enabled=never) was measured to
 * show (/tmp/shprobe), so that they are checked even where the host
 * comparison is skipped: the host's THP allocation can fail
 * (fragmentation, -ENOMEM from its MADV_COLLAPSE), which is noted and
 * skips that comparison, never fails it.
 *
 * The cases (S1-S11 as in the probes):
 *  S1  4 MiB memfd, first 2 MiB written, collapsed: one PMD leaf, the
 *      whole folio dirty and private; a second collapse does nothing
 *  S2  one page written; nothing touched (EINVAL); a page in the cache
 *      but not mapped (0)
 *  S3  MAP_PRIVATE of the memfd, read only (0, PMD-mapped); with a page
 *      copied on write (EINVAL, but the cache collapsed)
 *  S4  two VMAs of one mm over the same range: the other's table retracted
 *  S5  truncate, hole punch (MADV_REMOVE), MADV_DONTNEED, MADV_PAGEOUT and
 *      MADV_COLD of a collapsed block (S5i: mapped by PTEs);
 *      truncated or punched while a second mapping maps it by PTEs (S5e:
 *      the folio leaves every mapping and splits, SIGBUS past the new end
 *      however the file is mapped, again, privately, forked or moved)
 *  S6  mprotect of all or half of it; munmap of its first page
 *  S7  fork after the collapse
 *  S8  MAP_SHARED|MAP_ANONYMOUS as S1
 *  S9  MADV_NOHUGEPAGE, the range rounding, a 1 MiB file
 *  S10 a file offset not 2 MiB-congruent with the address
 *  S11 a new mapping of the collapsed data, with and without NOHUGEPAGE
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_frames.h"
#include "test_proc.h"
#include "uapi_mman.h"

#define P		4096ull
#define M		(1ull << 20)
#define H		(2ull << 20)	/* a PMD */
#define WIN		(16ull << 20)	/* 2 MiB-aligned on both sides */
#define WPAGES		(WIN / P)
#define FLAGS_MASK	(~((1ull << 56) - 1))	/* bits 56-63 */
#define PM_PRESENT	(1ull << 63)
#define PM_FILE		(1ull << 61)
#define PM_EXCLUSIVE	(1ull << 56)
#define RW		(PROT_READ | PROT_WRITE)
#define B_OFF		(8 * M)		/* where a second mapping goes */

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t base;		/* the window */
	uint64_t res;		/* the reservation around it */
	pid_t pid;		/* host: the process whose smaps is read (0: self) */
	int fd;			/* host: the memfd, or -1 */
	struct umm_file *f;	/* umm: the file, or NULL */
};

/* ---- the window on either side (as test_thp's) ---- */

static void side_open(struct side *s, struct umm_mm *mm)
{
	memset(s, 0, sizeof(*s));
	s->mm = mm;
	s->fd = -1;
	s->base = both_window(mm, WIN, H, &s->res);
}

static void side_close(struct side *s)
{
	if (s->mm) {
		umm_mm_destroy(s->mm);
		if (s->f)
			umm_file_put(s->f);
	} else {
		CHECK_EQ(munmap((void *)s->res, WIN + 2 * H), 0);
		if (s->fd >= 0)
			close(s->fd);
	}
}

/* Host and a fresh umm mm, each with a window. */
static void open_pair(struct side *host, struct side *us)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	CHECK(mm);
	if (!mm)
		exit(test_done() | 1);	/* a NULL mm would make the umm side the host */
	side_open(host, NULL);
	side_open(us, mm);
}

static void close_pair(struct side *host, struct side *us)
{
	side_close(us);
	side_close(host);
}

/* The side's memfd of @size bytes (a new one replaces the old). */
static void file_new(struct side *s, uint64_t size)
{
	if (s->mm) {
		if (s->f)
			umm_file_put(s->f);
		s->f = umm_file_create("shthp", size, 0);
		CHECK(s->f);
	} else {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = memfd_create("shthp", 0);
		CHECK(s->fd >= 0);
		CHECK_EQ(ftruncate(s->fd, (off_t)size), 0);
	}
}

static void file_pair(struct side *host, struct side *us, uint64_t size)
{
	file_new(host, size);
	file_new(us, size);
}

/*
 * [off, off + len) of the window mapped over the reservation, @flags
 * (MAP_SHARED, MAP_PRIVATE, | MAP_ANONYMOUS) | MAP_FIXED, the side's file
 * at @foff unless anonymous.
 */
static void smap(struct side *s, uint64_t off, uint64_t len, int prot, int flags,
		 uint64_t foff)
{
	bool anon = flags & MAP_ANONYMOUS;

	flags |= MAP_FIXED;
	if (s->mm) {
		CHECK_EQ(umm_mmap(s->mm, s->base + off, len, prot, flags,
				  anon ? NULL : s->f, foff), (int64_t)(s->base + off));
	} else {
		CHECK(mmap((void *)(s->base + off), len, prot, flags, anon ? -1 : s->fd,
			   (off_t)foff) == (void *)(s->base + off));
	}
}

static void smap_pair(struct side *host, struct side *us, uint64_t off, uint64_t len,
		      int prot, int flags, uint64_t foff)
{
	smap(host, off, len, prot, flags, foff);
	smap(us, off, len, prot, flags, foff);
}

/* [off, off + len) reserved again, PROT_NONE (no hole left for the host's malloc). */
static void reserve(struct side *s, uint64_t off, uint64_t len)
{
	both_reserve(s->mm, s->base + off, len);
}

static int madv(struct side *s, uint64_t off, uint64_t len, int advice)
{
	return both_madvise(s->mm, s->base + off, len, advice);
}

static int mprot(struct side *s, uint64_t off, uint64_t len, int prot)
{
	return both_mprotect(s->mm, s->base + off, len, prot);
}

static int unmap(struct side *s, uint64_t off, uint64_t len)
{
	return both_munmap(s->mm, s->base + off, len);
}

static int trunc_to(struct side *s, uint64_t size)
{
	if (s->mm)
		return umm_file_truncate(s->f, size);
	return ftruncate(s->fd, (off_t)size) ? -errno : 0;
}

/* The pattern: every byte depends on its file offset and a tag. */
static unsigned char pat(uint64_t foff, unsigned tag)
{
	return (unsigned char)((foff >> 12) * 31 + tag * 101 + (foff & 0xfff) * 7 + 1);
}

/* Window [off, off + len), mapping file offset @foff, written with pattern @tag. */
static void fill(struct side *s, uint64_t off, uint64_t foff, uint64_t len, unsigned tag)
{
	unsigned char *buf = malloc(len);

	CHECK(buf);
	if (!buf)
		return;
	for (uint64_t i = 0; i < len; i++)
		buf[i] = pat(foff + i, tag);
	if (s->mm)
		CHECK_EQ(umm_write(s->mm, s->base + off, buf, len), (int64_t)len);
	else
		memcpy((void *)(s->base + off), buf, len);
	free(buf);
}

static void fill_pair(struct side *host, struct side *us, uint64_t off, uint64_t foff,
		      uint64_t len, unsigned tag)
{
	fill(host, off, foff, len, tag);
	fill(us, off, foff, len, tag);
}

/*
 * The file written at @foff without mapping it in the window: pwrite on
 * the host; umm has no write(2), so a scratch mm maps it, writes and goes.
 */
static void file_write(struct side *s, uint64_t foff, uint64_t len, unsigned tag)
{
	unsigned char *buf = malloc(len);

	CHECK(buf);
	if (!buf)
		return;
	for (uint64_t i = 0; i < len; i++)
		buf[i] = pat(foff + i, tag);
	if (s->mm) {
		struct umm_mm *tmp = umm_mm_create(NULL);
		uint64_t start = foff & ~(P - 1), end = (foff + len + P - 1) & ~(P - 1);
		int64_t a;

		CHECK(tmp);
		a = umm_mmap(tmp, 0, end - start, RW, MAP_SHARED, s->f, start);
		CHECK(a > 0);
		if (a > 0)
			CHECK_EQ(umm_write(tmp, (uint64_t)a + foff - start, buf, len),
				 (int64_t)len);
		umm_mm_destroy(tmp);
	} else {
		CHECK_EQ(pwrite(s->fd, buf, len, (off_t)foff), (ssize_t)len);
	}
	free(buf);
}

static void rd(struct side *s, uint64_t off)
{
	both_read_byte(s->mm, s->base + off);
}

static void wr(struct side *s, uint64_t off, char c)
{
	both_write_byte(s->mm, s->base + off, c);
}

/* Does window [off, off + len) read as pattern @tag of file offset @foff? */
static bool has(struct side *s, uint64_t off, uint64_t foff, uint64_t len, unsigned tag)
{
	unsigned char *buf = malloc(len);
	bool ok = buf != NULL;

	if (ok && s->mm)
		ok = umm_read(s->mm, s->base + off, buf, len) == (int64_t)len;
	else if (ok)
		memcpy(buf, (void *)(s->base + off), len);
	for (uint64_t i = 0; ok && i < len; i++)
		ok = buf[i] == pat(foff + i, tag);
	free(buf);
	return ok;
}

static bool zero(struct side *s, uint64_t off, uint64_t len)
{
	unsigned char *buf = malloc(len);
	bool ok = buf != NULL;

	if (ok && s->mm)
		ok = umm_read(s->mm, s->base + off, buf, len) == (int64_t)len;
	else if (ok)
		memcpy(buf, (void *)(s->base + off), len);
	for (uint64_t i = 0; ok && i < len; i++)
		ok = !buf[i];
	free(buf);
	return ok;
}

/* ---- the /proc views ---- */

static void pagemap(struct side *s, uint64_t off, uint64_t n, uint64_t *out)
{
	if (s->mm) {
		CHECK_EQ(umm_pagemap(s->mm, s->base + off, n, out), 0);
		return;
	}
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", s->pid ? s->pid : getpid());
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, out, n * 8, (off_t)((s->base + off) / P * 8)), (ssize_t)(n * 8));
	close(fd);
}

/* Flags (bits 56-63) of window page @pg. */
static uint64_t pm_flags(struct side *s, uint64_t pg)
{
	uint64_t e = 0;

	pagemap(s, pg * P, 1, &e);
	return e & FLAGS_MASK;
}

/* Every page's flag bits 56-63 agree, host and umm; the first few differences shown. */
static void same_pagemap(struct side *host, struct side *us)
{
	static uint64_t h[WPAGES], u[WPAGES];
	unsigned shown = 0, bad = 0;

	pagemap(host, 0, WPAGES, h);
	pagemap(us, 0, WPAGES, u);
	for (uint64_t p = 0; p < WPAGES; p++) {
		if ((h[p] & FLAGS_MASK) == (u[p] & FLAGS_MASK))
			continue;
		bad++;
		if (shown++ < 8)
			printf("     page %4llu: host %016llx umm %016llx\n",
			       (unsigned long long)p, (unsigned long long)(h[p] & FLAGS_MASK),
			       (unsigned long long)(u[p] & FLAGS_MASK));
	}
	if (bad)
		printf("     %u pages' pagemap flags differ\n", bad);
	CHECK_EQ(bad, 0);
}

static char *smaps(struct side *s, uint64_t off, uint64_t len)
{
	return smaps_window(s->mm, s->pid, s->base + off, len, NULL);
}

/* One smaps field summed over the VMAs inside window [off, off + len). */
static unsigned long long kb(struct side *s, uint64_t off, uint64_t len, const char *name)
{
	char *t = smaps(s, off, len);
	unsigned long long v = field_kb(t, name);

	free(t);
	return v;
}

/*
 * umm's value of an smaps field over the VMAs in [off, off + len) must be
 * @want (what the host showed); on failure the field, umm's value and the
 * host's are printed with the caller's line.
 */
#define KB_IS(s, off, len, name, want) do {					\
	unsigned long long __v = kb(s, off, len, name);				\
	if (__v != (unsigned long long)(want))					\
		printf("     %s:%d: umm %s [%lluM+%llu kB) = %llu kB, host %llu kB\n", \
		       __FILE__, __LINE__, name,				\
		       (unsigned long long)(off) >> 20,				\
		       (unsigned long long)((off) & (M - 1)) >> 10,		\
		       __v, (unsigned long long)(want));			\
	CHECK_EQ(__v, want);							\
} while (0)

/* A PMD-mapped, private, all-dirty collapsed block: S1's smaps. */
#define P2048_IS(s, off, len) do {						\
	KB_IS(s, off, len, "Rss", 2048);					\
	KB_IS(s, off, len, "Pss", 2048);					\
	KB_IS(s, off, len, "Pss_Dirty", 2048);					\
	KB_IS(s, off, len, "Private_Dirty", 2048);				\
	KB_IS(s, off, len, "Shared_Dirty", 0);					\
	KB_IS(s, off, len, "Private_Clean", 0);					\
	KB_IS(s, off, len, "Referenced", 2048);					\
	KB_IS(s, off, len, "ShmemPmdMapped", 2048);				\
	KB_IS(s, off, len, "Anonymous", 0);					\
	KB_IS(s, off, len, "THPeligible", 0);					\
} while (0)

/* The same block mapped by two VMAs, both PMD-mapped (S4, S7). */
#define SHARED2048_IS(s, off, len) do {						\
	KB_IS(s, off, len, "Rss", 2048);					\
	KB_IS(s, off, len, "Pss", 1024);					\
	KB_IS(s, off, len, "Pss_Dirty", 1024);					\
	KB_IS(s, off, len, "Shared_Dirty", 2048);				\
	KB_IS(s, off, len, "Private_Dirty", 0);					\
	KB_IS(s, off, len, "Referenced", 2048);					\
	KB_IS(s, off, len, "ShmemPmdMapped", 2048);				\
} while (0)

/* umm's pagemap flags of window page @pg must be @want. */
#define PM_IS(s, pg, want) do {							\
	uint64_t __f = pm_flags(s, pg);						\
	if (__f != (uint64_t)(want))						\
		printf("     %s:%d: umm pagemap page %llu flags %016llx, host %016llx\n", \
		       __FILE__, __LINE__, (unsigned long long)(pg),		\
		       (unsigned long long)__f, (unsigned long long)(want));	\
	CHECK_EQ(__f, want);							\
} while (0)

/* One of umm_vmstat's counters. */
static long long vmstat(struct umm_mm *mm, const char *name)
{
	long long v = umm_vmstat_value(mm, name);

	CHECK(v >= 0);
	return v;
}

#define VM_IS(mm, name, want) do {						\
	long long __v = vmstat(mm, name);					\
	if (__v != (long long)(want))						\
		printf("     %s:%d: umm vmstat %s = %lld, want %lld\n",		\
		       __FILE__, __LINE__, name, __v, (long long)(want));	\
	CHECK_EQ(__v, want);							\
} while (0)

/*
 * The window's smaps blocks and pagemap flags agree, host and umm, when
 * @ok (the host did what was asked). With SHOW set, both are printed.
 */
static void compare(struct side *host, struct side *us, bool ok, const char *what)
{
	char *hs, *u;

	if (!ok)
		return;
	hs = smaps(host, 0, WIN);
	u = smaps(us, 0, WIN);
	if (strcmp(hs, u)) {
		printf("     smaps differ (%s):\n", what);
		show_diff(hs, u);
	}
	if (getenv("SHOW"))
		printf("   %s, host:\n%s   umm:\n%s", what, hs, u);
	CHECK(!strcmp(hs, u));
	free(hs);
	free(u);
	same_pagemap(host, us);
}

/*
 * MADV_COLLAPSE of [off, off + len) on both sides: umm must return @want
 * and the host the same. A host -ENOMEM where ENOMEM is not expected is
 * its THP allocation failing (fragmentation): noted, and false (the
 * caller compares nothing then). The host's LRU batches are drained first
 * (their references would make it -EAGAIN).
 */
static bool collapse(struct side *host, struct side *us, uint64_t off, uint64_t len,
		     int want, const char *what)
{
	int h, u;

	drain_host_lazyfree();
	h = madv(host, off, len, MADV_COLLAPSE);
	u = madv(us, off, len, MADV_COLLAPSE);
	if (u != want)
		printf("     MADV_COLLAPSE (%s): umm %d, want %d\n", what, u, want);
	CHECK_EQ(u, want);
	if (h == -ENOMEM && want != -ENOMEM) {
		printf("     note: host MADV_COLLAPSE got no THP (%s: %d), comparison "
		       "skipped\n", what, h);
		return false;
	}
	if (h != want)
		printf("     MADV_COLLAPSE (%s): host %d, want %d\n", what, h, want);
	CHECK_EQ(h, want);
	return h == want;
}

/* ---- S1, S8: a written block collapsed ---- */

static void written_block(int flags, bool anon)
{
	struct side host, us;
	bool ok;

	open_pair(&host, &us);
	if (!anon)
		file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, flags, 0);
	fill_pair(&host, &us, 0, 0, 2 * M, 1);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 2048);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	compare(&host, &us, true, "2 MiB written, before the collapse");
	ok = collapse(&host, &us, 0, 2 * M, 0, "2 MiB written");
	P2048_IS(&us, 0, 4 * M);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	PM_IS(&us, 1, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	PM_IS(&us, 511, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	PM_IS(&us, 512, 0);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	VM_IS(us.mm, "thp_file_mapped", 1);
	compare(&host, &us, ok, "2 MiB written, collapsed");
	/* the data, and a read and a write on the leaf change nothing */
	CHECK(has(&us, 0, 0, 2 * M, 1));
	CHECK(has(&host, 0, 0, 2 * M, 1));
	rd(&host, 5 * P);
	rd(&us, 5 * P);
	wr(&host, 7 * P, (char)pat(7 * P, 1));
	wr(&us, 7 * P, (char)pat(7 * P, 1));
	P2048_IS(&us, 0, 4 * M);
	VM_IS(us.mm, "thp_file_mapped", 1);
	compare(&host, &us, ok, "collapsed, read and written");
	/* again: already a THP, nothing allocated */
	ok &= collapse(&host, &us, 0, 2 * M, 0, "already collapsed");
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	VM_IS(us.mm, "thp_file_mapped", 1);
	P2048_IS(&us, 0, 4 * M);
	compare(&host, &us, ok, "collapsed twice");
	close_pair(&host, &us);
}

static void test_s1_memfd(void)
{
	written_block(MAP_SHARED, false);
}

static void test_s8_shared_anon(void)
{
	written_block(MAP_SHARED | MAP_ANONYMOUS, true);
}

/* ---- S2: sparse blocks ---- */

static void test_s2_sparse(void)
{
	struct side host, us;
	bool ok;

	/* 2a: only page 3 written: the whole folio dirty and mapped */
	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	fill_pair(&host, &us, 3 * P, 3 * P, P, 2);
	ok = collapse(&host, &us, 0, 2 * M, 0, "one page written");
	P2048_IS(&us, 0, 4 * M);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	VM_IS(us.mm, "thp_file_mapped", 1);
	compare(&host, &us, ok, "one page written, collapsed");
	CHECK(has(&us, 3 * P, 3 * P, P, 2));
	CHECK(zero(&us, 0, 3 * P) && zero(&us, 4 * P, 2 * M - 4 * P));
	CHECK(has(&host, 3 * P, 3 * P, P, 2));
	compare(&host, &us, ok, "one page written, collapsed, read");
	close_pair(&host, &us);

	/* 2b: nothing in the block at all */
	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	ok = collapse(&host, &us, 0, 2 * M, -EINVAL, "an empty block");
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	VM_IS(us.mm, "thp_file_mapped", 0);
	VM_IS(us.mm, "thp_collapse_alloc", 1);	/* the host allocates before it looks */
	compare(&host, &us, ok, "an empty block");
	/* a read maps one fresh, clean page on both */
	rd(&host, 0);
	rd(&us, 0);
	KB_IS(&us, 0, 4 * M, "Rss", 4);
	KB_IS(&us, 0, 4 * M, "Private_Clean", 4);
	compare(&host, &us, ok, "an empty block, refused, then read");
	close_pair(&host, &us);

	/* 2d: a page in the cache, none mapped: collapsed and mapped */
	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	file_write(&host, 3 * P, 1, 3);
	file_write(&us, 3 * P, 1, 3);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	ok = collapse(&host, &us, 0, 2 * M, 0, "a page cached, none mapped");
	P2048_IS(&us, 0, 4 * M);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	compare(&host, &us, ok, "a page cached, none mapped, collapsed");
	CHECK(has(&us, 3 * P, 3 * P, 1, 3) && zero(&us, 3 * P + 1, P - 1));
	close_pair(&host, &us);
}

/* ---- S3: MAP_PRIVATE of the memfd ---- */

static void test_s3_private(void)
{
	struct side host, us;
	bool ok;

	/* read only: the cache collapses, mapped by a leaf, read-only */
	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	file_write(&host, 0, 2 * M, 4);
	file_write(&us, 0, 2 * M, 4);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_PRIVATE, 0);
	for (uint64_t o = 0; o < 2 * M; o += P) {
		rd(&host, o);
		rd(&us, o);
	}
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 2048);
	compare(&host, &us, true, "MAP_PRIVATE, read");
	ok = collapse(&host, &us, 0, 2 * M, 0, "MAP_PRIVATE, read");
	P2048_IS(&us, 0, 4 * M);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	VM_IS(us.mm, "thp_file_mapped", 1);
	CHECK(has(&us, 0, 0, 2 * M, 4));
	compare(&host, &us, ok, "MAP_PRIVATE, read, collapsed");
	close_pair(&host, &us);

	/*
	 * 3.2: a page copied on write first: EINVAL (the table holds an
	 * anonymous page), but the cache collapsed and the file pages'
	 * entries went; the copy stays.
	 */
	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	file_write(&host, 0, 2 * M, 5);
	file_write(&us, 0, 2 * M, 5);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_PRIVATE, 0);
	for (uint64_t o = 0; o < 2 * M; o += P) {
		rd(&host, o);
		rd(&us, o);
	}
	fill_pair(&host, &us, 9 * P, 9 * P, P, 6);
	KB_IS(&us, 0, 4 * M, "Anonymous", 4);
	compare(&host, &us, true, "MAP_PRIVATE, read, a page copied on write");
	ok = collapse(&host, &us, 0, 2 * M, -EINVAL, "MAP_PRIVATE with a COW page");
	KB_IS(&us, 0, 4 * M, "Rss", 4);
	KB_IS(&us, 0, 4 * M, "Pss", 4);
	KB_IS(&us, 0, 4 * M, "Pss_Dirty", 4);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 4);
	KB_IS(&us, 0, 4 * M, "Referenced", 4);
	KB_IS(&us, 0, 4 * M, "Anonymous", 4);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	VM_IS(us.mm, "thp_file_mapped", 0);
	compare(&host, &us, ok, "MAP_PRIVATE with a COW page, refused");
	/* one read: the other 511 pages PTE-mapped beside the copy */
	rd(&host, 11 * P);
	rd(&us, 11 * P);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Pss", 2048);
	KB_IS(&us, 0, 4 * M, "Pss_Dirty", 2048);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 2048);
	KB_IS(&us, 0, 4 * M, "Referenced", 2048);
	KB_IS(&us, 0, 4 * M, "Anonymous", 4);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	PM_IS(&us, 9, PM_PRESENT | PM_EXCLUSIVE);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	PM_IS(&us, 511, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	compare(&host, &us, ok, "MAP_PRIVATE with a COW page, refused, one read");
	CHECK(has(&us, 9 * P, 9 * P, P, 6));
	CHECK(has(&us, 0, 0, 9 * P, 5) && has(&us, 10 * P, 10 * P, 2 * M - 10 * P, 5));
	CHECK(has(&host, 9 * P, 9 * P, P, 6));
	close_pair(&host, &us);
}

/* ---- S4: two VMAs of one mm over the same range ---- */

static void test_s4_two_vmas(void)
{
	struct side host, us;
	bool ok;

	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);	/* A */
	smap_pair(&host, &us, B_OFF, 4 * M, RW, MAP_SHARED, 0);	/* B */
	fill_pair(&host, &us, 0, 0, 2 * M, 7);
	for (uint64_t o = 0; o < 2 * M; o += P) {
		rd(&host, B_OFF + o);
		rd(&us, B_OFF + o);
	}
	KB_IS(&us, B_OFF, 4 * M, "Pss", 1024);
	KB_IS(&us, B_OFF, 4 * M, "Shared_Dirty", 2048);
	compare(&host, &us, true, "two VMAs, both touched");
	ok = collapse(&host, &us, 0, 2 * M, 0, "through A");
	P2048_IS(&us, 0, 4 * M);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	KB_IS(&us, B_OFF, 4 * M, "Rss", 0);	/* B's table retracted */
	PM_IS(&us, B_OFF / P, 0);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	VM_IS(us.mm, "thp_file_mapped", 1);
	CHECK(vmstat(us.mm, "thp_retract_page_tables") >= 1);
	compare(&host, &us, ok, "collapsed through A");
	/* one read in B: a leaf there too, the folio mapped twice */
	rd(&host, B_OFF + 3 * P);
	rd(&us, B_OFF + 3 * P);
	SHARED2048_IS(&us, B_OFF, 4 * M);
	SHARED2048_IS(&us, 0, 4 * M);
	PM_IS(&us, B_OFF / P, PM_PRESENT | PM_FILE);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE);
	VM_IS(us.mm, "thp_file_mapped", 2);
	CHECK(has(&us, B_OFF, 0, 2 * M, 7));
	compare(&host, &us, ok, "collapsed through A, read in B");
	close_pair(&host, &us);

	/* 4b: B read in ten pages only, collapsed through B; A's table goes */
	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	smap_pair(&host, &us, B_OFF, 4 * M, RW, MAP_SHARED, 0);
	fill_pair(&host, &us, 0, 0, 2 * M, 8);
	for (uint64_t o = 0; o < 10 * P; o += P) {
		rd(&host, B_OFF + o);
		rd(&us, B_OFF + o);
	}
	ok = collapse(&host, &us, B_OFF, 2 * M, 0, "through B, partly touched");
	P2048_IS(&us, B_OFF, 4 * M);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	compare(&host, &us, ok, "collapsed through B");
	rd(&host, 0);
	rd(&us, 0);
	SHARED2048_IS(&us, 0, 4 * M);
	compare(&host, &us, ok, "collapsed through B, read in A");
	close_pair(&host, &us);
}

/* ---- S5: a collapsed block truncated, punched, zapped ---- */

/* A pair with a 4 MiB memfd mapped at 0, its first 2 MiB written (@tag) and collapsed. */
static bool collapsed_pair(struct side *host, struct side *us, unsigned tag)
{
	bool ok;

	open_pair(host, us);
	file_pair(host, us, 4 * M);
	smap_pair(host, us, 0, 4 * M, RW, MAP_SHARED, 0);
	fill_pair(host, us, 0, 0, 2 * M, tag);
	ok = collapse(host, us, 0, 2 * M, 0, "setup");
	rd(host, 0);
	rd(us, 0);
	P2048_IS(us, 0, 4 * M);
	return ok;
}

static void test_s5a_truncate(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 10);

	CHECK_EQ(trunc_to(&host, M + P), 0);
	CHECK_EQ(trunc_to(&us, M + P), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);		/* the leaf zapped whole */
	PM_IS(&us, 0, 0);
	compare(&host, &us, ok, "truncated to 1 MiB + 4 KiB");
	/* past the new end: SIGBUS on Linux, -EIO from umm */
	CHECK_EQ(umm_fault(us.mm, us.base + M + P, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(us.mm, us.base + 2 * M - P, UMM_READ), -EIO);
	/* what is left is intact, and mapped by PTEs */
	CHECK(has(&us, 0, 0, M + P, 10));
	CHECK(has(&host, 0, 0, M + P, 10));
	KB_IS(&us, 0, 4 * M, "Rss", 1028);
	KB_IS(&us, 0, 4 * M, "Pss_Dirty", 1028);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 1028);
	KB_IS(&us, 0, 4 * M, "Referenced", 1028);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	compare(&host, &us, ok, "truncated, the rest read back");
	close_pair(&host, &us);
}

static void test_s5b_punch(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 11);

	CHECK_EQ(madv(&host, M, 64 * 1024, MADV_REMOVE), 0);
	CHECK_EQ(madv(&us, M, 64 * 1024, MADV_REMOVE), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);		/* the leaf zapped whole */
	PM_IS(&us, 0, 0);
	compare(&host, &us, ok, "64 KiB punched at 1 MiB");
	CHECK(zero(&us, M, 64 * 1024));
	CHECK(has(&us, 0, 0, M, 11));
	CHECK(has(&us, M + 64 * 1024, M + 64 * 1024, M - 64 * 1024, 11));
	CHECK(zero(&host, M, 64 * 1024));
	CHECK(has(&host, 0, 0, M, 11));
	CHECK(has(&host, M + 64 * 1024, M + 64 * 1024, M - 64 * 1024, 11));
	/* all read: PTE-mapped, the hole's fresh pages clean */
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Pss_Dirty", 1984);
	KB_IS(&us, 0, 4 * M, "Private_Clean", 64);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	compare(&host, &us, ok, "punched, all read back");
	/* collapsed again */
	ok &= collapse(&host, &us, 0, 2 * M, 0, "after the punch");
	P2048_IS(&us, 0, 4 * M);
	CHECK(zero(&us, M, 64 * 1024) && has(&us, 0, 0, M, 11));
	compare(&host, &us, ok, "punched, collapsed again");
	close_pair(&host, &us);
}

static void test_s5d_dontneed(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 12);

	CHECK_EQ(madv(&host, M, 64 * 1024, MADV_DONTNEED), 0);
	CHECK_EQ(madv(&us, M, 64 * 1024, MADV_DONTNEED), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);		/* the leaf zapped whole */
	compare(&host, &us, ok, "64 KiB DONTNEEDed");
	/* the folio stays in the cache: the next access maps the leaf again */
	rd(&host, M + P);
	rd(&us, M + P);
	P2048_IS(&us, 0, 4 * M);
	VM_IS(us.mm, "thp_file_mapped", 2);
	CHECK(has(&us, 0, 0, 2 * M, 12));
	compare(&host, &us, ok, "DONTNEEDed, read again");
	close_pair(&host, &us);
}

/*
 * MADV_PAGEOUT of a shmem THP mapped once by a leaf, on a host without
 * swap: the leaf goes and the folio stays cached (its pages are dirty);
 * the next access maps it again by a leaf. Paged out in part, the folio
 * is split too: faults then map pages (fault-around's 64 KiB).
 */
struct pair {
	struct side *host, *us;
	uint64_t len;		/* what pageout advises again */
};

/* settle_host's @agree: the windows' smaps are the same. */
static bool smaps_agree(void *arg)
{
	struct pair *p = arg;
	char *hs = smaps(p->host, 0, WIN), *u = smaps(p->us, 0, WIN);
	bool same = !strcmp(hs, u);

	free(hs);
	free(u);
	return same;
}

/* settle_host's @redo: the host's MADV_PAGEOUT again. */
static void pageout_again(void *arg)
{
	struct pair *p = arg;

	CHECK_EQ(madv(p->host, 0, p->len, MADV_PAGEOUT), 0);
}

static void test_s5g_pageout(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 13) && !host_has_swap();

	drain_host_lazyfree();
	CHECK_EQ(madv(&host, 0, 2 * M, MADV_PAGEOUT), 0);
	CHECK_EQ(madv(&us, 0, 2 * M, MADV_PAGEOUT), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	if (ok)
		settle_host(smaps_agree, pageout_again,
			    &(struct pair){ &host, &us, 2 * M }, "a shmem THP");
	compare(&host, &us, ok, "a shmem THP paged out");
	rd(&host, M + P);
	rd(&us, M + P);
	P2048_IS(&us, 0, 4 * M);
	compare(&host, &us, ok, "paged out, read again");
	drain_host_lazyfree();
	CHECK_EQ(madv(&host, 0, M, MADV_PAGEOUT), 0);
	CHECK_EQ(madv(&us, 0, M, MADV_PAGEOUT), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	if (ok)
		settle_host(smaps_agree, pageout_again,
			    &(struct pair){ &host, &us, M }, "half of a shmem THP");
	compare(&host, &us, ok, "half of a shmem THP paged out");
	rd(&host, P);
	rd(&us, P);
	rd(&host, M + P);
	rd(&us, M + P);
	KB_IS(&us, 0, 4 * M, "Rss", 128);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	compare(&host, &us, ok, "split by the pageout, read again");
	CHECK(has(&us, 0, 0, 2 * M, 13));
	CHECK(has(&host, 0, 0, 2 * M, 13));
	close_pair(&host, &us);
}

/*
 * MADV_COLD of a shmem THP mapped once by a leaf: of all of it, the leaf
 * is made old; of a part, the folio is split, which for a file folio
 * unmaps it first (the kernel's split_folio), and faults map pages again.
 */
static void test_s5h_cold(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 14);

	CHECK_EQ(madv(&host, 0, 2 * M, MADV_COLD), 0);
	CHECK_EQ(madv(&us, 0, 2 * M, MADV_COLD), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Referenced", 0);
	compare(&host, &us, ok, "a shmem THP made cold");
	CHECK_EQ(madv(&host, 0, M, MADV_COLD), 0);
	CHECK_EQ(madv(&us, 0, M, MADV_COLD), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	compare(&host, &us, ok, "half of a shmem THP made cold");
	rd(&host, P);
	rd(&us, P);
	rd(&host, M + P);
	rd(&us, M + P);
	KB_IS(&us, 0, 4 * M, "Rss", 128);
	compare(&host, &us, ok, "split by MADV_COLD, read again");
	CHECK(has(&us, 0, 0, 2 * M, 14));
	close_pair(&host, &us);
}

/*
 * A new MADV_NOHUGEPAGE mapping of a collapsed block, read once: the
 * whole folio mapped by PTEs, all in one page table (as S11).
 */
static bool pte_mapped_pair(struct side *host, struct side *us, unsigned tag)
{
	bool ok = collapsed_pair(host, us, tag);

	CHECK_EQ(unmap(host, 0, 4 * M), 0);
	CHECK_EQ(unmap(us, 0, 4 * M), 0);
	smap_pair(host, us, 0, 4 * M, RW, MAP_SHARED, 0);
	CHECK_EQ(madv(host, 0, 4 * M, MADV_NOHUGEPAGE), 0);
	CHECK_EQ(madv(us, 0, 4 * M, MADV_NOHUGEPAGE), 0);
	rd(host, 7 * P);
	rd(us, 7 * P);
	KB_IS(us, 0, 4 * M, "Rss", 2048);
	KB_IS(us, 0, 4 * M, "ShmemPmdMapped", 0);
	return ok;
}

/*
 * MADV_COLD and MADV_PAGEOUT of a shmem THP mapped once by PTEs. Of all
 * of it: cold makes the entries old, pageout unmaps them and the folio
 * stays whole in the cache (no swap), so that the next fault maps all of
 * it again. Of a part: the folio is split, which unmaps it first, and
 * faults then map small pages (fault-around's 64 KiB).
 */
static void test_s5i_pte_mapped(void)
{
	struct side host, us;
	bool ok = pte_mapped_pair(&host, &us, 23);

	CHECK_EQ(madv(&host, 0, 2 * M, MADV_COLD), 0);
	CHECK_EQ(madv(&us, 0, 2 * M, MADV_COLD), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Referenced", 0);
	compare(&host, &us, ok, "a shmem THP mapped by PTEs made cold");
	CHECK_EQ(madv(&host, M, P, MADV_COLD), 0);
	CHECK_EQ(madv(&us, M, P, MADV_COLD), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	compare(&host, &us, ok, "a page of a shmem THP mapped by PTEs made cold");
	rd(&host, 7 * P);
	rd(&us, 7 * P);
	KB_IS(&us, 0, 4 * M, "Rss", 64);
	compare(&host, &us, ok, "split by MADV_COLD, read again");
	CHECK(has(&us, 0, 0, 2 * M, 23));
	CHECK(has(&host, 0, 0, 2 * M, 23));
	close_pair(&host, &us);

	ok = pte_mapped_pair(&host, &us, 24) && !host_has_swap();
	drain_host_lazyfree();
	CHECK_EQ(madv(&host, 0, 4 * M, MADV_PAGEOUT), 0);
	CHECK_EQ(madv(&us, 0, 4 * M, MADV_PAGEOUT), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	if (ok)
		settle_host(smaps_agree, pageout_again,
			    &(struct pair){ &host, &us, 4 * M }, "a shmem THP by PTEs");
	compare(&host, &us, ok, "a shmem THP mapped by PTEs paged out");
	rd(&host, 7 * P);
	rd(&us, 7 * P);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	compare(&host, &us, ok, "paged out, read again");
	drain_host_lazyfree();
	CHECK_EQ(madv(&host, M, P, MADV_PAGEOUT), 0);
	CHECK_EQ(madv(&us, M, P, MADV_PAGEOUT), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	compare(&host, &us, ok, "a page of a shmem THP mapped by PTEs paged out");
	rd(&host, 7 * P);
	rd(&us, 7 * P);
	KB_IS(&us, 0, 4 * M, "Rss", 64);
	compare(&host, &us, ok, "split by MADV_PAGEOUT, read again");
	CHECK(has(&us, 0, 0, 2 * M, 24));
	CHECK(has(&host, 0, 0, 2 * M, 24));
	close_pair(&host, &us);

	/* two VMAs over it: each holds a part, so even all of it splits */
	ok = pte_mapped_pair(&host, &us, 25);
	CHECK_EQ(mprot(&host, 0, M, PROT_READ), 0);
	CHECK_EQ(mprot(&us, 0, M, PROT_READ), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	CHECK_EQ(madv(&host, 0, 2 * M, MADV_COLD), 0);
	CHECK_EQ(madv(&us, 0, 2 * M, MADV_COLD), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	compare(&host, &us, ok, "a shmem THP mapped by PTEs of two VMAs made cold");
	CHECK(has(&us, 0, 0, 2 * M, 25));
	CHECK(has(&host, 0, 0, 2 * M, 25));
	compare(&host, &us, ok, "split by MADV_COLD over two VMAs, all read");
	close_pair(&host, &us);
}

/* ---- S5e: truncated or punched while another mapping maps it by PTEs ---- */

static sigjmp_buf probe_jb;
static volatile sig_atomic_t probe_sig;

static void probe_handler(int sig)
{
	probe_sig = sig;
	siglongjmp(probe_jb, 1);
}

/*
 * One access to window offset @off as a program makes it: 0, -EIO
 * (SIGBUS) or -EFAULT (SIGSEGV), as umm_fault answers; on umm the byte is
 * then copied too. The host's handlers are ours only meanwhile.
 */
static int acc(struct side *s, uint64_t off, bool write)
{
	struct sigaction sa = { .sa_handler = probe_handler }, old_bus, old_segv;
	volatile int ret = 0;
	char c = 'w';

	if (s->mm) {
		ret = umm_fault(s->mm, s->base + off, write ? UMM_WRITE : UMM_READ);
		if (!ret)
			CHECK_EQ(write ? umm_write(s->mm, s->base + off, &c, 1) :
					 umm_read(s->mm, s->base + off, &c, 1), 1);
		return ret;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	if (sigsetjmp(probe_jb, 1))
		ret = probe_sig == SIGBUS ? -EIO : -EFAULT;
	else if (write)
		*(volatile char *)(s->base + off) = c;
	else
		c = *(volatile char *)(s->base + off);
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return ret;
}

/* process_vm_readv of window [off, off + len) on the host, umm_read on umm. */
static int64_t vm_read(struct side *s, uint64_t off, uint64_t len)
{
	char *buf = malloc(len);
	struct iovec l = { buf, len }, r = { (void *)(s->base + off), len };
	int64_t n;

	CHECK(buf);
	if (!buf)
		return -ENOMEM;
	if (s->mm)
		n = umm_read(s->mm, s->base + off, buf, len);
	else
		n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	free(buf);
	return n < 0 && !s->mm ? -errno : n;
}

#define EOF_SIZE	(M + P)		/* the size S5e truncates to */

/*
 * The file mapped at window offset @off from file offset 0, truncated to
 * EOF_SIZE: reads of the first page and of the last before the end work,
 * and every access past the end is SIGBUS, as the host measured (a fault
 * that maps the whole folio must not have mapped the cut part).
 * Return: the accesses that answered otherwise (printed).
 */
static int past_eof(struct side *s, uint64_t off, const char *what)
{
	static const struct {
		uint64_t foff;
		bool write;
		int want;
	} steps[] = {
		{ EOF_SIZE - P, false, 0 },	/* the last page: may map the folio */
		{ EOF_SIZE, false, -EIO },
		{ EOF_SIZE + P, true, -EIO },
		{ 2 * M - P, false, -EIO },	/* the folio's last page */
		{ 0, false, 0 },
		{ EOF_SIZE + 5 * P, false, -EIO },
		{ 2 * M, false, -EIO },		/* the next block */
	};
	int bad = 0;

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int got = acc(s, off + steps[i].foff, steps[i].write);

		if (got == steps[i].want)
			continue;
		bad++;
		printf("     %s %s: %s at file offset %#llx: %d, want %d\n",
		       s->mm ? "umm" : "host", what, steps[i].write ? "write" : "read",
		       (unsigned long long)steps[i].foff, got, steps[i].want);
	}
	return bad;
}

/* Both sides' mappings at @off agree with the host's measured answers. */
static void past_eof_pair(struct side *host, struct side *us, uint64_t off,
			  const char *what)
{
	CHECK_EQ(past_eof(host, off, what), 0);
	CHECK_EQ(past_eof(us, off, what), 0);
}

/* The same in a child of each side, forked now. */
static void past_eof_forked(struct side *host, struct side *us, uint64_t off)
{
	struct umm_mm *child = NULL;
	struct side uchild = *us;
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(past_eof(host, off, "child") ? 1 : 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(umm_fork(us->mm, &child), 0);
	CHECK(child);
	if (!child)
		return;
	uchild.mm = child;
	CHECK_EQ(past_eof(&uchild, off, "child"), 0);
	umm_mm_destroy(child);
}

/*
 * A pair as collapsed_pair's, and B: the file mapped again at B_OFF + 4
 * KiB (no leaf fits there), its first MiB read, so PTEs of B map the
 * folio beside A's leaf.
 */
static bool mapped_twice_pair(struct side *host, struct side *us, unsigned tag)
{
	bool ok = collapsed_pair(host, us, tag);

	smap_pair(host, us, B_OFF + P, 4 * M, RW, MAP_SHARED, 0);
	for (uint64_t o = 0; o < M; o += P) {
		rd(host, B_OFF + P + o);
		rd(us, B_OFF + P + o);
	}
	KB_IS(us, 0, 4 * M, "ShmemPmdMapped", 2048);
	KB_IS(us, B_OFF, 4 * M + P, "ShmemPmdMapped", 0);
	KB_IS(us, B_OFF, 4 * M + P, "Rss", 1084);	/* 64 KiB around past 1 MiB */
	compare(host, us, ok, "a leaf in A, PTEs in B");
	return ok;
}

static void test_s5e_truncate_mapped_twice(void)
{
	struct side host, us;
	bool ok = mapped_twice_pair(&host, &us, 19);

	CHECK_EQ(trunc_to(&host, EOF_SIZE), 0);
	CHECK_EQ(trunc_to(&us, EOF_SIZE), 0);
	/* the folio left every mapping to be split, B's entries before the end too */
	KB_IS(&us, 0, WIN, "Rss", 0);
	compare(&host, &us, ok, "truncated inside the folio B maps");
	/* the last page before the end faults in alone: no leaf, no whole folio */
	CHECK_EQ(acc(&host, EOF_SIZE - P, false), 0);
	CHECK_EQ(acc(&us, EOF_SIZE - P, false), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 4);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	compare(&host, &us, ok, "truncated, the last page read");
	past_eof_pair(&host, &us, 0, "A");
	past_eof_pair(&host, &us, B_OFF + P, "B");
	/* a copy across the end stops at it */
	CHECK_EQ(vm_read(&host, EOF_SIZE - P, 2 * P), (int64_t)P);
	CHECK_EQ(vm_read(&us, EOF_SIZE - P, 2 * P), (int64_t)P);
	CHECK(has(&us, 0, 0, EOF_SIZE, 19) && has(&host, 0, 0, EOF_SIZE, 19));
	CHECK(has(&us, B_OFF + P, 0, EOF_SIZE, 19));
	/* mapped again */
	CHECK_EQ(unmap(&host, 0, 4 * M), 0);
	CHECK_EQ(unmap(&us, 0, 4 * M), 0);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	past_eof_pair(&host, &us, 0, "A mapped again");
	/* privately: a write past the end is no copy-on-write either */
	smap_pair(&host, &us, 4 * M, 4 * M, RW, MAP_PRIVATE, 0);
	past_eof_pair(&host, &us, 4 * M, "C, private");
	past_eof_forked(&host, &us, 0);
	/* moved: A over B's place */
	reserve(&host, B_OFF, 4 * M + 2 * P);
	reserve(&us, B_OFF, 4 * M + 2 * P);
	CHECK(mremap((void *)host.base, 4 * M, 4 * M, MREMAP_MAYMOVE | MREMAP_FIXED,
		     (void *)(host.base + B_OFF)) == (void *)(host.base + B_OFF));
	CHECK_EQ(umm_mremap(us.mm, us.base, 4 * M, 4 * M, MREMAP_MAYMOVE | MREMAP_FIXED,
			    us.base + B_OFF), (int64_t)(us.base + B_OFF));
	reserve(&host, 0, 4 * M);
	reserve(&us, 0, 4 * M);
	past_eof_pair(&host, &us, B_OFF, "A moved");
	close_pair(&host, &us);
}

static void test_s5f_punch_mapped_twice(void)
{
	struct side host, us;
	bool ok = mapped_twice_pair(&host, &us, 20);

	CHECK_EQ(madv(&host, M, 64 * 1024, MADV_REMOVE), 0);
	CHECK_EQ(madv(&us, M, 64 * 1024, MADV_REMOVE), 0);
	KB_IS(&us, 0, WIN, "Rss", 0);
	compare(&host, &us, ok, "64 KiB punched in the folio B maps");
	CHECK(has(&us, B_OFF + P, 0, M, 20) && zero(&us, B_OFF + P + M, 64 * 1024));
	CHECK(has(&host, B_OFF + P, 0, M, 20) && zero(&host, B_OFF + P + M, 64 * 1024));
	CHECK(has(&us, M + 64 * 1024, M + 64 * 1024, M - 64 * 1024, 20));
	CHECK(has(&host, M + 64 * 1024, M + 64 * 1024, M - 64 * 1024, 20));
	close_pair(&host, &us);
}

/* ---- S6: mprotect and munmap of a collapsed block ---- */

static void test_s6_mprotect(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 13);

	/* the whole block: the VMA splits at 2 MiB, the leaf stays */
	CHECK_EQ(mprot(&host, 0, 2 * M, PROT_READ), 0);
	CHECK_EQ(mprot(&us, 0, 2 * M, PROT_READ), 0);
	P2048_IS(&us, 0, 2 * M);
	KB_IS(&us, 2 * M, 2 * M, "Rss", 0);
	CHECK_EQ(umm_write(us.mm, us.base + 5, "x", 1), -EFAULT);
	compare(&host, &us, ok, "the whole block mprotected PROT_READ");
	close_pair(&host, &us);

	/* half of it: the leaf zapped, both halves fault 64 KiB around */
	ok = collapsed_pair(&host, &us, 14);
	CHECK_EQ(mprot(&host, 0, M, PROT_READ), 0);
	CHECK_EQ(mprot(&us, 0, M, PROT_READ), 0);
	KB_IS(&us, 0, M, "Rss", 0);
	KB_IS(&us, M, 3 * M, "Rss", 0);
	compare(&host, &us, ok, "half the block mprotected PROT_READ");
	rd(&host, M);
	rd(&us, M);
	rd(&host, 0);
	rd(&us, 0);
	KB_IS(&us, 0, M, "Rss", 64);
	KB_IS(&us, 0, M, "Private_Dirty", 64);
	KB_IS(&us, M, 3 * M, "Rss", 64);
	KB_IS(&us, M, 3 * M, "Private_Dirty", 64);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	compare(&host, &us, ok, "half mprotected, one read in each half");
	CHECK(has(&us, 0, 0, 2 * M, 14));
	CHECK(has(&host, 0, 0, 2 * M, 14));
	KB_IS(&us, 0, M, "Rss", 1024);
	KB_IS(&us, M, 3 * M, "Rss", 1024);
	compare(&host, &us, ok, "half mprotected, all read");
	close_pair(&host, &us);

	/* its first page unmapped: the leaf zapped; the rest holds no whole block */
	ok = collapsed_pair(&host, &us, 15);
	CHECK_EQ(unmap(&host, 0, P), 0);
	CHECK_EQ(unmap(&us, 0, P), 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	compare(&host, &us, ok, "the first page unmapped");
	rd(&host, P);
	rd(&us, P);
	KB_IS(&us, 0, 4 * M, "Rss", 64);
	CHECK(has(&us, P, P, 2 * M - P, 15));
	CHECK(has(&host, P, P, 2 * M - P, 15));
	KB_IS(&us, 0, 4 * M, "Rss", 2044);
	ok &= collapse(&host, &us, P, 2 * M - P, 0, "[4 KiB, 2 MiB): no whole block");
	ok &= collapse(&host, &us, 0, 2 * M, -ENOMEM, "over the unmapped page");
	KB_IS(&us, 0, 4 * M, "Rss", 2044);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	compare(&host, &us, ok, "the first page unmapped, collapse tried");
	reserve(&host, 0, P);
	reserve(&us, 0, P);
	close_pair(&host, &us);
}

/* ---- S7: fork after the collapse ---- */

static void test_s7_fork(void)
{
	struct side host, us, hchild, uchild;
	struct umm_mm *child = NULL;
	int to_parent[2], to_child[2];
	bool ok = collapsed_pair(&host, &us, 16);
	char c = 0;
	pid_t pid;

	CHECK(!pipe(to_parent) && !pipe(to_child));
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(to_parent[0]);
		close(to_child[1]);
		(void)!write(to_parent[1], "f", 1);		/* forked */
		(void)!read(to_child[0], &c, 1);		/* read one byte */
		c = *(volatile char *)(host.base + 3 * P);
		(void)!write(to_parent[1], "r", 1);
		(void)!read(to_child[0], &c, 1);		/* until told */
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	CHECK_EQ(umm_fork(us.mm, &child), 0);
	CHECK(child);
	if (!child)
		exit(test_done() | 1);
	uchild = us;
	uchild.mm = child;
	uchild.f = NULL;
	hchild = host;
	hchild.pid = pid;
	hchild.fd = -1;
	CHECK_EQ(read(to_parent[0], &c, 1), 1);
	/* no tables copied for shared memory: the child maps nothing yet */
	KB_IS(&uchild, 0, 4 * M, "Rss", 0);
	P2048_IS(&us, 0, 4 * M);
	compare(&hchild, &uchild, ok, "fork: the child");
	compare(&host, &us, ok, "fork: the parent");
	/* one read in the child: a leaf, the folio shared */
	CHECK_EQ(write(to_child[1], "g", 1), 1);
	CHECK_EQ(read(to_parent[0], &c, 1), 1);
	rd(&uchild, 3 * P);
	SHARED2048_IS(&uchild, 0, 4 * M);
	SHARED2048_IS(&us, 0, 4 * M);
	PM_IS(&uchild, 0, PM_PRESENT | PM_FILE);
	VM_IS(child, "thp_file_mapped", 1);
	compare(&hchild, &uchild, ok, "fork: the child read once");
	compare(&host, &us, ok, "fork: the parent, the child read once");
	CHECK(has(&uchild, 0, 0, 2 * M, 16));
	CHECK_EQ(write(to_child[1], "x", 1), 1);
	CHECK_EQ(waitpid(pid, NULL, 0), pid);
	close(to_parent[0]);
	close(to_child[1]);
	umm_mm_destroy(child);
	P2048_IS(&us, 0, 4 * M);
	compare(&host, &us, ok, "fork: the child gone");
	close_pair(&host, &us);
}

/* ---- S9: refusals and rounding ---- */

static void test_s9_nohugepage(void)
{
	struct side host, us;
	bool ok;

	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	fill_pair(&host, &us, 0, 0, 2 * M, 17);
	CHECK_EQ(madv(&host, 0, 4 * M, MADV_NOHUGEPAGE), 0);
	CHECK_EQ(madv(&us, 0, 4 * M, MADV_NOHUGEPAGE), 0);
	ok = collapse(&host, &us, 0, 2 * M, -EINVAL, "MADV_NOHUGEPAGE");
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	VM_IS(us.mm, "thp_collapse_alloc", 0);
	compare(&host, &us, ok, "MADV_NOHUGEPAGE, refused");
	close_pair(&host, &us);
}

static void test_s9_ranges(void)
{
	struct side host, us;
	bool ok = true;

	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	fill_pair(&host, &us, 0, 0, 4 * M, 18);
	ok &= collapse(&host, &us, P, 2 * M, 0, "(4K, 2M): no whole block");
	ok &= collapse(&host, &us, P, 2 * M - 2 * P, -EINVAL, "(4K, 2M-8K): inside one block");
	ok &= collapse(&host, &us, 1, 2 * M, -EINVAL, "(1, 2M): unaligned start");
	ok &= collapse(&host, &us, 0, 0, 0, "(0, 0)");
	VM_IS(us.mm, "thp_collapse_alloc", 0);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	ok &= collapse(&host, &us, 0, 2 * M - 1, 0, "(0, 2M-1): the length rounded up");
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	KB_IS(&us, 0, 4 * M, "Rss", 4096);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 4096);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 2048);
	compare(&host, &us, ok, "the first block collapsed by (0, 2M-1)");
	ok &= collapse(&host, &us, P, 4 * M - P, 0, "(4K, 4M-4K): the second block");
	VM_IS(us.mm, "thp_collapse_alloc", 2);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 4096);
	compare(&host, &us, ok, "both blocks collapsed");
	/* running into a hole past the VMA (a one-page hole, the host's malloc kept out) */
	CHECK_EQ(unmap(&host, 4 * M, P), 0);
	CHECK_EQ(unmap(&us, 4 * M, P), 0);
	ok &= collapse(&host, &us, 0, 4 * M + P, -ENOMEM, "past the VMA's end");
	reserve(&host, 4 * M, P);
	reserve(&us, 4 * M, P);
	VM_IS(us.mm, "thp_collapse_alloc", 2);
	CHECK(has(&us, 0, 0, 4 * M, 18));
	close_pair(&host, &us);
}

static void test_s9_small_file(void)
{
	struct side host, us;
	bool ok;

	/* 1 MiB file, 1 MiB VMA: no whole block */
	open_pair(&host, &us);
	file_pair(&host, &us, M);
	smap_pair(&host, &us, 0, M, RW, MAP_SHARED, 0);
	fill_pair(&host, &us, 0, 0, M, 19);
	ok = collapse(&host, &us, 0, M, -EINVAL, "1 MiB file, 1 MiB VMA: (0, 1M)");
	ok &= collapse(&host, &us, 0, 2 * M, -EINVAL, "1 MiB file, 1 MiB VMA: (0, 2M)");
	KB_IS(&us, 0, 4 * M, "Rss", 1024);
	VM_IS(us.mm, "thp_collapse_alloc", 0);
	compare(&host, &us, ok, "1 MiB file, 1 MiB VMA");
	close_pair(&host, &us);

	/* 1 MiB file, 2 MiB VMA: collapsed, the folio past EOF mapped too */
	open_pair(&host, &us);
	file_pair(&host, &us, M);
	smap_pair(&host, &us, 0, 2 * M, RW, MAP_SHARED, 0);
	fill_pair(&host, &us, 0, 0, M, 20);
	ok = collapse(&host, &us, 0, 2 * M, 0, "1 MiB file, 2 MiB VMA");
	P2048_IS(&us, 0, 2 * M);
	VM_IS(us.mm, "thp_collapse_alloc", 1);
	compare(&host, &us, ok, "1 MiB file, 2 MiB VMA, collapsed");
	/* the leaf maps past EOF: reads and writes there go through */
	CHECK(has(&us, 0, 0, M, 20));
	CHECK(zero(&us, M + 5 * P, 1));
	CHECK_EQ(umm_write(us.mm, us.base + M + 6 * P, "\x09", 1), 1);
	if (ok) {
		CHECK(zero(&host, M + 5 * P, 1));
		wr(&host, M + 6 * P, 9);
	}
	compare(&host, &us, ok, "1 MiB file, 2 MiB VMA, past EOF accessed");
	close_pair(&host, &us);
}

/* ---- S10: a file offset not congruent with the address ---- */

static void test_s10_offset(void)
{
	struct side host, us;
	bool ok;

	open_pair(&host, &us);
	file_pair(&host, &us, 4 * M);
	file_write(&host, 0, 4 * M, 21);
	file_write(&us, 0, 4 * M, 21);
	smap_pair(&host, &us, 0, 4 * M - P, RW, MAP_SHARED, P);
	for (uint64_t o = 0; o < 2 * M; o += P) {
		rd(&host, o);
		rd(&us, o);
	}
	ok = collapse(&host, &us, 0, 2 * M, -EINVAL, "offset 4K at an aligned address");
	ok &= collapse(&host, &us, 0, 4 * M - P, -EINVAL, "offset 4K, (0, 4M-4K)");
	ok &= collapse(&host, &us, 2 * M - P, 2 * M, -EINVAL,
		       "offset 4K, the file's aligned block at an unaligned address");
	VM_IS(us.mm, "thp_collapse_alloc", 0);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	CHECK(has(&us, 0, P, 2 * M, 21));
	compare(&host, &us, ok, "offset 4K, refused");
	close_pair(&host, &us);
}

/* ---- S11: a new mapping of collapsed data ---- */

static void test_s11_new_mapping(void)
{
	struct side host, us;
	bool ok = collapsed_pair(&host, &us, 22);

	/* unmapped, mapped again: the first read maps the leaf */
	CHECK_EQ(unmap(&host, 0, 4 * M), 0);
	CHECK_EQ(unmap(&us, 0, 4 * M), 0);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	KB_IS(&us, 0, 4 * M, "Rss", 0);
	rd(&host, 7 * P);
	rd(&us, 7 * P);
	P2048_IS(&us, 0, 4 * M);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	VM_IS(us.mm, "thp_file_mapped", 2);
	compare(&host, &us, ok, "a new mapping, one read");
	/* and a new one that says MADV_NOHUGEPAGE: the folio by PTEs, all of it */
	CHECK_EQ(unmap(&host, 0, 4 * M), 0);
	CHECK_EQ(unmap(&us, 0, 4 * M), 0);
	smap_pair(&host, &us, 0, 4 * M, RW, MAP_SHARED, 0);
	CHECK_EQ(madv(&host, 0, 4 * M, MADV_NOHUGEPAGE), 0);
	CHECK_EQ(madv(&us, 0, 4 * M, MADV_NOHUGEPAGE), 0);
	rd(&host, 7 * P);
	rd(&us, 7 * P);
	KB_IS(&us, 0, 4 * M, "Rss", 2048);
	KB_IS(&us, 0, 4 * M, "Private_Dirty", 2048);
	KB_IS(&us, 0, 4 * M, "Referenced", 2048);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 0);
	VM_IS(us.mm, "thp_file_mapped", 2);
	PM_IS(&us, 0, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	PM_IS(&us, 511, PM_PRESENT | PM_FILE | PM_EXCLUSIVE);
	compare(&host, &us, ok, "a new MADV_NOHUGEPAGE mapping, one read");
	CHECK(has(&us, 0, 0, 2 * M, 22));
	close_pair(&host, &us);
}

/* ---- umm alone: pins, and every frame back ---- */

#include "page_alloc.h"
#include "rcu.h"

/*
 * A pinned page of the block: EAGAIN and nothing changes (the pin still
 * sees writes through the mapping); unpinned, it collapses. At the end,
 * with the mm and the file gone, every frame and table is back.
 */
static void test_umm_pin_and_frames(void)
{
	struct page_alloc_stats before;
	struct side us;
	void *ptr[1];
	unsigned char b = 0;

	rcu_barrier();
	page_alloc_get_stats(&before);
	side_open(&us, umm_mm_create(NULL));
	CHECK(us.mm);
	if (!us.mm)
		return;
	file_new(&us, 4 * M);
	smap(&us, 0, 4 * M, RW, MAP_SHARED, 0);
	smap(&us, B_OFF, 4 * M, RW, MAP_SHARED, 0);
	fill(&us, 0, 0, 4 * M, 23);
	CHECK_EQ(umm_pin(us.mm, us.base + 2 * M + 5 * P, 1, UMM_READ | UMM_WRITE, ptr), 0);
	CHECK_EQ(madv(&us, 0, 4 * M, MADV_COLLAPSE), -EAGAIN);
	KB_IS(&us, 0, 4 * M, "ShmemPmdMapped", 2048);	/* the first block collapsed */
	CHECK(has(&us, 0, 0, 4 * M, 23));
	CHECK_EQ(umm_write(us.mm, us.base + B_OFF + 2 * M + 5 * P + 3, "\xab", 1), 1);
	CHECK_EQ(((unsigned char *)ptr[0])[3], 0xab);
	umm_unpin(us.mm, ptr, 1);
	CHECK_EQ(madv(&us, B_OFF, 4 * M, MADV_COLLAPSE), 0);
	KB_IS(&us, B_OFF, 4 * M, "ShmemPmdMapped", 4096);
	CHECK_EQ(umm_read(us.mm, us.base + 2 * M + 5 * P + 3, &b, 1), 1);
	CHECK_EQ(b, 0xab);
	/* the file truncated under the leaves, then everything goes */
	CHECK_EQ(trunc_to(&us, 3 * M), 0);
	CHECK(has(&us, 0, 0, 2 * M, 23));
	side_close(&us);
	check_frames_back(&before);
}

static void host_settings(void)
{
	static const char *const names[] = {
		"/sys/kernel/mm/transparent_hugepage/enabled",
		"/sys/kernel/mm/transparent_hugepage/shmem_enabled",
	};

	for (unsigned i = 0; i < 2; i++) {
		char v[160] = "?";
		FILE *f = fopen(names[i], "r");

		if (f) {
			(void)!fgets(v, sizeof(v), f);
			fclose(f);
		}
		v[strcspn(v, "\n")] = 0;
		printf("     host %s: %s\n", strrchr(names[i], '/') + 1, v);
	}
}

/* umm-only: a secondary MMU hears of a file leaf dropped by a fault. */
struct notes {
	uint64_t start, end;
	int starts, ends;
};

static void note_start(void *priv, struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct notes *n = priv;

	(void)mm;
	if (start <= n->start && end >= n->end)
		n->starts++;
}

static void note_end(void *priv, struct umm_mm *mm, uint64_t start, uint64_t end)
{
	struct notes *n = priv;

	(void)mm;
	if (start <= n->start && end >= n->end)
		n->ends++;
}

static void test_umm_notifier_on_leaf_drop(void)
{
	static const struct umm_notifier_ops ops = { note_start, note_end };
	struct umm_mm *mm = umm_mm_create(NULL);
	struct umm_file *f = umm_file_create("notify", 2 * M, 0);
	const uint64_t base = 0x40000000;
	struct notes n = { base, base + 2 * M, 0, 0 };
	char c = 'P', r = 0;

	CHECK(mm && f);
	if (!mm || !f)
		return;
	CHECK_EQ(umm_mmap(mm, base, 2 * M, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			  f, 0), (int64_t)base);
	for (uint64_t off = 0; off < 2 * M; off += P)
		CHECK_EQ(umm_write(mm, base + off, "s", 1), 1);
	CHECK_EQ(umm_madvise(mm, base, 2 * M, MADV_COLLAPSE), 0);
	CHECK_EQ(umm_munmap(mm, base, 2 * M), 0);
	/* a private view: a read maps the leaf, a write drops it for one copy */
	CHECK_EQ(umm_mmap(mm, base, 2 * M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
			  f, 0), (int64_t)base);
	CHECK_EQ(umm_read(mm, base + 5 * P, &r, 1), 1);
	CHECK_EQ(r, 's');
	CHECK_EQ(umm_vmstat_value(mm, "thp_file_mapped"), 2);
	CHECK_EQ(umm_notifier_register(mm, &ops, &n), 0);
	CHECK_EQ(umm_write(mm, base + 5 * P, &c, 1), 1);
	CHECK(n.starts >= 1);
	CHECK_EQ(n.starts, n.ends);
	CHECK_EQ(umm_read(mm, base + 5 * P, &r, 1), 1);
	CHECK_EQ(r, 'P');
	umm_mm_destroy(mm);
	umm_file_put(f);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	host_settings();
	RUN(test_s1_memfd);
	RUN(test_s2_sparse);
	RUN(test_s3_private);
	RUN(test_s4_two_vmas);
	RUN(test_s5a_truncate);
	RUN(test_s5b_punch);
	RUN(test_s5d_dontneed);
	RUN(test_s5g_pageout);
	RUN(test_s5h_cold);
	RUN(test_s5i_pte_mapped);
	RUN(test_s5e_truncate_mapped_twice);
	RUN(test_s5f_punch_mapped_twice);
	RUN(test_s6_mprotect);
	RUN(test_s7_fork);
	RUN(test_s8_shared_anon);
	RUN(test_s9_nohugepage);
	RUN(test_s9_ranges);
	RUN(test_s9_small_file);
	RUN(test_s10_offset);
	RUN(test_s11_new_mapping);
	RUN(test_umm_pin_and_frames);
	RUN(test_umm_notifier_on_leaf_drop);
	return test_done();
}
