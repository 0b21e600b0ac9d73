/*
 * odp-devmem-preload.c - libodp-devmem-preload.so: unmodified verbs
 * programs on device memory.  `odp-devmem run -- PROGRAM` preloads it.
 *
 * Every ODP MR the program registers (IBV_ACCESS_ON_DEMAND over an address
 * range: not implicit ODP, not dma-buf) has its pages moved into device
 * memory (libhmmem, ODP_DEVMEM_EXPORTER, default test_hmm) just before it
 * is registered; the program's own CPU accesses later move pages back, as
 * they would on a GPU.  With ODP_DEVMEM_EVERY=N, after every N completions
 * the program polls (ibv_poll_cq) the pages of every live ODP MR move to
 * the device again, as a GPU kernel would touch the buffer between
 * transfers.  At deregistration and at exit it reports, per MR, how many
 * pages were on the device and the MR's ODP counters (rdma netlink, as
 * root), then what the exporter's counters moved by during the run; the
 * report goes to stderr, or is appended to ODP_DEVMEM_REPORT
 * (ODP_DEVMEM_QUIET=1: none).  The exporter is told to offer DMA-able
 * aliases of its pages (test_hmm's default is not to; ODP_DEVMEM_ALIASES=0
 * leaves it refusing them, so that every page the NIC touches migrates)
 * and put back to refusing at exit.
 *
 * Every registration path of rdma-core 65 ends in ibv_reg_mr_iova2() or
 * ibv_reg_mr_ex(), called through the PLT, so those two are interposed (a
 * thread's nested call, ibv_reg_mr() into ibv_reg_mr_iova2(), is handled
 * once).  ibv_poll_cq() is inline: the library wraps the poll_cq of each
 * context that ibv_open_device() returns.  The libhmmem handle stays open
 * for the life of the process: test_hmm evicts all of a device's memory
 * when a file of the device closes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "backend.h"
#include "hmmem.h"
#include "rdma_nl.h"

#define PUBLIC __attribute__((visibility("default")))
#define MAX_CONTEXTS 64

typedef struct ibv_mr *(*reg_mr_fn)(struct ibv_pd *, void *, size_t, int);
typedef struct ibv_mr *(*reg_mr_iova_fn)(struct ibv_pd *, void *, size_t,
					 uint64_t, int);
typedef struct ibv_mr *(*reg_mr_iova2_fn)(struct ibv_pd *, void *, size_t,
					  uint64_t, unsigned int);
typedef struct ibv_mr *(*reg_mr_ex_fn)(struct ibv_pd *,
				       struct ibv_mr_init_attr *);
typedef int (*rereg_mr_fn)(struct ibv_mr *, int, struct ibv_pd *, void *,
			   size_t, int);
typedef int (*dereg_mr_fn)(struct ibv_mr *);
typedef struct ibv_context *(*open_device_fn)(struct ibv_device *);
typedef int (*close_device_fn)(struct ibv_context *);
typedef int (*poll_cq_fn)(struct ibv_cq *, int, struct ibv_wc *);

struct tracked {
	struct ibv_mr *mr;
	uintptr_t start; /* page-aligned range of the registration */
	size_t npages;
};

static struct {
	pthread_mutex_t lock;
	pid_t pid; /* the process that set this up; a fork()ed child does not */
	bool init;
	int h; /* libhmmem handle, < 0 if none */
	char name[64];
	bool quiet;
	bool aliases_set; /* we switched the exporter's aliases: undo at exit */
	bool have_base;
	struct hmmem_counters base; /* the exporter's counters at the start */
	unsigned long every; /* completions between moves, 0: never */
	unsigned long polled;
	unsigned long remigrations;
	unsigned long registered; /* ODP MRs */
	uint64_t moved; /* pages moved to the device, in all */
	struct tracked *mrs;
	size_t nmrs, cap;
	/* Set at open, cleared at close: read by poll_cq_wrap() unlocked */
	struct {
		struct ibv_context *_Atomic ctx;
		poll_cq_fn poll_cq;
	} ctxs[MAX_CONTEXTS];
	FILE *report;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .h = -1 };

