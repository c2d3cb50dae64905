// Container lifecycle below the API: records, rootfs, shims, state changes. Thread-safe
// (one mutex per container plus one for the name/id maps); every state change is persisted
// (atomic write of the record) before it is reported.
//
// On disk:
//   <data_root>/containers/<id>/config.json   the record (ContainerRecord)
//   <data_root>/containers/<id>/<id>-json.log the json-file log
//   <data_root>/containers/<id>/{rootfs,upper,work,l}/  the overlay (or copied) rootfs
//   <exec_root>/<id>/                         bundle (config.json) and shim state dir
//                                             (attach.sock, exit.json, shim.pid, *.log)
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "engine/containers/record.h"
#include "engine/containers/logs.h"
#include "engine/containers/stats.h"

namespace hoist::engine {

struct ManagerOptions {
  std::string data_root;     // e.g. /var/lib/hoist
  std::string exec_root;     // e.g. /run/hoist
  std::string runtime;       // OCI runtime binary (hoist-runtime)
  std::string runtime_root;  // its --root (e.g. /run/hoist-runtime)
  std::string shim;          // hoist-shim binary
  std::int64_t log_max_size = 0;  // json-file rotation (0: never)
  // Builds the OCI spec (JSON) at each start, with root.path = `rootfs`. When unset, the
  // CreateParams::oci_spec_json stored in the record is used (its root.path replaced). It may
  // change the record's Config (persisted with the start), as dockerd does at a start: the host
  // and domain names of the container whose network namespace it joins.
  std::function<std::string(ContainerRecord&, const std::string& rootfs)> spec_builder;
  // Hook after a state change is persisted ("create", "start", "die", "stop", "kill", "pause",
  // "unpause", "destroy", "rename", "exec_create: CMD", "exec_start: CMD", "exec_die",
  // "health_status: STATUS"): events. `attrs`: extra event attributes (execID, exitCode).
  // Called without locks held.
  std::function<void(const ContainerRecord&, const std::string& event, const std::map<std::string, std::string>& attrs)>
      on_event;
  // Called once a container's run is over (it exited, its start failed, it is removed, or it was
  // found gone at restore), with the container's lock held: its network goes.
  std::function<void(const ContainerRecord&)> on_stopped;
  // Legacy links: the name a container's stored HostConfig links as `alias`, if any. The linked
  // container is then also found as "LINKING/ALIAS" (or "/LINKING/ALIAS"), as in dockerd.
  // Called with the manager's lock held: it must not call the manager.
  std::function<std::optional<std::string>(const std::string& host_config_json, const std::string& alias)>
      link_target;
};

// A process run in a running container (docker exec).
struct ExecParams {
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE, over the container's
  std::string user;              // "" → the container's
  std::string workdir;           // "" → the container's
  bool tty = false;
  bool privileged = false;
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  std::string detach_keys;
};

struct ExecInfo {
  std::string id;
  std::string container_id;
  ExecParams params;
  bool started = false;
  bool running = false;
  std::optional<int> exit_code;  // once it ended
  pid_t pid = 0;
};

// HostConfig.RestartPolicy.
struct RestartPolicy {
  std::string name;  // "", "no", "always", "unless-stopped", "on-failure"
  int max_retries = 0;
  static RestartPolicy from_host_config(const std::string& host_config_json);
  // Docker's rule for a container that exited on its own (`boot`: at daemon start).
  bool should_restart(int exit_code, bool manually_stopped, int restart_count, bool boot) const;
};

struct CreateParams {
  std::string name;  // "" → generated; a leading "/" is accepted
  std::string image;  // as the user named it
  std::string image_id;
  std::vector<std::string> layer_paths;  // lowest first (image::Store::layer_paths)
  bool copy_snapshot = false;            // image::SnapshotMode::Copy
  bool volatile_upper = false;           // ContainerRecord::volatile_upper
  std::string oci_spec_json;             // ready spec (when no spec_builder)
  std::string config_json = "{}";        // Docker Config
  std::string host_config_json = "{}";   // Docker HostConfig
  std::string endpoints_json = "{}";     // NetworkingConfig.EndpointsConfig
  std::string mounts_json;               // the resolved mounts (ContainerRecord::mounts_json)
  bool tty = false;
  bool open_stdin = false;
  std::string stop_signal = "SIGTERM";
  int stop_timeout = 10;
};

enum class WaitCondition { NotRunning, NextExit, Removed };

struct TopResult {
  std::vector<std::string> titles;                  // UID PID PPID CMD
  std::vector<std::vector<std::string>> processes;  // one row per process
};

class ContainerManager {
 public:
  explicit ContainerManager(ManagerOptions opts);
  // Leaves shims and containers running (live restore: a new manager's restore() finds them).
  ~ContainerManager();
  ContainerManager(const ContainerManager&) = delete;
  ContainerManager& operator=(const ContainerManager&) = delete;

