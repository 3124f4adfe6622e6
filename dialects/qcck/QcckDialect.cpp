// The qcck dialect: registration, attribute syntax and verifiers.
#include "dialects/qcck/QcckDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace qcc::qcck;

#include "dialects/qcck/QcckDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/qcck/QcckAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/qcck/QcckOps.cpp.inc"

void QcckDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/qcck/QcckAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/qcck/QcckOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// #qcck.dim<8> | #qcck.dim<rows * 4 / 64>
//===----------------------------------------------------------------------===//

Attribute GridDimAttr::parse(AsmParser &parser, Type) {
  int64_t constant = 0, mul = 0, div = 0;
  if (parser.parseLess()) return {};
  if (succeeded(parser.parseOptionalKeyword("rows"))) {
    if (parser.parseStar() || parser.parseInteger(mul) || parser.parseSlash() || parser.parseInteger(div))
      return {};
  } else if (parser.parseInteger(constant)) {
    return {};
  }
  if (parser.parseGreater()) return {};
  return GridDimAttr::get(parser.getContext(), constant, mul, div);
}

void GridDimAttr::print(AsmPrinter &p) const {
  if (getRowsDiv() == 0) p << "<" << getConstant() << ">";
  else p << "<rows * " << getRowsMul() << " / " << getRowsDiv() << ">";
}

//===----------------------------------------------------------------------===//
// #qcck.variant<max_rows = M, tile = [...], kernel = "...", grid = [...], block = B>
//===----------------------------------------------------------------------===//

Attribute VariantAttr::parse(AsmParser &parser, Type) {
  int64_t maxRows = 0, block = 0;
  SmallVector<int64_t> tile;
  std::string kernel;
  SmallVector<GridDimAttr> grid;
  auto parseTile = [&]() -> ParseResult {
    int64_t v;
    if (parser.parseInteger(v)) return failure();
    tile.push_back(v);
    return success();
  };
  auto parseDim = [&]() -> ParseResult {
    GridDimAttr d;
    if (parser.parseAttribute(d)) return failure();
    grid.push_back(d);
    return success();
  };
  if (parser.parseLess() || parser.parseKeyword("max_rows") || parser.parseEqual() || parser.parseInteger(maxRows) ||
      parser.parseComma() || parser.parseKeyword("tile") || parser.parseEqual() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseTile) || parser.parseComma() ||
      parser.parseKeyword("kernel") || parser.parseEqual() || parser.parseString(&kernel) || parser.parseComma() ||
      parser.parseKeyword("grid") || parser.parseEqual() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseDim) || parser.parseComma() ||
      parser.parseKeyword("block") || parser.parseEqual() || parser.parseInteger(block) || parser.parseGreater())
    return {};
  if (grid.size() != 3) {
    parser.emitError(parser.getCurrentLocation(), "a kernel variant's grid has 3 dimensions");
    return {};
  }
  return VariantAttr::get(parser.getContext(), maxRows, tile, kernel, grid, block);
}

void VariantAttr::print(AsmPrinter &p) const {
  p << "<max_rows = " << getMaxRows() << ", tile = [";
  llvm::interleaveComma(getTile(), p);
  p << "], kernel = \"" << getKernel() << "\", grid = [";
  llvm::interleaveComma(getGrid(), p, [&](GridDimAttr d) { p.printAttribute(d); });
  p << "], block = " << getBlock() << ">";
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

LogicalResult ProgramOp::verify() {
  Block &body = getBody().front();
  if (body.getNumArguments() != 2) return emitOpError("takes token ids and positions");
  if (body.empty() || !isa<ReturnOp>(body.back())) return emitOpError("must end with qcck.return");
  if (getMaxSeq() <= 0) return emitOpError("max_seq must be positive");
  return success();
}

LogicalResult SliceOp::verify() {
  auto src = cast<RankedTensorType>(getSource().getType()), res = cast<RankedTensorType>(getType());
  if (src.getRank() != 2 || res.getRank() != 2) return emitOpError("slices [T, W] values");
  const int64_t offset = static_cast<int64_t>(getOffset());
  if (offset < 0 || offset + res.getDimSize(1) > src.getDimSize(1))
    return emitOpError() << "columns [" << offset << ", " << offset + res.getDimSize(1)
                         << ") are outside the source's " << src.getDimSize(1);
  return success();
}

// quant 0: one bf16 result; 1 (int8) or 2 (fp8): codes and per-token scales.
static LogicalResult verifyQuantResults(Operation *op, int64_t quant) {
  if (quant < 0 || quant > 2) return op->emitOpError() << "unknown quant " << quant << " (0 none, 1 int8, 2 fp8)";
  const size_t want = quant == 0 ? 1 : 2;
  if (op->getNumResults() != want) return op->emitOpError() << "quant " << quant << " gives " << want << " results";
  return success();
}

LogicalResult RMSNormOp::verify() { return verifyQuantResults(*this, getQuant()); }

LogicalResult SwiGLUOp::verify() { return verifyQuantResults(*this, getQuant()); }

LogicalResult GemmOp::verify() {
  if (getWeights().empty()) return emitOpError("needs at least one weight");
  if (static_cast<int64_t>(getFormat()) < 0 || getFormat() > 4) return emitOpError("unknown GEMM format");
  const bool quantizedActivations = getFormat() == 1 || getFormat() == 2;
  if (quantizedActivations != static_cast<bool>(getScales()))
    return emitOpError("int8 and fp8 GEMMs (and only they) read token scales");
  return success();
}
