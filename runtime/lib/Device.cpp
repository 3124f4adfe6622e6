#include "runtime/lib/Device.h"

#include "runtime/cuda/CudaDevice.h"
#include "runtime/cuda/CudaExecutor.h"

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

std::string targetForComputeCapability(int major, int minor) { return cuda::archNameFor(major, minor); }

CudaProbe probeCuda() {
  CudaProbe p;
  // The same driver (and device 0) the CUDA executor will use.
  auto device = cuda::CudaDevice::open(0);
  if (!device) {
    p.error = device.message();
    return p;
  }
  p.ccMajor = (*device)->ccMajor();
  p.ccMinor = (*device)->ccMinor();
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
    // The executor's own rule: the exact target, else a compatible cubin or PTX.
    const artifact::TargetDecl *kernels =
        cuda::chooseKernelTarget(artifact.spec().targets, probe.ccMajor, probe.ccMinor);
    if (!kernels) {
      std::string have; // targets with at least one kernel (an entry may be empty)
      for (const auto &t : artifact.spec().targets)
        if (!t.kernels.empty()) have += (have.empty() ? "" : ", ") + t.target;
      whyNot = "no kernels in the artifact run on " + probe.target + " (kernels present for: " +
               (have.empty() ? "none" : have) + ")";
    } else {
      if (kernels->target == probe.target)
        return DeviceChoice{Device::Cuda, "using cuda: " + probe.target + " GPU and kernels for it in the artifact"};
      return DeviceChoice{Device::Cuda, "using cuda: " + probe.target + " GPU runs the artifact's " + kernels->target +
                                            " kernels"};
    }
  }
  if (requested == Device::Cuda) return Status::error("--device cuda: " + whyNot);
  return DeviceChoice{Device::Cpu, "using cpu: " + whyNot};
}

} // namespace qcc::rt
