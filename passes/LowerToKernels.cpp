// qcc-lower-to-kernels: @forward, for each target, as a qcck.program of
// kernel launches (a dialect conversion whose target holds the legality rules).
#include "passes/LowerToKernels.h"

#include "codegen/cuda/KernelOps.h"
#include "codegen/cuda/TileTable.h"
#include "dialects/qcck/QcckDialect.h"
#include "passes/PassRecord.h"
#include "passes/Passes.h"
#include "passes/ToProgram.h"
#include "support/Targets.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/StringExtras.h"

#define DEBUG_TYPE "qcc-lower-to-kernels"

namespace qcc {
#define GEN_PASS_DEF_QCCLOWERTOKERNELS
#include "passes/Passes.h.inc"
} // namespace qcc

using namespace mlir;

namespace qcc {

using cuda::GemmFormat;
using cuda::KernelKind;
using cuda::KernelSpec;

Status gemmLegal(const cuda::GpuTarget &target, GemmFormat format, int64_t k, int64_t group) {
  if (format == GemmFormat::FP8 && !target.hasFp8Mma)
    return Status::error(std::string("format fp8 (W8A8) needs fp8 tensor cores (sm_89 or newer); target ") +
                         target.name + " has none: use w4a16 or int8, or allow fp8 weights with bf16 math "
                         "(--fp8-weight-only)");
  if (format == GemmFormat::W4A16 && (group <= 0 || group % 128 != 0 || k % group != 0))
    return Status::error("w4a16 group size " + std::to_string(group) +
                         " is not supported by the CUDA kernels (they need a multiple of 128 dividing k = " +
                         std::to_string(k) + ")");
  const int chunk = cuda::gemmKChunk(format);
  if (k % chunk != 0)
    return Status::error("k = " + std::to_string(k) + " is not a multiple of " + std::to_string(chunk) + " (the " +
                         cuda::gemmFormatName(format) + " kernel's k chunk)");
  return Status::ok();
}

namespace {

// What every pattern needs to know about the target.
struct Lowering {
  const cuda::GpuTarget *target = nullptr;
  bool fp8WeightOnly = false;
  const cuda::TileTable *tiles = nullptr;
  int64_t maxSeq = 0;
};

int64_t cols(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }
int64_t rowsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(0); }

// Elements between token rows of a (lowered) value: a slice has its source's,
// a RoPE result its input's.
int64_t rowStride(Value v) {
  if (auto s = v.getDefiningOp<qcck::SliceOp>()) return rowStride(s.getSource());
  if (auto r = v.getDefiningOp<qcck::RopeOp>()) {
    unsigned i = cast<OpResult>(v).getResultNumber();
    return rowStride(i == 0 ? r.getQ() : r.getK());
  }
  return cols(v);
}

int blockFor(int64_t width) {
  for (int t : {256, 128, 64, 32})
    if (width % t == 0) return t;
  return 32;
}

// The source layers of a GEMM, '|'-separated (the artifact's launch name).
std::string gemmLayerName(Operation *op) {
  if (auto l = dyn_cast<LinearOp>(op)) return l.getLayer().str();
  if (auto l = dyn_cast<FusedLinearOp>(op)) return llvm::join(l.getLayers().getAsValueRange<StringAttr>(), "|");
  return "lm_head";
}

// Names what an error is about: "layer model.layers.0.mlp.down_proj",
// "layers ...q_proj, ...k_proj", the op's NameLoc from the importer, or the op.
std::string layerOf(Operation *op) {
  if (auto l = dyn_cast<LinearOp>(op)) return "layer " + l.getLayer().str();
  if (auto l = dyn_cast<FusedLinearOp>(op))
    return "layers " + llvm::join(l.getLayers().getAsValueRange<StringAttr>(), ", ");
  if (isa<LogitsOp>(op)) return "layer lm_head";
  if (auto g = dyn_cast<qcck::GemmOp>(op)) {
    std::string layers = g.getLayer().str();
    std::replace(layers.begin(), layers.end(), '|', ',');
    return (layers.find(',') == std::string::npos ? "layer " : "layers ") + layers;
  }
  Location loc = op->getLoc();
  if (auto f = dyn_cast<FusedLoc>(loc))
    for (Location l : f.getLocations())
      if (auto n = dyn_cast<NameLoc>(l)) return "layer " + n.getName().str();
  if (auto n = dyn_cast<NameLoc>(loc)) return "layer " + n.getName().str();
  return "op " + op->getName().getStringRef().str();
}

// The variants of a kernel (one, or a decode and a prefill GEMM tile), each
// checked against its template; an error names the layer.
LogicalResult variantsFor(Operation *op, KernelSpec spec, const Lowering &L, ArrayAttr &variants) {
  MLIRContext *ctx = op->getContext();
  SmallVector<Attribute> out;
  auto check = [&](const KernelSpec &s) -> bool {
    auto gen = cuda::generateKernel(s, *L.target);
    if (!gen) op->emitError() << layerOf(op) << ": " << gen.message() << " (target " << L.target->name << ")";
    return gen.isOk();
  };
  if (spec.kind == KernelKind::Gemm) {
    KernelSpec decode = spec, prefill = spec;
    decode.tile = cuda::chooseGemmTile(*L.target, spec.format, 1, spec.n, spec.k, L.tiles);
    prefill.tile = cuda::chooseGemmTile(*L.target, spec.format, 2048, spec.n, spec.k, L.tiles);
    if (!check(decode) || !check(prefill)) return failure();
    if (cuda::kernelName(decode) != cuda::kernelName(prefill))
      out.push_back(cuda::variantOf(ctx, decode, cuda::kDecodeRows));
    out.push_back(cuda::variantOf(ctx, prefill, 0));
  } else {
    if (!check(spec)) return failure();
    out.push_back(cuda::variantOf(ctx, spec, 0));
  }
  variants = ArrayAttr::get(ctx, out);
  return success();
}

Expected<GemmFormat> gemmFormatOf(FormatAttr f, const Lowering &L) {
  switch (f.getKind()) {
  case FormatKind::bf16: return GemmFormat::BF16;
  case FormatKind::int8: return GemmFormat::INT8;
  case FormatKind::w4a16: return GemmFormat::W4A16;
  case FormatKind::fp8:
    if (L.target->hasFp8Mma) return GemmFormat::FP8;
    if (L.fp8WeightOnly) return GemmFormat::FP8WeightOnly;
    return GemmFormat::FP8; // illegal on this target: gemmLegal says why
  }
  return Status::error("unknown format");
}

int64_t quantCode(FormatAttr f) {
  return f.getKind() == FormatKind::int8 ? 1 : f.getKind() == FormatKind::fp8 ? 2 : 0;
}

// One GEMM over `weights` stacked along N: quantizing a float input first
// when the format needs codes.
FailureOr<Value> buildGemm(Operation *op, ConversionPatternRewriter &rw, const Lowering &L, Value a, Value scales,
                           ValueRange weights, Value residual, FormatAttr format) {
  auto gf = gemmFormatOf(format, L);
  if (!gf) return op->emitError() << gf.message(), failure();
  const int64_t k = cast<RankedTensorType>(weights[0].getType()).getDimSize(1);
  int64_t n = 0;
  for (Value w : weights) n += cast<RankedTensorType>(w.getType()).getDimSize(0);
  const int64_t group = *gf == GemmFormat::W4A16 ? format.getGroupSize() : 128;
  if (Status s = gemmLegal(*L.target, *gf, k, group); !s)
    return op->emitError() << layerOf(op) << ": " << s.message(), failure();
  const bool wantCodes = *gf == GemmFormat::INT8 || *gf == GemmFormat::FP8;
  if (wantCodes && !scales) { // the quantization qcc-fuse would have made explicit
    KernelSpec q;
    q.kind = KernelKind::Quantize;
    q.width = k;
    q.threads = blockFor(k);
    q.quant = *gf == GemmFormat::INT8 ? cuda::QuantOut::Int8 : cuda::QuantOut::Fp8;
    auto codes = RankedTensorType::get(cast<RankedTensorType>(a.getType()).getShape(),
                                       format.getWeightStorageType(op->getContext()));
    auto sc = RankedTensorType::get({rowsOf(a)}, rw.getF32Type());
    auto quantize = qcck::QuantizeOp::create(rw, op->getLoc(), codes, sc, a, ArrayAttr(), rw.getI64IntegerAttr(k),
                                             rw.getI64IntegerAttr(quantCode(format)), rw.getI64IntegerAttr(q.threads));
    ArrayAttr v;
    if (failed(variantsFor(quantize, cuda::kernelSpecOf(quantize, {}, L.maxSeq).value(), L, v))) return failure();
    quantize.setVariantsAttr(v);
    a = quantize.getCodes();
    scales = quantize.getScales();
  }
  if (!wantCodes) scales = Value();
  Type elem = cast<RankedTensorType>(op->getResult(0).getType()).getElementType();
  auto type = RankedTensorType::get({rowsOf(a), n}, elem);
  auto gemm = qcck::GemmOp::create(rw, op->getLoc(), type, a, scales, weights, residual, ArrayAttr(),
                                   rw.getI64IntegerAttr(int64_t(*gf)), rw.getI64IntegerAttr(n),
                                   rw.getI64IntegerAttr(k), rw.getI64IntegerAttr(group),
                                   rw.getStringAttr(gemmLayerName(op)));
  auto spec = cuda::kernelSpecOf(gemm, {}, L.maxSeq);
  ArrayAttr v;
  if (!spec || failed(variantsFor(gemm, *spec, L, v))) return failure();
  gemm.setVariantsAttr(v);
  return gemm.getResult();
}

template <typename OpT> struct LowerPattern : OpConversionPattern<OpT> {
  LowerPattern(MLIRContext *ctx, const Lowering &l) : OpConversionPattern<OpT>(ctx), L(l) {}
  const Lowering &L;

  // Sets the variants of a freshly built launch op from its attributes.
  template <typename K> LogicalResult finish(K launch) const {
    auto spec = cuda::kernelSpecOf(launch, {}, L.maxSeq);
    if (!spec) return launch->emitError() << spec.message(), failure();
    ArrayAttr v;
    if (failed(variantsFor(launch, *spec, L, v))) return failure();
    launch.setVariantsAttr(v);
    return success();
  }
};

#define QCC_PATTERN(Name, OpT)                                                                                         \
  struct Name : LowerPattern<OpT> {                                                                                    \
    using LowerPattern::LowerPattern;                                                                                  \
    LogicalResult matchAndRewrite(OpT op, OpAdaptor a, ConversionPatternRewriter &rw) const override;                  \
  };

QCC_PATTERN(EmbeddingPattern, EmbeddingOp)
QCC_PATTERN(NormPattern, RMSNormOp)
QCC_PATTERN(NormQuantizePattern, RMSNormQuantizeOp)
QCC_PATTERN(LinearPattern, LinearOp)
QCC_PATTERN(FusedLinearPattern, FusedLinearOp)
QCC_PATTERN(LogitsPattern, LogitsOp)
QCC_PATTERN(RopePattern, RopeOp)
QCC_PATTERN(AttentionPattern, AttentionOp)
QCC_PATTERN(SwiGLUPattern, SwiGLUOp)
QCC_PATTERN(SwiGLUQuantizePattern, SwiGLUQuantizeOp)
QCC_PATTERN(AddPattern, AddOp)
QCC_PATTERN(QuantizePattern, QuantizeOp)
QCC_PATTERN(ReturnPattern, func::ReturnOp)

LogicalResult EmbeddingPattern::matchAndRewrite(EmbeddingOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto table = cast<RankedTensorType>(a.getTable().getType());
  auto e = qcck::EmbeddingOp::create(rw, op.getLoc(), op.getType(), a.getIds(), a.getTable(), ArrayAttr(),
                                     rw.getI64IntegerAttr(table.getDimSize(0)),
                                     rw.getI64IntegerAttr(table.getDimSize(1)));
  if (failed(finish(e))) return failure();
  rw.replaceOp(op, e.getResult());
  return success();
}

LogicalResult NormPattern::matchAndRewrite(RMSNormOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  const int64_t w = cols(op.getInput());
  auto n = qcck::RMSNormOp::create(rw, op.getLoc(), TypeRange{op.getType()}, a.getInput(), a.getWeight(), ArrayAttr(),
                                   op.getEpsilonAttr(), rw.getI64IntegerAttr(w), rw.getI64IntegerAttr(0),
                                   rw.getI64IntegerAttr(blockFor(w)));
  if (failed(finish(n))) return failure();
  rw.replaceOp(op, n.getResults());
  return success();
}

LogicalResult NormQuantizePattern::matchAndRewrite(RMSNormQuantizeOp op, OpAdaptor a,
                                                   ConversionPatternRewriter &rw) const {
  const int64_t w = cols(op.getInput());
  auto n = qcck::RMSNormOp::create(rw, op.getLoc(), op->getResultTypes(), a.getInput(), a.getWeight(), ArrayAttr(),
                                   op.getEpsilonAttr(), rw.getI64IntegerAttr(w),
                                   rw.getI64IntegerAttr(quantCode(op.getFormat())), rw.getI64IntegerAttr(blockFor(w)));
  if (failed(finish(n))) return failure();
  rw.replaceOp(op, n.getResults());
  return success();
}

LogicalResult LinearPattern::matchAndRewrite(LinearOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto g = buildGemm(op, rw, L, a.getInput(), a.getInputScales(), ValueRange{a.getWeight()}, a.getResidual(),
                     op.getFormat());
  if (failed(g)) return failure();
  rw.replaceOp(op, *g);
  return success();
}

LogicalResult FusedLinearPattern::matchAndRewrite(FusedLinearOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto g = buildGemm(op, rw, L, a.getInput(), a.getInputScales(), a.getWeights(), Value(), op.getFormat());
  if (failed(g)) return failure();
  // Each result: its columns of the stacked output.
  SmallVector<Value> parts;
  int64_t offset = 0;
  for (Value r : op.getResults()) {
    parts.push_back(qcck::SliceOp::create(rw, op.getLoc(), r.getType(), *g, rw.getI64IntegerAttr(offset)));
    offset += cols(r);
  }
  rw.replaceOp(op, parts);
  return success();
}

LogicalResult LogitsPattern::matchAndRewrite(LogitsOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto g = buildGemm(op, rw, L, a.getInput(), Value(), ValueRange{a.getWeight()}, Value(), op.getFormat());
  if (failed(g)) return failure();
  rw.replaceOp(op, *g);
  return success();
}

LogicalResult RopePattern::matchAndRewrite(RopeOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  Value q = a.getInputs()[0], k = a.getInputs().size() > 1 ? a.getInputs()[1] : Value();
  auto r = qcck::RopeOp::create(rw, op.getLoc(), op->getResultTypes(), q, k, a.getPositions(), ArrayAttr(),
                                rw.getI64IntegerAttr(op.getHeads()[0]),
                                rw.getI64IntegerAttr(k ? op.getHeads()[1] : 0), op.getHeadDimAttr(),
                                rw.getI64IntegerAttr(rowStride(q)), rw.getI64IntegerAttr(k ? rowStride(k) : 0),
                                op.getThetaAttr(), op.getScalingAttr());
  if (failed(finish(r))) return failure();
  rw.replaceOp(op, r.getResults());
  return success();
}

LogicalResult AttentionPattern::matchAndRewrite(AttentionOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto store = qcck::KVStoreOp::create(rw, op.getLoc(), a.getKey(), a.getValue(), a.getPositions(), ArrayAttr(),
                                       op.getCacheAttr(), op.getNumKvHeadsAttr(), op.getHeadDimAttr(),
                                       rw.getI64IntegerAttr(rowStride(a.getKey())),
                                       rw.getI64IntegerAttr(rowStride(a.getValue())));
  if (failed(finish(store))) return failure();
  auto att = qcck::AttentionOp::create(rw, op.getLoc(), op.getType(), a.getQuery(), a.getPositions(), ArrayAttr(),
                                       op.getCacheAttr(), op.getNumHeadsAttr(), op.getNumKvHeadsAttr(),
                                       op.getHeadDimAttr(), rw.getI64IntegerAttr(rowStride(a.getQuery())));
  if (failed(finish(att))) return failure();
  rw.replaceOp(op, att.getResult());
  return success();
}

static FailureOr<qcck::SwiGLUOp> swiglu(Operation *op, ConversionPatternRewriter &rw, Value gate, Value up,
                                        int64_t quant, TypeRange types) {
  const int64_t w = cols(gate);
  return qcck::SwiGLUOp::create(rw, op->getLoc(), types, gate, up, ArrayAttr(), rw.getI64IntegerAttr(w),
                                rw.getI64IntegerAttr(rowStride(gate)), rw.getI64IntegerAttr(rowStride(up)),
                                rw.getI64IntegerAttr(quant), rw.getI64IntegerAttr(256));
}

LogicalResult SwiGLUPattern::matchAndRewrite(SwiGLUOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto s = swiglu(op, rw, a.getGate(), a.getUp(), 0, TypeRange{op.getType()});
  if (failed(s) || failed(finish(*s))) return failure();
  rw.replaceOp(op, s->getResults());
  return success();
}

LogicalResult SwiGLUQuantizePattern::matchAndRewrite(SwiGLUQuantizeOp op, OpAdaptor a,
                                                     ConversionPatternRewriter &rw) const {
  auto s = swiglu(op, rw, a.getGate(), a.getUp(), quantCode(op.getFormat()), op->getResultTypes());
  if (failed(s) || failed(finish(*s))) return failure();
  rw.replaceOp(op, s->getResults());
  return success();
}

LogicalResult AddPattern::matchAndRewrite(AddOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  auto add = qcck::AddOp::create(rw, op.getLoc(), op.getType(), a.getLhs(), a.getRhs(), ArrayAttr(),
                                 rw.getI64IntegerAttr(cols(op.getResult())));
  if (failed(finish(add))) return failure();
  rw.replaceOp(op, add.getResult());
  return success();
}

LogicalResult QuantizePattern::matchAndRewrite(QuantizeOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  const int64_t w = cols(op.getInput());
  auto q = qcck::QuantizeOp::create(rw, op.getLoc(), op->getResultTypes(), a.getInput(), ArrayAttr(),
                                    rw.getI64IntegerAttr(w), rw.getI64IntegerAttr(quantCode(op.getFormat())),
                                    rw.getI64IntegerAttr(blockFor(w)));
  if (failed(finish(q))) return failure();
  rw.replaceOp(op, q.getResults());
  return success();
}

LogicalResult ReturnPattern::matchAndRewrite(func::ReturnOp op, OpAdaptor a, ConversionPatternRewriter &rw) const {
  if (a.getOperands().size() != 1) return op.emitError("@forward returns one value, the logits"), failure();
  rw.replaceOpWithNewOp<qcck::ReturnOp>(op, a.getOperands()[0]);
  return success();
}

// A target without fp8 tensor cores runs fp8 linears on bf16 activations:
// the activation quantization qcc-fuse made explicit for them is undone in
// that target's copy of the graph.
void undoFp8ActivationQuantization(Block &body) {
  auto floatInput = [&](Value codes, Operation *at) -> Value {
    OpBuilder b(at);
    Operation *def = codes.getDefiningOp();
    if (auto q = dyn_cast_or_null<QuantizeOp>(def)) return q.getInput();
    if (auto n = dyn_cast_or_null<RMSNormQuantizeOp>(def)) {
      b.setInsertionPoint(n);
      return RMSNormOp::create(b, n.getLoc(), n.getInput(), n.getWeight(), n.getEpsilonAttr()).getResult();
    }
    if (auto s = dyn_cast_or_null<SwiGLUQuantizeOp>(def)) {
      b.setInsertionPoint(s);
      return SwiGLUOp::create(b, s.getLoc(), s.getGate(), s.getUp()).getResult();
    }
    return Value();
  };
  for (Operation &opRef : llvm::make_early_inc_range(body)) {
    if (auto l = dyn_cast<LinearOp>(&opRef); l && l.getFormat().getKind() == FormatKind::fp8 && l.getInputScales()) {
      Value x = floatInput(l.getInput(), l);
      if (!x) continue;
      OpBuilder b(l);
      auto n = LinearOp::create(b, l.getLoc(), l.getType(), x, Value(), l.getWeight(), l.getResidual(), l.getFormat(),
                                l.getLayerAttr());
      l.replaceAllUsesWith(n.getResult());
      l.erase();
    } else if (auto f = dyn_cast<FusedLinearOp>(&opRef);
               f && f.getFormat().getKind() == FormatKind::fp8 && f.getInputScales()) {
      Value x = floatInput(f.getInput(), f);
      if (!x) continue;
      OpBuilder b(f);
      auto n = FusedLinearOp::create(b, f.getLoc(), f->getResultTypes(), x, Value(), f.getWeights(), f.getFormat(),
                                     f.getLayers());
      f->replaceAllUsesWith(n->getResults());
      f.erase();
    }
  }
  for (Operation &opRef : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isa<QuantizeOp, RMSNormQuantizeOp, SwiGLUQuantizeOp>(&opRef) && opRef.use_empty()) opRef.erase();
}

} // namespace

