// The json-file driver's options that shape its entries, as dockerd's logger.Info does them:
//   labels / labels-regex  the container's labels named (comma-separated) or matching a regex
//   env / env-regex        the container's environment variables (Config.Env: the image's and
//                          the container's) named or matching
//   tag                    a Go template over the container ({{.ID}}, {{.FullID}}, {{.Name}},
//                          {{.ImageID}} (dockerd's: the first 12 characters of "sha256:..."),
//                          {{.ImageFullID}}, {{.ImageName}}, {{.DaemonName}}, {{.Hostname}});
//                          other template syntax is refused
// all of them as each entry's "attrs"; and compress (rotated files gzip-compressed), which needs
// max-size and a max-file of 2 or more. The errors are dockerd's, which it gives at start.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hoist::engine {

struct LogContainerInfo {
  std::string id, name, image_id, image_name;
  std::map<std::string, std::string> labels;
  std::vector<std::string> env;  // KEY=value
};

// The "attrs" JSON object's text for a container whose LogConfig.Config is `config` (option →
// value); empty when there are none. Throws Error ("failed to initialize logging driver: ...").
std::string log_attrs_json(const std::map<std::string, std::string>& config, const LogContainerInfo& info);

// Whether rotated files are compressed; throws Error for a bad value or compress without rotation.
bool log_compress(const std::map<std::string, std::string>& config, std::int64_t max_size, int max_files);

}  // namespace hoist::engine
