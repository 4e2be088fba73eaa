// Per-call cost of #[guard]'s argument wrapping (ku0_napi_boundary::Arg), A/B between two builds of the
// same binding: `node crates/napi-boundary/bench/arg-overhead.cjs <before.node> <after.node> [rounds]`
// (symbol-index binding; e.g. a copy of the .node built before the change, and the current one).
// Alternates the two builds round by round (ABAB…) so machine load hits both alike, and prints the
// median ns/call of each export per build over the rounds, plus the after/before ratio. Time is this
// process's CPU time (user + system, `process.cpuUsage`), not wall time, so a loaded machine that
// takes the CPU away between calls does not count against either build.
"use strict";
const [before, after, roundsArg] = process.argv.slice(2);
if (!before || !after) {
  console.error("usage: arg-overhead.cjs <before.node> <after.node> [rounds]");
  process.exit(2);
}
const rounds = Number(roundsArg ?? 9);
const load = (p) => {
  const m = { exports: {} };
  process.dlopen(m, require("node:path").resolve(p));
  return m.exports;
};
const builds = { before: load(before), after: load(after) };

/** name → (binding) → a function doing one call (successful, arguments of every wrapped kind). */
const cases = {
  "normalizeToken(string)": (b) => () => b.normalizeToken("HelloWorld"),
  "localeCompare(string, string)": (b) => () => b.localeCompare("alpha", "beta"),
  "ImportGraph.updateFileImports(u32, Uint32Array)": (b) => {
    const g = new b.NativeImportGraph();
    const imports = new Uint32Array([1, 2]);
    return () => g.updateFileImports(0, imports);
  },
  "SymbolGraph.queryPacked(string, f64, Option<List>, Option<bool>)": (b) => {
    const g = new b.NativeSymbolGraph();
    return () => g.queryPacked("x", 5, undefined, true);
  },
};

const N = 200_000;
function time(fn) {
  for (let i = 0; i < 20_000; i++) fn(); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn();
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / N;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const results = {};
for (const [name, make] of Object.entries(cases)) {
  const fns = { before: make(builds.before), after: make(builds.after) };
  const ns = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 ? ["after", "before"] : ["before", "after"]) ns[side].push(time(fns[side]));
  }
  results[name] = { before: median(ns.before), after: median(ns.after) };
  const { before: b, after: a } = results[name];
  console.log(
    `${name.padEnd(62)} before ${b.toFixed(1)} ns  after ${a.toFixed(1)} ns  ratio ${(a / b).toFixed(3)}`,
  );
}
