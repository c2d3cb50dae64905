#include "network/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <netlink/attr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "common/file.h"

namespace hoist::network {

namespace {

// ---- RAII for libnl's reference-counted objects and for undo steps ----

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using SockPtr = std::unique_ptr<nl_sock, Deleter<nl_socket_free>>;
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route_put>>;
using NlAddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr_put>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache_free>>;

// Runs an undo action when the scope is left before commit() (an exception part way). The undo's
// own failure is swallowed: the error worth reporting is the one that caused it.
class Undo {
 public:
  explicit Undo(std::function<void()> f) : f_(std::move(f)) {}
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;
  ~Undo() {
    if (!f_) return;
    try {
      f_();
    } catch (...) {
    }
  }
  void commit() { f_ = nullptr; }

 private:
  std::function<void()> f_;
};

// ---- the socket ----

// The kernel's extended-ack text after an error (NETLINK_EXT_ACK), "" when it sent none.
std::string extack_message(const nlmsgerr* e) {
  // libnl hands the callback nlmsg_data() of the NLMSG_ERROR message: its header lies just before.
  auto* hdr = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(e) - NLMSG_HDRLEN);
  if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  std::size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
  if (off >= hdr->nlmsg_len) return "";
  auto* head = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(hdr) + off);
  const nlattr* msg = nla_find(head, static_cast<int>(hdr->nlmsg_len - off), NLMSGERR_ATTR_MSG);
  if (!msg) return "";
  auto* text = static_cast<const char*>(nla_data(msg));
  return std::string(text, strnlen(text, static_cast<std::size_t>(nla_len(msg))));
}

// The errno behind a libnl code, for the requests whose kernel error libnl keeps to itself
// (rtnl_link_get_kernel() installs an error callback of its own); 0 for libnl's own failures.
int errno_of(int nl_code) {
  switch (-nl_code) {
    case NLE_EXIST: return EEXIST;
    case NLE_NODEV: return ENODEV;
    case NLE_OBJ_NOTFOUND: return ENODEV;  // RTM_GETLINK of an unknown name, on some kernels
    case NLE_PERM: return EPERM;
    case NLE_NOACCESS: return EACCES;
    case NLE_BUSY: return EBUSY;
    case NLE_INVAL: return EINVAL;
    case NLE_RANGE: return ERANGE;
    case NLE_OPNOTSUPP: return EOPNOTSUPP;
    case NLE_NOADDR: return EADDRNOTAVAIL;
    default: return 0;
  }
}

