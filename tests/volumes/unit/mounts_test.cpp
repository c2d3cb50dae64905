// A container's binds and tmpfs mounts from the API's three forms, with dockerd's checks, and
// the "Mounts" view that inspect and ps show.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "volumes/mounts.h"

using hoist::InvalidArgument;
using hoist::volumes::MountPoint;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
namespace vol = hoist::volumes;

TEST(Binds, ModeReadOnlyAndPropagation) {
  auto m = vol::parse_bind("/srv/data:/data:ro,rshared");
  EXPECT_EQ(m.type, MountPoint::Type::Bind);
  EXPECT_EQ(m.source, "/srv/data");
  EXPECT_EQ(m.destination, "/data");
  EXPECT_TRUE(m.read_only);
  EXPECT_EQ(m.propagation, "rshared");
  EXPECT_EQ(m.mode, "ro,rshared");
  m = vol::parse_bind("/a:/b");
  EXPECT_FALSE(m.read_only);
  EXPECT_EQ(m.propagation, "rprivate");
  EXPECT_TRUE(m.recursive);
}

TEST(Binds, RefusedAsDockerd) {
  EXPECT_THROW(vol::parse_bind("/a"), InvalidArgument);
  EXPECT_THROW(vol::parse_bind("/a:rel"), InvalidArgument);
  EXPECT_THROW(vol::parse_bind("/a:/"), InvalidArgument);
  EXPECT_THROW(vol::parse_bind("/a:/b:bogus"), InvalidArgument);
  EXPECT_THAT([] { vol::parse_bind("data:/var/lib/app"); },
              ThrowsMessage<InvalidArgument>(HasSubstr("named volumes are not supported yet")));
}

TEST(ApiMounts, BindNeedsAnExistingSourceTmpfsGetsItsOptions) {
  auto b = vol::parse_api_mount(json{{"Type", "bind"}, {"Source", "/tmp"}, {"Target", "/m"}, {"ReadOnly", true},
                                     {"BindOptions", {{"NonRecursive", true}, {"Propagation", "rslave"}}}});
  EXPECT_TRUE(b.read_only);
  EXPECT_FALSE(b.recursive);
  EXPECT_EQ(b.propagation, "rslave");
  EXPECT_THROW(vol::parse_api_mount(json{{"Type", "bind"}, {"Source", "/no/such/dir/x"}, {"Target", "/m"}}),
               InvalidArgument);
  EXPECT_NO_THROW(
      vol::parse_api_mount(json{{"Type", "bind"}, {"Source", "/no/such/dir/x"}, {"Target", "/m"}}, false));
  auto t = vol::parse_api_mount(
      json{{"Type", "tmpfs"}, {"Target", "/cache"}, {"TmpfsOptions", {{"SizeBytes", 2097152}, {"Mode", 0700}}}});
  EXPECT_EQ(t.type, MountPoint::Type::Tmpfs);
  EXPECT_EQ(t.options, (std::vector<std::string>{"noexec", "nosuid", "nodev", "rprivate", "size=2048k", "mode=700"}));
  EXPECT_THROW(vol::parse_api_mount(json{{"Type", "volume"}, {"Source", "v"}, {"Target", "/v"}}), InvalidArgument);
  EXPECT_THROW(vol::parse_api_mount(json{{"Type", "bind"}, {"Source", "/tmp"}, {"Target", "rel"}}), InvalidArgument);
}

TEST(Tmpfs, LaterOptionsWinOverTheirOpposites) {
  auto t = vol::parse_tmpfs("/run", "rw,exec,size=10m,size=20m");
  EXPECT_EQ(t.options, (std::vector<std::string>{"nosuid", "nodev", "rprivate", "rw", "exec", "size=20m"}));
  EXPECT_THROW(vol::parse_tmpfs("run", ""), InvalidArgument);
}

TEST(UserMounts, AllThreeFormsInOrder) {
  auto all = vol::user_mounts(json{{"Binds", {"/a:/b"}},
                                   {"Mounts", {{{"Type", "tmpfs"}, {"Target", "/t"}}}},
                                   {"Tmpfs", {{"/run", ""}}}});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].destination, "/b");
  EXPECT_EQ(all[1].destination, "/t");
  EXPECT_EQ(all[2].destination, "/run");
}

TEST(InspectMounts, DockerdsFieldsSortedByDestination) {
  auto v = vol::inspect_mounts(json{{"Binds", {"/src:/z:ro", "/src:/a"}},
                                    {"Mounts", {{{"Type", "tmpfs"}, {"Target", "/m"}}}},
                                    {"Tmpfs", {{"/run", ""}}}});
  ASSERT_EQ(v.size(), 3u);  // HostConfig.Tmpfs is not listed, as dockerd
  EXPECT_EQ(v[0], (json{{"Type", "bind"}, {"Source", "/src"}, {"Destination", "/a"}, {"Mode", ""}, {"RW", true},
                        {"Propagation", "rprivate"}}));
  EXPECT_EQ(v[1], (json{{"Type", "tmpfs"}, {"Source", ""}, {"Destination", "/m"}, {"Mode", ""}, {"RW", true},
                        {"Propagation", ""}}));
  EXPECT_EQ(v[2]["Mode"], "ro");
  EXPECT_EQ(v[2]["RW"], false);
}
