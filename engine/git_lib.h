// libgit2, loaded on first use (dlopen of libgit2.so.1.5). Only a build whose context is a git
// repository needs it, while it and the libraries it pulls in (mbedTLS, libssh2, Kerberos, PCRE2,
// http-parser, ...) cost some 1.3 MiB of resident memory from the moment they are mapped.
#pragma once

#include <git2.h>

namespace hoist::engine {

#define HOIST_GIT_FUNCTIONS(X)                                                                                     \
  X(git_libgit2_init) X(git_libgit2_opts) X(git_error_last) X(git_repository_init) X(git_repository_free)          \
  X(git_repository_set_head_detached) X(git_remote_create) X(git_remote_connect) X(git_remote_ls)                  \
  X(git_remote_disconnect) X(git_remote_fetch) X(git_remote_free) X(git_revparse_single) X(git_object_peel)         \
  X(git_object_id) X(git_object_free) X(git_oid_tostr_s) X(git_checkout_tree) X(git_submodule_foreach)             \
  X(git_submodule_lookup) X(git_submodule_update) X(git_submodule_open) X(git_submodule_free)                     \
  X(git_error_set_str) X(git_credential_username_new) X(git_credential_ssh_custom_new)

// The libgit2 functions the build calls; every member is set. Named as the C functions.
struct GitLib {
#define HOIST_GIT_MEMBER(f) decltype(&::f) f;
  HOIST_GIT_FUNCTIONS(HOIST_GIT_MEMBER)
#undef HOIST_GIT_MEMBER
};

// Loaded and initialised once, thread-safely, with the host's git configuration kept out (no
// system, XDG or global files, as dockerd's WithIsolatedConfig); it stays loaded. Throws
// hoist::Error when the library or a function is missing.
const GitLib& git_lib();

}  // namespace hoist::engine
