// qcc-fuse: the graph's ops grouped as kernels compute them, by use-def
// patterns (not by names): explicit W8A8 activation quantization, linears of
// one input in one format as one GEMM, query/key RoPE pairs, norm and SwiGLU
// with their quantization, residual-add epilogues.
#include "passes/Fuse.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <map>

#define DEBUG_TYPE "qcc-fuse"

namespace qcc {
#define GEN_PASS_DEF_QCCFUSE
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {
namespace {

// How a weight was quantized ("" for dense weights).
std::string methodOf(Value w) {
  if (auto q = w.getDefiningOp<QuantizedWeightOp>()) return stringifyQuantMethod(q.getMethod()).str();
  if (w.getDefiningOp<QuantizeWeightOp>()) return "rtn";
  return "";
}

bool isWeightOp(Operation *op) { return isa_and_nonnull<WeightOp, QuantizedWeightOp, QuantizeWeightOp>(op); }

// Moves the weight ops `v` depends on before `point` (they are pure and read
// only other weight ops), so that an op built at `point` may use `v`.
void hoistWeight(Value v, Operation *point) {
  Operation *def = v.getDefiningOp();
  if (!isWeightOp(def) || def->getBlock() != point->getBlock() || def->isBeforeInBlock(point)) return;
  for (Value operand : def->getOperands()) hoistWeight(operand, point);
  def->moveBefore(point);
}

void copyAttrs(Operation *from, Operation *to) {
  for (const char *name : {"qcc.block", "qcc.smoothquant_alpha"})
    if (Attribute a = from->getAttr(name)) to->setAttr(name, a);
}

RankedTensorType codesType(Value x, FormatAttr f) {
  auto t = cast<RankedTensorType>(x.getType());
  return RankedTensorType::get(t.getShape(), f.getWeightStorageType(x.getContext()));
}

RankedTensorType scalesType(Value x) {
  auto t = cast<RankedTensorType>(x.getType());
  return RankedTensorType::get({t.getDimSize(0)}, Float32Type::get(x.getContext()));
}


// 1. Each W8A8 linear reading a float activation reads its codes instead.
void quantizeActivations(Block &body) {
  std::map<std::pair<const void *, int>, QuantizeOp> made; // (value, format kind) -> its quantize
  for (Operation &opRef : llvm::make_early_inc_range(body)) {
    auto l = dyn_cast<LinearOp>(&opRef);
    if (!l || !l.getFormat().quantizesActivations() || l.getInputScales()) continue;
    Value x = l.getInput();
    auto key = std::make_pair(x.getAsOpaquePointer(), int(l.getFormat().getKind()));
    QuantizeOp q = made[key];
    OpBuilder b(l);
    if (!q) {
      q = QuantizeOp::create(b, l.getLoc(), codesType(x, l.getFormat()), scalesType(x), x,
                             FormatAttr::get(l.getContext(), l.getFormat().getKind(), 0));
      copyAttrs(l, q);
      q->removeAttr("qcc.smoothquant_alpha");
      made[key] = q;
    }
    auto n = LinearOp::create(b, l.getLoc(), l.getType(), q.getCodes(), q.getScales(), l.getWeight(),
                              l.getResidual(), l.getFormat(), l.getLayerAttr());
    copyAttrs(l, n);
    l.replaceAllUsesWith(n.getResult());
    l.erase();
  }
}

// 2. Linears of one input, format and method: one GEMM.
void fuseLinears(Block &body) {
  using Key = std::tuple<const void *, const void *, const void *, std::string>;
  std::map<Key, std::vector<LinearOp>> groups;
  std::vector<Key> order;
  for (Operation &op : body)
    if (auto l = dyn_cast<LinearOp>(&op); l && !l.getResidual()) {
      const void *scales = l.getInputScales() ? l.getInputScales().getAsOpaquePointer() : nullptr;
      Key key(l.getInput().getAsOpaquePointer(), scales, l.getFormat().getAsOpaquePointer(), methodOf(l.getWeight()));
      if (!groups.count(key)) order.push_back(key);
      groups[key].push_back(l);
    }
  for (const Key &key : order) {
    std::vector<LinearOp> &ls = groups[key];
    if (ls.size() < 2) continue;
    LinearOp first = ls.front();
    SmallVector<Value> weights;
    SmallVector<Type> types;
    SmallVector<Attribute> layers;
    for (LinearOp l : ls) {
      hoistWeight(l.getWeight(), first);
      weights.push_back(l.getWeight());
      types.push_back(l.getType());
      layers.push_back(l.getLayerAttr());
    }
    OpBuilder b(first);
    SmallVector<Location> locs;
    for (LinearOp l : ls) locs.push_back(l.getLoc());
    auto fused = FusedLinearOp::create(b, b.getFusedLoc(locs), types, first.getInput(), first.getInputScales(),
                                       weights, first.getFormat(), b.getArrayAttr(layers));
    if (Attribute block = first->getAttr("qcc.block")) fused->setAttr("qcc.block", block);
    // One SmoothQuant mark when every part has the same one.
    Attribute alpha = first->getAttr("qcc.smoothquant_alpha");
    for (LinearOp l : ls)
      if (l->getAttr("qcc.smoothquant_alpha") != alpha) alpha = {};
    if (alpha) fused->setAttr("qcc.smoothquant_alpha", alpha);
    for (size_t i = 0; i < ls.size(); ++i) {
      ls[i].getResult().replaceAllUsesWith(fused.getResult(i));
      ls[i].erase();
    }
  }
}

// 3. RoPE of two tensors at the same positions with the same frequencies:
//    one op, at the second, when nothing reads the first's result before it.
void fuseRopes(Block &body) {
  std::vector<RopeOp> singles;
  for (Operation &op : body)
    if (auto r = dyn_cast<RopeOp>(&op); r && r.getInputs().size() == 1) singles.push_back(r);
  std::vector<bool> used(singles.size(), false);
  for (size_t i = 0; i < singles.size(); ++i) {
    if (used[i]) continue;
    RopeOp a = singles[i];
    for (size_t j = i + 1; j < singles.size(); ++j) {
      RopeOp c = singles[j];
      if (used[j] || c.getPositions() != a.getPositions() || c.getHeadDim() != a.getHeadDim() ||
          c.getTheta() != a.getTheta() || c.getScalingAttr() != a.getScalingAttr())
        continue;
      bool readEarly = llvm::any_of(a.getResult(0).getUsers(), [&](Operation *u) { return u->isBeforeInBlock(c); });
      if (readEarly) continue;
      OpBuilder b(c);
      SmallVector<Value> inputs = {a.getInputs()[0], c.getInputs()[0]};
      SmallVector<Type> types = {a.getResult(0).getType(), c.getResult(0).getType()};
      SmallVector<int64_t> heads = {a.getHeads()[0], c.getHeads()[0]};
      auto fused = RopeOp::create(b, b.getFusedLoc({a.getLoc(), c.getLoc()}), types, inputs, c.getPositions(),
                                  b.getDenseI64ArrayAttr(heads), c.getHeadDimAttr(), c.getThetaAttr(),
                                  c.getScalingAttr());
      copyAttrs(c, fused);
      a.getResult(0).replaceAllUsesWith(fused.getResult(0));
      c.getResult(0).replaceAllUsesWith(fused.getResult(1));
      a.erase();
      c.erase();
      used[i] = used[j] = true;
      break;
    }
  }
}

// 4. A quantize of a norm or SwiGLU result that nothing else reads.
void fuseQuantizeIntoProducers(Block &body) {
  for (Operation &opRef : llvm::make_early_inc_range(body)) {
    auto q = dyn_cast<QuantizeOp>(&opRef);
    if (!q) continue;
    Operation *producer = q.getInput().getDefiningOp();
    if (!producer || !q.getInput().hasOneUse()) continue;
    OpBuilder b(q);
    Operation *fused = nullptr;
    if (auto n = dyn_cast<RMSNormOp>(producer))
      fused = RMSNormQuantizeOp::create(b, b.getFusedLoc({n.getLoc(), q.getLoc()}), q.getCodes().getType(),
                                        q.getScales().getType(), n.getInput(), n.getWeight(), n.getEpsilonAttr(),
                                        q.getFormat());
    else if (auto s = dyn_cast<SwiGLUOp>(producer))
      fused = SwiGLUQuantizeOp::create(b, b.getFusedLoc({s.getLoc(), q.getLoc()}), q.getCodes().getType(),
                                       q.getScales().getType(), s.getGate(), s.getUp(), q.getFormat());
    if (!fused) continue;
    copyAttrs(producer, fused);
    q->replaceAllUsesWith(fused->getResults());
    q.erase();
    producer->erase();
  }
}

// 5. add(r, linear(x)) where only the add reads the linear and r is
//    computed before the linear: the linear adds r in its epilogue.
void fuseResiduals(Block &body) {
  for (Operation &opRef : llvm::make_early_inc_range(body)) {
    auto add = dyn_cast<AddOp>(&opRef);
    if (!add) continue;
    for (int side = 0; side < 2; ++side) {
      Value mine = side ? add.getRhs() : add.getLhs(), other = side ? add.getLhs() : add.getRhs();
      auto l = mine.getDefiningOp<LinearOp>();
      if (!l || l.getResidual() || !mine.hasOneUse()) continue;
      Operation *otherDef = other.getDefiningOp();
      if (otherDef && !otherDef->isBeforeInBlock(l)) continue;
      OpBuilder b(l);
      auto n = LinearOp::create(b, b.getFusedLoc({l.getLoc(), add.getLoc()}), l.getType(), l.getInput(),
                                l.getInputScales(), l.getWeight(), other, l.getFormat(), l.getLayerAttr());
      copyAttrs(l, n);
      add.replaceAllUsesWith(n.getResult());
      add.erase();
      l.erase();
      break;
    }
  }
}

struct FusePass : impl::QccFuseBase<FusePass> {
  using QccFuseBase::QccFuseBase;

  void runOnOperation() override {
    recordPass(getOperation(), *this);
    getOperation().walk([&](func::FuncOp fn) { fuseFunction(fn); });
  }
};

} // namespace

void fuseFunction(func::FuncOp fn) {
  if (fn.getBody().empty()) return;
  Block &body = fn.getBody().front();
  quantizeActivations(body);
  fuseLinears(body);
  fuseRopes(body);
  fuseQuantizeIntoProducers(body);
  fuseResiduals(body);
}

} // namespace qcc
