#include "builder/config_changes.h"

#include <cctype>
#include <cstdint>
#include <set>

#include "common/clock.h"
#include "common/error.h"
#include "common/strings.h"

namespace hoist::builder {
using nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Words split at blanks outside quotes; quotes and backslashes are kept (Dockerfile's parseWords).
std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool in_word = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!quote && std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    cur += c;
    if (c == '\\' && quote != '\'' && i + 1 < s.size()) {
      cur += s[++i];
      continue;
    }
    if (quote && c == quote) quote = 0;
    else if (!quote && (c == '"' || c == '\'')) quote = c;
  }
  if (in_word) out.push_back(cur);
  return out;
}

// Quote removal of one word: '...' literal, "..." and bare text with backslash escapes.
std::string unquote(const std::string& w) {
  std::string out;
  char quote = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    char c = w[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else out += c;
    } else if (c == '\\' && i + 1 < w.size()) {
      out += w[++i];
    } else if (quote == '"' && c == '"') {
      quote = 0;
    } else if (!quote && (c == '"' || c == '\'')) {
      quote = c;
    } else {
      out += c;
    }
  }
  return out;
}

// A JSON array of strings (exec form), or nullopt-like false for the shell form.
bool json_strings(const std::string& rest, std::vector<std::string>& out) {
  if (rest.empty() || rest[0] != '[') return false;
  json j = json::parse(rest, nullptr, false);
  if (!j.is_array()) return false;
  out.clear();
  for (auto& x : j) {
    if (!x.is_string()) return false;
    out.push_back(x.get<std::string>());
  }
  return true;
}

// CMD/ENTRYPOINT: exec form as given, shell form under /bin/sh -c.
json command(const std::string& rest) {
  std::vector<std::string> v;
  if (json_strings(rest, v)) return v.empty() ? json(nullptr) : json(v);
  json out = {"/bin/sh", "-c"};
  if (!rest.empty()) out.push_back(rest);
  return out;
}

// ENV and LABEL: key=value pairs, or the legacy "KEY value with spaces".
std::vector<std::pair<std::string, std::string>> name_values(const std::string& cmd, const std::string& rest) {
  auto w = words(rest);
  if (w.empty()) throw InvalidArgument(cmd + " requires at least one argument");
  std::vector<std::pair<std::string, std::string>> out;
  if (w[0].find('=') == std::string::npos) {
    // Legacy form: the first word is the key, the rest of the line the value.
    auto sp = rest.find_first_of(" \t");
    if (sp == std::string::npos) throw InvalidArgument(cmd + " must have two arguments");
    out.emplace_back(unquote(w[0]), std::string(trim(rest.substr(sp))));
    return out;
  }
  for (auto& word : w) {
    auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InvalidArgument("Syntax error - can't find = in \"" + word + "\". Must be of the form: name=value");
    out.emplace_back(unquote(word.substr(0, eq)), unquote(word.substr(eq + 1)));
  }
  return out;
}

// HEALTHCHECK's durations: Go's, at least 1ms unless 0.
std::int64_t go_duration(const std::string& flag, const std::string& v) {
  auto ns = parse_go_duration_ns(v);
  if (ns != 0 && ns < 1000000) throw InvalidArgument(flag + " cannot be less than 1ms");
  return ns;
}

json healthcheck(const std::string& rest) {
  auto w = words(rest);
  json hc = json::object();
  std::size_t i = 0;
  for (; i < w.size() && w[i].rfind("--", 0) == 0; ++i) {
    auto eq = w[i].find('=');
    auto name = w[i].substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto value = eq == std::string::npos ? std::string() : unquote(w[i].substr(eq + 1));
    if (name == "interval") hc["Interval"] = go_duration("Interval \"--interval\"", value);
    else if (name == "timeout") hc["Timeout"] = go_duration("Timeout \"--timeout\"", value);
    else if (name == "start-period") hc["StartPeriod"] = go_duration("StartPeriod \"--start-period\"", value);
    else if (name == "retries") {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || value.size() > 9)
        throw InvalidArgument("strconv.ParseInt: parsing \"" + value + "\": invalid syntax");
      hc["Retries"] = std::stoi(value);
    } else {
      throw InvalidArgument("Unknown flag: " + name);
    }
  }
  if (i >= w.size()) throw InvalidArgument("HEALTHCHECK requires at least one argument");
  std::string type = upper(w[i]);
  // The command: what follows the type word in the original text.
  auto pos = rest.find(w[i]);
  std::string cmd(trim(rest.substr(pos + w[i].size())));
  if (type == "NONE") {
    if (!cmd.empty() || !hc.empty()) throw InvalidArgument("HEALTHCHECK NONE takes no arguments");
    return json{{"Test", {"NONE"}}};
  }
  if (type != "CMD") throw InvalidArgument("Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
  std::vector<std::string> v;
  json test = json::array();
  if (json_strings(cmd, v)) {
    test.push_back("CMD");
    for (auto& a : v) test.push_back(a);
  } else {
    test = {"CMD-SHELL", cmd};
  }
  json out = {{"Test", test}};
  for (auto& [k, x] : hc.items()) out[k] = x;
  return out;
}

