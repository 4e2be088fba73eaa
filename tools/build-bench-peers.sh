#!/usr/bin/env bash
# Builds the benchmark peers that ship C/C++ sources (better-sqlite3, zstd-napi, @mongodb-js/zstd) from source
# against this machine's Node headers. pnpm does not run their install scripts (they try to download prebuilt
# binaries, which this network does not allow), so without this step `pnpm bench` skips those peers and says so.
# Not part of `pnpm test`: nothing in the test suites needs them.
set -uo pipefail
cd "$(dirname "$0")/.."
nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
gyp="$(pwd)/node_modules/.bin/node-gyp"
[ -x "$gyp" ] || gyp="npx --yes node-gyp@11"
for spec in "native-storage better-sqlite3" "native-tokenizer zstd-napi" "native-tokenizer @mongodb-js/zstd"; do
  set -- $spec
  dir=$(cd "packages/$1" && node -p "require('path').dirname(require.resolve('$2/package.json'))" 2>/dev/null) || {
    echo "skip $2: not installed"
    continue
  }
  # better-sqlite3 loads its binding only when a database is opened: open one to know it is built.
  if (cd "packages/$1" && node -e "const m = require('$2'); if ('$2' === 'better-sqlite3') new m(':memory:').close()" >/dev/null 2>&1); then
    echo "ok   $2 (already loads)"
    continue
  fi
  echo "build $2 in $dir"
  (cd "$dir" && $gyp rebuild --release --nodedir="$nodedir" >/tmp/ku0-bench-peer-build.log 2>&1) &&
    echo "ok   $2" || echo "FAIL $2 (see /tmp/ku0-bench-peer-build.log); the bench will skip it"
done
