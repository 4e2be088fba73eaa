// The `sidecar` path beyond the shared conformance suite: workspace sharing, handles, status, and a daemon
// killed under a graph (typed errors, never a hang). Uses a daemon of this file's own (temp runtime dir).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { status, symbolIndexModule } from "./native.js";
import { sidecarBridge } from "./sidecar.js";
import { SymbolGraph } from "./symbolGraph.js";
import { sidecarSkipReason, withMode } from "./testing.js";

const dir = mkdtempSync(join(tmpdir(), "ku0-sc-adapter-"));
process.env.KU0_SIDECAR_DIR = dir;

const graph = (workspace?: string) => withMode("sidecar", () => new SymbolGraph({ workspace }));
const sym = (name: string, file: string) => ({
  name,
  kind: "Class",
  file,
  line: 1,
  column: 1,
  endLine: 1,
  endColumn: 5,
});

afterAll(() => {
  if (sidecarSkipReason === undefined) {
    try {
      sidecarBridge().call("shutdownDaemon");
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(sidecarSkipReason !== undefined)(`sidecar path ${sidecarSkipReason ?? ""}`, () => {
  it("reports the sidecar mode; graphs of one workspace key share an index, others do not", () => {
    symbolIndexModule.setMode("sidecar");
    try {
      expect(status()).toMatchObject({ mode: "sidecar", active: "sidecar" });
    } finally {
      symbolIndexModule.setMode(undefined);
    }
    const a = graph("/ws/one");
    const b = graph("/ws/one");
    const c = graph("/ws/two");
    const d = graph();
    expect(a.path).toBe("sidecar");
    a.updateFileSymbols("/ws/one/a.ts", [sym("SharedThing", "/ws/one/a.ts")]);
    expect(b.query("shared thing").map((r) => r.symbol.name)).toEqual(["SharedThing"]);
    expect(c.query("shared thing")).toEqual([]);
    expect(d.query("shared thing")).toEqual([]);
    a.close();
    a.close(); // idempotent
    expect(() => a.query("shared")).toThrowError(expect.objectContaining({ code: "ERR_KU0_SIDECAR_CLOSED" }));
    expect(b.getStats()).toEqual({ symbolCount: 1, fileCount: 1 });
    b.close();
    // the last handle closed: the key now opens a fresh index
    const e = graph("/ws/one");
    expect(e.getStats()).toEqual({ symbolCount: 0, fileCount: 0 });
    for (const g of [c, d, e]) g.close();
  });

  it("save/load through the daemon round-trips with the native file format", () => {
    const g = graph();
    g.updateFileSymbols("/w/a.ts", [sym("Persisted", "/w/a.ts")]);
    const file = join(dir, "index.ku0");
    g.save(file);
    const native = withMode("native", () => SymbolGraph.load(file));
    expect(native.query("persisted").map((r) => r.symbol.name)).toEqual(["Persisted"]);
    const back = graph();
    back.load(file);
    expect(back.query("persisted")).toEqual(native.query("persisted"));
    writeCorrupt(file);
    expect(() => back.load(file)).toThrowError(expect.objectContaining({ code: "ERR_KU0_INDEX_CORRUPT" }));
    expect(back.getStats()).toEqual({ symbolCount: 1, fileCount: 1 });
    g.close();
    back.close();
  });

  it("a daemon killed under a graph is a typed error, not a hang; the next graph respawns it", () => {
    const g = graph();
    g.updateFileSymbols("/w/a.ts", [sym("Before", "/w/a.ts")]);
    const pid = (JSON.parse(readFileSync(join(dir, "sidecar.json"), "utf8")) as { pid: number }).pid;
    process.kill(pid, "SIGKILL");
    expect(() => g.query("before")).toThrowError(
      expect.objectContaining({ code: expect.stringMatching(/^ERR_KU0_SIDECAR_/) }),
    );
    // the respawned daemon does not know the old handle (its indexes died with the old process)
    expect(() => g.query("before")).toThrowError(
      expect.objectContaining({ code: "ERR_KU0_SIDECAR_NO_SUCH_HANDLE" }),
    );
    const fresh = graph();
    expect(fresh.getStats()).toEqual({ symbolCount: 0, fileCount: 0 });
    fresh.close();
  }, 60_000);
});

function writeCorrupt(file: string): void {
  const bytes = readFileSync(file);
  const last = bytes.length - 1;
  bytes.writeUInt8(bytes.readUInt8(last) ^ 0xff, last);
  writeFileSync(file, bytes);
}
