// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * util.c - reporting broken internal invariants.
 */
#include "compiler.h"

void umm_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "umm: BUG at %s:%d: %s\n", file, line, cond);
	abort();
}

void umm_warn(const char *file, int line, const char *cond)
{
	fprintf(stderr, "umm: WARNING at %s:%d: %s\n", file, line, cond);
}
