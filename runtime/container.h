// The runtime's commands (runc's command line): each returns the process exit code.
#pragma once
#include <string>
#include <vector>

namespace hoist::runtime {

struct GlobalOptions {
  std::string root = "/run/hoist-runtime";
  bool systemd_cgroup = false;
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
};

struct ExecOptions2 {
  std::string id;
  std::string process_file;  // --process
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  std::string user;  // uid[:gid]
  std::vector<unsigned> additional_gids;
  std::vector<std::string> caps;
  bool tty = false, detach = false, no_new_privs = false, ignore_paused = false;
  std::string console_socket, pid_file;
  int preserve_fds = 0;
};

int cmd_create(const GlobalOptions& g, const CreateOptions& o);
int cmd_run(const GlobalOptions& g, const CreateOptions& o, bool detach, bool keep);
int cmd_start(const GlobalOptions& g, const std::string& id);
int cmd_state(const GlobalOptions& g, const std::string& id);
int cmd_kill(const GlobalOptions& g, const std::string& id, const std::string& signal, bool all);
int cmd_delete(const GlobalOptions& g, const std::string& id, bool force);
int cmd_pause(const GlobalOptions& g, const std::string& id, bool pause);
int cmd_ps(const GlobalOptions& g, const std::string& id, const std::string& format, const std::vector<std::string>& ps_args);
int cmd_list(const GlobalOptions& g, const std::string& format, bool quiet);
int cmd_exec(const GlobalOptions& g, const ExecOptions2& o);
int cmd_update(const GlobalOptions& g, const std::string& id, const std::string& resources_file);
int cmd_features();


}  // namespace hoist::runtime
