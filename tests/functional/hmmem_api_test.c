/*
 * hmmem_api_test.c - libhmmem (userspace/lib/hmmem.h) against test_hmm:
 * every documented error on bad input, bytes and page places after moving
 * a range to the device and back, the exporter's counters moved by the
 * exact page count, handles across threads and fork().  Runs under
 * valgrind (see CMakeLists.txt), which fails a case on any invalid access
 * or leak (tap_harness.h).  Without test_hmm (on the host) the device
 * cases skip.
 */
#include "tap_harness.h"

#include "env.h"
#include "pattern.h"
#include "reason.h"

#include <hmmem.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* buf[from, to) holds the pattern @seed; @what names those bytes. */
#define T_PATTERN(t, what, buf, from, to, seed)                           \
	T_EXPECT(t, odp_verify(buf, from, to, seed, NULL) == 0, "%s: %s", \
		 what, odp_reason())

/* Every errno hmmem.h documents, each with its own explanation. */
static const int documented_errors[] = {
	EINVAL, EOVERFLOW, EFAULT,     EACCES, ENOENT, ENODEV,
	EBADF,	ECHILD,	   EOPNOTSUPP, ENOSPC, EMFILE,
};

static void t_open_rejects_bad_device_names(struct tap *t)
{
	T_EQ(t, -EINVAL, hmmem_open(NULL));
	T_EQ(t, -EINVAL, hmmem_open(""));
	T_EQ(t, -EINVAL, hmmem_open("test_hmm:"));
	T_EQ(t, -EINVAL, hmmem_open("test_hmm:x"));
	T_EQ(t, -EINVAL, hmmem_open("test_hmm:-1"));
	T_EQ(t, -EINVAL, hmmem_open("test_hmm:1x"));
	T_EQ(t, -EINVAL, hmmem_open("test_hmm: 1"));
	T_EQ(t, -EINVAL, hmmem_open("cuda:zero"));
	T_EQ(t, -ENOENT, hmmem_open("nonsense"));
	T_EQ(t, -ENOENT, hmmem_open("test_hm"));
	T_EQ(t, -ENOENT, hmmem_open("test_hmmm:0"));
	T_EQ(t, -ENOENT, hmmem_open(":0"));
	T_EQ(t, -ENODEV, hmmem_open("test_hmm:/dev/hmm_dmirror_none"));
	T_EQ(t, -ENODEV, hmmem_open("test_hmm:200"));
	/* A character device that is not test_hmm's is not opened. */
	T_EQ(t, -ENODEV, hmmem_open("test_hmm:/dev/null"));
	/* A file that is not a device node. */
	char spec[64] = "test_hmm:/tmp/hmmem_api_test.XXXXXX";
	int fd = mkstemp(spec + strlen("test_hmm:"));

	T_ASSERT(t, fd >= 0, "mkstemp: %s", strerror(errno));
	T_EQ(t, -ENODEV, hmmem_open(spec));
	close(fd);
	unlink(spec + strlen("test_hmm:"));
}

static void t_cuda_without_libcuda_is_not_available(struct tap *t)
{
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);

	if (lib) {
		dlclose(lib);
		t->skipped = true;
		snprintf(t->skip_reason, sizeof(t->skip_reason),
			 "libcuda is installed here");
		return;
	}
	T_EQ(t, -ENODEV, hmmem_open("cuda"));
	T_EQ(t, -ENODEV, hmmem_open("cuda:3"));
}

static void t_calls_on_handles_never_opened_fail_with_ebadf(struct tap *t)
{
	/* Generation 0 is never issued: slot numbers alone are never valid. */
	const int handles[] = { 0, -1, 1, 512, 1023, -EINVAL, INT_MIN };
	struct hmmem_counters c;
	char buf[64], name[32];
	uint8_t place;
	size_t i;

	for (i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
		int h = handles[i];

		T_EQ(t, -EBADF, hmmem_close(h));
		T_EQ(t, -EBADF, hmmem_to_device(h, buf, sizeof(buf)));
		T_EQ(t, -EBADF, hmmem_to_host(h, buf, sizeof(buf)));
		T_EQ(t, -EBADF, hmmem_where(h, buf, 1, &place, 1));
		T_EQ(t, -EBADF, hmmem_counters(h, &c, sizeof(c)));
		T_EQ(t, -EBADF, hmmem_set_aliases(h, 1));
		T_EQ(t, -EBADF, hmmem_name(h, name, sizeof(name)));
	}
}

