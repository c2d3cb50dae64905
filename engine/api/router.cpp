#include "engine/api/router.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strings.h"

namespace hoist::engine {

using nlohmann::json;

std::string url_decode(std::string_view s, bool plus_space) {
  std::string out;
  out.reserve(s.size());
  auto hexv = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
      out += char(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
      i += 2;
    } else if (c == '+' && plus_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out[url_decode(part, true)] = "";
    else
      out[url_decode(part.substr(0, eq), true)] = url_decode(part.substr(eq + 1), true);
  }
  return out;
}

std::vector<std::string> query_values(std::string_view target, const std::string& key) {
  std::vector<std::string> out;
  auto qm = target.find('?');
  if (qm == std::string_view::npos) return out;
  auto q = target.substr(qm + 1);
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (url_decode(part.substr(0, eq), true) == key) out.push_back(url_decode(part.substr(eq + 1), true));
  }
  return out;
}

int compare_versions(std::string_view a, std::string_view b) {
  auto pa = split(a, '.'), pb = split(b, '.');
  for (std::size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    long x = i < pa.size() ? std::atol(pa[i].c_str()) : 0;
    long y = i < pb.size() ? std::atol(pb[i].c_str()) : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

ParsedTarget parse_target(std::string_view target) {
  ParsedTarget t;
  auto qm = target.find('?');
  std::string_view raw_path = target.substr(0, qm);
  if (qm != std::string_view::npos) t.query = parse_query(target.substr(qm + 1));
  // Version prefix: /v1.43/...
  if (raw_path.size() > 2 && raw_path[0] == '/' && raw_path[1] == 'v') {
    auto slash = raw_path.find('/', 1);
    std::string_view v = raw_path.substr(2, slash == std::string_view::npos ? std::string_view::npos : slash - 2);
    bool numeric = !v.empty() && v.find_first_not_of("0123456789.") == std::string_view::npos &&
                   v.find('.') != std::string_view::npos;
    if (numeric) {
      if (compare_versions(v, kMinApiVersion) < 0)
        throw InvalidArgument("client version " + std::string(v) + " is too old. Minimum supported API version is " +
                              kMinApiVersion + ", please upgrade your client to a newer version");
      if (compare_versions(v, kMaxApiVersion) > 0)
        throw InvalidArgument("client version " + std::string(v) + " is too new. Maximum supported API version is " +
                              kMaxApiVersion);
      t.version = std::string(v);
      raw_path = slash == std::string_view::npos ? std::string_view("/") : raw_path.substr(slash);
    }
  }
  t.path = url_decode(raw_path, false);
  return t;
}

Filters parse_filters(const std::string& s) {
  Filters f;
  if (s.empty()) return f;
  json j = parse_json(s, "invalid filter");
  if (!j.is_object()) throw InvalidArgument("invalid filter: not an object");
  for (auto& [k, v] : j.items()) {
    auto& out = f[k];
    if (v.is_array()) {
      for (auto& x : v) {
        if (!x.is_string()) throw InvalidArgument("invalid filter '" + k + "'");
        out.push_back(x.get<std::string>());
      }
    } else if (v.is_object()) {
      for (auto& [val, on] : v.items())
        if (!on.is_boolean() || on.get<bool>()) out.push_back(val);
    } else if (v.is_string()) {
      out.push_back(v.get<std::string>());
    } else {
      throw InvalidArgument("invalid filter '" + k + "'");
    }
  }
  return f;
}

std::string error_body(const std::string& msg) { return dump_json(json{{"message", msg}}) + "\n"; }

int status_for(const std::exception& e) {
  if (dynamic_cast<const NotFound*>(&e)) return 404;
  if (dynamic_cast<const Conflict*>(&e)) return 409;
  if (dynamic_cast<const InvalidArgument*>(&e)) return 400;
  if (dynamic_cast<const Forbidden*>(&e)) return 403;
  if (dynamic_cast<const json::exception*>(&e)) return 400;
  if (dynamic_cast<const PayloadTooLarge*>(&e)) return 413;
  return 500;
}

namespace {
std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  for (auto& s : split(path, '/'))
    if (!s.empty()) out.push_back(s);
  return out;
}
bool is_param(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }
bool is_rest(const std::string& s) { return is_param(s) && s.size() > 5 && s.compare(s.size() - 4, 4, "...}") == 0; }
}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler h) {
  routes_.push_back({method, segments(pattern), std::move(h)});
}

