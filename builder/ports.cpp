#include "builder/ports.h"

#include <arpa/inet.h>

#include <cctype>
#include <optional>

#include "common/error.h"
#include "common/strings.h"

namespace hoist::builder {

namespace {

// strconv.ParseUint(s, 10, 16)
std::optional<unsigned> port_number(const std::string& s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  unsigned v = static_cast<unsigned>(std::stoul(s));
  if (v > 65535) return std::nullopt;
  return v;
}

// nat.ParsePortRange: "80" or "80-90" (a third part is ignored, as Go's code does).
bool port_range(const std::string& s, unsigned& lo, unsigned& hi) {
  if (s.empty()) return false;
  auto dash = s.find('-');
  if (dash == std::string::npos) {
    auto v = port_number(s);
    if (!v) return false;
    lo = hi = *v;
    return true;
  }
  auto parts = split(s, '-');
  auto a = port_number(parts[0]), b = port_number(parts[1]);
  if (!a || !b || *b < *a) return false;
  lo = *a;
  hi = *b;
  return true;
}

bool valid_ip(std::string ip) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

}  // namespace

std::vector<std::string> exposed_ports(const std::string& raw) {
  auto parts = split(raw, ':');
  std::string container = parts.back(), host, ip;
  if (parts.size() == 2) host = parts[0];
  if (parts.size() >= 3) {
    host = parts[parts.size() - 2];
    parts.resize(parts.size() - 2);
    ip = join(parts, ":");
  }
  // nat.SplitProtoPort
  std::string proto = "tcp";
  auto pp = split(container, '/');
  if (container.empty() || pp[0].empty()) {
    container.clear();
  } else if (pp.size() > 1) {
    if (!pp[1].empty()) proto = pp[1];
    container = pp[0];
  }
  if (!ip.empty() && !valid_ip(ip)) throw InvalidArgument("Invalid ip address: " + ip);
  if (container.empty()) throw InvalidArgument("No port specified: " + raw + "<empty>");
  unsigned lo, hi, hlo = 0, hhi = 0;
  if (!port_range(container, lo, hi)) throw InvalidArgument("Invalid containerPort: " + container);
  if (!host.empty() && !port_range(host, hlo, hhi)) throw InvalidArgument("Invalid hostPort: " + host);
  if (!host.empty() && hi - lo != hhi - hlo && hi != lo)
    throw InvalidArgument("Invalid ranges specified for container and host Ports: " + container + " and " + host);
  std::string lproto = proto;
  for (auto& c : lproto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lproto != "tcp" && lproto != "udp" && lproto != "sctp") throw InvalidArgument("Invalid proto: " + proto);
  std::vector<std::string> out;
  for (unsigned p = lo; p <= hi; ++p) out.push_back(std::to_string(p) + "/" + lproto);
  return out;
}

}  // namespace hoist::builder
