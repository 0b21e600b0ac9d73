/*
 * odp_mr_over_unmapped_range_fails_access_cleanly: an ODP MR over a range
 * with nothing mapped registers, and the first access to it fails as a
 * remote access error, with both QPs in the error state and nothing else.
 *
 * Linux 7.3 code paths:
 * - Registration succeeds: ib_umem_odp_get() does not look up VMAs, and
 *   rxe_odp_init_pages() only snapshots (RXE_PAGEFAULT_SNAPSHOT, no
 *   fault), where hmm_vma_walk_hole() fills HMM_PFN_ERROR without failing.
 * - The first RDMA WRITE or READ fails: the responder's rxe_odp_mr_copy()
 *   faults, hmm_range_fault() returns -EFAULT where there is no VMA,
 *   write_data_in() / read_reply() turn that into an rkey violation, and
 *   rxe NAKs with AETH_NAK_REM_ACC_ERR (class C), which the requester
 *   completes as IBV_WC_REM_ACCESS_ERR. Both QPs move to the error state.
 *   A WRITE without immediate data also raises IBV_EVENT_QP_ACCESS_ERR on
 *   the responder (RESPST_ERR_RKEY_VIOLATION_EVENT); a READ does not.
 */
#include "odp_test.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define HOLE_PAGES 4

static void access_case(enum ibv_wr_opcode opcode)
{
	bool write = opcode == IBV_WR_RDMA_WRITE;
	size_t page = odp_page_size(), size = HOLE_PAGES * page;
	struct odp_buf local = { 0 }, hole = { 0 };
	struct odp_pair p;
	int ret;

	tap_case("%s", write ? "RDMA WRITE" : "RDMA READ");
	if (!odp_pair_open(&p, write ? IBV_ODP_SUPPORT_WRITE :
				       IBV_ODP_SUPPORT_READ) ||
	    !odp_buf_alloc(&local, &p.req, 2 * page, IBV_ACCESS_LOCAL_WRITE))
		goto out;

	/* Allocated last, so that nothing else is mapped into the hole. */
	hole.size = size;
	hole.addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole.addr == MAP_FAILED) {
		tap_call_failed(errno, "mmap");
		goto out;
	}
	if (munmap(hole.addr, size)) {
		tap_call_failed(errno, "munmap");
		goto out;
	}
	hole.mr = ibv_reg_mr(p.resp.pd, hole.addr, size,
			     ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND);
	if (!tap_check(hole.mr != NULL,
		       "ODP registration over the unmapped range succeeds",
		       "ibv_reg_mr failed with errno %s (%d)",
		       errno_name(errno), errno))
		goto out;

	/* One page, at the same offset (page 1) of both buffers. */
	if (odp_post_rdma(&p, opcode, &local, &hole, page, page, 1) &&
	    odp_expect_completion(&p.req, 1, IBV_WC_REM_ACCESS_ERR,
				  IBV_WC_RDMA_WRITE, NULL)) {
		if (write)
			odp_expect_qp_event(&p.resp, IBV_EVENT_QP_ACCESS_ERR);
		odp_expect_qp_state(&p.req, IBV_QPS_ERR);
		odp_expect_qp_state(&p.resp, IBV_QPS_ERR);
	}

	ret = ibv_dereg_mr(hole.mr);
	tap_check(!ret, "the MR deregisters", "ibv_dereg_mr: errno %s (%d)",
		  errno_name(ret), ret);
	/* The premise: nothing got mapped into the hole meanwhile. */
	ret = msync(hole.addr, size, MS_ASYNC) ? errno : 0;
	tap_expect_errno("the range is still unmapped (msync)", ENOMEM, ret);
out:
	odp_buf_free(&local);
	odp_pair_close(&p);
	tap_case(NULL);
}

int main(void)
{
	tap_start("odp_mr_over_unmapped_range_fails_access_cleanly");
	/* Each case leaves its QPs in error, so each gets a fresh pair. */
	access_case(IBV_WR_RDMA_WRITE);
	access_case(IBV_WR_RDMA_READ);
	return tap_finish();
}
