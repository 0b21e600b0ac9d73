/*
 * verbs_pair.c - see verbs_pair.h.
 */
#include "verbs_pair.h"
#include "env.h"
#include "pattern.h"
#include "rdma_nl.h"
#include "reason.h"
#include "timing.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static bool gid_is_ipv4_mapped(const union ibv_gid *gid)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(gid->raw, prefix, sizeof(prefix));
}

/* Finds the RoCE v2 GID that carries the port's IPv4 address. */
static bool find_roce_v2_ipv4_gid(struct odp_side *s, int gid_tbl_len)
{
	struct ibv_gid_entry *tbl;
	ssize_t n, i;
	bool found = false;

	tbl = calloc(gid_tbl_len, sizeof(*tbl));
	if (!tbl)
		return odp_fail_errno(errno, "calloc");
	n = ibv_query_gid_table(s->ctx, tbl, gid_tbl_len, 0);
	if (n < 0) {
		free(tbl);
		return odp_fail_errno((int)-n, "ibv_query_gid_table(%s)",
				      s->name);
	}
	for (i = 0; i < n && !found; i++) {
		if (tbl[i].port_num != s->port ||
		    tbl[i].gid_type != IBV_GID_TYPE_ROCE_V2 ||
		    !gid_is_ipv4_mapped(&tbl[i].gid))
			continue;
		s->gid_index = (uint8_t)tbl[i].gid_index;
		s->gid = tbl[i].gid;
		found = true;
	}
	free(tbl);
	if (!found)
		return odp_fail(
			"RoCE v2 IPv4 GID: %s port %u has none among %zd GIDs (no IPv4 address on its netdev?)",
			s->name, s->port, n);
	return true;
}

const char *odp_side_describe(const struct odp_side *s, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &s->gid.raw[12], ip, sizeof(ip));
	snprintf(buf, len,
		 "%s: port %u, active MTU %d, RoCE v2 GID index %u (%s)",
		 s->name, s->port, 128 << s->active_mtu, s->gid_index, ip);
	return buf;
}

const char *odp_libibverbs_path(void)
{
	Dl_info info;

	if (dladdr((void *)ibv_get_device_list, &info) && info.dli_fname)
		return info.dli_fname;
	return "(unknown)";
}

/* Opens the device by name; the kernel is known to have it. */
static struct ibv_context *open_device(const char *name)
{
	struct ibv_device **list;
	struct ibv_context *ctx = NULL;
	int i, n;

	list = ibv_get_device_list(&n);
	if (!list) {
		odp_fail_errno(errno, "ibv_get_device_list");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), name))
			break;
	if (i == n) {
		odp_fail(
			"the kernel has %s but libibverbs (%s) does not list it (rxe provider not found?)",
			name, odp_libibverbs_path());
	} else {
		ctx = ibv_open_device(list[i]);
		if (!ctx)
			odp_fail_errno(errno, "ibv_open_device(%s)", name);
	}
	/* An open context keeps its device; the list may go. */
	ibv_free_device_list(list);
	return ctx;
}

static bool has_rc_odp_caps(const struct odp_side *s, uint32_t caps)
{
	const struct ibv_odp_caps *odp = &s->attr.odp_caps;

	return (odp->general_caps & IBV_ODP_SUPPORT) &&
	       (odp->per_transport_caps.rc_odp_caps & caps) == caps;
}

