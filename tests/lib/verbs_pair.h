/*
 * verbs_pair.h - an RC connection between two Soft-RoCE devices opened by
 * one process: host A's device posts the work requests (the requester),
 * host B's owns the memory under test (the responder), so that traffic
 * crosses the veth pair between the two network namespaces.  Buffers,
 * work requests, completions, QP states and events, and their names.
 *
 * Functions return false (or NULL) on failure and leave the reason in
 * odp_reason() (reason.h).
 */
#ifndef ODP_VERBS_PAIR_H
#define ODP_VERBS_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct odp_side {
	const char *name; /* IB device name, e.g. rxe_a */
	int index; /* ibv_get_device_index(): the kernel's, for rdma netlink */
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_qp_ex *qpx; /* the same QP, for ibv_wr_*() */
	struct ibv_srq *srq; /* NULL unless opened with ODP_PAIR_RESP_SRQ */
	struct ibv_device_attr_ex attr;
	enum ibv_mtu active_mtu;
	uint8_t port;
	uint8_t gid_index; /* RoCE v2, IPv4-mapped */
	union ibv_gid gid;
};

struct odp_pair {
	struct odp_side req; /* host A: posts send queue work */
	struct odp_side resp; /* host B: holds the memory under test */
	enum ibv_mtu path_mtu;
};

/* Remote access an ODP MR under test gets (plus IBV_ACCESS_ON_DEMAND). */
#define ODP_REMOTE_ACCESS                                   \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
	 IBV_ACCESS_REMOTE_READ)

/* What the QPs allow their peer: every operation an MR may then allow. */
#define ODP_QP_ACCESS                                   \
	(ODP_REMOTE_ACCESS | IBV_ACCESS_REMOTE_ATOMIC | \
	 IBV_ACCESS_FLUSH_GLOBAL | IBV_ACCESS_FLUSH_PERSISTENT)

enum odp_open {
	ODP_OPEN_OK,
	/* Cannot run here: the kernel has no such device, or it lacks the ODP
	 * capabilities asked for.  A test skips. */
	ODP_OPEN_ABSENT,
	ODP_OPEN_FAILED,
};

/*
 * Opens the device @name with a PD, no QP; its port 1 must be active with
 * a RoCE v2 IPv4 GID, and the kernel must give its device index.  @rc_odp_caps (IBV_ODP_SUPPORT_*) must all be
 * supported for RC, or the device counts as absent.
 */
enum odp_open odp_side_open(struct odp_side *s, const char *name,
			    uint32_t rc_odp_caps);
/* Closes what is open; false if something failed to close (the first). */
bool odp_side_close(struct odp_side *s);
/* "rxe_a: port 1, active MTU 1024, RoCE v2 GID index 1 (198.18.0.1)" */
const char *odp_side_describe(const struct odp_side *s, char *buf, size_t len);

enum odp_pair_flags {
	/* The responder's QP takes its receive buffers from an SRQ. */
	ODP_PAIR_RESP_SRQ = 1 << 0,
};

/*
 * Opens odp_dev_a() and odp_dev_b() (env.h) and connects an RC QP on each
 * to the other over their RoCE v2 IPv4 GIDs, at the ports' active MTU.
 * The QPs accept ODP_QP_ACCESS and can post every operation of the helpers
 * below; @flags (enum odp_pair_flags) adds to that.
 */
enum odp_open odp_pair_open(struct odp_pair *p, uint32_t rc_odp_caps,
			    unsigned int flags);
bool odp_pair_close(struct odp_pair *p);

/* Where libibverbs was loaded from: ours, not the distribution's. */
const char *odp_libibverbs_path(void);

struct ibv_mr *odp_reg_mr(struct odp_side *s, void *addr, size_t len,
			  int access);
bool odp_dereg_mr(struct ibv_mr *mr);

/* An anonymous private mapping filled with a fresh pattern and registered. */
struct odp_buf {
	uint8_t *addr;
	size_t size;
	uint32_t seed;
	struct ibv_mr *mr;
};

bool odp_buf_alloc(struct odp_buf *b, struct odp_side *s, size_t size,
		   int access);
