/*
 * device_private_test - one operation from rxe_a against an ODP MR on
 * rxe_b whose pages test_hmm has migrated to device-private memory: the RC
 * operations rxe offers with ODP, on the responder's side (RDMA WRITE and
 * READ, SEND into a receive queue and into an SRQ, the two atomics, ATOMIC
 * WRITE, FLUSH to persistence at range level), and ibv_advise_mr()
 * prefetch for write and for read.  Every byte lands where it must,
 * nothing else changes, and the pages end up where the variant's name
 * says.  The same for the requester's side: RDMA WRITE and SEND from, and
 * RDMA READ into, an ODP MR on rxe_a over device memory.  And a prefetch
 * without fault, which maps aliases where it may and moves nothing.  (Not
 * here: UD, FLUSH of a whole MR.)
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
 *
 * The exporter is $ODP_DMIRROR: test_hmm's device 0, whose device memory is
 * RAM, or (device_private_test_bar in ctest) its BAR device, whose aliases
 * are PCI P2PDMA pages that rxe reaches with MMIO accessors.  The outcomes
 * are the same, but for the atomics: rxe performs none on MMIO and has the
 * page migrated itself.  Either way the exporter reads the bytes back from
 * its own memory (the BAR) before any CPU access.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odp_harness.h"

#include "rdma_nl.h"

#define NPAGES 8

/* What rxe_a does to the range of the MR on rxe_b. */
enum dp_op {
	DP_RDMA_WRITE,
	DP_RDMA_READ,
	DP_SEND, /* into rxe_b's receive queue */
	DP_SEND_SRQ, /* into rxe_b's shared receive queue */
	DP_FETCH_ADD,
	DP_CMP_SWAP, /* with the value the range holds: it swaps */
	DP_ATOMIC_WRITE,
	/*
	 * IBV_FLUSH_PERSISTENT: rxe writes the range's cache lines back.
	 * Only ODP MRs take FLUSH_PERSISTENT over memory that is not pmem:
	 * rxe_odp_mr_init_user() lacks the pmem check of rxe_mr_init_user().
	 */
	DP_FLUSH,
	DP_PREFETCH_WRITE, /* ibv_advise_mr() on rxe_b, no traffic */
	DP_PREFETCH_READ,
	DP_PREFETCH_NO_FAULT, /* maps what is there, faults nothing */
};

/* How an operation changes the two buffers' bytes in the range. */
enum dp_effect {
	DP_TO_DEV = 1 << 0, /* the MR's range gets the local bytes */
	DP_TO_LOCAL = 1 << 1, /* the local range gets the MR's bytes */
	DP_ADD_TO_DEV = 1 << 2, /* the MR's 8 bytes get the local ones added */
};

static const struct dp_op_desc {
	const char *name;
	uint32_t rc_odp_caps; /* what both devices must offer */
	int access; /* the MR's, besides ODP_REMOTE_ACCESS | ON_DEMAND */
	unsigned int effect;
	enum ibv_wc_opcode wc; /* the requester's completion */
} dp_ops[] = {
	[DP_RDMA_WRITE] = { "RDMA WRITE", IBV_ODP_SUPPORT_WRITE, 0, DP_TO_DEV,
			    IBV_WC_RDMA_WRITE },
	[DP_RDMA_READ] = { "RDMA READ", IBV_ODP_SUPPORT_READ, 0, DP_TO_LOCAL,
			   IBV_WC_RDMA_READ },
	[DP_SEND] = { "SEND", IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV, 0,
		      DP_TO_DEV, IBV_WC_SEND },
	[DP_SEND_SRQ] = { "SEND to an SRQ",
			  IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_SRQ_RECV, 0,
			  DP_TO_DEV, IBV_WC_SEND },
	[DP_FETCH_ADD] = { "ATOMIC FETCH AND ADD", IBV_ODP_SUPPORT_ATOMIC,
			   IBV_ACCESS_REMOTE_ATOMIC,
			   DP_ADD_TO_DEV | DP_TO_LOCAL, IBV_WC_FETCH_ADD },
	[DP_CMP_SWAP] = { "ATOMIC COMPARE AND SWAP", IBV_ODP_SUPPORT_ATOMIC,
			  IBV_ACCESS_REMOTE_ATOMIC, DP_TO_DEV | DP_TO_LOCAL,
			  IBV_WC_COMP_SWAP },
	[DP_ATOMIC_WRITE] = { "ATOMIC WRITE", IBV_ODP_SUPPORT_ATOMIC_WRITE, 0,
			      DP_TO_DEV, IBV_WC_ATOMIC_WRITE },
	[DP_FLUSH] = { "FLUSH (persistent)", IBV_ODP_SUPPORT_FLUSH,
		       IBV_ACCESS_FLUSH_PERSISTENT, 0, IBV_WC_FLUSH },
	[DP_PREFETCH_WRITE] = { "ibv_advise_mr(PREFETCH_WRITE)",
				IBV_ODP_SUPPORT_WRITE, 0, 0, 0 },
	[DP_PREFETCH_READ] = { "ibv_advise_mr(PREFETCH)", IBV_ODP_SUPPORT_READ,
			       0, 0, 0 },
	[DP_PREFETCH_NO_FAULT] = { "ibv_advise_mr(PREFETCH_NO_FAULT)",
				   IBV_ODP_SUPPORT_READ, 0, 0, 0 },
};