enum odp_open odp_side_open(struct odp_side *s, const char *name,
			    uint32_t rc_odp_caps)
{
	char path[PATH_MAX];
	struct ibv_port_attr pattr;
	int ret;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->port = 1;

	/* Absent only when the kernel lacks the device, not when we fail. */
	snprintf(path, sizeof(path), "/sys/class/infiniband/%s", name);
	if (access(path, F_OK)) {
		odp_fail("no RDMA device %s (%s does not exist)", name, path);
		return ODP_OPEN_ABSENT;
	}
	s->ctx = open_device(name);
	if (!s->ctx)
		return ODP_OPEN_FAILED;

	s->index = ibv_get_device_index(s->ctx->device);
	if (s->index < 0) {
		odp_fail("%s: ibv_get_device_index() gives no index", name);
		return ODP_OPEN_FAILED;
	}
	ret = ibv_query_device_ex(s->ctx, NULL, &s->attr);
	if (ret) {
		odp_fail_errno(ret, "ibv_query_device_ex(%s)", name);
		return ODP_OPEN_FAILED;
	}
	if (rc_odp_caps && !has_rc_odp_caps(s, rc_odp_caps)) {
		odp_fail(
			"%s lacks ODP for RC: need rc_odp_caps %#x, have general_caps %#llx rc_odp_caps %#x",
			name, rc_odp_caps,
			(unsigned long long)s->attr.odp_caps.general_caps,
			s->attr.odp_caps.per_transport_caps.rc_odp_caps);
		return ODP_OPEN_ABSENT;
	}

	ret = ibv_query_port(s->ctx, s->port, &pattr);
	if (ret) {
		odp_fail_errno(ret, "ibv_query_port(%s, %u)", name, s->port);
		return ODP_OPEN_FAILED;
	}
	if (pattr.state != IBV_PORT_ACTIVE) {
		odp_fail("%s port %u is %s, not active", name, s->port,
			 ibv_port_state_str(pattr.state));
		return ODP_OPEN_FAILED;
	}
	s->active_mtu = pattr.active_mtu;
	if (!find_roce_v2_ipv4_gid(s, pattr.gid_tbl_len))
		return ODP_OPEN_FAILED;

	s->pd = ibv_alloc_pd(s->ctx);
	if (!s->pd) {
		odp_fail_errno(errno, "ibv_alloc_pd(%s)", name);
		return ODP_OPEN_FAILED;
	}
	return ODP_OPEN_OK;
}

/*
 * Records a failed close in *ok, keeping the first reason: closing goes on,
 * so that one failure does not leak the rest.
 */
static void note_close(bool *ok, int err, const char *call, const char *name)
{
	if (!err)
		return;
	if (*ok)
		odp_fail_errno(err, "%s(%s)", call, name);
	*ok = false;
}

static void destroy_qp(struct odp_side *s, bool *ok)
{
	if (!s->qp)
		return;
	note_close(ok, ibv_destroy_qp(s->qp), "ibv_destroy_qp", s->name);
	s->qp = NULL;
	s->qpx = NULL;
}

bool odp_side_close(struct odp_side *s)
{
	bool ok = true;

	destroy_qp(s, &ok);
	if (s->srq)
		note_close(&ok, ibv_destroy_srq(s->srq), "ibv_destroy_srq",
			   s->name);
	if (s->cq)
		note_close(&ok, ibv_destroy_cq(s->cq), "ibv_destroy_cq",
			   s->name);
	if (s->pd)
		note_close(&ok, ibv_dealloc_pd(s->pd), "ibv_dealloc_pd",
			   s->name);
	if (s->ctx && ibv_close_device(s->ctx))
		note_close(&ok, errno, "ibv_close_device", s->name);
	memset(s, 0, sizeof(*s));
	return ok;
}

/* Every send operation our helpers post, by ibv_post_send() or ibv_wr_*(). */
#define SEND_OPS                                                      \
	(IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_READ |       \
	 IBV_QP_EX_WITH_SEND | IBV_QP_EX_WITH_ATOMIC_CMP_AND_SWP |    \
	 IBV_QP_EX_WITH_ATOMIC_FETCH_AND_ADD | IBV_QP_EX_WITH_FLUSH | \
	 IBV_QP_EX_WITH_ATOMIC_WRITE)

