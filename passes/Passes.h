// The one registration header of qcc passes, shared by every tool.
#pragma once

#include "dialects/qcc/QccDialect.h"
#include "dialects/qcck/QcckDialect.h"
#include "mlir/Pass/Pass.h"

namespace qcc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

// Registers the qcc dialect and the upstream dialects qcc IR uses.
void registerQccDialects(mlir::DialectRegistry &registry);

} // namespace qcc
