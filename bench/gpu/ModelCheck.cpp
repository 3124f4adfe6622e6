// qcc-gpu-model-check MODEL.qcc [--prompt 48] [--decode 32] [--bound 0.03]
//     [--greedy-prompt "1 2 3 4 5"] [--greedy 16] [--data-ids FILE] [--max-seqs N]
//     [--max-len N] [--dense DENSE.qcc] [--label TEXT] [--md FILE]
// An artifact end to end on the GPU against the CPU executor, both through
// rt::Session (the runtime `qcc run` and `qcc eval` use; the GPU side is
// CudaExecutor on the artifact's kernels for the device, the PTX JIT path
// included), on one fixed pseudo-random prompt:
//   * prefill logits and every decode step's logits (relative L2 error,
//     argmax agreement), the CPU choosing each next token;
//   * greedy decoding from --greedy-prompt on each device alone: equal ids;
//   * perplexity of --data-ids (one sequence per line, as `qcc eval` counts
//     it: every next token of every window) on each device;
//   * the decode step time, host to host (launches, kernels, logits download).
// Exit 0 only when the logits errors and the perplexity's relative difference
// are below the bound and the greedy ids are equal. The bound is ExecutorCheck's
// (test/unit/cuda): --bound, or for a model whose kernels quantize activations
// (int8; fp8 where the kernels use fp8 tensor cores) 1.5 x its own logits
// error against --dense (the unquantized model) if that is larger. One Markdown row (also
// appended to --md) says it all. Links no compiler.
#include "runtime/artifact/ArtifactFile.h"
#include "runtime/cuda/CudaDevice.h"
#include "runtime/cuda/CudaExecutor.h"
#include "runtime/lib/Session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

using namespace qcc;

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

int64_t argmax(const float *v, int64_t n) { return int64_t(std::max_element(v, v + n) - v); }

int fail(const std::string &m) {
  std::fprintf(stderr, "qcc-gpu-model-check: error: %s\n", m.c_str());
  return 1;
}

Expected<std::vector<int64_t>> parseIds(const std::string &text, const std::string &what) {
  std::vector<int64_t> ids;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    char *end = nullptr;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    if (*end != '\0' || v < 0) return Status::error(what + ": '" + tok + "' is not a token id");
    ids.push_back(v);
  }
  return ids;
}

// Mean negative log-likelihood of every next token, summed into *nll / *tokens.
Status addNll(rt::Session &s, const std::vector<int64_t> &seq, int64_t V, double *nll, int64_t *tokens) {
  s.reset();
  auto logits = s.prefill(seq);
  if (!logits) return logits.status();
  for (size_t t = 0; t + 1 < seq.size(); ++t) {
    const float *row = logits->data() + t * size_t(V);
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, double(row[i]));
    for (int64_t i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
    *nll -= double(row[seq[t + 1]]) - mx - std::log(sum);
    ++*tokens;
  }
  return Status::ok();
}

Status greedy(rt::Session &s, const std::vector<int64_t> &prompt, int n, int64_t V, std::vector<int64_t> *ids) {
  s.reset();
  auto logits = s.prefill(prompt);
  if (!logits) return logits.status();
  int64_t next = argmax(logits->data() + (prompt.size() - 1) * size_t(V), V);
  for (int i = 0; i < n; ++i) {
    ids->push_back(next);
    if (i + 1 == n) break;
    auto step = s.decode(next);
    if (!step) return step.status();
    next = argmax(step->data(), V);
  }
  return Status::ok();
}

} // namespace

