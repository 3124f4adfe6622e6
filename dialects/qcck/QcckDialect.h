// The qcc kernel dialect (qcck): one op per CUDA kernel launch of a target.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/qcck/QcckDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/qcck/QcckAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/qcck/QcckOps.h.inc"
