#include "passes/AutoFormats.h"

#include "codegen/cuda/TileTable.h"
#include "dialects/qcc/QccDialect.h"
#include "passes/PassRecord.h"
#include "passes/ToProgram.h"
#include "quant/MixedPrecision.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

using namespace mlir;

namespace qcc {

//===----------------------------------------------------------------------===//
// Formats and budgets
//===----------------------------------------------------------------------===//

Expected<formats::FormatSpec> parseRuleFormat(const std::string &text, int64_t defaultGroup) {
  const size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  formats::FormatSpec spec{formats::Format::BF16, 0};
  if (name == "bf16") spec.format = formats::Format::BF16;
  else if (name == "fp8") spec.format = formats::Format::FP8;
  else if (name == "int8") spec.format = formats::Format::INT8;
  else if (name == "w4a16") spec.format = formats::Format::W4A16;
  else return Status::error("unknown format '" + text + "' (expected bf16, fp8, int8, w4a16 or w4a16:G)");
  if (spec.format == formats::Format::W4A16) {
    int64_t group = defaultGroup;
    if (colon != std::string::npos) {
      const std::string g = text.substr(colon + 1);
      char *end = nullptr;
      group = std::strtoll(g.c_str(), &end, 10);
      if (g.empty() || *end != '\0' || group <= 0 || group % 8 != 0)
        return Status::error("bad group size in '" + text + "' (a positive multiple of 8)");
    }
    spec.groupSize = int(group);
  } else if (colon != std::string::npos) {
    return Status::error("format '" + name + "' takes no group size");
  }
  return spec;
}

std::string ruleFormatName(const formats::FormatSpec &spec) {
  if (spec.format == formats::Format::W4A16) return "w4a16:" + std::to_string(spec.groupSize);
  return formats::formatName(spec.format);
}

static FormatAttr formatAttr(MLIRContext *ctx, const formats::FormatSpec &spec) {
  switch (spec.format) {
  case formats::Format::BF16: return FormatAttr::get(ctx, FormatKind::bf16, 0);
  case formats::Format::FP8: return FormatAttr::get(ctx, FormatKind::fp8, 0);
  case formats::Format::INT8: return FormatAttr::get(ctx, FormatKind::int8, 0);
  case formats::Format::W4A16: return FormatAttr::get(ctx, FormatKind::w4a16, spec.groupSize);
  }
  return {};
}

static formats::FormatSpec specOf(FormatAttr f) {
  switch (f.getKind()) {
  case FormatKind::fp8: return {formats::Format::FP8, 0};
  case FormatKind::int8: return {formats::Format::INT8, 0};
  case FormatKind::w4a16: return {formats::Format::W4A16, int(f.getGroupSize())};
  default: return {formats::Format::BF16, 0};
  }
}

static bool parseNumber(const std::string &text, double &out) {
  char *end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && std::isfinite(out);
}

Expected<Budget> parseBudget(const std::string &text) {
  const std::string usage = "bad budget '" + text + "': expected bits=B, size=BYTES or latency=MICROSECONDS@GPU";
  Budget b;
  b.text = text;
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return Status::error(usage);
  const std::string kind = text.substr(0, eq), value = text.substr(eq + 1);
  if (kind == "bits") {
    b.kind = Budget::Kind::Bits;
    if (!parseNumber(value, b.value) || b.value <= 0)
      return Status::error("bad budget '" + text + "': bits must be a positive number");
  } else if (kind == "size") {
    b.kind = Budget::Kind::Size;
    static const std::pair<const char *, double> suffixes[] = {
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1.0}};
    std::string number = value;
    double scale = 1;
    for (const auto &[suffix, factor] : suffixes) {
      const std::string s = suffix;
      if (number.size() > s.size() && number.compare(number.size() - s.size(), s.size(), s) == 0) {
        number.resize(number.size() - s.size());
        scale = factor;
        break;
      }
    }
    if (!parseNumber(number, b.value) || b.value <= 0)
      return Status::error("bad budget '" + text + "': size must be a positive number of bytes (K/M/G, KiB/MiB/GiB)");
    b.value = std::floor(b.value * scale);
  } else if (kind == "latency") {
    b.kind = Budget::Kind::Latency;
    const size_t at = value.find('@');
    if (at == std::string::npos)
      return Status::error("bad budget '" + text + "': latency needs a GPU, as latency=MICROSECONDS@GPU (e.g. 250@h100)");
    std::string number = value.substr(0, at);
    if (number.size() > 2 && number.compare(number.size() - 2, 2, "us") == 0) number.resize(number.size() - 2);
    if (!parseNumber(number, b.value) || b.value <= 0)
      return Status::error("bad budget '" + text + "': latency must be a positive number of microseconds");
    auto gpu = quant::lookupGpu(value.substr(at + 1));
    if (!gpu) return Status::error("bad budget '" + text + "': " + gpu.message());
    b.gpu = *gpu;
  } else {
    return Status::error(usage);
  }
  return b;
}

