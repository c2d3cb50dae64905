// One end of a build session (common/session_frames.h): its streams, each a local socket. The
// peer's Data and Close frames applied to them, their bytes and their end sent to the peer.
// hoistd's relay (engine/build_ssh.h) and the CLI's (cli/ssh_forward.h) share it; each adds the
// streams it opens (hoistd: accepted connections) or is asked to open (the CLI: its agent).
#pragma once
#include <poll.h>

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/session_frames.h"

namespace hoist::session {

class Streams {
 public:
  explicit Streams(int conn) : conn_(conn) {}
  // A frame to the peer; false when the connection is gone.
  bool send(FrameType t, std::uint32_t stream, std::string_view payload = {});
  void add(std::uint32_t stream, UniqueFd fd) { streams_[stream] = std::move(fd); }
  // The peer's Data (written to the stream; a stream that cannot take it is closed and the peer
  // told) or Close (the stream closed). Unknown streams are ignored. False when the connection is
  // gone.
  bool apply(const Frame& f);
  // Appends the streams' fds (POLLIN) to `fds` and their ids to `ids`, in the same order.
  void poll_set(std::vector<pollfd>& fds, std::vector<std::uint32_t>& ids) const;
  // A polled stream is readable: its bytes, or its end, to the peer. False when the connection is
  // gone.
  bool pump(std::uint32_t stream);
  std::size_t size() const { return streams_.size(); }

 private:
  int conn_;
  std::map<std::uint32_t, UniqueFd> streams_;
};

}  // namespace hoist::session
