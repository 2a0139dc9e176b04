// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_file_diff - differential tests of file mappings against the host
 * kernel, as test_diff is for anonymous memory.
 *
 * The same calls run as real system calls inside a reserved window of this
 * process and as umm_* calls at the same addresses of one umm address
 * space, on files under /tmp (ext4 here, so 2 MiB placement and hole
 * punching are the host's): return values and errnos, the maps lines of
 * the window byte for byte, the bytes read through every mapping (host:
 * memcpy under a SIGBUS/SIGSEGV handler and process_vm_readv; umm:
 * umm_fault then umm_read), and the file contents after msync and after
 * the umm file's last reference. Where either side writes to a file, each
 * side has its own copy of it ("twins"), so its writes are judged alone;
 * maps lines then show the host twin's inode and path on the umm side too.
 * A random sequence test mixes mmap, munmap, mprotect, mremap, madvise,
 * msync, truncation and writes, comparing after every call (smaps and
 * mincore too).
 * UMM_FILE_DIFF_SEQUENCES sets how many random sequences run (default 150).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <umm/umm.h>
#include "test.h"
#include "page_alloc.h"
/* test_proc.h's side-by-side calls take an mm; this file's take what is done */
#define both_madvise proc_both_madvise
#define both_mprotect proc_both_mprotect
#define both_munmap proc_both_munmap
#include "test_proc.h"
#include "uapi_mman.h"
#undef both_madvise
#undef both_mprotect
#undef both_munmap

#define PG		4096ULL
#define MIB		(1ULL << 20)
#define PMD		(2 * MIB)
#define SLOT		(16 * MIB)	/* each test works in its own slots */
#define NSLOTS		32
#define WIN_SIZE	(NSLOTS * SLOT)
#define FILE_PAGES	8ULL
#define FILE_TAIL	1234ULL
#define FILE_SIZE	(FILE_PAGES * PG + FILE_TAIL)	/* 9 pages, the last partial */
#define R		PROT_READ
#define RW		(PROT_READ | PROT_WRITE)

static uint64_t win;
static struct umm_mm *umm;

static uint64_t at(unsigned slot)
{
	return win + slot * SLOT;
}

/* ---- formatting ------------------------------------------------------ */

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	static char bufs[8][256];
	static unsigned i;
	char *b = bufs[i++ % 8];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, 256, f, ap);
	va_end(ap);
	return b;
}

static const char *ret_name(int64_t v)
{
	const char *n = v < 0 && v >= -4095 ? strerrorname_np((int)-v) : NULL;

	if (n)
		return fmt("-%s", n);
	return fmt("%#llx", (unsigned long long)v);
}

/* One comparison of the two sides' answers, with what was asked. */
static bool same(const char *what, int64_t h, int64_t u)
{
	if (h != u)
		fprintf(stderr, "  %s: host %s, umm %s\n", what, ret_name(h), ret_name(u));
	CHECK_EQ(h, u);
	return h == u;
}

/* ---- files ----------------------------------------------------------- */

/* Byte @o of a file made by make_file(): distinct per page and per seed. */
static uint8_t pattern(uint64_t o, unsigned seed)
{
	return (uint8_t)((o >> 12) * 37 + (o & 0xfff) * 7 + seed * 101 + 1);
}

static int make_file(char *path, uint64_t size, unsigned seed)
{
	static uint8_t buf[PG];
	int fd;

	strcpy(path, "/tmp/umm_file_diff_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0) {
		perror("test_file_diff: mkstemp");
		exit(2);
	}
	for (uint64_t o = 0; o < size; o += PG) {
		size_t n = size - o < PG ? size - o : PG;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(o + i, seed);
		CHECK_EQ(pwrite(fd, buf, n, (off_t)o), (ssize_t)n);
	}
	return fd;
}

/*
 * One file as the two sides see it: the host side maps hpath through its
 * descriptors, umm maps upath through umm files made from its own. Twins
 * are two files of the same contents; otherwise both sides use one.
 */
struct side {
	char hpath[64], upath[64];
	int hrw, hro, hwo;		/* host side: O_RDWR, O_RDONLY, O_WRONLY */
	int ufd;			/* umm side: its file, for pread */
	struct umm_file *urw, *uro, *uwo;
	ino_t hino, uino;
	bool twin, memfd;
};

/* The side whose umm lines are shown with the host's inode and path. */
static const struct side *alias;

static void side_umm_files(struct side *s)
{
	int ro = open(s->upath, O_RDONLY | O_CLOEXEC), wo = open(s->upath, O_WRONLY | O_CLOEXEC);
	struct stat st;

	s->urw = umm_file_from_fd(s->ufd, O_RDWR);
	s->uro = umm_file_from_fd(ro, O_RDONLY);
	s->uwo = umm_file_from_fd(wo, O_WRONLY);
	CHECK(s->urw && s->uro && s->uwo);
	close(ro);	/* umm keeps its own opens */
	close(wo);
	fstat(s->ufd, &st);
	s->uino = st.st_ino;
}

static void side_open(struct side *s, bool twin, uint64_t size, unsigned seed)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->twin = twin;
	s->hrw = make_file(s->hpath, size, seed);
	s->hro = open(s->hpath, O_RDONLY | O_CLOEXEC);
	s->hwo = open(s->hpath, O_WRONLY | O_CLOEXEC);
	CHECK(s->hro >= 0 && s->hwo >= 0);
	fstat(s->hrw, &st);
	s->hino = st.st_ino;
	if (twin) {
		s->ufd = make_file(s->upath, size, seed);
		alias = s;
	} else {
		strcpy(s->upath, s->hpath);
		s->ufd = dup(s->hrw);
	}
	side_umm_files(s);
}

/* A memory file on both sides: memfd_create and umm_file_create. */
static void side_memfd(struct side *s, const char *name, uint64_t size)
{
	memset(s, 0, sizeof(*s));
	s->memfd = true;
	s->hrw = memfd_create(name, MFD_CLOEXEC);
	CHECK(s->hrw >= 0);
	CHECK(!ftruncate(s->hrw, (off_t)size));
	s->hro = s->hwo = s->ufd = -1;
	s->urw = umm_file_create(name, size, 0);
	CHECK(s->urw != NULL);
}

static void side_put_umm(struct side *s)
{
	umm_file_put(s->urw);
	umm_file_put(s->uro);
	umm_file_put(s->uwo);
	s->urw = s->uro = s->uwo = NULL;
}

static void side_close(struct side *s)
{
	side_put_umm(s);
	close(s->hrw);
	if (!s->memfd) {
		close(s->hro);
		close(s->hwo);
		close(s->ufd);
		unlink(s->hpath);
		if (s->twin)
			unlink(s->upath);
	}
	if (alias == s)
		alias = NULL;
}

static uint8_t *file_read(int fd, uint64_t *size)
{
	struct stat st;
	uint8_t *buf;

	fstat(fd, &st);
	*size = (uint64_t)st.st_size;
	buf = malloc(*size + 1);
	CHECK_EQ(pread(fd, buf, *size, 0), (ssize_t)*size);
	return buf;
}

/*
 * A munmap that drops a file's last reference frees the VMA after an RCU
 * grace period, and the write-back with it (see test_writeback_at_munmap):
 * wait for that before reading the umm twin's file.
 */
static void settle(void)
{
	rcu_barrier();
}

/* The two twins' files hold the same bytes (the umm side's written back). */
static void same_files_now(const char *what, const struct side *s)
{
	uint64_t hs, us;
	uint8_t *h = file_read(s->hrw, &hs), *u = file_read(s->ufd, &us);

	if (same(fmt("%s: file size", what), (int64_t)hs, (int64_t)us)) {
		for (uint64_t i = 0; i < hs; i++) {
			if (h[i] != u[i]) {
				fprintf(stderr, "  %s: files differ first at %#llx: host %#x, umm %#x\n",
					what, (unsigned long long)i, h[i], u[i]);
				CHECK(h[i] == u[i]);
				break;
			}
		}
	}
	free(h);
	free(u);
}

static void same_files(const char *what, const struct side *s)
{
	settle();
	same_files_now(what, s);
}

/* The file still holds make_file(size, seed)'s bytes. */
static void file_is_pattern(const char *what, int fd, uint64_t size, unsigned seed)
{
	uint64_t n;
	uint8_t *b = file_read(fd, &n);

	CHECK_EQ(n, size);
	for (uint64_t i = 0; i < n && i < size; i++) {
		if (b[i] != pattern(i, seed)) {
			fprintf(stderr, "  %s: file changed at %#llx\n", what, (unsigned long long)i);
			CHECK(b[i] == pattern(i, seed));
			break;
		}
	}
	free(b);
}

/* ---- the two sides' calls --------------------------------------------- */

static int64_t sysret(long r)
{
	return r == -1 ? -errno : r;
}

static int64_t h_mmap(uint64_t a, uint64_t len, int prot, int flags, int fd, uint64_t off)
{
	return sysret(syscall(SYS_mmap, a, len, (long)prot, (long)flags, (long)fd, off));
}

static int hfd(const struct side *s, int acc)
{
	return acc == O_RDONLY ? s->hro : acc == O_WRONLY ? s->hwo : s->hrw;
}

static struct umm_file *ufile(const struct side *s, int acc)
{
	return acc == O_RDONLY ? s->uro : acc == O_WRONLY ? s->uwo : s->urw;
}

/* mmap on both sides at a place that must come out the same. */
static int64_t both_mmap(const char *what, uint64_t a, uint64_t len, int prot, int flags,
			 const struct side *s, int acc, uint64_t off)
{
	int64_t h = h_mmap(a, len, prot, flags, hfd(s, acc), off);
	int64_t u = umm_mmap(umm, a, len, prot, flags, ufile(s, acc), off);

	same(fmt("%s: mmap(%#llx, %#llx, %#x, %#x, off %#llx)", what,
		 (unsigned long long)(a - win), (unsigned long long)len, prot, flags,
		 (unsigned long long)off), h, u);
	return h;
}

static int64_t both_munmap(const char *what, uint64_t a, uint64_t len)
{
	int64_t h = sysret(syscall(SYS_munmap, a, len)), u = umm_munmap(umm, a, len);

	same(fmt("%s: munmap(+%#llx, %#llx)", what, (unsigned long long)(a - win),
		 (unsigned long long)len), h, u);
	return h;
}

static int64_t both_mprotect(const char *what, uint64_t a, uint64_t len, int prot)
{
	int64_t h = sysret(syscall(SYS_mprotect, a, len, (long)prot));
	int64_t u = umm_mprotect(umm, a, len, prot);

	same(fmt("%s: mprotect(+%#llx, %#llx, %#x)", what, (unsigned long long)(a - win),
		 (unsigned long long)len, prot), h, u);
	return h;
}

static int64_t both_mremap(const char *what, uint64_t a, uint64_t len, uint64_t nlen,
			   int flags, uint64_t na)
{
	int64_t h = sysret(syscall(SYS_mremap, a, len, nlen, (long)flags, na));
	int64_t u = umm_mremap(umm, a, len, nlen, flags, na);

	same(fmt("%s: mremap(+%#llx, %#llx, %#llx, %#x, +%#llx)", what,
		 (unsigned long long)(a - win), (unsigned long long)len,
		 (unsigned long long)nlen, flags, (unsigned long long)(na - win)), h, u);
	return h;
}

static int64_t both_madvise(const char *what, uint64_t a, uint64_t len, int advice)
{
	int64_t h = sysret(syscall(SYS_madvise, a, len, (long)advice));
	int64_t u = umm_madvise(umm, a, len, advice);

	same(fmt("%s: madvise(+%#llx, %#llx, %d)", what, (unsigned long long)(a - win),
		 (unsigned long long)len, advice), h, u);
	return h;
}

static int64_t both_msync(const char *what, uint64_t a, uint64_t len, int flags)
{
	int64_t h = sysret(syscall(SYS_msync, a, len, (long)flags));
	int64_t u = umm_msync(umm, a, len, flags);

	same(fmt("%s: msync(+%#llx, %#llx, %#x)", what, (unsigned long long)(a - win),
		 (unsigned long long)len, flags), h, u);
	return h;
}

static int64_t both_truncate(const char *what, const struct side *s, uint64_t size)
{
	int64_t h = ftruncate(s->hrw, (off_t)size) ? -errno : 0;
	int64_t u = umm_file_truncate(s->urw, size);

	same(fmt("%s: truncate(%#llx)", what, (unsigned long long)size), h, u);
	return h;
}

