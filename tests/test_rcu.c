// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_rcu - the RCU guarantees the rest of umm builds on, checked on
 * whichever implementation this build uses (liburcu-bp, or the TSan
 * stand-in): rcu_barrier() waits for every queued callback, a grace
 * period waits for every reader that was inside rcu_read_lock() (nested
 * ones until the outermost unlock), and an object retired with call_rcu()
 * is never seen freed by a reader that found it.
 *
 * Nothing here asserts a time: readers hold their section for a while only
 * to give a broken grace period the chance to end early, and what is
 * checked is the order of events, through flags.
 */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include "test.h"
#include "rcu.h"

/* --- every call_rcu callback has run when rcu_barrier() returns --- */

#define CB_PER_THREAD	2000
#define CB_THREADS	4

struct cb_obj {
	struct rcu_head rcu;
	unsigned int id;
};

static int cb_seen[CB_THREADS * CB_PER_THREAD];	/* atomic */
static uint64_t cb_ran;				/* atomic */

static void count_cb(struct rcu_head *head)
{
	struct cb_obj *o = container_of(head, struct cb_obj, rcu);

	__atomic_fetch_add(&cb_seen[o->id], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&cb_ran, 1, __ATOMIC_RELAXED);
	free(o);
}

static void *queue_callbacks(void *arg)
{
	unsigned int base = (unsigned int)(uintptr_t)arg * CB_PER_THREAD;

	for (unsigned int i = 0; i < CB_PER_THREAD; i++) {
		struct cb_obj *o = malloc(sizeof(*o));

		if (!o)
			abort();
		o->id = base + i;
		call_rcu(&o->rcu, count_cb);
	}
	return NULL;
}

static void test_barrier_runs_all(void)
{
	pthread_t t[CB_THREADS];
	unsigned int wrong = 0;

	for (int round = 0; round < 3; round++) {
		__atomic_store_n(&cb_ran, 0, __ATOMIC_RELAXED);
		memset(cb_seen, 0, sizeof(cb_seen));
		for (uintptr_t i = 0; i < CB_THREADS; i++)
			CHECK_EQ(pthread_create(&t[i], NULL, queue_callbacks, (void *)i), 0);
		for (int i = 0; i < CB_THREADS; i++)
			pthread_join(t[i], NULL);
		rcu_barrier();
		CHECK_EQ(__atomic_load_n(&cb_ran, __ATOMIC_RELAXED),
			 CB_THREADS * CB_PER_THREAD);
		for (unsigned int i = 0; i < ARRAY_SIZE(cb_seen); i++)
			if (__atomic_load_n(&cb_seen[i], __ATOMIC_RELAXED) != 1)
				wrong++;
		CHECK_EQ(wrong, 0);	/* each exactly once, with its own head */
	}
	/* From this thread too, and with nothing queued. */
	rcu_barrier();
	queue_callbacks((void *)0);
	rcu_barrier();
	CHECK_EQ(__atomic_load_n(&cb_ran, __ATOMIC_RELAXED),
		 CB_THREADS * CB_PER_THREAD + CB_PER_THREAD);
}

/* --- a grace period waits for readers already inside --- */

struct reader_ctl {
	int inside;		/* reader has taken the lock; atomic */
	int leaving;		/* reader is about to unlock (outermost); atomic */
	int inner_done;		/* nested: the inner unlock happened; atomic */
	int held_ok;		/* rcu_read_lock_held() was right throughout */
	bool nested;
};

static void *slow_reader(void *arg)
{
	struct reader_ctl *c = arg;
	int ok = !rcu_read_lock_held();

	rcu_read_lock();
	if (c->nested)
		rcu_read_lock();
	ok &= !!rcu_read_lock_held();
	__atomic_store_n(&c->inside, 1, __ATOMIC_RELEASE);
	usleep(50000);
	if (c->nested) {
		/* The inner unlock must not end the section. */
		rcu_read_unlock();
		ok &= !!rcu_read_lock_held();
		__atomic_store_n(&c->inner_done, 1, __ATOMIC_RELEASE);
		usleep(30000);
	}
	__atomic_store_n(&c->leaving, 1, __ATOMIC_RELEASE);
	rcu_read_unlock();
	ok &= !rcu_read_lock_held();
	c->held_ok = ok;
	return NULL;
}

