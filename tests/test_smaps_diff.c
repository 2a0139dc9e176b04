// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_smaps_diff - random differential test of smaps, pagemap and page
 * contents against the host kernel, forks included.
 *
 * The same random calls (mmap, munmap, mprotect, mremap, madvise with THP,
 * lazy-free, cold, pageout, populate and guard advice, mlock, munlock, writes,
 * reads, clear_refs) run in a 16 MiB window of this process, at fixed
 * addresses, and at the same addresses of an umm mm. After each call the
 * two results, the window's smaps blocks (header line with the inode
 * blanked, every field) and the pagemap flag bits 56-63 of every page
 * must agree; now and then, and at the end, the contents of every
 * resident readable page too. Most sequences fork in the middle (the host:
 * fork() of this process, whose child then runs the calls it is sent;
 * umm: umm_fork) and go on with calls in either the parent or the child,
 * both compared after each.
 *
 * The host's nondeterminism is kept out where it can be: its per-CPU LRU
 * batches are drained around lazy-free, cold and pageout advice (and such
 * advice is given again when the host passed pages over, as
 * settle_host()); a difference in Referenced alone with the host's larger
 * is umm's documented lack of PG_referenced (README "Not yet") and only
 * noted, as one either way after a clear_refs, populate or mlock
 * (refs_fuzzy_op); a difference after the host's khugepaged collapsed
 * something or a THP allocation of the host failed (its counters moved),
 * or where the host mapped its zero page in a THP it split while its read
 * faults allocate (UMM_NO_ZERO_PAGE stands for both), makes the sequence
 * inconclusive, not failed. Sequences that fork mlock too: a page one
 * side has mlocked is not lazily freed by the other's MADV_FREE.
 *
 * UMM_SMAPS_SEQUENCES=N runs N sequences (default 24, about 4 s); UMM_SMAPS_SEED=S
 * replays sequence S alone, printing each call and both sides' smaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "test_mapcall.h"
#include "test_proc.h"
#include "uapi_mman.h"

#define P		4096ull
#define H		(2ull << 20)
#define WIN		(16ull << 20)
#define NPG		(WIN / P)
#define MAX_OPS		96
#define WMAX		(H + 64 * P)	/* longest write */
#define PM_FLAGS	(~((1ull << 56) - 1))
#define PM_GUARD	(1ull << 58)	/* a guard region's marker */

enum kind {
	K_MMAP, K_MUNMAP, K_MPROTECT, K_MREMAP, K_MADVISE, K_MLOCK, K_MLOCK2,
	K_MUNLOCK, K_WRITE, K_READ, K_CLEAR_REFS, K_FORK, K_EXIT, K_CONTENTS,
};

struct op {
	int kind;
	int who;		/* 0: the parent; 1: the fork's child */
	uint64_t addr, len, new_len, new_addr, seed;
	int prot, flags, advice;
	int64_t host, umm;
};

/* Resident pages and a hash of each readable one, of one side. */
struct contents {
	unsigned char res[NPG];
	uint64_t hash[NPG];
};

struct seq {
	uint64_t seed;
	bool verbose, failed, inconclusive;
	char why[256];
	int nops;
	struct op ops[MAX_OPS];
	struct umm_mm *mm[2];	/* umm: the parent and the child */
	pid_t pid;		/* the host's child, 0 while there is none */
	int to_child, from_child;
	char *host_text[2];	/* the last smaps compared, host's: the generator's map */
	bool refs_fuzzy;	/* Referenced may be lower on the host (refs_fuzzy_op) */
	unsigned long long noise0;
};

static uint64_t win;
static uint64_t host_zero_pfn;	/* the zero page's frame, as the host's pagemap shows it */
static struct umm_opts opts;
static unsigned long ref_notes, settle_notes;
static unsigned char wbuf[WMAX];

/* ---- the calls, on either side ---- */

static void fill_pattern(uint64_t seed, uint64_t len)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1, v = 0;

	for (uint64_t i = 0; i < len; i++) {
		if (!(i & 7))
			v = xrand(&s);
		wbuf[i] = (unsigned char)(v >> ((i & 7) * 8));
	}
}

static int64_t host_clear_refs(int type)
{
	char c = (char)('0' + type);
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int64_t r;

	if (fd < 0)
		return -errno;
	r = write(fd, &c, 1) == 1 ? 0 : -errno;
	close(fd);
	return r;
}

/*
 * A store or load past the end of a shared mapping's object raises SIGBUS
 * (umm: -EFAULT): caught, so that the access ends there, as umm_write's.
 */
static sigjmp_buf access_env;
static volatile uint64_t access_done;

static void access_fault(int sig)
{
	(void)sig;
	siglongjmp(access_env, 1);
}

static int64_t host_access(const struct op *op)
{
	volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)op->addr;
	struct sigaction sa = { .sa_handler = access_fault }, old_bus, old_segv;
	int64_t r;

	if (op->kind == K_WRITE)
		fill_pattern(op->seed, op->len);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	access_done = 0;
	if (sigsetjmp(access_env, 1) == 0) {
		for (; access_done < op->len; access_done++) {
			if (op->kind == K_WRITE)
				p[access_done] = wbuf[access_done];
			else if (!(access_done % P))
				(void)p[access_done];
		}
	}
	r = access_done == op->len ? (int64_t)op->len : -EFAULT;
	if (op->kind == K_WRITE && access_done && access_done < op->len)
		r = (int64_t)access_done;
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return r;
}

