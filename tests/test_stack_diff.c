// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_stack_diff - random differential test of stack VMAs (MAP_GROWSDOWN)
 * grown by faults, against the host kernel.
 *
 * The same random calls run in a 64 MiB window of this process, at fixed
 * addresses, and at the same addresses of an umm mm: mmap (MAP_GROWSDOWN
 * often, MAP_FIXED, MAP_FIXED_NOREPLACE or a hint, which must land at the
 * hint on both sides or on neither), munmap, mprotect (PROT_GROWSDOWN
 * now and then), mremap, madvise (discard, populate, guard advice), mlock
 * and munlock, and above all loads and stores, aimed below the stacks:
 * real ones on the host (a SIGSEGV caught), umm_fault on umm (then
 * umm_write of the byte the host stored), and process_vm_writev beside
 * umm_write, which never grow a stack. After each call the two results,
 * the window's smaps blocks and the pagemap flag bits 56-63 of each page
 * must agree; at the end of each sequence the bytes of every present page
 * too. The guard gap (stack_guard_gap, 256 pages on this host's command
 * line), RLIMIT_STACK (umm's stack_limit set to it) and growth before the
 * rights check are what the faults meet.
 *
 * Only Referenced may differ (umm has no PG_referenced, README "Not yet"):
 * such a difference is counted, not failed. The host gives no THP here
 * (no MADV_HUGEPAGE: THP "madvise" or "never" is asked for), so
 * khugepaged has nothing to collapse.
 *
 * UMM_STACK_SEQUENCES=N runs N sequences (default 60); UMM_STACK_SEED=S
 * replays sequence S alone, printing each call and both sides' smaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_mapcall.h"
#include "test_proc.h"
#include "uapi_mman.h"

#define P		4096ull
#define WIN		(64ull << 20)
#define NPG		(WIN / P)
#define GAP		(256 * P)	/* the host's stack_guard_gap */
#define MAX_OPS		120
#define MAX_VMAS	256
#define PM_FLAGS	(~((1ull << 56) - 1))
#define PM_PRESENT	(1ull << 63)

enum kind {
	K_MMAP, K_MMAP_HINT, K_MUNMAP, K_MPROTECT, K_MREMAP, K_MADVISE,
	K_MLOCK, K_MLOCK2, K_MUNLOCK, K_LOAD, K_STORE, K_GUP_WRITE,
};

struct op {
	int kind;
	uint64_t addr, len, new_len, new_addr;
	int prot, flags, advice;
	unsigned char byte;
	int64_t host, umm;
};

/* One VMA of the window, as the host's smaps shows it (generator's map). */
struct vma {
	uint64_t start, end;
	bool grows, readable;
};

struct seq {
	uint64_t seed, rng;
	bool verbose, failed;
	int nops;
	struct op ops[MAX_OPS];
	struct umm_mm *mm;
	int nvmas;
	struct vma vmas[MAX_VMAS];
	char why[128];
};

static uint64_t win, stack_limit;
static bool host_zero_page;
static unsigned long ref_notes;

/* ---- the calls, on either side ---- */

static sigjmp_buf access_env;

static void access_fault(int sig)
{
	(void)sig;
	siglongjmp(access_env, 1);
}

/* A real load or store, as a program makes it: 0, or -EFAULT for SIGSEGV. */
static int64_t host_access(const struct op *op)
{
	volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)op->addr;
	struct sigaction sa = { .sa_handler = access_fault }, old_segv, old_bus;
	int64_t r = 0;

	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(access_env, 1) == 0) {
		if (op->kind == K_STORE)
			*p = op->byte;
		else
			(void)*p;
	} else {
		r = -EFAULT;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return r;
}

static int64_t host_gup_write(const struct op *op)
{
	unsigned char c = op->byte;
	struct iovec l = { &c, 1 }, r = { (void *)(uintptr_t)op->addr, 1 };
	ssize_t n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);

	return n < 0 ? -errno : n;
}

