/*
 * rdma_nl.c - rdma netlink device attributes; see rdma_nl.h.
 */
#include "rdma_nl.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
/* rdma-core's copy, with RDMA_NLDEV_ATTR_DEV_ODP_ALIAS (providers/ 0001) */
#include <rdma/rdma_netlink.h>

#include "reason.h"

/* A dump message holds as many resources as fit in 32 KiB at most */
#define NL_BUF 65536

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

/* Called for each reply message but errors and NLMSG_DONE; 0 to go on */
typedef int (*nl_reply_fn)(const struct nlmsghdr *nh, void *arg);

/*
 * Sends @r and passes each reply message to @fn (when not NULL) until the
 * ACK or NLMSG_DONE.  0, the first error @fn returned, or an errno.
 */
static int transact(struct nl_req *r, const char *what, nl_reply_fn fn,
		    void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval timeout = { .tv_sec = 10 };
	int fd, err = 0, one = 1;
	bool done = false;
	char *buf;

	buf = malloc(NL_BUF);
	if (!buf) {
		odp_fail("%s: no memory for the replies", what);
		return ENOMEM;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
	if (fd < 0) {
		err = errno;
		odp_fail_errno(err, "socket(NETLINK_RDMA)");
		free(buf);
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
		ssize_t n = recv(fd, buf, NL_BUF, MSG_TRUNC);
		struct nlmsghdr *nh;

		if (n <= 0) {
			err = n ? errno : EPROTO;
			odp_fail_errno(err, "%s: recv", what);
			goto out;
		}
		if (n > NL_BUF) {
			err = EMSGSIZE;
			odp_fail("%s: a %zd-byte reply", what, n);
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
					err = EPROTO;
					odp_fail("%s: a short error reply",
						 what);
					done = true;
					break;
				}
				/* An error of @fn's comes first */
				if (!err)
					err = -e->error;
				if (e->error)
					odp_fail_errno(-e->error, "%s%s%s",
						       what,
						       *ext_msg(nh) ? ": " : "",
						       ext_msg(nh));
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (fn && !err)
				err = fn(nh, arg);
		}
	}
out:
	close(fd);
	free(buf);
	return err;
}

struct want_u8 {
	uint16_t type;
	bool found;
	uint8_t val;
};

/* The u8 attribute @type of the first reply that has it */
static int get_u8(const struct nlmsghdr *nh, void *arg)
{
	struct want_u8 *w = arg;
	const struct nlattr *a;

	if (w->found)
		return 0;
	a = find_attr(nh, NLMSG_HDRLEN, w->type);
	w->found = a && a->nla_len > NLA_HDRLEN;
	if (w->found)
		w->val = *((const uint8_t *)a + NLA_HDRLEN);
	return 0;
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
	struct want_u8 w = { .type = RDMA_NLDEV_ATTR_DEV_ODP_ALIAS };
	struct nl_req r;
	int err;

	init_req(&r, RDMA_NLDEV_CMD_GET, index);
	err = transact(&r, "RDMA_NLDEV_CMD_GET", get_u8, &w);
	if (!err && !w.found) {
		odp_fail(
			"device %u reports no RDMA_NLDEV_ATTR_DEV_ODP_ALIAS: "
			"it cannot map aliases, or the kernel lacks the series",
			index);
		return EOPNOTSUPP;
	}
	if (!err)
		*on = w.val;
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
	return transact(&r, what, NULL, NULL);
}

/* The attributes nested in @nest, one after the other */
#define for_each_nested(a, nest, left)                                        \
	for ((left) = (nest)->nla_len - NLA_HDRLEN,                           \
	    (a) = (const struct nlattr *)((const char *)(nest) + NLA_HDRLEN); \
	     (left) >= NLA_HDRLEN && (a)->nla_len >= NLA_HDRLEN &&            \
	     (a)->nla_len <= (left);                                          \
	     (left) -= NLA_ALIGN((a)->nla_len),                               \
	    (a) = (const struct nlattr *)((const char *)(a) +                 \
					  NLA_ALIGN((a)->nla_len)))

