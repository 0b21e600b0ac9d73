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
 *
 * The *_remap variants add a third thread that replaces pages 6-9 of the
 * MR's buffer with fresh anonymous memory, pausing a third to three times
 * as long as a round takes in between (mmap MAP_FIXED: the old pages are
 * unmapped and new ones mapped in one step; a hole would be a remote access
 * error, by design).  A round that a replacement overlapped may find a
 * replaced page empty (the write went to the old page, which is gone), never
 * anything but this round's bytes or zeros.  A round that no replacement
 * overlapped must find every byte, and so must the CPU in the buffer: were
 * the NIC still to reach an old page after its replacement, its write would
 * be read back through the NIC but be missing there.  (The CPU's reads
 * migrate the pages on the device back to RAM; test_hmm's own view,
 * HMM_DMIRROR_READ, would not, but it memcpy()s from device private pages
 * with the mover running: the upstream oops in the README's Known issues.)
 */
#include "odp_harness.h"

#include "timing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#define NPAGES 16
/* The pages the remapper replaces, inside the range under traffic */
#define REMAP_FIRST 6
#define REMAP_PAGES 4

/* At least this many rounds, and at least this many round trips */
#define MIN_ROUNDS 64UL
#define MIN_TRIPS 8UL
/* How long the rounds may go on to get there (times odp_timeout_scale()) */
#define RACE_MS (60 * 1000.0)
/* Rounds that a replacement overlapped, and that none did (checked whole) */
#define MIN_RACED 8UL
#define MIN_QUIET 8UL

struct remapper {
	pthread_t thread;
	uint8_t *addr; /* the first page it replaces */
	unsigned int state; /* odp_rnd()'s, seeded before the thread starts */
	atomic_bool stop;
	/* Replacements begun and done: equal when none is under way */
	atomic_ulong begun, done;
	atomic_int err;
	/*
	 * How long a round takes, in us: a moving average that the rounds
	 * keep, 0 until the first one ends (a round takes under 20 ms on the
	 * base kernel under TCG, 0.6 s on the debug kernel).
	 */
	atomic_ulong round_us;
};

/*
 * The longest round the pauses follow: a round this long is a stalled NIC,
 * not a slow kernel.  It keeps 3 * avg within RAND_MAX and odp_rnd()'s range.
 */
#define MAX_ROUND_US (10 * 1000 * 1000UL)
/* The step of the remapper's pauses: how soon it sees a stop */
#define PAUSE_STEP_US (10 * 1000UL)

/* Folds the duration of a round that ended into remapper->round_us */
static void remapper_note_round(struct remapper *r, double ms)
{
	unsigned long avg = atomic_load(&r->round_us);
	unsigned long us = 1;

	if (ms * 1000 >= MAX_ROUND_US)
		us = MAX_ROUND_US;
	else if (ms * 1000 >= 1)
		us = (unsigned long)(ms * 1000);
	atomic_store(&r->round_us, avg ? (3 * avg + us) / 4 : us);
}

/*
 * The pause before the next replacement, in us: uniform in [avg / 3,
 * 3 * avg] for an average round of avg.  A round is left alone when the
 * pause under way outlasts it: with pauses P of mean 5 * avg / 3, that is
 * E[max(P - avg, 0)] / E[P] = (3 * avg / 4) / (5 * avg / 3), 45% of the
 * rounds, on a kernel of any speed.  5 to 40 ms before the first round ends.
 */
static unsigned long remapper_pause(struct remapper *r)
{
	unsigned long avg = atomic_load(&r->round_us);

	if (!avg)
		return 5000 + odp_rnd(&r->state, 35000);
	return avg / 3 + odp_rnd(&r->state, 3 * avg - avg / 3 + 1);
}

/* Sleeps @us, or less if the remapper is told to stop */
static void remapper_sleep(struct remapper *r, unsigned long us)
{
	while (us && !atomic_load(&r->stop)) {
		unsigned long step = us < PAUSE_STEP_US ? us : PAUSE_STEP_US;
		const struct timespec ts = { .tv_nsec = step * 1000 };

		nanosleep(&ts, NULL);
		us -= step;
	}
}

static void *remapper_run(void *arg)
{
	struct remapper *r = arg;
	size_t len = REMAP_PAGES * odp_page_size();

	while (!atomic_load(&r->stop)) {
		atomic_fetch_add(&r->begun, 1);
		if (mmap(r->addr, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) != r->addr) {
			atomic_store(&r->err, errno);
			break;
		}
		atomic_fetch_add(&r->done, 1);
		remapper_sleep(r, remapper_pause(r));
	}
	return NULL;
}

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
	struct remapper remapper;
	bool remapping;
	uint8_t *view; /* the CPU's view of the MR's buffer (remap variants) */
	/* Rounds a replacement overlapped, rounds none did, pages lost */
	unsigned long raced, quiet, lost;
};

