/*
 * dmirror_migration_rejects_unaligned_address: test_hmm's
 * HMM_DMIRROR_MIGRATE_TO_DEV and HMM_DMIRROR_MIGRATE_TO_SYS fail with
 * EINVAL for an address that is not page aligned, and move nothing.
 *
 * Linux 7.3 lib/test_hmm.c: dmirror_fops_unlocked_ioctl() checks
 * "cmd.addr & ~PAGE_MASK" and returns -EINVAL before any command runs.
 */
#include "dmirror.h"
#include "odp_test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <lib/test_hmm_uapi.h>

#define NPAGES 2
#define UNALIGNED_BY 100

int main(void)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	uint8_t *buf = MAP_FAILED;
	void *bounce = NULL;
	uint32_t seed;
	int fd, err;

	tap_start("dmirror_migration_rejects_unaligned_address");
	fd = dmirror_open();
	if (fd < 0)
		goto out;
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bounce = malloc(size);
	if (buf == MAP_FAILED || !bounce) {
		tap_call_failed(errno, "mmap/malloc");
		goto out;
	}
	seed = odp_seed();
	odp_fill(buf, size, seed);

	err = dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, buf + UNALIGNED_BY, 1,
			  bounce, NULL);
	tap_expect_errno("MIGRATE_TO_DEV at page offset 100 fails with EINVAL",
			 EINVAL, err);
	dmirror_expect_places(fd, "nothing moved to the device", buf, NPAGES, 0,
			      NPAGES - 1, DMIRROR_IN_RAM, DMIRROR_IN_RAM);

	/* The reverse direction needs pages on the device first. */
	if (!dmirror_migrate_to_device(fd, buf, NPAGES, seed))
		goto out;
	err = dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, buf + UNALIGNED_BY, 1,
			  bounce, NULL);
	tap_expect_errno("MIGRATE_TO_SYS at page offset 100 fails with EINVAL",
			 EINVAL, err);
	dmirror_expect_places(fd, "nothing moved back to RAM", buf, NPAGES, 0,
			      NPAGES - 1, DMIRROR_ON_DEVICE, DMIRROR_ON_DEVICE);
	/* Through the CPU, which faults the pages back: bytes intact. */
	odp_expect_pattern("the buffer still holds its bytes", buf, 0, size,
			   seed);
out:
	free(bounce);
	if (buf != MAP_FAILED && munmap(buf, size))
		tap_call_failed(errno, "munmap");
	dmirror_close(fd);
	return tap_finish();
}
