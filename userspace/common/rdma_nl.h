/*
 * rdma_nl.h - the device attributes of rdma netlink (NETLINK_RDMA, the
 * NLDEV client) that the tests and odp-devmem read and set: what iproute2's
 * "rdma dev show" and "rdma dev set" do, without depending on an iproute2
 * that knows the series' attributes.
 *
 * Functions return 0 or a positive errno and leave a reason in
 * odp_reason() (reason.h); a kernel's extack message is part of it.
 */
#ifndef ODP_RDMA_NL_H
#define ODP_RDMA_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A counter's name, as the kernel gives it, and its field's offset */
struct rdma_nl_counter {
	const char *name;
	size_t off;
};

/*
 * The ODP alias switch of the device with index @index (ibv_get_device_index()):
 * whether its ODP faults map DMA-able aliases of device private pages
 * (RDMA_NLDEV_ATTR_DEV_ODP_ALIAS).  Getting it fails with EOPNOTSUPP for a
 * device that cannot map aliases, or a kernel without the series.
 */
int rdma_nl_get_odp_alias(uint32_t index, bool *on);
/*
 * Sets it to @value (CAP_NET_ADMIN): 0 or 1, or anything else to see the
 * kernel refuse it (EINVAL); EOPNOTSUPP as above.
 */
int rdma_nl_set_odp_alias(uint32_t index, uint8_t value);

/*
 * The ODP counters of one MR, as "rdma resource show mr -dd" shows them:
 * the driver attributes of the MR resource (rxe, with the series).  Pages
 * count each time a fault, prefetch or invalidation covers them while
 * unmapped (faults, prefetches) or mapped (invalidations).
 */
struct rdma_nl_odp_mr {
	bool alias_on; /* the MR asks for aliases ("odp_alias") */
	uint64_t page_faults, page_faults_handled;
	uint64_t page_invalidations, page_invalidations_handled;
	uint64_t page_prefetch;
	uint64_t alias_pages; /* mapped as aliases of device private pages */
	uint64_t alias_fallbacks; /* migrated although an alias was asked */
};

/*
 * Reads them for the MR with @rkey of device @index (CAP_NET_ADMIN: the
 * kernel shows keys to it only).  ENOENT when no MR has that key, ENODATA
 * when it has no ODP counters (not an ODP MR, or a kernel without them).
 */
int rdma_nl_get_odp_mr(uint32_t index, uint32_t rkey,
		       struct rdma_nl_odp_mr *mr);

/* The uint64_t fields of struct rdma_nl_odp_mr, by their kernel names */
extern const struct rdma_nl_counter rdma_nl_odp_mr_counters[];
extern const size_t rdma_nl_odp_mr_ncounters;

/*
 * A device's ODP counters, among its port's hw counters, as "rdma statistic
 * show link DEV/PORT" shows them (rxe, with the series).
 */
struct rdma_odp_dev {
	uint64_t page_faults, page_invalidations, page_prefetch;
	uint64_t alias_pages, alias_fallbacks;
};

/* Reads them for port @port of device @index; ENODATA if it has none. */
int rdma_nl_get_odp_dev(uint32_t index, uint32_t port,
			struct rdma_odp_dev *dev);

/* The fields of struct rdma_odp_dev, by their hw counter names */
extern const struct rdma_nl_counter rdma_nl_odp_dev_counters[];
extern const size_t rdma_nl_odp_dev_ncounters;

#endif
