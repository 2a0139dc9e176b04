// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pin - umm_pin/umm_unpin (pin_user_pages) and mmu notifiers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "mm.h"
#include "uapi_mman.h"

#define BASE	0x100000000000UL

static void test_pin_basic(void)
{
	struct page_alloc_stats before, after;
	struct umm_mm *mm;
	void *p[4] = { 0 };
	uint64_t v = 0x1122334455667788ULL, got = 0;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(mm, BASE, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_pin(mm, BASE, 4, UMM_READ | UMM_WRITE, p), 0);
	for (int i = 0; i < 4; i++)
		CHECK(p[i] != NULL);
	/* the host pointer is the page: writes show through umm_read */
	*(uint64_t *)((char *)p[1] + 8) = v;
	CHECK_EQ(umm_read(mm, BASE + PAGE_SIZE + 8, &got, 8), 8);
	CHECK_EQ(got, v);
	/* and umm_write shows through the host pointer */
	v = 42;
	CHECK_EQ(umm_write(mm, BASE + 3 * PAGE_SIZE, &v, 8), 8);
	CHECK_EQ(*(uint64_t *)p[3], 42);
	/* unmapping keeps the pinned frames alive until unpinned */
	CHECK_EQ(umm_munmap(mm, BASE, 4 * PAGE_SIZE), 0);
	CHECK_EQ(*(uint64_t *)p[3], 42);
	umm_unpin(mm, p, 4);
	umm_mm_destroy(mm);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
}

/*
 * MADV_PAGEOUT leaves a pinned page mapped and its data, lazily freed or
 * droppable as it may be (reclaim finds more references than mappings):
 * the host pointer and the mapping stay the same page. A lazily freed one
 * becomes an ordinary page (LazyFree 0), as the kernel's; a droppable one
 * stays lazily freeable.
 */
static void test_pin_pageout(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	int flags[] = { MAP_PRIVATE | MAP_ANONYMOUS, MAP_DROPPABLE | MAP_ANONYMOUS };

	CHECK(mm);
	for (int k = 0; k < 2; k++) {
		void *p[2] = { 0 };
		uint64_t v = 0x5a5a0000 + k, got = 0;
		char *text = NULL;
		size_t len = 0;
		FILE *m;

		CHECK_EQ(umm_mmap(mm, BASE, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
				  flags[k] | MAP_FIXED, NULL, 0), BASE);
		CHECK_EQ(umm_write(mm, BASE, &v, 8), 8);
		CHECK_EQ(umm_write(mm, BASE + PAGE_SIZE, &v, 8), 8);
		CHECK_EQ(umm_pin(mm, BASE, 1, UMM_READ, p), 0);
		CHECK_EQ(umm_madvise(mm, BASE, 2 * PAGE_SIZE, MADV_FREE), 0);
		CHECK_EQ(umm_madvise(mm, BASE, 2 * PAGE_SIZE, MADV_PAGEOUT), 0);
		CHECK_EQ(umm_read(mm, BASE, &got, 8), 8);
		CHECK_EQ(got, v);
		CHECK_EQ(*(uint64_t *)p[0], v);
		/* the unpinned one went */
		CHECK_EQ(umm_read(mm, BASE + PAGE_SIZE, &got, 8), 8);
		CHECK_EQ(got, 0);
		m = open_memstream(&text, &len);
		CHECK(m != NULL);
		CHECK_EQ(umm_smaps(mm, m), 0);
		fclose(m);
		/* a droppable page is lazily free by nature: it stays so */
		CHECK(text && strstr(text, k ? "LazyFree:              4 kB" :
					       "LazyFree:              0 kB"));
		free(text);
		umm_unpin(mm, p, 1);
	}
	umm_mm_destroy(mm);
}

/*
 * Writes through a pinned pointer: a host file's page stays dirty through
 * a writeback while pinned (umm's writeback keeps a pinned page dirty), so
 * either unpin gets them to the file; a page freed lazily (MADV_FREE)
 * while pinned survives MADV_PAGEOUT only when the unpin marks it dirty.
 */