/* The mapping call @op makes, if it is one (@c filled in). */
static bool op_mapcall(const struct op *op, struct mapcall *c)
{
	static const int mc[] = {
		[K_MMAP] = MC_MMAP, [K_MMAP_HINT] = MC_MMAP, [K_MUNMAP] = MC_MUNMAP,
		[K_MPROTECT] = MC_MPROTECT, [K_MREMAP] = MC_MREMAP,
		[K_MADVISE] = MC_MADVISE, [K_MLOCK] = MC_MLOCK,
		[K_MLOCK2] = MC_MLOCK2, [K_MUNLOCK] = MC_MUNLOCK,
		[K_LOAD] = -1, [K_STORE] = -1, [K_GUP_WRITE] = -1,
	};

	if (mc[op->kind] < 0)
		return false;
	*c = (struct mapcall){ (enum mapcall_kind)mc[op->kind], op->addr, op->len,
			       op->new_len, op->new_addr, op->prot, op->flags,
			       op->advice };
	return true;
}

static int64_t host_exec(const struct op *op)
{
	struct mapcall c;

	if (op_mapcall(op, &c))
		return host_mapcall(&c);
	switch (op->kind) {
	case K_LOAD:
	case K_STORE:
		return host_access(op);
	case K_GUP_WRITE:
		return host_gup_write(op);
	}
	return -ENOSYS;
}

/* A store: the fault as the CPU raises it, then the byte the host stored. */
static int64_t umm_store(struct umm_mm *mm, const struct op *op)
{
	int r = umm_fault(mm, op->addr, UMM_WRITE);

	if (r)
		return r;
	return umm_write(mm, op->addr, &op->byte, 1) == 1 ? 0 : -EIO;
}

static int64_t umm_exec(struct umm_mm *mm, const struct op *op)
{
	struct mapcall c;

	if (op_mapcall(op, &c))
		return umm_mapcall(mm, &c);
	switch (op->kind) {
	case K_LOAD:
		return umm_fault(mm, op->addr, UMM_READ);
	case K_STORE:
		return umm_store(mm, op);
	case K_GUP_WRITE:
		return umm_write(mm, op->addr, &op->byte, 1);
	}
	return -ENOSYS;
}

/*
 * A hint that is not taken, or an mremap that may move and does, puts the
 * mapping where each side's own layout has room, outside the window:
 * compared as "where asked" or not (1), and unmapped again when not.
 */
static bool placed_by_layout(const struct op *op)
{
	return op->kind == K_MMAP_HINT ||
	       (op->kind == K_MREMAP && op->flags == MREMAP_MAYMOVE);
}

static void settle_moved(struct seq *s, struct op *op)
{
	uint64_t len = op->kind == K_MREMAP ? op->new_len : op->len;

	if (op->host >= 0 && (uint64_t)op->host != op->addr) {
		syscall(SYS_munmap, op->host, len);
		op->host = 1;
	}
	if (op->umm >= 0 && (uint64_t)op->umm != op->addr) {
		umm_munmap(s->mm, (uint64_t)op->umm, len);
		op->umm = 1;
	}
}

/* ---- formatting ---- */

static const char *kind_name(int k)
{
	static const char *const names[] = {
		[K_MMAP] = "mmap", [K_MMAP_HINT] = "mmap(hint)", [K_MUNMAP] = "munmap",
		[K_MPROTECT] = "mprotect", [K_MREMAP] = "mremap", [K_MADVISE] = "madvise",
		[K_MLOCK] = "mlock", [K_MLOCK2] = "mlock2", [K_MUNLOCK] = "munlock",
		[K_LOAD] = "load", [K_STORE] = "store", [K_GUP_WRITE] = "gup_write",
	};

	return names[k];
}

