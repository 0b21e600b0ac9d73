/*
 * odp_rdma_bench - RDMA WRITE and READ from rxe_a into an ODP MR on rxe_b
 * whose buffer is in host memory, or in test_hmm's device-private memory
 * reached through aliases, or reached by migrating it back to RAM (rxe_b's
 * ODP alias switch off, Linux 7.3's only way).  Three measurements:
 *
 *   steady      the MR's pages stay where they are between operations:
 *               after one untimed operation, the median time of --iters
 *               operations of each size.  Aliases against host memory.
 *   ping-pong   before every operation the "GPU" takes the buffer back, not
 *               timed: test_hmm migrates it to the device (with aliases
 *               the pages are still there, so this only invalidates rxe's
 *               mapping), and host memory is write-protected and back,
 *               which invalidates it too.  Every operation faults its
 *               pages again: with aliases the NIC reaches them where they
 *               are, without them it migrates every page first.
 *   first-touch one pass of 1 MiB operations over --first-touch-mib of a
 *               freshly registered MR that rxe has not mapped: every page
 *               faults once, host RAM against device pages through
 *               aliases.
 *
 * Every timed operation moves a fresh pattern (a WRITE's source is filled
 * anew, a READ's target cleared, outside the timed part) and its bytes are
 * checked after it, without a CPU access to the MR's buffer (a WRITE is
 * read back through the NIC).  test_hmm's counters are checked too: no
 * migration in steady state or through an alias, one migration per page
 * and operation in ping-pong without aliases, every page looked up as an
 * alias with them; and rxe_b's ODP counters of the MR: no alias fallback.
 * Completions are busy-polled while timed.  Prints a table and the ratios;
 * --json FILE writes a JSON array, one object per measure, operation, size
 * and mode, with the NIC's fault calls and the pages they mapped per
 * operation (per pass for first-touch), which say how much of the time went
 * to faults.  Exit status 0, 1 if a check
 * failed, 4 (skip) without the two rxe devices, test_hmm or the series;
 * with ODP_NO_SKIP=1 a skip is a failure.  ODP_SEED repeats the patterns.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dmirror.h"
#include "env.h"
#include "pattern.h"
#include "rdma_nl.h"
#include "reason.h"
#include "timing.h"
#include "verbs_pair.h"

#define MAX_SIZES 8
#define MAX_ITERS 10000
#define MAX_SIZE (64UL << 20)
#define CHUNK (1UL << 20) /* first-touch operation size */

enum mode {
	MODE_HOST,
	MODE_ALIAS,
	MODE_MIGRATION,
	NMODES
};

static const char *const mode_names[NMODES] = {
	[MODE_HOST] = "host",
	[MODE_ALIAS] = "alias",
	[MODE_MIGRATION] = "migration",
};

struct bench {
	size_t sizes[MAX_SIZES];
	unsigned int nsizes;
	unsigned int iters;
	size_t first_touch;
	const char *json_path;
	FILE *json;
	unsigned int json_rows;
	struct odp_pair pair;
	int dmirror;
	unsigned int failures;
};

/* What one run of one mode measured. */
struct result {
	double median_ms, min_ms;
	double migrations; /* pages test_hmm migrated to RAM, per operation */
	double aliases; /* aliases test_hmm offered, per operation */
	/* rxe_b's counters of the MR (rdma netlink), per operation */
	double faults, fault_pages, fallbacks;
	bool ok;
};

/* The ODP counters of @d's MR on rxe_b */
static bool mr_counters(struct bench *b, const struct odp_buf *d,
			struct rdma_nl_odp_mr *m)
{
	return !rdma_nl_get_odp_mr((uint32_t)b->pair.resp.index, d->mr->rkey,
				   m);
}

/*
 * What rxe_b's faults did between @m0 and @m1, over @n operations: fault
 * calls, pages they mapped, and pages migrated although an alias was asked
 * for, which must be none: test_hmm offers every alias here.
 */
