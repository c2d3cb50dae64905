// hoistd: the Docker Engine API daemon.
#include <signal.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "common/log.h"
#include "engine/container_service.h"
#include "engine/daemon.h"
#include "engine/network_service.h"
#include "engine/volume_service.h"

namespace {

// A helper binary named `name`: an explicit path as given; else next to hoistd, in the build
// tree's sibling directory (build/engine/hoistd → build/runtime/hoist-runtime), else on PATH.
std::string find_binary(const std::string& name, const std::string& build_dir) {
  if (name.find('/') != std::string::npos) {
    // A relative path is the caller's: the shim that runs the runtime works in "/".
    char abs[PATH_MAX];
    return name[0] != '/' && ::realpath(name.c_str(), abs) ? std::string(abs) : name;
  }
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string dir(self, static_cast<std::size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    for (auto cand : {dir + "/" + name, dir + "/../" + build_dir + "/" + name})
      if (::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return name;
}

rlimit g_nofile_at_start{};
// Restores the limit the daemon started with in a forked child (shims, the runtime, containers).
void restore_nofile_limit() { ::setrlimit(RLIMIT_NOFILE, &g_nofile_at_start); }

// Every open API connection is an fd: hoistd allows itself as many as the hard limit does (as
// dockerd does); the programs it starts keep the limit it was given.
void raise_nofile_limit() {
  if (::getrlimit(RLIMIT_NOFILE, &g_nofile_at_start) != 0 || g_nofile_at_start.rlim_cur >= g_nofile_at_start.rlim_max)
    return;
  rlimit raised = g_nofile_at_start;
  raised.rlim_cur = raised.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) ::pthread_atfork(nullptr, nullptr, restore_nofile_limit);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hoist;
  CLI::App app{"hoistd: the Hoist container engine daemon (Docker Engine API on a Unix socket)"};
  engine::DaemonConfig cfg;
  std::string config_file = "/etc/hoist/daemon.json";
  app.add_option("-H,--host", cfg.host, "socket to listen on (unix:///path)");
  app.add_option("--data-root", cfg.data_root, "persistent state (images, containers)");
  app.add_option("--exec-root", cfg.exec_root, "runtime state (pid file, shim sockets)");
  app.add_option("--config-file", config_file, "daemon configuration (JSON, same keys as the flags)");
  app.add_option("--config-dir", cfg.config_dir, "certs.d/ and config.json (registry credentials)");
  app.add_option("--runtime", cfg.runtime, "OCI runtime binary");
  std::string shim = "hoist-shim", cgroup_parent = "/hoist";
  app.add_option("--shim", shim, "per-container shim binary");
  std::string init = "hoist-init";
  app.add_option("--init-path", init, "the init bound at /sbin/docker-init for --init");
  app.add_option("--cgroup-parent", cgroup_parent, "parent cgroup of the containers");
  app.add_flag("-D,--debug", cfg.debug, "debug logging");
  app.add_option("-l,--log-level", cfg.log_level, "debug, info, warn, error");
  app.add_option("--insecure-registry", cfg.insecure_registries, "registry (host[:port] or CIDR) that may use plain http");
  app.add_option("-b,--bridge", cfg.bridge_name, "the default bridge network's device (created when absent)");
  app.add_option("--bip", cfg.bip, "the default bridge's address and prefix (gateway/prefix, e.g. 172.17.0.1/16)");
  app.add_option("--default-address-pool", cfg.default_address_pools,
                 "pool new networks' subnets come from (base=10.10.0.0/16,size=24)");
  app.add_option("--mtu", cfg.mtu, "MTU of the default bridge's containers")->check(CLI::Range(68, 65535));
  app.add_flag("--icc", cfg.icc, "whether the default bridge's containers reach each other (--icc=false: only through published ports)");
  app.add_option("--nft-table", cfg.nft_table, "nftables tables (family ip, and bridge for networks with icc off) of this daemon's NAT and filtering");
  app.add_option("--resolv-conf", cfg.resolv_conf, "the host's resolv.conf (the embedded DNS forwards to its nameservers)");
  // Hidden: tests shorten it.
  std::vector<std::string> entitlements;
  app.add_option("--allow-insecure-entitlement", entitlements,
                 "BuildKit entitlement a build may be granted (security.insecure)");
  app.add_option("--http-header-timeout", cfg.http_header_timeout_s, "seconds a client has to send a request head")
      ->check(CLI::PositiveNumber)
      ->group("");
  CLI11_PARSE(app, argc, argv);
  // Worker threads would otherwise get arenas of their own, each keeping freed memory.
  ::mallopt(M_ARENA_MAX, 2);
  // Fixed thresholds: glibc raises them each time a large block is freed, after which the 1 MiB
  // buffers of a load, save or pull stay in an arena as free memory (2-5 MiB more RSS at idle).
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 256 * 1024);
  raise_nofile_limit();

  try {
    std::vector<std::string> given;
    for (const char* k : {"host", "data-root", "exec-root", "config-dir", "runtime", "debug", "log-level",
                          "insecure-registry", "bridge", "bip", "default-address-pool", "mtu", "icc", "nft-table",
                          "allow-insecure-entitlement"})
      if (app.count(std::string("--") + k) > 0) given.push_back(k);
    bool explicit_file = app.get_option("--config-file")->count() > 0;
    if (explicit_file || ::access(config_file.c_str(), F_OK) == 0) {
      cfg.config_file = config_file;
      cfg.merge_file(config_file, given);
    }
    for (const std::string& e : entitlements) {
      if (e != "security.insecure")
        throw InvalidArgument("--allow-insecure-entitlement: unknown entitlement " + e + " (security.insecure)");
      cfg.allow_security_insecure = true;
    }
    log::Options lo;
    lo.min = cfg.debug || cfg.log_level == "debug" ? log::Level::Debug
             : cfg.log_level == "warn"             ? log::Level::Warn
             : cfg.log_level == "error"            ? log::Level::Error
                                                   : log::Level::Info;
    log::init(lo);

    // Signals are taken synchronously by the main thread.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    cfg.runtime = find_binary(cfg.runtime, "runtime");
    engine::Daemon daemon(cfg);
    engine::NetworkService networks(daemon);
    engine::VolumeService volumes(daemon);
    engine::ContainerService containers(daemon, {find_binary(shim, "engine"), "", cgroup_parent,
                                                 find_binary(init, "engine"), &networks.controller(), &volumes});
    daemon.start();
    log::info("hoistd listening on " + cfg.socket_path());
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) continue;
      log::info("hoistd: signal " + std::to_string(sig) + ", shutting down");
      break;
    }
    daemon.stop(3000);
    std::fflush(nullptr);
    // Request threads may still hold references to the daemon: leave without destructors.
    ::_exit(0);
  } catch (const std::exception& e) {
    std::cerr << "hoistd: " << e.what() << "\n";
    return 1;
  }
}
