// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_vma - what the VMA layer costs as an address space fills up:
 * mmap + munmap of one page (placement search included), mprotect of one
 * page inside a VMA (split into three, then merged back), and the lockless
 * VMA lookup page faults use, each with 10, 1,000, 100,000 and 1,000,000
 * VMAs already mapped. The host kernel does the same work with real system
 * calls in the same run, runs interleaved (umm, host, umm, host, ...), so
 * the two columns are measured under the same conditions on this machine.
 * Also mprotect of a whole populated 64 MiB region, there and back: the
 * page-table side of mprotect rather than the VMA side.
 * Target (umm): at most 1 us per call at 1,000,000 VMAs.
 *
 * The host cannot hold more VMAs than vm.max_map_count (65,530 unless
 * raised): above that its column is n/a, unless --raise-max-map-count
 * (root) raises the limit for the run.
 *
 * Usage: bench_vma [--quick] [--raise-max-map-count]   (--quick: N up to
 * 1,000, a second-long smoke run for make check; its numbers mean nothing)
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "mm.h"
#include "bench.h"
#include "uapi_mman.h"

#define PG		4096ull
#define RW_PAGES	16		/* the VMA mprotect cuts into three */
#define RW_HOLE		8		/* ... at this page */
#define UMM_MAX_MAPS	2000000
#define HOST_SLACK	64		/* VMAs the host may add under us */
#define HOST_MARGIN	10000		/* what the raised limit adds to N */
#define BIG_LEN		(64ull << 20)	/* the populated region mprotect flips */

/*
 * The layout, the same on both sides: N one-page anonymous VMAs at
 * [base, base + N pages), alternately PROT_READ and PROT_NONE so that no
 * two merge, then the 16-page read-write VMA mprotect works on, directly
 * above (N is even: the page below it is PROT_NONE, no merge). On umm the
 * whole thing ends at mmap_base, so a one-page mmap without a hint must
 * search past all N VMAs to land just below them.
 */
struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t n;		/* VMAs in the block */
	uint64_t base;		/* first page of the block */
	uint64_t rw;		/* the 16-page read-write VMA */
	uint64_t rng;
	uint64_t errors;	/* calls that failed: a bug if non-zero */
	double setup_ns;	/* to build the layout */
	double teardown_ns;	/* umm: to unmap it */
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_vma: %s: %s\n", what, strerror(err));
	return 1;
}

static int block_prot(uint64_t i)
{
	return i & 1 ? PROT_NONE : PROT_READ;
}

/* ---- setup and teardown ---- */

static int umm_setup(struct side *s, uint64_t n)
{
	struct umm_opts o = { .size = sizeof(o), .max_map_count = UMM_MAX_MAPS };
	uint64_t t0 = bench_now_ns();
	int64_t r;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->rng = 0x9e3779b97f4a7c15ull;
	s->mm = umm_mm_create(&o);
	if (!s->mm)
		return fail("umm_mm_create", errno);
	s->rw = s->mm->mmap_base - RW_PAGES * PG;
	s->base = s->rw - n * PG;
	for (uint64_t i = 0; i < n; i++) {
		r = umm_mmap(s->mm, s->base + i * PG, PG, block_prot(i),
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
			     MAP_FIXED_NOREPLACE, NULL, 0);
		if (r != (int64_t)(s->base + i * PG))
			return fail("umm_mmap of the block", r < 0 ? (int)-r : EFAULT);
	}
	r = umm_mmap(s->mm, s->rw, RW_PAGES * PG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE,
		     NULL, 0);
	if (r != (int64_t)s->rw)
		return fail("umm_mmap of the read-write VMA", r < 0 ? (int)-r : EFAULT);
	s->setup_ns = (double)(bench_now_ns() - t0);
	if (s->mm->map_count != n + 1) {
		fprintf(stderr, "bench_vma: umm has %llu VMAs, expected %llu\n",
			(unsigned long long)s->mm->map_count,
			(unsigned long long)n + 1);
		return 1;
	}
	return 0;
}

