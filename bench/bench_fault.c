// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_fault - page faults under contention and memory access through
 * umm's software MMU, next to the host kernel in the same process and run
 * (the single-fault figures, will-it-scale's shapes, are bench_wis's):
 *
 *  - fault throughput of one thread (A: page_fault1 cycles) while another
 *    (B) maps and unmaps 64 KiB elsewhere in the same mm, as a fraction of
 *    its solo rate, with per-VMA locks and without them
 *    (UMM_NO_PER_VMA_LOCK). A control run with a B that only spins shows
 *    what a busy second CPU alone takes away, and the churn rate is also
 *    given as a fraction of that. With umm's zeroer on (the default), A
 *    alone has its frames zeroed by the zeroer on the idle CPU; a B of
 *    any kind takes that CPU (the zeroer runs at SCHED_IDLE) and A zeroes
 *    its own. On a 2-CPU machine that, not a lock, is most of what the
 *    spinning control costs, so the per-VMA-lock block runs once more in
 *    a fresh process with UMM_PREZERO=0 (the pool reads it once), where
 *    solo and churn do the same work on the same CPU.
 *  - random 8-byte umm_read/umm_write that hit the software TLB, and that
 *    miss it (lockless page-table walk), beside plain host loads/stores
 *    of the same pattern as a reference.
 *
 * umm and host runs alternate (umm, host, umm, host, ...) so drift in the
 * machine hits both columns alike. Target (umm): under churn >= 90% of
 * the solo rate with per-VMA locks, visibly less without.
 *
 * Usage: bench_fault [--quick]   (--quick: 1 MiB regions, a second-long
 * smoke run for make check; its numbers mean nothing). The zeroer-off
 * block re-runs the program as `bench_fault --zeroer-off [--quick]`.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "mm.h"
#include "tlb.h"
#include "bench.h"

#define PG		4096ull
#define FULL_LEN	(128ull << 20)	/* will-it-scale's MEMSIZE */
#define QUICK_LEN	(1ull << 20)
#define TLB_FULL_LEN	(64ull << 20)
#define TLB_HOT_PAGES	8		/* < SW_TLB_ENTRIES, distinct slots */
#define CHURN_LEN	(64ull << 10)
#define CHURN_GUARD	(1ull << 20)	/* PROT_NONE either side of B's hole */
#define CHURN_TARGET	0.90
#define NAME_W		48
#define UMM_W		34
#define HOST_W		22

static const struct bench_opts *opts;
static uint64_t region_len;		/* thread A's page_fault1 mapping */
static uint64_t tlb_len;
static uint64_t churn_ns;		/* one churn run */
static uint64_t errors;			/* calls that failed: exit 1 */
static bool zeroer_off;			/* this process runs with UMM_PREZERO=0 */

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_fault: %s: %s\n", what, strerror(err));
	errors++;
	return 1;
}

/* ---- rows ---- */

static void fmt_result(char *buf, size_t len, const struct bench_result *r)
{
	if (r->median < 10)
		snprintf(buf, len, "%.2f (%.2f-%.2f)", r->median, r->min, r->max);
	else
		snprintf(buf, len, "%.0f (%.0f-%.0f)", r->median, r->min, r->max);
}

/*
 * print_row - one line of the table. @u or @h NULL: that side prints
 * @na instead. @target: text for the last column, or NULL.
 */
static void print_row(const char *name, const struct bench_result *u,
		      const struct bench_result *h, const char *na,
		      const char *target)
{
	char ubuf[48], hbuf[48], ratio[16] = "-";

	if (u)
		fmt_result(ubuf, sizeof(ubuf), u);
	else
		snprintf(ubuf, sizeof(ubuf), "%s", na);
	if (h)
		fmt_result(hbuf, sizeof(hbuf), h);
	else
		snprintf(hbuf, sizeof(hbuf), "%s", na);
	if (u && h && u->median > 0)
		snprintf(ratio, sizeof(ratio), "%.2f", h->median / u->median);
	printf("%-*s %-*s %-*s %8s  %s\n", NAME_W, name, UMM_W, ubuf, HOST_W,
	       hbuf, ratio,
	       target ? target : "");
	fflush(stdout);
}

