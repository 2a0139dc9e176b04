// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_shmem_thp_move_stress - shared-memory THP collapse (and the
 * retraction of other mms' page tables it does without their locks)
 * against mremap, MADV_PAGEOUT/MADV_COLD and private copies-on-write:
 * one 8 MiB memory file, mapped MAP_SHARED in mm A (map A) and in mm B
 * (map B, whose pieces the mover keeps moving between two 1 GiB-aligned
 * homes, so each page is at one of two addresses), and MAP_PRIVATE in
 * mm B (map P).
 *
 *  writers (2)  own one 8-byte record in every page (slot w), write it
 *               through map A or map B and read it back through the
 *               other: the last value written must be read (no lost write).
 *  private      writes slot 6 of random pages through map P (a copy-on-
 *               write) and must read back what it wrote there last.
 *  collapser    MADV_COLLAPSE of a block or of the whole file through map
 *               A (0, -EAGAIN, or -EINVAL when the churner's punch or
 *               pageout, running meanwhile, split the new folio before it
 *               was mapped), now and then through map P (any result).
 *  mover        mremap(MREMAP_FIXED) of a piece of map B (mostly a whole
 *               block, else a page range in one) to the same offset in
 *               the other home.
 *  churner      MADV_PAGEOUT or MADV_COLD of a range of map B's homes, or
 *               MADV_REMOVE of a block's last page (never written): the
 *               hole splits the block's THP in the cache, so collapses
 *               have real work to do.
 *  reader       smaps and pagemap of mm B.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_frames.h"
#include "test_proc.h"
#include "compiler.h"
#include "page_alloc.h"
#include "rcu.h"
#include "uapi_mman.h"

#define P		4096ull
#define HP		(2ull << 20)
#define FSIZE		(8ull << 20)
#define NPAGES		(FSIZE / P)
#define NBLOCKS		(FSIZE / HP)
#define RW		(PROT_READ | PROT_WRITE)
#define NWRITERS	2
#define SLOT_PRIV	6

#define HOLE_PAGE	(HP / P - 1)	/* of each block: punched, never written */

/* A random page that holds records (not a block's hole page). */
static uint64_t rec_page(uint64_t *seed)
{
	uint64_t pg = xrand(seed) % (NPAGES - NBLOCKS);

	return pg / HOLE_PAGE * (HP / P) + pg % HOLE_PAGE;
}

#define BASE_A		0x100000000000ull
#define BASE_B0		0x100040000000ull
#define BASE_B1		0x100080000000ull
#define BASE_P		0x1000c0000000ull

static struct umm_mm *mm_a, *mm_b;
static struct umm_file *file;
static bool stop;
static uint64_t last[NWRITERS][NPAGES], priv_last[NPAGES];
static uint64_t n_writes, n_checks, n_lost, n_coll_ok, n_coll_busy, n_coll_inval,
		n_coll_bad, n_moves, n_churn, n_punch, n_priv, n_reads;

/*
 * Odd while the churner works: its punch or partial pageout/cold may split
 * the folio a collapse just made, before the collapse maps it (-EINVAL).
 */
static unsigned long split_seq;

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static uint64_t rec_value(int w, uint64_t page, uint64_t seq)
{
	return ((uint64_t)(w + 1) << 56) | (page << 32) | (seq & 0xffffffffull);
}

/*
 * Access map B's copy of @page at slot @slot: at home 0 or home 1. The
 * mover may move it between the two tries: a few rounds, then give up.
 */
static int64_t b_access(uint64_t page, int slot, uint64_t *v, bool write)
{
	for (int round = 0; round < 64; round++) {
		for (int h = 0; h < 2; h++) {
			uint64_t a = (h ? BASE_B1 : BASE_B0) + page * P + (uint64_t)slot * 8;
			int64_t r = write ? umm_write(mm_b, a, v, 8) : umm_read(mm_b, a, v, 8);

			if (r != -EFAULT)
				return r;
		}
	}
	return -EFAULT;
}

static void check_rec(int w, uint64_t page, bool through_b)
{
	uint64_t v = 0;
	int64_t r = through_b ? b_access(page, w, &v, false) :
		    umm_read(mm_a, BASE_A + page * P + (uint64_t)w * 8, &v, 8);

	if (r == -EFAULT && through_b)
		return;		/* in flight both times: rare, not a loss */
	CHECK_EQ(r, 8);
	count(&n_checks);
	if (v != last[w][page]) {
		count(&n_lost);
		printf("  lost write: writer %d page %llu via %s: read %016llx, last %016llx\n",
		       w, (unsigned long long)page, through_b ? "B" : "A",
		       (unsigned long long)v, (unsigned long long)last[w][page]);
		CHECK_EQ(v, last[w][page]);
	}
}

