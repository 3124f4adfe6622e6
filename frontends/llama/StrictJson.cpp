#include "frontends/llama/StrictJson.h"

#include "frontends/llama/Utf8.h"

#include <cmath>
#include <cstdlib>
#include <unordered_set>

namespace qcc::json {

const Value *Value::get(std::string_view key) const {
  for (const auto &m : object_)
    if (m.first == key) return &m.second;
  return nullptr;
}

const char *Value::kindName(Kind k) {
  switch (k) {
  case Kind::Null: return "null";
  case Kind::Bool: return "a boolean";
  case Kind::Number: return "a number";
  case Kind::String: return "a string";
  case Kind::Array: return "an array";
  case Kind::Object: return "an object";
  }
  return "?";
}

// Decodes one UTF-8 sequence at s[i]; returns its length (0 when invalid) and
// the code point. Rejects overlong forms, surrogates and values > U+10FFFF.
static size_t decodeUtf8(std::string_view s, size_t i, uint32_t *cp) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(i);
  if (b0 < 0x80) { *cp = b0; return 1; }
  size_t len;
  uint32_t c, min;
  if ((b0 & 0xE0) == 0xC0) { len = 2; c = b0 & 0x1F; min = 0x80; }
  else if ((b0 & 0xF0) == 0xE0) { len = 3; c = b0 & 0x0F; min = 0x800; }
  else if ((b0 & 0xF8) == 0xF0) { len = 4; c = b0 & 0x07; min = 0x10000; }
  else return 0;
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

bool isValidUtf8(std::string_view bytes, size_t *badOffset) {
  size_t i = 0;
  while (i < bytes.size()) {
    uint32_t cp;
    size_t n = decodeUtf8(bytes, i, &cp);
    if (n == 0) {
      if (badOffset) *badOffset = i;
      return false;
    }
    i += n;
  }
  return true;
}

// Recursive descent over the text; the first error wins and stops parsing.
class Parser {
public:
  Parser(std::string_view text, const std::string &fileName) : s_(text), file_(fileName) {}

  Expected<Value> run() {
    Value v;
    skipSpace();
    if (!parseValue(v, 0)) return Status::error(error_);
    skipSpace();
    if (pos_ != s_.size() && !failed()) fail("unexpected data after the top-level value");
    if (failed()) return Status::error(error_);
    return v;
  }

private:
  bool failed() const { return !error_.empty(); }
  bool fail(const std::string &what) {
    if (!failed())
      error_ = file_ + ": invalid JSON at byte " + std::to_string(pos_) + ": " + what;
    return false;
  }
  void skipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool atEnd() const { return pos_ >= s_.size(); }
  bool consumeWord(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return fail("unexpected character");
    pos_ += w.size();
    return true;
  }

  bool parseValue(Value &v, int depth) {
    if (atEnd()) return fail("unexpected end of input");
    char c = s_[pos_];
    switch (c) {
    case 'n': v.kind_ = Value::Kind::Null; return consumeWord("null");
    case 't': v.kind_ = Value::Kind::Bool; v.bool_ = true; return consumeWord("true");
    case 'f': v.kind_ = Value::Kind::Bool; v.bool_ = false; return consumeWord("false");
    case '"': v.kind_ = Value::Kind::String; return parseString(v.string_);
    case '[': return parseArray(v, depth + 1);
    case '{': return parseObject(v, depth + 1);
    default:
      if (c == '-' || (c >= '0' && c <= '9')) return parseNumber(v);
      return fail("unexpected character");
    }
  }

  bool parseArray(Value &v, int depth) {
    if (depth > kMaxDepth) return fail("nesting deeper than " + std::to_string(kMaxDepth));
    v.kind_ = Value::Kind::Array;
    ++pos_; // '['
    skipSpace();
    if (!atEnd() && s_[pos_] == ']') { ++pos_; return true; }
    for (;;) {
      skipSpace();
      v.array_.emplace_back();
      if (!parseValue(v.array_.back(), depth)) return false;
      skipSpace();
      if (atEnd()) return fail("unexpected end of input in an array");
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == ']') { ++pos_; return true; }
      return fail("expected ',' or ']'");
    }
  }

  bool parseObject(Value &v, int depth) {
    if (depth > kMaxDepth) return fail("nesting deeper than " + std::to_string(kMaxDepth));
    v.kind_ = Value::Kind::Object;
    ++pos_; // '{'
    skipSpace();
    if (!atEnd() && s_[pos_] == '}') { ++pos_; return checkDuplicates(v); }
    for (;;) {
      skipSpace();
      if (atEnd() || s_[pos_] != '"') return fail("expected a string key");
      std::string key;
      if (!parseString(key)) return false;
      skipSpace();
      if (atEnd() || s_[pos_] != ':') return fail("expected ':' after a key");
      ++pos_;
      skipSpace();
      v.object_.emplace_back(std::move(key), Value());
      if (!parseValue(v.object_.back().second, depth)) return false;
      skipSpace();
      if (atEnd()) return fail("unexpected end of input in an object");
      if (s_[pos_] == ',') { ++pos_; continue; }
      if (s_[pos_] == '}') { ++pos_; return checkDuplicates(v); }
      return fail("expected ',' or '}'");
    }
  }