/*
 * One call in this process (the host side: the parent, or the child that
 * was sent it). Writes and reads are plain stores and loads, as a program
 * makes them: the generator sends them only where the VMAs allow them.
 */
/* The mapping call @op makes, if it is one (@c filled in). */
static bool op_mapcall(const struct op *op, struct mapcall *c)
{
	static const int mc[] = {
		[K_MMAP] = MC_MMAP, [K_MUNMAP] = MC_MUNMAP, [K_MPROTECT] = MC_MPROTECT,
		[K_MREMAP] = MC_MREMAP, [K_MADVISE] = MC_MADVISE, [K_MLOCK] = MC_MLOCK,
		[K_MLOCK2] = MC_MLOCK2, [K_MUNLOCK] = MC_MUNLOCK, [K_WRITE] = -1,
		[K_READ] = -1, [K_CLEAR_REFS] = -1, [K_FORK] = -1, [K_EXIT] = -1,
		[K_CONTENTS] = -1,
	};

	if (mc[op->kind] < 0)
		return false;
	*c = (struct mapcall){ (enum mapcall_kind)mc[op->kind], op->addr, op->len,
			       op->new_len, op->new_addr, op->prot, op->flags,
			       op->advice };
	return true;
}

static int64_t host_exec(const struct op *op)
{
	struct mapcall c;

	if (op_mapcall(op, &c))
		return host_mapcall(&c);
	switch (op->kind) {
	case K_WRITE:
	case K_READ:
		return host_access(op);
	case K_CLEAR_REFS:
		return host_clear_refs(op->flags);
	}
	return -ENOSYS;
}

static int64_t umm_exec(struct umm_mm *mm, const struct op *op)
{
	struct mapcall c;
	unsigned char b;

	if (op_mapcall(op, &c))
		return umm_mapcall(mm, &c);
	switch (op->kind) {
	case K_WRITE:
		fill_pattern(op->seed, op->len);
		return umm_write(mm, op->addr, wbuf, op->len);
	case K_READ:
		for (uint64_t i = 0; i < op->len; i += P)
			if (umm_read(mm, op->addr + i, &b, 1) != 1)
				return -EFAULT;
		return (int64_t)op->len;
	case K_CLEAR_REFS:
		return umm_clear_refs(mm, op->flags);
	}
	return -ENOSYS;
}

/* ---- views ---- */

static uint64_t page_hash(const unsigned char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (unsigned i = 0; i < P; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
	}
	return h | 1;	/* never 0: 0 is "not read" */
}

/* The window's VMAs of a maps or smaps text: start, end, readable. */
static int text_vmas(const char *text, uint64_t (*v)[2], bool *rd, int max)
{
	int n = 0;

	for (const char *p = text; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		unsigned long long a, b;
		char perms[8];

		if (sscanf(p, "%llx-%llx %7s", &a, &b, perms) != 3 ||
		    strchr(p, '-') > strchr(p, ' '))
			continue;
		if (a < win || b > win + WIN)
			continue;
		v[n][0] = a;
		v[n][1] = b;
		rd[n++] = perms[0] == 'r';
	}
	return n;
}

/*
 * Residency and contents of this process's window (the host's side: run
 * in the parent, or in the child for its own). Pages not resident are not
 * read: a read would fault them in; nor are guard pages, which mincore
 * counts resident in shared memory (it looks the object's cache up) and
 * whose load is SIGSEGV (umm_read's -EFAULT leaves them unread too).
 */
static void host_pagemap(pid_t pid, uint64_t *out);

static void host_contents(struct contents *c)
{
	static uint64_t pm[NPG];
	static char text[1 << 16];
	static uint64_t v[512][2];
	static bool rd[512];
	int fd = open("/proc/self/maps", O_RDONLY), n;
	ssize_t len = 0, r;

	memset(c, 0, sizeof(*c));
	if (fd < 0)
		return;
	while (len < (ssize_t)sizeof(text) - 1 &&
	       (r = read(fd, text + len, sizeof(text) - 1 - (size_t)len)) > 0)
		len += r;
	close(fd);
	text[len] = 0;
	n = text_vmas(text, v, rd, 512);
	host_pagemap(0, pm);
	for (int i = 0; i < n; i++) {
		uint64_t first = (v[i][0] - win) / P;

		if (mincore((void *)(uintptr_t)v[i][0], v[i][1] - v[i][0], c->res + first))
			continue;
		for (uint64_t a = v[i][0]; rd[i] && a < v[i][1]; a += P) {
			uint64_t pg = (a - win) / P;

			c->res[pg] &= 1;
			if (c->res[pg] && !(pm[pg] & PM_GUARD))
				c->hash[pg] = page_hash((const unsigned char *)(uintptr_t)a);
		}
		for (uint64_t a = v[i][0]; a < v[i][1]; a += P)
			c->res[(a - win) / P] &= 1;
	}
}

static char *umm_text(struct umm_mm *mm, bool smaps)
{
	char *raw = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&raw, &size);

	CHECK(f);
	CHECK_EQ(smaps ? umm_smaps(mm, f) : umm_maps(mm, f), 0);
	fclose(f);
	return raw;
}

