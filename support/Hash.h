// Content hashes of qcc: XXH3-128 (libxxhash, Debian's libxxhash-dev), written
// as 32 lowercase hex digits. Fast enough to hash every weight of a model as
// it is read (several GB/s per core) and collision-resistant for content
// addressing; not a defence against a deliberate forger.
//
//   std::string h = contentHash(bytes, n);            // one buffer
//   ContentHasher hasher; hasher.update(a, n); ...    // streamed
//   std::string h2 = hasher.hex();
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace qcc {

class ContentHasher {
public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher &) = delete;
  ContentHasher &operator=(const ContentHasher &) = delete;

  void update(const void *data, size_t size);
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
  void updateString(const std::string &s);
  void updateU64(uint64_t v);
  // The digest of everything updated so far (the hasher stays usable).
  std::string hex() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

// XXH3-128 of one buffer, 32 hex digits.
std::string contentHash(const void *data, size_t size);

} // namespace qcc
