/*
 * hmmem.c - libhmmem's core: handles, argument checks, errors.  The
 * back-ends (backend_*.c) do the moving and the asking.
 *
 * A handle is an int that names a slot of one table and that slot's
 * generation, so that a closed handle, or one closed twice, is told apart
 * from a live one (-EBADF) even after its slot is reused.  The table is
 * the library's only process-wide state: each slot holds one device with
 * its own reference count, and a call holds a reference for as long as it
 * runs, so that a concurrent hmmem_close() frees the device after it.
 */
#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT_BITS 10
#define MAX_HANDLES (1 << SLOT_BITS)
#define GEN_MASK ((1u << 20) - 1) /* handles stay positive ints */

struct slot {
	struct hmmem_dev *dev; /* NULL: the slot is free */
	const struct hmmem_backend *backend;
	bool open; /* until hmmem_close() */
	bool reserved; /* by a hmmem_open() that is opening its device */
	unsigned int gen; /* of the handle the slot holds, or of the next */
	unsigned int refs; /* the table's own and the running calls' */
	pid_t pid; /* the process that opened it */
	char name[128];
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static struct slot table[MAX_HANDLES];
/* Slots are handed out round-robin, so that a stale handle stays stale. */
static unsigned int next_slot;

static const struct hmmem_backend *const backends[] = {
	&hmmem_test_hmm_backend,
	&hmmem_cuda_backend,
};

size_t hmmem_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* A fork() in another thread must not leave the child's table locked. */
static void table_lock_all(void)
{
	pthread_mutex_lock(&table_lock);
}

static void table_unlock_all(void)
{
	pthread_mutex_unlock(&table_lock);
}

static void table_init(void)
{
	pthread_atfork(table_lock_all, table_unlock_all, table_unlock_all);
}

/*
 * A reference to the open slot that @h names, or NULL with *@err set.
 * @any_process: the caller may be a child of the process that opened it.
 */
static struct slot *get_slot(int h, bool any_process, int *err)
{
	unsigned int i = (unsigned int)h & (MAX_HANDLES - 1);
	unsigned int gen = (unsigned int)h >> SLOT_BITS;
	struct slot *s = NULL;

