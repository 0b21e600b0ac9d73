/*
 * hmm_alias_fault_bench - how long an importing device takes to fault
 * memory that lives in another device's device-private memory, through
 * DMA-able aliases versus through migration to system RAM.
 *
 * Both devices are test_hmm's (lib/test_hmm.c): the exporter,
 * /dev/hmm_dmirror0, owns the device-private pages; the importer,
 * /dev/hmm_dmirror1, has HMM_DMIRROR_FLAG_IMPORT_ALIAS set on its file and
 * reads the buffer with HMM_DMIRROR_READ, i.e. hmm_range_fault() with a
 * request for aliases. Two modes:
 *   alias      the exporter offers aliases (HMM_DMIRROR_DEVICE_EXPORT_ALIAS):
 *              every page is mapped through its alias and stays on the
 *              exporter, nothing migrates;
 *   migration  the exporter offers none: every page migrates to RAM first,
 *              which is what Linux 7.3 does for every foreign device.
 * Each repetition, for each mode in turn: a fresh buffer is filled with a
 * pattern and migrated to the exporter (not timed), the importer's READ of
 * the whole buffer is timed, then the bytes it read, the exporter's view
 * of where the pages are (SNAPSHOT) and the exporter's counters are
 * checked: with aliases 0 migrations and one alias per page, pages still
 * DEV_PRIVATE_LOCAL; through migration one migration per page, pages in
 * RAM.
 *
 * Prints a table (median and minimum of the timed READs) and the ratio
 * migration/alias; --json FILE writes the same as JSON. Exit status 0 if
 * every check passed, 1 if one failed, 4 (skip, as kselftest) without the
 * two devices or without the alias ioctls (a kernel without the mm/hmm
 * alias series); with ODP_NO_SKIP=1 a skip is a failure.  The buffers hold
 * the tests' pattern (tests/lib/pattern.h); ODP_SEED repeats a run.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dmirror.h"
#include "env.h"
#include "pattern.h"
#include "reason.h"
#include "timing.h"

#define DEFAULT_SIZE_MIB 64
#define DEFAULT_REPEAT 5
#define MAX_SIZE_MIB 4096
#define MAX_REPEAT 1000

enum mode {
	MODE_ALIAS,
	MODE_MIGRATION,
	NMODES
};

static const char *const mode_names[NMODES] = {
	[MODE_ALIAS] = "alias",
	[MODE_MIGRATION] = "migration",
};

/* What one timed READ did, from the exporter's and the importer's counters */
struct run {
	double ms;
	uint64_t migrations; /* exporter: pages migrated to RAM */
	uint64_t aliases; /* exporter: aliases handed out */
	uint64_t refused; /* exporter: alias requests refused */
	uint64_t mapped; /* importer: aliases mapped */
	bool measured; /* the READ succeeded: ms and the counts are valid */
	bool ok; /* every check of this run passed */
};

struct bench {
	size_t size_mib;
	unsigned int repeat;
	const char *json_path;
	size_t page_size;
	size_t npages;
	const char *exporter_path;
	const char *importer_path;
	int exporter;
	int importer;
	void *bounce;
	struct run *runs[NMODES];
	unsigned int failures;
};

/*
 * Snapshots the buffer through the exporter (no fault, so it moves
 * nothing) and checks that every page is @place: on the exporter, or in RAM.
 */
static bool check_residency(struct bench *b, const char *what, void *buf,
			    enum dmirror_place place)
{
	if (dmirror_check_places(b->exporter, buf, b->npages, 0, b->npages - 1,
				 place, place))
		return true;
	odp_report_fail(&b->failures, "%s: %s", what, odp_reason());
	return false;
}

/* Reads the exporter's counters into @e and the importer's into @i. */
static bool read_counters(struct bench *b, const char *what,
			  struct hmm_dmirror_counters *e,
			  struct hmm_dmirror_counters *i)
{
	int err = dmirror_read_counters(b->exporter, e);

