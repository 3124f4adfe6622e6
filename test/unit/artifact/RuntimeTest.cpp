// qcc::rt over artifacts made by the test-only builder: logits must equal the
// CPU executor run directly on the same weights, in bf16 and every format.
#include "TinyArtifact.h"
#include "../cpu/LlamaProgram.h"

#include "runtime/artifact/ArtifactWriter.h"
#include "runtime/cpu/Interpreter.h"
#include "runtime/lib/Artifact.h"
#include "runtime/lib/Session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <unistd.h>

using namespace qcc;
using namespace qcc::artifact::testing;

namespace {

std::string tempPath(const std::string &tag) {
  return "/tmp/qcc-rt-test-" + std::to_string(getpid()) + "-" + tag + ".qcc";
}

// ||a - b|| / ||b|| in float64.
double relError(const std::vector<float> &a, const std::vector<float> &b) {
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  EXPECT_GT(den, 0.0); // never compare on all-zero data
  return std::sqrt(num / den);
}

struct Logits {
  std::vector<float> prefill; // [T, V]
  std::vector<float> decode;  // [V]
};

Logits runDirect(const TinyModel &m, const std::map<std::string, formats::QuantizedLinear> &quantized,
              const std::vector<int64_t> &prompt, int64_t next) {
  cpu::ExecutorOptions eo;
  eo.numThreads = 1;
  test::NamedWeights weights(m.weights);
  for (const auto &[name, q] : quantized) weights.setQuantized(name, q);
  // The precision writeTinyArtifact gives the program: the checkpoint's (bf16 here).
  auto model = cpu::Interpreter::create(test::llamaProgram(m.config, weights, program::Precision::BF16), weights, eo);
  EXPECT_TRUE(model.isOk()) << model.message();
  cpu::Session s(**model);
  Logits r;
  r.prefill = *s.prefill(prompt);
  r.decode = *s.decode(next);
  return r;
}

const std::vector<int64_t> kPrompt = {1, 17, 5, 42, 9, 77, 3};

} // namespace

class RuntimeFormats : public ::testing::TestWithParam<int> {};

TEST_P(RuntimeFormats, LogitsEqualTheExecutorOnTheSameWeights) {
  const std::vector<std::optional<formats::FormatSpec>> specs = {
      std::nullopt, formats::FormatSpec{formats::Format::BF16, 0}, formats::FormatSpec{formats::Format::FP8, 0}, formats::FormatSpec{formats::Format::INT8, 0},
      formats::FormatSpec{formats::Format::W4A16, 32}};
  const auto &fs = specs[size_t(GetParam())];
  const std::string name = fs ? formats::formatName(fs->format) : "dense";
  SCOPED_TRACE(name);
  TinyModel m = makeTinyModel();
  std::map<std::string, formats::QuantizedLinear> quantized;
  const std::string path = tempPath(name);
  ASSERT_TRUE(writeTinyArtifact(path, m, fs, &quantized, {}, "").isOk());
  EXPECT_EQ(quantized.size(), fs ? m.linearValues.size() : 0u);
  const bool packed = fs && fs->format != formats::Format::BF16; // BF16 linears are served as dense tensors

  auto a = rt::Artifact::open(path);
  ASSERT_TRUE(a.isOk()) << a.message();
  size_t packedTensors = 0;
  for (const auto &t : (*a)->file().spec().tensors)
    packedTensors += t.format != artifact::WeightFormat::Dense && t.format != artifact::WeightFormat::BF16;
  EXPECT_EQ(packedTensors, packed ? quantized.size() : 0u);
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.numThreads = 1;
  so.maxSeqLen = 64;
  auto s = rt::Session::create(**a, so);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ((*s)->device(), rt::Device::Cpu);
  EXPECT_EQ((*s)->maxSeqLen(), 64);
  auto pre = (*s)->prefill(kPrompt);
  ASSERT_TRUE(pre.isOk()) << pre.message();
  auto dec = (*s)->decode(11);
  ASSERT_TRUE(dec.isOk()) << dec.message();
  EXPECT_EQ((*s)->position(), int64_t(kPrompt.size()) + 1);
  EXPECT_EQ((*s)->logits(), *dec);

  Logits direct = runDirect(m, quantized, kPrompt, 11);
  double ePre = relError(*pre, direct.prefill), eDec = relError(*dec, direct.decode);
  std::printf("[ info ] %s: runtime vs executor rel error prefill %.3g decode %.3g\n", name.c_str(), ePre, eDec);
  EXPECT_LT(ePre, 1e-6);
  EXPECT_LT(eDec, 1e-6);

  // The quantized formats really ran quantized: they differ from bf16.
  if (packed) {
    Logits bf16 = runDirect(m, {}, kPrompt, 11);
    double e = relError(*pre, bf16.prefill);
    std::printf("[ info ] %s: vs bf16 rel error %.3g\n", name.c_str(), e);
    EXPECT_GT(e, 1e-4);
    EXPECT_LT(e, 0.5);
  }
  (*s)->close();
  EXPECT_FALSE((*s)->decode(1).isOk());
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(All, RuntimeFormats, ::testing::Values(0, 1, 2, 3, 4));

TEST(Runtime, BatchSlotsAreIndependent) {
  TinyModel m = makeTinyModel();
  const std::string path = tempPath("batch");
  ASSERT_TRUE(writeTinyArtifact(path, m, formats::FormatSpec{formats::Format::INT8, 0}).isOk());
  auto a = rt::Artifact::open(path);
  ASSERT_TRUE(a.isOk()) << a.message();
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.batch = 2;
  so.maxSeqLen = 32;
  auto s = rt::Session::create(**a, so);
  ASSERT_TRUE(s.isOk()) << s.message();
  auto b1 = (*s)->prefill({5, 6, 7}, 1);
  auto b0 = (*s)->prefill(kPrompt, 0);
  ASSERT_TRUE(b0.isOk() && b1.isOk());
  so.batch = 1;
  auto single = rt::Session::create(**a, so);
  ASSERT_TRUE(single.isOk());
  auto ref1 = (*single)->prefill({5, 6, 7});
  ASSERT_TRUE(ref1.isOk());
  EXPECT_LT(relError(*b1, *ref1), 1e-7);
  EXPECT_EQ((*s)->position(0), int64_t(kPrompt.size()));
  EXPECT_EQ((*s)->position(1), 3);
  auto bad = (*s)->prefill({1}, 2);
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.message(), "slot 2 is out of range (batch 2)");
  EXPECT_FALSE((*s)->decode(int64_t(m.config.vocabSize)).isOk()); // out-of-vocabulary id
  std::remove(path.c_str());
}

