/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memory.h - the fault and zap layer's internal interface.
 */
#ifndef UMM_MEMORY_H
#define UMM_MEMORY_H

#include "pgtable.h"

struct zap_details;
struct mmu_gather;
struct vm_area_struct;

typedef unsigned int vm_fault_t;
#define VM_FAULT_OOM		0x1u
#define VM_FAULT_SIGBUS		0x2u
#define VM_FAULT_SIGSEGV	0x4u
#define VM_FAULT_RETRY		0x8u
#define VM_FAULT_FALLBACK	0x10u	/* internal: no huge page, take small ones */
#define VM_FAULT_NOPAGE		0x20u	/* internal: no page to map: a leaf mapped it, or look again */

#define FAULT_FLAG_WRITE	0x1u
#define FAULT_FLAG_VMA_LOCK	0x2u	/* under a VMA read lock, not mmap_lock */
#define FAULT_FLAG_UNSHARE	0x4u	/* a read pin: give the mm its own copy */

/* The zero page: pfn 0, reserved, never written, all zeroes. */
#define ZERO_PFN	0UL

/*
 * mk_zero_pte - an entry mapping the zero page into @vma, as a read fault
 * of untouched anonymous memory makes: never writable, the first write
 * faults and copies. Locking: none.
 */
pte_t mk_zero_pte(struct vm_area_struct *vma);

/*
 * unmap_page_range - clear every entry mapping [addr, end); the frames go
 * to @tlb and are released after the flush (tlb_finish_mmu).
 * Locking: mmap_lock held, the range's VMAs write-locked or out of the
 *          tree (faults excluded); takes the page-table locks itself.
 */
void unmap_page_range(struct mmu_gather *tlb, uint64_t addr, uint64_t end,
		      const struct zap_details *details);
/*
 * zap_page_range - unmap_page_range() with its own mmu_gather: the pages
 * go, PTE markers (guard regions) stay, as MADV_DONTNEED wants.
 * unmap_range_pages - the same for a range whose VMAs go: markers too.
 */
void zap_page_range(struct umm_mm *mm, uint64_t start, uint64_t end);
void unmap_range_pages(struct umm_mm *mm, uint64_t start, uint64_t end);
/*
 * unmap_locked_vma - unmap_range_pages() of the part of [start, end) that
 * the VM_LOCKED @vma covers, its folios munlocked as their entries go (the
 * kernel's rmap removal does it for a locked VMA): call it for each VMA
 * going before unmap_range_pages() of the whole range. Nothing for a VMA
 * not locked. Locking: as unmap_page_range.
 */
void unmap_locked_vma(struct vm_area_struct *vma, uint64_t start, uint64_t end);

/* What a zap leaves alone (the kernel's zap_details). */
struct zap_details {
	bool skip_anon;		/* keep anonymous pages: a hole punch keeps COWs */
	bool drop_markers;	/* the range is unmapped: its PTE markers go too */
	bool reclaim_pt;	/* MADV_DONTNEED: PTE tables emptied whole go too */
	bool munlock;		/* the range is a VM_LOCKED VMA's: munlock_folio */
};

/*
 * zap_page_range_details - zap_page_range() for a file's rmap walker:
 * also without mmap_lock, the VMA found in i_mmap (its tables stay while
 * it is linked), racing faults under the PTE locks.
 */
void zap_page_range_details(struct umm_mm *mm, uint64_t start, uint64_t end,
			    const struct zap_details *details);

/*
 * handle_mm_fault - resolve a fault at @address in @vma.
 * Locking: @vma read-locked (FAULT_FLAG_VMA_LOCK) or mmap_lock held.
 * Return: 0 (done, or raced: look again), or VM_FAULT_* bits.
 */
vm_fault_t handle_mm_fault(struct vm_area_struct *vma, uint64_t address,
			   unsigned int flags);

/* One fault in progress, as the kernel's struct vm_fault. */
struct vm_fault {
	struct vm_area_struct *vma;
	uint64_t address;	/* page-aligned */
	unsigned int flags;	/* FAULT_FLAG_* */
	pmd_t *pmd;
	pte_t orig_pte;
	pte_t *pte;		/* mapped (RCU) when set */
	spinlock_t *ptl;
};

/*
 * vmf_anon_prepare - make sure the fault's VMA has an anon_vma.
 * Locking: the VMA held (read lock or mmap_lock); may take mmap_lock
 *          (read, trylock under a VMA lock).
 * Return: 0, VM_FAULT_RETRY (take mmap_lock and fault again) or VM_FAULT_OOM.
 */
vm_fault_t vmf_anon_prepare(struct vm_fault *vmf);

/* mprotect's rules for an entry, shared with change_huge_pmd. */
pte_t pte_modify(pte_t pte, pgprot_t prot);
bool can_change_pte_writable(unsigned long vm_flags, pte_t pte);

/*
 * do_user_fault - find the VMA (per-VMA lock first, mmap_lock when that
 * fails), check rights with @vma_refused (NULL: the CPU's rule; returns
 * true when access is refused) and fault. With the CPU's rule a fault
 * below a VM_GROWSDOWN VMA grows it first, as a CPU fault does;
 * get_user_pages' (umm_read/write/pin) never grows a stack, as Linux's
 * since 6.5. Locking: none held on entry.
 */
vm_fault_t do_user_fault(struct umm_mm *mm, uint64_t addr, unsigned int access,
			 bool (*vma_refused)(struct vm_area_struct *, unsigned int));
int fault_to_errno(vm_fault_t fault);

/*
 * folio_mark_dirty_mapped - folio_mark_dirty for a folio that needs no
 * tag: an anonymous or shmem one (shmem's dirty_folio is a no-op but
 * for the flag). Host files need nothing here: their write faults dirty
 * the cache page, with its writeback tag, under the folio lock.
 * Locking: the lock of an entry mapping @head held (which keeps its file).
 */
void folio_mark_dirty_mapped(struct page *head);

/*
 * faultin_page_range - fault in [start, end) for reading or writing, as
 * MADV_POPULATE_(READ|WRITE) does through get_user_pages.
 * Locking: mmap_lock held for read.
 * Return: 0; -ENOMEM at a hole or out of memory; -EINVAL for a VMA the
 *         access is not allowed in; -EFAULT when a fault fails (SIGBUS,
 *         SIGSEGV). The pages before the failing one stay populated.
 */
int faultin_page_range(struct umm_mm *mm, uint64_t start, uint64_t end, bool write);

#endif /* UMM_MEMORY_H */
