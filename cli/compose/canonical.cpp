// Short syntaxes to long forms and values to their types, as `docker compose config` prints them.
#include <algorithm>
#include <cmath>
#include <set>

#include "cli/compose/internal.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"

namespace hoist::compose::detail {

std::string join_path(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& p : path) s += (s.empty() ? "" : ".") + p;
  return s;
}

bool is_reset(const json& v) { return v.is_object() && v.size() == 1 && v.contains(kResetKey); }
bool is_override(const json& v) { return v.is_object() && v.size() == 1 && v.contains(kOverrideKey); }

namespace {

[[noreturn]] void type_error(const std::string& path, const char* want) {
  throw Error(path + " must be a " + want);
}

std::string scalar_string(const json& v, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    std::string s = json(d).dump();
    return s;
  }
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  type_error(path, "string");
}

bool to_bool(const json& v, const std::string& path) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    if (s == "true" || s == "yes" || s == "y" || s == "on" || s == "1") return true;
    if (s == "false" || s == "no" || s == "n" || s == "off" || s == "0") return false;
    throw Error(path + ": invalid boolean: " + v.get<std::string>());
  }
  type_error(path, "boolean");
}

long long to_int(const json& v, const std::string& path) {
  if (v.is_number_integer()) return v.get<long long>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0' && errno == 0) return n;
    throw Error(path + ": failed to cast to expected type: strconv.Atoi: parsing \"" + s + "\": invalid syntax");
  }
  type_error(path, "integer");
}

// A list of strings, or one string as a list of one.
json string_or_list(const json& v, const std::string& path) {
  if (v.is_null()) return v;
  if (v.is_string()) return json::array({v});
  if (!v.is_array()) type_error(path, "string or array");
  json out = json::array();
  for (const auto& item : v) out.push_back(scalar_string(item, path));
  return out;
}

