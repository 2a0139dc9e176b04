// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_guard - MADV_GUARD_INSTALL and MADV_GUARD_REMOVE (guard regions:
 * PTE markers whose access is SIGSEGV), side by side with the host kernel:
 * the same calls on a window of umm's mm and of this process, then the
 * return values, the smaps blocks of the window (byte for byte, VmFlags'
 * "gu" included) and the pagemap flags compared; accesses to a guard
 * through umm_read/umm_write/umm_fault beside process_vm_readv/writev and
 * a forked child's SIGSEGV. Which VMAs take guards, holes and bad ranges,
 * pages discarded by an install, what keeps the markers (DONTNEED, FREE,
 * mprotect, mremap) and what drops them (munmap, MAP_FIXED), populate and
 * mincore over them, the sticky VMA flag and merges, fork, and THPs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
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
#define FLAGS_MASK	(~((1ull << 56) - 1))
#define PM_PRESENT	(1ull << 63)
#define PM_SWAP		(1ull << 62)
#define PM_GUARD	(1ull << 58)
#define FILE_PAGES	32	/* the host file: 32 pages, each its index + 1 */

/* File mappings: none, the file read-write, the same file opened read-only. */
enum { ANON, RW_FILE, RO_FILE };

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t base, res;
	struct umm_file *file;	/* umm's view of the host file */
	struct umm_file *rofile; /* ... of it opened O_RDONLY */
	int fd, rofd;		/* the host file, read-write and read-only */
};

static unsigned zp_flags;	/* UMM_NO_ZERO_PAGE when the host maps none */

static void side_open(struct side *s, struct umm_mm *mm, int fd, int rofd)
{
	memset(s, 0, sizeof(*s));
	s->mm = mm;
	s->fd = fd;
	s->rofd = rofd;
	s->base = both_window(mm, WIN, H, &s->res);
	if (mm) {
		s->file = umm_file_from_fd(fd, O_RDWR);
		s->rofile = umm_file_from_fd(rofd, O_RDONLY);
		CHECK(s->file && s->rofile);
	}
}

static void side_close(struct side *s)
{
	if (s->mm) {
		umm_mm_destroy(s->mm);
		umm_file_put(s->file);
		umm_file_put(s->rofile);
	} else {
		CHECK_EQ(munmap((void *)s->res, WIN + 2 * H), 0);
	}
}

/* A host file of FILE_PAGES pages, each filled with its index + 1; *@rofd: it read-only. */
static int host_file(int *rofd)
{
	return host_test_file("umm_guard", FILE_PAGES, rofd);
}

/* The file's pages read into umm's cache, through a mapping outside the window. */
static void warm_cache(struct umm_mm *mm, struct umm_file *f)
{
	int64_t a = umm_mmap(mm, 0, FILE_PAGES * P, PROT_READ, MAP_SHARED, f, 0);

	CHECK(a > 0);
	if (a <= 0)
		return;
	CHECK_EQ(umm_madvise(mm, (uint64_t)a, FILE_PAGES * P, MADV_POPULATE_READ), 0);
	CHECK_EQ(umm_munmap(mm, (uint64_t)a, FILE_PAGES * P), 0);
}

static void open_pair(struct side *host, struct side *us)
{
	struct umm_opts o = { .size = sizeof(o), .flags = zp_flags };
	struct umm_mm *mm = umm_mm_create(&o);
	int rofd, fd = host_file(&rofd);

	CHECK(mm);
	if (!mm)
		exit(test_done() | 1);
	side_open(host, NULL, fd, rofd);
	side_open(us, mm, fd, rofd);
	/* every page in umm's cache, as in the host's: fault-around maps them */
	warm_cache(us->mm, us->file);
	warm_cache(us->mm, us->rofile);
}

static void close_pair(struct side *host, struct side *us)
{
	side_close(us);
	side_close(host);
	close(host->fd);
	close(host->rofd);
}

/*
 * [off, off + len) mapped with @prot and @flags over the reservation, of
 * @kind (ANON, RW_FILE, RO_FILE) at file offset @foff.
 */
static void mapf(struct side *s, uint64_t off, uint64_t len, int prot, int flags,
		 int kind, uint64_t foff)
{
	uint64_t a = s->base + off;

	flags |= MAP_FIXED | (kind == ANON ? MAP_ANONYMOUS : 0);
	if (s->mm) {
		struct umm_file *f = kind == RW_FILE ? s->file :
				     kind == RO_FILE ? s->rofile : NULL;

		CHECK_EQ(umm_mmap(s->mm, a, len, prot, flags, f, foff), (int64_t)a);
	} else {
		int fd = kind == RW_FILE ? s->fd : kind == RO_FILE ? s->rofd : -1;

		CHECK(mmap((void *)a, len, prot, flags, fd, (off_t)foff) == (void *)a);
	}
}

static void map2(struct side *host, struct side *us, uint64_t off, uint64_t len,
		 int prot, int flags, int kind, uint64_t foff)
{
	mapf(host, off, len, prot, flags, kind, foff);
	mapf(us, off, len, prot, flags, kind, foff);
}

static int madv(struct side *s, uint64_t off, uint64_t len, int advice)
{
	return both_madvise(s->mm, s->base + off, len, advice);
}

static int madv2(struct side *host, struct side *us, uint64_t off, uint64_t len, int advice)
{
	return madvise_pair(host->base, us->mm, us->base, off, len, advice);
}

static int mprotect2(struct side *host, struct side *us, uint64_t off, uint64_t len, int prot)
{
	int h = both_mprotect(NULL, host->base + off, len, prot);
	int u = both_mprotect(us->mm, us->base + off, len, prot);

	CHECK_EQ(u, h);
	return h;
}

static int munmap2(struct side *host, struct side *us, uint64_t off, uint64_t len)
{
	int h = both_munmap(NULL, host->base + off, len);
	int u = both_munmap(us->mm, us->base + off, len);

	CHECK_EQ(u, h);
	return h;
}

/* mremap of [off, +oldlen) to @newlen, at window offset @noff with MREMAP_FIXED. */
static void mremap2(struct side *host, struct side *us, uint64_t off, uint64_t oldlen,
		    uint64_t newlen, int flags, uint64_t noff)
{
	uint64_t hn = flags & MREMAP_FIXED ? host->base + noff : 0;
	uint64_t un = flags & MREMAP_FIXED ? us->base + noff : 0;
	void *h = mremap((void *)(host->base + off), oldlen, newlen, flags, (void *)hn);
	int64_t u = umm_mremap(us->mm, us->base + off, oldlen, newlen, flags, un);

	CHECK(h != MAP_FAILED);
	if (h == MAP_FAILED)
		return;
	/* the same place in the window */
	CHECK_EQ(u - (int64_t)us->base, (int64_t)((uint64_t)(uintptr_t)h - host->base));
}

