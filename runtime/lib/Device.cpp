#include "runtime/lib/Device.h"

#include <dlfcn.h>

namespace qcc::rt {

const char *deviceName(Device d) {
  switch (d) {
  case Device::Auto: return "auto";
  case Device::Cpu: return "cpu";
  case Device::Cuda: return "cuda";
  }
  return "?";
}

Expected<Device> parseDevice(const std::string &text) {
  if (text == "auto") return Device::Auto;
  if (text == "cpu") return Device::Cpu;
  if (text == "cuda") return Device::Cuda;
  return Status::error("unknown device '" + text + "' (expected auto, cpu or cuda)");
}

std::string targetForComputeCapability(int major, int minor) {
  if (major == 9 && minor == 0) return "sm_90a"; // wgmma needs the arch-specific target
  return "sm_" + std::to_string(major) + std::to_string(minor);
}

CudaProbe probeCuda() {
  CudaProbe p;
  // The handle stays open for the process: the CUDA executor will use it.
  static void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    p.error = "no CUDA driver found (libcuda.so.1 could not be loaded)";
    return p;
  }
  using InitFn = int (*)(unsigned);
  using CountFn = int (*)(int *);
  using GetFn = int (*)(int *, int);
  using AttrFn = int (*)(int *, int, int);
  auto init = reinterpret_cast<InitFn>(dlsym(lib, "cuInit"));
  auto count = reinterpret_cast<CountFn>(dlsym(lib, "cuDeviceGetCount"));
  auto get = reinterpret_cast<GetFn>(dlsym(lib, "cuDeviceGet"));
  auto attr = reinterpret_cast<AttrFn>(dlsym(lib, "cuDeviceGetAttribute"));
  if (!init || !count || !get || !attr) {
    p.error = "libcuda.so.1 lacks the driver API entry points";
    return p;
  }
  if (int rc = init(0); rc != 0) {
    p.error = "the CUDA driver failed to initialise (cuInit returned " + std::to_string(rc) + ")";
    return p;
  }
  int n = 0;
  if (count(&n) != 0 || n == 0) {
    p.error = "no CUDA device found";
    return p;
  }
  int dev = 0;
  // 75 / 76: CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR (cuda.h).
  if (get(&dev, 0) != 0 || attr(&p.ccMajor, 75, dev) != 0 || attr(&p.ccMinor, 76, dev) != 0) {
    p.error = "cannot query the compute capability of CUDA device 0";
    return p;
  }
  p.target = targetForComputeCapability(p.ccMajor, p.ccMinor);
  p.usable = true;
  return p;
}

Expected<DeviceChoice> chooseDevice(Device requested, const artifact::ArtifactFile &artifact) {
  if (requested == Device::Cpu) return DeviceChoice{Device::Cpu, "cpu requested"};
  return chooseDevice(requested, artifact, probeCuda());
}

Expected<DeviceChoice> chooseDevice(Device requested, const artifact::ArtifactFile &artifact, const CudaProbe &probe) {
  if (requested == Device::Cpu) return DeviceChoice{Device::Cpu, "cpu requested"};
  std::string whyNot;
  if (!probe.usable) {
    whyNot = probe.error;
  } else {
    const artifact::TargetDecl *kernels = nullptr;
    for (const auto &t : artifact.spec().targets)
      if (t.target == probe.target && !t.kernels.empty()) kernels = &t;
    if (!kernels) {
      std::string have; // targets with at least one kernel (an entry may be empty)
      for (const auto &t : artifact.spec().targets)
        if (!t.kernels.empty()) have += (have.empty() ? "" : ", ") + t.target;
      whyNot = "artifact has no kernels for " + probe.target + " (kernels present for: " +
               (have.empty() ? "none" : have) + ")";
    } else {
      return DeviceChoice{Device::Cuda, "using cuda: " + probe.target + " GPU and kernels for it in the artifact"};
    }
  }
  if (requested == Device::Cuda) return Status::error("--device cuda: " + whyNot);
  return DeviceChoice{Device::Cpu, "using cpu: " + whyNot};
}

} // namespace qcc::rt
