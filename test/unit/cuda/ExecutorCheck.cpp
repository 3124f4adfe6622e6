// The runtime half of ExecutorCheck.h: prepared artifacts on the GPU against
// the CPU executor. Links no compiler (runs where only the runtime exists).
#include "ExecutorCheck.h"
#include "KernelTestData.h"

#include "runtime/artifact/ArtifactFile.h"
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/lib/Session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace qcc::cuda::testing {

namespace {

bool hasFormat(const artifact::ArtifactFile &art, artifact::WeightFormat f) {
  for (const artifact::LoadedTensor &t : art.tensors())
    if (t.decl.format == f) return true;
  return false;
}

// The artifact target whose kernels the device runs (CudaExecutor's choice),
// and whether they use fp8 tensor cores (sm_89 and newer), or null.
const artifact::TargetDecl *runTarget(const artifact::ArtifactFile &file, CudaDevice &dev, bool *fp8Mma) {
  const artifact::TargetDecl *t = chooseKernelTarget(file.spec().targets, dev.ccMajor(), dev.ccMinor());
  if (t) *fp8Mma = targetNumber(t->target) >= 89;
  return t;
}

std::unique_ptr<rt::Session> cpuSession(const rt::Artifact &art, int64_t maxSeq) {
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.maxSeqLen = maxSeq;
  auto s = rt::Session::create(art, so);
  EXPECT_TRUE(s.isOk()) << s.message();
  return s ? std::move(*s) : nullptr;
}

} // namespace

void checkExecutorArtifacts(CudaDevice &device, const ExecutorArtifacts &a, double bound, const ExecutorCheck &check) {
  // (bound may grow for W8A8 layers, see below)
  CudaDevice *dev = &device;
  SCOPED_TRACE(a.label + " on " + dev->archName() + ", checkpoint seed " + std::to_string(a.seed) + " (" + a.model +
               ")");
  auto file = artifact::ArtifactFile::open(a.model);
  ASSERT_TRUE(file.isOk()) << file.message();
  bool fp8Mma = false;
  const artifact::TargetDecl *target = runTarget(**file, *dev, &fp8Mma);
  ASSERT_NE(target, nullptr) << "the artifact has no kernels for " << dev->archName();

  // The reference the GPU must match: the CPU executor on the same artifact,
  // except for fp8 on a target without fp8 tensor cores, where the kernels
  // compute e4m3 weights x bf16 activations (weight-only): then the CPU runs
  // a model whose fp8 weights are the artifact's, dequantized, and whose
  // other layers are compiled as before. `dense` is the unquantized model,
  // for reporting each format's own error next to the GPU-vs-CPU difference.
  const bool weightOnly = !fp8Mma && hasFormat(**file, artifact::WeightFormat::FP8);
  if (weightOnly) {
    ASSERT_FALSE(a.reference.empty()) << "prepared without the weight-only reference " << target->target << " needs";
  }
  const std::string refPath = weightOnly ? a.reference : a.model;

  CudaExecutorOptions eo;
  eo.maxSeqLen = kExecutorCheckMaxSeq;
  eo.poisonActivations = true;
  eo.cudaGraphs = check.cudaGraphs;
  auto gpu = CudaExecutor::create(**file, *dev, eo);
  ASSERT_TRUE(gpu.isOk()) << gpu.message();
  EXPECT_EQ((*gpu)->kernelTarget(), target->target);

  auto art = rt::Artifact::open(refPath);
  ASSERT_TRUE(art.isOk()) << art.message();
  std::unique_ptr<rt::Session> cpu = cpuSession(**art, kExecutorCheckMaxSeq);
  ASSERT_NE(cpu, nullptr);
  auto denseArt = rt::Artifact::open(a.dense);
  ASSERT_TRUE(denseArt.isOk()) << denseArt.message();
  std::unique_ptr<rt::Session> unquantized = cpuSession(**denseArt, kExecutorCheckMaxSeq);
  ASSERT_NE(unquantized, nullptr);

  // With quantised activations (W8A8), the bf16-level differences between
  // the two executors move some inputs across a rounding boundary, and each
  // such flip is a whole quantisation step: the two results then differ by up
  // to what two independent roundings would (about sqrt(2) x the format's
  // own error), not by bf16 noise. The bound follows: the larger of `bound`
  // and 1.5 x the format's error, measured on the first prefill. In a model
  // that mixes W8A8 layers with others, that is the error of its W8A8 layers
  // alone (the same checkpoint with every other layer unquantized).
  const bool quantizesActivations =
      hasFormat(**file, artifact::WeightFormat::INT8) ||
      (fp8Mma && hasFormat(**file, artifact::WeightFormat::FP8));
  bool quantized = false;
  for (const artifact::LoadedTensor &t : (*file)->tensors())
    quantized |= t.decl.format != artifact::WeightFormat::Dense && t.decl.format != artifact::WeightFormat::BF16;
  const std::string w8a8OnlyPath = fp8Mma ? a.w8a8Only : a.w8a8OnlyWithoutFp8;
  std::unique_ptr<rt::Artifact> w8a8OnlyArt;
  std::unique_ptr<rt::Session> w8a8Only;
  if (quantizesActivations && !w8a8OnlyPath.empty()) {
    auto o = rt::Artifact::open(w8a8OnlyPath);
    ASSERT_TRUE(o.isOk()) << o.message();
    w8a8OnlyArt = std::move(*o);
    w8a8Only = cpuSession(*w8a8OnlyArt, kExecutorCheckMaxSeq);
    ASSERT_NE(w8a8Only, nullptr);
  }

  std::mt19937 rng(a.seed);
  std::uniform_int_distribution<int64_t> tok(0, kExecutorCheckVocab - 1);
  std::vector<int64_t> prompt;
  for (int round = 0; round < check.rounds; ++round) {
    // A longer prompt each round: the activation buffers grow, which must
    // invalidate the decode graph built for the old ones.
    prompt.resize(size_t(check.promptTokens + 12 * round));
    for (int64_t &t : prompt) t = tok(rng);
    auto g = (*gpu)->prefill(prompt);
    ASSERT_TRUE(g.isOk()) << g.message();
    auto cp = cpu->prefill(prompt);
    ASSERT_TRUE(cp.isOk()) << cp.message();
    const double err = relError(*g, *cp);
    if (round == 0) {
      auto u = unquantized->prefill(prompt);
      ASSERT_TRUE(u.isOk()) << u.message();
      const double formatErr = relError(*cp, *u), gpuFormatErr = relError(*g, *u);
      double w8a8Err = formatErr;
      if (w8a8Only) {
        auto o = w8a8Only->prefill(prompt);
        ASSERT_TRUE(o.isOk()) << o.message();
        w8a8Err = relError(*o, *u);
      }
      if (quantizesActivations) bound = std::max(bound, 1.5 * w8a8Err);
      std::printf("[ %s%s on %s ] prefill T=%zu: GPU vs CPU relative error %.3g (bound %.3g); vs the unquantized "
                  "model: CPU %.3g, GPU %.3g%s\n",
                  a.label.c_str(), weightOnly ? " weight-only" : "", target->target.c_str(), prompt.size(), err, bound,
                  formatErr, gpuFormatErr,
                  w8a8Only ? (", its W8A8 layers alone " + std::to_string(w8a8Err)).c_str() : "");
      // The GPU quantises as much as the CPU does (neither more nor less).
      if (quantized) {
        EXPECT_GT(gpuFormatErr, 0.5 * formatErr) << "the GPU result is too close to the unquantized model";
        EXPECT_LT(gpuFormatErr, 2.0 * formatErr) << "the GPU result is too far from the unquantized model";
      }
    }
    EXPECT_LT(err, bound) << "prefill relative error " << err;
    for (int step = 0; step < check.decodeSteps; ++step) {
      const int64_t next = tok(rng);
      auto gd = (*gpu)->decode(next);
      ASSERT_TRUE(gd.isOk()) << gd.message();
      auto cd = cpu->decode(next);
      ASSERT_TRUE(cd.isOk()) << cd.message();
      const double stepErr = relError(*gd, *cd);
      EXPECT_LT(stepErr, bound) << "decode step " << step << " relative error " << stepErr;
    }
    EXPECT_EQ((*gpu)->position(), int64_t(prompt.size()) + check.decodeSteps);
    (*gpu)->reset();
    cpu->reset();
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
  auto tooLong = (*gpu)->prefill(std::vector<int64_t>(kExecutorCheckMaxSeq + 1, 1));
  EXPECT_FALSE(tooLong.isOk());
  auto badToken = (*gpu)->decode(kExecutorCheckVocab);
  EXPECT_FALSE(badToken.isOk());
}

void checkGreedyIdsOnArtifact(CudaDevice &device, const std::string &artifactPath, const std::vector<int64_t> &prompt,
                              int tokens, bool cudaGraphs) {
  SCOPED_TRACE("greedy ids of " + artifactPath + " on " + device.archName());
  auto file = artifact::ArtifactFile::open(artifactPath);
  ASSERT_TRUE(file.isOk()) << file.message();
  bool fp8Mma = false;
  const artifact::TargetDecl *target = runTarget(**file, device, &fp8Mma);
  ASSERT_NE(target, nullptr) << "the artifact has no kernels for " << device.archName();
  CudaExecutorOptions eo;
  eo.maxSeqLen = int64_t(prompt.size()) + tokens;
  eo.poisonActivations = true;
  eo.cudaGraphs = cudaGraphs;
  auto gpu = CudaExecutor::create(**file, device, eo);
  ASSERT_TRUE(gpu.isOk()) << gpu.message();
  EXPECT_EQ((*gpu)->kernelTarget(), target->target);
  auto art = rt::Artifact::open(artifactPath);
  ASSERT_TRUE(art.isOk()) << art.message();
  std::unique_ptr<rt::Session> cpu = cpuSession(**art, eo.maxSeqLen);
  ASSERT_NE(cpu, nullptr);

  const int64_t V = (*file)->config().vocabSize;
  auto argmax = [](const float *v, int64_t n) { return int64_t(std::max_element(v, v + n) - v); };
  auto greedy = [&](auto &session, std::vector<int64_t> *ids) -> Status {
    auto logits = session->prefill(prompt);
    if (!logits) return logits.status();
    int64_t next = argmax(logits->data() + (int64_t(prompt.size()) - 1) * V, V);
    for (int i = 0; i < tokens; ++i) {
      ids->push_back(next);
      if (i + 1 == tokens) break;
      auto step = session->decode(next);
      if (!step) return step.status();
      next = argmax(step->data(), V);
    }
    return Status::ok();
  };
  std::vector<int64_t> gpuIds, cpuIds;
  Status g = greedy(*gpu, &gpuIds);
  ASSERT_TRUE(g.isOk()) << g.message();
  Status c = greedy(cpu, &cpuIds);
  ASSERT_TRUE(c.isOk()) << c.message();
  EXPECT_EQ(gpuIds, cpuIds);
  std::string text;
  for (int64_t id : gpuIds) text += " " + std::to_string(id);
  std::printf("[ %s on %s ] greedy ids:%s\n", artifactPath.c_str(), target->target.c_str(), text.c_str());
}

} // namespace qcc::cuda::testing
