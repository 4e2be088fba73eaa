#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) on a scratch copy of its committed corpus and prints one
# markdown row per target: runs, coverage, corpus size, outcome. Needs nightly and cargo-fuzz.
# Usage: bash fuzz/run-all.sh [SECONDS] [target…]
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^ku0')
fi
work=$(mktemp -d)
echo "| target | seconds | runs | cov | corpus | result |"
echo "| --- | --- | --- | --- | --- | --- |"
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  cp -r "fuzz/corpus/$t/." "$work/$t/"
  log="$work/$t.log"
  # shellcheck disable=SC2086 # FUZZ_ARGS: extra cargo-fuzz flags, e.g. "--target-dir /tmp/fz"
  cargo +nightly fuzz run --features libfuzzer ${FUZZ_ARGS:-} "$t" "$work/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
    -artifact_prefix="$work/$t-" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | grep -o '[0-9]*')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(ls "$work/$t" | wc -l)
  if [ $rc -eq 0 ]; then result="no crash"; else result="FAILED (rc $rc, see $log)"; fi
  echo "| \`$t\` | $secs | ${runs:-?} | ${cov:-?} | $corpus | $result |"
done
