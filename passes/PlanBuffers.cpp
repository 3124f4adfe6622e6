// qcc-plan-buffers: device buffers for the values of each qcck.program, by
// liveness (a linear scan over the launches).
#include "dialects/qcck/QcckDialect.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <map>

#define DEBUG_TYPE "qcc-plan-buffers"

namespace qcc {
#define GEN_PASS_DEF_QCCPLANBUFFERS
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

// Bytes per token row of a value on the device: float activations are bf16
// there, codes one byte, token scales one f32.
int64_t deviceBytesPerRow(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getRank() == 1) return 4;
  Type e = t.getElementType();
  const int64_t bytes = isa<IntegerType, Float8E4M3FNType>(e) ? 1 : 2;
  return t.getDimSize(1) * bytes;
}

bool isDeviceValue(Value v) {
  if (isa<BlockArgument>(v)) return false; // token ids and positions: the executor's own
  Operation *def = v.getDefiningOp();
  return !isa<WeightOp, QuantizedWeightOp, QuantizeWeightOp>(def);
}

struct Place {
  int64_t buffer = -1, offset = 0;
};

struct PlanBuffersPass : impl::QccPlanBuffersBase<PlanBuffersPass> {
  using QccPlanBuffersBase::QccPlanBuffersBase;

  // The value whose buffer `v` lives in, and v's byte offset in it.
  static std::pair<Value, int64_t> rootOf(Value v) {
    if (auto s = v.getDefiningOp<qcck::SliceOp>()) {
      auto [root, offset] = rootOf(s.getSource());
      auto t = cast<RankedTensorType>(s.getSource().getType());
      const int64_t elem = deviceBytesPerRow(s.getSource()) / t.getDimSize(1);
      return {root, offset + int64_t(s.getOffset()) * elem};
    }
    if (auto r = v.getDefiningOp<qcck::RopeOp>()) // in place
      return rootOf(cast<OpResult>(v).getResultNumber() == 0 ? r.getQ() : r.getK());
    return {v, 0};
  }

  LogicalResult plan(qcck::ProgramOp program) {
    Block &body = program.getBody().front();
    std::vector<Operation *> ops;
    for (Operation &op : body) ops.push_back(&op);
    // Last reader of each root (the return counts as the last op).
    llvm::DenseMap<Value, size_t> lastUse;
    for (size_t i = 0; i < ops.size(); ++i)
      for (Value operand : ops[i]->getOperands())
        if (isDeviceValue(operand)) lastUse[rootOf(operand).first] = i;
    // A RoPE rotates its inputs in place: nothing may read them afterwards.
    for (size_t i = 0; i < ops.size(); ++i)
      if (auto r = dyn_cast<qcck::RopeOp>(ops[i]))
        for (Value in : r->getOperands().drop_back())
          if (!in.hasOneUse())
            return r.emitOpError("rotates a value in place that other ops also read");

    std::vector<int64_t> bytes;    // per buffer: bytes per row
    std::vector<int64_t> free_;    // free buffers
    llvm::DenseMap<Value, Place> placeOf;
    auto allocate = [&](int64_t need) {
      // The smallest free buffer wide enough, else the widest free one grown.
      int64_t best = -1;
      for (size_t i = 0; i < free_.size(); ++i) {
        const int64_t b = free_[i];
        if (bytes[b] >= need && (best < 0 || bytes[b] < bytes[free_[best]])) best = int64_t(i);
      }
      if (best < 0)
        for (size_t i = 0; i < free_.size(); ++i)
          if (best < 0 || bytes[free_[i]] > bytes[free_[best]]) best = int64_t(i);
      if (best < 0) {
        bytes.push_back(need);
        return int64_t(bytes.size() - 1);
      }
      const int64_t b = free_[best];
      free_.erase(free_.begin() + best);
      bytes[b] = std::max(bytes[b], need);
      return b;
    };
    OpBuilder builder(program.getContext());
    // Roots by the op after which they die (results nobody reads die at their op).
    std::vector<SmallVector<Value>> dying(ops.size());
    for (size_t i = 0; i < ops.size(); ++i)
      for (Value r : ops[i]->getResults())
        if (isDeviceValue(r) && rootOf(r).first == r) dying[lastUse.count(r) ? lastUse[r] : i].push_back(r);
    for (size_t i = 0; i < ops.size(); ++i) {
      Operation *op = ops[i];
      SmallVector<int64_t> buffers, offsets;
      for (Value r : op->getResults()) {
        if (!isDeviceValue(r)) continue;
        auto [root, offset] = rootOf(r);
        if (root == r) placeOf[r] = {allocate(deviceBytesPerRow(r)), 0};
        const Place p = placeOf.lookup(root);
        buffers.push_back(p.buffer);
        offsets.push_back(p.offset + offset);
      }
      if (!buffers.empty()) {
        op->setAttr("qcck.buffers", builder.getDenseI64ArrayAttr(buffers));
        op->setAttr("qcck.offsets", builder.getDenseI64ArrayAttr(offsets));
      }
      // Buffers whose last reader this op is are free after it (not during it).
      for (Value root : dying[i])
        if (placeOf.count(root)) free_.push_back(placeOf[root].buffer);
    }
    program.setBufferBytesPerRowAttr(builder.getDenseI64ArrayAttr(bytes));
    return success();
  }

  void runOnOperation() override {
    recordPass(getOperation(), *this);
    getOperation().walk([&](qcck::ProgramOp p) {
      if (failed(plan(p))) signalPassFailure();
    });
  }
};

} // namespace
} // namespace qcc
