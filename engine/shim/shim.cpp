#include "engine/shim/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strings.h"
#include "common/unix_socket.h"
#include "engine/containers/logs.h"
#include "engine/shim/protocol.h"

namespace hoist::engine {

namespace {

// ---------- small helpers (no JSON library: the shim must stay tiny)

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

UniqueFd listen_unix(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) throw_sys("socket", path);
  ::unlink(path.c_str());
  auto a = unix_address(path);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a.addr), a.len) < 0) throw_sys("bind", path);
  ::chmod(path.c_str(), 0600);
  if (::listen(s.get(), 64) < 0) throw_sys("listen", path);
  return s;
}

UniqueFd recv_fd(int sock) {
  char buf[256];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("recvmsg", "console socket");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return UniqueFd(fd);
    }
  throw Error("console socket: no file descriptor received");
}

void child_reset_signals() {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGPIPE, SIG_DFL);
}

// fork+exec with stdio from in/out/err (-1: /dev/null). Returns the pid.
pid_t spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw_sys("fork", argv[0]);
  if (pid == 0) {
    child_reset_signals();
    int null = ::open("/dev/null", O_RDWR);
    int fds[3] = {in, out, err};
    for (int i = 0; i < 3; ++i) {
      int src = fds[i] >= 0 ? fds[i] : null;
      if (src == i) fcntl(src, F_SETFD, 0);
      else ::dup2(src, i);
    }
    ::execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

int status_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 255; }

// The last error the runtime logged (its --log-format json file), or a fallback.
std::string runtime_error(const std::string& log_path, const std::string& fallback) {
  std::string text;
  try {
    text = read_file(log_path);
  } catch (...) {
    return fallback;
  }
  std::string last;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (line.find("\"error\"") != std::string::npos) last = line;
    pos = nl + 1;
  }
  if (last.empty()) return fallback;
  // Pull "msg":"..." out without a JSON parser.
  auto k = last.find("\"msg\":\"");
  if (k == std::string::npos) return last;
  std::string msg;
  for (std::size_t i = k + 7; i < last.size() && last[i] != '"'; ++i) {
    if (last[i] == '\\' && i + 1 < last.size()) {
      ++i;
      msg += last[i] == 'n' ? '\n' : last[i];
    } else {
      msg += last[i];
    }
  }
  return msg;
}

// The container's OOM-kill counter: memory.events (cgroup v2) or memory.oom_control (v1) of the
// init's memory cgroup, as seen from the host. -1 when unknown.
std::string oom_counter_file(pid_t pid) {
  std::string text;
  try {
    text = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  } catch (...) {
    return "";
  }
  std::string v2;
  for (std::size_t pos = 0; pos < text.size();) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (ctrls.empty()) v2 = path;
    for (std::size_t c = 0; c <= ctrls.size();) {
      auto comma = ctrls.find(',', c);
      if (comma == std::string::npos) comma = ctrls.size();
      if (ctrls.substr(c, comma - c) == "memory") return "/sys/fs/cgroup/memory" + path + "/memory.oom_control";
      c = comma + 1;
    }
  }
  if (!v2.empty() && path_exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup" + v2 + "/memory.events";
  return "";
}

long long oom_kills(const std::string& file) {
  if (file.empty()) return -1;
  std::string text;
  try {
    text = read_file(file);
  } catch (...) {
    return -1;
  }
  auto k = text.find("oom_kill ");
  if (k == std::string::npos) return -1;
  return std::atoll(text.c_str() + k + 9);
}

struct Client {
  UniqueFd fd;
  std::string in;   // request line being read
  std::string out;  // pending output
  enum { Request, Stream, Wait, Closing } mode = Request;
  bool want_in = false, want_out = false, want_err = false, close_stdin = false;
  bool mux = false;        // output in frames
  bool scan = false;       // input scanned for detach keys
  DetachScanner detach;
  bool eof = false;
};

class Shim {
 public:
  explicit Shim(const ShimOptions& o) : o_(o) {}
  int run();

