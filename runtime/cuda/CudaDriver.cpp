#include "runtime/cuda/CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>

namespace qcc::cuda {

template <typename F> static bool bind(void *h, const char *sym, F &fn) {
  fn = reinterpret_cast<F>(dlsym(h, sym));
  return fn != nullptr;
}

Expected<const CudaDriver *> CudaDriver::loadFrom(const std::string &library) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<CudaDriver>> loaded;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = loaded.find(library); it != loaded.end()) return static_cast<const CudaDriver *>(it->second.get());
  void *h = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return Status::error("no CUDA driver: " + library + " could not be loaded");
  std::unique_ptr<CudaDriver> d(new CudaDriver());
  CudaDriverApi &a = d->api_;
  // The _v2 names are the current ABI of the functions whose cuda.h macro maps to them.
  bool ok = bind(h, "cuInit", a.cuInit) && bind(h, "cuDriverGetVersion", a.cuDriverGetVersion) &&
            bind(h, "cuGetErrorString", a.cuGetErrorString) && bind(h, "cuDeviceGetCount", a.cuDeviceGetCount) &&
            bind(h, "cuDeviceGet", a.cuDeviceGet) && bind(h, "cuDeviceGetName", a.cuDeviceGetName) &&
            bind(h, "cuDeviceGetAttribute", a.cuDeviceGetAttribute) &&
            bind(h, "cuDeviceTotalMem_v2", a.cuDeviceTotalMem) &&
            bind(h, "cuDevicePrimaryCtxRetain", a.cuDevicePrimaryCtxRetain) &&
            bind(h, "cuDevicePrimaryCtxRelease_v2", a.cuDevicePrimaryCtxRelease) &&
            bind(h, "cuCtxSetCurrent", a.cuCtxSetCurrent) && bind(h, "cuCtxSynchronize", a.cuCtxSynchronize) &&
            bind(h, "cuModuleLoadData", a.cuModuleLoadData) && bind(h, "cuModuleUnload", a.cuModuleUnload) &&
            bind(h, "cuModuleGetFunction", a.cuModuleGetFunction) && bind(h, "cuLaunchKernel", a.cuLaunchKernel) &&
            bind(h, "cuMemAlloc_v2", a.cuMemAlloc) && bind(h, "cuMemFree_v2", a.cuMemFree) &&
            bind(h, "cuMemcpyHtoD_v2", a.cuMemcpyHtoD) && bind(h, "cuMemcpyDtoH_v2", a.cuMemcpyDtoH) &&
            bind(h, "cuMemsetD8_v2", a.cuMemsetD8) && bind(h, "cuStreamCreate", a.cuStreamCreate) &&
            bind(h, "cuStreamDestroy_v2", a.cuStreamDestroy) &&
            bind(h, "cuStreamSynchronize", a.cuStreamSynchronize) && bind(h, "cuEventCreate", a.cuEventCreate) &&
            bind(h, "cuEventDestroy_v2", a.cuEventDestroy) && bind(h, "cuEventRecord", a.cuEventRecord) &&
            bind(h, "cuEventSynchronize", a.cuEventSynchronize) &&
            bind(h, "cuEventElapsedTime", a.cuEventElapsedTime) &&
            bind(h, "cuFuncGetAttribute", a.cuFuncGetAttribute);
  if (!ok) {
    dlclose(h);
    return Status::error("no CUDA driver: " + library + " lacks driver API entry points qcc needs");
  }
  // Optional: graphs (the executor launches kernel by kernel without them).
  if (!(bind(h, "cuGraphCreate", a.cuGraphCreate) && bind(h, "cuGraphAddKernelNode_v2", a.cuGraphAddKernelNode) &&
        bind(h, "cuGraphInstantiateWithFlags", a.cuGraphInstantiateWithFlags) &&
        bind(h, "cuGraphLaunch", a.cuGraphLaunch) && bind(h, "cuGraphExecDestroy", a.cuGraphExecDestroy) &&
        bind(h, "cuGraphDestroy", a.cuGraphDestroy))) {
    a.cuGraphCreate = nullptr;
    a.cuGraphAddKernelNode = nullptr;
    a.cuGraphInstantiateWithFlags = nullptr;
    a.cuGraphLaunch = nullptr;
    a.cuGraphExecDestroy = nullptr;
    a.cuGraphDestroy = nullptr;
  }
  if (CUresult r = a.cuInit(0); r != 0) {
    const char *msg = nullptr;
    a.cuGetErrorString(r, &msg);
    return Status::error("no usable CUDA driver: cuInit failed: " + std::string(msg ? msg : "unknown error") +
                         " (CUDA error " + std::to_string(r) + ")");
  }
  a.cuDriverGetVersion(&d->version_);
  const CudaDriver *result = d.get();
  loaded[library] = std::move(d);
  return result;
}

Expected<const CudaDriver *> CudaDriver::get() {
  const char *library = std::getenv("QCC_CUDA_DRIVER");
  return loadFrom(library && *library ? library : "libcuda.so.1");
}

Status CudaDriver::check(CUresult r, const std::string &what) const {
  if (r == 0) return Status::ok();
  const char *msg = nullptr;
  if (api_.cuGetErrorString) api_.cuGetErrorString(r, &msg);
  return Status::error(what + ": " + (msg ? msg : "unknown error") + " (CUDA error " + std::to_string(r) + ")");
}

} // namespace qcc::cuda
