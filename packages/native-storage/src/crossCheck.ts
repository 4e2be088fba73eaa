// Cross-path verification of a root: what storage offers instead of a shadow mode. Reads every event
// and every indexed checkpoint once through the native engine and once through the JS fallback and
// reports any difference.
import { checkOptionalString, checkOptions, deepEqual } from "@ku0/native-loader";
import { StorageEngine } from "./engine.js";
import type { Backend } from "./eventLog.js";
import { RustCheckpointStorage } from "./rustCheckpointStorage.js";
import type { Checkpoint } from "./types.js";
import { checkDir } from "./validate.js";

export interface CrossCheckResult {
  rootDir: string;
  events: number;
  checkpoints: number;
  /** One line per difference (`event at position 12: …`, `checkpoint "k1": …`); empty when both agree. */
  mismatches: string[];
}

interface Snapshot {
  events: Uint8Array[];
  checkpoints: Map<string, Checkpoint | null>;
}

async function snapshot(rootDir: string, backend: Backend, indexFileName: string): Promise<Snapshot> {
  const engine = new StorageEngine(rootDir, { backend });
  try {
    const events = engine.replayEvents(0n);
    const store = new RustCheckpointStorage({ rootDir, engine, indexFileName });
    const checkpoints = new Map<string, Checkpoint | null>();
    for (const row of await store.list()) checkpoints.set(row.id, await store.load(row.id));
    return { events, checkpoints };
  } finally {
    engine.close();
  }
}

/**
 * Reads `rootDir` (a `StorageEngine` root, e.g. after `ku0-storage-import`) on both backends and
 * compares every event payload and every checkpoint. Needs the native binding; the root must not be
 * open elsewhere. A record either path cannot read throws its typed error.
 */
export async function crossCheckRoot(
  rootDir: string,
  options: { indexFileName?: string } = {},
): Promise<CrossCheckResult> {
  checkDir(rootDir, "rootDir");
  const o = checkOptions<{ indexFileName?: string }>(options, "options");
  const indexFileName = checkOptionalString(o.indexFileName, "options.indexFileName") ?? "index.json";
  const n = await snapshot(rootDir, "native", indexFileName);
  const j = await snapshot(rootDir, "js", indexFileName);
  const mismatches: string[] = [];
  if (n.events.length !== j.events.length)
    mismatches.push(`event count: native ${n.events.length}, js ${j.events.length}`);
  for (let i = 0; i < Math.min(n.events.length, j.events.length); i++)
    if (!deepEqual(n.events[i], j.events[i])) mismatches.push(`event at position ${i}: payloads differ`);
  for (const id of new Set([...n.checkpoints.keys(), ...j.checkpoints.keys()]))
    if (!deepEqual(n.checkpoints.get(id), j.checkpoints.get(id)))
      mismatches.push(`checkpoint ${JSON.stringify(id)}: native and js differ`);
  return { rootDir, events: n.events.length, checkpoints: n.checkpoints.size, mismatches };
}
