// Volumes in the CLI: the `volume` group (create, ls, inspect, rm, prune) and what run/create
// take of them (volume.h): -v, --mount, --tmpfs, --volumes-from, --volume-driver, in docker 28's
// words.
#include "cli/commands/volume.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <iostream>
#include <optional>
#include <set>

#include "cli/commands/commands.h"
#include "cli/commands/network.h"
#include "cli/format.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

std::string lowered(std::string s) {
  for (auto& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

// Go's strconv.ParseBool.
std::optional<bool> go_bool(const std::string& v) {
  static const std::set<std::string> yes = {"1", "t", "T", "TRUE", "true", "True"},
                                     no = {"0", "f", "F", "FALSE", "false", "False"};
  if (yes.count(v)) return true;
  if (no.count(v)) return false;
  return std::nullopt;
}

// One record of Go's encoding/csv (a single line): fields split at commas, a field in double quotes
// may hold commas and "" for a quote. Throws the reader's error text.
std::vector<std::string> csv_fields(const std::string& line) {
  auto fail = [](size_t column, const char* why) {
    return Error("parse error on line 1, column " + std::to_string(column) + ": " + why);
  };
  std::vector<std::string> fields;
  size_t i = 0;
  for (;;) {
    std::string f;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) throw fail(line.size() + 1, "extraneous or missing \" in quoted-field");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            f += '"';
            i += 2;
            continue;
          }
          ++i;
          if (i < line.size() && line[i] != ',') throw fail(i + 1, "extraneous or missing \" in quoted-field");
          break;
        }
        f += line[i++];
      }
    } else {
      while (i < line.size() && line[i] != ',') {
        if (line[i] == '"') throw fail(i + 1, "bare \" in non-quoted-field");
        f += line[i++];
      }
    }
    fields.push_back(f);
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

// go-units RAMInBytes: "64m", "1g", "512k", "100" (binary multiples); -1 when it does not parse.
long long ram_in_bytes(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit((unsigned char)s[i]) || s[i] == '.')) ++i;
  if (i == 0) return -1;
  double v;
  try {
    v = std::stod(s.substr(0, i));
  } catch (...) {
    return -1;
  }
  std::string unit = lowered(s.substr(i));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  static const std::map<std::string, double> mult = {{"", 1}, {"k", 1024.0}, {"m", 1048576.0}, {"g", 1073741824.0},
                                                     {"t", 1099511627776.0}, {"p", 1125899906842624.0}};
  auto it = mult.find(unit);
  if (it == mult.end()) return -1;
  return (long long)(v * it->second);
}

// docker's loader.ParseVolume for -v: the source and the target it finds, or its error.
struct VolumeSpec {
  std::string source, target;
};

VolumeSpec parse_volume_spec(const std::string& spec) {
  VolumeSpec v;
  if (spec.empty()) throw InvalidArgument("invalid empty volume spec");
  if (spec.size() <= 2) {
    v.target = spec;
    return v;
  }
  std::string buf;
  bool have_source = false, have_target = false;
  auto flush = [&](bool end) {
    if (buf.empty()) throw InvalidArgument("invalid spec: " + spec + ": empty section between colons");
    if (!have_source && end) v.target = buf;
    else if (!have_source) v.source = buf, have_source = true;
    else if (!have_target) v.target = buf, have_target = true;
    else if (!end) throw InvalidArgument("invalid spec: " + spec + ": too many colons");
    buf.clear();
  };
  for (char c : spec) {
    // "c:" after a single letter is a Windows drive, part of the path.
    if (c == ':' && buf.size() == 1 && std::isalpha((unsigned char)buf[0])) buf += c;
    else if (c == ':') flush(false);
    else buf += c;
  }
  flush(true);
  return v;
}

// Go's filepath.Abs: the working directory joined and cleaned.
std::string absolute(const std::string& rel) {
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return rel;
  return clean_path(std::string(cwd) + "/" + rel);
}

}  // namespace

