// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_failslab - heap-allocation failure injection (the kernel's failslab)
 * into every public call: "Out of memory returns -ENOMEM and recovers.
 * Nothing is lost: a byte written to a mapping that still exists reads
 * back." No crash, no abort, no leak.
 *
 * malloc, calloc, realloc, aligned_alloc, posix_memalign, strdup and free
 * are wrapped at link time (tests/CMakeLists.txt: -Wl,--wrap=...). A
 * thread-local countdown arms the wrappers: fail_nth(n, ONCE) makes the
 * n-th allocation of this thread (umm's own workers never fail) return
 * NULL with errno ENOMEM, once; FROM_ON fails every allocation from the
 * n-th on. Only allocations made while armed count. Two more modes fail
 * what is not heap: VT_NODE the n-th VMA-tree node, FRAMES every frame
 * past n - 1 more than were in use (the process-wide frame limit).
 *
 * Each scenario builds a varied address space on a fresh mm (unarmed),
 * then runs ONE operation armed, for n = 1, 2, ... until a run injects no
 * failure, in both modes, and checks:
 *  (a) no crash (ASan clean in the ASan build);
 *  (b) success: maps as an unarmed reference run's; failure: the errno
 *      Linux gives for a kernel allocation failure in that call;
 *  (c) failure: maps that differ from before the call are reported (kept
 *      as "soft" findings: Linux does not keep every call atomic), but
 *      every byte the set-up wrote that is still mapped, readable, reads
 *      back unchanged;
 *  (d) the same operation, run again unarmed, succeeds;
 *  (e) after everything is destroyed, rcu_barrier(): frames and page
 *      tables back to the start; no heap block leaked (LeakSanitizer in
 *      the ASan build; FAILSLAB_LEAKS=1 adds the test's own tracking of
 *      blocks allocated while armed, which needs a build with debug
 *      information: it tells the VMA tree's pooled blocks, which are
 *      never freed, by their inlined allocation frames).
 *
 * FAILSLAB_ONLY=name runs one scenario; FAILSLAB_VERBOSE=1 prints each
 * injected failure's call chain (symbolised with addr2line);
 * FAILSLAB_STRICT=1 turns the soft findings (changed maps after a
 * failure, maps after the retry that differ from the reference) into
 * failures.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "mm.h"
#include "page_alloc.h"
#include "test_wrap_alloc.h"
#include "uapi_mman.h"

#define P		4096UL
#define B		0x10000000UL	/* 2 MiB aligned */
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

/* ------------------------------------------------------------------ */
/* The wrappers */

/*
 * VT_NODE: not the heap but the VMA tree's own node allocations (which
 * mostly come from its pools, not malloc): vma_tree_fail_alloc_after(n).
 */
enum { ONCE, FROM_ON, VT_NODE, FRAMES };

#define BT_DEPTH	10
static __thread bool fs_armed, fs_in_wrapper;
static __thread int fs_mode;
static __thread long fs_nth, fs_count, fs_failed;
static __thread void *fs_fail_bt[BT_DEPTH];	/* the first injected failure's */
static __thread int fs_fail_bt_n;
static __thread const char *fs_fail_fn;

/* Blocks allocated while armed, until freed (by any thread). */
#define TRACK_SLOTS	(1u << 16)
struct track { void *p; void *bt[BT_DEPTH]; int n; };
static struct track *track_tab;
static unsigned long track_count;	/* live entries */
static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static bool track_overflow;

static unsigned track_hash(void *p)
{
	return (unsigned)(((uintptr_t)p >> 4) * 0x9E3779B1u) & (TRACK_SLOTS - 1);
}

static void track_add(void *p)
{
	void *bt[BT_DEPTH];
	int n;

	if (!p)
		return;
	n = backtrace(bt, BT_DEPTH);
	pthread_mutex_lock(&track_lock);
	if (track_count >= TRACK_SLOTS / 2) {
		track_overflow = true;
	} else {
		unsigned h = track_hash(p);

		while (track_tab[h].p)
			h = (h + 1) & (TRACK_SLOTS - 1);
		track_tab[h].p = p;
		memcpy(track_tab[h].bt, bt, sizeof(bt));
		track_tab[h].n = n;
		__atomic_store_n(&track_count, track_count + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&track_lock);
}

static void track_del(void *p)
{
	unsigned h, j;

	if (!p || !__atomic_load_n(&track_count, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&track_lock);
	h = track_hash(p);
	while (track_tab[h].p && track_tab[h].p != p)
		h = (h + 1) & (TRACK_SLOTS - 1);
	if (track_tab[h].p) {
		/* backward-shift deletion keeps the probe chains whole */
		track_tab[h].p = NULL;
		j = h;
		for (;;) {
			unsigned k;

			j = (j + 1) & (TRACK_SLOTS - 1);
			if (!track_tab[j].p)
				break;
			k = track_hash(track_tab[j].p);
			if ((j > h && (k <= h || k > j)) || (j < h && (k <= h && k > j))) {
				track_tab[h] = track_tab[j];
				track_tab[j].p = NULL;
				h = j;
			}
		}
		__atomic_store_n(&track_count, track_count - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&track_lock);
}

/* Should this allocation fail? Counts it when armed. */
static bool fs_fail(const char *fn)
{
	long k;

	if (!fs_armed || fs_in_wrapper)
		return false;
	k = ++fs_count;
	if (fs_mode == ONCE ? k != fs_nth : k < fs_nth)
		return false;
	if (!fs_failed++) {
		fs_in_wrapper = true;
		fs_fail_bt_n = backtrace(fs_fail_bt, BT_DEPTH);
		fs_fail_fn = fn;
		fs_in_wrapper = false;
	}
	return true;
}

static void fs_track(void *p)
{
	if (fs_armed && !fs_in_wrapper && p) {
		fs_in_wrapper = true;
		track_add(p);
		fs_in_wrapper = false;
	}
}

void *__wrap_malloc(size_t n)
{
	void *p;

	if (fs_fail("malloc")) {
		errno = ENOMEM;
		return NULL;
	}
	p = __real_malloc(n);
	fs_track(p);
	return p;
}

void *__wrap_calloc(size_t n, size_t s)
{
	void *p;

	if (fs_fail("calloc")) {
		errno = ENOMEM;
		return NULL;
	}
	p = __real_calloc(n, s);
	fs_track(p);
	return p;
}

void *__wrap_realloc(void *old, size_t n)
{
	void *p;

	if (fs_fail("realloc")) {
		errno = ENOMEM;
		return NULL;
	}
	p = __real_realloc(old, n);
	if (p || !n) {
		track_del(old);
		fs_track(p);
	}
	return p;
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	void *p;

	if (fs_fail("aligned_alloc")) {
		errno = ENOMEM;
		return NULL;
	}
	p = __real_aligned_alloc(a, n);
	fs_track(p);
	return p;
}

int __wrap_posix_memalign(void **pp, size_t a, size_t n)
{
	int r;

	if (fs_fail("posix_memalign"))
		return ENOMEM;
	r = __real_posix_memalign(pp, a, n);
	if (!r)
		fs_track(*pp);
	return r;
}

char *__wrap_strdup(const char *s)
{
	char *p;

	if (fs_fail("strdup")) {
		errno = ENOMEM;
		return NULL;
	}
	p = __real_strdup(s);
	fs_track(p);
	return p;
}

void __wrap_free(void *p)
{
	track_del(p);
	__real_free(p);
}

static void fail_nth(long n, int mode)
{
	fs_nth = n;
	fs_mode = mode;
	fs_count = 0;
	fs_failed = 0;
	fs_fail_bt_n = 0;
	fs_armed = true;
}

static void disarm(void)
{
	fs_armed = false;
}

/* ------------------------------------------------------------------ */
/* Reporting */

static bool verbose, strict, track_leaks;
static unsigned long soft_findings;

/* "fn at file:line" for each frame, via addr2line on our own binary. */
static void print_bt(const char *indent, void *const *bt, int n)
{
	char cmd[4096], line[512];
	size_t len;
	Dl_info di;
	FILE *p;

	if (!n)
		return;
	if (!dladdr((void *)print_bt, &di) || !di.dli_fbase) {
		backtrace_symbols_fd((void *const *)bt, n, 2);
		return;
	}
	len = snprintf(cmd, sizeof(cmd), "addr2line -f -p -e /proc/%d/exe", getpid());
	for (int i = 1; i < n && len < sizeof(cmd) - 32; i++)	/* frame 0: the hook */
		len += snprintf(cmd + len, sizeof(cmd) - len, " %#lx",
				(unsigned long)((uintptr_t)bt[i] - (uintptr_t)di.dli_fbase - 1));
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		const char *s = strstr(line, "/tmp/failslab/");

		if (s) {	/* shorten the paths */
			size_t pre = s - line;

			memmove(line + pre, s + 14, strlen(s + 14) + 1);
		}
		fprintf(stderr, "%s%s", indent, line);
	}
	pclose(p);
}

/* ------------------------------------------------------------------ */
/* The world */

static unsigned char pattern(uint64_t seed, size_t i)
{
	return (unsigned char)(seed * 31 + i * 7 + (i >> 9) + 1);
}

#define MAX_PAGES	64
struct world {
	struct umm_mm *mm, *child, *new_mm;
	struct umm_file *f, *g, *new_f;
	int host_fd;		/* for the file_from_fd scenario */
	uint64_t pages[MAX_PAGES];	/* pages the set-up wrote (or read) */
	unsigned char *bytes[MAX_PAGES];
	int npages;
	void *pins[8];
	int notifier_calls;
};

static char host_path[64];

static void setup_fail(const char *what, long r)
{
	fprintf(stderr, "set-up failed: %s = %ld\n", what, r);
	abort();
}

#define SETUP(call) do {						\
	int64_t __r = (call);						\
	if (__r < 0)							\
		setup_fail(#call, __r);					\
} while (0)

static void note_page(struct world *w, uint64_t addr)
{
	if (w->npages >= MAX_PAGES)
		setup_fail("too many pages", w->npages);
	w->pages[w->npages++] = addr;
}

static void wpage(struct world *w, uint64_t addr, uint64_t seed)
{
	unsigned char b[P];

	for (size_t i = 0; i < P; i++)
		b[i] = pattern(seed, i);
	if (umm_write(w->mm, addr, b, P) != (int64_t)P)
		setup_fail("umm_write", addr);
	note_page(w, addr);
}

static void rpage(struct world *w, uint64_t addr)
{
	SETUP(umm_fault(w->mm, addr, UMM_READ));
	note_page(w, addr);
}

/*
 * The address space:
 *   A   [B,      B+16P)  anon rw, written
 *   Bv  [B+16P,  B+24P)  anon r (written, then mprotect: its own VMA)
 *   C   [B+32P,  B+40P)  anon rw, written
 *   S   [B+64P,  B+72P)  MAP_SHARED of memfd F pages 0-7, written
 *   Pv  [B+80P,  B+88P)  MAP_PRIVATE of F: 0-3 read, 4-5 written (COW)
 *   G   [B+96P,  B+100P) MAP_SHARED of a host file, written
 *   W   [B+112P, B+116P) anon rw, written: the witness
 *   U   [B+128P, B+136P) anon rw, untouched
 *   U2  [B+136P, B+144P) shared anon rw, untouched
 */
#define A_	(B)
#define BV_	(B + 16 * P)
#define C_	(B + 32 * P)
#define S_	(B + 64 * P)
#define PV_	(B + 80 * P)
#define G_	(B + 96 * P)
#define W_	(B + 112 * P)
#define U_	(B + 128 * P)
#define U2_	(B + 136 * P)
#define HUGE_	(B + 0x400000UL)	/* the collapse scenario's 2 MiB */

static void world_build(struct world *w)
{
	unsigned seed = 1;
	int fd;

	memset(w, 0, sizeof(*w));
	w->host_fd = -1;
	w->mm = umm_mm_create(NULL);
	if (!w->mm)
		setup_fail("umm_mm_create", -errno);
	w->f = umm_file_create("fs", 16 * P, 0);
	if (!w->f)
		setup_fail("umm_file_create", -errno);
	fd = open(host_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * P))
		setup_fail("host file", -errno);
	w->g = umm_file_from_fd(fd, O_RDWR);
	close(fd);
	if (!w->g)
		setup_fail("umm_file_from_fd", -errno);

	SETUP(umm_mmap(w->mm, A_, 16 * P, RW, ANON_FIXED, NULL, 0));
	for (int i = 0; i < 16; i++)
		wpage(w, A_ + i * P, seed++);
	SETUP(umm_mmap(w->mm, BV_, 8 * P, RW, ANON_FIXED, NULL, 0));
	for (int i = 0; i < 8; i += 2)
		wpage(w, BV_ + i * P, seed++);
	SETUP(umm_mprotect(w->mm, BV_, 8 * P, PROT_READ));
	SETUP(umm_mmap(w->mm, C_, 8 * P, RW, ANON_FIXED, NULL, 0));
	for (int i = 0; i < 8; i++)
		wpage(w, C_ + i * P, seed++);
	SETUP(umm_mmap(w->mm, S_, 8 * P, RW, MAP_SHARED | MAP_FIXED, w->f, 0));
	for (int i = 0; i < 8; i++)
		wpage(w, S_ + i * P, seed++);
	SETUP(umm_mmap(w->mm, PV_, 8 * P, RW, MAP_PRIVATE | MAP_FIXED, w->f, 0));
	for (int i = 0; i < 4; i++)
		rpage(w, PV_ + i * P);
	wpage(w, PV_ + 4 * P, seed++);
	wpage(w, PV_ + 5 * P, seed++);
	SETUP(umm_mmap(w->mm, G_, 4 * P, RW, MAP_SHARED | MAP_FIXED, w->g, 0));
	for (int i = 0; i < 4; i++)
		wpage(w, G_ + i * P, seed++);
	SETUP(umm_mmap(w->mm, W_, 4 * P, RW, ANON_FIXED, NULL, 0));
	for (int i = 0; i < 4; i++)
		wpage(w, W_ + i * P, seed++);
	SETUP(umm_mmap(w->mm, U_, 8 * P, RW, ANON_FIXED, NULL, 0));
	SETUP(umm_mmap(w->mm, U2_, 8 * P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
		       NULL, 0));
}

static void world_destroy(struct world *w)
{
	if (w->pins[0])
		umm_unpin(w->mm, w->pins, 4);
	umm_mm_destroy(w->child);
	umm_mm_destroy(w->new_mm);
	umm_mm_destroy(w->mm);
	umm_file_put(w->f);
	umm_file_put(w->g);
	umm_file_put(w->new_f);
	if (w->host_fd >= 0)
		close(w->host_fd);
	for (int i = 0; i < w->npages; i++)
		free(w->bytes[i]);
	memset(w, 0, sizeof(*w));
}

/* The maps line (from @maps) holding @addr, in @line; false if none. */
static bool maps_line_at(const char *maps, uint64_t addr, char *line, size_t sz)
{
	const char *p = maps;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		unsigned long long s, e;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (sscanf(p, "%llx-%llx", &s, &e) == 2 && s <= addr && addr < e) {
			if (len >= sz)
				len = sz - 1;
			memcpy(line, p, len);
			line[len] = 0;
			return true;
		}
		p = nl ? nl + 1 : p + len;
	}
	return false;
}

static void snapshot_bytes(struct world *w)
{
	for (int i = 0; i < w->npages; i++) {
		w->bytes[i] = malloc(P);
		if (umm_read(w->mm, w->pages[i], w->bytes[i], P) != (int64_t)P)
			setup_fail("snapshot umm_read", w->pages[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Scenarios */

enum zap {
	ZAP_NONE,
	ZAP_REMOVE,	/* the op takes the pages away (unmap, replace, move, truncate) */
	ZAP_CONTENT,	/* the op may zero or fence them where they are */
};

struct scenario {
	const char *name;
	void (*setup)(struct world *);	/* extra set-up after world_build */
	int64_t (*op)(struct world *);
	int64_t err;			/* Linux's return for an allocation failure */
	enum zap zap;
	uint64_t zap_lo, zap_hi;
	bool ret_is_addr;		/* mmap/mremap: success is >= 0 */
	/* after a successful op (armed or not): check and undo side products */
	void (*after_success)(struct world *, int64_t ret, const char *tag);
	int64_t short_ok;		/* umm_write: success is this many bytes */
	/*
	 * mremap moves: when unmapping the source fails after the move, Linux
	 * (unmap_source_vma: "OOM: unable to split vma") leaves it mapped,
	 * empty, and returns success. A success whose maps differ is soft.
	 */
	bool move;
};

static int64_t op_munmap_mid(struct world *w) { return umm_munmap(w->mm, A_ + 4 * P, 4 * P); }
static int64_t op_munmap_span(struct world *w) { return umm_munmap(w->mm, A_ + 12 * P, 8 * P); }
static int64_t op_munmap_private_file(struct world *w) { return umm_munmap(w->mm, PV_ + 2 * P, 2 * P); }
static int64_t op_mprotect_mid(struct world *w) { return umm_mprotect(w->mm, A_ + 4 * P, 4 * P, PROT_READ); }
static int64_t op_mprotect_span(struct world *w) { return umm_mprotect(w->mm, A_ + 12 * P, 8 * P, RW); }
static int64_t op_mprotect_shared_mid(struct world *w) { return umm_mprotect(w->mm, S_ + 2 * P, 2 * P, PROT_READ); }
static void setup_split(struct world *w) { SETUP(umm_mprotect(w->mm, A_ + 4 * P, 4 * P, PROT_READ)); }
static int64_t op_mprotect_merge(struct world *w) { return umm_mprotect(w->mm, A_ + 4 * P, 4 * P, RW); }
static int64_t op_mmap_fixed_mid(struct world *w) { return umm_mmap(w->mm, A_ + 4 * P, 4 * P, RW, ANON_FIXED, NULL, 0); }
static int64_t op_mmap_merge(struct world *w) { return umm_mmap(w->mm, C_ + 8 * P, 4 * P, RW, ANON_FIXED, NULL, 0); }
static int64_t op_mmap_anon(struct world *w) { return umm_mmap(w->mm, 0, 16 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0); }
static int64_t op_mmap_shared_file(struct world *w) { return umm_mmap(w->mm, 0, 8 * P, RW, MAP_SHARED, w->f, 4 * P); }
static int64_t op_mmap_shared_fixed_merge(struct world *w) { return umm_mmap(w->mm, S_ + 8 * P, 4 * P, RW, MAP_SHARED | MAP_FIXED, w->f, 8 * P); }
static int64_t op_mremap_shrink(struct world *w) { return umm_mremap(w->mm, A_, 16 * P, 8 * P, 0, 0); }
static int64_t op_mremap_grow(struct world *w) { return umm_mremap(w->mm, C_, 8 * P, 12 * P, 0, 0); }
static int64_t op_mremap_move(struct world *w) { return umm_mremap(w->mm, C_, 8 * P, 64 * P, MREMAP_MAYMOVE, 0); }
static int64_t op_mremap_fixed(struct world *w) { return umm_mremap(w->mm, A_, 16 * P, 16 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B + 200 * P); }
static int64_t op_mremap_fixed_over(struct world *w) { return umm_mremap(w->mm, C_, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, U_ + 2 * P); }
static int64_t op_mremap_dontunmap(struct world *w) { return umm_mremap(w->mm, C_, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, B + 220 * P); }
static int64_t op_mremap_mid(struct world *w) { return umm_mremap(w->mm, A_ + 4 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B + 240 * P); }
static int64_t op_mremap_shared(struct world *w) { return umm_mremap(w->mm, S_ + 2 * P, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, B + 260 * P); }
static int64_t op_dontneed(struct world *w) { return umm_madvise(w->mm, A_ + 4 * P, 4 * P, MADV_DONTNEED); }
static int64_t op_free(struct world *w) { return umm_madvise(w->mm, A_ + 4 * P, 4 * P, MADV_FREE); }
/* advice: out of memory, a page stays mapped; never an error */
static int64_t op_pageout_shared(struct world *w) { return umm_madvise(w->mm, S_, 8 * P, 21 /* MADV_PAGEOUT */); }
static int64_t op_dontfork(struct world *w) { return umm_madvise(w->mm, A_ + 4 * P, 4 * P, MADV_DONTFORK); }
static int64_t op_wipeonfork(struct world *w) { return umm_madvise(w->mm, A_ + 4 * P, 4 * P, MADV_WIPEONFORK); }
static int64_t op_dontfork_span(struct world *w) { return umm_madvise(w->mm, A_ + 12 * P, 8 * P, MADV_DONTFORK); }
static int64_t op_guard(struct world *w) { return umm_madvise(w->mm, A_ + 4 * P, 4 * P, MADV_GUARD_INSTALL); }
static int64_t op_guard_untouched(struct world *w) { return umm_madvise(w->mm, B + 300 * P, 4 * P, MADV_GUARD_INSTALL); }
static void setup_far_anon(struct world *w) { SETUP(umm_mmap(w->mm, B + 300 * P, 8 * P, RW, ANON_FIXED, NULL, 0)); }
static int64_t op_populate(struct world *w) { return umm_madvise(w->mm, U_, 16 * P, MADV_POPULATE_WRITE); }

static void setup_huge(struct world *w)
{
	SETUP(umm_mmap(w->mm, HUGE_, 512 * P, RW, ANON_FIXED, NULL, 0));
	SETUP(umm_madvise(w->mm, HUGE_, 512 * P, MADV_POPULATE_WRITE));
	for (int i = 0; i < 512; i += 128)
		wpage(w, HUGE_ + i * P, 1000 + i);
}
static int64_t op_collapse(struct world *w) { return umm_madvise(w->mm, HUGE_, 512 * P, MADV_COLLAPSE); }

static void after_fork(struct world *w, int64_t ret, const char *tag)
{
	static char *ref_child;
	char *m;

	(void)ret;
	if (!w->child) {
		fprintf(stderr, "  [%s] umm_fork returned 0 without a child\n", tag);
		CHECK(w->child);
		return;
	}
	m = maps_text(w->child);
	if (!ref_child)
		ref_child = strdup(m);	/* the first is the reference run's */
	else if (strcmp(m, ref_child)) {
		fprintf(stderr, "  [%s] child maps differ from the reference:\n", tag);
		print_maps_diff(ref_child, m);
		CHECK(!strcmp(m, ref_child));
	}
	free(m);
	for (int i = 0; i < w->npages; i++) {
		unsigned char b[P];

		if (umm_read(w->child, w->pages[i], b, P) != (int64_t)P ||
		    memcmp(b, w->bytes[i], P)) {
			fprintf(stderr, "  [%s] child page %#llx differs\n", tag,
				(unsigned long long)w->pages[i]);
			CHECK(0);
			break;
		}
	}
	umm_mm_destroy(w->child);
	w->child = NULL;
}
static int64_t op_fork(struct world *w)
{
	w->child = NULL;
	return umm_fork(w->mm, &w->child);
}

static int64_t op_fault(struct world *w) { return umm_fault(w->mm, U_ + 3 * P, UMM_WRITE); }

static int64_t op_write_span(struct world *w)
{
	unsigned char b[2 * P];

	memset(b, 0x5a, sizeof(b));
	return umm_write(w->mm, U_ + 7 * P + 100, b, sizeof(b));
}
static int64_t op_write_span_cow(struct world *w)
{
	unsigned char b[3 * P];

	memset(b, 0x6b, sizeof(b));
	return umm_write(w->mm, PV_ + 5 * P + 100, b, 2 * P);
}

static int64_t op_pin(struct world *w)
{
	int r = umm_pin(w->mm, U_, 4, UMM_READ | UMM_WRITE, w->pins);

	if (!r) {
		umm_unpin(w->mm, w->pins, 4);
		memset(w->pins, 0, sizeof(w->pins));
	}
	return r;
}
static int64_t op_pin_cow(struct world *w)
{
	int r = umm_pin(w->mm, PV_, 4, UMM_READ | UMM_WRITE, w->pins);

	if (!r) {
		umm_unpin(w->mm, w->pins, 4);
		memset(w->pins, 0, sizeof(w->pins));
	}
	return r;
}

static void n_start(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	(void)mm; (void)s; (void)e;
	((struct world *)priv)->notifier_calls++;
}
static void n_end(void *priv, struct umm_mm *mm, uint64_t s, uint64_t e)
{
	(void)mm; (void)s; (void)e;
	((struct world *)priv)->notifier_calls--;
}
static const struct umm_notifier_ops nops = { n_start, n_end };
static int64_t op_notifier(struct world *w) { return umm_notifier_register(w->mm, &nops, w); }
static void after_notifier(struct world *w, int64_t ret, const char *tag)
{
	(void)ret;
	/* the registration sees the next invalidation */
	w->notifier_calls = 0;
	if (umm_madvise(w->mm, W_, P, MADV_DONTNEED) || w->notifier_calls) {
		fprintf(stderr, "  [%s] notifier unbalanced\n", tag);
		CHECK(0);
	}
	/* put the witness back as it was */
	for (int i = 0; i < w->npages; i++)
		if (w->pages[i] == W_)
			CHECK_EQ(umm_write(w->mm, W_, w->bytes[i], P), P);
}

static int64_t op_truncate(struct world *w) { return umm_file_truncate(w->f, 4 * P); }
static int64_t op_msync(struct world *w) { return umm_msync(w->mm, G_, 4 * P, MS_SYNC); }

static int64_t op_mm_create(struct world *w)
{
	w->new_mm = umm_mm_create(NULL);
	return w->new_mm ? 0 : -errno;
}
static void after_mm_create(struct world *w, int64_t ret, const char *tag)
{
	(void)ret; (void)tag;
	CHECK_EQ(umm_mmap(w->new_mm, B, P, RW, ANON_FIXED, NULL, 0), B);
	umm_mm_destroy(w->new_mm);
	w->new_mm = NULL;
}
static int64_t op_file_create(struct world *w)
{
	w->new_f = umm_file_create("new", 64 * P, 0);
	return w->new_f ? 0 : -errno;
}
static void after_file(struct world *w, int64_t ret, const char *tag)
{
	(void)ret; (void)tag;
	CHECK_EQ(umm_mmap(w->mm, B + 400 * P, P, RW, MAP_SHARED | MAP_FIXED, w->new_f, 0),
		 B + 400 * P);
	CHECK_EQ(umm_munmap(w->mm, B + 400 * P, P), 0);
	umm_file_put(w->new_f);
	w->new_f = NULL;
}
static void setup_host_fd(struct world *w)
{
	char path[80];

	snprintf(path, sizeof(path), "%s.2", host_path);
	w->host_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (w->host_fd < 0 || ftruncate(w->host_fd, 4 * P))
		setup_fail("host file 2", -errno);
}
static int64_t op_file_from_fd(struct world *w)
{
	w->new_f = umm_file_from_fd(w->host_fd, O_RDWR);
	return w->new_f ? 0 : -errno;
}

#define Z(kind, lo, hi)	.zap = kind, .zap_lo = (lo), .zap_hi = (hi)
static const struct scenario scenarios[] = {
	{ "munmap_middle", NULL, op_munmap_mid, -ENOMEM, Z(ZAP_REMOVE, A_ + 4 * P, A_ + 8 * P) },
	{ "munmap_span", NULL, op_munmap_span, -ENOMEM, Z(ZAP_REMOVE, A_ + 12 * P, A_ + 20 * P) },
	{ "munmap_private_file", NULL, op_munmap_private_file, -ENOMEM, Z(ZAP_REMOVE, PV_ + 2 * P, PV_ + 4 * P) },
	{ "mprotect_middle", NULL, op_mprotect_mid, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "mprotect_span", NULL, op_mprotect_span, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "mprotect_shared_middle", NULL, op_mprotect_shared_mid, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "mprotect_merge_back", setup_split, op_mprotect_merge, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "mmap_fixed_middle", NULL, op_mmap_fixed_mid, -ENOMEM, Z(ZAP_REMOVE, A_ + 4 * P, A_ + 8 * P), .ret_is_addr = true },
	{ "mmap_merge", NULL, op_mmap_merge, -ENOMEM, Z(ZAP_NONE, 0, 0), .ret_is_addr = true },
	{ "mmap_anon", NULL, op_mmap_anon, -ENOMEM, Z(ZAP_NONE, 0, 0), .ret_is_addr = true },
	{ "mmap_shared_file", NULL, op_mmap_shared_file, -ENOMEM, Z(ZAP_NONE, 0, 0), .ret_is_addr = true },
	{ "mmap_shared_fixed_merge", NULL, op_mmap_shared_fixed_merge, -ENOMEM, Z(ZAP_NONE, 0, 0), .ret_is_addr = true },
	{ "mremap_shrink", NULL, op_mremap_shrink, -ENOMEM, Z(ZAP_REMOVE, A_ + 8 * P, A_ + 16 * P), .ret_is_addr = true },
	{ "mremap_grow", NULL, op_mremap_grow, -ENOMEM, Z(ZAP_NONE, 0, 0), .ret_is_addr = true },
	{ "mremap_maymove", NULL, op_mremap_move, -ENOMEM, Z(ZAP_REMOVE, C_, C_ + 8 * P), .ret_is_addr = true, .move = true },
	{ "mremap_fixed", NULL, op_mremap_fixed, -ENOMEM, Z(ZAP_REMOVE, A_, A_ + 16 * P), .ret_is_addr = true, .move = true },
	{ "mremap_fixed_over", NULL, op_mremap_fixed_over, -ENOMEM, Z(ZAP_REMOVE, C_, C_ + 8 * P), .ret_is_addr = true, .move = true },
	{ "mremap_dontunmap", NULL, op_mremap_dontunmap, -ENOMEM, Z(ZAP_REMOVE, C_, C_ + 8 * P), .ret_is_addr = true, .move = true },
	{ "mremap_middle", NULL, op_mremap_mid, -ENOMEM, Z(ZAP_REMOVE, A_ + 4 * P, A_ + 8 * P), .ret_is_addr = true, .move = true },
	{ "mremap_shared", NULL, op_mremap_shared, -ENOMEM, Z(ZAP_REMOVE, S_ + 2 * P, S_ + 6 * P), .ret_is_addr = true, .move = true },
	{ "madv_dontneed", NULL, op_dontneed, -ENOMEM, Z(ZAP_CONTENT, A_ + 4 * P, A_ + 8 * P) },
	{ "madv_free", NULL, op_free, -ENOMEM, Z(ZAP_CONTENT, A_ + 4 * P, A_ + 8 * P) },
	{ "madv_pageout_shared", NULL, op_pageout_shared, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "madv_dontfork_middle", NULL, op_dontfork, -EAGAIN, Z(ZAP_NONE, 0, 0) },
	{ "madv_dontfork_span", NULL, op_dontfork_span, -EAGAIN, Z(ZAP_NONE, 0, 0) },
	{ "madv_wipeonfork_middle", NULL, op_wipeonfork, -EAGAIN, Z(ZAP_NONE, 0, 0) },
	{ "madv_guard_install", NULL, op_guard, -ENOMEM, Z(ZAP_CONTENT, A_ + 4 * P, A_ + 8 * P) },
	{ "madv_guard_untouched", setup_far_anon, op_guard_untouched, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "madv_populate_write", NULL, op_populate, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "madv_collapse", setup_huge, op_collapse, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "fork", NULL, op_fork, -ENOMEM, Z(ZAP_NONE, 0, 0), .after_success = after_fork },
	{ "fault_write", NULL, op_fault, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "write_span", NULL, op_write_span, -ENOMEM, Z(ZAP_NONE, 0, 0), .short_ok = 2 * P },
	{ "write_span_cow", NULL, op_write_span_cow, -ENOMEM, Z(ZAP_CONTENT, PV_ + 5 * P, PV_ + 8 * P), .short_ok = 2 * P },
	{ "pin", NULL, op_pin, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "pin_cow", NULL, op_pin_cow, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "notifier_register", NULL, op_notifier, -ENOMEM, Z(ZAP_NONE, 0, 0), .after_success = after_notifier },
	{ "file_truncate", NULL, op_truncate, -ENOMEM, Z(ZAP_REMOVE, S_ + 4 * P, S_ + 8 * P) },
	{ "msync", NULL, op_msync, -ENOMEM, Z(ZAP_NONE, 0, 0) },
	{ "mm_create", NULL, op_mm_create, -ENOMEM, Z(ZAP_NONE, 0, 0), .after_success = after_mm_create },
	{ "file_create", NULL, op_file_create, -ENOMEM, Z(ZAP_NONE, 0, 0), .after_success = after_file },
	{ "file_from_fd", setup_host_fd, op_file_from_fd, -ENOMEM, Z(ZAP_NONE, 0, 0), .after_success = after_file },
};

static bool op_ok(const struct scenario *sc, int64_t r)
{
	if (sc->short_ok)
		return r == sc->short_ok;
	return sc->ret_is_addr ? r >= 0 : r == 0;
}

static bool in_zap(const struct scenario *sc, uint64_t a)
{
	/* truncation also takes the private mapping's pages past the end */
	if (sc->op == op_truncate && a >= PV_ + 4 * P && a < PV_ + 8 * P)
		return true;
	return sc->zap != ZAP_NONE && a >= sc->zap_lo && a < sc->zap_hi;
}

/* ------------------------------------------------------------------ */
/* The run */

static void report_injection(void)
{
	if (!fs_fail_bt_n)
		fprintf(stderr, "      (a VMA-tree node allocation failed)\n");
	if (fs_fail_bt_n) {
		fprintf(stderr, "      injected %s failure in:\n", fs_fail_fn);
		print_bt("        ", fs_fail_bt, fs_fail_bt_n);
	}
}

/*
 * The VMA tree keeps retired nodes and entries (VMAs) in global pools for
 * reuse, never freeing them: blocks allocated under vt_node_alloc,
 * vt_batch_get or vm_area_alloc are not leaks when they stay. (A VMA that
 * really leaks is then LeakSanitizer's to find: pooled memory is
 * reachable, a leaked VMA is not.) Symbolised once per return address.
 */
#define PC_CACHE	4096
static struct { void *pc; int exempt; } pc_cache[PC_CACHE];

static int *pc_slot(void *pc)
{
	unsigned h = (unsigned)(((uintptr_t)pc >> 2) * 0x9E3779B1u) % PC_CACHE;

	while (pc_cache[h].pc && pc_cache[h].pc != pc)
		h = (h + 1) % PC_CACHE;
	pc_cache[h].pc = pc;
	return &pc_cache[h].exempt;
}

static void symbolise_pcs(void **pcs, int n)
{
	char cmd[16384], line[512];
	size_t len;
	Dl_info di;
	int cur = -1;
	FILE *p;

	if (!n || !dladdr((void *)symbolise_pcs, &di))
		return;
	len = snprintf(cmd, sizeof(cmd), "addr2line -a -f -i -e /proc/%d/exe", getpid());
	for (int i = 0; i < n && len < sizeof(cmd) - 32; i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, " %#lx",
				(unsigned long)((uintptr_t)pcs[i] - (uintptr_t)di.dli_fbase - 1));
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		if (!strncmp(line, "0x", 2)) {
			cur++;
			if (cur < n)
				*pc_slot(pcs[cur]) = 2;
		} else if (cur >= 0 && cur < n &&
			   (strstr(line, "vt_node_alloc") || strstr(line, "vt_batch_get") ||
			    strstr(line, "vt_txn_new") || strstr(line, "vm_area_alloc") ||
			    strstr(line, "vma_tree_entry_alloc"))) {
			*pc_slot(pcs[cur]) = 1;
		}
	}
	pclose(p);
}

static bool block_exempt(struct track *t)
{
	for (int i = 1; i < t->n && i < 5; i++)
		if (*pc_slot(t->bt[i]) == 1)
			return true;
	return false;
}

static bool check_leaks(const char *tag)
{
	static void *todo[1024];
	bool leaked = false;
	int nt = 0;

	pthread_mutex_lock(&track_lock);
	if (track_overflow) {
		fprintf(stderr, "  [%s] leak tracking overflowed\n", tag);
		track_overflow = false;
	}
	for (unsigned i = 0; i < TRACK_SLOTS && track_count; i++) {
		if (!track_tab[i].p)
			continue;
		for (int k = 1; k < track_tab[i].n && k < 5; k++)
			if (!*pc_slot(track_tab[i].bt[k]) && nt < 1024)
				todo[nt++] = track_tab[i].bt[k];
	}
	pthread_mutex_unlock(&track_lock);
	symbolise_pcs(todo, nt);
	pthread_mutex_lock(&track_lock);
	for (unsigned i = 0; i < TRACK_SLOTS && track_count; i++) {
		struct track t = track_tab[i];

		if (!t.p)
			continue;
		track_tab[i].p = NULL;	/* forget it: the world is gone */
		track_count--;
		if (block_exempt(&t))
			continue;
		if (!leaked)
			fprintf(stderr, "  [%s] LEAK: blocks allocated while armed never freed:\n", tag);
		leaked = true;
		fprintf(stderr, "    %p from:\n", t.p);
		pthread_mutex_unlock(&track_lock);
		print_bt("      ", t.bt, t.n > 7 ? 7 : t.n);
		pthread_mutex_lock(&track_lock);
	}
	pthread_mutex_unlock(&track_lock);
	return leaked;
}

struct result {
	char *maps;		/* after the op */
	int64_t ret;
};

/* The unarmed reference run. */
static void reference(const struct scenario *sc, struct result *res)
{
	struct world w;

	world_build(&w);
	if (sc->setup)
		sc->setup(&w);
	snapshot_bytes(&w);
	res->ret = sc->op(&w);
	if (!op_ok(sc, res->ret)) {
		fprintf(stderr, "%s: the unarmed reference run returned %lld\n",
			sc->name, (long long)res->ret);
		CHECK(op_ok(sc, res->ret));
	}
	if (sc->after_success && op_ok(sc, res->ret))
		sc->after_success(&w, res->ret, "reference");
	res->maps = maps_text(w.mm);
	world_destroy(&w);
}

/*
 * One armed run at @n in @mode. Return: whether any failure was injected
 * (false: the op ran to the end without one; the last n).
 */
static bool one_run(const struct scenario *sc, const struct result *ref, long n, int mode,
		    unsigned *nfail, const struct page_alloc_stats *base)
{
	struct page_alloc_stats before = *base, after;
	static const char *const mnames[] = { "once", "from-on", "vt-node", "frames" };
	const char *mname = mnames[mode];
	char tag[128], *pre, *post, line[512], line0[512];
	unsigned long f0 = test_failures;
	struct world w;
	long injected;
	int64_t r;

	snprintf(tag, sizeof(tag), "%s n=%ld %s", sc->name, n, mname);
	world_build(&w);
	if (sc->setup)
		sc->setup(&w);
	snapshot_bytes(&w);
	pre = maps_text(w.mm);

	if (mode == VT_NODE) {
		fs_fail_bt_n = 0;
		vma_tree_fail_alloc_after(n);
		r = sc->op(&w);
		vma_tree_fail_alloc_after(0);
		/* unknown: was the n-th reached? Runs go on to the first clean success */
		injected = -1;
	} else if (mode == FRAMES) {
		struct page_alloc_stats now;

		/* n - 1 more frames for the call: the process-wide limit */
		fs_fail_bt_n = 0;
		page_alloc_set_limit(0);
		page_alloc_get_stats(&now);
		page_alloc_set_limit((now.in_use_pages + n - 1) * P);
		r = sc->op(&w);
		page_alloc_set_limit(0);
		injected = -1;
	} else {
		fail_nth(n, mode);
		r = sc->op(&w);
		disarm();
		injected = fs_failed;
	}

	if (op_ok(sc, r)) {
		if (sc->after_success)
			sc->after_success(&w, r, tag);
		post = maps_text(w.mm);
		if (injected < 0 && !strcmp(post, ref->maps) && (!sc->ret_is_addr || r == ref->ret))
			injected = 0;	/* vt-node: taken as the end */
		if (strcmp(post, ref->maps) || (sc->ret_is_addr && r != ref->ret)) {
			bool soft = sc->move && r == ref->ret;

			fprintf(stderr, "  [%s] %s: succeeded (%lld) after an injected failure, "
				"but maps differ from the reference run (%lld):\n", tag,
				soft ? "SOFT" : "FAIL", (long long)r, (long long)ref->ret);
			print_maps_diff(ref->maps, post);
			report_injection();
			if (soft)
				soft_findings++;
			if (!soft || strict)
				CHECK(!strcmp(post, ref->maps));
		}
	} else {
		bool errno_ok = r == sc->err || (sc->short_ok && r > 0 && r < sc->short_ok);

		if (!injected) {
			fprintf(stderr, "  [%s] FAIL: returned %lld without an injected failure\n",
				tag, (long long)r);
			CHECK(injected);
		}
		if (!errno_ok) {
			fprintf(stderr, "  [%s] FAIL: returned %lld, Linux gives %lld\n", tag,
				(long long)r, (long long)sc->err);
			report_injection();
			CHECK(errno_ok);
		}
		if (sc->op == op_fork && w.child) {
			fprintf(stderr, "  [%s] FAIL: failed fork set *child\n", tag);
			CHECK(!w.child);
			w.child = NULL;
		}
		post = maps_text(w.mm);
		if (strcmp(pre, post)) {
			soft_findings++;
			fprintf(stderr, "  [%s] SOFT: failed (%lld) but changed the maps:\n",
				tag, (long long)r);
			print_maps_diff(pre, post);
			report_injection();
			if (strict)
				CHECK(!strcmp(pre, post));
		}
		/* every byte the set-up wrote that is still mapped reads back */
		for (int i = 0; i < w.npages; i++) {
			uint64_t a = w.pages[i];
			unsigned char b[P];
			bool have = maps_line_at(post, a, line, sizeof(line));
			bool had = maps_line_at(pre, a, line0, sizeof(line0));

			if (in_zap(sc, a)) {
				/* taken away by the op: checked only where its VMA is unchanged */
				if (sc->zap == ZAP_CONTENT || !have || !had || strcmp(line, line0))
					continue;
			} else if (!have) {
				fprintf(stderr, "  [%s] FAIL: page %#llx, never in the op's range, "
					"is unmapped after the failure\n", tag, (unsigned long long)a);
				report_injection();
				CHECK(have);
				continue;
			}
			if (line[strcspn(line, " ") + 1] != 'r')
				continue;
			memset(b, 0, P);
			if (umm_read(w.mm, a, b, P) != (int64_t)P || memcmp(b, w.bytes[i], P)) {
				fprintf(stderr, "  [%s] FAIL: LOST BYTES at %#llx (%s)\n", tag,
					(unsigned long long)a, line);
				report_injection();
				CHECK(0);
			}
		}
		/* (d) the same op again, unarmed, succeeds */
		r = sc->op(&w);
		if (!op_ok(sc, r)) {
			fprintf(stderr, "  [%s] FAIL: the unarmed retry returned %lld\n", tag,
				(long long)r);
			report_injection();
			CHECK(op_ok(sc, r));
		} else {
			char *again;

			if (sc->after_success)
				sc->after_success(&w, r, tag);
			again = maps_text(w.mm);
			if (strcmp(again, ref->maps)) {
				soft_findings++;
				fprintf(stderr, "  [%s] SOFT: after the retry the maps differ from "
					"the reference run's:\n", tag);
				print_maps_diff(ref->maps, again);
				if (strict)
					CHECK(!strcmp(again, ref->maps));
			}
			free(again);
		}
	}
	if (verbose && injected > 0) {
		fprintf(stderr, "  [%s] returned %lld\n", tag, (long long)r);
		report_injection();
	}
	free(pre);
	free(post);

	/* (e) nothing left behind */
	world_destroy(&w);
	rcu_barrier();
	page_alloc_get_stats(&after);
	if (after.in_use_pages != before.in_use_pages ||
	    after.pgtable_pages != before.pgtable_pages) {
		fprintf(stderr, "  [%s] FAIL: frames %llu -> %llu, page tables %llu -> %llu\n",
			tag, (unsigned long long)before.in_use_pages,
			(unsigned long long)after.in_use_pages,
			(unsigned long long)before.pgtable_pages,
			(unsigned long long)after.pgtable_pages);
		report_injection();
		CHECK_EQ(after.in_use_pages, before.in_use_pages);
		CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
	}
	if (track_leaks && check_leaks(tag)) {
		report_injection();
		CHECK(0);
	}
	if (test_failures != f0)
		(*nfail)++;
	return injected != 0;
}

static const struct scenario *cur_sc;

static void run_scenario(void)
{
	const struct scenario *sc = cur_sc;
	struct result ref;
	unsigned nfail = 0;
	long runs[4] = { 0, 0, 0, 0 };

	struct page_alloc_stats base;

	reference(sc, &ref);
	/* the start for every run's frame count: each run ends as it began */
	rcu_barrier();
	page_alloc_get_stats(&base);
	for (int mode = ONCE; mode <= FRAMES; mode++) {
		/* a THP collapse takes 512 frames at once */
		long n, max = mode == VT_NODE ? 64 : mode == FRAMES ? 1100 : 10000;

		for (n = 1; n < max; n++)
			if (!one_run(sc, &ref, n, mode, &nfail, &base))
				break;
		runs[mode] = n - 1;
	}
	printf("     %-26s %3ld allocation points, %2ld tree-node points, %3ld frame limits, "
	       "%u failing runs\n", sc->name, runs[ONCE], runs[VT_NODE], runs[FRAMES], nfail);
	free(ref.maps);
}

int main(void)
{
	const char *only = getenv("FAILSLAB_ONLY");
	void *bt[4];

	setenv("UMM_KHUGEPAGED", "0", 0);
	verbose = getenv("FAILSLAB_VERBOSE") && atoi(getenv("FAILSLAB_VERBOSE"));
	strict = getenv("FAILSLAB_STRICT") && atoi(getenv("FAILSLAB_STRICT"));
	track_leaks = getenv("FAILSLAB_LEAKS") && atoi(getenv("FAILSLAB_LEAKS"));
	backtrace(bt, 4);	/* loads the unwinder before any wrapper uses it */
	track_tab = calloc(TRACK_SLOTS, sizeof(*track_tab));
	snprintf(host_path, sizeof(host_path), "/tmp/umm-failslab-%d", getpid());
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (only && strcmp(only, scenarios[i].name))
			continue;
		cur_sc = &scenarios[i];
		printf("scenario %s\n", cur_sc->name);
		RUN(run_scenario);
	}
	unlink(host_path);
	{
		char p2[80];

		snprintf(p2, sizeof(p2), "%s.2", host_path);
		unlink(p2);
	}
	printf("%lu soft findings (changed maps after a failure)%s\n", soft_findings,
	       strict ? "" : "; FAILSLAB_STRICT=1 makes them failures");
	free(track_tab);
	return test_done();
}
