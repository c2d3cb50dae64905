// The layer maker (change lists and layer tars of an overlay upper dir or a full tree) and
// commit_image, on fake layers made in a temp dir: the lower layers and the upper dir are written
// the way overlayfs leaves them (whiteouts as 0:0 character devices, opaque directories marked by
// an xattr). Whiteouts need Linux 5.8 or root, trusted.* xattrs and owners root: without them
// the tests that need them are skipped.
#include "image/layer_maker.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/error.h"
#include "common/file.h"
#include "image/archive.h"
#include "image/commit.h"
#include "image/manifest.h"
#include "image/store.h"

namespace hoist::image {
namespace {

using nlohmann::json;

struct Tmp {
  std::string path;
  Tmp() {
    char t[] = "/tmp/hoist-lm-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Tmp() { remove_all(path); }
};

const char* opaque_attr() { return ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque"; }

void mkdirp(const std::string& p, mode_t mode = 0755) {
  mkdir_all(p, mode);
  ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p;
}

// A file with `data` and a fixed mtime (so that copies compare equal, as overlay's copy-up keeps it).
void put(const std::string& p, const std::string& data, mode_t mode = 0644, time_t mtime = 1600000000) {
  write_file(p, data, O_CREAT | O_TRUNC);
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  timespec t[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW), 0);
}

bool whiteout(const std::string& p) { return ::mknod(p.c_str(), S_IFCHR, makedev(0, 0)) == 0; }

void opaque(const std::string& dir) { ASSERT_EQ(::setxattr(dir.c_str(), opaque_attr(), "y", 1, 0), 0) << dir; }

std::string show(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes) out += "CAD"[static_cast<int>(c.kind)] + std::string(" ") + c.path + "\n";
  return out;
}

struct TarEntry {
  std::string name;
  mode_t type = 0;
  mode_t perm = 0;
  uid_t uid = 0;
  std::string data, link, hardlink;
  std::map<std::string, std::string> xattrs;
};

std::vector<TarEntry> read_tar(const std::string& tar) {
  std::vector<TarEntry> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_format_empty(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarEntry t;
    t.name = archive_entry_pathname(e);
    t.type = archive_entry_filetype(e);
    t.perm = archive_entry_perm(e);
    t.uid = static_cast<uid_t>(archive_entry_uid(e));
    if (archive_entry_symlink(e)) t.link = archive_entry_symlink(e);
    if (archive_entry_hardlink(e)) t.hardlink = archive_entry_hardlink(e);
    archive_entry_xattr_reset(e);
    const char* n;
    const void* v;
    std::size_t len;
    while (archive_entry_xattr_next(e, &n, &v, &len) == ARCHIVE_OK) t.xattrs[n] = std::string(static_cast<const char*>(v), len);
    char buf[4096];
    la_ssize_t r;
    while ((r = archive_read_data(a, buf, sizeof buf)) > 0) t.data.append(buf, static_cast<std::size_t>(r));
    out.push_back(t);
  }
  archive_read_free(a);
  return out;
}

std::string names(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const TarEntry& e : entries) out += e.name + "\n";
  return out;
}

class LayerMaker : public ::testing::Test {
 protected:
  void SetUp() override {
    lower = t.path + "/lower";
    upper = t.path + "/upper";
    // The image: /etc/{passwd,group,hosts}, /usr/sbin/{a,b}, /root/x, /var/lib/x, /opt (a dir
    // that becomes a file), /srv (a file that becomes a dir).
    mkdirp(lower + "/etc");
    put(lower + "/etc/passwd", "root:x:0:0\n");
    put(lower + "/etc/group", "root:x:0:\n");
    put(lower + "/etc/hosts", "127.0.0.1 localhost\n");
    mkdirp(lower + "/usr/sbin");
    put(lower + "/usr/sbin/a", "a");
    put(lower + "/usr/sbin/b", "b");
    mkdirp(lower + "/root");
    put(lower + "/root/x", "x");
    mkdirp(lower + "/var/lib");
    put(lower + "/var/lib/x", "x");
    mkdirp(lower + "/opt/sub");
    put(lower + "/opt/sub/f", "f");
    put(lower + "/opt/g", "g");
    put(lower + "/srv", "file");
    mkdirp(upper);
  }

