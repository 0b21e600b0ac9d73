/*
 * odp_harness.h - the kernel's kselftest harness (kselftest_harness.h,
 * from the Linux tree the build unpacks) joined to our test library
 * (tests/lib): a library call that fails logs its reason, a skip becomes a
 * failure under ODP_NO_SKIP=1, and the steps our fixtures share.
 *
 * Include it once, from the test's .c file, which ends in
 * TEST_HARNESS_MAIN.  The helpers take the harness' _metadata, as in the
 * kernel's own selftests, so that their EXPECT_* and ASSERT_* count.
 */
#ifndef ODP_HARNESS_H
#define ODP_HARNESS_H

/* The harness' timeouts times $ODP_TIMEOUT_SCALE (its poll(), nobody else's) */
#include "harness_timeout.h"
#include "kselftest_harness.h"
#undef poll

#include "dmirror.h"
#include "env.h"
#include "pattern.h"
#include "reason.h"
#include "verbs_pair.h"

/*
 * Seconds one TEST_F may take, setup included (the harness' default is
 * 30): under TCG, 1 MiB through rxe on ODP MRs is slow.
 */
#define ODP_TEST_TIMEOUT 120

/* A library call that must succeed; on failure, the library's reason. */
#define ASSERT_OK(call) ASSERT_TRUE(call) TH_LOG("%s", odp_reason())
#define EXPECT_OK(call) EXPECT_TRUE(call) TH_LOG("%s", odp_reason())

/* buf[from, to) holds the pattern @seed; @what names those bytes. */
#define EXPECT_PATTERN(what, buf, from, to, seed)                   \
	EXPECT_EQ((size_t)0, odp_verify(buf, from, to, seed, NULL)) \
	TH_LOG("%s: %s", what, odp_reason())

/*
 * SKIP(), or with ODP_NO_SKIP=1 a failure: the VM sets it, so that a VM
 * that lost a device or a capability cannot pass by skipping.
 */
