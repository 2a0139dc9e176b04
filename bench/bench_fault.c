// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_fault - what a page fault through umm's software MMU costs, next
 * to the host kernel in the same process and the same run:
 *
 *  - will-it-scale's page_fault1/2/3 shapes: mmap 128 MiB, write one byte
 *    per 4 KiB page (on umm, a 1-byte umm_write to a never-touched page is
 *    the fault), munmap; ns per fault = whole cycle / pages. Also
 *    page_fault1 with two threads, each on its own region of one mm.
 *  - fault throughput of one thread while another maps and unmaps 64 KiB
 *    elsewhere in the same mm, as a fraction of its solo rate, with
 *    per-VMA locks and without them (UMM_NO_PER_VMA_LOCK). A control run
 *    with a B that only spins shows what the machine alone takes away
 *    (on 2 busy vCPUs, about half), and the churn rate is also given as
 *    a fraction of that.
 *  - random 8-byte umm_read/umm_write that hit the software TLB, and that
 *    miss it (lockless page-table walk), beside plain host loads/stores
 *    of the same pattern as a reference.
 *
 * umm and host runs alternate (umm, host, umm, host, ...) so drift in the
 * machine hits both columns alike. Targets (umm): anonymous fault <= 150
 * ns; under churn >= 90% of the solo rate with per-VMA locks.
 *
 * Usage: bench_fault [--quick]   (--quick: 1 MiB regions, a second-long
 * smoke run for make check; its numbers mean nothing)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
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
#define PF1_TARGET_NS	150.0
#define CHURN_TARGET	0.90
#define NAME_W		48
#define UMM_W		34
#define HOST_W		22

static const struct bench_opts *opts;
static uint64_t region_len;		/* page_fault* region */
static uint64_t tlb_len;
static uint64_t churn_ns;		/* one churn run */
static uint64_t errors;			/* calls that failed: exit 1 */

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_fault: %s: %s\n", what, strerror(err));
	errors++;
	return 1;
}

/* ---- one page_fault* cycle: map, write a byte per page, unmap ---- */

struct pf_arg {
	struct umm_mm *mm;	/* NULL: the host */
	int flags;		/* MAP_* */
	int fd;			/* host file, or -1 */
	uint64_t len;
	uint64_t errors;
};

static void umm_pf_cycle(void *arg, uint64_t iters)
{
	struct pf_arg *a = arg;
	const char one = 1;

	for (uint64_t i = 0; i < iters; i++) {
		int64_t p = umm_mmap(a->mm, 0, a->len, PROT_READ | PROT_WRITE,
				     a->flags, NULL, 0);

		if (unlikely(p < 0)) {
			a->errors++;
			continue;
		}
		for (uint64_t off = 0; off < a->len; off += PG)
			if (unlikely(umm_write(a->mm, (uint64_t)p + off, &one, 1) != 1))
				a->errors++;
		if (unlikely(umm_munmap(a->mm, (uint64_t)p, a->len)))
			a->errors++;
	}
}

static void host_pf_cycle(void *arg, uint64_t iters)
{
	struct pf_arg *a = arg;

	for (uint64_t i = 0; i < iters; i++) {
		char *p = mmap(NULL, a->len, PROT_READ | PROT_WRITE, a->flags,
			       a->fd, 0);

		if (unlikely(p == MAP_FAILED)) {
			a->errors++;
			continue;
		}
		/* 4 KiB faults on both sides, whatever THP is set to */
		madvise(p, a->len, MADV_NOHUGEPAGE);
		for (uint64_t off = 0; off < a->len; off += PG)
			((volatile char *)p)[off] = 1;
		if (unlikely(munmap(p, a->len)))
			a->errors++;
	}
}

/* ---- rows ---- */

struct side {
	bench_fn fn;		/* NULL: not measured (n/a) */
	void *arg;
	uint64_t iters;		/* per run; 0: calibrate */
	double ops;		/* operations per iteration */
	struct bench_result r;
};

/*
 * measure_pair - the runs of one row, umm and host alternating, after
 * one untimed run of each (or a calibration, which warms up too).
 */
