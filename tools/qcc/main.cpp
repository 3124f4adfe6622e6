// qcc: compile Llama-3.1 checkpoints into quantized inference artifacts.
#include "tools/qcc/Command.h"

#include "support/MappedFile.h"
#include "support/Printable.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>



static void printUsage(FILE *out) {
  std::fprintf(out, "usage: qcc <command> [options]\n\ncommands:\n");
  for (const auto &c : qcc::cli::commands())
    std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\n`qcc <command> --help` describes each command.\n");
}

int main(int argc, char **argv) {
  // Ctrl-C, a kill or a closed pipe during a compile leaves no temporary behind.
  qcc::removeTemporariesOnFatalSignals();
  if (argc < 2) {
    printUsage(stderr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    printUsage(stdout);
    return 0;
  }
  for (const auto &c : qcc::cli::commands()) {
    if (name == c.name) {
      std::vector<std::string> args(argv + 2, argv + argc);
      return c.run(args);
    }
  }
  std::fprintf(stderr, "qcc: error: unknown command '%s'\n", qcc::printable(name).c_str());
  printUsage(stderr);
  return 2;
}
