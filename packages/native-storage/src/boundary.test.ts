import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runHostile } from "@ku0/native-loader/testing";
import { afterAll, describe, expect, it } from "vitest";

const bindingPath = join(dirname(fileURLToPath(import.meta.url)), "..", "binding.cjs");
const tmp = mkdtempSync(join(tmpdir(), "ku0-storage-boundary-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("raw storage binding under hostile arguments (child process)", () => {
  it("negative, fractional and oversized options are typed errors; the process neither aborts nor hangs", () => {
    const dir = (n: string) => JSON.stringify(join(tmp, n));
    const r = runHostile(
      bindingPath,
      `await call("groupDelayMicros -1", () => new b.NativeEventLog(${dir("l1")}, { groupDelayMicros: -1 }));
       await call("groupDelayMicros 2^31", () => new b.NativeEventLog(${dir("l2")}, { groupDelayMicros: 2 ** 31 }));
       await call("maxRecordBytes 1.5", () => new b.NativeEventLog(${dir("l3")}, { maxRecordBytes: 1.5 }));
       const log = new b.NativeEventLog(${dir("l4")});
       await call("recordType -1", () => log.append(new Uint8Array(1), -1));
       await call("recordType 2^16", () => log.append(new Uint8Array(1), 65536));
       await call("flush", () => log.flush());
       log.close();
       await call("append after close", () => log.append(new Uint8Array(1)));
       await call("maxChain -1", () => new b.NativeCheckpointStore(${dir("c1")}, { maxChain: -1 }));
       await call("maxChain 33", () => new b.NativeCheckpointStore(${dir("c3")}, { maxChain: 33 }));
       const cs = new b.NativeCheckpointStore(${dir("c2")});
       await call("statuses", () => cs.list({ statuses: sparse() }));
       await call("limit -1", () => cs.list({ limit: -1 }));
       await call("prune NaN", () => cs.prune(NaN, 0));
       await call("load bad id", () => cs.load("../x"));
       const e = new b.StorageEngine(${dir("s")});
       await call("replay limit -1", () => e.replayEvents(0n, -1));
       await call("replay from -1n", () => e.replayEvents(-1n));`,
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(Object.fromEntries(r.results)).toEqual({
      "groupDelayMicros -1": "ERR_KU0_INVALID_ARG",
      "groupDelayMicros 2^31": "ERR_KU0_INVALID_ARG",
      "maxRecordBytes 1.5": "ERR_KU0_INVALID_ARG",
      "recordType -1": "ERR_KU0_INVALID_ARG",
      "recordType 2^16": "ERR_KU0_INVALID_ARG",
      flush: "no error",
      "append after close": "ERR_KU0_STORAGE_CLOSED",
      "maxChain -1": "ERR_KU0_INVALID_ARG",
      "maxChain 33": "ERR_KU0_INVALID_ARG",
      statuses: "ERR_KU0_INVALID_ARG",
      "limit -1": "ERR_KU0_INVALID_ARG",
      "prune NaN": "ERR_KU0_INVALID_ARG",
      "load bad id": "ERR_KU0_INVALID_ID",
      "replay limit -1": "ERR_KU0_INVALID_ARG",
      "replay from -1n": "ERR_KU0_OUT_OF_RANGE",
    });
  });
});
