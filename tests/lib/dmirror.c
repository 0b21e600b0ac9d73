/*
 * dmirror.c - see dmirror.h.
 */
#include "dmirror.h"
#include "reason.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int dmirror_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), err = errno;

	if (fd >= 0)
		return fd;
	if (dmirror_absent(err))
		odp_fail("no %s (test_hmm device-private memory): %s", path,
			 strerror(err));
	else
		odp_fail_errno(err, "open(%s)", path);
	return -err;
}

bool dmirror_absent(int err)
{
	return err == ENOENT || err == ENXIO || err == ENODEV;
}

bool dmirror_close(int fd)
{
	if (fd >= 0 && close(fd))
		return odp_fail_errno(errno, "close(dmirror)");
	return true;
}

int dmirror_cmd(int fd, unsigned long request, void *addr, size_t npages,
		void *ptr, uint64_t *cpages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
	};
	int ret;

	do
		ret = ioctl(fd, request, &cmd);
	while (ret && errno == EINTR);
	if (cpages)
		*cpages = cmd.cpages;
	return ret ? errno : 0;
}

bool dmirror_migrate_to_device(int fd, void *addr, size_t npages, void *bounce)
{
	uint64_t cpages = 0;
	int err = dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, addr, npages,
			      bounce, &cpages);

	if (err)
		return odp_fail_errno(err, "ioctl(HMM_DMIRROR_MIGRATE_TO_DEV)");
	if (cpages != npages)
		return odp_fail(
			"HMM_DMIRROR_MIGRATE_TO_DEV moved %llu of %zu pages",
			(unsigned long long)cpages, npages);
	return true;
}

int dmirror_set_flags(int fd, uint64_t flags)
{
	return dmirror_cmd(fd, HMM_DMIRROR_FLAGS, NULL, flags, NULL, NULL);
}

int dmirror_set_device_flags(int fd, uint64_t flags)
{
	return dmirror_cmd(fd, HMM_DMIRROR_DEVICE_FLAGS, NULL, flags, NULL,
			   NULL);
}

int dmirror_read_counters(int fd, struct hmm_dmirror_counters *c)
{
	uint64_t size = 0;
	int err;

	memset(c, 0, sizeof(*c));
	/* npages: our structure's size; cpages: the driver's */
	err = dmirror_cmd(fd, HMM_DMIRROR_COUNTERS, NULL, sizeof(*c), c, &size);
	if (!err && size < sizeof(*c))
		err = EOVERFLOW;
	return err;
}

int dmirror_wait_pages_in_use(int fd, uint64_t level, double timeout_ms,
			      struct hmm_dmirror_counters *after)
{
	double deadline = odp_now_ms() + timeout_ms;
	int err;

	while (!(err = dmirror_read_counters(fd, after))) {
		if (after->pages_in_use == level)
			return 0;
		if (odp_now_ms() >= deadline)
			return ETIMEDOUT;
		usleep(100000);
	}
	return err;
}

const char *dmirror_place_name(enum dmirror_place place)
{
	return place == DMIRROR_ON_DEVICE ? "DEV_PRIVATE_LOCAL" : "RAM";
}

bool dmirror_prot_is(uint8_t prot, enum dmirror_place place)
{
	if (prot == HMM_DMIRROR_PROT_ERROR)
		return false;
	if (place == DMIRROR_ON_DEVICE)
		return (prot & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	/* No device/zero class bits, and a valid mapping (READ or WRITE). */
	return !(prot & 0xf0) &&
	       (prot & (HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE));
}

const char *dmirror_prot_name(uint8_t prot, char *buf, size_t len)
{
	static const char *const class_names[16] = {
		[0x0] = "RAM",
		[0x1] = "ZERO",
		[0x2] = "DEV_PRIVATE_LOCAL",
		[0x3] = "DEV_PRIVATE_REMOTE",
		[0x4] = "DEV_COHERENT_LOCAL",
		[0x5] = "DEV_COHERENT_REMOTE",
	};
	const char *cls = class_names[prot >> 4];

	if (prot == HMM_DMIRROR_PROT_ERROR)
		snprintf(buf, len, "ERROR");
	else if (prot == HMM_DMIRROR_PROT_NONE)
		snprintf(buf, len, "NONE (not populated)");
	else
		snprintf(buf, len, "%s|%s%s (%#x)", cls ? cls : "?",
			 prot & HMM_DMIRROR_PROT_WRITE ? "WRITE" : "READ",
			 prot & HMM_DMIRROR_PROT_PMD ? "|PMD" : "", prot);
	return buf;
}

bool dmirror_check_places(int fd, void *addr, size_t npages, size_t first,
			  size_t last, enum dmirror_place touched,
			  enum dmirror_place others)
{
	char why[384] = "", name[48];
	size_t i, bad = 0, used = 0;
	uint8_t *prot = malloc(npages);
	int err;

	if (!prot)
		return odp_fail_errno(errno, "malloc");
	memset(prot, HMM_DMIRROR_PROT_ERROR, npages);
	err = dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, addr, npages, prot, NULL);
	if (err) {
		free(prot);
		return odp_fail_errno(err, "ioctl(HMM_DMIRROR_SNAPSHOT)");
	}
	for (i = 0; i < npages; i++) {
		enum dmirror_place want = i >= first && i <= last ? touched :
								    others;

		if (dmirror_prot_is(prot[i], want))
			continue;
		if (bad++ < 4 && used < sizeof(why))
			used += snprintf(why + used, sizeof(why) - used,
					 "%spage %zu: expected %s got %s",
					 bad > 1 ? "; " : "", i,
					 dmirror_place_name(want),
					 dmirror_prot_name(prot[i], name,
							   sizeof(name)));
	}
	free(prot);
	if (!bad)
		return true;
	return odp_fail("%zu of %zu pages misplaced: %s%s", bad, npages, why,
			bad > 4 ? "; ..." : "");
}
