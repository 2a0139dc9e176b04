// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_oom_fuzz - random call sequences with a failure injected at every
 * point of each call: the n-th heap allocation (once, or from the n-th
 * on), the n-th VMA-tree node, the n-th xarray node, and a frame limit
 * (process-wide and the mm's own) n - 1 frames above what is in use.
 *
 * A sequence is replayed from scratch for every injection: ops 0..k-1
 * unarmed, op k armed. The reference (ops 0..k, unarmed) gives the return
 * and the state (maps, and a hash of every readable page) to expect. An
 * armed call that returns what the reference did must leave the same
 * state; one that fails must return a Linux errno for running out of
 * memory, keep the maps (calls Linux does not keep atomic are noted),
 * keep every byte outside its range, and succeed when run again. Once
 * everything is unmapped, unpinned and truncated, an mm holds nothing but
 * its page tables; after every run every frame and table is back.
 *
 * Where Linux itself leaves a call half done on ENOMEM (munmap, mprotect,
 * madvise and mlock over several VMAs, mremap_to's early unmaps, its
 * "unable to split vma" success, mlockall's ignored errors), a difference
 * is counted as soft, not failed (FUZZ_VERBOSE=1 prints them).
 * Even seeds (FUZZ_THP=1: all; 0: none) start from THPs everywhere:
 * faulted, populated, a collapsed shared-memory block, a fork, a pin.
 *
 * FUZZ_SEED=s FUZZ_SEQS=n FUZZ_OPS=n (defaults 1, 2, 14).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"
#include "page_alloc.h"
#include "xarray.h"
#include "vma_tree.h"
#include "test_wrap_alloc.h"
#include "uapi_mman.h"

#define P		4096UL
#define W		0x10000000UL
#define WPAGES		1536UL
#define FPAGES		1024UL
#define GPAGES		64UL

/* ------------------------------------------------------------------ */
/* heap failure injection (as test_failslab) */

static __thread bool fs_armed, fs_from_on;
static __thread long fs_nth, fs_count, fs_failed;

static bool fs_fail(void)
{
	long k;

	if (!fs_armed)
		return false;
	k = ++fs_count;
	if (fs_from_on ? k < fs_nth : k != fs_nth)
		return false;
	fs_failed++;
	return true;
}

void *__wrap_malloc(size_t n)
{
	if (fs_fail())
		return errno = ENOMEM, NULL;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t s)
{
	if (fs_fail())
		return errno = ENOMEM, NULL;
	return __real_calloc(n, s);
}
void *__wrap_realloc(void *o, size_t n)
{
	if (fs_fail())
		return errno = ENOMEM, NULL;
	return __real_realloc(o, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n)
{
	if (fs_fail())
		return errno = ENOMEM, NULL;
	return __real_aligned_alloc(a, n);
}
int __wrap_posix_memalign(void **pp, size_t a, size_t n)
{
	if (fs_fail())
		return ENOMEM;
	return __real_posix_memalign(pp, a, n);
}
char *__wrap_strdup(const char *s)
{
	if (fs_fail())
		return errno = ENOMEM, NULL;
	return __real_strdup(s);
}
void __wrap_free(void *p)
{
	__real_free(p);
}

/* ------------------------------------------------------------------ */
/* random */

static uint64_t rng;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static uint64_t rn(uint64_t n) { return n ? rnd() % n : 0; }

/* ------------------------------------------------------------------ */
/* ops */

enum {
	OP_MMAP, OP_MMAP_SHARED, OP_MMAP_FILE, OP_MMAP_GFILE, OP_MMAP_ANYWHERE,
	OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_MADVISE, OP_MLOCK, OP_MUNLOCK,
	OP_MLOCKALL, OP_MUNLOCKALL, OP_FORK, OP_CHILD_DESTROY, OP_PIN, OP_UNPIN,
	OP_PINWRITE, OP_WRITE, OP_FAULT, OP_TRUNCATE, OP_MSYNC, OP_READ, OP_NR
};
static const char *const op_names[] = {
	"mmap", "mmap_shared", "mmap_file", "mmap_gfile", "mmap_anywhere",
	"munmap", "mprotect", "mremap", "madvise", "mlock", "munlock",
	"mlockall", "munlockall", "fork", "child_destroy", "pin", "unpin",
	"pinwrite", "write", "fault", "truncate", "msync", "read",
};

struct op {
	int type, tgt;
	uint64_t a, len, b, c;
	int prot, flags;
	uint32_t seed;
};

static const int advices[] = {
	MADV_DONTNEED, MADV_FREE, MADV_PAGEOUT, MADV_COLD, MADV_POPULATE_WRITE,
	MADV_POPULATE_READ, MADV_COLLAPSE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
	MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_GUARD_INSTALL,
	MADV_GUARD_REMOVE, MADV_REMOVE, MADV_WILLNEED, MADV_DONTNEED_LOCKED,
	MADV_KEEPONFORK, MADV_NORMAL, MADV_RANDOM,
	MADV_POPULATE_WRITE, MADV_POPULATE_WRITE, MADV_COLLAPSE, MADV_COLLAPSE,
	MADV_COLLAPSE, MADV_PAGEOUT, MADV_FREE, MADV_DONTNEED, MADV_POPULATE_READ,
};

static uint64_t r_addr(void) { return W + rn(WPAGES) * P; }
static uint64_t r_len(void)
{
	switch (rn(8)) {
	case 0: return 512 * P;
	case 1: return (1 + rn(200)) * P;
	default: return (1 + rn(24)) * P;
	}
}
static int r_prot(void)
{
	static const int p[] = { PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
				 PROT_READ, PROT_NONE, PROT_WRITE };
	return p[rn(5)];
}

static void gen_op(struct op *o, bool have_child)
{
	memset(o, 0, sizeof(*o));
	o->seed = (uint32_t)rnd();
	o->tgt = have_child && rn(6) == 0;
	switch (rn(32)) {
	case 0: case 1: case 2:
		o->type = OP_MMAP;
		o->a = rn(3) ? r_addr() : W + rn(3) * 512 * P;
		o->len = r_len();
		o->prot = r_prot();
		o->flags = rn(8) ? 0 : MAP_NORESERVE;
		break;
	case 3:
		o->type = OP_MMAP_SHARED;
		o->a = r_addr();
		o->len = r_len();
		o->prot = r_prot();
		break;
	case 4:
		o->type = rn(3) ? OP_MMAP_FILE : OP_MMAP_GFILE;
		o->a = r_addr();
		o->len = (1 + rn(32)) * P;
		o->b = rn(o->type == OP_MMAP_FILE ? FPAGES : GPAGES) * P;
		o->prot = r_prot();
		o->flags = rn(2) ? MAP_SHARED : MAP_PRIVATE;
		if (o->type == OP_MMAP_FILE && !rn(4)) {
			o->a = W + 512 * P * rn(3);
			o->len = 512 * P;
			o->b = 512 * P * rn(2);
		}
		break;
	case 5:
		o->type = OP_MMAP_ANYWHERE;
		o->len = r_len();
		o->prot = r_prot();
		break;
	case 6: case 7:
		o->type = OP_MUNMAP;
		o->a = r_addr();
		o->len = r_len();
		break;
	case 8: case 9: case 10:
		o->type = OP_MPROTECT;
		o->a = r_addr();
		o->len = r_len();
		o->prot = r_prot();
		break;
	case 11: case 12:
		o->type = OP_MREMAP;
		o->a = r_addr();
		o->len = r_len();
		o->b = rn(3) ? r_len() : o->len;
		switch (rn(5)) {
		case 0: o->flags = 0; break;
		case 1: o->flags = MREMAP_MAYMOVE; break;
		case 2: o->flags = MREMAP_MAYMOVE | MREMAP_FIXED; o->c = r_addr(); break;
		case 3: o->flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP; o->b = o->len;
			o->c = rn(2) ? r_addr() : 0;
			if (o->c) o->flags |= MREMAP_FIXED;
			break;
		case 4: o->flags = MREMAP_MAYMOVE | MREMAP_FIXED; o->c = r_addr();
			o->b = o->len; break;
		}
		break;
	case 13: case 14: case 15: case 16:
		o->type = OP_MADVISE;
		o->a = r_addr();
		o->len = r_len();
		o->flags = advices[rn(sizeof(advices) / sizeof(advices[0]))];
		if (o->flags == MADV_COLLAPSE || o->flags == MADV_HUGEPAGE) {
			o->a &= ~(512 * P - 1);
			o->len = 512 * P * (1 + rn(2));
		}
		break;
	case 17:
		o->type = rn(2) ? OP_MLOCK : OP_MUNLOCK;
		o->a = r_addr();
		o->len = r_len();
		o->flags = rn(3) ? 0 : MLOCK_ONFAULT;
		break;
	case 18:
		o->type = rn(3) ? OP_MLOCKALL : OP_MUNLOCKALL;
		o->flags = (int[]){ MCL_CURRENT, MCL_FUTURE, MCL_CURRENT | MCL_FUTURE,
				    MCL_CURRENT | MCL_ONFAULT }[rn(4)];
		break;
	case 19:
		o->type = rn(3) ? OP_FORK : OP_CHILD_DESTROY;
		o->tgt = 0;
		break;
	case 20:
		o->type = OP_PIN;
		o->a = r_addr();
		o->len = 1 + rn(8);
		o->flags = rn(2) ? UMM_READ : UMM_READ | UMM_WRITE;
		break;
	case 21:
		o->type = rn(2) ? OP_UNPIN : OP_PINWRITE;
		o->a = rn(64);
		o->flags = rn(2);
		break;
	case 22: case 23: case 24: case 25: case 30: case 31:
		o->type = OP_WRITE;
		o->a = r_addr() + rn(P);
		o->len = 1 + rn(rn(4) ? 3 * P : 40 * P);
		break;
	case 26:
		o->type = OP_FAULT;
		o->a = r_addr();
		o->flags = rn(2) ? UMM_READ : UMM_WRITE;
		break;
	case 27:
		o->type = OP_TRUNCATE;
		o->a = rn(FPAGES + 1) * P + (rn(2) ? rn(P) : 0);
		break;
	case 28:
		o->type = OP_MSYNC;
		o->a = r_addr();
		o->len = r_len();
		o->flags = rn(2) ? MS_SYNC : MS_ASYNC;
		break;
	case 29:
		o->type = OP_READ;
		o->a = r_addr() + rn(P);
		o->len = 1 + rn(3 * P);
		break;
	}
}

static void print_op(FILE *f, int k, const struct op *o)
{
	fprintf(f, "    op %d: %s tgt=%d a=%#llx len=%#llx b=%#llx c=%#llx prot=%d flags=%#x seed=%u\n",
		k, op_names[o->type], o->tgt, (unsigned long long)o->a,
		(unsigned long long)o->len, (unsigned long long)o->b,
		(unsigned long long)o->c, o->prot, o->flags, o->seed);
}

/* ------------------------------------------------------------------ */
/* the world */

#define MAX_PINS	64
struct world {
	struct umm_mm *mm, *child;
	struct umm_file *f, *g;
	void *pins[MAX_PINS];
	int npins;
};

static char host_path[64];
static uint64_t mm_limit_pages;
static int mm_thp;
static unsigned mm_flags;

static void world_build(struct world *w)
{
	struct umm_opts o = { .phys_limit = mm_limit_pages * P, .thp = mm_thp,
			      .flags = mm_flags };
	int fd;

	memset(w, 0, sizeof(*w));
	w->mm = umm_mm_create(&o);
	w->f = umm_file_create("fz", FPAGES * P, 0);
	fd = open(host_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, GPAGES * P))
		abort();
	w->g = umm_file_from_fd(fd, O_RDWR);
	close(fd);
	if (!w->mm || !w->f || !w->g)
		abort();
}

/*
 * Everything unmapped, unpinned and truncated away: what is still charged
 * to an mm must be its page tables. Return: false with a message if not.
 */
static bool world_drain_check(struct world *w, char *msg, size_t sz)
{
	struct umm_mm *mms[2] = { w->mm, w->child };

	if (w->npins)
		umm_unpin(w->mm, w->pins, w->npins);
	w->npins = 0;
	for (int i = 0; i < 2; i++)
		if (mms[i]) {
			umm_munlockall(mms[i]);
			CHECK_EQ(umm_munmap(mms[i], 0, (1ULL << 47) - P), 0);
		}
	umm_file_truncate(w->f, 0);
	umm_file_truncate(w->g, 0);
	rcu_barrier();
	for (int i = 0; i < 2; i++) {
		uint64_t used, tables;

		if (!mms[i])
			continue;
		quota_drain(mms[i]->quota);
		used = quota_used(mms[i]->quota);
		tables = mm_stat_read(mms[i], MM_PGTABLE_PAGES);
		if (used != tables) {
			snprintf(msg, sz, "%s: %llu frames charged once all is unmapped, "
				 "%llu page tables", i ? "child" : "mm",
				 (unsigned long long)used, (unsigned long long)tables);
			return false;
		}
	}
	return true;
}

static void world_destroy(struct world *w)
{
	if (w->npins)
		umm_unpin(w->mm, w->pins, w->npins);
	umm_mm_destroy(w->child);
	umm_mm_destroy(w->mm);
	umm_file_put(w->f);
	umm_file_put(w->g);
	memset(w, 0, sizeof(*w));
}

static void fill(unsigned char *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed + i * 7 + (i >> 8) + 1);
}

static unsigned char big[64 * P];

static int64_t exec_op(struct world *w, const struct op *o)
{
	struct umm_mm *mm = o->tgt && w->child ? w->child : w->mm;
	int64_t r;

	switch (o->type) {
	case OP_MMAP:
		return umm_mmap(mm, o->a, o->len, o->prot,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | o->flags, NULL, 0);
	case OP_MMAP_SHARED:
		return umm_mmap(mm, o->a, o->len, o->prot,
				MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, NULL, 0);
	case OP_MMAP_FILE:
		return umm_mmap(mm, o->a, o->len, o->prot, o->flags | MAP_FIXED, w->f, o->b);
	case OP_MMAP_GFILE:
		return umm_mmap(mm, o->a, o->len, o->prot, o->flags | MAP_FIXED, w->g, o->b);
	case OP_MMAP_ANYWHERE:
		return umm_mmap(mm, 0, o->len, o->prot, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	case OP_MUNMAP:
		return umm_munmap(mm, o->a, o->len);
	case OP_MPROTECT:
		return umm_mprotect(mm, o->a, o->len, o->prot);
	case OP_MREMAP:
		return umm_mremap(mm, o->a, o->len, o->b, o->flags, o->c);
	case OP_MADVISE:
		return umm_madvise(mm, o->a, o->len, o->flags);
	case OP_MLOCK:
		return o->flags ? umm_mlock2(mm, o->a, o->len, o->flags) : umm_mlock(mm, o->a, o->len);
	case OP_MUNLOCK:
		return umm_munlock(mm, o->a, o->len);
	case OP_MLOCKALL:
		return umm_mlockall(mm, o->flags);
	case OP_MUNLOCKALL:
		return umm_munlockall(mm);
	case OP_FORK: {
		struct umm_mm *c = NULL;

		r = umm_fork(w->mm, &c);
		if (r)
			return r;
		umm_mm_destroy(w->child);
		w->child = c;
		return 0;
	}
	case OP_CHILD_DESTROY:
		umm_mm_destroy(w->child);
		w->child = NULL;
		return 0;
	case OP_PIN:
		if (w->npins + (int)o->len > MAX_PINS)
			return 1;
		r = umm_pin(w->mm, o->a, o->len, o->flags, w->pins + w->npins);
		if (!r)
			w->npins += o->len;
		return r;
	case OP_UNPIN:
		if (!w->npins)
			return 1;
		umm_unpin_dirty(w->mm, w->pins, w->npins, o->flags);
		w->npins = 0;
		return 0;
	case OP_PINWRITE:
		if (!w->npins)
			return 1;
		fill((unsigned char *)w->pins[o->a % w->npins] + 64, 64, o->seed);
		return 0;
	case OP_WRITE:
		fill(big, o->len, o->seed);
		return umm_write(mm, o->a, big, o->len);
	case OP_READ:
		return umm_read(mm, o->a, big, o->len);
	case OP_FAULT:
		return umm_fault(mm, o->a, o->flags);
	case OP_TRUNCATE:
		return umm_file_truncate(w->f, o->a);
	case OP_MSYNC:
		return umm_msync(mm, o->a, o->len, o->flags);
	}
	return -9999;
}

/* ------------------------------------------------------------------ */
/* state */

struct pg { uint64_t addr, hash; };
struct snap {
	char *maps[2];
	struct pg *pg[2];
	size_t npg[2];
};

static uint64_t hash_page(const unsigned char *b)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	const uint64_t *q = (const uint64_t *)b;

	for (size_t i = 0; i < P / 8; i++)
		h = (h ^ q[i]) * 0x100000001b3ull + (h >> 29);
	return h;
}

static uint64_t zero_hash;

/* Every page of every readable VMA (faults them in: a run's last step). */
static void snap_full(struct umm_mm *mm, char *maps, struct pg **out, size_t *nout)
{
	size_t n = 0, cap = 1024;
	struct pg *v = malloc(cap * sizeof(*v));
	unsigned char b[P];

	for (char *p = maps; p && *p;) {
		unsigned long long s, e;
		char perms[8];

		if (sscanf(p, "%llx-%llx %7s", &s, &e, perms) == 3 && perms[0] == 'r') {
			for (uint64_t a = s; a < e; a += P) {
				int64_t r = umm_read(mm, a, b, P);

				if (n == cap)
					v = realloc(v, (cap *= 2) * sizeof(*v));
				v[n].addr = a;
				v[n].hash = r == (int64_t)P ? hash_page(b) : (uint64_t)r;
				n++;
			}
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	*out = v;
	*nout = n;
}

static void lift_limits(struct world *w)
{
	WRITE_ONCE(w->mm->quota->limit, QUOTA_UNLIMITED);
	if (w->child)
		WRITE_ONCE(w->child->quota->limit, QUOTA_UNLIMITED);
	page_alloc_set_limit(0);
}

static void snap_take(struct world *w, struct snap *s)
{
	struct umm_mm *mms[2] = { w->mm, w->child };

	lift_limits(w);
	for (int i = 0; i < 2; i++) {
		s->maps[i] = maps_text(mms[i]);
		s->pg[i] = NULL;
		s->npg[i] = 0;
		if (mms[i])
			snap_full(mms[i], s->maps[i], &s->pg[i], &s->npg[i]);
	}
}

static void snap_free(struct snap *s)
{
	for (int i = 0; i < 2; i++) {
		free(s->maps[i]);
		free(s->pg[i]);
	}
	memset(s, 0, sizeof(*s));
}

/* Compare two full snapshots; print up to a few differences. */
static bool snap_equal(const struct snap *a, const struct snap *b, bool quiet)
{
	bool eq = true;

	for (int i = 0; i < 2; i++) {
		int shown = 0;

		if (strcmp(a->maps[i], b->maps[i])) {
			if (!quiet) {
				fprintf(stderr, "    %s maps differ (- expected, + got):\n",
					i ? "child" : "mm");
				print_maps_diff(a->maps[i], b->maps[i]);
			}
			eq = false;
			continue;
		}
		for (size_t j = 0; j < a->npg[i] && j < b->npg[i]; j++) {
			if (a->pg[i][j].hash == b->pg[i][j].hash)
				continue;
			eq = false;
			if (!quiet && shown++ < 6)
				fprintf(stderr, "    %s page %#llx differs (%s%s)\n",
					i ? "child" : "mm", (unsigned long long)a->pg[i][j].addr,
					(int64_t)a->pg[i][j].hash < 0 && (int64_t)a->pg[i][j].hash > -200 ? "expected error " : "",
					(int64_t)b->pg[i][j].hash < 0 && (int64_t)b->pg[i][j].hash > -200 ? "got error" :
					b->pg[i][j].hash == zero_hash ? "got zeroes" : "");
		}
	}
	return eq;
}

/* ------------------------------------------------------------------ */
/* injection */

enum { M_ONCE, M_FROM_ON, M_VT, M_XA, M_FRAMES, M_MMLIMIT, M_NR };
static const char *const mode_names[] = { "heap-once", "heap-from-on", "vt-node",
					  "xa-node", "frames", "mm-limit" };

static void arm(struct world *w, const struct op *o, int mode, long n)
{
	struct page_alloc_stats st;
	struct umm_mm *mm = o->tgt && w->child ? w->child : w->mm;

	switch (mode) {
	case M_ONCE:
	case M_FROM_ON:
		fs_nth = n;
		fs_from_on = mode == M_FROM_ON;
		fs_count = fs_failed = 0;
		fs_armed = true;
		break;
	case M_VT:
		vma_tree_fail_alloc_after(n);
		break;
	case M_XA:
		xa_debug_fail_nth(n);
		break;
	case M_FRAMES:
		page_alloc_get_stats(&st);
		page_alloc_set_limit((st.in_use_pages + n - 1) * P);
		break;
	case M_MMLIMIT:
		if (quota_used(mm->quota) + n - 1 < mm_limit_pages)
			WRITE_ONCE(mm->quota->limit, quota_used(mm->quota) + n - 1);
		break;
	}
}

static void disarm(struct world *w, const struct op *o, int mode)
{
	struct umm_mm *mm = o->tgt && w->child ? w->child : w->mm;

	fs_armed = false;
	vma_tree_fail_alloc_after(0);
	xa_debug_fail_nth(0);
	page_alloc_set_limit(0);
	if (mode == M_MMLIMIT && mm)
		WRITE_ONCE(mm->quota->limit, mm_limit_pages);
}

/* ------------------------------------------------------------------ */
/* checking */

static bool verbose;
static unsigned long nruns, nfindings, nsoft;
static struct page_alloc_stats base;
static uint64_t cur_seed;
static unsigned long soft_count[OP_NR][M_NR];
static unsigned long fail_count[OP_NR][M_NR], same_count[OP_NR][M_NR];

/* errnos Linux gives these calls for running out of memory */
static bool errno_ok(const struct op *o, int64_t r)
{
	switch (o->type) {
	case OP_MADVISE:
		/* a charge refused (memcg's) is -EBUSY for MADV_COLLAPSE */
		return r == -ENOMEM || r == -EAGAIN ||
		       (o->flags == MADV_COLLAPSE && r == -EBUSY);
	case OP_MLOCK:
		return r == -ENOMEM || r == -EAGAIN;
	case OP_WRITE:
	case OP_READ:
		return r == -ENOMEM || r == -EFAULT || (r > 0 && r < (int64_t)o->len);
	default:
		return r == -ENOMEM;
	}
}

/* Calls Linux may leave half done on ENOMEM. */
static bool may_be_partial(const struct op *o)
{
	switch (o->type) {
	case OP_MUNMAP: case OP_MPROTECT: case OP_MADVISE: case OP_MLOCK:
	case OP_MUNLOCK: case OP_MLOCKALL: case OP_MUNLOCKALL: case OP_WRITE:
	case OP_MMAP: case OP_MMAP_SHARED: case OP_MMAP_FILE: case OP_MMAP_GFILE:
		return true;
	case OP_MREMAP:
		/* mremap_to unmaps the target and cuts the source before the move */
		return (o->flags & MREMAP_FIXED) || o->b < o->len;
	}
	return false;
}

static void finding(const char *what, const struct op *ops, int k, int mode, long n,
		    int64_t r, int64_t ref_r, bool soft)
{
	if (soft) {
		nsoft++;
		soft_count[ops[k].type][mode]++;
		if (!verbose)
			return;
	} else {
		nfindings++;
	}
	fprintf(stderr, "%s: seed %llu step %d %s n=%ld: %s (returned %lld, reference %lld)\n",
		soft ? "SOFT" : "FAIL", (unsigned long long)cur_seed, k, mode_names[mode], n,
		what, (long long)r, (long long)ref_r);
	print_op(stderr, k, &ops[k]);
	if (!soft)
		CHECK(0);
}

/*
 * Present pages only (pagemap), so the check changes nothing: a page
 * present before the call (in @pre) reads back unless the call's range
 * holds it; a private anonymous page gone reads zero, which must be what
 * it held.
 */
static bool in_range(const struct op *o, uint64_t a)
{
	if (o->type == OP_MREMAP && (o->flags & MREMAP_FIXED) &&
	    a >= o->c && a < o->c + (o->b > o->len ? o->b : o->len))
		return true;
	if (o->type == OP_TRUNCATE || o->type == OP_FORK || o->type == OP_CHILD_DESTROY)
		return true;
	if (o->type == OP_PINWRITE || o->type == OP_UNPIN)
		return true;
	if (o->type == OP_WRITE)
		return a + P > o->a && a < o->a + o->len;
	if (o->type == OP_MREMAP)
		return a >= o->a && a < o->a + (o->b > o->len ? o->b : o->len);
	return a >= o->a && a < o->a + o->len;
}

static bool check_unchanged(struct world *w, const struct snap *pre, const struct op *o,
			    const struct op *ops, int k, int mode, long n, int64_t r,
			    int64_t ref_r)
{
	struct umm_mm *mms[2] = { w->mm, w->child };
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		unsigned char b[P];
		uint64_t pm;

		if (!mms[i])
			continue;
		for (size_t j = 0; j < pre->npg[i]; j++) {
			uint64_t a = pre->pg[i][j].addr;
			char what[160];

			if (in_range(o, a) || (int64_t)pre->pg[i][j].hash < 0)
				continue;
			if (umm_pagemap(mms[i], a, 1, &pm) || !(pm >> 63))
				continue;
			if (umm_read(mms[i], a, b, P) != (int64_t)P)
				continue;	/* protection changed: the maps say */
			if (hash_page(b) == pre->pg[i][j].hash)
				continue;
			snprintf(what, sizeof(what), "%s page %#llx changed by a failed call%s",
				 i ? "child" : "mm", (unsigned long long)a,
				 hash_page(b) == zero_hash ? " (now zeroes)" : "");
			finding(what, ops, k, mode, n, r, ref_r, false);
			ok = false;
			break;
		}
	}
	return ok;
}

struct seq {
	struct op *ops;
	int nops;
	int64_t *ref_r;
	struct snap *ref;	/* after op k */
	long *frames;		/* frames op k took in the reference */
};

static void replay(struct world *w, struct seq *s, int upto)
{
	for (int i = 0; i < upto; i++) {
		int64_t r = exec_op(w, &s->ops[i]);

		if (r != s->ref_r[i]) {
			fprintf(stderr, "nondeterministic: seed %llu op %d returned %lld, reference %lld\n",
				(unsigned long long)cur_seed, i, (long long)r, (long long)s->ref_r[i]);
			print_op(stderr, i, &s->ops[i]);
			CHECK(0);
		}
	}
}

static void frames_back(const char *tag, struct seq *s, int k, int mode, long n)
{
	struct page_alloc_stats after;

	rcu_barrier();
	page_alloc_get_stats(&after);
	if (after.in_use_pages != base.in_use_pages ||
	    after.pgtable_pages != base.pgtable_pages) {
		char what[200];

		snprintf(what, sizeof(what), "%s: frames %llu -> %llu, tables %llu -> %llu",
			 tag, (unsigned long long)base.in_use_pages,
			 (unsigned long long)after.in_use_pages,
			 (unsigned long long)base.pgtable_pages,
			 (unsigned long long)after.pgtable_pages);
		finding(what, s->ops, k, mode, n, 0, 0, false);
		base = after;
	}
}

/*
 * One armed run of op @k. Return: whether the run looked the same as the
 * reference (the end of this mode's n).
 */
static bool one_run(struct seq *s, int k, int mode, long n)
{
	const struct op *o = &s->ops[k];
	int64_t ref_r = s->ref_r[k], r;
	char *pre_maps[2], *post_maps[2];
	struct snap post;
	struct world w;
	bool same = false, injected;

	nruns++;
	world_build(&w);
	replay(&w, s, k);
	pre_maps[0] = maps_text(w.mm);
	pre_maps[1] = maps_text(w.child);
	arm(&w, o, mode, n);
	r = exec_op(&w, o);
	injected = (mode == M_ONCE || mode == M_FROM_ON) ? fs_failed > 0 : true;
	disarm(&w, o, mode);

	post_maps[0] = maps_text(w.mm);
	post_maps[1] = maps_text(w.child);
	/* a failure the reference shares may have stopped at another point */
	if (r == ref_r && (r >= 0 || (!strcmp(post_maps[0], s->ref[k].maps[0]) &&
				      !strcmp(post_maps[1], s->ref[k].maps[1])))) {
		snap_take(&w, &post);
		same = snap_equal(&s->ref[k], &post, true);
		same_count[o->type][mode]++;
		if (!same) {
			bool soft = o->type == OP_MREMAP || o->type == OP_MADVISE ||
				    o->type == OP_MLOCKALL || o->type == OP_MUNLOCKALL;

			finding("succeeded, but the state differs from the reference", s->ops, k,
				mode, n, r, ref_r, soft);
			if (!soft || verbose)
				snap_equal(&s->ref[k], &post, false);
		}
		snap_free(&post);
	} else if (!injected) {
		finding("different result without an injected failure", s->ops, k, mode, n,
			r, ref_r, false);
	} else if (!errno_ok(o, r) || (ref_r < 0 && ref_r != r && o->type != OP_WRITE &&
				       o->type != OP_READ)) {
		finding("not a Linux errno for out of memory", s->ops, k, mode, n, r, ref_r,
			ref_r < 0);
	} else {
		bool unchanged;
		const struct snap *pre = k ? &s->ref[k - 1] : NULL;

		fail_count[o->type][mode]++;
		unchanged = !strcmp(pre_maps[0], post_maps[0]) &&
			    !strcmp(pre_maps[1], post_maps[1]);
		if (!unchanged) {
			finding("failed, but changed the maps", s->ops, k, mode, n, r, ref_r,
				may_be_partial(o));
			if (!may_be_partial(o) || verbose) {
				print_maps_diff(pre_maps[0], post_maps[0]);
				print_maps_diff(pre_maps[1], post_maps[1]);
			}
		}
		if (pre)
			check_unchanged(&w, pre, o, s->ops, k, mode, n, r, ref_r);
		/* again, unarmed: freeing (here: lifting) lets it succeed */
		r = exec_op(&w, o);
		if (r != ref_r && !(o->type == OP_PIN && r == 1)) {
			finding("the unarmed retry returned another result", s->ops, k, mode, n,
				r, ref_r, !unchanged);
		} else {
			snap_take(&w, &post);
			if (!snap_equal(&s->ref[k], &post, true)) {
				bool soft = !unchanged || o->type == OP_MADVISE ||
					    o->type == OP_MLOCKALL || o->type == OP_WRITE;

				finding("after the retry the state differs from the reference",
					s->ops, k, mode, n, r, ref_r, soft);
				if (!soft || verbose)
					snap_equal(&s->ref[k], &post, false);
			}
			snap_free(&post);
		}
	}
	free(pre_maps[0]);
	free(pre_maps[1]);
	free(post_maps[0]);
	free(post_maps[1]);
	{
		char msg[200];

		if (!world_drain_check(&w, msg, sizeof(msg)))
			finding(msg, s->ops, k, mode, n, 0, 0, false);
	}
	world_destroy(&w);
	frames_back("frames after the run", s, k, mode, n);
	if (mode == M_ONCE || mode == M_FROM_ON)
		return !injected;
	return same;
}

static void run_step(struct seq *s, int k)
{
	for (int mode = 0; mode < M_NR; mode++) {
		long maxn, stride = 1, clean = 0;

		switch (mode) {
		case M_ONCE: case M_FROM_ON: maxn = 400; break;
		case M_VT: maxn = 12; break;
		case M_XA: maxn = 6; break;
		default:
			maxn = s->frames[k] + 3;
			if (maxn < 4)
				maxn = 4;
			break;
		}
		for (long n = 1; n <= maxn; n += stride) {
			bool end = one_run(s, k, mode, n);

			if ((mode == M_ONCE || mode == M_FROM_ON) && end)
				break;
			if (mode == M_VT || mode == M_XA) {
				clean = end ? clean + 1 : 0;
				if (clean >= 3)
					break;
			}
			if (mode >= M_FRAMES && n >= 24)
				stride = maxn / 24 > 1 ? maxn / 24 : 1;
			if (mode >= M_FRAMES && n + stride > maxn && n < maxn)
				stride = maxn - n;
		}
	}
}

/* A mapped, written window to start from. */
static int nprologue = 8;
static bool thp_profile;

/* THPs everywhere: anonymous (faulted, populated), shmem collapsed, forked, pinned */
static void prologue_thp(struct op *o, int i)
{
	switch (i) {
	case 0: o->type = OP_MMAP; o->a = W; o->len = WPAGES * P; break;
	case 1: o->type = OP_MMAP_FILE; o->flags = MAP_SHARED;
		o->a = W + 512 * P; o->len = 512 * P; o->b = 0; break;
	case 2: o->type = OP_MADVISE; o->a = W; o->len = 512 * P;
		o->flags = MADV_POPULATE_WRITE; break;
	case 3: o->type = OP_WRITE; o->a = W + (512 + rn(400)) * P; o->len = 60 * P; break;
	case 4: o->type = OP_MADVISE; o->a = W + 512 * P; o->len = 512 * P;
		o->flags = MADV_COLLAPSE; break;
	case 5: o->type = OP_FORK; break;
	case 6: o->type = OP_WRITE; o->a = W + (1024 + rn(400)) * P; o->len = (1 + rn(60)) * P; break;
	case 7: o->type = OP_PIN; o->a = W + rn(1536) * P; o->len = 1 + rn(8);
		o->flags = UMM_READ | (rn(2) ? UMM_WRITE : 0); break;
	}
}

static void prologue_op(struct op *o, int i)
{
	memset(o, 0, sizeof(*o));
	o->seed = (uint32_t)rnd();
	o->prot = PROT_READ | PROT_WRITE;
	if (thp_profile)
		return prologue_thp(o, i);
	switch (i) {
	case 0: o->type = OP_MMAP; o->a = W; o->len = WPAGES * P; break;
	case 1: o->type = OP_MMAP_FILE; o->flags = MAP_SHARED;
		if (rn(2)) {
			o->a = W + 512 * P; o->len = 512 * P; o->b = 512 * P * rn(2);
		} else {
			o->a = W + (256 + rn(256)) * P; o->len = 64 * P; o->b = rn(64) * P;
		}
		break;
	case 2: o->type = OP_MADVISE; o->a = W + 1024 * P; o->len = 512 * P;
		o->flags = rn(2) ? MADV_HUGEPAGE : MADV_NORMAL; break;
	case 3: o->type = OP_MMAP_GFILE; o->a = W + (700 + rn(256)) * P; o->len = 16 * P;
		o->flags = rn(2) ? MAP_SHARED : MAP_PRIVATE; o->b = rn(32) * P; break;
	default:
		o->type = OP_WRITE;
		o->a = r_addr();
		o->len = (1 + rn(60)) * P;
		o->tgt = 0;
		break;
	}
}

static void run_seq(uint64_t seed, int nops)
{
	struct seq s;
	struct world w;
	bool have_child = false;

	cur_seed = seed;
	rng = seed * 0x9E3779B97F4A7C15ull + 1;
	thp_profile = getenv("FUZZ_THP") ? atoi(getenv("FUZZ_THP")) : !(seed & 1);
	mm_limit_pages = 200 + rn(rn(2) ? 1400 : 3000);
	mm_thp = rn(3) ? UMM_THP_MADVISE : UMM_THP_ALWAYS;
	if (thp_profile) {
		mm_limit_pages = 1200 + rn(3000);
		mm_thp = UMM_THP_ALWAYS;
	}
	mm_flags = rn(4) ? 0 : UMM_NO_ZERO_PAGE;
	s.nops = nops;
	s.ops = calloc(nops, sizeof(*s.ops));
	s.ref_r = calloc(nops, sizeof(*s.ref_r));
	s.ref = calloc(nops, sizeof(*s.ref));
	s.frames = calloc(nops, sizeof(*s.frames));
	/* the ops, and the return of each in one unarmed run */
	for (int i = 0; i < nops; i++) {
		if (i < nprologue)
			prologue_op(&s.ops[i], i);
		else
			gen_op(&s.ops[i], have_child);
		if (s.ops[i].type == OP_FORK)
			have_child = true;
		if (s.ops[i].type == OP_CHILD_DESTROY)
			have_child = false;
	}
	world_build(&w);
	for (int i = 0; i < nops; i++) {
		struct page_alloc_stats a, b;

		page_alloc_get_stats(&a);
		s.ref_r[i] = exec_op(&w, &s.ops[i]);
		page_alloc_get_stats(&b);
		s.frames[i] = (long)b.in_use_pages - (long)a.in_use_pages;
		if (verbose) {
			fprintf(stderr, "  ref %lld frames %+ld ", (long long)s.ref_r[i], s.frames[i]);
			print_op(stderr, i, &s.ops[i]);
		}
	}
	world_destroy(&w);
	rcu_barrier();
	page_alloc_get_stats(&base);
	for (int k = 0; k < nops; k++) {
		world_build(&w);
		replay(&w, &s, k + 1);
		snap_take(&w, &s.ref[k]);
		{
			char msg[200];

			if (!world_drain_check(&w, msg, sizeof(msg)))
				finding(msg, s.ops, k, 0, 0, 0, 0, false);
		}
		world_destroy(&w);
		frames_back("frames after a reference", &s, k, 0, 0);
		run_step(&s, k);
	}
	for (int k = 0; k < nops; k++)
		snap_free(&s.ref[k]);
	free(s.ops);
	free(s.ref_r);
	free(s.ref);
	free(s.frames);
}

static uint64_t fuzz_seed = 1;
static int fuzz_seqs = 2, fuzz_ops = 14;

/* Counts: soft findings, and runs that failed or matched the reference. */
static void print_counts(void)
{
	for (int t = 0; t < OP_NR; t++)
		for (int m = 0; m < M_NR; m++)
			if (soft_count[t][m])
				printf("  soft: %-14s %-13s %lu\n", op_names[t], mode_names[m],
				       soft_count[t][m]);
	for (int t = 0; t < OP_NR; t++) {
		printf("  %-14s failed:", op_names[t]);
		for (int m = 0; m < M_NR; m++)
			printf(" %5lu", fail_count[t][m]);
		printf("   same:");
		for (int m = 0; m < M_NR; m++)
			printf(" %5lu", same_count[t][m]);
		printf("\n");
	}
}

static void test_sequences(void)
{
	for (int i = 0; i < fuzz_seqs; i++) {
		printf("sequence seed %llu\n", (unsigned long long)(fuzz_seed + i));
		fflush(stdout);
		run_seq(fuzz_seed + i, fuzz_ops);
		printf("  %lu runs, %lu findings, %lu soft\n", nruns, nfindings, nsoft);
		fflush(stdout);
	}
	if (verbose)
		print_counts();
	CHECK(!nfindings);
}

int main(void)
{
	unsigned char z[P];
	const char *e;

	setenv("UMM_KHUGEPAGED", "0", 0);
	setenv("UMM_PREZERO", "0", 0);
	setenv("UMM_PAGE_REPORTING", "0", 0);
	if ((e = getenv("FUZZ_SEED")))
		fuzz_seed = strtoull(e, NULL, 0);
	if ((e = getenv("FUZZ_SEQS")))
		fuzz_seqs = atoi(e);
	if ((e = getenv("FUZZ_OPS")))
		fuzz_ops = atoi(e);
	verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE"));
	memset(z, 0, P);
	zero_hash = hash_page(z);
	snprintf(host_path, sizeof(host_path), "/tmp/umm-oomfuzz-%d", getpid());
	RUN(test_sequences);
	unlink(host_path);
	return test_done();
}
