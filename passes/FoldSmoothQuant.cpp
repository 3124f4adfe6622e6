// qcc-fold-smoothquant: migrate activation outliers into the weights.
#include "passes/Passes.h"
#include "passes/WeightStore.h"
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

struct FoldSmoothQuantPass : impl::QccFoldSmoothQuantBase<FoldSmoothQuantPass> {
  using QccFoldSmoothQuantBase::QccFoldSmoothQuantBase;

  // Balances the linears `consumers` (sharing one input) against `norm`.
  Status foldGroup(WeightStore &store, const std::string &norm, const std::vector<std::string> &consumers) {
    auto &absMax = store.activationAbsMax();
    auto stat = absMax.find(consumers.front());
    if (stat == absMax.end())
      return Status::error("no activation ranges for " + consumers.front() + ": run qcc-calibrate first");
    std::vector<std::vector<float>> weights;
    std::vector<quant::WeightView> views;
    for (const std::string &c : consumers) weights.push_back(store.readFloat(c + ".weight"));
    for (size_t i = 0; i < consumers.size(); ++i) {
      const TensorRef *t = store.find(consumers[i] + ".weight");
      views.push_back({weights[i].data(), t->shape[0], t->shape[1]});
    }
    quant::SmoothQuantOptions options;
    options.alpha = alpha;
    auto s = quant::smoothQuantScales(stat->second, views, options);
    if (!s) return s.status().withContext(norm);
    for (size_t i = 0; i < consumers.size(); ++i) {
      quant::scaleColumns(weights[i].data(), views[i].rows, views[i].cols, *s);
      QCC_RETURN_IF_ERROR(store.setDense(consumers[i] + ".weight", std::move(weights[i])));
      // The statistic now describes x / s.
      std::vector<float> &m = absMax[consumers[i]];
      for (size_t j = 0; j < m.size(); ++j) m[j] /= (*s)[j];
    }
    std::vector<float> normWeight = store.readFloat(norm + ".weight");
    quant::divideElements(normWeight.data(), *s);
    return store.setDense(norm + ".weight", std::move(normWeight));
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &message) {
      module.emitError("qcc-fold-smoothquant: ") << message;
      signalPassFailure();
    };
    if (!(alpha >= 0.0 && alpha <= 1.0)) return fail("alpha must be in [0, 1]");
    auto store = WeightStore::forModule(module);
    if (!store) return fail(store.message());
    for (int64_t l = 0; l < (*store)->config().numLayers; ++l) {
      std::string p = "model.layers." + std::to_string(l);
      Status s = foldGroup(**store, p + ".input_layernorm",
                           {p + ".self_attn.q_proj", p + ".self_attn.k_proj", p + ".self_attn.v_proj"});
      if (s) s = foldGroup(**store, p + ".post_attention_layernorm", {p + ".mlp.gate_proj", p + ".mlp.up_proj"});
      if (!s) return fail(s.message());
    }
    // Mark what changed, so the IR says the weights are no longer the checkpoint's.
    Builder b(&getContext());
    auto mark = b.getF64FloatAttr(alpha);
    module.walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op)) {
        StringRef layer = linear.getLayer();
        if (layer.contains(".self_attn.") ? !layer.ends_with(".o_proj") : !layer.ends_with(".down_proj"))
          op->setAttr("qcc.smoothquant_alpha", mark);
      } else if (auto norm = dyn_cast<RMSNormOp>(op)) {
        auto w = norm.getWeight().getDefiningOp<WeightOp>();
        if (w && w.getName() != "model.norm.weight") op->setAttr("qcc.smoothquant_alpha", mark);
      }
    });
  }
};

} // namespace
} // namespace qcc
