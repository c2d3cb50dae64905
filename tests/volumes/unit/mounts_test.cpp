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
  auto refused = [](const std::string& spec, const std::string& msg) {
    EXPECT_THAT([&] { vol::parse_bind(spec); }, ThrowsMessage<InvalidArgument>(msg)) << spec;
  };
  refused("/a:rel", "invalid volume specification: '/a:rel': invalid mount config for type \"bind\": invalid mount "
                    "path: 'rel' mount path must be absolute");
  refused("v1:x", "invalid volume specification: 'v1:x': invalid mount config for type \"volume\": invalid mount "
                  "path: 'x' mount path must be absolute");
  refused("/a:/", "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid "
                  "specification: destination can't be '/'");
  refused("/a:/b:bogus", "invalid mode: bogus");
  refused("v1:/x:ro,rw", "invalid mode: ro,rw");
  refused("v1:/x:ro,", "invalid mode: ro,");
  refused("v1::/x", "invalid mode: /x");
  refused("/x:ro", "invalid volume specification: '/x:ro'");
  refused(":/x", "invalid volume specification: ':/x'");
  refused("", "invalid volume specification: ''");
  refused("a:b:c:d", "invalid volume specification: 'a:b:c:d'");
  refused("/tmp:/x:nocopy", "invalid volume specification: '/tmp:/x:nocopy': invalid mount config for type "
                            "\"bind\": field VolumeOptions must not be specified");
  refused("v1:/x:rshared", "invalid volume specification: 'v1:/x:rshared': invalid mount config for type "
                           "\"volume\": field BindOptions must not be specified");
}

TEST(Binds, NamedAndAnonymousVolumes) {
  auto v = vol::parse_bind("data:/var/lib/app/");
  EXPECT_EQ(v.type, MountPoint::Type::Volume);
  EXPECT_EQ(v.name, "data");
  EXPECT_EQ(v.destination, "/var/lib/app");
  EXPECT_EQ(v.mode, "z");  // dockerd's mode for a local volume given without one
  EXPECT_TRUE(v.copy_data);
  EXPECT_FALSE(v.anonymous);
  v = vol::parse_bind("data:/x:ro,nocopy");
  EXPECT_TRUE(v.read_only);
  EXPECT_FALSE(v.copy_data);
  EXPECT_EQ(v.mode, "ro,nocopy");
  v = vol::parse_bind("/cache");
  EXPECT_EQ(v.type, MountPoint::Type::Volume);
  EXPECT_TRUE(v.anonymous);
  EXPECT_EQ(v.name, "");
  auto b = vol::parse_bind("/srv//x/:/y");
  EXPECT_EQ(b.source, "/srv/x");
  EXPECT_TRUE(b.create_source);  // -v makes a missing host directory
}

TEST(VolumeNames, AsDockerdsLocalDriver) {
  EXPECT_NO_THROW(vol::check_volume_name("v1.x_y-z"));
  EXPECT_THAT([] { vol::check_volume_name("a"); },
              ThrowsMessage<InvalidArgument>(HasSubstr("volume name is too short")));
  for (auto bad : {"-ab", "a/b", "bad name", "./rel", "~/a", ".hidden"})
    EXPECT_THAT([&] { vol::check_volume_name(bad); },
                ThrowsMessage<InvalidArgument>(HasSubstr("includes invalid characters for a local volume name")))
        << bad;
  auto n = vol::anonymous_volume_name();
  EXPECT_EQ(n.size(), 64u);
  EXPECT_NE(n, vol::anonymous_volume_name());
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
  EXPECT_THROW(vol::parse_api_mount(json{{"Type", "bind"}, {"Source", "/tmp"}, {"Target", "rel"}}), InvalidArgument);
}

TEST(ApiMounts, VolumesWithTheirOptions) {
  auto v = vol::parse_api_mount(json{{"Type", "volume"},
                                     {"Source", "nv"},
                                     {"Target", "/x"},
                                     {"ReadOnly", true},
                                     {"VolumeOptions",
                                      {{"NoCopy", true},
                                       {"Subpath", "a/b"},
                                       {"Labels", {{"l", "1"}}},
                                       {"DriverConfig", {{"Name", "local"}, {"Options", {{"type", "tmpfs"}}}}}}}});
  EXPECT_EQ(v.type, MountPoint::Type::Volume);
  EXPECT_EQ(v.name, "nv");
  EXPECT_TRUE(v.read_only);
  EXPECT_FALSE(v.copy_data);
  EXPECT_EQ(v.subpath, "a/b");
  EXPECT_EQ(v.volume_labels.at("l"), "1");
  EXPECT_EQ(v.volume_options.at("type"), "tmpfs");
  auto anon = vol::parse_api_mount(json{{"Type", "volume"}, {"Target", "/y"}});
  EXPECT_TRUE(anon.anonymous);
  auto refused = [](const json& m, const std::string& msg) {
    EXPECT_THAT([&] { vol::parse_api_mount(m); }, ThrowsMessage<InvalidArgument>(msg)) << m.dump();
  };
  refused(json{{"Type", "volume"}, {"Target", "/x"}, {"ReadOnly", true}},
          "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes");
  refused(json{{"Type", "volume"}, {"Source", "v"}, {"Target", "/x"}, {"BindOptions", {{"Propagation", "shared"}}}},
          "invalid mount config for type \"volume\": field BindOptions must not be specified");
  refused(json{{"Type", "bind"}, {"Source", "/tmp"}, {"Target", "/x"}, {"VolumeOptions", {{"NoCopy", true}}}},
          "invalid mount config for type \"bind\": field VolumeOptions must not be specified");
  refused(json{{"Type", "tmpfs"}, {"Source", "v"}, {"Target", "/x"}},
          "invalid mount config for type \"tmpfs\": field Source must not be specified");
  refused(json{{"Type", "foo"}, {"Target", "/x"}}, "invalid mount config for type \"foo\": mount type unknown");
  refused(json{{"Type", "volume"}, {"Source", "v"}, {"Target", "/"}},
          "invalid mount config for type \"volume\": invalid specification: destination can't be '/'");
  refused(json{{"Type", "volume"}, {"Source", "v"}, {"Target", "/x"}, {"VolumeOptions", {{"Subpath", "../up"}}}},
          "invalid mount config for type \"volume\": subpath must be a relative path within the volume");
}

