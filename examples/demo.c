// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * demo - what umm can do so far, through the public API only: an address
 * space changed with the Linux calls, shown as /proc/PID/maps shows it.
 * It grows with each capability.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>

#define MB (1ULL << 20)

static void show(struct umm_mm *mm, const char *what)
{
	printf("\n-- %s\n", what);
	umm_maps(mm, stdout);
}

int main(void)
{
	struct umm_opts bad = { .pgtable_levels = 3 };
	struct umm_mm *mm;
	int64_t a, b, c;

	printf("umm demo: a Linux-compatible address space in userspace\n");
	mm = umm_mm_create(NULL);
	if (!mm)
		return perror("umm_mm_create"), 1;
	if (!umm_mm_create(&bad))
		printf("(3-level tables refused: %s)\n", strerror(errno));

	a = umm_mmap(mm, 0, 8 * MB, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
	b = umm_mmap(mm, 0, 64 * 1024, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, NULL, 0);
	show(mm, "mmap 8 MiB private (placed top-down, 2 MiB aligned) and 64 KiB shared");

	umm_mprotect(mm, a + 1 * MB, 4096, PROT_READ);
	show(mm, "mprotect one page inside the 8 MiB: the VMA splits in three");
	umm_mprotect(mm, a + 1 * MB, 4096, PROT_READ | PROT_WRITE);
	show(mm, "and back: the three merge again");

	c = umm_mremap(mm, a, 8 * MB, 16 * MB, MREMAP_MAYMOVE, 0);
	show(mm, "mremap to 16 MiB: no room to grow in place, so it moves");
	umm_munmap(mm, c + 4 * MB, 4 * MB);
	show(mm, "munmap 4 MiB out of the middle");

	printf("\nerrors are Linux's: munmap(unaligned) = %d, mprotect(hole) = %d, "
	       "mmap(len 0) = %lld\n",
	       umm_munmap(mm, c + 1, 4096), umm_mprotect(mm, 0x10000, 4096, PROT_READ),
	       (long long)umm_mmap(mm, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0));
	(void)b;
	printf("\ncounters (umm_vmstat):\n");
	umm_vmstat(mm, stdout);
	umm_mm_destroy(mm);
	printf("\ndestroyed: every VMA, table and frame returned\n");
	return 0;
}