static bool create_qp(struct odp_side *s, bool srq)
{
	struct ibv_qp_init_attr_ex ia = {
		.qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = 16,
			.max_recv_wr = 16,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
		.comp_mask = IBV_QP_INIT_ATTR_PD |
			     IBV_QP_INIT_ATTR_SEND_OPS_FLAGS,
		.pd = s->pd,
		.send_ops_flags = SEND_OPS,
	};

	s->cq = ibv_create_cq(s->ctx, 64, NULL, NULL, 0);
	if (!s->cq)
		return odp_fail_errno(errno, "ibv_create_cq(%s)", s->name);
	if (srq) {
		struct ibv_srq_init_attr sa = {
			.attr = { .max_wr = 16, .max_sge = 1 },
		};

		s->srq = ibv_create_srq(s->pd, &sa);
		if (!s->srq)
			return odp_fail_errno(errno, "ibv_create_srq(%s)",
					      s->name);
		ia.srq = s->srq;
	}
	ia.send_cq = s->cq;
	ia.recv_cq = s->cq;
	s->qp = ibv_create_qp_ex(s->ctx, &ia);
	if (!s->qp)
		return odp_fail_errno(errno, "ibv_create_qp_ex(%s, RC%s)",
				      s->name, srq ? ", SRQ" : "");
	s->qpx = ibv_qp_to_qp_ex(s->qp);
	if (!s->qpx)
		return odp_fail("%s: ibv_qp_to_qp_ex() returned NULL", s->name);
	return true;
}

static uint32_t initial_psn(const struct ibv_qp *qp)
{
	return (qp->qp_num * 2654435761U) & 0xffffff;
}

static bool modify_qp(struct odp_side *s, struct ibv_qp_attr *a, int mask,
		      const char *state)
{
	int ret = ibv_modify_qp(s->qp, a, mask);

	if (!ret)
		return true;
	return odp_fail_errno(ret, "ibv_modify_qp(%s, %s)", s->name, state);
}

/* RESET -> INIT -> RTR -> RTS towards @peer. */
static bool connect_qp(struct odp_side *s, const struct odp_side *peer,
		       enum ibv_mtu mtu)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = s->port,
		.qp_access_flags = ODP_QP_ACCESS,
	};

	if (!modify_qp(s, &a,
		       IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			       IBV_QP_ACCESS_FLAGS,
		       "INIT"))
		return false;

	a = (struct ibv_qp_attr){
		.qp_state = IBV_QPS_RTR,
		.path_mtu = mtu,
		.dest_qp_num = peer->qp->qp_num,
		.rq_psn = initial_psn(peer->qp),
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = {
			.is_global = 1,
			.grh = {
				.dgid = peer->gid,
				.sgid_index = s->gid_index,
				.hop_limit = 64,
			},
			.port_num = s->port,
		},
	};
	if (!modify_qp(s, &a,
		       IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
			       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
			       IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER,
		       "RTR"))
		return false;

	/* timeout 18: ~1 s per try, so a slow (TCG) VM does not retry. */
	a = (struct ibv_qp_attr){
		.qp_state = IBV_QPS_RTS,
		.timeout = 18,
		.retry_cnt = 7,
		.rnr_retry = 7,
		.sq_psn = initial_psn(s->qp),
		.max_rd_atomic = 1,
	};
	return modify_qp(s, &a,
			 IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				 IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
				 IBV_QP_MAX_QP_RD_ATOMIC,
			 "RTS");
}

enum odp_open odp_pair_open(struct odp_pair *p, uint32_t rc_odp_caps,
			    unsigned int flags)
{
	enum odp_open r;

	memset(p, 0, sizeof(*p));
	r = odp_side_open(&p->req, odp_dev_a(), rc_odp_caps);
	if (r == ODP_OPEN_OK)
		r = odp_side_open(&p->resp, odp_dev_b(), rc_odp_caps);
	if (r != ODP_OPEN_OK)
		return r;
	if (!create_qp(&p->req, false) ||
	    !create_qp(&p->resp, flags & ODP_PAIR_RESP_SRQ))
		return ODP_OPEN_FAILED;

	p->path_mtu = p->req.active_mtu < p->resp.active_mtu ?
			      p->req.active_mtu :
			      p->resp.active_mtu;
	if (!connect_qp(&p->req, &p->resp, p->path_mtu) ||
	    !connect_qp(&p->resp, &p->req, p->path_mtu))
		return ODP_OPEN_FAILED;
	return ODP_OPEN_OK;
}