	if (!err)
		err = dmirror_read_counters(b->importer, i);
	if (err)
		odp_report_fail(&b->failures,
				"%s: ioctl(HMM_DMIRROR_COUNTERS): %s", what,
				strerror(err));
	return !err;
}

/* One repetition of one mode; @r->ok says whether it measured and passed. */
static void run_once(struct bench *b, enum mode mode, unsigned int rep,
		     struct run *r)
{
	bool alias = mode == MODE_ALIAS;
	enum dmirror_place after = alias ? DMIRROR_ON_DEVICE : DMIRROR_IN_RAM;
	size_t size = b->npages * b->page_size;
	uint32_t seed = odp_seed();
	struct hmm_dmirror_counters e0, e1, i0, i1;
	uint64_t cpages = 0;
	char what[64];
	double t0;
	void *buf;
	int err;

	snprintf(what, sizeof(what), "%s run %u", mode_names[mode], rep + 1);
	memset(r, 0, sizeof(*r));

	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		odp_report_fail(&b->failures, "%s: mmap(%zu): %s", what, size,
				strerror(errno));
		return;
	}
	/* Base pages: one alias or one migration per page, counted alike. */
	if (madvise(buf, size, MADV_NOHUGEPAGE))
		fprintf(stderr, "warning: madvise(MADV_NOHUGEPAGE): %s\n",
			strerror(errno));
	odp_fill(buf, size, seed);

	err = dmirror_set_device_flags(
		b->exporter, alias ? HMM_DMIRROR_DEVICE_EXPORT_ALIAS : 0);
	if (!err)
		err = dmirror_set_flags(b->importer,
					HMM_DMIRROR_FLAG_IMPORT_ALIAS);
	if (err) {
		odp_report_fail(&b->failures,
				"%s: ioctl(HMM_DMIRROR_FLAGS): %s", what,
				strerror(err));
		goto out;
	}
	if (!dmirror_migrate_to_device(b->exporter, buf, b->npages,
				       b->bounce)) {
		odp_report_fail(&b->failures,
				"%s: migration to the exporter: %s", what,
				odp_reason());
		goto out;
	}
	if (!check_residency(b, what, buf, DMIRROR_ON_DEVICE))
		goto out;

	/* Clear (and populate) the bounce buffer: MIGRATE_TO_DEV filled it. */
	memset(b->bounce, 0, size);
	if (!read_counters(b, what, &e0, &i0))
		goto out;

	t0 = odp_now_ms();
	err = dmirror_cmd(b->importer, HMM_DMIRROR_READ, buf, b->npages,
			  b->bounce, &cpages);
	r->ms = odp_now_ms() - t0;
	if (err || cpages != b->npages) {
		odp_report_fail(&b->failures,
				"%s: importer READ: %s, %" PRIu64
				" of %zu pages",
				what, err ? strerror(err) : "ok", cpages,
				b->npages);
		goto out;
	}

	if (!read_counters(b, what, &e1, &i1))
		goto out;
	r->migrations = e1.migrated_to_ram - e0.migrated_to_ram;
	r->aliases = e1.alias_offered - e0.alias_offered;
	r->refused = e1.alias_refused - e0.alias_refused;
	r->mapped = i1.alias_mapped - i0.alias_mapped;
	r->measured = true;
	r->ok = true;

	if (odp_verify(b->bounce, 0, size, seed, NULL)) {
		odp_report_fail(&b->failures, "%s: bytes read: %s", what,
				odp_reason());
		r->ok = false;
	}
	if (r->migrations != (alias ? 0 : b->npages)) {
		odp_report_fail(&b->failures,
				"%s: %" PRIu64
				" pages migrated to RAM, expected %zu",
				what, r->migrations, alias ? 0 : b->npages);
		r->ok = false;
	}
	if (r->aliases != (alias ? b->npages : 0)) {
		odp_report_fail(&b->failures,
				"%s: %" PRIu64
				" aliases handed out, expected %zu",
				what, r->aliases, alias ? b->npages : 0);
		r->ok = false;
	}
	if (!check_residency(b, what, buf, after))
		r->ok = false;