static void write2(struct side *host, struct side *us, uint64_t off, uint64_t len, char c)
{
	for (uint64_t o = off; o < off + len; o += P) {
		both_write_byte(host->mm, host->base + o, c);
		both_write_byte(us->mm, us->base + o, c);
	}
}

/*
 * Copy @len bytes in from (out to) the window at @off, as another process
 * would: process_vm_readv/writev on this process, umm_read/umm_write.
 * Return: bytes copied or -errno.
 */
static int64_t copy_in(struct side *s, uint64_t off, uint64_t len, char *buf)
{
	struct iovec l = { buf, len }, r = { (void *)(s->base + off), len };
	ssize_t n;

	if (s->mm)
		return umm_read(s->mm, s->base + off, buf, len);
	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return n < 0 ? -errno : n;
}

static int64_t copy_out(struct side *s, uint64_t off, uint64_t len, char c)
{
	static char buf[16 * P];
	struct iovec l = { buf, len }, r = { (void *)(s->base + off), len };
	ssize_t n;

	memset(buf, c, len);
	if (s->mm)
		return umm_write(s->mm, s->base + off, buf, len);
	n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	return n < 0 ? -errno : n;
}

/* Both sides copy in; the host copies @expect bytes, umm as many, with the same bytes. */
static void copy_in2(struct side *host, struct side *us, uint64_t off, uint64_t len,
		     int64_t expect)
{
	static char hb[16 * P], ub[16 * P];
	int64_t h = copy_in(host, off, len, hb), u = copy_in(us, off, len, ub);

	CHECK_EQ(h, expect);
	CHECK_EQ(u, h);
	if (h > 0 && u == h)
		CHECK(!memcmp(hb, ub, (size_t)h));
}

static void copy_out2(struct side *host, struct side *us, uint64_t off, uint64_t len,
		      char c, int64_t expect)
{
	int64_t h = copy_out(host, off, len, c), u = copy_out(us, off, len, c);

	CHECK_EQ(h, expect);
	CHECK_EQ(u, h);
}

/* The first byte of page @off on both sides: the host's is @expect, umm's the same. */
static void byte2(struct side *host, struct side *us, uint64_t off, char expect)
{
	char h = 0, u = 0;

	CHECK_EQ(copy_in(host, off, 1, &h), 1);
	CHECK_EQ(copy_in(us, off, 1, &u), 1);
	CHECK_EQ(h, expect);
	CHECK_EQ(u, h);
}

/* A forked child reads (writes) @addr: the signal that killed it, or 0. */
static int host_child_access(uint64_t addr, bool write)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGSEGV, SIG_DFL);
		if (write)
			*(volatile char *)addr = 1;
		else
			(void)*(volatile char *)addr;
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

/* Page @off is a guard on both sides: a read (and, if @write, a write) faults. */
static void faults2(struct side *host, struct side *us, uint64_t off, bool write)
{
	CHECK_EQ(host_child_access(host->base + off, false), SIGSEGV);
	CHECK_EQ(umm_fault(us->mm, us->base + off, UMM_READ), -EFAULT);
	if (write) {
		CHECK_EQ(host_child_access(host->base + off, true), SIGSEGV);
		CHECK_EQ(umm_fault(us->mm, us->base + off, UMM_WRITE), -EFAULT);
	}
}

/* The full pagemap entry of page @off. */
static uint64_t pm_entry(struct side *s, uint64_t off)
{
	uint64_t e = 0;

	if (s->mm) {
		CHECK_EQ(umm_pagemap(s->mm, s->base + off, 1, &e), 0);
	} else {
		int fd = open("/proc/self/pagemap", O_RDONLY);

		CHECK(fd >= 0);
		CHECK_EQ(pread(fd, &e, 8, (off_t)((s->base + off) / P * 8)), 8);
		close(fd);
	}
	return e;
}

/* Pages [off, off + len) of the host: guards (@guard) or not. */
static void host_guards(struct side *host, uint64_t off, uint64_t len, bool guard)
{
	for (uint64_t o = off; o < off + len; o += P) {
		uint64_t f = pm_entry(host, o) & FLAGS_MASK;

		if (guard)
			CHECK_EQ(f, PM_SWAP | PM_GUARD);
		else
			CHECK(!(f & PM_GUARD));
	}
}

/* umm's @mm at @base against the host's entries @h (a child's, say). */
static void same_pagemap_of(const uint64_t *h, struct umm_mm *mm, uint64_t base,
			    const char *what)
{
	static uint64_t u[WPAGES];

	CHECK_EQ(umm_pagemap(mm, base, WPAGES, u), 0);
	same_pagemap_flags(h, u, WPAGES, what);
}

static void read_pagemap(pid_t pid, uint64_t base, uint64_t *out)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, out, WPAGES * 8, (off_t)(base / P * 8)), (ssize_t)(WPAGES * 8));
	close(fd);
}

static void same_views(struct side *host, struct side *us, const char *what)
{
	static uint64_t buf[2 * WPAGES];

	same_smaps_windows(host->base, us->mm, us->base, WIN, what);
	same_pagemap_windows(host->base, us->mm, us->base, WPAGES, buf, what);
}

