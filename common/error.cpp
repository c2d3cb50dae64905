#include "common/error.h"

#include <cstring>

namespace hoist {

std::string sys_message(std::string_view op, std::string_view what, int err) {
  std::string m(op);
  if (!what.empty()) {
    m += ' ';
    m += what;
  }
  m += ": ";
  m += std::strerror(err);
  return m;
}

SysError::SysError(std::string_view op, std::string_view what, int err)
    : Error(sys_message(op, what, err)), err_(err) {}

void throw_sys(std::string_view op, std::string_view what, int err) { throw SysError(op, what, err); }

}  // namespace hoist
