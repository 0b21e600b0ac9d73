/*
 * odp_fuzz - bounded fuzzing of the interfaces the series adds or changes:
 *
 *   ioctl   test_hmm's ioctls on its RAM-backed device, its peer and its
 *           BAR device, and a second file of the first (not with
 *           --one-file): every command (and unknown ones, and wrong sizes)
 *           with addresses inside, across and outside a buffer whose pages
 *           another thread remaps, protects, drops and migrates meanwhile,
 *           page counts from 0 to overflowing, unaligned addresses, bounce
 *           buffers that end at a guard page, random flags, and PCI
 *           functions that do not exist; several threads at once.
 *   verbs   ODP registrations (ibv_reg_mr) over that buffer, some pages on
 *           the device, with random ranges and access flags, and
 *           ibv_advise_mr() on them with random advice, flags, keys and
 *           ranges, while another thread flips the device's ODP alias
 *           switch; every MR that registered must deregister.
 *   switch  the ODP alias switch (rdma netlink) with values from 0 to 255,
 *           on every device index from 0 to 255 and random ones: 0 and 1
 *           take, anything else is refused and leaves the switch as it was.
 *   cli     odp-devmem (--odp-devmem PATH) and perftest's --use_hmm and
 *           --hmm_remigrate (--perftest DIR) with random words of their
 *           grammar and nonsense values: no program may die of a signal or
 *           hang, and one that fails must say why.
 *
 * Every call's outcome is counted (per command and errno for the ioctls);
 * the kernel must stay whole: the caller (the VM's guest-run.sh, the debug
 * kernel's guest-debug.sh) fails on any report in the kernel log and any
 * leak, and at the end odp_fuzz checks that test_hmm still migrates a page
 * to the device and back with its bytes, that its device pages are all
 * released (HMM_DMIRROR_COUNTERS' pages_in_use as before, checked before
 * a RELEASE of each device), and that the alias switches are as they were
 * (the devices' flags are cleared, as the suites expect them).
 *
 * Bounded: --iterations per target (default 2000) and --seconds per target
 * (default 60), whichever comes first.  Reproducible: --seed (else
 * $ODP_SEED, else the time) fixes every thread's sequence of calls; the
 * seed and each thread's are printed, and a failure prints the seed.  The
 * threads (the churn thread, the switch flipper) interleave as they will,
 * so a run repeats its calls, not their timing; --threads 1 and --trace
 * (each ioctl on stderr before it is made) narrow a failure down.
 * Output: TAP, one result per target and one for the final checks.  Exit
 * 0 (pass), 1 (fail), 2 (usage), 4 (skip: no test_hmm or rxe).
 */
#include "dmirror.h"
#include "env.h"
#include "pattern.h"
#include "rdma_nl.h"
#include "reason.h"
#include "timing.h"
#include "verbs_pair.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
/* The fuzzed buffer, and the bounce buffer the ioctls copy to and from */
#define ARENA_PAGES 128
#define SCRATCH_PAGES 256
/* How long one program of the cli target may run */
#define CLI_TIMEOUT_S 30
/* How long one ioctl may take before it counts as a hang */
#define HANG_S 60

struct opts {
	unsigned long iterations, seconds, threads;
	uint32_t seed;
	bool trace, one_file;
	const char *odp_devmem, *perftest;
	const char *targets[8];
	int ntargets;
};

static struct opts o;
static size_t page;
static atomic_uint failures;

/* A failed check: printed as a TAP comment and counted. */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# FAIL: %s\n", buf);
	atomic_fetch_add(&failures, 1);
}

/* A thread's seed: the run's, its target's and its own number */
static unsigned int thread_seed(const char *target, unsigned int thread)
{
	unsigned int h = o.seed;

	for (; *target; target++)
		h = h * 31 + (unsigned char)*target;
	return h ^ (thread + 1) * 0x9e3779b1u;
}

/* --- the fuzzed buffer ------------------------------------------------------ */

/*
 * ARENA_PAGES pages reserved once: the churn thread only ever maps over
 * them (MAP_FIXED), so that no other allocation of ours can land there
 * and a WRITE ioctl can only scribble on memory that is fuzz fodder.
 * Guard pages (PROT_NONE) on both sides; the scratch (bounce) buffer has
 * one after it.
 */
static uint8_t *arena, *scratch;
static atomic_bool churn_stop;

