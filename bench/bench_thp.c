// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_thp - what THPs cost to make and to use, umm beside the host kernel
 * in the same process and run (runs interleaved, umm then host):
 *
 *  - MADV_COLLAPSE of one 2 MiB block of private anonymous memory whose
 *    512 pages were written (khugepaged's collapse_huge_page);
 *  - MADV_COLLAPSE of one 2 MiB block of a memfd (umm_file_create) mapped
 *    shared once, and mapped twice (the second mapping's table is
 *    retracted too: collapse_file + retract_page_tables, seed 003);
 *  - the first read of a collapsed memfd block through a new mapping (one
 *    PMD leaf: do_set_pmd), mmap and munmap included;
 *  - mprotect of a PMD-mapped anonymous THP, read-only and back
 *    (change_huge_pmd: one entry instead of 512).
 *
 * Only the call named is timed (the setup around it is not), once per
 * block; the figure is the median over runs of the mean per call.
 *
 * Usage: bench_thp [--quick]   (--quick: a smoke run for make check; its
 * numbers mean nothing)
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "bench.h"
#include "uapi_mman.h"

#define PG		4096ull
#define HPAGE		(2ull << 20)
#define BLOCKS_FULL	16
#define BLOCKS_QUICK	1
#define UMM_BASE	0x7f0000000000ull

static const struct bench_opts *opts;
static unsigned int blocks;		/* 2 MiB blocks per run */
static uint64_t errors;

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_thp: %s: %s\n", what, strerror(err));
	errors++;
	return 1;
}

/* ---- one side of a row: setup, the timed call, teardown, per block ---- */

enum work {
	ANON_COLLAPSE,
	SHMEM_COLLAPSE,
	SHMEM_COLLAPSE_TWICE,
	SHMEM_PMD_READ,
	ANON_MPROTECT,
};

struct side {
	bool host;
	enum work work;
	struct umm_mm *mm;		/* umm */
	struct umm_file *file;		/* umm: the memfd-like file */
	int fd;				/* host: the memfd */
	char *win;			/* host: a 2 MiB-aligned window */
	char *win_base;			/* host: the window's reservation */
};

/* ---- host ---- */

static char *host_map(struct side *s, uint64_t off, int flags, int fd)
{
	char *p = mmap(s->win + off, HPAGE, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);

	if (p == MAP_FAILED) {
		fail("mmap", errno);
		return NULL;
	}
	return p;
}

/*
 * Unmap a block by putting the window's reservation back over it: a hole
 * left in the window could be given to anything (a new thread's stack)
 * that the next MAP_FIXED mapping there would then destroy.
 */
