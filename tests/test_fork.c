// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_fork - umm_fork: copy-on-write private memory, shared memory,
 * MADV_DONTFORK/MADV_WIPEONFORK, pinned pages, merging after a fork, and
 * every frame returned when both mms go.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"

#define A	0x100000000000UL
#define P	4096UL

static uint64_t rd(struct umm_mm *mm, uint64_t addr)
{
	uint64_t v = 0;

	CHECK_EQ(umm_read(mm, addr, &v, 8), 8);
	return v;
}

static void wr(struct umm_mm *mm, uint64_t addr, uint64_t v)
{
	CHECK_EQ(umm_write(mm, addr, &v, 8), 8);
}

static int maps_lines(struct umm_mm *mm)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	umm_maps(mm, f);
	fclose(f);
	for (char *c = buf; *c; c++)
		n += *c == '\n';
	free(buf);
	return n;
}

static void test_cow(void)
{
	struct page_alloc_stats before, after;
	struct umm_mm *parent, *child;

	rcu_barrier();
	page_alloc_get_stats(&before);
	parent = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(parent, A, 64 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A);
	for (uint64_t i = 0; i < 64; i += 2)
		wr(parent, A + i * P, 1000 + i);
	CHECK_EQ(umm_fork(parent, &child), 0);
	for (uint64_t i = 0; i < 64; i += 2)
		CHECK_EQ(rd(child, A + i * P), 1000 + i);
	CHECK_EQ(rd(child, A + P), 0);
	wr(child, A, 7);		/* the child's own copy */
	CHECK_EQ(rd(parent, A), 1000);
	wr(parent, A + 2 * P, 8);	/* and the parent's */
	CHECK_EQ(rd(child, A + 2 * P), 1002);
	CHECK_EQ(rd(child, A), 7);
	wr(child, A + P, 9);		/* an untouched page stays private too */
	CHECK_EQ(rd(parent, A + P), 0);
	umm_mm_destroy(parent);
	/* the child alone now: its shared pages became its own */
	CHECK_EQ(rd(child, A + 4 * P), 1004);
	wr(child, A + 4 * P, 10);
	CHECK_EQ(rd(child, A + 4 * P), 10);
	umm_mm_destroy(child);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

static void test_shared_and_flags(void)
{
	struct umm_mm *parent = umm_mm_create(NULL), *child;
	uint64_t S = A + 0x100000, D = A + 0x200000, W = A + 0x300000, v;

	CHECK_EQ(umm_mmap(parent, S, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), S);
	CHECK_EQ(umm_mmap(parent, D, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), D);
	CHECK_EQ(umm_mmap(parent, W, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), W);
	wr(parent, S, 1);
	wr(parent, D, 2);
	wr(parent, W, 3);
	CHECK_EQ(umm_madvise(parent, D, 4 * P, MADV_DONTFORK), 0);
	CHECK_EQ(umm_madvise(parent, W, 4 * P, MADV_WIPEONFORK), 0);
	CHECK_EQ(umm_fork(parent, &child), 0);
	CHECK_EQ(rd(child, S), 1);
	wr(child, S + 8, 5);		/* shared both ways */
	CHECK_EQ(rd(parent, S + 8), 5);
	wr(parent, S + 16, 6);
	CHECK_EQ(rd(child, S + 16), 6);
	CHECK_EQ(umm_read(child, D, &v, 8), -EFAULT);	/* not in the child */
	CHECK_EQ(rd(child, W), 0);			/* wiped */
	CHECK_EQ(rd(parent, W), 3);
	CHECK_EQ(maps_lines(child), 2);
	umm_mm_destroy(child);
	CHECK_EQ(rd(parent, S + 8), 5);
	umm_mm_destroy(parent);
}

static void test_pinned_copied(void)
{
	struct umm_mm *parent = umm_mm_create(NULL), *child;
	void *p;

	CHECK_EQ(umm_mmap(parent, A, P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A);
	wr(parent, A, 11);
	CHECK_EQ(umm_pin(parent, A, 1, UMM_READ | UMM_WRITE, &p), 0);
	CHECK_EQ(umm_fork(parent, &child), 0);
	/* the pinner writes through its pointer after the fork */
	*(uint64_t *)p = 12;
	CHECK_EQ(rd(parent, A), 12);
	CHECK_EQ(rd(child, A), 11);	/* the child got a copy at fork */
	umm_unpin(parent, &p, 1);
	umm_mm_destroy(child);
	umm_mm_destroy(parent);
}

/* selftests/mm/merge.c: no merge across fork history. */
static void test_no_merge_after_fork(void)
{
	struct umm_mm *parent = umm_mm_create(NULL), *child;

	CHECK_EQ(umm_mmap(parent, A, 5 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A);
	wr(parent, A, 1);		/* faulted: it has an anon_vma */
	CHECK_EQ(umm_fork(parent, &child), 0);
	/* in the child, an unfaulted neighbour does not merge with it */
	CHECK_EQ(umm_mmap(child, A + 5 * P, 5 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A + 5 * P);
	CHECK_EQ(maps_lines(child), 2);
	/* in the parent, it does */
	CHECK_EQ(umm_mmap(parent, A + 5 * P, 5 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A + 5 * P);
	CHECK_EQ(maps_lines(parent), 1);
	umm_mm_destroy(child);
	umm_mm_destroy(parent);
}

/*
 * mremap growing a forked VMA in place up to an unfaulted neighbour merges
 * the two in the child, as Linux 6.18 does (checked on the host): the
 * kernel merges the added range as a new one carrying the VMA's anon_vma,
 * so the fork history of the VMA that grows is not asked. An unfaulted
 * VMA growing up to a forked one does not merge (the neighbour's history
 * is).
 */
static void test_mremap_grow_merge_after_fork(void)
{
	struct umm_mm *parent = umm_mm_create(NULL), *child;

	CHECK_EQ(umm_mmap(parent, A, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A);
	CHECK_EQ(umm_mmap(parent, A + 40 * P, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A + 40 * P);
	wr(parent, A, 1);
	wr(parent, A + 40 * P, 2);
	CHECK_EQ(umm_fork(parent, &child), 0);
	/* forked [A, +4P) grows to meet unfaulted [A + 8P, +4P): one VMA */
	CHECK_EQ(umm_mmap(child, A + 8 * P, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A + 8 * P);
	CHECK_EQ(umm_mremap(child, A, 4 * P, 8 * P, 0, 0), A);
	CHECK_EQ(maps_lines(child), 2);
	CHECK_EQ(rd(child, A), 1);
	wr(child, A + 10 * P, 3);
	CHECK_EQ(rd(child, A + 10 * P), 3);
	CHECK_EQ(rd(parent, A), 1);
	/* unfaulted [A + 32P, +4P) grows to meet forked [A + 40P, ...): two */
	CHECK_EQ(umm_mmap(child, A + 32 * P, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A + 32 * P);
	CHECK_EQ(umm_mremap(child, A + 32 * P, 4 * P, 8 * P, 0, 0), A + 32 * P);
	CHECK_EQ(maps_lines(child), 3);
	CHECK_EQ(rd(child, A + 40 * P), 2);
	umm_mm_destroy(child);
	umm_mm_destroy(parent);
}

/*
 * After a fork, making a page writable again with mprotect must not let
 * either side write into the page they still share (the entry was dirty
 * before the fork; dirty must not pass for "this mm's own" any more).
 */
static void test_mprotect_after_fork(void)
{
	struct umm_mm *p = umm_mm_create(NULL), *c;
	char buf[8] = "";

	CHECK_EQ(umm_mmap(p, A, P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A);
	CHECK_EQ(umm_write(p, A, "before", 7), 7);
	CHECK_EQ(umm_fork(p, &c), 0);
	CHECK_EQ(umm_mprotect(p, A, P, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
	CHECK_EQ(umm_write(p, A, "PARENT", 7), 7);
	CHECK_EQ(umm_read(c, A, buf, 7), 7);
	CHECK(!strcmp(buf, "before"));
	umm_mm_destroy(c);
	/* the other way round, from PROT_NONE */
	CHECK_EQ(umm_write(p, A, "before", 7), 7);
	CHECK_EQ(umm_mprotect(p, A, P, PROT_NONE), 0);
	CHECK_EQ(umm_fork(p, &c), 0);
	CHECK_EQ(umm_mprotect(c, A, P, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_write(c, A, "CHILD!", 7), 7);
	CHECK_EQ(umm_mprotect(p, A, P, PROT_READ), 0);
	CHECK_EQ(umm_read(p, A, buf, 7), 7);
	CHECK(!strcmp(buf, "before"));
	umm_mm_destroy(c);
	umm_mm_destroy(p);
}

/* A read pin of a page a fork shares pins this mm's own copy. */
static void test_read_pin_after_fork(void)
{
	struct umm_mm *p = umm_mm_create(NULL), *c;
	void *ptr;

	CHECK_EQ(umm_mmap(p, A, P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), A);
	wr(p, A, 1);
	CHECK_EQ(umm_mprotect(p, A, P, PROT_READ), 0);
	CHECK_EQ(umm_fork(p, &c), 0);
	CHECK_EQ(umm_pin(p, A, 1, UMM_READ, &ptr), 0);
	/* the child writes its copy: the parent's pin must not see it */
	CHECK_EQ(umm_mprotect(c, A, P, PROT_READ | PROT_WRITE), 0);
	wr(c, A, 2);
	CHECK_EQ(*(uint64_t *)ptr, 1);
	CHECK_EQ(rd(p, A), 1);
	/* and what the parent writes, its pin sees: the pinned page is its own */
	CHECK_EQ(umm_mprotect(p, A, P, PROT_READ | PROT_WRITE), 0);
	wr(p, A, 3);
	CHECK_EQ(*(uint64_t *)ptr, 3);
	umm_unpin(p, &ptr, 1);
	umm_mm_destroy(c);
	umm_mm_destroy(p);
}

/* Whether the smaps block of the VMA at @addr has "lo" in its VmFlags. */
static bool smaps_locked(FILE *f, uint64_t addr)
{
	char line[512];
	bool in = false;

	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a == addr;
		else if (in && !strncmp(line, "VmFlags:", 8))
			return strstr(line, " lo ") != NULL;
	}
	return false;
}

static bool umm_smaps_locked(struct umm_mm *mm, uint64_t addr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool locked;

	umm_smaps(mm, f);
	fclose(f);
	f = fmemopen(buf, len, "r");
	locked = smaps_locked(f, addr);
	fclose(f);
	free(buf);
	return locked;
}

/*
 * mlock is not inherited: fork's child gets the VMA without VM_LOCKED
 * (no "lo" in VmFlags, MADV_DONTNEED allowed), the parent keeps it. The
 * host's child, forked the same way, says so too.
 */
static void test_locked_not_inherited(void)
{
	struct umm_mm *p = umm_mm_create(NULL), *c;
	char *h = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	int fds[2];
	pid_t pid;

	CHECK_EQ(umm_mmap(p, A, 4 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_LOCKED, NULL, 0), A);
	wr(p, A, 1);
	CHECK(umm_smaps_locked(p, A));
	CHECK_EQ(umm_madvise(p, A, P, MADV_DONTNEED), -EINVAL);
	CHECK_EQ(umm_fork(p, &c), 0);
	CHECK(!umm_smaps_locked(c, A));
	CHECK(umm_smaps_locked(p, A));
	CHECK_EQ(umm_madvise(c, A, P, MADV_DONTNEED), 0);
	CHECK_EQ(rd(c, A), 0);
	CHECK_EQ(rd(p, A), 1);
	umm_mm_destroy(c);
	umm_mm_destroy(p);
	/* the host, where it lets us lock memory */
	if (h == MAP_FAILED || pipe(fds))
		return;
	h[0] = 1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		FILE *f = fopen("/proc/self/smaps", "r");
		char r[2] = { f && !smaps_locked(f, (uint64_t)h) ? 'u' : 'l',
			      madvise(h, P, MADV_DONTNEED) ? 'e' : '0' };

		(void)!write(fds[1], r, 2);
		_exit(0);
	}
	{
		char r[2] = "";
		FILE *f = fopen("/proc/self/smaps", "r");

		CHECK_EQ(read(fds[0], r, 2), 2);
		CHECK_EQ(r[0], 'u');	/* the host's child: not locked */
		CHECK_EQ(r[1], '0');
		CHECK(f && smaps_locked(f, (uint64_t)h));
		if (f)
			fclose(f);
	}
	CHECK_EQ(waitpid(pid, NULL, 0), pid);
	close(fds[0]);
	close(fds[1]);
	munmap(h, 4 * P);
}

static void test_fork_errors(void)
{
	struct umm_mm *mm = umm_mm_create(NULL), *child = NULL;

	CHECK_EQ(umm_fork(NULL, &child), -EINVAL);
	CHECK_EQ(umm_fork(mm, NULL), -EINVAL);
	CHECK_EQ(umm_fork(mm, &child), 0);	/* an empty mm forks too */
	CHECK(child != NULL);
	CHECK_EQ(maps_lines(child), 0);
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
}

/*
 * A 4 PiB private mapping of a 5-level mm with three pages written far
 * apart: fork, mprotect and mremap walk only what is populated, skipping
 * none entries at every level as the kernel's walks do (stepping 2 MiB at
 * a time through it took seconds; at 2^55 bytes, minutes), and still
 * carry each page.
 */
static void test_sparse_huge_range(void)
{
	struct umm_opts opts = { .pgtable_levels = 5 };
	struct umm_mm *mm = umm_mm_create(&opts), *child = NULL;
	const uint64_t len = 1UL << 52, at = 1UL << 52, to = 1UL << 54;
	const uint64_t off[] = { 0, (1UL << 40) + 4 * P, len - P };

	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, at, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, NULL, 0),
		 (int64_t)at);
	for (int i = 0; i < 3; i++)
		wr(mm, at + off[i], 100 + i);
	CHECK_EQ(umm_fork(mm, &child), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(rd(child, at + off[i]), 100 + i);
	CHECK_EQ(umm_mprotect(mm, at, len, PROT_READ), 0);
	CHECK_EQ(umm_write(mm, at + off[1], &len, 8), -EFAULT);
	CHECK_EQ(umm_mremap(mm, at, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to), (int64_t)to);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(rd(mm, to + off[i]), 100 + i);
	wr(child, at + off[2], 7);	/* the child's copy is its own */
	CHECK_EQ(rd(mm, to + off[2]), 102);
	umm_mm_destroy(child);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_cow);
	RUN(test_shared_and_flags);
	RUN(test_pinned_copied);
	RUN(test_no_merge_after_fork);
	RUN(test_mremap_grow_merge_after_fork);
	RUN(test_mprotect_after_fork);
	RUN(test_read_pin_after_fork);
	RUN(test_locked_not_inherited);
	RUN(test_fork_errors);
	RUN(test_sparse_huge_range);
	return test_done();
}
