#include "frontends/llama/Tokenizer.h"

#include "frontends/llama/AddedTokens.h"
#include "frontends/llama/Bpe.h"
#include "frontends/llama/PreTokenizer.h"
#include "frontends/llama/StrictJson.h"
#include "frontends/llama/Utf8.h"
#include "support/MappedFile.h"

#include <mutex>
#include <unordered_map>

namespace qcc {

namespace {

// Ids above this are refused: the id table is dense, and real vocabularies
// are below 300k.
constexpr int64_t kMaxTokenId = (1 << 24) - 1;

std::string quoted(const std::string &s) { return "'" + s + "'"; }

Status decoderIsByteLevel(const json::Value &d, const std::string &file) {
  if (!d.isObject()) return Status::error(file + ": 'decoder' is not an object");
  const json::Value *type = d.get("type");
  if (!type || !type->isString()) return Status::error(file + ": 'decoder' has no type");
  if (type->asString() == "ByteLevel") return Status::ok();
  if (type->asString() == "Sequence") {
    const json::Value *ds = d.get("decoders");
    if (ds && ds->isArray())
      for (const json::Value &e : ds->elements())
        if (e.isObject() && e.get("type") && e.get("type")->isString() && e.get("type")->asString() == "ByteLevel")
          return Status::ok();
  }
  return Status::error(file + ": decoder '" + type->asString() + "' is not supported (only byte-level BPE)");
}

bool isNullOrAbsent(const json::Value *v) { return !v || v->isNull(); }

} // namespace

struct Tokenizer::Impl {
  // Decoding and the shared vocabulary.
  std::vector<std::string> tokens; // id -> token ("" with present false: a hole)
  std::vector<bool> present, special;
  std::unordered_map<std::string_view, int32_t> vocab; // model.vocab; keys view `tokens`
  std::unordered_map<std::string_view, int32_t> addedIds;
  std::vector<AddedToken> added;

  // Encoding.
  Status encoderStatus = Status::ok();
  std::optional<AddedTokenMatcher> rawTokens, normalizedTokens;
  std::optional<PreTokenizer> preTokenizer;
  std::optional<Bpe> bpe;
  std::vector<int64_t> prefix, suffix; // the post-processor's special tokens
  mutable std::mutex cacheMutex;
  mutable Bpe::Cache cache;
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

int64_t Tokenizer::size() const { return static_cast<int64_t>(impl_->tokens.size()); }

const std::string *Tokenizer::token(int64_t id) const {
  if (id < 0 || id >= size() || !impl_->present[id]) return nullptr;
  return &impl_->tokens[id];
}

bool Tokenizer::isSpecial(int64_t id) const { return token(id) && impl_->special[id]; }

std::optional<int64_t> Tokenizer::idOf(std::string_view content) const {
  if (auto it = impl_->addedIds.find(content); it != impl_->addedIds.end()) return it->second;
  if (auto it = impl_->vocab.find(content); it != impl_->vocab.end()) return it->second;
  return std::nullopt;
}

bool Tokenizer::appendTokenBytes(int64_t id, std::string &bytes) const {
  const std::string *tok = token(id);
  if (!tok) return false;
  // Map every character back to its byte; any stranger keeps the token raw.
  size_t start = bytes.size();
  for (size_t k = 0; k < tok->size();) {
    uint32_t cp;
    k += utf8::decode(*tok, k, &cp);
    int b = bytelevel::toByte(cp);
    if (b < 0) {
      bytes.resize(start);
      bytes += *tok;
      return true;
    }
    bytes += static_cast<char>(b);
  }
  return true;
}

std::string Tokenizer::decodeImpl(const std::vector<int64_t> &ids, bool skipSpecial, int64_t *badIndex) const {
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!token(ids[i])) {
      if (badIndex && *badIndex < 0) *badIndex = static_cast<int64_t>(i);
      bytes += "<unk:" + std::to_string(ids[i]) + ">";
      continue;
    }
    if (skipSpecial && impl_->special[ids[i]]) continue;
    appendTokenBytes(ids[i], bytes);
  }
  return utf8::lossy(bytes);
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids, bool skipSpecial) const {
  return decodeImpl(ids, skipSpecial, nullptr);
}

