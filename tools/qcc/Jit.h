// Just-in-time runs: `qcc run MODEL_DIR --format F ...` and `qcc chat
// MODEL_DIR` compile the checkpoint folder in memory for the device this
// machine has, then run it exactly as a compiled artifact runs.
//
// The commands that run models are shared with qcc-run, which links no
// compiler: the compiler registers itself here (tools/qcc/JitCompile.cpp,
// part of qcc only), and without it a folder is an error naming `qcc run`.
#pragma once

#include "runtime/lib/Artifact.h"
#include "runtime/lib/Device.h"
#include "support/Status.h"

#include <memory>
#include <string>
#include <vector>

namespace qcc::cli {

class JitCompiler {
public:
  virtual ~JitCompiler() = default;
  // Consumes the compile option at args[i] (quantization, --dtype, --tiles,
  // --fp8-weight-only), advancing i past its value; false when args[i] is
  // none. Errors go to `error`.
  virtual bool parseOption(const std::vector<std::string> &args, size_t &i, std::string &error) = 0;
  // Compiles `modelDir` for `device` (Auto: the GPU's own target when a
  // usable GPU is found, else the CPU) into an in-memory artifact. `command`
  // prefixes progress lines ("run", "chat").
  virtual Expected<std::unique_ptr<rt::Artifact>> compile(const std::string &modelDir, rt::Device device,
                                                          const std::string &command) = 0;
};

// The registered compiler, or null (qcc-run).
JitCompiler *jitCompiler();
void registerJitCompiler(JitCompiler *compiler);

// What `qcc run PATH` / `qcc chat PATH` open: a compiled artifact, or a
// checkpoint folder compiled just in time. `compileOptionsGiven`: the command
// line had compile options (an error for an artifact, which is compiled already).
Expected<std::unique_ptr<rt::Artifact>> openModel(const std::string &path, rt::Device device,
                                                  bool compileOptionsGiven, const std::string &command);

} // namespace qcc::cli
