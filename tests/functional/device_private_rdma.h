/*
 * device_private_rdma.h - one RDMA operation from rxe_a against an ODP MR on
 * rxe_b whose pages test_hmm has migrated to device-private memory: the
 * scenario of the WRITE and READ device-private tests.
 */
#ifndef DEVICE_PRIVATE_RDMA_H
#define DEVICE_PRIVATE_RDMA_H

#include <infiniband/verbs.h>

/*
 * Run @op (IBV_WR_RDMA_WRITE or IBV_WR_RDMA_READ) over a few ranges of an
 * 8-page responder buffer that lives in device-private memory; check the
 * bytes, and where the pages are before and after (residency per
 * ODP_EXPECT_ALIAS).  Returns the test's exit status.
 */
int device_private_rdma_main(const char *test, enum ibv_wr_opcode op);

#endif
