// common/session_frames.h: the build session's frames, whole and in pieces, and what is refused.
#include "common/session_frames.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace hoist::session {
namespace {

TEST(SessionFrames, EncodesTheHead) {
  std::string f = encode_frame(FrameType::Open, 0x01020304, "default");
  ASSERT_EQ(f.size(), kHeadSize + 7);
  EXPECT_EQ(f.substr(0, kHeadSize), std::string("\x01\x01\x02\x03\x04\x00\x00\x00\x07", 9));
  EXPECT_EQ(f.substr(kHeadSize), "default");
}

TEST(SessionFrames, DecodesByteByByte) {
  std::string bytes = encode_frame(FrameType::Open, 1, "default") + encode_frame(FrameType::Data, 1, std::string(300, 'x')) +
                      encode_frame(FrameType::Close, 1);
  FrameDecoder d;
  std::vector<Frame> got;
  for (char c : bytes) {
    d.feed(std::string_view(&c, 1));
    while (auto f = d.next()) got.push_back(*f);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, FrameType::Open);
  EXPECT_EQ(got[0].payload, "default");
  EXPECT_EQ(got[1].type, FrameType::Data);
  EXPECT_EQ(got[1].payload, std::string(300, 'x'));
  EXPECT_EQ(got[2].type, FrameType::Close);
  EXPECT_EQ(got[2].stream, 1u);
  EXPECT_EQ(got[2].payload, "");
  EXPECT_EQ(d.pending(), 0u);
}

TEST(SessionFrames, KeepsAnIncompleteFrame) {
  FrameDecoder d;
  std::string f = encode_frame(FrameType::Data, 7, "abc");
  d.feed(f.substr(0, f.size() - 1));
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.pending(), f.size() - 1);
  d.feed(f.substr(f.size() - 1));
  auto got = d.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->stream, 7u);
  EXPECT_EQ(got->payload, "abc");
}

TEST(SessionFrames, RefusesUnknownTypesAndHugePayloads) {
  FrameDecoder d;
  d.feed(std::string("\x09\0\0\0\1\0\0\0\0", 9));
  EXPECT_THROW(d.next(), InvalidArgument);
  FrameDecoder big;
  big.feed(std::string("\x02\0\0\0\1\x00\x01\x00\x01", 9));  // 65537 bytes
  EXPECT_THROW(big.next(), InvalidArgument);
  EXPECT_THROW(encode_frame(FrameType::Data, 1, std::string(kMaxPayload + 1, 'x')), InvalidArgument);
  EXPECT_NO_THROW(encode_frame(FrameType::Data, 1, std::string(kMaxPayload, 'x')));
}

}  // namespace
}  // namespace hoist::session