static bool arena_setup(void)
{
	size_t len = (ARENA_PAGES + 2) * page;
	uint8_t *a =
		mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *s = mmap(NULL, (SCRATCH_PAGES + 1) * page,
			  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	if (a == MAP_FAILED || s == MAP_FAILED)
		return odp_fail_errno(errno, "mmap");
	arena = a + page;
	if (mmap(arena, ARENA_PAGES * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != arena)
		return odp_fail_errno(errno, "mmap(MAP_FIXED)");
	odp_fill(arena, ARENA_PAGES * page, odp_seed());
	scratch = s;
	if (mprotect(scratch + SCRATCH_PAGES * page, page, PROT_NONE))
		return odp_fail_errno(errno, "mprotect");
	return true;
}

/* One change to the arena's pages: what the ioctls and MRs meet. */
static void churn_once(unsigned int *s, int dmirror)
{
	size_t first = odp_rnd(s, ARENA_PAGES), n = 1 + odp_rnd(s, 16);
	uint8_t *addr;
	size_t len;

	if (first + n > ARENA_PAGES)
		n = ARENA_PAGES - first;
	addr = arena + first * page;
	len = n * page;
	switch (odp_rnd(s, 7)) {
	case 0: /* fresh memory */
		mmap(addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 1: /* a hole that stays ours */
		mmap(addr, len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 2:
		mprotect(addr, len, PROT_READ);
		break;
	case 3:
		mprotect(addr, len, PROT_READ | PROT_WRITE);
		break;
	case 4:
		madvise(addr, len, MADV_DONTNEED);
		break;
	default: /* on the device, or back: errors are expected here */
		dmirror_cmd(dmirror,
			    odp_rnd(s, 2) ? HMM_DMIRROR_MIGRATE_TO_DEV :
					    HMM_DMIRROR_MIGRATE_TO_SYS,
			    addr, n, scratch, NULL);
		break;
	}
}

struct churn {
	pthread_t thread;
	unsigned int seed;
	int dmirror;
};

static void *churn_run(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&churn_stop)) {
		churn_once(&c->seed, c->dmirror);
		usleep(200 + odp_rnd(&c->seed, 2000));
	}
	return NULL;
}

/*
 * The guest's PCI functions, as DMA_READ names its importer: the BAR
 * functions test_hmm_bar drives, and every other one (not a DMA importer
 * test_hmm can use).
 */
#define MAX_PCI 64
static struct {
	uint32_t domain;
	uint16_t devid;
} pci[MAX_PCI];
static unsigned int npci;

static void pci_scan(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	unsigned int dom, bus, slot, fn;

	while (d && (e = readdir(d)) && npci < MAX_PCI) {
		if (sscanf(e->d_name, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) !=
		    4)
			continue;
		pci[npci].domain = dom;
		pci[npci].devid = (uint16_t)(bus << 8 | slot << 3 | fn);
		npci++;
	}
	if (d)
		closedir(d);
}

/* An address to fuzz with: mostly the arena, sometimes anything but ours */
static uint64_t fuzz_addr(unsigned int *s)
{
	uint64_t a;

	switch (odp_rnd(s, 12)) {
	case 0:
		return 0;
	case 1: /* the guard pages */
		return (uintptr_t)(odp_rnd(s, 2) ? arena - page :
						   arena + ARENA_PAGES * page);
	case 2: /* kernel addresses */
		return 0xffff800000000000ULL +
		       (odp_rnd64(s) & 0x7fffffffffffULL);
	case 3: /* non-canonical */
		return 0x0000800000000000ULL +
		       (odp_rnd64(s) & 0x7fff00000000ULL);
	case 4: /* the last page of the user address space, or past it */
		return 0x00007ffffffff000ULL + odp_rnd(s, 2) * page;
	default:
		a = (uintptr_t)arena + odp_rnd(s, ARENA_PAGES) * page;
		if (!odp_rnd(s, 4))
			a += 1 + odp_rnd(s, (unsigned int)page - 1);
		return a;
	}
}

static uint64_t fuzz_npages(unsigned int *s)
{
	static const uint64_t edge[] = {
		0,
		1,
		2,
		ARENA_PAGES,
		ARENA_PAGES + 1,
		SCRATCH_PAGES + 1,
		1ULL << 20,
		1ULL << 32,
		UINT64_MAX / 4096 + 1, /* npages << PAGE_SHIFT overflows */
		UINT64_MAX,
	};

	if (odp_rnd(s, 3))
		return 1 + odp_rnd(s, 32);
	return edge[odp_rnd(s, sizeof(edge) / sizeof(edge[0]))];
}

static uint64_t fuzz_ptr(unsigned int *s)
{
	switch (odp_rnd(s, 8)) {
	case 0:
		return 0;
	case 1: /* ends inside the guard page */
		return (uintptr_t)(scratch + (SCRATCH_PAGES - 1) * page +
				   odp_rnd(s, (unsigned int)page));
	case 2:
		return 0xffff800000000000ULL +
		       (odp_rnd64(s) & 0x7fffffffffffULL);
	default:
		return (uintptr_t)scratch;
	}
}

/* --- ioctl ---------------------------------------------------------------------- */

#define NCMD 16 /* 0x00-0x0c are test_hmm's, the rest unknown */
#define NERR 140

struct ioctl_stats {
	atomic_ulong calls[NCMD], ok[NCMD], err[NCMD][NERR];
};

static struct ioctl_stats ist;

struct ioctl_thread {
	pthread_t thread;
	unsigned int seed;
	int fd[4];
	int nfd;
	unsigned long iterations;
	double deadline;
	/* The call under way, for the watchdog: 0 when none */
	atomic_ulong since_ms, nr, addr, ptr, npages, fdi;
	atomic_bool done;
};

static unsigned long ioctl_request(unsigned int *s, unsigned int nr)
{
	/* Now and then a wrong size or direction for a known number */
	switch (odp_rnd(s, 16)) {
	case 0:
		return _IOC(_IOC_READ | _IOC_WRITE, 'H', nr,
			    odp_rnd(s, 2 * sizeof(struct hmm_dmirror_dma_cmd)));
	case 1:
		return _IO('H', nr);
	default:
		return nr == 0x0c ? (unsigned long)HMM_DMIRROR_DMA_READ :
				    _IOWR('H', nr, struct hmm_dmirror_cmd);
	}
}

static void ioctl_once(struct ioctl_thread *t)
{
	unsigned int *s = &t->seed, nr = odp_rnd(s, NCMD);

	/*
	 * RELEASE evicts and removes the device's memory while the other
	 * threads migrate to it (test_hmm deadlocked there before the fix):
	 * one draw in 64, as each one costs the device its chunks.
	 */
	if (nr == 0x07 && odp_rnd(s, 64))
		nr = NCMD - 1;
	int fd = t->fd[odp_rnd(s, (unsigned int)t->nfd)];
	union {
		struct hmm_dmirror_cmd cmd;
		struct hmm_dmirror_dma_cmd dma;
		/* as large as a request with a wrong size can say */
		// cppcheck-suppress unusedStructMember
		uint8_t raw[2 * sizeof(struct hmm_dmirror_dma_cmd)];
	} u;
	int ret, err;

	memset(&u, 0, sizeof(u));
	if (nr == 0x0c) {
		u.dma.addr = fuzz_addr(s);
		u.dma.ptr = fuzz_ptr(s);
		u.dma.pages = odp_rnd(s, 2) ? (uintptr_t)scratch : fuzz_ptr(s);
		u.dma.npages = fuzz_npages(s);
		/* Half the time a function that exists */
		if (npci && odp_rnd(s, 2)) {
			unsigned int f = odp_rnd(s, npci);

			u.dma.pci_domain = pci[f].domain;
			u.dma.pci_devid = pci[f].devid;
		} else {
			u.dma.pci_domain =
				odp_rnd(s, 4) ? (uint32_t)odp_rnd64(s) : 0;
			u.dma.pci_devid = (uint16_t)odp_rnd64(s);
		}
		u.dma.reserved = odp_rnd(s, 4) ? 0 : (uint16_t)odp_rnd64(s);
	} else {
		u.cmd.addr = fuzz_addr(s);
		u.cmd.ptr = fuzz_ptr(s);
		u.cmd.npages = fuzz_npages(s);
		/* FLAGS, DEVICE_FLAGS: npages holds flags */
		if (nr == 0x08)
			u.cmd.npages = odp_rnd(s, 2) ? odp_rnd(s, 4) :
						       odp_rnd64(s);
		if (nr == 0x0b)
			u.cmd.npages = odp_rnd(s, 2) ? odp_rnd(s, 8) :
						       odp_rnd64(s);
		/* COUNTERS: npages is the size of the caller's structure */
		if (nr == 0x0a)
			u.cmd.npages = odp_rnd(s, 2) ? odp_rnd(s, 128) :
						       odp_rnd64(s);
		u.cmd.cpages = odp_rnd(s, 8) ? 0 : odp_rnd64(s);
		u.cmd.faults = odp_rnd(s, 8) ? 0 : odp_rnd64(s);
	}
	atomic_store(&t->nr, nr);
	atomic_store(&t->fdi, (unsigned long)fd);
	atomic_store(&t->addr, u.cmd.addr);
	atomic_store(&t->ptr, u.cmd.ptr);
	atomic_store(&t->npages, nr == 0x0c ? u.dma.npages : u.cmd.npages);
	atomic_store(&t->since_ms, (unsigned long)odp_now_ms() + 1);
	if (o.trace)
		fprintf(stderr,
			"ioctl 0x%02x fd %d addr %#llx ptr %#llx npages %#llx\n",
			nr, fd, (unsigned long long)u.cmd.addr,
			(unsigned long long)u.cmd.ptr,
			(unsigned long long)atomic_load(&t->npages));
	ret = ioctl(fd, ioctl_request(s, nr), &u);
	err = ret ? errno : 0;
	atomic_store(&t->since_ms, 0);
	atomic_fetch_add(&ist.calls[nr], 1);
	if (!ret)
		atomic_fetch_add(&ist.ok[nr], 1);
	else if (err > 0 && err < NERR)
		atomic_fetch_add(&ist.err[nr][err], 1);
	else
		fail("ioctl 0x%02x: returned %d with errno %d", nr, ret, err);
}

static void *ioctl_run(void *arg)
{
	struct ioctl_thread *t = arg;
	unsigned long i;

	for (i = 0; i < t->iterations && odp_now_ms() < t->deadline; i++)
		ioctl_once(t);
	t->iterations = i;
	atomic_store(&t->done, true);
	return NULL;
}

static const char *ioctl_name(unsigned int nr)
{
	static const char *const names[] = {
		"READ",
		"WRITE",
		"MIGRATE_TO_DEV",
		"MIGRATE_TO_SYS",
		"SNAPSHOT",
		"EXCLUSIVE",
		"CHECK_EXCLUSIVE",
		"RELEASE",
		"FLAGS",
		"READ_UNLOCKED",
		"COUNTERS",
		"DEVICE_FLAGS",
		"DMA_READ",
	};

	return nr < sizeof(names) / sizeof(names[0]) ? names[nr] : "unknown";
}

/* The kernel's list of blocked tasks in its log, when it has sysrq */
static void sysrq_blocked_tasks(void)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "w", 1) != 1)
			printf("# sysrq: %s\n", strerror(errno));
		close(fd);
	}
}

