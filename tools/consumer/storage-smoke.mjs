// The storage smoke both consumer checks run (tools/consumer/smoke.mjs and, in the foreign Node,
// tools/release/cross-smoke/storage.mjs): five events appended, flushed and replayed from 2, one
// checkpoint saved and loaded, both stores closed. Copied beside them into the fresh project.
import { join } from "node:path";

/**
 * Runs the storage smoke in `dir` with the loaded `@ku0/native-storage` module `st`; returns the
 * answers native and js must agree on and the backend each store used.
 */
export async function storageSmoke(st, dir) {
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
  const backends = { log: log.backend, checkpoints: cps.backend };
  cps.close();
  return { answers: { replayed: replayed.map((e) => [e.id, e.sequenceId, e.payload]), loaded }, backends };
}
