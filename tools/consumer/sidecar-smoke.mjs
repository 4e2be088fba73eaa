// Runs inside a fresh project where the packed tarballs are installed (never in the workspace), on a
// platform with a sidecar platform package (Linux, macOS). `node sidecar-smoke.mjs`: finds the daemon the
// way the client does (`resolveBinary()`: the installed `@ku0/native-sidecar-<triple>` package), spawns it
// in a private runtime dir, counts tokens through it and in-process with `@ku0/native-tokenizer`, asks the
// daemon which executable it runs (Linux: /proc/<pid>/exe), shuts it down. Prints one JSON line; the
// runner (run.mjs) does the checks. A thrown error prints `{ error, code }` instead.
import { mkdtempSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = {};
const dir = mkdtempSync(join(tmpdir(), "ku0-sidecar-smoke-"));
let client;
try {
  const sidecar = await import("@ku0/native-sidecar");
  const tokenizer = await import("@ku0/native-tokenizer");
  out.binary = sidecar.resolveBinary();
  out.binaryReal = realpathSync(out.binary);
  client = new sidecar.SidecarClient({ dir, connectTimeoutMs: 60_000, callTimeoutMs: 60_000 });
  const tok = new sidecar.SidecarTokenizer(client);
  const text = "The quick brown fox jumps over the lazy dog. ∑ unicode ✓ ".repeat(30);
  out.viaSidecar = await tok.countTokens(text, "gpt-4o");
  out.inProcess = tokenizer.countTokens(text, "gpt-4o");
  out.tokenizerActive = tokenizer.status().active;
  const hello = await client.hello();
  out.hello = { version: hello.version, protocol: hello.protocol, pid: hello.pid };
  if (process.platform === "linux") out.daemonExe = readlinkSync(`/proc/${hello.pid}/exe`);
  await client.shutdownDaemon("consumer smoke done");
} catch (err) {
  out.error = String(err?.message ?? err);
  out.code = err?.code;
} finally {
  client?.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
