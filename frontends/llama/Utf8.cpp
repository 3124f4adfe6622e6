#include "frontends/llama/Utf8.h"

namespace qcc::utf8 {

namespace {

const char kReplacement[] = "\xEF\xBF\xBD"; // U+FFFD

// The sequence at s[i]: its expected length (0 for a byte that cannot start
// one) and how many of its bytes are present and valid. A sequence is
// well-formed when valid == length; truncated when valid == the bytes left
// before the end and < length; else invalid after `valid` bytes.
struct Sequence {
  size_t length = 0, valid = 0;
};

Sequence scan(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = at(i);
  if (b0 < 0x80) return {1, 1};
  Sequence q;
  uint8_t lo = 0x80, hi = 0xBF; // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) q.length = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    q.length = 3;
    if (b0 == 0xE0) lo = 0xA0; // no overlong forms
    if (b0 == 0xED) hi = 0x9F; // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    q.length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F; // nothing above U+10FFFF
  } else {
    return {0, 1}; // never a lead byte: one invalid byte
  }
  q.valid = 1;
  while (q.valid < q.length && i + q.valid < s.size()) {
    uint8_t b = at(i + q.valid);
    bool ok = q.valid == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
    ++q.valid;
  }
  return q;
}

} // namespace

std::string lossy(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    Sequence q = scan(in, i);
    if (q.length != 0 && q.valid == q.length) out.append(in.data() + i, q.length);
    else out += kReplacement;
    i += q.valid;
  }
  return out;
}

size_t firstInvalid(std::string_view in) {
  size_t i = 0;
  while (i < in.size()) {
    // ASCII runs are the common case.
    if (static_cast<uint8_t>(in[i]) < 0x80) {
      ++i;
      continue;
    }
    Sequence q = scan(in, i);
    if (q.length == 0 || q.valid != q.length) return i;
    i += q.length;
  }
  return std::string_view::npos;
}

size_t completePrefix(std::string_view in) {
  // Only the last three bytes can hold an incomplete sequence; find a lead
  // byte there whose sequence runs validly into the end.
  size_t from = in.size() > 3 ? in.size() - 3 : 0;
  for (size_t i = from; i < in.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(in[i]);
    if (b < 0xC2 || b > 0xF4) continue;
    Sequence q = scan(in, i);
    if (q.valid < q.length && i + q.valid == in.size()) return i;
  }
  return in.size();
}

size_t decode(std::string_view s, size_t i, uint32_t *cp) {
  uint8_t b0 = static_cast<uint8_t>(s[i]);
  size_t len = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  uint32_t c = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < len; ++k) c = (c << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  *cp = c;
  return len;
}

void append(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

} // namespace qcc::utf8
