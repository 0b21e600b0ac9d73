/*
 * dmirror.h - the test_hmm driver (lib/test_hmm.c) as the functional tests
 * use it: fake device-private memory to migrate a buffer into, and a
 * snapshot that says where each page of the buffer lives.
 */
#ifndef ODP_DMIRROR_H
#define ODP_DMIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Where pages that the NIC touched live after the transfer. Linux 7.3:
 * hmm_range_fault() migrates device-private pages back to system RAM
 * before the NIC may access them (0). With the mm/hmm alias series the
 * NIC reaches them through a DMA-able alias and they stay on the device
 * (1). The environment variable ODP_EXPECT_ALIAS overrides this default.
 */
#define ODP_EXPECT_ALIAS_DEFAULT 0
bool odp_expect_alias(void);

/* Opens $ODP_DMIRROR (default /dev/hmm_dmirror0); skips if it is absent. */
int dmirror_open(void);
void dmirror_close(int fd);

/*
 * Issues one test_hmm ioctl on [addr, addr + npages pages), with @ptr as
 * its bounce buffer. Returns 0 or the errno; @cpages (may be NULL) gets
 * the number of pages the driver reports.
 */
int dmirror_cmd(int fd, unsigned long request, void *addr, size_t npages,
		void *ptr, uint64_t *cpages);

/*
 * Migrates [addr, npages) into device-private memory and checks that every
 * page moved and that the driver's copy matches the pattern @seed.
 */
bool dmirror_migrate_to_device(int fd, void *addr, size_t npages,
			       uint32_t seed);

enum dmirror_place {
	DMIRROR_IN_RAM, /* a present, accessible system-RAM page */
	DMIRROR_ON_DEVICE, /* device-private, on this dmirror device */
};

/*
 * Snapshots [addr, npages) and checks that pages [first, last] are at
 * @touched and every other page at @others. One check. The snapshot
 * (HMM_DMIRROR_SNAPSHOT) requests no fault, so it moves nothing itself.
 */
bool dmirror_expect_places(int fd, const char *what, void *addr, size_t npages,
			   size_t first, size_t last,
			   enum dmirror_place touched,
			   enum dmirror_place others);

#endif /* ODP_DMIRROR_H */
