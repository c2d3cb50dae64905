// hoist-init: the container's PID 1 for `--init` (bound at /sbin/docker-init, run as
// `/sbin/docker-init -- CMD ARGS...`). It starts CMD as its child, forwards the signals it gets
// to it, reaps every orphan that the kernel hands to PID 1, and exits with CMD's status
// (128+N when CMD was killed by signal N). Static and tiny; no dependencies but libc.
#include <errno.h>
#include <initializer_list>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace {

int usage() {
  fprintf(stderr, "usage: hoist-init [--] COMMAND [ARGS...]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) ++first;
  if (first >= argc) return usage();

  // Every signal is taken synchronously (sigwaitinfo) and forwarded, except those the kernel
  // raises for our own faults.
  sigset_t all, old;
  sigfillset(&all);
  for (int s : {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU}) sigdelset(&all, s);
  sigprocmask(SIG_SETMASK, &all, &old);
  // A terminal we hand to the child's process group must not stop us.
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);

  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "hoist-init: fork: %s\n", strerror(errno));
    return 1;
  }
  if (child == 0) {
    // Its own process group, in the foreground of the terminal (if any), so that ^C reaches it
    // once (from the terminal) rather than twice (terminal + forwarding).
    setpgid(0, 0);
    if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpgrp());
    signal(SIGTTIN, SIG_DFL);
    signal(SIGTTOU, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    execvp(argv[first], argv + first);
    int e = errno;
    fprintf(stderr, "hoist-init: exec %s: %s\n", argv[first], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }

  int code = 0;
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (sig != SIGCHLD) {
      // Forward (a terminal's ^C reaches the child's foreground group directly, not us).
      if (kill(child, sig) < 0 && errno != ESRCH) fprintf(stderr, "hoist-init: kill %d: %s\n", sig, strerror(errno));
      continue;
    }
    // Reap everything; note the child's end.
    bool child_done = false;
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == child) {
        child_done = true;
        code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
      }
    }
    if (child_done) {
      // Orphans still running die with us (the PID namespace ends); reap what has exited.
      while (waitpid(-1, nullptr, WNOHANG) > 0) {}
      return code;
    }
  }
}
