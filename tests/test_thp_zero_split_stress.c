// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_thp_zero_split_stress - the split of an anonymous THP frees the
 * pages that hold only zeroes and maps the zero page in their place (as
 * Linux 6.12+), while other threads write into exactly those pages: the
 * racy case is a page found all zero by the split while a writer stores
 * into it through a translation its TLB cached before. Every write must
 * survive, and no page may change but by its writers.
 *
 * One UMM_THP_MADVISE mm with a frame limit: NBLOCKS 2 MiB-aligned blocks
 * of MADV_HUGEPAGE memory in one VMA, and a hog region of small pages.
 * The blocks are cut into 8-byte words, 64-word chunks, and every pair of
 * chunks (the last of a page with the first of the next, and so on)
 * belongs to one of NOWNERS owners, so that each owner has words in every
 * page and runs of words that straddle a page boundary. A word holds 0
 * or (its index << 38 | seq), seq from one global counter, so the values
 * of a word only grow while its owner writes it; shadows keep, per word,
 * the last value whose write finished (done) and the last one begun
 * (pend). The last page of each block (the hole) is never written.
 *
 *  writers (4)  pick up to 8 pages of a block (half the time the one the
 *               splitter said it advises next), mostly pages nothing was
 *               written to since the block was rebuilt, read one of their
 *               words in each (the translation is cached: of a dirty THP,
 *               writable), wait a little, then write a run of their words
 *               (8 bytes to a KiB, some across the page boundary) into
 *               each through it, read them back (exact), and often check
 *               a whole page: their own words exactly, the others'
 *               between done (read before) and pend (read after). Each
 *               holds its block's lock for read meanwhile.
 *  splitter     says which block it advises next, waits a moment, then
 *               MADV_COLD, MADV_PAGEOUT or MADV_FREE of a page, a piece or
 *               the whole block: each splits a THP it meets in part (and
 *               pageout one it meets whole), which maps the zero page over
 *               the pages found empty. Every notifier call these make must
 *               cover whole 2 MiB blocks. A block found split is rebuilt
 *               (its lock held for write): mapped afresh (MAP_FIXED) and
 *               MADV_HUGEPAGE, one write fault makes a new THP (checked
 *               with pagemap), a few runs of data written; sometimes its
 *               hole is zapped, making the folio partly mapped, left for
 *               the out-of-memory deferred split.
 *               MADV_FREE marks pages lazily freeable, which a later
 *               MADV_PAGEOUT may drop if nobody wrote them since: so
 *               concurrent pageout never touches a page freed since the
 *               block's rebuild, and the two meet only in a lazy round:
 *               MADV_FREE of a range with the block's lock held for
 *               write, writers at it for a while, then MADV_PAGEOUT of
 *               the same range with the lock held again: a page written
 *               since the free must keep every word, one not written
 *               reads either every word as it was or all zero.
 *  pinner       pins (for write) a page, mostly an empty one, of a block:
 *               cools another page of it meanwhile (a pinned THP is not
 *               split), writes its words through the host pointer, reads
 *               them with umm_read, writes them with umm_write and reads
 *               them through the pointer; the page must stay the pinned
 *               frame all along (pagemap), never the zero page.
 *  forker       umm_fork with a block's lock held for read: the child must
 *               read each of 64 words and a page of that block as the
 *               parent had it (between done and pend), and keep reading
 *               the same while the parent goes on, the child writes some
 *               of them and advises its copy (COLD, FREE of pages the
 *               parent maps too); then the child goes.
 *  protector    mprotect of parts of the blocks to rwx and back (the VMA
 *               split inside a THP: the zero page mapped with each VMA's
 *               rights), to read-only and back (writers retry), and of a
 *               hole to PROT_NONE or read-only and back.
 *  hog          now and then faults in small pages (MADV_POPULATE_WRITE)
 *               until the limit is hit (faults then split partly mapped
 *               THPs: the deferred split), holds them a moment, gives them
 *               back. Writes that run out of memory meanwhile try again.
 *
 * The splitter's first pieces of advice are one of each kind, and the
 * last block starts partly mapped, left to the hog for up to a second:
 * a short or slow (TSan) run sees every kind of split.
 *
 * At the end every word reads its last value; so it does after a block is
 * made a lazily freed THP a fork child shares while mm writes its first
 * pages (left partly mapped, as the forker may leave one the splitter has
 * not rebuilt when the run stops), after MADV_COLD of each block in two
 * parts (every THP left split) and MADV_PAGEOUT of what
 * was never freed; the mm's frame count is what its mappings and tables
 * hold; and with everything unmapped and the mm destroyed every frame and
 * page table is back. UMM_STRESS_SECONDS sets the length.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_frames.h"
#include "test_proc.h"
#include "compiler.h"
#include "page_alloc.h"
#include "rcu.h"
#include "uapi_mman.h"

#define P		4096ull
#define HP		(2ull << 20)
#define PPB		(HP / P)		/* pages a block */
#define NBLOCKS		6
#define NPAGES		(NBLOCKS * PPB)
#define HOLE		(PPB - 1)		/* a block's page never written */
#define WPP		(P / 8)			/* words a page */
#define CW		64			/* words a chunk */
#define CPP		(WPP / CW)		/* chunks a page */
#define NWORDS		(NPAGES * WPP)
#define SEQ_BITS	38
#define SEQ_MASK	((1ull << SEQ_BITS) - 1)
#define NWRITERS	4
#define OWNER_PIN	NWRITERS		/* the pinner's words */
#define NOWNERS		(NWRITERS + 1)
#define EXCLUSIVE	NOWNERS			/* a checker nobody writes beside */
#define BASE		0x100000000000ull	/* 1 GiB aligned */
#define HOG_BASE	(BASE + (1ull << 30))
#define LIMIT_PAGES	(2 * NPAGES + PPB)	/* blocks twice over (a fork) and more */
#define HOG_PAGES	LIMIT_PAGES		/* always enough to hit the limit */
_Static_assert(HOG_PAGES % 64 == 0, "the hog's pieces");
#define PFN_MASK	((1ull << 55) - 1)
#define PM_PRESENT	(1ull << 63)
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
#define RETRY_SECONDS	30			/* an access out of memory this long fails */

/* five consecutive chunk pairs meet in every page: each owner has words there */
_Static_assert(NOWNERS <= CPP / 2 + 1, "an owner without words in some page");

static struct umm_mm *mm;
static bool stop;

/* write: the block rebuilt, a lazy round's ends; read: any access to it */
static pthread_rwlock_t blk_lock[NBLOCKS];
/* write: a fork, which copies pinned pages; read: stores through a pin */
static pthread_rwlock_t pin_lock = PTHREAD_RWLOCK_INITIALIZER;

