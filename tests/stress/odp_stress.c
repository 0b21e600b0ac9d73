/*
 * odp_stress - several processes move data through ODP MRs over test_hmm
 * device memory, on both hosts, while other threads churn those pages, and
 * every byte that should have arrived is checked.
 *
 * Each worker is a process with an RC connection between the two rxe
 * devices: even workers post from host A into an MR of host B, odd ones
 * from B into A.  The responder's MR covers an anonymous buffer: page 0
 * holds 8-byte atomic slots, the other pages data.  In each worker:
 *
 *   traffic (main thread): RDMA WRITEs and SENDs of a fresh pattern (a new
 *     seed each round, so no byte of an earlier round matches) into ranges
 *     that start and end mid-page, read back through the NIC with a page
 *     more on each side; batches of FETCH_AND_ADD and CMP_AND_SWP (some
 *     meant to fail) whose returned values must be exactly what the
 *     worker's model of the slots says; now and then the CPU's view of the
 *     whole buffer; and re-registrations of the MR, registering the new MR
 *     before deregistering the old, with the device's ODP alias switch set
 *     at random first.
 *   mover: migrates random ranges to test_hmm's device and back, 0.1 to
 *     2.1 ms apart (the chaos thread's pauses are 2 to 15 ms; both times
 *     ODP_TIMEOUT_SCALE, see pace).
 *   chaos: MADV_DONTNEED on random data pages, replaces them with fresh
 *     memory (mmap MAP_FIXED), and forks children that read the data
 *     pages twice, 2-10 ms apart, and fail if they differ: a write of the
 *     parent's NIC must never reach a page the child shares copy-on-write.
 *
 * The worker keeps a model of the buffer: the bytes each round wrote, and
 * zeros where a disruption (MADV_DONTNEED, replacement) completed between
 * rounds.  A page that a disruption overlapped during a round may hold
 * this round's bytes or zeros, nothing else, and is unknown afterwards;
 * every other byte read back must be exactly the model's.  Migrations
 * and forks never change what the parent reads.
 *
 * The parent kills a random worker every --kill-ms on average (SIGKILL,
 * mid-transfer) and starts it again.  At the end every worker checks the
 * whole buffer through the CPU and exits; the parent then checks that
 * test_hmm's device memory is all released (HMM_DMIRROR_COUNTERS'
 * pages_in_use back to where it was), restores the alias switches and
 * prints the totals.  Output: TAP, one result per check, progress as
 * comments.  Exit 0 (pass), 1 (fail), 2 (usage), 4 (skip: no rxe or
 * test_hmm, e.g. on the host).
 *
 * A seed (--seed, else $ODP_SEED, else the time) repeats the choices of
 * every worker (ranges, operations, disruptions, kills), not the
 * interleaving of its threads.
 */
#include "dmirror.h"
#include "env.h"
#include "pattern.h"
#include "rdma_nl.h"
#include "reason.h"
#include "timing.h"
#include "verbs_pair.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 32
#define MAX_PAGES 1024
/* 8-byte atomic slots on page 0 */
#define ATOM_SLOTS 64
/* Disruptions a round remembers; more during one round: all pages raced */
#define RING 64
/* The longest range a WRITE or SEND covers, in pages */
#define MAX_XFER_PAGES 6
/*
 * How long the parent waits for a worker to finish after the stop (times
 * odp_timeout_scale())
 */
#define STOP_WAIT_MS (120 * 1000.0)

/* One worker's totals, in memory shared with the parent: they survive a
 * kill, and the worker started again adds to them. */
struct stats {
	atomic_ulong rounds, writes, sends, atomics, failed_cas, reads;
	atomic_ulong bytes_verified, raced_pages, cpu_checks;
	atomic_ulong to_dev, to_sys, contended;
	atomic_ulong dontneeds, remaps, forks, reregs, flips, starts;
	atomic_int failed;
	char msg[512];
};

struct shared {
	atomic_bool stop;
	struct stats w[MAX_WORKERS];
};

struct opts {
	unsigned long duration_s, workers, pages, kill_ms;
	uint32_t seed;
};

static struct shared *shm;

/* A disrupted range of pages, [first, last], in one word: read whole */
static unsigned long span_pack(size_t first, size_t last)
{
	return (unsigned long)first << 32 | last;
}

struct worker {
	int id;
	struct stats *st;
	struct odp_pair pair;
	int dmirror;
	size_t page, npages, size;
	struct odp_buf dev; /* the MR under test, on the responder */
	int access; /* dev's */
	struct odp_buf src, back; /* on the requester */
	uint8_t *shadow, *known, *view; /* the model of dev, the CPU's view */
	bool *raced;
	uint64_t atom[ATOM_SLOTS];
	unsigned int rng;
	uint64_t wr_id;

	pthread_t mover, chaos;
	unsigned int mover_seed, chaos_seed; /* set before they start */
	atomic_bool stop_threads;
	/* Disruptions begun and done (chaos is one thread: in order) */
	atomic_ulong begun, done;
	atomic_ulong ring[RING]; /* span_pack() of disruption g at g % RING */
	unsigned long seen; /* disruptions up to here are in the model */
};

