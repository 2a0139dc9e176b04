// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_diff - differential test of umm's memory-map calls against the host
 * Linux kernel.
 *
 * The same calls run as real system calls inside a reserved region of this
 * process and as umm_* calls on one umm address space; after every call the
 * two return values and the /proc/PID/maps lines of the region must agree,
 * byte for byte. Random sequences (seeds 0..N-1, N = UMM_DIFF_SEQUENCES or
 * 2000) cover the errno and split/merge corners; fixed scenarios taken from
 * the kernel's tools/testing/selftests/mm/merge.c and mremap_test.c cover the
 * merges the kernel itself tests. A failing sequence prints every call with
 * both results and both maps listings; UMM_DIFF_SEED=S replays sequence S
 * alone, printing each call as it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "uapi_mman.h"

/*
 * Compare the bytes of every readable page too (host through
 * process_vm_readv on itself, umm through umm_read), add random writes to
 * the sequences, and fault pages in the fixed scenarios that need it. Off
 * until umm has page faults and umm_read/umm_write: with it off, the
 * scenarios that touch memory run unfaulted on both sides.
 */
#ifndef DIFF_CONTENTS
#define DIFF_CONTENTS	1
#endif

#define PG		4096ULL
#define KIB		1024ULL
#define MIB		(1ULL << 20)
#define GIB		(1ULL << 30)
#define WIN_SIZE	GIB		/* where the calls aim */
#define DOM_MARGIN	(8 * MIB)	/* generated addresses reach this far past it */
#define LEN_MAX		(32 * MIB)	/* longest length that does not wrap */
#define REG_MARGIN	(64 * MIB)	/* > DOM_MARGIN + LEN_MAX: nothing escapes */
#define MAX_OPS		160
#define TASK_LIMIT	(1ULL << 47)

#define PAGE_ALIGN(x)	(((x) + PG - 1) & ~(PG - 1))

/*
 * win: the window the calls aim at; [reg_start, reg_end): the region that
 * must be empty in this process at start, whose maps lines are compared and
 * which is unmapped between sequences; [dom_start, dom_end): where generated
 * addresses lie. Every range a call may touch stays inside the region, or
 * has a length that wraps past 2^64 (the call then fails on both sides).
 */
static uint64_t win, reg_start, reg_end, dom_start, dom_end;
static struct umm_mm *umm;
static struct umm_opts umm_opts;	/* UMM_NO_ZERO_PAGE where the host has none */

enum op_kind { OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_MADVISE, OP_WRITE };

/* One call, its arguments and both results. */
struct op {
	enum op_kind kind;
	uint64_t addr, len;	/* mremap: old_addr, old_len */
	uint64_t new_len, new_addr;
	uint64_t off;		/* mmap offset; write: pattern seed */
	int prot, flags, advice;
	int64_t host, umm;
	/* A placement outside the region is unmapped at once on that side. */
	bool host_out, umm_out;
	int64_t host_unmap, umm_unmap;
};

struct seq {
	const char *name;	/* fixed scenario; NULL for a random sequence */
	uint64_t seed;
	bool verbose;
	bool failed;
	char why[160];
	int nops;
	struct op ops[MAX_OPS];
	char *host_maps, *umm_maps;	/* after the last call */
};

/* ---- formatting ---------------------------------------------------- */

static const char *fmt_ret(int64_t v, char *buf, size_t size)
{
	const char *name = NULL;

	if (v < 0 && v >= -4095)
		name = strerrorname_np((int)-v);
	if (name)
		snprintf(buf, size, "-%s", name);
	else if (v < 0 && v >= -4095)
		snprintf(buf, size, "%lld", (long long)v);
	else
		snprintf(buf, size, "%#llx", (unsigned long long)v);
	return buf;
}

struct bit_name {
	unsigned long long bit;
	const char *name;
};

/* Bits by name, then what is left in hex; @zero when nothing is set. */
static void fmt_bits(char *buf, size_t size, unsigned long long v,
		     const struct bit_name *t, const char *zero)
{
	size_t n = 0;

	buf[0] = 0;
	for (; t->name; t++) {
		if ((v & t->bit) != t->bit || !t->bit)
			continue;
		n += snprintf(buf + n, n < size ? size - n : 0, "%s%s",
			      n ? "|" : "", t->name);
		v &= ~t->bit;
	}
	if (v || !n)
		snprintf(buf + n, n < size ? size - n : 0, "%s%#llx",
			 n ? "|" : "", v);
	if (!n && !v && zero)
		snprintf(buf, size, "%s", zero);
}

static const struct bit_name prot_names[] = {
	{ PROT_READ, "PROT_READ" }, { PROT_WRITE, "PROT_WRITE" },
	{ PROT_EXEC, "PROT_EXEC" }, { PROT_SEM, "PROT_SEM" },
	{ PROT_GROWSDOWN, "PROT_GROWSDOWN" }, { PROT_GROWSUP, "PROT_GROWSUP" },
	{ 0, NULL }
};

static const struct bit_name map_names[] = {
	{ MAP_FIXED, "MAP_FIXED" }, { MAP_ANONYMOUS, "MAP_ANONYMOUS" },
	{ MAP_NORESERVE, "MAP_NORESERVE" },
	{ MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE" },
	{ MAP_STACK, "MAP_STACK" }, { MAP_DENYWRITE, "MAP_DENYWRITE" },
	{ MAP_EXECUTABLE, "MAP_EXECUTABLE" }, { MAP_SYNC, "MAP_SYNC" },
	{ MAP_UNINITIALIZED, "MAP_UNINITIALIZED" },
	{ 0, NULL }
};

static const struct bit_name mremap_names[] = {
	{ MREMAP_MAYMOVE, "MREMAP_MAYMOVE" }, { MREMAP_FIXED, "MREMAP_FIXED" },
	{ MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP" },
	{ 0, NULL }
};

static const char *advice_name(int advice)
{
	static const char *const names[] = {
		[MADV_NORMAL] = "MADV_NORMAL", [MADV_RANDOM] = "MADV_RANDOM",
		[MADV_SEQUENTIAL] = "MADV_SEQUENTIAL",
		[MADV_WILLNEED] = "MADV_WILLNEED",
		[MADV_DONTNEED] = "MADV_DONTNEED", [MADV_FREE] = "MADV_FREE",
		[MADV_REMOVE] = "MADV_REMOVE", [MADV_DONTFORK] = "MADV_DONTFORK",
		[MADV_DOFORK] = "MADV_DOFORK", [MADV_HUGEPAGE] = "MADV_HUGEPAGE",
		[MADV_NOHUGEPAGE] = "MADV_NOHUGEPAGE",
		[MADV_DONTDUMP] = "MADV_DONTDUMP", [MADV_DODUMP] = "MADV_DODUMP",
		[MADV_WIPEONFORK] = "MADV_WIPEONFORK",
		[MADV_KEEPONFORK] = "MADV_KEEPONFORK",
		[MADV_COLD] = "MADV_COLD", [MADV_PAGEOUT] = "MADV_PAGEOUT",
		[MADV_DONTNEED_LOCKED] = "MADV_DONTNEED_LOCKED",
		[MADV_POPULATE_READ] = "MADV_POPULATE_READ",
		[MADV_POPULATE_WRITE] = "MADV_POPULATE_WRITE",
		[MADV_GUARD_INSTALL] = "MADV_GUARD_INSTALL",
		[MADV_GUARD_REMOVE] = "MADV_GUARD_REMOVE",
		[MADV_MERGEABLE] = "MADV_MERGEABLE",
		[MADV_UNMERGEABLE] = "MADV_UNMERGEABLE",
	};

	if (advice >= 0 && advice < (int)(sizeof(names) / sizeof(names[0])) &&
	    names[advice])
		return names[advice];
	return NULL;
}

static void fmt_mmap_flags(char *buf, size_t size, int flags)
{
	static const char *const types[] = {
		[MAP_SHARED] = "MAP_SHARED", [MAP_PRIVATE] = "MAP_PRIVATE",
		[MAP_SHARED_VALIDATE] = "MAP_SHARED_VALIDATE",
	};
	int type = flags & 0xf;
	size_t n;

	if (type < 4 && types[type])
		n = snprintf(buf, size, "%s", types[type]);
	else
		n = snprintf(buf, size, "%#x", type);
	if (flags & ~0xf) {
		buf[n++] = '|';
		fmt_bits(buf + n, size - n, flags & ~0xfu, map_names, NULL);
	}
}

/* The call in C syntax, so a failing sequence can be pasted into a test. */
static void fmt_call(const struct op *op, char *buf, size_t size)
{
	char a[160], b[96];

	switch (op->kind) {
	case OP_MMAP:
		fmt_bits(b, sizeof(b), op->prot, prot_names, "PROT_NONE");
		fmt_mmap_flags(a, sizeof(a), op->flags);
		snprintf(buf, size, "mmap(%#llx, %#llx, %s, %s, -1, %#llx)",
			 (unsigned long long)op->addr,
			 (unsigned long long)op->len, b, a,
			 (unsigned long long)op->off);
		break;
	case OP_MUNMAP:
		snprintf(buf, size, "munmap(%#llx, %#llx)",
			 (unsigned long long)op->addr,
			 (unsigned long long)op->len);
		break;
	case OP_MPROTECT:
		fmt_bits(a, sizeof(a), op->prot, prot_names, "PROT_NONE");
		snprintf(buf, size, "mprotect(%#llx, %#llx, %s)",
			 (unsigned long long)op->addr,
			 (unsigned long long)op->len, a);
		break;
	case OP_MREMAP:
		fmt_bits(a, sizeof(a), (unsigned)op->flags, mremap_names, "0");
		snprintf(buf, size, "mremap(%#llx, %#llx, %#llx, %s, %#llx)",
			 (unsigned long long)op->addr,
			 (unsigned long long)op->len,
			 (unsigned long long)op->new_len, a,
			 (unsigned long long)op->new_addr);
		break;
	case OP_MADVISE:
		if (advice_name(op->advice))
			snprintf(a, sizeof(a), "%s", advice_name(op->advice));
		else
			snprintf(a, sizeof(a), "%d", op->advice);
		snprintf(buf, size, "madvise(%#llx, %#llx, %s)",
			 (unsigned long long)op->addr,
			 (unsigned long long)op->len, a);
		break;
	case OP_WRITE:
		snprintf(buf, size, "write(%#llx, %#llx, pattern %llu)",
			 (unsigned long long)op->addr,
			 (unsigned long long)op->len,
			 (unsigned long long)op->off);
		break;
	}
}

static void fmt_results(const struct op *op, char *buf, size_t size)
{
	char h[32], u[32], hu[32], uu[32];
	size_t n;

	n = snprintf(buf, size, "host %s, umm %s",
		     fmt_ret(op->host, h, sizeof(h)),
		     fmt_ret(op->umm, u, sizeof(u)));
	if (!op->host_out && !op->umm_out)
		return;
	snprintf(buf + n, size - n, " (placed outside: munmap host %s, umm %s)",
		 op->host_out ? fmt_ret(op->host_unmap, hu, sizeof(hu)) : "-",
		 op->umm_out ? fmt_ret(op->umm_unmap, uu, sizeof(uu)) : "-");
}

static void print_listing(const char *title, const char *text)
{
	const char *p = text;

	fprintf(stderr, "  %s:%s\n", title, *text ? "" : " (none)");
	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "    %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
}

/* ---- maps listings ------------------------------------------------- */

/*
 * The inode of a shared anonymous mapping numbers a file on the host's
 * internal shmem mount, a host-wide counter umm cannot reproduce: blank
 * its digits on both sides. The name keeps its column, so the padding is
 * still compared byte for byte.
 */
static void mask_shmem_inode(char *line)
{
	const char *tail = " /dev/zero (deleted)\n";
	size_t len = strlen(line), tl = strlen(tail);
	char *p = line;
	int field;

	if (len < tl || strcmp(line + len - tl, tail))
		return;
	for (field = 0; field < 4; field++) {
		p = strchr(p, ' ');
		if (!p)
			return;
		p++;
	}
	while (*p >= '0' && *p <= '9')
		*p++ = ' ';
}

/*
 * Keep the lines of @raw that overlap the region. @keep_outside: keep the
 * others too (umm's space holds nothing else, so one is a leaked mapping).
 */
static char *maps_filter(const char *raw, bool keep_outside)
{
	char *out = NULL, line[512];
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	const char *p = raw;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
		unsigned long long start, end;
		char *dash;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = 0;
		p += len;
		start = strtoull(line, &dash, 16);
		end = *dash == '-' ? strtoull(dash + 1, NULL, 16) : 0;
		if (start < reg_end && end > reg_start) {
			mask_shmem_inode(line);
			fputs(line, f);
		} else if (keep_outside) {
			fputs(line, f);
		}
	}
	fclose(f);
	return out;
}

static char *host_maps_read(void)
{
	size_t size = 1 << 16, n = 0;
	char *raw = malloc(size), *out;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !raw) {
		perror("test_diff: /proc/self/maps");
		exit(2);
	}
	while ((r = read(fd, raw + n, size - n - 1)) > 0) {
		n += r;
		if (n + 1 == size)
			raw = realloc(raw, size *= 2);
	}
	close(fd);
	raw[n] = 0;
	out = maps_filter(raw, false);
	free(raw);
	return out;
}

