// Time of the binding's protectedPaths (the carve-out list, nested-repository search included) for
// each root given, three runs each (the first may pay a cold directory cache).
// Usage: node packages/native-sandbox/bench/nested-discovery.mjs <root>...
import { createRequire } from "node:module";

const binding = createRequire(import.meta.url)(new URL("../binding.cjs", import.meta.url).pathname);
for (const root of process.argv.slice(2)) {
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    const list = binding.protectedPaths([root]);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(JSON.stringify({ root, run: i + 1, entries: list.length, ms: Math.round(ms * 10) / 10 }));
  }
}
