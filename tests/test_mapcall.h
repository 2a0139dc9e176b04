/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_mapcall.h - one memory-map call of a random differential test, made
 * as the host's system call or as the umm call with the same arguments
 * (test_smaps_diff, test_stack_diff). Each test keeps its own kinds for
 * what it does besides (accesses, clear_refs, ...) and hands these over.
 */
#ifndef UMM_TEST_MAPCALL_H
#define UMM_TEST_MAPCALL_H

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <umm/umm.h>

enum mapcall_kind {
	MC_MMAP, MC_MUNMAP, MC_MPROTECT, MC_MREMAP, MC_MADVISE,
	MC_MLOCK, MC_MLOCK2, MC_MUNLOCK,
};

struct mapcall {
	enum mapcall_kind kind;
	uint64_t addr, len, new_len, new_addr;
	int prot, flags, advice;	/* flags: mmap's, mremap's or mlock2's */
};

static inline int64_t sys_ret(long r)
{
	return r == -1 ? -errno : r;
}

/* The call as a system call of this process (anonymous mmaps only). */
static inline int64_t host_mapcall(const struct mapcall *c)
{
	switch (c->kind) {
	case MC_MMAP:
		return sys_ret(syscall(SYS_mmap, c->addr, c->len, c->prot, c->flags, -1, 0));
	case MC_MUNMAP:
		return sys_ret(syscall(SYS_munmap, c->addr, c->len));
	case MC_MPROTECT:
		return sys_ret(syscall(SYS_mprotect, c->addr, c->len, c->prot));
	case MC_MREMAP:
		return sys_ret(syscall(SYS_mremap, c->addr, c->len, c->new_len, c->flags,
				       c->new_addr));
	case MC_MADVISE:
		return sys_ret(syscall(SYS_madvise, c->addr, c->len, c->advice));
	case MC_MLOCK:
		return sys_ret(syscall(SYS_mlock, c->addr, c->len));
	case MC_MLOCK2:
		return sys_ret(syscall(SYS_mlock2, c->addr, c->len, c->flags));
	case MC_MUNLOCK:
		return sys_ret(syscall(SYS_munlock, c->addr, c->len));
	}
	return -ENOSYS;
}

/* The same call on @mm. */
static inline int64_t umm_mapcall(struct umm_mm *mm, const struct mapcall *c)
{
	switch (c->kind) {
	case MC_MMAP:
		return umm_mmap(mm, c->addr, c->len, c->prot, c->flags, NULL, 0);
	case MC_MUNMAP:
		return umm_munmap(mm, c->addr, c->len);
	case MC_MPROTECT:
		return umm_mprotect(mm, c->addr, c->len, c->prot);
	case MC_MREMAP:
		return umm_mremap(mm, c->addr, c->len, c->new_len, c->flags, c->new_addr);
	case MC_MADVISE:
		return umm_madvise(mm, c->addr, c->len, c->advice);
	case MC_MLOCK:
		return umm_mlock(mm, c->addr, c->len);
	case MC_MLOCK2:
		return umm_mlock2(mm, c->addr, c->len, (unsigned int)c->flags);
	case MC_MUNLOCK:
		return umm_munlock(mm, c->addr, c->len);
	}
	return -ENOSYS;
}

#endif /* UMM_TEST_MAPCALL_H */
