// An ssh-agent of a test's own (openssh-client): its socket in `dir`, holding a new ed25519 key
// (`dir`/key) with `comment`; killed with the object. Throws std::runtime_error when a tool fails.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <regex>
#include <stdexcept>
#include <string>

#include "harness.h"
#include "registry_harness.h"

namespace hoist::test {

class TestSshAgent {
 public:
  static bool available() { return have_tool("ssh-agent") && have_tool("ssh-keygen") && have_tool("ssh-add"); }
  TestSshAgent(const std::string& dir, const std::string& comment) : sock_(dir + "/agent.sock"), key_(dir + "/key") {
    auto kg = run_cmd({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key_});
    if (kg.code != 0) throw std::runtime_error("ssh-keygen: " + kg.err);
    auto a = run_cmd({"ssh-agent", "-s", "-a", sock_});
    std::smatch m;
    if (a.code != 0 || !std::regex_search(a.out, m, std::regex("SSH_AGENT_PID=([0-9]+)")))
      throw std::runtime_error("ssh-agent: " + a.err + a.out);
    pid_ = std::stoi(m[1]);
    auto add = run_cmd({"env", "SSH_AUTH_SOCK=" + sock_, "ssh-add", "-q", key_});
    if (add.code != 0) throw std::runtime_error("ssh-add: " + add.err);
  }
  ~TestSshAgent() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
  }
  TestSshAgent(const TestSshAgent&) = delete;
  TestSshAgent& operator=(const TestSshAgent&) = delete;
  const std::string& socket() const { return sock_; }
  const std::string& key() const { return key_; }

 private:
  std::string sock_, key_;
  pid_t pid_ = -1;
};

}  // namespace hoist::test
