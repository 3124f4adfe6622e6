// qcc-quantize-weights: every linear to its chosen format (rtn | gptq | awq).
#include "passes/Passes.h"
#include "passes/WeightStore.h"
#include "quant/Calibrate.h"
#include "quant/Rtn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#define DEBUG_TYPE "qcc-quantize-weights"

namespace qcc {
#define GEN_PASS_DEF_QCCQUANTIZEWEIGHTS
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

// A linear layer (or the head) whose format asks for quantized weights.
struct Target {
  Operation *op;
  std::string layer; // "model.layers.0.mlp.down_proj" or "lm_head"
  WeightOp weight;
  FormatAttr format;
};

formats::FormatSpec toSpec(FormatAttr f) {
  switch (f.getKind()) {
  case FormatKind::fp8: return {formats::Format::FP8, 0};
  case FormatKind::int8: return {formats::Format::INT8, 0};
  case FormatKind::w4a16: return {formats::Format::W4A16, static_cast<int>(f.getGroupSize())};
  case FormatKind::bf16: break;
  }
  return {formats::Format::BF16, 0};
}

// Inline codes/scales attributes for tiny lit-test weights.
std::pair<DenseElementsAttr, DenseElementsAttr> inlineAttrs(const formats::QuantizedLinear &q,
                                                            RankedTensorType codesType) {
  SmallVector<APInt> codes;
  if (q.format == formats::Format::FP8) {
    for (uint8_t c : q.weights) codes.push_back(APInt(8, c));
  } else {
    for (int8_t c : formats::integerCodes(q))
      codes.push_back(APInt(codesType.getElementTypeBitWidth(), static_cast<uint64_t>(c), /*isSigned=*/true));
  }
  DenseElementsAttr codesAttr;
  if (q.format == formats::Format::FP8) {
    // f8E4M3FN elements are stored by their bit patterns.
    codesAttr = DenseElementsAttr::getFromRawBuffer(
        codesType, ArrayRef<char>(reinterpret_cast<const char *>(q.weights.data()), q.weights.size()));
  } else {
    codesAttr = DenseElementsAttr::get(codesType, codes);
  }
  SmallVector<int64_t> scaleShape = {q.outFeatures};
  if (q.groupSize > 0) scaleShape.push_back(q.numGroups());
  auto scalesType = RankedTensorType::get(scaleShape, Float32Type::get(codesType.getContext()));
  return {codesAttr, DenseElementsAttr::get(scalesType, ArrayRef<float>(q.scales))};
}

struct QuantizeWeightsPass : impl::QccQuantizeWeightsBase<QuantizeWeightsPass> {
  using QccQuantizeWeightsBase::QccQuantizeWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &message) {
      module.emitError("qcc-quantize-weights: ") << message;
      signalPassFailure();
    };
    auto parsedMethod = quant::parseMethod(method);
    if (!parsedMethod) return fail(parsedMethod.message());

    std::vector<Target> targets;
    bool anyInline = false, anyHandle = false;
    module.walk([&](Operation *op) {
      Value w;
      FormatAttr format;
      std::string layer;
      if (auto linear = dyn_cast<LinearOp>(op)) {
        w = linear.getWeight(), format = linear.getFormat(), layer = linear.getLayer().str();
      } else if (auto logits = dyn_cast<LogitsOp>(op)) {
        w = logits.getWeight(), format = logits.getFormat(), layer = "lm_head";
      } else {
        return;
      }
      auto weightOp = w.getDefiningOp<WeightOp>();
      if (!format.isQuantized() || !weightOp) return; // bf16, or quantized already
      (weightOp.getValueAttr() ? anyInline : anyHandle) = true;
      targets.push_back({op, layer, weightOp, format});
    });
    if (targets.empty()) return;
    if (anyInline && anyHandle) return fail("a module mixes inline and checkpoint weights");

    // Inline results by target index (lit tests); methods actually used; remarks.
    std::vector<formats::QuantizedLinear> results(targets.size());
    std::vector<std::string> methods(targets.size(), "rtn"), remarks(targets.size());
    Status s = anyInline ? quantizeInline(targets, *parsedMethod, results)
                         : quantizeFromStore(module, targets, *parsedMethod, methods, remarks);
    if (!s) return fail(s.message());

