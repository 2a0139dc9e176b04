// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_shmem_thp_pageout_stress - MADV_COLD and MADV_PAGEOUT of shared
 * memory THPs mapped by PTEs, under load. One umm file of 8 MiB of
 * records and a 2 MiB tail block, mapped MAP_SHARED four times:
 *
 *   map 0  mm A, 2 MiB-congruent, THPs allowed: MADV_COLLAPSE goes
 *          through it and maps the folio with a leaf;
 *   map 1  mm A, MADV_NOHUGEPAGE, congruent: a collapsed folio is mapped
 *          by 512 PTEs of one table (finish_fault_folio);
 *   map 2  mm B, as map 1;
 *   map 3  mm B, MADV_NOHUGEPAGE, 64 KiB off congruence: a folio spans
 *          two PTE tables and is mapped page by page.
 *
 * Threads:
 *  writers (3)  each own one 8-byte record in every record page (slot w)
 *               and write it with increasing values through a random
 *               mapping, then read it back through another: the last
 *               value written must be what every mapping reads.
 *  collapser    MADV_COLLAPSE of a block through map 0 (0; -EAGAIN for an
 *               extra reference: a pin, a queued split, a lookup; -EINVAL
 *               when the new THP was split before it could be mapped: an
 *               advisor, a punch or a truncation at the block during the
 *               call), then sometimes MADV_DONTNEED of map 0's leaf, so
 *               that only PTEs map the folio.
 *  advisors (2) MADV_COLD or MADV_PAGEOUT through maps 1-3 of a whole
 *               block, a page, a piece, two blocks or everything, often
 *               after MADV_DONTNEED of the block in the other mappings,
 *               so that the advised mapping is the folio's only one (the
 *               whole-folio path, or the deferred split, runs).
 *  puncher      MADV_REMOVE of a block's last page (never written: the
 *               hole splits the THP in the cache), and truncation of the
 *               tail block to a random size past its records and back
 *               (a cut folio is split or zeroed past the end).
 *  pinner       write-pins 1-4 record pages through maps 1-3, writes its
 *               own record (slot 6) through a mapping and the pointer and
 *               checks both ways; pages out or cools the pinned block
 *               meanwhile, then unpins.
 *  forker       umm_fork of A or B; the child writes its record (slot 7)
 *               through its copy of a mapping, the parent must read it;
 *               the child pages out a block of its mapping; then the
 *               child goes.
 *
 * At the end every record reads its last value through every mapping;
 * with everything unmapped, the file put and the mms destroyed, every
 * frame and page table is back. UMM_STRESS_SECONDS sets the length.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
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
#define PPB		(HP / P)		/* pages a block */
#define NRBLOCKS	4			/* blocks of records */
#define NBLOCKS		(NRBLOCKS + 1)		/* and the tail block */
#define FSIZE		(NBLOCKS * HP)
#define NPAGES		(FSIZE / P)
#define TAIL		(NRBLOCKS * PPB)	/* first page of the tail block */
#define TAIL_RECS	256			/* its record pages; the rest may go */
#define HOLE_PAGE	(PPB - 1)		/* of a record block: punched */
#define RW		(PROT_READ | PROT_WRITE)
#define NWRITERS	3
#define SLOT_PIN	6
#define SLOT_FORK	7
#define NMAPS		4
#define SKEW		(16 * P)		/* map 3's distance from congruence */

static struct umm_mm *mm_a, *mm_b;
static struct umm_file *file;
static bool stop;

static const uint64_t map_base[NMAPS] = {
	0x100000000000ull, 0x100040000000ull, 0x100000000000ull, 0x100080000000ull + SKEW,
};

static struct umm_mm *map_mm(int i)
{
	return i < 2 ? mm_a : mm_b;
}

static uint64_t rec_addr(int map, uint64_t page, int slot)
{
	return map_base[map] + page * P + (uint64_t)slot * 8;
}

static bool is_rec_page(uint64_t pg)
{
	if (pg >= TAIL)
		return pg < TAIL + TAIL_RECS;
	return pg % PPB != HOLE_PAGE;
}

