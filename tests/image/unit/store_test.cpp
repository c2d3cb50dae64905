#include "image/store.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/file.h"
#include "image/manifest.h"

using namespace hoist;
using namespace hoist::image;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/hoist-store-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { remove_all(path); }
};

// Builds an image in the store the way an install does: blobs, snapshots, then the record.
ImageRecord make_image(Store& s, const std::vector<std::string>& layer_contents, const std::string& salt,
                       const std::vector<std::string>& refs) {
  ImageRecord rec;
  std::vector<Digest> diffs;
  for (auto& c : layer_contents) diffs.push_back(digest_of("diff:" + c));
  auto chains = chain_ids(diffs);
  for (size_t i = 0; i < layer_contents.size(); ++i) {
    auto blob = s.content().put("blob:" + layer_contents[i]);
    if (!s.has_snapshot(chains[i])) {
      auto b = s.new_snapshot();
      write_file(b.fs() + "/file", layer_contents[i], O_CREAT);
      b.commit(chains[i], diffs[i], 10);
    }
    rec.layers.push_back({blob, media::kOciLayerGzip, 5, diffs[i], chains[i]});
  }
  rec.id = s.content().put("{\"config\":\"" + salt + "\"}");
  rec.manifest_digest = s.content().put("{\"manifest\":\"" + salt + "\"}");
  rec.manifest_media_type = media::kOciManifest;
  std::vector<Reference> rs;
  for (auto& r : refs) rs.push_back(Reference::parse(r));
  s.add_image(rec, rs);
  return rec;
}

}  // namespace

TEST(Store, ChainIdsFollowTheImageSpec) {
  auto a = digest_of("a"), b = digest_of("b"), c = digest_of("c");
  auto ch = chain_ids({a, b, c});
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0], a);
  EXPECT_EQ(ch[1], digest_of(a.str() + " " + b.str()));
  EXPECT_EQ(ch[2], digest_of(ch[1].str() + " " + c.str()));
}

TEST(Store, ResolvesByReferenceIdAndPrefix) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  auto rec = make_image(s, {"l1", "l2"}, "one", {"busybox:latest", "localhost:5000/x:1"});
  EXPECT_EQ(s.resolve("busybox").id, rec.id);
  EXPECT_EQ(s.resolve("docker.io/library/busybox:latest").id, rec.id);
  EXPECT_EQ(s.resolve("localhost:5000/x:1").id, rec.id);
  EXPECT_EQ(s.resolve(rec.id.str()).id, rec.id);
  EXPECT_EQ(s.resolve(rec.id.hex).id, rec.id);
  EXPECT_EQ(s.resolve(rec.id.hex.substr(0, 12)).id, rec.id);
  try {
    s.resolve("busybox:other");
    FAIL();
  } catch (const NotFound& e) {
    EXPECT_STREQ(e.what(), "No such image: busybox:other");
  }
  EXPECT_THROW(s.resolve("Not A Ref"), NotFound);
}

TEST(Store, RecordsAndReferencesSurviveReopen) {
  TempDir t;
  Digest id;
  {
    Store s(t.path, SnapshotMode::Copy);
    id = make_image(s, {"l1"}, "one", {"a:1"}).id;
    s.tag(id, Reference::parse("b:2"));
  }
  Store s(t.path);
  EXPECT_EQ(s.mode(), SnapshotMode::Copy);
  EXPECT_EQ(s.resolve("a:1").id, id);
  EXPECT_EQ(s.resolve("b:2").id, id);
  ASSERT_EQ(s.references(id).size(), 2u);
  EXPECT_EQ(read_file(s.snapshot_path(s.get(id)->layers[0].chain_id) + "/file"), "l1");
}

TEST(Store, TheStoreIsLockedByOneProcess) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  // flock is per open file description, so a second open in this process conflicts as another process would.
  try {
    Store second(t.path);
    FAIL() << "two owners of one store";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another process"), std::string::npos) << e.what();
  }
}

