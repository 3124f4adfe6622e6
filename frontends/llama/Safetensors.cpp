#include "frontends/llama/Safetensors.h"

#include "frontends/llama/StrictJson.h"

#include <algorithm>
#include <set>
#include <cstring>

namespace qcc {

Expected<DType> parseSafetensorsDtype(const std::string &name) {
  static const struct { const char *name; DType dtype; } kTable[] = {
      {"BF16", DType::BF16}, {"F16", DType::F16},   {"F32", DType::F32},
      {"F64", DType::F64},   {"F8_E4M3", DType::F8E4M3}, {"I8", DType::I8},
      {"I16", DType::I16},   {"I32", DType::I32},   {"I64", DType::I64},
      {"U8", DType::U8},     {"U16", DType::U16},   {"U32", DType::U32},
      {"U64", DType::U64},   {"BOOL", DType::BOOL},
  };
  for (const auto &e : kTable)
    if (name == e.name) return e.dtype;
  return Status::error("unknown dtype '" + name + "'");
}

std::string jsonQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    uint8_t c = static_cast<uint8_t>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else out += ch;
  }
  return out + "\"";
}

namespace {

struct Entry {
  std::string name;
  TensorRef ref;
  uint64_t begin = 0, end = 0;
};

// a * b into *out; false on uint64 overflow.
bool mulOverflow(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0 && b > UINT64_MAX / a) return true;
  *out = a * b;
  return false;
}

// Validates one header entry (everything that does not depend on the others).
Status parseEntry(const std::string &file, const std::string &name, const json::Value &v,
                  Entry *out) {
  std::string what = file + ": tensor '" + name + "'";
  if (!v.isObject()) return Status::error(what + " is " + v.kindName() + ", not an object");
  for (const auto &m : v.members())
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets")
      return Status::error(what + " has unknown field '" + m.first + "'");
  const json::Value *dtype = v.get("dtype"), *shape = v.get("shape"),
                    *offsets = v.get("data_offsets");
  if (!dtype) return Status::error(what + " has no dtype");
  if (!shape) return Status::error(what + " has no shape");
  if (!offsets) return Status::error(what + " has no data_offsets");

  if (!dtype->isString()) return Status::error(what + " dtype is not a string");
  Expected<DType> dt = parseSafetensorsDtype(dtype->asString());
  if (!dt) return Status::error(what + " has " + dt.message());
  out->ref.dtype = *dt;

  if (!shape->isArray()) return Status::error(what + " shape is not an array");
  // numel * dtype size must fit in uint64 (and numel in int64, for TensorRef).
  uint64_t bytes = dtypeSize(*dt);
  for (const json::Value &d : shape->elements()) {
    if (!d.isUint64() || d.asUint64() > static_cast<uint64_t>(INT64_MAX))
      return Status::error(what + " shape has a dimension that is not a non-negative integer");
    out->ref.shape.push_back(static_cast<int64_t>(d.asUint64()));
    if (mulOverflow(bytes, d.asUint64(), &bytes))
      return Status::error(what + " shape product overflows");
  }

  if (!offsets->isArray() || offsets->elements().size() != 2 ||
      !offsets->elements()[0].isUint64() || !offsets->elements()[1].isUint64())
    return Status::error(what + " data_offsets is not a pair of non-negative integers");
  out->begin = offsets->elements()[0].asUint64();
  out->end = offsets->elements()[1].asUint64();
  if (out->end < out->begin)
    return Status::error(what + " data_offsets [" + std::to_string(out->begin) + ", " +
                         std::to_string(out->end) + ") end before they begin");
  if (out->end - out->begin != bytes)
    return Status::error(what + " data_offsets [" + std::to_string(out->begin) + ", " +
                         std::to_string(out->end) + ") hold " +
                         std::to_string(out->end - out->begin) + " bytes but " +
                         dtypeName(*dt) + " shape needs " + std::to_string(bytes));
  out->name = name;
  return Status::ok();
}

std::string range(const Entry &e) {
  return "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
}

} // namespace

