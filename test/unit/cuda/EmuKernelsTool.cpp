// qcc-emu-kernels MODEL.qcc DIR: builds, for the emulated CUDA driver
// (EmulatedDriver.cpp), the host versions of every kernel the artifact's
// targets plan, into DIR (QCC_EMU_KERNELS). Test tooling for lit tests that
// run `qcc run --device cuda` without a GPU.
#include "HostKernels.h"

#include "codegen/cuda/ArtifactKernels.h"
#include "runtime/artifact/ArtifactFile.h"

#include <cstdio>

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: qcc-emu-kernels MODEL.qcc DIR\n");
    return 2;
  }
  auto file = qcc::artifact::ArtifactFile::open(argv[1]);
  if (!file) {
    std::fprintf(stderr, "qcc-emu-kernels: %s\n", file.message().c_str());
    return 1;
  }
  std::vector<qcc::cuda::GeneratedKernel> kernels;
  for (const qcc::artifact::TargetDecl &t : (*file)->spec().targets) {
    auto plan = qcc::cuda::planArtifactTarget((*file)->spec(), t);
    auto gpu = qcc::cuda::findTarget(t.target);
    if (!plan || !gpu) {
      std::fprintf(stderr, "qcc-emu-kernels: %s\n", (plan ? gpu.message() : plan.message()).c_str());
      return 1;
    }
    for (const qcc::cuda::KernelSpec &s : plan->unique()) {
      auto g = qcc::cuda::generateKernel(s, **gpu);
      if (!g) {
        std::fprintf(stderr, "qcc-emu-kernels: %s\n", g.message().c_str());
        return 1;
      }
      kernels.push_back(*g);
    }
  }
  qcc::Status s = qcc::cuda::testing::buildHostKernels(kernels, argv[2]);
  if (!s) {
    std::fprintf(stderr, "qcc-emu-kernels: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("%zu kernels built for the emulated driver in %s\n", kernels.size(), argv[2]);
  return 0;
}