/* The host's VMAs inside [off, off + len) of the window. */
static int host_vmas(struct side *host, uint64_t off, uint64_t len)
{
	char *t = smaps_window(NULL, 0, host->base, WIN, NULL), *p;
	unsigned long long a, b;
	int n = 0;

	for (p = t; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (sscanf(p, "%llx-%llx ", &a, &b) == 2 && strchr(p, '-') < strchr(p, ' '))
			n += a >= off && b <= off + len;
	free(t);
	return n;
}

/* One smaps field of the host's window, in kB. */
static unsigned long long host_kb(struct side *host, const char *name)
{
	char *t = smaps_window(NULL, 0, host->base, WIN, NULL);
	unsigned long long v = field_kb(t, name);

	free(t);
	return v;
}

/* Does the host's VMA holding window offset @off show VmFlags "gu"? */
static bool host_gu(struct side *host, uint64_t off)
{
	char *t = smaps_window(NULL, 0, host->base, WIN, NULL), *p, *e;
	unsigned long long a, b;
	bool in = false, gu = false;

	for (p = t; p && *p; p = e ? e + 1 : NULL) {
		e = strchr(p, '\n');
		if (sscanf(p, "%llx-%llx ", &a, &b) == 2 && strchr(p, '-') < strchr(p, ' '))
			in = a <= off && off < b;
		else if (in && !strncmp(p, "VmFlags:", 8))
			gu = strstr(p, " gu") && strstr(p, " gu") < (e ? e : p + strlen(p));
	}
	free(t);
	return gu;
}

/* ---- tests ---- */

#define RW	(PROT_READ | PROT_WRITE)

/*
 * Which VMAs take guards: private and shared anonymous, private and shared
 * file (read-write, and read-only on an O_RDONLY file), PROT_NONE; not an
 * mlocked one (-EINVAL), whose (absent) guards may still be removed.
 * Window, 32 pages apart, 16 each, guards on pages 2-3.
 */
static void test_kinds(void)
{
	static const struct { int prot, flags, kind; bool write; } k[] = {
		{ RW, MAP_PRIVATE, ANON, true },
		{ RW, MAP_SHARED, ANON, true },
		{ RW, MAP_PRIVATE, RW_FILE, true },
		{ RW, MAP_SHARED, RW_FILE, true },
		{ PROT_NONE, MAP_PRIVATE, ANON, false },
		{ PROT_READ, MAP_PRIVATE, RO_FILE, false },
		{ PROT_READ, MAP_SHARED, RO_FILE, false },
		{ PROT_NONE, MAP_SHARED, RW_FILE, false },
	};
	const unsigned n = sizeof(k) / sizeof(k[0]);
	struct side host, us;
	char buf[P];

	open_pair(&host, &us);
	for (unsigned i = 0; i < n; i++)
		map2(&host, &us, i * 32 * P, 16 * P, k[i].prot, k[i].flags, k[i].kind, 0);
	map2(&host, &us, n * 32 * P, 16 * P, RW, MAP_PRIVATE | MAP_LOCKED, ANON, 0);
	same_views(&host, &us, "the kinds, mapped");
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(madv2(&host, &us, i * 32 * P + 2 * P, 2 * P, MADV_GUARD_INSTALL), 0);
		host_guards(&host, i * 32 * P + 2 * P, 2 * P, true);
		CHECK(host_gu(&host, i * 32 * P));
	}
	CHECK_EQ(madv2(&host, &us, n * 32 * P + 2 * P, 2 * P, MADV_GUARD_INSTALL), -EINVAL);
	host_guards(&host, n * 32 * P, 16 * P, false);
	CHECK(!host_gu(&host, n * 32 * P));
	same_views(&host, &us, "guards on pages 2-3 of each");
	/* the full entry: PM_SWAP | PM_GUARD_REGION, the marker as swap type 31, offset 4 */
	CHECK(pm_entry(&host, 2 * P) == 0x440000000000009full ||	/* frame shown */
	      pm_entry(&host, 2 * P) == (PM_SWAP | PM_GUARD));
	CHECK_EQ(pm_entry(&host, 4 * P), 0);
	/* accesses: SIGSEGV; no byte copies in or out */
	for (unsigned i = 0; i < n; i++) {
		uint64_t g = i * 32 * P + 2 * P;

		faults2(&host, &us, g, k[i].write);
		faults2(&host, &us, g + P, k[i].write);
		CHECK_EQ(copy_in(&host, g, P, buf), -EFAULT);
		CHECK_EQ(copy_in(&us, g, P, buf), -EFAULT);
		CHECK_EQ(copy_out(&host, g, P, 1), -EFAULT);
		CHECK_EQ(copy_out(&us, g, P, 1), -EFAULT);
	}
	/* the neighbours are as before */
	copy_in2(&host, &us, 0, 2 * P, 2 * P);
	copy_in2(&host, &us, 3 * 32 * P + 4 * P, P, P);
	same_views(&host, &us, "after the accesses");
	/* removing: 0 everywhere, mlocked too; "gu" stays */
	for (unsigned i = 0; i <= n; i++)
		CHECK_EQ(madv2(&host, &us, i * 32 * P, 16 * P, MADV_GUARD_REMOVE), 0);
	host_guards(&host, 0, (n + 1) * 32 * P, false);
	CHECK(host_gu(&host, 0));
	same_views(&host, &us, "the guards removed");
	close_pair(&host, &us);
}

/*
 * Holes and bad ranges: the VMAs on both sides of a hole get guards, then
 * -ENOMEM; an mlocked VMA stops the walk with -EINVAL, the VMAs before it
 * guarded, those after not; unaligned starts -EINVAL; a length is rounded
 * up to pages; len 0 is 0.
 */
static void test_ranges(void)
{
	struct side host, us;

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(munmap2(&host, &us, 4 * P, 4 * P), 0);
	CHECK_EQ(madv2(&host, &us, 0, 12 * P, MADV_GUARD_INSTALL), -ENOMEM);
	host_guards(&host, 0, 4 * P, true);
	host_guards(&host, 8 * P, 4 * P, true);
	host_guards(&host, 12 * P, 4 * P, false);
	same_views(&host, &us, "install over a hole");
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_GUARD_REMOVE), -ENOMEM);
	host_guards(&host, 0, 16 * P, false);
	CHECK_EQ(madv2(&host, &us, 4 * P, 8 * P, MADV_GUARD_INSTALL), -ENOMEM);
	host_guards(&host, 8 * P, 4 * P, true);
	CHECK_EQ(madv2(&host, &us, 4 * P, 4 * P, MADV_GUARD_INSTALL), -ENOMEM);
	CHECK_EQ(madv2(&host, &us, 4 * P, 4 * P, MADV_GUARD_REMOVE), -ENOMEM);
	same_views(&host, &us, "install from inside a hole");
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_GUARD_REMOVE), -ENOMEM);

	/* plain | mlocked | plain */
	map2(&host, &us, 32 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 40 * P, 8 * P, RW, MAP_PRIVATE | MAP_LOCKED, ANON, 0);
	map2(&host, &us, 48 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 32 * P, 24 * P, MADV_GUARD_INSTALL), -EINVAL);
	host_guards(&host, 32 * P, 8 * P, true);
	host_guards(&host, 40 * P, 16 * P, false);
	same_views(&host, &us, "install across an mlocked VMA");
	CHECK_EQ(madv2(&host, &us, 32 * P, 24 * P, MADV_GUARD_REMOVE), 0);
	/* a hole before the mlocked VMA: -EINVAL wins over -ENOMEM */
	CHECK_EQ(munmap2(&host, &us, 36 * P, 2 * P), 0);
	CHECK_EQ(madv2(&host, &us, 32 * P, 24 * P, MADV_GUARD_INSTALL), -EINVAL);
	host_guards(&host, 32 * P, 4 * P, true);
	host_guards(&host, 38 * P, 2 * P, true);
	same_views(&host, &us, "hole, then mlocked");

	/* bad ranges, rounding */
	map2(&host, &us, 64 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 64 * P + 1, P, MADV_GUARD_INSTALL), -EINVAL);
	CHECK_EQ(madv2(&host, &us, 64 * P + 1, P, MADV_GUARD_REMOVE), -EINVAL);
	CHECK_EQ(madv2(&host, &us, 64 * P + 1, 0, MADV_GUARD_INSTALL), -EINVAL);
	CHECK_EQ(madv2(&host, &us, 64 * P, 0, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 64 * P, 0, MADV_GUARD_REMOVE), 0);
	CHECK_EQ(madv2(&host, &us, 16 * P, 0, MADV_GUARD_INSTALL), 0);	/* hole, len 0 */
	CHECK_EQ(madv2(&host, &us, 66 * P, 1, MADV_GUARD_INSTALL), 0);	/* a page */
	host_guards(&host, 66 * P, P, true);
	host_guards(&host, 67 * P, P, false);
	CHECK_EQ(madv(&host, 64 * P, -(host.base + 64 * P), MADV_GUARD_INSTALL), -EINVAL);
	CHECK_EQ(madv(&us, 64 * P, -(us.base + 64 * P), MADV_GUARD_INSTALL), -EINVAL);
	CHECK_EQ(umm_madvise(us.mm, us.base, UINT64_MAX, MADV_GUARD_INSTALL), -EINVAL);
	/* again, overlapping, then part removed */
	CHECK_EQ(madv2(&host, &us, 66 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 68 * P, 4 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 70 * P, 4 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 72 * P, 2 * P, MADV_GUARD_REMOVE), 0);
	host_guards(&host, 68 * P, 4 * P, true);
	host_guards(&host, 72 * P, 8 * P, false);
	same_views(&host, &us, "bad ranges, overlaps");
	close_pair(&host, &us);
}

