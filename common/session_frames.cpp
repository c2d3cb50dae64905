#include "common/session_frames.h"

#include "common/error.h"

namespace hoist::session {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string encode_frame(FrameType type, std::uint32_t stream, std::string_view payload) {
  if (payload.size() > kMaxPayload)
    throw InvalidArgument("session frame: payload of " + std::to_string(payload.size()) + " bytes (at most " +
                          std::to_string(kMaxPayload) + ")");
  std::string out;
  out.reserve(kHeadSize + payload.size());
  out += static_cast<char>(type);
  put_u32(out, stream);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::optional<Frame> FrameDecoder::next() {
  if (pending() < kHeadSize) return std::nullopt;
  const char* head = buf_.data() + pos_;
  auto type = static_cast<std::uint8_t>(head[0]);
  if (type < 1 || type > 3) throw InvalidArgument("session frame: unknown type " + std::to_string(type));
  std::uint32_t len = get_u32(head + 5);
  if (len > kMaxPayload)
    throw InvalidArgument("session frame: payload of " + std::to_string(len) + " bytes (at most " +
                          std::to_string(kMaxPayload) + ")");
  if (pending() < kHeadSize + len) return std::nullopt;
  Frame f;
  f.type = static_cast<FrameType>(type);
  f.stream = get_u32(head + 1);
  f.payload.assign(head + kHeadSize, len);
  pos_ += kHeadSize + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 16)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return f;
}

}  // namespace hoist::session
