// Image commands: images, pull, push, tag, rmi, save, load, import; with docker's progress
// rendering of the pull/push/load/import message streams.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "cli/commands/auth.h"
#include "cli/commands/commands.h"
#include "cli/format.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

const std::map<std::string, std::string> kImageHeaders = {
    {"ID", "IMAGE ID"}, {"Repository", "REPOSITORY"}, {"Tag", "TAG"},       {"Digest", "DIGEST"},
    {"CreatedSince", "CREATED"}, {"CreatedAt", "CREATED AT"}, {"Size", "SIZE"}, {"Containers", "CONTAINERS"},
    {"SharedSize", "SHARED SIZE"}, {"UniqueSize", "UNIQUE SIZE"}, {"VirtualSize", "VIRTUAL SIZE"}};

// docker's words on the value of save's and load's --platform.
const char* const kPlatformFormat = " Formatted as \"os[/arch[/variant]]\" (e.g., \"linux/amd64\")";

}  // namespace

const Command kImagesCommand = {
    .use = "[OPTIONS] [REPOSITORY[:TAG]]",
    .summary = "List images",
    .aliases = {"image ls", "image list", "images"},
    .flags = {{"all", 'a', "", "Show all images (default hides intermediate images)"},
              {"digests", 0, "", "Show digests"},
              {"filter", 'f', "filter", "Filter output based on conditions provided"},
              {"format", 0, "string", kFormatTableUsage},
              {"no-trunc", 0, "", "Don't truncate output"},
              {"quiet", 'q', "", "Only show image IDs"}},
    .max_args = 1};

int cmd_images(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kImagesCommand, argv);
  std::vector<std::string> filters = p.all("filter");
  if (!p.args.empty()) filters.push_back("reference=" + p.args[0]);
  std::string path = std::string("/images/json?all=") + (p.flag("all") ? "1" : "0");
  if (!filters.empty()) path += "&filters=" + q(filters_json(filters));
  auto list = json::parse(ctx.c().request("GET", path).body);
  bool trunc = !p.flag("no-trunc");
  double now = now_s();
  std::vector<json> rows;
  for (auto& im : list) {
    std::string id = im.value("Id", "");
    std::string sid = trunc ? short_id(id) : id;
    long long created = im.value("Created", 0LL);
    double size = (double)im.value("Size", 0LL);
    auto base = json{{"ID", sid},
                     {"CreatedSince", created > 0 ? human_duration(now - (double)created) + " ago" : "N/A"},
                     {"CreatedAt", go_time_string(created)},
                     {"Size", human_size(size, 3)},
                     {"VirtualSize", human_size(size, 3)},
                     {"Containers", im.value("Containers", -1LL) < 0 ? "N/A" : std::to_string(im.value("Containers", 0LL))},
                     {"SharedSize", "N/A"},
                     {"UniqueSize", "N/A"}};
    std::vector<std::string> tags, digests;
    if (im["RepoTags"].is_array())
      for (auto& t : im["RepoTags"]) tags.push_back(t);
    if (im["RepoDigests"].is_array())
      for (auto& d : im["RepoDigests"]) digests.push_back(d);
    auto digest_for = [&](const std::string& repo) -> std::string {
      for (auto& d : digests) {
        auto at = d.find('@');
        if (at != std::string::npos && d.substr(0, at) == repo) return d.substr(at + 1);
      }
      return "<none>";
    };
    bool any = false;
    for (auto& t : tags) {
      if (t == "<none>:<none>") continue;
      auto c = t.rfind(':');
      std::string repo = t.substr(0, c), tag = t.substr(c + 1);
      auto r = base;
      r["Repository"] = repo;
      r["Tag"] = tag;
      r["Digest"] = digest_for(repo);
      rows.push_back(r);
      any = true;
    }
    if (!any) {
      auto r = base;
      std::string repo = "<none>", dig = "<none>";
      if (!digests.empty() && digests[0] != "<none>@<none>") {
        auto at = digests[0].find('@');
        repo = digests[0].substr(0, at);
        dig = digests[0].substr(at + 1);
      }
      r["Repository"] = repo;
      r["Tag"] = "<none>";
      r["Digest"] = dig;
      rows.push_back(r);
    }
  }
  if (p.flag("quiet") && !p.has("format")) {
    std::set<std::string> seen;
    for (auto& r : rows) {
      std::string id = r["ID"];
      if (seen.insert(id).second) out(id + "\n");
    }
    return 0;
  }
  std::string fmt = p.get("format");
  if (fmt.empty() || fmt == "table")
    fmt = p.flag("digests") ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                            : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  out(format_list(fmt, rows, kImageHeaders));
  return 0;
}