TEST(Runtime, TokenizerBlobRoundTrips) {
  TinyModel m = makeTinyModel();
  const std::string path = tempPath("tok");
  const std::string json = "{\"model\":{\"vocab\":{\"a\":0}}}";
  ASSERT_TRUE(writeTinyArtifact(path, m, std::nullopt, nullptr, {}, json).isOk());
  auto a = rt::Artifact::open(path);
  ASSERT_TRUE(a.isOk()) << a.message();
  EXPECT_EQ((*a)->tokenizerJson(), json);
  std::remove(path.c_str());
}

TEST(Device, ParseAndChoose) {
  EXPECT_EQ(*rt::parseDevice("cuda"), rt::Device::Cuda);
  EXPECT_EQ(rt::parseDevice("gpu").message(), "unknown device 'gpu' (expected auto, cpu or cuda)");
  EXPECT_EQ(rt::targetForComputeCapability(9, 0), "sm_90a");
  EXPECT_EQ(rt::targetForComputeCapability(8, 6), "sm_86");

  TinyModel m = makeTinyModel();
  const std::string path = tempPath("dev");
  ASSERT_TRUE(writeTinyArtifact(path, m, formats::FormatSpec{formats::Format::FP8, 0}, nullptr,
                                {fakeTarget("sm_80")})
                  .isOk());
  auto f = artifact::ArtifactFile::open(path);
  ASSERT_TRUE(f.isOk());
  rt::CudaProbe none;
  none.error = "no CUDA driver: libcuda.so.1 could not be loaded";
  auto c = rt::chooseDevice(rt::Device::Cuda, **f, none);
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.message(), "--device cuda: no CUDA driver: libcuda.so.1 could not be loaded");
  c = rt::chooseDevice(rt::Device::Auto, **f, none);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->device, rt::Device::Cpu);
  EXPECT_EQ(c->reason, "using cpu: no CUDA driver: libcuda.so.1 could not be loaded");

  rt::CudaProbe t4; // sm_75: older than every kernel
  t4.usable = true, t4.ccMajor = 7, t4.ccMinor = 5, t4.target = "sm_75";
  c = rt::chooseDevice(rt::Device::Cuda, **f, t4);
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.message(), "--device cuda: no kernels in the artifact run on sm_75 (kernels present for: sm_80)");
  // Newer GPUs run older kernels as the executor loads them (PTX JIT across majors).
  rt::CudaProbe h100;
  h100.usable = true, h100.ccMajor = 9, h100.target = "sm_90a";
  c = rt::chooseDevice(rt::Device::Auto, **f, h100);
  ASSERT_TRUE(c.isOk()) << c.message();
  EXPECT_EQ(c->device, rt::Device::Cuda);
  EXPECT_EQ(c->reason, "using cuda: sm_90a GPU runs the artifact's sm_80 kernels");
  c = rt::chooseDevice(rt::Device::Cpu, **f, h100);
  ASSERT_TRUE(c.isOk());
  EXPECT_EQ(c->device, rt::Device::Cpu);

  // A GPU whose kernels the artifact carries: auto and cuda both pick it.
  rt::CudaProbe a100;
  a100.usable = true, a100.ccMajor = 8, a100.target = "sm_80";
  for (rt::Device d : {rt::Device::Auto, rt::Device::Cuda}) {
    c = rt::chooseDevice(d, **f, a100);
    ASSERT_TRUE(c.isOk()) << c.message();
    EXPECT_EQ(c->device, rt::Device::Cuda);
    EXPECT_EQ(c->reason, "using cuda: sm_80 GPU and kernels for it in the artifact");
  }

  // This machine's real probe: whatever it finds, auto never fails.
  rt::CudaProbe real = rt::probeCuda();
  c = rt::chooseDevice(rt::Device::Auto, **f);
  ASSERT_TRUE(c.isOk());
  std::printf("[ info ] cuda probe: %s\n", real.usable ? real.target.c_str() : real.error.c_str());
  std::remove(path.c_str());
}
