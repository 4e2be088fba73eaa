// Copies the release helper executable into `bin/` (used by this checkout) and into the host's platform
// package folder `npm/<triple>/` (what a published install finds; `files` lists it there).
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(pkg, "..", "..", "target", "release", "ku0-sandbox-exec");
mkdirSync(join(pkg, "bin"), { recursive: true });
copyFileSync(src, join(pkg, "bin", "ku0-sandbox-exec"));
chmodSync(join(pkg, "bin", "ku0-sandbox-exec"), 0o755);

const triple =
  `${process.platform}-${process.arch}-${process.platform === "linux" ? (process.report?.getReport?.().header?.glibcVersionRuntime ? "gnu" : "musl") : ""}`.replace(
    /-$/,
    "",
  );
const platformDir = join(pkg, "npm", triple);
try {
  copyFileSync(src, join(platformDir, "ku0-sandbox-exec"));
  chmodSync(join(platformDir, "ku0-sandbox-exec"), 0o755);
} catch {
  // No platform folder for this host: the local bin/ copy is enough for development.
}
