/*
 * device_private_test - one RDMA WRITE or READ from rxe_a against an ODP MR
 * on rxe_b whose pages test_hmm has migrated to device-private memory:
 * every byte moves, and the pages end up where the variant's name says.
 *
 * The MR exists before the pages move, as in an application: the migration
 * must invalidate what rxe mapped at registration.  test_hmm's device
 * offers aliases of its pages (HMM_DMIRROR_DEVICE_EXPORT_ALIAS) in every
 * variant, or refuses them all (HMM_DMIRROR_DEVICE_FAIL_ALIAS); rxe_b's ODP
 * alias switch (rdma netlink) decides whether the MR, registered while it is
 * set as the variant says, asks for them.  An MR keeps the choice it was
 * registered with, so the switch goes back to what it was right away: a test
 * that fails later leaves nothing changed but test_hmm's export flags, which
 * matter only to importers that ask for aliases and are reset by teardown.
 */
#include "odp_harness.h"

#include "rdma_nl.h"

#define NPAGES 8

FIXTURE(device_private)
{
	struct odp_pair pair;
	int dmirror;
	struct odp_buf dev; /* the ODP MR under test, on host B */
	struct odp_buf local; /* on host A */
	size_t off; /* the range in both buffers */
	size_t first, last; /* the pages it touches */
	int resp_index; /* rxe_b's device index */
	struct hmm_dmirror_counters before; /* test_hmm's, before the transfer */
};

FIXTURE_VARIANT(device_private)
{
	enum ibv_wr_opcode opcode;
	size_t page, page_off, len; /* the range, in the NPAGES buffer */
	bool aliases; /* rxe_b's ODP alias switch when the MR is registered */
	bool refuse; /* test_hmm refuses every alias (FAIL_ALIAS) */
	/* Where the pages the transfer touched are afterwards. */
	enum dmirror_place touched;
};

#define DEVICE_PRIVATE_VARIANT(name, op, pg, off, length, on, no, place)  \
	FIXTURE_VARIANT_ADD(device_private, name)                         \
	{                                                                 \
		.opcode = op, .page = pg, .page_off = off, .len = length, \
		.aliases = on, .refuse = no, .touched = place,            \
	}

/*
 * WRITE and READ over two ranges (several pages starting mid-page, one
 * whole page, ending mid-page) with the outcome @outcome, which names
 * @place, while rxe_b's alias switch is @on.
 */
#define DEVICE_PRIVATE_VARIANTS(outcome, on, no, place)                       \
	DEVICE_PRIVATE_VARIANT(rdma_write_into_pages_1_to_4_##outcome,        \
			       IBV_WR_RDMA_WRITE, 1, 100, 3 * 4096 + 123, on, \
			       no, place);                                    \
	DEVICE_PRIVATE_VARIANT(rdma_write_into_page_6_##outcome,              \
			       IBV_WR_RDMA_WRITE, 6, 0, 4096, on, no, place); \
	DEVICE_PRIVATE_VARIANT(rdma_read_from_pages_1_to_4_##outcome,         \
			       IBV_WR_RDMA_READ, 1, 100, 3 * 4096 + 123, on,  \
			       no, place);                                    \
	DEVICE_PRIVATE_VARIANT(rdma_read_from_page_6_##outcome,               \
			       IBV_WR_RDMA_READ, 6, 0, 4096, on, no, place)

/*
 * Aliases on (rxe's default): umem_odp asks hmm_range_fault() for aliases
 * and test_hmm hands out its backing pages, which rxe copies to and from
 * through their kernel mapping.  Nothing migrates.
 */
DEVICE_PRIVATE_VARIANTS(keeps_touched_pages_on_device_with_aliases_on, true,
			false, DMIRROR_ON_DEVICE);
/*
 * Aliases off, as in Linux 7.3: hmm_range_fault() makes the owner migrate
 * the touched pages to system RAM (dmirror_devmem_fault()) before rxe
 * copies, for a read as for a write, although the owner offers aliases.
 */
