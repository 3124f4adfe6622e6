// The CUDA kernels of an artifact: which specialised kernels a compiled
// model's schedule needs on a target (planModelKernels, shared with the CUDA
// executor so both sides agree on every entry-point name), and all of them
// compiled for a list of targets into the artifact's KernelDecls
// (compileArtifactKernels, called by the compiler's artifact emitter).
#pragma once

#include "codegen/cuda/Kernels.h"
#include "codegen/cuda/TileTable.h"
#include "runtime/artifact/Artifact.h"

#include <string>
#include <vector>

namespace qcc::cuda {

// KV-cache positions the artifact's kv_store / attention kernels are
// specialised for (the cache's row stride): max_position_embeddings capped at
// 8192, the session's default context; 8192 when the config has none.
int64_t artifactMaxSeq(const ModelConfig &config);

// GEMMs run with `decode` for M <= kDecodeRows tokens and `prefill` above
// (both are correct at any M; they differ in tiling only).
constexpr int64_t kDecodeRows = 16;
struct GemmKernels {
  KernelSpec decode, prefill;
  const KernelSpec &forRows(int64_t M) const { return M <= kDecodeRows ? decode : prefill; }
};

// One decoder layer, in execution order. The activations between kernels:
//   x [T][H] bf16 residual stream
//   inputNorm(x) -> h (bf16, or int8/e4m3 codes + per-token scales for qkv)
//   qkv(h) -> [T][(HQ+2HKV)D] = [q | k | v] per row; rope on q, k in place
//   kvStore(k, v) -> caches; attention(q, caches) -> attn [T][HQ*D] bf16
//   attnQuantize(attn) (only when o's format quantises activations)
//   o(attn) + x -> x;  postNorm(x) -> h;  gateUp(h) -> [T][2I] = [gate | up]
//   swiglu(gate, up) -> act (bf16 or codes for down);  down(act) + x -> x
struct LayerKernels {
  KernelSpec inputNorm;
  GemmKernels qkv;
  KernelSpec rope, kvStore, attention;
  bool quantizeAttn = false;
  KernelSpec attnQuantize; // meaningful when quantizeAttn
  GemmKernels o;           // residual epilogue
  KernelSpec postNorm;
  GemmKernels gateUp;
  KernelSpec swiglu;
  GemmKernels down; // residual epilogue
};

struct ModelKernels {
  const GpuTarget *target = nullptr;
  int64_t maxSeq = 0; // kv cache stride the kernels were specialised for
  KernelSpec embed;
  std::vector<LayerKernels> layers;
  KernelSpec finalNorm;
  GemmKernels lmHead;
  KernelSpec add; // residual add where not fused (unused by the Llama schedule today)
  // Every distinct kernel once, sorted by entry-point name.
  std::vector<KernelSpec> unique() const;
};

// The GEMM format a linear weight runs in on `target`: dense and bf16 -> bf16
// (converted at upload), int8, w4a16, fp8 (fp8w on sm_80/86 when
// `fp8WeightOnly`, otherwise an error).
Expected<GemmFormat> gemmFormatFor(const artifact::TensorDecl &weight, const GpuTarget &target,
                                   bool fp8WeightOnly);

// The kernels `spec`'s schedule (the canonical Llama schedule of
// artifact::buildLlamaSchedule) needs on `target`. Per-layer formats may
// differ; q/k/v and gate/up are fused, so each of those groups must share one
// format (and w4a16 group size). Errors name the layer, the tensor and the
// constraint (e.g. a w4a16 group size that is not a multiple of 128).
// `tiles` (a `qcc tune` table) overrides chooseGemmTile's choices.
Expected<ModelKernels> planModelKernels(const artifact::ArtifactSpec &spec, const GpuTarget &target,
                                        bool fp8WeightOnly, const TileTable *tiles = nullptr);

// Every kernel `spec` needs, generated and compiled with NVRTC for each of
// `targets` ("sm_80", "sm80", "sm_90a", ...; duplicates are an error), all
// (target, kernel) pairs in parallel through the KernelCache in `cacheDir`
// ("" = defaultKernelCacheDir()). One TargetDecl per target in the order
// given, kernels sorted by name, each with PTX, cubin, the source hash
// (FNV-1a 64 of the generated source, 16 hex digits), block size, and the
// grid dimensions that do not depend on the token count (0 where they do:
// gemm grid = {ceil(N/blockN), 0, 1}, attention/norm/... grid = {0, 1, 1}).
// No dynamic shared memory is used (sharedMemBytes = 0). Same spec and
// targets -> byte-identical result. `tiles`: as for planModelKernels; each
// TargetDecl stores that target's entries (tileTable) so that the executor
// plans the same kernels (planArtifactTarget).
Expected<std::vector<artifact::TargetDecl>> compileArtifactKernels(const artifact::ArtifactSpec &spec,
                                                                   const std::vector<std::string> &targets,
                                                                   bool fp8WeightOnly,
                                                                   const std::string &cacheDir = "",
                                                                   const TileTable *tiles = nullptr);

// The executor's side: the kernels one target of an artifact serves, planned
// with the tile table stored in `decl` (or `overrideTiles`, for kernels
// compiled separately), after checking that every planned entry point is in
// `decl`. The error says which kernel is missing and with which tiles.
Expected<ModelKernels> planArtifactTarget(const artifact::ArtifactSpec &spec, const artifact::TargetDecl &decl,
                                          const TileTable *overrideTiles = nullptr);

} // namespace qcc::cuda