static uint64_t sh_done[NWORDS];	/* last value written, the write done */
static uint64_t sh_pend[NWORDS];	/* last value whose write began */
static uint8_t pg_data[NPAGES];		/* written since the block's rebuild */
static uint8_t pg_written[NPAGES];	/* written since a lazy round's free */
static uint8_t pg_lazy[NPAGES];		/* freed since the rebuild; splitter only */
static uint64_t seq_ctr;
static uint64_t hot_blk;		/* the block the splitter advises next */

/* The splitter's view of a block. */
static struct blk {
	bool lz_pending;		/* a lazy round's free done, pageout owed */
	uint64_t lz_first, lz_n;	/* its pages (block-relative) */
	double lz_since;
	double rebuilt_at;
	double split_seen;		/* when first found split, or 0 */
	bool oom_only;			/* left for the deferred split a while */
#define OOM_ONLY_SECONDS	0.05
} blks[NBLOCKS];

static uint64_t n_writes, n_write_retry, n_straddle, n_primed, n_self_checks,
		n_page_checks, n_lost, n_rebuilds, n_rebuild_thp, n_hole_zapped,
		n_cold, n_pageout, n_pageout_whole, n_free, n_advice_zero,
		n_split_zero, n_zero_seen, n_lazy_rounds, n_lazy_kept,
		n_lazy_written_kept, n_lazy_dropped, n_pins, n_pin_busy,
		n_pin_checks, n_forks, n_fork_failed, n_child_checks,
		n_child_writes, n_mprotects, n_hog_cycles, n_hog_oom, n_enomem,
		n_notify;

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/*
 * Order a shadow against the memory it describes: pend stored before the
 * memory is written, the memory read before pend is loaded. A locked
 * read-modify-write is a full barrier on x86 (which umm assumes), and TSan
 * takes it where it refuses a fence; the calls into umm between keep the
 * compiler from moving the accesses across.
 */
static __thread uint64_t order_word;

static void order(void)
{
	__atomic_fetch_add(&order_word, 1, __ATOMIC_SEQ_CST);
}

