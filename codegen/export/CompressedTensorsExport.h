// The compressed-tensors folder (what vLLM and transformers load) as a
// translation of a quantized qcc module, the counterpart of the artifact
// translation (codegen/artifact/EmitArtifact.h):
//   * one ExportEntry per tensor of the Hugging Face model, in graph order:
//     the embedding table and the norms dense, in the dtype of their IR value
//     (SmoothQuant's and AWQ's rewritten norms are f32); every qcc.linear as
//     the module its `layer` names, in its format (w4a16 pack-quantized, int8
//     int-quantized, fp8 float-quantized; bf16 dense in its IR dtype and in
//     `ignore`), with the MSE-clip mark of its weight op and GPTQ's static act
//     order from the recorded qcc-quantize-weights options;
//   * config.json from the module's `qcc.model_config` with the
//     quantization_config those entries imply; the tokenizer files the
//     importer recorded (`qcc.tokenizer`, each checked against its hash);
//     generation_config.json of the @checkpoint folder when it has one (not
//     recorded by the import: copied as it is at translation time);
//   * bytes streamed one weight at a time from the IR's parameters
//     (evaluateWeight: round-to-nearest is computed as it is written),
//     through compressed_tensors::ExportWriter (sharded, atomic at the
//     folder level, deterministic).
// What vLLM cannot serve is refused with the fix named: a quantized lm_head
// (vLLM's ParallelLMHead takes no compressed-tensors scheme; when the head
// is tied to the embeddings, compressed-tensors and vLLM read it as the dense
// table), and q|k|v or gate|up in different formats (vLLM fuses each set).
// `qcc export` and `qcc-translate --qcc-to-compressed-tensors` both call it.
#pragma once

#include "frontends/compressed_tensors/Writer.h"
#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Value.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcc {

// The tensors of the export, planned from the IR.
struct CompressedTensorsPlan {
  ModelConfig config;
  std::vector<compressed_tensors::ExportEntry> entries;
  std::vector<mlir::Value> weights; // per entry: the IR value that holds its bytes
};

// Plans the export of `module`'s @forward; errors for what vLLM cannot
// serve (a quantized lm_head). Formats come from the ops (qcc.linear's
// `format`), so a module whose formats are chosen but whose weights are not
// quantized yet plans too; with `requireQuantized` such a linear is an error
// (the translation needs its codes). `qcc export` plans a copy of the module
// right after choosing the formats and checks the plan with
// compressed_tensors::checkExportPlan (q|k|v and gate|up in one format each,
// group sizes) before any calibration runs.
Expected<CompressedTensorsPlan> planCompressedTensorsExport(mlir::ModuleOp module, bool requireQuantized);

struct ExportTranslateOptions {
  std::string outputDir;
  bool overwrite = false;                 // replace an existing folder (atomically)
  uint64_t maxShardBytes = 5000000000ull; // 5 GB, as Hugging Face's default
  // Called after each planned entry is written (done, total); may be empty.
  std::function<void(int64_t done, int64_t total)> onEntryWritten;
};

struct ExportSummary {
  std::vector<std::string> shards;               // safetensors file names
  std::vector<std::string> files;                // tokenizer files (and generation_config.json) written
  uint64_t tensorBytes = 0;                      // bytes of every tensor
  std::map<std::string, uint64_t> bytesByFormat; // "w4a16:g128" / "BF16" -> bytes
  size_t linears = 0, quantizedLinears = 0;
};

// Writes the folder (nothing at outputDir on failure, no temporary left).
Expected<ExportSummary> translateToCompressedTensors(mlir::ModuleOp module, const ExportTranslateOptions &options);

} // namespace qcc
