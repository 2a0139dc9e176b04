// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_thp_stress - anonymous PMD THPs faulted in, split, changed in
 * place, shared by fork, moved by mremap and pinned, all at once in one
 * UMM_THP_ALWAYS mm, every region's contents checked against a shadow.
 *
 * The regions sit in one 1 GiB range, so that they share one PMD table
 * (and its lock), with a free 2 MiB slot between any two owners:
 *
 *  writer 0, 1   own two blocks each: write (address ^ generation ^ id)
 *                patterns, check them, mprotect a page or a whole block
 *                read-only and back (contents survive), remap a block fresh
 *  same-THP pair one block: a writer on its first half, a churner
 *                mprotecting, unmapping, zapping and moving single pages
 *                of its second half, splitting the leaf under the writer
 *  churn 0       a window of four blocks and a scratch block, with an
 *                exact model: partial munmap and re-mmap, mprotect and
 *                back, whole-block and unaligned-piece mremap (contents
 *                follow), MADV_DONTNEED (zero after), MADV_[NO]HUGEPAGE on
 *                halves; churn 1 does the same alone in a second mm, in
 *                UMM_THP_MADVISE mode with MADV_HUGEPAGE on each new block
 *  fork          a block pair nobody else writes: fork the whole mm, then
 *                parent and child take turns writing, mprotecting a block
 *                (the leaf in place) or a page (split) and back, zapping,
 *                moving the parent's blocks away and back, unmapping (the
 *                child); the child is destroyed at a random turn, so that
 *                the parent's writes copy 4 KiB out of a shared leaf or
 *                reuse the whole THP. Each side checks its own shadow; the
 *                child also writes into the writers' live blocks, which
 *                they must never see, and checks the pinned pages below
 *                as they were at the fork
 *  pin, splitter one block: pin two pages of a fresh THP and check that
 *                the host pointers and umm_read/umm_write agree while
 *                the other thread splits the leaf with mprotect or munmap
 *                of a page of the second half (and fork copies the pinned
 *                THP for its child)
 *  reader        smaps, pagemap, maps, mincore and vmstat of both mms
 *
 * At the end every frame and table is returned, and vmstat shows THPs
 * were faulted in and split in both mms.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"
#include "page_alloc.h"

#define HP		(2UL << 20)
#define HP_PAGES	(HP / PAGE_SIZE)
#define BASE		0x100000000000UL	/* 1 GiB aligned */
#define SLOT(n)		(BASE + (uint64_t)(n) * HP)
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

#define W0_BASE		SLOT(1)		/* slots 1-2, hole 3 */
#define W1_BASE		SLOT(4)		/* slots 4-5, hole 6 */
#define W_BLOCKS	2
#define S_BASE		SLOT(7)		/* same-THP block; slot 8 its scratch */
#define S_SCRATCH	(SLOT(8) + 16 * PAGE_SIZE)
#define F_BASE		SLOT(9)		/* fork block pair: slots 9-10, hole 11 */
#define F_PAGES		(2 * HP_PAGES)
#define P_BASE		SLOT(12)	/* pin block, hole 13 */
#define C0_BASE		SLOT(16)	/* churn windows: 4 blocks + 2 scratch */
#define C1_BASE		SLOT(24)	/* in mm2 */
#define C_BLOCKS	4
#define C_PAGES		(C_BLOCKS * HP_PAGES)
#define C_SCRATCH_OFF	(C_BLOCKS * HP)
#define UNMAPPED	(~0ULL)

static struct umm_mm *mm;	/* UMM_THP_ALWAYS: every thread but one */
static struct umm_mm *mm2;	/* UMM_THP_MADVISE: churn 1 alone */
static bool stop;
/* fork copies pinned pages: no write into a pinned page meanwhile */
static pthread_rwlock_t pin_lock = PTHREAD_RWLOCK_INITIALIZER;

static uint64_t n_writes, n_checks, n_lost, n_wprot, n_remaps;
static uint64_t n_cmremap, n_cpiece, n_cunmap, n_cprot, n_cdontneed, n_cadvise;
static uint64_t n_s_ops, n_forks, n_cow_shared, n_pins, n_splits, n_reads;

