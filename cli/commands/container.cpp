// Container commands: run, create, start, attach, stop, restart, kill, pause, unpause, rm, rename,
// wait, ps, logs, exec, top, stats; with the create body and the checks of its flags (networking,
// --add-host, --dns, -a, --pull), and the terminal handling (raw mode, resize, signal proxy) and
// stream pump they share.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/commands/network.h"
#include "cli/commands/volume.h"
#include "cli/format.h"
#include "common/file.h"
#include "common/strings.h"

namespace hoist::cli {

namespace {

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

// A frame of a multiplexed stream to stdout or stderr (stream 2), in the order they come.
void write_frame(int stream, std::string_view d) {
  if (stream == 2) {
    fflush(stdout);
    fwrite(d.data(), 1, d.size(), stderr);
  } else {
    fwrite(d.data(), 1, d.size(), stdout);
    fflush(stdout);
  }
}

// Copies stdin → socket (in a thread) and socket → stdout/stderr (demultiplexed unless tty) until
// the socket's EOF. `resize_prefix` non-empty: resize on SIGWINCH.
void pump(Ctx& ctx, int sock, std::string leftover, bool tty, bool send_stdin, const std::string& resize_prefix,
          const std::string& proxy_to = "") {
  Demuxer dm(write_frame);
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

// The flags of run and create (run adds --detach), with docker's descriptions.
Flags container_create_flags(bool run) {
  Flags f = {
      {"add-host", 0, "list", "Add a custom host-to-IP mapping (host:ip)"},
      {"attach", 'a', "list", "Attach to STDIN, STDOUT or STDERR"},
      {"cap-add", 0, "list", "Add Linux capabilities"},
      {"cap-drop", 0, "list", "Drop Linux capabilities"},
      {"cpus", 0, "decimal", "Number of CPUs"},
      {"dns", 0, "list", "Set custom DNS servers"},
      {"dns-option", 0, "list", "Set DNS options"},
      {"dns-search", 0, "list", "Set custom DNS search domains"},
      {"domainname", 0, "string", "Container NIS domain name"},
      {"entrypoint", 0, "string", "Overwrite the default ENTRYPOINT of the image"},
      {"env", 'e', "list", "Set environment variables"},
      {"env-file", 0, "list", "Read in a file of environment variables"},
      {"expose", 0, "list", "Expose a port or a range of ports"},
      {"health-cmd", 0, "string", "Command to run to check health"},
      {"health-interval", 0, "duration", "Time between running the check (ms|s|m|h)", "0s"},
      {"health-retries", 0, "int", "Consecutive failures needed to report unhealthy"},
      {"health-start-period", 0, "duration",
       "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)", "0s"},
      {"health-timeout", 0, "duration", "Maximum time to allow one check to run (ms|s|m|h)", "0s"},
      {"hostname", 'h', "string", "Container host name"},
      {"init", 0, "", "Run an init inside the container that forwards signals and reaps processes"},
      {"interactive", 'i', "", "Keep STDIN open even if not attached"},
      {"ip", 0, "string", "IPv4 address (e.g., 172.30.100.104)"},
      {"ip6", 0, "string", "IPv6 address (e.g., 2001:db8::33)", "", true,
       "is not supported: hoist's networks give containers IPv4 addresses only"},
      {"label", 'l', "list", "Set meta data on a container"},
      {"link", 0, "list", "Add link to another container"},
      {"link-local-ip", 0, "list", "Container IPv4/IPv6 link-local addresses", "", true,
       "is not supported: hoist gives containers no link-local addresses"},
      {"mac-address", 0, "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"},
      {"memory", 'm', "bytes", "Memory limit"},
      {"mount", 0, "mount", "Attach a filesystem mount to the container"},
      {"name", 0, "string", "Assign a name to the container"},
      {"net", 0, "network", "Connect a container to a network", "", true},  // docker's hidden alias of --network
      {"net-alias", 0, "list", "Add network-scoped alias for the container", "", true},  // docker's hidden alias
      {"network", 0, "network", "Connect a container to a network"},
      {"network-alias", 0, "list", "Add network-scoped alias for the container"},
      {"no-healthcheck", 0, "", "Disable any container-specified HEALTHCHECK"},
      {"pids-limit", 0, "int", "Tune container pids limit (set -1 for unlimited)"},
      {"platform", 0, "string", "Set platform if server is multi-platform capable"},
      {"privileged", 0, "", "Give extended privileges to this container"},
      {"publish", 'p', "list", "Publish a container's port(s) to the host"},
      {"publish-all", 'P', "", "Publish all exposed ports to random ports"},
      {"pull", 0, "string",
       std::string("Pull image before ") + (run ? "running" : "creating") + " (\"always\", \"missing\", \"never\")",
       "missing"},
      {"quiet", 'q', "", "Suppress the pull output"},
      {"read-only", 0, "", "Mount the container's root filesystem as read only"},
      {"restart", 0, "string", "Restart policy to apply when a container exits", "no"},
      {"rm", 0, "", "Automatically remove the container and its associated anonymous volumes when it exits"},
      {"security-opt", 0, "list", "Security Options"},
      {"stop-signal", 0, "string", "Signal to stop the container"},
      {"stop-timeout", 0, "int", "Timeout (in seconds) to stop a container"},
      {"tmpfs", 0, "list", "Mount a tmpfs directory"},
      {"tty", 't', "", "Allocate a pseudo-TTY"},
      {"user", 'u', "string", "Username or UID (format: <name|uid>[:<group|gid>])"},
      {"volume", 'v', "list", "Bind mount a volume"},
      {"volume-driver", 0, "string", "Optional volume driver for the container"},
      {"volumes-from", 0, "list", "Mount volumes from the specified container(s)"},
      {"workdir", 'w', "string", "Working directory inside the container"},
  };
  if (run) f.push_back({"detach", 'd', "", "Run container in background and print container ID"});
  return f;
}

Command container_create_command(bool run) {
  return {.use = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
          .summary = run ? "Create and run a new container from an image" : "Create a new container",
          .aliases = {run ? "container run" : "container create", run ? "run" : "create"},
          .flags = container_create_flags(run),
          .interspersed = false,
          .min_args = 1};
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

std::string lower(std::string s) {
  for (auto& ch : s) ch = (char)std::tolower((unsigned char)ch);
  return s;
}

// The streams run attaches to, as docker's: -a's, or stdout and stderr; stdin too with -i; none with -d.
struct Streams {
  bool in = false, out = false, err = false;
};

Streams attached_streams(const Parsed& p) {
  Streams s;
  if (p.flag("detach")) return s;
  for (auto& a : p.all("attach")) {
    auto name = lower(a);
    s.in = s.in || name == "stdin";
    s.out = s.out || name == "stdout";
    s.err = s.err || name == "stderr";
  }
  if (!p.has("attach")) s.out = s.err = true;
  if (p.flag("interactive")) s.in = true;
  return s;
}

}  // namespace

// An IP address as Go's net.ParseIP takes it (surrounding spaces trimmed), in its canonical form;
// "" when it is not one.
std::string canonical_ip(std::string_view text) {
  std::string s(trim(text));
  in_addr v4{};
  in6_addr v6{};
  char buf[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return inet_ntop(AF_INET, &v4, buf, sizeof buf);
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return inet_ntop(AF_INET6, &v6, buf, sizeof buf);
  return "";
}

// --add-host's value as the API takes it, "host:ip" (docker's ValidateExtraHost: host=ip and an
// address in brackets are accepted too); throws FlagError with docker's words.
std::string extra_host(const std::string& val) {
  auto bad = [&](const std::string& why) {
    return FlagError("invalid argument \"" + val + "\" for \"--add-host\" flag: " + why);
  };
  auto sep = val.find('=');
  if (sep == std::string::npos) sep = val.find(':');  // the first ':': an IPv6 address has more
  std::string host = sep == std::string::npos ? "" : val.substr(0, sep);
  if (host.empty() || host.find(':') != std::string::npos) throw bad("bad format for add-host: \"" + val + "\"");
  std::string ip = val.substr(sep + 1);
  if (ip != "host-gateway") {
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    if (canonical_ip(ip).empty()) throw bad("invalid IP address in add-host: \"" + ip + "\"");
  }
  return host + ":" + ip;
}

namespace {

// --dns's value, canonical; throws FlagError with docker's words.
std::string dns_server(const std::string& val) {
  auto ip = canonical_ip(val);
  if (ip.empty())
    throw FlagError("invalid argument \"" + val + "\" for \"--dns\" flag: IP address is not correctly formatted: " + val);
  return ip;
}

// --dns-search's value as docker's ValidateDNSSearch returns it: "." or a domain without its final
// dot; throws FlagError with docker's words.
std::string dns_search_domain(const std::string& val) {
  std::string d = val;
  while (!d.empty() && d.front() == ' ') d.erase(0, 1);
  while (!d.empty() && d.back() == ' ') d.pop_back();
  if (d == ".") return d;
  while (!d.empty() && std::isspace((unsigned char)d.back())) d.pop_back();
  if (!d.empty() && d.back() == '.') d.pop_back();
  bool ok = !d.empty() && d.size() < 255 && std::any_of(d.begin(), d.end(), [](char c) { return std::isalpha((unsigned char)c); });
  for (auto& label : split(d, '.')) {
    ok = ok && !label.empty() && label.front() != '-' && label.back() != '-' &&
         std::all_of(label.begin(), label.end(), [](char c) { return std::isalnum((unsigned char)c) || c == '-'; });
  }
  if (!ok) throw FlagError("invalid argument \"" + val + "\" for \"--dns-search\" flag: " + val + " is not a valid domain");
  return d;
}

// The flags of run and create that docker's CLI checks with its flag parser; throws FlagError with
// docker's words.
void check_create_flags(const Parsed& p) {
  for (auto& h : p.all("add-host")) extra_host(h);
  for (auto& d : p.all("dns")) dns_server(d);
  for (auto& d : p.all("dns-search")) dns_search_domain(d);
  link_values(p);
  for (auto& a : p.all("attach")) {
    auto name = lower(a);
    if (name != "stdin" && name != "stdout" && name != "stderr")
      throw FlagError("invalid argument \"" + a + "\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR");
  }
  if (p.has("attach") && p.flag("detach")) throw FlagError("conflicting options: cannot specify both --attach and --detach");
  auto pull = p.get("pull", "missing");
  if (pull != "always" && pull != "missing" && pull != "never")
    throw FlagError("invalid pull option: '" + pull + "': must be one of \"always\", \"missing\" or \"never\"");
}

// run's and create's flags with the aliases docker hides folded in (--net-alias into --network-alias).
Parsed with_aliases(Parsed p) {
  for (auto& a : p.all("net-alias")) p.values["network-alias"].push_back(a);
  return p;
}

// The mounts and the networking of run and create (-v, --mount, ports, networks) as docker's CLI
// checks them after parsing its flags; throws InvalidArgument (docker: "invalid containerPort: x",
// ...) or FlagError.
void check_networking(const Parsed& p) {
  mount_flags(p);  // -v and --mount as docker's CLI checks them
  parse_port_specs(p.all("publish"));
  json exposed = json::object();
  add_exposed_ports(exposed, p.all("expose"));
  networking_config(p, "");
}

// POST /containers/create's body, for the daemon's API `api_version`.
json create_body(const Parsed& p, std::string& image, const std::string& api_version) {
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
  if (p.has("domainname")) b["Domainname"] = p.get("domainname");
  if (p.has("stop-signal")) b["StopSignal"] = p.get("stop-signal");
  if (p.has("stop-timeout")) b["StopTimeout"] = parse_int(p.get("stop-timeout"), "--stop-timeout");
  bool tty = p.flag("tty"), in = p.flag("interactive"), det = p.flag("detach");
  auto streams = attached_streams(p);
  b["Tty"] = tty;
  b["OpenStdin"] = in;
  b["StdinOnce"] = in && !det;
  b["AttachStdin"] = streams.in;
  b["AttachStdout"] = streams.out;
  b["AttachStderr"] = streams.err;
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
  // Ports and networks as docker 28's CLI sends them.
  auto ports = parse_port_specs(p.all("publish"));
  add_exposed_ports(ports.exposed, p.all("expose"));
  if (!ports.exposed.empty()) b["ExposedPorts"] = ports.exposed;
  h["PortBindings"] = ports.bindings;
  if (p.flag("publish-all")) h["PublishAllPorts"] = true;
  auto net = networking_config(p, api_version);
  h["NetworkMode"] = net.mode;
  if (auto links = link_values(p); !links.empty()) h["Links"] = links;
  if (!net.config_mac.empty()) b["MacAddress"] = net.config_mac;
  b["NetworkingConfig"] = {{"EndpointsConfig", net.endpoints}};
  apply_mount_flags(mount_flags(p), b, h);
  auto each = [&](const char* flag, std::string (*to_api)(const std::string&)) {
    json list = json::array();
    for (auto& v : p.all(flag)) list.push_back(to_api(v));
    return list;
  };
  if (p.has("dns")) h["Dns"] = each("dns", dns_server);
  if (p.has("dns-search")) h["DnsSearch"] = each("dns-search", dns_search_domain);
  if (p.has("dns-option")) h["DnsOptions"] = p.all("dns-option");
  if (p.has("add-host")) h["ExtraHosts"] = each("add-host", extra_host);
  b["HostConfig"] = h;
  return b;
}

std::string create_container(Ctx& ctx, const Parsed& p) {
  std::string image;
  auto body = create_body(p, image, ctx.c().version());
  std::vector<std::string> query;
  if (p.has("name")) query.push_back("name=" + q(p.get("name")));
  if (p.has("platform")) query.push_back("platform=" + q(p.get("platform")));
  std::string path = "/containers/create" + (query.empty() ? "" : "?" + join(query, "&"));
  auto pull = p.get("pull", "missing");
  if (pull == "always") show_pull(image, ctx, p.flag("quiet"), p.get("platform"), true);
  Response r;
  try {
    r = ctx.c().request("POST", path, body.dump());
  } catch (const ApiError& e) {
    if (e.status() != 404 || std::string(e.what()).find("image") == std::string::npos || pull != "missing") throw;
    errp("Unable to find image '" + image + "' locally\n");
    show_pull(image, ctx, p.flag("quiet"), p.get("platform"), true);
    r = ctx.c().request("POST", path, body.dump());
  }
  auto j = json::parse(r.body);
  if (j.contains("Warnings") && j["Warnings"].is_array())
    for (auto& w : j["Warnings"]) errp("WARNING: " + w.get<std::string>() + "\n");
  return j.value("Id", "");
}

// Ends the CLI with `code` at once: a detached stdin reader may still block in read().
[[noreturn]] void exit_now(int code) {
  fflush(stdout);
  fflush(stderr);
  _exit(code);
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

json inspect_container(Ctx& ctx, const std::string& id) {
  return json::parse(ctx.c().request("GET", "/containers/" + q(id) + "/json").body);
}

}  // namespace

const Command kRunCommand = container_create_command(true);
const Command kCreateCommand = container_create_command(false);

int cmd_run(Ctx& ctx, const std::vector<std::string>& argv, bool create_only) {
  const std::string& name = ctx.path;
  auto p = with_aliases(parse(ctx, create_only ? kCreateCommand : kRunCommand, argv));
  try {
    check_create_flags(p);
    check_networking(p);
  } catch (const FlagError& e) {
    usage_error(ctx.path, e.what());
  } catch (const InvalidArgument& e) {
    // docker: what its CLI finds wrong after parsing the flags ("docker: invalid containerPort: x").
    errp(std::string("hoist: ") + e.what() + "\n\nRun 'hoist " + name + " --help' for more information\n");
    return 125;
  }
  bool detach = create_only || p.flag("detach");
  std::string id;
  try {
    id = create_container(ctx, p);
  } catch (const ConnectError&) {
    throw;
  } catch (const std::exception& e) {
    if (create_only && dynamic_cast<const ApiError*>(&e)) {
      // docker create: the daemon's error as it is, exit 1 (run's is reported with its help hint, 125).
      errp(daemon_err(e) + "\n");
      return 1;
    }
    errp("hoist: " + daemon_err(e) + "\n\nRun 'hoist " + name + " --help' for more information\n");
    return 125;
  }
  if (create_only) {
    out(id + "\n");
    return 0;
  }
  bool tty = p.flag("tty");
  auto streams = attached_streams(p);
  bool in = streams.in;
  if (detach) {
    try {
      ctx.c().request("POST", "/containers/" + id + "/start");
    } catch (const ConnectError&) {
      throw;
    } catch (const std::exception& e) {
      errp("hoist: " + daemon_err(e) + "\n\nRun 'hoist " + name + " --help' for more information\n");
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
    sock = ctx.c().hijack("/containers/" + id + "/attach?stream=1&stdin=" + (in ? "1" : "0") +
                              "&stdout=" + (streams.out ? "1" : "0") + "&stderr=" + (streams.err ? "1" : "0"),
                          "", leftover);
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
    errp("hoist: " + daemon_err(e) + "\n\nRun 'hoist " + name + " --help' for more information\n");
    if (p.flag("rm")) {
      try {
        ctx.c().request("DELETE", "/containers/" + id + "?force=1", "", {}, true);
      } catch (...) {
      }
    }
    exit_now(start_error_code(e.what()));
  }
  if (tty) resize(ctx, "/containers/" + id);
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/containers/" + id : "", tty ? "" : id);
  raw.restore();
  int code = w.wait();
  if (!w.err.empty() && code == 125) errp(w.err + "\n");
  exit_now(code);
}

const Command kStartCommand = {
    .use = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Start one or more stopped containers",
    .aliases = {"container start", "start"},
    .flags = {{"attach", 'a', "", "Attach STDOUT/STDERR and forward signals"},
              {"interactive", 'i', "", "Attach container's STDIN"}},
    .min_args = 1};

int cmd_start(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kStartCommand, argv);
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
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/containers/" + id : "", tty ? "" : id);
  raw.restore();
  int code = w.wait();
  exit_now(code);
}

const Command kAttachCommand = {
    .use = "[OPTIONS] CONTAINER",
    .summary = "Attach local standard input, output, and error streams to a running container",
    .aliases = {"container attach", "attach"},
    .flags = {{"detach-keys", 0, "string", "Override the key sequence for detaching a container"},
              {"no-stdin", 0, "", "Do not attach STDIN"},
              {"sig-proxy", 0, "", "Proxy all received signals to the process", "true"}},
    .min_args = 1,
    .max_args = 1};

int cmd_attach(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kAttachCommand, argv);
  auto c = inspect_container(ctx, p.args[0]);
  std::string id = c["Id"];
  if (!c["State"].value("Running", false)) {
    errp("You cannot attach to a stopped container, start it first\n");
    return 1;
  }
  bool tty = c["Config"].value("Tty", false), in = !p.flag("no-stdin") && c["Config"].value("OpenStdin", false);
  bool sig_proxy = !p.has("sig-proxy") || p.flag("sig-proxy");  // default true
  std::string leftover;
  auto sock = ctx.c().hijack("/containers/" + id + "/attach?stream=1&stdin=" + (in ? "1" : "0") + "&stdout=1&stderr=1" +
                                 (p.has("detach-keys") ? "&detachKeys=" + q(p.get("detach-keys")) : ""),
                             "", leftover);
  RawTerminal raw;
  if (tty && in) raw.enable();
  if (tty) resize(ctx, "/containers/" + id);
  pump(ctx, sock.get(), leftover, tty, in, tty ? "/containers/" + id : "", sig_proxy && !tty ? id : "");
  raw.restore();
  int code = 0;
  try {
    auto r = ctx.c().request("POST", "/containers/" + id + "/wait");
    code = json::parse(r.body).value("StatusCode", 0);
  } catch (...) {
  }
  exit_now(code);
}

namespace {

// stop's and restart's flags; --time is docker's hidden old name of --timeout.
const Flags kStopFlags = {{"signal", 's', "string", "Signal to send to the container"},
                          {"time", 0, "int", "Seconds to wait before killing the container", "", true},
                          {"timeout", 't', "int", "Seconds to wait before killing the container"}};

}  // namespace

const Command kStopCommand = {.use = "[OPTIONS] CONTAINER [CONTAINER...]",
                              .summary = "Stop one or more running containers", .aliases = {"container stop", "stop"},
                              .flags = kStopFlags, .min_args = 1};
const Command kRestartCommand = {.use = "[OPTIONS] CONTAINER [CONTAINER...]",
                                 .summary = "Restart one or more containers",
                                 .aliases = {"container restart", "restart"}, .flags = kStopFlags, .min_args = 1};

int cmd_stop(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what) {
  auto p = parse(ctx, what == "stop" ? kStopCommand : kRestartCommand, argv);
  std::string qs;
  if (p.has("timeout") || p.has("time"))
    qs += "t=" + std::to_string(parse_int(p.get("timeout", p.get("time")), "--timeout"));
  if (p.has("signal")) qs += std::string(qs.empty() ? "" : "&") + "signal=" + q(p.get("signal"));
  auto call = [&](const std::string& n) {
    ctx.c().request("POST", "/containers/" + q(n) + "/" + what + (qs.empty() ? "" : "?" + qs));
  };
  // docker stops in parallel, and restarts one after the other.
  return what == "stop" ? for_each_parallel(ctx, p.args, call) : for_each(p.args, call);
}

const Command kKillCommand = {.use = "[OPTIONS] CONTAINER [CONTAINER...]",
                              .summary = "Kill one or more running containers", .aliases = {"container kill", "kill"},
                              .flags = {{"signal", 's', "string", "Signal to send to the container"}}, .min_args = 1};

int cmd_kill(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kKillCommand, argv);
  std::string qs = p.has("signal") ? "?signal=" + q(p.get("signal")) : "";
  return for_each(p.args, [&](const std::string& n) { ctx.c().request("POST", "/containers/" + q(n) + "/kill" + qs); });
}

const Command kPauseCommand = {.use = "CONTAINER [CONTAINER...]",
                               .summary = "Pause all processes within one or more containers",
                               .aliases = {"container pause", "pause"}, .min_args = 1};
const Command kUnpauseCommand = {.use = "CONTAINER [CONTAINER...]",
                                 .summary = "Unpause all processes within one or more containers",
                                 .aliases = {"container unpause", "unpause"}, .min_args = 1};

int cmd_simple(Ctx& ctx, const std::vector<std::string>& argv, const std::string& what) {
  auto p = parse(ctx, what == "pause" ? kPauseCommand : kUnpauseCommand, argv);
  return for_each(p.args, [&](const std::string& n) { ctx.c().request("POST", "/containers/" + q(n) + "/" + what); });
}

const Command kRmCommand = {
    .use = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Remove one or more containers",
    .aliases = {"container rm", "container remove", "rm"},
    .flags = {{"force", 'f', "", "Force the removal of a running container (uses SIGKILL)"},
              {"link", 'l', "", "Remove the specified link"},
              {"volumes", 'v', "", "Remove anonymous volumes associated with the container"}},
    .min_args = 1};

int cmd_rm(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kRmCommand, argv);
  std::string qs = std::string("?force=") + (p.flag("force") ? "1" : "0") + "&v=" + (p.flag("volumes") ? "1" : "0") +
                   "&link=" + (p.flag("link") ? "1" : "0");
  return for_each(p.args, [&](const std::string& n) { ctx.c().request("DELETE", "/containers/" + q(n) + qs); });
}

const Command kRenameCommand = {.use = "CONTAINER NEW_NAME", .summary = "Rename a container",
                                .aliases = {"container rename", "rename"}, .min_args = 2, .max_args = 2};

int cmd_rename(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kRenameCommand, argv);
  ctx.c().request("POST", "/containers/" + q(p.args[0]) + "/rename?name=" + q(p.args[1]));
  return 0;
}

const Command kWaitCommand = {.use = "CONTAINER [CONTAINER...]",
                              .summary = "Block until one or more containers stop, then print their exit codes",
                              .aliases = {"container wait", "wait"}, .min_args = 1};

int cmd_wait(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kWaitCommand, argv);
  return for_each(
      p.args,
      [&](const std::string& n) {
        auto r = ctx.c().request("POST", "/containers/" + q(n) + "/wait");
        out(std::to_string(json::parse(r.body).value("StatusCode", 0)) + "\n");
      },
      false);
}

