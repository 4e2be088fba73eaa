// The cross-built sidecar daemon, run under its platform's runner (qemu-user for linux-arm64-gnu), serving
// this machine's client: `node sidecar.mjs <daemon launcher>` (run by run.mjs with the host Node from the
// repository, after `pnpm build`). The launcher is a shell script that execs the runner with the daemon
// installed from the platform tarball; the host client spawns it (readiness on fd 3 passes through the
// runner), counts tokens through it, and compares with the host's in-process native count. Prints one JSON
// line: { viaSidecar, inProcess, tokenizerActive, hello, cmdline } or { error, code }.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dirname, "..", "..", "..");
const launcher = process.argv[2];
const out = {};
const dir = mkdtempSync(join(tmpdir(), "ku0-cross-sidecar-"));
let client;
try {
  const sidecar = await import(join(repo, "packages", "native-sidecar", "dist", "index.js"));
  const tokenizer = await import(join(repo, "packages", "native-tokenizer", "dist", "index.js"));
  client = new sidecar.SidecarClient({
    dir,
    binaryPath: launcher,
    connectTimeoutMs: 180_000,
    callTimeoutMs: 180_000,
  });
  const text = "The quick brown fox jumps over the lazy dog. ∑ unicode ✓ ".repeat(30);
  out.viaSidecar = await new sidecar.SidecarTokenizer(client).countTokens(text, "gpt-4o");
  out.inProcess = tokenizer.countTokens(text, "gpt-4o");
  out.tokenizerActive = tokenizer.status().active;
  const hello = await client.hello();
  out.hello = { version: hello.version, protocol: hello.protocol, pid: hello.pid };
  out.cmdline = readFileSync(`/proc/${hello.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  await client.shutdownDaemon("cross smoke done");
} catch (err) {
  out.error = String(err?.message ?? err);
  out.code = err?.code;
} finally {
  client?.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
