// A git repository as a build's context (POST /build?remote=), read as dockerd's classic builder
// reads it: which remotes are git repositories, and the fragment's ref and subdirectory.
#pragma once
#include <string>

namespace hoist::builder {

struct GitRemote {
  std::string remote;  // the repository's URL, no fragment ("https://" put before a bare "github.com/...")
  std::string ref;     // branch, tag or commit; "master" when the fragment names none
  std::string subdir;  // the context's directory inside the repository; "" for its root
};

// dockerd's urlutil.IsGitURL: a "git://", "git@" or "github.com/" prefix, or an http(s) URL ending
// in ".git" (a "#fragment" may follow).
bool is_git_url(const std::string& source);

// dockerd's parseRemoteURL: "<url>#<ref>:<subdir>". Throws Error("invalid refspec: ...")
// for a ref that starts with "-".
GitRemote parse_git_remote(const std::string& url);

}  // namespace hoist::builder