static void worker_fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void worker_fail(struct worker *w, const char *fmt, ...)
{
	int expected = 0;

	/* The first failure of a worker is the one reported */
	if (atomic_compare_exchange_strong(&w->st->failed, &expected, 1)) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(w->st->msg, sizeof(w->st->msg), fmt, ap);
		va_end(ap);
		fprintf(stderr, "worker %d: %s\n", w->id, w->st->msg);
		_exit(ODP_EXIT_FAIL);
	}
	/* Another thread's failure is being written: its _exit() ends us */
	for (;;)
		pause();
}

/*
 * The mover's and chaos thread's pauses, times ODP_TIMEOUT_SCALE: on a
 * kernel that runs ten times slower (KASAN under TCG) a NIC fault takes ten
 * times longer, but the kernel still gives it up after the same second
 * (HMM_RANGE_DEFAULT_TIMEOUT) if migrations keep invalidating its range,
 * and the RDMA operation fails (IBV_WC_REM_ACCESS_ERR).  Set by main().
 */
static unsigned long pace = 1;

static void sleep_us(unsigned long us)
{
	struct timespec ts = { .tv_sec = us / 1000000,
			       .tv_nsec = (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* --- mover --------------------------------------------------------------- */

static void *mover_run(void *arg)
{
	struct worker *w = arg;
	unsigned int state = w->mover_seed;
	void *bounce = malloc(w->size);
	uint64_t cpages;
	int err = 0;

	if (!bounce)
		worker_fail(w, "mover: out of memory");
	while (!atomic_load(&w->stop_threads)) {
		size_t first = odp_rnd(&state, (unsigned int)w->npages);
		size_t n =
			1 + odp_rnd(&state, (unsigned int)(w->npages - first));
		uint8_t *addr = w->dev.addr + first * w->page;

		err = dmirror_cmd(w->dmirror, HMM_DMIRROR_MIGRATE_TO_DEV, addr,
				  n, bounce, &cpages);
		/*
		 * Contention: MIGRATE_TO_DEV reads the range back through its
		 * mirror, which fails with ENOENT for a page that a NIC fault
		 * or the CPU moved back to RAM in between.
		 */
		if (err == ENOENT) {
			atomic_fetch_add(&w->st->contended, 1);
			err = 0;
		} else if (err) {
			break;
		} else {
			atomic_fetch_add(&w->st->to_dev, cpages);
		}
		if (odp_rnd(&state, 2)) {
			err = dmirror_cmd(w->dmirror,
					  HMM_DMIRROR_MIGRATE_TO_SYS, addr, n,
					  NULL, &cpages);
			if (err)
				break;
			atomic_fetch_add(&w->st->to_sys, cpages);
		}
		/* Let the NIC's faults win now and then */
		sleep_us((100 + odp_rnd(&state, 2000)) * pace);
	}
	if (err)
		worker_fail(w, "mover: migrating pages: %s", strerror(err));
	free(bounce);
	return NULL;
}

/* --- chaos --------------------------------------------------------------- */

/* In the child of a fork: only async-signal-safe calls. */
static _Noreturn void fork_child(struct worker *w, uint8_t *a, uint8_t *b,
				 unsigned long delay_us)
{
	size_t len = w->size - w->page;

	memcpy(a, w->dev.addr + w->page, len);
	sleep_us(delay_us);
	memcpy(b, w->dev.addr + w->page, len);
	_exit(memcmp(a, b, len) ? 3 : 0);
}

static void *chaos_run(void *arg)
{
	struct worker *w = arg;
	unsigned int state = w->chaos_seed;
	size_t data_pages = w->npages - 1;
	uint8_t *a = malloc(w->size), *b = malloc(w->size);
	unsigned long gen = 0;

	if (!a || !b)
		worker_fail(w, "chaos: out of memory");
	while (!atomic_load(&w->stop_threads)) {
		unsigned int what = odp_rnd(&state, 10);
		size_t first = 1 + odp_rnd(&state, (unsigned int)data_pages);
		size_t n = 1 + odp_rnd(&state, 4);
		uint8_t *addr;
		size_t len;

		if (first + n > w->npages)
			n = w->npages - first;
		addr = w->dev.addr + first * w->page;
		len = n * w->page;
		if (what < 7) {
			/* The range first, then the number that publishes it */
			++gen;
			atomic_store(&w->ring[gen % RING],
				     span_pack(first, first + n - 1));
			atomic_store(&w->begun, gen);
			if (what < 4) {
				if (madvise(addr, len, MADV_DONTNEED))
					worker_fail(w, "madvise(DONTNEED): %s",
						    strerror(errno));
				atomic_fetch_add(&w->st->dontneeds, 1);
			} else {
				if (mmap(addr, len, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS |
						 MAP_FIXED,
					 -1, 0) != addr)
					worker_fail(w, "mmap(MAP_FIXED): %s",
						    strerror(errno));
				atomic_fetch_add(&w->st->remaps, 1);
			}
			atomic_store(&w->done, gen);
		} else {
			unsigned long delay = 2000 + odp_rnd(&state, 8000);
			pid_t pid = fork();
			int status;

			if (pid < 0)
				worker_fail(w, "fork: %s", strerror(errno));
			if (!pid)
				fork_child(w, a, b, delay);
			if (waitpid(pid, &status, 0) != pid)
				worker_fail(w, "waitpid: %s", strerror(errno));
			if (WIFSIGNALED(status))
				worker_fail(
					w,
					"fork: the child reading the buffer died of signal %d",
					WTERMSIG(status));
			if (WEXITSTATUS(status))
				worker_fail(
					w,
					"fork: the child's copy of the buffer changed while it read it: the NIC wrote to a page shared copy-on-write");
			atomic_fetch_add(&w->st->forks, 1);
		}
		sleep_us((2000 + odp_rnd(&state, 13000)) * pace);
	}
	free(a);
	free(b);
	return NULL;
}

/* --- the model ------------------------------------------------------------ */

enum mark {
	ZEROS,
	UNKNOWN,
	RACED
};

/* Pages [first, last] of the model are zeros, unknown, or raced (unknown) */
static void mark_pages(struct worker *w, size_t first, size_t last,
		       enum mark how)
{
	size_t from, len;

	if (first > last || last >= w->npages)
		worker_fail(w, "disruption ring: pages %zu-%zu of %zu", first,
			    last, w->npages);
	from = first * w->page;
	len = (last - first + 1) * w->page;
	if (how == ZEROS) {
		memset(w->shadow + from, 0, len);
		memset(w->known + from, 1, len);
		return;
	}
	memset(w->known + from, 0, len);
	if (how == RACED)
		memset(w->raced + first, 1, last - first + 1);
}

/*
 * Marks disruptions (@from, @to] from the ring; when the ring no longer
 * holds them all (more than RING of them, or the chaos thread lapped the
 * ring while they were read), every data page is unknown, or raced.
 */
static void mark_disruptions(struct worker *w, unsigned long from,
			     unsigned long to, enum mark how)
{
	if (to <= from)
		return;
	if (to - from < RING) {
		for (unsigned long g = from + 1; g <= to; g++) {
			unsigned long sp = atomic_load(&w->ring[g % RING]);

			mark_pages(w, sp >> 32, sp & 0xffffffffUL, how);
		}
		/* The oldest read is overwritten once gen from + 1 + RING is */
		if (atomic_load(&w->begun) + 1 < from + 1 + RING)
			return;
	}
	mark_pages(w, 1, w->npages - 1, how == ZEROS ? UNKNOWN : how);
}

/*
 * Before a round: disruptions that completed since the model last looked
 * left zeros.  Returns the count done, for round_end(): the disruptions
 * after it overlap the round.
 */
static unsigned long round_begin(struct worker *w)
{
	unsigned long d = atomic_load(&w->done);

	memset(w->raced, 0, w->npages);
	/* Those up to w->seen are unknown already: one overlapped a round */
	if (d > w->seen) {
		mark_disruptions(w, w->seen, d, ZEROS);
		w->seen = d;
	}
	return d;
}

/*
 * After a round: disruptions that began before its end and were not done
 * at its start overlapped it: their pages are raced, and unknown since.
 */
static void round_end(struct worker *w, unsigned long done)
{
	unsigned long b = atomic_load(&w->begun);

	mark_disruptions(w, done, b, RACED);
	if (b > w->seen)
		w->seen = b;
}

/*
 * Checks buf[from, to), the dev buffer's bytes as read back; [off, off +
 * len) was written with pattern @seed this round (len 0: nothing was).
 * Updates the model.
 */
static void check_window(struct worker *w, const uint8_t *buf, size_t from,
			 size_t to, size_t off, size_t len, uint32_t seed,
			 const char *what, unsigned long round)
{
	size_t i, end = off + len, verified = 0, raced = 0;

	for (i = from; i < to; i++) {
		size_t pg = i / w->page;
		bool in = i >= off && i < end;
		uint8_t want = in ? odp_pattern_byte(seed, i) : w->shadow[i];

		if (w->raced[pg]) {
			if (in && buf[i] && buf[i] != want)
				worker_fail(
					w,
					"round %lu (%s): byte %zu (page %zu + %zu), on a page a disruption overlapped, is 0x%02x: neither this round's 0x%02x nor 0",
					round, what, i, pg, i % w->page, buf[i],
					want);
			verified += in;
			continue;
		}
		if (in) {
			w->shadow[i] = want;
			w->known[i] = 1;
		} else if (!w->known[i]) {
			continue;
		}
		if (buf[i] != want) {
			size_t n = 0, j;

			for (j = i; j < to; j++)
				n += (j >= off && j < end ?
					      odp_pattern_byte(seed, j) :
					      w->shadow[j]) != buf[j] &&
				     !w->raced[j / w->page] &&
				     (w->known[j] || (j >= off && j < end));
			worker_fail(
				w,
				"round %lu (%s): byte %zu (page %zu + %zu) is 0x%02x, expected 0x%02x (%s), %zu such bytes in [%zu, %zu); range written [%zu, %zu)",
				round, what, i, pg, i % w->page, buf[i], want,
				in ? "this round's" : "an earlier round's or 0",
				n, i, to, off, end);
		}
		verified++;
	}
	for (i = from / w->page; i * w->page < to; i++)
		raced += w->raced[i];
	atomic_fetch_add(&w->st->bytes_verified, verified);
	atomic_fetch_add(&w->st->raced_pages, raced);
}

/* --- traffic -------------------------------------------------------------- */

static void wait_wc(struct worker *w, struct odp_side *s, uint64_t wr_id,
		    enum ibv_wc_opcode opcode, unsigned long round)
{
	struct ibv_wc wc;

	if (!odp_poll_completion(s, &wc))
		worker_fail(w, "round %lu: %s", round, odp_reason());
	if (wc.wr_id != wr_id || wc.status != IBV_WC_SUCCESS ||
	    wc.opcode != opcode)
		worker_fail(
			w,
			"round %lu: %s: expected wr %llu %s to succeed, got wr %llu with %s, %s, vendor_err %#x (QP %#x, pid %d)",
			round, s->name, (unsigned long long)wr_id,
			odp_wc_opcode_name(opcode),
			(unsigned long long)wc.wr_id,
			odp_wc_status_name(wc.status),
			odp_wc_opcode_name(wc.opcode), wc.vendor_err,
			s->qp->qp_num, (int)getpid());
}

/* A WRITE or SEND of a fresh pattern, read back with a page each side. */
static void xfer_round(struct worker *w, bool send, unsigned long round)
{
	struct odp_pair *p = &w->pair;
	size_t data = w->size - w->page, off, len, end, from, to;
	unsigned long done;
	uint32_t seed = odp_seed();
	uint64_t id;

	off = w->page + odp_rnd(&w->rng, (unsigned int)data - 1);
	len = 1 + odp_rnd(&w->rng, (unsigned int)(MAX_XFER_PAGES * w->page));
	if (len > w->size - off)
		len = w->size - off;
	end = off + len;
	from = off / w->page * w->page;
	from = from > w->page ? from - w->page : w->page;
	to = odp_round_up(end, w->page) + w->page;
	if (to > w->size)
		to = w->size;
	odp_fill(w->src.addr, w->size, seed);
	memset(w->back.addr, 0, w->size);

	done = round_begin(w);
	id = ++w->wr_id;
	if (send) {
		if (!odp_post_recv(&p->resp, &w->dev, off, len, id) ||
		    !odp_post_send(&p->req, &w->src, off, len, id))
			worker_fail(w, "round %lu: %s", round, odp_reason());
		wait_wc(w, &p->req, id, IBV_WC_SEND, round);
		wait_wc(w, &p->resp, id, IBV_WC_RECV, round);
		atomic_fetch_add(&w->st->sends, 1);
	} else {
		if (!odp_post_rdma(p, IBV_WR_RDMA_WRITE, &w->src, &w->dev, off,
				   len, id))
			worker_fail(w, "round %lu: %s", round, odp_reason());
		wait_wc(w, &p->req, id, IBV_WC_RDMA_WRITE, round);
		atomic_fetch_add(&w->st->writes, 1);
	}
	id = ++w->wr_id;
	if (!odp_post_rdma(p, IBV_WR_RDMA_READ, &w->back, &w->dev, from,
			   to - from, id))
		worker_fail(w, "round %lu: %s", round, odp_reason());
	wait_wc(w, &p->req, id, IBV_WC_RDMA_READ, round);
	atomic_fetch_add(&w->st->reads, 1);
	round_end(w, done);
	check_window(w, w->back.addr, from, to, off, len, seed,
		     send ? "SEND, read back" : "WRITE, read back", round);
}

/* FETCH_AND_ADD and CMP_AND_SWP on page 0, which no disruption touches. */
static void atomic_round(struct worker *w, unsigned long round)
{
	unsigned int i, n = 1 + odp_rnd(&w->rng, 8);

	for (i = 0; i < n; i++) {
		unsigned int slot = odp_rnd(&w->rng, ATOM_SLOTS);
		size_t off = slot * sizeof(uint64_t);
		bool cas = odp_rnd(&w->rng, 2),
		     miss = cas && !odp_rnd(&w->rng, 4);
		uint64_t arg = odp_rnd64(&w->rng), swap = odp_rnd64(&w->rng),
			 got;
		uint64_t id = ++w->wr_id;

		if (cas)
			arg = miss ? ~w->atom[slot] : w->atom[slot];
		memset(w->back.addr + off, 0, sizeof(got));
		if (!odp_post_atomic(&w->pair,
				     cas ? IBV_WR_ATOMIC_CMP_AND_SWP :
					   IBV_WR_ATOMIC_FETCH_AND_ADD,
				     &w->back, &w->dev, off, arg, swap, id))
			worker_fail(w, "round %lu: %s", round, odp_reason());
		wait_wc(w, &w->pair.req, id,
			cas ? IBV_WC_COMP_SWAP : IBV_WC_FETCH_ADD, round);
		memcpy(&got, w->back.addr + off, sizeof(got));
		if (got != w->atom[slot])
			worker_fail(
				w,
				"round %lu: %s on slot %u returned %#llx, but the slot held %#llx",
				round, cas ? "CMP_AND_SWP" : "FETCH_AND_ADD",
				slot, (unsigned long long)got,
				(unsigned long long)w->atom[slot]);
		if (!cas)
			w->atom[slot] += arg;
		else if (!miss)
			w->atom[slot] = swap;
		else
			atomic_fetch_add(&w->st->failed_cas, 1);
		atomic_fetch_add(&w->st->atomics, 1);
		atomic_fetch_add(&w->st->bytes_verified, sizeof(got));
	}
}

/* The CPU's view of the whole buffer against the model. */
static void cpu_round(struct worker *w, unsigned long round)
{
	unsigned long done;
	unsigned int slot;

	done = round_begin(w);
	memcpy(w->view, w->dev.addr, w->size);
	round_end(w, done);
	check_window(w, w->view, w->page, w->size, 0, 0, 0, "the CPU's view",
		     round);
	for (slot = 0; slot < ATOM_SLOTS; slot++) {
		uint64_t v;

		memcpy(&v, w->view + slot * sizeof(v), sizeof(v));
		if (v != w->atom[slot])
			worker_fail(
				w,
				"round %lu: the CPU finds %#llx in atomic slot %u, the NIC's operations left %#llx",
				round, (unsigned long long)v, slot,
				(unsigned long long)w->atom[slot]);
	}
	atomic_fetch_add(&w->st->cpu_checks, 1);
}

/*
 * A new MR over the same buffer, registered with the alias switch set at
 * random, before the old one goes: both cover the range for a while.
 */
static void rereg_round(struct worker *w, unsigned long round)
{
	struct odp_side *s = &w->pair.resp;
	bool was = true, on = odp_rnd(&w->rng, 2);
	struct ibv_mr *mr;
	int err;

	err = rdma_nl_get_odp_alias((uint32_t)s->index, &was);
	if (!err)
		err = rdma_nl_set_odp_alias((uint32_t)s->index, on);
	if (err)
		worker_fail(w, "round %lu: the ODP alias switch of %s: %s",
			    round, s->name, odp_reason());
	if (was != on)
		atomic_fetch_add(&w->st->flips, 1);
	mr = odp_reg_mr(s, w->dev.addr, w->size, w->access);
	if (!mr || !odp_dereg_mr(w->dev.mr))
		worker_fail(w, "round %lu: re-registering the MR: %s", round,
			    odp_reason());
	w->dev.mr = mr;
	atomic_fetch_add(&w->st->reregs, 1);
}

static void worker_setup(struct worker *w, const struct opts *o)
{
	uint32_t caps = IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ |
			IBV_ODP_SUPPORT_SEND | IBV_ODP_SUPPORT_RECV |
			IBV_ODP_SUPPORT_ATOMIC;
	unsigned int slot;
	int err;

	w->access = ODP_REMOTE_ACCESS | IBV_ACCESS_REMOTE_ATOMIC |
		    IBV_ACCESS_ON_DEMAND;
	w->page = odp_page_size();
	w->npages = o->pages;
	w->size = w->npages * w->page;
	if (odp_pair_open(&w->pair, caps, 0) != ODP_OPEN_OK)
		worker_fail(w, "opening %s and %s: %s", odp_dev_a(),
			    odp_dev_b(), odp_reason());
	err = dmirror_open(odp_dmirror_path());
	if (err < 0)
		worker_fail(w, "%s: %s", odp_dmirror_path(), strerror(-err));
	w->dmirror = err;
	if (!odp_buf_alloc(&w->dev, &w->pair.resp, w->size, w->access) ||
	    !odp_buf_alloc(&w->src, &w->pair.req, w->size,
			   IBV_ACCESS_LOCAL_WRITE) ||
	    !odp_buf_alloc(&w->back, &w->pair.req, w->size,
			   IBV_ACCESS_LOCAL_WRITE))
		worker_fail(w, "buffers: %s", odp_reason());
	w->shadow = malloc(w->size);
	w->known = malloc(w->size);
	w->view = malloc(w->size);
	w->raced = malloc(w->npages);
	if (!w->shadow || !w->known || !w->view || !w->raced)
		worker_fail(w, "out of memory");
	memcpy(w->shadow, w->dev.addr, w->size);
	memset(w->known, 1, w->size);
	for (slot = 0; slot < ATOM_SLOTS; slot++)
		memcpy(&w->atom[slot], w->dev.addr + slot * sizeof(uint64_t),
		       sizeof(uint64_t));
}

static _Noreturn void worker_main(int id, const struct opts *o,
				  unsigned int start)
{
	struct worker *w = calloc(1, sizeof(*w));
	unsigned long round = 0;
	int err;

	if (!w)
		_exit(ODP_EXIT_FAIL);
	w->id = id;
	w->st = &shm->w[id];
	w->dmirror = -1;
	/* A seed per worker and start: kills and restarts repeat too */
	w->rng = o->seed ^ (uint32_t)(id * 0x9e3779b1u) ^
		 (uint32_t)(start * 0x85ebca6bu);
	odp_seed_start(w->rng);
	if (id % 2) {
		/* Odd workers post from host B into host A */
		char a[64], b[64];

		snprintf(a, sizeof(a), "%s", odp_dev_a());
		snprintf(b, sizeof(b), "%s", odp_dev_b());
		setenv("ODP_DEV_A", b, 1);
		setenv("ODP_DEV_B", a, 1);
	}
	worker_setup(w, o);
	atomic_fetch_add(&w->st->starts, 1);
	w->mover_seed = w->rng ^ 0x6d6f7665;
	w->chaos_seed = w->rng ^ 0x63686173;
	err = pthread_create(&w->mover, NULL, mover_run, w);
	if (!err)
		err = pthread_create(&w->chaos, NULL, chaos_run, w);
	if (err)
		worker_fail(w, "pthread_create: %s", strerror(err));

	while (!atomic_load(&shm->stop)) {
		unsigned int what = odp_rnd(&w->rng, 100);

		round++;
		if (what < 40)
			xfer_round(w, false, round);
		else if (what < 70)
			xfer_round(w, true, round);
		else if (what < 90)
			atomic_round(w, round);
		else if (what < 95)
			cpu_round(w, round);
		else
			rereg_round(w, round);
		atomic_fetch_add(&w->st->rounds, 1);
	}

	atomic_store(&w->stop_threads, true);
	pthread_join(w->mover, NULL);
	pthread_join(w->chaos, NULL);
	/* Every disruption is done: the CPU sees the whole model */
	cpu_round(w, ++round);
	if (!odp_buf_free(&w->back) || !odp_buf_free(&w->src) ||
	    !odp_buf_free(&w->dev) || !dmirror_close(w->dmirror) ||
	    !odp_pair_close(&w->pair))
		worker_fail(w, "closing: %s", odp_reason());
	_exit(ODP_EXIT_PASS);
}

/* --- the parent ------------------------------------------------------------ */

static pid_t spawn(int id, const struct opts *o)
{
	unsigned int start = (unsigned int)atomic_load(&shm->w[id].starts);
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid)
		worker_main(id, o, start);
	return pid;
}

static unsigned long total(size_t field)
{
	unsigned long sum = 0;
	int i;

	for (i = 0; i < MAX_WORKERS; i++)
		sum += atomic_load(
			(atomic_ulong *)((char *)&shm->w[i] + field));
	return sum;
}

#define TOTAL(f) total(offsetof(struct stats, f))

static void print_totals(const char *prefix, double elapsed_ms,
			 unsigned long kills)
{
	printf("%s%.0f s: %lu rounds (%lu WRITE, %lu SEND, %lu READ, %lu atomic of which %lu CAS missed on purpose, %lu CPU checks, %lu re-registrations with %lu switch flips), %.1f MiB verified (%lu pages raced a disruption); pages migrated %lu to the device and %lu back (%lu contended); %lu MADV_DONTNEED, %lu replacements, %lu forks, %lu kills\n",
	       prefix, elapsed_ms / 1000, TOTAL(rounds), TOTAL(writes),
	       TOTAL(sends), TOTAL(reads), TOTAL(atomics), TOTAL(failed_cas),
	       TOTAL(cpu_checks), TOTAL(reregs), TOTAL(flips),
	       TOTAL(bytes_verified) / 1048576.0, TOTAL(raced_pages),
	       TOTAL(to_dev), TOTAL(to_sys), TOTAL(contended), TOTAL(dontneeds),
	       TOTAL(remaps), TOTAL(forks), kills);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: odp_stress [--duration S] [--workers N] [--pages N] [--kill-ms MS] [--seed X]\n"
		"  --duration S   seconds of traffic (default 60)\n"
		"  --workers N    worker processes, half on each host (1-%d, default 4)\n"
		"  --pages N      pages of each worker's MR (8-%d, default 32)\n"
		"  --kill-ms MS   kill a worker every MS ms on average, 0: never (default 3000)\n"
		"  --seed X       repeat a run's choices (default $ODP_SEED, else the time)\n",
		MAX_WORKERS, MAX_PAGES);
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "pages", required_argument, NULL, 'p' },
		{ "kill-ms", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c, idx = 0;

	o->duration_s = 60;
	o->workers = 4;
	o->pages = 32;
	o->kill_ms = 3000;
	o->seed = odp_seed_from_env();
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case 'd':
			if (!odp_parse_ulong(optarg, 1, 7 * 86400,
					     &o->duration_s))
				goto bad;
			break;
		case 'w':
			if (!odp_parse_ulong(optarg, 1, MAX_WORKERS,
					     &o->workers))
				goto bad;
			break;
		case 'p':
			if (!odp_parse_ulong(optarg, 8, MAX_PAGES, &o->pages))
				goto bad;
			break;
		case 'k':
			if (!odp_parse_ulong(optarg, 0, 86400000, &o->kill_ms))
				goto bad;
			break;
		case 's':
			if (!odp_parse_ulong(optarg, 0, UINT32_MAX, &v))
				goto bad;
			o->seed = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			exit(ODP_EXIT_PASS);
		default:
			usage(stderr);
			exit(ODP_EXIT_USAGE);
		}
	}
	if (optind == argc)
		return;
	fprintf(stderr, "odp_stress: unexpected argument '%s'\n", argv[optind]);
	usage(stderr);
	exit(ODP_EXIT_USAGE);
