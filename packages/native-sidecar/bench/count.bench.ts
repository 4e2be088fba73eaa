// Sidecar call latency: countTokens through the ku0-sidecar daemon (gRPC over a Unix socket, one warm
// daemon) beside the in-process N-API binding of @ku0/native-tokenizer (sync and async). `pnpm bench sidecar`.
// Uses target/release/ku0-sidecar when built (`pnpm --filter @ku0/native-sidecar build`), else the debug one
// (the JSON records which). The daemon runs in a temp runtime dir and is shut down afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineSuite, type SuiteCase } from "@ku0/bench";
import * as native from "@ku0/native-tokenizer";
import { resolveBinary, SidecarClient, SidecarTokenizer } from "../src/index.js";
import { text } from "./text.js";

const dir = mkdtempSync(join(tmpdir(), "ku0sc-bench-"));
const client = new SidecarClient({ dir });
const sidecar = new SidecarTokenizer(client);
const binary = resolveBinary();

export default defineSuite({
  module: "sidecar",
  title: `sidecar: countTokens latency, daemon ${binary.includes("/release/") ? "release" : "debug"} build`,
  cases: async () => {
    if (native.status().active !== "native") throw new Error("@ku0/native-tokenizer binding not built");
    await client.hello(); // spawn before timing
    const cases: SuiteCase[] = [];
    for (const [label, words] of [
      ["short (~12 words)", 12],
      ["medium (~2k words)", 2000],
    ] as const) {
      const t = text(words, words);
      cases.push({
        name: `countTokens ${label}, gpt-4o, content cache warm`,
        impls: {
          "in-process N-API": () => native.countTokens(t, "gpt-4o"),
          "in-process N-API async": () => native.countTokensAsync(t, "gpt-4o"),
          sidecar: () => sidecar.countTokens(t, "gpt-4o"),
        },
        baseline: "in-process N-API",
        iterations: 2000,
        minTimeMs: 1000,
      });
    }
    return cases;
  },
  teardown: async () => {
    await client.shutdownDaemon("bench done");
    client.close();
    rmSync(dir, { recursive: true, force: true });
  },
});
