// Verifiers of the qcc ops: what the ODS traits cannot say (shape agreement,
// head counts, group sizes, formats agreeing with weight storage types).
#include "dialects/qcc/QccDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
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

// A weight's element type must be float (not yet quantized) or the storage
// type of `format`.
static LogicalResult verifyWeightAgainstFormat(Operation *op, RankedTensorType weight,
                                               FormatAttr format) {
  Type elem = weight.getElementType();
  if (isa<FloatType>(elem) && !isa<Float8E4M3FNType>(elem))
    return success();
  Type expected = format.getWeightStorageType(op->getContext());
  if (!expected)
    return op->emitOpError() << "weight of element type " << elem
                             << " is quantized but the format is bf16";
  if (elem != expected)
    return op->emitOpError() << "weight of element type " << elem << " does not match format "
                             << stringifyFormatKind(format.getKind()) << " (expects " << expected
                             << ")";
  return success();
}

static LogicalResult verifyGroupDividesK(Operation *op, FormatAttr format, int64_t k) {
  if (format.getKind() != FormatKind::w4a16 || ShapedType::isDynamic(k))
    return success();
  if (k % format.getGroupSize() != 0)
    return op->emitOpError() << "group size " << format.getGroupSize()
                             << " does not divide the input dimension " << k;
  return success();
}

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty weight name");
  if (auto value = getValueAttr()) {
    if (value.getType() != getType())
      return emitOpError() << "inline value of type " << value.getType()
                           << " does not match the result type " << getType();
  }
  return success();
}

LogicalResult QuantizedWeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty weight name");
  FormatAttr format = getFormat();
  if (!format.isQuantized())
    return emitOpError("needs a quantized format, got bf16");
  RankedTensorType type = getType();
  if (type.getElementType() != format.getWeightStorageType(getContext()))
    return emitOpError() << "format " << stringifyFormatKind(format.getKind()) << " stores "
                         << format.getWeightStorageType(getContext()) << " codes, got "
                         << type.getElementType();
  if (getMethod() == QuantMethod::awq && format.getKind() != FormatKind::w4a16)
    return emitOpError("method awq is only defined for w4a16");
  if (static_cast<bool>(getCodesAttr()) != static_cast<bool>(getScalesAttr()))
    return emitOpError("inline codes and scales come together");
  if (auto codes = getCodesAttr()) {
    if (codes.getType() != type)
      return emitOpError() << "inline codes of type " << codes.getType()
                           << " do not match the result type " << type;
    auto scales = cast<ShapedType>(getScalesAttr().getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    SmallVector<int64_t> expected = {n};
    if (format.getKind() == FormatKind::w4a16 && !ShapedType::isDynamic(k))
      expected.push_back(k / format.getGroupSize());
    if (!scales.getElementType().isF32() || scales.getShape() != ArrayRef<int64_t>(expected))
      return emitOpError() << "inline scales must be f32 of shape [" << llvm::join(llvm::map_range(expected, [](int64_t d) { return std::to_string(d); }), ", ") << "], got " << scales;
  }
  return verifyGroupDividesK(*this, format, type.getDimSize(1));
}

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType(), result = getType();
  if (!dimsAgree(result.getDimSize(1), table.getDimSize(1)))
    return emitOpError() << "result width " << dimString(result.getDimSize(1))
                         << " differs from the table width " << dimString(table.getDimSize(1));
  if (!dimsAgree(result.getDimSize(0), getIds().getType().getDimSize(0)))
    return emitOpError("result rows differ from the number of token ids");
  return success();
}

LogicalResult RMSNormOp::verify() {
  RankedTensorType input = getInput().getType();
  int64_t width = getWeight().getType().getDimSize(0);
  if (!dimsAgree(width, input.getDimSize(1)))
    return emitOpError() << "weight length " << dimString(width)
                         << " differs from the feature dimension " << dimString(input.getDimSize(1));
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError("epsilon must be positive");
  return success();
}

