#include "support/Hash.h"

#include <xxhash.h>

#include <cstdio>

namespace qcc {

struct ContentHasher::State {
  XXH3_state_t *xxh = XXH3_createState();
  ~State() { XXH3_freeState(xxh); }
};

ContentHasher::ContentHasher() : state_(std::make_unique<State>()) { XXH3_128bits_reset(state_->xxh); }
ContentHasher::~ContentHasher() = default;

void ContentHasher::update(const void *data, size_t size) {
  if (size) XXH3_128bits_update(state_->xxh, data, size);
}

void ContentHasher::updateU64(uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = uint8_t(v >> (8 * i));
  update(le, 8);
}

void ContentHasher::updateString(const std::string &s) {
  updateU64(s.size());
  update(s.data(), s.size());
}

static std::string hexOf(XXH128_hash_t h) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

std::string ContentHasher::hex() const { return hexOf(XXH3_128bits_digest(state_->xxh)); }

std::string contentHash(const void *data, size_t size) { return hexOf(XXH3_128bits(data, size)); }

} // namespace qcc