/* ---- churn: A faults, B maps and unmaps 64 KiB elsewhere ---- */

struct churn {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t hint;		/* where B maps: a hole between guards */
	int ready, go, stop;	/* atomic: the start gate, the end */
	uint64_t faults, a_ns;	/* thread A */
	uint64_t pairs, b_ns;	/* thread B */
	uint64_t b_elsewhere;	/* B's mapping did not land at the hint */
	uint64_t errors;
};

static bool churn_stopped(struct churn *c)
{
	return __atomic_load_n(&c->stop, __ATOMIC_RELAXED);
}

/* Check in, then wait for main to open the gate (it sleeps after that). */
static void churn_gate(struct churn *c)
{
	__atomic_fetch_add(&c->ready, 1, __ATOMIC_RELAXED);
	while (!__atomic_load_n(&c->go, __ATOMIC_ACQUIRE))
		sched_yield();
}

/* A: page_fault1 cycles until told to stop (checked every 64 pages). */
static void *churn_faulter(void *v)
{
	struct churn *c = v;
	uint64_t t0, n = 0;
	const char one = 1;

	churn_gate(c);
	t0 = bench_now_ns();
	while (!churn_stopped(c)) {
		char *hp = NULL;
		int64_t p = 0;
		uint64_t off;

		if (c->mm) {
			p = umm_mmap(c->mm, 0, region_len, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
		} else {
			hp = mmap(NULL, region_len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (hp == MAP_FAILED)
				p = -ENOMEM;
			else
				madvise(hp, region_len, MADV_NOHUGEPAGE);
		}
		if (p < 0) {
			c->errors++;
			break;
		}
		for (off = 0; off < region_len; off += PG) {
			if (c->mm) {
				if (umm_write(c->mm, (uint64_t)p + off, &one, 1) != 1)
					c->errors++;
			} else {
				((volatile char *)hp)[off] = 1;
			}
			if (!(++n & 63) && churn_stopped(c)) {
				off += PG;
				break;
			}
		}
		if (c->mm ? umm_munmap(c->mm, (uint64_t)p, region_len) :
			    munmap(hp, region_len))
			c->errors++;
	}
	c->a_ns = bench_now_ns() - t0;
	c->faults = n;
	return NULL;
}

/* B: mmap + munmap of 64 KiB at the hint, as fast as it can. */
static void *churn_mapper(void *v)
{
	struct churn *c = v;
	uint64_t t0, n = 0;

	churn_gate(c);
	t0 = bench_now_ns();
	while (!churn_stopped(c)) {
		int64_t p;
		int err;

		if (c->mm) {
			p = umm_mmap(c->mm, c->hint, CHURN_LEN, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
		} else {
			void *hp = mmap((void *)c->hint, CHURN_LEN,
					PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			p = hp == MAP_FAILED ? -ENOMEM : (int64_t)hp;
		}
		if (p < 0) {
			c->errors++;
			break;
		}
		c->b_elsewhere += (uint64_t)p != c->hint;
		err = c->mm ? umm_munmap(c->mm, (uint64_t)p, CHURN_LEN) :
			      munmap((void *)p, CHURN_LEN);
		if (err)
			c->errors++;
		n++;
	}
	c->b_ns = bench_now_ns() - t0;
	c->pairs = n;
	return NULL;
}

/*
 * The control: B touches no mm, it only keeps its CPU busy. What A loses
 * here is no lock's: it is the machine's (SMT siblings, shared caches,
 * vCPU scheduling) and, with the zeroer on, the idle CPU the zeroer had
 * cleared A's frames on. It bounds what the churn fraction can reach.
 */
static void *churn_spinner(void *v)
{
	struct churn *c = v;
	uint64_t t0, n = 0, rng = 1;

	churn_gate(c);
	t0 = bench_now_ns();
	while (!churn_stopped(c)) {
		for (int i = 0; i < 256; i++)
			bench_consume(bench_rand64(&rng));
		n++;
	}
	c->b_ns = bench_now_ns() - t0;
	c->pairs = n;
	return NULL;
}

/*
 * B maps into a hole of exactly its size between PROT_NONE guards: its
 * VMA never merges with another, and A's regions never fit in the hole.
 */
static int churn_setup(struct churn *c, struct umm_mm *mm)
{
	uint64_t total = 2 * CHURN_GUARD + CHURN_LEN, base;

	memset(c, 0, sizeof(*c));
	c->mm = mm;
	if (mm) {
		int64_t p = umm_mmap(mm, 0, total, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);

		if (p < 0)
			return fail("umm_mmap of the churn guards", (int)-p);
		base = (uint64_t)p;
		if (umm_munmap(mm, base + CHURN_GUARD, CHURN_LEN))
			return fail("umm_munmap of the churn hole", EFAULT);
	} else {
		void *p = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			return fail("mmap of the churn guards", errno);
		base = (uint64_t)p;
		if (munmap((void *)(base + CHURN_GUARD), CHURN_LEN))
			return fail("munmap of the churn hole", errno);
	}
	c->hint = base + CHURN_GUARD;
	return 0;
}

static void churn_teardown(struct churn *c)
{
	uint64_t base = c->hint - CHURN_GUARD;
	uint64_t total = 2 * CHURN_GUARD + CHURN_LEN;

	if (c->mm ? umm_munmap(c->mm, base, total) : munmap((void *)base, total))
		fail("munmap of the churn guards", EFAULT);
}

/*
 * One run of churn_ns: A alone (@b_fn NULL), or A beside B running @b_fn.
 * Return: A's ns/fault.
 */
static double churn_once(struct churn *c, void *(*b_fn)(void *))
{
	bool with_b = b_fn;
	struct timespec ts = { (time_t)(churn_ns / 1000000000ull),
			       (long)(churn_ns % 1000000000ull) };
	pthread_t a, b;
	int err;

	c->faults = c->a_ns = c->pairs = c->b_ns = 0;
	__atomic_store_n(&c->ready, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->go, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->stop, 0, __ATOMIC_RELAXED);
	err = pthread_create(&a, NULL, churn_faulter, c);
	if (err) {
		fail("pthread_create", err);
		return 0;
	}
	if (with_b) {
		err = pthread_create(&b, NULL, b_fn, c);
		if (err) {
			fail("pthread_create", err);	/* A still runs, alone */
			with_b = false;
		}
	}
	while (__atomic_load_n(&c->ready, __ATOMIC_RELAXED) < 1 + with_b)
		sched_yield();
	__atomic_store_n(&c->go, 1, __ATOMIC_RELEASE);
	nanosleep(&ts, NULL);
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
	pthread_join(a, NULL);
	if (with_b)
		pthread_join(b, NULL);
	if (!c->faults)
		fail("churn: thread A made no fault in a whole run", EAGAIN);
	return c->faults ? (double)c->a_ns / (double)c->faults : 0;
}

/*
 * churn_rows - one block: solo and churn, umm (with @umm_flags) and host,
 * all four alternating run by run. The fraction is per run: A's rate
 * under churn over its solo rate in the run just before.
 */
static void print_pct_row(const char *name, const struct bench_result *u,
			  const struct bench_result *h, const char *target)
{
	char ubuf[48], hbuf[48];

	snprintf(ubuf, sizeof(ubuf), "%.0f%% (%.0f-%.0f)", 100 * u->median,
		 100 * u->min, 100 * u->max);
	snprintf(hbuf, sizeof(hbuf), "%.0f%% (%.0f-%.0f)", 100 * h->median,
		 100 * h->min, 100 * h->max);
	printf("%-*s %-*s %-*s %8s  %s\n", NAME_W, name, UMM_W, ubuf, HOST_W,
	       hbuf, "-", target ? target : "");
	fflush(stdout);
}

static struct bench_result pct(const struct bench_result *r)
{
	struct bench_result p = *r;

	p.median *= 100;
	p.min *= 100;
	p.max *= 100;
	return p;
}

/* The block's RESULT lines; the shares go out in percent. */
static void churn_emit(const char *what, const struct bench_result *us,
		       const struct bench_result *hs, const struct bench_result *uc,
		       const struct bench_result *hc, const struct bench_result *uf,
		       const struct bench_result *hf, const struct bench_result *uk,
		       const struct bench_result *hk, const struct bench_result *un,
		       const struct bench_result *hn)
{
	struct bench_result a, b;

	bench_emit2("churn", "A's faults, alone", what, "ns/fault", us, NULL,
		    hs, NULL);
	bench_emit2("churn", "A's faults, beside B's mmap+munmap", what,
		    "ns/fault", uc, NULL, hc, NULL);
	a = pct(uf);
	b = pct(hf);
	bench_emit2("churn", "A's rate beside B, % of alone", what, "% of solo",
		    &a, NULL, &b, NULL);
	a = pct(uk);
	b = pct(hk);
	bench_emit2("churn", "control: A's rate beside a spinning B, % of alone",
		    what, "% of solo", &a, NULL, &b, NULL);
	a = pct(un);
	b = pct(hn);
	bench_emit2("churn", "A's rate beside B, % of beside the spinner", what,
		    "% of control", &a, NULL, &b, NULL);
}

static int churn_rows(const char *what, unsigned int umm_flags)
{
	struct umm_opts uo = { .size = sizeof(uo), .flags = umm_flags };
	unsigned int runs = opts->runs < BENCH_MAX_RUNS ? opts->runs : BENCH_MAX_RUNS;
	double us[BENCH_MAX_RUNS], uc[BENCH_MAX_RUNS], uf[BENCH_MAX_RUNS];
	double hs[BENCH_MAX_RUNS], hc[BENCH_MAX_RUNS], hf[BENCH_MAX_RUNS];
	double uk[BENCH_MAX_RUNS], hk[BENCH_MAX_RUNS];	/* A beside a spinner */
	double ukf[BENCH_MAX_RUNS], hkf[BENCH_MAX_RUNS], unf[BENCH_MAX_RUNS], hnf[BENCH_MAX_RUNS];
	double ub_ns = 0, hb_ns = 0;
	uint64_t st0[NR_MM_STAT_ITEMS], st[NR_MM_STAT_ITEMS] = { 0 }, faults = 0;
	struct bench_result rus, ruc, ruf, rhs, rhc, rhf, ruk, rhk, run, rhn;
	struct churn *uc_ = calloc(1, sizeof(*uc_)), *hc_ = calloc(1, sizeof(*hc_));
	struct umm_mm *mm = umm_mm_create(&uo);
	char name[80], tbuf[48];
	int ret = 1;

	if (!mm || !uc_ || !hc_) {
		fail("umm_mm_create / calloc", errno ? errno : ENOMEM);
		goto out;
	}
	if (churn_setup(uc_, mm) || churn_setup(hc_, NULL))
		goto out;
	churn_once(uc_, NULL);		/* warm up: frames, threads, TLBs */
	churn_once(hc_, NULL);
	for (unsigned int i = 0; i < runs; i++) {
		us[i] = churn_once(uc_, NULL);
		hs[i] = churn_once(hc_, NULL);
		uk[i] = churn_once(uc_, churn_spinner);
		hk[i] = churn_once(hc_, churn_spinner);
		memcpy(st0, mm->stat, sizeof(st0));
		uc[i] = churn_once(uc_, churn_mapper);
		for (int k = 0; k < NR_MM_STAT_ITEMS; k++)
			st[k] += mm->stat[k] - st0[k];
		faults += uc_->faults;
		ub_ns += (double)uc_->b_ns / (double)(uc_->pairs ? uc_->pairs : 1);
		hc[i] = churn_once(hc_, churn_mapper);
		hb_ns += (double)hc_->b_ns / (double)(hc_->pairs ? hc_->pairs : 1);
		if (errors)
			break;
		uf[i] = us[i] / uc[i];
		hf[i] = hs[i] / hc[i];
		ukf[i] = us[i] / uk[i];
		hkf[i] = hs[i] / hk[i];
		unf[i] = uk[i] / uc[i];
		hnf[i] = hk[i] / hc[i];
		if (uc_->errors || hc_->errors || errors)
			break;
	}
	if (uc_->errors || hc_->errors || errors) {
		fprintf(stderr, "bench_fault: churn (%s): %llu umm and %llu host "
			"calls failed\n", what, (unsigned long long)uc_->errors,
			(unsigned long long)hc_->errors);
		errors++;
		goto out;
	}
	bench_stats(us, runs, &rus);
	bench_stats(uc, runs, &ruc);
	bench_stats(uf, runs, &ruf);
	bench_stats(hs, runs, &rhs);
	bench_stats(hc, runs, &rhc);
	bench_stats(hf, runs, &rhf);
	snprintf(name, sizeof(name), "churn, %s: A alone", what);
	print_row(name, &rus, &rhs, NULL, NULL);
	snprintf(name, sizeof(name), "churn, %s: A beside B", what);
	print_row(name, &ruc, &rhc, NULL, NULL);
	snprintf(name, sizeof(name), "churn, %s: A's rate, %% of solo", what);
	snprintf(tbuf, sizeof(tbuf), ">= %.0f%%: %s", 100 * CHURN_TARGET,
		 ruf.median >= CHURN_TARGET ? "met" : "MISSED");
	print_pct_row(name, &ruf, &rhf, umm_flags ? NULL : tbuf);
	bench_stats(ukf, runs, &ruk);
	bench_stats(hkf, runs, &rhk);
	snprintf(name, sizeof(name), "  control: B only spins, %% of solo");
	print_pct_row(name, &ruk, &rhk, zeroer_off ? "(the machine's ceiling)" :
		      "(B's CPU was the zeroer's: A zeroes its own frames)");
	bench_stats(unf, runs, &run);
	bench_stats(hnf, runs, &rhn);
	snprintf(name, sizeof(name), "  beside B, %% of beside spinner");
	snprintf(tbuf, sizeof(tbuf), ">= %.0f%% net of machine: %s",
		 100 * CHURN_TARGET, run.median >= CHURN_TARGET ? "met" : "MISSED");
	print_pct_row(name, &run, &rhn, umm_flags ? NULL : tbuf);
	churn_emit(what, &rus, &rhs, &ruc, &rhc, &ruf, &rhf, &ruk, &rhk, &run, &rhn);
	printf("  # B's mmap+munmap 64K: umm %.0f ns/pair, host %.0f ns/pair; "
	       "umm faults beside B: %llu, of them under a VMA lock %llu; "
	       "vma_lock abort %llu, retry %llu, miss %llu\n", ub_ns / runs, hb_ns / runs,
	       (unsigned long long)faults,
	       (unsigned long long)st[MM_VMA_LOCK_SUCCESS],
	       (unsigned long long)st[MM_VMA_LOCK_ABORT],
	       (unsigned long long)st[MM_VMA_LOCK_RETRY],
	       (unsigned long long)st[MM_VMA_LOCK_MISS]);
	if (uc_->b_elsewhere || hc_->b_elsewhere)
		printf("  # B's mapping missed its hint: umm %llu, host %llu times\n",
		       (unsigned long long)uc_->b_elsewhere,
		       (unsigned long long)hc_->b_elsewhere);
	fflush(stdout);
	churn_teardown(uc_);
	churn_teardown(hc_);
	ret = errors ? 1 : 0;
	if (!ret && mm->map_count) {
		fprintf(stderr, "bench_fault: churn: %llu VMAs left\n",
			(unsigned long long)mm->map_count);
		errors++;
		ret = 1;
	}
out:
	umm_mm_destroy(mm);
	free(uc_);
	free(hc_);
	return ret;
}

/* ---- random 8-byte accesses: software TLB hit and miss ---- */

struct tlb_arg {
	struct umm_mm *mm;
	uint64_t base;		/* umm address */
	char *host;		/* host buffer of the same size */
	unsigned int bits;	/* offsets: random, 8-byte aligned, < 1 << bits */
	uint64_t rng;
	uint64_t errors;
};

static void umm_rd8(void *arg, uint64_t iters)
{
	struct tlb_arg *a = arg;
	uint64_t sum = 0, v;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t off = bench_rand_bits(&a->rng, a->bits) & ~7ull;

		if (unlikely(umm_read(a->mm, a->base + off, &v, 8) != 8))
			a->errors++;
		sum += v;
	}
	bench_consume(sum);
}

static void umm_wr8(void *arg, uint64_t iters)
{
	struct tlb_arg *a = arg;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t off = bench_rand_bits(&a->rng, a->bits) & ~7ull;

		if (unlikely(umm_write(a->mm, a->base + off, &i, 8) != 8))
			a->errors++;
	}
}

static void host_ld8(void *arg, uint64_t iters)
{
	struct tlb_arg *a = arg;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t off = bench_rand_bits(&a->rng, a->bits) & ~7ull;

		sum += *(volatile uint64_t *)(a->host + off);
	}
	bench_consume(sum);
}

static void host_st8(void *arg, uint64_t iters)
{
	struct tlb_arg *a = arg;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t off = bench_rand_bits(&a->rng, a->bits) & ~7ull;

		*(volatile uint64_t *)(a->host + off) = i;
	}
}

