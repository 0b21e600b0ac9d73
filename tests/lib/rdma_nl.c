/*
 * rdma_nl.c - rdma netlink device attributes; see rdma_nl.h.
 */
#include "rdma_nl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
/* The series' UAPI, not the copy in rdma-core's kernel-headers. */
#include <include/uapi/rdma/rdma_netlink.h>

#include "reason.h"

#define NL_BUF 8192

struct nl_req {
	struct nlmsghdr nh;
	char attrs[64];
};

/* Appends an attribute; the header is NLMSG_HDRLEN bytes, attrs follow. */
static void put_attr(struct nl_req *r, uint16_t type, const void *data,
		     uint16_t len)
{
	size_t off = NLMSG_ALIGN(r->nh.nlmsg_len) - NLMSG_HDRLEN;
	struct nlattr *a = (struct nlattr *)(r->attrs + off);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(r->attrs + off + NLA_HDRLEN, data, len);
	r->nh.nlmsg_len = NLMSG_HDRLEN + off + NLA_ALIGN(a->nla_len);
}

/*
 * The first attribute of type @type among those from byte @off of @nh; NULL
 * if there is none before the end or a malformed attribute.
 */
static const struct nlattr *find_attr(const struct nlmsghdr *nh, size_t off,
				      uint16_t type)
{
	while (off + NLA_HDRLEN <= nh->nlmsg_len) {
		const struct nlattr *a =
			(const struct nlattr *)((const char *)nh + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > nh->nlmsg_len)
			return NULL;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

/* The extack message of an error reply, "" if it has none. */
static const char *ext_msg(const struct nlmsghdr *nh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	const struct nlattr *a;

	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return "";
	/* Past the request the kernel echoed, unless it capped it */
	if (!(nh->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return "";
		off = NLMSG_HDRLEN +
		      NLMSG_ALIGN(sizeof(*e) + e->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	a = find_attr(nh, off, NLMSGERR_ATTR_MSG);
	if (!a || a->nla_len <= NLA_HDRLEN ||
	    ((const char *)a)[a->nla_len - 1] != '\0')
		return "";
	return (const char *)a + NLA_HDRLEN;
}

/*
 * Sends @r and reads the replies: the attribute @want of the first reply
 * message into @val (when @want is not 0), then the ACK.  0 or an errno;
 * ENODATA when the reply lacks @want.
 */
static int transact(struct nl_req *r, const char *what, uint16_t want,
		    uint8_t *val)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval timeout = { .tv_sec = 10 };
	union {
		struct nlmsghdr nh;
		char bytes[NL_BUF];
	} buf;
	int fd, err = 0, one = 1;
	bool found = false, done = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
	if (fd < 0) {
		err = errno;
		odp_fail_errno(err, "socket(NETLINK_RDMA)");
		return err;
	}
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = 1;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0) {
		err = errno;
		odp_fail_errno(err, "%s: sendto", what);
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf.bytes, sizeof(buf.bytes), MSG_TRUNC);
		struct nlmsghdr *nh;

		if (n <= 0) {
			err = n ? errno : EPROTO;
			odp_fail_errno(err, "%s: recv", what);
			goto out;
		}
		if ((size_t)n > sizeof(buf.bytes)) {
			err = EMSGSIZE;
			odp_fail("%s: a %zd-byte reply", what, n);
			goto out;
		}
		for (nh = &buf.nh; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
					err = EPROTO;
					odp_fail("%s: a short error reply",
						 what);
					done = true;
					break;
				}
				err = -e->error;
				if (err)
					odp_fail_errno(err, "%s%s%s", what,
						       *ext_msg(nh) ? ": " : "",
						       ext_msg(nh));
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (want && !found) {
				const struct nlattr *a =
					find_attr(nh, NLMSG_HDRLEN, want);

				found = a && a->nla_len > NLA_HDRLEN;
				if (found)
					*val = *((const uint8_t *)a +
						 NLA_HDRLEN);
			}
		}
	}
	if (!err && want && !found) {
		err = ENODATA;
		odp_fail("%s: the reply has no attribute %u", what, want);
	}
out:
	close(fd);
	return err;
}

static void init_req(struct nl_req *r, uint32_t op, uint32_t index)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_HDRLEN;
	r->nh.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, op);
	put_attr(r, RDMA_NLDEV_ATTR_DEV_INDEX, &index, sizeof(index));
}

int rdma_nl_get_odp_alias(uint32_t index, bool *on)
{
	struct nl_req r;
	uint8_t val = 0;
	int err;

	init_req(&r, RDMA_NLDEV_CMD_GET, index);
	err = transact(&r, "RDMA_NLDEV_CMD_GET", RDMA_NLDEV_ATTR_DEV_ODP_ALIAS,
		       &val);
	if (err == ENODATA) {
		odp_fail(
			"device %u reports no RDMA_NLDEV_ATTR_DEV_ODP_ALIAS: "
			"it cannot map aliases, or the kernel lacks the series",
			index);
		return EOPNOTSUPP;
	}
	if (!err)
		*on = val;
	return err;
}

int rdma_nl_set_odp_alias(uint32_t index, uint8_t value)
{
	struct nl_req r;
	char what[64];

	init_req(&r, RDMA_NLDEV_CMD_SET, index);
	put_attr(&r, RDMA_NLDEV_ATTR_DEV_ODP_ALIAS, &value, sizeof(value));
	snprintf(what, sizeof(what),
		 "RDMA_NLDEV_CMD_SET device %u odp alias %u", index, value);
	return transact(&r, what, 0, NULL);
}