namespace {

const std::map<std::string, std::string> kPsHeaders = {
    {"ID", "CONTAINER ID"}, {"Image", "IMAGE"},       {"Command", "COMMAND"}, {"CreatedAt", "CREATED AT"},
    {"RunningFor", "CREATED"}, {"Status", "STATUS"},  {"Ports", "PORTS"},     {"Names", "NAMES"},
    {"Size", "SIZE"},       {"State", "STATE"},       {"Labels", "LABELS"},   {"Mounts", "MOUNTS"},
    {"Networks", "NETWORKS"}, {"LocalVolumes", "LOCAL VOLUMES"}};

}  // namespace

const Command kPsCommand = {
    .use = "[OPTIONS]",
    .summary = "List containers",
    .aliases = {"container ls", "container list", "container ps", "ps"},
    .flags = {{"all", 'a', "", "Show all containers (default shows just running)"},
              {"filter", 'f', "filter", "Filter output based on conditions provided"},
              {"format", 0, "string", kFormatTableUsage},
              {"last", 'n', "int", "Show n last created containers (includes all states)", "-1"},
              {"latest", 'l', "", "Show the latest created container (includes all states)"},
              {"no-trunc", 0, "", "Don't truncate output"},
              {"quiet", 'q', "", "Only display container IDs"},
              {"size", 's', "", "Display total file sizes"}},
    .max_args = 0};

