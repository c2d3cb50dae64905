// A bounded in-memory byte pipe between a producer thread (a download) and a consumer thread
// (layer extraction). push() blocks while the queue is full; read() blocks while it is empty.
// abort() from either side wakes both; the other side then throws.
#pragma once
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "common/error.h"

namespace hoist::image {

class ByteQueue {
 public:
  explicit ByteQueue(std::size_t capacity = 16 << 20) : capacity_(capacity) {}

  void push(const char* data, std::size_t len) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return aborted_ || size_ < capacity_; });
    if (aborted_) throw Error("transfer aborted: " + reason_);
    chunks_.emplace_back(data, len);
    size_ += len;
    cv_.notify_all();
  }
  // End of data: read() returns 0 once the queue is drained.
  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  void abort(const std::string& reason) {
    std::lock_guard lk(mu_);
    if (!aborted_) reason_ = reason;
    aborted_ = true;
    cv_.notify_all();
  }
  std::size_t read(char* buf, std::size_t len) {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return aborted_ || !chunks_.empty() || closed_; });
    if (aborted_) throw Error("transfer aborted: " + reason_);
    std::size_t n = 0;
    while (n < len && !chunks_.empty()) {
      auto& front = chunks_.front();
      std::size_t take = std::min(len - n, front.size() - offset_);
      std::memcpy(buf + n, front.data() + offset_, take);
      n += take;
      offset_ += take;
      if (offset_ == front.size()) {
        size_ -= front.size();
        chunks_.pop_front();
        offset_ = 0;
      }
    }
    cv_.notify_all();
    return n;
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  std::size_t size_ = 0, offset_ = 0;
  bool closed_ = false, aborted_ = false;
  std::string reason_;
};

}  // namespace hoist::image
