// The pure parts of a build's downloads (engine/build_fetch.h): the file name dockerd gives a
// download, and HTTP dates.
#include "engine/build_fetch.h"

#include <gtest/gtest.h>

namespace hoist::engine {
namespace {

TEST(BuildFetch, FileNameAsDockerd) {
  EXPECT_EQ(download_file_name("/dir/r.txt", ""), "r.txt");
  EXPECT_EQ(download_file_name("/dir/r.txt", "attachment; filename=\"other.txt\""), "r.txt");
  EXPECT_EQ(download_file_name("/dir/", "attachment; filename=\"other.txt\""), "other.txt");
  EXPECT_EQ(download_file_name("/", "attachment; filename=plain.bin"), "plain.bin");
  EXPECT_EQ(download_file_name("/", "attachment; filename=\"../../x/evil\""), "evil");
  EXPECT_EQ(download_file_name("/", "attachment; filename=\"dir/\""), "");
  EXPECT_EQ(download_file_name("", ""), "");
}

TEST(BuildFetch, HttpDates) {
  EXPECT_EQ(parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"), std::optional<time_t>(1700000000));
  EXPECT_EQ(parse_http_date("Tuesday, 14-Nov-23 22:13:20 GMT"), std::optional<time_t>(1700000000));
  EXPECT_EQ(parse_http_date("Tue Nov 14 22:13:20 2023"), std::optional<time_t>(1700000000));
  EXPECT_EQ(parse_http_date("yesterday"), std::nullopt);
}

}  // namespace
}  // namespace hoist::engine
