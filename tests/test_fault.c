// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_fault - the fault paths seen from the public API, single-threaded:
 * umm_fault() answers as the CPU would (x86 rights, SIGSEGV as -EFAULT,
 * SIGBUS as -EIO), umm_read()/umm_write() as process_vm_readv/writev do
 * (get_user_pages rights, short counts at a hole), and the memory-map
 * calls keep or drop data exactly where Linux does. Where the API cannot
 * tell (zero page or own frame, populated or not) the page tables and
 * the mm's counters are looked at directly.
 */
#include <errno.h>
#include <sys/mman.h>
#include <umm/umm.h>
#include "test.h"
#include "test_frames.h"
#include "test_proc.h"
#include "test_pte.h"
#include "mm.h"
#include "pgtable.h"
#include "page_alloc.h"
#include "tlb.h"
#include "uapi_mman.h"

#define PG		4096UL
#define BASE		0x10000000UL	/* fixed addresses keep layouts predictable */
#define RW		(PROT_READ | PROT_WRITE)
#define ANON		(MAP_PRIVATE | MAP_ANONYMOUS)
#define ANON_FIXED	(ANON | MAP_FIXED)
#define SHARED_FIXED	(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)

static bool all_bytes(const unsigned char *b, size_t len, unsigned char v)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* Fill @len bytes at @addr with @v; true when every byte went in. */
static bool fill(struct umm_mm *mm, uint64_t addr, size_t len, unsigned char v)
{
	unsigned char *b = malloc(len);
	bool ok;

	memset(b, v, len);
	ok = umm_write(mm, addr, b, len) == (int64_t)len;
	free(b);
	return ok;
}

/* Do @len bytes at @addr all read back as @v? */
static bool holds(struct umm_mm *mm, uint64_t addr, size_t len, unsigned char v)
{
	unsigned char *b = malloc(len);
	bool ok;

	memset(b, v ^ 0xff, len);
	ok = umm_read(mm, addr, b, len) == (int64_t)len && all_bytes(b, len, v);
	free(b);
	return ok;
}

static struct umm_mm *new_mm(void)
{
	struct umm_mm *mm = umm_mm_create(NULL);

	CHECK(mm);
	if (!mm)
		exit(1);
	return mm;
}

/*
 * A read of an untouched private page shares the zero page (pfn 0,
 * special, read-only); the first write gives it a frame of its own and
 * leaves the zero page, and every other page reading it, all zeroes.
 */
static void test_zero_page(void)
{
	struct umm_mm *mm = new_mm();
	unsigned char buf[PG];
	pte_t pte;

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(umm_read(mm, BASE, buf, PG), PG);
	CHECK(all_bytes(buf, PG, 0));
	pte = get_pte(mm, BASE);
	CHECK(pte_present(pte));
	CHECK_EQ(pte_pfn(pte), 0);
	CHECK(pte_special(pte));
	CHECK(!pte_write(pte));
	/* a read fault through umm_fault does the same for the next page */
	CHECK_EQ(umm_fault(mm, BASE + PG, UMM_READ), 0);
	pte = get_pte(mm, BASE + PG);
	CHECK_EQ(pte_pfn(pte), 0);
	CHECK(pte_special(pte));

	CHECK(fill(mm, BASE, PG, 0x5a));
	pte = get_pte(mm, BASE);
	CHECK(pte_pfn(pte) != 0);
	CHECK(!pte_special(pte));
	CHECK(pte_write(pte));
	CHECK(pte_dirty(pte));
	CHECK(holds(mm, BASE, PG, 0x5a));
	/* the zero page itself was not written through */
	CHECK(holds(mm, BASE + PG, PG, 0));
	CHECK(all_bytes(pfn_to_virt(0), PG, 0));
	CHECK(holds(mm, BASE + 2 * PG, 2 * PG, 0));

	/* a write fault through umm_fault on a zero-page entry copies it too */
	CHECK_EQ(umm_fault(mm, BASE + PG, UMM_WRITE), 0);
	pte = get_pte(mm, BASE + PG);
	CHECK(pte_pfn(pte) != 0 && !pte_special(pte) && pte_write(pte));
	CHECK(holds(mm, BASE + PG, PG, 0));
	umm_mm_destroy(mm);
}

/*
 * UMM_NO_ZERO_PAGE: a read fault allocates a zeroed frame of its own,
 * mapped writable at once where the VMA is writable (no second fault for
 * the first write), read-only where it is not: as Linux where the zero page
 * is forbidden.
 */
static void test_no_zero_page(void)
{
	struct umm_opts o = { .flags = UMM_NO_ZERO_PAGE };
	struct umm_mm *mm = umm_mm_create(&o);
	unsigned char buf[PG];
	pte_t pte;

	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, BASE, 2 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_mmap(mm, BASE + 4 * PG, PG, PROT_READ, ANON_FIXED, NULL, 0),
		 BASE + 4 * PG);
	memset(buf, 0xaa, sizeof(buf));
	CHECK_EQ(umm_read(mm, BASE, buf, PG), PG);
	CHECK(all_bytes(buf, PG, 0));
	pte = get_pte(mm, BASE);
	CHECK(pte_present(pte));
	CHECK(pte_pfn(pte) != 0);
	CHECK(!pte_special(pte));
	CHECK(pte_write(pte));
	CHECK_EQ(umm_fault(mm, BASE + 4 * PG, UMM_READ), 0);
	pte = get_pte(mm, BASE + 4 * PG);
	CHECK(pte_pfn(pte) != 0 && !pte_special(pte) && !pte_write(pte));
	/* the first write needs no copy: the frame read in is kept */
	pte = get_pte(mm, BASE);
	CHECK(fill(mm, BASE, PG, 0x5a));
	CHECK_EQ(pte_pfn(get_pte(mm, BASE)), pte_pfn(pte));
	CHECK(holds(mm, BASE, PG, 0x5a));
	CHECK(holds(mm, BASE + PG, PG, 0));
	umm_mm_destroy(mm);
}

