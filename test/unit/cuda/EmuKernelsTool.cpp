// qcc-emu-kernels LOWERED.mlir DIR: builds, for the emulated CUDA driver
// (EmulatedDriver.cpp), the host versions of every kernel the module's
// qcck.program ops launch (their sources generated from the IR, as the
// translation generates them), into DIR (QCC_EMU_KERNELS). Test tooling for
// lit tests that run `qcc run --device cuda` without a GPU.
#include "HostKernels.h"

#include "codegen/cuda/KernelOps.h"
#include "passes/Passes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstdio>
#include <set>

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: qcc-emu-kernels LOWERED.mlir DIR\n");
    return 2;
  }
  mlir::DialectRegistry registry;
  qcc::registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(argv[1], &context);
  if (!module) return 1;
  std::vector<qcc::cuda::GeneratedKernel> kernels;
  std::set<std::string> seen;
  for (auto program : module->getOps<qcc::qcck::ProgramOp>()) {
    auto gpu = qcc::cuda::findTarget(program.getTarget().str());
    if (!gpu) return std::fprintf(stderr, "qcc-emu-kernels: %s\n", gpu.message().c_str()), 1;
    for (mlir::Operation &op : program.getBody().front()) {
      auto variants = op.getAttrOfType<mlir::ArrayAttr>("variants");
      if (!variants) continue;
      for (mlir::Attribute v : variants) {
        auto spec = qcc::cuda::kernelSpecOf(&op, mlir::cast<qcc::qcck::VariantAttr>(v), program.getMaxSeq());
        auto g = spec ? qcc::cuda::generateKernel(*spec, **gpu) : qcc::Expected<qcc::cuda::GeneratedKernel>(spec.status());
        if (!g) return std::fprintf(stderr, "qcc-emu-kernels: %s\n", g.message().c_str()), 1;
        if (seen.insert(g->name).second) kernels.push_back(*g);
      }
    }
  }
  qcc::Status s = qcc::cuda::testing::buildHostKernels(kernels, argv[2]);
  if (!s) return std::fprintf(stderr, "qcc-emu-kernels: %s\n", s.message().c_str()), 1;
  std::printf("%zu kernels built for the emulated driver in %s\n", kernels.size(), argv[2]);
  return 0;
}