bool odp_pair_close(struct odp_pair *p)
{
	bool ok = true;

	/* Both QPs first: neither may still send to the other. */
	destroy_qp(&p->req, &ok);
	destroy_qp(&p->resp, &ok);
	if (!odp_side_close(&p->req))
		ok = false;
	if (!odp_side_close(&p->resp))
		ok = false;
	return ok;
}

struct ibv_mr *odp_reg_mr(struct odp_side *s, void *addr, size_t len,
			  int access)
{
	struct ibv_mr *mr = ibv_reg_mr(s->pd, addr, len, access);

	if (!mr)
		odp_fail_errno(errno, "ibv_reg_mr(%s, %zu B, access %#x%s)",
			       s->name, len, access,
			       access & IBV_ACCESS_ON_DEMAND ? " ON_DEMAND" :
							       "");
	return mr;
}

bool odp_dereg_mr(struct ibv_mr *mr)
{
	int ret = mr ? ibv_dereg_mr(mr) : 0;

	return ret ? odp_fail_errno(ret, "ibv_dereg_mr") : true;
}

bool odp_buf_alloc(struct odp_buf *b, struct odp_side *s, size_t size,
		   int access)
{
	void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memset(b, 0, sizeof(*b));
	if (addr == MAP_FAILED)
		return odp_fail_errno(errno, "mmap(%zu B)", size);
	b->addr = addr;
	b->size = size;
	b->seed = odp_seed();
	odp_fill(b->addr, size, b->seed);
	b->mr = odp_reg_mr(s, b->addr, size, access);
	return b->mr != NULL;
}

bool odp_buf_alloc_aliases(struct odp_buf *b, struct odp_side *s, size_t size,
			   int access, bool aliases)
{
	bool was = true, ok;
	char why[256];
	int err;

	memset(b, 0, sizeof(*b));
	err = rdma_nl_get_odp_alias((uint32_t)s->index, &was);
	if (!err)
		err = rdma_nl_set_odp_alias((uint32_t)s->index, aliases);
	if (err)
		return false;
	ok = odp_buf_alloc(b, s, size, access);
	snprintf(why, sizeof(why), "%s", odp_reason());
	err = rdma_nl_set_odp_alias((uint32_t)s->index, was);
	if (!ok)
		return odp_fail("%s", why);
	return !err;
}

bool odp_buf_free(struct odp_buf *b)
{
	bool ok = odp_dereg_mr(b->mr);

	if (b->addr && munmap(b->addr, b->size) && ok)
		ok = odp_fail_errno(errno, "munmap");
	memset(b, 0, sizeof(*b));
	return ok;
}

void odp_layout(struct odp_layout *l, size_t page_off, size_t len)
{
	size_t page = odp_page_size();

	l->off = page + page_off;
	l->len = len;
	l->size = odp_round_up(l->off + l->len, page) + page;
}

static struct ibv_sge sge_of(const struct odp_buf *b, size_t off, size_t len)
{
	return (struct ibv_sge){
		.addr = (uintptr_t)(b->addr + off),
		.length = (uint32_t)len,
		.lkey = b->mr->lkey,
	};
}

/* A signaled send work request of @opcode on the one element @sge. */
static struct ibv_send_wr signaled_wr(enum ibv_wr_opcode opcode,
				      struct ibv_sge *sge, uint64_t wr_id)
{
	return (struct ibv_send_wr){
		.wr_id = wr_id,
		.sg_list = sge,
		.num_sge = 1,
		.opcode = opcode,
		.send_flags = IBV_SEND_SIGNALED,
	};
}

/* Posts @wr (one element) on s->qp. */
static bool post_wr(struct odp_side *s, struct ibv_send_wr *wr, size_t off)
{
	struct ibv_send_wr *bad;
	int ret = ibv_post_send(s->qp, wr, &bad);

	if (!ret)
		return true;
	return odp_fail_errno(ret, "ibv_post_send(%s, %s, %u B at +%zu)",
			      s->name, odp_wr_opcode_name(wr->opcode),
			      wr->sg_list->length, off);
}