/*
 * Unmap the range in pieces of TEARDOWN_PAGES: one munmap over many VMAs
 * costs time quadratic in their number (plan_punch() deletes descriptions
 * one memmove at a time), about 25 minutes for 1,000,000. N <= 1,000 still
 * goes in a single call, so --quick covers the whole-range path.
 */
#define TEARDOWN_PAGES	1024

static int umm_teardown(struct side *s)
{
	uint64_t len = (s->n + RW_PAGES) * PG, t0 = bench_now_ns();
	int err = 0;

	if (!s->mm)
		return 0;
	for (uint64_t off = 0; off < len && !err; off += TEARDOWN_PAGES * PG)
		err = umm_munmap(s->mm, s->base + off,
				 len - off < TEARDOWN_PAGES * PG ? len - off :
				 TEARDOWN_PAGES * PG);
	if (!err && s->mm->map_count)
		err = -EBUSY;
	s->teardown_ns = (double)(bench_now_ns() - t0);
	umm_mm_destroy(s->mm);
	s->mm = NULL;
	return err ? fail("umm_munmap of the whole range", -err) : 0;
}

/*
 * The host cannot be told where its mmap_base is, so reserve the range
 * with one PROT_NONE mapping the host placed itself, and carve the layout
 * out of it with mprotect: the odd pages are what is left of it.
 */
static int host_setup(struct side *s, uint64_t n)
{
	uint64_t t0 = bench_now_ns();
	void *p;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->rng = 0x9e3779b97f4a7c15ull;
	p = mmap(NULL, (n + RW_PAGES) * PG, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return fail("host mmap of the range", errno);
	s->base = (uint64_t)p;
	s->rw = s->base + n * PG;
	for (uint64_t i = 0; i < n; i += 2)
		if (mprotect((void *)(s->base + i * PG), PG, PROT_READ))
			return fail("host mprotect of the block", errno);
	if (mprotect((void *)s->rw, RW_PAGES * PG, PROT_READ | PROT_WRITE))
		return fail("host mprotect of the read-write VMA", errno);
	s->setup_ns = (double)(bench_now_ns() - t0);
	return 0;
}

static int host_teardown(struct side *s)
{
	if (!s->base)
		return 0;
	if (munmap((void *)s->base, (s->n + RW_PAGES) * PG))
		return fail("host munmap of the range", errno);
	s->base = 0;
	return 0;
}

/*
 * host_vma_count - VMAs of this process starting in [lo, hi), or all of
 * them for lo == hi == 0, from /proc/self/maps. Return: -1 if unreadable.
 */
static long host_vma_count(uint64_t lo, uint64_t hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long long start;
	long nr = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n'))	/* a long path: skip the rest */
			for (int c; (c = getc(f)) != EOF && c != '\n';)
				;
		if (sscanf(line, "%llx-", &start) != 1)
			continue;
		nr += (!lo && !hi) || (start >= lo && start < hi);
	}
	fclose(f);
	return nr;
}

/* ---- 1. mmap + munmap of one page, no hint ---- */

static void umm_mmap_pair(void *arg, uint64_t iters)
{
	struct side *s = arg;

	for (uint64_t i = 0; i < iters; i++) {
		int64_t a = umm_mmap(s->mm, 0, PG, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);

		if (unlikely(a < 0 || umm_munmap(s->mm, (uint64_t)a, PG)))
			s->errors++;
	}
}

static void host_mmap_pair(void *arg, uint64_t iters)
{
	struct side *s = arg;

	for (uint64_t i = 0; i < iters; i++) {
		void *a = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (unlikely(a == MAP_FAILED || munmap(a, PG)))
			s->errors++;
	}
}

/* ---- 2. mprotect of one page inside the 16-page VMA, and back ---- */

static void umm_mprotect_pair(void *arg, uint64_t iters)
{
	struct side *s = arg;
	uint64_t a = s->rw + RW_HOLE * PG;

	for (uint64_t i = 0; i < iters; i++) {
		if (unlikely(umm_mprotect(s->mm, a, PG, PROT_READ)))
			s->errors++;
		if (unlikely(umm_mprotect(s->mm, a, PG, PROT_READ | PROT_WRITE)))
			s->errors++;
	}
}

