#include "cli/compose/interpolate.h"

#include <gtest/gtest.h>

#include <map>

#include "cli/compose/dotenv.h"

namespace hoist::compose {
namespace {

std::map<std::string, std::string> vars = {{"A", "a"}, {"EMPTY", ""}, {"N", "B"}, {"B", "bee"}};
Lookup look = [](std::string_view n) -> std::optional<std::string> {
  auto it = vars.find(std::string(n));
  if (it == vars.end()) return std::nullopt;
  return it->second;
};

std::string I(std::string_view s) { return interpolate(s, look); }

TEST(Interpolate, Forms) {
  EXPECT_EQ(I("x$A-y"), "xa-y");
  EXPECT_EQ(I("${A}b"), "ab");
  EXPECT_EQ(I("$$A"), "$A");
  EXPECT_EQ(I("$$$A"), "$a");
  EXPECT_EQ(I("cost $5 and $ alone"), "cost $5 and $ alone");
  EXPECT_EQ(I("${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}|${UNSET-d}"), "d|d||d");
  EXPECT_EQ(I("${A:+r}|${EMPTY:+r}|${EMPTY+r}|${UNSET+r}"), "r||r|");
  EXPECT_EQ(I("${A:?no}${EMPTY?no}"), "a");
}

TEST(Interpolate, Nesting) {
  EXPECT_EQ(I("${UNSET:-${A}}"), "a");
  EXPECT_EQ(I("${UNSET:-${ALSO:-${B}x}}"), "beex");
  EXPECT_EQ(I("${UNSET:-{}}"), "{}");  // the first } closes (only ${ opens), the second is text
  EXPECT_EQ(I("${A:+${N}}-${UNSET:-$$}"), "B-$");
}

TEST(Interpolate, UnsetIsEmptyAndReported) {
  std::vector<std::string> unset;
  EXPECT_EQ(interpolate("[$NOPE][${NOPE2}]", look, &unset), "[][]");
  EXPECT_EQ(unset, (std::vector<std::string>{"NOPE", "NOPE2"}));
}

TEST(Interpolate, Errors) {
  try {
    I("${UNSET:?must be set}");
    FAIL();
  } catch (const MissingRequired& e) {
    EXPECT_STREQ(e.what(), "required variable UNSET is missing a value: must be set");
  }
  try {
    I("${EMPTY:?}");
    FAIL();
  } catch (const MissingRequired& e) {
    EXPECT_STREQ(e.what(), "required variable EMPTY is missing a value");
  }
  EXPECT_EQ(I("${EMPTY?x}"), "");
  for (const char* bad : {"${", "${}", "${1A}", "${A", "${A:}", "${A:x}", "${A!}"}) {
    EXPECT_THROW(I(bad), InvalidTemplate) << bad;
  }
}

TEST(Interpolate, ResultIsBounded) {
  std::map<std::string, std::string> big = {{"X", std::string(1 << 20, 'x')}};
  Lookup l = [&](std::string_view n) -> std::optional<std::string> { return big.at(std::string(n)); };
  std::string many;
  for (int i = 0; i < 17; ++i) many += "$X";
  EXPECT_THROW(interpolate(many, l), Error);
  EXPECT_EQ(interpolate("$X", l).size(), 1u << 20);
}

TEST(Dotenv, Syntax) {
  std::string text =
      "# comment\n"
      "PLAIN=value # trailing comment\n"
      "export EXPORTED=1\n"
      "SINGLE='lit $A # kept'\n"
      "DOUBLE=\"line1\\nline2 ${A}\"\n"
      "MULTI=\"first\nsecond\"\n"
      "REF=${PLAIN}-$A\n"
      "  SPACED =  x y  \n"
      "EMPTY=\n"
      "A\n"
      "MISSING\n"
      "HASH=a#b\n";
  auto env = parse_dotenv(text, "/p/.env", look);
  std::map<std::string, std::string> m(env.begin(), env.end());
  EXPECT_EQ(m["PLAIN"], "value");
  EXPECT_EQ(m["EXPORTED"], "1");
  EXPECT_EQ(m["SINGLE"], "lit $A # kept");
  EXPECT_EQ(m["DOUBLE"], "line1\nline2 a");
  EXPECT_EQ(m["MULTI"], "first\nsecond");
  EXPECT_EQ(m["REF"], "value-a");
  EXPECT_EQ(m["SPACED"], "x y");
  EXPECT_EQ(m["EMPTY"], "");
  EXPECT_EQ(m["A"], "a");
  EXPECT_EQ(m.count("MISSING"), 0u);
  EXPECT_EQ(m["HASH"], "a#b");
}

TEST(Dotenv, Errors) {
  try {
    parse_dotenv("OK=1\nBAD KEY=1\n", "/p/.env", look);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "failed to read /p/.env: line 2: unexpected character \"K\" in variable name \"BADK\"");
  }
  EXPECT_THROW(parse_dotenv("A=\"open\n", "/p/.env", look), Error);
  // A value naming itself twice doubles at each line (found by the fuzzer): bounded, not 2^n.
  std::string doubling = "C=x\n";
  for (int i = 0; i < 40; ++i) doubling += "C=$C$C\n";
  try {
    parse_dotenv(doubling, "/p/.env", look);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("longer than 1 MiB"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_dotenv("A=${NOPE:?needed}\n", "/p/.env", look), Error);
}

}  // namespace
}  // namespace hoist::compose
