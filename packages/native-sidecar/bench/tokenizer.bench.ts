// The cost of KU0_NATIVE_TOKENIZER=sidecar per member (`pnpm bench sidecar`): each public member of
// @ku0/native-tokenizer in `native` mode (in-process N-API) beside the same call in `sidecar` mode (the
// blocking bridge: a worker makes the gRPC call while this thread waits in `Atomics.wait`; async members
// use the worker without blocking), and the async client from this thread (no bridge) so the bridge's own
// share is visible. Same inputs, same answers (checked once before timing). The daemon is the process's
// bridge daemon (its runtime dir: $KU0_SIDECAR_DIR if an earlier suite set it, else a temp dir), shut
// down afterwards.
import { defineSuite, type SuiteCase } from "@ku0/bench";
import * as tok from "@ku0/native-tokenizer";
import { resolveBinary, SidecarClient, SidecarTokenizer } from "../src/index.js";
import { benchRuntimeDir } from "./runtimeDir.js";
import { text } from "./text.js";

const dir = benchRuntimeDir;
const client = new SidecarClient({ dir });
const direct = new SidecarTokenizer(client);
const binary = resolveBinary();

function on<R>(mode: "native" | "sidecar", f: () => R): R {
  tok.tokenizerModule.setMode(mode);
  try {
    return f();
  } finally {
    tok.tokenizerModule.setMode(undefined);
  }
}

function same(a: unknown, b: unknown, what: string): void {
  const norm = (v: unknown) =>
    JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString("base64") : x));
  if (norm(a) !== norm(b)) throw new Error(`${what}: sidecar and in-process answers differ`);
}

export default defineSuite({
  module: "sidecar",
  title: `sidecar: @ku0/native-tokenizer members, in-process N-API vs sidecar mode (${binary.includes("/release/") ? "release" : "debug"} daemon)`,
  cases: async () => {
    if (tok.status().active !== "native") throw new Error("@ku0/native-tokenizer binding not built");
    await client.hello(); // spawn before timing
    const short = text(12, 12);
    const batch = Array.from({ length: 50 }, (_, i) => text(40, i + 1));
    const long = text(2000, 7);
    const history = Array.from({ length: 60 }, (_, i) => ({
      role: (i % 2 === 0 ? "user" : "assistant") as "user",
      content: text(60 + (i % 7) * 20, i + 100),
    }));
    const payload = Buffer.from(text(8000, 3)); // ~50 KB
    const frame = on("native", () => tok.zstdCompress(payload));

    const pairs: [string, () => unknown][] = [
      ["countTokens", () => tok.countTokens(short, "gpt-4o")],
      ["countTokensBatch", () => tok.countTokensBatch(batch, "gpt-4o")],
      ["truncateText", () => tok.truncateText(long, 200, { mode: "head_tail", model: "gpt-4o" })],
      ["compressContext", () => tok.compressContext(history, 2000, 4, "gpt-4o")],
      ["zstdCompress", () => tok.zstdCompress(payload)],
      ["zstdDecompress", () => tok.zstdDecompress(frame)],
    ];
    for (const [name, f] of pairs) same(on("sidecar", f), on("native", f), name);

    const cases: SuiteCase[] = [
      {
        name: "countTokens ~12 words, gpt-4o, cache warm",
        impls: {
          "in-process N-API": () => on("native", () => tok.countTokens(short, "gpt-4o")),
          "sidecar mode (blocking bridge)": () => on("sidecar", () => tok.countTokens(short, "gpt-4o")),
          "sidecar async client (no bridge)": () => direct.countTokens(short, "gpt-4o"),
        },
      },
      {
        name: "countTokensAsync ~12 words, gpt-4o",
        impls: {
          "in-process N-API": () => on("native", () => tok.countTokensAsync(short, "gpt-4o")),
          "sidecar mode (bridge worker, async)": () =>
            on("sidecar", () => tok.countTokensAsync(short, "gpt-4o")),
        },
      },
      {
        name: "countTokensBatch 50 × ~40 words, cache warm",
        impls: {
          "in-process N-API": () => on("native", () => tok.countTokensBatch(batch, "gpt-4o")),
          "sidecar mode (blocking bridge)": () => on("sidecar", () => tok.countTokensBatch(batch, "gpt-4o")),
        },
      },
      {
        name: "truncateText ~2k words to 200, head_tail",
        impls: {
          "in-process N-API": () =>
            on("native", () => tok.truncateText(long, 200, { mode: "head_tail", model: "gpt-4o" })),
          "sidecar mode (blocking bridge)": () =>
            on("sidecar", () => tok.truncateText(long, 200, { mode: "head_tail", model: "gpt-4o" })),
        },
      },
      {
        name: "compressContext 60 messages to 2000 tokens",
        impls: {
          "in-process N-API": () => on("native", () => tok.compressContext(history, 2000, 4, "gpt-4o")),
          "sidecar mode (blocking bridge)": () =>
            on("sidecar", () => tok.compressContext(history, 2000, 4, "gpt-4o")),
        },
      },
      {
        name: `zstdCompress ${payload.length} B, level 3`,
        impls: {
          "in-process N-API": () => on("native", () => tok.zstdCompress(payload)),
          "sidecar mode (blocking bridge)": () => on("sidecar", () => tok.zstdCompress(payload)),
        },
      },
      {
        name: `zstdDecompress to ${payload.length} B`,
        impls: {
          "in-process N-API": () => on("native", () => tok.zstdDecompress(frame)),
          "sidecar mode (blocking bridge)": () => on("sidecar", () => tok.zstdDecompress(frame)),
        },
      },
    ];
    return cases.map((c) => ({ ...c, baseline: "in-process N-API", iterations: 1000, minTimeMs: 800 }));
  },
  teardown: async () => {
    const fellBack = on("sidecar", () => tok.status().details?.sidecar);
    on("sidecar", () => tok.clearTokenCache()); // one more bridged call: proves the bridge is alive
    await client.shutdownDaemon("bench done");
    client.close();
    if (fellBack && (fellBack as { fallbackCalls?: number }).fallbackCalls)
      throw new Error(`sidecar calls fell back in process during the bench: ${JSON.stringify(fellBack)}`);
  },
});
