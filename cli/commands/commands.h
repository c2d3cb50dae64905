// The command entry points that each group file (container.cpp, image.cpp, system.cpp) defines and
// root.cpp dispatches to; main() is only `return hoist::cli::main_entry(argc, argv);`.
#pragma once
#include <string>
#include <vector>

#include "cli/commands/common.h"

namespace hoist::cli {

int main_entry(int argc, char** argv);

// container.cpp
int cmd_run(Ctx& ctx, const std::vector<std::string>& argv, bool create_only);
int cmd_start(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_attach(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_stop(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what);
int cmd_kill(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_simple(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what);
int cmd_rm(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_rename(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_wait(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_ps(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_logs(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_exec(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_top(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_stats(Ctx& ctx, const std::vector<std::string>& argv);

// image.cpp
int cmd_images(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_pull(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_push(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_tag(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_rmi(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_save(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_load(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_import(Ctx& ctx, const std::vector<std::string>& argv);
// Pulls `image` with docker's progress output (none when quiet); throws on failure.
bool show_pull(const std::string& image, Ctx& ctx, bool quiet);

// system.cpp
int cmd_inspect(Ctx& ctx, const std::vector<std::string>& argv, std::string type = "");
int cmd_login(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_logout(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_version(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_info(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_events(Ctx& ctx, const std::vector<std::string>& argv);
int cmd_system(Ctx& ctx, const std::vector<std::string>& argv);

}  // namespace hoist::cli
