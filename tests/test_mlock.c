// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_mlock - umm_mlock, umm_mlock2, umm_munlock, umm_mlockall and
 * umm_munlockall side by side with the host's system calls: the same
 * calls on a window of umm's mm and on a window of this process, then
 * the return values and the window's smaps blocks (bounds, rights, Rss,
 * Locked, VmFlags "lo"/"lf") compared. Scripted cases first (splits and
 * merges, holes, PROT_NONE, a file mapping past its end, "on fault",
 * bad arguments, advice a locked VMA refuses, droppable and sealed
 * memory), then mlockall in a child process (it changes every VMA of
 * the process), then random sequences of mmap, munmap, mprotect, mlock,
 * mlock2, munlock, MADV_DONTNEED and writes (UMM_MLOCK_SEQUENCES,
 * default 100; UMM_MLOCK_SEED). The host's calls are raw system calls:
 * the sanitizers make mlock() a no-op.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_proc.h"
#include "uapi_mman.h"

#ifndef SYS_mseal
#define SYS_mseal	462
#endif

#define P		4096ull
#define NPAGES		32
#define WIN		(NPAGES * P)
#define RW		(PROT_READ | PROT_WRITE)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct side {
	struct umm_mm *mm;	/* NULL: the host */
	uint64_t base, res;
};

/* ---- the calls, on either side (0 or -errno) ---- */

static int64_t sys_ret(long r)
{
	return r < 0 ? -errno : r;
}

static int64_t do_mlock(struct side *s, uint64_t off, uint64_t len)
{
	if (s->mm)
		return umm_mlock(s->mm, s->base + off, len);
	return sys_ret(syscall(SYS_mlock, s->base + off, len));
}

static int64_t do_mlock2(struct side *s, uint64_t off, uint64_t len, unsigned int flags)
{
	if (s->mm)
		return umm_mlock2(s->mm, s->base + off, len, flags);
	return sys_ret(syscall(SYS_mlock2, s->base + off, len, flags));
}

static int64_t do_munlock(struct side *s, uint64_t off, uint64_t len)
{
	if (s->mm)
		return umm_munlock(s->mm, s->base + off, len);
	return sys_ret(syscall(SYS_munlock, s->base + off, len));
}

static int64_t do_mmap(struct side *s, uint64_t off, uint64_t len, int prot, int flags,
		       int fd, struct umm_file *f, uint64_t foff)
{
	flags |= MAP_FIXED | (fd < 0 ? MAP_ANONYMOUS : 0);
	if (s->mm) {
		int64_t r = umm_mmap(s->mm, s->base + off, len, prot, flags,
				     fd < 0 ? NULL : f, foff);

		return r < 0 ? r : r - (int64_t)s->base;
	}
	void *p = mmap((void *)(s->base + off), len, prot, flags, fd, (off_t)foff);

	return p == MAP_FAILED ? -errno : (int64_t)((uint64_t)(uintptr_t)p - s->base);
}

static int64_t do_anon(struct side *s, uint64_t off, uint64_t len, int prot)
{
	return do_mmap(s, off, len, prot, MAP_PRIVATE, -1, NULL, 0);
}

static int64_t do_munmap(struct side *s, uint64_t off, uint64_t len)
{
	return both_munmap(s->mm, s->base + off, len);
}

static int64_t do_mprotect(struct side *s, uint64_t off, uint64_t len, int prot)
{
	return both_mprotect(s->mm, s->base + off, len, prot);
}

static int64_t do_madvise(struct side *s, uint64_t off, uint64_t len, int advice)
{
	return both_madvise(s->mm, s->base + off, len, advice);
}

static void do_write(struct side *s, uint64_t off, char c)
{
	both_write_byte(s->mm, s->base + off, c);
}

/* ---- pairs ---- */

static void open_pair(struct side *host, struct side *us)
{
	struct umm_opts o = { .size = sizeof(o) };

	/* as the host's read faults, which allocate here (test_proc.h) */
	o.flags = host_maps_zero_page() ? 0 : UMM_NO_ZERO_PAGE;
	*host = (struct side){ 0 };
	*us = (struct side){ .mm = umm_mm_create(&o) };
	CHECK(us->mm);
	if (!us->mm)
		exit(test_done() | 1);
	host->base = both_window(NULL, WIN, 2ull << 20, &host->res);
	us->base = both_window(us->mm, WIN, 2ull << 20, &us->res);
}

static void close_pair(struct side *host, struct side *us)
{
	CHECK_EQ(munmap((void *)host->res, WIN + (4ull << 20)), 0);
	umm_mm_destroy(us->mm);
}

/* The windows' smaps agree (what: the step, for the message). */
static void same(struct side *host, struct side *us, const char *what)
{
	same_smaps_windows(host->base, us->mm, us->base, WIN, what);
}

/* The same call on both sides returns the same: @h and @u, @want if >= -4095. */
static void same_ret(int64_t h, int64_t u, int64_t want, const char *what)
{
	if (h != u)
		printf("     %s: host %lld, umm %lld\n", what, (long long)h, (long long)u);
	CHECK_EQ(h, u);
	if (want >= -4095)
		CHECK_EQ(u, want);
}