bad:
	fprintf(stderr, "odp_stress: --%s %s: not a number in range\n",
		opts[idx].name, optarg);
	usage(stderr);
	exit(ODP_EXIT_USAGE);
}

/* What the checks need before any worker starts: the devices and test_hmm. */
struct before {
	int dmirror;
	struct hmm_dmirror_counters counters;
	uint32_t index[2];
	bool alias[2];
};

static void probe(struct before *b)
{
	const char *names[2] = { odp_dev_a(), odp_dev_b() };
	struct odp_side s;
	int i, err;

	for (i = 0; i < 2; i++) {
		memset(&s, 0, sizeof(s));
		switch (odp_side_open(&s, names[i], 0)) {
		case ODP_OPEN_OK:
			break;
		case ODP_OPEN_ABSENT:
			odp_skip_exit("%s: %s", names[i], odp_reason());
		default:
			printf("Bail out! %s: %s\n", names[i], odp_reason());
			exit(ODP_EXIT_FAIL);
		}
		b->index[i] = (uint32_t)s.index;
		odp_side_close(&s);
		err = rdma_nl_get_odp_alias(b->index[i], &b->alias[i]);
		if (err) {
			printf("Bail out! the ODP alias switch of %s: %s\n",
			       names[i], odp_reason());
			exit(ODP_EXIT_FAIL);
		}
	}
	b->dmirror = dmirror_open(odp_dmirror_path());
	if (b->dmirror < 0 && dmirror_absent(-b->dmirror))
		odp_skip_exit("%s: %s", odp_dmirror_path(),
			      strerror(-b->dmirror));
	if (b->dmirror < 0 || dmirror_read_counters(b->dmirror, &b->counters)) {
		printf("Bail out! %s: %s\n", odp_dmirror_path(), odp_reason());
		exit(ODP_EXIT_FAIL);
	}
	/* test_hmm offers every alias the workers' MRs ask for */
	err = dmirror_set_device_flags(b->dmirror,
				       HMM_DMIRROR_DEVICE_EXPORT_ALIAS);
	if (err) {
		printf("Bail out! %s: device flags: %s\n", odp_dmirror_path(),
		       strerror(err));
		exit(ODP_EXIT_FAIL);
	}
}