LogicalResult LinearOp::verify() {
  RankedTensorType input = getInput().getType(), weight = ranked(getWeight()), result = getType();
  int64_t k = input.getDimSize(1);
  if (!dimsAgree(k, weight.getDimSize(1)))
    return emitOpError() << "input features " << dimString(k) << " differ from the weight's input dimension "
                         << dimString(weight.getDimSize(1)) << " (weights are [N, K])";
  if (!dimsAgree(result.getDimSize(1), weight.getDimSize(0)))
    return emitOpError() << "result features " << dimString(result.getDimSize(1))
                         << " differ from the weight's output dimension " << dimString(weight.getDimSize(0));
  if (!dimsAgree(result.getDimSize(0), input.getDimSize(0)))
    return emitOpError("result rows differ from the input rows");
  if (failed(verifyWeightAgainstFormat(*this, weight, getFormat())))
    return failure();
  return verifyGroupDividesK(*this, getFormat(), weight.getDimSize(1));
}

LogicalResult RopeOp::verify() {
  int64_t heads = getNumHeads(), headDim = getHeadDim();
  if (heads <= 0 || headDim <= 0)
    return emitOpError("num_heads and head_dim must be positive");
  if (headDim % 2 != 0)
    return emitOpError() << "head_dim must be even for rotate-half pairs, got " << headDim;
  if (!(getTheta().convertToDouble() > 0.0))
    return emitOpError("theta must be positive");
  RankedTensorType input = getInput().getType();
  if (!dimsAgree(input.getDimSize(1), heads * headDim))
    return emitOpError() << "feature dimension " << dimString(input.getDimSize(1)) << " is not num_heads ("
                         << heads << ") x head_dim (" << headDim << ")";
  if (!dimsAgree(input.getDimSize(0), getPositions().getType().getDimSize(0)))
    return emitOpError("positions differ in length from the input rows");
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), headDim = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitOpError("num_heads, num_kv_heads and head_dim must be positive");
  if (heads % kvHeads != 0)
    return emitOpError() << "num_kv_heads (" << kvHeads << ") must divide num_heads (" << heads << ")";
  if (static_cast<int64_t>(getLayerIndex()) < 0)
    return emitOpError("layer_index must be non-negative");
  RankedTensorType q = getQuery().getType(), k = getKey().getType(), v = getValue().getType();
  if (!dimsAgree(q.getDimSize(1), heads * headDim))
    return emitOpError() << "query width " << dimString(q.getDimSize(1)) << " is not num_heads (" << heads
                         << ") x head_dim (" << headDim << ")";
  for (auto [name, t] : {std::pair<const char *, RankedTensorType>{"key", k}, {"value", v}}) {
    if (!dimsAgree(t.getDimSize(1), kvHeads * headDim))
      return emitOpError() << name << " width " << dimString(t.getDimSize(1)) << " is not num_kv_heads ("
                           << kvHeads << ") x head_dim (" << headDim << ")";
    if (!dimsAgree(t.getDimSize(0), q.getDimSize(0)))
      return emitOpError() << name << " rows differ from the query rows";
  }
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
  if (!dimsAgree(result.getDimSize(0), input.getDimSize(0)))
    return emitOpError("result rows differ from the input rows");
  if (failed(verifyWeightAgainstFormat(*this, weight, getFormat())))
    return failure();
  return verifyGroupDividesK(*this, getFormat(), weight.getDimSize(1));
}

LogicalResult QuantizeOp::verify() {
  FormatAttr format = getFormat();
  if (!format.quantizesActivations())
    return emitOpError() << "activations are quantized only for fp8 and int8, not "
                         << stringifyFormatKind(format.getKind());
  RankedTensorType codes = getCodes().getType();
  if (codes.getElementType() != format.getWeightStorageType(getContext()))
    return emitOpError() << "codes of element type " << codes.getElementType() << " do not match format "
                         << stringifyFormatKind(format.getKind());
  if (codes.getShape() != getInput().getType().getShape())
    return emitOpError("codes must have the shape of the input");
  if (!dimsAgree(getScales().getType().getDimSize(0), codes.getDimSize(0)))
    return emitOpError("there must be one scale per token row");
  return success();
}

LogicalResult DequantizeOp::verify() {
  RankedTensorType codes = getCodes().getType();
  if (getType().getShape() != codes.getShape())
    return emitOpError("result must have the shape of the codes");
  if (!dimsAgree(getScales().getType().getDimSize(0), codes.getDimSize(0)))
    return emitOpError("there must be one scale per token row");
  return success();
}