  // The upper dir of a container that changed a bit of everything.
  void change_everything() {
    mkdirp(upper + "/etc");                                   // copied up
    put(upper + "/etc/passwd", "root:x:0:0\nme:x:1:1\n");     // modified
    if (!whiteout(upper + "/etc/group")) GTEST_SKIP() << "cannot make whiteouts here";
    put(upper + "/etc/new", "new\n", 04755, 1700000000);      // added
    ASSERT_EQ(::link((upper + "/etc/new").c_str(), (upper + "/etc/new2").c_str()), 0);
    put(upper + "/etc/hosts", "127.0.0.1 localhost\n", 0600);  // only the mode changed
    mkdirp(upper + "/usr/sbin");                              // rm -rf /usr/sbin; mkdir /usr/sbin
    opaque(upper + "/usr/sbin");
    put(upper + "/usr/sbin/only", "");
    put(upper + "/usr/sbin/a", "a");                          // same as below: not a change
    if (!whiteout(upper + "/root")) GTEST_SKIP();             // rm -rf /root
    mkdirp(upper + "/a/b/c");
    put(upper + "/a/b/c/f", "z\n");
    ASSERT_EQ(::symlink("/etc/passwd", (upper + "/sl").c_str()), 0);
    ASSERT_EQ(::mkfifo((upper + "/ff").c_str(), 0644), 0);
    ASSERT_EQ(::setxattr((upper + "/etc/new").c_str(), "user.note", "hi", 2, 0), 0);
    put(upper + "/opt", "now a file");                        // a directory became a file
    mkdirp(upper + "/srv");                                   // a file became a directory
    put(upper + "/srv/inside", "i");
  }

  Tmp t;
  std::string lower, upper;
};

TEST_F(LayerMaker, ChangeListFollowsDockerdRules) {
  change_everything();
  auto changes = list_changes({upper, false, {lower}});
  EXPECT_EQ(show(changes),
            "A /a\nA /a/b\nA /a/b/c\nA /a/b/c/f\n"
            "C /etc\nD /etc/group\nC /etc/hosts\nA /etc/new\nA /etc/new2\nC /etc/passwd\n"
            "A /ff\n"
            "C /opt\nD /opt/g\nD /opt/sub\n"
            "D /root\n"
            "A /sl\n"
            "C /srv\nA /srv/inside\n"
            "C /usr\nC /usr/sbin\nD /usr/sbin/b\nA /usr/sbin/only\n");
}

TEST_F(LayerMaker, NothingChangedIsAnEmptyList) {
  EXPECT_TRUE(list_changes({upper, false, {lower}}).empty());
  // Copied up but unchanged (chmod to the same mode): not a change, and so neither is its parent.
  mkdirp(upper + "/etc");
  put(upper + "/etc/passwd", "root:x:0:0\n");
  EXPECT_EQ(show(list_changes({upper, false, {lower}})), "");
}

TEST_F(LayerMaker, LayerTarIsTheUpperDirInTarForm) {
  change_everything();
  std::string tar;
  LayerTar info = write_layer_tar({upper, false, {lower}}, [&](const char* p, std::size_t n) { tar.append(p, n); });
  EXPECT_EQ(info.diff_id, digest_of(tar));
  EXPECT_EQ(info.size, static_cast<std::int64_t>(tar.size()));
  auto entries = read_tar(tar);
  EXPECT_EQ(info.entries, static_cast<std::int64_t>(entries.size()));
  EXPECT_EQ(names(entries),
            "a/\na/b/\na/b/c/\na/b/c/f\netc/\netc/.wh.group\netc/hosts\netc/new\netc/new2\netc/passwd\nff\nopt\n"
            ".wh.root\nsl\nsrv/\nsrv/inside\nusr/\nusr/sbin/\nusr/sbin/.wh..wh..opq\nusr/sbin/a\nusr/sbin/only\n");
  std::map<std::string, TarEntry> by;
  for (auto& e : entries) by[e.name] = e;
  EXPECT_EQ(by["etc/new"].perm, 04755u);
  EXPECT_EQ(by["etc/new"].data, "new\n");
  EXPECT_EQ(by["etc/new"].xattrs["user.note"], "hi");
  EXPECT_EQ(by["etc/new2"].hardlink, "etc/new");
  EXPECT_EQ(by["sl"].link, "/etc/passwd");
  EXPECT_EQ(by["ff"].type, static_cast<mode_t>(AE_IFIFO));
  EXPECT_EQ(by["etc/.wh.group"].type, static_cast<mode_t>(AE_IFREG));
  EXPECT_EQ(by["etc/.wh.group"].data, "");
  for (auto& e : entries)
    for (auto& [k, v] : e.xattrs) EXPECT_FALSE(k.find("overlay.") != std::string::npos) << e.name << " " << k;
  // The same tree gives the same bytes.
  std::string again;
  write_layer_tar({upper, false, {lower}}, [&](const char* p, std::size_t n) { again.append(p, n); });
  EXPECT_EQ(tar, again);
}

// A tree as text: every entry's type, mode, owner, size, mtime, device, link target, link
// count, xattrs and contents, depth first.
std::string describe_tree(const std::string& root, const std::string& rel = "") {
  std::string out;
  std::string dir = rel.empty() ? root : root + "/" + rel;
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n, p = root + "/" + r;
    struct stat st;
    EXPECT_EQ(::lstat(p.c_str(), &st), 0);
    out += r + " mode=" + std::to_string(st.st_mode) + " owner=" + std::to_string(st.st_uid) + ":" +
           std::to_string(st.st_gid) + " rdev=" + std::to_string(st.st_rdev) + " links=" + std::to_string(st.st_nlink);
    if (!S_ISDIR(st.st_mode)) out += " size=" + std::to_string(st.st_size);
    if (!S_ISCHR(st.st_mode))  // a whiteout's time is not in the tar
      out += " mtime=" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    char buf[4096];
    if (S_ISLNK(st.st_mode)) {
      ssize_t k = ::readlink(p.c_str(), buf, sizeof buf);
      out += " -> " + std::string(buf, static_cast<std::size_t>(std::max<ssize_t>(k, 0)));
    } else {
      ssize_t k = ::llistxattr(p.c_str(), buf, sizeof buf);
      for (ssize_t i = 0; i < k; i += static_cast<ssize_t>(std::strlen(buf + i)) + 1) {
        char v[256];
        ssize_t vl = ::lgetxattr(p.c_str(), buf + i, v, sizeof v);
        out += std::string(" ") + (buf + i) + "=" + std::string(v, static_cast<std::size_t>(std::max<ssize_t>(vl, 0)));
      }
    }
    if (S_ISREG(st.st_mode)) out += " data=" + read_file(p);
    out += "\n";
    if (S_ISDIR(st.st_mode)) out += describe_tree(root, r);
  }
  return out;
}

