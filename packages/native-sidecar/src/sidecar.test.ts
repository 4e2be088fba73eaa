import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as native from "@ku0/native-tokenizer";
import { describe, expect, it } from "vitest";
import {
  readState,
  SIDECAR_VERSION,
  SidecarClient,
  type SidecarOptions,
  SidecarSymbolIndexes,
  SidecarTokenizer,
  type TruncateMode,
} from "./index.js";
import { pidAlive } from "./paths.js";
import { daemonFixtures, waitDead } from "./testing/daemons.js";

const { clients, freshDir } = daemonFixtures("ku0sc-");

function client(opts: SidecarOptions = {}): SidecarClient {
  const c = new SidecarClient({ connectTimeoutMs: 20_000, ...opts });
  clients.push(c);
  return c;
}

/** Small generated corpus: ASCII prose, code, CJK, emoji, whitespace runs, long repeats, a lone surrogate. */
function corpus(): string[] {
  const out = [
    "",
    "hello world",
    "The quick brown fox jumps over the lazy dog. ".repeat(40),
    'fn main() {\n    println!("{}", 1 + 2);\n}\n',
    "日本語のテキストと中文文本",
    "emoji 🎉👩‍👩‍👧 mixed",
    "   \n\n\t  spaces   ",
    "<|endoftext|> is plain text here",
    "lone \ud800 surrogate",
  ];
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 20; i++) {
    let s = "";
    const n = rand() % 400;
    for (let j = 0; j < n; j++) s += String.fromCodePoint(32 + (rand() % 0x2ff));
    out.push(s);
  }
  return out;
}

const MODELS = [undefined, "gpt-4o", "gpt-4", "p50k_base", "r50k_base", "o200k_base", "unknown-model"];

// In-process reference: @ku0/native-tokenizer in its default mode (the N-API binding when built, which
// `pnpm test` does first; its exact JS fallback otherwise). The backend is in the suite name.
describe(`tokenizer through the sidecar equals in-process @ku0/native-tokenizer (${native.status().active})`, () => {
  const dir = freshDir();
  const tok = () => new SidecarTokenizer(client({ dir }));
  const texts = corpus();

  describe.each(MODELS)("model %s", (model) => {
    it("countTokens / countTokensAsync / countTokensBatch", async () => {
      const t = tok();
      const want = texts.map((x) => native.countTokens(x, model));
      const got = await Promise.all(texts.map((x) => t.countTokens(x, model)));
      expect(got).toEqual(want);
      expect(await t.countTokensAsync(texts[2] ?? "", model)).toBe(want[2]);
      expect(await t.countTokensBatch(texts, model)).toEqual(native.countTokensBatch(texts, model));
    });

    it.each(["head", "tail", "head_tail"] as TruncateMode[])("truncateText %s", async (mode) => {
      const t = tok();
      for (const text of texts) {
        for (const max of [0, 1, 7, 50]) {
          const want = native.truncateText(text, max, { mode, model });
          expect(await t.truncateText(text, max, { mode, model })).toEqual(want);
        }
      }
    });
  });

  it("planCompressContext, zstd, payloads and cache stats equal the in-process package", async () => {
    const t = tok();
    const history = texts.map((content, i) => ({
      role: (i % 3 === 0 ? "user" : "assistant") as "user",
      content,
      ...(i % 5 === 1 ? { toolCalls: [{ id: `c${i}`, name: "read", arguments: { i } }] } : {}),
      ...(i % 5 === 2 ? { toolResults: [{ callId: `c${i - 1}`, result: { ok: i } }] } : {}),
    }));
    const planMsgs = history.map((m) => ({
      content: m.content,
      ...(m.toolCalls
        ? { callIds: m.toolCalls.map((c) => c.id), callNames: m.toolCalls.map((c) => c.name) }
        : {}),
      ...(m.toolResults
        ? { results: m.toolResults.map((r) => ({ callId: r.callId, json: JSON.stringify(r.result) })) }
        : {}),
    }));
    for (const [max, preserve] of [
      [100_000, 3],
      [800, 3],
      [300, 0],
      [60, 1],
    ] as const) {
      const want = native.planCompressContext(history, max, preserve, "gpt-4o");
      const got = await t.planCompressContext(planMsgs, max, preserve, "gpt-4o");
      expect(got.selectedIndices).toEqual(want.selectedIndices);
      expect(got.truncatedIndex ?? null).toEqual(want.truncatedIndex ?? null);
      expect(got.truncatedContent ?? null).toEqual(want.truncatedContent ?? null);
      expect([got.totalTokens, got.inputTokens]).toEqual([want.totalTokens, want.inputTokens]);
    }
    if (native.status().active === "native") {
      const data = Buffer.from(texts.join("\n"));
      const frame = await t.zstdCompress(data, 7);
      expect(frame.equals(native.zstdCompress(data, 7))).toBe(true);
      expect((await t.zstdDecompress(frame)).equals(data)).toBe(true);
      await expect(t.zstdDecompress(frame, 1)).rejects.toMatchObject({ grpcCode: 3 });
      const json = Buffer.from(JSON.stringify(history));
      const p = await t.compressPayloadBytes(json, 64, 3);
      const want = native.compressPayloadZstd(history, 64, 3);
      expect(p && Buffer.from(p.data).equals(Buffer.from(want?.data ?? []))).toBe(true);
      expect(p?.originalBytes).toBe(want?.originalBytes);
      expect((await t.decompressPayload(p?.data ?? new Uint8Array()))?.equals(json)).toBe(true);
      expect(await t.decompressPayload(Buffer.from("garbage"))).toBeNull();
      expect(await t.compressPayloadBytes(Buffer.from("{}"), 2048, 3)).toBeNull();
    }
    await t.clearCountCache();
    const long = "a text long enough for the content cache ".repeat(4);
    await t.countTokens(long);
    await t.countTokens(long);
    const stats = await t.countCacheStats();
    expect(stats.hits).toBeGreaterThanOrEqual(1);
    expect(stats.entries).toBeGreaterThanOrEqual(1);
    await t.setCountCacheCapacity(100);
    expect((await t.countCacheStats()).capacity).toBe(200);
  });

  it("rejects bad arguments with typed errors before any call", async () => {
    const t = tok();
    await expect(t.planCompressContext([{ content: 1 as unknown as string }], 10, 0)).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    await expect(t.planCompressContext([], -1, 0)).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_KU0_/),
    });
    await expect(t.zstdCompress("x" as unknown as Uint8Array)).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    await expect(t.setCountCacheCapacity(1.5)).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_KU0_/),
    });
    await expect(t.countTokens(42 as unknown as string)).rejects.toMatchObject({
      code: "ERR_KU0_INVALID_ARG",
    });
    await expect(t.truncateText("x", -1)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_KU0_/) });
    await expect(t.truncateText("x", 1, { mode: "middle" as TruncateMode })).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_KU0_/),
    });
  });
});

