// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mincore_mt - umm_mincore beside a THP split: while MADV_COLD of one
 * page splits a THP whose first MiB holds data (the split takes each entry
 * out, flushes, and puts back those whose page holds data, the others
 * pointing at the zero page), another thread's mincore of that first MiB
 * must find every page resident, as the kernel's mincore does (it reads
 * the entries under their lock; a page under split is resident there).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "uapi_mman.h"

#define PG	4096UL
#define HUGE	(2UL << 20)
#define BASE	0x7e0000000000UL
#define DATA	(HUGE / 2)

static struct umm_mm *mm;
static uint64_t phase;		/* odd while the data pages are all mapped */
static bool stop;
static unsigned long looks, missed;

static void *reader(void *arg)
{
	static unsigned char vec[DATA / PG];

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uint64_t p = __atomic_load_n(&phase, __ATOMIC_SEQ_CST);
		unsigned long gone = 0;

		if (!(p & 1))
			continue;
		if (umm_mincore(mm, BASE, DATA, vec))
			continue;
		for (size_t i = 0; i < sizeof(vec); i++)
			gone += !vec[i];
		if (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) != p)
			continue;	/* the mapping may have gone meanwhile */
		looks++;
		if (gone && __atomic_fetch_add(&missed, 1, __ATOMIC_RELAXED) < 3)
			fprintf(stderr, "mincore: %lu data pages not resident during a split\n",
				gone);
	}
	return NULL;
}

static void test_mincore_beside_split(void)
{
	static char data[DATA];
	double end = now_sec() + stress_seconds(2);
	pthread_t t;
	unsigned long splits = 0;

	memset(data, 0x5a, sizeof(data));
	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		return;
	CHECK(!pthread_create(&t, NULL, reader, NULL));
	while (now_sec() < end && !__atomic_load_n(&missed, __ATOMIC_RELAXED)) {
		CHECK_EQ(umm_mmap(mm, BASE, HUGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
		CHECK_EQ(umm_madvise(mm, BASE, HUGE, MADV_HUGEPAGE), 0);
		CHECK_EQ(umm_write(mm, BASE, data, DATA), (int64_t)DATA);
		__atomic_add_fetch(&phase, 1, __ATOMIC_SEQ_CST);	/* odd */
		CHECK_EQ(umm_madvise(mm, BASE + 5 * PG, PG, MADV_COLD), 0);
		__atomic_add_fetch(&phase, 1, __ATOMIC_SEQ_CST);	/* even */
		CHECK_EQ(umm_munmap(mm, BASE, HUGE), 0);
		splits++;
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	printf("     %lu splits, %lu mincore calls during them, %lu saw data pages gone\n",
	       splits, looks, missed);
	CHECK(splits > 0);
	CHECK_EQ(missed, 0);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_mincore_beside_split);
	return test_done();
}
