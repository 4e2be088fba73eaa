// The runtime seam (contracts §4.3): require the .node and construct StorageEngine(rootDir).
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { platformTriple } from "@ku0/native-loader";
import { afterAll, describe, expect, it } from "vitest";
import type * as Binding from "../binding.cjs";
import { CheckpointStorage } from "./checkpointStorage.js";
import { EventLog } from "./eventLog.js";
import { cleanup, nativeAvailable, tmp } from "./testing/helpers.js";

afterAll(cleanup);
const require = createRequire(import.meta.url);
const required = process.env.CI === "true" || process.env.KU0_REQUIRE_NATIVE === "1";
const run = nativeAvailable() || required ? describe : describe.skip;

run("StorageEngine seam from the .node file", () => {
  it("implements the seam's methods", () => {
    const nodeFile = `ku0-storage.${platformTriple()}.node`; // this platform's build (cross builds may sit beside it)
    const b = require(join(__dirname, "..", nodeFile)) as typeof Binding;
    const root = tmp("seam");
    const eng = new b.StorageEngine(root);
    const enc = new TextEncoder();
    // Numbered from 0 like the runtime's engine (the log underneath keeps its 1-based ids).
    expect(eng.appendEvent(enc.encode("one"))).toBe(0n);
    expect(eng.appendEvent(enc.encode("two"))).toBe(1n);
    expect(eng.appendEvent(enc.encode("three"))).toBe(2n);
    const r = eng.replayEvents(1n);
    expect(r.map((x) => Buffer.from(x).toString())).toEqual(["two", "three"]);
    expect(eng.replayEvents(0n, 1).map((x) => Buffer.from(x).toString())).toEqual(["one"]);
    expect(eng.pruneEvents(1n)).toBe(1n);
    expect(eng.replayEvents(0n)).toHaveLength(2);
    expect(() => eng.replayEvents(-1n)).toThrow(/ERR_KU0_OUT_OF_RANGE/);
    eng.saveCheckpoint("c1", enc.encode("state-1"));
    eng.saveCheckpoint("c2", enc.encode("state-2"));
    expect(Buffer.from(eng.loadCheckpoint("c1") as Uint8Array).toString()).toBe("state-1");
    expect(eng.loadCheckpoint("missing")).toBeNull();
    expect(eng.deleteCheckpoint("c1")).toBe(true);
    expect(eng.deleteCheckpoint("c1")).toBe(false);
    expect(() => eng.saveCheckpoint("../x", enc.encode("x"))).toThrow(/ERR_KU0_INVALID_ID/);
    expect(() => new b.StorageEngine(root)).toThrow(/ERR_KU0_STORAGE_LOCKED/);
    eng.close();
    // A root still in the runtime's own layout is refused (the import opens it with the override).
    const rt = tmp("seam-rt");
    writeFileSync(join(rt, "events.log"), Buffer.alloc(0));
    expect(() => new b.StorageEngine(rt)).toThrow(/ERR_KU0_STORAGE_NEEDS_IMPORT/);
    new b.StorageEngine(rt, undefined, true).close();
    // The seam's directories are ordinary adapter directories.
    const log = new EventLog(join(root, "events"), { backend: "js" });
    expect(log.replayBatch(0).text(0)).toBe("two");
    log.close();
    const ck = new CheckpointStorage(join(root, "checkpoints"), { backend: "js" });
    expect(ck.damaged()).toEqual([]);
    ck.close();
  });
});
