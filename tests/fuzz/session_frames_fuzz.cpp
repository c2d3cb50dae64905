// The build session's frame decoder (common/session_frames.h), fed what a peer sends, in pieces
// of the input's choosing. Errors may only be InvalidArgument; every frame decoded encodes back to
// the bytes it came from.
#include "common/session_frames.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto text = hoist::fuzz::as_text(data, size);
  if (text.empty()) return 0;
  std::size_t piece = static_cast<unsigned char>(text[0]) % 32 + 1;
  text.remove_prefix(1);
  hoist::session::FrameDecoder d;
  std::string consumed;
  hoist::fuzz::expect_only_input_errors([&] {
    for (std::size_t pos = 0; pos < text.size(); pos += piece) {
      d.feed(text.substr(pos, piece));
      while (auto f = d.next()) {
        std::string again = hoist::session::encode_frame(f->type, f->stream, f->payload);
        if (text.substr(consumed.size(), again.size()) != again) hoist::fuzz::fail("a frame does not encode back");
        consumed += again;
      }
    }
    if (consumed.size() + d.pending() != text.size()) hoist::fuzz::fail("bytes lost or invented");
  });
  return 0;
}
