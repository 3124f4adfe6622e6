// The qcc artifact (model.qcc): the plain C++ description shared by the
// writer (ArtifactWriter.h) and the loader (ArtifactFile.h). The FlatBuffers
// schema (runtime/schema/artifact.fbs) is an implementation detail of both;
// nothing outside runtime/artifact includes the generated header.
//
// File layout (docs/ARTIFACT.md):
//   [0, 16)              preamble: magic "QCCARTIF", u32 format version, u32 header bytes (LE)
//   [16, 16 + header)    FlatBuffer (identifier "QCCA"): config, tensor index, CPU program,
//                        per-target kernels and launch lists, provenance
//   zeros up to rawOffset = alignUp(16 + header, 4096)
//   [rawOffset, end)     raw section: every tensor's bytes at 64-byte aligned offsets
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"
#include "runtime/program/Program.h"
#include "support/Status.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qcc::artifact {

constexpr char kMagic[8] = {'Q', 'C', 'C', 'A', 'R', 'T', 'I', 'F'};
// 2: the CPU program, per-target launch lists, and content hashes (XXH3-128)
// of every tensor and kernel image, verified at load.
constexpr uint32_t kFormatVersion = 2;
constexpr uint64_t kPreambleBytes = 16;
constexpr uint64_t kRawSectionAlignment = 4096; // page: mmap'ed weights start page-aligned
constexpr uint64_t kTensorAlignment = 64;       // every range offset in the raw section

// Same meaning and values as the schema's enums.
enum class WeightFormat : uint8_t { Dense = 0, BF16, FP8, INT8, W4A16 };
enum class QuantMethod : uint8_t { None = 0, RTN, GPTQ, AWQ, Imported };
enum class TensorRole : uint8_t { Other = 0, Embedding, Norm, Linear, LmHead, Tokenizer };

const char *formatName(WeightFormat f);  // "dense", "bf16", "fp8", "int8", "w4a16"
const char *methodName(QuantMethod m);   // "none", "rtn", "gptq", "awq"
const char *roleName(TensorRole r);      // "other", "embedding", ...

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

struct KernelDecl {
  std::string name;
  std::string sourceHash;
  std::string ptx;
  std::vector<uint8_t> cubin;
  std::array<uint32_t, 3> grid = {0, 0, 0};
  std::array<uint32_t, 3> block = {0, 0, 0};
  uint32_t sharedMemBytes = 0;
};

// The launch list of a target (see artifact.fbs for each field's meaning).
enum class DeviceWeightLayout : uint8_t { Bf16 = 0, Codes, Scales, W4A16Codes, W4A16Scales };
const char *deviceWeightLayoutName(DeviceWeightLayout l);
struct DeviceWeightDecl {
  std::vector<uint32_t> tensors; // rows stacked in this order
  DeviceWeightLayout layout = DeviceWeightLayout::Bf16;
  bool operator==(const DeviceWeightDecl &o) const { return tensors == o.tensors && layout == o.layout; }
};
struct KvCacheDecl {
  int64_t kvHeads = 0, headDim = 0;
};
enum class ArgKind : uint8_t { Buffer = 0, Weight, KCache, VCache, TokenIds, Positions, Rows, F32, Null };
struct LaunchArg {
  ArgKind kind = ArgKind::Null;
  uint32_t index = 0;
  uint64_t offset = 0; // bytes into a buffer
  float f32 = 0;
};
// constant when rowsDiv == 0, else ceil(rows * rowsMul / rowsDiv).
struct GridDim {
  uint32_t constant = 1, rowsMul = 0, rowsDiv = 0;
  uint64_t at(int64_t rows) const {
    return rowsDiv == 0 ? constant : (uint64_t(rows) * rowsMul + rowsDiv - 1) / rowsDiv;
  }
};
struct KernelVariant {
  uint32_t kernel = 0;  // index into TargetDecl::kernels
  int64_t maxRows = 0;  // 0: any number of rows
  std::array<GridDim, 3> grid;
  uint32_t block = 0;
};
struct LaunchDecl {
  std::string name;
  std::vector<KernelVariant> variants; // the first that admits the rows runs
  std::vector<LaunchArg> args;
};

struct TargetDecl {
  std::string target; // one of knownTargets()
  std::vector<KernelDecl> kernels;
  // The tuned GEMM tiles (a `qcc tune` table, JSON) the kernels were planned
  // with. Empty: the built-in tiles.
  std::string tileTable;
  std::vector<uint64_t> bufferBytesPerRow; // device buffers: rows * bytes
  std::vector<DeviceWeightDecl> weights;
  std::vector<KvCacheDecl> caches;
  int64_t maxSeq = 0;
  std::vector<LaunchDecl> launches;
  LaunchArg logits; // a Buffer: bf16 [rows][vocab]
};

struct Provenance {
  std::string qccVersion;
  std::string options;
  std::string checkpointHash;
  std::string source;
};

// Everything the header holds. `tensors` order is the raw section's order
// (the order the writer expects the bytes in); the program's weights index it.
struct ArtifactSpec {
  ModelConfig config; // the source model's configuration (metadata: tokens, sizes)
  std::vector<TensorDecl> tensors;
  program::Program program;
  std::vector<TargetDecl> targets;
  Provenance provenance;
};

// CUDA targets an artifact may carry kernels for: sm_80, sm_86, sm_89, sm_90a.
const std::vector<std::string> &knownTargets();
bool isKnownTarget(const std::string &target);

// Semantic checks shared by writer and loader: config sane, tensor names
// unique, shapes consistent with formats, the program valid over the tensors
// (program::validate), every target known and its launch list consistent
// (kernel, buffer, weight and cache indices in range, layouts fitting their
// tensors). Errors name the offending element; the caller adds the file name.
Status validateSpec(const ArtifactSpec &spec);

} // namespace qcc::artifact
