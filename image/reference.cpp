#include "image/reference.h"

#include "common/error.h"

namespace hoist::image {

namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;

[[noreturn]] void invalid(std::string_view input, std::string_view why) {
  throw Error("invalid reference format: " + std::string(why) + " (\"" + std::string(input) + "\")");
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_word(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_'; }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    auto sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

// domain := host[:port]; host := DNS labels separated by '.' or an IPv6 address in brackets.
bool valid_domain(std::string_view d) {
  std::string_view host = d, port;
  if (!d.empty() && d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos) return false;
    auto inner = d.substr(1, close - 1);
    if (inner.empty() || inner.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) return false;
    auto rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    host = {};
  } else if (auto colon = d.rfind(':'); colon != std::string_view::npos) {
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (!port.empty() && port.find_first_not_of("0123456789") != std::string_view::npos) return false;
  if (d.front() == '[') return true;
  if (host.empty()) return false;
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    auto label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!(is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-')) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength || !is_word(t.front())) return false;
  for (char c : t)
    if (!(is_word(c) || c == '.' || c == '-')) return false;
  return true;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Reference parse_impl(std::string_view input, bool default_tag) {
  if (input.empty()) invalid(input, "empty reference");
  std::string_view rest = input;
  Reference r;

  if (auto at = rest.find('@'); at != std::string_view::npos) {
    try {
      r.digest = Digest::parse(rest.substr(at + 1));
    } catch (const Error& e) {
      invalid(input, e.what());
    }
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag (a ':' before it belongs to the domain's port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    auto tag = rest.substr(colon + 1);
    if (!valid_tag(tag)) invalid(input, "invalid tag \"" + std::string(tag) + "\"");
    r.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) invalid(input, "missing repository name");

  // The first component is a domain if it has '.' or ':', is "localhost", or has upper case.
  auto first_slash = rest.find('/');
  std::string_view domain, path = rest;
  if (first_slash != std::string_view::npos) {
    auto first = rest.substr(0, first_slash);
    bool has_upper = first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || has_upper) {
      domain = first;
      path = rest.substr(first_slash + 1);
    }
  }
  if (!domain.empty() && !valid_domain(domain)) invalid(input, "invalid domain \"" + std::string(domain) + "\"");
  if (path.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos)
    invalid(input, "repository name must be lowercase");
  std::size_t start = 0;
  while (true) {
    auto end = path.find('/', start);
    auto comp = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!valid_path_component(comp)) invalid(input, "invalid repository name component \"" + std::string(comp) + "\"");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }

  r.domain = domain.empty() ? std::string(kDefaultDomain) : std::string(domain);
  if (r.domain == "index.docker.io") r.domain = std::string(kDefaultDomain);
  r.path = std::string(path);
  if (r.domain == kDefaultDomain && r.path.find('/') == std::string::npos) {
    if (is_hex64(r.path) && domain.empty())
      invalid(input, "cannot specify 64-byte hexadecimal strings as a repository name");
    r.path = "library/" + r.path;
  }
  if (r.name().size() > kMaxNameLength) invalid(input, "repository name must not be more than 255 characters");
  if (default_tag && r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

}  // namespace

Reference Reference::parse(std::string_view s) { return parse_impl(s, true); }
Reference Reference::parse_name_only(std::string_view s) { return parse_impl(s, false); }

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  if (path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) return path.substr(8);
  return path;
}

std::string Reference::familiar() const {
  std::string s = familiar_name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

bool looks_like_image_id(std::string_view s) {
  if (s.rfind("sha256:", 0) == 0) s.remove_prefix(7);
  return is_hex64(s);
}

}  // namespace hoist::image
