#include "common/shared_lib.h"

#include <dlfcn.h>

#include "common/error.h"

namespace hoist {

SharedLib::SharedLib(std::string soname) : soname_(std::move(soname)) {
  so_ = ::dlopen(soname_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!so_) {
    const char* why = ::dlerror();
    throw Error("load " + soname_ + ": " + (why ? why : "unknown error"));
  }
}

SharedLib::~SharedLib() {
  if (!kept_) ::dlclose(so_);
}

void* SharedLib::symbol(const char* name) const {
  void* p = ::dlsym(so_, name);
  if (!p) throw Error("load " + soname_ + ": no symbol " + name);
  return p;
}

}  // namespace hoist
