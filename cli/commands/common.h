// Shared by the command groups: the context (host, config dir, a lazily connected client), output
// helpers, the command and flag tables with docker's help layout, the parser front end with docker's
// usage errors, and per-container fan-out.
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
  std::string path;  // the command as typed after "hoist", e.g. "container ls": usage lines and errors
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
// A path segment or query value percent-encoded as docker's client sends it: '/' kept (an
// image's repository, a container's link name "/LINKING/ALIAS"; Client folds the "//").
std::string q(std::string_view s);
// A /containers/{id}/top answer (Titles, Processes) as docker's table.
std::string top_table(const nlohmann::json& top);
bool is_tty(int fd);
int term_width();
std::string daemon_err(const std::exception& e);
std::string filters_json(const std::vector<std::string>& fl);
// --add-host's value as the API takes it, "host:ip" (docker's ValidateExtraHost); FlagError with
// docker's words (container.cpp; run, create and build share it).
std::string extra_host(const std::string& val);
double now_s();

// One flag of a command: what the parser needs and what `--help` prints, as docker's (pflag) tables.
struct Flag {
  std::string name;      // long name without "--"
  char shorthand = 0;    // 0: none
  std::string type;      // the value's type as docker prints it ("string", "list", "bytes", ...); "": a boolean
  std::string usage;     // docker's description (a '\n' starts a new line, as in docker's)
  std::string def = "";  // the default as docker shows it, "" for none; a "string" flag's is shown quoted
  bool hidden = false;   // parsed, not listed: aliases such as --net, flags refused with a reason
  std::string refused = "";  // why hoist refuses the flag ("is not supported yet: ..."); parse() does
};
using Flags = std::vector<Flag>;

// A command: its help (the synopsis after its path, docker's summary, its aliases) and its flags and
// argument counts.
struct Command {
  std::string use;                   // "[OPTIONS] IMAGE [COMMAND] [ARG...]": the usage line after the path
  std::string summary;               // the one line the command lists show
  std::string description = "";      // its own help's text when longer than the summary (login)
  std::vector<std::string> aliases;  // docker's "Aliases:" line, paths without "hoist " ({} for none)
  Flags flags;                       // --help is added by parse()
  bool interspersed = true;          // false: the first argument ends the flags (run, exec)
  size_t min_args = 0;
  long max_args = -1;                // -1: no limit
};

// docker's --format descriptions: with and without the 'table' forms.
extern const char* const kFormatTableUsage;
extern const char* const kFormatJsonUsage;

// `hoist PATH --help` for `cmd`, laid out as docker's.
std::string command_help(const std::string& path, const Command& cmd);
// The "Options:" lines of `flags` as pflag lays them out (sorted, aligned, wrapped to `cols`).
std::string flag_usages(const Flags& flags, int cols);
// The columns help is wrapped to: the terminal's on stdin less one, 79 without one (as docker).
int help_columns();
// A list of commands as docker's command lists: two spaces, the name padded, the summary.
std::string command_list(const std::vector<std::pair<std::string, std::string>>& names_and_summaries);

// Prints msg and "See 'hoist PATH --help'." and exits `code` (125: a bad flag; 1: a wrong number of arguments).
[[noreturn]] void usage_error(const std::string& path, const std::string& msg, int code = 125);
// Parses `argv` for the command `ctx.path` is (its --help printed here, exit 0), with its usage errors.
Parsed parse(const Ctx& ctx, const Command& cmd, const std::vector<std::string>& argv);
// Refuses a flag that hoist parses but cannot honour, as a usage error: "hoist: --NAME (-S) " + `rest`
// (e.g. "is not supported yet: ...").
[[noreturn]] void refuse_flag(const Ctx& ctx, const Command& cmd, const std::string& name, const std::string& rest);

// GET `api_path`, a tar stream, into the file `output` (written whole, then renamed into place)
// or, when it is empty, to stdout, which must not be a terminal (docker's "cowardly refusing"):
// `save` and `export`. Returns the exit status.
int download_tar(Ctx& ctx, const std::string& api_path, const std::string& output);

// Runs `fn` on each name, printing the name on success and the error otherwise (exit 1 if any
// failed), as docker's stop/rm/kill/... do.
int for_each(const std::vector<std::string>& names, const std::function<void(const std::string&)>& fn,
             bool print = true);
// As for_each, with the calls made in parallel (as docker's stop: each container's grace period
// runs at the same time as the others'); the names and errors still print in the order given.
int for_each_parallel(Ctx& ctx, const std::vector<std::string>& names,
                      const std::function<void(const std::string&)>& fn);

// docker's inspect of objects fetched one by one (GET `path_of(name)`): the JSON array (indented,
// or on one line for --format json) or each object rendered with the --format template (after
// `for_template`, which may give it Go's zero values where the API sends null), then the errors
// ("Error response from daemon: ..."); 1 if any failed.
int inspect_each(Ctx& ctx, const Parsed& p, const std::function<std::string(const std::string&)>& path_of,
                 const std::function<void(json&)>& for_template = {});
// docker's rm of objects: DELETE `path_of(name)` for each name, the name printed when it went, the
// daemon's error otherwise (a 404 skipped silently with `ignore_not_found`); 1 if any failed.
int remove_each(Ctx& ctx, const std::vector<std::string>& names,
                const std::function<std::string(const std::string&)>& path_of, bool ignore_not_found);
// docker's prune prompt: `warning` then " [y/N] "; true when the answer is y or Y.
bool confirm(const std::string& warning);

}  // namespace hoist::cli
