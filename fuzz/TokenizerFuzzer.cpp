// libFuzzer target: the tokenizer.json loader on arbitrary text (what
// `qcc compile` validates before embedding and `qcc run` decodes with).
// Every input must load or fail with an error; a loaded tokenizer decodes
// every id, and out-of-range ones, without faults.
#include "frontends/llama/Tokenizer.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  auto tokenizer = qcc::parseTokenizer(text, "tokenizer.json");
  if (!tokenizer) {
    if (tokenizer.message().empty()) std::abort();
    return 0;
  }
  std::vector<int64_t> ids = {-1, tokenizer->size(), tokenizer->size() + 1000};
  for (int64_t i = 0; i < tokenizer->size() && i < 4096; ++i) ids.push_back(i);
  (void)tokenizer->decode(ids, /*skipSpecial=*/false);
  (void)tokenizer->decode(ids, /*skipSpecial=*/true);
  (void)tokenizer->decodeChecked(ids);
  return 0;
}