#define BOTH(call, want, what)						\
	do {								\
		int64_t h_ = (call(&host));				\
		int64_t u_ = (call(&us));				\
		same_ret(h_, u_, (want), (what));			\
	} while (0)

/* ---- scripted cases ---- */

static int64_t lock_middle(struct side *s) { return do_mlock(s, 4 * P, 4 * P); }
static int64_t unlock_middle(struct side *s) { return do_munlock(s, 4 * P, 4 * P); }
static int64_t rw16(struct side *s) { return do_anon(s, 0, 16 * P, RW); }

/* A range inside a VMA: split in three, locked and faulted in; unlocked, merged again. */
static void test_split_merge(void)
{
	struct side host, us;

	open_pair(&host, &us);
	BOTH(rw16, 0, "mmap");
	do_write(&host, 5 * P, 'a');
	do_write(&us, 5 * P, 'a');
	BOTH(lock_middle, 0, "mlock of the middle");
	same(&host, &us, "mlock of the middle");
	BOTH(lock_middle, 0, "mlock again");
	BOTH(unlock_middle, 0, "munlock");
	same(&host, &us, "munlock: one VMA again");
	close_pair(&host, &us);
}

static int64_t rw_then_none(struct side *s)
{
	int64_t r = do_anon(s, 0, 4 * P, RW);

	return r < 0 ? r : do_anon(s, 4 * P, 4 * P, PROT_NONE);
}
static int64_t lock8(struct side *s) { return do_mlock(s, 0, 8 * P); }
static int64_t unlock8(struct side *s) { return do_munlock(s, 0, 8 * P); }
static int64_t none_then_rw(struct side *s)
{
	int64_t r = do_anon(s, 10 * P, 4 * P, PROT_NONE);

	return r < 0 ? r : do_anon(s, 14 * P, 4 * P, RW);
}
static int64_t lock_10_8(struct side *s) { return do_mlock(s, 10 * P, 8 * P); }

/*
 * A PROT_NONE VMA cannot be faulted in: -ENOMEM, the flags set all the
 * same, the VMAs before it faulted in, those after it not.
 */
static void test_prot_none(void)
{
	struct side host, us;

	open_pair(&host, &us);
	BOTH(rw_then_none, 4 * P, "mmap");
	BOTH(lock8, -ENOMEM, "mlock over rw and PROT_NONE");
	same(&host, &us, "mlock over rw and PROT_NONE");
	BOTH(unlock8, 0, "munlock");
	BOTH(none_then_rw, 14 * P, "mmap");
	BOTH(lock_10_8, -ENOMEM, "mlock over PROT_NONE and rw");
	same(&host, &us, "mlock over PROT_NONE and rw");
	close_pair(&host, &us);
}

/* Two VMAs with a real hole between them (the window is PROT_NONE else). */
static int64_t two_with_hole(struct side *s)
{
	int64_t r = do_anon(s, 0, 4 * P, RW);

	r = r < 0 ? r : do_anon(s, 6 * P, 4 * P, RW);
	return r < 0 ? r : do_munmap(s, 4 * P, 2 * P);
}
static int64_t lock_hole_start(struct side *s) { return do_mlock(s, 4 * P, 4 * P); }
static int64_t lock_over_hole(struct side *s) { return do_mlock(s, 2 * P, 6 * P); }
static int64_t unlock_over_hole(struct side *s) { return do_munlock(s, 0, 10 * P); }

/* A hole at the start changes nothing; one further on ends the call there. */
static void test_holes(void)
{
	struct side host, us;

	open_pair(&host, &us);
	BOTH(two_with_hole, 0, "mmap, munmap");
	BOTH(lock_hole_start, -ENOMEM, "mlock from a hole");
	same(&host, &us, "mlock from a hole");
	BOTH(lock_over_hole, -ENOMEM, "mlock over a hole");
	same(&host, &us, "mlock over a hole");
	BOTH(unlock_over_hole, -ENOMEM, "munlock over a hole");
	same(&host, &us, "munlock over a hole");
	close_pair(&host, &us);
}

static int64_t onfault(struct side *s) { return do_mlock2(s, 2 * P, 8 * P, MLOCK_ONFAULT); }
static int64_t bad_flags(struct side *s) { return do_mlock2(s, 0, P, 2); }
static int64_t unaligned_zero(struct side *s) { return do_mlock(s, 12 * P + 1, 0); }
static int64_t wraps(struct side *s) { return do_mlock(s, 0, UINT64_MAX); }
static int64_t unlock_wraps(struct side *s) { return do_munlock(s, 0, -2 * P); }
static int64_t relock(struct side *s) { return do_mlock(s, 0, 16 * P); }
static int64_t dontneed(struct side *s) { return do_madvise(s, 0, P, MADV_DONTNEED); }
static int64_t unlock_all16(struct side *s) { return do_munlock(s, 0, 16 * P); }
static int64_t dontneed16(struct side *s) { return do_madvise(s, 0, 16 * P, MADV_DONTNEED); }

/*
 * "On fault": nothing faulted in, pages locked as they come; a zero
 * length at an unaligned address still locks its page; a length that
 * wraps to nothing is no error for mlock, a range that wraps is for
 * munlock; a locked VMA refuses MADV_DONTNEED.
 */