static void fmt_op(const struct op *op, char *buf, size_t size)
{
	unsigned long long a = op->addr - win;

	switch (op->kind) {
	case K_MMAP:
	case K_MMAP_HINT:
		snprintf(buf, size, "%s(W+%#llx, %#llx, prot %#x, flags %#x)", kind_name(op->kind),
			 a, (unsigned long long)op->len, op->prot, op->flags);
		break;
	case K_MPROTECT:
		snprintf(buf, size, "mprotect(W+%#llx, %#llx, %#x)", a,
			 (unsigned long long)op->len, op->prot);
		break;
	case K_MREMAP:
		snprintf(buf, size, "mremap(W+%#llx, %#llx, %#llx, %#x, W+%#llx)", a,
			 (unsigned long long)op->len, (unsigned long long)op->new_len, op->flags,
			 (unsigned long long)(op->new_addr ? op->new_addr - win : 0));
		break;
	case K_MADVISE:
		snprintf(buf, size, "madvise(W+%#llx, %#llx, %d)", a,
			 (unsigned long long)op->len, op->advice);
		break;
	case K_MLOCK2:
		snprintf(buf, size, "mlock2(W+%#llx, %#llx, %d)", a,
			 (unsigned long long)op->len, op->flags);
		break;
	case K_LOAD:
	case K_STORE:
	case K_GUP_WRITE:
		snprintf(buf, size, "%s(W+%#llx)", kind_name(op->kind), a);
		break;
	default:
		snprintf(buf, size, "%s(W+%#llx, %#llx)", kind_name(op->kind), a,
			 (unsigned long long)op->len);
	}
}

static void seq_report(const struct seq *s)
{
	char call[160];

	fflush(stdout);
	fprintf(stderr, "stack_diff: sequence %llu failed at op %d: %s\n"
		"  replay: UMM_STACK_SEED=%llu %s\n  W = %#llx\n",
		(unsigned long long)s->seed, s->nops - 1, s->why,
		(unsigned long long)s->seed, program_invocation_name,
		(unsigned long long)win);
	for (int i = 0; i < s->nops; i++) {
		fmt_op(&s->ops[i], call, sizeof(call));
		fprintf(stderr, "  %3d: %s = host %lld, umm %lld%s\n", i, call,
			(long long)s->ops[i].host, (long long)s->ops[i].umm,
			i == s->nops - 1 ? "   <==" : "");
	}
}

/* ---- comparing ---- */

static bool fail(struct seq *s, const char *why)
{
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->failed = true;
	return false;
}

/* The generator's map of the window, from the host's smaps blocks. */
static void learn_vmas(struct seq *s, const char *text)
{
	s->nvmas = 0;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		unsigned long long a, b;
		char perms[8];

		if (sscanf(p, "%llx-%llx %7s", &a, &b, perms) == 3 &&
		    strchr(p, '-') < strchr(p, ' ') && s->nvmas < MAX_VMAS) {
			s->vmas[s->nvmas++] = (struct vma){
				.start = win + a, .end = win + b, .readable = perms[0] == 'r',
			};
		} else if (!strncmp(p, "VmFlags:", 8) && s->nvmas) {
			const char *nl = strchr(p, '\n'), *gd = strstr(p, " gd");

			s->vmas[s->nvmas - 1].grows = gd && (!nl || gd < nl);
		}
	}
}

static bool same_smaps(struct seq *s)
{
	char *h = smaps_window(NULL, 0, win, WIN, NULL);
	char *u = smaps_window(s->mm, 0, win, WIN, NULL);
	bool same = !strcmp(h, u);

	if (!same && same_but_referenced(h, u)) {
		ref_notes++;
		same = true;
	}
	if (!same || s->verbose) {
		printf("   smaps %s\n", same ? "the same" : "differ (host -, umm +):");
		if (!same)
			show_diff(h, u);
		else if (getenv("SHOW"))
			printf("%s", h);
	}
	learn_vmas(s, h);
	free(h);
	free(u);
	return same || fail(s, "smaps differ");
}

static void host_pagemap(uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, out, NPG * 8, (off_t)(win / P * 8)), (ssize_t)(NPG * 8));
	close(fd);
}

static bool same_pagemap(struct seq *s)
{
	static uint64_t h[NPG], u[NPG];
	unsigned bad = 0;

	host_pagemap(h);
	CHECK_EQ(umm_pagemap(s->mm, win, NPG, u), 0);
	for (uint64_t i = 0; i < NPG; i++) {
		if ((h[i] & PM_FLAGS) == (u[i] & PM_FLAGS))
			continue;
		if (bad++ < 6)
			printf("   pagemap, page W+%#llx: host %016llx umm %016llx\n",
			       (unsigned long long)(i * P), (unsigned long long)h[i],
			       (unsigned long long)u[i]);
	}
	return !bad || fail(s, "pagemap flags differ");
}