// environment, labels, args, sysctls... as a map of strings (a null value kept: "set from the
// environment" or "no value").
json to_mapping(const json& v, const std::string& path, char sep = '=') {
  if (v.is_null() || is_reset(v)) return v;
  json out = json::object();
  if (v.is_object()) {
    for (const auto& [k, item] : v.items())
      out[k] = item.is_null() ? json(nullptr) : json(scalar_string(item, path + "." + k));
    return out;
  }
  if (!v.is_array()) type_error(path, "array or mapping");
  for (const auto& item : v) {
    std::string s = scalar_string(item, path);
    auto eq = s.find(sep);
    if (eq == std::string::npos) out[s] = nullptr;
    else out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

json duration(const json& v, const std::string& path) {
  if (v.is_null()) return v;
  std::string s = scalar_string(v, path);
  try {
    return format_duration(parse_go_duration_ns(s));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

// "[ip:][host[-range]:]container[-range][/proto]" → one long entry per container port.
bool parse_range(const std::string& s, unsigned& lo, unsigned& hi) {
  auto one = [](const std::string& p, unsigned& out) {
    if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return false;
    out = static_cast<unsigned>(std::stoul(p));
    return out <= 65535;
  };
  auto dash = s.find('-');
  if (dash == std::string::npos) return one(s, lo) && (hi = lo, true);
  return one(s.substr(0, dash), lo) && one(s.substr(dash + 1), hi) && lo <= hi;
}

void short_port(const std::string& spec, const std::string& path, json& out) {
  std::string rest = spec, proto = "tcp";
  if (auto slash = rest.rfind('/'); slash != std::string::npos) {
    proto = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (proto != "tcp" && proto != "udp" && proto != "sctp") throw Error(path + ": invalid proto: " + proto);
  }
  std::string ip, host, container;
  auto last = rest.rfind(':');
  if (last == std::string::npos) {
    container = rest;
  } else {
    container = rest.substr(last + 1);
    std::string front = rest.substr(0, last);
    if (!front.empty() && front.front() == '[') {  // [v6]:host
      auto close = front.find(']');
      if (close == std::string::npos) throw Error(path + ": invalid IP address: " + front);
      ip = front.substr(1, close - 1);
      host = close + 1 < front.size() && front[close + 1] == ':' ? front.substr(close + 2) : "";
    } else if (auto c = front.rfind(':'); c != std::string::npos) {
      ip = front.substr(0, c);
      host = front.substr(c + 1);
    } else {
      host = front;
    }
    if (!ip.empty()) {
      bool ok = ip.find_first_not_of("0123456789abcdefABCDEF.:") == std::string::npos;
      if (!ok) throw Error(path + ": invalid IP address: " + ip);
    }
  }
  unsigned clo, chi, hlo = 0, hhi = 0;
  if (!parse_range(container, clo, chi)) throw Error(path + ": invalid containerPort: " + container);
  if (!host.empty() && !parse_range(host, hlo, hhi)) throw Error(path + ": invalid hostPort: " + host);
  unsigned count = chi - clo + 1;
  if (!host.empty() && hhi - hlo + 1 != count && count != 1)
    throw Error(path + ": invalid ranges specified for container and host Ports: " + container + " and " + host);
  for (unsigned i = 0; i < count; ++i) {
    json p = {{"mode", "ingress"}, {"target", clo + i}, {"protocol", proto}};
    if (!ip.empty()) p["host_ip"] = ip;
    if (!host.empty()) {
      if (count == 1 && hhi != hlo) p["published"] = host;
      else p["published"] = std::to_string(hlo + i);
    }
    out.push_back(std::move(p));
  }
}

json ports(const json& v, const std::string& path) {
  if (!v.is_array()) type_error(path, "array");
  json out = json::array();
  for (const auto& item : v) {
    if (item.is_number_integer()) {
      short_port(std::to_string(item.get<long long>()), path, out);
    } else if (item.is_string()) {
      short_port(item.get<std::string>(), path, out);
    } else if (item.is_object()) {
      json p = item;
      if (!p.contains("target")) throw Error(path + ": target is required");
      long long t = to_int(p["target"], path + ".target");
      if (t < 0 || t > 65535) throw Error(path + ": invalid containerPort: " + std::to_string(t));
      p["target"] = t;
      if (p.contains("published") && !p["published"].is_null()) {
        std::string pub = scalar_string(p["published"], path + ".published");
        unsigned lo, hi;
        if (!pub.empty() && !parse_range(pub, lo, hi)) throw Error(path + ": invalid hostPort: " + pub);
        p["published"] = pub;
      }
      if (!p.contains("mode")) p["mode"] = "ingress";
      if (!p.contains("protocol")) p["protocol"] = "tcp";
      out.push_back(std::move(p));
    } else {
      throw Error(path + ": invalid type " + std::string(item.type_name()) + " for port");
    }
  }
  return out;
}

bool looks_like_path(const std::string& s) {
  return s.starts_with("/") || s.starts_with(".") || s.starts_with("~") || s == "." || s == "..";
}

json volume(const json& item, const std::string& path) {
  if (item.is_object()) {
    json v = item;
    if (!v.contains("type")) throw Error(path + ": type is required");
    std::string type = scalar_string(v["type"], path + ".type");
    static const std::set<std::string> types = {"bind", "volume", "tmpfs", "npipe", "cluster", "image"};
    if (!types.count(type)) throw Error(path + ".type must be one of the following: \"bind\", \"volume\", \"tmpfs\", \"image\", \"npipe\", \"cluster\"");
    if (!v.contains("target") && type != "cluster") throw Error(path + ": target is required");
    if (v.contains("read_only")) v["read_only"] = to_bool(v["read_only"], path + ".read_only");
    if (type == "bind" && !v.contains("bind")) v["bind"] = {{"create_host_path", true}};
    if (v.contains("bind") && v["bind"].is_object() && v["bind"].contains("create_host_path"))
      v["bind"]["create_host_path"] = to_bool(v["bind"]["create_host_path"], path + ".bind.create_host_path");
    if (v.contains("volume") && v["volume"].is_object() && v["volume"].contains("nocopy"))
      v["volume"]["nocopy"] = to_bool(v["volume"]["nocopy"], path + ".volume.nocopy");
    if (v.contains("tmpfs") && v["tmpfs"].is_object() && v["tmpfs"].contains("size"))
      v["tmpfs"]["size"] = parse_bytes(v["tmpfs"]["size"], path + ".tmpfs.size");
    return v;
  }
  if (!item.is_string()) throw Error(path + ": invalid type " + std::string(item.type_name()) + " for service volume");
  std::string spec = item.get<std::string>();
  if (spec.empty()) throw Error(path + ": invalid empty volume spec");
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= spec.size(); ++i)
    if (i == spec.size() || spec[i] == ':') parts.push_back(spec.substr(start, i - start)), start = i + 1;
  if (parts.size() > 3) throw Error(path + ": invalid spec: " + spec + ": too many colons");
  json v = json::object();
  if (parts.size() == 1) {
    v = {{"type", "volume"}, {"target", parts[0]}, {"volume", json::object()}};
    return v;
  }
  std::string src = parts[0], dst = parts[1];
  if (src.empty() || dst.empty()) throw Error(path + ": invalid spec: " + spec);
  bool bind = looks_like_path(src);
  v = {{"type", bind ? "bind" : "volume"}, {"source", src}, {"target", dst}};
  if (bind) v["bind"] = {{"create_host_path", true}};
  else v["volume"] = json::object();
  if (parts.size() == 3) {
    for (const auto& opt : [&] {
           std::vector<std::string> o;
           std::size_t s = 0;
           const std::string& m = parts[2];
           for (std::size_t i = 0; i <= m.size(); ++i)
             if (i == m.size() || m[i] == ',') o.push_back(m.substr(s, i - s)), s = i + 1;
           return o;
         }()) {
      if (opt == "ro") v["read_only"] = true;
      else if (opt == "rw") continue;
      else if (opt == "nocopy" && !bind) v["volume"]["nocopy"] = true;
      else if ((opt == "z" || opt == "Z") && bind) v["bind"]["selinux"] = opt;
      else if (bind && (opt == "shared" || opt == "rshared" || opt == "slave" || opt == "rslave" || opt == "private" ||
                        opt == "rprivate"))
        v["bind"]["propagation"] = opt;
      else if (opt == "consistent" || opt == "cached" || opt == "delegated") v["consistency"] = opt;
      else throw Error(path + ": invalid spec: " + spec + ": unknown option \"" + opt + "\"");
    }
  }
  return v;
}

json file_mount(const json& item, const std::string& path) {
  if (item.is_string()) return json{{"source", item}};
  if (!item.is_object()) type_error(path, "string or mapping");
  json v = item;
  for (const char* k : {"uid", "gid"})
    if (v.contains(k)) v[k] = scalar_string(v[k], path + "." + k);
  if (v.contains("mode") && v["mode"].is_string()) {  // octal as written
    std::string m = v["mode"];
    char* end = nullptr;
    long n = std::strtol(m.c_str(), &end, 8);
    if (m.empty() || *end) throw Error(path + ".mode: invalid mode " + m);
    v["mode"] = n;
  }
  return v;
}

json depends_on(const json& v, const std::string& path) {
  json out = json::object();
  if (v.is_array()) {
    for (const auto& s : v) out[scalar_string(s, path)] = {{"condition", "service_started"}, {"required", true}};
    return out;
  }
  if (!v.is_object()) type_error(path, "array or mapping");
  for (const auto& [name, d] : v.items()) {
    std::string p = path + "." + name;
    json dep = d.is_null() ? json::object() : d;
    if (!dep.is_object()) type_error(p, "mapping");
    std::string cond = dep.contains("condition") ? scalar_string(dep["condition"], p + ".condition") : "service_started";
    if (cond != "service_started" && cond != "service_healthy" && cond != "service_completed_successfully")
      throw Error(p + ".condition must be one of the following: \"service_started\", \"service_healthy\", "
                      "\"service_completed_successfully\"");
    json out_dep = {{"condition", cond}, {"required", dep.contains("required") ? to_bool(dep["required"], p + ".required") : true}};
    if (dep.contains("restart") && to_bool(dep["restart"], p + ".restart")) out_dep["restart"] = true;
    out[name] = out_dep;
  }
  return out;
}

json healthcheck(const json& v, const std::string& path) {
  if (!v.is_object()) type_error(path, "mapping");
  json h = v;
  if (h.contains("test") && !is_override(h["test"]) && !is_reset(h["test"])) {
    json t = h["test"];
    if (t.is_string()) t = json::array({"CMD-SHELL", t});
    if (!t.is_array()) type_error(path + ".test", "string or array");
    if (!t.empty()) {
      std::string first = t[0].is_string() ? t[0].get<std::string>() : "";
      if (first != "CMD" && first != "CMD-SHELL" && first != "NONE")
        throw Error("healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\"");
    }
    h["test"] = t;
  }
  for (const char* k : {"interval", "timeout", "start_period", "start_interval"})
    if (h.contains(k)) h[k] = duration(h[k], path + "." + k);
  if (h.contains("retries")) h["retries"] = to_int(h["retries"], path + ".retries");
  if (h.contains("disable")) h["disable"] = to_bool(h["disable"], path + ".disable");
  return h;
}

json ulimits(const json& v, const std::string& path) {
  if (!v.is_object()) type_error(path, "mapping");
  json out = json::object();
  for (const auto& [name, u] : v.items()) {
    std::string p = path + "." + name;
    if (u.is_object()) {
      if (!u.contains("soft") || !u.contains("hard")) throw Error(p + ": soft and hard are required");
      out[name] = {{"soft", to_int(u["soft"], p + ".soft")}, {"hard", to_int(u["hard"], p + ".hard")}};
    } else {
      out[name] = to_int(u, p);
    }
  }
  return out;
}

// build.ssh as Compose v2 prints it (compose-go's SSHKey): a list of "<id>", or "<id>: <path>"
// for an entry with a path (the list form's "<id>=<path>", the mapping's <id>: <path>; a null or
// empty path is none).
json build_ssh(const json& v, const std::string& path) {
  json out = json::array();
  auto add = [&](const std::string& id, const std::string& where) { out.push_back(where.empty() ? id : id + ": " + where); };
  if (v.is_object()) {
    for (const auto& [id, p] : v.items()) {
      if (!p.is_null() && !p.is_string()) type_error(path + "." + id, "string");
      add(id, p.is_null() ? "" : p.get<std::string>());
    }
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_string()) type_error(path, "list of strings");
      std::string s = e.get<std::string>();
      auto eq = s.find('=');
      add(s.substr(0, eq), eq == std::string::npos ? "" : s.substr(eq + 1));
    }
  } else {
    type_error(path, "list or mapping");
  }
  return out;
}

json build(const json& v, const std::string& path) {
  json b = v.is_string() ? json{{"context", v}} : v;
  if (!b.is_object()) type_error(path, "string or mapping");
  if (!b.contains("context")) b["context"] = ".";
  if (b.contains("dockerfile") && b.contains("dockerfile_inline"))
    throw Error("build: dockerfile and dockerfile_inline are mutually exclusive");
  if (!b.contains("dockerfile") && !b.contains("dockerfile_inline")) b["dockerfile"] = "Dockerfile";
  for (const char* k : {"args", "labels", "additional_contexts"})
    if (b.contains(k)) b[k] = to_mapping(b[k], path + "." + k);
  for (const char* k : {"cache_from", "cache_to", "tags", "platforms", "no_cache_filter"})
    if (b.contains(k)) b[k] = string_or_list(b[k], path + "." + k);
  if (b.contains("secrets")) {
    json s = json::array();
    for (const auto& item : b["secrets"]) s.push_back(file_mount(item, path + ".secrets"));
    b["secrets"] = s;
  }
  if (b.contains("ssh")) b["ssh"] = build_ssh(b["ssh"], path + ".ssh");
  if (b.contains("ulimits")) b["ulimits"] = ulimits(b["ulimits"], path + ".ulimits");
  if (b.contains("shm_size")) b["shm_size"] = parse_bytes(b["shm_size"], path + ".shm_size");
  for (const char* k : {"no_cache", "pull", "privileged"})
    if (b.contains(k)) b[k] = to_bool(b[k], path + "." + k);
  return b;
}

json extra_hosts(const json& v, const std::string& path) {
  // host → [ip...], printed as "host=ip".
  json out = json::array();
  auto add = [&](const std::string& host, const std::string& ip) { out.push_back(host + "=" + ip); };
  if (v.is_object()) {
    for (const auto& [host, ips] : v.items()) {
      if (ips.is_array())
        for (const auto& ip : ips) add(host, scalar_string(ip, path + "." + host));
      else
        add(host, scalar_string(ips, path + "." + host));
    }
    return out;
  }
  if (!v.is_array()) type_error(path, "array or mapping");
  for (const auto& item : v) {
    std::string s = scalar_string(item, path);
    auto eq = s.find('=');
    if (eq == std::string::npos) eq = s.find(':');  // host:ip (the ip may hold colons)
    if (eq == std::string::npos || eq == 0) throw Error(path + ": invalid extra host \"" + s + "\"");
    std::string ip = s.substr(eq + 1);
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    add(s.substr(0, eq), ip);
  }
  return out;
}

json deploy(const json& v, const std::string& path) {
  if (!v.is_object()) type_error(path, "mapping");
  json d = v;
  if (d.contains("replicas") && !d["replicas"].is_null()) {
    d["replicas"] = to_int(d["replicas"], path + ".replicas");
    if (d["replicas"].get<long long>() < 0) throw Error(path + ".replicas must be greater than or equal to 0");
  }
  if (d.contains("labels")) d["labels"] = to_mapping(d["labels"], path + ".labels");
  if (d.contains("resources") && d["resources"].is_object()) {
    for (const char* part : {"limits", "reservations"}) {
      if (!d["resources"].contains(part)) continue;
      json& r = d["resources"][part];
      std::string p = path + ".resources." + part;
      if (!r.is_object()) type_error(p, "mapping");
      if (r.contains("cpus")) {
        std::string s = scalar_string(r["cpus"], p + ".cpus");
        char* end = nullptr;
        double c = std::strtod(s.c_str(), &end);
        if (s.empty() || *end || !std::isfinite(c) || c < 0) throw Error(p + ".cpus: invalid cpus value " + s);
        r["cpus"] = c;
      }
      if (r.contains("memory")) r["memory"] = parse_bytes(r["memory"], p + ".memory");
      if (r.contains("pids")) r["pids"] = to_int(r["pids"], p + ".pids");
    }
  }
  return d;
}

// develop.watch[]: include/ignore as lists, initial_sync a boolean, the exec hook's command split
// (its shell form) and environment a mapping, as compose-go reads them.
json develop(const json& v, const std::string& path) {
  if (!v.is_object()) type_error(path, "mapping");
  json d = v;
  if (!d.contains("watch") || d["watch"].is_null()) return d;
  if (!d["watch"].is_array()) type_error(path + ".watch", "array");
  for (std::size_t i = 0; i < d["watch"].size(); ++i) {
    json& t = d["watch"][i];
    std::string at = path + ".watch[" + std::to_string(i) + "]";
    if (!t.is_object()) type_error(at, "mapping");
    for (const char* k : {"ignore", "include"})
      if (t.contains(k)) t[k] = string_or_list(t[k], at + "." + k);
    for (const char* k : {"path", "action", "target"})
      if (t.contains(k)) t[k] = scalar_string(t[k], at + "." + k);
    if (t.contains("initial_sync")) t["initial_sync"] = to_bool(t["initial_sync"], at + ".initial_sync");
    if (!t.contains("exec")) continue;
    json& x = t["exec"];
    if (!x.is_object()) type_error(at + ".exec", "mapping");
    if (x.contains("command"))
      x["command"] = x["command"].is_string() ? json(shell_split(x["command"].get<std::string>(), at + ".exec.command"))
                                              : string_or_list(x["command"], at + ".exec.command");
    if (x.contains("environment")) x["environment"] = to_mapping(x["environment"], at + ".exec.environment");
    if (x.contains("privileged")) x["privileged"] = to_bool(x["privileged"], at + ".exec.privileged");
    for (const char* k : {"user", "working_dir"})
      if (x.contains(k)) x[k] = scalar_string(x[k], at + ".exec." + k);
  }
  return d;
}

json service(const json& in, const std::string& path) {
  json s = in;
  auto each = [&](const char* key, auto&& fn) {
    if (!s.contains(key)) return;
    json& v = s[key];
    if (is_reset(v)) return;
    if (is_override(v)) {
      json& inner = v[kOverrideKey];
      if (!inner.is_null()) inner = fn(inner, path + "." + key);
      return;
    }
    if (v.is_null()) return;
    v = fn(v, path + "." + key);
  };
  each("build", build);
  each("command", [](const json& v, const std::string& p) {
    return v.is_string() ? json(shell_split(v.get<std::string>(), p)) : string_or_list(v, p);
  });
  each("entrypoint", [](const json& v, const std::string& p) {
    return v.is_string() ? json(shell_split(v.get<std::string>(), p)) : string_or_list(v, p);
  });
  for (const char* k : {"environment", "labels", "annotations", "sysctls"})
    each(k, [](const json& v, const std::string& p) { return to_mapping(v, p); });
  each("env_file", [](const json& v, const std::string& p) {
    json list = v.is_string() ? json::array({v}) : v;
    if (!list.is_array()) type_error(p, "string or array");
    json out = json::array();
    for (const auto& e : list) {
      if (e.is_string()) out.push_back({{"path", e}, {"required", true}});
      else if (e.is_object()) {
        json o = e;
        if (!o.contains("path")) throw Error(p + ": path is required");
        o["required"] = o.contains("required") ? to_bool(o["required"], p + ".required") : true;
        out.push_back(o);
      } else type_error(p, "string or mapping");
    }
    return out;
  });
  each("ports", ports);
  each("expose", [](const json& v, const std::string& p) { return string_or_list(v, p); });
  for (const char* k : {"dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop", "profiles", "security_opt",
                        "links", "external_links", "volumes_from", "group_add", "device_cgroup_rules", "label_file"})
    each(k, [](const json& v, const std::string& p) { return string_or_list(v, p); });
  each("volumes", [](const json& v, const std::string& p) {
    if (!v.is_array()) type_error(p, "array");
    json out = json::array();
    for (const auto& item : v) out.push_back(volume(item, p));
    return out;
  });
  each("networks", [](const json& v, const std::string& p) {
    json out = json::object();
    if (v.is_array()) {
      for (const auto& n : v) out[scalar_string(n, p)] = nullptr;
      return out;
    }
    if (!v.is_object()) type_error(p, "array or mapping");
    for (const auto& [name, n] : v.items()) {
      if (n.is_null()) { out[name] = nullptr; continue; }
      if (!n.is_object()) type_error(p + "." + name, "mapping");
      json c = n;
      if (c.contains("aliases")) c["aliases"] = string_or_list(c["aliases"], p + "." + name + ".aliases");
      if (c.contains("priority")) c["priority"] = to_int(c["priority"], p + "." + name + ".priority");
      out[name] = c;
    }
    return out;
  });
  each("develop", develop);
  each("depends_on", depends_on);
  for (const char* k : {"secrets", "configs"})
    each(k, [](const json& v, const std::string& p) {
      if (!v.is_array()) type_error(p, "array");
      json out = json::array();
      for (const auto& item : v) out.push_back(file_mount(item, p));
      return out;
    });
  each("healthcheck", healthcheck);
  each("stop_grace_period", duration);
  each("deploy", deploy);
  each("ulimits", ulimits);
  each("extra_hosts", extra_hosts);
  each("logging", [](const json& v, const std::string& p) {
    if (!v.is_object()) type_error(p, "mapping");
    json l = v;
    if (l.contains("options")) l["options"] = to_mapping(l["options"], p + ".options");
    return l;
  });
  for (const char* k : {"init", "privileged", "read_only", "stdin_open", "tty", "oom_kill_disable", "attach"})
    each(k, [](const json& v, const std::string& p) { return json(to_bool(v, p)); });
  for (const char* k : {"scale", "pids_limit", "cpu_shares", "cpu_count", "cpu_percent", "oom_score_adj", "mem_swappiness"})
    each(k, [](const json& v, const std::string& p) { return json(to_int(v, p)); });
  for (const char* k : {"mem_limit", "mem_reservation", "memswap_limit", "shm_size"})
    each(k, [](const json& v, const std::string& p) { return json(parse_bytes(v, p)); });
  each("cpus", [](const json& v, const std::string& p) {
    std::string s = scalar_string(v, p);
    char* end = nullptr;
    double c = std::strtod(s.c_str(), &end);
    if (s.empty() || *end || !std::isfinite(c) || c < 0) throw Error(p + ": invalid cpus value " + s);
    return json(c);
  });
  for (const char* k : {"image", "container_name", "hostname", "user", "working_dir", "stop_signal", "network_mode",
                        "pull_policy", "restart", "domainname", "platform", "pid", "ipc"})
    each(k, [](const json& v, const std::string& p) { return json(scalar_string(v, p)); });
  each("restart", [](const json& v, const std::string& p) {
    std::string r = v.get<std::string>();
    bool ok = r == "no" || r == "always" || r == "unless-stopped" || r == "on-failure";
    if (r.starts_with("on-failure:")) {
      std::string n = r.substr(11);
      ok = !n.empty() && std::all_of(n.begin(), n.end(), ::isdigit);
    }
    if (!ok) throw Error(p + ": invalid restart policy \"" + r + "\"");
    return v;
  });
  each("pull_policy", [](const json& v, const std::string& p) {
    std::string r = v.get<std::string>();
    static const std::set<std::string> ok = {"always", "never", "missing", "build", "if_not_present", "daily", "weekly", "refresh"};
    if (!ok.count(r) && !r.starts_with("every_")) throw Error(p + ": invalid pull policy \"" + r + "\"");
    return v;
  });
  each("extends", [](const json& v, const std::string& p) {
    json e = v.is_string() ? json{{"service", v}} : v;
    if (!e.is_object() || !e.contains("service")) throw Error(p + ".service is required");
    return e;
  });
  return s;
}

json top_level(const json& v, const std::string& path, bool networks) {
  json out = json::object();
  for (const auto& [name, item] : v.items()) {
    std::string p = path + "." + name;
    if (name.starts_with("x-") && path == "") continue;
    json r = item.is_null() ? json::object() : item;
    if (is_reset(r) || is_override(r)) { out[name] = r; continue; }
    if (!r.is_object()) type_error(p, "mapping");
    if (r.contains("external")) {
      json ext = r["external"];
      if (ext.is_object()) {
        if (ext.contains("name")) r["name"] = ext["name"];
        r["external"] = true;
      } else {
        r["external"] = to_bool(ext, p + ".external");
      }
    }
    if (r.contains("labels")) r["labels"] = to_mapping(r["labels"], p + ".labels");
    if (r.contains("driver_opts")) r["driver_opts"] = to_mapping(r["driver_opts"], p + ".driver_opts");
    if (networks) {
      for (const char* k : {"internal", "attachable", "enable_ipv6", "enable_ipv4"})
        if (r.contains(k)) r[k] = to_bool(r[k], p + "." + k);
    }
    out[name] = r;
  }
  return out;
}

}  // namespace

