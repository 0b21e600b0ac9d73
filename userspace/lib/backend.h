/*
 * backend.h - what a device-memory back-end of libhmmem implements.  The
 * core (hmmem.c) checks every argument and the handle before it calls one
 * of these: a back-end gets page-aligned, mapped, non-empty ranges.
 */
#ifndef HMMEM_BACKEND_H
#define HMMEM_BACKEND_H

#include "hmmem.h"

#include <stdbool.h>
#include <stdint.h>

struct hmmem_dev;

struct hmmem_backend {
	const char *name;
	/*
	 * Opens the device that @arg names (NULL: the default one) into a
	 * new *@dev, and writes its name ("back-end:device") to @name.
	 */
	int (*open)(const char *arg, struct hmmem_dev **dev, char *name,
		    size_t name_len);
	/* @in_child: in a child of the process that opened it (fork()). */
	void (*close)(struct hmmem_dev *dev, bool in_child);
	long (*to_device)(struct hmmem_dev *dev, void *addr, size_t npages);
	long (*to_host)(struct hmmem_dev *dev, void *addr, size_t npages);
	/* @places gets @npages enum hmmem_place values. */
	int (*where)(struct hmmem_dev *dev, const void *addr, size_t npages,
		     uint8_t *places);
	/* NULL if the back-end keeps no counters. */
	int (*counters)(struct hmmem_dev *dev, struct hmmem_counters *c);
	/* NULL if aliases are not the library's to switch. */
	int (*set_aliases)(struct hmmem_dev *dev, bool on);
};

extern const struct hmmem_backend hmmem_test_hmm_backend;
extern const struct hmmem_backend hmmem_cuda_backend;

/* The system page size. */
size_t hmmem_page_size(void);

/* For the chunks every loop over a range works in. */
static inline size_t hmmem_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/*
 * Where [addr, npages) is, from /proc/self/pagemap: host, none, @device
 * for a device-private page, unknown for a page in swap (or any
 * non-present page, for a process without CAP_SYS_ADMIN).  0 or -errno.
 */
int hmmem_pagemap_places(const void *addr, size_t npages, uint8_t device,
			 uint8_t *places);
/*
 * The same for the address space of process @pid, from /proc/PID/pagemap
 * (which needs ptrace read access to it): for odp-devmem.  @addr is an
 * address in that process.
 */
int hmmem_pagemap_places_pid(int pid, uintptr_t addr, size_t npages,
			     uint8_t device, uint8_t *places);

#endif /* HMMEM_BACKEND_H */
