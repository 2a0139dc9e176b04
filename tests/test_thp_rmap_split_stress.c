// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_thp_rmap_split_stress - anonymous THPs mapped through two PTE
 * tables (half of each moved to another PMD block) and shared with fork
 * children are split through rmap (split_anon_folio: every table that
 * maps the folio, in every mm, locked at once) by MADV_COLD, MADV_FREE,
 * MADV_PAGEOUT and the out-of-memory deferred split, while other threads
 * write and read their pages through the software TLB, pin them and fork.
 * No write may be lost, no page may change but by its writer.
 *
 * One mm with a frame limit, NBLOCKS folios. Page j of block i lies at
 * A_i + j pages for j < 256 and at B_i + (j - 256) pages after (B_i in
 * another 2 MiB block). Each page has one 8-byte slot per writer (and one
 * for the pinner), whose value only its owner changes; shadows hold the
 * values. Each block has a rwlock: read for the threads that use it,
 * write to rebuild it or to fork with it quiet.
 *
 *  writers (3)  read a slot (its shadow), write the next value, read it
 *               back, in a random page of a random block; -ENOMEM (the
 *               hog holds the frames) is tried again.
 *  splitter     MADV_COLD, MADV_FREE or MADV_PAGEOUT of a piece of one
 *               half of a block (each splits the folio through rmap; not
 *               PAGEOUT after FREE, which could drop a page not written
 *               since), and now and then rebuilds a block (write lock): a
 *               new THP, odd pages written (even ones stay zero, for the
 *               split's zero-page remap), its second half moved to B_i,
 *               and sometimes a page of each half zapped: partly mapped,
 *               queued for the deferred split.
 *  pinner       pins a page for write, checks and bumps its slot through
 *               the host pointer, reads it with umm_read, unpins dirty.
 *  forker       forks with one block's lock held for write, checks the
 *               child's copy of that block, zaps a few pages of every
 *               block in the child (folios shared and partly mapped: the
 *               deferred split runs through both mms), advises the
 *               child's copy, keeps two children alive at a time.
 *  hog          MADV_POPULATE_WRITE of small pages up to the limit (the
 *               faults run the deferred split), then gives them back; its
 *               range is MADV_DONTFORK (a child would keep its frames,
 *               charged to the parent, as the old folios it keeps are).
 *
 * At the end every slot of every block reads its shadow.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "uapi_mman.h"

#define P		4096ull
#define M		(1ull << 20)
#define NBLOCKS		4
#define NPAGES		512
#define NWRITERS	3
#define PIN_SLOT	NWRITERS
#define NSLOTS		(NWRITERS + 1)
#define SLOT_OFF(s)	((uint64_t)(s) * 72 + 8)	/* spread over the page */
#define A_BASE		0x40000000ull
#define B_BASE		0x60000000ull
#define HOG_BASE	0x80000000ull
#define HOG_LEN		(32 * M)
#define LIMIT		(40 * M)	/* blocks, the old folios two children keep, the hog */
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

static struct umm_mm *mm;
static bool stop;
static pthread_rwlock_t block_lock[NBLOCKS];
/* the slot's value: its owner's; a rebuild's under the block's write lock */
static uint64_t shadow[NBLOCKS][NPAGES][NSLOTS];
static uint64_t next_value[NSLOTS];	/* owner only */

static uint64_t a_addr(int i)
{
	return A_BASE + (uint64_t)i * 4 * M;
}

static uint64_t b_addr(int i)
{
	return B_BASE + (uint64_t)i * 4 * M + 2 * M;	/* another PMD block */
}

static uint64_t page_addr(int i, unsigned j)
{
	return j < NPAGES / 2 ? a_addr(i) + j * P : b_addr(i) + (j - NPAGES / 2) * P;
}

static uint64_t slot_addr(int i, unsigned j, int s)
{
	return page_addr(i, j) + SLOT_OFF(s);
}

/*
 * umm_read/umm_write of one slot, tried again while out of memory (the
 * hog gives its frames back), until the run stops unless @must.
 */
static int64_t __slot_io(struct umm_mm *m, uint64_t addr, uint64_t *v, bool write, bool must)
{
	for (;;) {
		int64_t r = write ? umm_write(m, addr, v, sizeof(*v)) :
				    umm_read(m, addr, v, sizeof(*v));

		if (r != -ENOMEM || (!must && __atomic_load_n(&stop, __ATOMIC_RELAXED)))
			return r;
		sched_yield();
	}
}

static int64_t slot_io(struct umm_mm *m, uint64_t addr, uint64_t *v, bool write)
{
	return __slot_io(m, addr, v, write, false);
}

static uint64_t value_of(int s)
{
	return ((uint64_t)(s + 1) << 48) | ++next_value[s];
}

/*
 * Block @i afresh: a THP (one write fault), odd pages' slots written,
 * the second half moved to B_i; with @holes a page of each half zapped.
 * Locking: the block's write lock held (or no other thread yet).
 */
static void rebuild(int i, bool holes)
{
	uint64_t a = a_addr(i), one = 1;
	int64_t r;

	umm_munmap(mm, a, 2 * M);
	umm_munmap(mm, b_addr(i), M);
	CHECK_EQ(umm_mmap(mm, a, 2 * M, RW, ANON_FIXED, NULL, 0), (int64_t)a);
	CHECK_EQ(umm_madvise(mm, a, 2 * M, MADV_HUGEPAGE), 0);
	/* the first fault makes the THP; the byte goes back to zero below */
	CHECK_EQ(__slot_io(mm, a, &one, true, true), 8);
	one = 0;
	CHECK_EQ(__slot_io(mm, a, &one, true, true), 8);
	for (unsigned j = 0; j < NPAGES; j++) {
		for (int s = 0; s < NSLOTS; s++) {
			uint64_t v = (j & 1) ? ((uint64_t)(i + 1) << 56 | j << 8 | s) : 0;

			shadow[i][j][s] = v;
			if (v)
				CHECK_EQ(__slot_io(mm, a + j * P + SLOT_OFF(s), &v, true, true), 8);
		}
	}
	/* its page table may have to wait for the hog's frames */
	while ((r = umm_mremap(mm, a + M, M, M, MREMAP_MAYMOVE | MREMAP_FIXED,
			       b_addr(i))) == -ENOMEM)
		sched_yield();
	CHECK_EQ(r, (int64_t)b_addr(i));
	if (!holes)
		return;
	for (unsigned j = 3; j < NPAGES; j += NPAGES / 2) {
		CHECK_EQ(umm_madvise(mm, page_addr(i, j), P, MADV_DONTNEED), 0);
		for (int s = 0; s < NSLOTS; s++)
			shadow[i][j][s] = 0;
	}
}

static void *writer(void *arg)
{
	int s = (int)(uintptr_t)arg - 1;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(s + 1);

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int i = (int)(xrand(&seed) % NBLOCKS);
		unsigned j = (unsigned)(xrand(&seed) % NPAGES);
		uint64_t addr = slot_addr(i, j, s), v = 0, nv;

		pthread_rwlock_rdlock(&block_lock[i]);
		CHECK_EQ(slot_io(mm, addr, &v, false), 8);
		CHECK_EQ(v, shadow[i][j][s]);
		nv = value_of(s);
		if (slot_io(mm, addr, &nv, true) == 8) {
			shadow[i][j][s] = nv;
			CHECK_EQ(slot_io(mm, addr, &v, false), 8);
			CHECK_EQ(v, nv);
		}
		pthread_rwlock_unlock(&block_lock[i]);
	}
	return NULL;
}

