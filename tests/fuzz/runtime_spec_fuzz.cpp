// The runtime's config.json parser (and the process.json of exec --process).
#include "fuzz.h"
#include "runtime/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  std::string text(hoist::fuzz::as_text(data, size));
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::oci::parse_spec(text, "/run/bundle"); });
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::oci::parse_process(text); });
  return 0;
}
