#include "runtime/artifact/Artifact.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace qcc::artifact {

const char *formatName(WeightFormat f) {
  switch (f) {
  case WeightFormat::Dense: return "dense";
  case WeightFormat::BF16: return "bf16";
  case WeightFormat::FP8: return "fp8";
  case WeightFormat::INT8: return "int8";
  case WeightFormat::W4A16: return "w4a16";
  }
  return "?";
}

const char *methodName(QuantMethod m) {
  switch (m) {
  case QuantMethod::None: return "none";
  case QuantMethod::RTN: return "rtn";
  case QuantMethod::GPTQ: return "gptq";
  case QuantMethod::AWQ: return "awq";
  }
  return "?";
}

const char *roleName(TensorRole r) {
  switch (r) {
  case TensorRole::Other: return "other";
  case TensorRole::Embedding: return "embedding";
  case TensorRole::Norm: return "norm";
  case TensorRole::Linear: return "linear";
  case TensorRole::LmHead: return "lm_head";
  case TensorRole::Tokenizer: return "tokenizer";
  }
  return "?";
}

const char *opKindName(OpKind k) {
  switch (k) {
  case OpKind::Embed: return "embed";
  case OpKind::RmsNorm: return "rms_norm";
  case OpKind::Linear: return "linear";
  case OpKind::Rope: return "rope";
  case OpKind::Attention: return "attention";
  case OpKind::SwiGLU: return "swiglu";
  case OpKind::Add: return "add";
  case OpKind::LmHead: return "lm_head";
  }
  return "?";
}

const std::vector<std::string> &knownTargets() {
  static const std::vector<std::string> targets = {"sm_80", "sm_86", "sm_89", "sm_90a"};
  return targets;
}

bool isKnownTarget(const std::string &target) {
  const auto &t = knownTargets();
  return std::find(t.begin(), t.end(), target) != t.end();
}

static std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Dimensions are capped so that every product below fits in 64 bits.
static constexpr int64_t kMaxDim = int64_t(1) << 40;
static constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 48;

Expected<TensorLayout> layoutOf(const TensorDecl &d) {
  const std::string where = "tensor '" + d.name + "'";
  if (d.shape.empty() || d.shape.size() > 4)
    return Status::error(where + ": rank " + std::to_string(d.shape.size()) + " is not in [1, 4]");
  uint64_t numel = 1;
  for (int64_t dim : d.shape) {
    if (dim <= 0 || dim > kMaxDim)
      return Status::error(where + ": bad dimension in shape " + shapeString(d.shape));
    if (numel > kMaxTensorBytes / uint64_t(dim))
      return Status::error(where + ": shape " + shapeString(d.shape) + " is too large");
    numel *= uint64_t(dim);
  }
  TensorLayout l;
  if (d.format == WeightFormat::Dense) {
    size_t es = dtypeSize(d.dtype);
    if (es == 0) return Status::error(where + ": unknown dtype");
    if (d.groupSize != 0) return Status::error(where + ": group size on a dense tensor");
    l.dataType = d.dtype;
    l.dataBytes = numel * es;
    return l;
  }
  if (d.role != TensorRole::Linear && d.role != TensorRole::LmHead)
    return Status::error(where + ": format " + formatName(d.format) + " on a " + roleName(d.role) +
                         " tensor (only linears are quantized)");
  if (d.shape.size() != 2)
    return Status::error(where + ": format " + std::string(formatName(d.format)) +
                         " needs shape [N, K], got " + shapeString(d.shape));
  const uint64_t n = uint64_t(d.shape[0]), k = uint64_t(d.shape[1]);
  if (d.format != WeightFormat::W4A16 && d.groupSize != 0)
    return Status::error(where + ": group size " + std::to_string(d.groupSize) + " with format " +
                         formatName(d.format));
  switch (d.format) {
  case WeightFormat::BF16:
    l.dataType = DType::BF16, l.dataBytes = n * k * 2;
    break;
  case WeightFormat::FP8:
    l.dataType = DType::F8E4M3, l.dataBytes = n * k, l.scaleBytes = n * 4;
    break;
  case WeightFormat::INT8:
    l.dataType = DType::I8, l.dataBytes = n * k, l.scaleBytes = n * 4;
    break;
  case WeightFormat::W4A16:
    if (d.groupSize <= 0 || k % uint64_t(d.groupSize) != 0)
      return Status::error(where + ": w4a16 group size " + std::to_string(d.groupSize) +
                           " does not divide K = " + std::to_string(k));
    if (k % 2 != 0) return Status::error(where + ": w4a16 needs an even K, got " + std::to_string(k));
    l.dataType = DType::U8, l.dataBytes = n * k / 2, l.scaleBytes = n * (k / uint64_t(d.groupSize)) * 4;
    break;
  default:
    return Status::error(where + ": unknown format " + std::to_string(int(d.format)));
  }
  return l;
}

