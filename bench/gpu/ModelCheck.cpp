// qcc-gpu-model-check MODEL.qcc [--prompt 48] [--decode 32] [--bound 0.05] [--md FILE]
// The whole model on the GPU against the CPU executor over the same artifact:
// prefill logits of a fixed pseudo-random prompt and every decode step's
// logits (relative L2 error, argmax agreement), then the decode step time
// (host to host: launch, kernels, logits download). When the artifact carries
// no kernels for the GPU, they are compiled now (compileArtifactKernels).
// Exit 0 only when every relative error is below --bound.
#include "codegen/cuda/ArtifactKernels.h"
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/lib/Session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace qcc;
using namespace qcc::cuda;

namespace {

double relError(const std::vector<float> &got, const std::vector<float> &want) {
  if (got.size() != want.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += double(got[i] - want[i]) * (got[i] - want[i]);
    den += double(want[i]) * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : INFINITY;
}

size_t argmax(const float *v, size_t n) { return size_t(std::max_element(v, v + n) - v); }

int fail(const std::string &m) {
  std::fprintf(stderr, "qcc-gpu-model-check: error: %s\n", m.c_str());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  std::string path, md;
  int prompt = 48, steps = 32;
  double bound = 0.05;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const bool hasValue = i + 1 < argc;
    if (a == "--prompt" && hasValue) prompt = std::atoi(argv[++i]);
    else if (a == "--decode" && hasValue) steps = std::atoi(argv[++i]);
    else if (a == "--bound" && hasValue) bound = std::atof(argv[++i]);
    else if (a == "--md" && hasValue) md = argv[++i];
    else if (path.empty() && a[0] != '-') path = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (path.empty() || prompt < 1 || steps < 1)
    return fail("usage: qcc-gpu-model-check MODEL.qcc [--prompt N] [--decode N] [--bound E] [--md FILE]");

  auto dev = CudaDevice::open(0);
  if (!dev) return fail(dev.message());
  auto file = artifact::ArtifactFile::open(path);
  if (!file) return fail(file.message());
  const GpuTarget *target = targetForComputeCapability((*dev)->ccMajor(), (*dev)->ccMinor());
  if (!target) return fail("no qcc target for " + (*dev)->archName());

  CudaExecutorOptions eo;
  eo.maxSeqLen = prompt + steps;
  std::vector<artifact::TargetDecl> compiled;
  bool hasTarget = false;
  for (const auto &t : (*file)->spec().targets) hasTarget |= t.target == target->name && !t.kernels.empty();
  if (!hasTarget) {
    std::printf("%s has no %s kernels: compiling them now\n", path.c_str(), target->name);
    auto k = compileArtifactKernels((*file)->spec(), {target->name}, /*fp8WeightOnly=*/true);
    if (!k) return fail(k.message());
    compiled = std::move(*k);
    eo.kernels = &compiled;
  }
  auto gpu = CudaExecutor::create(**file, **dev, eo);
  if (!gpu) return fail(gpu.message());
  auto art = rt::Artifact::open(path);
  if (!art) return fail(art.message());
  rt::SessionOptions so;
  so.device = rt::Device::Cpu;
  so.maxSeqLen = prompt + steps;
  auto cpu = rt::Session::create(**art, so);
  if (!cpu) return fail(cpu.message());

  const int64_t V = (*file)->config().vocabSize;
  std::vector<int64_t> tokens(static_cast<size_t>(prompt));
  uint64_t x = 0x9e3779b97f4a7c15ull; // fixed pseudo-random prompt
  for (int64_t &t : tokens) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    t = int64_t(x % uint64_t(V));
  }
  auto g = (*gpu)->prefill(tokens);
  if (!g) return fail(g.message());
  auto c = (*cpu)->prefill(tokens);
  if (!c) return fail(c.message());
  const double prefillErr = relError(*g, *c);
  double worstDecode = 0;
  int agree = 0;
  int64_t next = int64_t(argmax(c->data() + (prompt - 1) * V, size_t(V)));
  for (int s = 0; s < steps; ++s) { // greedy on the CPU's choice: both see the same tokens
    auto gd = (*gpu)->decode(next);
    if (!gd) return fail(gd.message());
    auto cd = (*cpu)->decode(next);
    if (!cd) return fail(cd.message());
    worstDecode = std::max(worstDecode, relError(*gd, *cd));
    agree += argmax(gd->data(), size_t(V)) == argmax(cd->data(), size_t(V));
    next = int64_t(argmax(cd->data(), size_t(V)));
  }

  // Decode step time: prefill once, then `steps` decodes, host to host.
  (*gpu)->reset();
  if (auto p = (*gpu)->prefill(tokens); !p) return fail(p.message());
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s)
    if (auto d = (*gpu)->decode(1 + s % 7); !d) return fail(d.message());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;

  const bool ok = prefillErr < bound && worstDecode < bound;
  char row[512];
  std::snprintf(row, sizeof row, "| %s | %s | %s | %d | %.3g | %.3g | %d/%d | %.3f | %s |\n", path.c_str(),
                (*dev)->name().c_str(), (*gpu)->kernelTarget().c_str(), prompt, prefillErr, worstDecode, agree,
                steps, ms, ok ? "PASS" : "FAIL");
  std::printf("| artifact | GPU | kernels | prompt | prefill rel err | worst decode rel err | argmax agree | "
              "decode ms/step | |\n|---|---|---|---|---|---|---|---|---|\n%s",
              row);
  if (!md.empty()) {
    if (FILE *f = std::fopen(md.c_str(), "a")) {
      std::fputs(row, f);
      std::fclose(f);
    }
  }
  return ok ? 0 : 1;
}