describe("daemon lifecycle", () => {
  it("spawns: private dir, 0600 socket, state file; a second client reuses it", async () => {
    const dir = freshDir();
    const a = client({ dir });
    const h = await a.hello();
    expect(h.version).toBe(SIDECAR_VERSION);
    expect(h.services).toContain("ku0.tokenizer.v1.Tokenizer");
    const s = readState(dir);
    expect(s?.pid).toBe(h.pid);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(s?.socket ?? "").mode & 0o777).toBe(0o600);
    const b = client({ dir });
    expect((await b.hello()).pid).toBe(h.pid);
    expect(await new SidecarTokenizer(b).countTokens("shared engine")).toBe(
      native.countTokens("shared engine"),
    );
  });

  it("two clients racing to spawn end up on one daemon", async () => {
    const dir = freshDir();
    const [x, y] = await Promise.all([client({ dir }).hello(), client({ dir }).hello()]);
    expect(x.pid).toBe(y.pid);
  });

  it("a crashed daemon gives a typed error, then the next call respawns; its stale socket is cleaned", async () => {
    const dir = freshDir();
    const c = client({ dir });
    const t = new SidecarTokenizer(c);
    expect(await t.countTokens("before")).toBe(native.countTokens("before"));
    const old = readState(dir);
    expect(old).toBeDefined();
    process.kill(old?.pid ?? 0, "SIGKILL");
    expect(await waitDead(old?.pid ?? 0)).toBe(true);
    expect(existsSync(old?.socket ?? "")).toBe(true); // left behind by the crash
    await expect(t.countTokens("during")).rejects.toMatchObject({ code: "ERR_KU0_SIDECAR_UNAVAILABLE" });
    expect(await t.countTokens("after")).toBe(native.countTokens("after"));
    const now = readState(dir);
    expect(now?.pid).not.toBe(old?.pid);
    expect(now?.socket).toBe(old?.socket);
  });

  it("a daemon of another version is shut down and replaced", async () => {
    const dir = freshDir();
    const old = client({
      dir,
      env: { ...process.env, KU0_SIDECAR_TEST_VERSION: "0.0.0-old" },
      expectedVersion: "0.0.0-old",
    });
    const oh = await old.hello();
    expect(oh.version).toBe("0.0.0-old");
    const fresh = client({ dir });
    const nh = await fresh.hello();
    expect(nh.version).toBe(SIDECAR_VERSION);
    expect(nh.pid).not.toBe(oh.pid);
    expect(pidAlive(oh.pid)).toBe(false);
  });

  it("exits after the idle timeout and removes its socket and state", async () => {
    const dir = freshDir();
    const c = client({ dir, idleTimeoutMs: 300 });
    expect(await new SidecarTokenizer(c).countTokens("x")).toBe(1);
    const s = readState(dir);
    expect(await waitDead(s?.pid ?? 0, 10_000)).toBe(true);
    expect(readState(dir)).toBeUndefined();
    expect(existsSync(s?.socket ?? "")).toBe(false);
  });

  it("SIGTERM stops it gracefully (socket and state removed)", async () => {
    const dir = freshDir();
    const h = await client({ dir }).hello();
    const s = readState(dir);
    process.kill(h.pid, "SIGTERM");
    expect(await waitDead(h.pid)).toBe(true);
    expect(readState(dir)).toBeUndefined();
    expect(existsSync(s?.socket ?? "")).toBe(false);
    expect(readFileSync(join(dir, "sidecar.log"), "utf8")).toMatch(/Signal\("SIGTERM"\)/);
  });

  it("shutdownDaemon stops it", async () => {
    const dir = freshDir();
    const c = client({ dir });
    const h = await c.hello();
    await c.shutdownDaemon("test");
    expect(await waitDead(h.pid)).toBe(true);
  });

  it("missing binary is a typed error", async () => {
    const c = client({ dir: freshDir(), binaryPath: "/nonexistent/ku0-sidecar" });
    await expect(c.hello()).rejects.toMatchObject({ code: "ERR_KU0_SIDECAR_BINARY_NOT_FOUND" });
  });
});