static void host_mprotect_pair(void *arg, uint64_t iters)
{
	struct side *s = arg;
	void *a = (void *)(s->rw + RW_HOLE * PG);

	for (uint64_t i = 0; i < iters; i++) {
		if (unlikely(mprotect(a, PG, PROT_READ)))
			s->errors++;
		if (unlikely(mprotect(a, PG, PROT_READ | PROT_WRITE)))
			s->errors++;
	}
}

/* ---- 3. lookup of a random block page ---- */

/* A random page of the block (multiply-shift: no division in the loop). */
static inline uint64_t rand_block_addr(struct side *s)
{
	uint64_t i = ((bench_rand64(&s->rng) >> 32) * s->n) >> 32;

	return s->base + i * PG;
}

/* What a page fault does first: find the VMA and read-lock it, no mmap_lock. */
static void umm_lookup(void *arg, uint64_t iters)
{
	struct side *s = arg;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t a = rand_block_addr(s);
		struct vm_area_struct *vma = lock_vma_under_rcu(s->mm, a);

		if (unlikely(!vma || vma->vm_start != a)) {
			s->errors++;
			if (vma)
				vma_end_read(vma);
			continue;
		}
		vma_end_read(vma);
	}
}

/*
 * The host has no lookup-only system call; mincore() of one page is the
 * cheapest that does one (mmap_lock for read, vma_lookup, a walk of an
 * empty page table, one byte copied out).
 */
static void host_lookup(void *arg, uint64_t iters)
{
	struct side *s = arg;
	unsigned char vec;

	for (uint64_t i = 0; i < iters; i++)
		if (unlikely(mincore((void *)rand_block_addr(s), PG, &vec)))
			s->errors++;
}

/* ---- driver ---- */

struct workload {
	const char *name;	/* in this program's table */
	const char *long_name;	/* in the generated one */
	const char *unit;
	bench_fn umm, host;
	double ops_per_iter;
};

static const struct workload workloads[] = {
	{ "mmap+munmap 4K (ns/pair)", "mmap+munmap of 4 KiB, no hint",
	  "ns/pair", umm_mmap_pair, host_mmap_pair, 1 },
	{ "mprotect split/merge (ns/call)",
	  "mprotect of 1 page inside a VMA (split, then merge back)",
	  "ns/call", umm_mprotect_pair, host_mprotect_pair, 2 },
	{ "lookup (ns/call)",	/* see header */
	  "VMA lookup, lock_vma_under_rcu (host: mincore of 1 page)",
	  "ns/call", umm_lookup, host_lookup, 1 },
};

#define NAME_W	32

static const struct bench_opts *opts;

static void fmt_result(char *buf, size_t len, const struct bench_result *r)
{
	snprintf(buf, len, "%.0f (%.0f-%.0f)", r->median, r->min, r->max);
}

/* One row, umm and host runs interleaved; @h NULL: the host cannot. */
static void run_row(const struct workload *w, struct side *u, struct side *h,
		    const char *host_na)
{
	struct bench_side s[2] = {
		{ .fn = w->umm, .arg = u, .ops = w->ops_per_iter },
		{ .fn = h ? w->host : NULL, .arg = h, .ops = w->ops_per_iter },
	};
	char nbuf[24], ubuf[48], hbuf[48], ratio[24] = "-", param[32];

	bench_interleave(opts, s, 2);
	bench_fmt_count(nbuf, sizeof(nbuf), u->n);
	fmt_result(ubuf, sizeof(ubuf), &s[0].r);
	if (h) {
		fmt_result(hbuf, sizeof(hbuf), &s[1].r);
		snprintf(ratio, sizeof(ratio), "%.2f", s[1].r.median / s[0].r.median);
	} else {
		snprintf(hbuf, sizeof(hbuf), "%s", host_na);
	}
	printf("%-*s %9s  %-22s %-26s %8s%s\n", NAME_W, w->name, nbuf, ubuf, hbuf,
	       ratio, u->n == 1000000 ?
	       (s[0].r.median <= 1000 ? "  (target <= 1000: met)" :
					"  (target <= 1000: MISSED)") : "");
	snprintf(param, sizeof(param), "vmas=%llu", (unsigned long long)u->n);
	bench_emit2("vma", w->long_name, param, w->unit, &s[0].r, NULL,
		    h ? &s[1].r : NULL, host_na);
}