/* A random page that holds records. */
static uint64_t rec_page(uint64_t *seed)
{
	for (;;) {
		uint64_t pg = xrand(seed) % (TAIL + TAIL_RECS);

		if (is_rec_page(pg))
			return pg;
	}
}

/* Odd while block b is advised, punched or truncated by someone. */
static unsigned long split_seq[NBLOCKS];

static void seq_bump(unsigned long *s)
{
	__atomic_fetch_add(s, 1, __ATOMIC_ACQ_REL);
}

static void splits_get(unsigned long *before)
{
	for (unsigned b = 0; b < NBLOCKS; b++)
		before[b] = __atomic_load_n(&split_seq[b], __ATOMIC_ACQUIRE);
}

static bool split_during(const unsigned long *before, uint64_t b)
{
	return (before[b] & 1) || __atomic_load_n(&split_seq[b], __ATOMIC_ACQUIRE) != before[b];
}

/* Mark blocks [b0, b1] as being split by us (twice: before and after). */
static void splitting(uint64_t b0, uint64_t b1)
{
	for (uint64_t b = b0; b <= b1 && b < NBLOCKS; b++)
		seq_bump(&split_seq[b]);
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED);
}

static uint64_t n_writes, n_checks, n_lost, n_collapse_ok, n_collapse_busy,
		n_collapse_split, n_collapse_bad, n_advice, n_thp_pte_seen,
		n_whole_out, n_part_unmapped, n_punch, n_trunc, n_pins, n_forks,
		n_fork_checks;

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- writers ---- */

static uint64_t last[NWRITERS][NPAGES];

static uint64_t rec_value(int w, uint64_t page, uint64_t seq)
{
	return ((uint64_t)(w + 1) << 56) | (page << 32) | (seq & 0xffffffffull);
}

static int read_rec(int map, uint64_t page, int slot, uint64_t *v)
{
	int64_t r = umm_read(map_mm(map), rec_addr(map, page, slot), v, 8);

	if (r == 8)
		return 1;
	printf("  read of page %llu slot %d through map %d: %lld\n",
	       (unsigned long long)page, slot, map, (long long)r);
	return -1;
}

static void check_rec(int w, uint64_t page, int map)
{
	uint64_t v = 0;

	if (read_rec(map, page, w, &v) != 1) {
		CHECK(false);
		return;
	}
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

		if (r != 8) {
			printf("  writer %d: write of page %llu through map %d: %lld\n", w,
			       (unsigned long long)page, map, (long long)r);
			CHECK(false);
			continue;
		}
		last[w][page] = v;
		count(&n_writes);
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
		uint64_t b = xrand(&seed) % NBLOCKS, start = map_base[0] + b * HP;
		unsigned long before[NBLOCKS];
		int r;

		splits_get(before);
		r = umm_madvise(mm_a, start, HP, MADV_COLLAPSE);
		if (r == 0) {
			count(&n_collapse_ok);
		} else if (r == -EAGAIN) {
			count(&n_collapse_busy);
		} else if (r == -EINVAL && split_during(before, b)) {
			count(&n_collapse_split);
		} else {
			count(&n_collapse_bad);
			printf("  MADV_COLLAPSE of block %llu: %d\n", (unsigned long long)b, r);
			CHECK(false);
		}
		/* the leaf goes: the PTE mappings are the folio's only ones */
		if (xrand(&seed) & 1)
			CHECK_EQ(umm_madvise(mm_a, start, HP, MADV_DONTNEED), 0);
	}
	return NULL;
}

/* ---- advisors ---- */

/*
 * Is block @b of @map mapped by its 512 PTEs, in order, by one large
 * folio (pfns contiguous and aligned)? Only meaningful for maps 1 and 2.
 */
static bool thp_by_ptes(int map, uint64_t b)
{
	static __thread uint64_t pm[PPB];

	if (umm_pagemap(map_mm(map), map_base[map] + b * HP, PPB, pm))
		return false;
	for (uint64_t i = 0; i < PPB; i++) {
		uint64_t pfn = pm[i] & ((1ull << 55) - 1);

		if (!(pm[i] >> 63) || pfn != (pm[0] & ((1ull << 55) - 1)) + i)
			return false;
	}
	return !((pm[0] & ((1ull << 55) - 1)) % PPB);
}

