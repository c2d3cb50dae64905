// RUN --mount=type=ssh: the client's SSH agent reached through the API connection only (hoistd
// may run on another host than the client). The client opens a session (POST /hoist/session, a
// hijacked connection carrying common/session_frames.h's frames; docs/api.md) naming the ssh ids
// it forwards, and the build names the session (X-Hoist-Build-Session). For each ssh mount of a
// step, hoistd listens on a Unix socket of its own (a directory of the exec root, bind-mounted
// at the mount's target in the step's container); each connection to it is a stream of the
// session: Open (with the ssh id), then Data both ways, then Close. The client connects each
// stream to its agent for that id.
//
// One thread per session (the hijacked request's) relays everything: the session's connection,
// the listening sockets and the accepted connections, polled together. A session serves one build:
// it ends when the client hangs up or when the build that named it ends (SshSession::end), and
// then every stream and socket of it is closed.
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/fd.h"

namespace hoist::engine {

class SshSession : public std::enable_shared_from_this<SshSession> {
 public:
  SshSession(std::string id, std::set<std::string> ssh_ids);
  const std::string& id() const { return id_; }
  // Whether the client forwards `ssh_id`; whether it forwards any.
  bool forwards(const std::string& ssh_id) const { return ssh_ids_.count(ssh_id) > 0; }
  bool forwards_any() const { return !ssh_ids_.empty(); }

  // Relays on the caller's thread until the client hangs up, end() is called, or the client
  // breaks the protocol. `already_read`: bytes of the connection read with the request.
  void serve(UniqueFd conn, std::string already_read);
  // Ends serve() (the build that named the session is over).
  void end();

  // A listening socket whose connections go to the client's agent for an ssh id. Unlinked (and
  // its directory removed) when it goes; its open connections go with the session.
  class Socket {
   public:
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    const std::string& path() const { return path_; }

   private:
    friend class SshSession;
    Socket(std::shared_ptr<SshSession> s, int fd, std::string dir, std::string path)
        : session_(std::move(s)), fd_(fd), dir_(std::move(dir)), path_(std::move(path)) {}
    std::shared_ptr<SshSession> session_;
    int fd_;
    std::string dir_, path_;
  };
  // A new socket in a new directory below `base`, owned by uid:gid with `mode`. Throws Error when
  // the session is over (the client went away).
  std::unique_ptr<Socket> listen(const std::string& ssh_id, const std::string& base, uid_t uid, gid_t gid,
                                 mode_t mode);

 private:
  void wake();
  void drop_listener(int fd);
  std::string id_;
  std::set<std::string> ssh_ids_;
  UniqueFd wake_r_, wake_w_;
  std::mutex mu_;
  bool ended_ = false, over_ = false;
  struct Listener {
    UniqueFd fd;
    std::string ssh_id;
  };
  std::map<int, Listener> listeners_;  // by fd
  std::vector<UniqueFd> to_close_;     // removed listeners, closed by the relay between polls
};

// Throws Error with BuildKit's words unless `session` forwards `ssh_id`: `no SSH key "<id>"
// forwarded from the client` when it forwards nothing (or there is none), `unset ssh forward key
// <id>` when it forwards other ids.
void require_ssh_forward(const SshSession* session, const std::string& ssh_id);

// The sessions open at the moment, by id.
class SshSessions {
 public:
  // Registers a new session. Throws Conflict when the id is taken.
  std::shared_ptr<SshSession> open(const std::string& id, std::set<std::string> ssh_ids);
  void close(const std::string& id);
  // The session, or null.
  std::shared_ptr<SshSession> find(const std::string& id);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<SshSession>> sessions_;
};

}  // namespace hoist::engine
