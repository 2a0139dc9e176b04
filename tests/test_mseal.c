// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mseal - umm_mseal side by side with the host's mseal(2): the same
 * calls on a window of umm's mm and on a window of this process, then the
 * return values, the window's VMAs (bounds, rights, VmFlags with "sl")
 * and the bytes of every page (umm_read beside process_vm_readv)
 * compared. Scripted cases first (bad arguments, holes, splits and
 * merges, what a seal refuses and what it allows, what a refused munmap,
 * mmap or mremap leaves split, mprotect and madvise stopping at a sealed
 * VMA), then random sequences of mmap, munmap, mprotect, mremap, madvise,
 * writes and mseal (UMM_MSEAL_SEQUENCES, default 100; UMM_MSEAL_SEED).
 * A sealed host window can never be unmapped: each case takes a new one.
 * Last, fork: the child's VMAs stay sealed, on both sides.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "uapi_mman.h"

#ifndef SYS_mseal
#define SYS_mseal		462
#endif

#define P		4096ull
#define NPAGES		32
#define WIN		(NPAGES * P)
#define RW		(PROT_READ | PROT_WRITE)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t base, res;
};

static struct umm_mm *mm;	/* the current pair's: each its own mm */
static struct umm_opts opts;

/* ---- the calls, on either side (0 or -errno; mmap/mremap: offset) ---- */

static int64_t do_mseal(struct side *s, uint64_t off, uint64_t len, unsigned long flags)
{
	if (s->mm)
		return umm_mseal(s->mm, s->base + off, len, flags);
	return syscall(SYS_mseal, s->base + off, len, flags) ? -errno : 0;
}

static int64_t do_mmap(struct side *s, uint64_t off, uint64_t len, int prot, int flags)
{
	int64_t r;

	flags |= MAP_FIXED | MAP_ANONYMOUS;
	if (s->mm) {
		r = umm_mmap(s->mm, s->base + off, len, prot, flags, NULL, 0);
	} else {
		void *p = mmap((void *)(s->base + off), len, prot, flags, -1, 0);

		r = p == MAP_FAILED ? -errno : (int64_t)(uintptr_t)p;
	}
	return r < 0 ? r : r - (int64_t)s->base;
}

static int64_t do_munmap(struct side *s, uint64_t off, uint64_t len)
{
	return both_munmap(s->mm, s->base + off, len);
}

static int64_t do_mprotect(struct side *s, uint64_t off, uint64_t len, int prot)
{
	return both_mprotect(s->mm, s->base + off, len, prot);
}

static int64_t do_madvise(struct side *s, uint64_t off, uint64_t len, int advice)
{
	return both_madvise(s->mm, s->base + off, len, advice);
}

static int64_t do_mremap(struct side *s, uint64_t off, uint64_t olen, uint64_t nlen,
			 int flags, uint64_t noff)
{
	uint64_t na = (flags & MREMAP_FIXED) ? s->base + noff : 0;
	int64_t r;

	if (s->mm) {
		r = umm_mremap(s->mm, s->base + off, olen, nlen, flags, na);
	} else {
		void *p = mremap((void *)(s->base + off), olen, nlen, flags, (void *)na);

		r = p == MAP_FAILED ? -errno : (int64_t)(uintptr_t)p;
	}
	return r < 0 ? r : r - (int64_t)s->base;
}

/* Write one page's worth of @c at @off: bytes written or -errno. */
static int64_t do_write(struct side *s, uint64_t off, char c)
{
	char buf[P];
	struct iovec l = { buf, P }, r = { (void *)(s->base + off), P };
	ssize_t n;

	memset(buf, c, sizeof(buf));
	if (s->mm)
		return umm_write(s->mm, s->base + off, buf, P);
	n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	return n < 0 ? -errno : n;
}

/* ---- windows and comparison ---- */

