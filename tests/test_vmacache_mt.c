// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vmacache_mt - the per-thread vmacache of lock_vma_under_rcu (vma.c,
 * vmacache_find) while the VMAs it remembers are unmapped, replaced and
 * moved, and their memory comes back as VMAs of other mms at the same
 * addresses.
 *
 * NR_MMS mms share one layout of NR_SLOTS slots. Mapped, slot i of mm k
 * always has protection slot_prot(k, i): RW, read-only or none, rotating
 * with k, so that at any address each mm has a different one and a VMA
 * of another mm taken for this mm's gives a different answer to a read
 * fault or to a write fault. Neighbours differ too, and do not merge.
 *
 * One churn thread per mm remaps slots (a fresh VMA and value), unmaps
 * them and maps them back, mremaps one onto another of the same
 * protection, mprotects one away and back, and now and then destroys its
 * mm and makes another (often at the same address: the fault path's state
 * is per thread, keyed by mm and mm_id). Every VMA it retires goes through
 * the tree's batches and a grace period into the global pool, and comes
 * back as a VMA of whichever mm maps next.
 *
 * Fault threads fault in bursts in one slot of one mm (the first fault
 * leaves the VMA in the thread's cache, the others find it there), then
 * stay away from that mm for a while, so that the cached VMA is often
 * retired and its memory already another mm's VMA when they come back.
 * The answer is known: each slot has a test-side rwlock, held for write
 * by the churn thread while it changes the slot and for read by a fault
 * thread around its accesses. Checked: a read or write fault succeeds
 * exactly when the slot's protection allows it (never where the mm has
 * nothing mapped), and a readable slot reads back the value last written
 * there. Under ASan a cached VMA whose memory was freed is reported.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"

#define NR_MMS		3	/* one protection each at every address */
#define NR_SLOTS	9	/* few: a recycled VMA often covers the next fault */
#define SLOT_PAGES	2
#define SLOT_SIZE	(SLOT_PAGES * PAGE_SIZE)
#define BASE		0x10000000UL
#define NR_FAULTERS	3
#define BURST		4	/* faults at most in one slot in a row */
#define AWAY_US		800	/* at most, away from an mm after a burst */
#define RECREATE_MS	20	/* between an mm's rebirths */
#define NAP_EVERY	16	/* churn ops between naps */
#define RW		(PROT_READ | PROT_WRITE)

struct slot {
	pthread_rwlock_t lock;	/* churn: write; faults: read */
	bool mapped;		/* with slot_prot() */
	uint64_t val;		/* at the slot's start while mapped */
};

struct tmm {
	struct umm_mm *mm;	/* changed with every slot lock held for write */
	struct slot slot[NR_SLOTS];
};

static struct tmm mms[NR_MMS];
static bool stop;
static uint64_t n_faults, n_churn, n_recreated, n_moved, n_same_addr_mm;

static uint64_t slot_addr(unsigned int s)
{
	return BASE + (uint64_t)s * SLOT_SIZE;
}

static int slot_prot(const struct tmm *m, unsigned int s)
{
	static const int prots[NR_MMS] = { RW, PROT_READ, PROT_NONE };

	return prots[(s + (m - mms)) % NR_MMS];
}

/*
 * Map slot @s of @m afresh with a new value: written while the slot is
 * RW, then its protection set (one more VMA retired and made; the RW one
 * may have merged with an RW neighbour, which is then split off again).
 */
static void slot_map(struct tmm *m, unsigned int s, uint64_t val)
{
	uint64_t a = slot_addr(s);

	CHECK_EQ(umm_mmap(m->mm, a, SLOT_SIZE, RW,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), a);
	CHECK_EQ(umm_write(m->mm, a, &val, sizeof(val)), sizeof(val));
	if (slot_prot(m, s) != RW)
		CHECK_EQ(umm_mprotect(m->mm, a, SLOT_SIZE, slot_prot(m, s)), 0);
	m->slot[s].mapped = true;
	m->slot[s].val = val;
}

/*
 * Destroy @m's mm and make another, every slot mapped again: a whole
 * layout of VMAs made at once from the pool's memory.
 */