    // Rewrite the IR: each target reads a qcc.quantized_weight.
    MLIRContext *ctx = &getContext();
    for (size_t i = 0; i < targets.size(); ++i) {
      Target &t = targets[i];
      auto denseType = cast<RankedTensorType>(t.weight.getType());
      auto codesType = RankedTensorType::get(denseType.getShape(), t.format.getWeightStorageType(ctx));
      OpBuilder b(t.op);
      auto methodAttr = QuantMethodAttr::get(ctx, *symbolizeQuantMethod(methods[i]));
      ElementsAttr codes, scales;
      if (anyInline) std::tie(codes, scales) = inlineAttrs(results[i], codesType);
      auto q = QuantizedWeightOp::create(b, t.op->getLoc(), codesType, b.getStringAttr(t.layer + ".weight"),
                                         t.format, methodAttr, mseClip ? b.getUnitAttr() : UnitAttr(), codes,
                                         scales);
      t.op->setOperand(1, q);
      if (!remarks[i].empty()) t.op->emitRemark() << t.layer << ": " << remarks[i];
      if (t.weight->use_empty()) t.weight->erase();
    }
  }

  // Lit tests: round-to-nearest on inline values.
  Status quantizeInline(std::vector<Target> &targets, quant::Method m,
                        std::vector<formats::QuantizedLinear> &results) {
    if (m != quant::Method::RTN)
      return Status::error("inline weights are quantized with method rtn only (gptq and awq need a "
                           "checkpoint and calibration data)");
    for (size_t i = 0; i < targets.size(); ++i) {
      auto dense = cast<DenseElementsAttr>(targets[i].weight.getValueAttr());
      std::vector<float> w;
      for (APFloat v : dense.getValues<APFloat>()) w.push_back(static_cast<float>(v.convertToDouble()));
      auto type = cast<RankedTensorType>(dense.getType());
      auto q = quant::quantizeRtn(w.data(), type.getDimSize(0), type.getDimSize(1), toSpec(targets[i].format), mseClip);
      if (!q) return q.status().withContext(targets[i].layer);
      results[i] = std::move(*q);
    }
    return Status::ok();
  }

  Status quantizeFromStore(ModuleOp module, std::vector<Target> &targets, quant::Method m,
                           std::vector<std::string> &methods,
                           std::vector<std::string> &remarks) {
    auto storeOr = WeightStore::forModule(module);
    if (!storeOr) return storeOr.status();
    WeightStore &store = **storeOr;

    // fp8 is always round-to-nearest; rtn needs no calibration either.
    bool needsCalibration = false;
    for (const Target &t : targets)
      needsCalibration |= m != quant::Method::RTN && t.format.getKind() != FormatKind::fp8;
    if (!needsCalibration) {
      // Round-to-nearest is recorded as a recipe and computed when the weight
      // is read (the artifact writer streams it layer by layer).
      for (const Target &t : targets) {
        std::string source = WeightOp(t.weight).getName().str();
        const TensorRef *ref = store.find(source);
        if (!ref || ref->shape.size() != 2) return Status::error("no 2-d weight '" + source + "' in the checkpoint");
        formats::FormatSpec spec = toSpec(t.format);
        if (spec.format == formats::Format::W4A16 && ref->shape[1] % spec.groupSize != 0)
          return Status::error(t.layer + ": group size " + std::to_string(spec.groupSize) +
                               " does not divide its " + std::to_string(ref->shape[1]) + " input channels");
        store.setQuantizedRecipe(t.layer + ".weight", {source, spec, mseClip});
      }
      return Status::ok();
    }

    auto spec = getCalibrationSpec(module);
    if (!spec) return spec.status();
    auto samples = loadCalibrationSamples(*spec, store.config(), store.checkpoint().directory());
    if (!samples) return samples.status();
    auto model = store.buildExecutor(executorOptionsFor(module));
    if (!model) return model.status();

    std::map<std::string, quant::LinearPlan> plans;
    for (const Target &t : targets) {
      quant::LinearPlan plan;
      plan.format = toSpec(t.format);
      plan.mseClip = mseClip;
      plan.method = m;
      if (t.format.getKind() == FormatKind::fp8) plan.method = quant::Method::RTN;
      if (m == quant::Method::AWQ && t.format.getKind() != FormatKind::w4a16) plan.method = quant::Method::GPTQ;
      plan.gptq.blockSize = blockSize;
      plan.gptq.dampFrac = dampening;
      plan.gptq.actOrderStatic = actOrder;
      plan.gptq.mseClip = mseClip;
      plans[t.layer] = plan;
    }
    quant::CalibrationOptions options;
    options.onLayerDone = [&](int layer) {
      if (store.progress) store.progress("quantize", layer, store.config().numLayers);
    };
    options.planFor = [&](const std::string &name) {
      auto it = plans.find(name);
      return it == plans.end() ? quant::LinearPlan{} : it->second;
    };
    auto report = quant::calibrateAndQuantize(**model, *samples, options);
    if (!report) return report.status();

    std::map<std::string, const quant::LinearReport *> byName;
    for (const quant::LinearReport &r : report->linears) byName[r.name] = &r;
    for (size_t i = 0; i < targets.size(); ++i) {
      const cpu::Linear *linear = (*model)->linear(targets[i].layer);
      if (!linear || linear->format == formats::Format::BF16)
        return Status::error(targets[i].layer + " was not quantized by the calibration pipeline");
      store.setQuantized(targets[i].layer + ".weight", linear->quant);
      if (auto it = byName.find(targets[i].layer); it != byName.end()) {
        methods[i] = it->second->method;
        remarks[i] = it->second->remark;
      }
    }
    // AWQ folds its scales into norms and previous linears: keep those too.
    for (const std::string &norm : (*model)->normNames())
      QCC_RETURN_IF_ERROR(store.setDense(norm + ".weight", (*model)->normWeight(norm)));
    for (const std::string &name : (*model)->linearNames()) {
      const cpu::Linear *linear = (*model)->linear(name);
      if (linear && linear->format == formats::Format::BF16 && store.find(name + ".weight"))
        QCC_RETURN_IF_ERROR(store.setDense(name + ".weight", linear->weights()));
    }
    return Status::ok();
  }
};

} // namespace
} // namespace qcc
