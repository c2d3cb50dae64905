// json-file log writer/reader (engine/containers/logs.h).
#include "common/error.h"
#include "engine/containers/log_attrs.h"
#include "engine/containers/log_ring.h"
#include "engine/containers/logs.h"

#include <limits>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <functional>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace hoist::engine {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class JsonFileLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/hoist-logs-XXXXXX";
    ASSERT_NE(mkdtemp(t), nullptr);
    dir_ = t;
    path_ = dir_ + "/c-json.log";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<json> lines() {
    std::ifstream in(path_);
    std::vector<json> out;
    for (std::string l; std::getline(in, l);) out.push_back(json::parse(l));
    return out;
  }
  std::vector<LogEntry> read(const LogReadOptions& o) {
    std::vector<LogEntry> v;
    read_logs(path_, o, [&](const LogEntry& e) {
      v.push_back(e);
      return true;
    });
    return v;
  }
  std::string dir_, path_;
};

TEST_F(JsonFileLogTest, DockerFormatOneEntryPerLine) {
  {
    LogWriter w(path_);
    w.write(1, "hi\nthere");
    w.write(2, "oops\n");
    w.write(1, " you\n");
  }
  auto l = lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0]["log"], "hi\n");
  EXPECT_EQ(l[0]["stream"], "stdout");
  EXPECT_EQ(l[1]["log"], "oops\n");
  EXPECT_EQ(l[1]["stream"], "stderr");
  EXPECT_EQ(l[2]["log"], "there you\n");
  std::string t = l[0]["time"];
  EXPECT_GT(parse_rfc3339_ns(t), 0) << t;
  EXPECT_EQ(t.back(), 'Z');
}

TEST_F(JsonFileLogTest, PartialAtSixteenKAndFlushOnClose) {
  {
    LogWriter w(path_);
    w.write(1, std::string(kLogPartialMax + 10, 'a') + "\n");
    w.write(1, "tail-without-newline");
  }
  auto l = lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0]["log"].get<std::string>().size(), kLogPartialMax);
  EXPECT_EQ(l[1]["log"], std::string(10, 'a') + "\n");
  EXPECT_EQ(l[2]["log"], "tail-without-newline");
}

TEST_F(JsonFileLogTest, EscapesControlAndInvalidUtf8) {
  std::string out;
  json_escape_append(out, std::string("a\"b\\c\t\x01\xc3\xa9\xff", 10));
  EXPECT_EQ(out, "a\\\"b\\\\c\\t\\u0001\xc3\xa9\\ufffd");
  auto j = json::parse(format_log_entry(std::string("x\x02\xff\n", 4), "stdout", "2026-01-01T00:00:00Z"));
  EXPECT_EQ(j["log"], "x\x02\xef\xbf\xbd\n");
}

