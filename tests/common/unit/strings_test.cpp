// common/strings.h: go_clean against Go's path.Clean results.
#include "common/strings.h"

#include <gtest/gtest.h>

namespace hoist {
namespace {

TEST(GoClean, AsGoPathClean) {
  EXPECT_EQ(go_clean(""), ".");
  EXPECT_EQ(go_clean("/"), "/");
  EXPECT_EQ(go_clean("//a//b/"), "/a/b");
  EXPECT_EQ(go_clean("./a/./b/."), "a/b");
  EXPECT_EQ(go_clean("a/../../b"), "../b");
  EXPECT_EQ(go_clean("../../x"), "../../x");
  EXPECT_EQ(go_clean("/../x"), "/x");
  EXPECT_EQ(go_clean("/a/b/.."), "/a");
  EXPECT_EQ(go_clean("a/.."), ".");
}

}  // namespace
}  // namespace hoist