out:
	munmap(buf, size);
}

struct summary {
	double median_ms;
	double min_ms;
	double mib_per_s;
	uint64_t migrations; /* per run, when every run agrees */
	uint64_t aliases;
	bool uniform; /* every run counted the same */
	unsigned int measured; /* runs whose READ succeeded */
};

static struct summary summarize(const struct bench *b, enum mode mode)
{
	const struct run *runs = b->runs[mode];
	struct summary s = { 0 };
	double ms[MAX_REPEAT];
	unsigned int i, n = 0;

	s.uniform = true;
	for (i = 0; i < b->repeat; i++) {
		if (!runs[i].measured)
			continue;
		if (n && (runs[i].migrations != s.migrations ||
			  runs[i].aliases != s.aliases))
			s.uniform = false;
		s.migrations = runs[i].migrations;
		s.aliases = runs[i].aliases;
		ms[n++] = runs[i].ms;
	}
	s.measured = n;
	if (!n)
		return s;
	odp_median_min(ms, n, &s.median_ms, &s.min_ms);
	s.mib_per_s =
		s.median_ms > 0 ? (double)b->size_mib * 1e3 / s.median_ms : 0;
	return s;
}

static void print_table(const struct bench *b, const struct summary *s)
{
	int m;

	printf("\n%s (importer) faults %zu MiB (%zu pages) that live in %s's device-private memory; %u repetitions\n",
	       b->importer_path, b->size_mib, b->npages, b->exporter_path,
	       b->repeat);
	printf("%-10s %6s %10s %10s %9s %11s %9s\n", "mode", "MiB", "median ms",
	       "min ms", "MiB/s", "migrations", "aliases");
	for (m = 0; m < NMODES; m++) {
		if (!s[m].measured) {
			printf("%-10s %6zu %10s\n", mode_names[m], b->size_mib,
			       "(failed)");
			continue;
		}
		printf("%-10s %6zu %10.1f %10.1f %9.1f %11" PRIu64 " %9" PRIu64
		       "%s\n",
		       mode_names[m], b->size_mib, s[m].median_ms, s[m].min_ms,
		       s[m].mib_per_s, s[m].migrations, s[m].aliases,
		       s[m].uniform ? "" : " (varies)");
	}
	if (s[MODE_ALIAS].measured && s[MODE_MIGRATION].measured &&
	    s[MODE_ALIAS].median_ms > 0)
		printf("migration/alias (median): %.2fx\n",
		       s[MODE_MIGRATION].median_ms / s[MODE_ALIAS].median_ms);
	printf("migrations: pages the exporter migrated to RAM per run; aliases: aliases it handed out per run\n");
}

enum run_count {
	COUNT_MIGRATIONS,
	COUNT_ALIASES,
	COUNT_REFUSED,
	COUNT_MAPPED
};

static uint64_t run_count(const struct run *r, enum run_count which)
{
	switch (which) {
	case COUNT_MIGRATIONS:
		return r->migrations;
	case COUNT_ALIASES:
		return r->aliases;
	case COUNT_REFUSED:
		return r->refused;
	case COUNT_MAPPED:
		return r->mapped;
	}
	return 0;
}

/* "name": [per-run count, ...] */
static void json_counts(FILE *f, const struct bench *b, enum mode mode,
			const char *name, enum run_count which)
{
	unsigned int i;

	fprintf(f, ",\n      \"%s\": [", name);
	for (i = 0; i < b->repeat; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "",
			run_count(&b->runs[mode][i], which));
	fputc(']', f);
}