 private:
  // False when the manager is gone (the pipe's read end closed): nobody knows of this start.
  bool report_ready(const std::string& msg) {
    if (o_.ready_fd < 0) return true;
    bool ok = true;
    try {
      write_all(o_.ready_fd, msg, "ready fd");
    } catch (...) {
      ok = false;
    }
    ::close(o_.ready_fd);
    const_cast<ShimOptions&>(o_).ready_fd = -1;
    return ok;
  }
  void start_container();
  void loop();
  void on_output(int stream, const char* p, std::size_t n);
  void handle_request(Client& c);
  void client_read(Client& c);
  // Input of a stream client: to the process's stdin (when it has one), up to the detach keys.
  void client_input(Client& c, std::string_view in);
  void flush_client(Client& c);
  void write_stdin();
  void close_stdin() {
    if (stdin_w_) stdin_w_.reset();
    stdin_buf_.clear();
  }
  void reap();
  void accept_clients();
  void finish();
  // `runtime delete --force` of the container (not for an exec: the container is not ours).
  void delete_container() {
    if (!o_.exec_process.empty()) return;
    int st;
    pid_t del = spawn({o_.runtime, "--root", o_.runtime_root, "--log", o_.state_dir + "/runtime.log", "--log-format",
                       "json", "delete", "--force", o_.id}, -1, -1, -1);
    while (::waitpid(del, &st, 0) < 0 && errno == EINTR) {}
  }
  std::string status_json() const {
    return exited_ ? exit_status_json({exit_code_, exited_at_, oom_})
                   : "{\"running\":true,\"pid\":" + std::to_string(init_pid_) + "}";
  }

  const ShimOptions& o_;
  UniqueFd listen_, sigfd_;
  UniqueFd out_r_, err_r_, stdin_w_, pty_;
  // Our own handle on the pty's slave side: without it the pty hangs up when the container's last
  // process exits, and what it printed but we had not read yet (held for an attach) is lost.
  UniqueFd pty_slave_;
  long long pty_quiet_since_ = 0;  // after the exit: when the pty last gave data
  std::string stdin_buf_;
  bool pending_close_ = false;
  pid_t init_pid_ = 0;
  bool exited_ = false;
  bool oom_ = false;
  std::string oom_file_;
  long long oom_base_ = -1;
  int exit_code_ = 0;
  std::string exited_at_;
  long long drain_deadline_ = 0;
  long long hold_until_ = 0;  // output is left in the pipes until then, or until a client attaches
  bool finishing_ = false;    // in finish(): "wait" is answered at once
  bool attached_ = false;
  std::unique_ptr<LogWriter> log_;
  std::vector<std::unique_ptr<Client>> clients_;
};