static void test_onfault_and_arguments(void)
{
	struct side host, us;

	open_pair(&host, &us);
	BOTH(rw16, 0, "mmap");
	BOTH(onfault, 0, "mlock2(MLOCK_ONFAULT)");
	same(&host, &us, "mlock2(MLOCK_ONFAULT)");
	do_write(&host, 3 * P, 'o');
	do_write(&us, 3 * P, 'o');
	same(&host, &us, "a page written under MLOCK_ONFAULT");
	BOTH(bad_flags, -EINVAL, "mlock2 with an unknown flag");
	BOTH(unaligned_zero, 0, "mlock of 0 bytes at an unaligned address");
	same(&host, &us, "mlock of 0 bytes at an unaligned address");
	BOTH(wraps, 0, "mlock of a length that wraps");
	BOTH(unlock_wraps, -EINVAL, "munlock of a range that wraps");
	BOTH(relock, 0, "mlock of all");
	same(&host, &us, "mlock of all: the on-fault part too");
	BOTH(dontneed, -EINVAL, "MADV_DONTNEED of locked memory");
	BOTH(unlock_all16, 0, "munlock of all");
	BOTH(dontneed16, 0, "MADV_DONTNEED after munlock");
	same(&host, &us, "munlock of all");
	CHECK_EQ(umm_mlock(NULL, 0, P), -EINVAL);
	CHECK_EQ(umm_mlock2(NULL, 0, P, 0), -EINVAL);
	CHECK_EQ(umm_munlock(NULL, 0, P), -EINVAL);
	CHECK_EQ(umm_mlockall(NULL, MCL_CURRENT), -EINVAL);
	CHECK_EQ(umm_munlockall(NULL), -EINVAL);
	close_pair(&host, &us);
}

static int64_t exec_write_only(struct side *s)
{
	int64_t r = do_anon(s, 0, 4 * P, PROT_EXEC);

	r = r < 0 ? r : do_anon(s, 4 * P, 4 * P, PROT_WRITE);
	return r < 0 ? r : do_anon(s, 8 * P, 4 * P, PROT_READ);
}
static int64_t lock12(struct side *s) { return do_mlock(s, 0, 12 * P); }

/*
 * Memory that may be accessed at all is faulted in even where it is not
 * readable (a forced read of exec-only memory, a write of write-only).
 */
static void test_exec_write_only(void)
{
	struct side host, us;

	open_pair(&host, &us);
	BOTH(exec_write_only, 8 * P, "mmap");
	BOTH(lock12, 0, "mlock of exec-only, write-only and read-only memory");
	same(&host, &us, "mlock of exec-only, write-only and read-only memory");
	BOTH(lock12, 0, "mlock again: all present");
	same(&host, &us, "mlock again");
	close_pair(&host, &us);
}

static int host_clear_refs(int type)
{
	char buf[4];
	int fd = open("/proc/self/clear_refs", O_WRONLY), n;
	ssize_t r;

	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d", type);
	r = write(fd, buf, (size_t)n);
	close(fd);
	return r == n ? 0 : -EIO;
}

/*
 * A THP made old by clear_refs stays old when mlock faults in a read-only
 * VMA holding it: GUP's touch_pmd() goes through pmdp_set_access_flags(),
 * which on x86 changes a leaf only for a write (umm made it young:
 * Referenced 2048 kB where the host has 0). Written (write-only memory),
 * it is young again.
 */
static void test_thp_touch(void)
{
	const uint64_t thp = 2ull << 20;
	struct umm_opts o = { .size = sizeof(o) };
	uint64_t hres, ures, hb, ub;
	struct umm_mm *mm;
	char *h;

	o.flags = host_maps_zero_page() ? 0 : UMM_NO_ZERO_PAGE;
	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	hb = both_window(NULL, 2 * thp, thp, &hres);
	ub = both_window(mm, 2 * thp, thp, &ures);
	for (int i = 0; i < 2; i++) {
		uint64_t off = i * thp;
		int prot = i ? PROT_WRITE : PROT_READ;
		int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

		CHECK(mmap((void *)(hb + off), thp, RW, flags, -1, 0) == (void *)(hb + off));
		CHECK_EQ(umm_mmap(mm, ub + off, thp, RW, flags, NULL, 0), (int64_t)(ub + off));
		CHECK_EQ(madvise_pair(hb, mm, ub, off, thp, MADV_HUGEPAGE), 0);
		both_write_byte(NULL, hb + off, 't');
		both_write_byte(mm, ub + off, 't');
		CHECK_EQ(both_mprotect(NULL, hb + off, thp, prot), 0);
		CHECK_EQ(both_mprotect(mm, ub + off, thp, prot), 0);
	}
	h = smaps_window(NULL, 0, hb, 2 * thp, NULL);
	if (field_kb(h, "AnonHugePages") != 2 * thp / 1024) {
		printf("     note: the host made no THPs: not compared\n");
		goto out;
	}
	CHECK_EQ(host_clear_refs(1), 0);
	CHECK_EQ(umm_clear_refs(mm, 1), 0);
	same_smaps_windows(hb, mm, ub, 2 * thp, "THPs made old");
	CHECK_EQ(sys_ret(syscall(SYS_mlock, hb, 2 * thp)), 0);
	CHECK_EQ(umm_mlock(mm, ub, 2 * thp), 0);
	same_smaps_windows(hb, mm, ub, 2 * thp, "THPs read-only and write-only, mlocked");
out:
	free(h);
	CHECK_EQ(munmap((void *)hres, 4 * thp), 0);
	umm_mm_destroy(mm);
}