static void *pinner(void *arg)
{
	uint64_t seed = 0x2545f4914f6cdd1dull;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int i = (int)(xrand(&seed) % NBLOCKS);
		unsigned j = (unsigned)(xrand(&seed) % NPAGES);
		void *host;
		uint64_t *slot, v = 0, nv;

		pthread_rwlock_rdlock(&block_lock[i]);
		if (umm_pin(mm, page_addr(i, j), 1, UMM_READ | UMM_WRITE, &host)) {
			pthread_rwlock_unlock(&block_lock[i]);
			sched_yield();
			continue;
		}
		slot = (uint64_t *)((char *)host + SLOT_OFF(PIN_SLOT));
		CHECK_EQ(*slot, shadow[i][j][PIN_SLOT]);
		nv = value_of(PIN_SLOT);
		*slot = nv;
		shadow[i][j][PIN_SLOT] = nv;
		CHECK_EQ(slot_io(mm, slot_addr(i, j, PIN_SLOT), &v, false), 8);
		CHECK_EQ(v, nv);
		umm_unpin_dirty(mm, &host, 1, 1);
		pthread_rwlock_unlock(&block_lock[i]);
	}
	return NULL;
}

static void *splitter(void *arg)
{
	static const int advice[] = { MADV_COLD, MADV_FREE, MADV_PAGEOUT };
	bool freed[NBLOCKS] = { false };
	uint64_t seed = 0xda942042e4dd58b5ull;
	unsigned n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int i = (int)(xrand(&seed) % NBLOCKS);
		int adv = advice[n % 3];
		uint64_t half = xrand(&seed) & 1 ? a_addr(i) : b_addr(i);
		uint64_t first = xrand(&seed) % 256, len = 1 + xrand(&seed) % 64;

		if (++n % 16 == 0) {
			pthread_rwlock_wrlock(&block_lock[i]);
			rebuild(i, xrand(&seed) & 1);
			freed[i] = false;
			pthread_rwlock_unlock(&block_lock[i]);
			continue;
		}
		if (first + len > 256)
			len = 256 - first;
		if (adv == MADV_PAGEOUT && freed[i])
			adv = MADV_COLD;
		freed[i] |= adv == MADV_FREE;
		pthread_rwlock_rdlock(&block_lock[i]);
		CHECK_EQ(umm_madvise(mm, half + first * P, len * P, adv), 0);
		pthread_rwlock_unlock(&block_lock[i]);
	}
	return NULL;
}

