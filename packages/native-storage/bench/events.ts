// The benchmark events, shared by log.bench.ts and replay-cpu.ts (so both replay the same data):
// task-graph events whose payload is padded with pseudo-random words to a target JSON size.
import type { TaskGraphEvent } from "../src/types.js";

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
