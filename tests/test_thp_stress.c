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
 *  khugepaged    umm's own thread, scanning every millisecond: collapses
 *                the blocks the others split, under all of them
 *  reader        smaps, pagemap, maps, mincore and vmstat of the mms
 *  collapse pair three blocks: writer 3 writes records across the page
 *                boundaries of the first half of the first one and checks
 *                each at once, while the collapser, owning the rest, splits
 *                a block (a page read-only and back), zaps pages of it
 *                (they must come back zero), pins a page of it (-EAGAIN,
 *                the pin still sees writes), advises it MADV_NOHUGEPAGE
 *                (-EINVAL) or maps it afresh (-EINVAL), and collapses it
 *                back with MADV_COLLAPSE, one block or all three (some THPs
 *                already); ranges inside a block (-EINVAL) or running into
 *                the hole after K (-ENOMEM) are refused
 *  lazy pair     mm3 (madvise mode, a frame limit): two threads share the
 *                THP L, half each, with exact models: writes, MADV_FREE of
 *                pieces (the leaf and then the folio split under the other
 *                half's writes, faults, zaps, mprotects and pins; contents
 *                stay), MADV_DONTNEED, munmap, mprotect, pins, collapse, L
 *                afresh. Between, each faults in MADV_HUGEPAGE blocks and
 *                unmaps all but a few pages it keeps checking, and a hog
 *                fills the limit: faults run out of memory and split the
 *                partly unmapped THPs (deferred split); an access that still
 *                gets -ENOMEM gives a block back and must then get through
 *
 * MADV_FREE comes in elsewhere too: the same-THP churner frees pieces of
 * S's second half under writer 2, the churners (exact models: contents
 * stay), the forker on either side of a fork (a folio the other side maps
 * stays whole) and the splitter under the pinner's pins.
 *
 * MADV_COLLAPSE comes in everywhere else too: the writers collapse their
 * own blocks after an mprotect, the same-THP churner the block under the
 * same-THP writer, the churners blocks of their windows (exact models:
 * contents unchanged), the forker the parent's or the child's blocks
 * while the other side lives, and the pinner its block while it holds the
 * pin (-EAGAIN, the same frame after) and once it let go.
 *
 * At the end every frame and table is returned, vmstat shows THPs were
 * faulted in, split and collapsed in both mms, folios were split in mm
 * and mm3, some of those in mm3 out of memory, and mm3 unmapped holds
 * nothing but its tables.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "mm.h"
#include "page_alloc.h"
#include "uapi_mman.h"

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
#define K_BASE		SLOT(30)	/* collapse pair: slots 30-32, hole 33 */
#define K_BLOCKS	3
#define K_PAGES		(K_BLOCKS * HP_PAGES)
#define K_FIRST		(HP_PAGES / 2)	/* the collapser's first page */

static struct umm_mm *mm;	/* UMM_THP_ALWAYS: every thread but one */
static struct umm_mm *mm2;	/* UMM_THP_MADVISE: churn 1 alone */
static struct umm_mm *mm3;	/* UMM_THP_MADVISE, a frame limit: the lazy pair */
static bool stop;
/* fork copies pinned pages: no write into a pinned page meanwhile */
static pthread_rwlock_t pin_lock = PTHREAD_RWLOCK_INITIALIZER;

static uint64_t n_writes, n_checks, n_lost, n_wprot, n_remaps;
static uint64_t n_cmremap, n_cpiece, n_cunmap, n_cprot, n_cdontneed, n_cadvise;
static uint64_t n_s_ops, n_forks, n_cow_shared, n_pins, n_splits, n_reads;
static uint64_t n_k_ops, n_k_pinned, n_k_overlap;
static uint64_t n_s_free, n_cfree, n_f_free, n_p_free;
static uint64_t n_collapse_ok, n_collapse_busy, n_collapse_busy_forked, n_collapse_refused;

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

/*
 * ---- seqcounts: odd while a thread changes what another's collapse meets ----
 *
 * fork_seq: a fork child of mm lives; its faults and its teardown hold
 * references on pages it shares with mm for a moment, so that a collapse
 * in mm may find them busy (-EAGAIN). s_remap_seq: the same-THP writer
 * maps its block afresh. split_seq: the splitter has P in pieces.
 */
static uint64_t fork_seq, s_remap_seq, split_seq;
static bool k_collapsing;	/* the collapser is collapsing writer 3's block */

static uint64_t seq_load(const uint64_t *s)
{
	return __atomic_load_n(s, __ATOMIC_SEQ_CST);
}

static void seq_bump(uint64_t *s)
{
	__atomic_add_fetch(s, 1, __ATOMIC_SEQ_CST);
}

/* Nothing changed since @s0 was read (and nothing was changing then). */
static bool seq_same(const uint64_t *s, uint64_t s0)
{
	return !(s0 & 1) && seq_load(s) == s0;
}

static uint64_t collapse_allocs(struct umm_mm *m)
{
	return mm_stat_read(m, MM_THP_COLLAPSE_ALLOC);
}

#define C_ANY		1	/* @want: any result, the caller cannot know */
#define C_STRICT	1	/* @flags: no fork child but the caller's own lives */

/*
 * collapse - MADV_COLLAPSE of [a, a + len) in @m, and a check of its
 * result. @want: what the caller's own doings make certain, or C_ANY
 * (0, -EINVAL, -EAGAIN, -ENOMEM, or -EBUSY: the mm's phys_limit). Unless @flags has C_STRICT, a fork
 * child of mm that lived meanwhile may make it -EAGAIN; with @seq, a
 * change of it since @s0 makes it C_ANY.
 */
static int collapse(struct umm_mm *m, const char *who, uint64_t a, uint64_t len, int want,
		    unsigned int flags, const uint64_t *seq, uint64_t s0)
{
	uint64_t f = seq_load(&fork_seq);
	int r = umm_madvise(m, a, len, MADV_COLLAPSE);
	bool forked = m == mm && !(flags & C_STRICT) && !seq_same(&fork_seq, f);

	if (seq && !seq_same(seq, s0))
		want = C_ANY;
	if (!r)
		count(&n_collapse_ok);
	else if (r == -EAGAIN)
		count(forked && want != -EAGAIN ? &n_collapse_busy_forked : &n_collapse_busy);
	else
		count(&n_collapse_refused);
	if (want == C_ANY ? !(!r || r == -EINVAL || r == -EAGAIN || r == -ENOMEM ||
			      r == -EBUSY) :
	    r != want && !(forked && r == -EAGAIN)) {
		fprintf(stderr, "%s: mm %p: collapse %#llx+%#llx: want %d, got %d\n", who,
			(void *)m, (unsigned long long)a, (unsigned long long)len, want, r);
		my_lost++;	/* a churner shows what led to it */
		umm_maps(m, stderr);	/* the VMAs it met (or nearly) */
		CHECK_EQ(r, want);
	}
	return r;
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
	bool collapse_target;	/* writes across page boundaries, checks each at
				 * once, never remaps: the collapser's block */
	uint64_t seed, gen;
	uint64_t *shadow;	/* generation of the last write, 0: zero */
};

static uint64_t w_addr(uint64_t base, uint64_t pg)
{
	return base + pg * PAGE_SIZE + (pg % 63) * W_WORDS * 8;
}

/* Where page @pg's words are: across its end into the next page, for writer 3. */
static uint64_t w_where(const struct writer *w, uint64_t pg)
{
	if (w->collapse_target)
		return w->base + (pg + 1) * PAGE_SIZE - W_WORDS * 4;
	return w_addr(w->base, pg);
}

static uint64_t w_pat(const struct writer *w, uint64_t addr, unsigned int i, uint64_t gen)
{
	return gen ? (addr + 8 * i) ^ (gen << 20) ^ ((uint64_t)w->id << 58) : 0;
}

static void w_write(struct writer *w, uint64_t pg)
{
	uint64_t a = w_where(w, pg), v[W_WORDS], gen = ++w->gen;

	for (unsigned int i = 0; i < W_WORDS; i++)
		v[i] = w_pat(w, a, i, gen);
	if (w->collapse_target && __atomic_load_n(&k_collapsing, __ATOMIC_RELAXED))
		count(&n_k_overlap);
	CHECK_EQ(umm_write(mm, a, v, sizeof(v)), sizeof(v));
	w->shadow[pg] = gen;
	count(&n_writes);
}

