// `system df`: the summary table of GET /system/df, or with -v docker 28's four tables (images,
// containers, local volumes, build cache), each aligned on its own.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/commands/commands.h"
#include "cli/format.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

long long num(const json& j, const char* key, long long def = 0) {
  return j.contains(key) && j[key].is_number() ? j[key].get<long long>() : def;
}

json array_of(const json& df, const char* key) {
  return df.contains(key) && df[key].is_array() ? df[key] : json::array();
}

// docker's ContainerContext.Image without --no-trunc: the short id, or the reference in its
// familiar form without a digest.
std::string familiar_image(const json& c) {
  std::string image = c.value("Image", ""), image_id = c.value("ImageID", "");
  if (image.empty()) return "<no image>";
  if (short_id(image_id) == short_id(image)) return short_id(image);
  std::string s = image.substr(0, image.find('@'));
  for (std::string prefix : {"docker.io/library/", "docker.io/"})
    if (s.rfind(prefix, 0) == 0) {
      s = s.substr(prefix.size());
      break;
    }
  return s;
}

std::string image_table(const json& df, double now) {
  std::vector<json> rows;
  for (const json& im : array_of(df, "Images")) {
    std::string repo = "<none>", tag = "<none>";
    json tags = array_of(im, "RepoTags"), digests = array_of(im, "RepoDigests");
    bool dangling = (tags.empty() && digests.empty()) ||
                    (tags.size() == 1 && tags[0] == "<none>:<none>" && digests.size() == 1 && digests[0] == "<none>@<none>");
    if (!tags.empty() && !dangling) {
      std::string t = tags[0].get<std::string>();
      std::size_t colon = t.rfind(':');
      if (t == "<none>:<none>" || colon == std::string::npos || t.find('/', colon) != std::string::npos)
        continue;  // docker's client skips what it cannot parse as name:tag
      repo = t.substr(0, colon);
      tag = t.substr(colon + 1);
    }
    long long size = num(im, "Size"), shared = num(im, "SharedSize", -1), containers = num(im, "Containers", -1);
    rows.push_back({{"Repository", repo},
                    {"Tag", tag},
                    {"ID", short_id(im.value("Id", ""))},
                    {"CreatedSince", human_duration(now - (double)num(im, "Created")) + " ago"},
                    {"Size", human_size((double)size, 3)},
                    {"SharedSize", shared == -1 ? "N/A" : human_size((double)shared)},
                    {"UniqueSize", size == -1 || shared == -1 ? "N/A" : human_size((double)(size - shared))},
                    {"Containers", containers == -1 ? "N/A" : std::to_string(containers)}});
  }
  return format_list("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t"
                     "{{.UniqueSize}}\t{{.Containers}}",
                     rows,
                     {{"Repository", "REPOSITORY"}, {"Tag", "TAG"}, {"ID", "IMAGE ID"}, {"CreatedSince", "CREATED"},
                      {"Size", "SIZE"}, {"SharedSize", "SHARED SIZE"}, {"UniqueSize", "UNIQUE SIZE"},
                      {"Containers", "CONTAINERS"}});
}

std::string container_table(const json& df, double now) {
  std::vector<json> rows;
  for (const json& c : array_of(df, "Containers")) {
    std::vector<std::string> names;
    for (const json& n : array_of(c, "Names")) {
      std::string s = n.get<std::string>();
      if (!s.empty() && s[0] == '/') s.erase(0, 1);
      names.push_back(s);
    }
    for (const std::string& n : names)
      if (n.find('/') == std::string::npos) {
        names = {n};
        break;
      }
    int local = 0;
    for (const json& m : array_of(c, "Mounts"))
      if (m.value("Driver", "") == "local") ++local;
    rows.push_back({{"ID", short_id(c.value("Id", ""))},
                    {"Image", familiar_image(c)},
                    {"Command", json(ellipsis(c.value("Command", ""), 20)).dump()},
                    {"LocalVolumes", std::to_string(local)},
                    {"Size", human_size((double)num(c, "SizeRw"), 3)},
                    {"RunningFor", human_duration(now - (double)num(c, "Created")) + " ago"},
                    {"Status", c.value("Status", "")},
                    {"Names", join(names, ",")}});
  }
  return format_list("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t"
                     "{{.Status}}\t{{.Names}}",
                     rows,
                     {{"ID", "CONTAINER ID"}, {"Image", "IMAGE"}, {"Command", "COMMAND"},
                      {"LocalVolumes", "LOCAL VOLUMES"}, {"Size", "SIZE"}, {"RunningFor", "CREATED"},
                      {"Status", "STATUS"}, {"Names", "NAMES"}});
}

