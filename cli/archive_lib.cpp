#include "cli/archive_lib.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/error.h"

namespace hoist::cli {

namespace {

ArchiveLib load() {
  void* so = ::dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    const char* why = ::dlerror();
    throw Error(std::string("load libarchive.so.13: ") + (why ? why : "unknown error"));
  }
  ArchiveLib lib{};
#define HOIST_ARCHIVE_BIND(f)                                                       \
  if (void* p = ::dlsym(so, #f)) lib.f = reinterpret_cast<decltype(lib.f)>(p);      \
  else throw Error(std::string("load libarchive.so.13: no symbol ") + #f);
  HOIST_ARCHIVE_FUNCTIONS(HOIST_ARCHIVE_BIND)
#undef HOIST_ARCHIVE_BIND
  return lib;  // the library stays loaded for the process's life
}

}  // namespace

const ArchiveLib& archive_lib() {
  static std::once_flag once;
  static ArchiveLib lib;
  std::call_once(once, [] { lib = load(); });  // a throw leaves the flag unset: the next call retries
  return lib;
}

}  // namespace hoist::cli
