// qcc import MODEL_DIR [-o FILE] [--dtype f32|bf16]: the checkpoint as qcc IR.
#include "tools/qcc/Command.h"
#include "tools/qcc/OutputPath.h"

#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "passes/Passes.h"
#include "tools/qcc/QuantOptions.h"

#include <climits>
#include <cstdlib>

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
    "  parameters of the checkpoint, each with its content hash; nothing is\n"
    "  copied). -o writes it to FILE atomically (checked before the import: a\n"
    "  regular file or a new name in a writable folder, not one of the\n"
    "  checkpoint's files; /dev/null and other character devices are written\n"
    "  through) and sets its qcc.param_dir to FILE.params, where passes run on it\n"
    "  (qcc-opt) write the tensors they rewrite.\n";

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

  auto imported = qcc::cli::importModel(modelDir, dtype, /*paramDir=*/false);
  if (!imported) return qcc::cli::fail("import", imported.message());
  mlir::OwningOpRef<mlir::ModuleOp> &module = imported->module;
  // Passes run on the printed module write their archives next to it.
  if (!output.empty()) {
    char real[PATH_MAX];
    std::string dir = output.substr(0, output.find_last_of('/') == std::string::npos ? 0 : output.find_last_of('/'));
    if (dir.empty()) dir = ".";
    std::string base = output.substr(output.find_last_of('/') + 1);
    if (::realpath(dir.c_str(), real)) dir = real;
    (*module)->setAttr("qcc.param_dir", mlir::StringAttr::get(module->getContext(), dir + "/" + base + ".params"));
  }

  std::string text;
  llvm::raw_string_ostream os(text);
  // With locations: each op's NameLoc (its Hugging Face module) survives the
  // round trip, so qcc-opt diagnostics name layers (`qcc-opt -mlir-print-debuginfo`
  // keeps them through further steps).
  mlir::OpPrintingFlags flags;
  flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
  module->print(os, flags);
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