  // Loads every record; reconnects to live shims; containers whose shim is gone are marked
  // exited (code from exit.json, else 255) and their runtime state and mount are cleaned up.
  void restore();

  // Returns the new id (64 hex). Conflict when the name is taken, InvalidArgument when invalid.
  std::string create(const CreateParams& p);
  // Full id of an id, a unique id prefix, a name ("x" or "/x") or a link's name ("/LINKING/ALIAS"
  // or "LINKING/ALIAS": ManagerOptions::link_target); NotFound "No such container: x".
  std::string resolve(const std::string& ref) const;
  ContainerRecord inspect(const std::string& ref) const;
  std::vector<ContainerRecord> list() const;
  // Mounts the rootfs, writes the bundle, spawns the shim, waits until the process runs.
  // Returns false when it was already running (Docker's 304).
  bool start(const std::string& ref);
  // StopSignal, then SIGKILL after `timeout_s` (record's StopTimeout when unset; <0: wait forever).
  // Returns false when it was not running (304).
  bool stop(const std::string& ref, std::optional<int> timeout_s = std::nullopt);
  // `signal`: a number or a name ("KILL", "SIGTERM"); Conflict when not running.
  void kill(const std::string& ref, const std::string& signal = "SIGKILL");
  void pause(const std::string& ref);
  void unpause(const std::string& ref);
  // Conflict when running (or paused) unless `force` (then it is killed first).
  void remove(const std::string& ref, bool force);
  void rename(const std::string& ref, const std::string& new_name);
  // docker update: `merge` makes the new HostConfig (JSON) from the record (and may throw:
  // a Conflict becomes "Cannot update container ID: ..."); a running or paused container gets
  // its resources at once (runtime update). The record changes only once they applied; the
  // next start builds its spec from it. Conflict for a container being removed or dead.
  void update(const std::string& ref, const std::function<std::string(const ContainerRecord&)>& merge);
  // Replaces the record's Config (JSON) of a container that is not running, persisted at once
  // (no event: the builder's own bookkeeping, e.g. a kept step container losing its build label).
  void set_config(const std::string& ref, const std::string& config_json);
  // Blocks until the condition holds; returns the exit code. `cancel` is polled (every 100 ms);
  // a cancelled wait throws Error("wait cancelled").
  int wait(const std::string& ref, WaitCondition cond, const std::atomic<bool>* cancel = nullptr);
  // json-file log entries; with opts.follow, until the container stops or `cancel`/`sink` says so.
  void logs(const std::string& ref, const LogReadOptions& opts, const std::function<bool(const LogEntry&)>& sink,
            const std::atomic<bool>* cancel = nullptr);
  TopResult top(const std::string& ref);
  // Bytes in the container's writable layer (SizeRw; what removing it frees).
  std::int64_t writable_size(const std::string& ref) const;
  // A sample of the container's cgroup (engine/containers/stats.h).
  ContainerStats stats(const std::string& ref);

  // Attach/resize pass through to the shim (protocol in engine/shim/protocol.h).
  // detach_keys: the bytes that detach a client writing to a TTY (shim.h); "": none.
  UniqueFd attach(const std::string& ref, bool in, bool out, bool err, bool close_stdin,
                  const std::string& detach_keys = {});
  void resize(const std::string& ref, unsigned rows, unsigned cols);
  // Blocks until the container runs, or has run and exited, in a start after `prev_started_at`
  // (its StartedAt when the caller looked); returns the record then. nullopt after `timeout_ms`,
  // when `cancel` returns true (asked every 100 ms), or when the container is removed.
  std::optional<ContainerRecord> wait_started(const std::string& ref, const std::string& prev_started_at,
                                              int timeout_ms, const std::function<bool()>& cancel = {});
  // The next start is to be attached (docker run without -d): the shim holds the container's
  // output until the attach stream arrives (up to a few seconds), so none of it is missed.
  // `expected` false takes that back (the attach gave up before a start came).
  void expect_attach(const std::string& ref, bool expected = true);
  // docker exec. exec_create: Conflict when the container is not running (or paused).
  std::string exec_create(const std::string& ref, const ExecParams& p);
  // NotFound "No such exec instance: ID".
  ExecInfo exec_inspect(const std::string& exec_id) const;
  // Ids of the container's execs (inspect's ExecIDs).
  std::vector<std::string> exec_ids(const std::string& container_id) const;
  // Runs the process. With `attach`, its output is held (up to 5 s) until exec_attach connects.
  // Conflict when it was started before or the container is not running.
  // rows/cols: the terminal's first size (a tty exec), 0: the default.
  void exec_start(const std::string& exec_id, bool attach, unsigned rows = 0, unsigned cols = 0);
  // raw_stream: what the start asked for (Docker's ExecStartCheck.Tty), which decides the stream
  // rather than the exec's own Tty: true gives stdout alone as raw bytes, false multiplexed
  // frames of stdout and stderr; unset: as the exec's Tty. detach_keys as for attach.
  UniqueFd exec_attach(const std::string& exec_id, std::optional<bool> raw_stream = std::nullopt,
                       const std::string& detach_keys = {});
  // Whether the exec's process still runs, asked of its shim (false once the shim has finished):
  // an attach stream that ended while it runs was detached.
  bool exec_shim_running(const std::string& exec_id) const;
  void exec_resize(const std::string& exec_id, unsigned rows, unsigned cols);
  // Blocks until the exec's process has exited; returns its exit code.
  int exec_wait(const std::string& exec_id);
  // Drops a finished exec (its record and state dir).
  void exec_forget(const std::string& exec_id);
  // Replaces State.Health of a container that is running (persisted); false when it is not
  // running (any more), and then nothing is written.
  bool set_health(const std::string& id, const std::string& health_json);
  // Replaces the networks a container joins at start (network connect/disconnect), persisted.
  // `mode_detached`: sets ContainerRecord::network_mode_detached too.
  void set_endpoints(const std::string& ref, const std::string& endpoints_json, bool mode_detached = false);
  // Replaces the record's HostConfig (no runtime change: for fields read at the next start, such
  // as the links `docker rm --link` removes), persisted.
  void set_host_config(const std::string& ref, const std::string& host_config_json);


