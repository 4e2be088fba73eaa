import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { crc32c } from "@ku0/native-loader";
import { afterAll, describe, expect, it } from "vitest";
import { ImportGraph } from "./importGraph.js";
import { INDEX_FORMAT_VERSION } from "./persist.js";
import { SymbolGraph } from "./symbolGraph.js";
import { FILES, importPaths, paths, pick, randomQuery, randomTree, rng, withMode } from "./testing.js";
import type { LspSymbol, SymbolQueryOptions } from "./types.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ku0-symidx-persist-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmpFile = (): string => path.join(dir, `index-${fileNo++}.ku0idx`);

const makers = Object.fromEntries(paths) as Record<"native" | "js", () => SymbolGraph>;

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
  return "no error";
}

/** A graph with random trees, re-updates and removes (so insertion order differs from file order). */
function randomGraph(make: () => SymbolGraph, seed: number): SymbolGraph {
  const r = rng(seed);
  const g = make();
  for (let step = 0; step < 60; step++) {
    const file = r() < 0.5 ? pick(r, FILES) : `/w/gen/${Math.floor(r() * 15)}.ts`;
    if (r() < 0.15) g.removeFile(file);
    else g.updateFileSymbols(file, randomTree(r, file, 2, Math.floor(r() * 8)));
  }
  return g;
}

function answers(g: SymbolGraph, seed: number): unknown[] {
  const r = rng(seed);
  const out: unknown[] = [g.getStats()];
  for (let i = 0; i < 80; i++) {
    const [q, options] = randomQuery(r);
    out.push(g.query(q, options));
    if (i % 10 === 0) out.push(g.query(q, { ...(options as SymbolQueryOptions), fuzzy: true }));
  }
  return out;
}