static __thread int depth;

/* The next definition of @name: libibverbs' (NULL if it lacks it) */
#define NEXT(type, name) ((type)dlsym(RTLD_NEXT, #name))

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (st.quiet)
		return;
	va_start(ap, fmt);
	fputs("odp-devmem run: ", st.report);
	vfprintf(st.report, fmt, ap);
	fputc('\n', st.report);
	fflush(st.report);
	va_end(ap);
}

/* A fork()ed child keeps the parent's copy of st.lock and of the handle */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&st.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&st.lock);
}

__attribute__((constructor)) static void setup(void)
{
	const char *every = getenv("ODP_DEVMEM_EVERY");

	st.pid = getpid();
	if (every && *every)
		st.every = strtoul(every, NULL, 10);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_parent);
}

/* Whether this process is the one the library was set up in */
static bool ours(void)
{
	return getpid() == st.pid;
}

/*
 * Under st.lock: at the first ODP registration, open the exporter that
 * the environment names.  If it cannot be opened, say so even with
 * ODP_DEVMEM_QUIET: the program then runs on host memory.
 */
static void init_locked(void)
{
	const char *spec = getenv("ODP_DEVMEM_EXPORTER");
	const char *path = getenv("ODP_DEVMEM_REPORT");
	const char *quiet = getenv("ODP_DEVMEM_QUIET");
	const char *aliases = getenv("ODP_DEVMEM_ALIASES");

	if (st.init)
		return;
	st.init = true;
	st.report = stderr;
	if (path && *path) {
		FILE *f = fopen(path, "ae");

		if (f)
			st.report = f;
	}
	if (!spec || !*spec)
		spec = "test_hmm";
	st.h = hmmem_open(spec);
	if (st.h < 0) {
		say("cannot open %s: %s; ODP MRs stay where the program puts "
		    "them",
		    spec, hmmem_strerror(st.h));
		return;
	}
	st.quiet = quiet && *quiet && strcmp(quiet, "0");
	hmmem_name(st.h, st.name, sizeof(st.name));
	/* The device's counters count since it exists: report the run's */
	st.have_base = !hmmem_counters(st.h, &st.base, sizeof(st.base));
	/*
	 * test_hmm offers no aliases until told to, unlike a GPU driver that
	 * implements dma_alias(); ODP_DEVMEM_ALIASES=0 keeps it refusing
	 * (every page the NIC touches then migrates: the baseline).
	 */
	st.aliases_set =
		!hmmem_set_aliases(st.h, !(aliases && !strcmp(aliases, "0")));
}

/* Under st.lock: moves [start, npages) to the device; pages moved or -errno */
static long move_locked(uintptr_t start, size_t npages)
{
	long n;

	if (st.h < 0)
		return -ENODEV;
	n = hmmem_to_device(st.h, (void *)start, npages * hmmem_page_size());
	if (n > 0)
		st.moved += (uint64_t)n;
	return n;
}

/*
 * Before a registration of [addr, addr + len) with @access: for an ODP MR
 * over an address range, moves its pages to the device and fills @t.
 * False if the registration is not one to track.
 */
static bool before_reg(const void *addr, size_t len, unsigned int access,
		       struct tracked *t)
{
	size_t page = hmmem_page_size();

	if (!(access & IBV_ACCESS_ON_DEMAND) || !addr || !len ||
	    (uintptr_t)addr + len < (uintptr_t)addr || !ours())
		return false;
	t->mr = NULL;
	t->start = (uintptr_t)addr & ~(page - 1);
	t->npages = ((uintptr_t)addr + len - t->start + page - 1) / page;
	pthread_mutex_lock(&st.lock);
	init_locked();
	move_locked(t->start, t->npages);
	pthread_mutex_unlock(&st.lock);
	return true;
}

