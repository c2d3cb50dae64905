// Compose interpolation and .env files: the input as a template and as an env file. Invariants:
// a text with every `$` doubled interpolates back to itself; a text without `$` is unchanged.
#include <map>

#include "cli/compose/dotenv.h"
#include "cli/compose/interpolate.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace hoist::compose;
  auto s = hoist::fuzz::as_text(data, size);
  static const std::map<std::string, std::string, std::less<>> vars = {
      {"A", "a"}, {"EMPTY", ""}, {"NESTED", "${A}"}, {"DOLLAR", "$$"}, {"LONG", std::string(100, 'x')}};
  Lookup look = [](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::string> unset;
  hoist::fuzz::expect_only_input_errors([&] { (void)interpolate(s, look, &unset); });
  std::string escaped;
  for (char c : s) escaped += c == '$' ? std::string("$$") : std::string(1, c);
  std::string back;
  try {
    back = interpolate(escaped, look);
  } catch (const hoist::Error& e) {
    hoist::fuzz::fail(std::string("escaped text fails: ") + e.what());
  }
  if (back != s) hoist::fuzz::fail("escaped text does not interpolate to itself");
  if (s.find('$') == std::string_view::npos && interpolate(s, look) != s) hoist::fuzz::fail("text without $ changed");
  hoist::fuzz::expect_only_input_errors([&] { (void)parse_dotenv(s, "fuzz.env", look); });
  return 0;
}
