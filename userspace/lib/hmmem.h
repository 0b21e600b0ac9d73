/*
 * hmmem.h - place a range of a process's own memory in device memory
 * through HMM, and ask where each of its pages lives.
 *
 * A handle names one device of one back-end: "test_hmm" (the kernel's test
 * exporter, lib/test_hmm.c, /dev/hmm_dmirror*) or "cuda" (an NVIDIA GPU
 * whose driver migrates pageable memory through HMM; libcuda is loaded at
 * run time).  The memory stays the caller's ordinary virtual memory: after
 * hmmem_to_device() its pages are device-private, the CPU faults them back
 * on access, and an ODP memory region over them reaches them in place when
 * the kernel offers DMA-able aliases (see odp-p2p's README).
 *
 * Every call returns a non-negative value or a negative errno, which
 * hmmem_strerror() explains.  Calls are thread-safe; handles do not survive
 * fork() (in the child, every call but hmmem_name() and hmmem_close() gets
 * -ECHILD); a closed handle gets -EBADF.
 */
#ifndef HMMEM_H
#define HMMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HMMEM_VERSION_MAJOR 1
#define HMMEM_VERSION_MINOR 0

/*
 * Opens a device: "test_hmm", "test_hmm:N" (/dev/hmm_dmirrorN),
 * "test_hmm:/dev/PATH", "cuda" or "cuda:N" (CUDA device ordinal N).
 * "test_hmm" and "cuda" mean device 0.  Returns a handle (> 0).
 */
int hmmem_open(const char *spec);

/*
 * Releases the handle.  cuda: pages already on the device stay there.
 * test_hmm: the driver migrates ALL of the device's memory back to system
 * memory whenever any of its files is released, this handle's included
 * (and another process's): keep a handle open for as long as pages must
 * stay on the device.
 */
int hmmem_close(int h);

/*
 * The handle's back-end and device, e.g. "test_hmm:/dev/hmm_dmirror0", in
 * @buf (NUL-terminated, truncated to @len).  Returns its full length.
 */
int hmmem_name(int h, char *buf, size_t len);

/*
 * Moves the pages of [addr, addr + len) into the device's memory, or back
 * to system memory.  @addr must be page-aligned; @len is rounded up to a
 * whole page, as madvise() does; the range must be mapped and readable.
 * hmmem_to_device() returns how many pages of the range are on the device
 * when it returns; hmmem_to_host() how many are not.  Either is the range's
 * page count unless some pages could not move (the device is full, a page
 * is pinned): hmmem_where() says which.  cuda reports no per-page outcome:
 * a prefetch that completed counts as the whole range.
 */
long hmmem_to_device(int h, void *addr, size_t len);
long hmmem_to_host(int h, void *addr, size_t len);

/* Where a page lives, as hmmem_where() reports it. */
enum hmmem_place {
	HMMEM_PLACE_NONE = 0, /* nothing there yet (never touched) */
	HMMEM_PLACE_HOST = 1, /* system memory */
	HMMEM_PLACE_DEVICE = 2, /* this handle's device */
	HMMEM_PLACE_OTHER_DEVICE = 3, /* another device's private memory */
	HMMEM_PLACE_UNKNOWN = 4, /* not present: swapped, or cannot tell */
	HMMEM_PLACE_SOME_DEVICE =
		5, /* a device's, the back-end cannot say which */
};

/*
 * "none", "host", "device", "other-device", "unknown", "some-device", or
 * "?".
 */
const char *hmmem_place_name(int place);

/*
 * How many pages [addr, addr + len) touches: from the page that holds
 * @addr to the one that holds its last byte.  0 if @len is 0 or the range
 * wraps around the address space.
 */
size_t hmmem_npages(const void *addr, size_t len);

/*
 * Where each page that [addr, addr + len) touches lives: @places[i] gets
 * an enum hmmem_place for the i-th page.  @addr need not be aligned.  Asks
 * without moving anything.  Returns the page count (hmmem_npages()), or
 * -ENOSPC if @nplaces is smaller.
 */
long hmmem_where(int h, const void *addr, size_t len, uint8_t *places,
		 size_t nplaces);

/* A counter the back-end does not keep. */
#define HMMEM_COUNTER_NONE UINT64_MAX

/*
 * The device's counters since its driver started, as the exporter keeps
 * them (HMMEM_COUNTER_NONE where it does not).
 */
struct hmmem_counters {
	/* pages of this device migrated to system memory by a fault */
	uint64_t migrated_to_host;
	/* DMA-able aliases of this device's pages handed to importers */
	uint64_t alias_offered;
	/* alias requests refused (aliases off, or refusal injected) */
	uint64_t alias_refused;
};

/*
 * Copies the counters into @c, @size bytes of it, a multiple of 8 (pass
 * sizeof(*c): an older caller gets the counters it knows, a newer one
 * HMMEM_COUNTER_NONE for those this library does not know).  -EOPNOTSUPP
 * if the back-end keeps none.
 */
int hmmem_counters(int h, struct hmmem_counters *c, size_t size);

/*
 * Whether the device offers DMA-able aliases of its pages to importers
 * such as an RDMA NIC's ODP MR (on: 1, off: 0), for exporters that make
 * it a switch (test_hmm: its default is off, and this replaces all of the
 * device's flags, error injection included).  -EOPNOTSUPP for exporters
 * whose driver decides alone (cuda).
 */
int hmmem_set_aliases(int h, int on);

/*
 * A one-line explanation of a value these calls returned ("success" for
 * a non-negative one).  Never NULL; the string is static.
 */
const char *hmmem_strerror(long err);

#ifdef __cplusplus
}
#endif

#endif /* HMMEM_H */
