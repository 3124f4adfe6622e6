// qcc import MODEL_DIR [-o FILE] [--dtype f32|bf16]: the checkpoint as qcc IR.
#include "tools/qcc/Command.h"
#include "tools/qcc/OutputPath.h"

#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "support/MappedFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

namespace {

const char *kUsage =
    "usage: qcc import MODEL_DIR [-o FILE] [--dtype f32|bf16]\n"
    "  Reads config.json and the safetensors weights (sharded or not) of a\n"
    "  Llama-3.1 checkpoint and prints its qcc-dialect module (weights are\n"
    "  referenced by name, not copied). -o writes it to FILE atomically (checked\n"
    "  before the import: a regular file or a new name in a writable folder, not\n"
    "  one of the checkpoint's files; /dev/null and other character devices are\n"
    "  written through).\n";

int runImport(const std::vector<std::string> &args) {
  std::string modelDir, output, dtype;
  bool outputGiven = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if ((a == "-o" || a == "--dtype") && i + 1 >= args.size())
      return qcc::cli::fail("import", "option " + a + " needs a value");
    if (a == "-o") output = args[++i], outputGiven = true;
    else if (a == "--dtype") dtype = args[++i];
    else if (!a.empty() && a[0] == '-') return qcc::cli::fail("import", "unknown option '" + a + "'");
    else if (modelDir.empty()) modelDir = a;
    else return qcc::cli::fail("import", "unexpected argument '" + a + "'");
  }
  if (modelDir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (outputGiven)
    if (qcc::Status s = qcc::cli::checkOutputPath(output, qcc::cli::checkpointInputs(modelDir)); !s)
      return qcc::cli::fail("import", s.message());

  auto checkpoint = qcc::Checkpoint::open(modelDir);
  if (!checkpoint) return qcc::cli::fail("import", checkpoint.message());

  mlir::DialectRegistry registry;
  qcc::registerQccDialects(registry);
  mlir::MLIRContext context(registry);
  qcc::ImportOptions options;
  options.activationDtype = dtype;
  auto module = qcc::importLlama(context, **checkpoint, options);
  if (!module) return qcc::cli::fail("import", module.message());

  std::string text;
  llvm::raw_string_ostream os(text);
  (*module)->print(os);
  os.flush();
  if (!outputGiven) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  auto writer = qcc::AtomicFileWriter::create(output);
  if (!writer) return qcc::cli::fail("import", writer.message());
  qcc::Status s = (*writer)->write(text.data(), text.size());
  if (s) s = (*writer)->commit();
  if (!s) return qcc::cli::fail("import", s.message());
  return 0;
}

} // namespace

QCC_REGISTER_COMMAND(import, "import", "print a checkpoint as qcc-dialect IR", runImport);
