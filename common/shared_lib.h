// A shared library opened with dlopen (RTLD_NOW | RTLD_LOCAL): for the libraries a program needs
// only for some of its work, so that they and the libraries they pull in are mapped when that work
// is done rather than from the start (see docs/dependencies.md for which and why).
#pragma once

#include <mutex>
#include <string>

namespace hoist {

class SharedLib {
 public:
  // Throws hoist::Error "load <soname>: <dlerror's words>".
  explicit SharedLib(std::string soname);
  // Unloads the library (its mappings go once nothing else holds it), unless keep() was called.
  ~SharedLib();
  SharedLib(const SharedLib&) = delete;
  SharedLib& operator=(const SharedLib&) = delete;

  // The address of `name`; throws hoist::Error "load <soname>: no symbol <name>".
  void* symbol(const char* name) const;
  template <typename F>
  void bind(const char* name, F& out) const {
    out = reinterpret_cast<F>(symbol(name));
  }
  // Leaves the library loaded for the process's life (the destructor no longer unloads it).
  void keep() { kept_ = true; }

 private:
  std::string soname_;
  void* so_ = nullptr;
  bool kept_ = false;
};

// What `Load` makes (a library's function table), made at the first call, once per process; a
// load that throws is tried again by the next call.
template <typename T, T (*Load)()>
const T& load_once() {
  static std::once_flag once;
  static T value;
  std::call_once(once, [] { value = Load(); });
  return value;
}

}  // namespace hoist
