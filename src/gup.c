// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * gup.c - memory access through the software MMU: umm_read/umm_write.
 *
 * The fast path translates through the thread's software TLB, and on a
 * miss walks the page tables locklessly (as GUP-fast does: inside RCU, so
 * no table can be freed under it, every entry read once and checked). Any
 * entry that does not allow the access sends it to the fault path, which
 * checks the VMA as get_user_pages does and faults the page in.
 * Copies run inside access sections (tlb.h), so a munmap or mprotect that
 * returns has waited for every copy that used an old translation.
 *
 * umm_pin is pin_user_pages: under mmap_lock, each page is faulted in as
 * needed and pinned (folio_pin) under the PTE or PMD lock,
 * so the frame outlives any unmapping until umm_unpin.
 *
 * faultin_page_range is MADV_POPULATE_(READ|WRITE)'s get_user_pages: the
 * same faults, nothing pinned, entries touched as FOLL_TOUCH does.
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "huge_memory.h"
#include "memory.h"
#include "tlb.h"
#include "rmap.h"
#include "filemap.h"

/*
 * Guest memory belongs to the guest: two guest threads racing on it is the
 * guest's affair, not a bug of umm's, so under TSan the copies to and from
 * it are not watched. (Before copy_chunk they were not either, by chance:
 * GCC expanded the memcpy into a string move, which TSan does not see.)
 */
#if UMM_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);

static inline void guest_copy_begin(void)
{
	AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
	AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
}

static inline void guest_copy_end(void)
{
	AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
	AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
}
#else
static inline void guest_copy_begin(void)
{
}

static inline void guest_copy_end(void)
{
}
#endif

/* Out of line, so that the compiler calls the library's memcpy here. */
static __noipa void copy_long(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
}

/* walk_fill's step for a PMD leaf. Locking: inside RCU. */
static char *walk_fill_huge(struct sw_tlb *t, pmd_t *pmd, uint64_t addr, bool write)
{
	uint64_t v = huge_pmd_set_access(pmd, write);
	char *host;

	if (!v)
		return NULL;
	host = pfn_to_virt(pmd_pfn(__pmd(v)) + pte_index(addr));
	sw_tlb_fill(t, addr, host, !(v & _PAGE_NOREAD),
		    (v & _PAGE_RW) && (write || (v & _PAGE_DIRTY)));
	return host;
}

/*
 * walk_fill - translate @addr for a read or write by walking the tables,
 * and cache the result. Sets accessed (and, for a write, dirty) as a CPU
 * would, atomically, since locked updaters clear-then-set entries.
 * Locking: takes RCU. Inside an access section of @mm for the caller to
 * use the address; outside one, what it cached is for the next section.
 * Return: the host address, or NULL when the fault path must decide.
 */
static char *walk_fill(struct umm_mm *mm, struct sw_tlb *t, uint64_t addr, bool write)
{
	char *host = NULL;
	pte_t *ptep, pte;
	pmd_t *pmd;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	if (pmd && pmd_leaf(pmdp_get_lockless(pmd))) {
		host = walk_fill_huge(t, pmd, addr, write);
		goto out;
	}
	ptep = pmd ? pte_offset_map(pmd, addr) : NULL;
	if (!ptep)
		goto out;
	for (;;) {
		uint64_t want = _PAGE_ACCESSED | (write ? _PAGE_DIRTY | _PAGE_SOFT_DIRTY : 0);

		pte = ptep_get(ptep);
		if (!(pte_flags(pte) & _PAGE_PRESENT))
			break;			/* none, or PROT_NONE */
		if (write ? !pte_write(pte) : (pte_flags(pte) & _PAGE_NOREAD))
			break;
		if ((pte_val(pte) & want) != want &&
		    !cmpxchg_bool(&ptep->pte, pte_val(pte), pte_val(pte) | want))
			continue;		/* changed under us: read it again */
		host = pfn_to_virt(pte_pfn(pte));
		/* cache writes only once dirty, so the first write sets it */
		sw_tlb_fill(t, addr, host, !(pte_flags(pte) & _PAGE_NOREAD),
			    pte_write(pte) && (write || pte_dirty(pte)));
		break;
	}
	pte_unmap(ptep);
out:
	rcu_read_unlock();
	return host ? host + (addr & ~PAGE_MASK) : NULL;
}