static void umm_contents(struct umm_mm *mm, struct contents *c)
{
	static uint64_t v[512][2];
	static bool rd[512];
	static unsigned char page[P];
	char *text = umm_text(mm, false);
	int n = text_vmas(text, v, rd, 512);

	free(text);
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < n; i++) {
		uint64_t first = (v[i][0] - win) / P;

		CHECK_EQ(umm_mincore(mm, v[i][0], v[i][1] - v[i][0], c->res + first), 0);
		for (uint64_t a = v[i][0]; a < v[i][1]; a += P) {
			uint64_t pg = (a - win) / P;

			c->res[pg] &= 1;
			if (!rd[i] || !c->res[pg])
				continue;
			if (umm_read(mm, a, page, P) == (int64_t)P)
				c->hash[pg] = page_hash(page);
		}
	}
}

/*
 * The smaps blocks of the window, whole; the inode of a header line
 * blanked (a shared anonymous mapping's numbers a host-wide shmem file).
 */
static char *smaps_text(const char *raw)
{
	char *out = NULL;
	size_t size = 0;
	FILE *o = open_memstream(&out, &size);
	bool in = false;

	for (const char *p = raw; p && *p;) {
		size_t len = strcspn(p, "\n");
		unsigned long long a, b;
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + !!p[len];
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			char *f = line;

			in = a >= win && b <= win + WIN;
			for (int i = 0; i < 4 && f; i++)
				f = strchr(f + 1, ' ');
			for (f = f ? f + 1 : NULL; f && *f >= '0' && *f <= '9'; f++)
				*f = ' ';
		}
		if (in)
			fprintf(o, "%s\n", line);
	}
	fclose(o);
	return out;
}

static char *host_smaps(pid_t pid)
{
	char path[64], *raw, *out;
	size_t size = 1 << 17, n = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	raw = malloc(size);
	CHECK(fd >= 0 && raw);
	while (fd >= 0 && (r = read(fd, raw + n, size - n - 1)) > 0) {
		n += (size_t)r;
		if (n + 1 == size)
			raw = realloc(raw, size *= 2);
	}
	if (fd >= 0)
		close(fd);
	raw[n] = 0;
	out = smaps_text(raw);
	free(raw);
	return out;
}

static void host_pagemap(pid_t pid, uint64_t *out)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, out, NPG * 8, (off_t)(win / P * 8)), (ssize_t)(NPG * 8));
	close(fd);
}

/* ---- the host's child ---- */

static bool read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	for (size_t put = 0; put < len;) {
		ssize_t r = write(fd, (const char *)buf + put, len - put);

		if (r <= 0)
			return false;
		put += (size_t)r;
	}
	return true;
}

/* The host's child: runs what it is sent, answers, until K_EXIT or EOF. */
static void __attribute__((noreturn)) child_serve(int in, int out)
{
	static struct contents c;
	struct op op;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (read_full(in, &op, sizeof(op)) && op.kind != K_EXIT) {
		int64_t r;

		if (op.kind == K_CONTENTS) {
			host_contents(&c);
			if (!write_full(out, &c, sizeof(c)))
				break;
			continue;
		}
		r = host_exec(&op);
		if (!write_full(out, &r, sizeof(r)))
			break;
	}
	_exit(0);
}

static int64_t child_call(struct seq *s, const struct op *op, void *reply, size_t len)
{
	int64_t r = -EPIPE;

	if (!write_full(s->to_child, op, sizeof(*op)))
		return r;
	if (!reply) {
		reply = &r;
		len = sizeof(r);
	}
	if (!read_full(s->from_child, reply, len))
		return -EPIPE;
	return r;
}

static int64_t host_fork(struct seq *s)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe(to) || pipe(from))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		child_serve(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	s->pid = pid;
	s->to_child = to[1];
	s->from_child = from[0];
	return 0;
}

static void host_child_exit(struct seq *s)
{
	struct op op = { .kind = K_EXIT };

	if (!s->pid)
		return;
	(void)!write_full(s->to_child, &op, sizeof(op));
	close(s->to_child);
	close(s->from_child);
	CHECK_EQ(waitpid(s->pid, NULL, 0), s->pid);
	s->pid = 0;
}

/* ---- host noise ---- */

static unsigned long long counter(const char *path, const char *name)
{
	char line[256];
	unsigned long long v, sum = 0;
	size_t n = name ? strlen(name) : 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if ((!name || (!strncmp(line, name, n) && line[n] == ' ')) &&
		    sscanf(line + n, "%llu", &v) == 1)
			sum += v;
	if (f)
		fclose(f);
	return sum;
}

/*
 * What the host did that nothing here asked for, or failed to do: its
 * khugepaged's collapses, THP allocations that fell back to small pages.
 */
static unsigned long long host_noise(void)
{
	return counter("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed", NULL) +
	       counter("/proc/vmstat", "thp_fault_fallback") +
	       counter("/proc/vmstat", "thp_collapse_alloc_failed");
}

/* ---- formatting ---- */

