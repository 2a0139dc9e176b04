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
 */
#include <errno.h>
#include <string.h>
#include <umm/umm.h>
#include "mm.h"
#include "memory.h"
#include "tlb.h"

/*
 * walk_fill - translate @addr for a read or write by walking the tables,
 * and cache the result. Sets accessed (and, for a write, dirty) as a CPU
 * would, atomically, since locked updaters clear-then-set entries.
 * Locking: inside an access section of @mm; takes RCU.
 * Return: the host address, or NULL when the fault path must decide.
 */
static char *walk_fill(struct umm_mm *mm, struct sw_tlb *t, uint64_t addr, bool write)
{
	char *host = NULL;
	pte_t *ptep, pte;
	pmd_t *pmd;

	rcu_read_lock();
	pmd = pmd_off_lockless(mm, addr);
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
		sw_tlb_fill(t, addr, host, pte_write(pte) && (write || pte_dirty(pte)));
		break;
	}
	pte_unmap(ptep);
out:
	rcu_read_unlock();
	return host ? host + (addr & ~PAGE_MASK) : NULL;
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

	if (!mm || (!buf && len))
		return -EINVAL;
	while (done < len) {
		struct sw_tlb *t;
		vm_fault_t fault;
		uint64_t a;
		int err;

		t = access_begin(mm);
		if (!t)
			return done ? (int64_t)done : -ENOMEM;
		while (done < len) {
			size_t n;
			char *host;

			a = addr + done;
			if (a < addr || a >= mm->task_size)
				break;
			n = PAGE_SIZE - (a & ~PAGE_MASK);
			if (n > len - done)
				n = len - done;
			host = sw_tlb_lookup(t, a, write);
			if (!host)
				host = walk_fill(mm, t, a, write);
			if (!host)
				break;
			if (write)
				memcpy(host, buf + done, n);
			else
				memcpy(buf + done, host, n);
			done += n;
		}
		access_end(t);
		if (done == len)
			break;
		a = addr + done;
		if (a < addr || a >= mm->task_size)
			return done ? (int64_t)done : -EFAULT;
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