static unsigned int log2_u64(uint64_t v)
{
	return 63 - (unsigned int)__builtin_clzll(v);
}

static int tlb_rows(struct umm_mm *mm)
{
	static const struct {
		const char *name;
		bool hot;
		bench_fn umm, host;
	} rows[] = {
		{ "umm_read 8 B, TLB hit (8 pages)", true, umm_rd8, host_ld8 },
		{ "umm_write 8 B, TLB hit (8 pages)", true, umm_wr8, host_st8 },
		{ "umm_read 8 B, TLB miss (random)", false, umm_rd8, host_ld8 },
		{ "umm_write 8 B, TLB miss (random)", false, umm_wr8, host_st8 },
	};
	struct tlb_arg ua = { 0 }, ha = { 0 };
	int64_t p;
	char *hp;

	p = umm_mmap(mm, 0, tlb_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	if (p < 0)
		return fail("umm_mmap of the TLB region", (int)-p);
	hp = mmap(NULL, tlb_len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hp == MAP_FAILED) {
		umm_munmap(mm, (uint64_t)p, tlb_len);
		return fail("mmap of the TLB region", errno);
	}
	madvise(hp, tlb_len, MADV_NOHUGEPAGE);
	for (uint64_t off = 0; off < tlb_len; off += PG) {	/* populate */
		uint64_t v = off;

		if (umm_write(mm, (uint64_t)p + off, &v, 8) != 8)
			ua.errors++;
		memcpy(hp + off, &v, 8);
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && !ua.errors; i++) {
		unsigned int bits = rows[i].hot ? log2_u64(TLB_HOT_PAGES * PG) :
						  log2_u64(tlb_len);
		struct bench_side s[2] = {
			{ .fn = rows[i].umm, .arg = &ua, .ops = 1 },
			{ .fn = rows[i].host, .arg = &ha, .ops = 1 },
		};
		char ub[BENCH_CELL_LEN], hb[BENCH_CELL_LEN];

		ua = (struct tlb_arg){ mm, (uint64_t)p, NULL, bits, 0x9e3779b97f4a7c15ull, 0 };
		ha = (struct tlb_arg){ NULL, 0, hp, bits, 0x9e3779b97f4a7c15ull, 0 };
		bench_interleave(opts, s, 2);
		if (ua.errors)
			break;
		print_row(rows[i].name, &s[0].r, &s[1].r, NULL, NULL);
		/* the host figure is a plain load or store: no ratio */
		snprintf(hb, sizeof(hb), "%.3g (plain %s, for reference)",
			 s[1].r.median, rows[i].host == host_ld8 ? "load" : "store");
		bench_emit("access", rows[i].name, "-", "ns/access",
			   bench_cell(ub, sizeof(ub), &s[0].r, NULL), hb, NULL);
	}
	if (ua.errors)
		fail("umm_read/umm_write of the populated TLB region", EFAULT);
	if (umm_munmap(mm, (uint64_t)p, tlb_len))
		fail("umm_munmap of the TLB region", EFAULT);
	munmap(hp, tlb_len);
	return errors ? 1 : 0;
}

/*
 * The per-VMA-lock block again, umm's zeroer off: in a new process, as the
 * frame pool reads UMM_PREZERO once. Its rows go to the same stdout.
 */
static int churn_rows_zeroer_off(void)
{
	char *args[] = { "bench_fault", "--zeroer-off", NULL, NULL };
	int status;
	pid_t pid;

	if (opts->quick)
		args[2] = "--quick";
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail("fork", errno);
	if (pid == 0) {
		setenv("UMM_PREZERO", "0", 1);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid", errno);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return fail("bench_fault --zeroer-off", ECHILD);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct umm_mm *mm;
	int ret = 0;

	if (argc > 1 && !strcmp(argv[1], "--zeroer-off")) {
		const char *env = getenv("UMM_PREZERO");

		if (!env || strcmp(env, "0"))
			return fail("--zeroer-off without UMM_PREZERO=0", EINVAL);
		zeroer_off = true;
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (bench_parse_args(argc, argv, &o))
		return 2;
	opts = &o;
	region_len = o.quick ? QUICK_LEN : FULL_LEN;
	tlb_len = o.quick ? QUICK_LEN : TLB_FULL_LEN;
	churn_ns = o.quick ? 10 * 1000 * 1000ull : 200 * 1000 * 1000ull;
	if (!o.quick)
		o.target_ns = 50 * 1000 * 1000ull;

	if (zeroer_off) {
		printf("# churn again, umm's zeroer off (UMM_PREZERO=0): A zeroes "
		       "its own frames alone as beside B\n");
		return churn_rows("per-VMA locks, UMM_PREZERO=0", 0) || errors ? 1 : 0;
	}
	printf("bench_fault%s: ns per op, median (min-max) of %u runs, umm and "
	       "host runs interleaved; host/umm > 1: umm is faster\n",
	       o.quick ? " --quick (smoke run, not numbers)" : "", o.runs);
	printf("%-*s %-*s %-*s %8s  %s\n", NAME_W, "workload", UMM_W,
	       "umm ns/op", HOST_W, "host ns/op", "host/umm", "target");

	mm = umm_mm_create(NULL);
	if (!mm)
		return fail("umm_mm_create", errno);
	{
		printf("# churn: A runs page_fault1 cycles for %llu ms while B "
		       "mmaps + munmaps %llu KiB between PROT_NONE guards, same "
		       "mm (host: same process)\n",
		       (unsigned long long)(churn_ns / 1000000),
		       (unsigned long long)(CHURN_LEN >> 10));
		ret = churn_rows("per-VMA locks", 0);
	}
	if (!ret)
		ret = churn_rows_zeroer_off();
	if (!ret)
		ret = churn_rows("UMM_NO_PER_VMA_LOCK", UMM_NO_PER_VMA_LOCK);
	if (!ret) {
		printf("# TLB: %llu MiB populated; hit = random 8 B in %d pages "
		       "(software TLB has %d entries), miss = random over the "
		       "region (lockless walk). host column = plain load/store "
		       "of the same pattern: a reference, not the same work\n",
		       (unsigned long long)(tlb_len >> 20), TLB_HOT_PAGES,
		       SW_TLB_ENTRIES);
		ret = tlb_rows(mm);
	}
	if (!ret && mm->map_count) {
		fprintf(stderr, "bench_fault: %llu VMAs left at the end\n",
			(unsigned long long)mm->map_count);
		ret = 1;
	}
	umm_mm_destroy(mm);
	return ret || errors ? 1 : 0;
}
