#!/usr/bin/env bash
# libFuzzer targets of tests/fuzz, built with clang, ASan and UBSan into build-fuzz/.
#
#   bench/fuzz.sh TARGET MINUTES     fuzz one target for MINUTES (e.g. 30), from its seed corpus
#   bench/fuzz.sh TARGET FILE...     run the target once on each FILE (reproduce a crash)
#   bench/fuzz.sh build              build every target
#   bench/fuzz.sh list               the targets
#
# The seed corpus tests/fuzz/corpus/TARGET/ is read only; what the fuzzer learns goes to
# build-fuzz/corpus/TARGET/ (kept between runs), crashing inputs to build-fuzz/crashes/TARGET/.
# It prints the executions and crashes at the end and exits non-zero when a crash was found.
# Extra libFuzzer flags: FUZZ_FLAGS="-max_len=65536 -jobs=2"; FUZZ_NO_BUILD=1 runs the binary
# as it was last built. Temporary files go to a private directory that is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=$src/build-fuzz
targets() { ls tests/fuzz/*_fuzz.cpp | sed 's|.*/||; s|_fuzz\.cpp$||'; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build() {  # build [TARGET]
  command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (scripts/install-deps.sh)" >&2; exit 1; }
  CC=clang CXX=clang++ cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOIST_FUZZ=ON \
    -DHOIST_BUILD_TESTS=OFF >/dev/null
  cmake --build "$out" -j "$(nproc)" --target "hoist_fuzz_${1:-all}"
}

[ $# -ge 1 ] || usage
case $1 in
  list) targets; exit 0 ;;
  build) build; exit 0 ;;
esac
target=$1
targets | grep -qx "$target" || { echo "fuzz.sh: no target $target (bench/fuzz.sh list)" >&2; exit 2; }
[ $# -ge 2 ] || usage
[ -n "${FUZZ_NO_BUILD:-}" ] || build "$target"
bin=$out/tests/fuzz/hoist_fuzz_$target

tmp=$(mktemp -d /tmp/hoist-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
# LeakSanitizer stays on: a target leaks nothing between inputs, so a leak is a finding too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

if [ -f "$2" ]; then  # reproduce
  shift
  exec "$bin" "$@"
fi
minutes=$2
[[ $minutes =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
mkdir -p "$out/corpus/$target" "$out/crashes/$target"
log=$tmp/fuzz.log
echo "fuzz.sh: $target for $minutes min (corpus $out/corpus/$target, seeds tests/fuzz/corpus/$target)"
started=$(date +%s)
set +e
# -timeout: an input taking longer than 25 s is a hang, a finding too.
# shellcheck disable=SC2086
"$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$out/crashes/$target/" ${FUZZ_FLAGS:-} \
  "$out/corpus/$target" "$src/tests/fuzz/corpus/$target" 2>&1 | tee "$log" | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)\|# Uses: '
rc=${PIPESTATUS[0]}
set -e
execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
crashes=$(grep -c '^artifact_prefix=.*Test unit written to' "$log" || true)
corpus=$(ls "$out/corpus/$target" | wc -l)
echo "fuzz.sh: $target: $(($(date +%s) - started)) s of ${minutes} min, ${execs:-?} executions, $crashes crash(es), corpus $corpus inputs, exit $rc"
grep '^artifact_prefix=.*Test unit written to' "$log" | sed 's/.*written to /fuzz.sh: crash: /' || true
exit "$rc"
