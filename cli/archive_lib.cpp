#include "cli/archive_lib.h"

#include <string>

#include "common/error.h"
#include "common/shared_lib.h"

namespace hoist::cli {

namespace {

ArchiveLib load() {
  SharedLib so("libarchive.so.13");
  ArchiveLib lib{};
#define HOIST_ARCHIVE_BIND(f) so.bind(#f, lib.f);
  HOIST_ARCHIVE_FUNCTIONS(HOIST_ARCHIVE_BIND)
#undef HOIST_ARCHIVE_BIND
  so.keep();  // the library stays loaded for the process's life
  return lib;
}

}  // namespace

const ArchiveLib& archive_lib() { return load_once<ArchiveLib, load>(); }

TarStream::TarStream(const Sink& send, std::size_t block) : lib_(archive_lib()), send_(send), a_(lib_.archive_write_new()) {
  if (!a_) throw Error("archive: out of memory");
  lib_.archive_write_set_format_pax_restricted(a_);
  lib_.archive_write_add_filter_none(a_);
  lib_.archive_write_set_bytes_per_block(a_, static_cast<int>(block));
  lib_.archive_write_set_bytes_in_last_block(a_, 1);
  try {
    check(lib_.archive_write_open(a_, this, nullptr, &TarStream::write_cb, nullptr));
  } catch (...) {
    lib_.archive_write_free(a_);
    throw;
  }
}

TarStream::~TarStream() { lib_.archive_write_free(a_); }

la_ssize_t TarStream::write_cb(struct archive*, void* self, const void* buf, std::size_t len) {
  auto* t = static_cast<TarStream*>(self);
  if (!t->send_(std::string_view(static_cast<const char*>(buf), len))) {
    t->closed_ = true;
    return -1;
  }
  t->bytes_ += static_cast<std::int64_t>(len);
  return static_cast<la_ssize_t>(len);
}

void TarStream::check(int r) const {
  if (r >= ARCHIVE_WARN) return;
  const char* m = lib_.archive_error_string(a_);
  throw Error(std::string("archive: ") + (m ? m : "unknown error"));
}

}  // namespace hoist::cli