TEST(Plan, VolumesFromUserMountsAndConfigVolumesAsDockerd) {
  MountPoint src_vol;
  src_vol.type = MountPoint::Type::Volume;
  src_vol.name = "shared";
  src_vol.source = "/vols/shared/_data";
  src_vol.destination = "/s";
  src_vol.mode = "z";
  src_vol.driver = "local";
  MountPoint src_bind = vol::parse_bind("/host:/h:ro");
  MountPoint src_tmpfs = vol::parse_tmpfs("/tt", "");
  auto from = [&](const std::string& c) -> std::vector<MountPoint> {
    if (c != "data") throw InvalidArgument("No such container: " + c);
    return {src_vol, src_bind, src_tmpfs};
  };
  json hc = {{"VolumesFrom", {"data:ro"}}, {"Binds", {"named:/h"}}, {"Tmpfs", {{"/run", ""}}}};
  auto plan = vol::plan_mounts(hc, {"/s", "/run", "/cache/", "/new"}, from);
  ASSERT_EQ(plan.size(), 5u);  // /cache /h /new /run /s: sorted by destination
  EXPECT_EQ(plan[0].destination, "/cache");
  EXPECT_TRUE(plan[0].anonymous);
  EXPECT_EQ(plan[0].name.size(), 64u);
  EXPECT_EQ(plan[0].mode, "");
  EXPECT_EQ(plan[1].name, "named");  // the user's mount wins over the volumes-from one
  EXPECT_EQ(plan[2].destination, "/new");
  EXPECT_EQ(plan[3].destination, "/run");  // HostConfig.Tmpfs covers the image's VOLUME
  EXPECT_EQ(plan[3].type, MountPoint::Type::Tmpfs);
  EXPECT_EQ(plan[4].name, "shared");  // from the other container, read-only by :ro, mode ""
  EXPECT_TRUE(plan[4].read_only);
  EXPECT_FALSE(plan[4].copy_data);
  EXPECT_EQ(plan[4].mode, "");
  EXPECT_THAT([&] { vol::plan_mounts(json{{"VolumesFrom", {"nosuch"}}}, {}, from); },
              ThrowsMessage<InvalidArgument>("No such container: nosuch"));
  EXPECT_THAT([&] { vol::plan_mounts(json{{"VolumesFrom", {"data:foo"}}}, {}, from); },
              ThrowsMessage<InvalidArgument>("invalid mode: foo"));
  EXPECT_THAT([&] { vol::plan_mounts(json{{"VolumesFrom", {""}}}, {}, from); },
              ThrowsMessage<InvalidArgument>("volumes-from specification cannot be an empty string"));
  EXPECT_THAT([&] { vol::plan_mounts(json{{"Binds", {"v1:/x", "v2:/x"}}}, {}, from); },
              ThrowsMessage<InvalidArgument>("Duplicate mount point: /x"));
  EXPECT_THAT([&] { vol::plan_mounts(json{{"Binds", {"a:/x"}}}, {}, from); },
              ThrowsMessage<InvalidArgument>(
                  "create a: volume name is too short, names should be at least two alphanumeric characters"));
  EXPECT_THAT([&] { vol::plan_mounts(json{{"Binds", {"vv:/x"}}, {"VolumeDriver", "foo"}}, {}, from); },
              ThrowsMessage<hoist::NotFound>("create vv: error looking up volume plugin foo: plugin \"foo\" not found"));
}

TEST(Plan, RecordFormRoundTrips) {
  auto plan = vol::plan_mounts(json{{"Binds", {"/a:/b:ro,rslave", "vv:/v:nocopy"}},
                                    {"Mounts", {{{"Type", "volume"}, {"Target", "/m"},
                                                 {"VolumeOptions", {{"Subpath", "s"}, {"Labels", {{"k", "v"}}}}}}}},
                                    {"Tmpfs", {{"/t", "size=1m"}}}},
                               {}, {});
  auto back = vol::mounts_from_json(vol::mounts_to_json(plan));
  EXPECT_EQ(vol::mounts_to_json(back), vol::mounts_to_json(plan));
  EXPECT_EQ(vol::inspect_mounts(back), vol::inspect_mounts(plan));
  EXPECT_THROW(vol::mounts_from_json(json::array({{{"Type", "weird"}}})), InvalidArgument);
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

TEST(InspectMounts, VolumesWithNameAndDriver) {
  auto plan = vol::plan_mounts(json{{"Binds", {"data:/d:ro"}}}, {}, {});
  plan[0].source = "/vols/data/_data";
  auto v = vol::inspect_mounts(plan);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (json{{"Type", "volume"}, {"Name", "data"}, {"Source", "/vols/data/_data"}, {"Destination", "/d"},
                        {"Driver", "local"}, {"Mode", "ro"}, {"RW", false}, {"Propagation", ""}}));
}
