#!/usr/bin/env bash
# CI step: the hostile-argument fuzzer over every export (public entries in every mode, raw bindings),
# time-boxed. Any failure fails the build: public entries and raw bindings alike (the boundary crate's
# #[guard] types every raw error, wrong argument types included).
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== fuzz:args"
start=$(date +%s)
node --conditions=@ku0/source --import tsx tools/fuzz-args/cli.ts --jobs 2 --group-budget-s 120 \
  --out target/fuzz-args.json
echo "fuzz:args took $(($(date +%s) - start)) s"
