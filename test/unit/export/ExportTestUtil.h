// Helpers for the export tests: a checkpoint imported and quantized in
// process by the real pipeline (what `qcc export` runs before translating),
// and the comparison of an exported folder with the IR it came from.
#pragma once

#include "codegen/export/CompressedTensorsExport.h"
#include "frontends/compressed_tensors/Layout.h"
#include "frontends/llama/Importer.h"
#include "passes/Params.h"
#include "passes/Passes.h"
#include "passes/Pipelines.h"

#include "../frontend/FrontendTestUtil.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cstring>
#include <dirent.h>
#include <memory>
#include <string>
#include <vector>

namespace qcc::testing {

inline std::string bundledModel() { return std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare"; }

// Names in `dir`, sorted ("." and ".." left out).
inline std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> out;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Per-layer rules of every format at once, first match wins. Regular
// expressions rather than globs: qcc-select-formats keeps llvm::GlobPattern
// objects whose pattern text (a StringRef) points at a buffer freed after
// parsing, so glob rules match at random (reported to the lead; regex rules
// own their text).
inline const char *kMixedRules = "\"re:lm_head\": bf16\n"
                                 "\"re:.*[.]mlp[.]down_proj\": bf16\n"
                                 "\"re:layers[.]0[.].*\": int8\n"
                                 "\"re:.*[.]self_attn[.]o_proj\": fp8\n"
                                 "\"re:.*\": w4a16:64\n";

// The format kMixedRules gives `layer` ("model.layers.0.self_attn.q_proj").
inline std::string mixedRulesFormat(const std::string &layer) {
  if (layer == "lm_head" || layer.find(".mlp.down_proj") != std::string::npos) return "bf16";
  if (layer.rfind("model.layers.0.", 0) == 0) return "int8";
  if (layer.find(".self_attn.o_proj") != std::string::npos) return "fp8";
  return "w4a16:g64";
}

// A model imported and run through the quantization pipeline in this process.
struct QuantizedModel {
  std::unique_ptr<TempDir> params; // the passes' archives
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

// `options` as `qcc export` gets them; activationDtype "" is the checkpoint's.
inline Expected<QuantizedModel> quantizeModel(const std::string &dir, const QuantizationOptions &options,
                                              const std::string &activationDtype = "") {
  auto checkpoint = Checkpoint::open(dir);
  if (!checkpoint) return checkpoint.status();
  QuantizedModel m;
  m.params = std::make_unique<TempDir>();
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  m.context = std::make_unique<mlir::MLIRContext>(registry);
  ImportOptions importOptions;
  importOptions.activationDtype = activationDtype;
  auto module = importLlama(*m.context, **checkpoint, importOptions);
  if (!module) return module.status();
  m.module = std::move(*module);
  (*m.module)->setAttr("qcc.param_dir", mlir::StringAttr::get(m.context.get(), m.params->path()));
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(m.context.get(), [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error) diagnostics += d.str() + "\n";
    return mlir::success();
  });
  mlir::PassManager pm(m.context.get(), mlir::ModuleOp::getOperationName());
  buildQuantizationPipeline(pm, options);
  if (mlir::failed(pm.run(*m.module))) return Status::error("the quantization pipeline failed: " + diagnostics);
  return m;
}

// Every tensor of the export read back (openCheckpoint + the exact decoder)
// equals what the IR holds: codes and scales bit for bit, dense bytes and
// dtypes. Returns the number of quantized linears compared.
inline int expectFolderMatchesIr(mlir::ModuleOp module, const std::string &dir) {
  auto plan = planCompressedTensorsExport(module, /*requireQuantized=*/true);
  EXPECT_TRUE(plan.isOk()) << plan.message();
  if (!plan) return 0;
  auto ck = compressed_tensors::openCheckpoint(dir);
  EXPECT_TRUE(ck.isOk()) << ck.message();
  if (!ck) return 0;
  const compressed_tensors::CompressedLayout *ct = compressed_tensors::compressedLayout(**ck);
  int quantized = 0;
  for (size_t i = 0; i < plan->entries.size(); ++i) {
    const compressed_tensors::ExportEntry &e = plan->entries[i];
    SCOPED_TRACE(e.name);
    auto w = evaluateWeight(plan->weights[i]);
    EXPECT_TRUE(w.isOk()) << w.message();
    if (!w) continue;
    if (w->quantized) {
      EXPECT_NE(ct, nullptr);
      if (!ct) continue;
      EXPECT_TRUE(ct->isQuantized(e.name));
      auto q = ct->decode(**ck, e.name);
      EXPECT_TRUE(q.isOk()) << q.message();
      if (!q) continue;
      const formats::QuantizedLinear &ir = *w->quantized;
      EXPECT_EQ(q->format, ir.format);
      EXPECT_EQ(q->outFeatures, ir.outFeatures);
      EXPECT_EQ(q->inFeatures, ir.inFeatures);
      EXPECT_EQ(q->groupSize, ir.groupSize);
      EXPECT_TRUE(q->weights == ir.weights) << "codes differ";
      EXPECT_EQ(q->scales.size(), ir.scales.size());
      if (q->scales.size() == ir.scales.size()) {
        EXPECT_EQ(std::memcmp(q->scales.data(), ir.scales.data(), ir.scales.size() * sizeof(float)), 0)
            << "scales differ";
      }
      ++quantized;
    } else {
      const std::string tensor = e.kind == compressed_tensors::ExportEntry::Kind::Linear ? e.name + ".weight" : e.name;
      if (ct) {
        EXPECT_FALSE(ct->isQuantized(e.name));
      }
      const TensorRef *t = (*ck)->find(tensor);
      EXPECT_NE(t, nullptr);
      if (!t) continue;
      EXPECT_EQ(t->dtype, w->dense.dtype);
      EXPECT_EQ(t->shape, w->dense.shape);
      EXPECT_EQ(t->byteSize(), w->dense.byteSize());
      if (t->byteSize() == w->dense.byteSize()) {
        EXPECT_EQ(std::memcmp(t->data, w->dense.data, t->byteSize()), 0) << "bytes differ";
      }
    }
  }
  return quantized;
}

} // namespace qcc::testing
