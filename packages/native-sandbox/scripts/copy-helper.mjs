// Copies the release helper executable next to the package (shipped in `bin/`).
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(pkg, "..", "..", "target", "release", "ku0-sandbox-exec");
mkdirSync(join(pkg, "bin"), { recursive: true });
copyFileSync(src, join(pkg, "bin", "ku0-sandbox-exec"));
chmodSync(join(pkg, "bin", "ku0-sandbox-exec"), 0o755);