static void host_unmap(char *p)
{
	if (mmap(p, HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		fail("mmap PROT_NONE", errno);
}

static void host_fill(char *p)
{
	for (uint64_t o = 0; o < HPAGE; o += PG)
		((volatile char *)p)[o] = 1;
}

/*
 * The host's MADV_COLLAPSE fails with EAGAIN when it cannot get a huge
 * page at that moment or a page is busy: up to four tries, the time of the
 * one that worked (@ns, if wanted), and a count for the notes.
 */
static uint64_t host_eagain;

static void host_collapse(char *p, uint64_t *ns)
{
	for (int tries = 0;; tries++) {
		uint64_t t0 = bench_now_ns();
		int r = madvise(p, HPAGE, MADV_COLLAPSE);
		uint64_t t1 = bench_now_ns();

		if (ns)
			*ns = t1 - t0;
		if (!r)
			return;
		if (errno != EAGAIN || tries == 3) {
			fail("host MADV_COLLAPSE", errno);
			return;
		}
		host_eagain++;
	}
}

static uint64_t host_block(struct side *s)
{
	bool shmem = s->work != ANON_COLLAPSE && s->work != ANON_MPROTECT;
	int flags = shmem ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
	char *p, *q = NULL;
	uint64_t t0, t1 = 0;

	if (shmem && ftruncate(s->fd, 0) | ftruncate(s->fd, (off_t)HPAGE))
		return fail("ftruncate", errno), 0;
	p = host_map(s, 0, flags, shmem ? s->fd : -1);
	if (!p)
		return 0;
	if (s->work == ANON_MPROTECT)
		madvise(p, HPAGE, MADV_HUGEPAGE);
	host_fill(p);
	if (s->work == SHMEM_COLLAPSE_TWICE) {
		q = host_map(s, HPAGE, flags, s->fd);
		if (q)
			host_fill(q);
	}
	if (s->work == SHMEM_PMD_READ) {
		host_collapse(p, NULL);
		host_unmap(p);
		t0 = bench_now_ns();
		p = host_map(s, 0, flags, s->fd);
		if (p) {
			bench_use(((volatile char *)p)[0]);
			host_unmap(p);
		}
		return bench_now_ns() - t0;
	}
	if (s->work == ANON_MPROTECT) {
		t0 = bench_now_ns();
		if (mprotect(p, HPAGE, PROT_READ) | mprotect(p, HPAGE, PROT_READ | PROT_WRITE))
			fail("mprotect", errno);
		t1 = bench_now_ns() - t0;
	} else {
		host_collapse(p, &t1);
	}
	host_unmap(p);
	if (q)
		host_unmap(q);
	return t1;
}

/* ---- umm ---- */

static int64_t umm_map(struct side *s, uint64_t off, int flags, struct umm_file *f)
{
	int64_t p = umm_mmap(s->mm, UMM_BASE + off, HPAGE, PROT_READ | PROT_WRITE,
			     flags | MAP_FIXED, f, 0);

	if (p < 0)
		fail("umm_mmap", (int)-p);
	return p;
}

static void umm_fill(struct side *s, int64_t p)
{
	const char one = 1;

	for (uint64_t o = 0; o < HPAGE; o += PG)
		if (umm_write(s->mm, (uint64_t)p + o, &one, 1) != 1)
			errors++;
}

static uint64_t umm_block(struct side *s)
{
	bool shmem = s->work != ANON_COLLAPSE && s->work != ANON_MPROTECT;
	int flags = shmem ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS;
	int64_t p, q = -1;
	uint64_t t0, t1;
	char c;
	int err;

	if (shmem && (umm_file_truncate(s->file, 0) || umm_file_truncate(s->file, HPAGE)))
		return fail("umm_file_truncate", EINVAL), 0;
	p = umm_map(s, 0, flags, shmem ? s->file : NULL);
	if (p < 0)
		return 0;
	if (s->work == ANON_MPROTECT)
		umm_madvise(s->mm, (uint64_t)p, HPAGE, MADV_HUGEPAGE);
	umm_fill(s, p);
	if (s->work == SHMEM_COLLAPSE_TWICE) {
		q = umm_map(s, HPAGE, flags, s->file);
		if (q >= 0)
			umm_fill(s, q);
	}
	if (s->work == SHMEM_PMD_READ) {
		err = umm_madvise(s->mm, (uint64_t)p, HPAGE, MADV_COLLAPSE);
		if (err)
			fail("umm MADV_COLLAPSE", -err);
		umm_munmap(s->mm, (uint64_t)p, HPAGE);
		t0 = bench_now_ns();
		p = umm_map(s, 0, flags, s->file);
		if (umm_read(s->mm, (uint64_t)p, &c, 1) != 1)
			errors++;
		umm_munmap(s->mm, (uint64_t)p, HPAGE);
		return bench_now_ns() - t0;
	}
	t0 = bench_now_ns();
	if (s->work == ANON_MPROTECT) {
		if (umm_mprotect(s->mm, (uint64_t)p, HPAGE, PROT_READ) ||
		    umm_mprotect(s->mm, (uint64_t)p, HPAGE, PROT_READ | PROT_WRITE))
			errors++;
	} else {
		err = umm_madvise(s->mm, (uint64_t)p, HPAGE, MADV_COLLAPSE);
		if (err)
			fail("umm MADV_COLLAPSE", -err);
	}
	t1 = bench_now_ns();
	umm_munmap(s->mm, (uint64_t)p, HPAGE);
	if (q >= 0)
		umm_munmap(s->mm, (uint64_t)q, HPAGE);
	return t1 - t0;
}

/* ---- rows ---- */

/* One run of a side: @blocks blocks, the mean time of the timed call. */
static double side_run(struct side *s)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < blocks; i++)
		sum += s->host ? host_block(s) : umm_block(s);
	return (double)sum / blocks;
}