static void *writer(void *arg)
{
	int w = (int)(uintptr_t)arg - 1;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w + 3), seq = 1;

	while (!stopping()) {
		uint64_t page = rec_page(&seed), v = rec_value(w, page, seq++);
		bool via_b = xrand(&seed) & 1;
		int64_t r = via_b ? b_access(page, w, &v, true) :
			    umm_write(mm_a, BASE_A + page * P + (uint64_t)w * 8, &v, 8);

		if (r == -EFAULT && via_b)
			continue;
		CHECK_EQ(r, 8);
		last[w][page] = v;
		count(&n_writes);
		check_rec(w, page, !via_b);
		check_rec(w, rec_page(&seed), xrand(&seed) & 1);
	}
	return NULL;
}

static void *private_writer(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 6151 + 1, seq = 1;

	while (!stopping()) {
		uint64_t page = rec_page(&seed), v = rec_value(9, page, seq++), got = 0;
		uint64_t a = BASE_P + page * P + SLOT_PRIV * 8;

		CHECK_EQ(umm_write(mm_b, a, &v, 8), 8);
		priv_last[page] = v;
		page = rec_page(&seed);
		a = BASE_P + page * P + SLOT_PRIV * 8;
		CHECK_EQ(umm_read(mm_b, a, &got, 8), 8);
		if (got != priv_last[page]) {
			printf("  lost private write: page %llu: read %016llx, last %016llx\n",
			       (unsigned long long)page, (unsigned long long)got,
			       (unsigned long long)priv_last[page]);
			CHECK_EQ(got, priv_last[page]);
		}
		count(&n_priv);
	}
	return NULL;
}

static void *collapser(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7919 + 11;

	while (!stopping()) {
		bool all = xrand(&seed) % 8 == 0, priv = xrand(&seed) % 8 == 0;
		uint64_t b = xrand(&seed) % NBLOCKS;
		uint64_t start = (priv ? BASE_P : BASE_A) + (all ? 0 : b * HP);
		unsigned long before = __atomic_load_n(&split_seq, __ATOMIC_ACQUIRE);
		int r = umm_madvise(priv ? mm_b : mm_a, start, all ? FSIZE : HP, MADV_COLLAPSE);

		if (priv)
			continue;	/* copies-on-write make it fail: any errno */
		if (r == 0)
			count(&n_coll_ok);
		else if (r == -EAGAIN)
			count(&n_coll_busy);
		else if (r == -EINVAL && ((before & 1) ||
					__atomic_load_n(&split_seq, __ATOMIC_ACQUIRE) != before))
			count(&n_coll_inval);
		else {
			count(&n_coll_bad);
			printf("  MADV_COLLAPSE [%llx, +%llx): %d\n", (unsigned long long)start,
			       all ? (unsigned long long)FSIZE : (unsigned long long)HP, r);
			CHECK(false);
		}
	}
	return NULL;
}

/* Which home each page of map B is in: the mover's alone. */
static unsigned char home[NPAGES];