static const struct nlattr *nested(const struct nlattr *nest, uint16_t type)
{
	const struct nlattr *a;
	int left;

	for_each_nested(a, nest, left) {
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
	}
	return NULL;
}

/* A NUL-terminated string attribute's value, NULL if it is not one */
static const char *attr_str(const struct nlattr *a)
{
	const char *v = (const char *)a + NLA_HDRLEN;

	if (a->nla_len <= NLA_HDRLEN || v[a->nla_len - NLA_HDRLEN - 1])
		return NULL;
	return v;
}

/* A u64 attribute's value into *@v; false if it is too short for one */
static bool attr_u64(const struct nlattr *a, uint64_t *v)
{
	if (a->nla_len < NLA_HDRLEN + sizeof(*v))
		return false;
	memcpy(v, (const char *)a + NLA_HDRLEN, sizeof(*v));
	return true;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A counter the kernel names, and where it goes in our structure */
/* Stores @v in the field of @dst that @fields names @name: 1, or 0 if none */
static unsigned int store_named(const struct rdma_nl_counter *fields, size_t n,
				void *dst, const char *name, uint64_t v)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!strcmp(name, fields[i].name)) {
			memcpy((char *)dst + fields[i].off, &v, sizeof(v));
			return 1;
		}
	}
	return 0;
}

/* The MR's ODP counters, by the names rxe's driver attributes give them */
const struct rdma_nl_counter rdma_nl_odp_mr_counters[] = {
#define F(f)                                           \
	{                                              \
#f, offsetof(struct rdma_nl_odp_mr, f) \
	}
	F(page_faults),	       F(page_faults_handled),
	F(page_invalidations), F(page_invalidations_handled),
	F(page_prefetch),      F(alias_pages),
	F(alias_fallbacks),
#undef F
};

/* The device's, by the names of its hw counters */
const struct rdma_nl_counter rdma_nl_odp_dev_counters[] = {
#define F(f)                                                \
	{                                                   \
		"odp_" #f, offsetof(struct rdma_odp_dev, f) \
	}
	F(page_faults), F(page_invalidations), F(page_prefetch),
	F(alias_pages), F(alias_fallbacks),
#undef F
};

const size_t rdma_nl_odp_mr_ncounters = ARRAY_LEN(rdma_nl_odp_mr_counters);
const size_t rdma_nl_odp_dev_ncounters = ARRAY_LEN(rdma_nl_odp_dev_counters);

struct want_mr {
	uint32_t rkey;
	bool found; /* the MR */
	unsigned int counters; /* of its ODP counters found */
	struct rdma_nl_odp_mr *mr;
};

/*
 * The driver attributes of an MR: pairs of a name (DRIVER_STRING) and a
 * value (DRIVER_U64 or DRIVER_STRING), a print type maybe in between.
 */
static void odp_mr_driver_attrs(struct want_mr *w, const struct nlattr *drv)
{
	const char *name = NULL, *str;
	const struct nlattr *a;
	uint64_t v;
	int left;

	for_each_nested(a, drv, left) {
		switch (a->nla_type & NLA_TYPE_MASK) {
		case RDMA_NLDEV_ATTR_DRIVER_STRING:
			str = attr_str(a);
			if (!name) {
				name = str;
				break;
			}
			if (str && !strcmp(name, "odp_alias"))
				w->mr->alias_on = !strcmp(str, "on");
			name = NULL;
			break;
		case RDMA_NLDEV_ATTR_DRIVER_U64:
			if (name && attr_u64(a, &v))
				w->counters += store_named(
					rdma_nl_odp_mr_counters,
					ARRAY_LEN(rdma_nl_odp_mr_counters),
					w->mr, name, v);
			name = NULL;
			break;
		case RDMA_NLDEV_ATTR_DRIVER_S32:
		case RDMA_NLDEV_ATTR_DRIVER_U32:
		case RDMA_NLDEV_ATTR_DRIVER_S64:
			name = NULL;
			break;
		default: /* the print type, padding */
			break;
		}
	}
}

