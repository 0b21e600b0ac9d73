/*
 * rdma_write_into_device_private_memory_migrates_it_to_ram: an RDMA WRITE
 * into an ODP MR whose pages test_hmm has migrated to device-private
 * memory places every byte, and on Linux 7.3 the pages it touched are back
 * in system RAM afterwards; the others stay on the device (see
 * device_private_rdma.c).
 */
#include "device_private_rdma.h"

int main(void)
{
	return device_private_rdma_main(
		"rdma_write_into_device_private_memory_migrates_it_to_ram",
		IBV_WR_RDMA_WRITE);
}