static const char *advice_name(int a)
{
	switch (a) {
	case MADV_DONTNEED: return "DONTNEED";
	case MADV_FREE: return "FREE";
	case MADV_COLD: return "COLD";
	case MADV_PAGEOUT: return "PAGEOUT";
	case MADV_HUGEPAGE: return "HUGEPAGE";
	case MADV_NOHUGEPAGE: return "NOHUGEPAGE";
	case MADV_POPULATE_READ: return "POPULATE_READ";
	case MADV_POPULATE_WRITE: return "POPULATE_WRITE";
	case MADV_WILLNEED: return "WILLNEED";
	case MADV_COLLAPSE: return "COLLAPSE";
	case MADV_DONTFORK: return "DONTFORK";
	case MADV_DOFORK: return "DOFORK";
	case MADV_WIPEONFORK: return "WIPEONFORK";
	case MADV_KEEPONFORK: return "KEEPONFORK";
	case MADV_DONTNEED_LOCKED: return "DONTNEED_LOCKED";
	case MADV_GUARD_INSTALL: return "GUARD_INSTALL";
	case MADV_GUARD_REMOVE: return "GUARD_REMOVE";
	}
	return "?";
}

static void fmt_op(const struct op *op, char *buf, size_t size)
{
	unsigned long long a = op->addr - win, l = op->len;
	const char *who = op->who ? "child " : "";

	switch (op->kind) {
	case K_MMAP:
		snprintf(buf, size, "%smmap(W+%#llx, %#llx, prot %d, flags %#x)", who, a, l,
			 op->prot, op->flags);
		break;
	case K_MUNMAP:
		snprintf(buf, size, "%smunmap(W+%#llx, %#llx)", who, a, l);
		break;
	case K_MPROTECT:
		snprintf(buf, size, "%smprotect(W+%#llx, %#llx, %d)", who, a, l, op->prot);
		break;
	case K_MREMAP:
		snprintf(buf, size, "%smremap(W+%#llx, %#llx, %#llx, %#x, W+%#llx)", who, a, l,
			 (unsigned long long)op->new_len, op->flags,
			 (unsigned long long)(op->new_addr ? op->new_addr - win : 0));
		break;
	case K_MADVISE:
		snprintf(buf, size, "%smadvise(W+%#llx, %#llx, MADV_%s)", who, a, l,
			 advice_name(op->advice));
		break;
	case K_MLOCK:
		snprintf(buf, size, "%smlock(W+%#llx, %#llx)", who, a, l);
		break;
	case K_MLOCK2:
		snprintf(buf, size, "%smlock2(W+%#llx, %#llx, %d)", who, a, l, op->flags);
		break;
	case K_MUNLOCK:
		snprintf(buf, size, "%smunlock(W+%#llx, %#llx)", who, a, l);
		break;
	case K_WRITE:
		snprintf(buf, size, "%swrite(W+%#llx, %#llx)", who, a, l);
		break;
	case K_READ:
		snprintf(buf, size, "%sread(W+%#llx, %#llx)", who, a, l);
		break;
	case K_CLEAR_REFS:
		snprintf(buf, size, "%sclear_refs(%d)", who, op->flags);
		break;
	case K_FORK:
		snprintf(buf, size, "fork()");
		break;
	case K_EXIT:
		snprintf(buf, size, "child exit");
		break;
	case K_CONTENTS:
		snprintf(buf, size, "compare contents");
		break;
	}
}

static void seq_report(const struct seq *s)
{
	char call[256];

	fflush(stdout);
	fprintf(stderr, "smaps_diff: sequence %llu %s at op %d: %s\n"
		"  replay: UMM_SMAPS_SEED=%llu %s\n  W = %#llx\n",
		(unsigned long long)s->seed, s->inconclusive ? "inconclusive" : "failed",
		s->nops - 1, s->why, (unsigned long long)s->seed,
		program_invocation_name, (unsigned long long)win);
	for (int i = 0; i < s->nops; i++) {
		fmt_op(&s->ops[i], call, sizeof(call));
		fprintf(stderr, "  %3d: %s = host %lld, umm %lld%s\n", i, call,
			(long long)s->ops[i].host, (long long)s->ops[i].umm,
			i == s->nops - 1 ? "   <==" : "");
	}
}

/* ---- comparing ---- */

static bool fail(struct seq *s, const char *fmt, const char *what)
{
	snprintf(s->why, sizeof(s->why), fmt, what);
	s->failed = true;
	if (host_noise() != s->noise0)
		s->inconclusive = true;
	return false;
}

/* The lines where the host's @a and umm's @b differ, under their block's header. */
static void show_lines(const char *a, const char *b)
{
	char hdr[160] = "";

	while (*a || *b) {
		size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
		unsigned long long x, y;

		if (la != lb || memcmp(a, b, la))
			printf("     in %s:\n       host: %.*s\n       umm:  %.*s\n", hdr,
			       (int)la, a, (int)lb, b);
		else if (sscanf(a, "%llx-%llx", &x, &y) == 2)
			snprintf(hdr, sizeof(hdr), "W+%llx-W+%llx%.*s", x - win, y - win,
				 (int)(strcspn(a, " ") < la ? 5 : 0), a + strcspn(a, " "));
		a += la + !!a[la];
		b += lb + !!b[lb];
	}
}

/* Only Referenced differs, the host's larger: PG_referenced (README). */
static bool referenced_gap(const char *h, const char *u)
{
	return same_but_referenced(h, u) &&
	       field_kb(h, "Referenced") > field_kb(u, "Referenced");
}

/*
 * Does the host map its zero page where umm, run with UMM_NO_ZERO_PAGE,
 * maps a page? This host allocates on read faults but still maps the
 * zero page in place of the zero-filled pages of an anonymous THP it
 * splits (6.12's remap): umm's UMM_NO_ZERO_PAGE stands for
 * mm_forbids_zeropage(), which stops both (see test_thp.c). A sequence
 * that comes there is inconclusive, not failed.
 */
