#include "passes/ToProgram.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

namespace qcc {

using namespace mlir;
using program::OpKind;
using program::ValueKind;

std::string weightIdentity(Value w, std::string *nameOut) {
  Operation *def = w.getDefiningOp();
  std::string name, identity;
  // Parameters and inline values are uniqued attributes: equal ones are the same tensor.
  auto attrKey = [](Attribute a) { return std::to_string(reinterpret_cast<uintptr_t>(a.getAsOpaquePointer())); };
  if (auto d = dyn_cast_or_null<WeightOp>(def)) {
    name = d.getName().str();
    identity = "w:" + name + ":" + (d.getParamAttr() ? attrKey(d.getParamAttr()) : attrKey(d.getValueAttr()));
  } else if (auto q = dyn_cast_or_null<QuantizedWeightOp>(def)) {
    name = q.getName().str();
    identity = "q:" + name + ":" + attrKey(q.getFormatAttr()) +
               (q.getParamAttr() ? attrKey(q.getParamAttr()) : attrKey(q.getCodesAttr()) + attrKey(q.getScalesAttr()));
  } else if (auto r = dyn_cast_or_null<QuantizeWeightOp>(def)) {
    name = r.getName().str();
    std::string source = weightIdentity(r.getWeight());
    if (source.empty()) return "";
    identity = "r:" + name + ":" + attrKey(r.getFormatAttr()) + (r.getMseClip() ? ":mse:" : "::") + source;
  }
  if (nameOut) *nameOut = name;
  return identity;
}

Expected<func::FuncOp> forwardFunction(ModuleOp module) {
  auto fn = module.lookupSymbol<func::FuncOp>("forward");
  if (!fn) return Status::error("the module has no func.func @forward");
  FunctionType type = fn.getFunctionType();
  if (type.getNumInputs() != 2 || type.getNumResults() != 1)
    return Status::error("@forward must take token ids and positions and return logits");
  if (fn.getBody().getBlocks().size() != 1) return Status::error("@forward must be one straight-line block");
  return fn;
}

// A program op's name, from attributes only (locations do not survive
// printing without debug info): a linear's layer, a norm's or embedding's
// weight name without ".weight", "lm_head" for logits; other ops have none.
static std::string opName(Operation *op) {
  if (auto l = dyn_cast<LinearOp>(op)) return l.getLayer().str();
  auto weightName = [](Value w) -> std::string {
    std::string n;
    if (auto d = w.getDefiningOp<WeightOp>()) n = d.getName().str();
    const std::string suffix = ".weight";
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      n.resize(n.size() - suffix.size());
    return n;
  };
  if (auto n = dyn_cast<RMSNormOp>(op)) return weightName(n.getWeight());
  if (auto n = dyn_cast<RMSNormQuantizeOp>(op)) return weightName(n.getWeight());
  if (auto e = dyn_cast<EmbeddingOp>(op)) return weightName(e.getTable());
  if (isa<LogitsOp>(op)) return "lm_head";
  return "";
}

static int32_t blockOf(Operation *op) {
  auto b = op->getAttrOfType<IntegerAttr>("qcc.block");
  return b ? int32_t(b.getInt()) : -1;
}

namespace {
struct Translator {
  TranslatedProgram out;
  llvm::DenseMap<Value, uint32_t> values;           // SSA value -> program value
  std::map<std::string, uint32_t> tensorByIdentity; // weight op identity -> tensor
  Operation *current = nullptr;

  Status error(const std::string &what) {
    std::string where = current ? current->getName().getStringRef().str() : std::string("@forward");
    std::string name = current ? opName(current) : "";
    return Status::error(where + (name.empty() ? "" : " (" + name + ")") + ": " + what);
  }

  uint32_t newValue(ValueKind kind, int64_t cols) {
    out.program.values.push_back({"%" + std::to_string(out.program.values.size()), kind, cols});
    return uint32_t(out.program.values.size() - 1);
  }

  Expected<uint32_t> valueOf(Value v) {
    auto it = values.find(v);
    if (it == values.end()) return error("an operand is not an activation the program computes");
    return it->second;
  }

  ValueKind activationKind(Value v) {
    Type e = cast<RankedTensorType>(v.getType()).getElementType();
    if (e.isInteger(8)) return ValueKind::Int8Activation;
    if (isa<Float8E4M3FNType>(e)) return ValueKind::Fp8Activation;
    return ValueKind::Activation;
  }

  uint32_t defineActivation(Value v) {
    uint32_t id = newValue(activationKind(v), cast<RankedTensorType>(v.getType()).getDimSize(1));
    values[v] = id;
    return id;
  }