/* Opens @path; -1 and nothing printed when it is absent */
static int open_optional(const char *path)
{
	int fd = dmirror_open(path);

	return fd < 0 ? -1 : fd;
}

static bool fuzz_ioctl(int dmirror)
{
	struct ioctl_thread t[MAX_THREADS];
	struct churn churn = { .seed = thread_seed("churn", 0),
			       .dmirror = dmirror };
	double deadline = odp_now_ms() + o.seconds * 1000.0;
	/* A second file of the device under test, unless --one-file */
	int extra[3] = { o.one_file ? -1 : dmirror_open(odp_dmirror_path()),
			 open_optional(odp_dmirror_peer_path()),
			 open_optional(odp_dmirror_bar_path()) };
	unsigned long total = 0, i;
	unsigned int nr, e;
	unsigned int before = atomic_load(&failures);

	memset(&ist, 0, sizeof(ist));
	atomic_store(&churn_stop, false);
	if (pthread_create(&churn.thread, NULL, churn_run, &churn)) {
		fail("pthread_create");
		return false;
	}
	for (i = 0; i < o.threads; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].seed = thread_seed("ioctl", (unsigned int)i);
		t[i].iterations = (o.iterations + o.threads - 1) / o.threads;
		t[i].deadline = deadline;
		t[i].fd[t[i].nfd++] = dmirror;
		for (e = 0; e < 3; e++)
			if (extra[e] >= 0)
				t[i].fd[t[i].nfd++] = extra[e];
		printf("# ioctl thread %lu: seed %#x, %d files\n", i, t[i].seed,
		       t[i].nfd);
		if (pthread_create(&t[i].thread, NULL, ioctl_run, &t[i])) {
			printf("Bail out! pthread_create\n");
			_exit(ODP_EXIT_FAIL);
		}
	}
	/*
	 * A call that does not return within HANG_S is a hang: say which, ask
	 * the kernel for its blocked tasks (sysrq w, when it has sysrq), and
	 * give up; the thread cannot be taken back from the kernel.
	 */
	for (;;) {
		bool all = true;
		double now = odp_now_ms();

		for (i = 0; i < o.threads; i++) {
			unsigned long since = atomic_load(&t[i].since_ms);

			all &= atomic_load(&t[i].done);
			if (!since ||
			    now - (double)since <
				    HANG_S * 1000.0 * odp_timeout_scale())
				continue;
			printf("Bail out! ioctl thread %lu: ioctl 0x%02lx (%s) on fd %lu, addr %#lx ptr %#lx npages %#lx, has not returned for %d s (--seed %#x --threads 1 --trace repeats it)\n",
			       i, atomic_load(&t[i].nr),
			       ioctl_name((unsigned int)atomic_load(&t[i].nr)),
			       atomic_load(&t[i].fdi), atomic_load(&t[i].addr),
			       atomic_load(&t[i].ptr),
			       atomic_load(&t[i].npages), HANG_S, o.seed);
			sysrq_blocked_tasks();
			_exit(ODP_EXIT_FAIL);
		}
		if (all)
			break;
		usleep(100000);
	}
	for (i = 0; i < o.threads; i++) {
		pthread_join(t[i].thread, NULL);
		total += t[i].iterations;
	}
	atomic_store(&churn_stop, true);
	pthread_join(churn.thread, NULL);
	/* FLAGS and DEVICE_FLAGS were fuzzed: every device as the suites expect */
	for (e = 0; e < 3; e++) {
		if (extra[e] < 0)
			continue;
		if (dmirror_set_device_flags(extra[e], 0))
			fail("clearing the device flags of file %u", e);
		dmirror_close(extra[e]);
	}
	dmirror_set_flags(dmirror, 0);
	if (dmirror_set_device_flags(dmirror, 0))
		fail("clearing the device flags");

	printf("# ioctl: %lu calls\n", total);
	for (nr = 0; nr < NCMD; nr++) {
		char line[512];
		int n;

		if (!atomic_load(&ist.calls[nr]))
			continue;
		n = snprintf(line, sizeof(line),
			     "#   0x%02x %-15s %6lu calls: %lu ok", nr,
			     ioctl_name(nr), atomic_load(&ist.calls[nr]),
			     atomic_load(&ist.ok[nr]));
		for (e = 1; e < NERR && n < (int)sizeof(line); e++)
			if (atomic_load(&ist.err[nr][e]))
				n += snprintf(line + n,
					      sizeof(line) - (size_t)n,
					      ", %lu %s",
					      atomic_load(&ist.err[nr][e]),
					      odp_errno_name((int)e));
		printf("%s\n", line);
	}
	return atomic_load(&failures) == before;
}

