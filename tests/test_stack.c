// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_stack - faults below a MAP_GROWSDOWN VMA grow it, side by side with
 * the host kernel: the same layout is built in a window of this process
 * and in an umm mm, the same touches are made (real loads and stores on
 * the host, a SIGSEGV caught; umm_fault on umm), and after each step the
 * result and the window's VMAs (relative to its base) must agree: the
 * guard gap against an accessible VMA below, none against PROT_NONE, the
 * stack limit (RLIMIT_STACK), growth before the rights check, and no
 * growth through get_user_pages (process_vm_writev, umm_write).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"

#define PG	4096ull
#define WIN	(64ull << 20)

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t base;
};

static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

/* A load or store at base + @off: 0, or -EFAULT where the CPU faulted. */
static int touch(struct side *s, uint64_t off, bool write)
{
	volatile char *p = (volatile char *)(s->base + off);

	if (s->mm)
		return umm_fault(s->mm, s->base + off, write ? UMM_WRITE : UMM_READ);
	if (sigsetjmp(segv_jmp, 1))
		return -EFAULT;
	if (write)
		*p = 1;
	else
		(void)*p;
	return 0;
}

/* process_vm_writev / umm_write of one byte: get_user_pages' view. */
static int gup_write(struct side *s, uint64_t off)
{
	char c = 1;
	struct iovec l = { &c, 1 }, r = { (void *)(s->base + off), 1 };

	if (s->mm)
		return (int)umm_write(s->mm, s->base + off, &c, 1) == 1 ? 0 : -EFAULT;
	return process_vm_writev(getpid(), &l, 1, &r, 1, 0) == 1 ? 0 : -errno;
}

static int map(struct side *s, uint64_t off, uint64_t len, int prot, int flags)
{
	int64_t r;

	flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	if (s->mm) {
		r = umm_mmap(s->mm, s->base + off, len, prot, flags, NULL, 0);
	} else {
		void *p = mmap((void *)(s->base + off), len, prot, flags, -1, 0);

		r = p == MAP_FAILED ? -errno : (int64_t)(uintptr_t)p;
	}
	return r == (int64_t)(s->base + off) ? 0 : -EINVAL;
}

static int unmap(struct side *s, uint64_t off, uint64_t len)
{
	if (s->mm)
		return umm_munmap(s->mm, s->base + off, len);
	return munmap((void *)(s->base + off), len) ? -errno : 0;
}

static int protect(struct side *s, uint64_t off, uint64_t len, int prot)
{
	if (s->mm)
		return umm_mprotect(s->mm, s->base + off, len, prot);
	return mprotect((void *)(s->base + off), len, prot) ? -errno : 0;
}

/* The window's VMAs as "start-end perms" lines, relative to its base. */
static void layout(struct side *s, char *out, size_t cap)
{
	char *raw = NULL, line[512];
	size_t size = 0, used = 0;
	FILE *f;

	if (s->mm) {
		f = open_memstream(&raw, &size);
		CHECK(f && umm_maps(s->mm, f) == 0);
		fclose(f);
		f = fmemopen(raw, size, "r");
	} else {
		f = fopen("/proc/self/maps", "r");
	}
	CHECK(f);
	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &a, &b, perms) != 3 ||
		    b <= s->base || a >= s->base + WIN)
			continue;
		used += (size_t)snprintf(out + used, cap - used, "%llx-%llx %s\n",
					 a - s->base, b - s->base, perms);
	}
	if (f)
		fclose(f);
	free(raw);
}

enum op { TOUCH_R, TOUCH_W, GUP_W, PROT_NONE_PREV };

struct step {
	enum op op;
	uint64_t off;
	const char *what;
};

#define S_OFF	(32ull << 20)			/* the stack's first page */
#define PE	(S_OFF - (2ull << 20))		/* end of the VMA below it */
#define R_OFF	(48ull << 20)			/* a read-only stack */
#define T_OFF	(60ull << 20)			/* a stack for the limit */

/*
 * The window stays reserved (PROT_NONE) but for the holes the stacks grow
 * into, so that nothing else of the process lands in it meanwhile.
 */
static void build(struct side *s, uint64_t lim)
{
	CHECK_EQ(unmap(s, PE, S_OFF - PE), 0);
	CHECK_EQ(unmap(s, R_OFF - 4 * PG, 4 * PG), 0);
	CHECK_EQ(unmap(s, T_OFF - lim - 4 * PG, lim + 4 * PG), 0);
	CHECK_EQ(map(s, S_OFF, 4 * PG, PROT_READ | PROT_WRITE, MAP_GROWSDOWN), 0);
	CHECK_EQ(map(s, PE - PG, PG, PROT_READ, 0), 0);
	CHECK_EQ(map(s, R_OFF, PG, PROT_READ, MAP_GROWSDOWN), 0);
	CHECK_EQ(map(s, T_OFF, PG, PROT_READ | PROT_WRITE, MAP_GROWSDOWN), 0);
}

static int run(struct side *s, const struct step *st)
{
	switch (st->op) {
	case TOUCH_R:
		return touch(s, st->off, false);
	case TOUCH_W:
		return touch(s, st->off, true);
	case GUP_W:
		return gup_write(s, st->off);
	default:
		return protect(s, PE - PG, PG, PROT_NONE);
	}
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
	return rl.rlim_cur;
}

