// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_file_stress - shared file mappings in two address spaces under
 * concurrent writes, write-back, truncation, hole punches and forks.
 *
 * Two mms map the same two files MAP_SHARED: a memory file and a host
 * file (under /tmp) behind umm's page cache. Writer threads, two per mm,
 * each own disjoint pages of both files: they write a per-thread pattern
 * through their own mm, keep a shadow, and check every write reads back
 * through both mms - no write that returned may be lost, whatever
 * write-back, truncation or forking does meanwhile. The files' last
 * pages belong to a truncator thread alone: it writes, truncates (also
 * mid-page), extends, and punches holes (MADV_REMOVE) there, keeping an
 * exact model, and checks that both mms read the model's bytes inside the
 * file and fault with -EIO past its end, while a prober thread faults
 * (read and write) and reads those pages through both mms, racing every
 * truncation and punch: a page it maps just as truncation removes it must
 * still leave. One thread runs msync(MS_SYNC) in a loop, another forks one
 * mm, reads through the child and destroys it. At the end the host file must hold every shadow (after msync, and
 * again after the last reference), and every frame must be back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "page_alloc.h"

#define PG		4096ULL
#define NWRITERS	4		/* writer i writes through mm i % 2 */
#define WPAGES		24		/* pages each writer owns, per file */
#define SLOTS		(PG / 8)
#define NOWN		(NWRITERS * WPAGES)
#define NTRUNC		16		/* the truncator's pages, at the end */
#define NPAGES		(NOWN + NTRUNC)
#define MEM_BASE	0x100000000000ULL	/* where each mm maps the memory file */
#define HOST_BASE	0x200000000000ULL	/* and the host file */
#define NFILES		2

static struct umm_mm *mms[2];
static struct umm_file *files[NFILES];	/* 0: memory, 1: host */
static const uint64_t bases[NFILES] = { MEM_BASE, HOST_BASE };
static int host_fd;
static char host_path[64];
static bool stop;
static uint64_t n_writes, n_syncs, n_forks, n_truncs, n_punches, n_trunc_checks, n_probes;

/* ---- writers ------------------------------------------------------------- */

struct writer {
	unsigned id;
	uint64_t shadow[NFILES][WPAGES][SLOTS];
};

static struct writer writers[NWRITERS];

static uint64_t page_addr(unsigned f, unsigned id, unsigned j)
{
	return bases[f] + ((uint64_t)id * WPAGES + j) * PG;
}

static uint64_t rd64(struct umm_mm *mm, uint64_t addr)
{
	uint64_t v = 0;

	CHECK_EQ(umm_read(mm, addr, &v, sizeof(v)), (int64_t)sizeof(v));
	return v;
}

/* A whole owned page, through @mm, against the shadow. */
static void writer_check_page(struct writer *w, struct umm_mm *mm, unsigned f, unsigned j)
{
	static __thread uint64_t buf[SLOTS];

	CHECK_EQ(umm_read(mm, page_addr(f, w->id, j), buf, PG), (int64_t)PG);
	for (unsigned s = 0; s < SLOTS; s++) {
		if (buf[s] != w->shadow[f][j][s]) {
			fprintf(stderr, "writer %u file %u page %u slot %u: %#llx, want %#llx\n",
				w->id, f, j, s, (unsigned long long)buf[s],
				(unsigned long long)w->shadow[f][j][s]);
			CHECK_EQ(buf[s], w->shadow[f][j][s]);
			return;
		}
	}
}