int cmd_ps(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kPsCommand, argv);
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

const Command kLogsCommand = {
    .use = "[OPTIONS] CONTAINER",
    .summary = "Fetch the logs of a container",
    .aliases = {"container logs", "logs"},
    .flags = {{"details", 0, "", "Show extra details provided to logs"},
              {"follow", 'f', "", "Follow log output"},
              {"since", 0, "string",
               "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"},
              {"tail", 'n', "string", "Number of lines to show from the end of the logs", "all"},
              {"timestamps", 't', "", "Show timestamps"},
              {"until", 0, "string",
               "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"}},
    .min_args = 1,
    .max_args = 1};

int cmd_logs(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kLogsCommand, argv);
  auto c = inspect_container(ctx, p.args[0]);
  bool tty = c["Config"].value("Tty", false);
  std::string path = "/containers/" + q(c["Id"].get<std::string>()) + "/logs?stdout=1&stderr=1";
  if (p.flag("follow")) path += "&follow=1";
  if (p.flag("timestamps")) path += "&timestamps=1";
  if (p.flag("details")) path += "&details=1";
  if (p.has("tail")) path += "&tail=" + q(p.get("tail"));
  if (p.has("since")) path += "&since=" + q(get_timestamp(p.get("since"), now_s()));
  if (p.has("until")) path += "&until=" + q(get_timestamp(p.get("until"), now_s()));
  Demuxer dm(write_frame);
  ctx.c().stream("GET", path, "", [&](std::string_view d) {
    if (tty) fwrite(d.data(), 1, d.size(), stdout);
    else dm.feed(d);
    fflush(stdout);
    return true;
  });
  return 0;
}

