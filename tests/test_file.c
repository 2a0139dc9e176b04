// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_file - files behind mappings, seen from the public API: memory
 * files shared by two mms, host files read through the page cache and
 * written back by msync and by the last put, private copy-on-write of
 * file pages, dirty tracking across msyncs, truncation and hole punches
 * reaching every mm that maps the file, opens of one host file sharing
 * its cache, and the bad-input answers.
 * Every test counts frames before and after: nothing may leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <umm/umm.h>
#include "test.h"
#include "page_alloc.h"
#include "uapi_mman.h"

#define P	4096UL
#define A	0x20000000UL
#define B	0x30000000UL
#define RW	(PROT_READ | PROT_WRITE)

static struct page_alloc_stats before;

/*
 * The test's pwrite() stands in for libc's inside the library (linked in
 * statically): with writes_held set, a writeback's pwrite waits until it
 * is cleared, so a test can look at what a writeback in progress holds.
 */
static pthread_mutex_t writes_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writes_cond = PTHREAD_COND_INITIALIZER;
static bool writes_held, write_waiting;

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	pthread_mutex_lock(&writes_lock);
	while (writes_held) {
		write_waiting = true;
		pthread_cond_broadcast(&writes_cond);
		pthread_cond_wait(&writes_cond, &writes_lock);
	}
	pthread_mutex_unlock(&writes_lock);
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

static void frames_begin(void)
{
	rcu_barrier();
	page_alloc_get_stats(&before);
}

static void frames_end(void)
{
	struct page_alloc_stats after;

	rcu_barrier();
	page_alloc_get_stats(&after);
	CHECK_EQ(after.in_use_pages, before.in_use_pages);
	CHECK_EQ(after.pgtable_pages, before.pgtable_pages);
}

static uint64_t rd(struct umm_mm *mm, uint64_t addr)
{
	uint64_t v = 0;

	CHECK_EQ(umm_read(mm, addr, &v, sizeof(v)), (int64_t)sizeof(v));
	return v;
}

static void wr(struct umm_mm *mm, uint64_t addr, uint64_t v)
{
	CHECK_EQ(umm_write(mm, addr, &v, sizeof(v)), (int64_t)sizeof(v));
}

/* A host file of @pages pages plus @tail bytes, page i filled with i + 1. */
static int host_file(unsigned pages, unsigned tail, char *path)
{
	static char buf[P];
	int fd;

	strcpy(path, "/tmp/umm_test_file_XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	for (unsigned i = 0; i <= pages; i++) {
		memset(buf, (int)(i + 1), P);
		CHECK_EQ(pwrite(fd, buf, i < pages ? P : tail, (off_t)(i * P)),
			 (ssize_t)(i < pages ? P : tail));
	}
	return fd;
}

static uint8_t file_byte(int fd, uint64_t off)
{
	uint8_t c = 0xee;

	CHECK_EQ(pread(fd, &c, 1, (off_t)off), 1);
	return c;
}

static void test_memfd_shared_two_mms(void)
{
	struct umm_file *f;
	struct umm_mm *a, *b;

	frames_begin();
	f = umm_file_create("shared", 16 * P, 0);
	CHECK(f);
	a = umm_mm_create(NULL);
	b = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 16 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(b, B, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 8 * P), (int64_t)B);
	wr(a, A + 9 * P, 0x1234);
	CHECK_EQ(rd(b, B + P), 0x1234);		/* the same page */
	wr(b, B, 0x5678);
	CHECK_EQ(rd(a, A + 8 * P), 0x5678);
	/* a private mapping sees the file until it writes, then its own copy */
	CHECK_EQ(umm_mmap(b, B + 64 * P, 16 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 0),
		 (int64_t)(B + 64 * P));
	CHECK_EQ(rd(b, B + 64 * P + 9 * P), 0x1234);
	wr(b, B + 64 * P + 9 * P, 0x9999);
	CHECK_EQ(rd(a, A + 9 * P), 0x1234);
	CHECK_EQ(rd(b, B + 64 * P + 9 * P), 0x9999);
	/* past the end of the file: SIGBUS */
	CHECK_EQ(umm_mmap(a, A + 64 * P, 32 * P, RW, MAP_SHARED | MAP_FIXED, f, 0),
		 (int64_t)(A + 64 * P));
	CHECK_EQ(umm_fault(a, A + 64 * P + 16 * P, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(a, A + 64 * P + 15 * P, UMM_READ), 0);
	umm_file_put(f);	/* the mappings keep it */
	CHECK_EQ(rd(b, B + P), 0x1234);
	umm_mm_destroy(a);
	umm_mm_destroy(b);
	frames_end();
}