//===----------------------------------------------------------------------===//
// Sensitivity tables
//===----------------------------------------------------------------------===//

void setSensitivityAttr(ModuleOp module, const SensitivityTable &table) {
  Builder b(module.getContext());
  SmallVector<Attribute> candidates;
  for (const std::string &c : table.candidates) candidates.push_back(b.getStringAttr(c));
  SmallVector<NamedAttribute> layers;
  for (const auto &[layer, perFormat] : table.kl) {
    SmallVector<NamedAttribute> entries;
    for (const auto &[format, kl] : perFormat) entries.push_back(b.getNamedAttr(format, b.getF64FloatAttr(kl)));
    layers.push_back(b.getNamedAttr(layer, b.getDictionaryAttr(entries)));
  }
  SmallVector<NamedAttribute> fields = {b.getNamedAttr("candidates", b.getArrayAttr(candidates)),
                                        b.getNamedAttr("layers", b.getDictionaryAttr(layers))};
  if (!table.checkpointHash.empty()) fields.push_back(b.getNamedAttr("checkpoint_hash", b.getStringAttr(table.checkpointHash)));
  if (!table.identity.empty()) fields.push_back(b.getNamedAttr("identity", b.getStringAttr(table.identity)));
  module->setAttr(kSensitivityAttr, b.getDictionaryAttr(fields));
}

Expected<SensitivityTable> getSensitivityAttr(ModuleOp module) {
  auto dict = module->getAttrOfType<DictionaryAttr>(kSensitivityAttr);
  const std::string where = std::string("module attribute ") + kSensitivityAttr;
  if (!dict) return Status::error(where + " is missing");
  SensitivityTable t;
  auto candidates = dict.getAs<ArrayAttr>("candidates");
  auto layers = dict.getAs<DictionaryAttr>("layers");
  if (!candidates || !layers) return Status::error(where + ": expected `candidates` (array) and `layers` (dictionary)");
  for (Attribute c : candidates) {
    auto s = dyn_cast<StringAttr>(c);
    if (!s) return Status::error(where + ": candidates must be strings");
    t.candidates.push_back(s.str());
  }
  for (NamedAttribute layer : layers) {
    auto perFormat = dyn_cast<DictionaryAttr>(layer.getValue());
    if (!perFormat) return Status::error(where + ": layer " + layer.getName().str() + " must map formats to KL values");
    for (NamedAttribute f : perFormat) {
      auto kl = dyn_cast<FloatAttr>(f.getValue());
      if (!kl || !(kl.getValueAsDouble() >= 0) || !std::isfinite(kl.getValueAsDouble()))
        return Status::error(where + ": layer " + layer.getName().str() + ", format " + f.getName().str() +
                             ": the KL must be a finite number >= 0");
      t.kl[layer.getName().str()][f.getName().str()] = kl.getValueAsDouble();
    }
  }
  if (auto h = dict.getAs<StringAttr>("checkpoint_hash")) t.checkpointHash = h.str();
  t.identity = "measured";
  if (auto id = dict.getAs<StringAttr>("identity")) t.identity = id.str();
  return t;
}

