/*
 * bar_exporter_test.c - test_hmm's devices whose memory is a PCI BAR
 * (lib/test_hmm.c's test_hmm_bar driver, bound in the VM to QEMU's
 * ivshmem-plain functions: /dev/hmm_dmirror4 and 5).
 *
 * The data of a page migrated to such a device must be in the BAR, and
 * nowhere else: each test reads and writes the BAR itself, through the PCI
 * function's sysfs resource file, and checks what the device file and the
 * CPU then see.  Every buffer holds a pattern that differs in every byte of
 * every page (a new seed per test), so a page found in the BAR is that page
 * and no other.
 *   - migration puts each page in exactly one BAR page, and the driver's
 *     copy of it (the bounce buffer MIGRATE_TO_DEV fills through the MMIO
 *     accessors) is the data;
 *   - bytes written into the BAR are the bytes the CPU reads after its
 *     fault migrates the pages back, and each of those pages is counted;
 *   - HMM_DMIRROR_WRITE through the device file lands in the BAR;
 *   - a THP migrates page by page (the device has no large pages);
 *   - the alias of a BAR page is a P2PDMA page, which an importer that
 *     names no device (test_hmm's own, as rxe) cannot reach: reading such
 *     memory through /dev/hmm_dmirror0 with aliases asked for migrates
 *     every page, maps no alias and counts a fallback for each;
 *   - unbinding the PCI function with pages on it and a file open migrates
 *     them back intact; the open file's migrations to it then fail with
 *     ENODEV; the function binds again once the file is closed.
 * And through rxe, which reaches P2PDMA aliases with MMIO accessors
 * (CONFIG_RDMA_RXE_ODP_P2PDMA), an ODP MR on rxe_b over the BAR device:
 *   - an RDMA WRITE's bytes are in the BAR, found there through the sysfs
 *     resource file before any CPU access, and nothing migrated; an RDMA
 *     READ returns the BAR's bytes;
 *   - unbinding the function while rxe maps aliases of its pages unmaps
 *     them from the MR (counted as invalidations) as the pages migrate back
 *     with every byte; the MR keeps working on RAM, and nothing oopses;
 *   - so does removing the function, as a hot-unplug does (sysfs remove:
 *     pci_stop_and_remove_bus_device(), which pciehp calls for a slot whose
 *     device goes); a rescan brings it back.
 */
#include "odp_harness.h"

#include "rdma_nl.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define IORESOURCE_MEM 0x00000200

/* Pages per buffer: a prime, so that nothing lines up by chance */
#define NPAGES 37

/* The BAR behind a dmirror file: the PCI function's largest memory BAR. */
struct bar {
	char pci[PATH_MAX]; /* /sys/bus/pci/devices/<address> */
	uint8_t *map;
	size_t len;
};

static bool bar_find(int fd, struct bar *b, char *why, size_t why_len)
{
	char path[PATH_MAX + 32], line[256];
	unsigned long long start, end, flags, best = 0;
	int i = 0, best_i = -1, rfd;
	struct stat st;
	FILE *f;

	if (fstat(fd, &st)) {
		snprintf(why, why_len, "fstat: %s", strerror(errno));
		return false;
	}
	/* The device's sysfs directory is in its PCI function's */
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	if (!realpath(path, b->pci)) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return false;
	}
	*strrchr(b->pci, '/') = '\0';
	snprintf(path, sizeof(path), "%s/resource", b->pci);
	f = fopen(path, "r");
	if (!f) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), f) && i < 6) {
		if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) == 3 &&
		    (flags & IORESOURCE_MEM) && end > start &&
		    end - start + 1 > best) {
			best = end - start + 1;
			best_i = i;
		}
		i++;
	}
	fclose(f);
	if (best_i < 0) {
		snprintf(why, why_len, "%s has no memory BAR", b->pci);
		return false;
	}
	snprintf(path, sizeof(path), "%s/resource%d", b->pci, best_i);
	rfd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (rfd < 0) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return false;
	}
	/* The driver uses the BAR rounded down to 2 MiB */
	b->len = best & ~((size_t)(2 << 20) - 1);
	b->map = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	close(rfd);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		snprintf(why, why_len, "mmap(%s): %s", path, strerror(errno));
		return false;
	}
	return true;
}