static int check_side(const struct side *s, const char *who, uint64_t vmas)
{
	if (s->errors) {
		fprintf(stderr, "bench_vma: %s, %llu VMAs: %llu calls failed\n",
			who, (unsigned long long)s->n,
			(unsigned long long)s->errors);
		return 1;
	}
	if (s->mm && s->mm->map_count != vmas) {
		fprintf(stderr, "bench_vma: umm has %llu VMAs after a workload, "
			"expected %llu (no merge back?)\n",
			(unsigned long long)s->mm->map_count,
			(unsigned long long)vmas);
		return 1;
	}
	return 0;
}

static int bench_n(uint64_t n, long max_map)
{
	struct side u, h;
	bool host_ok;
	long before = host_vma_count(0, 0), after;
	char na[48], nbuf[24];
	int ret;

	/* the block, the read-write VMA, its split, one mmap, some slack */
	host_ok = before >= 0 && (long)n + before + 3 + HOST_SLACK <= max_map;
	snprintf(na, sizeof(na), "n/a (vm.max_map_count %ld)", max_map);
	bench_fmt_count(nbuf, sizeof(nbuf), n);

	ret = umm_setup(&u, n);
	if (!ret && host_ok)
		ret = host_setup(&h, n);
	if (ret)
		goto out;
	printf("# N = %s: setup %.0f ns/VMA umm", nbuf, u.setup_ns / (double)n);
	if (host_ok) {
		void *probe = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		printf(", %.0f ns/VMA host (mprotect splits); host places a "
		       "one-page mmap %s", h.setup_ns / (double)n,
		       probe == (void *)(h.base - PG) ? "just below the block" :
		       "elsewhere (not below the block)");
		if (probe != MAP_FAILED)
			munmap(probe, PG);
	}
	printf("\n");

	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		run_row(&workloads[i], &u, host_ok ? &h : NULL, na);
		ret = check_side(&u, "umm", n + 1);
		if (!ret && host_ok)
			ret = check_side(&h, "host", 0);
		if (ret)
			break;
	}
	if (!ret && host_ok) {
		/* every split merged back, every page unmapped */
		after = host_vma_count(h.base, h.rw + RW_PAGES * PG);
		if (after != (long)n + 1) {
			fprintf(stderr, "bench_vma: host has %ld VMAs in the "
				"range, expected %llu\n", after,
				(unsigned long long)n + 1);
			ret = 1;
		}
	}
out:
	if (host_ok && host_teardown(&h))
		ret = 1;
	if (umm_teardown(&u))
		ret = 1;
	else if (!ret)
		printf("# N = %s: teardown %.0f ns/VMA umm (umm_munmap, %s)\n",
		       nbuf, u.teardown_ns / (double)n,
		       n + RW_PAGES <= TEARDOWN_PAGES ? "whole range at once" :
		       "1,024 pages a call");
	return ret;
}

/* ---- mprotect of a whole populated region ---- */

struct big {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t addr;
	uint64_t errors;
};

static int big_prot(struct big *b, int prot)
{
	return b->mm ? umm_mprotect(b->mm, b->addr, BIG_LEN, prot) :
		       mprotect((void *)b->addr, BIG_LEN, prot);
}

/* Every page present: read-only, then writable again (ns per call). */
static void big_flip(void *arg, uint64_t iters)
{
	struct big *b = arg;

	for (uint64_t i = 0; i < iters; i++) {
		if (unlikely(big_prot(b, PROT_READ)))
			b->errors++;
		if (unlikely(big_prot(b, PROT_READ | PROT_WRITE)))
			b->errors++;
	}
}