static bool nic_counts(struct bench *b, const char *what,
		       const struct rdma_nl_odp_mr *m0,
		       const struct rdma_nl_odp_mr *m1, double n,
		       struct result *r)
{
	r->faults =
		(double)(m1->page_faults_handled - m0->page_faults_handled) / n;
	r->fault_pages = (double)(m1->page_faults - m0->page_faults) / n;
	r->fallbacks = (double)(m1->alias_fallbacks - m0->alias_fallbacks) / n;
	if (!r->fallbacks)
		return true;
	odp_report_fail(&b->failures, "%s: %.2f alias fallbacks per operation",
			what, r->fallbacks);
	return false;
}

/*
 * A buffer of @size on rxe_b for @mode: its MR registered with the alias
 * switch on for MODE_ALIAS and off otherwise.  @unmapped: then its pages
 * are dropped and filled again, which invalidates what rxe mapped at
 * registration, so that rxe has mapped none of them (first touch).
 */
static bool dev_buf(struct bench *b, struct odp_buf *d, size_t size,
		    enum mode mode, bool unmapped)
{
	if (!odp_buf_alloc_aliases(d, &b->pair.resp, size,
				   ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND,
				   mode == MODE_ALIAS))
		return false;
	if (!unmapped)
		return true;
	if (madvise(d->addr, size, MADV_DONTNEED))
		return odp_fail_errno(errno, "madvise(MADV_DONTNEED)");
	odp_fill(d->addr, size, d->seed);
	return true;
}

/* Moves the whole buffer to test_hmm's device (the "GPU" takes it). */
static bool to_device(struct bench *b, struct odp_buf *d, void *bounce)
{
	return dmirror_migrate_to_device(b->dmirror, d->addr,
					 d->size / odp_page_size(), bounce);
}

/*
 * Ping-pong: the buffer goes back to its owner, which invalidates what rxe
 * mapped: to the device, or for host memory a write protection and back.
 */
static bool take_back(struct bench *b, struct odp_buf *d, enum mode mode,
		      void *bounce)
{
	if (mode != MODE_HOST)
		return to_device(b, d, bounce);
	if (mprotect(d->addr, d->size, PROT_READ) ||
	    mprotect(d->addr, d->size, PROT_READ | PROT_WRITE))
		return odp_fail_errno(errno, "mprotect");
	return true;
}

/*
 * One signaled operation of @len bytes at offset @off; busy-polls for its
 * completion, so that the time measured is not rounded up by a sleep.
 */
static bool op(struct bench *b, enum ibv_wr_opcode opcode,
	       struct odp_buf *local, struct odp_buf *d, size_t off, size_t len)
{
	struct ibv_wc wc;

	if (!odp_post_rdma(&b->pair, opcode, local, d, off, len, 1) ||
	    !odp_spin_completion(&b->pair.req, &wc))
		return false;
	if (wc.status != IBV_WC_SUCCESS)
		return odp_fail("%s of %zu B: %s", odp_wr_opcode_name(opcode),
				len, odp_wc_status_name(wc.status));
	return true;
}

/*
 * Before a timed operation, not timed: a WRITE's source gets a new
 * pattern, a READ's target is cleared (the MR's buffer keeps its pattern).
 */
static void prepare(enum ibv_wr_opcode opcode, struct odp_buf *local)
{
	if (opcode == IBV_WR_RDMA_WRITE) {
		local->seed = odp_seed();
		odp_fill(local->addr, local->size, local->seed);
	} else {
		memset(local->addr, 0, local->size);
	}
}

/*
 * After it: [off, off + len) of the target holds the source's pattern.  A
 * WRITE's target is read back into @check through the NIC: a CPU read of
 * the MR's buffer would migrate its pages.
 */
static bool check_op(struct bench *b, enum ibv_wr_opcode opcode,
		     struct odp_buf *local, struct odp_buf *d,
		     struct odp_buf *check, size_t off, size_t len)
{
	if (opcode == IBV_WR_RDMA_READ)
		return !odp_verify(local->addr, off, off + len, d->seed, NULL);
	memset(check->addr + off, 0, len);
	return op(b, IBV_WR_RDMA_READ, check, d, off, len) &&
	       !odp_verify(check->addr, off, off + len, local->seed, NULL);
}

