// The qcc dialect: ops, attributes and enums (generated from QccBase.td / QccOps.td).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace qcc {
// The KV caches qcc.attention stores keys and values in (a side effect the
// op's MemoryEffects name, so that no pass drops or reorders attention).
struct KVCacheResource : public mlir::SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "qcc.kv_cache"; }
};
} // namespace qcc

#include "dialects/qcc/QccEnums.h.inc"
#include "dialects/qcc/QccDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/qcc/QccAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/qcc/QccOps.h.inc"