Expected<SensitivityTable> readSensitivityFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) return Status::error(path + ": cannot read: " + buffer.getError().message());
  auto parsed = llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) return Status::error(path + ": not JSON: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root || !root->getInteger("qcc_sensitivity"))
    return Status::error(path + ": not a `qcc sensitivity` table (no qcc_sensitivity version)");
  if (*root->getInteger("qcc_sensitivity") != 1)
    return Status::error(path + ": qcc_sensitivity version " + std::to_string(*root->getInteger("qcc_sensitivity")) +
                         " is not supported (expected 1)");
  SensitivityTable t;
  const llvm::json::Array *candidates = root->getArray("candidates");
  const llvm::json::Array *layers = root->getArray("layers");
  if (!candidates) return Status::error(path + ": field candidates: expected an array of format names");
  if (!layers) return Status::error(path + ": field layers: expected an array");
  for (const llvm::json::Value &c : *candidates) {
    auto s = c.getAsString();
    if (!s) return Status::error(path + ": field candidates: expected strings");
    t.candidates.push_back(s->str());
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    const std::string where = path + ": layers[" + std::to_string(i) + "]";
    const llvm::json::Object *layer = (*layers)[i].getAsObject();
    if (!layer) return Status::error(where + ": expected an object");
    auto name = layer->getString("name");
    const llvm::json::Object *perFormat = layer->getObject("formats");
    if (!name || name->empty()) return Status::error(where + ": field name: expected the layer's name");
    if (!perFormat) return Status::error(where + ": field formats: expected an object");
    if (t.kl.count(name->str())) return Status::error(where + ": layer " + name->str() + " appears twice");
    auto &entry = t.kl[name->str()];
    for (const auto &[format, value] : *perFormat) {
      const llvm::json::Object *f = value.getAsObject();
      if (!f) return Status::error(where + ": formats." + format.str() + ": expected an object");
      if (f->get("unavailable")) continue; // not measurable for this layer
      auto kl = f->getNumber("kl");
      if (!kl || !(*kl >= 0) || !std::isfinite(*kl))
        return Status::error(where + ": formats." + format.str() + ".kl: expected a finite number >= 0");
      entry[format.str()] = *kl;
    }
  }
  if (auto h = root->getString("checkpoint_hash")) t.checkpointHash = h->str();
  t.identity = fileIdentity(path);
  return t;
}

//===----------------------------------------------------------------------===//
// The problem
//===----------------------------------------------------------------------===//

static bool storedQuantized(Value weight) {
  Type elem = cast<RankedTensorType>(weight.getType()).getElementType();
  return !isa<FloatType>(elem) || isa<Float8E4M3FNType>(elem);
}