static void w_check(struct writer *w, uint64_t pg)
{
	uint64_t a = w_where(w, pg), v[W_WORDS];
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

	if (a == S_BASE)
		seq_bump(&s_remap_seq);
	CHECK_EQ(umm_mmap(mm, a, HP, RW, ANON_FIXED, NULL, 0), (int64_t)a);
	if (a == S_BASE)
		seq_bump(&s_remap_seq);
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
	CHECK_EQ(umm_write(mm, w_where(w, pg), &v, sizeof(v)), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, a, len, RW), 0);
	w_check(w, pg);
	w_write(w, pg);
	w_check(w, pg);
	/* the block is this writer's, written (faulted), in one VMA: a THP again */
	if (xrand(&w->seed) % 32 == 0) {
		collapse(mm, "writer", w->base + first / HP_PAGES * HP, HP, 0, 0, NULL, 0);
		w_check(w, pg);
		w_check(w, first + xrand(&w->seed) % n);
	}
	count(&n_wprot);
}

static void *writer(void *arg)
{
	struct writer *w = arg;
	uint64_t iter = 0;

	w->shadow = calloc(w->pages, sizeof(*w->shadow));
	CHECK(w->shadow);
	if (!w->shadow)
		return NULL;
	while (!stopping()) {
		uint64_t r = xrand(&w->seed) % 10000;
		uint64_t pg = xrand(&w->seed) % w->pages;

		/*
		 * A fourth spinner would starve the threads that take locks:
		 * full speed only while the collapser collapses its block.
		 */
		if (w->collapse_target && !(++iter % 16) &&
		    !__atomic_load_n(&k_collapsing, __ATOMIC_RELAXED)) {
			struct timespec ts = { 0, 100 * 1000 };

			nanosleep(&ts, NULL);
		}

		if (r < 5500) {
			w_write(w, pg);
			/* at once: a write that a collapse lost shows */
			if (w->collapse_target)
				w_check(w, pg);
		} else if (r < 9950 || (!w->self_churn && r < 9995) || w->collapse_target) {
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

/*
 * Collapse S under the same-THP writer: @want (0, or C_ANY while S may be
 * in pieces), unless the writer mapped it afresh since @s0, read before
 * this thread's last write (which faulted the block in): no table, no
 * anon_vma yet, -EINVAL. @q must read @v at q + 64 after it and the rest
 * of its page zero (@v 0: all zero).
 */
static void s_collapse(uint64_t q, uint64_t v, int want, uint64_t s0)
{
	static __thread uint64_t buf[PAGE_SIZE / 8];

	collapse(mm, "same-THP churn", S_BASE, HP, want, 0, &s_remap_seq, s0);
	CHECK_EQ(umm_read(mm, q, buf, PAGE_SIZE), PAGE_SIZE);
	for (unsigned int i = 0; i < PAGE_SIZE / 8; i++) {
		uint64_t want = i == 8 ? v : 0;

		/* a fresh block in between: zero */
		if (buf[i] != want && !(i == 8 && !buf[i] && !seq_same(&s_remap_seq, s0))) {
			lost("same-THP collapse", mm, q + i * 8, want, buf[i]);
			break;
		}
	}
}

static void *same_thp_churn(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 41 + 3, s_w = 1, whole_at = 0;

	while (!stopping()) {
		uint64_t q = S_BASE + (HP_PAGES / 2 + xrand(&seed) % (HP_PAGES / 2)) * PAGE_SIZE;
		uint64_t v = q ^ 0xc0ffee, s0 = seq_load(&s_remap_seq);
		unsigned int op = xrand(&seed) % 5;
		bool coll = xrand(&seed) % 8 == 0;
		int want;

		/* until the writer maps S afresh once more, it may stay in pieces */
		if (whole_at && s0 >= whole_at)
			whole_at = 0;
		want = whole_at ? C_ANY : 0;

		switch (op) {
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
			if (xrand(&seed) & 1) {
				/*
				 * Lazily freed, from q on: the leaf and then the
				 * folio split under the writer; contents stay.
				 */
				uint64_t n = 1 + xrand(&seed) % ((S_BASE + HP - q) / PAGE_SIZE);

				CHECK_EQ(umm_madvise(mm, q, n * PAGE_SIZE, MADV_FREE), 0);
				count(&n_s_free);
				break;
			}
			CHECK_EQ(umm_madvise(mm, q, PAGE_SIZE, MADV_DONTNEED), 0);
			/* a none entry in the table: a zero page in the THP */
			if (coll)
				s_collapse(q, 0, want, s_w);
			break;
		default:
			CHECK_EQ(umm_mremap(mm, q, PAGE_SIZE, PAGE_SIZE,
					    MREMAP_MAYMOVE | MREMAP_FIXED, S_SCRATCH),
				 (int64_t)S_SCRATCH);
			CHECK_EQ(umm_mremap(mm, S_SCRATCH, PAGE_SIZE, PAGE_SIZE,
					    MREMAP_MAYMOVE | MREMAP_FIXED, q), (int64_t)q);
			/*
			 * A fresh block meanwhile has another anon_vma (or
			 * gets one): the page came back as a VMA of its own.
			 */
			if (!seq_same(&s_remap_seq, s0)) {
				whole_at = ((seq_load(&s_remap_seq) + 1) & ~1ULL) + 2;
				want = C_ANY;
			}
			break;
		}
		/* the writer may have remapped the block: any page is RW */
		s0 = seq_load(&s_remap_seq);
		CHECK_EQ(umm_write(mm, q + 64, &v, sizeof(v)), sizeof(v));
		/* the leaf split (or q fresh) under the writer: collapse it back */
		if (coll && op != 3)
			s_collapse(q, v, want, s0);
		s_w = s0;
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
		c->whole[d] = c->whole[b];	/* in pieces, moved in pieces */
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

/* MADV_DONTNEED (zero after), or a quarter of the time MADV_FREE (contents stay) */
static void c_dontneed(struct churn *c, uint64_t pg, uint64_t n)
{
	bool lazy = xrand(&c->seed) % 4 == 0;

	if (!c_all_mapped(c, pg, n))
		return;
	c_trace(c, "%s pg %llu n %llu", lazy ? "free" : "dontneed", (unsigned long long)pg,
		(unsigned long long)n);
	CHECK_EQ(umm_madvise(c->m, c_addr(c, pg), n * PAGE_SIZE,
			     lazy ? MADV_FREE : MADV_DONTNEED), 0);
	if (lazy) {
		/* the leaf split, the folio too unless a neighbour's VMA holds it */
		c_check_range(c, pg, n);
		if (xrand(&c->seed) & 1)
			c_write(c, pg + xrand(&c->seed) % n);
		count(&n_cfree);
		return;
	}
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

/*
 * MADV_COLLAPSE of a block or of the whole window: contents unchanged. A
 * block that lies in one VMA was written since it was mapped (faulted)
 * and is not advised: it collapses (or was a THP).
 */
static void c_collapse(struct churn *c)
{
	uint64_t b = xrand(&c->seed) % C_BLOCKS, first = b, n = 1;
	int want = 0;

	if (xrand(&c->seed) % 4 == 0) {
		first = 0;
		n = C_BLOCKS;
	}
	for (uint64_t i = first; i < first + n; i++)
		if (!c->whole[i])
			want = C_ANY;
	c_trace(c, "collapse block %llu n %llu: want %d", (unsigned long long)first,
		(unsigned long long)n, want);
	collapse(c->m, "churn", c->base + first * HP, n * HP, want, 0, NULL, 0);
	for (int i = 0; i < 16; i++)
		c_check(c, first * HP_PAGES + xrand(&c->seed) % (n * HP_PAGES));
	b = first * HP_PAGES + xrand(&c->seed) % (n * HP_PAGES);
	if (c->shadow[b] != UNMAPPED)
		c_write(c, b);
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
		} else if (r < 90) {
			c_collapse(c);
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
static bool f_faulted[2], fc_faulted[2];	/* a block written since it was mapped */

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
 * One turn of the parent (@m is mm) or of the child, on F as @shadow and
 * @faulted have it; @child_alive: the parent's F may still be shared.
 * Return: whether it collapsed (for the caller to check the other side).
 */
static bool f_turn(struct umm_mm *m, uint64_t *shadow, bool *faulted, uint64_t *seed,
		   uint64_t *ctr, bool child_alive)
{
	uint64_t b = xrand(seed) & 1, pg = xrand(seed) % F_PAGES;
	uint64_t n = xrand(seed) % 32 + 1, blk = F_BASE + b * HP, v = 1;
	bool child = m != mm;

	if (n > F_PAGES - pg)
		n = F_PAGES - pg;
	switch (xrand(seed) % 7) {
	case 0:
	case 1:
		for (int i = 0; i < 4; i++) {
			pg = xrand(seed) % F_PAGES;
			if (shadow[pg] == UNMAPPED)
				continue;
			shadow[pg] = ((child ? 0xcULL : 0xfULL) << 56) | ++*ctr;
			put_stamp(m, F_BASE + pg * PAGE_SIZE, shadow[pg]);
			faulted[pg / HP_PAGES] = true;
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
				return false;
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
				return false;
		if (xrand(seed) % 3 == 0) {
			/*
			 * Lazily freed: a folio the other side maps too stays
			 * whole, one this side has alone is split; either way
			 * the contents stay.
			 */
			CHECK_EQ(umm_madvise(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE,
					     MADV_FREE), 0);
			f_check(m, shadow, pg);
			f_check(m, shadow, pg + n - 1);
			count(&n_f_free);
			break;
		}
		CHECK_EQ(umm_madvise(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE,
				     MADV_DONTNEED), 0);
		for (uint64_t i = 0; i < n; i++)
			shadow[pg + i] = 0;
		break;
	case 5:
		/* the parent's F stays mapped; the child may lose pages */
		if (!child)
			break;
		CHECK_EQ(umm_munmap(m, F_BASE + pg * PAGE_SIZE, n * PAGE_SIZE), 0);
		for (uint64_t i = 0; i < n; i++)
			shadow[pg + i] = UNMAPPED;
		break;
	default: {
		/*
		 * One block or both, shared with the other side or not: a
		 * block written since it was mapped, all of it mapped, collapses
		 * (only this thread's own child may share the pages).
		 */
		uint64_t first = (xrand(seed) & 1) ? 0 : b, nb = first == b ? 1 : 2;
		int want = 0;

		for (uint64_t i = first; i < first + nb; i++)
			if (!faulted[i])
				want = C_ANY;
		for (uint64_t i = first * HP_PAGES; i < (first + nb) * HP_PAGES; i++)
			if (shadow[i] == UNMAPPED)
				want = C_ANY;
		collapse(m, child ? "fork child" : "fork parent", F_BASE + first * HP, nb * HP,
			 want, C_STRICT, NULL, 0);
		for (int i = 0; i < 12; i++)
			f_check(m, shadow, first * HP_PAGES + xrand(seed) % (nb * HP_PAGES));
		return true;
	}
	}
	for (int i = 0; i < 4; i++)
		f_check(m, shadow, xrand(seed) % F_PAGES);
	return false;
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
			f_faulted[0] = f_faulted[1] = false;
		}
		for (int i = 0; i < 16; i++) {
			uint64_t pg = xrand(&seed) % F_PAGES;

			f_shadow[pg] = (0xfULL << 56) | ++ctr;
			put_stamp(mm, F_BASE + pg * PAGE_SIZE, f_shadow[pg]);
			f_faulted[pg / HP_PAGES] = true;
		}
		pthread_rwlock_wrlock(&pin_lock);
		seq_bump(&fork_seq);	/* a child lives from here */
		r = umm_fork(mm, &child);
		if (pin_pub.valid) {
			pin_addr = pin_pub.addr;
			pin_val[0] = pin_pub.val[0];
			pin_val[1] = pin_pub.val[1];
		}
		pthread_rwlock_unlock(&pin_lock);
		CHECK_EQ(r, 0);
		if (r) {
			seq_bump(&fork_seq);
			continue;
		}
		memcpy(fc_shadow, f_shadow, sizeof(f_shadow));
		memcpy(fc_faulted, f_faulted, sizeof(f_faulted));
		/* the child sees the parent's data as it was at the fork ... */
		for (int i = 0; i < 16; i++)
			f_check(child, fc_shadow, xrand(&seed) % F_PAGES);
		/* ... also in the pinned THP, copied for it (or shared, unpinned) */
		if (pin_addr) {
			check_stamp("fork child pin", child, pin_addr, pin_val[0]);
			check_stamp("fork child pin", child, pin_addr + PAGE_SIZE, pin_val[1]);
		}
		for (unsigned int t = 0; t < turns; t++) {
			bool coll;

			if (t == destroy_at) {
				umm_mm_destroy(child);
				child = NULL;
				seq_bump(&fork_seq);
			}
			if (child && (xrand(&seed) & 1))
				coll = f_turn(child, fc_shadow, fc_faulted, &seed, &ctr, true);
			else
				coll = f_turn(mm, f_shadow, f_faulted, &seed, &ctr, child != NULL);
			/* a collapse on one side leaves the other as it was */
			for (int i = 0; coll && child && i < 8; i++) {
				f_check(child, fc_shadow, xrand(&seed) % F_PAGES);
				f_check(mm, f_shadow, xrand(&seed) % F_PAGES);
			}
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
			seq_bump(&fork_seq);
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
			if (i == 4) {
				uint64_t s0 = seq_load(&split_seq);

				/*
				 * Split the leaf (if the splitter has not), then
				 * collapse: the pinned pages keep the block as it
				 * is, unless the splitter has its VMA in pieces.
				 */
				CHECK_EQ(umm_mprotect(mm, a + PAGE_SIZE, PAGE_SIZE, PROT_READ), 0);
				CHECK_EQ(umm_mprotect(mm, a + PAGE_SIZE, PAGE_SIZE, RW), 0);
				if (collapse(mm, "pin", P_BASE, HP, -EAGAIN, 0, &split_seq, s0) ==
				    -EAGAIN)
					count(&n_k_pinned);
			}
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
		/* let go: the split block collapses, the contents stay */
		if (xrand(&seed) % 4 == 0) {
			uint64_t s0 = seq_load(&split_seq);

			collapse(mm, "pin", P_BASE, HP, 0, 0, &split_seq, s0);
			pthread_rwlock_rdlock(&pin_lock);
			check_stamp("pin collapsed", mm, a, pin_pub.val[0]);
			check_stamp("pin collapsed", mm, a + PAGE_SIZE, pin_pub.val[1]);
			pthread_rwlock_unlock(&pin_lock);
		}
		count(&n_pins);
	}
	return NULL;
}

static void *splitter(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 71 + 9;

	while (!stopping()) {
		uint64_t q = P_BASE + (HP_PAGES / 2 + xrand(&seed) % (HP_PAGES / 2)) * PAGE_SIZE;

		seq_bump(&split_seq);	/* P in pieces: a collapse may be refused */
		if (xrand(&seed) % 8 == 0) {
			/* the folio too, unless the pinner holds a page of it */
			uint64_t n = 1 + xrand(&seed) % 8, left = (P_BASE + HP - q) / PAGE_SIZE;

			CHECK_EQ(umm_madvise(mm, q, PAGE_SIZE * (n < left ? n : left), MADV_FREE),
				 0);
			count(&n_p_free);
		} else if (xrand(&seed) % 4) {
			CHECK_EQ(umm_mprotect(mm, q, PAGE_SIZE, PROT_READ), 0);
			CHECK_EQ(umm_mprotect(mm, q, PAGE_SIZE, RW), 0);
		} else {
			CHECK_EQ(umm_munmap(mm, q, PAGE_SIZE), 0);
			CHECK_EQ(umm_mmap(mm, q, PAGE_SIZE, RW, ANON_FIXED, NULL, 0),
				 (int64_t)q);
		}
		seq_bump(&split_seq);
		count(&n_splits);
		/* mmap_lock is fair game for the others too */
		sched_yield();
	}
	return NULL;
}

/*
 * ---- the collapser: K but the first half of its first block ----
 *
 * Writer 3 writes and checks the first half of block 0 all along, across
 * page boundaries, through the lockless software-TLB path; the collapser
 * keeps an exact model of the rest (stamps, 0 zero). It never zaps a
 * whole block and writes a fresh one at once, so every block has a page
 * table or a leaf and its VMA an anon_vma: a collapse of whole blocks
 * succeeds unless a page is pinned (-EAGAIN) or advised against (-EINVAL).
 */

static uint64_t k_shadow[K_PAGES];

static uint64_t k_addr(uint64_t pg)
{
	return K_BASE + pg * PAGE_SIZE;
}

static void k_write(uint64_t pg, uint64_t *ctr)
{
	k_shadow[pg] = (0x3ULL << 56) | ++*ctr;
	put_stamp(mm, k_addr(pg), k_shadow[pg]);
}

static void k_check(uint64_t pg)
{
	if (pg >= K_FIRST && pg < K_PAGES)
		check_stamp("collapser", mm, k_addr(pg), k_shadow[pg]);
}

/* A page of the collapser's, in block 0 half the time (the shared one). */
static uint64_t k_page(uint64_t *seed)
{
	if (xrand(seed) & 1)
		return K_FIRST + xrand(seed) % (HP_PAGES - K_FIRST);
	return HP_PAGES + xrand(seed) % (K_PAGES - HP_PAGES);
}

/* Split the leaf of @pg's block: one page read-only and back. */
static void k_split(uint64_t pg)
{
	uint64_t v = 1;

	CHECK_EQ(umm_mprotect(mm, k_addr(pg), PAGE_SIZE, PROT_READ), 0);
	k_check(pg);
	CHECK_EQ(umm_write(mm, k_addr(pg), &v, sizeof(v)), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, k_addr(pg), PAGE_SIZE, RW), 0);
}

/* Collapse block @b (just split): a new THP, contents as they were. */
static void k_collapse_block(uint64_t b, uint64_t *seed)
{
	uint64_t before = collapse_allocs(mm);
	int r;

	__atomic_store_n(&k_collapsing, !b, __ATOMIC_RELAXED);
	r = collapse(mm, "collapser", K_BASE + b * HP, HP, 0, 0, NULL, 0);
	__atomic_store_n(&k_collapsing, false, __ATOMIC_RELAXED);
	if (!r)
		CHECK(collapse_allocs(mm) > before);
	for (int i = 0; i < 8; i++)
		k_check(b * HP_PAGES + xrand(seed) % HP_PAGES);
}

/*
 * Pin a page of block 1 or 2 (not block 0: a fork copies every page of a
 * pinned folio, and writer 3 writes there), split the block: no collapse
 * while pinned, the pin and umm keep agreeing, the table comes back with
 * the same frame; once unpinned the block collapses with what was written.
 */
static void k_pin(uint64_t *seed, uint64_t *ctr)
{
	uint64_t pg = HP_PAGES + xrand(seed) % (K_PAGES - HP_PAGES), b = pg / HP_PAGES;
	uint64_t q = b * HP_PAGES + xrand(seed) % HP_PAGES, v[2];
	void *ptr = NULL, *again = NULL;

	if (umm_pin(mm, k_addr(pg), 1, UMM_READ | UMM_WRITE, &ptr)) {
		CHECK(0);
		return;
	}
	k_split(q);
	if (collapse(mm, "collapser pinned", K_BASE + b * HP, HP, -EAGAIN, 0, NULL, 0) == -EAGAIN)
		count(&n_k_pinned);
	/* fork copies pinned pages: not while they are written */
	pthread_rwlock_rdlock(&pin_lock);
	k_write(pg, ctr);
	memcpy(v, ptr, sizeof(v));
	if (v[0] != k_shadow[pg] || v[1] != ~k_shadow[pg])
		lost("collapser pin host", mm, k_addr(pg), k_shadow[pg], v[0]);
	k_shadow[pg] = (0x4ULL << 56) | ++*ctr;
	v[0] = k_shadow[pg];
	v[1] = ~k_shadow[pg];
	memcpy(ptr, v, sizeof(v));
	k_check(pg);
	pthread_rwlock_unlock(&pin_lock);
	/* the whole K, block 1 or 2 pinned: the others collapse, -EAGAIN */
	collapse(mm, "collapser pinned", K_BASE, K_BLOCKS * HP, -EAGAIN, 0, NULL, 0);
	/* the table went back as it was: the same frame */
	CHECK_EQ(umm_pin(mm, k_addr(pg), 1, UMM_READ, &again), 0);
	CHECK(again == ptr);
	umm_unpin(mm, &again, 1);
	umm_unpin(mm, &ptr, 1);
	k_collapse_block(b, seed);
	k_check(pg);
}

/* This thread's CPU time, in seconds. */
static double cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *collapser(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 53 + 7, ctr = 0;

	for (uint64_t pg = K_FIRST; pg < K_PAGES; pg += HP_PAGES / 4)
		k_write(pg, &ctr);
	while (!stopping()) {
		uint64_t r = xrand(&seed) % 100, pg = k_page(&seed), b = pg / HP_PAGES;
		uint64_t lo = b ? b * HP_PAGES : K_FIRST, hi = (b + 1) * HP_PAGES;
		uint64_t n = xrand(&seed) % 16 + 1;
		double t0 = cpu_sec(), pause;
		struct timespec ts = { 0, 0 };

		if (r < 25) {
			for (int i = 0; i < 4; i++)
				k_write(k_page(&seed), &ctr);
		} else if (r < 50) {
			/* the leaf split under writer 3 (block 0), then collapsed */
			k_split(pg);
			k_check(pg);
			k_collapse_block(b, &seed);
			k_check(pg);
		} else if (r < 65) {
			/* none entries: zero pages in the THP */
			if (pg + n > hi)
				pg = hi - n;
			if (pg < lo)
				pg = lo;
			CHECK_EQ(umm_madvise(mm, k_addr(pg), n * PAGE_SIZE, MADV_DONTNEED), 0);
			for (uint64_t i = 0; i < n; i++)
				k_shadow[pg + i] = 0;
			k_collapse_block(b, &seed);
			for (uint64_t i = 0; i < n; i++)
				k_check(pg + i);
			k_check(pg - 1);
			k_check(pg + n);
		} else if (r < 75) {
			/* several blocks, some THPs already; blocks the ends cut are left */
			uint64_t x = (xrand(&seed) & 1) ? xrand(&seed) % HP_PAGES : 0;
			uint64_t y = (xrand(&seed) & 1) ? xrand(&seed) % HP_PAGES : 0;

			if (xrand(&seed) & 1)
				k_split(pg);
			__atomic_store_n(&k_collapsing, !x, __ATOMIC_RELAXED);
			collapse(mm, "collapser", K_BASE + x * PAGE_SIZE,
				 K_BLOCKS * HP - (x + y) * PAGE_SIZE, 0, 0, NULL, 0);
			__atomic_store_n(&k_collapsing, false, __ATOMIC_RELAXED);
			for (int i = 0; i < 8; i++)
				k_check(k_page(&seed));
		} else if (r < 80) {
			k_pin(&seed, &ctr);
		} else if (r < 84) {
			/* advised against: refused, the blocks before still done */
			uint64_t last = K_BASE + 2 * HP;

			CHECK_EQ(umm_madvise(mm, last, HP, MADV_NOHUGEPAGE), 0);
			k_split(2 * HP_PAGES + xrand(&seed) % HP_PAGES);
			collapse(mm, "collapser nohuge", last, HP, -EINVAL, 0, NULL, 0);
			collapse(mm, "collapser nohuge", K_BASE, K_BLOCKS * HP, -EINVAL, 0, NULL, 0);
			CHECK_EQ(umm_madvise(mm, last, HP, MADV_HUGEPAGE), 0);
			k_collapse_block(2, &seed);
		} else if (r < 87) {
			/* inside a block (no end on its edges), or a hole after one */
			if (pg + n >= hi)
				pg = hi - n - 1;
			if (!(pg % HP_PAGES))
				pg++;
			collapse(mm, "collapser", k_addr(pg), PAGE_SIZE * n, -EINVAL, 0, NULL, 0);
			collapse(mm, "collapser", K_BASE + K_BLOCKS * HP, HP, -ENOMEM, 0, NULL, 0);
			collapse(mm, "collapser", K_BASE + 2 * HP, 2 * HP, -ENOMEM, 0, NULL, 0);
		} else if (r < 89) {
			/* block 1 or 2 afresh: never faulted, nothing to collapse */
			b = 1 + (xrand(&seed) & 1);
			CHECK_EQ(umm_mmap(mm, K_BASE + b * HP, HP, RW, ANON_FIXED, NULL, 0),
				 (int64_t)(K_BASE + b * HP));
			for (uint64_t i = 0; i < HP_PAGES; i++)
				k_shadow[b * HP_PAGES + i] = 0;
			collapse(mm, "collapser fresh", K_BASE + b * HP, HP, -EINVAL, 0, NULL, 0);
			for (int i = 0; i < 4; i++)
				k_write(b * HP_PAGES + xrand(&seed) % HP_PAGES, &ctr);
		} else {
			for (int i = 0; i < 16; i++)
				k_check(k_page(&seed));
		}
		count(&n_k_ops);
		/*
		 * It holds mmap_lock (write) for each 2 MiB copy: let the
		 * others in for four times the CPU time it took (more under
		 * TSan).
		 */
		pause = 4 * (cpu_sec() - t0);
		ts.tv_nsec = pause < 200e-6 ? 200000 : pause > 0.1 ? 100000000 : (long)(pause * 1e9);
		nanosleep(&ts, NULL);
	}
	for (uint64_t pg = K_FIRST; pg < K_PAGES; pg++)
		k_check(pg);
	return NULL;
}

/*
 * ---- the lazy pair: mm3, in madvise mode, with a frame limit ----
 *
 * Two threads share the THP L, one half each, with an exact model of
 * their own half (stamps, 0 zero, UNMAPPED): writes through the software
 * TLB, MADV_FREE of pieces (the leaf and then the folio are split under
 * the other half's writes, faults, zaps and pins; the contents stay until
 * written), MADV_DONTNEED, munmap, mprotect, pins (no folio split while
 * one is held), MADV_COLLAPSE of L, and now and then L afresh (l_lock for
 * write: a THP again). Between, each maps MADV_HUGEPAGE blocks of its
 * own, faults them in (a THP while the limit lets it), unmaps all but
 * D_KEEP pages and keeps checking those: the partly unmapped THPs fill
 * the limit until a fault runs out of memory and splits them (deferred
 * split), and a hog fills the limit with small pages once in a while. An
 * access that still meets -ENOMEM gives a block of its own back (or waits
 * for the other thread to) and tries again: it must get through.
 */
#define D_BASE		0x200000000000UL	/* 1 GiB aligned */
#define D_SLOT(n)	(D_BASE + (uint64_t)(n) * HP)
#define L_BASE		D_SLOT(1)		/* holes 0 and 2 */
#define L_HALF		(HP_PAGES / 2)
#define D_BLOCKS	8			/* a thread's blocks, a hole after each */
#define D_REGION(t)	D_SLOT(4 + (t) * 2 * D_BLOCKS)
#define D_HOG(t)	D_SLOT(40 + (t) * 6)	/* small pages, as many as the limit */
#define D_HOG_PAGES	D_LIMIT_PAGES
#define D_END		D_SLOT(52)
#define D_FILL		64			/* pages a new block is written at */
#define D_STRIDE	(HP_PAGES / D_FILL)
#define D_KEEP		4			/* of them kept mapped */
/*
 * L, a block in the making per thread, the kept pages and the tables take
 * about 3 * 512 + 100 frames at most: room for one partly unmapped THP.
 */
#define D_LIMIT_PAGES	(4 * HP_PAGES + HP_PAGES / 2)
#define D_OOM_SECONDS	20

struct dthread {
	unsigned int id;
	uint64_t seed, ctr;
	uint64_t gen;				/* the l_gen half[] is of */
	uint64_t half[L_HALF];			/* stamp, 0 zero, UNMAPPED */
	struct {
		bool used;
		uint64_t pg[D_KEEP], val[D_KEEP];	/* val UNMAPPED: unmapped since */
	} blk[D_BLOCKS];
	unsigned int next, next_free;
	int busy;				/* the block it works on, or -1 */
	uint64_t ops;
};

static pthread_rwlock_t l_lock;	/* write: L mapped afresh; prefers writers */
static uint64_t l_gen;		/* under l_lock */
static uint64_t n_l_ops, n_l_free, n_l_free_pinned, n_l_pins, n_l_remaps;
static uint64_t n_d_cycles, n_d_kept, n_d_enomem, n_d_recovered, n_d_released;
static uint64_t n_d_hogs, n_d_hog_full;
static struct dthread dthreads[2] = {
	{ .id = 0, .seed = 8, .busy = -1 },
	{ .id = 1, .seed = 9, .busy = -1 },
};

static uint64_t d_stamp(struct dthread *d)
{
	return ((0x6ULL + d->id) << 56) | ++d->ctr;
}

static uint64_t d_blk(const struct dthread *d, unsigned int b)
{
	return D_REGION(d->id) + 2 * (uint64_t)b * HP;
}

/* Give one of this thread's blocks back (not the busy one): false when none is left. */
static bool d_release(struct dthread *d)
{
	for (unsigned int i = 0; i < D_BLOCKS; i++) {
		unsigned int b = (d->next_free + i) % D_BLOCKS;

		if (!d->blk[b].used || (int)b == d->busy)
			continue;
		CHECK_EQ(umm_munmap(mm3, d_blk(d, b), HP), 0);
		d->blk[b].used = false;
		d->next_free = b + 1;
		count(&n_d_released);
		return true;
	}
	return false;
}

/*
 * An access met -ENOMEM (the limit, even after the fault split what it
 * could): give a block back, or let the other thread do so, and say
 * whether to try again (for D_OOM_SECONDS since *@t0, the first).
 */
static bool d_oom(struct dthread *d, double *t0, const char *what, uint64_t a)
{
	if (!*t0) {
		*t0 = now_sec();
		count(&n_d_enomem);
	} else if (now_sec() - *t0 > D_OOM_SECONDS) {
		fprintf(stderr, "lazy %u: %s %#llx: -ENOMEM for %d s, limit %lu frames\n", d->id,
			what, (unsigned long long)a, D_OOM_SECONDS, (unsigned long)D_LIMIT_PAGES);
		umm_vmstat(mm3, stderr);
		umm_smaps(mm3, stderr);
		return false;
	}
	if (!d_release(d)) {
		struct timespec ts = { 0, 200 * 1000 };

		nanosleep(&ts, NULL);
	}
	return true;
}

/* umm_read/umm_write in mm3, through running out of memory. */
static int64_t d_access(struct dthread *d, uint64_t a, void *buf, size_t len, bool write)
{
	double t0 = 0;

	for (;;) {
		int64_t r = write ? umm_write(mm3, a, buf, len) : umm_read(mm3, a, buf, len);

		if (r != -ENOMEM || !d_oom(d, &t0, write ? "write" : "read", a)) {
			if (t0 && r != -ENOMEM)
				count(&n_d_recovered);
			return r;
		}
	}
}

static void d_put(struct dthread *d, uint64_t a, uint64_t s)
{
	uint64_t v[2] = { s, ~s };
	int64_t r = d_access(d, a, v, sizeof(v), true);

	if (r != sizeof(v))
		lost("lazy write", mm3, a, sizeof(v), r);
}

/* @want: the stamp, 0 for a zero page, UNMAPPED for no mapping */
static void d_check(struct dthread *d, const char *who, uint64_t a, uint64_t want)
{
	uint64_t v[2] = { 0x5a5a, 0x5a5a };
	int64_t r = d_access(d, a, v, sizeof(v), false);

	count(&n_checks);
	if (want == UNMAPPED) {
		if (r != -EFAULT)
			lost(who, mm3, a, -EFAULT, r);
		return;
	}
	if (r != sizeof(v))
		lost(who, mm3, a, sizeof(v), r);
	else if (v[0] != want)
		lost(who, mm3, a, want, v[0]);
	else if (v[1] != (want ? ~want : 0))
		lost(who, mm3, a + 8, want ? ~want : 0, v[1]);
}

/* ---- the lazy pair: its half of L (l_lock held for read) ---- */

static uint64_t l_addr(const struct dthread *d, uint64_t i)
{
	return L_BASE + (d->id * L_HALF + i) * PAGE_SIZE;
}

static void l_check(struct dthread *d, uint64_t i)
{
	if (i < L_HALF)
		d_check(d, "lazy half", l_addr(d, i), d->half[i]);
}

static void l_write(struct dthread *d, uint64_t i)
{
	uint64_t s = d_stamp(d);

	d_put(d, l_addr(d, i), s);
	d->half[i] = s;
}

static bool l_all_mapped(const struct dthread *d, uint64_t i, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		if (d->half[i + k] == UNMAPPED)
			return false;
	return true;
}

static void l_check_range(struct dthread *d, uint64_t i, uint64_t n)
{
	l_check(d, i);
	l_check(d, i + n - 1);
	if (i)
		l_check(d, i - 1);
	l_check(d, i + n);
	for (int k = 0; k < 4; k++)
		l_check(d, i + xrand(&d->seed) % n);
}

/*
 * MADV_FREE of @i..: the leaf split, then the folio (all of it mapped in
 * L's table, nothing else holding it) under the other half's accesses.
 * The pages keep what they had; one written again has the new data.
 */
static void l_free(struct dthread *d, uint64_t i, uint64_t n)
{
	bool holes = !l_all_mapped(d, i, n);
	uint64_t p;

	CHECK_EQ(umm_madvise(mm3, l_addr(d, i), n * PAGE_SIZE, MADV_FREE), holes ? -ENOMEM : 0);
	l_check_range(d, i, n);
	p = i + xrand(&d->seed) % n;
	if ((xrand(&d->seed) & 1) && d->half[p] != UNMAPPED) {
		l_write(d, p);
		l_check(d, p);
	}
	count(&n_l_free);
}

/* MADV_DONTNEED: the mapped pages read zero after (a hole: -ENOMEM, the rest done). */
static void l_dontneed(struct dthread *d, uint64_t i, uint64_t n)
{
	bool holes = !l_all_mapped(d, i, n);

	CHECK_EQ(umm_madvise(mm3, l_addr(d, i), n * PAGE_SIZE, MADV_DONTNEED),
		 holes ? -ENOMEM : 0);
	for (uint64_t k = 0; k < n; k++)
		if (d->half[i + k] != UNMAPPED)
			d->half[i + k] = 0;
	l_check_range(d, i, n);
}

static void l_munmap(struct dthread *d, uint64_t i, uint64_t n)
{
	uint64_t a = l_addr(d, i);

	CHECK_EQ(umm_munmap(mm3, a, n * PAGE_SIZE), 0);
	for (uint64_t k = 0; k < n; k++)
		d->half[i + k] = UNMAPPED;
	l_check_range(d, i, n);
	if (xrand(&d->seed) % 4) {
		CHECK_EQ(umm_mmap(mm3, a, n * PAGE_SIZE, RW, ANON_FIXED, NULL, 0), (int64_t)a);
		CHECK_EQ(umm_madvise(mm3, a, n * PAGE_SIZE, MADV_HUGEPAGE), 0);
		for (uint64_t k = 0; k < n; k++)
			d->half[i + k] = 0;
		l_write(d, i + xrand(&d->seed) % n);
		l_check_range(d, i, n);
	}
}

static void l_mprotect(struct dthread *d, uint64_t i, uint64_t n)
{
	uint64_t a = l_addr(d, i), v = 1;

	if (!l_all_mapped(d, i, n))
		return;
	CHECK_EQ(umm_mprotect(mm3, a, n * PAGE_SIZE, PROT_READ), 0);
	l_check_range(d, i, n);
	CHECK_EQ(umm_write(mm3, l_addr(d, i + xrand(&d->seed) % n), &v, sizeof(v)), -EFAULT);
	CHECK_EQ(umm_mprotect(mm3, a, n * PAGE_SIZE, RW), 0);
	l_write(d, i + xrand(&d->seed) % n);
	l_check_range(d, i, n);
}

/*
 * Pin one or two pages: the host pointers and umm agree; MADV_FREE of the
 * whole half meanwhile leaves the folio whole (pinned) and the contents;
 * the same frame once more after it.
 */
static void l_pin(struct dthread *d)
{
	uint64_t i = xrand(&d->seed) % (L_HALF - 1), n = 1 + (xrand(&d->seed) & 1), v[2], s;
	void *ptr[2] = { NULL, NULL }, *again = NULL;
	double t0 = 0;
	int r;

	if (!l_all_mapped(d, i, n))
		return;
	while ((r = umm_pin(mm3, l_addr(d, i), n, UMM_READ | UMM_WRITE, ptr)) == -ENOMEM &&
	       d_oom(d, &t0, "pin", l_addr(d, i)))
		;
	if (t0 && !r)
		count(&n_d_recovered);
	CHECK_EQ(r, 0);
	if (r)
		return;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t want = d->half[i + k];

		memcpy(v, ptr[k], sizeof(v));
		if (v[0] != want || v[1] != (want ? ~want : 0))
			lost("lazy pin host", mm3, l_addr(d, i + k), want, v[0]);
	}
	/* through umm: the pinned frame shows it */
	l_write(d, i);
	memcpy(v, ptr[0], sizeof(v));
	if (v[0] != d->half[i] || v[1] != ~d->half[i])
		lost("lazy pin host", mm3, l_addr(d, i), d->half[i], v[0]);
	/* through the pin: umm shows it */
	s = d_stamp(d);
	v[0] = s;
	v[1] = ~s;
	memcpy(ptr[n - 1], v, sizeof(v));
	d->half[i + n - 1] = s;
	l_check(d, i + n - 1);
	l_free(d, 0, L_HALF);
	count(&n_l_free_pinned);
	CHECK_EQ(umm_pin(mm3, l_addr(d, i), 1, UMM_READ, &again), 0);
	CHECK(again == ptr[0]);
	umm_unpin(mm3, &again, 1);
	umm_unpin(mm3, ptr, n);
	l_check(d, i);
	l_check(d, i + n - 1);
	count(&n_l_pins);
}

/* L afresh, both halves zero: a THP again at the next touch. */
static void l_remap(void)
{
	pthread_rwlock_wrlock(&l_lock);
	CHECK_EQ(umm_mmap(mm3, L_BASE, HP, RW, ANON_FIXED, NULL, 0), (int64_t)L_BASE);
	CHECK_EQ(umm_madvise(mm3, L_BASE, HP, MADV_HUGEPAGE), 0);
	l_gen++;
	pthread_rwlock_unlock(&l_lock);
	count(&n_l_remaps);
}

/* l_lock held for read: L as this thread's model has it. */
static void l_sync(struct dthread *d)
{
	if (d->gen == l_gen)
		return;
	memset(d->half, 0, sizeof(d->half));
	d->gen = l_gen;
}

static void l_op(struct dthread *d)
{
	uint64_t r = xrand(&d->seed) % 100, i = xrand(&d->seed) % L_HALF;
	uint64_t n = xrand(&d->seed) % 32 + 1;

	if (n > L_HALF - i)
		n = L_HALF - i;
	if (r < 1) {
		l_remap();
		return;
	}
	pthread_rwlock_rdlock(&l_lock);
	l_sync(d);
	if (r < 45) {
		for (int k = 0; k < 4; k++) {
			uint64_t p = xrand(&d->seed) % L_HALF;

			if (d->half[p] == UNMAPPED)
				continue;
			l_write(d, p);
			l_check(d, p);
		}
	} else if (r < 60) {
		for (int k = 0; k < 8; k++)
			l_check(d, xrand(&d->seed) % L_HALF);
	} else if (r < 72) {
		l_free(d, i, n);
	} else if (r < 76) {
		l_free(d, 0, L_HALF);
	} else if (r < 82) {
		l_dontneed(d, i, n);
	} else if (r < 87) {
		l_munmap(d, i, n);
	} else if (r < 92) {
		l_mprotect(d, i, n);
	} else if (r < 97) {
		l_pin(d);
	} else {
		/* contents as they were, whatever came of it */
		collapse(mm3, "lazy", L_BASE, HP, C_ANY, 0, NULL, 0);
		for (int k = 0; k < 16; k++)
			l_check(d, xrand(&d->seed) % L_HALF);
	}
	count(&n_l_ops);
	pthread_rwlock_unlock(&l_lock);
}

/* ---- the lazy pair: blocks run short of memory ---- */

static void d_check_block(struct dthread *d, unsigned int b)
{
	for (unsigned int k = 0; k < D_KEEP; k++)
		d_check(d, "lazy kept", d_blk(d, b) + d->blk[b].pg[k] * PAGE_SIZE,
			d->blk[b].val[k]);
}

/*
 * A block afresh: written at D_FILL pages (a THP, if the limit lets it),
 * then all but D_KEEP of those unmapped: the folio stays, all 512 frames
 * charged, until a fault that runs out of memory splits it.
 */
static void d_cycle(struct dthread *d)
{
	unsigned int b = d->next++ % D_BLOCKS;
	uint64_t a = d_blk(d, b), val[D_FILL], prev = 0;

	if (d->blk[b].used) {
		d_check_block(d, b);
		CHECK_EQ(umm_munmap(mm3, a, HP), 0);
		d->blk[b].used = false;
	}
	CHECK_EQ(umm_mmap(mm3, a, HP, RW, ANON_FIXED, NULL, 0), (int64_t)a);
	CHECK_EQ(umm_madvise(mm3, a, HP, MADV_HUGEPAGE), 0);
	for (unsigned int k = 0; k < D_FILL; k++) {
		val[k] = d_stamp(d);
		d_put(d, a + k * D_STRIDE * PAGE_SIZE, val[k]);
	}
	for (int j = 0; j < 8; j++) {
		unsigned int k = xrand(&d->seed) % D_FILL;

		d_check(d, "lazy fill", a + k * D_STRIDE * PAGE_SIZE, val[k]);
	}
	for (unsigned int j = 0; j < D_KEEP; j++) {
		unsigned int k = j * (D_FILL / D_KEEP) + xrand(&d->seed) % (D_FILL / D_KEEP);

		d->blk[b].pg[j] = k * D_STRIDE;
		d->blk[b].val[j] = val[k];
	}
	for (unsigned int j = 0; j <= D_KEEP; j++) {
		uint64_t end = j < D_KEEP ? d->blk[b].pg[j] : HP_PAGES;

		if (end > prev)
			CHECK_EQ(umm_munmap(mm3, a + prev * PAGE_SIZE, (end - prev) * PAGE_SIZE), 0);
		prev = end + 1;
	}
	d->blk[b].used = true;
	d_check_block(d, b);
	/* a page kept is a multiple of D_STRIDE: the next one went */
	d_check(d, "lazy gone", a + (d->blk[b].pg[0] + 1) * PAGE_SIZE, UNMAPPED);
	count(&n_d_cycles);
}

/* A kept page: written again, mprotected and back, or unmapped too. */
static void d_kept_op(struct dthread *d)
{
	unsigned int b = xrand(&d->seed) % D_BLOCKS, k = xrand(&d->seed) % D_KEEP;
	uint64_t a = d_blk(d, b) + d->blk[b].pg[k] * PAGE_SIZE, v = 1;

	if (!d->blk[b].used || d->blk[b].val[k] == UNMAPPED)
		return;
	d->busy = (int)b;
	switch (xrand(&d->seed) % 4) {
	case 0:
	case 1:
		CHECK_EQ(umm_mprotect(mm3, a, PAGE_SIZE, PROT_READ), 0);
		d_check(d, "lazy kept ro", a, d->blk[b].val[k]);
		CHECK_EQ(umm_write(mm3, a, &v, sizeof(v)), -EFAULT);
		CHECK_EQ(umm_mprotect(mm3, a, PAGE_SIZE, RW), 0);
		break;
	case 2:
		CHECK_EQ(umm_munmap(mm3, a, PAGE_SIZE), 0);
		d->blk[b].val[k] = UNMAPPED;
		break;
	default:
		d->blk[b].val[k] = d_stamp(d);
		d_put(d, a, d->blk[b].val[k]);
		break;
	}
	d_check_block(d, b);
	d->busy = -1;
	count(&n_d_kept);
}

/*
 * Small pages up to the limit (-ENOMEM, once the fault split what it
 * could), then all back: the other thread's accesses meanwhile run short.
 */
static void d_hog(struct dthread *d)
{
	uint64_t a = D_HOG(d->id), tag = ((0x8ULL + d->id) << 56) | (d->ctr << 12), k;

	CHECK_EQ(umm_mmap(mm3, a, D_HOG_PAGES * PAGE_SIZE, RW, ANON_FIXED, NULL, 0),
		 (int64_t)a);
	for (k = 0; k < D_HOG_PAGES; k++) {
		uint64_t v[2] = { tag | k, ~(tag | k) };
		int64_t r = umm_write(mm3, a + k * PAGE_SIZE, v, sizeof(v));

		if (r == -ENOMEM)
			break;
		CHECK_EQ(r, sizeof(v));
		if (r != sizeof(v))
			break;
	}
	if (k == D_HOG_PAGES)
		count(&n_d_hog_full);
	for (int j = 0; k && j < 16; j++) {
		uint64_t p = xrand(&d->seed) % k;

		d_check(d, "lazy hog", a + p * PAGE_SIZE, tag | p);
	}
	CHECK_EQ(umm_munmap(mm3, a, D_HOG_PAGES * PAGE_SIZE), 0);
	d->ctr++;
	count(&n_d_hogs);
}

static void *lazy(void *arg)
{
	struct dthread *d = arg;

	pthread_rwlock_rdlock(&l_lock);
	d->gen = l_gen;		/* L mapped afresh, all zero */
	pthread_rwlock_unlock(&l_lock);
	while (!stopping()) {
		uint64_t r = xrand(&d->seed) % 200;

		if (r < 120)
			l_op(d);
		else if (r < 176)
			d_cycle(d);
		else if (r < 198)
			d_kept_op(d);
		else
			d_hog(d);
		d->ops++;
		/* two more threads that never wait would starve the mm's */
		if (!(d->ops % 4)) {
			struct timespec ts = { 0, 100 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	pthread_rwlock_rdlock(&l_lock);
	l_sync(d);
	for (uint64_t i = 0; i < L_HALF; i++)
		l_check(d, i);
	pthread_rwlock_unlock(&l_lock);
	for (unsigned int b = 0; b < D_BLOCKS; b++)
		if (d->blk[b].used)
			d_check_block(d, b);
	return NULL;
}

/* ---- walkers: every pmd_entry against every split ---- */

static void *reader(void *arg)
{
	static const uint64_t bases[] = { W0_BASE, W1_BASE, S_BASE, F_BASE, P_BASE,
					  C0_BASE, C1_BASE, C0_BASE + 2 * HP, K_BASE,
					  K_BASE + 2 * HP };
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
		case 0: {
			struct umm_mm *const ms[] = { mm, mm2, mm3 };

			CHECK_EQ(umm_smaps(ms[xrand(&seed) % 3], null), 0);
			break;
		}
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
			/* the lazy pair's L too, split under it */
			if (xrand(&seed) % 4 == 0)
				CHECK_EQ(umm_pagemap(mm3, L_BASE - HP / 4, HP_PAGES, pm), 0);
			else
				CHECK_EQ(umm_pagemap(b == C1_BASE ? mm2 : mm, b - HP / 4,
						     HP_PAGES, pm), 0);
			break;
		}
		count(&n_reads);
	}
	fclose(null);
	return NULL;
}

static struct writer writers[4] = {
	{ .id = 0, .base = W0_BASE, .pages = W_BLOCKS * HP_PAGES,
	  .self_churn = true, .seed = 1 },
	{ .id = 1, .base = W1_BASE, .pages = W_BLOCKS * HP_PAGES,
	  .self_churn = true, .seed = 2 },
	/* the same-THP writer: the first half of S only */
	{ .id = 2, .base = S_BASE, .pages = HP_PAGES / 2, .seed = 3 },
	/* the collapser's writer: the first half of K's first block */
	{ .id = 3, .base = K_BASE, .pages = K_FIRST - 1, .collapse_target = true, .seed = 6 },
};
static struct churn churns[2] = {
	{ .id = 0, .base = C0_BASE, .seed = 4 },
	{ .id = 1, .base = C1_BASE, .seed = 5 },
};

static void test_thp_stress(void)
{
	void *(*const fns[])(void *) = {
		writer, writer, writer, same_thp_churn, churn, churn,
		forker, pinner, splitter, reader, writer, collapser, lazy, lazy,
	};
	void *const args[] = {
		&writers[0], &writers[1], &writers[2], (void *)1, &churns[0], &churns[1],
		(void *)2, (void *)3, (void *)4, (void *)5, &writers[3], (void *)6,
		&dthreads[0], &dthreads[1],
	};
	struct umm_opts o = { .thp = UMM_THP_ALWAYS }, o2 = { .thp = UMM_THP_MADVISE };
	struct umm_opts o3 = { .size = sizeof(o3), .thp = UMM_THP_MADVISE,
			       .phys_limit = D_LIMIT_PAGES * PAGE_SIZE };
	struct page_alloc_stats before, after;
	pthread_rwlockattr_t la;
	long long thp_alloc, thp_split, thp_fallback, thp2_alloc, thp2_split;
	long long thp_collapse, thp2_collapse, thp_split_page;
	long long d_alloc, d_fallback, d_split_page, d_deferred, d_frames, d_tables;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(&o);
	mm2 = umm_mm_create(&o2);
	mm3 = umm_mm_create(&o3);
	CHECK(mm && mm2 && mm3);
	if (!mm || !mm2 || !mm3)
		return;
	/* a writer of l_lock must get in between the two readers */
	pthread_rwlockattr_init(&la);
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&l_lock, &la);
	pthread_rwlockattr_destroy(&la);
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
	CHECK_EQ(umm_mmap(mm, K_BASE, K_BLOCKS * HP, RW, ANON_FIXED, NULL, 0), (int64_t)K_BASE);
	CHECK_EQ(umm_mmap(mm3, L_BASE, HP, RW, ANON_FIXED, NULL, 0), (int64_t)L_BASE);
	CHECK_EQ(umm_madvise(mm3, L_BASE, HP, MADV_HUGEPAGE), 0);
	stress_run(fns, args, ARRAY_SIZE(fns), 5, &stop);

	thp_alloc = umm_vmstat_value(mm, "thp_fault_alloc");
	thp_split = umm_vmstat_value(mm, "thp_split_pmd");
	thp_fallback = umm_vmstat_value(mm, "thp_fault_fallback");
	thp2_alloc = umm_vmstat_value(mm2, "thp_fault_alloc");
	thp2_split = umm_vmstat_value(mm2, "thp_split_pmd");
	thp_collapse = umm_vmstat_value(mm, "thp_collapse_alloc");
	thp2_collapse = umm_vmstat_value(mm2, "thp_collapse_alloc");
	thp_split_page = umm_vmstat_value(mm, "thp_split_page");
	d_alloc = umm_vmstat_value(mm3, "thp_fault_alloc");
	d_fallback = umm_vmstat_value(mm3, "thp_fault_fallback");
	d_split_page = umm_vmstat_value(mm3, "thp_split_page");
	d_deferred = umm_vmstat_value(mm3, "thp_deferred_split_page");
	/* every frame of mm3 but its tables came back with its mappings */
	CHECK_EQ(umm_munmap(mm3, D_BASE, D_END - D_BASE), 0);
	rcu_barrier();
	d_frames = umm_vmstat_value(mm3, "nr_mm_frames");
	d_tables = umm_vmstat_value(mm3, "nr_page_table_pages");
	printf("  writes %llu, checks %llu, lost %llu, writer mprotects %llu, remaps %llu\n"
	       "  churn ops %llu + %llu in the madvise-mode mm (block mremaps %llu, "
	       "piece mremaps %llu, munmaps %llu, "
	       "mprotects %llu, dontneeds %llu, advises %llu)\n"
	       "  same-THP churn %llu, forks %llu (cow while shared %llu), pins %llu, "
	       "splitter %llu, reader %llu\n"
	       "  thp_fault_alloc %lld, thp_split_pmd %lld, thp_fault_fallback %lld, "
	       "pgfault %llu, vma_lock_success %llu, retry %llu, abort %llu\n"
	       "  madvise-mode mm: thp_fault_alloc %lld, thp_split_pmd %lld\n"
	       "  collapser %llu (writer 3 writes while it collapsed their block %llu), "
	       "collapses %llu ok, %llu busy (+ %llu beside a fork child), %llu refused, "
	       "%llu refused while pinned; "
	       "thp_collapse_alloc %lld, madvise-mode mm %lld\n"
	       "  MADV_FREE: same-THP %llu, churn %llu, fork %llu, splitter %llu; "
	       "thp_split_page %lld\n"
	       "  lazy pair: L ops %llu (MADV_FREE %llu, %llu of them pinned, pins %llu, "
	       "L afresh %llu), blocks %llu, kept-page ops %llu, hogs %llu (%llu never "
	       "ran short); -ENOMEM %llu, then through %llu, blocks given back %llu\n"
	       "  lazy mm: thp_fault_alloc %lld, thp_fault_fallback %lld, thp_split_page %lld, "
	       "thp_deferred_split_page %lld; unmapped: nr_mm_frames %lld, "
	       "nr_page_table_pages %lld\n",
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
	       (unsigned long long)mm_stat_read(mm, MM_PGFAULT),
	       (unsigned long long)mm_stat_read(mm, MM_VMA_LOCK_SUCCESS),
	       (unsigned long long)mm_stat_read(mm, MM_VMA_LOCK_RETRY),
	       (unsigned long long)mm_stat_read(mm, MM_VMA_LOCK_ABORT), thp2_alloc, thp2_split,
	       (unsigned long long)n_k_ops, (unsigned long long)n_k_overlap,
	       (unsigned long long)n_collapse_ok,
	       (unsigned long long)n_collapse_busy, (unsigned long long)n_collapse_busy_forked,
	       (unsigned long long)n_collapse_refused,
	       (unsigned long long)n_k_pinned, thp_collapse, thp2_collapse,
	       (unsigned long long)n_s_free, (unsigned long long)n_cfree,
	       (unsigned long long)n_f_free, (unsigned long long)n_p_free, thp_split_page,
	       (unsigned long long)n_l_ops, (unsigned long long)n_l_free,
	       (unsigned long long)n_l_free_pinned, (unsigned long long)n_l_pins,
	       (unsigned long long)n_l_remaps, (unsigned long long)n_d_cycles,
	       (unsigned long long)n_d_kept, (unsigned long long)n_d_hogs,
	       (unsigned long long)n_d_hog_full, (unsigned long long)n_d_enomem,
	       (unsigned long long)n_d_recovered, (unsigned long long)n_d_released,
	       d_alloc, d_fallback, d_split_page, d_deferred, d_frames, d_tables);
	CHECK_EQ(n_lost, 0);
	CHECK(n_writes > 0 && churns[0].ops > 0 && churns[1].ops > 0 && n_s_ops > 0 &&
	      n_forks > 0 && n_pins > 0 && n_splits > 0 && n_reads > 0 && n_k_ops > 0 &&
	      n_k_pinned > 0);
	CHECK(thp_alloc > 0);
	CHECK(thp_split > 0);
	CHECK(thp2_alloc > 0);
	CHECK(thp2_split > 0);
	CHECK(thp_collapse > 0);
	CHECK(thp2_collapse > 0);
	CHECK(n_s_free > 0 && n_cfree > 0 && n_f_free > 0 && n_p_free > 0);
	CHECK(thp_split_page > 0);
	CHECK(n_l_free > 0 && n_l_pins > 0 && n_d_cycles > 0 && n_d_hogs > 0);
	/* every access that ran short got through in the end */
	CHECK_EQ(n_d_recovered, n_d_enomem);
	CHECK(d_alloc > 0);
	CHECK(d_split_page > 0);
	CHECK(d_deferred > 0);
	CHECK(d_frames >= 0 && d_frames == d_tables);
	umm_mm_destroy(mm);
	umm_mm_destroy(mm2);
	umm_mm_destroy(mm3);
	pthread_rwlock_destroy(&l_lock);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

int main(void)
{
	/*
	 * umm's khugepaged scans every millisecond too, collapsing behind
	 * every thread's back what it finds split (ctest turns it off for
	 * other tests): read once, when the first mm joins.
	 */
	setenv("UMM_KHUGEPAGED", "1", 1);
	setenv("UMM_KHUGEPAGED_SCAN_SLEEP_MS", "1", 1);
	RUN(test_thp_stress);
	return test_done();
}
