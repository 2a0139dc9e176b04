// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pageout_mt - MADV_PAGEOUT and MADV_COLD against threads that write
 * and read the same pages. Pageout may reclaim only what needs no swap: a
 * byte written to private or shared anonymous memory or to a shared host
 * file mapping must read back whatever pageout did meanwhile (it may
 * unmap such a page, drop it from the cache only when clean); a lazily
 * freed page written again keeps the new bytes; one not written again
 * reads its old bytes or zeroes, the same at every offset. At the end the
 * host file holds every writer's last bytes, after MS_SYNC.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "uapi_mman.h"

#define PG		4096UL
#define NP		32		/* pages per region */
#define NR_REGIONS	3		/* written by the writers: anon, shmem, file */
#define NR_WRITERS	2
#define OFFS		4		/* offsets written in each page */
#define SYNC_NP		64		/* pages of test_msync_beside_pageout */

static struct umm_mm *mm;
static struct umm_file *file;
static int fd;
static uint64_t region[NR_REGIONS + 1];	/* the last: lazily freed pages */
static bool stop;
static uint64_t last[NR_REGIONS][NP];	/* each page's owner's last value */
static unsigned long lazy_kept, lazy_dropped;

static uint64_t at(uint64_t base, unsigned int page, unsigned int off)
{
	return base + page * PG + off * (PG / OFFS) + 8;
}

static void put(uint64_t base, unsigned int page, uint64_t v)
{
	for (unsigned int o = 0; o < OFFS; o++)
		CHECK_EQ(umm_write(mm, at(base, page, o), &v, 8), 8);
}

/*
 * The page in one read, so that a page reclaimed meanwhile is seen
 * before or after, not half of each.
 * Return: the value at every offset, or ~0 when they differ.
 */
static uint64_t get(uint64_t base, unsigned int page)
{
	char buf[PG];
	uint64_t first = 0;

	CHECK_EQ(umm_read(mm, base + page * PG, buf, PG), (int64_t)PG);
	for (unsigned int o = 0; o < OFFS; o++) {
		uint64_t v;

		memcpy(&v, buf + (at(0, page, o) - page * PG), 8);
		if (!o)
			first = v;
		else if (v != first)
			return ~0ULL;
	}
	return first;
}

/* Writer @id owns the pages p % NR_WRITERS == id of the three regions. */
static void *writer(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg - 1;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (id + 1), ctr = (uint64_t)id << 48;

	for (unsigned long n = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); n++) {
		unsigned int r = (unsigned int)(xrand(&seed) % NR_REGIONS);
		unsigned int p = (unsigned int)(xrand(&seed) % (NP / NR_WRITERS)) *
				 NR_WRITERS + id;

		put(region[r], p, ++ctr);
		CHECK_EQ(get(region[r], p), ctr);
		last[r][p] = ctr;
		if (n % 64)
			continue;
		for (r = 0; r < NR_REGIONS; r++)
			for (p = id; p < NP; p += NR_WRITERS)
				CHECK_EQ(get(region[r], p), last[r][p]);
	}
	return NULL;
}

/* Lazily freed pages: kept if written again, else old bytes or zeroes. */
static void *lazy(void *arg)
{
	uint64_t seed = 0x2545f4914f6cdd1dULL, ctr = 1ULL << 56, base = region[NR_REGIONS];

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int p = (unsigned int)(xrand(&seed) % NP);
		uint64_t v = ++ctr, got;

		put(base, p, v);
		CHECK_EQ(umm_madvise(mm, base + p * PG, PG, MADV_FREE), 0);
		if (xrand(&seed) & 1) {
			put(base, p, ++ctr);
			CHECK_EQ(get(base, p), ctr);
			continue;
		}
		got = get(base, p);
		CHECK(got == v || got == 0);
		if (got == v)
			lazy_kept++;
		else
			lazy_dropped++;
	}
	return NULL;
}

/* Pageout and cold advice over random parts of every region, and MS_SYNC. */
static void *pager(void *arg)
{
	uint64_t seed = 0xd1b54a32d192ed03ULL;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int r = (unsigned int)(xrand(&seed) % (NR_REGIONS + 1));
		unsigned int first = (unsigned int)(xrand(&seed) % NP);
		unsigned int n = 1 + (unsigned int)(xrand(&seed) % (NP - first));
		int advice = xrand(&seed) % 4 ? MADV_PAGEOUT : MADV_COLD;

		CHECK_EQ(umm_madvise(mm, region[r] + first * PG, n * PG, advice), 0);
		if (r == 2 && !(xrand(&seed) % 8))
			CHECK_EQ(umm_msync(mm, region[r], NP * PG, MS_SYNC), 0);
	}
	return NULL;
}

