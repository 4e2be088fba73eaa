// Runs inside a fresh project where the packed tarballs are installed (never in the workspace), on a
// platform with a sidecar platform package (Linux, macOS). `node sidecar-smoke.mjs`: finds the daemon the
// way the client does (`resolveBinary()`: the installed `@ku0/native-sidecar-<triple>` package), spawns it
// in a private runtime dir, counts tokens through it and in-process with `@ku0/native-tokenizer`, asks the
// daemon which executable it runs (Linux: /proc/<pid>/exe), shuts it down (sidecar-count.mjs, copied next
// to it). Prints one JSON line; the runner (run.mjs) does the checks. A thrown error prints
// `{ error, code }` instead.
import { readlinkSync, realpathSync } from "node:fs";
import { sidecarCountSmoke } from "./sidecar-count.mjs";

const out = await sidecarCountSmoke({
  loadSidecar: () => import("@ku0/native-sidecar"),
  loadTokenizer: () => import("@ku0/native-tokenizer"),
  prefix: "ku0-sidecar-smoke-",
  clientOptions: { connectTimeoutMs: 60_000, callTimeoutMs: 60_000 },
  before: (sidecar, o) => {
    o.binary = sidecar.resolveBinary();
    o.binaryReal = realpathSync(o.binary);
  },
  describe: (hello) =>
    process.platform === "linux" ? { daemonExe: readlinkSync(`/proc/${hello.pid}/exe`) } : {},
  reason: "consumer smoke done",
});
console.log(JSON.stringify(out));