static char *umm_maps_read(struct umm_mm *mm)
{
	char *raw = NULL, *out = NULL, r[32];
	size_t size = 0;
	FILE *f = open_memstream(&raw, &size);
	int ret = umm_maps(mm, f);

	fclose(f);
	if (ret) {
		free(raw);
		size = 0;
		f = open_memstream(&out, &size);
		fprintf(f, "umm_maps() = %s\n", fmt_ret(ret, r, sizeof(r)));
		fclose(f);
		return out;
	}
	out = maps_filter(raw, true);
	free(raw);
	return out;
}

/* Does the host listing hold exactly the VMA [start, end)? */
static bool listing_has_vma(const char *text, uint64_t start, uint64_t end)
{
	char want[64];
	const char *p = text;
	size_t n = snprintf(want, sizeof(want), "%08llx-%08llx ",
			    (unsigned long long)start, (unsigned long long)end);

	for (; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, want, n))
			return true;
		if (!strchr(p, '\n'))
			break;
	}
	return false;
}

/* ---- the two sides --------------------------------------------------- */

static int64_t host_ret(long r)
{
	return r == -1 ? -errno : r;
}

static bool in_reg(uint64_t addr, uint64_t len)
{
	return addr >= reg_start && addr <= reg_end && len <= reg_end - addr;
}

static bool overlaps_reg(uint64_t addr, uint64_t len)
{
	return addr < reg_end && addr + len > reg_start;
}

/* A length that makes the call fail before it looks at any mapping. */
static bool wraps(uint64_t addr, uint64_t len)
{
	return addr + len < addr || (len && !PAGE_ALIGN(len));
}

static bool is_err(int64_t v)
{
	return v < 0 && v >= -4095;
}

/*
 * Would this call, run for real, stay inside the region? The host side is
 * this very process: a generator bug must stop the test, not unmap libc.
 */
static bool host_safe(const struct op *op)
{
	uint64_t a = op->addr & ~(PG - 1);

	switch (op->kind) {
	case OP_MMAP:
		if (!(op->flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)))
			return true;	/* a hint: the kernel never replaces */
		return in_reg(a, PAGE_ALIGN(op->len)) ||
		       op->len >= TASK_LIMIT - PG || op->addr >= TASK_LIMIT;
	case OP_MUNMAP:
	case OP_MPROTECT:
	case OP_MADVISE:
		return in_reg(a, PAGE_ALIGN(op->len)) || wraps(op->addr, op->len);
	case OP_MREMAP:
		if (!in_reg(a, PAGE_ALIGN(op->len)) && !wraps(op->addr, op->len))
			return false;
		if (wraps(op->addr, op->new_len))
			return true;
		if ((op->flags & MREMAP_FIXED) &&
		    !in_reg(op->new_addr & ~(PG - 1), PAGE_ALIGN(op->new_len)))
			return false;
		return in_reg(a, PAGE_ALIGN(op->new_len));
	case OP_WRITE:
		return in_reg(op->addr, op->len);
	}
	return false;
}

static void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)xrand(&s);
}

static unsigned char wbuf[2 * 4096];

static int64_t host_rw(uint64_t addr, void *buf, size_t len, bool write)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
	ssize_t n;

	if (write)
		n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	else
		n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return n < 0 ? -errno : n;
}

/* umm_read/umm_write do not exist yet: see DIFF_CONTENTS. */
static int64_t umm_rw(uint64_t addr, void *buf, size_t len, bool write)
{
#if DIFF_CONTENTS
	if (write)
		return umm_write(umm, addr, buf, len);
	return umm_read(umm, addr, buf, len);
#else
	(void)addr, (void)buf, (void)len, (void)write;
	return -ENOSYS;
#endif
}

static void op_host(struct op *op)
{
	switch (op->kind) {
	case OP_MMAP:
		op->host = host_ret(syscall(SYS_mmap, op->addr, op->len, op->prot,
					    op->flags, -1, op->off));
		break;
	case OP_MUNMAP:
		op->host = host_ret(syscall(SYS_munmap, op->addr, op->len));
		break;
	case OP_MPROTECT:
		op->host = host_ret(syscall(SYS_mprotect, op->addr, op->len,
					    op->prot));
		break;
	case OP_MREMAP:
		op->host = host_ret(syscall(SYS_mremap, op->addr, op->len,
					    op->new_len, op->flags,
					    op->new_addr));
		break;
	case OP_MADVISE:
		op->host = host_ret(syscall(SYS_madvise, op->addr, op->len,
					    op->advice));
		break;
	case OP_WRITE:
		fill_pattern(wbuf, op->len, op->off);
		op->host = host_rw(op->addr, wbuf, op->len, true);
		break;
	}
}

static void op_umm(struct op *op)
{
	switch (op->kind) {
	case OP_MMAP:
		/* No MAP_ANONYMOUS and no file: the host's fd -1. */
		op->umm = umm_mmap(umm, op->addr, op->len, op->prot, op->flags,
				   NULL, op->off);
		break;
	case OP_MUNMAP:
		op->umm = umm_munmap(umm, op->addr, op->len);
		break;
	case OP_MPROTECT:
		op->umm = umm_mprotect(umm, op->addr, op->len, op->prot);
		break;
	case OP_MREMAP:
		op->umm = umm_mremap(umm, op->addr, op->len, op->new_len,
				     op->flags, op->new_addr);
		break;
	case OP_MADVISE:
		op->umm = umm_madvise(umm, op->addr, op->len, op->advice);
		break;
	case OP_WRITE:
		fill_pattern(wbuf, op->len, op->off);
		op->umm = umm_rw(op->addr, wbuf, op->len, true);
		break;
	}
}