static int64_t guarded(struct side *s)
{
	int64_t r = do_anon(s, 0, 8 * P, RW);

	return r < 0 ? r : do_madvise(s, 3 * P, P, MADV_GUARD_INSTALL);
}
static int64_t lock8_again(struct side *s) { return do_mlock(s, 0, 8 * P); }

/*
 * A guard region cannot be faulted in: mlock of a range holding one
 * fails there (-ENOMEM) with the pages before it faulted in, the flags
 * set on all of it.
 */
static void test_guard_region(void)
{
	struct side host, us;
	int64_t h, u;

	open_pair(&host, &us);
	h = guarded(&host);
	u = guarded(&us);
	if (h == -EINVAL) {
		printf("     note: the host has no guard regions: not compared\n");
		close_pair(&host, &us);
		return;
	}
	same_ret(h, u, 0, "mmap, MADV_GUARD_INSTALL");
	BOTH(lock8_again, -ENOMEM, "mlock over a guard region");
	same(&host, &us, "mlock over a guard region");
	close_pair(&host, &us);
}

static int hfd = -1;
static struct umm_file *ufile;

static int64_t file_maps(struct side *s)
{
	int64_t r = do_mmap(s, 0, 8 * P, RW, MAP_SHARED, hfd, ufile, 0);

	if (r < 0)
		return r;
	r = do_mmap(s, 10 * P, 4 * P, PROT_READ, MAP_PRIVATE, hfd, ufile, 0);
	if (r < 0)
		return r;
	return do_mmap(s, 16 * P, 4 * P, RW, MAP_SHARED, -1, NULL, 0);
}
static int64_t lock_file(struct side *s) { return do_mlock(s, 0, 8 * P); }
static int64_t lock_rest(struct side *s)
{
	int64_t r = do_mlock(s, 10 * P, 4 * P);

	return r < 0 ? r : do_mlock(s, 16 * P, 4 * P);
}

/*
 * A shared file mapping that runs past the file's end: the pages before
 * it are faulted in, the first one past it fails (-ENOMEM, as SIGBUS
 * would); a private read-only mapping of the file and shared anonymous
 * memory are faulted in with reads (clean).
 */
static void test_files(void)
{
	char path[] = "/tmp/umm_mlock_XXXXXX";
	static char buf[5 * P];
	struct side host, us;

	hfd = mkstemp(path);
	CHECK(hfd >= 0);
	unlink(path);
	memset(buf, 'f', sizeof(buf));
	CHECK_EQ(write(hfd, buf, sizeof(buf) - 100), (ssize_t)(sizeof(buf) - 100));
	CHECK_EQ(fsync(hfd), 0);
	CHECK_EQ(posix_fadvise(hfd, 0, 0, POSIX_FADV_DONTNEED), 0);
	ufile = umm_file_from_fd(hfd, O_RDWR);
	CHECK(ufile);
	open_pair(&host, &us);
	BOTH(file_maps, 16 * P, "mmap");
	BOTH(lock_file, -ENOMEM, "mlock of a file mapping past the file's end");
	BOTH(lock_rest, 0, "mlock of a private file mapping and shared memory");
	/*
	 * The host maps the cached pages around a fault (fault-around) where
	 * umm maps only what it faults: the same here, every page is faulted.
	 */
	same(&host, &us, "mlocked file mappings");
	close_pair(&host, &us);
	umm_file_put(ufile);
	close(hfd);
}

static int64_t droppable(struct side *s)
{
	return do_mmap(s, 0, 4 * P, RW, MAP_DROPPABLE, -1, NULL, 0);
}
static int64_t lock4(struct side *s) { return do_mlock(s, 0, 4 * P); }
static int64_t droppable_ro(struct side *s)
{
	return do_mmap(s, 4 * P, 4 * P, PROT_READ, MAP_DROPPABLE, -1, NULL, 0);
}
static int64_t lock_ro(struct side *s) { return do_mlock(s, 4 * P, 4 * P); }
static int64_t ro_to_rw(struct side *s) { return do_mprotect(s, 4 * P, 4 * P, RW); }
static int64_t sealed(struct side *s)
{
	int64_t r = do_anon(s, 8 * P, 4 * P, PROT_READ);

	if (r < 0)
		return r;
	if (s->mm)
		return umm_mseal(s->mm, s->base + 8 * P, 4 * P, 0);
	return sys_ret(syscall(SYS_mseal, s->base + 8 * P, 4 * P, 0));
}
static int64_t lock_sealed(struct side *s) { return do_mlock(s, 8 * P, 2 * P); }