FIXTURE(device_private)
{
	struct odp_pair pair;
	int dmirror;
	/* The ODP MR under test: on host B, or A for a requester variant */
	struct odp_buf dev;
	struct odp_buf local; /* on the other host, in RAM */
	size_t off; /* the range in both buffers */
	size_t first, last; /* the pages it touches */
	struct hmm_dmirror_counters before; /* test_hmm's, before the transfer */
	struct odp_side *mr_side; /* the MR's host */
	struct rdma_nl_odp_mr mr_before; /* the MR's ODP counters, likewise */
	struct rdma_odp_dev dev_before; /* those of its device */
};

FIXTURE_VARIANT(device_private)
{
	enum dp_op op;
	size_t page, page_off, len; /* the range, in the NPAGES buffer */
	/* The switch of the MR's device when the MR is registered */
	bool aliases;
	bool refuse; /* test_hmm refuses every alias (FAIL_ALIAS) */
	/*
	 * test_hmm refuses the aliases of pages at odd virtual page numbers
	 * (FAIL_ALIAS_ODD): those of the touched pages migrate, the others
	 * stay on the device; @touched names where the refused ones end.
	 */
	bool refuse_odd;
	/* Where the touched pages that were on the device are afterwards. */
	enum dmirror_place touched;
	/* Pages [0, dev_pages) move to the device, the others stay in RAM. */
	size_t dev_pages;
	/* The MR is on rxe_a, the requester: its local buffer */
	bool requester;
};

#define DP_VARIANT(name, o, pg, off, length, on, no, place, ndev, req) \
	FIXTURE_VARIANT_ADD(device_private, name)                      \
	{                                                              \
		.op = o, .page = pg, .page_off = off, .len = length,   \
		.aliases = on, .refuse = no, .touched = place,         \
		.dev_pages = ndev, .requester = req,                   \
	}
#define DEVICE_PRIVATE_VARIANT(name, o, pg, off, length, on, no, place) \
	DP_VARIANT(name, o, pg, off, length, on, no, place, NPAGES, false)
#define DEVICE_PRIVATE_SPLIT_VARIANT(name, o, pg, off, length, on, no, place, \
				     ndev)                                    \
	DP_VARIANT(name, o, pg, off, length, on, no, place, ndev, false)
#define DEVICE_PRIVATE_REQUESTER_VARIANT(name, o, pg, off, length, on, no, \
					 place)                            \
	DP_VARIANT(name, o, pg, off, length, on, no, place, NPAGES, true)

/*
 * Every operation with the outcome @outcome, which names @place, while the
 * alias switch of the MR's device (rxe_b; rxe_a for the requester's
 * variants) is @on.  Ranges of several pages start and end
 * mid-page; the 8 bytes of an atomic sit at an 8-byte aligned place
 * inside a page, at its start or at its end.  Last, ranges over a buffer
 * whose first half is on the device and second half in RAM: pages 2-3 of
 * the range are device-private, pages 4-5 are not.
 */
#define DEVICE_PRIVATE_VARIANTS(outcome, on, no, place)                        \
	DEVICE_PRIVATE_VARIANT(rdma_write_into_pages_1_to_4_##outcome,         \
			       DP_RDMA_WRITE, 1, 100, 3 * 4096 + 123, on, no,  \
			       place);                                         \
	DEVICE_PRIVATE_VARIANT(rdma_write_into_page_6_##outcome,               \
			       DP_RDMA_WRITE, 6, 0, 4096, on, no, place);      \
	DEVICE_PRIVATE_VARIANT(rdma_read_from_pages_1_to_4_##outcome,          \
			       DP_RDMA_READ, 1, 100, 3 * 4096 + 123, on, no,   \
			       place);                                         \
	DEVICE_PRIVATE_VARIANT(rdma_read_from_page_6_##outcome, DP_RDMA_READ,  \
			       6, 0, 4096, on, no, place);                     \
	DEVICE_PRIVATE_VARIANT(send_into_pages_1_to_4_##outcome, DP_SEND, 1,   \
			       100, 3 * 4096 + 123, on, no, place);            \
	DEVICE_PRIVATE_VARIANT(send_to_srq_into_pages_2_to_3_##outcome,        \
			       DP_SEND_SRQ, 2, 3001, 4096, on, no, place);     \
	DEVICE_PRIVATE_VARIANT(fetch_and_add_on_page_3_##outcome,              \
			       DP_FETCH_ADD, 3, 2024, 8, on, no, place);       \
	DEVICE_PRIVATE_VARIANT(compare_and_swap_on_page_5_##outcome,           \
			       DP_CMP_SWAP, 5, 0, 8, on, no, place);           \
	DEVICE_PRIVATE_VARIANT(atomic_write_on_page_6_##outcome,               \
			       DP_ATOMIC_WRITE, 6, 4088, 8, on, no, place);    \
	DEVICE_PRIVATE_VARIANT(flush_pages_1_to_4_##outcome, DP_FLUSH, 1, 100, \
			       3 * 4096 + 123, on, no, place);                 \
	DEVICE_PRIVATE_VARIANT(prefetch_for_write_pages_1_to_4_##outcome,      \
			       DP_PREFETCH_WRITE, 1, 100, 3 * 4096 + 123, on,  \
			       no, place);                                     \
	DEVICE_PRIVATE_VARIANT(prefetch_for_read_page_6_##outcome,             \
			       DP_PREFETCH_READ, 6, 0, 4096, on, no, place);   \
	DEVICE_PRIVATE_SPLIT_VARIANT(                                          \
		rdma_write_into_device_pages_2_3_and_ram_pages_4_5_##outcome,  \
		DP_RDMA_WRITE, 2, 1000, 3 * 4096 + 2000, on, no, place, 4);    \
	DEVICE_PRIVATE_SPLIT_VARIANT(                                          \
		rdma_read_from_device_pages_2_3_and_ram_pages_4_5_##outcome,   \
		DP_RDMA_READ, 2, 1000, 3 * 4096 + 2000, on, no, place, 4);     \
	DEVICE_PRIVATE_SPLIT_VARIANT(                                          \
		send_into_device_pages_2_3_and_ram_pages_4_5_##outcome,        \
		DP_SEND, 2, 1000, 3 * 4096 + 2000, on, no, place, 4);          \
	DEVICE_PRIVATE_REQUESTER_VARIANT(                                      \
		rdma_write_from_requester_pages_1_to_4_##outcome,              \
		DP_RDMA_WRITE, 1, 100, 3 * 4096 + 123, on, no, place);         \
	DEVICE_PRIVATE_REQUESTER_VARIANT(                                      \
		rdma_read_into_requester_pages_1_to_4_##outcome, DP_RDMA_READ, \
		1, 100, 3 * 4096 + 123, on, no, place);                        \
	DEVICE_PRIVATE_REQUESTER_VARIANT(                                      \
		send_from_requester_pages_1_to_4_##outcome, DP_SEND, 1, 100,   \
		3 * 4096 + 123, on, no, place)

