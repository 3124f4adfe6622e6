// The kernel templates (codegen/cuda/kernels/*.cuh), embedded at build time.
#pragma once

#include <string>
#include <vector>

namespace qcc::cuda {

struct KernelSource {
  const char *name; // "gemm.cuh"
  const char *text;
};
const std::vector<KernelSource> &kernelSources(); // generated KernelSources.cpp
// The text of one template, or null.
inline const char *kernelSource(const std::string &name) {
  for (const KernelSource &s : kernelSources())
    if (name == s.name) return s.text;
  return nullptr;
}

} // namespace qcc::cuda