TEST(Store, RmiUntagsThenDeletesAndFreesOnlyUnusedLayers) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  auto base = make_image(s, {"shared"}, "base", {"base:1"});
  auto app = make_image(s, {"shared", "top"}, "app", {"app:1", "app:2"});
  auto shared = base.layers[0];
  auto top = app.layers[1];

  auto r1 = s.remove("app:1", false);
  EXPECT_EQ(r1.untagged, std::vector<std::string>{"app:1"});
  EXPECT_TRUE(r1.deleted.empty());
  EXPECT_TRUE(s.get(app.id));

  auto r2 = s.remove("app:2", false);
  EXPECT_EQ(r2.untagged, std::vector<std::string>{"app:2"});
  // The image and its own layer go; the layer shared with base stays.
  EXPECT_FALSE(s.get(app.id));
  EXPECT_FALSE(s.has_snapshot(top.chain_id));
  EXPECT_FALSE(s.content().has(top.digest));
  EXPECT_FALSE(s.content().has(app.id));
  EXPECT_TRUE(s.has_snapshot(shared.chain_id));
  EXPECT_TRUE(s.content().has(shared.digest));
  EXPECT_NE(std::find(r2.deleted.begin(), r2.deleted.end(), app.id.str()), r2.deleted.end());

  s.remove("base:1", false);
  EXPECT_FALSE(s.has_snapshot(shared.chain_id));
  EXPECT_TRUE(s.content().list().empty());
  EXPECT_TRUE(s.list().empty());
}

TEST(Store, RemovingTheLastTagRemovesDigestReferencesAndTheImage) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  auto rec = make_image(s, {"x"}, "x", {"app:1", "app@" + digest_of("manifest").str()});
  auto r = s.remove("app:1", false);
  EXPECT_EQ(r.untagged, (std::vector<std::string>{"app:1", "app@" + digest_of("manifest").str()}));
  EXPECT_FALSE(s.get(rec.id));
  // With a tag left, removing a digest reference removes only that.
  auto rec2 = make_image(s, {"y"}, "y", {"b:1", "b@" + digest_of("m2").str()});
  s.remove("b@" + digest_of("m2").str(), false);
  EXPECT_TRUE(s.get(rec2.id));
  EXPECT_EQ(s.references(rec2.id).size(), 1u);
}

TEST(Store, RmiByIdNamedInSeveralRepositoriesNeedsForce) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  auto rec = make_image(s, {"x"}, "x", {"one:1", "two:1"});
  EXPECT_THROW(s.remove(rec.id.hex.substr(0, 12), false), Conflict);
  EXPECT_TRUE(s.get(rec.id));
  auto r = s.remove(rec.id.hex.substr(0, 12), true);
  EXPECT_EQ(r.untagged.size(), 2u);
  EXPECT_FALSE(s.get(rec.id));
  EXPECT_THROW(s.resolve("one:1"), NotFound);
}

TEST(Store, MovingATagLeavesTheOldImageDanglingAndPruneRemovesIt) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  auto old_img = make_image(s, {"v1"}, "v1", {"app:latest"});
  auto new_img = make_image(s, {"v2"}, "v2", {"app:latest"});
  EXPECT_EQ(s.resolve("app").id, new_img.id);
  EXPECT_TRUE(s.references(old_img.id).empty());
  auto r = s.prune(false);
  EXPECT_EQ(r.deleted.front(), old_img.id.str());
  EXPECT_FALSE(s.get(old_img.id));
  EXPECT_TRUE(s.get(new_img.id));
  EXPECT_FALSE(s.has_snapshot(old_img.layers[0].chain_id));
}

