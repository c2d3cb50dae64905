#include "engine/containers/log_attrs.h"

#include <unistd.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/error.h"

namespace hoist::engine {
namespace {

const std::string kPrefix = "failed to initialize logging driver: ";

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto comma = s.find(',', start);
    out.push_back(s.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::regex compile(const std::string& re) {
  try {
    return std::regex(re, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(kPrefix + "error parsing regexp: " + e.what() + ": `" + re + "`");
  }
}

std::string field(const std::string& name, const LogContainerInfo& info, std::size_t col) {
  if (name == "ID") return info.id.substr(0, 12);
  if (name == "FullID" || name == "ContainerID") return info.id;
  if (name == "Name" || name == "ContainerName") return info.name;
  if (name == "ImageID") return info.image_id.substr(0, 12);
  if (name == "ImageFullID" || name == "ContainerImageID") return info.image_id;
  if (name == "ImageName" || name == "ContainerImageName") return info.image_name;
  if (name == "DaemonName") return "hoist";
  if (name == "Hostname") {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return host;
  }
  throw Error(kPrefix + "template: log-tag:1:" + std::to_string(col) + ": executing \"log-tag\" at <." + name +
              ">: can't evaluate field " + name + " in type *logger.Info");
}

// The tag template: text with {{.Field}} actions (spaces allowed inside the braces).
std::string expand_tag(const std::string& tmpl, const LogContainerInfo& info) {
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    auto open = tmpl.find("{{", i);
    if (open == std::string::npos) {
      out += tmpl.substr(i);
      break;
    }
    out += tmpl.substr(i, open - i);
    auto close = tmpl.find("}}", open + 2);
    if (close == std::string::npos)
      throw Error(kPrefix + "template: log-tag:1: unclosed action");
    std::size_t b = open + 2, e = close;
    while (b < e && tmpl[b] == ' ') ++b;
    while (e > b && tmpl[e - 1] == ' ') --e;
    std::string action = tmpl.substr(b, e - b);
    bool plain = action.size() > 1 && action[0] == '.';
    for (std::size_t k = 1; plain && k < action.size(); ++k)
      plain = std::isalnum(static_cast<unsigned char>(action[k])) || action[k] == '_';
    if (!plain)
      throw Error(kPrefix + "log opt tag: the template action {{" + tmpl.substr(open + 2, close - open - 2) +
                  "}} is not supported yet (only {{.Field}})");
    out += field(action.substr(1), info, b);
    i = close + 2;
  }
  return out;
}

}  // namespace

std::string log_attrs_json(const std::map<std::string, std::string>& config, const LogContainerInfo& info) {
  nlohmann::json attrs = nlohmann::json::object();
  auto opt = [&](const char* k) {
    auto it = config.find(k);
    return it == config.end() ? std::string() : it->second;
  };
  if (auto labels = opt("labels"); !labels.empty())
    for (auto& l : split_commas(labels))
      if (auto it = info.labels.find(l); it != info.labels.end()) attrs[l] = it->second;
  if (auto re = opt("labels-regex"); !re.empty()) {
    auto rx = compile(re);
    for (auto& [k, v] : info.labels)
      if (std::regex_search(k, rx)) attrs[k] = v;
  }
  std::map<std::string, std::string> env;
  for (auto& e : info.env)
    if (auto eq = e.find('='); eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  if (auto names = opt("env"); !names.empty())
    for (auto& n : split_commas(names))
      if (auto it = env.find(n); it != env.end()) attrs[n] = it->second;
  if (auto re = opt("env-regex"); !re.empty()) {
    auto rx = compile(re);
    for (auto& [k, v] : env)
      if (std::regex_search(k, rx)) attrs[k] = v;
  }
  if (auto tag = opt("tag"); !tag.empty()) attrs["tag"] = expand_tag(tag, info);
  return attrs.empty() ? std::string() : attrs.dump();
}

bool log_compress(const std::map<std::string, std::string>& config, std::int64_t max_size, int max_files) {
  auto it = config.find("compress");
  if (it == config.end()) return false;
  static const std::map<std::string, bool> go_bools = {{"1", true},     {"t", true},     {"T", true},
                                                       {"TRUE", true},  {"true", true},  {"True", true},
                                                       {"0", false},    {"f", false},    {"F", false},
                                                       {"FALSE", false}, {"false", false}, {"False", false}};
  auto b = go_bools.find(it->second);
  if (b == go_bools.end())
    throw Error(kPrefix + "strconv.ParseBool: parsing \"" + it->second + "\": invalid syntax");
  if (b->second && (max_files < 2 || max_size <= 0))
    throw Error(kPrefix + "compress cannot be true when max-file is less than 2 or max-size is not set");
  return b->second;
}

}  // namespace hoist::engine