Expected<std::unique_ptr<SafetensorsFile>> SafetensorsFile::open(const std::string &path) {
  Expected<std::unique_ptr<MappedFile>> mapped = MappedFile::open(path);
  if (!mapped) return mapped.status();
  auto st = parse((*mapped)->data(), (*mapped)->size(), path);
  if (!st) return st.status();
  (*st)->file_ = std::move(*mapped);
  return st;
}

Expected<std::unique_ptr<SafetensorsFile>> SafetensorsFile::parse(const uint8_t *base, size_t size,
                                                                  const std::string &path) {
  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile());
  st->path_ = path;
  st->base_ = base;
  st->size_ = size;
  const uint64_t fileSize = size;

  // The u64 little-endian header length, then the header inside the file.
  if (fileSize < 8)
    return Status::error(path + ": file is " + std::to_string(fileSize) +
                         " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];
  if (n > kSafetensorsMaxHeaderSize)
    return Status::error(path + ": header length " + std::to_string(n) + " exceeds the limit of " +
                         std::to_string(kSafetensorsMaxHeaderSize) + " bytes");
  if (n > fileSize - 8)
    return Status::error(path + ": header length " + std::to_string(n) +
                         " is beyond the end of the file (" + std::to_string(fileSize) +
                         " bytes)");
  st->headerSize_ = n;
  std::string_view header(reinterpret_cast<const char *>(base + 8), n);
  size_t bad = 0;
  if (!json::isValidUtf8(header, &bad))
    return Status::error(path + ": header is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  Expected<json::Value> root = json::parse(header, path + ": header");
  if (!root) return root.status();
  if (!root->isObject())
    return Status::error(path + ": header is " + root->kindName() + ", not a JSON object");

  std::vector<Entry> entries;
  for (const auto &m : root->members()) {
    if (m.first == "__metadata__") {
      if (!m.second.isObject())
        return Status::error(path + ": __metadata__ is " + m.second.kindName() +
                             ", not an object");
      for (const auto &kv : m.second.members()) {
        if (!kv.second.isString())
          return Status::error(path + ": __metadata__ value for '" + kv.first +
                               "' is not a string");
        st->metadata_[kv.first] = kv.second.asString();
      }
      continue;
    }
    Entry e;
    QCC_RETURN_IF_ERROR(parseEntry(path, m.first, m.second, &e));
    entries.push_back(std::move(e));
  }

  // Sorted by begin, the ranges must tile [0, data size) exactly.
  const uint64_t dataSize = fileSize - 8 - n;
  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry &e = entries[i];
    if (e.begin > expected) {
      if (i == 0)
        return Status::error(path + ": tensor '" + e.name + "' data range " + range(e) +
                             " leaves a gap: the data section starts at 0");
      return Status::error(path + ": gap in the data section between tensor '" +
                           entries[i - 1].name + "' " + range(entries[i - 1]) + " and '" +
                           e.name + "' " + range(e));
    }
    if (e.begin < expected)
      return Status::error(path + ": tensor '" + e.name + "' data range " + range(e) +
                           " overlaps '" + entries[i - 1].name + "' " + range(entries[i - 1]));
    if (e.end > dataSize)
      return Status::error(path + ": tensor '" + e.name + "' data range " + range(e) +
                           " is beyond the end of the data section (" +
                           std::to_string(dataSize) + " bytes)");
    expected = e.end;
  }
  if (expected != dataSize)
    return Status::error(path + ": data section is " + std::to_string(dataSize) +
                         " bytes but the tensors cover " + std::to_string(expected) +
                         " (trailing bytes)");

  const uint8_t *data = base + 8 + n;
  for (Entry &e : entries) {
    e.ref.data = data + e.begin;
    st->tensors_.emplace(e.name, std::move(e.ref));
  }
  return st;
}

const TensorRef *SafetensorsFile::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto &t : tensors_) out.push_back(t.first);
  return out; // std::map keeps them sorted
}

std::string_view SafetensorsFile::headerBytes() const {
  return std::string_view(reinterpret_cast<const char *>(base_ + 8), headerSize_);
}