static bool op_returns_addr(const struct op *op)
{
	return op->kind == OP_MMAP || op->kind == OP_MREMAP;
}

static uint64_t op_new_size(const struct op *op)
{
	return PAGE_ALIGN(op->kind == OP_MMAP ? op->len : op->new_len);
}

/*
 * The host places a mapping it may choose top-down from its mmap_base,
 * umm in its own empty space: the addresses cannot be compared, so a
 * mapping placed outside the region is unmapped at once on its side.
 */
static void op_settle(struct op *op)
{
	uint64_t size = op_new_size(op);

	if (!op_returns_addr(op))
		return;
	if (!is_err(op->host) && !overlaps_reg(op->host, size)) {
		op->host_out = true;
		op->host_unmap = host_ret(syscall(SYS_munmap, op->host, size));
	}
	if (!is_err(op->umm) && !overlaps_reg(op->umm, size)) {
		op->umm_out = true;
		op->umm_unmap = umm_munmap(umm, op->umm, size);
	}
}

static bool op_results_match(const struct op *op, char *why, size_t size)
{
	bool hint = op->kind == OP_MMAP &&
		    !(op->flags & (MAP_FIXED | MAP_FIXED_NOREPLACE));

	if (op->host_out && op->host_unmap) {
		snprintf(why, size, "host: munmap of the placed mapping failed");
		return false;
	}
	if (op->umm_out && op->umm_unmap) {
		snprintf(why, size, "umm: munmap of the placed mapping failed");
		return false;
	}
	if (hint && !is_err(op->umm) && !op->umm_out &&
	    (uint64_t)op->umm != (op->addr & ~(PG - 1))) {
		snprintf(why, size, "umm placed a mapping inside the window, "
			 "not at the hint");
		return false;
	}
	if (op->host == op->umm)
		return true;
	if (op->host_out && op->umm_out)
		return true;
	snprintf(why, size, "results differ");
	return false;
}

#if DIFF_CONTENTS
#define CMP_CHUNK	(256 * KIB)

/*
 * Every page of every readable host VMA reads the same on both sides.
 *
 * Reading must not change what it observes: a read fault on the host may
 * give the page an anon_vma (kernels that do not map the shared zero page
 * on a read fault allocate a real page instead), and an anon_vma decides
 * later merges and whether mprotect keeps VM_ACCOUNT. So only pages that
 * are resident on a side (mincore) are read there; every mapping here is
 * anonymous, without swap, so a page that is not resident reads as zeros.
 * Chunks are read with one system call and one umm_read each; a short or
 * failed read on either side is narrowed down page by page to report where.
 */
static unsigned char rbuf_host[CMP_CHUNK], rbuf_umm[CMP_CHUNK];
static unsigned char vec_host[CMP_CHUNK / 4096], vec_umm[CMP_CHUNK / 4096];

/* Read [a, a + n) of one side into buf, pages not resident as zeros. */
static int64_t side_read(uint64_t a, uint64_t n, bool host, unsigned char *buf,
			 const unsigned char *vec)
{
	uint64_t i, run;
	int64_t r;

	for (i = 0; i < n / PG; i += run) {
		for (run = 1; i + run < n / PG && !vec[i + run] == !vec[i]; run++)
			;
		if (!vec[i]) {
			memset(buf + i * PG, 0, run * PG);
			continue;
		}
		r = host ? host_rw(a + i * PG, buf + i * PG, run * PG, false) :
			   umm_rw(a + i * PG, buf + i * PG, run * PG, false);
		if (r != (int64_t)(run * PG))
			return r < 0 && i == 0 ? r : (int64_t)(i * PG) + (r > 0 ? r : 0);
	}
	return (int64_t)n;
}

static bool contents_match(struct seq *s, uint64_t lo, uint64_t hi)
{
	const char *p = s->host_maps;

	for (; *p; p = strchr(p, '\n') + 1) {
		unsigned long long start, end, a;
		char perms[5];

		if (sscanf(p, "%llx-%llx %4s", &start, &end, perms) != 3)
			break;
		start = start > lo ? start : lo;
		end = end < hi ? end : hi;
		for (a = start; perms[0] == 'r' && a < end;) {
			uint64_t n = end - a < CMP_CHUNK ? end - a : CMP_CHUNK;
			int64_t h, u;

			if (mincore((void *)(uintptr_t)a, n, vec_host) ||
			    umm_mincore(umm, a, n, vec_umm)) {
				snprintf(s->why, sizeof(s->why),
					 "mincore failed at %#llx", a);
				return false;
			}
			h = side_read(a, n, true, rbuf_host, vec_host);
			u = side_read(a, n, false, rbuf_umm, vec_umm);
			if (h == u && h == (int64_t)n && !memcmp(rbuf_host, rbuf_umm, n)) {
				a += n;
				continue;
			}
			/*
			 * Both stopped at the same page (a guard region: resident
			 * for mincore in shared memory, -EFAULT to read) with the
			 * same bytes before it: go on after it.
			 */
			if (h == u && !memcmp(rbuf_host, rbuf_umm, h > 0 ? (size_t)h : 0)) {
				a += ((h > 0 ? (uint64_t)h : 0) & ~(PG - 1)) + PG;
				continue;
			}
			for (uint64_t i = 0; i < n / PG; i++) {
				if (!memcmp(rbuf_host + i * PG, rbuf_umm + i * PG, PG))
					continue;
				snprintf(s->why, sizeof(s->why),
					 "contents differ at %#llx (host read %lld, "
					 "umm read %lld of %llu)", a + i * PG, (long long)h,
					 (long long)u, (unsigned long long)n);
				return false;
			}
			snprintf(s->why, sizeof(s->why),
				 "reads differ at %#llx: host %lld, umm %lld of %llu",
				 a, (long long)h, (long long)u, (unsigned long long)n);
			return false;
		}
		if (!strchr(p, '\n'))
			break;
	}
	return true;
}
#endif

/* ---- sequences ----------------------------------------------------- */

static void seq_init(struct seq *s, const char *name, uint64_t seed,
		     bool verbose)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->seed = seed;
	s->verbose = verbose;
}

static void seq_print_maps(const struct seq *s)
{
	if (!strcmp(s->host_maps, s->umm_maps)) {
		print_listing("maps (host and umm)", s->host_maps);
		return;
	}
	print_listing("host maps", s->host_maps);
	print_listing("umm maps", s->umm_maps);
}

static void seq_report(const struct seq *s)
{
	char call[512], res[160];
	int i;

	fflush(stdout);
	if (s->name)
		fprintf(stderr, "diff: scenario %s failed at step %d: %s\n",
			s->name, s->nops - 1, s->why);
	else
		fprintf(stderr, "diff: sequence %llu failed at op %d: %s\n"
			"  replay: UMM_DIFF_SEED=%llu %s\n",
			(unsigned long long)s->seed, s->nops - 1, s->why,
			(unsigned long long)s->seed, program_invocation_name);
	fprintf(stderr, "  window %#llx-%#llx, compared region %#llx-%#llx\n",
		(unsigned long long)win, (unsigned long long)(win + WIN_SIZE),
		(unsigned long long)reg_start, (unsigned long long)reg_end);
	for (i = 0; i < s->nops; i++) {
		fmt_call(&s->ops[i], call, sizeof(call));
		fmt_results(&s->ops[i], res, sizeof(res));
		fprintf(stderr, "  %3d: %s = %s%s\n", i, call, res,
			i == s->nops - 1 ? "   <== first difference" : "");
	}
	if (s->host_maps)
		seq_print_maps(s);
}

/* One line: for the failures past the first few full reports. */
static void seq_report_short(const struct seq *s)
{
	const struct op *op = &s->ops[s->nops - 1];
	char call[512], res[160];

	fmt_call(op, call, sizeof(call));
	fmt_results(op, res, sizeof(res));
	fflush(stdout);
	fprintf(stderr, "diff: sequence %llu failed at op %d: %s: %s = %s\n",
		(unsigned long long)s->seed, s->nops - 1, s->why, call, res);
}

static void seq_free_maps(struct seq *s)
{
	free(s->host_maps);
	free(s->umm_maps);
	s->host_maps = s->umm_maps = NULL;
}

/* The page-aligned span a call acts on, clamped to the compared region. */
static void op_span(const struct op *op, uint64_t *lo, uint64_t *hi)
{
	uint64_t a = op->addr & ~(PG - 1), len = op->len;

	if (op->kind == OP_MMAP && op->host > 0 && !op->host_out)
		a = (uint64_t)op->host;
	*lo = a < reg_start ? reg_start : a;
	*hi = (len > reg_end || a + len > reg_end || a + len < a) ? reg_end :
	      ((a + len + PG - 1) & ~(PG - 1));
}

/*
 * Run one call on both sides and compare. Return: false once the two
 * have differed (this call or an earlier one); the sequence stops there.
 */
