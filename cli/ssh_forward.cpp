#include "cli/ssh_forward.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "cli/client.h"
#include "cli/ssh_key_agent.h"
#include "common/error.h"
#include "common/session_frames.h"
#include "common/session_streams.h"
#include "common/strings.h"
#include "common/unix_socket.h"

namespace hoist::cli {

using session::FrameType;

std::vector<SshSpec> parse_ssh_specs(const std::vector<std::string>& values, const char* ssh_auth_sock) {
  std::vector<SshSpec> out;
  std::set<std::string> seen;
  for (const std::string& v : values) {
    auto eq = v.find('=');
    SshSpec s;
    s.id = v.substr(0, eq);
    std::vector<std::string> paths;
    if (eq != std::string::npos) paths = split(v.substr(eq + 1), ',');
    if (paths.empty() || (paths.size() == 1 && paths[0].empty()))
      paths = {ssh_auth_sock ? ssh_auth_sock : ""};
    if (paths[0].empty()) throw Error("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set");
    if (!seen.insert(s.id).second) throw Error("invalid duplicate id " + s.id);
    // As BuildKit's client: one agent's socket, or key files loaded into an agent of its own.
    std::vector<SshKey> keys;
    for (const std::string& path : paths) {
      if (!s.socket.empty()) throw Error("only single socket allowed");
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) throw Error("failed to stat " + path + ": " + std::strerror(errno));
      if (S_ISSOCK(st.st_mode)) {
        if (!keys.empty()) throw Error("invalid combination of keys and sockets");
        s.socket = path;
        continue;
      }
      keys.push_back(load_key_file(path));
    }
    if (s.socket.empty()) s.agent = std::make_shared<KeyAgent>(std::move(keys));
    out.push_back(s);
  }
  return out;
}

namespace {

// The agent's socket; none when it cannot be reached (the stream is closed at once).
UniqueFd connect_agent(const std::string& path) {
  try {
    return unix_connect(path);
  } catch (const std::exception&) {
    return UniqueFd();
  }
}

std::string random_id() {
  std::random_device rd;
  std::string id;
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) id += hex[rd() & 15];
  return id;
}

}  // namespace

SshForwarder::SshForwarder(Client& client, std::vector<SshSpec> specs) : specs_(std::move(specs)), id_(random_id()) {
  client.negotiate();
  if (!client.has_capability("session"))
    throw Error("hoist build --ssh: the daemon forwards no SSH agent (it is not a hoistd with build sessions; "
                "the classic builder has none)");
  std::string path = "/hoist/session?id=" + id_;
  for (const SshSpec& s : specs_) path += "&ssh=" + url_escape(s.id);
  std::string already;
  conn_ = client.hijack(path, "", already);
  thread_ = std::thread([this, already] { relay(already); });
}

SshForwarder::~SshForwarder() {
  ::shutdown(conn_.get(), SHUT_RDWR);  // the relay sees the end; hoistd sees the hang-up
  if (thread_.joinable()) thread_.join();
}

void SshForwarder::relay(std::string already_read) {
  std::vector<std::thread> agents;
  relay_streams(std::move(already_read), agents);
  // The streams are closed: each in-process agent has seen its end.
  for (std::thread& t : agents) t.join();
}

void SshForwarder::relay_streams(std::string already_read, std::vector<std::thread>& agents) {
  std::map<std::string, const SshSpec*> spec_of;
  for (const SshSpec& s : specs_) spec_of[s.id] = &s;
  // A connection to the id's agent: its socket's, or one end of a socket pair whose other end
  // the in-process agent serves on a thread of its own.
  auto open_agent = [&](const std::string& id) {
    auto it = spec_of.find(id);
    if (it == spec_of.end()) return UniqueFd();
    if (!it->second->agent) return connect_agent(it->second->socket);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return UniqueFd();
    UniqueFd ours(sv[0]), theirs(sv[1]);
    std::shared_ptr<const KeyAgent> agent = it->second->agent;
    agents.emplace_back([agent, fd = std::make_shared<UniqueFd>(std::move(theirs))] { agent->serve(fd->get()); });
    return ours;
  };
  session::FrameDecoder frames;
  frames.feed(already_read);
  session::Streams streams(conn_.get());
  // The daemon's frames: an Open connects to the id's agent (or is closed at once).
  auto handle = [&]() {
    while (auto f = frames.next()) {
      if (f->type != FrameType::Open) {
        if (!streams.apply(*f)) return false;
        continue;
      }
      UniqueFd c = open_agent(f->payload);
      if (!c) {
        if (!streams.send(FrameType::Close, f->stream)) return false;
      } else {
        streams.add(f->stream, std::move(c));
      }
    }
    return true;
  };
  try {
    bool ok = handle();
    char buf[16384];
    while (ok) {
      std::vector<pollfd> fds{{conn_.get(), POLLIN, 0}};
      std::vector<std::uint32_t> polled;
      streams.poll_set(fds, polled);
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents) {
        ssize_t n = ::read(conn_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the daemon ended the session, or we hung up
        frames.feed(std::string_view(buf, static_cast<std::size_t>(n)));
        ok = handle();
      }
      for (std::size_t i = 0; i < polled.size() && ok; ++i)
        if (fds[1 + i].revents) ok = streams.pump(polled[i]);
    }
  } catch (const std::exception&) {
    // A broken frame from the daemon: the session ends; the build's answer says what happened.
  }
}

}  // namespace hoist::cli
