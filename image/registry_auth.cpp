// AuthFile (docker config.json credentials) and the registry client's pure helpers
// (registry_internal.h).
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/registry.h"
#include "image/registry_internal.h"

namespace hoist::image {

namespace detail {

namespace {
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}
}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  bool pad = false;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      pad = true;
      continue;
    }
    if (pad) return std::nullopt;  // data after padding
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a dangling sextet is not valid base64
  return out;
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::vector<Challenge> parse_www_authenticate(std::string_view h) {
  std::vector<Challenge> out;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto read_token = [&] {
    std::size_t b = i;
    while (i < h.size() && is_tchar(h[i])) ++i;
    return std::string(h.substr(b, i - b));
  };
  while (i < h.size()) {
    skip_ws();
    while (i < h.size() && (h[i] == ',' || h[i] == ' ' || h[i] == '\t')) ++i;
    if (i >= h.size()) break;
    std::string scheme = read_token();
    if (scheme.empty()) break;  // junk
    Challenge c;
    c.scheme = lower(scheme);
    // Parameters: name=value pairs separated by commas, until a token that is not followed by '='
    // (the next challenge's scheme).
    while (i < h.size()) {
      skip_ws();
      while (i < h.size() && (h[i] == ',' || h[i] == ' ' || h[i] == '\t')) ++i;
      std::size_t save = i;
      std::string name = read_token();
      if (name.empty()) {
        i = h.size();
        break;
      }
      skip_ws();
      if (i >= h.size() || h[i] != '=') {
        // Not a parameter: the next challenge's scheme (a token68 is not used by registries).
        i = save;
        break;
      }
      ++i;  // '='
      skip_ws();
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        while (i < h.size() && h[i] != '"') {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i++];
        }
        if (i < h.size()) ++i;  // closing quote
      } else {
        std::size_t b = i;
        while (i < h.size() && h[i] != ',' && h[i] != ' ' && h[i] != '\t') ++i;
        value = std::string(h.substr(b, i - b));
      }
      c.params[lower(name)] = value;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::pair<std::string, std::string> split_host_port(std::string_view hp) {
  if (!hp.empty() && hp.front() == '[') {
    auto close = hp.find(']');
    if (close == std::string_view::npos) return {std::string(hp), ""};
    std::string host(hp.substr(1, close - 1));
    std::string port;
    if (close + 1 < hp.size() && hp[close + 1] == ':') port = std::string(hp.substr(close + 2));
    return {host, port};
  }
  auto colon = hp.rfind(':');
  // A bare IPv6 literal (several colons, no brackets) has no port.
  if (colon == std::string_view::npos || hp.find(':') != colon) return {std::string(hp), ""};
  return {std::string(hp.substr(0, colon)), std::string(hp.substr(colon + 1))};
}

namespace {

struct Addr {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char bytes[16] = {};
};

std::optional<Addr> parse_ip(const std::string& s) {
  Addr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4.
Addr unmap(Addr a) {
  static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family == AF_INET6 && std::memcmp(a.bytes, prefix, 12) == 0) {
    Addr r;
    r.family = AF_INET;
    std::memcpy(r.bytes, a.bytes + 12, 4);
    return r;
  }
  return a;
}

struct Cidr {
  Addr net;
  int bits = 0;
  bool contains(const Addr& a0) const {
    Addr a = unmap(a0);
    if (a.family != net.family) return false;
    int full = bits / 8, rest = bits % 8;
    if (std::memcmp(a.bytes, net.bytes, static_cast<std::size_t>(full)) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a.bytes[full] & mask) == (net.bytes[full] & mask);
  }
};

std::optional<Cidr> parse_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto ip = parse_ip(s.substr(0, slash));
  if (!ip) return std::nullopt;
  auto bits_s = s.substr(slash + 1);
  if (bits_s.empty() || bits_s.size() > 3 || !std::all_of(bits_s.begin(), bits_s.end(), ::isdigit)) return std::nullopt;
  int bits = std::stoi(bits_s);
  if (bits > (ip->family == AF_INET ? 32 : 128)) return std::nullopt;
  return Cidr{*ip, bits};
}

std::vector<Addr> resolve(const std::string& host) {
  std::vector<Addr> out;
  if (auto ip = parse_ip(host)) {
    out.push_back(unmap(*ip));
    return out;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (auto* p = res; p; p = p->ai_next) {
    Addr a;
    if (p->ai_family == AF_INET) {
      a.family = AF_INET;
      std::memcpy(a.bytes, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, 4);
    } else if (p->ai_family == AF_INET6) {
      a.family = AF_INET6;
      std::memcpy(a.bytes, &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(unmap(a));
  }
  freeaddrinfo(res);
  return out;
}

}  // namespace

bool is_insecure_registry(const std::string& hostport, const std::vector<std::string>& insecure, bool loopback) {
  auto [host, port] = split_host_port(hostport);
  std::string lhost = lower(host);
  std::vector<Cidr> cidrs;
  for (auto& e0 : insecure) {
    std::string e = lower(std::string(trim(e0)));
    // Tolerate a scheme in the setting ("http://host:5000").
    for (const char* scheme : {"http://", "https://"})
      if (e.rfind(scheme, 0) == 0) e = e.substr(std::strlen(scheme));
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (auto c = parse_cidr(e)) {
      cidrs.push_back(*c);
      continue;
    }
    auto [eh, ep] = split_host_port(e);
    if (eh == lhost && (ep.empty() || ep == port)) return true;
  }
  if (loopback) {
    if (lhost == "localhost" || (lhost.size() > 10 && lhost.ends_with(".localhost"))) return true;
    cidrs.push_back(*parse_cidr("127.0.0.0/8"));
    cidrs.push_back(*parse_cidr("::1/128"));
  }
  if (cidrs.empty()) return false;
  // Docker Hub is never on loopback: no DNS lookup for the default rule.
  if (is_docker_hub(host) && cidrs.size() == (loopback ? 2u : 0u)) return false;
  for (auto& a : resolve(host))
    for (auto& c : cidrs)
      if (c.contains(a)) return true;
  return false;
}

bool is_docker_hub(const std::string& host) {
  auto h = lower(host);
  return h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io" || h == "registry.hub.docker.com";
}

std::string endpoint_host(const std::string& host) { return is_docker_hub(host) ? "registry-1.docker.io" : host; }

std::string normalize_auth_key(std::string_view key) {
  std::string k = lower(trim(key));
  for (const char* scheme : {"http://", "https://"})
    if (k.rfind(scheme, 0) == 0) k = k.substr(std::strlen(scheme));
  auto slash = k.find('/');
  if (slash != std::string::npos) k = k.substr(0, slash);
  if (is_docker_hub(k)) return "docker.io";
  return k;
}

std::optional<ErrorBody> parse_error_body(std::string_view body) {
  nlohmann::json j;
  try {
    j = hoist::parse_json(body, "registry error");
  } catch (const InvalidArgument&) {
    return std::nullopt;
  }
  if (!j.is_object()) return std::nullopt;
  ErrorBody e;
  auto str = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : std::string(); };
  if (auto it = j.find("errors"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_object()) {
    const auto& first = (*it)[0];
    e.code = str(first.value("code", nlohmann::json()));
    e.message = str(first.value("message", nlohmann::json()));
  } else if (auto d = j.find("details"); d != j.end()) {
    e.message = str(*d);
  } else if (auto er = j.find("error"); er != j.end()) {
    e.code = str(*er);
    e.message = str(j.value("error_description", nlohmann::json()));
  } else if (auto m = j.find("message"); m != j.end()) {
    e.message = str(*m);
  }
  if (e.code.empty() && e.message.empty()) return std::nullopt;
  if (e.message.empty()) e.message = lower(e.code);
  return e;
}

std::string bare_media_type(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  return lower(trim(ct));
}

}  // namespace detail

// ---- AuthFile ------------------------------------------------------------------------------

namespace {

nlohmann::json parse_auth_doc(const std::string& text, const std::string& path) {
  nlohmann::json j = hoist::parse_json(text, "auth file " + path);
  if (!j.is_object()) throw Error("auth file " + path + ": not a JSON object");
  if (j.contains("auths") && !j["auths"].is_object()) throw Error("auth file " + path + ": \"auths\" is not an object");
  return j;
}

// The keys of `auths` that name `host`: the canonical key first, then any spelling that normalises
// to the same host ("https://host/v1/", "http://host").
std::vector<std::string> matching_keys(const nlohmann::json& auths, const std::string& host) {
  std::vector<std::string> out;
  std::string canonical = AuthFile::key_for(host);
  if (auths.contains(canonical)) out.push_back(canonical);
  std::string want = detail::normalize_auth_key(host);
  for (auto it = auths.begin(); it != auths.end(); ++it)
    if (it.key() != canonical && detail::normalize_auth_key(it.key()) == want) out.push_back(it.key());
  return out;
}

}  // namespace

AuthFile AuthFile::load(const std::string& path) {
  AuthFile f;
  f.path_ = path;
  f.json_ = "{}";
  if (path.empty() || !path_exists(path)) return f;
  std::string text = read_file(path);
  if (trim(text).empty()) return f;
  f.json_ = parse_auth_doc(text, path).dump();
  return f;
}

std::string AuthFile::key_for(const std::string& host) {
  return detail::is_docker_hub(host) ? "https://index.docker.io/v1/" : host;
}

std::optional<Credentials> AuthFile::get(const std::string& host) const {
  auto j = parse_auth_doc(json_, path_);
  if (!j.contains("auths")) return std::nullopt;
  const auto& auths = j["auths"];
  for (auto& key : matching_keys(auths, host)) {
    const auto& e = auths[key];
    if (!e.is_object()) continue;
    Credentials c;
    if (auto a = e.find("auth"); a != e.end() && a->is_string() && !a->get<std::string>().empty()) {
      auto dec = detail::base64_decode(a->get<std::string>());
      if (!dec) throw Error("auth file " + path_ + ": entry \"" + key + "\": \"auth\" is not base64");
      auto colon = dec->find(':');
      if (colon == std::string::npos)
        throw Error("auth file " + path_ + ": entry \"" + key + "\": \"auth\" is not user:password");
      c.username = dec->substr(0, colon);
      c.password = dec->substr(colon + 1);
    } else {
      if (auto u = e.find("username"); u != e.end() && u->is_string()) c.username = u->get<std::string>();
      if (auto p = e.find("password"); p != e.end() && p->is_string()) c.password = p->get<std::string>();
    }
    if (auto t = e.find("identitytoken"); t != e.end() && t->is_string()) c.identity_token = t->get<std::string>();
    if (!c.empty()) return c;
  }
  return std::nullopt;
}

void AuthFile::set(const std::string& host, const Credentials& c) {
  auto j = parse_auth_doc(json_, path_);
  auto& auths = j["auths"];
  if (!auths.is_object()) auths = nlohmann::json::object();
  // Other spellings of the same host would shadow nothing (the canonical key is read first) but
  // would keep stale secrets around.
  for (auto& k : matching_keys(auths, host))
    if (k != key_for(host)) auths.erase(k);
  auto& e = auths[key_for(host)];
  if (!e.is_object()) e = nlohmann::json::object();
  e.erase("username");
  e.erase("password");
  if (!c.username.empty() || !c.password.empty())
    e["auth"] = detail::base64_encode(c.username + ":" + c.password);
  else
    e.erase("auth");
  if (!c.identity_token.empty())
    e["identitytoken"] = c.identity_token;
  else
    e.erase("identitytoken");
  json_ = j.dump();
}

bool AuthFile::erase(const std::string& host) {
  auto j = parse_auth_doc(json_, path_);
  if (!j.contains("auths")) return false;
  auto keys = matching_keys(j["auths"], host);
  for (auto& k : keys) j["auths"].erase(k);
  json_ = j.dump();
  return !keys.empty();
}

void AuthFile::save() const {
  if (path_.empty()) throw Error("save auth file: no path");
  auto slash = path_.rfind('/');
  if (slash != std::string::npos && slash > 0) mkdir_all(path_.substr(0, slash), 0700);
  auto j = parse_auth_doc(json_, path_);
  write_file_atomic(path_, j.dump(1, '\t') + "\n", 0600);
}

}  // namespace hoist::image
