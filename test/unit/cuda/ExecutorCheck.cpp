#include "ExecutorCheck.h"
#include "KernelTestData.h"

#include "codegen/cuda/ArtifactKernels.h"
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/lib/Session.h"
#include "test/unit/artifact/TinyArtifact.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <unistd.h>

namespace qcc::cuda::testing {

namespace fm = qcc::formats;

namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/qcc-executor-gpu-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

} // namespace

void checkExecutorAgainstCpu(CudaDevice &device, const std::string &formatName, double bound,
                             const ExecutorCheck &check) {
  // (bound may grow for W8A8 formats, see below)
  CudaDevice *dev = &device;
  SCOPED_TRACE("format " + formatName + " on " + dev->archName());

  artifact::testing::TinyOptions o;
  o.seed = std::random_device{}(); // fresh weights each run
  o.hidden = 256, o.intermediate = 768, o.layers = 2, o.heads = 4, o.kvHeads = 1, o.vocab = 320;
  const artifact::testing::TinyModel model = artifact::testing::makeTinyModel(o);
  std::optional<fm::FormatSpec> format;
  if (formatName != "dense") {
    auto f = fm::parseFormatSpec(formatName);
    ASSERT_TRUE(f.isOk()) << f.message();
    format = *f;
  }
  auto spec = artifact::testing::tinySpec(model, format);
  ASSERT_TRUE(spec.isOk()) << spec.message();
  const GpuTarget *target = targetForComputeCapability(dev->ccMajor(), dev->ccMinor());
  const std::string dir = tempDir();
  ASSERT_NE(target, nullptr) << "no qcc target for " << dev->archName();
  auto kernels = compileArtifactKernels(*spec, {target->name}, /*fp8WeightOnly=*/true, dir + "/cache");
  ASSERT_TRUE(kernels.isOk()) << kernels.message();
  if (check.prepare) {
    Status p = check.prepare(*spec, *kernels);
    ASSERT_TRUE(p.isOk()) << p.message();
  }
  const std::string path = dir + "/model.qcc";
  std::map<std::string, fm::QuantizedLinear> quantized;
  Status w = artifact::testing::writeTinyArtifact(path, model, format, &quantized, *kernels);
  ASSERT_TRUE(w.isOk()) << w.message();

  // The reference the GPU must match: the CPU executor on the same artifact,
  // except for fp8 on a target without fp8 tensor cores, where the kernels
  // compute e4m3 weights x bf16 activations (weight-only): then the CPU runs a
  // dense artifact of the dequantized weights. `dense` is the unquantized model,
  // for reporting each format's own error next to the GPU-vs-CPU difference.
  const bool weightOnly = format && format->format == fm::Format::FP8 && !target->hasFp8Mma;
  std::string refPath = path;
  if (weightOnly) {
    artifact::testing::MemoryWeights dequantized;
    for (const std::string &name : model.weights.names()) {
      const TensorRef *t = model.weights.find(name);
      auto q = quantized.find(name);
      if (q == quantized.end()) {
        dequantized.add(name, t->dtype, t->shape, model.weights.bytes(name));
        continue;
      }
      const std::vector<float> v = fm::dequantize(q->second);
      std::vector<uint8_t> bytes(v.size() * 4);
      std::memcpy(bytes.data(), v.data(), bytes.size());
      dequantized.add(name, DType::F32, t->shape, std::move(bytes));
    }
    refPath = dir + "/weight-only-reference.qcc";
    Status r = artifact::testing::writeLlamaArtifact(refPath, model.config, dequantized, std::nullopt);
    ASSERT_TRUE(r.isOk()) << r.message();
  }
  const std::string densePath = dir + "/dense.qcc";
  Status d = artifact::testing::writeTinyArtifact(densePath, model, std::nullopt);
  ASSERT_TRUE(d.isOk()) << d.message();

  auto file = artifact::ArtifactFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.message();
  CudaExecutorOptions eo;
  eo.maxSeqLen = 64;
  eo.poisonActivations = true;
  eo.cudaGraphs = check.cudaGraphs;
  auto gpu = CudaExecutor::create(**file, *dev, eo);
  ASSERT_TRUE(gpu.isOk()) << gpu.message();
  EXPECT_EQ((*gpu)->kernelTarget(), target->name);

  auto art = rt::Artifact::open(refPath);
  ASSERT_TRUE(art.isOk()) << art.message();
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.maxSeqLen = 64;
  auto cpu = rt::Session::create(**art, so);
  ASSERT_TRUE(cpu.isOk()) << cpu.message();
  auto denseArt = rt::Artifact::open(densePath);
  ASSERT_TRUE(denseArt.isOk()) << denseArt.message();
  auto dense = rt::Session::create(**denseArt, so);
  ASSERT_TRUE(dense.isOk()) << dense.message();

  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int64_t> tok(0, o.vocab - 1);
  std::vector<int64_t> prompt;
  // With quantised activations (W8A8), the bf16-level differences between
  // the two executors move some inputs across a rounding boundary, and each
  // such flip is a whole quantisation step: the two results then differ by up
  // to what two independent roundings would (about sqrt(2) x the format's
  // own error), not by bf16 noise. The bound follows: the larger of `bound`
  // and 1.5 x the format's error, measured on the first prefill.
  const bool quantizesActivations =
      format && (format->format == fm::Format::INT8 || format->format == fm::Format::FP8) && !weightOnly;
  for (int round = 0; round < check.rounds; ++round) {
    // A longer prompt each round: the activation buffers grow, which must
    // invalidate the decode graph built for the old ones.
    prompt.resize(size_t(check.promptTokens + 12 * round));
    for (int64_t &t : prompt) t = tok(rng);
    auto g = (*gpu)->prefill(prompt);
    ASSERT_TRUE(g.isOk()) << g.message();
    auto c = (*cpu)->prefill(prompt);
    ASSERT_TRUE(c.isOk()) << c.message();
    const double err = relError(*g, *c);
    if (round == 0) {
      auto u = (*dense)->prefill(prompt);
      ASSERT_TRUE(u.isOk()) << u.message();
      const double formatErr = relError(*c, *u), gpuFormatErr = relError(*g, *u);
      if (quantizesActivations) bound = std::max(bound, 1.5 * formatErr);
      std::printf("[ %s%s on %s ] prefill T=%zu: GPU vs CPU relative error %.3g (bound %.3g); vs the unquantized "
                  "model: CPU %.3g, GPU %.3g\n",
                  formatName.c_str(), weightOnly ? " weight-only" : "", target->name, prompt.size(), err, bound,
                  formatErr, gpuFormatErr);
      // The GPU quantises as much as the CPU does (neither more nor less).
      if (format && format->format != fm::Format::BF16) {
        EXPECT_GT(gpuFormatErr, 0.5 * formatErr) << "the GPU result is too close to the unquantized model";
        EXPECT_LT(gpuFormatErr, 2.0 * formatErr) << "the GPU result is too far from the unquantized model";
      }
    }
    EXPECT_LT(err, bound) << "prefill relative error " << err;
    for (int step = 0; step < check.decodeSteps; ++step) {
      const int64_t next = tok(rng);
      auto gd = (*gpu)->decode(next);
      ASSERT_TRUE(gd.isOk()) << gd.message();
      auto cd = (*cpu)->decode(next);
      ASSERT_TRUE(cd.isOk()) << cd.message();
      const double stepErr = relError(*gd, *cd);
      EXPECT_LT(stepErr, bound) << "decode step " << step << " relative error " << stepErr;
    }
    EXPECT_EQ((*gpu)->position(), int64_t(prompt.size()) + check.decodeSteps);
    (*gpu)->reset();
    (*cpu)->reset();
  }
  if (check.cudaGraphs && dev->supportsGraphs()) {
    EXPECT_TRUE((*gpu)->usesCudaGraphs());
    if (check.decodeSteps > 0) {
      EXPECT_EQ((*gpu)->decodeGraphBuilds(), check.rounds); // once per buffer size
    }
  } else {
    EXPECT_EQ((*gpu)->decodeGraphBuilds(), 0);
  }
  // Past the cache: a clear error, not a crash.
  auto tooLong = (*gpu)->prefill(std::vector<int64_t>(65, 1));
  EXPECT_FALSE(tooLong.isOk());
  auto badToken = (*gpu)->decode(o.vocab);
  EXPECT_FALSE(badToken.isOk());
}


} // namespace qcc::cuda::testing