namespace {

// Renders a stream of JSON messages (pull/push/load/import) as docker's jsonmessage does.
struct Progress {
  bool tty;
  bool quiet = false;  // only the error and the aux messages are taken, nothing shown
  std::vector<std::string> ids;  // line order
  std::string buf;
  std::string error;
  std::function<void(const json&)> on_aux;
  bool to_stderr = false;  // run/create's implicit pull shows on stderr, as docker's
  void put(std::string_view t) const { to_stderr ? errp(t) : out(t); }
  void flush() const { fflush(to_stderr ? stderr : stdout); }
  void feed(std::string_view d) {
    buf.append(d);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (trim(line).empty()) continue;
      json m;
      try {
        m = json::parse(line);
      } catch (...) {
        continue;
      }
      show(m);
    }
  }
  void show(const json& m) {
    if (m.contains("errorDetail") || m.contains("error")) {
      error = m.contains("errorDetail") && m["errorDetail"].is_object() ? m["errorDetail"].value("message", "")
                                                                         : m.value("error", "");
      if (error.empty()) error = m.value("error", "");
      return;
    }
    if (m.contains("aux")) {
      if (on_aux) on_aux(m["aux"]);
      return;
    }
    if (quiet) return;
    std::string id = m.value("id", ""), status = m.value("status", ""), stream = m.value("stream", "");
    std::string prog;
    if (m.contains("progressDetail") && m["progressDetail"].is_object() && !m["progressDetail"].empty())
      prog = progress_bar(m["progressDetail"].value("current", 0LL), m["progressDetail"].value("total", 0LL), term_width());
    if (!stream.empty()) {
      put(stream);
      flush();
      return;
    }
    if (!tty) {
      if (!prog.empty()) return;  // progress only on a terminal
      put(progress_line(id, status, "") + "\n");
      return;
    }
    if (id.empty()) {
      put(progress_line(id, status, prog) + "\n");
      flush();
      return;
    }
    auto it = std::find(ids.begin(), ids.end(), id);
    if (it == ids.end()) {
      ids.push_back(id);
      put("\033[2K\r" + progress_line(id, status, prog) + "\n");
    } else {
      size_t up = ids.end() - it;
      put("\033[" + std::to_string(up) + "A\033[2K\r" + progress_line(id, status, prog) + "\033[" + std::to_string(up) + "B\r");
    }
    flush();
  }
};

void split_ref(const std::string& ref, std::string& repo, std::string& tag) {
  auto at = ref.find('@');
  if (at != std::string::npos) {
    repo = ref.substr(0, at);
    tag = ref.substr(at + 1);
    return;
  }
  auto slash = ref.rfind('/');
  auto c = ref.rfind(':');
  if (c != std::string::npos && (slash == std::string::npos || c > slash)) {
    repo = ref.substr(0, c);
    tag = ref.substr(c + 1);
  } else {
    repo = ref;
    tag = "";
  }
}

}  // namespace

bool show_pull(const std::string& image, Ctx& ctx, bool quiet, const std::string& platform, bool to_stderr) {
  std::string repo, tag;
  split_ref(image, repo, tag);
  if (tag.empty()) tag = "latest";
  Progress pr{!quiet && is_tty(to_stderr ? 2 : 1), quiet};
  pr.to_stderr = to_stderr;
  std::string path = "/images/create?fromImage=" + q(repo) + "&tag=" + q(tag);
  if (!platform.empty()) path += "&platform=" + q(platform);
  ctx.c().stream("POST", path, "", [&](std::string_view d) {
    pr.feed(d);
    return true;
  }, auth_header(ctx, image));
  if (!pr.error.empty()) throw Error(pr.error);
  return true;
}