static uint8_t ld8(const uint8_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void st8(uint8_t *p, uint8_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static uint64_t blk_base(uint64_t b)
{
	return BASE + b * HP;
}

static uint64_t page_addr(uint64_t pg)
{
	return BASE + pg * P;
}

static uint64_t word_addr(uint64_t w)
{
	return BASE + w * 8;
}

static uint64_t val(uint64_t w, uint64_t seq)
{
	return w << SEQ_BITS | seq;
}

static uint64_t next_seq(void)
{
	return __atomic_add_fetch(&seq_ctr, 1, __ATOMIC_RELAXED);
}

static unsigned int chunk_owner(uint64_t c)
{
	return ((c + 1) >> 1) % NOWNERS;
}

static unsigned int word_owner(uint64_t w)
{
	return chunk_owner(w / CW);
}

static bool page_usable(uint64_t pg)
{
	return pg < NPAGES && pg % PPB != HOLE;
}

static bool chunk_usable(int64_t c)
{
	return c >= 0 && page_usable((uint64_t)c / CPP);
}

static void nap_us(unsigned int us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

/* A short pause of random kind: none, a spin, a yield. */
static void dither(uint64_t *seed)
{
	unsigned int r = xrand(seed) % 16;

	if (r >= 14) {
		sched_yield();
	} else if (r >= 8) {
		for (unsigned int i = xrand(seed) % 2000; i; i--)
			cpu_relax();
	}
}

static uint64_t pagemap1(struct umm_mm *m, uint64_t addr)
{
	uint64_t e = 0;

	CHECK_EQ(umm_pagemap(m, addr & ~(P - 1), 1, &e), 0);
	return e;
}

/* ---- reporting ---- */

static void lost(const char *who, struct umm_mm *m, uint64_t w, uint64_t want_lo,
		 uint64_t want_hi, uint64_t got)
{
	uint64_t n = __atomic_add_fetch(&n_lost, 1, __ATOMIC_RELAXED);
	uint64_t pg = w / WPP;

	CHECK(false);
	if (n > 20)
		return;
	fprintf(stderr, "%s: %s word %llu at %#llx (block %llu page %llu word %llu, "
		"owner %u): want %#llx", who, m == mm ? "mm" : "child",
		(unsigned long long)w, (unsigned long long)word_addr(w),
		(unsigned long long)(pg / PPB), (unsigned long long)(pg % PPB),
		(unsigned long long)(w % WPP), word_owner(w), (unsigned long long)want_lo);
	if (want_hi != want_lo)
		fprintf(stderr, "..%#llx", (unsigned long long)want_hi);
	fprintf(stderr, ", got %#llx; pagemap %#llx\n", (unsigned long long)got,
		(unsigned long long)pagemap1(m, word_addr(w)));
}

/*
 * umm_read/umm_write of [a, a + len) in @m that must get through: out of
 * memory (the hog) or, for a write, a read-only window (the protector)
 * is waited out, for RETRY_SECONDS at most. A short write is done again
 * whole: the same values. Return: whether it got through.
 */
static bool xaccess(struct umm_mm *m, uint64_t a, void *buf, size_t len, bool write)
{
	double t0 = 0;

	for (;;) {
		int64_t r = write ? umm_write(m, a, buf, len) : umm_read(m, a, buf, len);

		if (r == (int64_t)len)
			return true;
		if (r == -ENOMEM)
			count(&n_enomem);
		else if (write && (r == -EFAULT || r >= 0))
			count(&n_write_retry);
		else
			break;
		if (!t0)
			t0 = now_sec();
		else if (now_sec() - t0 > RETRY_SECONDS)
			break;
		sched_yield();
	}
	fprintf(stderr, "%s of %zu bytes at %#llx: does not get through\n",
		write ? "write" : "read", len, (unsigned long long)a);
	CHECK(false);
	return false;
}

/*
 * Is @got a value word @w may hold, when its owner's last finished write
 * before the read was @d and the last one begun after it @p? Values of a
 * word grow with each write, and only its owner writes it meanwhile.
 */
static bool in_window(uint64_t w, uint64_t got, uint64_t d, uint64_t p)
{
	if (got == d || got == p)
		return true;
	if (got >> SEQ_BITS != w)
		return false;
	return (got & SEQ_MASK) >= (d & SEQ_MASK) && (got & SEQ_MASK) <= (p & SEQ_MASK);
}

/*
 * Check the words [w0, w0 + n) against the shadows: @me's own exactly,
 * the others' between done and pend; all exactly for @me EXCLUSIVE (the
 * block's lock held for write, or no thread left). Locking: the block's
 * lock held.
 */
static void check_words(unsigned int me, uint64_t w0, unsigned int n, const char *who)
{
	uint64_t d[WPP], got[WPP], p[WPP];

	for (unsigned int i = 0; i < n; i++)
		d[i] = ld(&sh_done[w0 + i]);
	order();
	if (!xaccess(mm, word_addr(w0), got, n * 8, false))
		return;
	order();
	for (unsigned int i = 0; i < n; i++)
		p[i] = ld(&sh_pend[w0 + i]);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t w = w0 + i;

		if (me == word_owner(w) || me == EXCLUSIVE) {
			if (got[i] != d[i])
				lost(who, mm, w, d[i], d[i], got[i]);
		} else if (!in_window(w, got[i], d[i], p[i])) {
			lost(who, mm, w, d[i], p[i], got[i]);
		}
	}
}

static void check_page(unsigned int me, uint64_t pg, const char *who)
{
	check_words(me, pg * WPP, WPP, who);
	count(&n_page_checks);
}

/* Mark the pages of [w0, w0 + n) written. */
static void mark_written(uint64_t w0, unsigned int n)
{
	for (uint64_t pg = w0 / WPP; pg <= (w0 + n - 1) / WPP; pg++) {
		st8(&pg_data[pg], 1);
		st8(&pg_written[pg], 1);
	}
}

/*
 * Write new values into [w0, w0 + n): pend first, then the memory, then
 * done. Locking: the block's lock held, for read by the words' owner, or
 * for write.
 */
static void put_words(uint64_t w0, unsigned int n)
{
	uint64_t buf[2 * CW], s = next_seq();

	for (unsigned int i = 0; i < n; i++) {
		buf[i] = val(w0 + i, s);
		st(&sh_pend[w0 + i], buf[i]);
	}
	order();
	if (!xaccess(mm, word_addr(w0), buf, n * 8, true))
		return;
	for (unsigned int i = 0; i < n; i++)
		st(&sh_done[w0 + i], buf[i]);
	mark_written(w0, n);
	count(&n_writes);
	if (w0 / WPP != (w0 + n - 1) / WPP)
		count(&n_straddle);
}

/* A usable page of block @b, mostly one with no data since the rebuild. */
static uint64_t pick_page(uint64_t *seed, uint64_t b)
{
	uint64_t pg = 0;

	for (int i = 0; i < 8; i++) {
		pg = b * PPB + xrand(seed) % (PPB - 1);
		if (!ld8(&pg_data[pg]))
			break;
	}
	return pg;
}

/*
 * A run of @o's words to write in page @pg: within one of its chunk pairs
 * there, sometimes into the neighbouring page (never the hole), mostly one
 * or two words, sometimes up to 128. Return: false if @o has none there.
 */
static bool pick_run(uint64_t *seed, unsigned int o, uint64_t pg, uint64_t *w0,
		     unsigned int *n)
{
	unsigned int cand[CPP], nc = 0, len, r;
	int64_t g, lo, hi, span, start;

	for (unsigned int c = 0; c < CPP; c++)
		if (chunk_owner(pg * CPP + c) == o)
			cand[nc++] = c;
	if (!nc)
		return false;
	g = (int64_t)(pg * CPP + cand[xrand(seed) % nc]);
	lo = g & 1 ? g : g - 1;		/* the pair: chunks 2k - 1 and 2k */
	hi = lo + 1;
	if (!chunk_usable(lo))
		lo = g;
	if (!chunk_usable(hi))
		hi = g;
	span = (hi - lo + 1) * CW;
	r = xrand(seed) % 16;
	if (r < 8)
		len = 1;
	else if (r < 12)
		len = 2;
	else if (r < 15)
		len = 1 + xrand(seed) % 16;
	else
		len = 1 + xrand(seed) % (unsigned int)span;
	/* across the page boundary the pair spans, if it does */
	if (hi != lo && (uint64_t)hi % CPP == 0 && (xrand(seed) % 4 == 0)) {
		int64_t first, last;

		if (len < 2)
			len = 2;
		/* from word hi * CW - 1 through hi * CW at least, inside the pair */
		first = hi * CW + 1 - (int64_t)len;
		if (first < lo * CW)
			first = lo * CW;
		last = (hi + 1) * CW - (int64_t)len;
		if (last > hi * CW - 1)
			last = hi * CW - 1;
		start = first + (int64_t)(xrand(seed) % (uint64_t)(last - first + 1));
	} else {
		start = lo * CW + (int64_t)(xrand(seed) % (uint64_t)(span - len + 1));
	}
	*w0 = (uint64_t)start;
	*n = len;
	return true;
}

/* ---- writers ---- */

#define BATCH		8	/* runs a writer primes, then writes */

static void *writer(void *arg)
{
	unsigned int me = (unsigned int)(uintptr_t)arg - 1;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (me + 3);

	while (!stopping()) {
		uint64_t b = xrand(&seed) & 1 ? __atomic_load_n(&hot_blk, __ATOMIC_RELAXED) :
			     xrand(&seed) % NBLOCKS;
		uint64_t pg[BATCH], w0[BATCH];
		unsigned int n[BATCH], k = 0, want = 1 + xrand(&seed) % BATCH;

		pthread_rwlock_rdlock(&blk_lock[b]);
		/*
		 * Read each run's ends first: the writes below then go through
		 * translations cached now, while the pages may still be all zero
		 * and the splitter looking at them.
		 */
		for (unsigned int i = 0; i < want; i++) {
			pg[k] = pick_page(&seed, b);
			if (!pick_run(&seed, me, pg[k], &w0[k], &n[k]))
				continue;
			check_words(me, w0[k], 1, "writer, before");
			if (n[k] > 1)
				check_words(me, w0[k] + n[k] - 1, 1, "writer, before");
			count(&n_primed);
			k++;
		}
		dither(&seed);
		for (unsigned int i = 0; i < k; i++)
			put_words(w0[i], n[i]);
		for (unsigned int i = 0; i < k; i++) {
			check_words(me, w0[i], n[i], "writer, after");
			count(&n_self_checks);
		}
		if (k && xrand(&seed) % 4 == 0)
			check_page(me, xrand(&seed) & 1 ? pg[0] : (w0[0] + n[0] - 1) / WPP,
				   "writer, page");
		pthread_rwlock_unlock(&blk_lock[b]);
		/* and a page elsewhere, written maybe long ago */
		if (xrand(&seed) % 8 == 0) {
			uint64_t q = xrand(&seed) % NBLOCKS * PPB + xrand(&seed) % (PPB - 1);

			b = q / PPB;
			pthread_rwlock_rdlock(&blk_lock[b]);
			check_page(me, q, "writer, old page");
			pthread_rwlock_unlock(&blk_lock[b]);
		}
	}
	return NULL;
}

/* ---- notifier: advice that may split tells about whole blocks ---- */

static __thread bool nt_on;
static __thread uint64_t nt_lo, nt_hi;

static void nt_start(void *priv, struct umm_mm *m, uint64_t start, uint64_t end)
{
	(void)priv;
	(void)m;
	if (!nt_on)
		return;
	count(&n_notify);
	if ((start | end) & (HP - 1)) {
		fprintf(stderr, "advice told the notifiers about [%#llx, %#llx): "
			"not whole blocks\n", (unsigned long long)start,
			(unsigned long long)end);
		CHECK(false);
	}
	if (start < nt_lo)
		nt_lo = start;
	if (end > nt_hi)
		nt_hi = end;
}

static void nt_end(void *priv, struct umm_mm *m, uint64_t start, uint64_t end)
{
	(void)priv;
	(void)m;
	(void)start;
	(void)end;
}

static const struct umm_notifier_ops nt_ops = {
	.invalidate_range_start = nt_start,
	.invalidate_range_end = nt_end,
};

static const char *advice_name(int advice)
{
	return advice == MADV_COLD ? "MADV_COLD" : advice == MADV_PAGEOUT ? "MADV_PAGEOUT" :
	       advice == MADV_FREE ? "MADV_FREE" : "advice";
}

/*
 * MADV_COLD, MADV_PAGEOUT or MADV_FREE of [a, a + len) in mm: it must
 * work, and the notifiers must have been told about every block it
 * touches, whole. Return: zero-page entries in the first block after it.
 */
static uint64_t advise(uint64_t a, uint64_t len, int advice)
{
	uint64_t lo = a & ~(HP - 1), hi = (a + len + HP - 1) & ~(HP - 1);
	uint64_t pm[PPB], zero = 0;
	int r;

	nt_lo = UINT64_MAX;
	nt_hi = 0;
	nt_on = true;
	r = umm_madvise(mm, a, len, advice);
	nt_on = false;
	if (r) {
		fprintf(stderr, "%s of [%#llx, +%#llx): %d\n", advice_name(advice),
			(unsigned long long)a, (unsigned long long)len, r);
		CHECK(false);
	}
	if (nt_lo > lo || nt_hi < hi) {
		fprintf(stderr, "%s of [%#llx, +%#llx) told the notifiers [%#llx, %#llx)\n",
			advice_name(advice), (unsigned long long)a, (unsigned long long)len,
			(unsigned long long)nt_lo, (unsigned long long)nt_hi);
		CHECK(false);
	}
	CHECK_EQ(umm_pagemap(mm, lo, PPB, pm), 0);
	for (uint64_t i = 0; i < PPB; i++)
		zero += (pm[i] & PM_PRESENT) && !(pm[i] & PFN_MASK);
	return zero;
}

/* ---- splitter ---- */

/*
 * Is block @b one THP still, mapped in order (but for its hole, maybe
 * zapped)? Its zero-page entries go to *@zero.
 */
static bool blk_is_thp(uint64_t b, uint64_t *zero)
{
	uint64_t pm[PPB], base;
	bool thp;

	CHECK_EQ(umm_pagemap(mm, blk_base(b), PPB, pm), 0);
	base = pm[0] & PFN_MASK;
	thp = (pm[0] & PM_PRESENT) && base && !(base % PPB);
	*zero = 0;
	for (uint64_t i = 0; i < PPB; i++) {
		bool present = pm[i] & PM_PRESENT;

		*zero += present && !(pm[i] & PFN_MASK);
		if (i == HOLE && !present)
			continue;
		if (!present || (pm[i] & PFN_MASK) != base + i)
			thp = false;
	}
	return thp;
}

/*
 * A fresh, mostly empty THP at block @b, its shadows zero, a few runs of
 * data written. Locking: takes the block's lock for write.
 */
static void rebuild(uint64_t *seed, uint64_t b, bool for_oom)
{
	struct blk *k = &blks[b];
	uint64_t first = b * PPB, zero;
	unsigned int runs = xrand(seed) % 24;

	pthread_rwlock_wrlock(&blk_lock[b]);
	/*
	 * Mapped afresh, not zapped: MADV_DONTNEED leaves the PTE table of a
	 * split THP behind (as Linux does), and a fault then maps a small page.
	 */
	CHECK_EQ(umm_mmap(mm, blk_base(b), HP, RW, ANON_FIXED, NULL, 0), (int64_t)blk_base(b));
	CHECK_EQ(umm_madvise(mm, blk_base(b), HP, MADV_HUGEPAGE), 0);
	memset(&sh_done[first * WPP], 0, PPB * WPP * 8);
	memset(&sh_pend[first * WPP], 0, PPB * WPP * 8);
	for (uint64_t pg = first; pg < first + PPB; pg++) {
		st8(&pg_data[pg], 0);
		st8(&pg_written[pg], 0);
		pg_lazy[pg] = 0;
	}
	k->lz_pending = false;
	/* the first write fault makes the THP (a write of data, or none) */
	if (!runs || (xrand(seed) & 1)) {
		double t0 = now_sec();
		int r;

		while ((r = umm_fault(mm, blk_base(b) + xrand(seed) % HOLE * P, UMM_WRITE)) &&
		       (r == -ENOMEM || r == -EFAULT) && now_sec() - t0 < RETRY_SECONDS)
			sched_yield();
		CHECK_EQ(r, 0);
	}
	for (unsigned int i = 0; i < runs; i++) {
		uint64_t pg = first + xrand(seed) % HOLE, w0 = pg * WPP + xrand(seed) % WPP;
		unsigned int n = 1 + xrand(seed) % (xrand(seed) & 1 ? 2 : 64);

		if (!page_usable((w0 + n - 1) / WPP))
			n = (unsigned int)(WPP - w0 % WPP);
		put_words(w0, n);
	}
	count(&n_rebuilds);
	if (blk_is_thp(b, &zero))
		count(&n_rebuild_thp);
	/* partly mapped: for the deferred split, if the hog comes first */
	k->oom_only = for_oom;
	if (for_oom || xrand(seed) % 3 == 0) {
		CHECK_EQ(umm_madvise(mm, blk_base(b) + HOLE * P, P, MADV_DONTNEED), 0);
		count(&n_hole_zapped);
		k->oom_only |= xrand(seed) & 1;
	}
	/* the first one waits for the hog longer: a slow run sees it too */
	k->rebuilt_at = now_sec() + (for_oom ? 1 - OOM_ONLY_SECONDS : 0);
	k->split_seen = 0;
	pthread_rwlock_unlock(&blk_lock[b]);
}

/* Pages [first, first + n) of block @b: one, a piece, or all of them. */
static void pick_range(uint64_t *seed, uint64_t *first, uint64_t *n, bool whole_ok)
{
	unsigned int r = xrand(seed) % 8;

	if (whole_ok && r == 0) {
		*first = 0;
		*n = PPB;
	} else if (r < 5) {
		*first = xrand(seed) % PPB;
		*n = 1;
	} else {
		*n = 2 + xrand(seed) % 31;
		*first = xrand(seed) % (PPB - *n + 1);
	}
}

static bool any_lazy(uint64_t b, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++)
		if (pg_lazy[b * PPB + i])
			return true;
	return false;
}

/*
 * A lazy round's start: MADV_FREE of a range with no writer about, which
 * splits a THP it covers in part. Locking: takes the block's lock for write.
 */
static void lazy_start(uint64_t *seed, uint64_t b)
{
	struct blk *k = &blks[b];
	uint64_t first, n;

	pick_range(seed, &first, &n, true);
	pthread_rwlock_wrlock(&blk_lock[b]);
	add(&n_zero_seen, advise(blk_base(b) + first * P, n * P, MADV_FREE));
	for (uint64_t i = first; i < first + n; i++) {
		pg_lazy[b * PPB + i] = 1;
		st8(&pg_written[b * PPB + i], 0);
	}
	k->lz_pending = true;
	k->lz_first = first;
	k->lz_n = n;
	k->lz_since = now_sec();
	count(&n_lazy_rounds);
	pthread_rwlock_unlock(&blk_lock[b]);
}

/*
 * A lazy round's end: MADV_PAGEOUT of the range the round freed. A page
 * written since keeps every word; one not written may have been dropped,
 * every word zero then. Locking: takes the block's lock for write.
 */
static void lazy_finish(uint64_t b)
{
	struct blk *k = &blks[b];
	uint64_t got[WPP];

	pthread_rwlock_wrlock(&blk_lock[b]);
	add(&n_zero_seen, advise(blk_base(b) + k->lz_first * P, k->lz_n * P, MADV_PAGEOUT));
	for (uint64_t i = k->lz_first; i < k->lz_first + k->lz_n; i++) {
		uint64_t pg = b * PPB + i, w0 = pg * WPP;
		bool same = true, zero = true;
		int64_t r;

		if (i == HOLE) {
			/* never written: zero, unless PROT_NONE just now */
			r = umm_read(mm, page_addr(pg), got, P);
			CHECK(r == (int64_t)P || r == -EFAULT);
			for (unsigned int j = 0; r == (int64_t)P && j < WPP; j++)
				if (got[j])
					lost("hole after pageout", mm, w0 + j, 0, 0, got[j]);
			continue;
		}
		if (!xaccess(mm, page_addr(pg), got, P, false))
			continue;
		for (unsigned int j = 0; j < WPP; j++) {
			same &= got[j] == sh_done[w0 + j];
			zero &= !got[j];
		}
		if (same) {
			count(&n_lazy_kept);
			if (ld8(&pg_written[pg]))
				count(&n_lazy_written_kept);
			continue;
		}
		if (zero && !ld8(&pg_written[pg])) {
			/* dropped, as a lazily freed page nobody wrote since may be */
			count(&n_lazy_dropped);
			memset(&sh_done[w0], 0, P);
			memset(&sh_pend[w0], 0, P);
			st8(&pg_data[pg], 0);
			continue;
		}
		fprintf(stderr, "lazy round: page %llu of block %llu, %s since the free, "
			"is neither kept nor dropped whole:\n", (unsigned long long)i,
			(unsigned long long)b, ld8(&pg_written[pg]) ? "written" : "not written");
		check_words(EXCLUSIVE, w0, WPP, "lazy round");
	}
	k->lz_pending = false;
	pthread_rwlock_unlock(&blk_lock[b]);
}

/*
 * Advice on block @b with the writers at it: MADV_COLD, MADV_PAGEOUT
 * (only where nothing was freed since the rebuild: no page can go) or
 * MADV_FREE (not while a lazy round is open there), or a lazy round's
 * start. The first few of the run are one of each, so that a short run
 * (or a slow one: TSan) sees them all.
 */
static void advise_blk(uint64_t *seed, uint64_t b)
{
	/* lazy round, cold of a part, pageout of all, free of a part */
	static const unsigned int first_ops[] = { 0, 5, 15, 19 };
	static unsigned int nops;
	unsigned int r = nops < ARRAY_SIZE(first_ops) ? first_ops[nops] : xrand(seed) % 20;
	uint64_t first, n, zero_before, zero;
	int advice;
	bool was_thp = blk_is_thp(b, &zero_before);

	nops++;
	if (r < 3 && !blks[b].lz_pending) {
		lazy_start(seed, b);
		return;
	}
	pick_range(seed, &first, &n, true);
	if (nops <= ARRAY_SIZE(first_ops)) {
		first = r == 15 ? 0 : 1 + xrand(seed) % (PPB - 2);
		n = r == 15 ? PPB : 1;
	}
	advice = r < 10 ? MADV_COLD : r < 17 ? MADV_PAGEOUT : MADV_FREE;
	if (advice == MADV_PAGEOUT && any_lazy(b, first, n))
		advice = MADV_COLD;
	if (advice == MADV_FREE && blks[b].lz_pending)
		advice = MADV_COLD;
	zero = advise(blk_base(b) + first * P, n * P, advice);
	add(&n_zero_seen, zero);
	if (was_thp && zero > zero_before)
		count(&n_split_zero);
	if (zero)
		count(&n_advice_zero);
	switch (advice) {
	case MADV_COLD:
		count(&n_cold);
		break;
	case MADV_PAGEOUT:
		count(&n_pageout);
		if (n == PPB)
			count(&n_pageout_whole);
		break;
	default:
		count(&n_free);
		for (uint64_t i = first; i < first + n; i++)
			pg_lazy[b * PPB + i] = 1;
		break;
	}
}

static void *splitter(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 104729 + 5;

	while (!stopping()) {
		uint64_t b = xrand(&seed) % NBLOCKS, zero;
		struct blk *k = &blks[b];
		double now = now_sec();

		if (k->lz_pending) {
			if (now - k->lz_since > (1 + xrand(&seed) % 8) * 1e-3)
				lazy_finish(b);
			else
				advise_blk(&seed, b);
		} else if (!blk_is_thp(b, &zero)) {
			/* let the writers at the zero pages a moment, then again */
			if (!k->split_seen)
				k->split_seen = now;
			else if (now - k->split_seen > (xrand(&seed) % 4) * 1e-3)
				rebuild(&seed, b, false);
		} else if (k->oom_only && now - k->rebuilt_at < OOM_ONLY_SECONDS) {
			nap_us(50);	/* the hog's to split */
		} else {
			/* the writers come to it first and cache its empty pages */
			__atomic_store_n(&hot_blk, b, __ATOMIC_RELAXED);
			nap_us(xrand(&seed) % 200);
			advise_blk(&seed, b);
		}
		nap_us(xrand(&seed) % 100);
	}
	return NULL;
}

/* ---- pinner ---- */

static void *pinner(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7 + 1234567;

	while (!stopping()) {
		uint64_t b = xrand(&seed) % NBLOCKS, pg = pick_page(&seed, b), e, s;
		void *ptr = NULL;
		uint64_t *host;
		int r;

		pthread_rwlock_rdlock(&blk_lock[b]);
		r = umm_pin(mm, page_addr(pg), 1, UMM_READ | UMM_WRITE, &ptr);
		if (r) {
			/* out of memory (the hog), or a read-only window */
			if (r != -ENOMEM && r != -EFAULT) {
				fprintf(stderr, "pin of page %llu: %d\n",
					(unsigned long long)pg, r);
				CHECK(false);
			}
			count(&n_pin_busy);
			pthread_rwlock_unlock(&blk_lock[b]);
			sched_yield();
			continue;
		}
		count(&n_pins);
		host = ptr;
		e = pagemap1(mm, page_addr(pg));
		CHECK((e & PM_PRESENT) && (e & PFN_MASK) == virt_to_pfn(ptr));
		/* the pinned THP is not split: its empty pages stay */
		if (xrand(&seed) & 1) {
			uint64_t q = b * PPB + xrand(&seed) % PPB;

			advise(page_addr(q), P, MADV_COLD);
		}
		dither(&seed);
		/* my words of the page, through the pointer */
		s = next_seq();
		pthread_rwlock_rdlock(&pin_lock);
		for (unsigned int i = 0; i < WPP; i++) {
			uint64_t w = pg * WPP + i;

			if (word_owner(w) != OWNER_PIN)
				continue;
			st(&sh_pend[w], val(w, s));
			order();
			__atomic_store_n(&host[i], val(w, s), __ATOMIC_RELAXED);
			st(&sh_done[w], val(w, s));
		}
		pthread_rwlock_unlock(&pin_lock);
		mark_written(pg * WPP, 1);
		check_page(OWNER_PIN, pg, "pinner, after pointer writes");
		/* and through umm_write, read through the pointer */
		for (unsigned int c = 0; c < CPP; c++) {
			uint64_t w0 = (pg * CPP + c) * CW;

			if (chunk_owner(pg * CPP + c) != OWNER_PIN)
				continue;
			put_words(w0, CW);
			for (unsigned int i = 0; i < CW; i++) {
				uint64_t got = __atomic_load_n(&host[w0 % WPP + i],
							       __ATOMIC_RELAXED);

				if (got != sh_done[w0 + i])
					lost("pinner, pointer read", mm, w0 + i, sh_done[w0 + i],
					     sh_done[w0 + i], got);
			}
		}
		count(&n_pin_checks);
		e = pagemap1(mm, page_addr(pg));
		if (!(e & PM_PRESENT) || (e & PFN_MASK) != virt_to_pfn(ptr)) {
			fprintf(stderr, "pinned page %llu: pagemap %#llx, pinned frame %#llx\n",
				(unsigned long long)pg, (unsigned long long)e,
				(unsigned long long)virt_to_pfn(ptr));
			CHECK(false);
		}
		umm_unpin(mm, &ptr, 1);
		pthread_rwlock_unlock(&blk_lock[b]);
	}
	return NULL;
}

/* ---- forker ---- */

#define FK_WORDS	(64 + WPP)

static void *forker(void *arg)
{
	static uint64_t ws[FK_WORDS], lo[FK_WORDS], hi[FK_WORDS], snap[FK_WORDS];
	uint64_t seed = (uintptr_t)arg * 31337 + 3;

	while (!stopping()) {
		uint64_t b = xrand(&seed) % NBLOCKS, pg = b * PPB + xrand(&seed) % HOLE;
		struct umm_mm *child = NULL;
		unsigned int n = 0;
		int r;

		/* 64 words of the block's other pages (maybe twice), and a page */
		while (n < 64) {
			uint64_t q = b * PPB + xrand(&seed) % HOLE;

			if (q != pg)
				ws[n++] = q * WPP + xrand(&seed) % WPP;
		}
		for (unsigned int i = 0; i < WPP; i++)
			ws[n++] = pg * WPP + i;
		pthread_rwlock_rdlock(&blk_lock[b]);
		pthread_rwlock_wrlock(&pin_lock);
		for (unsigned int i = 0; i < n; i++)
			lo[i] = ld(&sh_done[ws[i]]);
		order();
		r = umm_fork(mm, &child);
		order();
		for (unsigned int i = 0; i < n; i++)
			hi[i] = ld(&sh_pend[ws[i]]);
		pthread_rwlock_unlock(&pin_lock);
		pthread_rwlock_unlock(&blk_lock[b]);
		if (r) {
			CHECK_EQ(r, -ENOMEM);
			count(&n_fork_failed);
			continue;
		}
		count(&n_forks);
		/* the child has the block as it was at the fork */
		for (unsigned int i = 0; i < n; i++) {
			if (!xaccess(child, word_addr(ws[i]), &snap[i], 8, false))
				snap[i] = lo[i];
			else if (!in_window(ws[i], snap[i], lo[i], hi[i]))
				lost("fork child", child, ws[i], lo[i], hi[i], snap[i]);
		}
		count(&n_child_checks);
		dither(&seed);
		/*
		 * Its own writes (to the page's words, each there once), and its
		 * advice on what it shares with mm. No MADV_PAGEOUT: a page mm
		 * freed lazily before the fork and unmapped since is the child's
		 * alone, and pageout may drop it.
		 */
		for (unsigned int i = 64; i < n; i += 1 + xrand(&seed) % 64) {
			uint64_t v = val(ws[i], next_seq());

			if (umm_write(child, word_addr(ws[i]), &v, 8) == 8) {
				snap[i] = v;
				count(&n_child_writes);
			}
		}
		if (xrand(&seed) & 1) {
			uint64_t first, np;

			pick_range(&seed, &first, &np, true);
			CHECK_EQ(umm_madvise(child, blk_base(b) + first * P, np * P,
					     xrand(&seed) & 1 ? MADV_COLD : MADV_FREE), 0);
		}
		nap_us(xrand(&seed) % 2000);
		for (unsigned int i = 0; i < n; i++) {
			uint64_t got = 0;

			if (xaccess(child, word_addr(ws[i]), &got, 8, false) && got != snap[i])
				lost("fork child, later", child, ws[i], snap[i], snap[i], got);
		}
		umm_mm_destroy(child);
	}
	return NULL;
}

/* ---- protector ---- */

static void *protector(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7919 + 11;

	while (!stopping()) {
		uint64_t b = xrand(&seed) % NBLOCKS, first, n = 1 + xrand(&seed) % 64, a;
		unsigned int r = xrand(&seed) % 8;
		int prot;

		first = b * PPB + xrand(&seed) % PPB;
		if (first + n > NPAGES)
			n = NPAGES - first;
		if (r < 5) {
			prot = RW | PROT_EXEC;		/* a VMA split, writes go on */
		} else if (r < 7) {
			prot = PROT_READ;		/* writers wait */
			n = 1 + n % 8;
			if (first + n > NPAGES)
				n = NPAGES - first;
		} else {
			first = b * PPB + HOLE;		/* nobody's page */
			n = 1;
			prot = xrand(&seed) & 1 ? PROT_NONE : PROT_READ;
		}
		a = page_addr(first);
		CHECK_EQ(umm_mprotect(mm, a, n * P, prot), 0);
		count(&n_mprotects);
		for (unsigned int i = xrand(&seed) % 4; i; i--)
			sched_yield();
		CHECK_EQ(umm_mprotect(mm, a, n * P, RW), 0);
		nap_us(200 + xrand(&seed) % 1000);
	}
	return NULL;
}

/* ---- hog ---- */

static void *hog(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31 + 77;

	while (!stopping()) {
		int r = 0;

		nap_us(5000 + xrand(&seed) % 25000);
		/*
		 * Its faults split what they can when short, as any fault does.
		 * A piece at a time: mmap_lock is held for read meanwhile.
		 */
		for (uint64_t i = 0; i < HOG_PAGES && !r && !stopping(); i += 64)
			r = umm_madvise(mm, HOG_BASE + i * P, 64 * P, MADV_POPULATE_WRITE);
		if (r == -ENOMEM) {
			count(&n_hog_oom);
			nap_us(500 + xrand(&seed) % 2500);	/* the others run short */
		} else {
			CHECK_EQ(r, 0);
		}
		CHECK_EQ(umm_madvise(mm, HOG_BASE, HOG_PAGES * P, MADV_DONTNEED), 0);
		count(&n_hog_cycles);
	}
	return NULL;
}

/*
 * Block @b a fresh THP that a fork child shares while mm writes its first
 * pages (copies on write), the child gone since: the folio is left partly
 * mapped, its first page no longer its own, as the forker leaves a block
 * the splitter has not rebuilt yet when the run stops. No thread runs.
 */
static void cow_first_pages(uint64_t *seed, uint64_t b)
{
	struct umm_mm *child = NULL;
	uint64_t zero;

	/* its hole mapped too: MADV_FREE of all of it leaves it whole */
	for (int i = 0; i < 100; i++) {
		uint64_t pm;

		rebuild(seed, b, false);
		CHECK_EQ(umm_pagemap(mm, blk_base(b) + HOLE * P, 1, &pm), 0);
		if (pm & PM_PRESENT)
			break;
	}
	CHECK(blk_is_thp(b, &zero));
	/* freed lazily whole (the folio stays whole): the end's pageout passes it by */
	CHECK_EQ(umm_madvise(mm, blk_base(b), HP, MADV_FREE), 0);
	for (uint64_t pg = b * PPB; pg < (b + 1) * PPB; pg++)
		pg_lazy[pg] = 1;
	CHECK_EQ(umm_fork(mm, &child), 0);
	if (!child)
		return;
	for (uint64_t pg = b * PPB; pg < b * PPB + 3; pg++)
		put_words(pg * WPP, 1);
	umm_mm_destroy(child);
	CHECK(!blk_is_thp(b, &zero));
}

/* ---- the end ---- */

/* Every word of every block, exactly; holes all zero. No thread runs. */
static void check_all(const char *when)
{
	uint64_t before = n_lost;

	for (uint64_t pg = 0; pg < NPAGES; pg++)
		check_words(EXCLUSIVE, pg * WPP, WPP, when);
	if (n_lost != before)
		fprintf(stderr, "%s: %llu words wrong\n", when,
			(unsigned long long)(n_lost - before));
}

/* Frames the blocks map (the zero page is none), and zero-page entries. */
static uint64_t mapped_frames(uint64_t *zero)
{
	static uint64_t pm[NPAGES];
	uint64_t n = 0;

	CHECK_EQ(umm_pagemap(mm, BASE, NPAGES, pm), 0);
	*zero = 0;
	for (uint64_t i = 0; i < NPAGES; i++) {
		if (!(pm[i] & PM_PRESENT))
			continue;
		if (pm[i] & PFN_MASK)
			n++;
		else
			(*zero)++;
	}
	return n;
}

static void test_thp_zero_split_stress(void)
{
	void *(*const fns[])(void *) = {
		writer, writer, writer, writer, splitter, pinner, forker, protector, hog,
	};
	struct umm_opts o = { .size = sizeof(o), .thp = UMM_THP_MADVISE,
			      .phys_limit = LIMIT_PAGES * P };
	struct page_alloc_stats before;
	pthread_rwlockattr_t la;
	long long thp_alloc, thp_fallback, split_pmd, split_page, deferred, frames, tables;
	uint64_t data, zero_end, seed = 99;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_notifier_register(mm, &nt_ops, NULL), 0);
	/* a rebuild must get in between the writers */
	pthread_rwlockattr_init(&la);
	pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (int b = 0; b < NBLOCKS; b++)
		pthread_rwlock_init(&blk_lock[b], &la);
	pthread_rwlockattr_destroy(&la);
	CHECK_EQ(umm_mmap(mm, BASE, NBLOCKS * HP, RW, ANON_FIXED, NULL, 0), (int64_t)BASE);
	CHECK_EQ(umm_madvise(mm, BASE, NBLOCKS * HP, MADV_HUGEPAGE), 0);
	CHECK_EQ(umm_mmap(mm, HOG_BASE, HOG_PAGES * P, RW, ANON_FIXED, NULL, 0),
		 (int64_t)HOG_BASE);
	CHECK_EQ(umm_madvise(mm, HOG_BASE, HOG_PAGES * P, MADV_NOHUGEPAGE), 0);
	/* the blocks are THPs, mostly empty, before anyone writes */
	for (uint64_t b = 0; b < NBLOCKS; b++)
		rebuild(&seed, b, b == NBLOCKS - 1);
	CHECK_EQ(umm_vmstat_value(mm, "thp_fault_alloc"), NBLOCKS);
	CHECK_EQ(n_rebuild_thp, NBLOCKS);

	stress_run(fns, NULL, ARRAY_SIZE(fns), 5, &stop);

	check_all("at the end");
	cow_first_pages(&seed, 0);
	check_all("after the copies on write of a forked THP");
	/*
	 * Every THP left split (cold of a part): the empty pages go, the rest
	 * stay. Of all the block but its hole, then of the hole: a THP is split
	 * by whichever of its pages is still mapped, not only its first - a
	 * fork child that shared it while mm wrote its first page left that
	 * one a copy, the folio partly mapped (as the kernel's, on the
	 * deferred split queue), and its lazily freed pages are no pageout's.
	 */
	for (uint64_t b = 0; b < NBLOCKS; b++) {
		CHECK_EQ(umm_madvise(mm, blk_base(b), HOLE * P, MADV_COLD), 0);
		CHECK_EQ(umm_madvise(mm, blk_base(b) + HOLE * P, P, MADV_COLD), 0);
	}
	check_all("after MADV_COLD of every block");
	/* pageout of what was never freed since its block's rebuild: nothing goes */
	for (uint64_t pg = 0; pg < NPAGES; pg++)
		if (!pg_lazy[pg])
			CHECK_EQ(umm_madvise(mm, page_addr(pg), P, MADV_PAGEOUT), 0);
	check_all("after MADV_PAGEOUT");

	rcu_barrier();
	thp_alloc = umm_vmstat_value(mm, "thp_fault_alloc");
	thp_fallback = umm_vmstat_value(mm, "thp_fault_fallback");
	split_pmd = umm_vmstat_value(mm, "thp_split_pmd");
	split_page = umm_vmstat_value(mm, "thp_split_page");
	deferred = umm_vmstat_value(mm, "thp_deferred_split_page");
	/* nothing but the blocks' frames and the tables is charged */
	data = mapped_frames(&zero_end);
	frames = umm_vmstat_value(mm, "nr_mm_frames");
	tables = umm_vmstat_value(mm, "nr_page_table_pages");
	CHECK_EQ(frames, (long long)data + tables);
	printf("  writes %llu (%llu across pages, %llu retried), primed %llu, "
	       "self-checks %llu, page checks %llu, lost %llu\n"
	       "  rebuilds %llu (THP %llu, hole zapped %llu); advice: cold %llu, "
	       "pageout %llu (whole %llu), free %llu; zero-page entries after "
	       "advice %llu (summed), advice that split a THP to zero pages %llu, "
	       "left some %llu\n"
	       "  lazy rounds %llu: pages kept %llu (written since %llu), dropped %llu\n"
	       "  pins %llu (%llu refused), pin checks %llu; forks %llu (%llu failed), "
	       "child checks %llu, child writes %llu; mprotects %llu\n"
	       "  hog cycles %llu (%llu ran out), -ENOMEM met %llu; notifier calls %llu\n"
	       "  thp_fault_alloc %lld, thp_fault_fallback %lld, thp_split_pmd %lld, "
	       "thp_split_page %lld, thp_deferred_split_page %lld\n"
	       "  at the end: frames mapped %llu, zero-page entries %llu, "
	       "nr_mm_frames %lld, nr_page_table_pages %lld\n",
	       (unsigned long long)n_writes, (unsigned long long)n_straddle,
	       (unsigned long long)n_write_retry, (unsigned long long)n_primed,
	       (unsigned long long)n_self_checks, (unsigned long long)n_page_checks,
	       (unsigned long long)n_lost, (unsigned long long)n_rebuilds,
	       (unsigned long long)n_rebuild_thp, (unsigned long long)n_hole_zapped,
	       (unsigned long long)n_cold, (unsigned long long)n_pageout,
	       (unsigned long long)n_pageout_whole, (unsigned long long)n_free,
	       (unsigned long long)n_zero_seen, (unsigned long long)n_split_zero,
	       (unsigned long long)n_advice_zero, (unsigned long long)n_lazy_rounds,
	       (unsigned long long)n_lazy_kept, (unsigned long long)n_lazy_written_kept,
	       (unsigned long long)n_lazy_dropped, (unsigned long long)n_pins,
	       (unsigned long long)n_pin_busy, (unsigned long long)n_pin_checks,
	       (unsigned long long)n_forks, (unsigned long long)n_fork_failed,
	       (unsigned long long)n_child_checks, (unsigned long long)n_child_writes,
	       (unsigned long long)n_mprotects, (unsigned long long)n_hog_cycles,
	       (unsigned long long)n_hog_oom, (unsigned long long)n_enomem,
	       (unsigned long long)n_notify, thp_alloc, thp_fallback, split_pmd,
	       split_page, deferred, (unsigned long long)data,
	       (unsigned long long)zero_end, frames, tables);
	CHECK_EQ(n_lost, 0);
	CHECK(n_writes > 0 && n_straddle > 0 && n_pins > 0 && n_forks > 0 &&
	      n_mprotects > 0 && n_hog_oom > 0 && n_lazy_rounds > 0);
	CHECK(n_rebuilds > NBLOCKS && n_rebuild_thp > NBLOCKS);
	CHECK(n_cold > 0 && n_pageout_whole > 0 && n_free > 0);
	CHECK(n_split_zero > 0 && zero_end > 0);
	CHECK(split_page > 0);
	CHECK(deferred > 0);

	CHECK_EQ(umm_munmap(mm, BASE, NBLOCKS * HP), 0);
	CHECK_EQ(umm_munmap(mm, HOG_BASE, HOG_PAGES * P), 0);
	rcu_barrier();
	frames = umm_vmstat_value(mm, "nr_mm_frames");
	tables = umm_vmstat_value(mm, "nr_page_table_pages");
	CHECK(frames >= 0 && frames == tables);
	umm_mm_destroy(mm);
	for (int b = 0; b < NBLOCKS; b++)
		pthread_rwlock_destroy(&blk_lock[b]);
	check_frames_back(&before);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(test_thp_zero_split_stress);
	return test_done();
}
