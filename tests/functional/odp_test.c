/*
 * odp_test.c - TAP output, patterns and the two-device RC setup used by
 * the functional tests (see odp_test.h).
 */
#include "odp_test.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- TAP ---- */

static int tap_n;
static int tap_failed;
static char tap_prefix[160];

static void tap_line(bool pass, const char *what, const char *why)
{
	tap_n++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - %s%s%s%s\n", pass ? "" : "not ", tap_n, tap_prefix,
	       what, why ? ": " : "", why ? why : "");
}

static uint32_t seed_next;
static uint32_t seed_prev;

void tap_start(const char *test_name)
{
	const char *env = getenv("ODP_SEED");
	Dl_info info;

	/* Line-buffered, so that ctest's log keeps our lines in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# %s\n", test_name);
	if (dladdr((void *)ibv_get_device_list, &info) && info.dli_fname)
		printf("# libibverbs: %s\n", info.dli_fname);

	/* A new seed every run; ODP_SEED repeats one. */
	if (env && *env)
		seed_next = (uint32_t)strtoul(env, NULL, 0);
	else
		seed_next = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	printf("# seed 0x%08x (ODP_SEED=0x%08x repeats this run)\n", seed_next,
	       seed_next);
}

void tap_case(const char *fmt, ...)
{
	va_list ap;
	int n;

	tap_prefix[0] = '\0';
	if (!fmt)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tap_prefix, sizeof(tap_prefix) - 2, fmt, ap);
	va_end(ap);
	if (n > 0)
		strcat(tap_prefix, ": ");
}

bool tap_ok(bool pass, const char *what)
{
	tap_line(pass, what, NULL);
	return pass;
}

bool tap_check(bool pass, const char *what, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (pass)
		return tap_ok(true, what);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tap_line(false, what, why);
	return false;
}

bool tap_expect_int(const char *what, long long expected, long long got)
{
	return tap_check(expected == got, what, "expected %lld got %lld",
			 expected, got);
}

const char *errno_name(int err)
{
	const char *name = err ? strerrorname_np(err) : "0";

	return name ? name : "E?";
}

bool tap_expect_errno(const char *what, int expected, int got)
{
	return tap_check(expected == got, what,
			 "expected errno %s (%d) got %s (%d, %s)",
			 errno_name(expected), expected, errno_name(got), got,
			 got ? strerror(got) : "no error");
}

bool tap_call_failed(int err, const char *fmt, ...)
{
	char call[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call, sizeof(call), fmt, ap);
	va_end(ap);
	return tap_check(false, call, "errno %s (%d, %s)", errno_name(err), err,
			 strerror(err));
}

void tap_skip(const char *what, const char *reason)
{
	tap_n++;
	printf("ok %d - %s%s # SKIP %s\n", tap_n, tap_prefix, what, reason);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

_Noreturn void tap_skip_all(const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);

	if (tap_n || odp_env_long("ODP_NO_SKIP", 0)) {
		tap_prefix[0] = '\0';
		tap_check(false, "cannot run", "%s (%s)", reason,
			  tap_n ? "after checks already ran" : "ODP_NO_SKIP=1");
		exit(tap_finish());
	}
	printf("1..0 # SKIP %s\n", reason);
	exit(ODP_EXIT_SKIP);
}

int tap_finish(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_n);
	fflush(stdout);
	return tap_failed || !tap_n ? ODP_EXIT_FAIL : ODP_EXIT_PASS;
}

/* ---- environment ---- */

const char *odp_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

long odp_env_long(const char *name, long fallback)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return fallback;
	n = strtol(v, &end, 0);
	return *end ? fallback : n;
}

static long timeout_ms(void)
{
	return odp_env_long("ODP_WC_TIMEOUT_S", 10) * 1000;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_briefly(void)
{
	const struct timespec ts = { .tv_nsec = 100 * 1000 };

	nanosleep(&ts, NULL);
}

/* ---- buffers and patterns ---- */

size_t odp_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

size_t odp_round_up(size_t n, size_t align)
{
	return (n + align - 1) / align * align;
}

/* A 32-bit integer hash (lowbias32): spreads consecutive counters. */
static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static bool differs_in_every_byte(uint32_t a, uint32_t b)
{
	uint32_t d = a ^ b;

	return (d & 0xff) && (d & 0xff00) && (d & 0xff0000) && (d & 0xff000000);
}

uint32_t odp_seed(void)
{
	uint32_t s;

	do
		s = mix32(seed_next++);
	while (!differs_in_every_byte(s, seed_prev));
	seed_prev = s;
	return s;
}

uint8_t odp_pattern_byte(uint32_t seed, size_t index)
{
	uint32_t x = (uint32_t)(index / 4) * 2654435761U;
	uint32_t word = seed ^ x ^ (x >> 16);

	return (uint8_t)(word >> (8 * (index % 4)));
}

void odp_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = odp_pattern_byte(seed, i);
}

