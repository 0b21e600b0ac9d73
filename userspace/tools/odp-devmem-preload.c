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

struct tracked {
	struct ibv_mr *mr;
	uintptr_t start; /* page-aligned range of the registration */
	size_t npages;
	long moved; /* pages moved at registration (or -errno) */
};

static struct {
	pthread_mutex_t lock;
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
	struct {
		struct ibv_context *ctx;
		int (*poll_cq)(struct ibv_cq *cq, int n, struct ibv_wc *wc);
	} ctxs[MAX_CONTEXTS];
	FILE *report;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .h = -1 };

static __thread int depth;

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

/* Under st.lock: the first time, open the exporter named by the env. */
static void init_locked(void)
{
	const char *spec = getenv("ODP_DEVMEM_EXPORTER");
	const char *every = getenv("ODP_DEVMEM_EVERY");
	const char *path = getenv("ODP_DEVMEM_REPORT");
	const char *quiet = getenv("ODP_DEVMEM_QUIET");
	const char *aliases;

	if (st.init)
		return;
	st.init = true;
	st.report = stderr;
	if (path && *path) {
		FILE *f = fopen(path, "ae");

		if (f)
			st.report = f;
	}
	st.quiet = quiet && *quiet && strcmp(quiet, "0");
	if (every && *every)
		st.every = strtoul(every, NULL, 10);
	st.h = hmmem_open(spec && *spec ? spec : "test_hmm");
	if (st.h < 0) {
		say("cannot open %s: %s; ODP MRs stay where the program puts "
		    "them",
		    spec && *spec ? spec : "test_hmm", hmmem_strerror(st.h));
		return;
	}
	hmmem_name(st.h, st.name, sizeof(st.name));
	/* The device's counters count since it exists: report the run's */
	st.have_base = !hmmem_counters(st.h, &st.base, sizeof(st.base));
	/*
	 * test_hmm offers no aliases until told to, unlike a GPU driver that
	 * implements dma_alias(); ODP_DEVMEM_ALIASES=0 keeps it refusing
	 * (every page the NIC touches then migrates: the baseline).
	 */
	aliases = getenv("ODP_DEVMEM_ALIASES");
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

/* Called before a registration of [addr, addr + len) with @access */
static struct tracked *before_reg(const void *addr, size_t len,
				  unsigned int access)
{
	size_t page = hmmem_page_size();
	uintptr_t start = (uintptr_t)addr & ~(page - 1);
	struct tracked *t;

	if (!(access & IBV_ACCESS_ON_DEMAND) || !addr || !len ||
	    (uintptr_t)addr + len < (uintptr_t)addr)
		return NULL;
	pthread_mutex_lock(&st.lock);
	init_locked();
	if (st.nmrs == st.cap) {
		size_t cap = st.cap ? 2 * st.cap : 16;
		struct tracked *m = realloc(st.mrs, cap * sizeof(*m));

		if (!m) {
			pthread_mutex_unlock(&st.lock);
			return NULL;
		}
		st.mrs = m;
		st.cap = cap;
	}
	t = &st.mrs[st.nmrs];
	t->mr = NULL;
	t->start = start;
	t->npages = ((uintptr_t)addr + len - start + page - 1) / page;
	t->moved = move_locked(t->start, t->npages);
	/* The lock stays held until after_reg() */
	return t;
}

static void after_reg(struct tracked *t, struct ibv_mr *mr)
{
	if (!t)
		return;
	if (mr) {
		t->mr = mr;
		st.nmrs++;
		st.registered++;
	}
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

PUBLIC struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
				       size_t length, uint64_t iova,
				       unsigned int access)
{
	static struct ibv_mr *(*real)(struct ibv_pd *, void *, size_t, uint64_t,
				      unsigned int);
	struct tracked *t = NULL;
	struct ibv_mr *mr;

	if (!real)
		real = (struct ibv_mr * (*)(struct ibv_pd *, void *, size_t,
					    uint64_t, unsigned int))
			dlsym(RTLD_NEXT, "ibv_reg_mr_iova2");
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	if (!depth++)
		t = before_reg(addr, length, access);
	mr = real(pd, addr, length, iova, access);
	after_reg(t, mr);
	depth--;
	return mr;
}

PUBLIC struct ibv_mr *ibv_reg_mr_ex(struct ibv_pd *pd,
				    struct ibv_mr_init_attr *attr)
{
	static struct ibv_mr *(*real)(struct ibv_pd *,
				      struct ibv_mr_init_attr *);
	struct tracked *t = NULL;
	struct ibv_mr *mr;

	if (!real)
		real = (struct ibv_mr *
			(*)(struct ibv_pd *, struct ibv_mr_init_attr *))
			dlsym(RTLD_NEXT, "ibv_reg_mr_ex");
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	if (!depth++ && attr && (attr->comp_mask & IBV_REG_MR_MASK_ADDR) &&
	    !(attr->comp_mask & IBV_REG_MR_MASK_FD))
		t = before_reg(attr->addr, attr->length, attr->access);
	mr = real(pd, attr);
	after_reg(t, mr);
	depth--;
	return mr;
}

PUBLIC int ibv_dereg_mr(struct ibv_mr *mr)
{
	static int (*real)(struct ibv_mr *);
	size_t i;

	if (!real)
		real = (int (*)(struct ibv_mr *))dlsym(RTLD_NEXT,
						       "ibv_dereg_mr");
	if (!real)
		return ENOSYS;
	pthread_mutex_lock(&st.lock);
	for (i = 0; i < st.nmrs; i++) {
		if (st.mrs[i].mr != mr)
			continue;
		report_mr_locked(&st.mrs[i], "deregistration");
		st.mrs[i] = st.mrs[--st.nmrs];
		break;
	}
	pthread_mutex_unlock(&st.lock);
	return real(mr);
}

/* poll_cq of the context, then the moves every st.every completions */
static int poll_cq_wrap(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	int (*poll)(struct ibv_cq *, int, struct ibv_wc *) = NULL;
	int i, got;

	pthread_mutex_lock(&st.lock);
	for (i = 0; i < MAX_CONTEXTS && !poll; i++)
		if (st.ctxs[i].ctx == cq->context)
			poll = st.ctxs[i].poll_cq;
	pthread_mutex_unlock(&st.lock);
	if (!poll)
		return -1;
	got = poll(cq, n, wc);
	if (got <= 0 || !st.every)
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

PUBLIC struct ibv_context *ibv_open_device(struct ibv_device *device)
{
	static struct ibv_context *(*real)(struct ibv_device *);
	struct ibv_context *ctx;

	if (!real)
		real = (struct ibv_context * (*)(struct ibv_device *))
			dlsym(RTLD_NEXT, "ibv_open_device");
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	ctx = real(device);
	if (!ctx)
		return NULL;
	pthread_mutex_lock(&st.lock);
	init_locked();
	if (st.every) {
		int i;

		for (i = 0; i < MAX_CONTEXTS && st.ctxs[i].ctx; i++)
			;
		if (i < MAX_CONTEXTS) {
			st.ctxs[i].ctx = ctx;
			st.ctxs[i].poll_cq = ctx->ops.poll_cq;
			ctx->ops.poll_cq = poll_cq_wrap;
		} else {
			say("more than %d contexts: completions on %s do not "
			    "move pages",
			    MAX_CONTEXTS, ibv_get_device_name(device));
		}
	}
	pthread_mutex_unlock(&st.lock);
	return ctx;
}

PUBLIC int ibv_close_device(struct ibv_context *ctx)
{
	static int (*real)(struct ibv_context *);
	int i;

	if (!real)
		real = (int (*)(struct ibv_context *))dlsym(RTLD_NEXT,
							    "ibv_close_device");
	if (!real)
		return ENOSYS;
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
	/* test_hmm's device flags outlive this file: back to the default */
	if (st.aliases_set)
		hmmem_set_aliases(st.h, 0);
	pthread_mutex_unlock(&st.lock);
}
