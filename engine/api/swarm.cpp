// /swarm, /nodes, /services, /tasks, /secrets, /configs: hoistd is never part of a swarm, and
// answers these as a dockerd outside swarm mode does (503 "This node is not a swarm manager..."),
// with the same parameter checks first (their 400s and 500s), so clients report what they would.
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json.h"
#include "engine/api/routes.h"

namespace hoist::engine {

using nlohmann::json;

namespace {

const char* kNotManager =
    "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to "
    "swarm and try again.";

void unavailable(Response& res, const std::string& msg = kNotManager) {
  res.json(503, json{{"message", msg}}.dump() + "\n");
}

// dockerd parses ?version= of an update before it asks the cluster.
void require_version(const Request& req, const std::string& what, bool go_parse_error) {
  auto v = req.q("version");
  bool ok = !v.empty() && v.size() <= 20 && v.find_first_not_of("0123456789") == std::string::npos;
  if (ok) return;
  if (!go_parse_error) throw InvalidArgument("invalid " + what + " version");
  throw InvalidArgument("invalid " + what + " version '" + v + "': strconv.ParseUint: parsing \"" + v +
                        "\": invalid syntax");
}

}  // namespace

void register_swarm_routes(Router& r, Daemon&) {
  auto not_manager = [](Request&, Response& res) { unavailable(res); };
  for (const char* p : {"/swarm", "/swarm/unlockkey", "/nodes", "/nodes/{id}", "/services", "/services/{id}", "/tasks",
                        "/tasks/{id}", "/secrets", "/secrets/{id}", "/configs", "/configs/{id}"})
    r.get(p, not_manager);
  for (const char* p : {"/nodes/{id}", "/services/{id}", "/secrets/{id}", "/configs/{id}"}) r.del(p, not_manager);
  for (const char* p : {"/swarm/unlock", "/services/create", "/secrets/create", "/configs/create"}) r.post(p, not_manager);

  for (const char* p : {"/services/{id}/logs", "/tasks/{id}/logs"})
    r.get(p, [](Request& req, Response& res) {
      if (!req.qbool("stdout") && !req.qbool("stderr"))
        throw Error("Bad parameters: you must choose at least one stream");  // dockerd: a 500
      unavailable(res);
    });

  r.post("/swarm/leave", [](Request&, Response& res) { unavailable(res, "This node is not part of a swarm"); });
  for (const char* p : {"/swarm/init", "/swarm/join"})
    r.post(p, [](Request& req, Response& res) {
      auto text = req.body();
      json body = parse_json(text.empty() ? std::string("{}") : text, "");
      if (!body.is_object() || !body.contains("ListenAddr") || !body["ListenAddr"].is_string() ||
          body["ListenAddr"].get<std::string>().empty())
        throw InvalidArgument("invalid ListenAddr \"\": invalid empty address");
      unavailable(res, "swarm mode is not supported by this daemon");
    });
  struct Update {
    const char* path;
    const char* what;
    bool go_parse_error;
  };
  for (const Update& u : {Update{"/swarm/update", "swarm", true}, Update{"/nodes/{id}/update", "node", true},
                          Update{"/services/{id}/update", "service", true}, Update{"/secrets/{id}/update", "secret", false},
                          Update{"/configs/{id}/update", "config", false}})
    r.post(u.path, [u](Request& req, Response& res) {
      require_version(req, u.what, u.go_parse_error);
      unavailable(res);
    });
}

}  // namespace hoist::engine