Expected<std::string> Tokenizer::decodeChecked(const std::vector<int64_t> &ids, bool skipSpecial) const {
  int64_t bad = -1;
  std::string text = decodeImpl(ids, skipSpecial, &bad);
  if (bad >= 0)
    return Status::error("token id " + std::to_string(ids[bad]) + " at position " + std::to_string(bad) +
                         " is not in the vocabulary (size " + std::to_string(size()) + ")");
  return text;
}

bool Tokenizer::canEncode() const { return impl_->encoderStatus.isOk(); }
const Status &Tokenizer::encoderStatus() const { return impl_->encoderStatus; }
const std::vector<int64_t> &Tokenizer::prefixIds() const { return impl_->prefix; }
const std::vector<int64_t> &Tokenizer::suffixIds() const { return impl_->suffix; }

Expected<std::vector<int64_t>> Tokenizer::encode(std::string_view input, bool addSpecialTokens) const {
  const Impl &m = *impl_;
  if (!m.encoderStatus) return m.encoderStatus;
  std::string repaired;
  std::string_view text = input;
  if (utf8::firstInvalid(input) != std::string_view::npos) {
    repaired = utf8::lossy(input);
    text = repaired;
  }
  // Added tokens: not-normalized ones on the raw text, then normalized ones
  // in the gaps (no normalizer: the same text).
  std::vector<TextSegment> raw, segments;
  QCC_RETURN_IF_ERROR(m.rawTokens->split(text, 0, text.size(), raw));
  for (const TextSegment &s : raw) {
    if (s.id >= 0) segments.push_back(s);
    else QCC_RETURN_IF_ERROR(m.normalizedTokens->split(text, s.begin, s.end, segments));
  }

  std::unique_lock<std::mutex> lock(m.cacheMutex, std::try_to_lock);
  Bpe::Cache *cache = lock.owns_lock() ? &m.cache : nullptr; // a concurrent caller goes without
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  for (const TextSegment &s : segments) {
    if (s.id >= 0) {
      ids.push_back(s.id);
      continue;
    }
    QCC_RETURN_IF_ERROR(m.preTokenizer->run(text.substr(s.begin, s.end - s.begin), [&](std::string_view piece) {
      m.bpe->tokenize(piece, ids, cache);
      return Status::ok();
    }));
  }
  std::vector<int64_t> out;
  out.reserve(ids.size() + m.prefix.size() + m.suffix.size());
  if (addSpecialTokens) out.insert(out.end(), m.prefix.begin(), m.prefix.end());
  out.insert(out.end(), ids.begin(), ids.end());
  if (addSpecialTokens) out.insert(out.end(), m.suffix.begin(), m.suffix.end());
  return out;
}

