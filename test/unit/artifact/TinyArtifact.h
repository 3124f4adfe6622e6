// Test-only builder: a random tiny Llama model and its artifact in bf16 or a
// quantized format (formats:: RTN), without the compiler.
#pragma once

#include "runtime/Tensor.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/formats/Formats.h"

#include <map>
#include <optional>

namespace qcc::artifact::testing {

// Tensors in memory, a WeightProvider for running the executor directly.
class MemoryWeights : public WeightProvider {
public:
  void add(const std::string &name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes);
  const TensorRef *find(const std::string &name) const override;
  const std::vector<uint8_t> &bytes(const std::string &name) const { return store_.at(name).second; }
  std::vector<std::string> names() const; // insertion order

private:
  std::map<std::string, std::pair<TensorRef, std::vector<uint8_t>>> store_;
  std::vector<std::string> order_;
};

struct TinyModel {
  ModelConfig config;
  MemoryWeights weights; // every tensor as bf16 (values already bf16-exact)
  // The float values of each linear [N*K] (bf16-exact) for quantization.
  std::map<std::string, std::vector<float>> linearValues;
};

struct TinyOptions {
  uint32_t seed = 1;
  int64_t hidden = 64, intermediate = 128, layers = 2, heads = 4, kvHeads = 2, vocab = 96;
  bool tied = false;
  bool ropeScaling = true;
};
TinyModel makeTinyModel(const TinyOptions &options = {});

// Hugging Face names of a Llama model's tensors in artifact order: the
// embedding, per layer input_layernorm, q/k/v/o, post_attention_layernorm,
// gate/up/down, then model.norm and lm_head (absent when tied).
std::vector<std::string> llamaTensorNames(const ModelConfig &config);

// The spec of an artifact holding `weights`: dense tensors in their own dtype;
// linears in `format` (std::nullopt: dense, in their own dtype); a tokenizer
// blob when `tokenizerJson` is non-empty; the program of test/unit/cpu/LlamaProgram.h.
Expected<ArtifactSpec> llamaSpec(const ModelConfig &config, const WeightProvider &weights,
                                 std::optional<formats::FormatSpec> format,
                                 const std::vector<TargetDecl> &targets = {}, const std::string &tokenizerJson = "");

// Writes that artifact, quantizing each linear with formats::quantizeLinear
// (RTN) as it streams; the quantized linears are returned in *quantized.
Status writeLlamaArtifact(const std::string &path, const ModelConfig &config, const WeightProvider &weights,
                          std::optional<formats::FormatSpec> format,
                          std::map<std::string, formats::QuantizedLinear> *quantized = nullptr,
                          const std::vector<TargetDecl> &targets = {}, const std::string &tokenizerJson = "");

// The same for a TinyModel.
inline Status writeTinyArtifact(const std::string &path, const TinyModel &model,
                                std::optional<formats::FormatSpec> format,
                                std::map<std::string, formats::QuantizedLinear> *quantized = nullptr,
                                const std::vector<TargetDecl> &targets = {}, const std::string &tokenizerJson = "") {
  return writeLlamaArtifact(path, model.config, model.weights, format, quantized, targets, tokenizerJson);
}
inline Expected<ArtifactSpec> tinySpec(const TinyModel &model, std::optional<formats::FormatSpec> format,
                                       const std::vector<TargetDecl> &targets = {},
                                       const std::string &tokenizerJson = "") {
  return llamaSpec(model.config, model.weights, format, targets, tokenizerJson);
}

// A fake kernel entry and a one-launch list for tests of the kernel tables
// (for a program with `vocab` logits).
TargetDecl fakeTarget(const std::string &target, int64_t vocab = 96);

} // namespace qcc::artifact::testing
