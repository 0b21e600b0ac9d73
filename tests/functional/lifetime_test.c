/*
 * lifetime_test - what becomes of device-private memory that an ODP MR on
 * rxe_b maps through aliases when the MR, the mapping or the process goes
 * away while the aliases are mapped.
 *
 * - Deregistering the MR leaves the data where it is: on test_hmm's device,
 *   every byte the NIC wrote there, nothing migrated, and the MR gone from
 *   the device's resources.
 * - munmap() of part of the buffer unmaps exactly those pages from the MR
 *   (its invalidation counter says how many), and memory mapped again at the
 *   same addresses, never touched, is what the next RDMA WRITE faults in and
 *   fills: new RAM pages, next to device pages still reached through their
 *   aliases.
 * - A process killed with its MR's aliases mapped leaves no MR behind.
 *
 * The VM fails the run on any kernel splat, so each test also checks that
 * tearing an alias mapping down this way is clean.
 */
#include "odp_harness.h"

#include "rdma_nl.h"

#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 8

FIXTURE(lifetime)
{
	struct odp_pair pair;
	int dmirror;
	struct odp_buf dev; /* on rxe_b, moved to test_hmm's device */
	struct odp_buf local; /* on rxe_a, in RAM */
	struct hmm_dmirror_counters before; /* test_hmm's, after the move */
};

FIXTURE_SETUP(lifetime)
{
	size_t size = NPAGES * odp_page_size();

	self->dmirror = -1;
	if (!open_pair(_metadata, &self->pair, IBV_ODP_SUPPORT_WRITE, 0))
		return;
	self->dmirror = open_dmirror(_metadata);
	if (self->dmirror < 0)
		return;
	ASSERT_OK(odp_buf_alloc_aliases(
		&self->dev, &self->pair.resp, size,
		ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND, true));
	ASSERT_OK(odp_buf_alloc(&self->local, &self->pair.req, size,
				IBV_ACCESS_LOCAL_WRITE));
	migrate_to_device(_metadata, self->dmirror, self->dev.addr, NPAGES,
			  self->dev.seed);
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &self->before))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, dmirror_set_device_flags(self->dmirror,
					      HMM_DMIRROR_DEVICE_EXPORT_ALIAS))
	TH_LOG("%s", odp_reason());
}

FIXTURE_TEARDOWN(lifetime)
{
	close_device_test(_metadata, &self->pair, self->dmirror,
			  (struct odp_buf *const[]){ &self->local, &self->dev },
			  2);
}

/* RDMA WRITE of [off, off + len) from the local buffer into the MR */
static bool write_range(struct __test_metadata *_metadata,
			FIXTURE_DATA(lifetime) * self, size_t off, size_t len,
			uint64_t wr_id)
{
	struct ibv_wc wc;

	if (!odp_post_rdma(&self->pair, IBV_WR_RDMA_WRITE, &self->local,
			   &self->dev, off, len, wr_id))
		return odp_fail("%s", odp_reason());
	return completes(_metadata, &self->pair.req, wr_id, IBV_WC_SUCCESS,
			 IBV_WC_RDMA_WRITE, &wc);
}

static bool mr_counters(FIXTURE_DATA(lifetime) * self,
			struct rdma_nl_odp_mr *mr)
{
	return !rdma_nl_get_odp_mr((uint32_t)self->pair.resp.index,
				   self->dev.mr->rkey, mr);
}

