// The loading pipeline: files, environment, per-file interpolation → schema → canonical forms →
// include → extends, the merge of the files, then profiles, env_file, defaults and validation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <set>

#include "cli/compose/dotenv.h"
#include "cli/compose/internal.h"
#include "cli/compose/project.h"
#include "common/error.h"
#include "common/file.h"

namespace hoist::compose {

using detail::json;

namespace {

const char* const kFileNames[] = {"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"};
const char* const kOverrideNames[] = {"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                                      "docker-compose.override.yaml"};
constexpr const char* kInvalid = ": invalid compose project";
constexpr std::size_t kMaxInterpolatedTotal = 64u << 20;

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string absolute(const std::string& p, const std::string& cwd) {
  if (p.starts_with("/")) return clean_path(p);
  return clean_path(cwd + "/" + p);
}

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A compose or env file, at most kMaxYamlBytes (a path such as /proc/kcore is a regular file too).
std::string read_text(const std::string& path) {
  try {
    UniqueFd fd = open_file(path, O_RDONLY | O_CLOEXEC);
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_sys("read", path);
      if (n == 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
      if (out.size() > kMaxYamlBytes) throw Error("read " + path + ": file larger than 16 MiB");
    }
  } catch (const SysError& e) {
    throw Error(e.what());
  }
}

// Everything one load shares: the variables, the warnings, where includes and extends stand.
struct Loader {
  std::map<std::string, std::string> env;
  std::vector<std::string> warnings;
  std::set<std::string> warned_unset;
  std::size_t interpolated_bytes = 0;  // all strings of all files: bounded as each one is

  Lookup lookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = env.find(std::string(name));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
  }

  void interpolate_tree(json& v, std::vector<std::string>& path, const Lookup& look) {
    if (v.is_string()) {
      std::vector<std::string> unset;
      try {
        v = interpolate(v.get<std::string>(), look, &unset);
      } catch (const InvalidTemplate& e) {
        throw Error("invalid interpolation format for " + detail::join_path(path) +
                    ".\nYou may need to escape any $ with another $.\n" + e.tmpl());
      } catch (const MissingRequired& e) {
        throw Error("error while interpolating " + detail::join_path(path) + ": " + e.what());
      }
      interpolated_bytes += v.get_ref<const std::string&>().size();
      if (interpolated_bytes > kMaxInterpolatedTotal)
        throw Error("error while interpolating " + detail::join_path(path) + ": the files grow beyond 64 MiB");
      for (const auto& u : unset)
        if (warned_unset.insert(u).second)
          warnings.push_back("The \"" + u + "\" variable is not set. Defaulting to a blank string.");
    } else if (v.is_object()) {
      for (auto& [k, item] : v.items()) {
        path.push_back(k);
        interpolate_tree(item, path, look);
        path.pop_back();
      }
    } else if (v.is_array()) {
      for (auto& item : v) {
        path.push_back("[]");
        interpolate_tree(item, path, look);
        path.pop_back();
      }
    }
  }

  // One file: parsed, interpolated, checked against the schema, canonical, paths made absolute
  // against `dir`. Includes and extends are not applied yet.
  json read_compose_file(const std::string& file, const std::string& dir, const Lookup& look) {
    json doc = parse_yaml(read_text(file), file);
    if (doc.is_null()) doc = json::object();
    if (!doc.is_object()) throw Error("validating " + file + ": Top-level object must be a mapping");
    std::vector<std::string> path;
    interpolate_tree(doc, path, look);
    try {
      detail::check_schema(doc);
    } catch (const Error& e) {
      throw Error("validating " + file + ": " + e.what());
    }
    if (doc.contains("version")) {
      warnings.push_back(file + ": the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion");
      doc.erase("version");
    }
    detail::canonicalize(doc);
    detail::resolve_paths(doc, dir);
    return doc;
  }

  // `include:` entries of `doc` (read from `file`) loaded as projects of their own and their
  // resources added; what `doc` defines itself wins, merged over the included definition.
  void apply_includes(json& doc, const std::string& file, std::vector<std::string> chain) {
    if (!doc.contains("include")) return;
    json includes = doc["include"];
    doc.erase("include");
    if (includes.is_null()) return;
    chain.push_back(file);
    std::string base = dir_of(file);
    for (const auto& inc : includes) {
      std::vector<std::string> paths, env_files;
      std::string project_dir;
      if (inc.is_string()) {
        paths.push_back(inc);
      } else if (inc.is_object()) {
        const json& p = inc.value("path", json());
        if (p.is_string()) paths.push_back(p);
        else if (p.is_array())
          for (const auto& x : p) paths.push_back(x.is_string() ? x.get<std::string>() : x.dump());
        if (inc.contains("project_directory") && inc["project_directory"].is_string())
          project_dir = absolute(inc["project_directory"], base);
        const json& e = inc.value("env_file", json());
        if (e.is_string()) env_files.push_back(absolute(e, base));
        else if (e.is_array())
          for (const auto& x : e)
            if (x.is_string()) env_files.push_back(absolute(x, base));
      } else {
        throw Error("`include` must be a list, got " + inc.dump());
      }
      if (paths.empty()) throw Error("validating " + file + ": include.path is required");
      for (auto& p : paths) p = absolute(p, base);
      for (const auto& p : paths)
        if (std::find(chain.begin(), chain.end(), p) != chain.end()) {
          std::string msg = "include cycle detected:\n" + chain[0];
          for (std::size_t i = 1; i < chain.size(); ++i) msg += "\n include " + chain[i];
          throw Error(msg + "\n include " + p);
        }
      if (project_dir.empty()) project_dir = dir_of(paths[0]);
      // The included project's variables: its env files (or its .env), under the shell's.
      std::map<std::string, std::string> sub_env = env;
      if (env_files.empty() && is_file(project_dir + "/.env")) env_files.push_back(project_dir + "/.env");
      for (const auto& ef : env_files) {
        auto shell = lookup();
        for (auto& [k, v] : parse_dotenv(read_text(ef), ef, shell))
          if (!env.count(k)) sub_env[k] = v;
      }
      Lookup sub_look = [&sub_env](std::string_view name) -> std::optional<std::string> {
        auto it = sub_env.find(std::string(name));
        if (it == sub_env.end()) return std::nullopt;
        return it->second;
      };
      json merged = json::object();
      for (const auto& p : paths) {
        if (!is_file(p)) throw Error(p + " is not a file");
        json sub = read_compose_file(p, project_dir, sub_look);
        apply_includes(sub, p, chain);
        apply_extends(sub, p, project_dir, sub_look);
        detail::merge_into(merged, sub);
      }
      for (const char* kind : {"services", "volumes", "networks", "secrets", "configs", "models"}) {
        if (!merged.contains(kind) || !merged[kind].is_object()) continue;
        if (!doc.contains(kind) || !doc[kind].is_object()) doc[kind] = json::object();
        for (auto& [name, r] : merged[kind].items()) {
          if (!doc[kind].contains(name)) {
            doc[kind][name] = r;
            continue;
          }
          json local = doc[kind][name];
          json combined = r;
          detail::merge_into(combined, local, {kind, name});
          doc[kind][name] = combined;
        }
      }
    }
  }

  struct Ref {
    std::string file, service;
    bool operator==(const Ref&) const = default;
  };

  // The service `name` of `doc` (read from `file`) with its `extends` applied, recursively.
  json extended(const json& doc, const std::string& file, const std::string& name, const std::string& dir,
                const Lookup& look, std::vector<Ref> chain) {
    const json& services = doc["services"];
    json svc = services[name];
    if (!svc.is_object() || !svc.contains("extends")) return svc;
    Ref me{file, name};
    if (std::find(chain.begin(), chain.end(), me) != chain.end()) {
      std::string msg = "Circular reference:\n  " + chain[0].service + " in " + chain[0].file;
      for (std::size_t i = 1; i < chain.size(); ++i) msg += "\n  extends " + chain[i].service + " in " + chain[i].file;
      throw Error(msg + "\n  extends " + name + " in " + file);
    }
    chain.push_back(me);
    json ext = svc["extends"];
    svc.erase("extends");
    std::string ref = ext.value("service", "");
    json base;
    if (ext.contains("file") && ext["file"].is_string() && ext["file"].get<std::string>() != file) {
      std::string other = ext["file"];
      if (!is_file(other)) throw Error("cannot read " + other);
      json odoc = read_compose_file(other, dir_of(other), look);
      if (!odoc.contains("services") || !odoc["services"].is_object())
        throw Error("cannot extend service \"" + name + "\" in " + file + ": no services section");
      if (!odoc["services"].contains(ref))
        throw Error("cannot extend service \"" + name + "\" in " + file + ": service \"" + ref + "\" not found in " + other);
      base = extended(odoc, other, ref, dir_of(other), look, chain);
    } else {
      if (!services.contains(ref))
        throw Error("cannot extend service \"" + name + "\" in " + file + ": service \"" + ref + "\" not found");
      base = extended(doc, file, ref, dir, look, chain);
    }
    if (!base.is_object()) base = json::object();
    detail::merge_into(base, svc, {"services", name});
    return base;
  }

  void apply_extends(json& doc, const std::string& file, const std::string& dir, const Lookup& look) {
    if (!doc.contains("services") || !doc["services"].is_object()) return;
    json out = json::object();
    for (auto& [name, svc] : doc["services"].items()) out[name] = extended(doc, file, name, dir, look, {});
    doc["services"] = out;
  }
};

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      std::string part = s.substr(start, i - start);
      if (!part.empty()) out.push_back(part);
      start = i + 1;
    }
  return out;
}

