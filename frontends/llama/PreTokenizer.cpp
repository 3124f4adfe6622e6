#include "frontends/llama/PreTokenizer.h"

#include "frontends/llama/ByteLevel.h"

#include <algorithm>

namespace qcc {

namespace {

// GPT-2's splitting regex, which the ByteLevel pre-tokenizer uses when use_regex.
const char kGpt2Pattern[] = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Cut {
  size_t begin, end;
  bool isMatch;
};

Expected<bool> boolField(const json::Value &spec, const char *name, bool fallback, const std::string &where) {
  const json::Value *v = spec.get(name);
  if (!v || v->isNull()) return fallback;
  if (!v->isBool()) return Status::error(where + ": '" + name + "' is not a boolean");
  return v->asBool();
}

} // namespace

Status PreTokenizer::parseStep(const json::Value &spec, const std::string &where, const std::string &file,
                               std::vector<Step> &steps) {
  if (!spec.isObject()) return Status::error(where + " is not an object");
  const json::Value *type = spec.get("type");
  if (!type || !type->isString()) return Status::error(where + " has no string 'type'");
  const std::string &t = type->asString();
  if (t == "Sequence") {
    const json::Value *list = spec.get("pretokenizers");
    if (!list || !list->isArray()) return Status::error(where + " (Sequence) has no 'pretokenizers' array");
    for (size_t i = 0; i < list->elements().size(); ++i)
      QCC_RETURN_IF_ERROR(parseStep(list->elements()[i], where + ".pretokenizers[" + std::to_string(i) + "]",
                                    file, steps));
    return Status::ok();
  }
  Step step;
  if (t == "ByteLevel") {
    step.byteLevel = true;
    Expected<bool> prefix = boolField(spec, "add_prefix_space", true, where);
    if (!prefix) return prefix.status();
    Expected<bool> regex = boolField(spec, "use_regex", true, where);
    if (!regex) return regex.status();
    step.addPrefixSpace = *prefix;
    step.useRegex = *regex;
    steps.push_back(std::move(step));
    return Status::ok();
  }
  if (t == "Split") {
    const json::Value *pattern = spec.get("pattern");
    if (!pattern || !pattern->isObject() || pattern->members().size() != 1 ||
        !pattern->members()[0].second.isString())
      return Status::error(where + " (Split) has no 'pattern' {\"Regex\": ...} or {\"String\": ...}");
    const std::string &kind = pattern->members()[0].first;
    const std::string &text = pattern->members()[0].second.asString();
    Expected<Regex> regex = kind == "Regex"    ? Regex::compile(text, where + " pattern")
                            : kind == "String" ? Regex::literal(text, where + " pattern")
                                               : Expected<Regex>(Status::error(
                                                     where + " (Split): pattern kind '" + kind + "' is unknown"));
    if (!regex) return regex.status();
    step.regex = std::move(*regex);
    const json::Value *behavior = spec.get("behavior");
    if (!behavior || !behavior->isString()) return Status::error(where + " (Split) has no string 'behavior'");
    const std::string &b = behavior->asString();
    if (b == "Removed") step.behavior = Behavior::Removed;
    else if (b == "Isolated") step.behavior = Behavior::Isolated;
    else if (b == "MergedWithPrevious") step.behavior = Behavior::MergedWithPrevious;
    else if (b == "MergedWithNext") step.behavior = Behavior::MergedWithNext;
    else if (b == "Contiguous") step.behavior = Behavior::Contiguous;
    else return Status::error(where + " (Split): behavior '" + b + "' is unknown");
    Expected<bool> invert = boolField(spec, "invert", false, where);
    if (!invert) return invert.status();
    step.invert = *invert;
    steps.push_back(std::move(step));
    return Status::ok();
  }
  return Status::error(where + ": pre-tokenizer '" + t +
                       "' is not supported (qcc implements Split, ByteLevel and Sequence)");
}

Expected<PreTokenizer> PreTokenizer::parse(const json::Value *spec, const std::string &file) {
  PreTokenizer p;
  if (spec && !spec->isNull()) QCC_RETURN_IF_ERROR(parseStep(*spec, file + ": pre_tokenizer", file, p.steps_));
  Expected<Regex> gpt2 = Regex::compile(kGpt2Pattern, "ByteLevel's regex");
  if (!gpt2) return gpt2.status();
  p.gpt2_ = std::move(*gpt2);
  return p;
}

bool PreTokenizer::mapsToBytes() const {
  for (const Step &s : steps_)
    if (s.byteLevel) return true;
  return false;
}

Status PreTokenizer::run(std::string_view text, const Sink &sink) const {
  if (text.empty()) return Status::ok();
  return runFrom(0, text, sink);
}

Expected<std::vector<std::string>> PreTokenizer::pieces(std::string_view text) const {
  std::vector<std::string> out;
  Status s = run(text, [&](std::string_view piece) {
    out.emplace_back(piece);
    return Status::ok();
  });
  if (!s) return s;
  return out;
}

Status PreTokenizer::runFrom(size_t index, std::string_view piece, const Sink &sink) const {
  if (index == steps_.size()) return sink(piece);
  const Step &step = steps_[index];
  std::vector<Regex::Span> spans;

  if (step.byteLevel) {
    std::string prefixed;
    std::string_view view = piece;
    if (step.addPrefixSpace && piece[0] != ' ') {
      prefixed.reserve(piece.size() + 1);
      prefixed += ' ';
      prefixed += piece;
      view = prefixed;
    }
    std::string mapped;
    auto emit = [&](std::string_view part) -> Status {
      if (part.empty()) return Status::ok();
      mapped.clear();
      bytelevel::appendSymbols(part, mapped);
      return runFrom(index + 1, mapped, sink);
    };
    if (!step.useRegex) return emit(view);
    QCC_RETURN_IF_ERROR(gpt2_.findAll(view, spans));
    size_t prev = 0;
    for (const Regex::Span &s : spans) { // Isolated: matches and the gaps between them
      if (s.begin > prev) QCC_RETURN_IF_ERROR(emit(view.substr(prev, s.begin - prev)));
      QCC_RETURN_IF_ERROR(emit(view.substr(s.begin, s.end - s.begin)));
      prev = s.end;
    }
    return emit(view.substr(prev));
  }

  // Split: matches and the gaps between them, as `tokenizers`' find_matches.
  QCC_RETURN_IF_ERROR(step.regex.findAll(piece, spans));
  std::vector<Cut> cuts;
  cuts.reserve(2 * spans.size() + 1);
  size_t prev = 0;
  for (const Regex::Span &s : spans) {
    if (s.begin != prev) cuts.push_back({prev, s.begin, false});
    cuts.push_back({s.begin, s.end, true});
    prev = s.end;
  }
  if (prev != piece.size()) cuts.push_back({prev, piece.size(), false});
  if (step.invert)
    for (Cut &c : cuts) c.isMatch = !c.isMatch;

  // The behaviour folds the cuts into kept ranges (isMatch = remove it).
  std::vector<Cut> kept;
  kept.reserve(cuts.size());
  bool previousMatch = false;
  switch (step.behavior) {
  case Behavior::Isolated:
    for (const Cut &c : cuts) kept.push_back({c.begin, c.end, false});
    break;
  case Behavior::Removed:
    kept = cuts;
    break;
  case Behavior::Contiguous:
    for (const Cut &c : cuts) {
      if (c.isMatch == previousMatch && !kept.empty()) kept.back().end = c.end;
      else kept.push_back({c.begin, c.end, false});
      previousMatch = c.isMatch;
    }
    break;
  case Behavior::MergedWithPrevious:
    for (const Cut &c : cuts) {
      if (c.isMatch && !previousMatch && !kept.empty()) kept.back().end = c.end;
      else kept.push_back({c.begin, c.end, false});
      previousMatch = c.isMatch;
    }
    break;
  case Behavior::MergedWithNext:
    for (size_t i = cuts.size(); i-- > 0;) {
      const Cut &c = cuts[i];
      if (c.isMatch && !previousMatch && !kept.empty()) kept.back().begin = c.begin;
      else kept.push_back({c.begin, c.end, false});
      previousMatch = c.isMatch;
    }
    std::reverse(kept.begin(), kept.end());
    break;
  }
  for (const Cut &c : kept)
    if (!c.isMatch && c.end > c.begin)
      QCC_RETURN_IF_ERROR(runFrom(index + 1, piece.substr(c.begin, c.end - c.begin), sink));
  return Status::ok();
}

} // namespace qcc
