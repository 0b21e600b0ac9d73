/*
 * pattern.c - see pattern.h.
 */
#include "pattern.h"
#include "env.h"
#include "reason.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t odp_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

size_t odp_round_up(size_t n, size_t align)
{
	return (n + align - 1) / align * align;
}

static uint32_t seed_next;
static uint32_t seed_prev;

uint32_t odp_seed_from_env(void)
{
	long v = odp_env_long("ODP_SEED", -1);

	if (v >= 0)
		return (uint32_t)v;
	return (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
}

void odp_seed_start(uint32_t first)
{
	seed_next = first;
	seed_prev = 0;
}

/* A 32-bit integer hash (lowbias32): spreads consecutive counters. */
static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static bool differs_in_every_byte(uint32_t a, uint32_t b)
{
	uint32_t d = a ^ b;

	return (d & 0xff) && (d & 0xff00) && (d & 0xff0000) && (d & 0xff000000);
}

uint32_t odp_seed(void)
{
	uint32_t s;

	do
		s = mix32(seed_next++);
	while (!differs_in_every_byte(s, seed_prev));
	seed_prev = s;
	return s;
}

/* Word @i of the pattern, as odp_pattern_byte() defines it. */
static uint32_t pattern_word(uint32_t seed, size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761U;

	return seed ^ x ^ (x >> 16);
}

unsigned int odp_rnd(unsigned int *state, unsigned int n)
{
	return n ? (unsigned int)rand_r(state) % n : 0;
}

uint64_t odp_rnd64(unsigned int *state)
{
	return (uint64_t)rand_r(state) << 42 ^ (uint64_t)rand_r(state) << 21 ^
	       (uint64_t)rand_r(state);
}

uint8_t odp_pattern_byte(uint32_t seed, size_t index)
{
	return (uint8_t)(pattern_word(seed, index / 4) >> (8 * (index % 4)));
}

/* The word as it lies in memory: its little-endian bytes. */
static uint32_t to_memory_order(uint32_t w)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap32(w);
#else
	return w;
#endif
}

/* Word at a time: the benchmarks fill tens of MiB under TCG. */
void odp_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i, words = len / 4;

	for (i = 0; i < words; i++) {
		uint32_t w = to_memory_order(pattern_word(seed, i));

		memcpy(p + 4 * i, &w, 4);
	}
	for (i = 4 * words; i < len; i++)
		p[i] = odp_pattern_byte(seed, i);
}

static bool byte_matches(const uint8_t *p, size_t i, uint32_t seed)
{
	return p[i] == odp_pattern_byte(seed, i);
}

size_t odp_verify(const void *buf, size_t from, size_t to, uint32_t seed,
		  size_t *first)
{
	const uint8_t *p = buf;
	size_t i = from, bad = 0, first_bad = 0, page = odp_page_size();

	while (i < to) {
		/* Whole aligned words that match: the common case, fast. */
		if (i % 4 == 0 && i + 4 <= to) {
			uint32_t want =
				to_memory_order(pattern_word(seed, i / 4));
			uint32_t got;

			memcpy(&got, p + i, 4);
			if (got == want) {
				i += 4;
				continue;
			}
		}
		if (!byte_matches(p, i, seed) && !bad++)
			first_bad = i;
		i++;
	}
	if (!bad)
		return 0;
	if (first)
		*first = first_bad;
	odp_fail(
		"%zu of %zu bytes differ, first at +%zu (page %zu + %zu): expected 0x%02x got 0x%02x",
		bad, to - from, first_bad, first_bad / page, first_bad % page,
		odp_pattern_byte(seed, first_bad), p[first_bad]);
	return bad;
}
