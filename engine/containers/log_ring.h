// The ring buffer of the log option mode=non-blocking, as dockerd's ring logger: the entries a
// container writes wait here for the log's own thread, up to `max_bytes` of log text (one entry
// always fits when none waits); an entry that does not fit is dropped, so a slow or stuck log
// never blocks the container's output. Used by hoist-shim's LogWriter (no allocation beyond the
// entries themselves).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace hoist::engine {

// dockerd's default max-buffer-size (1e6 bytes).
inline constexpr std::int64_t kLogRingDefaultBytes = 1000000;

class LogRing {
 public:
  // `sink` gets each entry (its text as pushed) on the ring's thread, in order.
  LogRing(std::int64_t max_bytes, std::function<void(const std::string&)> sink);
  ~LogRing();  // what is queued is written out first
  LogRing(const LogRing&) = delete;
  LogRing& operator=(const LogRing&) = delete;
  // Queues an entry of `size` bytes of log text; false: dropped (the ring is full).
  bool push(std::string entry, std::size_t size);
  // Waits until every queued entry was written.
  void drain();
  std::uint64_t dropped() const;

 private:
  void run();
  std::int64_t max_bytes_;
  std::function<void(const std::string&)> sink_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::pair<std::string, std::size_t>> queue_;
  std::int64_t bytes_ = 0;
  bool busy_ = false, closed_ = false;
  std::uint64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace hoist::engine
