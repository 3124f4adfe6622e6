// Sequential (layer-by-layer) calibration and weight quantization of a model
// held by the CPU executor, as llm-compressor's sequential pipeline does:
//
//   hidden = embed(sample) for every calibration sample
//   for each layer l:
//     1. run layer l over every sample with an observer collecting, per input
//        (q,k,v share one; gate,up share one), the statistics the plan needs
//        (absmax, mean |x|, the GPTQ Hessian); outputs are discarded
//     2. SmoothQuant: fold s into input_layernorm (q,k,v) / post_attention_layernorm
//        (gate,up); the collected statistics are transformed to those of x / s
//        exactly (H -> diag(1/s) H diag(1/s)), so no second pass is needed
//     3. AWQ: search s per input group on the error of layer l's output over
//        the first samples (the group's linears replaced by Q(W diag s) / s),
//        fold it (norms for q,k,v and gate,up; up_proj rows for down_proj;
//        v_proj rows for o_proj when H == Hkv)
//     4. quantize the layer's linears (rtn | gptq | awq) and install them with
//        setLinear, so later layers see quantized outputs
//     5. recompute layer l's outputs over every sample with the quantized layer
//   lm_head (when the plan quantizes it): round-to-nearest only.
#pragma once

#include "quant/Awq.h"
#include "quant/Gptq.h"
#include "quant/Rtn.h"
#include "quant/Smooth.h"
#include "runtime/cpu/LlamaModel.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qcc::quant {

enum class Method { RTN, GPTQ, AWQ };
const char *methodName(Method m); // "rtn" "gptq" "awq"
Expected<Method> parseMethod(const std::string &name);

// What to do with one linear. Format BF16 leaves it dense (SmoothQuant folding
// still applies to it when its input group is smoothed). Linears sharing an
// input (q,k,v; gate,up) are smoothed and AWQ-scaled together: the group's
// lead (q_proj, gate_proj) decides smoothQuantAlpha and whether AWQ runs; each
// member is then quantized with its own format and method.
struct LinearPlan {
  formats::FormatSpec format{formats::Format::BF16, 128};
  Method method = Method::RTN;
  bool mseClip = false;
  GptqOptions gptq;                       // blockSize, dampFrac, actOrderStatic (mseClip: above)
  std::optional<double> smoothQuantAlpha; // read on q_proj (for q,k,v) and gate_proj (gate,up)
};

struct CalibrationOptions {
  // Plan by linear name ("model.layers.3.mlp.down_proj", "lm_head"); required.
  std::function<LinearPlan(const std::string &)> planFor;
  // AWQ's search runs the layer over the first samples holding this many tokens.
  int64_t awqSampleRows = 2048;
  // Called after each layer is quantized (progress), may be empty.
  std::function<void(int layer)> onLayerDone;
};

struct LinearReport {
  std::string name;
  std::string format;  // formats::formatSpecName
  std::string method;  // "rtn" "gptq" "awq" (or "bf16" for untouched linears)
  double smoothAlpha = -1;  // SmoothQuant alpha applied to its input, -1 if none
  double awqAlpha = -1;     // AWQ exponent chosen for its input, -1 if none
  std::string remark;       // e.g. a GPTQ fallback to round-to-nearest
};

struct CalibrationReport {
  std::vector<LinearReport> linears; // execution order
  int64_t samples = 0, tokens = 0;
};

// Quantizes `model` in place. samples: calibration token sequences (each at
// least one token, within the model's vocabulary and maxSeqLen).
Expected<CalibrationReport> calibrateAndQuantize(cpu::LlamaModel &model,
                                                 const std::vector<std::vector<int64_t>> &samples,
                                                 const CalibrationOptions &options);

} // namespace qcc::quant