/*
 * The host's windows sit far below where the process's other mappings
 * go (libraries, thread stacks, the sanitizers' own memory), each at a
 * new place: a sealed window can never be unmapped, and its unsealed
 * pages are given back, so the holes it leaves must not be where the
 * runtime maps things (an ASan run crashed in its TLS bookkeeping, one
 * run in six, while they were).
 */
#define HOST_WINDOWS	0x500000000000ull

static uint64_t host_window(uint64_t *res)
{
	static uint64_t next = HOST_WINDOWS;

	for (;;) {
		void *w = mmap((void *)next, 3 * WIN, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		next += 4 * WIN;
		if (w != MAP_FAILED) {
			*res = (uint64_t)(uintptr_t)w;
			return *res + WIN;
		}
		CHECK_EQ(errno, EEXIST);
	}
}

static void open_pair(struct side *host, struct side *us)
{
	mm = umm_mm_create(&opts);
	CHECK(mm != NULL);
	host->mm = NULL;
	us->mm = mm;
	host->base = host_window(&host->res);
	us->base = both_window(mm, WIN, WIN, &us->res);
}

/*
 * Done with a window: umm's goes with its mm; the host's goes too unless
 * sealed (then it stays for the life of the process, as sealed memory).
 */
static void close_pair(struct side *host, struct side *us)
{
	(void)us;
	umm_mm_destroy(mm);
	mm = NULL;
	/* page by page: what is not sealed goes (fewer VMAs for smaps to show) */
	if (munmap((void *)host->res, WIN * 3))
		for (uint64_t a = host->res; a < host->res + WIN * 3; a += P)
			munmap((void *)a, P);
}

/* The window's VMAs: "start-end perms offset" and VmFlags lines only. */
static char *vmas(struct side *s)
{
	char *all = smaps_window(s->mm, 0, s->base, WIN, NULL), *out = NULL, *line, *save;
	size_t size = 0;
	FILE *o = open_memstream(&out, &size);

	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strchr(line, ':') || !strncmp(line, "VmFlags:", 8))
			fprintf(o, "%s\n", line);
	fclose(o);
	free(all);
	return out;
}

static bool same(struct side *host, struct side *us, const char *what)
{
	char *h = vmas(host), *u = vmas(us);
	bool ok = !strcmp(h, u);
	char hb[P], ub[P];

	if (!ok) {
		printf("     VMAs differ (%s):\n", what);
		show_diff(h, u);
	}
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		struct iovec l = { hb, P }, r = { (void *)(host->base + pg * P), P };
		ssize_t hn = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
		int64_t un = umm_read(mm, us->base + pg * P, ub, P);

		if (hn < 0)
			hn = -errno;
		if (hn != un || (hn == (ssize_t)P && memcmp(hb, ub, P))) {
			printf("     page %llu differs (%s): host %zd, umm %lld\n",
			       (unsigned long long)pg, what, hn, (long long)un);
			ok = false;
			break;
		}
	}
	if (getenv("SHOW"))
		printf("   %s, host:\n%s   umm:\n%s", what, h, u);
	free(h);
	free(u);
	return ok;
}

