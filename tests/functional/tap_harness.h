/*
 * tap_harness.h - a small test harness for programs that run under
 * valgrind: Linux 7.3's kselftest harness waits for each test with
 * pidfd_open(), which bookworm's valgrind (3.19) does not implement, so it
 * cannot run there.  Cases run one after the other in the process itself;
 * each prints "# RUN name", what it logged, and a KTAP result line, as
 * the kselftest harness does, so that tests/report.py reads both alike.
 * Under valgrind, a case also fails if memcheck found an error or a new
 * definite or indirect leak while it ran.
 *
 *	static void t_name(struct tap *t) { T_EQ(t, 1, f()); }
 *	static const struct tap_case cases[] = { TAP_CASE(name), ... };
 *	int main(void) { return tap_run(cases, TAP_NCASES(cases)); }
 */
#ifndef ODP_TAP_HARNESS_H
#define ODP_TAP_HARNESS_H

#include "env.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define TAP_VALGRIND 1
#else
#define TAP_VALGRIND 0
#endif

struct tap {
	bool failed;
	bool skipped;
	char skip_reason[256];
};

struct tap_case {
	const char *name;
	void (*fn)(struct tap *t);
};

#define TAP_CASE(name)          \
	{                       \
#name, t_##name \
	}
#define TAP_NCASES(cases) (sizeof(cases) / sizeof((cases)[0]))

static inline void __attribute__((format(printf, 4, 5)))
tap_fail(struct tap *t, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	t->failed = true;
	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A condition that must hold, and what to log if not; the case goes on. */
#define T_EXPECT(t, cond, fmt, ...)                                         \
	({                                                                  \
		bool _ok = (cond);                                          \
		if (!_ok)                                                   \
			tap_fail(t, __FILE__, __LINE__, "(%s) " fmt, #cond, \
				 ##__VA_ARGS__);                            \
		_ok;                                                        \
	})

/* Two integers (of any type, compared as long long) that must be equal. */
#define T_EQ(t, want, got)                                                           \
	({                                                                           \
		long long _w = (long long)(want), _g = (long long)(got);             \
		if (_w != _g)                                                        \
			tap_fail(                                                    \
				t, __FILE__, __LINE__,                               \
				"%s == %s: expected %lld (%#llx), got %lld (%#llx)", \
				#want, #got, _w, (unsigned long long)_w, _g,         \
				(unsigned long long)_g);                             \
		_w == _g;                                                            \
	})

#define T_STREQ(t, want, got)                                             \
	({                                                                \
		const char *_w = (want), *_g = (got);                     \
		bool _ok = _w && _g && !strcmp(_w, _g);                   \
		if (!_ok)                                                 \
			tap_fail(t, __FILE__, __LINE__,                   \
				 "%s: expected \"%s\", got \"%s\"", #got, \
				 _w ? _w : "(null)", _g ? _g : "(null)"); \
		_ok;                                                      \
	})

/* The same, and the case stops when they do not hold. */
#define T_ASSERT(t, cond, fmt, ...)                         \
	do {                                                \
		if (!T_EXPECT(t, cond, fmt, ##__VA_ARGS__)) \
			return;                             \
	} while (0)
#define T_AEQ(t, want, got)              \
	do {                             \
		if (!T_EQ(t, want, got)) \
			return;          \
	} while (0)

/* Logs a line with the case's output. */
#define T_LOG(fmt, ...) printf("# " fmt "\n", ##__VA_ARGS__)

/*
 * Skips the rest of the case; with ODP_NO_SKIP=1 (the VM), fails it: a
 * VM that lost its device cannot pass by skipping.
 */
#define T_SKIP(t, ...)                                               \
	do {                                                         \
		snprintf((t)->skip_reason, sizeof((t)->skip_reason), \
			 __VA_ARGS__);                               \
		if (odp_no_skip())                                   \
			tap_fail(t, __FILE__, __LINE__,              \
				 "cannot run (ODP_NO_SKIP=1): %s",   \
				 (t)->skip_reason);                  \
		else                                                 \
			(t)->skipped = true;                         \
		return;                                              \
	} while (0)

/* Runs every case; 0 if none failed (skips included), else 1. */
static inline int tap_run(const struct tap_case *cases, size_t n)
{
	size_t i, failed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%zu\n", n);
	for (i = 0; i < n; i++) {
		struct tap t = { 0 };
		unsigned long errors = 0, leaked0 = 0, dubious = 0,
			      reachable = 0, suppressed = 0;

		printf("#  RUN           %s ...\n", cases[i].name);
		if (TAP_VALGRIND) {
			errors = VALGRIND_COUNT_ERRORS;
			VALGRIND_DO_QUICK_LEAK_CHECK;
			VALGRIND_COUNT_LEAKS(leaked0, dubious, reachable,
					     suppressed);
		}
		cases[i].fn(&t);
		if (TAP_VALGRIND) {
			if (VALGRIND_COUNT_ERRORS != errors)
				tap_fail(
					&t, __FILE__, __LINE__,
					"valgrind: %lu new error(s), on stderr",
					VALGRIND_COUNT_ERRORS - errors);
			/* definitely and indirectly lost bytes */
			unsigned long leaked = 0;

			VALGRIND_DO_QUICK_LEAK_CHECK;
			VALGRIND_COUNT_LEAKS(leaked, dubious, reachable,
					     suppressed);
			if (leaked > leaked0)
				tap_fail(&t, __FILE__, __LINE__,
					 "valgrind: %lu more byte(s) leaked",
					 leaked - leaked0);
		}
		(void)dubious;
		(void)reachable;
		(void)suppressed;
		if (t.failed) {
			failed++;
			printf("not ok %zu %s\n", i + 1, cases[i].name);
		} else if (t.skipped) {
			skipped++;
			printf("ok %zu %s # SKIP %s\n", i + 1, cases[i].name,
			       t.skip_reason);
		} else {
			printf("ok %zu %s\n", i + 1, cases[i].name);
		}
	}
	printf("# Totals: pass:%zu fail:%zu skip:%zu\n", n - failed - skipped,
	       failed, skipped);
	return failed ? 1 : 0;
}

#endif /* ODP_TAP_HARNESS_H */
