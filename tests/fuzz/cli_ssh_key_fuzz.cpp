// `hoist build --ssh id=<key file>` (cli/ssh_keys.h, cli/ssh_key_agent.h): a key file's content,
// then the in-process agent's answer to a request made of the same bytes. Errors may only be the
// documented ones; a key that is read lists itself and its signature names its algorithm.
#include "cli/ssh_key_agent.h"
#include "cli/ssh_keys.h"
#include "common/ssh_wire.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  std::string_view text = hoist::fuzz::as_text(data, size);
  std::vector<hoist::cli::SshKey> keys;
  hoist::fuzz::expect_only_input_errors([&] { keys.push_back(hoist::cli::parse_private_key(text)); });
  if (!keys.empty()) {
    std::string request(1, '\x0d');  // SIGN_REQUEST of a few bytes with the key just read
    hoist::ssh_wire::put_str(request, keys[0].public_blob());
    hoist::ssh_wire::put_str(request, "data");
    hoist::ssh_wire::put_u32(request, hoist::cli::kSshAgentRsaSha256);
    hoist::cli::KeyAgent agent(std::move(keys));
    std::string answer = agent.answer(request);
    if (answer.empty() || (answer[0] != '\x0e' && answer[0] != '\x05')) hoist::fuzz::fail("a sign answer of another type");
    agent.answer(text);
  } else {
    hoist::cli::KeyAgent({}).answer(text);
  }
  return 0;
}