// A NETLINK_ROUTE socket of the calling thread's namespace. It keeps the kernel's own errno and
// message of the last failed request: libnl folds errnos into codes of its own ("Object exists"),
// while the user should read the kernel's words ("File exists").
class Socket {
 public:
  Socket() : sk_(nl_socket_alloc()) {
    if (!sk_) throw Error("allocate netlink socket: out of memory");
    nl_socket_modify_err_cb(sk_.get(), NL_CB_CUSTOM, on_error, this);
    if (int rc = nl_connect(sk_.get(), NETLINK_ROUTE); rc < 0)
      throw Error(std::string("connect rtnetlink socket: ") + nl_geterror(rc));
    // Best effort (kernels before 4.12 lack them): the kernel's reason in text, no echoed request.
    int one = 1;
    ::setsockopt(nl_socket_get_fd(sk_.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    ::setsockopt(nl_socket_get_fd(sk_.get()), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  }
  Socket(const Socket&) = delete;  // the error callback holds `this`
  Socket& operator=(const Socket&) = delete;

  nl_sock* get() const { return sk_.get(); }

  // Runs one request `f()` (a libnl call on this socket returning 0 or -NLE_*): 0 when it
  // succeeded, else the kernel's errno, or -1 when libnl failed on its own.
  template <class F>
  int attempt(F&& f) {
    err_ = 0;
    ext_.clear();
    rc_ = f();
    if (rc_ >= 0) return 0;
    if (!err_) err_ = errno_of(rc_);
    return err_ ? err_ : -1;
  }
  // Runs one request; throws "<what>: <reason>" when it fails.
  template <class F>
  void must(const std::string& what, F&& f) {
    if (attempt(std::forward<F>(f)) != 0) fail(what);
  }
  // Throws the last failure: Conflict for EEXIST, NotFound for ENODEV, Error otherwise.
  [[noreturn]] void fail(const std::string& what) const {
    std::string m = what + ": " + reason();
    if (err_ == EEXIST) throw Conflict(m);
    if (err_ == ENODEV) throw NotFound(m);
    throw Error(m);
  }

 private:
  std::string reason() const {
    if (!err_) return nl_geterror(rc_);
    std::string r = std::strerror(err_);
    if (!ext_.empty()) r += " (" + ext_ + ")";
    return r;
  }
  static int on_error(sockaddr_nl*, nlmsgerr* e, void* arg) {
    auto* self = static_cast<Socket*>(arg);
    self->err_ = -e->error;
    self->ext_ = extack_message(e);
    return NL_STOP;  // libnl still returns its own code for the request
  }

  SockPtr sk_;
  int err_ = 0, rc_ = 0;
  std::string ext_;
};

// ---- small builders and lookups ----

// The kernel's rule for interface names (dev_valid_name).
bool valid_ifname(const std::string& name) {
  return !name.empty() && name.size() < IFNAMSIZ && name != "." && name != ".." &&
         name.find_first_of("/: \t\n") == std::string::npos;
}

void check_ifname(const std::string& name, const std::string& what) {
  if (!valid_ifname(name)) throw InvalidArgument(what + ": invalid interface name \"" + name + "\"");
}

NlAddrPtr ipv4_addr(std::uint32_t ip, int prefix) {
  std::uint32_t be = htonl(ip);
  NlAddrPtr a(nl_addr_build(AF_INET, &be, sizeof be));
  if (!a) throw Error("allocate address: out of memory");
  nl_addr_set_prefixlen(a.get(), prefix);
  return a;
}

NlAddrPtr parse_mac(const std::string& mac, const std::string& what) {
  nl_addr* raw = nullptr;
  if (nl_addr_parse(mac.c_str(), AF_LLC, &raw) < 0) throw InvalidArgument(what + ": invalid MAC address " + mac);
  NlAddrPtr a(raw);
  if (nl_addr_get_len(a.get()) != 6) throw InvalidArgument(what + ": invalid MAC address " + mac);
  return a;
}

// The IPv4 address in `a`, host byte order; nullopt when it is not one.
std::optional<std::uint32_t> ipv4_of(nl_addr* a) {
  if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4) return std::nullopt;
  std::uint32_t be;
  std::memcpy(&be, nl_addr_get_binary_addr(a), 4);
  return ntohl(be);
}

// By the link's kind; rtnl_link_is_bridge() is about AF_BRIDGE port objects, not this.
bool is_bridge(rtnl_link* link) {
  const char* type = rtnl_link_get_type(link);
  return type && std::string_view(type) == "bridge";
}

// The link `name` of the socket's namespace, or null when there is none.
LinkPtr find_link(Socket& sk, const std::string& name, const std::string& what) {
  rtnl_link* raw = nullptr;
  int err = sk.attempt([&] { return rtnl_link_get_kernel(sk.get(), 0, name.c_str(), &raw); });
  if (err == ENODEV) return nullptr;
  if (err) sk.fail(what);
  return LinkPtr(raw);
}

LinkPtr must_find_link(Socket& sk, const std::string& name, const std::string& what) {
  LinkPtr l = find_link(sk, name, what);
  if (!l) throw NotFound(what + ": no such device " + name);
  return l;
}

struct LinkChange {
  bool up = false;
  int mtu = 0;     // 0: unchanged
  int master = 0;  // ifindex; 0: unchanged
};

void change_link(Socket& sk, rtnl_link* link, const LinkChange& c, const std::string& what) {
  LinkPtr ch(rtnl_link_alloc());
  if (c.up) rtnl_link_set_flags(ch.get(), IFF_UP);
  if (c.mtu > 0) rtnl_link_set_mtu(ch.get(), static_cast<unsigned>(c.mtu));
  if (c.master > 0) rtnl_link_set_master(ch.get(), c.master);
  sk.must(what, [&] { return rtnl_link_change(sk.get(), link, ch.get(), 0); });
}

// Adds ip/prefix (with its broadcast address) to the link `ifindex`; returns the kernel's errno.
int add_address(Socket& sk, int ifindex, std::uint32_t ip, int prefix) {
  AddrPtr a(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), AF_INET);
  NlAddrPtr local = ipv4_addr(ip, prefix);
  rtnl_addr_set_local(a.get(), local.get());
  rtnl_addr_set_prefixlen(a.get(), prefix);
  if (prefix < 31) {  // /31 and /32 have no broadcast address (RFC 3021)
    NlAddrPtr brd = ipv4_addr(Subnet{ip & Subnet{0, prefix}.mask(), prefix}.last(), 32);
    rtnl_addr_set_broadcast(a.get(), brd.get());
  }
  return sk.attempt([&] { return rtnl_addr_add(sk.get(), a.get(), NLM_F_EXCL); });
}

void add_default_route(Socket& sk, int ifindex, std::uint32_t gateway, const std::string& what) {
  RoutePtr r(rtnl_route_alloc());
  rtnl_route_set_family(r.get(), AF_INET);
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_scope(r.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
  NlAddrPtr dst = ipv4_addr(0, 0);
  rtnl_route_set_dst(r.get(), dst.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) throw Error(what + ": out of memory");
  rtnl_route_nh_set_ifindex(nh, ifindex);
  NlAddrPtr gw = ipv4_addr(gateway, 32);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns it now
  sk.must(what, [&] { return rtnl_route_add(sk.get(), r.get(), NLM_F_EXCL); });
}

// Deletes the link `name` of the socket's namespace; nothing when it is absent.
void delete_named(Socket& sk, const std::string& name, const std::string& what) {
  LinkPtr l(rtnl_link_alloc());
  rtnl_link_set_name(l.get(), name.c_str());
  int err = sk.attempt([&] { return rtnl_link_delete(sk.get(), l.get()); });
  if (err && err != ENODEV) sk.fail(what);
}

// ---- threads and namespaces ----

// Runs `fn` on a thread of its own, so that what it does to its namespaces stays with it.
void on_thread(const std::function<void()>& fn) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      fn();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  if (error) std::rethrow_exception(error);
}

void run_in_ns(int ns_fd, const std::string& path, const std::function<void()>& fn) {
  on_thread([&] {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) throw_sys("enter network namespace", path);
    fn();
  });
}

