// The CPU interpreter of a program (runtime/program/Program.h): qcc's
// numerical truth for the bf16 baseline and for every quantized format (see
// Linear.h for the exact arithmetic of each format). It runs whatever graph
// the program holds; nothing here knows what a Llama layer is.
//
// Precision (ActDType): everything accumulates in fp32. With F32 no value is
// rounded. With BF16 (the default for a bfloat16 checkpoint) weights are bf16
// and values are rounded to bf16 where Hugging Face transformers rounds them
// when it runs the model in bfloat16:
//   * RmsNorm: normalise in fp32 (sum of squares in double), round, multiply
//     by the weight, round (transformers: weight * hidden.to(bf16));
//   * each Linear output (fp32 accumulation, one rounding); with a residual,
//     the sum with it is rounded once more;
//   * Rope: cos/sin rounded to bf16, then x*cos, rotate_half(x)*sin and their
//     sum each rounded (bf16 elementwise ops);
//   * Attention: scores, softmax and the weighted sum of values in fp32 (like a
//     flash-attention kernel or torch's sdpa), the output rounded once; the KV
//     cache holds k (after rope) and v as they are;
//   * SwiGLU: silu(gate) rounded, times up rounded; Add rounded;
//   * Logits: the head's output rounded like any linear (fp32 in F32 mode).
// Quantized activations (W8A8) are the codes of formats::quantizeToken{Int8,Fp8}
// applied to the rounded activation, with their per-token scales.
#pragma once

#include "runtime/Tensor.h"
#include "runtime/cpu/Linear.h"
#include "runtime/cpu/ThreadPool.h"
#include "runtime/formats/Formats.h"
#include "runtime/program/Program.h"
#include "support/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qcc::cpu {

struct ExecutorOptions {
  // Precision of activations; unset: the program's own.
  std::optional<ActDType> actDtype;
  int numThreads = 0;    // <= 0: all hardware threads
  int64_t maxSeqLen = 0; // KV cache positions per Session; <= 0: the program's maxPositions capped at 8192
  // Stop with an error naming the op when an op writes a NaN or an infinity.
  bool checkFinite = true;
};

// One weight of a program, as the interpreter is given it: a dense tensor
// (F32 / BF16 / F16, not owned: valid during the call that receives it) or a
// quantized linear.
struct WeightData {
  std::string name;
  TensorRef dense;
  std::optional<formats::QuantizedLinear> quantized;
};

// The program's weights by index (the artifact's tensors, the compiler's parameters).
class WeightSource {
public:
  virtual ~WeightSource() = default;
  virtual size_t count() const = 0;
  virtual Expected<WeightData> weight(uint32_t index) const = 0;
};

// observer(op, opIndex, x, rows, cols): the fp32 input [rows, cols] of a Linear op.
using LinearObserver =
    std::function<void(const program::Op &, size_t, const float *, int64_t, int64_t)>;

// The values of one sequence while a program runs over it.
struct Frame {
  int64_t T = 0;
  std::vector<int64_t> ids, positions;       // [T]
  std::vector<std::vector<float>> data;      // per value: [T * cols] (codes as floats for quantized ones)
  std::vector<std::vector<float>> scales;    // per value: [T] token scales of quantized activations
};

// KV caches of a program: per cache, k and v [capacity, kvHeads * headDim].
struct KvCaches {
  int64_t capacity = 0;
  std::vector<std::vector<float>> k, v;
};

class Interpreter {
public:
  // Validates the program and converts every weight it uses: dense ones are
  // rounded to bf16 in BF16 mode, then kept as bf16 bits when bf16-exact
  // (else fp32); quantized ones are laid out for the panel kernels.
  static Expected<std::unique_ptr<Interpreter>> create(program::Program program, const WeightSource &weights,
                                                       const ExecutorOptions &options);

  const program::Program &program() const { return program_; }
  ActDType actDtype() const { return act_; }
  int64_t maxSeqLen() const { return maxSeqLen_; }
  int64_t vocabSize() const;
  int numThreads() const { return pool_->numThreads(); }