static int side_open(struct side *s, bool host, enum work work)
{
	memset(s, 0, sizeof(*s));
	s->host = host;
	s->work = work;
	s->fd = -1;
	if (host) {
		char *w = mmap(NULL, 4 * HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (w == MAP_FAILED)
			return fail("mmap window", errno);
		s->win = (char *)(((uint64_t)w + HPAGE - 1) & ~(HPAGE - 1));
		s->win_base = w;
		s->fd = memfd_create("bench_thp", 0);
		return s->fd < 0 ? fail("memfd_create", errno) : 0;
	}
	s->mm = umm_mm_create(NULL);
	if (!s->mm)
		return fail("umm_mm_create", errno);
	s->file = umm_file_create("bench_thp", HPAGE, 0);
	return s->file ? 0 : fail("umm_file_create", errno);
}

static void side_close(struct side *s)
{
	if (s->host) {
		if (s->fd >= 0)
			close(s->fd);
		if (s->win_base)
			munmap(s->win_base, 4 * HPAGE);
		return;
	}
	if (s->file)
		umm_file_put(s->file);
	if (s->mm)
		umm_mm_destroy(s->mm);
}

static void row(const char *workload, const char *unit, enum work work)
{
	double us[BENCH_MAX_RUNS], hs[BENCH_MAX_RUNS];
	struct bench_result u, h;
	struct side su, sh;
	unsigned int runs = opts->runs < BENCH_MAX_RUNS ? opts->runs : BENCH_MAX_RUNS;
	char ub[64], hb[64];

	if (side_open(&su, false, work) | side_open(&sh, true, work))
		goto out;
	side_run(&su);		/* warm up both */
	side_run(&sh);
	for (unsigned int i = 0; i < runs; i++) {
		us[i] = side_run(&su);
		hs[i] = side_run(&sh);
	}
	bench_stats(us, runs, &u);
	bench_stats(hs, runs, &h);
	snprintf(ub, sizeof(ub), "%.0f (%.0f-%.0f)", u.median, u.min, u.max);
	snprintf(hb, sizeof(hb), "%.0f (%.0f-%.0f)", h.median, h.min, h.max);
	printf("%-*s %-24s %-24s %8.2f\n", BENCH_LABEL_W, workload, ub, hb,
	       u.median > 0 ? h.median / u.median : 0.0);
	bench_emit2("thp", workload, "-", unit, &u, NULL, &h, NULL);
out:
	side_close(&su);
	side_close(&sh);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	char title[256];

	if (bench_parse_args(argc, argv, &o))
		return 2;
	opts = &o;
	blocks = o.quick ? BLOCKS_QUICK : BLOCKS_FULL;
	snprintf(title, sizeof(title),
		 "bench_thp%s: ns per call (only the call timed), median (min-max) of %u runs "
		 "of %u blocks, umm and host interleaved; host/umm > 1: umm is faster",
		 o.quick ? " --quick (smoke run, not numbers)" : "", o.runs, blocks);
	bench_print_header(title);
	printf("%-*s %-24s %-24s %8s\n", BENCH_LABEL_W, "workload", "umm ns", "host ns",
	       "host/umm");
	row("MADV_COLLAPSE of 2 MiB private anonymous (512 pages written)", "ns/collapse",
	    ANON_COLLAPSE);
	row("MADV_COLLAPSE of 2 MiB memfd, mapped shared once", "ns/collapse", SHMEM_COLLAPSE);
	row("MADV_COLLAPSE of 2 MiB memfd, mapped twice (one table retracted)", "ns/collapse",
	    SHMEM_COLLAPSE_TWICE);
	row("read fault mapping a collapsed memfd THP (mmap + 1 read + munmap)", "ns/cycle",
	    SHMEM_PMD_READ);
	row("mprotect of a PMD-mapped anonymous THP, RO then RW (2 calls)", "ns/pair",
	    ANON_MPROTECT);
	if (host_eagain)
		bench_note("bench_thp: the host's MADV_COLLAPSE answered EAGAIN %llu "
			   "times (no huge page free at that moment, or a page busy) "
			   "and was tried again; the time is that of the try that worked",
			   (unsigned long long)host_eagain);
	if (errors)
		fprintf(stderr, "bench_thp: %llu calls failed\n", (unsigned long long)errors);
	return errors ? 1 : 0;
}
