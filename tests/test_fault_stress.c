// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_fault_stress - page faults and accesses under per-VMA locks while
 * the rest of the address space churns.
 *
 * Writer threads own a slice each of a stable region: they write values
 * with umm_write (faulting pages in through lock_vma_under_rcu), keep a
 * shadow copy, and check every read against it - no write may be lost
 * while its mapping stays. Churn threads mmap, munmap, mprotect, mremap,
 * MADV_DONTNEED (of whole 2 MiB blocks too, which frees their emptied
 * tables under faults and lockless walks), MADV_POPULATE_* and guard
 * regions in another region
 * (and populate the writers' pages beside them), while reader threads
 * copy out of that region: under ASan a copy through a translation whose
 * frame was already freed is reported (free frames are poisoned), so this
 * also tests the software-TLB shootdown. At the end every frame and table
 * is returned.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"
#include "uapi_mman.h"

#define STABLE		0x100000000000UL
#define SLICE		(2UL << 20)
#define NWRITERS	2
#define CHURN		0x200000000000UL
#define CHURN_PAGES	2048UL
#define RECLAIM		0x300000000000UL	/* one VMA of whole 2 MiB blocks */
#define RECLAIM_BLOCKS	4UL
#define BLOCK		(2UL << 20)

static struct umm_mm *mm;
static bool stop;
static uint64_t n_writes, n_churn, n_reads, n_lost;

static void *writer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t base = STABLE + id * SLICE, seed = id * 77 + 1;
	uint64_t *shadow = calloc(SLICE / PAGE_SIZE, sizeof(*shadow));

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t pg = xrand(&seed) % (SLICE / PAGE_SIZE), v, got = 0;
		uint64_t addr = base + pg * PAGE_SIZE + (pg % 500) * 8;

		if (xrand(&seed) & 1) {
			v = (id << 56) | (xrand(&seed) >> 8) | 1;
			CHECK_EQ(umm_write(mm, addr, &v, sizeof(v)), sizeof(v));
			shadow[pg] = v;
			atomic_add_return(&n_writes, 1);
		} else {
			CHECK_EQ(umm_read(mm, addr, &got, sizeof(got)), sizeof(got));
			if (got != shadow[pg]) {
				atomic_add_return(&n_lost, 1);
				CHECK_EQ(got, shadow[pg]);
			}
		}
	}
	/* a last pass over everything */
	for (uint64_t pg = 0; pg < SLICE / PAGE_SIZE; pg++) {
		uint64_t got = 0, addr = base + pg * PAGE_SIZE + (pg % 500) * 8;

		CHECK_EQ(umm_read(mm, addr, &got, sizeof(got)), sizeof(got));
		if (got != shadow[pg])
			atomic_add_return(&n_lost, 1);
	}
	free(shadow);
	return NULL;
}

static void *churn(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31 + 7;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t a = CHURN + (xrand(&seed) % CHURN_PAGES) * PAGE_SIZE;
		uint64_t len = (xrand(&seed) % 32 + 1) * PAGE_SIZE, v = a;

		if (a + len > CHURN + CHURN_PAGES * PAGE_SIZE)
			continue;
		switch (xrand(&seed) % 8) {
		case 0:
			umm_mmap(mm, a, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0);
			umm_write(mm, a, &v, sizeof(v));
			break;
		case 1:
			umm_munmap(mm, a, len);
			break;
		case 2:
			umm_mprotect(mm, a, len, (xrand(&seed) & 1) ? PROT_READ :
				     PROT_READ | PROT_WRITE);
			break;
		case 3:
			/* now and then a whole block: its emptied table goes */
			if (!(xrand(&seed) % 4))
				CHECK_EQ(umm_madvise(mm, RECLAIM + (xrand(&seed) % RECLAIM_BLOCKS) *
							 BLOCK, BLOCK, MADV_DONTNEED), 0);
			else
				umm_madvise(mm, a, len, MADV_DONTNEED);
			break;
		case 4: {
			uint64_t to = CHURN + (xrand(&seed) % CHURN_PAGES) * PAGE_SIZE;

			if (to + len <= CHURN + CHURN_PAGES * PAGE_SIZE &&
			    (to >= a + len || a >= to + len))
				umm_mremap(mm, a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			break;
		}
		case 5: {
			/* here, or over the writers' pages, which must all stay */
			uint64_t w = STABLE + (xrand(&seed) % (NWRITERS * SLICE / PAGE_SIZE)) *
				     PAGE_SIZE;

			umm_madvise(mm, (xrand(&seed) & 1) ? a : w, len,
				    (xrand(&seed) & 1) ? MADV_POPULATE_WRITE :
							 MADV_POPULATE_READ);
			break;
		}
		case 6:
			umm_madvise(mm, a, len, (xrand(&seed) & 1) ? MADV_GUARD_INSTALL :
								     MADV_GUARD_REMOVE);
			break;
		default:
			umm_mmap(mm, a, len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, NULL, 0);
			umm_write(mm, a, &v, sizeof(v));
			break;
		}
		atomic_add_return(&n_churn, 1);
	}
	return NULL;
}

