#include "image/content_store.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>

#include <filesystem>

#include "common/error.h"
#include "common/file.h"

using namespace hoist;
using namespace hoist::image;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/hoist-cs-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { remove_all(path); }
};
size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}
}  // namespace

TEST(ContentStore, PutVerifiesAndPublishes) {
  TempDir t;
  ContentStore cs(t.path);
  auto d = digest_of("hello");
  EXPECT_EQ(d.str(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  EXPECT_FALSE(cs.has(d));
  EXPECT_EQ(cs.put("hello", d), d);
  EXPECT_TRUE(cs.has(d));
  EXPECT_EQ(cs.read(d), "hello");
  EXPECT_EQ(cs.size(d), 5);
  EXPECT_EQ(cs.list(), std::vector<Digest>{d});
  EXPECT_THROW(cs.read(d, 4), Error);  // over the limit
}

TEST(ContentStore, MismatchNeverBecomesVisible) {
  TempDir t;
  ContentStore cs(t.path);
  auto want = digest_of("the real content");
  try {
    cs.put("tampered content", want);
    FAIL() << "accepted a blob whose digest does not match";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("digest mismatch"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(cs.has(want));
  EXPECT_TRUE(cs.list().empty());
  EXPECT_EQ(count_files(t.path + "/ingest"), 0u);

  // Truncated: fewer bytes than the descriptor's size.
  auto w = cs.writer();
  w.write("the real", 8);
  EXPECT_THROW(w.commit(want, 16), Error);
  EXPECT_FALSE(cs.has(want));
  EXPECT_EQ(count_files(t.path + "/ingest"), 0u);
}

TEST(ContentStore, AbandonedWriterLeavesNothing) {
  TempDir t;
  ContentStore cs(t.path);
  {
    auto w = cs.writer();
    w.write("partial", 7);
    EXPECT_EQ(count_files(t.path + "/ingest"), 1u);
  }
  EXPECT_EQ(count_files(t.path + "/ingest"), 0u);
  EXPECT_TRUE(cs.list().empty());
}

TEST(ContentStore, LeftoversOfAKilledWriterAreRemovedOnOpen) {
  TempDir t;
  { ContentStore cs(t.path); }
  write_file(t.path + "/ingest/123-0-9", "half a blob", O_CREAT);
  ContentStore cs(t.path);
  EXPECT_EQ(count_files(t.path + "/ingest"), 0u);
}

TEST(ContentStore, StreamsLargeBlobsAndSha512) {
  TempDir t;
  ContentStore cs(t.path);
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = char(i);
  auto w = cs.writer();
  for (size_t off = 0; off < big.size(); off += 70000) w.write(big.data() + off, std::min<size_t>(70000, big.size() - off));
  auto d = w.commit(digest_of(big), std::int64_t(big.size()));
  EXPECT_EQ(cs.read(d), big);
  auto d512 = digest_of("x", DigestAlgo::Sha512);
  EXPECT_EQ(cs.put("x", d512), d512);
  EXPECT_TRUE(cs.has(d512));
  EXPECT_EQ(d512.hex.size(), 128u);
}

TEST(Digest, ParseRefusesMalformed) {
  for (auto* bad : {"sha256:", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256", "",
                    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g"})
    EXPECT_THROW(Digest::parse(bad), Error) << bad;
  EXPECT_EQ(Digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), digest_of(""));
}