static void t_strerror_explains_every_documented_error(struct tap *t)
{
	size_t n = sizeof(documented_errors) / sizeof(documented_errors[0]);
	size_t i, j;

	T_STREQ(t, "success", hmmem_strerror(0));
	T_STREQ(t, "success", hmmem_strerror(42));
	for (i = 0; i < n; i++) {
		const char *m = hmmem_strerror(-documented_errors[i]);

		T_ASSERT(t, m != NULL, "errno %d", documented_errors[i]);
		T_EXPECT(t, strcmp(m, "unknown error") && strcmp(m, "success"),
			 "errno %d: %s", documented_errors[i], m);
		for (j = 0; j < i; j++)
			T_EXPECT(t,
				 strcmp(m,
					hmmem_strerror(-documented_errors[j])),
				 "errnos %d and %d read alike",
				 documented_errors[i], documented_errors[j]);
	}
	/* Anything else: the C library's text, never NULL. */
	T_STREQ(t, strerror(ENOMEM), hmmem_strerror(-ENOMEM));
	T_STREQ(t, "unknown error", hmmem_strerror(-100000));
	T_STREQ(t, "unknown error", hmmem_strerror(LONG_MIN));
}

static void t_npages_counts_every_page_a_range_touches(struct tap *t)
{
	size_t page = odp_page_size();
	char *base = (char *)(uintptr_t)(page * 1000);

	T_EQ(t, 1, hmmem_npages(base, page));
	T_EQ(t, 2, hmmem_npages(base, page + 1));
	T_EQ(t, 2, hmmem_npages(base + 1, page));
	T_EQ(t, 1, hmmem_npages(base + page - 1, 1));
	T_EQ(t, 2, hmmem_npages(base + page - 1, 2));
	T_EQ(t, 3, hmmem_npages(base + page - 1, page + 2));
	T_EQ(t, 0, hmmem_npages(base, 0));
	T_EQ(t, 0, hmmem_npages((void *)(UINTPTR_MAX - 10), 100));
	T_EQ(t, 1, hmmem_npages((void *)(UINTPTR_MAX - 10), 11));
}

static void t_place_names_are_stable(struct tap *t)
{
	T_STREQ(t, "none", hmmem_place_name(HMMEM_PLACE_NONE));
	T_STREQ(t, "host", hmmem_place_name(HMMEM_PLACE_HOST));
	T_STREQ(t, "device", hmmem_place_name(HMMEM_PLACE_DEVICE));
	T_STREQ(t, "other-device", hmmem_place_name(HMMEM_PLACE_OTHER_DEVICE));
	T_STREQ(t, "unknown", hmmem_place_name(HMMEM_PLACE_UNKNOWN));
	T_STREQ(t, "some-device", hmmem_place_name(HMMEM_PLACE_SOME_DEVICE));
	T_STREQ(t, "?", hmmem_place_name(99));
	T_STREQ(t, "?", hmmem_place_name(-1));
}

/* The page counts of the buffer, and of the part that is moved. */
#define NPAGES 37
#define FIRST 3 /* first page moved */
#define LAST 29 /* last page moved */
#define MOVED (LAST - FIRST + 1)

struct dev {
	int h;
	size_t page;
	char *buf; /* NPAGES pages, with the pattern @seed */
	uint32_t seed;
	char spec[128];
};

