// `hoist build --progress=tty`'s model of the daemon's stream (cli/build_progress.h): the input,
// split at NUL bytes into pieces, is fed as {"stream"} texts and pull statuses; every frame must
// fit the terminal's width, whatever the text.
#include <cstdlib>

#include "cli/build_progress.h"
#include "fuzz.h"

namespace {

std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  std::string_view in = hoist::fuzz::as_text(data, size);
  hoist::cli::BuildProgress p(40, 12);
  double t = 0;
  for (std::size_t i = 0; i <= in.size();) {
    std::size_t nul = in.find('\0', i);
    if (nul == std::string_view::npos) nul = in.size();
    std::string_view piece = in.substr(i, nul - i);
    if (!piece.empty() && piece[0] == '\x01') p.status("id", std::string(piece.substr(1)), "[==> ]", t);
    else p.stream(piece, t);
    t += 0.1;
    for (const std::string& l : p.frame(t, false))
      if (columns(l) > 39) std::abort();
    i = nul + 1;
  }
  if (!in.empty() && in[0] == 'E') p.error("failed", t);
  else p.done(t);
  (void)p.final_frame(t, true);
  return 0;
}