/* Empty the window on both sides. */
static void window_clear(void)
{
	CHECK_EQ(syscall(SYS_munmap, win, WIN_SIZE), 0);
	CHECK_EQ(umm_munmap(umm, win, WIN_SIZE), 0);
}

/* ---- memory through the mappings ------------------------------------- */

static sigjmp_buf probe_jb;
static volatile sig_atomic_t probe_sig;

static void probe_handler(int sig)
{
	probe_sig = sig;
	siglongjmp(probe_jb, 1);
}

/*
 * Copy to or from the host's own mapping as a program would: 0, or -EIO
 * for SIGBUS and -EFAULT for SIGSEGV, as umm_fault answers. The handlers
 * are ours only while copying, so a sanitizer's stay in charge otherwise.
 */
static int host_copy(uint64_t addr, void *buf, size_t len, bool write)
{
	struct sigaction sa = { .sa_handler = probe_handler }, old_bus, old_segv;
	volatile int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	if (sigsetjmp(probe_jb, 1)) {
		ret = probe_sig == SIGBUS ? -EIO : -EFAULT;
	} else if (write) {
		for (size_t i = 0; i < len; i++)
			((volatile uint8_t *)(uintptr_t)addr)[i] = ((uint8_t *)buf)[i];
	} else {
		for (size_t i = 0; i < len; i++)
			((uint8_t *)buf)[i] = ((volatile uint8_t *)(uintptr_t)addr)[i];
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return ret;
}

static int64_t host_vm_read(uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };

	return sysret(process_vm_readv(getpid(), &l, 1, &r, 1, 0));
}

static void same_bytes(const char *what, uint64_t addr, const uint8_t *h,
		       const uint8_t *u, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (h[i] != u[i]) {
			fprintf(stderr, "  %s: bytes differ at +%#llx: host %#x, umm %#x\n",
				what, (unsigned long long)(addr - win + i), h[i], u[i]);
			CHECK(h[i] == u[i]);
			return;
		}
	}
}

/*
 * Every page touching [addr, addr + len): the answer to a read access as
 * the CPU makes it (host: SIGBUS/SIGSEGV; umm_fault), then the page as
 * process_vm_readv and umm_read copy it, and its bytes; then the whole
 * range in one copy (both stop short at the first page they cannot read).
 */
static void same_memory(const char *what, uint64_t addr, uint64_t len)
{
	static uint8_t hb[PG], hv[PG], ub[PG];
	uint8_t *hr, *ur;
	int64_t hn, un;

	for (uint64_t p = addr & ~(PG - 1); p < addr + len; p += PG) {
		const char *where = fmt("%s: +%#llx", what, (unsigned long long)(p - win));
		int hs = host_copy(p, hb, PG, false), us = umm_fault(umm, p, UMM_READ);

		same(fmt("%s: read access", where), hs, us);
		hn = host_vm_read(p, hv, PG);
		un = umm_read(umm, p, ub, PG);
		same(fmt("%s: read", where), hn, un);
		if (!hs && hn == (int64_t)PG)
			CHECK(!memcmp(hb, hv, PG));	/* the host agrees with itself */
		if (hn == (int64_t)PG && un == (int64_t)PG)
			same_bytes(where, p, hv, ub, PG);
	}
	hr = malloc(len);
	ur = malloc(len);
	hn = host_vm_read(addr, hr, len);
	un = umm_read(umm, addr, ur, len);
	if (same(fmt("%s: read(+%#llx, %#llx)", what, (unsigned long long)(addr - win),
		     (unsigned long long)len), hn, un) && hn > 0)
		same_bytes(what, addr, hr, ur, (size_t)hn);
	free(hr);
	free(ur);
}

/* Write @len bytes of a pattern at @addr (inside one page) on both sides. */
static int same_write(const char *what, uint64_t addr, size_t len, unsigned seed)
{
	static uint8_t buf[PG];
	int hs, us;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 13 + i * 3 + 0x55);
	hs = host_copy(addr, buf, len, true);
	us = umm_fault(umm, addr, UMM_WRITE);
	same(fmt("%s: write access at +%#llx", what, (unsigned long long)(addr - win)), hs, us);
	if (!us)
		CHECK_EQ(umm_write(umm, addr, buf, len), (int64_t)len);
	return hs;
}

/* Fill whole pages [addr, addr + n pages) on both sides. */
static void same_write_pages(const char *what, uint64_t addr, uint64_t n, unsigned seed)
{
	for (uint64_t i = 0; i < n; i++)
		same_write(what, addr + i * PG, PG, seed + (unsigned)i);
}

/* ---- maps ------------------------------------------------------------- */

static bool mask_memfd_inode;	/* memfd inodes number a host-wide counter */

/*
 * One maps line as the kernel prints it, with the umm twin's inode and
 * path replaced by the host twin's, or a memfd's inode blanked.
 */
static void line_canon(char *line, size_t size, bool umm_side)
{
	unsigned long long s, e, off;
	unsigned long ino;
	unsigned maj, min;
	char perms[8], path[300];
	bool changed = false;
	int n = 0, k;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %lu %n", &s, &e, perms, &off, &maj, &min,
		   &ino, &n) < 7 || !n)
		return;
	snprintf(path, sizeof(path), "%s", line + n);
	path[strcspn(path, "\n")] = 0;
	if (umm_side && alias && ino == alias->uino && !strcmp(path, alias->upath)) {
		ino = alias->hino;
		snprintf(path, sizeof(path), "%s", alias->hpath);
		changed = true;
	}
	if (mask_memfd_inode && !strncmp(path, "/memfd:", 7)) {
		ino = 0;
		changed = true;
	}
	if (!changed)
		return;		/* compared as printed */
	/* the kernel pads the header to 72 columns, then one space */
	k = snprintf(line, size, "%08llx-%08llx %s %08llx %02x:%02x %lu ", s, e, perms, off,
		     maj, min, ino);
	if (*path)
		snprintf(line + k, size - (size_t)k, "%*s%s", k < 72 ? 73 - k : 1, "", path);
	strncat(line, "\n", size - strlen(line) - 1);
}

/* The lines overlapping the window (umm: every line, to catch leaks). */
static char *maps_filter(const char *raw, bool umm_side)
{
	char *out = NULL, line[512];
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	for (const char *p = raw; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
		unsigned long long s, e;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = 0;
		p += len;
		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		if (umm_side || (s < win + WIN_SIZE && e > win)) {
			line_canon(line, sizeof(line), umm_side);
			fputs(line, f);
		}
	}
	fclose(f);
	return out;
}

static char *host_maps_raw(void)
{
	size_t size = 1 << 16, n = 0;
	char *raw = malloc(size);
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	while ((r = read(fd, raw + n, size - n - 1)) > 0) {
		n += (size_t)r;
		if (n + 1 == size)
			raw = realloc(raw, size *= 2);
	}
	close(fd);
	raw[n] = 0;
	return raw;
}

static char *umm_maps_raw(void)
{
	char *raw = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&raw, &size);

	CHECK_EQ(umm_maps(umm, f), 0);
	fclose(f);
	return raw;
}

static void print_listing(const char *title, const char *text)
{
	fprintf(stderr, "  %s:%s\n", title, *text ? "" : " (none)");
	for (const char *p = text; *p;) {
		int len = (int)strcspn(p, "\n");

		fprintf(stderr, "    %.*s\n", len, p);
		p += len + (p[len] ? 1 : 0);
	}
}

/* The window's maps lines, byte for byte. */
static bool same_maps(const char *what)
{
	char *hr = host_maps_raw(), *ur = umm_maps_raw();
	char *h = maps_filter(hr, false), *u = maps_filter(ur, true);
	bool ok = !strcmp(h, u);

	if (!ok) {
		fprintf(stderr, "  %s: maps differ\n", what);
		print_listing("host", h);
		print_listing("umm", u);
	}
	CHECK(ok);
	free(hr);
	free(ur);
	free(h);
	free(u);
	return ok;
}

/* The line of the VMA starting at @start, from its permissions on. */
static char *line_tail(const char *raw, uint64_t start, bool umm_side)
{
	char want[40], line[512], *out = NULL;
	int n = snprintf(want, sizeof(want), "%08llx-", (unsigned long long)start);

	for (const char *p = raw; *p;) {
		size_t len = strcspn(p, "\n");

		if (!strncmp(p, want, (size_t)n) && len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\n';
			line[len + 1] = 0;
			line_canon(line, sizeof(line), umm_side);
			out = strdup(strchr(line, ' ') + 1);
			break;
		}
		p += len + (p[len] ? 1 : 0);
	}
	return out ? out : strdup("(no such VMA)\n");
}

/*
 * Mappings placed by each side outside the window: the same line from
 * the permissions on (the addresses differ).
 */
static void same_placed_line(const char *what, uint64_t h, uint64_t u)
{
	char *hr = host_maps_raw(), *ur = umm_maps_raw();
	char *hl = line_tail(hr, h, false), *ul = line_tail(ur, u, true);

	if (strcmp(hl, ul))
		fprintf(stderr, "  %s: placed lines differ:\n    host %s    umm  %s", what, hl, ul);
	CHECK(!strcmp(hl, ul));
	free(hr);
	free(ur);
	free(hl);
	free(ul);
}

/* ---- frames ------------------------------------------------------------ */

static struct page_alloc_stats frames_before;

static void frames_begin(void)
{
	rcu_barrier();
	page_alloc_get_stats(&frames_before);
}

/* Every test ends with its files put and the window empty: nothing held. */
static void frames_end(void)
{
	struct page_alloc_stats after;

	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, frames_before.in_use_pages);
}

/* ---- the tests ---------------------------------------------------------- */

