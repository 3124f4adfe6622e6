#include "frontends/llama/TokenIds.h"

#include "support/Limits.h"
#include "support/MappedFile.h"

namespace qcc {

namespace {

// A file that is not a token-id file is most likely text under another name.
const char kTextHint[] = "; a text file is tokenized only when its name ends in .txt";

Expected<std::vector<std::vector<int64_t>>> parseLines(const std::string &text, const std::string &name,
                                                       int64_t vocabSize, const char *badTokenHint) {
  std::vector<std::vector<int64_t>> lines;
  std::vector<int64_t> current;
  size_t lineNo = 1, i = 0, n = text.size();
  auto where = [&] { return name + ":" + std::to_string(lineNo) + ": "; };
  while (i < n) {
    char c = text[i];
    if (c == '\n') {
      if (!current.empty()) lines.push_back(std::move(current));
      current.clear();
      ++lineNo;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') { ++i; continue; }
    // One whitespace-delimited token: digits only, no overflow.
    size_t start = i;
    while (i < n && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r' ||
                      text[i] == '\v' || text[i] == '\f'))
      ++i;
    std::string tok = text.substr(start, i - start);
    bool ok = tok.size() <= 18;
    int64_t v = 0;
    for (char d : tok) {
      if (d < '0' || d > '9') ok = false;
      else v = v * 10 + (d - '0');
      if (!ok) break;
    }
    if (!ok) {
      std::string shown = tok.size() > 40 ? tok.substr(0, 40) + "..." : tok;
      return Status::error(where() + "bad token '" + shown + "' (expected a non-negative integer below 10^18" +
                           badTokenHint + ")");
    }
    if (vocabSize >= 0 && v >= vocabSize)
      return Status::error(where() + "token id " + tok + " is outside the vocabulary [0, " +
                           std::to_string(vocabSize) + ")");
    current.push_back(v);
  }
  if (!current.empty()) lines.push_back(std::move(current));
  return lines;
}

} // namespace

Expected<std::vector<std::vector<int64_t>>> parseTokenIdLines(const std::string &text, const std::string &name,
                                                              int64_t vocabSize) {
  return parseLines(text, name, vocabSize, "");
}

Expected<std::vector<int64_t>> parseTokenIds(const std::string &text, const std::string &name,
                                             int64_t vocabSize) {
  Expected<std::vector<std::vector<int64_t>>> lines = parseTokenIdLines(text, name, vocabSize);
  if (!lines) return lines.status();
  std::vector<int64_t> all;
  for (const auto &l : *lines) all.insert(all.end(), l.begin(), l.end());
  return all;
}

static Expected<std::string> readText(const std::string &path) {
  Expected<std::unique_ptr<MappedFile>> f = MappedFile::open(path, kMaxTokenIdFileBytes, "token-id file");
  if (!f) return f.status();
  // The text, then up to one 8-byte id per 2 bytes of it.
  QCC_RETURN_IF_ERROR(limits::checkFitsInMemory(limits::saturatingProduct({(*f)->size(), 5}), path + ": its ids"));
  return std::string(reinterpret_cast<const char *>((*f)->data()), (*f)->size());
}

Expected<std::vector<std::vector<int64_t>>> readTokenIdLines(const std::string &path,
                                                             int64_t vocabSize) {
  Expected<std::string> text = readText(path);
  if (!text) return text.status();
  return parseLines(*text, path, vocabSize, kTextHint);
}

Expected<std::vector<int64_t>> readTokenIds(const std::string &path, int64_t vocabSize) {
  Expected<std::vector<std::vector<int64_t>>> lines = readTokenIdLines(path, vocabSize);
  if (!lines) return lines.status();
  std::vector<int64_t> all;
  for (const auto &l : *lines) all.insert(all.end(), l.begin(), l.end());
  return all;
}

} // namespace qcc
