// The qcc dialect: registration, attribute parsing/printing and verifiers.
#include "dialects/qcc/QccDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace qcc;

#include "dialects/qcc/QccEnums.cpp.inc"
#include "dialects/qcc/QccDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/qcc/QccAttrs.cpp.inc"

void QccDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/qcc/QccAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/qcc/QccOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// FormatAttr:  #qcc.format<bf16> | <fp8> | <int8> | <w4a16, group = 128>
//===----------------------------------------------------------------------===//

Attribute FormatAttr::parse(AsmParser &parser, Type) {
  StringRef keyword;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  std::optional<FormatKind> kind = symbolizeFormatKind(keyword);
  if (!kind) {
    parser.emitError(loc, "unknown format '") << keyword << "' (expected bf16, fp8, int8 or w4a16)";
    return {};
  }
  int64_t group = 0;
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("group") || parser.parseEqual() || parser.parseInteger(group))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<FormatAttr>(loc, parser.getContext(), *kind, group);
}

void FormatAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyFormatKind(getKind());
  if (getGroupSize() != 0)
    printer << ", group = " << getGroupSize();
  printer << ">";
}

LogicalResult FormatAttr::verify(function_ref<InFlightDiagnostic()> emitError, FormatKind kind,
                                 int64_t groupSize) {
  if (kind == FormatKind::w4a16) {
    if (groupSize <= 0 || groupSize % 8 != 0)
      return emitError() << "w4a16 needs a positive group size that is a multiple of 8, got "
                         << groupSize;
  } else if (groupSize != 0) {
    return emitError() << "format " << stringifyFormatKind(kind)
                       << " is per-channel and takes no group size";
  }
  return success();
}

Type FormatAttr::getWeightStorageType(MLIRContext *ctx) const {
  switch (getKind()) {
  case FormatKind::bf16: return {};
  case FormatKind::fp8: return Float8E4M3FNType::get(ctx);
  case FormatKind::int8: return IntegerType::get(ctx, 8);
  case FormatKind::w4a16: return IntegerType::get(ctx, 4);
  }
  return {};
}

//===----------------------------------------------------------------------===//
// ParamAttr:  #qcc.param<@archive["key"], "hash">
//===----------------------------------------------------------------------===//

Attribute ParamAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  FlatSymbolRefAttr archive;
  std::string key, hash;
  if (parser.parseLess() || parser.parseAttribute(archive) || parser.parseLSquare() ||
      parser.parseString(&key) || parser.parseRSquare() || parser.parseComma() || parser.parseString(&hash) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<ParamAttr>(loc, parser.getContext(), archive, key, hash);
}

void ParamAttr::print(AsmPrinter &printer) const {
  printer << "<" << getArchive() << "[\"";
  llvm::printEscapedString(getKey(), printer.getStream());
  printer << "\"], \"" << getHash() << "\">";
}

LogicalResult ParamAttr::verify(function_ref<InFlightDiagnostic()> emitError, FlatSymbolRefAttr archive,
                                StringRef key, StringRef hash) {
  if (!archive) return emitError() << "a parameter needs an archive";
  if (key.empty()) return emitError() << "a parameter needs a non-empty key";
  if (hash.size() != 32 || !llvm::all_of(hash, [](char c) { return llvm::isDigit(c) || (c >= 'a' && c <= 'f'); }))
    return emitError() << "parameter hash '" << hash << "' is not 32 lowercase hex digits (XXH3-128)";
  return success();
}

//===----------------------------------------------------------------------===//
// RopeScalingAttr
//===----------------------------------------------------------------------===//

Attribute RopeScalingAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  double factor, low, high;
  int64_t original;
  if (parser.parseLess() || parser.parseKeyword("factor") || parser.parseEqual() ||
      parser.parseFloat(factor) || parser.parseComma() ||
      parser.parseKeyword("low_freq_factor") || parser.parseEqual() || parser.parseFloat(low) ||
      parser.parseComma() || parser.parseKeyword("high_freq_factor") || parser.parseEqual() ||
      parser.parseFloat(high) || parser.parseComma() ||
      parser.parseKeyword("original_max_position_embeddings") || parser.parseEqual() ||
      parser.parseInteger(original) || parser.parseGreater())
    return {};
  return parser.getChecked<RopeScalingAttr>(loc, parser.getContext(), APFloat(factor), APFloat(low),
                                            APFloat(high), original);
}

void RopeScalingAttr::print(AsmPrinter &printer) const {
  printer << "<factor = " << getFactor().convertToDouble()
          << ", low_freq_factor = " << getLowFreqFactor().convertToDouble()
          << ", high_freq_factor = " << getHighFreqFactor().convertToDouble()
          << ", original_max_position_embeddings = " << getOriginalMaxPositionEmbeddings() << ">";
}

LogicalResult RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError, APFloat factor,
                                      APFloat low, APFloat high, int64_t original) {
  if (!(factor.convertToDouble() >= 1.0))
    return emitError() << "llama3 rope scaling factor must be >= 1, got " << factor.convertToDouble();
  if (!(low.convertToDouble() > 0.0) || !(high.convertToDouble() > low.convertToDouble()))
    return emitError() << "llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor, got "
                       << low.convertToDouble() << " and " << high.convertToDouble();
  if (original <= 0)
    return emitError() << "original_max_position_embeddings must be positive, got " << original;
  return success();
}
