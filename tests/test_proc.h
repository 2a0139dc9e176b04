/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_proc.h - for tests that run umm beside the host kernel: one
 * umm_vmstat counter, the smaps blocks of a window cut so that umm's and
 * the host's compare byte for byte (and their differences shown), two
 * facts about the host, and the calls both sides share.
 */
#ifndef UMM_TEST_PROC_H
#define UMM_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"

/* One counter from umm_vmstat(), or -1 when it is not printed. */
static inline long long umm_vmstat_value(struct umm_mm *mm, const char *name)
{
	char buf[8192] = "", key[80];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	const char *p;
	size_t n;

	if (!f)
		return -1;
	if (umm_vmstat(mm, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	n = (size_t)snprintf(key, sizeof(key), "%s ", name);
	for (p = buf; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, key, n))
			return atoll(p + n);
		if (!strchr(p, '\n'))
			break;
	}
	return -1;
}

/*
 * The smaps blocks of the VMAs inside [base, base + len), of @mm, or of
 * host process @pid (0: this one) when @mm is NULL; the header line cut
 * to "start-end perms offset", addresses relative to @base (device, inode
 * and name differ by nature). @skip, if set, leaves out a VMA given its
 * bounds relative to @base. Return: a malloc'd text.
 */
static inline char *smaps_window(struct umm_mm *mm, pid_t pid, uint64_t base, uint64_t len,
				 bool (*skip)(uint64_t start, uint64_t end))
{
	char *raw = NULL, *out = NULL, line[512];
	size_t rsize = 0, osize = 0;
	FILE *f, *o = open_memstream(&out, &osize);
	bool in = false;

	if (mm) {
		f = open_memstream(&raw, &rsize);
		CHECK(f && umm_smaps(mm, f) == 0);
		fclose(f);
		f = fmemopen(raw, rsize, "r");
	} else {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/smaps", pid ? pid : getpid());
		f = fopen(path, "r");
	}
	CHECK(f && o);
	while (f && o && fgets(line, sizeof(line), f)) {
		unsigned long long a, b, off;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx", &a, &b, perms, &off) == 4 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= base && b <= base + len &&
			     !(skip && skip(a - base, b - base));
			if (in)
				fprintf(o, "%llx-%llx %s %08llx\n", a - base, b - base,
					perms, off);
			continue;
		}
		if (in)
			fputs(line, o);
	}
	if (f)
		fclose(f);
	fclose(o);
	free(raw);
	return out;
}

/*
 * Does a read fault of fresh anonymous memory map the zero page on the
 * host? Not on every host (mm_forbids_zeropage): tests then run umm with
 * UMM_NO_ZERO_PAGE.
 */
static inline bool host_maps_zero_page(void)
{
	const long pg = sysconf(_SC_PAGESIZE);
	uint64_t e = 0;
	char *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	CHECK(p != MAP_FAILED && fd >= 0);
	(void)*(volatile char *)p;
	CHECK_EQ(pread(fd, &e, 8, (off_t)((uintptr_t)p / (uintptr_t)pg * 8)), 8);
	close(fd);
	munmap(p, (size_t)pg);
	return !(e & (1ull << 56));	/* exclusive: a page of its own */
}

/*
 * The host marks MADV_FREEd pages lazily freeable through a per-CPU batch,
 * so that smaps shows them only once that CPU's batches are drained. Call
 * it before the MADV_FREE too: a page still in another CPU's batch of new
 * pages is not on the LRU yet, and the lazy-free batch passes over it
 * (test_pagemap showed LazyFree 0 once, on a loaded machine). The drain
 * runs on every CPU in turn, this thread pinned there: a MADV_FREE drains
 * the batches of the CPU it runs on (madvise_free_single_vma's
 * lru_add_drain, the mlock batch too), and a batch stuck on the CPU the
 * thread left was seen to keep LazyFree at 0 through every retry of
 * settle_host (CI). The munmap alone did not drain the mlock batch on
 * 6.18: the munlock another process's munmap or exit queued stayed
 * pending, the page still mlocked (/proc/kpageflags). mlock() is kept
 * besides. As raw system calls: the sanitizers make mlock() a no-op.
 */
static inline void drain_host_lazyfree(void)
{
	static char one[4096] __attribute__((aligned(4096)));
	cpu_set_t old, one_cpu;

	CHECK_EQ(syscall(SYS_mlock, one, sizeof(one)), 0);
	CHECK_EQ(syscall(SYS_munlock, one, sizeof(one)), 0);
	if (sched_getaffinity(0, sizeof(old), &old))
		return;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		long p;

		if (!CPU_ISSET(cpu, &old))
			continue;
		CPU_ZERO(&one_cpu);
		CPU_SET(cpu, &one_cpu);
		if (sched_setaffinity(0, sizeof(one_cpu), &one_cpu))
			continue;
		p = syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != -1) {
			*(volatile char *)p = 1;
			syscall(SYS_madvise, p, 4096, MADV_FREE);
			syscall(SYS_munmap, p, 4096);
		}
	}
	sched_setaffinity(0, sizeof(old), &old);
}

