#include "frontends/llama/Tokenizer.h"

#include "frontends/llama/StrictJson.h"
#include "support/MappedFile.h"

#include <unordered_map>

namespace qcc {

namespace {

// Ids above this are refused: the id table is dense, and real vocabularies
// are below 300k.
constexpr int64_t kMaxTokenId = (1 << 24) - 1;

// GPT-2 bytes_to_unicode: printable Latin-1 bytes stand for themselves, the
// other 68 bytes map in order to U+0100, U+0101, ...
struct ByteTable {
  uint32_t toUnicode[256];
  std::unordered_map<uint32_t, uint8_t> toByte;
  ByteTable() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      toUnicode[b] = printable ? static_cast<uint32_t>(b) : next++;
      toByte[toUnicode[b]] = static_cast<uint8_t>(b);
    }
  }
};

const ByteTable &byteTable() {
  static const ByteTable table;
  return table;
}

// Decodes one well-formed UTF-8 code point from a string we know is valid
// (tokenizer.json strings passed the strict parser).
uint32_t nextCodePoint(const std::string &s, size_t *i) {
  uint8_t b0 = static_cast<uint8_t>(s[*i]);
  size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<uint8_t>(s[*i + k]) & 0x3F);
  *i += len;
  return cp;
}

// Bytes -> valid UTF-8, replacing each maximal invalid subpart with U+FFFD
// (the rule Rust's String::from_utf8_lossy and Python's "replace" follow).
std::string utf8Lossy(const std::string &in) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  size_t i = 0, n = in.size();
  auto at = [&](size_t k) { return static_cast<uint8_t>(in[k]); };
  while (i < n) {
    uint8_t b0 = at(i);
    if (b0 < 0x80) { out += static_cast<char>(b0); ++i; continue; }
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF) { len = 3; if (b0 == 0xE0) lo = 0xA0; if (b0 == 0xED) hi = 0x9F; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { len = 4; if (b0 == 0xF0) lo = 0x90; if (b0 == 0xF4) hi = 0x8F; }
    size_t k = 1;
    if (len > 0) {
      while (k < len && i + k < n) {
        uint8_t b = at(i + k);
        bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) break;
        ++k;
      }
    }
    if (len > 0 && k == len) out.append(in, i, len);
    else out += kReplacement;
    i += k;
  }
  return out;
}

Status decoderIsByteLevel(const json::Value &d, const std::string &file) {
  if (!d.isObject()) return Status::error(file + ": 'decoder' is not an object");
  const json::Value *type = d.get("type");
  if (!type || !type->isString()) return Status::error(file + ": 'decoder' has no type");
  if (type->asString() == "ByteLevel") return Status::ok();
  if (type->asString() == "Sequence") {
    const json::Value *ds = d.get("decoders");
    if (ds && ds->isArray())
      for (const json::Value &e : ds->elements())
        if (e.isObject() && e.get("type") && e.get("type")->isString() &&
            e.get("type")->asString() == "ByteLevel")
          return Status::ok();
  }
  return Status::error(file + ": decoder '" + type->asString() +
                       "' is not supported (only byte-level BPE)");
}

} // namespace

uint32_t byteToUnicode(uint8_t b) { return byteTable().toUnicode[b]; }

const std::string *Tokenizer::token(int64_t id) const {
  if (id < 0 || id >= size() || !present_[id]) return nullptr;
  return &tokens_[id];
}

bool Tokenizer::isSpecial(int64_t id) const { return token(id) && special_[id]; }

std::string Tokenizer::decodeImpl(const std::vector<int64_t> &ids, bool skipSpecial,
                                  int64_t *badIndex) const {
  const ByteTable &table = byteTable();
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string *tok = token(ids[i]);
    if (!tok) {
      if (badIndex && *badIndex < 0) *badIndex = static_cast<int64_t>(i);
      bytes += "<unk:" + std::to_string(ids[i]) + ">";
      continue;
    }
    if (skipSpecial && special_[ids[i]]) continue;
    // Map every character back to its byte; any stranger keeps the token raw.
    std::string mapped;
    bool allMapped = true;
    for (size_t k = 0; k < tok->size() && allMapped;) {
      auto it = table.toByte.find(nextCodePoint(*tok, &k));
      if (it == table.toByte.end()) allMapped = false;
      else mapped += static_cast<char>(it->second);
    }
    bytes += allMapped ? mapped : *tok;
  }
  return utf8Lossy(bytes);
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids, bool skipSpecial) const {
  return decodeImpl(ids, skipSpecial, nullptr);
}

