// Routes of the Docker Engine API: method + path pattern → handler.
//
// Patterns are split on '/'; "{id}" matches one segment, "{name...}" matches one or more segments
// (image names such as localhost:5000/a/b:tag), e.g. "/images/{name...}/json". A pattern may hold
// at most one "{x...}" segment; the segments after it are matched from the end of the path.
// An optional "/v1.NN" prefix is stripped (1.24 ≤ NN ≤ kMaxApiVersion, else 400); every answer
// carries Api-Version, Docker-Experimental, Ostype and Server headers.
// Handlers throw hoist errors; the router turns them into {"message": ...} with Docker's codes:
// NotFound → 404, Conflict → 409, InvalidArgument / bad JSON → 400, PayloadTooLarge → 413,
// anything else → 500.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api/http_server.h"

namespace hoist::engine {

inline constexpr const char* kApiVersion = "1.43";     // what we answer with by default
inline constexpr const char* kMaxApiVersion = "1.45";  // highest accepted in a /vX.Y prefix
inline constexpr const char* kMinApiVersion = "1.24";

// Docker's "filters" query parameter: {"dangling":["true"]} or the old {"dangling":{"true":true}}.
using Filters = std::map<std::string, std::vector<std::string>>;
// Throws InvalidArgument on malformed JSON.
Filters parse_filters(const std::string& json);

// Percent-decoding ('+' → ' ' when `plus_space`).
std::string url_decode(std::string_view s, bool plus_space);
// "a=1&b=x%2Fy" → {a:1, b:x/y}.
std::map<std::string, std::string> parse_query(std::string_view q);
// Every value of a repeated query key in a raw target ("?names=a&names=b" → {a, b}).
std::vector<std::string> query_values(std::string_view target, const std::string& key);

// Splits a target into path (decoded) and query, strips /vX.Y: returns the version or "".
// Throws InvalidArgument for a version outside [min, max].
struct ParsedTarget {
  std::string path, version;
  std::map<std::string, std::string> query;
};
ParsedTarget parse_target(std::string_view target);

// Compares "1.41" with "1.43": <0, 0, >0.
int compare_versions(std::string_view a, std::string_view b);

// {"message": msg} serialised, with a newline.
std::string error_body(const std::string& msg);
// The status code for an exception (see above).
int status_for(const std::exception& e);

class Router {
 public:
  void add(const std::string& method, const std::string& pattern, Handler h);
  void get(const std::string& p, Handler h) { add("GET", p, std::move(h)); }
  void post(const std::string& p, Handler h) { add("POST", p, std::move(h)); }
  void del(const std::string& p, Handler h) { add("DELETE", p, std::move(h)); }
  void head(const std::string& p, Handler h) { add("HEAD", p, std::move(h)); }
  void put(const std::string& p, Handler h) { add("PUT", p, std::move(h)); }

  // Finds the route for method + path (no version prefix); fills params. nullptr: no route (Docker
  // answers 404 "page not found" for a wrong method too). Routes without a "{x...}" segment are
  // tried first, so "/images/json" wins over "/images/{name...}/json". When none matches,
  // "/containers/A/B/..." is tried as "/containers/{A/B}/...": a container's link name.
  const Handler* match(const std::string& method, const std::string& path,
                       std::map<std::string, std::string>& params) const;

  // The server's entry point: parses the target, runs the handler, maps errors.
  void dispatch(Request& req, Response& res) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segs;
    Handler handler;
  };
  std::vector<Route> routes_;
  static bool match_route(const Route& r, const std::vector<std::string>& segs,
                          std::map<std::string, std::string>& params);
};

}  // namespace hoist::engine