std::vector<std::string> discover(const std::string& cwd, std::vector<std::string>& warnings) {
  std::string dir = cwd;
  for (;;) {
    std::vector<std::string> found;
    for (const char* n : kFileNames)
      if (is_file(dir + "/" + n)) found.push_back((dir == "/" ? "" : dir) + "/" + n);
    if (!found.empty()) {
      if (found.size() > 1) {
        std::string all;
        for (const auto& f : found) all += (all.empty() ? "" : ", ") + f;
        warnings.push_back("Found multiple config files with supported names: " + all);
        warnings.push_back("Using " + found[0]);
      }
      std::vector<std::string> files{found[0]};
      for (const char* n : kOverrideNames)
        if (is_file(dir + "/" + n)) {
          files.push_back((dir == "/" ? "" : dir) + "/" + n);
          break;
        }
      return files;
    }
    if (dir == "/") break;
    dir = dir_of(dir);
  }
  throw Error("no configuration file provided: not found");
}

void check_name(const std::string& name) {
  if (normalize_project_name(name) != name || name.empty())
    throw Error("invalid project name \"" + name +
                "\": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as "
                "start with a letter or number");
}

// env_file entries read into the environment (which wins over them), then variables without a
// value taken from the project's environment.
void resolve_environment(json& svc, const Loader& l, bool resolve_env_files) {
  json env = json::object();
  if (resolve_env_files && svc.contains("env_file")) {
    for (const auto& e : svc["env_file"]) {
      std::string path = e.value("path", "");
      if (!is_file(path)) {
        if (e.value("required", true)) throw Error("env file " + path + " not found: stat " + path + ": no such file or directory");
        continue;
      }
      if (e.value("format", "") == "raw") {  // KEY=VALUE lines taken as they are
        for (const auto& line : split_list(read_text(path), '\n')) {
          auto eq = line.find('=');
          if (line.starts_with("#") || eq == std::string::npos) continue;
          env[line.substr(0, eq)] = line.substr(eq + 1);
        }
      } else if (e.contains("format") && !e["format"].is_null()) {
        throw Error("env file " + path + ": unsupported format " + e["format"].dump());
      } else {
        for (auto& [k, v] : parse_dotenv(read_text(path), path, l.lookup())) env[k] = v;
      }
    }
    svc.erase("env_file");
  }
  // label_file: labels from files of KEY=VALUE lines, under the service's own labels.
  if (resolve_env_files && svc.contains("label_file")) {
    json labels = json::object();
    for (const auto& f : svc["label_file"]) {
      std::string path = f.get<std::string>();
      for (auto& [k, v] : parse_dotenv(read_text(path), path, [](std::string_view) { return std::nullopt; }))
        labels[k] = v;
    }
    if (svc.contains("labels") && svc["labels"].is_object())
      for (auto& [k, v] : svc["labels"].items()) labels[k] = v;
    if (!labels.empty()) svc["labels"] = labels;
    svc.erase("label_file");
  }
  if (svc.contains("environment") && svc["environment"].is_object())
    for (auto& [k, v] : svc["environment"].items()) env[k] = v;
  for (auto& [k, v] : env.items()) {
    if (!v.is_null()) continue;
    auto it = l.env.find(k);
    if (it != l.env.end()) v = it->second;
  }
  if (!env.empty()) svc["environment"] = env;
  if (svc.contains("build") && svc["build"].contains("args") && svc["build"]["args"].is_object())
    for (auto& [k, v] : svc["build"]["args"].items())
      if (v.is_null())
        if (auto it = l.env.find(k); it != l.env.end()) v = it->second;
}

