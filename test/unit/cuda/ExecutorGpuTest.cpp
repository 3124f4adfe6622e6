// GPU check (ctest label `gpu`) of the whole-model CUDA executor: a small
// random Llama in every format is compiled for the device's target
// (compileArtifactKernels), written as an artifact, and run by CudaExecutor
// and by the CPU executor (rt::Session on the CPU) over the same artifact;
// prefill and decode logits must agree within a per-format relative error.
// Activations and KV caches are poisoned (NaN) before the kernels write them.
// Skipped cleanly without a driver, a device or NVRTC.
#include "codegen/cuda/ArtifactKernels.h"
#include "codegen/cuda/Nvrtc.h"
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/lib/Session.h"
#include "test/unit/artifact/TinyArtifact.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <unistd.h>

using namespace qcc;
using namespace qcc::cuda;
namespace fm = qcc::formats;

namespace {

CudaDevice *device(std::string *why) {
  static std::unique_ptr<CudaDevice> dev;
  static std::string reason;
  static bool tried = false;
  if (!tried) {
    tried = true;
    auto d = CudaDevice::open(0);
    if (!d) reason = d.message();
    else if (!Nvrtc::get()) reason = Nvrtc::get().message();
    else if (!targetForComputeCapability((*d)->ccMajor(), (*d)->ccMinor()))
      reason = "no qcc target for " + (*d)->archName();
    else dev = std::move(*d);
  }
  *why = reason;
  return dev.get();
}

std::string tempDir() {
  char tmpl[] = "/tmp/qcc-executor-gpu-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

// ||got - want|| / ||want||; any non-finite value in `got` fails.
double relError(const std::vector<float> &got, const std::vector<float> &want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += double(got[i] - want[i]) * (got[i] - want[i]);
    den += double(want[i]) * want[i];
  }
  EXPECT_GT(den, 0.0) << "reference logits are all zero";
  return std::sqrt(num / std::max(den, 1e-300));
}

void checkFormat(const std::string &formatName, double bound) {
  std::string why;
  CudaDevice *dev = device(&why);
  if (!dev) GTEST_SKIP() << "no GPU: " << why;
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
  auto kernels = compileArtifactKernels(*spec, {target->name}, /*fp8WeightOnly=*/true, dir + "/cache");
  ASSERT_TRUE(kernels.isOk()) << kernels.message();
  const std::string path = dir + "/model.qcc";
  Status w = artifact::testing::writeTinyArtifact(path, model, format, nullptr, *kernels);
  ASSERT_TRUE(w.isOk()) << w.message();

  auto file = artifact::ArtifactFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.message();
  CudaExecutorOptions eo;
  eo.maxSeqLen = 64;
  eo.poisonActivations = true;
  auto gpu = CudaExecutor::create(**file, *dev, eo);
  ASSERT_TRUE(gpu.isOk()) << gpu.message();
  EXPECT_EQ((*gpu)->kernelTarget(), target->name);

  auto art = rt::Artifact::open(path);
  ASSERT_TRUE(art.isOk()) << art.message();
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.maxSeqLen = 64;
  auto cpu = rt::Session::create(**art, so);
  ASSERT_TRUE(cpu.isOk()) << cpu.message();

  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int64_t> tok(0, o.vocab - 1);
  std::vector<int64_t> prompt(21);
  for (int64_t &t : prompt) t = tok(rng);
  for (int round = 0; round < 2; ++round) { // the second round checks reset()
    auto g = (*gpu)->prefill(prompt);
    ASSERT_TRUE(g.isOk()) << g.message();
    auto c = (*cpu)->prefill(prompt);
    ASSERT_TRUE(c.isOk()) << c.message();
    double err = relError(*g, *c);
    EXPECT_LT(err, bound) << "prefill relative error " << err;
    std::printf("[ %s ] prefill T=%zu relative error %.3g (bound %.3g)\n", formatName.c_str(), prompt.size(), err,
                bound);
    for (int step = 0; step < 6; ++step) { // decode (M = 1 kernels)
      const int64_t next = tok(rng);
      auto gd = (*gpu)->decode(next);
      ASSERT_TRUE(gd.isOk()) << gd.message();
      auto cd = (*cpu)->decode(next);
      ASSERT_TRUE(cd.isOk()) << cd.message();
      err = relError(*gd, *cd);
      EXPECT_LT(err, bound) << "decode step " << step << " relative error " << err;
    }
    EXPECT_EQ((*gpu)->position(), int64_t(prompt.size()) + 6);
    (*gpu)->reset();
    (*cpu)->reset();
  }
  // Past the cache: a clear error, not a crash.
  auto tooLong = (*gpu)->prefill(std::vector<int64_t>(65, 1));
  EXPECT_FALSE(tooLong.isOk());
  auto badToken = (*gpu)->decode(o.vocab);
  EXPECT_FALSE(badToken.isOk());
}

} // namespace

