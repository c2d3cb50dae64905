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

// A COPY/ADD source that is a git repository as BuildKit reads ADD's sources: a git URL but a
// "github.com/..." one (a path in the context there), or an "ssh://" URL.
bool is_git_source(const std::string& source);
// Whether a remote (GitRemote::remote) is reached over ssh: "git@host:path" or "ssh://...".
bool is_ssh_git_remote(const std::string& remote);

// ADD's git source: parse_git_remote's parts, but a fragment that names no ref takes the
// remote's HEAD (its default branch), as BuildKit's git source does.
GitRemote parse_git_source(const std::string& source);

}  // namespace hoist::builder