Expected<std::unique_ptr<AutoProblem>> AutoProblem::build(ModuleOp module, const SensitivityTable &table,
                                                          const AutoFormatOptions &options) {
  auto forward = forwardFunction(module);
  if (!forward) return forward.status();
  std::unique_ptr<AutoProblem> p(new AutoProblem());
  p->groupSize_ = options.groupSize;
  p->uniformGroups_ = options.uniformGroups;

  // Linears, in program order; inputs of covered ones for the fusion groups.
  std::vector<std::pair<Value, std::vector<size_t>>> byInput;
  std::set<void *> linearWeights;
  std::string missing;
  Status error = Status::ok();
  forward->walk([&](Operation *op) {
    if (!error) return;
    Value input, weight;
    std::string name;
    FormatAttr current;
    bool residual = false;
    if (auto linear = dyn_cast<LinearOp>(op)) {
      input = linear.getInput(), weight = linear.getWeight(), name = linear.getLayer().str();
      current = linear.getFormat(), residual = bool(linear.getResidual());
    } else if (auto logits = dyn_cast<LogitsOp>(op)) {
      input = logits.getInput(), weight = logits.getWeight(), name = "lm_head", current = logits.getFormat();
    } else {
      return;
    }
    linearWeights.insert(weight.getAsOpaquePointer());
    auto shape = cast<RankedTensorType>(weight.getType()).getShape();
    const int64_t n = shape[0], k = shape[1];
    const bool isHead = isa<LogitsOp>(op);
    if (storedQuantized(weight) || (isHead && !options.includeLmHead)) {
      // Not chosen: a stored quantized layer keeps its format, lm_head stays bf16.
      p->fixedGemms_.push_back({isHead && !storedQuantized(weight) ? formats::FormatSpec{formats::Format::BF16, 0}
                                                                   : specOf(current),
                                {{n, k}}});
      return;
    }
    auto measured = table.kl.find(name);
    if (measured == table.kl.end()) {
      missing += (missing.empty() ? "" : ", ") + name;
      return;
    }
    Layer layer;
    layer.name = name, layer.op = op, layer.n = n, layer.k = k;
    std::string why;
    for (const std::string &candidate : table.candidates) {
      auto kl = measured->second.find(candidate);
      if (kl == measured->second.end()) continue;
      auto spec = parseRuleFormat(candidate, options.groupSize);
      if (!spec) {
        error = Status::error("sensitivity table: " + spec.message());
        return;
      }
      if (spec->format == formats::Format::W4A16 && k % spec->groupSize != 0) continue;
      bool legal = true;
      for (const TargetInfo &target : options.targets)
        legal &= bool(checkFormatLegal(formats::formatName(spec->format), target, options.allowFp8WeightOnly,
                                       spec->format == formats::Format::W4A16 ? spec->groupSize : 0));
      if (!legal) continue;
      layer.formats.push_back(ruleFormatName(*spec));
      layer.kl.push_back(kl->second);
    }
    if (layer.formats.empty()) {
      error = Status::error("layer " + name + ": no format of the sensitivity table (" +
                            llvm::join(table.candidates, ", ") + ") is measured and legal for it on the targets");
      return;
    }
    const size_t index = p->layers_.size();
    p->coveredWeights_ += n * k;
    p->layers_.push_back(std::move(layer));
    if (residual || isHead) {
      p->groups_.push_back({index});
      return;
    }
    for (auto &[value, members] : byInput)
      if (value == input) {
        members.push_back(index);
        return;
      }
    byInput.push_back({input, {index}});
  });
  if (!error) return error;
  if (!missing.empty())
    return Status::error("the sensitivity table has no entry for layer(s) " + missing +
                         (missing.find("lm_head") != std::string::npos
                              ? " (measure lm_head with `qcc sensitivity --include-lm-head`)"
                              : " (was it measured on another model?)"));
  if (p->layers_.empty()) return Status::error("no linear layer to choose a format for");
  for (auto &[value, members] : byInput) p->groups_.push_back(members);
  std::sort(p->groups_.begin(), p->groups_.end()); // program order of their first member

  // Every other weight, as the IR holds it.
  forward->walk([&](Operation *op) {
    if (op->getNumResults() != 1 || !isa<WeightOp, QuantizedWeightOp, QuantizeWeightOp>(op)) return;
    Value w = op->getResult(0);
    if (linearWeights.count(w.getAsOpaquePointer())) return;
    auto type = cast<RankedTensorType>(w.getType());
    p->otherBytes_ += type.getNumElements() * int64_t(type.getElementTypeBitWidth()) / 8;
  });
  for (const Fixed &f : p->fixedGemms_) p->otherBytes_ += quant::linearWeightBytes(f.format, f.shapes[0].n, f.shapes[0].k);

  if (!options.tilesFile.empty()) {
    auto tiles = cuda::readTileTable(options.tilesFile);
    if (!tiles) return tiles.status();
    auto shared = std::make_shared<cuda::TileTable>(std::move(*tiles));
    p->measured_ = [shared](const std::string &arch, const std::string &format, int64_t n, int64_t k,
                            bool decode) -> std::optional<double> {
      auto f = cuda::parseGemmFormat(format);
      if (!f) return std::nullopt;
      const cuda::TileEntry *e = shared->find(arch, *f, n, k, decode);
      if (!e || !(e->ms > 0)) return std::nullopt;
      return e->ms * 1000.0;
    };
  }
  return p;
}

double AutoProblem::groupMicros(size_t gpu, const std::vector<size_t> &members, const std::vector<std::string> &formats,
                                int64_t m) const {
  // Members sharing a format are one stacked GEMM (qcc-fuse), the others apart.
  std::vector<std::pair<std::string, std::vector<quant::GemmShape>>> gemms;
  for (size_t i : members) {
    auto it = std::find_if(gemms.begin(), gemms.end(), [&](const auto &g) { return g.first == formats[i]; });
    if (it == gemms.end()) gemms.push_back({formats[i], {}}), it = gemms.end() - 1;
    it->second.push_back({layers_[i].n, layers_[i].k});
  }
  double us = 0;
  for (const auto &[format, shapes] : gemms)
    us += quant::gemmMicros(quant::gpuSpecs()[gpu], *parseRuleFormat(format, groupSize_), shapes, m, measured_);
  return us;
}

double AutoProblem::layerMicros(size_t layer, const std::string &format, size_t gpu, int64_t m) const {
  const Layer &l = layers_[layer];
  return quant::gemmMicros(quant::gpuSpecs()[gpu], *parseRuleFormat(format, groupSize_), {{l.n, l.k}}, m, measured_);
}

