// qcc-make-test-artifact: writes an artifact without the compiler, for tests,
// the fuzzer's seed corpus and trying `qcc inspect` / `qcc run` by hand.
//   qcc-make-test-artifact OUT.qcc [--format dense|bf16|fp8|int8|w4a16[:gN]]
//       [--checkpoint MODEL_DIR] [--tokenizer tokenizer.json] [--seed N]
//       [--tiny-dims D,F,L,H,Hkv,V] [--fake-kernels sm_80,sm_90a]
// Without --checkpoint the model is a random tiny one (TinyArtifact.h).
// Linears are quantized with formats:: RTN; everything else keeps its dtype.
#include "TinyArtifact.h"

#include "frontends/llama/Checkpoint.h"

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace qcc;
using namespace qcc::artifact::testing;

int main(int argc, char **argv) {
  std::string out, format = "dense", checkpoint, tokenizer, dims, kernels;
  uint32_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--format") format = value();
    else if (a == "--checkpoint") checkpoint = value();
    else if (a == "--tokenizer") tokenizer = value();
    else if (a == "--seed") seed = uint32_t(std::stoul(value()));
    else if (a == "--tiny-dims") dims = value();
    else if (a == "--fake-kernels") kernels = value();
    else if (out.empty() && a[0] != '-') out = a;
    else {
      std::fprintf(stderr, "error: unexpected argument '%s'\n", a.c_str());
      return 2;
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: qcc-make-test-artifact OUT.qcc [--format dense|bf16|fp8|int8|w4a16[:gN]] "
                         "[--checkpoint DIR] [--tokenizer FILE] [--seed N] [--tiny-dims D,F,L,H,Hkv,V] "
                         "[--fake-kernels sm_80,...]\n");
    return 2;
  }
  std::optional<formats::FormatSpec> spec;
  if (format != "dense") {
    auto f = formats::parseFormatSpec(format);
    if (!f) {
      std::fprintf(stderr, "error: %s\n", f.message().c_str());
      return 1;
    }
    spec = *f;
  }
  std::string json;
  if (!tokenizer.empty()) {
    std::ifstream in(tokenizer, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: %s: cannot open\n", tokenizer.c_str());
      return 1;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    json = ss.str();
  }
  std::vector<artifact::TargetDecl> targets;
  std::stringstream ks(kernels);
  for (std::string t; std::getline(ks, t, ',');)
    if (!t.empty()) targets.push_back(fakeTarget(t));

  Status s = Status::ok();
  if (!checkpoint.empty()) {
    auto ckpt = Checkpoint::open(checkpoint);
    if (!ckpt) {
      std::fprintf(stderr, "error: %s\n", ckpt.message().c_str());
      return 1;
    }
    s = writeLlamaArtifact(out, (*ckpt)->config(), **ckpt, spec, nullptr, targets, json);
  } else {
    TinyOptions o;
    o.seed = seed;
    if (!dims.empty() && std::sscanf(dims.c_str(), "%ld,%ld,%ld,%ld,%ld,%ld", &o.hidden, &o.intermediate, &o.layers,
                                     &o.heads, &o.kvHeads, &o.vocab) != 6) {
      std::fprintf(stderr, "error: --tiny-dims expects D,F,L,H,Hkv,V\n");
      return 2;
    }
    s = writeTinyArtifact(out, makeTinyModel(o), spec, nullptr, targets, json);
  }
  if (!s) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}
