// common/strings.h: clean_path against Go's path.Clean results.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace hoist {
namespace {

TEST(CleanPath, AsGoPathClean) {
  EXPECT_EQ(clean_path(""), ".");
  EXPECT_EQ(clean_path("/"), "/");
  EXPECT_EQ(clean_path("//a//b/"), "/a/b");
  EXPECT_EQ(clean_path("./a/./b/."), "a/b");
  EXPECT_EQ(clean_path("a/../../b"), "../b");
  EXPECT_EQ(clean_path("../../x"), "../../x");
  EXPECT_EQ(clean_path("/../x"), "/x");
  EXPECT_EQ(clean_path("/a/b/.."), "/a");
  EXPECT_EQ(clean_path("a/.."), ".");
}

}  // namespace
}  // namespace hoist
