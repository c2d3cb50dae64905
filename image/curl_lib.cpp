#include "image/curl_lib.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/error.h"

namespace hoist::image {

namespace {

template <typename F>
void bind(void* so, const char* name, F& out) {
  void* p = ::dlsym(so, name);
  if (!p) throw Error(std::string("load libcurl: no symbol ") + name);
  out = reinterpret_cast<F>(p);
}

CurlLib load() {
  void* so = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    const char* why = ::dlerror();
    throw Error(std::string("load libcurl.so.4: ") + (why ? why : "unknown error"));
  }
  CurlLib c{};
  bind(so, "curl_easy_init", c.easy_init);
  bind(so, "curl_easy_setopt", c.easy_setopt);
  bind(so, "curl_easy_perform", c.easy_perform);
  bind(so, "curl_easy_getinfo", c.easy_getinfo);
  bind(so, "curl_easy_reset", c.easy_reset);
  bind(so, "curl_easy_cleanup", c.easy_cleanup);
  bind(so, "curl_easy_strerror", c.easy_strerror);
  bind(so, "curl_share_init", c.share_init);
  bind(so, "curl_share_setopt", c.share_setopt);
  bind(so, "curl_share_cleanup", c.share_cleanup);
  bind(so, "curl_slist_append", c.slist_append);
  bind(so, "curl_slist_free_all", c.slist_free_all);
  bind(so, "curl_url", c.url);
  bind(so, "curl_url_set", c.url_set);
  bind(so, "curl_url_get", c.url_get);
  bind(so, "curl_url_cleanup", c.url_cleanup);
  bind(so, "curl_free", c.free);
  bind(so, "curl_version_info", c.version_info);
  decltype(&curl_global_init) global_init = nullptr;
  bind(so, "curl_global_init", global_init);
  if (CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    throw Error("curl_global_init: error " + std::to_string(static_cast<int>(rc)));
  return c;  // the library stays loaded for the process's life
}

}  // namespace

const CurlLib& curl_lib() {
  static std::once_flag once;
  static CurlLib lib;
  std::call_once(once, [] { lib = load(); });  // a throw leaves the flag unset: the next call retries
  return lib;
}

}  // namespace hoist::image
