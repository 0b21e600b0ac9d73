/*
 * backend_test_hmm.c - the kernel's test exporter (lib/test_hmm.c): fake
 * device-private memory behind /dev/hmm_dmirrorN, moved with its
 * MIGRATE_TO_DEV/MIGRATE_TO_SYS ioctls and inspected with SNAPSHOT, which
 * asks hmm_range_fault() without faulting anything.  Counters and the
 * alias switch are odp-p2p's additions to it (HMM_DMIRROR_COUNTERS,
 * HMM_DMIRROR_DEVICE_FLAGS); on a kernel without them those calls fail
 * with -EOPNOTSUPP.
 *
 * A test_hmm file mirrors the address space of the process that opened it,
 * which is why handles do not survive fork().
 */
#include "backend.h"

#include <lib/test_hmm_uapi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Pages per MIGRATE_TO_DEV: its bounce buffer gets a copy of each. */
#define MIGRATE_CHUNK 512
/* Pages per SNAPSHOT: one byte each. */
#define SNAPSHOT_CHUNK 4096

struct hmmem_dev {
	int fd;
};

/*
 * Whether @path is a test_hmm device node: a character device whose sysfs
 * entry is named hmm_dmirrorN.  Asked before opening it, since opening
 * some other device (a tty, a watchdog) has effects of its own.
 */
static int check_node(const char *path, dev_t *rdev)
{
	char sys[64], target[256];
	const char *base;
	struct stat st;
	ssize_t n;

	if (stat(path, &st))
		return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENODEV;
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	n = readlink(sys, target, sizeof(target) - 1);
	if (n < 0)
		return -ENODEV;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strncmp(base, "hmm_dmirror", strlen("hmm_dmirror")))
		return -ENODEV;
	*rdev = st.st_rdev;
	return 0;
}

static int test_hmm_open(const char *arg, struct hmmem_dev **dev, char *name,
			 size_t name_len)
{
	char path[64];
	const char *p = path;
	struct hmmem_dev *d;
	struct stat st;
	dev_t rdev = 0;
	int fd, err;

	if (!arg) {
		arg = "0";
	} else if (arg[0] == '/') {
		p = arg;
	}
	if (p == path) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(arg, &end, 10);
		if (*end || errno || arg[0] < '0' || arg[0] > '9' || n > 255)
			return -EINVAL;
		snprintf(path, sizeof(path), "/dev/hmm_dmirror%lu", n);
	}
	if (strlen(p) + sizeof("test_hmm:") > name_len)
		return -EINVAL;

	err = check_node(p, &rdev);
	if (err)
		return err;
	fd = open(p, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = errno;
		return err == ENOENT || err == ENXIO || err == ENODEV ?
			       -ENODEV :
			       -err;
	}
	/* The node that was checked, not one put there since. */
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != rdev) {
		close(fd);
		return -ENODEV;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	d->fd = fd;
	snprintf(name, name_len, "test_hmm:%s", p);
	*dev = d;
	return 0;
}

static void test_hmm_close(struct hmmem_dev *dev, bool in_child)
{
	(void)in_child; /* the child's copy of the fd is the child's own */
	close(dev->fd);
	free(dev);
}

/* One ioctl; 0 or -errno, and the pages the driver reports. */
static int dmirror_cmd(struct hmmem_dev *dev, unsigned long request,
		       uintptr_t addr, uint64_t npages, void *ptr,
		       uint64_t *cpages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = addr,
		.ptr = (uintptr_t)ptr,
		.npages = npages,
	};
	int ret;

	do
		ret = ioctl(dev->fd, request, &cmd);
	while (ret && errno == EINTR);
	if (cpages)
		*cpages = cmd.cpages;
	return ret ? -errno : 0;
}