namespace {

std::string full_ref(const std::string& image) {
  std::string repo, tag;
  split_ref(image, repo, tag);
  if (tag.empty()) tag = "latest";
  std::string r = repo;
  if (registry_of(repo) == kDefaultRegistry) {
    if (r.rfind("docker.io/", 0) == 0) r = r.substr(10);
    if (r.find('/') == std::string::npos) r = "library/" + r;
    r = "docker.io/" + r;
  }
  return r + (image.find('@') != std::string::npos ? "@" : ":") + tag;
}

}  // namespace

const Command kPullCommand = {
    .use = "[OPTIONS] NAME[:TAG|@DIGEST]",
    .summary = "Download an image from a registry",
    .aliases = {"image pull", "pull"},
    .flags = {{"all-tags", 'a', "", "Download all tagged images in the repository", "", true,
               "is not supported yet: hoistd pulls one tag at a time; name each tag to pull (NAME:TAG)"},
              {"platform", 0, "string", "Set platform if server is multi-platform capable"},
              {"quiet", 'q', "", "Suppress verbose output"}},
    .min_args = 1,
    .max_args = 1};

int cmd_pull(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kPullCommand, argv);
  try {
    show_pull(p.args[0], ctx, p.flag("quiet"), p.get("platform"));
  } catch (const ConnectError&) {
    throw;
  } catch (const ApiError&) {
    throw;
  } catch (const std::exception& e) {
    errp(e.what() + std::string("\n"));
    return 1;
  }
  out(full_ref(p.args[0]) + "\n");
  return 0;
}

const Command kPushCommand = {
    .use = "[OPTIONS] NAME[:TAG]",
    .summary = "Upload an image to a registry",
    .aliases = {"image push", "push"},
    .flags = {{"all-tags", 'a', "", "Push all tags of an image to the repository", "", true,
               "is not supported yet: hoistd pushes one tag at a time; name each tag to push (NAME:TAG)"},
              {"quiet", 'q', "", "Suppress verbose output"}},
    .min_args = 1,
    .max_args = 1};

int cmd_push(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kPushCommand, argv);
  std::string repo, tag;
  split_ref(p.args[0], repo, tag);
  bool quiet = p.flag("quiet");
  Progress pr{!quiet && is_tty(1), quiet};
  std::string digest;
  pr.on_aux = [&](const json& a) {
    if (a.contains("Digest")) digest = a.value("Digest", "");
  };
  if (!quiet) out("The push refers to repository [" + full_ref(repo).substr(0, full_ref(repo).rfind(':')) + "]\n");
  ctx.c().stream("POST", "/images/" + q(repo) + "/push" + (tag.empty() ? "" : "?tag=" + q(tag)), "",
                 [&](std::string_view d) {
                   pr.feed(d);
                   return true;
                 },
                 auth_header(ctx, repo));
  if (!pr.error.empty()) {
    errp(pr.error + "\n");
    return 1;
  }
  if (quiet) out(p.args[0] + "\n");
  return 0;
}

const Command kTagCommand = {.use = "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                             .summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
                             .aliases = {"image tag", "tag"}, .min_args = 2, .max_args = 2};

int cmd_tag(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kTagCommand, argv);
  std::string repo, tag;
  split_ref(p.args[1], repo, tag);
  ctx.c().request("POST", "/images/" + q(p.args[0]) + "/tag?repo=" + q(repo) + (tag.empty() ? "" : "&tag=" + q(tag)));
  return 0;
}

const Command kRmiCommand = {
    .use = "[OPTIONS] IMAGE [IMAGE...]",
    .summary = "Remove one or more images",
    .aliases = {"image rm", "image remove", "rmi"},
    .flags = {{"force", 'f', "", "Force removal of the image"},
              {"no-prune", 0, "", "Do not delete untagged parents"}},
    .min_args = 1};

