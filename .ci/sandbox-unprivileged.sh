#!/usr/bin/env bash
# Runs the sandbox's escape suite (the cargo tests of crates/sandbox) and the sandbox adapter's
# vitest suite a second time as an unprivileged user. CI runs as root, where the helper takes its
# root path (mount + pid namespaces without a user namespace); developer laptops and agent hosts
# take the unprivileged path (user namespace, uid mapping). Called by .ci/run after `pnpm test`
# (which built the binding, the helper and the test binaries); prints its own duration.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start=$(date +%s)

if [ "$(id -u)" != 0 ]; then
  echo "== sandbox (unprivileged): already running as uid $(id -u); the main test run covered this path"
  exit 0
fi

for tool in setpriv useradd; do
  if ! command -v "$tool" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq util-linux passwd >/dev/null
  fi
done

user=ku0-unpriv
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
home=$(mktemp -d /tmp/ku0-unpriv-home.XXXXXX)
chown "$uid:$gid" "$home"
trap 'rm -rf "$home"' EXIT

as_user() {
  setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all \
    env -i HOME="$home" PATH="$PATH" TMPDIR=/tmp CI="${CI:-}" NO_COLOR=1 "$@"
}

# The user must be able to traverse to the repository. A CI checkout below a private home
# (e.g. /root, mode 0700) gets o+x on the blocking ancestors; elsewhere we refuse to change modes.
if ! as_user test -r "$repo/package.json"; then
  if [ "${CI:-}" != true ]; then
    echo "== sandbox (unprivileged): $repo is not reachable by $user; run with CI=true to add o+x on its ancestors" >&2
    exit 1
  fi
  d=$repo
  while [ "$d" != / ]; do
    chmod o+x "$d"
    d=$(dirname "$d")
  done
fi

echo "== sandbox (unprivileged): probe as $user (uid $uid)"
helper=$(ls "$repo"/packages/native-sandbox/bin/ku0-sandbox-exec* 2>/dev/null | head -n1 || true)
if [ -n "$helper" ]; then as_user "$helper" --probe; fi

echo "== sandbox (unprivileged): escape suite (cargo tests of ku0-sandbox)"
# Build as root (the shared target dir stays root's); run the test executables as the user.
mapfile -t bins < <(cargo test -p ku0-sandbox --no-run --message-format=json 2>/dev/null |
  node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n");
    for (const l of lines) {
      if (!l.startsWith("{")) continue;
      const m = JSON.parse(l);
      if (m.reason === "compiler-artifact" && m.profile && m.profile.test && m.executable) console.log(m.executable);
    }')
if [ "${#bins[@]}" -eq 0 ]; then
  echo "no test executables found" >&2
  exit 1
fi
for b in "${bins[@]}"; do
  echo "-- $(basename "$b")"
  as_user "$b" --quiet
done

echo "== sandbox (unprivileged): adapter vitest suite"
(cd packages/native-sandbox && as_user node ./node_modules/vitest/vitest.mjs run --configLoader runner)

echo "== sandbox (unprivileged): done in $(($(date +%s) - start)) s"
