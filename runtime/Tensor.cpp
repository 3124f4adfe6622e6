#include "runtime/Tensor.h"

namespace qcc {

const char *dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::F8E4M3: return "F8_E4M3";
  case DType::I8: return "I8";
  case DType::I32: return "I32";
  case DType::U8: return "U8";
  case DType::F64: return "F64";
  case DType::I16: return "I16";
  case DType::I64: return "I64";
  case DType::U16: return "U16";
  case DType::U32: return "U32";
  case DType::U64: return "U64";
  case DType::BOOL: return "BOOL";
  }
  return "?";
}

} // namespace qcc