/*
 * Aliases on (rxe's default): umem_odp asks hmm_range_fault() for aliases
 * and test_hmm hands out its backing pages, which rxe reaches through
 * their kernel mapping.  Nothing migrates.
 */
DEVICE_PRIVATE_VARIANTS(keeps_touched_pages_on_device_with_aliases_on, true,
			false, DMIRROR_ON_DEVICE);
/*
 * Aliases off, as in Linux 7.3: hmm_range_fault() makes the owner migrate
 * the touched pages to system RAM (dmirror_devmem_fault()) before rxe
 * reaches them, for a read as for a write, although the owner offers
 * aliases.
 */
DEVICE_PRIVATE_VARIANTS(migrates_touched_pages_to_ram_with_aliases_off, false,
			false, DMIRROR_IN_RAM);
/*
 * Aliases on, but the owner refuses each one: HMM falls back, page by page,
 * to the migration it does without aliases.
 */
DEVICE_PRIVATE_VARIANTS(migrates_touched_pages_to_ram_when_owner_refuses, true,
			true, DMIRROR_IN_RAM);
/*
 * A prefetch without fault (a snapshot) maps what it finds: aliases where
 * it asks for them and the owner offers them, nothing otherwise; it never
 * migrates.
 */
DEVICE_PRIVATE_VARIANT(prefetch_without_fault_pages_1_to_4_maps_aliases,
		       DP_PREFETCH_NO_FAULT, 1, 100, 3 * 4096 + 123, true,
		       false, DMIRROR_ON_DEVICE);
DEVICE_PRIVATE_VARIANT(
	prefetch_without_fault_pages_1_to_4_moves_nothing_with_aliases_off,
	DP_PREFETCH_NO_FAULT, 1, 100, 3 * 4096 + 123, false, false,
	DMIRROR_ON_DEVICE);
/*
 * Aliases on, the owner refusing every other page: a refusal costs that
 * page alone, the pages around it in the same fault keep their aliases.
 */
#define DEVICE_PRIVATE_ODD_VARIANT(name, o)                                 \
	FIXTURE_VARIANT_ADD(device_private, name)                           \
	{                                                                   \
		.op = o, .page = 1, .page_off = 100, .len = 4 * 4096 + 123, \
		.aliases = true, .refuse_odd = true,                        \
		.touched = DMIRROR_IN_RAM, .dev_pages = NPAGES,             \
	}
DEVICE_PRIVATE_ODD_VARIANT(
	rdma_write_into_pages_1_to_5_migrates_only_pages_the_owner_refuses,
	DP_RDMA_WRITE);
DEVICE_PRIVATE_ODD_VARIANT(
	rdma_read_from_pages_1_to_5_migrates_only_pages_the_owner_refuses,
	DP_RDMA_READ);
DEVICE_PRIVATE_ODD_VARIANT(
	send_into_pages_1_to_5_migrates_only_pages_the_owner_refuses, DP_SEND);
DEVICE_PRIVATE_ODD_VARIANT(
	prefetch_for_write_pages_1_to_5_migrates_only_pages_the_owner_refuses,
	DP_PREFETCH_WRITE);
DEVICE_PRIVATE_VARIANT(
	prefetch_without_fault_pages_1_to_4_moves_nothing_when_owner_refuses,
	DP_PREFETCH_NO_FAULT, 1, 100, 3 * 4096 + 123, true, true,
	DMIRROR_ON_DEVICE);

