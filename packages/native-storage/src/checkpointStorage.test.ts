import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointStorage } from "./checkpointStorage.js";
import { backends, checkpoint, cleanup, tmp } from "./testing/helpers.js";
import type { CheckpointStatus } from "./types.js";

afterAll(cleanup);

describe.each(backends())("CheckpointStorage conformance (%s)", (backend) => {
  it("saves and loads checkpoints exactly", async () => {
    const s = new CheckpointStorage(tmp("ck"), { backend });
    const cps = Array.from({ length: 12 }, (_, i) => checkpoint(`cp-${i}`, "agent-a", i));
    for (const cp of cps) await s.save(cp);
    for (const cp of cps) expect(await s.load(cp.id)).toEqual(cp);
    expect(await s.load("nope")).toBeNull();
    const withErr = checkpoint("err-1", "agent-b", 2, {
      status: "failed",
      error: { message: "boom", code: "E1" },
    });
    await s.save(withErr);
    expect(await s.load("err-1")).toEqual(withErr);
    s.close();
  });

  it("loads ASCII and non-ASCII documents alike (native: string vs bytes text path), through delta chains", async () => {
    const s = new CheckpointStorage(tmp("ck-text"), { backend });
    const texts = [
      "plain ascii",
      "caf\u00e9 \u00ff latin-1 range",
      "\u{1f600} emoji \u4e2d\u6587",
      "\ufeffbom first",
      "",
    ];
    const cps = texts.flatMap((t, i) => [
      checkpoint(`t-${i}-a`, `agent-${i}`, 1, { task: t }),
      checkpoint(`t-${i}-b`, `agent-${i}`, 2, { task: t, metadata: { note: `${t}!` } }),
      checkpoint(`t-${i}-c`, `agent-${i}`, 3, { task: "ascii again", metadata: { note: t } }),
    ]);
    for (const cp of cps) await s.save(cp);
    for (const cp of cps) expect(await s.load(cp.id)).toEqual(cp);
    s.close();
    const again = new CheckpointStorage(s.dir, { backend });
    for (const cp of cps) expect(await again.load(cp.id)).toEqual(cp);
    again.close();
  });

  it("persists across reopen, overwrites in place and deletes", async () => {
    const dir = tmp("ck-reopen");
    const a = new CheckpointStorage(dir, { backend });
    for (let i = 0; i < 6; i++) await a.save(checkpoint(`r-${i}`, "ag", i));
    a.close();
    const b = new CheckpointStorage(dir, { backend });
    expect((await b.list()).length).toBe(6);
    const changed = checkpoint("r-2", "ag", 2, { status: "completed", metadata: { changed: true } });
    await b.save(changed);
    expect(await b.load("r-2")).toEqual(changed);
    for (let i = 0; i < 6; i++)
      if (i !== 2) expect(await b.load(`r-${i}`)).toEqual(checkpoint(`r-${i}`, "ag", i));
    expect(await b.delete("r-1")).toBe(true);
    expect(await b.delete("r-1")).toBe(false);
    expect(await b.load("r-1")).toBeNull();
    for (const i of [0, 3, 4, 5]) expect(await b.load(`r-${i}`)).toEqual(checkpoint(`r-${i}`, "ag", i));
    b.close();
    const c = new CheckpointStorage(dir, { backend });
    expect((await c.list()).map((x) => x.id).sort()).toEqual(["r-0", "r-2", "r-3", "r-4", "r-5"]);
    c.close();
  });

  it("lists with filters, sort and limit", async () => {
    const s = new CheckpointStorage(tmp("ck-list"), { backend });
    const statuses: CheckpointStatus[] = ["running", "completed", "failed", "pending"];
    for (let i = 0; i < 12; i++) {
      await s.save(
        checkpoint(`l${String(i).padStart(2, "0")}`, `ag${i % 3}`, 1, {
          createdAt: i * 10,
          status: statuses[i % 4] as CheckpointStatus,
          agentType: i % 2 === 0 ? "planner" : "coder",
          ...(i === 5 ? { error: { message: "x" } } : {}),
        }),
      );
    }
    const all = await s.list();
    expect(all.map((x) => x.id)).toEqual(
      Array.from({ length: 12 }, (_, i) => `l${String(11 - i).padStart(2, "0")}`),
    );
    expect(all.find((x) => x.id === "l05")).toEqual({
      id: "l05",
      task: "task for ag2",
      agentType: "coder",
      status: "completed",
      createdAt: 50,
      currentStep: 1,
      maxSteps: 50,
      hasError: true,
    });
    const f = await s.list({
      status: ["running", "failed"],
      agentType: "planner",
      createdAfter: 20,
      createdBefore: 100,
      sortOrder: "asc",
    });
    expect(f.map((x) => x.id)).toEqual(["l02", "l04", "l06", "l08", "l10"]);
    expect((await s.list({ status: "pending" })).map((x) => x.id)).toEqual(["l11", "l07", "l03"]);
    const bySt = await s.list({ sortBy: "status", sortOrder: "asc", limit: 4 });
    expect(bySt.map((x) => x.status)).toEqual(["completed", "completed", "completed", "failed"]);
    expect((await s.list({ limit: 2 })).length).toBe(2);
    s.close();
  });

  it("prunes checkpoints older than a cutoff", async () => {
    const s = new CheckpointStorage(tmp("ck-prune"), { backend });
    const now = Date.now();
    for (let i = 0; i < 10; i++)
      await s.save(checkpoint(`p${i}`, "ag", i, { createdAt: now - (10 - i) * 60_000 }));
    expect(await s.prune(5.5 * 60_000)).toBe(5);
    const left = (await s.list({ sortOrder: "asc" })).map((x) => x.id);
    expect(left).toEqual(["p5", "p6", "p7", "p8", "p9"]);
    for (const id of left) expect((await s.load(id))?.id).toBe(id);
    s.close();
  });

  it("rejects bad ids and oversize payloads with typed errors", async () => {
    const s = new CheckpointStorage(tmp("ck-bad"), { backend, maxPayloadBytes: 4096 });
    const bad = [
      "",
      "a/b",
      "..",
      "../etc/passwd",
      "a\0b",
      "c:d",
      "CON",
      "nul.txt",
      "com1",
      "LPT9",
      "a\\b",
      ".x",
      "x.",
      "x ",
    ];
    for (const id of bad) {
      await expect(s.save(checkpoint(id, "ag", 1))).rejects.toMatchObject({
        code: "ERR_KU0_INVALID_ID",
        name: "Ku0TypeError",
      });
      await expect(s.load(id)).rejects.toBeInstanceOf(TypeError);
      await expect(s.delete(id)).rejects.toMatchObject({ code: "ERR_KU0_INVALID_ID" });
    }
    await expect(s.save(checkpoint("big", "ag", 100))).rejects.toMatchObject({
      code: "ERR_KU0_PAYLOAD_TOO_LARGE",
    });
    await expect(s.prune(Number.NaN)).rejects.toBeInstanceOf(TypeError);
    await s.save(checkpoint("fine-1.v2", "ag", 1));
    expect((await s.load("fine-1.v2"))?.id).toBe("fine-1.v2");
    s.close();
  });

  it("reports damaged and foreign files instead of crashing or hiding them", async () => {
    const dir = tmp("ck-damaged");
    const a = new CheckpointStorage(dir, { backend });
    await a.save(checkpoint("good", "a1", 3));
    await a.save(checkpoint("flip", "a2", 3));
    a.close();
    writeFileSync(join(dir, "foreign.ckpt"), "definitely not a checkpoint");
    const p = join(dir, "flip.ckpt");
    const b = readFileSync(p);
    b[b.length - 5] = (b[b.length - 5] as number) ^ 0x20;
    writeFileSync(p, b);
    const s = new CheckpointStorage(dir, { backend });
    expect((await s.load("good"))?.id).toBe("good");
    await expect(s.load("foreign")).rejects.toMatchObject({ code: "ERR_KU0_STORAGE_CORRUPT" });
    await expect(s.load("flip")).rejects.toMatchObject({ code: "ERR_KU0_STORAGE_CORRUPT" });
    expect(s.damaged()).toEqual([expect.stringMatching(/^foreign: /)]);
    expect(await s.delete("foreign")).toBe(true);
    expect(() => new CheckpointStorage(dir, { backend })).toThrow(
      expect.objectContaining({ code: "ERR_KU0_STORAGE_LOCKED" }),
    );
    s.close();
  });
});