/*
 * Posts one signaled @opcode of @len bytes at offset @off of @b; an RDMA
 * WRITE or READ targets the same offset of @remote.
 */
static bool post_send_wr(struct odp_side *s, enum ibv_wr_opcode opcode,
			 const struct odp_buf *b, const struct odp_buf *remote,
			 size_t off, size_t len, uint64_t wr_id)
{
	struct ibv_sge sge = sge_of(b, off, len);
	struct ibv_send_wr wr = signaled_wr(opcode, &sge, wr_id);

	if (remote) {
		wr.wr.rdma.remote_addr = (uintptr_t)(remote->addr + off);
		wr.wr.rdma.rkey = remote->mr->rkey;
	}
	return post_wr(s, &wr, off);
}

bool odp_post_rdma(struct odp_pair *p, enum ibv_wr_opcode opcode,
		   const struct odp_buf *local, const struct odp_buf *remote,
		   size_t off, size_t len, uint64_t wr_id)
{
	return post_send_wr(&p->req, opcode, local, remote, off, len, wr_id);
}

bool odp_post_send(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id)
{
	return post_send_wr(s, IBV_WR_SEND, b, NULL, off, len, wr_id);
}

bool odp_post_recv(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id)
{
	struct ibv_sge sge = sge_of(b, off, len);
	struct ibv_recv_wr wr = {
		.wr_id = wr_id,
		.sg_list = &sge,
		.num_sge = 1,
	};
	struct ibv_recv_wr *bad;
	int ret = s->srq ? ibv_post_srq_recv(s->srq, &wr, &bad) :
			   ibv_post_recv(s->qp, &wr, &bad);

	if (!ret)
		return true;
	return odp_fail_errno(ret, "%s(%s, %zu B)",
			      s->srq ? "ibv_post_srq_recv" : "ibv_post_recv",
			      s->name, len);
}

bool odp_post_atomic(struct odp_pair *p, enum ibv_wr_opcode opcode,
		     const struct odp_buf *local, const struct odp_buf *remote,
		     size_t off, uint64_t compare_add, uint64_t swap,
		     uint64_t wr_id)
{
	struct ibv_sge sge = sge_of(local, off, sizeof(uint64_t));
	struct ibv_send_wr wr = signaled_wr(opcode, &sge, wr_id);

	wr.wr.atomic.remote_addr = (uintptr_t)(remote->addr + off);
	wr.wr.atomic.compare_add = compare_add;
	wr.wr.atomic.swap = swap;
	wr.wr.atomic.rkey = remote->mr->rkey;
	return post_wr(&p->req, &wr, off);
}

/* Ends an ibv_wr_start() batch of one work request. */
static bool wr_complete(struct odp_side *s, enum ibv_wr_opcode opcode)
{
	int ret = ibv_wr_complete(s->qpx);

	if (!ret)
		return true;
	return odp_fail_errno(ret, "ibv_wr_complete(%s, %s)", s->name,
			      odp_wr_opcode_name(opcode));
}

bool odp_post_atomic_write(struct odp_pair *p, const struct odp_buf *remote,
			   size_t off, const uint8_t value[8], uint64_t wr_id)
{
	struct ibv_qp_ex *qpx = p->req.qpx;

	ibv_wr_start(qpx);
	qpx->wr_id = wr_id;
	qpx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_atomic_write(qpx, remote->mr->rkey,
			    (uintptr_t)(remote->addr + off), value);
	return wr_complete(&p->req, IBV_WR_ATOMIC_WRITE);
}

bool odp_post_flush(struct odp_pair *p, const struct odp_buf *remote,
		    size_t off, size_t len, uint8_t type, uint64_t wr_id)
{
	struct ibv_qp_ex *qpx = p->req.qpx;

	ibv_wr_start(qpx);
	qpx->wr_id = wr_id;
	qpx->wr_flags = IBV_SEND_SIGNALED;
	ibv_wr_flush(qpx, remote->mr->rkey, (uintptr_t)(remote->addr + off),
		     len, type, IBV_FLUSH_RANGE);
	return wr_complete(&p->req, IBV_WR_FLUSH);
}