describe("symbol index service", () => {
  const sym = (name: string, file: string, extra: object = {}) => ({
    name,
    kind: "Class",
    file,
    line: 1,
    column: 1,
    endLine: 2,
    endColumn: 1,
    ...extra,
  });

  it("two clients share a workspace index through handles; the last close frees it", async () => {
    const dir = freshDir();
    const a = new SidecarSymbolIndexes(client({ dir }));
    const b = new SidecarSymbolIndexes(client({ dir }));
    const ha = await a.open("/repo");
    expect(ha.created).toBe(true);
    expect(ha.handle).toMatch(/^[0-9a-f]{32}$/);
    expect(
      await a.updateFile(ha.handle, "/repo/a.ts", [sym("AuthService", "/repo/a.ts", { detail: "class X" })]),
    ).toEqual({ added: 1, removed: 0 });
    const hb = await b.open("/repo", false);
    expect(hb.created).toBe(false);
    expect(hb.handle).not.toBe(ha.handle);
    const hits = await b.query(hb.handle, "auth", { limit: 20 });
    expect(hits).toStrictEqual([
      {
        symbol: {
          name: "AuthService",
          kind: "Class",
          file: "/repo/a.ts",
          line: 1,
          column: 1,
          endLine: 2,
          endColumn: 1,
          container: undefined,
          detail: "class X",
        },
        score: 8,
      },
    ]);
    expect(await b.stats(hb.handle)).toMatchObject({ symbolCount: 1, fileCount: 1, handles: 2 });
    // another key or an anonymous index does not see it
    const other = await b.open("");
    expect(await b.query(other.handle, "auth", { limit: 20 })).toEqual([]);
    expect(await a.close(ha.handle)).toBe(false);
    await expect(a.query(ha.handle, "auth", { limit: 20 })).rejects.toMatchObject({
      code: "ERR_KU0_SIDECAR_CALL_FAILED",
      grpcCode: 5,
    });
    expect(await b.close(hb.handle)).toBe(true);
    await expect(b.open("/repo", false)).rejects.toMatchObject({ grpcCode: 5 });
  });

  it("a guessed handle is refused; save/load round-trips; bad bytes leave the index", async () => {
    const x = new SidecarSymbolIndexes(client({ dir: freshDir() }));
    await expect(x.stats("0".repeat(32))).rejects.toMatchObject({ grpcCode: 5 });
    const { handle } = await x.open();
    await x.updateFile(handle, "/w/a.ts", [sym("Persisted", "/w/a.ts"), sym("lone\uD800x", "/w/a.ts")]);
    const bytes = await x.save(handle);
    expect(Buffer.from(bytes.subarray(0, 8)).toString()).toBe("KU0SYMIX");
    const other = (await x.open()).handle;
    expect(await x.load(other, bytes)).toEqual({ symbolCount: 2, fileCount: 1 });
    // a lone surrogate crosses as U+FFFD, as through the N-API binding
    expect((await x.query(other, "lone", { limit: 5 }))[0]?.symbol.name).toBe("lone\uFFFDx");
    await expect(x.load(other, bytes.subarray(0, bytes.length - 5))).rejects.toMatchObject({
      grpcCode: 9,
      message: expect.stringContaining("ERR_KU0_INDEX_CORRUPT"),
    });
    expect((await x.stats(other)).symbolCount).toBe(2);
  });
});

describe("contract files", () => {
  const root = join(import.meta.dirname, "..", "..", "..");
  it("the package's proto copy equals proto/ at the repo root", () => {
    const list = (d: string) =>
      (readdirSync(d, { recursive: true }) as string[]).filter((f) => f.endsWith(".proto")).sort();
    const files = list(join(root, "proto"));
    expect(files).toContain(join("ku0", "symbolindex", "v1", "symbolindex.proto"));
    expect(files).toContain(join("ku0", "sandbox", "v1", "sandbox.proto"));
    expect(list(join(import.meta.dirname, "..", "proto"))).toEqual(files);
    for (const f of files) {
      expect(readFileSync(join(import.meta.dirname, "..", "proto", f), "utf8")).toBe(
        readFileSync(join(root, "proto", f), "utf8"),
      );
    }
  });
  it("SIDECAR_VERSION is the workspace crate version", () => {
    const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
    expect(cargo).toContain(`version = "${SIDECAR_VERSION}"`);
  });
});
