#include "runtime/program/Program.h"

#include <set>

namespace qcc::program {

const char *valueKindName(ValueKind k) {
  switch (k) {
  case ValueKind::TokenIds: return "token ids";
  case ValueKind::Positions: return "positions";
  case ValueKind::Activation: return "activation";
  case ValueKind::Int8Activation: return "int8 activation";
  case ValueKind::Fp8Activation: return "fp8 activation";
  case ValueKind::Logits: return "logits";
  }
  return "?";
}

const char *opKindName(OpKind k) {
  switch (k) {
  case OpKind::Embedding: return "embedding";
  case OpKind::RmsNorm: return "rms_norm";
  case OpKind::Linear: return "linear";
  case OpKind::Rope: return "rope";
  case OpKind::Attention: return "attention";
  case OpKind::SwiGLU: return "swiglu";
  case OpKind::Add: return "add";
  case OpKind::Quantize: return "quantize";
  case OpKind::Logits: return "logits";
  }
  return "?";
}

static std::string shapeText(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

Status validate(const Program &p, const std::vector<WeightShape> &weights) {
  const size_t nv = p.values.size();
  auto valueOk = [&](uint32_t v) { return v < nv; };
  if (!valueOk(p.ids) || p.values[p.ids].kind != ValueKind::TokenIds)
    return Status::error("program: the token-id input is not a token-id value");
  if (!valueOk(p.positions) || p.values[p.positions].kind != ValueKind::Positions)
    return Status::error("program: the positions input is not a positions value");
  if (!valueOk(p.logits) || p.values[p.logits].kind != ValueKind::Logits)
    return Status::error("program: the output is not a logits value");
  if (p.numCaches < 0 || p.numCaches > (1 << 20)) return Status::error("program: bad KV cache count");
  for (size_t i = 0; i < nv; ++i) {
    const Value &v = p.values[i];
    if (uint8_t(v.kind) > uint8_t(ValueKind::Logits))
      return Status::error("program: value " + std::to_string(i) + " has an unknown kind");
    const bool tokens = v.kind == ValueKind::TokenIds || v.kind == ValueKind::Positions;
    if (tokens ? v.cols != 0 : (v.cols <= 0 || v.cols > (int64_t(1) << 32)))
      return Status::error("program: value " + std::to_string(i) + " has width " + std::to_string(v.cols));
  }

  std::vector<bool> defined(nv, false);
  defined[p.ids] = defined[p.positions] = true;
  std::set<int32_t> caches;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op &op = p.ops[i];
    if (uint8_t(op.kind) > uint8_t(OpKind::Logits))
      return Status::error("program op " + std::to_string(i) + ": unknown kind " + std::to_string(int(op.kind)));
    const std::string where = "program op " + std::to_string(i) + " (" + opKindName(op.kind) +
                              (op.name.empty() ? "" : " " + op.name) + ")";
    for (uint32_t v : op.inputs) {
      if (!valueOk(v)) return Status::error(where + ": input value " + std::to_string(v) + " does not exist");
      if (!defined[v]) return Status::error(where + ": reads value " + std::to_string(v) + " before it is written");
    }
    for (uint32_t v : op.outputs) {
      if (!valueOk(v)) return Status::error(where + ": output value " + std::to_string(v) + " does not exist");
      if (defined[v]) return Status::error(where + ": writes value " + std::to_string(v) + " a second time");
      defined[v] = true;
    }
    for (uint32_t w : op.weights)
      if (w >= weights.size()) return Status::error(where + ": weight " + std::to_string(w) + " does not exist");

    auto in = [&](size_t j) -> const Value & { return p.values[op.inputs[j]]; };
    auto out = [&](size_t j) -> const Value & { return p.values[op.outputs[j]]; };
    auto wshape = [&](size_t j) -> const std::vector<int64_t> & { return weights[op.weights[j]].shape; };
    auto arity = [&](size_t ins, size_t outs, size_t ws) -> Status {
      if (op.inputs.size() != ins || op.outputs.size() != outs || op.weights.size() != ws)
        return Status::error(where + ": expects " + std::to_string(ins) + " inputs, " + std::to_string(outs) +
                             " outputs and " + std::to_string(ws) + " weights");
      return Status::ok();
    };
    auto isAct = [](const Value &v) { return v.kind == ValueKind::Activation; };
    auto isActOrQuant = [](const Value &v) {
      return v.kind == ValueKind::Activation || isQuantizedActivation(v.kind);
    };
    switch (op.kind) {
    case OpKind::Embedding:
      QCC_RETURN_IF_ERROR(arity(1, 1, 1));
      if (in(0).kind != ValueKind::TokenIds || !isAct(out(0)))
        return Status::error(where + ": maps token ids to an activation");
      if (wshape(0).size() != 2 || wshape(0)[1] != out(0).cols || weights[op.weights[0]].quantized)
        return Status::error(where + ": table " + shapeText(wshape(0)) + " does not give rows of " +
                             std::to_string(out(0).cols));
      break;
    case OpKind::RmsNorm:
      QCC_RETURN_IF_ERROR(arity(1, 1, 1));
      if (!isAct(in(0)) || !isActOrQuant(out(0)) || in(0).cols != out(0).cols)
        return Status::error(where + ": needs an activation in and out of the same width");
      if (wshape(0) != std::vector<int64_t>{in(0).cols})
        return Status::error(where + ": weight " + shapeText(wshape(0)) + " is not [" + std::to_string(in(0).cols) +
                             "]");
      if (!(op.epsilon > 0) || !(op.epsilon < 1))
        return Status::error(where + ": epsilon " + std::to_string(op.epsilon) + " is not in (0, 1)");
      break;
    case OpKind::Linear: {
      if (op.weights.empty() || op.outputs.size() != op.weights.size())
        return Status::error(where + ": needs one output per weight");
      const size_t ins = op.residual ? 2 : 1;
      if (op.inputs.size() != ins) return Status::error(where + ": expects " + std::to_string(ins) + " inputs");
      if (op.residual && op.weights.size() != 1)
        return Status::error(where + ": a residual needs a single weight");
      if (!isActOrQuant(in(0))) return Status::error(where + ": input is not an activation");
      for (size_t j = 0; j < op.weights.size(); ++j) {
        if (wshape(j).size() != 2 || wshape(j)[1] != in(0).cols || wshape(j)[0] != out(j).cols || !isAct(out(j)))
          return Status::error(where + ": weight " + shapeText(wshape(j)) + " does not map width " +
                               std::to_string(in(0).cols) + " to " + std::to_string(out(j).cols));
      }
      if (op.residual && (!isAct(in(1)) || in(1).cols != out(0).cols))
        return Status::error(where + ": residual width differs from the output's");
      break;
    }
    case OpKind::Rope: {
      if (op.inputs.size() < 2 || op.inputs.size() > 3 || op.outputs.size() + 1 != op.inputs.size() ||
          !op.weights.empty() || op.heads.size() != op.outputs.size())
        return Status::error(where + ": expects positions and one or two tensors, with their head counts");
      if (in(0).kind != ValueKind::Positions) return Status::error(where + ": first input is not the positions");
      if (op.headDim <= 0 || op.headDim % 2 != 0 || op.headDim > 4096)
        return Status::error(where + ": head_dim " + std::to_string(op.headDim) + " is not a positive even number");
      if (!(op.ropeTheta > 0)) return Status::error(where + ": theta must be positive");
      for (size_t j = 0; j < op.outputs.size(); ++j)
        if (!isAct(in(j + 1)) || !isAct(out(j)) || in(j + 1).cols != out(j).cols || op.heads[j] <= 0 ||
            op.heads[j] * op.headDim != out(j).cols)
          return Status::error(where + ": tensor " + std::to_string(j) + " is not " + std::to_string(op.heads[j]) +
                               " heads of " + std::to_string(op.headDim));
      if (op.ropeScaling.enabled &&
          !(op.ropeScaling.factor > 0 && op.ropeScaling.lowFreqFactor > 0 &&
            op.ropeScaling.highFreqFactor > op.ropeScaling.lowFreqFactor &&
            op.ropeScaling.originalMaxPositionEmbeddings > 0))
        return Status::error(where + ": bad llama3 rope scaling");
      break;
    }
    case OpKind::Attention:
      QCC_RETURN_IF_ERROR(arity(4, 1, 0));
      if (in(0).kind != ValueKind::Positions) return Status::error(where + ": first input is not the positions");
      if (op.numHeads <= 0 || op.numKvHeads <= 0 || op.numHeads % op.numKvHeads != 0 || op.headDim <= 0)
        return Status::error(where + ": " + std::to_string(op.numHeads) + " query heads are not a multiple of " +
                             std::to_string(op.numKvHeads) + " key/value heads");
      if (!isAct(in(1)) || !isAct(in(2)) || !isAct(in(3)) || !isAct(out(0)) ||
          in(1).cols != op.numHeads * op.headDim || in(2).cols != op.numKvHeads * op.headDim ||
          in(3).cols != op.numKvHeads * op.headDim || out(0).cols != in(1).cols)
        return Status::error(where + ": widths do not match the head counts");
      if (op.cache < 0 || op.cache >= p.numCaches || !caches.insert(op.cache).second)
        return Status::error(where + ": KV cache " + std::to_string(op.cache) + " is out of range or shared");
      break;
    case OpKind::SwiGLU:
      QCC_RETURN_IF_ERROR(arity(2, 1, 0));
      if (!isAct(in(0)) || !isAct(in(1)) || !isActOrQuant(out(0)) || in(0).cols != in(1).cols ||
          in(0).cols != out(0).cols)
        return Status::error(where + ": gate, up and output widths differ");
      break;
    case OpKind::Add:
      QCC_RETURN_IF_ERROR(arity(2, 1, 0));
      if (!isAct(in(0)) || !isAct(in(1)) || !isAct(out(0)) || in(0).cols != in(1).cols ||
          in(0).cols != out(0).cols)
        return Status::error(where + ": widths differ");
      break;
    case OpKind::Quantize:
      QCC_RETURN_IF_ERROR(arity(1, 1, 0));
      if (!isAct(in(0)) || !isQuantizedActivation(out(0).kind) || in(0).cols != out(0).cols)
        return Status::error(where + ": maps an activation to codes of the same width");
      break;
    case OpKind::Logits:
      QCC_RETURN_IF_ERROR(arity(1, 1, 1));
      if (!isAct(in(0)) || out(0).kind != ValueKind::Logits || wshape(0).size() != 2 ||
          wshape(0)[1] != in(0).cols || wshape(0)[0] != out(0).cols)
        return Status::error(where + ": weight " + shapeText(wshape(0)) + " does not map width " +
                             std::to_string(in(0).cols) + " to logits of " + std::to_string(out(0).cols));
      break;
    }
  }
  if (!defined[p.logits]) return Status::error("program: no op writes the logits");
  if (int32_t(caches.size()) != p.numCaches)
    return Status::error("program: " + std::to_string(p.numCaches) + " KV caches declared, " +
                         std::to_string(caches.size()) + " used");
  return Status::ok();
}

std::vector<int64_t> lastUses(const Program &p) {
  std::vector<int64_t> last(p.values.size(), -1);
  for (size_t i = 0; i < p.ops.size(); ++i)
    for (uint32_t v : p.ops[i].inputs) last[v] = int64_t(i);
  if (p.logits < last.size()) last[p.logits] = int64_t(p.ops.size());
  return last;
}

} // namespace qcc::program
