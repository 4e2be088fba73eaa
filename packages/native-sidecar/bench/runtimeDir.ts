// One daemon runtime dir for every sidecar suite of a bench process. The blocking bridge (one worker per
// process, made on first use) keeps the $KU0_SIDECAR_DIR it started with, so the suites that reach the daemon
// through it (sandbox, storage, symbol index and tokenizer modes) must all use the same dir: a suite with a
// dir of its own would query another daemon than the one it filled. Each suite shuts its daemon down when
// done (the next one starts a new daemon there); the dir is removed when the process exits.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function runtimeDir(): string {
  const own = process.env.KU0_SIDECAR_DIR;
  if (own) return own;
  const dir = mkdtempSync(join(tmpdir(), "ku0sc-bench-"));
  process.env.KU0_SIDECAR_DIR = dir;
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const benchRuntimeDir: string = runtimeDir();
