// The CommonJS entries: `require()` every package from a fresh project and use it once.
const assert = require("node:assert");
const loader = require("@ku0/native-loader");
const tokenizer = require("@ku0/native-tokenizer");
const symbolIndex = require("@ku0/native-symbol-index");
const storage = require("@ku0/native-storage");
const sandbox = require("@ku0/native-sandbox");
const sidecar = require("@ku0/native-sidecar");

assert.strictEqual(typeof loader.defineNativeModule, "function");
assert.strictEqual(tokenizer.countTokens("hello world", "gpt-4"), 2);
const g = new symbolIndex.SymbolGraph();
g.updateFileSymbols("a.ts", [
  { name: "fooBar", kind: "function", file: "a.ts", line: 1, column: 0, endLine: 2, endColumn: 1 },
]);
assert.strictEqual(g.query("foo")[0].symbol.name, "fooBar");
assert.strictEqual(storage.crc32c(Buffer.from("123456789")), 0xe3069283);
assert.strictEqual(typeof sandbox.NativeBashExecutor, "function");
assert.strictEqual(typeof sidecar.SidecarClient, "function");
assert.strictEqual(typeof sidecar.resolveBinary, "function");
const statuses = [tokenizer.status(), symbolIndex.status(), storage.storageStatus(), sandbox.status()].map(
  (s) => [s.module, s.active, s.version],
);
console.log(JSON.stringify(statuses));
