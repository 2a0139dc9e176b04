// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_map_count - calls that split VMAs next to the map count limit,
 * beside the host. The host's limit is vm.max_map_count, far too high to
 * reach in umm; what matters is the headroom, so the host's own count is
 * brought to a few VMAs under its limit with single-page fillers and umm's
 * mm gets a max_map_count the same few VMAs over its count. Each call then
 * must give the same result and leave the same VMAs as on the host: the
 * kernel checks the limit split by split, after trying to merge instead,
 * keeps a first split when a second is refused, and madvise reports the
 * refusal as EAGAIN.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"

#define PG		4096UL
#define V		0x500000000000UL	/* the region under test, both sides */
#define FILLER		0x510000000000UL	/* host fillers, every other page */
#define RW		(PROT_READ | PROT_WRITE)
#define ANON		(MAP_PRIVATE | MAP_ANONYMOUS)
#define NR_PAGES	64

struct op {
	const char *name;
	bool r_in_8_12;		/* [8, 12) made read-only first */
	int (*run)(void *mm, bool host);
};

/* One call, on the host (@mm unused) or on umm's mm, as -errno or 0. */
static int do_mprotect(void *mm, bool host, uint64_t a, uint64_t len, int prot)
{
	if (!host)
		return umm_mprotect(mm, a, len, prot);
	return mprotect((void *)a, len, prot) ? -errno : 0;
}

static int do_madvise(void *mm, bool host, uint64_t a, uint64_t len, int adv)
{
	if (!host)
		return umm_madvise(mm, a, len, adv);
	return madvise((void *)a, len, adv) ? -errno : 0;
}

static int op_dontfork_mid(void *mm, bool h) { return do_madvise(mm, h, V + 4 * PG, 4 * PG, MADV_DONTFORK); }
static int op_dontfork_head(void *mm, bool h) { return do_madvise(mm, h, V, 4 * PG, MADV_DONTFORK); }
static int op_dontfork_two(void *mm, bool h) { return do_madvise(mm, h, V + 4 * PG, 8 * PG, MADV_DONTFORK); }
static int op_ro_mid(void *mm, bool h) { return do_mprotect(mm, h, V + 4 * PG, 4 * PG, PROT_READ); }
static int op_rx_two(void *mm, bool h) { return do_mprotect(mm, h, V + 4 * PG, 8 * PG, PROT_READ | PROT_EXEC); }
static int op_rx_part(void *mm, bool h) { return do_mprotect(mm, h, V + 4 * PG, 6 * PG, PROT_READ | PROT_EXEC); }
/* [4, 8) joins the read-only [8, 12): the border moves, nothing splits */
static int op_ro_joins_next(void *mm, bool h) { return do_mprotect(mm, h, V + 4 * PG, 4 * PG, PROT_READ); }
/* [8, 12) back to rw: three VMAs become one */
static int op_rw_merge_all(void *mm, bool h) { return do_mprotect(mm, h, V + 8 * PG, 4 * PG, RW); }

static int op_munmap_mid(void *mm, bool h)
{
	if (!h)
		return umm_munmap(mm, V + 4 * PG, 4 * PG);
	return munmap((void *)(V + 4 * PG), 4 * PG) ? -errno : 0;
}

static int op_mmap_fixed_mid(void *mm, bool h)
{
	int prot = PROT_READ | PROT_EXEC;
	int64_t r;

	if (!h)
		return (r = umm_mmap(mm, V + 4 * PG, 4 * PG, prot, ANON | MAP_FIXED, NULL, 0)) < 0 ? r : 0;
	return mmap((void *)(V + 4 * PG), 4 * PG, prot, ANON | MAP_FIXED, -1, 0) == MAP_FAILED ? -errno : 0;
}

static const struct op ops[] = {
	{ "madvise DONTFORK, middle", false, op_dontfork_mid },
	{ "madvise DONTFORK, head", false, op_dontfork_head },
	{ "madvise DONTFORK, two VMAs", true, op_dontfork_two },
	{ "mprotect r, middle", false, op_ro_mid },
	{ "mprotect rx, two VMAs", true, op_rx_two },
	{ "mprotect rx, one and a part", true, op_rx_part },
	{ "mprotect r, joins next", true, op_ro_joins_next },
	{ "mprotect rw, merges all", true, op_rw_merge_all },
	{ "munmap, middle", false, op_munmap_mid },
	{ "mmap MAP_FIXED, middle", false, op_mmap_fixed_mid },
};

/* The lines of a maps listing that start inside the region. */
static char *region_lines(const char *maps)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	for (const char *l = maps; l && *l;) {
		const char *e = strchr(l, '\n');
		uint64_t s = strtoull(l, NULL, 16);
		int n = e ? (int)(e - l) : (int)strlen(l);

		if (s >= V && s < V + NR_PAGES * PG)
			fprintf(f, "%.*s\n", n, l);
		l = e ? e + 1 : NULL;
	}
	fclose(f);
	return out;
}

