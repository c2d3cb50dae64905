// Go's filepath.Match and Clean (COPY/ADD wildcards) and .dockerignore's rules.
#include <gtest/gtest.h>

#include "builder/dockerignore.h"
#include "builder/go_match.h"

using namespace hoist::builder;

namespace {

// 1: match, 0: no match, -1: ErrBadPattern.
int m(const std::string& pattern, const std::string& name) {
  try {
    return go_match(pattern, name) ? 1 : 0;
  } catch (const BadPattern&) {
    return -1;
  }
}

}  // namespace

TEST(GoMatch, AsFilepathMatch) {
  // Go's own table for filepath.Match.
  struct Case {
    const char* pattern;
    const char* name;
    int want;
  } cases[] = {
      {"abc", "abc", 1},
      {"*", "abc", 1},
      {"*c", "abc", 1},
      {"a*", "a", 1},
      {"a*", "abc", 1},
      {"a*", "ab/c", 0},
      {"a*/b", "abc/b", 1},
      {"a*/b", "a/c/b", 0},
      {"a*b*c*d*e*/f", "axbxcxdxe/f", 1},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", 1},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", 0},
      {"a*b?c*x", "abxbbxdbxebxczzx", 1},
      {"a*b?c*x", "abxbbxdbxebxczzy", 0},
      {"ab[c]", "abc", 1},
      {"ab[b-d]", "abc", 1},
      {"ab[e-g]", "abc", 0},
      {"ab[^c]", "abc", 0},
      {"ab[^b-d]", "abc", 0},
      {"ab[^e-g]", "abc", 1},
      {"a\\*b", "a*b", 1},
      {"a\\*b", "ab", 0},
      {"a?b", "a\xE2\x98\xBA" "b", 1},
      {"a[^a]b", "a\xE2\x98\xBA" "b", 1},
      {"a???b", "a\xE2\x98\xBA" "b", 0},
      {"a[^a][^a][^a]b", "a\xE2\x98\xBA" "b", 0},
      {"[a-\xCE\xB6]*", "\xCE\xB1", 1},
      {"*[a-\xCE\xB6]", "A", 0},
      {"a?b", "a/b", 0},
      {"a*b", "a/b", 0},
      {"[\\]a]", "]", 1},
      {"[\\-]", "-", 1},
      {"[x\\-]", "x", 1},
      {"[x\\-]", "-", 1},
      {"[x\\-]", "z", 0},
      {"[\\-x]", "x", 1},
      {"[\\-x]", "-", 1},
      {"[\\-x]", "a", 0},
      {"[]a]", "]", -1},
      {"[-]", "-", -1},
      {"[x-]", "x", -1},
      {"[x-]", "-", -1},
      {"[x-]", "z", -1},
      {"[-x]", "x", -1},
      {"[-x]", "-", -1},
      {"[-x]", "a", -1},
      {"\\", "a", -1},
      {"[a-b-c]", "a", -1},
      {"[", "a", -1},
      {"[^", "a", -1},
      {"[^bc", "a", -1},
      {"a[", "a", -1},
      {"a[", "ab", -1},
      {"a[", "x", -1},
      {"a/b[", "x", -1},
      {"*x", "xxx", 1},
  };
  for (auto& c : cases) EXPECT_EQ(m(c.pattern, c.name), c.want) << c.pattern << " vs " << c.name;
}

TEST(GoMatch, WildcardsAndClean) {
  EXPECT_TRUE(has_wildcard("*.txt"));
  EXPECT_TRUE(has_wildcard("a?"));
  EXPECT_TRUE(has_wildcard("[ab]"));
  EXPECT_FALSE(has_wildcard("a\\*b"));
  EXPECT_FALSE(has_wildcard("plain/path"));
  EXPECT_EQ(go_clean(""), ".");
  EXPECT_EQ(go_clean("a/../b/./c//"), "b/c");
  EXPECT_EQ(go_clean("/../x"), "/x");
  EXPECT_EQ(go_clean("../../x/.."), "../..");
  EXPECT_EQ(go_clean("/"), "/");
  EXPECT_EQ(go_clean("./"), ".");
}

TEST(Dockerignore, ReadingAsDocker) {
  auto p = read_dockerignore("\xEF\xBB\xBF# comment\n*.go\r\n  /a/../b/  \n!  /x/y\n #not-a-comment\n\n!\n/\n");
  EXPECT_EQ(p, (std::vector<std::string>{"*.go", "b", "!x/y", "#not-a-comment", "!", "/"}));
  EXPECT_EQ(dockerignore_candidates("sub/app.Dockerfile"),
            (std::vector<std::string>{"sub/app.Dockerfile.dockerignore", ".dockerignore"}));
}

