// Test-only: the layer-by-layer Llama-3.1 executor qcc ran before the graph
// interpreter (runtime/cpu/Interpreter.h) replaced it. Kept as a reference:
// the interpreter must reproduce it bit for bit on a Llama program.
//
// Forward pass of one layer (hidden h is [T, D], T tokens at positions p0..):
//   x = rms_norm(h) * input_layernorm           [T, D]
//   q = x Wq^T [T, H*Dh], k = x Wk^T, v = x Wv^T [T, Hkv*Dh]
//   q, k = rope(q, k)  (Hugging Face rotate-half layout, llama3 frequency scaling)
//   a = causal GQA attention(q, k, v) with the KV cache   [T, H*Dh]
//   h = h + a Wo^T
//   x = rms_norm(h) * post_attention_layernorm
//   h = h + (silu(x Wg^T) * (x Wu^T)) Wd^T      [T, F] inside
// then logits = rms_norm(h) * norm  Wlm^T    [T, V]  (Wlm = embeddings when tied).
//
// Precision (ActDType): everything accumulates in fp32. With F32 no value is
// rounded. With BF16 (the default for a bfloat16 checkpoint) the weights are
// bf16 and values are rounded to bf16 where Hugging Face transformers rounds
// them when it runs the model in bfloat16:
//   * rms_norm: normalise in fp32, round, multiply by the weight, round
//     (transformers: weight * hidden.to(bf16));
//   * each linear's output (fp32 accumulation, one rounding);
//   * rope: cos/sin rounded to bf16, then q*cos, rotate_half(q)*sin and their
//     sum each rounded (bf16 elementwise ops);
//   * attention: scores, softmax and the weighted sum of values in fp32 (like
//     a flash-attention kernel or torch's sdpa), the output rounded once;
//   * silu(gate) rounded, times up rounded; each residual add rounded;
//   * logits are lm_head's bf16 output.
// The KV cache holds k (after rope) and v as the rounded values.
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/cpu/Linear.h"
#include "runtime/cpu/ThreadPool.h"
#include "runtime/formats/Formats.h"
#include "support/Status.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace qcc::test {
using namespace qcc::cpu;


// observer(linearName, x, rows, cols): x is the fp32 input [rows, cols] of that
// linear (q, k and v, and gate and up, report the same input under each name).
using LayerObserver =
    std::function<void(const std::string &, const float *, int64_t, int64_t)>;

class ReferenceSession;

class ReferenceLlama {
public:
  // Converts the weights for execution: dense ones are rounded to bf16 in BF16
  // mode, then kept as bf16 bits when bf16-exact, else as fp32 (Linear.h).
  // F32/BF16/F16 tensors are accepted. Errors name the missing or malformed tensor.
  static Expected<std::unique_ptr<ReferenceLlama>> create(const ModelConfig &config,
                                                      const WeightProvider &weights,
                                                      const ExecutorOptions &options);

  const ModelConfig &config() const { return config_; }
  ActDType actDtype() const { return act_; }
  int64_t maxSeqLen() const { return maxSeqLen_; }
  int numThreads() const { return pool_->numThreads(); }

  // Linear names in execution order: "model.layers.{i}.self_attn.{q,k,v,o}_proj",
  // "model.layers.{i}.mlp.{gate,up,down}_proj", then "lm_head". Everywhere a
  // name is taken, a trailing ".weight" is accepted too.
  std::vector<std::string> linearNames() const;
  // Norm names: "model.layers.{i}.input_layernorm", "...post_attention_layernorm", "model.norm".
  std::vector<std::string> normNames() const;
  // {N, K} of a linear; nullopt for an unknown name.
  std::optional<std::pair<int64_t, int64_t>> linearShape(const std::string &name) const;
  std::optional<formats::Format> linearFormat(const std::string &name) const;

