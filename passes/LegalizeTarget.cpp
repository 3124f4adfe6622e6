// qcc-legalize-target: every layer's format must run on every target.
#include "passes/Passes.h"
#include "support/Targets.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#define DEBUG_TYPE "qcc-legalize-target"

namespace qcc {
#define GEN_PASS_DEF_QCCLEGALIZETARGET
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

struct LegalizeTargetPass : impl::QccLegalizeTargetBase<LegalizeTargetPass> {
  using QccLegalizeTargetBase::QccLegalizeTargetBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Expected<std::vector<TargetInfo>> list = parseTargetList(targets);
    if (!list) {
      module.emitError("qcc-legalize-target: ") << list.message();
      return signalPassFailure();
    }
    bool failedAny = false;
    auto check = [&](Operation *op, FormatAttr format, StringRef layer) {
      for (const TargetInfo &t : *list) {
        Status legal = checkFormatLegal(stringifyFormatKind(format.getKind()).str(), t, allowFp8WeightOnly);
        if (!legal) {
          op->emitError() << "layer " << layer << ": " << legal.message();
          failedAny = true;
        }
      }
    };
    module.walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op)) check(op, linear.getFormat(), linear.getLayer());
      else if (auto logits = dyn_cast<LogitsOp>(op)) check(op, logits.getFormat(), "lm_head");
    });
    if (failedAny) return signalPassFailure();

    Builder b(&getContext());
    SmallVector<Attribute> names;
    for (const TargetInfo &t : *list) names.push_back(b.getStringAttr(t.name));
    module->setAttr("qcc.targets", b.getArrayAttr(names));
    if (allowFp8WeightOnly) module->setAttr("qcc.fp8_weight_only", b.getUnitAttr());
  }
};

} // namespace
} // namespace qcc