static void test_maps_line(void)
{
	char buf[4096] = "", path[64];
	struct umm_file *f = umm_file_create("nm", 4 * P, 0);
	struct umm_mm *mm = umm_mm_create(NULL);
	FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");
	int fd = host_file(2, 100, path);
	struct umm_file *h = umm_file_from_fd(fd, O_RDWR);
	struct stat st;
	char want[512];

	CHECK(f && mm && out && h);
	CHECK_EQ(umm_mmap(mm, A, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, f, P), (int64_t)A);
	CHECK_EQ(umm_mmap(mm, B, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, h, P), (int64_t)B);
	umm_maps(mm, out);
	fclose(out);
	CHECK(strstr(buf, "20000000-20002000 r--s 00001000 00:01 ") != NULL);
	CHECK(strstr(buf, "/memfd:nm (deleted)\n") != NULL);
	CHECK_EQ(fstat(fd, &st), 0);
	snprintf(want, sizeof(want), "30000000-30001000 r--p 00001000 %02x:%02x %lu",
		 major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
	CHECK(strstr(buf, want) != NULL);
	CHECK(strstr(buf, path) != NULL);
	umm_mm_destroy(mm);
	umm_file_put(f);
	umm_file_put(h);
	close(fd);
	unlink(path);
}

static void test_host_read_and_cow(void)
{
	char path[64];
	int fd = host_file(4, 123, path);
	struct umm_file *f;
	struct umm_mm *mm;
	uint8_t bytes[P];

	frames_begin();
	f = umm_file_from_fd(fd, O_RDWR);
	CHECK(f);
	mm = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(mm, A, 8 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(rd(mm, A + 2 * P), 0x0303030303030303ULL);
	/* the last page: the file's bytes, then zeroes */
	CHECK_EQ(umm_read(mm, A + 4 * P, bytes, P), (int64_t)P);
	CHECK_EQ(bytes[0], 5);
	CHECK_EQ(bytes[122], 5);
	CHECK_EQ(bytes[123], 0);
	CHECK_EQ(bytes[P - 1], 0);
	CHECK_EQ(umm_fault(mm, A + 5 * P, UMM_READ), -EIO);
	/* a private write stays private */
	wr(mm, A + P, 42);
	CHECK_EQ(rd(mm, A + P), 42);
	CHECK_EQ(file_byte(fd, P), 2);
	CHECK_EQ(umm_msync(mm, A, 8 * P, MS_SYNC), 0);
	CHECK_EQ(file_byte(fd, P), 2);
	umm_mm_destroy(mm);
	umm_file_put(f);
	CHECK_EQ(file_byte(fd, P), 2);
	close(fd);
	unlink(path);
	frames_end();
}

static void test_host_shared_writeback(void)
{
	char path[64];
	int fd = host_file(8, 0, path);
	struct umm_file *f;
	struct umm_mm *a, *b;

	frames_begin();
	f = umm_file_from_fd(fd, O_RDWR);
	a = umm_mm_create(NULL);
	b = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(b, B, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)B);
	CHECK_EQ(rd(a, A), 0x0101010101010101ULL);
	wr(a, A, 0xaa);			/* a write after a read: the write-protect path */
	wr(b, B + 3 * P, 0xbb);		/* a first-touch write */
	CHECK_EQ(rd(b, B), 0xaa);
	CHECK_EQ(file_byte(fd, 0), 1);	/* not written back yet */
	CHECK_EQ(umm_msync(b, B, 8 * P, MS_ASYNC), 0);
	CHECK_EQ(umm_msync(a, A, P, MS_SYNC), 0);
	CHECK_EQ(file_byte(fd, 0), 0xaa);	/* whichever mm wrote it */
	CHECK_EQ(file_byte(fd, 3 * P), 4);	/* outside the range */
	CHECK_EQ(umm_msync(a, A, 8 * P, MS_SYNC), 0);
	CHECK_EQ(file_byte(fd, 3 * P), 0xbb);
	/* cleaned pages are write-protected again: the next write re-dirties */
	pwrite(fd, "\x11", 1, 0);
	wr(b, B + 1, 0x22);
	CHECK_EQ(umm_msync(b, B, P, MS_SYNC), 0);
	CHECK_EQ(file_byte(fd, 1), 0x22);
	CHECK_EQ(file_byte(fd, 0), 0xaa);	/* the whole page went back */
	/* the last reference writes back what msync did not */
	wr(a, A + 7 * P, 0xcc);
	umm_mm_destroy(a);
	umm_mm_destroy(b);
	CHECK_EQ(file_byte(fd, 7 * P), 8);
	umm_file_put(f);
	CHECK_EQ(file_byte(fd, 7 * P), 0xcc);
	close(fd);
	unlink(path);
	frames_end();
}

/*
 * The caller's file status flags do not reach the cache's I/O, as the
 * kernel's page cache is below every open: through an O_APPEND fd
 * writeback still writes each page in place (pwrite() on such an fd
 * appends), through an O_DIRECT one the partial last page still reads and
 * writes back, and O_APPEND set on the fd after the cache was made (a dup
 * would share it) changes nothing either.
 */
static void check_fd_flags(int flags, bool append_later)
{
	char path[64];
	int fd = host_file(1, 904, path), ofd = open(path, O_RDWR | flags);
	struct umm_file *f;
	struct umm_mm *mm;
	struct stat st;

	frames_begin();
	CHECK(ofd >= 0);
	f = umm_file_from_fd(ofd, O_RDWR);
	CHECK(f != NULL);
	if (append_later)
		CHECK_EQ(fcntl(ofd, F_SETFL, O_APPEND), 0);
	mm = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(mm, A, 2 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(rd(mm, A + P) & 0xff, 2);	/* the short last page */
	wr(mm, A, 0xaa);
	wr(mm, A + P + 8, 0xbb);
	CHECK_EQ(umm_msync(mm, A, 2 * P, MS_SYNC), 0);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ((uint64_t)st.st_size, P + 904);
	CHECK_EQ(file_byte(fd, 0), 0xaa);
	CHECK_EQ(file_byte(fd, P + 8), 0xbb);
	CHECK_EQ(file_byte(fd, P + 903), 2);
	umm_mm_destroy(mm);
	umm_file_put(f);
	close(ofd);
	close(fd);
	unlink(path);
	frames_end();
}

static void test_host_fd_flags(void)
{
	check_fd_flags(O_APPEND, false);
	check_fd_flags(O_DIRECT, false);	/* ext4's /tmp here */
	check_fd_flags(0, true);
}

struct unmapper {
	struct umm_mm *mm;
	int ret;
	bool done, mapped;
};

static void *unmap_last(void *arg)
{
	struct unmapper *u = arg;

	u->ret = umm_munmap(u->mm, A, 4 * P);
	__atomic_store_n(&u->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* An mmap and munmap elsewhere in the mm: both take mmap_lock for write. */
static void *map_beside(void *arg)
{
	struct unmapper *u = arg;

	CHECK_EQ(umm_mmap(u->mm, B, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0),
		 (int64_t)B);
	CHECK_EQ(umm_munmap(u->mm, B, P), 0);
	pthread_mutex_lock(&writes_lock);
	__atomic_store_n(&u->mapped, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&writes_cond);
	pthread_mutex_unlock(&writes_lock);
	return NULL;
}

/* Wait (60 s at most: a bound for a broken build) for *@flag. */
static bool wait_for(bool *flag)
{
	struct timespec until;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&writes_lock);
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && !err)
		err = pthread_cond_timedwait(&writes_cond, &writes_lock, &until);
	pthread_mutex_unlock(&writes_lock);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/*
 * The writeback of an open whose last mapping an unmap removes runs after
 * the unmap has released mmap_lock, as the kernel's deferred fput: while
 * it is held in pwrite, the same mm maps and unmaps, which needs the lock
 * for write; the unmap returns only once the data is in the file.
 */
static void test_last_put_outside_mmap_lock(void)
{
	struct unmapper u = { 0 };
	char path[64];
	int fd = host_file(4, 0, path);
	struct umm_file *f;
	pthread_t t, m;

	frames_begin();
	f = umm_file_from_fd(fd, O_RDWR);
	u.mm = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(u.mm, A, 4 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	umm_file_put(f);		/* the mapping holds the last reference */
	wr(u.mm, A + P, 0x77);
	pthread_mutex_lock(&writes_lock);
	writes_held = true;
	pthread_mutex_unlock(&writes_lock);
	CHECK(!pthread_create(&t, NULL, unmap_last, &u));
	CHECK(wait_for(&write_waiting));
	/* the writeback is in pwrite: mmap_lock must be free */
	CHECK(!pthread_create(&m, NULL, map_beside, &u));
	CHECK(wait_for(&u.mapped));
	CHECK(!__atomic_load_n(&u.done, __ATOMIC_ACQUIRE));	/* still writing back */
	pthread_mutex_lock(&writes_lock);
	writes_held = false;
	write_waiting = false;
	pthread_cond_broadcast(&writes_cond);
	pthread_mutex_unlock(&writes_lock);
	pthread_join(t, NULL);
	pthread_join(m, NULL);
	CHECK_EQ(u.ret, 0);
	CHECK_EQ(file_byte(fd, P), 0x77);
	umm_mm_destroy(u.mm);
	close(fd);
	unlink(path);
	frames_end();
}

/* An open of @path with @acc, through umm; our own fd closed at once. */
static struct umm_file *open_umm(const char *path, int acc)
{
	int fd = open(path, acc | O_CLOEXEC);
	struct umm_file *f;

	CHECK(fd >= 0);
	f = umm_file_from_fd(fd, acc);
	CHECK(f != NULL);
	close(fd);
	return f;
}

/*
 * Opens of one host file share its page cache, each with its own access
 * mode: a cache made by a write-only open (no readable fd) reads through
 * the first readable open that joins; what one open's mapping writes the
 * others' read; truncation and dirty tracking through any open reach
 * every mapping; the writable open's last put writes back.
 */
static void test_host_opens_share(void)
{
	unsigned long bitmap = 0;
	uint64_t s = 0, e = 0;
	char path[64];
	int fd = host_file(8, 0, path);
	struct umm_file *fw, *fr, *frw;
	struct umm_mm *a, *b;
	unsigned char v = 0;

	frames_begin();
	fw = open_umm(path, O_WRONLY);
	fr = open_umm(path, O_RDONLY);
	frw = open_umm(path, O_RDWR);
	a = umm_mm_create(NULL);
	b = umm_mm_create(NULL);
	/* each open's own rights */
	CHECK_EQ(umm_mmap(a, A, 8 * P, RW, MAP_SHARED | MAP_FIXED, fr, 0), -EACCES);
	CHECK_EQ(umm_mmap(a, A, 8 * P, PROT_READ, MAP_SHARED | MAP_FIXED, fw, 0), -EACCES);
	CHECK_EQ(umm_file_truncate(fr, 0), -EINVAL);
	CHECK_EQ(umm_mmap(a, A, 8 * P, PROT_READ, MAP_SHARED | MAP_FIXED, fr, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(b, B, 8 * P, RW, MAP_SHARED | MAP_FIXED, frw, 0), (int64_t)B);
	CHECK_EQ(rd(a, A + 2 * P), 0x0303030303030303ULL);
	wr(b, B + 2 * P, 0xaa);
	CHECK_EQ(rd(a, A + 2 * P), 0xaa);	/* the same page */
	wr(b, B + 5 * P, 0xbb);			/* first touched by b */
	CHECK_EQ(umm_mincore(a, A + 5 * P, P, &v), 0);
	CHECK_EQ(v & 1, 1);			/* in the one cache */
	CHECK_EQ(rd(a, A + 5 * P), 0xbb);
	/* dirty tracking through the read-only open finds b's entries */
	CHECK_EQ(umm_wp_shared_mapping_range(fr, 0, 8), 2);
	CHECK_EQ(umm_clean_record_shared_mapping_range(fw, 0, 8, 0, &bitmap, &s, &e), 2);
	CHECK_EQ(bitmap, (1UL << 2) | (1UL << 5));
	wr(b, B + 2 * P, 0xab);
	bitmap = 0;
	s = e = 0;
	CHECK_EQ(umm_clean_record_shared_mapping_range(fw, 0, 8, 0, &bitmap, &s, &e), 1);
	CHECK_EQ(bitmap, 1UL << 2);
	/* truncation through the write-only open cuts the other opens' mappings */
	CHECK_EQ(umm_file_truncate(fw, 4 * P), 0);
	CHECK_EQ(umm_fault(a, A + 5 * P, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(b, B + 5 * P, UMM_WRITE), -EIO);
	CHECK_EQ(rd(a, A + 2 * P), 0xab);
	/* the read-only and write-only opens go first; b's writes stay */
	umm_file_put(fr);
	umm_file_put(fw);
	wr(b, B + 3 * P, 0xcc);
	CHECK_EQ(rd(a, A + 3 * P), 0xcc);	/* a's mapping keeps fr's open */
	umm_mm_destroy(b);
	CHECK_EQ(file_byte(fd, 3 * P), 4);	/* frw lives: not written back */
	umm_file_put(frw);			/* the writable open's last put */
	CHECK_EQ(file_byte(fd, 2 * P), 0xab);
	CHECK_EQ(file_byte(fd, 3 * P), 0xcc);
	CHECK_EQ(rd(a, A + 3 * P), 0xcc);
	umm_mm_destroy(a);
	/* a fresh cache reads what the old one wrote */
	fr = open_umm(path, O_RDONLY);
	a = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 4 * P, PROT_READ, MAP_SHARED | MAP_FIXED, fr, 0), (int64_t)A);
	CHECK_EQ(rd(a, A + 2 * P), 0xab);
	umm_mm_destroy(a);
	umm_file_put(fr);
	close(fd);
	unlink(path);
	frames_end();
}

/* mincore of page @i of the mapping at @base: in umm's cache? */
static unsigned char in_cache(struct umm_mm *mm, uint64_t base, unsigned i)
{
	unsigned char v = 0xee;

	CHECK_EQ(umm_mincore(mm, base + i * P, P, &v), 0);
	return v;
}

/*
 * MADV_PAGEOUT of a shared host-file mapping: every page mapped there
 * alone is unmapped; a clean one leaves the cache (read again from the
 * file), a dirty one stays, and goes at a pageout once written back and
 * mapped again; a page another mm maps too stays mapped. Nothing written
 * is lost, no frame leaks.
 */
static void test_host_pageout(void)
{
	char path[64];
	int fd = host_file(8, 0, path);
	struct umm_file *f;
	struct umm_mm *a, *b;
	unsigned char vec[8];

	frames_begin();
	f = umm_file_from_fd(fd, O_RDWR);
	a = umm_mm_create(NULL);
	b = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	/* b maps page 2 alone (fault-around would map all it can) */
	CHECK_EQ(umm_mmap(b, B + 2 * P, P, RW, MAP_SHARED | MAP_FIXED, f, 2 * P),
		 (int64_t)(B + 2 * P));
	CHECK_EQ(rd(a, A), 0x0101010101010101ULL);	/* clean */
	wr(a, A + P, 0xd1);				/* dirty */
	CHECK_EQ(rd(a, A + 2 * P), 0x0303030303030303ULL);
	CHECK_EQ(rd(b, B + 2 * P), 0x0303030303030303ULL);	/* mapped twice */
	CHECK_EQ(umm_madvise(a, A, 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(in_cache(a, A, 0), 0);
	CHECK_EQ(in_cache(a, A, 1), 1);
	CHECK_EQ(in_cache(a, A, 2), 1);
	CHECK_EQ(umm_pagemap(a, A, 1, (uint64_t[1]){ 0 }), 0);
	/* the dirty page is written back and then goes at the next pageout */
	CHECK_EQ(file_byte(fd, P), 2);
	CHECK_EQ(umm_msync(a, A, 8 * P, MS_SYNC), 0);
	CHECK_EQ(file_byte(fd, P), 0xd1);
	CHECK_EQ(rd(a, A + P), 0xd1);	/* mapped again: pageout sees mapped pages */
	CHECK_EQ(umm_madvise(a, A, 8 * P, MADV_PAGEOUT), 0);
	CHECK_EQ(umm_mincore(a, A, 8 * P, vec), 0);
	CHECK_EQ(vec[1], 0);
	CHECK_EQ(vec[2], 1);
	CHECK_EQ(rd(a, A), 0x0101010101010101ULL);	/* read from the file again */
	CHECK_EQ(rd(a, A + P), 0xd1);
	CHECK_EQ(rd(b, B + 2 * P), 0x0303030303030303ULL);
	umm_mm_destroy(a);
	umm_mm_destroy(b);
	umm_file_put(f);
	CHECK_EQ(file_byte(fd, P), 0xd1);
	close(fd);
	unlink(path);
	frames_end();
}

static void test_truncate_everywhere(void)
{
	struct umm_file *f;
	struct umm_mm *a, *b;

	frames_begin();
	f = umm_file_create("trunc", 16 * P, 0);
	a = umm_mm_create(NULL);
	b = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 16 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(b, B, 16 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 0), (int64_t)B);
	for (unsigned i = 0; i < 16; i++)
		wr(a, A + i * P + 8, 100 + i);
	CHECK_EQ(rd(b, B + 12 * P + 8), 112);	/* b maps the cache page */
	wr(b, B + 13 * P + 8, 7);		/* and has a private copy */
	CHECK_EQ(umm_file_truncate(f, 10 * P + 16), 0);
	CHECK_EQ(umm_fault(a, A + 12 * P, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(b, B + 12 * P, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(b, B + 13 * P, UMM_READ), -EIO);	/* COWs go too */
	CHECK_EQ(rd(a, A + 10 * P + 8), 110);	/* the page holding the end stays */
	CHECK_EQ(rd(a, A + 10 * P + 16), 0);	/* its tail is zeroed */
	CHECK_EQ(rd(b, B + 9 * P + 8), 109);
	/* growing again gives zeroes, not the old data */
	CHECK_EQ(umm_file_truncate(f, 16 * P), 0);
	CHECK_EQ(rd(a, A + 12 * P + 8), 0);
	CHECK_EQ(rd(b, B + 13 * P + 8), 0);
	umm_mm_destroy(a);
	umm_mm_destroy(b);
	umm_file_put(f);
	frames_end();
}

static void test_punch_everywhere(void)
{
	struct umm_file *f;
	struct umm_mm *a, *b;

	frames_begin();
	f = umm_file_create("punch", 8 * P, 0);
	a = umm_mm_create(NULL);
	b = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(b, B, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)B);
	CHECK_EQ(umm_mmap(b, B + 16 * P, 8 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 0),
		 (int64_t)(B + 16 * P));
	for (unsigned i = 0; i < 8; i++)
		wr(a, A + i * P, 1 + i);
	CHECK_EQ(rd(b, B + 3 * P), 4);
	wr(b, B + 16 * P + 3 * P, 77);		/* a private copy of page 3 */
	CHECK_EQ(umm_madvise(a, A + 2 * P, 3 * P, MADV_REMOVE), 0);
	CHECK_EQ(rd(b, B + 3 * P), 0);		/* gone in the other mm too */
	CHECK_EQ(rd(b, B + 5 * P), 6);
	CHECK_EQ(rd(b, B + 16 * P + 3 * P), 77);	/* the private copy stays */
	CHECK_EQ(umm_madvise(b, B + 16 * P, P, MADV_REMOVE), -EACCES);
	umm_mm_destroy(a);
	umm_mm_destroy(b);
	umm_file_put(f);
	frames_end();
}

static void test_fork_and_mremap(void)
{
	struct umm_file *f;
	struct umm_mm *a, *c;

	frames_begin();
	f = umm_file_create("fm", 8 * P, 0);
	a = umm_mm_create(NULL);
	CHECK_EQ(umm_mmap(a, A, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(a, B, 8 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 0), (int64_t)B);
	wr(a, A, 5);
	wr(a, B + P, 6);	/* private copy: the VMA gets an anon_vma */
	CHECK_EQ(umm_fork(a, &c), 0);
	wr(c, A + 8, 9);		/* shared: the parent sees it */
	CHECK_EQ(rd(a, A + 8), 9);
	CHECK_EQ(rd(c, B + P), 6);
	wr(c, B + P, 60);		/* private: it does not */
	CHECK_EQ(rd(a, B + P), 6);
	/* truncation reaches the child's mappings as well */
	CHECK_EQ(umm_file_truncate(f, 4 * P), 0);
	CHECK_EQ(umm_fault(c, B + 5 * P, UMM_READ), -EIO);
	CHECK_EQ(umm_fault(a, A + 5 * P, UMM_READ), -EIO);
	/* a moved mapping keeps its pages and stays in the file's rmap */
	CHECK_EQ(umm_mremap(a, A, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, A + 64 * P),
		 (int64_t)(A + 64 * P));
	CHECK_EQ(rd(a, A + 64 * P), 5);
	CHECK_EQ(umm_file_truncate(f, P), 0);
	CHECK_EQ(umm_fault(a, A + 64 * P + 2 * P, UMM_READ), -EIO);
	CHECK_EQ(rd(a, A + 64 * P), 5);
	umm_mm_destroy(c);
	umm_mm_destroy(a);
	umm_file_put(f);
	frames_end();
}

/* Which pages of [addr, addr + n pages) umm_mincore calls resident. */
static void cached(struct umm_mm *mm, uint64_t addr, unsigned n, unsigned *first,
		   unsigned *last, unsigned *count)
{
	unsigned char vec[128];

	CHECK(n <= sizeof(vec));
	CHECK_EQ(umm_mincore(mm, addr, n * P, vec), 0);
	*first = *last = ~0u;
	*count = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!(vec[i] & 1))
			continue;
		if (*first == ~0u)
			*first = i;
		*last = i;
		(*count)++;
	}
}

/*
 * A miss reads around the page (32 pages centred on it), ahead of it under
 * MADV_SEQUENTIAL, only it under MADV_RANDOM; what was read ahead holds
 * the file's bytes, and a partial last page reads zeroes past the end.
 */
static void test_host_readahead(void)
{
	char path[64];
	int fd = host_file(100, 100, path);
	struct umm_file *f = umm_file_from_fd(fd, O_RDONLY);
	struct umm_mm *mm = umm_mm_create(NULL);
	unsigned first, last, n;

	CHECK(f && mm);
	unlink(path);
	CHECK_EQ(umm_mmap(mm, A, 101 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0),
		 (int64_t)A);
	CHECK_EQ(rd(mm, A + 50 * P) & 0xff, 51);
	cached(mm, A, 101, &first, &last, &n);
	CHECK_EQ(first, 34);
	CHECK_EQ(last, 65);
	CHECK_EQ(n, 32);
	for (unsigned i = 34; i < 66; i++)
		CHECK_EQ(rd(mm, A + i * P + 8) & 0xff, i + 1);
	/* the window clipped to the file's end, the tail zeroed */
	CHECK_EQ(rd(mm, A + 100 * P) & 0xff, 101);
	CHECK_EQ(rd(mm, A + 100 * P + 200), 0);
	cached(mm, A, 101, &first, &last, &n);
	CHECK_EQ(last, 100);
	CHECK_EQ(n, 32 + 16 + 1);	/* 84..100 added: 66..83 stay out */
	/* near the start the window starts at 0, still 32 pages: 0..31 */
	CHECK_EQ(rd(mm, A + 5 * P) & 0xff, 6);
	cached(mm, A, 101, &first, &last, &n);
	CHECK_EQ(first, 0);
	CHECK_EQ(n, 32 + 32 + 16 + 1);
	CHECK_EQ(umm_munmap(mm, A, 101 * P), 0);
	umm_file_put(f);

	/* MADV_RANDOM: one page; MADV_SEQUENTIAL: from the page on */
	f = umm_file_from_fd(fd, O_RDONLY);
	CHECK(f);
	CHECK_EQ(umm_mmap(mm, A, 101 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0),
		 (int64_t)A);
	CHECK_EQ(umm_madvise(mm, A, 50 * P, MADV_RANDOM), 0);
	CHECK_EQ(umm_madvise(mm, A + 50 * P, 51 * P, MADV_SEQUENTIAL), 0);
	CHECK_EQ(rd(mm, A + 10 * P) & 0xff, 11);
	cached(mm, A, 50, &first, &last, &n);
	CHECK(first == 10 && n == 1);
	CHECK_EQ(rd(mm, A + 60 * P) & 0xff, 61);
	cached(mm, A + 50 * P, 51, &first, &last, &n);
	CHECK(first == 10 && last == 41 && n == 32);
	umm_mm_destroy(mm);
	umm_file_put(f);
	close(fd);
}

static void test_bad_input(void)
{
	char path[64];
	int fd = host_file(1, 0, path), ro, wo;
	struct umm_mm *mm = umm_mm_create(NULL);
	struct umm_file *f;

	errno = 0;
	CHECK(!umm_file_from_fd(-1, O_RDONLY) && errno == EBADF);
	ro = open(path, O_RDONLY);
	wo = open(path, O_WRONLY);
	CHECK(ro >= 0 && wo >= 0);
	CHECK(!umm_file_from_fd(ro, O_RDWR) && errno == EACCES);
	{
		int closed = dup(ro);

		close(closed);
		CHECK(!umm_file_from_fd(closed, O_RDONLY) && errno == EBADF);
	}
	{
		int dir = open("/tmp", O_RDONLY | O_DIRECTORY);

		CHECK(!umm_file_from_fd(dir, O_RDONLY) && errno == ENODEV);
		close(dir);
	}
	CHECK(!umm_file_create(NULL, P, 0) && errno == EINVAL);
	CHECK(!umm_file_create("a/b", P, 0) && errno == EINVAL);
	CHECK(!umm_file_create("x", P, UMM_FILE_DAX) && errno == EOPNOTSUPP);
	CHECK(!umm_file_create("x", P, 0x80) && errno == EINVAL);
	CHECK_EQ(umm_mmap(mm, 0, P, PROT_READ, MAP_SHARED, NULL, 0), -EBADF);

	f = umm_file_from_fd(ro, O_RDONLY);
	CHECK(f);
	CHECK_EQ(umm_mmap(mm, A, P, RW, MAP_SHARED | MAP_FIXED, f, 0), -EACCES);
	CHECK_EQ(umm_mmap(mm, A, P, RW, MAP_PRIVATE | MAP_FIXED, f, 0), (int64_t)A);
	CHECK_EQ(umm_mmap(mm, B, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0), (int64_t)B);
	CHECK_EQ(umm_mprotect(mm, B, P, RW), -EACCES);
	CHECK_EQ(umm_mmap(mm, A, P, PROT_READ, MAP_SHARED | MAP_FIXED, f, 1), -EINVAL);
	CHECK_EQ(umm_mmap(mm, A, P, PROT_READ, MAP_SHARED | MAP_GROWSDOWN, f, 0), -EINVAL);
	CHECK_EQ(umm_mmap(mm, 0, P, PROT_READ, MAP_SHARED_VALIDATE | 0x100000, f, 0),
		 -EOPNOTSUPP);
	CHECK_EQ(umm_mmap(mm, 0, 2 * P, PROT_READ, MAP_PRIVATE, f, 0x7ffffffffffff000ULL),
		 -EOVERFLOW);
	CHECK_EQ(umm_file_truncate(f, 0), -EINVAL);	/* not open for writing */
	umm_file_put(f);
	f = umm_file_from_fd(wo, O_WRONLY);
	CHECK(f);
	CHECK_EQ(umm_mmap(mm, A, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0), -EACCES);
	umm_file_put(f);

	CHECK_EQ(umm_msync(mm, A + 1, P, MS_SYNC), -EINVAL);
	CHECK_EQ(umm_msync(mm, A, P, MS_SYNC | MS_ASYNC), -EINVAL);
	CHECK_EQ(umm_msync(mm, A, P, 0x100), -EINVAL);
	CHECK_EQ(umm_msync(mm, A, 0, MS_SYNC), 0);
	CHECK_EQ(umm_msync(mm, A, 3 * P, MS_SYNC), -ENOMEM);	/* a hole after A */
	CHECK_EQ(umm_msync(mm, A - 16 * P, P, MS_ASYNC), -ENOMEM);
	CHECK_EQ(umm_msync(NULL, A, P, MS_SYNC), -EINVAL);
	umm_mm_destroy(mm);
	close(ro);
	close(wo);
	close(fd);
	unlink(path);
}

int main(void)
{
	RUN(test_memfd_shared_two_mms);
	RUN(test_maps_line);
	RUN(test_host_read_and_cow);
	RUN(test_host_shared_writeback);
	RUN(test_host_fd_flags);
	RUN(test_last_put_outside_mmap_lock);
	RUN(test_host_opens_share);
	RUN(test_host_pageout);
	RUN(test_truncate_everywhere);
	RUN(test_punch_everywhere);
	RUN(test_fork_and_mremap);
	RUN(test_host_readahead);
	RUN(test_bad_input);
	return test_done();
}
