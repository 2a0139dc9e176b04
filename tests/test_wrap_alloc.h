/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_wrap_alloc.h - the C library's allocation calls, for tests linked
 * with --wrap=malloc,... (tests/CMakeLists.txt's WRAP_ALLOC_OPTIONS):
 * their __wrap_ functions decide whether an allocation fails and call
 * these for the ones that go ahead.
 */
#ifndef UMM_TEST_WRAP_ALLOC_H
#define UMM_TEST_WRAP_ALLOC_H

#include <stddef.h>

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_aligned_alloc(size_t, size_t);
int __real_posix_memalign(void **, size_t, size_t);
char *__real_strdup(const char *);
void __real_free(void *);

#endif /* UMM_TEST_WRAP_ALLOC_H */