bool Router::match_route(const Route& r, const std::vector<std::string>& segs,
                         std::map<std::string, std::string>& params) {
  std::size_t rest = r.segs.size();
  for (std::size_t i = 0; i < r.segs.size(); ++i)
    if (is_rest(r.segs[i])) rest = i;
  std::map<std::string, std::string> p;
  if (rest == r.segs.size()) {
    if (segs.size() != r.segs.size()) return false;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      if (is_param(r.segs[i]))
        p[r.segs[i].substr(1, r.segs[i].size() - 2)] = segs[i];
      else if (r.segs[i] != segs[i])
        return false;
    }
  } else {
    std::size_t after = r.segs.size() - rest - 1;
    if (segs.size() < rest + 1 + after) return false;
    for (std::size_t i = 0; i < rest; ++i) {
      if (is_param(r.segs[i]))
        p[r.segs[i].substr(1, r.segs[i].size() - 2)] = segs[i];
      else if (r.segs[i] != segs[i])
        return false;
    }
    for (std::size_t k = 0; k < after; ++k) {
      const auto& pat = r.segs[r.segs.size() - 1 - k];
      const auto& got = segs[segs.size() - 1 - k];
      if (is_param(pat))
        p[pat.substr(1, pat.size() - 2)] = got;
      else if (pat != got)
        return false;
    }
    std::string joined;
    for (std::size_t i = rest; i < segs.size() - after; ++i) joined += (joined.empty() ? "" : "/") + segs[i];
    const auto& rp = r.segs[rest];
    p[rp.substr(1, rp.size() - 5)] = joined;
  }
  params = std::move(p);
  return true;
}

const Handler* Router::match(const std::string& method, const std::string& path,
                             std::map<std::string, std::string>& params) const {
  auto segs = segments(path);
  // Exact routes (no "..." segment) win over rest routes: "/images/json" before "/images/{name...}".
  auto find = [&]() -> const Handler* {
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& r : routes_) {
        bool has_rest = false;
        for (auto& s : r.segs) has_rest |= is_rest(s);
        if (has_rest != (pass == 1)) continue;
        if (r.method != method) continue;
        if (match_route(r, segs, params)) return &r.handler;
      }
    }
    return nullptr;
  };
  if (auto h = find()) return h;
  // A container named by a link's name, "/containers/LINKING/ALIAS/...": dockerd's {name:.*}.
  if (segs.size() >= 3 && segs[0] == "containers") {
    segs[1] += "/" + segs[2];
    segs.erase(segs.begin() + 2);
    return find();
  }
  return nullptr;
}

void Router::dispatch(Request& req, Response& res) const {
  res.headers["Api-Version"] = kApiVersion;
  res.headers["Docker-Experimental"] = "false";
  res.headers["Ostype"] = "linux";
  res.headers["Server"] = "Docker/24.0.0 (linux)";
  try {
    auto t = parse_target(req.target);
    req.path = std::move(t.path);
    req.version = std::move(t.version);
    req.query = std::move(t.query);
    if (!req.version.empty()) res.headers["Api-Version"] = req.version;
    const Handler* h = match(req.method, req.path, req.params);
    if (!h) {
      res.send(404, error_body("page not found"));
      return;
    }
    log::debug(req.method + " " + req.target);
    (*h)(req, res);
  } catch (const std::exception& e) {
    if (res.sent()) throw;  // mid-stream: the handler should have reported in-band
    int st = status_for(e);
    if (st == 500) log::warn(req.method + " " + req.target + ": " + e.what());
    std::string msg = e.what();
    if (dynamic_cast<const json::exception*>(&e)) msg = std::string("invalid JSON: ") + e.what();
    res.send(st, error_body(msg));
  }
}

}  // namespace hoist::engine