/* Droppable memory is never locked (no error); a seal does not stop mlock. */
static void droppable_sealed_steps(void)
{
	struct side host, us;
	int64_t h, u;

	open_pair(&host, &us);
	h = droppable(&host);
	u = droppable(&us);
	if (h == -EINVAL) {
		printf("     note: the host has no MAP_DROPPABLE: not compared\n");
	} else {
		same_ret(h, u, 0, "mmap(MAP_DROPPABLE)");
		BOTH(lock4, 0, "mlock of droppable memory");
		same(&host, &us, "mlock of droppable memory");
		/*
		 * Faulted in by reads (read-only): pages of their own on a host
		 * without the zero page, clean, so lazily free (LazyFree 16 kB
		 * on the host; umm had 0), as droppable folios are never
		 * swap-backed; the one written is not.
		 */
		BOTH(droppable_ro, 4 * P, "mmap(MAP_DROPPABLE), read-only");
		BOTH(lock_ro, 0, "mlock of read-only droppable memory");
		same(&host, &us, "mlock of read-only droppable memory");
		BOTH(ro_to_rw, 0, "mprotect");
		do_write(&host, 5 * P, 'd');
		do_write(&us, 5 * P, 'd');
		same(&host, &us, "a page of read-only droppable memory written");
	}
	h = sealed(&host);
	u = sealed(&us);
	if (h == -ENOSYS) {
		printf("     note: the host has no mseal: not compared\n");
		close_pair(&host, &us);
		return;
	}
	same_ret(h, u, 0, "mseal");
	BOTH(lock_sealed, 0, "mlock of sealed memory");
	same(&host, &us, "mlock of sealed memory");
	/* a sealed window can never be unmapped: the child's goes with it */
	umm_mm_destroy(us.mm);
}

/* ---- mlockall, in a child (it reaches every VMA of the process) ---- */

static int64_t host_mlockall(int flags)
{
	return sys_ret(syscall(SYS_mlockall, flags));
}

static int64_t host_munlockall(void)
{
	return sys_ret(syscall(SYS_munlockall));
}

static void mlockall_steps(void)
{
	static const int bad[] = { 0, MCL_ONFAULT, 8, MCL_CURRENT | 8 };
	struct side host, us;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		open_pair(&host, &us);
		same_ret(host_mlockall(bad[i]), umm_mlockall(us.mm, bad[i]), -EINVAL,
			 "mlockall with bad flags");
		close_pair(&host, &us);
	}
	open_pair(&host, &us);
	BOTH(rw16, 0, "mmap");
	/* later mappings locked, on fault: nothing populated now */
	same_ret(host_mlockall(MCL_FUTURE | MCL_ONFAULT),
		 umm_mlockall(us.mm, MCL_FUTURE | MCL_ONFAULT), 0, "mlockall(MCL_FUTURE|ONFAULT)");
	same_ret(do_anon(&host, 20 * P, 4 * P, RW), do_anon(&us, 20 * P, 4 * P, RW),
		 20 * P, "mmap under MCL_FUTURE");
	same(&host, &us, "mmap under MCL_FUTURE|MCL_ONFAULT");
	/* every VMA, on fault: flags only (the window's, compared) */
	same_ret(host_mlockall(MCL_CURRENT | MCL_ONFAULT),
		 umm_mlockall(us.mm, MCL_CURRENT | MCL_ONFAULT), 0,
		 "mlockall(MCL_CURRENT|ONFAULT)");
	same(&host, &us, "mlockall(MCL_CURRENT|MCL_ONFAULT)");
	same_ret(host_munlockall(), umm_munlockall(us.mm), 0, "munlockall");
	same_ret(do_anon(&host, 26 * P, 2 * P, RW), do_anon(&us, 26 * P, 2 * P, RW),
		 26 * P, "mmap after munlockall");
	same(&host, &us, "munlockall");
	/*
	 * Every VMA, faulted in: umm's alone (the host's would fault in
	 * umm's whole frame pool, and a sanitizer's shadow), against what
	 * the host did to the same layout above but for the faulting.
	 */
	CHECK_EQ(umm_mlockall(us.mm, MCL_CURRENT), 0);
	{
		char *u = smaps_window(us.mm, 0, us.base, WIN, NULL);

		/* 16 + 4 + 2 private writable pages, the reservation not */
		CHECK_EQ(field_kb(u, "Rss"), (16 + 4 + 2) * 4);
		CHECK_EQ(field_kb(u, "Locked"), (16 + 4 + 2) * 4);
		free(u);
	}
	CHECK_EQ(umm_munlockall(us.mm), 0);
	close_pair(&host, &us);
}

static int64_t droppable_at(struct side *s, uint64_t off)
{
	return do_mmap(s, off, 4 * P, RW, MAP_DROPPABLE, -1, NULL, 0);
}

/*
 * mlockall(MCL_FUTURE) does not lock droppable memory either: mmap takes
 * VM_LOCKED (and VM_LOCKONFAULT) off it, after the merge that saw them -
 * so it stays apart from a droppable neighbour - and faults it in, which
 * "on fault" no longer holds back (host: 3 VMAs of Rss 16 kB, no "lo").
 */