Expected<FormatAssignment> AutoProblem::evaluate(const std::vector<std::string> &formats) const {
  if (formats.size() != layers_.size())
    return Status::error("an assignment needs " + std::to_string(layers_.size()) + " formats");
  FormatAssignment a;
  a.formats = formats;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer &l = layers_[i];
    auto it = std::find(l.formats.begin(), l.formats.end(), formats[i]);
    if (it == l.formats.end()) return Status::error("layer " + l.name + " cannot take " + formats[i]);
    a.predictedKl += l.kl[size_t(it - l.formats.begin())];
    a.linearBytes += quant::linearWeightBytes(*parseRuleFormat(formats[i], groupSize_), l.n, l.k);
  }
  a.effectiveBits = 8.0 * double(a.linearBytes) / double(coveredWeights_);
  a.modelBytes = otherBytes_ + a.linearBytes;
  for (size_t g = 0; g < quant::gpuSpecs().size(); ++g) {
    double decode = 0, prefill = 0;
    for (const std::vector<size_t> &members : groups_) {
      decode += groupMicros(g, members, formats, quant::kDecodeRows);
      prefill += groupMicros(g, members, formats, quant::kPrefillRows);
    }
    for (const Fixed &f : fixedGemms_) {
      decode += quant::gemmMicros(quant::gpuSpecs()[g], f.format, f.shapes, quant::kDecodeRows, measured_);
      prefill += quant::gemmMicros(quant::gpuSpecs()[g], f.format, f.shapes, quant::kPrefillRows, measured_);
    }
    a.decodeUs.push_back(decode);
    a.prefillUs.push_back(prefill);
  }
  return a;
}

std::vector<std::string> AutoProblem::uniform(const std::string &format) const {
  std::vector<std::string> out;
  for (const Layer &l : layers_) {
    std::string chosen = l.formats.front();
    for (const char *f : {format.c_str(), "int8", "bf16"})
      if (std::find(l.formats.begin(), l.formats.end(), f) != l.formats.end()) {
        chosen = f;
        break;
      }
    out.push_back(chosen);
  }
  return out;
}

double AutoProblem::minBits() const {
  int64_t bytes = 0;
  for (const Layer &l : layers_) {
    int64_t best = INT64_MAX;
    for (const std::string &f : l.formats)
      best = std::min(best, quant::linearWeightBytes(*parseRuleFormat(f, groupSize_), l.n, l.k));
    bytes += best;
  }
  return 8.0 * double(bytes) / double(coveredWeights_);
}

double AutoProblem::maxBits() const {
  int64_t bytes = 0;
  for (const Layer &l : layers_) {
    int64_t most = 0;
    for (const std::string &f : l.formats)
      most = std::max(most, quant::linearWeightBytes(*parseRuleFormat(f, groupSize_), l.n, l.k));
    bytes += most;
  }
  return 8.0 * double(bytes) / double(coveredWeights_);
}

