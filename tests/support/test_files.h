// What tests that write project files and wait for a background command share: a file written
// (its directories made) or read whole, a condition polled until it holds, and a command run in
// the background with its output in files, stopped when the test ends (also when it failed).
// Header-only: unit tests without the process harness use it too.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>

namespace hoist::test {

// `text` into `path` (replacing it), its parent directories made first.
inline void write_file(const std::string& path, const std::string& text) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// The whole of `path` ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Polls `ok` every 200 ms for up to `seconds`; whether it held.
inline bool until(const std::function<bool()>& ok, int seconds) {
  for (int i = 0; i < seconds * 5; ++i) {
    if (ok()) return true;
    ::usleep(200000);
  }
  return ok();
}

// `command` (a shell command line) run in the background, stdin from /dev/null, stdout and stderr
// into `out` and `err`. The destructor sends `stop_signal`, waits up to 5 s, then SIGKILLs it.
class Background {
 public:
  Background(const std::string& command, const std::string& out, const std::string& err, int stop_signal = SIGINT)
      : stop_signal_(stop_signal) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string line = "exec " + command + " > '" + out + "' 2> '" + err + "' < /dev/null";
      ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ <= 0) return;
    if (running()) {
      ::kill(pid_, stop_signal_);
      for (int i = 0; i < 50 && running(); ++i) ::usleep(100000);
      if (running()) ::kill(pid_, SIGKILL);
    }
    ::waitpid(pid_, nullptr, 0);
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  int pid() const { return pid_; }
  // Whether it has not exited (it is reaped once it has).
  bool running() {
    if (exited_) return false;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }

 private:
  int pid_ = -1;
  int stop_signal_;
  bool exited_ = false;
};

}  // namespace hoist::test
