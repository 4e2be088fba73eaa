// KU0_TOKENIZER_THREADS is read once per process by the engine, so each value gets a fresh child process.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { platformTriple } from "@ku0/native-loader";
import { describe, expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = existsSync(join(pkg, `ku0-tokenizer.${platformTriple()}.node`));
const required = process.env.CI === "true" || process.env.KU0_REQUIRE_NATIVE === "1";
const run = built || required ? describe : describe.skip;

/** `countTokensBatch` in a child process with `KU0_TOKENIZER_THREADS=threads`, on the raw binding or the built adapter. */
function batchWith(
  threads: string,
  via: "binding" | "adapter",
): { ok?: number[]; code?: string; typeError?: boolean; message?: string } {
  const load =
    via === "binding"
      ? `const b = require(${JSON.stringify(join(pkg, "binding.cjs"))}); const count = (t) => b.countTokensBatch(t);`
      : `const { countTokensBatch: count } = await import(${JSON.stringify(pathToFileURL(join(pkg, "dist", "index.js")).href)});`;
  const script = `${load}
    let out;
    try { out = { ok: count(["hello world", "x".repeat(100)]) }; }
    catch (e) { out = { code: e.code, typeError: e instanceof TypeError, message: e.message }; }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ["--input-type=commonjs", "-e", `(async () => { ${script} })()`], {
    env: { ...process.env, KU0_TOKENIZER_THREADS: threads, KU0_NATIVE_TOKENIZER: "native" },
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

run("KU0_TOKENIZER_THREADS (native batch counts)", { timeout: 60_000 }, () => {
  it.each(["1", "4", " 2 ", "64", ""])("accepts %j", (v) => {
    expect(batchWith(v, "binding").ok).toHaveLength(2);
  });
  it.each(["0", "two", "-1", "1.5"])("rejects %j with ERR_KU0_INVALID_FLAG", (v) => {
    const r = batchWith(v, "binding");
    expect(r.code).toBe("ERR_KU0_INVALID_FLAG");
    expect(r.message).toContain(`KU0_TOKENIZER_THREADS=${JSON.stringify(v)}`);
  });
  // The adapter turns the binding's coded error into a Ku0TypeError (docs/flags.md); needs dist/ (the build).
  it.skipIf(!existsSync(join(pkg, "dist", "index.js")) && !required)(
    "the adapter throws it as a TypeError with the code",
    () => {
      expect(batchWith("two", "adapter")).toMatchObject({ code: "ERR_KU0_INVALID_FLAG", typeError: true });
      expect(batchWith("2", "adapter").ok).toHaveLength(2);
    },
  );
});
