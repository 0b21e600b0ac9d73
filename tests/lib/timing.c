/*
 * timing.c - see timing.h.
 */
#include "timing.h"

#include <stdlib.h>
#include <time.h>

double odp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void odp_pause_briefly(void)
{
	const struct timespec ts = { .tv_nsec = 100 * 1000 };

	nanosleep(&ts, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void odp_median_min(double *v, size_t n, double *median, double *min)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*min = v[0];
}
