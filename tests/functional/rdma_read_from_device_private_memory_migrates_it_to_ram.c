/*
 * rdma_read_from_device_private_memory_migrates_it_to_ram: an RDMA READ
 * from an ODP MR whose pages test_hmm has migrated to device-private
 * memory returns every byte, and on Linux 7.3 the pages it touched are
 * back in system RAM afterwards: umem_odp faults the range with no
 * dev_private_owner, so hmm_range_fault() makes the owner migrate them
 * (dmirror_devmem_fault()), even for a read. Pages it did not touch stay
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

static bool read_case(struct odp_pair *p, int fd, size_t off, size_t len,
		      uint64_t wr_id)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	size_t first = off / page, last = (off + len - 1) / page;
	bool alias = odp_expect_alias();
	struct odp_buf src = { 0 }, dst = { 0 };
	bool ok;

	tap_case("read %zu B at +%zu (pages %zu-%zu of %d)", len, off, first,
		 last, NPAGES);
	/*
	 * The MR exists before the pages move, as in an application: the
	 * migration must invalidate what rxe mapped at registration.
	 */
	ok = odp_buf_alloc(&src, &p->resp, size,
			   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND) &&
	     odp_buf_alloc(&dst, &p->req, size, IBV_ACCESS_LOCAL_WRITE) &&
	     dmirror_migrate_to_device(fd, src.addr, NPAGES, src.seed) &&
	     dmirror_expect_places(fd, "before: every page is device-private",
				   src.addr, NPAGES, first, last,
				   DMIRROR_ON_DEVICE, DMIRROR_ON_DEVICE) &&
	     odp_post_rdma(p, IBV_WR_RDMA_READ, &dst, &src, off, len, wr_id) &&
	     odp_expect_completion(&p->req, wr_id, IBV_WC_SUCCESS,
				   IBV_WC_RDMA_READ, NULL);
	if (ok) {
		/* Before any CPU access: a CPU read would migrate pages too. */
		dmirror_expect_places(
			fd,
			alias ? "after: touched pages are still device-private, the others too" :
				"after: touched pages are in RAM, the others still device-private",
			src.addr, NPAGES, first, last,
			alias ? DMIRROR_ON_DEVICE : DMIRROR_IN_RAM,
			DMIRROR_ON_DEVICE);
		odp_expect_placed("local", dst.addr, size, off, len, src.seed,
				  dst.seed);
		/* Through the CPU, which faults the rest back: fine now. */
		odp_expect_pattern("remote buffer is unchanged", src.addr, 0,
				   size, src.seed);
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

	tap_start("rdma_read_from_device_private_memory_migrates_it_to_ram");
	if (!odp_pair_open(&p, IBV_ODP_SUPPORT_READ))
		goto out;
	fd = dmirror_open();
	if (fd < 0)
		goto out;
	tap_diag("ODP_EXPECT_ALIAS=%d: touched pages expected %s",
		 odp_expect_alias(),
		 odp_expect_alias() ? "to stay on the device" :
				      "to migrate to system RAM");
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!read_case(&p, fd,
			       ranges[i].page * odp_page_size() +
				       ranges[i].page_off,
			       ranges[i].len, i + 1))
			break;
out:
	dmirror_close(fd);
	odp_pair_close(&p);
	return tap_finish();
}