  // Weights by tensor index, as the ops use them (calibration rewrites them).
  // A linear weight (of a Linear or Logits op); nullptr when none uses it so.
  const Linear *linear(uint32_t tensor) const;
  Status setLinear(uint32_t tensor, formats::QuantizedLinear q);
  // Dense fp32 values [N*K] (rounded to bf16 in BF16 mode).
  Status setDenseLinear(uint32_t tensor, std::vector<float> w);
  // Exchanges a linear weight with `other` (same N and K), converting
  // nothing: a caller that tries another weight puts the original back by
  // swapping again (per-layer sensitivity).
  Status swapLinear(uint32_t tensor, Linear &other);
  // fp32 copy [N*K] of a linear weight (dequantized if quantized); empty if none.
  std::vector<float> denseLinearWeights(uint32_t tensor) const;
  // An RmsNorm weight [D]; nullptr when no RmsNorm uses the tensor.
  const std::vector<float> *normWeight(uint32_t tensor) const;
  Status setNormWeight(uint32_t tensor, std::vector<float> w);

  // A frame for `ids` at positions pos0, pos0 + 1, ...; checks the ids and positions.
  Expected<Frame> newFrame(const std::vector<int64_t> &ids, int64_t pos0) const;
  // Caches for `capacity` positions (zeroed), for the attention ops among
  // ops [first, last) (the others stay empty).
  KvCaches newCaches(int64_t capacity, size_t first = 0, size_t last = SIZE_MAX) const;
  // Runs ops [first, last) over the frame. Values are freed after their last
  // reader in the whole program (a caller that runs a range twice keeps a copy).
  Status run(size_t first, size_t last, Frame &frame, KvCaches &caches, const LinearObserver *observer = nullptr) const;

  // One sequence from an empty cache: logits [T, V].
  Expected<std::vector<float>> forward(const std::vector<int64_t> &tokens) const;

private:
  Interpreter(program::Program program, ActDType act, int numThreads, int64_t maxSeqLen, bool checkFinite);
  Status runOp(size_t index, Frame &f, KvCaches &caches, const LinearObserver *observer) const;
  Status checkFinite(size_t index, const Frame &f) const;
  void rmsNorm(const float *x, const std::vector<float> &w, double eps, int64_t T, int64_t D, float *y) const;
  float round(float x) const { return act_ == ActDType::BF16 ? formats::roundToBf16(x) : x; }

  struct RopeTable {
    int64_t half = 0;
    std::vector<float> cos, sin; // [maxSeqLen, half], rounded like activations
  };

  program::Program program_;
  ActDType act_;
  int64_t maxSeqLen_;
  bool checkFinite_;
  std::vector<int64_t> lastUse_;
  std::map<uint32_t, Linear> linears_;                 // tensor -> linear weights
  std::map<uint32_t, std::vector<float>> norms_;       // tensor -> RmsNorm gamma [D]
  std::map<uint32_t, std::vector<float>> embeddings_;  // tensor -> table [V, D]
  std::vector<int> ropeTableOf_;                       // per op: index into ropeTables_ (-1)
  std::vector<RopeTable> ropeTables_;
  std::unique_ptr<ThreadPool> pool_;
};

// A generation session: the KV caches of one growing sequence.
class Session {
public:
  explicit Session(const Interpreter &interpreter);
  // Appends tokens at position() onward; logits for each of them [T, V].
  Expected<std::vector<float>> prefill(const std::vector<int64_t> &tokens);
  // Appends one token; its logits [V].
  Expected<std::vector<float>> decode(int64_t token);
  int64_t position() const { return pos_; }
  void reset() { pos_ = 0; }

private:
  const Interpreter *interpreter_;
  KvCaches caches_;
  int64_t pos_ = 0;
};

// Llama-3.1 RoPE inverse frequencies [headDim/2] in fp32, as Hugging Face
// computes them (_compute_llama3_parameters when scaling is enabled).
std::vector<float> ropeInvFrequencies(int64_t headDim, double theta, const RopeScaling &scaling);

} // namespace qcc::cpu
