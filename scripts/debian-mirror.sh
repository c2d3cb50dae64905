#!/usr/bin/env bash
# Prints the Debian mirror apt uses for bookworm: $MIRROR if set, else the first "deb" source of
# suite bookworm in /etc/apt/sources.list*, one-line or deb822 format, else deb.debian.org.
#   scripts/debian-mirror.sh
set -euo pipefail
if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; exit 0; fi
sources() { local f; for f in "$@"; do [ -r "$f" ] && cat "$f"; done; true; }
mirror=$(sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
  awk '$1 == "deb" { sub(/\[[^\]]*\]/, ""); $0 = $0; if ($3 == "bookworm") { print $2; exit } }')
if [ -z "$mirror" ]; then
  mirror=$(sources /etc/apt/sources.list.d/*.sources |
    awk 'function flush() { if (deb && suite && uri != "" && !found) { found = 1; print uri; exit } deb = suite = 0; uri = "" }
         /^[ \t]*$/ { flush(); next }
         tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
         tolower($1) == "uris:" { uri = $2 }
         tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
         END { flush() }')
fi
echo "${mirror:-http://deb.debian.org/debian}"
