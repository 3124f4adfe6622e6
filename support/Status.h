// Status and Expected<T>: qcc's error currency outside MLIR.
//
// qcc builds without exceptions (like LLVM), so fallible functions return a
// Status or an Expected<T>. Messages are lowercase, without a trailing period,
// and name the file and the problem: "model.safetensors: header length 12 is
// beyond the end of the file (8 bytes)".
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace qcc {

class [[nodiscard]] Status {
public:
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool isOk() const { return !message_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const std::string &message() const {
    assert(message_ && "message() on an ok status");
    return *message_;
  }
  // Prefixes context: "loading x.qcc: " + message.
  Status withContext(const std::string &context) const {
    if (isOk()) return *this;
    return Status(context + ": " + *message_);
  }

private:
  Status() = default;
  explicit Status(std::string m) : message_(std::move(m)) {}
  std::optional<std::string> message_;
};

template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)), status_(Status::ok()) {}
  Expected(Status status) : status_(std::move(status)) {
    assert(!status_.isOk() && "Expected built from an ok status without a value");
  }

  bool isOk() const { return status_.isOk(); }
  explicit operator bool() const { return isOk(); }
  const Status &status() const { return status_; }
  const std::string &message() const { return status_.message(); }

  T &value() & { assert(isOk()); return *value_; }
  const T &value() const & { assert(isOk()); return *value_; }
  T &&value() && { assert(isOk()); return std::move(*value_); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }

private:
  std::optional<T> value_;
  Status status_;
};

// Convenience for early returns:  QCC_RETURN_IF_ERROR(doThing());
#define QCC_RETURN_IF_ERROR(expr)                                              \
  do {                                                                         \
    ::qcc::Status qcc_status_ = (expr);                                        \
    if (!qcc_status_.isOk()) return qcc_status_;                               \
  } while (0)

} // namespace qcc
