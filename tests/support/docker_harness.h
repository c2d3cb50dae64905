// A private dockerd for interoperability tests (docker save/load as oracle): its own data root,
// exec root, socket and pid file under a temp dir; no bridge, no iptables rules. Stopped, with its
// containerd, and its mounts and directory removed in the destructor.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.h"

namespace hoist::test {

class PrivateDockerd {
 public:
  PrivateDockerd();  // starts it; throws with dockerd's log when it does not come up
  ~PrivateDockerd();
  PrivateDockerd(const PrivateDockerd&) = delete;
  PrivateDockerd& operator=(const PrivateDockerd&) = delete;

  // `docker -H unix://<sock> args...`
  CmdResult docker(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 120);
  const std::string& dir() const { return dir_; }
  static bool available();

 private:
  void stop();
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace hoist::test
