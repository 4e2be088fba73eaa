// The benchmark data, shared by log.bench.ts, replay-cpu.ts and checkpoint-cpu.ts (so they measure the same
// data): task-graph events whose payload is padded with pseudo-random words to a target JSON size, and the
// checkpoint states.
import type { Checkpoint, TaskGraphEvent } from "../src/types.js";

/** `n` pseudo-random words, the same for the same `salt`. */
export function words(n: number, salt: number): string {
  const out: string[] = [];
  let x = salt * 2654435761 + 7;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out.push(`w${(x % 50000).toString(36)}`);
  }
  return out.join(" ");
}

/** Event `i`, its JSON about `bytes` long (its payload text cut from `nWords` words). */
function eventOfSize(i: number, bytes: number, nWords: number): TaskGraphEvent {
  const e: TaskGraphEvent = {
    id: `evt-${i}`,
    sequenceId: i,
    eventVersion: 1,
    nodeId: `node-${i % 31}`,
    type: "node_completed",
    timestamp: "2026-01-01T00:00:00.000Z",
    correlationId: `corr-${i % 97}`,
    payload: { i, text: "" },
  };
  const base = JSON.stringify(e).length;
  return { ...e, payload: { i, text: words(nWords, i).slice(0, bytes - base) } };
}

/** Event `i` of about 1 KB of JSON. */
export function event1k(i: number): TaskGraphEvent {
  return eventOfSize(i, 1024, 200);
}

/** Event `i` of about 380 B of JSON (the replay row). */
export function event380(i: number): TaskGraphEvent {
  return eventOfSize(i, 380, 80);
}

/** Checkpoint state of `step`: 240 + step messages of ~4 KB (~1 MB), one more per step. */
export function checkpointState(step: number): Checkpoint {
  const messages = Array.from({ length: 240 + step }, (_, i) => ({
    role: (i % 2 ? "assistant" : "user") as "user" | "assistant",
    content: words(560, i),
    timestamp: 1_700_000_000_000 + i,
  }));
  return {
    id: `ck-${step}`,
    version: 1,
    createdAt: 1_700_000_000_000 + step,
    task: "bench task",
    agentType: "coder",
    agentId: "agent-bench",
    status: "running",
    messages,
    pendingToolCalls: [],
    completedToolCalls: [],
    currentStep: step,
    maxSteps: 1000,
    metadata: { step },
    childCheckpointIds: [],
  };
}

/**
 * Save `n` of the checkpoint benches: 48 ~0.7 MB states built once (untimed, when this is called); save
 * `n` is state `n % 48` under a fresh id and step.
 */
export function checkpointStates(): (n: number) => Checkpoint {
  const states = Array.from({ length: 48 }, (_, i) => checkpointState(i + 1));
  return (n) => ({
    ...(states[(n - 1) % states.length] as Checkpoint),
    id: `ck-${n}`,
    currentStep: n,
    createdAt: 1_700_000_000_000 + n,
  });
}