static void count(uint64_t *c)
{
	atomic_add_return(c, 1);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static __thread uint64_t my_lost;	/* this thread's share of n_lost */

static void lost(const char *who, struct umm_mm *m, uint64_t addr, uint64_t want,
		 uint64_t got)
{
	count(&n_lost);
	my_lost++;
	fprintf(stderr, "%s: mm %p addr %#llx: want %#llx, got %#llx\n", who, (void *)m,
		(unsigned long long)addr, (unsigned long long)want,
		(unsigned long long)got);
	CHECK_EQ(got, want);
}

/* ---- 16-byte stamps: { s, ~s } at the start of a page, { 0, 0 } if zero ---- */

static void put_stamp(struct umm_mm *m, uint64_t addr, uint64_t s)
{
	uint64_t v[2] = { s, ~s };

	CHECK_EQ(umm_write(m, addr, v, sizeof(v)), sizeof(v));
}

/* @want: the stamp, 0 for a zero page, UNMAPPED for no mapping */
static void check_stamp(const char *who, struct umm_mm *m, uint64_t addr, uint64_t want)
{
	uint64_t v[2] = { 0x5a5a, 0x5a5a };
	int64_t r = umm_read(m, addr, v, sizeof(v));

	count(&n_checks);
	if (want == UNMAPPED) {
		if (r != -EFAULT)
			lost(who, m, addr, -EFAULT, r);
		return;
	}
	if (r != sizeof(v)) {
		lost(who, m, addr, sizeof(v), r);
		return;
	}
	if (v[0] != want)
		lost(who, m, addr, want, v[0]);
	else if (v[1] != (want ? ~want : 0))
		lost(who, m, addr + 8, want ? ~want : 0, v[1]);
}

/* ---- writers: address ^ generation ^ id patterns ---- */

#define W_WORDS		4

struct writer {
	unsigned int id;
	uint64_t base;
	uint64_t pages;		/* pages owned from base */
	bool self_churn;	/* mprotect its own pages and blocks */
	uint64_t seed, gen;
	uint64_t *shadow;	/* generation of the last write, 0: zero */
};

static uint64_t w_addr(uint64_t base, uint64_t pg)
{
	return base + pg * PAGE_SIZE + (pg % 63) * W_WORDS * 8;
}

static uint64_t w_pat(const struct writer *w, uint64_t addr, unsigned int i, uint64_t gen)
{
	return gen ? (addr + 8 * i) ^ (gen << 20) ^ ((uint64_t)w->id << 58) : 0;
}

static void w_write(struct writer *w, uint64_t pg)
{
	uint64_t a = w_addr(w->base, pg), v[W_WORDS], gen = ++w->gen;

	for (unsigned int i = 0; i < W_WORDS; i++)
		v[i] = w_pat(w, a, i, gen);
	CHECK_EQ(umm_write(mm, a, v, sizeof(v)), sizeof(v));
	w->shadow[pg] = gen;
	count(&n_writes);
}

static void w_check(struct writer *w, uint64_t pg)
{
	uint64_t a = w_addr(w->base, pg), v[W_WORDS];
	int64_t r = umm_read(mm, a, v, sizeof(v));

	count(&n_checks);
	if (r != sizeof(v)) {
		lost("writer", mm, a, sizeof(v), r);
		return;
	}
	for (unsigned int i = 0; i < W_WORDS; i++) {
		uint64_t want = w_pat(w, a, i, w->shadow[pg]);

		if (v[i] != want) {
			lost("writer", mm, a + 8 * i, want, v[i]);
			return;
		}
	}
}

/* A fresh block in place of block @b: its owned pages read zero. */
static void w_remap(struct writer *w, uint64_t b)
{
	uint64_t a = w->base + b * HP;

	CHECK_EQ(umm_mmap(mm, a, HP, RW, ANON_FIXED, NULL, 0), (int64_t)a);
	for (uint64_t pg = b * HP_PAGES; pg < (b + 1) * HP_PAGES && pg < w->pages; pg++)
		w->shadow[pg] = 0;
	count(&n_remaps);
}

static void w_protect(struct writer *w)
{
	uint64_t pg = xrand(&w->seed) % w->pages, a, len, first, n, v = 1;

	if (xrand(&w->seed) & 1) {
		/* one page: the leaf is split around it */
		a = w->base + pg * PAGE_SIZE;
		len = PAGE_SIZE;
		first = pg;
		n = 1;
	} else {
		/* a whole block: the leaf changes in place */
		first = pg / HP_PAGES * HP_PAGES;
		a = w->base + first * PAGE_SIZE;
		len = HP;
		n = HP_PAGES;
	}
	CHECK_EQ(umm_mprotect(mm, a, len, PROT_READ), 0);
	w_check(w, pg);
	w_check(w, first + xrand(&w->seed) % n);
	CHECK_EQ(umm_write(mm, w_addr(w->base, pg), &v, sizeof(v)), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, a, len, RW), 0);
	w_check(w, pg);
	w_write(w, pg);
	w_check(w, pg);
	count(&n_wprot);
}

static void *writer(void *arg)
{
	struct writer *w = arg;

	w->shadow = calloc(w->pages, sizeof(*w->shadow));
	CHECK(w->shadow);
	if (!w->shadow)
		return NULL;
	while (!stopping()) {
		uint64_t r = xrand(&w->seed) % 10000;
		uint64_t pg = xrand(&w->seed) % w->pages;

		if (r < 5500) {
			w_write(w, pg);
		} else if (r < 9950 || (!w->self_churn && r < 9995)) {
			w_check(w, pg);
		} else if (r < 9995) {
			w_protect(w);
		} else {
			w_remap(w, pg / HP_PAGES);
		}
	}
	for (uint64_t pg = 0; pg < w->pages; pg++)
		w_check(w, pg);
	free(w->shadow);
	return NULL;
}

/* ---- the same-THP churner: single pages of the second half of S ---- */

