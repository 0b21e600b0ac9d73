/*
 * bad_input_test - what the kernel does with input it must refuse or fail
 * cleanly on: an ODP MR over a range with nothing mapped, a memory region
 * of length 0, a dmirror migration at an unaligned address, and settings
 * of the ODP alias switch that rdma netlink must refuse.
 */
#include "odp_harness.h"

#include "rdma_nl.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * odp_mr_over_unmapped_range: an ODP MR over a range with nothing mapped
 * registers, and the first access to it fails as a remote access error,
 * with both QPs in the error state and nothing else.
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
 * Each test leaves its QPs in error; the harness gives each a fresh pair.
 */
#define HOLE_PAGES 4

FIXTURE(odp_mr_over_unmapped_range)
{
	struct odp_pair pair;
	struct odp_buf local;
	void *hole;
};

FIXTURE_VARIANT(odp_mr_over_unmapped_range)
{
	enum ibv_wr_opcode opcode;
};

FIXTURE_VARIANT_ADD(odp_mr_over_unmapped_range, rdma_write){
	.opcode = IBV_WR_RDMA_WRITE,
};

FIXTURE_VARIANT_ADD(odp_mr_over_unmapped_range, rdma_read){
	.opcode = IBV_WR_RDMA_READ,
};

FIXTURE_SETUP(odp_mr_over_unmapped_range)
{
	size_t size = HOLE_PAGES * odp_page_size();
	bool write = variant->opcode == IBV_WR_RDMA_WRITE;
	void *hole;

	if (!open_pair(_metadata, &self->pair,
		       write ? IBV_ODP_SUPPORT_WRITE : IBV_ODP_SUPPORT_READ, 0))
		return;
	ASSERT_OK(odp_buf_alloc(&self->local, &self->pair.req,
				2 * odp_page_size(), IBV_ACCESS_LOCAL_WRITE));
	/* Made last, so that nothing else is mapped into the hole. */
	hole = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	ASSERT_EQ(0, munmap(hole, size));
	self->hole = hole;
}

FIXTURE_TEARDOWN(odp_mr_over_unmapped_range)
{
	EXPECT_OK(odp_buf_free(&self->local));
	EXPECT_OK(odp_pair_close(&self->pair));
}

TEST_F_TIMEOUT(odp_mr_over_unmapped_range, fails_access_cleanly,
	       ODP_TEST_TIMEOUT)
{
	size_t page = odp_page_size(), size = HOLE_PAGES * page;
	bool write = variant->opcode == IBV_WR_RDMA_WRITE;
	struct odp_buf hole = { .addr = self->hole, .size = size };
	enum ibv_qp_state state;
	struct ibv_wc wc;
	int err;

	hole.mr = ibv_reg_mr(self->pair.resp.pd, hole.addr, size,
			     ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND);
	err = hole.mr ? 0 : errno;
	ASSERT_NE(NULL, hole.mr)
	TH_LOG("ODP registration over the unmapped range fails with errno %s (%d)",
	       odp_errno_name(err), err);

	/* One page, at the same offset (page 1) of both buffers. */
	ASSERT_OK(odp_post_rdma(&self->pair, variant->opcode, &self->local,
				&hole, page, page, 1));
	if (completes(_metadata, &self->pair.req, 1, IBV_WC_REM_ACCESS_ERR,
		      IBV_WC_RDMA_WRITE, &wc)) {
		if (write)
			EXPECT_OK(odp_wait_qp_event(&self->pair.resp,
						    IBV_EVENT_QP_ACCESS_ERR));
		EXPECT_OK(odp_wait_qp_state(&self->pair.req, IBV_QPS_ERR,
					    &state));
		EXPECT_OK(odp_wait_qp_state(&self->pair.resp, IBV_QPS_ERR,
					    &state));
	}

	EXPECT_OK(odp_dereg_mr(hole.mr));
	/* The premise: nothing got mapped into the hole meanwhile. */
	err = msync(hole.addr, size, MS_ASYNC) ? errno : 0;
	EXPECT_EQ(ENOMEM, err)
	TH_LOG("the range is still unmapped: msync() fails with ENOMEM, not %s",
	       odp_errno_name(err));
}

