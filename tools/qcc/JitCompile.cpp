// The compiler behind just-in-time runs (Jit.h): the same import, pipeline and
// translation as `qcc compile`, for the device found, into an in-memory
// artifact. NVRTC results come from the kernel cache, so a second start of the
// same model and options compiles no kernel.
#include "tools/qcc/Jit.h"
#include "tools/qcc/QuantOptions.h"

#include "codegen/artifact/EmitArtifact.h"
#include "passes/ToProgram.h"
#include "support/Targets.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace qcc::cli {
namespace {

// The canonical target (support/Targets.h) qcc compiles for a GPU: its own,
// or for a newer GPU the newest target whose PTX it can JIT (not sm_90a,
// whose wgmma code runs on sm_90 only).
Expected<std::string> targetForGpu(const rt::CudaProbe &gpu) {
  auto all = parseTargetList("sm80,sm86,sm89,sm90");
  if (!all) return all.status();
  for (const TargetInfo &t : *all)
    if (gpu.target == t.gpuArch) return std::string(t.name);
  const int sm = gpu.ccMajor * 10 + gpu.ccMinor;
  std::string best;
  for (const TargetInfo &t : *all)
    if (!t.hasWgmma && t.smVersion <= sm) best = t.name;
  if (best.empty()) return Status::error("no qcc kernels run on " + gpu.target + " (qcc targets sm80 and newer)");
  return best;
}

class Compiler : public JitCompiler {
public:
  bool parseOption(const std::vector<std::string> &args, size_t &i, std::string &error) override {
    if (parseQuantOption(args, i, options_, calibGiven_, error)) return true;
    const std::string &a = args[i];
    if (a == "--fp8-weight-only") return options_.fp8WeightOnly = true, true;
    if (a != "--dtype" && a != "--tiles") return false;
    if (i + 1 >= args.size()) {
      error = "option " + a + " needs a value";
      return true;
    }
    (a == "--dtype" ? dtype_ : options_.tilesFile) = args[++i];
    if (a == "--dtype" && dtype_ != "f32" && dtype_ != "bf16") error = "--dtype expects f32 or bf16, got '" + dtype_ + "'";
    return true;
  }

  Expected<std::unique_ptr<rt::Artifact>> compile(const std::string &dir, rt::Device device,
                                                  const std::string &command) override {
    auto note = [&](const std::string &line) { std::fprintf(stderr, "qcc %s: %s\n", command.c_str(), line.c_str()); };
    const auto start = std::chrono::steady_clock::now();
    QuantizationOptions options = options_;
    QCC_RETURN_IF_ERROR(checkAutoOptions(options));
    if (!calibGiven_) {
      std::string calib = defaultCalibration(options, dir);
      if (!calib.empty()) note(calib);
    }
    // The device decides the target: the GPU's own kernels, or none for the CPU.
    std::string where = "cpu";
    if (device != rt::Device::Cpu) {
      rt::CudaProbe gpu = rt::probeCuda();
      if (gpu.usable) {
        auto target = targetForGpu(gpu);
        if (!target && device == rt::Device::Cuda) return target.status().withContext("--device cuda");
        if (target) options.targets = *target, where = *target + " (" + gpu.target + " GPU)";
        else note(target.message() + ": compiling for the CPU");
      } else if (device == rt::Device::Cuda) {
        return Status::error("--device cuda: " + gpu.error);
      }
    }

    auto imported = importModel(dir, dtype_, /*paramDir=*/true);
    if (!imported) return imported.status();
    QCC_RETURN_IF_ERROR(prepareAutoFormats(*imported->module, options, {}, note));
    std::string diagnostics;
    mlir::ScopedDiagnosticHandler handler(imported->context.get(), [&](mlir::Diagnostic &d) {
      llvm::raw_string_ostream os(diagnostics);
      if (d.getSeverity() == mlir::DiagnosticSeverity::Error) {
        if (!diagnostics.empty()) os << "; ";
        d.print(os);
      } else {
        std::string text;
        llvm::raw_string_ostream line(text);
        d.print(line);
        note("note: " + line.str());
      }
      return mlir::success();
    });
    mlir::PassManager pm(imported->context.get(), mlir::ModuleOp::getOperationName());
    buildCompilePipeline(pm, options);
    if (mlir::failed(pm.run(*imported->module)))
      return Status::error(diagnostics.empty() ? "the compile pipeline failed" : diagnostics);

    TranslateOptions translate;
    translate.outputPath = dir + " (compiled in memory)";
    translate.inMemory = true;
    auto summary = translateToArtifact(*imported->module, translate);
    if (!summary) return summary.status();
    // The runtime maps the in-memory file like any artifact; once mapped,
    // the descriptor is not needed.
    const std::string fdPath = "/proc/self/fd/" + std::to_string(summary->memoryFd);
    auto artifact = rt::Artifact::open(fdPath);
    ::close(summary->memoryFd);
    if (!artifact) return artifact.status();
    note("compiled " + dir + " for " + where + " in memory: " + options.format + ", " +
         std::to_string(summary->fileSize >> 20) + " MiB, " +
         std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()).substr(0, 5) +
         " s");
    return artifact;
  }

private:
  QuantizationOptions options_;
  bool calibGiven_ = false;
  std::string dtype_;
};

Compiler compiler;
const bool registered = (registerJitCompiler(&compiler), true);

} // namespace
} // namespace qcc::cli
