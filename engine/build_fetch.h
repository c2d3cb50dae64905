// What a build fetches over HTTP(S) in hoistd: ADD's URL sources and a remote build context
// (POST /build's `remote`). libcurl (image/curl_lib.h), redirects followed, the body written to a
// file of the build's own.
#pragma once
#include <ctime>
#include <optional>
#include <string>

namespace hoist::engine {

struct Fetched {
  std::string path;              // the file the body went to
  std::string file_name;         // as dockerd names a download: the URL path's last element, else
                                 // Content-Disposition's filename ("" when neither gives one)
  std::optional<time_t> mtime;   // Last-Modified, when it parses
  std::string sha256;            // "sha256:<hex>" of the body
};

// GETs `url` into the new file `path`. Throws hoist::Error: "failed to GET <url> with status
// <code> <text>: <body>" (dockerd's words) for a status of 400 and more, libcurl's error otherwise.
Fetched fetch_url(const std::string& url, const std::string& path);

// The file name dockerd gives a download (pure, for tests): `url_path` the URL's path,
// `disposition` the Content-Disposition header.
std::string download_file_name(const std::string& url_path, const std::string& disposition);

// An HTTP date (RFC 1123, RFC 850 or asctime, as Go's http.ParseTime) as a time; nullopt when
// it does not parse.
std::optional<time_t> parse_http_date(const std::string& text);

}  // namespace hoist::engine
