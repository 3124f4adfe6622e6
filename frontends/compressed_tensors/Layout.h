// Reading a compressed-tensors checkpoint: the Checkpoint hook (which linears
// are stored quantized, and their tensors validated at open) and the decoder
// of one quantized linear into qcc's canonical formats::QuantizedLinear,
// exactly: codes and scales are taken as stored, never re-quantized.
//
//   auto ck = compressed_tensors::openCheckpoint(dir);     // dense or compressed
//   const CompressedLayout *ct = compressed_tensors::compressedLayout(**ck);
//   if (ct && ct->isQuantized("model.layers.0.mlp.up_proj"))
//     auto q = ct->decode(**ck, "model.layers.0.mlp.up_proj"); // formats::QuantizedLinear
//
// Tensors of a quantized linear P ([N, K] weight, b bits, G = K / group size):
//   pack-quantized   P.weight_packed I32 [N, ceil(K*b/32)]: element k of a row at
//                    bit k*b of the row's little-endian bit stream, stored as
//                    code + 2^(b-1) (compressed-tensors 0.19 pack_to_int32);
//                    P.weight_shape I64/I32 [2] = [N, K]
//   int-quantized,   P.weight I8 [N, K] (int codes; int4 codes stored one per byte)
//   naive-quantized  or F8_E4M3 [N, K] (float codes)
//   float-quantized
//   dense            P.weight F32/BF16/F16 [N, K] (save_compressed=False, status
//                    "frozen"): no codes are stored; the model is compressed-tensors'
//                    forward fake-quantization of these weights with the stored
//                    scales (llm-compressor's RTN leaves the original weights here,
//                    GPTQ its updated ones). The codes are computed exactly as it does
//                    in float32: clamp(round_half_even(w / s), qmin, qmax) for int,
//                    e4m3(w / s) saturated at +-448 for float
//   all formats      P.weight_scale F32/BF16/F16: [N, G] (group), [N, 1] or [N]
//                    (channel), one element (tensor: broadcast to every channel);
//                    optional P.weight_g_idx I32/I64 [K] that must equal k / group
//                    size; optional P.weight_zero_point that must be all zero
//                    (symmetric schemes)
#pragma once

#include "frontends/compressed_tensors/Config.h"
#include "frontends/llama/Checkpoint.h"
#include "runtime/Tensor.h"
#include "runtime/formats/Formats.h"

#include <map>
#include <memory>
#include <string>

namespace qcc::compressed_tensors {

class CompressedLayout : public QuantizedLayout {
public:
  // Plans every linear of `model` (Config::checkModel's errors).
  static Expected<std::unique_ptr<CompressedLayout>> create(Config config, const ModelConfig &model);

  bool ownsLinear(const std::string &weightName) const override;
  bool ownsTensor(const std::string &name) const override;
  // Presence, dtypes and shapes of every quantized linear's tensors, the
  // weight_shape values, g_idx and zero points (small reads). Errors name the
  // folder, the tensor and the problem.
  Status validate(const Checkpoint &checkpoint) const override;

  const Config &config() const { return config_; }
  // Module names ("model.layers.0.self_attn.q_proj", "lm_head").
  bool isQuantized(const std::string &module) const;
  // The qcc format of a quantized module (fails for a dense one).
  Expected<formats::FormatSpec> formatOf(const std::string &module) const;
  // Every quantized module with its plan, in name order.
  const std::map<std::string, LinearPlan> &plans() const { return plans_; }

  // The checkpoint tensors a quantized module's decoding reads, in a fixed order
  // (codes, weight_shape, weight_scale, then weight_g_idx / weight_zero_point
  // when present): what a content hash of the layer's parameters should cover.
  std::vector<std::string> sourceTensors(const WeightProvider &tensors, const std::string &module) const;

  // The exact QuantizedLinear of a quantized module, from `tensors` (the
  // checkpoint). `where` names the folder in errors.
  Expected<formats::QuantizedLinear> decode(const WeightProvider &tensors, const std::string &module,
                                            const std::string &where) const;
  Expected<formats::QuantizedLinear> decode(const Checkpoint &checkpoint, const std::string &module) const {
    return decode(checkpoint, module, checkpoint.directory());
  }

private:
  struct Shape {
    int64_t N = 0, K = 0;
  };
  Status validateLinear(const WeightProvider &tensors, const std::string &module, const std::string &where) const;

  Config config_;
  std::map<std::string, LinearPlan> plans_; // quantized modules only
  std::map<std::string, Shape> shapes_;
};

// The factory Checkpoint::open takes: a CompressedLayout when config.json has a
// compressed-tensors quantization_config, nullptr when it has none.
QuantizedLayoutFactory layoutFactory();
// Checkpoint::open(dir, layoutFactory()).
Expected<std::unique_ptr<Checkpoint>> openCheckpoint(const std::string &modelDir);
// The checkpoint's compressed-tensors layout, or nullptr (dense checkpoint).
const CompressedLayout *compressedLayout(const Checkpoint &checkpoint);

// The tensor-name suffixes compressed-tensors stores next to a module.
bool isCompressedTensorsParameter(const std::string &suffix);

} // namespace qcc::compressed_tensors