static void test_pageout_races(void)
{
	void *(*const fns[])(void *) = { writer, writer, lazy, pager };
	char path[] = "/tmp/umm_pageout_XXXXXX";
	int flags[] = { MAP_PRIVATE | MAP_ANONYMOUS, MAP_SHARED | MAP_ANONYMOUS,
			MAP_SHARED, MAP_PRIVATE | MAP_ANONYMOUS };

	fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK_EQ(ftruncate(fd, NP * PG), 0);
	file = umm_file_from_fd(fd, O_RDWR);
	mm = umm_mm_create(NULL);
	CHECK(file && mm);
	for (int r = 0; r <= NR_REGIONS; r++) {
		int64_t a = umm_mmap(mm, 0, NP * PG, PROT_READ | PROT_WRITE, flags[r],
				     r == 2 ? file : NULL, 0);

		CHECK(a > 0);
		region[r] = (uint64_t)a;
	}
	stress_run(fns, NULL, sizeof(fns) / sizeof(fns[0]), 5, &stop);
	printf("     lazily freed pages read back: %lu kept, %lu reclaimed\n",
	       lazy_kept, lazy_dropped);
	CHECK(lazy_dropped > 0);	/* the pager did reclaim */
	for (int r = 0; r < NR_REGIONS; r++)
		for (unsigned int p = 0; p < NP; p++)
			CHECK_EQ(get(region[r], p), last[r][p]);
	CHECK_EQ(umm_msync(mm, region[2], NP * PG, MS_SYNC), 0);
	for (unsigned int p = 0; p < NP; p++)
		for (unsigned int o = 0; o < OFFS; o++) {
			uint64_t v = ~0ULL;
			uint64_t off = at(0, p, o);

			CHECK_EQ(pread(fd, &v, 8, (off_t)off), 8);
			CHECK_EQ(v, last[2][p]);
		}
	umm_mm_destroy(mm);
	umm_file_put(file);
	close(fd);
}

static uint64_t sync_base;
static bool sync_stop;

static void *sync_pager(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&sync_stop, __ATOMIC_RELAXED))
		umm_madvise(mm, sync_base, SYNC_NP * PG, MADV_PAGEOUT);
	return NULL;
}

/*
 * MS_SYNC while pageout unmaps the dirty pages of a shared host file
 * mapping: every byte written before it is in the file when it returns.
 * (Pageout froze a dirty page to evict it, and the writeback's lookup,
 * meeting it frozen, passed it by: rare, hence the loop.)
 */
static void test_msync_beside_pageout(void)
{
	char path[] = "/tmp/umm_pageout_sync_XXXXXX";
	int sfd = mkstemp(path);
	struct umm_file *f;
	pthread_t t;
	double end = now_sec() + stress_seconds(6) / 2;
	uint64_t iter = 0;
	int64_t a;

	CHECK(sfd >= 0);
	unlink(path);
	CHECK_EQ(ftruncate(sfd, SYNC_NP * PG), 0);
	f = umm_file_from_fd(sfd, O_RDWR);
	mm = umm_mm_create(NULL);
	CHECK(f && mm);
	a = umm_mmap(mm, 0, SYNC_NP * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	CHECK(a > 0);
	sync_base = (uint64_t)a;
	CHECK_EQ(pthread_create(&t, NULL, sync_pager, NULL), 0);
	while (now_sec() < end && !test_failures) {
		uint64_t v = ++iter;

		for (unsigned int p = 0; p < SYNC_NP; p++)
			CHECK_EQ(umm_write(mm, sync_base + p * PG, &v, 8), 8);
		CHECK_EQ(umm_msync(mm, sync_base, SYNC_NP * PG, MS_SYNC), 0);
		for (unsigned int p = 0; p < SYNC_NP; p++) {
			uint64_t got = 0;

			CHECK_EQ(pread(sfd, &got, 8, (off_t)(p * PG)), 8);
			CHECK_EQ(got, v);
		}
	}
	__atomic_store_n(&sync_stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	umm_mm_destroy(mm);
	umm_file_put(f);
	close(sfd);
}

int main(void)
{
	RUN(test_pageout_races);
	RUN(test_msync_beside_pageout);
	return test_done();
}
