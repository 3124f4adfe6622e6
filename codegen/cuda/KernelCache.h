// On-disk cache of compiled kernels (PTX + cubin + NVRTC log).
//
// Folder: the API argument, else $QCC_CACHE_DIR, else $XDG_CACHE_HOME/qcc,
// else $HOME/.cache/qcc, else /tmp/qcc-cache-<uid>. The folder is created
// private (0700) and used only when it is a real folder (not a symbolic
// link) owned by this user and not writable by anyone else; otherwise every
// lookup misses and every store fails saying why, so nobody else's files are
// ever read as kernels. One file per key: <dir>/<32 hex digits>.qck, written
// atomically (AtomicFileWriter), so readers never see a partial entry and
// several processes may store the same key at once (last rename wins; all
// writers hold identical bytes). Entry layout (little-endian):
//   "QCCKERN2"  u32 version=2  u32 0  char key[32]
//   u64 ptxBytes  u64 cubinBytes  u64 logBytes  ptx cubin log
//   char checksum[32]  (XXH3-128 of everything before it, hex)
// Keys and checksums are XXH3-128 (support/Hash.h), the artifact's hash. A
// missing, short, oversized (> kMaxEntryBytes), corrupt or other-key entry,
// or one that is not a regular file, is a miss (and is replaced on store).
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
  static constexpr uint64_t kMaxEntryBytes = uint64_t(256) << 20;

  explicit KernelCache(std::string dir = ""); // "" -> defaultKernelCacheDir()
  const std::string &dir() const { return dir_; }

  // 128-bit key (32 hex digits) of everything that determines the output.
  static std::string key(const std::string &source, const std::string &nvrtcVersion, const std::string &target,
                         const std::vector<std::string> &options);
  std::string pathFor(const std::string &key) const;

  std::optional<CacheEntry> lookup(const std::string &key) const;
  Status store(const std::string &key, const CacheEntry &entry) const;

  // Whether the folder may be used (see above); with `create`, makes it
  // (and missing parents) with mode 0700 first.
  Status checkFolder(bool create) const;

private:
  std::string dir_;
};

// FNV-1a 64: only the artifact's `source_hash` label of a kernel's source
// uses it; the cache's keys and checksums are XXH3-128.
uint64_t fnv1a64(const void *data, size_t n, uint64_t seed = 1469598103934665603ull);

} // namespace qcc::cuda