int cmd_rmi(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kRmiCommand, argv);
  return for_each(
      p.args,
      [&](const std::string& n) {
        auto r = ctx.c().request("DELETE", "/images/" + q(n) + "?force=" + (p.flag("force") ? "1" : "0") +
                                               "&noprune=" + (p.flag("no-prune") ? "1" : "0"));
        for (auto& e : json::parse(r.body)) {
          if (e.contains("Untagged")) out("Untagged: " + e["Untagged"].get<std::string>() + "\n");
          if (e.contains("Deleted")) out("Deleted: " + e["Deleted"].get<std::string>() + "\n");
        }
      },
      false);
}

const Command kSaveCommand = {
    .use = "[OPTIONS] IMAGE [IMAGE...]",
    .summary = "Save one or more images to a tar archive (streamed to STDOUT by default)",
    .aliases = {"image save", "save"},
    .flags = {{"output", 'o', "string", "Write to a file, instead of STDOUT"},
              {"platform", 0, "string", std::string("Save only the given platform variant.") + kPlatformFormat}},
    .min_args = 1};

int cmd_save(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kSaveCommand, argv);
  std::string path = "/images/get?";
  for (size_t i = 0; i < p.args.size(); ++i) path += (i ? "&" : "") + std::string("names=") + q(p.args[i]);
  if (p.has("platform")) path += "&platform=" + q(p.get("platform"));
  return download_tar(ctx, path, p.get("output"));
}

namespace {

int stream_upload(Ctx& ctx, const std::string& path, int fd) {
  Progress pr{false};
  ctx.c().stream("POST", path, "", [&](std::string_view d) {
    pr.feed(d);
    return true;
  }, {{"Content-Type", "application/x-tar"}}, fd);
  if (!pr.error.empty()) {
    errp(pr.error + "\n");
    return 1;
  }
  return 0;
}

}  // namespace

const Command kLoadCommand = {
    .use = "[OPTIONS]",
    .summary = "Load an image from a tar archive or STDIN",
    .aliases = {"image load", "load"},
    .flags = {{"input", 'i', "string", "Read from tar archive file, instead of STDIN"},
              {"platform", 0, "string", std::string("Load only the given platform variant.") + kPlatformFormat},
              {"quiet", 'q', "", "Suppress the load output"}},
    .max_args = 0};

int cmd_load(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kLoadCommand, argv);
  UniqueFd f;
  int fd = 0;
  if (p.has("input")) {
    f = open_file(p.get("input"), O_RDONLY | O_CLOEXEC);
    fd = f.get();
  } else if (is_tty(0)) {
    errp("requested load from stdin, but stdin is empty\n");
    return 1;
  }
  std::string path = std::string("/images/load?quiet=") + (p.flag("quiet") ? "1" : "0");
  if (p.has("platform")) path += "&platform=" + q(p.get("platform"));
  return stream_upload(ctx, path, fd);
}

// docker's synopsis is "file|URL|-": hoist imports a file or stdin, not a URL.
const Command kImportCommand = {
    .use = "[OPTIONS] file|- [REPOSITORY[:TAG]]",
    .summary = "Import the contents from a tarball to create a filesystem image",
    .aliases = {"image import", "import"},
    .flags = {{"change", 'c', "list", "Apply Dockerfile instruction to the created image"},
              {"message", 'm', "string", "Set commit message for imported image"},
              {"platform", 0, "string", "Set platform if server is multi-platform capable"}},
    .min_args = 1,
    .max_args = 2};

int cmd_import(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kImportCommand, argv);
  std::string path = "/images/create?fromSrc=-";
  if (p.args.size() > 1) {
    std::string repo, tag;
    split_ref(p.args[1], repo, tag);
    path += "&repo=" + q(repo);
    if (!tag.empty()) path += "&tag=" + q(tag);
  }
  if (p.has("message")) path += "&message=" + q(p.get("message"));
  for (auto& c : p.all("change")) path += "&changes=" + q(c);
  if (p.has("platform")) path += "&platform=" + q(p.get("platform"));
  UniqueFd f;
  int fd = 0;
  if (p.args[0] != "-") {
    f = open_file(p.args[0], O_RDONLY | O_CLOEXEC);
    fd = f.get();
  }
  return stream_upload(ctx, path, fd);
}

}  // namespace hoist::cli
