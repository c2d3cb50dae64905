#include "common/signals.h"

#include <signal.h>

#include <cctype>
#include <utility>

#include "common/error.h"
#include "common/strings.h"

namespace hoist {

int parse_signal(const std::string& in) {
  static const std::pair<const char*, int> kSigs[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"IOT", SIGIOT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
      {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
      {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"POLL", SIGPOLL}, {"PWR", SIGPWR},     {"SYS", SIGSYS}};
  std::string s = in;
  if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
    long long n = parse_int(s, "signal");
    if (n <= 0 || n > SIGRTMAX) throw InvalidArgument("invalid signal \"" + in + "\"");
    return static_cast<int>(n);
  }
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  for (auto& [name, num] : kSigs)
    if (s == name) return num;
  if (s.rfind("RTMIN", 0) == 0 || s.rfind("RTMAX", 0) == 0) {
    int n = s[3] == 'I' ? SIGRTMIN : SIGRTMAX;  // RTMIN+k, RTMAX-k
    std::string off = s.substr(5);
    if (off.size() > 1 && (off[0] == '+' || off[0] == '-'))
      n += static_cast<int>(parse_int(off.substr(1), "signal")) * (off[0] == '+' ? 1 : -1);
    else if (!off.empty())
      n = -1;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw InvalidArgument("invalid signal \"" + in + "\"");
}

}  // namespace hoist
