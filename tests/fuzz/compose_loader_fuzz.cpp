// The compose loader on one file (the input): parse, interpolation, schema, canonical forms,
// merge of extends within the file, defaults, validation. When a project loads, its YAML output
// reads back as the same model, its JSON too, and every service has a config hash.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/compose/project.h"
#include "cli/compose/yaml.h"
#include "common/json.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace hoist::compose;
  static std::string dir = [] {
    std::string t = std::string(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + "/compose-fuzz.XXXXXX";
    if (!mkdtemp(t.data())) abort();
    return t;
  }();
  std::string file = dir + "/compose.yaml";
  {
    std::ofstream f(file, std::ios::trunc | std::ios::binary);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  LoadOptions o;
  o.files = {file};
  o.cwd = dir;
  o.environ = {{"TAG", "1.0"}, {"EMPTY", ""}, {"HOME", dir}};
  hoist::fuzz::expect_only_input_errors([&] {
    Project p = load_project(o);
    std::string y = p.to_yaml();
    nlohmann::json back;
    try {
      back = parse_yaml(y, "output");
    } catch (const hoist::Error& e) {
      hoist::fuzz::fail(std::string("config output does not parse: ") + e.what() + "\n" + y);
    }
    if (back != *p.model) hoist::fuzz::fail("config output reads back differently:\n" + y);
    (void)hoist::parse_json(p.to_json(), "json output");
    for (const auto& s : p.service_names())
      if (p.config_hash(s).size() != 64) hoist::fuzz::fail("bad hash");
    (void)p.start_order();
  });
  return 0;
}
