// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vma_lock_mt - the per-VMA lock protocol (seed 004) under fire.
 *
 * A one-slot "tree": readers find the current VMA under RCU and read-lock
 * it with vma_start_read(); while they hold it, its fields must not change.
 * A writer takes mmap_lock for write and either changes a VMA's fields in
 * place (after vma_start_write) or replaces it: detach, publish a new one,
 * free the old after a grace period. Readers that meet a detached VMA look
 * again; readers that meet a write-locked one fall back to mmap_lock.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"
#include "vma_lock.h"

static struct umm_mm *mm;
static struct vm_area_struct *slot;	/* published with release; mmap_lock */
static int stop;
static uint64_t n_read, n_fallback, n_detached, n_changes, n_replaced;

/* Fields kept consistent by the writer: end - start == 16 pages, pgoff == start >> 12. */
static void check_fields(struct vm_area_struct *v)
{
	uint64_t s = v->vm_start, e = v->vm_end, off = v->vm_pgoff;

	CHECK_EQ(e - s, 16 * PAGE_SIZE);
	CHECK_EQ(off, s >> PAGE_SHIFT);
}

static void *reader(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct vm_area_struct *v, *locked;

		rcu_read_lock();
		v = smp_load_acquire(&slot);
		locked = vma_start_read(mm, v);
		rcu_read_unlock();
		if (locked == VMA_DETACHED) {
			atomic_add_return(&n_detached, 1);
			continue;
		}
		if (!locked) {
			/* the fault path's fallback */
			mmap_read_lock(mm);
			check_fields(slot);
			mmap_read_unlock(mm);
			atomic_add_return(&n_fallback, 1);
			continue;
		}
		uint64_t s = v->vm_start;

		check_fields(v);
		for (int i = 0; i < 50; i++)
			cpu_relax();
		CHECK_EQ(v->vm_start, s);	/* stable while read-locked */
		check_fields(v);
		vma_end_read(v);
		atomic_add_return(&n_read, 1);
	}
	return NULL;
}

static struct vm_area_struct *new_vma(uint64_t start)
{
	struct vm_area_struct *v = calloc(1, sizeof(*v));

	BUG_ON(!v);
	vma_lock_init(v, mm);
	v->vm_start = start;
	v->vm_end = start + 16 * PAGE_SIZE;
	v->vm_pgoff = start >> PAGE_SHIFT;
	return v;
}

static void free_vma_rcu(struct rcu_head *h)
{
	struct vm_area_struct *v = container_of(h, struct vm_area_struct, rcu);

	v->vm_start = 0xdead000;	/* a reader that still saw it would fail */
	free(v);
}

static void *writer(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg + 11;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t start = (xrand(&seed) % 1000 + 1) * PAGE_SIZE;

		mmap_write_lock(mm);
		struct vm_area_struct *old = slot;

		vma_start_write(old);
		CHECK(vma_is_write_locked(old));
		if (xrand(&seed) & 1) {
			/* change in place: readers must not see it torn */
			old->vm_start = start;
			old->vm_pgoff = start >> PAGE_SHIFT;
			old->vm_end = start + 16 * PAGE_SIZE;
			atomic_add_return(&n_changes, 1);
		} else {
			struct vm_area_struct *v = new_vma(start);

			vma_mark_attached(v);
			smp_store_release(&slot, v);
			vma_mark_detached(old);
			CHECK_EQ(__atomic_load_n(&old->vm_refcnt, __ATOMIC_ACQUIRE), 0);
			call_rcu(&old->rcu, free_vma_rcu);
			atomic_add_return(&n_replaced, 1);
		}
		mmap_write_unlock(mm);
		CHECK(!vma_is_write_locked(slot));	/* unlock released it */
		usleep(xrand(&seed) % 50);
	}
	return NULL;
}

