// What COPY, ADD and WORKDIR write into a step's container (its root file system through
// ContainerFs, every destination resolved inside it):
//   - the sources, found in the context or the root of the stage or image --from names
//     (build_sources.h: resolved inside their tree, hashed as dockerd hashes them), heredocs
//     (files 0644) and ADD's http(s) URLs (build_fetch.h: mode 0600, mtime from Last-Modified,
//     --checksum=sha256:... checked; the classic builder's "Downloading" progress) and ADD's git
//     repositories (BuildKit's: the ref's checkout, without .git unless --keep-git-dir, hashed
//     by its commit), each in a directory of the build's own;
//   - copied as the classic builder copies them (owner root for the context's files, the
//     source's own for a stage's or an image's, --chown's names looked up in the container's
//     /etc/passwd and /etc/group), with BuildKit's --chmod, --exclude, --parents; ADD extracts
//     a local tar (plain or compressed), a URL only with --unpack;
//   - WORKDIR's directory, made 0755 root:root with its missing parents.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "builder/executor.h"
#include "builder/stage_eval.h"
#include "engine/build_sources.h"
#include "engine/build_workspace.h"

namespace hoist::engine {

// COPY/ADD: what the step does with a source.
struct SourceInfo {
  bool may_extract = false;          // ADD of a local file (or --unpack): a tar is extracted
  std::string keep;                  // --parents: the path kept below the destination
  std::vector<SourceItem> parents;   // --parents: the directories on the way (rel: kept path)
};

// COPY/ADD's sources, held until the copy is done.
struct CopySources {
  TreeHold hold;  // the stage's or image's root the sources are in
  std::vector<std::unique_ptr<SourceTree>> own;  // heredocs' and downloads' directories
  std::vector<ResolvedSource> list;
  std::vector<SourceInfo> info;  // per entry of `list`
  std::vector<std::string> hashes;  // per entry of `list` (build_sources.h's hash)
  void release() {
    list.clear();
    own.clear();
    hold.reset();
  }
};

// Finds, holds and hashes the sources of `s` (COPY or ADD). Throws with dockerd's message for a
// source that is not there or outside the context.
void find_sources(const StepTrees& trees, const builder::Step& s, CopySources& cs, builder::Output& out);

// Copies the sources into the root of container `id`. `users_from`: the container whose
// /etc/passwd and /etc/group --chown's names are looked up in ("": `id`'s; --link copies into an
// empty root but names the parent's users).
void copy_into(BuildWorkspace& ws, const std::string& id, const builder::Step& s, const CopySources& cs,
               const std::string& users_from = "");

// WORKDIR: the directory in the root of container `id`.
void make_workdir(BuildWorkspace& ws, const std::string& id, const std::string& dir);

}  // namespace hoist::engine
