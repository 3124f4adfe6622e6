// qcc-quantize-weights: every linear to its chosen format (rtn | gptq | awq).
#include "passes/CalibrationData.h"
#include "passes/Params.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "quant/Calibrate.h"
#include "quant/Rtn.h"
#include "support/Progress.h"

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

// A linear (or the head) whose format asks for quantized weights, over a
// dense weight not yet quantized.
struct Target {
  Operation *op;
  std::string layer; // "model.layers.0.mlp.down_proj" or "lm_head"
  OpOperand *weight;
  FormatAttr format;
  std::string tensorName() const { return layer + ".weight"; }
};

// Inline codes/scales attributes for tiny lit-test weights.
std::pair<DenseElementsAttr, DenseElementsAttr> inlineAttrs(const formats::QuantizedLinear &q,
                                                            RankedTensorType codesType) {
  DenseElementsAttr codesAttr;
  if (q.format == formats::Format::FP8) {
    // f8E4M3FN elements are stored by their bit patterns.
    codesAttr = DenseElementsAttr::getFromRawBuffer(
        codesType, ArrayRef<char>(reinterpret_cast<const char *>(q.weights.data()), q.weights.size()));
  } else {
    SmallVector<APInt> codes;
    for (int8_t c : formats::integerCodes(q))
      codes.push_back(APInt(codesType.getElementTypeBitWidth(), static_cast<uint64_t>(c), /*isSigned=*/true));
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
    recordPass(getOperation(), *this);
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &message) {
      mlir::emitError(module.getLoc(), "qcc-quantize-weights: ") << message;
      signalPassFailure();
    };
    auto parsedMethod = quant::parseMethod(method);
    if (!parsedMethod) return fail(parsedMethod.message());

    std::vector<Target> targets;
    bool anyInline = false, anyParam = false, fused = false;
    module.walk([&](Operation *op) {
      if (isa<FusedLinearOp>(op)) fused = true;
      OpOperand *w = nullptr;
      FormatAttr format;
      std::string layer;
      if (auto linear = dyn_cast<LinearOp>(op)) {
        w = &linear.getWeightMutable(), format = linear.getFormat(), layer = linear.getLayer().str();
      } else if (auto logits = dyn_cast<LogitsOp>(op)) {
        w = &logits.getWeightMutable(), format = logits.getFormat(), layer = "lm_head";
      } else {
        return;
      }
      auto weightOp = w->get().getDefiningOp<WeightOp>();
      if (!format.isQuantized() || !weightOp) return; // bf16, or quantized already
      (weightOp.getValueAttr() ? anyInline : anyParam) = true;
      targets.push_back({op, layer, w, format});
    });
    if (fused) return fail("the graph is fused already: quantize weights before qcc-fuse");
    if (targets.empty()) return;
    if (anyInline && anyParam) return fail("a module mixes inline and parameter weights");

    Status s = anyInline ? quantizeInline(targets, *parsedMethod)
               : needsCalibration(targets, *parsedMethod) ? quantizeCalibrated(module, targets, *parsedMethod)
                                                            : quantizeRoundToNearest(targets);
    if (!s) return fail(s.message());
  }

  static bool needsCalibration(const std::vector<Target> &targets, quant::Method m) {
    // fp8 is always round-to-nearest; rtn needs no calibration either.
    for (const Target &t : targets)
      if (m != quant::Method::RTN && t.format.getKind() != FormatKind::fp8) return true;
    return false;
  }

  RankedTensorType codesTypeOf(const Target &t) {
    auto dense = cast<RankedTensorType>(t.weight->get().getType());
    return RankedTensorType::get(dense.getShape(), t.format.getWeightStorageType(&getContext()));
  }

  // Lit tests: round-to-nearest on inline values, codes written inline.
  Status quantizeInline(std::vector<Target> &targets, quant::Method m) {
    if (m != quant::Method::RTN)
      return Status::error("inline weights are quantized with method rtn only (gptq and awq need parameters "
                           "and calibration data)");
    for (Target &t : targets) {
      auto w = readDenseWeight(t.weight->get());
      if (!w) return w.status();
      auto type = cast<RankedTensorType>(t.weight->get().getType());
      auto q = quant::quantizeRtn(w->data(), type.getDimSize(0), type.getDimSize(1), formatSpecOf(t.format), mseClip);
      if (!q) return q.status().withContext(t.layer);
      RankedTensorType codesType = codesTypeOf(t);
      auto [codes, scales] = inlineAttrs(*q, codesType);
      OpBuilder b(t.op);
      auto qw = QuantizedWeightOp::create(b, t.op->getLoc(), codesType, b.getStringAttr(t.tensorName()), ParamAttr(),
                                          t.format, QuantMethodAttr::get(&getContext(), QuantMethod::rtn),
                                          mseClip ? b.getUnitAttr() : UnitAttr(), codes, scales);
      replaceWeight(t, qw);
    }
    return Status::ok();
  }

  // Round to nearest is a pure function of the parameter: qcc.quantize_weight.
  Status quantizeRoundToNearest(std::vector<Target> &targets) {
    for (Target &t : targets) {
      auto type = cast<RankedTensorType>(t.weight->get().getType());
      formats::FormatSpec spec = formatSpecOf(t.format);
      if (spec.format == formats::Format::W4A16 && type.getDimSize(1) % spec.groupSize != 0)
        return Status::error(t.layer + ": group size " + std::to_string(spec.groupSize) + " does not divide its " +
                             std::to_string(type.getDimSize(1)) + " input channels");
      OpBuilder b(t.op);
      auto q = QuantizeWeightOp::create(b, t.op->getLoc(), codesTypeOf(t), b.getStringAttr(t.tensorName()),
                                        t.weight->get(), t.format, mseClip ? b.getUnitAttr() : UnitAttr());
      replaceWeight(t, q);
    }
    return Status::ok();
  }

  void replaceWeight(Target &t, Value replacement) {
    Operation *old = t.weight->get().getDefiningOp();
    t.weight->set(replacement);
    if (old->use_empty()) old->erase();
  }

  // GPTQ / AWQ: the graph runs block by block through the CPU interpreter.
  Status quantizeCalibrated(ModuleOp module, std::vector<Target> &targets, quant::Method m) {
    auto spec = getCalibrationSpec(module);
    if (!spec) return spec.status();
    auto config = modelConfigOf(module);
    if (!config) return config.status();
    auto samples = loadCalibrationSamples(*spec, *config, module);
    if (!samples) return samples.status();
    auto dir = paramDirFor(module, paramDir, "qcc-quantize-weights");
    if (!dir) return dir.status();
    auto fn = forwardFunction(module);
    if (!fn) return fn.status();
    auto translated = translateToProgram(*fn);
    if (!translated) return translated.status();
    IrWeightSource weights(*translated);
    auto model = cpu::Interpreter::create(translated->program, weights, {});
    if (!model) return model.status();

    std::map<Operation *, const Target *> targetOf;
    for (const Target &t : targets) targetOf[t.op] = &t;
    quant::CalibrationOptions options;
    options.planFor = [&](size_t index, const program::Op &) {
      auto it = targetOf.find(translated->origin[index]);
      if (it == targetOf.end()) return quant::LinearPlan{};
      quant::LinearPlan plan;
      plan.format = formatSpecOf(it->second->format);
      plan.mseClip = mseClip;
      plan.method = m;
      if (it->second->format.getKind() == FormatKind::fp8) plan.method = quant::Method::RTN;
      if (m == quant::Method::AWQ && it->second->format.getKind() != FormatKind::w4a16) plan.method = quant::Method::GPTQ;
      plan.gptq.blockSize = blockSize;
      plan.gptq.dampFrac = dampening;
      plan.gptq.actOrderStatic = actOrder;
      plan.gptq.mseClip = mseClip;
      return plan;
    };
    options.onBlockDone = [&](int block, int blocks) { reportProgress("quantize", block + 1, blocks); };
    auto report = quant::calibrateAndQuantize(**model, *samples, options);
    if (!report) return report.status();

    // What goes to the archive: each target's codes, and the dense tensors
    // AWQ rescaled that stay dense.
    const program::Program &p = translated->program;
    std::map<Operation *, uint32_t> tensorOfTarget;
    for (size_t i = 0; i < p.ops.size(); ++i)
      if (targetOf.count(translated->origin[i])) tensorOfTarget[translated->origin[i]] = p.ops[i].weights[0];
    std::vector<ArchiveWriter::Dense> dense;
    std::vector<ArchiveWriter::Quantized> quantized;
    for (uint32_t t : report->rescaled) {
      auto type = cast<RankedTensorType>(translated->weights[t].getType());
      dense.push_back({translated->weightNames[t], DType::F32, {type.getShape().begin(), type.getShape().end()}});
    }
    for (const Target &t : targets) {
      const cpu::Linear *l = (*model)->linear(tensorOfTarget.at(t.op));
      if (!l || l->format == formats::Format::BF16)
        return Status::error(t.layer + " was not quantized by the calibration pipeline");
      quantized.push_back({t.tensorName(), l->format, l->N, l->K, l->quant.groupSize});
    }
    auto writer = ArchiveWriter::create(module, *dir, "quantized", dense, quantized);
    if (!writer) return writer.status();
    std::map<uint32_t, ParamAttr> denseParams;
    for (uint32_t t : report->rescaled) {
      std::vector<float> v = (*model)->normWeight(t) ? *(*model)->normWeight(t) : (*model)->denseLinearWeights(t);
      auto param = (*writer)->writeDense(translated->weightNames[t], v.data(), v.size() * 4);
      if (!param) return param.status();
      denseParams[t] = *param;
    }
    std::vector<ParamAttr> targetParams;
    for (const Target &t : targets) {
      auto param = (*writer)->writeQuantized(t.tensorName(), (*model)->linear(tensorOfTarget.at(t.op))->quant);
      if (!param) return param.status();
      targetParams.push_back(*param);
    }
    QCC_RETURN_IF_ERROR((*writer)->finish());

    // Rewrite the IR: rescaled dense tensors first (every reader), then targets.
    OpBuilder b(&getContext());
    for (const auto &[t, param] : denseParams) {
      for (OpOperand *use : translated->weightUses[t]) {
        auto old = use->get().getDefiningOp<WeightOp>();
        if (!old) continue;
        auto type = RankedTensorType::get(cast<RankedTensorType>(old.getType()).getShape(), b.getF32Type());
        b.setInsertionPoint(use->getOwner());
        use->set(WeightOp::create(b, old.getLoc(), type, old.getNameAttr(), param, ElementsAttr()));
        if (old->use_empty()) old->erase();
      }
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      Target &t = targets[i];
      std::string used = "rtn", remark;
      for (const quant::LinearReport &r : report->linears)
        if (translated->origin[r.op] == t.op) used = r.method, remark = r.remark;
      b.setInsertionPoint(t.op);
      auto qw = QuantizedWeightOp::create(b, t.op->getLoc(), codesTypeOf(t), b.getStringAttr(t.tensorName()),
                                          targetParams[i], t.format,
                                          QuantMethodAttr::get(&getContext(), *symbolizeQuantMethod(used)),
                                          mseClip ? b.getUnitAttr() : UnitAttr(), ElementsAttr(), ElementsAttr());
      replaceWeight(t, qw);
      if (!remark.empty()) t.op->emitRemark() << t.layer << ": " << remark;
    }
    return Status::ok();
  }
};

} // namespace
} // namespace qcc
