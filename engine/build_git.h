// A git repository as a build's context (and ADD's git source, build_copy.h), fetched by the
// daemon with libgit2 as dockerd's classic builder fetches it with git: a new repository with the remote as "origin", a fetch of the one
// ref the fragment names (a branch, a tag, any ref, or a commit reachable from a branch or tag),
// its tree checked out, submodules initialised and updated recursively, and the fragment's
// subdirectory as the context. libgit2 speaks git's smart protocols (git://, ssh, smart http);
// a dumb http server is refused with libgit2's words.
#pragma once
#include <string>

#include "builder/git_remote.h"

namespace hoist::engine {

struct GitCheckout {
  std::string dir;     // root or its subdirectory, symbolic links resolved
  std::string commit;  // the commit checked out (40 hex digits)
};

// Clones `remote` into `root` (a new, empty directory): the checkout. Errors as dockerd's
// ("error fetching: ...", "error checking out ...", "error setting git context, ...") (500s, as
// dockerd's). `ssh_agent`: the socket of the agent an ssh remote authenticates with
// (build_git_ssh.h), "" for none.
GitCheckout clone_git(const builder::GitRemote& remote, const std::string& root, const std::string& ssh_agent = "");
// clone_git's directory: the context.
inline std::string clone_git_context(const builder::GitRemote& remote, const std::string& root) {
  return clone_git(remote, root).dir;
}

}  // namespace hoist::engine
