// Helpers for the frontend tests: temporary folders, raw file crafting, and
// error-text assertions.
#pragma once

#include "support/Status.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <system_error>
#include <vector>

namespace qcc::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with its contents at the end.
class TempDir {
public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/qcc-frontend-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char *p = ::mkdtemp(buf.data());
    EXPECT_NE(p, nullptr) << "mkdtemp failed";
    path_ = p ? p : "/nonexistent";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string &path() const { return path_; }
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline void writeFile(const std::string &path, const std::string &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  std::fclose(f);
}

inline std::string readFile(const std::string &path) {
  std::string out;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// The 8-byte little-endian length prefix.
inline std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// A safetensors file from a header text and data bytes, with no checks at
// all: the tests craft bad files with it.
inline std::string rawSafetensors(const std::string &header, const std::string &data) {
  return u64le(header.size()) + header + data;
}

// Asserts that `r` failed and its message contains every one of `parts`.
template <typename R>
void expectError(const R &r, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(r.isOk()) << "expected an error containing '" << *parts.begin() << "'";
  const std::string &m = r.status().message();
  for (const std::string &p : parts)
    EXPECT_NE(m.find(p), std::string::npos) << "error message: " << m << "\nmissing: " << p;
}
inline void expectStatusError(const Status &s, std::initializer_list<std::string> parts) {
  ASSERT_FALSE(s.isOk());
  for (const std::string &p : parts)
    EXPECT_NE(s.message().find(p), std::string::npos) << "error message: " << s.message()
                                                       << "\nmissing: " << p;
}

inline std::string sharedDir() { return QCC_SHARED_DIR; }

} // namespace qcc::testing
