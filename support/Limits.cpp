#include "support/Limits.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qcc::limits {

namespace {

// "MemAvailable:   123456 kB" from /proc/meminfo.
std::optional<uint64_t> memAvailable() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return std::nullopt;
}

std::optional<uint64_t> readNumber(const std::string &path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  char *end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (!end || *end) return std::nullopt;
  return uint64_t(v);
}

// memory.max - memory.current of this process's cgroup (v2), when limited.
std::optional<uint64_t> cgroupRoom() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 3, "0::") != 0) continue;
    const std::string dir = "/sys/fs/cgroup" + line.substr(3);
    auto max = readNumber(dir + "/memory.max");
    auto current = readNumber(dir + "/memory.current");
    if (!max) return std::nullopt;
    return current && *current < *max ? *max - *current : 0;
  }
  return std::nullopt;
}

} // namespace

std::optional<uint64_t> availableMemoryBytes() {
  std::optional<uint64_t> avail = memAvailable(), room = cgroupRoom();
  if (avail && room) return std::min(*avail, *room);
  return avail ? avail : room;
}

uint64_t saturatingProduct(std::initializer_list<uint64_t> factors) {
  uint64_t p = 1;
  for (uint64_t f : factors) {
    if (f == 0) return 0;
    if (p > UINT64_MAX / f) p = UINT64_MAX;
    else p *= f;
  }
  return p;
}

uint64_t saturatingSum(std::initializer_list<uint64_t> terms) {
  uint64_t s = 0;
  for (uint64_t t : terms) s = t > UINT64_MAX - s ? UINT64_MAX : s + t;
  return s;
}

std::string bytesText(uint64_t n) {
  static const char *kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  char buf[64];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    return buf;
  }
  double v = double(n) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) v /= 1024.0, ++u;
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

Status checkFitsInMemory(uint64_t bytes, const std::string &what) {
  std::optional<uint64_t> avail = availableMemoryBytes();
  if (!avail || bytes <= *avail) return Status::ok();
  return Status::error(what + " need about " + bytesText(bytes) + " of memory, " + bytesText(*avail) +
                       " are available");
}

} // namespace qcc::limits