// Bounds: the GPU rounds every activation to bf16 and accumulates in another
// order than the CPU executor; quantised activations (int8 / fp8) can flip a
// code near a rounding boundary, hence their looser bound.
TEST(CudaExecutorGpu, Dense) { checkFormat("dense", 3e-2); }
TEST(CudaExecutorGpu, Bf16) { checkFormat("bf16", 3e-2); }
TEST(CudaExecutorGpu, W4A16) { checkFormat("w4a16", 3e-2); }
TEST(CudaExecutorGpu, Int8) { checkFormat("int8", 6e-2); }
TEST(CudaExecutorGpu, Fp8) { checkFormat("fp8", 6e-2); }

// Without a device the executor is never built; the open error is clear.
TEST(CudaExecutorGpu, NoDeviceIsAClearError) {
  std::string why;
  if (device(&why)) GTEST_SKIP() << "a device is present";
  auto d = CudaDevice::open(0);
  ASSERT_FALSE(d.isOk());
  EXPECT_FALSE(d.message().empty());
}

// No GPU needed: an artifact carrying real kernels (w4a16, one target) is
// written, passes the loader's checks, runs on the CPU, and holds exactly the
// kernels the executor will look up for that target.
TEST(CudaExecutorArtifact, ArtifactWithKernelsLoads) {
  if (!Nvrtc::get()) GTEST_SKIP() << "no NVRTC: " << Nvrtc::get().message();
  artifact::testing::TinyOptions o;
  o.hidden = 256, o.intermediate = 768, o.layers = 2, o.heads = 4, o.kvHeads = 1, o.vocab = 320;
  const artifact::testing::TinyModel model = artifact::testing::makeTinyModel(o);
  auto format = fm::parseFormatSpec("w4a16");
  ASSERT_TRUE(format.isOk()) << format.message();
  auto spec = artifact::testing::tinySpec(model, *format);
  ASSERT_TRUE(spec.isOk()) << spec.message();
  const std::string dir = tempDir();
  auto kernels = compileArtifactKernels(*spec, {"sm86"}, false, dir + "/cache");
  ASSERT_TRUE(kernels.isOk()) << kernels.message();
  const std::string path = dir + "/model.qcc";
  Status w = artifact::testing::writeTinyArtifact(path, model, *format, nullptr, *kernels);
  ASSERT_TRUE(w.isOk()) << w.message();

  auto file = artifact::ArtifactFile::open(path);
  ASSERT_TRUE(file.isOk()) << file.message();
  ASSERT_EQ((*file)->spec().targets.size(), 1u);
  const artifact::TargetDecl &t = (*file)->spec().targets[0];
  EXPECT_EQ(t.target, "sm_86");
  auto sm86 = findTarget("sm_86");
  ASSERT_TRUE(sm86.isOk());
  auto plan = planModelKernels((*file)->spec(), **sm86, false);
  ASSERT_TRUE(plan.isOk()) << plan.message();
  const std::vector<KernelSpec> want = plan->unique();
  ASSERT_EQ(t.kernels.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(t.kernels[i].name, kernelName(want[i]));
    EXPECT_EQ(t.kernels[i].cubin, (*kernels)[0].kernels[i].cubin) << t.kernels[i].name;
  }

  auto art = rt::Artifact::open(path);
  ASSERT_TRUE(art.isOk()) << art.message();
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.maxSeqLen = 32;
  auto cpu = rt::Session::create(**art, so);
  ASSERT_TRUE(cpu.isOk()) << cpu.message();
  auto logits = (*cpu)->prefill({1, 2, 3});
  ASSERT_TRUE(logits.isOk()) << logits.message();
  EXPECT_EQ(logits->size(), size_t(3 * o.vocab));
}
