// SPDX-License-Identifier: LGPL-2.1-or-later
/* A user's first umm program: built by tools/install_test.sh via pkg-config. */
#include <stdio.h>
#include <umm/umm.h>

int main(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	if (!mm)
		return perror("umm_mm_create"), 1;
	umm_mm_destroy(mm);
	puts("created and destroyed an mm");
	return 0;
}
