// The CUDA driver API, opened with dlopen at first use, so that qcc starts on
// machines without libcuda and says so only when a GPU is asked for.
#pragma once

#include "support/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace qcc::cuda {

// Opaque driver handles (the subset of cuda.h qcc uses; declared here so that
// the runtime builds without CUDA headers).
typedef int CUresult; // CUDA_SUCCESS == 0
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef unsigned long long CUdeviceptr;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphNode_st *CUgraphNode;
typedef struct CUgraphExec_st *CUgraphExec;

// cuda.h's CUDA_KERNEL_NODE_PARAMS (the _v2 layout cuGraphAddKernelNode_v2 takes).
struct CudaKernelNodeParams {
  CUfunction func;
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  void **kernelParams; // values are copied when the node is added
  void **extra;
  void *kern; // CUkernel, unused (func is set)
  CUcontext ctx;
};
static_assert(sizeof(CudaKernelNodeParams) == 72, "CUDA_KERNEL_NODE_PARAMS layout");

// Device attributes qcc reads (values from cuda.h's CUdevice_attribute).
enum : int {
  kAttrMultiprocessorCount = 16,
  kAttrComputeCapabilityMajor = 75,
  kAttrComputeCapabilityMinor = 76,
  kAttrMaxSharedMemoryPerBlockOptin = 97,
  kAttrL2CacheSize = 38,
  kAttrMemoryClockRate = 36,
  kAttrGlobalMemoryBusWidth = 37,
};

struct CudaDriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int *);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuFuncGetAttribute)(int *, int, CUfunction);
  // CUDA graphs (optional: null when the driver lacks them; callers fall back
  // to plain launches).
  CUresult (*cuGraphCreate)(CUgraph *, unsigned);
  CUresult (*cuGraphAddKernelNode)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
                                   const CudaKernelNodeParams *);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *, CUgraph, unsigned long long);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  bool hasGraphs() const {
    return cuGraphCreate && cuGraphAddKernelNode && cuGraphInstantiateWithFlags && cuGraphLaunch &&
           cuGraphExecDestroy && cuGraphDestroy;
  }
};

class CudaDriver {
public:
  // The process-wide driver: libcuda.so.1, or the library $QCC_CUDA_DRIVER
  // names (tests point it at the emulated driver). Without it:
  // "no CUDA driver: libcuda.so.1 could not be loaded".
  static Expected<const CudaDriver *> get();
  // A specific library (tests pass a missing path to exercise the error).
  static Expected<const CudaDriver *> loadFrom(const std::string &library);

  const CudaDriverApi &api() const { return api_; }
  int version() const { return version_; } // e.g. 13000
  // "<what>: <driver's message> (CUDA error N)"; ok for CUDA_SUCCESS.
  Status check(CUresult r, const std::string &what) const;

private:
  CudaDriver() = default;
  CudaDriverApi api_{};
  int version_ = 0;
};

} // namespace qcc::cuda
