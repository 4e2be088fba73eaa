#!/usr/bin/env node
// ku0-storage-import <rootDir> [--backend native|js] [--index-file index.json]
// One-shot import of a directory in the runtime's own storage layout; prints the result as JSON.
import { importRuntimeStorage } from "./runtimeImport.js";

const args = process.argv.slice(2);
const usage = "usage: ku0-storage-import <rootDir> [--backend native|js] [--index-file <name>]";
let rootDir: string | undefined;
let backend: "native" | "js" | undefined;
let indexFileName: string | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === "--backend") {
    const v = args[++i];
    if (v !== "native" && v !== "js") throw new Error(usage);
    backend = v;
  } else if (a === "--index-file") indexFileName = args[++i];
  else if (a === "-h" || a === "--help") {
    console.log(usage);
    process.exit(0);
  } else if (rootDir === undefined) rootDir = a;
  else throw new Error(usage);
}
if (rootDir === undefined) {
  console.error(usage);
  process.exit(2);
}
try {
  const result = await importRuntimeStorage(rootDir, { backend, indexFileName });
  console.log(JSON.stringify(result, null, 2));
} catch (err) {
  const e = err as Error & { code?: string };
  console.error(`${e.code ?? "ERR"}: ${e.message}`);
  process.exit(1);
}
