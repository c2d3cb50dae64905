// The CLI's --format: templates rendered against a container row, as a plain template, a
// "table" format or "json". The input is the format string.
#include "cli/format.h"
#include "fuzz.h"

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const json row = json::parse(R"({
    "ID": "4f3a2b1c0d9e", "Image": "busybox:latest", "Command": "\"sh -c 'sleep 1'\"",
    "Names": ["/web"], "Labels": {"a": "1", "com.example.x": "y"}, "Ports": [],
    "Size": 1234567, "Created": 1700000000, "Running": true, "Ratio": 0.25,
    "State": {"Status": "running", "Pid": 42, "Health": null},
    "Mounts": [{"Source": "/x", "Destination": "/y"}], "Env": ["A=1", "B=2"]})");
  static const std::map<std::string, std::string> headers = {{"ID", "CONTAINER ID"}, {"Image", "IMAGE"}};
  std::string format(hoist::fuzz::as_text(data, size));
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::cli::render_template(format, row); });
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::cli::format_list(format, {row, row}, headers); });
  return 0;
}
