// builder/git_remote.h: dockerd's rules for a git remote (urlutil.IsGitURL, parseRemoteURL).
#include "builder/git_remote.h"

#include <gtest/gtest.h>

#include "common/error.h"

using hoist::builder::is_git_url;
using hoist::builder::parse_git_remote;

TEST(GitRemote, WhatIsAGitUrl) {
  for (const char* yes : {"git://h/r", "git@h:r", "github.com/a/b", "https://h/r.git", "http://h/r.git#dev",
                          "https://h/r.git#dev:sub"})
    EXPECT_TRUE(is_git_url(yes)) << yes;
  for (const char* no : {"https://h/ctx.tar", "https://h/r.git/", "https://h/r.git?x=1", "https://h/r.git#",
                         "/tmp/r.git", "ftp://h/r.git", "r.git"})
    EXPECT_FALSE(is_git_url(no)) << no;
}

TEST(GitRemote, RefAndSubdirectory) {
  auto r = parse_git_remote("git://h/r.git#dev:sub/dir");
  EXPECT_EQ(r.remote, "git://h/r.git");
  EXPECT_EQ(r.ref, "dev");
  EXPECT_EQ(r.subdir, "sub/dir");
  r = parse_git_remote("https://h/r.git");
  EXPECT_EQ(r.ref, "master") << "dockerd's default";
  EXPECT_EQ(r.subdir, "");
  r = parse_git_remote("https://h/r.git#:sub");
  EXPECT_EQ(r.ref, "master");
  EXPECT_EQ(r.subdir, "sub");
  r = parse_git_remote("github.com/a/b#v1");
  EXPECT_EQ(r.remote, "https://github.com/a/b");
  EXPECT_EQ(r.ref, "v1");
  r = parse_git_remote("git@h:a/b.git#t:d");
  EXPECT_EQ(r.remote, "git@h:a/b.git");
  EXPECT_EQ(r.ref, "t");
  EXPECT_EQ(r.subdir, "d");
  try {
    parse_git_remote("https://h/r.git#--upload-pack=x");
    ADD_FAILURE() << "an option as the ref";
  } catch (const hoist::Error& e) {
    EXPECT_STREQ(e.what(), "invalid refspec: --upload-pack=x");
  }
}

// ADD's git sources (BuildKit's reading): "github.com/..." is a context path; no ref is the
// remote's HEAD.
TEST(GitRemote, AddSources) {
  using hoist::builder::is_git_source;
  using hoist::builder::parse_git_source;
  EXPECT_TRUE(is_git_source("git://h/r.git"));
  EXPECT_TRUE(is_git_source("git@h:a/b.git"));
  EXPECT_TRUE(is_git_source("https://h/r.git#v1"));
  EXPECT_FALSE(is_git_source("github.com/a/b"));
  EXPECT_FALSE(is_git_source("https://h/r.tar"));
  EXPECT_TRUE(is_git_source("ssh://git@h:2222/r#dev"));
  EXPECT_TRUE(hoist::builder::is_ssh_git_remote("ssh://h/r.git"));
  EXPECT_TRUE(hoist::builder::is_ssh_git_remote("git@h:a/b.git"));
  EXPECT_FALSE(hoist::builder::is_ssh_git_remote("https://h/r.git"));
  EXPECT_FALSE(hoist::builder::is_ssh_git_remote("git://h/r.git"));
  EXPECT_EQ(parse_git_source("git://h/r.git").ref, "HEAD");
  EXPECT_EQ(parse_git_source("git://h/r.git#").ref, "HEAD");
  auto r = parse_git_source("git://h/r.git#:sub");
  EXPECT_EQ(r.ref, "HEAD");
  EXPECT_EQ(r.subdir, "sub");
  EXPECT_EQ(parse_git_source("git://h/r.git#dev").ref, "dev");
}