static int big_setup(struct big *u, struct big *h)
{
	const char one = 1;
	int64_t p;
	void *hp;

	u->mm = umm_mm_create(NULL);
	if (!u->mm)
		return fail("umm_mm_create", errno);
	p = umm_mmap(u->mm, 0, BIG_LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	if (p < 0)
		return fail("umm_mmap of 64 MiB", (int)-p);
	u->addr = (uint64_t)p;
	hp = mmap(NULL, BIG_LEN, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hp == MAP_FAILED)
		return fail("mmap of 64 MiB", errno);
	h->addr = (uint64_t)hp;
	madvise(hp, BIG_LEN, MADV_NOHUGEPAGE);	/* 4 KiB entries, as umm's */
	for (uint64_t off = 0; off < BIG_LEN; off += PG) {
		if (umm_write(u->mm, u->addr + off, &one, 1) != 1)
			return fail("umm_write populating 64 MiB", EFAULT);
		((volatile char *)hp)[off] = 1;
	}
	return 0;
}

static int big_rows(void)
{
	struct big u = { 0 }, h = { 0 };
	struct bench_side s[2] = {
		{ .fn = big_flip, .arg = &u, .ops = 2 },
		{ .fn = big_flip, .arg = &h, .ops = 2 },
	};
	char ubuf[48], hbuf[48];
	int ret = big_setup(&u, &h);

	if (!ret) {
		bench_interleave(opts, s, 2);
		if (u.errors || h.errors)
			ret = fail("mprotect of the populated 64 MiB", EFAULT);
	}
	if (!ret) {
		fmt_result(ubuf, sizeof(ubuf), &s[0].r);
		fmt_result(hbuf, sizeof(hbuf), &s[1].r);
		printf("%-*s %9s  %-22s %-26s %8.2f\n", NAME_W,
		       "mprotect 64M populated (ns/call)", "1", ubuf, hbuf,
		       s[1].r.median / s[0].r.median);
		printf("# 64 MiB = %llu pages present: umm %.1f ns/page, host "
		       "%.1f ns/page\n", (unsigned long long)(BIG_LEN / PG),
		       s[0].r.median / (double)(BIG_LEN / PG),
		       s[1].r.median / (double)(BIG_LEN / PG));
		bench_emit2("mprotect", "mprotect of a populated 64 MiB region, "
			    "RW to R, R to RW", "-", "ns/call",
			    &s[0].r, NULL, &s[1].r, NULL);
	}
	umm_mm_destroy(u.mm);
	if (h.addr)
		munmap((void *)h.addr, BIG_LEN);
	return ret;
}

int main(int argc, char **argv)
{
	static const uint64_t full_n[] = { 10, 1000, 100000, 1000000 };
	static const uint64_t quick_n[] = { 10, 1000 };
	const uint64_t *ns;
	size_t nr;
	struct bench_opts o;
	long max_map;
	int ret = 0;

	if (bench_parse_args(argc, argv, &o))
		return 2;
	opts = &o;
	ns = o.quick ? quick_n : full_n;
	nr = o.quick ? 2 : 4;
	if (!o.quick)
		o.target_ns = 50 * 1000 * 1000ull;	/* whole run ~15 s */
	/* the largest block, its read-write VMA and split, what the process has */
	max_map = bench_host_map_limit(&o, (long)ns[nr - 1] + HOST_MARGIN);

	printf("bench_vma%s: ns per call with N VMAs mapped; median (min-max) "
	       "of %u runs each, umm and host runs interleaved\n",
	       o.quick ? " --quick (smoke run, not numbers)" : "", o.runs);
	printf("# lookup: umm = lock_vma_under_rcu + vma_end_read (the fault "
	       "path), host = mincore() of 1 page; random block pages\n");
	printf("# mprotect: one page inside a 16-page VMA to PROT_READ and "
	       "back (split into 3, merge into 1): ns per mprotect call\n");
	printf("%-*s %9s  %-22s %-26s %8s\n", NAME_W, "workload", "N",
	       "umm ns", "host ns", "host/umm");
	ret = big_rows();
	for (size_t i = 0; i < nr && !ret; i++)
		ret = bench_n(ns[i], max_map);
	if (!ret && max_map < (long)ns[nr - 1] + HOST_SLACK)
		bench_note("host column n/a above vm.max_map_count (%ld); as root, "
			   "make bench raises it for the run "
			   "(--raise-max-map-count)", max_map);
	return ret;
}
