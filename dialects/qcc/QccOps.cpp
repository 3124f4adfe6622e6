// Verifiers of the qcc ops: what the ODS traits cannot say (shape agreement,
// head counts, group sizes, formats agreeing with weight storage types,
// parameters naming archives of the module).
#include "dialects/qcc/QccDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace qcc;

#define GET_OP_CLASSES
#include "dialects/qcc/QccOps.cpp.inc"

// Two dimensions agree when equal or when either is dynamic.
static bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

static RankedTensorType ranked(Value v) { return cast<RankedTensorType>(v.getType()); }

static std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

static bool isCodes(Type t) { return isa<IntegerType, Float8E4M3FNType>(cast<RankedTensorType>(t).getElementType()); }

// A weight's element type must be float (not yet quantized) or the storage
// type of `format`.
static LogicalResult verifyWeightAgainstFormat(Operation *op, RankedTensorType weight, FormatAttr format) {
  Type elem = weight.getElementType();
  if (isa<FloatType>(elem) && !isa<Float8E4M3FNType>(elem)) return success();
  Type expected = format.getWeightStorageType(op->getContext());
  if (!expected)
    return op->emitOpError() << "weight of element type " << elem << " is quantized but the format is bf16";
  if (elem != expected)
    return op->emitOpError() << "weight of element type " << elem << " does not match format "
                             << stringifyFormatKind(format.getKind()) << " (expects " << expected << ")";
  return success();
}

static LogicalResult verifyGroupDividesK(Operation *op, FormatAttr format, int64_t k) {
  if (format.getKind() != FormatKind::w4a16 || ShapedType::isDynamic(k)) return success();
  if (k % format.getGroupSize() != 0)
    return op->emitOpError() << "group size " << format.getGroupSize() << " does not divide the input dimension "
                             << k;
  return success();
}

// The activation input of a linear: float, or the codes of its own W8A8
// format with their per-token scales.
static LogicalResult verifyLinearInput(Operation *op, Value input, Value scales, FormatAttr format) {
  if (!isCodes(input.getType())) {
    if (scales) return op->emitOpError("token scales are given with a float input");
    return success();
  }
  if (!format.quantizesActivations())
    return op->emitOpError() << "a " << stringifyFormatKind(format.getKind())
                             << " linear takes float activations, not quantized codes";
  if (ranked(input).getElementType() != format.getWeightStorageType(op->getContext()))
    return op->emitOpError() << "input codes of element type " << ranked(input).getElementType()
                             << " do not match format " << stringifyFormatKind(format.getKind());
  if (!scales) return op->emitOpError("quantized input codes need their token scales");
  if (!dimsAgree(ranked(scales).getDimSize(0), ranked(input).getDimSize(0)))
    return op->emitOpError("there must be one token scale per input row");
  return success();
}

// The checks every quantizing op shares: codes of the format, one scale per row.
static LogicalResult verifyActivationCodes(Operation *op, FormatAttr format, RankedTensorType input,
                                           RankedTensorType codes, RankedTensorType scales) {
  if (!format.quantizesActivations())
    return op->emitOpError() << "activations are quantized only for fp8 and int8, not "
                             << stringifyFormatKind(format.getKind());
  if (codes.getElementType() != format.getWeightStorageType(op->getContext()))
    return op->emitOpError() << "codes of element type " << codes.getElementType() << " do not match format "
                             << stringifyFormatKind(format.getKind());
  if (codes.getShape() != input.getShape()) return op->emitOpError("codes must have the shape of the input");
  if (!dimsAgree(scales.getDimSize(0), codes.getDimSize(0)))
    return op->emitOpError("there must be one scale per token row");
  return success();
}

// A parameter names a qcc.archive of the enclosing module.
static LogicalResult verifyParamSymbol(Operation *op, ParamAttr param, SymbolTableCollection &symbols) {
  if (!param) return success();
  Operation *archive = symbols.lookupNearestSymbolFrom(op, param.getArchive());
  if (!archive || !isa<ArchiveOp>(archive))
    return op->emitOpError() << "parameter archive " << param.getArchive() << " is not a qcc.archive of the module";
  return success();
}

LogicalResult ArchiveOp::verify() {
  if (getPath().empty()) return emitOpError("needs a path");
  return success();
}

LogicalResult WeightOp::verify() {
  if (getName().empty()) return emitOpError("needs a non-empty weight name");
  if (static_cast<bool>(getParamAttr()) == static_cast<bool>(getValueAttr()))
    return emitOpError("needs either a parameter or an inline value");
  if (auto value = getValueAttr()) {
    if (value.getType() != getType())
      return emitOpError() << "inline value of type " << value.getType() << " does not match the result type "
                           << getType();
  }
  return success();
}

LogicalResult WeightOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyParamSymbol(*this, getParamAttr(), symbols);
}

