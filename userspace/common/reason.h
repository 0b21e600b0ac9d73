/*
 * reason.h - why the last call into the test library failed.
 *
 * The library never prints and never exits: its functions return a bool or
 * an errno and leave a one-line reason here, so that each caller reports a
 * failure its own way (a kselftest ASSERT with TH_LOG, a benchmark's FAIL
 * line on stderr).  Like dlerror(), one reason per process.
 */
#ifndef ODP_REASON_H
#define ODP_REASON_H

#include <stdbool.h>

#define ODP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* The reason of the last failure, "" if there was none. */
const char *odp_reason(void);

/* Sets the reason; returns false, so that "return odp_fail(...)" reads. */
bool odp_fail(const char *fmt, ...) ODP_PRINTF(1, 2);

/* Sets the reason "<call>: errno NAME (N, text)"; returns false. */
bool odp_fail_errno(int err, const char *fmt, ...) ODP_PRINTF(2, 3);

/* "EINVAL" for EINVAL, "0" for 0. */
const char *odp_errno_name(int err);

#endif /* ODP_REASON_H */
