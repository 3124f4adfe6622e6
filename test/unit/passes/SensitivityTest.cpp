// Per-layer sensitivity (passes/Sensitivity.h) on a tiny random Llama:
// deterministic (also across thread counts), a deliberately damaged layer
// ranks first, the block-suffix shortcut gives what a full forward gives,
// and the quantized weights are the uniform compile's.
#include "passes/Sensitivity.h"

#include "CompiledModel.h"
#include "frontends/compressed_tensors/Layout.h"
#include "frontends/llama/Importer.h"
#include "frontends/llama/Safetensors.h"
#include "passes/Passes.h"
#include "runtime/formats/Formats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <unistd.h>

namespace {

using namespace qcc;

ModelConfig tinyConfig() {
  ModelConfig c;
  c.hiddenSize = 64, c.intermediateSize = 128, c.numLayers = 3, c.numHeads = 2, c.numKvHeads = 1, c.headDim = 32;
  c.vocabSize = 256, c.maxPositionEmbeddings = 128, c.bosTokenId = 1, c.eosTokenIds = {2};
  c.torchDtype = ModelConfig::TorchDtype::BFloat16;
  return c;
}

void removeTree(const std::string &dir) {
  if (DIR *d = ::opendir(dir.c_str())) {
    while (struct dirent *e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") ::unlink((dir + "/" + n).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

// A function-preserving rescaling that damages one layer: rows j of layer 1's
// up_proj are divided by 128 and columns j of its down_proj multiplied by 128
// (powers of two: exact in bf16; SwiGLU is linear in `up`), for one channel
// j in every group of 32. down_proj's per-channel and per-group scales are
// then set by those columns (the other weights get few levels), and its
// input channels j become tiny next to the others (W8A8 per-token scales
// round them away).
Status damage(const std::string &dir) {
  const std::string path = dir + "/model.safetensors";
  const std::string up = "model.layers.1.mlp.up_proj.weight", down = "model.layers.1.mlp.down_proj.weight";
  std::vector<std::vector<uint8_t>> copies;
  std::vector<SafetensorsEntry> entries;
  {
    auto file = SafetensorsFile::open(path);
    if (!file) return file.status();
    for (const std::string &name : (*file)->names()) {
      const TensorRef *t = (*file)->find(name);
      const uint8_t *bytes = static_cast<const uint8_t *>(t->data);
      copies.emplace_back(bytes, bytes + t->byteSize());
      uint16_t *w = reinterpret_cast<uint16_t *>(copies.back().data());
      if (name == up || name == down) {
        const int64_t N = t->shape[0], K = t->shape[1];
        for (int64_t j = 5; j < (name == up ? N : K); j += 32)
          for (int64_t i = 0; i < (name == up ? K : N); ++i) {
            uint16_t &x = name == up ? w[j * K + i] : w[i * K + j];
            x = formats::floatToBf16(formats::bf16ToFloat(x) * (name == up ? 1.0f / 128 : 128.0f));
          }
      }
      entries.push_back({name, t->dtype, t->shape, nullptr});
    }
  }
  for (size_t i = 0; i < entries.size(); ++i) entries[i].data = copies[i].data();
  return writeSafetensors(path, entries);
}

struct Imported {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

Imported import(const std::string &dir, const std::string &paramDir) {
  Imported m;
  mlir::DialectRegistry registry;
  registerQccDialects(registry);
  m.context = std::make_unique<mlir::MLIRContext>(registry);
  auto checkpoint = compressed_tensors::openCheckpoint(dir);
  EXPECT_TRUE(checkpoint) << checkpoint.message();
  auto module = importLlama(*m.context, **checkpoint, ImportOptions());
  EXPECT_TRUE(module) << module.message();
  m.module = std::move(*module);
  (*m.module)->setAttr("qcc.param_dir", mlir::StringAttr::get(m.context.get(), paramDir));
  return m;
}

class SensitivityTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/qcc-sensitivity-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    model_ = root_ + "/model";
    params_ = root_ + "/params";
    ::mkdir(params_.c_str(), 0755);
    ASSERT_TRUE(test::writeRandomCheckpoint(model_, tinyConfig(), 7));
    ASSERT_TRUE(damage(model_));
  }
  void TearDown() override {
    removeTree(model_);
    removeTree(params_);
    ::rmdir(root_.c_str());
  }
  SensitivityOptions options(int threads) const {
    SensitivityOptions o;
    o.quant.calibSource = "random";
    o.quant.calibSamples = 3;
    o.quant.calibSeqLen = 24;
    o.candidates = {"bf16", "fp8", "int8", "w4a16:32"};
    o.exec.numThreads = threads;
    return o;
  }
  std::string root_, model_, params_;
};

TEST_F(SensitivityTest, DeterministicAndRanksTheDamagedLayerFirst) {
  Imported m = import(model_, params_);
  auto first = SensitivityRun::measure(*m.module, options(1));
  ASSERT_TRUE(first) << first.message();
  auto again = SensitivityRun::measure(*m.module, options(2));
  ASSERT_TRUE(again) << again.message();
  const SensitivityResult &a = (*first)->result(), &b = (*again)->result();
  ASSERT_EQ(a.layers.size(), 21u); // 3 blocks x 7 linears; lm_head not asked for
  ASSERT_EQ(a.candidates, b.candidates);
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].name, b.layers[i].name);
    EXPECT_EQ(a.layers[i].kl, b.layers[i].kl) << a.layers[i].name; // bit for bit
    EXPECT_EQ(a.layers[i].kl.at("bf16"), 0.0);
  }
  EXPECT_EQ(a.uniformKl, b.uniformKl);
  // The damaged layer is the most sensitive in the integer formats (fp8's
  // relative precision copes with a large range).
  for (const char *format : {"int8", "w4a16:32"}) {
    size_t worst = 0;
    for (size_t i = 0; i < a.layers.size(); ++i)
      if (a.layers[i].kl.at(format) > a.layers[worst].kl.at(format)) worst = i;
    EXPECT_EQ(a.layers[worst].name, "model.layers.1.mlp.down_proj") << format;
    double second = 0;
    for (size_t i = 0; i < a.layers.size(); ++i)
      if (i != worst) second = std::max(second, a.layers[i].kl.at(format));
    EXPECT_GT(a.layers[worst].kl.at(format), 2 * second) << format;
    std::printf("%s: damaged layer KL %.4g, next %.4g\n", format, a.layers[worst].kl.at(format), second);
  }
  for (const LayerSensitivity &l : a.layers)
    for (const std::string &f : a.candidates) EXPECT_TRUE(l.kl.count(f)) << l.name << " " << f;
}