  // <exec_root>/<id>: the shim's state dir (attach.sock etc.).
  std::string state_dir(const std::string& id) const { return opts_.exec_root + "/" + id; }
  std::string container_dir(const std::string& id) const { return opts_.data_root + "/containers/" + id; }
  // <data_root>/init-layers: the init layers containers share (init_layer.h).
  std::string init_layers_dir() const { return opts_.data_root + "/init-layers"; }
  // The shim's pid (0 if unknown) — for tests and diagnostics.
  pid_t shim_pid(const std::string& ref) const;

 private:
  struct Entry;
  struct Exec;
  std::shared_ptr<Entry> get(const std::string& ref) const;
  // The container `ref` names as a link's name ("LINKING/ALIAS"); null when none. Takes mu_ alone.
  std::shared_ptr<Entry> get_linked(const std::string& ref) const;
  // Entry::shared_host_config = its record's HostConfig (after a change; e.mu held).
  void share_host_config(Entry& e);
  std::shared_ptr<Exec> get_exec(const std::string& id) const;
  void persist(Entry& e);
  // Spawns a shim (argv without --ready-fd) and waits for its "ok <pid>"; returns the pid.
  pid_t spawn_shim(std::vector<std::string> argv, const std::string& state_dir, const std::string& what);
  // Mounts the rootfs, writes the bundle, spawns the shim; state Running, persisted. e.mu held.
  // Returns the shim's "wait" connection (empty when it has exited already).
  UniqueFd run_container(Entry& e);
  // Cancels a pending restart (state Restarting) and waits until it is Exited. e.mu held by lk.
  void cancel_restart(Entry& e, std::unique_lock<std::mutex>& lk);
  void forget_execs(const std::string& container_id);
  void start_monitor(const std::shared_ptr<Entry>& e, UniqueFd wait_fd);
  void monitor(std::shared_ptr<Entry> e);
  void mark_exited(Entry& e, int code, const std::string& at, bool oom, const std::string& error,
                   ContainerState state = ContainerState::Exited);
  void cleanup_after_exit(Entry& e);
  void runtime_cmd(const std::vector<std::string>& args, bool check);
  void event(const ContainerRecord& r, const std::string& what, const std::map<std::string, std::string>& attrs = {});

  ManagerOptions opts_;
  mutable std::mutex mu_;  // ids_, names_
  std::map<std::string, std::shared_ptr<Entry>> ids_;
  std::map<std::string, std::string> names_;  // name -> id
  std::map<std::string, std::shared_ptr<Exec>> execs_;  // under mu_
  std::atomic<bool> closing_{false};

 public:
  // A container's root file system held for a copy (docker cp, the archive API): an O_PATH fd of
  // its root directory and its record. A container that does not run gets its rootfs mounted for
  // as long as a lease holds it (a start meanwhile uses that mount; the last lease of a container
  // that is not running unmounts it). NotFound for an unknown or removed container.
  class RootfsLease {
   public:
    RootfsLease(RootfsLease&&) noexcept = default;
    RootfsLease& operator=(RootfsLease&&) = delete;
    ~RootfsLease();
    int fd() const { return fd_.get(); }
    const ContainerRecord& record() const { return rec_; }
    const std::string& dir() const { return dir_; }

   private:
    friend class ContainerManager;
    explicit RootfsLease(std::shared_ptr<Entry> e) : e_(std::move(e)) {}
    std::shared_ptr<Entry> e_;
    UniqueFd fd_;
    ContainerRecord rec_;
    std::string dir_;
  };
  RootfsLease lease_rootfs(const std::string& ref);
};

}  // namespace hoist::engine