static bool host_split_to_zero_page(struct seq *s, int who)
{
	static uint64_t h[NPG], u[NPG];
	const uint64_t pfn = (1ull << 55) - 1, present = 1ull << 63;

	if (!host_zero_pfn || !(opts.flags & UMM_NO_ZERO_PAGE))
		return false;
	host_pagemap(who ? s->pid : 0, h);
	CHECK_EQ(umm_pagemap(s->mm[who], win, NPG, u), 0);
	for (uint64_t i = 0; i < NPG; i++)
		if ((h[i] & present) && (h[i] & pfn) == host_zero_pfn && (u[i] & present))
			return true;
	return false;
}

static bool same_smaps_of(struct seq *s, int who)
{
	const char *what = who ? "the child's smaps" : "the parent's smaps";
	char *h = host_smaps(who ? s->pid : 0), *raw = umm_text(s->mm[who], true);
	char *u = smaps_text(raw);
	bool same = !strcmp(h, u);

	free(raw);

	if (!same && (referenced_gap(h, u) ||
		      (s->refs_fuzzy && same_but_referenced(h, u)))) {
		ref_notes++;
		same = true;
	}
	if (!same || s->verbose) {
		printf("   %s, %s:\n", what, same ? "the same" : "differ");
		show_lines(h, u);
		if (s->verbose && getenv("SHOW"))
			printf("%s", h);
	}
	free(s->host_text[who]);
	s->host_text[who] = h;
	free(u);
	if (!same && host_split_to_zero_page(s, who)) {
		fail(s, "%s differ", what);
		s->inconclusive = true;
		snprintf(s->why, sizeof(s->why), "the host mapped its zero page in a split THP");
		return false;
	}
	return same || fail(s, "%s differ", what);
}

static bool same_pagemap_of(struct seq *s, int who)
{
	static uint64_t h[NPG], u[NPG];
	unsigned bad = 0;

	host_pagemap(who ? s->pid : 0, h);
	CHECK_EQ(umm_pagemap(s->mm[who], win, NPG, u), 0);
	for (uint64_t i = 0; i < NPG; i++) {
		if ((h[i] & PM_FLAGS) == (u[i] & PM_FLAGS))
			continue;
		if (bad++ < 6)
			printf("   %s pagemap, page W+%#llx: host %016llx umm %016llx\n",
			       who ? "child" : "parent", (unsigned long long)(i * P),
			       (unsigned long long)h[i], (unsigned long long)u[i]);
	}
	return !bad || fail(s, "%s pagemap flags differ", who ? "the child's" : "the parent's");
}

static bool same_contents_of(struct seq *s, int who)
{
	static struct contents h, u;
	struct op op = { .kind = K_CONTENTS };

	if (who)
		child_call(s, &op, &h, sizeof(h));
	else
		host_contents(&h);
	umm_contents(s->mm[who], &u);
	for (uint64_t i = 0; i < NPG; i++) {
		if (h.res[i] == u.res[i] && h.hash[i] == u.hash[i])
			continue;
		printf("   %s, page W+%#llx: host %s%s, umm %s%s\n",
		       who ? "child" : "parent", (unsigned long long)(i * P),
		       h.res[i] ? "resident" : "absent", h.hash[i] ? " read" : "",
		       u.res[i] ? "resident" : "absent", u.hash[i] ? " read" : "");
		return fail(s, "%s contents differ", who ? "the child's" : "the parent's");
	}
	return true;
}

static bool same_views(struct seq *s, bool contents)
{
	for (int who = 0; who < 2; who++) {
		if (!s->mm[who])
			continue;
		if (!same_smaps_of(s, who) || !same_pagemap_of(s, who))
			return false;
	}
	/* after smaps: reading makes entries young */
	for (int who = 0; contents && who < 2; who++)
		if (s->mm[who] && !same_contents_of(s, who))
			return false;
	return true;
}

/* ---- running a call ---- */

static bool lru_advice(const struct op *op)
{
	return op->kind == K_MADVISE && (op->advice == MADV_FREE || op->advice == MADV_COLD ||
					 op->advice == MADV_PAGEOUT);
}

/*
 * After these the host's Referenced may be lower than umm's, for as long
 * as the pages stay: its clear_refs flushes no TLB, so an access through a
 * translation the CPU still holds does not mark the entry young again (umm
 * drops its cached ones); get_user_pages (populate, mlock) marks a present
 * page's folio accessed, which the second time activates it and clears
 * its PG_referenced, where umm, which has no PG_referenced (README), makes
 * the entry young. Either way only Referenced differs.
 */
static bool refs_fuzzy_op(const struct op *op)
{
	switch (op->kind) {
	case K_CLEAR_REFS:
	case K_MLOCK:
	case K_MLOCK2:
		return true;
	case K_MMAP:
		return op->flags & (MAP_POPULATE | MAP_LOCKED);
	case K_MADVISE:
		return op->advice == MADV_POPULATE_READ || op->advice == MADV_POPULATE_WRITE;
	}
	return false;
}

static int64_t host_side(struct seq *s, const struct op *op)
{
	return op->who ? child_call(s, op, NULL, 0) : host_exec(op);
}

