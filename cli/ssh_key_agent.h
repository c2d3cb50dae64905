// The SSH agent `hoist build --ssh id=<key file>` serves in-process, as BuildKit's client does
// (a read-only keyring): it lists its keys (without comments) and signs with them; every other
// request (adding, removing, locking, extensions) fails (SSH_AGENT_FAILURE).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "cli/ssh_keys.h"

namespace hoist::cli {

class KeyAgent {
 public:
  explicit KeyAgent(std::vector<SshKey> keys) : keys_(std::move(keys)) {}
  // The answer to one request (a message without its length prefix), itself without the prefix.
  std::string answer(std::string_view request) const;
  // Answers the requests read from `fd` until its end (or an error, or a message over 256 KiB).
  void serve(int fd) const;

 private:
  std::vector<SshKey> keys_;
};

// The key of file `path` as BuildKit's client loads it (at most 100 KiB read). Throws Error
// "failed to parse <path>: ssh: ..." (Go's words, e.g. "ssh: this private key is passphrase
// protected"), "failed to open <path>: ..." or "failed to read <path>: ...".
SshKey load_key_file(const std::string& path);

}  // namespace hoist::cli
