// `hoist build --ssh`: the client's side of Hoist's build session (docs/api.md, `POST
// /hoist/session`): hoistd opens a stream for each connection a RUN --mount=type=ssh makes to its
// socket, and this side connects it to the local agent of the stream's ssh id.
#pragma once
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/ssh_key_agent.h"
#include "common/fd.h"

namespace hoist::cli {

class Client;

// One --ssh value as `docker buildx build --ssh` reads it: `<id>[=<path>[,<path>...]]`, the
// paths one agent's socket or key files; none: $SSH_AUTH_SOCK.
struct SshSpec {
  std::string id;
  std::string socket;                     // the agent's socket, or
  std::shared_ptr<const KeyAgent> agent;  // the agent serving the key files, in-process
};
// Throws Error with buildx's words (a duplicate id, no SSH_AUTH_SOCK, a path that cannot be
// stat'ed, several sockets, sockets and keys mixed, a key that cannot be read: an encrypted one).
std::vector<SshSpec> parse_ssh_specs(const std::vector<std::string>& values, const char* ssh_auth_sock);

// A session open on `client`'s daemon while the object lives, relaying on a thread of its own.
class SshForwarder {
 public:
  // Opens the session (the daemon must have the capability "session"). Throws Error/ApiError.
  SshForwarder(Client& client, std::vector<SshSpec> specs);
  ~SshForwarder();  // hangs up and waits for the thread
  SshForwarder(const SshForwarder&) = delete;
  SshForwarder& operator=(const SshForwarder&) = delete;
  // What the build names (X-Hoist-Build-Session).
  const std::string& session_id() const { return id_; }

 private:
  void relay(std::string already_read);
  void relay_streams(std::string already_read, std::vector<std::thread>& agents);
  std::vector<SshSpec> specs_;
  std::string id_;
  UniqueFd conn_;
  std::thread thread_;
};

}  // namespace hoist::cli