/* After it: tracks @mr, if it was registered */
static void after_reg(struct tracked *t, struct ibv_mr *mr)
{
	if (!mr)
		return;
	t->mr = mr;
	pthread_mutex_lock(&st.lock);
	if (st.nmrs == st.cap) {
		size_t cap = st.cap ? 2 * st.cap : 16;
		struct tracked *m = realloc(st.mrs, cap * sizeof(*m));

		if (!m) {
			say("out of memory: MR rkey 0x%x is not reported",
			    mr->rkey);
			pthread_mutex_unlock(&st.lock);
			return;
		}
		st.mrs = m;
		st.cap = cap;
	}
	st.mrs[st.nmrs++] = *t;
	st.registered++;
	pthread_mutex_unlock(&st.lock);
}

/* Under st.lock: one line on where @t's pages are and its ODP counters */
static void report_mr_locked(const struct tracked *t, const char *when)
{
	uint8_t *places = malloc(t->npages);
	struct rdma_nl_odp_mr c;
	char counters[256] = "";
	size_t on = 0;
	int idx;

	if (places && st.h >= 0 &&
	    hmmem_where(st.h, (void *)t->start, t->npages * hmmem_page_size(),
			places, t->npages) == (long)t->npages) {
		size_t i;

		for (i = 0; i < t->npages; i++)
			on += places[i] == HMMEM_PLACE_DEVICE;
	}
	free(places);
	idx = ibv_get_device_index(t->mr->context->device);
	if (idx >= 0 && !rdma_nl_get_odp_mr((uint32_t)idx, t->mr->rkey, &c))
		snprintf(counters, sizeof(counters),
			 "; odp-alias %s, page_faults %" PRIu64
			 " alias_pages %" PRIu64 " alias_fallbacks %" PRIu64,
			 c.alias_on ? "on" : "off", c.page_faults,
			 c.alias_pages, c.alias_fallbacks);
	say("MR %s rkey 0x%x, %zu pages at %#" PRIxPTR ": %zu on %s at %s%s",
	    ibv_get_device_name(t->mr->context->device), t->mr->rkey, t->npages,
	    t->start, on, st.h >= 0 ? st.name : "no device", when, counters);
}

/*
 * Stops tracking @mr (or, with @ctx, every MR of that context), reporting
 * each with @when if @report.
 */
static void untrack(const struct ibv_mr *mr, const struct ibv_context *ctx,
		    const char *when, bool report)
{
	size_t i = 0;

	pthread_mutex_lock(&st.lock);
	while (i < st.nmrs) {
		if (mr ? st.mrs[i].mr != mr : st.mrs[i].mr->context != ctx) {
			i++;
			continue;
		}
		if (report)
			report_mr_locked(&st.mrs[i], when);
		st.mrs[i] = st.mrs[--st.nmrs];
	}
	pthread_mutex_unlock(&st.lock);
}

/*
 * The registration entry points.  In rdma-core 65 ibv_reg_mr() and
 * ibv_reg_mr_iova() call ibv_reg_mr_iova2() and ibv_reg_buf_mr() calls
 * ibv_reg_mr_ex(), through the PLT; a libibverbs linked with
 * -Bsymbolic-functions would not, so the outer ones are interposed too
 * and depth makes a nested call count once.
 */
/*
 * Around the real call of each: only the outermost of a thread's nested
 * registration calls tracks the registration (moves its pages, then records
 * the MR).  reg_enter() says whether this one does.
 */
static bool reg_enter(const void *addr, size_t len, unsigned int access,
		      struct tracked *t)
{
	return !depth++ && before_reg(addr, len, access, t);
}

static struct ibv_mr *reg_leave(bool track, struct tracked *t,
				struct ibv_mr *mr)
{
	if (track)
		after_reg(t, mr);
	depth--;
	return mr;
}

/* verbs.h makes both macros, as libibverbs does its own definitions */
#undef ibv_reg_mr
#undef ibv_reg_mr_iova