std::string DecodeStream::push(int64_t id) {
  if (!tokenizer_.token(id)) pending_ += "<unk:" + std::to_string(id) + ">";
  else if (!(skipSpecial_ && tokenizer_.isSpecial(id))) tokenizer_.appendTokenBytes(id, pending_);
  size_t complete = utf8::completePrefix(pending_);
  std::string text = utf8::lossy(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return text;
}

std::string DecodeStream::finish() {
  std::string text = utf8::lossy(pending_);
  pending_.clear();
  return text;
}

namespace {

// The encoder's parts that a file may use and qcc may not implement: each
// returns the error that makes canEncode() false.

Status parseModelOptions(const json::Value &model, const Tokenizer::Impl &m, Bpe::Options &options,
                         const std::string &file) {
  auto where = [&](const char *field) { return file + ": model." + field; };
  if (const json::Value *v = model.get("dropout"); !isNullOrAbsent(v))
    if (!v->isNumber() || v->asDouble() != 0)
      return Status::error(where("dropout") +
                           " is set: BPE dropout samples merges at random, qcc encodes deterministically");
  for (const char *field : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json::Value *v = model.get(field); !isNullOrAbsent(v))
      if (!v->isString() || !v->asString().empty())
        return Status::error(where(field) + " is not supported (byte-level BPE uses none)");
  if (const json::Value *v = model.get("byte_fallback"); !isNullOrAbsent(v))
    if (!v->isBool() || v->asBool()) return Status::error(where("byte_fallback") + " is not supported");
  if (const json::Value *v = model.get("ignore_merges"); !isNullOrAbsent(v)) {
    if (!v->isBool()) return Status::error(where("ignore_merges") + " is not a boolean");
    options.ignoreMerges = v->asBool();
  }
  if (const json::Value *v = model.get("fuse_unk"); !isNullOrAbsent(v)) {
    if (!v->isBool()) return Status::error(where("fuse_unk") + " is not a boolean");
    options.fuseUnk = v->asBool();
  }
  if (const json::Value *v = model.get("unk_token"); !isNullOrAbsent(v)) {
    if (!v->isString()) return Status::error(where("unk_token") + " is not a string");
    auto it = m.vocab.find(v->asString());
    if (it == m.vocab.end())
      return Status::error(where("unk_token") + " " + quoted(v->asString()) + " is not in the vocabulary");
    options.unkId = it->second;
  }
  return Status::ok();
}

// TemplateProcessing's `single` template: special tokens before and after $A.
Status parseTemplate(const json::Value &pp, const Tokenizer::Impl &m, const std::string &where,
                     std::vector<int64_t> &before, std::vector<int64_t> &after) {
  const json::Value *single = pp.get("single");
  const json::Value *specials = pp.get("special_tokens");
  if (!single || !single->isArray()) return Status::error(where + " has no 'single' array");
  if (!specials || !specials->isObject()) return Status::error(where + " has no 'special_tokens' object");
  bool seenA = false;
  for (size_t i = 0; i < single->elements().size(); ++i) {
    const json::Value &piece = single->elements()[i];
    std::string at = where + ".single[" + std::to_string(i) + "]";
    if (!piece.isObject() || piece.members().size() != 1 || !piece.members()[0].second.isObject())
      return Status::error(at + " is not {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    const std::string &kind = piece.members()[0].first;
    const json::Value *id = piece.members()[0].second.get("id");
    if (!id || !id->isString()) return Status::error(at + " has no string 'id'");
    if (kind == "Sequence") {
      if (id->asString() != "A" || seenA)
        return Status::error(at + ": a single-sequence template holds sequence A once (found '" +
                             id->asString() + "')");
      seenA = true;
      continue;
    }
    if (kind != "SpecialToken") return Status::error(at + ": '" + kind + "' is neither SpecialToken nor Sequence");
    const json::Value *entry = specials->get(id->asString());
    const json::Value *ids = entry && entry->isObject() ? entry->get("ids") : nullptr;
    if (!ids || !ids->isArray())
      return Status::error(at + ": special token " + quoted(id->asString()) + " has no 'ids' in special_tokens");
    for (const json::Value &v : ids->elements()) {
      if (!v.isInt64() || v.asInt64() < 0 || v.asInt64() >= static_cast<int64_t>(m.tokens.size()) ||
          !m.present[v.asInt64()])
        return Status::error(at + ": special token " + quoted(id->asString()) +
                             " has an id that is not in the vocabulary");
      (seenA ? after : before).push_back(v.asInt64());
    }
  }
  if (!seenA) return Status::error(where + ".single has no sequence A");
  return Status::ok();
}

Status parsePostProcessor(const json::Value &pp, const Tokenizer::Impl &m, const std::string &where,
                          std::vector<int64_t> &prefix, std::vector<int64_t> &suffix) {
  if (pp.isNull()) return Status::ok();
  const json::Value *type = pp.isObject() ? pp.get("type") : nullptr;
  if (!type || !type->isString()) return Status::error(where + " has no string 'type'");
  const std::string &t = type->asString();
  if (t == "ByteLevel") return Status::ok(); // offsets only
  if (t == "TemplateProcessing") {
    std::vector<int64_t> before, after;
    QCC_RETURN_IF_ERROR(parseTemplate(pp, m, where, before, after));
    // Applied after the processors before it: it wraps what they produced.
    prefix.insert(prefix.begin(), before.begin(), before.end());
    suffix.insert(suffix.end(), after.begin(), after.end());
    return Status::ok();
  }
  if (t == "Sequence") {
    const json::Value *list = pp.get("processors");
    if (!list || !list->isArray()) return Status::error(where + " (Sequence) has no 'processors' array");
    for (size_t i = 0; i < list->elements().size(); ++i)
      QCC_RETURN_IF_ERROR(parsePostProcessor(list->elements()[i], m, where + ".processors[" + std::to_string(i) + "]",
                                             prefix, suffix));
    return Status::ok();
  }
  return Status::error(where + ": post-processor '" + t +
                       "' is not supported (qcc implements TemplateProcessing, ByteLevel and Sequence)");
}

Status parseEncoder(const json::Value &root, const json::Value &model, Tokenizer::Impl &m, const std::string &file) {
  for (const char *field : {"truncation", "padding"})
    if (!isNullOrAbsent(root.get(field)))
      return Status::error(file + ": '" + field + "' is set; qcc does not truncate or pad when encoding");
  if (const json::Value *n = root.get("normalizer"); !isNullOrAbsent(n)) {
    const json::Value *type = n->isObject() ? n->get("type") : nullptr;
    const json::Value *list = n->isObject() ? n->get("normalizers") : nullptr;
    bool emptySequence = type && type->isString() && type->asString() == "Sequence" && list && list->isArray() &&
                         list->elements().empty();
    if (!emptySequence)
      return Status::error(file + ": normalizer '" +
                           (type && type->isString() ? type->asString() : std::string("?")) +
                           "' is not supported (qcc encodes with no normalizer, as Llama 3 does)");
  }
  Expected<PreTokenizer> pre = PreTokenizer::parse(root.get("pre_tokenizer"), file);
  if (!pre) return pre.status();
  if (!pre->mapsToBytes())
    return Status::error(file + ": the pre_tokenizer has no ByteLevel step; byte-level BPE needs one");
  m.preTokenizer = std::move(*pre);

  Bpe::Options options;
  QCC_RETURN_IF_ERROR(parseModelOptions(model, m, options, file));
  m.bpe->setOptions(options);
  if (options.unkId < 0)
    for (int b = 0; b < 256; ++b)
      if (!m.vocab.count(bytelevel::symbol(static_cast<uint8_t>(b)))) {
        static const char kHex[] = "0123456789ABCDEF";
        return Status::error(file + ": model.vocab has no symbol for byte 0x" +
                             std::string{kHex[b >> 4], kHex[b & 15]} +
                             " (" + quoted(bytelevel::symbol(static_cast<uint8_t>(b))) +
                             ") and there is no unk_token: text holding that byte cannot be encoded");
      }

  if (const json::Value *pp = root.get("post_processor"))
    QCC_RETURN_IF_ERROR(parsePostProcessor(*pp, m, file + ": post_processor", m.prefix, m.suffix));

  Expected<AddedTokenMatcher> raw = AddedTokenMatcher::build(m.added, /*normalizedOnes=*/false);
  if (!raw) return raw.status();
  Expected<AddedTokenMatcher> normalized = AddedTokenMatcher::build(m.added, /*normalizedOnes=*/true);
  if (!normalized) return normalized.status();
  m.rawTokens = std::move(*raw);
  m.normalizedTokens = std::move(*normalized);
  return Status::ok();
}

Expected<std::vector<std::pair<std::string, std::string>>> parseMerges(const json::Value *merges,
                                                                      const std::string &file) {
  if (!merges) return Status::error(file + ": model.merges is missing");
  if (!merges->isArray()) return Status::error(file + ": model.merges is not an array");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges->elements().size());
  for (size_t i = 0; i < merges->elements().size(); ++i) {
    const json::Value &e = merges->elements()[i];
    std::string where = file + ": model.merges[" + std::to_string(i) + "]";
    if (e.isString()) { // legacy "left right"
      const std::string &s = e.asString();
      if (s.rfind("#version", 0) == 0) continue;
      size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        return Status::error(where + " " + quoted(s) + " is not two tokens separated by one space");
      out.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (e.isArray() && e.elements().size() == 2 && e.elements()[0].isString() && e.elements()[1].isString()) {
      out.emplace_back(e.elements()[0].asString(), e.elements()[1].asString());
    } else {
      return Status::error(where + " is neither \"left right\" nor [\"left\", \"right\"]");
    }
  }
  return out;
}

} // namespace

Expected<Tokenizer> parseTokenizer(const std::string &jsonText, const std::string &file) {
  Expected<json::Value> root = json::parse(jsonText, file);
  if (!root) return root.status();
  if (!root->isObject()) return Status::error(file + ": top level is not an object");
  const json::Value *model = root->get("model");
  if (!model || !model->isObject()) return Status::error(file + ": no 'model' object");
  if (const json::Value *type = model->get("type"))
    if (!type->isString() || type->asString() != "BPE")
      return Status::error(file + ": model type " + (type->isString() ? quoted(type->asString()) : std::string("?")) +
                           " is not supported (qcc implements byte-level BPE)");
  const json::Value *vocab = model->get("vocab");
  if (!vocab || !vocab->isObject()) return Status::error(file + ": no 'model.vocab' object");
  const json::Value *decoder = root->get("decoder");
  if (!decoder || decoder->isNull()) return Status::error(file + ": no 'decoder'");
  QCC_RETURN_IF_ERROR(decoderIsByteLevel(*decoder, file));
  Expected<std::vector<std::pair<std::string, std::string>>> merges = parseMerges(model->get("merges"), file);
  if (!merges) return merges.status();

  Tokenizer tk;
  Tokenizer::Impl &m = *tk.impl_;
  auto checkId = [&](const json::Value &v, auto what) -> Expected<int64_t> {
    if (!v.isInt64() || v.asInt64() < 0 || v.asInt64() > kMaxTokenId)
      return Status::error(file + ": " + what() + " has an id that is not an integer in [0, " +
                           std::to_string(kMaxTokenId) + "]");
    return v.asInt64();
  };
  auto grow = [&](int64_t id) {
    if (id >= static_cast<int64_t>(m.tokens.size())) {
      m.tokens.resize(id + 1);
      m.present.resize(id + 1, false);
      m.special.resize(id + 1, false);
    }
  };
  // model.vocab. The map's keys view m.tokens, so it is built once the table is complete.
  for (const auto &[content, idValue] : vocab->members()) {
    Expected<int64_t> id = checkId(idValue, [&] { return "vocab entry " + quoted(content); });
    if (!id) return id.status();
    grow(*id);
    if (m.present[*id])
      return Status::error(file + ": id " + std::to_string(*id) + " is used by both " + quoted(m.tokens[*id]) +
                           " and " + quoted(content));
    m.tokens[*id] = content;
    m.present[*id] = true;
  }
  const int64_t vocabCount = static_cast<int64_t>(vocab->members().size());
  std::unordered_map<std::string_view, int64_t> vocabIds; // views the parsed JSON
  vocabIds.reserve(vocab->members().size());
  for (const auto &[content, idValue] : vocab->members()) vocabIds.emplace(content, idValue.asInt64());

  // added_tokens: `tokenizers` numbers each one itself (the vocabulary's id,
  // else the next after the vocabulary); a file saying otherwise is refused.
  int64_t nextAddedId = vocabCount;
  std::unordered_map<std::string, size_t> addedIndex;
  if (const json::Value *added = root->get("added_tokens"); !isNullOrAbsent(added)) {
    if (!added->isArray()) return Status::error(file + ": 'added_tokens' is not an array");
    for (size_t i = 0; i < added->elements().size(); ++i) {
      const json::Value &a = added->elements()[i];
      std::string what = "added_tokens[" + std::to_string(i) + "]";
      if (!a.isObject()) return Status::error(file + ": " + what + " is not an object");
      const json::Value *content = a.get("content"), *idv = a.get("id");
      if (!content || !content->isString()) return Status::error(file + ": " + what + " has no string 'content'");
      if (content->asString().empty()) return Status::error(file + ": " + what + " has an empty 'content'");
      if (!idv) return Status::error(file + ": " + what + " has no 'id'");
      Expected<int64_t> id = checkId(*idv, [&] { return what; });
      if (!id) return id.status();
      AddedToken t;
      t.content = content->asString();
      t.id = static_cast<int32_t>(*id);
      auto flag = [&](const char *name, bool fallback, bool *out) -> Status {
        const json::Value *v = a.get(name);
        if (isNullOrAbsent(v)) return (*out = fallback), Status::ok();
        if (!v->isBool()) return Status::error(file + ": " + what + "." + name + " is not a boolean");
        *out = v->asBool();
        return Status::ok();
      };
      QCC_RETURN_IF_ERROR(flag("special", false, &t.special));
      QCC_RETURN_IF_ERROR(flag("single_word", false, &t.singleWord));
      QCC_RETURN_IF_ERROR(flag("lstrip", false, &t.lstrip));
      QCC_RETURN_IF_ERROR(flag("rstrip", false, &t.rstrip));
      QCC_RETURN_IF_ERROR(flag("normalized", !t.special, &t.normalized));
      if (auto [it, fresh] = addedIndex.emplace(t.content, i); !fresh)
        return Status::error(file + ": " + what + " repeats the content " + quoted(t.content) + " of added_tokens[" +
                             std::to_string(it->second) + "]");
      auto inVocabAt = vocabIds.find(t.content);
      const bool inVocab = inVocabAt != vocabIds.end();
      const int64_t expected = inVocab ? inVocabAt->second : nextAddedId++;
      if (*id != expected)
        return Status::error(file + ": " + what + " " + quoted(t.content) + " has id " + std::to_string(*id) +
                             (inVocab ? ", but model.vocab gives it id " + std::to_string(expected)
                                      : ", but `tokenizers` numbers it " + std::to_string(expected) +
                                            " (added tokens outside model.vocab follow it in file order)"));
      if (!inVocab) {
        grow(*id);
        if (m.present[*id]) // a vocabulary with holes can hold the id `tokenizers` numbers it
          return Status::error(file + ": id " + std::to_string(*id) + " is used by both " + quoted(m.tokens[*id]) +
                               " and " + quoted(t.content));
        m.tokens[*id] = t.content;
        m.present[*id] = true;
      }
      m.special[*id] = t.special;
      m.added.push_back(std::move(t));
    }
  }
  if (m.tokens.empty()) return Status::error(file + ": the vocabulary is empty");

  m.vocab.reserve(vocab->members().size());
  for (const auto &[content, idValue] : vocab->members())
    m.vocab.emplace(m.tokens[idValue.asInt64()], static_cast<int32_t>(idValue.asInt64()));
  for (const AddedToken &t : m.added) m.addedIds.emplace(m.tokens[t.id], t.id);

  Expected<Bpe> bpe = Bpe::build(&m.vocab, *merges, file);
  if (!bpe) return bpe.status();
  m.bpe = std::move(*bpe);
  m.encoderStatus = parseEncoder(*root, *model, m, file);
  return tk;
}

Expected<Tokenizer> loadTokenizer(const std::string &path) {
  Expected<std::unique_ptr<MappedFile>> f = MappedFile::open(path);
  if (!f) return f.status();
  std::string text(reinterpret_cast<const char *>((*f)->data()), (*f)->size());
  return parseTokenizer(text, path);
}

} // namespace qcc
