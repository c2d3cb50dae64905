// `hoist compose build/pull/push`: the services' images, built from their build: sections,
// pulled from and pushed to registries.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/commands/commands.h"
#include "cli/commands/compose_create.h"
#include "cli/commands/compose_ops.h"
#include "cli/commands/network.h"
#include "cli/compose/orchestrate.h"
#include "cli/format.h"
#include "cli/ssh_forward.h"
#include "common/strings.h"

namespace hoist::cli::composecmd {

using compose::Project;

const Command kComposeBuild = {
    "[OPTIONS] [SERVICE...]",
    "Build or rebuild services",
    "",
    {},
    {{"build-arg", 0, "stringArray", "Set build-time variables for services"},
     {"no-cache", 0, "", "Do not use cache when building the image"},
     {"pull", 0, "", "Always attempt to pull a newer version of the image"},
     {"quiet", 'q', "", "Don't print anything to STDOUT"},
     {"with-dependencies", 0, "", "Also build dependencies (transitively)"}},
    true,
    0,
    -1};


const Command kComposePull = {
    "[OPTIONS] [SERVICE...]",
    "Pull service images",
    "",
    {},
    {{"ignore-buildable", 0, "", "Ignore images that can be built"},
     {"ignore-pull-failures", 0, "", "Pull what it can and ignores images with pull failures"},
     {"include-deps", 0, "", "Also pull services declared as dependencies"},
     {"quiet", 'q', "", "Pull without printing progress information"}},
    true,
    0,
    -1};
const Command kComposePush = {
    "[OPTIONS] [SERVICE...]",
    "Push service images",
    "",
    {},
    {{"ignore-push-failures", 0, "", "Push what it can and ignores images with push failures"},
     {"include-deps", 0, "", "Also push images of services declared as dependencies"},
     {"quiet", 'q', "", "Push without printing progress information"}},
    true,
    0,
    -1};

std::string ensure_image(Ctx& ctx, const Project& proj, const std::string& service, const json& svc) {
  std::string image = compose::service_image(proj, service);
  std::string policy = svc.value("pull_policy", std::string("missing"));
  if (compose::has_build(proj, service)) {  // built before (build_images); never pulled
    auto r = ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true);
    if (r.status == 404) throw ExitError{1, "service \"" + service + "\": image " + image + " is not built (--no-build)"};
    if (r.status >= 400) throw ExitError{1, "Error response from daemon: " + error_message(r.body)};
    return json::parse(r.body).value("Id", "");
  }
  if (policy != "missing" && policy != "if_not_present" && policy != "always" && policy != "never")
    throw ExitError{1, "services." + service + ": pull_policy \"" + policy + "\" is not supported yet by hoist compose"};
  if (policy == "always") show_pull(image, ctx, true, "", true);
  auto r = ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true);
  if (r.status == 404 && policy != "never") {
    progress("Image", image, "Pulling");
    show_pull(image, ctx, true, "", true);
    progress("Image", image, "Pulled");
    r = ctx.c().request("GET", "/images/" + q(image) + "/json", "", {}, true);
  }
  if (r.status >= 400) throw ExitError{1, "Error response from daemon: " + error_message(r.body)};
  return json::parse(r.body).value("Id", "");
}

namespace {

// build.secrets and build.ssh go to hoistd (X-Hoist-Build-Secrets, a build session); a daemon
// without build sessions (dockerd's classic builder) would build without them: refused, naming the
// service and the key. Returns each build's secrets header, read (files, the project's variables)
// before any build.
std::vector<std::map<std::string, std::string>> secret_headers(
    Ctx& ctx, const Project& proj, const std::vector<std::pair<std::string, compose::BuildPlan>>& builds) {
  std::vector<std::map<std::string, std::string>> headers;
  for (const auto& [service, plan] : builds) {
    for (const char* key : {"secrets", "ssh"}) {
      if (key == std::string("secrets") ? plan.secrets.empty() : plan.ssh.empty()) continue;
      ctx.c().negotiate();
      if (!ctx.c().has_capability("session"))
        throw ExitError{1, "service \"" + service + "\": build." + key +
                               " is not supported by the daemon (its classic builder, POST /build, has no BuildKit "
                               "secrets or SSH forwarding; hoistd has)"};
    }
    std::vector<SecretSource> secrets;
    for (const auto& sec : plan.secrets) {
      // An `environment` secret: the project's variable (the shell's over .env's), as at run time.
      std::optional<std::string> data;
      if (!sec.env.empty()) {
        auto it = proj.environment.find(sec.env);
        if (it == proj.environment.end())
          throw ExitError{1, "service \"" + service + "\": build.secrets: environment variable \"" + sec.env +
                                 "\" required by secret \"" + sec.id + "\" is not set"};
        data = it->second;
      }
      secrets.push_back({sec.id, sec.file, sec.env, data});
    }
    try {
      headers.push_back(secrets_header(secrets));
    } catch (const Error& e) {
      throw ExitError{1, "service \"" + service + "\": build.secrets: " + e.what()};
    }
  }
  return headers;
}

}  // namespace