/*
 * copy_chunk - memcpy for one page's part of an access. Guest accesses are
 * mostly 1 to 8 bytes, which a plain memcpy of a length the compiler
 * cannot see expands to a string move whose start-up costs more than the
 * rest of a TLB hit: those go by loads and stores of their own size (an
 * overlapping pair for the sizes between), and longer ones by the
 * library's memcpy.
 */
static inline void copy_chunk(char *dst, const char *src, size_t n)
{
	uint64_t a8, b8;
	uint32_t a4, b4;

	if (n >= 8 && n <= 16) {
		memcpy(&a8, src, 8);
		memcpy(&b8, src + n - 8, 8);
		memcpy(dst, &a8, 8);
		memcpy(dst + n - 8, &b8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(&a4, src, 4);
		memcpy(&b4, src + n - 4, 4);
		memcpy(dst, &a4, 4);
		memcpy(dst + n - 4, &b4, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i];
	} else {
		copy_long(dst, src, n);
	}
}

/* get_user_pages' rule: reading needs VM_READ, writing VM_WRITE. */
static bool gup_refused(struct vm_area_struct *vma, unsigned int access)
{
	if (access & UMM_WRITE)
		return !(vma->vm_flags & VM_WRITE);
	return !(vma->vm_flags & VM_READ);
}

static int64_t access_vm(struct umm_mm *mm, uint64_t addr, char *buf,
			 size_t len, bool write)
{
	size_t done = 0;

	/*
	 * process_vm_readv/writev refuse a length that is negative as a
	 * ssize_t (iovec_from_user) before touching anything; the count we
	 * return must fit in it too.
	 */
	if (!mm || (!buf && len) || len > INT64_MAX)
		return -EINVAL;
	while (done < len) {
		struct sw_tlb *t;
		vm_fault_t fault;
		char *host;
		uint64_t a;
		int err;

		t = tlb_get(mm);
		if (!t)
			return done ? (int64_t)done : -ENOMEM;
		a = addr + done;
		if (a < addr || a >= mm->task_size)
			return done ? (int64_t)done : -EFAULT;
		/*
		 * Translate the first page before entering the section: a
		 * walk that finds nothing goes to the fault path without the
		 * section's store-load fence, which then comes once a fault,
		 * after it. What the TLB gave or the walk cached outside the
		 * section is used only if access_begin() kept the entries.
		 */
		host = sw_tlb_lookup(t, a, write);
		if (!host)
			host = walk_fill(mm, t, a, write);
		if (!host)
			goto fault;
		if (!access_begin(t))
			host = NULL;
		while (done < len) {
			size_t n;

			a = addr + done;
			if (a < addr || a >= mm->task_size)
				break;
			n = PAGE_SIZE - (a & ~PAGE_MASK);
			if (n > len - done)
				n = len - done;
			if (!host)
				host = sw_tlb_lookup(t, a, write);
			if (!host)
				host = walk_fill(mm, t, a, write);
			if (!host)
				break;
			guest_copy_begin();
			if (write)
				copy_chunk(host, buf + done, n);
			else
				copy_chunk(buf + done, host, n);
			guest_copy_end();
			done += n;
			host = NULL;
		}
		access_end(t);
		if (done == len)
			break;
		a = addr + done;
		if (a < addr || a >= mm->task_size)
			return done ? (int64_t)done : -EFAULT;
fault:
		fault = do_user_fault(mm, a, write ? UMM_WRITE : UMM_READ, gup_refused);
		/* as get_user_pages: SIGBUS reads as a bad address too */
		err = fault & VM_FAULT_OOM ? -ENOMEM : fault ? -EFAULT : 0;
		if (err)
			return done ? (int64_t)done : err;
	}
	return (int64_t)done;
}

__visible int64_t umm_read(struct umm_mm *mm, uint64_t addr, void *dst, size_t len)
{
	return access_vm(mm, addr, dst, len, false);
}

__visible int64_t umm_write(struct umm_mm *mm, uint64_t addr, const void *src, size_t len)
{
	return access_vm(mm, addr, (char *)src, len, true);
}

/*
 * follow_page_pin on a PMD leaf: an anonymous THP, or a shmem THP mapped
 * from its file's cache. Pinning a file folio needs no unsharing - it is
 * the cache's page, whoever maps it, and carries no PG_anon_exclusive (a
 * private leaf of one is read-only: a write, or a read pin of private
 * writable memory, faults first, and the fault drops the leaf and copies
 * one page, as the PTE path does). A file leaf is mapped in place
 * otherwise: a read pin, or a write pin of a shared writable leaf.
 * Locking: mmap_lock held; takes the PMD lock.
 */
static struct page *follow_huge_pmd_pin(struct umm_mm *mm, struct vm_area_struct *vma,
					pmd_t *pmd, uint64_t addr, bool write,
					bool *unshare, void **host)
{
	bool need_own = write || (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
	spinlock_t *ptl = pmd_lock(mm, pmd);
	struct page *head = NULL;
	pmd_t v = pmdp_get(pmd);

	if (!pmd_leaf(v) || !(pmd_flags(v) & _PAGE_PRESENT) ||
	    (pmd_flags(v) & _PAGE_SPECIAL) || (need_own && !pmd_write(v)))
		goto out;	/* split meanwhile, or a fault must come first */
	head = pmd_page(v);
	/* a private THP a fork shares: this mm pins its own copy (unshare) */
	if (!(vma->vm_flags & VM_SHARED) && PageAnon(head) &&
	    !test_bit_page(PG_anon_exclusive, head)) {
		*unshare = true;
		head = NULL;
		goto out;
	}
	*host = pfn_to_virt(pmd_pfn(v) + pte_index(addr));
	folio_pin(head);
	if (write)
		__atomic_fetch_or(&pmd->pmd, _PAGE_DIRTY | _PAGE_SOFT_DIRTY |
				  _PAGE_ACCESSED, __ATOMIC_RELEASE);
out:
	spin_unlock(ptl);
	return head;
}

/*
 * follow_page_pin - pin the page mapped at @addr if its entry allows the
 * access (and, for private writable memory, is this mm's own copy, so a
 * fork cannot share it later). Locking: mmap_lock held; takes the PTE lock.
 * Return: the page (pinned), or NULL when a fault must come first;
 *         *@unshare then says a read fault must give this mm its own copy.
 */
static struct page *follow_page_pin(struct umm_mm *mm, struct vm_area_struct *vma,
				    uint64_t addr, bool write, bool *unshare, void **host)
{
	struct page *page = NULL;
	spinlock_t *ptl;
	pmd_t *pmd;
	pte_t *ptep, pte;
	bool need_own = write || (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
	rcu_read_unlock();
	if (!pmd)
		return NULL;	/* upper tables stay: mmap_lock is held */
	if (pmd_leaf(pmdp_get_lockless(pmd)))
		return follow_huge_pmd_pin(mm, vma, pmd, addr, write, unshare, host);
	ptep = pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!ptep)
		return NULL;
	pte = ptep_get(ptep);
	if (!(pte_flags(pte) & _PAGE_PRESENT) || (need_own && !pte_write(pte)))
		goto out;
	*host = pfn_to_virt(pte_pfn(pte));	/* the page itself, not its head */
	if (pte_special(pte)) {
		page = pfn_to_page(0);	/* the zero page: never freed, not counted */
		goto out;
	}
	page = pfn_to_page(pte_pfn(pte));
	/* a private page a fork shares: pin this mm's own copy instead */
	if (!(vma->vm_flags & VM_SHARED) && PageAnon(compound_head(page)) &&
	    page_maybe_shared_anon(page)) {
		*unshare = true;
		page = NULL;
		goto out;
	}
	page = compound_head(page);	/* pins count on the folio */
	folio_pin(page);
	if (write)	/* the pinner may write: the page is dirty from now */
		__atomic_fetch_or(&ptep->pte, _PAGE_DIRTY | _PAGE_SOFT_DIRTY |
				  _PAGE_ACCESSED, __ATOMIC_RELEASE);
out:
	pte_unmap_unlock(ptep, ptl);
	return page;
}

static void unpin_one(void *ptr)
{
	uint64_t pfn;

	if (!ptr || (char *)ptr < umm_frames.base)
		return;
	pfn = virt_to_pfn(ptr);
	if (!pfn_valid(pfn))
		return;		/* the zero page is not counted */
	folio_unpin(compound_head(pfn_to_page(pfn)));
}

__visible int umm_pin(struct umm_mm *mm, uint64_t addr, size_t npages,
		      unsigned int access, void **host_ptrs)
{
	bool write = access & UMM_WRITE;
	size_t i;
	int err = 0;

	if (!mm || (npages && !host_ptrs) || !access ||
	    (access & ~(UMM_READ | UMM_WRITE)))
		return -EINVAL;
	if (!npages)
		return 0;
	addr &= PAGE_MASK;	/* as GUP: the pages from the one holding @addr */
	if (npages > mm->task_size >> PAGE_SHIFT || addr >= mm->task_size ||
	    npages > (mm->task_size - addr) >> PAGE_SHIFT)
		return -EFAULT;
	mmap_read_lock(mm);
	for (i = 0; i < npages; i++) {
		uint64_t a = addr + i * PAGE_SIZE;
		bool split_tried = false;
		struct page *page;
		void *host = NULL;

		for (;;) {
			struct vm_area_struct *vma = vma_lookup(mm, a);
			bool unshare = false;
			unsigned int flags;
			vm_fault_t fault;

			if (!vma || gup_refused(vma, access)) {
				err = -EFAULT;
				goto undo;
			}
			page = follow_page_pin(mm, vma, a, write, &unshare, &host);
			if (page)
				break;
			/* private writable memory is pinned as its own copy */
			flags = (write || (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE) ?
				FAULT_FLAG_WRITE : 0;
			if (unshare && !flags)
				flags = FAULT_FLAG_UNSHARE;
			fault = handle_mm_fault(vma, a, flags);
			/* out of memory: partly unmapped THPs give their holes back, once */
			if ((fault & VM_FAULT_OOM) && !split_tried && deferred_split_pending()) {
				split_tried = true;
				if (deferred_split_scan(mm))
					continue;
			}
			if (fault & ~VM_FAULT_RETRY) {
				err = fault & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
				goto undo;
			}
		}
		host_ptrs[i] = host;
	}
	mmap_read_unlock(mm);
	return 0;
undo:
	mmap_read_unlock(mm);
	while (i--) {
		unpin_one(host_ptrs[i]);
		host_ptrs[i] = NULL;
	}
	return err;
}

__visible void umm_unpin(struct umm_mm *mm, void **host_ptrs, size_t npages)
{
	(void)mm;
	if (!host_ptrs)
		return;
	for (size_t i = 0; i < npages; i++)
		unpin_one(host_ptrs[i]);
}

/*
 * The pinner wrote the page at @ptr through its pointer, which no entry
 * saw: mark it dirty, as set_page_dirty_lock(), so that writeback writes
 * it out and pageout does not drop it as clean. A host file's page is
 * tagged for writeback under its lock, while the cache still holds it (a
 * truncated one keeps just the flag, as the kernel's).
 * Locking: takes the folio lock.
 */
static void unpin_mark_dirty(void *ptr)
{
	struct address_space *mapping;
	struct page *head;
	uint64_t pfn;

	if (!ptr || (char *)ptr < umm_frames.base)
		return;
	pfn = virt_to_pfn(ptr);
	if (!pfn_valid(pfn))
		return;		/* the zero page: never written */
	head = compound_head(pfn_to_page(pfn));
	lock_page(head);
	mapping = PageAnon(head) ? NULL : READ_ONCE(head->mapping);
	if (mapping && mapping->kind == FILE_HOST)
		set_page_dirty(mapping, head);
	else
		set_bit_page(PG_dirty, head);
	unlock_page(head);
}

__visible void umm_unpin_dirty(struct umm_mm *mm, void **host_ptrs, size_t npages,
			       int make_dirty)
{
	(void)mm;
	if (!host_ptrs)
		return;
	for (size_t i = 0; i < npages; i++) {
		if (make_dirty)
			unpin_mark_dirty(host_ptrs[i]);
		unpin_one(host_ptrs[i]);
	}
}

/* ---- MADV_POPULATE_(READ|WRITE) ---- */

/* check_vma_flags() for a populate: its refusal is -EINVAL there. */
static bool populate_refused(struct vm_area_struct *vma, bool write)
{
	return (vma->vm_flags & (VM_IO | VM_PFNMAP)) ||
	       gup_refused(vma, write ? UMM_WRITE : UMM_READ);
}

/*
 * One PTE that may already give the access: FOLL_TOUCH makes it accessed
 * and, for a write, the page dirty (folio_mark_dirty; the entry's own
 * dirty bit stays as it is). A forced read (@force: mlock's, of a VMA
 * that may be read but is not readable) takes any present page.
 * Locking: the PTE lock held.
 * Return: false when the access needs a fault.
 */
static bool populate_touch_pte(pte_t *ptep, bool write, bool force)
{
	pte_t pte = ptep_get(ptep);

	if (!(pte_flags(pte) & _PAGE_PRESENT))
		return false;
	if (write ? !pte_write(pte) : (!force && (pte_flags(pte) & _PAGE_NOREAD)))
		return false;
	/* lockless walkers set these bits with CAS: do the same */
	while (!pte_young(pte) &&
	       !cmpxchg_bool(&ptep->pte, pte_val(pte), pte_val(pte) | _PAGE_ACCESSED))
		pte = ptep_get(ptep);
	if (!write || pte_dirty(pte) || pte_special(pte))
		return true;
	folio_mark_dirty_mapped(compound_head(pfn_to_page(pte_pfn(pte))));
	return true;
}

/*
 * A PMD leaf that may already give the access, as follow_huge_pmd(): a
 * write makes it accessed and dirty (touch_pmd); a read leaves it as it
 * is - x86's pmdp_set_access_flags() changes a leaf only for a write, and
 * no folio_mark_accessed() follows - so a THP that clear_refs made old
 * stays old through mlock or MAP_POPULATE. A forced read takes any
 * present leaf. @v: the leaf as read once; a table there now (a split
 * since) is the fault's to see. Locking: none (the leaf is set with CAS).
 * Return: false when the access needs a fault.
 */
static bool populate_touch_pmd(pmd_t *pmd, pmd_t v, bool write, bool force)
{
	uint64_t f = pmd_flags(v);

	if (write)
		return huge_pmd_set_access(pmd, true);
	if ((f & (_PAGE_PSE | _PAGE_PRESENT)) != (_PAGE_PSE | _PAGE_PRESENT))
		return false;	/* none, PROT_NONE, frozen */
	return force || !(f & _PAGE_NOREAD);
}

/*
 * populate_scan - walk the entries from @addr for as long as they give
 * the access, touching them.
 * Locking: mmap_lock held (the upper tables stay); takes the PTE locks.
 * Return: the first address in [addr, end) that needs a fault, or @end.
 */
static uint64_t populate_scan(struct umm_mm *mm, uint64_t addr, uint64_t end, bool write,
			      bool force)
{
	while (addr < end) {
		uint64_t next = pmd_addr_end(addr, end);
		spinlock_t *ptl;
		pte_t *ptep;
		pmd_t *pmd, v;

		rcu_read_lock();
		pmd = pmd_off_lockless(mm, addr);
		rcu_read_unlock();
		if (!pmd)
			return addr;
		v = pmdp_get_lockless(pmd);
		if (pmd_leaf(v)) {
			if (!populate_touch_pmd(pmd, v, write, force))
				return addr;
			addr = next;
			continue;
		}
		ptep = pte_offset_map_lock(mm, pmd, addr, &ptl);
		if (!ptep)
			return addr;	/* none, or a leaf now: the fault decides */
		for (; addr < next; addr += PAGE_SIZE, ptep++)
			if (!populate_touch_pte(ptep, write, force))
				break;
		pte_unmap_unlock(ptep, ptl);
		if (addr < next)
			return addr;
	}
	return end;
}

/*
 * Fault [addr, end) of @vma in, FOLL_TOUCH style: entries that already
 * give the access are touched, the others faulted. Out of memory, THPs
 * partly unmapped give their holes back once first.
 * Locking: mmap_lock held. Return: 0, -ENOMEM, or -EFAULT for a fault that
 * would raise a signal.
 */
static int populate_pages(struct umm_mm *mm, struct vm_area_struct *vma, uint64_t addr,
			  uint64_t end, bool write, bool force)
{
	unsigned int flags = write ? FAULT_FLAG_WRITE : 0;
	bool split_tried = false;

	for (;;) {
		vm_fault_t fault;

		addr = populate_scan(mm, addr, end, write, force);
		if (addr >= end)
			return 0;
		fault = handle_mm_fault(vma, addr, flags);
		if ((fault & VM_FAULT_OOM) && !split_tried && deferred_split_pending()) {
			split_tried = true;
			if (deferred_split_scan(mm))
				continue;
		}
		if (fault & VM_FAULT_OOM)
			return -ENOMEM;
		if (fault & ~VM_FAULT_RETRY)
			return -EFAULT;
	}
}

int populate_vma_page_range(struct vm_area_struct *vma, uint64_t start, uint64_t end)
{
	bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;

	mmap_assert_locked(vma->vm_mm);
	if (vma->vm_flags & VM_LOCKONFAULT)
		return 0;
	/* forced where the VMA allows any access: PROT_NONE alone fails */
	if (!(vma->vm_flags & VM_ACCESS_FLAGS))
		return -EFAULT;
	return populate_pages(vma->vm_mm, vma, start, end, write, true);
}

int __mm_populate(struct umm_mm *mm, uint64_t start, uint64_t len, bool ignore_errors)
{
	uint64_t end = start + len, addr = start;
	int ret = 0;

	mmap_read_lock(mm);
	while (addr < end) {
		struct vm_area_struct *vma = find_vma(mm, addr);
		uint64_t stop;

		if (!vma || vma->vm_start >= end)
			break;
		if (addr < vma->vm_start)
			addr = vma->vm_start;
		stop = vma->vm_end < end ? vma->vm_end : end;
		if (!(vma->vm_flags & (VM_IO | VM_PFNMAP)))
			ret = populate_vma_page_range(vma, addr, stop);
		if (ret && !ignore_errors)
			break;
		ret = 0;
		addr = stop;
	}
	mmap_read_unlock(mm);
	return ret;
}

void mm_populate(struct umm_mm *mm, uint64_t start, uint64_t len)
{
	__mm_populate(mm, start, len, true);
}

int faultin_page_range(struct umm_mm *mm, uint64_t start, uint64_t end, bool write)
{
	uint64_t addr = start;
	int err;

	mmap_assert_locked(mm);
	while (addr < end) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);
		uint64_t vend;

		if (!vma)
			return -ENOMEM;
		if (populate_refused(vma, write))
			return -EINVAL;
		vend = vma->vm_end < end ? vma->vm_end : end;
		err = populate_pages(mm, vma, addr, vend, write, false);
		if (err)
			return err;
		addr = vend;
	}
	return 0;
}
