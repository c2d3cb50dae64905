// The commands each group file (container.cpp, image.cpp, network.cpp, system.cpp) defines, with their help and
// flag tables, that root.cpp lists and dispatches to; main() is only
// `return hoist::cli::main_entry(argc, argv);`.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands/common.h"

namespace hoist::cli {

int main_entry(int argc, char** argv);

// A command: its arguments after its path, its exit status.
using CommandFn = int(Ctx& ctx, const std::vector<std::string>& argv);

// container.cpp
extern const Command kRunCommand, kCreateCommand, kStartCommand, kAttachCommand, kStopCommand, kRestartCommand,
    kKillCommand, kPauseCommand, kUnpauseCommand, kRmCommand, kRenameCommand, kWaitCommand, kPsCommand, kLogsCommand,
    kExecCommand, kTopCommand, kStatsCommand;
int cmd_run(Ctx& ctx, const std::vector<std::string>& argv, bool create_only);
int cmd_stop(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what);    // stop, restart
int cmd_simple(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what);  // pause, unpause
// docker stats' table (or --format, --no-stream, --no-trunc of `p`) of the containers `containers`
// lists, asked again before each round: `stats` and `compose stats`.
int show_stats(Ctx& ctx, const Parsed& p, const std::function<std::vector<std::string>()>& containers);
CommandFn cmd_start, cmd_attach, cmd_kill, cmd_rm, cmd_rename, cmd_wait, cmd_ps, cmd_logs, cmd_exec, cmd_top, cmd_stats;
// Starts the created exec `eid` attached: its output to ours (our stdin to it when `in`; a raw
// terminal when both `tty` and `in`); returns its exit code. Safe to run from several threads, each
// with its own Ctx, when none sends stdin or has a tty.
int exec_attached(Ctx& ctx, const std::string& eid, bool tty, bool in);

// cp.cpp: `cp` (container cp), files between a container and the local file system.
extern const Command kCpCommand;
CommandFn cmd_cp;
// build.cpp: an image from a Dockerfile (the daemon's classic /build API).
extern const Command kBuildCommand;
CommandFn cmd_build;
// Build secrets (RUN --mount=type=secret) in Hoist's X-Hoist-Build-Secrets header (docs/api.md:
// base64 of {"<id>": "<base64 of the secret>"}), each read from its file or environment variable
// (Error when it cannot be) or given; none: no header.
struct SecretSource {
  std::string id;
  std::string file;  // or
  std::string env;   // or
  std::optional<std::string> data;  // the secret itself
};
std::map<std::string, std::string> secrets_header(const std::vector<SecretSource>& secrets);
// A build of a context directory as `hoist build DIR` sends it (.dockerignore honoured, the
// Dockerfile added to the tar when it is outside the context or given as text).
struct ContextBuild {
  std::string context;                         // an absolute directory
  std::string dockerfile;                      // relative to the context, or absolute; "" = Dockerfile
  std::optional<std::string> dockerfile_text;  // the Dockerfile's text, when it is no file
  std::string query;                           // the rest of the /build query: "&t=...&buildargs=..."
  bool quiet = false;                          // no "Sending build context" line
  std::map<std::string, std::string> headers;  // Hoist's own request headers (build secrets)
};
// The daemon's stream goes to `on_stream`, the image's id to `id`; a build error is printed to
// stderr and its code (1 when it has none) returned, 0 on success.
// `tty`: the live view (--progress=tty) the stream goes to instead of `on_stream`.
class TtyProgress;
int build_context_dir(Ctx& ctx, const ContextBuild& b, const std::function<void(const std::string&)>& on_stream,
                      std::string& id, TtyProgress* tty = nullptr);
// commit.cpp: a container's file system.
extern const Command kCommitCommand, kDiffCommand, kExportCommand;
CommandFn cmd_commit, cmd_diff, cmd_export;

// image.cpp
extern const Command kImagesCommand, kPullCommand, kPushCommand, kTagCommand, kRmiCommand, kSaveCommand, kLoadCommand,
    kImportCommand;
CommandFn cmd_images, cmd_pull, cmd_push, cmd_tag, cmd_rmi, cmd_save, cmd_load, cmd_import;
// Pulls `image` (for `platform`, "" the daemon's) with docker's progress output (none when quiet);
// throws on failure.
// Pulls `image` showing docker's progress: on stdout (pull), or on stderr (run/create's implicit pull).
bool show_pull(const std::string& image, Ctx& ctx, bool quiet, const std::string& platform = "", bool to_stderr = false);

// network.cpp: the network group, and `port` (container port).
extern const Command kNetworkCreateCommand, kNetworkLsCommand, kNetworkInspectCommand, kNetworkRmCommand,
    kNetworkPruneCommand, kNetworkConnectCommand, kNetworkDisconnectCommand, kPortCommand;
CommandFn cmd_network_create, cmd_network_ls, cmd_network_inspect, cmd_network_rm, cmd_network_prune,
    cmd_network_connect, cmd_network_disconnect, cmd_port;

// compose.cpp: `hoist compose [-f FILE]... COMMAND` (its own flags, then its commands).
extern const Command kComposeCommand;
CommandFn cmd_compose;
}  // namespace hoist::cli
namespace hoist::compose {
struct LoadOptions;
}
namespace hoist::cli {
// compose_ops.cpp: the orchestration commands (compose_lifecycle.cpp, compose_run.cpp,
// compose_info.cpp, compose_build.cpp) and their summaries; -1 when `sub` is none of them.
const std::vector<std::pair<std::string, std::string>>& compose_orchestration_commands();
int compose_orchestrate(Ctx& ctx, const compose::LoadOptions& lo, const std::string& sub,
                        const std::vector<std::string>& argv);
// volume.cpp: the volume group.
extern const Command kVolumeCreateCommand, kVolumeLsCommand, kVolumeInspectCommand, kVolumeRmCommand,
    kVolumePruneCommand;
CommandFn cmd_volume_create, cmd_volume_ls, cmd_volume_inspect, cmd_volume_rm, cmd_volume_prune;

// system.cpp
extern const Command kInspectCommand, kContainerInspectCommand, kImageInspectCommand, kLoginCommand, kLogoutCommand,
    kVersionCommand, kInfoCommand, kEventsCommand, kSystemDfCommand, kSystemPruneCommand, kBuilderPruneCommand;
// `type` "container" or "image": `hoist container inspect` / `hoist image inspect`.
int cmd_inspect(Ctx& ctx, const std::vector<std::string>& argv, std::string type = "");
CommandFn cmd_login, cmd_logout, cmd_version, cmd_info, cmd_events, cmd_system_df, cmd_system_prune;
CommandFn cmd_builder_prune;

}  // namespace hoist::cli