static void recreate(struct tmm *m, uint64_t val)
{
	struct umm_mm *old = m->mm;

	for (unsigned int s = 0; s < NR_SLOTS; s++)
		pthread_rwlock_wrlock(&m->slot[s].lock);
	umm_mm_destroy(m->mm);
	m->mm = umm_mm_create(NULL);
	BUG_ON(!m->mm);
	/* the fault threads' state for the old one must not count for it */
	if (m->mm == old)
		atomic_add_return(&n_same_addr_mm, 1);
	for (unsigned int s = 0; s < NR_SLOTS; s++)
		slot_map(m, s, val + s);
	for (unsigned int s = NR_SLOTS; s-- > 0;)
		pthread_rwlock_unlock(&m->slot[s].lock);
	atomic_add_return(&n_recreated, 1);
}

/* Move slot @s onto slot @t (same protection), both held for write. */
static void slot_move(struct tmm *m, unsigned int s, unsigned int t)
{
	unsigned int lo = s < t ? s : t, hi = s < t ? t : s;

	pthread_rwlock_wrlock(&m->slot[lo].lock);
	pthread_rwlock_wrlock(&m->slot[hi].lock);
	if (m->slot[s].mapped) {
		CHECK_EQ(umm_mremap(m->mm, slot_addr(s), SLOT_SIZE, SLOT_SIZE,
				    MREMAP_MAYMOVE | MREMAP_FIXED, slot_addr(t)),
			 slot_addr(t));
		m->slot[t].mapped = true;
		m->slot[t].val = m->slot[s].val;	/* the pages moved */
		m->slot[s].mapped = false;
		atomic_add_return(&n_moved, 1);
	}
	pthread_rwlock_unlock(&m->slot[hi].lock);
	pthread_rwlock_unlock(&m->slot[lo].lock);
}

static void *churn(void *arg)
{
	struct tmm *m = &mms[(uintptr_t)arg];
	uint64_t seed = (uintptr_t)arg * 7919 + 17, ops = 0;
	double remake = now_sec() + RECREATE_MS * 1e-3;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int s = xrand(&seed) % NR_SLOTS;
		uint64_t val = (uintptr_t)arg << 56 | ++ops << 8;
		struct slot *ss = &m->slot[s];

		atomic_add_return(&n_churn, 1);
		if (ops % NAP_EVERY == 0) {
			/*
			 * On few CPUs, churn threads that never sleep leave the
			 * fault threads (and the reclaimer, whose grace periods
			 * send memory back) a sliver of time: few faults, and
			 * few of them come back to a cached VMA that was
			 * recycled meanwhile. A nap is ~50 us.
			 */
			struct timespec ts = { 0, 1000 };

			nanosleep(&ts, NULL);
		}
		if (now_sec() > remake) {
			recreate(m, val);
			remake = now_sec() + RECREATE_MS * 1e-3;
			continue;
		}
		if (xrand(&seed) % 4 == 0) {
			/* onto another slot of the same protection */
			unsigned int t = (s + NR_MMS * (1 + xrand(&seed) %
					  (NR_SLOTS / NR_MMS - 1))) % NR_SLOTS;

			slot_move(m, s, t);
			continue;
		}
		pthread_rwlock_wrlock(&ss->lock);
		switch (xrand(&seed) % 3) {
		case 0:
			slot_map(m, s, val);
			break;
		case 1:
			if (ss->mapped) {
				CHECK_EQ(umm_munmap(m->mm, slot_addr(s), SLOT_SIZE), 0);
				ss->mapped = false;
			} else {
				slot_map(m, s, val);
			}
			break;
		default:
			/* away and back: the same rights, new VMAs, the same pages */
			if (!ss->mapped)
				break;
			CHECK_EQ(umm_mprotect(m->mm, slot_addr(s), SLOT_SIZE,
					      slot_prot(m, s) == RW ? PROT_READ : RW), 0);
			CHECK_EQ(umm_mprotect(m->mm, slot_addr(s), SLOT_SIZE,
					      slot_prot(m, s)), 0);
			break;
		}
		pthread_rwlock_unlock(&ss->lock);
	}
	return NULL;
}