void validate(const json& model) {
  const json& services = model["services"];
  auto has = [&](const char* kind, const std::string& name) {
    return model.contains(kind) && model[kind].contains(name);
  };
  for (const auto& [name, s] : services.items()) {
    std::string q = "\"" + name + "\"";
    if (!s.contains("image") && !s.contains("build"))
      throw Error("service " + q + " has neither an image nor a build context specified" + kInvalid);
    if (s.contains("network_mode") && s.contains("networks"))
      throw Error("service " + name + " declares mutually exclusive `network_mode` and `networks`" + kInvalid);
    if (s.contains("networks"))
      for (const auto& [net, cfg] : s["networks"].items())
        if (!has("networks", net)) throw Error("service " + q + " refers to undefined network " + net + kInvalid);
    if (s.contains("depends_on"))
      for (const auto& [dep, cfg] : s["depends_on"].items())
        if (!services.contains(dep)) throw Error("service " + q + " depends on undefined service \"" + dep + "\"" + kInvalid);
    std::string mode = s.value("network_mode", "");
    if (mode.starts_with("service:") && !services.contains(mode.substr(8)))
      throw Error("service \"" + mode.substr(8) + "\" not found for network_mode 'service:" + mode.substr(8) + "'");
    if (s.contains("volumes"))
      for (const auto& v : s["volumes"])
        if (v.value("type", "") == "volume" && v.contains("source") && !has("volumes", v["source"].get<std::string>()))
          throw Error("service " + q + " refers to undefined volume " + v["source"].get<std::string>() + kInvalid);
    if (s.contains("build") && s["build"].contains("secrets"))
      for (const auto& sec : s["build"]["secrets"])
        if (!has("secrets", sec.value("source", "")))
          throw Error("service " + q + " refers to undefined build secret " + sec.value("source", "") + kInvalid);
    for (const char* kind : {"configs", "secrets"})
      if (s.contains(kind))
        for (const auto& ref : s[kind])
          if (!has(kind, ref.value("source", "")))
            throw Error("service " + q + " refers to undefined " + std::string(kind).substr(0, std::strlen(kind) - 1) + " " +
                        ref.value("source", "") + kInvalid);
    if (s.contains("scale") && s.contains("deploy") && s["deploy"].contains("replicas") &&
        s["scale"] != s["deploy"]["replicas"])
      throw Error("services." + name + ": can't set distinct values on 'scale' and 'deploy.replicas'" + kInvalid);
    if (s.contains("scale") && s["scale"].get<long long>() < 0)
      throw Error("services." + name + ".scale: must be greater than or equal to 0");
    long long replicas = s.contains("scale") ? s["scale"].get<long long>()
                         : s.contains("deploy") && s["deploy"].contains("replicas") && s["deploy"]["replicas"].is_number()
                             ? s["deploy"]["replicas"].get<long long>() : 1;
    if (s.contains("container_name") && replicas > 1)
      throw Error("services." + name + ": can't set container_name and " + name +
                  " as container name must be unique" + kInvalid);
    // Two mounts on one target.
    std::map<std::string, std::string> targets;
    if (s.contains("volumes"))
      for (const auto& v : s["volumes"]) {
        std::string t = v.value("target", "");
        std::string src = v.value("source", "");
        if (auto it = targets.find(t); it != targets.end())
          throw Error("services." + name + ".volumes: target " + t + " already mounted as " + it->second);
        targets[t] = src;
      }
  }
  for (const char* kind : {"secrets"})
    if (model.contains(kind))
      for (const auto& [name, r] : model[kind].items())
        if (!r.value("external", false) && !r.contains("file") && !r.contains("environment"))
          throw Error("secret \"" + name + "\" must declare either `file` or `environment`" + kInvalid);
}