static void test_vma_lock_stress(void)
{
	pthread_t r[3], w;
	double end;

	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		return;
	slot = new_vma(PAGE_SIZE);
	vma_mark_attached(slot);
	for (int i = 0; i < 3; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	pthread_create(&w, NULL, writer, (void *)1);
	end = now_sec() + stress_seconds(5);
	while (now_sec() < end)
		usleep(20000);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(r[i], NULL);
	pthread_join(w, NULL);
	printf("  read-locked %llu, fell back %llu, met detached %llu, changed %llu, replaced %llu\n",
	       (unsigned long long)n_read, (unsigned long long)n_fallback,
	       (unsigned long long)n_detached, (unsigned long long)n_changes,
	       (unsigned long long)n_replaced);
	CHECK(n_read > 0 && n_changes > 0 && n_replaced > 0);
	free(slot);
	rcu_barrier();
	umm_mm_destroy(mm);
}

/* Single-threaded semantics of the lock states. */
static void test_vma_lock_states(void)
{
	struct vm_area_struct *v;

	mm = umm_mm_create(NULL);
	v = new_vma(PAGE_SIZE);
	rcu_read_lock();
	CHECK(vma_start_read(mm, v) == VMA_DETACHED);	/* never attached */
	rcu_read_unlock();
	vma_mark_attached(v);
	CHECK_EQ(v->vm_refcnt, 1);
	rcu_read_lock();
	CHECK(vma_start_read(mm, v) == v);
	CHECK(vma_start_read(mm, v) == v);		/* readers share */
	rcu_read_unlock();
	CHECK_EQ(v->vm_refcnt, 3);
	vma_end_read(v);
	vma_end_read(v);
	mmap_write_lock(mm);
	CHECK(!(mm->mm_lock_seq & 1));		/* odd once a VMA is locked */
	CHECK(!vma_is_write_locked(v));
	vma_start_write(v);
	CHECK(mm->mm_lock_seq & 1);
	CHECK(vma_is_write_locked(v));
	vma_start_write(v);				/* idempotent */
	rcu_read_lock();
	CHECK(vma_start_read(mm, v) == NULL);		/* writer has it */
	rcu_read_unlock();
	CHECK_EQ(v->vm_refcnt, 1);			/* failed reader let go */
	mmap_write_unlock(mm);
	CHECK(!(mm->mm_lock_seq & 1));
	CHECK(!vma_is_write_locked(v));			/* all unlocked at once */
	rcu_read_lock();
	CHECK(vma_start_read(mm, v) == v);
	rcu_read_unlock();
	vma_end_read(v);
	mmap_write_lock(mm);
	vma_start_write(v);
	vma_mark_detached(v);
	CHECK_EQ(v->vm_refcnt, 0);
	mmap_write_unlock(mm);
	rcu_read_lock();
	CHECK(vma_start_read(mm, v) == VMA_DETACHED);
	rcu_read_unlock();
	free(v);
	umm_mm_destroy(mm);
}

/*
 * vma_start_read_cached() skips mm_lock_seq for a VMA whose lock value is
 * older than one the caller saw there; a VMA locked after that value was
 * seen, or in the cycle it was seen in, is still found locked.
 */
static void test_lock_seq_seen(void)
{
	struct vm_area_struct *v, *w;
	uint64_t seen = 0, stale;

	mm = umm_mm_create(NULL);
	v = new_vma(PAGE_SIZE);
	w = new_vma(PAGE_SIZE);
	vma_mark_attached(v);
	vma_mark_attached(w);
	mmap_write_lock(mm);
	vma_start_write(w);		/* w's value: this cycle's */
	rcu_read_lock();
	CHECK(vma_start_read_cached(mm, w, &seen) == NULL);
	CHECK_EQ(seen, mm->mm_lock_seq);	/* read, and odd */
	CHECK(vma_start_read_cached(mm, w, &seen) == NULL);	/* seen in it */
	rcu_read_unlock();
	mmap_write_unlock(mm);
	stale = seen;
	rcu_read_lock();
	CHECK(vma_start_read_cached(mm, w, &seen) == w);	/* that cycle ended */
	CHECK_EQ(seen, mm->mm_lock_seq);
	vma_end_read(w);
	CHECK(vma_start_read_cached(mm, w, &seen) == w);	/* now without reading */
	vma_end_read(w);
	rcu_read_unlock();
	mmap_write_lock(mm);
	vma_start_write(v);		/* locked after @stale was seen */
	vma_start_write(w);
	rcu_read_lock();
	CHECK(vma_start_read_cached(mm, v, &stale) == NULL);
	stale = seen;
	CHECK(vma_start_read_cached(mm, w, &stale) == NULL);
	rcu_read_unlock();
	CHECK_EQ(v->vm_refcnt, 1);
	CHECK_EQ(w->vm_refcnt, 1);
	mmap_write_unlock(mm);
	rcu_read_lock();
	CHECK(vma_start_read_cached(mm, v, &seen) == v);
	vma_end_read(v);
	rcu_read_unlock();
	free(v);
	free(w);
	umm_mm_destroy(mm);
}

/*
 * An mmap into a gap write-locks no VMA: not a neighbour it cannot merge
 * with, not the new VMA (nothing is moved or cleared there afterwards), so
 * mm_lock_seq, which every fault reads, does not move. A merge locks the
 * neighbour it replaces and a munmap the VMA it removes, each for one
 * mmap_lock cycle (odd, then even again).
 */
static void test_lock_only_what_changes(void)
{
	struct umm_mm *m = umm_mm_create(NULL);
	struct vm_area_struct *v;
	uint64_t seq, vseq;
	int64_t a, b;

	a = umm_mmap(m, 0, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	CHECK(a > 0);
	v = find_vma(m, (uint64_t)a);
	seq = m->mm_lock_seq;
	vseq = v->vm_lock_seq;
	CHECK(!(seq & 1));
	/* right below it, other rights: no merge possible */
	b = umm_mmap(m, (uint64_t)a - 4 * PAGE_SIZE, 4 * PAGE_SIZE, PROT_READ,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, NULL, 0);
	CHECK_EQ(b, a - 4 * (int64_t)PAGE_SIZE);
	CHECK_EQ(m->mm_lock_seq, seq);
	CHECK_EQ(v->vm_lock_seq, vseq);
	CHECK(find_vma(m, (uint64_t)a) == v);
	CHECK_EQ(find_vma(m, (uint64_t)b)->vm_lock_seq, UINT64_MAX);
	/* right above it, the same rights: merged, v replaced */
	CHECK_EQ(umm_mmap(m, (uint64_t)a + 16 * PAGE_SIZE, PAGE_SIZE,
			  PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, NULL, 0),
		 a + 16 * (int64_t)PAGE_SIZE);
	CHECK_EQ(m->mm_lock_seq, seq + 2);
	CHECK(find_vma(m, (uint64_t)a) != v);
	CHECK_EQ(find_vma(m, (uint64_t)a)->vm_end, (uint64_t)a + 17 * PAGE_SIZE);
	CHECK_EQ(umm_munmap(m, (uint64_t)b, 4 * PAGE_SIZE), 0);
	CHECK_EQ(m->mm_lock_seq, seq + 4);
	umm_mm_destroy(m);
}

int main(void)
{
	RUN(test_vma_lock_states);
	RUN(test_lock_seq_seen);
	RUN(test_lock_only_what_changes);
	RUN(test_vma_lock_stress);
	return test_done();
}
