// A build's remote as a git repository (builder/git_remote.h): which remotes are git URLs, and
// the URL's ref and subdirectory. Errors may only be the documented one (a ref starting with "-");
// the parts come back without the fragment, and a ref is never empty.
#include "builder/git_remote.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  std::string url(hoist::fuzz::as_text(data, size));
  (void)hoist::builder::is_git_url(url);
  hoist::fuzz::expect_only_input_errors([&] {
    hoist::builder::GitRemote r = hoist::builder::parse_git_remote(url);
    if (r.ref.empty()) hoist::fuzz::fail("an empty ref");
    if (r.ref[0] == '-') hoist::fuzz::fail("a ref that is an option: " + r.ref);
    if (r.remote.find('#') != std::string::npos) hoist::fuzz::fail("the fragment left in the remote: " + r.remote);
    if (r.ref.find(':') != std::string::npos) hoist::fuzz::fail("the subdirectory left in the ref: " + r.ref);
  });
  (void)hoist::builder::is_git_source(url);
  (void)hoist::builder::is_ssh_git_remote(url);
  hoist::fuzz::expect_only_input_errors([&] {
    hoist::builder::GitRemote r = hoist::builder::parse_git_source(url);
    if (r.ref.empty() || r.ref[0] == '-') hoist::fuzz::fail("an ADD source's ref: " + r.ref);
  });
  return 0;
}