TEST_F(JsonFileLogTest, Rfc3339AndUnixArgs) {
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:01Z"), 1000000000LL);
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T00:00:01.5Z"), 1500000000LL);
  EXPECT_EQ(parse_rfc3339_ns("1970-01-01T01:00:01+01:00"), 1000000000LL);
  EXPECT_EQ(parse_rfc3339_ns("2026-11-23T17:48:47.123456789Z") % 1000000000LL, 123456789LL);
  EXPECT_EQ(parse_rfc3339_ns("junk"), -1);
  // Out of the nanosecond range: the far future stays after now, Go's zero time before the epoch.
  EXPECT_EQ(parse_rfc3339_ns("2600-01-01T00:00:00Z"), std::numeric_limits<std::int64_t>::max());
  EXPECT_GT(parse_rfc3339_ns("2600-01-01T00:00:00Z"), parse_rfc3339_ns("2026-01-01T00:00:00Z"));
  EXPECT_EQ(parse_rfc3339_ns("0001-01-01T00:00:00Z"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(parse_time_arg_ns("12.25"), 12250000000LL);
  EXPECT_EQ(parse_time_arg_ns("1970-01-01T00:00:02Z"), 2000000000LL);
  EXPECT_EQ(parse_time_arg_ns("x1"), -1);
}

TEST_F(JsonFileLogTest, ReaderFiltersTailSinceUntil) {
  {
    std::ofstream o(path_);
    o << format_log_entry("one\n", "stdout", "2026-01-01T00:00:01Z");
    o << format_log_entry("two\n", "stderr", "2026-01-01T00:00:02Z");
    o << "garbage line\n";
    o << format_log_entry("three\n", "stdout", "2026-01-01T00:00:03Z");
    o << format_log_entry("four\n", "stdout", "2026-01-01T00:00:04Z");
  }
  LogReadOptions all;
  EXPECT_EQ(read(all).size(), 4u);
  LogReadOptions out_only;
  out_only.stderr_ = false;
  EXPECT_EQ(read(out_only).size(), 3u);
  LogReadOptions tail;
  tail.tail = 2;
  auto t = read(tail);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].log, "three\n");
  LogReadOptions zero;
  zero.tail = 0;
  EXPECT_TRUE(read(zero).empty());
  LogReadOptions window;
  window.since_ns = parse_rfc3339_ns("2026-01-01T00:00:02Z");
  window.until_ns = parse_rfc3339_ns("2026-01-01T00:00:03Z");
  auto w = read(window);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].stream, "stderr");
  EXPECT_EQ(w[1].log, "three\n");
  int n = 0;
  read_logs("/nonexistent/x.log", all, [&](const LogEntry&) { return ++n > 0; });
  EXPECT_EQ(n, 0);
}

TEST_F(JsonFileLogTest, RotationKeepsMaxFilesAndTheReaderSeesThemInOrder) {
  // Each entry is about 80 bytes: a 200-byte file takes three (dockerd's rule: rotated once it
  // has reached the size).
  {
    LogWriter w(path_, 200, 3);
    for (int i = 0; i < 11; ++i) w.write(1, "line " + std::to_string(i) + "\n");
  }
  EXPECT_TRUE(fs::exists(path_ + ".1"));
  EXPECT_TRUE(fs::exists(path_ + ".2"));
  EXPECT_FALSE(fs::exists(path_ + ".3"));
  auto all = read({});
  ASSERT_EQ(all.size(), 8u);  // the last three files: 3 + 3 + 2 entries
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].log, "line " + std::to_string(i + 3) + "\n");
}

TEST_F(JsonFileLogTest, OneFileStartsOverWhenFull) {
  {
    LogWriter w(path_, 150);  // max-file's default: 1
    for (int i = 0; i < 5; ++i) w.write(1, "line " + std::to_string(i) + "\n");
  }
  EXPECT_FALSE(fs::exists(path_ + ".1"));
  auto all = read({});
  ASSERT_EQ(all.size(), 1u);  // [0 1] [2 3] [4]
  EXPECT_EQ(all[0].log, "line 4\n");
}

TEST_F(JsonFileLogTest, CompressedRotationsAreReadInOrderWithAttrs) {
  {
    // Entries of about 105 bytes: three to a 250-byte file.
    LogWriter w(path_, 250, 3, R"({"a":"1","tag":"x y"})", true);
    for (int i = 0; i < 11; ++i) w.write(i % 2 ? 2 : 1, "line " + std::to_string(i) + "\n");
  }  // the writer waits for its last compression
  EXPECT_TRUE(fs::exists(path_ + ".1.gz"));
  EXPECT_TRUE(fs::exists(path_ + ".2.gz"));
  EXPECT_FALSE(fs::exists(path_ + ".1"));
  EXPECT_FALSE(fs::exists(path_ + ".3.gz"));
  EXPECT_EQ(fs::status(path_ + ".1.gz").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  auto all = read({});
  ASSERT_EQ(all.size(), 8u);  // [3 4 5] [6 7 8] [9 10]
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].log, "line " + std::to_string(i + 3) + "\n");
    ASSERT_EQ(all[i].attrs.size(), 2u);
    EXPECT_EQ(all[i].attrs[0], (std::pair<std::string, std::string>{"a", "1"}));
    EXPECT_EQ(hoist::engine::log_details_prefix(all[i]), "a=1,tag=x+y ");
  }
  std::string first;
  {
    std::ifstream f(path_);
    std::getline(f, first);
  }
  EXPECT_NE(first.find(R"({"log":"line 9\n","stream":"stderr","attrs":{"a":"1","tag":"x y"},"time":")"), std::string::npos) << first;
}

