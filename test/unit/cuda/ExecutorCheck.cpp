#include "ExecutorCheck.h"
#include "KernelTestData.h"

#include "frontends/llama/Checkpoint.h"
#include "frontends/llama/Safetensors.h"
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/formats/Formats.h"
#include "runtime/lib/Session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc::cuda::testing {

namespace fm = qcc::formats;

namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/qcc-executor-check-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

// Compile options for the device's target: fp8 runs weight-only where the
// target has no fp8 tensor cores; the rules file (if any) is written to `dir`.
QuantizationOptions optionsFor(const std::string &format, const std::vector<std::pair<std::string, std::string>> &rules,
                               const std::string &targets, const std::string &dir, const std::string &tag) {
  QuantizationOptions o;
  o.format = format;
  o.targets = targets;
  o.fp8WeightOnly = true;
  if (!rules.empty()) {
    o.layerFormatsFile = dir + "/" + tag + "-rules.yaml";
    std::ofstream f(o.layerFormatsFile);
    for (const auto &[pattern, fmt] : rules) f << '"' << pattern << "\": " << fmt << "\n";
  }
  return o;
}

// The model the weight-only kernels compute: the checkpoint in `dir` with
// every fp8 weight of the artifact replaced by its dequantized values (f32),
// written to `refDir`.
Status writeDequantizedFp8Checkpoint(const std::string &dir, const artifact::ArtifactFile &art,
                                     const std::string &refDir) {
  auto ckpt = Checkpoint::open(dir);
  if (!ckpt) return ckpt.status();
  ::mkdir(refDir.c_str(), 0755);
  {
    std::ifstream in(dir + "/config.json", std::ios::binary);
    std::ofstream out(refDir + "/config.json", std::ios::binary);
    out << in.rdbuf();
  }
  std::vector<std::vector<float>> storage;
  std::vector<SafetensorsEntry> entries;
  for (const std::string &name : (*ckpt)->tensorNames()) {
    const TensorRef *t = (*ckpt)->find(name);
    const artifact::LoadedTensor *q = art.find(name);
    if (q && q->decl.format == artifact::WeightFormat::FP8) {
      fm::QuantizedLinear ql;
      ql.format = fm::Format::FP8;
      ql.outFeatures = q->decl.shape[0];
      ql.inFeatures = q->decl.shape[1];
      ql.weights.assign(q->data, q->data + q->dataRange.size);
      ql.scales.resize(q->scaleRange.size / 4);
      std::memcpy(ql.scales.data(), q->scales, q->scaleRange.size);
      QCC_RETURN_IF_ERROR(fm::validate(ql));
      storage.push_back(fm::dequantize(ql));
      entries.push_back({name, DType::F32, t->shape, nullptr});
    } else {
      entries.push_back({name, t->dtype, t->shape, t->data});
    }
  }
  size_t next = 0;
  for (SafetensorsEntry &e : entries)
    if (!e.data) e.data = storage[next++].data();
  return writeSafetensors(refDir + "/model.safetensors", entries);
}

bool hasFp8(const artifact::ArtifactFile &art) {
  for (const artifact::LoadedTensor &t : art.tensors())
    if (t.decl.format == artifact::WeightFormat::FP8) return true;
  return false;
}

const GpuTarget *deviceTarget(CudaDevice &dev) { return targetForComputeCapability(dev.ccMajor(), dev.ccMinor()); }

} // namespace

