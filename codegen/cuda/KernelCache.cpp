#include "codegen/cuda/KernelCache.h"
#include "support/Hash.h"
#include "support/MappedFile.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace qcc::cuda {

static constexpr char kMagic[8] = {'Q', 'C', 'C', 'K', 'E', 'R', 'N', '2'};
static constexpr uint32_t kVersion = 2;
static constexpr size_t kHeader = 8 + 4 + 4 + 32 + 3 * 8;
static constexpr size_t kChecksum = 32;

uint64_t fnv1a64(const void *data, size_t n, uint64_t h) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string defaultKernelCacheDir() {
  if (const char *d = std::getenv("QCC_CACHE_DIR"); d && *d) return d;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/qcc";
  if (const char *h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/qcc";
  // A per-user name in the shared /tmp; checkFolder() refuses it unless it
  // is this user's own private folder.
  return "/tmp/qcc-cache-" + std::to_string(::geteuid());
}

KernelCache::KernelCache(std::string dir) : dir_(dir.empty() ? defaultKernelCacheDir() : std::move(dir)) {}

std::string KernelCache::key(const std::string &source, const std::string &nvrtcVersion, const std::string &target,
                             const std::vector<std::string> &options) {
  ContentHasher h; // length-prefixed fields: ("ab","c") and ("a","bc") differ
  h.updateString("qcc-kernel-cache-2");
  h.updateString(source);
  h.updateString(nvrtcVersion);
  h.updateString(target);
  for (const std::string &o : options) h.updateString(o);
  return h.hex();
}

std::string KernelCache::pathFor(const std::string &key) const { return dir_ + "/" + key + ".qck"; }

static uint64_t readU64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

Status KernelCache::checkFolder(bool create) const {
  const std::string what = "kernel cache " + dir_;
  if (dir_.empty()) return Status::error("kernel cache: no folder");
  if (create) {
    // mkdir -p, private: every folder this creates is 0700.
    for (size_t i = 1; i <= dir_.size(); ++i) {
      if (i < dir_.size() && dir_[i] != '/') continue;
      const std::string part = dir_.substr(0, i);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
        return Status::error(what + ": cannot create " + part + ": " + std::strerror(errno));
    }
  }
  struct stat st;
  if (::lstat(dir_.c_str(), &st) != 0) return Status::error(what + ": " + std::strerror(errno));
  if (S_ISLNK(st.st_mode))
    return Status::error(what + ": is a symbolic link; the cache folder must be a real folder (set QCC_CACHE_DIR "
                                "to the folder itself)");
  if (!S_ISDIR(st.st_mode)) return Status::error(what + ": is " + std::string(fileTypeName(st.st_mode)) + ", not a folder");
  if (st.st_uid != ::geteuid())
    return Status::error(what + ": is owned by user " + std::to_string(st.st_uid) + ", not by this user (" +
                         std::to_string(::geteuid()) + "); not used");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Status::error(what + ": is writable by other users; not used (chmod 700 it)");
  return Status::ok();
}

std::optional<CacheEntry> KernelCache::lookup(const std::string &key) const {
  if (key.size() != 32 || !checkFolder(/*create=*/false)) return std::nullopt;
  Expected<std::unique_ptr<MappedFile>> f = MappedFile::open(pathFor(key), kMaxEntryBytes, "kernel cache entry");
  if (!f) return std::nullopt;
  const uint8_t *d = (*f)->data();
  const size_t n = (*f)->size();
  if (n < kHeader + kChecksum || std::memcmp(d, kMagic, 8) != 0) return std::nullopt;
  uint32_t version;
  std::memcpy(&version, d + 8, 4);
  if (version != kVersion || std::memcmp(d + 16, key.data(), 32) != 0) return std::nullopt;
  const uint64_t ptxN = readU64(d + 48), cubinN = readU64(d + 56), logN = readU64(d + 64);
  const uint64_t body = n - kHeader - kChecksum;
  if (ptxN > body || cubinN > body - ptxN || logN != body - ptxN - cubinN) return std::nullopt;
  if (contentHash(d, n - kChecksum) != std::string(reinterpret_cast<const char *>(d + n - kChecksum), kChecksum))
    return std::nullopt;
  CacheEntry e;
  const char *p = reinterpret_cast<const char *>(d + kHeader);
  e.ptx.assign(p, ptxN);
  e.cubin.assign(d + kHeader + ptxN, d + kHeader + ptxN + cubinN);
  e.log.assign(p + ptxN + cubinN, logN);
  return e;
}

Status KernelCache::store(const std::string &key, const CacheEntry &e) const {
  if (key.size() != 32) return Status::error("kernel cache: malformed key '" + key + "'");
  QCC_RETURN_IF_ERROR(checkFolder(/*create=*/true));
  std::string bytes(kHeader, '\0');
  std::memcpy(bytes.data(), kMagic, 8);
  std::memcpy(bytes.data() + 8, &kVersion, 4);
  std::memcpy(bytes.data() + 16, key.data(), 32);
  const uint64_t sizes[3] = {e.ptx.size(), e.cubin.size(), e.log.size()};
  std::memcpy(bytes.data() + 48, sizes, 24);
  bytes += e.ptx;
  bytes.append(reinterpret_cast<const char *>(e.cubin.data()), e.cubin.size());
  bytes += e.log;
  if (bytes.size() + kChecksum > kMaxEntryBytes)
    return Status::error("kernel cache: entry of " + std::to_string(bytes.size()) + " bytes is over the limit");
  bytes += contentHash(bytes.data(), bytes.size());
  Expected<std::unique_ptr<AtomicFileWriter>> w = AtomicFileWriter::create(pathFor(key));
  if (!w) return w.status().withContext("kernel cache");
  QCC_RETURN_IF_ERROR((*w)->write(bytes.data(), bytes.size()));
  return (*w)->commit();
}

} // namespace qcc::cuda
