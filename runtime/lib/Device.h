// Device selection for a session: cpu, cuda, or auto (cuda when a usable GPU
// and kernels for it exist, otherwise cpu, with the reason).
#pragma once

#include "runtime/artifact/ArtifactFile.h"

#include <string>

namespace qcc::rt {

enum class Device { Auto, Cpu, Cuda };
const char *deviceName(Device d); // "auto" "cpu" "cuda"
Expected<Device> parseDevice(const std::string &text);

// What the CUDA driver reports for device 0, through cuda::CudaDevice (the
// driver is dlopen'ed, so binaries start on machines without a GPU).
struct CudaProbe {
  bool usable = false;
  std::string error;  // why not usable: "no CUDA driver: libcuda.so.1 could not be loaded", ...
  int ccMajor = 0, ccMinor = 0;
  std::string target; // kernel target for the device: sm_80, sm_86, sm_89, sm_90a (sm_XY otherwise)
};
CudaProbe probeCuda();

// The kernel target qcc builds for a compute capability (9.0 -> "sm_90a").
std::string targetForComputeCapability(int major, int minor);

struct DeviceChoice {
  Device device = Device::Cpu; // Cpu or Cuda
  std::string reason;          // one line: why this device
};
// `requested` Cuda fails (with the reason) when CUDA cannot be used; Auto
// falls back to Cpu and says why.
Expected<DeviceChoice> chooseDevice(Device requested, const artifact::ArtifactFile &artifact);
// The same with a given probe (tests).
Expected<DeviceChoice> chooseDevice(Device requested, const artifact::ArtifactFile &artifact, const CudaProbe &probe);

} // namespace qcc::rt