/* A SNAPSHOT byte: the kind of page in the high nibble, access below. */
static uint8_t place_of(uint8_t prot)
{
	if (prot == HMM_DMIRROR_PROT_ERROR)
		return HMMEM_PLACE_UNKNOWN;
	switch (prot & 0xf0) {
	case HMM_DMIRROR_PROT_NONE:
		/* no access bits: nothing mapped yet */
		return (prot &
			(HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE)) ?
			       HMMEM_PLACE_HOST :
			       HMMEM_PLACE_NONE;
	case HMM_DMIRROR_PROT_ZERO:
		return HMMEM_PLACE_HOST;
	case HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL:
	case HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL:
		return HMMEM_PLACE_DEVICE;
	case HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE:
	case HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE:
		return HMMEM_PLACE_OTHER_DEVICE;
	}
	return HMMEM_PLACE_UNKNOWN;
}

/*
 * Pages the snapshot saw as not present: untouched, or another device's.
 * (A PROT_NONE or PFN mapping is an error to it: unknown.)
 */
static int refine_none(const void *addr, size_t npages, uint8_t *places)
{
	size_t page = hmmem_page_size(), i, j;
	uint8_t pm[256];

	for (i = 0; i < npages; i += sizeof(pm)) {
		size_t n = hmmem_min(npages - i, sizeof(pm));
		int err = 0;

		for (j = 0; j < n && places[i + j] != HMMEM_PLACE_NONE; j++)
			;
		if (j == n)
			continue;
		err = hmmem_pagemap_places((const char *)addr + i * page, n,
					   HMMEM_PLACE_OTHER_DEVICE, pm);
		if (err)
			return err;
		for (j = 0; j < n; j++)
			if (places[i + j] == HMMEM_PLACE_NONE)
				places[i + j] = pm[j];
	}
	return 0;
}

/*
 * The places the driver's snapshot gives; *@none (may be NULL) gets how
 * many of them read HMMEM_PLACE_NONE.
 */
static int snapshot_places(struct hmmem_dev *dev, const void *addr,
			   size_t npages, uint8_t *places, size_t *none)
{
	size_t page = hmmem_page_size(), i, done;
	int tries;
	uintptr_t a = (uintptr_t)addr;

	for (done = 0; done < npages; done += SNAPSHOT_CHUNK) {
		size_t n = hmmem_min(npages - done, SNAPSHOT_CHUNK);
		uint8_t *p = places + done;
		int err;

		/* The driver writes every byte; valgrind cannot know. */
		memset(p, 0, n);
		/* EBUSY: invalidated for a second on end; a few more tries. */
		for (tries = 0; tries < 3; tries++) {
			err = dmirror_cmd(dev, HMM_DMIRROR_SNAPSHOT,
					  a + done * page, n, p, NULL);
			if (err != -EBUSY)
				break;
		}
		if (err)
			return err == -EINVAL ? -EFAULT : err;
		for (i = 0; i < n; i++) {
			p[i] = place_of(p[i]);
			if (none)
				*none += p[i] == HMMEM_PLACE_NONE;
		}
	}
	return 0;
}

static int test_hmm_where(struct hmmem_dev *dev, const void *addr,
			  size_t npages, uint8_t *places)
{
	size_t none = 0;
	int err = snapshot_places(dev, addr, npages, places, &none);

	/*
	 * The snapshot finds only this device's private pages: another
	 * device's look not present, as untouched pages do.  The page table
	 * tells them apart.
	 */
	if (!err && none)
		err = refine_none(addr, npages, places);
	return err;
}

/*
 * How many pages of the range are (@on: are not) on this device: the
 * snapshot alone says, with no need to tell the others apart.
 */
static long count_on_device(struct hmmem_dev *dev, void *addr, size_t npages,
			    bool on)
{
	uint8_t places[SNAPSHOT_CHUNK];
	size_t page = hmmem_page_size(), done, i;
	long count = 0;

	for (done = 0; done < npages; done += SNAPSHOT_CHUNK) {
		size_t n = hmmem_min(npages - done, SNAPSHOT_CHUNK);
		int err = snapshot_places(dev, (char *)addr + done * page, n,
					  places, NULL);

		if (err)
			return err;
		for (i = 0; i < n; i++)
			count += (places[i] == HMMEM_PLACE_DEVICE) == on;
	}
	return count;
}