/* Check accesses to slot @s of @m against its state; its lock is held. */
static void check_slot(struct tmm *m, unsigned int s, uint64_t *seed)
{
	struct slot *ss = &m->slot[s];
	uint64_t a = slot_addr(s) + (xrand(seed) % SLOT_PAGES) * PAGE_SIZE, got = 0;
	bool rd = ss->mapped && slot_prot(m, s) != PROT_NONE;
	bool wr = ss->mapped && slot_prot(m, s) == RW;
	int64_t r;

	r = umm_fault(m->mm, a, UMM_READ);
	CHECK_EQ(r, rd ? 0 : -EFAULT);
	r = umm_fault(m->mm, a, UMM_WRITE);
	CHECK_EQ(r, wr ? 0 : -EFAULT);
	r = umm_read(m->mm, slot_addr(s), &got, sizeof(got));
	CHECK_EQ(r, rd ? (int64_t)sizeof(got) : -EFAULT);
	if (rd)
		CHECK_EQ(got, ss->val);
	atomic_add_return(&n_faults, 1);
}

/*
 * A burst of faults in one slot, then away from that mm for up to
 * AWAY_US (long enough for a retired VMA's batch to pass its grace period
 * and its memory to be taken again), while bursts go to the other mms.
 */
static void *faulter(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 104729 + 3;
	unsigned int last[NR_MMS] = { 0 };
	double away[NR_MMS] = { 0 };

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		unsigned int m = xrand(&seed) % NR_MMS, s, n;

		if (now_sec() < away[m]) {
			struct timespec ts = { 0, 20 * 1000 };

			nanosleep(&ts, NULL);
			continue;
		}
		/* the slot of the last burst here (its VMA is cached), or another */
		if (xrand(&seed) % 2)
			last[m] = xrand(&seed) % NR_SLOTS;
		s = last[m];
		pthread_rwlock_rdlock(&mms[m].slot[s].lock);
		for (n = xrand(&seed) % BURST + 1; n > 0; n--)
			check_slot(&mms[m], s, &seed);
		pthread_rwlock_unlock(&mms[m].slot[s].lock);
		away[m] = now_sec() + (xrand(&seed) % AWAY_US) * 1e-6;
	}
	return NULL;
}

static void test_vmacache_stress(void)
{
	void *(*const fns[])(void *) = { churn, churn, churn, faulter, faulter, faulter };
	void *const args[] = { (void *)0, (void *)1, (void *)2,
			       (void *)1, (void *)2, (void *)3 };
	struct page_alloc_stats before, after;

	_Static_assert(ARRAY_SIZE(fns) == NR_MMS + NR_FAULTERS, "a churn thread per mm");
	_Static_assert(NR_SLOTS % NR_MMS == 0 && NR_SLOTS > NR_MMS, "slots to move to");
	rcu_barrier();
	page_alloc_get_stats(&before);
	for (int i = 0; i < NR_MMS; i++) {
		mms[i].mm = umm_mm_create(NULL);
		BUG_ON(!mms[i].mm);
		for (int s = 0; s < NR_SLOTS; s++) {
			pthread_rwlock_init(&mms[i].slot[s].lock, NULL);
			slot_map(&mms[i], s, s);
		}
	}
	stress_run(fns, args, ARRAY_SIZE(fns), 5, &stop);
	printf("  faults %llu, churn ops %llu, moves %llu, mms remade %llu "
	       "(%llu at the same address)\n",
	       (unsigned long long)n_faults, (unsigned long long)n_churn,
	       (unsigned long long)n_moved, (unsigned long long)n_recreated,
	       (unsigned long long)n_same_addr_mm);
	/* a run that did not do what it is for proves nothing */
	CHECK(n_faults > 0 && n_moved > 0 && n_recreated > 0);
	for (int i = 0; i < NR_MMS; i++) {
		umm_mm_destroy(mms[i].mm);
		for (int s = 0; s < NR_SLOTS; s++)
			pthread_rwlock_destroy(&mms[i].slot[s].lock);
	}
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

int main(void)
{
	RUN(test_vmacache_stress);
	return test_done();
}
