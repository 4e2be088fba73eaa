// `pnpm test:consumer`: what a new user gets. Packs every package (pnpm pack, as publishing would), installs
// the main tarballs plus this machine's platform tarballs into a fresh project outside the workspace, once
// with plain npm and once with pnpm, and runs smoke.mjs per module with its flag on `native` (must be
// active natively, loaded from the platform package) and on `js` (`off` for the sandbox; same answers),
// then requires every CommonJS entry (smoke.cjs), and spawns the sidecar daemon from its installed platform
// package (sidecar-smoke.mjs: one token count through it equals the in-process count; Linux and macOS
// only, the daemon is Unix-only). Needs a build first (`pnpm build`, as `pnpm test` does).
// KU0_CONSUMER_KEEP=1 keeps the temporary directory.
import { execFileSync } from "node:child_process";
import {
  accessSync,
  constants,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { EXECUTABLE_PACKAGES, hostTriple } from "../release/lib.mjs";
import { packAll } from "../release/pack.mjs";
import { verifyTarballs } from "../release/verify.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const started = performance.now();
const timings = [];
const time = (label, fn) => {
  const t0 = performance.now();
  const r = fn();
  timings.push([label, (performance.now() - t0) / 1000]);
  return r;
};
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
};

const root = mkdtempSync(join(tmpdir(), "ku0-consumer-"));
const triple = hostTriple();
const MODULES = [
  { name: "tokenizer", pkg: "@ku0/native-tokenizer", flag: "KU0_NATIVE_TOKENIZER", off: "js" },
  { name: "symbol-index", pkg: "@ku0/native-symbol-index", flag: "KU0_NATIVE_SYMBOL_INDEX", off: "js" },
  { name: "storage", pkg: "@ku0/native-storage", flag: "KU0_NATIVE_STORAGE", off: "js" },
  { name: "sandbox", pkg: "@ku0/native-sandbox", flag: "KU0_NATIVE_SANDBOX", off: "off" },
];
const SIDECAR = "@ku0/native-sidecar";
// The daemon has platform packages for Unix triples only (no Windows transport).
const sidecarHere = EXECUTABLE_PACKAGES[SIDECAR].triples.includes(triple);

const scrubbed = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !/^(KU0_|TOKENIZER_RS_|SANDBOX_RS_|npm_|PNPM_|NODE_OPTIONS)/.test(k),
  ),
);