bool odp_expect_pattern(const char *what, const void *buf, size_t from,
			size_t to, uint32_t seed)
{
	const uint8_t *p = buf;
	size_t i, bad = 0, first = 0;

	for (i = from; i < to; i++) {
		if (p[i] == odp_pattern_byte(seed, i))
			continue;
		if (!bad++)
			first = i;
	}
	return tap_check(
		!bad, what,
		"%zu of %zu bytes differ, first at +%zu (page %zu + %zu): expected 0x%02x got 0x%02x",
		bad, to - from, first, first / odp_page_size(),
		first % odp_page_size(), odp_pattern_byte(seed, first),
		bad ? p[first] : 0);
}

void odp_expect_placed(const char *who, const void *buf, size_t size,
		       size_t off, size_t len, uint32_t seed, uint32_t own)
{
	char what[96];

	snprintf(what, sizeof(what), "%s range holds the source bytes", who);
	odp_expect_pattern(what, buf, off, off + len, seed);
	snprintf(what, sizeof(what), "%s bytes before the range are unchanged",
		 who);
	odp_expect_pattern(what, buf, 0, off, own);
	snprintf(what, sizeof(what), "%s bytes after the range are unchanged",
		 who);
	odp_expect_pattern(what, buf, off + len, size, own);
}

static void *odp_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		tap_call_failed(errno, "mmap");
		return NULL;
	}
	return p;
}

static void odp_unmap(void *p, size_t len)
{
	if (p && munmap(p, len))
		tap_call_failed(errno, "munmap");
}

/* ---- verbs ---- */

static bool gid_is_ipv4_mapped(const union ibv_gid *gid)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(gid->raw, prefix, sizeof(prefix));
}