static void *writer(void *arg)
{
	struct writer *w = arg;
	struct umm_mm *own = mms[w->id % 2], *other = mms[(w->id + 1) % 2];
	uint64_t seed = w->id * 0x9e3779b97f4a7c15ULL + 1, seq = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned f = (unsigned)(xrand(&seed) % NFILES), j = (unsigned)(xrand(&seed) % WPAGES);
		unsigned s = (unsigned)(xrand(&seed) % SLOTS), op = (unsigned)(xrand(&seed) % 64);
		uint64_t addr = page_addr(f, w->id, j);

		if (op < 48) {
			/* one word, read back through both mms */
			uint64_t v = ((uint64_t)w->id << 56) | (++seq << 8) | f;

			CHECK_EQ(umm_write(own, addr + s * 8, &v, sizeof(v)), (int64_t)sizeof(v));
			w->shadow[f][j][s] = v;
			CHECK_EQ(rd64(own, addr + s * 8), v);
			CHECK_EQ(rd64(other, addr + s * 8), v);
			atomic_add_return(&n_writes, 1);
		} else if (op < 56) {
			/* a run of words crossing into the next owned page */
			uint64_t v[64];
			unsigned n = 64;

			if (j == WPAGES - 1 && s + n > SLOTS)
				n = SLOTS - s;
			for (unsigned i = 0; i < n; i++)
				v[i] = ((uint64_t)w->id << 56) | (++seq << 8) | f;
			CHECK_EQ(umm_write(own, addr + s * 8, v, n * 8), (int64_t)(n * 8));
			for (unsigned i = 0; i < n; i++) {
				unsigned pj = j + (s + i) / SLOTS, ps = (s + i) % SLOTS;

				w->shadow[f][pj][ps] = v[i];
			}
			writer_check_page(w, other, f, j);
			atomic_add_return(&n_writes, 1);
		} else if (op < 60) {
			writer_check_page(w, (op & 1) ? own : other, f, j);
		} else if (op < 62) {
			/* the cache keeps a shared page's bytes */
			CHECK_EQ(umm_madvise(own, addr, PG, MADV_DONTNEED), 0);
			writer_check_page(w, own, f, j);
		} else {
			/* write-protected and back: the next write is tracked again */
			CHECK_EQ(umm_mprotect(own, addr, PG, PROT_READ), 0);
			writer_check_page(w, own, f, j);
			CHECK_EQ(umm_mprotect(own, addr, PG, PROT_READ | PROT_WRITE), 0);
		}
	}
	for (unsigned f = 0; f < NFILES; f++)
		for (unsigned j = 0; j < WPAGES; j++)
			writer_check_page(w, other, f, j);
	return NULL;
}

/* ---- the truncator: the files' last pages --------------------------------- */

#define TRUNC_START	(NOWN * PG)
#define TRUNC_BYTES	(NTRUNC * PG)

/* Bytes of [TRUNC_START, end of mapping): past the file's size, zero. */
static uint8_t model[NFILES][TRUNC_BYTES];
static uint64_t model_size[NFILES];

static uint64_t pages_of(uint64_t size)
{
	return (size + PG - 1) / PG;
}

/* Every truncator page through both mms: the model's bytes, or -EIO. */
static void truncator_check(unsigned f)
{
	static uint8_t buf[PG];

	for (unsigned m = 0; m < 2; m++) {
		for (uint64_t p = NOWN; p < NPAGES; p++) {
			uint64_t addr = bases[f] + p * PG;

			if (p >= pages_of(model_size[f])) {
				CHECK_EQ(umm_fault(mms[m], addr, UMM_READ), -EIO);
				CHECK_EQ(umm_fault(mms[m], addr, UMM_WRITE), -EIO);
				CHECK_EQ(umm_read(mms[m], addr, buf, 8), -EFAULT);
				continue;
			}
			CHECK_EQ(umm_read(mms[m], addr, buf, PG), (int64_t)PG);
			if (memcmp(buf, model[f] + (p - NOWN) * PG, PG)) {
				fprintf(stderr, "truncator: file %u page %llu through mm %u differs "
					"(size %#llx)\n", f, (unsigned long long)p, m,
					(unsigned long long)model_size[f]);
				CHECK(0);
			}
		}
	}
	atomic_add_return(&n_trunc_checks, 1);
}

static void truncate_to(unsigned f, uint64_t size)
{
	CHECK_EQ(umm_file_truncate(files[f], size), 0);
	if (size < model_size[f])
		memset(model[f] + (size - TRUNC_START), 0, TRUNC_START + TRUNC_BYTES - size);
	model_size[f] = size;
	atomic_add_return(&n_truncs, 1);
}

