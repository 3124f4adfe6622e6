// One CUDA device through the driver API: memory, modules, launches, events.
// The skeleton of the CUDA executor: everything a schedule of qcc kernels needs.
#pragma once

#include "runtime/cuda/CudaDriver.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qcc::cuda {

class CudaDevice;

// Device memory, freed on destruction.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&o) noexcept { *this = std::move(o); }
  DeviceBuffer &operator=(DeviceBuffer &&o) noexcept;
  ~DeviceBuffer();
  CUdeviceptr ptr() const { return ptr_; }
  size_t size() const { return size_; }

private:
  friend class CudaDevice;
  const CudaDriver *driver_ = nullptr;
  CUdeviceptr ptr_ = 0;
  size_t size_ = 0;
};

// A loaded module (cubin or JIT-compiled PTX), unloaded on destruction.
class CudaModule {
public:
  CudaModule() = default;
  CudaModule(CudaModule &&o) noexcept { *this = std::move(o); }
  CudaModule &operator=(CudaModule &&o) noexcept;
  ~CudaModule();
  CUmodule handle() const { return module_; }

private:
  friend class CudaDevice;
  const CudaDriver *driver_ = nullptr;
  CUmodule module_ = nullptr;
};

// A CUDA graph of kernel launches, each after the previous one: built once
// (CudaDevice::addToGraph copies every launch's argument values), then
// replayed with one CudaDevice::launchGraph. Destroyed with its executable.
class KernelGraph {
public:
  KernelGraph() = default;
  KernelGraph(KernelGraph &&o) noexcept { *this = std::move(o); }
  KernelGraph &operator=(KernelGraph &&o) noexcept;
  ~KernelGraph();
  bool empty() const { return graph_ == nullptr; }
  bool instantiated() const { return exec_ != nullptr; }
  size_t launches() const { return launches_; }

private:
  friend class CudaDevice;
  void release();
  const CudaDriver *driver_ = nullptr;
  CUgraph graph_ = nullptr;
  CUgraphExec exec_ = nullptr;
  CUgraphNode last_ = nullptr;
  size_t launches_ = 0;
};

// The kernel target name of a compute capability: "sm_86", and "sm_90a" for
// 9.0 (Hopper's wgmma needs the arch-specific target).
std::string archNameFor(int ccMajor, int ccMinor);
// "sm_86" -> 86, "sm_90a" -> 90; *archSpecific (if given) tells the "a" suffix.
int targetNumber(const std::string &target, bool *archSpecific = nullptr);

// A compiled kernel as an artifact holds it: for one target, PTX and cubin.
struct KernelImage {
  std::string name;   // entry point
  std::string target; // "sm_80" ... "sm_90a"
  std::string ptx;
  std::vector<uint8_t> cubin;
};

class CudaDevice {
public:
  // Opens device `ordinal` with its primary context. Errors: no driver
  // ("no CUDA driver: libcuda.so.1 could not be loaded"), no device, bad ordinal.
  static Expected<std::unique_ptr<CudaDevice>> open(int ordinal = 0);
  // The same through a given driver (e.g. CudaDriver::loadFrom; tests use an
  // emulated driver that runs the kernels on the CPU).
  static Expected<std::unique_ptr<CudaDevice>> open(const CudaDriver &driver, int ordinal = 0);
  // Number of devices, or the driver error.
  static Expected<int> count();
  ~CudaDevice();

  const std::string &name() const { return name_; }
  int ccMajor() const { return ccMajor_; }
  int ccMinor() const { return ccMinor_; }
  int smCount() const { return smCount_; }
  size_t totalMemory() const { return totalMem_; }
  // The architecture name NVRTC uses for this device: "sm_86", "sm_90a" (for 9.0).
  std::string archName() const;
  // cuDeviceGetAttribute (values from cuda.h's CUdevice_attribute).
  Expected<int> attribute(int attr) const;
  const CudaDriver &driver() const { return *driver_; }

  Expected<DeviceBuffer> alloc(size_t bytes);
  Status upload(const DeviceBuffer &dst, const void *src, size_t bytes, size_t offset = 0);
  Status download(void *dst, const DeviceBuffer &src, size_t bytes, size_t offset = 0);
  Status fill(const DeviceBuffer &dst, uint8_t byte); // whole buffer

  // Loads a cubin or NUL-terminated PTX image.
  Expected<CudaModule> loadModule(const void *image, const std::string &what);
  // Picks the image for this device: the cubin for its exact architecture,
  // else a cubin of the same major and lower minor (not an "a" target), else
  // PTX of the newest target not above the device (JIT). The error lists what
  // the images offer.
  Expected<CudaModule> loadBest(const std::vector<KernelImage> &images);
  Expected<CUfunction> function(const CudaModule &m, const std::string &name);

  // Launches `f` on the default stream; args as cuLaunchKernel takes them.
  Status launch(CUfunction f, const unsigned grid[3], unsigned block, unsigned sharedBytes, void **args);
  Status synchronize();

  // CUDA graphs, when the driver has them (else the calls below fail).
  bool supportsGraphs() const { return driver_->api().hasGraphs(); }
  Expected<KernelGraph> createGraph();
  // Appends a launch (as `launch` takes it) after the graph's last one.
  Status addToGraph(KernelGraph &g, CUfunction f, const unsigned grid[3], unsigned block, unsigned sharedBytes,
                    void **args);
  Status instantiate(KernelGraph &g);
  Status launchGraph(const KernelGraph &g); // on the default stream
  // Times `iters` runs of `body` with events (ms per run); for benchmarks only.
  Expected<float> timeMs(int iters, const std::function<Status()> &body);

private:
  CudaDevice() = default;
  const CudaDriver *driver_ = nullptr;
  CUdevice device_ = 0;
  CUcontext ctx_ = nullptr;
  std::string name_;
  int ccMajor_ = 0, ccMinor_ = 0, smCount_ = 0;
  size_t totalMem_ = 0;
};

} // namespace qcc::cuda
