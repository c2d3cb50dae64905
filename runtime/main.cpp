// hoist-runtime: an OCI runtime with runc's command line.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "runtime/cloned_binary.h"
#include "runtime/container.h"
#include "runtime/init.h"
#include "runtime/spec.h"

using namespace hoist;
using namespace hoist::runtime;

namespace {
// `exec ID CMD ARGS...` and `ps ID PS-ARGS...`: what follows the id belongs to the command, even
// if it looks like an option ("sh -c"). Cuts argv after the id; returns the tail.
std::vector<std::string> split_tail(int& argc, char** argv) {
  static const std::set<std::string> global_values = {"--root", "--log", "--log-format", "--rootless", "--criu"};
  static const std::set<std::string> exec_values = {"-p", "--process", "-e", "--env", "--cwd", "-u", "--user",
                                                    "-g", "--additional-gids", "-c", "--cap", "--console-socket",
                                                    "--pid-file", "--preserve-fds", "--process-label", "--apparmor",
                                                    "--cgroup"};
  static const std::set<std::string> ps_values = {"-f", "--format"};
  int i = 1;
  while (i < argc && argv[i][0] == '-') i += global_values.count(argv[i]) ? 2 : 1;
  if (i >= argc) return {};
  std::string cmd = argv[i];
  if (cmd != "exec" && cmd != "ps") return {};
  const auto& values = cmd == "exec" ? exec_values : ps_values;
  for (++i; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      // "exec -- ID CMD": drop the separator.
      for (int k = i; k + 1 < argc; ++k) argv[k] = argv[k + 1];
      argv[--argc] = nullptr;
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      if (values.count(a)) ++i;
      continue;
    }
    break;
  }
  std::vector<std::string> tail;
  for (int k = i + 1; k < argc; ++k) tail.push_back(argv[k]);
  if (i < argc) argc = i + 1;
  return tail;
}
}  // namespace

