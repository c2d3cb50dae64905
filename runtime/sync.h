// Messages between the runtime and the container's init process over a SOCK_SEQPACKET pair:
// a one-byte type, a payload, and optionally one passed file descriptor.
#pragma once
#include <string>
#include <string_view>

#include "common/fd.h"

namespace hoist::runtime {

enum class SyncType : char {
  Go = 'g',          // runtime -> init: ids mapped; carry on
  Init = 'i',        // runtime -> init: its parameters (InitParams), after Go
  Joined = 'j',      // runtime -> init: in the container's cgroup; payload kJoinYourself: the
                     // cgroup is ready, and the init moves itself into the v1 hierarchies
  Hooks = 'h',       // init -> runtime: run createRuntime/prestart hooks now
  HooksDone = 'H',   // runtime -> init
  State = 's',       // runtime -> init: state JSON for the container's own hooks
  Pty = 'p',         // init -> runtime: the pty master (fd)
  Ready = 'r',       // init -> runtime: set up, waiting for start
  Pid = 'P',         // intermediate -> runtime: pid of the container init (payload)
  Err = 'e',         // either way: an error message; the sender gives up
};

inline constexpr std::string_view kJoinYourself = "join";

struct SyncMsg {
  SyncType type;
  std::string payload;
  UniqueFd fd;
};

class SyncChannel {
 public:
  SyncChannel() = default;
  explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  // A connected pair: [0] for the runtime, [1] for the child.
  static void make_pair(SyncChannel& parent, SyncChannel& child);

  void send(SyncType t, std::string_view payload = {}, int pass_fd = -1);
  // Blocks for the next message; EOF throws Error("<peer> exited ...").
  SyncMsg recv();
  // recv(), turning an Err message into a thrown Error and checking the type.
  SyncMsg expect(SyncType t);
  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

// Sends / receives one fd over a unix socket with SCM_RIGHTS (plus a small payload).
void send_fd(int sock, int fd, std::string_view payload);
UniqueFd recv_fd(int sock, std::string* payload);

}  // namespace hoist::runtime