UniqueFd open_netns(const std::string& path, const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys(what + ": open", path);
  return fd;
}

// Makes `dir` a private mount of its own, as `ip netns` does with /run/netns: a namespace mounted
// under a shared mount would propagate to its peers (other mount namespaces sharing /run), and
// such a copy keeps the namespace alive after remove_netns. Idempotent; the mutex keeps two
// threads from stacking two bind mounts.
void make_private_mount(const std::string& dir) {
  static std::mutex mu;
  std::lock_guard lk(mu);
  if (::mount("", dir.c_str(), "none", MS_PRIVATE | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) throw_sys("make private mount", dir);
  // EINVAL: not a mount point yet.
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) throw_sys("bind mount", dir);
  if (::mount("", dir.c_str(), "none", MS_PRIVATE | MS_REC, nullptr) != 0) throw_sys("make private mount", dir);
}

// On the dedicated thread: a new namespace for this thread alone, mounted at `path`, lo up.
void unshare_and_mount(const std::string& path, const std::function<void()>& inside) {
  if (::unshare(CLONE_NEWNET) != 0) throw_sys("create network namespace", path);
  if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0)
    throw_sys("mount network namespace on", path);
  Undo unmount([&] { ::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW); });
  Socket sk;
  const std::string what = "set lo up in " + path;
  LinkPtr lo = must_find_link(sk, "lo", what);
  change_link(sk, lo.get(), {.up = true}, what);
  if (inside) inside();
  unmount.commit();
}

// ---- veth ----

void create_veth_pair(Socket& sk, const VethConfig& c, int ns_fd, nl_addr* mac, const std::string& what) {
  LinkPtr veth(rtnl_link_veth_alloc());
  if (!veth) throw Error(what + ": out of memory");
  rtnl_link_set_name(veth.get(), c.host_name.c_str());
  if (c.mtu > 0) rtnl_link_set_mtu(veth.get(), static_cast<unsigned>(c.mtu));
  // The peer is born in the container's namespace under its final name: it never shows up on the
  // host, where its name could clash with a host device.
  LinkPtr peer(rtnl_link_veth_get_peer(veth.get()));
  rtnl_link_set_name(peer.get(), c.container_name.c_str());
  rtnl_link_set_ns_fd(peer.get(), ns_fd);
  if (c.mtu > 0) rtnl_link_set_mtu(peer.get(), static_cast<unsigned>(c.mtu));
  if (mac) rtnl_link_set_addr(peer.get(), mac);
  sk.must(what, [&] { return rtnl_link_add(sk.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL); });
}