/* The check of a run's test_hmm counts, per operation: false on failure. */
static bool check_counts(struct bench *b, const char *what, enum mode mode,
			 bool ping_pong, size_t npages, const struct result *r)
{
	double want = ping_pong && mode == MODE_MIGRATION ? (double)npages : 0;

	if (r->migrations != want) {
		odp_report_fail(
			&b->failures,
			"%s: %.2f pages migrated per operation, expected %.0f",
			what, r->migrations, want);
		return false;
	}
	if (ping_pong && mode == MODE_ALIAS && r->aliases < (double)npages) {
		odp_report_fail(
			&b->failures,
			"%s: %.2f aliases per operation, expected %zu or more",
			what, r->aliases, npages);
		return false;
	}
	return true;
}

/*
 * steady (!ping_pong) or ping-pong: --iters timed operations of @size on a
 * buffer of @size in @mode.
 */
static void run_ops(struct bench *b, enum ibv_wr_opcode opcode, size_t size,
		    enum mode mode, bool ping_pong, struct result *r)
{
	size_t npages = size / odp_page_size();
	struct hmm_dmirror_counters c0, c1;
	struct rdma_nl_odp_mr m0, m1;
	struct odp_buf local, check, d;
	double *ms = calloc(b->iters, sizeof(*ms)), t0;
	void *bounce = malloc(size);
	char what[80];
	unsigned int i;

	snprintf(what, sizeof(what), "%s %s %s %zu B",
		 ping_pong ? "ping-pong" : "steady", mode_names[mode],
		 odp_wr_opcode_name(opcode), size);
	memset(r, 0, sizeof(*r));
	memset(&d, 0, sizeof(d));
	memset(&local, 0, sizeof(local));
	memset(&check, 0, sizeof(check));
	if (!ms || !bounce) {
		odp_report_fail(&b->failures, "out of memory");
		goto out;
	}
	if (!odp_buf_alloc(&local, &b->pair.req, size,
			   IBV_ACCESS_LOCAL_WRITE) ||
	    !odp_buf_alloc(&check, &b->pair.req, size,
			   IBV_ACCESS_LOCAL_WRITE) ||
	    !dev_buf(b, &d, size, mode, false) ||
	    (mode != MODE_HOST && !to_device(b, &d, bounce)) ||
	    !op(b, opcode, &local, &d, 0, size) ||
	    dmirror_read_counters(b->dmirror, &c0) ||
	    !mr_counters(b, &d, &m0)) {
		odp_report_fail(&b->failures, "%s, setup: %s", what,
				odp_reason());
		goto out;
	}
	for (i = 0; i < b->iters; i++) {
		prepare(opcode, &local);
		if (ping_pong && !take_back(b, &d, mode, bounce))
			break;
		t0 = odp_now_ms();
		if (!op(b, opcode, &local, &d, 0, size))
			break;
		ms[i] = odp_now_ms() - t0;
		if (!check_op(b, opcode, &local, &d, &check, 0, size))
			break;
	}
	if (i < b->iters || dmirror_read_counters(b->dmirror, &c1) ||
	    !mr_counters(b, &d, &m1)) {
		odp_report_fail(&b->failures, "%s, operation %u: %s", what,
				i + 1, odp_reason());
		goto out;
	}
	r->migrations =
		(double)(c1.migrated_to_ram - c0.migrated_to_ram) / b->iters;
	r->aliases = (double)(c1.alias_offered - c0.alias_offered) / b->iters;
	odp_median_min(ms, b->iters, &r->median_ms, &r->min_ms);
	r->ok = check_counts(b, what, mode, ping_pong, npages, r);
	r->ok = nic_counts(b, what, &m0, &m1, b->iters, r) && r->ok;
out:
	odp_buf_free(&d);
	odp_buf_free(&check);
	odp_buf_free(&local);
	free(bounce);
	free(ms);
}

