import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runHostile } from "@ku0/native-loader/testing";
import { describe, expect, it } from "vitest";

const bindingPath = join(dirname(fileURLToPath(import.meta.url)), "..", "binding.cjs");

describe("raw symbol-index binding under hostile arguments (child process)", () => {
  it("import-graph ids near 2^32 and huge arrays are typed errors, not aborts", () => {
    const r = runHostile(
      bindingPath,
      `const g = new b.NativeImportGraph();
       await call("id near 2^32", () => g.updateFileImports(2 ** 32 - 2, new Uint32Array(0)));
       await call("import id near 2^32", () => g.updateFileImports(0, Uint32Array.of(2 ** 32 - 1)));
       await call("dense", () => g.updateFileImports(0, Uint32Array.of(1, 2)));
       await call("unknown id query", () => g.getDependents(2 ** 32 - 1, true));
       const s = new b.SymbolIndex();
       await call("descriptors", () => s.updateFile("/a.ts", sparse()));
       await call("kinds", () => s.query("a", { kinds: sparse() }));
       const n = new b.NativeSymbolGraph();
       await call("packed kinds", () => n.queryPacked("a", 5, sparse(), false));
       await call("foreign bytes", () => b.NativeSymbolGraph.fromBytes(Buffer.from("{}")));
       await call("corrupt bytes", () => b.NativeSymbolGraph.fromBytes(Buffer.from("KU0S")));
       await call("packed lengths", () => n.updateFilePacked("/a.ts", Uint8Array.of(97, 98, 99), Uint32Array.of(1, 1, 1, 1), new Float64Array(4)));`,
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(Object.fromEntries(r.results)).toEqual({
      "id near 2^32": "ERR_KU0_INVALID_ARG",
      "import id near 2^32": "ERR_KU0_INVALID_ARG",
      dense: "no error",
      "unknown id query": "no error",
      descriptors: "ERR_KU0_INVALID_ARG",
      kinds: "ERR_KU0_INVALID_ARG",
      "packed kinds": "ERR_KU0_INVALID_ARG",
      "foreign bytes": "ERR_KU0_INDEX_FOREIGN",
      "corrupt bytes": "ERR_KU0_INDEX_CORRUPT",
      "packed lengths": "ERR_KU0_INVALID_ARG",
    });
  });
});