TEST(Dockerignore, MatchesAsDocker) {
  // A context sent by the docker 20.10 CLI with this .dockerignore kept exactly: README.md a.b a/f.go
  // axb dir/keep.txt docs/ we[ird x/foo x/y.txt, and a/b/c/f.go and a/b/x.txt, which that CLI's
  // older matcher did not check against their parent a/b (which "a**b" matches); since docker 23
  // every parent directory counts, and they are excluded, as here.
  IgnoreMatcher im(read_dockerignore("# comment\n*.go\n!a/b/**/*.go\ndir\n!dir/keep.txt\n**/*.md\n!README.md\n"
                                     "/x/../foo\na**b\nDockerfile\n.dockerignore\n"));
  for (auto* kept : {"README.md", "a.b", "a/f.go", "axb", "dir/keep.txt", "docs", "we[ird", "x/foo",
                     "x/y.txt", "a", "x"})
    EXPECT_FALSE(im.excluded(kept)) << kept;
  for (auto* gone : {"root.go", "dir", "dir/sub/y", "dir/z", "keep.md", "docs/a.md", "foo", "ab", "a/b", "a/b/x.txt", "a/b/c/f.go",
                     "Dockerfile", ".dockerignore"})
    EXPECT_TRUE(im.excluded(gone)) << gone;
  EXPECT_TRUE(im.has_exclusions());
  EXPECT_FALSE(im.excluded("."));
}

TEST(Dockerignore, PatternKinds) {
  auto ex = [](const std::vector<std::string>& patterns, const std::string& path) {
    return IgnoreMatcher(patterns).excluded(path);
  };
  EXPECT_TRUE(ex({"**"}, "any/thing"));
  EXPECT_TRUE(ex({"**/foo"}, "foo"));
  EXPECT_TRUE(ex({"**/foo"}, "a/b/foo"));
  EXPECT_TRUE(ex({"**/foo"}, "a/foo/bar"));
  EXPECT_FALSE(ex({"**/foo"}, "afoo"));
  EXPECT_TRUE(ex({"**foo"}, "afoo"));
  EXPECT_TRUE(ex({"foo/**"}, "foo/a/b"));
  EXPECT_TRUE(ex({"a/**/b"}, "a/b"));
  EXPECT_TRUE(ex({"a/**/b"}, "a/x/y/b"));
  EXPECT_FALSE(ex({"a/**/b"}, "a/xb"));
  EXPECT_TRUE(ex({"**/*.txt"}, "x.txt"));
  EXPECT_TRUE(ex({"**/*.txt"}, "d/e/x.txt"));
  EXPECT_TRUE(ex({"*/*.txt"}, "d/x.txt"));
  EXPECT_FALSE(ex({"*/*.txt"}, "x.txt"));
  EXPECT_TRUE(ex({"?.c"}, "a.c"));
  EXPECT_FALSE(ex({"?.c"}, "ab.c"));
  EXPECT_TRUE(ex({"[a-c].txt"}, "b.txt"));
  EXPECT_FALSE(ex({"[^a-c].txt"}, "b.txt"));
  EXPECT_TRUE(ex({"[[:digit:]]x"}, "7x"));
  EXPECT_TRUE(ex({"a\\*b"}, "a*b"));
  EXPECT_FALSE(ex({"a\\*b"}, "axb"));
  EXPECT_TRUE(ex({"a.b"}, "a.b"));
  EXPECT_FALSE(ex({"a.b"}, "axb"));
  EXPECT_TRUE(ex({"dir", "!dir/keep", "dir/keep/x"}, "dir/keep/x"));
  EXPECT_FALSE(ex({"dir", "!dir/keep"}, "dir/keep/y"));
  // The last matching pattern wins.
  EXPECT_FALSE(ex({"*.log", "!important.log"}, "important.log"));
  EXPECT_TRUE(ex({"!important.log", "*.log"}, "important.log"));
  // Docker's refusals.
  try {
    IgnoreMatcher({"!"});
    FAIL();
  } catch (const hoist::InvalidArgument& e) {
    EXPECT_STREQ(e.what(), "illegal exclusion pattern: \"!\"");
  }
  EXPECT_THROW(IgnoreMatcher({"a["}), BadPattern);
  EXPECT_THROW(IgnoreMatcher({"[z-a]"}), BadPattern);
}

TEST(Dockerignore, BuildFilesStaySent) {
  auto p = IgnoreMatcher::with_build_files({"*", "!src"}, "Dockerfile");
  EXPECT_EQ(p, (std::vector<std::string>{"*", "!src", "!.dockerignore", "!Dockerfile"}));
  IgnoreMatcher im(p);
  EXPECT_FALSE(im.excluded("Dockerfile"));
  EXPECT_FALSE(im.excluded(".dockerignore"));
  EXPECT_TRUE(im.excluded("other"));
  EXPECT_EQ(IgnoreMatcher::with_build_files({"*.md"}, "Dockerfile"), std::vector<std::string>{"*.md"});
  EXPECT_EQ(IgnoreMatcher::with_build_files({"build"}, "build/app.Dockerfile", "build/app.Dockerfile.dockerignore"),
            (std::vector<std::string>{"build", "!build/app.Dockerfile.dockerignore", "!build/app.Dockerfile"}));
  EXPECT_EQ(IgnoreMatcher::with_build_files({"*"}, "Dockerfile", ".dockerignore", true),
            (std::vector<std::string>{"*", "!.dockerignore"}));
}