/* One message of the MR dump: a table of MR entries */
static int find_mr(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *table, *entry;
	struct want_mr *w = arg;
	int left;

	table = find_attr(nh, NLMSG_HDRLEN, RDMA_NLDEV_ATTR_RES_MR);
	if (!table || w->found)
		return 0;
	for_each_nested(entry, table, left) {
		const struct nlattr *key, *drv;
		uint32_t rkey;

		key = nested(entry, RDMA_NLDEV_ATTR_RES_RKEY);
		if (!key || key->nla_len < NLA_HDRLEN + sizeof(rkey))
			continue;
		memcpy(&rkey, (const char *)key + NLA_HDRLEN, sizeof(rkey));
		if (rkey != w->rkey)
			continue;
		w->found = true;
		drv = nested(entry, RDMA_NLDEV_ATTR_DRIVER);
		if (drv)
			odp_mr_driver_attrs(w, drv);
		break;
	}
	return 0;
}

int rdma_nl_get_odp_mr(uint32_t index, uint32_t rkey, struct rdma_nl_odp_mr *mr)
{
	struct want_mr w = { .rkey = rkey, .mr = mr };
	struct nl_req r;
	char what[64];
	int err;

	memset(mr, 0, sizeof(*mr));
	init_req(&r, RDMA_NLDEV_CMD_RES_MR_GET, index);
	r.nh.nlmsg_flags = NLM_F_DUMP;
	snprintf(what, sizeof(what), "RDMA_NLDEV_CMD_RES_MR_GET device %u",
		 index);
	err = transact(&r, what, find_mr, &w);
	if (err)
		return err;
	if (!w.found) {
		odp_fail("device %u has no MR with rkey 0x%x", index, rkey);
		return ENOENT;
	}
	if (w.counters != ARRAY_LEN(rdma_nl_odp_mr_counters)) {
		odp_fail("the MR with rkey 0x%x reports %u of the %zu ODP "
			 "counters: not ODP, or a kernel without them",
			 rkey, w.counters, ARRAY_LEN(rdma_nl_odp_mr_counters));
		return ENODATA;
	}
	return 0;
}

struct want_stats {
	unsigned int found;
	struct rdma_odp_dev *dev;
};

/* The port's hw counters: a table of (name, value) entries */
static int find_stats(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *table, *entry;
	struct want_stats *w = arg;
	int left;

	table = find_attr(nh, NLMSG_HDRLEN, RDMA_NLDEV_ATTR_STAT_HWCOUNTERS);
	if (!table)
		return 0;
	for_each_nested(entry, table, left) {
		const struct nlattr *name, *value;
		const char *str;
		uint64_t v;

		name = nested(entry, RDMA_NLDEV_ATTR_STAT_HWCOUNTER_ENTRY_NAME);
		value = nested(entry,
			       RDMA_NLDEV_ATTR_STAT_HWCOUNTER_ENTRY_VALUE);
		if (!name || !value || !attr_u64(value, &v))
			continue;
		str = attr_str(name);
		if (str)
			w->found +=
				store_named(rdma_nl_odp_dev_counters,
					    ARRAY_LEN(rdma_nl_odp_dev_counters),
					    w->dev, str, v);
	}
	return 0;
}

int rdma_nl_get_odp_dev(uint32_t index, uint32_t port, struct rdma_odp_dev *dev)
{
	struct want_stats w = { .dev = dev };
	struct nl_req r;
	char what[64];
	int err;

	memset(dev, 0, sizeof(*dev));
	init_req(&r, RDMA_NLDEV_CMD_STAT_GET, index);
	put_attr(&r, RDMA_NLDEV_ATTR_PORT_INDEX, &port, sizeof(port));
	snprintf(what, sizeof(what),
		 "RDMA_NLDEV_CMD_STAT_GET device %u port %u", index, port);
	err = transact(&r, what, find_stats, &w);
	if (err)
		return err;
	if (w.found != ARRAY_LEN(rdma_nl_odp_dev_counters)) {
		odp_fail("device %u port %u reports %u of the %zu ODP hw "
			 "counters: a kernel without them?",
			 index, port, w.found,
			 ARRAY_LEN(rdma_nl_odp_dev_counters));
		return ENODATA;
	}
	return 0;
}
