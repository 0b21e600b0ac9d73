/*
 * pagemap.c - where pages are, from the process's own page table
 * (/proc/self/pagemap, Documentation/admin-guide/mm/pagemap.rst): for the
 * back-ends whose driver cannot say, and for the pages a test_hmm snapshot
 * cannot see (another device's private pages look "not present" to it).
 *
 * A present entry is system memory; a non-present one with bit 62 set is
 * a swap-format entry: a page in swap, or a device-private (migrated)
 * page.  Its swap type (bits 0-4) tells them apart, but the kernel shows
 * it to CAP_SYS_ADMIN only; Linux 7.3's types for device-private entries
 * are the two below the device-exclusive one, under the PTE marker type
 * (include/linux/swap.h: 32 - SWP_DEVICE_NUM - SWP_PTE_MARKER_NUM).
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_SWAP_TYPE(e) ((unsigned int)((e)&0x1f))
#define SWP_DEVICE_WRITE 28
#define SWP_DEVICE_READ 29

/* Reads the places of [addr, npages) from the pagemap file @fd. */
static int read_places(int fd, uintptr_t addr, size_t npages, uint8_t device,
		       uint8_t *places)
{
	size_t page = hmmem_page_size(), i = 0;
	uint64_t e[512];

	while (i < npages) {
		size_t n = hmmem_min(npages - i, sizeof(e) / sizeof(e[0])), j;
		off_t off = (off_t)((addr / page + i) * sizeof(e[0]));
		ssize_t got = pread(fd, e, n * sizeof(e[0]), off);

		if (got != (ssize_t)(n * sizeof(e[0])))
			return got < 0 ? -errno : -EIO;
		for (j = 0; j < n; j++) {
			uint8_t *p = &places[i + j];

			if (e[j] & PM_PRESENT)
				*p = HMMEM_PLACE_HOST;
			else if (!(e[j] & PM_SWAP))
				*p = HMMEM_PLACE_NONE;
			else if (PM_SWAP_TYPE(e[j]) == SWP_DEVICE_WRITE ||
				 PM_SWAP_TYPE(e[j]) == SWP_DEVICE_READ)
				*p = device;
			else /* swapped out, or a type we may not see */
				*p = HMMEM_PLACE_UNKNOWN;
		}
		i += n;
	}
	return 0;
}

static int places_from(const char *path, uintptr_t addr, size_t npages,
		       uint8_t device, uint8_t *places)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = read_places(fd, addr, npages, device, places);
	close(fd);
	return err;
}

int hmmem_pagemap_places(const void *addr, size_t npages, uint8_t device,
			 uint8_t *places)
{
	return places_from("/proc/self/pagemap", (uintptr_t)addr, npages,
			   device, places);
}

int hmmem_pagemap_places_pid(int pid, uintptr_t addr, size_t npages,
			     uint8_t device, uint8_t *places)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	return places_from(path, addr, npages, device, places);
}