static bool seq_step(struct seq *s, const struct op *in)
{
	struct op *op = &s->ops[s->nops++];
	bool contents = false;
	char call[256];

	*op = *in;
	if (s->verbose) {
		fmt_op(op, call, sizeof(call));
		printf("%3d: %s\n", s->nops - 1, call);
		fflush(stdout);
	}
	if (lru_advice(op))
		drain_host_lazyfree();
	switch (op->kind) {
	case K_FORK:
		op->host = host_fork(s);
		op->umm = umm_fork(s->mm[0], &s->mm[1]);
		if (op->host || op->umm)
			return fail(s, "%s failed", "fork");
		break;
	case K_EXIT:
		host_child_exit(s);
		umm_mm_destroy(s->mm[1]);
		s->mm[1] = NULL;
		free(s->host_text[1]);
		s->host_text[1] = NULL;
		break;
	case K_CONTENTS:
		contents = true;
		break;
	default:
		s->refs_fuzzy |= refs_fuzzy_op(op);
		op->host = host_side(s, op);
		op->umm = umm_exec(s->mm[op->who], op);
	}
	if (lru_advice(op))
		drain_host_lazyfree();
	if (s->verbose)
		printf("     = host %lld, umm %lld\n", (long long)op->host, (long long)op->umm);
	if (op->host != op->umm)
		return fail(s, "%s: results differ", "call");
	if (same_views(s, contents))
		return true;
	if (!lru_advice(op) || (op->host && op->host != -ENOMEM) || s->inconclusive)
		return false;
	/* the host passed pages over (in a batch, isolated): advise it again */
	for (int i = 0; i < 3; i++) {
		s->failed = s->inconclusive = false;
		settle_notes++;
		drain_host_lazyfree();
		host_side(s, op);
		drain_host_lazyfree();
		if (same_views(s, false))
			return true;
	}
	return false;
}

/* ---- generating ---- */

struct gen {
	uint64_t rng;
	int npts;
	uint64_t pts[128];
};

static uint64_t rnd(struct gen *g, uint64_t n)
{
	return n ? xrand(&g->rng) % n : 0;
}

static bool chance(struct gen *g, unsigned pct)
{
	return rnd(g, 100) < pct;
}

/* The VMA boundaries of the side that acts: calls aim at them. */
static void gen_learn(struct gen *g, const char *text)
{
	uint64_t v[128][2];
	bool rd[128];
	int n = text ? text_vmas(text, v, rd, 64) : 0;

	g->npts = 0;
	for (int i = 0; i < n; i++) {
		g->pts[g->npts++] = v[i][0];
		g->pts[g->npts++] = v[i][1];
	}
}

static uint64_t gen_addr(struct gen *g)
{
	unsigned r = rnd(g, 100);
	uint64_t a;

	if (r < 45 && g->npts)
		a = g->pts[rnd(g, g->npts)] + (chance(g, 50) ? (rnd(g, 9) - 4) * P : 0);
	else if (r < 70)
		a = win + rnd(g, NPG) * P;
	else if (r < 90)
		a = win + rnd(g, WIN / H) * H;
	else
		a = win + rnd(g, WIN / H) * H + (chance(g, 50) ? rnd(g, 16) * P : H - rnd(g, 16) * P);
	if (a < win || a >= win + WIN)
		a = win + rnd(g, NPG) * P;
	return a;
}

static uint64_t gen_len(struct gen *g, uint64_t a)
{
	unsigned r = rnd(g, 100);
	uint64_t len = 0;

	if (r < 35)
		len = P * (1 + rnd(g, 16));
	else if (r < 55)
		len = P * (1 + rnd(g, 512));
	else if (r < 75)
		len = H * (1 + rnd(g, 3));
	for (int i = 0; !len && i < 4 && g->npts; i++) {
		uint64_t p = g->pts[rnd(g, g->npts)];

		if (p > a)
			len = p - a;
	}
	if (!len)
		len = P * (1 + rnd(g, 64));
	if (a + len > win + WIN)
		len = win + WIN - a;
	return len;
}

/* Is [a, a + len) mapped throughout, by VMAs whose perms have @c at @i? */
static bool range_allows(const char *text, uint64_t a, uint64_t len, int i, char c)
{
	uint64_t end = a + len;

	for (const char *p = text; p && *p && a < end; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		unsigned long long s, e;
		char perms[8];

		if (sscanf(p, "%llx-%llx %7s", &s, &e, perms) != 3 || strchr(p, '-') > strchr(p, ' '))
			continue;
		if (s > a)
			return false;
		if (e <= a)
			continue;
		if (perms[i] != c)
			return false;
		a = e;
	}
	return a >= end;
}

static void gen_mmap(struct gen *g, struct op *op)
{
	static const int prots[] = {
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ, PROT_NONE, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_WRITE,
	};

	op->kind = K_MMAP;
	op->addr = chance(g, 50) ? win + rnd(g, WIN / H) * H : gen_addr(g);
	op->len = chance(g, 40) ? H * (1 + rnd(g, 2)) : gen_len(g, op->addr);
	if (op->addr + op->len > win + WIN)
		op->len = win + WIN - op->addr;
	op->prot = prots[rnd(g, sizeof(prots) / sizeof(prots[0]))];
	op->flags = MAP_FIXED | MAP_ANONYMOUS | (chance(g, 85) ? MAP_PRIVATE : MAP_SHARED);
	if (chance(g, 10))
		op->flags |= MAP_NORESERVE;
	if (chance(g, 6))
		op->flags |= MAP_POPULATE;
	if (chance(g, 3))
		op->flags |= MAP_LOCKED;
}

