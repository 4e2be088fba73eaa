// The storage smoke of tools/consumer/smoke.mjs (tools/consumer/storage-smoke.mjs, copied beside this
// file), run by the foreign Node in the fresh project, except that a failure to remove the temporary
// directory afterwards is reported (`cleanup`) instead of thrown: on Windows that is how a file handle
// left open after close() shows. `node storage.mjs`; prints one JSON line.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageSmoke } from "./storage-smoke.mjs";

const st = await import("@ku0/native-storage");
const dir = mkdtempSync(join(tmpdir(), "ku0-cross-storage-"));
const out = { module: "storage" };
const { answers, backends } = await storageSmoke(st, dir);
out.backends = backends;
out.answers = answers;
out.status = st.storageStatus();
try {
  rmSync(dir, { recursive: true, force: true });
  out.cleanup = "ok";
} catch (e) {
  const left = [];
  for (const sub of ["log", "cp"]) {
    try {
      for (const f of readdirSync(join(dir, sub))) left.push(`${sub}/${f}`);
    } catch {}
  }
  out.cleanup = `${e.code ?? e.message}; left after close(): ${left.join(", ")}`;
}
console.log(JSON.stringify(out));