LogicalResult QuantizedWeightOp::verify() {
  if (getName().empty()) return emitOpError("needs a non-empty weight name");
  FormatAttr format = getFormat();
  if (!format.isQuantized()) return emitOpError("needs a quantized format, got bf16");
  RankedTensorType type = getType();
  if (type.getElementType() != format.getWeightStorageType(getContext()))
    return emitOpError() << "format " << stringifyFormatKind(format.getKind()) << " stores "
                         << format.getWeightStorageType(getContext()) << " codes, got " << type.getElementType();
  if (getMethod() == QuantMethod::awq && format.getKind() != FormatKind::w4a16)
    return emitOpError("method awq is only defined for w4a16");
  if (static_cast<bool>(getCodesAttr()) != static_cast<bool>(getScalesAttr()))
    return emitOpError("inline codes and scales come together");
  if (static_cast<bool>(getParamAttr()) == static_cast<bool>(getCodesAttr()))
    return emitOpError("needs either a parameter or inline codes and scales");
  if (auto codes = getCodesAttr()) {
    if (codes.getType() != type)
      return emitOpError() << "inline codes of type " << codes.getType() << " do not match the result type "
                           << type;
    auto scales = cast<ShapedType>(getScalesAttr().getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    SmallVector<int64_t> expected = {n};
    if (format.getKind() == FormatKind::w4a16 && !ShapedType::isDynamic(k))
      expected.push_back(k / format.getGroupSize());
    if (!scales.getElementType().isF32() || scales.getShape() != ArrayRef<int64_t>(expected))
      return emitOpError() << "inline scales must be f32 of shape ["
                           << llvm::join(llvm::map_range(expected, [](int64_t d) { return std::to_string(d); }), ", ")
                           << "], got " << scales;
  }
  return verifyGroupDividesK(*this, format, type.getDimSize(1));
}

LogicalResult QuantizedWeightOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyParamSymbol(*this, getParamAttr(), symbols);
}

LogicalResult QuantizeWeightOp::verify() {
  FormatAttr format = getFormat();
  if (!format.isQuantized()) return emitOpError("needs a quantized format, got bf16");
  RankedTensorType in = getWeight().getType(), out = getType();
  if (out.getElementType() != format.getWeightStorageType(getContext()))
    return emitOpError() << "format " << stringifyFormatKind(format.getKind()) << " stores "
                         << format.getWeightStorageType(getContext()) << " codes, got " << out.getElementType();
  if (in.getShape() != out.getShape()) return emitOpError("codes must have the shape of the weight");
  return verifyGroupDividesK(*this, format, in.getDimSize(1));
}

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType(), result = getType();
  if (!dimsAgree(result.getDimSize(1), table.getDimSize(1)))
    return emitOpError() << "result width " << dimString(result.getDimSize(1)) << " differs from the table width "
                         << dimString(table.getDimSize(1));
  if (!dimsAgree(result.getDimSize(0), getIds().getType().getDimSize(0)))
    return emitOpError("result rows differ from the number of token ids");
  return success();
}

static LogicalResult verifyNorm(Operation *op, RankedTensorType input, RankedTensorType weight, double epsilon) {
  int64_t width = weight.getDimSize(0);
  if (!dimsAgree(width, input.getDimSize(1)))
    return op->emitOpError() << "weight length " << dimString(width) << " differs from the feature dimension "
                             << dimString(input.getDimSize(1));
  if (!(epsilon > 0.0) || !(epsilon < 1.0))
    return op->emitOpError() << "epsilon must be in (0, 1), got " << epsilon;
  return success();
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput().getType(), getWeight().getType(), getEpsilon().convertToDouble());
}

LogicalResult RMSNormQuantizeOp::verify() {
  if (failed(verifyNorm(*this, getInput().getType(), getWeight().getType(), getEpsilon().convertToDouble())))
    return failure();
  return verifyActivationCodes(*this, getFormat(), getInput().getType(), getCodes().getType(),
                               getScales().getType());
}

// x [T, K] . W [N, K]^T -> [T, N].
static LogicalResult verifyMatmulShapes(Operation *op, RankedTensorType input, RankedTensorType weight,
                                        RankedTensorType result) {
  int64_t k = input.getDimSize(1);
  if (!dimsAgree(k, weight.getDimSize(1)))
    return op->emitOpError() << "input features " << dimString(k) << " differ from the weight's input dimension "
                             << dimString(weight.getDimSize(1)) << " (weights are [N, K])";
  if (!dimsAgree(result.getDimSize(1), weight.getDimSize(0)))
    return op->emitOpError() << "result features " << dimString(result.getDimSize(1))
                             << " differ from the weight's output dimension " << dimString(weight.getDimSize(0));
  if (!dimsAgree(result.getDimSize(0), input.getDimSize(0)))
    return op->emitOpError("result rows differ from the input rows");
  return success();
}

LogicalResult LinearOp::verify() {
  RankedTensorType weight = ranked(getWeight()), result = getType();
  if (failed(verifyMatmulShapes(*this, ranked(getInput()), weight, result))) return failure();
  if (failed(verifyLinearInput(*this, getInput(), getInputScales(), getFormat()))) return failure();
  if (Value r = getResidual())
    if (r.getType() != result) return emitOpError("the residual must have the result's type");
  if (failed(verifyWeightAgainstFormat(*this, weight, getFormat()))) return failure();
  return verifyGroupDividesK(*this, getFormat(), weight.getDimSize(1));
}

