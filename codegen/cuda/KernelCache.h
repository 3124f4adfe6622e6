// On-disk cache of compiled kernels (PTX + cubin + NVRTC log).
//
// Directory: the API argument, else $QCC_CACHE_DIR, else $XDG_CACHE_HOME/qcc,
// else ~/.cache/qcc. One file per key: <dir>/<32 hex digits>.qck, written to a
// temporary file and renamed into place, so readers never see a partial entry
// and several processes may store the same key at once (last rename wins; all
// writers hold identical bytes). Entry layout (little-endian):
//   "QCCKERN1"  u32 version=1  u32 0  char key[32]
//   u64 ptxBytes  u64 cubinBytes  u64 logBytes  ptx cubin log
//   u64 checksum (FNV-1a 64 of everything before it)
// A missing, short, corrupt or other-key entry is a miss (and is replaced on store).
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qcc::cuda {

std::string defaultKernelCacheDir();

struct CacheEntry {
  std::string ptx;
  std::vector<uint8_t> cubin;
  std::string log;
};

class KernelCache {
public:
  explicit KernelCache(std::string dir = ""); // "" -> defaultKernelCacheDir()
  const std::string &dir() const { return dir_; }

  // 128-bit key (32 hex digits) of everything that determines the output.
  static std::string key(const std::string &source, const std::string &nvrtcVersion, const std::string &target,
                         const std::vector<std::string> &options);
  std::string pathFor(const std::string &key) const;

  std::optional<CacheEntry> lookup(const std::string &key) const;
  Status store(const std::string &key, const CacheEntry &entry) const;

private:
  std::string dir_;
};

uint64_t fnv1a64(const void *data, size_t n, uint64_t seed = 1469598103934665603ull);

} // namespace qcc::cuda