/*
 * Whether the MR's pages are where they should be: of the pages that were
 * moved to the device, those in [first, last] at @touched and the others
 * still on the device; the pages never moved in RAM, touched or not.  The
 * snapshot moves nothing itself.
 */
static bool pages_are(int fd, const struct odp_buf *b, size_t dev_pages,
		      size_t first, size_t last, enum dmirror_place touched)
{
	size_t page = odp_page_size(), npages = b->size / page;

	if (!dmirror_check_places(fd, b->addr, dev_pages, first, last, touched,
				  DMIRROR_ON_DEVICE))
		return false;
	if (dev_pages == npages ||
	    dmirror_check_places(fd, b->addr + dev_pages * page,
				 npages - dev_pages, 0, 0, DMIRROR_IN_RAM,
				 DMIRROR_IN_RAM))
		return true;
	return odp_fail("pages %zu-%zu, never moved to the device: %s",
			dev_pages, npages - 1, odp_reason());
}

/* Whether test_hmm's FAIL_ALIAS_ODD refuses the alias of page @i of @b */
static bool refused_odd(const struct odp_buf *b, size_t i)
{
	return (((uintptr_t)b->addr / odp_page_size()) + i) & 1;
}

/*
 * The device pages the operation touched whose alias the owner refuses, so
 * that a fault migrates them: all of them, the odd ones or none.
 */
static uint64_t refused_pages(const struct odp_buf *b, size_t first,
			      size_t last, bool refuse_all, bool refuse_odd)
{
	uint64_t n = 0;
	size_t i;

	for (i = first; i <= last; i++)
		n += refuse_all || (refuse_odd && refused_odd(b, i));
	return n;
}

/* The operations that rxe performs with CPU atomics */
static bool dp_atomic(enum dp_op op)
{
	return op == DP_FETCH_ADD || op == DP_CMP_SWAP || op == DP_ATOMIC_WRITE;
}

/*
 * Whether rxe turns down the aliases it was given for the operation.  The
 * BAR exporter's aliases are PCI P2PDMA pages, which rxe reaches with MMIO
 * accessors (CONFIG_RDMA_RXE_ODP_P2PDMA) but with no CPU atomic: it faults
 * such a page again without aliases, so that it migrates, and counts it as
 * a fallback.
 */
static bool importer_refuses(const FIXTURE_VARIANT(device_private) * variant)
{
	return odp_dmirror_is_bar() && variant->aliases && !variant->refuse &&
	       !variant->refuse_odd && dp_atomic(variant->op);
}

/* Where the touched device pages end: @touched, unless rxe turned them down */
static enum dmirror_place touched_place(const FIXTURE_VARIANT(device_private) *
					variant)
{
	return importer_refuses(variant) ? DMIRROR_IN_RAM : variant->touched;
}

FIXTURE_SETUP(device_private)
{
	const struct dp_op_desc *op = &dp_ops[variant->op];
	size_t page = odp_page_size(), size = NPAGES * page;
	uint64_t export =
		HMM_DMIRROR_DEVICE_EXPORT_ALIAS |
		(variant->refuse ? HMM_DMIRROR_DEVICE_FAIL_ALIAS : 0) |
		(variant->refuse_odd ? HMM_DMIRROR_DEVICE_FAIL_ALIAS_ODD : 0);
	struct odp_side *mr_side, *other;

	self->dmirror = -1;
	if (!open_pair(_metadata, &self->pair, op->rc_odp_caps,
		       variant->op == DP_SEND_SRQ ? ODP_PAIR_RESP_SRQ : 0))
		return;
	self->dmirror = open_dmirror(_metadata);
	if (self->dmirror < 0)
		return;
	mr_side = variant->requester ? &self->pair.req : &self->pair.resp;
	self->mr_side = mr_side;
	other = variant->requester ? &self->pair.resp : &self->pair.req;
	self->off = variant->page * page + variant->page_off;
	self->first = self->off / page;
	self->last = (self->off + variant->len - 1) / page;
	TH_LOG("%s, %zu B at +%zu: pages %zu-%zu of %d, the MR on %s, device memory of %s",
	       op->name, variant->len, self->off, self->first, self->last,
	       NPAGES, mr_side->name, odp_dmirror_path());

	/* The MR under test, registered with the variant's switch */
	ASSERT_OK(odp_buf_alloc_aliases(&self->dev, mr_side, size,
					ODP_REMOTE_ACCESS | op->access |
						IBV_ACCESS_ON_DEMAND,
					variant->aliases));

	ASSERT_OK(odp_buf_alloc(&self->local, other, size,
				variant->requester ? ODP_REMOTE_ACCESS :
						     IBV_ACCESS_LOCAL_WRITE));
	migrate_to_device(_metadata, self->dmirror, self->dev.addr,
			  variant->dev_pages, self->dev.seed);
	ASSERT_TRUE(pages_are(self->dmirror, &self->dev, variant->dev_pages, 0,
			      NPAGES - 1, DMIRROR_ON_DEVICE))
	TH_LOG("before: pages 0-%zu are device-private: %s",
	       variant->dev_pages - 1, odp_reason());
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &self->before))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_get_odp_mr((uint32_t)mr_side->index,
					self->dev.mr->rkey, &self->mr_before))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_get_odp_dev((uint32_t)mr_side->index,
					 mr_side->port, &self->dev_before))
	TH_LOG("%s", odp_reason());
	/* Last: the only state that outlives a setup that fails */
	ASSERT_EQ(0, dmirror_set_device_flags(self->dmirror, export))
	TH_LOG("%s", odp_reason());
}