/* Finds the RoCE v2 GID that carries the port's IPv4 address. */
static bool find_roce_v2_ipv4_gid(struct odp_side *s, int gid_tbl_len)
{
	struct ibv_gid_entry *tbl;
	char ip[INET_ADDRSTRLEN];
	ssize_t n, i;
	bool found = false;

	tbl = calloc(gid_tbl_len, sizeof(*tbl));
	if (!tbl)
		return tap_call_failed(errno, "calloc");
	n = ibv_query_gid_table(s->ctx, tbl, gid_tbl_len, 0);
	if (n < 0) {
		free(tbl);
		return tap_call_failed((int)-n, "ibv_query_gid_table(%s)",
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
		return tap_check(
			false, "RoCE v2 IPv4 GID",
			"%s port %u has none among %zd GIDs (no IPv4 address on its netdev?)",
			s->name, s->port, n);
	inet_ntop(AF_INET, &s->gid.raw[12], ip, sizeof(ip));
	tap_diag("%s: port %u, active MTU %d, RoCE v2 GID index %u (%s)",
		 s->name, s->port, 128 << s->active_mtu, s->gid_index, ip);
	return true;
}

/* Opens the device by name; the kernel is known to have it. */
static struct ibv_context *open_device(const char *name)
{
	struct ibv_device **list;
	struct ibv_context *ctx = NULL;
	int i, n;

	list = ibv_get_device_list(&n);
	if (!list) {
		tap_call_failed(errno, "ibv_get_device_list");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(ibv_get_device_name(list[i]), name))
			break;
	if (i == n) {
		tap_check(
			false, "libibverbs lists the device",
			"the kernel has %s but libibverbs does not list it (rxe provider not found?)",
			name);
	} else {
		ctx = ibv_open_device(list[i]);
		if (!ctx) {
			tap_call_failed(errno, "ibv_open_device(%s)", name);
		}
	}
	/* An open context keeps its device; the list may go. */
	ibv_free_device_list(list);
	return ctx;
}

bool odp_side_open(struct odp_side *s, const char *env, const char *fallback,
		   uint32_t rc_odp_caps)
{
	char path[PATH_MAX];
	struct ibv_port_attr pattr;
	const struct ibv_odp_caps *odp;
	int ret;

	memset(s, 0, sizeof(*s));
	s->name = odp_env(env, fallback);
	s->port = 1;

	/* Skip only when the kernel lacks the device, not when we fail. */
	snprintf(path, sizeof(path), "/sys/class/infiniband/%s", s->name);
	if (access(path, F_OK))
		tap_skip_all(
			"no RDMA device %s (%s does not exist; %s names it)",
			s->name, path, env);

	s->ctx = open_device(s->name);
	if (!s->ctx)
		return false;

	ret = ibv_query_device_ex(s->ctx, NULL, &s->attr);
	if (ret) {
		return tap_call_failed(ret, "ibv_query_device_ex(%s)", s->name);
	}
	odp = &s->attr.odp_caps;
	if (rc_odp_caps && (!(odp->general_caps & IBV_ODP_SUPPORT) ||
			    (odp->per_transport_caps.rc_odp_caps &
			     rc_odp_caps) != rc_odp_caps))
		tap_skip_all(
			"%s lacks ODP for RC: need rc_odp_caps %#x, have general_caps %#llx rc_odp_caps %#x",
			s->name, rc_odp_caps,
			(unsigned long long)odp->general_caps,
			odp->per_transport_caps.rc_odp_caps);

	ret = ibv_query_port(s->ctx, s->port, &pattr);
	if (ret) {
		return tap_call_failed(ret, "ibv_query_port(%s, %u)", s->name,
				       s->port);
	}
	if (pattr.state != IBV_PORT_ACTIVE)
		return tap_check(false, "port is active", "%s port %u is %s",
				 s->name, s->port,
				 ibv_port_state_str(pattr.state));
	s->active_mtu = pattr.active_mtu;
	if (!find_roce_v2_ipv4_gid(s, pattr.gid_tbl_len))
		return false;

	s->pd = ibv_alloc_pd(s->ctx);
	if (!s->pd) {
		return tap_call_failed(errno, "ibv_alloc_pd(%s)", s->name);
	}
	return true;
}

static void destroy_qp(struct odp_side *s)
{
	int ret;

	if (!s->qp)
		return;
	ret = ibv_destroy_qp(s->qp);
	if (ret) {
		tap_call_failed(ret, "ibv_destroy_qp(%s)", s->name);
	}
	s->qp = NULL;
}

void odp_side_close(struct odp_side *s)
{
	int ret;

	destroy_qp(s);
	if (s->cq) {
		ret = ibv_destroy_cq(s->cq);
		if (ret) {
			tap_call_failed(ret, "ibv_destroy_cq(%s)", s->name);
		}
	}
	if (s->pd) {
		ret = ibv_dealloc_pd(s->pd);
		if (ret) {
			tap_call_failed(ret, "ibv_dealloc_pd(%s)", s->name);
		}
	}
	if (s->ctx && ibv_close_device(s->ctx)) {
		tap_call_failed(errno, "ibv_close_device(%s)", s->name);
	}
	memset(s, 0, sizeof(*s));
}

static bool create_qp(struct odp_side *s)
{
	struct ibv_qp_init_attr ia = {
		.qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = 16,
			.max_recv_wr = 16,
			.max_send_sge = 1,
			.max_recv_sge = 1,
		},
	};

	s->cq = ibv_create_cq(s->ctx, 64, NULL, NULL, 0);
	if (!s->cq) {
		return tap_call_failed(errno, "ibv_create_cq(%s)", s->name);
	}
	ia.send_cq = s->cq;
	ia.recv_cq = s->cq;
	s->qp = ibv_create_qp(s->pd, &ia);
	if (!s->qp) {
		return tap_call_failed(errno, "ibv_create_qp(%s, RC)", s->name);
	}
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
	return tap_call_failed(ret, "ibv_modify_qp(%s, %s)", s->name, state);
}

/* RESET -> INIT -> RTR -> RTS towards @peer. */
static bool connect_qp(struct odp_side *s, const struct odp_side *peer,
		       enum ibv_mtu mtu)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = s->port,
		.qp_access_flags = ODP_REMOTE_ACCESS,
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

bool odp_pair_open(struct odp_pair *p, uint32_t rc_odp_caps)
{
	memset(p, 0, sizeof(*p));
	if (!odp_side_open(&p->req, "ODP_DEV_A", "rxe_a", rc_odp_caps) ||
	    !odp_side_open(&p->resp, "ODP_DEV_B", "rxe_b", rc_odp_caps) ||
	    !create_qp(&p->req) || !create_qp(&p->resp))
		return false;

	p->path_mtu = p->req.active_mtu < p->resp.active_mtu ?
			      p->req.active_mtu :
			      p->resp.active_mtu;
	return connect_qp(&p->req, &p->resp, p->path_mtu) &&
	       connect_qp(&p->resp, &p->req, p->path_mtu);
}

void odp_pair_close(struct odp_pair *p)
{
	/* Both QPs first: neither may still send to the other. */
	destroy_qp(&p->req);
	destroy_qp(&p->resp);
	odp_side_close(&p->req);
	odp_side_close(&p->resp);
}

struct ibv_mr *odp_reg_mr(struct odp_side *s, void *addr, size_t len,
			  int access)
{
	struct ibv_mr *mr = ibv_reg_mr(s->pd, addr, len, access);

	if (!mr) {
		tap_call_failed(errno, "ibv_reg_mr(%s, %zu B, access %#x%s)",
				s->name, len, access,
				access & IBV_ACCESS_ON_DEMAND ? " ON_DEMAND" :
								"");
	}
	return mr;
}

bool odp_dereg_mr(struct ibv_mr *mr)
{
	int ret = mr ? ibv_dereg_mr(mr) : 0;

	return ret ? tap_call_failed(ret, "ibv_dereg_mr") : true;
}

bool odp_buf_alloc(struct odp_buf *b, struct odp_side *s, size_t size,
		   int access)
{
	memset(b, 0, sizeof(*b));
	b->addr = odp_map(size);
	if (!b->addr)
		return false;
	b->size = size;
	b->seed = odp_seed();
	odp_fill(b->addr, size, b->seed);
	b->mr = odp_reg_mr(s, b->addr, size, access);
	return b->mr != NULL;
}

void odp_buf_free(struct odp_buf *b)
{
	odp_dereg_mr(b->mr);
	odp_unmap(b->addr, b->size);
	memset(b, 0, sizeof(*b));
}

const struct odp_xfer_case odp_xfer_cases[] = {
	{ .len = 1, .page_off = 777 },
	{ .len = 4096, .page_off = 0 },
	{ .len = 3 * 4096 + 123, .page_off = 100 },
	{ .len = 1 << 20, .page_off = 0 },
};
const size_t odp_n_xfer_cases =
	sizeof(odp_xfer_cases) / sizeof(odp_xfer_cases[0]);

int odp_run_xfer_cases(const char *test, uint32_t rc_odp_caps,
		       odp_xfer_case_fn *run_case)
{
	struct odp_pair p;
	uint64_t wr_id = 1;
	size_t i;
	int local_odp;

	tap_start(test);
	if (!odp_pair_open(&p, rc_odp_caps))
		goto out;
	for (i = 0; i < odp_n_xfer_cases; i++)
		for (local_odp = 0; local_odp <= 1; local_odp++)
			if (!run_case(&p, &odp_xfer_cases[i], local_odp,
				      wr_id++))
				goto out;
out:
	odp_pair_close(&p);
	return tap_finish();
}

void odp_layout(struct odp_layout *l, const struct odp_xfer_case *c)
{
	size_t page = odp_page_size();

	l->off = page + c->page_off;
	l->len = c->len;
	l->size = odp_round_up(l->off + l->len, page) + page;
}

static bool post_send_wr(struct odp_side *s, struct ibv_send_wr *wr,
			 const char *op)
{
	struct ibv_send_wr *bad;
	int ret = ibv_post_send(s->qp, wr, &bad);

	if (!ret)
		return true;
	return tap_call_failed(ret, "ibv_post_send(%s, %s, %u B)", s->name, op,
			       wr->sg_list->length);
}

bool odp_post_rdma(struct odp_pair *p, enum ibv_wr_opcode opcode,
		   const struct odp_buf *local, const struct odp_buf *remote,
		   size_t off, size_t len, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(local->addr + off),
		.length = (uint32_t)len,
		.lkey = local->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = wr_id,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = opcode,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = {
			.remote_addr = (uintptr_t)(remote->addr + off),
			.rkey = remote->mr->rkey,
		},
	};

	return post_send_wr(&p->req, &wr,
			    opcode == IBV_WR_RDMA_READ ? "RDMA_READ" :
							 "RDMA_WRITE");
}

