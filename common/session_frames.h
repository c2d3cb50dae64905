// The frames of Hoist's build session (docs/api.md, `POST /hoist/session`): several byte streams
// multiplexed over one hijacked API connection between hoistd and the CLI. Pure: no I/O.
//
// A frame is a 9-byte head, then its payload:
//   u8 type | u32 stream (big endian) | u32 payload length (big endian, at most kMaxPayload)
// Types:
//   Open  (hoistd → client): a new stream; the payload is the ssh id it is for ("default").
//   Data  (either way): bytes of the stream.
//   Close (either way): the sender is done with the stream (and ignores its further data); the
//         receiver closes its end. A stream the receiver does not know is ignored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoist::session {

enum class FrameType : std::uint8_t { Open = 1, Data = 2, Close = 3 };

constexpr std::size_t kHeadSize = 9;
constexpr std::uint32_t kMaxPayload = 1u << 16;

struct Frame {
  FrameType type = FrameType::Data;
  std::uint32_t stream = 0;
  std::string payload;
};

// A frame's bytes. Throws InvalidArgument for a payload over kMaxPayload.
std::string encode_frame(FrameType type, std::uint32_t stream, std::string_view payload = {});

// Frames out of a byte stream as it arrives, in any pieces.
class FrameDecoder {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next whole frame, nullopt while it is incomplete. Throws InvalidArgument for an unknown
  // type or a length over kMaxPayload (the connection is then unusable).
  std::optional<Frame> next();
  // Bytes fed and not yet returned as frames.
  std::size_t pending() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
};

}  // namespace hoist::session