/* mmap's answers for files: rights against the open mode, flags, offsets. */
static void test_mmap_checks(void)
{
	static const struct {
		const char *name;
		uint64_t len;
		int prot, flags, acc;
		uint64_t off;
	} c[] = {
		{ "shared rw, O_RDWR", 3 * PG, RW, MAP_SHARED, O_RDWR, 0 },
		{ "shared rw, O_RDONLY", 3 * PG, RW, MAP_SHARED, O_RDONLY, 0 },
		{ "shared w, O_RDONLY", 3 * PG, PROT_WRITE, MAP_SHARED, O_RDONLY, 0 },
		{ "shared r, O_RDONLY", 3 * PG, R, MAP_SHARED, O_RDONLY, PG },
		{ "shared rx, O_RDONLY", 3 * PG, R | PROT_EXEC, MAP_SHARED, O_RDONLY, PG },
		{ "shared none, O_RDONLY", 3 * PG, PROT_NONE, MAP_SHARED, O_RDONLY, 0 },
		{ "validate r, O_RDONLY", 2 * PG, R, MAP_SHARED_VALIDATE, O_RDONLY, 0 },
		{ "validate rw, O_RDONLY", 2 * PG, RW, MAP_SHARED_VALIDATE, O_RDONLY, 0 },
		{ "validate rw, O_RDWR", 2 * PG, RW, MAP_SHARED_VALIDATE, O_RDWR, 0 },
		{ "private rw, O_RDONLY", 3 * PG, RW, MAP_PRIVATE, O_RDONLY, 0 },
		{ "private rwx, O_RDONLY", 3 * PG, RW | PROT_EXEC, MAP_PRIVATE, O_RDONLY, 0 },
		{ "private r, O_WRONLY", PG, R, MAP_PRIVATE, O_WRONLY, 0 },
		{ "shared r, O_WRONLY", PG, R, MAP_SHARED, O_WRONLY, 0 },
		{ "shared none, O_WRONLY", PG, PROT_NONE, MAP_SHARED, O_WRONLY, 0 },
		{ "offset not aligned", PG, R, MAP_PRIVATE, O_RDWR, 100 },
		{ "offset one page less one", PG, R, MAP_PRIVATE, O_RDWR, PG - 1 },
		{ "growsdown private", PG, R, MAP_PRIVATE | MAP_GROWSDOWN, O_RDWR, 0 },
		{ "growsdown shared", PG, R, MAP_SHARED | MAP_GROWSDOWN, O_RDWR, 0 },
		{ "validate + 0x200000", PG, R, MAP_SHARED_VALIDATE | 0x200000, O_RDWR, 0 },
		{ "validate + 0x1000000", PG, R, MAP_SHARED_VALIDATE | 0x1000000, O_RDWR, 0 },
		{ "validate + noreplace", PG, R, MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE,
		  O_RDWR, 0 },
		{ "validate + bit 31", PG, R, MAP_SHARED_VALIDATE | (int)0x80000000u, O_RDWR, 0 },
		{ "shared + 0x200000 (ignored)", PG, R, MAP_SHARED | 0x200000, O_RDWR, 0 },
		{ "offset near 2^63", 2 * PG, R, MAP_PRIVATE, O_RDWR, 0x7ffffffffffff000ULL },
		{ "offset ending at 2^63", 2 * PG, R, MAP_PRIVATE, O_RDWR, 0x7fffffffffffd000ULL },
		{ "offset ending 1 page past 2^63", 2 * PG, R, MAP_PRIVATE, O_RDWR,
		  0x7fffffffffffe000ULL },
		{ "negative offset", 2 * PG, R, MAP_SHARED, O_RDWR, 0xfffffffffffff000ULL },
		{ "offset 2^62", PG, R, MAP_SHARED, O_RDWR, 1ULL << 62 },
		{ "type 0", PG, R, 0, O_RDWR, 0 },
		{ "type 0xf", PG, R, 0xf, O_RDWR, 0 },
		{ "type 4", PG, R, 4, O_RDWR, 0 },
		{ "length 0", 0, R, MAP_PRIVATE, O_RDWR, 0 },
		{ "length wraps", ~0ULL, R, MAP_PRIVATE, O_RDWR, 0 },
		{ "length past task size", 1ULL << 48, R, MAP_PRIVATE, O_RDWR, 0 },
		{ "past end of file", 2 * PG, R, MAP_SHARED, O_RDWR, 100 * PG },
		{ "locked shared", 2 * PG, R, MAP_SHARED | MAP_LOCKED, O_RDWR, 0 },
		{ "populate private", 3 * PG, RW, MAP_PRIVATE | MAP_POPULATE, O_RDWR, 0 },
		{ "populate shared", 3 * PG, RW, MAP_SHARED | MAP_POPULATE, O_RDWR, 0 },
		{ "noreserve private", 3 * PG, RW, MAP_PRIVATE | MAP_NORESERVE, O_RDWR, 0 },
		{ "stack private", 3 * PG, RW, MAP_PRIVATE | MAP_STACK, O_RDWR, 0 },
		{ "hugetlb on a file", PMD, R, MAP_PRIVATE | MAP_HUGETLB, O_RDWR, 0 },
		{ "anonymous with a file", 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, O_RDWR, 0 },
		{ "exec only", PG, PROT_EXEC, MAP_PRIVATE, O_RDONLY, 0 },
	};
	uint64_t a = at(0);
	struct side s;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 1);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int64_t r = both_mmap(c[i].name, a, c[i].len, c[i].prot, c[i].flags | MAP_FIXED,
				      &s, c[i].acc, c[i].off);

		same_maps(c[i].name);
		if (r >= 0 && c[i].len <= 4 * PG && !(c[i].flags & MAP_ANONYMOUS))
			same_memory(c[i].name, a, c[i].len);
		window_clear();
	}
	/* MAP_FIXED_NOREPLACE over a mapping, and beside it */
	both_mmap("noreplace", a, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("noreplace over", a + PG, PG, R, MAP_SHARED | MAP_FIXED_NOREPLACE, &s, O_RDWR, 0);
	both_mmap("noreplace beside", a + 4 * PG, PG, R, MAP_SHARED | MAP_FIXED_NOREPLACE, &s,
		  O_RDWR, 4 * PG);
	both_mmap("fixed unaligned", a + 100, PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_maps("noreplace");
	window_clear();
	side_close(&s);
	frames_end();
}

/*
 * MAP_SYNC asks for DAX: a file system without it refuses the mapping
 * (ext4's mmap_prepare: EOPNOTSUPP), whatever the mapping type; memory
 * files do not look at it.
 */
static void test_map_sync(void)
{
	static const int types[] = { MAP_SHARED_VALIDATE, MAP_SHARED, MAP_PRIVATE };
	uint64_t a = at(0);
	struct side s, m;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 1);
	for (size_t i = 0; i < 3; i++) {
		both_mmap("MAP_SYNC, host file", a, PG, R, types[i] | MAP_SYNC | MAP_FIXED, &s,
			  O_RDWR, 0);
		same_maps("MAP_SYNC, host file");
		window_clear();
	}
	side_close(&s);
	mask_memfd_inode = true;
	side_memfd(&m, "umm_sync", FILE_SIZE);
	for (size_t i = 0; i < 3; i++) {
		both_mmap("MAP_SYNC, memfd", a, PG, R, types[i] | MAP_SYNC | MAP_FIXED, &m,
			  O_RDWR, 0);
		same_maps("MAP_SYNC, memfd");
		window_clear();
	}
	side_close(&m);
	mask_memfd_inode = false;
	frames_end();
}

/* mprotect's answers: a shared mapping of a read-only file never writes. */
static void test_mprotect_checks(void)
{
	uint64_t a = at(1);
	struct side s;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 2);
	both_mmap("ro shared", a, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, 0);
	both_mprotect("ro shared to rw", a, 4 * PG, RW);
	both_mprotect("ro shared to w", a + PG, PG, PROT_WRITE);
	both_mprotect("ro shared to rx", a, 2 * PG, R | PROT_EXEC);
	both_mprotect("ro shared to none", a + 3 * PG, PG, PROT_NONE);
	same_maps("ro shared");
	same_memory("ro shared", a, 4 * PG);
	both_mmap("ro private", a + 4 * PG, 4 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDONLY,
		  4 * PG);
	both_mprotect("ro private to rw", a + 4 * PG, 4 * PG, RW);
	same_write("ro private", a + 5 * PG + 10, 100, 1);
	/* across the private (changes) and then the shared (refused) one */
	both_mprotect("private then ro shared", a + 2 * PG, 6 * PG, RW);
	same_maps("ro private");
	same_memory("ro private", a, 8 * PG);
	both_mmap("rw shared", a + 8 * PG, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mprotect("rw shared to rw", a + 9 * PG, 2 * PG, RW);
	both_mprotect("rw shared to rwx", a + 8 * PG, PG, RW | PROT_EXEC);
	same_maps("rw shared");
	/* the shared mapping of the O_RDWR file is never written: one file serves both */
	same_memory("rw shared", a + 8 * PG, 4 * PG);
	window_clear();
	file_is_pattern("mprotect", s.hrw, FILE_SIZE, 2);
	side_close(&s);
	frames_end();
}

/* Maps lines: offsets, devices, inodes, paths, merges and splits. */
static void test_maps_lines(void)
{
	uint64_t a = at(2), b = at(3);
	struct side s;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 3);
	/* consecutive offsets of one file merge; a gap in the offsets does not */
	both_mmap("merge 1", a, 3 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("merge 2", a + 3 * PG, 2 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 3 * PG);
	both_mmap("offset gap", a + 5 * PG, 2 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 6 * PG);
	both_mmap("other file", a + 7 * PG, 2 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY,
		  9 * PG);
	both_mmap("below, far offset", a - 2 * PG, 2 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR,
		  0x1000000);
	same_maps("merges");
	same_memory("merges", a - 2 * PG, 11 * PG);
	both_mprotect("split", a + PG, 2 * PG, RW);
	both_munmap("hole", a + 4 * PG, PG);
	same_maps("splits");
	/* private ones, faulted (an anon_vma) and not, and their merges */
	both_mmap("private 1", b, 2 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 2 * PG);
	same_write("private 1", b + PG + 8, 8, 1);
	both_mmap("private 2", b + 2 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR,
		  4 * PG);
	both_mmap("private 3", b - 2 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	both_mprotect("private rejoin", b, 4 * PG, R);
	both_mprotect("private rejoin", b, 4 * PG, RW);
	same_maps("private merges");
	same_memory("private merges", b - 2 * PG, 6 * PG);
	/* a file mapping replaced in part by another of the same file */
	both_mmap("replace middle", a + PG, PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, PG);
	same_maps("replace");
	window_clear();
	side_close(&s);
	frames_end();
}

/*
 * Reading through mappings: whole pages, the zero tail of the last page,
 * SIGBUS past the end of the file, offsets past it, private and shared.
 */
static void test_contents(void)
{
	uint64_t a = at(4), b = at(5), c = at(6);
	struct side s;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 4);
	both_mmap("shared", a, 12 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, 0);
	both_mmap("private", b, 12 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 2 * PG);
	both_mmap("past eof", c, 2 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 9 * PG);
	both_mmap("far past eof", c + 2 * PG, 2 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR,
		  1000 * PG);
	same_maps("contents");
	/* from the end backwards too: faulting order must not matter */
	same_memory("shared tail first", a + 8 * PG, 4 * PG);
	same_memory("shared", a, 12 * PG);
	same_memory("private", b, 12 * PG);
	same_memory("past eof", c, 4 * PG);
	/* reads straddling the end of the file stop at the page that is not there */
	same_memory("straddle", a + 8 * PG + 1000, PG);
	same_memory("straddle 2", a + 7 * PG + 3000, 3 * PG);
	/* writing a read-only mapping is SIGSEGV, past the end of the file too */
	same_write("ro shared", a + PG, 8, 1);
	same_write("ro shared past eof", a + 10 * PG, 8, 1);
	same_write("ro private", b + PG, 8, 1);
	window_clear();
	side_close(&s);
	frames_end();
}

/* Private writes stay private: the file never sees them. */
static void test_private_writes(void)
{
	uint64_t a = at(7), b = at(8), c = at(9);
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 5);
	both_mmap("private rw", a, 12 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private ro-file", b, 4 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDONLY, 0);
	same_write("private", a + 10, 100, 1);
	same_write("private", a + 3 * PG + 4000, 96, 2);
	same_write("private partial page", a + 8 * PG + 100, 100, 3);
	same_write("private past eof page", a + 8 * PG + 3000, 100, 4);
	same_write("private beyond eof", a + 9 * PG, 8, 5);
	same_write("private ro-file", b + PG, PG, 6);
	same_memory("private", a, 12 * PG);
	same_memory("private ro-file", b, 4 * PG);
	same_maps("private writes");
	both_msync("private", a, 12 * PG, MS_SYNC);
	both_msync("private ro-file", b, 4 * PG, MS_SYNC | MS_INVALIDATE);
	file_is_pattern("host, private writes", s.hrw, FILE_SIZE, 5);
	file_is_pattern("umm, private writes", s.ufd, FILE_SIZE, 5);
	/*
	 * A shared writer: pages the private mapping never copied show the
	 * file's new bytes, copied ones keep their own.
	 */
	both_mmap("shared", c, 9 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_write("shared over a private copy", c + 20, 50, 7);
	same_write("shared over a clean page", c + 5 * PG + 20, 50, 8);
	same_memory("private after shared writes", a, 9 * PG);
	same_memory("shared", c, 9 * PG);
	/* MADV_DONTNEED drops the private copies: the file's bytes come back */
	both_madvise("dontneed private", a, 12 * PG, MADV_DONTNEED);
	same_memory("private after dontneed", a, 12 * PG);
	both_msync("shared", c, 9 * PG, MS_SYNC);
	window_clear();
	side_put_umm(&s);
	same_files("private writes", &s);
	side_close(&s);
	frames_end();
}

/*
 * Shared writes reach the file on msync(MS_SYNC), again after the page
 * was cleaned, and at the umm file's last put; bytes written past the end
 * of the file in its last page never do.
 */
static void test_shared_writes(void)
{
	uint64_t a = at(10), b = at(11);
	struct umm_mm *child = NULL;
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 6);
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("shared ro", b, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 2 * PG);
	for (unsigned i = 0; i < 8; i++)
		same_write("shared", a + i * PG + i * 100, 200 + i, 10 + i);
	same_write("shared last page", a + 8 * PG + 100, 200, 20);
	same_write("shared beyond eof", a + 9 * PG, 8, 22);
	same_write("shared ro", b, 8, 23);
	same_memory("shared", a, 12 * PG);
	same_memory("shared ro", b, 4 * PG);
	both_msync("shared", a, 12 * PG, MS_SYNC);
	same_files("after MS_SYNC", &s);
	/* cleaned by the writeback: the next write must dirty it again */
	same_write("shared again", a + 2 * PG + 1000, 300, 30);
	both_msync("shared again, part", a + 2 * PG, PG, MS_SYNC);
	same_files("after a second MS_SYNC", &s);
	/* written through a forked mm, synced through the parent */
	CHECK_EQ(umm_fork(umm, &child), 0);
	if (child) {
		uint8_t v[64];

		memset(v, 0x77, sizeof(v));
		CHECK(host_copy(a + 6 * PG + 64, v, sizeof(v), true) == 0);
		CHECK_EQ(umm_write(child, a + 6 * PG + 64, v, sizeof(v)), (int64_t)sizeof(v));
		both_msync("after the child wrote", a + 6 * PG, PG, MS_SYNC);
		same_files("child's write", &s);
		umm_mm_destroy(child);
	}
	same_memory("after the child", a, 9 * PG);
	/* MS_ASYNC, then the last reference writes it back */
	same_write("shared async", a + 5 * PG, PG, 40);
	both_msync("async", a, 12 * PG, MS_ASYNC);
	both_msync("invalidate", a, 12 * PG, MS_INVALIDATE);
	/* write-protected and back: still tracked */
	both_mprotect("shared ro", a + 7 * PG, PG, R);
	same_write("shared ro", a + 7 * PG, 8, 41);
	both_mprotect("shared rw", a + 7 * PG, PG, RW);
	same_write("shared rw again", a + 7 * PG + 8, 8, 42);
	window_clear();
	side_put_umm(&s);
	same_files("after the last put", &s);
	/* nothing reached past the end of the file */
	{
		struct stat st;

		fstat(s.ufd, &st);
		CHECK_EQ(st.st_size, FILE_SIZE);
	}
	side_close(&s);
	frames_end();
}