DEVICE_PRIVATE_VARIANTS(migrates_touched_pages_to_ram_with_aliases_off, false,
			false, DMIRROR_IN_RAM);
/*
 * Aliases on, but the owner refuses each one: HMM falls back, page by page,
 * to the migration it does without aliases.
 */
DEVICE_PRIVATE_VARIANTS(migrates_touched_pages_to_ram_when_owner_refuses, true,
			true, DMIRROR_IN_RAM);

FIXTURE_SETUP(device_private)
{
	size_t page = odp_page_size(), size = NPAGES * page;
	bool write = variant->opcode == IBV_WR_RDMA_WRITE;
	uint64_t export = HMM_DMIRROR_DEVICE_EXPORT_ALIAS |
			  (variant->refuse ? HMM_DMIRROR_DEVICE_FAIL_ALIAS : 0);
	bool was = true, registered;
	char why[256] = "";

	self->dmirror = -1;
	if (!open_pair(_metadata, &self->pair,
		       write ? IBV_ODP_SUPPORT_WRITE : IBV_ODP_SUPPORT_READ))
		return;
	self->dmirror = open_dmirror(_metadata);
	if (self->dmirror < 0)
		return;
	self->resp_index = ibv_get_device_index(self->pair.resp.ctx->device);
	ASSERT_LE(0, self->resp_index);
	self->off = variant->page * page + variant->page_off;
	self->first = self->off / page;
	self->last = (self->off + variant->len - 1) / page;
	TH_LOG("%s %zu B at +%zu: pages %zu-%zu of %d",
	       odp_wr_opcode_name(variant->opcode), variant->len, self->off,
	       self->first, self->last, NPAGES);

	/* The MR under test, registered with the variant's switch */
	ASSERT_EQ(0, rdma_nl_get_odp_alias(self->resp_index, &was))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_set_odp_alias(self->resp_index, variant->aliases))
	TH_LOG("%s", odp_reason());
	registered = odp_buf_alloc(&self->dev, &self->pair.resp, size,
				   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND);
	if (!registered)
		snprintf(why, sizeof(why), "%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_set_odp_alias(self->resp_index, was))
	TH_LOG("%s", odp_reason());
	ASSERT_TRUE(registered) TH_LOG("%s", why);

	ASSERT_OK(odp_buf_alloc(&self->local, &self->pair.req, size,
				IBV_ACCESS_LOCAL_WRITE));
	migrate_to_device(_metadata, self->dmirror, self->dev.addr, NPAGES,
			  self->dev.seed);
	ASSERT_TRUE(dmirror_check_places(self->dmirror, self->dev.addr, NPAGES,
					 0, NPAGES - 1, DMIRROR_ON_DEVICE,
					 DMIRROR_ON_DEVICE))
	TH_LOG("before: every page is device-private: %s", odp_reason());
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &self->before))
	TH_LOG("%s", odp_reason());
	/* Last: the only state that outlives a setup that fails */
	ASSERT_EQ(0, dmirror_set_device_flags(self->dmirror, export))
	TH_LOG("%s", odp_reason());
}

FIXTURE_TEARDOWN(device_private)
{
	/* As the VM boots it: nothing exported */
	if (self->dmirror >= 0) {
		EXPECT_EQ(0, dmirror_set_device_flags(self->dmirror, 0))
		TH_LOG("%s", odp_reason());
	}
	EXPECT_OK(odp_buf_free(&self->local));
	EXPECT_OK(odp_buf_free(&self->dev));
	EXPECT_OK(dmirror_close(self->dmirror));
	EXPECT_OK(odp_pair_close(&self->pair));
}

/* Posts the variant's WRITE or READ; true once it completed. */
static bool transfer(struct __test_metadata *_metadata,
		     FIXTURE_DATA(device_private) * self,
		     const FIXTURE_VARIANT(device_private) * variant)
{
	bool write = variant->opcode == IBV_WR_RDMA_WRITE;
	struct ibv_wc wc;

	ASSERT_OK(odp_post_rdma(&self->pair, variant->opcode, &self->local,
				&self->dev, self->off, variant->len, 1));
	return completes(_metadata, &self->pair.req, 1, IBV_WC_SUCCESS,
			 write ? IBV_WC_RDMA_WRITE : IBV_WC_RDMA_READ, &wc);
}