  // Hashing keeps this linear for 128k-entry vocabularies.
  bool checkDuplicates(const Value &v) {
    const auto &members = v.object_;
    if (members.size() <= 8) {
      for (size_t i = 0; i < members.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (members[i].first == members[j].first)
            return fail("duplicate key '" + members[i].first + "'");
      return true;
    }
    std::unordered_set<std::string_view> seen;
    seen.reserve(members.size());
    for (const auto &m : members)
      if (!seen.insert(m.first).second) return fail("duplicate key '" + m.first + "'");
    return true;
  }

  bool parseHex4(uint32_t *out) {
    if (s_.size() - pos_ < 4) return fail("truncated \\u escape");
    uint32_t c = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[pos_ + k];
      c <<= 4;
      if (h >= '0' && h <= '9') c |= h - '0';
      else if (h >= 'a' && h <= 'f') c |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') c |= h - 'A' + 10;
      else return fail("bad hex digit in \\u escape");
    }
    pos_ += 4;
    *out = c;
    return true;
  }

  bool parseString(std::string &out) {
    ++pos_; // opening quote
    for (;;) {
      if (atEnd()) return fail("unterminated string");
      uint8_t c = static_cast<uint8_t>(s_[pos_]);
      if (c == '"') { ++pos_; return true; }
      if (c < 0x20) return fail("control character in a string");
      if (c == '\\') {
        ++pos_;
        if (atEnd()) return fail("unterminated string");
        char e = s_[pos_++];
        switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!parseHex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("unpaired surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (s_.substr(pos_, 2) != "\\u") return fail("unpaired surrogate in \\u escape");
            pos_ += 2;
            if (!parseHex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8::append(out, cp);
          break;
        }
        default: --pos_; return fail("bad escape in a string");
        }
        continue;
      }
      if (c < 0x80) { // plain ASCII: the common case
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      uint32_t cp = 0;
      size_t n = decodeUtf8(s_, pos_, &cp);
      if (n == 0) return fail("invalid UTF-8");
      out.append(s_.data() + pos_, n);
      pos_ += n;
    }
  }

  bool parseNumber(Value &v) {
    v.kind_ = Value::Kind::Number;
    size_t start = pos_;
    bool negative = false;
    if (s_[pos_] == '-') { negative = true; ++pos_; }
    auto isDigit = [&](size_t k) { return k < s_.size() && s_[k] >= '0' && s_[k] <= '9'; };
    if (!isDigit(pos_)) return fail("bad number");
    // Integer part: exact uint64 magnitude while it fits.
    bool overflow = false;
    uint64_t mag = 0;
    if (s_[pos_] == '0') {
      ++pos_;
      if (isDigit(pos_)) return fail("leading zero in a number");
    } else {
      while (isDigit(pos_)) {
        uint64_t d = static_cast<uint64_t>(s_[pos_] - '0');
        if (mag > (UINT64_MAX - d) / 10) overflow = true;
        else mag = mag * 10 + d;
        ++pos_;
      }
    }
    bool integer = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integer = false;
      ++pos_;
      if (!isDigit(pos_)) return fail("bad number");
      while (isDigit(pos_)) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integer = false;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!isDigit(pos_)) return fail("bad number");
      while (isDigit(pos_)) ++pos_;
    }
    std::string token(s_.substr(start, pos_ - start));
    v.double_ = std::strtod(token.c_str(), nullptr);
    if (!std::isfinite(v.double_)) return fail("number out of range");
    v.isInteger_ = integer && !overflow;
    v.negative_ = negative;
    if (v.isInteger_) {
      if (!negative) {
        v.uint64_ = mag;
        v.fitsInt64_ = mag <= static_cast<uint64_t>(INT64_MAX);
        v.int64_ = v.fitsInt64_ ? static_cast<int64_t>(mag) : 0;
      } else {
        v.fitsInt64_ = mag <= static_cast<uint64_t>(INT64_MAX) + 1;
        if (v.fitsInt64_)
          v.int64_ = mag == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN
                                                                  : -static_cast<int64_t>(mag);
      }
    }
    return true;
  }

  std::string_view s_;
  const std::string &file_;
  size_t pos_ = 0;
  std::string error_;
};

Expected<Value> parse(std::string_view text, const std::string &fileName) {
  if (text.size() >= 3 && static_cast<uint8_t>(text[0]) == 0xEF &&
      static_cast<uint8_t>(text[1]) == 0xBB && static_cast<uint8_t>(text[2]) == 0xBF)
    return Status::error(fileName + ": invalid JSON at byte 0: byte order mark is not allowed");
  return Parser(text, fileName).run();
}

} // namespace qcc::json
