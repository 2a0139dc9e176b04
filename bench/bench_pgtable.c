// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_pgtable - single-thread cost of the page-table and frame
 * primitives everything else in umm is built on: mapping and locking a
 * PTE table (seed 001's pte_offset_map_lock), a lockless walk under RCU on
 * 4- and 5-level mms, frame allocation through the per-thread cache and
 * the buddy lists, and what struct page costs in memory per frame.
 *
 * Host primitives of similar shape (a spinlock pair, malloc, memset of a
 * frame) are timed in the same run as references, so the numbers can be
 * read against this machine rather than in the abstract.
 *
 * Usage: bench_pgtable [--quick]   (--quick: a second-long smoke run)
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <umm/umm.h>
#include "pgtable.h"
#include "bench.h"

/* One PUD entry's span, so every PMD of the range sits in one PMD table. */
#define RANGE_SIZE	PUD_SIZE
#define RANGE_PAGES_BITS (PUD_SHIFT - PAGE_SHIFT)
/* Bases with non-zero upper indexes; the 5-level one needs all 56 bits. */
#define BASE_L4		(1UL << 40)
#define BASE_L5		(1UL << 52)
#define BATCH_FRAMES	10000

/*
 * Entries are special (no struct page reference), like a PFNMAP: the walk
 * reads them the same way, and teardown does not try to put frames this
 * program never allocated.
 */
#define BENCH_PTE_PROT	(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER | \
			 _PAGE_ACCESSED | _PAGE_SPECIAL)

static int fail(const char *what, int err)
{
	fprintf(stderr, "bench_pgtable: %s: %s\n", what, strerror(err));
	return 1;
}

/* ---- an mm with 1 GiB of populated PTE tables ---- */

struct walk_arg {
	struct umm_mm *mm;
	uint64_t base;
	pmd_t *pmd_table;	/* the PMD entries of [base, base + RANGE_SIZE) */
	uint64_t rng;
	uint64_t misses;	/* walks that found no table: a bug if non-zero */
};

static pte_t expected_pte(uint64_t base, uint64_t addr)
{
	/* pfns 1.. are inside the pool; distinct so no two entries are equal */
	return pfn_pte(((addr - base) >> PAGE_SHIFT) + 1, __pgprot(BENCH_PTE_PROT));
}

/*
 * populate - install a PTE table for every 2 MiB of the range and fill
 * every entry, through the same paths a fault would use.
 * Return: 0 or -errno.
 */
static int populate(struct walk_arg *w)
{
	for (uint64_t a = w->base; a < w->base + RANGE_SIZE; a += PMD_SIZE) {
		spinlock_t *ptl;
		pmd_t *pmd;
		pte_t *pte;
		int err = walk_to_pmd(w->mm, a, &pmd);

		if (err)
			return err;
		if (a == w->base)
			w->pmd_table = pmd;
		if (pmd != w->pmd_table + pmd_index(a))
			return -EFAULT;
		pte = pte_alloc_map_lock(w->mm, pmd, a, &ptl);
		if (!pte)
			return -ENOMEM;
		for (unsigned int i = 0; i < PTRS_PER_PTE; i++)
			set_pte(pte + i, expected_pte(w->base, a + i * PAGE_SIZE));
		pte_unmap_unlock(pte, ptl);
	}
	return 0;
}

/*
 * verify - the lockless walk finds every entry populate() wrote; checked
 * once before timing so the timed loops can trust what they read.
 */
static int verify(struct walk_arg *w)
{
	for (uint64_t a = w->base; a < w->base + RANGE_SIZE; a += PAGE_SIZE) {
		pmd_t *pmd;
		pte_t *pte;
		bool ok = false;

		rcu_read_lock();
		pmd = pmd_off_lockless(w->mm, a);
		if (pmd && pmd == w->pmd_table + pmd_index(a)) {
			pte = __pte_offset_map(pmd, a, NULL);
			if (pte) {
				ok = pte_same(ptep_get(pte), expected_pte(w->base, a));
				pte_unmap(pte);
			}
		}
		rcu_read_unlock();
		if (!ok)
			return -EFAULT;
	}
	return 0;
}

