// What the commands that run the pass pipeline (compile, export) print while
// they work: progress lines on stderr, a timer per pass, pass diagnostics.
#pragma once

#include "tools/qcc/Command.h"

#include "support/Printable.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace qcc::cli {

using Clock = std::chrono::steady_clock;

inline double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

inline long peakRssMiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024; // kilobytes on Linux
}

// Progress on stderr: one line per event; on a terminal, layer lines of one
// stage overwrite each other.
struct Progress {
  bool quiet = false;
  bool tty = ::isatty(2);
  bool open = false; // an overwritable line is showing
  void line(const std::string &text) {
    if (quiet) return;
    if (open) std::fputc('\n', stderr), open = false;
    std::fprintf(stderr, "[qcc] %s\n", text.c_str());
  }
  // "quantize: 3/32" (a block), "write tensors: 128/291".
  void layer(const std::string &stage, int64_t index, int64_t count) {
    if (quiet) return;
    if (tty) {
      std::fprintf(stderr, "\r\033[K[qcc] %s: %lld/%lld", stage.c_str(), (long long)index + 1, (long long)count);
      open = index + 1 < count;
      if (!open) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "[qcc] %s: %lld/%lld\n", stage.c_str(), (long long)index + 1, (long long)count);
    }
  }
};

// Times each pass and reports it as a stage.
struct StageTimer : mlir::PassInstrumentation {
  Progress &progress;
  std::vector<std::pair<std::string, double>> &stages;
  Clock::time_point start;
  StageTimer(Progress &p, std::vector<std::pair<std::string, double>> &s) : progress(p), stages(s) {}
  void runBeforePass(mlir::Pass *pass, mlir::Operation *) override {
    start = Clock::now();
    progress.line(pass->getArgument().str() + " ...");
  }
  void runAfterPass(mlir::Pass *pass, mlir::Operation *) override {
    stages.push_back({pass->getArgument().str(), secondsSince(start)});
  }
  void runAfterPassFailed(mlir::Pass *pass, mlir::Operation *op) override {
    failedPass = pass->getArgument().str();
    runAfterPass(pass, op);
  }
  std::string failedPass;
};

// A diagnostic handler for the passes: errors as "qcc <command>: error: ...",
// warnings as "qcc <command>: warning: ..." (shown even with --quiet), remarks
// as progress lines; all sanitised (support/Printable.h). Install it with
// `mlir::ScopedDiagnosticHandler h(&context, passDiagnostics("export", progress));`.
inline auto passDiagnostics(const char *command, Progress &progress) {
  return [command, &progress](mlir::Diagnostic &d) {
    std::string text;
    llvm::raw_string_ostream os(text);
    d.print(os);
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
      fail(command, os.str());
    else if (d.getSeverity() == mlir::DiagnosticSeverity::Warning)
      warn(command, os.str());
    else
      progress.line("note: " + printable(os.str()));
    return mlir::success();
  };
}

// The closing lines of compile and export: each stage's seconds, the bytes of
// each format, the total time since `start` and the peak resident set.
inline void printStageSummary(const std::vector<std::pair<std::string, double>> &stages,
                              const std::map<std::string, uint64_t> &bytesByFormat, Clock::time_point start) {
  for (const auto &[stage, seconds] : stages) std::fprintf(stderr, "[qcc]   %-22s %8.2f s\n", stage.c_str(), seconds);
  for (const auto &[format, bytes] : bytesByFormat)
    std::fprintf(stderr, "[qcc]   %-22s %8.2f MiB\n", format.c_str(), bytes / 1048576.0);
  std::fprintf(stderr, "[qcc]   total %.2f s, peak RSS %ld MiB\n", secondsSince(start), peakRssMiB());
}

} // namespace qcc::cli
