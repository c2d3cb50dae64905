// A container's file system: `commit` (an image of its changes), `diff` (the changes) and
// `export` (the whole file system as a tar), as docker 28's.
#include "cli/commands/commands.h"

namespace hoist::cli {

const Command kCommitCommand = {
    .use = "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    .summary = "Create a new image from a container's changes",
    .aliases = {"container commit", "commit"},
    .flags = {{"author", 'a', "string", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")"},
              {"change", 'c', "list", "Apply Dockerfile instruction to the created image"},
              {"message", 'm', "string", "Commit message"},
              {"pause", 'p', "", "Pause container during commit", "true"}},
    .min_args = 1,
    .max_args = 2};

int cmd_commit(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kCommitCommand, argv);
  std::string path = "/commit?container=" + q(p.args[0]);
  if (p.args.size() > 1) {
    // REPOSITORY[:TAG] (a digest has no place here: the daemon refuses it).
    const std::string& ref = p.args[1];
    std::size_t slash = ref.rfind('/'), colon = ref.rfind(':');
    bool tagged = ref.find('@') == std::string::npos && colon != std::string::npos &&
                  (slash == std::string::npos || colon > slash);
    path += "&repo=" + q(tagged ? ref.substr(0, colon) : ref);
    if (tagged) path += "&tag=" + q(ref.substr(colon + 1));
  }
  if (p.has("message")) path += "&comment=" + q(p.get("message"));
  if (p.has("author")) path += "&author=" + q(p.get("author"));
  for (const std::string& c : p.all("change")) path += "&changes=" + q(c);
  if (p.has("pause") && !p.flag("pause")) path += "&pause=0";
  auto r = ctx.c().request("POST", path);
  out(json::parse(r.body).value("Id", "") + "\n");
  return 0;
}

const Command kDiffCommand = {.use = "CONTAINER",
                              .summary = "Inspect changes to files or directories on a container's filesystem",
                              .aliases = {"container diff", "diff"},
                              .min_args = 1,
                              .max_args = 1};

int cmd_diff(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kDiffCommand, argv);
  auto r = ctx.c().request("GET", "/containers/" + q(p.args[0]) + "/changes");
  json changes = json::parse(r.body);
  if (!changes.is_array()) return 0;
  std::string text;
  for (const json& c : changes) {
    int kind = c.value("Kind", -1);
    text += (kind == 0 ? "C" : kind == 1 ? "A" : kind == 2 ? "D" : "?") + std::string(" ") + c.value("Path", "") + "\n";
  }
  out(text);
  return 0;
}

const Command kExportCommand = {.use = "[OPTIONS] CONTAINER",
                                .summary = "Export a container's filesystem as a tar archive",
                                .aliases = {"container export", "export"},
                                .flags = {{"output", 'o', "string", "Write to a file, instead of STDOUT"}},
                                .min_args = 1,
                                .max_args = 1};

int cmd_export(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kExportCommand, argv);
  return download_tar(ctx, "/containers/" + q(p.args[0]) + "/export", p.get("output"));
}

}  // namespace hoist::cli