TEST(JsonFileLogOptions, MaxFileAsDockerd) {
  EXPECT_EQ(hoist::engine::parse_log_max_file("3"), 3);
  EXPECT_THROW(hoist::engine::parse_log_max_file("0"), hoist::InvalidArgument);
  try {
    hoist::engine::parse_log_max_file("x");
    ADD_FAILURE();
  } catch (const hoist::InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "strconv.Atoi: parsing \"x\": invalid syntax");
  }
}

TEST(JsonFileLogOptions, ModeAndMaxBufferSizeAsDockerd) {
  auto ring = [](const char* mode, const char* size) {
    std::string m = mode ? mode : "", sz = size ? size : "";
    return log_ring_bytes(mode ? &m : nullptr, size ? &sz : nullptr);
  };
  auto error = [&](const char* mode, const char* size) {
    try {
      ring(mode, size);
    } catch (const hoist::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(ring(nullptr, nullptr), -1);
  EXPECT_EQ(ring("", nullptr), -1);
  EXPECT_EQ(ring("blocking", nullptr), -1);
  EXPECT_EQ(ring("non-blocking", nullptr), 1000000);
  EXPECT_EQ(ring("non-blocking", "2k"), 2048);
  EXPECT_EQ(ring("non-blocking", "1.5m"), 1572864);
  EXPECT_EQ(ring("non-blocking", "0"), 0);
  EXPECT_EQ(error("bogus", nullptr), "logger: logging mode not supported: bogus");
  EXPECT_EQ(error("NON-BLOCKING", nullptr), "logger: logging mode not supported: NON-BLOCKING");
  EXPECT_EQ(error(nullptr, "1m"), "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  EXPECT_EQ(error("blocking", ""), "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  EXPECT_EQ(error("non-blocking", "abc"), "error parsing option max-buffer-size: invalid size: 'abc'");
  EXPECT_EQ(error("non-blocking", "-1"), "error parsing option max-buffer-size: invalid size: '-1'");
}

// A stuck log path (its writer blocked) does not block the writes: what does not fit in the ring
// is dropped; the rest is written in order once the log moves again.
TEST(LogRingTest, AStuckSinkDropsWhatDoesNotFitAndNeverBlocks) {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::vector<std::string> written;
  LogRing ring(10, [&](const std::string& e) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return open; });
    written.push_back(e);
  });
  EXPECT_TRUE(ring.push("first", 5));  // taken by the writer, which is stuck on it
  int taken = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) taken += ring.push("m" + std::to_string(i), 4);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(taken, 1);  // 5 + 4 bytes fit in 10, the next 4 do not
  EXPECT_EQ(ring.dropped(), 999u);
  {
    std::lock_guard lk(mu);
    open = true;
  }
  cv.notify_all();
  ring.drain();
  ASSERT_EQ(written.size(), static_cast<std::size_t>(taken) + 1);
  EXPECT_EQ(written[0], "first");
  EXPECT_EQ(written[1], "m0");
  // An empty ring takes an entry of any size.
  EXPECT_TRUE(ring.push(std::string(100, 'x'), 100));
}

