// The subcommand registry and the small helpers every qcc command shares.
#include "tools/qcc/Command.h"

#include "support/Printable.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
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
