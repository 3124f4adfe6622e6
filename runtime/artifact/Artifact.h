// The qcc artifact (model.qcc): the plain C++ description shared by the
// writer (ArtifactWriter.h) and the loader (ArtifactFile.h). The FlatBuffers
// schema (runtime/schema/artifact.fbs) is an implementation detail of both;
// nothing outside runtime/artifact includes the generated header.
//
// File layout (docs/ARTIFACT.md):
//   [0, 16)              preamble: magic "QCCARTIF", u32 format version, u32 header bytes (LE)
//   [16, 16 + header)    FlatBuffer (identifier "QCCA"): config, tensor index, schedule, kernels, provenance
//   zeros up to rawOffset = alignUp(16 + header, 4096)
//   [rawOffset, end)     raw section: every tensor's bytes at 64-byte aligned offsets
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"
#include "support/Status.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qcc::artifact {

constexpr char kMagic[8] = {'Q', 'C', 'C', 'A', 'R', 'T', 'I', 'F'};
constexpr uint32_t kFormatVersion = 2; // 2: content hashes of every tensor and kernel image
constexpr uint64_t kPreambleBytes = 16;
constexpr uint64_t kRawSectionAlignment = 4096; // page: mmap'ed weights start page-aligned
constexpr uint64_t kTensorAlignment = 64;       // every range offset in the raw section

// Same meaning and values as the schema's enums.
enum class WeightFormat : uint8_t { Dense = 0, BF16, FP8, INT8, W4A16 };
enum class QuantMethod : uint8_t { None = 0, RTN, GPTQ, AWQ };
enum class TensorRole : uint8_t { Other = 0, Embedding, Norm, Linear, LmHead, Tokenizer };
enum class OpKind : uint8_t { Embed = 0, RmsNorm, Linear, Rope, Attention, SwiGLU, Add, LmHead };

const char *formatName(WeightFormat f);  // "dense", "bf16", "fp8", "int8", "w4a16"
const char *methodName(QuantMethod m);   // "none", "rtn", "gptq", "awq"
const char *roleName(TensorRole r);      // "other", "embedding", ...
const char *opKindName(OpKind k);        // "embed", "rms_norm", ...

// A byte range inside the raw section (offset relative to its start).
struct ByteRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};

// One tensor as the compiler declares it before any bytes exist.
struct TensorDecl {
  std::string name; // Hugging Face name
  TensorRole role = TensorRole::Other;
  WeightFormat format = WeightFormat::Dense;
  DType dtype = DType::F32;     // Dense only: element type; derived for the other formats
  std::vector<int64_t> shape;   // logical shape; [N, K] for linears
  int64_t groupSize = 0;        // W4A16 only
  QuantMethod method = QuantMethod::None;
  bool mseClip = false;
  float smoothquantAlpha = -1;  // < 0: not applied
};

// What a declaration occupies in the raw section.
struct TensorLayout {
  DType dataType = DType::F32;
  uint64_t dataBytes = 0;
  uint64_t scaleBytes = 0; // f32 scales; 0 for Dense and BF16
};

// Checks the shape against the format and computes the sizes:
//   Dense [d0..dn] of dtype      -> numel * size(dtype)
//   BF16  [N, K]                 -> N*K*2
//   FP8   [N, K]                 -> N*K e4m3 codes + N f32 scales
//   INT8  [N, K]                 -> N*K int8 codes + N f32 scales
//   W4A16 [N, K], K % g == 0, K even -> N*K/2 packed bytes + N*(K/g) f32 scales
Expected<TensorLayout> layoutOf(const TensorDecl &decl);

// An activation buffer of `cols` values per token.
struct BufferDecl {
  std::string name;
  int64_t cols = 0;
};

// One schedule step; see artifact.fbs for the operand conventions of each kind.
struct OpDecl {
  OpKind kind = OpKind::Embed;
  int32_t layer = -1;
  std::vector<uint32_t> inputs, outputs, weights;
  bool operator==(const OpDecl &o) const {
    return kind == o.kind && layer == o.layer && inputs == o.inputs && outputs == o.outputs &&
           weights == o.weights;
  }
};

struct KernelDecl {
  std::string name;
  int32_t op = -1; // schedule index, -1 when not tied to one op
  std::string sourceHash;
  std::string ptx;
  std::vector<uint8_t> cubin;
  std::array<uint32_t, 3> grid = {0, 0, 0};
  std::array<uint32_t, 3> block = {0, 0, 0};
  uint32_t sharedMemBytes = 0;
};

struct TargetDecl {
  std::string target; // one of knownTargets()
  std::vector<KernelDecl> kernels;
  // The tuned GEMM tiles (a `qcc tune` table, JSON) the kernels were planned
  // with; the executor plans with the same table. Empty: the built-in tiles.
  std::string tileTable;
};

struct Provenance {
  std::string qccVersion;
  std::string options;
  std::string checkpointHash;
  std::string source;
};

// Everything the header holds. `tensors` order is the raw section's order
// (the order the writer expects the bytes in).
struct ArtifactSpec {
  ModelConfig config;
  std::vector<TensorDecl> tensors;
  std::vector<BufferDecl> buffers;
  std::vector<OpDecl> schedule;
  std::vector<TargetDecl> targets;
  Provenance provenance;
};

// CUDA targets an artifact may carry kernels for: sm_80, sm_86, sm_89, sm_90a.
const std::vector<std::string> &knownTargets();
bool isKnownTarget(const std::string &target);

// Semantic checks shared by writer and loader: config sane, tensor names
// unique, shapes consistent with formats, buffers and schedule references
// valid (arity, index ranges, linear shapes against buffer widths), targets
// known. Errors name the offending element; the caller adds the file name.
Status validateSpec(const ArtifactSpec &spec);

// Fills spec.buffers and spec.schedule with the canonical Llama-3.1 decoder
// schedule over spec.tensors (which must hold every Hugging Face weight the
// config implies; lm_head.weight may be absent when tieWordEmbeddings).
Status buildLlamaSchedule(ArtifactSpec &spec);

// Hugging Face names of the seven linears of layer `layer`, in schedule order.
std::vector<std::string> llamaLinearNames(int64_t layer);

} // namespace qcc::artifact
