// Parameters: round-to-nearest ops equal one whole-matrix quantization (they
// are computed in row blocks on several threads), hashes are checked on read,
// pass-written archives are content-addressed, atomic and read back exactly.
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "passes/Params.h"
#include "passes/Passes.h"
#include "quant/Rtn.h"

#include "mlir/IR/Builders.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <dirent.h>
#include <unistd.h>

namespace {

using namespace qcc;

struct Imported {
  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  explicit Imported(const std::string &dir) {
    registerQccDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
    auto ckpt = Checkpoint::open(dir);
    EXPECT_TRUE(ckpt.isOk()) << ckpt.message();
    auto m = importLlama(*context, **ckpt, {});
    EXPECT_TRUE(m.isOk()) << m.message();
    module = std::move(*m);
  }
  WeightOp weight(const std::string &name) {
    WeightOp found;
    module->walk([&](WeightOp w) {
      if (w.getName() == name) found = w;
    });
    return found;
  }
};

std::vector<std::string> filesIn(const std::string &dir) {
  std::vector<std::string> out;
  if (DIR *d = opendir(dir.c_str())) {
    while (struct dirent *e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    closedir(d);
  }
  return out;
}

TEST(Params, QuantizeWeightEqualsWholeMatrixRtn) {
  Imported m(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare");
  WeightOp w = m.weight("model.layers.1.mlp.down_proj.weight"); // [256, 768] bf16
  ASSERT_TRUE(w);
  auto values = readDenseWeight(w);
  ASSERT_TRUE(values.isOk()) << values.message();
  mlir::OpBuilder b(w->getContext());
  b.setInsertionPointAfter(w);
  const std::pair<FormatKind, int64_t> formats[] = {{FormatKind::fp8, 0}, {FormatKind::int8, 0}, {FormatKind::w4a16, 128}};
  for (auto [kind, group] : formats)
    for (bool mse : {false, true}) {
      auto format = FormatAttr::get(w->getContext(), kind, group);
      auto type = mlir::RankedTensorType::get({256, 768}, format.getWeightStorageType(w->getContext()));
      auto q = QuantizeWeightOp::create(b, w.getLoc(), type, b.getStringAttr("test.weight"), w, format,
                                        mse ? b.getUnitAttr() : mlir::UnitAttr());
      auto fromIr = evaluateWeight(q);
      ASSERT_TRUE(fromIr.isOk()) << fromIr.message();
      auto whole = quant::quantizeRtn(values->data(), 256, 768, formatSpecOf(format), mse);
      ASSERT_TRUE(whole.isOk()) << whole.message();
      EXPECT_EQ(fromIr->quantized->weights, whole->weights) << stringifyFormatKind(kind).str() << " mse " << mse;
      EXPECT_EQ(fromIr->quantized->scales, whole->scales) << stringifyFormatKind(kind).str() << " mse " << mse;
      q.erase();
    }
}

TEST(Params, AWrongHashIsAnErrorNamingTheParameter) {
  Imported m(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare");
  WeightOp w = m.weight("model.norm.weight");
  ASSERT_TRUE(w);
  ParamAttr p = w.getParamAttr();
  auto wrong = ParamAttr::get(w->getContext(), p.getArchive(), p.getKey(), std::string(32, 'a'));
  w.setParamAttr(wrong);
  auto r = readDenseWeight(w);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.message().find("parameter 'model.norm.weight' has hash " + p.getHash().str() + " but the IR expects " +
                             std::string(32, 'a')),
            std::string::npos)
      << r.message();
  w.setParamAttr(p);
  EXPECT_TRUE(readDenseWeight(w).isOk());
}

TEST(Params, ArchivesAreContentAddressedAtomicAndReadBack) {
  Imported m(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare");
  char pattern[] = "/tmp/qcc-params-test-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  std::vector<float> dense = {1.5f, -2.0f, 0.25f, 3.0f};
  std::vector<float> rows(8 * 256);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::sin(0.1 * i);
  auto q = quant::quantizeRtn(rows.data(), 8, 256, {formats::Format::W4A16, 128}, false);
  ASSERT_TRUE(q.isOk());
  {
    // Abandoned: nothing is left in the folder.
    auto w = ArchiveWriter::create(*m.module, dir, "test", {{"a", DType::F32, {4}}}, {});
    ASSERT_TRUE(w.isOk()) << w.message();
    ASSERT_TRUE((*w)->writeDense("a", dense.data(), 16).isOk());
  }
  EXPECT_TRUE(filesIn(dir).empty());
  auto w = ArchiveWriter::create(*m.module, dir, "test", {{"a", DType::F32, {4}}},
                                 {{"b", formats::Format::W4A16, 8, 256, 128}});
  ASSERT_TRUE(w.isOk()) << w.message();
  auto pa = (*w)->writeDense("a", dense.data(), 16);
  auto pb = (*w)->writeQuantized("b", *q);
  ASSERT_TRUE(pa.isOk() && pb.isOk());
  ASSERT_TRUE((*w)->finish().isOk());
  std::vector<std::string> files = filesIn(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].rfind("test-", 0), 0u) << files[0];
  // The module now has the archive; its parameters read back exactly.
  mlir::OpBuilder b(m.module->getContext());
  b.setInsertionPointToEnd(m.module->getBody());
  auto denseOp = WeightOp::create(b, m.module->getLoc(), mlir::RankedTensorType::get({4}, b.getF32Type()),
                                  b.getStringAttr("a"), *pa, mlir::ElementsAttr());
  auto back = readDenseWeight(denseOp);
  ASSERT_TRUE(back.isOk()) << back.message();
  EXPECT_EQ(*back, dense);
  auto format = FormatAttr::get(b.getContext(), FormatKind::w4a16, 128);
  auto quantOp = QuantizedWeightOp::create(
      b, m.module->getLoc(), mlir::RankedTensorType::get({8, 256}, format.getWeightStorageType(b.getContext())),
      b.getStringAttr("b"), *pb, format, QuantMethodAttr::get(b.getContext(), QuantMethod::gptq), mlir::UnitAttr(),
      mlir::ElementsAttr(), mlir::ElementsAttr());
  auto qback = evaluateWeight(quantOp);
  ASSERT_TRUE(qback.isOk()) << qback.message();
  EXPECT_EQ(qback->quantized->weights, q->weights);
  EXPECT_EQ(qback->quantized->scales, q->scales);
  for (const std::string &f : files) unlink((dir + "/" + f).c_str());
  rmdir(dir.c_str());
}

} // namespace