static const struct vma *vma_at(const struct seq *s, uint64_t a)
{
	for (int i = 0; i < s->nvmas; i++)
		if (s->vmas[i].start <= a && a < s->vmas[i].end)
			return &s->vmas[i];
	return NULL;
}

/* The bytes of each page present on both sides (pagemap agreed) and readable. */
static bool same_contents(struct seq *s)
{
	static uint64_t h[NPG];
	static unsigned char page[P];

	host_pagemap(h);
	for (uint64_t i = 0; i < NPG; i++) {
		uint64_t a = win + i * P;
		const struct vma *v = vma_at(s, a);

		if (!(h[i] & PM_PRESENT) || !v || !v->readable)
			continue;
		if (umm_read(s->mm, a, page, P) != (int64_t)P ||
		    memcmp(page, (const void *)(uintptr_t)a, P)) {
			printf("   page W+%#llx differs\n", (unsigned long long)(i * P));
			return fail(s, "contents differ");
		}
	}
	return true;
}

static bool seq_step(struct seq *s, const struct op *in)
{
	struct op *op = &s->ops[s->nops++];
	char call[160];

	*op = *in;
	if (s->verbose) {
		fmt_op(op, call, sizeof(call));
		printf("%3d: %s\n", s->nops - 1, call);
		fflush(stdout);
	}
	op->host = host_exec(op);
	op->umm = umm_exec(s->mm, op);
	if (placed_by_layout(op))
		settle_moved(s, op);
	if (s->verbose)
		printf("     = host %lld, umm %lld\n", (long long)op->host, (long long)op->umm);
	if (op->host != op->umm)
		return fail(s, "results differ");
	return same_smaps(s) && same_pagemap(s);
}

/* ---- generating ---- */

static uint64_t rnd(struct seq *s, uint64_t n)
{
	return n ? xrand(&s->rng) % n : 0;
}

static bool chance(struct seq *s, unsigned pct)
{
	return rnd(s, 100) < pct;
}

static uint64_t clamp_addr(struct seq *s, uint64_t a)
{
	if (a < win || a >= win + WIN)
		a = win + rnd(s, NPG) * P;
	return a;
}

/* A stack of the window, or NULL. */
static const struct vma *pick_stack(struct seq *s)
{
	int n = 0, k;

	for (int i = 0; i < s->nvmas; i++)
		n += s->vmas[i].grows;
	if (!n)
		return NULL;
	k = (int)rnd(s, (uint64_t)n);
	for (int i = 0; i < s->nvmas; i++)
		if (s->vmas[i].grows && !k--)
			return &s->vmas[i];
	return NULL;
}

/* The end of the VMA below @v, or the window's start. */
static uint64_t below_end(const struct seq *s, const struct vma *v)
{
	uint64_t e = win;

	for (int i = 0; i < s->nvmas; i++)
		if (s->vmas[i].end <= v->start && s->vmas[i].end > e)
			e = s->vmas[i].end;
	return e;
}

/* An address, often a VMA's edge or just below a stack. */
static uint64_t gen_addr(struct seq *s)
{
	unsigned r = rnd(s, 100);
	const struct vma *v;

	if (r < 40 && (v = pick_stack(s))) {
		uint64_t pe = below_end(s, v);

		switch (rnd(s, 5)) {
		case 0:
			return clamp_addr(s, v->start - (1 + rnd(s, 16)) * P);
		case 1:
			return clamp_addr(s, pe + GAP - 2 * P + rnd(s, 4) * P);
		case 2:
			return clamp_addr(s, v->end - stack_limit - 2 * P + rnd(s, 4) * P);
		case 3:
			return clamp_addr(s, pe + rnd(s, 4) * P);
		default:
			return clamp_addr(s, v->start - (1 + rnd(s, 2048)) * P);
		}
	}
	if (r < 70 && s->nvmas) {
		v = &s->vmas[rnd(s, (uint64_t)s->nvmas)];
		return clamp_addr(s, (chance(s, 50) ? v->start : v->end) +
				     (rnd(s, 9) - 4) * P);
	}
	return win + rnd(s, NPG) * P;
}

