#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/log.h"
#include "runtime/terminal.h"

namespace hoist::runtime {
namespace {


void run_one(const oci::Hook& h, const char* kind, const std::string& state) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw_sys("pipe");
  UniqueFd rd(in[0]), wr(in[1]);
  std::vector<char*> argv, envp;
  for (auto& a : h.args) argv.push_back(const_cast<char*>(a.c_str()));
  if (argv.empty()) argv.push_back(const_cast<char*>(h.path.c_str()));
  argv.push_back(nullptr);
  for (auto& e : h.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw_sys("fork", "hook");
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    unblock_all_signals();
    ::execve(h.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  rd.reset();
  // The hook may not read its stdin at all; a closed pipe is not our failure. SIGPIPE is ignored
  // only for these writes: an ignored signal would outlive execve into the container's process.
  struct sigaction ign{}, old{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  size_t off = 0;
  while (off < state.size()) {
    ssize_t n = ::write(wr.get(), state.data() + off, state.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  wr.reset();
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  UniqueFd pfd(pidfd);
  int status = 0;
  if (h.timeout && pidfd >= 0) {
    long long deadline = monotonic_ms() + *h.timeout * 1000L;
    struct pollfd p{pidfd, POLLIN, 0};
    for (;;) {
      long long left = deadline - monotonic_ms();
      int r = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
      if (r > 0) break;
      if (r < 0 && errno == EINTR) continue;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw Error(std::string(kind) + " hook " + h.path + ": timed out after " + std::to_string(*h.timeout) + "s");
    }
  }
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_sys("wait for hook", h.path);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    throw Error(std::string(kind) + " hook " + h.path + ": could not be executed (exit status 127)");
  if (WIFEXITED(status))
    throw Error(std::string(kind) + " hook " + h.path + ": exit status " + std::to_string(WEXITSTATUS(status)));
  throw Error(std::string(kind) + " hook " + h.path + ": killed by signal " + std::to_string(WTERMSIG(status)));
}

}  // namespace

void run_hooks(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state_json) {
  for (auto& h : hooks) run_one(h, kind, state_json);
}

void run_hooks_warn(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state_json) {
  for (auto& h : hooks) {
    try {
      run_one(h, kind, state_json);
    } catch (const Error& e) {
      log::warn(e.what());
    }
  }
}

}  // namespace hoist::runtime
