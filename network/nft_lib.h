// libnftables, loaded while the daemon changes its table and unloaded once it has been idle a
// while. The daemon changes its table only when its rules change (start, network create/remove,
// published ports), while the library, the five it pulls in (libnftnl, libxtables, libjansson,
// libgmp, libmnl) and a context (whose cache takes 512 KiB for each table on the host) would
// otherwise stay resident for the daemon's life: about 2.5 MiB.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace hoist::network {

class NftSession;  // one libnftables context, and the library under it

// Runs nft scripts, one at a time, in a session opened by the first and closed by a thread of its
// own `linger` after the last. Commands in a burst share the session, as with one context for the
// daemon's life; and the context's netlink socket is not closed right after a commit, when closing
// it waits for the kernel to free the replaced rules (an RCU grace period, 10-15 ms).
class NftRunner {
 public:
  explicit NftRunner(std::chrono::milliseconds linger = std::chrono::seconds(2));
  ~NftRunner();  // closes the session at once
  NftRunner(const NftRunner&) = delete;
  NftRunner& operator=(const NftRunner&) = delete;

  struct Result {
    int rc = 0;  // nft_run_cmd_from_filename's
    std::string output, error;
  };
  // Throws hoist::Error when libnftables cannot be loaded.
  Result run_file(const std::string& path);
  bool loaded() const;  // a session is open (for the tests)

 private:
  void close_when_idle();

  const std::chrono::milliseconds linger_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<NftSession> session_;
  std::chrono::steady_clock::time_point last_;
  std::thread closer_;
  bool closer_running_ = false;
  bool stopping_ = false;
};

}  // namespace hoist::network