Expected<FormatAssignment> AutoProblem::solve(const Budget &budget) const {
  size_t gpu = 0;
  if (budget.kind == Budget::Kind::Latency)
    gpu = size_t(budget.gpu - quant::gpuSpecs().data());
  constexpr double kPicoseconds = 1e6; // per microsecond
  // Knapsack groups: every combination of the members' formats.
  std::vector<quant::KnapsackGroup> groups;
  std::vector<std::vector<std::vector<std::string>>> combos; // per group, per choice: member formats
  std::vector<std::string> scratch(layers_.size());
  for (const std::vector<size_t> &members : groups_) {
    quant::KnapsackGroup g;
    g.name = layers_[members.front()].name;
    std::vector<std::vector<std::string>> groupCombos;
    std::vector<size_t> digit(members.size(), 0);
    while (true) {
      double cost = 0;
      int64_t bytes = 0;
      std::vector<std::string> chosen;
      for (size_t j = 0; j < members.size(); ++j) {
        const Layer &l = layers_[members[j]];
        chosen.push_back(l.formats[digit[j]]);
        scratch[members[j]] = l.formats[digit[j]];
        cost += l.kl[digit[j]];
        bytes += quant::linearWeightBytes(*parseRuleFormat(l.formats[digit[j]], groupSize_), l.n, l.k);
      }
      const bool uniform = std::all_of(chosen.begin(), chosen.end(), [&](const std::string &f) { return f == chosen[0]; });
      if (uniform || !uniformGroups_) {
        int64_t weight = bytes;
        if (budget.kind == Budget::Kind::Latency)
          weight = int64_t(std::ceil(groupMicros(gpu, members, scratch, quant::kDecodeRows) * kPicoseconds));
        g.choices.push_back({cost, weight});
        groupCombos.push_back(std::move(chosen));
      }
      size_t j = 0;
      while (j < members.size() && ++digit[j] == layers_[members[j]].formats.size()) digit[j++] = 0;
      if (j == members.size()) break;
    }
    if (g.choices.empty())
      return Status::error("layers " + g.name + " and the others that read its input have no format in common, and "
                           "they must share one");
    groups.push_back(std::move(g));
    combos.push_back(std::move(groupCombos));
  }
  // The budget as a capacity in the weights' unit, and the fixed part.
  int64_t minWeight = 0;
  for (const quant::KnapsackGroup &g : groups) {
    int64_t lo = INT64_MAX;
    for (const quant::KnapsackChoice &c : g.choices) lo = std::min(lo, c.weight);
    minWeight += lo;
  }
  double fixedUs = 0;
  for (const Fixed &f : fixedGemms_)
    fixedUs += quant::gemmMicros(quant::gpuSpecs()[gpu], f.format, f.shapes, quant::kDecodeRows, measured_);
  int64_t capacity = 0;
  std::string smallest;
  char text[128];
  switch (budget.kind) {
  case Budget::Kind::Bits:
    capacity = int64_t(std::floor(budget.value * double(coveredWeights_) / 8.0));
    std::snprintf(text, sizeof text, "bits=%.4f", std::ceil(8.0 * double(minWeight) / double(coveredWeights_) * 1e4) / 1e4);
    smallest = text;
    break;
  case Budget::Kind::Size:
    capacity = int64_t(budget.value) - otherBytes_;
    smallest = "size=" + std::to_string(otherBytes_ + minWeight);
    break;
  case Budget::Kind::Latency:
    capacity = int64_t(std::floor((budget.value - fixedUs) * kPicoseconds));
    std::snprintf(text, sizeof text, "latency=%.3f@%s", std::ceil((fixedUs + double(minWeight) / kPicoseconds) * 1e3 + 1e-6) / 1e3,
                  budget.gpu->name);
    smallest = text;
    break;
  }
  if (capacity < minWeight)
    return Status::error("budget " + budget.text + " cannot be met: the smallest possible is " + smallest +
                         " (every layer in its smallest legal format)");
  auto solution = quant::solveKnapsack(std::move(groups), capacity);
  if (!solution) return solution.status();
  std::vector<std::string> chosen(layers_.size());
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t j = 0; j < groups_[g].size(); ++j) chosen[groups_[g][j]] = combos[g][solution->choice[g]][j];
  auto a = evaluate(chosen);
  if (!a) return a.status();
  a->coarsened = solution->coarsened;
  return a;
}

//===----------------------------------------------------------------------===//
// Reports and the pass
//===----------------------------------------------------------------------===//

std::string assignmentRulesYaml(const AutoProblem &problem, const FormatAssignment &a, const std::string &header) {
  std::string out;
  size_t start = 0;
  while (start < header.size()) {
    size_t end = header.find('\n', start);
    if (end == std::string::npos) end = header.size();
    out += "# " + header.substr(start, end - start) + "\n";
    start = end + 1;
  }
  for (size_t i = 0; i < problem.layers().size(); ++i)
    out += "\"" + problem.layers()[i].name + "\": " + a.formats[i] + "\n";
  return out;
}

std::string describeAssignment(const FormatAssignment &a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "effective bits %.4f, predicted KL %.6g nats/token, linear weights %.3f MiB, "
                                 "model weights %.3f MiB",
                a.effectiveBits, a.predictedKl, double(a.linearBytes) / 1048576.0, double(a.modelBytes) / 1048576.0);
  std::string out = buf;
  out += "; estimated linear time, decode (M=1) / prefill (M=2048):";
  for (size_t g = 0; g < quant::gpuSpecs().size(); ++g) {
    std::snprintf(buf, sizeof buf, "%s %s %.2f / %.1f us", g ? "," : "", quant::gpuSpecs()[g].name, a.decodeUs[g],
                  a.prefillUs[g]);
    out += buf;
  }
  if (a.coarsened) out += " (budget resolved to a coarser unit: within the budget, optimal up to that unit)";
  return out;
}