// Inside the container's namespace: address, up, default route (which needs the link up).
void configure_container_end(const VethConfig& c, const std::string& what) {
  Socket sk;
  LinkPtr link = must_find_link(sk, c.container_name, what);
  const int index = rtnl_link_get_ifindex(link.get());
  const std::string addr = ipv4_str(c.address) + "/" + std::to_string(c.prefix);
  if (add_address(sk, index, c.address, c.prefix) != 0) sk.fail(what + ": add address " + addr);
  change_link(sk, link.get(), {.up = true}, what + ": set " + c.container_name + " up");
  if (c.gateway)
    add_default_route(sk, index, *c.gateway, what + ": add default route via " + ipv4_str(*c.gateway));
}

int bridge_index(Socket& sk, const std::string& bridge, const std::string& what) {
  check_ifname(bridge, what);
  LinkPtr br = must_find_link(sk, bridge, what + ": bridge");
  if (!is_bridge(br.get())) throw InvalidArgument(what + ": " + bridge + " is not a bridge");
  return rtnl_link_get_ifindex(br.get());
}

// The bridge `c.name`, created when absent; Conflict when the name is another kind of link.
LinkPtr find_or_create_bridge(Socket& sk, const BridgeConfig& c, const std::string& what) {
  LinkPtr br = find_link(sk, c.name, what);
  if (!br) {
    LinkPtr fresh(rtnl_link_bridge_alloc());
    rtnl_link_set_name(fresh.get(), c.name.c_str());
    if (c.mtu > 0) rtnl_link_set_mtu(fresh.get(), static_cast<unsigned>(c.mtu));
    // EEXIST: another creator got there first; the type check below still applies.
    int err = sk.attempt([&] { return rtnl_link_add(sk.get(), fresh.get(), NLM_F_CREATE | NLM_F_EXCL); });
    if (err && err != EEXIST) sk.fail("create bridge " + c.name);
    br = must_find_link(sk, c.name, what);
  }
  if (!is_bridge(br.get())) {
    const char* type = rtnl_link_get_type(br.get());
    throw Conflict(what + ": " + c.name + " exists and is not a bridge (" + (type ? type : "no type") + ")");
  }
  return br;
}

bool same_words(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  std::string u, v;
  while (true) {
    bool more_x = static_cast<bool>(x >> u), more_y = static_cast<bool>(y >> v);
    if (more_x != more_y) return false;
    if (!more_x) return true;
    if (u != v) return false;
  }
}

}  // namespace

// ---- namespaces ----

void create_netns(const std::string& path, const std::function<void()>& inside) {
  if (is_netns(path)) throw Conflict("create network namespace " + path + ": already a network namespace");
  std::string dir = std::filesystem::path(path).parent_path().string();
  make_private_mount(dir.empty() ? "." : dir);
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  // A plain file left by a crash is reused: it is no namespace (checked above).
  if (!file && errno != EEXIST) throw_sys("create network namespace file", path);
  const bool created = file.valid();
  file.reset();
  Undo remove_file([&] {
    if (created) ::unlink(path.c_str());
  });
  on_thread([&] { unshare_and_mount(path, inside); });
  remove_file.commit();
}

void remove_netns(const std::string& path) {
  // Mounts may be stacked there (two create_netns racing); each one goes.
  for (int i = 0; i < 16 && is_netns(path); ++i)
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) throw_sys("unmount network namespace", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_sys("remove network namespace file", path);
}

bool is_netns(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0 || fs.f_type != static_cast<decltype(fs.f_type)>(NSFS_MAGIC)) return false;
  // nsfs holds every kind of namespace: ask which one this is.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd && ::ioctl(fd.get(), NS_GET_NSTYPE) == CLONE_NEWNET;
}

void in_netns(const std::string& path, const std::function<void()>& fn) {
  UniqueFd ns = open_netns(path, "enter network namespace");
  run_in_ns(ns.get(), path, fn);
}

// ---- links ----

