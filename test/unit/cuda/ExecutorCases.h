// The executor cases of the GPU test (ExecutorGpuTest.cpp), prepared by
// qcc-gpu-test-prepare (GpuTestPrepare.cpp, with the compiler) into a folder
// the test reads back (where only the runtime may exist): per case
// `<name>.case`, key=value lines naming the artifacts (ExecutorCheck.h).
#pragma once

#include "ExecutorCheck.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace qcc::cuda::testing {

// q, k and v in three formats (three GEMMs instead of the fused one, RoPE and
// the KV store on separate buffers), gate and up in two others (SwiGLU over
// two GEMM outputs), o_proj and down_proj in the default format.
inline const LayerRules &mixedPrecisionRules() {
  static const LayerRules rules = {{"*.q_proj", "int8"},    {"*.k_proj", "fp8"},   {"*.v_proj", "w4a16"},
                                   {"*.gate_proj", "fp8"}, {"*.up_proj", "int8"}};
  return rules;
}

struct ExecutorCase {
  std::string name, format;
  bool mixed = false;
};
inline const std::vector<ExecutorCase> &executorCases() {
  static const std::vector<ExecutorCase> cases = {
      {"bf16", "bf16", false}, {"w4a16", "w4a16", false}, {"int8", "int8", false},
      {"fp8", "fp8", false},   {"mixed", "w4a16", true}};
  return cases;
}
// The greedy check: the bundled trained model in mixed precision.
inline const char *greedyCaseName() { return "greedy-mixed"; }
inline std::vector<int64_t> greedyPrompt() { return {1, 2, 3, 4, 5}; }
constexpr int kGreedyTokens = 16;

// Writes `a` to `<dir>/<name>.case`, paths relative to `dir` (the folder can move).
inline Status writeCase(const std::string &dir, const std::string &name, const ExecutorArtifacts &a) {
  auto rel = [&](const std::string &p) { return p.rfind(dir + "/", 0) == 0 ? p.substr(dir.size() + 1) : p; };
  const std::string path = dir + "/" + name + ".case";
  std::ofstream f(path);
  f << "label=" << a.label << "\nseed=" << a.seed << "\nmodel=" << rel(a.model) << "\ndense=" << rel(a.dense)
    << "\nreference=" << rel(a.reference) << "\nw8a8_only=" << rel(a.w8a8Only)
    << "\nw8a8_only_without_fp8=" << rel(a.w8a8OnlyWithoutFp8) << "\n";
  f.close();
  return f ? Status::ok() : Status::error(path + ": cannot write");
}

// Paths in the file are relative to its folder when they do not start with '/'.
inline Expected<ExecutorArtifacts> readCase(const std::string &path) {
  std::ifstream f(path);
  if (!f) return Status::error(path + ": no such prepared case");
  const std::string dir = path.substr(0, path.rfind('/') + 1);
  std::map<std::string, std::string> kv;
  for (std::string line; std::getline(f, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return Status::error(path + ": line without '=': " + line);
    kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  auto file = [&](const std::string &key) {
    const std::string v = kv[key];
    return v.empty() || v[0] == '/' ? v : dir + v;
  };
  ExecutorArtifacts a;
  a.label = kv["label"];
  a.seed = unsigned(std::strtoul(kv["seed"].c_str(), nullptr, 10));
  a.model = file("model");
  a.dense = file("dense");
  a.reference = file("reference");
  a.w8a8Only = file("w8a8_only");
  a.w8a8OnlyWithoutFp8 = file("w8a8_only_without_fp8");
  if (a.model.empty() || a.dense.empty()) return Status::error(path + ": no model or dense artifact named");
  return a;
}

} // namespace qcc::cuda::testing