LogicalResult selectFormatsAutomatically(ModuleOp module, const std::string &budgetText,
                                         const std::string &sensitivityFile, const AutoFormatOptions &options) {
  auto fail = [&](const std::string &message) {
    emitError(module.getLoc(), "qcc-select-formats: ") << message;
    return failure();
  };
  if (budgetText.empty())
    return fail("default-format=auto needs a budget: bits=B, size=BYTES or latency=MICROSECONDS@GPU");
  auto budget = parseBudget(budgetText);
  if (!budget) return fail(budget.message());
  Expected<SensitivityTable> table = sensitivityFile.empty() ? getSensitivityAttr(module)
                                                             : readSensitivityFile(sensitivityFile);
  if (!table) {
    if (sensitivityFile.empty())
      return fail("default-format=auto needs a sensitivity table: the sensitivity option (a `qcc sensitivity` "
                  "JSON file) or the module attribute qcc.sensitivity (" + table.message() + ")");
    return fail(table.message());
  }
  if (auto hash = module->getAttrOfType<StringAttr>("qcc.checkpoint_hash"))
    if (!table->checkpointHash.empty() && table->checkpointHash != hash.str())
      return fail("the sensitivity table " + table->identity + " was measured on checkpoint " + table->checkpointHash +
                  ", not on this one (" + hash.str() + ")");
  auto problem = AutoProblem::build(module, *table, options);
  if (!problem) return fail(problem.message());
  auto chosen = (*problem)->solve(*budget);
  if (!chosen) return fail(chosen.message());

  MLIRContext *ctx = module.getContext();
  const auto &layers = (*problem)->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    FormatAttr f = formatAttr(ctx, *parseRuleFormat(chosen->formats[i], options.groupSize));
    if (auto linear = dyn_cast<LinearOp>(layers[i].op)) linear.setFormatAttr(f);
    else cast<LogitsOp>(layers[i].op).setFormatAttr(f);
  }
  // lm_head, when not chosen, is bf16 as with any default format.
  if (!options.includeLmHead)
    module.walk([&](LogitsOp logits) {
      if (!storedQuantized(logits.getWeight())) logits.setFormatAttr(FormatAttr::get(ctx, FormatKind::bf16, 0));
    });
  module->removeAttr(kSensitivityAttr);

  // Provenance: the budget, the table and what the choice costs.
  char buf[96];
  std::string record = "qcc-auto-formats{budget=" + budget->text + " sensitivity=" + table->identity;
  std::snprintf(buf, sizeof buf, " effective-bits=%.4f predicted-kl=%.6g", chosen->effectiveBits, chosen->predictedKl);
  record += buf;
  for (size_t g = 0; g < quant::gpuSpecs().size(); ++g) {
    std::snprintf(buf, sizeof buf, "%s%s:%.3f", g ? "," : " decode-us=", quant::gpuSpecs()[g].name, chosen->decodeUs[g]);
    record += buf;
  }
  record += "}";
  Builder b(ctx);
  SmallVector<Attribute> passes;
  if (auto old = module->getAttrOfType<ArrayAttr>("qcc.passes")) passes.append(old.begin(), old.end());
  passes.push_back(b.getStringAttr(record));
  module->setAttr("qcc.passes", b.getArrayAttr(passes));

  std::map<std::string, int> counts;
  for (const std::string &f : chosen->formats) ++counts[f];
  std::string summary = "auto formats under budget " + budget->text + " (" + std::to_string(layers.size()) + " layers:";
  for (const auto &[f, n] : counts) summary += " " + std::to_string(n) + " " + f;
  summary += "): " + describeAssignment(*chosen);
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto &l = layers[i];
    const size_t at = size_t(std::find(l.formats.begin(), l.formats.end(), chosen->formats[i]) - l.formats.begin());
    std::snprintf(buf, sizeof buf, " (KL %.3g)", l.kl[at]);
    summary += "\n  " + l.name + ": " + chosen->formats[i] + buf;
  }
  emitRemark(module.getLoc()) << summary;
  return success();
}

} // namespace qcc
