// The layer extractor: the input is a layer (gzip, zstd or plain tar). It is unpacked into
// <outer>/a/root; afterwards <outer> must hold only "a" and <outer>/a only "root": an entry that
// lands anywhere outside the root is a finding. The first byte picks the whiteout mode and whether
// owners and devices are restored (as root).
#include <dirent.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "fuzz.h"
#include "image/layer.h"

namespace fs = std::filesystem;

namespace {

struct Dirs {
  std::string outer, mid, root;
  Dirs() {
    std::string tmpl = fs::temp_directory_path().string() + "/hoist-fuzz-layer.XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    outer = tmpl;
    mid = outer + "/a";
    root = mid + "/root";
    fs::create_directory(mid);
  }
  ~Dirs() { fs::remove_all(outer); }
};

// The names in `dir` other than `allowed`.
std::string strangers(const std::string& dir, const char* allowed) {
  std::string out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != allowed) out += " " + e.path().filename().string();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static Dirs dirs;
  if (size == 0) return 0;
  hoist::image::ExtractOptions opts;
  opts.whiteouts = data[0] & 1 ? hoist::image::WhiteoutMode::Apply : hoist::image::WhiteoutMode::Overlay;
  opts.privileged = (data[0] & 2) && ::geteuid() == 0;
  ++data, --size;
  fs::create_directory(dirs.root);
  hoist::fuzz::expect_only_input_errors([&] {
    std::size_t pos = 0;
    hoist::image::extract_layer(dirs.root, [&](char* buf, std::size_t len) {
      std::size_t n = std::min(len, size - pos);
      std::memcpy(buf, data + pos, n);
      pos += n;
      return n;
    }, opts);
  });
  auto out = strangers(dirs.outer, "a") + strangers(dirs.mid, "root");
  if (!out.empty()) hoist::fuzz::fail("the layer wrote outside its root:" + out);
  std::error_code ec;
  fs::remove_all(dirs.root, ec);
  if (ec) hoist::fuzz::fail("remove " + dirs.root + ": " + ec.message());
  return 0;
}