const Command kExecCommand = {
    .use = "[OPTIONS] CONTAINER COMMAND [ARG...]",
    .summary = "Execute a command in a running container",
    .aliases = {"container exec", "exec"},
    .flags = {{"detach", 'd', "", "Detached mode: run command in the background"},
              {"detach-keys", 0, "string", "Override the key sequence for detaching a container"},
              {"env", 'e', "list", "Set environment variables"},
              {"env-file", 0, "list", "Read in a file of environment variables"},
              {"interactive", 'i', "", "Keep STDIN open even if not attached"},
              {"privileged", 0, "", "Give extended privileges to the command"},
              {"tty", 't', "", "Allocate a pseudo-TTY"},
              {"user", 'u', "string", "Username or UID (format: \"<name|uid>[:<group|gid>]\")"},
              {"workdir", 'w', "string", "Working directory inside the container"}},
    .interspersed = false,
    .min_args = 2};

int cmd_exec(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kExecCommand, argv);
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
  if (p.has("detach-keys")) b["DetachKeys"] = p.get("detach-keys");
  auto r = ctx.c().request("POST", "/containers/" + q(p.args[0]) + "/exec", b.dump());
  std::string eid = json::parse(r.body).value("Id", "");
  if (det) {
    ctx.c().request("POST", "/exec/" + eid + "/start", json{{"Detach", true}, {"Tty", tty}}.dump());
    return 0;
  }
  exit_now(exec_attached(ctx, eid, tty, in));
}