  static std::string identityOf(Value w, std::string &name) { return weightIdentity(w, &name); }

  // The tensor index of a weight operand (one per distinct weight identity).
  Expected<uint32_t> tensorOf(Value w) {
    std::string name;
    std::string identity = identityOf(w, name);
    if (identity.empty())
      return error("a weight operand is not defined by qcc.weight, qcc.quantized_weight or qcc.quantize_weight");
    auto it = tensorByIdentity.find(identity);
    if (it != tensorByIdentity.end()) return it->second;
    for (const std::string &n : out.weightNames)
      if (n == name)
        return error("two different weights are both named '" + name + "' (tensor names must be unique)");
    uint32_t index = uint32_t(out.weights.size());
    out.weights.push_back(w);
    out.weightNames.push_back(name);
    tensorByIdentity[identity] = index;
    out.tensorByIdentity[identity] = index;
    return index;
  }

  program::Op &addOp(OpKind kind, Operation *op) {
    program::Op o;
    o.kind = kind;
    o.name = opName(op);
    o.block = blockOf(op);
    out.program.ops.push_back(std::move(o));
    out.origin.push_back(op);
    return out.program.ops.back();
  }

  Status translate(func::FuncOp fn) {
    Block &body = fn.getBody().front();
    program::Program &p = out.program;
    p.ids = newValue(ValueKind::TokenIds, 0);
    p.positions = newValue(ValueKind::Positions, 0);
    values[body.getArgument(0)] = p.ids;
    values[body.getArgument(1)] = p.positions;
    p.precision = program::Precision::F32;
    for (Operation &opRef : body) {
      Operation *op = &opRef;
      current = op;
      if (isa<WeightOp, QuantizedWeightOp, QuantizeWeightOp>(op)) continue; // tensors, taken where used
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        auto logits = valueOf(ret.getOperand(0));
        if (!logits) return logits.status();
        if (p.values[*logits].kind != ValueKind::Logits) return error("@forward must return the logits of qcc.logits");
        p.logits = *logits;
        continue;
      }
      auto in = [&](Value v) -> Expected<uint32_t> { return valueOf(v); };
      Status s = Status::ok();
      auto input = [&](Value v, std::vector<uint32_t> &dst) {
        if (!s) return;
        auto id = in(v);
        if (!id) s = id.status();
        else dst.push_back(*id);
      };
      auto weight = [&](Value v, std::vector<uint32_t> &dst) {
        if (!s) return;
        auto id = tensorOf(v);
        if (!id) s = id.status();
        else dst.push_back(*id);
      };
      if (auto e = dyn_cast<EmbeddingOp>(op)) {
        program::Op &o = addOp(OpKind::Embedding, op);
        input(e.getIds(), o.inputs);
        weight(e.getTable(), o.weights);
        o.outputs.push_back(defineActivation(e.getResult()));
        p.precision = e.getType().getElementType().isF32() ? program::Precision::F32 : program::Precision::BF16;
      } else if (auto n = dyn_cast<RMSNormOp>(op)) {
        program::Op &o = addOp(OpKind::RmsNorm, op);
        o.epsilon = n.getEpsilon().convertToDouble();
        input(n.getInput(), o.inputs);
        weight(n.getWeight(), o.weights);
        o.outputs.push_back(defineActivation(n.getResult()));
      } else if (auto n = dyn_cast<RMSNormQuantizeOp>(op)) {
        program::Op &o = addOp(OpKind::RmsNorm, op);
        o.epsilon = n.getEpsilon().convertToDouble();
        input(n.getInput(), o.inputs);
        weight(n.getWeight(), o.weights);
        uint32_t id = defineActivation(n.getCodes());
        values[n.getScales()] = id;
        o.outputs.push_back(id);
      } else if (auto l = dyn_cast<LinearOp>(op)) {
        program::Op &o = addOp(OpKind::Linear, op);
        input(l.getInput(), o.inputs);
        if (l.getResidual()) {
          o.residual = true;
          input(l.getResidual(), o.inputs);
        }
        weight(l.getWeight(), o.weights);
        o.outputs.push_back(defineActivation(l.getResult()));
      } else if (auto l = dyn_cast<FusedLinearOp>(op)) {
        program::Op &o = addOp(OpKind::Linear, op);
        o.name = llvm::join(l.getLayers().getAsValueRange<StringAttr>(), "|");
        input(l.getInput(), o.inputs);
        for (Value w : l.getWeights()) weight(w, o.weights);
        for (Value r : l.getResults()) o.outputs.push_back(defineActivation(r));
      } else if (auto r = dyn_cast<RopeOp>(op)) {
        program::Op &o = addOp(OpKind::Rope, op);
        input(r.getPositions(), o.inputs);
        for (Value v : r.getInputs()) input(v, o.inputs);
        o.heads.assign(r.getHeads().begin(), r.getHeads().end());
        o.headDim = r.getHeadDim();
        o.ropeTheta = r.getTheta().convertToDouble();
        if (auto sc = r.getScalingAttr()) {
          o.ropeScaling.enabled = true;
          o.ropeScaling.factor = sc.getFactor().convertToDouble();
          o.ropeScaling.lowFreqFactor = sc.getLowFreqFactor().convertToDouble();
          o.ropeScaling.highFreqFactor = sc.getHighFreqFactor().convertToDouble();
          o.ropeScaling.originalMaxPositionEmbeddings = sc.getOriginalMaxPositionEmbeddings();
        }
        for (Value v : r.getResults()) o.outputs.push_back(defineActivation(v));
      } else if (auto a = dyn_cast<AttentionOp>(op)) {
        program::Op &o = addOp(OpKind::Attention, op);
        for (Value v : {a.getPositions(), a.getQuery(), a.getKey(), a.getValue()}) input(v, o.inputs);
        o.numHeads = a.getNumHeads();
        o.numKvHeads = a.getNumKvHeads();
        o.headDim = a.getHeadDim();
        o.cache = int32_t(a.getCache());
        p.numCaches = std::max<int32_t>(p.numCaches, o.cache + 1);
        o.outputs.push_back(defineActivation(a.getResult()));
      } else if (auto g = dyn_cast<SwiGLUOp>(op)) {
        program::Op &o = addOp(OpKind::SwiGLU, op);
        input(g.getGate(), o.inputs);
        input(g.getUp(), o.inputs);
        o.outputs.push_back(defineActivation(g.getResult()));
      } else if (auto g = dyn_cast<SwiGLUQuantizeOp>(op)) {
        program::Op &o = addOp(OpKind::SwiGLU, op);
        input(g.getGate(), o.inputs);
        input(g.getUp(), o.inputs);
        uint32_t id = defineActivation(g.getCodes());
        values[g.getScales()] = id;
        o.outputs.push_back(id);
      } else if (auto a = dyn_cast<AddOp>(op)) {
        program::Op &o = addOp(OpKind::Add, op);
        input(a.getLhs(), o.inputs);
        input(a.getRhs(), o.inputs);
        o.outputs.push_back(defineActivation(a.getResult()));
      } else if (auto q = dyn_cast<QuantizeOp>(op)) {
        program::Op &o = addOp(OpKind::Quantize, op);
        input(q.getInput(), o.inputs);
        uint32_t id = defineActivation(q.getCodes());
        values[q.getScales()] = id;
        o.outputs.push_back(id);
      } else if (auto l = dyn_cast<LogitsOp>(op)) {
        program::Op &o = addOp(OpKind::Logits, op);
        input(l.getInput(), o.inputs);
        weight(l.getWeight(), o.weights);
        uint32_t id = newValue(ValueKind::Logits, l.getType().getDimSize(1));
        values[l.getResult()] = id;
        o.outputs.push_back(id);
      } else {
        return error("no CPU program op for this operation (run the qcc ops of the graph level only)");
      }
      if (!s) return s;
    }
    current = nullptr;
    out.weightUses.resize(out.weights.size());
    for (Operation *op : out.origin)
      for (OpOperand &operand : op->getOpOperands()) {
        std::string name;
        std::string identity = identityOf(operand.get(), name);
        if (auto it = tensorByIdentity.find(identity); !identity.empty() && it != tensorByIdentity.end())
          out.weightUses[it->second].push_back(&operand);
      }
    // A cache index must not repeat: each attention keeps its own state.
    std::vector<bool> seen(size_t(p.numCaches), false);
    for (size_t i = 0; i < p.ops.size(); ++i)
      if (p.ops[i].kind == OpKind::Attention) {
        if (seen[size_t(p.ops[i].cache)])
          return Status::error("qcc.attention (" + p.ops[i].name + "): KV cache " + std::to_string(p.ops[i].cache) +
                               " is used by two attention ops");
        seen[size_t(p.ops[i].cache)] = true;
      }
    for (size_t c = 0; c < seen.size(); ++c)
      if (!seen[c]) return Status::error("KV cache " + std::to_string(c) + " is used by no attention op (caches are numbered from 0)");
    return Status::ok();
  }
};
} // namespace

