/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * compiler.h - the few compiler and memory-model helpers every file uses.
 *
 * Shared words that lockless readers see are touched only through the
 * accessors here, so the memory order is written down at each use and the
 * TSan build can reason about it (plain C accesses would be data races).
 */
#ifndef UMM_COMPILER_H
#define UMM_COMPILER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)	(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define __maybe_unused	__attribute__((unused))
#define __cacheline_aligned __attribute__((aligned(64)))
#define __visible	__attribute__((visibility("default")))
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define UMM_TSAN 1
#else
#define UMM_TSAN 0
#endif

/* A call the compiler keeps and learns nothing through (GCC would
 * otherwise carry the caller's argument ranges into the callee). */
#if defined(__clang__)
#define __noipa		__attribute__((noinline))
#else
#define __noipa		__attribute__((noipa))
#endif

/*
 * READ_ONCE/WRITE_ONCE are relaxed atomics: no tearing, no fusing, and no
 * ordering. Publication of a structure uses smp_store_release() and its
 * lockless reader smp_load_acquire() (x86 makes both plain moves).
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xchg(p, v)		__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define atomic_add_return(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define atomic_fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

static inline bool cmpxchg_bool(uint64_t *p, uint64_t old, uint64_t new)
{
	return __atomic_compare_exchange_n(p, &old, new, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/*
 * Internal invariants. BUG_ON is always checked (a broken invariant in a
 * memory manager corrupts the caller's data); VM_BUG_ON and the lock
 * assertions only in debug and sanitizer builds (UMM_DEBUG).
 */
void umm_bug(const char *file, int line, const char *cond) __attribute__((noreturn));
#define BUG_ON(c) do { if (unlikely(c)) umm_bug(__FILE__, __LINE__, #c); } while (0)
#define BUG() umm_bug(__FILE__, __LINE__, "BUG")

void umm_warn(const char *file, int line, const char *cond);
#define WARN_ON_ONCE(c) ({						\
	static bool __warned;						\
	bool __ret = !!(c);						\
	if (unlikely(__ret) && !READ_ONCE(__warned)) {			\
		WRITE_ONCE(__warned, true);				\
		umm_warn(__FILE__, __LINE__, #c);			\
	}								\
	unlikely(__ret);						\
})

#ifdef UMM_DEBUG
#define VM_BUG_ON(c) BUG_ON(c)
#define VM_WARN_ON_ONCE(c) WARN_ON_ONCE(c)
#else
#define VM_BUG_ON(c) do { if (0 && (c)) {} } while (0)
#define VM_WARN_ON_ONCE(c) do { if (0 && (c)) {} } while (0)
#endif

#endif /* UMM_COMPILER_H */