/*
 * An install over mapped pages drops them: after the remove, anonymous
 * memory reads zeros, a private file mapping the file again (its copies
 * gone), a shared file or shared anonymous mapping what was written (kept
 * in the file). Also PROT_NONE memory that was written. File pages the
 * shared mapping writes are the file's pages 16-31 (offset 16 pages), the
 * private ones read pages 0-15: the cache pages of each are the same on
 * both sides.
 */
static void test_discard(void)
{
	struct side host, us;

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 32 * P, 16 * P, RW, MAP_PRIVATE, RW_FILE, 0);
	map2(&host, &us, 64 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 16 * P);
	map2(&host, &us, 96 * P, 16 * P, RW, MAP_SHARED, ANON, 0);
	map2(&host, &us, 128 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 160 * P, 16 * P, RW, MAP_PRIVATE, RW_FILE, 0);
	write2(&host, &us, 0, 16 * P, 7);
	write2(&host, &us, 32 * P, 16 * P, 8);
	write2(&host, &us, 64 * P, 16 * P, 9);
	write2(&host, &us, 96 * P, 16 * P, 10);
	write2(&host, &us, 128 * P, 16 * P, 11);
	CHECK_EQ(mprotect2(&host, &us, 128 * P, 16 * P, PROT_NONE), 0);
	CHECK_EQ(madv2(&host, &us, 160 * P, 16 * P, MADV_POPULATE_READ), 0);
	same_views(&host, &us, "written");
	for (uint64_t o = 0; o <= 160 * P; o += 32 * P)
		CHECK_EQ(madv2(&host, &us, o + 4 * P, 4 * P, MADV_GUARD_INSTALL), 0);
	same_views(&host, &us, "guards over pages 4-7 of each");
	CHECK_EQ(host_kb(&host, "Rss"), 6 * 12 * 4);
	CHECK_EQ(mprotect2(&host, &us, 128 * P, 16 * P, PROT_READ), 0);
	for (uint64_t o = 0; o <= 160 * P; o += 32 * P)
		CHECK_EQ(madv2(&host, &us, o, 16 * P, MADV_GUARD_REMOVE), 0);
	same_views(&host, &us, "guards removed");
	byte2(&host, &us, 4 * P, 0);
	byte2(&host, &us, 3 * P, 7);
	byte2(&host, &us, 32 * P + 4 * P, 5);		/* the file's page 4 */
	byte2(&host, &us, 32 * P + 3 * P, 8);
	byte2(&host, &us, 64 * P + 4 * P, 9);		/* written to the file */
	byte2(&host, &us, 96 * P + 4 * P, 10);		/* shmem keeps it */
	byte2(&host, &us, 128 * P + 4 * P, 0);
	byte2(&host, &us, 128 * P + 8 * P, 11);
	byte2(&host, &us, 160 * P + 4 * P, 5);
	same_views(&host, &us, "read again");
	close_pair(&host, &us);
}

/*
 * Copies through a guard, as process_vm_readv/writev: what lies before it
 * is copied (a short count), nothing from it (-EFAULT); faults there are
 * SIGSEGV (-EFAULT), next to it not.
 */