int main(int argc, char** argv) {
  // The container's init process (see runtime/init.h): no command line to speak of.
  if (argc == 3 && std::strcmp(argv[1], "__init") == 0) init_entry(std::atoi(argv[2]));
  int parse_argc = argc;
  std::vector<std::string> tail = split_tail(parse_argc, argv);
  CLI::App app{"hoist-runtime: run containers from OCI bundles"};
  app.set_version_flag("-v,--version", std::string("hoist-runtime version 0.1.0\nspec: ") + oci::kOciVersion);
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  std::string log_path, log_format = "text", rootless, criu;
  bool debug = false;
  app.add_option("--root", g.root, "directory for container state");
  app.add_option("--log", log_path, "log file");
  app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", debug, "debug logging");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "cgroupsPath is slice:prefix:name");
  app.add_option("--rootless", rootless, "accepted for compatibility");
  app.add_option("--criu", criu, "accepted for compatibility");

  CreateOptions co;
  bool detach = false, keep = false;
  auto add_create = [&](CLI::App* s) {
    s->add_option("-b,--bundle", co.bundle, "bundle directory");
    s->add_option("--pid-file", co.pid_file, "write the init pid here");
    s->add_option("--console-socket", co.console_socket, "unix socket that receives the pty master");
    s->add_flag("--no-pivot", co.no_pivot, "use MS_MOVE + chroot instead of pivot_root");
    s->add_flag("--no-new-keyring", co.no_new_keyring, "keep the caller's session keyring");
    s->add_option("--preserve-fds", co.preserve_fds, "pass N extra fds (from 3)");
    s->add_option("id", co.id, "container id")->required();
  };
  auto* create = app.add_subcommand("create", "create a container");
  add_create(create);
  auto* run = app.add_subcommand("run", "create and start a container");
  add_create(run);
  run->add_flag("-d,--detach", detach, "detach from the container's process");
  run->add_flag("--keep", keep, "do not delete the container after it exits");

  std::string id;
  auto* start = app.add_subcommand("start", "start a created container");
  start->add_option("id", id)->required();
  auto* state = app.add_subcommand("state", "print the state of a container");
  state->add_option("id", id)->required();
  std::string sig = "SIGTERM";
  bool all = false;
  auto* kill = app.add_subcommand("kill", "send a signal to the container's init");
  kill->add_flag("-a,--all", all, "signal every process in the container");
  kill->add_option("id", id)->required();
  kill->add_option("signal", sig);
  bool force = false;
  auto* del = app.add_subcommand("delete", "delete a container");
  del->add_flag("-f,--force", force, "kill it first if it runs");
  del->add_option("id", id)->required();
  auto* pause = app.add_subcommand("pause", "freeze every process of a container");
  pause->add_option("id", id)->required();
  auto* resume = app.add_subcommand("resume", "thaw a paused container");
  resume->add_option("id", id)->required();
  std::string format = "table";
  bool quiet = false;
  auto* list = app.add_subcommand("list", "list containers");
  list->alias("ls");
  list->add_option("-f,--format", format);
  list->add_flag("-q,--quiet", quiet);
  auto* ps = app.add_subcommand("ps", "processes running in a container");
  ps->add_option("-f,--format", format);
  ps->add_option("id", id)->required();
  ExecOptions2 eo;
  auto* exec = app.add_subcommand("exec", "run a process in a running container");
  exec->add_option("-p,--process", eo.process_file);
  exec->add_option("-e,--env", eo.env)->allow_extra_args(false);
  exec->add_option("--cwd", eo.cwd);
  exec->add_option("-u,--user", eo.user);
  exec->add_option("-g,--additional-gids", eo.additional_gids)->allow_extra_args(false);
  exec->add_option("-c,--cap", eo.caps)->allow_extra_args(false);
  exec->add_flag("-t,--tty", eo.tty);
  exec->add_flag("-d,--detach", eo.detach);
  exec->add_flag("--no-new-privs", eo.no_new_privs);
  exec->add_flag("--ignore-paused", eo.ignore_paused);
  exec->add_option("--console-socket", eo.console_socket);
  exec->add_option("--pid-file", eo.pid_file);
  exec->add_option("--preserve-fds", eo.preserve_fds);
  std::string ignored;
  exec->add_option("--process-label,--apparmor,--cgroup", ignored);
  exec->add_option("id", eo.id)->required();
  std::string spec_bundle = ".";
  bool spec_rootless = false;
  auto* spec = app.add_subcommand("spec", "write a default config.json");
  spec->add_option("-b,--bundle", spec_bundle);
  spec->add_flag("--rootless", spec_rootless);
  auto* features = app.add_subcommand("features", "print the features this runtime implements");
  std::string resources = "";
  auto* update = app.add_subcommand("update", "update a container's resource limits");
  update->add_option("-r,--resources", resources, "resources JSON file, or - for stdin")->required();
  update->add_option("id", id)->required();

  try {
    app.parse(parse_argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  log::init({log_path, log_format == "json", debug ? log::Level::Debug : log::Level::Warn});

  try {
    // `exec` enters a running container from this process; create/run re-execute in the init.
    if (*exec) ensure_cloned_binary(argv);
    if (*create) return cmd_create(g, co);
    if (*run) return cmd_run(g, co, detach, keep);
    if (*start) return cmd_start(g, id);
    if (*state) return cmd_state(g, id);
    if (*kill) return cmd_kill(g, id, sig, all);
    if (*del) return cmd_delete(g, id, force);
    if (*pause) return cmd_pause(g, id, true);
    if (*resume) return cmd_pause(g, id, false);
    if (*list) return cmd_list(g, format, quiet);
    if (*ps) return cmd_ps(g, id, format, tail);
    if (*exec) {
      eo.args = tail;
      if (eo.process_file.empty() && eo.args.empty()) throw Error("exec: a command is required (or --process)");
      return cmd_exec(g, eo);
    }
    if (*spec) {
      std::string path = spec_bundle + "/config.json";
      if (path_exists(path)) throw Error("spec: " + path + " already exists");
      write_file_atomic(path, oci::default_spec_json(spec_rootless));
      return 0;
    }
    if (*features) return cmd_features();
    if (*update) return cmd_update(g, id, resources);
  } catch (const std::exception& e) {
    log::error(e.what());
    if (!log_path.empty()) std::cerr << "hoist-runtime: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
