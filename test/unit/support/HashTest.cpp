// XXH3-128 against digests from the Python `xxhash` package (an independent
// implementation of the same specification):
//   python3 -c "import xxhash; print(xxhash.xxh3_128_hexdigest(b'qcc'))"
#include "support/Hash.h"

#include <gtest/gtest.h>

#include <vector>

namespace qcc {
namespace {

TEST(HashTest, MatchesReferenceDigests) {
  EXPECT_EQ(contentHash("", 0), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(contentHash("qcc", 3), "701ece438f57b450fb0f7ffa692eadfa");
  std::vector<unsigned char> bytes;
  for (int r = 0; r < 5; ++r)
    for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<unsigned char>(i));
  EXPECT_EQ(contentHash(bytes.data(), bytes.size()), "d92ab3a1cb0542a74844b009e164352e");
}

TEST(HashTest, StreamingEqualsOneShot) {
  std::vector<unsigned char> bytes(10000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 7 + 3);
  ContentHasher h;
  h.update(bytes.data(), 1);
  h.update(bytes.data() + 1, 4095);
  h.update(bytes.data() + 4096, bytes.size() - 4096);
  EXPECT_EQ(h.hex(), contentHash(bytes.data(), bytes.size()));
}

TEST(HashTest, StringsAreLengthPrefixed) {
  ContentHasher a, b;
  a.updateString("ab");
  a.updateString("c");
  b.updateString("a");
  b.updateString("bc");
  EXPECT_NE(a.hex(), b.hex());
}

} // namespace
} // namespace qcc
