#include "codegen/cuda/KernelCache.h"
#include "support/MappedFile.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

namespace qcc::cuda {

static constexpr char kMagic[8] = {'Q', 'C', 'C', 'K', 'E', 'R', 'N', '1'};
static constexpr uint32_t kVersion = 1;
static constexpr size_t kHeader = 8 + 4 + 4 + 32 + 3 * 8;

uint64_t fnv1a64(const void *data, size_t n, uint64_t h) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string defaultKernelCacheDir() {
  if (const char *d = std::getenv("QCC_CACHE_DIR"); d && *d) return d;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/qcc";
  if (const char *h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/qcc";
  return "/tmp/qcc-cache";
}

KernelCache::KernelCache(std::string dir) : dir_(dir.empty() ? defaultKernelCacheDir() : std::move(dir)) {}

std::string KernelCache::key(const std::string &source, const std::string &nvrtcVersion, const std::string &target,
                             const std::vector<std::string> &options) {
  // Length-prefixed fields so that ("ab","c") and ("a","bc") differ.
  std::string material;
  auto field = [&](const std::string &s) {
    material += std::to_string(s.size()) + ":" + s + ";";
  };
  field("qcc-kernel-cache-1");
  field(source);
  field(nvrtcVersion);
  field(target);
  for (const std::string &o : options) field(o);
  const uint64_t a = fnv1a64(material.data(), material.size());
  const uint64_t b = fnv1a64(material.data(), material.size(), 0x6a09e667f3bcc909ull ^ a);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return hex;
}

std::string KernelCache::pathFor(const std::string &key) const { return dir_ + "/" + key + ".qck"; }

static uint64_t readU64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::optional<CacheEntry> KernelCache::lookup(const std::string &key) const {
  Expected<std::unique_ptr<MappedFile>> f = MappedFile::open(pathFor(key));
  if (!f) return std::nullopt;
  const uint8_t *d = (*f)->data();
  const size_t n = (*f)->size();
  if (n < kHeader + 8 || std::memcmp(d, kMagic, 8) != 0) return std::nullopt;
  uint32_t version;
  std::memcpy(&version, d + 8, 4);
  if (version != kVersion || key.size() != 32 || std::memcmp(d + 16, key.data(), 32) != 0) return std::nullopt;
  const uint64_t ptxN = readU64(d + 48), cubinN = readU64(d + 56), logN = readU64(d + 64);
  const uint64_t body = n - kHeader - 8;
  if (ptxN > body || cubinN > body - ptxN || logN != body - ptxN - cubinN) return std::nullopt;
  if (fnv1a64(d, n - 8) != readU64(d + n - 8)) return std::nullopt;
  CacheEntry e;
  const char *p = reinterpret_cast<const char *>(d + kHeader);
  e.ptx.assign(p, ptxN);
  e.cubin.assign(d + kHeader + ptxN, d + kHeader + ptxN + cubinN);
  e.log.assign(p + ptxN + cubinN, logN);
  return e;
}

static Status makeDirs(const std::string &dir) {
  std::string path;
  size_t i = 0;
  while (i <= dir.size()) {
    size_t j = dir.find('/', i);
    if (j == std::string::npos) j = dir.size();
    path = dir.substr(0, j);
    if (!path.empty() && ::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      return Status::error(path + ": cannot create cache directory: " + std::strerror(errno));
    i = j + 1;
  }
  return Status::ok();
}

Status KernelCache::store(const std::string &key, const CacheEntry &e) const {
  if (key.size() != 32) return Status::error("kernel cache: malformed key '" + key + "'");
  QCC_RETURN_IF_ERROR(makeDirs(dir_));
  std::string bytes(kHeader, '\0');
  std::memcpy(bytes.data(), kMagic, 8);
  std::memcpy(bytes.data() + 8, &kVersion, 4);
  std::memcpy(bytes.data() + 16, key.data(), 32);
  const uint64_t sizes[3] = {e.ptx.size(), e.cubin.size(), e.log.size()};
  std::memcpy(bytes.data() + 48, sizes, 24);
  bytes += e.ptx;
  bytes.append(reinterpret_cast<const char *>(e.cubin.data()), e.cubin.size());
  bytes += e.log;
  const uint64_t sum = fnv1a64(bytes.data(), bytes.size());
  bytes.append(reinterpret_cast<const char *>(&sum), 8);
  Expected<std::unique_ptr<AtomicFileWriter>> w = AtomicFileWriter::create(pathFor(key));
  if (!w) return w.status().withContext("kernel cache");
  QCC_RETURN_IF_ERROR((*w)->write(bytes.data(), bytes.size()));
  return (*w)->commit();
}

} // namespace qcc::cuda
