// A container create's mounts (volumes/mounts.h): the input is a HostConfig (Binds, Mounts, Tmpfs,
// VolumesFrom, VolumeDriver) whose "Volumes" key stands for the Config.Volumes paths; planned
// with another container's mounts for VolumesFrom, then written to the record form and read back,
// which must give the same plan and the same inspect view.
#include "common/json.h"
#include "fuzz.h"
#include "volumes/mounts.h"

using nlohmann::json;
namespace vol = hoist::volumes;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  json hc;
  try {
    hc = hoist::parse_json(hoist::fuzz::as_text(data, size), "host config");
  } catch (const hoist::Error&) {
    return 0;
  }
  if (!hc.is_object()) return 0;
  std::vector<std::string> config_volumes;
  if (hc.contains("Volumes") && hc["Volumes"].is_object())
    for (auto& [k, v] : hc["Volumes"].items()) config_volumes.push_back(k);
  static const auto other = vol::mounts_from_json(json::parse(
      R"([{"Type":"volume","Name":"shared","Source":"/v/shared/_data","Destination":"/s","Driver":"local"},
          {"Type":"bind","Source":"/h","Destination":"/h","Propagation":"rprivate"},
          {"Type":"tmpfs","Destination":"/t","Options":["size=1m"],"Shown":false}])"));
  hoist::fuzz::expect_only_input_errors([&] {
    auto plan = vol::plan_mounts(hc, config_volumes, [](const std::string& c) {
      if (c != "data") throw hoist::InvalidArgument("No such container: " + c);
      return other;
    });
    auto record = vol::mounts_to_json(plan);
    auto back = vol::mounts_from_json(json::parse(record.dump()));
    if (vol::mounts_to_json(back) != record) hoist::fuzz::fail("the record form does not read back the same");
    if (vol::inspect_mounts(back) != vol::inspect_mounts(plan)) hoist::fuzz::fail("inspect differs after a read back");
  });
  hoist::fuzz::expect_only_input_errors([&] { (void)vol::inspect_mounts(hc); });
  return 0;
}
