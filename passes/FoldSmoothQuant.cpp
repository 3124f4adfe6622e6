// qcc-fold-smoothquant: migrate activation outliers into the weights, for
// every RMSNorm whose output only linears read (found by use-def, whatever
// the model).
#include "passes/Params.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"
#include "quant/Smooth.h"

#include "mlir/IR/Builders.h"

#define DEBUG_TYPE "qcc-fold-smoothquant"

namespace qcc {
#define GEN_PASS_DEF_QCCFOLDSMOOTHQUANT
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

// A norm and the linears balanced against it.
struct Group {
  RMSNormOp norm;
  ParamAttr absMax;
  std::vector<LinearOp> linears;
};

struct FoldSmoothQuantPass : impl::QccFoldSmoothQuantBase<FoldSmoothQuantPass> {
  using QccFoldSmoothQuantBase::QccFoldSmoothQuantBase;

  // The norms to smooth: a measured range, every reader a linear that takes
  // the output as its input, over a dense weight.
  // Norms whose readers are stored quantized (a pre-quantized checkpoint) are
  // counted in `storedQuantized`: their codes cannot be rescaled.
  std::vector<Group> findGroups(ModuleOp module, int64_t &storedQuantized) {
    std::vector<Group> groups;
    module.walk([&](RMSNormOp norm) {
      auto absMax = norm->getAttrOfType<ParamAttr>("qcc.output_absmax");
      if (!absMax || norm.getResult().use_empty()) return;
      Group g{norm, absMax, {}};
      for (OpOperand &use : norm.getResult().getUses()) {
        auto linear = dyn_cast<LinearOp>(use.getOwner());
        if (linear && linear.getWeight().getDefiningOp<QuantizedWeightOp>()) {
          ++storedQuantized;
          return;
        }
        if (!linear || &use != &linear.getInputMutable() ||
            !linear.getWeight().getDefiningOp<WeightOp>())
          return;
        if (llvm::find(g.linears, linear) == g.linears.end()) g.linears.push_back(linear);
      }
      if (!norm.getWeight().getDefiningOp<WeightOp>()) return;
      groups.push_back(std::move(g));
    });
    return groups;
  }

  void runOnOperation() override {
    recordPass(getOperation(), *this);
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &message) {
      mlir::emitError(module.getLoc(), "qcc-fold-smoothquant: ") << message;
      signalPassFailure();
    };
    if (!(alpha >= 0.0 && alpha <= 1.0)) return fail("alpha must be in [0, 1]");
    int64_t storedQuantized = 0;
    std::vector<Group> groups = findGroups(module, storedQuantized);
    if (storedQuantized)
      module.emitRemark() << "qcc-fold-smoothquant: " << storedQuantized
                          << " norms feed linears stored quantized in the checkpoint: not smoothed";
    if (groups.empty()) {
      bool measured = false;
      module.walk([&](RMSNormOp n) { measured |= static_cast<bool>(n->getAttr("qcc.output_absmax")); });
      if (!measured) return fail("no activation ranges: run qcc-calibrate first");
      return;
    }
    auto dir = paramDirFor(module, paramDir, "qcc-fold-smoothquant");
    if (!dir) return fail(dir.message());

    // Every rewritten tensor is f32 (the smoothed values are not bf16-exact).
    std::vector<ArchiveWriter::Dense> decls;
    auto shapeOf = [](Value v) {
      auto t = cast<RankedTensorType>(v.getType());
      return std::vector<int64_t>(t.getShape().begin(), t.getShape().end());
    };
    auto keyOf = [](Value w) { return w.getDefiningOp<WeightOp>().getName().str(); };
    for (Group &g : groups) {
      decls.push_back({keyOf(g.norm.getWeight()), DType::F32, shapeOf(g.norm.getWeight())});
      for (LinearOp l : g.linears) decls.push_back({keyOf(l.getWeight()), DType::F32, shapeOf(l.getWeight())});
    }
    auto writer = ArchiveWriter::create(module, *dir, "smoothquant", decls, {});
    if (!writer) return fail(writer.message());

    // Group by group: compute s, write the norm and the linears.
    std::vector<std::pair<OpOperand *, ParamAttr>> rewrites;
    for (Group &g : groups) {
      auto stat = readDenseParam(g.norm, g.absMax,
                                 RankedTensorType::get({cast<RankedTensorType>(g.norm.getType()).getDimSize(1)},
                                                       Float32Type::get(&getContext())));
      if (!stat) return fail(stat.message());
      std::vector<float> absMax = tensorToFloat(*stat);
      std::vector<std::vector<float>> weights;
      std::vector<quant::WeightView> views;
      for (LinearOp l : g.linears) {
        auto w = readDenseWeight(l.getWeight());
        if (!w) return fail(w.message());
        weights.push_back(std::move(*w));
      }
      for (size_t i = 0; i < g.linears.size(); ++i) {
        auto t = cast<RankedTensorType>(g.linears[i].getWeight().getType());
        views.push_back({weights[i].data(), t.getDimSize(0), t.getDimSize(1)});
      }
      quant::SmoothQuantOptions options;
      options.alpha = alpha;
      auto s = quant::smoothQuantScales(absMax, views, options);
      if (!s) return fail(s.status().withContext(keyOf(g.norm.getWeight())).message());
      auto normWeight = readDenseWeight(g.norm.getWeight());
      if (!normWeight) return fail(normWeight.message());
      quant::divideElements(normWeight->data(), *s);
      auto p = (*writer)->writeDense(keyOf(g.norm.getWeight()), normWeight->data(), normWeight->size() * 4);
      if (!p) return fail(p.message());
      rewrites.push_back({&g.norm.getWeightMutable(), *p});
      for (size_t i = 0; i < g.linears.size(); ++i) {
        quant::scaleColumns(weights[i].data(), views[i].rows, views[i].cols, *s);
        auto q = (*writer)->writeDense(keyOf(g.linears[i].getWeight()), weights[i].data(), weights[i].size() * 4);
        if (!q) return fail(q.message());
        rewrites.push_back({&g.linears[i].getWeightMutable(), *q});
      }
    }
    if (Status st = (*writer)->finish(); !st) return fail(st.message());

    // Point the ops at the new parameters; mark what changed.
    OpBuilder b(&getContext());
    for (auto &[operand, param] : rewrites) {
      auto old = operand->get().getDefiningOp<WeightOp>();
      auto type = RankedTensorType::get(cast<RankedTensorType>(old.getType()).getShape(), b.getF32Type());
      b.setInsertionPoint(operand->getOwner());
      auto w = WeightOp::create(b, old.getLoc(), type, old.getNameAttr(), param, ElementsAttr());
      operand->set(w);
      if (old->use_empty()) old->erase();
    }
    auto mark = b.getF64FloatAttr(alpha);
    for (Group &g : groups) {
      g.norm->setAttr("qcc.smoothquant_alpha", mark);
      g.norm->removeAttr("qcc.output_absmax"); // the range of x, not of x / s
      for (LinearOp l : g.linears) l->setAttr("qcc.smoothquant_alpha", mark);
    }
  }
};

} // namespace
} // namespace qcc