/*
 * Where each of the @npages pages of @buf (as they were before migrating)
 * is in the BAR: found[i] is its page index there, or -1.  False (with
 * *why) if a page is in no BAR page or in several.  The first 8 bytes
 * pick the candidates; the whole page must match.
 */
static bool bar_locate(const struct bar *b, const uint8_t *want, size_t npages,
		       long *found, char *why, size_t why_len)
{
	size_t ps = odp_page_size(), nbar = b->len / ps, i, j;
	uint8_t page[65536];
	uint64_t head;

	for (i = 0; i < npages; i++)
		found[i] = -1;
	for (j = 0; j < nbar; j++) {
		memcpy(&head, b->map + j * ps, sizeof(head));
		for (i = 0; i < npages; i++) {
			if (memcmp(&head, want + i * ps, sizeof(head)))
				continue;
			memcpy(page, b->map + j * ps, ps);
			if (memcmp(page, want + i * ps, ps))
				continue;
			if (found[i] >= 0) {
				snprintf(why, why_len,
					 "page %zu is in BAR pages %ld and %zu",
					 i, found[i], j);
				return false;
			}
			found[i] = (long)j;
		}
	}
	for (i = 0; i < npages; i++)
		if (found[i] < 0) {
			snprintf(why, why_len, "page %zu is in no BAR page", i);
			return false;
		}
	return true;
}

/*
 * For a fixture's setup: opens odp_dmirror_bar_path() and finds its BAR in
 * @b; the fd, or -1 when the test cannot go on (skipped or failed).
 */
static int open_bar_device(struct __test_metadata *_metadata, struct bar *b)
{
	char why[PATH_MAX + 128] = "";
	int fd = dmirror_open(odp_dmirror_bar_path());

	if (fd < 0) {
		if (dmirror_absent(-fd))
			ODP_SKIP(return -1, "%s", odp_reason());
		EXPECT_OK(false);
		return -1;
	}
	EXPECT_TRUE(bar_find(fd, b, why, sizeof(why)))
	TH_LOG("%s", why);
	return fd;
}

FIXTURE(bar)
{
	int fd;
	struct bar bar;
	uint8_t *buf, *want, *bounce;
	size_t len;
	uint32_t seed;
	long found[NPAGES];
};

FIXTURE_SETUP(bar)
{
	self->buf = self->want = self->bounce = NULL;
	self->bar.map = NULL;
	self->fd = open_bar_device(_metadata, &self->bar);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	ASSERT_TRUE(self->fd >= 0 && self->bar.map);
	TH_LOG("%s: BAR of %zu MiB at %s", odp_dmirror_bar_path(),
	       self->bar.len >> 20, self->bar.pci);
	self->len = NPAGES * odp_page_size();
	self->buf = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->want = malloc(self->len);
	self->bounce = malloc(self->len);
	ASSERT_NE(NULL, self->want);
	ASSERT_NE(NULL, self->bounce);
	log_seed(_metadata);
	self->seed = odp_seed();
	odp_fill(self->want, self->len, self->seed);
	memcpy(self->buf, self->want, self->len);
}

FIXTURE_TEARDOWN(bar)
{
	if (self->bar.map)
		munmap(self->bar.map, self->bar.len);
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, self->len);
	free(self->want);
	free(self->bounce);
	if (self->fd >= 0)
		EXPECT_OK(dmirror_close(self->fd));
}

/* Migrates the buffer to the BAR device and finds each page in the BAR. */
static bool to_bar(struct __test_metadata *_metadata, FIXTURE_DATA(bar) * self)
{
	char why[128] = "";

	EXPECT_OK(dmirror_migrate_to_device(self->fd, self->buf, NPAGES,
					    self->bounce));
	EXPECT_EQ(0, memcmp(self->bounce, self->want, self->len))
	TH_LOG("the driver's copy (through the MMIO accessors) differs");
	EXPECT_OK(dmirror_check_places(self->fd, self->buf, NPAGES, 0,
				       NPAGES - 1, DMIRROR_ON_DEVICE,
				       DMIRROR_ON_DEVICE));
	EXPECT_TRUE(bar_locate(&self->bar, self->want, NPAGES, self->found, why,
			       sizeof(why)))
	TH_LOG("%s", why);
	return !_metadata->exit_code;
}

static uint64_t migrated_to_ram(struct __test_metadata *_metadata, int fd)
{
	struct hmm_dmirror_counters c;

	EXPECT_EQ(0, dmirror_read_counters(fd, &c)) TH_LOG("%s", odp_reason());
	return c.migrated_to_ram;
}