static void *same_thp_churn(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 41 + 3;

	while (!stopping()) {
		uint64_t q = S_BASE + (HP_PAGES / 2 + xrand(&seed) % (HP_PAGES / 2)) * PAGE_SIZE;
		uint64_t v = q ^ 0xc0ffee;

		switch (xrand(&seed) % 5) {
		case 0:
		case 1:
			CHECK_EQ(umm_mprotect(mm, q, PAGE_SIZE, PROT_READ), 0);
			CHECK_EQ(umm_mprotect(mm, q, PAGE_SIZE, RW), 0);
			break;
		case 2:
			CHECK_EQ(umm_munmap(mm, q, PAGE_SIZE), 0);
			CHECK_EQ(umm_mmap(mm, q, PAGE_SIZE, RW, ANON_FIXED, NULL, 0),
				 (int64_t)q);
			break;
		case 3:
			CHECK_EQ(umm_madvise(mm, q, PAGE_SIZE, MADV_DONTNEED), 0);
			break;
		default:
			CHECK_EQ(umm_mremap(mm, q, PAGE_SIZE, PAGE_SIZE,
					    MREMAP_MAYMOVE | MREMAP_FIXED, S_SCRATCH),
				 (int64_t)S_SCRATCH);
			CHECK_EQ(umm_mremap(mm, S_SCRATCH, PAGE_SIZE, PAGE_SIZE,
					    MREMAP_MAYMOVE | MREMAP_FIXED, q), (int64_t)q);
			break;
		}
		/* the writer may have remapped the block: any page is RW */
		CHECK_EQ(umm_write(mm, q + 64, &v, sizeof(v)), sizeof(v));
		count(&n_s_ops);
	}
	return NULL;
}

/* ---- churners: an exact model of a window ---- */

struct churn {
	struct umm_mm *m;	/* the shared mm, or one in madvise mode */
	unsigned int id;
	uint64_t base;
	uint64_t seed, ctr;
	uint64_t shadow[C_PAGES];	/* stamp, 0 zero, UNMAPPED */
	bool whole[C_BLOCKS];		/* the block lies in one VMA */
	char trace[16][96];		/* the last operations, for a failure */
	unsigned int ntrace;
	uint64_t ops;
};

#define c_trace(c, ...) \
	snprintf((c)->trace[(c)->ntrace++ % 16], sizeof((c)->trace[0]), __VA_ARGS__)

static uint64_t c_addr(struct churn *c, uint64_t pg)
{
	return c->base + pg * PAGE_SIZE;
}

static void c_check(struct churn *c, uint64_t pg)
{
	if (pg < C_PAGES)
		check_stamp("churn", c->m, c_addr(c, pg), c->shadow[pg]);
}

static void c_check_some(struct churn *c, unsigned int n)
{
	while (n--)
		c_check(c, xrand(&c->seed) % C_PAGES);
}

static void c_check_range(struct churn *c, uint64_t pg, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		c_check(c, pg + i);
	if (pg)
		c_check(c, pg - 1);
	c_check(c, pg + n);
}

static void c_write(struct churn *c, uint64_t pg)
{
	uint64_t s = ((uint64_t)(c->id + 1) << 56) | ++c->ctr;

	put_stamp(c->m, c_addr(c, pg), s);
	c->shadow[pg] = s;
}

static bool c_all_mapped(struct churn *c, uint64_t pg, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (c->shadow[pg + i] == UNMAPPED)
			return false;
	return true;
}

static void c_touch(struct churn *c, uint64_t pg, uint64_t n)
{
	for (uint64_t b = pg / HP_PAGES; b <= (pg + n - 1) / HP_PAGES; b++)
		c->whole[b] = false;
}

static void c_map_block(struct churn *c, uint64_t b)
{
	uint64_t a = c->base + b * HP;

	c_trace(c, "map block %llu", (unsigned long long)b);
	CHECK_EQ(umm_mmap(c->m, a, HP, RW, ANON_FIXED, NULL, 0), (int64_t)a);
	if (c->m != mm)		/* madvise mode: ask for THPs */
		CHECK_EQ(umm_madvise(c->m, a, HP, MADV_HUGEPAGE), 0);
	for (uint64_t i = 0; i < HP_PAGES; i++)
		c->shadow[b * HP_PAGES + i] = 0;
	c->whole[b] = true;
	/* the first write faults in a THP */
	for (int i = 0; i < 4; i++)
		c_write(c, b * HP_PAGES + xrand(&c->seed) % HP_PAGES);
}

static void c_munmap(struct churn *c, uint64_t pg, uint64_t n)
{
	uint64_t a = c_addr(c, pg);

	c_trace(c, "munmap pg %llu n %llu", (unsigned long long)pg, (unsigned long long)n);
	CHECK_EQ(umm_munmap(c->m, a, n * PAGE_SIZE), 0);
	for (uint64_t i = 0; i < n; i++)
		c->shadow[pg + i] = UNMAPPED;
	c_touch(c, pg, n);
	c_check(c, pg);
	c_check(c, pg + n - 1);
	if (pg)
		c_check(c, pg - 1);
	c_check(c, pg + n);
	if (xrand(&c->seed) % 4) {
		c_trace(c, "  remap");
		CHECK_EQ(umm_mmap(c->m, a, n * PAGE_SIZE, RW, ANON_FIXED, NULL, 0), (int64_t)a);
		for (uint64_t i = 0; i < n; i++)
			c->shadow[pg + i] = 0;
		c_check(c, pg);
		c_write(c, pg + xrand(&c->seed) % n);
	}
	count(&n_cunmap);
}