TEST_F(LayerMaker, UnpackedWhileWrittenAsExtractionUnpacksTheTar) {
  change_everything();
  ASSERT_EQ(::setxattr((upper + "/a").c_str(), "user.dir", "d", 1, 0), 0);
  std::string mirrored = t.path + "/mirrored", extracted = t.path + "/extracted";
  mkdirp(mirrored);
  mkdirp(extracted);
  std::string tar;
  LayerTarOptions opts;
  opts.unpack_to = mirrored;
  opts.privileged = ::geteuid() == 0;
  LayerTar info = write_layer_tar({upper, false, {lower}}, [&](const char* p, std::size_t n) { tar.append(p, n); }, opts);
  std::size_t off = 0;
  ExtractOptions xo;
  xo.privileged = opts.privileged;
  ExtractResult res = extract_layer(extracted, [&](char* b, std::size_t n) {
    std::size_t k = std::min(n, tar.size() - off);
    std::memcpy(b, tar.data() + off, k);
    off += k;
    return k;
  }, xo);
  EXPECT_EQ(res.diff_id, info.diff_id);
  std::string want = describe_tree(extracted);
  EXPECT_EQ(describe_tree(mirrored), want);
  EXPECT_NE(want.find("usr/sbin mode="), std::string::npos);
  EXPECT_NE(want.find("overlay.opaque=y"), std::string::npos);
  // Without hashing, the same bytes and no diff id.
  std::string again;
  opts.unpack_to.clear();
  opts.hash = false;
  LayerTar unhashed = write_layer_tar({upper, false, {lower}}, [&](const char* p, std::size_t n) { again.append(p, n); }, opts);
  EXPECT_TRUE(unhashed.diff_id.empty());
  EXPECT_EQ(again, tar);
}