static int setup_mm(struct walk_arg *w, unsigned int levels, uint64_t base)
{
	struct umm_opts o = { .size = sizeof(o), .pgtable_levels = levels };
	int err;

	memset(w, 0, sizeof(*w));
	w->base = base;
	w->rng = 0x9e3779b97f4a7c15ull;
	w->mm = umm_mm_create(&o);
	if (!w->mm)
		return fail("umm_mm_create", errno);
	err = populate(w);
	if (err)
		return fail("populating 1 GiB of page tables", -err);
	if (verify(w))
		return fail("lockless walk does not find the populated entries", EFAULT);
	return 0;
}

static uint64_t rand_addr(struct walk_arg *w)
{
	return w->base + (bench_rand_bits(&w->rng, RANGE_PAGES_BITS) << PAGE_SHIFT);
}

/* ---- 1. pte_offset_map_lock + pte_unmap_unlock ---- */

static void map_lock_same(void *arg, uint64_t iters)
{
	struct walk_arg *w = arg;
	uint64_t addr = w->base + 123 * PAGE_SIZE, acc = 0;
	pmd_t *pmd = w->pmd_table + pmd_index(addr);

	for (uint64_t i = 0; i < iters; i++) {
		spinlock_t *ptl;
		pte_t *pte = pte_offset_map_lock(w->mm, pmd, addr, &ptl);

		if (unlikely(!pte)) {
			w->misses++;
			continue;
		}
		acc += pte_val(ptep_get(pte));
		pte_unmap_unlock(pte, ptl);
	}
	bench_consume(acc);
}

static void map_lock_random(void *arg, uint64_t iters)
{
	struct walk_arg *w = arg;
	uint64_t acc = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t addr = rand_addr(w);
		spinlock_t *ptl;
		pte_t *pte = pte_offset_map_lock(w->mm, w->pmd_table + pmd_index(addr),
						 addr, &ptl);

		if (unlikely(!pte)) {
			w->misses++;
			continue;
		}
		acc += pte_val(ptep_get(pte));
		pte_unmap_unlock(pte, ptl);
	}
	bench_consume(acc);
}

/* The random-address loops' own overhead: PRNG and address arithmetic. */
static void rand_addr_only(void *arg, uint64_t iters)
{
	struct walk_arg *w = arg;
	uint64_t acc = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t addr = rand_addr(w);

		bench_use(addr);
		acc += addr;
	}
	bench_consume(acc);
}

/* ---- 2. lockless walk from the top ---- */

static inline uint64_t walk_lockless(struct walk_arg *w, uint64_t addr)
{
	uint64_t v = 0;
	pmd_t *pmd;

	rcu_read_lock();
	pmd = pmd_off_lockless(w->mm, addr);
	if (likely(pmd)) {
		pte_t *pte = __pte_offset_map(pmd, addr, NULL);

		if (likely(pte)) {
			v = pte_val(ptep_get(pte));
			pte_unmap(pte);
		}
	}
	rcu_read_unlock();
	return v;
}

static void walk_random(void *arg, uint64_t iters)
{
	struct walk_arg *w = arg;
	uint64_t acc = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t v = walk_lockless(w, rand_addr(w));

		w->misses += !v;
		acc += v;
	}
	bench_consume(acc);
}

static void walk_same(void *arg, uint64_t iters)
{
	struct walk_arg *w = arg;
	uint64_t addr = w->base + 123 * PAGE_SIZE, acc = 0;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t v;

		bench_barrier();	/* re-walk every time, no hoisting */
		v = walk_lockless(w, addr);
		w->misses += !v;
		acc += v;
	}
	bench_consume(acc);
}

/* ---- 3. frames ---- */

struct frame_arg {
	struct frame_quota quota;	/* charged as an mm's would be */
	gfp_t gfp;
	unsigned int order;
	struct page **batch;		/* BATCH_FRAMES slots */
	uint64_t failures;
};

static void frame_pair(void *arg, uint64_t iters)
{
	struct frame_arg *f = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct page *p = alloc_pages(&f->quota, f->gfp, f->order);

		if (unlikely(!p)) {
			f->failures++;
			continue;
		}
		bench_use(p);
		__free_pages(p, f->order);
	}
}

