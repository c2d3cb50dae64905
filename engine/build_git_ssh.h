// libgit2's callbacks for the build's fetches (build_git.h): an ssh remote authenticates with the
// identities of the agent the client forwards (tried in the agent's order, each signing through
// the agent: engine/ssh_agent_client.h), as the user the URL names, else root (the user
// BuildKit's git runs as); its host key is not checked (BuildKit's git source without known
// hosts: StrictHostKeyChecking=no). Other remotes' certificates are checked as libgit2 does.
#pragma once
#include <git2.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/ssh_agent_client.h"

namespace hoist::engine {

class GitSshAuth {
 public:
  // `agent_socket`: the forwarded agent's socket, "" when the client forwards none.
  explicit GitSshAuth(std::string agent_socket) : socket_(std::move(agent_socket)) {}
  // Sets the credential and certificate callbacks of `cb` to this object's (none without an
  // agent: libgit2's defaults), for one connection (the identities are tried again from the first).
  void install(git_remote_callbacks& cb);

 private:
  static int credentials(git_credential** out, const char* url, const char* user, unsigned allowed, void* payload);
  static int sign(LIBSSH2_SESSION*, unsigned char** sig, size_t* sig_len, const unsigned char* data, size_t data_len,
                  void** abstract);
  std::string socket_;
  std::unique_ptr<AgentClient> agent_;
  std::vector<AgentIdentity> ids_;
  std::size_t next_ = 0, current_ = 0;
};

}  // namespace hoist::engine
