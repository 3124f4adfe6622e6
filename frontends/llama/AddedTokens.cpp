#include "frontends/llama/AddedTokens.h"

#include <algorithm>

namespace qcc {

namespace {

// Start of the character that ends at `end` (which is > 0).
size_t previousCharStart(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

size_t charLength(std::string_view s, size_t i) {
  uint8_t b = static_cast<uint8_t>(s[i]);
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

} // namespace

Expected<AddedTokenMatcher> AddedTokenMatcher::build(const std::vector<AddedToken> &tokens, bool normalizedOnes) {
  AddedTokenMatcher m;
  m.nodes_.emplace_back(); // the root
  for (const AddedToken &t : tokens) {
    if (t.normalized != normalizedOnes || t.content.empty()) continue;
    int32_t node = 0;
    for (char c : t.content) {
      uint8_t b = static_cast<uint8_t>(c);
      int32_t next = m.child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(m.nodes_.size());
        m.nodes_[node].children.emplace_back(b, next);
        m.nodes_.emplace_back();
      }
      node = next;
    }
    m.nodes_[node].token = static_cast<int32_t>(m.tokens_.size());
    m.firstByte_[static_cast<uint8_t>(t.content[0])] = true;
    m.tokens_.push_back(t);
  }
  // Rust regex's Unicode \w and \s (what AddedVocabulary checks with).
  Expected<Regex> word =
      Regex::compileNative("[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]", "added-token word check");
  if (!word) return word.status();
  Expected<Regex> space = Regex::compileNative("\\p{White_Space}", "added-token space check");
  if (!space) return space.status();
  m.word_ = std::move(*word);
  m.space_ = std::move(*space);
  return m;
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t byte) const {
  for (const auto &[b, next] : nodes_[node].children)
    if (b == byte) return next;
  return -1;
}

Status AddedTokenMatcher::split(std::string_view text, size_t begin, size_t end,
                                std::vector<TextSegment> &out) const {
  if (tokens_.empty()) {
    if (end > begin) out.push_back({begin, end, -1});
    return Status::ok();
  }
  const std::string_view s = text.substr(begin, end - begin); // offsets below are relative to s
  auto isWordAt = [&](size_t i) -> Expected<bool> { return word_.matchesAt(s, i); };
  auto isSpaceAt = [&](size_t i) -> Expected<bool> { return space_.matchesAt(s, i); };
  size_t startOffset = 0, pos = 0;
  while (pos < s.size()) {
    // Leftmost-longest match at or after pos.
    size_t matchBegin = s.size(), matchEnd = 0;
    int32_t token = -1;
    for (size_t i = pos; i < s.size() && token < 0; ++i) {
      if (!firstByte_[static_cast<uint8_t>(s[i])]) continue;
      int32_t node = 0;
      for (size_t k = i; k < s.size(); ++k) {
        node = child(node, static_cast<uint8_t>(s[k]));
        if (node < 0) break;
        if (nodes_[node].token >= 0) token = nodes_[node].token, matchBegin = i, matchEnd = k + 1;
      }
    }
    if (token < 0) break;
    pos = matchEnd;
    const AddedToken &t = tokens_[token];
    size_t start = matchBegin, stop = matchEnd;
    if (t.singleWord) {
      bool spaceBefore = true, spaceAfter = true;
      if (start > 0) {
        Expected<bool> w = isWordAt(previousCharStart(s, start));
        if (!w) return w.status();
        spaceBefore = !*w;
      }
      if (stop < s.size()) {
        Expected<bool> w = isWordAt(stop);
        if (!w) return w.status();
        spaceAfter = !*w;
      }
      if (!spaceBefore || !spaceAfter) continue;
    }
    if (t.lstrip) {
      size_t newStart = start;
      while (newStart > 0) {
        size_t p = previousCharStart(s, newStart);
        Expected<bool> sp = isSpaceAt(p);
        if (!sp) return sp.status();
        if (!*sp) break;
        newStart = p;
      }
      start = std::max(newStart, startOffset); // spaces another match took stay there
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        Expected<bool> sp = isSpaceAt(stop);
        if (!sp) return sp.status();
        if (!*sp) break;
        stop += charLength(s, stop);
      }
    }
    if (startOffset < start) out.push_back({begin + startOffset, begin + start, -1});
    out.push_back({begin + start, begin + stop, t.id});
    startOffset = stop;
  }
  if (startOffset < s.size()) out.push_back({begin + startOffset, end, -1});
  return Status::ok();
}

} // namespace qcc
