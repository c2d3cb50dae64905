// POST /build as dockerd's classic builder answers it (engine/build_service.h runs the build):
// the body is the context (a tar, plain or compressed); the answer is a stream of JSON lines
// ({"stream":"Step 1/3 : FROM busybox"}, {"aux":{"ID":"sha256:..."}}, "Successfully built ...",
// "Successfully tagged ...") ending in {"errorDetail":...,"error":...} when the build fails. An
// error before the first line (a bad tag, Dockerfile or context) is an HTTP error instead, as
// dockerd sends it while its output is still unflushed.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <set>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/api/routes.h"
#include "engine/build_platform.h"
#include "engine/build_service.h"
#include "engine/build_ssh.h"
#include "engine/container_service.h"
#include "engine/daemon.h"
#include "image/reference.h"
#include "image/registry_internal.h"

namespace hoist::engine {

namespace {

using nlohmann::json;

// A JSON string as Go's encoding/json writes it: HTML characters and U+2028/U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
std::string go_json_string(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<': case '>': case '&':
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, checked.
    std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    bool ok = len != 0 && i + len <= s.size();
    std::uint32_t cp = 0;
    if (ok) {
      cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
      for (std::size_t k = 1; k < len; ++k) {
        unsigned char cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3F);
      }
      if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
        ok = false;
    }
    if (!ok) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    else out.append(s.substr(i, len));
    i += len;
  }
  return out + "\"";
}

std::string stream_line(std::string_view text) { return "{\"stream\":" + go_json_string(text) + "}"; }

std::string error_line(const std::string& msg, int code) {
  std::string detail = "{";
  if (code) detail += "\"code\":" + std::to_string(code) + ",";
  detail += "\"message\":" + go_json_string(msg) + "}";
  return "{\"errorDetail\":" + detail + ",\"error\":" + go_json_string(msg) + "}";
}

// A JSON object of strings from a query parameter (buildargs, labels); null values kept as nullopt.
std::map<std::string, std::optional<std::string>> string_map(const std::string& text, const char* what) {
  std::map<std::string, std::optional<std::string>> out;
  if (text.empty()) return out;
  json j = json::parse(text, nullptr, false);
  if (j.is_null()) return out;
  if (!j.is_object()) throw InvalidArgument(std::string("invalid ") + what + " parameter: not a JSON object");
  for (auto& [k, v] : j.items()) {
    if (v.is_null()) out[k] = std::nullopt;
    else if (v.is_string()) out[k] = v.get<std::string>();
    else throw InvalidArgument(std::string("invalid ") + what + " parameter: " + k + " is not a string");
  }
  return out;
}

// The parameters hoist build does not honour yet: refused when they ask for something.
void check_unsupported(const Request& req) {
  auto refuse = [](const std::string& what) {
    throw InvalidArgument(what + " is not supported yet by hoist build");
  };
  if (req.q("version") == "2") refuse("BuildKit (version=2)");
  if (req.qbool("squash")) refuse("squash");
  for (const char* k : {"isolation", "outputs"})
    if (!req.q(k).empty()) refuse(k);
}

// RUN --mount=type=secret's secrets: Hoist's own header (the classic API has no field for them;
// docs/api.md): X-Hoist-Build-Secrets, base64 of a JSON object {"<id>": "<base64 of the bytes>"}.
// Never logged, never written anywhere but the step's own secret file.
std::map<std::string, std::string> build_secrets(const std::string& header) {
  std::map<std::string, std::string> out;
  if (header.empty()) return out;
  auto text = image::detail::base64_decode(header);
  json j = text ? json::parse(*text, nullptr, false) : json();
  if (!j.is_object()) throw InvalidArgument("invalid X-Hoist-Build-Secrets header: not base64 of a JSON object");
  for (auto& [id, v] : j.items()) {
    std::optional<std::string> data = v.is_string() ? image::detail::base64_decode(v.get<std::string>()) : std::nullopt;
    if (id.empty() || !data)
      throw InvalidArgument("invalid X-Hoist-Build-Secrets header: secret \"" + id + "\" is not a base64 string");
    out[id] = *data;
  }
  return out;
}

