// POST /containers/create body → the OCI spec builder (engine/containers/oci_spec.h), as the create handler
// decodes it (engine/api/request_json.h, then the spec builder): the body is the container Config, its HostConfig apart;
// and the HostConfig's network checks, legacy links (network/links.h) and generic log options (logs.h).
#include <unistd.h>

#include <filesystem>

#include "common/file.h"
#include "common/error.h"
#include "common/json.h"
#include "engine/containers/logs.h"
#include "engine/containers/oci_spec.h"
#include "network/container_files.h"
#include "network/links.h"
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
  // The HostConfig's links (each as a link's variables and /etc/hosts line would be made of it)
  // and the generic log options.
  hoist::fuzz::expect_only_input_errors([&] {
    const json hc = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"] : json::object();
    hoist::network::check_host_config(hc);
    for (const auto& l : hoist::json_str_list(hc, "Links").value_or(std::vector<std::string>{})) {
      auto spec = hoist::network::parse_link(l);
      hoist::network::LinkedContainer c{spec.name, "0123456789ab", "10.0.0.2", {"A=b", "HOME=/"}, {{80, "tcp"}, {81, "udp"}}};
      (void)hoist::network::link_env("linking", spec.alias, c);
      (void)hoist::network::link_host_entry(spec.alias, c);
    }
  });
  hoist::fuzz::expect_only_input_errors([&] {
    const json hc = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"] : json::object();
    if (!hc.contains("LogConfig") || !hc["LogConfig"].is_object()) return;
    auto cfg = hc["LogConfig"].value("Config", json::object());
    if (!cfg.is_object()) return;
    auto opt = [&](const char* k) { return cfg.contains(k) && cfg[k].is_string() ? cfg[k].get_ptr<const std::string*>() : nullptr; };
    (void)hoist::engine::log_ring_bytes(opt("mode"), opt("max-buffer-size"));
  });
  return 0;
}
