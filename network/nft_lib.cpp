#include "network/nft_lib.h"

// libnftables.h defines _GNU_SOURCE itself, which the compiler has defined already.
#pragma push_macro("_GNU_SOURCE")
#undef _GNU_SOURCE
#include <nftables/libnftables.h>
#pragma pop_macro("_GNU_SOURCE")

#include <cstddef>

#include "common/error.h"
#include "common/shared_lib.h"

namespace hoist::network {

namespace {

// libgmp's allocator (gmp.h's mp_get_memory_functions and mp_set_memory_functions).
using GmpAlloc = void* (*)(std::size_t);
using GmpRealloc = void* (*)(void*, std::size_t, std::size_t);
using GmpFree = void (*)(void*, std::size_t);
using GmpMemoryFunctions = void (*)(GmpAlloc*, GmpRealloc*, GmpFree*);
using GmpSetMemoryFunctions = void (*)(GmpAlloc, GmpRealloc, GmpFree);

}  // namespace

// One libnftables context with buffered output and error, and the library under it.
class NftSession {
 public:
  NftSession();  // throws hoist::Error when the library cannot be loaded or is out of memory
  ~NftSession();
  NftSession(const NftSession&) = delete;
  NftSession& operator=(const NftSession&) = delete;

  // nft_run_cmd_from_filename: 0 on success; output() and error() then hold what it printed (valid
  // until the next command; reading a buffer empties it).
  int run_file(const std::string& path);
  const char* output() const;
  const char* error() const;

 private:
  SharedLib so_;
  decltype(&nft_ctx_free) ctx_free_ = nullptr;
  decltype(&nft_run_cmd_from_filename) run_file_ = nullptr;
  decltype(&nft_ctx_get_output_buffer) output_ = nullptr;
  decltype(&nft_ctx_get_error_buffer) error_ = nullptr;
  ::nft_ctx* ctx_ = nullptr;
};

NftSession::NftSession() : so_("libnftables.so.1") {
  so_.bind("nft_ctx_free", ctx_free_);
  so_.bind("nft_run_cmd_from_filename", run_file_);
  so_.bind("nft_ctx_get_output_buffer", output_);
  so_.bind("nft_ctx_get_error_buffer", error_);
  decltype(&nft_ctx_new) ctx_new = nullptr;
  decltype(&nft_ctx_buffer_output) buffer_output = nullptr;
  decltype(&nft_ctx_buffer_error) buffer_error = nullptr;
  so_.bind("nft_ctx_new", ctx_new);
  so_.bind("nft_ctx_buffer_output", buffer_output);
  so_.bind("nft_ctx_buffer_error", buffer_error);
  // nft_ctx_new points libgmp's allocator at libnftables' own functions, which would dangle once
  // libnftables is unloaded while libgmp stays (libcurl's GnuTLS keeps it after a pull): the
  // previous ones are put back at once (both sets are malloc, realloc and free).
  GmpMemoryFunctions gmp_get = nullptr;
  GmpSetMemoryFunctions gmp_set = nullptr;
  so_.bind("__gmp_get_memory_functions", gmp_get);
  so_.bind("__gmp_set_memory_functions", gmp_set);
  GmpAlloc alloc = nullptr;
  GmpRealloc realloc = nullptr;
  GmpFree free = nullptr;
  gmp_get(&alloc, &realloc, &free);
  ctx_ = ctx_new(NFT_CTX_DEFAULT);
  gmp_set(alloc, realloc, free);
  if (!ctx_) throw Error("nftables: create a context: out of memory");
  if (buffer_output(ctx_) != 0 || buffer_error(ctx_) != 0) {
    ctx_free_(ctx_);
    throw Error("nftables: buffer the output of a context: out of memory");
  }
}

NftSession::~NftSession() { ctx_free_(ctx_); }

int NftSession::run_file(const std::string& path) { return run_file_(ctx_, path.c_str()); }

const char* NftSession::output() const { return output_(ctx_); }

const char* NftSession::error() const { return error_(ctx_); }

NftRunner::NftRunner(std::chrono::milliseconds linger) : linger_(linger) {}

NftRunner::~NftRunner() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (closer_.joinable()) closer_.join();
}

NftRunner::Result NftRunner::run_file(const std::string& path) {
  std::lock_guard lk(mu_);
  if (!session_) session_ = std::make_unique<NftSession>();
  Result r;
  r.rc = session_->run_file(path);
  r.output = session_->output();
  r.error = session_->error();
  last_ = std::chrono::steady_clock::now();
  if (!closer_running_) {
    if (closer_.joinable()) closer_.join();  // it has left its loop: nothing to wait for
    closer_ = std::thread([this] { close_when_idle(); });
    closer_running_ = true;
  }
  return r;
}

void NftRunner::close_when_idle() {
  std::unique_lock lk(mu_);
  while (!stopping_ && std::chrono::steady_clock::now() < last_ + linger_) cv_.wait_until(lk, last_ + linger_);
  session_.reset();
  closer_running_ = false;
}

bool NftRunner::loaded() const {
  std::lock_guard lk(mu_);
  return session_ != nullptr;
}

}  // namespace hoist::network