// The config's ranges are ModelConfig's own (runtime/ModelConfig.h), the same
// that config.json parsing applies.
static Status validateConfig(const ModelConfig &c) { return checkModelConfig(c).withContext("config"); }

Status validateSpec(const ArtifactSpec &spec) {
  QCC_RETURN_IF_ERROR(validateConfig(spec.config));

  std::set<std::string> names;
  for (const TensorDecl &t : spec.tensors) {
    if (t.name.empty()) return Status::error("tensor with an empty name");
    if (!names.insert(t.name).second) return Status::error("duplicate tensor '" + t.name + "'");
    if (uint8_t(t.role) > uint8_t(TensorRole::Tokenizer))
      return Status::error("tensor '" + t.name + "': unknown role " + std::to_string(int(t.role)));
    if (uint8_t(t.method) > uint8_t(QuantMethod::AWQ))
      return Status::error("tensor '" + t.name + "': unknown method " + std::to_string(int(t.method)));
    if (!std::isfinite(t.smoothquantAlpha) || t.smoothquantAlpha > 1)
      return Status::error("tensor '" + t.name + "': smoothquant alpha is not in [0, 1]");
    auto layout = layoutOf(t);
    if (!layout) return layout.status();
  }

  std::set<std::string> bufferNames;
  for (const BufferDecl &b : spec.buffers) {
    if (b.name.empty()) return Status::error("buffer with an empty name");
    if (!bufferNames.insert(b.name).second) return Status::error("duplicate buffer '" + b.name + "'");
    if (b.cols <= 0 || b.cols > (int64_t(1) << 32))
      return Status::error("buffer '" + b.name + "': width " + std::to_string(b.cols) + " is out of range");
  }

  const size_t nb = spec.buffers.size(), nt = spec.tensors.size();
  for (size_t i = 0; i < spec.schedule.size(); ++i) {
    const OpDecl &op = spec.schedule[i];
    std::string where = "schedule op " + std::to_string(i);
    if (uint8_t(op.kind) > uint8_t(OpKind::LmHead))
      return Status::error(where + ": unknown kind " + std::to_string(int(op.kind)));
    where += " (" + std::string(opKindName(op.kind)) + ")";
    // Operand counts per kind: inputs, outputs, weights.
    static const int arity[][3] = {
        {0, 1, 1}, {1, 1, 1}, {1, 1, 1}, {2, 2, 0}, {3, 1, 0}, {2, 1, 0}, {2, 1, 0}, {1, 1, 1}};
    const int *a = arity[int(op.kind)];
    if (op.inputs.size() != size_t(a[0]) || op.outputs.size() != size_t(a[1]) || op.weights.size() != size_t(a[2]))
      return Status::error(where + ": expects " + std::to_string(a[0]) + " inputs, " + std::to_string(a[1]) +
                           " outputs, " + std::to_string(a[2]) + " weights");
    for (uint32_t b : op.inputs)
      if (b >= nb) return Status::error(where + ": input buffer " + std::to_string(b) + " does not exist");
    for (uint32_t b : op.outputs)
      if (b >= nb) return Status::error(where + ": output buffer " + std::to_string(b) + " does not exist");
    for (uint32_t w : op.weights)
      if (w >= nt) return Status::error(where + ": weight " + std::to_string(w) + " does not exist");
    if (op.layer < -1 || op.layer >= spec.config.numLayers)
      return Status::error(where + ": layer " + std::to_string(op.layer) + " does not exist");
    const bool perLayer = op.kind == OpKind::Rope || op.kind == OpKind::Attention;
    if (perLayer && op.layer < 0) return Status::error(where + ": needs a layer");

    auto cols = [&](uint32_t b) { return spec.buffers[b].cols; };
    auto wshape = [&](size_t j) -> const std::vector<int64_t> & { return spec.tensors[op.weights[j]].shape; };
    switch (op.kind) {
    case OpKind::Embed:
      if (wshape(0).size() != 2 || wshape(0)[0] != spec.config.vocabSize || wshape(0)[1] != cols(op.outputs[0]))
        return Status::error(where + ": embedding shape " + shapeString(wshape(0)) + " is not [vocab_size " +
                             std::to_string(spec.config.vocabSize) + ", " + std::to_string(cols(op.outputs[0])) + "]");
      break;
    case OpKind::RmsNorm:
      if (wshape(0).size() != 1 || wshape(0)[0] != cols(op.inputs[0]) || cols(op.inputs[0]) != cols(op.outputs[0]))
        return Status::error(where + ": norm weight " + shapeString(wshape(0)) + " does not match its buffers");
      break;
    case OpKind::Linear:
    case OpKind::LmHead: {
      const TensorDecl &w = spec.tensors[op.weights[0]];
      if (w.shape.size() != 2 || w.shape[1] != cols(op.inputs[0]) || w.shape[0] != cols(op.outputs[0]))
        return Status::error(where + ": weight '" + w.name + "' " + shapeString(w.shape) + " does not map width " +
                             std::to_string(cols(op.inputs[0])) + " to " + std::to_string(cols(op.outputs[0])));
      break;
    }
    case OpKind::SwiGLU:
    case OpKind::Add:
      if (cols(op.inputs[0]) != cols(op.inputs[1]) || cols(op.inputs[0]) != cols(op.outputs[0]))
        return Status::error(where + ": buffer widths differ");
      break;
    case OpKind::Rope:
    case OpKind::Attention:
      break; // widths depend on heads; checked against the config by the runtime
    }
  }

  std::set<std::string> targets;
  for (const TargetDecl &t : spec.targets) {
    if (!isKnownTarget(t.target)) {
      std::string known;
      for (const auto &k : knownTargets()) known += (known.empty() ? "" : ", ") + k;
      return Status::error("unknown target '" + t.target + "' (known: " + known + ")");
    }
    if (!targets.insert(t.target).second) return Status::error("duplicate target '" + t.target + "'");
    std::set<std::string> kernelNames;
    for (const KernelDecl &k : t.kernels) {
      if (k.name.empty()) return Status::error("target " + t.target + ": kernel with an empty name");
      if (!kernelNames.insert(k.name).second)
        return Status::error("target " + t.target + ": duplicate kernel '" + k.name + "'");
      if (k.op < -1 || k.op >= int64_t(spec.schedule.size()))
        return Status::error("target " + t.target + ": kernel '" + k.name + "' refers to schedule op " +
                             std::to_string(k.op) + " which does not exist");
      if (k.ptx.empty() && k.cubin.empty())
        return Status::error("target " + t.target + ": kernel '" + k.name + "' has neither ptx nor cubin");
    }
  }
  return Status::ok();
}