void Shim::start_container() {
  const std::string& sd = o_.state_dir;
  std::string pid_file = sd + "/init.pid", rt_log = sd + "/runtime.log", console = sd + "/console.sock";
  bool exec = !o_.exec_process.empty();
  std::vector<std::string> argv = {o_.runtime, "--root", o_.runtime_root, "--log", rt_log, "--log-format", "json"};
  // One runtime process starts the container (`run --detach` is create and start in one: an exec
  // and a state reload fewer than `create` then `start`).
  if (exec) argv.insert(argv.end(), {"exec", "--detach", "--process", o_.exec_process, "--pid-file", pid_file});
  else argv.insert(argv.end(), {"run", "--detach", "--bundle", o_.bundle, "--pid-file", pid_file});
  UniqueFd console_l;
  int in_r = -1, out_w = -1, err_w = -1;
  UniqueFd in_r_own, out_w_own, err_w_own;
  if (o_.tty) {
    console_l = listen_unix(console);
    argv.push_back("--console-socket");
    argv.push_back(console);
  } else {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe");
    out_r_.reset(p[0]);
    out_w_own.reset(p[1]);
    if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe");
    err_r_.reset(p[0]);
    err_w_own.reset(p[1]);
    if (o_.stdin_open) {
      if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe");
      in_r_own.reset(p[0]);
      stdin_w_.reset(p[1]);
    }
    in_r = in_r_own.get();
    out_w = out_w_own.get();
    err_w = err_w_own.get();
  }
  argv.push_back(o_.id);
  pid_t create = spawn(argv, in_r, out_w, err_w);
  in_r_own.reset();
  out_w_own.reset();
  err_w_own.reset();
  int st = 0;
  bool done = false;
  if (o_.tty) {
    // The runtime connects to the console socket and sends the pty master, then exits.
    long long deadline = monotonic_ms() + 60000;
    while (!pty_ && monotonic_ms() < deadline) {
      pollfd p{console_l.get(), POLLIN, 0};
      ::poll(&p, 1, 50);
      UniqueFd c(::accept4(console_l.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c) {
        pty_ = recv_fd(c.get());
        pty_slave_.reset(::ioctl(pty_.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
        break;
      }
      if (::waitpid(create, &st, WNOHANG) == create) {
        done = true;
        break;
      }
    }
    console_l.reset();
    ::unlink(console.c_str());
  }
  if (!done) {
    while (::waitpid(create, &st, 0) < 0 && errno == EINTR) {}
  }
  const char* what = exec ? "exec" : "run";
  if (status_code(st) != 0)
    throw Error(runtime_error(rt_log, std::string("runtime ") + what + " exited with " + std::to_string(status_code(st))));
  if (o_.tty && !pty_) throw Error(std::string("runtime ") + what + " did not send the pty master");
  init_pid_ = static_cast<pid_t>(parse_int(trim(read_file(pid_file)), "init pid"));
}

void Shim::on_output(int stream, const char* p, std::size_t n) {
  if (log_) log_->write(stream, std::string_view(p, n));
  for (auto& c : clients_) {
    if (c->mode != Client::Stream) continue;
    if (stream == 2 ? !c->want_err : !c->want_out) continue;
    if (c->out.size() > (4u << 20)) continue;  // a client that does not read loses output
    if (!c->mux) {
      c->out.append(p, n);
    } else {
      unsigned char h[8] = {static_cast<unsigned char>(stream), 0, 0, 0,
                            static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                            static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
      c->out.append(reinterpret_cast<char*>(h), 8);
      c->out.append(p, n);
    }
    flush_client(*c);
  }
}

void Shim::flush_client(Client& c) {
  while (!c.out.empty() && c.fd) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      c.fd.reset();
      c.out.clear();
      return;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
}

void Shim::write_stdin() {
  int fd = o_.tty ? pty_.get() : stdin_w_.get();
  while (!stdin_buf_.empty() && fd >= 0) {
    ssize_t n = ::write(fd, stdin_buf_.data(), stdin_buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {  // the container closed its stdin
      stdin_buf_.clear();
      if (!o_.tty) stdin_w_.reset();
      return;
    }
    stdin_buf_.erase(0, static_cast<std::size_t>(n));
  }
}

void Shim::handle_request(Client& c) {
  auto nl = c.in.find('\n');
  std::string line = c.in.substr(0, nl);
  std::string rest = c.in.substr(nl + 1);
  c.in.clear();
  std::vector<std::string> w;
  for (std::size_t pos = 0; pos <= line.size();) {
    auto sp = line.find(' ', pos);
    if (sp == std::string::npos) sp = line.size();
    if (sp > pos) w.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  std::string cmd = w.empty() ? "" : w[0];
  c.mode = Client::Closing;
  if (cmd == "attach") {
    c.mux = !o_.tty;
    std::string keys;
    for (std::size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "stdin") c.want_in = true;
      else if (w[i] == "stdout") c.want_out = true;
      else if (w[i] == "stderr") c.want_err = true;
      else if (w[i] == "close-stdin") c.close_stdin = true;
      else if (w[i] == "raw") c.mux = false;
      else if (w[i] == "mux") c.mux = true;
      else if (w[i].rfind("detach=", 0) == 0)
        keys = decode_detach_keys(std::string_view(w[i]).substr(7));
    }
    // As Docker: detach keys work on a terminal the client writes to.
    c.scan = !keys.empty() && o_.tty && o_.stdin_open && c.want_in;
    c.detach = DetachScanner(std::move(keys));
    c.mode = Client::Stream;
    attached_ = true;
    c.out += "ok\n";
    flush_client(c);
    if (!rest.empty()) client_input(c, rest);
    return;
  } else if (cmd == "resize" && w.size() == 3) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(std::atoi(w[1].c_str()));
    ws.ws_col = static_cast<unsigned short>(std::atoi(w[2].c_str()));
    if (!pty_) c.out += "error the container has no terminal\n";
    else if (::ioctl(pty_.get(), TIOCSWINSZ, &ws) < 0) c.out += "error " + sys_message("resize", "pty", errno) + "\n";
    else c.out += "ok\n";
  } else if (cmd == "close-stdin") {
    if (!o_.tty) close_stdin();
    else {
      // EOF on a terminal: ^D at the start of a line.
      char eot = 4;
      stdin_buf_ += eot;
    }
    c.out += "ok\n";
  } else if (cmd == "status") {
    c.out += status_json() + "\n";
  } else if (cmd == "wait") {
    // Answered once finish() has run: an exited container whose output is still held for an
    // attach (or still draining) has not finished, and whoever waits would remove it too early.
    if (finishing_) c.out += status_json() + "\n";
    else c.mode = Client::Wait;
  } else {
    c.out += "error unknown request\n";
  }
  flush_client(c);
}

void Shim::client_read(Client& c) {
  char buf[16384];
  ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    c.eof = true;
    if (c.mode == Client::Stream && c.want_in && o_.stdin_open) {
      if (!c.close_stdin || o_.tty) {
        // As Docker: the end of a client's input ends its attach, unless it closes the stdin of a
        // process without a terminal (StdinOnce); the process runs on either way.
        flush_client(c);
        if (c.fd) ::shutdown(c.fd.get(), SHUT_RDWR);
        c.fd.reset();
        return;
      }
      if (stdin_buf_.empty()) close_stdin();
      else pending_close_ = true;
    }
    if (c.mode != Client::Stream) c.fd.reset();  // a stream client may half-close and still read
    return;
  }
  if (c.mode == Client::Request) {
    c.in.append(buf, static_cast<std::size_t>(n));
    if (c.in.find('\n') != std::string::npos) handle_request(c);
    else if (c.in.size() > 4096) c.fd.reset();
  } else if (c.mode == Client::Stream) {
    client_input(c, std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

void Shim::client_input(Client& c, std::string_view in) {
  if (!c.want_in || !o_.stdin_open) return;  // nowhere to go (as Docker, without OpenStdin)
  if (!c.scan) {
    stdin_buf_.append(in);
    return;
  }
  if (!c.detach.feed(in, stdin_buf_)) return;
  // Detached: the connection ends here; the container's stdin stays as it is.
  c.out.clear();
  ::shutdown(c.fd.get(), SHUT_RDWR);
  c.fd.reset();
}

// Takes every connection waiting on the socket as a client (its request line comes later).
void Shim::accept_clients() {
  for (;;) {
    int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    auto c = std::make_unique<Client>();
    c->fd.reset(fd);
    clients_.push_back(std::move(c));
  }
}

void Shim::reap() {
  signalfd_siginfo si;
  while (::read(sigfd_.get(), &si, sizeof si) > 0) {}
  int st;
  pid_t p;
  while ((p = ::waitpid(-1, &st, WNOHANG)) > 0) {
    if (p == init_pid_ && !exited_) {
      exited_ = true;
      exit_code_ = status_code(st);
      exited_at_ = now_rfc3339();
      // Read before `runtime delete` removes the cgroup.
      long long n = oom_kills(oom_file_);
      oom_ = oom_base_ >= 0 && n > oom_base_;
      drain_deadline_ = monotonic_ms() + 2000;
    }
  }
}

void Shim::loop() {
  for (;;) {
    if (pending_close_ && stdin_buf_.empty()) {
      close_stdin();
      pending_close_ = false;
    }
    bool holding = hold_until_ && !attached_ && monotonic_ms() < hold_until_;
    if (hold_until_ && !holding) {
      if (!attached_) std::fprintf(stderr, "%s hoist-shim %s: no attach within the hold; output goes to the log only\n",
                                   now_rfc3339().c_str(), o_.id.c_str());
      hold_until_ = 0;  // the hold is over: from now on output is read as usual
      if (exited_) drain_deadline_ = monotonic_ms() + 2000;
    }
    bool have_out = out_r_ || err_r_ || pty_;
    if (exited_ && !holding && (!have_out || monotonic_ms() > drain_deadline_)) break;
    std::vector<pollfd> p;
    p.push_back({sigfd_.get(), POLLIN, 0});
    p.push_back({listen_.get(), POLLIN, 0});
    p.push_back({holding ? -1 : out_r_.get(), POLLIN, 0});
    p.push_back({holding ? -1 : err_r_.get(), POLLIN, 0});
    p.push_back({pty_.get(),
                 static_cast<short>((holding ? 0 : POLLIN) | (o_.tty && !stdin_buf_.empty() ? POLLOUT : 0)), 0});
    p.push_back({o_.tty ? -1 : stdin_w_.get(), static_cast<short>(!stdin_buf_.empty() ? POLLOUT : 0), 0});
    bool stdin_full = stdin_buf_.size() > (1u << 20);
    for (auto& c : clients_) {
      short ev = 0;
      if (!c->eof && (!stdin_full || c->mode != Client::Stream)) ev |= POLLIN;
      if (!c->out.empty()) ev |= POLLOUT;
      p.push_back({c->fd.get(), ev, 0});
    }
    // After the exit (and the hold): the pty is read until it has been quiet for a moment (the
    // tty layer hands data on asynchronously), then closed.
    bool pty_draining = exited_ && !holding && pty_ && pty_slave_;
    if (pty_draining) {
      if (!pty_quiet_since_) pty_quiet_since_ = monotonic_ms();
      if (monotonic_ms() - pty_quiet_since_ > 20) {
        pty_.reset();
        pty_slave_.reset();
        continue;
      }
    }
    int timeout = pty_draining ? 5 : exited_ || holding ? 50 : -1;
    if (::poll(p.data(), p.size(), timeout) < 0 && errno != EINTR) throw_sys("poll");
    if (p[0].revents) reap();
    if (p[1].revents & POLLIN) accept_clients();
    char buf[32768];
    auto pump = [&](UniqueFd& fd, short rev, int stream) {
      if (!rev) return;
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) on_output(stream, buf, static_cast<std::size_t>(n));
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) fd.reset();  // EOF, or EIO on a pty
    };
    pump(out_r_, p[2].revents, 1);
    pump(err_r_, p[3].revents, 2);
    if (p[4].revents & POLLOUT) write_stdin();
    if (pty_draining && (p[4].revents & POLLIN)) pty_quiet_since_ = monotonic_ms();
    pump(pty_, p[4].revents & ~POLLOUT, 1);
    if (p[5].revents & (POLLOUT | POLLERR)) write_stdin();
    // Only the clients polled this round (accept above may have added more).
    for (std::size_t i = 0; i + 6 < p.size(); ++i) {
      auto& c = *clients_[i];
      short rev = p[6 + i].revents;
      if (!c.fd) continue;
      if (rev & POLLOUT) flush_client(c);
      if (c.fd && (rev & (POLLIN | POLLHUP | POLLERR)) && !c.eof) client_read(c);
      if (c.fd && (rev & (POLLHUP | POLLERR)) && (c.eof || !(rev & POLLIN))) c.fd.reset();
      if (c.fd && c.mode == Client::Closing && c.out.empty()) c.fd.reset();
    }
    if (!stdin_buf_.empty()) write_stdin();
    std::erase_if(clients_, [](const std::unique_ptr<Client>& c) { return !c->fd; });
  }
}

void Shim::finish() {
  finishing_ = true;
  if (log_) log_->flush();
  std::string js = exit_status_json({exit_code_, exited_at_, oom_});
  try {
    std::string file = "{\"exit_code\":" + std::to_string(exit_code_) + ",\"exited_at\":\"" + exited_at_ +
                       "\",\"oom_killed\":" + (oom_ ? "true" : "false") + "}\n";
    write_file_atomic(o_.state_dir + "/" + std::string(kShimExitFile), file, 0644, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hoist-shim: %s\n", e.what());
  }
  delete_container();
  // No new connections; those already made (in the backlog, or with their request line not read
  // yet) still get their answer: a "wait" or "status" racing the exit is never left hanging.
  ::unlink((o_.state_dir + "/" + std::string(kShimSocket)).c_str());
  accept_clients();
  listen_.reset();
  long long req_deadline = monotonic_ms() + 200;
  for (;;) {
    std::vector<pollfd> p;
    std::vector<Client*> who;
    for (auto& c : clients_)
      if (c->fd && c->mode == Client::Request) {
        p.push_back({c->fd.get(), POLLIN, 0});
        who.push_back(c.get());
      }
    if (p.empty() || monotonic_ms() > req_deadline) break;
    if (::poll(p.data(), p.size(), 50) <= 0) continue;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (p[i].revents && who[i]->fd) client_read(*who[i]);
  }
  // Tell waiters, finish writing to attached clients (up to 1 s), and close.
  for (auto& c : clients_)
    if (c->mode == Client::Wait) c->out += js + "\n";
  long long deadline = monotonic_ms() + 1000;
  for (;;) {
    std::vector<pollfd> p;
    for (auto& c : clients_)
      if (c->fd && !c->out.empty()) p.push_back({c->fd.get(), POLLOUT, 0});
    if (p.empty() || monotonic_ms() > deadline) break;
    ::poll(p.data(), p.size(), 100);
    for (auto& c : clients_) flush_client(*c);
  }
  for (auto& c : clients_)
    if (c->fd) ::shutdown(c->fd.get(), SHUT_RDWR);
  clients_.clear();
}

int Shim::run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, SIG_IGN);  // stopped by the container's exit, not by signals
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd_) throw_sys("signalfd");
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (!o_.log_path.empty()) log_ = std::make_unique<LogWriter>(o_.log_path, o_.log_max_size, o_.log_max_files, o_.log_attrs, o_.log_compress,
                                                          o_.log_ring_bytes);
  try {
    // Known from the start (init pid 0 until there is one): an engine restarted while this start
    // is under way finds the shim, and its runtime in the same process group, to stop them.
    write_file_atomic(o_.state_dir + "/" + std::string(kShimPidFile), std::to_string(getpid()) + " 0\n", 0644, false);
    start_container();
    listen_ = listen_unix(o_.state_dir + "/" + std::string(kShimSocket));
  } catch (const std::exception& e) {
    report_ready(std::string("error ") + e.what() + "\n");
    return 1;
  }
  if (out_r_) set_nonblock(out_r_.get());
  if (err_r_) set_nonblock(err_r_.get());
  if (stdin_w_) set_nonblock(stdin_w_.get());
  if (pty_) set_nonblock(pty_.get());
  try {
    write_file_atomic(o_.state_dir + "/" + std::string(kShimPidFile), std::to_string(getpid()) + " " + std::to_string(init_pid_) + "\n", 0644, false);
  } catch (...) {
  }
  oom_file_ = oom_counter_file(init_pid_);
  oom_base_ = oom_kills(oom_file_);
  if (o_.attach_wait_ms > 0) hold_until_ = monotonic_ms() + o_.attach_wait_ms;
  if (!report_ready("ok " + std::to_string(init_pid_) + "\n")) {
    // hoistd died during the start: its record does not say running, so nothing would ever
    // stop this container. Undo the start.
    std::fprintf(stderr, "hoist-shim %s: the engine went away during the start; undoing it\n", o_.id.c_str());
    ::kill(init_pid_, SIGKILL);
    delete_container();
    ::unlink((o_.state_dir + "/" + std::string(kShimSocket)).c_str());
    return 1;
  }
  reap();  // an init that already exited
  loop();
  finish();
  return 0;
}

}  // namespace

int run_shim(const ShimOptions& o) {
  // Our own errors go to shim.log; stdio is /dev/null (the manager's pipes must not be held).
  int null = ::open("/dev/null", O_RDWR);
  int logfd = ::open((o.state_dir + "/shim.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(logfd >= 0 ? logfd : null, 2);
  if (null > 2) ::close(null);
  if (logfd > 2) ::close(logfd);
  if (!o.foreground) {
    // Double fork: the manager reaps the first process; the shim is nobody's child but init's
    // (or a subreaper's) and leads its own session, so it survives hoistd.
    pid_t p = ::fork();
    if (p < 0) return 1;
    if (p > 0) _exit(0);
    ::setsid();
    p = ::fork();
    if (p < 0) _exit(1);
    if (p > 0) _exit(0);
  }
  if (::chdir("/") < 0) {}
  try {
    Shim s(o);
    return s.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s hoist-shim %s: %s\n", now_rfc3339().c_str(), o.id.c_str(), e.what());
    if (o.ready_fd >= 0) {
      std::string m = std::string("error ") + e.what() + "\n";
      ssize_t w = ::write(o.ready_fd, m.data(), m.size());
      (void)w;
    }
    return 1;
  }
}

int shim_main(int argc, char** argv) {
  ShimOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "hoist-shim: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--id") o.id = val();
    else if (a == "--bundle") o.bundle = val();
    else if (a == "--runtime") o.runtime = val();
    else if (a == "--runtime-root") o.runtime_root = val();
    else if (a == "--state-dir") o.state_dir = val();
    else if (a == "--log-path") o.log_path = val();
    else if (a == "--log-max-size") o.log_max_size = std::atoll(val().c_str());
    else if (a == "--log-max-files") o.log_max_files = std::atoi(val().c_str());
    else if (a == "--log-attrs") o.log_attrs = val();
    else if (a == "--log-compress") o.log_compress = true;
    else if (a == "--log-buffer") o.log_ring_bytes = std::atoll(val().c_str());
    else if (a == "--ready-fd") o.ready_fd = std::atoi(val().c_str());
    else if (a == "--attach-wait") o.attach_wait_ms = std::atoi(val().c_str());
    else if (a == "--exec-process") o.exec_process = val();
    else if (a == "--tty") o.tty = true;
    else if (a == "--stdin") o.stdin_open = true;
    else if (a == "--foreground") o.foreground = true;
    else {
      std::fprintf(stderr, "hoist-shim: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (o.id.empty() || (o.bundle.empty() && o.exec_process.empty()) || o.runtime.empty() || o.runtime_root.empty() ||
      o.state_dir.empty() || (o.log_path.empty() && o.exec_process.empty())) {
    std::fprintf(stderr,
                 "usage: hoist-shim --id ID --bundle DIR --runtime PATH --runtime-root DIR --state-dir DIR "
                 "--log-path FILE [--exec-process FILE] [--tty] [--stdin] [--log-max-size N] [--log-max-files N] [--log-attrs JSON] [--log-compress] [--log-buffer BYTES] [--ready-fd N] [--attach-wait MS] [--foreground]\n");
    return 2;
  }
  // Nothing of the manager's but stdio and the ready fd.
  ::syscall(SYS_close_range, o.ready_fd >= 3 ? 3u : 3u, o.ready_fd >= 3 ? static_cast<unsigned>(o.ready_fd) - 1 : ~0u, 0);
  if (o.ready_fd >= 3) ::syscall(SYS_close_range, static_cast<unsigned>(o.ready_fd) + 1, ~0u, 0);
  // The runtime and the container must not inherit it (the manager reads it until EOF).
  if (o.ready_fd >= 0) ::fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC);
  return run_shim(o);
}

}  // namespace hoist::engine
