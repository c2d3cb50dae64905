// The history entries a build writes, as dockerd's classic builder writes them: created_by is the
// step's container command joined with spaces (checked against dockerd 20.10):
//
//   metadata steps   "/bin/sh -c #(nop)  ENV A=1"           (the shell, "#(nop) " and the text)
//   WORKDIR          "/bin/sh -c #(nop) WORKDIR /w"           (one space)
//   COPY / ADD       "/bin/sh -c #(nop) COPY file:<sha256> in /x/ "  (--chown=u:g glued before
//                    the source hash; "multi:<sha256>" for several sources; a trailing blank)
//   RUN              "/bin/sh -c echo hi", exec form "echo hi"; with build args
//                    "|2 A=1 B=2 /bin/sh -c echo hi"
//
// The shell is the stage's SHELL at that step. Metadata steps have empty_layer true; RUN, WORKDIR,
// COPY and ADD have it when their layer is empty (no change to the file system). Every entry
// after a MAINTAINER carries it as the author.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "builder/instructions.h"

namespace hoist::builder {

// Go's time.Duration.String(): "1m30s", "500ms", "1.5s", "0s", "2h0m0s", "1µs", "100ns".
std::string go_duration_string(std::int64_t ns);

// fmt's %q of the HealthConfig pointer dockerd prints: &{["CMD-SHELL" "x"] "5s" "0s" "0s" '\x03'}
// (a non-zero start interval is shown before the retries, as newer dockerd's struct has it).
std::string health_text(const HealthConfig& h);

// The container command of a metadata step (the shell, "#(nop) ", the text).
std::vector<std::string> nop_cmd(const std::vector<std::string>& shell, const std::string& text);
// ... of WORKDIR, COPY and ADD (one "#(nop) text" word).
std::vector<std::string> nop_cmd_one(const std::vector<std::string>& shell, const std::string& text);

// COPY/ADD's source hash as dockerd names it: the one source's hash ("file:<hex>", "dir:<hex>"),
// or "multi:" and the sha256 of the sources' hashes joined with ",".
std::string combined_source_hash(const std::vector<std::string>& source_hashes);

// COPY/ADD's created_by text after "#(nop) ": "COPY --chown=1:2file:<hex> in /dest ".
std::string copy_text(const char* cmd, const std::string& chown, const std::string& source_hash, const std::string& dest);

// The history entry, as the image config's "history" holds it.
struct HistoryEntry {
  std::string created_by;
  std::string author;
  bool empty_layer = false;
};

// Joins a container command the way created_by does.
std::string created_by(const std::vector<std::string>& cmd);

}  // namespace hoist::builder
