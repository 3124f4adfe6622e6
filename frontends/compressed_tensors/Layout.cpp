#include "frontends/compressed_tensors/Layout.h"

#include <cmath>
#include <cstring>
#include <set>

namespace qcc::compressed_tensors {

namespace {

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

bool isFloatDtype(DType t) { return t == DType::F32 || t == DType::BF16 || t == DType::F16; }
bool isIndexDtype(DType t) { return t == DType::I32 || t == DType::I64; }

// Element i of a floating tensor, exactly, as fp32.
float floatAt(const TensorRef &t, int64_t i) {
  const uint8_t *p = static_cast<const uint8_t *>(t.data);
  switch (t.dtype) {
  case DType::F32: {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  case DType::BF16: return formats::bf16ToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  case DType::F16: return formats::f16ToFloat(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  default: return NAN;
  }
}

// Element i of an integer tensor (I8/I16/I32/I64/U8) as int64.
int64_t intAt(const TensorRef &t, int64_t i) {
  const uint8_t *p = static_cast<const uint8_t *>(t.data);
  switch (t.dtype) {
  case DType::I8: return static_cast<int8_t>(p[i]);
  case DType::U8: return p[i];
  case DType::I16: {
    int16_t v;
    std::memcpy(&v, p + 2 * i, 2);
    return v;
  }
  case DType::I32: {
    int32_t v;
    std::memcpy(&v, p + 4 * i, 4);
    return v;
  }
  case DType::I64: {
    int64_t v;
    std::memcpy(&v, p + 8 * i, 8);
    return v;
  }
  default: return 0;
  }
}

const std::set<std::string> &parameterSuffixes() {
  static const std::set<std::string> kSuffixes = {
      "weight_packed", "weight_scale",     "weight_shape",       "weight_g_idx",
      "weight_zero_point", "weight_global_scale", "input_scale", "input_zero_point",
      "input_global_scale", "output_scale", "output_zero_point"};
  return kSuffixes;
}

} // namespace

bool isCompressedTensorsParameter(const std::string &suffix) { return parameterSuffixes().count(suffix) > 0; }

Expected<std::unique_ptr<CompressedLayout>> CompressedLayout::create(Config config, const ModelConfig &model) {
  QCC_RETURN_IF_ERROR(config.checkModel(model));
  std::unique_ptr<CompressedLayout> layout(new CompressedLayout());
  layout->config_ = std::move(config);
  for (const auto &t : Checkpoint::expectedTensors(model)) {
    const std::string &name = t.first;
    if (t.second.size() != 2 || name.compare(name.size() - 7, 7, ".weight") != 0) continue;
    std::string module = name.substr(0, name.size() - 7);
    if (module == "model.embed_tokens") continue;
    Expected<LinearPlan> plan = layout->config_.planLinear(module, t.second[0], t.second[1]);
    if (!plan) return plan.status();
    if (plan->scheme) {
      layout->plans_[module] = *plan;
      layout->shapes_[module] = {t.second[0], t.second[1]};
    }
  }
  return layout;
}

bool CompressedLayout::ownsLinear(const std::string &weightName) const {
  if (weightName.size() < 7 || weightName.compare(weightName.size() - 7, 7, ".weight") != 0) return false;
  return plans_.count(weightName.substr(0, weightName.size() - 7)) > 0;
}

bool CompressedLayout::ownsTensor(const std::string &name) const {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  return plans_.count(name.substr(0, dot)) > 0 && isCompressedTensorsParameter(name.substr(dot + 1));
}

bool CompressedLayout::isQuantized(const std::string &module) const { return plans_.count(module) > 0; }

Expected<formats::FormatSpec> CompressedLayout::formatOf(const std::string &module) const {
  auto it = plans_.find(module);
  if (it == plans_.end()) return Status::error(module + ": not a quantized linear of this checkpoint");
  return it->second.spec;
}

std::vector<std::string> CompressedLayout::sourceTensors(const WeightProvider &tensors,
                                                        const std::string &module) const {
  auto it = plans_.find(module);
  if (it == plans_.end()) return {};
  std::vector<std::string> out;
  if (it->second.scheme->format == "pack-quantized") out = {module + ".weight_packed", module + ".weight_shape"};
  else out = {module + ".weight"};
  out.push_back(module + ".weight_scale");
  for (const char *optional : {".weight_g_idx", ".weight_zero_point"})
    if (tensors.find(module + optional)) out.push_back(module + optional);
  return out;
}

Status CompressedLayout::validate(const Checkpoint &checkpoint) const {
  for (const auto &p : plans_) QCC_RETURN_IF_ERROR(validateLinear(checkpoint, p.first, checkpoint.directory()));
  return Status::ok();
}

Status CompressedLayout::validateLinear(const WeightProvider &tensors, const std::string &module,
                                        const std::string &where) const {
  const LinearPlan &plan = plans_.at(module);
  const QuantScheme &scheme = *plan.scheme;
  const QuantArgs &w = *scheme.weights;
  const int64_t N = shapes_.at(module).N, K = shapes_.at(module).K;
  const std::string &format = scheme.format;
  const bool isFloat = w.type == QuantArgs::Type::Float;
  auto name = [&](const char *suffix) { return module + "." + suffix; };
  auto fail = [&](const std::string &tensor, const std::string &what) {
    return Status::error(where + ": tensor '" + tensor + "' " + what);
  };
  auto require = [&](const char *suffix, const std::string &role) -> Expected<const TensorRef *> {
    const TensorRef *t = tensors.find(name(suffix));
    if (!t)
      return Status::error(where + ": missing tensor '" + name(suffix) + "' (" + role + " of " + scheme.describe() +
                           ")");
    return t;
  };

  // The codes.
  std::set<std::string> expected = {"weight_scale"};
  if (format == "pack-quantized") {
    if (isFloat) return Status::error(where + ": " + module + ": " + scheme.describe() + ": pack-quantized stores int codes, not float ones");
    expected.insert({"weight_packed", "weight_shape"});
    Expected<const TensorRef *> packed = require("weight_packed", "the packed codes");
    if (!packed) return packed.status();
    Expected<const TensorRef *> shape = require("weight_shape", "the unpacked shape");
    if (!shape) return shape.status();
    const TensorRef &s = **shape;
    if (!isIndexDtype(s.dtype) || s.shape != std::vector<int64_t>{2})
      return fail(name("weight_shape"), "must be I64 or I32 [2], got " + std::string(dtypeName(s.dtype)) + " " + shapeText(s.shape));
    std::vector<int64_t> declared = {intAt(s, 0), intAt(s, 1)};
    if (declared != std::vector<int64_t>{N, K})
      return fail(name("weight_shape"), "holds " + shapeText(declared) + " but config.json implies " + shapeText({N, K}));
    const int64_t words = (K * w.numBits + 31) / 32;
    if ((*packed)->dtype != DType::I32)
      return fail(name("weight_packed"), "has dtype " + std::string(dtypeName((*packed)->dtype)) + ", expected I32");
    if ((*packed)->shape != std::vector<int64_t>{N, words})
      return fail(name("weight_packed"), "has shape " + shapeText((*packed)->shape) + " but weight_shape " +
                                             shapeText(declared) + " packs " + std::to_string(w.numBits) +
                                             "-bit codes into " + shapeText({N, words}));
    if (tensors.find(name("weight")))
      return fail(name("weight"), "is present next to weight_packed; a pack-quantized linear stores only packed codes");
  } else {
    Expected<const TensorRef *> weight = require("weight", format == "dense" ? "the fake-quantized weights" : "the codes");
    if (!weight) return weight.status();
    const TensorRef &t = **weight;
    DType want = format == "dense" ? t.dtype : isFloat ? DType::F8E4M3 : DType::I8;
    if (format == "dense" ? !isFloatDtype(t.dtype) : t.dtype != want)
      return fail(name("weight"), "has dtype " + std::string(dtypeName(t.dtype)) + ", expected " +
                                      (format == "dense" ? std::string("F32, BF16 or F16") : dtypeName(want)) +
                                      " for format '" + format + "'");
    if (t.shape != std::vector<int64_t>{N, K})
      return fail(name("weight"), "has shape " + shapeText(t.shape) + " but config.json implies " + shapeText({N, K}));
  }

  // The scales.
  Expected<const TensorRef *> scale = require("weight_scale", "the scales");
  if (!scale) return scale.status();
  const TensorRef &s = **scale;
  if (!isFloatDtype(s.dtype))
    return fail(name("weight_scale"), "has dtype " + std::string(dtypeName(s.dtype)) + ", expected F32, BF16 or F16");
  if (w.strategy == "group") {
    const int64_t G = K / *w.groupSize;
    if (s.shape != std::vector<int64_t>{N, G})
      return fail(name("weight_scale"), "has shape " + shapeText(s.shape) + ", expected " + shapeText({N, G}) + " (" +
                                            std::to_string(K) + " input channels in groups of " +
                                            std::to_string(*w.groupSize) + ")");
  } else if (w.strategy == "channel") {
    if (s.shape != std::vector<int64_t>{N, 1} && s.shape != std::vector<int64_t>{N})
      return fail(name("weight_scale"), "has shape " + shapeText(s.shape) + ", expected " + shapeText({N, 1}) +
                                            " (one scale per output channel)");
  } else if (s.numel() != 1) {
    return fail(name("weight_scale"), "has shape " + shapeText(s.shape) + ", expected one element (one scale per tensor)");
  }
  for (int64_t i = 0; i < s.numel(); ++i) {
    float v = floatAt(s, i);
    if (!(std::isfinite(v) && v > 0.0f))
      return fail(name("weight_scale"), "element " + std::to_string(i) + " is " + std::to_string(v) +
                                            "; scales must be positive and finite");
  }

  // g_idx: only the trivial column -> group map qcc's layout has.
  if (const TensorRef *g = tensors.find(name("weight_g_idx"))) {
    expected.insert("weight_g_idx");
    if (!isIndexDtype(g->dtype) || g->shape != std::vector<int64_t>{K})
      return fail(name("weight_g_idx"), "must be I32 or I64 [" + std::to_string(K) + "], got " +
                                            dtypeName(g->dtype) + " " + shapeText(g->shape));
    const int64_t group = w.strategy == "group" ? *w.groupSize : K;
    for (int64_t k = 0; k < K; ++k)
      if (intAt(*g, k) != k / group)
        return Status::error(where + ": " + module + ": " + scheme.describe() + ": tensor '" + name("weight_g_idx") +
                             "' maps input channel " + std::to_string(k) + " to group " + std::to_string(intAt(*g, k)) +
                             " instead of " + std::to_string(k / group) +
                             "; an activation-ordered g_idx (actorder 'group') has no qcc format");
  }
  // A zero point of a symmetric scheme (dense checkpoints keep one) must be zero.
  if (const TensorRef *z = tensors.find(name("weight_zero_point"))) {
    expected.insert("weight_zero_point");
    for (int64_t i = 0; i < z->numel(); ++i) {
      bool zero = isFloatDtype(z->dtype) ? floatAt(*z, i) == 0.0f
                  : z->dtype == DType::F8E4M3 ? (static_cast<const uint8_t *>(z->data)[i] & 0x7F) == 0
                                              : intAt(*z, i) == 0;
      if (!zero)
        return Status::error(where + ": " + module + ": " + scheme.describe() + ": tensor '" + name("weight_zero_point") +
                             "' has a non-zero element " + std::to_string(i) +
                             "; asymmetric weights (zero points) have no qcc format");
    }
  }
  for (const std::string &suffix : parameterSuffixes())
    if (!expected.count(suffix) && tensors.find(module + "." + suffix))
      return Status::error(where + ": unexpected tensor '" + module + "." + suffix + "': " + scheme.describe() +
                           " does not store it");
  return Status::ok();
}

Expected<formats::QuantizedLinear> CompressedLayout::decode(const WeightProvider &tensors, const std::string &module,
                                                           const std::string &where) const {
  auto it = plans_.find(module);
  if (it == plans_.end()) return Status::error(where + ": " + module + " is not a quantized linear of this checkpoint");
  QCC_RETURN_IF_ERROR(validateLinear(tensors, module, where));
  const LinearPlan &plan = it->second;
  const QuantScheme &scheme = *plan.scheme;
  const QuantArgs &w = *scheme.weights;
  const int64_t N = shapes_.at(module).N, K = shapes_.at(module).K;
  const std::string &format = scheme.format;

  formats::QuantizedLinear q;
  q.format = plan.spec.format;
  q.outFeatures = N;
  q.inFeatures = K;
  q.groupSize = q.format == formats::Format::W4A16 ? plan.spec.groupSize : 0;

  // Scales [N] or [N][G], exactly (bf16/f16 -> fp32 is exact); a tensor scale per channel.
  const TensorRef &s = *tensors.find(module + ".weight_scale");
  const int64_t scaleCount = q.format == formats::Format::W4A16 ? N * (K / q.groupSize) : N;
  q.scales.resize(static_cast<size_t>(scaleCount));
  for (int64_t i = 0; i < scaleCount; ++i) q.scales[i] = floatAt(s, s.numel() == 1 ? 0 : i);

  // Codes: qcc's canonical bytes (int4 packed pairs, int8, e4m3).
  std::vector<int8_t> intCodes; // W4A16 codes before packing, [N][K]
  const int64_t groupOf = q.groupSize > 0 ? q.groupSize : K;
  auto scaleOf = [&](int64_t n, int64_t k) {
    return q.format == formats::Format::W4A16 ? q.scales[n * (K / groupOf) + k / groupOf] : q.scales[n];
  };
  if (format == "pack-quantized") {
    const TensorRef &packed = *tensors.find(module + ".weight_packed");
    const uint8_t *bytes = static_cast<const uint8_t *>(packed.data);
    const int64_t rowBytes = packed.shape[1] * 4;
    if (w.numBits == 4) {
      // Nibble k of a row is code + 8 at bit 4k: the same nibble order as qcc's
      // packing, so each byte is the two codes' nibbles with their sign bits flipped.
      q.weights.resize(static_cast<size_t>(N * (K / 2)));
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < K / 2; ++j) q.weights[n * (K / 2) + j] = bytes[n * rowBytes + j] ^ 0x88;
    } else { // 8 bits: byte k of a row is code + 128
      q.weights.resize(static_cast<size_t>(N * K));
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) q.weights[n * K + k] = bytes[n * rowBytes + k] ^ 0x80;
    }
  } else if (format != "dense") {
    const TensorRef &t = *tensors.find(module + ".weight");
    const uint8_t *bytes = static_cast<const uint8_t *>(t.data);
    if (q.format == formats::Format::W4A16) {
      intCodes.resize(static_cast<size_t>(N * K));
      for (int64_t i = 0; i < N * K; ++i) {
        int8_t c = static_cast<int8_t>(bytes[i]);
        if (c < -8 || c > 7)
          return Status::error(where + ": tensor '" + module + ".weight' element [" + std::to_string(i / K) + ", " +
                               std::to_string(i % K) + "] is " + std::to_string(c) + ", outside the int4 range [-8, 7]");
        intCodes[i] = c;
      }
    } else {
      q.weights.assign(bytes, bytes + N * K);
      if (q.format == formats::Format::FP8)
        for (int64_t i = 0; i < N * K; ++i)
          if ((q.weights[i] & 0x7F) == 0x7F)
            return Status::error(where + ": tensor '" + module + ".weight' element [" + std::to_string(i / K) + ", " +
                                 std::to_string(i % K) + "] is an e4m3 NaN");
    }
  } else {
    // The dense layout (save_compressed=False) stores no codes: the quantized
    // model is compressed-tensors' forward fake-quantization of the stored
    // weights with the stored scales. Compute its codes exactly as it does in
    // float32: clamp(round_half_even(w / s)) for int, e4m3(clamp(w / s)) for float.
    const TensorRef &t = *tensors.find(module + ".weight");
    const bool isFloat = w.type == QuantArgs::Type::Float;
    const float qmax = static_cast<float>((1 << (w.numBits - 1)) - 1), qmin = -qmax - 1.0f;
    if (q.format == formats::Format::W4A16) intCodes.resize(static_cast<size_t>(N * K));
    else q.weights.resize(static_cast<size_t>(N * K));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const int64_t i = n * K + k;
        const float x = floatAt(t, i), scale = scaleOf(n, k);
        if (!std::isfinite(x))
          return Status::error(where + ": tensor '" + module + ".weight' element [" + std::to_string(n) + ", " +
                               std::to_string(k) + "] is not finite");
        if (isFloat) {
          q.weights[i] = formats::floatToE4m3(x / scale); // saturates at +-448 like the clamp
          continue;
        }
        float r = std::rint(x / scale);
        if (r < qmin) r = qmin;
        if (r > qmax) r = qmax;
        if (q.format == formats::Format::W4A16) intCodes[i] = static_cast<int8_t>(r);
        else q.weights[i] = static_cast<uint8_t>(static_cast<int8_t>(r));
      }
  }
  if (!intCodes.empty()) {
    Expected<std::vector<uint8_t>> packed = formats::packInt4(intCodes.data(), N, K);
    if (!packed) return packed.status().withContext(where + ": " + module);
    q.weights = std::move(*packed);
  }
  QCC_RETURN_IF_ERROR(formats::validate(q).withContext(where + ": " + module));
  return q;
}

QuantizedLayoutFactory layoutFactory() {
  return [](const std::string &configText, const std::string &configPath,
            const ModelConfig &model) -> Expected<std::unique_ptr<QuantizedLayout>> {
    Expected<std::optional<Config>> config = Config::fromConfigJson(configText, configPath);
    if (!config) return config.status();
    if (!*config) return std::unique_ptr<QuantizedLayout>();
    Expected<std::unique_ptr<CompressedLayout>> layout = CompressedLayout::create(std::move(**config), model);
    if (!layout) return layout.status();
    return std::unique_ptr<QuantizedLayout>(std::move(*layout));
  };
}

Expected<std::unique_ptr<Checkpoint>> openCheckpoint(const std::string &modelDir) {
  return Checkpoint::open(modelDir, layoutFactory());
}

const CompressedLayout *compressedLayout(const Checkpoint &checkpoint) {
  return dynamic_cast<const CompressedLayout *>(checkpoint.quantizedLayout());
}

} // namespace qcc::compressed_tensors
