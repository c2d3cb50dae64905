#include "network/dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/error.h"
#include "common/fd.h"
#include "common/log.h"
#include "network/ipam.h"

namespace hoist::network {
namespace {

constexpr std::uint16_t kTypeA = 1, kTypePtr = 12, kTypeAaaa = 28, kClassIn = 1;
constexpr std::uint32_t kTtl = 600;
constexpr std::size_t kHeader = 12;
constexpr std::size_t kMaxName = 255;  // wire form: length bytes and the root's zero included
constexpr int kMaxJumps = 32;          // compression pointers followed for one name
constexpr std::uint16_t kQr = 0x8000, kRd = 0x0100, kRa = 0x0080, kTc = 0x0200;
constexpr int kServfail = 2;

std::uint16_t get16(std::span<const std::uint8_t> m, std::size_t at) {
  return static_cast<std::uint16_t>(m[at] << 8 | m[at + 1]);
}
void put16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, v >> 16);
  put16(out, v & 0xffff);
}

// One byte of a label as text: lower case; '.', '\' and what is not printable as \DDD (RFC 1035
// §5.1), so that no two names read the same.
void append_label_byte(std::string& text, std::uint8_t c) {
  if (c >= 'A' && c <= 'Z') {
    text += static_cast<char>(c - 'A' + 'a');
  } else if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
    text += static_cast<char>(c);
  } else {
    char esc[5] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                   static_cast<char>('0' + c % 10), 0};
    text += esc;
  }
}

struct Name {
  std::string text;                // lower case, labels joined by '.', no trailing dot
  std::vector<std::uint8_t> wire;  // the labels uncompressed, as sent (case kept)
  std::size_t end = 0;             // the offset after the name where it started
};

// The name at `pos` of `m` (RFC 1035 §3.1, §4.1.4). A compression pointer must point before
// the labels that led to it, so every jump goes back and a loop cannot be built; at most
// kMaxJumps of them. nullopt when the name runs out of the message, uses the reserved label
// types (01, 10), loops, or is over 255 bytes.
std::optional<Name> read_name(std::span<const std::uint8_t> m, std::size_t pos) {
  Name n;
  std::size_t segment = pos;  // where the labels read since the last jump begin
  std::optional<std::size_t> end;
  int jumps = 0;
  for (;;) {
    if (pos >= m.size()) return std::nullopt;
    const std::uint8_t len = m[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= m.size()) return std::nullopt;
      const std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | m[pos + 1];
      if (target >= segment || ++jumps > kMaxJumps) return std::nullopt;
      if (!end) end = pos + 2;
      pos = segment = target;
      continue;
    }
    if (len & 0xC0) return std::nullopt;
    // This label, and the root's zero after it, must fit in 255 bytes.
    if (n.wire.size() + 1 + len + (len ? 1 : 0) > kMaxName) return std::nullopt;
    n.wire.push_back(len);
    if (len == 0) {
      n.end = end.value_or(pos + 1);
      return n;
    }
    if (pos + 1 + len > m.size()) return std::nullopt;
    if (n.wire.size() > 1) n.text += '.';
    for (std::size_t i = 1; i <= len; ++i) {
      n.wire.push_back(m[pos + i]);
      append_label_byte(n.text, m[pos + i]);
    }
    pos += 1 + len;
  }
}

// `text` ("web.net1", a trailing dot allowed) in wire form; InvalidArgument when a label is
// empty or over 63 bytes or the name over 255.
std::vector<std::uint8_t> encode_name(const std::string& text) {
  auto bad = [&] { return InvalidArgument("invalid DNS name \"" + text + "\""); };
  std::vector<std::uint8_t> out;
  std::string_view rest = text;
  if (!rest.empty() && rest.back() == '.') rest.remove_suffix(1);
  while (!rest.empty()) {
    const auto dot = rest.find('.');
    const auto label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63) throw bad();
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    if (dot != std::string_view::npos && rest.empty()) throw bad();  // "a..": an empty last label
  }
  out.push_back(0);
  if (out.size() > kMaxName) throw bad();
  return out;
}

