/*
 * env.h - the ODP_* environment variables the tests, benchmarks and tools
 * read, and the exit statuses they share.
 *
 * Defaults for names that the VM's topology defines (devices, dmirror
 * paths) come from tests/vm/topology.env through CMake, so that they are
 * written in one place.
 */
#ifndef ODP_ENV_H
#define ODP_ENV_H

#include <stdbool.h>

/* Exit statuses; ODP_EXIT_SKIP is kselftest's KSFT_SKIP. */
enum {
	ODP_EXIT_PASS = 0,
	ODP_EXIT_FAIL = 1,
	ODP_EXIT_USAGE = 2,
	ODP_EXIT_SKIP = 4
};

/* $name, or @fallback when it is unset or empty. */
const char *odp_env(const char *name, const char *fallback);
/* $name as a number (any base strtol() takes), or @fallback. */
long odp_env_long(const char *name, long fallback);

/*
 * A command-line number: all of @s, in any base strtoul() reads with base
 * 0 (0x..: hex), from @min to @max; false for anything else, a sign
 * included.
 */
bool odp_parse_ulong(const char *s, unsigned long min, unsigned long max,
		     unsigned long *v);

/*
 * $ODP_TIMEOUT_SCALE (1 to 100, default 1; set by the debug kernel's run):
 * how many times longer every timeout and time budget of the tests is.
 */
long odp_timeout_scale(void);

/*
 * ODP_NO_SKIP=1 (set in the VM): what would be a skip is a failure, so
 * that a VM that lost a device or a capability cannot pass by skipping.
 */
bool odp_no_skip(void);

/*
 * For programs that are not kselftest harness tests (the benchmarks): a
 * failed check, "FAIL: ..." on stderr, counted in *@failures; and a skip,
 * "SKIP: ..." and exit ODP_EXIT_SKIP, or under ODP_NO_SKIP=1 a failure.
 */
void odp_report_fail(unsigned int *failures, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
_Noreturn void odp_skip_exit(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* The RDMA devices of hosts A and B: $ODP_DEV_A, $ODP_DEV_B. */
const char *odp_dev_a(void);
const char *odp_dev_b(void);
/* test_hmm's exporter and a second device: $ODP_DMIRROR, $ODP_DMIRROR_PEER. */
const char *odp_dmirror_path(void);
const char *odp_dmirror_peer_path(void);
/*
 * test_hmm's device whose memory is a PCI BAR (test_hmm_bar, on the VM's
 * ivshmem function of host A): $ODP_DMIRROR_BAR.
 */
const char *odp_dmirror_bar_path(void);
/*
 * Whether odp_dmirror_path() is that device: the exporter under test hands
 * out PCI P2PDMA aliases, which rxe reaches with MMIO accessors.
 */
bool odp_dmirror_is_bar(void);

#endif /* ODP_ENV_H */
