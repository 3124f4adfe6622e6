// The kernel each qcck launch op names: its KernelSpec rebuilt from the op's
// attributes and one of its variants (the tile), so that the lowering that
// writes the attributes and the translation that compiles the kernels agree
// by construction.
#pragma once

#include "codegen/cuda/Kernels.h"
#include "dialects/qcck/QcckDialect.h"

namespace qcc::cuda {

// `maxSeq` is the program's KV-cache length (kv_store, attention); a null
// `variant` leaves the GEMM tile at its default (for checks before tiling).
Expected<KernelSpec> kernelSpecOf(mlir::Operation *launch, qcck::VariantAttr variant, int64_t maxSeq);

// The GEMM tile of a variant's `tile` ([m_tiles, n_tiles, warps_n, k_split, wgmma]) and back.
GemmTile tileOf(llvm::ArrayRef<int64_t> tile);
llvm::SmallVector<int64_t> tileAttrOf(const GemmTile &tile);

// The variant attribute of a spec: name, grid and block from the spec.
qcck::VariantAttr variantOf(mlir::MLIRContext *ctx, const KernelSpec &spec, int64_t maxRows);

} // namespace qcc::cuda
