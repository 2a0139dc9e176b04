// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_regions - many small regions, the way an emulator maps a guest:
 * map N regions of 64 KiB, mprotect the first page of each (a split: 2N
 * VMAs), write 8 bytes at 10^6 random places of the writable pages, read
 * them back (checked), unmap every region; N = 1,000 to 1,000,000.
 *
 * Three sides do the same work in the same run, their runs interleaved
 * (umm, host, Unicorn, umm, ...):
 *  - umm: umm_mmap, umm_mprotect, umm_write, umm_read, umm_munmap, one mm;
 *  - the host kernel: mmap (MAP_FIXED_NOREPLACE into a window this process
 *    reserved and let go), mprotect, plain stores and loads, munmap. Its
 *    column is n/a when 2N VMAs exceed vm.max_map_count, unless
 *    --raise-max-map-count (root) raises the limit for the run;
 *  - Unicorn (libunicorn, when pkg-config found it at build time):
 *    uc_mem_map, uc_mem_protect, uc_mem_write, uc_mem_read, uc_mem_unmap
 *    on an x86-64 engine. Unicorn 2.0.1 aborts on an assertion at a few
 *    thousand regions and slows down superlinearly before that, so it runs
 *    in a forked child under an alarm(); how it ended is what its column
 *    says, and larger N are not tried after it failed.
 *
 * Regions sit 128 KiB apart, so no two merge. Figures: ns per region for
 * map, mprotect and unmap; ns per access for the writes and reads.
 * Target (umm): at N = 1,000, at least 1,000x Unicorn's map and mprotect
 * rates; every N up to 1,000,000 completes.
 *
 * Median (min-max) of 5 runs: a Unicorn run at N = 1,000 takes about 30 s.
 *
 * Usage: bench_regions [--quick] [--raise-max-map-count]   (--quick: N =
 * 100 and 1,000, 10^4 accesses, Unicorn at N = 100 only; numbers mean
 * nothing)
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "mm.h"
#include "bench.h"
#ifdef UMM_BENCH_UNICORN
#include <unicorn/unicorn.h>
#include "uapi_mman.h"
#endif

#define PG		4096ull
#define REGION		(64ull << 10)
#define STRIDE		(128ull << 10)	/* region + a hole: no merging */
#define REGION_PAGES	(REGION / PG)
#define VALUE_KEY	0x9e3779b97f4a7c15ull
#define UC_BASE		(1ull << 32)	/* Unicorn's guest addresses */
#define UC_LIMIT_S	240		/* one Unicorn run, full mode */
#define UC_LIMIT_QUICK_S 20
#define UC_QUICK_MAX_N	100
#define WARM_MAX_N	1000000		/* from here on, no warm-up run */
#define HOST_SLACK	10000		/* VMAs beyond 2N the limit must allow */
#define NAME_W		26
#define CELL_W		22

enum phase { PH_MAP, PH_PROTECT, PH_WRITE, PH_READ, PH_UNMAP, NR_PHASES };

static const char *const phase_name[NR_PHASES] = {
	"map", "mprotect", "write", "read", "unmap",
};

static const char *const phase_long[NR_PHASES] = {
	"map N regions of 64 KiB",
	"mprotect the first page of each (split)",
	"random 8-byte writes",
	"random 8-byte reads (checked)",
	"unmap every region",
};

static const char *const uc_call[NR_PHASES] = {
	"uc_mem_map", "uc_mem_protect", "uc_mem_write", "uc_mem_read",
	"uc_mem_unmap",
};

static const struct bench_opts *opts;
static uint64_t accesses;		/* per write (read) phase */

/* One run's outcome on one side: ns per region or access, per phase. */
struct cycle {
	double ns[NR_PHASES];
	double total_ns;
	int err;			/* 0, or what failed: */
	enum phase err_phase;
	uint64_t err_at;		/* region or access index */
	char msg[64];
};

static double per_op(enum phase p, uint64_t n)
{
	return p == PH_WRITE || p == PH_READ ? (double)accesses : (double)n;
}

