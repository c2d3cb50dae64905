#include "runtime/sync.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "common/error.h"

namespace hoist::runtime {

void SyncChannel::make_pair(SyncChannel& parent, SyncChannel& child) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_sys("socketpair", "sync");
  parent = SyncChannel(UniqueFd(sv[0]));
  child = SyncChannel(UniqueFd(sv[1]));
}

void send_fd(int sock, int fd, std::string_view payload) {
  struct msghdr msg{};
  struct iovec iov;
  char dummy = 0;
  iov.iov_base = payload.empty() ? &dummy : const_cast<char*>(payload.data());
  iov.iov_len = payload.empty() ? 1 : payload.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("sendmsg", "fd " + std::to_string(sock));
}

UniqueFd recv_fd(int sock, std::string* payload) {
  // The size of the next message first (SOCK_SEQPACKET keeps boundaries), then the message.
  char probe;
  struct iovec piov{&probe, 1};
  struct msghdr peek{};
  peek.msg_iov = &piov;
  peek.msg_iovlen = 1;
  ssize_t size;
  do size = ::recvmsg(sock, &peek, MSG_PEEK | MSG_TRUNC);
  while (size < 0 && errno == EINTR);
  if (size < 0) throw_sys("recvmsg", "fd " + std::to_string(sock));
  std::string buf(static_cast<size_t>(size > 0 ? size : 1), '\0');
  struct msghdr msg{};
  struct iovec iov{buf.data(), buf.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("recvmsg", "fd " + std::to_string(sock));
  buf.resize(static_cast<size_t>(n));
  if (payload) *payload = std::move(buf);
  UniqueFd out;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      out.reset(fd);
    }
  }
  return out;
}

void SyncChannel::send(SyncType t, std::string_view payload, int pass_fd) {
  std::string buf(1, static_cast<char>(t));
  buf.append(payload);
  try {
    send_fd(fd_.get(), pass_fd, buf);
  } catch (const SysError& e) {
    // The peer is gone; the reason it sent before leaving says more than EPIPE.
    if (e.code() != EPIPE && e.code() != ECONNRESET) throw;
    char reply[65536];
    ssize_t n = ::recv(fd_.get(), reply, sizeof reply, MSG_DONTWAIT);
    if (n > 1 && reply[0] == static_cast<char>(SyncType::Err)) throw Error(std::string(reply + 1, static_cast<size_t>(n - 1)));
    throw;
  }
}

SyncMsg SyncChannel::recv() {
  std::string data;
  UniqueFd fd = recv_fd(fd_.get(), &data);
  if (data.empty()) throw Error("the container init process exited during set-up");
  return SyncMsg{static_cast<SyncType>(data[0]), data.substr(1), std::move(fd)};
}

SyncMsg SyncChannel::expect(SyncType t) {
  SyncMsg m = recv();
  if (m.type == SyncType::Err) throw Error(m.payload);
  if (m.type != t)
    throw Error(std::string("sync: expected message '") + static_cast<char>(t) + "', got '" +
                static_cast<char>(m.type) + "'");
  return m;
}

}  // namespace hoist::runtime
