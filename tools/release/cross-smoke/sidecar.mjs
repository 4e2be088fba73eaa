// The cross-built sidecar daemon, run under its platform's runner (qemu-user for linux-arm64-gnu), serving
// this machine's client: `node sidecar.mjs <daemon launcher>` (run by run.mjs with the host Node from the
// repository, after `pnpm build`). The launcher is a shell script that execs the runner with the daemon
// installed from the platform tarball; the host client spawns it (readiness on fd 3 passes through the
// runner), counts tokens through it, and compares with the host's in-process native count
// (tools/consumer/sidecar-count.mjs). Prints one JSON line: { viaSidecar, inProcess, tokenizerActive,
// hello, cmdline } or { error, code }.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sidecarCountSmoke } from "../../consumer/sidecar-count.mjs";

const repo = join(import.meta.dirname, "..", "..", "..");
const launcher = process.argv[2];
const out = await sidecarCountSmoke({
  loadSidecar: () => import(join(repo, "packages", "native-sidecar", "dist", "index.js")),
  loadTokenizer: () => import(join(repo, "packages", "native-tokenizer", "dist", "index.js")),
  prefix: "ku0-cross-sidecar-",
  clientOptions: { binaryPath: launcher, connectTimeoutMs: 180_000, callTimeoutMs: 180_000 },
  describe: (hello) => ({
    cmdline: readFileSync(`/proc/${hello.pid}/cmdline`, "utf8").split("\0").filter(Boolean),
  }),
  reason: "cross smoke done",
});
console.log(JSON.stringify(out));
