// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_split_zero_mt - writes beside a THP split that looks for
 * zero-filled pages. The split takes the folio's entries away for a
 * moment (flushed, each page read, then put back or pointed at the zero
 * page); a write through one of them meanwhile must wait for the entry,
 * as the kernel's fault on a migration entry does, not take it for a
 * hole and allocate a page: in an mm at its frame limit that page is not
 * there, and the write to memory that stays mapped all along failed with
 * -ENOMEM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "rcu.h"
#include "uapi_mman.h"

#define PG	4096UL
#define HUGE	(2UL << 20)
#define BASE	0x7e0000000000UL
#define FILLER	(BASE + (64UL << 20))
#define NR	8		/* THPs split each round */
#define SLACK	64		/* frames beyond the THPs: their tables, and a filler */
#define LIMIT	(NR * HUGE + SLACK * PG)

static struct umm_mm *mm;
static uint64_t phase;		/* odd while the THPs are mapped and split */
static bool stop;
static unsigned long writes, failed;

static void *writer(void *arg)
{
	unsigned long k = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uint64_t p = __atomic_load_n(&phase, __ATOMIC_SEQ_CST), v = 0x5a5a5a5a5a5a5a5aUL;
		int64_t r;

		if (!(p & 1))
			continue;
		/* at the page's end, where its data are: the split puts it back */
		r = umm_write(mm, BASE + (k++ % (NR * HUGE / PG)) * PG + PG - 8, &v, sizeof(v));
		if (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) != p)
			continue;	/* the mapping may have gone meanwhile */
		writes++;
		if (r != (int64_t)sizeof(v) &&
		    __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED) < 3)
			fprintf(stderr, "write beside a split: %lld\n", (long long)r);
	}
	return NULL;
}

/* One of umm_vmstat's counters. */
static long long vmstat_value(const char *name)
{
	char buf[8192] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	size_t n = strlen(name);

	CHECK(f && umm_vmstat(mm, f) == 0);
	if (f)
		fclose(f);
	for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static void test_write_beside_split(void)
{
	static char data[HUGE];
	struct umm_opts o = { .size = sizeof(o), .phys_limit = LIMIT };
	double end = now_sec() + stress_seconds(4);
	unsigned long splits = 0, allocs = 0;
	pthread_t t;

	/*
	 * No page of it zero-filled, but each read whole to find that out
	 * (its one byte of data at its end): the entries stay out longer.
	 */
	for (size_t i = PG - 1; i < sizeof(data); i += PG)
		data[i] = 0x5a;
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK(!pthread_create(&t, NULL, writer, NULL));
	while (now_sec() < end && !__atomic_load_n(&failed, __ATOMIC_RELAXED)) {
		long long before;
		char c = 1;

		CHECK_EQ(umm_mmap(mm, BASE, NR * HUGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
		CHECK_EQ(umm_madvise(mm, BASE, NR * HUGE, MADV_HUGEPAGE), 0);
		for (unsigned int i = 0; i < NR; i++)
			CHECK_EQ(umm_write(mm, BASE + i * HUGE, data, HUGE), (int64_t)HUGE);
		/* the rest of the mm's frames taken: at its limit */
		CHECK_EQ(umm_mmap(mm, FILLER, SLACK * PG, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), FILLER);
		for (uint64_t a = FILLER; a < FILLER + SLACK * PG; a += PG)
			if (umm_write(mm, a, &c, 1) != 1)
				break;
		before = vmstat_value("pgalloc_normal");
		__atomic_add_fetch(&phase, 1, __ATOMIC_SEQ_CST);	/* odd */
		for (unsigned int i = 0; i < NR; i++, splits++)
			CHECK_EQ(umm_madvise(mm, BASE + i * HUGE + 5 * PG, PG, MADV_COLD), 0);
		__atomic_add_fetch(&phase, 1, __ATOMIC_SEQ_CST);	/* even */
		/* nothing beside the splits allocates: every page stays mapped */
		allocs += (unsigned long)(vmstat_value("pgalloc_normal") - before);
		CHECK_EQ(umm_munmap(mm, BASE, NR * HUGE), 0);
		CHECK_EQ(umm_munmap(mm, FILLER, SLACK * PG), 0);
		rcu_barrier();	/* tables are freed after a grace period: uncharged then */
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	printf("     %lu splits, %lu writes beside them, %lu failed, %lu frames allocated\n",
	       splits, writes, failed, allocs);
	CHECK(splits > 0);
	CHECK_EQ(failed, 0);
	CHECK_EQ(allocs, 0);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_write_beside_split);
	return test_done();
}
