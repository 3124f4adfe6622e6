#include "passes/PassRecord.h"

#include "support/Hash.h"
#include "support/MappedFile.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/raw_ostream.h"


namespace qcc {

std::string fileIdentity(const std::string &path) {
  auto f = MappedFile::open(path);
  if (!f) return path;
  std::string base = path.substr(path.find_last_of('/') + 1);
  return base + "@" + contentHash((*f)->data(), (*f)->size()).substr(0, 16);
}

void recordPass(mlir::ModuleOp module, mlir::Pass &pass) {
  std::string text;
  llvm::raw_string_ostream os(text);
  pass.printAsTextualPipeline(os);
  os.flush();
  // "name{a=1 b=2}": options whose values are files become base name and
  // hash; param-dir is dropped.
  std::string out = text;
  const size_t open = text.find('{');
  if (open != std::string::npos && text.back() == '}') {
    out = text.substr(0, open + 1);
    std::string body = text.substr(open + 1, text.size() - open - 2), kept;
    size_t start = 0;
    while (start <= body.size()) {
      size_t end = body.find(' ', start);
      if (end == std::string::npos) end = body.size();
      std::string option = body.substr(start, end - start);
      start = end + 1;
      if (option.empty() || option.rfind("param-dir=", 0) == 0) continue;
      for (const char *fileOption : {"source=", "rules-file=", "tiles=", "sensitivity="}) {
        const std::string key = fileOption;
        if (option.rfind(key, 0) == 0 && option.size() > key.size() && option.substr(key.size()) != "random")
          option = key + fileIdentity(option.substr(key.size()));
      }
      kept += (kept.empty() ? "" : " ") + option;
    }
    out += kept + "}";
  }
  mlir::Builder b(module.getContext());
  llvm::SmallVector<mlir::Attribute> passes;
  if (auto old = module->getAttrOfType<mlir::ArrayAttr>("qcc.passes")) passes.append(old.begin(), old.end());
  passes.push_back(b.getStringAttr(out));
  module->setAttr("qcc.passes", b.getArrayAttr(passes));
}

std::string recordedPasses(mlir::ModuleOp module) {
  std::string out;
  if (auto passes = module->getAttrOfType<mlir::ArrayAttr>("qcc.passes"))
    for (mlir::Attribute a : passes)
      if (auto s = mlir::dyn_cast<mlir::StringAttr>(a)) out += (out.empty() ? "" : " ") + s.str();
  return out;
}

} // namespace qcc
