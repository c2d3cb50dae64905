#include "engine/build_ssh.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "builder/go_text.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/session_frames.h"
#include "common/session_streams.h"
#include "common/unix_socket.h"

namespace hoist::engine {

using session::FrameType;

SshSession::SshSession(std::string id, std::set<std::string> ssh_ids) : id_(std::move(id)), ssh_ids_(std::move(ssh_ids)) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) throw_sys("pipe2", "ssh session");
  wake_r_.reset(p[0]);
  wake_w_.reset(p[1]);
}

void SshSession::wake() {
  char c = 1;
  (void)!::write(wake_w_.get(), &c, 1);  // a full pipe wakes the relay as well
}

void SshSession::end() {
  std::lock_guard lk(mu_);
  ended_ = true;
  wake();
}

std::unique_ptr<SshSession::Socket> SshSession::listen(const std::string& ssh_id, const std::string& base, uid_t uid,
                                                       gid_t gid, mode_t mode) {
  mkdir_all(base, 0700);
  std::string dir = base + "/XXXXXX";
  if (!::mkdtemp(dir.data())) throw_sys("mkdtemp", base);
  std::string path = dir + "/agent.sock";
  try {
    UnixAddress a = unix_address(path);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw_sys("socket", path);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len) != 0) throw_sys("bind", path);
    if (::chown(path.c_str(), uid, gid) != 0) throw_sys("chown", path);
    if (::chmod(path.c_str(), mode & 07777) != 0) throw_sys("chmod", path);
    if (::listen(fd.get(), 16) != 0) throw_sys("listen", path);
    int raw = fd.get();
    {
      std::lock_guard lk(mu_);
      if (over_ || ended_) throw Error("ssh forwarding: the client's session ended");
      listeners_[raw] = Listener{std::move(fd), ssh_id};
      wake();
    }
    return std::unique_ptr<Socket>(new Socket(shared_from_this(), raw, dir, path));
  } catch (...) {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
    throw;
  }
}

void SshSession::drop_listener(int fd) {
  std::lock_guard lk(mu_);
  auto it = listeners_.find(fd);
  if (it == listeners_.end()) return;
  // The relay may be polling it: it closes it between two polls (or here, once it is over).
  if (!over_) to_close_.push_back(std::move(it->second.fd));
  listeners_.erase(it);
  wake();
}

SshSession::Socket::~Socket() {
  session_->drop_listener(fd_);
  ::unlink(path_.c_str());
  ::rmdir(dir_.c_str());
}

void SshSession::serve(UniqueFd conn, std::string already_read) {
  session::FrameDecoder frames;
  frames.feed(already_read);
  session::Streams streams(conn.get());
  std::uint32_t next_stream = 1;
  // The client's frames: false when the session must end.
  auto handle = [&]() {
    while (auto f = frames.next()) {
      if (f->type == FrameType::Open) {
        log::warn("ssh session " + id_ + ": the client opened a stream (only hoistd does)");
        return false;
      }
      if (!streams.apply(*f)) return false;
    }
    return true;
  };
  try {
    bool ok = handle();
    char buf[16384];
    while (ok) {
      std::vector<pollfd> fds;
      std::vector<std::pair<int, std::string>> listening;
      {
        std::lock_guard lk(mu_);
        if (ended_) break;
        to_close_.clear();
        for (auto& [fd, l] : listeners_) listening.emplace_back(fd, l.ssh_id);
      }
      fds.push_back({conn.get(), POLLIN, 0});
      fds.push_back({wake_r_.get(), POLLIN, 0});
      for (auto& l : listening) fds.push_back({l.first, POLLIN, 0});
      std::vector<std::uint32_t> polled;
      streams.poll_set(fds, polled);
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw_sys("poll", "ssh session");
      }
      if (fds[1].revents) {
        while (::read(wake_r_.get(), buf, sizeof buf) > 0) {
        }
      }
      if (fds[0].revents) {
        ssize_t n = ::read(conn.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the client hung up
        frames.feed(std::string_view(buf, static_cast<std::size_t>(n)));
        ok = handle();
      }
      for (std::size_t i = 0; i < listening.size() && ok; ++i) {
        if (!fds[2 + i].revents) continue;
        int c = ::accept4(listening[i].first, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;  // EAGAIN: another poll
        std::uint32_t sid = next_stream++;
        streams.add(sid, UniqueFd(c));
        ok = streams.send(FrameType::Open, sid, listening[i].second);
      }
      for (std::size_t i = 0; i < polled.size() && ok; ++i)
        if (fds[2 + listening.size() + i].revents) ok = streams.pump(polled[i]);
    }
  } catch (const std::exception& e) {
    log::warn("ssh session " + id_ + ": " + e.what());
  }
  std::lock_guard lk(mu_);
  over_ = true;
  to_close_.clear();
  for (auto& [fd, l] : listeners_) l.fd.reset();  // no agent any more: connections are refused
}

void require_ssh_forward(const SshSession* session, const std::string& ssh_id) {
  if (session && session->forwards(ssh_id)) return;
  if (!session || !session->forwards_any())
    throw Error("no SSH key " + builder::go::quote(ssh_id) + " forwarded from the client");
  throw Error("unset ssh forward key " + ssh_id);  // BuildKit's agent provider's words
}

std::shared_ptr<SshSession> SshSessions::open(const std::string& id, std::set<std::string> ssh_ids) {
  std::lock_guard lk(mu_);
  if (sessions_.count(id)) throw Conflict("session " + id + " is already open");
  auto s = std::make_shared<SshSession>(id, std::move(ssh_ids));
  sessions_[id] = s;
  return s;
}

void SshSessions::close(const std::string& id) {
  std::lock_guard lk(mu_);
  sessions_.erase(id);
}

std::shared_ptr<SshSession> SshSessions::find(const std::string& id) {
  std::lock_guard lk(mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

}  // namespace hoist::engine