std::vector<std::string> llamaLinearNames(int64_t layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  return {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight",
          p + "self_attn.o_proj.weight", p + "mlp.gate_proj.weight",    p + "mlp.up_proj.weight",
          p + "mlp.down_proj.weight"};
}

Status buildLlamaSchedule(ArtifactSpec &spec) {
  const ModelConfig &c = spec.config;
  std::map<std::string, uint32_t> index;
  for (size_t i = 0; i < spec.tensors.size(); ++i) index[spec.tensors[i].name] = uint32_t(i);
  auto w = [&](const std::string &name, uint32_t &out) -> Status {
    auto it = index.find(name);
    if (it == index.end()) return Status::error("missing tensor '" + name + "'");
    out = it->second;
    return Status::ok();
  };

  const int64_t D = c.hiddenSize, F = c.intermediateSize, Dh = c.headDim;
  // Buffer ids, in declaration order.
  enum : uint32_t { X, H, Q, K, V, ATTN, O, GATE, UP, ACT, DOWN, LOGITS };
  spec.buffers = {{"x", D},           {"h", D},         {"q", c.numHeads * Dh}, {"k", c.numKvHeads * Dh},
                  {"v", c.numKvHeads * Dh}, {"attn", c.numHeads * Dh}, {"o", D}, {"gate", F},
                  {"up", F},          {"act", F},       {"down", D},            {"logits", c.vocabSize}};
  spec.schedule.clear();
  auto &s = spec.schedule;
  uint32_t t = 0;
  QCC_RETURN_IF_ERROR(w("model.embed_tokens.weight", t));
  s.push_back({OpKind::Embed, -1, {}, {X}, {t}});
  for (int32_t l = 0; l < int32_t(c.numLayers); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const auto lin = llamaLinearNames(l);
    uint32_t ids[7], n1, n2;
    for (int i = 0; i < 7; ++i) QCC_RETURN_IF_ERROR(w(lin[i], ids[i]));
    QCC_RETURN_IF_ERROR(w(p + "input_layernorm.weight", n1));
    QCC_RETURN_IF_ERROR(w(p + "post_attention_layernorm.weight", n2));
    s.push_back({OpKind::RmsNorm, l, {X}, {H}, {n1}});
    s.push_back({OpKind::Linear, l, {H}, {Q}, {ids[0]}});
    s.push_back({OpKind::Linear, l, {H}, {K}, {ids[1]}});
    s.push_back({OpKind::Linear, l, {H}, {V}, {ids[2]}});
    s.push_back({OpKind::Rope, l, {Q, K}, {Q, K}, {}});
    s.push_back({OpKind::Attention, l, {Q, K, V}, {ATTN}, {}});
    s.push_back({OpKind::Linear, l, {ATTN}, {O}, {ids[3]}});
    s.push_back({OpKind::Add, l, {X, O}, {X}, {}});
    s.push_back({OpKind::RmsNorm, l, {X}, {H}, {n2}});
    s.push_back({OpKind::Linear, l, {H}, {GATE}, {ids[4]}});
    s.push_back({OpKind::Linear, l, {H}, {UP}, {ids[5]}});
    s.push_back({OpKind::SwiGLU, l, {GATE, UP}, {ACT}, {}});
    s.push_back({OpKind::Linear, l, {ACT}, {DOWN}, {ids[6]}});
    s.push_back({OpKind::Add, l, {X, DOWN}, {X}, {}});
  }
  uint32_t norm = 0, head = 0;
  QCC_RETURN_IF_ERROR(w("model.norm.weight", norm));
  s.push_back({OpKind::RmsNorm, -1, {X}, {H}, {norm}});
  if (index.count("lm_head.weight"))
    head = index["lm_head.weight"];
  else if (c.tieWordEmbeddings)
    head = index["model.embed_tokens.weight"];
  else
    return Status::error("missing tensor 'lm_head.weight' (the config does not tie word embeddings)");
  s.push_back({OpKind::LmHead, -1, {H}, {LOGITS}, {head}});
  return Status::ok();
}

} // namespace qcc::artifact
