/*
 * dmirror.c - test_hmm ioctls for the functional tests (see dmirror.h).
 */
#include "dmirror.h"
#include "odp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <lib/test_hmm_uapi.h>

bool odp_expect_alias(void)
{
	return odp_env_long("ODP_EXPECT_ALIAS", ODP_EXPECT_ALIAS_DEFAULT) != 0;
}

int dmirror_open(void)
{
	const char *path = odp_env("ODP_DMIRROR", "/dev/hmm_dmirror0");
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		tap_skip_all(
			"no %s (test_hmm device-private memory; ODP_DMIRROR names it)",
			path);
	tap_call_failed(errno, "open(%s)", path);
	return -1;
}

void dmirror_close(int fd)
{
	if (fd >= 0 && close(fd))
		tap_call_failed(errno, "close(dmirror)");
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

bool dmirror_migrate_to_device(int fd, void *addr, size_t npages, uint32_t seed)
{
	size_t size = npages * odp_page_size();
	uint64_t cpages = 0;
	void *bounce = malloc(size);
	bool ok;
	int err;

	if (!bounce)
		return tap_call_failed(errno, "malloc");
	err = dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, addr, npages, bounce,
			  &cpages);
	if (err)
		ok = tap_call_failed(err, "ioctl(HMM_DMIRROR_MIGRATE_TO_DEV)");
	else
		ok = tap_expect_int("every page migrates to device memory",
				    (long long)npages, (long long)cpages) &&
		     odp_expect_pattern(
			     "the device copy holds the buffer's bytes", bounce,
			     0, size, seed);
	free(bounce);
	return ok;
}

static bool prot_is_on_device(uint8_t prot)
{
	return prot != HMM_DMIRROR_PROT_ERROR &&
	       (prot & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
}

static bool prot_is_in_ram(uint8_t prot)
{
	/* No device/zero class bits, and a valid mapping (READ or WRITE). */
	return prot != HMM_DMIRROR_PROT_ERROR && !(prot & 0xf0) &&
	       (prot & (HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE));
}

static const char *prot_name(uint8_t prot, char *buf, size_t len)
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

bool dmirror_expect_places(int fd, const char *what, void *addr, size_t npages,
			   size_t first, size_t last,
			   enum dmirror_place touched,
			   enum dmirror_place others)
{
	char why[512] = "", name[48];
	size_t i, bad = 0, used = 0;
	uint8_t *prot = malloc(npages);
	int err;

	if (!prot)
		return tap_call_failed(errno, "malloc");
	err = dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, addr, npages, prot, NULL);
	if (err) {
		free(prot);
		return tap_call_failed(err, "ioctl(HMM_DMIRROR_SNAPSHOT)");
	}
	for (i = 0; i < npages; i++) {
		enum dmirror_place want = i >= first && i <= last ? touched :
								    others;
		bool on_dev = want == DMIRROR_ON_DEVICE;

		if (on_dev ? prot_is_on_device(prot[i]) :
			     prot_is_in_ram(prot[i]))
			continue;
		if (bad++ < 4 && used < sizeof(why))
			used += snprintf(why + used, sizeof(why) - used,
					 "%spage %zu: expected %s got %s",
					 bad > 1 ? "; " : "", i,
					 on_dev ? "DEV_PRIVATE_LOCAL" : "RAM",
					 prot_name(prot[i], name,
						   sizeof(name)));
	}
	free(prot);
	return tap_check(!bad, what, "%zu of %zu pages misplaced: %s%s", bad,
			 npages, why, bad > 4 ? "; ..." : "");
}