TEST_F(bar, migration_lands_in_the_bar)
{
	ASSERT_TRUE(to_bar(_metadata, self));
}

TEST_F(bar, bar_writes_reach_the_cpu)
{
	size_t ps = odp_page_size(), i;
	uint64_t before;

	ASSERT_TRUE(to_bar(_metadata, self));
	/* New data, written into the BAR behind the driver's back */
	odp_fill(self->want, self->len, self->seed ^ 0x5a5a5a5a);
	for (i = 0; i < NPAGES; i++)
		memcpy(self->bar.map + self->found[i] * ps, self->want + i * ps,
		       ps);
	before = migrated_to_ram(_metadata, self->fd);
	/* The CPU's faults migrate every page back from the BAR */
	EXPECT_EQ((size_t)0, odp_verify(self->buf, 0, self->len,
					self->seed ^ 0x5a5a5a5a, NULL))
	TH_LOG("what the CPU reads: %s", odp_reason());
	EXPECT_EQ(before + NPAGES, migrated_to_ram(_metadata, self->fd));
	EXPECT_OK(dmirror_check_places(self->fd, self->buf, NPAGES, 0,
				       NPAGES - 1, DMIRROR_IN_RAM,
				       DMIRROR_IN_RAM));
}

TEST_F(bar, device_writes_land_in_the_bar)
{
	uint64_t cpages = 0;
	long found[NPAGES];
	size_t i;
	char why[128] = "";

	ASSERT_TRUE(to_bar(_metadata, self));
	odp_fill(self->want, self->len, self->seed ^ 0xa5a5a5a5);
	memcpy(self->bounce, self->want, self->len);
	ASSERT_EQ(0, dmirror_cmd(self->fd, HMM_DMIRROR_WRITE, self->buf, NPAGES,
				 self->bounce, &cpages));
	EXPECT_EQ((uint64_t)NPAGES, cpages);
	/* In the same BAR pages, still on the device */
	EXPECT_TRUE(bar_locate(&self->bar, self->want, NPAGES, found, why,
			       sizeof(why)))
	TH_LOG("%s", why);
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(self->found[i], found[i]) TH_LOG("page %zu moved", i);
	EXPECT_OK(dmirror_check_places(self->fd, self->buf, NPAGES, 0,
				       NPAGES - 1, DMIRROR_ON_DEVICE,
				       DMIRROR_ON_DEVICE));
	EXPECT_EQ((size_t)0, odp_verify(self->buf, 0, self->len,
					self->seed ^ 0xa5a5a5a5, NULL))
	TH_LOG("what the CPU reads: %s", odp_reason());
}

TEST_F(bar, a_thp_migrates_page_by_page)
{
	size_t huge = 2 << 20, len = 2 * huge, npages = len / odp_page_size();
	uint8_t *raw, *thp, *back;

	raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	thp = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	madvise(thp, len, MADV_HUGEPAGE);
	odp_fill(thp, len, self->seed ^ 0x3c3c3c3c);
	back = malloc(len);
	ASSERT_NE(NULL, back);
	EXPECT_OK(dmirror_migrate_to_device(self->fd, thp, npages, back));
	EXPECT_EQ((size_t)0,
		  odp_verify(back, 0, len, self->seed ^ 0x3c3c3c3c, NULL))
	TH_LOG("the driver's copy: %s", odp_reason());
	EXPECT_OK(dmirror_check_places(self->fd, thp, npages, 0, npages - 1,
				       DMIRROR_ON_DEVICE, DMIRROR_ON_DEVICE));
	EXPECT_EQ((size_t)0,
		  odp_verify(thp, 0, len, self->seed ^ 0x3c3c3c3c, NULL))
	TH_LOG("what the CPU reads: %s", odp_reason());
	free(back);
	munmap(raw, len + huge);
}