/*
 * The host marks lazily freeable pages and reclaims through per-CPU LRU
 * batches, and a page that is off the LRU at that moment (in another
 * CPU's batch, or isolated a while by the kernel itself) is passed over:
 * the advice did less than on a settled host, now and then, even after a
 * drain (seen in CI: LazyFree 0 kB against umm's 12). umm has no batches.
 * Where a test compares with the host's settled state, it gives the host
 * the same advice again, which changes nothing the first one did, until
 * the two sides agree (@agree), at most 4 times, each time noted.
 */
static inline void settle_host(bool (*agree)(void *), void (*redo)(void *),
			       void *arg, const char *what)
{
	for (int i = 0; i < 4 && !agree(arg); i++) {
		printf("     note: the host passed pages over (%s): advised again\n", what);
		drain_host_lazyfree();
		redo(arg);
		drain_host_lazyfree();
	}
}

/*
 * Does the host have swap? Its MADV_PAGEOUT would then page out what umm,
 * which has none, keeps: tests that compare pageout skip.
 */
static inline bool host_has_swap(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	int lines = 0;

	while (f && fgets(line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	return lines > 1;	/* the header, then one line per area */
}

/* The lines where @a (the host's) and @b (umm's) differ, each under its block's header. */
static inline void show_diff(const char *a, const char *b)
{
	char hdr[128] = "";

	while (*a || *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if (la != lb || memcmp(a, b, la))
			printf("     in %s:\n       host: %.*s\n       umm:  %.*s\n", hdr,
			       (int)la, a, (int)lb, b);
		else if (la && !memchr(a, ':', la))	/* "start-end perms offset" */
			snprintf(hdr, sizeof(hdr), "%.*s", (int)la, a);
		a += la + !!a[la];
		b += lb + !!b[lb];
	}
}

/*
 * The smaps blocks of two windows of @len bytes, the host's at @hbase and
 * umm's (@mm) at @ubase, agree byte for byte: CHECKed, the differences
 * shown (both texts printed with SHOW set).
 */
static inline void same_smaps_windows(uint64_t hbase, struct umm_mm *mm, uint64_t ubase,
				      uint64_t len, const char *what)
{
	char *h = smaps_window(NULL, 0, hbase, len, NULL);
	char *u = smaps_window(mm, 0, ubase, len, NULL);
	bool same = h && u && !strcmp(h, u);

	if (h && u && !same) {
		printf("     smaps differ (%s):\n", what);
		show_diff(h, u);
	}
	if (getenv("SHOW"))
		printf("   %s, host:\n%s   umm:\n%s", what, h ? h : "", u ? u : "");
	CHECK(same);
	free(h);
	free(u);
}

/*
 * @n pagemap entries, the host's @h and umm's @u, agree in their flag
 * bits 56-63: CHECKed, the first differences shown.
 */
static inline void same_pagemap_flags(const uint64_t *h, const uint64_t *u, uint64_t n,
				      const char *what)
{
	const uint64_t flags = ~((1ull << 56) - 1);
	unsigned bad = 0;

	for (uint64_t p = 0; p < n; p++) {
		if ((h[p] & flags) == (u[p] & flags))
			continue;
		if (bad++ < 8)
			printf("     %s, page %4llu: host %016llx umm %016llx\n", what,
			       (unsigned long long)p, (unsigned long long)h[p],
			       (unsigned long long)u[p]);
	}
	CHECK_EQ(bad, 0);
}

/*
 * As same_pagemap_flags, for @n pages of this process at @hbase and of
 * umm's @mm at @ubase. @buf: room for 2 * @n entries.
 */
static inline void same_pagemap_windows(uint64_t hbase, struct umm_mm *mm, uint64_t ubase,
					uint64_t n, uint64_t *buf, const char *what)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, buf, n * 8, (off_t)(hbase / 4096 * 8)), (ssize_t)(n * 8));
	close(fd);
	CHECK_EQ(umm_pagemap(mm, ubase, n, buf + n), 0);
	same_pagemap_flags(buf, buf + n, n, what);
}