/*
 * zero_length_mr: registering a memory region of length 0 at a
 * page-aligned address fails with EINVAL, pinned or ODP.
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
FIXTURE(zero_length_mr)
{
	struct odp_side side;
	void *buf;
};

FIXTURE_VARIANT(zero_length_mr)
{
	int access;
};

FIXTURE_VARIANT_ADD(zero_length_mr, pinned){
	.access = IBV_ACCESS_LOCAL_WRITE,
};

FIXTURE_VARIANT_ADD(zero_length_mr, pinned_with_remote_access){
	.access = ODP_REMOTE_ACCESS,
};

FIXTURE_VARIANT_ADD(zero_length_mr, odp){
	.access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_ON_DEMAND,
};

FIXTURE_VARIANT_ADD(zero_length_mr, odp_with_remote_access){
	.access = ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND,
};

FIXTURE_SETUP(zero_length_mr)
{
	void *buf;

	if (!open_side(_metadata, &self->side, odp_dev_a()))
		return;
	if ((variant->access & IBV_ACCESS_ON_DEMAND) &&
	    !(self->side.attr.odp_caps.general_caps & IBV_ODP_SUPPORT))
		ODP_SKIP(return, "%s has no ODP", self->side.name);
	buf = mmap(NULL, odp_page_size(), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	self->buf = buf;
}

FIXTURE_TEARDOWN(zero_length_mr)
{
	if (self->buf)
		EXPECT_EQ(0, munmap(self->buf, odp_page_size()));
	EXPECT_OK(odp_side_close(&self->side));
}

TEST_F(zero_length_mr, registration_fails_with_einval)
{
	struct ibv_mr *mr;
	int err;

	errno = 0;
	mr = ibv_reg_mr(self->side.pd, self->buf, 0, variant->access);
	err = mr ? 0 : errno;
	EXPECT_EQ(NULL, mr) TH_LOG("ibv_reg_mr succeeded (lkey %#x)", mr->lkey);
	if (mr) {
		EXPECT_OK(odp_dereg_mr(mr));
		return;
	}
	EXPECT_EQ(EINVAL, err)
	TH_LOG("expected errno EINVAL, got %s (%s)", odp_errno_name(err),
	       strerror(err));
}

/*
 * dmirror_migration: test_hmm's HMM_DMIRROR_MIGRATE_TO_DEV and
 * HMM_DMIRROR_MIGRATE_TO_SYS fail with EINVAL for an address that is not
 * page aligned, and move nothing.
 *
 * Linux 7.3 lib/test_hmm.c: dmirror_fops_unlocked_ioctl() checks
 * "cmd.addr & ~PAGE_MASK" and returns -EINVAL before any command runs.
 */
#define DMIRROR_PAGES 2
#define UNALIGNED_BY 100

FIXTURE(dmirror_migration)
{
	int fd;
	uint8_t *buf;
	uint32_t seed;
	void *bounce;
};

FIXTURE_VARIANT(dmirror_migration)
{
	unsigned long request;
	/* Where the pages are before (and must stay). */
	enum dmirror_place place;
};

FIXTURE_VARIANT_ADD(dmirror_migration, to_device){
	.request = HMM_DMIRROR_MIGRATE_TO_DEV,
	.place = DMIRROR_IN_RAM,
};

/* The reverse direction needs pages on the device first. */
FIXTURE_VARIANT_ADD(dmirror_migration, to_ram){
	.request = HMM_DMIRROR_MIGRATE_TO_SYS,
	.place = DMIRROR_ON_DEVICE,
};

FIXTURE_SETUP(dmirror_migration)
{
	size_t size = DMIRROR_PAGES * odp_page_size();
	void *buf;

	self->fd = open_dmirror(_metadata);
	if (self->fd < 0)
		return;
	log_seed(_metadata);
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	self->buf = buf;
	self->bounce = malloc(size);
	ASSERT_NE(NULL, self->bounce);
	self->seed = odp_seed();
	odp_fill(self->buf, size, self->seed);
	if (variant->place == DMIRROR_ON_DEVICE)
		migrate_to_device(_metadata, self->fd, self->buf, DMIRROR_PAGES,
				  self->seed);
}

FIXTURE_TEARDOWN(dmirror_migration)
{
	free(self->bounce);
	if (self->buf)
		EXPECT_EQ(0,
			  munmap(self->buf, DMIRROR_PAGES * odp_page_size()));
	EXPECT_OK(dmirror_close(self->fd));
}