std::string volume_table(const json& df) {
  std::vector<json> rows;
  for (const json& v : array_of(df, "Volumes")) {
    bool usage = v.contains("UsageData") && v["UsageData"].is_object();
    rows.push_back({{"Name", v.value("Name", "")},
                    {"Links", usage ? std::to_string(num(v["UsageData"], "RefCount")) : "N/A"},
                    {"Size", usage ? human_size((double)num(v["UsageData"], "Size")) : "N/A"}});
  }
  return format_list("table {{.Name}}\t{{.Links}}\t{{.Size}}", rows,
                     {{"Name", "VOLUME NAME"}, {"Links", "LINKS"}, {"Size", "SIZE"}});
}

// Oldest use first (never used first of all), then by id: docker's buildCacheSort.
std::string cache_table(const json& df, double now) {
  std::vector<json> records;
  for (const json& b : array_of(df, "BuildCache")) records.push_back(b);
  auto used = [](const json& b) { return b.contains("LastUsedAt") && b["LastUsedAt"].is_string(); };
  auto used_at = [&](const json& b) { return used(b) ? parse_rfc3339(b["LastUsedAt"].get<std::string>()) : 0.0; };
  std::stable_sort(records.begin(), records.end(), [&](const json& a, const json& b) {
    if (used(a) != used(b)) return !used(a);
    if (used_at(a) != used_at(b)) return used_at(a) < used_at(b);
    return a.value("ID", "") < b.value("ID", "");
  });
  std::vector<json> rows;
  for (const json& b : records) {
    std::string id = short_id(b.value("ID", ""));
    std::string created = b.contains("CreatedAt") && b["CreatedAt"].is_string() ? b["CreatedAt"].get<std::string>() : "";
    rows.push_back({{"ID", b.value("InUse", false) ? id + "*" : id},
                    {"CacheType", b.value("Type", "")},
                    {"Size", human_size((double)num(b, "Size"), 3)},
                    {"CreatedSince", human_duration(now - parse_rfc3339(created)) + " ago"},
                    {"LastUsedSince", used(b) ? human_duration(now - used_at(b)) + " ago" : ""},
                    {"UsageCount", std::to_string(num(b, "UsageCount"))},
                    {"Shared", b.value("Shared", false) ? "true" : "false"}});
  }
  return format_list("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t"
                     "{{.UsageCount}}\t{{.Shared}}",
                     rows,
                     {{"ID", "CACHE ID"}, {"CacheType", "CACHE TYPE"}, {"Size", "SIZE"}, {"CreatedSince", "CREATED"},
                      {"LastUsedSince", "LAST USED"}, {"UsageCount", "USAGE"}, {"Shared", "SHARED"}});
}