void set_env(json& config, const std::string& key, const std::string& value) {
  json& env = config["Env"];
  if (!env.is_array()) env = json::array();
  for (auto& e : env)
    if (e.is_string() && e.get<std::string>().rfind(key + "=", 0) == 0) {
      e = key + "=" + value;
      return;
    }
  env.push_back(key + "=" + value);
}

void expose(json& config, const std::string& spec) {
  auto slash = spec.find('/');
  std::string ports = spec.substr(0, slash);
  std::string proto = slash == std::string::npos ? "tcp" : lower(spec.substr(slash + 1));
  auto num = [&](const std::string& p) {
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535)
      throw InvalidArgument("Invalid containerPort: " + ports);
    return std::stoi(p);
  };
  auto dash = ports.find('-');
  int a = num(ports.substr(0, dash));
  int b = dash == std::string::npos ? a : num(ports.substr(dash + 1));
  if (b < a) throw InvalidArgument("Invalid range specified for the Port: " + ports);
  if (proto != "tcp" && proto != "udp" && proto != "sctp") throw InvalidArgument("Invalid proto: " + proto);
  json& exposed = config["ExposedPorts"];
  if (!exposed.is_object()) exposed = json::object();
  for (int p = a; p <= b; ++p) exposed[std::to_string(p) + "/" + proto] = json::object();
}

void apply_one(json& config, const std::string& cmd, const std::string& rest) {
  if (cmd == "cmd") {
    auto c = command(rest);
    if (c.is_null()) config.erase("Cmd");
    else config["Cmd"] = c;
  } else if (cmd == "entrypoint") {
    auto c = command(rest);
    if (c.is_null()) config.erase("Entrypoint");
    else config["Entrypoint"] = c;
  } else if (cmd == "env") {
    for (auto& [k, v] : name_values("ENV", rest)) set_env(config, k, v);
  } else if (cmd == "label") {
    json& labels = config["Labels"];
    if (!labels.is_object()) labels = json::object();
    for (auto& [k, v] : name_values("LABEL", rest)) labels[k] = v;
  } else if (cmd == "expose") {
    auto w = words(rest);
    if (w.empty()) throw InvalidArgument("EXPOSE requires at least one argument");
    for (auto& p : w) expose(config, unquote(p));
  } else if (cmd == "user") {
    if (rest.empty()) throw InvalidArgument("USER requires exactly one argument");
    config["User"] = unquote(rest);
  } else if (cmd == "workdir") {
    if (rest.empty()) throw InvalidArgument("WORKDIR requires exactly one argument");
    std::string dir = unquote(rest);
    if (dir[0] != '/') {
      std::string cur = config.contains("WorkingDir") && config["WorkingDir"].is_string() ? config["WorkingDir"].get<std::string>() : "";
      dir = (cur.empty() ? "/" : cur) + (cur.empty() || cur.back() == '/' ? "" : "/") + dir;
    }
    config["WorkingDir"] = dir;
  } else if (cmd == "volume") {
    std::vector<std::string> v;
    if (!json_strings(rest, v))
      for (auto& w : words(rest)) v.push_back(unquote(w));
    if (v.empty()) throw InvalidArgument("VOLUME requires at least one argument");
    json& vols = config["Volumes"];
    if (!vols.is_object()) vols = json::object();
    for (auto& p : v) {
      if (trim(p).empty()) throw InvalidArgument("VOLUME specified can not be an empty string");
      vols[p] = json::object();
    }
  } else if (cmd == "onbuild") {
    if (rest.empty()) throw InvalidArgument("ONBUILD requires at least one argument");
    auto trigger = upper(rest.substr(0, rest.find_first_of(" \t")));
    if (trigger == "ONBUILD") throw InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (trigger == "FROM" || trigger == "MAINTAINER")
      throw InvalidArgument(trigger + " isn't allowed as an ONBUILD trigger");
    json& ob = config["OnBuild"];
    if (!ob.is_array()) ob = json::array();
    ob.push_back(rest);
  } else if (cmd == "healthcheck") {
    config["Healthcheck"] = healthcheck(rest);
  }
}

}  // namespace

void apply_config_changes(json& config, const std::vector<std::string>& changes) {
  if (changes.empty()) return;
  if (!config.is_object()) config = json::object();
  static const std::set<std::string> allowed = {"cmd",   "entrypoint", "healthcheck", "env",    "expose",
                                                "label", "onbuild",    "user",        "volume", "workdir"};
  // As dockerd: the changes are the lines of one Dockerfile.
  std::vector<std::pair<std::string, std::string>> instructions;
  for (auto& change : changes)
    for (auto& line : split(change, '\n')) {
      std::string l(trim(line));
      if (l.empty() || l[0] == '#') continue;
      auto sp = l.find_first_of(" \t");
      std::string cmd = lower(l.substr(0, sp));
      std::string rest = sp == std::string::npos ? "" : std::string(trim(l.substr(sp)));
      if (!allowed.count(cmd)) throw InvalidArgument(cmd + " is not a valid change command");
      instructions.emplace_back(cmd, rest);
    }
  if (instructions.empty()) throw InvalidArgument("file with no instructions");
  json out = config;
  for (auto& [cmd, rest] : instructions) apply_one(out, cmd, rest);
  config = std::move(out);
}

}  // namespace hoist::builder