static void test_access(void)
{
	struct side host, us;
	char buf[16 * P];

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 0, 16 * P, 7);
	CHECK_EQ(madv2(&host, &us, 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	copy_in2(&host, &us, 4 * P, P, -EFAULT);
	copy_in2(&host, &us, 5 * P + 100, 100, -EFAULT);
	copy_in2(&host, &us, 2 * P, 3 * P, 2 * P);
	copy_in2(&host, &us, 3 * P + 100, P, P - 100);
	copy_in2(&host, &us, 6 * P, 2 * P, 2 * P);
	copy_out2(&host, &us, 4 * P, P, 3, -EFAULT);
	copy_out2(&host, &us, 2 * P, 3 * P, 3, 2 * P);
	copy_out2(&host, &us, 3 * P + 100, P, 4, P - 100);
	faults2(&host, &us, 4 * P, true);
	faults2(&host, &us, 5 * P, true);
	CHECK_EQ(host_child_access(host.base + 3 * P, true), 0);
	CHECK_EQ(umm_fault(us.mm, us.base + 3 * P, UMM_WRITE), 0);
	CHECK_EQ(umm_fault(us.mm, us.base + 6 * P, UMM_READ), 0);
	CHECK_EQ(copy_in(&us, 3 * P, 1, buf), 1);
	CHECK_EQ(buf[0], 3);
	same_views(&host, &us, "after the accesses");
	/* file mappings, and a read-only one (no write right either way) */
	map2(&host, &us, 32 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 0);
	map2(&host, &us, 64 * P, 16 * P, PROT_READ, MAP_PRIVATE, RW_FILE, 0);
	CHECK_EQ(madv2(&host, &us, 33 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 65 * P, P, MADV_GUARD_INSTALL), 0);
	copy_in2(&host, &us, 32 * P, 2 * P, P);
	copy_in2(&host, &us, 33 * P, P, -EFAULT);
	copy_out2(&host, &us, 33 * P, P, 1, -EFAULT);
	copy_in2(&host, &us, 64 * P, 2 * P, P);
	copy_out2(&host, &us, 64 * P, 2 * P, 1, -EFAULT);
	faults2(&host, &us, 33 * P, true);
	faults2(&host, &us, 65 * P, false);
	same_views(&host, &us, "file mappings, after the accesses");
	close_pair(&host, &us);
}

/*
 * What keeps the markers: MADV_DONTNEED, MADV_FREE, MADV_WILLNEED,
 * mprotect (to PROT_NONE and back, and of a part: split, then merged),
 * MADV_DONTNEED of a shared file, MADV_REMOVE of shared memory.
 */
static void test_keep(void)
{
	struct side host, us;

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 0, 16 * P, 7);
	CHECK_EQ(madv2(&host, &us, 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_DONTNEED), 0);
	host_guards(&host, 4 * P, 2 * P, true);
	same_views(&host, &us, "MADV_DONTNEED");
	write2(&host, &us, 0, 4 * P, 7);
	write2(&host, &us, 8 * P, 8 * P, 7);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_FREE), 0);
	drain_host_lazyfree();
	host_guards(&host, 4 * P, 2 * P, true);
	same_views(&host, &us, "MADV_FREE");
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_WILLNEED), 0);
	CHECK_EQ(mprotect2(&host, &us, 0, 16 * P, PROT_NONE), 0);
	host_guards(&host, 4 * P, 2 * P, true);
	same_views(&host, &us, "PROT_NONE");
	CHECK_EQ(mprotect2(&host, &us, 0, 16 * P, RW), 0);
	CHECK_EQ(mprotect2(&host, &us, 2 * P, 6 * P, PROT_READ), 0);
	CHECK_EQ(host_vmas(&host, 0, 16 * P), 3);
	host_guards(&host, 4 * P, 2 * P, true);
	same_views(&host, &us, "split by mprotect, each part \"gu\"");
	CHECK_EQ(mprotect2(&host, &us, 2 * P, 6 * P, RW), 0);
	CHECK_EQ(host_vmas(&host, 0, 16 * P), 1);
	faults2(&host, &us, 4 * P, true);
	same_views(&host, &us, "merged again");

	/* shared file, shared anonymous */
	map2(&host, &us, 32 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 16 * P);
	map2(&host, &us, 64 * P, 16 * P, RW, MAP_SHARED, ANON, 0);
	write2(&host, &us, 32 * P, 16 * P, 3);
	write2(&host, &us, 64 * P, 16 * P, 3);
	CHECK_EQ(madv2(&host, &us, 36 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 68 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 32 * P, 16 * P, MADV_DONTNEED), 0);
	CHECK_EQ(madv2(&host, &us, 64 * P, 16 * P, MADV_REMOVE), 0);
	CHECK_EQ(mprotect2(&host, &us, 32 * P, 16 * P, PROT_READ), 0);
	host_guards(&host, 36 * P, 2 * P, true);
	host_guards(&host, 68 * P, 2 * P, true);
	same_views(&host, &us, "shared: DONTNEED, REMOVE, mprotect");
	faults2(&host, &us, 36 * P, false);
	faults2(&host, &us, 69 * P, true);
	close_pair(&host, &us);
}

/*
 * MADV_POPULATE_(READ|WRITE) over a guard: -EFAULT, the pages before it
 * populated, none after (but those a file read fault maps around it:
 * fault-around skips the markers); after the guard, 0. PROT_NONE: -EINVAL.
 */
static void test_populate(void)
{
	struct side host, us;

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_READ), -EFAULT);
	CHECK_EQ(madv2(&host, &us, 0, 16 * P, MADV_POPULATE_WRITE), -EFAULT);
	CHECK_EQ(madv2(&host, &us, 4 * P, P, MADV_POPULATE_READ), -EFAULT);
	CHECK(pm_entry(&host, 3 * P) & PM_PRESENT);
	CHECK(!(pm_entry(&host, 6 * P) & PM_PRESENT));
	same_views(&host, &us, "anon, populated up to the guard");
	CHECK_EQ(madv2(&host, &us, 6 * P, 10 * P, MADV_POPULATE_WRITE), 0);
	same_views(&host, &us, "anon, populated after the guard");

	/* across VMAs: stops at the guard of the first */
	map2(&host, &us, 32 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 48 * P, 16 * P, PROT_READ, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 36 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 32 * P, 32 * P, MADV_POPULATE_READ), -EFAULT);
	same_views(&host, &us, "two VMAs, a guard in the first");

	/* shared anonymous, shared file */
	map2(&host, &us, 64 * P, 16 * P, RW, MAP_SHARED, ANON, 0);
	map2(&host, &us, 96 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 0);
	CHECK_EQ(madv2(&host, &us, 68 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 100 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 64 * P, 16 * P, MADV_POPULATE_WRITE), -EFAULT);
	CHECK_EQ(madv2(&host, &us, 96 * P, 16 * P, MADV_POPULATE_READ), -EFAULT);
	same_views(&host, &us, "shared, populated up to the guard");

	/* private file: the read fault at page 0 maps pages 6-15 around */
	map2(&host, &us, 128 * P, 16 * P, RW, MAP_PRIVATE, RW_FILE, 0);
	CHECK_EQ(madv2(&host, &us, 132 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 128 * P, 16 * P, MADV_POPULATE_READ), -EFAULT);
	host_guards(&host, 132 * P, 2 * P, true);
	same_views(&host, &us, "private file, POPULATE_READ");
	CHECK_EQ(madv2(&host, &us, 128 * P, 16 * P, MADV_POPULATE_WRITE), -EFAULT);
	same_views(&host, &us, "private file, POPULATE_WRITE");

	/* PROT_NONE: refused before the guard is met */
	map2(&host, &us, 160 * P, 16 * P, PROT_NONE, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 164 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 160 * P, 16 * P, MADV_POPULATE_READ), -EINVAL);
	same_views(&host, &us, "PROT_NONE");
	close_pair(&host, &us);
}

/*
 * mincore: a guard of anonymous memory is not resident; one of a file (or
 * of shared memory) is as its cache page is.
 */