static bool write_json(const struct bench *b, const struct summary *s)
{
	FILE *f = fopen(b->json_path, "w");
	struct utsname u;
	unsigned int i;
	int m;

	if (!f) {
		fprintf(stderr, "FAIL: fopen(%s): %s\n", b->json_path,
			strerror(errno));
		return false;
	}
	if (uname(&u))
		strcpy(u.release, "unknown");
	fprintf(f, "{\n  \"benchmark\": \"hmm_alias_fault\",\n");
	fprintf(f, "  \"kernel\": \"%s\",\n", u.release);
	fprintf(f, "  \"exporter\": \"%s\",\n  \"importer\": \"%s\",\n",
		b->exporter_path, b->importer_path);
	fprintf(f, "  \"size_mib\": %zu,\n  \"page_size\": %zu,\n", b->size_mib,
		b->page_size);
	fprintf(f, "  \"npages\": %zu,\n  \"repeat\": %u,\n", b->npages,
		b->repeat);
	fprintf(f, "  \"modes\": [\n");
	for (m = 0; m < NMODES; m++) {
		fprintf(f, "    {\n      \"mode\": \"%s\",\n", mode_names[m]);
		fprintf(f, "      \"measured\": %u,\n", s[m].measured);
		fprintf(f, "      \"median_ms\": %.3f,\n", s[m].median_ms);
		fprintf(f, "      \"min_ms\": %.3f,\n", s[m].min_ms);
		fprintf(f, "      \"mib_per_s\": %.1f,\n", s[m].mib_per_s);
		fprintf(f, "      \"times_ms\": [");
		for (i = 0; i < b->repeat; i++)
			fprintf(f, "%s%.3f", i ? ", " : "", b->runs[m][i].ms);
		fputc(']', f);
		json_counts(f, b, m, "migrations_to_ram", COUNT_MIGRATIONS);
		json_counts(f, b, m, "aliases_offered", COUNT_ALIASES);
		json_counts(f, b, m, "aliases_refused", COUNT_REFUSED);
		json_counts(f, b, m, "aliases_mapped_by_importer",
			    COUNT_MAPPED);
		fprintf(f, ",\n      \"checks_passed\": [");
		for (i = 0; i < b->repeat; i++)
			fprintf(f, "%s%s", i ? ", " : "",
				b->runs[m][i].ok ? "true" : "false");
		fprintf(f, "]\n    }%s\n", m + 1 < NMODES ? "," : "");
	}
	fprintf(f, "  ],\n");
	if (s[MODE_ALIAS].measured && s[MODE_MIGRATION].measured &&
	    s[MODE_ALIAS].median_ms > 0)
		fprintf(f, "  \"ratio_migration_over_alias\": %.3f,\n",
			s[MODE_MIGRATION].median_ms / s[MODE_ALIAS].median_ms);
	else
		fprintf(f, "  \"ratio_migration_over_alias\": null,\n");
	fprintf(f, "  \"pass\": %s\n}\n", b->failures ? "false" : "true");
	if (fclose(f)) {
		fprintf(stderr, "FAIL: writing %s: %s\n", b->json_path,
			strerror(errno));
		return false;
	}
	return true;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [--size MiB] [--repeat N] [--json FILE]\n"
		"  --size MiB    buffer size (default %d, at most %d)\n"
		"  --repeat N    timed faults per mode (default %d, at most %d); median and min\n"
		"  --json FILE   also write the results as JSON\n"
		"Exporter %s, importer %s (test_hmm; $ODP_DMIRROR and $ODP_DMIRROR_PEER\n"
		"name them); exits 4 (skip) without them or without the alias ioctls.\n",
		argv0, DEFAULT_SIZE_MIB, MAX_SIZE_MIB, DEFAULT_REPEAT,
		MAX_REPEAT, odp_dmirror_path(), odp_dmirror_peer_path());
}

static bool parse_count(const char *arg, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || !v || v > max || arg[0] == '-')
		return false;
	*out = v;
	return true;
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	b->size_mib = DEFAULT_SIZE_MIB;
	b->repeat = DEFAULT_REPEAT;
	while ((c = getopt_long(argc, argv, "s:r:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_count(optarg, MAX_SIZE_MIB, &v))
				goto bad;
			b->size_mib = v;
			break;
		case 'r':
			if (!parse_count(optarg, MAX_REPEAT, &v))
				goto bad;
			b->repeat = (unsigned int)v;
			break;
		case 'j':
			b->json_path = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(ODP_EXIT_PASS);
		default:
			goto bad;
		}
	}
	if (optind == argc)
		return;
bad:
	usage(stderr, argv[0]);
	exit(ODP_EXIT_USAGE);
}

