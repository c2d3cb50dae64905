#include "network/nat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common/error.h"
#include "common/log.h"
#include "network/nft_lib.h"

namespace hoist::network {

namespace {

// Names go into the script as they are (the table) or quoted (devices): only characters that
// can neither end a quoted string nor start a wildcard or another token, so no name can add
// syntax to the script.
bool plain_name(const std::string& name, std::size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void check_table(const std::string& table) {
  // nft reads an unquoted identifier: a letter first (a digit would make it a number).
  bool letter = !table.empty() && ((table[0] >= 'a' && table[0] <= 'z') || (table[0] >= 'A' && table[0] <= 'Z'));
  if (!letter || !plain_name(table, 64))
    throw InvalidArgument("invalid nftables table name \"" + table +
                          "\": a letter, then at most 63 letters, digits, '_', '.' or '-'");
}

// A network device name in double quotes.
std::string dev(const std::string& name) {
  if (!plain_name(name, 15))
    throw InvalidArgument("invalid device name \"" + name +
                          "\": at most 15 letters, digits, '_', '.' or '-'");
  return "\"" + name + "\"";
}

void check_proto(const std::string& proto) {
  if (proto != "tcp" && proto != "udp") throw InvalidArgument("invalid protocol \"" + proto + "\": tcp or udp");
}

std::string endpoint(std::uint32_t ip, std::uint16_t port) { return ipv4_str(ip) + ":" + std::to_string(port); }

std::string hex_mark(std::uint32_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

// "a, b, c": a set's elements.
std::string listed(const std::set<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

std::string trimmed(const char* s) {
  std::string out = s ? s : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

std::string render_ruleset(const std::string& table, const NatRules& rules) {
  check_table(table);
  std::set<std::string> internal, bridges, no_icc, no_icc_ports;
  for (const auto& n : rules.networks) {
    dev(n.bridge);
    bridges.insert(n.bridge);
    if (n.internal) internal.insert(n.bridge);
    if (!n.icc) {
      no_icc.insert(n.bridge);
      for (const auto& p : n.ports) no_icc_ports.insert(dev(p));
    }
  }

  std::string ports;
  for (const auto& p : rules.ports) {
    check_proto(p.proto);
    if (!p.bridge.empty()) dev(p.bridge);
    if (p.host_port == 0 || p.container_port == 0 || p.container_ip == 0)
      throw InvalidArgument("invalid port mapping " + endpoint(p.host_ip, p.host_port) + " -> " +
                            endpoint(p.container_ip, p.container_port) + "/" + p.proto);
    if (internal.count(p.bridge)) continue;  // an internal network publishes nothing
    ports += "\t\t";
    if (p.host_ip != 0) ports += "ip daddr " + ipv4_str(p.host_ip) + " ";
    ports += p.proto + " dport " + std::to_string(p.host_port) + " dnat to " +
             endpoint(p.container_ip, p.container_port) + "\n";
  }

  std::string post, forward, guard;
  for (const auto& n : rules.networks) {
    if (n.internal) continue;
    auto br = dev(n.bridge), subnet = n.subnet.str();
    // The way out: the subnet's traffic leaving through any other device.
    if (n.masquerade) post += "\t\tip saddr " + subnet + " oifname != " + br + " masquerade\n";
    // From the host's 127.0.0.1 to a published port: a loopback source cannot leave the host, so
    // it becomes the bridge's address. Only loopback sources: the host's other addresses are
    // reachable from the container as they are, and masquerading every connection the host
    // makes to its containers costs a NAT binding each (and a port search once thousands of
    // them linger in TIME_WAIT: 10× fewer short connections per second).
    post += "\t\toifname " + br + " ip saddr 127.0.0.0/8 masquerade\n";
    // Hairpin: from a container to a published port of its own bridge (itself or a neighbour);
    // the reply must come back through the host to be un-DNAT'ed. The source, not iifname: with
    // br_netfilter the packet is bridged (back out of its port: hairpin mode) and postrouting
    // sees no input device.
    post += "\t\toifname " + br + " ip saddr " + subnet + " ct status dnat masquerade\n";
  }
  // A bridge has route_localnet (for the replies to the host's 127.0.0.1 above): no packet from
  // it may reach the host's loopback addresses. Before conntrack undoes the masquerade of those
  // replies (they come to the bridge's address), so they pass.
  for (const auto& b : bridges) guard += "\t\tiifname " + dev(b) + " ip daddr 127.0.0.0/8 drop\n";
  for (const auto& b : internal) {
    forward += "\t\tiifname " + dev(b) + " oifname != " + dev(b) + " drop\n";
    forward += "\t\toifname " + dev(b) + " iifname != " + dev(b) + " drop\n";
  }
  // Inter-container communication off: a hairpin connection (DNAT'ed) is marked for the bridge
  // table (with br_netfilter this chain sees the bridged frames too), the rest is dropped.
  for (const auto& b : no_icc)
    forward += "\t\tiifname " + dev(b) + " oifname " + dev(b) + " ct status dnat meta mark set meta mark or " +
               hex_mark(kIccHairpinMark) + "\n";
  // A published port is open to every network (as docker-proxy makes it), the isolation of
  // bridges from each other is for everything else.
  forward += "\t\tct status dnat accept\n";
  for (const auto& b : bridges)
    if (!internal.count(b)) forward += "\t\tiifname " + dev(b) + " oifname != " + dev(b) + " oifname @bridges drop\n";
  for (const auto& b : no_icc) forward += "\t\tiifname " + dev(b) + " oifname " + dev(b) + " drop\n";

  std::string s;
  s += "table ip " + table + "\n";
  s += "delete table ip " + table + "\n";
  s += "table ip " + table + " {\n";
  if (!bridges.empty()) {
    std::set<std::string> quoted;
    for (const auto& b : bridges) quoted.insert(dev(b));
    s += "\tset bridges {\n\t\ttype ifname\n\t\telements = { " + listed(quoted) + " }\n\t}\n\n";
  }
  s += "\tchain prerouting_raw {\n"
       "\t\ttype filter hook prerouting priority raw; policy accept;\n" +
       guard + "\t}\n\n";
  // Loopback destinations from outside are never DNAT'ed (the kernel drops them as martians):
  // a port published on 127.0.0.1 is the host's alone.
  s += "\tchain prerouting {\n"
       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
       "\t\tip daddr 127.0.0.0/8 return\n"
       "\t\tfib daddr type local jump ports\n"
       "\t}\n\n";
  s += "\tchain output {\n"
       "\t\ttype nat hook output priority -100; policy accept;\n"
       "\t\tfib daddr type local jump ports\n"
       "\t}\n\n";
  s += "\tchain ports {\n" + ports + "\t}\n\n";
  s += "\tchain postrouting {\n"
       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n" +
       post + "\t}\n\n";
  s += "\tchain forward {\n"
       "\t\ttype filter hook forward priority filter; policy accept;\n" +
       forward + "\t}\n";
  s += "}\n";
  s += "table bridge " + table + "\n";
  s += "delete table bridge " + table + "\n";
  if (!no_icc.empty()) {
    // Frames switched from a container port of an icc=false bridge to another of its ports (or
    // back to itself): dropped, unless marked as a hairpin connection's by the ip table's forward
    // chain (br_netfilter runs it at priority -1 of this hook: this chain comes after).
    s += "table bridge " + table + " {\n";
    s += "\tset no_icc_ports {\n\t\ttype ifname\n";
    if (!no_icc_ports.empty()) s += "\t\telements = { " + listed(no_icc_ports) + " }\n";
    s += "\t}\n\n";
    s += "\tchain forward {\n"
         "\t\ttype filter hook forward priority 100; policy accept;\n"
         "\t\tmeta mark and " + hex_mark(kIccHairpinMark) + " != 0 meta mark set meta mark and " +
         hex_mark(~kIccHairpinMark) + " accept\n"
         "\t\tiifname @no_icc_ports drop\n"
         "\t}\n";
    s += "}\n";
  }
  return s;
}

Nftables::Nftables(std::string table) : table_(std::move(table)) { check_table(table_); }

std::string Nftables::exec(const std::string& script, const std::string& what) {
  // The script is read from a file: libnftables (1.0.6) quotes the line of an error right for a
  // file, and always the first line for a buffer.
  UniqueFd fd(::memfd_create("hoist-nft", MFD_CLOEXEC));
  if (!fd) throw_sys("nftables: " + what + ": memfd_create");
  for (std::size_t off = 0; off < script.size();) {
    ssize_t n = ::write(fd.get(), script.data() + off, script.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_sys("nftables: " + what + ": write the script");
    off += static_cast<std::size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());

  std::lock_guard lk(mu_);
  NftRunner::Result r = nft_.run_file(path);
  std::string err = trimmed(r.error.c_str());
  if (r.rc != 0) {
    // "/proc/self/fd/N:5:12-22: Error: ..." → "line 5:12-22: Error: ..."
    for (std::size_t at; (at = err.find(path + ":")) != std::string::npos;) err.replace(at, path.size() + 1, "line ");
    throw Error("nftables: " + what + ": " + (err.empty() ? "failed" : err));
  }
  return r.output;
}

void Nftables::apply(const NatRules& rules) {
  exec(render_ruleset(table_, rules), "apply table " + table_);
  std::optional<NatRules> before;
  {
    std::lock_guard lk(mu_);
    before = std::move(applied_);
    applied_ = rules;
  }
  for (const auto& m : rules.ports) {
    if (m.proto != "udp") continue;
    if (before && std::find(before->ports.begin(), before->ports.end(), m) != before->ports.end()) continue;
    try {
      delete_conntrack(m.proto, m.host_ip, m.host_port);
    } catch (const std::exception& e) {
      log::warn(std::string("nftables: ") + e.what());
    }
  }
}

std::size_t delete_conntrack(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) {
  check_proto(proto);
  const std::string what = "delete conntrack entries of " + proto + " " + endpoint(host_ip, port);
  std::unique_ptr<nl_sock, decltype(&nl_socket_free)> sk(nl_socket_alloc(), nl_socket_free);
  if (!sk) throw Error(what + ": out of memory");
  if (int rc = nfnl_connect(sk.get()); rc < 0) throw Error(what + ": connect to netfilter: " + nl_geterror(rc));
  nl_cache* raw = nullptr;
  if (int rc = nfnl_ct_alloc_cache(sk.get(), &raw); rc < 0) throw Error(what + ": dump: " + nl_geterror(rc));
  std::unique_ptr<nl_cache, decltype(&nl_cache_free)> cache(raw, nl_cache_free);
  const std::uint8_t l4 = proto == "udp" ? IPPROTO_UDP : IPPROTO_TCP;
  const std::uint32_t want = htonl(host_ip);
  std::size_t n = 0;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* ct = reinterpret_cast<nfnl_ct*>(o);
    if (nfnl_ct_get_family(ct) != AF_INET || nfnl_ct_get_proto(ct) != l4 || nfnl_ct_get_dst_port(ct, 0) != port)
      continue;
    if (host_ip != 0) {
      nl_addr* dst = nfnl_ct_get_dst(ct, 0);
      if (!dst || nl_addr_get_len(dst) != 4 || std::memcmp(nl_addr_get_binary_addr(dst), &want, 4) != 0) continue;
    }
    // An entry that went on its own meanwhile is no error.
    if (int rc = nfnl_ct_del(sk.get(), ct, 0); rc < 0 && rc != -NLE_OBJ_NOTFOUND)
      throw Error(what + ": " + nl_geterror(rc));
    ++n;
  }
  return n;
}

void Nftables::remove() {
  // Declaring the table first makes the delete succeed when it is absent; one transaction.
  exec("table ip " + table_ + "\ndelete table ip " + table_ + "\ntable bridge " + table_ + "\ndelete table bridge " +
           table_ + "\n",
       "remove table " + table_);
}

std::string Nftables::run(const std::string& cmd) { return exec(cmd, "run '" + cmd + "'"); }

std::uint16_t PortReservations::reserve(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) {
  check_proto(proto);
  std::lock_guard lk(mu_);
  // Ours already, or overlapping one of ours (the same port on every address and on one).
  if (port != 0)
    for (const auto& [key, fd] : held_) {
      const auto& [p, ip, pt] = key;
      if (p == proto && pt == port && (ip == host_ip || ip == 0 || host_ip == 0))
        throw Conflict("Bind for " + endpoint(host_ip, port) + " failed: port is already allocated");
    }

  UniqueFd fd(::socket(AF_INET, (proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  if (!fd) throw_sys("socket for", proto + " " + endpoint(host_ip, port));
  // No SO_REUSEADDR: a bound socket that never listens keeps every other bind() off the port.
  // Nothing is ever read: a datagram that reaches it (no DNAT, while the table is being
  // replaced) takes as little memory as can be.
  if (proto == "udp") {
    int zero = 0;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &zero, sizeof zero);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(host_ip);
  sa.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int err = errno;
    if (err == EADDRINUSE)
      throw Conflict("listen " + proto + "4 " + endpoint(host_ip, port) + ": bind: address already in use");
    throw SysError("bind", proto + " " + endpoint(host_ip, port), err);
  }
  socklen_t len = sizeof sa;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    throw_sys("getsockname of", proto + " " + endpoint(host_ip, port));
  std::uint16_t bound = ntohs(sa.sin_port);
  held_[{proto, host_ip, bound}] = std::move(fd);
  return bound;
}

void PortReservations::release(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) {
  std::lock_guard lk(mu_);
  held_.erase({proto, host_ip, port});
}

bool PortReservations::held(const std::string& proto, std::uint32_t host_ip, std::uint16_t port) const {
  std::lock_guard lk(mu_);
  return held_.count({proto, host_ip, port}) != 0;
}

}  // namespace hoist::network