static bool seq_step(struct seq *s, const struct op *in)
{
	char call[512], res[160];
	struct op *op;

	if (s->failed)
		return false;
	if (s->nops == MAX_OPS) {
		fprintf(stderr, "test_diff: more than %d calls\n", MAX_OPS);
		exit(2);
	}
	op = &s->ops[s->nops++];
	*op = *in;
	fmt_call(op, call, sizeof(call));
	if (!host_safe(op)) {
		fprintf(stderr, "test_diff: refusing %s: it reaches outside "
			"the reserved region\n", call);
		abort();
	}
	if (s->verbose) {
		fprintf(stderr, "%3d: %s\n", s->nops - 1, call);
		fflush(stderr);		/* shows the call if umm crashes */
	}
	op_host(op);
	op_umm(op);
	op_settle(op);
	seq_free_maps(s);
	s->host_maps = host_maps_read();
	s->umm_maps = umm_maps_read(umm);
	if (s->verbose) {
		fmt_results(op, res, sizeof(res));
		fprintf(stderr, "     = %s\n", res);
		seq_print_maps(s);
	}
	if (!op_results_match(op, s->why, sizeof(s->why)))
		goto fail;
	if (strcmp(s->host_maps, s->umm_maps)) {
		snprintf(s->why, sizeof(s->why), "maps differ");
		goto fail;
	}
#if DIFF_CONTENTS
	/*
	 * Pages the call touched after each call (scenarios: all of them);
	 * the whole region once a random sequence ends (seq_contents_final).
	 */
	if (!s->name) {
		uint64_t lo, hi;

		op_span(op, &lo, &hi);
		if (!contents_match(s, lo, hi))
			goto fail;
		if (op->kind == OP_MREMAP && op->host > 0 &&
		    !contents_match(s, op->host, op->host + op->new_len))
			goto fail;
	} else if (!contents_match(s, 0, UINT64_MAX)) {
		goto fail;
	}
#endif
	return true;
fail:
	s->failed = true;
	return false;
}

/* After a failure: can umm's space be emptied for the next sequence? */
static bool umm_region_empty(void)
{
	char *text;
	bool empty;

	if (umm_munmap(umm, reg_start, reg_end - reg_start))
		return false;
	text = umm_maps_read(umm);
	empty = !*text;
	free(text);
	return empty;
}

/*
 * Empty the region on both sides, as a compared call when the sequence
 * still agrees. After a failure umm gets a fresh address space unless
 * munmap empties its own, so that one broken sequence cannot make the
 * next ones fail.
 */
static void seq_cleanup(struct seq *s)
{
	struct op op = { .kind = OP_MUNMAP, .addr = reg_start,
			 .len = reg_end - reg_start };

	seq_step(s, &op);
	if (syscall(SYS_munmap, reg_start, reg_end - reg_start)) {
		perror("test_diff: munmap of the region");
		exit(2);
	}
	if (s->failed && !umm_region_empty()) {
		umm_mm_destroy(umm);
		umm = umm_mm_create(&umm_opts);
		if (!umm) {
			perror("test_diff: umm_mm_create");
			exit(2);
		}
	}
}

/* ---- random generation ------------------------------------------- */

#define MAX_PTS	256

struct gen {
	uint64_t rng;
	int npts;
	uint64_t pts[MAX_PTS];	/* VMA boundaries and recent call addresses */
};

static uint64_t rnd(struct gen *g, uint64_t n)
{
	return n ? xrand(&g->rng) % n : 0;
}

static bool chance(struct gen *g, unsigned pct)
{
	return rnd(g, 100) < pct;
}

static void gen_add_pt(struct gen *g, uint64_t a)
{
	if (a < dom_start || a >= dom_end)
		return;
	if (g->npts < MAX_PTS)
		g->pts[g->npts++] = a;
	else
		g->pts[rnd(g, MAX_PTS)] = a;
}

/* Learn the host's VMA boundaries: the calls aim at them. */
static void gen_learn(struct gen *g, const char *maps, const struct op *op)
{
	const char *p = maps;

	g->npts = 0;
	for (; *p; p = strchr(p, '\n') + 1) {
		unsigned long long start, end;

		if (sscanf(p, "%llx-%llx", &start, &end) != 2)
			break;
		gen_add_pt(g, start);
		gen_add_pt(g, end);
		if (!strchr(p, '\n'))
			break;
	}
	if (op && !wraps(op->addr, op->len)) {
		gen_add_pt(g, op->addr & ~(PG - 1));
		gen_add_pt(g, PAGE_ALIGN(op->addr + op->len));
	}
}

static uint64_t gen_addr(struct gen *g)
{
	unsigned r = rnd(g, 100);
	uint64_t a;

	if (r < 55 && g->npts) {
		a = g->pts[rnd(g, g->npts)];
		if (chance(g, 50))
			a += (rnd(g, 9) - 4) * PG;
	} else if (r < 80) {
		a = win + rnd(g, 2048) * PG;		/* a busy 8 MiB */
	} else if (r < 88) {
		a = win + rnd(g, 8) * 2 * MIB;
	} else if (r < 94) {
		a = win - rnd(g, 64) * PG;		/* across the low edge */
	} else {
		a = win + WIN_SIZE - rnd(g, 64) * PG + rnd(g, 32) * PG;
	}
	if (a < dom_start || a >= dom_end)
		a = win + rnd(g, 4096) * PG;
	if (chance(g, 3))
		a += 1 + rnd(g, PG - 1);
	else if (chance(g, 2))
		a += KIB;
	return a;
}

/* Every one wraps past 2^64 from any address in the domain. */
static const uint64_t wrap_lens[] = {
	UINT64_MAX, UINT64_MAX - PG + 1, UINT64_MAX - PG, 0 - 2 * PG,
	0 - GIB, 0 - (1ULL << 40), 0 - (1ULL << 44),
};

static uint64_t gen_len(struct gen *g, uint64_t addr)
{
	unsigned r = rnd(g, 100);
	int i;

	if (r < 4)
		return 0;
	if (r < 8)
		return 1 + rnd(g, 3 * PG);
	if (r < 11)
		return wrap_lens[rnd(g, sizeof(wrap_lens) / sizeof(wrap_lens[0]))];
	if (r < 50)
		return PG * (1 + rnd(g, 16));
	if (r < 68)
		return PG * (1 + rnd(g, 1024));
	if (r < 78)
		return 2 * MIB * (1 + rnd(g, 4));
	/* Up to a VMA boundary above: ranges that end exactly on one. */
	for (i = 0; i < 4 && g->npts; i++) {
		uint64_t p = g->pts[rnd(g, g->npts)];

		if (p > addr && p - addr <= LEN_MAX)
			return p - addr;
	}
	return PG * (1 + rnd(g, 256));
}

static int gen_prot(struct gen *g, bool odd_bits)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
		PROT_WRITE, PROT_EXEC, PROT_READ | PROT_WRITE,
	};
	static const int odd[] = {
		PROT_SEM | PROT_READ, 0x10, PROT_GROWSDOWN | PROT_READ,
		PROT_GROWSUP | PROT_READ, 0x40 | PROT_WRITE,
	};

	if (odd_bits && chance(g, 4))
		return odd[rnd(g, sizeof(odd) / sizeof(odd[0]))];
	return prots[rnd(g, sizeof(prots) / sizeof(prots[0]))];
}

static int gen_mmap_flags(struct gen *g, bool fixed)
{
	/* 0x8 is MAP_DROPPABLE (6.11+): a valid type on the host, and in umm */
	static const int bad_types[] = { 0, 4, 5, 7, 8, 8, 8, 9, 0xb, 0xf };
	static const int unknown[] = { 0x200000, 0x400000, 0x800000, 0x1000000 };
	unsigned r = rnd(g, 100);
	int flags;

	if (r < 78)
		flags = MAP_PRIVATE;
	else if (r < 93)
		flags = MAP_SHARED;
	else if (r < 97)
		flags = MAP_SHARED_VALIDATE;
	else
		flags = bad_types[rnd(g, sizeof(bad_types) / sizeof(bad_types[0]))];
	if (!chance(g, 3))
		flags |= MAP_ANONYMOUS;
	r = rnd(g, 100);
	if (fixed || r < 45)
		flags |= MAP_FIXED;
	else if (r < 65)
		flags |= MAP_FIXED_NOREPLACE;
	else if (r < 68)
		flags |= MAP_FIXED | MAP_FIXED_NOREPLACE;
	if (chance(g, 20))
		flags |= MAP_NORESERVE;
	if (chance(g, 5))
		flags |= MAP_STACK;
	if (chance(g, 2))
		flags |= MAP_DENYWRITE | MAP_EXECUTABLE;
	if (chance(g, 2))
		flags |= MAP_UNINITIALIZED;
	if (chance(g, 2))
		flags |= MAP_SYNC;
	if (chance(g, 4))
		flags |= unknown[rnd(g, sizeof(unknown) / sizeof(unknown[0]))];
	if (chance(g, 3))
		flags |= MAP_GROWSDOWN;
	/*
	 * MAP_LOCKED and MAP_POPULATE fault pages in on the host, and faulted
	 * VMAs merge differently (anon_vma, VM_ACCOUNT): they join the mix
	 * with DIFF_CONTENTS, once umm has page faults.
	 */
	if (DIFF_CONTENTS && chance(g, 2))
		flags |= MAP_LOCKED;
	if (DIFF_CONTENTS && chance(g, 3))
		flags |= MAP_POPULATE;
	/*
	 * MAP_HUGETLB is left out: umm answers -EINVAL as a kernel without
	 * hugetlbfs, the host creates hugetlbfs mappings (README "Not yet").
	 */
	if (!(flags & MAP_FIXED) && chance(g, 2))
		flags |= MAP_32BIT;
	return flags;
}

