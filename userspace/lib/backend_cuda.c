/*
 * backend_cuda.c - an NVIDIA GPU whose driver migrates pageable memory
 * through HMM (the open kernel modules with HMM, CUDA 12.2 or later, where
 * CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS is 1): cuMemPrefetchAsync()
 * moves ordinary malloc()/mmap() memory to the GPU and back.
 *
 * libcuda is loaded with dlopen() when a handle is opened, so that the
 * library builds and runs without CUDA; without it, or without a device,
 * hmmem_open("cuda") fails with -ENODEV.  Only the few driver API entry
 * points used here are declared, with the types of cuda.h.
 *
 * On ATS systems (Grace Hopper) the attribute is 1 too, but pages move as
 * ordinary NUMA memory, which where() reports as host memory.
 *
 * The driver does not say where each page of pageable memory is: where()
 * reads the process's page table (pagemap.c), which tells host pages from
 * device-private ones, but not on which GPU.
 */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;

#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_NOT_SUPPORTED 801
#define CU_DEVICE_CPU ((CUdevice)-1)
#define CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS 88
#define CU_STREAM_NON_BLOCKING 0x1

struct cuda_api {
	CUresult (*init)(unsigned int flags);
	CUresult (*device_get_count)(int *count);
	CUresult (*device_get)(CUdevice *dev, int ordinal);
	CUresult (*device_get_attribute)(int *value, int attr, CUdevice dev);
	CUresult (*primary_ctx_retain)(CUcontext *ctx, CUdevice dev);
	CUresult (*primary_ctx_release)(CUdevice dev);
	CUresult (*ctx_push)(CUcontext ctx);
	CUresult (*ctx_pop)(CUcontext *ctx);
	CUresult (*prefetch)(CUdeviceptr ptr, size_t len, CUdevice dst,
			     CUstream stream);
	CUresult (*stream_sync)(CUstream stream);
	CUresult (*stream_create)(CUstream *stream, unsigned int flags);
	CUresult (*stream_destroy)(CUstream stream);
};

struct hmmem_dev {
	void *lib;
	struct cuda_api api;
	CUdevice device;
	CUcontext ctx;
	/* Ours, so that a prefetch waits for nothing of the application's. */
	CUstream stream;
};

static int cuda_errno(CUresult r)
{
	switch (r) {
	case CUDA_SUCCESS:
		return 0;
	case CUDA_ERROR_INVALID_VALUE:
		return -EINVAL;
	case CUDA_ERROR_OUT_OF_MEMORY:
		return -ENOMEM;
	case CUDA_ERROR_NO_DEVICE:
	case CUDA_ERROR_INVALID_DEVICE:
		return -ENODEV;
	case CUDA_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	}
	return -EIO;
}

/* The entry points, by the names libcuda exports for these signatures. */
static int load_api(void *lib, struct cuda_api *api)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
		{ "cuInit", offsetof(struct cuda_api, init) },
		{ "cuDeviceGetCount",
		  offsetof(struct cuda_api, device_get_count) },
		{ "cuDeviceGet", offsetof(struct cuda_api, device_get) },
		{ "cuDeviceGetAttribute",
		  offsetof(struct cuda_api, device_get_attribute) },
		{ "cuDevicePrimaryCtxRetain",
		  offsetof(struct cuda_api, primary_ctx_retain) },
		{ "cuDevicePrimaryCtxRelease_v2",
		  offsetof(struct cuda_api, primary_ctx_release) },
		{ "cuCtxPushCurrent_v2", offsetof(struct cuda_api, ctx_push) },
		{ "cuCtxPopCurrent_v2", offsetof(struct cuda_api, ctx_pop) },
		{ "cuMemPrefetchAsync", offsetof(struct cuda_api, prefetch) },
		{ "cuStreamSynchronize",
		  offsetof(struct cuda_api, stream_sync) },
		{ "cuStreamCreate", offsetof(struct cuda_api, stream_create) },
		{ "cuStreamDestroy_v2",
		  offsetof(struct cuda_api, stream_destroy) },
	};
	size_t i;

	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(lib, syms[i].name);

		if (!f)
			return -ENODEV;
		memcpy((char *)api + syms[i].offset, &f, sizeof(f));
	}
	return 0;
}