static uint64_t gen_len(struct seq *s, uint64_t a)
{
	unsigned r = rnd(s, 100);
	uint64_t len;

	if (r < 50)
		len = P * (1 + rnd(s, 16));
	else if (r < 80)
		len = P * (1 + rnd(s, 512));
	else
		len = P * (1 + rnd(s, 2560));
	if (a + len > win + WIN)
		len = win + WIN - a;
	return len;
}

static void gen_mmap(struct seq *s, struct op *op)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE, PROT_WRITE,
	};
	unsigned r = rnd(s, 100);

	op->kind = K_MMAP;
	op->addr = gen_addr(s);
	op->len = gen_len(s, op->addr);
	op->prot = prots[rnd(s, sizeof(prots) / sizeof(prots[0]))];
	op->flags = MAP_ANONYMOUS | (chance(s, 95) ? MAP_PRIVATE : MAP_SHARED);
	if (chance(s, 55))
		op->flags |= MAP_GROWSDOWN;
	if (r < 75) {
		op->flags |= MAP_FIXED;
	} else if (r < 88) {
		op->flags |= MAP_FIXED_NOREPLACE;
	} else {
		op->kind = K_MMAP_HINT;
		op->len = P * (1 + rnd(s, 16));
	}
	if (chance(s, 4))
		op->flags |= MAP_POPULATE;
	if (chance(s, 3))
		op->flags |= MAP_LOCKED;
}

static void gen_mremap(struct seq *s, struct op *op)
{
	op->kind = K_MREMAP;
	op->addr = gen_addr(s);
	op->len = gen_len(s, op->addr);
	op->new_len = op->len;
	if (chance(s, 40)) {
		op->new_len = chance(s, 50) && op->len > P ? P * (1 + rnd(s, op->len / P - 1)) :
			      op->len + P * (1 + rnd(s, 64));
		op->flags = chance(s, 50) ? MREMAP_MAYMOVE : 0;
		if (op->addr + op->new_len > win + WIN)
			op->new_len = win + WIN - op->addr;
		return;
	}
	op->flags = MREMAP_MAYMOVE | MREMAP_FIXED | (chance(s, 20) ? MREMAP_DONTUNMAP : 0);
	op->new_addr = gen_addr(s);
	if (op->new_addr + op->new_len > win + WIN)
		op->new_len = win + WIN - op->new_addr;
	if (op->flags & MREMAP_DONTUNMAP)
		op->len = op->new_len;
}

static void gen_madvise(struct seq *s, struct op *op)
{
	static const int advices[] = {
		MADV_DONTNEED, MADV_DONTNEED, MADV_GUARD_INSTALL, MADV_GUARD_INSTALL,
		MADV_GUARD_REMOVE, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_WILLNEED,
		MADV_NORMAL,
	};

	op->kind = K_MADVISE;
	op->addr = gen_addr(s);
	op->len = gen_len(s, op->addr);
	op->advice = advices[rnd(s, sizeof(advices) / sizeof(advices[0]))];
}

static void gen_op(struct seq *s, struct op *op, int index)
{
	unsigned r = rnd(s, 100);

	memset(op, 0, sizeof(*op));
	if (index < 3 || r < 14) {
		gen_mmap(s, op);
		return;
	}
	if (r < 20) {
		op->kind = K_MUNMAP;
		op->addr = gen_addr(s);
		op->len = gen_len(s, op->addr);
	} else if (r < 30) {
		static const int prots[] = {
			PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
			PROT_WRITE,
		};
		op->kind = K_MPROTECT;
		op->addr = gen_addr(s);
		op->len = gen_len(s, op->addr);
		op->prot = prots[rnd(s, sizeof(prots) / sizeof(prots[0]))];
		if (chance(s, 30))
			op->prot |= PROT_GROWSDOWN;
	} else if (r < 36) {
		gen_mremap(s, op);
	} else if (r < 45) {
		gen_madvise(s, op);
	} else if (r < 50) {
		op->addr = gen_addr(s);
		op->len = gen_len(s, op->addr);
		op->kind = chance(s, 40) ? K_MUNLOCK : chance(s, 60) ? K_MLOCK : K_MLOCK2;
		if (op->kind == K_MLOCK2)
			op->flags = MLOCK_ONFAULT;
	} else {
		op->kind = r < 70 ? K_STORE : r < 94 ? K_LOAD : K_GUP_WRITE;
		op->addr = gen_addr(s) + rnd(s, P);
		op->byte = (unsigned char)(1 + rnd(s, 255));
	}
}

