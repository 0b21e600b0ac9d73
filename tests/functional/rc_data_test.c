/*
 * rc_data_test - RC traffic from rxe_a (host A) to or from an ODP MR on
 * rxe_b (host B) moves every byte of the range to its place and changes
 * nothing else: RDMA WRITE into the ODP MR, RDMA READ from it, SEND into an
 * ODP receive buffer.  Every range, with a pinned local MR (only the
 * responder's ODP path runs) and with an ODP one (the requester's too).
 *
 * Linux 7.3.4's __rxe_odp_mr_copy() ignores the page offset and never
 * advances the packet buffer, so every MTU packet of a page lands at page
 * offset 0 (kernel/series patch 1 fixes it): the range check fails there,
 * and so does "before the range" where the range does not start at a page
 * boundary.
 */
#include "odp_harness.h"

FIXTURE(rc_odp)
{
	struct odp_pair pair;
	struct odp_layout l;
	struct odp_buf local; /* on host A */
	struct odp_buf odp; /* the ODP MR under test, on host B */
};

FIXTURE_VARIANT(rc_odp)
{
	enum ibv_wr_opcode opcode;
	size_t page_off; /* where the range starts in its page */
	size_t len;
	bool local_odp; /* the local MR is ODP too, not pinned */
};

#define RC_ODP_VARIANT(name, op, off, length, odp)            \
	FIXTURE_VARIANT_ADD(rc_odp, name)                     \
	{                                                     \
		.opcode = op, .page_off = off, .len = length, \
		.local_odp = odp,                             \
	}

/*
 * The ranges: 1 byte (not at page offset 0), one page, several pages
 * starting mid-page, and 1 MiB.  With a 1024-byte path MTU, every range
 * but the first carries a page in several packets.  Each from (or into) a
 * pinned and an ODP local MR.
 */
#define RC_ODP_VARIANTS(op, verb, dir)                                         \
	RC_ODP_VARIANT(verb##_1_byte_at_offset_777_##dir##_pinned_mr, op, 777, \
		       1, false);                                              \
	RC_ODP_VARIANT(verb##_1_byte_at_offset_777_##dir##_odp_mr, op, 777, 1, \
		       true);                                                  \
	RC_ODP_VARIANT(verb##_1_page_##dir##_pinned_mr, op, 0, 4096, false);   \
	RC_ODP_VARIANT(verb##_1_page_##dir##_odp_mr, op, 0, 4096, true);       \
	RC_ODP_VARIANT(                                                        \
		verb##_3_pages_123_bytes_at_offset_100_##dir##_pinned_mr, op,  \
		100, 3 * 4096 + 123, false);                                   \
	RC_ODP_VARIANT(verb##_3_pages_123_bytes_at_offset_100_##dir##_odp_mr,  \
		       op, 100, 3 * 4096 + 123, true);                         \
	RC_ODP_VARIANT(verb##_1_mib_##dir##_pinned_mr, op, 0, 1 << 20, false); \
	RC_ODP_VARIANT(verb##_1_mib_##dir##_odp_mr, op, 0, 1 << 20, true)

RC_ODP_VARIANTS(IBV_WR_RDMA_WRITE, rdma_write_into_odp_mr, from);
RC_ODP_VARIANTS(IBV_WR_RDMA_READ, rdma_read_from_odp_mr, into);
RC_ODP_VARIANTS(IBV_WR_SEND, send_into_odp_receive_buffer, from);

static uint32_t rc_odp_caps(enum ibv_wr_opcode opcode)
{
	switch (opcode) {
	case IBV_WR_RDMA_WRITE:
		return IBV_ODP_SUPPORT_WRITE;
	case IBV_WR_RDMA_READ:
		return IBV_ODP_SUPPORT_READ;
	default:
		return IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV;
	}
}

FIXTURE_SETUP(rc_odp)
{
	/* A receive buffer needs no remote access. */
	int odp_access = variant->opcode == IBV_WR_SEND ?
				 IBV_ACCESS_LOCAL_WRITE :
				 ODP_REMOTE_ACCESS;

	if (!open_pair(_metadata, &self->pair, rc_odp_caps(variant->opcode), 0))
		return;
	odp_layout(&self->l, variant->page_off, variant->len);
	ASSERT_OK(odp_buf_alloc(&self->odp, &self->pair.resp, self->l.size,
				odp_access | IBV_ACCESS_ON_DEMAND));
	ASSERT_OK(odp_buf_alloc(
		&self->local, &self->pair.req, self->l.size,
		IBV_ACCESS_LOCAL_WRITE |
			(variant->local_odp ? IBV_ACCESS_ON_DEMAND : 0)));
}

FIXTURE_TEARDOWN(rc_odp)
{
	EXPECT_OK(odp_buf_free(&self->local));
	EXPECT_OK(odp_buf_free(&self->odp));
	EXPECT_OK(odp_pair_close(&self->pair));
}

/* Posts the variant's transfer; true once every completion checked out. */
static bool transfer(struct __test_metadata *_metadata,
		     FIXTURE_DATA(rc_odp) * self,
		     const FIXTURE_VARIANT(rc_odp) * variant)
{
	struct odp_pair *p = &self->pair;
	const struct odp_layout *l = &self->l;
	struct ibv_wc wc;

	if (variant->opcode != IBV_WR_SEND) {
		bool write = variant->opcode == IBV_WR_RDMA_WRITE;

		ASSERT_OK(odp_post_rdma(p, variant->opcode, &self->local,
					&self->odp, l->off, l->len, 1));
		return completes(_metadata, &p->req, 1, IBV_WC_SUCCESS,
				 write ? IBV_WC_RDMA_WRITE : IBV_WC_RDMA_READ,
				 &wc);
	}
	ASSERT_OK(odp_post_recv(&p->resp, &self->odp, l->off, l->len, 1));
	ASSERT_OK(odp_post_send(&p->req, &self->local, l->off, l->len, 1));
	if (!completes(_metadata, &p->req, 1, IBV_WC_SUCCESS, IBV_WC_SEND,
		       &wc) ||
	    !completes(_metadata, &p->resp, 1, IBV_WC_SUCCESS, IBV_WC_RECV,
		       &wc))
		return false;
	EXPECT_EQ(l->len, wc.byte_len)
	TH_LOG("the receive completion reports the message length");
	return true;
}

TEST_F_TIMEOUT(rc_odp, places_every_byte_and_changes_nothing_else,
	       ODP_TEST_TIMEOUT)
{
	bool read = variant->opcode == IBV_WR_RDMA_READ;
	const struct odp_buf *src = read ? &self->odp : &self->local;
	const struct odp_buf *dst = read ? &self->local : &self->odp;
	const struct odp_layout *l = &self->l;

	if (!transfer(_metadata, self, variant))
		return;
	expect_placed(_metadata, read ? "local" : "target", dst->addr, l->size,
		      l->off, l->len, src->seed, dst->seed);
	EXPECT_PATTERN("the source buffer is unchanged", src->addr, 0, l->size,
		       src->seed);
}

TEST_HARNESS_MAIN
