// See build_git.h.
#include "engine/build_git.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <memory>
#include <vector>

#include "common/error.h"
#include "engine/build_git_ssh.h"
#include "engine/git_lib.h"

namespace hoist::engine {

namespace {

template <typename T, auto GitLib::*Free>
struct Freer {
  void operator()(T* p) const { (git_lib().*Free)(p); }
};
using Repo = std::unique_ptr<git_repository, Freer<git_repository, &GitLib::git_repository_free>>;
using Remote = std::unique_ptr<git_remote, Freer<git_remote, &GitLib::git_remote_free>>;
using Object = std::unique_ptr<git_object, Freer<git_object, &GitLib::git_object_free>>;
using Submodule = std::unique_ptr<git_submodule, Freer<git_submodule, &GitLib::git_submodule_free>>;

std::string last_error() {
  const git_error* e = git_lib().git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

void check(int rc, const std::string& what) {
  if (rc < 0) throw Error(what + last_error());
}

bool is_hex(const std::string& s) {
  if (s.size() < 4 || s.size() > 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The remote's ref that `git fetch origin -- <ref>` takes for `ref` (git's rules for a short name),
// "" when there is none.
std::string remote_ref(git_remote* remote, const std::string& ref) {
  const git_remote_head** heads = nullptr;
  size_t n = 0;
  check(git_lib().git_remote_ls(&heads, &n, remote), "error fetching: ");
  for (const std::string& name : {ref, "refs/" + ref, "refs/tags/" + ref, "refs/heads/" + ref,
                                  "refs/remotes/" + ref, "refs/remotes/" + ref + "/HEAD"})
    for (size_t i = 0; i < n; ++i)
      if (name == heads[i]->name) return name;
  return "";
}

void fetch(git_remote* remote, const std::vector<std::string>& specs, GitSshAuth& auth) {
  std::vector<char*> ptrs;
  for (const std::string& s : specs) ptrs.push_back(const_cast<char*>(s.c_str()));
  git_strarray arr{ptrs.data(), ptrs.size()};
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  auth.install(opts.callbacks);
  check(git_lib().git_remote_fetch(remote, &arr, &opts, nullptr), "error fetching: ");
}

// Fetches `ref` from origin and returns the commit it names.
Object fetch_ref(git_repository* repo, git_remote* remote, const std::string& ref, GitSshAuth& auth) {
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  auth.install(cb);
  check(git_lib().git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, nullptr, nullptr), "error fetching: ");
  std::string name = remote_ref(remote, ref);
  git_lib().git_remote_disconnect(remote);
  std::string local;
  if (!name.empty()) {
    local = name.rfind("refs/heads/", 0) == 0 ? "refs/remotes/origin/" + name.substr(11)
            : name.rfind("refs/tags/", 0) == 0 ? name
                                               : "refs/hoist/fetched";
    fetch(remote, {"+" + name + ":" + local}, auth);
  } else if (is_hex(ref)) {
    // A commit: fetched with the branches and tags that reach it.
    fetch(remote, {"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}, auth);
  } else {
    throw Error("error fetching: fatal: couldn't find remote ref " + ref);
  }
  git_object* obj = nullptr;
  if (git_lib().git_revparse_single(&obj, repo, local.empty() ? ref.c_str() : local.c_str()) < 0)
    throw Error("error checking out " + ref + ": " + last_error());
  Object target(obj);
  git_object* commit = nullptr;
  if (git_lib().git_object_peel(&commit, target.get(), GIT_OBJECT_COMMIT) < 0)
    throw Error("error checking out " + ref + ": " + last_error());
  return Object(commit);
}

int collect_submodule(git_submodule*, const char* name, void* payload) {
  static_cast<std::vector<std::string>*>(payload)->push_back(name);
  return 0;
}

// `git submodule update --init --recursive`.
void update_submodules(git_repository* repo, GitSshAuth& auth) {
  std::vector<std::string> names;
  check(git_lib().git_submodule_foreach(repo, collect_submodule, &names), "error initializing submodules: ");
  for (const std::string& name : names) {
    git_submodule* sm = nullptr;
    check(git_lib().git_submodule_lookup(&sm, repo, name.c_str()), "error initializing submodules: ");
    Submodule owned(sm);
    git_submodule_update_options opts = GIT_SUBMODULE_UPDATE_OPTIONS_INIT;
    opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_FORCE;
    auth.install(opts.fetch_opts.callbacks);
    check(git_lib().git_submodule_update(sm, 1, &opts), "error initializing submodules: ");
    git_repository* sub = nullptr;
    check(git_lib().git_submodule_open(&sub, sm), "error initializing submodules: ");
    Repo sub_owned(sub);
    update_submodules(sub, auth);
  }
}

// dockerd's checkout: the subdirectory, its symbolic links resolved, must be a directory in root.
std::string context_dir(const std::string& root, const std::string& subdir) {
  if (subdir.empty()) return root;
  char real_root[PATH_MAX], real[PATH_MAX];
  if (!::realpath(root.c_str(), real_root)) throw_sys("realpath", root);
  std::string path = root + "/" + subdir;
  if (!::realpath(path.c_str(), real)) throw Error("stat " + path + ": no such file or directory");
  std::string r = real, top = real_root;
  if (r != top && r.rfind(top + "/", 0) != 0)
    throw Error("error setting git context, \"" + subdir + "\" not within git root");
  struct stat st {};
  if (::stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error("error setting git context, not a directory: " + path);
  return r;
}

}  // namespace

GitCheckout clone_git(const builder::GitRemote& g, const std::string& root, const std::string& ssh_agent) {
  GitSshAuth auth(ssh_agent);
  git_repository* r = nullptr;
  if (git_lib().git_repository_init(&r, root.c_str(), 0) < 0)
    throw Error("failed to init repo at " + root + ": " + last_error());
  Repo repo(r);
  git_remote* rem = nullptr;
  if (git_lib().git_remote_create(&rem, repo.get(), "origin", g.remote.c_str()) < 0)
    throw Error("failed add origin repo at " + g.remote + ": " + last_error());
  Remote remote(rem);
  Object commit = fetch_ref(repo.get(), remote.get(), g.ref, auth);
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (git_lib().git_checkout_tree(repo.get(), commit.get(), &co) < 0 ||
      git_lib().git_repository_set_head_detached(repo.get(), git_lib().git_object_id(commit.get())) < 0)
    throw Error("error checking out " + g.ref + ": " + last_error());
  update_submodules(repo.get(), auth);
  return {context_dir(root, g.subdir), git_lib().git_oid_tostr_s(git_lib().git_object_id(commit.get()))};
}

}  // namespace hoist::engine