/*
 * Allocate a batch far larger than the per-thread cache, then free it: the
 * cache refills from and flushes to the buddy lists every few dozen frames.
 * One iteration is BATCH_FRAMES alloc+free pairs.
 */
static void frame_batch(void *arg, uint64_t iters)
{
	struct frame_arg *f = arg;

	for (uint64_t i = 0; i < iters; i++) {
		unsigned int n;

		for (n = 0; n < BATCH_FRAMES; n++) {
			f->batch[n] = alloc_pages(&f->quota, f->gfp, 0);
			if (unlikely(!f->batch[n])) {
				f->failures++;
				break;
			}
		}
		bench_barrier();
		for (unsigned int j = 0; j < n; j++)
			__free_pages(f->batch[j], 0);
	}
}

/* ---- host references ---- */

static pthread_spinlock_t host_spin;

static void host_spin_pair(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		pthread_spin_lock(&host_spin);
		bench_barrier();
		pthread_spin_unlock(&host_spin);
	}
}

/* umm's own spinlock_t (the split PTL), to split (1) into its parts. */
static void umm_spin_pair(void *arg, uint64_t iters)
{
	spinlock_t *l = arg;

	for (uint64_t i = 0; i < iters; i++) {
		spin_lock(l);
		bench_barrier();
		spin_unlock(l);
	}
}

static void rcu_pair(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		rcu_read_lock();
		bench_barrier();
		rcu_read_unlock();
	}
}

static void host_malloc_pair(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(4096);

		/* escapes p, so the pair cannot be folded away */
		bench_use(p);
		free(p);
	}
}

static void host_memset_frame(void *arg, uint64_t iters)
{
	char *buf = arg;

	for (uint64_t i = 0; i < iters; i++) {
		memset(buf, 0, PAGE_SIZE);
		bench_use(buf);
	}
}

/* ---- driver ---- */

static const struct bench_opts *opts;
static const char *section;	/* the rows' param in the RESULT lines */

/* A row of umm's own figures, or of a host reference ("reference: ..."). */
static void row(const char *label, bench_fn fn, void *arg, double ops_per_iter)
{
	static const char ref[] = "reference: ";
	bool host = !strncmp(label, ref, sizeof(ref) - 1);
	struct bench_result r;

	bench_measure(opts, fn, arg, ops_per_iter, &r);
	bench_print_row(label, &r);
	if (host)
		bench_emit2("reference", label + sizeof(ref) - 1, NULL, "ns/op",
			    NULL, NULL, &r, NULL);
	else
		bench_emit2("internals", label, section, "ns/op", &r, NULL, NULL,
			    NULL);
}

static int bench_walks(void)
{
	struct walk_arg l4, l5;
	struct page_alloc_stats st;
	spinlock_t lock = __SPIN_LOCK_UNLOCKED;
	int ret;

	ret = setup_mm(&l4, 4, BASE_L4);
	if (!ret)
		ret = setup_mm(&l5, 5, BASE_L5);
	if (ret)
		return ret;

	bench_print_section("1. pte_offset_map_lock + pte_unmap_unlock (uncontended)");
	section = "pte_offset_map_lock";
	row("same address", map_lock_same, &l4, 1);
	row("random address, 1 GiB populated", map_lock_random, &l4, 1);
	row("part: umm spin_lock + spin_unlock", umm_spin_pair, &lock, 1);
	row("part: rcu_read_lock + rcu_read_unlock (urcu-bp)", rcu_pair, NULL, 1);
	row("part: random address generation (loop overhead)", rand_addr_only, &l4, 1);
	pthread_spin_init(&host_spin, PTHREAD_PROCESS_PRIVATE);
	row("reference: host pthread_spin_lock + unlock", host_spin_pair, NULL, 1);
	pthread_spin_destroy(&host_spin);

	bench_print_section("2. lockless walk: rcu + pmd_off_lockless + "
			    "__pte_offset_map/ptep_get/pte_unmap");
	section = "lockless walk";
	row("4-level, same address", walk_same, &l4, 1);
	row("4-level, random address, 1 GiB populated", walk_random, &l4, 1);
	row("5-level, same address", walk_same, &l5, 1);
	row("5-level, random address, 1 GiB populated", walk_random, &l5, 1);

	if (l4.misses || l5.misses) {
		fprintf(stderr, "bench_pgtable: %llu walks of populated addresses "
			"found no table\n",
			(unsigned long long)(l4.misses + l5.misses));
		ret = 1;
	}
	umm_mm_destroy(l4.mm);
	umm_mm_destroy(l5.mm);
	/* destroy waits for the deferred frees: every table must be back */
	page_alloc_get_stats(&st);
	if (st.pgtable_pages) {
		fprintf(stderr, "bench_pgtable: %llu page-table pages left after "
			"umm_mm_destroy\n", (unsigned long long)st.pgtable_pages);
		ret = 1;
	}
	return ret;
}

