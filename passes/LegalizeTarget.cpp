// qcc-legalize-target: every layer's format must run on every target.
#include "passes/Fuse.h"
#include "passes/LowerToKernels.h"
#include "passes/PassRecord.h"
#include "passes/ToProgram.h"
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
    recordPass(getOperation(), *this);
    ModuleOp module = getOperation();
    auto fail = [&](const std::string &m) {
      mlir::emitError(module.getLoc(), "qcc-legalize-target: ") << m;
      signalPassFailure();
    };
    Expected<std::vector<TargetInfo>> list = parseTargetList(targets);
    if (!list) return fail(list.message());
    if (list->empty()) return fail("no target given");
    auto fn = forwardFunction(module);
    if (!fn) return fail(fn.message());
    cuda::TileTable table;
    if (!tilesFile.empty()) {
      auto t = cuda::readTileTable(tilesFile);
      if (!t) return fail(t.message());
      table = std::move(*t);
    }

    // The kernels the graph will lower to, on a copy of it: fused as
    // qcc-fuse will fuse it, then lowered per target. The lowering's
    // conversion target holds the rules; the first op it cannot lower says
    // which rule and which layer, before any calibration has run.
    OwningOpRef<ModuleOp> copy = cast<ModuleOp>(module->clone());
    auto copyFn = forwardFunction(*copy);
    fuseFunction(*copyFn);
    for (const TargetInfo &t : *list) {
      auto gpu = cuda::findTarget(t.gpuArch);
      if (!gpu) return fail(gpu.message());
      auto p = lowerForTarget(*copyFn, **gpu, allowFp8WeightOnly, tilesFile.empty() ? nullptr : &table,
                              kernelMaxSeq(module, 0));
      if (!p) return signalPassFailure();
    }

    Builder b(&getContext());
    SmallVector<Attribute> names;
    for (const TargetInfo &t : *list) names.push_back(b.getStringAttr(t.name));
    module->setAttr("qcc.targets", b.getArrayAttr(names));
    if (allowFp8WeightOnly) module->setAttr("qcc.fp8_weight_only", b.getUnitAttr());
  }
};

} // namespace
} // namespace qcc
