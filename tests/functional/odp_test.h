/*
 * odp_test.h - helpers shared by the functional tests: TAP output, data
 * patterns, and an RC connection between two Soft-RoCE devices opened by
 * one process (ODP_DEV_A posts the work requests, ODP_DEV_B owns the memory
 * under test), so that traffic crosses the veth pair between the namespaces.
 */
#ifndef ODP_TEST_H
#define ODP_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#define ODP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Exit statuses; CMake registers 77 as SKIP_RETURN_CODE. */
enum {
	ODP_EXIT_PASS = 0,
	ODP_EXIT_FAIL = 1,
	ODP_EXIT_SKIP = 77
};

/* ---- TAP: one line per check, "ok N - what" / "not ok N - what: why" ---- */

void tap_start(const char *test_name);
/* Prefix for the descriptions of the checks that follow; NULL clears it. */
void tap_case(const char *fmt, ...) ODP_PRINTF(1, 2);
bool tap_ok(bool pass, const char *what);
/* Like tap_ok(), and on failure appends the formatted reason. */
bool tap_check(bool pass, const char *what, const char *fmt, ...)
	ODP_PRINTF(3, 4);
bool tap_expect_int(const char *what, long long expected, long long got);
bool tap_expect_errno(const char *what, int expected, int got);
/* Records a failed call: "not ok N - <call>: errno NAME (N, text)". */
bool tap_call_failed(int err, const char *fmt, ...) ODP_PRINTF(2, 3);
void tap_skip(const char *what, const char *reason);
void tap_diag(const char *fmt, ...) ODP_PRINTF(1, 2);
/*
 * Skips the whole test (exit 77). Allowed only before the first check, and
 * turned into a failure when ODP_NO_SKIP=1, so that a VM that lost a device
 * cannot pass by skipping.
 */
_Noreturn void tap_skip_all(const char *fmt, ...) ODP_PRINTF(1, 2);
/* Prints the plan and returns the exit status: 0 iff every check passed. */
int tap_finish(void);
const char *errno_name(int err);

/* ---- environment ---- */

const char *odp_env(const char *name, const char *fallback);
long odp_env_long(const char *name, long fallback);

/* ---- buffers and patterns ---- */

size_t odp_page_size(void);
size_t odp_round_up(size_t n, size_t align);

/*
 * A new seed for a buffer's pattern. Consecutive seeds differ in every
 * byte, so two buffers filled one after the other differ at every index.
 */
uint32_t odp_seed(void);
/*
 * Byte @index of the pattern @seed: little-endian bytes of the words
 * seed ^ h(i), i = index / 4, h(i) = x ^ (x >> 16) with x = i * 2654435761.
 * h is a bijection, so every word of a buffer differs and a misplaced
 * packet or page never matches by accident, as with a periodic pattern.
 * (The xor-shift keeps the low byte from repeating every 256 words, i.e.
 * every 1 KiB MTU packet, as i * 2654435761 alone would.)
 */
uint8_t odp_pattern_byte(uint32_t seed, size_t index);
void odp_fill(void *buf, size_t len, uint32_t seed);
/*
 * Checks that buf[from, to) holds the pattern @seed at the same indices;
 * on failure reports how many bytes differ and the first difference.
 */
bool odp_expect_pattern(const char *what, const void *buf, size_t from,
			size_t to, uint32_t seed);
/*
 * The bytes [off, off + len) of the size-byte buffer hold pattern @seed
 * (@who names the buffer: "target", "local") and the bytes around them
 * still hold the buffer's own pattern @own: three checks.
 */
void odp_expect_placed(const char *who, const void *buf, size_t size,
		       size_t off, size_t len, uint32_t seed, uint32_t own);

/* ---- verbs ---- */

struct odp_side {
	const char *name; /* IB device name, e.g. rxe_a */
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct ibv_device_attr_ex attr;
	enum ibv_mtu active_mtu;
	uint8_t port;
	uint8_t gid_index; /* RoCE v2, IPv4-mapped */
	union ibv_gid gid;
};

