/*
 * rdma_write_into_device_private_memory_migrates_it_to_ram: an RDMA WRITE
 * into an ODP MR whose pages test_hmm has migrated to device-private
 * memory places every byte, and on Linux 7.3 the pages it touched are back
 * in system RAM afterwards: umem_odp faults the range with no
 * dev_private_owner, so hmm_range_fault() makes the owner migrate them
 * (dmirror_devmem_fault()) before rxe copies. Pages it did not touch stay
 * on the device. ODP_EXPECT_ALIAS=1 expects the touched pages to stay on
 * the device too (the mm/hmm alias series).
 */
#include "dmirror.h"
#include "odp_test.h"

#define NPAGES 8

/* Ranges within the NPAGES buffer: several pages mid-page, one page. */
static const struct {
	size_t page;
	size_t page_off;
	size_t len;
} ranges[] = {
	{ .page = 1, .page_off = 100, .len = 3 * 4096 + 123 },
	{ .page = 6, .page_off = 0, .len = 4096 },
};

static bool write_case(struct odp_pair *p, int fd, size_t off, size_t len,
		       uint64_t wr_id)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	size_t first = off / page, last = (off + len - 1) / page;
	bool alias = odp_expect_alias();
	struct odp_buf src = { 0 }, dst = { 0 };
	bool ok;

	tap_case("write %zu B at +%zu (pages %zu-%zu of %d)", len, off, first,
		 last, NPAGES);
	/*
	 * The MR exists before the pages move, as in an application: the
	 * migration must invalidate what rxe mapped at registration.
	 */
	ok = odp_buf_alloc(&dst, &p->resp, size,
			   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND) &&
	     odp_buf_alloc(&src, &p->req, size, IBV_ACCESS_LOCAL_WRITE) &&
	     dmirror_migrate_to_device(fd, dst.addr, NPAGES, dst.seed) &&
	     dmirror_expect_places(fd, "before: every page is device-private",
				   dst.addr, NPAGES, first, last,
				   DMIRROR_ON_DEVICE, DMIRROR_ON_DEVICE) &&
	     odp_post_rdma(p, IBV_WR_RDMA_WRITE, &src, &dst, off, len, wr_id) &&
	     odp_expect_completion(&p->req, wr_id, IBV_WC_SUCCESS,
				   IBV_WC_RDMA_WRITE, NULL);
	if (ok) {
		/* Before any CPU access: a CPU read would migrate pages too. */
		dmirror_expect_places(
			fd,
			alias ? "after: touched pages are still device-private, the others too" :
				"after: touched pages are in RAM, the others still device-private",
			dst.addr, NPAGES, first, last,
			alias ? DMIRROR_ON_DEVICE : DMIRROR_IN_RAM,
			DMIRROR_ON_DEVICE);
		/* Read through the CPU, which faults the rest back: fine. */
		odp_expect_placed("target", dst.addr, size, off, len, src.seed,
				  dst.seed);
	}
	odp_buf_free(&src);
	odp_buf_free(&dst);
	tap_case(NULL);
	return ok;
}

int main(void)
{
	struct odp_pair p;
	size_t i;
	int fd = -1;

	tap_start("rdma_write_into_device_private_memory_migrates_it_to_ram");
	if (!odp_pair_open(&p, IBV_ODP_SUPPORT_WRITE))
		goto out;
	fd = dmirror_open();
	if (fd < 0)
		goto out;
	tap_diag("ODP_EXPECT_ALIAS=%d: touched pages expected %s",
		 odp_expect_alias(),
		 odp_expect_alias() ? "to stay on the device" :
				      "to migrate to system RAM");
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!write_case(&p, fd,
				ranges[i].page * odp_page_size() +
					ranges[i].page_off,
				ranges[i].len, i + 1))
			break;
out:
	dmirror_close(fd);
	odp_pair_close(&p);
	return tap_finish();
}
