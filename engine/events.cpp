#include "engine/events.h"

#include <chrono>
#include <nlohmann/json.hpp>

namespace hoist::engine {

using nlohmann::json;

std::string Event::to_json() const {
  json attrs = json::object();
  for (auto& [k, v] : attributes) attrs[k] = v;
  json j = {{"Type", type},
            {"Action", action},
            {"Actor", {{"ID", actor_id}, {"Attributes", attrs}}},
            {"scope", scope},
            {"time", time_nano / 1000000000},
            {"timeNano", time_nano}};
  // Fields of the API before 1.22, still sent by Docker for containers and images.
  if (type == "container" || type == "image") {
    j["status"] = action;
    j["id"] = actor_id;
    auto it = attributes.find("image");
    if (it != attributes.end()) j["from"] = it->second;
  }
  return j.dump();
}

bool EventFilter::matches(const Event& e) const {
  auto any = [&](const std::string& key, auto pred) {
    auto it = filters.find(key);
    if (it == filters.end() || it->second.empty()) return true;
    for (auto& v : it->second)
      if (pred(v)) return true;
    return false;
  };
  auto attr = [&](const std::string& k) {
    auto it = e.attributes.find(k);
    return it == e.attributes.end() ? std::string() : it->second;
  };
  if (!any("type", [&](const std::string& v) { return v == e.type; })) return false;
  // "exec_start: sh -c ..." and "health_status: healthy" match their bare prefixes too (as Docker).
  if (!any("event", [&](const std::string& v) {
        return v == e.action || (v.find(':') == std::string::npos && e.action.rfind(v + ":", 0) == 0);
      }))
    return false;
  if (!any("image", [&](const std::string& v) {
        return (e.type == "image" && (v == e.actor_id || v == attr("name"))) || v == attr("image");
      }))
    return false;
  if (!any("container", [&](const std::string& v) {
        return e.type == "container" && (v == e.actor_id || v == attr("name") || e.actor_id.rfind(v, 0) == 0);
      }))
    return false;
  if (!any("volume", [&](const std::string& v) { return e.type == "volume" && v == e.actor_id; })) return false;
  if (!any("label", [&](const std::string& v) {
        auto eq = v.find('=');
        if (eq == std::string::npos) return e.attributes.count(v) > 0;
        return attr(v.substr(0, eq)) == v.substr(eq + 1);
      }))
    return false;
  return true;
}

void EventBus::publish(Event e) {
  if (e.time_nano == 0)
    e.time_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::lock_guard lk(mu_);
  history_.push_back(e);
  if (history_.size() > history_max_) history_.pop_front();
  for (auto* s : subs_)
    if (s->filter_.matches(e)) s->queue_.push_back(e);
  cv_.notify_all();
}

std::unique_ptr<EventBus::Subscription> EventBus::subscribe(EventFilter f, std::int64_t since_nano,
                                                            std::vector<Event>* past) {
  auto s = std::unique_ptr<Subscription>(new Subscription());
  s->bus_ = this;
  s->filter_ = std::move(f);
  std::lock_guard lk(mu_);
  if (past)
    for (auto& e : history_)
      if (e.time_nano >= since_nano && s->filter_.matches(e)) past->push_back(e);
  subs_.insert(s.get());
  return s;
}

void EventBus::close() {
  std::lock_guard lk(mu_);
  closed_ = true;
  cv_.notify_all();
}

EventBus::Subscription::~Subscription() {
  std::lock_guard lk(bus_->mu_);
  bus_->subs_.erase(this);
}

bool EventBus::Subscription::closed() const {
  std::lock_guard lk(bus_->mu_);
  return bus_->closed_;
}

std::optional<Event> EventBus::Subscription::next(int timeout_ms) {
  std::unique_lock lk(bus_->mu_);
  bus_->cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return !queue_.empty() || bus_->closed_; });
  if (queue_.empty() || bus_->closed_) return std::nullopt;
  Event e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

}  // namespace hoist::engine