Expected<std::unique_ptr<SafetensorsWriter>> SafetensorsWriter::create(const std::string &path, std::vector<Decl> tensors,
                                                                       const std::map<std::string, std::string> &metadata) {
  std::string header = "{";
  bool first = true;
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    for (const auto &kv : metadata) {
      if (!first) header += ",";
      first = false;
      header += jsonQuote(kv.first) + ":" + jsonQuote(kv.second);
    }
    header += "}";
    first = false;
  }
  std::unique_ptr<SafetensorsWriter> w(new SafetensorsWriter());
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const Decl &t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second)
      return Status::error(path + ": tensor name '" + t.name + "' is empty, reserved or repeated");
    uint64_t bytes = dtypeSize(t.dtype);
    std::string shape;
    for (int64_t d : t.shape) {
      if (d < 0) return Status::error(path + ": tensor '" + t.name + "' has a negative dimension");
      if (mulOverflow(bytes, static_cast<uint64_t>(d), &bytes))
        return Status::error(path + ": tensor '" + t.name + "' shape product overflows");
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    }
    if (!first) header += ",";
    first = false;
    header += jsonQuote(t.name) + ":{\"dtype\":\"" + dtypeName(t.dtype) + "\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
    w->ends_.push_back(offset);
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kSafetensorsMaxHeaderSize)
    return Status::error(path + ": the header of " + std::to_string(header.size()) + " bytes exceeds the limit of " +
                         std::to_string(kSafetensorsMaxHeaderSize));

  auto out = AtomicFileWriter::create(path);
  if (!out) return out.status();
  w->out_ = std::move(*out);
  w->path_ = path;
  w->decls_ = std::move(tensors);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
  QCC_RETURN_IF_ERROR(w->out_->write(len, 8));
  QCC_RETURN_IF_ERROR(w->out_->write(header.data(), header.size()));
  return w;
}

SafetensorsWriter::~SafetensorsWriter() = default;

Status SafetensorsWriter::append(const void *data, size_t bytes) {
  const uint64_t total = ends_.empty() ? 0 : ends_.back();
  if (bytes > total - written_)
    return Status::error(path_ + ": " + std::to_string(bytes) + " bytes given, but only " +
                         std::to_string(total - written_) + " remain to be written");
  QCC_RETURN_IF_ERROR(out_->write(data, bytes));
  written_ += bytes;
  return Status::ok();
}

std::string SafetensorsWriter::nextTensor() const {
  for (size_t i = 0; i < ends_.size(); ++i)
    if (written_ < ends_[i]) return decls_[i].name;
  return "";
}

Status SafetensorsWriter::write(const std::string &name, const void *data, size_t bytes) {
  size_t i = 0;
  while (i < decls_.size() && decls_[i].name != name) ++i;
  if (i == decls_.size()) return Status::error(path_ + ": no tensor '" + name + "' was declared");
  const uint64_t begin = i == 0 ? 0 : ends_[i - 1];
  if (written_ != begin)
    return Status::error(path_ + ": tensor '" + name + "' written out of order (next: '" + nextTensor() + "')");
  if (bytes != ends_[i] - begin)
    return Status::error(path_ + ": tensor '" + name + "' has " + std::to_string(bytes) + " bytes, expected " +
                         std::to_string(ends_[i] - begin));
  QCC_RETURN_IF_ERROR(out_->write(data, bytes));
  written_ += bytes;
  return Status::ok();
}

Status SafetensorsWriter::finish() {
  const uint64_t total = ends_.empty() ? 0 : ends_.back();
  if (written_ != total)
    return Status::error(path_ + ": tensor '" + nextTensor() + "' is incomplete (" + std::to_string(written_) +
                         " of " + std::to_string(total) + " data bytes written)");
  return out_->commit();
}

Status writeSafetensors(const std::string &path, const std::vector<SafetensorsEntry> &tensors,
                        const std::map<std::string, std::string> &metadata) {
  std::vector<SafetensorsWriter::Decl> decls;
  for (const SafetensorsEntry &t : tensors) decls.push_back({t.name, t.dtype, t.shape});
  auto w = SafetensorsWriter::create(path, std::move(decls), metadata);
  if (!w) return w.status();
  for (const SafetensorsEntry &t : tensors) {
    TensorRef r{t.dtype, t.shape, t.data};
    if (r.byteSize() > 0) QCC_RETURN_IF_ERROR((*w)->append(t.data, r.byteSize()));
  }
  return (*w)->finish();
}

} // namespace qcc