TEST(Store, LeftoversOfAnInterruptedOperationAreClearedOnOpen) {
  TempDir t;
  Digest keep_blob, orphan_blob;
  Digest live_chain;
  {
    Store s(t.path, SnapshotMode::Copy);
    auto rec = make_image(s, {"live"}, "live", {"live:1"});
    live_chain = rec.layers[0].chain_id;
    keep_blob = rec.layers[0].digest;
    // What a pull killed half-way leaves: a blob and a published snapshot with no record,
    // a snapshot directory without meta.json, a temp extraction dir, a temp record file.
    orphan_blob = s.content().put("orphan layer");
    auto b = s.new_snapshot();
    write_file(b.fs() + "/f", "x", O_CREAT);
    b.commit(digest_of("orphan chain"), digest_of("orphan chain"), 1);
    mkdir_all(t.path + "/snapshots/" + digest_of("half").hex + "/fs/usr", 0755);
    mkdir_all(t.path + "/tmp/snap-123/fs/etc", 0755);
    write_file(t.path + "/images/.tmp-abc", "{", O_CREAT);
  }
  Store s(t.path);
  EXPECT_TRUE(s.get(s.resolve("live:1").id));
  EXPECT_TRUE(s.has_snapshot(live_chain));
  EXPECT_TRUE(s.content().has(keep_blob));
  EXPECT_FALSE(s.content().has(orphan_blob));
  EXPECT_FALSE(s.has_snapshot(digest_of("orphan chain")));
  EXPECT_FALSE(path_exists(t.path + "/snapshots/" + digest_of("half").hex));
  EXPECT_FALSE(path_exists(t.path + "/tmp/snap-123"));
  EXPECT_FALSE(path_exists(t.path + "/images/.tmp-abc"));
}

TEST(Store, LeasesProtectWorkInProgressFromGc) {
  TempDir t;
  Store s(t.path, SnapshotMode::Copy);
  auto lease = s.lease();
  auto blob = s.content().put("in flight");
  lease.add_blob(blob);
  auto chain = digest_of("in flight chain");
  lease.add_snapshot(chain);
  auto b = s.new_snapshot();
  b.commit(chain, chain, 0);
  s.gc();
  EXPECT_TRUE(s.content().has(blob));
  EXPECT_TRUE(s.has_snapshot(chain));
  { auto gone = std::move(lease); }
  s.gc();
  EXPECT_FALSE(s.content().has(blob));
  EXPECT_FALSE(s.has_snapshot(chain));
}

TEST(Platform, SelectsTheRequestedEntry) {
  std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + std::string(64, '1') +
                     R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + std::string(64, '2') +
                     R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + std::string(64, '3') +
                     R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]})";
  auto ix = Index::parse(body, media::kOciIndex);
  EXPECT_EQ(ix.select(Platform::parse("linux/amd64")).digest.hex, std::string(64, '2'));
  EXPECT_EQ(ix.select(Platform::parse("linux/arm64")).digest.hex, std::string(64, '1'));
  EXPECT_EQ(ix.select(Platform::parse("linux/arm/v7")).digest.hex, std::string(64, '3'));
  EXPECT_THROW(ix.select(Platform::parse("linux/arm/v6")), NotFound);
  EXPECT_THROW(ix.select(Platform::parse("windows/amd64")), NotFound);
  EXPECT_THROW(Platform::parse("a/b/c/d"), InvalidArgument);
}

TEST(Manifest, RefusesSchema1AndBadLayers) {
  try {
    Manifest::parse(R"({"schemaVersion":1,"name":"x","fsLayers":[]})", media::kDockerSchema1Signed);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema 1 manifests are not supported"), std::string::npos);
  }
  EXPECT_THROW(Manifest::parse(R"({"schemaVersion":1})", media::kOciManifest), Error);
  std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_THROW(Manifest::parse(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + d +
                                   R"(","size":1},"layers":[{"mediaType":"text/plain","digest":")" + d + R"(","size":1}]})",
                               media::kOciManifest),
               Error);
  EXPECT_THROW(Manifest::parse("not json", media::kOciManifest), Error);
  EXPECT_THROW(Manifest::parse(R"({"schemaVersion":2,"config":{"digest":"sha256:zz","size":1},"layers":[]})",
                               media::kOciManifest),
               Error);
  auto m = Manifest::parse(R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                               d + R"(","size":7},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":")" +
                               d + R"(","size":9}]})",
                           media::kOciManifest);
  EXPECT_EQ(m.layers.at(0).size, 9);
}
