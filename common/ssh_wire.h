// The SSH wire encoding (RFC 4251 §5) that OpenSSH key files and the agent protocol share:
// big-endian u32, length-prefixed strings, mpints; the agent protocol's message numbers. Pure.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hoist::ssh_wire {

// Reads fields in order; throws InvalidArgument(`what` + ": short") past the end.
class Reader {
 public:
  Reader(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {}
  std::uint8_t u8() {
    need(1);
    return static_cast<std::uint8_t>(data_[pos_++]);
  }
  std::uint32_t u32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_++]);
    return v;
  }
  std::string_view str() {
    std::uint32_t n = u32();
    need(n);
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view rest() const { return data_.substr(pos_); }
  bool done() const { return pos_ == data_.size(); }

 private:
  void need(std::size_t n) const {
    if (data_.size() - pos_ < n) throw InvalidArgument(what_ + ": short");
  }
  std::string_view data_;
  std::string what_;
  std::size_t pos_ = 0;
};

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
inline void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
// An unsigned big-endian magnitude as an mpint: no leading zeros, a zero byte before a set top bit.
inline void put_mpint(std::string& out, std::string_view magnitude) {
  std::size_t i = 0;
  while (i < magnitude.size() && magnitude[i] == 0) ++i;
  std::string v(magnitude.substr(i));
  if (!v.empty() && (static_cast<std::uint8_t>(v[0]) & 0x80)) v.insert(v.begin(), '\0');
  put_str(out, v);
}

// The agent protocol's message numbers (draft-miller-ssh-agent) and the largest message either
// side of Hoist's accepts.
namespace agent {
inline constexpr std::uint8_t kFailure = 5;
inline constexpr std::uint8_t kRequestIdentities = 11;
inline constexpr std::uint8_t kIdentitiesAnswer = 12;
inline constexpr std::uint8_t kSignRequest = 13;
inline constexpr std::uint8_t kSignResponse = 14;
inline constexpr std::uint32_t kMaxMessage = 256 * 1024;
}  // namespace agent

}  // namespace hoist::ssh_wire
