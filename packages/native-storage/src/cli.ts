#!/usr/bin/env node
// ku0-storage-import <rootDir> [--backend native|js] [--index-file index.json] [--cross-check]
// One-shot import of a directory in the runtime's own storage layout; prints the result as JSON.
// --cross-check then reads everything on both backends and exits 1 if they differ.
import { crossCheckRoot } from "./crossCheck.js";
import { importRuntimeStorage } from "./runtimeImport.js";

const args = process.argv.slice(2);
const usage =
  "usage: ku0-storage-import <rootDir> [--backend native|js] [--index-file <name>] [--cross-check]";
let rootDir: string | undefined;
let backend: "native" | "js" | undefined;
let indexFileName: string | undefined;
let crossCheck = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === "--backend") {
    const v = args[++i];
    if (v !== "native" && v !== "js") throw new Error(usage);
    backend = v;
  } else if (a === "--index-file") indexFileName = args[++i];
  else if (a === "--cross-check") crossCheck = true;
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
  if (crossCheck) {
    const check = await crossCheckRoot(rootDir, { indexFileName });
    console.log(JSON.stringify({ crossCheck: check }, null, 2));
    if (check.mismatches.length > 0) process.exit(1);
  }
} catch (err) {
  const e = err as Error & { code?: string };
  console.error(`${e.code ?? "ERR"}: ${e.message}`);
  process.exit(1);
}
