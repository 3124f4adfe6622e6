#include "codegen/cuda/TileTable.h"

#include "support/MappedFile.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace qcc::cuda {

const TileEntry *TileTable::find(const std::string &target, GemmFormat f, int64_t n, int64_t k, bool decode) const {
  for (const TileEntry &e : entries)
    if (e.target == target && e.format == f && e.n == n && e.k == k && e.decode == decode) return &e;
  return nullptr;
}

Expected<GemmFormat> parseGemmFormat(const std::string &name) {
  for (GemmFormat f : {GemmFormat::BF16, GemmFormat::INT8, GemmFormat::FP8, GemmFormat::W4A16,
                       GemmFormat::FP8WeightOnly})
    if (name == gemmFormatName(f)) return f;
  return Status::error("unknown gemm format '" + name + "' (known: bf16, int8, fp8, w4a16, fp8w)");
}

GemmTile chooseGemmTile(const GpuTarget &target, GemmFormat f, int64_t M, int64_t N, int64_t K,
                        const TileTable *overrides) {
  if (overrides)
    if (const TileEntry *e = overrides->find(target.name, f, N, K, M <= 16)) return e->tile;
  return chooseGemmTile(target, f, M, N, K);
}

std::string tileTableJson(const TileTable &t) {
  std::string s = "{\"qcc_tile_table\": 1,\n \"entries\": [";
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const TileEntry &e = t.entries[i];
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s\n  {\"target\": \"%s\", \"format\": \"%s\", \"n\": %lld, \"k\": %lld, \"bucket\": \"%s\", "
                  "\"mTiles\": %d, \"nTiles\": %d, \"warpsN\": %d, \"kSplit\": %d, \"wgmma\": %s, \"ms\": %.6g}",
                  i ? "," : "", e.target.c_str(), gemmFormatName(e.format), static_cast<long long>(e.n),
                  static_cast<long long>(e.k), e.decode ? "decode" : "prefill", e.tile.mTiles, e.tile.nTiles,
                  e.tile.warpsN, e.tile.kSplit, e.tile.wgmma ? "true" : "false", e.ms);
    s += buf;
  }
  s += "\n]}\n";
  return s;
}

Status writeTileTable(const std::string &path, const TileTable &table) {
  auto w = AtomicFileWriter::create(path);
  if (!w) return w.status();
  const std::string json = tileTableJson(table);
  QCC_RETURN_IF_ERROR((*w)->write(json.data(), json.size()));
  return (*w)->commit();
}

namespace {

// A small JSON reader: enough for the tile table (objects, arrays, strings
// without escapes beyond \" and \\, numbers, booleans, null).
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
};

class Parser {
public:
  Parser(const std::string &text, const std::string &name) : s_(text), name_(name) {}

  Expected<Json> document() {
    auto v = value(0);
    if (!v) return v;
    skip();
    if (p_ != s_.size()) return error("trailing characters");
    return v;
  }

private:
  Status error(const std::string &what) const {
    return Status::error(name_ + ": " + what + " at byte " + std::to_string(p_));
  }
  void skip() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\t' || s_[p_] == '\r')) ++p_;
  }
  Expected<Json> value(int depth) {
    if (depth > 8) return error("nesting too deep");
    skip();
    if (p_ >= s_.size()) return error("unexpected end");
    Json j;
    const char c = s_[p_];
    if (c == '{') {
      j.kind = Json::Object;
      ++p_;
      skip();
      if (p_ < s_.size() && s_[p_] == '}') return ++p_, j;
      for (;;) {
        skip();
        auto key = string();
        if (!key) return key.status();
        skip();
        if (p_ >= s_.size() || s_[p_] != ':') return error("expected ':'");
        ++p_;
        auto v = value(depth + 1);
        if (!v) return v;
        j.fields[*key] = std::move(*v);
        skip();
        if (p_ < s_.size() && s_[p_] == ',') { ++p_; continue; }
        if (p_ < s_.size() && s_[p_] == '}') { ++p_; return j; }
        return error("expected ',' or '}'");
      }
    }
    if (c == '[') {
      j.kind = Json::Array;
      ++p_;
      skip();
      if (p_ < s_.size() && s_[p_] == ']') return ++p_, j;
      for (;;) {
        auto v = value(depth + 1);
        if (!v) return v;
        j.items.push_back(std::move(*v));
        skip();
        if (p_ < s_.size() && s_[p_] == ',') { ++p_; continue; }
        if (p_ < s_.size() && s_[p_] == ']') { ++p_; return j; }
        return error("expected ',' or ']'");
      }
    }
    if (c == '"') {
      auto str = string();
      if (!str) return str.status();
      j.kind = Json::String;
      j.str = std::move(*str);
      return j;
    }
    for (const char *word : {"true", "false", "null"})
      if (s_.compare(p_, std::strlen(word), word) == 0) {
        p_ += std::strlen(word);
        j.kind = word[0] == 'n' ? Json::Null : Json::Bool;
        j.b = word[0] == 't';
        return j;
      }
    const char *begin = s_.c_str() + p_;
    char *end = nullptr;
    j.num = std::strtod(begin, &end);
    if (end == begin || !std::isfinite(j.num)) return error("bad value");
    p_ += size_t(end - begin);
    j.kind = Json::Number;
    return j;
  }
  Expected<std::string> string() {
    if (p_ >= s_.size() || s_[p_] != '"') return error("expected a string");
    ++p_;
    std::string out;
    while (p_ < s_.size() && s_[p_] != '"') {
      if (s_[p_] == '\\') {
        if (++p_ >= s_.size()) break;
        if (s_[p_] != '"' && s_[p_] != '\\' && s_[p_] != '/') return error("unsupported string escape");
      }
      out += s_[p_++];
    }
    if (p_ >= s_.size()) return error("unterminated string");
    ++p_;
    return out;
  }

  const std::string &s_;
  std::string name_;
  size_t p_ = 0;
};

} // namespace