bool odp_post_send(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(b->addr + off),
		.length = (uint32_t)len,
		.lkey = b->mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = wr_id,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED,
	};

	return post_send_wr(s, &wr, "SEND");
}

bool odp_post_recv(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(b->addr + off),
		.length = (uint32_t)len,
		.lkey = b->mr->lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = wr_id,
		.sg_list = &sge,
		.num_sge = 1,
	};
	struct ibv_recv_wr *bad;
	int ret = ibv_post_recv(s->qp, &wr, &bad);

	if (!ret)
		return true;
	return tap_call_failed(ret, "ibv_post_recv(%s, %zu B)", s->name, len);
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
#undef NAME

static const char *wc_status_name(enum ibv_wc_status st)
{
	if ((size_t)st < sizeof(wc_status_names) / sizeof(*wc_status_names) &&
	    wc_status_names[st])
		return wc_status_names[st];
	return "IBV_WC_?";
}

static const char *wc_opcode_name(enum ibv_wc_opcode op)
{
	switch (op) {
	case IBV_WC_SEND:
		return "IBV_WC_SEND";
	case IBV_WC_RDMA_WRITE:
		return "IBV_WC_RDMA_WRITE";
	case IBV_WC_RDMA_READ:
		return "IBV_WC_RDMA_READ";
	case IBV_WC_RECV:
		return "IBV_WC_RECV";
	default:
		return "IBV_WC_(other opcode)";
	}
}