static long test_hmm_to_device(struct hmmem_dev *dev, void *addr, size_t npages)
{
	size_t page = hmmem_page_size(), done;
	void *bounce;

	bounce = malloc(MIGRATE_CHUNK * page);
	if (!bounce)
		return -ENOMEM;
	for (done = 0; done < npages; done += MIGRATE_CHUNK) {
		size_t n = hmmem_min(npages - done, MIGRATE_CHUNK);
		int err = dmirror_cmd(dev, HMM_DMIRROR_MIGRATE_TO_DEV,
				      (uintptr_t)addr + done * page, n, bounce,
				      NULL);

		/*
		 * After migrating, the driver reads the range back through
		 * this file's mirror into @bounce, which fails with ENOENT
		 * on a page this file did not map (one already on the device,
		 * or that could not move): the snapshot below counts.
		 * EINVAL: a part of the range is not readable.
		 */
		if (err && err != -ENOENT) {
			free(bounce);
			return err == -EINVAL ? -EACCES : err;
		}
	}
	free(bounce);
	return count_on_device(dev, addr, npages, true);
}

static long test_hmm_to_host(struct hmmem_dev *dev, void *addr, size_t npages)
{
	size_t page = hmmem_page_size(), done;

	for (done = 0; done < npages; done += MIGRATE_CHUNK) {
		size_t n = hmmem_min(npages - done, MIGRATE_CHUNK);
		int err = dmirror_cmd(dev, HMM_DMIRROR_MIGRATE_TO_SYS,
				      (uintptr_t)addr + done * page, n, NULL,
				      NULL);

		if (err)
			return err == -EINVAL ? -EACCES : err;
	}
	return count_on_device(dev, addr, npages, false);
}

static int test_hmm_counters(struct hmmem_dev *dev, struct hmmem_counters *c)
{
	struct hmm_dmirror_counters k;
	uint64_t size = 0;
	int err;

	memset(&k, 0, sizeof(k));
	err = dmirror_cmd(dev, HMM_DMIRROR_COUNTERS, 0, sizeof(k), &k, &size);
	if (err)
		/*
		 * test_hmm without odp-p2p's counters fails an unknown command
		 * with EINVAL; the arguments here are always valid.
		 */
		return err == -EINVAL || err == -ENOTTY ? -EOPNOTSUPP : err;
	/* The driver's structure may be shorter (older) than ours. */
	if (size >= offsetof(struct hmm_dmirror_counters, migrated_to_ram) +
			    sizeof(k.migrated_to_ram))
		c->migrated_to_host = k.migrated_to_ram;
	if (size >= offsetof(struct hmm_dmirror_counters, alias_refused) +
			    sizeof(k.alias_refused)) {
		c->alias_offered = k.alias_offered;
		c->alias_refused = k.alias_refused;
	}
	return 0;
}

static int test_hmm_set_aliases(struct hmmem_dev *dev, bool on)
{
	int err = dmirror_cmd(dev, HMM_DMIRROR_DEVICE_FLAGS, 0,
			      on ? HMM_DMIRROR_DEVICE_EXPORT_ALIAS : 0, NULL,
			      NULL);

	/* As for the counters; without the series, flags 0 fail too. */
	return err == -EINVAL || err == -ENOTTY ? -EOPNOTSUPP : err;
}

const struct hmmem_backend hmmem_test_hmm_backend = {
	.name = "test_hmm",
	.open = test_hmm_open,
	.close = test_hmm_close,
	.to_device = test_hmm_to_device,
	.to_host = test_hmm_to_host,
	.where = test_hmm_where,
	.counters = test_hmm_counters,
	.set_aliases = test_hmm_set_aliases,
};
