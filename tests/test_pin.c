// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pin - umm_pin/umm_unpin (pin_user_pages) and mmu notifiers.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"

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

static void test_pin_errors(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	void *p[4] = { (void *)1, (void *)1, (void *)1, (void *)1 };

	CHECK_EQ(umm_mmap(mm, BASE, 2 * PAGE_SIZE, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_pin(mm, BASE, 1, UMM_WRITE, p), -EFAULT);	/* read-only */
	CHECK_EQ(umm_pin(mm, BASE, 3, UMM_READ, p), -EFAULT);	/* runs past it */
	CHECK(p[0] == NULL && p[1] == NULL);			/* all or none */
	CHECK_EQ(umm_pin(mm, BASE + 1, 1, UMM_READ, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 1, 0, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 1, UMM_EXEC, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 1, UMM_READ, NULL), -EINVAL);
	CHECK_EQ(umm_pin(NULL, BASE, 1, UMM_READ, p), -EINVAL);
	CHECK_EQ(umm_pin(mm, BASE, 0, UMM_READ, p), 0);
	/* a read pin of untouched read-only memory is the zero page */
	CHECK_EQ(umm_pin(mm, BASE, 2, UMM_READ, p), 0);
	CHECK(p[0] && *(char *)p[0] == 0);
	umm_unpin(mm, p, 2);
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

int main(void)
{
	RUN(test_pin_basic);
	RUN(test_pin_errors);
	RUN(test_notifiers);
	return test_done();
}
