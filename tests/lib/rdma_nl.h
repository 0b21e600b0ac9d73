/*
 * rdma_nl.h - the device attributes of rdma netlink (NETLINK_RDMA, the
 * NLDEV client) that the tests read and set: what iproute2's
 * "rdma dev show" and "rdma dev set" do, without depending on an iproute2
 * that knows the series' attributes.
 *
 * Functions return 0 or a positive errno and leave a reason in
 * odp_reason() (reason.h); a kernel's extack message is part of it.
 */
#ifndef ODP_RDMA_NL_H
#define ODP_RDMA_NL_H

#include <stdbool.h>
#include <stdint.h>

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

#endif