/* --- verbs ------------------------------------------------------------------------ */

static const int access_bits[] = {
	IBV_ACCESS_LOCAL_WRITE,	     IBV_ACCESS_REMOTE_WRITE,
	IBV_ACCESS_REMOTE_READ,	     IBV_ACCESS_REMOTE_ATOMIC,
	IBV_ACCESS_MW_BIND,	     IBV_ACCESS_ZERO_BASED,
	IBV_ACCESS_ON_DEMAND,	     IBV_ACCESS_HUGETLB,
	IBV_ACCESS_FLUSH_GLOBAL,     IBV_ACCESS_FLUSH_PERSISTENT,
	IBV_ACCESS_RELAXED_ORDERING,
};

struct switch_flipper {
	pthread_t thread;
	uint32_t index;
	unsigned int seed;
	atomic_bool stop;
	atomic_ulong flips;
};

static void *flipper_run(void *arg)
{
	struct switch_flipper *f = arg;

	while (!atomic_load(&f->stop)) {
		if (!rdma_nl_set_odp_alias(f->index, odp_rnd(&f->seed, 2)))
			atomic_fetch_add(&f->flips, 1);
		usleep(500 + odp_rnd(&f->seed, 5000));
	}
	return NULL;
}

struct verbs_counts {
	unsigned long reg_ok, reg_err, advise_ok, advise_err, dereg;
};

#define LIVE_MRS 16