Expected<qcck::ProgramOp> lowerForTarget(func::FuncOp forward, const cuda::GpuTarget &target, bool fp8WeightOnly,
                                         const cuda::TileTable *tiles, int64_t maxSeq) {
  ModuleOp module = forward->getParentOfType<ModuleOp>();
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto program = qcck::ProgramOp::create(b, forward.getLoc(), b.getStringAttr(target.name),
                                         b.getI64IntegerAttr(maxSeq), DenseI64ArrayAttr(), StringAttr());
  if (tiles) {
    const cuda::TileTable mine = tiles->forTarget(target.name);
    if (!mine.entries.empty()) program.setTileTableAttr(b.getStringAttr(cuda::tileTableJson(mine)));
  }
  Block *body = b.createBlock(&program.getBody());
  IRMapping map;
  for (BlockArgument arg : forward.getBody().front().getArguments())
    map.map(arg, body->addArgument(arg.getType(), arg.getLoc()));
  b.setInsertionPointToEnd(body);
  for (Operation &op : forward.getBody().front()) b.clone(op, map);
  if (!target.hasFp8Mma && fp8WeightOnly) undoFp8ActivationQuantization(*body);

  Lowering L{&target, fp8WeightOnly, tiles, maxSeq};
  ConversionTarget legal(*ctx);
  legal.addLegalDialect<qcck::QcckDialect>();
  legal.addLegalOp<WeightOp, QuantizedWeightOp, QuantizeWeightOp>();
  // The rules of the target: no GEMM in a format or shape it cannot run.
  legal.addDynamicallyLegalOp<qcck::GemmOp>([&](qcck::GemmOp g) {
    return gemmLegal(target, GemmFormat(g.getFormat()), g.getK(), g.getGroup()).isOk();
  });
  legal.addIllegalDialect<QccDialect>();
  legal.addIllegalOp<func::ReturnOp>();
  RewritePatternSet patterns(ctx);
  patterns.add<EmbeddingPattern, NormPattern, NormQuantizePattern, LinearPattern, FusedLinearPattern, LogitsPattern,
               RopePattern, AttentionPattern, SwiGLUPattern, SwiGLUQuantizePattern, AddPattern, QuantizePattern,
               ReturnPattern>(ctx, L);
  // The pattern that failed said why; the framework's own "failed to
  // legalize" note after it would only repeat it.
  ScopedDiagnosticHandler quiet(ctx, [](Diagnostic &d) {
    return success(d.getSeverity() == DiagnosticSeverity::Error && d.str().rfind("failed to legalize", 0) == 0);
  });
  if (failed(applyFullConversion(program, legal, std::move(patterns)))) {
    program.erase();
    return Status::error(std::string("the graph cannot be lowered to the ") + target.name + " kernels");
  }
  return program;
}

