/*
 * zero_length_mr_registration_is_rejected: registering a memory region of
 * length 0 at a page-aligned address fails with EINVAL, pinned or ODP.
 *
 * libibverbs and the rxe provider pass length 0 to the kernel unchanged
 * (ibv_dontfork_range() ignores size 0). Linux 7.3 then fails in:
 * - pinned: rxe_mr_init_user() -> ib_umem_get_va() -> __ib_umem_get_va(),
 *   where ib_umem_num_pages() is 0 for a page-aligned address: -EINVAL;
 * - ODP: rxe_odp_mr_init_user() -> ib_umem_odp_get() -> ib_init_umem_odp(),
 *   where start == end, so nr_entries is 0: -EINVAL.
 * Both count the pages of [ALIGN_DOWN(addr), ALIGN(addr + len)), so the
 * address must be page aligned for the range to be empty.
 */
#include "odp_test.h"

#include <errno.h>
#include <sys/mman.h>

static void expect_rejected(struct odp_side *s, void *addr, int access,
			    const char *what)
{
	struct ibv_mr *mr;

	errno = 0;
	mr = ibv_reg_mr(s->pd, addr, 0, access);
	if (mr) {
		tap_check(false, what, "ibv_reg_mr succeeded (lkey %#x)",
			  mr->lkey);
		odp_dereg_mr(mr);
		return;
	}
	tap_expect_errno(what, EINVAL, errno);
}

int main(void)
{
	size_t page = odp_page_size();
	struct odp_side s;
	void *buf = MAP_FAILED;

	tap_start("zero_length_mr_registration_is_rejected");
	if (!odp_side_open(&s, "ODP_DEV_A", "rxe_a", 0))
		goto out;
	buf = mmap(NULL, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		tap_call_failed(errno, "mmap");
		goto out;
	}

	expect_rejected(&s, buf, IBV_ACCESS_LOCAL_WRITE,
			"pinned MR of length 0 fails with EINVAL");
	expect_rejected(
		&s, buf, ODP_REMOTE_ACCESS,
		"pinned MR of length 0 with remote access fails with EINVAL");
	if (s.attr.odp_caps.general_caps & IBV_ODP_SUPPORT) {
		expect_rejected(&s, buf,
				IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_ON_DEMAND,
				"ODP MR of length 0 fails with EINVAL");
		expect_rejected(
			&s, buf, ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND,
			"ODP MR of length 0 with remote access fails with EINVAL");
	} else {
		tap_skip("ODP MR of length 0 fails with EINVAL",
			 "device has no ODP");
	}
out:
	if (buf != MAP_FAILED && munmap(buf, page))
		tap_call_failed(errno, "munmap");
	odp_side_close(&s);
	return tap_finish();
}
