#include "image/curl_lib.h"

#include <string>

#include "common/error.h"
#include "common/shared_lib.h"

namespace hoist::image {

namespace {

CurlLib load() {
  SharedLib so("libcurl.so.4");
  CurlLib c{};
  so.bind("curl_easy_init", c.easy_init);
  so.bind("curl_easy_setopt", c.easy_setopt);
  so.bind("curl_easy_perform", c.easy_perform);
  so.bind("curl_easy_getinfo", c.easy_getinfo);
  so.bind("curl_easy_reset", c.easy_reset);
  so.bind("curl_easy_cleanup", c.easy_cleanup);
  so.bind("curl_easy_strerror", c.easy_strerror);
  so.bind("curl_share_init", c.share_init);
  so.bind("curl_share_setopt", c.share_setopt);
  so.bind("curl_share_cleanup", c.share_cleanup);
  so.bind("curl_slist_append", c.slist_append);
  so.bind("curl_slist_free_all", c.slist_free_all);
  so.bind("curl_url", c.url);
  so.bind("curl_url_set", c.url_set);
  so.bind("curl_url_get", c.url_get);
  so.bind("curl_url_cleanup", c.url_cleanup);
  so.bind("curl_free", c.free);
  so.bind("curl_version_info", c.version_info);
  decltype(&curl_global_init) global_init = nullptr;
  so.bind("curl_global_init", global_init);
  if (CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    throw Error("curl_global_init: error " + std::to_string(static_cast<int>(rc)));
  so.keep();  // the library stays loaded for the process's life
  return c;
}

}  // namespace

const CurlLib& curl_lib() { return load_once<CurlLib, load>(); }

}  // namespace hoist::image