TEST_F(bar, a_cpu_importer_cannot_reach_a_p2pdma_alias)
{
	struct hmm_dmirror_counters e0, e1, i0, i1;
	uint64_t cpages = 0;
	int importer;

	importer = dmirror_open(odp_dmirror_path());
	ASSERT_LE(0, importer) TH_LOG("%s", odp_reason());
	ASSERT_TRUE(to_bar(_metadata, self));
	ASSERT_EQ(0, dmirror_set_device_flags(self->fd,
					      HMM_DMIRROR_DEVICE_EXPORT_ALIAS));
	ASSERT_EQ(0,
		  dmirror_set_flags(importer, HMM_DMIRROR_FLAG_IMPORT_ALIAS));
	ASSERT_EQ(0, dmirror_read_counters(self->fd, &e0));
	ASSERT_EQ(0, dmirror_read_counters(importer, &i0));
	memset(self->bounce, 0, self->len);
	EXPECT_EQ(0, dmirror_cmd(importer, HMM_DMIRROR_READ, self->buf, NPAGES,
				 self->bounce, &cpages));
	EXPECT_EQ((uint64_t)NPAGES, cpages);
	EXPECT_EQ(0, memcmp(self->bounce, self->want, self->len))
	TH_LOG("what the importer read differs");
	ASSERT_EQ(0, dmirror_read_counters(self->fd, &e1));
	ASSERT_EQ(0, dmirror_read_counters(importer, &i1));
	EXPECT_EQ(i0.alias_mapped, i1.alias_mapped);
	EXPECT_EQ(i0.alias_fallbacks + NPAGES, i1.alias_fallbacks);
	EXPECT_EQ(e0.migrated_to_ram + NPAGES, e1.migrated_to_ram);
	EXPECT_OK(dmirror_check_places(self->fd, self->buf, NPAGES, 0,
				       NPAGES - 1, DMIRROR_IN_RAM,
				       DMIRROR_IN_RAM));
	EXPECT_EQ(0, dmirror_set_device_flags(self->fd, 0));
	EXPECT_OK(dmirror_close(importer));
}

static bool sysfs_write(const char *path, const char *what)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, what, strlen(what));
	close(fd);
	return n == (ssize_t)strlen(what);
}

/* Binds the PCI function @addr to its driver again; waits for the device */
static bool rebind(const char *addr)
{
	int i;

	if (!sysfs_write("/sys/bus/pci/drivers_probe", addr))
		return odp_fail_errno(errno, "drivers_probe %s", addr);
	for (i = 0; i < 50 && access(odp_dmirror_bar_path(), F_OK); i++)
		usleep(100000);
	if (access(odp_dmirror_bar_path(), F_OK))
		return odp_fail("%s did not come back", odp_dmirror_bar_path());
	return true;
}

TEST_F(bar, unbinding_migrates_everything_back)
{
	const char *addr = strrchr(self->bar.pci, '/') + 1;
	uint64_t cpages = 0;
	int fd;

	ASSERT_TRUE(to_bar(_metadata, self));
	munmap(self->bar.map, self->bar.len);
	self->bar.map = NULL;
	ASSERT_TRUE(
		sysfs_write("/sys/bus/pci/drivers/test_hmm_bar/unbind", addr))
	TH_LOG("unbind %s: %s", addr, strerror(errno));
	EXPECT_NE(0, access(odp_dmirror_bar_path(), F_OK))
	TH_LOG("%s still there", odp_dmirror_bar_path());
	/* The pages are the CPU's again, with their data */
	EXPECT_OK(dmirror_check_places(self->fd, self->buf, NPAGES, 0,
				       NPAGES - 1, DMIRROR_IN_RAM,
				       DMIRROR_IN_RAM));
	EXPECT_EQ((size_t)0,
		  odp_verify(self->buf, 0, self->len, self->seed, NULL))
	TH_LOG("after unbinding: %s", odp_reason());
	/* The open file has no device memory left to migrate to */
	EXPECT_EQ(ENODEV,
		  dmirror_cmd(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, self->buf,
			      NPAGES, self->bounce, &cpages));
	EXPECT_EQ((uint64_t)0, cpages);
	EXPECT_OK(dmirror_check_places(self->fd, self->buf, NPAGES, 0,
				       NPAGES - 1, DMIRROR_IN_RAM,
				       DMIRROR_IN_RAM));
	EXPECT_OK(dmirror_close(self->fd));
	self->fd = -1;
	/* Once closed, the function binds again */
	ASSERT_TRUE(rebind(addr)) TH_LOG("%s", odp_reason());
	fd = dmirror_open(odp_dmirror_bar_path());
	ASSERT_LE(0, fd) TH_LOG("%s", odp_reason());
	EXPECT_OK(
		dmirror_migrate_to_device(fd, self->buf, NPAGES, self->bounce));
	EXPECT_EQ(0, memcmp(self->bounce, self->want, self->len));
	EXPECT_OK(dmirror_close(fd));
}

