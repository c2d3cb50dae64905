#include "common/session_streams.h"

#include <unistd.h>

#include <cerrno>

#include "common/unix_socket.h"

namespace hoist::session {

bool Streams::send(FrameType t, std::uint32_t stream, std::string_view payload) {
  return send_all(conn_, encode_frame(t, stream, payload));
}

bool Streams::apply(const Frame& f) {
  auto it = streams_.find(f.stream);
  if (it == streams_.end()) return true;
  if (f.type == FrameType::Close) {
    streams_.erase(it);
    return true;
  }
  if (f.type == FrameType::Data && !send_all(it->second.get(), f.payload)) {
    streams_.erase(it);
    return send(FrameType::Close, f.stream);
  }
  return true;
}

void Streams::poll_set(std::vector<pollfd>& fds, std::vector<std::uint32_t>& ids) const {
  for (auto& [id, fd] : streams_) {
    fds.push_back({fd.get(), POLLIN, 0});
    ids.push_back(id);
  }
}

bool Streams::pump(std::uint32_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return true;  // closed meanwhile
  char buf[16384];
  ssize_t n;
  do n = ::read(it->second.get(), buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    streams_.erase(it);
    return send(FrameType::Close, stream);
  }
  return send(FrameType::Data, stream, std::string_view(buf, static_cast<std::size_t>(n)));
}

}  // namespace hoist::session
