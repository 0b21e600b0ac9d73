/*
 * send_into_odp_receive_buffer_places_every_byte: a SEND from rxe_a into a
 * receive buffer that is an ODP MR on rxe_b places every byte of the
 * message at its offset, reports the message length, and changes nothing
 * outside the posted range. Every size of odp_xfer_cases, sent from a
 * pinned local MR, then from an ODP local MR.
 *
 * Linux 7.3.4's __rxe_odp_mr_copy() ignores the page offset and never
 * advances the packet buffer, so every packet of a page lands at page
 * offset 0: the range check fails there, and so does "before the range"
 * where the range does not start at a page boundary.
 */
#include "odp_test.h"

static bool send_case(struct odp_pair *p, const struct odp_xfer_case *c,
		      bool local_odp, uint64_t wr_id)
{
	struct odp_buf src = { 0 }, dst = { 0 };
	struct odp_layout l;
	struct ibv_wc wc;
	bool ok;

	odp_layout(&l, c);
	tap_case("send %zu B to page offset %zu from a %s MR", c->len,
		 c->page_off, local_odp ? "ODP" : "pinned");
	ok = odp_buf_alloc(&dst, &p->resp, l.size,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_ON_DEMAND) &&
	     odp_buf_alloc(&src, &p->req, l.size,
			   IBV_ACCESS_LOCAL_WRITE |
				   (local_odp ? IBV_ACCESS_ON_DEMAND : 0)) &&
	     odp_post_recv(&p->resp, &dst, l.off, l.len, wr_id) &&
	     odp_post_send(&p->req, &src, l.off, l.len, wr_id) &&
	     odp_expect_completion(&p->req, wr_id, IBV_WC_SUCCESS, IBV_WC_SEND,
				   NULL) &&
	     odp_expect_completion(&p->resp, wr_id, IBV_WC_SUCCESS, IBV_WC_RECV,
				   &wc);
	if (ok) {
		tap_expect_int("receive completion reports the message length",
			       (long long)l.len, wc.byte_len);
		odp_expect_placed("receive", dst.addr, l.size, l.off, l.len,
				  src.seed, dst.seed);
		odp_expect_pattern("send buffer is unchanged", src.addr, 0,
				   l.size, src.seed);
	}
	odp_buf_free(&src);
	odp_buf_free(&dst);
	tap_case(NULL);
	return ok;
}

int main(void)
{
	return odp_run_xfer_cases(
		"send_into_odp_receive_buffer_places_every_byte",
		IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV, send_case);
}
