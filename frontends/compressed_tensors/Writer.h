// Writing a compressed-tensors checkpoint folder that vLLM and transformers
// load (and that openCheckpoint reads back bit for bit).
//
//   std::vector<ExportEntry> plan = ...;                 // every tensor, in order
//   auto w = ExportWriter::create(outDir, config, sourceDir, plan, options);
//   (*w)->writeDense("model.embed_tokens.weight", bytes, n);
//   (*w)->writeLinear("model.layers.0.self_attn.q_proj", quantizedLinear);
//   ...                                                   // in plan order
//   (*w)->finish();                                       // config.json, index, tokenizer files, rename
//
// Mapping of qcc's formats (each is exact: reading the folder back gives the
// same codes and fp32 scales):
//   bf16     M.weight [N, K] in the entry's dtype (BF16, or F32 / F16 for a
//            weight a pass rewrote, e.g. SmoothQuant); listed in `ignore`
//   w4a16:gG pack-quantized: M.weight_packed I32 [N, ceil(K/8)] (code + 8 at bit
//            4k of the row), M.weight_scale F32 [N, K/G], M.weight_shape I64 [2];
//            weights int4 symmetric group G, no activation quantization
//   int8     int-quantized: M.weight I8 [N, K], M.weight_scale F32 [N, 1]; weights
//            int8 symmetric channel, input activations int8 symmetric token dynamic
//   fp8      float-quantized: M.weight F8_E4M3 [N, K], M.weight_scale F32 [N, 1];
//            weights float8 symmetric channel, input activations float8 token dynamic
// Scales are written as F32 (qcc's scales are fp32; a bf16 copy would round them).
// vLLM's W4A16 kernels keep group scales in the activation dtype, so serving
// rounds them once more at load; the int8 and fp8 paths keep F32 scales.
//
// config.json is written from the ModelConfig (a Llama-3.1 config: sizes, RoPE,
// token ids, torch_dtype) with a quantization_config: one config group per qcc
// format present ("group_0", ... in order of first use), targeting ["Linear"]
// when one format covers every quantized linear, else the groups' module
// names; `ignore` lists the bf16 linears (and `lm_head` when the config ties
// it to the embedding table: compressed-tensors would otherwise attach a
// `Linear` scheme to the tied head); format is the group's format or
// "mixed-precision"; quantization_status "compressed"; version "0.19.0" (the
// compressed-tensors layout written). vLLM fuses q|k|v and gate|up, so each of
// those sets must share one format (checked by create()).
//
// Safetensors shards: tensors in plan order, a new shard when the next tensor
// would pass `maxShardBytes` (a tensor larger than that gets a shard of its
// own); one shard is `model.safetensors`, several are
// `model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json`
// (metadata.total_size = the tensor bytes, weight_map sorted). Copied from the
// source folder when present (an empty sourceDir copies nothing):
// tokenizer.json, tokenizer_config.json, special_tokens_map.json,
// tokenizer.model, generation_config.json, chat_template.jinja,
// chat_template.json; writeFile() adds files given by the caller.
//
// Streaming: one linear's re-packed bytes at a time; shards are written as the
// tensors arrive. Atomic at the folder level: everything goes to a hidden
// temporary folder next to the output, renamed over it by finish(); on any
// error, or when the writer is destroyed unfinished, the temporary folder is
// removed and the output folder is untouched. Deterministic: the same inputs
// give the same bytes (no timestamps, fixed key order).
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"
#include "runtime/formats/Formats.h"
#include "support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qcc::compressed_tensors {

// One tensor (dense) or linear layer of the export, known before any byte is
// written (safetensors headers list every tensor up front).
struct ExportEntry {
  enum class Kind { Dense, Linear };
  Kind kind = Kind::Dense;
  // Dense: the tensor name ("model.norm.weight"). Linear: the module name
  // ("model.layers.0.self_attn.q_proj", "lm_head"); its tensors are derived.
  std::string name;
  // Dense entries, and linears in format bf16 (not quantized): the tensor's
  // dtype (F32, BF16 or F16).
  DType dtype = DType::BF16;
  std::vector<int64_t> shape;
  // Linear only: the format and [N = out, K = in].
  formats::FormatSpec format;
  int64_t outFeatures = 0, inFeatures = 0;
  // How the codes were chosen, recorded in the config group when every linear
  // of the group agrees: "mse" observer (MSE-clipped scales), actorder "weight"
  // (GPTQ's static activation order). compressed-tensors has no field for the
  // algorithm itself (rtn / gptq / awq).
  bool mseClip = false;
  bool actOrder = false;

  static ExportEntry dense(std::string name, DType dtype, std::vector<int64_t> shape);
  static ExportEntry linear(std::string module, formats::FormatSpec format, int64_t N, int64_t K);
};

struct ExportOptions {
  uint64_t maxShardBytes = 5000000000ull; // 5 GB, as Hugging Face's default
  bool overwrite = false;                 // replace an existing output folder
};

// The plan's own rules, checked before anything is written (create() checks
// them too): every Llama tensor of `config` exactly once with its shape,
// w4a16 groups even and dividing K, dense dtypes F32/BF16/F16, and q|k|v and
// gate|up each in one format. Messages name the tensors, not a folder.
Status checkExportPlan(const ModelConfig &config, const std::vector<ExportEntry> &plan);
// What create() requires of the output folder: its parent is a folder, and
// the folder itself does not exist unless `overwrite`.
Status checkExportOutput(const std::string &outDir, bool overwrite);

class ExportWriter {
public:
  // Checks the plan against the model (every Llama tensor exactly once, with
  // its shape; q|k|v and gate|up each in one format), the output folder (its
  // parent must exist; the folder itself must not, unless overwrite) and starts
  // the temporary folder.
  static Expected<std::unique_ptr<ExportWriter>> create(const std::string &outDir, const ModelConfig &config,
                                                        const std::string &sourceDir, std::vector<ExportEntry> plan,
                                                        const ExportOptions &options = {});
  ~ExportWriter();
  ExportWriter(const ExportWriter &) = delete;
  ExportWriter &operator=(const ExportWriter &) = delete;

  // The next entry must be this dense tensor; `bytes` = numel * dtype size.
  Status writeDense(const std::string &name, const void *data, size_t bytes);
  // The next entry must be this linear; `q` must have the planned format and shape.
  Status writeLinear(const std::string &module, const formats::QuantizedLinear &q);
  // The next entry must be this linear, planned in format bf16: its weight
  // [N, K] in the planned dtype, `bytes` = N * K * dtype size.
  Status writeDenseLinear(const std::string &module, const void *data, size_t bytes);
  // A file of the folder besides config.json and the tensors (a tokenizer
  // file), at any time before finish(). `name` is a plain file name that
  // the writer does not produce itself.
  Status writeFile(const std::string &name, const void *data, size_t bytes);
  // Every entry written: config.json, the index, copies, rename. The writer is
  // closed afterwards (also after a failure, which removes the temporary folder).
  Status finish();

  // The safetensors file names the plan produces, in order (for tests).
  std::vector<std::string> shardNames() const;

private:
  struct Impl;
  explicit ExportWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The quantization_config JSON object the plan produces (for tests and tools);
// `tiedHead`: the model ties lm_head to the embedding table.
Expected<std::string> quantizationConfigJson(const std::vector<ExportEntry> &plan, bool tiedHead = false);

} // namespace qcc::compressed_tensors