/* The child's copy of block @i is the parent's. Locking: its write lock. */
static bool child_block_same(struct umm_mm *child, int i)
{
	for (unsigned j = 0; j < NPAGES; j++)
		for (int s = 0; s < NSLOTS; s++) {
			uint64_t v = 1;

			if (__slot_io(child, slot_addr(i, j, s), &v, false, true) != 8 ||
			    v != shadow[i][j][s])
				return false;
		}
	return true;
}

/*
 * A notifier registered on each child right after its fork, while the
 * parent's threads split folios the child shares (and tell the child's
 * notifiers): every end it sees must follow a start it saw.
 */
struct kid_notifier {
	long depth;		/* atomic: starts seen less ends */
	bool unbalanced;	/* an end with no start before it */
};

static void kid_start(void *priv, struct umm_mm *m, uint64_t start, uint64_t end)
{
	(void)m, (void)start, (void)end;
	__atomic_fetch_add(&((struct kid_notifier *)priv)->depth, 1, __ATOMIC_RELAXED);
}

static void kid_end(void *priv, struct umm_mm *m, uint64_t start, uint64_t end)
{
	struct kid_notifier *kn = priv;

	(void)m, (void)start, (void)end;
	if (__atomic_sub_fetch(&kn->depth, 1, __ATOMIC_RELAXED) < 0)
		__atomic_store_n(&kn->unbalanced, true, __ATOMIC_RELAXED);
}

static const struct umm_notifier_ops kid_ops = {
	.invalidate_range_start = kid_start,
	.invalidate_range_end = kid_end,
};

static struct kid_notifier kid_notifiers[2];

static void kid_destroy(struct umm_mm *kid, struct kid_notifier *kn)
{
	umm_mm_destroy(kid);
	CHECK(!__atomic_load_n(&kn->unbalanced, __ATOMIC_RELAXED));
}

static void *forker(void *arg)
{
	struct umm_mm *kids[2] = { NULL, NULL };
	uint64_t seed = 0x8f3b1a5c7d2e6f01ull;
	unsigned n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int i = (int)(xrand(&seed) % NBLOCKS);
		struct umm_mm *child = NULL;
		int err;

		pthread_rwlock_wrlock(&block_lock[i]);
		err = umm_fork(mm, &child);
		if (!err)
			CHECK(child_block_same(child, i));
		pthread_rwlock_unlock(&block_lock[i]);
		if (err) {
			CHECK_EQ(err, -ENOMEM);
			sched_yield();
			continue;
		}
		/* pages zapped in the child too: folios shared and partly mapped */
		for (int b = 0; b < NBLOCKS; b++) {
			unsigned j = (unsigned)(xrand(&seed) % NPAGES);

			umm_madvise(child, page_addr(b, j), P, MADV_DONTNEED);
			umm_madvise(child, page_addr(b, NPAGES / 2 + 7), 2 * P, MADV_COLD);
		}
		if (kids[n % 2])
			kid_destroy(kids[n % 2], &kid_notifiers[n % 2]);
		kid_notifiers[n % 2] = (struct kid_notifier){ 0 };
		CHECK_EQ(umm_notifier_register(child, &kid_ops, &kid_notifiers[n % 2]), 0);
		kids[n++ % 2] = child;
	}
	for (int k = 0; k < 2; k++)
		if (kids[k])
			kid_destroy(kids[k], &kid_notifiers[k]);
	return NULL;
}

