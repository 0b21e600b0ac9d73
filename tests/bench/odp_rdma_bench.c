/*
 * odp_rdma_bench - RDMA WRITE and READ from rxe_a into an ODP MR on rxe_b
 * whose buffer is in host memory, or in test_hmm's device-private memory
 * reached through aliases, or reached by migrating it back to RAM (rxe_b's
 * ODP alias switch off, Linux 7.3's only way).  Three measurements:
 *
 *   steady      the MR's pages stay where they are between operations:
 *               after one untimed operation, the median time of --iters
 *               operations of each size.  Aliases against host memory.
 *   ping-pong   before every operation the "GPU" takes the buffer back
 *               (test_hmm migrates it to the device, not timed): with
 *               aliases the NIC reaches it where it is, without them every
 *               operation migrates it first.  Migrations per operation are
 *               counted by test_hmm.
 *   first-touch one pass of 1 MiB operations over --first-touch-mib of a
 *               freshly registered MR that rxe has not mapped: every page
 *               faults once, host RAM against device pages through
 *               aliases.
 *
 * Every operation's bytes are checked at the end of each run (the target
 * holds the source's pattern, through the CPU), and so are the counters:
 * no page migrates through an alias.  Prints a table and the ratios;
 * --json FILE writes one JSON object per row.  Exit status 0, 1 if a check
 * failed, 4 (skip) without the two rxe devices, test_hmm or the series;
 * with ODP_NO_SKIP=1 a skip is a failure.  ODP_SEED repeats the patterns.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
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
	FILE *json;
	struct odp_pair pair;
	int dmirror;
	uint32_t resp_index;
	unsigned int failures;
};

/* What one run of one mode measured. */
struct result {
	double median_ms, min_ms;
	double migrations; /* pages test_hmm migrated to RAM, per operation */
	double aliases; /* aliases test_hmm offered, per operation */
	bool ok;
};

static void fail(struct bench *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	b->failures++;
}

static _Noreturn void skip(const char *why)
{
	bool fatal = odp_no_skip();

	fprintf(stderr, "%s%s\n",
		fatal ? "FAIL (ODP_NO_SKIP=1): cannot run: " : "SKIP: ", why);
	exit(fatal ? ODP_EXIT_FAIL : ODP_EXIT_SKIP);
}

/*
 * A buffer of @size on rxe_b for @mode: its MR registered with the alias
 * switch on for MODE_ALIAS and off otherwise; filled before registration,
 * or after it when @fill_late (then rxe has mapped none of its pages).
 */
static bool dev_buf(struct bench *b, struct odp_buf *d, size_t size,
		    enum mode mode, bool fill_late)
{
	int access = ODP_REMOTE_ACCESS | IBV_ACCESS_ON_DEMAND;
	bool was = true, ok;
	int err;

	err = rdma_nl_get_odp_alias(b->resp_index, &was);
	if (!err)
		err = rdma_nl_set_odp_alias(b->resp_index, mode == MODE_ALIAS);
	if (err)
		return odp_fail("the alias switch: %s", odp_reason());
	if (fill_late) {
		memset(d, 0, sizeof(*d));
		d->addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ok = d->addr != MAP_FAILED;
		if (ok) {
			d->size = size;
			d->seed = odp_seed();
			d->mr = odp_reg_mr(&b->pair.resp, d->addr, size,
					   access);
			ok = d->mr;
			if (ok)
				odp_fill(d->addr, size, d->seed);
		} else {
			d->addr = NULL;
			odp_fail_errno(errno, "mmap(%zu B)", size);
		}
	} else {
		ok = odp_buf_alloc(d, &b->pair.resp, size, access);
	}
	err = rdma_nl_set_odp_alias(b->resp_index, was);
	if (err && ok)
		return odp_fail("restoring the alias switch: %s", odp_reason());
	return ok;
}

/* Moves the whole buffer to test_hmm's device (the "GPU" takes it). */
static bool to_device(struct bench *b, struct odp_buf *d, void *bounce)
{
	return dmirror_migrate_to_device(b->dmirror, d->addr,
					 d->size / odp_page_size(), bounce);
}

/* One signaled operation of @len bytes at offset @off; waits for it. */
static bool op(struct bench *b, enum ibv_wr_opcode opcode,
	       struct odp_buf *local, struct odp_buf *d, size_t off, size_t len)
{
	struct ibv_wc wc;

	if (!odp_post_rdma(&b->pair, opcode, local, d, off, len, 1) ||
	    !odp_poll_completion(&b->pair.req, &wc))
		return false;
	if (wc.status != IBV_WC_SUCCESS)
		return odp_fail("%s of %zu B: %s", odp_wr_opcode_name(opcode),
				len, odp_wc_status_name(wc.status));
	return true;
}