/*
 * The umm file's last reference writes back, whether it is the caller's
 * put or the munmap after it; on the host the bytes are in the file (its
 * page cache) as soon as the call returns, so they must be in umm's too.
 */
static void test_writeback_at_munmap(void)
{
	uint64_t a = at(12);
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 7);
	/* munmap first, then the put: the put is the last reference */
	both_mmap("shared", a, 9 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_write("shared", a + PG + 5, 500, 1);
	window_clear();
	side_put_umm(&s);
	same_files_now("munmap, then put", &s);
	settle();
	side_umm_files(&s);
	/* the put first; the mapping keeps the file until munmap */
	both_mmap("shared", a, 9 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_write("shared", a + 3 * PG + 5, 500, 2);
	side_put_umm(&s);
	same_memory("mapped after put", a, 9 * PG);
	same_write("shared after put", a + 4 * PG, 500, 3);
	window_clear();
	same_files_now("put, then munmap", &s);
	settle();
	same_files_now("put, then munmap, settled", &s);
	side_close(&s);
	frames_end();
}

/* msync's answers, in the kernel's order. */
static void test_msync_checks(void)
{
	uint64_t a = at(13), l = at(14);
	struct side s;
	static const struct {
		const char *name;
		uint64_t off, len;	/* from a */
		int flags;
	} c[] = {
		{ "whole", 0, 4 * PG, MS_SYNC },
		{ "unaligned start", 1, 4 * PG, MS_SYNC },
		{ "unaligned start, async", 100, PG, MS_ASYNC },
		{ "async|sync", 0, 4 * PG, MS_ASYNC | MS_SYNC },
		{ "async|sync|invalidate", 0, 4 * PG, MS_ASYNC | MS_SYNC | MS_INVALIDATE },
		{ "unknown flag 8", 0, 4 * PG, 8 },
		{ "unknown flag 0x10", 0, 4 * PG, MS_SYNC | 0x10 },
		{ "flags 0", 0, 4 * PG, 0 },
		{ "unaligned length", 0, 4 * PG - 100, MS_SYNC },
		{ "length 0", 0, 0, MS_SYNC },
		{ "length 0, unaligned", 5, 0, MS_SYNC },
		{ "hole in range, sync", 0, 10 * PG, MS_SYNC },
		{ "hole in range, async", 0, 10 * PG, MS_ASYNC },
		{ "hole in range, invalidate", 0, 10 * PG, MS_INVALIDATE },
		{ "hole in range, flags 0", 0, 10 * PG, 0 },
		{ "only the hole", 4 * PG, 2 * PG, MS_SYNC },
		{ "hole at the end", 0, 5 * PG, MS_SYNC },
		{ "hole at the start", 5 * PG, 3 * PG, MS_SYNC },
		{ "hole at the start, async", 5 * PG, 3 * PG, MS_ASYNC },
		{ "anonymous too", 6 * PG, 8 * PG, MS_SYNC },
		{ "anonymous and past it", 6 * PG, 12 * PG, MS_SYNC },
		{ "length wraps to 0", 0, ~0ULL, MS_SYNC },
		{ "length wraps past 2^64", 0, -2 * PG, MS_SYNC },
		{ "before the window", -16 * PG, 4 * PG, MS_SYNC },
		{ "none mapping", 12 * PG, PG, MS_SYNC },
	};

	frames_begin();
	side_open(&s, false, FILE_SIZE, 8);
	both_mmap("a", a, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("b", a + 6 * PG, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, PG);
	CHECK_EQ(h_mmap(a + 10 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		 (int64_t)(a + 10 * PG));
	CHECK_EQ(umm_mmap(umm, a + 10 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  NULL, 0), (int64_t)(a + 10 * PG));
	both_mmap("none", a + 12 * PG, PG, PROT_NONE, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_maps("msync layout");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		both_msync(c[i].name, a + c[i].off, c[i].len, c[i].flags);
	both_msync("past the task size", 1ULL << 47, PG, MS_SYNC);
	both_msync("wrapping start", -PG, PG, MS_SYNC);
	/* MS_INVALIDATE on a locked mapping */
	both_mmap("locked", l, 2 * PG, R, MAP_SHARED | MAP_LOCKED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("locked private", l + 4 * PG, 2 * PG, RW,
		  MAP_PRIVATE | MAP_LOCKED | MAP_FIXED, &s, O_RDWR, 0);
	same_maps("locked");
	both_msync("locked, sync", l, 2 * PG, MS_SYNC);
	both_msync("locked, invalidate", l, 2 * PG, MS_INVALIDATE);
	both_msync("locked, sync|invalidate", l, 2 * PG, MS_SYNC | MS_INVALIDATE);
	both_msync("locked private, invalidate", l + 4 * PG, PG, MS_INVALIDATE);
	/* a hole before the locked one: the hole is noted, EBUSY wins */
	both_msync("hole then locked", l - 2 * PG, 4 * PG, MS_INVALIDATE);
	both_msync("hole then locked, async", l - 2 * PG, 4 * PG, MS_INVALIDATE | MS_ASYNC);
	both_msync("locked, hole, locked", l, 6 * PG, MS_INVALIDATE);
	both_msync("a to locked", a, l + PG - a, MS_INVALIDATE);
	same_memory("locked", l, 2 * PG);
	window_clear();
	file_is_pattern("msync", s.hrw, FILE_SIZE, 8);
	side_close(&s);
	frames_end();
}

/*
 * Truncation reaches every mapping: pages past the new end SIGBUS (even
 * private copies), the last page's tail reads zero, re-extension reads
 * zeroes; a forked mm sees the same.
 */
static void test_truncate(void)
{
	uint64_t a = at(15), b = at(16);
	struct umm_mm *child = NULL;
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 9);
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private", b, 12 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	same_write_pages("shared", a, 8, 1);
	same_write("shared last", a + 8 * PG, 1000, 9);
	same_write("private copy 2", b + 2 * PG + 8, 8, 10);
	same_write("private copy 3", b + 3 * PG + 8, 8, 11);
	same_write("private copy 5", b + 5 * PG + 8, 8, 12);
	same_write("private copy 7", b + 7 * PG + 8, 8, 13);
	same_memory("before", a, 12 * PG);
	same_memory("before, private", b, 12 * PG);
	both_msync("before", a, 12 * PG, MS_SYNC);
	same_files("before truncation", &s);
	CHECK_EQ(umm_fork(umm, &child), 0);

	both_truncate("shrink", &s, 3 * PG + 100);
	same_maps("after shrink");
	same_memory("shared after shrink", a, 12 * PG);
	same_memory("private after shrink", b, 12 * PG);
	if (child) {
		/* the child's mappings went the same way */
		for (uint64_t p = 0; p < 12; p++) {
			CHECK_EQ(umm_fault(child, a + p * PG, UMM_READ),
				 umm_fault(umm, a + p * PG, UMM_READ));
			CHECK_EQ(umm_fault(child, b + p * PG, UMM_READ),
				 umm_fault(umm, b + p * PG, UMM_READ));
		}
	}
	same_write("shared past the end", a + 5 * PG, 8, 14);
	same_write("private past the end", b + 6 * PG, 8, 15);
	same_write("shared, last page", a + 3 * PG + 50, 20, 16);
	both_msync("after shrink", a, 12 * PG, MS_SYNC);
	same_files("after shrink", &s);

	both_truncate("extend", &s, 10 * PG);
	same_memory("shared after extend", a, 12 * PG);
	same_memory("private after extend", b, 12 * PG);
	if (child) {
		for (uint64_t p = 0; p < 12; p++)
			CHECK_EQ(umm_fault(child, a + p * PG, UMM_READ),
				 umm_fault(umm, a + p * PG, UMM_READ));
		umm_mm_destroy(child);
	}
	same_write("shared after extend", a + 6 * PG + 8, 8, 17);
	both_msync("after extend", a, 12 * PG, MS_SYNC);
	same_files("after extend", &s);

	both_truncate("to zero", &s, 0);
	same_memory("shared at zero", a, 12 * PG);
	same_memory("private at zero", b, 12 * PG);
	both_truncate("back", &s, FILE_SIZE);
	same_memory("shared back", a, 12 * PG);
	same_maps("after all");
	window_clear();
	side_put_umm(&s);
	same_files("end", &s);
	side_close(&s);
	frames_end();
}

/*
 * Bytes a shared mapping wrote past the end of the file in its last page
 * never reach the file; Linux's writeback zeroes them in the page as it
 * writes the page ("the remaining memory is zeroed when mapped, and
 * writes to that region are not written out"), so after an msync they
 * read zero, and an extension of the file shows zeroes there.
 */
static void test_eof_tail_write(void)
{
	uint64_t a = at(17);
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 10);
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_write("tail", a + 8 * PG + 2000, 100, 1);
	same_memory("tail written", a + 8 * PG, PG);
	both_msync("tail", a, 12 * PG, MS_SYNC);
	same_memory("tail after msync", a + 8 * PG, PG);
	both_truncate("extend", &s, 10 * PG);
	same_memory("after extend", a, 12 * PG);
	both_msync("after extend", a, 12 * PG, MS_SYNC);
	same_files("after extend", &s);
	window_clear();
	side_put_umm(&s);
	same_files("end", &s);
	side_close(&s);
	frames_end();
}

/*
 * The same without a writeback between the write and the extension:
 * ext4 zeroes the tail the extension exposes; tmpfs leaves it as written
 * (memory files must follow tmpfs, host files their file system).
 */
static void eof_tail_extend(bool memfd)
{
	uint64_t a = at(17);
	struct side s;

	frames_begin();
	mask_memfd_inode = memfd;
	if (memfd) {
		side_memfd(&s, "umm_tail", FILE_SIZE);
	} else {
		side_open(&s, true, FILE_SIZE, 10);
	}
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_write("tail", a + 8 * PG + 2000, 100, 1);
	same_memory("tail written", a + 8 * PG, PG);
	both_truncate("extend", &s, 10 * PG);
	same_memory("after extend", a, 12 * PG);
	both_msync("after extend", a, 12 * PG, MS_SYNC);
	window_clear();
	side_put_umm(&s);
	if (!memfd)
		same_files("end", &s);
	side_close(&s);
	mask_memfd_inode = false;
	frames_end();
}

static void test_eof_tail_write_extend(void)
{
	eof_tail_extend(false);
}

static void test_eof_tail_write_extend_memfd(void)
{
	eof_tail_extend(true);
}

/* Shared_Dirty + Private_Dirty (kB) of the VMA starting at @start in @text. */
static long vma_dirty_kb(const char *text, uint64_t start)
{
	char want[40];
	const char *p = text;
	long kb = 0;
	int n = snprintf(want, sizeof(want), "%llx-", (unsigned long long)start);
	bool in = false;

	while (*p) {
		size_t len = strcspn(p, "\n");
		long v;

		if (!strncmp(p, want, (size_t)n))
			in = true;
		else if (in && memchr(p, '-', len) && strchr(p, '-') < strchr(p, ' '))
			break;	/* the next VMA's header */
		else if (in && (sscanf(p, "Shared_Dirty: %ld", &v) == 1 ||
				sscanf(p, "Private_Dirty: %ld", &v) == 1))
			kb += v;
		p += len + (p[len] ? 1 : 0);
	}
	return kb;
}

/* The VMA at @addr counts as many dirty pages in both smaps. */
static void same_dirty(const char *what, uint64_t addr)
{
	char *h = NULL, *u = NULL, line[512];
	size_t hs = 0, us = 0;
	FILE *f = open_memstream(&h, &hs), *in = fopen("/proc/self/smaps", "r");

	CHECK(f && in);
	while (f && in && fgets(line, sizeof(line), in))
		fputs(line, f);
	if (in)
		fclose(in);
	fclose(f);
	f = open_memstream(&u, &us);
	CHECK(f && umm_smaps(umm, f) == 0);
	fclose(f);
	same(fmt("%s: dirty kB at +%#llx", what, (unsigned long long)(addr - win)),
	     vma_dirty_kb(h, addr), vma_dirty_kb(u, addr));
	free(h);
	free(u);
}

/*
 * ftruncate on ext4 zeroes the rest of the block holding the end of the
 * file (the new end, or the old one when growing) in the page cache,
 * even at the same size: bytes a mapping stored past the end go, and a
 * cached clean page over data becomes dirty (smaps), one over a hole
 * does not; an aligned end touches nothing.
 */
static void test_truncate_eof_block(void)
{
	uint64_t a = at(17);
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 14);
	CHECK(!fdatasync(s.hrw));
	both_mmap("shared", a, 24 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_memory("cached", a, 9 * PG);
	same_dirty("clean", a);
	/* the same size: what was stored past the end goes */
	same_write("past the end", a + 8 * PG + 2000, 100, 1);
	both_truncate("same size", &s, FILE_SIZE);
	same_memory("same size", a + 8 * PG, PG);
	both_msync("clean again", a, 24 * PG, MS_SYNC);
	same_dirty("synced", a);
	both_truncate("same size, clean", &s, FILE_SIZE);
	same_dirty("same size, clean", a);
	both_msync("clean again", a, 24 * PG, MS_SYNC);
	both_truncate("grow in the page", &s, 8 * PG + 3000);
	same_dirty("grow in the page", a);
	same_memory("grow in the page", a + 8 * PG, PG);
	both_msync("clean again", a, 24 * PG, MS_SYNC);
	both_truncate("shrink into page 5", &s, 5 * PG + 100);
	same_dirty("shrink into page 5", a);
	both_msync("clean again", a, 24 * PG, MS_SYNC);
	both_truncate("shrink aligned", &s, 4 * PG);
	same_dirty("shrink aligned", a);
	/* a hole: the end block has no data, nothing to dirty */
	both_truncate("grow over a hole", &s, 20 * PG + 100);
	same_memory("hole", a + 20 * PG, PG);
	same_dirty("hole cached", a);
	both_truncate("grow in the hole's page", &s, 20 * PG + 3000);
	same_dirty("grow in the hole's page", a);
	both_truncate("shrink in the hole's page", &s, 20 * PG + 50);
	same_dirty("shrink in the hole's page", a);
	same_memory("end", a, 24 * PG);
	both_msync("end", a, 24 * PG, MS_SYNC);
	same_files("end", &s);
	window_clear();
	side_put_umm(&s);
	same_files("after the put", &s);
	side_close(&s);
	frames_end();
}

/*
 * A read fault past the end of the file is SIGBUS, but the kernel faults
 * around before it looks for the page itself: the cached pages below the
 * end in the fault's 16-page window are mapped all the same (smaps' Rss),
 * and so by MADV_POPULATE_READ past the end (-EFAULT). The pages are
 * cached first through another mapping, on both sides. Memory files too.
 */
static void eof_fault_around(bool memfd)
{
	uint64_t a = at(10), b = at(11), c = at(12), d = at(13), e = at(14);
	struct side s;

	frames_begin();
	mask_memfd_inode = memfd;
	if (memfd) {
		side_memfd(&s, "umm_around", FILE_SIZE);
	} else {
		side_open(&s, true, FILE_SIZE, 35);
		CHECK(!fdatasync(s.hrw) && !fdatasync(s.ufd));	/* clean, as umm's */
	}
	both_mmap("cache it", d, 9 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	if (memfd)
		same_write_pages("cache it", d, 9, 1);
	else
		same_memory("cache it", d, 9 * PG);
	both_mmap("shared", a, 12 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private", b, 12 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private from page 4", c, 12 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR,
		  4 * PG);
	same_memory("shared, past the end", a + 10 * PG, PG);
	same_smaps_windows(a, umm, a, 4 * SLOT, "a read past the end");
	both_madvise("populate past the end", b + 9 * PG, 3 * PG, MADV_POPULATE_READ);
	same_smaps_windows(a, umm, a, 4 * SLOT, "populate past the end");
	same_memory("from page 4, past the end", c + 7 * PG, PG);
	same_smaps_windows(a, umm, a, 4 * SLOT, "a read past the end, from page 4");
	/*
	 * The window's first cached page is the file's last, and no PTE
	 * table is there yet: 6.18's filemap_map_pages makes the table only
	 * through filemap_map_pmd, which it skips for a folio that reaches
	 * the end of the file (no leaf across i_size), so nothing is
	 * mapped; tmpfs is exempt.
	 */
	both_mmap("from the last page", e, 4 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR,
		  8 * PG);
	same_memory("from the last page, past the end", e + 2 * PG, PG);
	same_smaps_windows(a, umm, a, 5 * SLOT, "a read past the end, from the last page");
	same_memory("from the last page, the last page", e, PG);
	same_smaps_windows(a, umm, a, 5 * SLOT, "the last page read");
	window_clear();
	side_close(&s);
	mask_memfd_inode = false;
	frames_end();
}

static void test_eof_fault_around(void)
{
	eof_fault_around(false);
}

static void test_eof_fault_around_memfd(void)
{
	eof_fault_around(true);
}

/*
 * tmpfs truncates its page cache from the new end whenever the size does
 * not grow, even to the same size: the page holding the end is zeroed
 * past it (what a shared mapping stored beyond the end goes) and marked
 * dirty, a page only read so far too (smaps); an aligned end or a grown
 * size touches nothing.
 */
static void test_truncate_eof_memfd(void)
{
	uint64_t a = at(17);
	struct side s;

	frames_begin();
	mask_memfd_inode = true;
	side_memfd(&s, "umm_eof", 3 * PG + 0x234);
	both_mmap("shared", a, 6 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_memory("read", a, 4 * PG);
	same_smaps_windows(a, umm, a, 6 * PG, "read: clean");
	same_write("past the end", a + 3 * PG + 0xf00, 16, 1);
	both_truncate("same size", &s, 3 * PG + 0x234);
	same_memory("same size", a + 3 * PG, PG);
	same_smaps_windows(a, umm, a, 6 * PG, "same size");
	both_truncate("shrink into a page only read", &s, 2 * PG + 0x100);
	same_memory("shrunk", a, 4 * PG);
	same_smaps_windows(a, umm, a, 6 * PG, "shrink into a page only read");
	both_truncate("grow", &s, 5 * PG);
	same_memory("grown", a, 6 * PG);
	same_smaps_windows(a, umm, a, 6 * PG, "grow");
	both_truncate("shrink aligned", &s, 2 * PG);
	same_smaps_windows(a, umm, a, 6 * PG, "shrink aligned");
	window_clear();
	side_close(&s);
	mask_memfd_inode = false;
	frames_end();
}

/* mremap of file mappings: grow, shrink, move, DONTUNMAP, their offsets. */
static void test_mremap(void)
{
	uint64_t a = at(18), b = at(19), c = at(20);
	struct side s;
	int64_t h, u;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 11);
	both_mmap("private", a, 4 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, PG);
	same_write("private copy", a + PG + 8, 16, 1);
	both_mremap("grow in place", a, 4 * PG, 6 * PG, 0, 0);
	same_maps("grown");
	same_memory("grown", a, 6 * PG);
	both_mremap("grow past eof", a, 6 * PG, 10 * PG, 0, 0);
	same_memory("past eof", a, 10 * PG);
	both_mremap("shrink", a, 10 * PG, 2 * PG, 0, 0);
	same_maps("shrunk");
	both_mremap("move", a, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	same_maps("moved");
	same_memory("moved", b, 2 * PG);
	both_mremap("move and grow", b, 2 * PG, 5 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a);
	same_maps("moved and grown");
	same_memory("moved and grown", a, 5 * PG);
	both_mremap("dontunmap", a, 5 * PG, 5 * PG,
		    MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, b);
	same_maps("dontunmap");
	same_memory("dontunmap, old", a, 5 * PG);
	same_memory("dontunmap, new", b, 5 * PG);
	/* a shared one, moved next to a mapping it merges with */
	both_mmap("shared 1", c, 2 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("shared 2", c + 8 * PG, 3 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 2 * PG);
	same_write("shared 2", c + 9 * PG, 64, 2);
	both_mremap("move to merge", c + 8 * PG, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED,
		    c + 2 * PG);
	same_maps("merged");
	same_memory("merged", c, 5 * PG);
	both_mremap("grow merged", c, 5 * PG, 7 * PG, 0, 0);
	same_maps("grown merged");
	/* growing where it cannot: moved by each side where it likes */
	both_mmap("blocker", c + 7 * PG, PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	both_mremap("grow blocked", c, 7 * PG, 8 * PG, 0, 0);
	h = sysret(syscall(SYS_mremap, c, 7 * PG, 3 * MIB, (long)MREMAP_MAYMOVE, 0));
	u = umm_mremap(umm, c, 7 * PG, 3 * MIB, MREMAP_MAYMOVE, 0);
	CHECK(h > 0 && u > 0);
	if (h > 0 && u > 0) {
		/* 3 MiB from offset 0: both place it 2 MiB-aligned to the offset */
		CHECK_EQ(h & (PMD - 1), 0);
		CHECK_EQ(u & (PMD - 1), 0);
		same_placed_line("grow moved", h, u);
		CHECK_EQ(syscall(SYS_munmap, h, 3 * MIB), 0);
		CHECK_EQ(umm_munmap(umm, u, 3 * MIB), 0);
	}
	same_maps("after grow moved");
	/* truncation finds the moved and grown mappings through i_mmap */
	both_truncate("to one page", &s, PG);
	same_memory("truncated a", a, 5 * PG);
	same_memory("truncated b", b, 5 * PG);
	same_memory("truncated c", c, 8 * PG);
	window_clear();
	side_put_umm(&s);
	same_files("mremap", &s);
	side_close(&s);
	frames_end();
}

/* MADV_REMOVE: punched pages read zero in every mapping; private copies stay. */
static void test_madv_remove(void)
{
	uint64_t a = at(21), b = at(22), c = at(23), d = at(24);
	struct umm_mm *other;
	struct side s;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 12);
	other = umm_mm_create(NULL);
	CHECK(other != NULL);
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("shared 2", b, 9 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private", c, 9 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	CHECK_EQ(umm_mmap(other, a, 9 * PG, R, MAP_SHARED | MAP_FIXED, s.urw, 0), (int64_t)a);
	same_write_pages("shared", a, 8, 1);
	same_write("private copy", c + 2 * PG, 16, 20);
	same_memory("private", c, 9 * PG);	/* maps the others in */
	same_memory("shared 2", b, 9 * PG);
	both_msync("before", a, 9 * PG, MS_SYNC);
	same_files("before", &s);

	both_madvise("remove", a + PG, 3 * PG, MADV_REMOVE);
	same_memory("shared after remove", a, 12 * PG);
	same_memory("shared 2 after remove", b, 9 * PG);
	same_memory("private after remove", c, 9 * PG);
	/* the host file has the hole at once on both sides */
	same_files("after remove", &s);
	{
		uint64_t v = 1;

		CHECK_EQ(umm_read(other, a + 2 * PG, &v, sizeof(v)), (int64_t)sizeof(v));
		CHECK_EQ(v, 0);
	}
	/* across the end of the file, and past it */
	both_madvise("remove tail", a + 7 * PG, 5 * PG, MADV_REMOVE);
	same_memory("after tail remove", a, 12 * PG);
	same_write("refill", a + 2 * PG, 64, 30);
	both_msync("after", a, 12 * PG, MS_SYNC);
	same_files("after tail remove", &s);

	/* the refusals */
	both_madvise("remove private", c, PG, MADV_REMOVE);
	both_mmap("ro shared", d, 2 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, 0);
	both_madvise("remove ro shared", d, PG, MADV_REMOVE);
	both_mmap("locked shared", d + 2 * PG, 2 * PG, RW, MAP_SHARED | MAP_LOCKED | MAP_FIXED,
		  &s, O_RDWR, 0);
	both_madvise("remove locked", d + 2 * PG, PG, MADV_REMOVE);
	CHECK_EQ(h_mmap(d + 4 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
		 (int64_t)(d + 4 * PG));
	CHECK_EQ(umm_mmap(umm, d + 4 * PG, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  NULL, 0), (int64_t)(d + 4 * PG));
	both_madvise("remove anonymous", d + 4 * PG, PG, MADV_REMOVE);
	both_madvise("remove with a hole", a + 11 * PG, 3 * PG, MADV_REMOVE);
	both_madvise("remove unmapped", d + 8 * PG, PG, MADV_REMOVE);
	same_maps("remove");
	/* MADV_DONTNEED keeps a shared mapping's bytes, drops a private copy's */
	same_write("before dontneed", a + 5 * PG, 64, 40);
	both_madvise("dontneed shared", a, 12 * PG, MADV_DONTNEED);
	both_madvise("dontneed private", c, 9 * PG, MADV_DONTNEED);
	same_memory("shared after dontneed", a, 12 * PG);
	same_memory("private after dontneed", c, 9 * PG);
	both_msync("end", a, 12 * PG, MS_SYNC);
	umm_mm_destroy(other);
	window_clear();
	side_put_umm(&s);
	same_files("end", &s);
	side_close(&s);
	frames_end();
}

/*
 * mincore of @n pages at @addr on both sides. The host's reads finish
 * behind the call that started them, and mincore counts a page only once
 * its read is done: its answer is taken once it has stopped changing.
 */
static void same_mincore(const char *what, uint64_t addr, uint64_t n)
{
	unsigned char h[64], u[64], prev[64];
	char hs[65], us[65];
	int64_t hr = 0, ur;
	unsigned stable = 0;

	CHECK(n <= sizeof(h));
	for (unsigned i = 0; i < 200 && stable < 3; i++) {
		memcpy(prev, h, n);
		hr = sysret(syscall(SYS_mincore, addr, n * PG, h));
		stable = i && !memcmp(prev, h, n) ? stable + 1 : 0;
		usleep(10000);
	}
	ur = umm_mincore(umm, addr, n * PG, u);
	if (!same(fmt("%s: mincore(+%#llx, %llu pages)", what, (unsigned long long)(addr - win),
		      (unsigned long long)n), hr, ur) || hr)
		return;
	for (uint64_t i = 0; i < n; i++) {
		hs[i] = (char)('0' + (h[i] & 1));
		us[i] = (char)('0' + (u[i] & 1));
	}
	hs[n] = us[n] = '\0';
	if (strcmp(hs, us))
		fprintf(stderr, "  %s: mincore differs:\n    host %s\n    umm  %s\n", what, hs, us);
	CHECK(!strcmp(hs, us));
}

/*
 * MADV_WILLNEED on a file mapping reads the file's pages behind the range
 * into the page cache (POSIX_FADV_WILLNEED), none past the end of the
 * file, through private, shared and PROT_NONE mappings, VMA by VMA over a
 * hole: mincore shows them at once. The host twin's cache is emptied
 * first; the ranges stay within 128 KiB, umm's readahead window, and no
 * page is faulted (the host's read-around follows its device's setting).
 */
static void test_madv_willneed(void)
{
	uint64_t a = at(30), b = at(31);
	struct side s;

	frames_begin();
	side_open(&s, true, 48 * PG + 100, 13);
	CHECK(!fdatasync(s.hrw));
	CHECK(!posix_fadvise(s.hrw, 0, 0, POSIX_FADV_DONTNEED));
	both_mmap("shared", a, 64 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private", b, 8 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 16 * PG);
	both_mmap("none", b + 10 * PG, 4 * PG, PROT_NONE, MAP_SHARED | MAP_FIXED, &s, O_RDWR,
		  28 * PG);
	same_mincore("fresh", a, 64);
	both_madvise("willneed", a + 4 * PG, 6 * PG, MADV_WILLNEED);
	same_mincore("willneed", a, 64);
	both_madvise("willneed across eof", a + 44 * PG, 12 * PG, MADV_WILLNEED);
	same_mincore("willneed across eof", a, 64);
	both_madvise("willneed past eof", a + 52 * PG, 8 * PG, MADV_WILLNEED);
	both_madvise("willneed private, hole, none", b + 2 * PG, 10 * PG, MADV_WILLNEED);
	same_mincore("willneed private, hole, none", a, 64);
	same_mincore("private", b, 8);
	same_mincore("none", b + 10 * PG, 4);
	/* a read finds the page there: no read of its own */
	same_memory("read", a + 5 * PG, PG);
	same_mincore("after the read", a, 64);
	window_clear();
	side_put_umm(&s);
	side_close(&s);
	frames_end();
}

/*
 * A read fault's miss in an executable mapping reads from the fault on to
 * the mapping's end and no further (Linux 6.16 on: code is read at random,
 * and past the VMA lie other sections or padding); others read around the
 * fault. Cold caches on both sides, mincore of the whole file after each
 * fault; the mappings are smaller than umm's window (128 KiB; the host's
 * follows its device's read_ahead_kb), so their ends decide.
 */
static void test_exec_readahead(void)
{
	uint64_t a = at(30), b = at(31);
	struct side s;

	frames_begin();
	side_open(&s, true, 48 * PG + 100, 15);
	CHECK(!fdatasync(s.hrw));
	CHECK(!posix_fadvise(s.hrw, 0, 0, POSIX_FADV_DONTNEED));
	both_mmap("whole file", a, 64 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("exec", b, 16 * PG, R | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR,
		  8 * PG);
	both_mmap("exec, near the end", b + 32 * PG, 10 * PG, R | PROT_EXEC,
		  MAP_SHARED | MAP_FIXED, &s, O_RDWR, 30 * PG);
	both_mmap("exec only", b + 48 * PG, 4 * PG, PROT_EXEC, MAP_PRIVATE | MAP_FIXED, &s,
		  O_RDWR, 44 * PG);
	same_memory("exec", b + 4 * PG, PG);
	same_mincore("exec", a, 64);
	same_memory("exec, near the end", b + 40 * PG, PG);
	same_mincore("exec, near the end", a, 64);
	same_memory("exec only", b + 49 * PG, PG);
	same_mincore("exec only", a, 64);
	window_clear();
	side_put_umm(&s);
	side_close(&s);
	frames_end();
}

/* Memory files: memfd_create on the host, umm_file_create in umm. */
static void test_memfd(void)
{
	uint64_t a = at(25), b = at(26);
	struct side s;

	frames_begin();
	mask_memfd_inode = true;
	side_memfd(&s, "umm_diff", FILE_SIZE);
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private", b, 12 * PG, RW, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, PG);
	both_mmap("shared ro", a + 12 * PG, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_maps("memfd");
	same_memory("fresh", a, 16 * PG);
	same_write_pages("shared", a, 9, 1);
	same_write("shared beyond", a + 9 * PG, 8, 2);
	same_write("private", b + 3 * PG, 8, 3);
	same_memory("shared", a, 16 * PG);
	same_memory("private", b, 12 * PG);
	both_msync("memfd", a, 16 * PG, MS_SYNC);
	both_madvise("remove", a + 2 * PG, 2 * PG, MADV_REMOVE);
	same_memory("removed", a, 16 * PG);
	same_memory("removed, private", b, 12 * PG);
	both_truncate("shrink", &s, 2 * PG + 10);
	same_memory("shrunk", a, 16 * PG);
	same_memory("shrunk, private", b, 12 * PG);
	both_truncate("extend", &s, 6 * PG);
	same_memory("extended", a, 16 * PG);
	both_mremap("grow", a + 12 * PG, 4 * PG, 6 * PG, 0, 0);
	both_mremap("move", b, 12 * PG, 12 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, b + 64 * PG);
	same_maps("memfd after");
	same_memory("moved", b + 64 * PG, 12 * PG);
	window_clear();
	side_close(&s);
	mask_memfd_inode = false;
	frames_end();
}

/*
 * A second open of the side's file on both sides, O_RDWR with @flags: @t
 * is @s with that open in place of the first, for both_mmap and
 * both_truncate.
 */
static void side_second_open(const struct side *s, struct side *t, int flags)
{
	int ufd = open(s->upath, O_RDWR | O_CLOEXEC | flags);

	*t = *s;
	t->hrw = open(s->hpath, O_RDWR | O_CLOEXEC | flags);
	t->urw = umm_file_from_fd(ufd, O_RDWR);
	CHECK(t->hrw >= 0 && t->urw != NULL);
	close(ufd);	/* umm keeps its own open */
}

static void side_second_close(struct side *t)
{
	umm_file_put(t->urw);
	close(t->hrw);
}

/*
 * The path maps shows is the open's path now, as the kernel's d_path():
 * it follows a rename of the file and ends in " (deleted)" once the file
 * is unlinked, for every mapping of the open; an open through a hard link
 * keeps the link's path.
 */
static void test_renamed_and_deleted(void)
{
	uint64_t a = at(0), b = at(1), c = at(2);
	char moved[80], linked[80];
	struct side s, t;
	int ufd;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 61);
	both_mmap("shared", a, 4 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("private", b, 4 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDONLY, 0);
	/* an open through a hard link shows the link's path */
	snprintf(linked, sizeof(linked), "%s.link", s.hpath);
	CHECK_EQ(link(s.hpath, linked), 0);
	t = s;
	t.hrw = open(linked, O_RDWR | O_CLOEXEC);
	ufd = open(linked, O_RDWR | O_CLOEXEC);
	t.urw = umm_file_from_fd(ufd, O_RDWR);
	CHECK(t.hrw >= 0 && t.urw != NULL);
	close(ufd);
	both_mmap("through the link", c, 2 * PG, RW, MAP_SHARED | MAP_FIXED, &t, O_RDWR, 0);
	same_maps("before the rename");
	snprintf(moved, sizeof(moved), "%s.moved", s.hpath);
	CHECK_EQ(rename(s.hpath, moved), 0);
	same_maps("after the rename");
	CHECK_EQ(unlink(moved), 0);
	same_maps("after the unlink");
	same_write("deleted, still mapped", a + 8, 8, 62);
	same_memory("deleted, still mapped", a, 4 * PG);
	window_clear();
	umm_file_put(t.urw);
	close(t.hrw);
	unlink(linked);
	side_close(&s);
	frames_end();
}

/*
 * Two opens of one file share its page cache, as on Linux (one per
 * inode): what one open's shared mapping writes, the other's mappings
 * read at once, msync through either writes back both's writes, and a
 * truncation through either cuts every mapping; each open keeps its own
 * access mode and its own VMAs (no merge across opens).
 */
static void test_two_opens(void)
{
	uint64_t a = at(10), b = at(11), c = at(12), d = at(13), e = at(14);
	struct side s, t;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 31);
	side_second_open(&s, &t, 0);
	both_mmap("first", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("second", b, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &t, O_RDWR, 0);
	both_mmap("read-only open", c, 12 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, 0);
	both_mmap("private", d, 12 * PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDONLY, 0);
	/* the read-only open still refuses a writable shared mapping */
	both_mmap("ro open, rw shared", e, 4 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, 0);
	both_mmap("wo open", e, 4 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_WRONLY, 0);
	/* read first through the others, so each has the page mapped */
	same_memory("second before", b, 12 * PG);
	same_memory("read-only before", c, 12 * PG);
	same_memory("private before", d, 12 * PG);
	for (unsigned i = 0; i < 8; i++)
		same_write("first", a + i * PG + i * 64, 100 + i, 40 + i);
	same_memory("second sees the first's writes", b, 12 * PG);
	same_memory("read-only open sees them", c, 12 * PG);
	same_memory("private sees them (not copied)", d, 12 * PG);
	same_write("second", b + 3 * PG + 2000, 300, 50);
	same_write("second, last page", b + 8 * PG + 10, 100, 51);
	same_memory("first sees the second's", a, 12 * PG);
	same_memory("read-only sees the second's", c, 12 * PG);
	same_maps("two opens");
	/* msync through the second writes the first's pages too */
	both_msync("second", b, 12 * PG, MS_SYNC);
	same_files("after msync through the second", &s);

	/* truncation through the second open cuts the first's mappings */
	both_truncate("shrink through the second", &t, 2 * PG + 100);
	same_memory("first after shrink", a, 12 * PG);
	same_memory("second after shrink", b, 12 * PG);
	same_memory("read-only after shrink", c, 12 * PG);
	same_memory("private after shrink", d, 12 * PG);
	same_write("first past the end", a + 4 * PG, 8, 52);
	both_truncate("extend through the first", &s, 7 * PG);
	same_memory("second after extend", b, 12 * PG);
	same_memory("private after extend", d, 12 * PG);
	same_write("second after extend", b + 5 * PG + 7, 64, 53);
	same_memory("first after extend", a, 12 * PG);
	same_maps("after the truncations");
	window_clear();

	/* adjacent mappings of two opens stay two VMAs */
	both_mmap("first, adjacent", a, 2 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	both_mmap("second, adjacent", a + 2 * PG, 2 * PG, RW, MAP_SHARED | MAP_FIXED, &t,
		  O_RDWR, 2 * PG);
	both_mmap("first again, adjacent", a + 4 * PG, 2 * PG, RW, MAP_SHARED | MAP_FIXED,
		  &s, O_RDWR, 4 * PG);
	same_maps("adjacent opens");
	same_write("adjacent", a + 2 * PG + 8, 8, 54);
	same_memory("adjacent", a, 6 * PG);
	window_clear();
	/* the second open's put writes back what it dirtied */
	side_second_close(&t);
	same_files_now("after the second open's put", &s);
	side_put_umm(&s);
	same_files("after the last put", &s);
	side_close(&s);
	frames_end();
}

/*
 * The cache made by a read-only open gets a writable descriptor when a
 * writable open joins; the read-only open put first, with its mapping
 * gone, leaves the writable one to write the cache back.
 */
static void test_read_only_open_first(void)
{
	uint64_t a = at(10), b = at(11);
	struct side s;
	int ro, rw;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 32);
	side_put_umm(&s);	/* no cache left: the read-only open makes it */
	settle();
	ro = open(s.upath, O_RDONLY | O_CLOEXEC);
	s.uro = umm_file_from_fd(ro, O_RDONLY);
	close(ro);
	CHECK(s.uro != NULL);
	both_mmap("read-only open", a, 12 * PG, R, MAP_SHARED | MAP_FIXED, &s, O_RDONLY, 0);
	same_memory("read through the read-only open", a, 12 * PG);
	rw = open(s.upath, O_RDWR | O_CLOEXEC);
	s.urw = umm_file_from_fd(rw, O_RDWR);
	close(rw);
	CHECK(s.urw != NULL);
	both_mmap("read-write open", b, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	same_write_pages("read-write open", b, 3, 60);
	same_write("read-write open, last page", b + 8 * PG, 100, 63);
	same_memory("the read-only open sees it", a, 12 * PG);
	/* (an msync of the read-only open's mapping writes nothing back, as Linux's) */
	both_msync("read-write open", b, 12 * PG, MS_SYNC);
	same_files("after msync", &s);
	/* the read-only open goes first, its mapping with it */
	both_munmap("read-only open", a, 12 * PG);
	umm_file_put(s.uro);
	s.uro = NULL;
	settle();
	same_write("after the read-only put", b + 5 * PG + 100, 200, 64);
	same_memory("after the read-only put", b, 12 * PG);
	window_clear();
	umm_file_put(s.urw);
	s.urw = NULL;
	same_files("after the read-write put", &s);
	side_close(&s);
	frames_end();
}

/*
 * An O_APPEND open: its appends are write(2)'s business, not a mapping's.
 * The kernel's writeback puts each page where the mapping has it; a
 * pwrite through a file description with O_APPEND appends instead, so
 * umm's cache must not write through the caller's description (a dup
 * would share its flags, set at open or later with F_SETFL).
 */
static void test_append_open(void)
{
	uint64_t a = at(10), b = at(11);
	struct side s, t;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 33);
	side_put_umm(&s);	/* the O_APPEND open makes the cache */
	settle();
	side_second_open(&s, &t, O_APPEND);
	both_mmap("append open", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &t, O_RDWR, 0);
	same_write("append open", a + 2 * PG + 100, 200, 1);
	same_write("append open, last page", a + 8 * PG + 10, 100, 2);
	both_msync("append open", a, 12 * PG, MS_SYNC);
	same_files("after msync", &s);
	both_truncate("shrink", &t, 5 * PG + 10);
	same_write("after shrink", a + 4 * PG, 64, 3);
	window_clear();
	side_second_close(&t);
	same_files("after the put", &s);
	/* O_APPEND set on the caller's fd after the umm file was made from it */
	side_umm_files(&s);
	both_mmap("plain open", b, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &s, O_RDWR, 0);
	CHECK(!fcntl(s.hrw, F_SETFL, O_APPEND) && !fcntl(s.ufd, F_SETFL, O_APPEND));
	same_write("O_APPEND set later", b + PG, 300, 4);
	both_msync("O_APPEND set later", b, 12 * PG, MS_SYNC);
	same_files("O_APPEND set later", &s);
	window_clear();
	side_put_umm(&s);
	same_files("end", &s);
	side_close(&s);
	frames_end();
}

/*
 * An O_DIRECT open: the kernel's page cache reads and writes back a
 * mapping's pages whatever the open's flags, the partial last page too.
 * Direct I/O of a length that is not a multiple of the block size fails
 * (EINVAL), so umm's cache must not do its I/O through the caller's file
 * description. MADV_RANDOM makes a fault read its
 * one page (the last one's length is partial) rather than a window.
 */
static void test_direct_open(void)
{
	uint64_t a = at(10), b = at(11);
	struct side s, t;
	int probe;

	frames_begin();
	side_open(&s, true, FILE_SIZE, 34);
	probe = open(s.hpath, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (probe < 0) {
		printf("     note: no O_DIRECT on %s (%s): skipped\n", s.hpath, strerror(errno));
		side_close(&s);
		frames_end();
		return;
	}
	close(probe);
	side_put_umm(&s);	/* the O_DIRECT open makes the cache */
	settle();
	side_second_open(&s, &t, O_DIRECT);
	both_mmap("shared", a, 12 * PG, RW, MAP_SHARED | MAP_FIXED, &t, O_RDWR, 0);
	both_mmap("private", b, 12 * PG, RW, MAP_PRIVATE | MAP_FIXED, &t, O_RDWR, 0);
	both_madvise("random", b, 12 * PG, MADV_RANDOM);
	same_memory("private, one page a fault", b + 8 * PG, 4 * PG);
	same_memory("shared", a, 12 * PG);
	same_write("shared", a + 2 * PG + 100, 200, 1);
	same_write("shared, last page", a + 8 * PG + 10, 100, 2);
	both_msync("shared", a, 12 * PG, MS_SYNC);
	same_files("after msync", &s);
	both_truncate("shrink", &t, 5 * PG + 10);
	same_write("shared, new last page", a + 5 * PG, 8, 3);
	same_memory("after shrink", a, 12 * PG);
	window_clear();
	side_second_close(&t);
	same_files("after the put", &s);
	side_close(&s);
	frames_end();
}

/*
 * Placement without MAP_FIXED: ext4 puts a mapping that can hold a whole
 * 2 MiB-aligned stretch of the file at an address 2 MiB-aligned to its
 * offset; the addresses differ between the sides, so only that alignment
 * (where the rule applies) and the lines are compared. Hints inside the
 * window are taken as they are when the padded length fits there.
 */
static void test_placement(void)
{
	static const struct {
		uint64_t len, off;
		int flags;
	} c[] = {
		{ 4 * MIB, 0, MAP_PRIVATE }, { 4 * MIB, PG, MAP_PRIVATE },
		{ 4 * MIB, 3 * PG, MAP_SHARED }, { 2 * MIB, 0, MAP_SHARED },
		{ 2 * MIB, PG, MAP_PRIVATE }, { 3 * MIB, 0, MAP_PRIVATE },
		{ 3 * MIB, MIB, MAP_SHARED }, { 2 * MIB + PG, 2 * MIB - PG, MAP_PRIVATE },
		{ 8 * MIB + PG, 5 * PG, MAP_SHARED }, { MIB, 0, MAP_PRIVATE },
		{ 2 * MIB - PG, 0, MAP_PRIVATE }, { 4 * MIB, 7 * PMD + 3 * PG, MAP_SHARED },
	};
	uint64_t hint = at(27), blk = at(28);
	struct side s;

	frames_begin();
	side_open(&s, false, FILE_SIZE, 13);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t off = c[i].off, len = c[i].len, off_align = (off + PMD - 1) & ~(PMD - 1);
		bool rule = off + len > off_align && off + len - off_align >= PMD;
		int64_t h = h_mmap(0, len, R, c[i].flags, s.hrw, off);
		int64_t u = umm_mmap(umm, 0, len, R, c[i].flags, s.urw, off);
		const char *what = fmt("placement %#llx at %#llx", (unsigned long long)len,
				       (unsigned long long)off);

		CHECK(h > 0 && u > 0);
		if (h <= 0 || u <= 0)
			continue;
		if (rule) {
			if ((h - off) & (PMD - 1) || (u - off) & (PMD - 1))
				fprintf(stderr, "  %s: host %#llx, umm %#llx\n", what,
					(unsigned long long)h, (unsigned long long)u);
			CHECK_EQ((h - off) & (PMD - 1), 0);
			CHECK_EQ((u - off) & (PMD - 1), 0);
		}
		same_placed_line(what, h, u);
		CHECK_EQ(syscall(SYS_munmap, h, len), 0);
		CHECK_EQ(umm_munmap(umm, u, len), 0);
	}
	/* a free hint, with room for the padding: taken on both sides */
	both_mmap("hint free", hint + 5 * PG, 4 * MIB, R, MAP_PRIVATE, &s, O_RDWR, 0);
	both_mmap("hint free, small", hint + 9 * MIB, PG, R, MAP_SHARED, &s, O_RDWR, 0);
	same_maps("hints");
	window_clear();
	/*
	 * A hint that fits the mapping but not its 2 MiB of padding: ext4
	 * looks elsewhere rather than take it unaligned.
	 */
	both_mmap("blocker", blk + 4 * MIB + PG, PG, R, MAP_PRIVATE | MAP_FIXED, &s, O_RDWR, 0);
	{
		int64_t h = h_mmap(blk, 4 * MIB, R, MAP_PRIVATE, s.hrw, 0);
		int64_t u = umm_mmap(umm, blk, 4 * MIB, R, MAP_PRIVATE, s.urw, 0);

		same("hint without room for padding: hint taken", h == (int64_t)blk,
		     u == (int64_t)blk);
		CHECK_EQ(h & (PMD - 1), 0);
		CHECK_EQ(u & (PMD - 1), 0);
		if (h > 0 && h != (int64_t)blk)
			syscall(SYS_munmap, h, 4 * MIB);
		if (u > 0 && u != (int64_t)blk)
			umm_munmap(umm, u, 4 * MIB);
		/* a hint on the blocker itself */
		h = h_mmap(blk + 4 * MIB + PG, PG, R, MAP_PRIVATE, s.hrw, 0);
		u = umm_mmap(umm, blk + 4 * MIB + PG, PG, R, MAP_PRIVATE, s.urw, 0);
		same("hint taken by the blocker", h == (int64_t)(blk + 4 * MIB + PG),
		     u == (int64_t)(blk + 4 * MIB + PG));
		if (h > 0 && (h < (int64_t)win || h >= (int64_t)(win + WIN_SIZE)))
			syscall(SYS_munmap, h, PG);
		if (u > 0 && (u < (int64_t)win || u >= (int64_t)(win + WIN_SIZE)))
			umm_munmap(umm, u, PG);
	}
	same_maps("hint blocked");
	window_clear();
	side_close(&s);
	frames_end();
}

/* ---- random sequences ------------------------------------------------ */

#define RND_PAGES	48

static uint64_t rnd(uint64_t *seed, uint64_t n)
{
	return n ? xrand(seed) % n : 0;
}

/*
 * Would a write at @a go through a shared mapping into the last page of
 * the file, past its end? test_eof_tail_write covers what follows; the
 * sequences leave it out so that they go on finding other things.
 */
static bool eof_tail_write(const struct side *s, uint64_t a)
{
	char *raw = host_maps_raw();
	struct stat st;
	bool tail = false;

	fstat(s->hrw, &st);
	for (const char *p = raw; *p;) {
		unsigned long long b, e, off;
		char perms[8];
		size_t len = strcspn(p, "\n");

		if (sscanf(p, "%llx-%llx %7s %llx", &b, &e, perms, &off) == 4 && a >= b && a < e &&
		    perms[3] == 's') {
			uint64_t fo = off + (a - b), size = (uint64_t)st.st_size;

			tail = fo >= size && fo < ((size + PG - 1) & ~(PG - 1));
		}
		p += len + (p[len] ? 1 : 0);
	}
	free(raw);
	return tail;
}

/*
 * The host's cache holds every page of a file make_file() wrote, umm's
 * only what was read: read the whole file through a mapping on both
 * sides, so that fault-around meets the same cached pages (and again
 * after a call that may have dropped some: the host reads a miss ahead by
 * its device's window and maps what its retried fault finds read by then,
 * which umm does not model).
 */
static void warm_cache(struct side *s)
{
	uint64_t a = at(28), n;
	struct stat st;

	if (s->memfd)
		return;
	fstat(s->hrw, &st);
	n = ((uint64_t)st.st_size + PG - 1) / PG;
	if (!n || n * PG > SLOT)
		return;
	both_mmap("warm", a, n * PG, R, MAP_SHARED | MAP_FIXED, s, O_RDWR, 0);
	same_memory("warm", a, n * PG);
	both_munmap("warm", a, n * PG);
}

/*
 * The smaps blocks of the VMAs in [lo, hi), but for Referenced (umm has no
 * PG_referenced: README, Not yet).
 */
static void same_smaps_but_referenced(const char *what, uint64_t lo, uint64_t hi)
{
	char *h = smaps_window(NULL, 0, lo, hi - lo, NULL);
	char *u = smaps_window(umm, 0, lo, hi - lo, NULL);
	bool ok = h && u && same_but_referenced(h, u);

	if (!ok) {
		printf("     smaps differ (%s):\n", what);
		show_diff(h, u);
	}
	CHECK(ok);
	free(h);
	free(u);
}

/* mincore of every VMA in [lo, hi) (the host's VMAs; umm's are the same). */
static void same_mincore_vmas(const char *what, uint64_t lo, uint64_t hi)
{
	char *raw = host_maps_raw();

	for (const char *p = raw, *line; *p;) {
		unsigned long long b, e;
		size_t len = strcspn(p, "\n");
		unsigned char h[RND_PAGES], u[RND_PAGES];

		line = p;
		p += len + (p[len] ? 1 : 0);
		if (sscanf(line, "%llx-%llx", &b, &e) != 2 || b < lo || e > hi)
			continue;
		if (!same(fmt("%s: mincore(+%#llx)", what, b - win),
			  sysret(syscall(SYS_mincore, b, e - b, h)),
			  umm_mincore(umm, b, e - b, u)))
			continue;
		for (uint64_t i = 0; i < (e - b) / PG; i++) {
			if ((h[i] & 1) == (u[i] & 1))
				continue;
			fprintf(stderr, "  %s: mincore +%#llx: host %d, umm %d\n", what,
				b + i * PG - win, h[i] & 1, u[i] & 1);
			CHECK((h[i] & 1) == (u[i] & 1));
			break;
		}
	}
	free(raw);
}

/*
 * One random sequence in one slot, on a twin pair of host files (even
 * @seq) or a memory file on each side (odd): every call compared, the
 * maps, smaps (but Referenced) and mincore after each, the memory now and
 * then, the host files once everything is written back.
 */
static bool random_sequence(uint64_t seq, unsigned nops)
{
	uint64_t base = at(29) + 16 * PG, seed = seq * 0x9e3779b97f4a7c15ULL + 12345;
	unsigned long fails = test_failures;
	static const int prots[] = { R, RW, RW, PROT_NONE, R | PROT_EXEC };
	static const int advice[] = {
		MADV_REMOVE, MADV_DONTNEED, MADV_REMOVE, MADV_DONTNEED, MADV_COLD,
		MADV_PAGEOUT, MADV_WILLNEED, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
		MADV_FREE, MADV_DONTNEED_LOCKED, MADV_RANDOM, MADV_SEQUENTIAL,
		MADV_NORMAL, MADV_NOHUGEPAGE, 25 /* MADV_COLLAPSE */, MADV_DONTFORK,
		MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_MERGEABLE,
		MADV_UNMERGEABLE, MADV_DONTDUMP, MADV_DODUMP,
		102 /* MADV_GUARD_INSTALL */, 103 /* MADV_GUARD_REMOVE */,
	};
	struct side s;

	mask_memfd_inode = seq & 1;
	if (seq & 1) {
		side_memfd(&s, "umm_seq", FILE_SIZE);
	} else {
		side_open(&s, true, FILE_SIZE, (unsigned)seq);
		CHECK(!fdatasync(s.hrw) && !fdatasync(s.ufd));	/* clean, as umm's */
		warm_cache(&s);
	}
	for (unsigned i = 0; i < nops && test_failures == fails; i++) {
		uint64_t a = base + rnd(&seed, RND_PAGES) * PG, len = (1 + rnd(&seed, 8)) * PG;
		const char *what = fmt("seq %llu op %u", (unsigned long long)seq, i);

		if (a + len > base + RND_PAGES * PG)
			len = base + RND_PAGES * PG - a;
		switch (rnd(&seed, 10)) {
		case 0:
		case 1:
			both_mmap(what, a, len, prots[rnd(&seed, 5)],
				  (rnd(&seed, 2) ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED |
				  (rnd(&seed, 4) ? 0 : MAP_POPULATE) |
				  (rnd(&seed, 6) ? 0 : MAP_LOCKED), &s,
				  rnd(&seed, 4) ? O_RDWR : O_RDONLY, rnd(&seed, 14) * PG);
			break;
		case 2:
			both_munmap(what, a, len);
			break;
		case 3:
			both_mprotect(what, a, len, prots[rnd(&seed, 5)]);
			break;
		case 4: {
			uint64_t nlen = (1 + rnd(&seed, 10)) * PG;
			uint64_t to = base + rnd(&seed, RND_PAGES) * PG;

			if (to + nlen > base + RND_PAGES * PG || a + nlen > base + RND_PAGES * PG)
				break;
			switch (rnd(&seed, 4)) {
			case 0:
			case 1:
				both_mremap(what, a, len, nlen, 0, 0);
				break;
			case 2:
				both_mremap(what, a, len, nlen, MREMAP_MAYMOVE | MREMAP_FIXED, to);
				break;
			default:
				both_mremap(what, a, len, len, MREMAP_MAYMOVE | MREMAP_FIXED |
					    MREMAP_DONTUNMAP, to);
				break;
			}
			break;
		}
		case 5:
			both_madvise(what, a, len,
				     advice[rnd(&seed, sizeof(advice) / sizeof(advice[0]))]);
			warm_cache(&s);
			break;
		case 6:
			both_truncate(what, &s, rnd(&seed, 14) * PG +
				      (rnd(&seed, 2) ? rnd(&seed, PG) : 0));
			warm_cache(&s);
			break;
		case 7:
			both_msync(what, a, len, rnd(&seed, 3) ? MS_SYNC : MS_ASYNC);
			break;
		default: {
			uint64_t off = rnd(&seed, PG - 64);

			if (eof_tail_write(&s, a + off) || eof_tail_write(&s, a + off + 63))
				continue;
			same_write(what, a + off, 64, (unsigned)rnd(&seed, 1000));
			if (!rnd(&seed, 4))
				same_memory(what, a, PG);
			continue;
		}
		}
		same_maps(what);
		same_smaps_but_referenced(what, base, base + RND_PAGES * PG);
		same_mincore_vmas(what, base, base + RND_PAGES * PG);
	}
	same_memory(fmt("seq %llu end", (unsigned long long)seq), base, RND_PAGES * PG);
	/* write back what umm holds: msync each mapping, then the last put */
	both_msync("end", base, RND_PAGES * PG, MS_SYNC);
	window_clear();
	side_put_umm(&s);
	if (!s.memfd)
		same_files(fmt("seq %llu files", (unsigned long long)seq), &s);
	side_close(&s);
	mask_memfd_inode = false;
	if (test_failures != fails)
		fprintf(stderr, "  sequence %llu failed (UMM_FILE_DIFF_SEED=%llu replays it)\n",
			(unsigned long long)seq, (unsigned long long)seq);
	return test_failures == fails;
}

static void test_random_sequences(void)
{
	const char *e = getenv("UMM_FILE_DIFF_SEQUENCES");
	unsigned long n = e && atol(e) > 0 ? (unsigned long)atol(e) : 150, bad = 0;

	frames_begin();
	for (unsigned long i = 0; i < n && bad < 3; i++)
		bad += !random_sequence(i, 40);
	frames_end();
}

/* ---- setup ------------------------------------------------------------- */

/* Does no host mapping touch [lo, hi)? */
static bool host_range_free(uint64_t lo, uint64_t hi)
{
	char *raw = host_maps_raw();
	bool free_ = true;

	for (const char *p = raw; *p;) {
		unsigned long long s, e;
		size_t len = strcspn(p, "\n");

		if (sscanf(p, "%llx-%llx", &s, &e) == 2 && s < hi && e > lo)
			free_ = false;
		p += len + (p[len] ? 1 : 0);
	}
	free(raw);
	return free_;
}

/* A window far from the heap, the libraries and the sanitizers' shadows. */
static bool window_pick(void)
{
	static const uint64_t candidates[] = {
		0x310000000000ULL, 0x320000000000ULL, 0x330000000000ULL, 0x210000000000ULL,
	};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		win = candidates[i];
		if (host_range_free(win - 64 * MIB, win + WIN_SIZE + 64 * MIB))
			return true;
	}
	return false;
}

int main(void)
{
	const char *replay = getenv("UMM_FILE_DIFF_SEED");

	if (!window_pick()) {
		fprintf(stderr, "test_file_diff: no free window for the host side\n");
		return 1;
	}
	umm = umm_mm_create(NULL);
	if (!umm) {
		perror("test_file_diff: umm_mm_create");
		return 1;
	}
	if (replay && *replay) {
		bool ok = random_sequence(strtoull(replay, NULL, 0), 40);

		printf("file diff: sequence %s %s\n", replay, ok ? "agrees" : "FAILED");
		umm_mm_destroy(umm);
		return ok ? 0 : 1;
	}
	RUN(test_mmap_checks);
	RUN(test_map_sync);
	RUN(test_mprotect_checks);
	RUN(test_maps_lines);
	RUN(test_contents);
	RUN(test_private_writes);
	RUN(test_shared_writes);
	RUN(test_writeback_at_munmap);
	RUN(test_msync_checks);
	RUN(test_truncate);
	RUN(test_eof_tail_write);
	RUN(test_eof_tail_write_extend);
	RUN(test_eof_tail_write_extend_memfd);
	RUN(test_truncate_eof_block);
	RUN(test_truncate_eof_memfd);
	RUN(test_eof_fault_around);
	RUN(test_eof_fault_around_memfd);
	RUN(test_mremap);
	RUN(test_madv_remove);
	RUN(test_madv_willneed);
	RUN(test_exec_readahead);
	RUN(test_memfd);
	RUN(test_renamed_and_deleted);
	RUN(test_two_opens);
	RUN(test_read_only_open_first);
	RUN(test_append_open);
	RUN(test_direct_open);
	RUN(test_placement);
	RUN(test_random_sequences);
	umm_mm_destroy(umm);
	return test_done();
}