static uint64_t present_in(int map, uint64_t addr, uint64_t n)
{
	static __thread uint64_t pm[PPB];
	uint64_t c = 0;

	if (n > PPB || umm_pagemap(map_mm(map), addr, n, pm))
		return ~0ull;
	for (uint64_t i = 0; i < n; i++)
		c += pm[i] >> 63;
	return c;
}

static void *advisor(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 104729 + 5;

	while (!stopping()) {
		int map = 1 + (int)(xrand(&seed) % 3);
		int advice = (xrand(&seed) & 1) ? MADV_COLD : MADV_PAGEOUT;
		uint64_t b = xrand(&seed) % NBLOCKS, pg = xrand(&seed) % PPB;
		uint64_t addr = map_base[map] + b * HP, len = HP, b1 = b;
		bool thp = false;

		switch (xrand(&seed) % 6) {
		case 0:
		case 1:
			break;			/* the whole block */
		case 2:
			addr += pg * P;		/* one page */
			len = P;
			break;
		case 3:				/* a piece, up to the block's end */
			addr += pg * P;
			len = (1 + xrand(&seed) % 64) * P;
			if (len > HP - pg * P)
				len = HP - pg * P;
			break;
		case 4:				/* two blocks, or a part of them */
			if (b + 1 >= NBLOCKS)
				b = NBLOCKS - 2;
			addr = map_base[map] + b * HP + (xrand(&seed) & 1 ? 0 : pg * P);
			len = map_base[map] + (b + 2) * HP - addr;
			b1 = b + 1;
			break;
		case 5:				/* everything */
			addr = map_base[map];
			len = FSIZE;
			b = 0;
			b1 = NBLOCKS - 1;
			break;
		}
		if (map == 3 && addr + len > map_base[3] + FSIZE)
			len = map_base[3] + FSIZE - addr;
		/* often the advised mapping is made the only one */
		if (xrand(&seed) % 4) {
			for (int m = 0; m < NMAPS; m++)
				if (m != map)
					CHECK_EQ(umm_madvise(map_mm(m), map_base[m] + b * HP,
							     (b1 - b + 1) * HP, MADV_DONTNEED), 0);
		}
		/*
		 * Or the block made a THP mapped by this mapping's PTEs alone
		 * first (others may map it again meanwhile: a race, not a miss).
		 */
		if (map != 3 && b == b1 && !(xrand(&seed) % 3)) {
			int r = umm_madvise(mm_a, map_base[0] + b * HP, HP, MADV_COLLAPSE);

			CHECK(r == 0 || r == -EAGAIN || r == -EINVAL);
			for (int m = 0; m < NMAPS; m++)
				if (m != map)
					CHECK_EQ(umm_madvise(map_mm(m), map_base[m] + b * HP,
							     HP, MADV_DONTNEED), 0);
			CHECK_EQ(umm_fault(map_mm(map), map_base[map] + b * HP + pg % TAIL_RECS * P,
					   UMM_READ), 0);
		}
		if (map != 3 && b == b1)
			thp = thp_by_ptes(map, b);
		if (thp)
			count(&n_thp_pte_seen);
		splitting(b, b1);
		CHECK_EQ(umm_madvise(map_mm(map), addr, len, advice), 0);
		splitting(b, b1);
		count(&n_advice);
		if (thp && len == HP && advice == MADV_PAGEOUT && !present_in(map, addr, PPB))
			count(&n_whole_out);
		if (thp && len < HP && !present_in(map, map_base[map] + b * HP, PPB))
			count(&n_part_unmapped);
	}
	return NULL;
}

/* ---- puncher and truncater ---- */

