// .dockerignore files and COPY wildcards: the reader, the matcher (every pattern against every
// line as a path) and Go's filepath.Match. Errors may only be the documented ones (the bad
// pattern, "illegal exclusion pattern").
#include "builder/dockerignore.h"
#include "builder/go_match.h"
#include "builder/go_text.h"
#include "fuzz.h"

using namespace hoist::builder;

namespace {

bool literal(const std::string& p) { return p.find_first_of("*?[]\\!") == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto text = hoist::fuzz::as_text(data, size);
  auto patterns = read_dockerignore(text);
  if (patterns.size() > 64) patterns.resize(64);
  hoist::fuzz::expect_only_input_errors([&] {
    IgnoreMatcher im(patterns);
    if (im.excluded(".") || im.excluded("")) hoist::fuzz::fail("the context's root is excluded");
    for (auto& p : patterns) (void)im.excluded(p);
    (void)im.excluded("a/b/c.txt");
    (void)IgnoreMatcher::with_build_files(patterns, "Dockerfile");
  });
  // A pattern without special characters excludes itself (when it is a path below the root, and
  // the matcher's own trimming, as Docker's, leaves it as it is: "/\vb" is read as "\vb", which
  // the matcher trims to "b").
  for (auto& p : patterns) {
    if (!literal(p) || p.empty() || p == "." || p[0] == '/' || p == ".." || p.rfind("../", 0) == 0) continue;
    if (hoist::builder::go::trim_space(p) != p) continue;
    if (!IgnoreMatcher({p}).excluded(p)) hoist::fuzz::fail("\"" + p + "\" does not exclude itself");
  }
  // filepath.Match, each line as a pattern against each line as a name.
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos <= text.size() && lines.size() < 16) {
    auto nl = text.find('\n', pos);
    lines.emplace_back(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  for (auto& p : lines)
    for (auto& n : lines)
      hoist::fuzz::expect_only_input_errors([&] {
        bool m = go_match(p, n);
        if (&p == &n && literal(p) && !m) hoist::fuzz::fail("\"" + p + "\" does not match itself");
      });
  return 0;
}
