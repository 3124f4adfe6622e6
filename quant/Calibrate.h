// Sequential (block-by-block) calibration and weight quantization of a
// program run by the CPU interpreter, as llm-compressor's sequential pipeline
// does per decoder layer. Nothing here knows the model: blocks are the
// program ops' `block` numbers (the importer makes each decoder layer one),
// linears sharing an input are found by the value they read, and scales
// fold into whatever op produces that input.
//
//   frames = the program up to the first block, run over every calibration sample
//   for each segment (consecutive ops of one block number):
//     1. run the segment over every sample with an observer collecting, per
//        input value read by linears, the statistics the plans need (absmax,
//        mean |x|, the GPTQ Hessian); the outputs are discarded
//     2. SmoothQuant (a plan's smoothQuantAlpha, read on the first linear of
//        an input): fold s into the RMSNorm producing the input; statistics
//        are transformed to those of x / s exactly (H -> diag(1/s) H diag(1/s))
//     3. AWQ: search s per input on the error of the segment's outputs (the
//        input's linears replaced by Q(W diag s) / s) over the first samples,
//        fold it into the producer: an RMSNorm weight, the rows of the linear
//        feeding SwiGLU's `up`, or of the linear feeding attention's values
//        when every query head has its own key/value head
//     4. quantize the segment's linears (rtn | gptq | awq) and install them,
//        so that later segments see quantized outputs
//     5. run the segment again over every sample with the quantized weights
//   Logits weights (the head): round-to-nearest only.
#pragma once

#include "quant/Awq.h"
#include "quant/Gptq.h"
#include "quant/Rtn.h"
#include "quant/Smooth.h"
#include "runtime/cpu/Interpreter.h"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace qcc::quant {

enum class Method { RTN, GPTQ, AWQ };
const char *methodName(Method m); // "rtn" "gptq" "awq"
Expected<Method> parseMethod(const std::string &name);

// What to do with one linear weight. Format BF16 leaves it dense
// (SmoothQuant folding still applies to it when its input is smoothed).
// Linears sharing an input are smoothed and AWQ-scaled together: the first
// of them (in program order) decides smoothQuantAlpha and whether AWQ runs;
// each is then quantized with its own format and method.
struct LinearPlan {
  formats::FormatSpec format{formats::Format::BF16, 128};
  Method method = Method::RTN;
  bool mseClip = false;
  GptqOptions gptq;                       // blockSize, dampFrac, actOrderStatic (mseClip: above)
  std::optional<double> smoothQuantAlpha; // read on an input's first linear
};

struct CalibrationOptions {
  // The plan of a Linear or Logits op (by index in the program); required.
  std::function<LinearPlan(size_t opIndex, const program::Op &op)> planFor;
  // AWQ's search runs the segment over the first samples holding this many tokens.
  int64_t awqSampleRows = 2048;
  // Called after each block is quantized (progress): block number, blocks in all.
  std::function<void(int block, int blocks)> onBlockDone;
};

struct LinearReport {
  size_t op = 0;        // program op index
  uint32_t tensor = 0;  // its weight
  std::string name;     // the op's name
  std::string format;   // formats::formatSpecName
  std::string method;   // "rtn" "gptq" "awq" (or "bf16" for untouched linears)
  double smoothAlpha = -1; // SmoothQuant alpha applied to its input, -1 if none
  double awqAlpha = -1;    // AWQ exponent chosen for its input, -1 if none
  std::string remark;      // e.g. a GPTQ fallback to round-to-nearest
};

struct CalibrationReport {
  std::vector<LinearReport> linears; // program order
  int64_t samples = 0, tokens = 0;
  std::set<uint32_t> quantized;      // tensors now quantized in the interpreter
  std::set<uint32_t> rescaled;       // dense tensors a fold changed (norms, producer linears)
};

// Quantizes the interpreter's weights in place. samples: calibration token
// sequences (each at least one token, within the vocabulary and maxSeqLen).
// The program must be unfused (single-weight linears reading activations).
Expected<CalibrationReport> calibrateAndQuantize(cpu::Interpreter &model,
                                                 const std::vector<std::vector<int64_t>> &samples,
                                                 const CalibrationOptions &options);

} // namespace qcc::quant
