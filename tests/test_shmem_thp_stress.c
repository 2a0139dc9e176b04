// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_shmem_thp_stress - MADV_COLLAPSE of shared memory under load: one
 * 16 MiB memfd-like umm file mapped MAP_SHARED four times, twice in mm A
 * (maps 0 and 1), twice in mm B (map 2, and map 3 which the churner
 * changes), while
 *
 *  writers (3)  each own one 8-byte record in every page of the file
 *               (slot w of the page) and write it with increasing sequence
 *               numbers through a random mapping, then read it back through
 *               another: the last value written must be what every mapping
 *               reads (no lost write). A write through map 3 may meet a
 *               block the churner has made read-only or unmapped: -EFAULT,
 *               and that write does not count.
 *  collapser    MADV_COLLAPSE of a random 2 MiB block (or the whole file)
 *               through a random mapping. Accepted: 0; -EAGAIN (a page with
 *               an extra reference: the pinner's pin, a fork child's walk);
 *               and through map 3 only, while the churner was at it during
 *               the call: -ENOMEM when it had a block unmapped (a hole in
 *               the range), -EINVAL when it had a single page mprotected
 *               (that page is a VMA of its own, inside one block: the
 *               kernel's hstart > hend, S9's (p+4K, 2M-8K)); and through
 *               any mapping -EINVAL when the churner punched the block
 *               during the call (the THP just made in the cache was split
 *               before it could be mapped: the kernel's
 *               collapse_pte_mapped_thp finds a folio that is not PMD-sized,
 *               SCAN_PAGE_COMPOUND, -EINVAL). Nothing else may fail: every block holds records from the start, every
 *               mapping is 2 MiB-congruent with its file offset, nothing
 *               says MADV_NOHUGEPAGE.
 *  churner      on map 3 only: MADV_DONTNEED of a piece of a block or all
 *               of it, mprotect(PROT_READ) of a page or a block and back,
 *               munmap and re-mmap of a block (same file offset), a
 *               MAP_FIXED mmap of a block over itself (its old tables
 *               freed while the new VMA is already in i_mmap);
 *               a guard region on one page and off again (accesses
 *               through it -EFAULT, a collapse through map 3 -EINVAL, as
 *               for a page mprotected on its own); and
 *               MADV_REMOVE of the last page of a block, which holds no
 *               record (no thread touches it): the hole splits the block's
 *               THP in the cache, so that the collapser has real work
 *               (copying pages that the writers are writing) all along;
 *               MADV_COLD or MADV_PAGEOUT of a page or a block (a THP
 *               mapped only here is unmapped or made old, split when
 *               advised in part: a collapse during it may meet the split,
 *               -EINVAL, as beside a punch).
 *  forker       umm_fork of A or B, then the child writes the forker's own
 *               record (slot 7) through its copy of a mapping and the
 *               parent must read it through one of its own (shared memory
 *               stays shared across fork); the child collapses a block too;
 *               then the child is destroyed.
 *  pinner       pins 1-4 pages through maps 0-2, writes its own record
 *               (slot 6) through a mapping and must see it through the host
 *               pointer, writes it through the pointer and must read it
 *               through another mapping, collapses the pinned block
 *               (-EAGAIN, or 0 when the block was a THP before the pin),
 *               unpins.
 *  reader       umm_smaps, umm_pagemap and umm_vmstat of both mms.
 *
 * At the end every record reads its last value through every mapping;
 * with everything unmapped, the file put and the mms destroyed, every
 * frame and page table is back.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
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
#define FSIZE		(16ull << 20)
#define NPAGES		(FSIZE / P)
#define NBLOCKS		(FSIZE / HP)
#define RW		(PROT_READ | PROT_WRITE)
#define NWRITERS	3
#define SLOT_PIN	6
#define SLOT_FORK	7
#define NMAPS		4
#define CHURN_MAP	3
#define HOLE_PAGE	(HP / P - 1)	/* of each block: punched, never written */

/* A random page that holds records (not a block's hole page). */
static uint64_t rec_page(uint64_t *seed)
{
	uint64_t pg = xrand(seed) % (NPAGES - NBLOCKS);

	return pg / HOLE_PAGE * (HP / P) + pg % HOLE_PAGE;
}