static void gen_mremap(struct gen *g, struct op *op)
{
	unsigned r = rnd(g, 100);

	op->kind = K_MREMAP;
	op->addr = gen_addr(g);
	op->len = gen_len(g, op->addr);
	op->new_len = op->len;
	if (r < 30) {		/* in place: shrink or grow */
		op->new_len = chance(g, 50) && op->len > P ? P * (1 + rnd(g, op->len / P - 1)) :
			      op->len + P * (1 + rnd(g, 512));
		if (op->addr + op->new_len > win + WIN)
			op->new_len = win + WIN - op->addr;
		return;
	}
	op->flags = MREMAP_MAYMOVE | MREMAP_FIXED;
	if (r < 45)
		op->flags |= MREMAP_DONTUNMAP;
	else if (chance(g, 30))
		op->new_len = P * (1 + rnd(g, 1024));
	op->new_addr = chance(g, 50) ? win + rnd(g, WIN / H) * H : gen_addr(g);
	if (op->new_addr + op->new_len > win + WIN) {
		op->new_len = win + WIN - op->new_addr;
		if (op->flags & MREMAP_DONTUNMAP)
			op->len = op->new_len;
	}
}

static void gen_madvise(struct gen *g, struct op *op)
{
	static const int advices[] = {
		MADV_HUGEPAGE, MADV_HUGEPAGE, MADV_HUGEPAGE, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED,
		MADV_FREE, MADV_FREE, MADV_FREE, MADV_COLD, MADV_COLD,
		MADV_PAGEOUT, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_READ,
		MADV_POPULATE_WRITE, MADV_POPULATE_WRITE, MADV_WILLNEED,
		MADV_COLLAPSE, MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK,
		MADV_KEEPONFORK, MADV_DONTNEED_LOCKED, MADV_GUARD_INSTALL,
		MADV_GUARD_INSTALL, MADV_GUARD_REMOVE,
	};

	op->kind = K_MADVISE;
	op->addr = gen_addr(g);
	op->len = gen_len(g, op->addr);
	op->advice = advices[rnd(g, sizeof(advices) / sizeof(advices[0]))];
}

/* A write or read where the acting side's VMAs allow it; else a read of nothing. */
static void gen_access(struct gen *g, struct op *op, const char *text, bool write)
{
	op->kind = write ? K_WRITE : K_READ;
	for (int i = 0; i < 8; i++) {
		op->addr = gen_addr(g);
		if (write && chance(g, 70))
			op->len = 1 + rnd(g, 3 * P);
		else
			op->len = chance(g, 50) ? P * (1 + rnd(g, 16)) : gen_len(g, op->addr);
		if (op->len > WMAX)
			op->len = WMAX;
		if (op->addr + op->len > win + WIN)
			op->len = win + WIN - op->addr;
		if (text && range_allows(text, op->addr, op->len, write ? 1 : 0, write ? 'w' : 'r'))
			return;
	}
	op->kind = K_READ;
	op->len = 0;
}

static void gen_op(struct gen *g, struct seq *s, struct op *op, int index)
{
	unsigned r = rnd(g, 100);

	memset(op, 0, sizeof(*op));
	op->who = s->mm[1] && chance(g, 50);
	gen_learn(g, s->host_text[op->who]);
	if (index < 2) {
		gen_mmap(g, op);
		op->prot = PROT_READ | PROT_WRITE;
		return;
	}
	if (index == 2) {
		op->kind = K_MADVISE;
		op->addr = win + rnd(g, WIN / H) * H;
		op->len = H * (1 + rnd(g, 4));
		op->advice = MADV_HUGEPAGE;
		if (op->addr + op->len > win + WIN)
			op->len = win + WIN - op->addr;
		return;
	}
	if (r < 10)
		gen_mmap(g, op);
	else if (r < 15) {
		op->kind = K_MUNMAP;
		op->addr = gen_addr(g);
		op->len = gen_len(g, op->addr);
	} else if (r < 24) {
		static const int prots[] = {
			PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
			PROT_READ | PROT_EXEC,
		};
		op->kind = K_MPROTECT;
		op->addr = gen_addr(g);
		op->len = gen_len(g, op->addr);
		op->prot = prots[rnd(g, sizeof(prots) / sizeof(prots[0]))];
	} else if (r < 31) {
		gen_mremap(g, op);
	} else if (r < 58) {
		gen_madvise(g, op);
	} else if (r < 64) {
		op->addr = gen_addr(g);
		op->len = gen_len(g, op->addr);
		op->kind = chance(g, 40) ? K_MUNLOCK : chance(g, 60) ? K_MLOCK : K_MLOCK2;
		if (op->kind == K_MLOCK2)
			op->flags = MLOCK_ONFAULT;
	} else if (r < 64) {
		gen_madvise(g, op);
	} else if (r < 84) {
		gen_access(g, op, s->host_text[op->who], true);
	} else if (r < 91) {
		gen_access(g, op, s->host_text[op->who], false);
	} else if (r < 93) {
		op->kind = K_CLEAR_REFS;
		op->flags = chance(g, 50) ? 1 : 2;
	} else if (r < 96) {
		op->kind = K_CONTENTS;
		op->who = 0;
	} else if (r < 98 && s->mm[1]) {
		op->kind = K_EXIT;
		op->who = 0;
	} else {
		gen_madvise(g, op);
	}
}

