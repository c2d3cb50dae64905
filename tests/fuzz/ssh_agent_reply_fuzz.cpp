// The build's SSH agent client (engine/ssh_agent_client.h), fed what an agent replies: the first
// byte chooses the parser (identities answer, sign response, signature blob, the signed data's
// flags). Errors may only be InvalidArgument; identities parsed encode back to the reply.
#include "common/ssh_wire.h"
#include "engine/ssh_agent_client.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto text = hoist::fuzz::as_text(data, size);
  if (text.empty()) return 0;
  unsigned which = static_cast<unsigned char>(text[0]) % 4;
  text.remove_prefix(1);
  try {
    switch (which) {
      case 0: {
        auto ids = hoist::engine::parse_identities_answer(text);
        std::string again(1, '\x0c');
        hoist::ssh_wire::put_u32(again, static_cast<std::uint32_t>(ids.size()));
        for (const auto& id : ids) {
          hoist::ssh_wire::put_str(again, id.blob);
          hoist::ssh_wire::put_str(again, id.comment);
        }
        if (again != text) hoist::fuzz::fail("identities do not encode back");
        break;
      }
      case 1: {
        std::string sig = hoist::engine::parse_sign_response(text);
        if (sig.size() + 5 != text.size()) hoist::fuzz::fail("a signature of the wrong size");
        break;
      }
      case 2:
        (void)hoist::engine::signature_bytes(text);
        break;
      default: {
        std::uint32_t f = hoist::engine::userauth_sign_flags(text);
        if (f != 0 && f != 2 && f != 4) hoist::fuzz::fail("flags " + std::to_string(f));
      }
    }
  } catch (const hoist::InvalidArgument&) {
  }
  return 0;
}