/*
 * The i-th random access of a run, as an offset from the first region:
 * a region, one of its writable pages (1..15) and an 8-byte slot. Reads
 * replay the writes' sequence; the value is the offset's, so a read
 * checks the last write to its place whatever the order was.
 */
static inline uint64_t rand_off(uint64_t *rng, uint64_t n)
{
	uint64_t x = bench_rand64(rng);
	uint64_t region = ((x >> 32) * n) >> 32;
	uint64_t page = 1 + ((((x >> 12) & 0xff) * (REGION_PAGES - 1)) >> 8);

	return region * STRIDE + page * PG + ((x >> 3) & 0x1ff) * 8;
}

static void cycle_fail(struct cycle *c, enum phase p, uint64_t at, int err,
		       const char *what)
{
	if (c->err)
		return;
	c->err = err ? err : EIO;
	c->err_phase = p;
	c->err_at = at;
	snprintf(c->msg, sizeof(c->msg), "%s", what);
}

/* Time phase @p: stamps[p] .. stamps[p + 1]. */
static void cycle_times(struct cycle *c, const uint64_t *t, uint64_t n)
{
	for (int p = 0; p < NR_PHASES; p++)
		c->ns[p] = (double)(t[p + 1] - t[p]) / per_op(p, n);
	c->total_ns = (double)(t[NR_PHASES] - t[0]);
}

/* ---- umm ---- */

struct umm_side {
	struct umm_mm *mm;
	uint64_t base;
};

static int umm_window(struct umm_side *u, uint64_t n)
{
	int64_t p = umm_mmap(u->mm, 0, n * STRIDE, PROT_NONE, MAP_PRIVATE |
			     MAP_ANONYMOUS | MAP_NORESERVE, NULL, 0);

	if (p < 0)
		return (int)p;
	u->base = (uint64_t)p;
	return umm_munmap(u->mm, u->base, n * STRIDE);
}

static void umm_cycle(struct umm_side *u, uint64_t n, struct cycle *c)
{
	uint64_t t[NR_PHASES + 1], rng = VALUE_KEY, i;
	int64_t r;

	memset(c, 0, sizeof(*c));
	t[PH_MAP] = bench_now_ns();
	for (i = 0; i < n && !c->err; i++) {
		r = umm_mmap(u->mm, u->base + i * STRIDE, REGION,
			     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_FIXED_NOREPLACE, NULL, 0);
		if (r != (int64_t)(u->base + i * STRIDE))
			cycle_fail(c, PH_MAP, i, r < 0 ? (int)-r : EFAULT, "umm_mmap");
	}
	t[PH_PROTECT] = bench_now_ns();
	for (i = 0; i < n && !c->err; i++) {
		r = umm_mprotect(u->mm, u->base + i * STRIDE, PG, PROT_READ);
		if (r)
			cycle_fail(c, PH_PROTECT, i, (int)-r, "umm_mprotect");
	}
	t[PH_WRITE] = bench_now_ns();
	for (i = 0; i < accesses && !c->err; i++) {
		uint64_t off = rand_off(&rng, n), v = off ^ VALUE_KEY;

		if (unlikely(umm_write(u->mm, u->base + off, &v, 8) != 8))
			cycle_fail(c, PH_WRITE, i, EFAULT, "umm_write");
	}
	t[PH_READ] = bench_now_ns();
	rng = VALUE_KEY;
	for (i = 0; i < accesses && !c->err; i++) {
		uint64_t off = rand_off(&rng, n), v;

		if (unlikely(umm_read(u->mm, u->base + off, &v, 8) != 8))
			cycle_fail(c, PH_READ, i, EFAULT, "umm_read");
		else if (unlikely(v != (off ^ VALUE_KEY)))
			cycle_fail(c, PH_READ, i, EIO, "umm_read: wrong value");
	}
	t[PH_UNMAP] = bench_now_ns();
	/* unmap what was mapped even after a failure */
	for (i = 0; i < n; i++) {
		r = umm_munmap(u->mm, u->base + i * STRIDE, REGION);
		if (r)
			cycle_fail(c, PH_UNMAP, i, (int)-r, "umm_munmap");
	}
	t[NR_PHASES] = bench_now_ns();
	cycle_times(c, t, n);
	if (!c->err && u->mm->map_count)
		cycle_fail(c, PH_UNMAP, n, EBUSY, "umm: VMAs left after unmap");
}

