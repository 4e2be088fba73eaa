import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStorage } from "./checkpointStorage.js";
import { EventLog } from "./eventLog.js";
import { backends, cleanup, tmp } from "./testing/helpers.js";

afterAll(cleanup);

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "no error";
}

describe.each(backends())("storage adapters validate before any work (%s)", (backend) => {
  it("groupDelayMicros of -1 or 2^31 is rejected (flush must never hang)", async () => {
    for (const groupDelayMicros of [-1, 2 ** 31, 1.5, Number.NaN])
      expect(await codeOf(() => new EventLog(tmp("gd"), { backend, groupDelayMicros } as never))).toMatch(
        /^ERR_KU0_(OUT_OF_RANGE|INVALID_ARG)$/,
      );
    const log = new EventLog(tmp("gd-ok"), { backend, groupDelayMicros: 100 } as never);
    log.append({ type: "x" } as never);
    await log.flush();
    log.close();
  });

  it("options of the wrong type are rejected on their type", async () => {
    expect(await codeOf(() => new EventLog(tmp("o"), "x".repeat(1 << 24) as never))).toBe(
      "ERR_KU0_INVALID_ARG",
    );
    expect(await codeOf(() => new CheckpointStorage(tmp("c"), { backend, maxChain: -1 }))).toBe(
      "ERR_KU0_OUT_OF_RANGE",
    );
  });

  it("maxChain past 32 is out of range (a load follows at most 64 base links); 32 itself is taken", async () => {
    expect(await codeOf(() => new CheckpointStorage(tmp("c33"), { backend, maxChain: 33 }))).toBe(
      "ERR_KU0_OUT_OF_RANGE",
    );
    new CheckpointStorage(tmp("c32"), { backend, maxChain: 32 }).close();
  });

  it("ids and payloads that cannot be serialized are typed errors", async () => {
    const s = new CheckpointStorage(tmp("ids"), { backend });
    expect(await codeOf(() => s.delete(10n as never))).toBe("ERR_KU0_INVALID_ID");
    expect(await codeOf(() => s.storedSize("../../etc/passwd"))).toBe("ERR_KU0_INVALID_ID");
    s.close();
    const log = new EventLog(tmp("big"), { backend });
    expect(await codeOf(() => log.append({ n: 10n } as never))).toBe("ERR_KU0_INVALID_ARG");
    const batch = log.replayBatch(0);
    expect(await codeOf(() => batch.bytes(5))).toBe("ERR_KU0_OUT_OF_RANGE");
    log.close();
  });
});
