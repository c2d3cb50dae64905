// hoist-image: the image store's own tool (pull, push, save, load, import, list, remove), working
// directly on a store directory. hoistd serves the same operations over the Docker API; this tool
// is for scripts, tests and benchmarks that want the image module without a daemon.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "image/archive.h"
#include "image/pull.h"

using namespace hoist;
using namespace hoist::image;
using nlohmann::json;

namespace {

std::string human_size(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", b, units[u]);
  return buf;
}

// Progress as lines ("a3ed95caeb02: Downloading 1.2MB/3.4MB"), quiet keeps only the final ones.
ProgressFn line_progress(bool quiet) {
  if (quiet) return {};
  return [](const ProgressEvent& e) {
    if (e.status == "Downloading" || e.status == "Pushing") return;  // lines, not bars: skip the ticks
    std::cerr << (e.id.empty() ? "" : e.id + ": ") << e.status;
    if (e.total > 0) std::cerr << " " << human_size(double(e.current)) << "/" << human_size(double(e.total));
    std::cerr << "\n";
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hoist-image: pull, push, save, load and import images in a Hoist image store"};
  app.require_subcommand(1);
  std::string root = "/var/lib/hoist/image";
  std::string config_dir = "/etc/hoist";
  std::vector<std::string> insecure;
  bool debug = false;
  app.add_option("--root", root, "image store directory");
  app.add_option("--config-dir", config_dir, "holds certs.d/ and config.json (credentials)");
  app.add_option("--insecure-registry", insecure, "registry (host[:port] or CIDR) that may use plain http");
  app.add_flag("--debug", debug, "debug logging");

  auto settings = [&] {
    RegistrySettings s;
    s.certs_dir = config_dir + "/certs.d";
    s.auth_file = config_dir + "/config.json";
    s.insecure_registries = insecure;
    return s;
  };

  std::string ref_s, platform, format = "docker", output, input, message;
  std::vector<std::string> refs;
  bool quiet = false, force = false, all = false;
  int concurrency = 3;
  std::size_t chunk = 0;

  auto* pull = app.add_subcommand("pull", "pull an image from a registry");
  pull->add_option("ref", ref_s, "NAME[:TAG|@DIGEST]")->required();
  pull->add_option("--platform", platform, "os/arch[/variant]");
  pull->add_option("--max-concurrent-downloads", concurrency, "parallel layer downloads")->check(CLI::Range(1, 32));
  pull->add_flag("-q,--quiet", quiet, "print only the image reference");

  auto* push = app.add_subcommand("push", "push an image to a registry");
  push->add_option("ref", ref_s, "NAME[:TAG]")->required();
  push->add_option("--chunk-size", chunk, "upload in chunks of this many bytes (0: one request)");
  push->add_flag("-q,--quiet", quiet, "no progress");

  auto* tag = app.add_subcommand("tag", "name an image");
  std::string target;
  tag->add_option("source", ref_s, "image")->required();
  tag->add_option("target", target, "NAME[:TAG]")->required();

  auto* images = app.add_subcommand("images", "list images");
  images->add_flag("-q,--quiet", quiet, "IDs only");

  auto* rmi = app.add_subcommand("rmi", "remove images");
  rmi->add_option("images", refs, "image")->required();
  rmi->add_flag("-f,--force", force, "remove by ID even when several repositories name it");

  auto* prune = app.add_subcommand("prune", "remove dangling images");
  prune->add_flag("-a,--all", all, "remove every image");

  auto* inspect = app.add_subcommand("inspect", "show an image record, its manifest and config");
  inspect->add_option("image", ref_s, "image")->required();

  auto* save = app.add_subcommand("save", "write images to a tar archive");
  save->add_option("images", refs, "image")->required();
  save->add_option("-o,--output", output, "file (default: stdout)");
  save->add_option("--format", format, "docker (docker-archive + OCI layout) or oci (as stored)")
      ->check(CLI::IsMember({"docker", "oci"}));

  auto* load = app.add_subcommand("load", "read images from a tar archive");
  load->add_option("-i,--input", input, "file (default: stdin)");
  load->add_flag("-q,--quiet", quiet, "no progress");

  auto* imp = app.add_subcommand("import", "make an image of a rootfs tarball");
  imp->add_option("file", input, "tarball, or - for stdin")->required();
  imp->add_option("ref", ref_s, "REPOSITORY[:TAG]");
  imp->add_option("-m,--message", message, "history comment");

  auto* login = app.add_subcommand("login", "store credentials for a registry");
  std::string user, password, server;
  bool password_stdin = false;
  login->add_option("server", server, "registry host[:port]")->required();
  login->add_option("-u,--username", user, "user name")->required();
  login->add_option("-p,--password", password, "password");
  login->add_flag("--password-stdin", password_stdin, "read the password from stdin");
  auto* logout = app.add_subcommand("logout", "remove stored credentials");
  logout->add_option("server", server, "registry host[:port]")->required();

  CLI11_PARSE(app, argc, argv);
  log::init({"", false, debug ? log::Level::Debug : log::Level::Warn});

  try {
    if (login->parsed()) {
      if (password_stdin) std::getline(std::cin, password);
      Registry reg(server, settings());
      reg.set_credentials({user, password, {}});
      reg.ping();
      auto f = AuthFile::load(settings().auth_file);
      f.set(server, {user, password, {}});
      f.save();
      std::cout << "Login Succeeded\n";
      return 0;
    }
    if (logout->parsed()) {
      auto f = AuthFile::load(settings().auth_file);
      if (f.erase(server)) f.save();
      std::cout << "Removing login credentials for " << server << "\n";
      return 0;
    }

    Store store(root);
    if (pull->parsed()) {
      auto ref = Reference::parse(ref_s);
      PullOptions po;
      if (!platform.empty()) po.platform = Platform::parse(platform);
      po.max_concurrent_downloads = concurrency;
      auto r = pull_image(store, settings(), ref, po, line_progress(quiet));
      if (!quiet) {
        std::cerr << "Digest: " << r.digest.str() << "\n";
        std::cerr << "Status: " << (r.updated ? "Downloaded newer image for " : "Image is up to date for ")
                  << ref.familiar() << "\n";
      }
      std::cout << ref.str() << "\n";
    } else if (push->parsed()) {
      PushOptions po;
      po.chunk_size = chunk;
      auto d = push_image(store, settings(), Reference::parse(ref_s), po, line_progress(quiet));
      std::cout << d.str() << "\n";
    } else if (tag->parsed()) {
      store.tag(store.resolve(ref_s).id, Reference::parse(target));
    } else if (images->parsed()) {
      if (!quiet) std::printf("%-40s %-12s %-14s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
      for (auto& rec : store.list()) {
        if (quiet) {
          std::printf("%s\n", rec.id.short_id().c_str());
          continue;
        }
        bool any = false;
        for (auto& r : store.references(rec.id)) {
          if (r.tag.empty()) continue;
          any = true;
          std::printf("%-40s %-12s %-14s %s\n", r.familiar_name().c_str(), r.tag.c_str(), rec.id.short_id().c_str(),
                      human_size(double(rec.size)).c_str());
        }
        if (!any)
          std::printf("%-40s %-12s %-14s %s\n", "<none>", "<none>", rec.id.short_id().c_str(),
                      human_size(double(rec.size)).c_str());
      }
    } else if (rmi->parsed()) {
      int rc = 0;
      for (auto& spec : refs) {
        try {
          auto rep = store.remove(spec, force);
          for (auto& u : rep.untagged) std::cout << "Untagged: " << u << "\n";
          for (auto& d : rep.deleted) std::cout << "Deleted: " << d << "\n";
        } catch (const Error& e) {
          std::cerr << "Error: " << e.what() << "\n";
          rc = 1;
        }
      }
      return rc;
    } else if (prune->parsed()) {
      auto rep = store.prune(all);
      for (auto& u : rep.untagged) std::cout << "untagged: " << u << "\n";
      for (auto& d : rep.deleted) std::cout << "deleted: " << d << "\n";
    } else if (inspect->parsed()) {
      auto rec = store.resolve(ref_s);
      json refs_j = json::array();
      for (auto& r : store.references(rec.id)) refs_j.push_back(r.familiar());
      json layers = json::array();
      for (auto& l : rec.layers) layers.push_back({{"digest", l.digest.str()}, {"diffID", l.diff_id.str()},
                                                   {"chainID", l.chain_id.str()}, {"size", l.size},
                                                   {"mediaType", l.media_type}, {"path", store.snapshot_path(l.chain_id)}});
      json out = {{"Id", rec.id.str()},
                  {"References", refs_j},
                  {"ManifestDigest", rec.manifest_digest.str()},
                  {"Manifest", json::parse(store.content().read(rec.manifest_digest))},
                  {"Config", json::parse(store.content().read(rec.id))},
                  {"Layers", layers},
                  {"Size", rec.size}};
      if (rec.index_digest) out["IndexDigest"] = rec.index_digest->str();
      std::cout << out.dump(2) << "\n";
    } else if (save->parsed()) {
      UniqueFd fd;
      if (output.empty()) {
        if (isatty(1)) throw Error("save: refusing to write an archive to a terminal; use -o or redirect");
      } else {
        fd.reset(::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) throw_sys("create", output);
      }
      int out_fd = fd ? fd.get() : 1;
      save_images(store, refs, format == "oci" ? SaveFormat::Oci : SaveFormat::Docker,
                  [&](const char* p, std::size_t n) { write_all(out_fd, std::string_view(p, n), output.empty() ? "stdout" : output); });
    } else if (load->parsed()) {
      UniqueFd fd;
      if (!input.empty()) {
        fd.reset(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_sys("open", input);
      }
      auto res = load_images(store, fd_reader(fd ? fd.get() : 0, input.empty() || input == "-" ? "stdin" : input), line_progress(quiet));
      for (auto& l : res.loaded) std::cout << l << "\n";
    } else if (imp->parsed()) {
      UniqueFd fd;
      if (input != "-") {
        fd.reset(::open(input.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_sys("open", input);
      }
      ImportOptions io;
      io.message = message;
      if (!ref_s.empty()) io.refs.push_back(Reference::parse(ref_s));
      auto rec = import_image(store, fd_reader(fd ? fd.get() : 0, input.empty() || input == "-" ? "stdin" : input), io);
      std::cout << rec.id.str() << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "hoist-image: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