static struct umm_mm *mm_a, *mm_b;
static struct umm_file *file;
static bool stop;

/* Map i: its mm and address (file offset 0 at the address). */
static const uint64_t map_base[NMAPS] = {
	0x100000000000ull, 0x100040000000ull, 0x100000000000ull, 0x100080000000ull,
};

static struct umm_mm *map_mm(int i)
{
	return i < 2 ? mm_a : mm_b;
}

static uint64_t rec_addr(int map, uint64_t page, int slot)
{
	return map_base[map] + page * P + (uint64_t)slot * 8;
}

/*
 * The churner's turns that make a collapse through map 3 fail: odd while
 * a page is mprotected alone (a one-page VMA) / a block is unmapped.
 */
static unsigned long page_vma_seq, hole_seq;
static unsigned long punch_seq[NBLOCKS];	/* odd while block b is being punched */

static unsigned long seq_get(unsigned long *s)
{
	return __atomic_load_n(s, __ATOMIC_ACQUIRE);
}

static void seq_bump(unsigned long *s)
{
	__atomic_fetch_add(s, 1, __ATOMIC_ACQ_REL);
}

/* Was the churner at it (odd at @before, or a turn since)? */
static bool seq_during(unsigned long *s, unsigned long before)
{
	return (before & 1) || seq_get(s) != before;
}

/* Was block @b (all of them: NBLOCKS) punched since @before was taken? */
static void punch_get(unsigned long *before)
{
	for (unsigned b = 0; b < NBLOCKS; b++)
		before[b] = seq_get(&punch_seq[b]);
}

