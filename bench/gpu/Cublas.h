// cuBLAS and cuBLASLt for the GPU benchmark's comparisons, loaded with
// dlopen (qcc links no CUDA library) and typed by the toolkit's cublasLt.h
// when the build found it (QCC_HAVE_CUBLAS_HEADERS); otherwise open() says
// why there is none. Every GEMM is qcc's: out[M][N] = A[M][K] . W[N][K]^T,
// row-major, i.e. cuBLAS's column-major C = W^T(op T) x A(op N), the "TN"
// layout cuBLASLt's fp8 and int8 kernels need.
#pragma once

#include "runtime/cuda/CudaDriver.h"
#include "support/Status.h"

#include <memory>
#include <string>

namespace qcc::bench {

using cuda::CUdeviceptr;

class Cublas {
public:
  // Null (and the reason in *why) when the libraries or the headers are
  // missing. `workspace` (device memory) serves cuBLASLt.
  static std::unique_ptr<Cublas> open(CUdeviceptr workspace, size_t workspaceBytes, std::string *why);
  virtual ~Cublas() = default;

  // cublasGemmEx: bf16 in and out, f32 compute.
  virtual Status gemmBf16(CUdeviceptr A, CUdeviceptr W, CUdeviceptr out, int M, int N, int K) = 0;
  // cuBLASLt with its heuristic's first algorithm (planned once per shape):
  // Bf16: bf16 in and out; E4m3: e4m3 in, bf16 out (sm_89+); S8: int8 in, int32 out.
  enum class Lt { Bf16, E4m3, S8 };
  virtual Status lt(Lt kind, CUdeviceptr A, CUdeviceptr W, CUdeviceptr out, int M, int N, int K) = 0;
};

const char *ltName(Cublas::Lt kind); // "bf16", "e4m3", "s8"

} // namespace qcc::bench