// Builds the image of each service of `services` that has `build:` (all of them with `always`,
// else those whose image is missing or whose pull_policy is "build"), as `compose build`.
void build_images(Ctx& ctx, const Project& proj, const std::vector<std::string>& services, bool always,
                  const compose::BuildFlags& flags, const std::vector<std::string>& build_args, bool quiet) {
  std::vector<std::pair<std::string, compose::BuildPlan>> builds;
  for (const auto& service : services) {
    if (!compose::has_build(proj, service)) continue;
    compose::BuildPlan plan = compose::build_plan(proj, service, flags);
    if (!always && compose::service_of(proj, service).value("pull_policy", "") != "build" &&
        ctx.c().request("GET", "/images/" + q(plan.image) + "/json", "", {}, true).status == 200)
      continue;
    builds.emplace_back(service, std::move(plan));
  }
  auto headers = secret_headers(ctx, proj, builds);
  for (std::size_t i = 0; i < builds.size(); ++i) {
    auto& [service, plan] = builds[i];
    if (!build_args.empty()) {
      // --build-arg: over the file's args (KEY alone: the environment's value, unset: left out).
      json args = json::object();
      const json& b = compose::service_of(proj, service)["build"];
      if (b.contains("args"))
        for (const auto& [k, v] : b["args"].items())
          if (!v.is_null()) args[k] = v.is_string() ? v.get<std::string>() : v.dump();
      for (const auto& a : build_args) {
        auto eq = a.find('=');
        if (eq != std::string::npos) args[a.substr(0, eq)] = a.substr(eq + 1);
        else if (const char* e = std::getenv(a.c_str())) args[a] = e;
      }
      auto at = plan.query.find("&buildargs=");
      auto end = plan.query.find('&', at + 1);
      plan.query = plan.query.substr(0, at) + "&buildargs=" + q(args.dump()) + plan.query.substr(end);
    }
    ContextBuild b;
    b.context = plan.context;
    b.dockerfile = plan.dockerfile;
    if (plan.has_inline) b.dockerfile_text = plan.dockerfile_inline;
    b.query = plan.query;
    b.quiet = quiet;
    b.headers = headers[i];
    // build.ssh: a session with the daemon for the build's length, as `hoist build --ssh`.
    std::unique_ptr<SshForwarder> ssh;
    if (!plan.ssh.empty()) {
      ssh = std::make_unique<SshForwarder>(ctx.c(), parse_ssh_specs(plan.ssh, std::getenv("SSH_AUTH_SOCK")));
      b.headers["X-Hoist-Build-Session"] = ssh->session_id();
    }
    progress("Service", service, "Building");
    std::string id;
    int rc = build_context_dir(ctx, b, [&](const std::string& line) {
      if (quiet) return;
      std::lock_guard<std::mutex> l(g_out);
      out(line);
    }, id);
    if (rc != 0) throw ExitError{rc, "failed to build service \"" + service + "\""};
    progress("Service", service, "Built");
  }
}

int compose_build(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose build";
  Parsed p = parse(ctx, kComposeBuild, argv);
  Project proj = load(lo);
  auto wanted = selected(proj, p.args);
  std::vector<std::string> services = wanted;
  if (p.flag("with-dependencies")) {
    auto all = with_dependencies(proj, wanted);
    services.assign(all.begin(), all.end());
  }
  for (const auto& s : services)
    if (compose::has_build(proj, s)) compose::build_plan(proj, s);  // refusals before any build
  build_images(ctx, proj, services, true, {p.flag("no-cache"), p.flag("pull")}, p.all("build-arg"), p.flag("quiet"));
  return 0;
}

int compose_pull(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose pull";
  Parsed p = parse(ctx, kComposePull, argv);
  Project proj = load(lo);
  int rc = 0;
  std::set<std::string> done;
  for (const auto& s : selected_with_deps(proj, p.args, p.flag("include-deps"))) {
    const json& svc = compose::service_of(proj, s);
    if (!svc.contains("image")) continue;  // built, never pulled
    if (compose::has_build(proj, s) && p.flag("ignore-buildable")) continue;
    std::string image = svc["image"];
    if (!done.insert(image).second) continue;
    if (!p.flag("quiet")) progress("Image", image, "Pulling");
    try {
      show_pull(image, ctx, true, "", true);
      if (!p.flag("quiet")) progress("Image", image, "Pulled");
    } catch (const std::exception& e) {
      // A service that can be built may be missing from registries: as Compose, only a warning.
      if (!p.flag("ignore-pull-failures") && !compose::has_build(proj, s)) throw;
      errp("WARNING: pulling " + image + " for service " + s + " failed: " + daemon_err(e) + "\n");
    }
  }
  return rc;
}

int compose_push(Ctx& ctx, const compose::LoadOptions& lo, const std::vector<std::string>& argv) {
  ctx.path = "compose push";
  Parsed p = parse(ctx, kComposePush, argv);
  Project proj = load(lo);
  return push_service_images(ctx, proj, selected_with_deps(proj, p.args, p.flag("include-deps")), p.flag("quiet"),
                             p.flag("ignore-push-failures"));
}

}  // namespace hoist::cli::composecmd
