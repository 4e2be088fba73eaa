// Copies the release helper executable into `bin/` (what this checkout's loader finds first). The platform
// packages (`npm/<triple>/`, what a published install finds) get theirs from tools/release/place-artifacts.mjs.
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const exe = process.platform === "win32" ? "ku0-sandbox-exec.exe" : "ku0-sandbox-exec";
const target = process.env.CARGO_TARGET_DIR ?? join(pkg, "..", "..", "target");
const src = join(target, "release", exe);
mkdirSync(join(pkg, "bin"), { recursive: true });
copyFileSync(src, join(pkg, "bin", exe));
chmodSync(join(pkg, "bin", exe), 0o755);
