// Test-only: the program of a Llama-3.1 decoder written out by hand, over
// weights named as in Hugging Face checkpoints, for interpreter tests that do
// not go through the compiler (the compiler's importer is the product's only
// author of this structure).
#pragma once

#include "runtime/ModelConfig.h"
#include "runtime/Tensor.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/program/Program.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace qcc::test {

// Weights by name from a provider, with quantized replacements.
class NamedWeights : public cpu::WeightSource {
public:
  explicit NamedWeights(const WeightProvider &provider) : provider_(provider) {}
  uint32_t add(const std::string &name) {
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it != names_.end()) return uint32_t(it - names_.begin());
    names_.push_back(name);
    return uint32_t(names_.size() - 1);
  }
  bool has(const std::string &name) const { return provider_.find(name) != nullptr; }
  void setQuantized(const std::string &name, formats::QuantizedLinear q) { quantized_[name] = std::move(q); }
  uint32_t index(const std::string &name) const {
    return uint32_t(std::find(names_.begin(), names_.end(), name) - names_.begin());
  }
  size_t count() const override { return names_.size(); }
  Expected<cpu::WeightData> weight(uint32_t i) const override {
    cpu::WeightData d;
    d.name = names_.at(i);
    if (auto q = quantized_.find(d.name); q != quantized_.end()) {
      d.quantized = q->second;
      return d;
    }
    const TensorRef *t = provider_.find(d.name);
    if (!t) return Status::error("tensor '" + d.name + "' is missing");
    d.dense = *t;
    return d;
  }

private:
  const WeightProvider &provider_;
  std::vector<std::string> names_;
  std::map<std::string, formats::QuantizedLinear> quantized_;
};

// The decoder: embed, per layer pre-norm attention and SwiGLU MLP with
// residuals, final norm, logits (lm_head, or the embedding table when tied).
inline program::Program llamaProgram(const ModelConfig &c, NamedWeights &w,
                                     program::Precision precision = program::Precision::F32) {
  using namespace program;
  Program p;
  p.precision = precision;
  p.maxPositions = c.maxPositionEmbeddings;
  auto value = [&](ValueKind kind, int64_t cols) {
    p.values.push_back({"%" + std::to_string(p.values.size()), kind, cols});
    return uint32_t(p.values.size() - 1);
  };
  auto act = [&](int64_t cols) { return value(ValueKind::Activation, cols); };
  const int64_t D = c.hiddenSize, F = c.intermediateSize, Dh = c.headDim, H = c.numHeads, Hkv = c.numKvHeads;
  p.ids = value(ValueKind::TokenIds, 0);
  p.positions = value(ValueKind::Positions, 0);
  auto op = [&](OpKind kind, std::string name, std::vector<uint32_t> in, std::vector<uint32_t> out,
                std::vector<uint32_t> weights, int32_t block) -> Op & {
    Op o;
    o.kind = kind;
    o.name = std::move(name);
    o.inputs = std::move(in);
    o.outputs = std::move(out);
    o.weights = std::move(weights);
    o.block = block;
    p.ops.push_back(o);
    return p.ops.back();
  };
  uint32_t h = act(D);
  op(OpKind::Embedding, "model.embed_tokens", {p.ids}, {h}, {w.add("model.embed_tokens.weight")}, -1);
  for (int32_t l = 0; l < int32_t(c.numLayers); ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    uint32_t x = act(D), q = act(H * Dh), k = act(Hkv * Dh), v = act(Hkv * Dh);
    op(OpKind::RmsNorm, pre + "input_layernorm", {h}, {x}, {w.add(pre + "input_layernorm.weight")}, l).epsilon =
        c.rmsNormEps;
    op(OpKind::Linear, pre + "self_attn.q_proj", {x}, {q}, {w.add(pre + "self_attn.q_proj.weight")}, l);
    op(OpKind::Linear, pre + "self_attn.k_proj", {x}, {k}, {w.add(pre + "self_attn.k_proj.weight")}, l);
    op(OpKind::Linear, pre + "self_attn.v_proj", {x}, {v}, {w.add(pre + "self_attn.v_proj.weight")}, l);
    uint32_t qr = act(H * Dh), kr = act(Hkv * Dh);
    for (auto [in, out, heads] : {std::tuple{q, qr, H}, std::tuple{k, kr, Hkv}}) {
      Op &r = op(OpKind::Rope, pre + "rope", {p.positions, in}, {out}, {}, l);
      r.heads = {heads};
      r.headDim = Dh;
      r.ropeTheta = c.ropeTheta;
      r.ropeScaling = c.ropeScaling;
    }
    uint32_t a = act(H * Dh);
    Op &at = op(OpKind::Attention, pre + "self_attn", {p.positions, qr, kr, v}, {a}, {}, l);
    at.numHeads = H;
    at.numKvHeads = Hkv;
    at.headDim = Dh;
    at.cache = p.numCaches++;
    uint32_t o = act(D), h1 = act(D);
    op(OpKind::Linear, pre + "self_attn.o_proj", {a}, {o}, {w.add(pre + "self_attn.o_proj.weight")}, l);
    op(OpKind::Add, pre + "residual", {h, o}, {h1}, {}, l);
    uint32_t x2 = act(D), g = act(F), u = act(F), s = act(F), d = act(D), h2 = act(D);
    op(OpKind::RmsNorm, pre + "post_attention_layernorm", {h1}, {x2}, {w.add(pre + "post_attention_layernorm.weight")},
       l)
        .epsilon = c.rmsNormEps;
    op(OpKind::Linear, pre + "mlp.gate_proj", {x2}, {g}, {w.add(pre + "mlp.gate_proj.weight")}, l);
    op(OpKind::Linear, pre + "mlp.up_proj", {x2}, {u}, {w.add(pre + "mlp.up_proj.weight")}, l);
    op(OpKind::SwiGLU, pre + "mlp", {g, u}, {s}, {}, l);
    op(OpKind::Linear, pre + "mlp.down_proj", {s}, {d}, {w.add(pre + "mlp.down_proj.weight")}, l);
    op(OpKind::Add, pre + "residual", {h1, d}, {h2}, {}, l);
    h = h2;
  }
  uint32_t n = act(D);
  op(OpKind::RmsNorm, "model.norm", {h}, {n}, {w.add("model.norm.weight")}, -1).epsilon = c.rmsNormEps;
  p.logits = value(ValueKind::Logits, c.vocabSize);
  const bool tied = c.tieWordEmbeddings && !w.has("lm_head.weight");
  op(OpKind::Logits, "lm_head", {n}, {p.logits}, {w.add(tied ? "model.embed_tokens.weight" : "lm_head.weight")}, -1);
  return p;
}

} // namespace qcc::test