void canonicalize(json& file) {
  if (file.contains("services") && file["services"].is_object()) {
    for (auto& [name, svc] : file["services"].items()) {
      if (is_reset(svc)) continue;
      if (is_override(svc)) {
        svc[kOverrideKey] = service(svc[kOverrideKey], "services." + name);
        continue;
      }
      if (svc.is_null()) svc = json::object();
      svc = service(svc, "services." + name);
    }
  }
  if (file.contains("networks") && file["networks"].is_object()) file["networks"] = top_level(file["networks"], "networks", true);
  for (const char* k : {"volumes", "secrets", "configs"})
    if (file.contains(k) && file[k].is_object()) file[k] = top_level(file[k], k, false);
}

std::string format_duration(std::int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  unsigned long long u = ns < 0 ? 0ULL - static_cast<unsigned long long>(ns) : static_cast<unsigned long long>(ns);
  auto frac = [](unsigned long long v, unsigned long long unit, int digits) {
    std::string s = std::to_string(v / unit);
    unsigned long long rem = v % unit;
    if (rem) {
      std::string f = std::to_string(rem);
      f = std::string(digits - f.size(), '0') + f;
      while (!f.empty() && f.back() == '0') f.pop_back();
      s += "." + f;
    }
    return s;
  };
  if (u < 1000ULL) return sign + std::to_string(u) + "ns";
  if (u < 1000000ULL) return sign + frac(u, 1000ULL, 3) + "\u00b5s";
  if (u < 1000000000ULL) return sign + frac(u, 1000000ULL, 6) + "ms";
  std::string out;
  unsigned long long h = u / 3600000000000ULL, m = (u / 60000000000ULL) % 60;
  unsigned long long rest = u % 60000000000ULL;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  out += frac(rest, 1000000000ULL, 9) + "s";
  return sign + out;
}

