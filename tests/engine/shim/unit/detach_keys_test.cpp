// Docker's detach keys (engine/shim/protocol.h): parsing and finding them in a stream of input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "engine/shim/protocol.h"

namespace hoist::engine {
namespace {

TEST(DetachKeysTest, ParsedAsDockerDoes) {
  EXPECT_EQ(detach_key_bytes("ctrl-p,ctrl-q"), "\x10\x11");
  EXPECT_EQ(detach_key_bytes("ctrl-@"), std::string(1, '\0'));
  EXPECT_EQ(detach_key_bytes("ctrl-a"), "\x01");
  EXPECT_EQ(detach_key_bytes("ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"), "\x1a\x1b\x1c\x1d\x1e\x1f");
  EXPECT_EQ(detach_key_bytes("a,b"), "ab");  // one character is itself
  EXPECT_EQ(detach_key_bytes("ctrl-x,x,DEL"), "\x18x\x7f");
  for (const char* bad : {"", "ctrl-aa", "ctrl-P", "ab", "ctrl-a,", "a,,b", "del", "ctrl-1"}) {
    try {
      detach_key_bytes(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("unknown character: '"), std::string::npos) << e.what();
    }
  }
}

// Feeds `chunks`; returns what passed and whether (and at which chunk) the keys came.
struct Fed {
  std::string out;
  int detached_at = -1;
};
Fed feed(const std::string& keys, const std::vector<std::string>& chunks) {
  DetachScanner s(keys);
  Fed f;
  for (std::size_t i = 0; i < chunks.size(); ++i)
    if (s.feed(chunks[i], f.out)) {
      f.detached_at = static_cast<int>(i);
      break;
    }
  return f;
}

TEST(DetachKeysTest, FoundWhateverTheChunks) {
  auto f = feed("\x10\x11", {"ab", "\x10", "\x11", "never"});
  EXPECT_EQ(f.out, "ab");
  EXPECT_EQ(f.detached_at, 2);
  f = feed("\x10\x11", {"echo hi\n\x10\x11rest"});
  EXPECT_EQ(f.out, "echo hi\n");
  EXPECT_EQ(f.detached_at, 0);
  // A first key alone is held back until the next byte says it is not the sequence.
  f = feed("\x10\x11", {"\x10", "a", "\x10\x10", "\x11"});
  EXPECT_EQ(f.out, std::string("\x10" "a" "\x10"));
  EXPECT_EQ(f.detached_at, 3);
  f = feed("\x10\x11", {"x\x10", "y"});
  EXPECT_EQ(f.out, "x\x10y");
  EXPECT_EQ(f.detached_at, -1);
  f = feed("\x01", {"abc", "d\x01" "e"});
  EXPECT_EQ(f.out, "abcd");
  EXPECT_EQ(f.detached_at, 1);
  // No keys: everything passes.
  f = feed("", {"\x10\x11"});
  EXPECT_EQ(f.out, "\x10\x11");
  EXPECT_EQ(f.detached_at, -1);
}

}  // namespace
}  // namespace hoist::engine
