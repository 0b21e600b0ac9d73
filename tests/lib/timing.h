/*
 * timing.h - a monotonic clock in milliseconds, short pauses for polling
 * loops, and the statistics the benchmarks print.
 */
#ifndef ODP_TIMING_H
#define ODP_TIMING_H

#include <stddef.h>

/* CLOCK_MONOTONIC, in milliseconds. */
double odp_now_ms(void);

/* Sleeps 100 us: the step of loops that poll for a completion or state. */
void odp_pause_briefly(void);

/* Median and minimum of @n > 0 values; sorts @v in place. */
void odp_median_min(double *v, size_t n, double *median, double *min);

#endif /* ODP_TIMING_H */