static void measure_pair(struct side *u, struct side *h)
{
	double su[BENCH_MAX_RUNS], sh[BENCH_MAX_RUNS];
	unsigned int runs = opts->runs < BENCH_MAX_RUNS ? opts->runs : BENCH_MAX_RUNS;
	struct side *s[2] = { u, h };
	double *samples[2] = { su, sh };

	for (int k = 0; k < 2; k++) {
		if (!s[k]->fn)
			continue;
		if (s[k]->iters)
			bench_time_once(s[k]->fn, s[k]->arg, s[k]->iters);
		else
			s[k]->iters = bench_calibrate(s[k]->fn, s[k]->arg,
						      opts->target_ns);
	}
	for (unsigned int i = 0; i < runs; i++)
		for (int k = 0; k < 2; k++)
			if (s[k]->fn)
				samples[k][i] = (double)bench_time_once(s[k]->fn,
						s[k]->arg, s[k]->iters) /
						((double)s[k]->iters * s[k]->ops);
	for (int k = 0; k < 2; k++)
		if (s[k]->fn)
			bench_stats(samples[k], runs, &s[k]->r);
}

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

static const char *target_le(char *buf, size_t len, double v, double limit)
{
	snprintf(buf, len, "<= %.0f ns: %s", limit, v <= limit ? "met" : "MISSED");
	return buf;
}

/* ---- page_fault1/2/3, one thread ---- */

static int pf_row(const char *name, struct umm_mm *mm, int umm_flags,
		  int host_flags, int host_fd, const char *na, bool target)
{
	struct pf_arg ua = { mm, umm_flags, -1, region_len, 0 };
	struct pf_arg ha = { NULL, host_flags, host_fd, region_len, 0 };
	double pages = (double)(region_len / PG);
	struct side u = { .fn = umm_flags ? umm_pf_cycle : NULL, .arg = &ua,
			  .iters = 1, .ops = pages };
	struct side h = { .fn = host_pf_cycle, .arg = &ha, .iters = 1, .ops = pages };
	char tbuf[48];
	double cold = 0;

	if (u.fn && !mm->stat[MM_PGFAULT])	/* first faults of this process */
		cold = (double)bench_time_once(u.fn, u.arg, 1) / pages;
	measure_pair(&u, &h);
	if (ua.errors || ha.errors) {
		fprintf(stderr, "bench_fault: %s: %llu umm and %llu host calls "
			"failed\n", name, (unsigned long long)ua.errors,
			(unsigned long long)ha.errors);
		errors++;
		return 1;
	}
	print_row(name, u.fn ? &u.r : NULL, &h.r, na,
		  target ? target_le(tbuf, sizeof(tbuf), u.r.median,
				     PF1_TARGET_NS) : NULL);
	if (cold > 0)
		printf("  # umm's first cycle, frame pool still untouched by the "
		       "host: %.0f ns/fault\n", cold);
	if (mm && mm->map_count) {
		fprintf(stderr, "bench_fault: %s: %llu VMAs left after munmap\n",
			name, (unsigned long long)mm->map_count);
		errors++;
		return 1;
	}
	return 0;
}

/* A 128 MiB file on tmpfs (as will-it-scale's in /tmp), unlinked. */
static int host_tmpfile(uint64_t len)
{
	static const char *dirs[] = { "/dev/shm", "/tmp" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "%s/bench_fault.XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		unlink(path);
		if (!ftruncate(fd, (off_t)len))
			return fd;
		close(fd);
	}
	return -1;
}

/* ---- page_fault1, two threads, one mm / one process ---- */

struct pf2t {
	pthread_barrier_t start;
	struct pf_arg arg[2];
	bench_fn fn;
	uint64_t t0[2], t1[2];
};

struct pf2t_thread {
	struct pf2t *p;
	int i;
};

static void *pf2t_worker(void *v)
{
	struct pf2t_thread *t = v;
	struct pf2t *p = t->p;

	pthread_barrier_wait(&p->start);
	p->t0[t->i] = bench_now_ns();
	p->fn(&p->arg[t->i], 1);
	p->t1[t->i] = bench_now_ns();
	return NULL;
}