static bool punched_during(const unsigned long *before, uint64_t b)
{
	for (unsigned i = 0; i < NBLOCKS; i++)
		if ((b == NBLOCKS || b == i) && seq_during(&punch_seq[i], before[i]))
			return true;
	return false;
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static uint64_t n_writes, n_skipped, n_checks, n_lost, n_collapse_ok, n_collapse_busy,
		n_collapse_hole, n_collapse_page_vma, n_collapse_punched,
		n_collapse_bad, n_churn, n_punch, n_cold,
		n_forks, n_fork_checks, n_pins, n_pin_busy, n_reads;

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- writers ---- */

static uint64_t last[NWRITERS][NPAGES];	/* each writer's own; main reads after join */

static uint64_t rec_value(int w, uint64_t page, uint64_t seq)
{
	return ((uint64_t)(w + 1) << 56) | (page << 32) | (seq & 0xffffffffull);
}

/* Read writer @w's record of @page through @map: 1 read, 0 map 3 gone, -1 error. */
static int read_rec(int map, uint64_t page, int slot, uint64_t *v)
{
	int64_t r = umm_read(map_mm(map), rec_addr(map, page, slot), v, 8);

	if (r == 8)
		return 1;
	if (r == -EFAULT && map == CHURN_MAP)
		return 0;
	printf("  read of page %llu slot %d through map %d: %lld\n",
	       (unsigned long long)page, slot, map, (long long)r);
	return -1;
}

static void check_rec(int w, uint64_t page, int map)
{
	uint64_t v = 0;
	int r = read_rec(map, page, w, &v);

	CHECK(r >= 0);
	if (r <= 0)
		return;
	count(&n_checks);
	if (v != last[w][page]) {
		count(&n_lost);
		printf("  lost write: writer %d page %llu map %d: read %016llx, last "
		       "written %016llx\n", w, (unsigned long long)page, map,
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
		int map = (int)(xrand(&seed) % NMAPS);
		int64_t r = umm_write(map_mm(map), rec_addr(map, page, w), &v, 8);

		if (r == 8) {
			last[w][page] = v;
			count(&n_writes);
		} else if (r == -EFAULT && map == CHURN_MAP) {
			count(&n_skipped);	/* read-only or unmapped for now */
		} else {
			printf("  writer %d: write through map %d: %lld\n", w, map,
			       (long long)r);
			CHECK(false);
		}
		/* read back through another mapping, and an older record */
		check_rec(w, page, (int)(xrand(&seed) % NMAPS));
		check_rec(w, rec_page(&seed), (int)(xrand(&seed) % NMAPS));
	}
	return NULL;
}

/* ---- collapser ---- */

static void *collapser(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7919 + 11;

	while (!stopping()) {
		int map = (int)(xrand(&seed) % NMAPS);
		bool all = xrand(&seed) % 8 == 0;
		uint64_t b = xrand(&seed) % NBLOCKS;
		uint64_t start = map_base[map] + (all ? 0 : b * HP), len = all ? FSIZE : HP;
		unsigned long pv = seq_get(&page_vma_seq), hole = seq_get(&hole_seq);
		unsigned long punch[NBLOCKS];
		int r;

		punch_get(punch);
		r = umm_madvise(map_mm(map), start, len, MADV_COLLAPSE);

		if (r == 0) {
			count(&n_collapse_ok);
		} else if (r == -EAGAIN) {
			count(&n_collapse_busy);
		} else if (r == -ENOMEM && map == CHURN_MAP && seq_during(&hole_seq, hole)) {
			count(&n_collapse_hole);
		} else if (r == -EINVAL && map == CHURN_MAP && seq_during(&page_vma_seq, pv)) {
			count(&n_collapse_page_vma);
		} else if (r == -EINVAL && punched_during(punch, all ? NBLOCKS : b)) {
			count(&n_collapse_punched);
		} else {
			count(&n_collapse_bad);
			printf("  MADV_COLLAPSE map %d [%llx, +%llx): %d; the mm's maps now:\n",
			       map, (unsigned long long)start, (unsigned long long)len, r);
			umm_maps(map_mm(map), stdout);
			CHECK(false);
		}
	}
	return NULL;
}

/* ---- churner: map 3 only ---- */

static void *churner(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 104729 + 5, base = map_base[CHURN_MAP];

	while (!stopping()) {
		uint64_t b = xrand(&seed) % NBLOCKS, blk = base + b * HP;
		uint64_t pg = xrand(&seed) % (HP / P);

		switch (xrand(&seed) % 10) {
		case 0: {	/* a piece of the block */
			uint64_t len = (1 + xrand(&seed) % 16) * P;

			if (len > HP - pg * P)
				len = HP - pg * P;
			CHECK_EQ(umm_madvise(mm_b, blk + pg * P, len, MADV_DONTNEED), 0);
			break;
		}
		case 1:
			CHECK_EQ(umm_madvise(mm_b, blk, HP, MADV_DONTNEED), 0);
			break;
		case 2:		/* a page read-only and back */
			seq_bump(&page_vma_seq);
			CHECK_EQ(umm_mprotect(mm_b, blk + pg * P, P, PROT_READ), 0);
			sched_yield();
			CHECK_EQ(umm_mprotect(mm_b, blk + pg * P, P, RW), 0);
			seq_bump(&page_vma_seq);
			break;
		case 3:		/* the block read-only and back */
			CHECK_EQ(umm_mprotect(mm_b, blk, HP, PROT_READ), 0);
			sched_yield();
			CHECK_EQ(umm_mprotect(mm_b, blk, HP, RW), 0);
			break;
		case 4:		/* gone for a while, then mapped afresh */
			seq_bump(&hole_seq);
			CHECK_EQ(umm_munmap(mm_b, blk, HP), 0);
			sched_yield();
			CHECK_EQ(umm_mmap(mm_b, blk, HP, RW, MAP_SHARED | MAP_FIXED, file,
					  b * HP), (int64_t)blk);
			seq_bump(&hole_seq);
			break;
		case 6:
			/*
			 * Mapped afresh over itself: the new VMA is in i_mmap
			 * while the old one's tables are freed, under the
			 * collapser's retract_page_tables.
			 */
			CHECK_EQ(umm_mmap(mm_b, blk, HP, RW, MAP_SHARED | MAP_FIXED, file,
					  b * HP), (int64_t)blk);
			break;
		case 7:		/* a guard region on a page for a while */
			seq_bump(&page_vma_seq);
			CHECK_EQ(umm_madvise(mm_b, blk + pg * P, P, MADV_GUARD_INSTALL), 0);
			sched_yield();
			CHECK_EQ(umm_madvise(mm_b, blk + pg * P, P, MADV_GUARD_REMOVE), 0);
			seq_bump(&page_vma_seq);
			break;
		case 8:
		case 9: {	/* cold or paged out: a part of a THP splits it */
			bool whole = xrand(&seed) & 1;
			int advice = (xrand(&seed) & 1) ? MADV_COLD : MADV_PAGEOUT;

			seq_bump(&punch_seq[b]);
			CHECK_EQ(umm_madvise(mm_b, whole ? blk : blk + pg * P, whole ? HP : P,
					     advice), 0);
			seq_bump(&punch_seq[b]);
			count(&n_cold);
			break;
		}
		case 5:		/* a hole in the cache: the block's THP split */
			seq_bump(&punch_seq[b]);
			CHECK_EQ(umm_madvise(mm_b, blk + HOLE_PAGE * P, P, MADV_REMOVE), 0);
			seq_bump(&punch_seq[b]);
			count(&n_punch);
			break;
		}
		count(&n_churn);
	}
	return NULL;
}

/* ---- forker ---- */

static uint64_t fork_last[NPAGES];	/* the forker's own records (slot 7) */

static void *forker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31337 + 3, seq = 1;

	while (!stopping()) {
		bool a = xrand(&seed) & 1;
		struct umm_mm *parent = a ? mm_a : mm_b, *child = NULL;
		int cmap = a ? (int)(xrand(&seed) % 2) : 2 + (int)(xrand(&seed) % 2);
		int pmap = a ? (int)(xrand(&seed) % 2) : 2;	/* not map 3 */
		uint64_t page = rec_page(&seed), v = rec_value(SLOT_FORK, page, seq++);
		unsigned long pv = seq_get(&page_vma_seq), hole = seq_get(&hole_seq);
		unsigned long punch[NBLOCKS];
		uint64_t cb;
		int64_t r;
		int c;

		punch_get(punch);

		CHECK_EQ(umm_fork(parent, &child), 0);
		if (!child)
			continue;
		count(&n_forks);
		/* the child's write reaches the file, read through the parent and the other mm */
		r = umm_write(child, rec_addr(cmap, page, SLOT_FORK), &v, 8);
		if (r == 8) {
			uint64_t got = 0;

			fork_last[page] = v;
			CHECK_EQ(read_rec(pmap, page, SLOT_FORK, &got), 1);
			CHECK_EQ(got, v);
			CHECK_EQ(read_rec(a ? 2 : 0, page, SLOT_FORK, &got), 1);
			CHECK_EQ(got, v);
			count(&n_fork_checks);
		} else {
			/* only map 3 may be read-only or unmapped in the child */
			CHECK(r == -EFAULT && cmap == CHURN_MAP);
		}
		/* the child collapses a block of its own mapping */
		cb = xrand(&seed) % NBLOCKS;
		c = umm_madvise(child, map_base[cmap] + cb * HP, HP, MADV_COLLAPSE);
		/* the child's map 3 as the churner left it at the fork */
		if (!(c == 0 || c == -EAGAIN ||
		      (c == -ENOMEM && cmap == CHURN_MAP && seq_during(&hole_seq, hole)) ||
		      (c == -EINVAL && cmap == CHURN_MAP && seq_during(&page_vma_seq, pv)) ||
		      (c == -EINVAL && punched_during(punch, cb)))) {
			printf("  MADV_COLLAPSE in a fork child, map %d: %d\n", cmap, c);
			CHECK(false);
		}
		umm_mm_destroy(child);
	}
	return NULL;
}

/* ---- pinner ---- */

static void *pinner(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7 + 1234567, seq = 1;
	unsigned long punch[NBLOCKS];
	void *ptr[4];

	while (!stopping()) {
		int map = (int)(xrand(&seed) % 3), other = (map + 1 + (int)(xrand(&seed) % 2)) % 3;
		size_t n = 1 + xrand(&seed) % 4;
		uint64_t page = rec_page(&seed), b = page * P / HP;
		int r;

		if (page % (HP / P) + n > HOLE_PAGE)
			page -= n;	/* all n in the block, none its hole page */
		r = umm_pin(map_mm(map), map_base[map] + page * P, n, UMM_READ | UMM_WRITE, ptr);
		CHECK_EQ(r, 0);
		if (r)
			continue;
		count(&n_pins);
		for (size_t i = 0; i < n; i++) {
			uint64_t v = rec_value(SLOT_PIN, page + i, seq++), got = 0;

			/* through a mapping: the pinned frame sees it */
			CHECK_EQ(umm_write(map_mm(other), rec_addr(other, page + i, SLOT_PIN),
					   &v, 8), 8);
			memcpy(&got, (char *)ptr[i] + SLOT_PIN * 8, 8);
			CHECK_EQ(got, v);
			/* through the pointer: every mapping sees it */
			v = rec_value(SLOT_PIN, page + i, seq++);
			memcpy((char *)ptr[i] + SLOT_PIN * 8, &v, 8);
			CHECK_EQ(read_rec(map, page + i, SLOT_PIN, &got), 1);
			CHECK_EQ(got, v);
			CHECK_EQ(read_rec(other, page + i, SLOT_PIN, &got), 1);
			CHECK_EQ(got, v);
		}
		/* a collapse of the pinned block: -EAGAIN, or 0 if it was a THP already */
		punch_get(punch);
		r = umm_madvise(map_mm(other), map_base[other] + b * HP, HP, MADV_COLLAPSE);
		if (!(r == 0 || r == -EAGAIN || (r == -EINVAL && punched_during(punch, b)))) {
			printf("  MADV_COLLAPSE of a pinned block: %d\n", r);
			CHECK(false);
		}
		if (r == -EAGAIN)
			count(&n_pin_busy);
		/* still the frames the file holds */
		for (size_t i = 0; i < n; i++) {
			uint64_t v = rec_value(SLOT_PIN, page + i, seq++), got = 0;

			CHECK_EQ(umm_write(map_mm(map), rec_addr(map, page + i, SLOT_PIN), &v, 8), 8);
			memcpy(&got, (char *)ptr[i] + SLOT_PIN * 8, 8);
			CHECK_EQ(got, v);
		}
		umm_unpin(map_mm(map), ptr, n);
	}
	return NULL;
}

/* ---- reader ---- */

static void *reader(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 3 + 99;
	static uint64_t pm[HP / P];
	FILE *null = fopen("/dev/null", "w");

	CHECK(null);
	if (!null)
		return NULL;
	while (!stopping()) {
		struct umm_mm *m = xrand(&seed) & 1 ? mm_a : mm_b;
		int map = (int)(xrand(&seed) % NMAPS);

		CHECK_EQ(umm_smaps(m, null), 0);
		CHECK_EQ(umm_pagemap(map_mm(map), map_base[map] + (xrand(&seed) % NBLOCKS) * HP,
				     HP / P, pm), 0);
		CHECK_EQ(umm_vmstat(m, null), 0);
		count(&n_reads);
	}
	fclose(null);
	return NULL;
}

static void test_shmem_thp_stress(void)
{
	void *(*const fns[])(void *) = {
		writer, writer, writer, collapser, churner, forker, pinner, reader,
	};
	struct page_alloc_stats before;
	long long coll_a, coll_b, mapped_a, mapped_b, retract;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm_a = umm_mm_create(NULL);
	mm_b = umm_mm_create(NULL);
	file = umm_file_create("shthp-stress", FSIZE, 0);
	CHECK(mm_a && mm_b && file);
	if (!mm_a || !mm_b || !file)
		return;
	for (int i = 0; i < NMAPS; i++)
		CHECK_EQ(umm_mmap(map_mm(i), map_base[i], FSIZE, RW, MAP_SHARED | MAP_FIXED,
				  file, 0), (int64_t)map_base[i]);
	/* every record written once: no block is ever empty */
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		if (pg % (HP / P) == HOLE_PAGE)
			continue;
		for (int w = 0; w < NWRITERS; w++) {
			last[w][pg] = rec_value(w, pg, 0);
			CHECK_EQ(umm_write(mm_a, rec_addr(0, pg, w), &last[w][pg], 8), 8);
		}
	}
	stress_run(fns, NULL, ARRAY_SIZE(fns), 3, &stop);

	/* map 3 whole and writable again */
	CHECK_EQ(umm_mmap(mm_b, map_base[CHURN_MAP], FSIZE, RW, MAP_SHARED | MAP_FIXED, file, 0),
		 (int64_t)map_base[CHURN_MAP]);
	/* a last collapse of everything, then every record through every mapping */
	CHECK_EQ(umm_madvise(mm_a, map_base[0], FSIZE, MADV_COLLAPSE), 0);
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		if (pg % (HP / P) == HOLE_PAGE)
			continue;
		for (int map = 0; map < NMAPS; map++) {
			for (int w = 0; w < NWRITERS; w++)
				check_rec(w, pg, map);
			if (fork_last[pg]) {
				uint64_t got = 0;

				CHECK_EQ(read_rec(map, pg, SLOT_FORK, &got), 1);
				CHECK_EQ(got, fork_last[pg]);
			}
		}
	}
	coll_a = umm_vmstat_value(mm_a, "thp_collapse_alloc");
	coll_b = umm_vmstat_value(mm_b, "thp_collapse_alloc");
	mapped_a = umm_vmstat_value(mm_a, "thp_file_mapped");
	mapped_b = umm_vmstat_value(mm_b, "thp_file_mapped");
	retract = umm_vmstat_value(mm_a, "thp_retract_page_tables") +
		  umm_vmstat_value(mm_b, "thp_retract_page_tables");
	printf("  writes %llu (%llu refused by map 3), checks %llu, lost %llu\n"
	       "  collapses %llu ok, %llu busy, %llu into map 3's hole, %llu over its "
	       "one-page VMA, %llu beside a punch, %llu bad\n"
	       "  churn %llu (%llu punches, %llu cold or paged out), forks %llu (%llu checked), pins %llu (%llu collapses busy), "
	       "reader %llu\n"
	       "  thp_collapse_alloc A %lld B %lld, thp_file_mapped A %lld B %lld, "
	       "tables retracted %lld\n",
	       (unsigned long long)n_writes, (unsigned long long)n_skipped,
	       (unsigned long long)n_checks, (unsigned long long)n_lost,
	       (unsigned long long)n_collapse_ok, (unsigned long long)n_collapse_busy,
	       (unsigned long long)n_collapse_hole, (unsigned long long)n_collapse_page_vma,
	       (unsigned long long)n_collapse_punched,
	       (unsigned long long)n_collapse_bad,
	       (unsigned long long)n_churn, (unsigned long long)n_punch,
	       (unsigned long long)n_cold, (unsigned long long)n_forks,
	       (unsigned long long)n_fork_checks, (unsigned long long)n_pins,
	       (unsigned long long)n_pin_busy, (unsigned long long)n_reads,
	       coll_a, coll_b, mapped_a, mapped_b, retract);
	CHECK_EQ(n_lost, 0);
	CHECK_EQ(n_collapse_bad, 0);
	CHECK(n_writes > 0 && n_collapse_ok > 0 && n_churn > 0 && n_forks > 0 &&
	      n_fork_checks > 0 && n_pins > 0 && n_reads > 0);
	/* (collapses past NBLOCKS are blocks made again after a punch split them) */
	CHECK(n_punch > 0 && n_cold > 0);
	CHECK(mapped_a > 0 && mapped_b > 0);
	/* everything unmapped, the file put, the mms gone: every frame back */
	for (int i = 0; i < NMAPS; i++)
		CHECK_EQ(umm_munmap(map_mm(i), map_base[i], FSIZE), 0);
	umm_file_put(file);
	umm_mm_destroy(mm_a);
	umm_mm_destroy(mm_b);
	check_frames_back(&before);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(test_shmem_thp_stress);
	return test_done();
}
