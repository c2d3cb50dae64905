#include "runtime/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "common/error.h"
#include "common/unix_socket.h"

namespace hoist::runtime {

Pty open_pty() {
  int m = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) throw_sys("open", "/dev/ptmx");
  Pty p{UniqueFd(m), {}};
  if (::unlockpt(m) != 0) throw_sys("unlockpt", "/dev/ptmx");
  // TIOCGPTPEER opens the slave through the master: no path lookup that could be raced.
  int s = ::ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    char name[128];
    if (::ptsname_r(m, name, sizeof name) != 0) throw_sys("ptsname", "/dev/ptmx");
    s = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) throw_sys("open", name);
  }
  p.slave.reset(s);
  return p;
}

void set_winsize(int fd, unsigned rows, unsigned cols) {
  struct winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (::ioctl(fd, TIOCSWINSZ, &ws) != 0) throw_sys("set terminal size");
}

void attach_to_tty(int slave) {
  if (::setsid() < 0) throw_sys("setsid");
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) throw_sys("set controlling terminal");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave, fd) < 0) throw_sys("dup2", "terminal to fd " + std::to_string(fd));
}

UniqueFd connect_unix(const std::string& path) { return unix_connect(path); }

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

namespace {
const int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD, SIGCONT, SIGALRM};

sigset_t forwarded_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  return set;
}

struct RawMode {
  int fd = -1;
  struct termios saved{};
  explicit RawMode(int f) {
    if (!::isatty(f) || ::tcgetattr(f, &saved) != 0) return;
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(f, TCSANOW, &raw) == 0) fd = f;
  }
  ~RawMode() {
    if (fd >= 0) ::tcsetattr(fd, TCSANOW, &saved);
  }
};

bool copy_some(int from, int to) {
  char buf[16384];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && errno == EINTR;
  size_t off = 0;
  while (off < static_cast<size_t>(n)) {
    ssize_t w = ::write(to, buf + off, static_cast<size_t>(n) - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(w);
  }
  return true;
}
}  // namespace

void block_forwarded_signals() {
  sigset_t set = forwarded_set();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

void unblock_all_signals() {
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
}

int foreground_wait(pid_t pid, int master) {
  sigset_t set = forwarded_set();
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) throw_sys("signalfd");
  std::optional<RawMode> raw;
  if (master >= 0) {
    raw.emplace(0);
    struct winsize ws;
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  }
  int status = -1;
  bool exited = false, stdin_open = master >= 0, master_open = master >= 0;
  auto reap = [&] {
    int st;
    pid_t r;
    while ((r = ::waitpid(-1, &st, WNOHANG)) > 0)
      if (r == pid) {
        status = st;
        exited = true;
      }
  };
  reap();
  while (!exited || master_open) {
    struct pollfd fds[3] = {{sfd.get(), POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}, {master_open ? master : -1, POLLIN, 0}};
    // Once the process is gone, drain what the pty still holds, then stop.
    int r = ::poll(fds, 3, exited ? 100 : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_sys("poll");
    }
    if (r == 0 && exited) break;
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
          reap();
        } else if (sig == SIGWINCH && master >= 0) {
          struct winsize ws;
          if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
        } else if (!exited) {
          ::kill(pid, sig);
        }
      }
    }
    if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!copy_some(0, master)) stdin_open = false;
    }
    if (master_open && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!copy_some(master, 1)) master_open = false;
    }
  }
  if (!exited) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  return exit_code(status);
}

}  // namespace hoist::runtime