/* Both sides' windows, reserved PROT_NONE: the host's here, umm's in a new mm. */
static void sides_open(struct side *host, struct side *us, uint64_t stack_limit)
{
	struct umm_opts o = { .size = sizeof(o), .stack_limit = stack_limit };
	void *w;

	signal(SIGSEGV, on_segv);
	w = mmap(NULL, WIN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(w != MAP_FAILED);
	host->mm = NULL;
	host->base = (uint64_t)(uintptr_t)w;
	us->mm = umm_mm_create(&o);
	CHECK(us->mm);
	us->base = (uint64_t)umm_mmap(us->mm, 0, WIN, PROT_NONE,
				      MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
}

static void sides_close(struct side *host, struct side *us)
{
	munmap((void *)(uintptr_t)host->base, WIN);
	signal(SIGSEGV, SIG_DFL);
	umm_mm_destroy(us->mm);
}

static void test_stack_growth_as_host(void)
{
	uint64_t stack_limit = fit_stack_limit(), lim = stack_limit & ~(PG - 1);
	struct side host, us;
	char hl[4096], ul[4096];
	const struct step steps[] = {
		{ GUP_W, S_OFF - PG, "get_user_pages below: no growth" },
		{ TOUCH_W, S_OFF - PG, "a store one page below" },
		{ TOUCH_R, S_OFF - (1ull << 20), "a load 1 MiB below" },
		{ TOUCH_W, PE + 255 * PG, "inside the guard gap of an r-- VMA" },
		{ TOUCH_W, PE + 256 * PG, "at the guard gap's edge" },
		{ TOUCH_W, PE + 200 * PG, "the gap again, below the new start" },
		{ PROT_NONE_PREV, 0, "the VMA below made PROT_NONE" },
		{ TOUCH_W, PE + PG, "no gap kept from a PROT_NONE VMA" },
		{ TOUCH_R, PE, "right up to it" },
		{ TOUCH_W, R_OFF - PG, "a store below a read-only stack" },
		{ TOUCH_R, R_OFF - 2 * PG, "a load below it" },
		{ TOUCH_W, T_OFF + PG - lim, "to the stack limit exactly" },
		{ TOUCH_W, T_OFF - lim, "one page past it" },
		{ TOUCH_W, T_OFF - lim - 17, "unaligned, further" },
	};

	sides_open(&host, &us, stack_limit);
	build(&host, lim);
	build(&us, lim);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int hr = run(&host, &steps[i]), ur = run(&us, &steps[i]);

		layout(&host, hl, sizeof(hl));
		layout(&us, ul, sizeof(ul));
		if (hr != ur || strcmp(hl, ul))
			printf("     step %zu (%s): host %d, umm %d\n   host:\n%s   umm:\n%s",
			       i, steps[i].what, hr, ur, hl, ul);
		CHECK_EQ(ur, hr);
		CHECK(!strcmp(hl, ul));
	}
	sides_close(&host, &us);
}

/* What the stack's pages held before it grew stays, and the new are 0. */
static void test_grown_stack_keeps_data(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);
	int64_t s;
	char c = 0;

	CHECK(mm);
	s = umm_mmap(mm, 0, 2 * PG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, NULL, 0);
	CHECK(s > 0);
	CHECK_EQ(umm_write(mm, (uint64_t)s, "x", 1), 1);
	CHECK_EQ(umm_fault(mm, (uint64_t)s - 3 * PG, UMM_WRITE), 0);
	CHECK_EQ(umm_read(mm, (uint64_t)s, &c, 1), 1);
	CHECK_EQ(c, 'x');
	CHECK_EQ(umm_read(mm, (uint64_t)s - 3 * PG, &c, 1), 1);
	CHECK_EQ(c, 0);
	CHECK_EQ(umm_write(mm, (uint64_t)s - PG, "y", 1), 1);	/* inside now */
	/* a gap that is not below a stack stays a fault */
	CHECK_EQ(umm_fault(mm, (uint64_t)s + 2 * PG, UMM_READ), -EFAULT);
	umm_mm_destroy(mm);
}

static int64_t remap_dontunmap(struct side *s, uint64_t off, uint64_t len, uint64_t to)
{
	int flags = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
	void *p;

	if (s->mm)
		return umm_mremap(s->mm, s->base + off, len, len, flags, s->base + to) -
		       (int64_t)s->base;
	p = mremap((void *)(s->base + off), len, len, flags, (void *)(s->base + to));
	return p == MAP_FAILED ? -errno : (int64_t)((uint64_t)(uintptr_t)p - s->base);
}

/*
 * A growth the stack limit refuses still gives the VMA its anon_vma (the
 * kernel prepares it first), which decides how it merges later: here,
 * with the pages a MREMAP_DONTUNMAP moves right after it.
 */
static void test_refused_growth_prepares_anon(void)
{
	const uint64_t x = 16ull << 20, big = 9ull << 20;
	struct side host, us;
	char hl[4096], ul[4096];

	sides_open(&host, &us, fit_stack_limit());
	for (int i = 0; i < 2; i++) {
		struct side *s = i ? &us : &host;

		CHECK_EQ(unmap(s, x - 4 * PG, 4 * PG), 0);
		CHECK_EQ(map(s, x, big, PROT_READ | PROT_WRITE, MAP_GROWSDOWN), 0);
		/* past the limit: both refuse */
		CHECK_EQ(touch(s, x - PG, true), -EFAULT);
		CHECK_EQ(unmap(s, x + 2 * PG, big - 2 * PG), 0);
		CHECK_EQ(remap_dontunmap(s, x, 2 * PG, x + 2 * PG), (int64_t)(x + 2 * PG));
	}
	layout(&host, hl, sizeof(hl));
	layout(&us, ul, sizeof(ul));
	if (strcmp(hl, ul))
		printf("   host:\n%s   umm:\n%s", hl, ul);
	CHECK(!strcmp(hl, ul));
	sides_close(&host, &us);
}

int main(void)
{
	RUN(test_stack_growth_as_host);
	RUN(test_refused_growth_prepares_anon);
	RUN(test_grown_stack_keeps_data);
	return test_done();
}
