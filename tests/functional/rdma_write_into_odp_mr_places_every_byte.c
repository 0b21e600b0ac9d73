/*
 * rdma_write_into_odp_mr_places_every_byte: an RDMA WRITE from rxe_a into
 * an ODP MR on rxe_b puts every source byte at its place in the target and
 * changes nothing outside the target range. Every size of odp_xfer_cases,
 * first from a pinned local MR (only the responder's ODP path runs), then
 * from an ODP local MR (the requester's too).
 *
 * Linux 7.3.4's __rxe_odp_mr_copy() ignores the page offset and never
 * advances the packet buffer, so every MTU packet of a page lands at page
 * offset 0: the range check fails there, and so does "before the range"
 * where the range does not start at a page boundary.
 */
#include "odp_test.h"

static bool write_case(struct odp_pair *p, const struct odp_xfer_case *c,
		       bool local_odp, uint64_t wr_id)
{
	struct odp_buf src = { 0 }, dst = { 0 };
	struct odp_layout l;
	bool ok;

	odp_layout(&l, c);
	tap_case("write %zu B at page offset %zu from a %s MR", c->len,
		 c->page_off, local_odp ? "ODP" : "pinned");
	ok = odp_buf_alloc(&dst, &p->resp, l.size,
			   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND) &&
	     odp_buf_alloc(&src, &p->req, l.size,
			   IBV_ACCESS_LOCAL_WRITE |
				   (local_odp ? IBV_ACCESS_ON_DEMAND : 0)) &&
	     odp_post_rdma(p, IBV_WR_RDMA_WRITE, &src, &dst, l.off, l.len,
			   wr_id) &&
	     odp_expect_completion(&p->req, wr_id, IBV_WC_SUCCESS,
				   IBV_WC_RDMA_WRITE, NULL);
	if (ok) {
		odp_expect_placed("target", dst.addr, l.size, l.off, l.len,
				  src.seed, dst.seed);
		odp_expect_pattern("source buffer is unchanged", src.addr, 0,
				   l.size, src.seed);
	}
	odp_buf_free(&src);
	odp_buf_free(&dst);
	tap_case(NULL);
	return ok;
}

int main(void)
{
	return odp_run_xfer_cases("rdma_write_into_odp_mr_places_every_byte",
				  IBV_ODP_SUPPORT_WRITE, write_case);
}
