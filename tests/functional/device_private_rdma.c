/*
 * device_private_rdma.c - see device_private_rdma.h.
 *
 * On Linux 7.3 umem_odp faults the range with no dev_private_owner, so
 * hmm_range_fault() makes the owner migrate the touched pages to system RAM
 * (dmirror_devmem_fault()) before rxe copies, for a read as for a write;
 * the pages the operation does not touch stay on the device.  With
 * ODP_EXPECT_ALIAS=1 the touched pages are expected to stay on the device
 * too (the mm/hmm alias series with an importer that asks for aliases).
 */
#include "device_private_rdma.h"

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

static bool run_case(struct odp_pair *p, int fd, enum ibv_wr_opcode op,
		     size_t off, size_t len, uint64_t wr_id)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	size_t first = off / page, last = (off + len - 1) / page;
	bool write = op == IBV_WR_RDMA_WRITE, alias = odp_expect_alias();
	struct odp_buf dev = { 0 }, loc = { 0 };
	bool ok;

	tap_case("%s %zu B at +%zu (pages %zu-%zu of %d)",
		 write ? "write" : "read", len, off, first, last, NPAGES);
	/*
	 * The MR exists before the pages move, as in an application: the
	 * migration must invalidate what rxe mapped at registration.
	 */
	ok = odp_buf_alloc(&dev, &p->resp, size,
			   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND) &&
	     odp_buf_alloc(&loc, &p->req, size, IBV_ACCESS_LOCAL_WRITE) &&
	     dmirror_migrate_to_device(fd, dev.addr, NPAGES, dev.seed) &&
	     dmirror_expect_places(fd, "before: every page is device-private",
				   dev.addr, NPAGES, first, last,
				   DMIRROR_ON_DEVICE, DMIRROR_ON_DEVICE) &&
	     odp_post_rdma(p, op, &loc, &dev, off, len, wr_id) &&
	     odp_expect_completion(&p->req, wr_id, IBV_WC_SUCCESS,
				   write ? IBV_WC_RDMA_WRITE : IBV_WC_RDMA_READ,
				   NULL);
	if (ok) {
		/* Before any CPU access: a CPU read would migrate pages too. */
		dmirror_expect_places(
			fd,
			alias ? "after: touched pages are still device-private, the others too" :
				"after: touched pages are in RAM, the others still device-private",
			dev.addr, NPAGES, first, last,
			alias ? DMIRROR_ON_DEVICE : DMIRROR_IN_RAM,
			DMIRROR_ON_DEVICE);
		/* Through the CPU, which faults the rest back: fine now. */
		if (write) {
			odp_expect_placed("target", dev.addr, size, off, len,
					  loc.seed, dev.seed);
		} else {
			odp_expect_placed("local", loc.addr, size, off, len,
					  dev.seed, loc.seed);
			odp_expect_pattern("remote buffer is unchanged",
					   dev.addr, 0, size, dev.seed);
		}
	}
	odp_buf_free(&dev);
	odp_buf_free(&loc);
	tap_case(NULL);
	return ok;
}

int device_private_rdma_main(const char *test, enum ibv_wr_opcode op)
{
	struct odp_pair p;
	size_t i;
	int fd = -1;

	tap_start(test);
	if (!odp_pair_open(&p, op == IBV_WR_RDMA_WRITE ? IBV_ODP_SUPPORT_WRITE :
							 IBV_ODP_SUPPORT_READ))
		goto out;
	fd = dmirror_open();
	if (fd < 0)
		goto out;
	tap_diag("ODP_EXPECT_ALIAS=%d: touched pages expected %s",
		 odp_expect_alias(),
		 odp_expect_alias() ? "to stay on the device" :
				      "to migrate to system RAM");
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (!run_case(&p, fd, op,
			      ranges[i].page * odp_page_size() +
				      ranges[i].page_off,
			      ranges[i].len, i + 1))
			break;
out:
	dmirror_close(fd);
	odp_pair_close(&p);
	return tap_finish();
}