// "2.0.17.172.in-addr.arpa" → 172.17.0.2; nullopt for any other name.
std::optional<std::uint32_t> parse_reverse_name(std::string_view name) {
  constexpr std::string_view kSuffix = ".in-addr.arpa";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  std::uint32_t ip = 0;
  for (int i = 0; i < 4; ++i) {
    const auto dot = name.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
    const auto part = name.substr(0, dot);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return std::nullopt;
    std::uint32_t v = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (v > 255) return std::nullopt;
    ip |= v << (8 * i);  // the first label is the last octet
    name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
  }
  return ip;
}

}  // namespace

std::optional<DnsQuery> parse_dns_query(std::span<const std::uint8_t> msg) {
  if (msg.size() < kHeader) return std::nullopt;
  DnsQuery q;
  q.id = get16(msg, 0);
  q.flags = get16(msg, 2);
  if ((q.flags & kQr) || ((q.flags >> 11) & 0xF) != 0 || get16(msg, 4) == 0) return std::nullopt;
  auto name = read_name(msg, kHeader);
  if (!name || name->end + 4 > msg.size()) return std::nullopt;
  q.question.name = std::move(name->text);
  q.question.type = get16(msg, name->end);
  q.question.klass = get16(msg, name->end + 2);
  q.question_end = name->end + 4;
  return q;
}

std::vector<std::uint8_t> build_dns_answer(std::span<const std::uint8_t> msg, const DnsQuery& q,
                                           const std::vector<std::uint32_t>& addresses, const std::string& ptr_name,
                                           int rcode) {
  // The question as it was sent, its name uncompressed (a pointer in it would point into the
  // query's header, not ours); without pointers these are the bytes msg[12, question_end).
  std::optional<Name> name;
  if (q.question_end >= kHeader + 5 && q.question_end <= msg.size()) name = read_name(msg, kHeader);
  if (!name || name->end + 4 != q.question_end) throw InvalidArgument("DNS answer: the question is not the message's");
  std::vector<std::uint8_t> ptr;
  if (!ptr_name.empty()) ptr = encode_name(ptr_name);
  const std::size_t records = addresses.size() + (ptr_name.empty() ? 0 : 1);
  const std::size_t size =
      kHeader + name->wire.size() + 4 + addresses.size() * 16 + (ptr.empty() ? 0 : 12 + ptr.size());
  if (size > 0xFFFF)
    throw InvalidArgument("DNS answer: " + std::to_string(records) + " records do not fit in a message");

  std::vector<std::uint8_t> out;
  out.reserve(size);
  put16(out, q.id);
  put16(out, kQr | (q.flags & kRd) | kRa | (static_cast<unsigned>(rcode) & 0xF));
  put16(out, 1);        // QDCOUNT
  put16(out, records);  // ANCOUNT
  put16(out, 0);        // NSCOUNT
  put16(out, 0);        // ARCOUNT
  out.insert(out.end(), name->wire.begin(), name->wire.end());
  out.insert(out.end(), msg.begin() + static_cast<std::ptrdiff_t>(q.question_end - 4),
             msg.begin() + static_cast<std::ptrdiff_t>(q.question_end));
  auto record = [&](std::uint16_t type, std::size_t rdlength) {
    put16(out, 0xC000 | kHeader);  // the question's name
    put16(out, type);
    put16(out, kClassIn);
    put32(out, kTtl);
    put16(out, static_cast<std::uint32_t>(rdlength));
  };
  for (auto a : addresses) {
    record(kTypeA, 4);
    put32(out, a);
  }
  if (!ptr.empty()) {
    record(kTypePtr, ptr.size());
    out.insert(out.end(), ptr.begin(), ptr.end());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The server. One thread owns every socket and every piece of state below; add() and remove()
// hand it commands through a queue and an eventfd and wait for them to be applied, so a socket
// is never closed while the thread may use it.

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kUpstreamTimeout = std::chrono::seconds(2);
constexpr auto kTcpIdle = std::chrono::seconds(5);  // a TCP client silent this long is dropped
constexpr std::size_t kMaxConns = 256, kMaxForwards = 512;
constexpr std::size_t kMaxTcpOut = 1 << 20;  // a TCP client that reads nothing is dropped
constexpr std::size_t kUdpMax = 512;         // RFC 1035 §4.2.1 (no EDNS0 here)
constexpr std::uint64_t kWakeToken = 0;

struct Upstream {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// "ip", "ip:port", "v6", "[v6]:port" (a v6 scope "fe80::1%eth0" too).
Upstream parse_upstream(const std::string& s) {
  auto bad = [&] { return InvalidArgument("invalid DNS upstream \"" + s + "\": want ip or ip:port"); };
  std::string host = s, port = "53";
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos) throw bad();
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') throw bad();
      port = s.substr(close + 2);
    }
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) == 0 || std::stoi(port) > 65535)
    throw bad();
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) throw bad();
  Upstream u;
  u.len = std::min<socklen_t>(res->ai_addrlen, sizeof u.addr);
  std::memcpy(&u.addr, res->ai_addr, u.len);
  ::freeaddrinfo(res);
  return u;
}