static void *truncator(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31 + 7;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned f = (unsigned)(xrand(&seed) % NFILES), m = (unsigned)(xrand(&seed) % 2);
		uint64_t op = xrand(&seed) % 8;

		if (op < 3 && model_size[f] > TRUNC_START) {
			/* a write inside the file, never past its end */
			uint64_t off = TRUNC_START + xrand(&seed) % (model_size[f] - TRUNC_START);
			uint64_t len = 1 + xrand(&seed) % 256;
			uint8_t buf[256];

			if (off + len > model_size[f])
				len = model_size[f] - off;
			for (uint64_t i = 0; i < len; i++)
				buf[i] = (uint8_t)(xrand(&seed) | 1);
			CHECK_EQ(umm_write(mms[m], bases[f] + off, buf, len), (int64_t)len);
			memcpy(model[f] + (off - TRUNC_START), buf, len);
		} else if (op < 5) {
			/* anywhere from the first truncator page to the end, mid-page too */
			uint64_t size = TRUNC_START + xrand(&seed) % (TRUNC_BYTES + 1);

			if (xrand(&seed) & 1)
				size &= ~(PG - 1);
			truncate_to(f, size);
		} else if (op < 6) {
			truncate_to(f, TRUNC_START + TRUNC_BYTES);
		} else if (op < 7) {
			/* a hole: whole pages, possibly past the end */
			uint64_t p = NOWN + xrand(&seed) % NTRUNC, n = 1 + xrand(&seed) % 4;

			if (p + n > NPAGES)
				n = NPAGES - p;
			CHECK_EQ(umm_madvise(mms[m], bases[f] + p * PG, n * PG, MADV_REMOVE), 0);
			memset(model[f] + (p - NOWN) * PG, 0, n * PG);
			atomic_add_return(&n_punches, 1);
		}
		truncator_check(f);
	}
	return NULL;
}

/*
 * Faults and reads in the truncator's pages, racing it: any answer that
 * the file's size at some moment allows (the bytes are the truncator's
 * to check). A write fault only dirties, it writes nothing.
 */
static void *prober(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7 + 11;
	static uint8_t buf[PG];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned f = (unsigned)(xrand(&seed) % NFILES), m = (unsigned)(xrand(&seed) % 2);
		uint64_t addr = bases[f] + (NOWN + xrand(&seed) % NTRUNC) * PG;
		int r;

		switch (xrand(&seed) % 3) {
		case 0:
			r = umm_fault(mms[m], addr, UMM_READ);
			CHECK(r == 0 || r == -EIO);
			break;
		case 1:
			r = umm_fault(mms[m], addr, UMM_WRITE);
			CHECK(r == 0 || r == -EIO);
			break;
		default: {
			int64_t n = umm_read(mms[m], addr, buf, PG);

			CHECK(n == (int64_t)PG || n == -EFAULT);
			break;
		}
		}
		atomic_add_return(&n_probes, 1);
	}
	return NULL;
}

/* ---- write-back and forks ----------------------------------------------- */

static void *syncer(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 17 + 3;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned f = (unsigned)(xrand(&seed) % NFILES), m = (unsigned)(xrand(&seed) % 2);
		uint64_t p = xrand(&seed) % NPAGES, n = 1 + xrand(&seed) % NPAGES;

		if (p + n > NPAGES)
			n = NPAGES - p;
		if (xrand(&seed) % 4 == 0) {
			p = 0;
			n = NPAGES;
		}
		CHECK_EQ(umm_msync(mms[m], bases[f] + p * PG, n * PG,
				   xrand(&seed) % 8 ? MS_SYNC : MS_ASYNC), 0);
		atomic_add_return(&n_syncs, 1);
	}
	return NULL;
}

static void *forker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 13 + 5;
	static uint8_t buf[4 * PG];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct umm_mm *child = NULL;
		unsigned m = (unsigned)(xrand(&seed) % 2);

		CHECK_EQ(umm_fork(mms[m], &child), 0);
		if (!child)
			continue;
		/* owned pages read whole; the truncator's may fault past the end */
		for (unsigned i = 0; i < 8; i++) {
			unsigned f = (unsigned)(xrand(&seed) % NFILES);
			uint64_t p = xrand(&seed) % (NOWN - 4);
			int64_t r;

			CHECK_EQ(umm_read(child, bases[f] + p * PG, buf, sizeof(buf)),
				 (int64_t)sizeof(buf));
			r = umm_read(child, bases[f] + (NOWN + xrand(&seed) % NTRUNC) * PG, buf, PG);
			CHECK(r == (int64_t)PG || r == -EFAULT);
		}
		if (xrand(&seed) & 1)
			CHECK_EQ(umm_msync(child, bases[1], NPAGES * PG, MS_SYNC), 0);
		umm_mm_destroy(child);
		atomic_add_return(&n_forks, 1);
	}
	return NULL;
}

/* ---- the end: the host file holds it all ----------------------------------- */