TEST_F(LayerMaker, AdoptedUpperIsWhatTheUnpackerMakes) {
  if (::geteuid() != 0) GTEST_SKIP() << "adopt_upper is for root (trusted.* xattrs, owners)";
  change_everything();
  // What overlayfs and the container leave that the tar does not hold: overlay's own xattrs, a
  // socket, xattrs on the root.
  ASSERT_EQ(::setxattr((upper + "/etc").c_str(), "trusted.overlay.impure", "y", 1, 0), 0);
  ASSERT_EQ(::setxattr((upper + "/etc/passwd").c_str(), "trusted.overlay.origin", "x", 1, 0), 0);
  ASSERT_EQ(::setxattr(upper.c_str(), "trusted.overlay.impure", "y", 1, 0), 0);
  ASSERT_EQ(::chmod(upper.c_str(), 0700), 0);
  struct stat a_before;
  ASSERT_EQ(::stat((upper + "/a").c_str(), &a_before), 0);
  std::string sock = upper + "/a/sock";
  ASSERT_EQ(::mknod(sock.c_str(), S_IFSOCK | 0644, 0), 0);
  timespec keep[2] = {a_before.st_atim, a_before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (upper + "/a").c_str(), keep, 0), 0);
  std::string mirrored = t.path + "/mirrored", adopted = t.path + "/adopted";
  mkdirp(mirrored);
  mkdirp(adopted);
  LayerTarOptions opts;
  opts.unpack_to = mirrored;
  std::string tar;
  write_layer_tar({upper, false, {lower}}, [&](const char* p, std::size_t n) { tar.append(p, n); }, opts);
  adopt_upper(upper, adopted);
  EXPECT_FALSE(path_exists(upper));
  std::string want = describe_tree(mirrored);
  EXPECT_EQ(describe_tree(adopted), want);
  EXPECT_NE(want.find("overlay.opaque=y"), std::string::npos);
  EXPECT_EQ(want.find("overlay.impure"), std::string::npos);
  struct stat root;
  ASSERT_EQ(::stat(adopted.c_str(), &root), 0);
  EXPECT_EQ(root.st_mode & 07777, 0755u);
  EXPECT_EQ(::listxattr(adopted.c_str(), nullptr, 0), 0);
  // The same tar again from the adopted tree: nothing the layer holds was lost.
  std::string again;
  write_layer_tar({adopted, false, {lower}}, [&](const char* p, std::size_t n) { again.append(p, n); });
  EXPECT_EQ(again, tar);
}