/*
 * How a test takes the BAR away while it is in use: unbinding test_hmm_bar
 * from the function, or removing the function from the PCI bus as a
 * hot-unplug does.
 */
enum bar_gone {
	BAR_PRESENT,
	BAR_UNBOUND,
	BAR_REMOVED
};

static bool take_away(const char *pci, enum bar_gone how)
{
	char path[PATH_MAX + 16];

	if (how == BAR_UNBOUND)
		return sysfs_write("/sys/bus/pci/drivers/test_hmm_bar/unbind",
				   strrchr(pci, '/') + 1);
	snprintf(path, sizeof(path), "%s/remove", pci);
	return sysfs_write(path, "1");
}

/*
 * Undoes take_away(): a removed function comes back with a rescan, as a
 * new PCI device that test_hmm_bar only takes through driver_override.
 */
static bool bring_back(const char *addr, enum bar_gone how)
{
	if (how == BAR_REMOVED) {
		char path[PATH_MAX];
		int i;

		if (!sysfs_write("/sys/bus/pci/rescan", "1"))
			return odp_fail_errno(errno, "PCI rescan");
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/driver_override", addr);
		for (i = 0; i < 50 && access(path, F_OK); i++)
			usleep(100000);
		if (!sysfs_write(path, "test_hmm_bar"))
			return odp_fail_errno(errno, "%s", path);
	}
	return rebind(addr);
}

FIXTURE(bar_rdma)
{
	struct odp_pair pair;
	int fd;
	struct bar bar;
	struct odp_buf dev; /* the ODP MR on rxe_b, moved to the BAR device */
	struct odp_buf local; /* on rxe_a, in RAM */
	struct hmm_dmirror_counters before; /* the BAR device's, after the move */
	enum bar_gone gone; /* how the test took the BAR away, for teardown */
};

FIXTURE_SETUP(bar_rdma)
{
	size_t size = NPAGES * odp_page_size();

	self->fd = -1;
	self->bar.map = NULL;
	self->gone = BAR_PRESENT;
	if (!open_pair(_metadata, &self->pair,
		       IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ, 0))
		return;
	/*
	 * Every test starts the run's seed sequence anew, and the bar
	 * fixture's tests left their first seed's pages in the BAR: skip it,
	 * so that bar_locate() finds each page of this MR only where it is.
	 */
	(void)odp_seed();
	self->fd = open_bar_device(_metadata, &self->bar);
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	ASSERT_TRUE(self->fd >= 0 && self->bar.map);
	ASSERT_OK(odp_buf_alloc_aliases(
		&self->dev, &self->pair.resp, size,
		ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND, true));
	ASSERT_OK(odp_buf_alloc(&self->local, &self->pair.req, size,
				ODP_REMOTE_ACCESS));
	migrate_to_device(_metadata, self->fd, self->dev.addr, NPAGES,
			  self->dev.seed);
	ASSERT_EQ(0, dmirror_read_counters(self->fd, &self->before))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, dmirror_set_device_flags(self->fd,
					      HMM_DMIRROR_DEVICE_EXPORT_ALIAS))
	TH_LOG("%s", odp_reason());
}

FIXTURE_TEARDOWN(bar_rdma)
{
	if (self->bar.map)
		munmap(self->bar.map, self->bar.len);
	if (self->gone != BAR_PRESENT) {
		size_t len = 4 * odp_page_size();
		uint8_t *buf, *copy = malloc(len);

		/* The function binds only once no file holds the old device */
		EXPECT_OK(dmirror_close(self->fd));
		self->fd = -1;
		EXPECT_TRUE(
			bring_back(strrchr(self->bar.pci, '/') + 1, self->gone))
		TH_LOG("%s", odp_reason());
		/* And the device it comes back as works */
		self->fd = dmirror_open(odp_dmirror_bar_path());
		EXPECT_LE(0, self->fd) TH_LOG("%s", odp_reason());
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		EXPECT_NE(MAP_FAILED, buf);
		EXPECT_NE(NULL, copy);
		/* No ASSERT here: it would end the teardown */
		if (self->fd >= 0 && buf != MAP_FAILED && copy) {
			odp_fill(buf, len, self->dev.seed ^ 0x77777777);
			EXPECT_OK(dmirror_migrate_to_device(self->fd, buf, 4,
							    copy));
			EXPECT_PATTERN("the device's copy", copy, 0, len,
				       self->dev.seed ^ 0x77777777);
			EXPECT_EQ((size_t)0,
				  odp_verify(buf, 0, len,
					     self->dev.seed ^ 0x77777777, NULL))
			TH_LOG("after coming back: %s", odp_reason());
		}
		if (buf != MAP_FAILED)
			munmap(buf, len);
		free(copy);
	}
	close_device_test(_metadata, &self->pair, self->fd,
			  (struct odp_buf *const[]){ &self->local, &self->dev },
			  2);
}

