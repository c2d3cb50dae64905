// libcurl, loaded on first use. The daemon reaches a registry only on pull, push, login and search;
// libcurl's dependencies (GnuTLS, Kerberos, LDAP, libssh2, ...) cost some 3.5 MiB of resident memory
// from the moment they are mapped, so they are mapped when a registry is first used, not at start.
#pragma once

#include <curl/curl.h>

namespace hoist::image {

// The libcurl functions the registry client calls; every member is set.
struct CurlLib {
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_setopt) easy_setopt;
  decltype(&curl_easy_perform) easy_perform;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_reset) easy_reset;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_share_init) share_init;
  decltype(&curl_share_setopt) share_setopt;
  decltype(&curl_share_cleanup) share_cleanup;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
  decltype(&curl_url) url;
  decltype(&curl_url_set) url_set;
  decltype(&curl_url_get) url_get;
  decltype(&curl_url_cleanup) url_cleanup;
  decltype(&curl_free) free;
  decltype(&curl_version_info) version_info;
};

// libcurl (libcurl.so.4), loaded and globally initialised once, thread-safely. Throws hoist::Error
// when the library cannot be loaded or lacks a function.
const CurlLib& curl_lib();

}  // namespace hoist::image
