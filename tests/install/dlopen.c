// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A runtime that loads umm as a plugin: dlopen() the installed libumm.so,
 * which uses initial-exec thread-locals (static TLS), then write and read
 * guest memory through it. Built by tools/install_test.sh.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>

#define SYM(h, name) ((__typeof__(&name))dlsym(h, #name))

int main(int argc, char **argv)
{
	char buf[6] = "";
	void *h;

	if (argc < 2)
		return fprintf(stderr, "usage: dlopen LIBUMM\n"), 2;
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return fprintf(stderr, "dlopen: %s\n", dlerror()), 1;
	struct umm_mm *mm = SYM(h, umm_mm_create)(NULL);
	int64_t p = mm ? SYM(h, umm_mmap)(mm, 0, 1 << 20, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0) : -1;

	if (p < 0 || SYM(h, umm_write)(mm, (uint64_t)p + 4093, "hello", 6) != 6 ||
	    SYM(h, umm_read)(mm, (uint64_t)p + 4093, buf, 6) != 6 ||
	    strcmp(buf, "hello"))
		return fprintf(stderr, "umm through dlopen failed\n"), 1;
	SYM(h, umm_mm_destroy)(mm);
	puts("wrote and read guest memory through a dlopen()ed libumm.so");
	return 0;
}