static void gen_mmap(struct gen *g, struct op *op, bool fixed)
{
	unsigned r;

	op->kind = OP_MMAP;
	op->flags = gen_mmap_flags(g, fixed);
	if ((op->flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) || chance(g, 85))
		op->addr = gen_addr(g);
	else
		op->addr = 0;	/* no hint */
	op->prot = gen_prot(g, true);
	r = rnd(g, 100);
	if (r < 4)
		op->len = TASK_LIMIT - (chance(g, 50) ? PG : 0);
	else
		op->len = gen_len(g, op->addr);
	r = rnd(g, 100);
	if (r < 90)
		op->off = 0;
	else if (r < 95)
		op->off = PG * rnd(g, 1024);
	else if (r < 98)
		op->off = 1 + rnd(g, 8 * PG);
	else
		op->off = UINT64_MAX - PG + 1;
}

static void gen_mremap(struct gen *g, struct op *op)
{
	static const int flag_sets[] = {
		0, 0, 0, MREMAP_MAYMOVE, MREMAP_MAYMOVE, MREMAP_MAYMOVE,
		MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_MAYMOVE | MREMAP_FIXED,
		MREMAP_MAYMOVE | MREMAP_FIXED,
		MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
		MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
		MREMAP_FIXED, MREMAP_DONTUNMAP, MREMAP_FIXED | MREMAP_DONTUNMAP,
		MREMAP_MAYMOVE | 0x8, 0x10,
	};
	unsigned r = rnd(g, 100);

	op->kind = OP_MREMAP;
	op->addr = gen_addr(g);
	op->len = chance(g, 5) ? 0 : gen_len(g, op->addr);
	op->flags = flag_sets[rnd(g, sizeof(flag_sets) / sizeof(flag_sets[0]))];
	if (r < 30 && !wraps(op->addr, op->len))
		op->new_len = op->len;		/* DONTUNMAP wants this */
	else if (r < 50 && op->len > PG && !wraps(op->addr, op->len))
		op->new_len = PG * (1 + rnd(g, op->len / PG));	/* shrink */
	else
		op->new_len = gen_len(g, op->addr);
	if (op->flags & MREMAP_FIXED) {
		if (chance(g, 15))	/* overlapping source and destination */
			op->new_addr = (op->addr & ~(PG - 1)) +
				       (rnd(g, 9) - 4) * PG;
		else
			op->new_addr = gen_addr(g);
		if (op->new_addr < dom_start || op->new_addr >= dom_end)
			op->new_addr = gen_addr(g);
	} else {
		op->new_addr = chance(g, 50) ? 0 : gen_addr(g);
	}
}

static void gen_madvise(struct gen *g, struct op *op)
{
	static const int advices[] = {
		MADV_DONTNEED, MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM,
		MADV_SEQUENTIAL, MADV_HUGEPAGE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
		MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK, MADV_WIPEONFORK,
		MADV_KEEPONFORK, MADV_DONTDUMP, MADV_DODUMP, MADV_FREE,
		MADV_REMOVE, MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT,
		MADV_DONTNEED_LOCKED, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
		MADV_GUARD_INSTALL, MADV_GUARD_REMOVE,
		/* KSM: the host's ksmd stopped (run 0), as umm's has none */
		MADV_MERGEABLE, MADV_UNMERGEABLE,
		5, 77, 1000, -1,		/* unknown */
	};

	op->kind = OP_MADVISE;
	op->addr = gen_addr(g);
	op->len = gen_len(g, op->addr);
	op->advice = advices[rnd(g, sizeof(advices) / sizeof(advices[0]))];
}

static void gen_op(struct gen *g, struct op *op, int index)
{
	unsigned r = rnd(g, 100);

	memset(op, 0, sizeof(*op));
	if (index < 3) {		/* something to work on first */
		gen_mmap(g, op, true);
		return;
	}
	if (DIFF_CONTENTS && r < 10) {
		op->kind = OP_WRITE;
		op->addr = gen_addr(g);
		op->len = 1 + rnd(g, sizeof(wbuf));
		op->off = xrand(&g->rng);
		return;
	}
	if (r < 35) {
		gen_mmap(g, op, false);
	} else if (r < 48) {
		op->kind = OP_MUNMAP;
		op->addr = gen_addr(g);
		op->len = gen_len(g, op->addr);
	} else if (r < 66) {
		op->kind = OP_MPROTECT;
		op->addr = gen_addr(g);
		op->len = gen_len(g, op->addr);
		op->prot = gen_prot(g, true);
	} else if (r < 84) {
		gen_mremap(g, op);
	} else {
		gen_madvise(g, op);
	}
}

/* Run random sequence @seed. Return: true if both sides agreed throughout. */
static bool seq_random(struct seq *s, uint64_t seed, bool verbose)
{
	struct gen g = { .rng = seed * 0x9e3779b97f4a7c15ULL + 0x5eed };
	int i, n;

	seq_init(s, NULL, seed, verbose);
	for (i = 0; i < 4; i++)
		xrand(&g.rng);
	n = 20 + (int)rnd(&g, 21);
	for (i = 0; i < n; i++) {
		struct op op;

		gen_op(&g, &op, i);
		if (!seq_step(s, &op))
			break;
		gen_learn(&g, s->host_maps, &op);
	}
#if DIFF_CONTENTS
	if (!s->failed && s->nops && !contents_match(s, 0, UINT64_MAX)) {
		snprintf(s->why + strlen(s->why), sizeof(s->why) - strlen(s->why),
			 " (final check of the whole region)");
		s->failed = true;
	}
#endif
	seq_cleanup(s);
	return !s->failed;
}

static unsigned long env_ul(const char *name, unsigned long dflt)
{
	const char *e = getenv(name);

	return e && *e ? strtoul(e, NULL, 0) : dflt;
}

static void test_random_sequences(void)
{
	static struct seq s;	/* large: keep it off the stack */
	unsigned long n = env_ul("UMM_DIFF_SEQUENCES", 2000);
	unsigned long full = env_ul("UMM_DIFF_REPORTS", 5), failed = 0, seed;
	double t0 = now_sec();

	for (seed = 0; seed < n; seed++) {
		if (!seq_random(&s, seed, false)) {
			failed++;
			if (failed <= full)
				seq_report(&s);
			else if (failed <= full + 20)
				seq_report_short(&s);
		}
		seq_free_maps(&s);
	}
	printf("diff: %lu random sequences, %lu failed, %.1f s%s\n", n, failed,
	       now_sec() - t0, failed > full + 20 ?
	       " (reports past the first ones left out; UMM_DIFF_REPORTS=N)" : "");
	CHECK_EQ(failed, 0);
}

/* ---- fixed scenarios ------------------------------------------------- */

/*
 * Each scenario runs its calls on both sides like a random sequence; the
 * expectations on the host check that the scenario still sets up what the
 * kernel selftest it comes from meant (umm is held to the host, not to
 * them).
 */
static struct seq sc;
#define P		PG
#define RW		(PROT_READ | PROT_WRITE)
#define ANON_FIXED	(MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)

static uint64_t sc_base(void)
{
	return win + 16 * MIB;
}

static void sc_begin(const char *name)
{
	seq_init(&sc, name, 0, getenv("UMM_DIFF_VERBOSE") != NULL);
}

/* Return: the host's result (the scenario follows the host). */
static int64_t sc_op(struct op *op)
{
	seq_step(&sc, op);
	return sc.nops ? sc.ops[sc.nops - 1].host : -EINVAL;
}

static int64_t sc_mmap(uint64_t addr, uint64_t len, int prot, int flags)
{
	struct op op = { .kind = OP_MMAP, .addr = addr, .len = len,
			 .prot = prot, .flags = flags };

	return sc_op(&op);
}

static int64_t sc_munmap(uint64_t addr, uint64_t len)
{
	struct op op = { .kind = OP_MUNMAP, .addr = addr, .len = len };

	return sc_op(&op);
}

static int64_t sc_mprotect(uint64_t addr, uint64_t len, int prot)
{
	struct op op = { .kind = OP_MPROTECT, .addr = addr, .len = len,
			 .prot = prot };

	return sc_op(&op);
}

static int64_t sc_mremap(uint64_t addr, uint64_t len, uint64_t new_len,
			 int flags, uint64_t new_addr)
{
	struct op op = { .kind = OP_MREMAP, .addr = addr, .len = len,
			 .new_len = new_len, .flags = flags,
			 .new_addr = new_addr };

	return sc_op(&op);
}

/* Fault a page in, as the selftests' ptr[i] = 'x' (only with contents). */
static void sc_touch(uint64_t addr, uint64_t len)
{
	struct op op = { .kind = OP_WRITE, .addr = addr, .len = len,
			 .off = addr };

	if (DIFF_CONTENTS)
		sc_op(&op);
}

static void sc_fail_host(const char *what)
{
	if (sc.failed)
		return;
	snprintf(sc.why, sizeof(sc.why), "host: %s", what);
	sc.failed = true;
}

static void sc_expect(int64_t got, int64_t want, const char *what)
{
	if (got != want)
		sc_fail_host(what);
}

static void sc_expect_vma(uint64_t start, uint64_t end)
{
	if (!sc.failed && !listing_has_vma(sc.host_maps, start, end))
		sc_fail_host("the expected VMA is not in the maps");
}

