// The embedded DNS server of user-defined networks, served by hoistd itself: for each container
// a UDP and a TCP socket opened inside the container's network namespace at 127.0.0.11:53 (as
// dockerd's), all served by one thread. It answers A queries for the names the resolver knows
// (container names, aliases, name.network: several addresses in rotating order), PTR queries
// for their addresses, and forwards everything else to the upstream resolvers from the host's
// namespace (so a loopback resolver of the host's resolv.conf works, as with Docker): the
// server's upstreams, or the container's own (its --dns servers, given to add()). A UDP
// answer of our own over 512 bytes carries the records that fit and TC (the client asks again
// over TCP); forwarded replies are relayed unchanged, to TCP clients too (framed; the upstream
// is asked over UDP, so a reply it truncated stays truncated).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hoist::network {

// One question of a DNS message (RFC 1035 §4.1.2).
struct DnsQuestion {
  std::string name;  // lower case, without the trailing dot ("web", "web.net1", "2.0.17.172.in-addr.arpa")
  std::uint16_t type = 0;   // 1 A, 12 PTR, 28 AAAA, ...
  std::uint16_t klass = 0;  // 1 IN
};

// A query as the server reads it: header fields and the first question. nullopt for anything
// that is not a well-formed standard query with at least one question (a response, a truncated
// or malformed message, a compression loop, a name over 255 bytes): the fuzz target's parser.
struct DnsQuery {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;  // as received (RD is echoed in the answer)
  DnsQuestion question;
  std::size_t question_end = 0;  // offset after the first question (the answer copies it)
};
std::optional<DnsQuery> parse_dns_query(std::span<const std::uint8_t> msg);

// An answer to `q` (its question copied from `msg`): A records for `addresses` (type A), or one
// PTR record naming `ptr_name` (type PTR), TTL 600 as dockerd's; with `rcode` (0 NOERROR,
// 3 NXDOMAIN, 2 SERVFAIL) and no records when both are empty. Flags: QR, AA off, RA on, RD as asked.
// The question's name is written out uncompressed. InvalidArgument when `q` is not `msg`'s, when
// `ptr_name` has no wire form (an empty label, one over 63 bytes) or the answer would exceed 64 KiB.
std::vector<std::uint8_t> build_dns_answer(std::span<const std::uint8_t> msg, const DnsQuery& q,
                                           const std::vector<std::uint32_t>& addresses,
                                           const std::string& ptr_name, int rcode);

// What the server asks of hoistd, for the container `scope` (its id) that sent the query. Both
// are called on the server's serving thread, one query at a time: they should be quick (every
// client waits meanwhile), may throw (the client gets SERVFAIL) and must not call the server's
// add() or remove() (those wait for that thread).
struct DnsResolver {
  // Addresses (host byte order) of `name` as seen from `scope`'s networks; empty: not ours.
  std::function<std::vector<std::uint32_t>(const std::string& scope, const std::string& name)> lookup;
  // The name of `address` as seen from `scope` ("web.net1"); nullopt: not ours.
  std::function<std::optional<std::string>(const std::string& scope, std::uint32_t address)> reverse;
};

class DnsServer {
 public:
  // `upstreams`: "ip" or "ip:port" of the resolvers to forward to (the host's resolv.conf
  // nameservers; IPv6 as "v6" or "[v6]:port"), tried in order with a timeout of 2 s each, from
  // the namespace of the thread that constructs the server; no answer from any: SERVFAIL.
  // InvalidArgument for a malformed one. Starts the serving thread.
  DnsServer(DnsResolver resolver, std::vector<std::string> upstreams);
  ~DnsServer();  // closes every socket and joins the thread
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Opens the container's sockets at `address`:`port` (127.0.0.11:53) inside the namespace at
  // `netns_path` and serves them as `scope`. Replaces the sockets of a scope added before (they
  // are closed first, as they may hold the same address: when the new ones cannot be opened the
  // scope is left without any). Error naming the socket, address, namespace and reason.
  // `upstreams`: where the scope's other names go, in the constructor's format and from the same
  // namespace (the container's --dns servers); empty: the server's (set_upstreams() changes
  // those, not a scope's own). InvalidArgument for a malformed one, before anything is closed.
  void add(const std::string& scope, const std::string& netns_path, const std::string& address = "127.0.0.11",
           std::uint16_t port = 53, std::vector<std::string> upstreams = {});
  // add() in the calling thread's network namespace, which must be the one at `netns_path` (a
  // thread that made or entered it; the path names it in errors): no thread of its own to enter it.
  void add_here(const std::string& scope, const std::string& netns_path, const std::string& address = "127.0.0.11",
                std::uint16_t port = 53, std::vector<std::string> upstreams = {});
  // Closes the scope's sockets and TCP connections before returning; nothing for an unknown one.
  void remove(const std::string& scope);
  // The server's upstreams from now on (queries in flight keep theirs).
  void set_upstreams(std::vector<std::string> upstreams);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoist::network