TEST_F_TIMEOUT(lifetime, dereg_leaves_the_written_bytes_on_the_device,
	       ODP_TEST_TIMEOUT)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	size_t off = page + 123, len = 5 * page + 1000; /* pages 1-6 */
	struct hmm_dmirror_counters after;
	struct rdma_nl_odp_mr mr;
	uint32_t index = (uint32_t)self->pair.resp.index;
	uint32_t rkey = self->dev.mr->rkey;

	ASSERT_TRUE(write_range(_metadata, self, off, len, 1));
	ASSERT_OK(mr_counters(self, &mr));
	EXPECT_LE(6ULL, mr.alias_pages)
	TH_LOG("the write mapped pages 1-6 as aliases");
	EXPECT_EQ(0ULL, mr.alias_fallbacks);

	ASSERT_OK(odp_dereg_mr(self->dev.mr));
	self->dev.mr = NULL;
	EXPECT_EQ(ENOENT, rdma_nl_get_odp_mr(index, rkey, &mr))
	TH_LOG("rxe_b still lists the MR: %s", odp_reason());

	/* Before any CPU access, which would migrate them */
	EXPECT_TRUE(dmirror_check_places(self->dmirror, self->dev.addr, NPAGES,
					 0, NPAGES - 1, DMIRROR_ON_DEVICE,
					 DMIRROR_ON_DEVICE))
	TH_LOG("every page stays on the device: %s", odp_reason());
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &after));
	EXPECT_EQ(self->before.migrated_to_ram, after.migrated_to_ram);

	/* The CPU faults them back and finds what the NIC wrote */
	expect_placed(_metadata, "target", self->dev.addr, size, off, len,
		      self->local.seed, self->dev.seed);
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &after));
	EXPECT_EQ((uint64_t)NPAGES,
		  after.migrated_to_ram - self->before.migrated_to_ram);
}

TEST_F_TIMEOUT(lifetime, munmap_unmaps_those_pages_and_new_memory_is_reached,
	       ODP_TEST_TIMEOUT)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	/* Pages 2-4 go away and come back as RAM; 1-5 are written again */
	size_t hole = 2 * page, hole_len = 3 * page;
	size_t off = page + 777, len = 4 * page + 100;
	struct rdma_nl_odp_mr b, mr;
	uint32_t first_seed = self->local.seed;
	void *addr;

	/* Every page written, so mapped, through its alias */
	ASSERT_TRUE(write_range(_metadata, self, 0, size, 1));
	ASSERT_OK(mr_counters(self, &b));
	EXPECT_LE((uint64_t)NPAGES, b.alias_pages);

	ASSERT_EQ(0, munmap(self->dev.addr + hole, hole_len));
	ASSERT_OK(mr_counters(self, &mr));
	EXPECT_EQ(3ULL, mr.page_invalidations - b.page_invalidations)
	TH_LOG("munmap() of 3 mapped pages invalidates them, only them");

	addr = mmap(self->dev.addr + hole, hole_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(self->dev.addr + hole, addr);
	/* Left untouched: the NIC's fault is what populates them */

	/* A new pattern, across device pages 1 and 5 and new pages 2-4 */
	self->local.seed = odp_seed();
	odp_fill(self->local.addr, size, self->local.seed);
	ASSERT_OK(mr_counters(self, &b));
	ASSERT_TRUE(write_range(_metadata, self, off, len, 2));
	ASSERT_OK(mr_counters(self, &mr));
	EXPECT_EQ(0ULL, mr.alias_fallbacks - b.alias_fallbacks);
	EXPECT_LE(3ULL, mr.page_faults - b.page_faults)
	TH_LOG("the new pages 2-4 were faulted in");

	EXPECT_TRUE(dmirror_check_places(self->dmirror, self->dev.addr, NPAGES,
					 2, 4, DMIRROR_IN_RAM,
					 DMIRROR_ON_DEVICE))
	TH_LOG("pages 2-4 are the new RAM, the others on the device: %s",
	       odp_reason());
	EXPECT_PATTERN("the second write landed", self->dev.addr, off,
		       off + len, self->local.seed);
	EXPECT_PATTERN("bytes before it hold the first write", self->dev.addr,
		       0, off, first_seed);
	EXPECT_PATTERN("bytes after it hold the first write", self->dev.addr,
		       off + len, size, first_seed);
}

/* What the child of the next test reports through its pipe */
struct child_report {
	int ok;
	int absent; /* no rxe pair or no test_hmm here: skip */
	uint32_t index, rkey;
	uint64_t alias_pages;
	char why[256];
};