/* first-touch: one pass of CHUNK operations over a fresh MR in @mode. */
static void run_first_touch(struct bench *b, enum ibv_wr_opcode opcode,
			    enum mode mode, struct result *r)
{
	size_t size = b->first_touch, npages = size / odp_page_size(), off;
	struct hmm_dmirror_counters c0, c1;
	struct rdma_nl_odp_mr m0, m1;
	struct odp_buf local, d;
	void *bounce = malloc(size);
	double t0;

	memset(r, 0, sizeof(*r));
	memset(&d, 0, sizeof(d));
	memset(&local, 0, sizeof(local));
	if (!bounce ||
	    !odp_buf_alloc(&local, &b->pair.req, size,
			   IBV_ACCESS_LOCAL_WRITE) ||
	    !dev_buf(b, &d, size, mode, true) ||
	    (mode != MODE_HOST && !to_device(b, &d, bounce)) ||
	    dmirror_read_counters(b->dmirror, &c0) ||
	    !mr_counters(b, &d, &m0)) {
		odp_report_fail(&b->failures, "first-touch %s setup: %s",
				mode_names[mode], odp_reason());
		goto out;
	}
	if (opcode == IBV_WR_RDMA_READ)
		memset(local.addr, 0, size);
	t0 = odp_now_ms();
	for (off = 0; off < size; off += CHUNK)
		if (!op(b, opcode, &local, &d, off, CHUNK))
			break;
	r->median_ms = r->min_ms = odp_now_ms() - t0;
	if (off < size || dmirror_read_counters(b->dmirror, &c1) ||
	    !mr_counters(b, &d, &m1)) {
		odp_report_fail(&b->failures, "first-touch %s at +%zu: %s",
				mode_names[mode], off, odp_reason());
		goto out;
	}
	r->migrations = (double)(c1.migrated_to_ram - c0.migrated_to_ram);
	r->aliases = (double)(c1.alias_offered - c0.alias_offered);
	/* At the end of the run: a CPU read may migrate pages now. */
	if (opcode == IBV_WR_RDMA_WRITE)
		r->ok = !odp_verify(d.addr, 0, size, local.seed, NULL);
	else
		r->ok = !odp_verify(local.addr, 0, size, d.seed, NULL);
	if (!r->ok)
		odp_report_fail(&b->failures, "first-touch %s: %s",
				mode_names[mode], odp_reason());
	if (r->migrations != (mode == MODE_MIGRATION ? (double)npages : 0)) {
		odp_report_fail(&b->failures,
				"first-touch %s: %.0f of %zu pages migrated",
				mode_names[mode], r->migrations, npages);
		r->ok = false;
	}
	r->ok = nic_counts(b, "first-touch", &m0, &m1, 1, r) && r->ok;
out:
	odp_buf_free(&d);
	odp_buf_free(&local);
	free(bounce);
}

/* One JSON object per mode; a failed mode's figures are null. */
static void json_row(struct bench *b, const char *what,
		     enum ibv_wr_opcode opcode, size_t size, enum mode mode,
		     const struct result *r)
{
	bool pass = !strcmp(what, "first-touch");
	FILE *f = b->json;

	fprintf(f,
		"%s  {\"measure\": \"%s\", \"op\": \"%s\", \"bytes\": %zu, \"mode\": \"%s\", \"per\": \"%s\", \"ok\": %s",
		b->json_rows++ ? ",\n" : "", what, odp_wr_opcode_name(opcode),
		size, mode_names[mode], pass ? "pass" : "operation",
		r->ok ? "true" : "false");
	if (r->ok)
		fprintf(f,
			", \"median_ms\": %.4f, \"min_ms\": %.4f, \"MiB_per_s\": %.2f, \"migrations\": %.2f, \"aliases\": %.2f, \"nic_faults\": %.2f, \"nic_fault_pages\": %.2f, \"alias_fallbacks\": %.2f}",
			r->median_ms, r->min_ms,
			r->median_ms > 0 ? (double)size / (1 << 20) /
						   (r->median_ms / 1000) :
					   0,
			r->migrations, r->aliases, r->faults, r->fault_pages,
			r->fallbacks);
	else
		fprintf(f,
			", \"median_ms\": null, \"min_ms\": null, \"MiB_per_s\": null, \"migrations\": null, \"aliases\": null, \"nic_faults\": null, \"nic_fault_pages\": null, \"alias_fallbacks\": null}");
}