FIXTURE_VARIANT(migration_race)
{
	bool aliases; /* rxe_b's ODP alias switch when the MR is registered */
	bool remap; /* pages 6-9 replaced with fresh memory meanwhile */
};

FIXTURE_VARIANT_ADD(migration_race, aliases_on){
	.aliases = true,
};

FIXTURE_VARIANT_ADD(migration_race, aliases_off){
	.aliases = false,
};

FIXTURE_VARIANT_ADD(migration_race, aliases_on_remap){
	.aliases = true,
	.remap = true,
};

FIXTURE_VARIANT_ADD(migration_race, aliases_off_remap){
	.aliases = false,
	.remap = true,
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
	if (variant->remap) {
		self->view = malloc(size);
		ASSERT_NE(NULL, self->view);
		self->remapper.addr = self->dev.addr + REMAP_FIRST * page;
		self->remapper.state = odp_seed();
		err = pthread_create(&self->remapper.thread, NULL, remapper_run,
				     &self->remapper);
		ASSERT_EQ(0, err) TH_LOG("pthread_create: %s", strerror(err));
		self->remapping = true;
	}
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

/* Stops the remapper; true unless a replacement failed. */
static bool stop_remapper(struct __test_metadata *_metadata,
			  FIXTURE_DATA(migration_race) * self)
{
	int err;

	if (!self->remapping)
		return true;
	self->remapping = false;
	atomic_store(&self->remapper.stop, true);
	pthread_join(self->remapper.thread, NULL);
	err = atomic_load(&self->remapper.err);
	EXPECT_EQ(0, err)
	TH_LOG("replacing pages %d-%d: %s", REMAP_FIRST,
	       REMAP_FIRST + REMAP_PAGES - 1, strerror(err));
	return !err;
}

FIXTURE_TEARDOWN(migration_race)
{
	stop_remapper(_metadata, self);
	stop_mover(_metadata, self);
	free(self->view);
	close_device_test(_metadata, &self->pair, self->dmirror,
			  (struct odp_buf *const[]){ &self->back, &self->src,
						     &self->dev },
			  3);
}

/* Every byte of buf[from, to) is the pattern's or 0 (a lost packet) */
static bool pattern_or_zero(const uint8_t *buf, size_t from, size_t to,
			    uint32_t seed)
{
	for (; from < to; from++)
		if (buf[from] && buf[from] != odp_pattern_byte(seed, from))
			return false;
	return true;
}

/*
 * Checks the range read back, page by page: this round's bytes, or in a
 * round that a replacement overlapped (!@quiet), a replaced page may have
 * lost some or all of them (counted in self->lost): the packets that went to
 * the old page, or a new page replaced again before the READ, read as 0.
 * Never an earlier round's bytes.
 */
static void check_read_back(struct __test_metadata *_metadata,
			    FIXTURE_DATA(migration_race) * self,
			    unsigned long round, uint32_t seed, bool quiet)
{
	size_t page = odp_page_size(), end = self->off + self->len;
	size_t pg;

	for (pg = self->off / page; pg * page < end; pg++) {
		size_t from = pg * page > self->off ? pg * page : self->off;
		size_t to = (pg + 1) * page < end ? (pg + 1) * page : end;

		if (!odp_verify(self->back.addr, from, to, seed, NULL))
			continue;
		if (!quiet && pg >= REMAP_FIRST &&
		    pg < REMAP_FIRST + REMAP_PAGES &&
		    pattern_or_zero(self->back.addr, from, to, seed)) {
			self->lost++;
			continue;
		}
		EXPECT_EQ((size_t)0,
			  odp_verify(self->back.addr, from, to, seed, NULL))
		TH_LOG("round %lu (%s): page %zu read back: %s", round,
		       quiet ? "no replacement" : "raced a replacement", pg,
		       odp_reason());
	}
}

/*
 * In a round that no replacement overlapped, up to now: the CPU finds in
 * the buffer what the NIC read back.  Returns whether it could tell.
 */
static bool check_view(struct __test_metadata *_metadata,
		       FIXTURE_DATA(migration_race) * self, unsigned long round,
		       uint32_t seed, unsigned long begun)
{
	memcpy(self->view + self->off, self->dev.addr + self->off, self->len);
	if (atomic_load(&self->remapper.begun) != begun)
		return false;
	EXPECT_EQ((size_t)0, odp_verify(self->view, self->off,
					self->off + self->len, seed, NULL))
	TH_LOG("round %lu: the CPU does not find in the buffer what the NIC read back: %s",
	       round, odp_reason());
	return true;
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
	unsigned long begun, done;
	struct ibv_wc wc;
	bool quiet;

	/* No replacement under way now (done read after begun) */
	begun = atomic_load(&self->remapper.begun);
	done = atomic_load(&self->remapper.done);
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
	/* ... nor any begun since */
	quiet = begun == done && atomic_load(&self->remapper.begun) == begun;
	check_read_back(_metadata, self, round, *seed, quiet);
	if (quiet && self->remapping &&
	    check_view(_metadata, self, round, *seed, begun))
		self->quiet++;
	else if (!quiet)
		self->raced++;
	EXPECT_EQ(0, self->back.addr[self->off - 1] | self->back.addr[end])
	TH_LOG("round %lu: the READ wrote next to its range", round);
	return true;
}

TEST_F_TIMEOUT(migration_race, every_round_reads_back_what_it_wrote,
	       ODP_TEST_TIMEOUT)
{
	double deadline = odp_now_ms() + RACE_MS * odp_timeout_scale();
	size_t size = NPAGES * odp_page_size();
	unsigned long round = 0, trips = 0;
	struct hmm_dmirror_counters before, after;
	uint64_t faulted, offered;
	uint32_t seed = 0;
	bool done;

	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &before))
	TH_LOG("%s", odp_reason());

	do {
		double begin = odp_now_ms();

		done = round_trip(_metadata, self, ++round, &seed);
		if (!done || _metadata->exit_code)
			break;
		remapper_note_round(&self->remapper, odp_now_ms() - begin);
		trips = atomic_load(&self->mover.trips);
	} while ((round < MIN_ROUNDS || trips < MIN_TRIPS ||
		  (variant->remap &&
		   (self->raced < MIN_RACED || self->quiet < MIN_QUIET))) &&
		 odp_now_ms() < deadline);
	ASSERT_TRUE(stop_remapper(_metadata, self));
	ASSERT_TRUE(stop_mover(_metadata, self));
	ASSERT_TRUE(done);
	ASSERT_EQ(0, _metadata->exit_code);
	TH_LOG("%lu rounds while the pages went to the device and back %lu times (%lu migrations to the device met a page the NIC had moved back)",
	       round, trips, atomic_load(&self->mover.contended));
	EXPECT_LE(MIN_ROUNDS, round)
	TH_LOG("too few rounds in %.0f s",
	       RACE_MS * odp_timeout_scale() / 1000);
	EXPECT_LE(MIN_TRIPS, trips)
	TH_LOG("the mover must have raced with the traffic");
	if (variant->remap) {
		TH_LOG("pages %d-%d replaced %lu times: %lu rounds raced a replacement (%lu pages lost bytes to one), %lu did not and the CPU found their bytes",
		       REMAP_FIRST, REMAP_FIRST + REMAP_PAGES - 1,
		       atomic_load(&self->remapper.done), self->raced,
		       self->lost, self->quiet);
		EXPECT_LE(MIN_RACED, self->raced);
		EXPECT_LE(MIN_QUIET, self->quiet);
		/* The last round may have lost pages: one more, alone */
		ASSERT_TRUE(round_trip(_metadata, self, ++round, &seed));
	}

	/*
	 * Before any CPU access (but the remap variants' reads): only the
	 * NIC's faults migrated pages back (test_hmm counts its fault handler,
	 * not MIGRATE_TO_SYS).  With aliases, a NIC fault that meets a page in
	 * migration waits for it and then takes an alias: never a migration.
	 */
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &after))
	TH_LOG("%s", odp_reason());
	faulted = after.migrated_to_ram - before.migrated_to_ram;
	offered = after.alias_offered - before.alias_offered;
	TH_LOG("%s: %llu pages migrated to RAM, %llu aliases offered",
	       variant->remap ? "the NIC's and the CPU's faults" :
				"the NIC's faults",
	       (unsigned long long)faulted, (unsigned long long)offered);
	if (variant->aliases) {
		if (!variant->remap)
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