void checkExecutorAgainstCpu(CudaDevice &device, const std::string &formatName, double bound,
                             const ExecutorCheck &check) {
  // (bound may grow for W8A8 formats, see below)
  CudaDevice *dev = &device;
  const GpuTarget *target = deviceTarget(*dev);
  ASSERT_NE(target, nullptr) << "no qcc target for " << dev->archName();
  const unsigned seed = std::random_device{}(); // fresh weights each run
  SCOPED_TRACE("format " + formatName + (check.layerFormats.empty() ? "" : " with per-layer rules") + " on " +
               dev->archName() + ", checkpoint seed " + std::to_string(seed));

  ModelConfig c;
  c.hiddenSize = 256;
  c.intermediateSize = 768;
  c.numLayers = 2;
  c.numHeads = 4;
  c.numKvHeads = 1;
  c.headDim = 64;
  c.vocabSize = 320;
  c.bosTokenId = 0;
  c.eosTokenIds = {1};
  c.maxPositionEmbeddings = 64; // the kernels' KV cache length
  c.ropeTheta = 500000.0;
  c.ropeScaling.enabled = true;
  c.ropeScaling.originalMaxPositionEmbeddings = 16;
  const std::string dir = tempDir(), ckpt = dir + "/checkpoint";
  // Attention scores and logits of standard deviation ~1: peakier ones turn
  // the executors' bf16 roundings into larger logit differences.
  qcc::test::RandomWeightScales scales;
  scales.qk = 1.0f;
  scales.lmHead = 1.0f / 16; // 1/sqrt(hidden)
  Status w = qcc::test::writeRandomCheckpoint(ckpt, c, seed, scales);
  ASSERT_TRUE(w.isOk()) << w.message();

  auto model = qcc::test::compileCheckpoint(
      ckpt, optionsFor(formatName, check.layerFormats, target->cliName, dir, "model"), dir + "/model.qcc");
  ASSERT_TRUE(model.isOk()) << model.message();
  if (check.prepare) {
    Status p = check.prepare(*model);
    ASSERT_TRUE(p.isOk()) << p.message();
  }
  auto file = artifact::ArtifactFile::open(model->artifactPath);
  ASSERT_TRUE(file.isOk()) << file.message();

  // The reference the GPU must match: the CPU executor on the same artifact,
  // except for fp8 on a target without fp8 tensor cores, where the kernels
  // compute e4m3 weights x bf16 activations (weight-only): then the CPU runs
  // a model whose fp8 weights are the artifact's, dequantized, and whose
  // other layers are compiled as before. `dense` is the unquantized model,
  // for reporting each format's own error next to the GPU-vs-CPU difference.
  const bool weightOnly = !target->hasFp8Mma && hasFp8(**file);
  std::string refPath = model->artifactPath;
  if (weightOnly) {
    const std::string refCkpt = dir + "/weight-only-reference";
    Status r = writeDequantizedFp8Checkpoint(ckpt, **file, refCkpt);
    ASSERT_TRUE(r.isOk()) << r.message();
    auto asDense = [](std::string f) { return f == "fp8" ? std::string("bf16") : f; };
    std::vector<std::pair<std::string, std::string>> rules = check.layerFormats;
    for (auto &rule : rules) rule.second = asDense(rule.second);
    refPath = dir + "/weight-only-reference.qcc";
    auto ref = qcc::test::compileCheckpoint(refCkpt, optionsFor(asDense(formatName), rules, "", dir, "reference"),
                                            refPath);
    ASSERT_TRUE(ref.isOk()) << ref.message();
  }
  const std::string densePath = dir + "/dense.qcc";
  auto dense = qcc::test::compileCheckpoint(ckpt, optionsFor("bf16", {}, "", dir, "dense"), densePath);
  ASSERT_TRUE(dense.isOk()) << dense.message();

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
  auto unquantized = rt::Session::create(**denseArt, so);
  ASSERT_TRUE(unquantized.isOk()) << unquantized.message();

  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> tok(0, c.vocabSize - 1);
  std::vector<int64_t> prompt;
  // With quantised activations (W8A8), the bf16-level differences between
  // the two executors move some inputs across a rounding boundary, and each
  // such flip is a whole quantisation step: the two results then differ by up
  // to what two independent roundings would (about sqrt(2) x the format's
  // own error), not by bf16 noise. The bound follows: the larger of `bound`
  // and 1.5 x the format's error, measured on the first prefill. In a model
  // that mixes W8A8 layers with others, that is the error of its W8A8 layers
  // alone (the same checkpoint with every other layer unquantized).
  bool quantizesActivations = false;
  for (const artifact::LoadedTensor &t : (*file)->tensors())
    quantizesActivations |= t.decl.format == artifact::WeightFormat::INT8 ||
                            (t.decl.format == artifact::WeightFormat::FP8 && target->hasFp8Mma);
  std::unique_ptr<rt::Artifact> w8a8OnlyArt;
  std::unique_ptr<rt::Session> w8a8Only;
  if (quantizesActivations && !check.layerFormats.empty()) {
    auto w8a8 = [&](const std::string &f) {
      return f == "int8" || (f == "fp8" && target->hasFp8Mma) ? f : std::string("bf16");
    };
    std::vector<std::pair<std::string, std::string>> rules = check.layerFormats;
    for (auto &rule : rules) rule.second = w8a8(rule.second);
    const std::string path = dir + "/w8a8-only.qcc";
    auto m = qcc::test::compileCheckpoint(ckpt, optionsFor(w8a8(formatName), rules, "", dir, "w8a8-only"), path);
    ASSERT_TRUE(m.isOk()) << m.message();
    auto a = rt::Artifact::open(path);
    ASSERT_TRUE(a.isOk()) << a.message();
    w8a8OnlyArt = std::move(*a);
    auto sess = rt::Session::create(*w8a8OnlyArt, so);
    ASSERT_TRUE(sess.isOk()) << sess.message();
    w8a8Only = std::move(*sess);
  }
  bool quantized = false;
  for (const artifact::LoadedTensor &t : (*file)->tensors())
    quantized |= t.decl.format != artifact::WeightFormat::Dense && t.decl.format != artifact::WeightFormat::BF16;
  for (int round = 0; round < check.rounds; ++round) {
    // A longer prompt each round: the activation buffers grow, which must
    // invalidate the decode graph built for the old ones.
    prompt.resize(size_t(check.promptTokens + 12 * round));
    for (int64_t &t : prompt) t = tok(rng);
    auto g = (*gpu)->prefill(prompt);
    ASSERT_TRUE(g.isOk()) << g.message();
    auto cp = (*cpu)->prefill(prompt);
    ASSERT_TRUE(cp.isOk()) << cp.message();
    const double err = relError(*g, *cp);
    if (round == 0) {
      auto u = (*unquantized)->prefill(prompt);
      ASSERT_TRUE(u.isOk()) << u.message();
      const double formatErr = relError(*cp, *u), gpuFormatErr = relError(*g, *u);
      double w8a8Err = formatErr;
      if (w8a8Only) {
        auto a = w8a8Only->prefill(prompt);
        ASSERT_TRUE(a.isOk()) << a.message();
        w8a8Err = relError(*a, *u);
      }
      if (quantizesActivations) bound = std::max(bound, 1.5 * w8a8Err);
      std::printf("[ %s%s%s on %s ] prefill T=%zu: GPU vs CPU relative error %.3g (bound %.3g); vs the unquantized "
                  "model: CPU %.3g, GPU %.3g%s\n",
                  formatName.c_str(), check.layerFormats.empty() ? "" : " with per-layer rules",
                  weightOnly ? " weight-only" : "", target->name, prompt.size(), err, bound, formatErr, gpuFormatErr,
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
  auto badToken = (*gpu)->decode(c.vocabSize);
  EXPECT_FALSE(badToken.isOk());
}

void checkGreedyIdsAgainstCpu(CudaDevice &device, const std::string &checkpointDir, const std::string &format,
                              const std::vector<int64_t> &prompt, int tokens, const ExecutorCheck &check) {
  const GpuTarget *target = deviceTarget(device);
  ASSERT_NE(target, nullptr) << "no qcc target for " << device.archName();
  SCOPED_TRACE("greedy ids of " + checkpointDir + " (" + format + ") on " + device.archName());
  const std::string dir = tempDir();
  auto model = qcc::test::compileCheckpoint(
      checkpointDir, optionsFor(format, check.layerFormats, target->cliName, dir, "model"), dir + "/model.qcc");
  ASSERT_TRUE(model.isOk()) << model.message();
  if (check.prepare) {
    Status p = check.prepare(*model);
    ASSERT_TRUE(p.isOk()) << p.message();
  }
  auto file = artifact::ArtifactFile::open(model->artifactPath);
  ASSERT_TRUE(file.isOk()) << file.message();
  CudaExecutorOptions eo;
  eo.maxSeqLen = int64_t(prompt.size()) + tokens;
  eo.poisonActivations = true;
  eo.cudaGraphs = check.cudaGraphs;
  auto gpu = CudaExecutor::create(**file, device, eo);
  ASSERT_TRUE(gpu.isOk()) << gpu.message();
  EXPECT_EQ((*gpu)->kernelTarget(), target->name);
  auto art = rt::Artifact::open(model->artifactPath);
  ASSERT_TRUE(art.isOk()) << art.message();
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.maxSeqLen = eo.maxSeqLen;
  auto cpu = rt::Session::create(**art, so);
  ASSERT_TRUE(cpu.isOk()) << cpu.message();

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
  Status cs = greedy(*cpu, &cpuIds);
  ASSERT_TRUE(cs.isOk()) << cs.message();
  EXPECT_EQ(gpuIds, cpuIds);
  std::string text;
  for (int64_t id : gpuIds) text += " " + std::to_string(id);
  std::printf("[ %s on %s ] greedy ids:%s\n", format.c_str(), target->name, text.c_str());
}

} // namespace qcc::cuda::testing