static void print_row(struct bench *b, const char *what,
		      enum ibv_wr_opcode opcode, size_t size,
		      const struct result res[NMODES])
{
	const struct result *h = &res[MODE_HOST], *a = &res[MODE_ALIAS],
			    *m = &res[MODE_MIGRATION];
	enum mode mode;

	printf("%-11s %-10s %8zu %10.3f %10.3f %10.3f %9.2f %9.2f %7.1f %7.1f%s\n",
	       what, odp_wr_opcode_name(opcode), size, h->median_ms,
	       a->median_ms, m->median_ms,
	       a->median_ms > 0 ? h->median_ms / a->median_ms : 0,
	       a->median_ms > 0 ? m->median_ms / a->median_ms : 0,
	       a->migrations, m->migrations,
	       h->ok && a->ok && m->ok ? "" : "  FAILED");
	for (mode = 0; b->json && mode < NMODES; mode++)
		json_row(b, what, opcode, size, mode, &res[mode]);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: odp_rdma_bench [--sizes B[,B...]] [--iters N] [--first-touch-mib M] [--json FILE]\n"
		"  --sizes            operation sizes in bytes, whole pages, at most %d (default 65536,1048576)\n"
		"  --iters            timed operations per size and mode, 1-%d (default 20)\n"
		"  --first-touch-mib  first-touch MR size, 1-%lu MiB (default 64; 0 skips it)\n"
		"  --json             also write a JSON array, one object per mode and row\n",
		MAX_SIZES, MAX_ITERS, MAX_SIZE >> 20);
}

static bool parse_size(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && end != s && !*end && *v <= max && s[0] != '-';
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "iters", required_argument, NULL, 'i' },
		{ "first-touch-mib", required_argument, NULL, 'f' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long v;
	char *tok, *save;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b->nsizes = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (b->nsizes == MAX_SIZES ||
				    !parse_size(tok, MAX_SIZE, &v) || !v ||
				    v % odp_page_size()) {
					fprintf(stderr,
						"odp_rdma_bench: --sizes: '%s' is not a whole number of %zu-byte pages up to %lu bytes, or more than %d sizes\n",
						tok, odp_page_size(), MAX_SIZE,
						MAX_SIZES);
					exit(ODP_EXIT_USAGE);
				}
				b->sizes[b->nsizes++] = v;
			}
			if (!b->nsizes) {
				fprintf(stderr,
					"odp_rdma_bench: --sizes: no size\n");
				exit(ODP_EXIT_USAGE);
			}
			break;
		case 'i':
			if (!parse_size(optarg, MAX_ITERS, &v) || !v) {
				fprintf(stderr,
					"odp_rdma_bench: --iters: '%s' is not 1 to %d\n",
					optarg, MAX_ITERS);
				exit(ODP_EXIT_USAGE);
			}
			b->iters = (unsigned int)v;
			break;
		case 'f':
			if (!parse_size(optarg, MAX_SIZE >> 20, &v)) {
				fprintf(stderr,
					"odp_rdma_bench: --first-touch-mib: '%s' is not 0 to %lu\n",
					optarg, MAX_SIZE >> 20);
				exit(ODP_EXIT_USAGE);
			}
			b->first_touch = v << 20;
			break;
		case 'j':
			b->json_path = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(ODP_EXIT_PASS);
		default:
			usage(stderr);
			exit(ODP_EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "odp_rdma_bench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		exit(ODP_EXIT_USAGE);
	}
	/* Once every option is known good: a bad one leaves no file behind */
	if (b->json_path) {
		b->json = fopen(b->json_path, "w");
		if (!b->json) {
			fprintf(stderr, "odp_rdma_bench: --json %s: %s\n",
				b->json_path, strerror(errno));
			exit(ODP_EXIT_USAGE);
		}
		fputs("[\n", b->json);
	}
}