struct odp_pair {
	struct odp_side req; /* ODP_DEV_A: posts send queue work */
	struct odp_side resp; /* ODP_DEV_B: holds the memory under test */
	enum ibv_mtu path_mtu;
};

/* Remote access an ODP MR under test gets (plus IBV_ACCESS_ON_DEMAND). */
#define ODP_REMOTE_ACCESS                                   \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
	 IBV_ACCESS_REMOTE_READ)

/*
 * Opens the device named by $env (default @fallback) with a PD, no QP.
 * Skips the test when the kernel has no such device, or when
 * @rc_odp_caps (IBV_ODP_SUPPORT_*) are not all supported for RC.
 */
bool odp_side_open(struct odp_side *s, const char *env, const char *fallback,
		   uint32_t rc_odp_caps);
void odp_side_close(struct odp_side *s);

/*
 * Opens ODP_DEV_A and ODP_DEV_B and connects an RC QP on each to the
 * other over their RoCE v2 IPv4 GIDs, at the ports' active MTU.
 */
bool odp_pair_open(struct odp_pair *p, uint32_t rc_odp_caps);
void odp_pair_close(struct odp_pair *p);

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
void odp_buf_free(struct odp_buf *b);

/*
 * One transfer case: @len bytes starting at @page_off within a page. The
 * buffer around it (struct odp_layout) has a whole page before the range
 * and at least one after, so that stray writes land where they are seen.
 */
struct odp_xfer_case {
	size_t len;
	size_t page_off;
};

struct odp_layout {
	size_t size; /* buffer size, whole pages */
	size_t off; /* start of the range in the buffer */
	size_t len;
};

void odp_layout(struct odp_layout *l, const struct odp_xfer_case *c);

/*
 * The sizes every data test covers: 1 byte (not at page offset 0), one
 * page, several pages starting mid-page, and 1 MiB. With a 1024-byte path
 * MTU, every case but the first carries a page in several packets.
 */
extern const struct odp_xfer_case odp_xfer_cases[];
extern const size_t odp_n_xfer_cases;

/*
 * The body of the RC data tests: opens the pair (skipping without the
 * @rc_odp_caps), then runs @run_case for every odp_xfer_cases entry, first
 * with a pinned local MR, then with an ODP one, stopping at the first case
 * whose transfer failed (that breaks the QP).  Returns the exit status.
 */
typedef bool odp_xfer_case_fn(struct odp_pair *p, const struct odp_xfer_case *c,
			      bool local_odp, uint64_t wr_id);
int odp_run_xfer_cases(const char *test, uint32_t rc_odp_caps,
		       odp_xfer_case_fn *run_case);

/*
 * Posts one signaled RDMA WRITE or READ of @len bytes at offset @off of
 * both buffers: @local on p->req, @remote on p->resp.
 */
bool odp_post_rdma(struct odp_pair *p, enum ibv_wr_opcode opcode,
		   const struct odp_buf *local, const struct odp_buf *remote,
		   size_t off, size_t len, uint64_t wr_id);
bool odp_post_send(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id);
bool odp_post_recv(struct odp_side *s, const struct odp_buf *b, size_t off,
		   size_t len, uint64_t wr_id);

/*
 * Waits (ODP_WC_TIMEOUT_S, default 10 s) for one completion on s->cq and
 * checks its wr_id, status and, for successful ones, opcode. One check.
 * @wc (may be NULL) receives the completion.
 */
bool odp_expect_completion(struct odp_side *s, uint64_t wr_id,
			   enum ibv_wc_status status, enum ibv_wc_opcode opcode,
			   struct ibv_wc *wc);

/* Waits up to the completion timeout for s->qp to reach @state. One check. */
bool odp_expect_qp_state(struct odp_side *s, enum ibv_qp_state state);

/* Waits up to the completion timeout for async event @type on s->qp. */
#define odp_expect_qp_event(s, type) odp_expect_qp_event_named(s, type, #type)
bool odp_expect_qp_event_named(struct odp_side *s, enum ibv_event_type type,
			       const char *name);

#endif /* ODP_TEST_H */