// BuildKit's entitlements (`hoist build --allow`): Hoist's own header (docs/api.md),
// X-Hoist-Build-Entitlements: a comma-separated list of security.insecure and network.host
// (granted anyway: RUN --network=host needs none here). security.insecure only where the daemon
// allows it (DaemonConfig::allow_security_insecure), else BuildKit's words. Returns whether it is
// granted.
bool build_entitlements(const std::string& header, bool daemon_allows_insecure) {
  bool insecure = false;
  for (std::string e : split(header, ',')) {
    e = std::string(trim(e));
    if (e.empty() || e == "network.host") continue;
    if (e == "security.insecure") insecure = true;
    else throw InvalidArgument("invalid X-Hoist-Build-Entitlements header: unknown entitlement \"" + e + "\"");
  }
  if (insecure && !daemon_allows_insecure)
    throw Forbidden("granting entitlement security.insecure is not allowed by build daemon configuration");
  return insecure;
}

// A session id as the client names it (docs/api.md): 16 to 64 letters, digits, '-' or '_'.
bool valid_session_id(const std::string& id) {
  if (id.size() < 16 || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// httputils.Int64ValueOrZero: a number, else 0.
std::int64_t int64_or_zero(const Request& req, const std::string& key) {
  std::string v = req.q(key);
  if (v.empty()) return 0;
  try {
    std::size_t used = 0;
    long long n = std::stoll(v, &used, 10);
    return used == v.size() ? n : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

// The step containers' resources, read as dockerd's newImageBuildOptions reads them.
BuildResources build_resources(const Request& req) {
  BuildResources r;
  r.memory = int64_or_zero(req, "memory");
  r.memory_swap = int64_or_zero(req, "memswap");
  r.cpu_shares = int64_or_zero(req, "cpushares");
  r.cpu_period = int64_or_zero(req, "cpuperiod");
  r.cpu_quota = int64_or_zero(req, "cpuquota");
  r.cpuset_cpus = req.q("cpusetcpus");
  r.cpuset_mems = req.q("cpusetmems");
  r.cgroup_parent = req.q("cgroupparent");
  if (std::string v = req.q("shmsize"); !v.empty()) {
    std::size_t used = 0;
    try {
      r.shm_size = std::stoll(v, &used, 10);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size()) throw Error("strconv.ParseInt: parsing \"" + v + "\": invalid syntax");  // dockerd: a 500
  }
  r.ulimits = BuildResources::parse_ulimits(req.q("ulimits"));
  r.extra_hosts = query_values(req.target, "extrahosts");
  return r;
}

// dockerd's BuildCache objects: Parent below API 1.42, Parents from it (each omitted when empty).
json build_cache_json(const std::vector<BuildCacheRecord>& records, const std::string& version) {
  bool old = !version.empty() && compare_versions(version, "1.42") < 0;
  json out = json::array();
  for (const BuildCacheRecord& r : records) {
    json b = {{"ID", r.id}};
    if (!r.parent.empty()) {
      if (old) b["Parent"] = r.parent;
      else b["Parents"] = json::array({r.parent});
    }
    b["Type"] = r.type;
    b["Description"] = r.description;
    b["InUse"] = r.in_use;
    b["Shared"] = r.shared;
    b["Size"] = r.size;
    b["CreatedAt"] = rfc3339_nano(r.created_ns);
    b["LastUsedAt"] = r.last_used_ns ? json(rfc3339_nano(r.last_used_ns)) : json(nullptr);
    b["UsageCount"] = r.usage;
    out.push_back(b);
  }
  return out;
}

}  // namespace

void register_build_routes(Router& rt, Daemon& d, ContainerService& svc) {
  auto builds = std::make_shared<BuildService>(d, svc);
  auto sessions = std::make_shared<SshSessions>();
  // hoist's CLI: a session for RUN --mount=type=ssh (engine/build_ssh.h, docs/api.md), open until
  // the client hangs up or the build that names it ends.
  rt.post("/hoist/session", [sessions](Request& req, Response& res) {
    std::string id = req.q("id");
    if (!valid_session_id(id))
      throw InvalidArgument("invalid session id \"" + id + "\": 16 to 64 letters, digits, '-' or '_'");
    std::set<std::string> ssh;
    for (const std::string& v : query_values(req.target, "ssh")) {
      if (v.empty()) throw InvalidArgument("invalid ssh parameter: an empty id");
      ssh.insert(v);
    }
    auto s = sessions->open(id, ssh);
    try {
      res.hijack(req.header("upgrade").empty() ? 200 : 101, "application/vnd.hoist.session",
                 [&](UniqueFd conn, std::string already) { s->serve(std::move(conn), std::move(already)); });
    } catch (...) {
      sessions->close(id);
      throw;
    }
    sessions->close(id);
  });
  // hoist's CLI: which of its context's files the kept copy has (engine/build_context_cache.h).
  rt.post("/hoist/build-context", [builds](Request& req, Response& res) {
    auto a = builds->contexts().compare(req.q("key"), req.body(64 << 20));
    res.json(200, json{{"token", a.token}, {"have", a.have}}.dump() + "\n");
  });
  d.hooks().df_build_cache = [builds](const std::string& version) {
    return build_cache_json(builds->cache_records(), version).dump();
  };
  // dockerd's /build/prune: all, keep-storage, filters (build_prune.h).
  rt.post("/build/prune", [builds](Request& req, Response& res) {
    BuildPruneOptions o;
    o.all = req.qbool("all");
    if (std::string ks = req.q("keep-storage"); !ks.empty()) {
      try {
        std::size_t used = 0;
        o.keep_storage = std::stoll(ks, &used, 10);
        if (used != ks.size()) throw InvalidArgument("");
      } catch (const std::exception&) {
        throw InvalidArgument("strconv.ParseInt: parsing \"" + ks + "\": invalid syntax");
      }
    }
    o.read_filters(parse_filters(req.q("filters")));
    BuildPruneReport rep = builds->prune_cache(o);
    json out = {{"CachesDeleted", rep.deleted.empty() ? json(nullptr) : json(rep.deleted)},
                {"SpaceReclaimed", rep.reclaimed}};
    res.json(200, out.dump() + "\n");
  });
  rt.post("/build", [builds, sessions, &d](Request& req, Response& res) {
    BuildOptions o;
    check_unsupported(req);
    o.dockerfile = req.q("dockerfile", "Dockerfile");
    if (o.dockerfile.empty()) o.dockerfile = "Dockerfile";
    o.tags = query_values(req.target, "t");
    bool quiet = req.qbool("q");
    o.nocache = req.qbool("nocache");
    o.rm = req.qbool("rm", true);
    o.forcerm = req.qbool("forcerm");
    o.build_args = string_map(req.q("buildargs"), "buildargs");
    for (auto& [k, v] : string_map(req.q("labels"), "labels")) o.labels[k] = v.value_or("");
    o.target = req.q("target");
    o.platform = check_requested_platform(req.q("platform"));
    o.network_mode = req.q("networkmode", "default");
    if (o.network_mode.empty()) o.network_mode = "default";
    o.context_stat_entry = req.header("x-hoist-context-stat");
    o.context_cache = req.header("x-hoist-context-cache");
    o.secrets = build_secrets(req.header("x-hoist-build-secrets"));
    o.allow_insecure =
        build_entitlements(req.header("x-hoist-build-entitlements"), d.config().allow_security_insecure);
    if (std::string sid = req.header("x-hoist-build-session"); !sid.empty()) {
      o.ssh = sessions->find(sid);
      if (!o.ssh) throw InvalidArgument("invalid X-Hoist-Build-Session header: no session \"" + sid + "\" is open");
    }
    // The session serves this build only: it ends with it (whatever way the build ends).
    struct EndSession {
      std::shared_ptr<SshSession> s;
      ~EndSession() {
        if (s) s->end();
      }
    } end_session{o.ssh};
    o.pull = req.qbool("pull");
    o.resources = build_resources(req);
    if (std::string cf = req.q("cachefrom"); !cf.empty()) {  // dockerd: a JSON array of references
      json j = json::parse(cf, nullptr, false);
      if (j.is_discarded() || !(j.is_array() || j.is_null()))
        throw InvalidArgument("invalid cachefrom parameter: not a JSON array of strings");
      if (j.is_array())
        for (auto& v : j) {
          if (!v.is_string()) throw InvalidArgument("invalid cachefrom parameter: not a JSON array of strings");
          o.cache_from.push_back(v.get<std::string>());
        }
    }
    o.remote = req.q("remote");
    // X-Registry-Config: the client's credentials for every registry, used by the pulls (in an
    // auth file of the request's own, removed with it).
    struct AuthTmp {
      std::string path;
      ~AuthTmp() {
        if (!path.empty()) ::unlink(path.c_str());
      }
    } auth_tmp;
    std::map<std::string, image::Credentials> creds = decode_registry_config(req.header("x-registry-config"));
    if (!creds.empty()) {
      static std::atomic<int> counter{0};
      auth_tmp.path = d.config().exec_root + "/build-auth-" + std::to_string(::getpid()) + "-" +
                      std::to_string(++counter) + ".json";
      auto af = image::AuthFile::load(auth_tmp.path);
      for (auto& [key, c] : creds) {
        std::string k = key;
        for (const char* prefix : {"https://", "http://"})
          if (k.rfind(prefix, 0) == 0) k = k.substr(std::string(prefix).size());
        k = k.substr(0, k.find('/'));
        if (k == "index.docker.io" || k == "registry-1.docker.io") k = "docker.io";
        af.set(k, c);
      }
      af.save();
    }
    o.registry = [&d, path = auth_tmp.path](const std::string&) {
      image::RegistrySettings settings = d.registry_settings();
      if (!path.empty()) settings.auth_file = path;
      return settings;
    };
    req.unlimited_body();

    Writer* w = nullptr;
    std::string held;  // quiet: the text, sent only when the build fails
    auto send = [&](const std::string& line) {
      if (!w) w = &res.stream(200, "application/json");
      if (!w->write(line + "\r\n")) throw Error("build: the client went away");
    };
    BuildOutput out;
    out.stream = [&](std::string_view text) {
      if (quiet) held += stream_line(text) + "\r\n";
      else send(stream_line(text));
    };
    out.progress = [&](const image::ProgressEvent& e) {
      std::string line = progress_line(e);
      if (quiet) held += line + "\r\n";
      else send(line);
    };
    out.message = [&](const std::string& line) {
      if (quiet) held += line + "\r\n";
      else send(line);
    };
    // dockerd 20.10 sends no aux line in quiet mode.
    out.aux = [&](const std::string& id) {
      if (!quiet) send("{\"aux\":{\"ID\":" + go_json_string(id) + "}}");
    };
    std::string id;
    try {
      id = builds->build(o, [&](char* buf, std::size_t len) { return req.read_body_some(buf, len); }, out);
    } catch (const std::exception& e) {
      int code = 0;
      if (auto* f = dynamic_cast<const StepFailed*>(&e)) code = f->code();
      if (quiet && !held.empty()) {
        if (!w) w = &res.stream(200, "application/json");
        w->write(held);
        held.clear();
      }
      if (!w) throw;  // nothing sent yet: an HTTP error
      log::info(std::string("build failed: ") + e.what());
      w->write(error_line(e.what(), code) + "\r\n");
      return;
    }
    if (quiet) {
      send(stream_line(id + "\n"));
      return;
    }
    send(stream_line("Successfully built " + id.substr(7, 12) + "\n"));
    for (const std::string& t : o.tags) {
      std::string shown = t;
      try {
        shown = image::Reference::parse(t).familiar();
      } catch (const std::exception&) {
      }
      send(stream_line("Successfully tagged " + shown + "\n"));
    }
  });
}

}  // namespace hoist::engine