std::shared_ptr<const std::vector<Upstream>> parse_upstreams(const std::vector<std::string>& list) {
  auto out = std::make_shared<std::vector<Upstream>>();
  for (const auto& s : list) out->push_back(parse_upstream(s));
  return out;
}

struct ScopeSockets {
  UniqueFd udp, tcp;
};

UniqueFd bound_socket(int type, const sockaddr_in& sa, const std::string& what) {
  UniqueFd s(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) throw_sys("socket", what);
  int one = 1;
  if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    throw_sys("setsockopt SO_REUSEADDR", what);
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) throw_sys("bind", what);
  if (type == SOCK_STREAM && ::listen(s.get(), 64) != 0) throw_sys("listen", what);
  return s;
}

// The scope's sockets, opened in the calling thread's network namespace (the one at `netns_path`).
ScopeSockets open_here(std::uint32_t address, std::uint16_t port, const std::string& netns_path) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(address);
  sa.sin_port = htons(port);
  const std::string where = ipv4_str(address) + ":" + std::to_string(port) + " in " + netns_path;
  ScopeSockets out;
  out.udp = bound_socket(SOCK_DGRAM, sa, "udp " + where);
  out.tcp = bound_socket(SOCK_STREAM, sa, "tcp " + where);
  return out;
}

// The scope's sockets, opened on a short-lived thread that entered the namespace at
// `netns_path` (a socket stays in the namespace it was created in). Not netlink.h's in_netns:
// this file needs nothing else of it.
ScopeSockets open_in_netns(const std::string& netns_path, std::uint32_t address, std::uint16_t port) {
  ScopeSockets out;
  std::exception_ptr err;
  std::thread t([&] {
    try {
      UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns) throw_sys("open", netns_path);
      if (::setns(ns.get(), CLONE_NEWNET) != 0) throw_sys("setns", netns_path);
      out = open_here(address, port, netns_path);
    } catch (...) {
      err = std::current_exception();
    }
  });
  t.join();
  if (err) std::rethrow_exception(err);
  return out;
}

// Where an answer goes: a UDP client of a scope's socket, or a TCP connection.
struct Origin {
  std::uint64_t udp_listener = 0;  // the scope's UDP socket's token
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  std::uint64_t conn = 0;  // the TCP connection's token
};

}  // namespace

struct DnsServer::Impl {
  struct Command {
    enum Kind { Add, Remove } kind;
    std::string scope;
    ScopeSockets sockets;
    std::shared_ptr<const std::vector<Upstream>> upstreams;  // Add: the scope's own, or null
    std::promise<void> done;
  };
  struct Scope {
    ScopeSockets sockets;
    std::uint64_t udp_token = 0, tcp_token = 0;
    std::shared_ptr<const std::vector<Upstream>> upstreams;  // null: the server's
  };
  struct Listener {
    std::string scope;
    int fd = -1;
    bool tcp = false;
  };
  struct Conn {
    std::string scope;
    UniqueFd fd;
    std::vector<std::uint8_t> in, out;
    Clock::time_point deadline;
    int pending = 0;  // forwarded queries not answered yet
    bool eof = false;
    std::uint32_t events = EPOLLIN;
  };
  struct Forward {
    std::vector<std::uint8_t> query;
    DnsQuery q;
    Origin origin;
    std::shared_ptr<const std::vector<Upstream>> upstreams;
    std::size_t next = 0;  // the upstream to try after the current one
    UniqueFd fd;
    Clock::time_point deadline;
  };

  DnsResolver resolver;

  std::mutex mu;  // guards upstreams, commands, stopping
  std::shared_ptr<const std::vector<Upstream>> upstreams;
  std::vector<Command> commands;
  bool stopping = false;
  std::mutex api_mu;  // add() and remove() one at a time