int exec_attached(Ctx& ctx, const std::string& eid, bool tty, bool in) {
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
  return code;
}

const Command kTopCommand = {.use = "CONTAINER [ps OPTIONS]", .summary = "Display the running processes of a container",
                             .aliases = {"container top", "top"}, .interspersed = false, .min_args = 1};

int cmd_top(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kTopCommand, argv);
  std::string path = "/containers/" + q(p.args[0]) + "/top";
  if (p.args.size() > 1) {
    std::vector<std::string> a(p.args.begin() + 1, p.args.end());
    path += "?ps_args=" + q(join(a, " "));
  }
  auto j = json::parse(ctx.c().request("GET", path).body);
  out(top_table(j));
  return 0;
}

namespace {

json stats_row(const json& s, const std::string& id, bool trunc) {
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
  return {{"ID", trunc ? short_id(id) : id},
          {"Container", id},
          {"Name", name},
          {"CPUPerc", buf},
          {"MemUsage", bytes_size(usage) + " / " + bytes_size(limit)},
          {"MemPerc", mp},
          {"NetIO", human_size(rx, 3) + " / " + human_size(tx, 3)},
          {"BlockIO", human_size(br, 3) + " / " + human_size(bw, 3)},
          {"PIDs", std::to_string(pids)}};
}

}  // namespace

