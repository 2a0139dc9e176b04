// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_file_share_mt - opens of one host file share one page cache while
 * threads open and put them, map, write, msync and truncate at once.
 *
 * File A has a long-lived read-only open mapped MAP_SHARED in a checker
 * mm, so its cache lives throughout. Opener threads each open A again
 * (read-write), map it shared in their own mm, write a counter to a page
 * of their own and read it back at once through the checker's mapping -
 * another open, another mm: the same page only if the cache is shared -
 * then unmap and put. A truncator thread cuts and regrows A's tail (pages
 * no opener owns) through its own open, while a prober faults and reads
 * the tail through the checker's mapping: inside the file or -EIO.
 *
 * File B has no long-lived open: its cache comes and goes as the openers
 * open and put it (a lookup racing the last put). Each opener writes its
 * counter to its page of B, msyncs, publishes the counter, and on each
 * open first checks every page of B holds at least what its owner had
 * published: a cache made anew reads the host file, which must hold it.
 * At the end the host files hold every opener's last counters, and every
 * frame is back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "page_alloc.h"
#include "rcu.h"

#define PG		4096ULL
#define NOPENERS	4
#define NTAIL		8		/* A's tail pages, the truncator's */
#define A_PAGES		(NOPENERS + NTAIL)
#define B_PAGES		NOPENERS
#define BASE		0x100000000000ULL
#define CHECK_BASE	0x200000000000ULL

static char path_a[64], path_b[64];
static struct umm_mm *checker_mm;
static struct umm_file *checker_file;	/* A, read-only, mapped at CHECK_BASE */
static uint64_t published[NOPENERS];	/* B's counters known to be on disk */
static uint64_t last_a[NOPENERS];	/* A's last counters, after the stop */
static bool stop;
static uint64_t n_opens, n_truncs, n_probes;

static int make_file(char *path, uint64_t size)
{
	int fd;

	strcpy(path, "/tmp/umm_file_share_XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(!ftruncate(fd, (off_t)size));
	return fd;
}

/* A fresh open of @path, mapped MAP_SHARED RW at BASE in @mm. */
static struct umm_file *open_map(struct umm_mm *mm, const char *path, uint64_t pages)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct umm_file *f;

	CHECK(fd >= 0);
	f = umm_file_from_fd(fd, O_RDWR);
	close(fd);
	CHECK(f != NULL);
	if (!f)
		return NULL;
	CHECK_EQ(umm_mmap(mm, BASE, pages * PG, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, f, 0), (int64_t)BASE);
	return f;
}

static void unmap_put(struct umm_mm *mm, struct umm_file *f, uint64_t pages)
{
	CHECK_EQ(umm_munmap(mm, BASE, pages * PG), 0);
	umm_file_put(f);
}

static uint64_t rd64(struct umm_mm *mm, uint64_t addr)
{
	uint64_t v = 0;

	CHECK_EQ(umm_read(mm, addr, &v, sizeof(v)), (int64_t)sizeof(v));
	return v;
}

/* One round on A: write through our open, read through the checker's. */
static void opener_round_a(struct umm_mm *mm, unsigned id, uint64_t k)
{
	struct umm_file *f = open_map(mm, path_a, A_PAGES);
	uint64_t got;

	if (!f)
		return;
	CHECK_EQ(umm_write(mm, BASE + id * PG, &k, sizeof(k)), (int64_t)sizeof(k));
	got = rd64(checker_mm, CHECK_BASE + id * PG);
	if (got != k)
		fprintf(stderr, "opener %u: A page %u reads %llu through the other open, wrote %llu\n",
			id, id, (unsigned long long)got, (unsigned long long)k);
	CHECK_EQ(got, k);
	/* the other way: the checker's view is the cache ours reads */
	CHECK_EQ(rd64(mm, BASE + id * PG), k);
	unmap_put(mm, f, A_PAGES);
	__atomic_store_n(&last_a[id], k, __ATOMIC_RELAXED);
}

/* One round on B, whose cache may be made anew by this open. */
static void opener_round_b(struct umm_mm *mm, unsigned id, uint64_t k)
{
	uint64_t want[B_PAGES];
	struct umm_file *f;

	for (unsigned j = 0; j < B_PAGES; j++)
		want[j] = __atomic_load_n(&published[j], __ATOMIC_ACQUIRE);
	f = open_map(mm, path_b, B_PAGES);
	if (!f)
		return;
	for (unsigned j = 0; j < B_PAGES; j++) {
		uint64_t v = rd64(mm, BASE + j * PG);

		if (v < want[j])
			fprintf(stderr, "opener %u: B page %u reads %llu, %llu was synced\n", id, j,
				(unsigned long long)v, (unsigned long long)want[j]);
		CHECK(v >= want[j]);
	}
	CHECK_EQ(umm_write(mm, BASE + id * PG, &k, sizeof(k)), (int64_t)sizeof(k));
	CHECK_EQ(umm_msync(mm, BASE, B_PAGES * PG, MS_SYNC), 0);
	__atomic_store_n(&published[id], k, __ATOMIC_RELEASE);
	unmap_put(mm, f, B_PAGES);
}