PUBLIC struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length,
				 int access)
{
	reg_mr_fn real = NEXT(reg_mr_fn, ibv_reg_mr);
	struct tracked t;
	bool track;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	track = reg_enter(addr, length, (unsigned int)access, &t);
	return reg_leave(track, &t, real(pd, addr, length, access));
}

PUBLIC struct ibv_mr *ibv_reg_mr_iova(struct ibv_pd *pd, void *addr,
				      size_t length, uint64_t iova, int access)
{
	reg_mr_iova_fn real = NEXT(reg_mr_iova_fn, ibv_reg_mr_iova);
	struct tracked t;
	bool track;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	track = reg_enter(addr, length, (unsigned int)access, &t);
	return reg_leave(track, &t, real(pd, addr, length, iova, access));
}

PUBLIC struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
				       size_t length, uint64_t iova,
				       unsigned int access)
{
	reg_mr_iova2_fn real = NEXT(reg_mr_iova2_fn, ibv_reg_mr_iova2);
	struct tracked t;
	bool track;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	track = reg_enter(addr, length, access, &t);
	return reg_leave(track, &t, real(pd, addr, length, iova, access));
}

/* Address ranges only: a dma-buf registration (IBV_REG_MR_MASK_FD) is not */
PUBLIC struct ibv_mr *ibv_reg_mr_ex(struct ibv_pd *pd,
				    struct ibv_mr_init_attr *attr)
{
	reg_mr_ex_fn real = NEXT(reg_mr_ex_fn, ibv_reg_mr_ex);
	struct tracked t;
	bool track, range;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	range = attr && (attr->comp_mask & IBV_REG_MR_MASK_ADDR) &&
		!(attr->comp_mask & IBV_REG_MR_MASK_FD);
	/* No address: before_reg() tracks nothing, depth still counts */
	track = reg_enter(range ? attr->addr : NULL, range ? attr->length : 0,
			  range ? attr->access : 0, &t);
	return reg_leave(track, &t, real(pd, attr));
}

/* A new translation leaves our range stale: forget the MR (not reported) */
PUBLIC int ibv_rereg_mr(struct ibv_mr *mr, int flags, struct ibv_pd *pd,
			void *addr, size_t length, int access)
{
	rereg_mr_fn real = NEXT(rereg_mr_fn, ibv_rereg_mr);
	int ret;

	if (!real)
		return IBV_REREG_MR_ERR_INPUT;
	ret = real(mr, flags, pd, addr, length, access);
	if (!ret && ours() && (flags & IBV_REREG_MR_CHANGE_TRANSLATION))
		untrack(mr, NULL, NULL, false);
	return ret;
}

PUBLIC int ibv_dereg_mr(struct ibv_mr *mr)
{
	dereg_mr_fn real = NEXT(dereg_mr_fn, ibv_dereg_mr);
	struct tracked t = { 0 };
	size_t i;

	if (!real)
		return ENOSYS;
	/* Where the pages are now; reported only if the MR goes away */
	pthread_mutex_lock(&st.lock);
	for (i = 0; i < st.nmrs && ours(); i++)
		if (st.mrs[i].mr == mr)
			t = st.mrs[i];
	pthread_mutex_unlock(&st.lock);
	if (t.mr) {
		FILE *saved = st.report;
		bool quiet = st.quiet;
		char *line = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&line, &len);
		int ret;

		/* Render the line while the MR exists, print it if it goes */
		if (mem) {
			pthread_mutex_lock(&st.lock);
			st.report = mem;
			st.quiet = false;
			report_mr_locked(&t, "deregistration");
			st.report = saved;
			st.quiet = quiet;
			pthread_mutex_unlock(&st.lock);
			fclose(mem);
		}
		ret = real(mr);
		if (!ret) {
			if (line && !quiet) {
				fputs(line, saved);
				fflush(saved);
			}
			untrack(mr, NULL, NULL, false);
		}
		free(line);
		return ret;
	}
	return real(mr);
}

