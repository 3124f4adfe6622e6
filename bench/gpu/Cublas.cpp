#include "Cublas.h"

#ifdef QCC_HAVE_CUBLAS_HEADERS
#include <cublasLt.h>
#include <cublas_v2.h>
#endif

#include <dlfcn.h>
#include <map>
#include <tuple>
#include <vector>

namespace qcc::bench {

const char *ltName(Cublas::Lt kind) {
  switch (kind) {
  case Cublas::Lt::Bf16: return "bf16";
  case Cublas::Lt::E4m3: return "e4m3";
  case Cublas::Lt::S8: return "s8";
  }
  return "?";
}

#ifndef QCC_HAVE_CUBLAS_HEADERS

std::unique_ptr<Cublas> Cublas::open(CUdeviceptr, size_t, std::string *why) {
  *why = "built without the CUDA toolkit's cublasLt.h";
  return nullptr;
}

#else

namespace {

void *openFirst(std::initializer_list<const char *> names) {
  for (const char *n : names)
    if (void *h = dlopen(n, RTLD_NOW | RTLD_GLOBAL)) return h;
  return nullptr;
}

#define QCC_CUBLAS_FN(name) decltype(&::name) name = nullptr

class CublasImpl : public Cublas {
public:
  QCC_CUBLAS_FN(cublasCreate_v2);
  // (overloaded in C++: the C entry point's signature)
  cublasStatus_t (*cublasGemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void *,
                                 const void *, cudaDataType, int, const void *, cudaDataType, int, const void *, void *,
                                 cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  QCC_CUBLAS_FN(cublasLtCreate);
  QCC_CUBLAS_FN(cublasLtMatmulDescCreate);
  QCC_CUBLAS_FN(cublasLtMatmulDescSetAttribute);
  QCC_CUBLAS_FN(cublasLtMatrixLayoutCreate);
  QCC_CUBLAS_FN(cublasLtMatmulPreferenceCreate);
  QCC_CUBLAS_FN(cublasLtMatmulPreferenceSetAttribute);
  QCC_CUBLAS_FN(cublasLtMatmulAlgoGetHeuristic);
  QCC_CUBLAS_FN(cublasLtMatmul);
  cublasHandle_t handle = nullptr;
  cublasLtHandle_t ltHandle = nullptr;
  CUdeviceptr workspace = 0;
  size_t workspaceBytes = 0;

  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  std::map<std::tuple<int, int, int, int>, Plan> plans;

  Status gemmBf16(CUdeviceptr A, CUdeviceptr W, CUdeviceptr out, int M, int N, int K) override {
    const float alpha = 1.f, beta = 0.f;
    const cublasStatus_t r =
        cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, reinterpret_cast<void *>(W), CUDA_R_16BF, K,
                     reinterpret_cast<void *>(A), CUDA_R_16BF, K, &beta, reinterpret_cast<void *>(out), CUDA_R_16BF, N,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    return r == CUBLAS_STATUS_SUCCESS ? Status::ok() : Status::error("cublasGemmEx: status " + std::to_string(int(r)));
  }

  Expected<Plan *> plan(Lt kind, int M, int N, int K) {
    auto key = std::make_tuple(int(kind), M, N, K);
    if (auto it = plans.find(key); it != plans.end()) return &it->second;
    Plan p;
    const cudaDataType in = kind == Lt::Bf16 ? CUDA_R_16BF : kind == Lt::E4m3 ? CUDA_R_8F_E4M3 : CUDA_R_8I;
    const cudaDataType outType = kind == Lt::S8 ? CUDA_R_32I : CUDA_R_16BF;
    const cublasComputeType_t compute = kind == Lt::S8 ? CUBLAS_COMPUTE_32I : CUBLAS_COMPUTE_32F;
    const cudaDataType scale = kind == Lt::S8 ? CUDA_R_32I : CUDA_R_32F;
    auto check = [&](cublasStatus_t r, const char *what) {
      return r == CUBLAS_STATUS_SUCCESS ? Status::ok()
                                        : Status::error(std::string("cuBLASLt ") + ltName(kind) + " " + what +
                                                        ": status " + std::to_string(int(r)));
    };
    QCC_RETURN_IF_ERROR(check(cublasLtMatmulDescCreate(&p.desc, compute, scale), "matmul desc"));
    const cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    QCC_RETURN_IF_ERROR(
        check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT), "transa"));
    QCC_RETURN_IF_ERROR(
        check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN), "transb"));
    QCC_RETURN_IF_ERROR(check(cublasLtMatrixLayoutCreate(&p.a, in, uint64_t(K), uint64_t(N), K), "layout A"));
    QCC_RETURN_IF_ERROR(check(cublasLtMatrixLayoutCreate(&p.b, in, uint64_t(K), uint64_t(M), K), "layout B"));
    QCC_RETURN_IF_ERROR(check(cublasLtMatrixLayoutCreate(&p.c, outType, uint64_t(N), uint64_t(M), N), "layout C"));
    cublasLtMatmulPreference_t pref = nullptr;
    QCC_RETURN_IF_ERROR(check(cublasLtMatmulPreferenceCreate(&pref), "preference"));
    QCC_RETURN_IF_ERROR(check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                                    &workspaceBytes, sizeof workspaceBytes),
                              "workspace"));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    QCC_RETURN_IF_ERROR(check(
        cublasLtMatmulAlgoGetHeuristic(ltHandle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &found), "heuristic"));
    if (found < 1) return Status::error(std::string("cuBLASLt ") + ltName(kind) + ": no algorithm for this shape");
    p.algo = result.algo;
    return &(plans[key] = p);
  }

  Status lt(Lt kind, CUdeviceptr A, CUdeviceptr W, CUdeviceptr out, int M, int N, int K) override {
    auto p = plan(kind, M, N, K);
    if (!p) return p.status();
    const float alphaF = 1.f, betaF = 0.f;
    const int alphaI = 1, betaI = 0;
    const void *alpha = kind == Lt::S8 ? static_cast<const void *>(&alphaI) : &alphaF;
    const void *beta = kind == Lt::S8 ? static_cast<const void *>(&betaI) : &betaF;
    const cublasStatus_t r =
        cublasLtMatmul(ltHandle, (*p)->desc, alpha, reinterpret_cast<void *>(W), (*p)->a, reinterpret_cast<void *>(A),
                       (*p)->b, beta, reinterpret_cast<void *>(out), (*p)->c, reinterpret_cast<void *>(out), (*p)->c,
                       &(*p)->algo, reinterpret_cast<void *>(workspace), workspaceBytes, nullptr);
    return r == CUBLAS_STATUS_SUCCESS
               ? Status::ok()
               : Status::error(std::string("cublasLtMatmul ") + ltName(kind) + ": status " + std::to_string(int(r)));
  }
};

} // namespace

