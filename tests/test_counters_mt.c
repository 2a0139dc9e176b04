// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_counters_mt - an mm's counters when threads count them on their
 * own (as the kernel counts per CPU): the sums that umm_vmstat and
 * mm_stat_read report include the shares of live threads, survive their
 * exit (folded into the mm), and count each event once while threads fault
 * and exit beside the reader.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "tlb.h"

#define P		4096ull
#define BASE		0x40000000ull
#define NR_THREADS	3
#define PAGES		64		/* per thread: as many written as faulted */

static struct umm_mm *mm;

struct worker {
	unsigned int id;
	int go;				/* atomic: 1 fault, 2 exit */
	int done;			/* atomic */
};

static void wait_for(int *word, int v)
{
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) < v)
		sched_yield();
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t base = BASE + w->id * 2 * PAGES * P;
	char c = 1;

	wait_for(&w->go, 1);
	for (uint64_t i = 0; i < PAGES; i++) {
		/* one access through the software MMU, one direct fault */
		CHECK_EQ(umm_write(mm, base + i * P, &c, 1), 1);
		CHECK_EQ(umm_fault(mm, base + (PAGES + i) * P, UMM_WRITE), 0);
	}
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	wait_for(&w->go, 2);
	return NULL;
}

static void check_totals(uint64_t faults, uint64_t rss)
{
	CHECK_EQ(mm_stat_read(mm, MM_PGFAULT), faults);
	CHECK_EQ(umm_vmstat_value(mm, "pgfault"), (long long)faults);
	CHECK_EQ(mm_stat_read(mm, MM_VMA_LOCK_SUCCESS), faults);
	CHECK_EQ(umm_vmstat_value(mm, "vma_lock_success"), (long long)faults);
	CHECK_EQ(mm_stat_read(mm, MM_ANONPAGES), rss);
}

/* Live threads' shares count; an exited thread's share stays counted. */
static void test_shares(void)
{
	const uint64_t n = NR_THREADS * 2 * PAGES;
	struct worker w[NR_THREADS];
	pthread_t t[NR_THREADS];

	mm = umm_mm_create(NULL);
	CHECK(mm);
	CHECK_EQ(umm_mmap(mm, BASE, n * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)BASE);
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		w[i] = (struct worker){ .id = i };
		CHECK_EQ(pthread_create(&t[i], NULL, worker, &w[i]), 0);
		__atomic_store_n(&w[i].go, 1, __ATOMIC_RELEASE);
	}
	for (unsigned int i = 0; i < NR_THREADS; i++)
		wait_for(&w[i].done, 1);
	check_totals(n, n);
	/* the mm's own slots hold none of it yet: the threads counted */
	CHECK_EQ(__atomic_load_n(&mm->stat[MM_PGFAULT], __ATOMIC_RELAXED), 0);
	for (unsigned int i = 0; i < NR_THREADS; i++) {
		__atomic_store_n(&w[i].go, 2, __ATOMIC_RELEASE);
		pthread_join(t[i], NULL);
		check_totals(n, n);
	}
	CHECK_EQ(__atomic_load_n(&mm->stat[MM_PGFAULT], __ATOMIC_RELAXED), n);
	/* the unmap, counted by this thread, takes back what they mapped */
	CHECK_EQ(umm_munmap(mm, BASE, n * P), 0);
	check_totals(n, 0);
	umm_mm_destroy(mm);
}

/* Threads come, fault and go while this one reads: no event lost or doubled. */
static void *short_lived(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg;
	char c = 2;

	for (uint64_t i = 0; i < 8; i++)
		CHECK_EQ(umm_write(mm, base + i * P, &c, 1), 1);
	return NULL;
}

static void test_churn(void)
{
	const unsigned int rounds = 200;
	uint64_t last = 0;

	mm = umm_mm_create(NULL);
	CHECK(mm);
	CHECK_EQ(umm_mmap(mm, BASE, 2 * rounds * 8 * P, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), (int64_t)BASE);
	for (unsigned int r = 0; r < rounds; r++) {
		pthread_t t[2];
		uint64_t now;

		for (int i = 0; i < 2; i++)
			CHECK_EQ(pthread_create(&t[i], NULL, short_lived,
						(void *)(uintptr_t)(BASE + (2 * r + i) * 8 * P)), 0);
		/* a sum taken while they run and exit never goes backwards */
		now = mm_stat_read(mm, MM_PGFAULT);
		CHECK(now >= last);
		last = now;
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
	}
	check_totals(2 * rounds * 8, 2 * rounds * 8);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_shares);
	RUN(test_churn);
	return test_done();
}