static void child_report(int fd, struct child_report *r)
{
	if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(2);
}

/*
 * The child: its own pair and MR on device memory, written through the
 * aliases; reports, then dies by SIGKILL with everything still open.
 */
static void child_run(int fd)
{
	struct child_report r = { 0 };
	size_t size = NPAGES * odp_page_size();
	struct rdma_nl_odp_mr mr;
	struct odp_buf dev, local;
	struct odp_pair p;
	struct ibv_wc wc;
	void *bounce = malloc(size);
	int dm = dmirror_open(odp_dmirror_path());
	enum odp_open o = ODP_OPEN_FAILED;

	if (dm >= 0)
		o = odp_pair_open(&p, IBV_ODP_SUPPORT_WRITE, 0);
	r.absent = dm < 0 ? dmirror_absent(-dm) : o == ODP_OPEN_ABSENT;
	if (!bounce || o != ODP_OPEN_OK ||
	    dmirror_set_device_flags(dm, HMM_DMIRROR_DEVICE_EXPORT_ALIAS) ||
	    !odp_buf_alloc_aliases(&dev, &p.resp, size,
				   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND,
				   true) ||
	    !odp_buf_alloc(&local, &p.req, size, IBV_ACCESS_LOCAL_WRITE) ||
	    !dmirror_migrate_to_device(dm, dev.addr, NPAGES, bounce) ||
	    !odp_post_rdma(&p, IBV_WR_RDMA_WRITE, &local, &dev, 0, size, 1) ||
	    !odp_poll_completion(&p.req, &wc) ||
	    rdma_nl_get_odp_mr((uint32_t)p.resp.index, dev.mr->rkey, &mr)) {
		snprintf(r.why, sizeof(r.why), "%s", odp_reason());
		child_report(fd, &r);
		_exit(1);
	}
	r.ok = wc.status == IBV_WC_SUCCESS;
	snprintf(r.why, sizeof(r.why), "the WRITE completed with %s",
		 odp_wc_status_name(wc.status));
	r.index = (uint32_t)p.resp.index;
	r.rkey = dev.mr->rkey;
	r.alias_pages = mr.alias_pages;
	child_report(fd, &r);
	/* SIGKILL cannot be blocked: this does not return */
	raise(SIGKILL);
}

TEST(killed_process_leaves_no_mr_behind)
{
	struct child_report r = { 0 };
	struct rdma_nl_odp_mr mr;
	int fds[2], status, err = 0, i, dm;
	pid_t pid;

	log_seed(_metadata);
	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(fds[0]);
		child_run(fds[1]);
	}
	close(fds[1]);
	ASSERT_EQ((ssize_t)sizeof(r), read(fds[0], &r, sizeof(r)))
	TH_LOG("the child died before it reported");
	close(fds[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (!r.ok && r.absent)
		ODP_SKIP(return, "%s", r.why);
	ASSERT_TRUE(r.ok) TH_LOG("child: %s", r.why);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
	TH_LOG("the child ended with status %#x, not SIGKILL", status);
	EXPECT_LE((uint64_t)NPAGES, r.alias_pages)
	TH_LOG("the child's MR mapped its pages as aliases");

	/* Its files are closed by the time it is reaped; allow a little more */
	for (i = 0; i < 50; i++) {
		err = rdma_nl_get_odp_mr(r.index, r.rkey, &mr);
		if (err == ENOENT)
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(ENOENT, err)
	TH_LOG("device %u still lists the child's MR 0x%x: %s", r.index, r.rkey,
	       odp_reason());

	/* As the VM boots it: nothing exported */
	dm = dmirror_open(odp_dmirror_path());
	ASSERT_LE(0, dm);
	EXPECT_EQ(0, dmirror_set_device_flags(dm, 0));
	EXPECT_OK(dmirror_close(dm));
}

TEST_HARNESS_MAIN
