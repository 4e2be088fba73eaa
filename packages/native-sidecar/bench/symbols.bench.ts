// Symbol query through the sidecar beside the in-process N-API index (`pnpm bench sidecar`): the same
// 20k-symbol corpus in a native in-process `SymbolGraph`, and in one daemon index reached two ways: the
// async client from this thread (`SidecarSymbolIndexes.query`) and `SymbolGraph` in `sidecar` mode (the
// blocking bridge: a worker does the gRPC call while this thread waits in `Atomics.wait`), which is what
// the runtime's synchronous `SymbolGraph.query` costs through the sidecar. `getStats` is the bridge's
// floor (a reply of two numbers). The daemon runs in the bench process's runtime dir (runtimeDir.ts) and is shut down afterwards.
import { defineSuite, type SuiteCase } from "@ku0/bench";
// Relative source import, not a package dependency: @ku0/native-symbol-index depends (optionally) on this
// package, and a dependency back would make a build cycle.
import { SymbolGraph, symbolIndexModule } from "../../native-symbol-index/src/index.js";
import { sidecarBridge } from "../../native-symbol-index/src/sidecar.js";
import { resolveBinary, SidecarClient, type SidecarSymbol, SidecarSymbolIndexes } from "../src/index.js";
import { benchRuntimeDir } from "./runtimeDir.js";

const dir = benchRuntimeDir; // the bridge's worker (made on first sidecar graph) uses the same daemon
const client = new SidecarClient({ dir });
const indexes = new SidecarSymbolIndexes(client);
const binary = resolveBinary();
const WORKSPACE = "/bench/workspace";

const PARTS = ["get", "set", "user", "auth", "service", "token", "parse", "graph", "index", "cache", "load"];
const KINDS = ["Class", "Method", "Function", "Interface", "Variable"];

/** 2000 files × 10 symbols with camel-case names from PARTS (deterministic). */
function corpus(): Map<string, SidecarSymbol[]> {
  const files = new Map<string, SidecarSymbol[]>();
  let x = 7;
  const next = () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x;
  };
  for (let f = 0; f < 2000; f++) {
    const file = `/bench/workspace/src/m${f}.ts`;
    const syms: SidecarSymbol[] = [];
    for (let i = 0; i < 10; i++) {
      const n = 2 + (next() % 3);
      let name = "";
      for (let k = 0; k < n; k++) {
        const p = PARTS[next() % PARTS.length] as string;
        name += k === 0 ? p : p[0]?.toUpperCase() + p.slice(1);
      }
      syms.push({
        name,
        kind: KINDS[next() % KINDS.length] as string,
        file,
        line: i * 10 + 1,
        column: 1,
        endLine: i * 10 + 9,
        endColumn: 2,
      });
    }
    files.set(file, syms);
  }
  return files;
}

function graphOn(mode: "native" | "sidecar", workspace?: string): SymbolGraph {
  symbolIndexModule.setMode(mode);
  try {
    return new SymbolGraph({ workspace });
  } finally {
    symbolIndexModule.setMode(undefined);
  }
}

let bridged: SymbolGraph | undefined;

export default defineSuite({
  module: "sidecar",
  title: `sidecar: symbol query, in-process N-API vs daemon (${binary.includes("/release/") ? "release" : "debug"} build)`,
  cases: async () => {
    if (symbolIndexModule.status().active !== "native")
      throw new Error("@ku0/native-symbol-index binding not built");
    const files = corpus();
    const local = graphOn("native");
    const { handle } = await indexes.open(WORKSPACE, true);
    for (const [file, syms] of files) {
      local.updateFileSymbols(file, syms);
      await indexes.updateFile(handle, file, syms);
    }
    // Joins the index the async client filled (same workspace key, another handle).
    bridged = graphOn("sidecar", WORKSPACE);
    const symbols = bridged.getStats().symbolCount;
    if (symbols !== local.getStats().symbolCount) throw new Error("sidecar index differs from the local one");
    const cases: SuiteCase[] = [];
    for (const q of ["auth service", "getUserToken"]) {
      cases.push({
        name: `SymbolGraph.query "${q}" (${symbols} symbols, limit 20)`,
        impls: {
          "in-process N-API": () => local.query(q),
          "sidecar, async client": () => indexes.query(handle, q, { limit: 20 }),
          "sidecar, blocking bridge": () => (bridged as SymbolGraph).query(q),
        },
        baseline: "in-process N-API",
        iterations: 1000,
        minTimeMs: 1000,
      });
    }
    cases.push({
      name: "SymbolGraph.getStats (smallest round trip)",
      impls: {
        "in-process N-API": () => local.getStats(),
        "sidecar, async client": () => indexes.stats(handle),
        "sidecar, blocking bridge": () => (bridged as SymbolGraph).getStats(),
      },
      baseline: "in-process N-API",
      compare: ["sidecar, async client"], // its reply also carries heapBytes and handles
      iterations: 2000,
      minTimeMs: 1000,
    });
    return cases;
  },
  teardown: async () => {
    bridged?.close();
    sidecarBridge().call("shutdownDaemon");
    client.close();
  },
});