	*err = -EBADF;
	if (h <= 0)
		return NULL;
	pthread_mutex_lock(&table_lock);
	if (table[i].open && table[i].gen == gen) {
		if (!any_process && table[i].pid != getpid()) {
			*err = -ECHILD;
		} else {
			s = &table[i];
			s->refs++;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return s;
}

/* Drops a reference; the last one closes the device and frees the slot. */
static void put_slot(struct slot *s)
{
	const struct hmmem_backend *backend = s->backend;
	struct hmmem_dev *dev = NULL;
	bool child = false;

	pthread_mutex_lock(&table_lock);
	if (--s->refs == 0) {
		dev = s->dev;
		child = s->pid != getpid();
		s->dev = NULL;
	}
	pthread_mutex_unlock(&table_lock);
	if (dev)
		backend->close(dev, child);
}

int hmmem_open(const char *spec)
{
	const struct hmmem_backend *backend = NULL;
	struct hmmem_dev *dev;
	struct slot *s;
	const char *arg = NULL;
	char name[sizeof(table[0].name)];
	size_t n, i;
	int ret;

	if (!spec || !*spec)
		return -EINVAL;
	n = strcspn(spec, ":");
	if (spec[n] == ':') {
		arg = spec + n + 1;
		if (!*arg)
			return -EINVAL;
	}
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strlen(backends[i]->name) == n &&
		    !strncmp(backends[i]->name, spec, n))
			backend = backends[i];
	if (!backend)
		return -ENOENT;

	pthread_once(&table_once, table_init);
	/*
	 * A slot first: a test_hmm file that is opened and closed again
	 * evicts the whole device, so never open one without a slot for it.
	 */
	s = NULL;
	pthread_mutex_lock(&table_lock);
	for (i = 0; i < MAX_HANDLES && !s; i++) {
		struct slot *c = &table[(next_slot + i) % MAX_HANDLES];

		if (!c->dev && !c->reserved) {
			s = c;
			s->reserved = true;
			next_slot = (unsigned int)(s - table + 1) % MAX_HANDLES;
		}
	}
	pthread_mutex_unlock(&table_lock);
	if (!s)
		return -EMFILE;

	ret = backend->open(arg, &dev, name, sizeof(name));
	pthread_mutex_lock(&table_lock);
	s->reserved = false;
	if (!ret) {
		if (!s->gen)
			s->gen = 1;
		s->dev = dev;
		s->backend = backend;
		s->open = true;
		s->refs = 1;
		s->pid = getpid();
		memcpy(s->name, name, sizeof(s->name));
		ret = (int)(s->gen << SLOT_BITS | (unsigned int)(s - table));
	}
	pthread_mutex_unlock(&table_lock);
	return ret;
}

int hmmem_close(int h)
{
	struct slot *s;
	int err;

	s = get_slot(h, true, &err);
	if (!s)
		return err;
	pthread_mutex_lock(&table_lock);
	if (s->open) {
		/* The handle is dead for every later call, and the slot's
		 * next handle will differ from it. */
		s->open = false;
		s->gen = (s->gen + 1) & GEN_MASK;
		s->refs--; /* the table's: ours keeps the slot */
		err = 0;
	} else {
		err = -EBADF; /* a concurrent hmmem_close() won */
	}
	pthread_mutex_unlock(&table_lock);
	put_slot(s);
	return err;
}

int hmmem_name(int h, char *buf, size_t len)
{
	struct slot *s;
	int err, n;

	if (!buf && len)
		return -EINVAL;
	s = get_slot(h, true, &err);
	if (!s)
		return err;
	n = snprintf(buf, len, "%s", s->name);
	put_slot(s);
	return n;
}

size_t hmmem_npages(const void *addr, size_t len)
{
	uintptr_t first = (uintptr_t)addr, last;
	size_t page = hmmem_page_size();

	if (!len || first + (len - 1) < first)
		return 0;
	last = first + (len - 1);
	return (last / page) - (first / page) + 1;
}

/*
 * -EFAULT unless every page of [addr, npages) is mapped: mincore() fails
 * with ENOMEM on a hole, whatever the pages' protection and residency.
 */
static int check_mapped(uintptr_t addr, size_t npages)
{
	size_t page = hmmem_page_size();
	unsigned char vec[4096];

	while (npages) {
		size_t n = hmmem_min(npages, sizeof(vec));

		if (mincore((void *)addr, n * page, vec))
			return errno == ENOMEM ? -EFAULT : -errno;
		addr += n * page;
		npages -= n;
	}
	return 0;
}

/* The checks hmmem_to_device() and hmmem_to_host() document. */
static long check_move(const void *addr, size_t len, size_t *npages)
{
	size_t page = hmmem_page_size();
	uintptr_t a = (uintptr_t)addr;

	if ((a & (page - 1)) || !len)
		return -EINVAL;
	/* A range whose last byte does not wrap ends in a whole page. */
	*npages = hmmem_npages(addr, len);
	if (!*npages)
		return -EOVERFLOW;
	return check_mapped(a, *npages);
}

static long move(int h, void *addr, size_t len, bool to_device)
{
	struct slot *s;
	size_t npages;
	long ret;
	int err;

	s = get_slot(h, false, &err);
	if (!s)
		return err;
	ret = check_move(addr, len, &npages);
	if (!ret)
		ret = to_device ? s->backend->to_device(s->dev, addr, npages) :
				  s->backend->to_host(s->dev, addr, npages);
	put_slot(s);
	return ret;
}

long hmmem_to_device(int h, void *addr, size_t len)
{
	return move(h, addr, len, true);
}

long hmmem_to_host(int h, void *addr, size_t len)
{
	return move(h, addr, len, false);
}

const char *hmmem_place_name(int place)
{
	switch (place) {
	case HMMEM_PLACE_NONE:
		return "none";
	case HMMEM_PLACE_HOST:
		return "host";
	case HMMEM_PLACE_DEVICE:
		return "device";
	case HMMEM_PLACE_OTHER_DEVICE:
		return "other-device";
	case HMMEM_PLACE_UNKNOWN:
		return "unknown";
	case HMMEM_PLACE_SOME_DEVICE:
		return "some-device";
	}
	return "?";
}

long hmmem_where(int h, const void *addr, size_t len, uint8_t *places,
		 size_t nplaces)
{
	size_t page = hmmem_page_size(), npages;
	uintptr_t first = (uintptr_t)addr & ~(uintptr_t)(page - 1);
	struct slot *s;
	long ret;
	int err;

	s = get_slot(h, false, &err);
	if (!s)
		return err;
	npages = hmmem_npages(addr, len);
	if (!len || !places)
		ret = -EINVAL;
	else if (!npages)
		ret = -EOVERFLOW;
	else if (nplaces < npages)
		ret = -ENOSPC;
	else
		ret = check_mapped(first, npages);
	if (!ret)
		ret = s->backend->where(s->dev, (const void *)first, npages,
					places);
	if (!ret)
		ret = (long)npages;
	put_slot(s);
	return ret;
}

int hmmem_counters(int h, struct hmmem_counters *c, size_t size)
{
	struct hmmem_counters all;
	struct slot *s;
	int err;

	if (!c || !size || size % sizeof(uint64_t))
		return -EINVAL;
	s = get_slot(h, false, &err);
	if (!s)
		return err;
	if (!s->backend->counters) {
		err = -EOPNOTSUPP;
	} else {
		memset(&all, 0xff, sizeof(all)); /* HMMEM_COUNTER_NONE */
		err = s->backend->counters(s->dev, &all);
		if (!err && size <= sizeof(all)) {
			memcpy(c, &all, size);
		} else if (!err) {
			/* A newer caller's counters: ours, then "none". */
			memcpy(c, &all, sizeof(all));
			memset((char *)c + sizeof(all), 0xff,
			       size - sizeof(all));
		}
	}
	put_slot(s);
	return err;
}

int hmmem_set_aliases(int h, int on)
{
	struct slot *s;
	int err;

	if (on != 0 && on != 1)
		return -EINVAL;
	s = get_slot(h, false, &err);
	if (!s)
		return err;
	err = s->backend->set_aliases ? s->backend->set_aliases(s->dev, on) :
					-EOPNOTSUPP;
	put_slot(s);
	return err;
}

const char *hmmem_strerror(long err)
{
	const char *desc;

	if (err >= 0)
		return "success";
	if (err < -4095) /* no errno: not something a call returned */
		return "unknown error";
	switch (-err) {
	case EINVAL:
		return "invalid argument (a NULL pointer, an unaligned address, a zero length or a malformed device name)";
	case EOVERFLOW:
		return "the range wraps around the end of the address space";
	case EFAULT:
		return "the range is not mapped in this process";
	case EACCES:
		return "permission denied on the device node, or a range that is not readable or that HMM cannot migrate";
	case ENOENT:
		return "no such back-end (known: test_hmm, cuda), or no such file";
	case ENODEV:
		return "no such device here (no test_hmm device node, or no libcuda or CUDA device)";
	case EBADF:
		return "not an open handle (closed, or never opened)";
	case ECHILD:
		return "the handle was opened by the parent process: handles do not survive fork()";
	case EOPNOTSUPP:
		return "the back-end does not offer this operation";
	case ENOSPC:
		return "the places array is shorter than the range's page count";
	case EMFILE:
		return "too many open handles";
	}
	desc = strerrordesc_np((int)-err);
	return desc ? desc : "unknown error";
}