json parse_mount_flag(const std::string& value) {
  auto fail = [&](const std::string& why) {
    return FlagError("invalid argument \"" + json(value).dump().substr(1, json(value).dump().size() - 2) +
                     "\" for \"--mount\" flag: " + why);
  };
  std::vector<std::string> fields;
  try {
    fields = csv_fields(value);
  } catch (const Error& e) {
    throw fail(e.what());
  }
  json m = {{"Type", "volume"}};
  json vo, bo, to, io;  // the option groups given
  auto vol = [&]() -> json& {
    if (vo.is_null()) vo = {{"Labels", json::object()}, {"DriverConfig", json::object()}};
    return vo;
  };
  auto bind = [&]() -> json& {
    if (bo.is_null()) bo = json::object();
    return bo;
  };
  auto tmp = [&]() -> json& {
    if (to.is_null()) to = json::object();
    return to;
  };
  auto kv_into = [](json& target, const std::string& v) {
    auto eq = v.find('=');
    std::string k = v.substr(0, eq);
    if (!k.empty()) target[k] = eq == std::string::npos ? "" : v.substr(eq + 1);
  };
  auto parse_bool = [&](const std::string& val, const std::string& shown) {
    auto b = go_bool(val);
    if (!b) throw fail("invalid value for " + shown + ": " + val);
    return *b;
  };
  for (const auto& field : fields) {
    auto eq = field.find('=');
    std::string key = lowered(field.substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro") m["ReadOnly"] = true;
      else if (key == "volume-nocopy") vol()["NoCopy"] = true;
      else if (key == "bind-nonrecursive") bind()["NonRecursive"] = true;
      else throw fail("invalid field '" + field + "' must be a key=value pair");
      continue;
    }
    std::string val = field.substr(eq + 1);
    if (key == "type") m["Type"] = lowered(val);
    else if (key == "source" || key == "src") m["Source"] = (val == "." || val.rfind("./", 0) == 0) ? absolute(val) : val;
    else if (key == "target" || key == "dst" || key == "destination") m["Target"] = val;
    else if (key == "readonly" || key == "ro") m["ReadOnly"] = parse_bool(val, key);
    else if (key == "consistency") m["Consistency"] = lowered(val);
    else if (key == "bind-propagation") bind()["Propagation"] = lowered(val);
    else if (key == "bind-nonrecursive") bind()["NonRecursive"] = parse_bool(val, key);
    else if (key == "bind-recursive") {
      if (val == "enabled") bind();
      else if (val == "disabled") bind()["NonRecursive"] = true;
      else if (val == "writable") bind()["ReadOnlyNonRecursive"] = true;
      else if (val == "readonly") bind()["ReadOnlyForceRecursive"] = true;
      else throw fail("invalid value for " + key + ": " + val + " (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")");
    } else if (key == "volume-subpath") vol()["Subpath"] = val;
    else if (key == "volume-nocopy") vol()["NoCopy"] = parse_bool(val, "volume-nocopy");
    else if (key == "volume-label") kv_into(vol()["Labels"], val);
    else if (key == "volume-driver") vol()["DriverConfig"]["Name"] = val;
    else if (key == "volume-opt") {
      if (!vol()["DriverConfig"].contains("Options")) vol()["DriverConfig"]["Options"] = json::object();
      kv_into(vol()["DriverConfig"]["Options"], val);
    } else if (key == "image-subpath") {
      if (io.is_null()) io = json::object();
      io["Subpath"] = val;
    } else if (key == "tmpfs-size") {
      auto n = ram_in_bytes(val);
      if (n < 0) throw fail("invalid value for " + key + ": " + val);
      tmp()["SizeBytes"] = n;
    } else if (key == "tmpfs-mode") {
      bool ok = !val.empty() && val.size() <= 11 &&
                std::all_of(val.begin(), val.end(), [](char c) { return c >= '0' && c <= '7'; });
      if (!ok) throw fail("invalid value for " + key + ": " + val);
      tmp()["Mode"] = std::stoll(val, nullptr, 8);
    } else {
      throw fail("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  std::string type = m["Type"];
  if (type.empty()) throw fail("type is required");
  if (!m.contains("Target") || m["Target"] == "") throw fail("target is required");
  if (!vo.is_null() && type != "volume") throw fail("cannot mix 'volume-*' options with mount type '" + type + "'");
  if (!io.is_null() && type != "image") throw fail("cannot mix 'image-*' options with mount type '" + type + "'");
  if (!bo.is_null() && type != "bind") throw fail("cannot mix 'bind-*' options with mount type '" + type + "'");
  if (!to.is_null() && type != "tmpfs") throw fail("cannot mix 'tmpfs-*' options with mount type '" + type + "'");
  bool ro = m.value("ReadOnly", false);
  if (!bo.is_null() && bo.value("ReadOnlyNonRecursive", false) && !ro)
    throw fail("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (!bo.is_null() && bo.value("ReadOnlyForceRecursive", false)) {
    if (!ro) throw fail("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (bo.value("Propagation", "") != "rprivate")
      throw fail("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }
  if (!vo.is_null()) m["VolumeOptions"] = vo;
  if (!bo.is_null()) m["BindOptions"] = bo;
  if (!to.is_null()) m["TmpfsOptions"] = to;
  if (!io.is_null()) m["ImageOptions"] = io;
  return m;
}

MountFlags mount_flags(const Parsed& p) {
  MountFlags r;
  for (const auto& spec : p.all("volume")) {
    auto v = parse_volume_spec(spec);
    if (v.source.empty()) {
      r.config_volumes[spec] = json::object();
      continue;
    }
    std::string bind = spec;
    auto colon = spec.find(':');
    std::string host = spec.substr(0, colon);
    // A bind (a source starting with '.', '/' or '~') relative to '.' is made absolute, as docker's CLI.
    if (host[0] == '.' && colon != std::string::npos) bind = absolute(host) + spec.substr(colon);
    r.binds.push_back(bind);
  }
  for (const auto& m : p.all("mount")) r.mounts.push_back(parse_mount_flag(m));
  for (const auto& t : p.all("tmpfs")) {
    auto colon = t.find(':');
    r.tmpfs[t.substr(0, colon)] = colon == std::string::npos ? "" : t.substr(colon + 1);
  }
  for (const auto& f : p.all("volumes-from")) r.volumes_from.push_back(f);
  r.volume_driver = p.get("volume-driver");
  return r;
}

void apply_mount_flags(const MountFlags& m, json& config, json& hc) {
  if (!m.binds.empty()) hc["Binds"] = m.binds;
  if (!m.config_volumes.empty()) config["Volumes"] = m.config_volumes;
  if (!m.mounts.empty()) hc["Mounts"] = m.mounts;
  if (!m.tmpfs.empty()) hc["Tmpfs"] = m.tmpfs;
  if (!m.volumes_from.empty()) hc["VolumesFrom"] = m.volumes_from;
  if (!m.volume_driver.empty()) hc["VolumeDriver"] = m.volume_driver;
}

json volume_row(const json& v) {
  auto str = [&](const char* k) { return v.contains(k) && v[k].is_string() ? v[k].get<std::string>() : std::string(); };
  std::vector<std::string> labels;
  if (v.contains("Labels") && v["Labels"].is_object())
    for (auto& [k, val] : v["Labels"].items()) labels.push_back(k + "=" + (val.is_string() ? val.get<std::string>() : ""));
  return {{"Name", str("Name")},         {"Driver", str("Driver")},  {"Scope", str("Scope")},
          {"Mountpoint", str("Mountpoint")}, {"Labels", join(labels, ",")}, {"Links", "N/A"},
          {"Size", "N/A"},               {"Group", "N/A"},           {"Availability", "N/A"},
          {"Status", "N/A"}};
}

// ---- the volume commands ----------------------------------------------------------------------

namespace {

const char* const kNoCluster = "is not supported: hoist has no swarm, so no cluster volumes";

}  // namespace

const Command kVolumeCreateCommand = {
    .use = "[OPTIONS] [VOLUME]",
    .summary = "Create a volume",
    .flags = {{"availability", 0, "string", "Cluster Volume availability (\"active\", \"pause\", \"drain\")", "active",
               true, kNoCluster},
              {"driver", 'd', "string", "Specify volume driver name", "local"},
              {"group", 0, "string", "Cluster Volume group (cluster volumes)", "", true, kNoCluster},
              {"label", 0, "list", "Set metadata for a volume"},
              {"limit-bytes", 0, "bytes", "Minimum size of the Cluster Volume in bytes", "", true, kNoCluster},
              {"name", 0, "string", "Specify volume name", "", true},  // docker's hidden old form
              {"opt", 'o', "map", "Set driver specific options", "map[]"},
              {"required-bytes", 0, "bytes", "Maximum size of the Cluster Volume in bytes", "", true, kNoCluster},
              {"scope", 0, "string", "Cluster Volume access scope (\"single\", \"multi\")", "single", true, kNoCluster},
              {"secret", 0, "map", "Cluster Volume secrets", "map[]", true, kNoCluster},
              {"sharing", 0, "string", "Cluster Volume access sharing (\"none\", \"readonly\", \"onewriter\", \"all\")",
               "none", true, kNoCluster},
              {"topology-preferred", 0, "list", "A topology that the Cluster Volume would be preferred in", "", true,
               kNoCluster},
              {"topology-required", 0, "list", "A topology that the Cluster Volume must be accessible from", "", true,
               kNoCluster},
              {"type", 0, "string", "Cluster Volume access type (\"mount\", \"block\")", "block", true, kNoCluster}},
    .max_args = 1};

int cmd_volume_create(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kVolumeCreateCommand, argv);
  std::string name = p.args.empty() ? "" : p.args[0];
  if (p.has("name")) {
    if (!p.args.empty())
      throw ExitError{1, "conflicting options: cannot specify a volume-name through both --name and as a positional arg"};
    name = p.get("name");
  }
  json labels = json::object(), opts = json::object();
  for (auto& l : p.all("label")) {
    auto eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  for (auto& o : p.all("opt")) {
    auto eq = o.find('=');
    opts[o.substr(0, eq)] = eq == std::string::npos ? "" : o.substr(eq + 1);
  }
  json body = {{"Name", name}, {"Driver", p.get("driver", "local")}, {"DriverOpts", opts}, {"Labels", labels}};
  auto r = json::parse(ctx.c().request("POST", "/volumes/create", body.dump()).body);
  out(r.value("Name", "") + "\n");
  return 0;
}

const Command kVolumeLsCommand = {
    .use = "[OPTIONS]",
    .summary = "List volumes",
    .aliases = {"volume ls", "volume list"},
    .flags = {{"cluster", 0, "", "Display only cluster volumes, and use cluster volume list formatting", "", true,
               kNoCluster},
              {"filter", 'f', "filter", "Provide filter values (e.g. \"dangling=true\")"},
              {"format", 0, "string", kFormatTableUsage},
              {"quiet", 'q', "", "Only display volume names"}},
    .max_args = 0};

int cmd_volume_ls(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kVolumeLsCommand, argv);
  std::string path = "/volumes";
  if (p.has("filter")) path += "?filters=" + q(filters_json(p.all("filter")));
  auto list = json::parse(ctx.c().request("GET", path).body);
  std::vector<json> rows;
  if (list.contains("Volumes") && list["Volumes"].is_array())
    for (auto& v : list["Volumes"]) rows.push_back(volume_row(v));
  std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    return natural_less(a["Name"].get<std::string>(), b["Name"].get<std::string>());
  });
  if (list.contains("Warnings") && list["Warnings"].is_array())
    for (auto& w : list["Warnings"])
      if (w.is_string()) errp(w.get<std::string>() + "\n");
  std::string fmt = p.get("format");
  bool quiet = p.flag("quiet");
  if (fmt.empty() || fmt == "table") fmt = quiet ? "{{.Name}}" : "table {{.Driver}}\t{{.Name}}";
  else if (fmt == "raw") fmt = quiet ? "name: {{.Name}}\n" : "driver: {{.Driver}}\nname: {{.Name}}\n";
  out(format_list(fmt, rows,
                  {{"Name", "VOLUME NAME"}, {"Driver", "DRIVER"}, {"Scope", "SCOPE"}, {"Mountpoint", "MOUNTPOINT"},
                   {"Labels", "LABELS"}, {"Links", "LINKS"}, {"Size", "SIZE"}, {"Group", "GROUP"},
                   {"Availability", "AVAILABILITY"}, {"Status", "STATUS"}}));
  return 0;
}

const Command kVolumeInspectCommand = {.use = "[OPTIONS] VOLUME [VOLUME...]",
                                       .summary = "Display detailed information on one or more volumes",
                                       .flags = {{"format", 'f', "string", kFormatJsonUsage}},
                                       .min_args = 1};

int cmd_volume_inspect(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kVolumeInspectCommand, argv);
  return inspect_each(ctx, p, [](const std::string& n) { return "/volumes/" + q(n); }, [](json& j) {
    for (auto* k : {"Labels", "Options"})  // Go's nil maps: a template sees "map[]"
      if (j.contains(k) && j[k].is_null()) j[k] = json::object();
  });
}

const Command kVolumeRmCommand = {
    .use = "[OPTIONS] VOLUME [VOLUME...]",
    .summary = "Remove one or more volumes",
    .description = "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
    .aliases = {"volume rm", "volume remove"},
    .flags = {{"force", 'f', "", "Force the removal of one or more volumes"}},
    .min_args = 1};

int cmd_volume_rm(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kVolumeRmCommand, argv);
  std::string force = p.flag("force") ? "?force=1" : "";
  return remove_each(ctx, p.args, [&](const std::string& n) { return "/volumes/" + q(n) + force; }, false);
}

const Command kVolumePruneCommand = {
    .use = "[OPTIONS]",
    .summary = "Remove unused local volumes",
    .flags = {{"all", 'a', "", "Remove all unused volumes, not just anonymous ones"},
              {"filter", 0, "filter", "Provide filter values (e.g. \"label=<label>\")"},
              {"force", 'f', "", "Do not prompt for confirmation"}},
    .max_args = 0};

int cmd_volume_prune(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kVolumePruneCommand, argv);
  json filters = json::parse(filters_json(p.all("filter")));
  bool all_warning = true;  // before API 1.42 every unused volume goes
  std::string version = ctx.c().version();
  auto at_least_142 = [&] {
    auto parts = split(version, '.');
    return parts.size() < 2 || std::atoi(parts[0].c_str()) > 1 ||
           (std::atoi(parts[0].c_str()) == 1 && std::atoi(parts[1].c_str()) >= 42);
  };
  if (p.flag("all") && !version.empty() && !at_least_142())
    throw ExitError{1, "\"--all\" requires API version 1.42, but the Docker daemon API version is " + version};
  if (version.empty() || at_least_142()) {
    all_warning = p.flag("all");
    if (p.flag("all")) {
      if (filters.contains("all"))
        throw ExitError{1, "conflicting options: cannot specify both --all and --filter all=1"};
      filters["all"] = {{"true", true}};
    }
  }
  if (!p.flag("force") && !confirm(std::string("WARNING! This will remove ") + (all_warning ? "all" : "anonymous") +
                                    " local volumes not used by at least one container.\n"
                                    "Are you sure you want to continue?"))
    return 0;  // docker: cancelled, nothing more printed, exit 0
  std::string path = "/volumes/prune";
  if (!filters.empty()) path += "?filters=" + q(filters.dump());
  auto j = json::parse(ctx.c().request("POST", path).body);
  std::string o;
  if (j.contains("VolumesDeleted") && j["VolumesDeleted"].is_array() && !j["VolumesDeleted"].empty()) {
    o = "Deleted Volumes:\n";
    for (auto& n : j["VolumesDeleted"]) o += n.get<std::string>() + "\n";
    o += "\n";
  }
  out(o + "Total reclaimed space: " + human_size((double)j.value("SpaceReclaimed", 0LL)) + "\n");
  return 0;
}

}  // namespace hoist::cli