static void test_unpin_dirty(void)
{
	char path[] = "/tmp/umm_pin_XXXXXX";
	static char buf[2 * PAGE_SIZE];
	struct umm_mm *mm = umm_mm_create(NULL);
	int fd = mkstemp(path);
	struct umm_file *f;
	void *p[2] = { 0 };
	char got = 0;

	CHECK(mm && fd >= 0);
	unlink(path);
	memset(buf, 'a', sizeof(buf));
	CHECK_EQ(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	f = umm_file_from_fd(fd, O_RDWR);
	CHECK(f);
	CHECK_EQ(umm_mmap(mm, BASE, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, f, 0), BASE);
	CHECK_EQ(umm_pin(mm, BASE, 2, UMM_WRITE, p), 0);
	((char *)p[0])[1] = 'b';
	((char *)p[1])[1] = 'b';
	CHECK_EQ(umm_msync(mm, BASE, 2 * PAGE_SIZE, MS_SYNC), 0);
	((char *)p[0])[2] = 'c';	/* after the writeback: no entry saw it */
	((char *)p[1])[2] = 'c';
	umm_unpin(mm, &p[0], 1);
	umm_unpin_dirty(mm, &p[1], 1, 1);
	CHECK_EQ(umm_msync(mm, BASE, 2 * PAGE_SIZE, MS_SYNC), 0);
	CHECK_EQ(pread(fd, &got, 1, 2), 1);
	CHECK_EQ(got, 'c');
	CHECK_EQ(pread(fd, &got, 1, PAGE_SIZE + 2), 1);
	CHECK_EQ(got, 'c');
	CHECK_EQ(umm_munmap(mm, BASE, 2 * PAGE_SIZE), 0);
	umm_file_put(f);
	close(fd);

	/* anonymous memory freed lazily while pinned */
	CHECK_EQ(umm_mmap(mm, BASE, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_write(mm, BASE, "xy", 2), 2);
	CHECK_EQ(umm_write(mm, BASE + PAGE_SIZE, "xy", 2), 2);
	CHECK_EQ(umm_pin(mm, BASE, 2, UMM_WRITE, p), 0);
	CHECK_EQ(umm_madvise(mm, BASE, 2 * PAGE_SIZE, MADV_FREE), 0);
	((char *)p[0])[0] = 'z';
	((char *)p[1])[0] = 'z';
	umm_unpin(mm, &p[0], 1);
	umm_unpin_dirty(mm, &p[1], 1, 1);
	CHECK_EQ(umm_madvise(mm, BASE, 2 * PAGE_SIZE, MADV_PAGEOUT), 0);
	CHECK_EQ(umm_read(mm, BASE, &got, 1), 1);
	CHECK_EQ(got, 0);		/* clean and lazily free: it went */
	CHECK_EQ(umm_read(mm, BASE + PAGE_SIZE, &got, 1), 1);
	CHECK_EQ(got, 'z');
	umm_unpin_dirty(NULL, NULL, 1, 1);	/* nothing to do */
	umm_mm_destroy(mm);
}

static void test_pin_errors(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	void *p[4] = { (void *)1, (void *)1, (void *)1, (void *)1 };

	CHECK_EQ(umm_mmap(mm, BASE, 2 * PAGE_SIZE, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_pin(mm, BASE, 1, UMM_WRITE, p), -EFAULT);	/* read-only */
	CHECK_EQ(umm_pin(mm, BASE, 3, UMM_READ, p), -EFAULT);	/* runs past it */
	CHECK(p[0] == NULL && p[1] == NULL);			/* all or none */
	CHECK_EQ(umm_pin(mm, BASE, 1, 0, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 1, UMM_EXEC, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 1, UMM_READ, NULL), -EINVAL);
	CHECK_EQ(umm_pin(NULL, BASE, 1, UMM_READ, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 0, UMM_READ, p), 0);
	/* a read pin of untouched read-only memory is the zero page */
	CHECK_EQ(umm_pin(mm, BASE, 2, UMM_READ, p), 0);
	CHECK(p[0] && *(char *)p[0] == 0);
	umm_unpin(mm, p, 2);
	/*
	 * An unaligned address pins from the page holding it, as GUP does;
	 * the pointer is that page's start. The last byte of the mapping
	 * with one page is in range, with two it runs past.
	 */
	CHECK_EQ(umm_pin(mm, BASE + 1, 1, UMM_READ, p), 0);
	CHECK(p[0] && !((uintptr_t)p[0] & (PAGE_SIZE - 1)));
	umm_unpin(mm, p, 1);
	CHECK_EQ(umm_pin(mm, BASE + 2 * PAGE_SIZE - 1, 1, UMM_READ, p), 0);
	umm_unpin(mm, p, 1);
	CHECK_EQ(umm_pin(mm, BASE + 2 * PAGE_SIZE - 1, 2, UMM_READ, p), -EFAULT);
	umm_mm_destroy(mm);
}

struct inval_log {
	int starts, ends;
	uint64_t lo, hi;
};

static void inval_start(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	struct inval_log *l = priv;

	(void)mm;
	l->starts++;
	l->lo = s;
	l->hi = e;
}

static void inval_end(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	struct inval_log *l = priv;

	(void)mm;
	(void)s;
	(void)e;
	l->ends++;
}

static void test_notifiers(void)
{
	static const struct umm_notifier_ops ops = { inval_start, inval_end };
	struct umm_mm *mm = umm_mm_create(NULL);
	struct inval_log log = { 0 };
	uint64_t v = 1;

	CHECK_EQ(umm_notifier_register(mm, NULL, &log), -EINVAL);
	CHECK_EQ(umm_notifier_register(mm, &ops, &log), 0);
	CHECK_EQ(umm_mmap(mm, BASE, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_write(mm, BASE, &v, 8), 8);
	log = (struct inval_log){ 0 };
	CHECK_EQ(umm_mprotect(mm, BASE, PAGE_SIZE, PROT_READ), 0);
	CHECK(log.starts >= 1 && log.starts == log.ends);
	CHECK(log.lo <= BASE && log.hi >= BASE + PAGE_SIZE);
	log = (struct inval_log){ 0 };
	CHECK_EQ(umm_madvise(mm, BASE, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
	CHECK(log.starts >= 1 && log.starts == log.ends);
	log = (struct inval_log){ 0 };
	CHECK_EQ(umm_munmap(mm, BASE, 16 * PAGE_SIZE), 0);
	CHECK(log.starts >= 1 && log.starts == log.ends);
	CHECK(log.lo <= BASE && log.hi >= BASE + 16 * PAGE_SIZE);
	umm_mm_destroy(mm);
}

/*
 * A registration made while an invalidation is in progress: here a
 * truncation, which runs under the file's i_mmap_rwsem and no mmap_lock,
 * stopped inside a first notifier's start. The new notifier must not be
 * registered until that invalidation has ended, and must not get its end
 * without its start.
 */
static int gate_armed, gate_open, in_start, registered;

static void gated_start(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	inval_start(priv, mm, s, e);
	if (!__atomic_load_n(&gate_armed, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&in_start, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&gate_open, __ATOMIC_ACQUIRE))
		usleep(1000);
}

static void *truncator(void *arg)
{
	CHECK_EQ(umm_file_truncate(arg, 0), 0);
	return NULL;
}

struct reg_arg {
	struct umm_mm *mm;
	struct inval_log *log;
};

static void *registrar(void *arg)
{
	static const struct umm_notifier_ops ops = { inval_start, inval_end };
	struct reg_arg *r = arg;

	CHECK_EQ(umm_notifier_register(r->mm, &ops, r->log), 0);
	__atomic_store_n(&registered, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_notifier_register_waits(void)
{
	static const struct umm_notifier_ops gated = { gated_start, inval_end };
	struct umm_file *f = umm_file_create("reg", 16 * PAGE_SIZE, 0);
	struct umm_mm *mm = umm_mm_create(NULL);
	struct inval_log a = { 0 }, b = { 0 };
	struct reg_arg r = { mm, &b };
	pthread_t t, u;
	uint64_t v = 1;

	CHECK(f && mm);
	CHECK_EQ(umm_mmap(mm, BASE, 16 * PAGE_SIZE, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, f, 0), BASE);
	CHECK_EQ(umm_write(mm, BASE + 3 * PAGE_SIZE, &v, 8), 8);
	CHECK_EQ(umm_notifier_register(mm, &gated, &a), 0);
	__atomic_store_n(&gate_armed, 1, __ATOMIC_RELEASE);
	CHECK_EQ(pthread_create(&t, NULL, truncator, f), 0);
	while (!__atomic_load_n(&in_start, __ATOMIC_ACQUIRE))
		usleep(1000);
	CHECK_EQ(pthread_create(&u, NULL, registrar, &r), 0);
	usleep(50 * 1000);
	CHECK(!__atomic_load_n(&registered, __ATOMIC_ACQUIRE));
	__atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(pthread_join(u, NULL), 0);
	CHECK(a.starts >= 1 && a.starts == a.ends);
	CHECK_EQ(b.starts, b.ends);
	/* and the new one is told of what comes after */
	CHECK_EQ(umm_munmap(mm, BASE, 16 * PAGE_SIZE), 0);
	CHECK(b.starts >= 1 && b.starts == b.ends);
	umm_mm_destroy(mm);
	umm_file_put(f);
}

/* The kB of shmem THPs @mm maps by PMD leaves (smaps' ShmemPmdMapped). */
static long long shmem_pmd_kb(struct umm_mm *mm)
{
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	long long kb = 0;

	CHECK(f && umm_smaps(mm, f) == 0);
	fclose(f);
	for (p = buf; (p = strstr(p, "ShmemPmdMapped:")); p++)
		kb += atoll(p + strlen("ShmemPmdMapped:"));
	free(buf);
	return kb;
}

/*
 * Pins under a shmem THP's PMD leaf (the folio is the file's, not
 * anonymous): a read pin through a private read-only mapping pins the
 * cache's folio (no unsharing: a file folio has no exclusive bit to
 * wait for), a write pin through a shared mapping pins in place, the
 * leaves stay; a write pin through a private mapping copies one page.
 */
static void test_pin_shmem_thp(void)
{
	const uint64_t hps = 2UL << 20;
	struct page_alloc_stats before, after;
	struct umm_mm *mm;
	struct umm_file *f;
	void *sh[2] = { 0 }, *ro[1] = { 0 }, *pw[1] = { 0 };
	long long splits;
	char c = 0;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	f = umm_file_create("pin_thp", 2 * hps, 0);
	CHECK(mm && f);
	CHECK_EQ(umm_mmap(mm, BASE, 2 * hps, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, f, 0), BASE);
	for (uint64_t off = 0; off < 2 * hps; off += PAGE_SIZE) {
		c = (char)(off >> PAGE_SHIFT);
		CHECK_EQ(umm_write(mm, BASE + off, &c, 1), 1);
	}
	CHECK_EQ(umm_madvise(mm, BASE, hps, MADV_COLLAPSE), 0);
	CHECK_EQ(shmem_pmd_kb(mm), 2048);
	CHECK_EQ(umm_mmap(mm, BASE + 2 * hps, hps, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0),
		 BASE + 2 * hps);
	CHECK_EQ(umm_mmap(mm, BASE + 3 * hps, hps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_FIXED, f, 0), BASE + 3 * hps);
	CHECK_EQ(umm_read(mm, BASE + 2 * hps, &c, 1), 1);
	CHECK_EQ(shmem_pmd_kb(mm), 4096);
	splits = umm_vmstat_value(mm, "thp_split_pmd");

	/* private read-only: the cache's page itself, the leaf stays */
	CHECK_EQ(umm_pin(mm, BASE + 2 * hps + 3 * PAGE_SIZE, 1, UMM_READ, ro), 0);
	CHECK_EQ(umm_pin(mm, BASE + 3 * PAGE_SIZE, 1, UMM_READ, sh), 0);
	CHECK(ro[0] && ro[0] == sh[0]);
	/* shared writable: pinned in place for writing */
	CHECK_EQ(umm_pin(mm, BASE + 4 * PAGE_SIZE, 1, UMM_READ | UMM_WRITE, sh + 1), 0);
	CHECK_EQ(shmem_pmd_kb(mm), 4096);
	CHECK_EQ(umm_vmstat_value(mm, "thp_split_pmd"), splits);
	*(char *)sh[1] = 'P';
	CHECK_EQ(umm_read(mm, BASE + 2 * hps + 4 * PAGE_SIZE, &c, 1), 1);
	CHECK_EQ(c, 'P');
	/* a private write pin: the leaf goes, this mm pins its own copy */
	CHECK_EQ(umm_read(mm, BASE + 3 * hps, &c, 1), 1);
	CHECK_EQ(shmem_pmd_kb(mm), 6144);
	CHECK_EQ(umm_pin(mm, BASE + 3 * hps + 4 * PAGE_SIZE, 1, UMM_READ | UMM_WRITE, pw), 0);
	CHECK(pw[0] && pw[0] != sh[1]);
	CHECK_EQ(*(char *)pw[0], 'P');
	*(char *)pw[0] = 'Q';
	CHECK_EQ(*(char *)sh[1], 'P');
	CHECK_EQ(shmem_pmd_kb(mm), 4096);
	umm_unpin(mm, ro, 1);
	umm_unpin(mm, sh, 2);
	umm_unpin(mm, pw, 1);
	umm_mm_destroy(mm);
	umm_file_put(f);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
}

int main(void)
{
	RUN(test_pin_basic);
	RUN(test_pin_errors);
	RUN(test_pin_pageout);
	RUN(test_unpin_dirty);
	RUN(test_notifiers);
	RUN(test_notifier_register_waits);
	RUN(test_pin_shmem_thp);
	return test_done();
}