static void *puncher(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31 + 77;

	while (!stopping()) {
		if (xrand(&seed) % 3) {
			uint64_t b = xrand(&seed) % NRBLOCKS;
			int map = (int)(xrand(&seed) % NMAPS);

			splitting(b, b);
			CHECK_EQ(umm_madvise(map_mm(map), map_base[map] + b * HP + HOLE_PAGE * P,
					     P, MADV_REMOVE), 0);
			splitting(b, b);
			count(&n_punch);
		} else {
			uint64_t keep = TAIL_RECS + xrand(&seed) % (PPB - TAIL_RECS);

			splitting(NRBLOCKS, NRBLOCKS);
			CHECK_EQ(umm_file_truncate(file, (TAIL + keep) * P -
						   (xrand(&seed) & 1 ? 100 : 0)), 0);
			sched_yield();
			CHECK_EQ(umm_file_truncate(file, FSIZE), 0);
			splitting(NRBLOCKS, NRBLOCKS);
			count(&n_trunc);
		}
		sched_yield();
	}
	return NULL;
}

/* ---- pinner ---- */

static void *pinner(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 7 + 1234567, seq = 1;
	void *ptr[4];

	while (!stopping()) {
		int map = 1 + (int)(xrand(&seed) % 3), other = (int)(xrand(&seed) % NMAPS);
		size_t n = 1 + xrand(&seed) % 4;
		uint64_t page = rec_page(&seed), b;
		int r;

		if (page >= TAIL ? page + n > TAIL + TAIL_RECS : page % PPB + n > HOLE_PAGE)
			page -= n;
		b = page / PPB;
		r = umm_pin(map_mm(map), map_base[map] + page * P, n, UMM_READ | UMM_WRITE, ptr);
		CHECK_EQ(r, 0);
		if (r)
			continue;
		count(&n_pins);
		for (size_t i = 0; i < n; i++) {
			uint64_t v = rec_value(SLOT_PIN, page + i, seq++), got = 0;

			CHECK_EQ(umm_write(map_mm(other), rec_addr(other, page + i, SLOT_PIN),
					   &v, 8), 8);
			memcpy(&got, (char *)ptr[i] + SLOT_PIN * 8, 8);
			CHECK_EQ(got, v);
		}
		/* advice on the pinned block: the pinned frames stay the file's */
		splitting(b, b);
		CHECK_EQ(umm_madvise(map_mm(map), map_base[map] + b * HP,
				     xrand(&seed) & 1 ? HP : P,
				     xrand(&seed) & 1 ? MADV_COLD : MADV_PAGEOUT), 0);
		splitting(b, b);
		for (size_t i = 0; i < n; i++) {
			uint64_t v = rec_value(SLOT_PIN, page + i, seq++), got = 0;

			memcpy((char *)ptr[i] + SLOT_PIN * 8, &v, 8);
			for (int m = 0; m < NMAPS; m++) {
				CHECK_EQ(read_rec(m, page + i, SLOT_PIN, &got), 1);
				CHECK_EQ(got, v);
			}
		}
		umm_unpin(map_mm(map), ptr, n);
	}
	return NULL;
}

/* ---- forker ---- */

static uint64_t fork_last[NPAGES];

static void *forker(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 31337 + 3, seq = 1;

	while (!stopping()) {
		bool a = xrand(&seed) & 1;
		struct umm_mm *parent = a ? mm_a : mm_b, *child = NULL;
		int cmap = a ? (int)(xrand(&seed) % 2) : 2 + (int)(xrand(&seed) % 2);
		int pmap = a ? 2 + (int)(xrand(&seed) % 2) : (int)(xrand(&seed) % 2);
		uint64_t page = rec_page(&seed), v = rec_value(SLOT_FORK, page, seq++), got = 0;
		uint64_t cb = xrand(&seed) % NBLOCKS;

		CHECK_EQ(umm_fork(parent, &child), 0);
		if (!child)
			continue;
		count(&n_forks);
		CHECK_EQ(umm_write(child, rec_addr(cmap, page, SLOT_FORK), &v, 8), 8);
		fork_last[page] = v;
		CHECK_EQ(read_rec(pmap, page, SLOT_FORK, &got), 1);
		CHECK_EQ(got, v);
		count(&n_fork_checks);
		splitting(cb, cb);
		CHECK_EQ(umm_madvise(child, map_base[cmap] + cb * HP, HP,
				     xrand(&seed) & 1 ? MADV_COLD : MADV_PAGEOUT), 0);
		splitting(cb, cb);
		umm_mm_destroy(child);
	}
	return NULL;
}