static void verbs_once(unsigned int *s, struct odp_side *side,
		       struct ibv_mr **live, struct verbs_counts *c,
		       int dmirror)
{
	unsigned int slot = odp_rnd(s, LIVE_MRS);
	struct ibv_mr *mr = live[slot];

	if (!mr) {
		uint64_t addr = fuzz_addr(s);
		size_t len =
			odp_rnd(s, 4) ?
				1 + odp_rnd(s,
					    ARENA_PAGES * (unsigned int)page) :
				(size_t)fuzz_npages(s) * page + odp_rnd(s, 3);
		int access = odp_rnd(s, 8) ? IBV_ACCESS_ON_DEMAND : 0;
		unsigned int b;

		for (b = 0; b < sizeof(access_bits) / sizeof(access_bits[0]);
		     b++)
			if (!odp_rnd(s, 3))
				access |= access_bits[b];
		if (!odp_rnd(s, 16))
			access = (int)odp_rnd64(s);
		if (!odp_rnd(s, 4))
			churn_once(s, dmirror);
		mr = ibv_reg_mr(side->pd, (void *)(uintptr_t)addr, len, access);
		if (mr) {
			live[slot] = mr;
			c->reg_ok++;
		} else {
			c->reg_err++;
		}
		return;
	}
	if (odp_rnd(s, 4)) {
		static const enum ibv_advise_mr_advice advice[] = {
			IBV_ADVISE_MR_ADVICE_PREFETCH,
			IBV_ADVISE_MR_ADVICE_PREFETCH_WRITE,
			IBV_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT,
		};
		struct ibv_sge sge[4];
		unsigned int n = odp_rnd(s, 5), i;
		enum ibv_advise_mr_advice a =
			odp_rnd(s, 8) ?
				advice[odp_rnd(s, 3)] :
				(enum ibv_advise_mr_advice)odp_rnd(s, 64);
		uint32_t flags =
			odp_rnd(s, 4) ?
				IBV_ADVISE_MR_FLAG_FLUSH :
				(odp_rnd(s, 2) ? 0 : (uint32_t)odp_rnd64(s));

		for (i = 0; i < n; i++) {
			sge[i].lkey = odp_rnd(s, 8) ? mr->lkey :
						      (uint32_t)odp_rnd64(s);
			sge[i].addr =
				(uintptr_t)mr->addr +
				(odp_rnd(s, 8) ?
					 odp_rnd(s,
						 (unsigned int)mr->length + 1) :
					 odp_rnd64(s));
			sge[i].length =
				odp_rnd(s, 8) ?
					odp_rnd(s,
						(unsigned int)mr->length + 1) :
					(uint32_t)odp_rnd64(s);
		}
		if (!ibv_advise_mr(side->pd, a, flags, sge, n))
			c->advise_ok++;
		else
			c->advise_err++;
		return;
	}
	if (ibv_dereg_mr(mr))
		fail("ibv_dereg_mr(%p, %zu B): %s", mr->addr, mr->length,
		     strerror(errno));
	live[slot] = NULL;
	c->dereg++;
}

static bool fuzz_verbs(int dmirror)
{
	struct odp_side side;
	struct switch_flipper f = { .seed = thread_seed("flip", 0) };
	struct ibv_mr *live[LIVE_MRS] = { NULL };
	struct verbs_counts c = { 0 };
	unsigned int s = thread_seed("verbs", 0), before;
	double deadline = odp_now_ms() + o.seconds * 1000.0;
	unsigned long i;
	bool was = true;

	memset(&side, 0, sizeof(side));
	if (odp_side_open(&side, odp_dev_b(), IBV_ODP_SUPPORT_WRITE) !=
	    ODP_OPEN_OK) {
		fail("%s: %s", odp_dev_b(), odp_reason());
		return false;
	}
	before = atomic_load(&failures);
	f.index = (uint32_t)side.index;
	rdma_nl_get_odp_alias(f.index, &was);
	dmirror_set_device_flags(dmirror, HMM_DMIRROR_DEVICE_EXPORT_ALIAS);
	if (pthread_create(&f.thread, NULL, flipper_run, &f)) {
		fail("pthread_create");
		odp_side_close(&side);
		return false;
	}
	printf("# verbs: seed %#x on %s\n", s, side.name);
	for (i = 0; i < o.iterations && odp_now_ms() < deadline; i++)
		verbs_once(&s, &side, live, &c, dmirror);
	atomic_store(&f.stop, true);
	pthread_join(f.thread, NULL);
	for (unsigned int m = 0; m < LIVE_MRS; m++) {
		if (live[m] && ibv_dereg_mr(live[m]))
			fail("ibv_dereg_mr: %s", strerror(errno));
		c.dereg += live[m] != NULL;
	}
	rdma_nl_set_odp_alias(f.index, was);
	dmirror_set_device_flags(dmirror, 0);
	odp_side_close(&side);
	printf("# verbs: %lu steps: %lu registrations (%lu refused), %lu advices (%lu refused), %lu deregistrations, %lu switch flips\n",
	       i, c.reg_ok + c.reg_err, c.reg_err, c.advise_ok + c.advise_err,
	       c.advise_err, c.dereg, atomic_load(&f.flips));
	if (!c.reg_ok || !c.advise_ok)
		fail("verbs: no registration or no advice succeeded: the fuzzing missed the paths that work");
	return atomic_load(&failures) == before;
}

/* --- switch ----------------------------------------------------------------------- */

static bool fuzz_switch(void)
{
	const char *names[2] = { odp_dev_a(), odp_dev_b() };
	unsigned int s = thread_seed("switch", 0),
		     before = atomic_load(&failures);
	unsigned long i, taken = 0, refused = 0;
	double deadline = odp_now_ms() + o.seconds * 1000.0;
	uint32_t index[2];
	bool was[2], on;
	int d;

	for (d = 0; d < 2; d++) {
		struct odp_side side;

		memset(&side, 0, sizeof(side));
		if (odp_side_open(&side, names[d], 0) != ODP_OPEN_OK) {
			fail("%s: %s", names[d], odp_reason());
			return false;
		}
		index[d] = (uint32_t)side.index;
		odp_side_close(&side);
		rdma_nl_get_odp_alias(index[d], &was[d]);
	}
	for (i = 0; i < o.iterations && odp_now_ms() < deadline; i++) {
		uint32_t idx = i < 256	      ? (uint32_t)i :
			       odp_rnd(&s, 2) ? index[odp_rnd(&s, 2)] :
						(uint32_t)odp_rnd64(&s);
		uint8_t value = (uint8_t)odp_rnd(&s, 256);
		bool known = idx == index[0] || idx == index[1];
		bool before_on = false;
		int err;

		if (known)
			rdma_nl_get_odp_alias(idx, &before_on);
		err = rdma_nl_set_odp_alias(idx, value);
		if (!err) {
			taken++;
			if (value > 1)
				fail("device %u took odp-alias %u", idx, value);
			if (known && (rdma_nl_get_odp_alias(idx, &on) ||
				      on != (value == 1)))
				fail("device %u: odp-alias %u set, %s read back",
				     idx, value, on ? "on" : "off");
			continue;
		}
		refused++;
		if (known && value <= 1)
			fail("device %u refused odp-alias %u: %s", idx, value,
			     odp_reason());
		if (known &&
		    (rdma_nl_get_odp_alias(idx, &on) || on != before_on))
			fail("device %u: a refused odp-alias %u changed the switch",
			     idx, value);
	}
	for (d = 0; d < 2; d++)
		rdma_nl_set_odp_alias(index[d], was[d]);
	printf("# switch: %lu settings, %lu taken, %lu refused\n", i, taken,
	       refused);
	return atomic_load(&failures) == before;
}

