import { readFileSync } from "node:fs";

/** The napi-rs platform triple of this process, e.g. `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`. */
export function platformTriple(platform = process.platform, arch = process.arch): string {
  if (platform === "linux") return `linux-${arch}-${isMusl() ? "musl" : "gnu"}`;
  if (platform === "win32") return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function isMusl(): boolean {
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  if (report?.header) return !report.header.glibcVersionRuntime;
  try {
    return readFileSync("/usr/bin/ldd", "utf8").includes("musl");
  } catch {
    return false;
  }
}