bool odp_prefetch(struct odp_side *s, const struct odp_buf *b,
		  enum ibv_advise_mr_advice advice, size_t off, size_t len)
{
	struct ibv_sge sge = sge_of(b, off, len);
	int ret =
		ibv_advise_mr(s->pd, advice, IBV_ADVISE_MR_FLAG_FLUSH, &sge, 1);

	if (!ret)
		return true;
	return odp_fail_errno(ret, "ibv_advise_mr(%s, %s, %zu B at +%zu)",
			      s->name,
			      advice == IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE ?
				      "PREFETCH_WRITE" :
				      "PREFETCH",
			      len, off);
}

long odp_wait_timeout_ms(void)
{
	return odp_env_long("ODP_WC_TIMEOUT_S", 10) * 1000 *
	       odp_timeout_scale();
}

static bool wait_completion(struct odp_side *s, struct ibv_wc *wc, bool spin)
{
	double deadline = odp_now_ms() + (double)odp_wait_timeout_ms();
	int n;

	while ((n = ibv_poll_cq(s->cq, 1, wc)) == 0) {
		if (odp_now_ms() > deadline)
			return odp_fail("%s: no completion within %ld s",
					s->name, odp_wait_timeout_ms() / 1000);
		if (!spin)
			odp_pause_briefly();
	}
	if (n < 0)
		return odp_fail_errno(-n, "ibv_poll_cq(%s)", s->name);
	return true;
}

bool odp_poll_completion(struct odp_side *s, struct ibv_wc *wc)
{
	return wait_completion(s, wc, false);
}

bool odp_spin_completion(struct odp_side *s, struct ibv_wc *wc)
{
	return wait_completion(s, wc, true);
}

bool odp_wait_qp_state(struct odp_side *s, enum ibv_qp_state state,
		       enum ibv_qp_state *last)
{
	double deadline = odp_now_ms() + (double)odp_wait_timeout_ms();
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;

	for (;;) {
		int ret = ibv_query_qp(s->qp, &a, IBV_QP_STATE, &init);

		if (ret)
			return odp_fail_errno(ret, "ibv_query_qp(%s)", s->name);
		if (last)
			*last = a.qp_state;
		if (a.qp_state == state)
			return true;
		if (odp_now_ms() > deadline)
			return odp_fail("%s QP still %s after %ld s, not %s",
					s->name, odp_qp_state_name(a.qp_state),
					odp_wait_timeout_ms() / 1000,
					odp_qp_state_name(state));
		odp_pause_briefly();
	}
}

bool odp_wait_qp_event(struct odp_side *s, enum ibv_event_type type)
{
	double deadline = odp_now_ms() + (double)odp_wait_timeout_ms();
	int fd = s->ctx->async_fd;
	struct ibv_async_event ev;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	bool found = false;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return odp_fail_errno(errno, "fcntl(async_fd, O_NONBLOCK)");

	while (!found) {
		double left = deadline - odp_now_ms();

		if (left <= 0)
			return odp_fail("%s: no %s on its QP within %ld s",
					s->name, ibv_event_type_str(type),
					odp_wait_timeout_ms() / 1000);
		if (poll(&pfd, 1, (int)left + 1) < 0 && errno != EINTR)
			return odp_fail_errno(errno, "poll(async_fd)");
		if (ibv_get_async_event(s->ctx, &ev)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return odp_fail_errno(errno, "ibv_get_async_event");
		}
		found = ev.event_type == type && ev.element.qp == s->qp;
		if (!found)
			fprintf(stderr, "# %s: other async event %s (%d)\n",
				s->name, ibv_event_type_str(ev.event_type),
				ev.event_type);
		ibv_ack_async_event(&ev);
	}
	return true;
}