TEST_F_TIMEOUT(device_private, places_every_byte_and_changes_nothing_else,
	       ODP_TEST_TIMEOUT)
{
	size_t size = NPAGES * odp_page_size();

	if (!transfer(_metadata, self, variant))
		return;
	/* Through the CPU, which faults device-private pages back: fine. */
	if (variant->opcode == IBV_WR_RDMA_WRITE) {
		expect_placed(_metadata, "target", self->dev.addr, size,
			      self->off, variant->len, self->local.seed,
			      self->dev.seed);
		EXPECT_PATTERN("the source buffer is unchanged",
			       self->local.addr, 0, size, self->local.seed);
	} else {
		expect_placed(_metadata, "local", self->local.addr, size,
			      self->off, variant->len, self->dev.seed,
			      self->local.seed);
		EXPECT_PATTERN("the remote buffer is unchanged", self->dev.addr,
			       0, size, self->dev.seed);
	}
}

TEST_F_TIMEOUT(device_private, touched_pages_end_as_named_others_stay_on_device,
	       ODP_TEST_TIMEOUT)
{
	if (!transfer(_metadata, self, variant))
		return;
	/* Before any CPU access: a CPU read would migrate pages too. */
	EXPECT_TRUE(dmirror_check_places(self->dmirror, self->dev.addr, NPAGES,
					 self->first, self->last,
					 variant->touched, DMIRROR_ON_DEVICE))
	TH_LOG("after: touched pages %s, the others DEV_PRIVATE_LOCAL: %s",
	       dmirror_place_name(variant->touched), odp_reason());
}

TEST_F_TIMEOUT(device_private, owner_migrates_exactly_the_pages_not_aliased,
	       ODP_TEST_TIMEOUT)
{
	uint64_t touched = self->last - self->first + 1, offered, refused;
	bool aliased = variant->aliases && !variant->refuse;
	struct hmm_dmirror_counters after;

	if (!transfer(_metadata, self, variant))
		return;
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &after))
	TH_LOG("%s", odp_reason());
	offered = after.alias_offered - self->before.alias_offered;
	refused = after.alias_refused - self->before.alias_refused;
	/* test_hmm migrates one page per CPU fault of a base page. */
	EXPECT_EQ(aliased ? 0ULL : touched,
		  after.migrated_to_ram - self->before.migrated_to_ram);
	/* Every touched page was looked up at least once, if asked for. */
	if (aliased) {
		EXPECT_LE(touched, offered);
	} else {
		EXPECT_EQ(0ULL, offered);
	}
	if (variant->aliases && variant->refuse) {
		EXPECT_LE(touched, refused);
	} else {
		EXPECT_EQ(0ULL, refused);
	}
}

TEST_F_TIMEOUT(device_private, odp_capability_follows_the_alias_switch,
	       ODP_TEST_TIMEOUT)
{
	struct ibv_device_attr_ex attr;
	bool was = true, on = !variant->aliases;
	int err;

	ASSERT_EQ(0, rdma_nl_get_odp_alias(self->resp_index, &was))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_set_odp_alias(self->resp_index, variant->aliases))
	TH_LOG("%s", odp_reason());
	/* No ASSERT until the switch is back */
	err = ibv_query_device_ex(self->pair.resp.ctx, NULL, &attr);
	EXPECT_EQ(0, err);
	if (!err) {
		EXPECT_EQ(variant->aliases, !!(attr.odp_caps.general_caps &
					       ODP_SUPPORT_DEVICE_PRIVATE));
	}
	EXPECT_EQ(0, rdma_nl_get_odp_alias(self->resp_index, &on))
	TH_LOG("%s", odp_reason());
	EXPECT_EQ(variant->aliases, on);
	EXPECT_EQ(0, rdma_nl_set_odp_alias(self->resp_index, was))
	TH_LOG("%s", odp_reason());
}

TEST_HARNESS_MAIN
