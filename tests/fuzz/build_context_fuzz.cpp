// hoist build's context descriptions: the stat list of POST /hoist/build-context (compared with a
// kept copy in a private directory) and the X-Hoist-Context-Stat entry of a context.
#include <cstdlib>
#include <string>

#include "engine/build_context_cache.h"
#include "engine/build_sources.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");  // bench/fuzz.sh's private directory
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/hoist-fuzz-context-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    return tmpl;
  }();
  static hoist::engine::ContextCache cache(dir);
  auto s = std::string(hoist::fuzz::as_text(data, size));
  hoist::fuzz::expect_only_input_errors([&] { (void)cache.compare(std::string(64, 'a'), s); });
  hoist::fuzz::expect_only_input_errors([&] { (void)hoist::engine::ContextStats::parse(s, nullptr); });
  return 0;
}