#define NAME(x) [x] = #x
static const char *const wc_status_names[] = {
	NAME(IBV_WC_SUCCESS),
	NAME(IBV_WC_LOC_LEN_ERR),
	NAME(IBV_WC_LOC_QP_OP_ERR),
	NAME(IBV_WC_LOC_EEC_OP_ERR),
	NAME(IBV_WC_LOC_PROT_ERR),
	NAME(IBV_WC_WR_FLUSH_ERR),
	NAME(IBV_WC_MW_BIND_ERR),
	NAME(IBV_WC_BAD_RESP_ERR),
	NAME(IBV_WC_LOC_ACCESS_ERR),
	NAME(IBV_WC_REM_INV_REQ_ERR),
	NAME(IBV_WC_REM_ACCESS_ERR),
	NAME(IBV_WC_REM_OP_ERR),
	NAME(IBV_WC_RETRY_EXC_ERR),
	NAME(IBV_WC_RNR_RETRY_EXC_ERR),
	NAME(IBV_WC_LOC_RDD_VIOL_ERR),
	NAME(IBV_WC_REM_INV_RD_REQ_ERR),
	NAME(IBV_WC_REM_ABORT_ERR),
	NAME(IBV_WC_INV_EECN_ERR),
	NAME(IBV_WC_INV_EEC_STATE_ERR),
	NAME(IBV_WC_FATAL_ERR),
	NAME(IBV_WC_RESP_TIMEOUT_ERR),
	NAME(IBV_WC_GENERAL_ERR),
	NAME(IBV_WC_TM_ERR),
	NAME(IBV_WC_TM_RNDV_INCOMPLETE),
};

static const char *const qp_state_names[] = {
	NAME(IBV_QPS_RESET), NAME(IBV_QPS_INIT), NAME(IBV_QPS_RTR),
	NAME(IBV_QPS_RTS),   NAME(IBV_QPS_SQD),	 NAME(IBV_QPS_SQE),
	NAME(IBV_QPS_ERR),
};

/* The opcodes our tests post and complete. */
static const char *const wc_opcode_names[] = {
	NAME(IBV_WC_SEND),	   NAME(IBV_WC_RDMA_WRITE),
	NAME(IBV_WC_RDMA_READ),	   NAME(IBV_WC_COMP_SWAP),
	NAME(IBV_WC_FETCH_ADD),	   NAME(IBV_WC_FLUSH),
	NAME(IBV_WC_ATOMIC_WRITE), NAME(IBV_WC_RECV),
};
#undef NAME

static const char *const wr_opcode_names[] = {
	[IBV_WR_RDMA_WRITE] = "RDMA_WRITE",
	[IBV_WR_RDMA_READ] = "RDMA_READ",
	[IBV_WR_SEND] = "SEND",
	[IBV_WR_ATOMIC_CMP_AND_SWP] = "ATOMIC_CMP_AND_SWP",
	[IBV_WR_ATOMIC_FETCH_AND_ADD] = "ATOMIC_FETCH_AND_ADD",
	[IBV_WR_FLUSH] = "FLUSH",
	[IBV_WR_ATOMIC_WRITE] = "ATOMIC_WRITE",
};

#define LOOKUP(table, i, unknown)                                       \
	((size_t)(i) < sizeof(table) / sizeof(*(table)) && (table)[i] ? \
		 (table)[i] :                                           \
		 (unknown))

const char *odp_wc_status_name(enum ibv_wc_status status)
{
	return LOOKUP(wc_status_names, status, "IBV_WC_?");
}

const char *odp_qp_state_name(enum ibv_qp_state state)
{
	return LOOKUP(qp_state_names, state, "IBV_QPS_?");
}

const char *odp_wc_opcode_name(enum ibv_wc_opcode opcode)
{
	return LOOKUP(wc_opcode_names, opcode, "IBV_WC_(other opcode)");
}

const char *odp_wr_opcode_name(enum ibv_wr_opcode opcode)
{
	return LOOKUP(wr_opcode_names, opcode, "(other opcode)");
}