static char *slurp_host_maps(void)
{
	char *out = NULL, buf[4096];
	size_t size = 0, n;
	FILE *m = fopen("/proc/self/maps", "r"), *f = open_memstream(&out, &size);

	while (m && (n = fread(buf, 1, sizeof(buf), m)) > 0)
		fwrite(buf, 1, n, f);
	if (m)
		fclose(m);
	fclose(f);
	return out;
}

/*
 * The host's map count: its VMAs, [vsyscall] is none. Counted as it is
 * read, as a copy of 65,000 lines would itself be a mapping.
 */
static long host_map_count(void)
{
	FILE *m = fopen("/proc/self/maps", "r");
	char line[512];
	long n = 0;

	while (m && fgets(line, sizeof(line), m))
		n += !strstr(line, "[vsyscall]") && strchr(line, '\n');
	if (m)
		fclose(m);
	return n;
}

static long host_limit(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long v = 0;

	if (!f || fscanf(f, "%ld", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return v;
}

static long nr_fillers;

/* Single-page VMAs a page apart, until the host holds @target VMAs. */
static bool host_fill_to(long target)
{
	long n = host_map_count();

	for (; n < target; n++, nr_fillers++)
		if (mmap((void *)(FILLER + 2 * nr_fillers * PG), PG, PROT_READ,
			 ANON | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED)
			return false;
	for (; n > target && nr_fillers; n--)
		munmap((void *)(FILLER + 2 * --nr_fillers * PG), PG);
	return host_map_count() == target;
}

static char *umm_region(struct umm_mm *mm)
{
	char *raw = NULL, *out;
	size_t size = 0;
	FILE *f = open_memstream(&raw, &size);

	umm_maps(mm, f);
	fclose(f);
	out = region_lines(raw);
	free(raw);
	return out;
}

static bool host_setup(const struct op *op)
{
	if (mmap((void *)V, NR_PAGES * PG, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED)
		return false;
	return !op->r_in_8_12 || !mprotect((void *)(V + 8 * PG), 4 * PG, PROT_READ);
}

static struct umm_mm *umm_setup(const struct op *op, long headroom)
{
	/* the set-up leaves one VMA, or three: as many as on the host */
	struct umm_opts o = { .max_map_count = (op->r_in_8_12 ? 3 : 1) + headroom };
	struct umm_mm *mm = umm_mm_create(&o);

	if (!mm)
		return NULL;
	umm_mmap(mm, V, NR_PAGES * PG, RW, ANON | MAP_FIXED, NULL, 0);
	if (op->r_in_8_12)
		umm_mprotect(mm, V + 8 * PG, 4 * PG, PROT_READ);
	return mm;
}

static void run_op(const struct op *op, long limit, long headroom)
{
	char *host_maps, *host_reg, *umm_reg;
	struct umm_mm *mm;
	int hr, ur;

	/* room for the set-up's VMAs first */
	if (!host_fill_to(limit - headroom - 8) || !host_setup(op)) {
		CHECK(!"host set-up");
		return;
	}
	if (!host_fill_to(limit - headroom)) {
		CHECK(!"host filler");
		munmap((void *)V, NR_PAGES * PG);
		return;
	}
	hr = op->run(NULL, true);
	host_maps = slurp_host_maps();
	host_reg = region_lines(host_maps);
	munmap((void *)V, NR_PAGES * PG);

	mm = umm_setup(op, headroom);
	CHECK(mm);
	if (!mm)
		goto out;
	ur = op->run(mm, false);
	umm_reg = umm_region(mm);
	umm_mm_destroy(mm);
	if (hr != ur || strcmp(host_reg, umm_reg)) {
		fprintf(stderr, "%s, %ld under the limit: host %d, umm %d\n"
			"host:\n%summ:\n%s", op->name, headroom, hr, ur, host_reg, umm_reg);
		CHECK(!"same result and VMAs as the host");
	}
	free(umm_reg);
out:
	free(host_reg);
	free(host_maps);
}

static void test_near_limit(void)
{
	long limit = host_limit();

#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer) || \
	defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
	/* the sanitizer's runtime maps on demand: at the limit, it dies */
	printf("skip: under a sanitizer\n");
	return;
#endif
	/* a limit this test cannot approach in reasonable time is no oracle */
	if (limit <= 0 || limit > 1000000) {
		printf("skip: vm.max_map_count %ld\n", limit);
		return;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		for (long headroom = 3; headroom >= 0; headroom--)
			run_op(&ops[i], limit, headroom);
	while (nr_fillers)
		munmap((void *)(FILLER + 2 * --nr_fillers * PG), PG);
}

int main(void)
{
	RUN(test_near_limit);
	return test_done();
}