void ensure_bridge(const BridgeConfig& c) {
  const std::string what = "ensure bridge " + c.name;
  check_ifname(c.name, what);
  if (!c.subnet.contains(c.gateway))
    throw InvalidArgument(what + ": gateway " + ipv4_str(c.gateway) + " is not in " + c.subnet.str());
  Socket sk;
  LinkPtr br = find_or_create_bridge(sk, c, what);
  // EEXIST: it has the gateway already (a restart reusing the bridge).
  const std::string addr = ipv4_str(c.gateway) + "/" + std::to_string(c.subnet.prefix);
  int err = add_address(sk, rtnl_link_get_ifindex(br.get()), c.gateway, c.subnet.prefix);
  if (err && err != EEXIST) sk.fail(what + ": add address " + addr);
  change_link(sk, br.get(), {.up = true, .mtu = c.mtu}, what + ": set up");
}

void delete_link(const std::string& name) {
  const std::string what = "delete link " + name;
  check_ifname(name, what);
  Socket sk;
  delete_named(sk, name, what);
}

bool link_exists(const std::string& name) {
  if (!valid_ifname(name)) return false;
  Socket sk;
  return find_link(sk, name, "look up link " + name) != nullptr;
}

static void set_hairpin(const std::string& port, const std::string& what) {
  std::string path = "/sys/class/net/" + port + "/brport/hairpin_mode";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), "1", 1) != 1) throw SysError(what + ": write", path, errno);
}

void add_veth(const VethConfig& c) {
  const std::string what = "add veth " + c.host_name + " (peer " + c.container_name + " in " + c.netns_path + ")";
  check_ifname(c.host_name, what);
  check_ifname(c.container_name, what);
  if (c.prefix < 1 || c.prefix > 32)
    throw InvalidArgument(what + ": invalid prefix length " + std::to_string(c.prefix));
  NlAddrPtr mac = c.mac.empty() ? nullptr : parse_mac(c.mac, what);
  Socket sk;
  const int master = bridge_index(sk, c.bridge, what);
  UniqueFd ns = open_netns(c.netns_path, what);
  create_veth_pair(sk, c, ns.get(), mac.get(), what);
  // All or nothing from here: deleting the host end deletes its peer too.
  Undo undo([&] { delete_named(sk, c.host_name, ""); });
  LinkPtr host = must_find_link(sk, c.host_name, what);
  change_link(sk, host.get(), {.up = true, .master = master}, what + ": attach " + c.host_name + " to " + c.bridge);
  // Hairpin: a container's traffic to a published port of its own comes back out of the port it
  // entered by (bridged, with br_netfilter); the bridge drops that unless the port allows it.
  set_hairpin(c.host_name, what);
  run_in_ns(ns.get(), c.netns_path, [&] { configure_container_end(c, what); });
  undo.commit();
}

void delete_link_in_netns(const std::string& netns_path, const std::string& name) {
  const std::string what = "delete link " + name + " in " + netns_path;
  check_ifname(name, what);
  if (!is_netns(netns_path)) return;  // the namespace is gone, and its links with it
  in_netns(netns_path, [&] {
    Socket sk;
    delete_named(sk, name, what);
  });
}

// ---- host state ----

std::vector<Subnet> host_routes() {
  Socket sk;
  nl_cache* raw = nullptr;
  sk.must("list routes", [&] { return rtnl_route_alloc_cache(sk.get(), AF_INET, 0, &raw); });
  CachePtr cache(raw);
  std::vector<Subnet> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    nl_addr* dst = rtnl_route_get_dst(r);
    auto ip = ipv4_of(dst);
    int prefix = dst ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0;
    if (!ip || prefix <= 0 || prefix > 32) continue;
    Subnet s{0, prefix};
    s.base = *ip & s.mask();
    out.push_back(s);
  }
  return out;
}

std::vector<std::uint32_t> host_addresses() {
  Socket sk;
  nl_cache* raw = nullptr;
  sk.must("list addresses", [&] { return rtnl_addr_alloc_cache(sk.get(), &raw); });
  CachePtr cache(raw);
  std::vector<std::uint32_t> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o))
    if (auto ip = ipv4_of(rtnl_addr_get_local(reinterpret_cast<rtnl_addr*>(o)))) out.push_back(*ip);
  return out;
}

void set_sysctl(const std::string& key, const std::string& value) {
  const std::string what = "set sysctl " + key + "=" + value;
  if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos)
    throw InvalidArgument(what + ": invalid key");
  const std::string path = "/proc/sys/" + key;
  try {
    // Compared word by word: procfs separates the values of a vector with tabs.
    if (same_words(read_file(path), value)) return;
    write_file(path, value);
  } catch (const SysError& e) {
    throw Error(what + ": " + e.what());
  }
}

}  // namespace hoist::network
