#include "builder/build_args.h"

#include <algorithm>

#include "common/error.h"
#include "common/strings.h"

namespace hoist::builder {

std::string Platform::str() const { return os + "/" + arch + (variant.empty() ? "" : "/" + variant); }

Platform Platform::parse(const std::string& s, const Platform& host) {
  auto parts = split(s, '/');
  for (auto& p : parts)
    for (auto& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Platform p;
  auto bad = [&] { throw InvalidArgument("\"" + s + "\": unknown operating system or architecture: invalid argument"); };
  if (parts.empty() || parts.size() > 3 || parts[0].empty()) bad();
  // One component: an OS (the host's architecture then) or, as containerd reads it, a known
  // architecture (the host's OS then): "linux", "amd64", "x86_64", "arm64".
  static const std::set<std::string> kArches = {
      "386",  "amd64",  "amd64p32", "arm",      "armbe",  "arm64",   "arm64be", "loong64", "mips",
      "mipsle", "mips64", "mips64le", "ppc",    "ppc64",  "ppc64le", "riscv",   "riscv64", "s390",
      "s390x", "sparc",  "sparc64",  "wasm",    "x86_64", "x86-64",  "aarch64", "i386",    "armhf", "armel"};
  p.os = parts[0];
  if (parts.size() == 1 && kArches.count(parts[0])) {
    p.os = host.os;
    p.arch = parts[0];
  } else if (parts.size() == 1) {
    p.arch = host.arch;
    p.variant = host.variant;
  } else {
    p.arch = parts[1];
    if (p.arch.empty()) bad();
    if (parts.size() == 3) p.variant = parts[2];
  }
  // containerd's normalisation of the common spellings.
  if (p.arch == "x86_64" || p.arch == "x86-64") p.arch = "amd64";
  if (p.arch == "aarch64") p.arch = "arm64";
  if (p.arch == "arm64" && p.variant == "v8") p.variant.clear();
  if (p.arch == "i386") p.arch = "386";
  if (p.arch == "armhf") p.arch = "arm", p.variant = "v7";
  if (p.arch == "armel") p.arch = "arm", p.variant = "v6";
  if (p.arch == "arm" && p.variant.empty()) p.variant = "v7";
  if (p.arch == "arm" && p.variant.size() == 1) p.variant = "v" + p.variant;
  if (p.arch == "amd64" && p.variant == "v1") p.variant.clear();
  if (p.os == "macos") p.os = "darwin";
  return p;
}

bool is_proxy_arg(const std::string& k) {
  static const std::set<std::string> proxies = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                                "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy"};
  return proxies.count(k) != 0;
}

bool is_platform_arg(const std::string& k) {
  static const std::set<std::string> args = {"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                                             "BUILDPLATFORM",  "BUILDOS",  "BUILDARCH",  "BUILDVARIANT"};
  return args.count(k) != 0;
}

namespace {

std::optional<std::string> given(const BuildArgOptions& o, const std::string& key) {
  auto it = o.values.find(key);
  if (it == o.values.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> platform_value(const BuildArgOptions& o, const std::string& key) {
  const Platform& p = key.rfind("TARGET", 0) == 0 ? o.target : o.build;
  std::string field = key.substr(key.rfind("TARGET", 0) == 0 ? 6 : 5);
  if (field == "PLATFORM") return p.str();
  if (field == "OS") return p.os;
  if (field == "ARCH") return p.arch;
  if (field == "VARIANT") return p.variant;
  return std::nullopt;
}

bool env_has(const std::vector<std::string>& env, const std::string& key) {
  for (auto& e : env)
    if (std::string_view(e).substr(0, e.find('=')) == key) return true;
  return false;
}

}  // namespace

void GlobalArgs::declare(const std::string& key, const std::optional<std::string>& value) {
  if (!defaults_.count(key)) order_.push_back(key);
  defaults_[key] = value;
}

std::optional<std::string> GlobalArgs::default_of(const std::string& key) const {
  auto it = defaults_.find(key);
  return it == defaults_.end() ? std::nullopt : it->second;
}

std::vector<std::string> GlobalArgs::env() const {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : defaults_) {
    auto g = given(*opts_, k);
    if (g) out[k] = *g;
    else if (v) out[k] = *v;
  }
  for (auto& [k, v] : opts_->values)
    if (is_proxy_arg(k) && v) out[k] = *v;
  for (auto* k : {"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH",
                  "BUILDVARIANT"})
    if (!out.count(k)) {
      auto g = given(*opts_, k);
      out[k] = g ? *g : *platform_value(*opts_, k);
    }
  std::vector<std::string> env;
  for (auto& [k, v] : out) env.push_back(k + "=" + v);
  return env;
}

void StageArgs::declare(const std::string& key, const std::optional<std::string>& value) { values_[key] = value; }

std::optional<std::string> StageArgs::value_of(const std::string& key) const {
  const auto& opts = global_->options();
  if (auto g = given(opts, key)) return g;
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;  // a proxy arg not given, or not declared
  if (it->second) return it->second;
  if (auto d = global_->default_of(key)) return d;
  if (is_platform_arg(key)) return platform_value(opts, key);
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> StageArgs::visible(const std::vector<std::string>& env) const {
  std::set<std::string> keys;
  for (auto& [k, v] : values_) keys.insert(k);
  for (auto& [k, v] : global_->options().values)
    if (is_proxy_arg(k)) keys.insert(k);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& k : keys) {
    if (env_has(env, k)) continue;
    if (auto v = value_of(k)) out.emplace_back(k, *v);
  }
  return out;
}

std::vector<std::string> StageArgs::recorded(const std::vector<std::string>& env) const {
  std::vector<std::string> out;
  for (auto& [k, v] : visible(env))
    if (!is_proxy_arg(k) || declared(k)) out.push_back(k + "=" + v);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> unconsumed_build_args(const BuildArgOptions& opts, const std::set<std::string>& declared) {
  std::vector<std::string> out;
  for (auto& [k, v] : opts.values)
    if (!is_proxy_arg(k) && !declared.count(k)) out.push_back(k);
  return out;  // the map keeps them sorted
}

std::string unconsumed_warning(const std::vector<std::string>& unconsumed) {
  if (unconsumed.empty()) return "";
  return "[Warning] One or more build-args [" + join(unconsumed, " ") + "] were not consumed\n";
}

}  // namespace hoist::builder