/* ---- the host ---- */

/*
 * The host window stays reserved (PROT_NONE) between runs, so umm's own
 * frame pool, which grows by host mmap, cannot land in it; a run lets it
 * go first, so its regions go into a free range as on the other sides.
 */
static int host_window(uint64_t *base, uint64_t n)
{
	void *p = mmap(NULL, n * STRIDE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	*base = (uint64_t)p;
	return 0;
}

static int host_reserve(uint64_t base, uint64_t n)
{
	void *want = (void *)base;
	void *p = mmap(want, n * STRIDE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == want)
		return 0;
	if (p != MAP_FAILED)
		munmap(p, n * STRIDE);
	return p == MAP_FAILED ? -errno : -EEXIST;
}

static void host_cycle(uint64_t base, uint64_t n, struct cycle *c)
{
	uint64_t t[NR_PHASES + 1], rng = VALUE_KEY, i;
	int err;

	memset(c, 0, sizeof(*c));
	/* nothing else in this thread maps until the window is taken back */
	if (munmap((void *)base, n * STRIDE)) {
		cycle_fail(c, PH_MAP, 0, errno, "munmap of the window");
		return;
	}
	t[PH_MAP] = bench_now_ns();
	for (i = 0; i < n && !c->err; i++) {
		void *want = (void *)(base + i * STRIDE);
		void *p = mmap(want, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			       MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p != want)
			cycle_fail(c, PH_MAP, i, p == MAP_FAILED ? errno : EEXIST,
				   "mmap");
	}
	t[PH_PROTECT] = bench_now_ns();
	for (i = 0; i < n && !c->err; i++)
		if (mprotect((void *)(base + i * STRIDE), PG, PROT_READ))
			cycle_fail(c, PH_PROTECT, i, errno, "mprotect");
	t[PH_WRITE] = bench_now_ns();
	for (i = 0; i < accesses && !c->err; i++) {
		uint64_t off = rand_off(&rng, n);

		*(volatile uint64_t *)(base + off) = off ^ VALUE_KEY;
	}
	t[PH_READ] = bench_now_ns();
	rng = VALUE_KEY;
	for (i = 0; i < accesses && !c->err; i++) {
		uint64_t off = rand_off(&rng, n);

		if (unlikely(*(volatile uint64_t *)(base + off) != (off ^ VALUE_KEY)))
			cycle_fail(c, PH_READ, i, EIO, "load: wrong value");
	}
	t[PH_UNMAP] = bench_now_ns();
	for (i = 0; i < n; i++)
		if (munmap((void *)(base + i * STRIDE), REGION))
			cycle_fail(c, PH_UNMAP, i, errno, "munmap");
	t[NR_PHASES] = bench_now_ns();
	cycle_times(c, t, n);
	err = host_reserve(base, n);
	if (err)
		cycle_fail(c, PH_UNMAP, n, -err, "taking the window back");
}

/* ---- Unicorn, in a child ---- */

/*
 * The child's progress and result live in a shared page, so what it was
 * doing is known even when it dies in the middle (SIGABRT, SIGALRM).
 */
struct uc_shared {
	volatile int phase;		/* enum phase, while a run is going */
	volatile uint64_t at;		/* region or access reached in it */
	struct cycle c;			/* the last finished run */
};

struct uc_peer {
	pid_t pid;			/* 0: not running */
	int cmd, res;			/* pipes: parent -> child, back */
	struct uc_shared *sh;
	char status[BENCH_CELL_LEN];	/* why there is no figure, or "" */
};

#ifdef UMM_BENCH_UNICORN
static void uc_fail(struct uc_shared *sh, uc_err e, uint64_t at)
{
	cycle_fail(&sh->c, (enum phase)sh->phase, at, EIO, uc_strerror(e));
}

/* One run inside the child: a fresh engine each time. */
static void uc_cycle(struct uc_shared *sh, uint64_t n)
{
	struct cycle *c = &sh->c;
	uint64_t t[NR_PHASES + 1], rng = VALUE_KEY, i;
	uc_engine *uc;
	uc_err e;

	memset(c, 0, sizeof(*c));
	e = uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
	if (e) {
		uc_fail(sh, e, 0);
		return;
	}
	t[PH_MAP] = bench_now_ns();
	sh->phase = PH_MAP;
	for (i = 0; i < n && !c->err; i++) {
		sh->at = i;
		e = uc_mem_map(uc, UC_BASE + i * STRIDE, REGION,
			       UC_PROT_READ | UC_PROT_WRITE);
		if (e)
			uc_fail(sh, e, i);
	}
	t[PH_PROTECT] = bench_now_ns();
	sh->phase = PH_PROTECT;
	for (i = 0; i < n && !c->err; i++) {
		sh->at = i;
		e = uc_mem_protect(uc, UC_BASE + i * STRIDE, PG, UC_PROT_READ);
		if (e)
			uc_fail(sh, e, i);
	}
	t[PH_WRITE] = bench_now_ns();
	sh->phase = PH_WRITE;
	for (i = 0; i < accesses && !c->err; i++) {
		uint64_t off = rand_off(&rng, n), v = off ^ VALUE_KEY;

		e = uc_mem_write(uc, UC_BASE + off, &v, 8);
		if (unlikely(e))
			uc_fail(sh, e, i);
	}
	t[PH_READ] = bench_now_ns();
	sh->phase = PH_READ;
	rng = VALUE_KEY;
	for (i = 0; i < accesses && !c->err; i++) {
		uint64_t off = rand_off(&rng, n), v = 0;

		e = uc_mem_read(uc, UC_BASE + off, &v, 8);
		if (unlikely(e))
			uc_fail(sh, e, i);
		else if (unlikely(v != (off ^ VALUE_KEY)))
			cycle_fail(c, PH_READ, i, EIO, "uc_mem_read: wrong value");
	}
	t[PH_UNMAP] = bench_now_ns();
	sh->phase = PH_UNMAP;
	for (i = 0; i < n && !c->err; i++) {
		sh->at = i;
		e = uc_mem_unmap(uc, UC_BASE + i * STRIDE, REGION);
		if (e)
			uc_fail(sh, e, i);
	}
	t[NR_PHASES] = bench_now_ns();
	uc_close(uc);
	cycle_times(c, t, n);
}

/* The child: a run per byte read, under an alarm; ends at EOF. */
static void __attribute__((noreturn)) uc_child(struct uc_peer *p, uint64_t n,
						unsigned int limit_s)
{
	char cmd, done = 'd';

	signal(SIGINT, SIG_IGN);	/* the parent decides when it ends ... */
	prctl(PR_SET_PDEATHSIG, SIGKILL);	/* ... or its death does */
	while (read(p->cmd, &cmd, 1) == 1) {
		alarm(limit_s);
		uc_cycle(p->sh, n);
		alarm(0);
		if (write(p->res, &done, 1) != 1)
			break;
	}
	_exit(0);
}

static bool uc_built(void)
{
	return true;
}
#else
static void __attribute__((noreturn)) uc_child(struct uc_peer *p, uint64_t n,
						unsigned int limit_s)
{
	(void)p;
	(void)n;
	(void)limit_s;
	_exit(1);
}

static bool uc_built(void)
{
	return false;
}
#endif

static int uc_start(struct uc_peer *p, uint64_t n, unsigned int limit_s)
{
	int cmd[2], res[2];

	memset(p, 0, sizeof(*p));
	p->sh = mmap(NULL, sizeof(*p->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->sh == MAP_FAILED) {
		p->sh = NULL;
		return -errno;
	}
	if (pipe(cmd))
		return -errno;
	if (pipe(res)) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	fflush(stdout);		/* or the child's exit would print it again */
	p->pid = fork();
	if (p->pid < 0) {
		int err = errno;

		p->pid = 0;
		close(cmd[0]);
		close(cmd[1]);
		close(res[0]);
		close(res[1]);
		return -err;
	}
	if (!p->pid) {
		close(cmd[1]);
		close(res[0]);
		p->cmd = cmd[0];
		p->res = res[1];
		uc_child(p, n, limit_s);
	}
	close(cmd[0]);
	close(res[1]);
	p->cmd = cmd[1];
	p->res = res[0];
	return 0;
}

static void uc_stop(struct uc_peer *p)
{
	if (p->pid) {
		close(p->cmd);
		close(p->res);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	if (p->sh)
		munmap(p->sh, sizeof(*p->sh));
	p->sh = NULL;
}

/*
 * uc_run - one run in the child. Return: 0 with *@c filled, or -1 with
 * p->status saying how Unicorn failed (the child is gone then).
 */
static int uc_run(struct uc_peer *p, uint64_t n, unsigned int limit_s,
		  struct cycle *c)
{
	char go = 'r', done, nbuf[24], abuf[24];
	int status = 0;
	enum phase ph;

	bench_fmt_count(nbuf, sizeof(nbuf), n);
	p->sh->phase = PH_MAP;
	p->sh->at = 0;
	if (write(p->cmd, &go, 1) == 1 && read(p->res, &done, 1) == 1) {
		*c = p->sh->c;
		if (!c->err)
			return 0;
		bench_fmt_count(abuf, sizeof(abuf), c->err_at);
		snprintf(p->status, sizeof(p->status), "failed at N=%s: %s "
			 "(%s, at %s %s)", nbuf, uc_call[c->err_phase], c->msg,
			 c->err_phase == PH_WRITE || c->err_phase == PH_READ ?
			 "access" : "region", abuf);
		uc_stop(p);
		return -1;
	}
	ph = (enum phase)p->sh->phase;
	bench_fmt_count(abuf, sizeof(abuf), p->sh->at);
	close(p->cmd);
	close(p->res);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(p->status, sizeof(p->status), "timed out (%u s) at N=%s, "
			 "in %s at region %s", limit_s, nbuf, uc_call[ph], abuf);
	else if (WIFSIGNALED(status))
		snprintf(p->status, sizeof(p->status), "aborted (SIG%s) at N=%s, "
			 "in %s at region %s", sigabbrev_np(WTERMSIG(status)),
			 nbuf, uc_call[ph], abuf);
	else
		snprintf(p->status, sizeof(p->status), "exited (status %d) at "
			 "N=%s, in %s", WEXITSTATUS(status), nbuf, uc_call[ph]);
	uc_stop(p);
	return -1;
}

/* ---- one N ---- */

struct sides {
	double s[3][NR_PHASES][BENCH_MAX_RUNS];	/* umm, host, Unicorn */
	double total[3][BENCH_MAX_RUNS];
	unsigned int runs[3];
};

static void record(struct sides *sd, int k, const struct cycle *c)
{
	unsigned int r = sd->runs[k]++;

	for (int p = 0; p < NR_PHASES; p++)
		sd->s[k][p][r] = c->ns[p];
	sd->total[k][r] = c->total_ns / 1e6;
}

static void fmt_cell(char *buf, size_t len, const struct bench_result *r,
		     const char *why)
{
	if (!r)
		snprintf(buf, len, "%s", why);
	else if (r->median < 10)
		snprintf(buf, len, "%.2f (%.2f-%.2f)", r->median, r->min, r->max);
	else
		snprintf(buf, len, "%.0f (%.0f-%.0f)", r->median, r->min, r->max);
}

static void ratio(char *buf, size_t len, const struct bench_result *num,
		  const struct bench_result *den)
{
	if (num && den && den->median > 0)
		snprintf(buf, len, "%.3g", num->median / den->median);
	else
		snprintf(buf, len, "-");
}

/* The table rows of one N: a row per phase and one for the whole cycle. */
static void print_n(uint64_t n, struct sides *sd, const char *host_na,
		    const char *uc_na)
{
	const char *why[3] = { "-", host_na, uc_na };
	char nbuf[24], param[32];

	bench_fmt_count(nbuf, sizeof(nbuf), n);
	snprintf(param, sizeof(param), "regions=%llu", (unsigned long long)n);
	for (int p = 0; p <= NR_PHASES; p++) {
		struct bench_result r[3], *rp[3];
		char cell[3][BENCH_CELL_LEN], out[3][BENCH_CELL_LEN], hr[16], ur[16];
		const char *field[3];
		char name[64];

		for (int k = 0; k < 3; k++) {
			rp[k] = NULL;
			if (sd->runs[k] < 1)
				continue;
			bench_stats(p < NR_PHASES ? sd->s[k][p] : sd->total[k],
				    sd->runs[k], &r[k]);
			rp[k] = &r[k];
		}
		for (int k = 0; k < 3; k++) {
			fmt_cell(out[k], sizeof(out[k]), rp[k], why[k]);
			field[k] = bench_cell(cell[k], sizeof(cell[k]), rp[k], why[k]);
		}
		ratio(hr, sizeof(hr), rp[1], rp[0]);
		ratio(ur, sizeof(ur), rp[2], rp[0]);
		snprintf(name, sizeof(name), "%s %s", nbuf,
			 p < NR_PHASES ? phase_name[p] : "whole cycle (ms)");
		printf("%-*s %-*s %-*s %-*s %9s %9s\n", NAME_W, name, CELL_W,
		       out[0], CELL_W, out[1], CELL_W, out[2], hr, ur);
		bench_emit("regions", p < NR_PHASES ? phase_long[p] :
			   "whole cycle", param, p == NR_PHASES ? "ms" :
			   p == PH_WRITE || p == PH_READ ? "ns/access" : "ns/region",
			   field[0], field[1], field[2]);
	}
	fflush(stdout);
}

static int bench_n(struct umm_side *u, uint64_t n, bool host_ok,
		   const char *host_na, bool uc_try, char *uc_status, size_t uc_len)
{
	static struct sides sd;
	unsigned int limit = opts->quick ? UC_LIMIT_QUICK_S : UC_LIMIT_S;
	unsigned int runs = opts->runs < BENCH_MAX_RUNS ? opts->runs : BENCH_MAX_RUNS;
	struct uc_peer uc = { 0 };
	uint64_t hbase = 0;
	struct cycle c;
	int err;

	memset(&sd, 0, sizeof(sd));
	err = uc_try ? uc_start(&uc, n, limit) : 0;
	if (err) {
		snprintf(uc_status, uc_len, "not run (%s)", strerror(-err));
		uc_stop(&uc);
		uc_try = false;
	}
	err = umm_window(u, n);
	if (err) {
		fprintf(stderr, "bench_regions: umm window of %llu regions: %s\n",
			(unsigned long long)n, strerror(-err));
		goto out;
	}
	err = host_ok ? host_window(&hbase, n) : 0;
	if (err) {
		fprintf(stderr, "bench_regions: host window: %s\n", strerror(-err));
		goto out;
	}
	/*
	 * A warm-up run (frames, tables, caches), but for the largest N: the
	 * one before it has warmed most of that, and it would cost a minute.
	 */
	c.err = 0;
	if (n < WARM_MAX_N)
		umm_cycle(u, n, &c);
	if (n < WARM_MAX_N && !c.err && host_ok)
		host_cycle(hbase, n, &c);
	for (unsigned int i = 0; i < runs && !c.err; i++) {
		umm_cycle(u, n, &c);
		if (c.err)
			break;
		record(&sd, 0, &c);
		if (host_ok) {
			host_cycle(hbase, n, &c);
			if (c.err)
				break;
			record(&sd, 1, &c);
		}
		if (uc.pid && !uc_run(&uc, n, limit, &c))
			record(&sd, 2, &c);
		c.err = 0;
	}
	if (c.err) {
		fprintf(stderr, "bench_regions: N=%llu: %s failed in %s at %llu: "
			"%s\n", (unsigned long long)n, c.msg, phase_name[c.err_phase],
			(unsigned long long)c.err_at, strerror(c.err));
		err = -c.err;
		goto out;
	}
	if (uc_try && uc.status[0]) {
		/* a run that failed voids the ones before it */
		snprintf(uc_status, uc_len, "%s", uc.status);
		sd.runs[2] = 0;
	}
	print_n(n, &sd, host_na, uc_status);
out:
	uc_stop(&uc);
	if (hbase)
		munmap((void *)hbase, n * STRIDE);
	return err ? 1 : 0;
}

static long host_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long nr = 0;
	int ch;

	if (!f)
		return 0;
	while ((ch = getc(f)) != EOF)
		nr += ch == '\n';
	fclose(f);
	return nr;
}

int main(int argc, char **argv)
{
	static const uint64_t full_n[] = { 1000, 10000, 100000, 1000000 };
	static const uint64_t quick_n[] = { 100, 1000 };
	struct umm_opts uo = { .size = sizeof(uo) };
	char uc_status[BENCH_CELL_LEN] = "", host_na[64], nbuf[24];
	struct umm_side u;
	struct bench_opts o;
	const uint64_t *ns;
	size_t nr;
	long max_map;
	int ret = 0;

	if (bench_parse_args(argc, argv, &o))
		return 2;
	signal(SIGPIPE, SIG_IGN);	/* a dead Unicorn child: EPIPE instead */
	opts = &o;
	o.runs = 5;		/* a Unicorn run at N = 1,000 takes ~30 s */
	ns = o.quick ? quick_n : full_n;
	nr = 2 + 2 * !o.quick;
	accesses = o.quick ? 10000 : 1000000;
	max_map = bench_host_map_limit(&o, 2 * (long)ns[nr - 1] + HOST_SLACK);
	snprintf(host_na, sizeof(host_na), "n/a (vm.max_map_count %ld)", max_map);
	if (!uc_built())
		snprintf(uc_status, sizeof(uc_status), "not built (no libunicorn "
			 "found by pkg-config)");

	printf("bench_regions%s: N regions of 64 KiB: map, mprotect the first "
	       "page of each, %llu random 8-byte writes then reads, unmap; "
	       "median (min-max) of %u runs, sides interleaved. ns per region "
	       "(map, mprotect, unmap) or per access\n",
	       o.quick ? " --quick (smoke run, not numbers)" : "",
	       (unsigned long long)accesses, o.runs);
	if (!uc_built())
		printf("# Unicorn: not built (libunicorn-dev not found by "
		       "pkg-config at build time): its column is skipped\n");
	printf("%-*s %-*s %-*s %-*s %9s %9s\n", NAME_W, "N phase", CELL_W, "umm",
	       CELL_W, "host", CELL_W, "Unicorn", "host/umm", "uc/umm");

	uo.max_map_count = 2 * ns[nr - 1] + HOST_SLACK;
	u.mm = umm_mm_create(&uo);
	if (!u.mm) {
		fprintf(stderr, "bench_regions: umm_mm_create: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < nr && !ret; i++) {
		uint64_t n = ns[i];
		bool host_ok = host_vmas() + 2 * (long)n + 64 <= max_map;
		bool uc_try = uc_built() && !uc_status[0];

		if (uc_try && o.quick && n > UC_QUICK_MAX_N) {
			uc_try = false;
			snprintf(uc_status, sizeof(uc_status),
				 "skipped in --quick (N > %d)", UC_QUICK_MAX_N);
		}
		ret = bench_n(&u, n, host_ok, host_na, uc_try, uc_status,
			      sizeof(uc_status));
		/* after a failure, larger N are not tried: say where it ended */
		if (uc_try && uc_status[0] && strncmp(uc_status, "not run", 7)) {
			bench_fmt_count(nbuf, sizeof(nbuf), n);
			bench_note("Unicorn %s: larger N not tried", uc_status);
			snprintf(uc_status, sizeof(uc_status), "not run (failed at "
				 "N=%s)", nbuf);
		}
	}
	if (!ret && max_map < 2 * (long)ns[nr - 1] + 64)
		bench_note("many regions: host column n/a where 2N VMAs exceed "
			   "vm.max_map_count (%ld); as root, make bench raises it "
			   "for the run (--raise-max-map-count)", max_map);
	umm_mm_destroy(u.mm);
	return ret;
}
