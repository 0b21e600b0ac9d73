/*
 * pattern.h - buffers filled with a pattern that no misplaced byte, packet
 * or page can match by accident, and the check that finds where it differs.
 */
#ifndef ODP_PATTERN_H
#define ODP_PATTERN_H

#include <stddef.h>
#include <stdint.h>

size_t odp_page_size(void);
size_t odp_round_up(size_t n, size_t align);

/*
 * The first seed of a run: $ODP_SEED if set (to repeat a run), else one
 * made from the time and the pid.
 */
uint32_t odp_seed_from_env(void);
/* Makes odp_seed() start its sequence at @first. */
void odp_seed_start(uint32_t first);
/*
 * A new seed for a buffer's pattern. Consecutive seeds differ in every
 * byte, so two buffers filled one after the other differ at every index.
 */
uint32_t odp_seed(void);

/*
 * Choices a test repeats from a seed (rand_r() on *@state): a number below
 * @n (0 for @n 0), and 64 random bits.
 */
unsigned int odp_rnd(unsigned int *state, unsigned int n);
uint64_t odp_rnd64(unsigned int *state);

/*
 * Byte @index of the pattern @seed: little-endian bytes of the words
 * seed ^ h(i), i = index / 4, h(i) = x ^ (x >> 16) with x = i * 2654435761.
 * h is a bijection, so every word of a buffer differs and a misplaced
 * packet or page never matches by accident, as with a periodic pattern.
 * (The xor-shift keeps the low byte from repeating every 256 words, i.e.
 * every 1 KiB MTU packet, as i * 2654435761 alone would.)
 */
uint8_t odp_pattern_byte(uint32_t seed, size_t index);

/* buf[i] = odp_pattern_byte(seed, i) for i < len. */
void odp_fill(void *buf, size_t len, uint32_t seed);

/*
 * Counts the bytes of buf[from, to) that differ from the pattern @seed at
 * the same indices.  When some do, *first (may be NULL) gets the index of
 * the first, and odp_reason() says how many, where (page and offset) and
 * what was expected and found.
 */
size_t odp_verify(const void *buf, size_t from, size_t to, uint32_t seed,
		  size_t *first);

#endif /* ODP_PATTERN_H */
