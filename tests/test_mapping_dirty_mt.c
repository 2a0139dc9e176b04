// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mapping_dirty_mt - dirty tracking under fire: two threads write
 * pages of a file through shared mappings in two mms, a tracker runs
 * rounds of umm_wp_shared_mapping_range + umm_clean_record_shared_mapping_
 * range over the whole file, and a third thread maps and unmaps the file
 * in a third mm (the walk meets VMAs coming and going in i_mmap).
 *
 * The guarantee checked is the kernel's: a write that began after round r
 * started is recorded by round r or a later one - so the last write of
 * every page is recorded at or after the round it began in. A translation
 * kept past a clean (a software TLB not flushed) would let writes go
 * unrecorded. And nothing written is lost: each page reads back its last
 * value at the end.
 */
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"

#define P	4096ull
#define PAGES	128ull
#define WORDS	(PAGES / (8 * sizeof(unsigned long)))

static struct umm_file *file;
static struct umm_mm *mm[3];
static uint64_t base[2];
static uint64_t round_no;			/* atomic: the tracker's */
static uint64_t begin_round[PAGES];		/* page's writer only, then main */
static unsigned char last_val[PAGES];		/* as begin_round */
static uint64_t recorded_round[PAGES];		/* tracker only, then main */
static uint64_t rounds, writes, cleaned, remaps;
static bool stop;

/*
 * Writer i writes pages [64 i, 64 i + 64) through its own mm, 8 at a time
 * that move on every 4,096 writes: hot enough in its software TLB that a
 * translation kept past a clean would be written through.
 */
static void *writer(void *arg)
{
	unsigned int id = (unsigned int)(uintptr_t)arg - 1;
	uint64_t seed = 77 + id, n = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t p = id * (PAGES / 2) +
			     ((n >> 12) + xrand(&seed) % 8) % (PAGES / 2);
		unsigned char v = (unsigned char)(n++ | 1);
		uint64_t r = __atomic_load_n(&round_no, __ATOMIC_ACQUIRE);

		CHECK_EQ(umm_write(mm[id], base[id] + p * P + (n % 64) * 8, &v, 1), 1);
		CHECK_EQ(umm_write(mm[id], base[id] + p * P, &v, 1), 1);
		begin_round[p] = r;
		last_val[p] = v;
	}
	__atomic_fetch_add(&writes, n, __ATOMIC_RELAXED);
	return NULL;
}

static void track_round(void)
{
	unsigned long bm[WORDS] = { 0 };
	uint64_t s = 0, e = 0, r;

	r = __atomic_add_fetch(&round_no, 1, __ATOMIC_ACQ_REL);
	umm_wp_shared_mapping_range(file, 0, PAGES);
	cleaned += umm_clean_record_shared_mapping_range(file, 0, PAGES, 0, bm, &s, &e);
	for (uint64_t p = 0; p < PAGES; p++)
		if (bm[p / (8 * sizeof(long))] >> (p % (8 * sizeof(long))) & 1)
			recorded_round[p] = r;
	CHECK(s >= e || (s < PAGES && e <= PAGES));
	rounds++;
}

static void *tracker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		track_round();
	return NULL;
}

/* A third mm maps and unmaps parts of the file, reading through them. */
static void *remapper(void *arg)
{
	uint64_t seed = 3;
	char c;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t first = xrand(&seed) % PAGES, n = 1 + xrand(&seed) % (PAGES - first);
		int64_t a = umm_mmap(mm[2], 0, n * P, PROT_READ | PROT_WRITE,
				     MAP_SHARED, file, first * P);

		CHECK(a > 0);
		if (a <= 0)
			break;
		CHECK_EQ(umm_read(mm[2], (uint64_t)a + (n - 1) * P, &c, 1), 1);
		CHECK_EQ(umm_munmap(mm[2], (uint64_t)a, n * P), 0);
		remaps++;
	}
	return NULL;
}

static void test_dirty_tracking_races(void)
{
	void *(*const fns[])(void *) = { writer, writer, tracker, remapper };
	unsigned char v;

	file = umm_file_create("track", PAGES * P, 0);
	CHECK(file);
	for (int i = 0; i < 3; i++) {
		mm[i] = umm_mm_create(NULL);
		CHECK(mm[i]);
	}
	for (int i = 0; i < 2; i++) {
		int64_t a = umm_mmap(mm[i], 0, PAGES * P, PROT_READ | PROT_WRITE,
				     MAP_SHARED, file, 0);

		CHECK(a > 0);
		base[i] = (uint64_t)a;
	}
	stress_run(fns, NULL, 4, 5, &stop);
	track_round();		/* what the last writes left */
	printf("     %lu writes, %lu rounds (%lu entries cleaned), %lu remaps\n",
	       (unsigned long)writes, (unsigned long)rounds,
	       (unsigned long)cleaned, (unsigned long)remaps);
	CHECK(writes > 0 && rounds > 1);
	for (uint64_t p = 0; p < PAGES; p++) {
		if (!last_val[p])
			continue;
		CHECK(recorded_round[p] >= begin_round[p]);
		CHECK_EQ(umm_read(mm[p < PAGES / 2 ? 1 : 0],
				  base[p < PAGES / 2 ? 1 : 0] + p * P, &v, 1), 1);
		CHECK_EQ(v, last_val[p]);
	}
	for (int i = 0; i < 3; i++)
		umm_mm_destroy(mm[i]);
	umm_file_put(file);
}

int main(void)
{
	RUN(test_dirty_tracking_races);
	return test_done();
}
