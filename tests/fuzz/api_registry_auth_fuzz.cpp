// The X-Registry-Auth header (base64url JSON) of pull and push.
#include "engine/api/routes.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  hoist::fuzz::expect_only_input_errors(
      [&] { (void)hoist::engine::decode_registry_auth(hoist::fuzz::as_text(data, size)); });
  return 0;
}