TEST_F(SensitivityTest, SuffixRunsEqualFullForwardsAndUniformWeightsAreTheCompiles) {
  Imported m = import(model_, params_);
  auto run = SensitivityRun::measure(*m.module, options(0));
  ASSERT_TRUE(run) << run.message();
  const SensitivityResult &r = (*run)->result();
  // One layer alone, run from the start of the model: what the block-suffix
  // shortcut measured.
  for (size_t i : {size_t(0), size_t(9), size_t(20)}) {
    auto kl = (*run)->measureAssignment({{r.layers[i].name, "int8"}});
    ASSERT_TRUE(kl) << kl.message();
    EXPECT_EQ(*kl, r.layers[i].kl.at("int8")) << r.layers[i].name;
  }
  // Every layer in one format: the uniform compile's own KL.
  for (const std::string &f : {std::string("fp8"), std::string("w4a16:32")}) {
    std::map<std::string, std::string> all;
    for (const LayerSensitivity &l : r.layers) all[l.name] = f;
    auto kl = (*run)->measureAssignment(all);
    ASSERT_TRUE(kl) << kl.message();
    EXPECT_EQ(*kl, r.uniformKl.at(f)) << f;
  }
  // The model is left as it was: measuring nothing gives KL 0.
  auto none = (*run)->measureAssignment({});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0.0);
}

TEST_F(SensitivityTest, MethodsThatFoldScalesAreRejected) {
  Imported m = import(model_, params_);
  SensitivityOptions o = options(0);
  o.quant.method = "awq";
  auto awq = SensitivityRun::measure(*m.module, o);
  ASSERT_FALSE(awq);
  EXPECT_NE(awq.message().find("--method awq folds scales"), std::string::npos) << awq.message();
  o.quant.method = "rtn";
  o.candidates = {"bf16", "int4"};
  auto bad = SensitivityRun::measure(*m.module, o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("unknown format 'int4'"), std::string::npos) << bad.message();
}

} // namespace
