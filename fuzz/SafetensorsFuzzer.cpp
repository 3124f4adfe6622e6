// libFuzzer target: the safetensors reader on arbitrary bytes. Every input
// must load or fail with an error; a loaded file's tensors must lie inside
// the input (touched at both ends, so ASan sees any escape).
#include "frontends/llama/Safetensors.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size); // exactly `size` bytes: reads past it are ASan findings
  auto file = qcc::SafetensorsFile::parse(bytes.data(), bytes.size(), "fuzz.safetensors");
  if (!file) {
    if (file.message().empty()) std::abort(); // every error says something
    return 0;
  }
  volatile uint8_t sink = 0;
  for (const std::string &name : (*file)->names()) {
    const qcc::TensorRef *t = (*file)->find(name);
    if (!t) std::abort();
    const size_t n = t->byteSize();
    const uint8_t *p = static_cast<const uint8_t *>(t->data);
    if (n) sink ^= p[0] ^ p[n - 1];
    if (n && (p < bytes.data() || p + n > bytes.data() + bytes.size())) std::abort();
  }
  (void)sink;
  return 0;
}