describe.each(["native", "js"] as const)("save/load on the %s path", (name) => {
  const make = makers[name];

  it("round-trips an empty graph and the worked example", () => {
    const file = tmpFile();
    make().save(file);
    expect(SymbolGraph.load(file).getStats()).toEqual({ symbolCount: 0, fileCount: 0 });
    const g = make();
    const symbols: LspSymbol[] = [
      { name: "AuthService", kind: "Class", file: "/w/a.ts", line: 1, column: 1, endLine: 10, endColumn: 1 },
      {
        name: "login",
        kind: "Method",
        file: "/w/a.ts",
        line: 3,
        column: 3,
        endLine: 3,
        endColumn: 20,
        detail: "\uFEFFlogin(): void 数据 😀",
      },
    ];
    g.updateFileSymbols("/w/a.ts", symbols);
    g.updateFileSymbols("/w/empty.ts", []);
    g.save(file);
    const loaded = withMode(name, () => SymbolGraph.load(file));
    expect(loaded.path).toBe(name);
    expect(loaded.getStats()).toEqual({ symbolCount: 2, fileCount: 2 });
    expect(loaded.query("auth login")).toEqual(g.query("auth login"));
    expect(loaded.query("auth login")).toHaveLength(2);
    expect(loaded.query("login").find((x) => x.symbol.name === "login")?.symbol.detail).toBe(
      "\uFEFFlogin(): void 数据 😀",
    );
    // The loaded graph keeps working: updates and removes.
    loaded.removeFile("/w/a.ts");
    expect(loaded.getStats()).toEqual({ symbolCount: 0, fileCount: 1 });
  });

  it("instance load replaces the contents and leaves the graph unchanged on error", () => {
    const file = tmpFile();
    const a = make();
    a.updateFileSymbols("/w/x.ts", [
      { name: "saved", kind: "Function", file: "/w/x.ts", line: 0, column: 0, endLine: 1, endColumn: 1 },
    ]);
    a.save(file);
    const b = make();
    b.updateFileSymbols("/w/y.ts", [
      { name: "other", kind: "Function", file: "/w/y.ts", line: 0, column: 0, endLine: 1, endColumn: 1 },
    ]);
    expect(errorCode(() => b.load(path.join(dir, "missing.ku0idx")))).toBe("ERR_KU0_INDEX_NOT_FOUND");
    expect(b.query("other")).toHaveLength(1);
    const damaged = tmpFile();
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x10;
    fs.writeFileSync(damaged, bytes);
    expect(errorCode(() => b.load(damaged))).toBe("ERR_KU0_INDEX_CORRUPT");
    expect(b.query("other")).toHaveLength(1);
    expect(b.getStats()).toEqual({ symbolCount: 1, fileCount: 1 });
    b.load(file);
    expect(b.query("other")).toEqual([]);
    expect(b.query("saved")).toEqual(a.query("saved"));
  });

  it("query results after load equal those before save (random symbol sets)", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const g = randomGraph(make, seed);
      const file = tmpFile();
      g.save(file);
      const loaded = withMode(name, () => SymbolGraph.load(file));
      expect(answers(loaded, seed * 31)).toEqual(answers(g, seed * 31));
      // Saving again gives a file that loads to the same answers.
      const again = tmpFile();
      loaded.save(again);
      expect(
        answers(
          withMode(name, () => SymbolGraph.load(again)),
          seed,
        ),
      ).toEqual(answers(g, seed));
    }
  });

  it("damaged, foreign, future-version, empty and missing files are typed errors", () => {
    const g = randomGraph(make, 99);
    const file = tmpFile();
    g.save(file);
    const good = fs.readFileSync(file);
    const load = (bytes: Uint8Array) => () => {
      const f = tmpFile();
      fs.writeFileSync(f, bytes);
      withMode(name, () => SymbolGraph.load(f));
    };
    expect(errorCode(() => SymbolGraph.load(path.join(dir, "nope.ku0idx")))).toBe("ERR_KU0_INDEX_NOT_FOUND");
    expect(errorCode(() => SymbolGraph.load(dir))).toBe("ERR_KU0_INDEX_IO");
    expect(errorCode(load(new Uint8Array(0)))).toBe("ERR_KU0_INDEX_CORRUPT");
    expect(errorCode(load(new TextEncoder().encode('{"symbols": []}')))).toBe("ERR_KU0_INDEX_FOREIGN");
    expect(errorCode(load(fs.readFileSync(new URL(import.meta.url))))).toBe("ERR_KU0_INDEX_FOREIGN");
    for (const cut of [4, 8, 31, 32, 40, good.length >> 1, good.length - 1]) {
      expect([cut, errorCode(load(good.subarray(0, cut)))]).toEqual([cut, "ERR_KU0_INDEX_CORRUPT"]);
    }
    expect(errorCode(load(Buffer.concat([good, Buffer.from([0])])))).toBe("ERR_KU0_INDEX_CORRUPT");
    // Bit flips across the whole file: magic → foreign, anything else → corrupt.
    const r = rng(5);
    for (let i = 0; i < 300; i++) {
      const at = i < 40 ? i : Math.floor(r() * good.length);
      const bytes = Buffer.from(good);
      bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(r() * 8));
      const want = at < 8 ? "ERR_KU0_INDEX_FOREIGN" : "ERR_KU0_INDEX_CORRUPT";
      expect([at, errorCode(load(bytes))]).toEqual([at, want]);
    }
    // A future format version with a valid header checksum.
    const future = Buffer.from(good);
    future.writeUInt32LE(INDEX_FORMAT_VERSION + 1, 8);
    future.writeUInt32LE(crc32c(future, 0, 28), 28);
    expect(errorCode(load(future))).toBe("ERR_KU0_INDEX_VERSION");
    // Nothing was written next to the target by the failed loads; save leaves no temp files.
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("bodies mutated behind valid checksums load or throw ERR_KU0_INDEX_CORRUPT, never anything else", () => {
    const good = Buffer.from(randomGraph(make, 11).toBytes());
    const r = rng(77);
    const outcomes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(good);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) {
        // Bias towards the counts and string lengths at the start of the body.
        const at = r() < 0.5 ? 32 + Math.floor(r() * 64) : 32 + Math.floor(r() * (bytes.length - 32));
        bytes[at] = Math.floor(r() * 256);
      }
      bytes.writeUInt32LE(crc32c(bytes, 32, bytes.length), 24);
      bytes.writeUInt32LE(crc32c(bytes, 0, 28), 28);
      let outcome = "ok";
      try {
        const g = make();
        g.loadBytes(bytes);
        g.query("get user");
        g.getStats();
      } catch (err) {
        outcome = String((err as { code?: unknown }).code);
      }
      expect(["ok", "ERR_KU0_INDEX_CORRUPT"]).toContain(outcome);
      outcomes.add(outcome);
    }
    expect(outcomes.has("ERR_KU0_INDEX_CORRUPT")).toBe(true);
  });

  it("save to an unwritable location is ERR_KU0_INDEX_IO", () => {
    expect(errorCode(() => make().save(path.join(dir, "no-such-dir", "x.ku0idx")))).toBe("ERR_KU0_INDEX_IO");
  });
});

