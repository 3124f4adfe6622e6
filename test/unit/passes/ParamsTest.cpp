// Parameters: round-to-nearest ops equal one whole-matrix quantization (they
// are computed in row blocks on several threads), hashes are checked on read,
// pass-written archives are content-addressed, atomic and read back exactly.
#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Importer.h"
#include "frontends/llama/Safetensors.h"
#include "passes/Params.h"
#include "passes/Passes.h"
#include "quant/Rtn.h"

#include "mlir/IR/Builders.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
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

// A copy of the bundled model whose `tensor` has bf16 element 5 set to `bits`
// (or its first byte flipped when bits is 0), in a fresh temporary folder.
std::string editedModel(const std::string &tensor, uint16_t bits) {
  char pattern[] = "/tmp/qcc-import-test-XXXXXX";
  EXPECT_NE(mkdtemp(pattern), nullptr);
  const std::string src = std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare", dir = pattern;
  for (const char *name : {"config.json", "model.safetensors"}) {
    std::ifstream in(src + "/" + name, std::ios::binary);
    std::ofstream(dir + "/" + name, std::ios::binary) << in.rdbuf();
  }
  int64_t offset = 0;
  {
    auto file = SafetensorsFile::open(dir + "/model.safetensors");
    EXPECT_TRUE(file.isOk()) << file.message();
    const TensorRef *t = (*file)->find(tensor);
    EXPECT_NE(t, nullptr) << tensor;
    EXPECT_EQ(t->dtype, DType::BF16);
    // Byte offset of the data: 8 bytes of header length, the JSON header,
    // then the tensor's data_offsets[0].
    offset = int64_t(8 + (*file)->headerBytes().size());
    std::string header((*file)->headerBytes());
    const size_t at = header.find("\"" + tensor + "\"");
    const size_t offsets = header.find("data_offsets", at);
    offset += std::atoll(header.c_str() + header.find('[', offsets) + 1);
  }
  std::fstream f(dir + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
  if (bits) {
    f.seekp(offset + 2 * 5);
    f.write(reinterpret_cast<const char *>(&bits), 2);
  } else {
    char c;
    f.seekg(offset);
    f.get(c);
    f.seekp(offset);
    f.put(char(c ^ 1));
  }
  return dir;
}

void removeModel(const std::string &dir) {
  for (const std::string &f : filesIn(dir)) unlink((dir + "/" + f).c_str());
  rmdir(dir.c_str());
}

// A NaN or infinity in any graph tensor stops the import (no method may
// quantize it, no bf16 pass-through carry it), naming tensor and element.
TEST(Import, NonFiniteWeightsAreErrors) {
  struct Case {
    const char *tensor;
    uint16_t bits;
    const char *what;
  } cases[] = {{"model.layers.1.input_layernorm.weight", 0x7FC0, "nan"},
               {"model.embed_tokens.weight", 0x7F80, "inf"},
               {"model.layers.0.mlp.down_proj.weight", 0xFF80, "-inf"}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.tensor);
    const std::string dir = editedModel(c.tensor, c.bits);
    mlir::DialectRegistry registry;
    registerQccDialects(registry);
    mlir::MLIRContext context(registry);
    auto ckpt = Checkpoint::open(dir);
    ASSERT_TRUE(ckpt.isOk()) << ckpt.message();
    auto m = importLlama(context, **ckpt, {});
    ASSERT_FALSE(m.isOk());
    EXPECT_NE(m.message().find("tensor '" + std::string(c.tensor) + "': element 5 ["), std::string::npos) << m.message();
    EXPECT_NE(m.message().find(std::string("] is ") + c.what), std::string::npos) << m.message();
    removeModel(dir);
  }
}

// qcc.checkpoint_hash covers weight values: one flipped bit of one tensor
// changes it (and that tensor's parameter hash, and no other).
TEST(Import, CheckpointHashCoversWeightValues) {
  const std::string dir = editedModel("model.norm.weight", 0);
  Imported original(std::string(QCC_SOURCE_DIR) + "/models/llama-tiny-shakespeare"), edited(dir);
  auto hashOf = [](Imported &m) { return m.module.get()->getAttrOfType<mlir::StringAttr>("qcc.checkpoint_hash").str(); };
  EXPECT_NE(hashOf(original), hashOf(edited));
  EXPECT_NE(original.weight("model.norm.weight").getParamAttr().getHash(),
            edited.weight("model.norm.weight").getParamAttr().getHash());
  EXPECT_EQ(original.weight("model.embed_tokens.weight").getParamAttr().getHash(),
            edited.weight("model.embed_tokens.weight").getParamAttr().getHash());
  removeModel(dir);
}

} // namespace