Expected<TileTable> readTileTable(const std::string &path) {
  // MappedFile: a regular file only (a FIFO is an error, not a hang), size-limited.
  auto file = MappedFile::open(path, kMaxTileTableBytes, "tile table");
  if (!file) return file.status();
  return parseTileTable(std::string(reinterpret_cast<const char *>((*file)->data()), (*file)->size()), path);
}

TileTable TileTable::forTarget(const std::string &target) const {
  TileTable t;
  for (const TileEntry &e : entries)
    if (e.target == target) t.entries.push_back(e);
  return t;
}

Expected<TileTable> parseTileTable(const std::string &text, const std::string &path) {
  if (text.size() > kMaxTileTableBytes) return Status::error(path + ": tile table larger than 64 MiB");
  auto doc = Parser(text, path).document();
  if (!doc) return doc.status();
  if (doc->kind != Json::Object || !doc->fields.count("qcc_tile_table") || !doc->fields.count("entries") ||
      doc->fields["entries"].kind != Json::Array)
    return Status::error(path + ": not a qcc tile table (needs \"qcc_tile_table\" and an \"entries\" array)");
  if (doc->fields["qcc_tile_table"].num != 1)
    return Status::error(path + ": tile table version " + std::to_string(doc->fields["qcc_tile_table"].num) +
                         " is not 1");
  TileTable table;
  const auto &items = doc->fields["entries"].items;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = path + ": entry " + std::to_string(i);
    if (items[i].kind != Json::Object) return Status::error(where + ": not an object");
    const auto &f = items[i].fields;
    auto str = [&](const char *key, std::string *out) -> Status {
      auto it = f.find(key);
      if (it == f.end() || it->second.kind != Json::String) return Status::error(where + ": missing string '" + key + "'");
      *out = it->second.str;
      return Status::ok();
    };
    auto integer = [&](const char *key, int64_t lo, int64_t hi, int64_t *out) -> Status {
      auto it = f.find(key);
      if (it == f.end() || it->second.kind != Json::Number || it->second.num != std::floor(it->second.num) ||
          it->second.num < double(lo) || it->second.num > double(hi))
        return Status::error(where + ": '" + key + "' must be an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "]");
      *out = int64_t(it->second.num);
      return Status::ok();
    };
    TileEntry e;
    std::string format, bucket;
    int64_t mt = 0, nt = 0, wn = 0, ks = 0;
    QCC_RETURN_IF_ERROR(str("target", &e.target));
    auto target = findTarget(e.target);
    if (!target) return target.status().withContext(where);
    e.target = (*target)->name; // canonical: "sm90" -> "sm_90a"
    QCC_RETURN_IF_ERROR(str("format", &format));
    QCC_RETURN_IF_ERROR(str("bucket", &bucket));
    QCC_RETURN_IF_ERROR(integer("n", 1, int64_t(1) << 30, &e.n));
    QCC_RETURN_IF_ERROR(integer("k", 1, int64_t(1) << 30, &e.k));
    QCC_RETURN_IF_ERROR(integer("mTiles", 1, 4, &mt));
    QCC_RETURN_IF_ERROR(integer("nTiles", 1, 8, &nt));
    QCC_RETURN_IF_ERROR(integer("warpsN", 1, 32, &wn));
    QCC_RETURN_IF_ERROR(integer("kSplit", 1, 32, &ks));
    auto fmt = parseGemmFormat(format);
    if (!fmt) return fmt.status().withContext(where);
    e.format = *fmt;
    if (bucket != "decode" && bucket != "prefill")
      return Status::error(where + ": bucket '" + bucket + "' is not decode or prefill");
    e.decode = bucket == "decode";
    e.tile.mTiles = int(mt);
    e.tile.nTiles = int(nt);
    e.tile.warpsN = int(wn);
    e.tile.kSplit = int(ks);
    auto wg = f.find("wgmma");
    if (wg != f.end()) {
      if (wg->second.kind != Json::Bool) return Status::error(where + ": 'wgmma' must be true or false");
      e.tile.wgmma = wg->second.b;
    }
    auto ms = f.find("ms");
    if (ms != f.end() && ms->second.kind == Json::Number) e.ms = ms->second.num;
    if (e.tile.threads() > 1024) return Status::error(where + ": tile has more than 1024 threads");
    if (e.tile.wgmma && !(*target)->hasWgmma)
      return Status::error(where + ": a wgmma tile needs sm_90a, the entry is for " + e.target);
    if (e.tile.wgmma && !wgmmaSupports(e.format, e.k))
      return Status::error(where + ": no wgmma kernel for " + gemmFormatName(e.format) + " with k = " +
                           std::to_string(e.k));
    table.entries.push_back(e);
  }
  return table;
}

} // namespace qcc::cuda