static int bench_frames(void)
{
	struct frame_arg f = { .quota = { 0, QUOTA_UNLIMITED } };
	char *buf = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
	int ret = 0;

	f.batch = calloc(BATCH_FRAMES, sizeof(*f.batch));
	if (!f.batch || !buf) {
		free(buf);
		free(f.batch);
		return fail("allocating benchmark buffers", ENOMEM);
	}

	bench_print_section("3. frames: alloc_pages + __free_pages (frames come zeroed)");
	section = "alloc_pages + __free_pages";
	f.gfp = GFP_KERNEL;
	f.order = 0;
	row("4 KiB, per-thread cache hot", frame_pair, &f, 1);
	f.gfp = __GFP_NOZERO;
	row("4 KiB, cache hot, __GFP_NOZERO", frame_pair, &f, 1);
	f.gfp = GFP_KERNEL;
	row("4 KiB, batch of 10,000 then free (per pair)", frame_batch, &f, BATCH_FRAMES);
	f.gfp = __GFP_NOZERO;
	row("4 KiB, batch of 10,000, __GFP_NOZERO (per pair)", frame_batch, &f,
	    BATCH_FRAMES);
	f.order = HPAGE_PMD_ORDER;
	f.gfp = GFP_KERNEL;
	row("2 MiB (order 9)", frame_pair, &f, 1);
	f.gfp = __GFP_NOZERO;
	row("2 MiB (order 9), __GFP_NOZERO", frame_pair, &f, 1);
	row("reference: host malloc(4096) + free", host_malloc_pair, NULL, 1);
	row("reference: host memset of 4 KiB", host_memset_frame, buf, 1);

	if (f.failures) {
		fprintf(stderr, "bench_pgtable: %llu frame allocations failed\n",
			(unsigned long long)f.failures);
		ret = 1;
	}
	quota_drain(&f.quota);	/* what this thread charged ahead */
	if (quota_used(&f.quota)) {
		fprintf(stderr, "bench_pgtable: %llu frames still charged\n",
			(unsigned long long)quota_used(&f.quota));
		ret = 1;
	}
	free(buf);
	free(f.batch);
	return ret;
}

static void print_metadata(void)
{
	double per_gib = (double)sizeof(struct page) * (1UL << 30) / PAGE_SIZE;

	bench_print_section("4. frame metadata");
	printf("  %-*s %10zu bytes per 4 KiB frame = %.2f%% (%.0f MiB per GiB)\n",
	       BENCH_LABEL_W - 2, "sizeof(struct page)", sizeof(struct page),
	       100.0 * sizeof(struct page) / PAGE_SIZE, per_gib / (1 << 20));
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	char title[96];
	int ret;

	if (bench_parse_args(argc, argv, &o))
		return 2;
	opts = &o;
	if (page_alloc_init())
		return fail("page_alloc_init", ENOMEM);

	snprintf(title, sizeof(title), "bench_pgtable%s: ns/op, %u runs",
		 o.quick ? " --quick (smoke run, not numbers)" : "", o.runs);
	bench_print_header(title);
	ret = bench_walks();
	if (!ret)
		ret = bench_frames();
	print_metadata();
	return ret;
}