FIXTURE_TEARDOWN(device_private)
{
	close_device_test(_metadata, &self->pair, self->dmirror,
			  (struct odp_buf *const[]){ &self->local, &self->dev },
			  2);
}

/*
 * The 8 bytes of the pattern @seed at @off, as the value an atomic reads
 * there: computed, not read, since a CPU read of the MR's buffer would
 * migrate its page.
 */
static uint64_t pattern_u64(uint32_t seed, size_t off)
{
	uint8_t bytes[sizeof(uint64_t)];
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = odp_pattern_byte(seed, off + i);
	memcpy(&v, bytes, sizeof(v));
	return v;
}

static enum ibv_advise_mr_advice prefetch_advice(enum dp_op op)
{
	switch (op) {
	case DP_PREFETCH_WRITE:
		return IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE;
	case DP_PREFETCH_NO_FAULT:
		return IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT;
	default:
		return IBV_ADVISE_MR_ADVICE_PREFETCH;
	}
}

/* Posts the variant's operation; true once it completed. */
static bool transfer(struct __test_metadata *_metadata,
		     FIXTURE_DATA(device_private) * self,
		     const FIXTURE_VARIANT(device_private) * variant)
{
	const struct dp_op_desc *op = &dp_ops[variant->op];
	struct odp_pair *p = &self->pair;
	size_t off = self->off, len = variant->len;
	/* The buffers behind rxe_a's and rxe_b's side of the operation */
	struct odp_buf *a = variant->requester ? &self->dev : &self->local;
	struct odp_buf *b = variant->requester ? &self->local : &self->dev;
	uint64_t local_value = pattern_u64(self->local.seed, off);
	uint8_t bytes[8];
	struct ibv_wc wc;

	switch (variant->op) {
	case DP_RDMA_WRITE:
	case DP_RDMA_READ:
		ASSERT_OK(odp_post_rdma(p,
					variant->op == DP_RDMA_WRITE ?
						IBV_WR_RDMA_WRITE :
						IBV_WR_RDMA_READ,
					a, b, off, len, 1));
		break;
	case DP_SEND:
	case DP_SEND_SRQ:
		ASSERT_OK(odp_post_recv(&p->resp, b, off, len, 1));
		ASSERT_OK(odp_post_send(&p->req, a, off, len, 1));
		break;
	case DP_FETCH_ADD:
		ASSERT_OK(odp_post_atomic(p, IBV_WR_ATOMIC_FETCH_AND_ADD,
					  &self->local, &self->dev, off,
					  local_value, 0, 1));
		break;
	case DP_CMP_SWAP:
		ASSERT_OK(odp_post_atomic(
			p, IBV_WR_ATOMIC_CMP_AND_SWP, &self->local, &self->dev,
			off, pattern_u64(self->dev.seed, off), local_value, 1));
		break;
	case DP_ATOMIC_WRITE:
		memcpy(bytes, self->local.addr + off, sizeof(bytes));
		ASSERT_OK(odp_post_atomic_write(p, &self->dev, off, bytes, 1));
		break;
	case DP_FLUSH:
		ASSERT_OK(odp_post_flush(p, &self->dev, off, len,
					 IBV_FLUSH_PERSISTENT, 1));
		break;
	case DP_PREFETCH_WRITE:
	case DP_PREFETCH_READ:
	case DP_PREFETCH_NO_FAULT:
		ASSERT_OK(odp_prefetch(&p->resp, &self->dev,
				       prefetch_advice(variant->op), off, len));
		/* Advice, not traffic: no completion on either side */
		EXPECT_EQ(0, ibv_poll_cq(p->req.cq, 1, &wc));
		EXPECT_EQ(0, ibv_poll_cq(p->resp.cq, 1, &wc));
		return true;
	}
	if (!completes(_metadata, &p->req, 1, IBV_WC_SUCCESS, op->wc, &wc))
		return false;
	if (variant->op != DP_SEND && variant->op != DP_SEND_SRQ)
		return true;
	if (!completes(_metadata, &p->resp, 1, IBV_WC_SUCCESS, IBV_WC_RECV,
		       &wc))
		return false;
	EXPECT_EQ(len, wc.byte_len)
	TH_LOG("the receive completion reports the message length");
	EXPECT_EQ(p->resp.qp->qp_num, wc.qp_num)
	TH_LOG("the receive completion names rxe_b's QP");
	return true;
}

/* What the operation does to the MR's buffer and the other one */
static unsigned int dp_effect(const FIXTURE_VARIANT(device_private) * variant)
{
	unsigned int effect = dp_ops[variant->op].effect;

	/* On the requester, a WRITE or SEND reads the MR, a READ fills it */
	if (variant->requester)
		effect = (effect & DP_TO_DEV ? DP_TO_LOCAL : 0) |
			 (effect & DP_TO_LOCAL ? DP_TO_DEV : 0);
	return effect;
}

