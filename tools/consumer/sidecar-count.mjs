// Shared by the two sidecar smokes (tools/consumer/sidecar-smoke.mjs, installed from the tarballs;
// tools/release/cross-smoke/sidecar.mjs, a cross-built daemon under its runner): in a private runtime dir,
// count one text through the daemon and in process, ask the daemon who it is, shut it down. Takes the two
// packages as loaded modules (it imports neither, so it runs from wherever it is copied to). Returns the
// JSON-able result: { viaSidecar, inProcess, tokenizerActive, hello, ...describe(hello) } or
// { error, code } (with what was gathered before the error).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * @param {{ loadSidecar: () => Promise<any>, loadTokenizer: () => Promise<any>, prefix: string,
 *   clientOptions?: object, before?: (sidecar: any, out: object) => void,
 *   describe?: (hello: { pid: number }) => object, reason: string }} o
 */
export async function sidecarCountSmoke(o) {
  const out = {};
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  let client;
  try {
    const sidecar = await o.loadSidecar();
    const tokenizer = await o.loadTokenizer();
    o.before?.(sidecar, out);
    client = new sidecar.SidecarClient({ dir, ...o.clientOptions });
    const text = "The quick brown fox jumps over the lazy dog. ∑ unicode ✓ ".repeat(30);
    out.viaSidecar = await new sidecar.SidecarTokenizer(client).countTokens(text, "gpt-4o");
    out.inProcess = tokenizer.countTokens(text, "gpt-4o");
    out.tokenizerActive = tokenizer.status().active;
    const hello = await client.hello();
    out.hello = { version: hello.version, protocol: hello.protocol, pid: hello.pid };
    Object.assign(out, o.describe?.(hello));
    await client.shutdownDaemon(o.reason);
  } catch (err) {
    out.error = String(err?.message ?? err);
    out.code = err?.code;
  } finally {
    client?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