/* --- cli ---------------------------------------------------------------------------- */

/* Values no option expects */
static const char *const nonsense[] = {
	"",
	"-1",
	"0",
	"1",
	"4294967296",
	"99999999999999999999999",
	"0x",
	"1e9",
	"abc",
	"%s%s%s%n",
	"test_hmm:",
	"test_hmm:0",
	"test_hmm:99",
	"test_hmm:-1",
	"cuda:0",
	"gpu0",
	"test_hmm:0,extra",
	"\"",
	"-",
	"--",
	"/",
	"/nonexistent/x",
	"\xff\xfe",
	"rxe_a",
	"rxe_zz",
	"on",
	"off",
	"maybe",
};

static const char *const devmem_words[] = {
	"status",   "dev",  "show",	"set",	    "odp-alias", "on",
	"off",	    "mr",   "exporter", "counters", "--evict",	 "where",
	"run",	    "-e",   "-n",	"-q",	    "-R",	 "-r",
	"--",	    "-j",   "--json",	"-h",	    "--help",	 "-x",
	"--bogus",  "true", "rxe_a",	"rxe_b",    "1",	 "0",
	"test_hmm", "self",
};

static const char *const perftest_progs[] = {
	"ib_write_bw",	"ib_read_bw",  "ib_send_bw",  "ib_atomic_bw",
	"ib_write_lat", "ib_read_lat", "ib_send_lat", "ib_atomic_lat",
};

static const char *const perftest_words[] = {
	"--use_hmm",
	"--hmm_remigrate",
	"--use_hmm=test_hmm:0",
	"--hmm_remigrate=1",
	"-s",
	"-n",
	"-b",
	"-D",
	"-a",
	"--use_cuda=0",
	"-R",
	"-z",
	"--odp",
	"-d",
	"-x",
};

/* Word @w of an argv: each has a buffer of its own */
#define MAX_WORDS 8

