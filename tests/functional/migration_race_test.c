/*
 * migration_race_test - RDMA WRITEs and READs from rxe_a into an ODP MR on
 * rxe_b while another thread moves the MR's pages to test_hmm's device and
 * back, over and over: every write lands whole and every read returns what
 * the last write put there, whichever side of a migration the NIC hits.
 *
 * Each round writes a fresh pattern (a new seed per round, so a stale page
 * or packet of an earlier round never matches) into a range that starts
 * and ends mid-page, reads the range back through the NIC, without a CPU
 * access to the MR's buffer, and compares; the last round's bytes are
 * checked through the CPU too, with the bytes around the range.  The rounds
 * go on until the mover has completed enough round trips of the pages to
 * the device and back while traffic ran.
 *
 * With aliases on, the NIC reaches pages the mover put on the device
 * through their aliases, so an invalidation can tear down an alias mapping
 * while the owner migrates that page; with aliases off, every NIC fault on
 * a device page migrates it back itself, racing with the mover's own
 * migrations to the device.
 */
#include "odp_harness.h"

#include "timing.h"

#include <pthread.h>
#include <stdatomic.h>

#define NPAGES 16

/* At least this many rounds, and at least this many round trips */
#define MIN_ROUNDS 64UL
#define MIN_TRIPS 8UL
/* How long the rounds may go on to get there */
#define RACE_MS (60 * 1000.0)

struct mover {
	pthread_t thread;
	int fd;
	void *addr;
	atomic_bool stop;
	/*
	 * MIGRATE_TO_SYS calls that moved pages back to RAM: each found them
	 * on the device, where only the MIGRATE_TO_DEV before it put them.
	 */
	atomic_ulong trips;
	atomic_ulong contended; /* MIGRATE_TO_DEV calls that met ENOENT */
	atomic_int err; /* the first errno that is not contention */
};

/*
 * Contention, not a failure: MIGRATE_TO_DEV reads the pages back through
 * its mirror (dmirror_do_read()), which fails with ENOENT for a page the
 * NIC's fault moved back to RAM in between.
 */
static bool contention(int err)
{
	return err == ENOENT;
}

static void *mover_run(void *arg)
{
	struct mover *m = arg;
	size_t size = NPAGES * odp_page_size();
	void *bounce = malloc(size);
	uint64_t cpages;
	int err;

	if (!bounce) {
		atomic_store(&m->err, ENOMEM);
		return NULL;
	}
	while (!atomic_load(&m->stop)) {
		err = dmirror_cmd(m->fd, HMM_DMIRROR_MIGRATE_TO_DEV, m->addr,
				  NPAGES, bounce, NULL);
		if (err && !contention(err))
			break;
		if (err)
			atomic_fetch_add(&m->contended, 1);
		err = dmirror_cmd(m->fd, HMM_DMIRROR_MIGRATE_TO_SYS, m->addr,
				  NPAGES, NULL, &cpages);
		if (err)
			break;
		if (cpages)
			atomic_fetch_add(&m->trips, 1);
		/*
		 * Let the NIC's faults win now and then: their retries are
		 * bounded (HMM_RANGE_DEFAULT_TIMEOUT).
		 */
		usleep(200);
	}
	if (err)
		atomic_store(&m->err, err);
	free(bounce);
	return NULL;
}

FIXTURE(migration_race)
{
	struct odp_pair pair;
	int dmirror;
	struct odp_buf dev; /* the ODP MR under test, on host B */
	struct odp_buf src, back; /* on host A: what is written, read back */
	size_t off, len;
	struct mover mover;
	bool moving;
};

FIXTURE_VARIANT(migration_race)
{
	bool aliases; /* rxe_b's ODP alias switch when the MR is registered */
};

FIXTURE_VARIANT_ADD(migration_race, aliases_on){
	.aliases = true,
};

FIXTURE_VARIANT_ADD(migration_race, aliases_off){
	.aliases = false,
};

FIXTURE_SETUP(migration_race)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	int err;

	self->dmirror = -1;
	if (!open_pair(_metadata, &self->pair,
		       IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ, 0))
		return;
	self->dmirror = open_dmirror(_metadata);
	if (self->dmirror < 0)
		return;
	/* Pages 1 to 14, mid-page to mid-page */
	self->off = page + 1234;
	self->len = 13 * page + 2345;

	ASSERT_OK(odp_buf_alloc_aliases(
		&self->dev, &self->pair.resp, size,
		ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND, variant->aliases));

	ASSERT_OK(odp_buf_alloc(&self->src, &self->pair.req, size,
				IBV_ACCESS_LOCAL_WRITE));
	ASSERT_OK(odp_buf_alloc(&self->back, &self->pair.req, size,
				IBV_ACCESS_LOCAL_WRITE));
	self->mover.fd = self->dmirror;
	self->mover.addr = self->dev.addr;
	err = pthread_create(&self->mover.thread, NULL, mover_run,
			     &self->mover);
	ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
	self->moving = true;
	/*
	 * Last, the only state that outlives a setup that fails: every alias
	 * test_hmm is asked for, it offers; reset by teardown.
	 */
	ASSERT_EQ(0, dmirror_set_device_flags(self->dmirror,
					      HMM_DMIRROR_DEVICE_EXPORT_ALIAS))
	TH_LOG("%s", odp_reason());
}