static int cuda_open(const char *arg, struct hmmem_dev **dev, char *name,
		     size_t name_len)
{
	struct hmmem_dev *d;
	int ordinal = 0, count = 0, pageable = 0, err;

	if (arg) {
		char *end;
		long n;

		errno = 0;
		n = strtol(arg, &end, 10);
		if (*end || errno || arg[0] < '0' || arg[0] > '9' || n > 1024)
			return -EINVAL;
		ordinal = (int)n;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* libcuda starts threads and exit handlers: never unload it. */
	d->lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!d->lib) {
		free(d);
		return -ENODEV;
	}
	err = load_api(d->lib, &d->api);
	if (!err)
		err = cuda_errno(d->api.init(0));
	if (!err)
		err = cuda_errno(d->api.device_get_count(&count));
	if (!err && ordinal >= count)
		err = -ENODEV;
	if (!err)
		err = cuda_errno(d->api.device_get(&d->device, ordinal));
	if (!err)
		err = cuda_errno(d->api.device_get_attribute(
			&pageable, CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS,
			d->device));
	/* Without HMM the driver cannot migrate pageable memory. */
	if (!err && !pageable)
		err = -EOPNOTSUPP;
	if (!err)
		err = cuda_errno(d->api.primary_ctx_retain(&d->ctx, d->device));
	if (!err) {
		CUcontext prev;

		err = cuda_errno(d->api.ctx_push(d->ctx));
		if (!err) {
			err = cuda_errno(d->api.stream_create(
				&d->stream, CU_STREAM_NON_BLOCKING));
			d->api.ctx_pop(&prev);
		}
		if (err)
			d->api.primary_ctx_release(d->device);
	}
	if (err) {
		dlclose(d->lib);
		free(d);
		return err;
	}
	snprintf(name, name_len, "cuda:%d", ordinal);
	*dev = d;
	return 0;
}

static void cuda_close(struct hmmem_dev *dev, bool in_child)
{
	/* CUDA does not survive fork(): a child must not call into it. */
	if (!in_child) {
		CUcontext prev;

		if (!dev->api.ctx_push(dev->ctx)) {
			dev->api.stream_destroy(dev->stream);
			dev->api.ctx_pop(&prev);
		}
		dev->api.primary_ctx_release(dev->device);
		dlclose(dev->lib);
	}
	free(dev);
}

static int prefetch(struct hmmem_dev *dev, void *addr, size_t npages,
		    CUdevice dst)
{
	CUcontext prev;
	CUresult r;

	r = dev->api.ctx_push(dev->ctx);
	if (r)
		return cuda_errno(r);
	r = dev->api.prefetch((CUdeviceptr)(uintptr_t)addr,
			      npages * hmmem_page_size(), dst, dev->stream);
	if (!r)
		r = dev->api.stream_sync(dev->stream);
	dev->api.ctx_pop(&prev);
	return cuda_errno(r);
}

/* The driver does not say which GPU holds a migrated page. */
static int cuda_where(struct hmmem_dev *dev, const void *addr, size_t npages,
		      uint8_t *places)
{
	(void)dev;
	return hmmem_pagemap_places(addr, npages, HMMEM_PLACE_SOME_DEVICE,
				    places);
}

/*
 * The driver reports no per-page outcome: when the prefetch completed, the
 * whole range counts as moved (hmmem.h says so).
 */
static long cuda_to_device(struct hmmem_dev *dev, void *addr, size_t npages)
{
	int err = prefetch(dev, addr, npages, dev->device);

	return err ? err : (long)npages;
}

static long cuda_to_host(struct hmmem_dev *dev, void *addr, size_t npages)
{
	int err = prefetch(dev, addr, npages, CU_DEVICE_CPU);

	return err ? err : (long)npages;
}

const struct hmmem_backend hmmem_cuda_backend = {
	.name = "cuda",
	.open = cuda_open,
	.close = cuda_close,
	.to_device = cuda_to_device,
	.to_host = cuda_to_host,
	.where = cuda_where,
};
