// Image references: a reference that parses prints to a string that parses back to itself.
#include "fuzz.h"
#include "image/reference.h"

using hoist::image::Reference;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  auto s = hoist::fuzz::as_text(data, size);
  (void)hoist::image::looks_like_image_id(s);
  hoist::fuzz::expect_only_input_errors([&] { (void)Reference::parse_name_only(s); });
  hoist::fuzz::expect_only_input_errors([&] {
    auto r = Reference::parse(s);
    Reference again;
    try {
      again = Reference::parse(r.str());
    } catch (const hoist::Error& e) {
      hoist::fuzz::fail("\"" + r.str() + "\" (from \"" + std::string(s) + "\") does not parse: " + e.what());
    }
    if (!(again == r)) hoist::fuzz::fail("\"" + r.str() + "\" parses to \"" + again.str() + "\"");
    // As in Docker, the familiar form of docker.io/a.b/c is "a.b/c", which names registry a.b:
    // only a familiar name whose first component cannot be a domain must parse back.
    auto fam = r.familiar_name();
    auto first = fam.substr(0, fam.find('/'));
    bool domain_like = fam.find('/') != std::string::npos &&
                       (first.find_first_of(".:") != std::string::npos || first == "localhost");
    if (!domain_like && !(Reference::parse(r.familiar()) == r))
      hoist::fuzz::fail("familiar \"" + r.familiar() + "\" is not \"" + r.str() + "\"");
  });
  return 0;
}
