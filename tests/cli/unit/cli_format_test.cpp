// The CLI's pure parts: Go-template subset, table formats, human sizes and durations, container
// status strings, progress bars, the stream demuxer, flag parsing and option parsers.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/format.h"

using namespace hoist::cli;
using json = nlohmann::json;

TEST(CliTemplate, FieldsNestedJsonIndex) {
  json v = {{"Name", "web"},
            {"State", {{"ExitCode", 3}, {"Running", false}}},
            {"Cmd", {"sh", "-c", "x"}},
            {"Labels", {{"a.b", "c"}}},
            {"F", 1.5}};
  EXPECT_EQ(render_template("{{.Name}}", v), "web");
  EXPECT_EQ(render_template("x {{ .State.ExitCode }} {{.State.Running}}", v), "x 3 false");
  EXPECT_EQ(render_template("{{json .Cmd}}", v), "[\"sh\",\"-c\",\"x\"]");
  EXPECT_EQ(render_template("{{json .State}}", v), "{\"ExitCode\":3,\"Running\":false}");
  EXPECT_EQ(render_template("{{index .Labels \"a.b\"}}", v), "c");
  EXPECT_EQ(render_template("{{index .Cmd 1}}", v), "-c");
  EXPECT_EQ(render_template("{{.Cmd}}", v), "[sh -c x]");
  EXPECT_EQ(render_template("{{.Missing}}", v), "<no value>");
  EXPECT_EQ(render_template("{{.F}}", v), "1.5");
  EXPECT_EQ(render_template("{{join .Cmd \",\"}}", v), "sh,-c,x");
  EXPECT_EQ(render_template("{{upper .Name}} {{.Name | upper}}", v), "WEB WEB");
  EXPECT_EQ(render_template("{{len .Cmd}}", v), "3");
  EXPECT_EQ(render_template("{{.}}", json("s")), "s");
  EXPECT_THROW(render_template("{{.Name", v), hoist::Error);
  EXPECT_THROW(render_template("{{nosuchfn .Name}}", v), hoist::Error);
}

TEST(CliTemplate, TableAndJsonLists) {
  std::vector<json> rows = {{{"ID", "abc"}, {"Names", "web"}}, {{"ID", "defghijklmnop"}, {"Names", "db"}}};
  std::map<std::string, std::string> hdr = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
  EXPECT_EQ(format_list("table {{.ID}}\\t{{.Names}}", rows, hdr),
            "CONTAINER ID    NAMES\n"
            "abc             web\n"
            "defghijklmnop   db\n");
  EXPECT_EQ(format_list("{{.Names}}", rows, hdr), "web\ndb\n");
  EXPECT_EQ(format_list("json", rows, hdr), "{\"ID\":\"abc\",\"Names\":\"web\"}\n{\"ID\":\"defghijklmnop\",\"Names\":\"db\"}\n");
  // Unknown field titles are upper-cased; short columns get tabwriter's minimum width of 10.
  EXPECT_EQ(format_list("table {{.X}}\t{{.Names}}", {{{"X", "1"}, {"Names", "n"}}}, hdr), "X         NAMES\n1         n\n");
}

TEST(CliHuman, Sizes) {
  EXPECT_EQ(human_size(0, 3), "0B");
  EXPECT_EQ(human_size(512, 3), "512B");
  EXPECT_EQ(human_size(1980000, 3), "1.98MB");
  EXPECT_EQ(human_size(4261000, 3), "4.26MB");
  EXPECT_EQ(human_size(1234), "1.234kB");
  EXPECT_EQ(human_size(1e9, 3), "1GB");
  EXPECT_EQ(bytes_size(1536), "1.5KiB");
  EXPECT_EQ(bytes_size(64 * 1024 * 1024), "64MiB");
}

