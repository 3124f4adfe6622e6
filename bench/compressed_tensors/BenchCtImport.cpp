// Import time of a compressed-tensors checkpoint (bench/compressed_tensors/run.sh).
//
//   qcc-bench-ct-import make SRC_DIR OUT_DIR FORMAT [MAX_SHARD_BYTES]  # bf16 checkpoint -> compressed-tensors
//   qcc-bench-ct-import decode DIR                     # open + decode every linear, timed
//
// `make` quantizes every linear but lm_head (kept bf16) by round-to-nearest
// (formats::quantizeLinear) in FORMAT (w4a16[:gN], int8, fp8, mixed) and writes the
// folder with ExportWriter, so the benchmark input has the layout
// llm-compressor writes. `decode` is what an importer does: openCheckpoint
// (header and shape validation), then every quantized linear decoded into a
// formats::QuantizedLinear and every dense tensor read (summed, so no page is
// skipped). It prints one line of `key value` pairs.
#include "frontends/compressed_tensors/Layout.h"
#include "frontends/compressed_tensors/Writer.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace qcc;
using namespace qcc::compressed_tensors;

namespace {

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::vector<float> toFloat(const TensorRef &t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const uint8_t *p = static_cast<const uint8_t *>(t.data);
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == DType::F32) {
      std::memcpy(&out[i], p + 4 * i, 4);
      continue;
    }
    uint16_t b = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
    out[i] = t.dtype == DType::BF16 ? formats::bf16ToFloat(b) : formats::f16ToFloat(b);
  }
  return out;
}

// FORMAT for every linear but lm_head, or "mixed": attention int8, MLP w4a16:g128,
// layer 0's MLP fp8 (several config groups with explicit targets).
Expected<formats::FormatSpec> formatFor(const std::string &formatText, const std::string &module) {
  if (formatText != "mixed") return formats::parseFormatSpec(formatText);
  if (module.find("self_attn") != std::string::npos) return formats::FormatSpec{formats::Format::INT8, 0};
  if (module.rfind("model.layers.0.mlp", 0) == 0) return formats::FormatSpec{formats::Format::FP8, 0};
  return formats::FormatSpec{formats::Format::W4A16, 128};
}

int make(const std::string &src, const std::string &out, const std::string &formatText, uint64_t maxShardBytes) {
  auto ck = Checkpoint::open(src);
  if (!ck) return std::fprintf(stderr, "%s\n", ck.message().c_str()), 1;
  std::vector<ExportEntry> plan;
  for (const auto &t : Checkpoint::expectedTensors((*ck)->config())) {
    bool linear = t.second.size() == 2 && t.first != "model.embed_tokens.weight";
    if (linear) {
      std::string module = t.first.substr(0, t.first.size() - 7);
      auto spec = module == "lm_head" ? Expected<formats::FormatSpec>(formats::FormatSpec{formats::Format::BF16, 0})
                                      : formatFor(formatText, module);
      if (!spec) return std::fprintf(stderr, "%s\n", spec.message().c_str()), 1;
      plan.push_back(ExportEntry::linear(module, *spec, t.second[0], t.second[1]));
    }
    else
      plan.push_back(ExportEntry::dense(t.first, (*ck)->find(t.first)->dtype, t.second));
  }
  ExportOptions options;
  options.overwrite = true;
  if (maxShardBytes > 0) options.maxShardBytes = maxShardBytes;
  auto w = ExportWriter::create(out, (*ck)->config(), src, plan, options);
  if (!w) return std::fprintf(stderr, "%s\n", w.message().c_str()), 1;
  for (const ExportEntry &e : plan) {
    Status s = Status::ok();
    if (e.kind == ExportEntry::Kind::Dense) {
      const TensorRef *t = (*ck)->find(e.name);
      s = (*w)->writeDense(e.name, t->data, t->byteSize());
    } else {
      const TensorRef *t = (*ck)->find(e.name + ".weight");
      if (e.format.format == formats::Format::BF16 && t->dtype == DType::BF16) { // kept as it is
        formats::QuantizedLinear q;
        q.outFeatures = e.outFeatures;
        q.inFeatures = e.inFeatures;
        const uint8_t *p = static_cast<const uint8_t *>(t->data);
        q.weights.assign(p, p + t->byteSize());
        s = (*w)->writeLinear(e.name, q);
        if (!s.isOk()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
        continue;
      }
      std::vector<float> weights = toFloat(*t);
      auto q = formats::quantizeLinear(weights.data(), e.outFeatures, e.inFeatures, e.format);
      if (!q) return std::fprintf(stderr, "%s\n", q.message().c_str()), 1;
      s = (*w)->writeLinear(e.name, *q);
    }
    if (!s.isOk()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  }
  Status s = (*w)->finish();
  if (!s.isOk()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  return 0;
}

int decode(const std::string &dir) {
  auto t0 = std::chrono::steady_clock::now();
  auto ck = openCheckpoint(dir);
  if (!ck) return std::fprintf(stderr, "%s\n", ck.message().c_str()), 1;
  auto t1 = std::chrono::steady_clock::now();
  const CompressedLayout *ct = compressedLayout(**ck);
  if (!ct) return std::fprintf(stderr, "%s: not a compressed-tensors checkpoint\n", dir.c_str()), 1;
  uint64_t quantizedBytes = 0, denseBytes = 0, checksum = 0;
  int64_t linears = 0;
  for (const auto &p : ct->plans()) {
    auto q = ct->decode(**ck, p.first);
    if (!q) return std::fprintf(stderr, "%s\n", q.message().c_str()), 1;
    quantizedBytes += q->weights.size() + 4 * q->scales.size();
    checksum += q->weights[q->weights.size() / 2];
    ++linears;
  }
  auto t2 = std::chrono::steady_clock::now();
  for (const auto &t : Checkpoint::expectedTensors((*ck)->config())) {
    const TensorRef *r = (*ck)->find(t.first);
    if (!r || ct->ownsLinear(t.first)) continue;
    const uint8_t *p = static_cast<const uint8_t *>(r->data);
    uint64_t sum = 0;
    for (size_t i = 0; i < r->byteSize(); i += 64) sum += p[i]; // one byte per cache line: every page read
    checksum += sum;
    denseBytes += r->byteSize();
  }
  auto t3 = std::chrono::steady_clock::now();
  std::printf("open_s %.3f decode_s %.3f dense_read_s %.3f total_s %.3f linears %lld quantized_bytes %llu "
              "dense_bytes %llu checksum %llu\n",
              seconds(t0, t1), seconds(t1, t2), seconds(t2, t3), seconds(t0, t3), (long long)linears,
              (unsigned long long)quantizedBytes, (unsigned long long)denseBytes, (unsigned long long)checksum);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if ((argc == 5 || argc == 6) && std::string(argv[1]) == "make")
    return make(argv[2], argv[3], argv[4], argc == 6 ? std::strtoull(argv[5], nullptr, 10) : 0);
  if (argc == 3 && std::string(argv[1]) == "decode") return decode(argv[2]);
  std::fprintf(stderr, "usage: qcc-bench-ct-import make SRC_DIR OUT_DIR FORMAT [MAX_SHARD_BYTES] | decode DIR\n");
  return 2;
}
