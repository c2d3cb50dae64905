// Image endpoints of the Docker Engine API, over image::Store / pull / push / archive.
#include <fnmatch.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "engine/api/prune_filters.h"
#include "engine/api/routes.h"
#include "engine/api/request_json.h"
#include "builder/config_changes.h"
#include "image/archive.h"
#include "image/manifest.h"
#include "image/pull.h"

namespace hoist::engine {

using nlohmann::json;
using image::ImageRecord;
using image::Reference;

namespace {

json image_config(Daemon& d, const ImageRecord& rec) {
  try {
    return json::parse(d.store().content().read(rec.id));
  } catch (const std::exception& e) {
    log::warn("image config " + rec.id.str() + ": " + e.what());
    return json::object();
  }
}

std::int64_t rfc3339_to_unix(const std::string& s) {
  std::tm tm{};
  if (s.empty() || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return std::int64_t(timegm(&tm));
}

std::string jstr(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Names {
  std::vector<std::string> tags, digests;
};
Names names_of(Daemon& d, const ImageRecord& rec) {
  Names n;
  std::set<std::string> seen_digest;
  for (auto& r : d.store().references(rec.id)) {
    if (r.digest) {
      auto s = r.familiar_name() + "@" + r.digest->str();
      if (seen_digest.insert(s).second) n.digests.push_back(s);
    } else {
      n.tags.push_back(r.familiar());
    }
  }
  return n;
}

json summary(Daemon& d, const ImageRecord& rec, const json& cfg) {
  auto n = names_of(d, rec);
  json labels = nullptr;  // as dockerd: null for an image without labels
  if (cfg.contains("config") && cfg["config"].is_object() && cfg["config"].contains("Labels") &&
      cfg["config"]["Labels"].is_object())
    labels = cfg["config"]["Labels"];
  int containers = d.hooks().image_containers ? d.hooks().image_containers(rec.id) : -1;
  return {{"Id", rec.id.str()},
          {"ParentId", rec.parent ? rec.parent->str() : ""},
          {"RepoTags", n.tags},
          {"RepoDigests", n.digests.empty() ? json(nullptr) : json(n.digests)},
          {"Created", rfc3339_to_unix(jstr(cfg, "created"))},
          {"Size", rec.size},
          {"SharedSize", -1},
          {"VirtualSize", rec.size},
          {"Labels", labels},
          {"Containers", containers}};
}

// Go's reference.FamiliarMatch: path.Match of the pattern against the whole reference, or its
// name alone (without the tag or digest).
bool ref_matches(const std::string& pattern, const std::string& ref) {
  if (::fnmatch(pattern.c_str(), ref.c_str(), FNM_PATHNAME) == 0) return true;
  auto at = ref.find('@');
  auto name = at != std::string::npos ? ref.substr(0, at) : ref.substr(0, ref.rfind(':'));
  return ::fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0;
}

// dockerd's reference filter: the image's names that match one of the patterns (a name with its
// tag, or without it); the image is listed with those names alone.
Names matching_names(const std::vector<std::string>& patterns, const Names& n) {
  Names out;
  auto any = [&](const std::string& ref) {
    for (auto& p : patterns)
      if (ref_matches(p, ref)) return true;
    return false;
  };
  for (auto& t : n.tags)
    if (any(t)) out.tags.push_back(t);
  for (auto& t : n.digests)
    if (any(t)) out.digests.push_back(t);
  return out;
}

bool truthy(const std::string& v) { return v == "1" || v == "true" || v == "True"; }

std::string human(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int i = 0;
  while (b >= 1000 && i < 4) {
    b /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f%s" : "%.3g%s", b, units[i]);
  return buf;
}

std::string progress_bar(std::int64_t cur, std::int64_t total) {
  int width = 50;
  int filled = total > 0 ? int(double(cur) / double(total) * width) : 0;
  if (filled > width) filled = width;
  std::string bar = "[";
  for (int i = 0; i < width; ++i) bar += i < filled ? (i + 1 == filled && filled < width ? '>' : '=') : ' ';
  bar += "] " + human(double(cur)) + "/" + human(double(total));
  return bar;
}

}  // namespace

std::string progress_line(const image::ProgressEvent& e) {
  // dockerd's JSONMessage: its fields in the struct's order. A message (no id, or the pull's
  // "Pulling from" line) has no progressDetail; a layer's status has one, {} without a total.
  nlohmann::ordered_json j = {{"status", e.status}};
  bool message = e.id.empty() || e.status.rfind("Pulling from ", 0) == 0;
  if (e.total > 0) {
    j["progressDetail"] = {{"current", e.current}, {"total", e.total}};
    j["progress"] = progress_bar(e.current, e.total);
  } else if (!message) {
    j["progressDetail"] = nlohmann::ordered_json::object();
  }
  if (!e.id.empty()) j["id"] = e.id;
  return j.dump();
}

namespace {

json error_json(const std::string& msg) { return {{"errorDetail", {{"message", msg}}}, {"error", msg}}; }

std::string b64decode(std::string s) {
  for (auto& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int buf = 0, bits = 0;
  for (char c : s) {
    int v = val(c);
    if (v < 0) continue;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((buf >> bits) & 0xff);
    }
  }
  return out;
}

// Registry settings for one request: X-Registry-Auth (base64 JSON) becomes a private auth file.
struct RequestAuth {
  image::RegistrySettings settings;
  std::string tmp_file;
  ~RequestAuth() {
    if (!tmp_file.empty()) ::unlink(tmp_file.c_str());
  }
};
void apply_auth(Daemon& d, const Request& req, const std::string& host, RequestAuth& ra) {
  ra.settings = d.registry_settings();
  auto c = decode_registry_auth(req.header("x-registry-auth"));
  if (!c) return;
  static std::atomic<int> counter{0};
  ra.tmp_file = d.config().exec_root + "/auth-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".json";
  auto af = image::AuthFile::load(ra.tmp_file);
  af.set(host, *c);
  af.save();
  ra.settings.auth_file = ra.tmp_file;
}

// Pull and push progress: the stream starts with the first event, so an error before it is an
// ordinary HTTP error; afterwards errors go in-band.
class ProgressStream {
 public:
  ProgressStream(Response& res) : res_(res) {}
  void send(const json& j) { send_line(j.dump()); }
  void send_line(const std::string& line) {
    std::lock_guard lk(mu_);
    if (!w_) w_ = &res_.stream(200, "application/json");
    write_json_line(*w_, line);
  }
  bool started() {
    std::lock_guard lk(mu_);
    return w_ != nullptr;
  }
  image::ProgressFn fn() {
    return [this](const image::ProgressEvent& e) { send_line(progress_line(e)); };
  }

 private:
  Response& res_;
  std::mutex mu_;
  Writer* w_ = nullptr;
};

// A ReadFn over the request body.
image::ReadFn body_reader(Request& req) {
  return [&req](char* buf, std::size_t n) { return req.read_body_some(buf, n); };
}

std::string full_ref_string(const std::string& repo, const std::string& tag) {
  if (tag.empty()) return repo;
  if (tag.find(':') != std::string::npos && tag.rfind("sha256:", 0) == 0) return repo + "@" + tag;
  return repo + ":" + tag;
}

void pull(Daemon& d, Request& req, Response& res) {
  std::string from = req.q("fromImage");
  std::string tag = req.q("tag");
  // fromImage may already carry a tag or digest; "tag" adds one.
  Reference ref = Reference::parse_name_only(from);
  if (!tag.empty()) {
    ref = Reference::parse(full_ref_string(ref.name(), tag));  // the tag parameter wins
  } else if (ref.tag.empty() && !ref.digest) {
    ref.tag = "latest";
  }
  image::PullOptions opts;
  if (!req.q("platform").empty()) opts.platform = image::Platform::parse(req.q("platform"));
  RequestAuth ra;
  apply_auth(d, req, ref.domain, ra);
  ProgressStream ps(res);
  try {
    auto r = image::pull_image(d.store(), ra.settings, ref, opts, ps.fn());
    ps.send({{"status", "Digest: " + r.digest.str()}});
    ps.send({{"status", (r.updated ? "Status: Downloaded newer image for " : "Status: Image is up to date for ") +
                            ref.familiar()}});
    d.publish_image_event("pull", ref.familiar(), ref.familiar());
  } catch (const std::exception& e) {
    if (!ps.started()) {
      if (auto* re = dynamic_cast<const image::RegistryError*>(&e); re && (re->status() == 404 || re->status() == 401))
        throw NotFound(e.what());
      throw;
    }
    ps.send(error_json(e.what()));
  }
}

void import(Daemon& d, Request& req, Response& res) {
  if (req.q("fromSrc") != "-") throw InvalidArgument("import from a URL is not supported; use fromSrc=-");
  image::ImportOptions opts;
  std::string repo = req.q("repo");
  if (!repo.empty()) opts.refs.push_back(Reference::parse(full_ref_string(repo, req.q("tag"))));
  opts.message = req.q("message");
  // Dockerfile instructions for the image config, checked before the body is read (as dockerd).
  builder::apply_config_changes(opts.config, query_values(req.target, "changes"));
  if (!req.q("platform").empty()) opts.platform = image::Platform::parse(req.q("platform"));
  auto rec = image::import_image(d.store(), body_reader(req), opts);
  d.publish_image_event("import", rec.id.str(), repo.empty() ? "" : opts.refs[0].familiar());
  for (auto& ref : opts.refs) d.publish_image_event("tag", rec.id.str(), ref.familiar());  // as dockerd
  Writer& w = res.stream(200, "application/json");
  write_json_line(w, json{{"status", rec.id.str()}}.dump());
}

}  // namespace

std::optional<image::Credentials> decode_registry_auth(std::string_view header) {
  if (header.empty()) return std::nullopt;
  json j;
  try {
    j = decode_json(b64decode(std::string(header)), BodyType::AuthConfig);
  } catch (const InvalidArgument&) {
    return std::nullopt;  // Docker ignores an undecodable header (anonymous access)
  }
  image::Credentials c;
  c.username = jstr(j, "username");
  c.password = jstr(j, "password");
  c.identity_token = jstr(j, "identitytoken");
  if (c.empty()) return std::nullopt;
  return c;
}

std::map<std::string, image::Credentials> decode_registry_config(std::string_view header) {
  std::map<std::string, image::Credentials> out;
  if (header.empty()) return out;
  json j = json::parse(b64decode(std::string(header)), nullptr, false);
  if (!j.is_object()) return out;
  for (auto& [key, v] : j.items()) {
    if (!v.is_object()) continue;
    image::Credentials c;
    c.username = jstr(v, "username");
    c.password = jstr(v, "password");
    c.identity_token = jstr(v, "identitytoken");
    if (!c.empty()) out[key] = c;
  }
  return out;
}

// Shared with api_system.cpp (/system/df).
std::string images_list_json(Daemon& d, const Filters& f, bool all) {
  auto recs = d.store().list();
  // dockerd's rule: without `all`, an image with no name that is another's parent (a build's
  // intermediate image, the base of a commit) is left out.
  std::set<Digest> parents;
  for (auto& rec : recs)
    if (rec.parent) parents.insert(*rec.parent);
  std::optional<bool> dangling;
  if (auto it = f.find("dangling"); it != f.end() && !it->second.empty()) dangling = truthy(it->second.front());
  auto created_of = [&](const std::string& spec) {
    auto rec = d.store().resolve(spec);
    return rfc3339_to_unix(jstr(image_config(d, rec), "created"));
  };
  std::optional<std::int64_t> before, since;
  if (auto it = f.find("before"); it != f.end() && !it->second.empty()) before = created_of(it->second.front());
  if (auto it = f.find("since"); it != f.end() && !it->second.empty()) since = created_of(it->second.front());
  for (auto& [k, v] : f)
    if (k != "dangling" && k != "reference" && k != "before" && k != "since" && k != "label")
      throw InvalidArgument("invalid filter '" + k + "'");
  json out = json::array();
  for (auto& rec : recs) {
    auto cfg = image_config(d, rec);
    auto s = summary(d, rec, cfg);
    auto n = names_of(d, rec);
    bool is_dangling = n.tags.empty();
    if (!all && is_dangling && n.digests.empty() && parents.count(rec.id)) continue;
    if (dangling && *dangling != is_dangling) continue;
    if (auto it = f.find("reference"); it != f.end() && !it->second.empty()) {
      auto m = matching_names(it->second, n);
      if (m.tags.empty() && m.digests.empty()) continue;
      s["RepoTags"] = m.tags;
      s["RepoDigests"] = m.digests.empty() ? json(nullptr) : json(m.digests);
    }
    if (auto it = f.find("label"); it != f.end()) {
      bool ok = true;
      for (auto& l : it->second) {
        auto eq = l.find('=');
        auto key = l.substr(0, eq);
        if (!s["Labels"].contains(key) ||
            (eq != std::string::npos && s["Labels"][key] != l.substr(eq + 1)))
          ok = false;
      }
      if (!ok) continue;
    }
    std::int64_t created = s["Created"].get<std::int64_t>();
    if (before && created >= *before) continue;
    if (since && created <= *since) continue;
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const json& a, const json& b) { return a["Created"].get<std::int64_t>() > b["Created"].get<std::int64_t>(); });
  return out.dump();
}

std::int64_t images_layers_size(Daemon& d) {
  std::set<Digest> chains;
  std::int64_t total = 0;
  for (auto& rec : d.store().list())
    for (auto& l : rec.layers)
      if (chains.insert(l.chain_id).second) total += d.store().snapshot_size(l.chain_id);
  return total;
}

void register_image_routes(Router& r, Daemon& d) {
  r.get("/images/json", [&d](Request& req, Response& res) {
    res.json(200, images_list_json(d, parse_filters(req.q("filters")), req.qbool("all")) + "\n");
  });

  r.get("/images/{name...}/json", [&d](Request& req, Response& res) {
    auto rec = d.store().resolve(req.param("name"));
    auto cfg = image_config(d, rec);
    auto n = names_of(d, rec);
    json diff_ids = json::array();
    for (auto& l : rec.layers) diff_ids.push_back(l.diff_id.str());
    auto paths = d.store().layer_paths(rec);
    json gd_data = json::object();
    if (!paths.empty()) {
      std::string lower;
      for (std::size_t i = paths.size() - 1; i-- > 0;) lower += (lower.empty() ? "" : ":") + paths[i];
      if (!lower.empty()) gd_data["LowerDir"] = lower;
      gd_data["UpperDir"] = paths.back();
      gd_data["MergedDir"] = paths.back().substr(0, paths.back().rfind('/')) + "/merged";
      gd_data["WorkDir"] = paths.back().substr(0, paths.back().rfind('/')) + "/work";
    }
    json config = config_view(cfg.contains("config") ? cfg["config"] : json::object());
    json container_config = config_view(cfg.contains("container_config") ? cfg["container_config"] : json::object());
    json out = {{"Id", rec.id.str()},
                {"RepoTags", n.tags},
                {"RepoDigests", n.digests},
                {"Parent", rec.parent ? rec.parent->str() : ""},
                {"Comment", jstr(cfg, "comment")},
                {"Created", jstr(cfg, "created")},
                {"Container", jstr(cfg, "container")},
                {"ContainerConfig", container_config},
                {"DockerVersion", jstr(cfg, "docker_version")},
                {"Author", jstr(cfg, "author")},
                {"Config", config},
                {"Architecture", jstr(cfg, "architecture")},
                {"Os", jstr(cfg, "os")},
                {"Size", rec.size},
                {"VirtualSize", rec.size},
                {"GraphDriver",
                 {{"Name", d.store().mode() == image::SnapshotMode::Overlay ? "overlay2" : "vfs"}, {"Data", gd_data}}},
                {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
                {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
    if (!jstr(cfg, "variant").empty()) out["Variant"] = jstr(cfg, "variant");
    res.json(200, out.dump() + "\n");
  });

  r.get("/images/{name...}/history", [&d](Request& req, Response& res) {
    auto rec = d.store().resolve(req.param("name"));
    auto cfg = image_config(d, rec);
    auto n = names_of(d, rec);
    json hist = cfg.contains("history") && cfg["history"].is_array() ? cfg["history"] : json::array();
    std::size_t layer = 0;
    json out = json::array();
    for (auto& h : hist) {
      bool empty = h.value("empty_layer", false);
      std::int64_t size = 0;
      if (!empty && layer < rec.layers.size()) size = d.store().snapshot_size(rec.layers[layer++].chain_id);
      out.push_back({{"Id", "<missing>"},
                     {"Created", rfc3339_to_unix(jstr(h, "created"))},
                     {"CreatedBy", jstr(h, "created_by")},
                     {"Tags", nullptr},
                     {"Size", size},
                     {"Comment", jstr(h, "comment")}});
    }
    if (out.empty())
      out.push_back({{"Id", "<missing>"}, {"Created", rfc3339_to_unix(jstr(cfg, "created"))}, {"CreatedBy", ""},
                     {"Tags", nullptr}, {"Size", rec.size}, {"Comment", ""}});
    std::reverse(out.begin(), out.end());
    out[0]["Id"] = rec.id.str();
    out[0]["Tags"] = n.tags;
    res.json(200, out.dump() + "\n");
  });

  r.post("/images/create", [&d](Request& req, Response& res) {
    if (!req.q("fromImage").empty()) return pull(d, req, res);
    if (!req.q("fromSrc").empty()) return import(d, req, res);
    throw InvalidArgument("either fromImage or fromSrc is required");
  });

  r.post("/images/{name...}/tag", [&d](Request& req, Response& res) {
    auto rec = d.store().resolve(req.param("name"));
    std::string repo = req.q("repo");
    if (repo.empty()) throw InvalidArgument("repository name is required");
    Reference ref;
    try {
      ref = Reference::parse(full_ref_string(repo, req.q("tag")));
    } catch (const InvalidArgument&) {
      throw;
    } catch (const Error& e) {
      throw InvalidArgument(e.what());
    }
    if (ref.digest) throw InvalidArgument("refusing to create a tag with a digest reference");
    d.store().tag(rec.id, ref);
    d.publish_image_event("tag", rec.id.str(), ref.familiar());
    res.send(201, "");
  });

  r.del("/images/{name...}", [&d](Request& req, Response& res) {
    const auto& name = req.param("name");
    bool force = req.qbool("force");
    auto rec = d.store().resolve(name);
    if (d.hooks().image_user) {
      auto user = d.hooks().image_user(rec.id);
      bool by_id = image::looks_like_image_id(name) || rec.id.hex.rfind(name, 0) == 0;
      bool last_name = d.store().references(rec.id).size() <= 1;
      if (user && !force && (by_id || last_name))
        throw Conflict("conflict: unable to delete " + (by_id ? rec.id.short_id() : name) +
                       " (must be forced) - image is being used by container " + *user);
    }
    auto rep = d.store().remove(name, force);
    json out = json::array();
    for (auto& u : rep.untagged) {
      out.push_back({{"Untagged", u}});
      d.publish_image_event("untag", rec.id.str(), u);
    }
    for (auto& x : rep.deleted) out.push_back({{"Deleted", x}});
    if (!rep.deleted.empty()) d.publish_image_event("delete", rec.id.str(), "");
    res.json(200, out.dump() + "\n");
  });

  r.post("/images/{name...}/push", [&d](Request& req, Response& res) {
    Reference ref = Reference::parse(full_ref_string(req.param("name"), req.q("tag")));
    auto rec = d.store().resolve(ref.str());
    RequestAuth ra;
    apply_auth(d, req, ref.domain, ra);
    ProgressStream ps(res);
    ps.send({{"status", "The push refers to repository [" + ref.name() + "]"}});
    try {
      auto dg = image::push_image(d.store(), ra.settings, ref, {}, ps.fn());
      auto size = d.store().content().size(dg).value_or(0);
      ps.send({{"status", ref.tag + ": digest: " + dg.str() + " size: " + std::to_string(size)}});
      ps.send({{"progressDetail", json::object()},
               {"aux", {{"Tag", ref.tag}, {"Digest", dg.str()}, {"Size", size}}}});
      d.publish_image_event("push", ref.familiar(), ref.familiar());
    } catch (const std::exception& e) {
      ps.send(error_json(e.what()));
    }
    (void)rec;
  });

  auto save = [&d](Response& res, std::vector<std::string> names) {
    if (names.empty()) throw InvalidArgument("no image names given");
    for (auto& n : names) d.store().resolve(n);  // 404 before the stream starts
    Writer& w = res.stream(200, "application/x-tar");
    try {
      image::save_images(d.store(), names, image::SaveFormat::Docker, [&w](const char* p, std::size_t n) {
        if (!w.write(std::string_view(p, n))) throw Error("client went away");
      });
      for (auto& n : names) d.publish_image_event("save", d.store().resolve(n).id.str(), n);
    } catch (const std::exception& e) {
      log::warn(std::string("save: ") + e.what());
      throw;  // breaks the connection: the client sees a truncated tar
    }
  };
  r.get("/images/get", [save](Request& req, Response& res) {
    save(res, query_values(req.target, "names"));
  });
  r.get("/images/{name...}/get", [save](Request& req, Response& res) {
    save(res, {req.param("name")});
  });

  r.post("/images/load", [&d](Request& req, Response& res) {
    bool quiet = req.qbool("quiet");
    std::vector<std::string> loaded;
    std::string err;
    try {
      auto r = image::load_images(d.store(), body_reader(req));
      loaded = r.loaded;
    } catch (const PayloadTooLarge&) {
      throw;
    } catch (const std::exception& e) {
      err = e.what();
    }
    // As dockerd: a bad archive is reported in the 200 stream (clients raise ImageLoadError). The
    // rest of the archive is read first (up to 256 MiB), so that a client still sending it gets
    // the answer rather than a broken connection.
    if (!err.empty()) try {
        char sink[64 * 1024];
        std::size_t total = 0;
        while (total < (std::size_t{256} << 20)) {
          auto n = req.read_body_some(sink, sizeof sink);
          if (n == 0) break;
          total += n;
        }
      } catch (const std::exception&) {
      }
    Writer& w = res.stream(200, "application/json");
    for (auto& l : loaded) {
      write_json_line(w, json{{"stream", l + "\n"}}.dump());
      std::string name = l.substr(l.find(':') + 2);
      d.publish_image_event("load", name, name);
    }
    if (!err.empty()) write_json_line(w, error_json(err).dump());
    (void)quiet;
  });

  r.post("/images/prune", [&d](Request& req, Response& res) {
    auto f = parse_filters(req.q("filters"));
    auto pf = PruneFilters::parse(f, {"dangling"});
    bool all = false;
    if (auto it = f.find("dangling"); it != f.end() && !it->second.empty()) all = !truthy(it->second.front());
    std::map<Digest, std::int64_t> sizes;
    for (auto& rec : d.store().list())
      for (auto& l : rec.layers) sizes[l.chain_id] = d.store().snapshot_size(l.chain_id);
    // Kept: images a container uses, and those the filters leave out (by the image's created
    // time and labels, as dockerd).
    std::function<bool(const Digest&)> keep = [&d, &pf](const Digest& id) {
      if (d.hooks().image_user && d.hooks().image_user(id).has_value()) return true;
      if (pf.until_ns == 0 && pf.label.empty() && pf.label_not.empty()) return false;
      auto cfg = json::parse(d.store().content().read(id), nullptr, false);
      if (!cfg.is_object()) return true;
      std::int64_t created = 0;
      try {
        created = parse_rfc3339_ns(cfg.value("created", ""));
      } catch (const std::exception&) {
      }
      const json& c = cfg.contains("config") && cfg["config"].is_object() ? cfg["config"] : json::object();
      return !pf.selects(c.contains("Labels") ? c["Labels"] : json(), created);
    };
    auto rep = d.store().prune(all, keep);
    json deleted = json::array();
    std::int64_t reclaimed = 0;
    for (auto& u : rep.untagged) deleted.push_back({{"Untagged", u}});
    for (auto& x : rep.deleted) {
      deleted.push_back({{"Deleted", x}});
      if (Digest::valid(x))
        if (auto it = sizes.find(Digest::parse(x)); it != sizes.end()) reclaimed += it->second;
    }
    if (!rep.deleted.empty()) d.publish_image_event("prune", "", "");
    json out = {{"ImagesDeleted", rep.deleted.empty() && rep.untagged.empty() ? json(nullptr) : deleted},
                {"SpaceReclaimed", reclaimed}};
    res.json(200, out.dump() + "\n");
  });
}

}  // namespace hoist::engine