/* @a and @b, but for their Referenced lines. */
static inline bool same_but_referenced(const char *a, const char *b)
{
	while (*a || *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");

		if ((la != lb || memcmp(a, b, la)) &&
		    (strncmp(a, "Referenced:", 11) || strncmp(b, "Referenced:", 11)))
			return false;
		a += la + !!a[la];
		b += lb + !!b[lb];
	}
	return true;
}

/* Sum of one smaps field (in kB) over the blocks of @text. */
static inline unsigned long long field_kb(const char *text, const char *name)
{
	unsigned long long sum = 0, v;
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, name, n) && p[n] == ':' &&
		    sscanf(p + n + 1, "%llu", &v) == 1)
			sum += v;
	return sum;
}

/*
 * Side by side: the same call on umm's mm @mm, or on this process (the
 * host kernel) when @mm is NULL. Return: 0 or -errno, as umm's calls.
 */
static inline int both_madvise(struct umm_mm *mm, uint64_t addr, uint64_t len, int advice)
{
	if (mm)
		return umm_madvise(mm, addr, len, advice);
	return madvise((void *)addr, len, advice) ? -errno : 0;
}

/*
 * A host file in /tmp (already unlinked) of @pages pages, page i filled
 * with the byte i + 1 and written back (its cache pages clean, as umm's
 * read from it are). *@rofd, if given: the file opened read-only too.
 * Return: its fd, read-write.
 */
static inline int host_test_file(const char *name, unsigned pages, int *rofd)
{
	char path[64], page[4096];
	int fd;

	snprintf(path, sizeof(path), "/tmp/%s_XXXXXX", name);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (rofd) {
		*rofd = open(path, O_RDONLY);
		CHECK(*rofd >= 0);
	}
	unlink(path);
	for (unsigned i = 0; i < pages; i++) {
		memset(page, (int)i + 1, sizeof(page));
		CHECK_EQ(pwrite(fd, page, sizeof(page), (off_t)i * 4096), (ssize_t)sizeof(page));
	}
	CHECK_EQ(fsync(fd), 0);
	return fd;
}

/*
 * The same advice at @off of the host's window at @hbase and of umm's
 * (@mm) at @ubase: umm must answer as the host (CHECKed).
 * Return: the host's answer.
 */
static inline int madvise_pair(uint64_t hbase, struct umm_mm *mm, uint64_t ubase,
			       uint64_t off, uint64_t len, int advice)
{
	int h = both_madvise(NULL, hbase + off, len, advice);
	int u = both_madvise(mm, ubase + off, len, advice);

	CHECK_EQ(u, h);
	return h;
}

static inline int both_mprotect(struct umm_mm *mm, uint64_t addr, uint64_t len, int prot)
{
	if (mm)
		return umm_mprotect(mm, addr, len, prot);
	return mprotect((void *)addr, len, prot) ? -errno : 0;
}

static inline int both_munmap(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	if (mm)
		return umm_munmap(mm, addr, len);
	return munmap((void *)addr, len) ? -errno : 0;
}

/* Read (fault in) and write one byte, on either side. */
static inline void both_read_byte(struct umm_mm *mm, uint64_t addr)
{
	char c;

	if (mm)
		CHECK_EQ(umm_read(mm, addr, &c, 1), 1);
	else
		c = *(volatile char *)addr;
	(void)c;
}

static inline void both_write_byte(struct umm_mm *mm, uint64_t addr, char c)
{
	if (mm)
		CHECK_EQ(umm_write(mm, addr, &c, 1), 1);
	else
		*(volatile char *)addr = c;
}

/*
 * A window of @len bytes aligned to @align, reserved PROT_NONE with
 * @align of guard either side, on either side (@mm NULL: the host).
 * Return: the window's start; *@res the reservation's.
 */
static inline uint64_t both_window(struct umm_mm *mm, uint64_t len, uint64_t align,
				   uint64_t *res)
{
	if (mm) {
		int64_t r = umm_mmap(mm, 0, len + 2 * align, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);

		CHECK(r > 0);
		*res = (uint64_t)r;
	} else {
		void *w = mmap(NULL, len + 2 * align, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(w != MAP_FAILED);
		*res = (uint64_t)(uintptr_t)w;
	}
	return (*res + align) & ~(align - 1);
}

/* [addr, addr + len) reserved again, PROT_NONE, on either side. */
static inline void both_reserve(struct umm_mm *mm, uint64_t addr, uint64_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

	if (mm)
		CHECK_EQ(umm_mmap(mm, addr, len, PROT_NONE, flags, NULL, 0), (int64_t)addr);
	else
		CHECK(mmap((void *)addr, len, PROT_NONE, flags, -1, 0) == (void *)addr);
}

#endif /* UMM_TEST_PROC_H */