std::unique_ptr<Cublas> Cublas::open(CUdeviceptr workspace, size_t workspaceBytes, std::string *why) {
  void *blas = openFirst({"libcublas.so.13", "libcublas.so.12", QCC_CUDA_ROOT "/lib64/libcublas.so.13",
                          QCC_CUDA_ROOT "/lib64/libcublas.so.12", "libcublas.so"});
  void *blasLt = openFirst({"libcublasLt.so.13", "libcublasLt.so.12", QCC_CUDA_ROOT "/lib64/libcublasLt.so.13",
                            QCC_CUDA_ROOT "/lib64/libcublasLt.so.12", "libcublasLt.so"});
  if (!blas || !blasLt) {
    *why = "libcublas / libcublasLt could not be loaded";
    return nullptr;
  }
  auto c = std::make_unique<CublasImpl>();
  c->workspace = workspace;
  c->workspaceBytes = workspaceBytes;
  bool ok = true;
  auto bind = [&](void *h, const char *name, auto &fn) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
    ok &= fn != nullptr;
  };
  bind(blas, "cublasCreate_v2", c->cublasCreate_v2);
  bind(blas, "cublasGemmEx", c->cublasGemmEx);
  bind(blasLt, "cublasLtCreate", c->cublasLtCreate);
  bind(blasLt, "cublasLtMatmulDescCreate", c->cublasLtMatmulDescCreate);
  bind(blasLt, "cublasLtMatmulDescSetAttribute", c->cublasLtMatmulDescSetAttribute);
  bind(blasLt, "cublasLtMatrixLayoutCreate", c->cublasLtMatrixLayoutCreate);
  bind(blasLt, "cublasLtMatmulPreferenceCreate", c->cublasLtMatmulPreferenceCreate);
  bind(blasLt, "cublasLtMatmulPreferenceSetAttribute", c->cublasLtMatmulPreferenceSetAttribute);
  bind(blasLt, "cublasLtMatmulAlgoGetHeuristic", c->cublasLtMatmulAlgoGetHeuristic);
  bind(blasLt, "cublasLtMatmul", c->cublasLtMatmul);
  if (!ok) {
    *why = "libcublas / libcublasLt lack an entry point this benchmark uses";
    return nullptr;
  }
  if (c->cublasCreate_v2(&c->handle) != CUBLAS_STATUS_SUCCESS || c->cublasLtCreate(&c->ltHandle) != CUBLAS_STATUS_SUCCESS) {
    *why = "cublasCreate / cublasLtCreate failed";
    return nullptr;
  }
  return c;
}

#endif

} // namespace qcc::bench