// The services each service must come after: depends_on, network_mode service:, volumes_from.
std::map<std::string, std::vector<std::string>> dependencies(const json& services) {
  std::map<std::string, std::vector<std::string>> deps;
  for (const auto& [name, s] : services.items()) {
    auto& d = deps[name];
    if (s.contains("depends_on"))
      for (const auto& [dep, cfg] : s["depends_on"].items()) d.push_back(dep);
    std::string mode = s.value("network_mode", "");
    if (mode.starts_with("service:")) d.push_back(mode.substr(8));
    if (s.contains("volumes_from"))
      for (const auto& v : s["volumes_from"]) {
        std::string from = v.get<std::string>();
        if (from.starts_with("container:")) continue;
        from = from.substr(0, from.find(':'));
        if (services.contains(from)) d.push_back(from);
      }
    std::sort(d.begin(), d.end());
    d.erase(std::unique(d.begin(), d.end()), d.end());
  }
  return deps;
}

void check_cycles(const json& services) {
  auto deps = dependencies(services);
  std::map<std::string, int> state;  // 0 new, 1 on the path, 2 done
  std::vector<std::string> path;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    state[n] = 1;
    path.push_back(n);
    for (const auto& d : deps[n]) {
      if (!deps.count(d)) continue;
      if (state[d] == 1) {
        auto it = std::find(path.begin(), path.end(), d);
        std::string msg;
        for (; it != path.end(); ++it) msg += *it + " -> ";
        throw Error("dependency cycle detected: " + msg + d);
      }
      if (state[d] == 0) visit(d);
    }
    path.pop_back();
    state[n] = 2;
  };
  for (const auto& [n, _] : deps)
    if (state[n] == 0) visit(n);
}

}  // namespace

