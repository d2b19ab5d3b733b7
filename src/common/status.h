// Status and Result<T>: how every ringo component reports failure without exceptions.
#ifndef RINGO_COMMON_STATUS_H_
#define RINGO_COMMON_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ringo {

// The few failure kinds ringo distinguishes. api/ maps each to one HTTP status and MLflow error
// code; cli/ maps each to one exit code.
enum class Code {
  kOk = 0,
  kInvalidArgument,     // bad input from the caller (HTTP 400 INVALID_PARAMETER_VALUE)
  kNotFound,            // a named thing does not exist (404 RESOURCE_DOES_NOT_EXIST)
  kAlreadyExists,       // a named thing exists already (400 RESOURCE_ALREADY_EXISTS)
  kFailedPrecondition,  // the thing exists but is in the wrong state (400 INVALID_STATE)
  kPermissionDenied,    // not allowed (403 PERMISSION_DENIED)
  kUnavailable,         // try again later: shutting down, overloaded (503 TEMPORARILY_UNAVAILABLE)
  kInternal,            // a bug or an environment failure (500 INTERNAL_ERROR)
};

// Name of a code, e.g. "INVALID_ARGUMENT", for logs.
std::string_view CodeName(Code code);

// The outcome of an operation: ok, or a code with a message naming the thing that failed.
// Cheap to copy when ok. Not thread-safe to mutate; safe to share const.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status PermissionDenied(std::string m) {
  return Status(Code::kPermissionDenied, std::move(m));
}
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

// A value or the Status explaining why there is none. GCC 12 has no std::expected in C++20.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result needs a value or a failed Status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // Access the value; only valid when ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace ringo

#define RINGO_CONCAT_INNER_(a, b) a##b
#define RINGO_CONCAT_(a, b) RINGO_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not ok.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::ringo::Status ringo_status_ = (expr);        \
    if (!ringo_status_.ok()) return ringo_status_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, Foo())`: binds the value of a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(RINGO_CONCAT_(ringo_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // RINGO_COMMON_STATUS_H_