static void sc_end(void)
{
	bool failed = sc.failed;

	seq_cleanup(&sc);
	if (sc.failed)
		seq_report(&sc);
	CHECK(!failed && !sc.failed);
	seq_free_maps(&sc);
}

/* The selftests map over a PROT_NONE carve-out of 30 pages. */
static uint64_t sc_carveout(void)
{
	uint64_t c = sc_base();

	sc_mmap(c, 30 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	return c;
}

/* merge.c: mprotect_unfaulted_left */
static void test_merge_mprotect_unfaulted_left(void)
{
	uint64_t ptr;

	sc_begin(__func__);
	ptr = sc_carveout() + P;
	sc_mmap(ptr, 10 * P, RW, ANON_FIXED | MAP_NORESERVE);
	sc_mprotect(ptr, 5 * P, PROT_READ);
	sc_touch(ptr + 5 * P, 1);
	sc_mprotect(ptr + 5 * P, 5 * P, PROT_READ);
	sc_expect_vma(ptr, ptr + 10 * P);
	sc_end();
}

/* merge.c: mprotect_unfaulted_right */
static void test_merge_mprotect_unfaulted_right(void)
{
	uint64_t ptr;

	sc_begin(__func__);
	ptr = sc_carveout() + P;
	sc_mmap(ptr, 10 * P, RW, ANON_FIXED | MAP_NORESERVE);
	sc_mprotect(ptr + 5 * P, 5 * P, PROT_READ);
	sc_touch(ptr, 1);
	sc_mprotect(ptr, 5 * P, PROT_READ);
	sc_expect_vma(ptr, ptr + 10 * P);
	sc_end();
}

/* merge.c: mprotect_unfaulted_both */
static void test_merge_mprotect_unfaulted_both(void)
{
	uint64_t ptr;

	sc_begin(__func__);
	ptr = sc_carveout() + 2 * P;
	sc_mmap(ptr, 9 * P, RW, ANON_FIXED | MAP_NORESERVE);
	sc_mprotect(ptr, 3 * P, PROT_READ);
	sc_mprotect(ptr + 6 * P, 3 * P, PROT_READ);
	sc_touch(ptr + 3 * P, 1);
	sc_mprotect(ptr + 3 * P, 3 * P, PROT_READ);
	sc_expect_vma(ptr, ptr + 9 * P);
	sc_end();
}

/* merge.c: mprotect_faulted_left_unfaulted_right */
static void test_merge_mprotect_faulted_left_unfaulted_right(void)
{
	uint64_t ptr;

	sc_begin(__func__);
	ptr = sc_carveout() + 2 * P;
	sc_mmap(ptr, 9 * P, RW, ANON_FIXED | MAP_NORESERVE);
	sc_mprotect(ptr + 6 * P, 3 * P, PROT_READ);
	sc_touch(ptr, 1);
	sc_mprotect(ptr, 3 * P, PROT_READ);
	sc_mprotect(ptr + 3 * P, 3 * P, PROT_READ);
	sc_expect_vma(ptr, ptr + 9 * P);
	sc_end();
}

/* merge.c: mprotect_unfaulted_left_faulted_right */
static void test_merge_mprotect_unfaulted_left_faulted_right(void)
{
	uint64_t ptr;

	sc_begin(__func__);
	ptr = sc_carveout() + 2 * P;
	sc_mmap(ptr, 9 * P, RW, ANON_FIXED | MAP_NORESERVE);
	sc_mprotect(ptr, 3 * P, PROT_READ);
	sc_touch(ptr + 3 * P, 1);
	sc_mprotect(ptr + 6 * P, 3 * P, PROT_READ);
	sc_mprotect(ptr + 3 * P, 3 * P, PROT_READ);
	sc_expect_vma(ptr, ptr + 9 * P);
	sc_end();
}

/* merge.c: ksm_merge, its part without KSM: neighbours merge, and again. */
static void test_merge_adjacent(void)
{
	uint64_t c;

	sc_begin(__func__);
	c = sc_carveout();
	sc_mmap(c + P, P, RW, ANON_FIXED);
	sc_mmap(c + 2 * P, P, RW, ANON_FIXED);
	sc_expect_vma(c + P, c + 3 * P);
	sc_munmap(c + 2 * P, P);
	sc_mmap(c + 2 * P, P, RW, ANON_FIXED);
	sc_expect_vma(c + P, c + 3 * P);
	sc_munmap(c + P, 2 * P);
	sc_mmap(c + P, P, RW, ANON_FIXED);
	sc_mmap(c + 2 * P, P, RW, ANON_FIXED);
	sc_expect_vma(c + P, c + 3 * P);
	sc_end();
}

#define MOVE_FIXED	(MREMAP_MAYMOVE | MREMAP_FIXED)

/* merge.c: mremap_unfaulted_to_faulted */
static void test_merge_mremap_unfaulted_to_faulted(void)
{
	uint64_t c, ptr, ptr2;

	sc_begin(__func__);
	c = sc_carveout();
	ptr = c + P;
	ptr2 = c + 7 * P;
	sc_mmap(ptr, 5 * P, RW, ANON_FIXED);
	sc_mmap(ptr2, 5 * P, RW, ANON_FIXED);
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr2 + 1000 * P);
	ptr2 += 1000 * P;
	sc_touch(ptr, 1);
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr + 5 * P);
	sc_expect_vma(ptr, ptr + 10 * P);
	sc_end();
}

/* merge.c: mremap_unfaulted_behind_faulted */
static void test_merge_mremap_unfaulted_behind_faulted(void)
{
	uint64_t c, ptr, ptr2;

	sc_begin(__func__);
	c = sc_carveout();
	ptr = c + 6 * P;
	ptr2 = c + 14 * P;
	sc_mmap(ptr, 5 * P, RW, ANON_FIXED);
	sc_mmap(ptr2, 5 * P, RW, ANON_FIXED);
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr2 + 1000 * P);
	ptr2 += 1000 * P;
	sc_touch(ptr, 1);
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, c + P);
	sc_expect_vma(c + P, c + 11 * P);
	sc_end();
}

/*
 * merge.c: mremap_unfaulted_between_faulted (@fault3) and
 * mremap_unfaulted_between_faulted_unfaulted (!@fault3).
 */
static void mremap_between(const char *name, bool fault3)
{
	uint64_t c, ptr, ptr2, ptr3;

	sc_begin(name);
	c = sc_carveout();
	ptr = c + P;
	ptr2 = c + 7 * P;
	ptr3 = c + 14 * P;
	sc_mmap(ptr, 5 * P, RW, ANON_FIXED);
	sc_mmap(ptr2, 5 * P, RW, ANON_FIXED);
	sc_mmap(ptr3, 5 * P, RW, ANON_FIXED);
	sc_mremap(ptr3, 5 * P, 5 * P, MOVE_FIXED, ptr3 + 2000 * P);
	ptr3 += 2000 * P;
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr2 + 1000 * P);
	ptr2 += 1000 * P;
	sc_touch(ptr, 1);
	if (fault3)
		sc_touch(ptr3, 1);
	sc_mremap(ptr3, 5 * P, 5 * P, MOVE_FIXED, ptr + 10 * P);
	ptr3 = ptr + 10 * P;
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr + 5 * P);
	/* Unfaulted, all three merge; with faults only the first two can. */
	if (fault3 && DIFF_CONTENTS) {
		sc_expect_vma(ptr, ptr + 10 * P);
		sc_expect_vma(ptr3, ptr3 + 5 * P);
	} else {
		sc_expect_vma(ptr, ptr + 15 * P);
	}
	sc_end();
}

static void test_merge_mremap_unfaulted_between_faulted(void)
{
	mremap_between(__func__, true);
}

static void test_merge_mremap_unfaulted_between_faulted_unfaulted(void)
{
	mremap_between(__func__, false);
}

/* merge.c: mremap_unfaulted_between_correctly_placed_faulted */
static void test_merge_mremap_between_correctly_placed(void)
{
	uint64_t c, ptr;

	sc_begin(__func__);
	c = sc_carveout();
	ptr = c + P;
	sc_mmap(ptr, 15 * P, RW, ANON_FIXED);
	sc_touch(ptr, 1);
	sc_munmap(ptr + 5 * P, 5 * P);
	sc_mmap(c + 20 * P, 5 * P, RW, ANON_FIXED);
	sc_mremap(c + 20 * P, 5 * P, 5 * P, MOVE_FIXED, ptr + 5 * P);
	sc_expect_vma(ptr, ptr + 15 * P);
	sc_end();
}

/* merge.c: mremap_correct_placed_faulted */
static void test_merge_mremap_correct_placed_faulted(void)
{
	uint64_t c, ptr, ptr2, ptr3;

	sc_begin(__func__);
	c = sc_carveout();
	ptr = c + P;
	sc_mmap(ptr, 15 * P, RW, ANON_FIXED);
	sc_touch(ptr, 1);
	ptr3 = ptr + 10 * P;
	sc_mremap(ptr3, 5 * P, 5 * P, MOVE_FIXED, ptr3 + 2000 * P);
	ptr2 = ptr + 5 * P;
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr2 + 1000 * P);
	ptr2 += 1000 * P;
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr + 5 * P);
	sc_expect_vma(ptr, ptr + 10 * P);
	/* Move the first part out and back: it merges again. */
	sc_mremap(ptr, 5 * P, 5 * P, MOVE_FIXED, ptr + 1000 * P);
	sc_mremap(ptr + 1000 * P, 5 * P, 5 * P, MOVE_FIXED, ptr);
	sc_expect_vma(ptr, ptr + 10 * P);
	/* And the second part. */
	sc_mremap(ptr + 5 * P, 5 * P, 5 * P, MOVE_FIXED, ptr + 1000 * P);
	sc_mremap(ptr + 1000 * P, 5 * P, 5 * P, MOVE_FIXED, ptr + 5 * P);
	sc_expect_vma(ptr, ptr + 10 * P);
	sc_end();
}