TEST_F(dmirror_migration, rejects_unaligned_address_and_moves_nothing)
{
	size_t size = DMIRROR_PAGES * odp_page_size();
	int err = dmirror_cmd(self->fd, variant->request,
			      self->buf + UNALIGNED_BY, 1, self->bounce, NULL);

	EXPECT_EQ(EINVAL, err)
	TH_LOG("migration at page offset %d: expected EINVAL, got %s",
	       UNALIGNED_BY, odp_errno_name(err));
	EXPECT_TRUE(dmirror_check_places(self->fd, self->buf, DMIRROR_PAGES, 0,
					 DMIRROR_PAGES - 1, variant->place,
					 variant->place))
	TH_LOG("nothing moved: %s", odp_reason());
	/* Through the CPU, which faults device pages back: bytes intact. */
	EXPECT_PATTERN("the buffer still holds its bytes", self->buf, 0, size,
		       self->seed);
}

/*
 * odp_alias_switch: RDMA_NLDEV_CMD_SET with RDMA_NLDEV_ATTR_DEV_ODP_ALIAS
 * refuses what it must, and a refused request leaves the switch as it was
 * (the series, patch "RDMA/nldev: Add a per-device ODP alias switch"):
 * - a value other than 0 or 1 fails nldev_policy's NLA_POLICY_MAX(NLA_U8,
 *   1) in nlmsg_parse(): EINVAL;
 * - a device index that names no device: EINVAL, as every nldev command;
 * - a caller without CAP_NET_ADMIN: the command is RDMA_NL_ADMIN_PERM,
 *   rdma_nl_rcv_msg() refuses it with EPERM before it runs.
 */
#define NO_SUCH_INDEX 0x7fffff00U
#define NOBODY 65534

FIXTURE(odp_alias_switch)
{
	struct odp_side dev;
	uint32_t index; /* dev's */
	bool was; /* the switch as setup found it */
};

FIXTURE_SETUP(odp_alias_switch)
{
	if (!open_side(_metadata, &self->dev, odp_dev_b()))
		return;
	self->index = (uint32_t)self->dev.index;
	ASSERT_EQ(0, rdma_nl_get_odp_alias(self->index, &self->was))
	TH_LOG("%s", odp_reason());
}

FIXTURE_TEARDOWN(odp_alias_switch)
{
	bool now = !self->was;

	if (self->dev.ctx) {
		EXPECT_EQ(0, rdma_nl_get_odp_alias(self->index, &now))
		TH_LOG("%s", odp_reason());
		EXPECT_EQ(self->was, now)
		TH_LOG("a refused request must leave the switch as it was");
		if (now != self->was)
			rdma_nl_set_odp_alias(self->index, self->was);
	}
	EXPECT_OK(odp_side_close(&self->dev));
}

TEST_F(odp_alias_switch, value_2_fails_with_einval)
{
	int err = rdma_nl_set_odp_alias(self->index, 2);

	EXPECT_EQ(EINVAL, err)
	TH_LOG("expected EINVAL, got %s: %s", odp_errno_name(err),
	       odp_reason());
	/* The same request with a valid value goes through. */
	err = rdma_nl_set_odp_alias(self->index, self->was);
	EXPECT_EQ(0, err)
	TH_LOG("the value it had: %s", odp_reason());
}

TEST_F(odp_alias_switch, unknown_device_index_fails_with_einval)
{
	bool on;

	int err = rdma_nl_set_odp_alias(NO_SUCH_INDEX, !self->was);

	EXPECT_EQ(EINVAL, err)
	TH_LOG("set: expected EINVAL, got %s: %s", odp_errno_name(err),
	       odp_reason());
	err = rdma_nl_get_odp_alias(NO_SUCH_INDEX, &on);
	EXPECT_EQ(EINVAL, err)
	TH_LOG("get: expected EINVAL, got %s: %s", odp_errno_name(err),
	       odp_reason());
}

TEST_F(odp_alias_switch, caller_without_cap_net_admin_fails_with_eperm)
{
	int status = 0, err;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		/* Root that becomes nobody loses every capability. */
		if (setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(255);
		err = rdma_nl_set_odp_alias(self->index, !self->was);
		_exit(err > 254 ? 254 : err);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	err = WEXITSTATUS(status);
	ASSERT_NE(255, err) TH_LOG("could not drop to uid %d", NOBODY);
	EXPECT_EQ(EPERM, err)
	TH_LOG("expected EPERM, got %s", odp_errno_name(err));
}

TEST_HARNESS_MAIN