static const char *word(unsigned int *s, const char *const *words, size_t n,
			int w)
{
	static char bufs[MAX_WORDS][5000];
	char *buf = bufs[w];

	switch (odp_rnd(s, 12)) {
	case 0:
		return nonsense[odp_rnd(s, sizeof(nonsense) /
						   sizeof(nonsense[0]))];
	case 1: /* long */
		memset(buf, 'A' + (int)odp_rnd(s, 26), sizeof(bufs[0]) - 1);
		buf[sizeof(bufs[0]) - 1] = 0;
		return buf;
	case 2: /* --option=nonsense */
		snprintf(buf, sizeof(bufs[0]), "%s=%s",
			 words[odp_rnd(s, (unsigned int)n)],
			 nonsense[odp_rnd(s, sizeof(nonsense) /
						     sizeof(nonsense[0]))]);
		return buf;
	default:
		return words[odp_rnd(s, (unsigned int)n)];
	}
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

struct cli_counts {
	unsigned long runs, ok, failed;
};

/*
 * Runs argv with stdin from /dev/null and its output to a file; checks that
 * it ended on its own, without a signal, within CLI_TIMEOUT_S, and that a
 * failure said something (perftest says why on stdout).
 */
static void cli_run(char *const argv[], struct cli_counts *c)
{
	char errfile[] = "/tmp/odp_fuzz.XXXXXX", line[2048];
	int efd = mkstemp(errfile), status = 0, n = 0, i;
	double deadline =
		odp_now_ms() + CLI_TIMEOUT_S * 1000.0 * odp_timeout_scale();
	pid_t pid, w = 0;
	off_t errlen;

	for (i = 0; argv[i] && n < (int)sizeof(line) - 64; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s'%.40s%s'",
			      i ? " " : "", argv[i],
			      strlen(argv[i]) > 40 ? "..." : "");
	if (efd < 0) {
		fail("mkstemp: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		/* A group of its own: a hang is killed with what it started */
		setpgid(0, 0);
		dup2(null, 0);
		dup2(efd, 1);
		dup2(efd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		close(efd);
		unlink(errfile);
		return;
	}
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
	       odp_now_ms() < deadline)
		usleep(10000);
	c->runs++;
	if (w < 0) {
		fail("waitpid: %s", strerror(errno));
	} else if (w == 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		fail("hung (%d s): %s", CLI_TIMEOUT_S, line);
	} else if (WIFSIGNALED(status)) {
		fail("killed by signal %d: %s", WTERMSIG(status), line);
	} else if (WEXITSTATUS(status)) {
		errlen = lseek(efd, 0, SEEK_END);
		c->failed++;
		if (errlen <= 0)
			fail("exit %d without a word of why: %s",
			     WEXITSTATUS(status), line);
	} else {
		c->ok++;
	}
	close(efd);
	unlink(errfile);
}

static bool fuzz_cli(void)
{
	unsigned int s = thread_seed("cli", 0), before = atomic_load(&failures);
	double deadline = odp_now_ms() + o.seconds * 1000.0;
	struct cli_counts devmem = { 0 }, perf = { 0 };
	char prog[4096], *argv[16], dir[] = "/tmp/odp_fuzz_cli.XXXXXX";
	unsigned long i;

	if (!o.odp_devmem && !o.perftest) {
		fail("cli: neither --odp-devmem nor --perftest given");
		return false;
	}
	/* Whatever a run writes (odp-devmem run -r FILE) lands in a fresh directory */
	if (!mkdtemp(dir) || chdir(dir)) {
		fail("cli: a directory to run in: %s", strerror(errno));
		return false;
	}
	printf("# cli: seed %#x, in %s\n", s, dir);
	for (i = 0; i < o.iterations && odp_now_ms() < deadline; i++) {
		bool perftest = o.perftest && (!o.odp_devmem || odp_rnd(&s, 2));
		int words = 1 + (int)odp_rnd(&s, MAX_WORDS - 2), w, n = 0;

		if (perftest) {
			snprintf(
				prog, sizeof(prog), "%s/%s", o.perftest,
				perftest_progs[odp_rnd(
					&s, sizeof(perftest_progs) /
						    sizeof(perftest_progs[0]))]);
			argv[n++] = prog;
			for (w = 0; w < words; w++)
				argv[n++] = (char *)word(
					&s, perftest_words,
					sizeof(perftest_words) /
						sizeof(perftest_words[0]),
					w);
			/*
			 * A client of a server that is not there: a run whose
			 * options all parse ends at the connection, not in a
			 * server's wait for a client.
			 */
			argv[n++] = "-p";
			argv[n++] = "1";
			argv[n++] = "127.0.0.1";
		} else {
			argv[n++] = (char *)o.odp_devmem;
			for (w = 0; w < words; w++)
				argv[n++] = (char *)word(
					&s, devmem_words,
					sizeof(devmem_words) /
						sizeof(devmem_words[0]),
					w);
		}
		argv[n] = NULL;
		cli_run(argv, perftest ? &perf : &devmem);
	}
	if (chdir("/"))
		fail("chdir: %s", strerror(errno));
	/* What the runs left there (odp-devmem run -r FILE) goes with it */
	if (nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS))
		fail("removing %s: %s", dir, strerror(errno));
	printf("# cli: odp-devmem %lu runs (%lu exit 0, %lu failed cleanly), perftest %lu runs (%lu exit 0, %lu failed cleanly)\n",
	       devmem.runs, devmem.ok, devmem.failed, perf.runs, perf.ok,
	       perf.failed);
	return atomic_load(&failures) == before;
}

/* --- the end ------------------------------------------------------------------------ */

/* The ODP alias switches of both hosts' devices, to put back at the end */
struct switches {
	int n;
	const char *name[2];
	uint32_t index[2];
	bool on[2];
};

static void switches_save(struct switches *sw)
{
	const char *names[2] = { odp_dev_a(), odp_dev_b() };
	struct odp_side side;
	int d;

	sw->n = 0;
	for (d = 0; d < 2; d++) {
		memset(&side, 0, sizeof(side));
		if (odp_side_open(&side, names[d], 0) != ODP_OPEN_OK)
			continue;
		sw->name[sw->n] = names[d];
		sw->index[sw->n] = (uint32_t)side.index;
		odp_side_close(&side);
		if (!rdma_nl_get_odp_alias(sw->index[sw->n], &sw->on[sw->n]))
			sw->n++;
	}
}

static bool switches_restore(const struct switches *sw)
{
	bool ok = true, on;
	int d;

	for (d = 0; d < sw->n; d++) {
		if (rdma_nl_set_odp_alias(sw->index[d], sw->on[d]) ||
		    rdma_nl_get_odp_alias(sw->index[d], &on) ||
		    on != sw->on[d]) {
			fail("%s: the ODP alias switch cannot be put back: %s",
			     sw->name[d], odp_reason());
			ok = false;
		}
	}
	return ok;
}

/* test_hmm still works: a page of fresh bytes goes to the device and back */
static bool still_works(int dmirror)
{
	size_t n = 4;
	uint8_t *buf = mmap(NULL, n * page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *bounce = malloc(n * page);
	uint32_t seed = odp_seed();
	bool ok;

	if (buf == MAP_FAILED || !bounce) {
		fail("out of memory");
		return false;
	}
	odp_fill(buf, n * page, seed);
	ok = dmirror_migrate_to_device(dmirror, buf, n, bounce) &&
	     dmirror_check_places(dmirror, buf, n, 0, n - 1, DMIRROR_ON_DEVICE,
				  DMIRROR_ON_DEVICE);
	if (!ok)
		fail("after the fuzzing, test_hmm no longer migrates: %s",
		     odp_reason());
	else if (odp_verify(buf, 0, n * page, seed, NULL)) {
		fail("after the fuzzing, pages back from the device lost their bytes: %s",
		     odp_reason());
		ok = false;
	}
	munmap(buf, n * page);
	free(bounce);
	return ok;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: odp_fuzz [--seed X] [--iterations N] [--seconds S] [--threads T]\n"
		"                [--odp-devmem PATH] [--perftest DIR] TARGET...\n"
		"  TARGET         ioctl, verbs, switch, cli\n"
		"  --iterations N calls per target (default 2000)\n"
		"  --seconds S    at most S seconds per target (default 60)\n"
		"  --threads T    ioctl threads (1-%d, default 4; 1 repeats a run exactly)\n"
		"  --seed X       repeat a run (default $ODP_SEED, else the time)\n"
		"  --odp-devmem PATH, --perftest DIR: the programs the cli target runs\n"
		"  --trace        each ioctl on stderr before it is made\n"
		"  --one-file     no second file of the device under test\n",
		MAX_THREADS);
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "odp-devmem", required_argument, NULL, 'o' },
		{ "perftest", required_argument, NULL, 'p' },
		{ "trace", no_argument, NULL, 'v' },
		{ "one-file", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const known[] = { "ioctl", "verbs", "switch",
					     "cli" };
	unsigned long v;
	int c, idx = 0;
	size_t k;

	o.iterations = 2000;
	o.seconds = 60;
	o.threads = 4;
	o.seed = odp_seed_from_env();
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case 's':
			if (!odp_parse_ulong(optarg, 0, UINT32_MAX, &v))
				goto bad;
			o.seed = (uint32_t)v;
			break;
		case 'i':
			if (!odp_parse_ulong(optarg, 1, 100000000,
					     &o.iterations))
				goto bad;
			break;
		case 't':
			if (!odp_parse_ulong(optarg, 1, 86400, &o.seconds))
				goto bad;
			break;
		case 'T':
			if (!odp_parse_ulong(optarg, 1, MAX_THREADS,
					     &o.threads))
				goto bad;
			break;
		case 'o':
			o.odp_devmem = optarg;
			break;
		case 'p':
			o.perftest = optarg;
			break;
		case 'v':
			o.trace = true;
			break;
		case 'f':
			o.one_file = true;
			break;
		case 'h':
			usage(stdout);
			exit(ODP_EXIT_PASS);
		default:
			usage(stderr);
			exit(ODP_EXIT_USAGE);
		}
	}
	if (optind == argc) {
		fprintf(stderr, "odp_fuzz: no target\n");
		usage(stderr);
		exit(ODP_EXIT_USAGE);
	}
	for (; optind < argc; optind++) {
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(argv[optind], known[k]))
				break;
		if (k == sizeof(known) / sizeof(known[0]) || o.ntargets == 8) {
			fprintf(stderr, "odp_fuzz: unknown target '%s'\n",
				argv[optind]);
			usage(stderr);
			exit(ODP_EXIT_USAGE);
		}
		o.targets[o.ntargets++] = argv[optind];
	}
	return;
