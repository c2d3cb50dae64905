#include "engine/containers/log_ring.h"

#include <utility>

namespace hoist::engine {

LogRing::LogRing(std::int64_t max_bytes, std::function<void(const std::string&)> sink)
    : max_bytes_(max_bytes), sink_(std::move(sink)) {
  thread_ = std::thread([this] { run(); });
}

LogRing::~LogRing() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool LogRing::push(std::string entry, std::size_t size) {
  {
    std::lock_guard lk(mu_);
    if (!queue_.empty() && bytes_ + static_cast<std::int64_t>(size) > max_bytes_) {
      ++dropped_;
      return false;
    }
    bytes_ += static_cast<std::int64_t>(size);
    queue_.emplace_back(std::move(entry), size);
  }
  cv_.notify_one();
  return true;
}

void LogRing::drain() {
  std::unique_lock lk(mu_);
  idle_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
}

std::uint64_t LogRing::dropped() const {
  std::lock_guard lk(mu_);
  return dropped_;
}

void LogRing::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closed, and everything written
    auto [entry, size] = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lk.unlock();
    sink_(entry);
    lk.lock();
    bytes_ -= static_cast<std::int64_t>(size);
    busy_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace hoist::engine
