// Subcommand registry of the `qcc` CLI. Each tools/qcc/cmd_*.cpp defines one
// subcommand and registers it with a static QCC_REGISTER_COMMAND, so commands
// can be added without touching main.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qcc::cli {

// argv excludes the program and subcommand names. Returns the exit code.
using CommandFn = int (*)(const std::vector<std::string> &args);

struct Command {
  const char *name;
  const char *summary; // one line for `qcc --help`
  CommandFn run;
};

bool registerCommand(const Command &command);
const std::vector<Command> &commands();

// Prints "qcc <cmd>: error: <message>" to stderr and returns 1. Every
// message passes through printable() (support/Printable.h): bytes from input
// files never reach the terminal raw. Bad input always exits 1; usage errors
// (no arguments) exit 2.
int fail(const std::string &command, const std::string &message);
// "qcc <cmd>: warning: <message>" on stderr, sanitised the same way.
void warn(const std::string &command, const std::string &message);

// A whole decimal number in [lo, hi], nothing else (no sign games, no suffix).
bool parseIntArg(const std::string &text, int64_t lo, int64_t hi, int64_t &out);

} // namespace qcc::cli

#define QCC_REGISTER_COMMAND(ident, name, summary, fn)                          \
  static const bool qcc_registered_##ident =                                   \
      ::qcc::cli::registerCommand({name, summary, fn})
