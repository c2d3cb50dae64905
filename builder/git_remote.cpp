// See git_remote.h.
#include "builder/git_remote.h"

#include "common/error.h"

namespace hoist::builder {

namespace {

bool starts(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool is_http(const std::string& s) { return starts(s, "http://") || starts(s, "https://"); }

// The URL's scheme as url.Parse gives it ("" when there is none).
std::string scheme(const std::string& s) {
  std::size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return "";
  for (std::size_t i = 0; i < colon; ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return "";
  }
  std::string out = s.substr(0, colon);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_git_transport(const std::string& s) {
  if (starts(s, "git@")) return true;
  std::string sc = scheme(s);
  return sc == "git" || sc == "http" || sc == "https" || sc == "ssh";
}

}  // namespace

bool is_git_url(const std::string& s) {
  if (starts(s, "git://") || starts(s, "github.com/") || starts(s, "git@")) return true;
  if (!is_http(s)) return false;
  // dockerd's `\.git(?:#.+)?$`
  std::size_t hash = s.find('#');
  if (hash != std::string::npos && hash + 1 < s.size()) return s.substr(0, hash).ends_with(".git");
  return s.ends_with(".git");
}

GitRemote parse_git_remote(const std::string& url) {
  std::string s = is_git_transport(url) ? url : "https://" + url;
  GitRemote r;
  std::size_t hash = s.find('#');
  std::string fragment = hash == std::string::npos ? "" : s.substr(hash + 1);
  r.remote = s.substr(0, hash);
  std::size_t colon = fragment.find(':');
  r.ref = fragment.substr(0, colon);
  if (colon != std::string::npos) r.subdir = fragment.substr(colon + 1);
  if (r.ref.empty()) r.ref = "master";
  if (r.ref[0] == '-') throw Error("invalid refspec: " + r.ref);
  return r;
}

bool is_git_source(const std::string& source) {
  return (is_git_url(source) && !starts(source, "github.com/")) || scheme(source) == "ssh";
}

bool is_ssh_git_remote(const std::string& remote) { return starts(remote, "git@") || scheme(remote) == "ssh"; }

GitRemote parse_git_source(const std::string& source) {
  GitRemote r = parse_git_remote(source);
  std::size_t hash = source.find('#');
  if (hash == std::string::npos || hash + 1 == source.size() || source[hash + 1] == ':') r.ref = "HEAD";
  return r;
}

}  // namespace hoist::builder