static void droppable_future_steps(void)
{
	struct side host, us;
	int64_t h, u;

	open_pair(&host, &us);
	h = droppable_at(&host, 0);
	u = droppable_at(&us, 0);
	if (h == -EINVAL) {
		printf("     note: the host has no MAP_DROPPABLE: not compared\n");
		close_pair(&host, &us);
		return;
	}
	same_ret(h, u, 0, "mmap(MAP_DROPPABLE)");
	same_ret(host_mlockall(MCL_FUTURE | MCL_ONFAULT),
		 umm_mlockall(us.mm, MCL_FUTURE | MCL_ONFAULT), 0, "mlockall(MCL_FUTURE|ONFAULT)");
	same_ret(droppable_at(&host, 4 * P), droppable_at(&us, 4 * P), 4 * P,
		 "mmap(MAP_DROPPABLE) under MCL_FUTURE");
	same_ret(droppable_at(&host, 8 * P), droppable_at(&us, 8 * P), 8 * P,
		 "mmap(MAP_DROPPABLE) under MCL_FUTURE, again");
	same(&host, &us, "droppable memory mapped under MCL_FUTURE");
	same_ret(host_munlockall(), umm_munlockall(us.mm), 0, "munlockall");
	close_pair(&host, &us);
}

/*
 * Run @fn in a child process: for what changes every VMA of the process
 * (mlockall) or leaves a window that can never go (a sealed one).
 */
