#include "codegen/cuda/KernelOps.h"

#include "dialects/qcc/QccDialect.h"

using namespace mlir;

namespace qcc::cuda {

GemmTile tileOf(llvm::ArrayRef<int64_t> t) {
  GemmTile g;
  if (t.size() == 5) {
    g.mTiles = int(t[0]), g.nTiles = int(t[1]), g.warpsN = int(t[2]), g.kSplit = int(t[3]);
    g.wgmma = t[4] != 0;
  }
  return g;
}

llvm::SmallVector<int64_t> tileAttrOf(const GemmTile &t) {
  return {t.mTiles, t.nTiles, t.warpsN, t.kSplit, t.wgmma ? 1 : 0};
}

qcck::VariantAttr variantOf(MLIRContext *ctx, const KernelSpec &spec, int64_t maxRows) {
  llvm::SmallVector<qcck::GridDimAttr> grid;
  for (const GridFormula &g : gridFormula(spec)) // canonical: no constant beside a rows formula
    grid.push_back(qcck::GridDimAttr::get(ctx, g.rowsDiv ? 0 : g.constant, g.rowsMul, g.rowsDiv));
  llvm::SmallVector<int64_t> tile;
  if (spec.kind == KernelKind::Gemm) tile = tileAttrOf(spec.tile);
  return qcck::VariantAttr::get(ctx, maxRows, tile, kernelName(spec), grid, blockSize(spec));
}

static QuantOut quantOut(int64_t q) { return q == 1 ? QuantOut::Int8 : q == 2 ? QuantOut::Fp8 : QuantOut::None; }

Expected<KernelSpec> kernelSpecOf(Operation *launch, qcck::VariantAttr variant, int64_t maxSeq) {
  KernelSpec s;
  if (auto e = dyn_cast<qcck::EmbeddingOp>(launch)) {
    s.kind = KernelKind::Embed;
    s.vocab = e.getVocab();
    s.width = e.getWidth();
  } else if (auto n = dyn_cast<qcck::RMSNormOp>(launch)) {
    s.kind = KernelKind::RmsNorm;
    s.width = n.getWidth();
    s.threads = int(n.getThreads());
    s.quant = quantOut(n.getQuant());
  } else if (auto q = dyn_cast<qcck::QuantizeOp>(launch)) {
    s.kind = KernelKind::Quantize;
    s.width = q.getWidth();
    s.threads = int(q.getThreads());
    s.quant = quantOut(q.getQuant());
  } else if (auto g = dyn_cast<qcck::GemmOp>(launch)) {
    s.kind = KernelKind::Gemm;
    s.format = GemmFormat(g.getFormat());
    s.n = g.getN();
    s.k = g.getK();
    s.group = int(g.getGroup());
    s.residual = static_cast<bool>(g.getResidual());
    if (variant) s.tile = tileOf(variant.getTile());
  } else if (auto r = dyn_cast<qcck::RopeOp>(launch)) {
    s.kind = KernelKind::Rope;
    s.heads = r.getHeads();
    s.kvHeads = r.getK() ? r.getKvHeads() : 0;
    s.headDim = r.getHeadDim();
    s.ld = r.getLdq();
    s.ld2 = r.getK() ? r.getLdk() : 0;
    RopeScaling scaling;
    if (auto sc = dyn_cast_or_null<RopeScalingAttr>(r.getScalingAttr())) {
      scaling.enabled = true;
      scaling.factor = sc.getFactor().convertToDouble();
      scaling.lowFreqFactor = sc.getLowFreqFactor().convertToDouble();
      scaling.highFreqFactor = sc.getHighFreqFactor().convertToDouble();
      scaling.originalMaxPositionEmbeddings = sc.getOriginalMaxPositionEmbeddings();
    }
    s.invFreq = ropeInvFreq(s.headDim, r.getTheta().convertToDouble(), scaling);
  } else if (auto kv = dyn_cast<qcck::KVStoreOp>(launch)) {
    s.kind = KernelKind::KvStore;
    s.kvHeads = kv.getKvHeads();
    s.headDim = kv.getHeadDim();
    s.maxSeq = maxSeq;
    s.ld = kv.getLdk();
    s.ld2 = kv.getLdv();
  } else if (auto a = dyn_cast<qcck::AttentionOp>(launch)) {
    s.kind = KernelKind::Attention;
    s.heads = a.getHeads();
    s.kvHeads = a.getKvHeads();
    s.headDim = a.getHeadDim();
    s.maxSeq = maxSeq;
    s.ld = a.getLdq();
  } else if (auto w = dyn_cast<qcck::SwiGLUOp>(launch)) {
    s.kind = KernelKind::SwiGlu;
    s.width = w.getWidth();
    s.ld = w.getLdg();
    s.ld2 = w.getLdu();
    s.quant = quantOut(w.getQuant());
    s.threads = int(w.getThreads());
  } else if (auto add = dyn_cast<qcck::AddOp>(launch)) {
    s.kind = KernelKind::Add;
    s.width = add.getWidth();
    s.threads = 256;
  } else {
    return Status::error("'" + launch->getName().getStringRef().str() + "' is not a kernel launch");
  }
  return s;
}

} // namespace qcc::cuda