TEST_F(JsonFileLogTest, NonBlockingWriterWritesEverythingWhenTheDiskKeepsUp) {
  {
    LogWriter w(path_, 0, 1, {}, false, 1000000);
    for (int i = 0; i < 100; ++i) w.write(i % 2 ? 2 : 1, "line " + std::to_string(i) + "\n");
  }
  auto l = lines();
  ASSERT_EQ(l.size(), 100u);
  EXPECT_EQ(l[99]["log"], "line 99\n");
  EXPECT_EQ(l[99]["stream"], "stderr");
}

TEST_F(JsonFileLogTest, FollowStopsWhenNotRunning) {
  LogWriter w(path_);
  w.write(1, "a\n");
  int calls = 0;
  std::vector<std::string> got;
  LogReadOptions o;
  o.follow = true;
  read_logs(path_, o, [&](const LogEntry& e) {
    got.push_back(e.log);
    return true;
  }, [&] {
    if (++calls == 2) w.write(1, "b\n");
    return calls < 4;
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], "b\n");
}

}  // namespace
}  // namespace hoist::engine

namespace {
hoist::engine::LogContainerInfo sample_info() {
  return {std::string(64, 'c'), "web", "sha256:" + std::string(64, 'f'), "bb:1", {{"a", "1"}, {"b", "x y"}, {"c.d", "3"}},
          {"E1=v1", "E2=v=2", "PATH=/bin"}};
}
std::string attrs_of(const std::map<std::string, std::string>& cfg) {
  return hoist::engine::log_attrs_json(cfg, sample_info());
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const hoist::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

// The options' attrs as dockerd's logger.Info.ExtraAttributes and its tag template (the
// expected values read from a private dockerd's json-file logs).
TEST(JsonFileLogOptions, AttrsFromLabelsEnvAndTag) {
  EXPECT_EQ(attrs_of({}), "");
  EXPECT_EQ(attrs_of({{"max-size", "1m"}}), "");
  EXPECT_EQ(attrs_of({{"labels", "a,b,zz"}}), R"({"a":"1","b":"x y"})");
  EXPECT_EQ(attrs_of({{"labels-regex", "^c\\."}}), R"({"c.d":"3"})");
  EXPECT_EQ(attrs_of({{"env", "E2,NOPE"}, {"env-regex", "^E1$"}}), R"({"E1":"v1","E2":"v=2"})");
  EXPECT_EQ(attrs_of({{"tag", "{{.ID}}|{{ .Name }}|{{.ImageID}}|{{.ImageName}}|{{.DaemonName}}"}}),
            R"({"tag":"cccccccccccc|web|sha256:fffff|bb:1|hoist"})");
  EXPECT_EQ(attrs_of({{"tag", "{{.FullID}}"}}), R"({"tag":")" + std::string(64, 'c') + R"("})");
  EXPECT_EQ(error_of([] { attrs_of({{"tag", "{{.Bogus}}"}}); }),
            "failed to initialize logging driver: template: log-tag:1:2: executing \"log-tag\" at <.Bogus>: "
            "can't evaluate field Bogus in type *logger.Info");
  EXPECT_NE(error_of([] { attrs_of({{"tag", "{{.Name | printf \"%s\"}}"}}); }).find("not supported yet"),
            std::string::npos);
  EXPECT_NE(error_of([] { attrs_of({{"labels-regex", "("}}); }).find("error parsing regexp"), std::string::npos);
}

TEST(JsonFileLogOptions, CompressNeedsRotation) {
  using hoist::engine::log_compress;
  EXPECT_FALSE(log_compress({}, 0, 1));
  EXPECT_TRUE(log_compress({{"compress", "true"}}, 1024, 3));
  EXPECT_FALSE(log_compress({{"compress", "0"}}, 0, 1));
  EXPECT_EQ(error_of([] { log_compress({{"compress", "true"}}, 0, 3); }),
            "failed to initialize logging driver: compress cannot be true when max-file is less than 2 or max-size is not set");
  EXPECT_EQ(error_of([] { log_compress({{"compress", "maybe"}}, 1024, 3); }),
            "failed to initialize logging driver: strconv.ParseBool: parsing \"maybe\": invalid syntax");
}