/* ---- sequences ---- */

static void seq_cleanup(struct seq *s)
{
	host_child_exit(s);
	CHECK_EQ(syscall(SYS_munmap, win, WIN), 0);
	umm_mm_destroy(s->mm[1]);
	umm_mm_destroy(s->mm[0]);
	s->mm[0] = s->mm[1] = NULL;
	for (int i = 0; i < 2; i++) {
		free(s->host_text[i]);
		s->host_text[i] = NULL;
	}
}

/* Return: true when both sides agreed throughout (or the host was noisy). */
static bool seq_run(struct seq *s, uint64_t seed, bool verbose)
{
	struct gen g = { .rng = seed * 0x9e3779b97f4a7c15ull + 0x5a5a };
	int n, fork_at;

	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->verbose = verbose;
	s->noise0 = host_noise();
	s->mm[0] = umm_mm_create(&opts);
	CHECK(s->mm[0]);
	for (int i = 0; i < 4; i++)
		xrand(&g.rng);
	n = 30 + (int)rnd(&g, 40);
	fork_at = chance(&g, 75) ? 4 + (int)rnd(&g, (uint64_t)n - 8) : -1;
	for (int i = 0; i < n && !s->failed; i++) {
		struct op op;

		if (i == fork_at) {
			memset(&op, 0, sizeof(op));
			op.kind = K_FORK;
		} else {
			gen_op(&g, s, &op, i);
		}
		seq_step(s, &op);
	}
	if (!s->failed) {
		struct op op = { .kind = K_CONTENTS };

		seq_step(s, &op);
	}
	if (s->failed && s->inconclusive)
		printf("     note: sequence %llu inconclusive at op %d: %s\n",
		       (unsigned long long)seed, s->nops - 1, s->why);
	else if (s->failed)
		seq_report(s);
	seq_cleanup(s);
	return !s->failed || s->inconclusive;
}

/*
 * The frame of the host's zero page: a THP with one page written, of which
 * MADV_FREE of another page splits the folio and maps the zero page where
 * nothing was written. 0 when the host gave no THP.
 */
static uint64_t find_host_zero_pfn(void)
{
	uint64_t e = 0;
	char *p = (char *)(uintptr_t)win;

	if (syscall(SYS_mmap, win, H, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (long)win)
		return 0;
	syscall(SYS_madvise, win, H, MADV_HUGEPAGE);
	p[H / 2] = 1;
	drain_host_lazyfree();
	syscall(SYS_madvise, win + P, P, MADV_FREE);
	{
		static uint64_t pm[NPG];

		host_pagemap(0, pm);
		if ((pm[2] & (1ull << 63)) && !(pm[2] & (1ull << 56)))
			e = pm[2] & ((1ull << 55) - 1);
	}
	syscall(SYS_munmap, win, H);
	return e;
}

static bool window_free(uint64_t a)
{
	char *text;
	bool free_ = true;

	win = a;
	text = host_smaps(0);
	free_ = !*text;
	free(text);
	return free_ && syscall(SYS_mmap, a - H, WIN + 2 * H, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == (long)(a - H) &&
	       !syscall(SYS_munmap, a - H, WIN + 2 * H);
}

static void test_random(void)
{
	static struct seq s;
	unsigned long n = strtoul(getenv("UMM_SMAPS_SEQUENCES") ?: "24", NULL, 0);
	unsigned long failed = 0, noisy = 0;
	double t0 = now_sec();

	for (unsigned long seed = 0; seed < n; seed++) {
		bool ok = seq_run(&s, seed, false);

		failed += !ok;
		noisy += s.inconclusive;
	}
	printf("smaps_diff: %lu sequences, %lu failed, %lu inconclusive (host noise), "
	       "%lu Referenced notes, %lu advice settled, %.1f s\n", n, failed, noisy,
	       ref_notes, settle_notes, now_sec() - t0);
	CHECK_EQ(failed, 0);
}

int main(void)
{
	static const uint64_t candidates[] = {
		0x300000000000ull, 0x310000000000ull, 0x320000000000ull, 0x200000000000ull,
	};
	const char *replay = getenv("UMM_SMAPS_SEED");
	bool found = false;

	setenv("UMM_KHUGEPAGED", "0", 0);
	/* the host's smaps walks this whole process: keep umm's pool small */
	setenv("UMM_PREZERO", "0", 0);
	for (unsigned i = 0; !found && i < sizeof(candidates) / sizeof(candidates[0]); i++)
		found = window_free(candidates[i]);
	if (!found) {
		fprintf(stderr, "test_smaps_diff: no free window\n");
		return 1;
	}
	opts.flags = host_maps_zero_page() ? 0 : UMM_NO_ZERO_PAGE;
	host_zero_pfn = find_host_zero_pfn();
	if (replay && *replay) {
		static struct seq s;
		bool ok = seq_run(&s, strtoull(replay, NULL, 0), true);

		printf("smaps_diff: sequence %s %s\n", replay,
		       ok ? (s.inconclusive ? "inconclusive" : "agrees") : "FAILED");
		return ok ? 0 : 1;
	}
	RUN(test_random);
	return test_done();
}
