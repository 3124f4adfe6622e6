#include "frontends/llama/TextData.h"

#include "frontends/llama/Utf8.h"
#include "support/MappedFile.h"

#include <algorithm>

namespace qcc {

bool isTextDataFile(const std::string &path) {
  return path.size() >= 4 && path.compare(path.size() - 4, 4, ".txt") == 0;
}

Expected<std::vector<std::vector<int64_t>>> textWindows(const Tokenizer &tokenizer, const std::string &text,
                                                        const std::string &name, int64_t windowLen,
                                                        int64_t maxWindows, int64_t bosId) {
  const int64_t body = bosId >= 0 ? windowLen - 1 : windowLen;
  if (body < 1) return Status::error(name + ": windows of " + std::to_string(windowLen) + " ids hold no text");
  bool onlyIds = true, anyDigit = false;
  for (char c : text) {
    bool digit = c >= '0' && c <= '9';
    anyDigit |= digit;
    if (!digit && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      onlyIds = false;
      break;
    }
  }
  if (onlyIds && anyDigit)
    return Status::error(name + ": holds only integers: it looks like a token-id file (those are read when the "
                                "name does not end in .txt)");
  if (size_t bad = utf8::firstInvalid(text); bad != std::string::npos)
    return Status::error(name + ": byte " + std::to_string(bad) + " is not valid UTF-8 (text files must be UTF-8)");
  Expected<std::vector<int64_t>> ids = tokenizer.encode(text, /*addSpecialTokens=*/false);
  if (!ids) return ids.status().withContext(name);
  std::vector<std::vector<int64_t>> windows;
  for (size_t at = 0; at < ids->size(); at += static_cast<size_t>(body)) {
    if (maxWindows > 0 && static_cast<int64_t>(windows.size()) == maxWindows) break;
    std::vector<int64_t> w;
    if (bosId >= 0) w.push_back(bosId);
    size_t end = std::min(ids->size(), at + static_cast<size_t>(body));
    w.insert(w.end(), ids->begin() + at, ids->begin() + end);
    windows.push_back(std::move(w));
  }
  if (windows.empty()) return Status::error(name + ": no text to tokenize");
  return windows;
}

Expected<std::vector<std::vector<int64_t>>> loadTextWindows(const Tokenizer &tokenizer, const std::string &path,
                                                            int64_t windowLen, int64_t maxWindows, int64_t bosId) {
  Expected<std::unique_ptr<MappedFile>> f = MappedFile::open(path);
  if (!f) return f.status();
  std::string text(reinterpret_cast<const char *>((*f)->data()), (*f)->size());
  return textWindows(tokenizer, text, path, windowLen, maxWindows, bosId);
}

} // namespace qcc