/* The same call on both sides: the same result, the same window after. */
#define BOTH(call, ...) do {							\
	int64_t __h = call(&host, __VA_ARGS__), __u = call(&us, __VA_ARGS__);	\
	if (__h != __u)								\
		printf("     %s(%s): host %lld, umm %lld\n", #call, #__VA_ARGS__,	\
		       (long long)__h, (long long)__u);				\
	CHECK_EQ(__u, __h);							\
	CHECK(same(&host, &us, #call "(" #__VA_ARGS__ ")"));			\
} while (0)

/* BOTH, and the host's result must be @want (what the host was seen to do). */
#define WANT(want, call, ...) do {						\
	int64_t __w = call(&host, __VA_ARGS__);					\
	int64_t __u = call(&us, __VA_ARGS__);					\
	if (__w != (want) || __u != (want))					\
		printf("     %s(%s): host %lld, umm %lld, want %lld\n", #call,	\
		       #__VA_ARGS__, (long long)__w, (long long)__u,		\
		       (long long)(want));					\
	CHECK_EQ(__w, want);							\
	CHECK_EQ(__u, want);							\
	CHECK(same(&host, &us, #call "(" #__VA_ARGS__ ")"));			\
} while (0)

/* 16 pages [0, 16) of @prot and @flags, written (where writable) with 'a'+i. */
static void setup(struct side *host, struct side *us, int prot, int flags)
{
	struct side *s[2] = { host, us };

	for (int i = 0; i < 2; i++) {
		CHECK_EQ(do_mmap(s[i], 0, 16 * P, RW, flags), 0);
		for (uint64_t pg = 0; pg < 16; pg++)
			CHECK_EQ(do_write(s[i], pg * P, (char)('a' + pg)), (int64_t)P);
		CHECK_EQ(do_mprotect(s[i], 0, 16 * P, prot), 0);
	}
	CHECK(same(host, us, "setup"));
}

/* ---- scripted cases (each result as this host, Linux 6.18, gave it) ---- */

static void test_arguments(void)
{
	struct side host, us;

	open_pair(&host, &us);
	setup(&host, &us, RW, MAP_PRIVATE);
	WANT(-EINVAL, do_mseal, P, P, 1);
	WANT(-EINVAL, do_mseal, P + 1, P, 0);
	WANT(0, do_mseal, P, 0, 0);
	WANT(-EINVAL, do_mseal, P, UINT64_MAX, 0);
	WANT(-EINVAL, do_mseal, P, -P, 0);
	CHECK_EQ(do_munmap(&host, 16 * P, P), 0);
	CHECK_EQ(do_munmap(&us, 16 * P, P), 0);
	WANT(-ENOMEM, do_mseal, 15 * P, 2 * P, 0);	/* a hole at the end */
	CHECK_EQ(do_munmap(&host, 9 * P, P), 0);
	CHECK_EQ(do_munmap(&us, 9 * P, P), 0);
	WANT(-ENOMEM, do_mseal, 8 * P, 2 * P, 0);	/* a hole inside */
	WANT(0, do_mseal, 4 * P, 4 * P - 100, 0);	/* the length rounds up */
	WANT(0, do_mseal, 5 * P, P, 0);			/* sealed again: nothing new */
	CHECK_EQ(umm_mseal(NULL, 0, P, 0), -EINVAL);
	close_pair(&host, &us);
}

static void test_splits_merges(void)
{
	struct side host, us;

	open_pair(&host, &us);
	setup(&host, &us, RW, MAP_PRIVATE);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);		/* 0-4, 4-8 sl, 8-16 */
	WANT(0, do_mseal, 8 * P, 4 * P, 0);		/* merges: 4-12 sl */
	WANT(0, do_mseal, 2 * P, 14 * P, 0);		/* 2-16 sl */
	WANT(0, do_madvise, 4 * P, P, MADV_HUGEPAGE);	/* a split is allowed */
	WANT(0, do_madvise, 4 * P, P, MADV_NOHUGEPAGE);
	WANT(0, do_mseal, 0, 16 * P, 0);
	close_pair(&host, &us);
}

static void test_refused(void)
{
	struct side host, us;

	open_pair(&host, &us);
	setup(&host, &us, RW, MAP_PRIVATE);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);
	/* munmap from an unsealed VMA into a sealed one: split at 2, kept */
	WANT(-EPERM, do_munmap, 2 * P, 4 * P);
	WANT(-EPERM, do_munmap, 6 * P, 4 * P);		/* from inside: no split */
	WANT(-EPERM, do_munmap, 0, 16 * P);
	WANT(0, do_munmap, 9 * P, P);
	/* mprotect: to the same rights too; the VMAs before it changed */
	WANT(-EPERM, do_mprotect, 4 * P, P, RW);
	WANT(-EPERM, do_mprotect, 5 * P, 8 * P, PROT_READ);
	WANT(-EPERM, do_mprotect, 2 * P, 8 * P, PROT_READ);
	WANT(-EPERM, do_mprotect, 0, 16 * P, PROT_READ);
	/* mmap over it: the first VMA split at the start, kept */
	WANT(-EPERM, do_mmap, P, 4 * P, PROT_READ, MAP_PRIVATE);
	WANT(-EPERM, do_mmap, 5 * P, P, PROT_READ, MAP_SHARED);
	/* mremap of it, in any way, and onto it */
	WANT(-EPERM, do_mremap, 4 * P, P, 2 * P, 0, 0);
	WANT(-EPERM, do_mremap, 4 * P, 2 * P, P, 0, 0);
	WANT(-EPERM, do_mremap, 4 * P, P, P, 0, 0);
	WANT(-EPERM, do_mremap, 4 * P, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 20 * P);
	WANT(-EPERM, do_mremap, 4 * P, 4 * P, 4 * P,
	     MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	WANT(-EPERM, do_mremap, 10 * P, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 5 * P);
	WANT(-EPERM, do_mremap, 11 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 2 * P);
	WANT(2 * P, do_mremap, 10 * P, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 2 * P);
	/* several VMAs moved at once stop at the sealed one */
	WANT(-EPERM, do_mremap, 0, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 20 * P);
	/* writable anonymous memory may still be discarded */
	WANT(0, do_madvise, 4 * P, 4 * P, MADV_DONTNEED);
	WANT(0, do_madvise, 4 * P, P, MADV_FREE);
	WANT(0, do_madvise, 4 * P, P, MADV_DONTFORK);
	WANT(0, do_madvise, 4 * P, P, MADV_WIPEONFORK);
	WANT(0, do_madvise, 5 * P, P, MADV_GUARD_INSTALL);
	WANT(0, do_madvise, 5 * P, P, MADV_GUARD_REMOVE);
	close_pair(&host, &us);
}

static void test_read_only_anon(void)
{
	static const int refused[] = {
		MADV_DONTNEED, MADV_FREE, MADV_DONTFORK, MADV_WIPEONFORK,
		MADV_GUARD_INSTALL, MADV_REMOVE, MADV_DONTNEED_LOCKED,
	};
	static const int allowed[] = {
		MADV_COLD, MADV_DOFORK, MADV_KEEPONFORK, MADV_DODUMP, MADV_DONTDUMP,
		MADV_GUARD_REMOVE, MADV_POPULATE_READ, MADV_NORMAL, MADV_RANDOM,
		MADV_SEQUENTIAL, MADV_WILLNEED, MADV_HUGEPAGE,
	};
	struct side host, us;

	open_pair(&host, &us);
	setup(&host, &us, PROT_READ, MAP_PRIVATE);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);
	/* the VMA before the sealed one is discarded, then it stops */
	WANT(-EPERM, do_madvise, 0, 16 * P, MADV_DONTNEED);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		WANT(-EPERM, do_madvise, 4 * P, P, refused[i]);
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		WANT(0, do_madvise, 4 * P, P, allowed[i]);
	close_pair(&host, &us);

	/* PROT_NONE refuses too; write-only allows */
	open_pair(&host, &us);
	setup(&host, &us, PROT_NONE, MAP_PRIVATE);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);
	WANT(-EPERM, do_madvise, 4 * P, P, MADV_DONTNEED);
	close_pair(&host, &us);
	open_pair(&host, &us);
	setup(&host, &us, PROT_WRITE, MAP_PRIVATE);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);
	WANT(0, do_madvise, 4 * P, P, MADV_DONTNEED);
	close_pair(&host, &us);

	/* shared anonymous memory is a file: its pages may go */
	open_pair(&host, &us);
	setup(&host, &us, PROT_READ, MAP_SHARED);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);
	WANT(0, do_madvise, 4 * P, P, MADV_DONTNEED);
	WANT(0, do_madvise, 4 * P, P, MADV_REMOVE);
	WANT(-EINVAL, do_madvise, 4 * P, P, MADV_WIPEONFORK);
	close_pair(&host, &us);
}