int main(int argc, char **argv) {
  std::string path, md, dataIds, label, densePath, greedyPromptText = "1 2 3 4 5";
  int prompt = 48, steps = 32, greedyTokens = 16, maxSeqs = 1 << 30, maxLen = 1 << 30;
  double bound = 0.03;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool hasValue = i + 1 < argc;
    if (a == "--prompt" && hasValue) prompt = std::atoi(argv[++i]);
    else if (a == "--decode" && hasValue) steps = std::atoi(argv[++i]);
    else if (a == "--bound" && hasValue) bound = std::atof(argv[++i]);
    else if (a == "--greedy" && hasValue) greedyTokens = std::atoi(argv[++i]);
    else if (a == "--greedy-prompt" && hasValue) greedyPromptText = argv[++i];
    else if (a == "--data-ids" && hasValue) dataIds = argv[++i];
    else if (a == "--max-seqs" && hasValue) maxSeqs = std::atoi(argv[++i]);
    else if (a == "--max-len" && hasValue) maxLen = std::atoi(argv[++i]);
    else if (a == "--label" && hasValue) label = argv[++i];
    else if (a == "--dense" && hasValue) densePath = argv[++i];
    else if (a == "--md" && hasValue) md = argv[++i];
    else if (path.empty() && !a.empty() && a[0] != '-') path = a;
    else return fail("unexpected argument '" + a + "'");
  }
  if (path.empty() || prompt < 2 || steps < 1 || greedyTokens < 1 || maxLen < 2)
    return fail("usage: qcc-gpu-model-check MODEL.qcc [--prompt N>=2] [--decode N] [--bound E] [--greedy N] "
                "[--greedy-prompt IDS] [--data-ids FILE] [--max-seqs N] [--max-len N] [--dense FILE] [--label TEXT] "
                "[--md FILE]");
  auto greedyPrompt = parseIds(greedyPromptText, "--greedy-prompt");
  if (!greedyPrompt) return fail(greedyPrompt.message());
  if (greedyPrompt->empty()) return fail("--greedy-prompt: no ids");
  std::vector<std::vector<int64_t>> sequences;
  if (!dataIds.empty()) {
    std::ifstream in(dataIds);
    if (!in) return fail(dataIds + ": cannot read");
    for (std::string line; std::getline(in, line) && int(sequences.size()) < maxSeqs;) {
      auto ids = parseIds(line, dataIds);
      if (!ids) return fail(ids.message());
      if (ids->size() > size_t(maxLen)) ids->resize(size_t(maxLen));
      if (ids->size() >= 2) sequences.push_back(std::move(*ids));
    }
    if (sequences.empty()) return fail(dataIds + ": no sequence of 2 or more ids");
  }

  auto art = rt::Artifact::open(path);
  if (!art) return fail(art.message());
  int64_t maxLenNeeded = std::max<int64_t>(prompt + steps, int64_t(greedyPrompt->size()) + greedyTokens);
  for (const auto &s : sequences) maxLenNeeded = std::max<int64_t>(maxLenNeeded, int64_t(s.size()));
  rt::SessionOptions so;
  so.maxSeqLen = maxLenNeeded;
  so.device = rt::Device::Cuda;
  auto gpu = rt::Session::create(**art, so);
  if (!gpu) return fail(gpu.message());
  so.device = rt::Device::Cpu;
  auto cpu = rt::Session::create(**art, so);
  if (!cpu) return fail(cpu.message());
  const std::string where = (*gpu)->deviceReason();
  std::printf("%s: %s\n", path.c_str(), where.c_str());

  const int64_t V = (*gpu)->vocabSize();
  for (const int64_t id : *greedyPrompt)
    if (id >= V) return fail("--greedy-prompt: id " + std::to_string(id) + " is outside the vocabulary");
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
  // W8A8: the two executors' bf16-level differences flip some activation
  // roundings, each a whole quantisation step (ExecutorCheck.cpp says more).
  double formatErr = NAN;
  if (!densePath.empty()) {
    auto file = artifact::ArtifactFile::open(path);
    if (!file) return fail(file.message());
    auto dev = cuda::CudaDevice::open(0);
    if (!dev) return fail(dev.message());
    const artifact::TargetDecl *t =
        cuda::chooseKernelTarget((*file)->spec().targets, (*dev)->ccMajor(), (*dev)->ccMinor());
    const bool fp8Mma = t && cuda::targetNumber(t->target) >= 89;
    bool w8a8 = false;
    for (const artifact::LoadedTensor &lt : (*file)->tensors())
      w8a8 |= lt.decl.format == artifact::WeightFormat::INT8 || (fp8Mma && lt.decl.format == artifact::WeightFormat::FP8);
    auto denseArt = rt::Artifact::open(densePath);
    if (!denseArt) return fail(denseArt.message());
    so.device = rt::Device::Cpu;
    auto dense = rt::Session::create(**denseArt, so);
    if (!dense) return fail(dense.message());
    auto u = (*dense)->prefill(tokens);
    if (!u) return fail(u.message());
    formatErr = relError(*c, *u);
    if (w8a8) bound = std::max(bound, 1.5 * formatErr);
  }
  double worstDecode = 0;
  int agree = 0;
  int64_t next = argmax(c->data() + (prompt - 1) * V, V);
  for (int s = 0; s < steps; ++s) { // on the CPU's choices: both see the same tokens
    auto gd = (*gpu)->decode(next);
    if (!gd) return fail(gd.message());
    auto cd = (*cpu)->decode(next);
    if (!cd) return fail(cd.message());
    worstDecode = std::max(worstDecode, relError(*gd, *cd));
    agree += argmax(gd->data(), V) == argmax(cd->data(), V);
    next = argmax(cd->data(), V);
  }

  std::vector<int64_t> gpuIds, cpuIds;
  if (Status s = greedy(**gpu, *greedyPrompt, greedyTokens, V, &gpuIds); !s) return fail(s.message());
  if (Status s = greedy(**cpu, *greedyPrompt, greedyTokens, V, &cpuIds); !s) return fail(s.message());
  const bool sameIds = gpuIds == cpuIds;
  size_t firstDiff = 0;
  while (firstDiff < gpuIds.size() && gpuIds[firstDiff] == cpuIds[firstDiff]) ++firstDiff;

  double pplGpu = NAN, pplCpu = NAN, pplDiff = 0;
  if (!sequences.empty()) {
    double nllG = 0, nllC = 0;
    int64_t nG = 0, nC = 0;
    for (const auto &seq : sequences) {
      if (Status s = addNll(**gpu, seq, V, &nllG, &nG); !s) return fail(s.message());
      if (Status s = addNll(**cpu, seq, V, &nllC, &nC); !s) return fail(s.message());
    }
    pplGpu = std::exp(nllG / double(nG));
    pplCpu = std::exp(nllC / double(nC));
    pplDiff = std::fabs(pplGpu - pplCpu) / pplCpu;
  }

  // Decode step time: prefill once, then `steps` decodes, host to host.
  (*gpu)->reset();
  if (auto p = (*gpu)->prefill(tokens); !p) return fail(p.message());
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s)
    if (auto d = (*gpu)->decode(1 + s % 7); !d) return fail(d.message());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;

  const bool ok = prefillErr < bound && worstDecode < bound && sameIds && pplDiff < bound;
  char ppl[128] = "- | - | -";
  if (!sequences.empty()) std::snprintf(ppl, sizeof ppl, "%.4f | %.4f | %.2g", pplCpu, pplGpu, pplDiff);
  char row[1024];
  std::snprintf(row, sizeof row, "| %s | %s | %d | %.3g | %.3g | %.3g | %d/%d | %s | %s | %.3f | %s |\n",
                label.empty() ? path.c_str() : label.c_str(), where.c_str(), prompt, prefillErr, worstDecode, bound,
                agree, steps, sameIds ? "equal" : ("differ at " + std::to_string(firstDiff)).c_str(), ppl, ms,
                ok ? "PASS" : "FAIL");
  std::printf("| artifact | device | prompt | prefill rel err | worst decode rel err | bound | argmax agree | greedy "
              "ids | CPU ppl | GPU ppl | ppl rel diff | decode ms/step | |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n%s",
              row);
  if (!std::isnan(formatErr)) std::printf("the format's own logits error (CPU vs unquantized): %.3g\n", formatErr);
  std::string ids;
  for (int64_t id : gpuIds) ids += " " + std::to_string(id);
  std::printf("greedy ids on the GPU:%s\n", ids.c_str());
  if (!sameIds) {
    std::string cids;
    for (int64_t id : cpuIds) cids += " " + std::to_string(id);
    std::printf("greedy ids on the CPU:%s\n", cids.c_str());
  }
  if (!md.empty()) {
    std::ofstream f(md, std::ios::app);
    f << row;
  }
  return ok ? 0 : 1;
}
