/*
 * rdma_read_from_odp_mr_returns_every_byte: an RDMA READ by rxe_a from an
 * ODP MR on rxe_b returns every byte of the source range, places it at its
 * offset in the local buffer and changes nothing else. Every size of
 * odp_xfer_cases, into a pinned local MR (only the responder's ODP path
 * runs), then into an ODP local MR (the requester's too).
 *
 * Linux 7.3.4's __rxe_odp_mr_copy() ignores the page offset, so every read
 * response packet of a page carries the bytes at page offset 0: the range
 * check fails there.
 */
#include "odp_test.h"

static bool read_case(struct odp_pair *p, const struct odp_xfer_case *c,
		      bool local_odp, uint64_t wr_id)
{
	struct odp_buf src = { 0 }, dst = { 0 };
	struct odp_layout l;
	bool ok;

	odp_layout(&l, c);
	tap_case("read %zu B at page offset %zu into a %s MR", c->len,
		 c->page_off, local_odp ? "ODP" : "pinned");
	ok = odp_buf_alloc(&src, &p->resp, l.size,
			   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND) &&
	     odp_buf_alloc(&dst, &p->req, l.size,
			   IBV_ACCESS_LOCAL_WRITE |
				   (local_odp ? IBV_ACCESS_ON_DEMAND : 0)) &&
	     odp_post_rdma(p, IBV_WR_RDMA_READ, &dst, &src, l.off, l.len,
			   wr_id) &&
	     odp_expect_completion(&p->req, wr_id, IBV_WC_SUCCESS,
				   IBV_WC_RDMA_READ, NULL);
	if (ok) {
		odp_expect_placed("local", dst.addr, l.size, l.off, l.len,
				  src.seed, dst.seed);
		odp_expect_pattern("remote ODP buffer is unchanged", src.addr,
				   0, l.size, src.seed);
	}
	odp_buf_free(&src);
	odp_buf_free(&dst);
	tap_case(NULL);
	return ok;
}

int main(void)
{
	return odp_run_xfer_cases("rdma_read_from_odp_mr_returns_every_byte",
				  IBV_ODP_SUPPORT_READ, read_case);
}
