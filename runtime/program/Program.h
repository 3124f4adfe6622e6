// The CPU op list of a compiled model: a straight-line program over values
// of shape [T, cols] (T tokens), translated from the qcc IR by the compiler
// (codegen/program/ToProgram.h), stored in the artifact, and run by the CPU
// interpreter (runtime/cpu/Interpreter.h); calibration runs the same program
// while the model is being compiled. No MLIR here: the runtime links this.
//
// Every value is written by exactly one op (or is a program input) before it
// is read. Weights are indices into a tensor table (the artifact's tensors,
// or the compiler's parameters during calibration).
//
// Ops (inputs -> outputs; weights):
//   Embedding  [ids] -> [x]                     weights [table [V, D]]
//   RmsNorm    [x] -> [y]                       weights [gamma [D]]          epsilon
//              y = x / sqrt(mean(x^2) + eps) * gamma; y may be a quantized
//              activation (int8 / e4m3 codes with per-token scales)
//   Linear     [x (, residual)] -> [y0, y1, ...]  weights [w0 [N0, K], w1, ...]
//              y_i = x . w_i^T in w_i's format (+ residual when `residual`:
//              one weight only); x is an activation, or quantized codes that a
//              W8A8 weight consumes as they are
//   Rope       [positions, x0 (, x1)] -> [y0 (, y1)]   heads[i] per input; headDim,
//              ropeTheta, ropeScaling (Hugging Face rotate-half layout)
//   Attention  [positions, q, k, v] -> [o]      numHeads, numKvHeads, headDim, cache:
//              stores k, v in KV cache `cache` at the positions, then causal GQA
//              over the cache (scale 1/sqrt(headDim))
//   SwiGLU     [gate, up] -> [y]                y = silu(gate) * up (may be quantized)
//   Add        [a, b] -> [y]
//   Quantize   [x] -> [y]                       y: dynamic per-token int8 / e4m3
//   Logits     [x] -> [logits]                  weights [w [V, D]]: fp32 logits
#pragma once

#include "runtime/ModelConfig.h"
#include "support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcc::program {

enum class ValueKind : uint8_t {
  TokenIds = 0,   // [T] int64 (program input)
  Positions,      // [T] int64 (program input)
  Activation,     // [T, cols] float (rounded to bf16 in bf16 precision)
  Int8Activation, // [T, cols] int8 codes + [T] scales (dynamic per token)
  Fp8Activation,  // [T, cols] e4m3 codes + [T] scales
  Logits,         // [T, cols] fp32
};
const char *valueKindName(ValueKind k);
inline bool isQuantizedActivation(ValueKind k) {
  return k == ValueKind::Int8Activation || k == ValueKind::Fp8Activation;
}

struct Value {
  std::string name; // for messages: "%12" or the IR's location
  ValueKind kind = ValueKind::Activation;
  int64_t cols = 0; // 0 for ids / positions
};

enum class OpKind : uint8_t { Embedding = 0, RmsNorm, Linear, Rope, Attention, SwiGLU, Add, Quantize, Logits };
const char *opKindName(OpKind k);

struct Op {
  OpKind kind = OpKind::Add;
  // What the op computes in the source model ("model.layers.0.self_attn.q_proj"),
  // for messages and per-layer reports; may be empty.
  std::string name;
  std::vector<uint32_t> inputs, outputs, weights;
  double epsilon = 0;           // RmsNorm
  bool residual = false;        // Linear: the last input is added to the (single) output
  std::vector<int64_t> heads;   // Rope: heads of each rotated input
  int64_t numHeads = 0;         // Attention
  int64_t numKvHeads = 0;       // Attention
  int64_t headDim = 0;          // Rope, Attention
  double ropeTheta = 0;         // Rope
  RopeScaling ropeScaling;      // Rope (Llama-3.1 "llama3" scaling when enabled)
  int32_t cache = -1;           // Attention: its KV cache
  // Sequential calibration works block by block: ops of block b are
  // calibrated on the outputs of blocks < b with their quantized weights
  // (the importer numbers a Llama decoder layer as one block). -1: none.
  int32_t block = -1;
};

// Activation precision of the whole program: fp32, or bf16 rounding where
// transformers rounds when it runs the model in bfloat16 (see Interpreter.h).
enum class Precision : uint8_t { F32 = 0, BF16 };

struct Program {
  Precision precision = Precision::BF16;
  std::vector<Value> values;
  std::vector<Op> ops;
  uint32_t ids = 0, positions = 0, logits = 0; // program inputs and output (value ids)
  int32_t numCaches = 0;                        // KV caches (one per Attention op)
  int64_t maxPositions = 0;                     // positions the model was trained for
};

// The shape of a weight tensor as the program sees it ([N, K] for linears).
struct WeightShape {
  std::vector<int64_t> shape;
  bool quantized = false; // fp8 / int8 / w4a16 codes (linears only)
};

// Structural checks: operand counts and kinds per op, value ids in range,
// single assignment and definition before use, widths consistent with the
// weight shapes (`weights[i]` is tensor i's shape), head counts dividing,
// caches numbered 0..numCaches-1 once each. Errors name the op by index,
// kind and name.
Status validate(const Program &program, const std::vector<WeightShape> &weights);

// For each value, the index of the last op that reads it (-1: never read;
// the program output counts as read after the last op).
std::vector<int64_t> lastUses(const Program &program);

} // namespace qcc::program
