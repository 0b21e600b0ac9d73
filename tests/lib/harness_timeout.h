/*
 * harness_timeout.h - the kselftest harness' test timeouts, times
 * $ODP_TIMEOUT_SCALE (a whole number from 1 to 100; default 1).  The debug
 * kernel (make test-debug) runs the same tests several times slower than
 * the base kernel, and the harness has no switch for its timeouts, which
 * are compiled in (TEST_TIMEOUT_DEFAULT, TEST_F_TIMEOUT()).
 *
 * Include it before kselftest_harness.h (our tests: odp_harness.h; the
 * kernel's hmm-tests: gcc -include, build-hmm-tests.sh).  The harness waits
 * for each test with one poll() whose timeout is the test's: poll() here
 * is odp_scaled_poll(), which scales a positive timeout and leaves an
 * infinite (-1) or zero one alone.  Our tests #undef poll after the
 * harness; in hmm-tests, whose own poll() waits forever (-1), it stays.
 */
#ifndef ODP_HARNESS_TIMEOUT_H
#define ODP_HARNESS_TIMEOUT_H

/* As kselftest_harness.h does, before the first system header */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <limits.h>
#include <poll.h>
#include <stdlib.h>

static inline int odp_scaled_poll(struct pollfd *fds, nfds_t nfds,
				  int timeout_ms)
{
	const char *v = getenv("ODP_TIMEOUT_SCALE");
	long scale = v ? strtol(v, NULL, 10) : 1;

	if (timeout_ms > 0 && scale > 1 && scale <= 100)
		timeout_ms = timeout_ms > INT_MAX / scale ?
				     INT_MAX :
				     (int)(timeout_ms * scale);
	return poll(fds, nfds, timeout_ms);
}

/* Calls only: the name as such (a pointer to poll) stays libc's */
#define poll(fds, nfds, timeout) odp_scaled_poll(fds, nfds, timeout)

#endif /* ODP_HARNESS_TIMEOUT_H */