bad:
	fprintf(stderr, "odp_fuzz: --%s %s: not a number in range\n",
		opts[idx].name, optarg);
	usage(stderr);
	exit(ODP_EXIT_USAGE);
}

int main(int argc, char **argv)
{
	struct hmm_dmirror_counters before, after;
	struct switches sw;
	unsigned int n = 0, ok = 0;
	bool needs_device = false, released = true, works = true, restored;
	int dmirror = -1, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	page = odp_page_size();
	odp_seed_start(o.seed);
	for (i = 0; i < o.ntargets; i++)
		needs_device |= strcmp(o.targets[i], "cli") != 0;
	if (needs_device) {
		dmirror = dmirror_open(odp_dmirror_path());
		if (dmirror < 0 && dmirror_absent(-dmirror))
			odp_skip_exit("%s: %s", odp_dmirror_path(),
				      strerror(-dmirror));
		if (dmirror < 0 || dmirror_read_counters(dmirror, &before)) {
			printf("Bail out! %s: %s\n", odp_dmirror_path(),
			       odp_reason());
			return ODP_EXIT_FAIL;
		}
		pci_scan();
		if (!arena_setup()) {
			printf("Bail out! %s\n", odp_reason());
			return ODP_EXIT_FAIL;
		}
	}
	switches_save(&sw);
	printf("TAP version 13\n1..%d\n", o.ntargets + 1);
	if (needs_device)
		printf("# %u PCI functions for DMA_READ to name\n", npci);
	printf("# seed %#x (--seed %#x repeats it), %lu iterations and at most %lu s per target, %lu ioctl threads\n",
	       o.seed, o.seed, o.iterations, o.seconds, o.threads);
	for (i = 0; i < o.ntargets; i++) {
		const char *t = o.targets[i];
		double start = odp_now_ms();
		bool pass;

		if (!strcmp(t, "ioctl"))
			pass = fuzz_ioctl(dmirror);
		else if (!strcmp(t, "verbs"))
			pass = fuzz_verbs(dmirror);
		else if (!strcmp(t, "switch"))
			pass = fuzz_switch();
		else
			pass = fuzz_cli();
		printf("%sok %u fuzz_%s # %.1f s\n", pass ? "" : "not ", ++n, t,
		       (odp_now_ms() - start) / 1000);
		ok += pass;
	}
	if (needs_device) {
		const char *paths[3] = { odp_dmirror_path(),
					 odp_dmirror_peer_path(),
					 odp_dmirror_bar_path() };

		/* The arena's device pages go with it: the level as it was */
		munmap(arena - page, (ARENA_PAGES + 2) * page);
		released = !dmirror_wait_pages_in_use(
			dmirror, before.pages_in_use,
			10000.0 * odp_timeout_scale(), &after);
		printf("# %s: %llu device pages in use before, %llu after\n",
		       odp_dmirror_path(),
		       (unsigned long long)before.pages_in_use,
		       (unsigned long long)after.pages_in_use);
		if (!released)
			fail("device pages leaked");
		/*
		 * RELEASE once more, quiescent: each device's memory evicted
		 * and removed, and test_hmm still works after
		 */
		for (i = 0; i < 3; i++) {
			int fd = open_optional(paths[i]), err;

			if (fd < 0)
				continue;
			err = dmirror_cmd(fd, HMM_DMIRROR_RELEASE, NULL, 1,
					  NULL, NULL);
			if (err)
				fail("%s: RELEASE: %s", paths[i],
				     strerror(err));
			dmirror_close(fd);
		}
		works = still_works(dmirror);
		dmirror_close(dmirror);
	}
	restored = switches_restore(&sw);
	printf("%sok %u fuzz_state_restored\n",
	       works && released && restored ? "" : "not ", ++n);
	ok += works && released && restored;
	if (ok != n)
		printf("# failed: --seed %#x repeats the run\n", o.seed);
	return ok == n ? ODP_EXIT_PASS : ODP_EXIT_FAIL;
}
