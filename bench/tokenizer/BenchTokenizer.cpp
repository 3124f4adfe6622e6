// qcc-bench-tokenizer TOKENIZER_JSON TEXT_FILE [--repeats R] [--mode whole|lines] [--cold]
// Encodes the text file with qcc's tokenizer (one thread) R times and prints
// one JSON line: bytes, tokens, the best time and its throughput, and an
// checksum of the ids (the sum of id * position, mod 2^64) so the runner can
// check that qcc and the peer produced the same ids, and the best load time
// of the tokenizer.json.
//   whole  the file as one string (special tokens added: BOS for Llama 3)
//   lines  each line (with its "\n") as its own string, no special tokens
//   --cold a fresh tokenizer (empty BPE cache) for every repeat
#include "frontends/llama/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: qcc-bench-tokenizer TOKENIZER_JSON TEXT_FILE [--repeats R] "
                         "[--mode whole|lines] [--cold]\n");
    return 2;
  }
  std::string tokPath = argv[1], textPath = argv[2], mode = "whole";
  int repeats = 5;
  bool cold = false;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeats" && i + 1 < argc) repeats = std::atoi(argv[++i]);
    else if (a == "--mode" && i + 1 < argc) mode = argv[++i];
    else if (a == "--cold") cold = true;
    else {
      std::fprintf(stderr, "unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  std::ifstream in(textPath, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", textPath.c_str());
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  if (mode == "lines") {
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      size_t end = nl == std::string::npos ? text.size() : nl + 1;
      lines.push_back(text.substr(start, end - start));
      start = end;
    }
  } else if (mode != "whole") {
    std::fprintf(stderr, "--mode is whole or lines\n");
    return 2;
  }

  double loadSeconds = 1e30;
  auto load = [&]() {
    auto t0 = std::chrono::steady_clock::now();
    auto t = qcc::loadTokenizer(tokPath);
    loadSeconds = std::min(loadSeconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!t) {
      std::fprintf(stderr, "%s\n", t.message().c_str());
      std::exit(1);
    }
    return std::move(*t);
  };
  qcc::Tokenizer tok = load();
  double best = 1e30;
  size_t tokens = 0;
  uint64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    if (cold) tok = load();
    size_t count = 0;
    uint64_t sum = 0;
    auto add = [&](const std::vector<int64_t> &ids) {
      for (int64_t id : ids) sum += uint64_t(id) * uint64_t(++count);
    };
    auto t0 = std::chrono::steady_clock::now();
    if (mode == "whole") {
      auto ids = tok.encode(text, /*addSpecialTokens=*/true);
      if (!ids) return std::fprintf(stderr, "%s\n", ids.message().c_str()), 1;
      add(*ids);
    } else {
      for (const std::string &line : lines) {
        auto ids = tok.encode(line, /*addSpecialTokens=*/false);
        if (!ids) return std::fprintf(stderr, "%s\n", ids.message().c_str()), 1;
        add(*ids);
      }
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s < best) best = s;
    tokens = count;
    checksum = sum;
  }
  std::printf("{\"engine\": \"qcc\", \"mode\": \"%s\", \"cold\": %s, \"bytes\": %zu, \"tokens\": %zu, "
              "\"seconds\": %.6f, \"mb_per_s\": %.3f, \"checksum\": %llu, \"load_seconds\": %.6f}\n",
              mode.c_str(), cold ? "true" : "false", text.size(), tokens, best, text.size() / best / 1e6,
              (unsigned long long)checksum, loadSeconds);
  return 0;
}