/*
 * Copies cross pages and VMAs: two adjacent VMAs with the same rights
 * kept apart by MAP_NORESERVE (their flags differ, so they cannot merge).
 */
static void test_cross_boundaries(void)
{
	struct umm_mm *mm = new_mm();
	size_t len = 6 * PG, i;
	unsigned char *in = malloc(len), *out = malloc(len);

	CHECK_EQ(umm_mmap(mm, BASE, 3 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_mmap(mm, BASE + 3 * PG, 3 * PG, RW, ANON_FIXED | MAP_NORESERVE,
			  NULL, 0), BASE + 3 * PG);
	CHECK_EQ(umm_vmstat_value(mm, "nr_vmas"), 2);
	for (i = 0; i < len; i++)
		in[i] = (unsigned char)(i * 7 + i / PG);
	/* unaligned on both ends, over five page and one VMA boundary */
	CHECK_EQ(umm_write(mm, BASE + 100, in, len - 200), len - 200);
	memset(out, 0, len);
	CHECK_EQ(umm_read(mm, BASE + 100, out, len - 200), len - 200);
	CHECK(!memcmp(in, out, len - 200));
	/* the bytes outside the write are still zero */
	CHECK(holds(mm, BASE, 100, 0));
	CHECK(holds(mm, BASE + len - 100, 100, 0));
	/* a small read straddling the VMA boundary */
	CHECK_EQ(umm_read(mm, BASE + 3 * PG - 3, out, 6), 6);
	CHECK(!memcmp(out, in + 3 * PG - 103, 6));
	free(in);
	free(out);
	umm_mm_destroy(mm);
}

/*
 * Every small size the copy has its own code for (1-3 bytes, 4-7 and 8-16
 * as overlapping pairs, longer through memcpy), at every alignment around a
 * page boundary, where a copy splits in two: each write lands exactly
 * where a model buffer says, and reads return the model's bytes.
 */
static void test_copy_sizes(void)
{
	struct umm_mm *mm = new_mm();
	unsigned char model[2 * PG], buf[64];
	uint64_t seed = 1;

	memset(model, 0, sizeof(model));
	CHECK_EQ(umm_mmap(mm, BASE, 2 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	for (size_t len = 0; len <= 40; len++) {
		for (size_t off = PG - 48; off <= PG + 8; off++) {
			for (size_t i = 0; i < len; i++) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				buf[i] = (unsigned char)(seed >> 56);
			}
			CHECK_EQ(umm_write(mm, BASE + off, buf, len), (int64_t)len);
			memcpy(model + off, buf, len);
			/* read a window wider than the write: neighbours untouched */
			memset(buf, 0x5a, sizeof(buf));
			CHECK_EQ(umm_read(mm, BASE + off - 8, buf, len + 16), (int64_t)len + 16);
			if (memcmp(buf, model + off - 8, len + 16)) {
				CHECK(!"copy differs from the model");
				goto out;
			}
		}
	}
out:
	umm_mm_destroy(mm);
}

/* Short copies at a hole, and the argument errors. */
static void test_partial_and_errors(void)
{
	struct umm_mm *mm = new_mm();
	unsigned char buf[3 * PG];

	memset(buf, 0x11, sizeof(buf));
	CHECK_EQ(umm_mmap(mm, BASE, 2 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	/* BASE + 2 pages is a hole: the bytes before it are copied */
	CHECK_EQ(umm_write(mm, BASE + PG + 10, buf, 2 * PG), PG - 10);
	CHECK(holds(mm, BASE + PG + 10, PG - 10, 0x11));
	CHECK_EQ(umm_read(mm, BASE + 2 * PG - 5, buf, 100), 5);
	CHECK_EQ(umm_read(mm, BASE, buf, sizeof(buf)), 2 * PG);
	/* starting in the hole, or below the mapping */
	CHECK_EQ(umm_write(mm, BASE + 2 * PG, buf, 1), -EFAULT);
	CHECK_EQ(umm_read(mm, BASE + 2 * PG, buf, 1), -EFAULT);
	CHECK_EQ(umm_read(mm, BASE - 1, buf, 2), -EFAULT);
	CHECK_EQ(umm_fault(mm, BASE + 2 * PG, UMM_READ), -EFAULT);
	CHECK_EQ(umm_fault(mm, 0, UMM_READ), -EFAULT);
	/* nothing to copy: 0, even in a hole or with a NULL buffer */
	CHECK_EQ(umm_read(mm, BASE, buf, 0), 0);
	CHECK_EQ(umm_write(mm, BASE + 2 * PG, buf, 0), 0);
	CHECK_EQ(umm_read(mm, BASE, NULL, 0), 0);
	/* a NULL buffer with a length, or no mm */
	CHECK_EQ(umm_read(mm, BASE, NULL, 1), -EINVAL);
	CHECK_EQ(umm_write(mm, BASE, NULL, 1), -EINVAL);
	CHECK_EQ(umm_read(NULL, BASE, buf, 1), -EINVAL);
	CHECK_EQ(umm_write(NULL, BASE, buf, 1), -EINVAL);
	CHECK_EQ(umm_fault(NULL, BASE, UMM_READ), -EINVAL);
	/* the failed calls changed nothing */
	CHECK(holds(mm, BASE, PG + 10, 0));
	CHECK(holds(mm, BASE + PG + 10, PG - 10, 0x11));
	umm_mm_destroy(mm);
}

/* umm_read/umm_write need VM_READ/VM_WRITE, as get_user_pages. */
static void test_rights_gup(void)
{
	struct umm_mm *mm = new_mm();
	uint64_t wo = BASE, none = BASE + 0x100000, ro = BASE + 0x200000;
	unsigned char b[16];

	memset(b, 0x33, sizeof(b));
	CHECK_EQ(umm_mmap(mm, wo, PG, PROT_WRITE, ANON_FIXED, NULL, 0), wo);
	CHECK_EQ(umm_mmap(mm, none, PG, PROT_NONE, ANON_FIXED, NULL, 0), none);
	CHECK_EQ(umm_mmap(mm, ro, PG, PROT_READ, ANON_FIXED, NULL, 0), ro);
	CHECK_EQ(umm_read(mm, wo, b, 1), -EFAULT);
	/* writing a write-only page is fine; reading it back still is not */
	CHECK_EQ(umm_write(mm, wo, b, sizeof(b)), sizeof(b));
	CHECK_EQ(umm_read(mm, wo, b, 1), -EFAULT);
	CHECK_EQ(umm_read(mm, none, b, 1), -EFAULT);
	CHECK_EQ(umm_write(mm, none, b, 1), -EFAULT);
	CHECK_EQ(umm_write(mm, ro, b, 1), -EFAULT);
	CHECK_EQ(umm_read(mm, ro, b, sizeof(b)), sizeof(b));
	CHECK(all_bytes(b, sizeof(b), 0));
	/* a read-only page that was read (zero page mapped) still refuses writes */
	CHECK_EQ(umm_write(mm, ro, b, 1), -EFAULT);
	CHECK(holds(mm, ro, PG, 0));
	umm_mm_destroy(mm);
}

/*
 * umm_fault follows the CPU (x86): any right lets a page be read, write
 * and exec need their own; bad access masks and addresses past the
 * address space are refused.
 */
static void test_rights_fault(void)
{
	struct umm_mm *mm = new_mm();
	uint64_t wo = BASE, none = BASE + 0x100000, ro = BASE + 0x200000;
	uint64_t rx = BASE + 0x300000;
	pte_t pte;

	CHECK_EQ(umm_mmap(mm, wo, PG, PROT_WRITE, ANON_FIXED, NULL, 0), wo);
	CHECK_EQ(umm_mmap(mm, none, PG, PROT_NONE, ANON_FIXED, NULL, 0), none);
	CHECK_EQ(umm_mmap(mm, ro, PG, PROT_READ, ANON_FIXED, NULL, 0), ro);
	CHECK_EQ(umm_mmap(mm, rx, PG, PROT_READ | PROT_EXEC, ANON_FIXED, NULL, 0), rx);

	CHECK_EQ(umm_fault(mm, wo, UMM_READ), 0);
	/*
	 * The read resolved the fault: the entry must be one a CPU could read
	 * through (present), not a PROT_NONE entry that faults again forever.
	 */
	pte = get_pte(mm, wo);
	CHECK(pte_flags(pte) & _PAGE_PRESENT);
	CHECK_EQ(umm_fault(mm, wo, UMM_WRITE), 0);
	pte = get_pte(mm, wo);
	CHECK(pte_write(pte) && pte_pfn(pte) != 0);
	CHECK_EQ(umm_fault(mm, wo, UMM_EXEC), -EFAULT);
	/* several bits: each right asked must be there, the write one too */
	CHECK_EQ(umm_fault(mm, wo, UMM_WRITE | UMM_EXEC), -EFAULT);
	CHECK_EQ(umm_fault(mm, wo, UMM_READ | UMM_WRITE | UMM_EXEC), -EFAULT);

	CHECK_EQ(umm_fault(mm, ro, UMM_READ), 0);
	CHECK_EQ(umm_fault(mm, ro, UMM_WRITE), -EFAULT);
	CHECK_EQ(umm_fault(mm, ro, UMM_READ | UMM_WRITE), -EFAULT);
	CHECK_EQ(umm_fault(mm, ro, UMM_EXEC), -EFAULT);
	CHECK_EQ(umm_fault(mm, rx, UMM_EXEC), 0);
	CHECK_EQ(umm_fault(mm, rx, UMM_READ | UMM_EXEC), 0);
	CHECK_EQ(umm_fault(mm, rx, UMM_WRITE), -EFAULT);
	CHECK_EQ(umm_fault(mm, rx, UMM_WRITE | UMM_EXEC), -EFAULT);
	CHECK_EQ(umm_fault(mm, none, UMM_READ), -EFAULT);
	CHECK_EQ(umm_fault(mm, none, UMM_WRITE), -EFAULT);
	CHECK_EQ(umm_fault(mm, none, UMM_EXEC), -EFAULT);

	CHECK_EQ(umm_fault(mm, ro, 0), -EINVAL);
	CHECK_EQ(umm_fault(mm, ro, 8), -EINVAL);
	CHECK_EQ(umm_fault(mm, ro, UMM_READ | 0x100), -EINVAL);
	CHECK_EQ(umm_fault(mm, mm->task_size, UMM_READ), -EFAULT);
	CHECK_EQ(umm_fault(mm, UINT64_MAX, UMM_WRITE), -EFAULT);
	CHECK_EQ(umm_fault(mm, 1ULL << 47, UMM_READ), -EFAULT);

	/* the space's last page is user space and can be mapped and faulted */
	uint64_t top = mm->task_size - PG;
	unsigned char b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	CHECK_EQ(umm_mmap(mm, top, PG, RW, ANON_FIXED, NULL, 0), top);
	CHECK_EQ(umm_fault(mm, top + PG - 1, UMM_WRITE), 0);
	/* a copy running off the end stops there */
	CHECK_EQ(umm_write(mm, top + PG - 4, b, sizeof(b)), 4);
	CHECK_EQ(umm_read(mm, mm->task_size, b, 1), -EFAULT);
	CHECK_EQ(umm_write(mm, UINT64_MAX - 2, b, sizeof(b)), -EFAULT);
	umm_mm_destroy(mm);
}

/* mprotect takes the write right away and gives it back, data intact. */
static void test_mprotect_data(void)
{
	struct umm_mm *mm = new_mm();
	unsigned char b = 0x77;

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK(fill(mm, BASE, 4 * PG, 0x42));
	CHECK_EQ(umm_mprotect(mm, BASE + PG, 2 * PG, PROT_READ), 0);
	CHECK_EQ(umm_write(mm, BASE + PG, &b, 1), -EFAULT);
	CHECK_EQ(umm_fault(mm, BASE + 2 * PG, UMM_WRITE), -EFAULT);
	/* a write that runs into the read-only part stops at it */
	unsigned char two[2 * PG];

	memset(two, 0x43, sizeof(two));
	CHECK_EQ(umm_write(mm, BASE, two, sizeof(two)), PG);
	CHECK(holds(mm, BASE, PG, 0x43));
	CHECK(holds(mm, BASE + PG, 2 * PG, 0x42));
	CHECK(pte_write(get_pte(mm, BASE + 3 * PG)));
	CHECK(!pte_write(get_pte(mm, BASE + PG)));

	CHECK_EQ(umm_mprotect(mm, BASE + PG, 2 * PG, RW), 0);
	CHECK(holds(mm, BASE + PG, 2 * PG, 0x42));
	CHECK_EQ(umm_write(mm, BASE + 2 * PG, &b, 1), 1);
	CHECK(holds(mm, BASE + 2 * PG, 1, 0x77));
	CHECK(holds(mm, BASE + 2 * PG + 1, PG - 1, 0x42));
	/* the written page kept its own frame: no copy on the way back */
	CHECK_EQ(umm_vmstat_value(mm, "nr_vmas"), 1);

	/* PROT_NONE hides the data from every access; it comes back after */
	CHECK_EQ(umm_mprotect(mm, BASE, 4 * PG, PROT_NONE), 0);
	CHECK_EQ(umm_read(mm, BASE, &b, 1), -EFAULT);
	CHECK_EQ(umm_fault(mm, BASE, UMM_READ), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, BASE, 4 * PG, PROT_READ), 0);
	CHECK(holds(mm, BASE, PG, 0x43));
	CHECK(holds(mm, BASE + 3 * PG, PG, 0x42));
	umm_mm_destroy(mm);
}

/* MADV_DONTNEED drops private pages, MADV_FREE keeps them (no reclaim). */
static void test_madvise(void)
{
	struct umm_mm *mm = new_mm();

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK(fill(mm, BASE, 4 * PG, 0x99));
	CHECK_EQ(umm_madvise(mm, BASE + PG, PG, MADV_DONTNEED), 0);
	CHECK(holds(mm, BASE, PG, 0x99));
	CHECK(holds(mm, BASE + PG, PG, 0));
	CHECK(holds(mm, BASE + 2 * PG, 2 * PG, 0x99));
	CHECK_EQ(umm_madvise(mm, BASE + 2 * PG, PG, MADV_FREE), 0);
	CHECK(holds(mm, BASE + 2 * PG, PG, 0x99));
	/* the dropped page faults a fresh zeroed frame on the next write */
	CHECK(fill(mm, BASE + PG, 10, 0x12));
	CHECK(holds(mm, BASE + PG, 10, 0x12));
	CHECK(holds(mm, BASE + PG + 10, PG - 10, 0));
	umm_mm_destroy(mm);
}

/* A new mapping at the address of an old one starts from zeroes. */
static void test_munmap_remap(void)
{
	struct umm_mm *mm = new_mm();

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK(fill(mm, BASE, 4 * PG, 0xee));
	CHECK_EQ(umm_munmap(mm, BASE, 4 * PG), 0);
	CHECK_EQ(umm_read(mm, BASE, &(char){ 0 }, 1), -EFAULT);
	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK(holds(mm, BASE, 4 * PG, 0));
	/* MAP_FIXED over live data replaces it as well */
	CHECK(fill(mm, BASE, 4 * PG, 0xef));
	CHECK_EQ(umm_mmap(mm, BASE + PG, PG, RW, ANON_FIXED, NULL, 0), BASE + PG);
	CHECK(holds(mm, BASE, PG, 0xef));
	CHECK(holds(mm, BASE + PG, PG, 0));
	CHECK(holds(mm, BASE + 2 * PG, 2 * PG, 0xef));
	umm_mm_destroy(mm);
}

/*
 * Shared anonymous memory is one object: the pieces an mprotect split
 * makes still map it (data written before the split is there, and a
 * dropped entry comes back from it), and a second mapping of it made by
 * mremap(old_len = 0) sees every write.
 */
static void test_shared_split(void)
{
	struct umm_mm *mm = new_mm();
	int64_t dup;

	CHECK_EQ(umm_mmap(mm, BASE, 4 * PG, RW, SHARED_FIXED, NULL, 0), BASE);
	CHECK(fill(mm, BASE, 4 * PG, 0x21));
	CHECK_EQ(umm_mprotect(mm, BASE + PG, PG, PROT_READ), 0);
	CHECK_EQ(umm_vmstat_value(mm, "nr_vmas"), 3);
	CHECK(holds(mm, BASE, 4 * PG, 0x21));
	CHECK_EQ(umm_write(mm, BASE + PG, &(char){ 1 }, 1), -EFAULT);
	CHECK(fill(mm, BASE + 2 * PG, PG, 0x22));
	/* shared pages live in the object, not in the page tables */
	CHECK_EQ(umm_madvise(mm, BASE, 4 * PG, MADV_DONTNEED), 0);
	CHECK(holds(mm, BASE, 2 * PG, 0x21));
	CHECK(holds(mm, BASE + 2 * PG, PG, 0x22));
	CHECK(holds(mm, BASE + 3 * PG, PG, 0x21));

	/* old_len 0 duplicates a shared mapping: both views see all writes */
	dup = umm_mremap(mm, BASE + 2 * PG, 0, 2 * PG, MREMAP_MAYMOVE, 0);
	CHECK(dup > 0 && dup != (int64_t)(BASE + 2 * PG));
	if (dup > 0) {
		CHECK(holds(mm, dup, PG, 0x22));
		CHECK(holds(mm, dup + PG, PG, 0x21));
		CHECK(fill(mm, dup + PG, 8, 0x23));
		CHECK(holds(mm, BASE + 3 * PG, 8, 0x23));
		CHECK(fill(mm, BASE + 2 * PG, 8, 0x24));
		CHECK(holds(mm, dup, 8, 0x24));
	}
	/* the original is still there after the copy goes */
	if (dup > 0)
		CHECK_EQ(umm_munmap(mm, dup, 2 * PG), 0);
	CHECK(holds(mm, BASE + 2 * PG, 8, 0x24));
	CHECK(holds(mm, BASE + 3 * PG, 8, 0x23));
	umm_mm_destroy(mm);
}

/*
 * A moved shared mapping keeps its data; growing it does not grow the
 * object behind it, so the new tail is past its end: umm_read says
 * -EFAULT (get_user_pages turns SIGBUS into a bad address) and
 * umm_fault -EIO (SIGBUS), as Linux.
 */
static void test_shared_mremap(void)
{
	struct umm_mm *mm = new_mm();
	unsigned char b;
	int64_t na;

	CHECK_EQ(umm_mmap(mm, BASE, 2 * PG, RW, SHARED_FIXED, NULL, 0), BASE);
	/* something right after it, so growing must move */
	CHECK_EQ(umm_mmap(mm, BASE + 2 * PG, PG, RW, ANON_FIXED, NULL, 0), BASE + 2 * PG);
	CHECK(fill(mm, BASE, PG, 0x61));
	CHECK(fill(mm, BASE + PG, PG, 0x62));
	na = umm_mremap(mm, BASE, 2 * PG, 4 * PG, MREMAP_MAYMOVE, 0);
	CHECK(na > 0 && na != (int64_t)BASE);
	if (na <= 0)
		goto out;
	CHECK_EQ(umm_read(mm, BASE, &b, 1), -EFAULT);
	CHECK(holds(mm, na, PG, 0x61));
	CHECK(holds(mm, na + PG, PG, 0x62));
	CHECK(fill(mm, na + PG, PG, 0x63));
	CHECK(holds(mm, na + PG, PG, 0x63));
	/* past the object's end */
	CHECK_EQ(umm_read(mm, na + 2 * PG, &b, 1), -EFAULT);
	CHECK_EQ(umm_write(mm, na + 3 * PG, &b, 1), -EFAULT);
	CHECK_EQ(umm_fault(mm, na + 2 * PG, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(mm, na + 3 * PG, UMM_WRITE), -EIO);
	/* a copy running off the object's end is short */
	unsigned char two[2 * PG];

	CHECK_EQ(umm_read(mm, na + PG, two, sizeof(two)), PG);

	/* grown in place (room after it) the same holds */
	CHECK_EQ(umm_mmap(mm, BASE + 0x100000, PG, RW, SHARED_FIXED, NULL, 0),
		 BASE + 0x100000);
	CHECK(fill(mm, BASE + 0x100000, PG, 0x64));
	CHECK_EQ(umm_mremap(mm, BASE + 0x100000, PG, 3 * PG, 0, 0), BASE + 0x100000);
	CHECK(holds(mm, BASE + 0x100000, PG, 0x64));
	CHECK_EQ(umm_fault(mm, BASE + 0x100000 + PG, UMM_READ), -EIO);
	CHECK_EQ(umm_read(mm, BASE + 0x100000 + 2 * PG, &b, 1), -EFAULT);
out:
	umm_mm_destroy(mm);
}

/* mremap of private memory carries the pages; DONTUNMAP leaves zeroes. */
static void test_private_mremap(void)
{
	struct umm_mm *mm = new_mm();
	uint64_t a = BASE, fixed = BASE + 0x400000;
	int64_t na;
	unsigned char b;

	CHECK_EQ(umm_mmap(mm, a, 3 * PG, RW, ANON_FIXED, NULL, 0), a);
	CHECK_EQ(umm_mmap(mm, a + 3 * PG, PG, PROT_READ, ANON_FIXED, NULL, 0), a + 3 * PG);
	CHECK(fill(mm, a, PG, 0x71));
	CHECK(fill(mm, a + 2 * PG, PG, 0x73));	/* page 1 never touched */

	/* MAYMOVE: blocked after, so it moves */
	na = umm_mremap(mm, a, 3 * PG, 8 * PG, MREMAP_MAYMOVE, 0);
	CHECK(na > 0 && na != (int64_t)a);
	if (na <= 0)
		goto out;
	CHECK(holds(mm, na, PG, 0x71));
	CHECK(holds(mm, na + PG, PG, 0));
	CHECK(holds(mm, na + 2 * PG, PG, 0x73));
	CHECK(holds(mm, na + 3 * PG, 5 * PG, 0));
	CHECK_EQ(umm_read(mm, a, &b, 1), -EFAULT);
	CHECK(fill(mm, na + 7 * PG, PG, 0x78));

	/* FIXED: to a chosen address, shrinking on the way */
	CHECK_EQ(umm_mremap(mm, na, 8 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
			    fixed), fixed);
	CHECK(holds(mm, fixed, PG, 0x71));
	CHECK(holds(mm, fixed + 2 * PG, PG, 0x73));
	CHECK_EQ(umm_read(mm, na, &b, 1), -EFAULT);
	CHECK_EQ(umm_read(mm, fixed + 3 * PG, &b, 1), -EFAULT);
	/* the moved pages are still this mapping's own: writable in place */
	CHECK(pte_write(get_pte(mm, fixed)));
	CHECK(fill(mm, fixed, 1, 0x7a));
	CHECK(holds(mm, fixed + 1, PG - 1, 0x71));

	/* DONTUNMAP: the old range stays mapped, empty */
	na = umm_mremap(mm, fixed, 3 * PG, 3 * PG,
			MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	CHECK(na > 0 && na != (int64_t)fixed);
	if (na <= 0)
		goto out;
	CHECK(holds(mm, na, 1, 0x7a));
	CHECK(holds(mm, na + 1, PG - 1, 0x71));
	CHECK(holds(mm, na + 2 * PG, PG, 0x73));
	CHECK(holds(mm, fixed, 3 * PG, 0));
	/* and the two are independent from now on */
	CHECK(fill(mm, fixed, PG, 0x7b));
	CHECK(holds(mm, na + 1, PG - 1, 0x71));
out:
	umm_mm_destroy(mm);
}

/* Pages of [addr, addr + n pages) with a frame of their own. */
static unsigned own_frames(struct umm_mm *mm, uint64_t addr, unsigned n)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++) {
		pte_t pte = get_pte(mm, addr + i * PG);

		c += pte_present(pte) && !pte_special(pte) && pte_pfn(pte);
	}
	return c;
}

/* MAP_POPULATE and MAP_LOCKED fault the whole mapping in at mmap time. */
static void test_populate(void)
{
	struct umm_mm *mm = new_mm();
	long long frames = umm_vmstat_value(mm, "nr_mm_frames");
	uint64_t ro = BASE + 0x400000, sh = BASE + 0x800000;
	unsigned n = 16;

	CHECK(frames > 0);
	CHECK_EQ(umm_mmap(mm, BASE, n * PG, RW, ANON_FIXED | MAP_POPULATE, NULL, 0), BASE);
	/* private writable: write-faulted, each page its own frame */
	CHECK_EQ(own_frames(mm, BASE, n), n);
	CHECK(pte_write(get_pte(mm, BASE)));
	/* n frames and the tables below the PGD (PUD, PMD, PTE) */
	CHECK_EQ(umm_vmstat_value(mm, "nr_mm_frames"), frames + n + 3);
	CHECK_EQ(mm_stat_read(mm, MM_PGFAULT), n);
	/* the pgfault counter is meant to be visible through umm_vmstat */
	CHECK_EQ(umm_vmstat_value(mm, "pgfault"), n);

	CHECK_EQ(umm_mmap(mm, BASE + 0x200000, n * PG, RW, ANON_FIXED | MAP_LOCKED,
			  NULL, 0), BASE + 0x200000);
	CHECK_EQ(own_frames(mm, BASE + 0x200000, n), n);
	/* read-only memory is populated with the zero page */
	CHECK_EQ(umm_mmap(mm, ro, n * PG, PROT_READ, ANON_FIXED | MAP_POPULATE, NULL, 0), ro);
	for (unsigned i = 0; i < n; i++) {
		pte_t pte = get_pte(mm, ro + i * PG);

		CHECK(pte_present(pte) && pte_special(pte) && pte_pfn(pte) == 0);
	}
	/* shared memory with the object's pages */
	CHECK_EQ(umm_mmap(mm, sh, n * PG, RW, SHARED_FIXED | MAP_POPULATE, NULL, 0), sh);
	CHECK_EQ(own_frames(mm, sh, n), n);
	/* PROT_NONE is skipped, without an error */
	CHECK_EQ(umm_mmap(mm, BASE + 0xc00000, n * PG, PROT_NONE, ANON_FIXED | MAP_POPULATE,
			  NULL, 0), BASE + 0xc00000);
	CHECK_EQ(own_frames(mm, BASE + 0xc00000, n), 0);
	/* without either flag nothing is faulted */
	CHECK_EQ(umm_mmap(mm, BASE + 0x1000000, n * PG, RW, ANON_FIXED, NULL, 0),
		 BASE + 0x1000000);
	CHECK_EQ(own_frames(mm, BASE + 0x1000000, n), 0);
	CHECK(holds(mm, BASE, n * PG, 0));
	CHECK(holds(mm, sh, n * PG, 0));
	umm_mm_destroy(mm);
}

/*
 * Faults run under a per-VMA lock (seed 004) unless the mm was made with
 * UMM_NO_PER_VMA_LOCK, when they take mmap_lock and work just the same.
 */
static void test_vma_lock_stats(void)
{
	struct umm_opts o = { .flags = UMM_NO_PER_VMA_LOCK };
	struct umm_mm *mm = new_mm();
	long long before;

	CHECK_EQ(umm_mmap(mm, BASE, 8 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	before = umm_vmstat_value(mm, "vma_lock_success");
	CHECK(before >= 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(umm_fault(mm, BASE + i * PG, UMM_WRITE), 0);
	CHECK(umm_vmstat_value(mm, "vma_lock_success") >= before + 8);
	before = umm_vmstat_value(mm, "vma_lock_success");
	CHECK(fill(mm, BASE, 1, 1));	/* mapped already: no fault */
	CHECK_EQ(umm_mmap(mm, BASE + 0x100000, 4 * PG, RW, ANON_FIXED, NULL, 0),
		 BASE + 0x100000);
	CHECK(fill(mm, BASE + 0x100000, 4 * PG, 2));
	CHECK(umm_vmstat_value(mm, "vma_lock_success") >= before + 4);
	umm_mm_destroy(mm);

	mm = umm_mm_create(&o);
	CHECK(mm);
	if (!mm)
		return;
	CHECK_EQ(umm_mmap(mm, BASE, 8 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(umm_fault(mm, BASE + i * PG, UMM_WRITE), 0);
	CHECK(fill(mm, BASE + 4 * PG, 4 * PG, 0x31));
	CHECK(holds(mm, BASE + 4 * PG, 4 * PG, 0x31));
	CHECK_EQ(umm_fault(mm, BASE + 8 * PG, UMM_READ), -EFAULT);
	CHECK_EQ(own_frames(mm, BASE, 8), 8);
	CHECK_EQ(umm_vmstat_value(mm, "vma_lock_success"), 0);
	CHECK_EQ(umm_vmstat_value(mm, "vma_lock_retry"), 0);
	CHECK(mm_stat_read(mm, MM_PGFAULT) >= 8);
	umm_mm_destroy(mm);
}

/*
 * A thread's faults remember the VMA of the last one (vma.c, vmacache).
 * The memory of a VMA unmapped here comes back, after a grace period, as
 * a VMA of another mm at the same address: a fault here must still find
 * nothing there, and faults in the other mm their own VMA.
 */
static void test_vmacache_recycled(void)
{
	const uint64_t x = BASE, other = BASE + 0x1000000;
	struct umm_mm *a, *b;
	int hits = 0;

	vma_tree_barrier();	/* what earlier tests retired is in the pool */
	a = new_mm();
	b = new_mm();
	CHECK_EQ(umm_mmap(a, x, PG, RW, ANON_FIXED, NULL, 0), x);
	CHECK_EQ(umm_fault(a, x, UMM_WRITE), 0);	/* remembered */
	CHECK_EQ(umm_fault(a, x, UMM_READ), 0);
	/* made before any is retired: a takes none of the memory back */
	for (int i = 0; i < 64; i++)
		CHECK_EQ(umm_mmap(a, other + 2 * i * PG, PG, RW, ANON_FIXED, NULL, 0),
			 other + 2 * i * PG);
	CHECK_EQ(umm_munmap(a, x, PG), 0);
	CHECK_EQ(umm_munmap(a, other, 128 * PG), 0);	/* a batch: x's first */
	vma_tree_barrier();
	CHECK_EQ(umm_fault(a, x, UMM_WRITE), -EFAULT);
	for (int i = 0; i < 200; i++) {
		CHECK_EQ(umm_mmap(b, x, PG, i & 1 ? PROT_READ : RW, ANON_FIXED, NULL, 0), x);
		CHECK_EQ(umm_fault(a, x, UMM_READ), -EFAULT);
		CHECK_EQ(umm_fault(a, x, UMM_WRITE), -EFAULT);
		CHECK_EQ(umm_fault(b, x, UMM_WRITE), i & 1 ? -EFAULT : 0);
		CHECK_EQ(umm_fault(b, x, UMM_READ), 0);
		hits += own_frames(b, x, 1);
		CHECK_EQ(umm_munmap(b, x, PG), 0);
	}
	CHECK_EQ(hits, 100);
	CHECK_EQ(own_frames(a, x, 1), 0);
	umm_mm_destroy(a);
	umm_mm_destroy(b);
}

static void *unmap_base(void *arg)
{
	CHECK_EQ(umm_munmap(arg, BASE, PG), 0);
	return NULL;
}

/*
 * A fault loads the entry it set into the faulting thread's TLB
 * (update_mmu_cache), outside any access section; an unmap by another
 * thread while this one is in none must still take it away before the
 * next access, and a read fault of the zero page loads it read-only.
 */
static void test_update_mmu_cache(void)
{
	struct umm_mm *mm = new_mm();
	struct sw_tlb *t;
	pthread_t th;
	char c = 1;

	CHECK_EQ(umm_mmap(mm, BASE, PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_fault(mm, BASE, UMM_WRITE), 0);
	t = tlb_get(mm);
	CHECK(t && sw_tlb_lookup(t, BASE, true));
	CHECK_EQ(pthread_create(&th, NULL, unmap_base, mm), 0);
	pthread_join(th, NULL);
	CHECK_EQ(umm_read(mm, BASE, &c, 1), -EFAULT);
	CHECK_EQ(umm_write(mm, BASE, &c, 1), -EFAULT);

	CHECK_EQ(umm_mmap(mm, BASE, PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK_EQ(umm_fault(mm, BASE, UMM_READ), 0);
	CHECK(sw_tlb_lookup(t, BASE, false) && !sw_tlb_lookup(t, BASE, true));
	CHECK(holds(mm, BASE, PG, 0));
	CHECK(fill(mm, BASE, PG, 0x5a));	/* a copy on write of the zero page */
	CHECK(sw_tlb_lookup(t, BASE, true));
	CHECK(holds(mm, BASE, PG, 0x5a));
	umm_mm_destroy(mm);
}

/* Destroy gives back every frame and table, private and shared alike. */
static void test_destroy_frees_all(void)
{
	struct page_alloc_stats before, after;
	struct umm_mm *mm;
	int64_t na;

	rcu_barrier();
	page_alloc_get_stats(&before);
	mm = new_mm();
	CHECK_EQ(umm_mmap(mm, BASE, 64 * PG, RW, ANON_FIXED, NULL, 0), BASE);
	CHECK(fill(mm, BASE, 64 * PG, 0x51));
	CHECK_EQ(umm_mmap(mm, BASE + 0x40000000, 64 * PG, RW, SHARED_FIXED, NULL, 0),
		 BASE + 0x40000000);
	CHECK(fill(mm, BASE + 0x40000000, 64 * PG, 0x52));
	/* reads of the zero page, and a shared object mapped twice */
	CHECK_EQ(umm_mmap(mm, BASE + 0x80000000, 16 * PG, PROT_READ, ANON_FIXED, NULL, 0),
		 BASE + 0x80000000);
	CHECK(holds(mm, BASE + 0x80000000, 16 * PG, 0));
	na = umm_mremap(mm, BASE + 0x40000000, 0, 64 * PG, MREMAP_MAYMOVE, 0);
	CHECK(na > 0);
	if (na > 0)
		CHECK(holds(mm, na, 64 * PG, 0x52));
	/* some work that frees along the way */
	CHECK_EQ(umm_madvise(mm, BASE, 8 * PG, MADV_DONTNEED), 0);
	CHECK_EQ(umm_mprotect(mm, BASE + 16 * PG, 8 * PG, PROT_READ), 0);
	page_alloc_get_stats(&after);
	CHECK(after.in_use_pages >= before.in_use_pages + 56 + 64);
	umm_mm_destroy(mm);
	check_frames_back(&before);
}

int main(void)
{
	RUN(test_zero_page);
	RUN(test_no_zero_page);
	RUN(test_cross_boundaries);
	RUN(test_copy_sizes);
	RUN(test_partial_and_errors);
	RUN(test_rights_gup);
	RUN(test_rights_fault);
	RUN(test_mprotect_data);
	RUN(test_madvise);
	RUN(test_munmap_remap);
	RUN(test_shared_split);
	RUN(test_shared_mremap);
	RUN(test_private_mremap);
	RUN(test_populate);
	RUN(test_vma_lock_stats);
	RUN(test_vmacache_recycled);
	RUN(test_update_mmu_cache);
	RUN(test_destroy_frees_all);
	return test_done();
}
