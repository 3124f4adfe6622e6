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

namespace qcc::cli {

static std::vector<Command> &registry() {
  static std::vector<Command> r;
  return r;
}

bool registerCommand(const Command &command) {
  registry().push_back(command);
  return true;
}

const std::vector<Command> &commands() {
  auto &r = registry();
  std::sort(r.begin(), r.end(),
            [](const Command &a, const Command &b) { return std::strcmp(a.name, b.name) < 0; });
  return r;
}

bool parseIntArg(const std::string &text, int64_t lo, int64_t hi, int64_t &out) {
  if (text.empty()) return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

int fail(const std::string &command, const std::string &message) {
  std::fprintf(stderr, "qcc %s: error: %s\n", command.c_str(), printable(message).c_str());
  return 1;
}

void warn(const std::string &command, const std::string &message) {
  std::fprintf(stderr, "qcc %s: warning: %s\n", command.c_str(), printable(message).c_str());
}

} // namespace qcc::cli

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
