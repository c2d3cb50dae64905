// The daemon's event bus: Docker event objects for GET /events.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hoist::engine {

struct Event {
  std::string type;    // "image", "container", "network", "volume", "daemon"
  std::string action;  // "pull", "tag", "untag", "delete", "load", "import", "push", "create", ...
  std::string actor_id;
  std::map<std::string, std::string> attributes;  // e.g. name=busybox:latest
  std::string scope = "local";
  std::int64_t time_nano = 0;  // set by publish() when 0

  // {Type, Action, Actor{ID, Attributes}, scope, time, timeNano, status, id, from}
  std::string to_json() const;
};

// Docker's /events filters: type, event/action, image, container, volume, label (key or key=value).
struct EventFilter {
  std::map<std::string, std::vector<std::string>> filters;
  bool matches(const Event& e) const;
};

class EventBus {
 public:
  explicit EventBus(std::size_t history = 1024) : history_max_(history) {}

  void publish(Event e);

  class Subscription {
   public:
    ~Subscription();
    // Waits up to timeout_ms for the next matching event; nullopt on timeout or after close().
    std::optional<Event> next(int timeout_ms);
    bool closed() const;

   private:
    friend class EventBus;
    EventBus* bus_ = nullptr;
    EventFilter filter_;
    std::deque<Event> queue_;
  };
  // Subscribes; `past` receives the stored events with time ≥ since_nano that match (for ?since=).
  std::unique_ptr<Subscription> subscribe(EventFilter f, std::int64_t since_nano, std::vector<Event>* past);
  // Wakes every subscriber; next() returns nullopt from then on.
  void close();

 private:
  friend class Subscription;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> history_;
  std::size_t history_max_;
  std::set<Subscription*> subs_;
  bool closed_ = false;
};

}  // namespace hoist::engine