static void *churn_reader(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 13 + 5;
	static __thread char buf[3 * PAGE_SIZE];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t a = CHURN + (xrand(&seed) % CHURN_PAGES) * PAGE_SIZE + 100;
		int64_t r = umm_read(mm, a, buf, sizeof(buf));

		CHECK(r == -EFAULT || (r > 0 && r <= (int64_t)sizeof(buf)));
		if (xrand(&seed) % 4 == 0) {
			r = umm_write(mm, a, buf, 64);
			CHECK(r == -EFAULT || r == 64);
		}
		atomic_add_return(&n_reads, 1);
	}
	return NULL;
}

/*
 * Faults, reads, pins and mincore in the blocks whose tables the churn's
 * whole-block MADV_DONTNEED frees: a word reads as zero or as what was
 * written there (its own address), never anything else.
 */
static void *reclaim_user(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 17 + 3;
	unsigned char vec[BLOCK / PAGE_SIZE];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t pg = xrand(&seed) % (RECLAIM_BLOCKS * BLOCK / PAGE_SIZE);
		uint64_t addr = RECLAIM + pg * PAGE_SIZE + (pg % 500) * 8, v = addr, got = 0;
		void *host;

		switch (xrand(&seed) % 4) {
		case 0:
			CHECK_EQ(umm_write(mm, addr, &v, sizeof(v)), sizeof(v));
			break;
		case 1:
			CHECK_EQ(umm_read(mm, addr, &got, sizeof(got)), sizeof(got));
			CHECK(got == 0 || got == addr);
			break;
		case 2:
			if (!umm_pin(mm, addr, 1, UMM_WRITE, &host)) {
				got = ((uint64_t *)host)[pg % 500];
				CHECK(got == 0 || got == addr);
				umm_unpin(mm, &host, 1);
			}
			break;
		default:
			CHECK_EQ(umm_mincore(mm, RECLAIM + (pg * PAGE_SIZE & ~(BLOCK - 1)),
					     BLOCK, vec), 0);
			break;
		}
		atomic_add_return(&n_reads, 1);
	}
	return NULL;
}

static void test_fault_stress(void)
{
	void *(*const fns[])(void *) = { writer, writer, churn, churn, churn_reader,
					 reclaim_user };
	void *const args[] = { (void *)0, (void *)1, (void *)3, (void *)4, (void *)5,
			       (void *)6 };
	struct page_alloc_stats before, after;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, STABLE, NWRITERS * SLICE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), STABLE);
	CHECK_EQ(umm_mmap(mm, RECLAIM, RECLAIM_BLOCKS * BLOCK, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), RECLAIM);
	/* writers own slices 0 and 1; the others take their seeds from theirs */
	stress_run(fns, args, ARRAY_SIZE(fns), 5, &stop);
	printf("  writes %llu, churn ops %llu, churn reads %llu, lost %llu, faults %llu, "
	       "vma_lock_success %llu, retry %llu, abort %llu\n",
	       (unsigned long long)n_writes, (unsigned long long)n_churn,
	       (unsigned long long)n_reads, (unsigned long long)n_lost,
	       (unsigned long long)mm_stat_read(mm, MM_PGFAULT),
	       (unsigned long long)mm_stat_read(mm, MM_VMA_LOCK_SUCCESS),
	       (unsigned long long)mm_stat_read(mm, MM_VMA_LOCK_RETRY),
	       (unsigned long long)mm_stat_read(mm, MM_VMA_LOCK_ABORT));
	CHECK_EQ(n_lost, 0);
	CHECK(n_writes > 0 && n_churn > 0 && n_reads > 0);
	umm_mm_destroy(mm);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

int main(void)
{
	RUN(test_fault_stress);
	return test_done();
}