int main(int argc, char **argv)
{
	static const enum ibv_wr_opcode ops[] = { IBV_WR_RDMA_WRITE,
						  IBV_WR_RDMA_READ };
	struct bench b = {
		.sizes = { 64 << 10, 1 << 20 },
		.nsizes = 2,
		.iters = 20,
		.first_touch = 64 << 20,
	};
	struct result res[NMODES];
	unsigned int o, s, pp;
	enum mode mode;
	bool on;

	parse_args(&b, argc, argv);
	odp_seed_start(odp_seed_from_env());
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (odp_pair_open(
		&b.pair, IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ, 0)) {
	case ODP_OPEN_OK:
		break;
	case ODP_OPEN_ABSENT:
		odp_skip_exit("%s", odp_reason());
	case ODP_OPEN_FAILED:
		fprintf(stderr, "FAIL: %s\n", odp_reason());
		return ODP_EXIT_FAIL;
	}
	b.dmirror = dmirror_open(odp_dmirror_path());
	if (b.dmirror < 0) {
		if (dmirror_absent(-b.dmirror))
			odp_skip_exit("%s", odp_reason());
		fprintf(stderr, "FAIL: %s\n", odp_reason());
		return ODP_EXIT_FAIL;
	}
	/* A kernel without the series has no switch */
	if (rdma_nl_get_odp_alias((uint32_t)b.pair.resp.index, &on))
		odp_skip_exit("%s", odp_reason());
	if (dmirror_set_device_flags(b.dmirror,
				     HMM_DMIRROR_DEVICE_EXPORT_ALIAS)) {
		fprintf(stderr, "FAIL: %s\n", odp_reason());
		return ODP_EXIT_FAIL;
	}

	printf("odp_rdma_bench: %s -> %s, Soft-RoCE; ms per operation (median of %u; first-touch: one pass)\n",
	       b.pair.req.name, b.pair.resp.name, b.iters);
	printf("%-11s %-10s %8s %10s %10s %10s %9s %9s %7s %7s\n", "measure",
	       "op", "bytes", "host", "alias", "migration", "alias bw",
	       "speedup", "mig/op", "mig/op");
	printf("%-11s %-10s %8s %10s %10s %10s %9s %9s %7s %7s\n", "", "", "",
	       "ms", "ms", "ms", "/host bw", "vs migr", "(alias)", "(migr)");
	for (pp = 0; pp < 2; pp++)
		for (o = 0; o < 2; o++)
			for (s = 0; s < b.nsizes; s++) {
				for (mode = 0; mode < NMODES; mode++)
					run_ops(&b, ops[o], b.sizes[s], mode,
						pp, &res[mode]);
				print_row(&b, pp ? "ping-pong" : "steady",
					  ops[o], b.sizes[s], res);
			}
	for (o = 0; b.first_touch && o < 2; o++) {
		for (mode = 0; mode < NMODES; mode++)
			run_first_touch(&b, ops[o], mode, &res[mode]);
		print_row(&b, "first-touch", ops[o], b.first_touch, res);
	}
	printf("alias bw/host bw: host ms / alias ms (1.00: aliases as fast as host memory); speedup: migration ms / alias ms; mig/op: pages test_hmm migrated to RAM per operation (first-touch: in the pass)\n");

	if (dmirror_set_device_flags(b.dmirror, 0))
		odp_report_fail(&b.failures, "resetting test_hmm's flags: %s",
				odp_reason());
	dmirror_close(b.dmirror);
	odp_pair_close(&b.pair);
	if (b.json)
		fputs("\n]\n", b.json);
	if (b.json && fclose(b.json))
		odp_report_fail(&b.failures, "writing the JSON: %s",
				strerror(errno));
	if (b.failures)
		fprintf(stderr, "odp_rdma_bench: %u checks failed\n",
			b.failures);
	return b.failures ? ODP_EXIT_FAIL : ODP_EXIT_PASS;
}
