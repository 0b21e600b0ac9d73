/*
 * env.c - see env.h.
 */
#include "env.h"

#include <errno.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CMake passes these from tests/vm/topology.env. */
#ifndef ODP_TOPOLOGY_DEV_A
#error "ODP_TOPOLOGY_* come from tests/vm/topology.env through CMake"
#endif

const char *odp_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && *v ? v : fallback;
}

long odp_env_long(const char *name, long fallback)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return fallback;
	n = strtol(v, &end, 0);
	return *end ? fallback : n;
}

bool odp_no_skip(void)
{
	return odp_env_long("ODP_NO_SKIP", 0) != 0;
}

void odp_report_fail(unsigned int *failures, const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	(*failures)++;
}

void odp_skip_exit(const char *fmt, ...)
{
	bool fatal = odp_no_skip();
	va_list ap;

	fputs(fatal ? "FAIL (ODP_NO_SKIP=1): cannot run: " : "SKIP: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(fatal ? ODP_EXIT_FAIL : ODP_EXIT_SKIP);
}

bool odp_parse_ulong(const char *s, unsigned long min, unsigned long max,
		     unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return !errno && end != s && !*end && *s != '-' && *v >= min &&
	       *v <= max;
}

long odp_timeout_scale(void)
{
	long scale = odp_env_long("ODP_TIMEOUT_SCALE", 1);

	return scale >= 1 && scale <= 100 ? scale : 1;
}

const char *odp_dev_a(void)
{
	return odp_env("ODP_DEV_A", ODP_TOPOLOGY_DEV_A);
}

const char *odp_dev_b(void)
{
	return odp_env("ODP_DEV_B", ODP_TOPOLOGY_DEV_B);
}

const char *odp_dmirror_path(void)
{
	return odp_env("ODP_DMIRROR", ODP_TOPOLOGY_DMIRROR);
}

const char *odp_dmirror_peer_path(void)
{
	return odp_env("ODP_DMIRROR_PEER", ODP_TOPOLOGY_DMIRROR_PEER);
}

const char *odp_dmirror_bar_path(void)
{
	return odp_env("ODP_DMIRROR_BAR", ODP_TOPOLOGY_DMIRROR_BAR);
}

bool odp_dmirror_is_bar(void)
{
	return strcmp(odp_dmirror_path(), odp_dmirror_bar_path()) == 0;
}
