// The storage part of tools/consumer/smoke.mjs, run by the foreign Node in the fresh project, except that a
// failure to remove the temporary directory afterwards is reported (`cleanup`) instead of thrown: on Windows
// that is how a file handle left open after close() shows. `node storage.mjs`; prints one JSON line.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const st = await import("@ku0/native-storage");
const dir = mkdtempSync(join(tmpdir(), "ku0-cross-storage-"));
const out = { module: "storage" };
const log = new st.EventLog(join(dir, "log"));
for (let i = 0; i < 5; i++) {
  log.append({
    id: `e${i}`,
    sequenceId: 0,
    eventVersion: 1,
    nodeId: "n1",
    type: "node.updated",
    timestamp: "2026-01-01T00:00:00.000Z",
    payload: { i },
  });
}
await log.flush();
const replayed = log.replay(2);
log.close();
const cps = new st.CheckpointStorage(join(dir, "cp"));
const checkpoint = {
  id: "cp-1",
  version: 1,
  createdAt: 1700000000000,
  task: "t",
  agentType: "coder",
  agentId: "a1",
  status: "completed",
  messages: [{ role: "user", content: "hi", timestamp: 1 }],
  pendingToolCalls: [],
  completedToolCalls: [],
  currentStep: 1,
  maxSteps: 5,
  metadata: { k: "v" },
  childCheckpointIds: [],
};
await cps.save(checkpoint);
const loaded = await cps.load("cp-1");
out.backends = { log: log.backend, checkpoints: cps.backend };
cps.close();
out.answers = { replayed: replayed.map((e) => [e.id, e.sequenceId, e.payload]), loaded };
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