/* ---- sequences ---- */

static bool seq_run(struct seq *s, uint64_t seed, bool verbose)
{
	struct umm_opts o = {
		.size = sizeof(o), .stack_limit = stack_limit,
		.flags = host_zero_page ? 0 : UMM_NO_ZERO_PAGE,
	};
	int n;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->verbose = verbose;
	s->rng = seed * 0x9e3779b97f4a7c15ull + 0x57ac;
	for (int i = 0; i < 4; i++)
		xrand(&s->rng);
	s->mm = umm_mm_create(&o);
	CHECK(s->mm);
	n = 40 + (int)rnd(s, MAX_OPS - 41);
	for (int i = 0; i < n && !s->failed; i++) {
		struct op op;

		gen_op(s, &op, i);
		seq_step(s, &op);
	}
	if (!s->failed)
		same_contents(s);
	if (s->failed)
		seq_report(s);
	CHECK_EQ(syscall(SYS_munmap, win, WIN), 0);
	umm_mm_destroy(s->mm);
	return !s->failed;
}

/* The stack limit, made to fit the window: lowering the soft one is allowed. */
static uint64_t fit_stack_limit(void)
{
	struct rlimit rl;

	CHECK_EQ(getrlimit(RLIMIT_STACK, &rl), 0);
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (8ull << 20)) {
		rl.rlim_cur = 8ull << 20;
		CHECK_EQ(setrlimit(RLIMIT_STACK, &rl), 0);
	}
	return rl.rlim_cur & ~(P - 1);
}

/* Is [a - 2 MiB, a + WIN + 2 MiB) free in this process? */
static bool window_free(uint64_t a)
{
	const uint64_t m = 2ull << 20;

	return syscall(SYS_mmap, a - m, WIN + 2 * m, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == (long)(a - m) &&
	       !syscall(SYS_munmap, a - m, WIN + 2 * m);
}

static void test_random(void)
{
	static struct seq s;
	unsigned long n = strtoul(getenv("UMM_STACK_SEQUENCES") ?: "60", NULL, 0);
	unsigned long failed = 0;
	double t0 = now_sec();

	for (unsigned long seed = 0; seed < n; seed++)
		failed += !seq_run(&s, seed, false);
	printf("stack_diff: %lu sequences, %lu failed, %lu Referenced notes, %.1f s\n",
	       n, failed, ref_notes, now_sec() - t0);
	CHECK_EQ(failed, 0);
}

int main(void)
{
	static const uint64_t candidates[] = {
		0x340000000000ull, 0x350000000000ull, 0x360000000000ull, 0x210000000000ull,
	};
	const char *replay = getenv("UMM_STACK_SEED");
	bool found = false;

	setenv("UMM_KHUGEPAGED", "0", 0);
	setenv("UMM_PREZERO", "0", 0);
	for (unsigned i = 0; !found && i < sizeof(candidates) / sizeof(candidates[0]); i++)
		found = window_free(win = candidates[i]);
	if (!found) {
		fprintf(stderr, "test_stack_diff: no free window\n");
		return 1;
	}
	stack_limit = fit_stack_limit();
	host_zero_page = host_maps_zero_page();
	if (replay && *replay) {
		static struct seq s;
		bool ok = seq_run(&s, strtoull(replay, NULL, 0), true);

		printf("stack_diff: sequence %s %s\n", replay, ok ? "agrees" : "FAILED");
		return ok ? 0 : 1;
	}
	RUN(test_random);
	return test_done();
}
