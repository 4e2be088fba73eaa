// KU0_TOKENIZER_THREADS is read once per process by the engine, so each value gets a fresh child process.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = existsSync(pkg) && readdirSync(pkg).some((f) => f.endsWith(".node"));
const required = process.env.CI === "true" || process.env.KU0_REQUIRE_NATIVE === "1";
const run = built || required ? describe : describe.skip;

function batchWith(threads: string): { ok?: number[]; code?: string; name?: string } {
  const script = `const b = require(${JSON.stringify(join(pkg, "binding.cjs"))});
    let out;
    try { out = { ok: b.countTokensBatch(["hello world", "x".repeat(100)]) }; }
    catch (e) { out = { code: e.code, name: e.constructor.name }; }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ["-e", script], {
    env: { ...process.env, KU0_TOKENIZER_THREADS: threads },
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

run("KU0_TOKENIZER_THREADS (native batch counts)", () => {
  it.each(["1", "4", " 2 ", "64", ""])("accepts %j", (v) => {
    expect(batchWith(v).ok).toHaveLength(2);
  });
  it.each(["0", "two", "-1", "1.5"])("rejects %j with ERR_KU0_INVALID_FLAG", (v) => {
    expect(batchWith(v)).toEqual({ code: "ERR_KU0_INVALID_FLAG", name: "TypeError" });
  });
});