static void test_synchronize_waits(void)
{
	for (int round = 0; round < 6; round++) {
		struct reader_ctl c = { .nested = round & 1 };
		pthread_t t;

		CHECK_EQ(pthread_create(&t, NULL, slow_reader, &c), 0);
		while (!__atomic_load_n(&c.inside, __ATOMIC_ACQUIRE))
			sched_yield();
		synchronize_rcu();
		/* Returned: the reader must have been on its way out. */
		CHECK_EQ(__atomic_load_n(&c.leaving, __ATOMIC_ACQUIRE), 1);
		if (c.nested)
			CHECK_EQ(__atomic_load_n(&c.inner_done, __ATOMIC_ACQUIRE), 1);
		pthread_join(t, NULL);
		CHECK(c.held_ok);
	}
}

/* --- a callback queued while a reader is inside runs only after it --- */

static int cb_flag;	/* atomic */

static void set_flag_cb(struct rcu_head *head)
{
	(void)head;
	__atomic_store_n(&cb_flag, 1, __ATOMIC_RELEASE);
}

static void test_call_rcu_waits(void)
{
	static struct rcu_head head;

	for (int round = 0; round < 4; round++) {
		struct reader_ctl c = { .nested = round & 1 };
		pthread_t t;

		__atomic_store_n(&cb_flag, 0, __ATOMIC_RELAXED);
		CHECK_EQ(pthread_create(&t, NULL, slow_reader, &c), 0);
		while (!__atomic_load_n(&c.inside, __ATOMIC_ACQUIRE))
			sched_yield();
		call_rcu(&head, set_flag_cb);
		/*
		 * Until the reader leaves, the callback must not have run.
		 * The flag is read before "leaving": a callback that ran after
		 * a legitimate unlock then also shows "leaving" set.
		 */
		for (;;) {
			int ran = __atomic_load_n(&cb_flag, __ATOMIC_ACQUIRE);

			if (__atomic_load_n(&c.leaving, __ATOMIC_ACQUIRE))
				break;
			if (ran) {
				CHECK(!ran);
				break;
			}
			sched_yield();
		}
		rcu_barrier();
		CHECK_EQ(__atomic_load_n(&cb_flag, __ATOMIC_ACQUIRE), 1);
		pthread_join(t, NULL);
		CHECK(c.held_ok);
	}
}

/* --- nesting, and rcu_read_lock_held() --- */

static void *nesting_body(void *arg)
{
	int *ok = arg;

	*ok = 1;
	*ok &= !rcu_read_lock_held();
	rcu_read_lock();
	*ok &= !!rcu_read_lock_held();
	rcu_read_lock();
	rcu_read_lock();
	*ok &= !!rcu_read_lock_held();
	rcu_read_unlock();
	*ok &= !!rcu_read_lock_held();
	rcu_read_unlock();
	*ok &= !!rcu_read_lock_held();
	rcu_read_unlock();
	*ok &= !rcu_read_lock_held();
	/* And again, after the thread has been through once. */
	rcu_read_lock();
	*ok &= !!rcu_read_lock_held();
	rcu_read_unlock();
	*ok &= !rcu_read_lock_held();
	return NULL;
}

static void test_nesting(void)
{
	int ok_main = 0, ok_thread = 0;
	pthread_t t;

	nesting_body(&ok_main);
	CHECK(ok_main);
	/* A thread's first read lock is also its registration (urcu-bp). */
	CHECK_EQ(pthread_create(&t, NULL, nesting_body, &ok_thread), 0);
	pthread_join(t, NULL);
	CHECK(ok_thread);
	/* A grace period with no reader anywhere returns. */
	synchronize_rcu();
	CHECK(!rcu_read_lock_held());
}

/* --- publish and retire under readers --- */