  UniqueFd epoll, wake;

  // The serving thread's alone.
  std::map<std::string, Scope> scopes;
  std::unordered_map<std::uint64_t, Listener> listeners;
  std::unordered_map<std::uint64_t, Conn> conns;
  std::unordered_map<std::uint64_t, Forward> forwards;
  std::uint64_t next_token = 1;
  std::uint32_t rotation = 0;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(65536);

  std::thread thread;  // last: started once everything above exists

  Impl(DnsResolver r, std::shared_ptr<const std::vector<Upstream>> u)
      : resolver(std::move(r)), upstreams(std::move(u)) {
    epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll) throw_sys("epoll_create1", "dns server");
    wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake) throw_sys("eventfd", "dns server");
    watch(wake.get(), kWakeToken, EPOLLIN);
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lk(mu);
      stopping = true;
    }
    notify();
    if (thread.joinable()) thread.join();
  }

  void notify() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof one);
  }

  // Runs `c` on the serving thread and waits for it.
  void post(Command c) {
    auto done = c.done.get_future();
    {
      std::lock_guard lk(mu);
      commands.push_back(std::move(c));
    }
    notify();
    done.get();
  }

  // add() and add_here(): checks the address and upstreams, closes the scope's sockets before
  // (they may hold the same address), then serves the ones `open` makes.
  void add_scope(const std::string& scope, const std::string& address, const std::vector<std::string>& upstreams,
                 const std::function<ScopeSockets(std::uint32_t)>& open) {
    const auto ip = parse_ipv4(address);
    if (!ip) throw InvalidArgument("invalid DNS server address \"" + address + "\"");
    std::shared_ptr<const std::vector<Upstream>> own;
    if (!upstreams.empty()) own = parse_upstreams(upstreams);
    std::lock_guard lk(api_mu);
    post({Command::Remove, scope, {}, {}, {}});
    post({Command::Add, scope, open(*ip), std::move(own), {}});
  }

  void watch(int fd, std::uint64_t token, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw_sys("epoll_ctl add", "dns server");
  }

  // ---- the serving thread

  void run() {
    std::vector<epoll_event> events(64);
    for (;;) {
      const int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms());
      if (n < 0 && errno != EINTR) {
        log::error(sys_message("epoll_wait", "dns server", errno));
        return;
      }
      for (int i = 0; i < n; ++i) {
        const auto token = events[i].data.u64;
        if (token == kWakeToken) {
          if (!apply_commands()) return;
          continue;
        }
        try {
          dispatch(token, events[i].events);
        } catch (const std::exception& e) {
          log::warn(std::string("dns server: ") + e.what());
        }
      }
      try {
        expire();
      } catch (const std::exception& e) {
        log::warn(std::string("dns server: ") + e.what());
      }
    }
  }

  int timeout_ms() const {
    std::optional<Clock::time_point> first;
    auto consider = [&](Clock::time_point t) {
      if (!first || t < *first) first = t;
    };
    for (const auto& [_, f] : forwards) consider(f.deadline);
    for (const auto& [_, c] : conns)
      if (c.pending == 0) consider(c.deadline);
    if (!first) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*first - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
  }

  // false once the server is stopping.
  bool apply_commands() {
    std::uint64_t v;
    [[maybe_unused]] auto n = ::read(wake.get(), &v, sizeof v);
    std::vector<Command> todo;
    {
      std::lock_guard lk(mu);
      if (stopping) return false;
      todo.swap(commands);
    }
    for (auto& c : todo) {
      try {
        drop_scope(c.scope);
        if (c.kind == Command::Add) add_scope(c.scope, std::move(c.sockets), std::move(c.upstreams));
        c.done.set_value();
      } catch (...) {
        c.done.set_exception(std::current_exception());
      }
    }
    return true;
  }

  void add_scope(const std::string& name, ScopeSockets s, std::shared_ptr<const std::vector<Upstream>> upstreams) {
    Scope sc;
    sc.upstreams = std::move(upstreams);
    sc.udp_token = next_token++;
    sc.tcp_token = next_token++;
    watch(s.udp.get(), sc.udp_token, EPOLLIN);
    watch(s.tcp.get(), sc.tcp_token, EPOLLIN);
    listeners[sc.udp_token] = {name, s.udp.get(), false};
    listeners[sc.tcp_token] = {name, s.tcp.get(), true};
    sc.sockets = std::move(s);
    scopes[name] = std::move(sc);
  }

  // Closes the scope's sockets and its TCP connections. Its forwarded queries still pending are
  // dropped when they complete (their origin is gone).
  void drop_scope(const std::string& name) {
    auto it = scopes.find(name);
    if (it == scopes.end()) return;
    listeners.erase(it->second.udp_token);
    listeners.erase(it->second.tcp_token);
    scopes.erase(it);
    std::erase_if(conns, [&](const auto& c) { return c.second.scope == name; });
  }

  void dispatch(std::uint64_t token, std::uint32_t events) {
    if (auto l = listeners.find(token); l != listeners.end()) {
      if (l->second.tcp)
        accept_all(l->second);
      else
        read_udp(token, l->second);
    } else if (conns.count(token)) {
      on_conn(token, events);
    } else if (forwards.count(token)) {
      on_forward(token);
    }
    // else: closed earlier in this round
  }

  void read_udp(std::uint64_t token, const Listener& l) {
    const std::string scope = l.scope;
    const int fd = l.fd;
    for (int i = 0; i < 64 && listeners.count(token); ++i) {
      Origin o;
      o.udp_listener = token;
      o.peer_len = sizeof o.peer;
      const auto n = ::recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC,
                                reinterpret_cast<sockaddr*>(&o.peer), &o.peer_len);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        continue;  // EINTR, or an error queued by an earlier send (ECONNREFUSED)
      }
      if (static_cast<std::size_t>(n) > buf.size()) continue;  // truncated: not a query of ours
      std::vector<std::uint8_t> msg(buf.begin(), buf.begin() + n);
      if (auto q = parse_dns_query(msg)) handle_query(scope, msg, *q, o);
    }
  }

  void accept_all(const Listener& l) {
    for (int i = 0; i < 64; ++i) {
      UniqueFd fd(::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or the client gave up (ECONNABORTED)
      }
      if (conns.size() >= kMaxConns) continue;  // closed at once
      const auto token = next_token++;
      watch(fd.get(), token, EPOLLIN);
      Conn c;
      c.scope = l.scope;
      c.fd = std::move(fd);
      c.deadline = Clock::now() + kTcpIdle;
      conns.emplace(token, std::move(c));
    }
  }

  void on_conn(std::uint64_t token, std::uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      conns.erase(token);  // reset or gone both ways: nothing can reach the client any more
      return;
    }
    if (events & EPOLLOUT) flush(token);
    if ((events & EPOLLIN) && conns.count(token)) read_conn(token);
  }

  // Reads what the client sent: 2-byte length, then the message (RFC 1035 §4.2.2), several per
  // connection. A message too short to be a query or one that does not parse closes it.
  void read_conn(std::uint64_t token) {
    auto& c = conns.at(token);
    const auto n = ::recv(c.fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conns.erase(token);
      return;
    }
    if (n == 0) {  // the client is done sending: answer what is pending, then close
      c.eof = true;
      flush(token);
      return;
    }
    c.in.insert(c.in.end(), buf.begin(), buf.begin() + n);
    c.deadline = Clock::now() + kTcpIdle;
    std::vector<std::vector<std::uint8_t>> messages;
    while (c.in.size() >= 2) {
      const std::size_t len = get16(c.in, 0);
      if (len < kHeader) {
        conns.erase(token);
        return;
      }
      if (c.in.size() < 2 + len) break;
      messages.emplace_back(c.in.begin() + 2, c.in.begin() + 2 + static_cast<std::ptrdiff_t>(len));
      c.in.erase(c.in.begin(), c.in.begin() + 2 + static_cast<std::ptrdiff_t>(len));
    }
    Origin o;
    o.conn = token;
    for (const auto& m : messages) {
      if (!conns.count(token)) return;
      auto q = parse_dns_query(m);
      if (!q) {
        conns.erase(token);
        return;
      }
      handle_query(conns.at(token).scope, m, *q, o);
    }
  }

  // Writes what is queued for the client; closes the connection when it failed, or when the
  // client has stopped sending and everything it asked was answered.
  void flush(std::uint64_t token) {
    auto it = conns.find(token);
    if (it == conns.end()) return;
    auto& c = it->second;
    std::size_t sent = 0;
    while (sent < c.out.size()) {
      const auto n = ::send(c.fd.get(), c.out.data() + sent, c.out.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        conns.erase(it);
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
    c.out.erase(c.out.begin(), c.out.begin() + static_cast<std::ptrdiff_t>(sent));
    if (c.eof && c.out.empty() && c.pending == 0) {
      conns.erase(it);
      return;
    }
    const std::uint32_t want = (c.eof ? 0u : std::uint32_t{EPOLLIN}) | (c.out.empty() ? 0u : std::uint32_t{EPOLLOUT});
    if (want != c.events) {
      epoll_event ev{};
      ev.events = want;
      ev.data.u64 = token;
      if (::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0) {
        conns.erase(it);
        return;
      }
      c.events = want;
    }
  }

  void respond(const Origin& o, std::span<const std::uint8_t> answer) {
    if (o.conn) {
      auto it = conns.find(o.conn);
      if (it == conns.end() || answer.size() > 0xFFFF) return;
      auto& c = it->second;
      c.out.push_back(static_cast<std::uint8_t>(answer.size() >> 8));
      c.out.push_back(static_cast<std::uint8_t>(answer.size()));
      c.out.insert(c.out.end(), answer.begin(), answer.end());
      c.deadline = Clock::now() + kTcpIdle;
      if (c.out.size() > kMaxTcpOut) {
        conns.erase(it);
        return;
      }
      flush(o.conn);
      return;
    }
    auto l = listeners.find(o.udp_listener);
    if (l == listeners.end()) return;  // the scope was removed meanwhile
    (void)::sendto(l->second.fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&o.peer), o.peer_len);
  }

  void handle_query(const std::string& scope, std::span<const std::uint8_t> msg, const DnsQuery& q, const Origin& o) {
    std::optional<std::vector<std::uint8_t>> answer;
    try {
      answer = answer_locally(scope, msg, q, o.conn == 0);
    } catch (const std::exception& e) {
      log::warn("dns server: " + q.question.name + " for " + scope + ": " + e.what());
      answer = build_dns_answer(msg, q, {}, "", kServfail);
    }
    if (answer)
      respond(o, *answer);
    else
      forward(scope, msg, q, o);
  }

  // The answer for a name hoistd knows; nullopt for one to forward.
  std::optional<std::vector<std::uint8_t>> answer_locally(const std::string& scope, std::span<const std::uint8_t> msg,
                                                          const DnsQuery& q, bool udp) {
    const auto& question = q.question;
    if (question.klass != kClassIn) return std::nullopt;
    std::vector<std::uint32_t> addresses;
    std::string ptr;
    if (question.type == kTypeA || question.type == kTypeAaaa) {
      if (!resolver.lookup) return std::nullopt;
      addresses = resolver.lookup(scope, question.name);
      if (addresses.empty()) return std::nullopt;
      if (question.type == kTypeAaaa) return build_dns_answer(msg, q, {}, "", 0);  // the name has no IPv6 address
      if (addresses.size() > 1) {
        const auto first = static_cast<std::ptrdiff_t>(rotation++ % addresses.size());
        std::rotate(addresses.begin(), addresses.begin() + first, addresses.end());
      }
    } else if (question.type == kTypePtr) {
      const auto ip = parse_reverse_name(question.name);
      if (!ip || !resolver.reverse) return std::nullopt;
      auto name = resolver.reverse(scope, *ip);
      if (!name || name->empty()) return std::nullopt;
      ptr = std::move(*name);
    } else {
      return std::nullopt;
    }
    auto answer = build_dns_answer(msg, q, addresses, ptr, 0);
    if (udp && answer.size() > kUdpMax) {
      // What fits, with TC set: the client asks again over TCP.
      if (!addresses.empty()) {
        const std::size_t base = answer.size() - 16 * addresses.size();
        addresses.resize(base < kUdpMax ? (kUdpMax - base) / 16 : 0);
      }
      answer = build_dns_answer(msg, q, addresses, "", 0);  // a PTR record that does not fit: none
      answer[2] |= kTc >> 8;
    }
    return answer;
  }

  // ---- forwarding: one connected UDP socket per query in flight, upstreams tried in order

  // `scope`'s upstreams: its own, or the server's.
  void forward(const std::string& scope, std::span<const std::uint8_t> msg, const DnsQuery& q, const Origin& o) {
    Forward f;
    f.query.assign(msg.begin(), msg.end());
    f.q = q;
    f.origin = o;
    if (auto sc = scopes.find(scope); sc != scopes.end() && sc->second.upstreams) {
      f.upstreams = sc->second.upstreams;
    } else {
      std::lock_guard lk(mu);
      f.upstreams = upstreams;
    }
    if (forwards.size() >= kMaxForwards) {
      respond(o, build_dns_answer(msg, q, {}, "", kServfail));
      return;
    }
    const auto token = next_token++;
    if (!send_next(f, token)) {
      respond(o, build_dns_answer(msg, q, {}, "", kServfail));
      return;
    }
    if (o.conn) conns.at(o.conn).pending++;
    forwards.emplace(token, std::move(f));
  }

  // Sends the query to the next upstream that takes it; false when none is left.
  bool send_next(Forward& f, std::uint64_t token) {
    f.fd.reset();
    while (f.next < f.upstreams->size()) {
      const auto& u = (*f.upstreams)[f.next++];
      UniqueFd s(::socket(u.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!s) continue;
      if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&u.addr), u.len) != 0) continue;
      if (::send(s.get(), f.query.data(), f.query.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.query.size()))
        continue;
      watch(s.get(), token, EPOLLIN);
      f.fd = std::move(s);
      f.deadline = Clock::now() + kUpstreamTimeout;
      return true;
    }
    return false;
  }

  void on_forward(std::uint64_t token) {
    auto& f = forwards.at(token);
    for (int i = 0; i < 64; ++i) {
      const auto n = ::recv(f.fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        next_or_fail(token);  // refused (ICMP port unreachable) or another error: the next one
        return;
      }
      // The upstream's reply to this query (a connected socket hears only its upstream).
      if (static_cast<std::size_t>(n) >= kHeader && get16(buf, 0) == f.q.id) {
        finish(token, std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
        return;
      }
    }
  }

  void next_or_fail(std::uint64_t token) {
    auto& f = forwards.at(token);
    if (send_next(f, token)) return;
    const auto servfail = build_dns_answer(f.query, f.q, {}, "", kServfail);
    finish(token, servfail);
  }

  // Relays `reply` unchanged to the client and forgets the query.
  void finish(std::uint64_t token, std::span<const std::uint8_t> reply) {
    auto node = forwards.extract(token);
    const Origin o = node.mapped().origin;
    if (o.conn)
      if (auto c = conns.find(o.conn); c != conns.end()) c->second.pending--;
    respond(o, reply);
  }

  void expire() {
    const auto now = Clock::now();
    std::vector<std::uint64_t> late;
    for (const auto& [token, f] : forwards)
      if (f.deadline <= now) late.push_back(token);
    for (auto token : late) next_or_fail(token);
    std::erase_if(conns, [&](const auto& c) { return c.second.pending == 0 && c.second.deadline <= now; });
  }
};

DnsServer::DnsServer(DnsResolver resolver, std::vector<std::string> upstreams)
    : impl_(std::make_unique<Impl>(std::move(resolver), parse_upstreams(upstreams))) {}

DnsServer::~DnsServer() = default;

void DnsServer::add(const std::string& scope, const std::string& netns_path, const std::string& address,
                    std::uint16_t port, std::vector<std::string> upstreams) {
  impl_->add_scope(scope, address, upstreams, [&](std::uint32_t ip) { return open_in_netns(netns_path, ip, port); });
}

void DnsServer::add_here(const std::string& scope, const std::string& netns_path, const std::string& address,
                         std::uint16_t port, std::vector<std::string> upstreams) {
  impl_->add_scope(scope, address, upstreams, [&](std::uint32_t ip) { return open_here(ip, port, netns_path); });
}

void DnsServer::remove(const std::string& scope) {
  std::lock_guard lk(impl_->api_mu);
  impl_->post({Impl::Command::Remove, scope, {}, {}, {}});
}

void DnsServer::set_upstreams(std::vector<std::string> upstreams) {
  auto parsed = parse_upstreams(upstreams);
  std::lock_guard lk(impl_->mu);
  impl_->upstreams = std::move(parsed);
}

}  // namespace hoist::network
