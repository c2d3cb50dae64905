// HTTP(S) downloads of a build (see build_fetch.h).
#include "engine/build_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/digest.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/strings.h"
#include "image/curl_lib.h"

namespace hoist::engine {

namespace {

struct Transfer {
  int fd = -1;
  Hasher hash;
  std::string status_line, last_modified, disposition;
  std::string error_body;  // the first bytes of an error's body
  long code = 0;
  bool failed_write = false;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t header_cb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a redirect): its own headers.
    t->status_line = line;
    std::size_t sp = line.find(' ');
    t->code = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    t->last_modified.clear();
    t->disposition.clear();
    return size * n;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string key = lower(line.substr(0, colon));
  std::string value(trim(line.substr(colon + 1)));
  if (key == "last-modified") t->last_modified = value;
  else if (key == "content-disposition") t->disposition = value;
  return size * n;
}

size_t write_cb(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::size_t len = size * n;
  // The body of an error status is kept for the message; only a 2xx answer's is the file.
  if (t->code < 200 || t->code >= 300) {
    if (t->code >= 400 && t->error_body.size() < 4096) t->error_body.append(data, std::min<std::size_t>(len, 4096));
    return len;
  }
  const char* p = data;
  std::size_t left = len;
  while (left > 0) {
    ssize_t w = ::write(t->fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      t->failed_write = true;
      return 0;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  t->hash.update(data, len);
  return len;
}

// A parameter of a Content-Disposition value (mime.ParseMediaType's, for the plain and the
// quoted forms).
std::string disposition_param(const std::string& value, const std::string& name) {
  std::vector<std::string> parts = split(value, ';');
  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::string p(trim(parts[i]));
    std::size_t eq = p.find('=');
    if (eq == std::string::npos || lower(std::string(trim(p.substr(0, eq)))) != name) continue;
    std::string v(trim(p.substr(eq + 1)));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      std::string out;
      for (std::size_t k = 1; k + 1 < v.size(); ++k) {
        if (v[k] == '\\' && k + 2 < v.size()) ++k;
        out += v[k];
      }
      return out;
    }
    return v;
  }
  return "";
}

std::string base_of(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  std::size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace

std::string download_file_name(const std::string& url_path, const std::string& disposition) {
  if (!url_path.empty() && url_path.back() != '/') {
    std::string b = base_of(url_path);
    if (!b.empty() && b != "/") return b;
  }
  if (!disposition.empty()) {
    std::string f = disposition_param(disposition, "filename");
    if (!f.empty() && f.back() != '/') {
      std::string b = base_of(f);
      if (!b.empty() && b != "/" && b != "." && b != "..") return b;
    }
  }
  return "";
}

std::optional<time_t> parse_http_date(const std::string& text) {
  for (const char* fmt : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    struct tm tm {};
    const char* end = ::strptime(text.c_str(), fmt, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

Fetched fetch_url(const std::string& url, const std::string& path) {
  const image::CurlLib& c = image::curl_lib();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw_sys("open", path);
  Transfer t;
  t.fd = fd.get();
  std::unique_ptr<CURL, decltype(c.easy_cleanup)> h(c.easy_init(), c.easy_cleanup);
  if (!h) throw Error("download " + url + ": curl_easy_init failed");
  char errbuf[CURL_ERROR_SIZE] = {};
  c.easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  c.easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  c.easy_setopt(h.get(), CURLOPT_ERRORBUFFER, errbuf);
  c.easy_setopt(h.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  c.easy_setopt(h.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  c.easy_setopt(h.get(), CURLOPT_FOLLOWLOCATION, 1L);
  c.easy_setopt(h.get(), CURLOPT_MAXREDIRS, 10L);
  c.easy_setopt(h.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  c.easy_setopt(h.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  c.easy_setopt(h.get(), CURLOPT_LOW_SPEED_TIME, 120L);
  c.easy_setopt(h.get(), CURLOPT_USERAGENT, "hoist-build");
  c.easy_setopt(h.get(), CURLOPT_HEADERFUNCTION, header_cb);
  c.easy_setopt(h.get(), CURLOPT_HEADERDATA, &t);
  c.easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, write_cb);
  c.easy_setopt(h.get(), CURLOPT_WRITEDATA, &t);
  CURLcode rc = c.easy_perform(h.get());
  long code = 0;
  c.easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &code);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && code >= 400)) {
    if (t.failed_write) throw_sys("write", path);
    throw Error("error downloading '" + url + "': " + (errbuf[0] ? std::string(errbuf) : c.easy_strerror(rc)));
  }
  if (code >= 400) {
    // Go's resp.Status: "404 Not Found".
    std::string status = t.status_line;
    std::size_t sp = status.find(' ');
    status = sp == std::string::npos ? std::to_string(code) : std::string(trim(status.substr(sp + 1)));
    throw Error("failed to GET " + url + " with status " + status + ": " + t.error_body);
  }
  Fetched f;
  f.path = path;
  std::string url_path;
  {
    // The path of the URL as given (dockerd names the file from the request's URL).
    std::string u = url;
    std::size_t scheme = u.find("://");
    std::size_t slash = scheme == std::string::npos ? std::string::npos : u.find('/', scheme + 3);
    if (slash != std::string::npos) {
      url_path = u.substr(slash);
      std::size_t q = url_path.find_first_of("?#");
      if (q != std::string::npos) url_path.resize(q);
    }
  }
  f.file_name = download_file_name(url_path, t.disposition);
  if (!t.last_modified.empty()) f.mtime = parse_http_date(t.last_modified);
  f.sha256 = t.hash.digest().str();
  return f;
}

}  // namespace hoist::engine