/* One run; @per_thread gets each thread's ns/fault. Return: wall ns/fault. */
static double pf2t_once(struct pf2t *p, double per_thread[2])
{
	struct pf2t_thread t[2] = { { p, 0 }, { p, 1 } };
	pthread_t tid[2];
	double pages = (double)(region_len / PG);
	uint64_t t0, t1;
	int err;

	pthread_barrier_init(&p->start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		err = pthread_create(&tid[i], NULL, pf2t_worker, &t[i]);
		if (err) {
			fail("pthread_create", err);
			if (i)	/* let the first one go and finish */
				pf2t_worker(&t[1]), pthread_join(tid[0], NULL);
			pthread_barrier_destroy(&p->start);
			return 0;
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&p->start);
	t0 = p->t0[0] < p->t0[1] ? p->t0[0] : p->t0[1];
	t1 = p->t1[0] > p->t1[1] ? p->t1[0] : p->t1[1];
	for (int i = 0; i < 2; i++)
		per_thread[i] = (double)(p->t1[i] - p->t0[i]) / pages;
	return (double)(t1 - t0) / (2 * pages);
}

static int pf2t_rows(struct umm_mm *mm)
{
	static struct pf2t up, hp;	/* zeroed */
	double ut[2 * BENCH_MAX_RUNS], ht[2 * BENCH_MAX_RUNS];
	double uw[BENCH_MAX_RUNS], hw[BENCH_MAX_RUNS], dummy[2];
	unsigned int runs = opts->runs < BENCH_MAX_RUNS ? opts->runs : BENCH_MAX_RUNS;
	struct bench_result urt, hrt, urw, hrw;

	up.fn = umm_pf_cycle;
	hp.fn = host_pf_cycle;
	for (int i = 0; i < 2; i++) {
		up.arg[i] = (struct pf_arg){ mm, MAP_PRIVATE | MAP_ANONYMOUS, -1,
					     region_len, 0 };
		hp.arg[i] = (struct pf_arg){ NULL, MAP_PRIVATE | MAP_ANONYMOUS, -1,
					     region_len, 0 };
	}
	pf2t_once(&up, dummy);		/* warm up: 2 regions of frames */
	pf2t_once(&hp, dummy);
	for (unsigned int i = 0; i < runs; i++) {
		uw[i] = pf2t_once(&up, &ut[2 * i]);
		hw[i] = pf2t_once(&hp, &ht[2 * i]);
	}
	for (int i = 0; i < 2; i++)
		if (up.arg[i].errors || hp.arg[i].errors)
			return fail("page_fault1 x2 threads", EFAULT);
	if (errors)
		return 1;
	bench_stats(ut, 2 * runs, &urt);
	bench_stats(ht, 2 * runs, &hrt);
	bench_stats(uw, runs, &urw);
	bench_stats(hw, runs, &hrw);
	print_row("page_fault1 2 threads: per thread", &urt, &hrt, NULL, NULL);
	print_row("page_fault1 2 threads: total (wall/faults)", &urw, &hrw, NULL, NULL);
	printf("  # rates (median): umm %.2f M faults/s per thread, %.2f total; "
	       "host %.2f per thread, %.2f total\n", 1e3 / urt.median,
	       1e3 / urw.median, 1e3 / hrt.median, 1e3 / hrw.median);
	return 0;
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
 * here is the machine's (SMT siblings, shared caches, vCPU scheduling),
 * not any lock's: it bounds what the churn fraction can reach.
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
	print_pct_row(name, &ruk, &rhk, "(the machine's ceiling)");
	bench_stats(unf, runs, &run);
	bench_stats(hnf, runs, &rhn);
	snprintf(name, sizeof(name), "  beside B, %% of beside spinner");
	snprintf(tbuf, sizeof(tbuf), ">= %.0f%% net of machine: %s",
		 100 * CHURN_TARGET, run.median >= CHURN_TARGET ? "met" : "MISSED");
	print_pct_row(name, &run, &rhn, umm_flags ? NULL : tbuf);
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
		struct side u = { .fn = rows[i].umm, .arg = &ua, .ops = 1 };
		struct side h = { .fn = rows[i].host, .arg = &ha, .ops = 1 };

		ua = (struct tlb_arg){ mm, (uint64_t)p, NULL, bits, 0x9e3779b97f4a7c15ull, 0 };
		ha = (struct tlb_arg){ NULL, 0, hp, bits, 0x9e3779b97f4a7c15ull, 0 };
		measure_pair(&u, &h);
		if (!ua.errors)
			print_row(rows[i].name, &u.r, &h.r, NULL, NULL);
	}
	if (ua.errors)
		fail("umm_read/umm_write of the populated TLB region", EFAULT);
	if (umm_munmap(mm, (uint64_t)p, tlb_len))
		fail("umm_munmap of the TLB region", EFAULT);
	munmap(hp, tlb_len);
	return errors ? 1 : 0;
}