Expected<std::string> Tokenizer::decodeChecked(const std::vector<int64_t> &ids,
                                               bool skipSpecial) const {
  int64_t bad = -1;
  std::string text = decodeImpl(ids, skipSpecial, &bad);
  if (bad >= 0)
    return Status::error("token id " + std::to_string(ids[bad]) + " at position " +
                         std::to_string(bad) + " is not in the vocabulary (size " +
                         std::to_string(size()) + ")");
  return text;
}

Expected<Tokenizer> parseTokenizer(const std::string &jsonText, const std::string &file) {
  Expected<json::Value> root = json::parse(jsonText, file);
  if (!root) return root.status();
  if (!root->isObject()) return Status::error(file + ": top level is not an object");
  const json::Value *model = root->get("model");
  if (!model || !model->isObject()) return Status::error(file + ": no 'model' object");
  if (const json::Value *type = model->get("type"))
    if (!type->isString() || type->asString() != "BPE")
      return Status::error(file + ": model type is not BPE");
  const json::Value *vocab = model->get("vocab");
  if (!vocab || !vocab->isObject()) return Status::error(file + ": no 'model.vocab' object");
  const json::Value *decoder = root->get("decoder");
  if (!decoder || decoder->isNull()) return Status::error(file + ": no 'decoder'");
  QCC_RETURN_IF_ERROR(decoderIsByteLevel(*decoder, file));

  Tokenizer tk;
  auto put = [&](int64_t id, const std::string &text, bool special, bool added) -> Status {
    if (id >= static_cast<int64_t>(tk.tokens_.size())) {
      tk.tokens_.resize(id + 1);
      tk.present_.resize(id + 1, false);
      tk.special_.resize(id + 1, false);
    }
    if (tk.present_[id] && !added)
      return Status::error(file + ": id " + std::to_string(id) + " is used by both '" +
                           tk.tokens_[id] + "' and '" + text + "'");
    tk.tokens_[id] = text;
    tk.present_[id] = true;
    tk.special_[id] = special;
    return Status::ok();
  };
  auto checkId = [&](const json::Value &v, const std::string &what) -> Expected<int64_t> {
    if (!v.isInt64() || v.asInt64() < 0 || v.asInt64() > kMaxTokenId)
      return Status::error(file + ": " + what + " has an id that is not an integer in [0, " +
                           std::to_string(kMaxTokenId) + "]");
    return v.asInt64();
  };
  for (const auto &m : vocab->members()) {
    Expected<int64_t> id = checkId(m.second, "vocab entry '" + m.first + "'");
    if (!id) return id.status();
    QCC_RETURN_IF_ERROR(put(*id, m.first, false, false));
  }
  // Added tokens override the vocabulary (special tokens often appear in both).
  if (const json::Value *added = root->get("added_tokens")) {
    if (!added->isArray()) return Status::error(file + ": 'added_tokens' is not an array");
    for (size_t i = 0; i < added->elements().size(); ++i) {
      const json::Value &a = added->elements()[i];
      std::string what = "added_tokens[" + std::to_string(i) + "]";
      if (!a.isObject()) return Status::error(file + ": " + what + " is not an object");
      const json::Value *content = a.get("content"), *idv = a.get("id"), *sp = a.get("special");
      if (!content || !content->isString())
        return Status::error(file + ": " + what + " has no string 'content'");
      if (!idv) return Status::error(file + ": " + what + " has no 'id'");
      Expected<int64_t> id = checkId(*idv, what);
      if (!id) return id.status();
      QCC_RETURN_IF_ERROR(put(*id, content->asString(), sp && sp->isBool() && sp->asBool(), true));
    }
  }
  if (tk.tokens_.empty()) return Status::error(file + ": the vocabulary is empty");
  return tk;
}

Expected<Tokenizer> loadTokenizer(const std::string &path) {
  Expected<std::unique_ptr<MappedFile>> f = MappedFile::open(path);
  if (!f) return f.status();
  std::string text(reinterpret_cast<const char *>((*f)->data()), (*f)->size());
  return parseTokenizer(text, path);
}

} // namespace qcc
