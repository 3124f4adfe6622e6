// What the GPU benchmarks share: the device (a GPU, or the emulated driver for
// a rehearsal: QCC_CUDA_DRIVER=libqcc-emu-cuda.so, QCC_EMU_KERNELS=DIR, where
// every time is the host's time of the emulation and means nothing for a
// GPU), kernels compiled by NVRTC (and built for the host when emulated),
// timing, and the measured roofline: copy bandwidth and tensor-core peaks of
// the instructions qcc's GEMMs use (mma.sync; wgmma m64n64 on sm_90a).
#pragma once

#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/Targets.h"
#include "runtime/cuda/CudaDevice.h"

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qcc::bench {

using cuda::CUdeviceptr;
using cuda::CUfunction;

// Prints "<tool>: <message>" and exits 1 (benchmarks stop at the first failure).
[[noreturn]] void die(const std::string &tool, const std::string &message);
template <typename T> T orDie(const char *tool, Expected<T> e) {
  if (!e) die(tool, e.message());
  return std::move(*e);
}
inline void checkOrDie(const char *tool, const Status &s) {
  if (!s) die(tool, s.message());
}

struct BenchDevice {
  const char *tool = "qcc-gpu-bench";
  std::unique_ptr<cuda::CudaDevice> dev;
  cuda::GpuTarget target{}; // the device's qcc target (smCount from the device)
  bool emulated = false;    // the emulated driver: host times, small sizes
  int l2Bytes = 0;
  std::vector<std::unique_ptr<cuda::CudaModule>> modules;

  // Opens device 0; emulated when QCC_EMU_KERNELS is set (the emulated
  // driver's kernel folder).
  static BenchDevice open(const char *tool);
  // "NVIDIA H200 (sm_90a, 132 SMs), driver 13.0, NVRTC 13.0, 2026-12-02" (+ "EMULATED").
  std::string describe() const;

  // Compiles (and, emulated, builds for the host) every kernel at once on all
  // cores, so that the loads after it find them in the kernel cache.
  void prebuild(const std::vector<cuda::KernelSpec> &specs);
  CUfunction load(const cuda::GeneratedKernel &kernel);
  CUfunction load(const cuda::KernelSpec &spec);
  void launch(CUfunction f, const cuda::KernelSpec &spec, int64_t rows, std::vector<void *> args);
  // Milliseconds per run of `body`, at least `minIters` runs after a warm-up
  // (the emulation: one run, host time).
  double timeMs(const std::function<Status()> &body, int minIters = 5);
  cuda::DeviceBuffer filled(size_t bytes, uint8_t byte);
};

// The measured roofline.
struct Roofline {
  double copyGBs = 0;                      // device-to-device copy, read + write
  double mmaBf16 = 0, mmaS8 = 0, mmaE4m3 = 0;       // mma.sync TFLOP/s (TOP/s for s8); 0: not measured
  double wgmmaBf16 = 0, wgmmaS8 = 0, wgmmaE4m3 = 0; // wgmma m64n64 (sm_90a)
  double peakFor(cuda::GemmFormat f) const; // the best of the two for the format's math
  std::string describe() const;
};
Roofline measureRoofline(BenchDevice &b);

} // namespace qcc::bench
