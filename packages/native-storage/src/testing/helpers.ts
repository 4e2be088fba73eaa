import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Checkpoint, TaskGraphEvent } from "../types.js";

const require = createRequire(import.meta.url);

/** True when the compiled binding is present and loads (the native half of each suite needs it). */
export function nativeAvailable(): boolean {
  try {
    const b = require("../../binding.cjs") as { selfCheck(): number };
    return b.selfCheck() === 0xe3069283;
  } catch {
    return false;
  }
}

/** Backends to run conformance suites against; CI requires native (KU0_REQUIRE_NATIVE=1 or CI=true). */
export function backends(): ["native" | "js"][] {
  const required = process.env.CI === "true" || process.env.KU0_REQUIRE_NATIVE === "1";
  if (nativeAvailable() || required) return [["native"], ["js"]];
  return [["js"]];
}

const made: string[] = [];
export function tmp(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `ku0-storage-${tag}-`));
  made.push(d);
  return d;
}

export function cleanup(): void {
  for (const d of made.splice(0)) if (existsSync(d)) rmSync(d, { recursive: true, force: true });
}

export function event(i: number, extra = ""): TaskGraphEvent {
  return {
    id: `evt-${i}`,
    sequenceId: i,
    eventVersion: 1,
    nodeId: `node-${i % 7}`,
    type: i % 3 === 0 ? "node_started" : "node_completed",
    timestamp: new Date(1_700_000_000_000 + i).toISOString(),
    correlationId: `corr-${i % 5}`,
    payload: { i, note: `event ${i} ${extra}`, nested: { ok: i % 2 === 0, list: [i, i + 1] } },
  };
}

let seed = 12345;
export function rand(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

export function words(n: number, salt: number): string {
  const out: string[] = [];
  let x = salt * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out.push(`w${(x % 100000).toString(36)}`);
  }
  return out.join(" ");
}

export function checkpoint(
  id: string,
  agentId: string,
  step: number,
  over: Partial<Checkpoint> = {},
): Checkpoint {
  const messages = Array.from({ length: step + 1 }, (_, i) => ({
    role: (i % 2 === 0 ? "user" : "assistant") as "user" | "assistant",
    content: `message ${i}: ${words(30, i)}`,
    timestamp: 1_700_000_000_000 + i,
  }));
  return {
    id,
    version: 1,
    createdAt: 1_700_000_000_000 + step * 1000,
    task: `task for ${agentId}`,
    agentType: "coder",
    agentId,
    status: "running",
    messages,
    pendingToolCalls: [{ id: `call-${step}`, name: "bash", arguments: { cmd: "ls" }, timestamp: step }],
    completedToolCalls: [],
    currentStep: step,
    maxSteps: 50,
    metadata: { step, tags: ["a", "b"] },
    childCheckpointIds: [],
    ...over,
  };
}