TEST(CliHuman, Durations) {
  EXPECT_EQ(human_duration(0.3), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(3), "3 seconds");
  EXPECT_EQ(human_duration(59), "59 seconds");
  EXPECT_EQ(human_duration(60), "About a minute");
  EXPECT_EQ(human_duration(125), "2 minutes");
  EXPECT_EQ(human_duration(3600), "About an hour");
  EXPECT_EQ(human_duration(3 * 3600), "3 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  EXPECT_EQ(human_duration(20 * 86400), "2 weeks");
  EXPECT_EQ(human_duration(90 * 86400), "3 months");
  EXPECT_EQ(human_duration(3 * 365 * 86400), "3 years");
  EXPECT_EQ(human_duration(120) + " ago", "2 minutes ago");
}

TEST(CliHuman, ContainerStatus) {
  EXPECT_EQ(container_status("running", 0, 3, 0), "Up 3 seconds");
  EXPECT_EQ(container_status("paused", 0, 125, 0), "Up 2 minutes (Paused)");
  EXPECT_EQ(container_status("running", 0, 3, 0, "healthy"), "Up 3 seconds (healthy)");
  EXPECT_EQ(container_status("running", 0, 3, 0, "starting"), "Up 3 seconds (health: starting)");
  EXPECT_EQ(container_status("exited", 0, 10, 5), "Exited (0) 5 seconds ago");
  EXPECT_EQ(container_status("exited", 137, 10, 0.2), "Exited (137) Less than a second ago");
  EXPECT_EQ(container_status("created", 0, 0, 0), "Created");
  EXPECT_EQ(container_status("restarting", 1, 0, 2), "Restarting (1) 2 seconds ago");
  EXPECT_EQ(container_status("dead", 0, 0, 0), "Dead");
}

TEST(CliHuman, Rfc3339) {
  EXPECT_DOUBLE_EQ(parse_rfc3339("1970-01-01T00:01:00Z"), 60);
  EXPECT_NEAR(parse_rfc3339("2026-11-23T20:30:37.5Z"), 1795465837.5, 1e-3);
  EXPECT_DOUBLE_EQ(parse_rfc3339("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_DOUBLE_EQ(parse_rfc3339("0001-01-01T00:00:00Z"), 0);
  EXPECT_DOUBLE_EQ(parse_rfc3339("junk"), 0);
}

TEST(CliProgress, Bars) {
  EXPECT_EQ(progress_bar(0, 0), "");
  EXPECT_EQ(progress_bar(1000, 0), "     1kB");
  std::string half = progress_bar(500000, 1000000, 120);
  EXPECT_EQ(half, "[" + std::string(25, '=') + ">" + std::string(25, ' ') + "]    500kB/1MB");
  // Narrow terminals: numbers only.
  EXPECT_EQ(progress_bar(500000, 1000000, 80), "   500kB/1MB");
  std::string full = progress_bar(1000000, 1000000, 120);
  EXPECT_EQ(full, "[" + std::string(50, '=') + ">]      1MB/1MB");
  // Past the total (the total was a guess): no numbers.
  EXPECT_EQ(progress_bar(2000000, 1000000, 120), "[" + std::string(50, '=') + ">] ");
  EXPECT_EQ(progress_line("a1b2c3", "Downloading", "[=>  ] 1MB/2MB"), "a1b2c3: Downloading [=>  ] 1MB/2MB");
  EXPECT_EQ(progress_line("a1b2c3", "Pull complete", ""), "a1b2c3: Pull complete");
  EXPECT_EQ(progress_line("", "Status: Downloaded newer image", ""), "Status: Downloaded newer image");
}

static std::string frame(int stream, const std::string& payload) {
  std::string h(8, '\0');
  h[0] = (char)stream;
  uint32_t n = (uint32_t)payload.size();
  h[4] = (char)(n >> 24);
  h[5] = (char)(n >> 16);
  h[6] = (char)(n >> 8);
  h[7] = (char)n;
  return h + payload;
}

TEST(CliDemux, AnyChunking) {
  std::string all = frame(1, "hello ") + frame(2, "oops\n") + frame(1, "world\n") + frame(1, "") + frame(1, std::string(70000, 'x'));
  for (size_t chunk : {1ul, 3ul, 7ul, 8ul, 9ul, 100ul, 100000ul}) {
    std::string out, err;
    Demuxer d([&](int s, std::string_view data) { (s == 2 ? err : out).append(data); });
    for (size_t i = 0; i < all.size(); i += chunk) d.feed(std::string_view(all).substr(i, chunk));
    EXPECT_EQ(out, "hello world\n" + std::string(70000, 'x')) << chunk;
    EXPECT_EQ(err, "oops\n") << chunk;
    EXPECT_TRUE(d.idle());
  }
  Demuxer d([](int, std::string_view) {});
  d.feed(std::string("\1\0\0", 3));
  EXPECT_FALSE(d.idle());
}

TEST(CliArgs, PflagStyle) {
  std::vector<FlagSpec> specs = {{"detach", 'd', false}, {"interactive", 'i', false}, {"tty", 't', false},
                                 {"env", 'e', true},     {"name", 0, true},           {"rm", 0, false}};
  auto p = parse_flags(specs, {"-it", "--name=x", "-e", "A=1", "-eB=2", "--rm=false", "img", "cmd", "-d"}, false);
  EXPECT_TRUE(p.flag("interactive"));
  EXPECT_TRUE(p.flag("tty"));
  EXPECT_FALSE(p.flag("rm"));
  EXPECT_TRUE(p.has("rm"));
  EXPECT_FALSE(p.flag("detach"));
  EXPECT_EQ(p.get("name"), "x");
  EXPECT_EQ(p.all("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(p.args, (std::vector<std::string>{"img", "cmd", "-d"}));
  auto q = parse_flags(specs, {"a", "-d", "--", "-b"}, true);
  EXPECT_TRUE(q.flag("detach"));
  EXPECT_EQ(q.args, (std::vector<std::string>{"a", "-b"}));
  EXPECT_THROW(parse_flags(specs, {"--bogus"}), FlagError);
  EXPECT_THROW(parse_flags(specs, {"-x"}), FlagError);
  EXPECT_THROW(parse_flags(specs, {"--name"}), FlagError);
  EXPECT_THROW(parse_flags(specs, {"--rm=maybe"}), FlagError);
  try {
    parse_flags(specs, {"--bogus"});
  } catch (const FlagError& e) {
    EXPECT_STREQ(e.what(), "unknown flag: --bogus");
  }
}

TEST(CliArgs, ValueParsers) {
  EXPECT_EQ(parse_ram_size("64m"), 64ll << 20);
  EXPECT_EQ(parse_ram_size("1g"), 1ll << 30);
  EXPECT_EQ(parse_ram_size("512MiB"), 512ll << 20);
  EXPECT_EQ(parse_ram_size("1000"), 1000);
  EXPECT_THROW(parse_ram_size("lots"), hoist::Error);
  EXPECT_EQ(parse_go_duration("30s"), 30000000000ll);
  EXPECT_EQ(parse_go_duration("1m30s"), 90000000000ll);
  EXPECT_EQ(parse_go_duration("500ms"), 500000000ll);
  EXPECT_EQ(parse_go_duration("0"), 0);
  EXPECT_THROW(parse_go_duration("10"), hoist::Error);
  EXPECT_THROW(parse_go_duration("3x"), hoist::Error);
  EXPECT_EQ(parse_env_file("# c\n\nA=1\r\n  B=two words\nC\n"), (std::vector<std::string>{"A=1", "B=two words", "C"}));
  EXPECT_EQ(short_id("sha256:0123456789abcdef"), "0123456789ab");
  EXPECT_EQ(ellipsis("sh -c 'echo out; echo err'", 20), "sh -c 'echo out; ec…");
}

TEST(CliHuman, SinceUntilTimestamps) {
  EXPECT_EQ(get_timestamp("1700000000", 0), "1700000000");
  EXPECT_EQ(get_timestamp("1700000000.5", 0), "1700000000.5");
  EXPECT_EQ(get_timestamp("10m", 1000.0), "400.000000000");
  EXPECT_EQ(get_timestamp("1h30m", 10000.0), "4600.000000000");
  EXPECT_EQ(get_timestamp("1970-01-02", 0), "86400.000000000");
  EXPECT_EQ(get_timestamp("1970-01-01T00:01:00Z", 0), "60.000000000");
  EXPECT_EQ(get_timestamp("1970-01-01T02:00:00+01:00", 0), "3600.000000000");
  EXPECT_THROW(get_timestamp("yesterday", 0), hoist::Error);
}
