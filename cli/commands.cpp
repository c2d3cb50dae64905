#include "cli/commands.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/format.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

using json = nlohmann::json;

std::string go_print_value(const json& j, const char* key);

namespace {

// ---- context --------------------------------------------------------------------------------

struct Ctx {
  std::string host;
  std::string config_dir;
  std::unique_ptr<Client> client;
  Client& c() {
    if (!client) {
      client = std::make_unique<Client>(socket_path_from_host(host));
      client->negotiate();
    }
    return *client;
  }
};

// A command's failure with a specific exit status (message already printed when empty).
struct ExitError {
  int code;
  std::string msg;
};

void out(std::string_view s) {
  fwrite(s.data(), 1, s.size(), stdout);
}
void errp(std::string_view s) {
  fflush(stdout);
  fwrite(s.data(), 1, s.size(), stderr);
}

std::string q(std::string_view s) { return url_escape(s); }

bool is_tty(int fd) { return isatty(fd) == 1; }

int term_width() {
  winsize ws{};
  if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

std::string daemon_err(const std::exception& e) {
  if (dynamic_cast<const ApiError*>(&e)) return std::string("Error response from daemon: ") + e.what();
  return e.what();
}

std::string filters_json(const std::vector<std::string>& fl) {
  json f = json::object();
  for (auto& x : fl) {
    auto eq = x.find('=');
    if (eq == std::string::npos) throw FlagError("bad format of filter (expected name=value)");
    f[x.substr(0, eq)][x.substr(eq + 1)] = true;
  }
  return f.dump();
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// ---- base64 and auth -----------------------------------------------------------------------

std::string b64(std::string_view in, bool url = false) {
  static const char* std_t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static const char* url_t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* t = url ? url_t : std_t;
  std::string o;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    o += t[v >> 18];
    o += t[(v >> 12) & 63];
    o += t[(v >> 6) & 63];
    o += t[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    o += t[v >> 18];
    o += t[(v >> 12) & 63];
    o += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    o += t[v >> 18];
    o += t[(v >> 12) & 63];
    o += t[(v >> 6) & 63];
    o += '=';
  }
  return o;
}

std::string unb64(std::string_view in) {
  std::string o;
  unsigned v = 0;
  int bits = 0;
  for (char ch : in) {
    int d;
    if (ch >= 'A' && ch <= 'Z') d = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') d = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') d = ch - '0' + 52;
    else if (ch == '+' || ch == '-') d = 62;
    else if (ch == '/' || ch == '_') d = 63;
    else continue;
    v = v << 6 | (unsigned)d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o += (char)((v >> bits) & 0xFF);
    }
  }
  return o;
}

const char* kDefaultRegistry = "https://index.docker.io/v1/";

std::string config_file(Ctx& ctx) { return ctx.config_dir + "/config.json"; }

json load_config(Ctx& ctx) {
  try {
    return json::parse(read_file(config_file(ctx)));
  } catch (...) {
    return json::object();
  }
}

// The registry host of an image reference ("docker.io" style names → the default registry).
std::string registry_of(const std::string& ref) {
  auto slash = ref.find('/');
  if (slash == std::string::npos) return kDefaultRegistry;
  std::string first = ref.substr(0, slash);
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost")
    return kDefaultRegistry;
  if (first == "docker.io" || first == "index.docker.io") return kDefaultRegistry;
  return first;
}

std::map<std::string, std::string> auth_header(Ctx& ctx, const std::string& ref) {
  auto cfg = load_config(ctx);
  auto reg = registry_of(ref);
  json a = {{"serveraddress", reg}};
  if (cfg.contains("auths") && cfg["auths"].contains(reg) && cfg["auths"][reg].contains("auth")) {
    auto up = unb64(cfg["auths"][reg]["auth"].get<std::string>());
    auto c = up.find(':');
    if (c != std::string::npos) {
      a["username"] = up.substr(0, c);
      a["password"] = up.substr(c + 1);
    }
  }
  return {{"X-Registry-Auth", b64(a.dump(), true)}};
}

// ---- terminal -------------------------------------------------------------------------------

struct RawTerminal {
  termios saved{};
  bool active = false;
  static RawTerminal* current;
  void enable() {
    if (!is_tty(0) || tcgetattr(0, &saved) != 0) return;
    termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
    active = true;
    current = this;
  }
  void restore() {
    if (active) tcsetattr(0, TCSANOW, &saved);
    active = false;
  }
  ~RawTerminal() { restore(); }
};
RawTerminal* RawTerminal::current = nullptr;

int sigwinch_pipe[2] = {-1, -1};

void on_signal_restore(int sig) {
  if (RawTerminal::current && RawTerminal::current->active) tcsetattr(0, TCSANOW, &RawTerminal::current->saved);
  signal(sig, SIG_DFL);
  raise(sig);
}

// SIGWINCH and, with a signal proxy, SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2: the number goes
// down the pipe and the pump loop acts on it (resize, or kill the container with it).
void on_sigwinch(int sig) {
  if (sigwinch_pipe[1] >= 0) {
    char c = (char)sig;
    (void)!write(sigwinch_pipe[1], &c, 1);
  }
}

void resize(Ctx& ctx, const std::string& path_prefix) {
  winsize ws{};
  if (ioctl(0, TIOCGWINSZ, &ws) != 0 && ioctl(1, TIOCGWINSZ, &ws) != 0) return;
  if (ws.ws_row == 0) return;
  try {
    ctx.c().request("POST", path_prefix + "/resize?h=" + std::to_string(ws.ws_row) + "&w=" + std::to_string(ws.ws_col), "",
                    {}, true);
  } catch (...) {
  }
}

// Copies stdin → socket (in a thread) and socket → stdout/stderr (demultiplexed unless tty) until
// the socket's EOF. `resize_prefix` non-empty: resize on SIGWINCH.
void pump(Ctx& ctx, int sock, std::string leftover, bool tty, bool send_stdin, const std::string& resize_prefix,
          const std::string& proxy_to = "") {
  Demuxer dm([](int s, std::string_view d) {
    if (s == 2) {
      fflush(stdout);
      fwrite(d.data(), 1, d.size(), stderr);
    } else {
      fwrite(d.data(), 1, d.size(), stdout);
      fflush(stdout);
    }
  });
  auto emit = [&](std::string_view d) {
    if (tty) {
      fwrite(d.data(), 1, d.size(), stdout);
      fflush(stdout);
    } else {
      dm.feed(d);
    }
  };
  if (!leftover.empty()) emit(leftover);
  std::thread in;
  int stop_pipe[2];
  if (pipe2(stop_pipe, O_CLOEXEC) != 0) throw_sys("pipe");
  if (send_stdin) {
    in = std::thread([sock, tty, rd = stop_pipe[0]] {
      char buf[32 * 1024];
      for (;;) {
        pollfd p[2] = {{0, POLLIN, 0}, {rd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (p[1].revents) return;
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t off = 0;
        while (off < (size_t)n) {
          ssize_t w = ::send(sock, buf + off, (size_t)n - off, MSG_NOSIGNAL);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) return;
          off += (size_t)w;
        }
      }
      if (!tty) shutdown(sock, SHUT_WR);
    });
  }
  bool want_resize = !resize_prefix.empty() && tty;
  if ((want_resize || !proxy_to.empty()) && sigwinch_pipe[0] < 0) {
    if (pipe2(sigwinch_pipe, O_CLOEXEC | O_NONBLOCK) != 0) sigwinch_pipe[0] = sigwinch_pipe[1] = -1;
  }
  if (sigwinch_pipe[0] >= 0) {
    if (want_resize) signal(SIGWINCH, on_sigwinch);
    // docker's --sig-proxy: signals to the CLI go to the container (not with a tty, whose
    // line discipline sends ^C itself).
    if (!proxy_to.empty())
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) signal(sig, on_sigwinch);
  }
  char buf[32 * 1024];
  for (;;) {
    pollfd p[2] = {{sock, POLLIN, 0}, {sigwinch_pipe[0], POLLIN, 0}};
    int np = sigwinch_pipe[0] >= 0 ? 2 : 1;
    if (poll(p, np, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (np == 2 && p[1].revents) {
      char c[16];
      ssize_t n;
      bool winch = false;
      while ((n = ::read(sigwinch_pipe[0], c, sizeof c)) > 0)
        for (ssize_t k = 0; k < n; ++k) {
          if (c[k] == SIGWINCH) winch = true;
          else if (!proxy_to.empty()) {
            try {
              ctx.c().request("POST", "/containers/" + proxy_to + "/kill?signal=" + std::to_string((int)c[k]), "", {}, true);
            } catch (...) {
            }
          }
        }
      if (winch && want_resize) resize(ctx, resize_prefix);
    }
    if (!p[0].revents) continue;
    ssize_t n = ::read(sock, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    emit(std::string_view(buf, (size_t)n));
  }
  (void)!write(stop_pipe[1], "x", 1);
  if (in.joinable()) {
    // The stdin reader may sit in read(); it stops at the next poll wake-up. Don't wait for a
    // terminal's next key stroke.
    in.detach();
  }
  fflush(stdout);
}

// ---- flag sets ------------------------------------------------------------------------------

using Specs = std::vector<FlagSpec>;

const Specs kRunSpecs = {
    {"detach", 'd', false},      {"interactive", 'i', false}, {"tty", 't', false},       {"rm", 0, false},
    {"name", 0, true},           {"env", 'e', true},          {"env-file", 0, true},      {"workdir", 'w', true},
    {"user", 'u', true},         {"entrypoint", 0, true},     {"memory", 'm', true},      {"cpus", 0, true},
    {"pids-limit", 0, true},     {"restart", 0, true},        {"read-only", 0, false},    {"cap-add", 0, true},
    {"cap-drop", 0, true},       {"privileged", 0, false},    {"security-opt", 0, true},  {"init", 0, false},
    {"health-cmd", 0, true},     {"health-interval", 0, true}, {"health-timeout", 0, true}, {"health-retries", 0, true},
    {"health-start-period", 0, true}, {"publish", 'p', true},  {"volume", 'v', true},      {"network", 0, true},
    {"net", 0, true},            {"hostname", 'h', true},     {"label", 'l', true},       {"attach", 'a', true},
    {"quiet", 'q', false},       {"stop-signal", 0, true},    {"stop-timeout", 0, true},  {"no-healthcheck", 0, false},
    {"pull", 0, true},           {"platform", 0, true},       {"help", 0, false}};

[[noreturn]] void usage_error(const std::string& cmd, const std::string& msg) {
  errp(msg + "\nSee 'hoist " + cmd + " --help'.\n");
  throw ExitError{125, ""};
}

Parsed parse(const std::string& cmd, const Specs& specs, const std::vector<std::string>& argv, bool interspersed = true,
             size_t min_args = 0, long max_args = -1) {
  Parsed p;
  try {
    p = parse_flags(specs, argv, interspersed);
  } catch (const FlagError& e) {
    usage_error(cmd, e.what());
  }
  if (p.flag("help")) {
    std::string flags;
    for (auto& s : specs) {
      if (s.name == "help") continue;
      flags += std::string("  ") + (s.shorthand ? std::string("-") + s.shorthand + ", " : "    ") + "--" + s.name +
               (s.value ? " string" : "") + "\n";
    }
    out("\nUsage:  hoist " + cmd + " [OPTIONS]" + (max_args == 0 ? "" : " ARGS...") + "\n\nOptions:\n" + flags);
    throw ExitError{0, ""};
  }
  if (p.args.size() < min_args) {
    std::string m = "\"hoist " + cmd + "\" requires ";
    m += (max_args == (long)min_args ? "exactly " : "at least ") + std::to_string(min_args) + " argument" +
         (min_args == 1 ? "" : "s") + ".";
    usage_error(cmd, m);
  }
  if (max_args >= 0 && p.args.size() > (size_t)max_args) {
    std::string m = "\"hoist " + cmd + "\" accepts " +
                    (max_args == 0 ? std::string("no arguments") : "at most " + std::to_string(max_args) + " argument" + (max_args == 1 ? "" : "s")) + ".";
    usage_error(cmd, m);
  }
  return p;
}

// Runs `fn` on each name, printing the name on success and the error otherwise (exit 1 if any
// failed), as docker's stop/rm/kill/... do.
int for_each(const std::vector<std::string>& names, const std::function<void(const std::string&)>& fn,
             bool print = true) {
  int rc = 0;
  for (auto& n : names) {
    try {
      fn(n);
      if (print) out(n + "\n");
    } catch (const ConnectError&) {
      throw;
    } catch (const std::exception& e) {
      errp(daemon_err(e) + "\n");
      rc = 1;
    }
  }
  return rc;
}

// As for_each, with the calls made in parallel (as docker's stop: each container's grace period
// runs at the same time as the others'); the names and errors still print in the order given.
int for_each_parallel(Ctx& ctx, const std::vector<std::string>& names,
                      const std::function<void(const std::string&)>& fn) {
  ctx.c();  // the version is negotiated once, before the threads share the client
  std::vector<std::exception_ptr> errors(names.size());
  {
    std::vector<std::thread> calls;
    for (std::size_t i = 0; i < names.size(); ++i)
      calls.emplace_back([&, i] {
        try {
          fn(names[i]);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    for (auto& t : calls) t.join();
  }
  std::size_t next = 0;
  return for_each(names, [&](const std::string&) {
    if (auto e = errors[next++]) std::rethrow_exception(e);
  });
}

// ---- container creation ---------------------------------------------------------------------

json healthcheck(const Parsed& p) {
  json h = json::object();
  if (p.flag("no-healthcheck")) return json{{"Test", {"NONE"}}};
  if (p.has("health-cmd")) h["Test"] = {"CMD-SHELL", p.get("health-cmd")};
  if (p.has("health-interval")) h["Interval"] = parse_go_duration(p.get("health-interval"));
  if (p.has("health-timeout")) h["Timeout"] = parse_go_duration(p.get("health-timeout"));
  if (p.has("health-start-period")) h["StartPeriod"] = parse_go_duration(p.get("health-start-period"));
  if (p.has("health-retries")) h["Retries"] = parse_int(p.get("health-retries"), "--health-retries");
  return h;
}

json create_body(const Parsed& p, std::string& image) {
  image = p.args.at(0);
  json b;
  b["Image"] = image;
  std::vector<std::string> cmd(p.args.begin() + 1, p.args.end());
  if (!cmd.empty()) b["Cmd"] = cmd;
  if (p.has("entrypoint")) {
    auto ep = p.get("entrypoint");
    b["Entrypoint"] = ep.empty() ? json::array({""}) : json::array({ep});
  }
  std::vector<std::string> env;
  for (auto& f : p.all("env-file")) {
    std::string content;
    try {
      content = read_file(f);
    } catch (const std::exception& e) {
      throw InvalidArgument(std::string("invalid env file: ") + e.what());
    }
    for (auto& l : parse_env_file(content)) env.push_back(l);
  }
  for (auto& e : p.all("env")) {
    if (e.find('=') == std::string::npos) {
      const char* v = getenv(e.c_str());
      if (v) env.push_back(e + "=" + v);
    } else {
      env.push_back(e);
    }
  }
  if (!env.empty()) b["Env"] = env;
  if (p.has("workdir")) b["WorkingDir"] = p.get("workdir");
  if (p.has("user")) b["User"] = p.get("user");
  if (p.has("hostname")) b["Hostname"] = p.get("hostname");
  if (p.has("stop-signal")) b["StopSignal"] = p.get("stop-signal");
  if (p.has("stop-timeout")) b["StopTimeout"] = parse_int(p.get("stop-timeout"), "--stop-timeout");
  bool tty = p.flag("tty"), in = p.flag("interactive"), det = p.flag("detach");
  b["Tty"] = tty;
  b["OpenStdin"] = in;
  b["StdinOnce"] = in && !det;
  b["AttachStdin"] = in && !det;
  b["AttachStdout"] = !det;
  b["AttachStderr"] = !det;
  json labels = json::object();
  for (auto& l : p.all("label")) {
    auto eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  b["Labels"] = labels;
  auto hc = healthcheck(p);
  if (!hc.empty()) b["Healthcheck"] = hc;
  json h = json::object();
  if (p.has("memory")) h["Memory"] = parse_ram_size(p.get("memory"));
  if (p.has("cpus")) {
    double c;
    try {
      c = std::stod(p.get("cpus"));
    } catch (...) {
      throw InvalidArgument("invalid argument \"" + p.get("cpus") + "\" for \"--cpus\" flag");
    }
    h["NanoCpus"] = (long long)(c * 1e9);
  }
  if (p.has("pids-limit")) h["PidsLimit"] = parse_int(p.get("pids-limit"), "--pids-limit");
  if (p.has("restart")) {
    auto r = p.get("restart");
    auto c = r.find(':');
    json rp = {{"Name", r.substr(0, c)}};
    if (c != std::string::npos) rp["MaximumRetryCount"] = parse_int(r.substr(c + 1), "--restart");
    h["RestartPolicy"] = rp;
  }
  if (p.flag("rm")) {
    if (p.has("restart") && p.get("restart") != "no")
      throw InvalidArgument("Conflicting options: --restart and --rm");
    h["AutoRemove"] = true;
  }
  if (p.flag("read-only")) h["ReadonlyRootfs"] = true;
  if (p.has("cap-add")) h["CapAdd"] = p.all("cap-add");
  if (p.has("cap-drop")) h["CapDrop"] = p.all("cap-drop");
  if (p.flag("privileged")) h["Privileged"] = true;
  if (p.has("security-opt")) h["SecurityOpt"] = p.all("security-opt");
  if (p.has("init")) h["Init"] = p.flag("init");
  auto net = p.has("network") ? p.get("network") : p.get("net");
  h["NetworkMode"] = net.empty() ? "default" : net;
  if (p.has("volume")) h["Binds"] = p.all("volume");
  if (p.has("publish")) {
    json pb = json::object(), exposed = json::object();
    for (auto& spec : p.all("publish")) {
      // [ip:]hostPort:containerPort[/proto] or containerPort
      auto parts = split(spec, ':');
      std::string cport = parts.back(), hip, hport;
      if (cport.find('/') == std::string::npos) cport += "/tcp";
      if (parts.size() == 2) hport = parts[0];
      if (parts.size() == 3) {
        hip = parts[0];
        hport = parts[1];
      }
      pb[cport].push_back({{"HostIp", hip}, {"HostPort", hport}});
      exposed[cport] = json::object();
    }
    h["PortBindings"] = pb;
    b["ExposedPorts"] = exposed;
  }
  b["HostConfig"] = h;
  return b;
}

bool show_pull(const std::string& image, Ctx& ctx, bool quiet);

std::string create_container(Ctx& ctx, const Parsed& p) {
  std::string image;
  auto body = create_body(p, image);
  std::string path = "/containers/create";
  if (p.has("name")) path += "?name=" + q(p.get("name"));
  Response r;
  try {
    r = ctx.c().request("POST", path, body.dump());
  } catch (const ApiError& e) {
    if (e.status() != 404 || std::string(e.what()).find("image") == std::string::npos) throw;
    errp("Unable to find image '" + image + "' locally\n");
    show_pull(image, ctx, p.flag("quiet"));
    r = ctx.c().request("POST", path, body.dump());
  }
  auto j = json::parse(r.body);
  if (j.contains("Warnings") && j["Warnings"].is_array())
    for (auto& w : j["Warnings"]) errp("WARNING: " + w.get<std::string>() + "\n");
  return j.value("Id", "");
}

int start_error_code(const std::string& msg) {
  if (msg.find("executable file not found") != std::string::npos || msg.find("no such file or directory") != std::string::npos)
    return 127;
  if (msg.find("permission denied") != std::string::npos || msg.find("is a directory") != std::string::npos) return 126;
  return 125;
}

// Waits on the container (in a thread) with the request registered before returning.
struct Waiter {
  std::thread t;
  std::mutex m;
  std::condition_variable cv;
  bool registered = false, done = false;
  int code = 0;
  std::string err;
  Waiter(Ctx& ctx, const std::string& id, const std::string& condition) {
    auto sock = socket_path_from_host(ctx.host);
    auto ver = ctx.c().version();
    t = std::thread([this, sock, ver, id, condition] {
      std::string body;
      try {
        Client c(sock);
        c.set_version(ver);  // no second /_ping
        c.stream(
            "POST", "/containers/" + q(id) + "/wait?condition=" + condition, "",
            [&](std::string_view d) {
              body.append(d);
              return true;
            },
            {}, -1,
            [this](long) {
              std::lock_guard l(m);
              registered = true;
              cv.notify_all();
            });
        auto j = json::parse(body);
        code = j.value("StatusCode", 0);
        if (j.contains("Error") && j["Error"].is_object() && !j["Error"].value("Message", "").empty())
          err = j["Error"]["Message"].get<std::string>();
      } catch (const std::exception& e) {
        err = daemon_err(e);
        code = 125;
      }
      std::lock_guard l(m);
      registered = done = true;
      cv.notify_all();
    });
    std::unique_lock l(m);
    cv.wait_for(l, std::chrono::seconds(10), [this] { return registered; });
  }
  int wait() {
    t.join();
    return code;
  }
  ~Waiter() {
    if (t.joinable()) t.detach();
  }
};

// ---- container commands ---------------------------------------------------------------------

int cmd_run(Ctx& ctx, const std::vector<std::string>& argv, bool create_only) {
  std::string name = create_only ? "create" : "run";
  auto p = parse(name, kRunSpecs, argv, false, 1);
  bool detach = create_only || p.flag("detach");
  std::string id;
  try {
    id = create_container(ctx, p);
  } catch (const ConnectError&) {
    throw;
  } catch (const std::exception& e) {
    errp("hoist: " + daemon_err(e) + "\n\nRun 'hoist " + name + " --help' for more information\n");
    return 125;
  }
  if (create_only) {
    out(id + "\n");
    return 0;
  }
  bool tty = p.flag("tty"), in = p.flag("interactive");
  if (detach) {
    try {
      ctx.c().request("POST", "/containers/" + id + "/start");
    } catch (const ConnectError&) {
      throw;
    } catch (const std::exception& e) {
      errp("hoist: " + daemon_err(e) + "\n\nRun 'hoist run --help' for more information\n");
      return start_error_code(e.what());
    }
    out(id + "\n");
    return 0;
  }
  if (tty && in && !is_tty(0)) {
    errp("the input device is not a TTY\n");
    return 1;
  }
  std::string leftover;
  UniqueFd sock;
  try {
    sock = ctx.c().hijack("/containers/" + id + "/attach?stream=1&stdin=" + (in ? "1" : "0") + "&stdout=1&stderr=1", "",
                          leftover);
  } catch (const ConnectError&) {
    throw;
  } catch (const std::exception& e) {
    errp("hoist: " + daemon_err(e) + "\n");
    return 125;
  }
  Waiter w(ctx, id, p.flag("rm") ? "removed" : "next-exit");
  RawTerminal raw;
  if (tty && in) {
    signal(SIGTERM, on_signal_restore);
    signal(SIGHUP, on_signal_restore);
    raw.enable();
  }
  try {
    ctx.c().request("POST", "/containers/" + id + "/start");
  } catch (const ConnectError&) {
    raw.restore();
    throw;
  } catch (const std::exception& e) {
    raw.restore();
    errp("hoist: " + daemon_err(e) + "\n\nRun 'hoist run --help' for more information\n");
    if (p.flag("rm")) {
      try {
        ctx.c().request("DELETE", "/containers/" + id + "?force=1", "", {}, true);
      } catch (...) {
      }
    }
    fflush(stdout);
    fflush(stderr);
    _exit(start_error_code(e.what()));
  }
  if (tty) resize(ctx, "/containers/" + id);
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/containers/" + id : "", tty ? "" : id);
  raw.restore();
  int code = w.wait();
  if (!w.err.empty() && code == 125) errp(w.err + "\n");
  fflush(stdout);
  fflush(stderr);
  _exit(code);  // a detached stdin reader may still block in read()
}

json inspect_container(Ctx& ctx, const std::string& id) {
  return json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
}

int cmd_start(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("start", {{"attach", 'a', false}, {"interactive", 'i', false}, {"help", 0, false}}, argv, true, 1);
  if (!p.flag("attach") && !p.flag("interactive"))
    return for_each(p.args, [&](const std::string& n) { ctx.c().request("POST", "/containers/" + q(n) + "/start"); });
  if (p.args.size() > 1) {
    errp("you cannot start and attach multiple containers at once\n");
    return 1;
  }
  auto c = inspect_container(ctx, p.args[0]);
  std::string id = c["Id"];
  bool tty = c["Config"].value("Tty", false), in = p.flag("interactive") && c["Config"].value("OpenStdin", false);
  std::string leftover;
  auto sock = ctx.c().hijack("/containers/" + id + "/attach?stream=1&stdin=" + (in ? "1" : "0") + "&stdout=1&stderr=1", "",
                             leftover);
  Waiter w(ctx, id, "next-exit");
  RawTerminal raw;
  if (tty && in) raw.enable();
  try {
    ctx.c().request("POST", "/containers/" + id + "/start");
  } catch (...) {
    raw.restore();
    throw;
  }
  if (tty) resize(ctx, "/containers/" + id);
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/containers/" + id : "");
  raw.restore();
  int code = w.wait();
  fflush(stdout);
  fflush(stderr);
  _exit(code);
}

int cmd_attach(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("attach", {{"no-stdin", 0, false}, {"sig-proxy", 0, false}, {"detach-keys", 0, true}, {"help", 0, false}},
                 argv, true, 1, 1);
  auto c = inspect_container(ctx, p.args[0]);
  std::string id = c["Id"];
  if (!c["State"].value("Running", false)) {
    errp("You cannot attach to a stopped container, start it first\n");
    return 1;
  }
  bool tty = c["Config"].value("Tty", false), in = !p.flag("no-stdin") && c["Config"].value("OpenStdin", false);
  std::string leftover;
  auto sock = ctx.c().hijack("/containers/" + id + "/attach?stream=1&stdin=" + (in ? "1" : "0") + "&stdout=1&stderr=1", "",
                             leftover);
  RawTerminal raw;
  if (tty && in) raw.enable();
  if (tty) resize(ctx, "/containers/" + id);
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/containers/" + id : "");
  raw.restore();
  int code = 0;
  try {
    auto r = ctx.c().request("POST", "/containers/" + id + "/wait");
    code = json::parse(r.body).value("StatusCode", 0);
  } catch (...) {
  }
  fflush(stdout);
  _exit(code);
}

int cmd_stop(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what) {
  auto p = parse(what, {{"time", 't', true}, {"signal", 's', true}, {"help", 0, false}}, argv, true, 1);
  std::string qs;
  if (p.has("time")) qs += "t=" + std::to_string(parse_int(p.get("time"), "--time"));
  if (p.has("signal")) qs += std::string(qs.empty() ? "" : "&") + "signal=" + q(p.get("signal"));
  auto call = [&](const std::string& n) {
    ctx.c().request("POST", "/containers/" + q(n) + "/" + what + (qs.empty() ? "" : "?" + qs));
  };
  // docker stops in parallel, and restarts one after the other.
  return what == "stop" ? for_each_parallel(ctx, p.args, call) : for_each(p.args, call);
}

int cmd_kill(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("kill", {{"signal", 's', true}, {"help", 0, false}}, argv, true, 1);
  std::string qs = p.has("signal") ? "?signal=" + q(p.get("signal")) : "";
  return for_each(p.args, [&](const std::string& n) { ctx.c().request("POST", "/containers/" + q(n) + "/kill" + qs); });
}

int cmd_simple(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what) {
  auto p = parse(what, {{"help", 0, false}}, argv, true, 1);
  return for_each(p.args, [&](const std::string& n) { ctx.c().request("POST", "/containers/" + q(n) + "/" + what); });
}

int cmd_rm(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("rm", {{"force", 'f', false}, {"volumes", 'v', false}, {"link", 'l', false}, {"help", 0, false}}, argv,
                 true, 1);
  std::string qs = std::string("?force=") + (p.flag("force") ? "1" : "0") + "&v=" + (p.flag("volumes") ? "1" : "0");
  return for_each(p.args, [&](const std::string& n) { ctx.c().request("DELETE", "/containers/" + q(n) + qs); });
}

int cmd_rename(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("rename", {{"help", 0, false}}, argv, true, 2, 2);
  ctx.c().request("POST", "/containers/" + q(p.args[0]) + "/rename?name=" + q(p.args[1]));
  return 0;
}

int cmd_wait(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("wait", {{"help", 0, false}}, argv, true, 1);
  return for_each(
      p.args,
      [&](const std::string& n) {
        auto r = ctx.c().request("POST", "/containers/" + q(n) + "/wait");
        out(std::to_string(json::parse(r.body).value("StatusCode", 0)) + "\n");
      },
      false);
}

const std::map<std::string, std::string> kPsHeaders = {
    {"ID", "CONTAINER ID"}, {"Image", "IMAGE"},       {"Command", "COMMAND"}, {"CreatedAt", "CREATED AT"},
    {"RunningFor", "CREATED"}, {"Status", "STATUS"},  {"Ports", "PORTS"},     {"Names", "NAMES"},
    {"Size", "SIZE"},       {"State", "STATE"},       {"Labels", "LABELS"},   {"Mounts", "MOUNTS"},
    {"Networks", "NETWORKS"}, {"LocalVolumes", "LOCAL VOLUMES"}};

std::string ports_string(const json& ports) {
  std::vector<std::string> v;
  if (!ports.is_array()) return "";
  for (auto& p : ports) {
    std::string s;
    if (p.contains("PublicPort") && p["PublicPort"].get<long long>() != 0)
      s = p.value("IP", "0.0.0.0") + ":" + std::to_string(p["PublicPort"].get<long long>()) + "->";
    s += std::to_string(p.value("PrivatePort", 0)) + "/" + p.value("Type", "tcp");
    v.push_back(s);
  }
  return join(v, ", ");
}

int cmd_ps(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("ps",
                 {{"all", 'a', false},
                  {"quiet", 'q', false},
                  {"filter", 'f', true},
                  {"format", 0, true},
                  {"no-trunc", 0, false},
                  {"last", 'n', true},
                  {"latest", 'l', false},
                  {"size", 's', false},
                  {"help", 0, false}},
                 argv, true, 0, 0);
  std::string path = "/containers/json?all=" + std::string(p.flag("all") ? "1" : "0");
  if (p.has("filter")) path += "&filters=" + q(filters_json(p.all("filter")));
  if (p.has("last")) path += "&limit=" + p.get("last");
  if (p.flag("latest")) path += "&limit=1";
  if (p.flag("size")) path += "&size=1";
  auto list = json::parse(ctx.c().request("GET", path).body);
  bool trunc = !p.flag("no-trunc");
  double now = now_s();
  std::vector<json> rows;
  for (auto& c : list) {
    std::string id = c.value("Id", "");
    std::vector<std::string> names;
    for (auto& n : c.value("Names", json::array())) {
      std::string s = n.get<std::string>();
      if (!s.empty() && s[0] == '/') s.erase(0, 1);
      if (trunc && s.find('/') != std::string::npos) continue;
      names.push_back(s);
    }
    std::string cmd = c.value("Command", "");
    json labels = c.value("Labels", json::object());
    std::vector<std::string> lab;
    if (labels.is_object())
      for (auto& [k, v] : labels.items()) lab.push_back(k + "=" + v.get<std::string>());
    long long created = c.value("Created", 0LL);
    std::string image = c.value("Image", "");
    if (trunc && image.rfind("sha256:", 0) == 0) image = short_id(image);
    std::vector<std::string> nets;
    if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() && c["NetworkSettings"].contains("Networks"))
      for (auto& [k, v] : c["NetworkSettings"]["Networks"].items()) nets.push_back(k);
    std::string size;
    if (c.contains("SizeRw"))
      size = human_size((double)c.value("SizeRw", 0LL), 3) + " (virtual " + human_size((double)c.value("SizeRootFs", 0LL), 3) + ")";
    std::string cmdq = trunc ? "\"" + ellipsis(cmd, 20) + "\"" : json(cmd).dump();
    rows.push_back({{"ID", trunc ? short_id(id) : id},
                    {"Image", image},
                    {"Command", cmdq},
                    {"CreatedAt", go_time_string(created)},
                    {"RunningFor", human_duration(now - (double)created) + " ago"},
                    {"Status", c.value("Status", "")},
                    {"State", c.value("State", "")},
                    {"Ports", ports_string(c.value("Ports", json::array()))},
                    {"Names", join(names, ",")},
                    {"Labels", join(lab, ",")},
                    {"Mounts", ""},
                    {"Networks", join(nets, ",")},
                    {"Size", size}});
  }
  if (p.flag("quiet") && !p.has("format")) {
    for (auto& r : rows) out(r["ID"].get<std::string>() + "\n");
    return 0;
  }
  std::string fmt = p.get("format");
  if (fmt.empty() || fmt == "table")
    fmt = std::string("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}") +
          (p.flag("size") ? "\t{{.Size}}" : "");
  out(format_list(fmt, rows, kPsHeaders));
  return 0;
}

int cmd_logs(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("logs",
                 {{"follow", 'f', false},
                  {"tail", 'n', true},
                  {"timestamps", 't', false},
                  {"since", 0, true},
                  {"until", 0, true},
                  {"details", 0, false},
                  {"help", 0, false}},
                 argv, true, 1, 1);
  auto c = inspect_container(ctx, p.args[0]);
  bool tty = c["Config"].value("Tty", false);
  std::string path = "/containers/" + q(c["Id"].get<std::string>()) + "/logs?stdout=1&stderr=1";
  if (p.flag("follow")) path += "&follow=1";
  if (p.flag("timestamps")) path += "&timestamps=1";
  if (p.has("tail")) path += "&tail=" + q(p.get("tail"));
  if (p.has("since")) path += "&since=" + q(get_timestamp(p.get("since"), now_s()));
  if (p.has("until")) path += "&until=" + q(get_timestamp(p.get("until"), now_s()));
  Demuxer dm([](int s, std::string_view d) {
    if (s == 2) {
      fflush(stdout);
      fwrite(d.data(), 1, d.size(), stderr);
    } else {
      fwrite(d.data(), 1, d.size(), stdout);
    }
  });
  ctx.c().stream("GET", path, "", [&](std::string_view d) {
    if (tty) fwrite(d.data(), 1, d.size(), stdout);
    else dm.feed(d);
    fflush(stdout);
    return true;
  });
  return 0;
}

int cmd_exec(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("exec",
                 {{"interactive", 'i', false},
                  {"tty", 't', false},
                  {"env", 'e', true},
                  {"env-file", 0, true},
                  {"user", 'u', true},
                  {"workdir", 'w', true},
                  {"detach", 'd', false},
                  {"privileged", 0, false},
                  {"detach-keys", 0, true},
                  {"help", 0, false}},
                 argv, false, 2);
  bool tty = p.flag("tty"), in = p.flag("interactive"), det = p.flag("detach");
  if (tty && in && !is_tty(0) && !det) {
    errp("the input device is not a TTY\n");
    return 1;
  }
  json b = {{"AttachStdin", in && !det}, {"AttachStdout", !det}, {"AttachStderr", !det}, {"Tty", tty},
            {"Cmd", std::vector<std::string>(p.args.begin() + 1, p.args.end())}, {"Privileged", p.flag("privileged")}};
  std::vector<std::string> env;
  for (auto& f : p.all("env-file"))
    for (auto& l : parse_env_file(read_file(f))) env.push_back(l);
  for (auto& e : p.all("env")) env.push_back(e);
  if (!env.empty()) b["Env"] = env;
  if (p.has("user")) b["User"] = p.get("user");
  if (p.has("workdir")) b["WorkingDir"] = p.get("workdir");
  auto r = ctx.c().request("POST", "/containers/" + q(p.args[0]) + "/exec", b.dump());
  std::string eid = json::parse(r.body).value("Id", "");
  if (det) {
    ctx.c().request("POST", "/exec/" + eid + "/start", json{{"Detach", true}, {"Tty", tty}}.dump());
    return 0;
  }
  std::string leftover;
  auto sock = ctx.c().hijack("/exec/" + eid + "/start", json{{"Detach", false}, {"Tty", tty}}.dump(), leftover);
  RawTerminal raw;
  if (tty && in) raw.enable();
  if (tty) resize(ctx, "/exec/" + eid);
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/exec/" + eid : "");
  raw.restore();
  int code = 0;
  for (int i = 0; i < 100; ++i) {
    auto j = json::parse(ctx.c().request("GET", "/exec/" + eid + "/json").body);
    if (!j.value("Running", false)) {
      code = j["ExitCode"].is_number() ? j["ExitCode"].get<int>() : 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  fflush(stdout);
  fflush(stderr);
  _exit(code);
}

int cmd_inspect(Ctx& ctx, const std::vector<std::string>& argv, std::string type = "") {
  std::string cmd = type.empty() ? "inspect" : type + " inspect";
  auto p = parse(cmd, {{"format", 'f', true}, {"type", 0, true}, {"size", 's', false}, {"help", 0, false}}, argv, true, 1);
  if (p.has("type")) type = p.get("type");
  if (!type.empty() && type != "container" && type != "image") {
    errp("\"" + type + "\" is not a valid value for --type\n");
    return 1;
  }
  std::vector<json> found;
  nlohmann::ordered_json ordered = nlohmann::ordered_json::array();
  int rc = 0;
  for (auto& n : p.args) {
    bool ok = false;
    std::string last_err;
    for (std::string t : {"container", "image"}) {
      if (!type.empty() && type != t) continue;
      std::string path = (t == "container" ? "/containers/" : "/images/") + q(n) + "/json";
      if (t == "container" && p.flag("size")) path += "?size=1";
      auto r = ctx.c().request("GET", path, "", {}, true);
      if (r.status == 200) {
        found.push_back(json::parse(r.body));
        ordered.push_back(nlohmann::ordered_json::parse(r.body));
        ok = true;
        break;
      }
      if (r.status != 404) throw ApiError(r.status, error_message(r.body));
      last_err = error_message(r.body);
    }
    if (!ok) {
      if (type.empty()) errp("Error: No such object: " + n + "\n");
      else errp("Error response from daemon: " + last_err + "\n");
      rc = 1;
    }
  }
  if (p.has("format")) {
    std::string f = p.get("format");
    for (auto& j : found) out(render_template(f, j) + "\n");
  } else {
    out(ordered.dump(4) + "\n");
  }
  return rc;
}

int cmd_top(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("top", {{"help", 0, false}}, argv, false, 1);
  std::string path = "/containers/" + q(p.args[0]) + "/top";
  if (p.args.size() > 1) {
    std::vector<std::string> a(p.args.begin() + 1, p.args.end());
    path += "?ps_args=" + q(join(a, " "));
  }
  auto j = json::parse(ctx.c().request("GET", path).body);
  std::vector<std::string> lines;
  std::vector<std::string> t;
  for (auto& x : j.value("Titles", json::array())) t.push_back(x.get<std::string>());
  lines.push_back(join(t, "\t"));
  for (auto& row : j.value("Processes", json::array())) {
    std::vector<std::string> r;
    for (auto& x : row) r.push_back(x.get<std::string>());
    lines.push_back(join(r, "\t"));
  }
  out(tabwrite(lines));
  return 0;
}

json stats_row(const json& s, const std::string& id) {
  double cpu = 0;
  try {
    double cd = s["cpu_stats"]["cpu_usage"].value("total_usage", 0.0) - s["precpu_stats"]["cpu_usage"].value("total_usage", 0.0);
    double sd = s["cpu_stats"].value("system_cpu_usage", 0.0) - s["precpu_stats"].value("system_cpu_usage", 0.0);
    double ncpu = s["cpu_stats"].value("online_cpus", 0.0);
    if (ncpu == 0) ncpu = 1;
    if (sd > 0 && cd > 0) cpu = cd / sd * ncpu * 100.0;
  } catch (...) {
  }
  double usage = 0, limit = 0;
  if (s.contains("memory_stats") && s["memory_stats"].is_object()) {
    usage = s["memory_stats"].value("usage", 0.0);
    limit = s["memory_stats"].value("limit", 0.0);
    if (s["memory_stats"].contains("stats") && s["memory_stats"]["stats"].is_object())
      usage -= s["memory_stats"]["stats"].value("inactive_file", 0.0);
  }
  double rx = 0, tx = 0, br = 0, bw = 0;
  if (s.contains("networks") && s["networks"].is_object())
    for (auto& [k, v] : s["networks"].items()) {
      rx += v.value("rx_bytes", 0.0);
      tx += v.value("tx_bytes", 0.0);
    }
  if (s.contains("blkio_stats") && s["blkio_stats"].is_object() && s["blkio_stats"]["io_service_bytes_recursive"].is_array())
    for (auto& e : s["blkio_stats"]["io_service_bytes_recursive"]) {
      auto op = e.value("op", "");
      if (op == "read" || op == "Read") br += e.value("value", 0.0);
      if (op == "write" || op == "Write") bw += e.value("value", 0.0);
    }
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f%%", cpu);
  char mp[32];
  snprintf(mp, sizeof mp, "%.2f%%", limit > 0 ? usage / limit * 100 : 0.0);
  std::string name = s.value("name", "");
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  long long pids = s.contains("pids_stats") && s["pids_stats"].is_object() ? s["pids_stats"].value("current", 0LL) : 0;
  return {{"ID", short_id(id)},
          {"Container", id},
          {"Name", name},
          {"CPUPerc", buf},
          {"MemUsage", bytes_size(usage) + " / " + bytes_size(limit)},
          {"MemPerc", mp},
          {"NetIO", human_size(rx, 3) + " / " + human_size(tx, 3)},
          {"BlockIO", human_size(br, 3) + " / " + human_size(bw, 3)},
          {"PIDs", std::to_string(pids)}};
}

int cmd_stats(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("stats", {{"no-stream", 0, false}, {"all", 'a', false}, {"format", 0, true}, {"no-trunc", 0, false}, {"help", 0, false}},
                 argv, true, 0);
  std::vector<std::string> ids = p.args;
  if (ids.empty()) {
    auto list = json::parse(ctx.c().request("GET", std::string("/containers/json?all=") + (p.flag("all") ? "1" : "0")).body);
    for (auto& c : list) ids.push_back(c["Id"]);
  }
  std::map<std::string, std::string> hdr = {{"ID", "CONTAINER ID"}, {"Container", "CONTAINER"}, {"Name", "NAME"},
                                            {"CPUPerc", "CPU %"},     {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
                                            {"NetIO", "NET I/O"},     {"BlockIO", "BLOCK I/O"},  {"PIDs", "PIDS"}};
  std::string fmt = p.get("format", "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}");
  for (;;) {
    std::vector<json> rows;
    for (auto& id : ids) {
      auto r = ctx.c().request("GET", "/containers/" + q(id) + "/stats?stream=0", "", {}, true);
      if (r.status != 200) continue;
      auto s = json::parse(r.body);
      rows.push_back(stats_row(s, s.value("id", id)));
    }
    if (!p.flag("no-stream") && is_tty(1)) out("\033[2J\033[H");
    out(format_list(fmt, rows, hdr));
    fflush(stdout);
    if (p.flag("no-stream")) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// ---- images ---------------------------------------------------------------------------------

const std::map<std::string, std::string> kImageHeaders = {
    {"ID", "IMAGE ID"}, {"Repository", "REPOSITORY"}, {"Tag", "TAG"},       {"Digest", "DIGEST"},
    {"CreatedSince", "CREATED"}, {"CreatedAt", "CREATED AT"}, {"Size", "SIZE"}, {"Containers", "CONTAINERS"},
    {"SharedSize", "SHARED SIZE"}, {"UniqueSize", "UNIQUE SIZE"}, {"VirtualSize", "VIRTUAL SIZE"}};

int cmd_images(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("images",
                 {{"quiet", 'q', false},
                  {"all", 'a', false},
                  {"filter", 'f', true},
                  {"format", 0, true},
                  {"digests", 0, false},
                  {"no-trunc", 0, false},
                  {"help", 0, false}},
                 argv, true, 0, 1);
  std::vector<std::string> filters = p.all("filter");
  if (!p.args.empty()) filters.push_back("reference=" + p.args[0]);
  std::string path = std::string("/images/json?all=") + (p.flag("all") ? "1" : "0");
  if (!filters.empty()) path += "&filters=" + q(filters_json(filters));
  auto list = json::parse(ctx.c().request("GET", path).body);
  bool trunc = !p.flag("no-trunc");
  double now = now_s();
  std::vector<json> rows;
  for (auto& im : list) {
    std::string id = im.value("Id", "");
    std::string sid = trunc ? short_id(id) : id;
    long long created = im.value("Created", 0LL);
    double size = (double)im.value("Size", 0LL);
    auto base = json{{"ID", sid},
                     {"CreatedSince", created > 0 ? human_duration(now - (double)created) + " ago" : "N/A"},
                     {"CreatedAt", go_time_string(created)},
                     {"Size", human_size(size, 3)},
                     {"VirtualSize", human_size(size, 3)},
                     {"Containers", im.value("Containers", -1LL) < 0 ? "N/A" : std::to_string(im.value("Containers", 0LL))},
                     {"SharedSize", "N/A"},
                     {"UniqueSize", "N/A"}};
    std::vector<std::string> tags, digests;
    if (im["RepoTags"].is_array())
      for (auto& t : im["RepoTags"]) tags.push_back(t);
    if (im["RepoDigests"].is_array())
      for (auto& d : im["RepoDigests"]) digests.push_back(d);
    auto digest_for = [&](const std::string& repo) -> std::string {
      for (auto& d : digests) {
        auto at = d.find('@');
        if (at != std::string::npos && d.substr(0, at) == repo) return d.substr(at + 1);
      }
      return "<none>";
    };
    bool any = false;
    for (auto& t : tags) {
      if (t == "<none>:<none>") continue;
      auto c = t.rfind(':');
      std::string repo = t.substr(0, c), tag = t.substr(c + 1);
      auto r = base;
      r["Repository"] = repo;
      r["Tag"] = tag;
      r["Digest"] = digest_for(repo);
      rows.push_back(r);
      any = true;
    }
    if (!any) {
      auto r = base;
      std::string repo = "<none>", dig = "<none>";
      if (!digests.empty() && digests[0] != "<none>@<none>") {
        auto at = digests[0].find('@');
        repo = digests[0].substr(0, at);
        dig = digests[0].substr(at + 1);
      }
      r["Repository"] = repo;
      r["Tag"] = "<none>";
      r["Digest"] = dig;
      rows.push_back(r);
    }
  }
  if (p.flag("quiet") && !p.has("format")) {
    std::set<std::string> seen;
    for (auto& r : rows) {
      std::string id = r["ID"];
      if (seen.insert(id).second) out(id + "\n");
    }
    return 0;
  }
  std::string fmt = p.get("format");
  if (fmt.empty() || fmt == "table")
    fmt = p.flag("digests") ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                            : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  out(format_list(fmt, rows, kImageHeaders));
  return 0;
}

// Renders a stream of JSON messages (pull/push/load/import) as docker's jsonmessage does.
struct Progress {
  bool tty;
  std::vector<std::string> ids;  // line order
  std::string buf;
  std::string error;
  std::function<void(const json&)> on_aux;
  void feed(std::string_view d) {
    buf.append(d);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (trim(line).empty()) continue;
      json m;
      try {
        m = json::parse(line);
      } catch (...) {
        continue;
      }
      show(m);
    }
  }
  void show(const json& m) {
    if (m.contains("errorDetail") || m.contains("error")) {
      error = m.contains("errorDetail") && m["errorDetail"].is_object() ? m["errorDetail"].value("message", "")
                                                                         : m.value("error", "");
      if (error.empty()) error = m.value("error", "");
      return;
    }
    if (m.contains("aux")) {
      if (on_aux) on_aux(m["aux"]);
      return;
    }
    std::string id = m.value("id", ""), status = m.value("status", ""), stream = m.value("stream", "");
    std::string prog;
    if (m.contains("progressDetail") && m["progressDetail"].is_object() && !m["progressDetail"].empty())
      prog = progress_bar(m["progressDetail"].value("current", 0LL), m["progressDetail"].value("total", 0LL), term_width());
    if (!stream.empty()) {
      out(stream);
      fflush(stdout);
      return;
    }
    if (!tty) {
      if (!prog.empty()) return;  // progress only on a terminal
      out(progress_line(id, status, "") + "\n");
      return;
    }
    if (id.empty()) {
      out(progress_line(id, status, prog) + "\n");
      fflush(stdout);
      return;
    }
    auto it = std::find(ids.begin(), ids.end(), id);
    if (it == ids.end()) {
      ids.push_back(id);
      out("\033[2K\r" + progress_line(id, status, prog) + "\n");
    } else {
      size_t up = ids.end() - it;
      out("\033[" + std::to_string(up) + "A\033[2K\r" + progress_line(id, status, prog) + "\033[" + std::to_string(up) + "B\r");
    }
    fflush(stdout);
  }
};

void split_ref(const std::string& ref, std::string& repo, std::string& tag) {
  auto at = ref.find('@');
  if (at != std::string::npos) {
    repo = ref.substr(0, at);
    tag = ref.substr(at + 1);
    return;
  }
  auto slash = ref.rfind('/');
  auto c = ref.rfind(':');
  if (c != std::string::npos && (slash == std::string::npos || c > slash)) {
    repo = ref.substr(0, c);
    tag = ref.substr(c + 1);
  } else {
    repo = ref;
    tag = "";
  }
}

bool show_pull(const std::string& image, Ctx& ctx, bool quiet) {
  std::string repo, tag;
  split_ref(image, repo, tag);
  if (tag.empty()) tag = "latest";
  Progress pr{!quiet && is_tty(1)};
  ctx.c().stream("POST", "/images/create?fromImage=" + q(repo) + "&tag=" + q(tag), "", [&](std::string_view d) {
    if (!quiet) pr.feed(d);
    else {
      pr.buf.append(d);
      size_t nl;
      while ((nl = pr.buf.find('\n')) != std::string::npos) {
        try {
          auto m = json::parse(pr.buf.substr(0, nl));
          if (m.contains("error")) pr.error = m.value("error", "");
        } catch (...) {
        }
        pr.buf.erase(0, nl + 1);
      }
    }
    return true;
  }, auth_header(ctx, image));
  if (!pr.error.empty()) throw Error(pr.error);
  return true;
}

std::string full_ref(const std::string& image) {
  std::string repo, tag;
  split_ref(image, repo, tag);
  if (tag.empty()) tag = "latest";
  std::string r = repo;
  if (registry_of(repo) == kDefaultRegistry) {
    if (r.rfind("docker.io/", 0) == 0) r = r.substr(10);
    if (r.find('/') == std::string::npos) r = "library/" + r;
    r = "docker.io/" + r;
  }
  return r + (image.find('@') != std::string::npos ? "@" : ":") + tag;
}

int cmd_pull(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("pull", {{"quiet", 'q', false}, {"all-tags", 'a', false}, {"platform", 0, true}, {"help", 0, false}},
                 argv, true, 1, 1);
  try {
    show_pull(p.args[0], ctx, p.flag("quiet"));
  } catch (const ConnectError&) {
    throw;
  } catch (const ApiError&) {
    throw;
  } catch (const std::exception& e) {
    errp(e.what() + std::string("\n"));
    return 1;
  }
  out(full_ref(p.args[0]) + "\n");
  return 0;
}

int cmd_push(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("push", {{"quiet", 'q', false}, {"all-tags", 'a', false}, {"help", 0, false}}, argv, true, 1, 1);
  std::string repo, tag;
  split_ref(p.args[0], repo, tag);
  bool quiet = p.flag("quiet");
  Progress pr{!quiet && is_tty(1)};
  std::string digest;
  pr.on_aux = [&](const json& a) {
    if (a.contains("Digest")) digest = a.value("Digest", "");
  };
  if (!quiet) out("The push refers to repository [" + full_ref(repo).substr(0, full_ref(repo).rfind(':')) + "]\n");
  ctx.c().stream("POST", "/images/" + q(repo) + "/push" + (tag.empty() ? "" : "?tag=" + q(tag)), "",
                 [&](std::string_view d) {
                   if (quiet) {
                     pr.buf.append(d);
                     size_t nl;
                     while ((nl = pr.buf.find('\n')) != std::string::npos) {
                       try {
                         auto m = json::parse(pr.buf.substr(0, nl));
                         if (m.contains("error")) pr.error = m.value("error", "");
                         if (m.contains("aux")) pr.on_aux(m["aux"]);
                       } catch (...) {
                       }
                       pr.buf.erase(0, nl + 1);
                     }
                   } else {
                     pr.feed(d);
                   }
                   return true;
                 },
                 auth_header(ctx, repo));
  if (!pr.error.empty()) {
    errp(pr.error + "\n");
    return 1;
  }
  if (quiet) out(p.args[0] + "\n");
  return 0;
}

int cmd_tag(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("tag", {{"help", 0, false}}, argv, true, 2, 2);
  std::string repo, tag;
  split_ref(p.args[1], repo, tag);
  ctx.c().request("POST", "/images/" + q(p.args[0]) + "/tag?repo=" + q(repo) + (tag.empty() ? "" : "&tag=" + q(tag)));
  return 0;
}

int cmd_rmi(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("rmi", {{"force", 'f', false}, {"no-prune", 0, false}, {"help", 0, false}}, argv, true, 1);
  return for_each(
      p.args,
      [&](const std::string& n) {
        auto r = ctx.c().request("DELETE", "/images/" + q(n) + "?force=" + (p.flag("force") ? "1" : "0") +
                                               "&noprune=" + (p.flag("no-prune") ? "1" : "0"));
        for (auto& e : json::parse(r.body)) {
          if (e.contains("Untagged")) out("Untagged: " + e["Untagged"].get<std::string>() + "\n");
          if (e.contains("Deleted")) out("Deleted: " + e["Deleted"].get<std::string>() + "\n");
        }
      },
      false);
}

int cmd_save(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("save", {{"output", 'o', true}, {"platform", 0, true}, {"help", 0, false}}, argv, true, 1);
  std::string path = "/images/get?";
  for (size_t i = 0; i < p.args.size(); ++i) path += (i ? "&" : "") + std::string("names=") + q(p.args[i]);
  UniqueFd f;
  int fd = 1;
  std::string tmp;
  if (p.has("output")) {
    tmp = p.get("output") + ".hoist-tmp";
    f = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    fd = f.get();
  } else if (is_tty(1)) {
    errp("cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
    return 1;
  }
  try {
    ctx.c().stream("GET", path, "", [&](std::string_view d) {
      write_all(fd, d, "output");
      return true;
    });
  } catch (...) {
    if (!tmp.empty()) unlink(tmp.c_str());
    throw;
  }
  if (!tmp.empty()) {
    f.reset();
    if (rename(tmp.c_str(), p.get("output").c_str()) != 0) throw_sys("rename", p.get("output"));
  }
  return 0;
}

int stream_upload(Ctx& ctx, const std::string& path, int fd) {
  Progress pr{false};
  ctx.c().stream("POST", path, "", [&](std::string_view d) {
    pr.feed(d);
    return true;
  }, {{"Content-Type", "application/x-tar"}}, fd);
  if (!pr.error.empty()) {
    errp(pr.error + "\n");
    return 1;
  }
  return 0;
}

int cmd_load(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("load", {{"input", 'i', true}, {"quiet", 'q', false}, {"platform", 0, true}, {"help", 0, false}}, argv, true, 0, 0);
  UniqueFd f;
  int fd = 0;
  if (p.has("input")) {
    f = open_file(p.get("input"), O_RDONLY | O_CLOEXEC);
    fd = f.get();
  } else if (is_tty(0)) {
    errp("requested load from stdin, but stdin is empty\n");
    return 1;
  }
  return stream_upload(ctx, std::string("/images/load?quiet=") + (p.flag("quiet") ? "1" : "0"), fd);
}

int cmd_import(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("import", {{"message", 'm', true}, {"change", 'c', true}, {"platform", 0, true}, {"help", 0, false}}, argv,
                 true, 1, 2);
  std::string path = "/images/create?fromSrc=-";
  if (p.args.size() > 1) {
    std::string repo, tag;
    split_ref(p.args[1], repo, tag);
    path += "&repo=" + q(repo);
    if (!tag.empty()) path += "&tag=" + q(tag);
  }
  if (p.has("message")) path += "&message=" + q(p.get("message"));
  for (auto& c : p.all("change")) path += "&changes=" + q(c);
  UniqueFd f;
  int fd = 0;
  if (p.args[0] != "-") {
    f = open_file(p.args[0], O_RDONLY | O_CLOEXEC);
    fd = f.get();
  }
  return stream_upload(ctx, path, fd);
}

int cmd_login(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("login", {{"username", 'u', true}, {"password", 'p', true}, {"password-stdin", 0, false}, {"help", 0, false}},
                 argv, true, 0, 1);
  std::string server = p.args.empty() ? kDefaultRegistry : p.args[0];
  std::string user = p.get("username"), pass = p.get("password");
  if (p.flag("password-stdin")) {
    if (p.has("password")) {
      errp("--password and --password-stdin are mutually exclusive\n");
      return 1;
    }
    if (user.empty()) {
      errp("Must provide --username with --password-stdin\n");
      return 1;
    }
    pass = read_fd(0);
    while (!pass.empty() && (pass.back() == '\n' || pass.back() == '\r')) pass.pop_back();
  } else if (p.has("password")) {
    errp("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  }
  if (user.empty() || pass.empty()) {
    errp("Error: Cannot perform an interactive login from a non TTY device\n");
    return 1;
  }
  auto r = ctx.c().request("POST", "/auth", json{{"username", user}, {"password", pass}, {"serveraddress", server}}.dump());
  auto cfg = load_config(ctx);
  std::string key = server;
  if (key.rfind("https://", 0) == 0 && server != kDefaultRegistry) key = key.substr(8);
  if (key.rfind("http://", 0) == 0) key = key.substr(7);
  cfg["auths"][key] = {{"auth", b64(user + ":" + pass)}};
  mkdir_all(ctx.config_dir, 0700);
  write_file_atomic(config_file(ctx), cfg.dump(1, '\t') + "\n", 0600);
  out("Login Succeeded\n");
  (void)r;
  return 0;
}

int cmd_logout(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("logout", {{"help", 0, false}}, argv, true, 0, 1);
  std::string server = p.args.empty() ? kDefaultRegistry : p.args[0];
  auto cfg = load_config(ctx);
  if (!cfg.contains("auths") || !cfg["auths"].contains(server)) {
    out("Not logged in to " + server + "\n");
    return 0;
  }
  out("Removing login credentials for " + server + "\n");
  cfg["auths"].erase(server);
  write_file_atomic(config_file(ctx), cfg.dump(1, '\t') + "\n", 0600);
  return 0;
}

// ---- system ---------------------------------------------------------------------------------

int cmd_version(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("version", {{"format", 'f', true}, {"help", 0, false}}, argv, true, 0, 0);
  json client = {{"Version", "0.1.0"}, {"ApiVersion", "1.47"}, {"Os", "linux"}, {"Arch", "amd64"}, {"GoVersion", "n/a"}};
  json server;
  std::string err;
  try {
    server = json::parse(ctx.c().request("GET", "/version").body);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (p.has("format")) {
    out(render_template(p.get("format"), json{{"Client", client}, {"Server", server}}) + "\n");
    return err.empty() ? 0 : 1;
  }
  out("Client:\n Version:           0.1.0\n API version:       " + (ctx.client ? ctx.client->version() : std::string("1.47")) +
      "\n OS/Arch:           linux/amd64\n\n");
  if (!err.empty()) {
    errp(err + "\n");
    return 1;
  }
  out("Server:\n Engine:\n  Version:          " + server.value("Version", "") + "\n  API version:      " +
      server.value("ApiVersion", "") + " (minimum version " + server.value("MinAPIVersion", "") + ")\n  OS/Arch:          " +
      server.value("Os", "") + "/" + server.value("Arch", "") + "\n  Kernel Version:   " + server.value("KernelVersion", "") +
      "\n");
  return 0;
}

int cmd_info(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("info", {{"format", 'f', true}, {"help", 0, false}}, argv, true, 0, 0);
  auto j = json::parse(ctx.c().request("GET", "/info").body);
  if (p.has("format")) {
    out(format_list(p.get("format"), {j}, {}));
    return 0;
  }
  auto s = [&](const char* k) { return go_print_value(j, k); };
  out("Server:\n Containers: " + s("Containers") + "\n  Running: " + s("ContainersRunning") + "\n  Paused: " +
      s("ContainersPaused") + "\n  Stopped: " + s("ContainersStopped") + "\n Images: " + s("Images") +
      "\n Server Version: " + s("ServerVersion") + "\n Storage Driver: " + s("Driver") + "\n Logging Driver: " +
      s("LoggingDriver") + "\n Cgroup Driver: " + s("CgroupDriver") + "\n Cgroup Version: " + s("CgroupVersion") +
      "\n Kernel Version: " + s("KernelVersion") + "\n Operating System: " + s("OperatingSystem") + "\n OSType: " +
      s("OSType") + "\n Architecture: " + s("Architecture") + "\n CPUs: " + s("NCPU") + "\n Total Memory: " +
      bytes_size(j.value("MemTotal", 0.0)) + "\n Name: " + s("Name") + "\n ID: " + s("ID") +
      "\n Docker Root Dir: " + s("DockerRootDir") + "\n");
  return 0;
}

std::string event_time(long long nanos) {
  time_t secs = nanos / 1000000000LL;
  long long frac = nanos % 1000000000LL;
  struct tm tm {};
  localtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (frac) {
    char f[16];
    snprintf(f, sizeof f, ".%09lld", frac);
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    s += fs;
  }
  char z[16];
  strftime(z, sizeof z, "%z", &tm);
  std::string zs = z;
  if (zs == "+0000") s += "Z";
  else s += zs.substr(0, 3) + ":" + zs.substr(3);
  return s;
}

int cmd_events(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse("events", {{"since", 0, true}, {"until", 0, true}, {"filter", 'f', true}, {"format", 0, true}, {"help", 0, false}},
                 argv, true, 0, 0);
  std::string path = "/events?";
  std::vector<std::string> qs;
  if (p.has("since")) qs.push_back("since=" + q(get_timestamp(p.get("since"), now_s())));
  if (p.has("until")) qs.push_back("until=" + q(get_timestamp(p.get("until"), now_s())));
  if (p.has("filter")) qs.push_back("filters=" + q(filters_json(p.all("filter"))));
  path += join(qs, "&");
  std::string buf;
  std::string fmt = p.get("format");
  for (auto& [a, b] : std::vector<std::pair<std::string, std::string>>{{"\\t", "\t"}, {"\\n", "\n"}}) {
    size_t pos;
    while ((pos = fmt.find(a)) != std::string::npos) fmt.replace(pos, 2, b);
  }
  ctx.c().stream("GET", path, "", [&](std::string_view d) {
    buf.append(d);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      json e;
      try {
        e = json::parse(line);
      } catch (...) {
        continue;
      }
      if (fmt == "json") {
        out(e.dump() + "\n");
      } else if (!fmt.empty()) {
        out(render_template(fmt, e) + "\n");
      } else {
        long long tn = e.value("timeNano", 0LL);
        if (!tn) tn = e.value("time", 0LL) * 1000000000LL;
        std::string s = event_time(tn) + " " + e.value("Type", "") + " " + e.value("Action", "") + " " +
                        (e.contains("Actor") ? e["Actor"].value("ID", "") : e.value("id", ""));
        std::vector<std::string> attrs;
        if (e.contains("Actor") && e["Actor"].contains("Attributes") && e["Actor"]["Attributes"].is_object())
          for (auto& [k, v] : e["Actor"]["Attributes"].items()) attrs.push_back(k + "=" + v.get<std::string>());
        if (!attrs.empty()) s += " (" + join(attrs, ", ") + ")";
        out(s + "\n");
      }
      fflush(stdout);
    }
    return true;
  });
  return 0;
}

int cmd_system(Ctx& ctx, const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    errp("Usage:  hoist system COMMAND\n\nCommands:\n  df          Show disk usage\n  events      Get real time events\n  info        Display system-wide information\n  prune       Remove unused data\n");
    return 0;
  }
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "info") return cmd_info(ctx, rest);
  if (argv[0] == "events") return cmd_events(ctx, rest);
  if (argv[0] == "df") {
    auto p = parse("system df", {{"verbose", 'v', false}, {"format", 0, true}, {"help", 0, false}}, rest, true, 0, 0);
    auto j = json::parse(ctx.c().request("GET", "/system/df").body);
    std::vector<json> rows;
    long long isize = 0, iactive = 0, ireclaim = 0;
    for (auto& im : j.value("Images", json::array())) {
      isize += im.value("Size", 0LL);
      if (im.value("Containers", 0LL) > 0) ++iactive;
      else ireclaim += im.value("Size", 0LL);
    }
    long long csize = 0, cactive = 0, creclaim = 0;
    for (auto& c : j.value("Containers", json::array())) {
      csize += c.value("SizeRw", 0LL);
      if (c.value("State", "") == "running") ++cactive;
      else creclaim += c.value("SizeRw", 0LL);
    }
    long long vsize = 0, vactive = 0, vreclaim = 0;
    for (auto& v : j.value("Volumes", json::array())) {
      long long s = v.contains("UsageData") ? v["UsageData"].value("Size", 0LL) : 0;
      vsize += s;
      if (v.contains("UsageData") && v["UsageData"].value("RefCount", 0LL) > 0) ++vactive;
      else vreclaim += s;
    }
    long long bsize = 0, breclaim = 0, bactive = 0;
    for (auto& b : j.value("BuildCache", json::array())) {
      bsize += b.value("Size", 0LL);
      if (b.value("InUse", false)) ++bactive;
      else breclaim += b.value("Size", 0LL);
    }
    auto pct = [](long long r, long long t) {
      if (t <= 0) return std::string();
      return " (" + std::to_string((int)(100.0 * r / t)) + "%)";
    };
    auto row = [&](const char* type, size_t total, long long active, long long size, long long reclaim) {
      rows.push_back({{"Type", type}, {"TotalCount", std::to_string(total)}, {"Active", std::to_string(active)},
                      {"Size", human_size((double)size, 3)}, {"Reclaimable", human_size((double)reclaim, 3) + pct(reclaim, size)}});
    };
    row("Images", j.value("Images", json::array()).size(), iactive, isize, ireclaim);
    row("Containers", j.value("Containers", json::array()).size(), cactive, csize, creclaim);
    row("Local Volumes", j.value("Volumes", json::array()).size(), vactive, vsize, vreclaim);
    row("Build Cache", j.value("BuildCache", json::array()).size(), bactive, bsize, breclaim);
    out(format_list(p.get("format", "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"), rows,
                    {{"Type", "TYPE"}, {"TotalCount", "TOTAL"}, {"Active", "ACTIVE"}, {"Size", "SIZE"}, {"Reclaimable", "RECLAIMABLE"}}));
    return 0;
  }
  if (argv[0] == "prune") {
    auto p = parse("system prune", {{"all", 'a', false}, {"force", 'f', false}, {"volumes", 0, false}, {"filter", 0, true}, {"help", 0, false}},
                   rest, true, 0, 0);
    if (!p.flag("force")) {
      out(std::string("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n") +
          (p.flag("volumes") ? "  - all anonymous volumes not used by at least one container\n" : "") +
          (p.flag("all") ? "  - all images without at least one container associated to them\n" : "  - all dangling images\n") +
          "  - unused build cache\n\nAre you sure you want to continue? [y/N] ");
      fflush(stdout);
      std::string ans;
      std::getline(std::cin, ans);
      if (ans != "y" && ans != "Y") return 0;
    }
    long long reclaimed = 0;
    auto c = json::parse(ctx.c().request("POST", "/containers/prune").body);
    if (c["ContainersDeleted"].is_array() && !c["ContainersDeleted"].empty()) {
      out("Deleted Containers:\n");
      for (auto& x : c["ContainersDeleted"]) out(x.get<std::string>() + "\n");
      out("\n");
    }
    reclaimed += c.value("SpaceReclaimed", 0LL);
    auto n = ctx.c().request("POST", "/networks/prune", "", {}, true);
    if (n.status == 200) {
      auto nj = json::parse(n.body);
      if (nj["NetworksDeleted"].is_array() && !nj["NetworksDeleted"].empty()) {
        out("Deleted Networks:\n");
        for (auto& x : nj["NetworksDeleted"]) out(x.get<std::string>() + "\n");
        out("\n");
      }
    }
    if (p.flag("volumes")) {
      auto v = ctx.c().request("POST", "/volumes/prune", "", {}, true);
      if (v.status == 200) {
        auto vj = json::parse(v.body);
        if (vj["VolumesDeleted"].is_array() && !vj["VolumesDeleted"].empty()) {
          out("Deleted Volumes:\n");
          for (auto& x : vj["VolumesDeleted"]) out(x.get<std::string>() + "\n");
          out("\n");
        }
        reclaimed += vj.value("SpaceReclaimed", 0LL);
      }
    }
    std::string f = p.flag("all") ? "{\"dangling\":{\"false\":true}}" : "{\"dangling\":{\"true\":true}}";
    auto i = json::parse(ctx.c().request("POST", "/images/prune?filters=" + q(f)).body);
    if (i["ImagesDeleted"].is_array() && !i["ImagesDeleted"].empty()) {
      out("Deleted Images:\n");
      for (auto& e : i["ImagesDeleted"]) {
        if (e.contains("Untagged")) out("untagged: " + e["Untagged"].get<std::string>() + "\n");
        if (e.contains("Deleted")) out("deleted: " + e["Deleted"].get<std::string>() + "\n");
      }
      out("\n");
    }
    reclaimed += i.value("SpaceReclaimed", 0LL);
    out("Total reclaimed space: " + human_size((double)reclaimed, 3) + "\n");
    return 0;
  }
  errp("hoist system: unknown command: " + argv[0] + "\n");
  return 1;
}

const char* kUsage =
    "\nUsage:  hoist [OPTIONS] COMMAND\n\nA docker-compatible container engine client\n\n"
    "Options:\n  -H, --host string     Daemon socket to connect to (default unix:///run/hoist/hoist.sock, or $HOIST_HOST)\n"
    "      --config string   Location of client config files (default ~/.hoist)\n\n"
    "Commands:\n  attach create events exec images import info inspect kill load login logout logs pause ps pull push\n"
    "  rename restart rm rmi run save start stats stop system tag top unpause version wait\n";

}  // namespace

int main_entry(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Ctx ctx;
  const char* env_host = getenv("HOIST_HOST");
  ctx.host = env_host && *env_host ? env_host : "unix:///run/hoist/hoist.sock";
  const char* home = getenv("HOME");
  const char* env_cfg = getenv("HOIST_CONFIG");
  ctx.config_dir = env_cfg && *env_cfg ? env_cfg : std::string(home ? home : "/root") + "/.hoist";
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t i = 0;
  while (i < args.size() && !args[i].empty() && args[i][0] == '-') {
    auto& a = args[i];
    auto val = [&](const std::string& flag) -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (a.size() > 2 && a[1] != '-') return a.substr(2);
      if (i + 1 >= args.size()) {
        errp("flag needs an argument: " + flag + "\n");
        exit(125);
      }
      return args[++i];
    };
    if (a == "-H" || a.rfind("--host", 0) == 0 || (a.rfind("-H", 0) == 0 && a.size() > 2)) ctx.host = val("-H");
    else if (a.rfind("--config", 0) == 0) ctx.config_dir = val("--config");
    else if (a == "-D" || a == "--debug") {
    } else if (a == "-v" || a == "--version") {
      out("Hoist version 0.1.0\n");
      return 0;
    } else if (a == "-h" || a == "--help") {
      out(kUsage);
      return 0;
    } else {
      errp("unknown flag: " + a + "\nSee 'hoist --help'.\n");
      return 125;
    }
    ++i;
  }
  if (i >= args.size()) {
    out(kUsage);
    return 0;
  }
  std::string cmd = args[i];
  std::vector<std::string> rest(args.begin() + (long)i + 1, args.end());
  // "hoist container ls" / "hoist image ls" style aliases.
  if ((cmd == "container" || cmd == "image") && !rest.empty()) {
    std::string sub = rest[0];
    rest.erase(rest.begin());
    if (sub == "ls" || sub == "list") cmd = cmd == "container" ? "ps" : "images";
    else if (sub == "inspect") {
      try {
        return cmd_inspect(ctx, rest, cmd);
      } catch (const ExitError& e) {
        return e.code;
      } catch (const std::exception& e) {
        errp(daemon_err(e) + "\n");
        return 1;
      }
    } else if (sub == "rm" && cmd == "image") cmd = "rmi";
    else cmd = sub;
  }
  static const std::map<std::string, std::function<int(Ctx&, const std::vector<std::string>&)>> table = {
      {"run", [](Ctx& c, const std::vector<std::string>& a) { return cmd_run(c, a, false); }},
      {"create", [](Ctx& c, const std::vector<std::string>& a) { return cmd_run(c, a, true); }},
      {"start", cmd_start},
      {"attach", cmd_attach},
      {"stop", [](Ctx& c, const std::vector<std::string>& a) { return cmd_stop(c, a, "stop"); }},
      {"restart", [](Ctx& c, const std::vector<std::string>& a) { return cmd_stop(c, a, "restart"); }},
      {"kill", cmd_kill},
      {"pause", [](Ctx& c, const std::vector<std::string>& a) { return cmd_simple(c, a, "pause"); }},
      {"unpause", [](Ctx& c, const std::vector<std::string>& a) { return cmd_simple(c, a, "unpause"); }},
      {"rm", cmd_rm},
      {"rename", cmd_rename},
      {"wait", cmd_wait},
      {"ps", cmd_ps},
      {"logs", cmd_logs},
      {"exec", cmd_exec},
      {"inspect", [](Ctx& c, const std::vector<std::string>& a) { return cmd_inspect(c, a); }},
      {"top", cmd_top},
      {"stats", cmd_stats},
      {"images", cmd_images},
      {"pull", cmd_pull},
      {"push", cmd_push},
      {"tag", cmd_tag},
      {"rmi", cmd_rmi},
      {"save", cmd_save},
      {"load", cmd_load},
      {"import", cmd_import},
      {"login", cmd_login},
      {"logout", cmd_logout},
      {"version", cmd_version},
      {"info", cmd_info},
      {"events", cmd_events},
      {"system", cmd_system},
  };
  auto it = table.find(cmd);
  if (it == table.end()) {
    errp("hoist: '" + cmd + "' is not a hoist command.\nSee 'hoist --help'\n");
    return 1;
  }
  bool is_run = cmd == "run" || cmd == "create";
  try {
    return it->second(ctx, rest);
  } catch (const ExitError& e) {
    if (!e.msg.empty()) errp(e.msg + "\n");
    return e.code;
  } catch (const ConnectError& e) {
    errp(std::string(e.what()) + "\n");
    return is_run ? 125 : 1;
  } catch (const std::exception& e) {
    errp(daemon_err(e) + "\n");
    return is_run ? 125 : 1;
  }
}

std::string go_print_value(const json& j, const char* key) {
  if (!j.contains(key)) return "";
  return render_template("{{.K}}", json{{"K", j[key]}});
}

}  // namespace hoist::cli
