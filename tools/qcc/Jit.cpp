#include "tools/qcc/Jit.h"

#include "tools/qcc/ModelText.h"

namespace qcc::cli {

namespace {
JitCompiler *registered = nullptr;
} // namespace

JitCompiler *jitCompiler() { return registered; }
void registerJitCompiler(JitCompiler *compiler) { registered = compiler; }

Expected<std::unique_ptr<rt::Artifact>> openModel(const std::string &path, rt::Device device,
                                                  bool compileOptionsGiven, const std::string &command) {
  if (isDirectory(path)) {
    if (!registered)
      return Status::error(path + " is a checkpoint folder: this program runs compiled artifacts only (compile it "
                                  "with `qcc compile " + path + " -o m.qcc`, or run it just in time with `qcc " +
                           command + " " + path + "`)");
    return registered->compile(path, device, command);
  }
  if (compileOptionsGiven)
    return Status::error("compile options apply to a checkpoint folder; " + path + " is a compiled artifact");
  return rt::Artifact::open(path);
}

} // namespace qcc::cli