/* One RDMA WRITE or READ of [off, off + len) between the two buffers */
static bool bar_rdma(struct __test_metadata *_metadata,
		     FIXTURE_DATA(bar_rdma) * self, enum ibv_wr_opcode op,
		     size_t off, size_t len, uint64_t wr_id)
{
	struct ibv_wc wc;

	if (!odp_post_rdma(&self->pair, op, &self->local, &self->dev, off, len,
			   wr_id))
		return odp_fail("%s", odp_reason());
	return completes(_metadata, &self->pair.req, wr_id, IBV_WC_SUCCESS,
			 op == IBV_WR_RDMA_WRITE ? IBV_WC_RDMA_WRITE :
						   IBV_WC_RDMA_READ,
			 &wc);
}

/* want[i] = the pattern @seed's byte i, for i in [from, to) */
static void fill_range(uint8_t *want, size_t from, size_t to, uint32_t seed)
{
	size_t i;

	for (i = from; i < to; i++)
		want[i] = odp_pattern_byte(seed, i);
}

/* The MR's bytes after a WRITE of [off, off + len): dev's, local's there */
static void expected_mr(FIXTURE_DATA(bar_rdma) * self, uint8_t *want,
			size_t off, size_t len)
{
	size_t size = NPAGES * odp_page_size();

	odp_fill(want, size, self->dev.seed);
	fill_range(want, off, off + len, self->local.seed);
}

TEST_F_TIMEOUT(bar_rdma, rdma_write_lands_in_the_bar, ODP_TEST_TIMEOUT)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	/* pages 3-20, from and to mid-page */
	size_t off = 3 * page + 777, len = 17 * page + 1234;
	size_t roff = 11 * page + 5, rlen = 20 * page + 4000; /* pages 11-31 */
	struct hmm_dmirror_counters after;
	struct rdma_nl_odp_mr mr;
	uint8_t *want = malloc(size);
	long found[NPAGES];
	char why[128] = "";

	ASSERT_NE(NULL, want);
	ASSERT_TRUE(bar_rdma(_metadata, self, IBV_WR_RDMA_WRITE, off, len, 1));
	/* Before any CPU access, which would migrate pages */
	EXPECT_OK(dmirror_check_places(self->fd, self->dev.addr, NPAGES, 0,
				       NPAGES - 1, DMIRROR_ON_DEVICE,
				       DMIRROR_ON_DEVICE));
	expected_mr(self, want, off, len);
	EXPECT_TRUE(
		bar_locate(&self->bar, want, NPAGES, found, why, sizeof(why)))
	TH_LOG("the MR's pages, with the WRITE's bytes, in the BAR: %s", why);

	/* READ gets the BAR's bytes, written or not by the WRITE */
	ASSERT_TRUE(bar_rdma(_metadata, self, IBV_WR_RDMA_READ, roff, rlen, 2));
	EXPECT_EQ(0, memcmp(self->local.addr + roff, want + roff, rlen))
	TH_LOG("the READ returned other bytes than the BAR holds");
	EXPECT_PATTERN("local bytes before the READ are unchanged",
		       self->local.addr, 0, roff, self->local.seed);
	EXPECT_PATTERN("local bytes after the READ are unchanged",
		       self->local.addr, roff + rlen, size, self->local.seed);

	ASSERT_EQ(0, dmirror_read_counters(self->fd, &after));
	EXPECT_EQ(self->before.migrated_to_ram, after.migrated_to_ram)
	TH_LOG("the NIC's faults migrated pages");
	EXPECT_LE(self->before.alias_offered + 18, after.alias_offered)
	TH_LOG("test_hmm offered fewer aliases than the WRITE touched pages");
	ASSERT_EQ(0, rdma_nl_get_odp_mr((uint32_t)self->pair.resp.index,
					self->dev.mr->rkey, &mr))
	TH_LOG("%s", odp_reason());
	EXPECT_LE(29ULL, mr.alias_pages)
	TH_LOG("pages 3-31 mapped as aliases: %llu",
	       (unsigned long long)mr.alias_pages);
	EXPECT_EQ(0ULL, mr.alias_fallbacks);

	/* And the CPU, whose faults migrate them now, sees the same bytes */
	EXPECT_EQ(0, memcmp(self->dev.addr, want, size))
	TH_LOG("the CPU reads other bytes than the BAR held");
	free(want);
}