static void test_mincore(void)
{
	static const uint64_t offs[] = { 0, 32 * P, 64 * P, 96 * P, 128 * P };
	struct side host, us;
	unsigned char hv[16], uv[16];

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 32 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 0);
	map2(&host, &us, 64 * P, 16 * P, RW, MAP_PRIVATE, RW_FILE, 0);
	map2(&host, &us, 96 * P, 16 * P, RW, MAP_SHARED, ANON, 0);
	map2(&host, &us, 128 * P, 16 * P, PROT_NONE, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 0, 4 * P, 1);
	write2(&host, &us, 96 * P, 16 * P, 1);
	CHECK_EQ(madv2(&host, &us, 32 * P, 16 * P, MADV_POPULATE_READ), 0);
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(madv2(&host, &us, offs[i] + 2 * P, 4 * P, MADV_GUARD_INSTALL), 0);
	for (unsigned i = 0; i < 5; i++) {
		CHECK_EQ(mincore((void *)(host.base + offs[i]), 16 * P, hv), 0);
		CHECK_EQ(umm_mincore(us.mm, us.base + offs[i], 16 * P, uv), 0);
		CHECK(!memcmp(hv, uv, 16));
		CHECK_EQ(hv[2], i == 1 || i == 2 || i == 3);
		CHECK_EQ(hv[5], i == 1 || i == 2 || i == 3);
	}
	CHECK_EQ(hv[0], 0);
	CHECK_EQ(mincore((void *)host.base, 16 * P, hv), 0);
	CHECK_EQ(hv[0] + hv[1] + hv[2] + hv[6], 2);
	close_pair(&host, &us);
}

/*
 * munmap, then mapped again: no guards, no "gu". MAP_FIXED over guards:
 * gone, but the new VMA merges with its guarded neighbours and is "gu".
 * mremap moves them (MREMAP_FIXED, MREMAP_DONTUNMAP: the old range
 * empty), keeps them when expanding in place, drops the cut ones when
 * shrinking.
 */