static const char *qp_state_name(enum ibv_qp_state st)
{
	if ((size_t)st < sizeof(qp_state_names) / sizeof(*qp_state_names) &&
	    qp_state_names[st])
		return qp_state_names[st];
	return "IBV_QPS_?";
}

bool odp_expect_completion(struct odp_side *s, uint64_t wr_id,
			   enum ibv_wc_status status, enum ibv_wc_opcode opcode,
			   struct ibv_wc *out)
{
	long deadline = now_ms() + timeout_ms();
	struct ibv_wc wc;
	char what[160];
	int n;

	if (status == IBV_WC_SUCCESS)
		snprintf(what, sizeof(what), "%s completes wr %llu with %s, %s",
			 s->name, (unsigned long long)wr_id,
			 wc_status_name(status), wc_opcode_name(opcode));
	else
		snprintf(what, sizeof(what), "%s completes wr %llu with %s",
			 s->name, (unsigned long long)wr_id,
			 wc_status_name(status));

	while ((n = ibv_poll_cq(s->cq, 1, &wc)) == 0) {
		if (now_ms() > deadline)
			return tap_check(false, what,
					 "no completion within %ld s",
					 timeout_ms() / 1000);
		pause_briefly();
	}
	if (n < 0) {
		return tap_call_failed(-n, "ibv_poll_cq(%s)", s->name);
	}
	if (out)
		*out = wc;
	return tap_check(
		wc.wr_id == wr_id && wc.status == status &&
			(status != IBV_WC_SUCCESS || wc.opcode == opcode),
		what, "got wr %llu with %s (%s), %s, vendor_err %#x",
		(unsigned long long)wc.wr_id, wc_status_name(wc.status),
		ibv_wc_status_str(wc.status), wc_opcode_name(wc.opcode),
		wc.vendor_err);
}

bool odp_expect_qp_state(struct odp_side *s, enum ibv_qp_state state)
{
	long deadline = now_ms() + timeout_ms();
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;
	char what[96];

	snprintf(what, sizeof(what), "%s QP reaches %s", s->name,
		 qp_state_name(state));
	for (;;) {
		int ret = ibv_query_qp(s->qp, &a, IBV_QP_STATE, &init);

		if (ret)
			return tap_call_failed(ret, "ibv_query_qp(%s)",
					       s->name);
		if (a.qp_state == state || now_ms() > deadline)
			break;
		pause_briefly();
	}
	return tap_check(a.qp_state == state, what, "still %s after %ld s",
			 qp_state_name(a.qp_state), timeout_ms() / 1000);
}

bool odp_expect_qp_event_named(struct odp_side *s, enum ibv_event_type type,
			       const char *name)
{
	long deadline = now_ms() + timeout_ms();
	int fd = s->ctx->async_fd;
	struct ibv_async_event ev;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char what[128];
	bool found = false;

	snprintf(what, sizeof(what), "%s reports %s on its QP", s->name, name);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		return tap_call_failed(errno, "fcntl(async_fd, O_NONBLOCK)");

	while (!found) {
		long left = deadline - now_ms();

		if (left <= 0)
			return tap_check(false, what, "none within %ld s",
					 timeout_ms() / 1000);
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return tap_call_failed(errno, "poll(async_fd)");
		if (ibv_get_async_event(s->ctx, &ev)) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return tap_call_failed(errno, "ibv_get_async_event");
		}
		found = ev.event_type == type && ev.element.qp == s->qp;
		if (!found)
			tap_diag("%s: other async event %s (%d)", s->name,
				 ibv_event_type_str(ev.event_type),
				 ev.event_type);
		/* Unacked events would block ibv_destroy_qp() forever. */
		ibv_ack_async_event(&ev);
	}
	return tap_ok(true, what);
}