// docker 28's summary rows (its diskUsage*Context): sizes in go-units' HumanSize, the
// reclaimable share in whole percent.
std::vector<json> summary_rows(const json& df) {
  auto with_pct = [](long long reclaim, long long total) {
    std::string s = human_size((double)reclaim);
    return total > 0 ? s + " (" + std::to_string(reclaim * 100 / total) + "%)" : s;
  };
  auto row = [](const char* type, std::size_t total, long long active, const std::string& size,
                const std::string& reclaim) {
    return json{{"Type", type}, {"TotalCount", std::to_string(total)}, {"Active", std::to_string(active)},
                {"Size", size}, {"Reclaimable", reclaim}};
  };
  std::vector<json> rows;
  json images = array_of(df, "Images"), containers = array_of(df, "Containers"), volumes = array_of(df, "Volumes"),
       cache = array_of(df, "BuildCache");
  long long layers = num(df, "LayersSize"), iactive = 0, iused = 0;
  for (const json& im : images) {
    if (num(im, "Containers") > 0) ++iactive;
    if (num(im, "Containers") != 0 && num(im, "Size") != -1 && num(im, "SharedSize", -1) != -1)
      iused += num(im, "Size") - num(im, "SharedSize");
  }
  rows.push_back(row("Images", images.size(), iactive, human_size((double)layers), with_pct(layers - iused, layers)));
  long long csize = 0, cactive = 0, creclaim = 0;
  for (const json& c : containers) {
    std::string state = c.value("State", "");
    bool active = state == "running" || state == "paused" || state == "restarting";
    if (active) ++cactive;
    else creclaim += num(c, "SizeRw");
    csize += num(c, "SizeRw");
  }
  rows.push_back(row("Containers", containers.size(), cactive, human_size((double)csize), with_pct(creclaim, csize)));
  long long vsize = 0, vactive = 0, vreclaim = 0;
  for (const json& v : volumes) {
    json usage = v.contains("UsageData") && v["UsageData"].is_object() ? v["UsageData"] : json::object();
    if (num(usage, "RefCount") > 0) ++vactive;
    long long size = num(usage, "Size", -1);
    if (size == -1) continue;
    if (num(usage, "RefCount") == 0) vreclaim += size;
    vsize += size;
  }
  rows.push_back(row("Local Volumes", volumes.size(), vactive, human_size((double)vsize), with_pct(vreclaim, vsize)));
  // The build cache: what is not shared with images; reclaimable all of it not in use.
  long long bsize = 0, bactive = 0, bin_use = 0;
  for (const json& b : cache) {
    bool in_use = b.value("InUse", false), shared = b.value("Shared", false);
    if (in_use) ++bactive;
    if (!shared) bsize += num(b, "Size");
    if (in_use && !shared) bin_use += num(b, "Size");
  }
  rows.push_back(row("Build Cache", cache.size(), bactive, human_size((double)bsize), human_size((double)(bsize - bin_use))));
  return rows;
}

// docker 28's `system df -v`.
std::string verbose_tables(const json& df) {
  double now = now_s();
  long long cache_size = 0;  // what is not shared with images
  for (const json& b : array_of(df, "BuildCache"))
    if (!b.value("Shared", false)) cache_size += num(b, "Size");
  return "Images space usage:\n\n" + image_table(df, now) + "\nContainers space usage:\n\n" +
         container_table(df, now) + "\nLocal Volumes space usage:\n\n" + volume_table(df) +
         "\nBuild cache usage: " + human_size((double)cache_size) + "\n\n" + cache_table(df, now);
}

}  // namespace

const Command kSystemDfCommand = {
    .use = "[OPTIONS]",
    .summary = "Show hoist disk usage",
    .flags = {{"format", 0, "string", kFormatTableUsage},
              {"verbose", 'v', "", "Show detailed information on space usage"}},
    .max_args = 0};

int cmd_system_df(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kSystemDfCommand, argv);
  auto j = json::parse(ctx.c().request("GET", "/system/df").body);
  if (p.flag("verbose")) {
    std::string fmt = p.get("format", "table");
    if (fmt != "table")
      throw Error("hoist system df: --format with --verbose is not supported yet (only the default tables)");
    out(verbose_tables(j));
    return 0;
  }
  out(format_list(p.get("format", "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"),
                  summary_rows(j),
                  {{"Type", "TYPE"}, {"TotalCount", "TOTAL"}, {"Active", "ACTIVE"}, {"Size", "SIZE"},
                   {"Reclaimable", "RECLAIMABLE"}}));
  return 0;
}

}  // namespace hoist::cli