/*
 * Takes the BAR away (@how) after an RDMA WRITE mapped aliases of pages
 * 5-14: rxe must unmap them (counted as invalidations) as the pages migrate
 * back with every byte, and the MR must work on in RAM.
 */
static void bar_goes_under_the_mr(struct __test_metadata *_metadata,
				  FIXTURE_DATA(bar_rdma) * self,
				  enum bar_gone how)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	size_t off = 5 * page + 99, len = 9 * page + 2; /* pages 5-14 */
	size_t off2 = 20 * page + 3000, len2 = 7 * page; /* pages 20-27 */
	struct rdma_nl_odp_mr mr, mr2;
	uint8_t *want = malloc(size);

	ASSERT_NE(NULL, want);
	ASSERT_TRUE(bar_rdma(_metadata, self, IBV_WR_RDMA_WRITE, off, len, 1));
	ASSERT_EQ(0, rdma_nl_get_odp_mr((uint32_t)self->pair.resp.index,
					self->dev.mr->rkey, &mr))
	TH_LOG("%s", odp_reason());
	EXPECT_LE(10ULL, mr.alias_pages)
	TH_LOG("pages 5-14 mapped as aliases");

	munmap(self->bar.map, self->bar.len);
	self->bar.map = NULL;
	self->gone = how; /* teardown brings it back, even half gone */
	ASSERT_TRUE(take_away(self->bar.pci, how))
	TH_LOG("%s %s: %s", how == BAR_UNBOUND ? "unbind" : "remove",
	       self->bar.pci, strerror(errno));
	EXPECT_NE(0, access(odp_dmirror_bar_path(), F_OK))
	TH_LOG("%s still there", odp_dmirror_bar_path());
	if (how == BAR_REMOVED)
		EXPECT_NE(0, access(self->bar.pci, F_OK))
	TH_LOG("%s still on the bus", self->bar.pci);
	EXPECT_OK(dmirror_check_places(self->fd, self->dev.addr, NPAGES, 0,
				       NPAGES - 1, DMIRROR_IN_RAM,
				       DMIRROR_IN_RAM));
	ASSERT_EQ(0, rdma_nl_get_odp_mr((uint32_t)self->pair.resp.index,
					self->dev.mr->rkey, &mr2))
	TH_LOG("the MR is gone: %s", odp_reason());
	EXPECT_LE(mr.page_invalidations + 10, mr2.page_invalidations)
	TH_LOG("taking the BAR away unmapped %llu of the 10 aliases",
	       (unsigned long long)(mr2.page_invalidations -
				    mr.page_invalidations));

	/* The MR works on, in RAM now */
	ASSERT_TRUE(
		bar_rdma(_metadata, self, IBV_WR_RDMA_WRITE, off2, len2, 2));
	expected_mr(self, want, off, len);
	fill_range(want, off2, off2 + len2, self->local.seed);
	EXPECT_EQ(0, memcmp(self->dev.addr, want, size))
	TH_LOG("bytes lost or misplaced as the BAR went");
	EXPECT_OK(dmirror_check_places(self->fd, self->dev.addr, NPAGES, 0,
				       NPAGES - 1, DMIRROR_IN_RAM,
				       DMIRROR_IN_RAM));
	free(want);
}

TEST_F_TIMEOUT(bar_rdma, unbinding_unmaps_the_aliases_and_keeps_the_mr_working,
	       ODP_TEST_TIMEOUT)
{
	bar_goes_under_the_mr(_metadata, self, BAR_UNBOUND);
}

TEST_F_TIMEOUT(bar_rdma, removing_unmaps_the_aliases_and_keeps_the_mr_working,
	       ODP_TEST_TIMEOUT)
{
	bar_goes_under_the_mr(_metadata, self, BAR_REMOVED);
}

TEST_HARNESS_MAIN