TEST_F(LayerMaker, EmptyChangeSetIsTheEndMarkerAlone) {
  std::string tar;
  LayerTar info = write_layer_tar({upper, false, {lower}}, [&](const char* p, std::size_t n) { tar.append(p, n); });
  EXPECT_EQ(info.entries, 0);
  EXPECT_EQ(tar, std::string(1024, '\0'));
  // dockerd's empty layer.
  EXPECT_EQ(info.diff_id.str(), "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
}

TEST_F(LayerMaker, LayersBelowAreMergedAsOverlayfsMergesThem) {
  // A second lower layer deletes /etc/group, hides /usr/sbin's old entries and adds /usr/sbin/c.
  std::string mid = t.path + "/mid";
  mkdirp(mid + "/etc");
  if (!whiteout(mid + "/etc/group")) GTEST_SKIP() << "cannot make whiteouts here";
  mkdirp(mid + "/usr/sbin");
  opaque(mid + "/usr/sbin");
  put(mid + "/usr/sbin/c", "c");
  ASSERT_EQ(::symlink("/etc", (mid + "/link").c_str()), 0);
  LayerStack stack({lower, mid});
  EXPECT_FALSE(stack.lookup("etc/group"));
  EXPECT_TRUE(stack.lookup("etc/passwd"));
  EXPECT_FALSE(stack.lookup("usr/sbin/a"));
  EXPECT_TRUE(stack.lookup("usr/sbin/c"));
  EXPECT_TRUE(S_ISDIR(stack.lookup("usr/sbin")->st_mode));
  EXPECT_TRUE(S_ISLNK(stack.lookup("link")->st_mode));
  EXPECT_FALSE(stack.lookup("link/passwd"));  // a symlink on the way is not followed
  EXPECT_FALSE(stack.lookup("nothing/here"));

  // Against both: a re-created /etc/group is an addition, /usr/sbin/a too, /usr/sbin/c deleted.
  mkdirp(upper + "/etc");
  put(upper + "/etc/group", "g");
  mkdirp(upper + "/usr/sbin");
  put(upper + "/usr/sbin/a", "a");
  if (!whiteout(upper + "/usr/sbin/c")) GTEST_SKIP();
  EXPECT_EQ(show(list_changes({upper, false, {lower, mid}})),
            "C /etc\nA /etc/group\nC /usr\nC /usr/sbin\nA /usr/sbin/a\nD /usr/sbin/c\n");
}

TEST_F(LayerMaker, FullTreeIsComparedEntryByEntry) {
  // The copy snapshotter: the new tree is a whole copy, changed in place.
  std::string tree = t.path + "/tree";
  copy_tree(lower, tree);
  put(tree + "/etc/passwd", "changed\n");
  ASSERT_EQ(::unlink((tree + "/etc/group").c_str()), 0);
  remove_all(tree + "/usr/sbin");
  remove_all(tree + "/opt");
  put(tree + "/opt", "now a file");
  mkdirp(tree + "/new/deep");
  put(tree + "/new/deep/f", "f");
  ChangeSource src{tree, true, {lower}};
  EXPECT_EQ(show(list_changes(src)),
            "C /etc\nD /etc/group\nC /etc/passwd\nA /new\nA /new/deep\nA /new/deep/f\n"
            "C /opt\nD /opt/g\nD /opt/sub\nC /usr\nD /usr/sbin\n");
  std::string tar;
  LayerTar info = write_layer_tar(src, [&](const char* p, std::size_t n) { tar.append(p, n); });
  EXPECT_EQ(info.diff_id, digest_of(tar));
  EXPECT_EQ(names(read_tar(tar)),
            "etc/\netc/.wh.group\netc/passwd\nnew/\nnew/deep/\nnew/deep/f\nopt\nopt/.wh.g\nopt/.wh.sub\nusr/\n"
            "usr/.wh.sbin\n");
  // An unchanged copy: nothing.
  std::string same = t.path + "/same";
  copy_tree(lower, same);
  EXPECT_TRUE(list_changes({same, true, {lower}}).empty());
}

// ---- commit_image ----

std::string tar_of(const std::string& dir) {
  std::string tar;
  archive_directory(dir, [&](const char* p, std::size_t n) { tar.append(p, n); });
  return tar;
}

json config_of(Store& s, const ImageRecord& rec) { return json::parse(s.content().read(rec.id)); }

class Commit : public LayerMaker, public ::testing::WithParamInterface<SnapshotMode> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the store keeps owners and devices)";
    LayerMaker::SetUp();
    store = std::make_unique<Store>(t.path + "/store", GetParam());
    std::string tar = tar_of(lower);
    std::size_t off = 0;
    ImportOptions io;
    io.refs = {Reference::parse("base:1")};
    base = import_image(*store, [&](char* b, std::size_t n) {
      std::size_t k = std::min(n, tar.size() - off);
      std::memcpy(b, tar.data() + off, k);
      off += k;
      return k;
    }, io);
  }
  void TearDown() override { store.reset(); }

  // The container's view of its changes, in the store's form.
  ChangeSource changes() {
    auto paths = store->layer_paths(base);
    if (GetParam() == SnapshotMode::Overlay) return {upper, false, paths};
    // Copy mode: the container's rootfs is a full copy of the top snapshot, changed in place.
    std::string tree = t.path + "/rootfs";
    if (!path_exists(tree)) {
      copy_tree(paths.back(), tree);
      put(tree + "/etc/passwd", "root:x:0:0\nme:x:1:1\n");
      ::unlink((tree + "/etc/group").c_str());
      put(tree + "/etc/new", "new\n", 04755, 1700000000);
      remove_all(tree + "/root");
    }
    return {tree, true, {paths.back()}};
  }

  // A build step's commit (overlay mode): /etc/new added, the upper given away, no compression.
  CommitResult commit_movable(std::vector<Reference> refs = {}) {
    mkdirp(upper + "/etc");
    put(upper + "/etc/new", "new\n");
    CommitInput in;
    in.parent = base.id;
    in.changes = changes();
    in.changes->movable = true;
    in.compression = LayerCompression::None;
    in.refs = std::move(refs);
    return commit_image(*store, in);
  }

  std::unique_ptr<Store> store;
  ImageRecord base;
};