std::int64_t parse_bytes(const json& v, const std::string& path) {
  if (v.is_number_integer()) {
    if (v.get<long long>() < 0) throw Error(path + ": invalid size " + v.dump());
    return v.get<long long>();
  }
  if (!v.is_string()) type_error(path, "string or number");
  std::string s = v.get<std::string>();
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  std::string num = s.substr(0, i), unit = s.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  if (!unit.empty() && unit.back() == 'b' && unit != "b") unit.pop_back();
  if (unit.size() == 2 && unit.back() == 'i') unit.pop_back();
  double mul = unit.empty() || unit == "b" ? 1 : unit == "k" ? 1024.0 : unit == "m" ? 1048576.0
               : unit == "g" ? 1073741824.0 : unit == "t" ? 1099511627776.0 : unit == "p" ? 1125899906842624.0 : -1;
  char* end = nullptr;
  double n = num.empty() ? -1 : std::strtod(num.c_str(), &end);
  if (mul < 0 || n < 0 || (end && *end) || n * mul > 9.2e18) throw Error(path + ": invalid size: '" + s + "'");
  return static_cast<std::int64_t>(n * mul);
}

std::vector<std::string> shell_split(const std::string& s, const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) out.push_back(cur), cur.clear(), in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 < s.size()) cur += s[++i];
      continue;
    }
    if (c == '\'') {
      auto end = s.find('\'', i + 1);
      if (end == std::string::npos) throw Error(path + ": invalid command line string");
      cur += s.substr(i + 1, end - i - 1);
      i = end;
      continue;
    }
    if (c == '"') {
      std::size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && (s[j + 1] == '"' || s[j + 1] == '\\' || s[j + 1] == '$')) ++j;
        cur += s[j];
      }
      if (j >= s.size()) throw Error(path + ": invalid command line string");
      i = j;
      continue;
    }
    cur += c;
  }
  if (in_word) out.push_back(cur);
  return out;
}

