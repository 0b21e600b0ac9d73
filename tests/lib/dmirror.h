/*
 * dmirror.h - test_hmm's devices (lib/test_hmm.c, /dev/hmm_dmirror*) as
 * the tests and benchmarks use them: fake device-private memory to migrate
 * a buffer into, a snapshot that says where each page lives, and, with the
 * mm/hmm alias series, flags and counters.
 *
 * Functions return 0 or an errno, or false with odp_reason() set.
 */
#ifndef ODP_DMIRROR_H
#define ODP_DMIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/test_hmm_uapi.h>

/* Opens @path (see odp_dmirror_path()); returns the fd, or -errno. */
int dmirror_open(const char *path);
/* The errno of a dmirror_open() that found no such device: skip, not fail. */
bool dmirror_absent(int err);
bool dmirror_close(int fd);

/*
 * Issues one test_hmm ioctl on [addr, addr + npages pages), with @ptr as
 * its bounce buffer. Returns 0 or the errno; @cpages (may be NULL) gets
 * the number of pages the driver reports.
 */
int dmirror_cmd(int fd, unsigned long request, void *addr, size_t npages,
		void *ptr, uint64_t *cpages);

/*
 * Migrates [addr, npages) into the device's memory; @bounce (npages pages)
 * receives the driver's copy of the data.  True iff every page moved.
 */
bool dmirror_migrate_to_device(int fd, void *addr, size_t npages, void *bounce);

/*
 * The alias series' commands, 0 or errno: the flags of the file
 * (HMM_DMIRROR_FLAG_*), of the device (HMM_DMIRROR_DEVICE_*, through any of
 * its files), and the device's counters (EOVERFLOW from a driver whose
 * counters are fewer than ours).
 */
int dmirror_set_flags(int fd, uint64_t flags);
int dmirror_set_device_flags(int fd, uint64_t flags);
int dmirror_read_counters(int fd, struct hmm_dmirror_counters *c);
/*
 * Waits up to @timeout_ms for the device's pages_in_use to be @level again
 * (what it was before processes put pages on the device and went); @after
 * gets the counters read last.  0 once it is, ETIMEDOUT if it never was, or
 * the errno of reading the counters.
 */
int dmirror_wait_pages_in_use(int fd, uint64_t level, double timeout_ms,
			      struct hmm_dmirror_counters *after);

enum dmirror_place {
	DMIRROR_IN_RAM, /* a present, accessible system-RAM page */
	DMIRROR_ON_DEVICE, /* device-private, on this dmirror device */
};

const char *dmirror_place_name(enum dmirror_place place);
/* Whether a HMM_DMIRROR_SNAPSHOT byte says the page is at @place. */
bool dmirror_prot_is(uint8_t prot, enum dmirror_place place);
/* "DEV_PRIVATE_LOCAL|WRITE (0x22)" */
const char *dmirror_prot_name(uint8_t prot, char *buf, size_t len);

/*
 * Snapshots [addr, npages) and checks that pages [first, last] are at
 * @touched and every other page at @others; odp_reason() lists the first
 * misplaced pages.  The snapshot (HMM_DMIRROR_SNAPSHOT) requests no fault,
 * so it moves nothing itself.
 */
bool dmirror_check_places(int fd, void *addr, size_t npages, size_t first,
			  size_t last, enum dmirror_place touched,
			  enum dmirror_place others);

#endif /* ODP_DMIRROR_H */
