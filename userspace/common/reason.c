/*
 * reason.c - see reason.h.
 */
#include "reason.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char reason[512];

const char *odp_reason(void)
{
	return reason;
}

bool odp_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return false;
}

const char *odp_errno_name(int err)
{
	const char *name = err ? strerrorname_np(err) : "0";

	return name ? name : "E?";
}

bool odp_fail_errno(int err, const char *fmt, ...)
{
	char call[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call, sizeof(call), fmt, ap);
	va_end(ap);
	return odp_fail("%s: errno %s (%d, %s)", call, odp_errno_name(err), err,
			strerror(err));
}