static void test_remap(void)
{
	struct side host, us;

	open_pair(&host, &us);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(munmap2(&host, &us, 0, 16 * P), 0);
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	host_guards(&host, 0, 16 * P, false);
	CHECK(!host_gu(&host, 0));
	same_views(&host, &us, "unmapped, mapped again");
	CHECK_EQ(madv2(&host, &us, 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	map2(&host, &us, 2 * P, 4 * P, RW, MAP_PRIVATE, ANON, 0);
	host_guards(&host, 0, 16 * P, false);
	CHECK_EQ(host_vmas(&host, 0, 16 * P), 1);
	CHECK(host_gu(&host, 0));
	same_views(&host, &us, "MAP_FIXED over the guards");

	/* mremap: moved */
	CHECK_EQ(madv2(&host, &us, 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 10 * P, P, MADV_GUARD_INSTALL), 0);
	write2(&host, &us, 0, 4 * P, 1);
	CHECK_EQ(munmap2(&host, &us, 64 * P, 64 * P), 0);
	mremap2(&host, &us, 0, 16 * P, 16 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 64 * P);
	host_guards(&host, 64 * P + 4 * P, 2 * P, true);
	host_guards(&host, 64 * P + 10 * P, P, true);
	faults2(&host, &us, 64 * P + 4 * P, true);
	same_views(&host, &us, "moved by mremap");
	/* expanded in place, shrunk, expanded again */
	mremap2(&host, &us, 64 * P, 16 * P, 20 * P, 0, 0);
	host_guards(&host, 64 * P + 10 * P, P, true);
	same_views(&host, &us, "expanded in place");
	mremap2(&host, &us, 64 * P, 20 * P, 5 * P, 0, 0);
	mremap2(&host, &us, 64 * P, 5 * P, 16 * P, 0, 0);
	host_guards(&host, 64 * P + 4 * P, P, true);
	host_guards(&host, 64 * P + 5 * P, 11 * P, false);
	same_views(&host, &us, "shrunk to 5 pages, expanded again");
	/* a part holding a guard moved out */
	mremap2(&host, &us, 64 * P + 3 * P, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED,
		100 * P);
	host_guards(&host, 100 * P + P, P, true);
	same_views(&host, &us, "a part moved");

	/* MREMAP_DONTUNMAP: the guards go with the pages; the old VMA stays "gu" */
	map2(&host, &us, 128 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 128 * P, 16 * P, 2);
	CHECK_EQ(madv2(&host, &us, 132 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(munmap2(&host, &us, 160 * P, 16 * P), 0);
	mremap2(&host, &us, 128 * P, 16 * P, 16 * P,
		MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, 160 * P);
	host_guards(&host, 128 * P, 16 * P, false);
	host_guards(&host, 164 * P, 2 * P, true);
	CHECK(host_gu(&host, 128 * P));
	same_views(&host, &us, "MREMAP_DONTUNMAP");

	/* a shared file mapping moved */
	map2(&host, &us, 192 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 0);
	CHECK_EQ(madv2(&host, &us, 196 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(munmap2(&host, &us, 224 * P, 16 * P), 0);
	mremap2(&host, &us, 192 * P, 16 * P, 16 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 224 * P);
	host_guards(&host, 228 * P, 2 * P, true);
	same_views(&host, &us, "shared file moved");
	close_pair(&host, &us);
}

/*
 * The VMA flag VM_MAYBE_GUARD ("gu"), set by an install, never cleared by
 * a remove, is sticky: VMAs merge whether they have it or not, and the
 * merged one has it. An install in anonymous memory prepares its anon_vma
 * (so it no longer merges with a VMA that has another); in a file mapping
 * it does not. A remove where there were no guards sets nothing and
 * leaves the pages.
 */
static void test_merge(void)
{
	struct side host, us;

	open_pair(&host, &us);
	/* guarded A, then B mapped next to it: one VMA */
	map2(&host, &us, 0, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 2 * P, P, MADV_GUARD_INSTALL), 0);
	map2(&host, &us, 8 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	/* installed and removed, then B */
	map2(&host, &us, 32 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 34 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 34 * P, P, MADV_GUARD_REMOVE), 0);
	map2(&host, &us, 40 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	/* B before a guarded A */
	map2(&host, &us, 72 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 74 * P, P, MADV_GUARD_INSTALL), 0);
	map2(&host, &us, 64 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(host_vmas(&host, 0, 16 * P), 1);
	CHECK_EQ(host_vmas(&host, 32 * P, 16 * P), 1);
	CHECK_EQ(host_vmas(&host, 64 * P, 16 * P), 1);
	CHECK(host_gu(&host, 0) && host_gu(&host, 32 * P) && host_gu(&host, 64 * P));
	same_views(&host, &us, "sticky \"gu\": merged");

	/* anon_vma: A (read-only, guarded) made writable next to a written B */
	map2(&host, &us, 96 * P, 8 * P, PROT_READ, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 104 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 104 * P, P, 1);
	CHECK_EQ(madv2(&host, &us, 98 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(mprotect2(&host, &us, 96 * P, 8 * P, RW), 0);
	/* the guard in the written B instead: A has no anon_vma, merges */
	map2(&host, &us, 128 * P, 8 * P, PROT_READ, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 136 * P, 8 * P, RW, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 136 * P, P, 1);
	CHECK_EQ(madv2(&host, &us, 138 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(mprotect2(&host, &us, 128 * P, 8 * P, RW), 0);
	/* a private file mapping: no anon_vma from the guard, merges */
	map2(&host, &us, 160 * P, 8 * P, PROT_READ, MAP_PRIVATE, RW_FILE, 0);
	map2(&host, &us, 168 * P, 8 * P, RW, MAP_PRIVATE, RW_FILE, 8 * P);
	write2(&host, &us, 168 * P, P, 1);
	CHECK_EQ(madv2(&host, &us, 162 * P, P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(mprotect2(&host, &us, 160 * P, 8 * P, RW), 0);
	CHECK_EQ(host_vmas(&host, 96 * P, 16 * P), 2);
	CHECK_EQ(host_vmas(&host, 128 * P, 16 * P), 1);
	CHECK_EQ(host_vmas(&host, 160 * P, 16 * P), 1);
	same_views(&host, &us, "anon_vma prepared by an install in anonymous memory only");

	/* a remove without guards: nothing */
	map2(&host, &us, 192 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	write2(&host, &us, 192 * P, 16 * P, 1);
	CHECK_EQ(madv2(&host, &us, 192 * P, 16 * P, MADV_GUARD_REMOVE), 0);
	CHECK(!host_gu(&host, 192 * P));
	CHECK_EQ(host_kb(&host, "Rss"), 4 * (3 + 16));	/* the three Bs, this */
	same_views(&host, &us, "a remove without guards");
	close_pair(&host, &us);
}

/*
 * fork: the child has the guards of every VMA it gets (all that had any
 * are "gu", whose page tables are copied whole, even those of file and
 * shared mappings, whose present pages the child then maps too); none in
 * a MADV_WIPEONFORK VMA; no VMA of a MADV_DONTFORK one. A host child
 * reports its pagemap and smaps of the window through a pipe, compared
 * with umm_fork's child.
 */
static void test_fork(void)
{
	static uint64_t ch[WPAGES];
	struct side host, us;
	struct umm_mm *child = NULL;
	int rep[2], hold[2];
	char *text, *u;
	uint32_t tlen = 0;
	bool same;
	size_t got;
	pid_t pid;

	open_pair(&host, &us);
	/* 0: anon written; 32: anon untouched; 64: wipeonfork written */
	map2(&host, &us, 0, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 32 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 64 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 64 * P, 16 * P, MADV_WIPEONFORK), 0);
	write2(&host, &us, 0, 16 * P, 1);
	write2(&host, &us, 64 * P, 16 * P, 1);
	/* 96: shared anon written; 128: private file untouched; 160: shared file written */
	map2(&host, &us, 96 * P, 16 * P, RW, MAP_SHARED, ANON, 0);
	map2(&host, &us, 128 * P, 16 * P, RW, MAP_PRIVATE, RW_FILE, 0);
	map2(&host, &us, 160 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 16 * P);
	write2(&host, &us, 96 * P, 16 * P, 1);
	write2(&host, &us, 160 * P, 16 * P, 1);
	/* 192: private file read, guards installed and removed; 224: dontfork */
	map2(&host, &us, 192 * P, 16 * P, PROT_READ, MAP_PRIVATE, RW_FILE, 0);
	CHECK_EQ(madv2(&host, &us, 192 * P, 16 * P, MADV_POPULATE_READ), 0);
	map2(&host, &us, 224 * P, 16 * P, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 224 * P, 16 * P, MADV_DONTFORK), 0);
	/* 256: PROT_NONE; 288: written, no guard (the control) */
	map2(&host, &us, 256 * P, 16 * P, PROT_NONE, MAP_PRIVATE, ANON, 0);
	map2(&host, &us, 288 * P, 16 * P, RW, MAP_SHARED, RW_FILE, 16 * P);
	CHECK_EQ(madv2(&host, &us, 288 * P, 16 * P, MADV_POPULATE_READ), 0);
	for (uint64_t o = 0; o <= 256 * P; o += 32 * P)
		CHECK_EQ(madv2(&host, &us, o + 4 * P, 2 * P, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 192 * P, 16 * P, MADV_GUARD_REMOVE), 0);
	same_views(&host, &us, "before the fork");

	CHECK_EQ(pipe(rep), 0);
	CHECK_EQ(pipe(hold), 0);
	pid = fork();
	if (pid == 0) {		/* report, then hold the pages until told */
		char c, *t;
		uint32_t n;

		close(rep[0]);
		close(hold[1]);
		read_pagemap(0, host.base, ch);
		t = smaps_window(NULL, 0, host.base, WIN, NULL);
		n = (uint32_t)strlen(t);
		(void)!write(rep[1], ch, sizeof(ch));
		(void)!write(rep[1], &n, sizeof(n));
		(void)!write(rep[1], t, n);
		close(rep[1]);
		(void)!read(hold[0], &c, 1);
		_exit(0);
	}
	CHECK(pid > 0);
	close(rep[1]);
	close(hold[0]);
	CHECK_EQ(umm_fork(us.mm, &child), 0);
	for (got = 0; got < sizeof(ch);) {
		ssize_t r = read(rep[0], (char *)ch + got, sizeof(ch) - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	CHECK_EQ(got, sizeof(ch));
	CHECK_EQ(read(rep[0], &tlen, sizeof(tlen)), (ssize_t)sizeof(tlen));
	text = calloc(1, tlen + 1);
	for (got = 0; text && got < tlen;) {
		ssize_t r = read(rep[0], text + got, tlen - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(rep[0]);

	/* the host child: guards where the parent has them, but for wipeonfork */
	for (uint64_t o = 0; o <= 256 * P; o += 32 * P) {
		uint64_t g = (o + 4 * P) / P;
		bool expect = o != 64 * P && o != 192 * P && o != 224 * P;

		CHECK_EQ((ch[g] & FLAGS_MASK) == (PM_SWAP | PM_GUARD), expect);
		CHECK_EQ((ch[g + 1] & FLAGS_MASK) == (PM_SWAP | PM_GUARD), expect);
	}
	/* its page tables copied: shared file pages present, control's not */
	CHECK(ch[160 + 8] & PM_PRESENT);
	CHECK(ch[192 + 8] & PM_PRESENT);
	CHECK(!(ch[288 + 8] & PM_PRESENT));
	CHECK(!(ch[64 + 8] & PM_PRESENT));
	same_pagemap_of(ch, child, us.base, "child");
	u = child ? smaps_window(child, 0, us.base, WIN, NULL) : NULL;
	same = text && u && !strcmp(text, u);
	if (text && u && !same) {
		printf("     smaps differ (the child):\n");
		show_diff(text, u);
		/*
		 * The file pages copied into the child's tables are old, but
		 * the host's folios carry PG_referenced (set by the reads that
		 * filled the cache), which smaps counts; umm keeps no such
		 * flag and counts young entries only.
		 */
		if (same_but_referenced(text, u) &&
		    field_kb(text, "Referenced") > field_kb(u, "Referenced")) {
			printf("     note: only the host's Referenced is larger "
			       "(PG_referenced of file folios): passed\n");
			same = true;
		}
	}
	CHECK(same);
	free(u);
	free(text);
	same_views(&host, &us, "the parent, after the fork");
	if (child) {
		CHECK_EQ(umm_fault(child, us.base + 4 * P, UMM_READ), -EFAULT);
		CHECK_EQ(umm_fault(child, us.base + 36 * P, UMM_WRITE), -EFAULT);
		CHECK_EQ(umm_fault(child, us.base + 68 * P, UMM_WRITE), 0);
	}
	close(hold[1]);
	CHECK_EQ(waitpid(pid, NULL, 0), pid);
	umm_mm_destroy(child);
	close_pair(&host, &us);
}

/* THP blocks: the host may give none (fragmented memory); then no comparison. */
static bool host_thp(struct side *host, unsigned long long kb)
{
	if (host_kb(host, "AnonHugePages") == kb)
		return true;
	printf("     note: host gave no THP, comparison skipped\n");
	return false;
}

/*
 * A guard in a THP splits its leaf (the other pages stay mapped); a block
 * that holds a guard is not collapsed (-EINVAL), and a write fault in it
 * maps a small page: its page table stays, also after a remove. A guard
 * in the next block changes nothing.
 */
static void test_thp(void)
{
	struct side host, us;
	unsigned long long thp;
	int h, u;

	open_pair(&host, &us);
	map2(&host, &us, 0, 3 * H, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 0, 3 * H, MADV_HUGEPAGE), 0);
	CHECK_EQ(madv2(&host, &us, 0, H, MADV_POPULATE_WRITE), 0);
	if (host_thp(&host, 2048)) {
		same_views(&host, &us, "a THP");
		CHECK_EQ(madv2(&host, &us, 8 * P, 2 * P, MADV_GUARD_INSTALL), 0);
		CHECK_EQ(host_kb(&host, "AnonHugePages"), 0);
		CHECK_EQ(host_kb(&host, "Rss"), 2040);
		host_guards(&host, 8 * P, 2 * P, true);
		same_views(&host, &us, "a guard in a THP");
		byte2(&host, &us, 10 * P, 0);
		CHECK_EQ(madv2(&host, &us, 0, H, MADV_COLLAPSE), -EINVAL);
		same_views(&host, &us, "collapse refused");
		CHECK_EQ(madv2(&host, &us, 8 * P, 2 * P, MADV_GUARD_REMOVE), 0);
		/* the host may find no huge page to collapse into */
		h = madv(&host, 0, H, MADV_COLLAPSE);
		u = madv(&us, 0, H, MADV_COLLAPSE);
		if (h == 0 && host_thp(&host, 2048)) {
			CHECK_EQ(u, 0);
			same_views(&host, &us, "collapsed once the guard is gone");
		} else {
			printf("     note: host collapse gave %d, comparison skipped\n", h);
		}
	}
	/* second block: a guard at page 5, a write at 100 */
	thp = host_kb(&host, "AnonHugePages");
	CHECK_EQ(madv2(&host, &us, H + 5 * P, P, MADV_GUARD_INSTALL), 0);
	write2(&host, &us, H + 100 * P, P, 1);
	CHECK_EQ(host_kb(&host, "AnonHugePages"), thp);
	same_views(&host, &us, "a write fault in a block with a guard");
	CHECK_EQ(madv2(&host, &us, H + 5 * P, P, MADV_GUARD_REMOVE), 0);
	write2(&host, &us, H + 200 * P, P, 1);
	same_views(&host, &us, "a write fault once the guard is removed");
	/* third block: whole, guarded then removed; then a write */
	CHECK_EQ(madv2(&host, &us, 2 * H, H, MADV_GUARD_INSTALL), 0);
	CHECK_EQ(madv2(&host, &us, 2 * H, H, MADV_GUARD_REMOVE), 0);
	write2(&host, &us, 2 * H + 100 * P, P, 1);
	same_views(&host, &us, "a write fault in a block guarded and removed whole");
	CHECK_EQ(madv2(&host, &us, 2 * H, H, MADV_POPULATE_WRITE), 0);
	CHECK_EQ(host_kb(&host, "AnonHugePages"), thp);
	same_views(&host, &us, "populated");
	close_pair(&host, &us);

	/* a guard in the next block only: this one gets its THP */
	open_pair(&host, &us);
	map2(&host, &us, 0, 2 * H, RW, MAP_PRIVATE, ANON, 0);
	CHECK_EQ(madv2(&host, &us, 0, 2 * H, MADV_HUGEPAGE), 0);
	CHECK_EQ(madv2(&host, &us, H, P, MADV_GUARD_INSTALL), 0);
	write2(&host, &us, 100 * P, P, 1);
	if (host_thp(&host, 2048))
		same_views(&host, &us, "a guard in the next block");
	close_pair(&host, &us);
}

/* Has the host guard regions (6.13+) and the sticky "gu" flag (6.19, or a backport)? */
static bool host_has_guards(void)
{
	/* PROT_NONE either side: the page is a VMA of its own */
	char *g = mmap(NULL, 3 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p = g + P;
	char *t;
	bool ok;

	CHECK(g != MAP_FAILED);
	CHECK(!mprotect(p, P, PROT_READ | PROT_WRITE));
	ok = !madvise(p, P, MADV_GUARD_INSTALL);
	t = smaps_window(NULL, 0, (uint64_t)(uintptr_t)p, P, NULL);
	ok = ok && t && strstr(t, " gu ");
	free(t);
	munmap(g, 3 * P);
	return ok;
}

int main(void)
{
	if (!host_has_guards()) {
		printf("skipped: the host kernel has no guard regions, or no VM_MAYBE_GUARD "
		       "to compare with\n");
		return test_done();
	}
	if (!host_maps_zero_page())
		zp_flags = UMM_NO_ZERO_PAGE;
	RUN(test_kinds);
	RUN(test_ranges);
	RUN(test_discard);
	RUN(test_access);
	RUN(test_keep);
	RUN(test_populate);
	RUN(test_mincore);
	RUN(test_remap);
	RUN(test_merge);
	RUN(test_fork);
	RUN(test_thp);
	return test_done();
}