int64_t kernelMaxSeq(ModuleOp module, int64_t requested) {
  if (requested > 0) return requested;
  auto config = modelConfigOf(module);
  const int64_t cap = 8192;
  return config && config->maxPositionEmbeddings > 0 ? std::min(config->maxPositionEmbeddings, cap) : cap;
}

namespace {

struct LowerToKernelsPass : impl::QccLowerToKernelsBase<LowerToKernelsPass> {
  using QccLowerToKernelsBase::QccLowerToKernelsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    recordPass(module, *this);
    auto fail = [&](const std::string &m) {
      mlir::emitError(module.getLoc(), "qcc-lower-to-kernels: ") << m;
      signalPassFailure();
    };
    auto list = parseTargetList(targets);
    if (!list) return fail(list.message());
    if (list->empty()) return fail("no target to lower for");
    cuda::TileTable table;
    if (!tilesFile.empty()) {
      auto t = cuda::readTileTable(tilesFile);
      if (!t) return fail(t.message());
      table = std::move(*t);
    }
    auto fn = forwardFunction(module);
    if (!fn) return fail(fn.message());
    // Existing programs (a second run) are replaced.
    for (Operation &op : llvm::make_early_inc_range(*module.getBody()))
      if (isa<qcck::ProgramOp>(op)) op.erase();
    for (const TargetInfo &t : *list) {
      auto gpu = cuda::findTarget(t.gpuArch);
      if (!gpu) return fail(gpu.message());
      auto p = lowerForTarget(*fn, **gpu, allowFp8WeightOnly, tilesFile.empty() ? nullptr : &table,
                              kernelMaxSeq(module, maxSeq));
      if (!p) return signalPassFailure(); // the op that could not be lowered said why
    }
  }
};

} // namespace
} // namespace qcc
