// Test helper (not shipped: tsconfig.build.json excludes src/testing).
import { NativeExecutionSandboxAdapter } from "../adapter.js";

/** The adapter the preflight suites decide with: a process sandbox, no network, `ws` as its workspace. */
export function workspaceAdapter(ws: string): NativeExecutionSandboxAdapter {
  return new NativeExecutionSandboxAdapter({
    type: "process",
    networkAccess: "none",
    fsIsolation: "workspace",
    workingDirectory: ws,
  });
}