static void *opener(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg - 1;
	struct umm_mm *mm = umm_mm_create(NULL);
	uint64_t k = 0;

	CHECK(mm != NULL);
	if (!mm)
		return NULL;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		opener_round_a(mm, id, ++k);
		opener_round_b(mm, id, k);
		__atomic_fetch_add(&n_opens, 2, __ATOMIC_RELAXED);
	}
	umm_mm_destroy(mm);
	return NULL;
}

/* Cut A's tail (also mid-page) and regrow it, through an open of its own. */
static void *truncator(void *arg)
{
	int fd = open(path_a, O_RDWR | O_CLOEXEC);
	struct umm_file *f = umm_file_from_fd(fd, O_RDWR);
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull;

	close(fd);
	CHECK(f != NULL);
	while (f && !__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t size = NOPENERS * PG + xrand(&seed) % (NTAIL * PG);

		CHECK_EQ(umm_file_truncate(f, size), 0);
		CHECK_EQ(umm_file_truncate(f, A_PAGES * PG), 0);
		__atomic_fetch_add(&n_truncs, 1, __ATOMIC_RELAXED);
	}
	umm_file_put(f);
	return NULL;
}

/* Fault and read A's tail through the checker's mapping, racing truncation. */
static void *prober(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x2545f4914f6cdd1dull;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t addr = CHECK_BASE + (NOPENERS + xrand(&seed) % NTAIL) * PG;
		int r = umm_fault(checker_mm, addr, UMM_READ);
		uint64_t v;
		int64_t n;

		CHECK(r == 0 || r == -EIO);
		n = umm_read(checker_mm, addr, &v, sizeof(v));
		CHECK(n == (int64_t)sizeof(v) || n == -EFAULT);
		__atomic_fetch_add(&n_probes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Every opener's last counter is in the host files. */
static void check_host_files(void)
{
	int a = open(path_a, O_RDONLY | O_CLOEXEC), b = open(path_b, O_RDONLY | O_CLOEXEC);

	for (unsigned id = 0; id < NOPENERS; id++) {
		uint64_t va = 0, vb = 0;

		CHECK_EQ(pread(a, &va, sizeof(va), (off_t)(id * PG)), (ssize_t)sizeof(va));
		CHECK_EQ(pread(b, &vb, sizeof(vb), (off_t)(id * PG)), (ssize_t)sizeof(vb));
		CHECK_EQ(va, last_a[id]);
		CHECK_EQ(vb, published[id]);
	}
	close(a);
	close(b);
}

static void test_share_stress(void)
{
	void *(*const fns[])(void *) = { opener, opener, opener, opener, truncator, prober };
	struct page_alloc_stats before, after;
	int fa, fb, ro;

	rcu_barrier();
	page_alloc_get_stats(&before);
	fa = make_file(path_a, A_PAGES * PG);
	fb = make_file(path_b, B_PAGES * PG);
	checker_mm = umm_mm_create(NULL);
	ro = open(path_a, O_RDONLY | O_CLOEXEC);
	checker_file = umm_file_from_fd(ro, O_RDONLY);	/* A's cache: made read-only */
	close(ro);
	CHECK(checker_mm && checker_file);
	if (!checker_mm || !checker_file)
		return;
	CHECK_EQ(umm_mmap(checker_mm, CHECK_BASE, A_PAGES * PG, PROT_READ, MAP_SHARED,
			  checker_file, 0), (int64_t)CHECK_BASE);
	stress_run(fns, NULL, sizeof(fns) / sizeof(fns[0]), 3, &stop);
	printf("share: %llu opens, %llu truncations, %llu probes\n",
	       (unsigned long long)n_opens, (unsigned long long)n_truncs,
	       (unsigned long long)n_probes);
	CHECK(n_opens > 0 && n_truncs > 0);
	/* the last puts wrote back; their VMAs went after a grace period */
	rcu_barrier();
	check_host_files();
	umm_mm_destroy(checker_mm);
	umm_file_put(checker_file);
	rcu_barrier();
	check_host_files();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	close(fa);
	close(fb);
	unlink(path_a);
	unlink(path_b);
}

int main(void)
{
	RUN(test_share_stress);
	return test_done();
}
