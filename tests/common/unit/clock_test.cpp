// Go's time.ParseDuration as hoistd reads it (prune's until filter, HEALTHCHECK options of import
// changes): its units and forms, and InvalidArgument for everything else (a "..s" once let
// std::invalid_argument out of the parser).
#include <stdlib.h>
#include <time.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/error.h"

using hoist::InvalidArgument;
using hoist::parse_go_duration_ns;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

TEST(GoDuration, UnitsAndForms) {
  EXPECT_EQ(parse_go_duration_ns("0"), 0);
  EXPECT_EQ(parse_go_duration_ns("1m30s"), 90'000'000'000);
  EXPECT_EQ(parse_go_duration_ns("500ms"), 500'000'000);
  EXPECT_EQ(parse_go_duration_ns("2h"), 7'200'000'000'000);
  EXPECT_EQ(parse_go_duration_ns("1.5us"), 1'500);
  EXPECT_EQ(parse_go_duration_ns("-3ns"), -3);
}

TEST(GoDuration, AnythingElseIsRefused) {
  for (const char* bad : {"", "5", "s", "1x", "..s", ".s", "-", "1e3s", "99999999999h"})
    EXPECT_THAT([&] { parse_go_duration_ns(bad); },
                ThrowsMessage<InvalidArgument>(HasSubstr(std::string("invalid duration \"") + bad + "\"")))
        << bad;
}

TEST(Rfc3339Nano, AsGosRFC3339NanoInUtc) {
  EXPECT_EQ(hoist::rfc3339_nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(hoist::rfc3339_nano(1764009999123400000), "2025-11-24T18:46:39.1234Z");
  EXPECT_EQ(hoist::rfc3339_nano(1764009999000000001), "2025-11-24T18:46:39.000000001Z");
  EXPECT_EQ(hoist::rfc3339_nano(-500000000), "1969-12-31T23:59:59.5Z");
}

TEST(Rfc3339Nano, InLocalTimeWithTheZonesOffset) {
  const char* old = ::getenv("TZ");
  std::string saved = old ? old : "";
  ::setenv("TZ", "UTC-5:30", 1);  // POSIX: 5:30 east of UTC
  ::tzset();
  EXPECT_EQ(hoist::rfc3339_nano(1764009999123400000, true), "2025-11-25T00:16:39.1234+05:30");
  ::setenv("TZ", "UTC+2", 1);
  ::tzset();
  EXPECT_EQ(hoist::rfc3339_nano(1764009999000000000, true), "2025-11-24T16:46:39-02:00");
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  EXPECT_EQ(hoist::rfc3339_nano(1764009999000000000, true), "2025-11-24T18:46:39Z");
  if (old) ::setenv("TZ", saved.c_str(), 1);
  else ::unsetenv("TZ");
  ::tzset();
}