/* The bytes the operations moved: target holds the source's pattern. */
static bool check_bytes(enum ibv_wr_opcode opcode, struct odp_buf *local,
			struct odp_buf *d, size_t len)
{
	bool write = opcode == IBV_WR_RDMA_WRITE;
	struct odp_buf *dst = write ? d : local, *src = write ? local : d;

	return odp_verify(dst->addr, 0, len, src->seed, NULL) == 0;
}

/*
 * steady (!ping_pong) or ping-pong: --iters timed operations of @size on a
 * buffer of @size in @mode.
 */
static void run_ops(struct bench *b, enum ibv_wr_opcode opcode, size_t size,
		    enum mode mode, bool ping_pong, struct result *r)
{
	struct hmm_dmirror_counters c0, c1;
	struct odp_buf local, d;
	double *ms = calloc(b->iters, sizeof(*ms)), t0;
	void *bounce = malloc(size);
	unsigned int i;

	memset(r, 0, sizeof(*r));
	memset(&d, 0, sizeof(d));
	memset(&local, 0, sizeof(local));
	if (!ms || !bounce) {
		fail(b, "out of memory");
		goto out;
	}
	if (!odp_buf_alloc(&local, &b->pair.req, size,
			   IBV_ACCESS_LOCAL_WRITE) ||
	    !dev_buf(b, &d, size, mode, false) ||
	    (mode != MODE_HOST && !to_device(b, &d, bounce)) ||
	    !op(b, opcode, &local, &d, 0, size) ||
	    dmirror_read_counters(b->dmirror, &c0)) {
		fail(b, "%s %s %zu B setup: %s", mode_names[mode],
		     odp_wr_opcode_name(opcode), size, odp_reason());
		goto out;
	}
	for (i = 0; i < b->iters; i++) {
		if (ping_pong && mode != MODE_HOST && !to_device(b, &d, bounce))
			break;
		t0 = odp_now_ms();
		if (!op(b, opcode, &local, &d, 0, size))
			break;
		ms[i] = odp_now_ms() - t0;
	}
	if (i < b->iters || dmirror_read_counters(b->dmirror, &c1)) {
		fail(b, "%s %s %zu B, operation %u: %s", mode_names[mode],
		     odp_wr_opcode_name(opcode), size, i + 1, odp_reason());
		goto out;
	}
	r->migrations =
		(double)(c1.migrated_to_ram - c0.migrated_to_ram) / b->iters;
	r->aliases = (double)(c1.alias_offered - c0.alias_offered) / b->iters;
	odp_median_min(ms, b->iters, &r->median_ms, &r->min_ms);
	r->ok = true;
	if (!check_bytes(opcode, &local, &d, size)) {
		fail(b, "%s %s %zu B: %s", mode_names[mode],
		     odp_wr_opcode_name(opcode), size, odp_reason());
		r->ok = false;
	}
	if (mode == MODE_ALIAS && r->migrations != 0) {
		fail(b, "alias %s %zu B: %.1f pages migrated per operation",
		     odp_wr_opcode_name(opcode), size, r->migrations);
		r->ok = false;
	}
out:
	odp_buf_free(&d);
	odp_buf_free(&local);
	free(bounce);
	free(ms);
}

/* first-touch: one pass of CHUNK operations over a fresh MR in @mode. */
static void run_first_touch(struct bench *b, enum ibv_wr_opcode opcode,
			    enum mode mode, struct result *r)
{
	size_t size = b->first_touch, off;
	struct hmm_dmirror_counters c0, c1;
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
	    dmirror_read_counters(b->dmirror, &c0)) {
		fail(b, "first-touch %s setup: %s", mode_names[mode],
		     odp_reason());
		goto out;
	}
	t0 = odp_now_ms();
	for (off = 0; off < size; off += CHUNK)
		if (!op(b, opcode, &local, &d, off, CHUNK))
			break;
	r->median_ms = r->min_ms = odp_now_ms() - t0;
	if (off < size || dmirror_read_counters(b->dmirror, &c1)) {
		fail(b, "first-touch %s at +%zu: %s", mode_names[mode], off,
		     odp_reason());
		goto out;
	}
	r->migrations = (double)(c1.migrated_to_ram - c0.migrated_to_ram);
	r->aliases = (double)(c1.alias_offered - c0.alias_offered);
	r->ok = check_bytes(opcode, &local, &d, size);
	if (!r->ok)
		fail(b, "first-touch %s: %s", mode_names[mode], odp_reason());
	if (mode == MODE_ALIAS && r->migrations != 0) {
		fail(b, "first-touch alias: %.0f pages migrated",
		     r->migrations);
		r->ok = false;
	}