static void check_host_file(const char *when)
{
	static uint64_t buf[SLOTS];
	static uint8_t tbuf[TRUNC_BYTES];
	off_t size = lseek(host_fd, 0, SEEK_END);

	CHECK_EQ(size, (off_t)model_size[1]);
	for (unsigned id = 0; id < NWRITERS; id++) {
		for (unsigned j = 0; j < WPAGES; j++) {
			off_t off = (off_t)(((uint64_t)id * WPAGES + j) * PG);

			CHECK_EQ(pread(host_fd, buf, PG, off), (ssize_t)PG);
			if (memcmp(buf, writers[id].shadow[1][j], PG)) {
				fprintf(stderr, "%s: writer %u page %u did not reach the file\n",
					when, id, j);
				CHECK(0);
			}
		}
	}
	if (model_size[1] > TRUNC_START) {
		size_t n = (size_t)(model_size[1] - TRUNC_START);

		CHECK_EQ(pread(host_fd, tbuf, n, (off_t)TRUNC_START), (ssize_t)n);
		if (memcmp(tbuf, model[1], n)) {
			fprintf(stderr, "%s: the truncator's bytes did not reach the file\n", when);
			CHECK(0);
		}
	}
}

static void test_file_stress(void)
{
	void *(*const fns[])(void *) = { writer, writer, writer, writer, truncator, syncer,
					 forker, prober };
	void *args[8];
	struct page_alloc_stats before, after;

	rcu_barrier();
	page_alloc_get_stats(&before);
	strcpy(host_path, "/tmp/umm_file_stress_XXXXXX");
	host_fd = mkstemp(host_path);
	CHECK(host_fd >= 0);
	CHECK_EQ(ftruncate(host_fd, (off_t)(NPAGES * PG)), 0);
	files[0] = umm_file_create("stress", NPAGES * PG, 0);
	files[1] = umm_file_from_fd(host_fd, O_RDWR);
	CHECK(files[0] && files[1]);
	for (unsigned m = 0; m < 2; m++) {
		mms[m] = umm_mm_create(NULL);
		CHECK(mms[m] != NULL);
		for (unsigned f = 0; f < NFILES; f++)
			CHECK_EQ(umm_mmap(mms[m], bases[f], NPAGES * PG, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, files[f], 0), (int64_t)bases[f]);
	}
	if (!files[0] || !files[1] || !mms[0] || !mms[1])
		return;
	for (unsigned f = 0; f < NFILES; f++)
		model_size[f] = NPAGES * PG;
	for (unsigned i = 0; i < NWRITERS; i++) {
		writers[i].id = i;
		args[i] = &writers[i];
	}
	args[4] = (void *)1;
	args[5] = (void *)2;
	args[6] = (void *)3;
	args[7] = (void *)4;

	stress_run(fns, args, 8, 5, &stop);
	printf("  writes %llu, msyncs %llu, forks %llu, truncations %llu, punches %llu, "
	       "truncator checks %llu, probes %llu\n",
	       (unsigned long long)n_writes, (unsigned long long)n_syncs,
	       (unsigned long long)n_forks, (unsigned long long)n_truncs,
	       (unsigned long long)n_punches, (unsigned long long)n_trunc_checks,
	       (unsigned long long)n_probes);
	CHECK(n_writes > 0 && n_syncs > 0 && n_forks > 0 && n_truncs > 0);

	/* quiet now: msync through one mm writes what both wrote */
	truncator_check(0);
	truncator_check(1);
	CHECK_EQ(umm_msync(mms[0], HOST_BASE, NPAGES * PG, MS_SYNC), 0);
	check_host_file("after msync");
	/* dirty again, then only the last reference writes it back */
	for (unsigned id = 0; id < NWRITERS; id++) {
		uint64_t v = 0xfeed0000ULL + id;

		CHECK_EQ(umm_write(mms[id % 2], page_addr(1, id, 0), &v, sizeof(v)),
			 (int64_t)sizeof(v));
		writers[id].shadow[1][0][0] = v;
	}
	umm_mm_destroy(mms[0]);
	umm_mm_destroy(mms[1]);
	umm_file_put(files[0]);
	umm_file_put(files[1]);
	check_host_file("after the last reference");
	close(host_fd);
	unlink(host_path);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

int main(void)
{
	RUN(test_file_stress);
	return test_done();
}
