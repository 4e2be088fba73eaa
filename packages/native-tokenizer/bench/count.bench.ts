// countTokens: ms per 10k tokens, cl100k and o200k, on ~10k-token texts, native vs the JS fallback
// (tiktoken WASM) vs gpt-tokenizer, js-tiktoken and @microsoft/tiktokenizer, plus one count of the whole
// 2 MB mixed corpus. `pnpm bench tokenizer`.
import { defineSuite, type SuiteCase } from "@ku0/bench";
import { jsCount } from "../src/js.js";
import { tokenizerModule } from "../src/native.js";
import { makeText, mixedCorpus2MB, repoText } from "./corpus.js";
import { type Enc, gptTokenizer, jsTiktoken, msTiktokenizer, type Peer } from "./peers.js";

const native = tokenizerModule.requireNative();
const MODEL: Record<Enc, string> = { cl100k_base: "gpt-4", o200k_base: "gpt-4o" };
const STREAM = 400; // distinct texts per "new text" case

function per10k(tokens: number) {
  return { label: "ms/10k tok", scale: (ms: number) => (ms * 10_000) / tokens };
}

export default defineSuite({
  module: "tokenizer",
  title: "tokenizer: countTokens",
  cases: () => {
    const { code } = repoText();
    const hotText = makeText(1, 40_000, code);
    const big = mixedCorpus2MB(code);
    const stream = Array.from({ length: STREAM }, (_, i) => makeText(1000 + i, 40_000, code));
    const cases: SuiteCase[] = [];
    for (const enc of ["cl100k_base", "o200k_base"] as Enc[]) {
      const model = MODEL[enc];
      const peers: Record<string, Peer> = {
        "gpt-tokenizer": gptTokenizer(enc),
        "js-tiktoken": jsTiktoken(enc),
        "@microsoft/tiktokenizer": msTiktokenizer(enc),
      };
      const hotTokens = native.countTokens(hotText, model);
      const streamTokens = stream.reduce((a, t) => a + native.countTokens(t, model), 0) / STREAM;
      // Peers are not exact on every input: they are timed but left out of the equality check;
      // their mismatch counts are reported as extras.
      const peerNames = Object.keys(peers);
      const peerImpls = (f: (p: Peer) => () => number) =>
        Object.fromEntries(Object.entries(peers).map(([n, p]) => [n, f(p)]));
      cases.push({
        name: `${enc} hot (same ${hotTokens}-token text)`,
        impls: {
          native: () => native.countTokens(hotText, model),
          "native (no cache)": () => native.countTokensUncached(hotText, model),
          js: () => jsCount(hotText, enc),
          ...peerImpls((p) => () => p.count(hotText)),
        },
        compare: peerNames,
        unit: per10k(hotTokens),
      });
      // A stream of new texts: every call counts a text no impl has seen in this case (each impl has its
      // own cursor); peers keep their merge caches, as in an agent's life.
      const cursor = () => {
        let i = 0;
        return () => stream[i++ % STREAM] as string;
      };
      const streamImpl = (f: (t: string) => number) => {
        const nextText = cursor();
        return () => f(nextText());
      };
      cases.push({
        name: `${enc} new text (stream of ${STREAM} texts, ~${Math.round(streamTokens)} tokens each)`,
        impls: {
          native: streamImpl((t) => native.countTokensUncached(t, model)),
          js: streamImpl((t) => jsCount(t, enc)),
          ...peerImpls((p) => streamImpl(p.count)),
        },
        compare: peerNames,
        warmup: 0,
        iterations: 40,
        minTimeMs: 0,
        maxIterations: STREAM,
        unit: per10k(streamTokens),
      });
      // The "2 MB mixed corpus" (the zstd bench's corpus): one call over the whole text, no caches
      // on the native side.
      const bigTokens = native.countTokensUncached(big, model);
      cases.push({
        name: `${enc} 2 MB mixed corpus (${(Buffer.byteLength(big) / 1e6).toFixed(2)} MB, ${bigTokens} tokens)`,
        impls: {
          native: () => native.countTokensUncached(big, model),
          js: () => jsCount(big, enc),
          ...peerImpls((p) => () => p.count(big)),
        },
        compare: peerNames,
        warmup: 0,
        iterations: 3,
        minTimeMs: 0,
        maxIterations: 3,
        unit: per10k(bigTokens),
      });
      // Cold: the peers' merge caches cleared before every call (untimed).
      const cold = Object.fromEntries(
        Object.entries(peers)
          .filter(([, p]) => p.clearCache)
          .map(([n, p]) => [n, streamImpl(p.count)]),
      );
      cases.push({
        name: `${enc} cold (new text, peer caches cleared)`,
        impls: { native: streamImpl((t) => native.countTokensUncached(t, model)), ...cold },
        compare: false,
        beforeEach: () => {
          for (const p of Object.values(peers)) p.clearCache?.();
        },
        warmup: 0,
        iterations: 20,
        minTimeMs: 0,
        maxIterations: 40,
        unit: per10k(streamTokens),
      });
    }
    return cases;
  },
  extras: async () => {
    const { code } = repoText();
    const texts = Array.from({ length: 60 }, (_, i) => makeText(5000 + i, 4000, code));
    const { randomText, rng } = await import("../src/testing.js");
    const next = rng(42);
    for (let i = 0; i < 3000; i++) texts.push(randomText(next, 40));
    const out: { name: string; value: number; unit: string; note?: string }[] = [];
    // Memory of a fresh process: before loading, after loading both encodings (one count each).
    const { execFileSync } = await import("node:child_process");
    // The binding file this process loaded (the package dir may also hold other triples' cross builds).
    const source = String(tokenizerModule.status().details?.bindingSource ?? "");
    const node = /^local file (.+\.node)$/.exec(source)?.[1];
    if (node) {
      const script = `const b = require(${JSON.stringify(node)}); const a = process.memoryUsage().rss;
        const t0 = performance.now(); b.countTokens("x", "gpt-4"); const t1 = performance.now(); b.countTokens("x", "gpt-4o");
        const t2 = performance.now(); console.log(JSON.stringify([a, process.memoryUsage().rss, t1 - t0, t2 - t1]));`;
      const [before, after, cl, o] = JSON.parse(
        execFileSync(process.execPath, ["-e", script]).toString(),
      ) as number[];
      out.push({
        name: "RSS of a fresh node process with the binding loaded",
        value: (before ?? 0) / 1e6,
        unit: "MB",
      });
      out.push({ name: "RSS after loading cl100k_base + o200k_base", value: (after ?? 0) / 1e6, unit: "MB" });
      out.push({ name: "first-call load time cl100k_base", value: cl ?? 0, unit: "ms" });
      out.push({ name: "first-call load time o200k_base", value: o ?? 0, unit: "ms" });
    }
    for (const enc of ["cl100k_base", "o200k_base"] as Enc[]) {
      const peers: Record<string, Peer> = {
        native: { count: (t) => native.countTokens(t, MODEL[enc]) },
        "gpt-tokenizer": gptTokenizer(enc),
        "js-tiktoken": jsTiktoken(enc),
        "@microsoft/tiktokenizer": msTiktokenizer(enc),
      };
      for (const [name, p] of Object.entries(peers)) {
        let mismatches = 0;
        for (const t of texts) {
          let n: number;
          try {
            n = p.count(t);
          } catch {
            n = -1;
          }
          if (n !== jsCount(t, enc)) mismatches++;
        }
        out.push({
          name: `${enc}: ${name} count mismatches vs tiktoken`,
          value: mismatches,
          unit: `/ ${texts.length} texts`,
          note: "60 mixed 4 KB texts + 3,000 random strings of every script",
        });
      }
    }
    return out;
  },
});
