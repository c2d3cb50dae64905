// Shared by the command groups: the context (host, config dir, a lazily connected client), output
// helpers, the flag parser front end with docker's usage errors, and per-container fan-out.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/client.h"

namespace hoist::cli {

using json = nlohmann::json;

struct Ctx {
  std::string host;
  std::string config_dir;
  std::unique_ptr<Client> client;
  Client& c() {
    if (!client) {
      client = std::make_unique<Client>(socket_path_from_host(host));
      client->negotiate();
    }
    return *client;
  }
};

// A command's failure with a specific exit status (message already printed when empty).
struct ExitError {
  int code;
  std::string msg;
};

void out(std::string_view s);
void errp(std::string_view s);
std::string q(std::string_view s);
bool is_tty(int fd);
int term_width();
std::string daemon_err(const std::exception& e);
std::string filters_json(const std::vector<std::string>& fl);
double now_s();

using Specs = std::vector<FlagSpec>;

[[noreturn]] void usage_error(const std::string& cmd, const std::string& msg);
Parsed parse(const std::string& cmd, const Specs& specs, const std::vector<std::string>& argv, bool interspersed = true,
             size_t min_args = 0, long max_args = -1);

// Runs `fn` on each name, printing the name on success and the error otherwise (exit 1 if any
// failed), as docker's stop/rm/kill/... do.
int for_each(const std::vector<std::string>& names, const std::function<void(const std::string&)>& fn,
             bool print = true);
// As for_each, with the calls made in parallel (as docker's stop: each container's grace period
// runs at the same time as the others'); the names and errors still print in the order given.
int for_each_parallel(Ctx& ctx, const std::vector<std::string>& names,
                      const std::function<void(const std::string&)>& fn);

}  // namespace hoist::cli