out:
	odp_buf_free(&d);
	odp_buf_free(&local);
	free(bounce);
}

static void print_row(struct bench *b, const char *what,
		      enum ibv_wr_opcode opcode, size_t size,
		      const struct result res[NMODES])
{
	const struct result *h = &res[MODE_HOST], *a = &res[MODE_ALIAS],
			    *m = &res[MODE_MIGRATION];
	enum mode mode;

	printf("%-11s %-10s %8zu %10.3f %10.3f %10.3f %9.2f %9.2f %7.1f %7.1f\n",
	       what, odp_wr_opcode_name(opcode), size, h->median_ms,
	       a->median_ms, m->median_ms,
	       a->median_ms > 0 ? h->median_ms / a->median_ms : 0,
	       a->median_ms > 0 ? m->median_ms / a->median_ms : 0,
	       a->migrations, m->migrations);
	if (!b->json)
		return;
	for (mode = 0; mode < NMODES; mode++)
		fprintf(b->json,
			"{\"measure\":\"%s\",\"op\":\"%s\",\"bytes\":%zu,\"mode\":\"%s\",\"median_ms\":%.4f,\"min_ms\":%.4f,\"MiB_per_s\":%.2f,\"migrations_per_op\":%.2f,\"aliases_per_op\":%.2f,\"ok\":%s}\n",
			what, odp_wr_opcode_name(opcode), size,
			mode_names[mode], res[mode].median_ms, res[mode].min_ms,
			res[mode].median_ms > 0 ?
				(double)size / (1 << 20) /
					(res[mode].median_ms / 1000) :
				0,
			res[mode].migrations, res[mode].aliases,
			res[mode].ok ? "true" : "false");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: odp_rdma_bench [--sizes B[,B...]] [--iters N] [--first-touch-mib M] [--json FILE]\n"
		"  --sizes            operation sizes in bytes, at most %d (default 65536,1048576)\n"
		"  --iters            timed operations per size and mode, 1-%d (default 20)\n"
		"  --first-touch-mib  first-touch MR size, 1-%lu MiB (default 64; 0 skips it)\n"
		"  --json             also write one JSON object per mode and row\n",
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
				    !parse_size(tok, MAX_SIZE, &v) || !v) {
					fprintf(stderr,
						"odp_rdma_bench: --sizes: '%s' is not a size of 1 to %lu bytes, or more than %d sizes\n",
						tok, MAX_SIZE, MAX_SIZES);
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
			b->json = fopen(optarg, "w");
			if (!b->json) {
				fprintf(stderr, "odp_rdma_bench: %s: %s\n",
					optarg, strerror(errno));
				exit(ODP_EXIT_FAIL);
			}
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
	int index;

	parse_args(&b, argc, argv);
	odp_seed_start(odp_seed_from_env());
	setvbuf(stdout, NULL, _IOLBF, 0);

	switch (odp_pair_open(
		&b.pair, IBV_ODP_SUPPORT_WRITE | IBV_ODP_SUPPORT_READ, 0)) {
	case ODP_OPEN_OK:
		break;
	case ODP_OPEN_ABSENT:
		skip(odp_reason());
	case ODP_OPEN_FAILED:
		fprintf(stderr, "FAIL: %s\n", odp_reason());
		return ODP_EXIT_FAIL;
	}
	b.dmirror = dmirror_open(odp_dmirror_path());
	if (b.dmirror < 0) {
		if (dmirror_absent(-b.dmirror))
			skip(odp_reason());
		fprintf(stderr, "FAIL: %s\n", odp_reason());
		return ODP_EXIT_FAIL;
	}
	index = ibv_get_device_index(b.pair.resp.ctx->device);
	b.resp_index = index < 0 ? 0 : (uint32_t)index;
	if (index < 0 || rdma_nl_get_odp_alias(b.resp_index, &on))
		skip(index < 0 ? "rxe_b has no device index" : odp_reason());
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
		fail(&b, "resetting test_hmm's flags: %s", odp_reason());
	dmirror_close(b.dmirror);
	odp_pair_close(&b.pair);
	if (b.json && fclose(b.json))
		fail(&b, "writing the JSON: %s", strerror(errno));
	if (b.failures)
		fprintf(stderr, "odp_rdma_bench: %u checks failed\n",
			b.failures);
	return b.failures ? ODP_EXIT_FAIL : ODP_EXIT_PASS;
}
