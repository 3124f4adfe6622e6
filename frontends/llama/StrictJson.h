// A small, strict JSON reader for the files a checkpoint folder holds
// (safetensors headers, config.json, model.safetensors.index.json,
// tokenizer.json).
//
// Why not llvm::json: these files are untrusted, and we want to reject what a
// lenient reader would quietly accept: duplicate object keys (llvm::json keeps
// one of them), deep nesting that could exhaust the stack, and integers that
// are really floats ("2.0" as a shape dimension). Integers keep their exact
// 64-bit value, so safetensors byte offsets never pass through a double.
//
// Accepted: RFC 8259 JSON in UTF-8 (no BOM), nesting at most kMaxDepth deep.
// Rejected, with the byte offset in the message: invalid UTF-8 (overlong
// forms, surrogates, > U+10FFFF), unpaired \u surrogates, raw control
// characters in strings, duplicate keys, trailing garbage.
#pragma once

#include "support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qcc::json {

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isBool() const { return kind_ == Kind::Bool; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }

  bool asBool() const { return bool_; }
  // Any number, as a double (integers beyond 2^53 lose precision here).
  double asDouble() const { return double_; }
  // True when the number was written without fraction or exponent and fits
  // in int64 / uint64 respectively.
  bool isInt64() const { return kind_ == Kind::Number && isInteger_ && fitsInt64_; }
  bool isUint64() const { return kind_ == Kind::Number && isInteger_ && !negative_; }
  int64_t asInt64() const { return int64_; }
  uint64_t asUint64() const { return uint64_; }
  const std::string &asString() const { return string_; }
  const std::vector<Value> &elements() const { return array_; }
  // Object members in document order (keys are unique).
  const std::vector<std::pair<std::string, Value>> &members() const { return object_; }
  // Member lookup (linear); nullptr when absent.
  const Value *get(std::string_view key) const;

  // "null", "a boolean", "a number", "a string", "an array", "an object".
  static const char *kindName(Kind k);
  const char *kindName() const { return kindName(kind_); }

private:
  friend class Parser;
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  bool isInteger_ = false, negative_ = false, fitsInt64_ = false;
  double double_ = 0;
  int64_t int64_ = 0;
  uint64_t uint64_ = 0;
  std::string string_;
  std::vector<Value> array_;
  std::vector<std::pair<std::string, Value>> object_;
};

constexpr int kMaxDepth = 64;

// Parses `text`. Errors read "<fileName>: invalid JSON at byte N: <problem>".
Expected<Value> parse(std::string_view text, const std::string &fileName);

// Checks that `bytes` is well-formed UTF-8; on failure returns false and the
// offset of the first bad byte in *badOffset.
bool isValidUtf8(std::string_view bytes, size_t *badOffset = nullptr);

} // namespace qcc::json