static void in_child(void (*fn)(void))
{
	pid_t pid;
	int status = 0;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fn();
		fflush(stdout);
		_exit(test_failures ? 1 : 0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("     the child's status: %#x\n", status);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_mlockall(void)
{
	in_child(mlockall_steps);
}

static void test_droppable_sealed(void)
{
	in_child(droppable_sealed_steps);
}

static void test_droppable_mlockall(void)
{
	in_child(droppable_future_steps);
}

/*
 * ---- PG_mlocked: what one mm's mlock does to another's advice ----
 *
 * A fork's child shares its parent's pages; the one that has them in a
 * VM_LOCKED VMA keeps them mlocked (on the host: unevictable, as
 * /proc/kpageflags shows), and the other's MADV_FREE makes their entries
 * clean and old but not the pages lazily freeable (smaps' LazyFree 0).
 * The host's child is a process that runs the calls it is sent; its smaps
 * are read from /proc/PID/smaps. umm's is umm_fork's mm.
 */
enum { C_MADVISE, C_MLOCK, C_MLOCK_ONFAULT, C_MUNLOCK, C_MPROTECT, C_WRITE, C_MUNMAP,
       C_EXIT };

struct cmd {
	int op, arg;
	uint64_t off, len;
};

struct fork_pair {
	struct side host, us;		/* this process and umm's parent mm */
	struct side uchild;		/* umm's child */
	pid_t pid;			/* the host's child */
	int to, from;
};

static int64_t run_cmd(struct side *s, const struct cmd *c)
{
	switch (c->op) {
	case C_MADVISE:
		return do_madvise(s, c->off, c->len, c->arg);
	case C_MLOCK:
		return do_mlock(s, c->off, c->len);
	case C_MLOCK_ONFAULT:
		return do_mlock2(s, c->off, c->len, MLOCK_ONFAULT);
	case C_MUNLOCK:
		return do_munlock(s, c->off, c->len);
	case C_MPROTECT:
		return do_mprotect(s, c->off, c->len, c->arg);
	case C_WRITE:
		do_write(s, c->off, (char)c->arg);
		return 0;
	case C_MUNMAP:
		return do_munmap(s, c->off, c->len);
	}
	return -EINVAL;
}

/* The host's child: system calls only (no umm, no threads), then _exit. */
static void serve(int in, int out, uint64_t base)
{
	struct side s = { .base = base };
	struct cmd c;

	while (read(in, &c, sizeof(c)) == (ssize_t)sizeof(c) && c.op != C_EXIT) {
		int64_t r = run_cmd(&s, &c);

		if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
			break;
	}
	_exit(0);
}

static bool fork_both(struct fork_pair *fp)
{
	int to[2], from[2];

	CHECK(pipe(to) == 0 && pipe(from) == 0);
	fflush(NULL);
	fp->pid = fork();
	CHECK(fp->pid >= 0);
	if (fp->pid == 0) {
		close(to[1]);
		close(from[0]);
		serve(to[0], from[1], fp->host.base);
	}
	close(to[0]);
	close(from[1]);
	fp->to = to[1];
	fp->from = from[0];
	fp->uchild = (struct side){ .base = fp->us.base };
	CHECK_EQ(umm_fork(fp->us.mm, &fp->uchild.mm), 0);
	return fp->pid > 0 && fp->uchild.mm;
}

static void child_exit_both(struct fork_pair *fp)
{
	struct cmd c = { .op = C_EXIT };

	if (!fp->pid)
		return;
	CHECK_EQ(write(fp->to, &c, sizeof(c)), (ssize_t)sizeof(c));
	CHECK_EQ(waitpid(fp->pid, NULL, 0), fp->pid);
	close(fp->to);
	close(fp->from);
	fp->pid = 0;
	umm_mm_destroy(fp->uchild.mm);
	fp->uchild.mm = NULL;
}

static int64_t host_child_cmd(struct fork_pair *fp, const struct cmd *c)
{
	int64_t r = -EPIPE;

	if (write(fp->to, c, sizeof(*c)) != (ssize_t)sizeof(*c) ||
	    read(fp->from, &r, sizeof(r)) != (ssize_t)sizeof(r))
		return -EPIPE;
	return r;
}

/* The same call in the parents (@child false) or the children. */
static void both_cmd(struct fork_pair *fp, bool child, struct cmd c, const char *what)
{
	int64_t h = child ? host_child_cmd(fp, &c) : run_cmd(&fp->host, &c);
	int64_t u = run_cmd(child ? &fp->uchild : &fp->us, &c);

	same_ret(h, u, -5000, what);
}

/*
 * Both windows' smaps, of the parents or of the children, but for
 * Referenced: umm has no PG_referenced (README "Not yet"), which the
 * host's mlock sets (its fault-in marks the folios accessed) and its
 * MADV_FREE clears, but not on an mlocked folio, which it passes over.
 */
static bool fork_agree(struct fork_pair *fp, bool child, bool show, const char *what)
{
	char *h = smaps_window(NULL, child ? fp->pid : 0, fp->host.base, WIN, NULL);
	char *u = smaps_window(child ? fp->uchild.mm : fp->us.mm, 0, fp->us.base, WIN, NULL);
	bool ok = h && u && same_but_referenced(h, u);

	if (!ok && show) {
		printf("     %s's smaps differ (%s):\n", child ? "the child" : "the parent", what);
		show_diff(h, u);
	}
	free(h);
	free(u);
	return ok;
}

/*
 * MADV_FREE of [off, off + len) in the parents or the children, then both
 * sides' smaps compared. The host marks pages through per-CPU batches and
 * passes over a page off its LRU: drained around the advice, which is
 * given again (it changes nothing the first one did) while they differ,
 * as settle_host().
 */
static void free_and_compare(struct fork_pair *fp, bool child, uint64_t off, uint64_t len,
			     const char *what)
{
	struct cmd c = { .op = C_MADVISE, .arg = MADV_FREE, .off = off, .len = len };

	drain_host_lazyfree();
	both_cmd(fp, child, c, what);
	drain_host_lazyfree();
	for (int i = 0; i < 4 && !fork_agree(fp, child, false, what); i++) {
		printf("     note: the host passed pages over (%s): advised again\n", what);
		if (child)
			(void)host_child_cmd(fp, &c);
		else
			(void)run_cmd(&fp->host, &c);
		drain_host_lazyfree();
	}
	CHECK(fork_agree(fp, child, true, what));
	if (fp->pid)
		CHECK(fork_agree(fp, !child, true, what));
}

static void fork_pair_open(struct fork_pair *fp, uint64_t npages, int lock_op)
{
	memset(fp, 0, sizeof(*fp));
	open_pair(&fp->host, &fp->us);
	CHECK_EQ(do_anon(&fp->host, 0, npages * P, RW), 0);
	CHECK_EQ(do_anon(&fp->us, 0, npages * P, RW), 0);
	for (uint64_t i = 0; i < npages; i++) {
		do_write(&fp->host, i * P, 'm');
		do_write(&fp->us, i * P, 'm');
	}
	if (lock_op >= 0)
		both_cmd(fp, false, (struct cmd){ .op = lock_op, .len = npages * P }, "mlock");
}

static void fork_pair_close(struct fork_pair *fp)
{
	child_exit_both(fp);
	close_pair(&fp->host, &fp->us);
}

/*
 * The parent mlocks (or mlock2(MLOCK_ONFAULT)s, which mlocks what is
 * there already) four written pages, then forks; the child's MADV_FREE
 * leaves them as they are (LazyFree 0). Then the parent lets three of
 * them go, each its own way, and the child's MADV_FREE makes those three
 * lazily free: munlock of one, a write to one (the parent's copy is the
 * locked one now, the child's old page is not), munmap of one.
 */
static void parent_locked_steps(int lock_op)
{
	struct fork_pair fp;

	fork_pair_open(&fp, 4, lock_op);
	if (!fork_both(&fp))
		goto out;
	free_and_compare(&fp, true, 0, 4 * P, "the child frees pages its parent mlocked");
	both_cmd(&fp, false, (struct cmd){ .op = C_MUNLOCK, .off = P, .len = P }, "munlock");
	both_cmd(&fp, false, (struct cmd){ .op = C_WRITE, .off = 2 * P, .arg = 'w' }, "write");
	both_cmd(&fp, false, (struct cmd){ .op = C_MUNMAP, .off = 3 * P, .len = P }, "munmap");
	free_and_compare(&fp, true, 0, 4 * P, "then the parent unlocked, wrote, unmapped");
out:
	fork_pair_close(&fp);
}

static void test_fork_parent_locked(void)
{
	parent_locked_steps(C_MLOCK);
	parent_locked_steps(C_MLOCK_ONFAULT);
}

/*
 * The child mlocks pages it shares with its parent: read-only, so that
 * mlock's fault-in does not copy them (a writable private mapping gets
 * the child its own pages). The parent's MADV_FREE leaves them; once the
 * child munlocks half, or unmaps the rest, or exits, they are lazily freed.
 */
static void test_fork_child_locked(void)
{
	struct fork_pair fp;

	for (int how = 0; how < 2; how++) {
		fork_pair_open(&fp, 4, -1);
		if (!fork_both(&fp))
			goto next;
		both_cmd(&fp, true, (struct cmd){ .op = C_MPROTECT, .len = 4 * P,
						  .arg = PROT_READ }, "mprotect");
		both_cmd(&fp, true, (struct cmd){ .op = C_MLOCK, .len = 4 * P }, "mlock");
		free_and_compare(&fp, false, 0, 4 * P, "the parent frees pages its child mlocked");
		both_cmd(&fp, true, (struct cmd){ .op = C_MUNLOCK, .len = 2 * P }, "munlock");
		free_and_compare(&fp, false, 0, 4 * P, "then the child munlocked half");
		if (how) {
			child_exit_both(&fp);
		} else {
			both_cmd(&fp, true, (struct cmd){ .op = C_MUNMAP, .off = 2 * P,
							  .len = 2 * P }, "munmap");
		}
		free_and_compare(&fp, false, 0, 4 * P,
				 how ? "then the child exited" : "then the child unmapped the rest");
next:
		fork_pair_close(&fp);
	}
}

/* ---- random sequences ---- */

static uint64_t rnd(uint64_t *s)
{
	return xrand(s);
}

static const int prots[] = { PROT_NONE, PROT_READ, RW, PROT_WRITE };

/* One random call on both sides; false when they disagreed. */
static bool random_op(struct side *host, struct side *us, uint64_t *s, char *what,
		      size_t wlen)
{
	uint64_t off = (rnd(s) % NPAGES) * P, len = (1 + rnd(s) % 8) * P;
	int prot = prots[rnd(s) % ARRAY_SIZE(prots)];
	int64_t h = 0, u = 0;

	if (off + len > WIN)
		len = WIN - off;
	switch (rnd(s) % 9) {
	case 0:
		snprintf(what, wlen, "mmap %llu+%llu prot %d", off / P, len / P, prot);
		h = do_anon(host, off, len, prot);
		u = do_anon(us, off, len, prot);
		break;
	case 1:
		snprintf(what, wlen, "munmap %llu+%llu", off / P, len / P);
		h = do_munmap(host, off, len);
		u = do_munmap(us, off, len);
		if (!h && !u) {
			both_reserve(NULL, host->base + off, len);
			both_reserve(us->mm, us->base + off, len);
		}
		break;
	case 2:
		snprintf(what, wlen, "mprotect %llu+%llu prot %d", off / P, len / P, prot);
		h = do_mprotect(host, off, len, prot);
		u = do_mprotect(us, off, len, prot);
		break;
	case 3:
	case 4:
		snprintf(what, wlen, "mlock %llu+%llu", off / P, len / P);
		h = do_mlock(host, off, len);
		u = do_mlock(us, off, len);
		break;
	case 5:
		snprintf(what, wlen, "mlock2 onfault %llu+%llu", off / P, len / P);
		h = do_mlock2(host, off, len, MLOCK_ONFAULT);
		u = do_mlock2(us, off, len, MLOCK_ONFAULT);
		break;
	case 6:
		snprintf(what, wlen, "munlock %llu+%llu", off / P, len / P);
		h = do_munlock(host, off, len);
		u = do_munlock(us, off, len);
		break;
	case 7:
		snprintf(what, wlen, "MADV_DONTNEED %llu+%llu", off / P, len / P);
		h = do_madvise(host, off, len, MADV_DONTNEED);
		u = do_madvise(us, off, len, MADV_DONTNEED);
		break;
	default: {
		char c = (char)('a' + rnd(s) % 26);

		/* a write only where the host would not fault: a writable page */
		snprintf(what, wlen, "write %llu", off / P);
		if (do_mprotect(host, off, P, RW) || do_mprotect(us, off, P, RW))
			return true;
		do_write(host, off, c);
		do_write(us, off, c);
		break;
	}
	}
	if (h != u)
		printf("     %s: host %lld, umm %lld\n", what, (long long)h, (long long)u);
	return h == u;
}

static void test_random(void)
{
	const char *env = getenv("UMM_MLOCK_SEQUENCES");
	const char *seed_env = getenv("UMM_MLOCK_SEED");
	unsigned long n = env ? strtoul(env, NULL, 0) : 100;
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 0x6d6c6f636bull;
	unsigned long bad = 0;

	for (unsigned long i = 0; i < n && bad < 3; i++) {
		uint64_t s = seed + i;
		struct side host, us;
		char log[40][96];
		bool ok = true;
		int k;

		open_pair(&host, &us);
		for (k = 0; k < 40 && ok; k++)
			ok = random_op(&host, &us, &s, log[k], sizeof(log[k]));
		if (ok) {
			char *h = smaps_window(NULL, 0, host.base, WIN, NULL);
			char *u = smaps_window(us.mm, 0, us.base, WIN, NULL);

			ok = h && u && !strcmp(h, u);
			if (!ok)
				show_diff(h, u);
			free(h);
			free(u);
		}
		if (!ok) {
			bad++;
			printf("     sequence %lu (seed 0x%llx) differs after:\n", i,
			       (unsigned long long)(seed + i));
			for (int j = 0; j < k; j++)
				printf("       %s\n", log[j]);
		}
		CHECK(ok);
		close_pair(&host, &us);
	}
}

int main(void)
{
	RUN(test_split_merge);
	RUN(test_prot_none);
	RUN(test_holes);
	RUN(test_onfault_and_arguments);
	RUN(test_exec_write_only);
	RUN(test_thp_touch);
	RUN(test_guard_region);
	RUN(test_files);
	RUN(test_droppable_sealed);
	RUN(test_droppable_mlockall);
	RUN(test_mlockall);
	RUN(test_fork_parent_locked);
	RUN(test_fork_child_locked);
	RUN(test_random);
	return test_done();
}