#define ODP_SKIP(statement, fmt, ...)                              \
	do {                                                       \
		if (odp_no_skip()) {                               \
			TH_LOG("cannot run (ODP_NO_SKIP=1): " fmt, \
			       ##__VA_ARGS__);                     \
			_metadata->exit_code = KSFT_FAIL;          \
			statement;                                 \
		}                                                  \
		SKIP(statement, fmt, ##__VA_ARGS__);               \
	} while (0)

/* One seed sequence for the whole run, so that ODP_SEED repeats it. */
static uint32_t odp_run_seed;

static void __attribute__((constructor)) odp_harness_init(void)
{
	/* Line-buffered, so that our lines and the harness' stay in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	odp_run_seed = odp_seed_from_env();
	odp_seed_start(odp_run_seed);
}

static inline void log_seed(struct __test_metadata *_metadata)
{
	TH_LOG("seed 0x%08x (ODP_SEED=0x%08x repeats this run)", odp_run_seed,
	       odp_run_seed);
}

/*
 * For a fixture's setup: opens the two-host pair with @rc_odp_caps and
 * @flags (enum odp_pair_flags).  False when the test cannot go on: skipped
 * (no devices or capabilities here) or failed.
 */
static inline bool open_pair(struct __test_metadata *_metadata,
			     struct odp_pair *p, uint32_t rc_odp_caps,
			     unsigned int flags)
{
	char desc[128];

	switch (odp_pair_open(p, rc_odp_caps, flags)) {
	case ODP_OPEN_OK:
		break;
	case ODP_OPEN_ABSENT:
		ODP_SKIP(return false, "%s", odp_reason());
	case ODP_OPEN_FAILED:
		EXPECT_OK(false);
		return false;
	}
	log_seed(_metadata);
	TH_LOG("libibverbs: %s", odp_libibverbs_path());
	TH_LOG("%s", odp_side_describe(&p->req, desc, sizeof(desc)));
	TH_LOG("%s", odp_side_describe(&p->resp, desc, sizeof(desc)));
	return true;
}

/* For a fixture's setup: opens the one device @name, as open_pair() two. */
static inline bool open_side(struct __test_metadata *_metadata,
			     struct odp_side *s, const char *name)
{
	switch (odp_side_open(s, name, 0)) {
	case ODP_OPEN_OK:
		return true;
	case ODP_OPEN_ABSENT:
		ODP_SKIP(return false, "%s", odp_reason());
	case ODP_OPEN_FAILED:
		break;
	}
	EXPECT_OK(false);
	return false;
}

/* For a fixture's setup: opens odp_dmirror_path(); -1 when it cannot. */
static inline int open_dmirror(struct __test_metadata *_metadata)
{
	int fd = dmirror_open(odp_dmirror_path());

	if (fd >= 0)
		return fd;
	if (dmirror_absent(-fd))
		ODP_SKIP(return -1, "%s", odp_reason());
	EXPECT_OK(false);
	return -1;
}

/*
 * For a fixture's teardown: test_hmm's device back to exporting nothing, as
 * the VM boots it (when the dmirror file @fd is open), then the @n buffers
 * @bufs freed, @fd and the pair @p closed.
 */
static inline void close_device_test(struct __test_metadata *_metadata,
				     struct odp_pair *p, int fd,
				     struct odp_buf *const bufs[], size_t n)
{
	size_t i;

	if (fd >= 0) {
		EXPECT_EQ(0, dmirror_set_device_flags(fd, 0))
		TH_LOG("%s", odp_reason());
	}
	for (i = 0; i < n; i++)
		EXPECT_OK(odp_buf_free(bufs[i]));
	EXPECT_OK(dmirror_close(fd));
	EXPECT_OK(odp_pair_close(p));
}

/*
 * Migrates the buffer @b (npages from @addr, pattern @seed) to the
 * dmirror device: every page moves and the device's copy holds the bytes.
 */
static inline void migrate_to_device(struct __test_metadata *_metadata, int fd,
				     void *addr, size_t npages, uint32_t seed)
{
	size_t size = npages * odp_page_size();
	void *bounce = malloc(size);

	ASSERT_NE(NULL, bounce);
	ASSERT_OK(dmirror_migrate_to_device(fd, addr, npages, bounce));
	EXPECT_PATTERN("the device copy holds the buffer's bytes", bounce, 0,
		       size, seed);
	free(bounce);
}

/*
 * Waits for the next completion on @s and checks it: wr @wr_id, @status
 * and, for a success, @opcode.  @wc gets it.  False if it is not that one.
 */
static inline bool completes(struct __test_metadata *_metadata,
			     struct odp_side *s, uint64_t wr_id,
			     enum ibv_wc_status status,
			     enum ibv_wc_opcode opcode, struct ibv_wc *wc)
{
	bool got = odp_poll_completion(s, wc), match;

	EXPECT_TRUE(got) TH_LOG("%s", odp_reason());
	if (!got)
		return false;
	match = wc->wr_id == wr_id && wc->status == status &&
		(status != IBV_WC_SUCCESS || wc->opcode == opcode);
	EXPECT_TRUE(match)
	TH_LOG("%s: expected wr %llu with %s, %s; got wr %llu with %s (%s), %s, vendor_err %#x",
	       s->name, (unsigned long long)wr_id, odp_wc_status_name(status),
	       status == IBV_WC_SUCCESS ? odp_wc_opcode_name(opcode) :
					  "any opcode",
	       (unsigned long long)wc->wr_id, odp_wc_status_name(wc->status),
	       ibv_wc_status_str(wc->status), odp_wc_opcode_name(wc->opcode),
	       wc->vendor_err);
	return match;
}

/*
 * The bytes [off, off + len) of the @size-byte buffer hold pattern @seed
 * (@who names the buffer: "target", "local") and the bytes around them
 * still hold the buffer's own pattern @own.
 */
static inline void expect_placed(struct __test_metadata *_metadata,
				 const char *who, const void *buf, size_t size,
				 size_t off, size_t len, uint32_t seed,
				 uint32_t own)
{
	char what[96];

	snprintf(what, sizeof(what), "%s range holds the source bytes", who);
	EXPECT_PATTERN(what, buf, off, off + len, seed);
	snprintf(what, sizeof(what), "%s bytes before the range are unchanged",
		 who);
	EXPECT_PATTERN(what, buf, 0, off, own);
	snprintf(what, sizeof(what), "%s bytes after the range are unchanged",
		 who);
	EXPECT_PATTERN(what, buf, off + len, size, own);
}

#endif /* ODP_HARNESS_H */
