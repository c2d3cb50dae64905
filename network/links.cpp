#include "network/links.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace hoist::network {

LinkSpec parse_link(const std::string& spec) {
  if (spec.empty()) throw Error("empty string specified for links");
  auto colon = spec.find(':');
  if (colon == std::string::npos) return {spec, spec};
  if (spec.find(':', colon + 1) != std::string::npos) throw Error("bad format for links: " + spec);
  std::string name = spec.substr(0, colon), alias = spec.substr(colon + 1);
  if (!name.empty() && name.front() == '/') {  // "/name:/linking/alias", as inspect shows it
    name.erase(0, 1);
    alias = alias.substr(alias.rfind('/') + 1);
  }
  return {name, alias};
}

HostEntry link_host_entry(const std::string& alias, const LinkedContainer& c) {
  std::string names = alias + " " + c.hostname;
  if (alias != c.name) names += " " + c.name;
  return {names, c.ip};
}

std::vector<std::string> link_env(const std::string& linking, const std::string& alias, LinkedContainer c) {
  std::string key;
  for (char ch : alias) key += ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto upper = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
  };
  // dockerd's order: by number, tcp first for the same number.
  auto& ports = c.ports;
  std::stable_sort(ports.begin(), ports.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second == "tcp" && b.second != "tcp");
  });
  std::vector<std::string> env;
  auto url = [&](const std::pair<std::uint16_t, std::string>& p) {
    return p.second + "://" + c.ip + ":" + std::to_string(p.first);
  };
  auto prefix = [&](std::uint16_t n, const std::string& proto) {
    return key + "_PORT_" + std::to_string(n) + "_" + upper(proto);
  };
  if (!ports.empty()) env.push_back(key + "_PORT=" + url(ports.front()));
  // Runs of consecutive numbers (dockerd's nextContiguous: the protocol is not compared).
  for (std::size_t i = 0; i < ports.size();) {
    std::size_t j = i;
    for (unsigned value = ports[i].first; j + 1 < ports.size() && ports[j + 1].first <= value + 1; ++value) ++j;
    if (j > i + 1) {
      const auto& p = ports[i];
      const auto& q = ports[j];
      auto pre = prefix(p.first, p.second);
      env.push_back(pre + "_START=" + url(p));
      env.push_back(pre + "_ADDR=" + c.ip);
      env.push_back(pre + "_PROTO=" + p.second);
      env.push_back(pre + "_PORT_START=" + std::to_string(p.first));
      auto end = prefix(p.first, q.second);
      env.push_back(end + "_END=" + url(q));
      env.push_back(end + "_PORT_END=" + std::to_string(q.first));
      i = j + 1;
    } else {
      ++i;
    }
  }
  for (const auto& p : ports) {
    auto pre = prefix(p.first, p.second);
    env.push_back(pre + "=" + url(p));
    env.push_back(pre + "_ADDR=" + c.ip);
    env.push_back(pre + "_PORT=" + std::to_string(p.first));
    env.push_back(pre + "_PROTO=" + p.second);
  }
  env.push_back(key + "_NAME=/" + linking + "/" + alias);
  for (const auto& kv : c.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    auto name = kv.substr(0, eq);
    if (name == "HOME" || name == "PATH") continue;
    env.push_back(key + "_ENV_" + kv);
  }
  // A range's _ADDR and _PROTO are its first port's too: once each (as the process gets them
  // from runc, which sets each variable once).
  std::vector<std::string> out;
  for (auto& v : env) {
    auto name = v.substr(0, v.find('='));
    if (std::none_of(out.begin(), out.end(), [&](const std::string& o) { return o.compare(0, name.size() + 1, name + "=") == 0; }))
      out.push_back(std::move(v));
  }
  return out;
}

}  // namespace hoist::network
