// libFuzzer target: the artifact loader on arbitrary bytes. Every input must
// either load or return an error; ASan/UBSan turn any memory or UB fault into
// a finding.
#include "runtime/artifact/ArtifactFile.h"

#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Copy into 8-byte aligned memory, as an mmap would give.
  std::vector<uint64_t> storage(size / 8 + 1);
  if (size) std::memcpy(storage.data(), data, size);
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(storage.data());
  auto file = qcc::artifact::ArtifactFile::parse(bytes, size, "fuzz.qcc");
  if (!file) return 0;
  // Parsing validated the program and launch lists; touch every tensor byte range.
  volatile uint8_t sink = 0;
  for (const auto &t : (*file)->tensors()) {
    if (t.dataRange.size) sink ^= t.data[0] ^ t.data[t.dataRange.size - 1];
    if (t.scaleRange.size) sink ^= t.scales[0] ^ t.scales[t.scaleRange.size - 1];
  }
  (void)sink;
  return 0;
}