namespace {
std::string absolute(const std::string& p, const std::string& dir) {
  if (p.empty()) return p;
  if (p.starts_with("/")) return clean_path(p);
  if (p == "~" || p.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + p.substr(1);
  }
  return clean_path(dir + "/" + p);
}
bool remote_context(const std::string& c) {
  return c.find("://") != std::string::npos || c.starts_with("git@") || c.starts_with("github.com/");
}
void resolve_service(json& s, const std::string& dir) {
  if (s.contains("build") && s["build"].is_object() && s["build"].contains("context") && s["build"]["context"].is_string()) {
    std::string c = s["build"]["context"];
    if (!remote_context(c)) s["build"]["context"] = absolute(c, dir);
  }
  // build.ssh's "<id>: <path>" (canonical form): the path, as compose-go resolves it.
  if (s.contains("build") && s["build"].is_object() && s["build"].contains("ssh") && s["build"]["ssh"].is_array())
    for (auto& e : s["build"]["ssh"]) {
      if (!e.is_string()) continue;
      std::string entry = e.get<std::string>();
      auto colon = entry.find(": ");
      if (colon != std::string::npos) e = entry.substr(0, colon + 2) + absolute(entry.substr(colon + 2), dir);
    }
  if (s.contains("env_file") && s["env_file"].is_array())
    for (auto& e : s["env_file"])
      if (e.is_object() && e.contains("path") && e["path"].is_string()) e["path"] = absolute(e["path"], dir);
  if (s.contains("label_file") && s["label_file"].is_array())
    for (auto& e : s["label_file"])
      if (e.is_string()) e = absolute(e, dir);
  if (s.contains("volumes") && s["volumes"].is_array())
    for (auto& v : s["volumes"])
      if (v.is_object() && v.value("type", "") == "bind" && v.contains("source") && v["source"].is_string())
        v["source"] = absolute(v["source"], dir);
  if (s.contains("extends") && s["extends"].is_object() && s["extends"].contains("file") && s["extends"]["file"].is_string())
    s["extends"]["file"] = absolute(s["extends"]["file"], dir);
}
}  // namespace

void resolve_paths(json& file, const std::string& dir) {
  if (file.contains("services") && file["services"].is_object())
    for (auto& [name, svc] : file["services"].items()) {
      if (is_override(svc)) resolve_service(svc[kOverrideKey], dir);
      else if (svc.is_object()) resolve_service(svc, dir);
    }
  for (const char* k : {"secrets", "configs"})
    if (file.contains(k) && file[k].is_object())
      for (auto& [name, r] : file[k].items())
        if (r.is_object() && r.contains("file") && r["file"].is_string()) r["file"] = absolute(r["file"], dir);
}

}  // namespace hoist::compose::detail