LogicalResult FusedLinearOp::verify() {
  if (getWeights().size() < 2) return emitOpError("fuses at least two weights");
  if (getResults().size() != getWeights().size()) return emitOpError("needs one result per weight");
  if (getLayers().size() != getWeights().size()) return emitOpError("needs one layer name per weight");
  if (failed(verifyLinearInput(*this, getInput(), getInputScales(), getFormat()))) return failure();
  for (auto [w, r] : llvm::zip(getWeights(), getResults())) {
    if (failed(verifyMatmulShapes(*this, ranked(getInput()), ranked(w), ranked(r)))) return failure();
    if (failed(verifyWeightAgainstFormat(*this, ranked(w), getFormat()))) return failure();
    if (failed(verifyGroupDividesK(*this, getFormat(), ranked(w).getDimSize(1)))) return failure();
    if (ranked(r).getElementType() != ranked(getResults()[0]).getElementType())
      return emitOpError("results must share one element type");
  }
  return success();
}

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDim();
  if (getInputs().empty() || getInputs().size() > 2) return emitOpError("rotates one or two tensors");
  if (getResults().size() != getInputs().size()) return emitOpError("needs one result per input");
  if (getHeads().size() != getInputs().size()) return emitOpError("needs one head count per input");
  if (headDim <= 0) return emitOpError("head_dim must be positive");
  if (headDim % 2 != 0) return emitOpError() << "head_dim must be even for rotate-half pairs, got " << headDim;
  if (!(getTheta().convertToDouble() > 0.0) || !std::isfinite(getTheta().convertToDouble()))
    return emitOpError("theta must be a positive number");
  for (size_t i = 0; i < getInputs().size(); ++i) {
    RankedTensorType input = ranked(getInputs()[i]);
    int64_t heads = getHeads()[i];
    if (heads <= 0) return emitOpError("head counts must be positive");
    if (getResults()[i].getType() != input) return emitOpError("each result has the type of its input");
    if (!dimsAgree(input.getDimSize(1), heads * headDim))
      return emitOpError() << "feature dimension " << dimString(input.getDimSize(1)) << " is not heads (" << heads
                           << ") x head_dim (" << headDim << ")";
    if (!dimsAgree(input.getDimSize(0), getPositions().getType().getDimSize(0)))
      return emitOpError("positions differ in length from the input rows");
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitOpError("num_heads, num_kv_heads and head_dim must be positive");
  if (heads % kvHeads != 0)
    return emitOpError() << "num_kv_heads (" << kvHeads << ") must divide num_heads (" << heads << ")";
  if (static_cast<int64_t>(getCache()) < 0) return emitOpError("cache must be non-negative");
  RankedTensorType q = getQuery().getType(), k = getKey().getType(), v = getValue().getType();
  if (!dimsAgree(q.getDimSize(1), heads * headDim))
    return emitOpError() << "query width " << dimString(q.getDimSize(1)) << " is not num_heads (" << heads
                         << ") x head_dim (" << headDim << ")";
  for (auto [name, t] : {std::pair<const char *, RankedTensorType>{"key", k}, {"value", v}}) {
    if (!dimsAgree(t.getDimSize(1), kvHeads * headDim))
      return emitOpError() << name << " width " << dimString(t.getDimSize(1)) << " is not num_kv_heads (" << kvHeads
                           << ") x head_dim (" << headDim << ")";
    if (!dimsAgree(t.getDimSize(0), q.getDimSize(0))) return emitOpError() << name << " rows differ from the query rows";
  }
  if (getType() != q) return emitOpError("the result has the query's type");
  if (!dimsAgree(getPositions().getType().getDimSize(0), q.getDimSize(0)))
    return emitOpError("positions differ in length from the query rows");
  return success();
}

LogicalResult LogitsOp::verify() {
  RankedTensorType input = getInput().getType(), weight = ranked(getWeight()), result = getType();
  if (!dimsAgree(input.getDimSize(1), weight.getDimSize(1)))
    return emitOpError() << "input features " << dimString(input.getDimSize(1))
                         << " differ from the head's hidden dimension " << dimString(weight.getDimSize(1));
  if (!dimsAgree(result.getDimSize(1), weight.getDimSize(0)))
    return emitOpError() << "result width " << dimString(result.getDimSize(1)) << " differs from the vocabulary size "
                         << dimString(weight.getDimSize(0));
  if (!dimsAgree(result.getDimSize(0), input.getDimSize(0))) return emitOpError("result rows differ from the input rows");
  if (failed(verifyWeightAgainstFormat(*this, weight, getFormat()))) return failure();
  return verifyGroupDividesK(*this, getFormat(), weight.getDimSize(1));
}

LogicalResult QuantizeOp::verify() {
  return verifyActivationCodes(*this, getFormat(), getInput().getType(), getCodes().getType(),
                               getScales().getType());
}

LogicalResult SwiGLUQuantizeOp::verify() {
  return verifyActivationCodes(*this, getFormat(), getGate().getType(), getCodes().getType(), getScales().getType());
}
