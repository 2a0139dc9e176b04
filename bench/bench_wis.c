// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_wis - will-it-scale's page-fault and mmap shapes on umm and on the
 * host kernel, in the same process and run, with 1 and 2 threads:
 *
 *   page_fault1  mmap 128 MiB private anonymous, write a byte to each
 *                4 KiB page, munmap; again
 *   page_fault2  the same over a private mapping of a 128 MiB file
 *   page_fault3  the same over a shared mapping of the file
 *   mmap1        mmap + munmap of 128 MiB anonymous, nothing touched
 *   mmap2        the same on the file
 *
 * plus page_fault1 with MADV_HUGEPAGE on both sides (2 MiB THPs: one
 * fault per 512 pages, the rest are writes through the leaf), page_fault3's
 * shape over shared anonymous memory (umm's shmem object), and the cost of zeroing a page, which every anonymous fault
 * pays, as a reference. With T threads each thread loops on its own
 * mapping, and its own file ("separate file", as will-it-scale), in one
 * mm (one process on the host). The figure is wall time over the work of
 * all threads (faults, or mmap+munmap pairs): with perfect scaling, two
 * threads on two free CPUs halve it.
 *
 * On umm a fault is a 1-byte umm_write to a page never touched; a file is
 * umm_file_from_fd() of the very host file the host side maps. The host
 * maps with MADV_NOHUGEPAGE, so both sides take 4 KiB faults, except in
 * the THP row.
 *
 * Usage: bench_wis [--quick]   (--quick: 1 MiB mappings, a smoke run for
 * make check; its numbers mean nothing)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "mm.h"
#include "bench.h"

#define PG		4096ull
#define FULL_LEN	(128ull << 20)	/* will-it-scale's MEMSIZE */
#define QUICK_LEN	(1ull << 20)
#define MAX_THREADS	2
#define NAME_W		44
#define CELL_W		26

/* umm_file_from_fd() is declared (bench/CMakeLists.txt looks for it) */
#ifdef UMM_BENCH_HAVE_FILES
#define FILES_PENDING	NULL
#else
#define FILES_PENDING	"pending (umm_file_from_fd not in umm.h yet)"
#endif

static const struct bench_opts *opts;
static uint64_t map_len;
static uint64_t errors;			/* failures: exit 1 */
static const char *umm_file_na;		/* why umm cannot map files, or NULL */

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_wis: %s: %s\n", what, strerror(err));
	errors++;
	return 1;
}

/* ---- one thread's loop: map, maybe touch every page, unmap ---- */

struct wis_arg {
	struct umm_mm *mm;	/* NULL: the host */
	struct umm_file *file;	/* umm's view of @fd, or NULL */
	int fd;			/* host file, or -1 */
	int flags;		/* MAP_* */
	bool touch;
	bool huge;		/* MADV_HUGEPAGE before touching */
	uint64_t errors;
};

static void umm_cycle(void *arg, uint64_t iters)
{
	struct wis_arg *a = arg;
	const char one = 1;

	for (uint64_t i = 0; i < iters; i++) {
		int64_t p = umm_mmap(a->mm, 0, map_len, PROT_READ | PROT_WRITE,
				     a->flags, a->file, 0);

		if (unlikely(p < 0)) {
			a->errors++;
			continue;
		}
		if (a->huge && unlikely(umm_madvise(a->mm, (uint64_t)p, map_len, MADV_HUGEPAGE)))
			a->errors++;
		for (uint64_t off = 0; a->touch && off < map_len; off += PG)
			if (unlikely(umm_write(a->mm, (uint64_t)p + off, &one, 1) != 1))
				a->errors++;
		if (unlikely(umm_munmap(a->mm, (uint64_t)p, map_len)))
			a->errors++;
	}
}