std::string normalize_project_name(const std::string& s) {
  std::string out;
  for (char c : s) {
    char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-') out += l;
  }
  std::size_t i = out.find_first_not_of("_-");
  return i == std::string::npos ? "" : out.substr(i);
}

Project load_project(const LoadOptions& opts) {
  Loader l;
  Project p;
  std::string cwd = opts.cwd;
  if (cwd.empty()) {
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) throw_sys("getcwd");
    cwd = buf;
  }
  auto shell = [&](const char* k) -> std::string {
    auto it = opts.environ.find(k);
    return it == opts.environ.end() ? "" : it->second;
  };
  // The files.
  std::vector<std::string> files = opts.files;
  if (files.empty() && !shell("COMPOSE_FILE").empty()) {
    std::string sep = shell("COMPOSE_PATH_SEPARATOR");
    files = split_list(shell("COMPOSE_FILE"), sep.empty() ? ':' : sep[0]);
  }
  if (files.empty()) files = discover(cwd, l.warnings);
  for (auto& f : files) {
    if (f == "-") throw Error("reading a compose file from stdin is not supported");
    f = absolute(f, cwd);
    if (!is_file(f)) throw Error("open " + f + ": no such file or directory");
  }
  p.config_files = files;
  p.working_dir = opts.project_directory.empty() ? dir_of(files[0]) : absolute(opts.project_directory, cwd);

  // The variables: the env files (or the project directory's .env), under the shell's.
  std::vector<std::string> env_files;
  for (const auto& e : opts.env_files) env_files.push_back(absolute(e, cwd));
  if (opts.env_files.empty() && is_file(p.working_dir + "/.env") && shell("COMPOSE_DISABLE_ENV_FILE").empty())
    env_files.push_back(p.working_dir + "/.env");
  Lookup from_shell = [&](std::string_view n) -> std::optional<std::string> {
    auto it = opts.environ.find(std::string(n));
    if (it == opts.environ.end()) return std::nullopt;
    return it->second;
  };
  for (const auto& ef : env_files) {
    if (!is_file(ef)) throw Error("couldn't find env file: " + ef);
    for (auto& [k, v] : parse_dotenv(read_text(ef), ef, from_shell)) l.env[k] = v;
  }
  for (const auto& [k, v] : opts.environ) l.env[k] = v;

  // The name, when given from outside, is known to interpolation too.
  std::string name;
  if (!opts.project_name.empty()) {
    check_name(opts.project_name);
    name = opts.project_name;
  } else if (auto it = l.env.find("COMPOSE_PROJECT_NAME"); it != l.env.end() && !it->second.empty()) {
    check_name(it->second);
    name = it->second;
  }
  if (!name.empty()) l.env["COMPOSE_PROJECT_NAME"] = name;

  json model = json::object();
  auto look = l.lookup();
  for (const auto& f : files) {
    json doc = l.read_compose_file(f, p.working_dir, look);
    l.apply_includes(doc, f, {});
    l.apply_extends(doc, f, p.working_dir, look);
    detail::merge_into(model, doc);
  }
  detail::strip_markers(model);
  if (name.empty() && model.contains("name") && model["name"].is_string())
    name = normalize_project_name(model["name"].get<std::string>());
  if (name.empty()) name = normalize_project_name(p.working_dir.substr(p.working_dir.rfind('/') + 1));
  if (name.empty()) throw Error("project name must not be empty");
  p.name = name;
  l.env["COMPOSE_PROJECT_NAME"] = name;
  model["name"] = name;
  if (!model.contains("services") || model["services"].is_null()) model["services"] = json::object();
  json& services = model["services"];

  // Profiles.
  std::vector<std::string> profiles = opts.profiles;
  if (profiles.empty())
    if (auto it = l.env.find("COMPOSE_PROFILES"); it != l.env.end()) profiles = split_list(it->second, ',');
  std::set<std::string> active(profiles.begin(), profiles.end());
  for (auto it = services.begin(); it != services.end();) {
    const json& s = it.value();
    bool enabled = !s.contains("profiles") || s["profiles"].empty() || active.count("*");
    if (!enabled)
      for (const auto& pr : s["profiles"])
        if (active.count(pr.get<std::string>())) enabled = true;
    if (enabled) {
      ++it;
      continue;
    }
    p.disabled_services.push_back(it.key());
    it = services.erase(it);
  }
  // A dependency on a service that profiles left out is dropped when it is not required (one on a
  // service defined nowhere stays, for validation to refuse).
  for (auto& [name_, s] : services.items())
    if (s.contains("depends_on"))
      for (auto it = s["depends_on"].begin(); it != s["depends_on"].end();) {
        bool disabled = std::find(p.disabled_services.begin(), p.disabled_services.end(), it.key()) !=
                        p.disabled_services.end();
        if (disabled && !it.value().value("required", true)) it = s["depends_on"].erase(it);
        else ++it;
        if (s["depends_on"].empty()) {
          s.erase("depends_on");
          break;
        }
      }

  // links, network_mode/ipc/pid `service:NAME` and volumes_from imply dependencies (as compose-go's
  // inferImplicitDependencies); environment; defaults.
  bool uses_default = false;
  for (auto& [sname, s] : services.items()) {
    std::vector<std::string> implied;
    for (const char* k : {"network_mode", "ipc", "pid"})
      if (s.contains(k) && s[k].is_string() && s[k].get<std::string>().starts_with("service:"))
        implied.push_back(s[k].get<std::string>().substr(8));
    if (s.contains("volumes_from"))
      for (const auto& v : s["volumes_from"]) {
        std::string from = v.get<std::string>();
        if (!from.starts_with("container:")) implied.push_back(from.substr(0, from.find(':')));
      }
    if (s.contains("links"))
      for (const auto& link : s["links"]) {
        std::string target = link.get<std::string>();
        implied.push_back(target.substr(0, target.find(':')));
      }
    for (const auto& target : implied) {
      if (!s.contains("depends_on")) s["depends_on"] = json::object();
      if (!s["depends_on"].contains(target))
        s["depends_on"][target] = {{"condition", "service_started"}, {"restart", true}, {"required", true}};
    }
    resolve_environment(s, l, opts.resolve_env_files);
    if (!s.contains("network_mode") && (!s.contains("networks") || s["networks"].empty())) s["networks"] = {{"default", nullptr}};
    if (s.contains("networks") && s["networks"].contains("default")) uses_default = true;
  }
  if (uses_default && (!model.contains("networks") || !model["networks"].contains("default"))) {
    if (!model.contains("networks")) model["networks"] = json::object();
    model["networks"]["default"] = json::object();
  }
  for (const char* kind : {"networks", "volumes", "secrets", "configs"}) {
    if (!model.contains(kind)) continue;
    if (model[kind].is_null() || model[kind].empty()) {
      model.erase(kind);
      continue;
    }
    for (auto& [rname, r] : model[kind].items()) {
      if (r.is_null()) r = json::object();
      if (!r.contains("name")) r["name"] = r.value("external", false) ? rname : name + "_" + rname;
    }
  }
  for (auto it = model.begin(); it != model.end();) {
    if (it.key() == "models" && (it.value().is_null() || it.value().empty())) it = model.erase(it);
    else ++it;
  }

  validate(model);
  check_cycles(services);

  p.environment = l.env;
  p.warnings = std::move(l.warnings);
  p.model = std::make_shared<const json>(std::move(model));
  return p;
}

std::vector<std::string> Project::service_names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : (*model)["services"].items()) out.push_back(k);
  return out;
}

std::vector<std::string> Project::volume_names() const {
  std::vector<std::string> out;
  if (model->contains("volumes"))
    for (const auto& [k, v] : (*model)["volumes"].items()) out.push_back(k);
  return out;
}

std::vector<std::string> Project::start_order() const {
  auto deps = dependencies((*model)["services"]);
  std::vector<std::string> out;
  std::set<std::string> done;
  while (out.size() < deps.size()) {
    bool progressed = false;
    for (const auto& [n, d] : deps) {
      if (done.count(n)) continue;
      if (std::all_of(d.begin(), d.end(), [&](const std::string& x) { return done.count(x) || !deps.count(x); })) {
        out.push_back(n);
        done.insert(n);
        progressed = true;
      }
    }
    if (!progressed) throw Error("dependency cycle detected");
  }
  return out;
}

}  // namespace hoist::compose