/* Whether @buf, the MR's bytes as @who sees them, are what they must be */
static void expect_mr_bytes(struct __test_metadata *_metadata,
			    FIXTURE_DATA(device_private) * self,
			    const FIXTURE_VARIANT(device_private) * variant,
			    const char *who, const uint8_t *buf)
{
	unsigned int effect = dp_effect(variant);
	size_t size = NPAGES * odp_page_size(), off = self->off;
	char what[128];
	uint64_t sum, got;

	if (effect & DP_TO_DEV) {
		expect_placed(_metadata, who, buf, size, off, variant->len,
			      self->local.seed, self->dev.seed);
	} else if (effect & DP_ADD_TO_DEV) {
		sum = pattern_u64(self->dev.seed, off) +
		      pattern_u64(self->local.seed, off);
		memcpy(&got, buf + off, sizeof(got));
		EXPECT_EQ(sum, got)
		TH_LOG("%s holds the sum of the two values", who);
		snprintf(what, sizeof(what),
			 "%s bytes before the range are unchanged", who);
		EXPECT_PATTERN(what, buf, 0, off, self->dev.seed);
		snprintf(what, sizeof(what),
			 "%s bytes after the range are unchanged", who);
		EXPECT_PATTERN(what, buf, off + sizeof(got), size,
			       self->dev.seed);
	} else {
		snprintf(what, sizeof(what), "%s is unchanged", who);
		EXPECT_PATTERN(what, buf, 0, size, self->dev.seed);
	}
}

TEST_F_TIMEOUT(device_private, places_every_byte_and_changes_nothing_else,
	       ODP_TEST_TIMEOUT)
{
	unsigned int effect = dp_effect(variant);
	size_t size = NPAGES * odp_page_size(), off = self->off;

	if (!transfer(_metadata, self, variant))
		return;
	/* Through the CPU, which faults device-private pages back: fine. */
	expect_mr_bytes(_metadata, self, variant, "the MR's buffer",
			self->dev.addr);
	if (effect & DP_TO_LOCAL) {
		expect_placed(_metadata, "local", self->local.addr, size, off,
			      variant->len, self->dev.seed, self->local.seed);
	} else {
		EXPECT_PATTERN("the local buffer is unchanged",
			       self->local.addr, 0, size, self->local.seed);
	}
}

/* Whether every page of the MR is where the variant says, @when */
static void expect_places(struct __test_metadata *_metadata,
			  FIXTURE_DATA(device_private) * self,
			  const FIXTURE_VARIANT(device_private) * variant,
			  const char *when)
{
	size_t i, page = odp_page_size();

	if (!variant->refuse_odd) {
		EXPECT_TRUE(pages_are(self->dmirror, &self->dev,
				      variant->dev_pages, self->first,
				      self->last, touched_place(variant)))
		TH_LOG("%s: touched device pages %s, the others DEV_PRIVATE_LOCAL: %s",
		       when, dmirror_place_name(touched_place(variant)),
		       odp_reason());
		return;
	}
	for (i = 0; i < NPAGES; i++) {
		enum dmirror_place place =
			i >= self->first && i <= self->last &&
					refused_odd(&self->dev, i) ?
				DMIRROR_IN_RAM :
				DMIRROR_ON_DEVICE;

		EXPECT_TRUE(dmirror_check_places(self->dmirror,
						 self->dev.addr + i * page, 1,
						 0, 0, place, place))
		TH_LOG("%s: page %zu, %s: %s", when, i,
		       dmirror_place_name(place), odp_reason());
	}
}

TEST_F_TIMEOUT(device_private, touched_pages_end_as_named_others_stay_on_device,
	       ODP_TEST_TIMEOUT)
{
	if (!transfer(_metadata, self, variant))
		return;
	/* Before any CPU access: a CPU read would migrate pages too. */
	expect_places(_metadata, self, variant, "after");
}

/*
 * The MR's bytes as the exporter reads them from its own memory, before any
 * CPU access, through the file that moved them there (HMM_DMIRROR_READ: a
 * device page is copied from the backing store, i.e. from the BAR for the
 * BAR exporter, a page in RAM from RAM).  The owner's read moves nothing.
 * Where the touched pages stayed on the device, this is where rxe wrote.
 */
TEST_F_TIMEOUT(device_private, exporter_reads_the_bytes_where_they_are,
	       ODP_TEST_TIMEOUT)
{
	size_t size = NPAGES * odp_page_size();
	uint64_t cpages = 0;
	uint8_t *copy;
	int err;

	if (!transfer(_metadata, self, variant))
		return;
	copy = malloc(size);
	ASSERT_NE(NULL, copy);
	memset(copy, 0, size);
	err = dmirror_cmd(self->dmirror, HMM_DMIRROR_READ, self->dev.addr,
			  NPAGES, copy, &cpages);
	EXPECT_EQ(0, err)
	TH_LOG("HMM_DMIRROR_READ: %s", strerror(err));
	EXPECT_EQ((uint64_t)NPAGES, cpages);
	if (!err)
		expect_mr_bytes(_metadata, self, variant,
				"the exporter's copy of the MR", copy);
	free(copy);
	expect_places(_metadata, self, variant, "after the exporter's read");
}

