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
  std::vector<json> rows;
  long long isize = 0, iactive = 0, ireclaim = 0;
  for (auto& im : j.value("Images", json::array())) {
    isize += im.value("Size", 0LL);
    if (im.value("Containers", 0LL) > 0) ++iactive;
    else ireclaim += im.value("Size", 0LL);
  }
  long long csize = 0, cactive = 0, creclaim = 0;
  for (auto& c : j.value("Containers", json::array())) {
    csize += c.value("SizeRw", 0LL);
    if (c.value("State", "") == "running") ++cactive;
    else creclaim += c.value("SizeRw", 0LL);
  }
  long long vsize = 0, vactive = 0, vreclaim = 0;
  for (auto& v : j.value("Volumes", json::array())) {
    long long s = v.contains("UsageData") ? v["UsageData"].value("Size", 0LL) : 0;
    vsize += s;
    if (v.contains("UsageData") && v["UsageData"].value("RefCount", 0LL) > 0) ++vactive;
    else vreclaim += s;
  }
  // docker's: the size of what is not shared with images, reclaimable all of it not in use.
  long long bsize = 0, breclaim = 0, bactive = 0;
  for (auto& b : j.value("BuildCache", json::array())) {
    if (b.value("InUse", false)) ++bactive;
    if (b.value("Shared", false)) continue;
    bsize += b.value("Size", 0LL);
    if (!b.value("InUse", false)) breclaim += b.value("Size", 0LL);
  }
  auto pct = [](long long r, long long t) {
    if (t <= 0) return std::string();
    return " (" + std::to_string((int)(100.0 * r / t)) + "%)";
  };
  auto row = [&](const char* type, size_t total, long long active, long long size, long long reclaim, bool percent = true) {
    rows.push_back({{"Type", type}, {"TotalCount", std::to_string(total)}, {"Active", std::to_string(active)},
                    {"Size", human_size((double)size, 3)},
                    {"Reclaimable", human_size((double)reclaim, 3) + (percent ? pct(reclaim, size) : "")}});
  };
  row("Images", j.value("Images", json::array()).size(), iactive, isize, ireclaim);
  row("Containers", j.value("Containers", json::array()).size(), cactive, csize, creclaim);
  row("Local Volumes", j.value("Volumes", json::array()).size(), vactive, vsize, vreclaim);
  row("Build Cache", j.value("BuildCache", json::array()).size(), bactive, bsize, breclaim, false);
  out(format_list(p.get("format", "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"), rows,
                  {{"Type", "TYPE"}, {"TotalCount", "TOTAL"}, {"Active", "ACTIVE"}, {"Size", "SIZE"}, {"Reclaimable", "RECLAIMABLE"}}));
  return 0;
}


}  // namespace hoist::cli
