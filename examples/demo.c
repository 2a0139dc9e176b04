// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * demo - what umm can do so far, through the public API only.
 * It grows with each capability.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <umm/umm.h>

int main(void)
{
	struct umm_opts bad = { .pgtable_levels = 3 };
	struct umm_opts l5 = { .pgtable_levels = 5 };
	struct umm_mm *mm, *mm5;

	printf("umm demo\n\n");
	mm = umm_mm_create(NULL);
	if (!mm) {
		perror("umm_mm_create");
		return 1;
	}
	printf("created a 4-level (47-bit) address space\n");
	mm5 = umm_mm_create(&l5);
	if (!mm5) {
		perror("umm_mm_create(5 levels)");
		return 1;
	}
	printf("created a 5-level (56-bit) address space\n");
	if (!umm_mm_create(&bad))
		printf("3-level tables refused: %s (errno %d)\n", strerror(errno), errno);

	printf("\ncounters of the first address space (umm_vmstat):\n");
	umm_vmstat(mm, stdout);
	umm_mm_destroy(mm5);
	umm_mm_destroy(mm);
	printf("\ndestroyed both; every table and frame returned\n");
	return 0;
}