TEST_F_TIMEOUT(device_private, owner_migrates_exactly_the_pages_not_aliased,
	       ODP_TEST_TIMEOUT)
{
	size_t last = self->last < variant->dev_pages ? self->last :
							variant->dev_pages - 1;
	bool aliased = variant->aliases && !variant->refuse;
	uint64_t touched, offered, refused, migrating;
	struct hmm_dmirror_counters after;

	/* The touched pages that were device-private: at least one */
	ASSERT_LE(self->first, last);
	touched = last - self->first + 1;
	/* Those that go to RAM: refused, or all of them without aliases */
	migrating = !variant->aliases ?
			    touched :
			    refused_pages(&self->dev, self->first, last,
					  variant->refuse, variant->refuse_odd);
	if (importer_refuses(variant))
		migrating = touched;
	if (touched_place(variant) == DMIRROR_ON_DEVICE)
		migrating = 0;
	if (!transfer(_metadata, self, variant))
		return;
	ASSERT_EQ(0, dmirror_read_counters(self->dmirror, &after))
	TH_LOG("%s", odp_reason());
	offered = after.alias_offered - self->before.alias_offered;
	refused = after.alias_refused - self->before.alias_refused;
	/* test_hmm migrates one page per CPU fault of a base page. */
	EXPECT_EQ(migrating,
		  after.migrated_to_ram - self->before.migrated_to_ram);
	/* Every touched page was looked up at least once, if asked for. */
	if (aliased) {
		EXPECT_LE(touched - migrating, offered);
	} else {
		EXPECT_EQ(0ULL, offered);
	}
	if (variant->aliases && (variant->refuse || variant->refuse_odd)) {
		EXPECT_LE(migrating, refused);
	} else {
		EXPECT_EQ(0ULL, refused);
	}
}

/*
 * What the MR's counters and its device's say, against what happened: its
 * registration mapped every page, then migrating pages 0..dev_pages-1 to the
 * device invalidated exactly those; the operation mapped the touched device
 * pages as aliases, or had them migrated (a fallback when an alias was asked
 * for), or mapped them in no way (PREFETCH_NO_FAULT without an alias).  The
 * device saw no other ODP traffic, so its counters moved as the MR's did.
 */
TEST_F_TIMEOUT(device_private, counters_show_aliases_and_fallbacks,
	       ODP_TEST_TIMEOUT)
{
	bool prefetch = variant->op == DP_PREFETCH_WRITE ||
			variant->op == DP_PREFETCH_READ ||
			variant->op == DP_PREFETCH_NO_FAULT;
	bool aliased = variant->aliases && !variant->refuse;
	size_t last = self->last < variant->dev_pages ? self->last :
							variant->dev_pages - 1;
	const struct rdma_nl_odp_mr *b = &self->mr_before;
	const struct rdma_odp_dev *db = &self->dev_before;
	struct rdma_nl_odp_mr mr;
	struct rdma_odp_dev dev;
	uint64_t touched, refused;

	ASSERT_LE(self->first, last);
	touched = last - self->first + 1;
	/* Turned down by the owner, or by rxe itself */
	refused = importer_refuses(variant) ?
			  touched :
			  refused_pages(&self->dev, self->first, last,
					variant->refuse, variant->refuse_odd);
	EXPECT_EQ(variant->aliases, b->alias_on)
	TH_LOG("the MR kept the switch it was registered with");
	EXPECT_EQ(0ULL, b->page_faults);
	EXPECT_EQ(0ULL, b->alias_pages + b->alias_fallbacks)
	TH_LOG("registered over RAM: no alias, no fallback");
	EXPECT_EQ(variant->dev_pages, b->page_invalidations)
	TH_LOG("moving pages 0-%zu to the device unmapped each once",
	       variant->dev_pages - 1);

	if (!transfer(_metadata, self, variant))
		return;
	ASSERT_EQ(0, rdma_nl_get_odp_mr((uint32_t)self->mr_side->index,
					self->dev.mr->rkey, &mr))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_get_odp_dev((uint32_t)self->mr_side->index,
					 self->mr_side->port, &dev))
	TH_LOG("%s", odp_reason());
	TH_LOG("MR: %" PRIu64 " pages faulted (%" PRIu64 " faults), %" PRIu64
	       " prefetched, %" PRIu64 " invalidated, %" PRIu64
	       " aliases, %" PRIu64 " fallbacks; %" PRIu64 " touched",
	       mr.page_faults - b->page_faults,
	       mr.page_faults_handled - b->page_faults_handled,
	       mr.page_prefetch - b->page_prefetch,
	       mr.page_invalidations - b->page_invalidations,
	       mr.alias_pages - b->alias_pages,
	       mr.alias_fallbacks - b->alias_fallbacks, touched);

	/* Exact: HMM counts each page it migrated in place of an alias */
	EXPECT_EQ(variant->aliases && touched_place(variant) == DMIRROR_IN_RAM ?
			  refused :
			  0,
		  mr.alias_fallbacks - b->alias_fallbacks);
	if (importer_refuses(variant)) {
		/* Mapped as aliases first, then turned down */
		EXPECT_LE(touched, mr.alias_pages - b->alias_pages);
	} else if (!aliased) {
		EXPECT_EQ(0ULL, mr.alias_pages - b->alias_pages);
	} else if (prefetch) {
		/* One call maps the range, once each */
		EXPECT_EQ(touched - refused, mr.alias_pages - b->alias_pages);
	} else {
		/* Each packet maps its pages: one may count more than once */
		EXPECT_LE(touched - refused, mr.alias_pages - b->alias_pages);
	}
	if (prefetch) {
		EXPECT_EQ(0ULL, mr.page_faults - b->page_faults);
		EXPECT_EQ(self->last - self->first + 1,
			  mr.page_prefetch - b->page_prefetch);
	} else {
		EXPECT_LE(touched, mr.page_faults - b->page_faults);
		EXPECT_LE(1ULL,
			  mr.page_faults_handled - b->page_faults_handled);
		EXPECT_EQ(0ULL, mr.page_prefetch - b->page_prefetch);
	}
	/*
	 * A migration the operation caused unmapped nothing, since nothing
	 * was mapped; except the aliases rxe turned down, which it had mapped
	 */
	EXPECT_EQ(importer_refuses(variant) ? touched : 0,
		  mr.page_invalidations - b->page_invalidations);

	EXPECT_EQ(mr.page_faults - b->page_faults,
		  dev.page_faults - db->page_faults);
	EXPECT_EQ(mr.page_prefetch - b->page_prefetch,
		  dev.page_prefetch - db->page_prefetch);
	EXPECT_EQ(mr.page_invalidations - b->page_invalidations,
		  dev.page_invalidations - db->page_invalidations);
	EXPECT_EQ(mr.alias_pages - b->alias_pages,
		  dev.alias_pages - db->alias_pages);
	EXPECT_EQ(mr.alias_fallbacks - b->alias_fallbacks,
		  dev.alias_fallbacks - db->alias_fallbacks);
}