struct run {
	pid_t pid[MAX_WORKERS];
	bool reported[MAX_WORKERS]; /* its failure message printed */
	unsigned long kills, failed;
};

/* A worker ended unasked: its failure (its message, or how it died). */
static void worker_ended(struct run *r, int id, int status)
{
	r->pid[id] = 0;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return;
	r->failed++;
	if (atomic_load(&shm->w[id].failed)) {
		printf("# worker %d: %s\n", id, shm->w[id].msg);
		r->reported[id] = true;
	} else if (WIFSIGNALED(status))
		printf("# worker %d: killed by signal %d\n", id,
		       WTERMSIG(status));
	else
		printf("# worker %d: exit status %d\n", id,
		       WEXITSTATUS(status));
}

/* Reaps what ended; false once a worker failed. */
static bool reap(struct run *r, const struct opts *o)
{
	int status, id;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (id = 0; id < (int)o->workers; id++)
			if (r->pid[id] == pid)
				worker_ended(r, id, status);
		/* else: a fork child of a killed worker (we are its reaper) */
	}
	return !r->failed;
}

/* The switches as they were, test_hmm's device flags as the suites expect */
static bool restore(struct before *b)
{
	bool ok = true;
	int i;

	for (i = 0; i < 2; i++) {
		if (rdma_nl_set_odp_alias(b->index[i], b->alias[i])) {
			printf("# restoring the ODP alias switch: %s\n",
			       odp_reason());
			ok = false;
		}
	}
	if (dmirror_set_device_flags(b->dmirror, 0))
		ok = false;
	dmirror_close(b->dmirror);
	return ok;
}