static void test_shmem_thp_pageout_stress(void)
{
	void *(*const fns[])(void *) = {
		writer, writer, writer, collapser, advisor, advisor, puncher, pinner, forker,
	};
	struct page_alloc_stats before;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm_a = umm_mm_create(NULL);
	mm_b = umm_mm_create(NULL);
	file = umm_file_create("shthp-pageout", FSIZE, 0);
	CHECK(mm_a && mm_b && file);
	if (!mm_a || !mm_b || !file)
		return;
	for (int i = 0; i < NMAPS; i++) {
		CHECK_EQ(umm_mmap(map_mm(i), map_base[i], FSIZE, RW, MAP_SHARED | MAP_FIXED,
				  file, 0), (int64_t)map_base[i]);
		if (i)
			CHECK_EQ(umm_madvise(map_mm(i), map_base[i], FSIZE, MADV_NOHUGEPAGE), 0);
	}
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		if (!is_rec_page(pg))
			continue;
		for (int w = 0; w < NWRITERS; w++) {
			last[w][pg] = rec_value(w, pg, 0);
			CHECK_EQ(umm_write(mm_a, rec_addr(0, pg, w), &last[w][pg], 8), 8);
		}
	}
	/* THPs to start with, mapped by PTEs in maps 1 and 2 */
	CHECK_EQ(umm_madvise(mm_a, map_base[0], FSIZE, MADV_COLLAPSE), 0);
	CHECK_EQ(umm_madvise(mm_a, map_base[0], FSIZE, MADV_DONTNEED), 0);
	for (uint64_t b = 0; b < NBLOCKS; b++)
		CHECK(umm_fault(mm_a, map_base[1] + b * HP, UMM_READ) == 0 &&
		      thp_by_ptes(1, b));

	stress_run(fns, NULL, ARRAY_SIZE(fns), 5, &stop);

	CHECK_EQ(umm_madvise(mm_a, map_base[0], FSIZE, MADV_COLLAPSE), 0);
	for (uint64_t pg = 0; pg < NPAGES; pg++) {
		if (!is_rec_page(pg))
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
	printf("  writes %llu, checks %llu, lost %llu\n"
	       "  collapses %llu ok, %llu busy, %llu split meanwhile, %llu bad\n"
	       "  advice %llu: THP by PTEs seen %llu, paged out whole %llu, "
	       "advice on a part unmapped it %llu\n"
	       "  punches %llu, truncations %llu, pins %llu, forks %llu (%llu checked)\n",
	       (unsigned long long)n_writes, (unsigned long long)n_checks,
	       (unsigned long long)n_lost, (unsigned long long)n_collapse_ok,
	       (unsigned long long)n_collapse_busy, (unsigned long long)n_collapse_split,
	       (unsigned long long)n_collapse_bad, (unsigned long long)n_advice,
	       (unsigned long long)n_thp_pte_seen, (unsigned long long)n_whole_out,
	       (unsigned long long)n_part_unmapped, (unsigned long long)n_punch,
	       (unsigned long long)n_trunc, (unsigned long long)n_pins,
	       (unsigned long long)n_forks, (unsigned long long)n_fork_checks);
	CHECK_EQ(n_lost, 0);
	CHECK_EQ(n_collapse_bad, 0);
	CHECK(n_writes > 0 && n_collapse_ok > 0 && n_advice > 0 && n_pins > 0 &&
	      n_forks > 0 && n_punch > 0 && n_trunc > 0);
	CHECK(n_thp_pte_seen > 0 && n_whole_out > 0 && n_part_unmapped > 0);
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
	RUN(test_shmem_thp_pageout_stress);
	return test_done();
}
