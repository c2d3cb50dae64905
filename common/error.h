// Errors that say what failed and why: "open /var/lib/hoist/x: Permission denied".
#pragma once
#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hoist {

// A failure with a complete, human-readable message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Kinds the API maps to Docker's status codes: 404, 409, 400, 403.
class NotFound : public Error {
 public:
  using Error::Error;
};
class Conflict : public Error {
 public:
  using Error::Error;
};
class InvalidArgument : public Error {
 public:
  using Error::Error;
};
// Refused by a rule rather than by the input's form (dockerd's 403: removing a predefined
// network, a subnet that overlaps another network's).
class Forbidden : public Error {
 public:
  using Error::Error;
};

// A failed system call: the operation, the path or value it acted on, and errno.
class SysError : public Error {
 public:
  SysError(std::string_view op, std::string_view what, int err);
  int code() const noexcept { return err_; }

 private:
  int err_;
};

// Throws SysError for `op` on `what` with the current errno (or `err`).
[[noreturn]] void throw_sys(std::string_view op, std::string_view what = {}, int err = errno);

// Formats "op what: strerror(err)".
std::string sys_message(std::string_view op, std::string_view what, int err);

}  // namespace hoist
