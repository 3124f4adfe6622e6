// What the compiler did to a module, for the artifact's provenance: each qcc
// pass appends "pass-name{options}" to the module attribute `qcc.passes`.
// Options that name files say the file's base name and content hash, never
// its folder (the same compile in two checkouts gives the same bytes), and
// param-dir (where archives go) is left out.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <string>

namespace qcc {

void recordPass(mlir::ModuleOp module, mlir::Pass &pass);
// The recorded passes, space separated.
std::string recordedPasses(mlir::ModuleOp module);
// "base.ext@<16 hex digits of XXH3-128>" for a file; the path itself when unreadable.
std::string fileIdentity(const std::string &path);

} // namespace qcc