static void host_cycle(void *arg, uint64_t iters)
{
	struct wis_arg *a = arg;

	for (uint64_t i = 0; i < iters; i++) {
		char *p = mmap(NULL, map_len, PROT_READ | PROT_WRITE, a->flags,
			       a->fd, 0);

		if (unlikely(p == MAP_FAILED)) {
			a->errors++;
			continue;
		}
		if (a->touch) {
			madvise(p, map_len, a->huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
			for (uint64_t off = 0; off < map_len; off += PG)
				((volatile char *)p)[off] = 1;
		}
		if (unlikely(munmap(p, map_len)))
			a->errors++;
	}
}

/* ---- long-lived worker threads, as will-it-scale's ---- */

/*
 * Threads live for the whole program, so per-thread state (umm's frame
 * caches and software TLB, the host's per-thread anything) is warm in
 * every run, as in a long will-it-scale run; a job runs @fn on the
 * first @nthreads of them, each with its own argument.
 */
struct job {
	bench_fn fn;
	struct wis_arg *args;	/* [MAX_THREADS] */
	unsigned int nthreads;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a job was posted, or a worker finished */
	uint64_t gen;		/* bumped per job */
	unsigned int done;
	bool quit;
	struct job *job;
	uint64_t iters;
	pthread_t tid[MAX_THREADS];
	unsigned int started;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *worker(void *v)
{
	unsigned int idx = (unsigned int)(uintptr_t)v;
	uint64_t seen = 0;

	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct job *job;
		uint64_t iters;

		while (pool.gen == seen && !pool.quit)
			pthread_cond_wait(&pool.cond, &pool.lock);
		if (pool.quit)
			break;
		seen = pool.gen;
		job = pool.job;
		iters = pool.iters;
		if (idx >= job->nthreads)
			continue;
		pthread_mutex_unlock(&pool.lock);
		job->fn(&job->args[idx], iters);
		pthread_mutex_lock(&pool.lock);
		pool.done++;
		pthread_cond_broadcast(&pool.cond);
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

/* bench_fn of a row: every thread of the job runs @iters loops. */
static void run_job(void *arg, uint64_t iters)
{
	struct job *job = arg;

	pthread_mutex_lock(&pool.lock);
	pool.job = job;
	pool.iters = iters;
	pool.done = 0;
	pool.gen++;
	pthread_cond_broadcast(&pool.cond);
	while (pool.done < job->nthreads)
		pthread_cond_wait(&pool.cond, &pool.lock);
	pthread_mutex_unlock(&pool.lock);
}

static int pool_start(void)
{
	for (; pool.started < MAX_THREADS; pool.started++) {
		int err = pthread_create(&pool.tid[pool.started], NULL, worker,
					 (void *)(uintptr_t)pool.started);

		if (err)
			return fail("pthread_create", err);
	}
	return 0;
}

static void pool_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.quit = true;
	pthread_cond_broadcast(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
	for (unsigned int i = 0; i < pool.started; i++)
		pthread_join(pool.tid[i], NULL);
	pool.started = 0;
}

/* ---- files ---- */

struct wis_file {
	int fd;				/* a 128 MiB host file, unlinked */
	struct umm_file *file;		/* umm's view of it */
};

static struct wis_file files[MAX_THREADS];

/* A sparse file in /tmp, as will-it-scale's. */
static int host_tmpfile(void)
{
	char path[] = "/tmp/bench_wis.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, (off_t)map_len)) {
		close(fd);
		return -1;
	}
	return fd;
}

#ifdef UMM_BENCH_HAVE_FILES
/*
 * Can umm map the file at all? A library whose file layer is declared but
 * not finished says so here once (the rows then say why they are n/a)
 * rather than failing every cycle.
 */
static void umm_files_probe(struct umm_mm *mm)
{
	static char why[96];
	int64_t p;

	for (int i = 0; i < MAX_THREADS; i++) {
		files[i].file = umm_file_from_fd(files[i].fd, O_RDWR);
		if (!files[i].file) {
			snprintf(why, sizeof(why), "n/a (umm_file_from_fd: %s)",
				 strerror(errno));
			umm_file_na = why;
			return;
		}
	}
	p = umm_mmap(mm, 0, map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     files[0].file, 0);
	if (p < 0) {
		snprintf(why, sizeof(why), "n/a (umm_mmap of a file: %s)",
			 strerror((int)-p));
		umm_file_na = why;
		return;
	}
	umm_munmap(mm, (uint64_t)p, map_len);
}

static void umm_files_put(void)
{
	for (int i = 0; i < MAX_THREADS; i++)
		if (files[i].file)
			umm_file_put(files[i].file);
}
#else
static void umm_files_probe(struct umm_mm *mm)
{
	(void)mm;
	umm_file_na = FILES_PENDING;
}

static void umm_files_put(void)
{
}
#endif

static int files_open(struct umm_mm *mm)
{
	for (int i = 0; i < MAX_THREADS; i++) {
		files[i].fd = host_tmpfile();
		if (files[i].fd < 0)
			return fail("a 128 MiB file in /tmp", errno);
	}
	umm_files_probe(mm);
	return 0;
}

static void files_close(void)
{
	umm_files_put();
	for (int i = 0; i < MAX_THREADS; i++)
		if (files[i].fd >= 0)
			close(files[i].fd);
}

/* ---- rows ---- */

struct wis_case {
	const char *name;
	const char *what;
	int flags;		/* MAP_*; no MAP_ANONYMOUS: the file */
	bool touch;
	bool huge;		/* MADV_HUGEPAGE: 2 MiB THPs, both sides */
};

static const struct wis_case cases[] = {
	{ "page_fault1", "private anonymous, write 1 B per page",
	  MAP_PRIVATE | MAP_ANONYMOUS, true, false },
	{ "page_fault1 THP", "private anonymous, MADV_HUGEPAGE, write 1 B per 4 KiB page",
	  MAP_PRIVATE | MAP_ANONYMOUS, true, true },
	{ "page_fault2", "private file, write 1 B per page", MAP_PRIVATE, true, false },
	{ "page_fault3", "shared file, write 1 B per page", MAP_SHARED, true, false },
	{ "page_fault3 shmem", "shared anonymous, write 1 B per page",
	  MAP_SHARED | MAP_ANONYMOUS, true, false },
	{ "mmap1", "mmap+munmap anonymous", MAP_PRIVATE | MAP_ANONYMOUS, false, false },
	{ "mmap2", "mmap+munmap of a file", MAP_PRIVATE, false, false },
};

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

static void print_row(const char *name, const struct bench_result *u,
		      const char *u_why, const struct bench_result *h)
{
	char ub[96], hb[48], ratio[16] = "-";

	fmt_cell(ub, sizeof(ub), u, u_why);
	fmt_cell(hb, sizeof(hb), h, "-");
	if (u && h && u->median > 0)
		snprintf(ratio, sizeof(ratio), "%.2f", h->median / u->median);
	printf("%-*s %-*s %-*s %8s\n", NAME_W, name, CELL_W, ub, CELL_W, hb, ratio);
	fflush(stdout);
}

static int case_row(struct umm_mm *mm, const struct wis_case *c,
		    unsigned int nthreads)
{
	bool file = !(c->flags & MAP_ANONYMOUS);
	struct wis_arg ua[MAX_THREADS], ha[MAX_THREADS];
	struct job uj = { umm_cycle, ua, nthreads }, hj = { host_cycle, ha, nthreads };
	double ops = (double)nthreads * (c->touch ? (double)(map_len / PG) : 1);
	/* a cycle that faults a whole mapping is long enough to time alone */
	uint64_t iters = c->touch ? 1 : 0;
	struct bench_side s[2] = {
		{ .fn = file && umm_file_na ? NULL : run_job, .arg = &uj,
		  .iters = iters, .ops = ops },
		{ .fn = run_job, .arg = &hj, .iters = iters, .ops = ops },
	};
	char name[80], param[16];
	const char *unit = c->touch ? "ns/fault" : "ns/pair";

	for (unsigned int i = 0; i < MAX_THREADS; i++) {
		ua[i] = (struct wis_arg){ mm, file ? files[i].file : NULL, -1,
					  c->flags, c->touch, c->huge, 0 };
		ha[i] = (struct wis_arg){ NULL, NULL, file ? files[i].fd : -1,
					  c->flags, c->touch, c->huge, 0 };
	}
	bench_interleave(opts, s, 2);
	for (unsigned int i = 0; i < nthreads; i++) {
		if (ua[i].errors || ha[i].errors) {
			fprintf(stderr, "bench_wis: %s, %u threads: %llu umm and "
				"%llu host calls failed\n", c->name, nthreads,
				(unsigned long long)ua[i].errors,
				(unsigned long long)ha[i].errors);
			errors++;
			return 1;
		}
	}
	snprintf(name, sizeof(name), "%s, %u thread%s", c->name, nthreads,
		 nthreads > 1 ? "s" : "");
	print_row(name, s[0].fn ? &s[0].r : NULL, umm_file_na, &s[1].r);
	snprintf(name, sizeof(name), "%s (%s)", c->name, c->what);
	snprintf(param, sizeof(param), "threads=%u", nthreads);
	bench_emit2("will-it-scale", name, param, unit, s[0].fn ? &s[0].r : NULL,
		    umm_file_na, &s[1].r, NULL);
	if (mm->map_count) {
		fprintf(stderr, "bench_wis: %s: %llu VMAs left after munmap\n",
			c->name, (unsigned long long)mm->map_count);
		errors++;
		return 1;
	}
	return 0;
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
		"memset of a 4 KiB page, 16 pages (cache-hot)",
		"memset of a 4 KiB page, ring of the mapping",
	};
	uint64_t ring[2] = { 16, map_len / PG };
	char *buf = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return fail("mmap of the memset ring", errno);
	madvise(buf, map_len, MADV_NOHUGEPAGE);
	memset(buf, 1, map_len);
	for (int k = 0; k < 2; k++) {
		struct zero_arg z = { buf, ring[k], 0 };
		struct bench_side s = { .fn = host_zero_page, .arg = &z, .ops = 1 };

		bench_interleave(opts, &s, 1);
		print_row(names[k], NULL, "-", &s.r);
		bench_emit2("reference", names[k], NULL, "ns/page", NULL, NULL,
			    &s.r, NULL);
	}
	munmap(buf, map_len);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct umm_mm *mm;
	int ret = 0;

	if (bench_parse_args(argc, argv, &o))
		return 2;
	if (!o.quick)
		o.target_ns = 50 * 1000 * 1000ull;
	opts = &o;
	map_len = o.quick ? QUICK_LEN : FULL_LEN;
	for (int i = 0; i < MAX_THREADS; i++)
		files[i].fd = -1;

	printf("bench_wis%s: will-it-scale shapes, %llu MiB mappings; ns per "
	       "fault (or per mmap+munmap pair) = wall time / work of all "
	       "threads; median (min-max) of %u runs, umm and host runs "
	       "interleaved; host/umm > 1: umm is faster\n",
	       o.quick ? " --quick (smoke run, not numbers)" : "",
	       (unsigned long long)(map_len >> 20), o.runs);
	printf("%-*s %-*s %-*s %8s\n", NAME_W, "workload", CELL_W, "umm ns",
	       CELL_W, "host ns", "host/umm");

	mm = umm_mm_create(NULL);
	if (!mm)
		return fail("umm_mm_create", errno);
	ret = files_open(mm) || pool_start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && !ret; i++)
		for (unsigned int t = 1; t <= MAX_THREADS && !ret; t++)
			ret = case_row(mm, &cases[i], t);
	pool_stop();
	if (!ret)
		ret = zero_rows();
	if (!ret && umm_file_na)
		bench_note("page_fault2, page_fault3 and mmap2 on umm: %s",
			   umm_file_na);
	files_close();
	umm_mm_destroy(mm);
	return ret || errors ? 1 : 0;
}