  // Replace a linear's weights with a quantized (or BF16) one of the same shape.
  Status setLinear(const std::string &name, formats::QuantizedLinear q);
  // Replace a linear's weights with dense fp32 values [N*K] (rounded to bf16 in BF16 mode).
  Status setDenseLinear(const std::string &name, std::vector<float> w);
  Status setNormWeight(const std::string &name, std::vector<float> w);
  // fp32 copy [N*K] of a linear's weights (dequantized if quantized); empty if unknown.
  std::vector<float> denseLinearWeights(const std::string &name) const;
  // Copy [D] of a norm's weight; empty if unknown.
  std::vector<float> normWeight(const std::string &name) const;
  // The executor's own weights of a linear (dense or quantized); nullptr if unknown.
  const Linear *linear(const std::string &name) const { return findLinear(name); }

  // Layer-wise API for sequential calibration, one sequence at positions 0..T-1.
  Expected<std::vector<float>> embed(const std::vector<int64_t> &tokens) const; // [T, D]
  Status runLayer(int layer, std::vector<float> &hidden /*[T, D] in/out*/,
                  const LayerObserver *observer = nullptr) const;
  Expected<std::vector<float>> finalLogits(const std::vector<float> &hidden) const; // [T, V]

  // Full forward over one sequence without a cache: logits [T, V].
  Expected<std::vector<float>> forward(const std::vector<int64_t> &tokens) const;

private:
  friend class ReferenceSession;
  struct Layer {
    std::vector<float> inputNorm, postNorm; // [D]
    Linear q, k, v, o, gate, up, down;
  };

  ReferenceLlama(const ModelConfig &config, ActDType act, int numThreads, int64_t maxSeqLen);
  Status checkTokens(const std::vector<int64_t> &tokens) const;
  void buildIndex();
  void buildRope();
  Linear *findLinear(const std::string &name);
  const Linear *findLinear(const std::string &name) const;
  std::vector<float> *findNorm(const std::string &name);

  // One decoder layer over hidden [T, D] at positions pos0..pos0+T-1. kCache and
  // vCache are [S, Hkv*Dh] for this layer, rows < pos0 already filled.
  void forwardLayer(int layer, float *hidden, int64_t T, int64_t pos0, float *kCache,
                    float *vCache, const LayerObserver *observer) const;
  void rmsNorm(const float *x, const std::vector<float> &w, int64_t T, float *y) const;
  void applyRope(float *x /*[T, nHeads*Dh]*/, int64_t T, int64_t nHeads, int64_t pos0) const;
  float round(float x) const { return act_ == ActDType::BF16 ? formats::roundToBf16(x) : x; }

  ModelConfig config_;
  ActDType act_;
  int64_t maxSeqLen_;
  std::vector<float> embedding_; // [V, D]
  std::vector<Layer> layers_;
  std::vector<float> finalNorm_; // [D]
  Linear lmHead_;                // [V, D]
  std::vector<float> ropeCos_, ropeSin_; // [S, Dh/2]
  std::unordered_map<std::string, Linear *> linearIndex_;
  std::unordered_map<std::string, std::vector<float> *> normIndex_;
  std::vector<std::string> linearOrder_;
  std::unique_ptr<ThreadPool> pool_;
};

// A generation session: a KV cache over one growing sequence.
class ReferenceSession {
public:
  explicit ReferenceSession(const ReferenceLlama &model);
  // Appends tokens at position() onward; logits for each of them [T, V].
  Expected<std::vector<float>> prefill(const std::vector<int64_t> &tokens);
  // Appends one token; its logits [V].
  Expected<std::vector<float>> decode(int64_t token);
  int64_t position() const { return pos_; }
  void reset() { pos_ = 0; }

private:
  const ReferenceLlama *model_;
  std::vector<float> kCache_, vCache_; // [L, S, Hkv*Dh]
  int64_t pos_ = 0;
};

// Llama-3.1 RoPE inverse frequencies [Dh/2] in fp32, as Hugging Face computes
// them (_compute_llama3_parameters when rope_scaling is enabled).
std::vector<float> referenceRopeInvFrequencies(const ModelConfig &config);

} // namespace qcc::test