/* Stops the mover; true unless it met an error that is not contention. */
static bool stop_mover(struct __test_metadata *_metadata,
		       FIXTURE_DATA(migration_race) * self)
{
	int err;

	if (!self->moving)
		return true;
	self->moving = false;
	atomic_store(&self->mover.stop, true);
	pthread_join(self->mover.thread, NULL);
	err = atomic_load(&self->mover.err);
	EXPECT_EQ(0, err)
	TH_LOG("migrating the MR's pages: %s", strerror(err));
	return !err;
}

FIXTURE_TEARDOWN(migration_race)
{
	stop_mover(_metadata, self);
	close_device_test(_metadata, &self->pair, self->dmirror,
			  (struct odp_buf *const[]){ &self->back, &self->src,
						     &self->dev },
			  3);
}

/*
 * One round: writes a new pattern (*@seed) and reads it back; false if an
 * operation failed.
 */
static bool round_trip(struct __test_metadata *_metadata,
		       FIXTURE_DATA(migration_race) * self, unsigned long round,
		       uint32_t *seed)
{
	struct odp_pair *p = &self->pair;
	size_t end = self->off + self->len;
	struct ibv_wc wc;

	*seed = odp_seed();
	odp_fill(self->src.addr, self->src.size, *seed);
	memset(self->back.addr, 0, self->back.size);
	if (!odp_post_rdma(p, IBV_WR_RDMA_WRITE, &self->src, &self->dev,
			   self->off, self->len, 2 * round) ||
	    !completes(_metadata, &p->req, 2 * round, IBV_WC_SUCCESS,
		       IBV_WC_RDMA_WRITE, &wc) ||
	    !odp_post_rdma(p, IBV_WR_RDMA_READ, &self->back, &self->dev,
			   self->off, self->len, 2 * round + 1) ||
	    !completes(_metadata, &p->req, 2 * round + 1, IBV_WC_SUCCESS,
		       IBV_WC_RDMA_READ, &wc)) {
		TH_LOG("round %lu: %s", round, odp_reason());
		return false;
	}
	EXPECT_EQ((size_t)0,
		  odp_verify(self->back.addr, self->off, end, *seed, NULL))
	TH_LOG("round %lu: the range read back is the range written: %s", round,
	       odp_reason());
	EXPECT_EQ(0, self->back.addr[self->off - 1] | self->back.addr[end])
	TH_LOG("round %lu: the READ wrote next to its range", round);
	return true;
}

TEST_F_TIMEOUT(migration_race, every_round_reads_back_what_it_wrote,
	       ODP_TEST_TIMEOUT)
{
	double deadline = odp_now_ms() + RACE_MS;
	size_t size = NPAGES * odp_page_size();
	unsigned long round = 0, trips = 0;
	struct hmm_dmirror_counters before, after;
	uint64_t faulted, offered;
	uint32_t seed = 0;
	bool done;

	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &before))
	TH_LOG("%s", odp_reason());

	do {
		done = round_trip(_metadata, self, ++round, &seed);
		if (!done || _metadata->exit_code)
			break;
		trips = atomic_load(&self->mover.trips);
	} while ((round < MIN_ROUNDS || trips < MIN_TRIPS) &&
		 odp_now_ms() < deadline);
	ASSERT_TRUE(stop_mover(_metadata, self));
	ASSERT_TRUE(done);
	ASSERT_EQ(0, _metadata->exit_code);
	TH_LOG("%lu rounds while the pages went to the device and back %lu times (%lu migrations to the device met a page the NIC had moved back)",
	       round, trips, atomic_load(&self->mover.contended));
	EXPECT_LE(MIN_ROUNDS, round)
	TH_LOG("too few rounds in %.0f s", RACE_MS / 1000);
	EXPECT_LE(MIN_TRIPS, trips)
	TH_LOG("the mover must have raced with the traffic");

	/*
	 * Before any CPU access: only the NIC's faults migrated pages back
	 * (test_hmm counts its fault handler, not MIGRATE_TO_SYS).  With
	 * aliases, a NIC fault that meets a page in migration waits for it
	 * and then takes an alias: never a migration.
	 */
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &after))
	TH_LOG("%s", odp_reason());
	faulted = after.migrated_to_ram - before.migrated_to_ram;
	offered = after.alias_offered - before.alias_offered;
	TH_LOG("the NIC's faults: %llu pages migrated to RAM, %llu aliases offered",
	       (unsigned long long)faulted, (unsigned long long)offered);
	if (variant->aliases) {
		EXPECT_EQ(0ULL, faulted);
		EXPECT_LT(0ULL, offered);
	} else {
		EXPECT_LT(0ULL, faulted);
		EXPECT_EQ(0ULL, offered);
	}

	/* The last round's bytes, through the CPU, and nothing else changed */
	expect_placed(_metadata, "target", self->dev.addr, size, self->off,
		      self->len, seed, self->dev.seed);
}

TEST_HARNESS_MAIN
