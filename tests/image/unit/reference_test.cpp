#include "image/reference.h"

#include <gtest/gtest.h>

#include "common/error.h"

using hoist::Error;
using hoist::image::Reference;

TEST(Reference, NormalisesLikeDocker) {
  struct Case {
    const char* in;
    const char* full;
    const char* familiar;
  } cases[] = {
      {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
      {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x"},
      {"user/app", "docker.io/user/app:latest", "user/app:latest"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
      {"localhost:5000/a/b/c:v1.2-rc_3", "localhost:5000/a/b/c:v1.2-rc_3", "localhost:5000/a/b/c:v1.2-rc_3"},
      {"127.0.0.1:41234/bench/debian:1", "127.0.0.1:41234/bench/debian:1", "127.0.0.1:41234/bench/debian:1"},
      {"registry.example.com/x", "registry.example.com/x:latest", "registry.example.com/x:latest"},
      {"Host/x", "Host/x:latest", "Host/x:latest"},
      {"[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest"},
      {"a__b/c--d/e.f", "docker.io/a__b/c--d/e.f:latest", "a__b/c--d/e.f:latest"},
      {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"},
  };
  for (auto& c : cases) {
    auto r = Reference::parse(c.in);
    EXPECT_EQ(r.str(), c.full) << c.in;
    EXPECT_EQ(r.familiar(), c.familiar) << c.in;
  }
}

TEST(Reference, Digests) {
  std::string hex(64, 'a');
  auto r = Reference::parse("busybox@sha256:" + hex);
  EXPECT_TRUE(r.tag.empty());
  ASSERT_TRUE(r.digest);
  EXPECT_EQ(r.ref(), "sha256:" + hex);
  EXPECT_EQ(r.str(), "docker.io/library/busybox@sha256:" + hex);
  auto both = Reference::parse("localhost:5000/x:1@sha256:" + hex);
  EXPECT_EQ(both.tag, "1");
  EXPECT_EQ(both.ref(), "sha256:" + hex);
  EXPECT_EQ(Reference::parse("x@sha512:" + std::string(128, '0')).digest->str(), "sha512:" + std::string(128, '0'));
}

TEST(Reference, RefusesWhatDockerRefuses) {
  const char* bad[] = {"",
                       "UPPER",
                       "busybox:",
                       ":tag",
                       "a//b",
                       "a/",
                       "/a",
                       "-a",
                       "a-",
                       "a..b",
                       "a___b",
                       "busybox:-tag",
                       "busybox:tag with space",
                       "busybox@sha256:abc",
                       "busybox@md5:00000000000000000000000000000000",
                       "busybox@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                       "host:port/x",
                       "host:/x",
                       "-host.com/x",
                       "docker.io/Upper"};
  for (auto* b : bad) {
    try {
      Reference::parse(b);
      ADD_FAILURE() << "accepted \"" << b << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid reference format"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(Reference::parse(std::string(64, 'a')), Error);  // would be an image ID
  EXPECT_THROW(Reference::parse("x:" + std::string(129, 't')), Error);
  EXPECT_NO_THROW(Reference::parse("x:" + std::string(128, 't')));
  EXPECT_THROW(Reference::parse("registry.example.com/" + std::string(240, 'a')), Error);
}

TEST(Reference, NameOnlyHasNoDefaultTag) {
  auto r = Reference::parse_name_only("busybox");
  EXPECT_TRUE(r.tag.empty());
  EXPECT_EQ(r.str(), "docker.io/library/busybox");
  EXPECT_EQ(r.familiar_name(), "busybox");
}