/*
 * merge.c: the MREMAP_DONTUNMAP moves next to a previous (@next false) or
 * next (@next true) VMA; the source stays mapped, emptied.
 */
static void mremap_dontunmap(const char *name, bool next)
{
	uint64_t c, ptr, ptr2;

	sc_begin(name);
	c = sc_carveout();
	ptr = c + (next ? 6 : 1) * P;
	ptr2 = c + 14 * P;
	sc_mmap(ptr, 5 * P, RW, ANON_FIXED);
	sc_mmap(ptr2, 5 * P, RW, ANON_FIXED);
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED, ptr2 + 1000 * P);
	ptr2 += 1000 * P;
	sc_touch(ptr, 1);
	sc_touch(ptr2, 1);
	sc_mremap(ptr2, 5 * P, 5 * P, MOVE_FIXED | MREMAP_DONTUNMAP,
		  next ? c + P : ptr + 5 * P);
	sc_expect_vma(ptr2, ptr2 + 5 * P);
	sc_end();
}

static void test_merge_mremap_dontunmap_prev(void)
{
	mremap_dontunmap(__func__, false);
}

static void test_merge_mremap_dontunmap_next(void)
{
	mremap_dontunmap(__func__, true);
}

/*
 * Found by a long differential run (the host's answers are what the
 * sequences check): MREMAP_DONTUNMAP of a whole VMA leaves it without its
 * anon_vma (the kernel's dontunmap_complete), so it merges as unfaulted.
 */
static void test_mremap_dontunmap_whole_unlinks_anon(void)
{
	uint64_t c, a;

	sc_begin(__func__);
	c = sc_carveout();
	a = c + P;
	sc_mmap(a, 2 * P, RW, ANON_FIXED);
	sc_touch(a, 1);
	sc_mremap(a, 2 * P, 2 * P, MOVE_FIXED | MREMAP_DONTUNMAP, c + 20 * P);
	sc_mprotect(a, 2 * P, PROT_READ);
	sc_mprotect(a + P, P, RW);
	sc_touch(a + P, 1);
	sc_mprotect(a, 2 * P, PROT_NONE);
	sc_end();
}

/*
 * mprotect populates a locked VMA that turns writable before it looks at
 * the next one (mprotect_fixup), so the next does not merge with it.
 */
static void test_mprotect_populates_locked_first(void)
{
	uint64_t b;

	sc_begin(__func__);
	b = sc_base() + 16 * P;
	sc_mmap(b + 0xb7000, 0x17000, PROT_READ | PROT_EXEC, ANON_FIXED | MAP_LOCKED);
	sc_mmap(b - 0x2000, 0xb9000, PROT_NONE, ANON_FIXED | MAP_LOCKED);
	sc_mprotect(b + 0xb6000, 0xa000, PROT_READ | PROT_WRITE | PROT_EXEC);
	sc_end();
}

/* PROT_GROWSDOWN moves the start down first: the VMA before may merge. */
static void test_mprotect_growsdown_merges_prev(void)
{
	uint64_t a;

	sc_begin(__func__);
	a = sc_carveout() + P;
	sc_mmap(a, 4 * P, RW, ANON_FIXED | MAP_GROWSDOWN);
	sc_mprotect(a, P, PROT_READ);
	sc_mprotect(a + 2 * P, P, PROT_READ | PROT_GROWSDOWN);
	sc_end();
}

/*
 * A change merges with the VMAs next to it only: an unchanged neighbour
 * that absorbs nothing does not pull in its own mergeable neighbour.
 */
static void test_merge_no_cascade(void)
{
	uint64_t c, a;

	sc_begin(__func__);
	c = sc_carveout();
	a = c + P;
	sc_mmap(a + P, 2 * P, RW, ANON_FIXED | MAP_LOCKED);
	sc_mmap(a + 3 * P, 2 * P, RW, ANON_FIXED);
	sc_mmap(a, P, PROT_READ, ANON_FIXED);
	sc_mremap(a + P, 2 * P, 2 * P, MOVE_FIXED | MREMAP_DONTUNMAP, c + 20 * P);
	sc_mprotect(a, 5 * P, RW);
	sc_end();
}

/* mremap_test.c: source and destination overlapping fail. */
static void test_mremap_overlapping(void)
{
	uint64_t src;

	sc_begin(__func__);
	src = sc_base();
	sc_mmap(src, 4 * P, RW, MAP_SHARED | MAP_ANONYMOUS |
		MAP_FIXED_NOREPLACE);
	sc_expect(sc_mremap(src, 4 * P, 4 * P, MOVE_FIXED, src + 2 * P),
		  -EINVAL, "overlap above moved");
	sc_expect(sc_mremap(src, 4 * P, 4 * P, MOVE_FIXED, src - 2 * P),
		  -EINVAL, "overlap below moved");
	sc_expect(sc_mremap(src, 4 * P, 4 * P, MOVE_FIXED, src),
		  -EINVAL, "move onto itself");
	sc_end();
}

/* mremap_test.c: 1 KiB-misaligned source or destination fail. */
static void test_mremap_misaligned(void)
{
	uint64_t src, dst;

	sc_begin(__func__);
	src = sc_base();
	dst = src + 2 * MIB;
	sc_mmap(src, 4 * P, RW, MAP_SHARED | MAP_ANONYMOUS |
		MAP_FIXED_NOREPLACE);
	sc_expect(sc_mremap(src, P, P, MOVE_FIXED, dst + KIB), -EINVAL,
		  "misaligned destination");
	sc_expect(sc_mremap(src + KIB, P, P, MOVE_FIXED, dst), -EINVAL,
		  "misaligned source");
	sc_end();
}

/*
 * MAP_FIXED above user space: the kernel's placement hands the address
 * back as it was given, in the unsigned long that also carries -errno,
 * so one of the last 4095 addresses fails with that number (-1: -EPERM);
 * the others are -ENOMEM.
 */
static void test_mmap_fixed_above_user_space(void)
{
	static const uint64_t addrs[] = {
		-1ULL, -(uint64_t)EINVAL, -(uint64_t)ENOMEM, -4095ULL, -4096ULL,
		-4097ULL, -8192ULL, TASK_LIMIT, TASK_LIMIT + 1,
	};

	sc_begin(__func__);
	for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		sc_mmap(addrs[i], P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
		sc_mmap(addrs[i], 1, RW, MAP_PRIVATE | MAP_ANONYMOUS |
			MAP_FIXED_NOREPLACE);
	}
	sc_expect(sc_mmap(-1ULL, P, RW, ANON_FIXED), -EPERM,
		  "MAP_FIXED at -1");
	sc_end();
}

/*
 * mremap_test.c: moves between PTE-, 1 MiB-, PMD- and PUD-aligned places.
 * As there, an address aligned to @align is not aligned to twice that; the
 * PUD case moves 4 MiB, not 2 GiB, to stay inside the window.
 */
static uint64_t exact_align(uint64_t a, uint64_t align)
{
	a = (a + align - 1) & ~(align - 1);
	return a & align ? a : a + align;
}

static void mremap_move_aligned(const char *name, uint64_t src_align,
				uint64_t dst_align, uint64_t size)
{
	uint64_t src, dst;

	sc_begin(name);
	if (src_align == GIB) {
		src = win;
		dst = win + GIB;
	} else {
		src = exact_align(win + 64 * MIB, src_align);
		dst = exact_align(src + size + dst_align, dst_align);
	}
	sc_mmap(src, size, RW, MAP_SHARED | MAP_ANONYMOUS |
		MAP_FIXED_NOREPLACE);
	sc_touch(src, P);
	sc_touch(src + size - P, P);
	sc_expect(sc_mremap(src, size, size, MOVE_FIXED, dst), dst,
		  "aligned move failed");
	sc_expect_vma(dst, dst + size);
	sc_end();
}

static void test_mremap_move_pte_pte(void)
{
	mremap_move_aligned(__func__, P, P, 2 * P);
}

static void test_mremap_move_1m_pte(void)
{
	mremap_move_aligned(__func__, MIB, P, 2 * MIB);
}

static void test_mremap_move_1m_1m(void)
{
	mremap_move_aligned(__func__, MIB, MIB, 2 * MIB);
}

static void test_mremap_move_pmd_pte(void)
{
	mremap_move_aligned(__func__, 2 * MIB, P, 4 * MIB);
}

static void test_mremap_move_pmd_1m(void)
{
	mremap_move_aligned(__func__, 2 * MIB, MIB, 4 * MIB);
}

static void test_mremap_move_pmd_pmd(void)
{
	mremap_move_aligned(__func__, 2 * MIB, 2 * MIB, 4 * MIB);
}

static void test_mremap_move_pud_pud(void)
{
	mremap_move_aligned(__func__, GIB, GIB, 4 * MIB);
}