static void c_mprotect(struct churn *c, uint64_t pg, uint64_t n)
{
	uint64_t a = c_addr(c, pg), v = 1;

	if (!c_all_mapped(c, pg, n))
		return;
	c_trace(c, "mprotect pg %llu n %llu", (unsigned long long)pg, (unsigned long long)n);
	CHECK_EQ(umm_mprotect(c->m, a, n * PAGE_SIZE, PROT_READ), 0);
	c_check_range(c, pg, n);
	CHECK_EQ(umm_write(c->m, c_addr(c, pg + xrand(&c->seed) % n), &v, sizeof(v)), -EFAULT);
	CHECK_EQ(umm_mprotect(c->m, a, n * PAGE_SIZE, RW), 0);
	c_check(c, pg);
	c_check(c, pg + n - 1);
	c_write(c, pg + xrand(&c->seed) % n);
	count(&n_cprot);
}

static void c_mremap_block(struct churn *c)
{
	uint64_t b = xrand(&c->seed) % C_BLOCKS, d = xrand(&c->seed) % C_BLOCKS;
	uint64_t from = c->base + b * HP, to = c->base + d * HP;
	int64_t r;

	if (b == d || !c_all_mapped(c, b * HP_PAGES, HP_PAGES))
		return;
	r = umm_mremap(c->m, from, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	c_trace(c, "mremap block %llu -> %llu: %lld (whole %d)", (unsigned long long)b,
		(unsigned long long)d, (long long)r, c->whole[b]);
	if (c->whole[b])
		CHECK_EQ(r, (int64_t)to);
	else
		CHECK(r == (int64_t)to || r == -EFAULT);
	if (r == (int64_t)to) {
		memcpy(&c->shadow[d * HP_PAGES], &c->shadow[b * HP_PAGES],
		       HP_PAGES * sizeof(c->shadow[0]));
		for (uint64_t i = 0; i < HP_PAGES; i++)
			c->shadow[b * HP_PAGES + i] = UNMAPPED;
		c->whole[d] = true;
		c->whole[b] = false;
		c_check(c, b * HP_PAGES + xrand(&c->seed) % HP_PAGES);
		for (int i = 0; i < 8; i++)
			c_check(c, d * HP_PAGES + xrand(&c->seed) % HP_PAGES);
		c_write(c, d * HP_PAGES + xrand(&c->seed) % HP_PAGES);
		count(&n_cmremap);
	} else {
		for (int i = 0; i < 8; i++)
			c_check(c, b * HP_PAGES + xrand(&c->seed) % HP_PAGES);
	}
}

/*
 * An unaligned piece of one block, or a whole block, out to an unaligned
 * place in the scratch blocks (splitting any leaf) and back.
 */
static void c_mremap_piece(struct churn *c)
{
	uint64_t n = xrand(&c->seed) % 16 + 1, b = xrand(&c->seed) % C_BLOCKS;
	uint64_t pg = b * HP_PAGES + xrand(&c->seed) % (HP_PAGES - n);
	uint64_t to = c->base + C_SCRATCH_OFF;
	uint64_t a, len;
	int64_t r;

	if (xrand(&c->seed) % 4 == 0) {
		n = HP_PAGES;
		pg = b * HP_PAGES;
		to += (1 + xrand(&c->seed) % (HP_PAGES - 1)) * PAGE_SIZE;
	} else {
		to += (xrand(&c->seed) % (2 * HP_PAGES - n)) * PAGE_SIZE;
	}
	a = c_addr(c, pg);
	len = n * PAGE_SIZE;

	if (!c_all_mapped(c, pg, n))
		return;
	r = umm_mremap(c->m, a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	c_trace(c, "mremap piece pg %llu n %llu -> %#llx: %lld (whole %d)",
		(unsigned long long)pg, (unsigned long long)n, (unsigned long long)to,
		(long long)r, c->whole[b]);
	if (c->whole[b])
		CHECK_EQ(r, (int64_t)to);
	else
		CHECK(r == (int64_t)to || r == -EFAULT);
	if (r != (int64_t)to) {
		c_check_range(c, pg, n);
		return;
	}
	for (uint64_t i = 0; i < n; i += 1 + xrand(&c->seed) % 8)
		check_stamp("churn piece", c->m, to + i * PAGE_SIZE, c->shadow[pg + i]);
	check_stamp("churn piece", c->m, to + len - PAGE_SIZE, c->shadow[pg + n - 1]);
	check_stamp("churn piece", c->m, a, UNMAPPED);
	check_stamp("churn piece", c->m, a + len - PAGE_SIZE, UNMAPPED);
	CHECK_EQ(umm_mremap(c->m, to, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, a), (int64_t)a);
	check_stamp("churn piece", c->m, to, UNMAPPED);
	c_check_range(c, pg, n);
	c_write(c, pg + xrand(&c->seed) % n);
	count(&n_cpiece);
}

static void c_dontneed(struct churn *c, uint64_t pg, uint64_t n)
{
	if (!c_all_mapped(c, pg, n))
		return;
	c_trace(c, "dontneed pg %llu n %llu", (unsigned long long)pg, (unsigned long long)n);
	CHECK_EQ(umm_madvise(c->m, c_addr(c, pg), n * PAGE_SIZE, MADV_DONTNEED), 0);
	for (uint64_t i = 0; i < n; i++)
		c->shadow[pg + i] = 0;
	c_check(c, pg);
	c_check(c, pg + n - 1);
	if (pg)
		c_check(c, pg - 1);
	c_check(c, pg + n);
	count(&n_cdontneed);
}

static void c_advise_half(struct churn *c)
{
	uint64_t b = xrand(&c->seed) % C_BLOCKS, h = xrand(&c->seed) & 1;
	uint64_t pg = b * HP_PAGES + h * HP_PAGES / 2;
	int advice = (xrand(&c->seed) & 1) ? MADV_NOHUGEPAGE : MADV_HUGEPAGE;

	if (!c_all_mapped(c, pg, HP_PAGES / 2))
		return;
	c_trace(c, "advise %s pg %llu", advice == MADV_HUGEPAGE ? "huge" : "nohuge",
		(unsigned long long)pg);
	CHECK_EQ(umm_madvise(c->m, c_addr(c, pg), HP / 2, advice), 0);
	c->whole[b] = false;
	for (int i = 0; i < 4; i++)
		c_check(c, b * HP_PAGES + xrand(&c->seed) % HP_PAGES);
	c_write(c, pg + xrand(&c->seed) % (HP_PAGES / 2));
	count(&n_cadvise);
}

/* After a failure: what led to it. */
static void c_dump(struct churn *c)
{
	if (!my_lost || !c->ntrace)
		return;
	fprintf(stderr, "churn %u (base %#llx), last operations:\n", c->id,
		(unsigned long long)c->base);
	for (unsigned int i = c->ntrace > 16 ? c->ntrace - 16 : 0; i < c->ntrace; i++)
		fprintf(stderr, "  %s\n", c->trace[i % 16]);
	c->ntrace = 0;
}

static void *churn(void *arg)
{
	struct churn *c = arg;

	for (uint64_t i = 0; i < C_PAGES; i++)
		c->shadow[i] = UNMAPPED;
	for (uint64_t b = 0; b < C_BLOCKS; b++)
		c_map_block(c, b);
	while (!stopping()) {
		uint64_t r = xrand(&c->seed) % 100;
		uint64_t pg = xrand(&c->seed) % C_PAGES;
		uint64_t n = xrand(&c->seed) % 64 + 1, lost_before = my_lost;

		if (n > C_PAGES - pg)
			n = C_PAGES - pg;
		if (r < 8) {
			c_map_block(c, pg / HP_PAGES);
		} else if (r < 30) {
			for (int i = 0; i < 8; i++) {
				uint64_t p = xrand(&c->seed) % C_PAGES;

				if (c->shadow[p] != UNMAPPED)
					c_write(c, p);
			}
		} else if (r < 40) {
			c_munmap(c, pg, n);
		} else if (r < 50) {
			c_mprotect(c, pg, n);
		} else if (r < 58) {
			c_mremap_block(c);
		} else if (r < 68) {
			c_mremap_piece(c);
		} else if (r < 78) {
			c_dontneed(c, pg, n);
		} else if (r < 86) {
			c_advise_half(c);
		} else {
			c_check_some(c, 16);
		}
		c_check_some(c, 2);
		if (my_lost != lost_before)
			c_dump(c);
		c->ops++;
		/* alone in its mm, it would take a core from the others */
		if (c->m != mm) {
			struct timespec ts = { 0, 100 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	for (uint64_t pg = 0; pg < C_PAGES; pg++)
		c_check(c, pg);
	c_dump(c);
	return NULL;
}

/*
 * ---- fork: F (two blocks) is written by this thread only ----
 *
 * After each fork the parent and the child take turns at random: writes,
 * mprotect of a block or a page and back, mremap of a block away and
 * back, MADV_DONTNEED, munmap (child only); the child is destroyed at a
 * random turn. Each side checks against its own shadow: neither sees
 * the other's changes, and the child starts with the parent's data.
 */

#define F_AWAY		SLOT(40)	/* where the parent moves a block to */

static uint64_t f_shadow[F_PAGES], fc_shadow[F_PAGES];

/* What the pinner last wrote to its two pages, under pin_lock (read). */
static struct {
	bool valid;
	uint64_t addr, val[2];
} pin_pub;

static void f_check(struct umm_mm *m, const uint64_t *shadow, uint64_t pg)
{
	check_stamp(m == mm ? "fork parent" : "fork child", m, F_BASE + pg * PAGE_SIZE,
		    shadow[pg]);
}

/*
 * One turn of the parent (@m is mm) or of the child, on F as @shadow has
 * it; @child_alive: the parent's F may still be shared.
 */
static void f_turn(struct umm_mm *m, uint64_t *shadow, uint64_t *seed, uint64_t *ctr,
		   bool child_alive)
{
	uint64_t b = xrand(seed) & 1, pg = xrand(seed) % F_PAGES;
	uint64_t n = xrand(seed) % 32 + 1, blk = F_BASE + b * HP, v = 1;
	bool child = m != mm;

	if (n > F_PAGES - pg)
		n = F_PAGES - pg;
	switch (xrand(seed) % 6) {
	case 0:
	case 1:
		for (int i = 0; i < 4; i++) {
			pg = xrand(seed) % F_PAGES;
			if (shadow[pg] == UNMAPPED)
				continue;
			shadow[pg] = ((child ? 0xcULL : 0xfULL) << 56) | ++*ctr;
			put_stamp(m, F_BASE + pg * PAGE_SIZE, shadow[pg]);
			if (!child && child_alive)
				count(&n_cow_shared);
		}
		if (!child)
			break;
		/* the child writes into the writers' live blocks too */
		for (int i = 0; i < 4; i++) {
			uint64_t base = (xrand(seed) & 1) ? W1_BASE : W0_BASE;
			uint64_t a = w_addr(base, xrand(seed) % (W_BLOCKS * HP_PAGES));
			uint64_t junk[W_WORDS] = { a, ~a, 0xdeadbeef, 0 };
			int64_t w = umm_write(m, a, junk, sizeof(junk));

			/* -EFAULT: the writer had the block read-only at the fork */
			CHECK(w == sizeof(junk) || w == -EFAULT);
		}
		break;
	case 2:
		/* a whole block (the leaf in place) or one page (split) */
		if (xrand(seed) & 1) {
			pg = b * HP_PAGES;
			n = HP_PAGES;
		} else {
			n = 1;
		}
		for (uint64_t i = 0; i < n; i++)
			if (shadow[pg + i] == UNMAPPED)
				return;
		CHECK_EQ(umm_mprotect(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE, PROT_READ), 0);
		f_check(m, shadow, pg);
		f_check(m, shadow, pg + n - 1);
		CHECK_EQ(umm_write(m, F_BASE + pg * PAGE_SIZE, &v, sizeof(v)), -EFAULT);
		CHECK_EQ(umm_mprotect(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE, RW), 0);
		f_check(m, shadow, pg);
		break;
	case 3:
		/* whole leaves away and back: still write-protected if shared */
		if (child)
			break;
		CHECK_EQ(umm_mremap(m, blk, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, F_AWAY),
			 (int64_t)F_AWAY);
		for (int i = 0; i < 4; i++) {
			uint64_t p = xrand(seed) % HP_PAGES;

			check_stamp("fork parent away", m, F_AWAY + p * PAGE_SIZE,
				    shadow[b * HP_PAGES + p]);
		}
		CHECK_EQ(umm_read(m, blk, &v, sizeof(v)), -EFAULT);
		CHECK_EQ(umm_mremap(m, F_AWAY, HP, HP, MREMAP_MAYMOVE | MREMAP_FIXED, blk),
			 (int64_t)blk);
		break;
	case 4:
		for (uint64_t i = 0; i < n; i++)
			if (shadow[pg + i] == UNMAPPED)
				return;
		CHECK_EQ(umm_madvise(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE,
				     MADV_DONTNEED), 0);
		for (uint64_t i = 0; i < n; i++)
			shadow[pg + i] = 0;
		break;
	default:
		/* the parent's F stays mapped; the child may lose pages */
		if (!child)
			break;
		CHECK_EQ(umm_munmap(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE), 0);
		for (uint64_t i = 0; i < n; i++)
			shadow[pg + i] = UNMAPPED;
		break;
	}
	for (int i = 0; i < 4; i++)
		f_check(m, shadow, xrand(seed) % F_PAGES);
}

static void *forker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 97 + 11, ctr = 0, iter = 0;

	while (!stopping()) {
		struct umm_mm *child = NULL;
		unsigned int turns = 6, destroy_at = xrand(&seed) % (turns + 1);
		uint64_t pin_addr = 0, pin_val[2] = { 0, 0 };
		int r;

		if (iter++ % 4 == 0) {
			CHECK_EQ(umm_mmap(mm, F_BASE, 2 * HP, RW, ANON_FIXED, NULL, 0),
				 (int64_t)F_BASE);
			memset(f_shadow, 0, sizeof(f_shadow));
		}
		for (int i = 0; i < 16; i++) {
			uint64_t pg = xrand(&seed) % F_PAGES;

			f_shadow[pg] = (0xfULL << 56) | ++ctr;
			put_stamp(mm, F_BASE + pg * PAGE_SIZE, f_shadow[pg]);
		}
		pthread_rwlock_wrlock(&pin_lock);
		r = umm_fork(mm, &child);
		if (pin_pub.valid) {
			pin_addr = pin_pub.addr;
			pin_val[0] = pin_pub.val[0];
			pin_val[1] = pin_pub.val[1];
		}
		pthread_rwlock_unlock(&pin_lock);
		CHECK_EQ(r, 0);
		if (r)
			continue;
		memcpy(fc_shadow, f_shadow, sizeof(f_shadow));
		/* the child sees the parent's data as it was at the fork ... */
		for (int i = 0; i < 16; i++)
			f_check(child, fc_shadow, xrand(&seed) % F_PAGES);
		/* ... also in the pinned THP, copied for it (or shared, unpinned) */
		if (pin_addr) {
			check_stamp("fork child pin", child, pin_addr, pin_val[0]);
			check_stamp("fork child pin", child, pin_addr + PAGE_SIZE, pin_val[1]);
		}
		for (unsigned int t = 0; t < turns; t++) {
			if (t == destroy_at) {
				umm_mm_destroy(child);
				child = NULL;
			}
			if (child && (xrand(&seed) & 1))
				f_turn(child, fc_shadow, &seed, &ctr, true);
			else
				f_turn(mm, f_shadow, &seed, &ctr, child != NULL);
		}
		if (child) {
			for (int i = 0; i < 16; i++)
				f_check(child, fc_shadow, xrand(&seed) % F_PAGES);
			/* the pinner went on writing: not into the child's pages */
			if (pin_addr) {
				check_stamp("fork child pin", child, pin_addr, pin_val[0]);
				check_stamp("fork child pin", child, pin_addr + PAGE_SIZE,
					    pin_val[1]);
			}
			umm_mm_destroy(child);
		}
		for (int i = 0; i < 16; i++)
			f_check(mm, f_shadow, xrand(&seed) % F_PAGES);
		count(&n_forks);
	}
	for (uint64_t pg = 0; pg < F_PAGES; pg++)
		f_check(mm, f_shadow, pg);
	return NULL;
}

/* ---- pins of a THP that another thread splits ---- */

static void *pinner(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 23 + 1, ctr = 0;

	while (!stopping()) {
		uint64_t pg = xrand(&seed) % (HP_PAGES / 2 - 1);
		uint64_t a = P_BASE + pg * PAGE_SIZE, s = (0xaULL << 56) | ++ctr;
		void *ptrs[2] = { NULL, NULL }, *again = NULL;
		uint64_t v[2];

		pthread_rwlock_rdlock(&pin_lock);
		CHECK_EQ(umm_mmap(mm, P_BASE, HP, RW, ANON_FIXED, NULL, 0), (int64_t)P_BASE);
		put_stamp(mm, a, s);	/* a THP, unless the splitter's VMA edge is in */
		pin_pub.valid = true;
		pin_pub.addr = a;
		pin_pub.val[0] = s;
		pin_pub.val[1] = 0;
		pthread_rwlock_unlock(&pin_lock);
		if (umm_pin(mm, a, 2, UMM_READ | UMM_WRITE, ptrs)) {
			CHECK(0);
			continue;
		}
		memcpy(v, ptrs[0], sizeof(v));
		if (v[0] != s)
			lost("pin", mm, a, s, v[0]);
		for (int i = 0; i < 8; i++) {
			/* fork copies pinned pages: not while they are written */
			pthread_rwlock_rdlock(&pin_lock);
			/* through umm: the pinned frame shows it */
			s = (0xaULL << 56) | ++ctr;
			put_stamp(mm, a, s);
			pin_pub.val[0] = s;
			memcpy(v, ptrs[0], sizeof(v));
			if (v[0] != s || v[1] != ~s)
				lost("pin host", mm, a, s, v[0]);
			/* through the pin: umm shows it */
			s = (0xbULL << 56) | ++ctr;
			v[0] = s;
			v[1] = ~s;
			memcpy(ptrs[1], v, sizeof(v));
			pin_pub.val[1] = s;
			check_stamp("pin umm", mm, a + PAGE_SIZE, s);
			pthread_rwlock_unlock(&pin_lock);
			/* the mapping stayed: the same frame again */
			CHECK_EQ(umm_pin(mm, a + PAGE_SIZE, 1, UMM_READ, &again), 0);
			CHECK(again == ptrs[1]);
			umm_unpin(mm, &again, 1);
		}
		umm_unpin(mm, ptrs, 2);
		count(&n_pins);
	}
	return NULL;
}

static void *splitter(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 71 + 9;

	while (!stopping()) {
		uint64_t q = P_BASE + (HP_PAGES / 2 + xrand(&seed) % (HP_PAGES / 2)) * PAGE_SIZE;

		if (xrand(&seed) % 4) {
			CHECK_EQ(umm_mprotect(mm, q, PAGE_SIZE, PROT_READ), 0);
			CHECK_EQ(umm_mprotect(mm, q, PAGE_SIZE, RW), 0);
		} else {
			CHECK_EQ(umm_munmap(mm, q, PAGE_SIZE), 0);
			CHECK_EQ(umm_mmap(mm, q, PAGE_SIZE, RW, ANON_FIXED, NULL, 0),
				 (int64_t)q);
		}
		count(&n_splits);
		/* mmap_lock is fair game for the others too */
		sched_yield();
	}
	return NULL;
}

/* ---- walkers: every pmd_entry against every split ---- */

static void *reader(void *arg)
{
	static const uint64_t bases[] = { W0_BASE, W1_BASE, S_BASE, F_BASE, P_BASE,
					  C0_BASE, C1_BASE, C0_BASE + 2 * HP };
	static __thread uint64_t pm[HP_PAGES];
	static __thread unsigned char vec[W_BLOCKS * HP_PAGES];
	uint64_t seed = (uintptr_t)arg * 5 + 2;
	FILE *null = fopen("/dev/null", "w");

	CHECK(null);
	if (!null)
		return NULL;
	while (!stopping()) {
		uint64_t b = bases[xrand(&seed) % ARRAY_SIZE(bases)];

		switch (xrand(&seed) % 4) {
		case 0:
			CHECK_EQ(umm_smaps((xrand(&seed) & 1) ? mm : mm2, null), 0);
			break;
		case 1:
			CHECK_EQ(umm_maps(mm, null), 0);
			CHECK_EQ(umm_vmstat(mm, null), 0);
			break;
		case 2:
			/* the writers' blocks are always mapped */
			CHECK_EQ(umm_mincore(mm, (xrand(&seed) & 1) ? W0_BASE : W1_BASE,
					     W_BLOCKS * HP, vec), 0);
			break;
		default:
			CHECK_EQ(umm_pagemap(b == C1_BASE ? mm2 : mm, b - HP / 4, HP_PAGES,
					     pm), 0);
			break;
		}
		count(&n_reads);
	}
	fclose(null);
	return NULL;
}

/* One counter from umm_vmstat(), or -1 when it is not printed. */
static long long vmstat(struct umm_mm *m, const char *name)
{
	char buf[8192] = "", key[80];
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	const char *p;
	size_t n;

	if (!f)
		return -1;
	if (umm_vmstat(m, f)) {
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

static struct writer writers[3] = {
	{ .id = 0, .base = W0_BASE, .pages = W_BLOCKS * HP_PAGES,
	  .self_churn = true, .seed = 1 },
	{ .id = 1, .base = W1_BASE, .pages = W_BLOCKS * HP_PAGES,
	  .self_churn = true, .seed = 2 },
	/* the same-THP writer: the first half of S only */
	{ .id = 2, .base = S_BASE, .pages = HP_PAGES / 2, .seed = 3 },
};
static struct churn churns[2] = {
	{ .id = 0, .base = C0_BASE, .seed = 4 },
	{ .id = 1, .base = C1_BASE, .seed = 5 },
};

static void test_thp_stress(void)
{
	void *(*const fns[])(void *) = {
		writer, writer, writer, same_thp_churn, churn, churn,
		forker, pinner, splitter, reader,
	};
	void *const args[] = {
		&writers[0], &writers[1], &writers[2], (void *)1, &churns[0], &churns[1],
		(void *)2, (void *)3, (void *)4, (void *)5,
	};
	struct umm_opts o = { .thp = UMM_THP_ALWAYS }, o2 = { .thp = UMM_THP_MADVISE };
	struct page_alloc_stats before, after;
	long long thp_alloc, thp_split, thp_fallback, thp2_alloc, thp2_split;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(&o);
	mm2 = umm_mm_create(&o2);
	CHECK(mm && mm2);
	if (!mm || !mm2)
		return;
	churns[0].m = mm;
	churns[1].m = mm2;
	/* mapped before any thread runs: the reader's mincore needs them */
	CHECK_EQ(umm_mmap(mm, W0_BASE, W_BLOCKS * HP, RW, ANON_FIXED, NULL, 0),
		 (int64_t)W0_BASE);
	CHECK_EQ(umm_mmap(mm, W1_BASE, W_BLOCKS * HP, RW, ANON_FIXED, NULL, 0),
		 (int64_t)W1_BASE);
	CHECK_EQ(umm_mmap(mm, S_BASE, HP, RW, ANON_FIXED, NULL, 0), (int64_t)S_BASE);
	CHECK_EQ(umm_mmap(mm, F_BASE, 2 * HP, RW, ANON_FIXED, NULL, 0), (int64_t)F_BASE);
	CHECK_EQ(umm_mmap(mm, P_BASE, HP, RW, ANON_FIXED, NULL, 0), (int64_t)P_BASE);
	stress_run(fns, args, ARRAY_SIZE(fns), 5, &stop);

	thp_alloc = vmstat(mm, "thp_fault_alloc");
	thp_split = vmstat(mm, "thp_split_pmd");
	thp_fallback = vmstat(mm, "thp_fault_fallback");
	thp2_alloc = vmstat(mm2, "thp_fault_alloc");
	thp2_split = vmstat(mm2, "thp_split_pmd");
	printf("  writes %llu, checks %llu, lost %llu, writer mprotects %llu, remaps %llu\n"
	       "  churn ops %llu + %llu in the madvise-mode mm (block mremaps %llu, "
	       "piece mremaps %llu, munmaps %llu, "
	       "mprotects %llu, dontneeds %llu, advises %llu)\n"
	       "  same-THP churn %llu, forks %llu (cow while shared %llu), pins %llu, "
	       "splitter %llu, reader %llu\n"
	       "  thp_fault_alloc %lld, thp_split_pmd %lld, thp_fault_fallback %lld, "
	       "pgfault %llu, vma_lock_success %llu, retry %llu, abort %llu\n"
	       "  madvise-mode mm: thp_fault_alloc %lld, thp_split_pmd %lld\n",
	       (unsigned long long)n_writes, (unsigned long long)n_checks,
	       (unsigned long long)n_lost, (unsigned long long)n_wprot,
	       (unsigned long long)n_remaps, (unsigned long long)churns[0].ops,
	       (unsigned long long)churns[1].ops,
	       (unsigned long long)n_cmremap, (unsigned long long)n_cpiece,
	       (unsigned long long)n_cunmap, (unsigned long long)n_cprot,
	       (unsigned long long)n_cdontneed, (unsigned long long)n_cadvise,
	       (unsigned long long)n_s_ops, (unsigned long long)n_forks,
	       (unsigned long long)n_cow_shared, (unsigned long long)n_pins,
	       (unsigned long long)n_splits, (unsigned long long)n_reads,
	       thp_alloc, thp_split, thp_fallback,
	       (unsigned long long)mm->stat[MM_PGFAULT],
	       (unsigned long long)mm->stat[MM_VMA_LOCK_SUCCESS],
	       (unsigned long long)mm->stat[MM_VMA_LOCK_RETRY],
	       (unsigned long long)mm->stat[MM_VMA_LOCK_ABORT], thp2_alloc, thp2_split);
	CHECK_EQ(n_lost, 0);
	CHECK(n_writes > 0 && churns[0].ops > 0 && churns[1].ops > 0 && n_s_ops > 0 &&
	      n_forks > 0 && n_pins > 0 && n_splits > 0 && n_reads > 0);
	CHECK(thp_alloc > 0);
	CHECK(thp_split > 0);
	CHECK(thp2_alloc > 0);
	CHECK(thp2_split > 0);
	umm_mm_destroy(mm);
	umm_mm_destroy(mm2);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

int main(void)
{
	RUN(test_thp_stress);
	return test_done();
}