describe("one file format for both paths", () => {
  it("decodes bytes at any buffer offset (unaligned views are copied)", () => {
    const g = randomGraph(makers.js, 4);
    const bytes = g.toBytes();
    for (const offset of [1, 3, 4, 8]) {
      const backing = new Uint8Array(bytes.length + offset);
      backing.set(bytes, offset);
      const view = backing.subarray(offset);
      for (const to of ["native", "js"] as const) {
        const h = makers[to]();
        h.loadBytes(view);
        expect(answers(h, offset)).toEqual(answers(g, offset));
      }
    }
  });

  it("an index saved by either path loads on the other with identical answers", () => {
    for (let seed = 100; seed < 110; seed++) {
      for (const [from, to] of [
        ["native", "js"],
        ["js", "native"],
      ] as const) {
        const g = randomGraph(makers[from], seed);
        const file = tmpFile();
        g.save(file);
        const loaded = withMode(to, () => SymbolGraph.load(file));
        expect(loaded.path).toBe(to);
        expect(answers(loaded, seed)).toEqual(answers(g, seed));
      }
    }
  });

  it("shadow mode loads both indexes from one file", () => {
    const g = randomGraph(makers.native, 7);
    const file = tmpFile();
    g.save(file);
    const shadow = withMode("shadow", () => SymbolGraph.load(file));
    expect(shadow.path).toBe("shadow");
    expect(answers(shadow, 3)).toEqual(answers(g, 3));
  });
});

describe("ImportGraph save/load", () => {
  const importMakers = Object.fromEntries(importPaths) as Record<"native" | "js", () => ImportGraph>;

  function randomImports(make: () => ImportGraph, seed: number): ImportGraph {
    const r = rng(seed);
    const files = Array.from({ length: 40 }, (_, i) => `/w/m${i}.ts`);
    const g = make();
    for (let step = 0; step < 150; step++) {
      const f = pick(r, files);
      if (r() < 0.1) g.removeFile(f);
      else
        g.updateFileImports(
          f,
          Array.from({ length: Math.floor(r() * 5) }, () => pick(r, files)),
        );
    }
    return g;
  }

  function graphAnswers(g: ImportGraph): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      const f = `/w/m${i}.ts`;
      out.push(g.getImports(f), g.getDependents(f), g.getDependents(f, false));
    }
    return out;
  }

  it("round-trips on each path and across paths with identical answers (including order)", () => {
    for (let seed = 1; seed <= 8; seed++) {
      for (const from of ["native", "js"] as const) {
        for (const to of ["native", "js"] as const) {
          const g = randomImports(importMakers[from], seed);
          const file = tmpFile();
          g.save(file);
          const loaded = withMode(to, () => ImportGraph.load(file));
          expect(loaded.path).toBe(to);
          expect(graphAnswers(loaded)).toEqual(graphAnswers(g));
          // Still a working graph after load.
          loaded.updateFileImports("/w/m0.ts", ["/w/m1.ts"]);
          expect(loaded.getImports("/w/m0.ts")).toEqual(["/w/m1.ts"]);
        }
      }
    }
  });

  it("rejects symbol-index files, damaged and missing files with typed errors", () => {
    const g = randomImports(importMakers.js, 3);
    const file = tmpFile();
    g.save(file);
    const symbols = tmpFile();
    makers.js().save(symbols);
    const good = fs.readFileSync(file);
    const load = (bytes: Uint8Array) => () => {
      const f = tmpFile();
      fs.writeFileSync(f, bytes);
      ImportGraph.load(f);
    };
    expect(errorCode(() => ImportGraph.load(symbols))).toBe("ERR_KU0_INDEX_FOREIGN");
    expect(errorCode(() => SymbolGraph.load(file))).toBe("ERR_KU0_INDEX_FOREIGN");
    expect(errorCode(() => ImportGraph.load(path.join(dir, "none")))).toBe("ERR_KU0_INDEX_NOT_FOUND");
    expect(errorCode(load(new Uint8Array(0)))).toBe("ERR_KU0_INDEX_CORRUPT");
    expect(errorCode(load(good.subarray(0, good.length - 3)))).toBe("ERR_KU0_INDEX_CORRUPT");
    const r = rng(9);
    for (let i = 0; i < 100; i++) {
      const at = 8 + Math.floor(r() * (good.length - 8));
      const bytes = Buffer.from(good);
      bytes[at] = (bytes[at] as number) ^ (1 << Math.floor(r() * 8));
      expect([at, errorCode(load(bytes))]).toEqual([at, "ERR_KU0_INDEX_CORRUPT"]);
    }
    const g2 = importMakers.native();
    g2.updateFileImports("/w/a.ts", ["/w/b.ts"]);
    expect(errorCode(() => g2.load(symbols))).toBe("ERR_KU0_INDEX_FOREIGN");
    expect(g2.getDependents("/w/b.ts")).toEqual([path.resolve("/w/a.ts")]);
  });
});
