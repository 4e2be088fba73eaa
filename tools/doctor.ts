// `pnpm doctor`: per module, which backend answers and why; and what this kernel offers the sandbox.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { registeredModules } from "@ku0/native-loader";
import { kernelFacts } from "./kernel.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const lines: string[] = ["ku0-native doctor", ""];
const packages = readdirSync(join(root, "packages"))
  .filter((p) => p.startsWith("native-") && p !== "native-loader")
  .sort();

for (const pkg of packages) {
  const dir = join(root, "packages", pkg);
  const entry = join(dir, "src", "index.ts");
  const name = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name as string;
  if (!existsSync(entry)) {
    lines.push(`${name}: not implemented yet (no src/index.ts)`);
    continue;
  }
  try {
    await import(pathToFileURL(entry).href);
  } catch (err) {
    lines.push(`${name}: failed to import: ${(err as Error).message}`);
  }
}

const mods = registeredModules();
if (mods.length === 0) lines.push("no native module is registered yet");
for (const mod of mods) {
  try {
    const s = mod.status();
    lines.push(`${s.module.padEnd(13)} mode=${s.mode} active=${s.active} v${s.version} (${s.reason})`);
    if (s.loadError) lines.push(`${"".padEnd(13)} fallback reason: ${s.loadError}`);
    for (const [k, v] of Object.entries(s.details ?? {})) {
      lines.push(`${"".padEnd(13)} ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    }
  } catch (err) {
    lines.push(`${mod.module.padEnd(13)} misconfigured: ${(err as Error).message}`);
  }
}

lines.push("", "kernel (for the sandbox):");
for (const [k, v] of Object.entries(kernelFacts())) lines.push(`  ${k}: ${String(v)}`);
console.log(lines.join("\n"));