static void *mover(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 104729 + 5;

	while (!stopping()) {
		uint64_t b = xrand(&seed) % NBLOCKS, first = b * (HP / P), n = HP / P;
		int64_t r;

		if (xrand(&seed) % 4 == 0) {	/* a piece: pages of one home */
			first += xrand(&seed) % (HP / P);
			n = 1 + xrand(&seed) % 64;
			if (first + n > (b + 1) * (HP / P))
				n = (b + 1) * (HP / P) - first;
		}
		for (uint64_t i = 1; i < n; i++)
			if (home[first + i] != home[first]) {
				n = i;
				break;
			}
		{
			uint64_t from = (home[first] ? BASE_B1 : BASE_B0) + first * P;
			uint64_t to = (home[first] ? BASE_B0 : BASE_B1) + first * P;

			r = umm_mremap(mm_b, from, n * P, n * P, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			CHECK_EQ(r, (int64_t)to);
			if (r != (int64_t)to)
				break;
		}
		for (uint64_t i = 0; i < n; i++)
			home[first + i] ^= 1;
		count(&n_moves);
	}
	return NULL;
}

static void *churner(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31 + 7;

	while (!stopping()) {
		uint64_t base = xrand(&seed) & 1 ? BASE_B1 : BASE_B0;
		uint64_t start = base + (xrand(&seed) % NPAGES) * P;
		uint64_t len = (xrand(&seed) & 1) ? HP : (1 + xrand(&seed) % 600) * P;
		int advice = xrand(&seed) & 1 ? MADV_PAGEOUT : MADV_COLD;
		int r;

		if (xrand(&seed) % 4 == 0) {
			/* punch a block's hole page: its THP in the cache splits */
			uint64_t off = ((xrand(&seed) % NBLOCKS) * (HP / P) + HOLE_PAGE) * P;

			__atomic_fetch_add(&split_seq, 1, __ATOMIC_ACQ_REL);
			r = umm_madvise(mm_b, base + off, P, MADV_REMOVE);
			__atomic_fetch_add(&split_seq, 1, __ATOMIC_ACQ_REL);
			CHECK(r == 0 || r == -ENOMEM);
			count(&n_punch);
			continue;
		}

		if (start + len > base + FSIZE)
			len = base + FSIZE - start;
		__atomic_fetch_add(&split_seq, 1, __ATOMIC_ACQ_REL);
		r = umm_madvise(mm_b, start, len, advice);
		__atomic_fetch_add(&split_seq, 1, __ATOMIC_ACQ_REL);
		CHECK(r == 0 || r == -ENOMEM);	/* -ENOMEM: a hole, moved away */
		count(&n_churn);
	}
	return NULL;
}

static void *reader(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 3 + 99;
	static uint64_t pm[HP / P];
	FILE *null = fopen("/dev/null", "w");

	CHECK(null);
	if (!null)
		return NULL;
	while (!stopping()) {
		uint64_t base = xrand(&seed) % 3 == 0 ? BASE_P : xrand(&seed) & 1 ? BASE_B1 : BASE_B0;

		CHECK_EQ(umm_smaps(mm_b, null), 0);
		CHECK_EQ(umm_pagemap(mm_b, base + (xrand(&seed) % NBLOCKS) * HP, HP / P, pm), 0);
		count(&n_reads);
	}
	fclose(null);
	return NULL;
}

static void test_shmem_thp_move_stress(void)
{
	void *(*const fns[])(void *) = {
		writer, writer, private_writer, collapser, mover, churner, reader,
	};
	struct page_alloc_stats before;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm_a = umm_mm_create(NULL);
	mm_b = umm_mm_create(NULL);
	file = umm_file_create("shthp-move", FSIZE, 0);
	CHECK(mm_a && mm_b && file);
	if (!mm_a || !mm_b || !file)
		return;
	CHECK_EQ(umm_mmap(mm_a, BASE_A, FSIZE, RW, MAP_SHARED | MAP_FIXED, file, 0),
		 (int64_t)BASE_A);
	CHECK_EQ(umm_mmap(mm_b, BASE_B0, FSIZE, RW, MAP_SHARED | MAP_FIXED, file, 0),
		 (int64_t)BASE_B0);
	CHECK_EQ(umm_mmap(mm_b, BASE_P, FSIZE, RW, MAP_PRIVATE | MAP_FIXED, file, 0),
		 (int64_t)BASE_P);
	for (uint64_t pg = 0; pg < NPAGES; pg++)
		for (int w = 0; w < NWRITERS && pg % (HP / P) != HOLE_PAGE; w++) {
			last[w][pg] = rec_value(w, pg, 0);
			CHECK_EQ(umm_write(mm_a, BASE_A + pg * P + (uint64_t)w * 8,
					   &last[w][pg], 8), 8);
		}
	stress_run(fns, NULL, ARRAY_SIZE(fns), 3, &stop);

	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		uint64_t got = 0;

		if (pg % (HP / P) == HOLE_PAGE)
			continue;
		for (int w = 0; w < NWRITERS; w++) {
			check_rec(w, pg, false);
			check_rec(w, pg, true);
		}
		CHECK_EQ(umm_read(mm_b, BASE_P + pg * P + SLOT_PRIV * 8, &got, 8), 8);
		CHECK_EQ(got, priv_last[pg]);
	}
	printf("  writes %llu, checks %llu, lost %llu, private %llu\n"
	       "  collapses %llu ok, %llu busy, %llu einval, %llu bad; moves %llu, "
	       "churn %llu (punch %llu), reader %llu, retracted %lld, collapse_alloc %lld\n",
	       (unsigned long long)n_writes, (unsigned long long)n_checks,
	       (unsigned long long)n_lost, (unsigned long long)n_priv,
	       (unsigned long long)n_coll_ok, (unsigned long long)n_coll_busy,
	       (unsigned long long)n_coll_inval, (unsigned long long)n_coll_bad,
	       (unsigned long long)n_moves, (unsigned long long)n_churn, (unsigned long long)n_punch,
	       (unsigned long long)n_reads,
	       umm_vmstat_value(mm_b, "thp_retract_page_tables"),
	       umm_vmstat_value(mm_a, "thp_collapse_alloc"));
	CHECK_EQ(n_lost, 0);
	CHECK_EQ(n_coll_bad, 0);
	CHECK(n_writes > 0 && n_coll_ok > 0 && n_moves > 0 && n_churn > 0 && n_priv > 0);
	CHECK_EQ(umm_munmap(mm_a, BASE_A, FSIZE), 0);
	CHECK_EQ(umm_munmap(mm_b, BASE_B0, FSIZE), 0);
	CHECK_EQ(umm_munmap(mm_b, BASE_B1, FSIZE), 0);
	CHECK_EQ(umm_munmap(mm_b, BASE_P, FSIZE), 0);
	umm_file_put(file);
	umm_mm_destroy(mm_a);
	umm_mm_destroy(mm_b);
	check_frames_back(&before);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(test_shmem_thp_move_stress);
	return test_done();
}