/* poll_cq of the context, then the moves every st.every completions */
static int poll_cq_wrap(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	poll_cq_fn poll = NULL;
	int i, got;

	for (i = 0; i < MAX_CONTEXTS && !poll; i++)
		if (st.ctxs[i].ctx == cq->context)
			poll = st.ctxs[i].poll_cq;
	if (!poll) {
		/* Only a CQ polled while its context closes gets here */
		errno = EINVAL;
		return -1;
	}
	got = poll(cq, n, wc);
	if (got <= 0 || !ours())
		return got;
	pthread_mutex_lock(&st.lock);
	st.polled += (unsigned long)got;
	if (st.polled >= st.every) {
		size_t k;

		st.polled = 0;
		st.remigrations++;
		for (k = 0; k < st.nmrs; k++)
			move_locked(st.mrs[k].start, st.mrs[k].npages);
	}
	pthread_mutex_unlock(&st.lock);
	return got;
}

/* With ODP_DEVMEM_EVERY, wraps the context's poll_cq (the exporter is not
 * opened here: only an ODP registration does that) */
PUBLIC struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	open_device_fn real = NEXT(open_device_fn, ibv_open_device);
	struct ibv_context *ctx;
	int i;

	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	ctx = real(device);
	if (!ctx || !st.every || !ours())
		return ctx;
	pthread_mutex_lock(&st.lock);
	for (i = 0; i < MAX_CONTEXTS && st.ctxs[i].ctx; i++)
		;
	if (i < MAX_CONTEXTS) {
		st.ctxs[i].poll_cq = ctx->ops.poll_cq;
		st.ctxs[i].ctx = ctx;
		ctx->ops.poll_cq = poll_cq_wrap;
	} else {
		init_locked();
		say("more than %d contexts: completions on %s do not move "
		    "pages",
		    MAX_CONTEXTS, ibv_get_device_name(device));
	}
	pthread_mutex_unlock(&st.lock);
	return ctx;
}

/* MRs still registered go with the context: reported, then forgotten */
PUBLIC int ibv_close_device(struct ibv_context *ctx)
{
	close_device_fn real = NEXT(close_device_fn, ibv_close_device);
	int i;

	if (!real)
		return ENOSYS;
	if (ours())
		untrack(NULL, ctx, "close of the device", true);
	pthread_mutex_lock(&st.lock);
	for (i = 0; i < MAX_CONTEXTS; i++) {
		if (st.ctxs[i].ctx != ctx)
			continue;
		ctx->ops.poll_cq = st.ctxs[i].poll_cq;
		st.ctxs[i].ctx = NULL;
	}
	pthread_mutex_unlock(&st.lock);
	return real(ctx);
}

__attribute__((destructor)) static void report_at_exit(void)
{
	struct hmmem_counters c;
	size_t i;

	if (!ours())
		return;
	pthread_mutex_lock(&st.lock);
	if (!st.init || st.h < 0) {
		pthread_mutex_unlock(&st.lock);
		return;
	}
	for (i = 0; i < st.nmrs; i++)
		report_mr_locked(&st.mrs[i], "exit");
	say("%s: %lu ODP MR%s, %" PRIu64 " pages moved to the device, %lu "
	    "time%s again after completions",
	    st.name, st.registered, st.registered == 1 ? "" : "s", st.moved,
	    st.remigrations, st.remigrations == 1 ? "" : "s");
	if (st.have_base && !hmmem_counters(st.h, &c, sizeof(c)))
		say("%s counters during the run: migrated_to_host %" PRIu64
		    " alias_offered %" PRIu64 " alias_refused %" PRIu64,
		    st.name, c.migrated_to_host - st.base.migrated_to_host,
		    c.alias_offered - st.base.alias_offered,
		    c.alias_refused - st.base.alias_refused);
	/*
	 * test_hmm's device flags outlive this file, and it cannot say what
	 * they were: back to its default, no aliases.
	 */
	if (st.aliases_set)
		hmmem_set_aliases(st.h, 0);
	pthread_mutex_unlock(&st.lock);
}
