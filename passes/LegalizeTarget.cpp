// qcc-legalize-target: every layer's format must run on every target.
#include "passes/PassRecord.h"
#include "passes/Passes.h"
#include "support/Targets.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <map>

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
    recordPass(getOperation(), *this);
    ModuleOp module = getOperation();
    Expected<std::vector<TargetInfo>> list = parseTargetList(targets);
    if (!list) {
      module.emitError("qcc-legalize-target: ") << list.message();
      return signalPassFailure();
    }
    // One error per illegal (format, target), at the first layer using it.
    struct Violation {
      Operation *first;
      std::string layer, message;
      int64_t count = 0;
    };
    std::map<std::pair<std::string, std::string>, Violation> violations;
    std::vector<std::pair<std::string, std::string>> order;
    auto check = [&](Operation *op, FormatAttr format, StringRef layer) {
      std::string name = stringifyFormatKind(format.getKind()).str();
      for (const TargetInfo &t : *list) {
        Status legal = checkFormatLegal(name, t, allowFp8WeightOnly, format.getGroupSize());
        if (legal) continue;
        auto key = std::make_pair(name, std::string(t.name));
        auto [it, inserted] = violations.try_emplace(key, Violation{op, layer.str(), legal.message()});
        if (inserted) order.push_back(key);
        ++it->second.count;
      }
    };
    module.walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op)) check(op, linear.getFormat(), linear.getLayer());
      else if (auto logits = dyn_cast<LogitsOp>(op)) check(op, logits.getFormat(), "lm_head");
    });
    for (const auto &key : order) {
      const Violation &v = violations[key];
      auto diag = v.first->emitError() << "layer " << v.layer;
      if (v.count > 1) diag << " (and " << v.count - 1 << " more)";
      diag << ": " << v.message;
    }
    if (!order.empty()) return signalPassFailure();

    Builder b(&getContext());
    SmallVector<Attribute> names;
    for (const TargetInfo &t : *list) names.push_back(b.getStringAttr(t.name));
    module->setAttr("qcc.targets", b.getArrayAttr(names));
    if (allowFp8WeightOnly) module->setAttr("qcc.fp8_weight_only", b.getUnitAttr());
  }
};

} // namespace
} // namespace qcc
