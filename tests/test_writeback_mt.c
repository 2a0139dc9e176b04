// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_writeback_mt - writeback of a host file against threads that still
 * write to it. A byte umm_write stored through a shared mapping must reach
 * the host file by the next MS_SYNC, however the mapping went away, and an
 * MS_SYNC must not return before the bytes written before it are in the
 * file, even when another writeback is cleaning the same page.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"

#define PG	4096UL
#define OFF	64		/* where the counter lives in the page */

static struct umm_file *file;
static struct umm_mm *mm1, *mm2;
static int64_t m1, m2;
static int fd;
static int go, done, quit;		/* round handshakes */
static uint32_t last_ok;		/* A's last stored value */

static void wait_for(int *v, int want)
{
	while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < want)
		sched_yield();
}

static bool setup(void)
{
	char path[] = "/dev/shm/umm_wb_XXXXXX";

	fd = mkstemp(path);
	if (fd < 0)
		return false;
	unlink(path);
	if (ftruncate(fd, PG))
		return false;
	file = umm_file_from_fd(fd, O_RDWR);
	mm1 = umm_mm_create(NULL);
	mm2 = umm_mm_create(NULL);
	if (!file || !mm1 || !mm2)
		return false;
	m1 = umm_mmap(mm1, 0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
	m2 = umm_mmap(mm2, 0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
	return m1 > 0 && m2 > 0;
}

static void teardown(void)
{
	umm_mm_destroy(mm1);
	umm_mm_destroy(mm2);
	umm_file_put(file);
	close(fd);
	go = done = quit = 0;
}

static uint32_t file_value(void)
{
	uint32_t v = 0;

	return pread(fd, &v, sizeof(v), OFF) == sizeof(v) ? v : ~0u;
}

/* A: counts up through mm1's mapping until a write fails (unmapped) */
static void *writer(void *arg)
{
	uint32_t ctr = 0;

	(void)arg;
	for (int r = 1;; r++) {
		wait_for(&go, r);
		if (__atomic_load_n(&quit, __ATOMIC_ACQUIRE))
			return NULL;
		for (;;) {
			uint32_t v = ++ctr;

			if (umm_write(mm1, m1 + OFF, &v, sizeof(v)) != sizeof(v))
				break;
			__atomic_store_n(&last_ok, v, __ATOMIC_RELEASE);
		}
		__atomic_fetch_add(&done, 1, __ATOMIC_ACQ_REL);
	}
}

/* W: writes the file back through mm2 until the round's munmap is done */
static int unmapped;
static void *syncer(void *arg)
{
	(void)arg;
	for (int r = 1;; r++) {
		wait_for(&go, r);
		if (__atomic_load_n(&quit, __ATOMIC_ACQUIRE))
			return NULL;
		while (!__atomic_load_n(&unmapped, __ATOMIC_ACQUIRE))
			umm_msync(mm2, m2, PG, MS_SYNC);
		__atomic_fetch_add(&done, 1, __ATOMIC_ACQ_REL);
	}
}

/*
 * munmap while A writes and W writes back: once all is quiet, an MS_SYNC
 * must leave A's last successful write in the file. A VMA unlinked from
 * i_mmap before its entries were zapped let W clean the page while A
 * still wrote through the present, writable entry.
 */
static void test_munmap_vs_writeback(void)
{
	double end = now_sec() + stress_seconds(10) / 2;
	unsigned seed = 1;
	pthread_t a, w;
	int r, lost = 0;

	if (!setup()) {
		CHECK(!"set-up");
		return;
	}
	pthread_create(&a, NULL, writer, NULL);
	pthread_create(&w, NULL, syncer, NULL);
	for (r = 1; r <= 20000 && now_sec() < end; r++) {
		if (r > 1 && umm_mmap(mm1, m1, PG, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_FIXED, file, 0) != m1) {
			CHECK(!"remap");
			break;
		}
		__atomic_store_n(&unmapped, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&done, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&go, r, __ATOMIC_RELEASE);
		usleep(20 + rand_r(&seed) % 200);
		CHECK_EQ(umm_munmap(mm1, m1, PG), 0);
		__atomic_store_n(&unmapped, 1, __ATOMIC_RELEASE);
		wait_for(&done, 2);
		CHECK_EQ(umm_msync(mm2, m2, PG, MS_SYNC), 0);
		if (file_value() != __atomic_load_n(&last_ok, __ATOMIC_ACQUIRE)) {
			uint32_t v = last_ok;

			if (!lost++)
				fprintf(stderr, "round %d: wrote %u, file holds %u\n",
					r, v, file_value());
			/* start the next round from agreement */
			umm_write(mm2, m2 + OFF, &v, sizeof(v));
			umm_msync(mm2, m2, PG, MS_SYNC);
		}
	}
	__atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&go, r + 1, __ATOMIC_RELEASE);
	pthread_join(a, NULL);
	pthread_join(w, NULL);
	printf("     %d rounds, %d writes lost\n", r - 1, lost);
	CHECK_EQ(lost, 0);
	teardown();
}

/* X and Y: MS_SYNC, then the file must hold what was written before */
static uint32_t round_value;
static int late;
static void *checker(void *arg)
{
	struct umm_mm *mm = arg;
	int64_t at = mm == mm1 ? m1 : m2;

	for (int r = 1;; r++) {
		wait_for(&go, r);
		if (__atomic_load_n(&quit, __ATOMIC_ACQUIRE))
			return NULL;
		if (umm_msync(mm, at, PG, MS_SYNC) ||
		    file_value() != __atomic_load_n(&round_value, __ATOMIC_ACQUIRE))
			__atomic_fetch_add(&late, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&done, 1, __ATOMIC_ACQ_REL);
	}
}

/*
 * Two MS_SYNCs of one dirty page at once: the one that finds the page
 * already cleaned by the other must still wait for its write.
 */
static void test_msync_vs_msync(void)
{
	double end = now_sec() + stress_seconds(10) / 2;
	pthread_t x, y;
	int r;

	if (!setup()) {
		CHECK(!"set-up");
		return;
	}
	pthread_create(&x, NULL, checker, mm1);
	pthread_create(&y, NULL, checker, mm2);
	for (r = 1; r <= 50000 && now_sec() < end; r++) {
		uint32_t v = r;

		CHECK_EQ(umm_write(mm1, m1 + OFF, &v, sizeof(v)), sizeof(v));
		__atomic_store_n(&round_value, v, __ATOMIC_RELEASE);
		__atomic_store_n(&done, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&go, r, __ATOMIC_RELEASE);
		wait_for(&done, 2);
	}
	__atomic_store_n(&quit, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&go, r + 1, __ATOMIC_RELEASE);
	pthread_join(x, NULL);
	pthread_join(y, NULL);
	printf("     %d rounds, %d early returns\n", r - 1, late);
	CHECK_EQ(late, 0);
	teardown();
}

int main(void)
{
	RUN(test_munmap_vs_writeback);
	RUN(test_msync_vs_msync);
	return test_done();
}
