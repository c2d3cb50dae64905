// POST /containers/create body → the OCI spec builder (engine/containers/oci_spec.h), as the create handler
// decodes it (engine/api/request_json.h, then the spec builder): the body is the container Config, its HostConfig apart.
#include <unistd.h>

#include <filesystem>

#include "common/file.h"
#include "common/error.h"
#include "engine/containers/oci_spec.h"
#include "engine/api/request_json.h"
#include "fuzz.h"

using nlohmann::json;

namespace {

// A rootfs with /etc/passwd and /etc/group, so that User and GroupAdd are resolved for real.
struct Rootfs {
  std::string dir;
  Rootfs() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/hoist-fuzz-rootfs.XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    std::filesystem::create_directories(dir + "/etc");
    hoist::write_file_atomic(dir + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
                                           "app:x:1000:1000::/home/app:/bin/sh\n", 0644, false);
    hoist::write_file_atomic(dir + "/etc/group", "root:x:0:\nwheel:x:10:root,app\nnogroup:x:65534:\napp:x:1000:\n", 0644, false);
  }
  ~Rootfs() { std::filesystem::remove_all(dir); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static Rootfs rootfs;
  json body;
  try {
    body = hoist::engine::decode_json(hoist::fuzz::as_text(data, size), hoist::engine::BodyType::ContainerCreate, false);
  } catch (const hoist::InvalidArgument&) {
    return 0;  // a 400 of the decoder: bad JSON, too deep, not an object
  }
  hoist::fuzz::expect_only_input_errors([&] {
    hoist::engine::SpecInput in;
    in.id = std::string(64, 'a');
    in.host_config = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"] : json::object();
    in.config = body;
    in.config.erase("HostConfig");
    in.config.erase("NetworkingConfig");
    in.image_config = {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
                       {"Cmd", {"sh"}},
                       {"WorkingDir", "/"},
                       {"Labels", {{"a", "b"}}}};
    in.rootfs = rootfs.dir;
    in.hosts_path = "/etc/hosts";
    in.cgroup_parent = "/hoist";
    in.init_path = "/usr/bin/true";
    hoist::engine::resolve_command(in.config, in.image_config);
    auto spec = hoist::engine::build_oci_spec(in);
    (void)spec.dump();
  });
  return 0;
}