const Command kStatsCommand = {
    .use = "[OPTIONS] [CONTAINER...]",
    .summary = "Display a live stream of container(s) resource usage statistics",
    .aliases = {"container stats", "stats"},
    .flags = {{"all", 'a', "", "Show all containers (default shows just running)"},
              {"format", 0, "string", kFormatTableUsage},
              {"no-stream", 0, "", "Disable streaming stats and only pull the first result"},
              {"no-trunc", 0, "", "Do not truncate output"}}};

int cmd_stats(Ctx& ctx, const std::vector<std::string>& argv) {
  auto p = parse(ctx, kStatsCommand, argv);
  std::vector<std::string> ids = p.args;
  if (ids.empty()) {
    auto list = json::parse(ctx.c().request("GET", std::string("/containers/json?all=") + (p.flag("all") ? "1" : "0")).body);
    for (auto& c : list) ids.push_back(c["Id"]);
  }
  return show_stats(ctx, p, [&] { return ids; });
}

int show_stats(Ctx& ctx, const Parsed& p, const std::function<std::vector<std::string>()>& containers) {
  std::map<std::string, std::string> hdr = {{"ID", "CONTAINER ID"}, {"Container", "CONTAINER"}, {"Name", "NAME"},
                                            {"CPUPerc", "CPU %"},     {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
                                            {"NetIO", "NET I/O"},     {"BlockIO", "BLOCK I/O"},  {"PIDs", "PIDS"}};
  std::string fmt = p.get("format", "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}");
  for (;;) {
    std::vector<json> rows;
    for (auto& id : containers()) {
      auto r = ctx.c().request("GET", "/containers/" + q(id) + "/stats?stream=0", "", {}, true);
      if (r.status != 200) continue;
      auto s = json::parse(r.body);
      rows.push_back(stats_row(s, s.value("id", id), !p.flag("no-trunc")));
    }
    if (!p.flag("no-stream") && is_tty(1)) out("\033[2J\033[H");
    out(format_list(fmt, rows, hdr));
    fflush(stdout);
    if (p.flag("no-stream")) return 0;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace hoist::cli
