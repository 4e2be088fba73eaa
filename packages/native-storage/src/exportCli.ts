#!/usr/bin/env node
// ku0-storage-export <rootDir> <outDir> [--backend native|js] [--index-file index.json]
// Rollback: writes a ku0 root back in the runtime's own storage layout into a new directory; prints the
// result as JSON. See docs/storage.md §5.5.
import { exportRuntimeStorage } from "./runtimeExport.js";

const args = process.argv.slice(2);
const usage = "usage: ku0-storage-export <rootDir> <outDir> [--backend native|js] [--index-file <name>]";
const positional: string[] = [];
let backend: "native" | "js" | undefined;
let indexFileName: string | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === "--backend") {
    const v = args[++i];
    if (v !== "native" && v !== "js") {
      console.error(usage);
      process.exit(2);
    }
    backend = v;
  } else if (a === "--index-file") indexFileName = args[++i];
  else if (a === "-h" || a === "--help") {
    console.log(usage);
    process.exit(0);
  } else positional.push(a);
}
const [rootDir, outDir] = positional;
if (rootDir === undefined || outDir === undefined || positional.length !== 2) {
  console.error(usage);
  process.exit(2);
}
try {
  const result = await exportRuntimeStorage(rootDir, outDir, {
    ...(backend ? { backend } : {}),
    ...(indexFileName ? { indexFileName } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
} catch (err) {
  const e = err as Error & { code?: string };
  console.error(`${e.code ?? "ERR"}: ${e.message}`);
  process.exit(1);
}