/*
 * odp_buf_alloc() while the ODP alias switch of @s's device is @aliases:
 * an MR keeps the choice it was registered with, so the switch goes back
 * to what it was right after, whether the registration worked or not.
 */
bool odp_buf_alloc_aliases(struct odp_buf *b, struct odp_side *s, size_t size,
			   int access, bool aliases);
bool odp_buf_free(struct odp_buf *b);

/*
 * Where a transfer of @len bytes starting at @page_off within a page lies
 * in its buffer: a whole page before the range and at least one after, so
 * that stray writes land where they are seen.
 */
struct odp_layout {
	size_t size; /* buffer size, whole pages */
	size_t off; /* start of the range in the buffer */
	size_t len;
};

void odp_layout(struct odp_layout *l, size_t page_off, size_t len);

/*
 * Posts one signaled RDMA WRITE or READ of @len bytes at offset @off of
 * both buffers: @local on p->req, @remote on p->resp.
 */
bool odp_post_rdma(struct odp_pair *p, enum ibv_wr_opcode opcode,
		   const struct odp_buf *local, const struct odp_buf *remote,
		   size_t off, size_t len, uint64_t wr_id);
bool odp_post_send(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id);
/* Into s->srq when the side has one, else into s->qp's receive queue. */
bool odp_post_recv(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id);

/*
 * Posts one signaled IBV_WR_ATOMIC_FETCH_AND_ADD (@compare_add is the
 * addend, @swap unused) or IBV_WR_ATOMIC_CMP_AND_SWP on the 8 bytes at
 * offset @off of @remote; the original value lands at offset @off of
 * @local.
 */
bool odp_post_atomic(struct odp_pair *p, enum ibv_wr_opcode opcode,
		     const struct odp_buf *local, const struct odp_buf *remote,
		     size_t off, uint64_t compare_add, uint64_t swap,
		     uint64_t wr_id);
/* One signaled ATOMIC WRITE of the 8 bytes @value to @remote + @off. */
bool odp_post_atomic_write(struct odp_pair *p, const struct odp_buf *remote,
			   size_t off, const uint8_t value[8], uint64_t wr_id);
/*
 * One signaled FLUSH of [off, off + len) of @remote, placement @type
 * (IBV_FLUSH_GLOBAL, IBV_FLUSH_PERSISTENT) at level IBV_FLUSH_RANGE.
 */
bool odp_post_flush(struct odp_pair *p, const struct odp_buf *remote,
		    size_t off, size_t len, uint8_t type, uint64_t wr_id);

/*
 * ibv_advise_mr(@advice, IBV_ADVISE_MR_FLAG_FLUSH) on [off, off + len) of
 * @b, an MR of @s: returns once the pages are mapped.
 */
bool odp_prefetch(struct odp_side *s, const struct odp_buf *b,
		  enum ibv_advise_mr_advice advice, size_t off, size_t len);

/*
 * $ODP_WC_TIMEOUT_S (default 10 s) times odp_timeout_scale(): how long the
 * waits below wait.
 */
long odp_wait_timeout_ms(void);

/* Waits for one completion on s->cq and stores it in @wc. */
bool odp_poll_completion(struct odp_side *s, struct ibv_wc *wc);
/* The same, busy-polling: what a timed wait needs (no sleep to round up). */
bool odp_spin_completion(struct odp_side *s, struct ibv_wc *wc);

/*
 * Waits for s->qp to reach @state; *@last (may be NULL) gets the state it
 * was in last.
 */
bool odp_wait_qp_state(struct odp_side *s, enum ibv_qp_state state,
		       enum ibv_qp_state *last);

/*
 * Waits for async event @type on s->qp, acknowledging every event it reads
 * (unacked events would block ibv_destroy_qp() forever); other events are
 * noted on stderr.
 */
bool odp_wait_qp_event(struct odp_side *s, enum ibv_event_type type);

const char *odp_wc_status_name(enum ibv_wc_status status);
const char *odp_wc_opcode_name(enum ibv_wc_opcode opcode);
const char *odp_qp_state_name(enum ibv_qp_state state);
const char *odp_wr_opcode_name(enum ibv_wr_opcode opcode);

#endif /* ODP_VERBS_PAIR_H */