/*
 * Runs rdma-core's `ibv_devinfo -v -d @dev` and reads the lines of its general_odp_caps
 * block: @listed whether ODP_SUPPORT_DEVICE_PRIVATE is among them, @unknown
 * whether an "Unknown flags" line is.  Returns false if it could not run.
 */
static bool devinfo_general_caps(const char *dev, bool *listed, bool *unknown)
{
	char cmd[512], line[256];
	bool in_block = false, seen = false;
	FILE *f;

	*listed = *unknown = false;
	snprintf(cmd, sizeof(cmd), "'%s' -v -d '%s' 2>&1", ODP_IBV_DEVINFO,
		 dev);
	f = popen(cmd, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "general_odp_caps:")) {
			in_block = seen = true;
			continue;
		}
		/* Its lines are indented by five tabs, the next "\trc_odp_caps:" */
		if (in_block && strncmp(line, "\t\t", 2))
			in_block = false;
		if (!in_block)
			continue;
		if (strstr(line, "ODP_SUPPORT_DEVICE_PRIVATE"))
			*listed = true;
		if (strstr(line, "Unknown flags"))
			*unknown = true;
	}
	return pclose(f) == 0 && seen;
}

/*
 * odp_capability: rxe_b reports IB_UVERBS_ODP_SUPPORT_DEVICE_PRIVATE in
 * its ODP general capabilities exactly while its alias switch is on, and
 * `ibv_devinfo -v` (providers/ patches) lists it by name.
 */
FIXTURE(odp_capability)
{
	struct odp_side dev;
};

FIXTURE_VARIANT(odp_capability)
{
	bool aliases;
};

FIXTURE_VARIANT_ADD(odp_capability, aliases_on){
	.aliases = true,
};

FIXTURE_VARIANT_ADD(odp_capability, aliases_off){
	.aliases = false,
};

FIXTURE_SETUP(odp_capability)
{
	open_side(_metadata, &self->dev, odp_dev_b());
}

FIXTURE_TEARDOWN(odp_capability)
{
	EXPECT_OK(odp_side_close(&self->dev));
}

TEST_F(odp_capability, follows_the_alias_switch)
{
	struct ibv_device_attr_ex attr;
	bool was = true, on = !variant->aliases, listed, unknown;
	uint32_t index = (uint32_t)self->dev.index;
	int err;

	ASSERT_EQ(0, rdma_nl_get_odp_alias(index, &was))
	TH_LOG("%s", odp_reason());
	ASSERT_EQ(0, rdma_nl_set_odp_alias(index, variant->aliases))
	TH_LOG("%s", odp_reason());
	/* No ASSERT until the switch is back */
	err = ibv_query_device_ex(self->dev.ctx, NULL, &attr);
	EXPECT_EQ(0, err);
	if (!err) {
		EXPECT_EQ(variant->aliases, !!(attr.odp_caps.general_caps &
					       IBV_ODP_SUPPORT_DEVICE_PRIVATE));
	}
	EXPECT_TRUE(devinfo_general_caps(
		ibv_get_device_name(self->dev.ctx->device), &listed, &unknown))
	TH_LOG("ibv_devinfo -v printed no general_odp_caps");
	EXPECT_EQ(variant->aliases, listed);
	EXPECT_FALSE(unknown);
	EXPECT_EQ(0, rdma_nl_get_odp_alias(index, &on))
	TH_LOG("%s", odp_reason());
	EXPECT_EQ(variant->aliases, on);
	EXPECT_EQ(0, rdma_nl_set_odp_alias(index, was))
	TH_LOG("%s", odp_reason());
}

TEST_HARNESS_MAIN