/* Gives up once workers run: none is left behind, the state is restored */
static int bail(struct run *r, struct before *b)
{
	int id;

	atomic_store(&shm->stop, true);
	for (id = 0; id < MAX_WORKERS; id++)
		if (r->pid[id] > 0)
			kill(r->pid[id], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
	restore(b);
	return ODP_EXIT_FAIL;
}

static double jitter_ms(unsigned int *state, unsigned long mean)
{
	return mean * (0.25 + 1.5 * odp_rnd(state, 1000) / 1000.0);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct before b;
	struct run r = { 0 };
	struct hmm_dmirror_counters after;
	double start, end, next_kill, next_progress, deadline;
	unsigned int state;
	unsigned long ok_checks = 0, n = 0;
	int id, status, err;
	bool released = false, restored = true;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pace = (unsigned long)odp_timeout_scale();
	parse_args(&o, argc, argv);
	state = o.seed;
	probe(&b);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return ODP_EXIT_FAIL;
	}
	/* The fork children of a killed worker come to us to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	printf("TAP version 13\n1..4\n");
	printf("# seed %#010x (--seed %#x repeats the choices), %lu workers x %lu pages, %lu s, a kill every %lu ms on average, pauses x%lu, device %s, %s <-> %s\n",
	       o.seed, o.seed, o.workers, o.pages, o.duration_s, o.kill_ms,
	       pace, odp_dmirror_path(), odp_dev_a(), odp_dev_b());
	start = odp_now_ms();
	end = start + o.duration_s * 1000.0;
	next_kill = o.kill_ms ? start + jitter_ms(&state, o.kill_ms) : end;
	next_progress = start + 10000;
	for (id = 0; id < (int)o.workers; id++) {
		r.pid[id] = spawn(id, &o);
		if (r.pid[id] < 0) {
			printf("Bail out! fork: %s\n", strerror(errno));
			return bail(&r, &b);
		}
	}

	while (odp_now_ms() < end && reap(&r, &o)) {
		double now = odp_now_ms();

		if (now >= next_kill) {
			id = (int)odp_rnd(&state, (unsigned int)o.workers);
			if (r.pid[id] > 0) {
				pid_t pid = r.pid[id];

				kill(pid, SIGKILL);
				if (waitpid(pid, &status, 0) != pid) {
					printf("Bail out! waitpid: %s\n",
					       strerror(errno));
					return bail(&r, &b);
				}
				/* Unless it failed (or ended) before the kill */
				if (WIFSIGNALED(status) &&
				    WTERMSIG(status) == SIGKILL &&
				    !atomic_load(&shm->w[id].failed)) {
					r.pid[id] = 0;
					r.kills++;
				} else {
					worker_ended(&r, id,
						     WIFSIGNALED(status) ?
							     1 << 8 :
							     status);
				}
				if (r.failed)
					break;
				r.pid[id] = spawn(id, &o);
				if (r.pid[id] < 0) {
					printf("Bail out! fork: %s\n",
					       strerror(errno));
					return bail(&r, &b);
				}
			}
			next_kill = now + jitter_ms(&state, o.kill_ms);
		}
		if (now >= next_progress) {
			print_totals("# ", now - start, r.kills);
			next_progress += 10000;
		}
		sleep_us(20000);
	}

	/* Stop: every worker checks its whole buffer and exits */
	atomic_store(&shm->stop, true);
	deadline = odp_now_ms() + STOP_WAIT_MS * odp_timeout_scale();
	for (;;) {
		bool left = false;

		reap(&r, &o);
		for (id = 0; id < (int)o.workers; id++)
			left |= r.pid[id] > 0;
		if (!left)
			break;
		if (odp_now_ms() > deadline) {
			for (id = 0; id < (int)o.workers; id++) {
				if (r.pid[id] <= 0)
					continue;
				printf("# worker %d did not finish within %.0f s of the stop\n",
				       id,
				       STOP_WAIT_MS * odp_timeout_scale() /
					       1000);
				kill(r.pid[id], SIGKILL);
				r.failed++;
			}
			break;
		}
		sleep_us(20000);
	}
	while (waitpid(-1, &status, 0) > 0)
		;
	/* A failure whose worker was killed before it could exit with it */
	for (id = 0; id < (int)o.workers; id++) {
		if (!atomic_load(&shm->w[id].failed) || r.reported[id])
			continue;
		printf("# worker %d: %s\n", id, shm->w[id].msg);
		r.failed++;
	}
	print_totals("# totals: ", odp_now_ms() - start, r.kills);

	printf("%sok %lu stress_every_byte_verified\n", r.failed ? "not " : "",
	       ++n);
	ok_checks += !r.failed;

	/* The run did what it says: each operation and disruption happened */
	{
		const struct {
			const char *name;
			unsigned long count;
		} did[] = {
			{ "WRITE", TOTAL(writes) },
			{ "SEND", TOTAL(sends) },
			{ "atomic", TOTAL(atomics) },
			{ "CPU check", TOTAL(cpu_checks) },
			{ "re-registration", TOTAL(reregs) },
			{ "migration to the device", TOTAL(to_dev) },
			{ "migration back", TOTAL(to_sys) },
			{ "MADV_DONTNEED", TOTAL(dontneeds) },
			{ "replacement", TOTAL(remaps) },
			{ "fork", TOTAL(forks) },
			{ "kill", o.kill_ms ? r.kills : 1 },
		};
		bool all = true;

		for (int i = 0; i < (int)(sizeof(did) / sizeof(did[0])); i++) {
			if (did[i].count)
				continue;
			printf("# no %s in %lu s: too short a run\n",
			       did[i].name, o.duration_s);
			all = false;
		}
		printf("%sok %lu stress_every_operation_ran\n",
		       all ? "" : "not ", ++n);
		ok_checks += all;
	}

	/* test_hmm's device memory: all released once the workers are gone */
	err = dmirror_wait_pages_in_use(b.dmirror, b.counters.pages_in_use,
					10000.0 * odp_timeout_scale(), &after);
	if (err && err != ETIMEDOUT)
		printf("# %s: %s\n", odp_dmirror_path(), strerror(err));
	released = !err;
	printf("# %s: %llu device pages in use before, %llu after; %llu pages migrated to RAM by faults, %llu aliases offered, %llu refused\n",
	       odp_dmirror_path(), (unsigned long long)b.counters.pages_in_use,
	       (unsigned long long)after.pages_in_use,
	       (unsigned long long)(after.migrated_to_ram -
				    b.counters.migrated_to_ram),
	       (unsigned long long)(after.alias_offered -
				    b.counters.alias_offered),
	       (unsigned long long)(after.alias_refused -
				    b.counters.alias_refused));
	printf("%sok %lu stress_device_memory_released\n",
	       released ? "" : "not ", ++n);
	ok_checks += released;

	/* The switches as they were, and test_hmm's device flags */
	restored = restore(&b);
	printf("%sok %lu stress_switches_restored\n", restored ? "" : "not ",
	       ++n);
	ok_checks += restored;
	if (ok_checks != n)
		printf("# failed; the run's seed: --seed %#x\n", o.seed);
	return ok_checks == n ? ODP_EXIT_PASS : ODP_EXIT_FAIL;
}