TEST_P(Commit, AddsOneLayerOnTheParentAndTheImageUnpacks) {
  mkdirp(upper + "/etc");
  put(upper + "/etc/passwd", "root:x:0:0\nme:x:1:1\n");
  ASSERT_TRUE(whiteout(upper + "/etc/group"));
  put(upper + "/etc/new", "new\n", 04755, 1700000000);
  ASSERT_TRUE(whiteout(upper + "/root"));

  CommitInput in;
  in.parent = base.id;
  in.changes = changes();
  in.config_json = R"({"config":{"Cmd":["sh"]},"container":"c1"})";
  in.author = "me";
  in.created_by = "sh -c x";
  in.comment = "a change";
  in.refs = {Reference::parse("new:1")};
  CommitResult r = commit_image(*store, in);
  EXPECT_FALSE(r.empty_layer);
  ASSERT_EQ(r.record.layers.size(), base.layers.size() + 1);
  EXPECT_EQ(store->resolve("new:1").id, r.record.id);

  json cfg = config_of(*store, r.record);
  EXPECT_EQ(cfg["config"]["Cmd"], json::array({"sh"}));
  EXPECT_EQ(cfg["container"], "c1");
  EXPECT_EQ(cfg["architecture"], config_of(*store, base)["architecture"]);
  ASSERT_EQ(cfg["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][0], base.layers[0].diff_id.str());
  const LayerInfo& top = r.record.layers.back();
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][1], top.diff_id.str());
  EXPECT_EQ(top.chain_id, chain_ids({base.layers[0].diff_id, top.diff_id})[1]);
  ASSERT_EQ(cfg["history"].size(), 2u);
  EXPECT_EQ(cfg["history"][1]["author"], "me");
  EXPECT_EQ(cfg["history"][1]["created_by"], "sh -c x");
  EXPECT_EQ(cfg["history"][1]["comment"], "a change");
  EXPECT_FALSE(cfg["history"][1].contains("empty_layer"));

  // The blob holds the layer (compressed), the manifest names it.
  Hasher h;
  UniqueFd fd = store->content().open(top.digest);
  Digest got = decompress([&](char* b, std::size_t n) { return static_cast<std::size_t>(::read(fd.get(), b, n)); },
                          [&](const char*, std::size_t) {});
  EXPECT_EQ(got, top.diff_id);
  auto manifest = Manifest::parse(store->content().read(r.record.manifest_digest), media::kOciManifest);
  ASSERT_EQ(manifest.layers.size(), 2u);
  EXPECT_EQ(manifest.layers[1].digest, top.digest);
  EXPECT_EQ(manifest.config.digest, r.record.id);

  // The snapshot is there, as the store keeps snapshots.
  std::string snap = store->snapshot_path(top.chain_id);
  if (GetParam() == SnapshotMode::Overlay) {
    struct stat st;
    ASSERT_EQ(::lstat((snap + "/etc/group").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0);
    EXPECT_EQ(read_file(snap + "/etc/new"), "new\n");
    EXPECT_FALSE(path_exists(snap + "/usr"));
  } else {
    EXPECT_FALSE(path_exists(snap + "/etc/group"));
    EXPECT_FALSE(path_exists(snap + "/root"));
    EXPECT_EQ(read_file(snap + "/etc/passwd"), "root:x:0:0\nme:x:1:1\n");
    EXPECT_EQ(read_file(snap + "/usr/sbin/a"), "a");
  }
  struct stat st;
  ASSERT_EQ(::stat((snap + "/etc/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);

  // It survives a reopen of the store (nothing of it is a leftover to clean).
  Digest id = r.record.id;
  store.reset();
  store = std::make_unique<Store>(t.path + "/store", GetParam());
  EXPECT_TRUE(store->get(id));
  EXPECT_TRUE(store->has_snapshot(top.chain_id));
  EXPECT_TRUE(store->content().has(top.digest));
}

TEST_P(Commit, ZstdAndUncompressedBlobsHoldTheSameLayer) {
  mkdirp(upper + "/etc");
  put(upper + "/etc/new", "new\n", 0644, 1700000000);
  std::optional<Digest> diff;
  for (LayerCompression c : {LayerCompression::Zstd, LayerCompression::None}) {
    CommitInput in;
    in.parent = base.id;
    in.changes = changes();
    in.compression = c;
    LayerInfo top = commit_image(*store, in).record.layers.back();
    EXPECT_EQ(top.media_type, c == LayerCompression::Zstd ? media::kOciLayerZstd : media::kOciLayer);
    UniqueFd fd = store->content().open(top.digest);
    Digest got = decompress([&](char* b, std::size_t n) { return static_cast<std::size_t>(::read(fd.get(), b, n)); },
                            [](const char*, std::size_t) {});
    EXPECT_EQ(got, top.diff_id);
    if (diff) {
      EXPECT_EQ(top.diff_id, *diff);  // the same tar, whatever the blob's compression
    }
    diff = top.diff_id;
  }
}

TEST_P(Commit, NoChangesAddNoLayer) {
  CommitInput in;
  in.parent = base.id;
  if (GetParam() == SnapshotMode::Overlay) {
    in.changes = ChangeSource{upper, false, store->layer_paths(base)};
  } else {
    std::string tree = t.path + "/rootfs";
    copy_tree(store->layer_paths(base).back(), tree);
    in.changes = ChangeSource{tree, true, {store->layer_paths(base).back()}};
  }
  in.created_by = "true";
  CommitResult r = commit_image(*store, in);
  EXPECT_TRUE(r.empty_layer);
  ASSERT_EQ(r.record.layers.size(), base.layers.size());
  json cfg = config_of(*store, r.record);
  EXPECT_EQ(cfg["history"].back()["empty_layer"], true);
  EXPECT_EQ(cfg["rootfs"]["diff_ids"].size(), base.layers.size());
  EXPECT_NE(r.record.id, base.id);
  // Nothing is left over: the store holds the two images' blobs and snapshots only.
  EXPECT_EQ(store->gc().size(), 0u);
}

TEST_P(Commit, MovesATagAndLeavesTheOldImageDangling) {
  CommitInput in;
  in.parent = base.id;
  in.refs = {Reference::parse("base:1")};
  in.comment = "one";
  CommitResult r = commit_image(*store, in);
  EXPECT_EQ(store->resolve("base:1").id, r.record.id);
  EXPECT_TRUE(store->get(base.id));
  EXPECT_TRUE(store->references(base.id).empty());
}

TEST_P(Commit, AGoneParentIsNotFoundAndLeavesNothing) {
  CommitInput in;
  in.parent = digest_of("no such image");
  in.changes = ChangeSource{upper, false, store->layer_paths(base)};
  EXPECT_THROW(commit_image(*store, in), NotFound);
  EXPECT_EQ(store->list().size(), 1u);
}

TEST_P(Commit, AnImageWrittenWithoutASyncIsCheckedAtTheNextOpen) {
  if (GetParam() != SnapshotMode::Overlay) GTEST_SKIP() << "only overlay-mode layers are written without a sync";
  mkdirp(upper + "/etc");
  put(upper + "/etc/new", "new\n");
  CommitInput in;
  in.parent = base.id;
  in.changes = changes();
  in.refs = {Reference::parse("new:1")};
  in.compression = LayerCompression::None;
  CommitResult r = commit_image(*store, in);
  LayerInfo top = r.record.layers.back();
  EXPECT_EQ(top.digest, top.diff_id);  // uncompressed
  Digest id = r.record.id;
  std::string root = t.path + "/store", rec_path = root + "/images/" + id.hex + ".json";
  std::string snap = store->snapshot_path(top.chain_id), blob = store->content().path(top.digest);
  store.reset();  // the syncer has run: the record is no longer marked
  EXPECT_EQ(read_file(rec_path).find("unsynced"), std::string::npos);

  // As if the process had died before the sync: the mark is back and the snapshot is damaged.
  auto mark = [&] {
    json j = json::parse(read_file(rec_path));
    j["unsynced"] = json::array({top.chain_id.str()});
    write_file(rec_path, j.dump(), O_TRUNC);
  };
  mark();
  ASSERT_EQ(::unlink((snap + "/etc/new").c_str()), 0);
  store = std::make_unique<Store>(root, GetParam());
  EXPECT_EQ(read_file(snap + "/etc/new"), "new\n");  // unpacked again from the blob
  EXPECT_EQ(store->resolve("new:1").id, id);
  EXPECT_EQ(read_file(rec_path).find("unsynced"), std::string::npos);

  // A blob that did not reach the disk whole: the image is dropped, with its name.
  store.reset();
  mark();
  ASSERT_EQ(::truncate(blob.c_str(), 100), 0);
  store = std::make_unique<Store>(root, GetParam());
  EXPECT_FALSE(store->get(id));
  EXPECT_THROW(store->resolve("new:1"), NotFound);
  EXPECT_TRUE(store->get(base.id));
  EXPECT_FALSE(path_exists(rec_path));
}

TEST_P(Commit, AMovableUpperBecomesTheSnapshot) {
  if (::geteuid() != 0) GTEST_SKIP() << "adopt_upper is for root";
  if (GetParam() != SnapshotMode::Overlay) GTEST_SKIP() << "copy mode has no upper directory";
  CommitResult r = commit_movable();
  ASSERT_EQ(r.record.layers.size(), base.layers.size() + 1);
  EXPECT_FALSE(path_exists(upper));
  EXPECT_EQ(read_file(store->layer_paths(r.record).back() + "/etc/new"), "new\n");
  const LayerInfo top = r.record.layers.back();
  EXPECT_EQ(top.diff_id, top.digest);
  // Its blob, the same bytes as the snapshot, is not written; the store makes it when needed.
  EXPECT_FALSE(store->content().has(top.digest));
  EXPECT_TRUE(store->has_layer_blob(top));
  store->ensure_layer_blob(top);
  ASSERT_TRUE(store->content().has(top.digest));
  EXPECT_EQ(store->content().size(top.digest), top.size);
  std::string tar = read_file(store->content().path(top.digest));
  EXPECT_EQ(digest_of(tar), top.diff_id);
  EXPECT_NE(tar.find("etc/new"), std::string::npos);
}

TEST_P(Commit, AKeptLayerWithoutItsBlobIsCheckedAgainstItsSnapshot) {
  if (::geteuid() != 0) GTEST_SKIP() << "adopt_upper is for root";
  if (GetParam() != SnapshotMode::Overlay) GTEST_SKIP() << "copy mode has no upper directory";
  store->set_sync_delay(std::chrono::hours(1));  // the record stays marked as unsynced
  CommitResult r = commit_movable({Reference::parse("new:1")});
  const LayerInfo top = r.record.layers.back();
  Digest id = r.record.id;
  std::string root = t.path + "/store", rec_path = root + "/images/" + id.hex + ".json";
  std::string snap = store->snapshot_path(top.chain_id);
  ASSERT_NE(read_file(rec_path).find("unsynced"), std::string::npos);
  auto marked = read_file(rec_path);

  // As if the machine had gone down before the sync, the snapshot whole: kept.
  store.reset();
  write_file(rec_path, marked, O_TRUNC);
  store = std::make_unique<Store>(root, GetParam());
  EXPECT_EQ(store->resolve("new:1").id, id);
  EXPECT_EQ(read_file(rec_path).find("unsynced"), std::string::npos);

  // A snapshot that changed: its blob cannot be made any more.
  put(snap + "/etc/new", "changed\n");
  try {
    store->ensure_layer_blob(top);
    ADD_FAILURE() << "a changed snapshot made a blob";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("making its blob from " + snap), std::string::npos) << e.what();
  }
  EXPECT_FALSE(store->content().has(top.digest));

  // ... and, marked, the image is dropped at the next open, with its name.
  store.reset();
  write_file(rec_path, marked, O_TRUNC);
  store = std::make_unique<Store>(root, GetParam());
  EXPECT_FALSE(store->get(id));
  EXPECT_THROW(store->resolve("new:1"), NotFound);
  EXPECT_TRUE(store->get(base.id));
}

TEST_P(Commit, AnImageWithoutANewLayerIsCheckedAtTheNextOpen) {
  store->set_sync_delay(std::chrono::hours(1));  // no sync before the check below, however slow the machine
  CommitInput in;
  in.parent = base.id;
  in.refs = {Reference::parse("meta:1")};
  CommitResult r = commit_image(*store, in);
  ASSERT_TRUE(r.empty_layer);
  Digest id = r.record.id;
  std::string root = t.path + "/store", rec_path = root + "/images/" + id.hex + ".json";
  std::string config = store->content().path(id);
  EXPECT_NE(read_file(rec_path).find("unsynced"), std::string::npos);  // written without a sync
  store.reset();  // the syncer has run: the record is no longer marked
  EXPECT_EQ(read_file(rec_path).find("unsynced"), std::string::npos);

  // As if the process had died before the sync: checked, and kept when its blobs are whole.
  auto mark = [&] {
    json j = json::parse(read_file(rec_path));
    j["unsynced"] = json::array({id.str()});
    write_file(rec_path, j.dump(), O_TRUNC);
  };
  mark();
  store = std::make_unique<Store>(root, GetParam());
  EXPECT_EQ(store->resolve("meta:1").id, id);
  EXPECT_EQ(read_file(rec_path).find("unsynced"), std::string::npos);

  // A config that did not reach the disk whole: the image is dropped, with its name.
  store.reset();
  mark();
  ASSERT_EQ(::truncate(config.c_str(), 10), 0);
  store = std::make_unique<Store>(root, GetParam());
  EXPECT_FALSE(store->get(id));
  EXPECT_THROW(store->resolve("meta:1"), NotFound);
  EXPECT_TRUE(store->get(base.id));
}

INSTANTIATE_TEST_SUITE_P(Modes, Commit, ::testing::Values(SnapshotMode::Overlay, SnapshotMode::Copy),
                         [](const auto& info) { return info.param == SnapshotMode::Overlay ? "Overlay" : "Copy"; });

}  // namespace
}  // namespace hoist::image
