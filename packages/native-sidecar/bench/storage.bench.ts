// The storage seam through the sidecar beside the in-process N-API engine (`pnpm bench sidecar`): the
// runtime's synchronous `StorageEngine.appendEvent` / `replayEvents` on the native engine in process, on a
// daemon root through the async client (`SidecarStorageRoot`), and on a daemon root through
// `StorageEngine` in `sidecar` mode (the blocking bridge: a worker does the gRPC call while this thread
// waits in `Atomics.wait`), which is what the runtime's synchronous seam costs through the sidecar.
// Durability `process` on all three (no fdatasync per append), so the rows show the hop, not the disk.
import { join } from "node:path";
import { defineSuite, type SuiteCase } from "@ku0/bench";
import { sidecarBridge, sidecarWorkerEntry } from "@ku0/native-loader";
import { StorageEngine, storageModule } from "@ku0/native-storage";
import { resolveBinary, SidecarClient, SidecarStorage, type SidecarStorageRoot } from "../src/index.js";
import { benchRuntimeDir } from "./runtimeDir.js";

const dir = benchRuntimeDir; // the bridge's worker (made on the first sidecar engine) uses the same daemon
const client = new SidecarClient({ dir });
const storage = new SidecarStorage(client);
const binary = resolveBinary();
const PAYLOAD = new Uint8Array(100).fill(97);

let local: StorageEngine | undefined;
let bridged: StorageEngine | undefined;
let remote: SidecarStorageRoot | undefined;

export default defineSuite({
  module: "sidecar",
  title: `sidecar: storage seam, in-process N-API vs daemon (${binary.includes("/release/") ? "release" : "debug"} build)`,
  cases: async () => {
    if (storageModule.status().active !== "native") throw new Error("@ku0/native-storage binding not built");
    local = new StorageEngine(join(dir, "local"), { backend: "native", durability: "process" });
    bridged = new StorageEngine(join(dir, "bridged"), { backend: "sidecar", durability: "process" });
    remote = await storage.open(join(dir, "async"), { durability: "process" });
    for (let i = 0; i < 1000; i++) {
      local.appendEvent(PAYLOAD);
      bridged.appendEvent(PAYLOAD);
      await remote.appendEvent(PAYLOAD);
    }
    const l = local;
    const b = bridged;
    const r = remote;
    const cases: SuiteCase[] = [
      {
        name: "StorageEngine.appendEvent (100 B, durability process)",
        impls: {
          "in-process N-API": () => l.appendEvent(PAYLOAD),
          "sidecar, async client": () => r.appendEvent(PAYLOAD),
          "sidecar, blocking bridge": () => b.appendEvent(PAYLOAD),
        },
        baseline: "in-process N-API",
        iterations: 2000,
        minTimeMs: 1000,
      },
      {
        name: "StorageEngine.replayEvents (100 events of 100 B)",
        impls: {
          "in-process N-API": () => l.replayEvents(100n, 100),
          "sidecar, async client": () => r.replayEvents(100n, 100),
          "sidecar, blocking bridge": () => b.replayEvents(100n, 100),
        },
        baseline: "in-process N-API",
        iterations: 1000,
        minTimeMs: 1000,
      },
    ];
    return cases;
  },
  teardown: async () => {
    local?.close();
    bridged?.close();
    await remote?.close();
    sidecarBridge(() => sidecarWorkerEntry(import.meta.url, "KU0_NATIVE_STORAGE=sidecar")).call(
      "shutdownDaemon",
    );
    client.close();
  },
});