Expected<TranslatedProgram> translateToProgram(func::FuncOp forward) {
  Translator t;
  QCC_RETURN_IF_ERROR(t.translate(forward));
  auto module = forward->getParentOfType<ModuleOp>();
  auto config = module ? modelConfigOf(module) : Expected<ModelConfig>(Status::error("no module"));
  t.out.program.maxPositions = config ? config->maxPositionEmbeddings : 0;
  // Shapes for validation (the weight types of the IR).
  std::vector<program::WeightShape> shapes;
  for (Value w : t.out.weights) {
    auto type = cast<RankedTensorType>(w.getType());
    program::WeightShape s;
    s.shape.assign(type.getShape().begin(), type.getShape().end());
    s.quantized = !isa<FloatType>(type.getElementType()) || isa<Float8E4M3FNType>(type.getElementType());
    shapes.push_back(std::move(s));
  }
  QCC_RETURN_IF_ERROR(program::validate(t.out.program, shapes));
  return std::move(t.out);
}

Expected<ModelConfig> modelConfigOf(ModuleOp module) {
  auto dict = module->getAttrOfType<DictionaryAttr>("qcc.model_config");
  if (!dict) return Status::error("the module has no qcc.model_config (import it with `qcc import`)");
  ModelConfig c;
  auto i64 = [&](const char *key, int64_t &out) {
    if (auto a = dict.getAs<IntegerAttr>(key)) out = a.getInt();
  };
  auto f64 = [&](const char *key, double &out) {
    if (auto a = dict.getAs<FloatAttr>(key)) out = a.getValueAsDouble();
  };
  i64("hidden_size", c.hiddenSize);
  i64("intermediate_size", c.intermediateSize);
  i64("num_hidden_layers", c.numLayers);
  i64("num_attention_heads", c.numHeads);
  i64("num_key_value_heads", c.numKvHeads);
  i64("head_dim", c.headDim);
  i64("vocab_size", c.vocabSize);
  i64("max_position_embeddings", c.maxPositionEmbeddings);
  i64("bos_token_id", c.bosTokenId);
  f64("rms_norm_eps", c.rmsNormEps);
  f64("rope_theta", c.ropeTheta);
  if (auto t = dict.getAs<BoolAttr>("tie_word_embeddings")) c.tieWordEmbeddings = t.getValue();
  if (auto eos = dict.getAs<ArrayAttr>("eos_token_ids"))
    for (Attribute a : eos)
      if (auto i = dyn_cast<IntegerAttr>(a)) c.eosTokenIds.push_back(i.getInt());
  if (auto d = dict.getAs<StringAttr>("torch_dtype"))
    c.torchDtype = d.getValue() == "bfloat16"  ? ModelConfig::TorchDtype::BFloat16
                   : d.getValue() == "float16" ? ModelConfig::TorchDtype::Float16
                                               : ModelConfig::TorchDtype::Float32;
  if (auto r = dict.getAs<RopeScalingAttr>("rope_scaling")) {
    c.ropeScaling.enabled = true;
    c.ropeScaling.factor = r.getFactor().convertToDouble();
    c.ropeScaling.lowFreqFactor = r.getLowFreqFactor().convertToDouble();
    c.ropeScaling.highFreqFactor = r.getHighFreqFactor().convertToDouble();
    c.ropeScaling.originalMaxPositionEmbeddings = r.getOriginalMaxPositionEmbeddings();
  }
  return c;
}

Expected<cpu::WeightData> IrWeightSource::weight(uint32_t index) const {
  if (index >= t_.weights.size()) return Status::error("no weight " + std::to_string(index));
  auto w = evaluateWeight(t_.weights[index]);
  if (!w) return w.status();
  cpu::WeightData d;
  d.name = t_.weightNames[index];
  d.dense = w->dense;
  if (w->quantized) d.quantized = std::move(w->quantized);
  if (!w->storage.empty()) {
    held_.push_back(std::move(*w));
    d.dense.data = held_.back().storage.data(); // moving the vector keeps its buffer
  }
  return d;
}

Expected<std::unique_ptr<cpu::Interpreter>> interpretModule(ModuleOp module, const cpu::ExecutorOptions &options) {
  auto fn = forwardFunction(module);
  if (!fn) return fn.status();
  auto translated = translateToProgram(*fn);
  if (!translated) return translated.status();
  IrWeightSource weights(*translated);
  return cpu::Interpreter::create(translated->program, weights, options);
}

} // namespace qcc