/* A test_hmm handle, or a skip; a buffer of NPAGES filled pages. */
static void dev_setup(struct tap *t, struct dev *d)
{
	d->page = odp_page_size();
	d->buf = MAP_FAILED;
	snprintf(d->spec, sizeof(d->spec), "test_hmm:%s", odp_dmirror_path());
	d->h = hmmem_open(d->spec);
	if (d->h == -ENODEV)
		T_SKIP(t, "%s: %s", d->spec, hmmem_strerror(d->h));
	T_ASSERT(t, d->h > 0, "%s: %s", d->spec, hmmem_strerror(d->h));
	d->buf = mmap(NULL, NPAGES * d->page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(t, d->buf != MAP_FAILED, "mmap: %s", strerror(errno));
	d->seed = odp_seed();
	odp_fill(d->buf, NPAGES * d->page, d->seed);
	T_LOG("seed 0x%08x", d->seed);
}

static void dev_teardown(struct tap *t, struct dev *d)
{
	if (d->buf != MAP_FAILED)
		munmap(d->buf, NPAGES * d->page);
	if (d->h > 0)
		T_EQ(t, 0, hmmem_close(d->h));
}

/* A case with a test_hmm handle and a buffer: void dev_NAME(t, d). */
#define DEV_CASE(name)                                         \
	static void dev_##name(struct tap *t, struct dev *d);  \
	static void t_##name(struct tap *t)                    \
	{                                                      \
		struct dev d = { .h = -1, .buf = MAP_FAILED }; \
		dev_setup(t, &d);                              \
		if (!t->failed && !t->skipped)                 \
			dev_##name(t, &d);                     \
		dev_teardown(t, &d);                           \
	}                                                      \
	static void dev_##name(struct tap *t, struct dev *d)

/*
 * Checks that page i of the buffer is at @moved for FIRST <= i <= LAST
 * and at @others elsewhere, as handle @h sees it, asking for a range that
 * starts and ends mid-page.
 */
static bool expect_places(struct tap *t, struct dev *d, int h, uint8_t moved,
			  uint8_t others)
{
	uint8_t places[NPAGES + 1];
	bool ok = true;
	size_t i;

	memset(places, 0xaa, sizeof(places));
	/* From mid page 0 to mid page NPAGES - 1: every page. */
	if (!T_EQ(t, NPAGES,
		  hmmem_where(h, d->buf + d->page / 2 + 1,
			      (NPAGES - 1) * d->page, places, NPAGES + 1)))
		return false;
	for (i = 0; i < NPAGES; i++)
		ok &= T_EXPECT(
			t,
			places[i] == (i >= FIRST && i <= LAST ? moved : others),
			"page %zu is %s, not %s", i,
			hmmem_place_name(places[i]),
			hmmem_place_name(i >= FIRST && i <= LAST ? moved :
								   others));
	ok &= T_EQ(t, 0xaa, places[NPAGES]);
	return ok;
}

DEV_CASE(name_says_back_end_and_device)
{
	char name[128], small[8];
	int len = (int)strlen(d->spec);

	T_EQ(t, len, hmmem_name(d->h, name, sizeof(name)));
	T_STREQ(t, d->spec, name);
	/* Truncated like snprintf(), with the full length returned. */
	T_EQ(t, len, hmmem_name(d->h, small, sizeof(small)));
	T_EXPECT(t, !strncmp(d->spec, small, sizeof(small) - 1), "%s", small);
	T_EQ(t, '\0', small[sizeof(small) - 1]);
	T_EQ(t, len, hmmem_name(d->h, NULL, 0));
	T_EQ(t, -EINVAL, hmmem_name(d->h, NULL, 4));
}

DEV_CASE(moves_reject_bad_ranges_with_documented_errors)
{
	size_t page = d->page;
	uint8_t places[NPAGES];
	char *hole;

	T_EQ(t, -EINVAL, hmmem_to_device(d->h, d->buf + 1, page));
	T_EQ(t, -EINVAL, hmmem_to_host(d->h, d->buf + page / 2, page));
	T_EQ(t, -EINVAL, hmmem_to_device(d->h, d->buf, 0));
	T_EQ(t, -EINVAL, hmmem_to_host(d->h, d->buf, 0));
	T_EQ(t, -EOVERFLOW, hmmem_to_device(d->h, d->buf, SIZE_MAX));
	/* The last page of the address space, and one more. */
	T_EQ(t, -EOVERFLOW,
	     hmmem_to_device(d->h, (void *)(UINTPTR_MAX - page + 1), 2 * page));
	T_EQ(t, -EFAULT, hmmem_to_device(d->h, NULL, page));
	T_EQ(t, -EINVAL, hmmem_where(d->h, d->buf, 0, places, 4));
	T_EQ(t, -EINVAL, hmmem_where(d->h, d->buf, page, NULL, 4));
	T_EQ(t, -ENOSPC, hmmem_where(d->h, d->buf + 1, 2 * page, places, 2));
	T_EQ(t, -EOVERFLOW, hmmem_where(d->h, d->buf, SIZE_MAX, places, 4));
	T_EQ(t, -EINVAL, hmmem_counters(d->h, NULL, 8));
	T_EQ(t, -EINVAL,
	     hmmem_counters(d->h, (struct hmmem_counters *)places, 0));
	T_EQ(t, -EINVAL, hmmem_set_aliases(d->h, 2));
	T_EQ(t, -EINVAL, hmmem_set_aliases(d->h, -1));

	/* A hole in the middle of the range: nothing moves. */
	hole = d->buf + 10 * page;
	T_ASSERT(t, munmap(hole, page) == 0, "munmap: %s", strerror(errno));
	T_EQ(t, -EFAULT, hmmem_to_device(d->h, d->buf, NPAGES * page));
	T_EQ(t, -EFAULT, hmmem_to_host(d->h, d->buf, NPAGES * page));
	T_EQ(t, -EFAULT, hmmem_where(d->h, hole - 1, 2, places, 4));
	T_EQ(t, 10, hmmem_where(d->h, d->buf, 10 * page, places, NPAGES));
	T_EQ(t, 0, hmmem_npages(NULL, 0));
	T_ASSERT(t,
		 mmap(hole, page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == hole,
		 "mmap: %s", strerror(errno));
	T_AEQ(t, NPAGES,
	      hmmem_where(d->h, d->buf, NPAGES * page, places, NPAGES));
	for (size_t i = 0; i < NPAGES; i++)
		T_EQ(t, i == 10 ? HMMEM_PLACE_NONE : HMMEM_PLACE_HOST,
		     places[i]);
	odp_fill(d->buf, NPAGES * page, d->seed);

	/* A range the process cannot read cannot be migrated. */
	T_ASSERT(t, mprotect(d->buf, page, PROT_NONE) == 0, "mprotect: %s",
		 strerror(errno));
	T_EQ(t, -EACCES, hmmem_to_device(d->h, d->buf, 2 * page));
	T_ASSERT(t, mprotect(d->buf, page, PROT_READ | PROT_WRITE) == 0,
		 "mprotect: %s", strerror(errno));
	T_PATTERN(t, "buffer", d->buf, 0, NPAGES * page, d->seed);
}

DEV_CASE(to_device_and_back_keeps_every_byte_and_place)
{
	struct hmmem_counters before, after;
	char *moved = d->buf + FIRST * d->page;
	size_t len = MOVED * d->page;

	/* None of it was on the device. */
	T_ASSERT(t,
		 expect_places(t, d, d->h, HMMEM_PLACE_HOST, HMMEM_PLACE_HOST),
		 "before");
	/* A length that ends mid-page moves its last page too. */
	T_AEQ(t, MOVED, hmmem_to_device(d->h, moved, len - 100));
	T_ASSERT(t,
		 expect_places(t, d, d->h, HMMEM_PLACE_DEVICE,
			       HMMEM_PLACE_HOST),
		 "on the device");
	/* Already there: still counted. */
	T_AEQ(t, MOVED, hmmem_to_device(d->h, moved, len));

	T_AEQ(t, 0, hmmem_counters(d->h, &before, sizeof(before)));
	T_AEQ(t, MOVED, hmmem_to_host(d->h, moved, len));
	T_ASSERT(t,
		 expect_places(t, d, d->h, HMMEM_PLACE_HOST, HMMEM_PLACE_HOST),
		 "back");
	T_PATTERN(t, "after the round trip", d->buf, 0, NPAGES * d->page,
		  d->seed);

	/* Moved back by CPU faults this time: the counter sees each page. */
	T_AEQ(t, MOVED, hmmem_to_device(d->h, moved, len));
	T_PATTERN(t, "read by the CPU from the device", d->buf, 0,
		  NPAGES * d->page, d->seed);
	T_ASSERT(t,
		 expect_places(t, d, d->h, HMMEM_PLACE_HOST, HMMEM_PLACE_HOST),
		 "faulted back");
	T_AEQ(t, 0, hmmem_counters(d->h, &after, sizeof(after)));
	/* MIGRATE_TO_SYS is no fault: only the CPU's faults count. */
	T_EQ(t, before.migrated_to_host + MOVED, after.migrated_to_host);
	T_EXPECT(t, after.alias_offered != HMMEM_COUNTER_NONE, "none");
	T_EXPECT(t, after.alias_refused != HMMEM_COUNTER_NONE, "none");
}

DEV_CASE(untouched_pages_move_as_zeros)
{
	size_t page = d->page, i;
	uint8_t places[4];
	char *fresh;

	fresh = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(t, fresh != MAP_FAILED, "mmap: %s", strerror(errno));
	fresh[2 * page + 7] = 1;
	T_EQ(t, 4, hmmem_where(d->h, fresh, 4 * page, places, 4));
	T_EQ(t, HMMEM_PLACE_NONE, places[0]);
	T_EQ(t, HMMEM_PLACE_NONE, places[1]);
	T_EQ(t, HMMEM_PLACE_HOST, places[2]);
	T_EQ(t, HMMEM_PLACE_NONE, places[3]);
	T_EQ(t, 4, hmmem_to_device(d->h, fresh, 4 * page));
	T_EQ(t, 4, hmmem_where(d->h, fresh, 4 * page, places, 4));
	for (i = 0; i < 4; i++)
		T_EQ(t, HMMEM_PLACE_DEVICE, places[i]);
	for (i = 0; i < 4 * page; i++)
		if (!T_EQ(t, i == 2 * page + 7, fresh[i]))
			break;
	munmap(fresh, 4 * page);
}

DEV_CASE(counters_fill_only_the_size_asked)
{
	struct hmmem_counters c;
	uint64_t first[2] = { 0, 0x5a5a5a5a5a5a5a5aULL };
	/* A newer caller's structure: two counters more than ours. */
	uint64_t big[sizeof(c) / sizeof(uint64_t) + 2];
	size_t i;

	T_AEQ(t, 0, hmmem_counters(d->h, &c, sizeof(c)));
	T_AEQ(t, 0,
	      hmmem_counters(d->h, (struct hmmem_counters *)first,
			     sizeof(first[0])));
	T_EQ(t, 0x5a5a5a5a5a5a5a5aULL, first[1]);
	T_EXPECT(t, c.migrated_to_host <= first[0], "%llu > %llu",
		 (unsigned long long)c.migrated_to_host,
		 (unsigned long long)first[0]);
	memset(big, 0, sizeof(big));
	T_AEQ(t, 0,
	      hmmem_counters(d->h, (struct hmmem_counters *)big, sizeof(big)));
	for (i = sizeof(c) / sizeof(uint64_t); i < sizeof(big) / sizeof(big[0]);
	     i++)
		T_EXPECT(t, big[i] == HMMEM_COUNTER_NONE, "counter %zu: %llu",
			 i, (unsigned long long)big[i]);
	/* Half a counter is no size. */
	T_EQ(t, -EINVAL, hmmem_counters(d->h, &c, 4));
	T_EQ(t, -EINVAL, hmmem_counters(d->h, &c, sizeof(c) - 1));
}

DEV_CASE(aliases_switch_on_and_off)
{
	struct hmmem_counters before, after;
	int ret = hmmem_set_aliases(d->h, 1);

	if (ret == -EOPNOTSUPP)
		T_SKIP(t, "test_hmm without odp-p2p's alias switch");
	T_AEQ(t, 0, ret);
	T_AEQ(t, 0, hmmem_counters(d->h, &before, sizeof(before)));
	T_EQ(t, 0, hmmem_set_aliases(d->h, 0));
	T_AEQ(t, 0, hmmem_counters(d->h, &after, sizeof(after)));
	/* Switching asks nothing of anybody: no alias offered or refused. */
	T_EQ(t, before.alias_offered, after.alias_offered);
	T_EQ(t, before.alias_refused, after.alias_refused);
}

DEV_CASE(closed_handle_fails_with_ebadf_even_after_reuse)
{
	int old = d->h, h2;

	T_AEQ(t, 0, hmmem_close(old));
	d->h = -1;
	T_EQ(t, -EBADF, hmmem_close(old));
	T_EQ(t, -EBADF, hmmem_to_device(old, d->buf, d->page));
	/* The slot comes back with another handle; the old one stays dead. */
	h2 = hmmem_open(d->spec);
	T_ASSERT(t, h2 > 0, "%s", hmmem_strerror(h2));
	d->h = h2;
	T_EXPECT(t, old != h2, "handle %d again", h2);
	T_EQ(t, -EBADF, hmmem_close(old));
	T_EQ(t, 1, hmmem_to_device(h2, d->buf, d->page));
}

DEV_CASE(second_handle_and_another_device_see_the_pages)
{
	char *moved = d->buf + FIRST * d->page;
	char spec[128];
	int h2, peer;

	h2 = hmmem_open(d->spec);
	T_ASSERT(t, h2 > 0, "%s", hmmem_strerror(h2));
	snprintf(spec, sizeof(spec), "test_hmm:%s", odp_dmirror_peer_path());
	peer = hmmem_open(spec);
	T_ASSERT(t, peer > 0, "%s: %s", spec, hmmem_strerror(peer));
	T_EQ(t, MOVED, hmmem_to_device(d->h, moved, MOVED * d->page));
	expect_places(t, d, h2, HMMEM_PLACE_DEVICE, HMMEM_PLACE_HOST);
	/* Moving what another handle moved there: nothing left to do. */
	T_EQ(t, MOVED, hmmem_to_device(h2, moved, MOVED * d->page));
	/*
	 * Another device sees them as someone else's; the page table says
	 * so only to CAP_SYS_ADMIN (the VM's root).
	 */
	expect_places(t, d, peer,
		      geteuid() ? HMMEM_PLACE_UNKNOWN :
				  HMMEM_PLACE_OTHER_DEVICE,
		      HMMEM_PLACE_HOST);
	T_EQ(t, 0, hmmem_close(peer));
	T_EQ(t, 0, hmmem_close(h2));
	T_PATTERN(t, "buffer", d->buf, 0, NPAGES * d->page, d->seed);
}

/*
 * test_hmm evicts all of a device's memory whenever one of its files is
 * released (dmirror_fops_release()), as hmmem_close(3) warns: the pages
 * come back to system memory with their bytes.
 */
DEV_CASE(closing_any_test_hmm_handle_evicts_its_device)
{
	char *moved = d->buf + FIRST * d->page;
	int h2;

	h2 = hmmem_open(d->spec);
	T_ASSERT(t, h2 > 0, "%s", hmmem_strerror(h2));
	T_AEQ(t, MOVED, hmmem_to_device(d->h, moved, MOVED * d->page));
	T_EQ(t, 0, hmmem_close(h2));
	expect_places(t, d, d->h, HMMEM_PLACE_HOST, HMMEM_PLACE_HOST);
	T_PATTERN(t, "buffer", d->buf, 0, NPAGES * d->page, d->seed);
}

DEV_CASE(handles_do_not_survive_fork)
{
	int status = -1;
	pid_t pid;

	pid = fork();
	T_ASSERT(t, pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		char name[64];
		uint8_t place;
		int ok = hmmem_to_device(d->h, d->buf, d->page) == -ECHILD &&
			 hmmem_where(d->h, d->buf, 1, &place, 1) == -ECHILD &&
			 hmmem_set_aliases(d->h, 0) == -ECHILD &&
			 hmmem_name(d->h, name, sizeof(name)) > 0 &&
			 hmmem_close(d->h) == 0 && hmmem_close(d->h) == -EBADF;

		_exit(ok ? 0 : 1);
	}
	T_EQ(t, pid, waitpid(pid, &status, 0));
	T_EXPECT(t, WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "child status %#x", status);
	/* The parent's handle still works. */
	T_EQ(t, 1, hmmem_to_device(d->h, d->buf, d->page));
	T_PATTERN(t, "buffer", d->buf, 0, NPAGES * d->page, d->seed);
}

struct mover {
	int h;
	char *buf;
	size_t len;
	atomic_long rounds;
	long bad; /* neither a page count in [0, len] nor -EBADF */
};

/* Round trips until the handle is closed under it. */
static void *mover_run(void *arg)
{
	struct mover *m = arg;
	long want = (long)(m->len / odp_page_size());

	for (;;) {
		long ret = hmmem_to_device(m->h, m->buf, m->len);

		if (ret == -EBADF)
			break;
		/* Fewer pages may move while others migrate: not an error. */
		if (ret < 0 || ret > want)
			m->bad = ret;
		ret = hmmem_to_host(m->h, m->buf, m->len);
		if (ret == -EBADF)
			break;
		if (ret < 0 || ret > want)
			m->bad = ret;
		atomic_fetch_add(&m->rounds, 1);
	}
	return NULL;
}

DEV_CASE(threads_share_a_handle_that_closes_under_them)
{
	struct mover movers[4];
	pthread_t threads[4];
	long rounds = 0;
	int i, n = 0, waited;

	for (i = 0; i < 4; i++) {
		movers[i] = (struct mover){
			.h = d->h,
			.buf = d->buf + (size_t)i * 8 * d->page,
			.len = 8 * d->page,
		};
		if (!T_EQ(t, 0,
			  pthread_create(&threads[i], NULL, mover_run,
					 &movers[i])))
			break;
		n++;
	}
	/* Close once every thread has moved its pages both ways once. */
	for (waited = 0; waited < 600; waited++) {
		for (i = 0; i < n && atomic_load(&movers[i].rounds); i++)
			;
		if (i == n)
			break;
		usleep(100 * 1000);
	}
	T_EXPECT(t, waited < 600, "a thread made no round trip in 60 s");
	T_EQ(t, 0, hmmem_close(d->h));
	d->h = -1;
	/* Each thread stops on -EBADF: a join that returns proves it. */
	for (i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		T_EXPECT(t, movers[i].bad == 0, "thread %d: %ld (%s)", i,
			 movers[i].bad, hmmem_strerror(movers[i].bad));
		rounds += atomic_load(&movers[i].rounds);
	}
	T_LOG("%ld round trips of 8 pages before the close", rounds);
	T_PATTERN(t, "buffer", d->buf, 0, NPAGES * d->page, d->seed);
}

static const struct tap_case cases[] = {
	TAP_CASE(open_rejects_bad_device_names),
	TAP_CASE(cuda_without_libcuda_is_not_available),
	TAP_CASE(calls_on_handles_never_opened_fail_with_ebadf),
	TAP_CASE(strerror_explains_every_documented_error),
	TAP_CASE(npages_counts_every_page_a_range_touches),
	TAP_CASE(place_names_are_stable),
	TAP_CASE(name_says_back_end_and_device),
	TAP_CASE(moves_reject_bad_ranges_with_documented_errors),
	TAP_CASE(to_device_and_back_keeps_every_byte_and_place),
	TAP_CASE(untouched_pages_move_as_zeros),
	TAP_CASE(counters_fill_only_the_size_asked),
	TAP_CASE(aliases_switch_on_and_off),
	TAP_CASE(closed_handle_fails_with_ebadf_even_after_reuse),
	TAP_CASE(second_handle_and_another_device_see_the_pages),
	TAP_CASE(closing_any_test_hmm_handle_evicts_its_device),
	TAP_CASE(handles_do_not_survive_fork),
	TAP_CASE(threads_share_a_handle_that_closes_under_them),
};

int main(void)
{
	uint32_t seed = odp_seed_from_env();

	/* On stderr: TAP's version line comes first on stdout. */
	fprintf(stderr, "# seed 0x%08x (ODP_SEED=0x%08x repeats this run)\n",
		seed, seed);
	odp_seed_start(seed);
	return tap_run(cases, TAP_NCASES(cases));
}
