// qcc-run MODEL.qcc --prompt-ids "1 2 3" [-n 64] [--device auto|cpu|cuda] ...
// The runtime alone: `qcc run` without the compiler (no MLIR, LLVM, NVRTC or
// codegen linked), for machines that only run artifacts.
#include "tools/qcc/Command.h"

#include "support/MappedFile.h"

#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  qcc::removeTemporariesOnFatalSignals();
  for (const auto &c : qcc::cli::commands())
    if (std::strcmp(c.name, "run") == 0) return c.run(std::vector<std::string>(argv + 1, argv + argc));
  return 1;
}
