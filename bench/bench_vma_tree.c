// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_vma_tree - the VMA tree's costs at 10 to 1,000,000 entries:
 * a lookup under RCU (the page-fault path), an insert and erase of one
 * range (mmap + munmap), and a split into two and merge back (mprotect of
 * one page, then undoing it), each as ns per call, median of 5 runs with
 * min and max. The host's own mmap + munmap of one page is printed beside
 * the insert + erase as a yardstick. --quick: fewer calls and no
 * 1,000,000-entry tree (building it one insert at a time, as a process
 * would, takes longer than the whole quick run may), ~1 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "rcu.h"
#include "vma_tree.h"

#define PG	4096ull
#define RUNS	5

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t xrand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Entry i is [3i + 1, 3i + 3) pages: two-page VMAs, one-page gaps. */
static uint64_t ent_start(uint64_t i)
{
	return (3 * i + 1) * PG;
}

static void *ent(uint64_t i)
{
	return (void *)((i + 1) << 4);
}

static void build(struct vma_tree *t, uint64_t n)
{
	vma_tree_init(t);
	for (uint64_t i = 0; i < n; i++)
		if (vma_tree_insert(t, ent_start(i), ent_start(i) + 2 * PG, ent(i)))
			abort();
}

static double run_find(struct vma_tree *t, uint64_t n, uint64_t ops,
		       uint64_t *seed)
{
	uint64_t miss = 0;
	double t0 = now_ns();

	for (uint64_t k = 0; k < ops; k++) {
		uint64_t i = xrand(seed) % n;

		rcu_read_lock();
		miss += vma_tree_find(t, ent_start(i) + PG, NULL, NULL) != ent(i);
		rcu_read_unlock();
	}
	if (miss)
		abort();
	return (now_ns() - t0) / ops;
}

static double run_insert_erase(struct vma_tree *t, uint64_t n, uint64_t ops,
			       uint64_t *seed)
{
	double t0 = now_ns();

	for (uint64_t k = 0; k < ops; k++) {
		uint64_t s = ent_start(xrand(seed) % n) - PG;

		if (vma_tree_insert(t, s, s + PG, t) ||
		    vma_tree_erase(t, s, s + PG))
			abort();
	}
	return (now_ns() - t0) / (2 * ops);
}

static double run_split_merge(struct vma_tree *t, uint64_t n, uint64_t ops,
			      uint64_t *seed)
{
	struct vma_tree_range r[2];
	double t0 = now_ns();

	for (uint64_t k = 0; k < ops; k++) {
		uint64_t i = xrand(seed) % n, s = ent_start(i), e = s + 2 * PG;

		r[0] = (struct vma_tree_range){ s, s + PG, ent(i) };
		r[1] = (struct vma_tree_range){ s + PG, e, t };
		if (vma_tree_replace(t, s, e, r, 2))
			abort();
		r[0].end = e;
		if (vma_tree_replace(t, s, e, r, 1))
			abort();
	}
	return (now_ns() - t0) / (2 * ops);
}

static double run_host(uint64_t ops)
{
	double t0 = now_ns();

	for (uint64_t k = 0; k < ops; k++) {
		void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || munmap(p, PG))
			abort();
	}
	return (now_ns() - t0) / (2 * ops);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct bstat {
	double v[RUNS];
};

/*
 * Also as a RESULT line (bench.h's format, for tools/bench.sh): @n
 * entries, 0 for the host's row.
 */
static void print_stat(const char *name, struct bstat *s, uint64_t n)
{
	char what[64], param[32];

	qsort(s->v, RUNS, sizeof(double), cmp_double);
	printf("  %-14s %8.1f ns  [%.1f .. %.1f]\n", name, s->v[RUNS / 2],
	       s->v[0], s->v[RUNS - 1]);
	snprintf(what, sizeof(what), "vma_tree %s", name);
	snprintf(param, sizeof(param), "entries=%llu", (unsigned long long)n);
	if (n)
		printf("RESULT\tinternals\t%s\t%s\tns/call\t%g %g %g\t-\t-\n",
		       what, param, s->v[RUNS / 2], s->v[0], s->v[RUNS - 1]);
	else
		printf("RESULT\treference\thost mmap+munmap of 4 KiB, per "
		       "call\t-\tns/call\t-\t%g %g %g\t-\n", s->v[RUNS / 2],
		       s->v[0], s->v[RUNS - 1]);
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[] = { 10, 1000, 100000, 1000000 };
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	size_t nr_sizes = sizeof(sizes) / sizeof(sizes[0]) - quick;
	uint64_t reads = quick ? 20000 : 1000000, writes = quick ? 10000 : 200000;
	uint64_t seed = 0x2545f4914f6cdd1dull;
	struct bstat host;

	umm_rcu_init();
	printf("vma_tree: ns per call, median of %d runs [min .. max]%s\n",
	       RUNS, quick ? " (quick)" : "");
	for (size_t z = 0; z < nr_sizes; z++) {
		struct bstat find, ins, split;
		struct vma_tree t;

		build(&t, sizes[z]);
		for (int r = 0; r < RUNS; r++) {
			find.v[r] = run_find(&t, sizes[z], reads, &seed);
			ins.v[r] = run_insert_erase(&t, sizes[z], writes, &seed);
			split.v[r] = run_split_merge(&t, sizes[z], writes, &seed);
		}
		printf("%lu entries, height %u:\n", (unsigned long)sizes[z],
		       t.height);
		print_stat("find", &find, sizes[z]);
		print_stat("insert/erase", &ins, sizes[z]);
		print_stat("split/merge", &split, sizes[z]);
		vma_tree_destroy(&t);
		rcu_barrier();
	}
	for (int r = 0; r < RUNS; r++)
		host.v[r] = run_host(quick ? writes / 5 : writes);
	printf("host kernel:\n");
	print_stat("mmap/munmap", &host, 0);
	return 0;
}
