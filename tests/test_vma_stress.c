// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vma_stress - lock_vma_under_rcu (seed 004) against a changing
 * address space.
 *
 * Readers look up random addresses without mmap_lock and read-lock what
 * they find; while they hold it, the VMA must hold the address, stay
 * attached and keep its fields (a writer that changed or freed it under
 * them would show here, or as a use-after-free under ASan). Other
 * readers print the maps, which must always be sorted and non-overlapping
 * (proc-maps-race). Writers mmap, munmap, mprotect, mremap and madvise
 * in the same window all the while.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"

#define WIN_BASE	0x200000000000UL
#define WIN_PAGES	4096UL		/* 16 MiB */

static struct umm_mm *mm;
static bool stop;
static uint64_t n_locked, n_none, n_maps, n_ops;

static uint64_t rand_page(uint64_t *s)
{
	return WIN_BASE + (xrand(s) % WIN_PAGES) * PAGE_SIZE;
}

static void *fault_reader(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t addr = rand_page(&seed) + (xrand(&seed) & (PAGE_SIZE - 1));
		struct vm_area_struct *vma = lock_vma_under_rcu(mm, addr);

		if (!vma) {
			atomic_add_return(&n_none, 1);
			continue;
		}
		uint64_t s = vma->vm_start, e = vma->vm_end, pg = vma->vm_pgoff;
		unsigned long f = vma->vm_flags;

		CHECK(s <= addr && addr < e);
		CHECK(__atomic_load_n(&vma->vm_refcnt, __ATOMIC_RELAXED) >= 2);
		for (int i = 0; i < 100; i++)
			cpu_relax();
		CHECK(vma->vm_start == s && vma->vm_end == e &&
		      vma->vm_pgoff == pg && vma->vm_flags == f);
		vma_end_read(vma);
		atomic_add_return(&n_locked, 1);
	}
	return NULL;
}

/* Every maps line lies after the previous one. */
static void *maps_reader(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		unsigned long long s, e, prev_end = 0;
		char *line;

		CHECK_EQ(umm_maps(mm, f), 0);
		fclose(f);
		for (line = buf; line && *line; line = strchr(line, '\n') + 1) {
			CHECK(sscanf(line, "%llx-%llx", &s, &e) == 2);
			CHECK(s < e && s >= prev_end);
			prev_end = e;
			if (!strchr(line, '\n'))
				break;
		}
		free(buf);
		atomic_add_return(&n_maps, 1);
		usleep(200);
	}
	return NULL;
}

static void *writer(void *arg)
{
	uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 3;
	const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
			      PROT_READ | PROT_EXEC };

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		uint64_t a = rand_page(&seed), len = (xrand(&seed) % 64 + 1) * PAGE_SIZE;
		int64_t r;

		if (a + len > WIN_BASE + WIN_PAGES * PAGE_SIZE)
			len = WIN_BASE + WIN_PAGES * PAGE_SIZE - a;
		switch (xrand(&seed) % 6) {
		case 0:
		case 1:
			r = umm_mmap(mm, a, len, prots[xrand(&seed) % 4],
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0);
			CHECK(r == (int64_t)a);
			break;
		case 2:
			CHECK_EQ(umm_munmap(mm, a, len), 0);
			break;
		case 3:
			r = umm_mprotect(mm, a, len, prots[xrand(&seed) % 4]);
			CHECK(r == 0 || r == -ENOMEM);
			break;
		case 4: {
			uint64_t to = rand_page(&seed);

			if (to + len > WIN_BASE + WIN_PAGES * PAGE_SIZE ||
			    (a < to + len && to < a + len))
				break;
			r = umm_mremap(mm, a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
			CHECK(r == (int64_t)to || r == -EFAULT);
			break;
		}
		default:
			r = umm_madvise(mm, a, len, (xrand(&seed) & 1) ? MADV_DONTFORK : MADV_DOFORK);
			CHECK(r == 0 || r == -ENOMEM);
			break;
		}
		atomic_add_return(&n_ops, 1);
	}
	return NULL;
}

static void test_vma_stress(void)
{
	void *(*const fns[])(void *) = { fault_reader, fault_reader, maps_reader,
					 writer, writer };
	struct page_alloc_stats before, after;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = umm_mm_create(NULL);
	CHECK(mm);
	if (!mm)
		return;
	stress_run(fns, NULL, ARRAY_SIZE(fns), 5, &stop);
	printf("  locked %llu, found none %llu, maps read %llu, writer ops %llu, "
	       "vma_lock_abort %llu, vma_lock_miss %llu, VMAs %llu\n",
	       (unsigned long long)n_locked, (unsigned long long)n_none,
	       (unsigned long long)n_maps, (unsigned long long)n_ops,
	       (unsigned long long)mm->stat[MM_VMA_LOCK_ABORT],
	       (unsigned long long)mm->stat[MM_VMA_LOCK_MISS],
	       (unsigned long long)mm->map_count);
	CHECK(n_locked > 0 && n_ops > 0 && n_maps > 0);
	CHECK_EQ(vma_tree_count(&mm->mm_mt), mm->map_count);
	umm_mm_destroy(mm);
	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
}

int main(void)
{
	RUN(test_vma_stress);
	return test_done();
}
