// Detection of the runtime's own storage layout (`@ku0/storage-engine-rs`) inside a root directory.
import fs from "node:fs";
import { join } from "node:path";
import { Ku0Error } from "@ku0/native-loader";
import { CompatErrorCodes } from "./errors.js";

export const RUNTIME_EVENT_HEADER = 12; // seq u64 LE, length u32 LE

/** The runtime engine's event log file and checkpoint directory inside its root. */
export const RUNTIME_EVENT_LOG = "events.log";
export const RUNTIME_CHECKPOINT_DIR = "checkpoints";
/** Where the import moves the runtime's original files once everything has been copied and verified. */
export const IMPORT_BACKUP_DIR = "runtime-layout-backup";

function isOurs(name: string): boolean {
  return name === "LOCK" || name.endsWith(".ckpt") || name.startsWith(".");
}

/** Paths under `rootDir` that hold data in the runtime's own layout (empty when there is none). */
export function runtimeLayoutFiles(rootDir: string): string[] {
  const found: string[] = [];
  const log = join(rootDir, RUNTIME_EVENT_LOG);
  if (fs.existsSync(log)) found.push(log);
  const dir = join(rootDir, RUNTIME_CHECKPOINT_DIR);
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    names = [];
  }
  for (const name of names.sort()) {
    if (isOurs(name)) continue;
    if (fs.statSync(join(dir, name)).isFile()) found.push(join(dir, name));
  }
  return found;
}

export function needsImportError(rootDir: string, files: string[]): Ku0Error {
  const shown = files.slice(0, 3).join(", ") + (files.length > 3 ? `, … (${files.length} files)` : "");
  return new Ku0Error(
    CompatErrorCodes.needsImport,
    `${rootDir} holds data in the runtime's @ku0/storage-engine-rs layout (${shown}); run ` +
      `\`ku0-storage-import ${rootDir}\` (or importRuntimeStorage()) once before opening it`,
  );
}