/* ---- reference: zeroing a page, which every anonymous fault does ---- */

struct zero_arg {
	char *buf;
	uint64_t pages;		/* a power of two */
	uint64_t next;
};

/* Zero the ring's pages in turn: hot when 16 pages, cold when 128 MiB. */
static void host_zero_page(void *arg, uint64_t iters)
{
	struct zero_arg *z = arg;

	for (uint64_t i = 0; i < iters; i++) {
		memset(z->buf + (z->next++ & (z->pages - 1)) * PG, 0, PG);
		bench_barrier();
	}
}

static int zero_rows(void)
{
	static const char *names[] = {
		"reference: memset 4 KiB page, 16 (cache-hot)",
		"reference: memset 4 KiB page, ring of region",
	};
	uint64_t ring[2] = { 16, region_len / PG };
	char *buf = mmap(NULL, region_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return fail("mmap of the memset ring", errno);
	madvise(buf, region_len, MADV_NOHUGEPAGE);
	memset(buf, 1, region_len);
	for (int k = 0; k < 2; k++) {
		struct zero_arg z = { buf, ring[k], 0 };
		struct side u = { .fn = NULL, .ops = 1 };
		struct side h = { .fn = host_zero_page, .arg = &z, .ops = 1 };

		measure_pair(&u, &h);
		print_row(names[k], NULL, &h.r, "-", NULL);
	}
	munmap(buf, region_len);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct umm_mm *mm;
	char na[64];
	int fd, ret = 0;

	if (bench_parse_args(argc, argv, &o))
		return 2;
	opts = &o;
	region_len = o.quick ? QUICK_LEN : FULL_LEN;
	tlb_len = o.quick ? QUICK_LEN : TLB_FULL_LEN;
	churn_ns = o.quick ? 10 * 1000 * 1000ull : 200 * 1000 * 1000ull;
	if (!o.quick)
		o.target_ns = 50 * 1000 * 1000ull;

	printf("bench_fault%s: ns per op, median (min-max) of %u runs, umm and "
	       "host runs interleaved; host/umm > 1: umm is faster\n",
	       o.quick ? " --quick (smoke run, not numbers)" : "", o.runs);
	printf("# page_fault*: mmap %llu MiB, write 1 byte per 4 KiB page "
	       "(umm: umm_write), munmap; ns per fault = cycle / pages. Host: "
	       "MADV_NOHUGEPAGE, so 4 KiB faults on both sides\n",
	       (unsigned long long)(region_len >> 20));
	printf("# umm frames are recycled from its pool (warmed by one untimed "
	       "cycle); the host recycles its own free pages alike\n");
	printf("%-*s %-*s %-*s %8s  %s\n", NAME_W, "workload", UMM_W,
	       "umm ns/op", HOST_W, "host ns/op", "host/umm", "target");

	mm = umm_mm_create(NULL);
	if (!mm)
		return fail("umm_mm_create", errno);

	ret = pf_row("page_fault1 (private anonymous)", mm,
		     MAP_PRIVATE | MAP_ANONYMOUS, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, NULL, true);
	if (!ret) {
		fd = host_tmpfile(region_len);
		if (fd < 0) {
			ret = fail("a tmpfs file for page_fault2", errno);
		} else {
			snprintf(na, sizeof(na), "n/a (file mappings not yet in umm)");
			ret = pf_row("page_fault2 (private file)", mm, 0,
				     MAP_PRIVATE, fd, na, false);
			close(fd);
		}
	}
	if (!ret)
		ret = pf_row("page_fault3 (shared anonymous; shared file n/a)",
			     mm, MAP_SHARED | MAP_ANONYMOUS,
			     MAP_SHARED | MAP_ANONYMOUS, -1, NULL, false);
	if (!ret)
		ret = pf2t_rows(mm);
	if (!ret)
		ret = zero_rows();
	if (!ret) {
		printf("# churn: A runs page_fault1 cycles for %llu ms while B "
		       "mmaps + munmaps %llu KiB between PROT_NONE guards, same "
		       "mm (host: same process)\n",
		       (unsigned long long)(churn_ns / 1000000),
		       (unsigned long long)(CHURN_LEN >> 10));
		ret = churn_rows("per-VMA locks", 0);
	}
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