static int open_dmirror(const char *path)
{
	int fd = dmirror_open(path);

	if (fd >= 0)
		return fd;
	if (dmirror_absent(-fd))
		odp_skip_exit("%s", odp_reason());
	fprintf(stderr, "FAIL: %s\n", odp_reason());
	exit(ODP_EXIT_FAIL);
}

int main(int argc, char **argv)
{
	struct bench b = { .exporter = -1, .importer = -1 };
	struct summary s[NMODES];
	struct hmm_dmirror_counters c;
	struct stat st[2];
	unsigned int rep;
	uint32_t seed;
	size_t size;
	int m, err;

	parse_args(&b, argc, argv);
	b.page_size = odp_page_size();
	size = b.size_mib << 20;
	b.npages = size / b.page_size;

	b.exporter_path = odp_dmirror_path();
	b.importer_path = odp_dmirror_peer_path();
	b.exporter = open_dmirror(b.exporter_path);
	b.importer = open_dmirror(b.importer_path);
	/*
	 * A second file on the exporter would fault the exporter's own pages:
	 * no alias to measure, and test_hmm copies from the device private
	 * struct page itself (Linux 7.3 oopses in dmirror_do_read()).
	 */
	if (fstat(b.exporter, &st[0]) || fstat(b.importer, &st[1])) {
		fprintf(stderr, "FAIL: fstat: %s\n", strerror(errno));
		return ODP_EXIT_FAIL;
	}
	if (st[0].st_rdev == st[1].st_rdev) {
		fprintf(stderr,
			"%s and %s are the same device: the importer must be another one\n",
			b.exporter_path, b.importer_path);
		return ODP_EXIT_USAGE;
	}
	/* Linux 7.3's test_hmm answers EINVAL to an unknown command. */
	err = dmirror_read_counters(b.exporter, &c);
	if (err == ENOTTY || err == EINVAL)
		odp_skip_exit(
			"%s has no HMM_DMIRROR_COUNTERS (%s): kernel without DMA-able aliases of device-private pages",
			b.exporter_path, strerror(err));
	if (err) {
		fprintf(stderr, "FAIL: ioctl(HMM_DMIRROR_COUNTERS): %s\n",
			strerror(err));
		return ODP_EXIT_FAIL;
	}

	b.bounce = malloc(size);
	for (m = 0; m < NMODES; m++)
		b.runs[m] = calloc(b.repeat, sizeof(struct run));
	if (!b.bounce || !b.runs[MODE_ALIAS] || !b.runs[MODE_MIGRATION]) {
		fprintf(stderr, "FAIL: out of memory\n");
		return ODP_EXIT_FAIL;
	}

	seed = odp_seed_from_env();
	odp_seed_start(seed);
	printf("seed 0x%08x (ODP_SEED=0x%08x repeats this run)\n", seed, seed);
	/* Alternate the modes so that drift in the machine hits both alike. */
	for (rep = 0; rep < b.repeat; rep++)
		for (m = 0; m < NMODES; m++)
			run_once(&b, (enum mode)m, rep, &b.runs[m][rep]);

	/* The export flags belong to the device: leave them as found. */
	err = dmirror_set_device_flags(b.exporter, 0);
	if (err)
		odp_report_fail(&b.failures,
				"resetting HMM_DMIRROR_DEVICE_FLAGS: %s",
				strerror(err));

	for (m = 0; m < NMODES; m++)
		s[m] = summarize(&b, (enum mode)m);
	print_table(&b, s);
	if (b.json_path && !write_json(&b, s))
		b.failures++;
	if (b.failures)
		printf("FAIL: %u check(s) failed\n", b.failures);

	for (m = 0; m < NMODES; m++)
		free(b.runs[m]);
	free(b.bounce);
	close(b.importer);
	close(b.exporter);
	return b.failures ? ODP_EXIT_FAIL : ODP_EXIT_PASS;
}