static void *hog(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int r = umm_madvise(mm, HOG_BASE, HOG_LEN, MADV_POPULATE_WRITE);

		CHECK(r == 0 || r == -ENOMEM);
		sched_yield();
		CHECK_EQ(umm_madvise(mm, HOG_BASE, HOG_LEN, MADV_DONTNEED), 0);
		sched_yield();
	}
	return NULL;
}

static void test_rmap_split_stress(void)
{
	void *(*const fns[])(void *) = { writer, writer, writer, pinner, splitter,
					 forker, hog };
	struct umm_opts o = { .size = sizeof(o), .phys_limit = LIMIT };
	bool mismatch = false;

	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, HOG_BASE, HOG_LEN, RW, ANON_FIXED, NULL, 0), (int64_t)HOG_BASE);
	CHECK_EQ(umm_madvise(mm, HOG_BASE, HOG_LEN, MADV_NOHUGEPAGE), 0);
	/* a child would keep the hog's frames, charged to this mm */
	CHECK_EQ(umm_madvise(mm, HOG_BASE, HOG_LEN, MADV_DONTFORK), 0);
	for (int i = 0; i < NBLOCKS; i++) {
		pthread_rwlock_init(&block_lock[i], NULL);
		rebuild(i, i & 1);
	}
	stress_run(fns, NULL, sizeof(fns) / sizeof(fns[0]), 3.0, &stop);
	for (int i = 0; i < NBLOCKS && !mismatch; i++)
		for (unsigned j = 0; j < NPAGES && !mismatch; j++)
			for (int s = 0; s < NSLOTS; s++) {
				uint64_t v = 1;

				if (__slot_io(mm, slot_addr(i, j, s), &v, false, true) != 8 ||
				    v != shadow[i][j][s]) {
					fprintf(stderr, "block %d page %u slot %d: %llx, want %llx\n",
						i, j, s, (unsigned long long)v,
						(unsigned long long)shadow[i][j][s]);
					mismatch = true;
					break;
				}
			}
	CHECK(!mismatch);
	printf("     thp_split_page %lld, thp_deferred_split_page %lld, thp_fault_alloc %lld\n",
	       umm_vmstat_value(mm, "thp_split_page"),
	       umm_vmstat_value(mm, "thp_deferred_split_page"),
	       umm_vmstat_value(mm, "thp_fault_alloc"));
	CHECK(umm_vmstat_value(mm, "thp_split_page") > 0);
	umm_mm_destroy(mm);
}

#define NREG	256

static struct umm_mm *reg_mm;
static struct kid_notifier reg_notifiers[NREG];
static bool reg_stop;

/* Advice on a shared THP in the parent: a split through rmap, refused. */
static void *advise_shared(void *arg)
{
	uint64_t n = 0;

	(void)arg;
	while (!__atomic_load_n(&reg_stop, __ATOMIC_RELAXED))
		CHECK_EQ(umm_madvise(mm, a_addr(0) + (n++ % 64) * P, 4 * P, MADV_COLD), 0);
	return NULL;
}

/*
 * Notifiers registered on a fork child while the parent's advice on a THP
 * they share tells the child's notifiers about the split it tries (then
 * refuses: another mm maps it): the registration must not fall between a
 * start and its end, as mm_take_all_locks keeps out rmap walkers by
 * taking the anon_vma locks, as the kernel's does.
 */
static void test_notifier_vs_rmap_split(void)
{
	struct umm_opts o = { .size = sizeof(o) };
	pthread_t t;

	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	pthread_rwlock_init(&block_lock[0], NULL);
	rebuild(0, false);
	CHECK_EQ(umm_fork(mm, &reg_mm), 0);
	if (!reg_mm) {
		umm_mm_destroy(mm);
		return;
	}
	CHECK(!pthread_create(&t, NULL, advise_shared, NULL));
	for (int k = 0; k < NREG; k++) {
		CHECK_EQ(umm_notifier_register(reg_mm, &kid_ops, &reg_notifiers[k]), 0);
		sched_yield();
	}
	__atomic_store_n(&reg_stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	for (int k = 0; k < NREG; k++) {
		CHECK(!__atomic_load_n(&reg_notifiers[k].unbalanced, __ATOMIC_RELAXED));
		CHECK_EQ(__atomic_load_n(&reg_notifiers[k].depth, __ATOMIC_RELAXED), 0);
	}
	umm_mm_destroy(reg_mm);
	umm_mm_destroy(mm);
}

int main(void)
{
	RUN(test_notifier_vs_rmap_split);
	RUN(test_rmap_split_stress);
	return test_done();
}