function sidecarSmoke(project) {
  const out = execFileSync(process.execPath, ["sidecar-smoke.mjs"], {
    cwd: project,
    env: { ...scrubbed, KU0_NATIVE_TOKENIZER: "native" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 180_000,
  });
  return JSON.parse(out.trim().split("\n").pop());
}

/** The sidecar daemon from the installed platform package, spawned by the client, answers like in-process. */
function sidecarChecks(pm, project) {
  let r;
  try {
    r = sidecarSmoke(project);
  } catch (err) {
    check(false, `${pm}: sidecar smoke crashed: ${err.stderr || err.message}`);
    return;
  }
  check(r.error === undefined, `${pm}: sidecar smoke ran (${r.code ?? ""} ${r.error ?? "no error"})`);
  if (r.error !== undefined) return;
  const pkgDir = `native-sidecar-${triple}`;
  check(
    r.binary.startsWith(project) && r.binaryReal.includes(pkgDir),
    `${pm}: resolveBinary() finds the daemon in the installed platform package (${r.binary} -> ${r.binaryReal})`,
  );
  try {
    accessSync(r.binary, constants.X_OK);
    check(true, `${pm}: installed daemon is executable`);
  } catch {
    check(false, `${pm}: installed daemon ${r.binary} is not executable`);
  }
  if (process.platform === "linux") {
    check(
      r.daemonExe === r.binaryReal,
      `${pm}: the running daemon (pid ${r.hello.pid}, protocol ${r.hello.protocol}, version ${r.hello.version}) is that file (${r.daemonExe})`,
    );
  }
  check(
    r.tokenizerActive === "native" && Number.isInteger(r.viaSidecar) && r.viaSidecar === r.inProcess,
    `${pm}: one token count through the daemon equals the in-process native count (${r.viaSidecar} vs ${r.inProcess})`,
  );
}

try {
  const packed = time("pack", () =>
    packAll(join(root, "tarballs"), { log: (m) => console.log(`pack: ${m}`) }),
  );
  for (const m of MODULES) {
    check(
      packed.some((p) => p.name === `${m.pkg}-${triple}`),
      `${m.pkg}-${triple} packed (its binaries were built)`,
    );
  }
  if (sidecarHere) {
    check(
      packed.some((p) => p.name === `${SIDECAR}-${triple}`),
      `${SIDECAR}-${triple} packed (the daemon was built: pnpm --filter ${SIDECAR} build)`,
    );
  }
  const verifyStart = performance.now();
  const problems = await verifyTarballs(packed, { log: (m) => console.log(`verify: ${m}`) });
  timings.push(["publint+attw", (performance.now() - verifyStart) / 1000]);
  for (const p of problems) check(false, p);
  check(problems.length === 0, `publint, attw and layout checks clean for ${packed.length} tarballs`);
  const file = (p) => `file:${p.tarball}`;
  const mains = Object.fromEntries(packed.filter((p) => p.kind === "main").map((p) => [p.name, file(p)]));
  // Every package we packed resolves to its tarball (nothing of ours comes from a registry); the other
  // platforms' packages are optional and skipped by os/cpu/libc.
  const overrides = Object.fromEntries(packed.map((p) => [p.name, file(p)]));

  for (const pm of ["npm", "pnpm"]) {
    const project = join(root, `project-${pm}`);
    mkdirSync(project);
    const manifest = { name: `ku0-consumer-${pm}`, private: true, type: "module", dependencies: mains };
    if (pm === "npm") manifest.overrides = overrides;
    else manifest.pnpm = { overrides };
    writeFileSync(join(project, "package.json"), JSON.stringify(manifest, null, 2));
    for (const f of ["smoke.mjs", "smoke.cjs", "storage-smoke.mjs", "sidecar-smoke.mjs", "sidecar-count.mjs"])
      copyFileSync(join(here, f), join(project, f));
    const args =
      pm === "npm"
        ? ["install", "--no-audit", "--no-fund", "--loglevel=error"]
        : ["install", "--reporter=append-only"];
    time(`${pm} install`, () => execFileSync(pm, args, { cwd: project, env: scrubbed, stdio: "inherit" }));

    const smoke = (mod, mode, extraEnv = {}) => {
      try {
        const out = execFileSync(process.execPath, ["smoke.mjs", mod.name], {
          cwd: project,
          env: { ...scrubbed, [mod.flag]: mode, ...extraEnv },
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
        return JSON.parse(out.trim().split("\n").pop());
      } catch (err) {
        check(
          false,
          `${pm}: smoke ${mod.name} with ${mod.flag}=${mode} crashed: ${err.stderr || err.message}`,
        );
        return { status: {}, answers: { crashed: true } };
      }
    };
    time(`${pm} smoke`, () => {
      for (const mod of MODULES) {
        const native = smoke(mod, "native");
        const loadError = native.status.loadError ? ` (${native.status.loadError})` : "";
        // The sandbox enforces only on Linux: elsewhere its binding loads but it reports itself unusable.
        const enforces = mod.name !== "sandbox" || process.platform === "linux";
        check(
          native.status.active === (enforces ? "native" : "js"),
          `${pm}: ${mod.name} ${enforces ? "active natively" : "not usable on this OS"} with ${mod.flag}=native${loadError}`,
        );
        const source = String(native.status.details?.bindingSource ?? "");
        check(
          source === `${mod.pkg}-${triple}@${native.status.version}`,
          `${pm}: ${mod.name} binding loaded from its platform package (${source})`,
        );
        const fallback = smoke(mod, mod.off);
        check(fallback.status.active === "js", `${pm}: ${mod.name} ${mod.flag}=${mod.off} answers from JS`);
        if (mod.name === "sandbox" && enforces) {
          check(
            native.answers.stdout === "sandboxed\n" && native.answers.exitCode === 0,
            `${pm}: sandbox ran a command natively (${JSON.stringify(native.answers)})`,
          );
          try {
            accessSync(native.status.helper, constants.X_OK);
            check(
              native.status.helper.startsWith(project),
              `${pm}: helper executable from the install: ${native.status.helper}`,
            );
          } catch {
            check(false, `${pm}: helper ${native.status.helper} is not executable`);
          }
          check(
            typeof fallback.answers.error === "string",
            `${pm}: sandbox off refuses commands (${fallback.answers.error})`,
          );
        } else if (mod.name !== "sandbox") {
          if (mod.name === "storage") {
            check(
              isDeepStrictEqual(native.backends, { log: "native", checkpoints: "native" }),
              `${pm}: storage backends native`,
            );
            check(
              isDeepStrictEqual(fallback.backends, { log: "js", checkpoints: "js" }),
              `${pm}: storage backends js`,
            );
          }
          check(
            isDeepStrictEqual(native.answers, fallback.answers),
            `${pm}: ${mod.name} native and js give the same answers`,
          );
        }
      }
      const cjs = execFileSync(process.execPath, ["smoke.cjs"], {
        cwd: project,
        env: scrubbed,
        encoding: "utf8",
      });
      const statuses = JSON.parse(cjs.trim().split("\n").pop());
      check(
        statuses.every(
          ([name, active]) => active === "native" || (name === "sandbox" && process.platform !== "linux"),
        ),
        `${pm}: require() of every CJS entry works, all active natively: ${JSON.stringify(statuses)}`,
      );
    });
    if (sidecarHere) time(`${pm} sidecar`, () => sidecarChecks(pm, project));

    if (pm === "npm") {
      // A platform package of another version must be refused by name, never loaded.
      const platformJson = join(
        project,
        "node_modules",
        "@ku0",
        `native-tokenizer-${triple}`,
        "package.json",
      );
      const original = readFileSync(platformJson, "utf8");
      writeFileSync(platformJson, original.replace(/"version": "[^"]+"/, '"version": "0.0.0-stale"'));
      const stale = smoke(MODULES[0], "auto");
      check(
        stale.status.active === "js" &&
          String(stale.status.loadError).includes(
            `@ku0/native-tokenizer-${triple}@0.0.0-stale is installed but`,
          ),
        `npm: a stale platform package is refused by name (${stale.status.loadError})`,
      );
      writeFileSync(platformJson, original);
      if (sidecarHere) {
        // The same for the sidecar daemon's platform package: refused by name, not spawned.
        const sidecarJson = join(project, "node_modules", "@ku0", `native-sidecar-${triple}`, "package.json");
        const sidecarOriginal = readFileSync(sidecarJson, "utf8");
        writeFileSync(sidecarJson, sidecarOriginal.replace(/"version": "[^"]+"/, '"version": "0.0.0-stale"'));
        const r = sidecarSmoke(project);
        check(
          r.code === "ERR_KU0_SIDECAR_VERSION_MISMATCH" &&
            String(r.error).includes(`${SIDECAR}-${triple}@0.0.0-stale is installed but`),
          `npm: a stale sidecar platform package is refused by name (${r.code}: ${r.error})`,
        );
        writeFileSync(sidecarJson, sidecarOriginal);
      }
      // The explicit-path override still wins over the packaged binding.
      const node = join(dirname(platformJson), `ku0-tokenizer.${triple}.node`);
      const explicit = smoke(MODULES[0], "native", { KU0_NATIVE_TOKENIZER_PATH: node });
      check(
        explicit.status.active === "native" &&
          explicit.status.details?.bindingSource === `KU0_NATIVE_TOKENIZER_PATH=${node}`,
        `npm: KU0_NATIVE_TOKENIZER_PATH loads the named .node (${explicit.status.details?.bindingSource})`,
      );
    }
  }
} finally {
  if (process.env.KU0_CONSUMER_KEEP === "1") console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}

const total = (performance.now() - started) / 1000;
console.log(
  `consumer test timings: ${timings.map(([l, s]) => `${l} ${s.toFixed(1)}s`).join(", ")}; total ${total.toFixed(1)}s`,
);
if (failures.length > 0) {
  console.error(`consumer test: ${failures.length} failure(s)`);
  process.exit(1);
}
console.log("consumer test: all checks passed");
