// A client of the SSH agent protocol (draft-miller-ssh-agent), as the build's git fetches use
// the agent the client forwards (ADD of an ssh git URL, build_git.h): it lists the agent's
// identities and asks it to sign. The replies are outside input: parsed with bounds checks,
// a message over 256 KiB refused.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"

namespace hoist::engine {

struct AgentIdentity {
  std::string blob;     // the public key in the SSH wire format
  std::string comment;
};

// The agent's reply to SSH2_AGENTC_REQUEST_IDENTITIES (a message without its length prefix).
// Throws InvalidArgument for a failure reply, another message or a malformed one.
std::vector<AgentIdentity> parse_identities_answer(std::string_view reply);
// The agent's reply to SSH2_AGENTC_SIGN_REQUEST: the signature blob (algorithm name, then the
// signature). Throws InvalidArgument as parse_identities_answer.
std::string parse_sign_response(std::string_view reply);
// A signature blob's signature without its algorithm name (what libssh2 wants back from a
// signing callback). Throws InvalidArgument when malformed.
std::string signature_bytes(std::string_view blob);
// The key type a public key blob starts with ("ssh-ed25519", "ssh-rsa", ...).
std::string key_type(std::string_view blob);

// The sign request's flags for the data of an SSH "publickey" user authentication (RFC 4252 §7):
// SHA-512 or SHA-256 when the algorithm it names is rsa-sha2-512 or rsa-sha2-256, else none
// (also for data that is not such a request).
std::uint32_t userauth_sign_flags(std::string_view data);

// One connection to an agent. Errors: Error (I/O, the agent hung up), InvalidArgument (a bad reply).
class AgentClient {
 public:
  explicit AgentClient(UniqueFd conn) : conn_(std::move(conn)) {}
  std::vector<AgentIdentity> identities();
  // The signature blob of `data` signed with the key of `blob`.
  std::string sign(std::string_view blob, std::string_view data, std::uint32_t flags);

 private:
  std::string call(const std::string& request);
  UniqueFd conn_;
};

}  // namespace hoist::engine