#define OBJ_MAGIC	0x600dc0de600dc0deULL
#define OBJ_POISON	0xdeadbeefdeadbeefULL
#define NR_READERS	3

struct obj {
	uint64_t magic;		/* OBJ_MAGIC while published or in a grace period */
	uint64_t seq;
	struct rcu_head rcu;
};

static struct obj *cur;			/* published; acquire/release */
static int stop_readers;		/* atomic */
static uint64_t objs_made, objs_retired;	/* atomic */
static uint64_t bad_reads, reads;		/* atomic */

static void retire_cb(struct rcu_head *head)
{
	struct obj *o = container_of(head, struct obj, rcu);

	WRITE_ONCE(o->magic, OBJ_POISON);
	__atomic_fetch_add(&objs_retired, 1, __ATOMIC_RELAXED);
	free(o);
}

static void *pub_reader(void *arg)
{
	uint64_t seed = 0x853c49e6748fea9bULL + (uintptr_t)arg, n = 0, bad = 0;
	uint64_t last_seq = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
		struct obj *o;
		uint64_t m1, m2, seq;

		rcu_read_lock();
		o = smp_load_acquire(&cur);
		m1 = READ_ONCE(o->magic);
		seq = READ_ONCE(o->seq);
		/* Linger a little so the writer gets to retire it meanwhile. */
		for (unsigned int i = xrand(&seed) % 64; i; i--)
			cpu_relax();
		m2 = READ_ONCE(o->magic);
		rcu_read_unlock();
		if (m1 != OBJ_MAGIC || m2 != OBJ_MAGIC)
			bad++;
		/* Publication order: a reader never goes back in time. */
		if (seq < last_seq)
			bad++;
		last_seq = seq;
		n++;
		/* Real readers spend time outside too; let grace periods end. */
		if (!(n & 63))
			sched_yield();
	}
	__atomic_fetch_add(&reads, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&bad_reads, bad, __ATOMIC_RELAXED);
	return NULL;
}

static struct obj *new_obj(uint64_t seq)
{
	struct obj *o = malloc(sizeof(*o));

	if (!o)
		abort();
	o->magic = OBJ_MAGIC;
	o->seq = seq;
	__atomic_fetch_add(&objs_made, 1, __ATOMIC_RELAXED);
	return o;
}

static void test_publish_retire(void)
{
	pthread_t r[NR_READERS];
	double end = now_sec() + stress_seconds(3);
	uint64_t seq = 1, sync_frees = 0;

	smp_store_release(&cur, new_obj(seq));
	for (uintptr_t i = 0; i < NR_READERS; i++)
		CHECK_EQ(pthread_create(&r[i], NULL, pub_reader, (void *)i), 0);
	while (now_sec() < end) {
		for (int i = 0; i < 256; i++) {
			struct obj *old = READ_ONCE(cur);

			smp_store_release(&cur, new_obj(++seq));
			if (seq % 64 == 0) {
				/* The other way to retire: wait, then free here. */
				synchronize_rcu();
				WRITE_ONCE(old->magic, OBJ_POISON);
				free(old);
				__atomic_fetch_add(&objs_retired, 1, __ATOMIC_RELAXED);
				sync_frees++;
			} else {
				call_rcu(&old->rcu, retire_cb);
			}
		}
		/* Bound the callback backlog (and memory) under ASan. */
		rcu_barrier();
	}
	__atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NR_READERS; i++)
		pthread_join(r[i], NULL);
	call_rcu(&cur->rcu, retire_cb);
	WRITE_ONCE(cur, NULL);
	rcu_barrier();
	CHECK_EQ(bad_reads, 0);
	CHECK(reads > 0);
	CHECK(sync_frees > 0);
	CHECK_EQ(objs_retired, objs_made);
	printf("     %llu objects retired under %llu reads\n",
	       (unsigned long long)objs_retired, (unsigned long long)reads);
}

int main(void)
{
	umm_rcu_init();
	RUN(test_nesting);
	RUN(test_barrier_runs_all);
	RUN(test_synchronize_waits);
	RUN(test_call_rcu_waits);
	RUN(test_publish_retire);
	return test_done();
}
