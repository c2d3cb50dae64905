#!/usr/bin/env bash
# Checks the dependency rule of docs/architecture.md on the sources: which module's headers each
# module includes. Prints every include that breaks it and exits 1; run by ctest (label unit).
#   common ← runtime;  common ← image, network, volumes ← builder ← engine;  cli: common only
#   (and builder/dockerignore.h and builder/git_remote.h, pure, for build's context)
#   inside engine/: containers/ and shim/ never include api/ or the wiring at engine/'s top;
#   shim/ includes no more of containers/ than the log format;
#   cli/compose/ (the compose loader, a library of its own) includes only common/ and itself.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed() {  # allowed DIR: the top-level modules DIR may include
  case $1 in
    common) echo "common" ;;
    runtime) echo "common runtime" ;;
    image | network | volumes) echo "common $1" ;;
    builder) echo "common image network volumes builder" ;;
    engine) echo "common image network volumes builder engine" ;;
    cli) echo "common cli" ;;
  esac
}
bad=0
report() { echo "check-includes: $1: includes \"$2\": $3" >&2; bad=1; }
for dir in common runtime image network volumes builder engine cli; do
  [ -d "$dir" ] || continue
  ok=" $(allowed "$dir") "
  while IFS=: read -r file _ inc; do
    target=${inc#*\"}
    target=${target%%\"*}
    top=${target%%/*}
    [ "$top" = "$target" ] && continue  # a header of the same directory or a system one
    # The CLI's build applies .dockerignore with the builder's matcher and tells a git context
    # from a directory as the daemon does (pure, common/ only).
    [ "$dir" = cli ] && [ "$target" = builder/dockerignore.h ] && continue
    [ "$dir" = cli ] && [ "$target" = builder/git_remote.h ] && continue
    [[ $ok == *" $top "* ]] || report "$file" "$target" "$dir/ may include only:$ok"
    case $file in
      engine/containers/* | engine/shim/*)
        case $target in
          engine/api/* | engine/daemon.h | engine/container_service.h | engine/events.h)
            report "$file" "$target" "engine/containers/ and engine/shim/ sit below the API and the wiring" ;;
        esac ;;
    esac
    case $file in
      cli/compose/*)
        case $target in
          common/* | cli/compose/*) ;;
          *) report "$file" "$target" "cli/compose/ may include only common/ and cli/compose/" ;;
        esac ;;
    esac
    case $file in
      engine/shim/*)
        case $target in
          engine/containers/* ) [ "$target" = engine/containers/logs.h ] ||
            report "$file" "$target" "the shim shares only the log format with containers/" ;;
        esac ;;
    esac
  done < <(grep -rn --include='*.h' --include='*.cpp' '^#include "' "$dir" || true)
done
[ "$bad" -eq 0 ] && echo "check-includes: the dependency rule holds"
exit "$bad"