/* mremap_test.c: mremap_expand_merge; the hole is the middle page. */
static void test_mremap_expand_merge(void)
{
	uint64_t start;

	sc_begin(__func__);
	start = sc_base();
	sc_mmap(start, 3 * P, RW, ANON_FIXED);
	sc_munmap(start + P, P);
	sc_expect(sc_mremap(start, P, 2 * P, 0, 0), start, "expand failed");
	sc_expect_vma(start, start + 3 * P);
	sc_end();
}

/* mremap_test.c: mremap_expand_merge_offset; the hole is the last page. */
static void test_mremap_expand_merge_offset(void)
{
	uint64_t start;

	sc_begin(__func__);
	start = sc_base();
	sc_mmap(start, 3 * P, RW, ANON_FIXED);
	sc_munmap(start + 2 * P, P);
	sc_expect(sc_mremap(start + P, P, 2 * P, 0, 0), start + P,
		  "expand failed");
	sc_expect_vma(start, start + 3 * P);
	sc_end();
}

/*
 * mremap_test.c: mremap_move_multiple_vmas. Eleven pages with holes at
 * 1, 3, 7, 9 move as a whole (one call, several VMAs), next to
 * themselves, and over a PROT_NONE mapping.
 */
static void mremap_move_multiple(const char *name, bool dont_unmap)
{
	int flags = MOVE_FIXED | (dont_unmap ? MREMAP_DONTUNMAP : 0);
	uint64_t ptr, tgt, size = 11 * P;
	int i;

	sc_begin(name);
	ptr = sc_base();
	tgt = ptr + 4 * MIB;
	sc_mmap(ptr, size, RW, ANON_FIXED);
	for (i = 1; i < 10; i += 2)
		if (i != 5)
			sc_munmap(ptr + i * P, P);
	for (i = 0; i <= 10; i += 2)
		sc_touch(ptr + i * P, i == 4 ? 2 * P : P);
	sc_expect(sc_mremap(ptr, size, size, flags, tgt), tgt, "move");
	sc_mremap(tgt, size, size, flags, tgt + size);
	sc_mmap(tgt, size, PROT_NONE, ANON_FIXED);
	sc_mremap(tgt + size, size, size, flags, tgt);
	sc_end();
}

static void test_mremap_move_multiple_vmas(void)
{
	mremap_move_multiple(__func__, false);
}

static void test_mremap_move_multiple_vmas_dontunmap(void)
{
	mremap_move_multiple(__func__, true);
}

/* mremap_test.c: mremap_shrink_multiple_vmas, in place and moving. */
static void mremap_shrink_multiple(const char *name, bool inplace)
{
	uint64_t ptr, tgt, size = 10 * P;
	int i;

	sc_begin(name);
	ptr = sc_base();
	tgt = ptr + 4 * MIB;
	sc_mmap(ptr, size, RW, ANON_FIXED);
	for (i = 1; i < 10; i += 2)
		sc_munmap(ptr + i * P, P);
	if (inplace)
		sc_expect(sc_mremap(ptr, size, P, 0, 0), ptr, "shrink");
	else
		sc_expect(sc_mremap(ptr, size, P, MOVE_FIXED, tgt), tgt,
			  "shrink and move");
	sc_end();
}

static void test_mremap_shrink_multiple_vmas_inplace(void)
{
	mremap_shrink_multiple(__func__, true);
}

static void test_mremap_shrink_multiple_vmas_move(void)
{
	mremap_shrink_multiple(__func__, false);
}

/* mremap_test.c: mremap_move_multiple_vmas_split: move a middle part. */
static void mremap_move_split(const char *name, bool dont_unmap)
{
	int flags = MOVE_FIXED | (dont_unmap ? MREMAP_DONTUNMAP : 0);
	uint64_t ptr, tgt, size = 10 * P;
	int i;

	sc_begin(name);
	ptr = sc_base();
	tgt = ptr + 4 * MIB;
	sc_mmap(ptr, size, RW, ANON_FIXED);
	sc_munmap(ptr + 5 * P, P);
	for (i = 0; i < 10; i++)
		if (i != 5)
			sc_touch(ptr + i * P, P);
	sc_expect(sc_mremap(ptr + 2 * P, size - 3 * P, size - 3 * P, flags,
			    tgt), tgt, "move");
	sc_end();
}

static void test_mremap_move_multiple_vmas_split(void)
{
	mremap_move_split(__func__, false);
}

static void test_mremap_move_multiple_vmas_split_dontunmap(void)
{
	mremap_move_split(__func__, true);
}

/* ---- setup ----------------------------------------------------------- */

/* Is [start, end) free of every mapping of this process? */
static bool host_range_empty(uint64_t start, uint64_t end)
{
	char *text;
	bool empty;

	reg_start = start;
	reg_end = end;
	text = host_maps_read();
	empty = !*text;
	free(text);
	return empty;
}

/* A window far from the heap, the libraries and sanitizer shadows. */
/*
 * Whether a read fault on private anonymous memory maps the shared zero
 * page here (smaps counts no Anonymous memory after the read) or a frame of
 * its own: kernels differ (mm_forbids_zeropage(), builds without it), and
 * umm is asked to do what this host does, since it decides anon_vmas and
 * with them merges and VM_ACCOUNT.
 */
static bool host_maps_zero_page(void)
{
	volatile char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[256], want[32];
	bool in = false, zero = true;
	unsigned long kb;
	FILE *f;

	if (p == MAP_FAILED)
		return true;
	(void)p[0];
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	f = fopen("/proc/self/smaps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = true;
		else if (in && sscanf(line, "Anonymous: %lu kB", &kb) == 1) {
			zero = kb == 0;
			break;
		}
	}
	if (f)
		fclose(f);
	munmap((void *)p, PG);
	return zero;
}

static bool window_pick(void)
{
	static const uint64_t candidates[] = {
		0x300000000000ULL, 0x310000000000ULL, 0x320000000000ULL,
		0x200000000000ULL, 0x380000000000ULL, 0x400000000000ULL,
	};
	unsigned i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		win = candidates[i];
		if (!host_range_empty(win - REG_MARGIN,
				      win + WIN_SIZE + REG_MARGIN))
			continue;
		dom_start = win - DOM_MARGIN;
		dom_end = win + WIN_SIZE + DOM_MARGIN;
		return true;
	}
	return false;
}

static void run_fixed(void)
{
	RUN(test_merge_mprotect_unfaulted_left);
	RUN(test_merge_mprotect_unfaulted_right);
	RUN(test_merge_mprotect_unfaulted_both);
	RUN(test_merge_mprotect_faulted_left_unfaulted_right);
	RUN(test_merge_mprotect_unfaulted_left_faulted_right);
	RUN(test_merge_adjacent);
	RUN(test_merge_mremap_unfaulted_to_faulted);
	RUN(test_merge_mremap_unfaulted_behind_faulted);
	RUN(test_merge_mremap_unfaulted_between_faulted);
	RUN(test_merge_mremap_unfaulted_between_faulted_unfaulted);
	RUN(test_merge_mremap_between_correctly_placed);
	RUN(test_merge_mremap_correct_placed_faulted);
	RUN(test_merge_mremap_dontunmap_prev);
	RUN(test_merge_mremap_dontunmap_next);
	RUN(test_mremap_dontunmap_whole_unlinks_anon);
	RUN(test_mprotect_populates_locked_first);
	RUN(test_mprotect_growsdown_merges_prev);
	RUN(test_merge_no_cascade);
	RUN(test_mremap_overlapping);
	RUN(test_mremap_misaligned);
	RUN(test_mmap_fixed_above_user_space);
	RUN(test_mremap_move_pte_pte);
	RUN(test_mremap_move_1m_pte);
	RUN(test_mremap_move_1m_1m);
	RUN(test_mremap_move_pmd_pte);
	RUN(test_mremap_move_pmd_1m);
	RUN(test_mremap_move_pmd_pmd);
	RUN(test_mremap_move_pud_pud);
	RUN(test_mremap_expand_merge);
	RUN(test_mremap_expand_merge_offset);
	RUN(test_mremap_move_multiple_vmas);
	RUN(test_mremap_move_multiple_vmas_dontunmap);
	RUN(test_mremap_shrink_multiple_vmas_inplace);
	RUN(test_mremap_shrink_multiple_vmas_move);
	RUN(test_mremap_move_multiple_vmas_split);
	RUN(test_mremap_move_multiple_vmas_split_dontunmap);
}

int main(void)
{
	const char *replay = getenv("UMM_DIFF_SEED");

	if (!window_pick()) {
		fprintf(stderr, "test_diff: no free window for the host side\n");
		return 1;
	}
	umm_opts.flags = host_maps_zero_page() ? 0 : UMM_NO_ZERO_PAGE;
	printf("diff: the host %s the zero page on read faults%s\n",
	       umm_opts.flags ? "does not map" : "maps",
	       umm_opts.flags ? ": umm runs with UMM_NO_ZERO_PAGE" : "");
	umm = umm_mm_create(&umm_opts);
	if (!umm) {
		perror("test_diff: umm_mm_create");
		return 1;
	}
	if (replay && *replay) {
		static struct seq s;
		bool ok = seq_random(&s, strtoull(replay, NULL, 0), true);

		if (!ok)
			seq_report(&s);
		seq_free_maps(&s);
		printf("diff: sequence %s %s\n", replay, ok ? "agrees" : "FAILED");
		umm_mm_destroy(umm);
		return ok ? 0 : 1;
	}
	run_fixed();
	RUN(test_random_sequences);
	umm_mm_destroy(umm);
	return test_done();
}