/* The child of a fork keeps the seals: on the host, and umm_fork's child. */
static void test_fork(void)
{
	struct side host, us, uchild;
	struct umm_mm *child;
	int status;
	pid_t pid;

	open_pair(&host, &us);
	setup(&host, &us, RW, MAP_PRIVATE);
	WANT(0, do_mseal, 4 * P, 4 * P, 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(munmap((void *)(host.base + 4 * P), P) == -1 && errno == EPERM ? 0 : 1);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(umm_fork(mm, &child), 0);
	uchild = (struct side){ child, us.base, us.res };
	CHECK_EQ(do_munmap(&uchild, 4 * P, P), -EPERM);
	CHECK_EQ(do_mprotect(&uchild, 4 * P, P, PROT_READ), -EPERM);
	CHECK_EQ(do_mmap(&uchild, 2 * P, 4 * P, RW, MAP_PRIVATE), -EPERM);
	CHECK_EQ(do_mseal(&uchild, 0, 16 * P, 0), 0);
	CHECK_EQ(do_munmap(&uchild, 0, P), -EPERM);
	umm_mm_destroy(child);
	/* the parent's own VMAs were not sealed by the child's call */
	WANT(0, do_munmap, 0, P);
	close_pair(&host, &us);
}

/* ---- random sequences ---- */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const int prots[] = { PROT_NONE, PROT_READ, RW, PROT_WRITE };
static const int advices[] = {
	MADV_DONTNEED, MADV_FREE, MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK,
	MADV_KEEPONFORK, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE, MADV_HUGEPAGE,
	MADV_NOHUGEPAGE, MADV_COLD, MADV_REMOVE, MADV_DONTNEED_LOCKED,
	MADV_POPULATE_READ,
};

/*
 * One random call on both sides. Lengths stay inside the window; mremap
 * moves only to MREMAP_FIXED places in it (a free choice of place is the
 * two sides' own).
 */
static bool random_op(struct side *host, struct side *us, uint64_t *s, char *what,
		      size_t wsize)
{
	uint64_t off = rnd(s) % NPAGES, len = 1 + rnd(s) % 8, off2 = rnd(s) % NPAGES;
	int prot = prots[rnd(s) % ARRAY_SIZE(prots)];
	int64_t h, u;

	if (off + len > NPAGES)
		len = NPAGES - off;
	if (off2 + len > NPAGES)
		off2 = NPAGES - len;
	off *= P;
	len *= P;
	off2 *= P;
	switch (rnd(s) % 9) {
	case 0: {
		int flags = rnd(s) % 4 ? MAP_PRIVATE : MAP_SHARED;

		snprintf(what, wsize, "mmap(%#llx, %#llx, %d, %#x)", (unsigned long long)off,
			 (unsigned long long)len, prot, flags);
		h = do_mmap(host, off, len, prot, flags);
		u = do_mmap(us, off, len, prot, flags);
		break;
	}
	case 1:
		snprintf(what, wsize, "munmap(%#llx, %#llx)", (unsigned long long)off,
			 (unsigned long long)len);
		h = do_munmap(host, off, len);
		u = do_munmap(us, off, len);
		break;
	case 2:
		snprintf(what, wsize, "mprotect(%#llx, %#llx, %d)", (unsigned long long)off,
			 (unsigned long long)len, prot);
		h = do_mprotect(host, off, len, prot);
		u = do_mprotect(us, off, len, prot);
		break;
	case 3: {
		static const int fl[] = { 0, MREMAP_MAYMOVE | MREMAP_FIXED,
					  MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP };
		int flags = fl[rnd(s) % 3];
		uint64_t nlen = flags & MREMAP_DONTUNMAP ? len : P * (1 + rnd(s) % 8);

		if (flags && off2 + nlen > WIN)
			nlen = WIN - off2;
		if (!flags && off + nlen > WIN)
			nlen = WIN - off;
		snprintf(what, wsize, "mremap(%#llx, %#llx, %#llx, %d, %#llx)",
			 (unsigned long long)off, (unsigned long long)len,
			 (unsigned long long)nlen, flags, (unsigned long long)off2);
		h = do_mremap(host, off, len, nlen, flags, off2);
		u = do_mremap(us, off, len, nlen, flags, off2);
		break;
	}
	case 4:
	case 5: {
		int advice = advices[rnd(s) % ARRAY_SIZE(advices)];

		snprintf(what, wsize, "madvise(%#llx, %#llx, %d)", (unsigned long long)off,
			 (unsigned long long)len, advice);
		h = do_madvise(host, off, len, advice);
		u = do_madvise(us, off, len, advice);
		break;
	}
	case 6:
	case 7: {
		char c = (char)('A' + rnd(s) % 26);

		snprintf(what, wsize, "write(%#llx, '%c')", (unsigned long long)off, c);
		h = do_write(host, off, c);
		u = do_write(us, off, c);
		break;
	}
	default:
		snprintf(what, wsize, "mseal(%#llx, %#llx)", (unsigned long long)off,
			 (unsigned long long)len);
		h = do_mseal(host, off, len, 0);
		u = do_mseal(us, off, len, 0);
		break;
	}
	if (h != u)
		printf("     %s: host %lld, umm %lld\n", what, (long long)h, (long long)u);
	return h == u;
}

static void test_random(void)
{
	const char *e = getenv("UMM_MSEAL_SEQUENCES"), *se = getenv("UMM_MSEAL_SEED");
	unsigned long n = e ? strtoul(e, NULL, 0) : 100, bad = 0, sealed = 0, eperm = 0;
	uint64_t seed0 = se ? strtoull(se, NULL, 0) : 0x5eed;

	for (unsigned long i = 0; i < n && bad < 3; i++) {
		uint64_t s = seed0 + i * 0x9e3779b97f4a7c15ull;
		struct side host, us;
		char what[128], last[16][128];

		if (!s)
			s = 1;
		open_pair(&host, &us);
		CHECK_EQ(do_mmap(&host, 0, WIN, RW, MAP_PRIVATE), 0);
		CHECK_EQ(do_mmap(&us, 0, WIN, RW, MAP_PRIVATE), 0);
		for (int op = 0; op < 40; op++) {
			bool ok = random_op(&host, &us, &s, what, sizeof(what));

			snprintf(last[op % 16], sizeof(last[0]), "%s", what);
			sealed += !strncmp(what, "mseal", 5);
			if (ok && !same(&host, &us, what))
				ok = false;
			if (!ok) {
				printf("     sequence %lu (UMM_MSEAL_SEED=%#llx "
				       "UMM_MSEAL_SEQUENCES=1 reproduces it), op %d; the last calls:\n",
				       i, (unsigned long long)(seed0 + i * 0x9e3779b97f4a7c15ull), op);
				for (int k = op > 15 ? op - 15 : 0; k <= op; k++)
					printf("       %s\n", last[k % 16]);
				bad++;
				CHECK(false);
				break;
			}
		}
		eperm += do_munmap(&host, 0, WIN) == -EPERM;
		close_pair(&host, &us);
	}
	printf("     %lu sequences of 40 calls, %lu mseal calls, %lu windows left sealed\n",
	       n, sealed, eperm);
}

int main(void)
{
	if (syscall(SYS_mseal, 0, 0, 0)) {
		printf("skip: the host has no mseal(2) (%s)\n", strerror(errno));
		return 0;
	}
	if (!host_maps_zero_page())
		opts.flags |= UMM_NO_ZERO_PAGE;
	RUN(test_arguments);
	RUN(test_splits_merges);
	RUN(test_refused);
	RUN(test_read_only_anon);
	RUN(test_fork);
	RUN(test_random);
	return test_done();
}
